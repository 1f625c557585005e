package dev.weft;

import static dev.weft.AdaptiveWaitReviewTest.forceWide;
import static dev.weft.AdaptiveWaitReviewTest.window;
import static dev.weft.AdaptiveWaitReviewTest.windowLocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.MutexTest.Worker;
import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of the adaptive spin window (issue 20): attacks that HELD, kept as
 * regression coverage. The failing reproducers are in {@link AdaptiveWaitReviewTest}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@SuppressWarnings("try") // the protocol-window handles are only closed
class AdaptiveWaitReviewTestHeld {

  @BeforeEach
  void spinningOnly() {
    Assumptions.assumeTrue(Mutex.WAIT_SPINS, "the spin phase is off on one CPU");
  }

  /** Runs {@code body} on a new thread from inside a protocol window and waits for it. */
  private static Worker runAndAwait(String name, MutexTest.ThrowingRunnable body) {
    Worker w = new Worker(name, body);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (w.thread.isAlive() && System.nanoTime() - deadline < 0) {
      Thread.onSpinWait(); // bounded poll of a thread state; the caller may be interrupted
    }
    return w;
  }

  /*
   * Lost wake-up attempt: a notifyOne is sent while one waiter spins (wide window, not counted
   * in `waiters`) and another is parked on the condition; the spinner takes the first item.
   * The second item's notifyOne must still reach the parked waiter. Held 3 of 3 runs.
   */
  @Test
  void notifyOneDuringAWideSpinReachesTheParkedWaiterToo() throws Exception {
    Mutex<Integer> items = new Mutex<>(0);
    Condvar cv = new Condvar();
    forceWide(items);
    AtomicReference<Thread> spinnerRef = new AtomicReference<>();
    AtomicBoolean once = new AtomicBoolean();
    AtomicReference<Worker> producer = new AtomicReference<>();
    try (AutoCloseable h = ProtocolWindows.install(name -> {
      if (name.equals("mutex.released-for-spin") && Thread.currentThread() == spinnerRef.get()
          && once.compareAndSet(false, true)) {
        producer.set(runAndAwait("adaptive-producer1", () -> {
          try (Mutex.Guard<Integer> g = items.lock()) {
            g.set(g.get() + 1);
            cv.notifyOne(); // goes to the parked waiter; the spinner sees the release
          }
        }));
      }
    })) {
      Worker parked = new Worker("adaptive-parked", () -> {
        try (Mutex.Guard<Integer> g = items.lock()) {
          cv.awaitWhile(g, v -> v == 0);
          g.set(g.get() - 1);
        }
      });
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!cv.hasWaiters() && System.nanoTime() - deadline < 0) {
        Thread.onSpinWait();
      }
      Waits.awaitBlocked(parked.thread);
      Worker spinner = new Worker("adaptive-spinner", () -> {
        spinnerRef.set(Thread.currentThread());
        try (Mutex.Guard<Integer> g = items.lock()) {
          cv.awaitWhile(g, v -> v == 0);
          g.set(g.get() - 1);
        }
      });
      // Whichever of the two took the first item, the other one waits for the second.
      long d2 = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!(once.get() && (!parked.thread.isAlive() || !spinner.thread.isAlive()))
          && System.nanoTime() - d2 < 0) {
        Thread.onSpinWait();
      }
      items.update(v -> v + 1);
      cv.notifyOne();
      parked.join();
      spinner.join();
      producer.get().join();
    }
    assertThat(MutexTest.value(items)).isZero();
  }

  /* An interrupt during a wide spin, predicate still blocked: lockWhen throws without the lock. */
  @Test
  void interruptDuringAWideLockWhenSpinThrowsWithoutTheLock() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    forceWide(m);
    AtomicReference<Thread> waiterRef = new AtomicReference<>();
    try (AutoCloseable h = ProtocolWindows.install(name -> {
      if (name.equals("mutex.released-for-spin") && Thread.currentThread() == waiterRef.get()) {
        Thread.currentThread().interrupt();
      }
    })) {
      Worker w = new Worker("adaptive-lw-intr", () -> {
        waiterRef.set(Thread.currentThread());
        assertThatThrownBy(() -> m.lockWhen(v -> v == 1))
            .isInstanceOf(InterruptedException.class);
        assertThat(m.isHeldByCurrentThread()).isFalse();
        assertThatThrownBy(() -> m.lockWhen(v -> v == 1, Duration.ofSeconds(10)))
            .isInstanceOf(InterruptedException.class);
        assertThat(m.isHeldByCurrentThread()).isFalse();
      });
      w.join();
    }
    assertThat(m.isLocked()).isFalse();
    // Two wide spins that did not catch the change: the window halved twice (the rule since
    // the fix of AdaptiveWaitReviewTest's first defect; it stayed at 50 us before).
    assertThat(window(m)).isEqualTo((int) Mutex.WAIT_SPIN_MAX_NANOS / 4);
  }

  /* Same for Condvar: IE holding the mutex, guard still usable; timed and untimed. */
  @Test
  void interruptDuringAWideCondvarSpinThrowsHoldingTheMutex() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    forceWide(m);
    AtomicReference<Thread> waiterRef = new AtomicReference<>();
    try (AutoCloseable h = ProtocolWindows.install(name -> {
      if (name.equals("mutex.released-for-spin") && Thread.currentThread() == waiterRef.get()) {
        Thread.currentThread().interrupt();
      }
    })) {
      Worker w = new Worker("adaptive-cv-intr", () -> {
        waiterRef.set(Thread.currentThread());
        try (Mutex.Guard<Integer> g = m.lock()) {
          assertThatThrownBy(() -> cv.awaitWhile(g, v -> v == 0))
              .isInstanceOf(InterruptedException.class);
          assertThat(m.isHeldByCurrentThread()).isTrue();
          assertThatThrownBy(() -> cv.awaitWhile(g, v -> v == 0, Duration.ofSeconds(10)))
              .isInstanceOf(InterruptedException.class);
          assertThat(m.isHeldByCurrentThread()).isTrue();
          g.set(2);
        }
      });
      w.join();
    }
    assertThat(MutexTest.value(m)).isEqualTo(2);
  }

  /*
   * A predicate that throws on its re-check after a wide spin: the exception reaches the
   * caller, the lock state is right (Condvar: held; lockWhen: not held), the window untouched.
   */
  @Test
  void predicateThrowingAfterAWideSpinLeavesLockAndWindowConsistent() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    forceWide(m);
    int[] calls = {0};
    try (Mutex.Guard<Integer> g = m.lock()) {
      calls[0] = 0;
      assertThatThrownBy(() -> cv.awaitWhile(g, v -> {
        if (calls[0]++ > 0) {
          throw new IllegalStateException("boom");
        }
        return true;
      })).isInstanceOf(IllegalStateException.class);
      assertThat(m.isHeldByCurrentThread()).isTrue();
      assertThat(windowLocked(m)).isEqualTo((int) Mutex.WAIT_SPIN_MAX_NANOS);
    }
    calls[0] = 0;
    assertThatThrownBy(() -> m.lockWhen(v -> {
      if (calls[0]++ > 0) {
        throw new IllegalStateException("boom");
      }
      return false;
    })).isInstanceOf(IllegalStateException.class);
    assertThat(m.isLocked()).isFalse();
    assertThat(window(m)).isEqualTo((int) Mutex.WAIT_SPIN_MAX_NANOS);
  }

  /*
   * Timed waits with the window forced wide never spin past a short timeout: the best of 30
   * tries of a 2 us timeout stays far below the 50 us window (best-of keeps a descheduling from
   * failing the test), and the return value is the timed-out one. Held 3 of 3 runs.
   */
  @Test
  void wideWindowIsCutToAShortTimeout() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    long bestCv = Long.MAX_VALUE;
    long bestLw = Long.MAX_VALUE;
    for (int i = 0; i < 30; i++) {
      forceWide(m);
      try (Mutex.Guard<Integer> g = m.lock()) {
        long t0 = System.nanoTime();
        boolean r = cv.awaitWhile(g, v -> true, Duration.ofNanos(2_000));
        bestCv = Math.min(bestCv, System.nanoTime() - t0);
        assertThat(r).isFalse();
      }
      forceWide(m);
      long t0 = System.nanoTime();
      Mutex.Guard<Integer> g = m.lockWhen(v -> false, Duration.ofNanos(2_000));
      bestLw = Math.min(bestLw, System.nanoTime() - t0);
      assertThat(g).isNull();
      assertThat(m.isLocked()).isFalse();
    }
    assertThat(bestCv).as("Condvar best-of-30, ns").isLessThan(30_000L);
    assertThat(bestLw).as("lockWhen best-of-30, ns").isLessThan(30_000L);
  }

  /*
   * The JDK control for AdaptiveWaitReviewTest.defect_condvarInterruptedDuringTheSpin...: with
   * ReentrantLock + Condition, an interrupt that arrives before the state change and signal
   * ends the await with InterruptedException. Deterministic: the changer holds the lock while
   * it interrupts and waits until the waiter has cancelled and queued for the lock.
   */
  @Test
  void jdkConditionThrowsWhenInterruptedBeforeTheChange() throws Exception {
    ReentrantLock lock = new ReentrantLock();
    Condition cond = lock.newCondition();
    int[] v = {0};
    AtomicReference<String> outcome = new AtomicReference<>("none");
    Worker w = new Worker("jdk-cond-waiter", () -> {
      lock.lock();
      try {
        while (v[0] == 0) {
          cond.await();
        }
        outcome.set("returned normally");
      } catch (InterruptedException e) {
        outcome.set("InterruptedException");
      } finally {
        lock.unlock();
      }
    });
    Waits.awaitBlocked(w.thread);
    lock.lock();
    try {
      assertThat(lock.hasWaiters(cond)).isTrue();
      w.thread.interrupt();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!lock.hasQueuedThread(w.thread) && System.nanoTime() - deadline < 0) {
        Thread.onSpinWait();
      }
      v[0] = 1;
      cond.signal();
    } finally {
      lock.unlock();
    }
    w.join();
    assertThat(outcome.get()).isEqualTo("InterruptedException");
  }
}
