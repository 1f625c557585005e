package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.SpinLockContractTest.ThrowingRunnable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;

/**
 * What the adversarial lock tests ({@link SpinLockAdversarialTest}, {@link
 * TicketLockAdversarialTest}) share: the threads a test starts (each joined after the test), a
 * worker that mixes every way of waiting for a lock, an interrupter, and a bounded run.
 */
abstract class LockAdversary {
  final AtomicBoolean stop = new AtomicBoolean();
  final List<Thread> threads = new ArrayList<>();
  final AtomicReference<Throwable> failure = new AtomicReference<>();

  /** Starts a test thread whose failure is recorded in {@link #failure}; joined after the test. */
  Thread start(String name, ThrowingRunnable body) {
    Thread t = SpinLockContractTest.start(name, body, failure);
    threads.add(t);
    return t;
  }

  @AfterEach
  void stopAndJoinEveryThread() throws InterruptedException {
    stop.set(true);
    for (Thread t : threads) {
      t.interrupt();
      t.join(TimeUnit.SECONDS.toMillis(10));
    }
    for (Thread t : threads) {
      assertThat(t.isAlive()).as(t.getName() + " still running").isFalse();
    }
  }

  static void busyWait(long nanos) {
    long until = System.nanoTime() + nanos;
    while (System.nanoTime() - until < 0) {
      Thread.onSpinWait();
    }
  }

  /**
   * Starts a worker that, until {@link #stop}, picks at random {@code lock()}, {@code
   * tryLock} with a timeout in [{@code minTimeoutNanos}, {@code maxTimeoutNanos}) or {@code
   * lockInterruptibly()}; checks that an interrupted wait does not hold the lock and that a
   * result agrees with {@code isHeldByCurrentThread}; runs {@code criticalSection} when it got
   * the lock, then unlocks and runs {@code afterUnlock}; clears its interrupt status each round.
   */
  Thread startMixedWaitsWorker(
      String name,
      Lock lock,
      BooleanSupplier isHeldByCurrentThread,
      long minTimeoutNanos,
      long maxTimeoutNanos,
      Runnable criticalSection,
      Runnable afterUnlock) {
    return start(
        name,
        () -> {
          ThreadLocalRandom r = ThreadLocalRandom.current();
          while (!stop.get()) {
            int op = r.nextInt(3);
            boolean got;
            try {
              if (op == 0) {
                lock.lock();
                got = true;
              } else if (op == 1) {
                got = lock.tryLock(r.nextLong(minTimeoutNanos, maxTimeoutNanos),
                    TimeUnit.NANOSECONDS);
              } else {
                lock.lockInterruptibly();
                got = true;
              }
            } catch (InterruptedException e) {
              if (isHeldByCurrentThread.getAsBoolean()) {
                throw new AssertionError("threw holding the lock", e);
              }
              continue;
            }
            if (got != isHeldByCurrentThread.getAsBoolean()) {
              throw new AssertionError("result " + got + " disagrees with ownership");
            }
            if (got) {
              try {
                criticalSection.run();
              } finally {
                lock.unlock();
                afterUnlock.run();
              }
            }
            Thread.interrupted();
          }
        });
  }

  /** Starts a thread that, until {@link #stop}, interrupts one of {@code targets} every period. */
  Thread startInterrupter(List<Thread> targets, long periodNanos) {
    List<Thread> copy = List.copyOf(targets);
    return start(
        "interrupter",
        () -> {
          ThreadLocalRandom r = ThreadLocalRandom.current();
          while (!stop.get()) {
            busyWait(periodNanos);
            copy.get(r.nextInt(copy.size())).interrupt();
          }
        });
  }

  /** Lets the started threads run for {@code length}, then stops and joins them. */
  void runFor(Duration length) throws InterruptedException {
    CountDownLatch never = new CountDownLatch(1);
    assertThat(never.await(length.toMillis(), TimeUnit.MILLISECONDS)).isFalse(); // bounded run
    stop.set(true);
    SpinLockContractTest.join(threads.toArray(new Thread[0]));
  }
}
