package dev.weft.bench.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * One performance goal from {@code jmh/goals.tsv}.
 *
 * <p>The file is tab-separated, one goal per line, {@code #} starts a comment line. Columns:
 *
 * <ol>
 *   <li>class: regex found in the benchmark class's simple name ({@code SpinLockBench})
 *   <li>metric: {@code ratio} (weft's speed over the alternative's: above 1 = weft faster, in
 *       every mode), {@code scaling} (weft's speed at the point the where column selects, over
 *       the same variant's speed at the lowest thread count of the thread sweep: 14 means 14
 *       times the total throughput; only sweep runs, {@code jmh-t<T>*.json}), {@code alloc}
 *       (weft's {@code gc.alloc.rate.norm} in B/op, needs {@code -prof gc}) or {@code manual}
 *       (not a JMH number: listed, not evaluated); or a <b>percentile</b> of a {@code
 *       SampleTime} benchmark: {@code p50}, {@code p99.9}, {@code max} (any {@code p<number>}
 *       JMH records: 0, 50, 90, 95, 99, 99.9, 99.99, 99.999, 99.9999, 100): the speed ratio at
 *       that percentile (the alternative's latency there over weft's: above 1 = weft's tail
 *       lower), or with two, {@code p99:p50}, weft's latency at the first over the
 *       alternative's at the second ({@code p99:p50 >= 1}: weft's p99 is at most the
 *       alternative's median); with alternative {@code -}, weft's latency itself in
 *       microseconds ({@code max <= 1000}: no sample of 1 ms or more)
 *   <li>weft: regex found in the weft variant's name (names start with {@code weft})
 *   <li>alternative: regex found in the alternatives' names; where several match at one
 *       point, weft is compared with the best of them; {@code -} for scaling, alloc and manual
 *   <li>where: {@code ;}-separated {@code name=regex} conditions on {@code threads}, {@code
 *       role} (of an {@code @Group} method), {@code mode} or any {@code @Param} name (names
 *       case-insensitive, values matched whole and case-insensitively); {@code *} for all
 *   <li>op: {@code >=}, {@code <=} or {@code report} (show the number, no verdict)
 *   <li>target: the number the measured value is compared with
 *   <li>description: what the goal is and where it comes from
 * </ol>
 *
 * <p>All regexes are case-insensitive and need only match part of the name.
 *
 * @param line line number in the file
 * @param benchClass class regex
 * @param metric ratio, scaling, alloc, manual or a percentile metric ({@code p99.9}, {@code
 *     max}, {@code p99:p50})
 * @param weft weft variant regex
 * @param alternative alternative regex, null for scaling, alloc and manual
 * @param where conditions, name (lower case) to value regex
 * @param op the comparison
 * @param target the target value
 * @param description the goal in words
 */
record Goal(
    int line,
    Pattern benchClass,
    String metric,
    Pattern weft,
    Pattern alternative,
    Map<String, Pattern> where,
    String op,
    double target,
    String description) {

  /** The unit in which percentile goals compare latencies (and state absolute targets). */
  static final String PERCENTILE_UNIT = "us/op";

  private static final Pattern PERCENTILE =
      Pattern.compile("(p\\d+(?:\\.\\d+)?|max)(?::(p\\d+(?:\\.\\d+)?|max))?");

  /** True for a percentile metric ({@code p99.9}, {@code max}, {@code p99:p50}). */
  boolean percentile() {
    return PERCENTILE.matcher(metric).matches();
  }

  /** The percentile (0 to 100) of weft's latency that a percentile metric compares. */
  double weftPercentile() {
    return percentileOf(metric.split(":")[0]);
  }

  /** The percentile of the alternative's latency: the second one named, else the first. */
  double alternativePercentile() {
    String[] parts = metric.split(":");
    return percentileOf(parts[parts.length - 1]);
  }

  private static double percentileOf(String name) {
    return "max".equals(name) ? 100 : Double.parseDouble(name.substring(1));
  }

  /** True if {@code value} meets the goal (always true for {@code report}). */
  boolean met(double value) {
    switch (op) {
      case ">=":
        return value >= target;
      case "<=":
        return value <= target;
      default:
        return true;
    }
  }

  /** True if the goal gives a verdict (MET/MISSED) rather than just reporting a number. */
  boolean judged() {
    return !"report".equals(op) && !"manual".equals(metric);
  }

  /** The condition in words, e.g. {@code ratio >= 1.30}. */
  String condition() {
    String what = "alloc".equals(metric) ? "B/op" : "scaling".equals(metric) ? "scaling" : "ratio";
    if (percentile()) {
      String which = metric.replace(":", " vs the alternative's ");
      if (alternative == null) {
        return "report".equals(op) ? "report " + which + " (µs)"
            : which + " " + op.replace(">=", "≥").replace("<=", "≤") + " " + Report.num(target) + " µs";
      }
      what = which + " ratio";
    }
    if ("manual".equals(metric)) {
      return "(not a JMH number)";
    }
    if ("report".equals(op)) {
      return "report " + what;
    }
    String t = "alloc".equals(metric) ? Report.num(target) : String.format(Locale.ROOT, "%.2f×", target);
    return what + " " + op.replace(">=", "≥").replace("<=", "≤") + " " + t;
  }

  /** The where column as written, for the report. */
  String whereText() {
    if (where.isEmpty()) {
      return "all";
    }
    List<String> parts = new ArrayList<>();
    where.forEach((k, v) -> parts.add(k + "=" + v.pattern()));
    return String.join("; ", parts);
  }

  /** Reads a goals file; a missing file is an empty list. */
  static List<Goal> read(Path file) throws IOException {
    if (!Files.isRegularFile(file)) {
      return List.of();
    }
    List<Goal> goals = new ArrayList<>();
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String text = lines.get(i);
      if (text.isBlank() || text.stripLeading().startsWith("#")
          || text.toLowerCase(Locale.ROOT).startsWith("class\tmetric\t")) {
        continue; // blank, comment, or the column header
      }
      try {
        goals.add(parse(i + 1, text));
      } catch (IllegalArgumentException e) {
        throw new IOException(file + ":" + (i + 1) + ": " + e.getMessage(), e);
      }
    }
    return Collections.unmodifiableList(goals);
  }

  private static Goal parse(int line, String text) {
    String[] c = text.split("\t", -1);
    if (c.length != 8) {
      throw new IllegalArgumentException(
          "expected 8 tab-separated columns (class, metric, weft, alternative, where, op,"
              + " target, description), found " + c.length);
    }
    String metric = c[1].strip().toLowerCase(Locale.ROOT);
    if (!List.of("ratio", "scaling", "alloc", "manual").contains(metric)
        && !PERCENTILE.matcher(metric).matches()) {
      throw new IllegalArgumentException(
          "metric must be ratio, scaling, alloc, manual or a percentile (p99.9, max, p99:p50): "
              + c[1]);
    }
    if (PERCENTILE.matcher(metric).matches()) {
      for (String part : metric.split(":")) {
        double p = percentileOf(part);
        if (p < 0 || p > 100) {
          throw new IllegalArgumentException("a percentile is between p0 and p100 (max): " + part);
        }
      }
    }
    String op = c[5].strip();
    if (!List.of(">=", "<=", "report").contains(op)) {
      throw new IllegalArgumentException("op must be >=, <= or report: " + c[5]);
    }
    double target;
    try {
      target = c[6].isBlank() ? Double.NaN : Double.parseDouble(c[6].strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("target is not a number: " + c[6], e);
    }
    if (Double.isNaN(target) && !"report".equals(op) && !"manual".equals(metric)) {
      throw new IllegalArgumentException("a target is needed for op " + op);
    }
    Map<String, Pattern> where = new LinkedHashMap<>();
    String w = c[4].strip();
    if (!w.isEmpty() && !w.equals("*") && !w.equals("-")) {
      for (String cond : w.split(";")) {
        int eq = cond.indexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException("where condition is not name=regex: " + cond);
        }
        where.put(
            cond.substring(0, eq).strip().toLowerCase(Locale.ROOT),
            regex(cond.substring(eq + 1).strip()));
      }
    }
    String alt = c[3].strip();
    return new Goal(
        line,
        regex(c[0].strip()),
        metric,
        regex(c[2].strip()),
        alt.isEmpty() || alt.equals("-") ? null : regex(alt),
        Collections.unmodifiableMap(where),
        op,
        target,
        c[7].strip());
  }

  private static Pattern regex(String text) {
    try {
      return Pattern.compile(text, Pattern.CASE_INSENSITIVE);
    } catch (PatternSyntaxException e) {
      throw new IllegalArgumentException("bad regex " + text + ": " + e.getDescription(), e);
    }
  }

  /** True if this goal's where conditions hold for the key. */
  boolean matches(Result.Key key) {
    if (!benchClass.matcher(key.benchClass()).find()) {
      return false;
    }
    for (Map.Entry<String, Pattern> cond : where.entrySet()) {
      String value = valueOf(key, cond.getKey());
      if (value == null || !cond.getValue().matcher(value).matches()) {
        return false;
      }
    }
    return true;
  }

  private static String valueOf(Result.Key key, String name) {
    switch (name) {
      case "threads":
        return Integer.toString(key.threads());
      case "role":
        return key.role();
      case "mode":
        return key.mode();
      default:
        for (Map.Entry<String, String> p : key.params().entrySet()) {
          if (p.getKey().equalsIgnoreCase(name)) {
            return p.getValue();
          }
        }
        return null;
    }
  }
}
