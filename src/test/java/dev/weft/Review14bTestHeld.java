package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 14b: attacks on the woken-waiter protocol of {@link Mutex} that HELD. The defects are
 * in {@link Review14bTest}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class Review14bTestHeld {

  /**
   * Attacked: lockWhen (interruptible) interrupted while queued in a BEHIND_QUEUED round behind
   * its waker, held at "mutex.woke-before-release": it must throw InterruptedException within
   * the waker's hold, without the lock, and the waker's release must go on. Held 10/10 (5 runs
   * each on JDK 17 and 25).
   */
  @Test
  @SuppressWarnings("try")
  void interruptibleWaiterInterruptedInARoundThrowsAtOnceWithoutTheLock() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    AtomicBoolean held = new AtomicBoolean();
    CountDownLatch done = new CountDownLatch(1);
    Thread w = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1)) {
        held.set(true);
        g.get();
      } catch (Throwable e) {
        thrown.set(e);
        held.set(m.sync.heldByCurrentThread());
      } finally {
        done.countDown();
      }
    }, "test-r14bh-intr");
    AtomicBoolean doneInHold = new AtomicBoolean();
    try {
      w.start();
      Waits.awaitParkedOn(w, m);
      Mutex.Guard<Integer> g = m.lock();
      try (var h = ProtocolWindows.install(
          MutexDeadlineTest.once(Thread.currentThread(), "mutex.woke-before-release", () -> {
            Waits.awaitParkedOn(w, m.sync); // in a round, behind the held lock
            w.interrupt();
            try {
              doneInHold.set(done.await(10, TimeUnit.SECONDS));
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }))) {
        g.set(1);
        g.close();
      }
    } finally {
      w.join(20_000);
    }
    assertThat(w.isAlive()).isFalse();
    assertThat(doneInHold.get()).as("W ended while the waker held the lock").isTrue();
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    assertThat(held.get()).isFalse();
    assertThat(m.sync.isLocked()).isFalse();
  }

  /**
   * Attacked: a timed lockWhen(v == 1, 150 ms) woken 20 ms in, whose waker then holds the lock
   * at "mutex.woke-before-release" until well past the deadline: the first round (16 ms) and
   * the second (cut at the deadline) must not overrun it; null within 40 ms of the deadline,
   * without the lock. Held 10/10 (5 runs each on JDK 17 and 25).
   */
  @Test
  @SuppressWarnings("try")
  void timedWaiterWhoseDeadlineFallsInsideASecondRoundTimesOutOnTime() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicBoolean gotNull = new AtomicBoolean();
    AtomicLong lateNanos = new AtomicLong(Long.MAX_VALUE);
    CountDownLatch done = new CountDownLatch(1);
    long timeout = TimeUnit.MILLISECONDS.toNanos(150);
    Thread w = new Thread(() -> {
      long start = System.nanoTime();
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1, Duration.ofNanos(timeout))) {
        lateNanos.set(System.nanoTime() - start - timeout);
        gotNull.set(g == null && !m.sync.heldByCurrentThread());
      } catch (Throwable e) {
        failure.set(e);
      } finally {
        done.countDown();
      }
    }, "test-r14bh-timed");
    AtomicBoolean doneInHold = new AtomicBoolean();
    try {
      w.start();
      Waits.awaitParkedOn(w, m);
      Mutex.Guard<Integer> g = m.lock();
      try (var h = ProtocolWindows.install(
          MutexDeadlineTest.once(Thread.currentThread(), "mutex.woke-before-release", () -> {
            try {
              doneInHold.set(done.await(10, TimeUnit.SECONDS));
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }))) {
        g.set(1);
        g.close();
      }
    } finally {
      w.join(20_000);
    }
    assertThat(w.isAlive()).isFalse();
    assertThat(failure.get()).isNull();
    assertThat(doneInHold.get()).as("W timed out while the waker held the lock").isTrue();
    assertThat(gotNull.get()).isTrue();
    assertThat(lateNanos.get()).isBetween(0L, TimeUnit.MILLISECONDS.toNanos(40));
  }

  /**
   * Attacked: a stream of 40 wake-ups, each followed by a 20 ms hold by the waker (longer than
   * the first round): the round doubles only within one wake-up, so the waiter's CPU must stay
   * low (under 150 ms for the whole stream) and every wake-up must end with the waiter
   * re-checking under the lock (it sees the last value). Held 10/10 (5 runs each on JDK 17 and
   * 25).
   */
  @Test
  void streamOfWakeUpsWithLongHoldsNeitherLosesWakeUpsNorSpins() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicLong seen = new AtomicLong(-1);
    int n = 40;
    Thread w = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == n)) {
        seen.set(g.get());
      } catch (Throwable e) {
        failure.set(e);
      }
    }, "test-r14bh-stream");
    long cpu;
    try {
      w.start();
      Waits.awaitParkedOn(w, m);
      long before = Review14Test.cpuNanos(w);
      for (int i = 1; i < n; i++) {
        try (Mutex.Guard<Integer> g = m.lock()) {
          g.set(i);
        }
        try (Mutex.Guard<Integer> g = m.lock()) { // often before W's look: W queues behind
          Review14bTest.holdFor(TimeUnit.MILLISECONDS.toNanos(20));
          g.get();
        }
      }
      cpu = Review14Test.cpuNanos(w) - before;
      m.update(v -> n);
    } finally {
      w.join(20_000);
    }
    assertThat(w.isAlive()).isFalse();
    assertThat(failure.get()).isNull();
    assertThat(seen.get()).isEqualTo(n);
    assertThat(cpu).isLessThan(TimeUnit.MILLISECONDS.toNanos(150));
  }
}
