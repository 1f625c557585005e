package dev.weft;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;

/**
 * Shared time arithmetic: every timed method of weft converts its timeout here, so that huge
 * timeouts never overflow and zero or negative ones mean "check once, do not wait".
 *
 * <p>A timeout is capped at {@link #MAX_NANOS} (about 146 years). With that cap a deadline
 * {@code start + nanos} may wrap numerically, but the remaining time is always computed as
 * {@code deadline - System.nanoTime()}, whose true value stays below 2<sup>63</sup>, so the
 * subtraction is exact — the same technique {@code System.nanoTime}'s documentation prescribes.
 *
 * <p>Wall-clock deadlines ({@link java.util.Date} in {@code Condition.awaitUntil}) are compared
 * with now <em>before</em> anything is subtracted ({@link #nanosUntil}): {@code deadline - now}
 * overflows for deadlines before about {@code now + Long.MIN_VALUE} ms, and a wrapped, huge
 * positive difference once made {@code awaitUntil(new Date(Long.MIN_VALUE))} wait for 146 years.
 */
final class Timeouts {
  /** Largest timeout honoured, in nanoseconds: 2<sup>62</sup>, about 146 years. */
  static final long MAX_NANOS = 1L << 62;

  private Timeouts() {}

  /**
   * Converts a {@code Duration} to nanoseconds, saturating instead of throwing.
   *
   * @param timeout the timeout; negative values become 0
   * @param name the parameter name for the null check
   * @return a value in {@code [0, MAX_NANOS]}
   */
  static long toNanos(Duration timeout, String name) {
    Objects.requireNonNull(timeout, name);
    if (timeout.isNegative() || timeout.isZero()) {
      return 0L;
    }
    // Duration.toNanos() throws ArithmeticException past ~292 years; cap before converting.
    if (timeout.compareTo(Duration.ofNanos(MAX_NANOS)) >= 0) {
      return MAX_NANOS;
    }
    return timeout.toNanos();
  }

  /**
   * Converts a {@code (long, TimeUnit)} timeout to nanoseconds, saturating.
   *
   * @param time the amount; negative values become 0
   * @param unit the unit
   * @return a value in {@code [0, MAX_NANOS]}
   */
  static long toNanos(long time, TimeUnit unit) {
    Objects.requireNonNull(unit, "unit");
    if (time <= 0) {
      return 0L;
    }
    return Math.min(unit.toNanos(time), MAX_NANOS); // TimeUnit.toNanos saturates at MAX_VALUE
  }

  /**
   * Converts a wall-clock deadline to the nanoseconds left until it, comparing before
   * subtracting so that no deadline, however far in the past or future, overflows.
   *
   * @param deadlineMillis the deadline, in milliseconds since the epoch (any long)
   * @param nowMillis the current time, in the same scale (usually {@link
   *     System#currentTimeMillis()})
   * @return 0 if the deadline is not after now, else a value in {@code [1_000_000, MAX_NANOS]}
   */
  static long nanosUntil(long deadlineMillis, long nowMillis) {
    if (deadlineMillis <= nowMillis) {
      return 0L; // reached or passed: also covers every deadline for which the subtraction wraps
    }
    long millis = deadlineMillis - nowMillis; // true value positive; wraps only if now < 0
    if (millis < 0L) {
      millis = Long.MAX_VALUE; // more than Long.MAX_VALUE ms away: saturate
    }
    return toNanos(millis, TimeUnit.MILLISECONDS);
  }
}
