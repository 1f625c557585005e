package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class TimeoutsTest {
  @Test
  void negativeAndZeroMeanCheckOnce() {
    assertThat(Timeouts.toNanos(Duration.ofMillis(-5), "timeout")).isZero();
    assertThat(Timeouts.toNanos(Duration.ZERO, "timeout")).isZero();
    assertThat(Timeouts.toNanos(-1, TimeUnit.SECONDS)).isZero();
  }

  @Test
  void hugeTimeoutsSaturate() {
    assertThat(Timeouts.toNanos(Duration.ofSeconds(Long.MAX_VALUE), "timeout"))
        .isEqualTo(Timeouts.MAX_NANOS);
    assertThat(Timeouts.toNanos(Long.MAX_VALUE, TimeUnit.DAYS)).isEqualTo(Timeouts.MAX_NANOS);
    long deadline = System.nanoTime() + Timeouts.MAX_NANOS;
    assertThat(deadline - System.nanoTime()).isPositive();
  }

  @Test
  void ordinaryTimeoutsConvert() {
    assertThat(Timeouts.toNanos(Duration.ofMillis(3), "timeout")).isEqualTo(3_000_000L);
    assertThat(Timeouts.toNanos(2, TimeUnit.MICROSECONDS)).isEqualTo(2_000L);
  }

  @Test
  void nullsNameTheParameter() {
    assertThatNullPointerException().isThrownBy(() -> Timeouts.toNanos(null, "timeout"))
        .withMessage("timeout");
    assertThatNullPointerException().isThrownBy(() -> Timeouts.toNanos(1, null))
        .withMessage("unit");
  }

  @Test
  void wallClockDeadlinesAreComparedBeforeSubtracting() {
    long now = System.currentTimeMillis();
    for (long past : new long[] {Long.MIN_VALUE, Long.MIN_VALUE + 1, Long.MIN_VALUE + now, -1, 0,
        now - 1, now}) {
      assertThat(Timeouts.nanosUntil(past, now)).as("deadline %d", past).isZero();
    }
    assertThat(Timeouts.nanosUntil(now + 1, now)).isEqualTo(1_000_000L);
    assertThat(Timeouts.nanosUntil(Long.MAX_VALUE, now)).isEqualTo(Timeouts.MAX_NANOS);
    // A clock before the epoch: the true difference exceeds Long.MAX_VALUE and must saturate.
    assertThat(Timeouts.nanosUntil(Long.MAX_VALUE, -5)).isEqualTo(Timeouts.MAX_NANOS);
    assertThat(Timeouts.nanosUntil(Long.MIN_VALUE, Long.MAX_VALUE)).isZero();
    assertThat(Timeouts.nanosUntil(Long.MAX_VALUE, Long.MIN_VALUE)).isEqualTo(Timeouts.MAX_NANOS);
  }

  @Test
  void extremeLongTimeoutsSaturateOrMeanCheckOnce() {
    for (TimeUnit u : TimeUnit.values()) {
      assertThat(Timeouts.toNanos(Long.MIN_VALUE, u)).isZero();
      assertThat(Timeouts.toNanos(0, u)).isZero();
      assertThat(Timeouts.toNanos(-1, u)).isZero();
      assertThat(Timeouts.toNanos(Long.MAX_VALUE, u)).isEqualTo(Timeouts.MAX_NANOS);
      assertThat(Timeouts.toNanos(1, u)).isEqualTo(Math.min(u.toNanos(1), Timeouts.MAX_NANOS));
    }
    assertThat(Timeouts.toNanos(Duration.ofSeconds(Long.MIN_VALUE), "t")).isZero();
    assertThat(Timeouts.toNanos(Duration.ofNanos(-1), "t")).isZero();
    assertThat(Timeouts.toNanos(Duration.ofNanos(1), "t")).isEqualTo(1L);
    assertThat(Timeouts.toNanos(Duration.ofNanos(Long.MAX_VALUE), "t")).isEqualTo(Timeouts.MAX_NANOS);
    assertThat(Timeouts.toNanos(Duration.ofNanos(Timeouts.MAX_NANOS - 1), "t"))
        .isEqualTo(Timeouts.MAX_NANOS - 1);
  }
}
