package dev.weft;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;

/**
 * Run in a fresh JVM with {@code -Xlog:class+init=info} by {@code Review26ColdInitTest}. First
 * it makes one of each public primitive (and initializes {@code Scope} and {@code Parallel}),
 * prints {@link #MARK}, then takes the primitives' slow paths: contention, timeouts,
 * interrupts, conditions, failures, misuse. The test reads the JVM's log: a weft class with a
 * static initializer that is initialized after the mark is initialized on a slow path, which may
 * be first taken near the end of a thread's stack, where an overflow in the initializer breaks
 * the class for the rest of the JVM (every later use: {@code NoClassDefFoundError}).
 */
@SuppressWarnings({"try", "CheckReturnValue", "ReturnValueIgnored", "LockNotBeforeTry"}) // a probe, not a pattern
final class ColdInitMain {
  static final String MARK = "---- slow paths from here ----";

  private ColdInitMain() {}

  public static void main(String[] args) throws Exception {
    Thread watchdog = new Thread(ColdInitMain::watchdog, "watchdog");
    watchdog.setDaemon(true);
    watchdog.start();
    // JDK classes and this class's own lambdas' machinery, at the top (not what is checked).
    Runnable warm = () -> { };
    warm.run();
    Class.forName("java.util.concurrent.locks.LockSupport");

    SpinLock spin = new SpinLock();
    TicketLock ticket = new TicketLock();
    Mutex<int[]> mutex = new Mutex<>(new int[1]);
    RwLock<int[]> rw = new RwLock<>(new int[1]);
    SeqLock seq = new SeqLock();
    SeqCount count = new SeqCount();
    SeqLocked<int[]> seqLocked = new SeqLocked<>(new int[1]);
    OnceCell<String> cell = new OnceCell<>();
    Lazy<String> lazy = Lazy.of(() -> "x");
    Condvar condvar = new Condvar();
    Class.forName("dev.weft.Scope");
    Class.forName("dev.weft.Parallel");
    System.out.println(MARK);

    locks(spin, ticket);
    mutexAndCondvar(mutex, condvar);
    rwAndSeq(rw, seq, count, seqLocked);
    cells(cell, lazy);
    scopes();
    parallel();
    System.out.println("---- done ----");
    System.exit(0);
  }

  private static void watchdog() {
    try {
      Thread.sleep(90_000);
    } catch (InterruptedException e) {
      return;
    }
    System.out.println("watchdog: still running after 90 s");
    System.exit(2);
  }

