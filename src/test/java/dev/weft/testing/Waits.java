package dev.weft.testing;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/** Bounded waits on thread states, shared by the test suites. */
public final class Waits {
  /** How long {@link #awaitBlocked} waits before it fails. */
  private static final long BLOCK_BOUND_NANOS = TimeUnit.SECONDS.toNanos(10);

  private Waits() {}

  /**
   * Waits (bounded) until {@code t} is parked or waiting ({@link Thread.State#WAITING} or
   * {@link Thread.State#TIMED_WAITING}), i.e. blocked in a lock, condition or park. Fails at once
   * if {@code t} ends (or was never started) before it blocks, and fails if it has not blocked
   * within 10 seconds; both messages name the thread. It polls the thread's state with short
   * parks; it is not a wait for a result.
   *
   * @param t the thread expected to block
   * @throws AssertionError if {@code t} is not alive or does not block within the bound
   */
  public static void awaitBlocked(Thread t) {
    long deadline = System.nanoTime() + BLOCK_BOUND_NANOS;
    while (true) {
      Thread.State s = t.getState();
      if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING) {
        return;
      }
      if (!t.isAlive()) {
        throw new AssertionError(t.getName() + " ended (state " + s + ") before it blocked");
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError(
            t.getName() + " never blocked within 10 s (state " + t.getState() + ")");
      }
      LockSupport.parkNanos(50_000L); // bounded poll of the thread state, not a result wait
    }
  }

  /**
   * Whether {@code t} is parked or waiting ({@link Thread.State#WAITING} or {@link
   * Thread.State#TIMED_WAITING}).
   *
   * @param t the thread
   * @return whether it is blocked now
   */
  public static boolean isParked(Thread t) {
    Thread.State s = t.getState();
    return s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING;
  }

  /**
   * Waits (bounded) until {@code t} is parked with {@code blocker} as its park blocker ({@link
   * LockSupport#getBlocker}), i.e. blocked inside the given lock, condition or cell rather than
   * anywhere else. Fails at once if {@code t} ends first, and fails if it has not parked there
   * within 20 seconds; both messages name the thread and the blocker.
   *
   * @param t the thread expected to park
   * @param blocker the object it must park on
   * @throws AssertionError if {@code t} ends or does not park on {@code blocker} within the bound
   */
  public static void awaitParkedOn(Thread t, Object blocker) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!(LockSupport.getBlocker(t) == blocker && isParked(t))) {
      if (!t.isAlive()) {
        throw new AssertionError(t.getName() + " ended instead of parking on " + blocker);
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError(t.getName() + " never parked on " + blocker + " within 20 s");
      }
      LockSupport.parkNanos(50_000L); // bounded poll of the thread state, not a result wait
    }
  }

  /**
   * Awaits {@code latch}, ignoring interrupts while it waits and setting the interrupt status
   * again afterwards if one came (for a hook or helper that must not throw). The caller bounds
   * the wait: the test's {@code @Timeout}, or a latch that is counted down in a finally.
   *
   * @param latch the latch to await
   */
  public static void awaitUninterruptibly(CountDownLatch latch) {
    boolean interrupted = false;
    while (true) {
      try {
        latch.await();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
