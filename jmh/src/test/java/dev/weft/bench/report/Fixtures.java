package dev.weft.bench.report;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Writes JMH-shaped JSON for the report tests. */
final class Fixtures {
  private Fixtures() {}

  /** One benchmark entry as JMH writes it with {@code -rf json}. */
  static String bench(
      String name, String mode, int threads, Map<String, String> params, double score,
      double error, String unit, String secondary) {
    return bench(name, mode, threads, params, score, error, unit, secondary, List.of());
  }

  /** One benchmark entry whose fork ran with these JVM arguments. */
  static String bench(
      String name, String mode, int threads, Map<String, String> params, double score,
      double error, String unit, String secondary, List<String> jvmArgs) {
    StringBuilder args = new StringBuilder();
    for (String a : jvmArgs) {
      args.append(args.length() == 0 ? "" : ",").append('"').append(a).append('"');
    }
    StringBuilder p = new StringBuilder();
    params.forEach((k, v) -> p.append(p.length() == 0 ? "" : ",").append('"').append(k)
        .append("\":\"").append(v).append('"'));
    return String.format(Locale.ROOT,
        "{\"jmhVersion\":\"1.37\",\"benchmark\":\"dev.weft.bench.%s\",\"mode\":\"%s\","
            + "\"threads\":%d,\"forks\":1,\"jvm\":\"/bin/java\",\"jvmArgs\":[%s],"
            + "\"jdkVersion\":\"17.0.15\",\"vmName\":\"OpenJDK 64-Bit Server VM\","
            + "\"vmVersion\":\"17.0.15+6\",\"warmupIterations\":2,\"warmupTime\":\"1 s\","
            + "\"warmupBatchSize\":1,\"measurementIterations\":3,\"measurementTime\":\"1 s\","
            + "\"measurementBatchSize\":1%s,"
            + "\"primaryMetric\":{\"score\":%s,\"scoreError\":%s,\"scoreUnit\":\"%s\"},"
            + "\"secondaryMetrics\":{%s}}",
        name, mode, threads, args, params.isEmpty() ? "" : ",\"params\":{" + p + "}",
        num(score), num(error), unit, secondary);
  }

  /**
   * One {@code SampleTime} entry (mode {@code sample}) with JMH's {@code scorePercentiles}:
   * {@code pcts} holds the values at p0, p50, p90, p95, p99, p99.9, p99.99, p99.999, p99.9999
   * and p100 (the maximum), in that order; the score is their median entry.
   */
  static String sample(String name, int threads, Map<String, String> params, String unit,
      double... pcts) {
    String[] keys = {"0.0", "50.0", "90.0", "95.0", "99.0", "99.9", "99.99", "99.999", "99.9999", "100.0"};
    if (pcts.length != keys.length) {
      throw new IllegalArgumentException("need " + keys.length + " percentile values");
    }
    StringBuilder p = new StringBuilder();
    for (int i = 0; i < keys.length; i++) {
      p.append(i == 0 ? "" : ",").append('"').append(keys[i]).append("\":").append(num(pcts[i]));
    }
    String plain = bench(name, "sample", threads, params, pcts[1], 0.1, unit, "");
    return plain.replace("\"scoreUnit\":\"" + unit + "\"}",
        "\"scoreUnit\":\"" + unit + "\",\"scorePercentiles\":{" + p + "}}");
  }

  /** A secondary metric entry. */
  static String metric(String label, double score, double error, String unit) {
    return String.format(Locale.ROOT,
        "\"%s\":{\"score\":%s,\"scoreError\":%s,\"scoreUnit\":\"%s\"}",
        label, num(score), num(error), unit);
  }

  static String array(String... benches) {
    return "[" + String.join(",", List.of(benches)) + "]";
  }

  static String array(List<String> benches) {
    return "[" + String.join(",", new ArrayList<>(benches)) + "]";
  }

  private static String num(double v) {
    return Double.isNaN(v) ? "NaN" : Double.toString(v); // JMH writes a bare NaN
  }
}