  /** Runs body on another thread that holds its lock until release counts down. */
  private static Thread holder(Runnable lock, Runnable unlock, CountDownLatch held,
      CountDownLatch release) {
    Thread t = new Thread(() -> {
      lock.run();
      held.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        unlock.run();
      }
    });
    t.start();
    return t;
  }

  private static void locks(SpinLock spin, TicketLock ticket) throws Exception {
    for (java.util.concurrent.locks.Lock l : List.of(spin, ticket)) {
      CountDownLatch held = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      Thread h = holder(l::lock, l::unlock, held, release);
      held.await();
      if (l.tryLock(1, TimeUnit.MILLISECONDS)) {
        throw new AssertionError("held by the other thread");
      }
      Thread.currentThread().interrupt();
      try {
        l.lockInterruptibly();
        throw new AssertionError("interrupted");
      } catch (InterruptedException expected) {
        // as it should
      }
      try {
        l.unlock();
        throw new AssertionError("not the owner");
      } catch (IllegalMonitorStateException expected) {
        // as it should
      }
      Thread waiter = new Thread(() -> {
        l.lock(); // parks until the holder leaves
        l.unlock();
      });
      waiter.start();
      Thread.sleep(20); // (not a result: lets the waiter park, so the unlock wakes it)
      release.countDown();
      h.join();
      waiter.join();
      l.lock();
      Condition c = l.newCondition();
      if (c.await(1, TimeUnit.MILLISECONDS)) {
        throw new AssertionError("nobody signalled");
      }
      c.signalAll();
      l.unlock();
      try {
        l.lock();
        l.lock();
        throw new AssertionError("re-lock by the owner");
      } catch (IllegalMonitorStateException | IllegalStateException expected) {
        l.unlock();
      }
    }
  }

  private static void mutexAndCondvar(Mutex<int[]> mutex, Condvar condvar) throws Exception {
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread h = new Thread(() -> {
      try (Mutex.Guard<int[]> g = mutex.lock()) {
        held.countDown();
        release.await();
        g.get()[0] = 1;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    h.start();
    held.await();
    if (mutex.tryLock(Duration.ofMillis(1)) != null) {
      throw new AssertionError("held");
    }
    Thread waiter = new Thread(() -> {
      try (Mutex.Guard<int[]> g = mutex.lockWhen(v -> v[0] == 1)) {
        g.get()[0] = 2;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    waiter.start();
    Thread.sleep(20);
    release.countDown();
    h.join();
    waiter.join();
    if (mutex.lockWhen(v -> v[0] == 3, Duration.ofMillis(1)) != null) {
      throw new AssertionError("never 3");
    }
    try (Mutex.Guard<int[]> g = mutex.lock()) {
      condvar.awaitWhile(g, v -> v[0] == 2, Duration.ofMillis(1)); // times out
      condvar.notifyAllWaiters();
    }
  }

  private static void rwAndSeq(RwLock<int[]> rw, SeqLock seq, SeqCount count,
      SeqLocked<int[]> seqLocked) throws Exception {
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread h = new Thread(() -> {
      try (RwLock.WriteGuard<int[]> g = rw.write(); SeqLock.WriteGuard s = seq.write()) {
        held.countDown();
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    h.start();
    held.await();
    if (rw.tryRead(Duration.ofMillis(1)) != null || rw.tryWrite(Duration.ofMillis(1)) != null) {
      throw new AssertionError("write-held");
    }
    if (seq.tryWrite(Duration.ofMillis(1)) != null) {
      throw new AssertionError("write-held");
    }
    Thread reader = new Thread(() -> {
      try (RwLock.ReadGuard<int[]> g = rw.read()) {
        g.get();
      }
      seq.readInt(() -> 1); // retries until the writer leaves
    });
    reader.start();
    Thread.sleep(20);
    release.countDown();
    h.join();
    reader.join();
    try (SeqCount.WriteGuard g = count.write()) {
      // a write
    }
    count.readInt(() -> 1);
    seqLocked.write(v -> v[0]++);
    seqLocked.readInt(v -> v[0]);
  }

  private static void cells(OnceCell<String> cell, Lazy<String> lazy) throws Exception {
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    Thread init = new Thread(() -> cell.getOrInit(() -> {
      inside.countDown();
      try {
        finish.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return "v";
    }));
    init.start();
    inside.await();
    if (cell.await(Duration.ofMillis(1))) {
      throw new AssertionError("not set yet");
    }
    Thread waiter = new Thread(() -> cell.getOrInit(() -> "w"));
    waiter.start();
    Thread.sleep(20);
    finish.countDown();
    init.join();
    waiter.join();
    try {
      cell.set("again");
      throw new AssertionError("set twice");
    } catch (IllegalStateException expected) {
      // as it should
    }
    OnceCell<String> failing = new OnceCell<>();
    try {
      failing.getOrInit(() -> {
        throw new IllegalStateException("initializer failed");
      });
    } catch (IllegalStateException expected) {
      // as it should
    }
    OnceCell<String> recursive = new OnceCell<>();
    try {
      recursive.getOrInit(() -> recursive.getOrInit(() -> "r"));
      throw new AssertionError("recursive initialization");
    } catch (IllegalStateException expected) {
      // as it should
    }
    lazy.get();
    java.util.concurrent.atomic.AtomicReference<Lazy<String>> self =
        new java.util.concurrent.atomic.AtomicReference<>();
    self.set(Lazy.of(() -> self.get().get()));
    try {
      self.get().get();
      throw new AssertionError("recursive initialization");
    } catch (IllegalStateException expected) {
      // as it should
    }
  }

  private static void scopes() throws Exception {
    CountDownLatch end = new CountDownLatch(1);
    Scope.run(scope -> {
      ScopedThread<Integer> t = scope.spawn(() -> {
        end.await();
        return 1;
      });
      try {
        t.join(Duration.ofNanos(1));
        throw new AssertionError("not ended");
      } catch (TimeoutException expected) {
        // as it should
      }
      Thread.currentThread().interrupt();
      try {
        t.join();
        throw new AssertionError("interrupted");
      } catch (InterruptedException expected) {
        // as it should
      }
      end.countDown();
      t.join();
    });
    try {
      Scope.run(scope -> {
        scope.spawn(() -> {
          throw new IllegalStateException("task failed");
        });
      });
      throw new AssertionError("a failed task");
    } catch (TaskFailedException expected) {
      // as it should
    }
    try {
      Scope.builder().timeout(Duration.ofMillis(5)).run(scope -> {
        scope.spawn(() -> {
          new CountDownLatch(1).await();
          return 0;
        });
      });
      throw new AssertionError("the deadline passed");
    } catch (ScopeTimeoutException expected) {
      // as it should
    }
    Scope.builder().maxConcurrency(1).run(scope -> {
      scope.spawn(() -> 1);
      scope.spawn(() -> 2); // waits for a slot
    });
    try (Scope s = Scope.open()) {
      s.spawn(() -> 1).join();
    }
  }

  private static void parallel() throws Exception {
    List<Integer> in = List.of(1, 2, 3, 4, 5, 6, 7, 8);
    Parallel.map(in, x -> x + 1);
    try {
      Parallel.map(in, x -> {
        if (x == 5) {
          throw new IllegalStateException("element failed");
        }
        return x;
      });
      throw new AssertionError("an element failed");
    } catch (RuntimeException expected) {
      // as it should
    }
  }
}
