package dev.weft;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Run in a fresh JVM by {@code JfrEventsTest}, with {@code --limit-modules java.base} (no
 * {@code jdk.jfr} in the runtime) or {@code -Ddev.weft.jfr=false}: reports whether the guard
 * found JFR, then drives every hooked slow path once (contended locks, a condition wait, an
 * initialisation, a scope) and prints OK; any linkage error would end it with a stack trace and
 * a non-zero exit status.
 */
final class JfrForkedMain {
  private JfrForkedMain() {}

  public static void main(String[] args) throws Exception {
    System.out.println("jdk.jfr present: " + ModuleLayer.boot().findModule("jdk.jfr").isPresent());
    System.out.println("AVAILABLE=" + WeftJfr.AVAILABLE);
    // The begin calls must answer null without touching jdk.jfr.
    if (WeftJfr.lockWaitBegin(null) != null || WeftJfr.scopeBegin() != null) {
      throw new AssertionError("a token without JFR");
    }
    SpinLock spin = new SpinLock();
    contend(spin::lock, spin::unlock);
    TicketLock ticket = new TicketLock();
    contend(ticket::lock, ticket::unlock);
    Mutex<Integer> m = new Mutex<>(0);
    var mg = new Mutex.Guard<?>[1];
    contend(() -> mg[0] = m.lock(), () -> mg[0].close());
    RwLock<Integer> rw = new RwLock<>(0);
    var wg = new RwLock.WriteGuard<?>[1];
    contend(() -> wg[0] = rw.write(), () -> wg[0].close());
    SeqLock seq = new SeqLock();
    var sg = new SeqLock.WriteGuard[1];
    contend(() -> sg[0] = seq.writeUninterruptibly(), () -> sg[0].close());
    Condvar cv = new Condvar();
    try (var g = m.lock()) {
      cv.awaitWhile(g, v -> v == 0, Duration.ofMillis(5));
    }
    Lazy<String> lazy = Lazy.of(() -> "v");
    if (!lazy.get().equals("v")) {
      throw new AssertionError("lazy");
    }
    Scope.run(s -> s.spawn(() -> {}));
    System.out.println("OK");
  }

  interface Step {
    void run() throws Exception;
  }

  /** One contended acquisition: this thread holds, another waits until parked, then we let go. */
  private static void contend(Step lock, Step unlock) throws Exception {
    CountDownLatch done = new CountDownLatch(1);
    lock.run();
    Thread waiter =
        new Thread(
            () -> {
              try {
                lock.run();
                unlock.run();
                done.countDown();
              } catch (Exception e) {
                throw new AssertionError(e);
              }
            },
            "test-waiter");
    waiter.start();
    while (waiter.getState() != Thread.State.WAITING
        && waiter.getState() != Thread.State.TIMED_WAITING) {
      Thread.onSpinWait();
    }
    unlock.run();
    if (!done.await(20, TimeUnit.SECONDS)) {
      throw new AssertionError("the waiter did not get the lock");
    }
    waiter.join();
  }
}
