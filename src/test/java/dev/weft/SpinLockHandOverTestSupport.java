package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.invoke.VarHandle;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/** Bounded polls of a {@link SpinLock}'s hand-over state, shared by the hand-over suites. */
final class SpinLockHandOverTestSupport {
  private SpinLockHandOverTestSupport() {}

  /** The lock's heir, read after an acquire fence. */
  static @Nullable Thread heir(SpinLock lock) {
    VarHandle.acquireFence();
    return lock.heir;
  }

  /** Waits (bounded, 20 s) until {@code t} is the lock's heir. */
  static void awaitHeir(SpinLock lock, Thread t) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (heir(lock) != t) {
      assertThat(t.isAlive()).as("%s ended before it became the heir", t.getName()).isTrue();
      assertThat(System.nanoTime() - deadline < 0)
          .as("%s never became the heir within 20 s (state %s)", t.getName(), t.getState())
          .isTrue();
      LockSupport.parkNanos(100_000L); // bounded poll of the lock's state, not a result wait
    }
  }

  /**
   * Waits (bounded, 20 s) until {@code t} is parked (WAITING or TIMED_WAITING) on the lock.
   * Public API only, so that a reproducer using it also runs on the lock before hand-over.
   */
  static void awaitParkedOnLock(SpinLock lock, Thread t) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!((t.getState() == Thread.State.WAITING || t.getState() == Thread.State.TIMED_WAITING)
        && LockSupport.getBlocker(t) == lock)) {
      assertThat(t.isAlive()).as("%s ended before it parked", t.getName()).isTrue();
      assertThat(System.nanoTime() - deadline < 0)
          .as("%s never parked on the lock within 20 s (state %s)", t.getName(), t.getState())
          .isTrue();
      LockSupport.parkNanos(100_000L); // bounded poll of a thread state, not a result wait
    }
  }
}
