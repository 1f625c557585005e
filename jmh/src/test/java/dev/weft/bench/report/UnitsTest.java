package dev.weft.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class UnitsTest {
  @Test
  void convertsRatesAndTimes() {
    assertThat(Units.convert(2000, "ops/ms", "ops/us")).isCloseTo(2.0, within(1e-9));
    assertThat(Units.convert(3, "ops/us", "ops/s")).isCloseTo(3e6, within(1e-3));
    assertThat(Units.convert(1500, "ns/op", "us/op")).isCloseTo(1.5, within(1e-9));
    assertThat(Units.convert(2, "ms/op", "ns/op")).isCloseTo(2e6, within(1e-3));
  }

  @Test
  void leavesIncompatibleUnitsAlone() {
    assertThat(Units.convert(7, "ops/ms", "ns/op")).isEqualTo(7);
    assertThat(Units.convertible("ops/ms", "ns/op")).isFalse();
    assertThat(Units.convertible("B/op", "ns/op")).isFalse();
    assertThat(Units.convertible("us/op", "ns/op")).isTrue();
  }

  @Test
  void speedRatioIsAboveOneWhenTheFirstIsFasterInEveryMode() {
    assertThat(Units.speedRatio("thrpt", 20, 10)).isEqualTo(2.0);
    assertThat(Units.speedRatio("avgt", 10, 20)).isEqualTo(2.0);
    assertThat(Units.speedRatio("sample", 10, 20)).isEqualTo(2.0);
    assertThat(Units.speedRatio("ss", 40, 20)).isEqualTo(0.5);
    assertThat(Units.better("thrpt", 2, 1)).isTrue();
    assertThat(Units.better("avgt", 2, 1)).isFalse();
  }
}
