package dev.weft.bench.report;

import java.util.Locale;

/** JMH modes and units: which direction is better, and conversion between time units. */
final class Units {
  private Units() {}

  /** Throughput is better when higher; average time, sample time and single shot when lower. */
  static boolean higherIsBetter(String mode) {
    return "thrpt".equals(mode);
  }

  /** Human words for a mode, used in headings and chart axes. */
  static String describe(String mode) {
    switch (mode) {
      case "thrpt":
        return "throughput, higher is better";
      case "avgt":
        return "average time per operation, lower is better";
      case "sample":
        return "sampled time per operation (mean), lower is better";
      case "ss":
        return "single-shot time, lower is better";
      default:
        return mode;
    }
  }

  /**
   * The speed ratio of {@code a} over {@code b}: above 1 means {@code a} is faster, whatever
   * the mode. For throughput that is a / b, for times b / a.
   */
  static double speedRatio(String mode, double a, double b) {
    return higherIsBetter(mode) ? a / b : b / a;
  }

  /** True if score {@code a} is better than {@code b} in this mode. */
  static boolean better(String mode, double a, double b) {
    return higherIsBetter(mode) ? a > b : a < b;
  }

  /**
   * Converts {@code value} from one JMH unit to another ({@code ops/ms} to {@code ops/us},
   * {@code ns/op} to {@code us/op}); returns the value unchanged if either unit is not
   * understood or they are of different kinds.
   */
  static double convert(double value, String from, String to) {
    if (from.equals(to) || Double.isNaN(value)) {
      return value;
    }
    boolean fromRate = from.startsWith("ops/");
    boolean toRate = to.startsWith("ops/");
    if (fromRate != toRate) {
      return value;
    }
    double f = seconds(fromRate ? from.substring(4) : stripPerOp(from));
    double t = seconds(toRate ? to.substring(4) : stripPerOp(to));
    if (Double.isNaN(f) || Double.isNaN(t)) {
      return value;
    }
    // rate: ops per f seconds -> ops per t seconds multiplies by t/f; time: the other way.
    return fromRate ? value * t / f : value * f / t;
  }

  /** True if {@link #convert} can turn {@code from} into {@code to}. */
  static boolean convertible(String from, String to) {
    if (from.equals(to)) {
      return true;
    }
    boolean fromRate = from.startsWith("ops/");
    if (fromRate != to.startsWith("ops/")) {
      return false;
    }
    return !Double.isNaN(seconds(fromRate ? from.substring(4) : stripPerOp(from)))
        && !Double.isNaN(seconds(fromRate ? to.substring(4) : stripPerOp(to)));
  }

  private static String stripPerOp(String unit) {
    return unit.endsWith("/op") ? unit.substring(0, unit.length() - 3) : "?";
  }

  private static double seconds(String timeUnit) {
    switch (timeUnit.toLowerCase(Locale.ROOT)) {
      case "ns":
        return 1e-9;
      case "us":
      case "\u00b5s":
        return 1e-6;
      case "ms":
        return 1e-3;
      case "s":
        return 1;
      case "min":
      case "m":
        return 60;
      case "hr":
      case "h":
        return 3600;
      default:
        return Double.NaN;
    }
  }
}
