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
}
