package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link SpinLock} waiters against a "hog": a thread that holds the lock for about 30 µs at a
 * time and re-locks at once after each unlock, so a woken waiter keeps losing the race. That
 * drives the lost-race path (a timed park without registering for a signal) many times per
 * second, together with the registered park, while a third thread interrupts the waiters
 * every ~100 µs. Each test checks what every acquisition form must still guarantee there:
 * the lock is held when the call says so and not otherwise, counts stay exact, interrupts are
 * answered or kept, and timeouts are honoured.
 */
@Timeout(60)
class SpinLockLostRaceTest {
  private static final long RUN_NANOS = TimeUnit.MILLISECONDS.toNanos(800);
  private static final long HOLD_NANOS = TimeUnit.MICROSECONDS.toNanos(30);
  private static final long INTERRUPT_EVERY_NANOS = TimeUnit.MICROSECONDS.toNanos(100);

  private final SpinLock lock = new SpinLock();
  private final AtomicBoolean stop = new AtomicBoolean();
  private final AtomicBoolean hogStopped = new AtomicBoolean(); // read by the late waiter only
  private final List<Thread> threads = new ArrayList<>();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();
  private final AtomicLong acquisitions = new AtomicLong();
  private long counter; // guarded by lock

  private static void busyWait(long nanos) {
    long until = System.nanoTime() + nanos;
    while (System.nanoTime() - until < 0) {
      Thread.onSpinWait();
    }
  }

  /** Starts a test thread that records its first throwable; {@code @AfterEach} joins it. */
  private Thread start(String name, SpinLockContractTest.ThrowingRunnable body) {
    Thread t = SpinLockContractTest.start(name, body, failure);
    threads.add(t);
    return t;
  }

  /** The critical section every acquirer runs: check ownership, count. */
  private void inside() {
    if (!lock.isHeldByCurrentThread()) {
      throw new AssertionError("acquisition returned without holding the lock");
    }
    counter++;
    acquisitions.incrementAndGet();
  }

  private void startHog() {
    start(
        "hog",
        () -> {
          while (!stop.get()) {
            lock.lock();
            try {
              busyWait(HOLD_NANOS);
              inside();
            } finally {
              lock.unlock();
            }
          }
        });
  }

  private void startInterrupter(List<Thread> targets) {
    start(
        "interrupter",
        () -> {
          while (!stop.get()) {
            busyWait(INTERRUPT_EVERY_NANOS);
            targets.get(ThreadLocalRandom.current().nextInt(targets.size())).interrupt();
          }
        });
  }

  /** Lets the threads run for RUN_NANOS, stops them, and checks the shared invariants. */
  private void runThenCheck() throws InterruptedException {
    CountDownLatch never = new CountDownLatch(1);
    assertThat(never.await(TimeUnit.NANOSECONDS.toMillis(RUN_NANOS), TimeUnit.MILLISECONDS))
        .isFalse(); // a bounded wait for the run to elapse, not for a result
    stopAll();
    assertThat(failure.get()).as("failure in a thread").isNull();
    assertThat(lock.isLocked()).as("free after everyone stopped").isFalse();
    lock.lock();
    try {
      assertThat(counter).as("no lost or doubled critical section").isEqualTo(acquisitions.get());
    } finally {
      lock.unlock();
    }
  }

