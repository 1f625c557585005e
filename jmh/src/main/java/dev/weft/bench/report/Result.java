package dev.weft.bench.report;

import java.util.Collections;
import java.util.Map;
import java.util.NavigableMap;

/**
 * One measured number from a JMH JSON file: one benchmark (or one method of an {@code @Group}
 * benchmark) at one parameter combination and thread count.
 *
 * @param run the JSON file (run) it came from; ratios are only computed within one run
 * @param benchClass simple name of the benchmark class, e.g. {@code SpinLockBench}
 * @param variant the benchmark method name, or the group name for {@code @Group} benchmarks
 * @param role for {@code @Group} benchmarks the normalised method role (e.g. {@code read}),
 *     otherwise the empty string
 * @param mode JMH mode: thrpt, avgt, sample or ss
 * @param threads total number of benchmark threads
 * @param params the {@code @Param} values, sorted by name
 * @param score the score (for sample mode the mean)
 * @param error the half-width of JMH's 99.9% confidence interval, NaN when unknown
 * @param unit the JMH score unit, e.g. {@code ops/us}
 * @param allocBytesPerOp {@code gc.alloc.rate.norm} in B/op when run with {@code -prof gc},
 *     otherwise NaN
 * @param percentiles for sample mode ({@code SampleTime}), JMH's {@code scorePercentiles}:
 *     percentile (0 to 100; 100 is the maximum) to value in {@code unit}, sorted by percentile;
 *     empty for the other modes
 */
record Result(
    Run run,
    String benchClass,
    String variant,
    String role,
    String mode,
    int threads,
    Map<String, String> params,
    double score,
    double error,
    String unit,
    double allocBytesPerOp,
    NavigableMap<Double, Double> percentiles) {

  /** A result without percentiles (every mode but sample). */
  Result(
      Run run,
      String benchClass,
      String variant,
      String role,
      String mode,
      int threads,
      Map<String, String> params,
      double score,
      double error,
      String unit,
      double allocBytesPerOp) {
    this(run, benchClass, variant, role, mode, threads, params, score, error, unit,
        allocBytesPerOp, Collections.emptyNavigableMap());
  }

  /**
   * The value at percentile {@code p} (0 to 100, 100 = the maximum) in {@code targetUnit}, NaN
   * if JMH did not record it (only sample mode records percentiles).
   */
  double percentileIn(double p, String targetUnit) {
    Double v = percentiles.get(p);
    return v == null ? Double.NaN : Units.convert(v, unit, targetUnit);
  }

  /** True for weft's own variants: benchmark (or group) names starting with {@code weft}. */
  boolean isWeft() {
    return variant.startsWith("weft");
  }

  /** The comparison key: results with equal keys in one run are compared with each other. */
  Key key() {
    return new Key(benchClass, mode, params, threads, role);
  }

  /** The score converted into {@code targetUnit}, or the raw score if it cannot be converted. */
  double scoreIn(String targetUnit) {
    return Units.convert(score, unit, targetUnit);
  }

  /** The error converted into {@code targetUnit}. */
  double errorIn(String targetUnit) {
    return Units.convert(error, unit, targetUnit);
  }

  /**
   * Identifies one JMH JSON file.
   *
   * @param file the file name, e.g. {@code jmh-r2.json}
   * @param repeat the repeat index (1-based) parsed from the name, 1 when absent
   * @param sweep true for a thread-count sweep file ({@code jmh-t<N>...json})
   */
  record Run(String file, int repeat, boolean sweep) {}

  /**
   * What makes two results comparable.
   *
   * @param benchClass the benchmark class
   * @param mode the JMH mode
   * @param params the parameter values
   * @param threads the thread count
   * @param role the group role, empty for plain benchmarks
   */
  record Key(
      String benchClass, String mode, Map<String, String> params, int threads, String role) {}
}
