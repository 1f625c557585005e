package dev.weft;

import static dev.weft.ParallelPoolSpinCapReviewTest.LONG_KEEP_ALIVE;
import static dev.weft.ParallelPoolSpinCapReviewTest.shutdown;
import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 13: attacks on commits 851f449 (Mutex: woken waiters re-take the lock behind queued
 * threads) and 9a77e11 (ParallelPool: no spin after an oversubscribed call) that HELD. The
 * defects are in {@link Review13Test}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class Review13TestHeld {

  // ---- Mutex, 851f449 ----------------------------------------------------------------------

  /**
   * A platform thread that locks {@code m}, counts {@code holds} down, then holds the lock until
   * {@code letGo}.
   */
  private static Thread holder(Mutex<Integer> m, String name, CountDownLatch holds,
      CountDownLatch letGo, AtomicReference<@Nullable Throwable> failure) {
    Thread t = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        holds.countDown();
        if (!letGo.await(30, TimeUnit.SECONDS)) {
          throw new AssertionError(Thread.currentThread().getName() + " never let go");
        }
        g.get();
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      }
    }, name);
    t.start();
    return t;
  }

  /** Waits (bounded) until {@code w} is queued in the mutex's AQS and parked there. */
  private static void awaitQueued(Mutex<Integer> m, Thread w) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!(m.sync.isQueued(w) && Waits.isParked(w))) {
      if (!w.isAlive() || System.nanoTime() - deadline >= 0) {
        throw new AssertionError(w.getName() + " never queued behind the lockers: " + m);
      }
      LockSupport.parkNanos(50_000L); // bounded poll of the queue, not a result wait
    }
  }

  /**
   * Sets up: W parked on the change queue; the test thread holding the lock; L1 and L2 queued in
   * the AQS (they then hold the lock until {@code letGo}); the value set to 1 and the lock
   * released, so W is woken, L1 takes the lock, L2 stays queued and W queues behind L2 (the
   * release is held back until W has queued, so that the order does not depend on timing).
   */
  @SuppressWarnings("try") // the window hook is installed for the body, never read
  private static List<Thread> wakeBehindTwoLockers(Mutex<Integer> m, Thread w, CountDownLatch letGo,
      AtomicReference<@Nullable Throwable> failure) throws Exception {
    List<Thread> ls = new ArrayList<>();
    w.start();
    Waits.awaitParkedOn(w, m);
    Mutex.Guard<Integer> g = m.lock();
    CountDownLatch l1Holds = new CountDownLatch(1);
    Thread l1 = holder(m, "test-r13h-l1", l1Holds, letGo, failure);
    ls.add(l1);
    Waits.awaitParkedOn(l1, m.sync);
    Thread l2 = holder(m, "test-r13h-l2", new CountDownLatch(1), letGo, failure);
    ls.add(l2);
    Waits.awaitParkedOn(l2, m.sync);
    // Held at the window between waking W and releasing, until W has queued behind L1 and L2.
    // Without it W could run only after the release, find the lock free with L1 not yet
    // running, and, after its bounded deferral (200 us), take the free lock itself, as
    // documented: under CI load L1's wake-up took longer than that and W got the lock (stop
    // 33's local CI run, JDK 17).
    try (var h = ProtocolWindows.install(
        MutexDeadlineTest.once(Thread.currentThread(), "mutex.woke-before-release",
            () -> awaitQueued(m, w)))) {
      g.set(1);
      g.close();
    }
    // Until L1 has taken the lock, W's queued wait is not "behind a holder": a wake of W now
    // (the interrupt of the uninterruptible test) finds the lock free and, after its bounded
    // deferral, W takes it, as documented. Under load L1's wake-up outlasted that deferral and
    // W returned within the test's 300 ms (a full local CI run, JDK 17, session 21).
    assertThat(l1Holds.await(10, TimeUnit.SECONDS)).as("L1 took the lock").isTrue();
    return ls;
  }

  /** Attacked: the deadline of a timed lockWhen woken behind queued long holders. Held 10/10 (5 runs each on JDK 17 and 25). */
  @Test
  void timedWokenWaiterBehindQueuedHoldersReturnsNullAtItsDeadline() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    CountDownLatch letGo = new CountDownLatch(1);
    TimedLockWhen w =
        new TimedLockWhen(m, v -> v == 1, Duration.ofMillis(400), "test-r13h-timed", failure);
    List<Thread> all = new ArrayList<>(List.of(w.thread));
    try {
      all.addAll(wakeBehindTwoLockers(m, w.thread, letGo, failure));
      assertThat(w.done.await(10, TimeUnit.SECONDS)).isTrue();
    } finally {
      letGo.countDown();
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(failure.get()).isNull();
    assertThat(w.got()).isFalse(); // L1 holds throughout: null, without the lock
    assertThat(TimeUnit.NANOSECONDS.toMillis(w.elapsedNanos())).isBetween(390L, 650L);
    assertThat(m.isLocked()).isFalse();
  }

  /** Attacked: an interrupt of a woken waiter queued behind a queued locker. Held 10/10 (5 runs each on JDK 17 and 25). */
  @Test
  void interruptedWokenWaiterBehindQueuedLockerThrowsPromptly() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    CountDownLatch letGo = new CountDownLatch(1);
    CountDownLatch wDone = new CountDownLatch(1);
    Thread w = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1)) {
        g.get();
      } catch (Throwable e) {
        thrown.set(e);
      } finally {
        wDone.countDown();
      }
    }, "test-r13h-intr");
    List<Thread> all = new ArrayList<>(List.of(w));
    try {
      all.addAll(wakeBehindTwoLockers(m, w, letGo, failure));
      Waits.awaitParkedOn(w, m.sync); // queued in the AQS behind L2
      w.interrupt();
      assertThat(wDone.await(5, TimeUnit.SECONDS)).isTrue();
    } finally {
      letGo.countDown();
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(failure.get()).isNull();
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    assertThat(m.isLocked()).isFalse();
  }

  /**
   * Attacked: lockWhenUninterruptibly woken behind queued lockers and interrupted: it must keep
   * waiting, get the lock once they are done, and return with the interrupt status. Held 10/10 (5 runs each on JDK 17 and 25).
   */
  @Test
  void uninterruptibleWokenWaiterBehindQueuedLockersGetsTheLockWithItsInterrupt()
      throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicBoolean interruptedOnReturn = new AtomicBoolean();
    AtomicInteger seen = new AtomicInteger(-1);
    CountDownLatch letGo = new CountDownLatch(1);
    CountDownLatch wDone = new CountDownLatch(1);
    Thread w = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhenUninterruptibly(v -> v == 1)) {
        seen.set(g.get());
        interruptedOnReturn.set(Thread.currentThread().isInterrupted());
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      } finally {
        wDone.countDown();
      }
    }, "test-r13h-unintr");
    List<Thread> all = new ArrayList<>(List.of(w));
    try {
      all.addAll(wakeBehindTwoLockers(m, w, letGo, failure));
      Waits.awaitParkedOn(w, m.sync);
      w.interrupt();
      assertThat(wDone.await(300, TimeUnit.MILLISECONDS)).isFalse(); // still waiting
      letGo.countDown();
      assertThat(wDone.await(10, TimeUnit.SECONDS)).isTrue();
    } finally {
      letGo.countDown();
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(failure.get()).isNull();
    assertThat(seen.get()).isEqualTo(1);
    assertThat(interruptedOnReturn.get()).isTrue();
  }

  /**
   * Attacked: a predicate that throws in a waiter woken behind queued lockers: it must throw in
   * that waiter, without the lock, and the lockers must go on. Held 10/10 (5 runs each on JDK 17 and 25).
   */
  @Test
  void throwingPredicateOfAWokenWaiterBehindQueuedLockers() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    CountDownLatch letGo = new CountDownLatch(1);
    CountDownLatch wDone = new CountDownLatch(1);
    Thread w = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> {
        if (v == 1) {
          throw new IllegalArgumentException("boom");
        }
        return false;
      })) {
        g.get();
      } catch (Throwable e) {
        thrown.set(e);
      } finally {
        wDone.countDown();
      }
    }, "test-r13h-throw");
    List<Thread> all = new ArrayList<>(List.of(w));
    try {
      all.addAll(wakeBehindTwoLockers(m, w, letGo, failure));
      letGo.countDown();
      assertThat(wDone.await(10, TimeUnit.SECONDS)).isTrue();
    } finally {
      letGo.countDown();
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(failure.get()).isNull();
    assertThat(thrown.get()).isInstanceOf(IllegalArgumentException.class);
    assertThat(m.isLocked()).isFalse();
    assertThat(m.tryLock()).isNotNull().satisfies(Mutex.Guard::close);
  }

  /**
   * Attacked: starvation of a woken waiter by threads that keep queueing with tryLock(Duration)
   * and barging (so hasQueuedThreads is nearly always true when it is woken): the waiter whose
   * predicate became true must still get in within a few seconds. Held 10/10 (5 runs each on JDK 17 and 25; well under 1 s).
   */
  @Test
  void wokenWaiterIsNotStarvedByTimedTryLockHammerers() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicBoolean stop = new AtomicBoolean();
    CountDownLatch wDone = new CountDownLatch(1);
    Thread w = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v >= 1)) {
        g.set(-1_000_000); // stops the hammerers' increments from mattering
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      } finally {
        wDone.countDown();
      }
    }, "test-r13h-starve-w");
    List<Thread> all = new ArrayList<>(List.of(w));
    try {
      w.start();
      Waits.awaitParkedOn(w, m);
      for (int i = 0; i < 3; i++) {
        Thread h = new Thread(() -> {
          try {
            while (!stop.get()) {
              Mutex.Guard<Integer> g = m.tryLock(Duration.ofMillis(5));
              if (g != null) {
                try {
                  g.set(g.get() + 1);
                  for (int k = 0; k < 50; k++) {
                    Thread.onSpinWait();
                  }
                } finally {
                  g.close();
                }
              }
            }
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          }
        }, "test-r13h-hammer-" + i);
        all.add(h);
        h.start();
      }
      assertThat(wDone.await(10, TimeUnit.SECONDS)).as("waiter starved").isTrue();
    } finally {
      stop.set(true);
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(failure.get()).isNull();
  }

  /**
   * Attacked: a herd of lockWhen waiters plus Condvar waiters on the same Mutex with a producer
   * (lost wake-ups, deadlock from the new order). 40 change waiters and 2 Condvar waiters wait
   * for each of 100 rounds. Held 10/10 (5 runs each on JDK 17 and 25).
   */
  @Test
  void herdWithCondvarWaitersOnTheSameMutexCompletes() throws Exception {
    final int rounds = 100;
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    LongAdder seen = new LongAdder();
    List<Thread> all = new ArrayList<>();
    CountDownLatch done = new CountDownLatch(42);
    try {
      for (int i = 0; i < 42; i++) {
        boolean condvar = i >= 40;
        Thread t = new Thread(() -> {
          try {
            for (int r = 1; r <= rounds; r++) {
              int target = r;
              if (condvar) {
                try (Mutex.Guard<Integer> g = m.lock()) {
                  cv.awaitWhile(g, v -> v < target);
                  seen.increment();
                }
              } else {
                m.awaitThen(v -> v >= target, v -> {
                  seen.increment();
                  return v;
                });
              }
            }
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          } finally {
            done.countDown();
          }
        }, "test-r13h-herd-" + i);
        all.add(t);
        t.start();
      }
      for (int r = 1; r <= rounds; r++) {
        try (Mutex.Guard<Integer> g = m.lock()) {
          g.set(r);
          cv.notifyAllWaiters();
        }
        LockSupport.parkNanos(20_000L); // pace the producer, as MutexHerdTest does
      }
      assertThat(done.await(30, TimeUnit.SECONDS)).as("herd finished").isTrue();
    } finally {
      try (Mutex.Guard<Integer> g = m.lock()) {
        g.set(Integer.MAX_VALUE);
        cv.notifyAllWaiters();
      }
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(failure.get()).isNull();
    assertThat(seen.sum()).isEqualTo(42L * rounds);
  }

  // ---- ParallelPool, 9a77e11 ---------------------------------------------------------------

  /**
   * Attacked: a hand-over lost when a thread of an oversubscribed call parks at once (no spin),
   * alternating oversubscribed and fitting calls on a private pool (core 1, 20 s spin) so the
   * same threads switch between parking at once and spinning. 300 hand-overs. Held 10/10 (5 runs each on JDK 17 and 25).
   */
  @Test
  void alternatingOversubscribedAndFittingHandOversAreNeverLost() throws Exception {
    ParallelPool p = new ParallelPool("test-r13h-pool-", 1, LONG_KEEP_ALIVE,
        TimeUnit.SECONDS.toNanos(20));
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    try {
      for (int i = 0; i < 300; i++) {
        int workers = (i % 3 == 0) ? 1 : 3; // fits, oversubscribed, oversubscribed, ...
        CountDownLatch ran = new CountDownLatch(workers);
        for (int k = 0; k < workers; k++) {
          assertThat(p.tryExecute(() -> {
            threads.add(Thread.currentThread());
            ran.countDown();
          }, true, workers)).isTrue();
        }
        assertThat(ran.await(10, TimeUnit.SECONDS)).as("iteration %d: a task never ran", i)
            .isTrue();
      }
    } finally {
      shutdown(p, new ArrayList<>(threads));
    }
  }

  /**
   * Attacked: the no-spin flag with returnEarly ("Back early": a hand-over may fill the slot
   * before the old task is done) and nested calls from pool threads, through the public API:
   * back-to-back threads(8) blocking calls, default cheap calls, and threads(4) calls nested in
   * pool threads, 150 rounds, results checked. Held 10/10 (5 runs each on JDK 17 and 25).
   */
  @Test
  void backToBackOversubscribedDefaultAndNestedCallsStayCorrect() {
    for (int round = 0; round < 150; round++) {
      LongAdder sum = new LongAdder();
      Parallel.forRange(0, 8, i -> {
        LockSupport.parkNanos(50_000L); // blocking work
        sum.add(i);
      }, Parallel.options().threads(8));
      assertThat(sum.sum()).isEqualTo(28L);

      long[] data = new long[4096];
      for (int i = 0; i < data.length; i++) {
        data[i] = i;
      }
      long[] out = Parallel.map(data, x -> x * 2);
      assertThat(out[4095]).isEqualTo(8190L);

      LongAdder nested = new LongAdder();
      Parallel.forRange(0, 3, i -> Parallel.forRange(0, 4, j -> {
        LockSupport.parkNanos(20_000L);
        nested.add(1);
      }, Parallel.options().threads(4)), Parallel.options().threads(3));
      assertThat(nested.sum()).isEqualTo(12L);
    }
  }
}
