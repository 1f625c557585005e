package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

/**
 * Review 14: attacks on the woken-waiter protocol of {@link Mutex} (commit 070861f: release()
 * wakes the change queue before it releases; a woken waiter that finds the lock held by its
 * waker queues with Sync.BEHIND_QUEUED in rounds of Mutex.WAKER_QUEUE_NANOS) that HELD. The
 * defects are in {@link Review14Test}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class Review14TestHeld {

  /** A platform thread that locks {@code m} (queueing while it is held) and records it. */
  private static Thread locker(Mutex<Integer> m, String name, AtomicInteger done) {
    Thread t = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        g.get();
        done.incrementAndGet();
      }
    }, name);
    t.start();
    return t;
  }

  /**
   * Holds the test thread (the waker) at "mutex.woke-before-release", as a preemption there
   * would, until {@code during} returns; then the release goes on.
   */
  private static AutoCloseable preemptWaker(Runnable during) {
    return ProtocolWindows.install(
        MutexDeadlineTest.once(Thread.currentThread(), "mutex.woke-before-release", during));
  }

  /**
   * Attacked: lockWhenUninterruptibly queued behind its preempted waker (BEHIND_QUEUED rounds)
   * and interrupted 20 times, each time while parked in a round: it must not busy-loop (CPU
   * over the next 100 ms of the hold below 30 ms), must return once the waker releases, after
   * the earlier locker, with the value and the interrupt status. Held 12/12 (6 runs each on
   * JDK 17 and 25).
   */
  @Test
  @SuppressWarnings("try")
  void uninterruptibleWaiterInterruptedDuringWakerRoundsNeitherSpinsNorLosesTheInterrupt()
      throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicBoolean interruptedOnReturn = new AtomicBoolean();
    AtomicInteger seen = new AtomicInteger(-1);
    AtomicInteger lockers = new AtomicInteger();
    AtomicLong cpu = new AtomicLong(-1);
    Thread x = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhenUninterruptibly(v -> v == 1)) {
        seen.set(g.get());
        interruptedOnReturn.set(Thread.currentThread().isInterrupted());
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      }
    }, "test-r14h-unintr");
    List<Thread> all = new ArrayList<>(List.of(x));
    try {
      x.start();
      Waits.awaitParkedOn(x, m);
      Mutex.Guard<Integer> g = m.lock();
      Thread q = locker(m, "test-r14h-unintr-q", lockers);
      all.add(q);
      Waits.awaitParkedOn(q, m.sync);
      try (var h = preemptWaker(() -> {
        for (int i = 0; i < 20; i++) {
          Waits.awaitParkedOn(x, m.sync); // in a round, behind Q
          x.interrupt();
        }
        Waits.awaitParkedOn(x, m.sync);
        long before = Review14Test.cpuNanos(x);
        long start = System.nanoTime();
        while (System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(100)) {
          LockSupport.parkNanos(10_000_000L); // the preempted waker's time; not a result wait
        }
        cpu.set(Review14Test.cpuNanos(x) - before);
      })) {
        g.set(1);
        g.close();
      }
    } finally {
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(x.isAlive()).isFalse();
    assertThat(failure.get()).isNull();
    assertThat(seen.get()).isEqualTo(1);
    assertThat(interruptedOnReturn.get()).isTrue();
    assertThat(lockers.get()).isEqualTo(1);
    assertThat(TimeUnit.NANOSECONDS.toMillis(cpu.get())).isLessThan(30L);
  }

  /**
   * Attacked: a timed lockWhen (150 ms) woken and queued behind its waker, which stays
   * "preempted" before its release for up to 5 s: it must return null at its deadline, without
   * the lock, not wait for the waker. Held 12/12 (6 runs each on JDK 17 and 25).
   */
  @Test
  @SuppressWarnings("try")
  void timedWaiterBehindAPreemptedWakerReturnsNullAtItsDeadline() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicInteger lockers = new AtomicInteger();
    TimedLockWhen x =
        new TimedLockWhen(m, v -> v == 1, Duration.ofMillis(150), "test-r14h-timed", failure);
    List<Thread> all = new ArrayList<>(List.of(x.thread));
    try {
      x.thread.start();
      Waits.awaitParkedOn(x.thread, m);
      Mutex.Guard<Integer> g = m.lock();
      Thread q = locker(m, "test-r14h-timed-q", lockers);
      all.add(q);
      Waits.awaitParkedOn(q, m.sync);
      try (var h = preemptWaker(() -> {
        try {
          x.done.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      })) {
        g.set(1);
        g.close();
      }
    } finally {
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(failure.get()).isNull();
    assertThat(x.got()).isFalse();
    assertThat(TimeUnit.NANOSECONDS.toMillis(x.elapsedNanos())).isBetween(145L, 400L);
    assertThat(lockers.get()).isEqualTo(1);
    assertThat(m.isLocked()).isFalse();
  }

  /**
   * Attacked: an interruptible lockWhen queued behind its preempted waker, interrupted in a
   * round: it must throw InterruptedException promptly (the waker still holding), without the
   * lock. Held 12/12 (6 runs each on JDK 17 and 25).
   */
  @Test
  @SuppressWarnings("try")
  void interruptedWaiterBehindAPreemptedWakerThrowsPromptly() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    AtomicBoolean thrownWhileWakerHeld = new AtomicBoolean();
    AtomicInteger lockers = new AtomicInteger();
    CountDownLatch xDone = new CountDownLatch(1);
    Thread x = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1)) {
        g.get();
      } catch (Throwable e) {
        thrown.set(e);
      } finally {
        xDone.countDown();
      }
    }, "test-r14h-intr");
    List<Thread> all = new ArrayList<>(List.of(x));
    try {
      x.start();
      Waits.awaitParkedOn(x, m);
      Mutex.Guard<Integer> g = m.lock();
      Thread q = locker(m, "test-r14h-intr-q", lockers);
      all.add(q);
      Waits.awaitParkedOn(q, m.sync);
      try (var h = preemptWaker(() -> {
        Waits.awaitParkedOn(x, m.sync);
        x.interrupt();
        try {
          thrownWhileWakerHeld.set(xDone.await(5, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      })) {
        g.set(1);
        g.close();
      }
    } finally {
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(thrownWhileWakerHeld.get()).isTrue();
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    assertThat(lockers.get()).isEqualTo(1);
    assertThat(m.isLocked()).isFalse();
  }

  /**
   * Attacked: a timed lockWhen (100 ms) woken by a waker that takes the lock again at once and
   * holds it for up to 5 s (so it sees owner() == waker at every look): it must return null at
   * its deadline, not after the hold. Held 12/12 (6 runs each on JDK 17 and 25).
   */
  @Test
  void timedWaiterWhoseWakerHoldsAgainReturnsNullAtItsDeadline() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    TimedLockWhen x =
        new TimedLockWhen(m, v -> v == 2, Duration.ofMillis(100), "test-r14h-rehold", failure);
    try {
      x.thread.start();
      Waits.awaitParkedOn(x.thread, m);
      m.update(v -> 1);
      try (Mutex.Guard<Integer> g = m.lock()) {
        assertThat(x.done.await(5, TimeUnit.SECONDS)).isTrue();
        g.set(2);
      }
    } finally {
      x.thread.join(20_000);
    }
    assertThat(failure.get()).isNull();
    assertThat(x.got()).isFalse();
    assertThat(TimeUnit.NANOSECONDS.toMillis(x.elapsedNanos())).isBetween(95L, 400L);
  }

  /**
   * Attacked: a predicate that throws when it is re-checked after a woken re-acquisition behind
   * a preempted waker and a queued locker: it must throw in its own waiter, without the lock,
   * and the other waiter woken by the same release must still get the lock. Held 12/12 (6 runs
   * each on JDK 17 and 25).
   */
  @Test
  @SuppressWarnings("try")
  void throwingPredicateAfterAWakerRoundThrowsInItsWaiter() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicInteger lockers = new AtomicInteger();
    AtomicBoolean otherGot = new AtomicBoolean();
    Thread x = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> {
        if (v == 1) {
          throw new IllegalArgumentException("boom");
        }
        return false;
      })) {
        g.get();
      } catch (Throwable e) {
        thrown.set(e);
      }
    }, "test-r14h-throw");
    Thread y = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1)) {
        otherGot.set(true);
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      }
    }, "test-r14h-throw-other");
    List<Thread> all = new ArrayList<>(List.of(x, y));
    try {
      x.start();
      y.start();
      Waits.awaitParkedOn(x, m);
      Waits.awaitParkedOn(y, m);
      Mutex.Guard<Integer> g = m.lock();
      Thread q = locker(m, "test-r14h-throw-q", lockers);
      all.add(q);
      Waits.awaitParkedOn(q, m.sync);
      try (var h = preemptWaker(() -> {
        Waits.awaitParkedOn(x, m.sync);
        Waits.awaitParkedOn(y, m.sync);
        long start = System.nanoTime(); // a few rounds pass while the waker is "preempted"
        while (System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(5)) {
          LockSupport.parkNanos(1_000_000L);
        }
      })) {
        g.set(1);
        g.close();
      }
    } finally {
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(failure.get()).isNull();
    assertThat(thrown.get()).isInstanceOf(IllegalArgumentException.class);
    assertThat(otherGot.get()).isTrue();
    assertThat(lockers.get()).isEqualTo(1);
    assertThat(m.isLocked()).isFalse();
  }

  /**
   * Attacked: the Condvar path (signalChangedBeforeWait wakes the change queue while the
   * holder still holds the lock, then the holder spins, re-takes the lock and waits on the
   * Condition), with lockers queued: a holder sets v = 2r - 1 and waits on a Condvar for 2r;
   * a lockWhen waiter waits for 2r - 1, sets 2r and notifies; two hammerers keep the AQS queue
   * non-empty. 300 rounds, lost wake-ups would hang. Held 12/12 (6 runs each on JDK 17 and 25).
   */
  @Test
  void condvarHolderWakesTheQueueBeforeItWaitsWithLockersQueued() throws Exception {
    final int rounds = 300;
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> all = new ArrayList<>();
    Thread waiter = new Thread(() -> {
      try {
        for (int r = 1; r <= rounds; r++) {
          int odd = 2 * r - 1;
          try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == odd)) {
            g.set(odd + 1);
            cv.notifyAllWaiters();
          }
        }
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      }
    }, "test-r14h-cv-waiter");
    Thread holder = new Thread(() -> {
      try {
        for (int r = 1; r <= rounds; r++) {
          int even = 2 * r;
          try (Mutex.Guard<Integer> g = m.lock()) {
            g.set(even - 1);
            cv.awaitWhile(g, v -> v != even);
          }
        }
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      }
    }, "test-r14h-cv-holder");
    all.add(waiter);
    all.add(holder);
    for (int i = 0; i < 2; i++) {
      all.add(new Thread(() -> {
        while (!stop.get()) {
          m.with(v -> v);
        }
      }, "test-r14h-cv-hammer-" + i));
    }
    try {
      for (Thread t : all) {
        t.start();
      }
      waiter.join(30_000);
      holder.join(30_000);
      assertThat(waiter.isAlive() || holder.isAlive()).as("a wake-up was lost").isFalse();
    } finally {
      stop.set(true);
      waiter.interrupt();
      holder.interrupt();
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(failure.get()).isNull();
    int last = m.with(v -> v);
    assertThat(last).isEqualTo(2 * rounds);
  }

  /**
   * Attacked: a virtual-thread waker (producer) of a herd of 20 platform and 20 virtual
   * lockWhen waiters, with two timed tryLock(50 us) hammerers leaving cancelled nodes in the
   * AQS queue: 100 rounds, every waiter must see every round. Held 6/6 (JDK 25; skipped on 17).
   */
  @Test
  @EnabledForJreRange(min = JRE.JAVA_21)
  void virtualWakerOfAMixedHerdWithCancelledQueueNodes() throws Exception {
    final int rounds = 100;
    final int waiters = 40;
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicBoolean stop = new AtomicBoolean();
    LongAdder seen = new LongAdder();
    CountDownLatch done = new CountDownLatch(waiters);
    List<Thread> all = new ArrayList<>();
    try {
      for (int i = 0; i < waiters; i++) {
        Runnable body = () -> {
          try {
            for (int r = 1; r <= rounds; r++) {
              int target = r;
              m.awaitThen(v -> v >= target, v -> {
                seen.increment();
                return v;
              });
            }
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          } finally {
            done.countDown();
          }
        };
        if (i % 2 == 0) {
          Thread t = new Thread(body, "test-r14h-vherd-p" + i);
          t.start();
          all.add(t);
        } else {
          all.add(SpinLockHandOverReviewTest.startVirtual("test-r14h-vherd-v" + i, body));
        }
      }
      for (int i = 0; i < 2; i++) {
        Thread h = new Thread(() -> {
          try {
            while (!stop.get()) {
              Mutex.Guard<Integer> g = m.tryLock(Duration.ofNanos(50_000));
              if (g != null) {
                g.close();
              }
            }
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          }
        }, "test-r14h-vherd-hammer-" + i);
        h.start();
        all.add(h);
      }
      Thread producer = SpinLockHandOverReviewTest.startVirtual("test-r14h-vherd-producer", () -> {
        for (int r = 1; r <= rounds; r++) {
          m.update(v -> v + 1);
          LockSupport.parkNanos(20_000L);
        }
      });
      all.add(producer);
      assertThat(done.await(30, TimeUnit.SECONDS)).as("herd finished").isTrue();
    } finally {
      stop.set(true);
      m.update(v -> Integer.MAX_VALUE / 2);
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    assertThat(failure.get()).isNull();
    assertThat(seen.sum()).isEqualTo((long) waiters * rounds);
  }
}
