package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 19: attacks on SpinLock.release/releaseSlow/signalOne(probed) (the read of `waiters`
 * before the release store, the skipped probe while `waking` is set, signalOne's early return)
 * and on TicketLock.unlock's fast path (restore of head/owner after a failed casTail).
 */
@Timeout(60)
@SuppressWarnings("LockNotBeforeTry")
class Review19ReleaseTest {
  private final List<Thread> threads = new ArrayList<>();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();
  private SpinLock spin;

  private Thread start(String name, boolean virtual, SpinLockContractTest.ThrowingRunnable body) {
    Runnable r =
        () -> {
          try {
            body.run();
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          }
        };
    Thread t = virtual ? newVirtual("test-" + name, r) : new Thread(r, "test-" + name);
    threads.add(t);
    t.start();
    return t;
  }

  /** A virtual thread (JDK 21+), made through reflection: the tests compile for release 17. */
  private static Thread newVirtual(String name, Runnable r) {
    try {
      Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
      Class<?> b = Class.forName("java.lang.Thread$Builder");
      builder = b.getMethod("name", String.class).invoke(builder, name);
      return (Thread) b.getMethod("unstarted", Runnable.class).invoke(builder, r);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException(e);
    }
  }

  private static boolean virtualThreadsAvailable() {
    try {
      Thread.class.getMethod("ofVirtual");
      return true;
    } catch (NoSuchMethodException e) {
      return false;
    }
  }

  /**
   * A waiter that never claims `heir`: a virtual thread (mayInherit is false for them), or a
   * platform thread when hand-over is switched off for the JVM.
   */
  private Thread startNonHeir(String name, SpinLockContractTest.ThrowingRunnable body) {
    boolean virtual = SpinBackoff.HAND_OVER_AFTER_NANOS >= 0L;
    Assumptions.assumeTrue(
        !virtual || virtualThreadsAvailable(),
        "needs virtual threads (JDK 21+) or -Ddev.weft.spinlock.handOverMicros=-1");
    return start(name, virtual, body);
  }

  @AfterEach
  void joinAll() throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    for (Thread t : threads) {
      while (t.isAlive() && System.nanoTime() - deadline < 0) {
        if (spin != null) { // rescue anything a failed test left parked
          spin.waking = false;
          VarHandle.fullFence();
          if (spin.tryLock()) {
            spin.unlock();
          }
        }
        t.interrupt();
        t.join(20);
      }
      assertThat(t.isAlive()).as("%s outlived the test", t.getName()).isFalse();
    }
  }

  private static void awaitParkedOn(Thread t, Object blocker) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!(t.getState() == Thread.State.WAITING && LockSupport.getBlocker(t) == blocker)) {
      assertThat(t.isAlive()).as("%s ended before parking", t.getName()).isTrue();
      assertThat(System.nanoTime() - deadline < 0).as("%s parked", t.getName()).isTrue();
      LockSupport.parkNanos(50_000L); // bounded poll of a thread state
    }
  }

  // ---- SpinLock 1: unlock with waiters while a wake-up is in flight (held) ----

  /**
   * A SpinLock whose waiter stack holds one LEFT node at the bottom, so that the next waiter to
   * push is not the exposed one: it parks with no timer and no backstop. Recorded in {@code spin}.
   */
  private SpinLock lockWithLeftNodeAtTheBottom() {
    SpinLock lock = new SpinLock();
    spin = lock;
    SpinLock.Waiter left = new SpinLock.Waiter(new Thread(() -> {}, "never-started"));
    assertThat(left.leave()).isTrue();
    lock.waiters = left;
    return lock;
  }

  // Schedule: a LEFT node lies at the bottom of the stack, so C (a virtual thread: it never
  // claims `heir`, so the release takes the signalling path, not a hand-over) registers on a
  // non-empty stack: not exposed, untimed park, nobody's backstop covers it. `waking` is set,
  // as by an unlocker that signalled a thread W1 that has not run yet. The holder unlocks:
  // releaseSlow reads top = C, sees `waking`, skips the probe (probed = false), releases, and
  // signalOne(false) returns at the volatile read, leaving C parked (not asserted: see below)
  // with the lock free. Then W1 runs: it clears `waking` (setWakingRelease(false), as the
  // woken waiter does) and competes: lock()/unlock(). Its unlock must wake C.
  @Test
  @Timeout(30)
  void held_unlockThatSkipsBecauseWakingIsSetIsCoveredByTheWokenThread() throws Exception {
    SpinLock lock = lockWithLeftNodeAtTheBottom();
    VarHandle.fullFence();
    lock.lock();
    CountDownLatch cDone = new CountDownLatch(1);
    Thread c =
        startNonHeir(
            "covered",
            () -> {
              lock.lock();
              lock.unlock();
              cDone.countDown();
            });
    awaitParkedOn(c, lock);
    lock.waking = true; // a wake-up in flight whose thread has not run yet
    VarHandle.fullFence();
    lock.unlock(); // releaseSlow: probed = false; signalOne(false) returns at wakingVolatile
    VarHandle.fullFence();
    assertThat(lock.owner).as("released").isNull();
    assertThat(lock.waking).as("nobody claimed a new wake-up").isTrue();
    // (Not asserted: that C is still parked here. A spurious return from park would let it take
    // the free lock, which is correct behaviour, and the assertion would then fail.)
    // W1 runs: clears the flag and competes for the free lock.
    CountDownLatch w1Done = new CountDownLatch(1);
    start(
        "woken",
        false,
        () -> {
          lock.waking = false; // setWakingRelease(false) of the woken waiter
          VarHandle.releaseFence();
          lock.lock();
          lock.unlock(); // sees C, flag clear: wakes it
          w1Done.countDown();
        });
    assertThat(w1Done.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(cDone.await(10, TimeUnit.SECONDS)).as("C woken after the in-flight wake").isTrue();
    assertThat(failure.get()).isNull();
  }

  // Same state, but the flag clears between releaseSlow's read (skip) and signalOne(false)'s
  // read: simulated by clearing it from a thread that then does nothing (a woken waiter that
  // found the lock taken and went to its lost-race sleep is the closest real case; here the
  // main thread unlocks with the flag set, which makes probed = false, and the flag is cleared
  // by a concurrent thread spinning on the owner field so it lands right after the release).
  // Whatever interleaving occurs, C must be woken within a bound without any other unlock.
  @Test
  @Timeout(60)
  void held_flagClearedAroundTheReleaseNeverStrandsANonExposedWaiter() throws Exception {
    int rounds = 300;
    int strandedRounds = 0;
    for (int round = 0; round < rounds; round++) {
      SpinLock lock = lockWithLeftNodeAtTheBottom();
      VarHandle.fullFence();
      lock.lock();
      CountDownLatch cDone = new CountDownLatch(1);
      Thread c =
          startNonHeir(
              "covered-" + round,
              () -> {
                lock.lock();
                lock.unlock();
                cDone.countDown();
              });
      awaitParkedOn(c, lock);
      lock.waking = true;
      VarHandle.fullFence();
      // The "woken waiter": clears the flag the moment the owner store is visible, then takes
      // the lock as a woken waiter would (spin on the owner, CAS), and unlocks.
      CountDownLatch ready = new CountDownLatch(1);
      Thread w1 =
          start(
              "woken-" + round,
              false,
              () -> {
                ready.countDown();
                while (lock.isLocked()) {
                  Thread.onSpinWait();
                }
                lock.waking = false;
                VarHandle.releaseFence();
                if (lock.tryLock()) {
                  lock.unlock();
                }
              });
      ready.await();
      lock.unlock();
      w1.join(10_000);
      // If W1's tryLock failed, nobody holds the lock now except possibly C (woken by main's
      // signalOne after the flag cleared). Either W1's unlock or main's signalOne must have
      // woken C.
      if (!cDone.await(2, TimeUnit.SECONDS)) {
        strandedRounds++;
        lock.waking = false;
        VarHandle.fullFence();
        if (lock.tryLock()) {
          lock.unlock();
        }
        assertThat(cDone.await(10, TimeUnit.SECONDS)).isTrue();
      }
      c.join(10_000);
    }
    assertThat(strandedRounds).as("rounds in which C was stranded").isZero();
    assertThat(failure.get()).isNull();
  }

  // ---- SpinLock 2: bounded stress, mutual exclusion and no lost wake-up (held) ----

  @Test
  @Timeout(60)
  void held_spinLockStressMixedWaitersNoLostWakeupNoDoubleHold() throws Exception {
    SpinLock lock = new SpinLock();
    spin = lock;
    int platform = 3;
    int virtual = 3;
    int timed = 2;
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicLong ops = new AtomicLong();
    long[] counter = new long[1];
    CountDownLatch done = new CountDownLatch(platform + virtual + timed);
    for (int i = 0; i < platform + virtual + timed; i++) {
      boolean isVirtual = virtualThreadsAvailable() && i >= platform && i < platform + virtual;
      boolean isTimed = i >= platform + virtual;
      start(
          "stress-" + i,
          isVirtual,
          () -> {
            int k = 0;
            while (System.nanoTime() - end < 0) {
              boolean got;
              if (isTimed) {
                got = lock.tryLock(50, TimeUnit.MICROSECONDS);
              } else {
                lock.lock();
                got = true;
              }
              if (!got) {
                continue;
              }
              try {
                if (inside.incrementAndGet() != 1) {
                  overlaps.incrementAndGet();
                }
                if (!lock.isHeldByCurrentThread()) {
                  overlaps.incrementAndGet();
                }
                counter[0]++;
                if ((++k & 15) == 0) {
                  Thread.onSpinWait();
                }
                inside.decrementAndGet();
              } finally {
                lock.unlock();
              }
              ops.incrementAndGet();
            }
            done.countDown();
          });
    }
    assertThat(done.await(30, TimeUnit.SECONDS))
        .as("every stress thread finished (no waiter stranded); lock=%s waking=%s",
            lock, lock.waking)
        .isTrue();
    assertThat(overlaps.get()).isZero();
    assertThat(counter[0]).isEqualTo(ops.get());
    assertThat(failure.get()).isNull();
  }

  // ---- TicketLock: fast-path unlock whose casTail fails (held) ----

  // Two threads on 2 CPUs trade the lock with empty critical sections, so that unlock's
  // "h.next == null && tail == h" check often runs just before the successor's getAndSet,
  // making casTail fail and taking the restore path. Checks: mutual exclusion, the holder
  // sees itself as holder (isHeldByCurrentThread, toString, isLocked) inside, not after its
  // unlock, and FIFO: with 2 threads each queued behind the other's hold, the grant goes to
  // the queued thread (no lost grant: both finish).
  @Test
  @Timeout(60)
  void held_ticketLockFastPathRestoreKeepsExclusionAndSelfView() throws Exception {
    TicketLock lock = new TicketLock();
    int n = 3;
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger bad = new AtomicInteger();
    AtomicReference<String> firstBad = new AtomicReference<>();
    CountDownLatch done = new CountDownLatch(n);
    long[] counter = new long[1];
    AtomicLong ops = new AtomicLong();
    for (int i = 0; i < n; i++) {
      start(
          "ticket-" + i,
          false,
          () -> {
            String me = Thread.currentThread().getName();
            int k = 0;
            while (System.nanoTime() - end < 0) {
              lock.lock();
              if (inside.incrementAndGet() != 1) {
                bad.incrementAndGet();
                firstBad.compareAndSet(null, "overlap");
              }
              if (!lock.isHeldByCurrentThread() || !lock.isLocked()) {
                bad.incrementAndGet();
                firstBad.compareAndSet(null, "holder does not see itself");
              }
              if ((++k & 63) == 0) {
                String s = lock.toString();
                if (!s.startsWith("TicketLock[locked by " + me)) {
                  bad.incrementAndGet();
                  firstBad.compareAndSet(null, "toString in holder: " + s);
                }
              }
              counter[0]++;
              inside.decrementAndGet();
              lock.unlock();
              if (lock.isHeldByCurrentThread()) {
                bad.incrementAndGet();
                firstBad.compareAndSet(null, "still held after unlock");
              }
              ops.incrementAndGet();
            }
            done.countDown();
          });
    }
    assertThat(done.await(30, TimeUnit.SECONDS)).as("no lost grant: %s", lock).isTrue();
    assertThat(bad.get()).as("first: %s", firstBad.get()).isZero();
    assertThat(counter[0]).isEqualTo(ops.get());
    assertThat(lock.isLocked()).isFalse();
    assertThat(lock.toString()).isEqualTo("TicketLock[unlocked]");
    assertThat(failure.get()).isNull();
  }

  // FIFO under the restore path: the holder H unlocks while exactly one successor S is queued
  // and A queues behind S; A must never get the lock before S. Repeated rounds with S racing
  // H's unlock (S starts its lock() right as H unlocks), each round checking order.
  @Test
  @Timeout(60)
  void held_ticketLockFifoAcrossRacingUnlock() throws Exception {
    int rounds = 2000;
    int orderViolations = 0;
    for (int r = 0; r < rounds; r++) {
      TicketLock lock = new TicketLock();
      lock.lock();
      AtomicInteger seq = new AtomicInteger();
      int[] order = new int[2];
      CountDownLatch go = new CountDownLatch(1);
      CountDownLatch sQueued = new CountDownLatch(1);
      Thread s =
          start(
              "s-" + r,
              false,
              () -> {
                go.await();
                lock.lock(); // races H's unlock: may hit its failed casTail
                order[0] = seq.incrementAndGet();
                sQueued.countDown();
                lock.unlock();
              });
      go.countDown();
      lock.unlock();
      // A comes after S has the lock (or finished): it must be served after S.
      sQueued.await();
      lock.lock();
      order[1] = seq.incrementAndGet();
      lock.unlock();
      s.join(10_000);
      if (order[0] != 1 || order[1] != 2) {
        orderViolations++;
      }
      assertThat(lock.isLocked()).isFalse();
    }
    assertThat(orderViolations).isZero();
    assertThat(failure.get()).isNull();
  }
}
