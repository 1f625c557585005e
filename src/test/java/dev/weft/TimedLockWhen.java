package dev.weft;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * A platform thread (not started) that runs one timed {@code lockWhen} on a {@code
 * Mutex<Integer>}, closes the guard if it got one, and records how the call ended: for the
 * review tests' "a timed waiter on its own thread" set-ups. A Throwable from the call goes to the
 * shared {@code failure} (the first one is kept).
 */
final class TimedLockWhen {
  final Thread thread;
  /** Counted down when the call has returned or thrown. */
  final CountDownLatch done = new CountDownLatch(1);

  private final AtomicLong startNanos = new AtomicLong(-1);
  private final AtomicLong endNanos = new AtomicLong(-1);
  private final AtomicReference<@Nullable Boolean> got = new AtomicReference<>();

  TimedLockWhen(
      Mutex<Integer> m,
      Predicate<? super Integer> until,
      Duration timeout,
      String name,
      AtomicReference<@Nullable Throwable> failure) {
    thread =
        new Thread(
            () -> {
              startNanos.set(System.nanoTime());
              try {
                Mutex.Guard<Integer> g = m.lockWhen(until, timeout);
                endNanos.set(System.nanoTime());
                got.set(g != null);
                if (g != null) {
                  g.close();
                }
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              } finally {
                done.countDown();
              }
            },
            name);
  }

  /** Whether the call returned a guard; null if it has not returned (or threw). */
  @Nullable Boolean got() {
    return got.get();
  }

  /** {@link System#nanoTime()} when the call returned; -1 if it has not (or threw). */
  long endNanos() {
    return endNanos.get();
  }

  /** How long the call took, in ns; negative if it has not returned (or threw). */
  long elapsedNanos() {
    long end = endNanos.get();
    return end < 0 ? -1 : end - startNanos.get();
  }
}
