package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A {@link SpinLock} waiter against a "hog": a running thread that unlocks and at once re-locks
 * in a loop, so a woken waiter keeps losing the race. That drives the lost-race path (a timed
 * park without registering for a signal) as well as the registered park. Each test checks what
 * a waiter there must still do: get the lock once the hog stops, give up on time, answer an
 * interrupt, keep an interrupt it may not answer, and keep the count exact.
 */
@Timeout(60)
class SpinLockLostRaceTest {
  private final SpinLock lock = new SpinLock();
  private final AtomicBoolean stopHog = new AtomicBoolean();
  private final AtomicLong hogRounds = new AtomicLong();
  private long counter; // guarded by lock
  private Thread hog;

  /** Starts the hog and returns once it holds the lock for the first time. */
  private void startHog() throws InterruptedException {
    CountDownLatch running = new CountDownLatch(1);
    hog =
        new Thread(
            () -> {
              while (!stopHog.get()) {
                lock.lock();
                try {
                  counter++;
                } finally {
                  lock.unlock();
                }
                hogRounds.incrementAndGet();
                running.countDown();
              }
            },
            "hog");
    hog.start();
    assertThat(running.await(10, TimeUnit.SECONDS)).as("hog started").isTrue();
  }

  private void stopHog() throws InterruptedException {
    stopHog.set(true);
    hog.join(TimeUnit.SECONDS.toMillis(10));
    assertThat(hog.isAlive()).as("hog stopped").isFalse();
  }

  @AfterEach
  void noThreadOutlivesTheTest() throws InterruptedException {
    stopHog.set(true);
    if (hog != null) {
      hog.join(TimeUnit.SECONDS.toMillis(10));
      assertThat(hog.isAlive()).isFalse();
    }
  }

  @Test
  void waiterGetsTheLockOnceTheHogStopsAndTheCountIsExact() throws Exception {
    startHog();
    AtomicLong waiterAcquisitions = new AtomicLong();
    AtomicBoolean stopWaiter = new AtomicBoolean();
    CountDownLatch waiterDone = new CountDownLatch(1);
    Thread waiter =
        new Thread(
            () -> {
              // Keep contending while the hog runs; every acquisition counts.
              while (!stopWaiter.get()) {
                lock.lock();
                try {
                  counter++;
                } finally {
                  lock.unlock();
                }
                waiterAcquisitions.incrementAndGet();
              }
              // One last acquisition after the hog has stopped: it must not hang.
              lock.lock();
              try {
                counter++;
              } finally {
                lock.unlock();
              }
              waiterAcquisitions.incrementAndGet();
              waiterDone.countDown();
            },
            "waiter");
    waiter.start();
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200);
    while (System.nanoTime() - until < 0) {
      Thread.onSpinWait(); // let the two contend for a while (the result is not awaited here)
    }
    stopHog();
    stopWaiter.set(true);
    assertThat(waiterDone.await(10, TimeUnit.SECONDS)).as("waiter finished").isTrue();
    waiter.join(TimeUnit.SECONDS.toMillis(10));
    assertThat(waiter.isAlive()).isFalse();
    assertThat(lock.isLocked()).isFalse();
    lock.lock();
    try {
      assertThat(counter).isEqualTo(hogRounds.get() + waiterAcquisitions.get());
    } finally {
      lock.unlock();
    }
  }

  @Test
  void timedTryLockAgainstAHogReturnsWithinItsTimeout() throws Exception {
    startHog();
    long timeoutNanos = TimeUnit.MILLISECONDS.toNanos(5);
    for (int i = 0; i < 40; i++) {
      long start = System.nanoTime();
      boolean got = lock.tryLock(5, TimeUnit.MILLISECONDS);
      long elapsed = System.nanoTime() - start;
      if (got) {
        assertThat(lock.isHeldByCurrentThread()).isTrue();
        lock.unlock();
      } else {
        assertThat(elapsed).as("gave up only after the timeout").isGreaterThanOrEqualTo(timeoutNanos);
        assertThat(lock.isHeldByCurrentThread()).isFalse();
      }
      // The lost-race park is cut to the time left: no attempt overshoots by a whole backstop
      // period many times over (generous bound for a loaded CI machine).
      assertThat(elapsed).isLessThan(TimeUnit.MILLISECONDS.toNanos(500));
    }
    stopHog();
    assertThat(lock.tryLock(1, TimeUnit.SECONDS)).as("free once the hog stopped").isTrue();
    lock.unlock();
  }

  @Test
  void lockInterruptiblyAgainstAHogAnswersAnInterrupt() throws Exception {
    startHog();
    AtomicReference<Throwable> outcome = new AtomicReference<>();
    AtomicBoolean heldAfterwards = new AtomicBoolean(true);
    CountDownLatch contending = new CountDownLatch(1);
    Thread waiter =
        new Thread(
            () -> {
              try {
                for (;;) { // may win now and then (the lock is unfair): keep trying
                  contending.countDown();
                  lock.lockInterruptibly();
                  lock.unlock();
                }
              } catch (Throwable t) {
                outcome.set(t);
                heldAfterwards.set(lock.isHeldByCurrentThread());
              }
            },
            "interruptible-waiter");
    waiter.start();
    assertThat(contending.await(10, TimeUnit.SECONDS)).isTrue();
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    while (System.nanoTime() - until < 0) {
      Thread.onSpinWait(); // let it lose a few races first
    }
    waiter.interrupt();
    waiter.join(TimeUnit.SECONDS.toMillis(10));
    assertThat(waiter.isAlive()).as("the interrupt ended the wait").isFalse();
    assertThat(outcome.get()).isInstanceOf(InterruptedException.class);
    assertThat(heldAfterwards.get()).as("not holding the lock after the interrupt").isFalse();
    stopHog();
  }

  @Test
  void plainLockAgainstAHogKeepsAnInterruptAndStillAcquires() throws Exception {
    startHog();
    AtomicBoolean interruptKept = new AtomicBoolean();
    AtomicBoolean acquired = new AtomicBoolean();
    CountDownLatch contending = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    Thread waiter =
        new Thread(
            () -> {
              contending.countDown();
              // Interrupted before it starts waiting, so no race decides whether the interrupt
              // lands: every park in the wait (registered or lost-race) then returns at once,
              // the wait clears the status, parks again, and must set it again on return.
              Thread.currentThread().interrupt();
              lock.lock();
              try {
                acquired.set(lock.isHeldByCurrentThread());
                interruptKept.set(Thread.currentThread().isInterrupted());
              } finally {
                lock.unlock();
              }
              done.countDown();
            },
            "uninterruptible-waiter");
    waiter.start();
    assertThat(contending.await(10, TimeUnit.SECONDS)).isTrue();
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    while (System.nanoTime() - until < 0) {
      Thread.onSpinWait(); // let it lose a few races first
    }
    stopHog();
    assertThat(done.await(10, TimeUnit.SECONDS)).as("acquired once the hog stopped").isTrue();
    waiter.join(TimeUnit.SECONDS.toMillis(10));
    assertThat(acquired.get()).isTrue();
    assertThat(interruptKept.get()).as("interrupt status set again on return").isTrue();
  }
}