  private void stopAll() throws InterruptedException {
    stop.set(true);
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(10));
      assertThat(t.isAlive()).as(t.getName() + " stopped").isFalse();
    }
  }

  @AfterEach
  void noThreadOutlivesTheTest() throws InterruptedException {
    stop.set(true);
    hogStopped.set(true);
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(10));
    }
    for (Thread t : threads) {
      assertThat(t.isAlive()).as(t.getName() + " still running").isFalse();
    }
  }

  @Test
  void plainLockHoldsTheLockOnReturnUnderInterrupts() throws Exception {
    startHog();
    AtomicLong seenInterrupts = new AtomicLong();
    List<Thread> waiters = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      waiters.add(
          start(
              "lock-" + i,
              () -> {
                while (!stop.get()) {
                  lock.lock();
                  try {
                    inside();
                  } finally {
                    lock.unlock();
                  }
                  if (Thread.interrupted()) {
                    seenInterrupts.incrementAndGet(); // lock() does not answer interrupts
                  }
                }
              }));
    }
    startInterrupter(waiters);
    runThenCheck();
    assertThat(seenInterrupts.get()).as("interrupts arrived during the run").isPositive();
  }

  @Test
  void lockInterruptiblyEitherHoldsTheLockOrThrowsWithoutIt() throws Exception {
    startHog();
    AtomicLong interrupted = new AtomicLong();
    List<Thread> waiters = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      waiters.add(
          start(
              "interruptible-" + i,
              () -> {
                while (!stop.get()) {
                  try {
                    lock.lockInterruptibly();
                  } catch (InterruptedException e) {
                    if (lock.isHeldByCurrentThread()) {
                      throw new AssertionError("threw InterruptedException holding the lock", e);
                    }
                    interrupted.incrementAndGet();
                    continue;
                  }
                  try {
                    inside();
                  } finally {
                    lock.unlock();
                  }
                }
              }));
    }
    startInterrupter(waiters);
    runThenCheck();
    assertThat(interrupted.get()).as("some waits were ended by an interrupt").isPositive();
  }

  @Test
  void timedTryLockHoldsTheLockOnTrueAndWaitsItsTimeoutOnFalse() throws Exception {
    startHog();
    AtomicLong timedOut = new AtomicLong();
    for (int i = 0; i < 2; i++) {
      start(
          "timed-" + i,
          () -> {
            while (!stop.get()) {
              long timeout = ThreadLocalRandom.current().nextLong(5_000, 200_000); // ns
              long start = System.nanoTime();
              boolean got;
              try {
                got = lock.tryLock(timeout, TimeUnit.NANOSECONDS);
              } catch (InterruptedException e) {
                if (lock.isHeldByCurrentThread()) {
                  throw new AssertionError("threw InterruptedException holding the lock", e);
                }
                continue;
              }
              long elapsed = System.nanoTime() - start;
              if (got) {
                try {
                  inside();
                } finally {
                  lock.unlock();
                }
              } else {
                if (lock.isHeldByCurrentThread()) {
                  throw new AssertionError("tryLock returned false holding the lock");
                }
                if (elapsed < timeout) {
                  throw new AssertionError(
                      "gave up after " + elapsed + " ns, before its " + timeout + " ns timeout");
                }
                timedOut.incrementAndGet();
              }
            }
          });
    }
    // No interrupter here: interrupts would end most waits before their timeout.
    runThenCheck();
    assertThat(timedOut.get()).as("some attempts timed out against the hog").isPositive();
  }

  @Test
  void aWaiterGetsTheLockOnceTheHogStops() throws Exception {
    startHog();
    CountDownLatch acquired = new CountDownLatch(1);
    start(
        "late-waiter",
        () -> {
          // Contend until the hog has stopped, then one more acquisition must not hang.
          while (!hogStopped.get()) {
            lock.lock();
            try {
              inside();
            } finally {
              lock.unlock();
            }
          }
          lock.lock();
          try {
            inside();
          } finally {
            lock.unlock();
          }
          acquired.countDown();
        });
    busyWait(TimeUnit.MILLISECONDS.toNanos(200));
    stop.set(true); // stops the hog; the late waiter ignores `stop`
    threads.get(0).join(TimeUnit.SECONDS.toMillis(10));
    assertThat(threads.get(0).isAlive()).as("hog stopped").isFalse();
    hogStopped.set(true);
    assertThat(acquired.await(10, TimeUnit.SECONDS)).as("acquired after the hog stopped").isTrue();
    stopAll();
    assertThat(failure.get()).isNull();
    assertThat(lock.isLocked()).isFalse();
    assertThat(counter).isEqualTo(acquisitions.get());
  }
}
