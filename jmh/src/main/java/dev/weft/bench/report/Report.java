package dev.weft.bench.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.DoubleSummaryStatistics;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.jfree.data.statistics.DefaultStatisticalCategoryDataset;

/** Builds REPORT.md and the charts for one results folder. */
final class Report {
  /** Names that mark a JDK-25-only comparison (preview APIs, virtual threads). */
  private static final Pattern JDK25 =
      Pattern.compile("jdk25|stablevalue|structured|virtual|lazyconstant", Pattern.CASE_INSENSITIVE);

  private final Path dir;
  private final Path goalsFile;
  private final Path charts;
  private final List<Result> all = new ArrayList<>();
  private final List<JmhJson.RunInfo> infos = new ArrayList<>();
  private final List<String> files = new ArrayList<>();
  private final Map<String, String> machine = new LinkedHashMap<>();
  private String machineText = "";
  private final StringBuilder md = new StringBuilder();
  /** Rows of the scaling summary: class, point, threads, weft variant, ratios, its scaling. */
  private final List<String[]> summary = new ArrayList<>();
  private int chartCount;

  Report(Path dir, Path goalsFile) {
    this.dir = dir;
    this.goalsFile = goalsFile;
    this.charts = dir.resolve("charts");
  }

  /** Reads the folder, writes REPORT.md and charts, returns the report's path. */
  Path write() throws IOException {
    load();
    Files.createDirectories(charts);
    try (DirectoryStream<Path> old = Files.newDirectoryStream(charts, "*.png")) {
      for (Path p : old) {
        Files.delete(p); // our own output from an earlier run of the generator
      }
    }
    header();
    goals();
    int summaryAt = md.length();
    List<Result> main = all.stream().filter(r -> !r.run().sweep()).collect(Collectors.toList());
    List<Result> sweep = all.stream().filter(r -> r.run().sweep()).collect(Collectors.toList());
    Set<String> classes = new TreeSet<>();
    all.forEach(r -> classes.add(r.benchClass()));
    if (classes.isEmpty()) {
      md.append("\n**No benchmark results found** in ").append(files).append(".\n");
    }
    for (String c : classes) {
      md.append("\n## ").append(c).append("\n");
      List<Result> cm = filter(main, r -> r.benchClass().equals(c));
      for (String mode : modes(cm)) {
        section(c, mode, filter(cm, r -> r.mode().equals(mode)));
      }
      List<Result> cs = filter(sweep, r -> r.benchClass().equals(c));
      for (String mode : modes(cs)) {
        scaling(c, mode, filter(cs, r -> r.mode().equals(mode)));
      }
    }
    if (!summary.isEmpty()) {
      md.insert(summaryAt, summary());
    }
    starvation();
    footer();
    Path out = dir.resolve("REPORT.md");
    Files.writeString(out, md.toString(), StandardCharsets.UTF_8);
    return out;
  }

  /**
   * The starvation harness's output ({@code starvation*.txt}, written by {@code
   * run-benchmarks.sh tails}: {@code TicketLockFairnessBench}, every acquisition timed, each
   * thread's share of the acquisitions), verbatim: it is not a JMH result, so its goals are
   * {@code manual} ones.
   */
  private void starvation() throws IOException {
    List<Path> files = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "starvation*.txt")) {
      ds.forEach(files::add);
    }
    if (files.isEmpty()) {
      return;
    }
    files.sort(Comparator.comparing(p -> p.getFileName().toString()));
    md.append("\n## Starvation (TicketLockFairnessBench)\n\nEvery acquisition timed, from just")
        .append(" before `lock()` to just after it returns; *min/max share* is the least and most")
        .append(" acquisitions of one thread relative to the mean; *longest wait* is the longest")
        .append(" single acquisition of any thread. Not a JMH result: its goals are listed as")
        .append(" manual.\n");
    for (Path f : files) {
      md.append("\n`").append(f.getFileName()).append("`:\n\n```\n")
          .append(Files.readString(f, StandardCharsets.UTF_8).strip()).append("\n```\n");
    }
  }

  // ---------------------------------------------------------------- loading

  private void load() throws IOException {
    List<Path> jsons = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "jmh*.json")) {
      ds.forEach(jsons::add);
    }
    jsons.sort(Comparator.comparing(p -> p.getFileName().toString()));
    for (Path p : jsons) {
      files.add(p.getFileName().toString());
      if (Files.size(p) == 0) {
        continue; // a run that failed before writing anything
      }
      JmhJson.Parsed parsed = JmhJson.read(p);
      if (parsed.info() != null) {
        infos.add(parsed.info());
      }
      all.addAll(parsed.results());
    }
    Path m = dir.resolve("machine.txt");
    if (Files.isRegularFile(m)) {
      machineText = Files.readString(m, StandardCharsets.UTF_8);
      for (String line : machineText.split("\n", -1)) {
        int colon = line.indexOf(':');
        if (colon > 0 && !line.startsWith(" ") && !line.startsWith("\t")) {
          machine.putIfAbsent(
              line.substring(0, colon).strip().toLowerCase(Locale.ROOT),
              line.substring(colon + 1).strip());
        }
      }
    }
  }

  // ---------------------------------------------------------------- header and goals

  private void header() {
    md.append("# weft benchmark report: ").append(dir.toAbsolutePath().normalize().getFileName());
    md.append("\n\n");
    String profile = machine.getOrDefault("profile", "?");
    if (profile.equals("smoke")) {
      md.append("> **Smoke run** (one short iteration per benchmark, to check they run): the")
          .append(" numbers below are meaningless as measurements.\n\n");
    }
    md.append("| | |\n|---|---|\n");
    row("Date", machine.get("date"));
    row("CPU", machine.get("cpu"));
    row("Cores", machine.get("cores"));
    row("Memory", machine.get("memory"));
    row("OS", machine.get("os"));
    row("JDK", infos.isEmpty() ? machine.get("java") : infos.get(0).jdkVersion() + " (" + infos.get(0).vm() + ")");
    row("JMH", infos.isEmpty() ? null : infos.get(0).jmhVersion());
    row("Profile", profile + (machine.containsKey("settings") ? ": " + machine.get("settings") : ""));
    Set<String> settings = new LinkedHashSet<>();
    infos.forEach(i -> settings.add(i.settings()));
    row("Effective settings", settings.isEmpty() ? null : String.join("; ", settings));
    Set<String> jvmArgs = new LinkedHashSet<>();
    infos.forEach(i -> jvmArgs.add(String.join(" ", i.jvmArgs())));
    row("Fork JVM args", jvmArgs.isEmpty() ? null : jvmArgs.stream().map(a -> a.isEmpty() ? "(none)" : "`" + a + "`").collect(Collectors.joining("; ")));
    row("Runs (JSON files)", String.join(", ", files));
    row("Commit", machine.get("commit"));
    md.append("\n");

    md.append("How to read this report:\n\n")
        .append("- Scores are JMH's: the mean over measurement iterations, ± the half-width of")
        .append(" its 99.9% confidence interval (empty when there were too few iterations).")
        .append(" With several repeats (`jmh-r<N>.json`), the score is the mean of the repeats")
        .append(" and ± the largest of their intervals.\n")
        .append("- **Ratios are speed ratios**: weft's speed ÷ the alternative's, so above 1.00×")
        .append(" means weft is faster, in every mode (for throughput score ÷ score, for times")
        .append(" the inverse). They are computed only between results of the same JSON file")
        .append(" (the same JMH run); with repeats the report shows the mean and")
        .append(" [lowest–highest] over the repeats. *Best alt* is the fastest alternative at")
        .append(" that point.\n")
        .append("- Rows are compared within one benchmark class, parameter combination, scenario")
        .append(" (`<scenario>_<impl>` method names, or the method when an `@Param lock`/`impl`")
        .append(" names the implementation), thread count and, for `@Group` benchmarks, method")
        .append(" role (e.g. reader, writer); a group's total is not shown.\n");
    String cores = machine.getOrDefault("cores", "");
    if (!cores.isEmpty()) {
      md.append("- Every number here comes from the machine above (").append(cores)
          .append(" cores); where a benchmark uses more threads than cores it is oversubscribed")
          .append(" on purpose.\n");
    }
    if (preview()) {
      md.append("- † marks a JDK-25-only comparison (preview API or virtual threads); it exists")
          .append(" only in runs on JDK 25.\n");
    } else {
      md.append("- This run did not include the JDK-25-only comparisons (StableValue,")
          .append(" StructuredTaskScope, virtual threads): they run only when the suite is built")
          .append(" and run on JDK 25.\n");
    }
  }

  private void row(String name, String value) {
    if (value != null && !value.isBlank()) {
      md.append("| ").append(name).append(" | ").append(cell(value)).append(" |\n");
    }
  }

  private void goals() throws IOException {
    List<Goal> goals = Goal.read(goalsFile);
    md.append("\n## Goals\n\n");
    if (goals.isEmpty()) {
      md.append("No goals file (").append(goalsFile).append(").\n");
      return;
    }
    md.append("From `").append(goalsFile).append("`. A goal is MET when it holds in every")
        .append(" repeat, MISSED when it holds in none; *not measured* means the run has no")
        .append(" matching benchmark.\n\n");
    md.append("| Benchmark | Goal | Where | Condition | Measured | Status |\n");
    md.append("|---|---|---|---|---|---|\n");
    for (Goal g : goals) {
      for (String[] line : evaluate(g)) {
        md.append("| ").append(String.join(" | ", line)).append(" |\n");
      }
    }
  }

  /** One table line per matching (key, weft variant), or one "not measured" line. */
  private List<String[]> evaluate(Goal g) {
    List<String[]> lines = new ArrayList<>();
    String cls = cell(g.benchClass().pattern());
    if ("manual".equals(g.metric())) {
      lines.add(new String[] {cls, cell(g.description()), cell(g.whereText()), g.condition(),
          "not a JMH number: see the primitive's documentation", "—"});
      return lines;
    }
    for (boolean sweep : new boolean[] {false, true}) {
      Map<String, List<double[]>> measured = new TreeMap<>();
      Map<String, Set<String>> against = new HashMap<>();
      for (Result w : all) {
        if (w.run().sweep() != sweep || !w.isWeft() || !g.matches(w.key())
            || !g.weft().matcher(w.variant()).find()) {
          continue;
        }
        // The class is part of the label: a goal's class regex may match several classes
        // (LazyBench and LazyJdk25Bench), whose rows must not be merged like repeats.
        String where = w.benchClass() + "." + w.variant() + " @ " + describeKey(w.key());
        if ("scaling".equals(g.metric())) {
          Result base = sweep ? sweepBase(w) : null;
          if (base != null) {
            measured.computeIfAbsent(where, k -> new ArrayList<>()).add(new double[] {scaling(w, base)});
            against.computeIfAbsent(where, k -> new TreeSet<>())
                .add("its speed at " + base.threads() + (base.threads() == 1 ? " thread" : " threads"));
          }
          continue;
        }
        if ("alloc".equals(g.metric())) {
          if (!Double.isNaN(w.allocBytesPerOp())) {
            measured.computeIfAbsent(where, k -> new ArrayList<>())
                .add(new double[] {w.allocBytesPerOp()});
          }
          continue;
        }
        if (g.percentile()) {
          double wv = w.percentileIn(g.weftPercentile(), Goal.PERCENTILE_UNIT);
          if (Double.isNaN(wv)) {
            continue; // not a sample-mode result: no percentiles
          }
          if (g.alternative() == null) {
            measured.computeIfAbsent(where, k -> new ArrayList<>()).add(new double[] {wv});
            continue;
          }
          Result alt = bestAt(w, g.alternative(), g.alternativePercentile());
          if (alt != null) {
            double av = alt.percentileIn(g.alternativePercentile(), Goal.PERCENTILE_UNIT);
            measured.computeIfAbsent(where, k -> new ArrayList<>())
                .add(new double[] {Units.speedRatio(w.mode(), wv, av)});
            against.computeIfAbsent(where, k -> new TreeSet<>())
                .add(alt.variant() + " (its " + Report.num(av) + " µs, weft's " + Report.num(wv) + " µs)");
          }
          continue;
        }
        Result best = best(w, r -> g.alternative() != null && g.alternative().matcher(r.variant()).find());
        if (best != null) {
          measured.computeIfAbsent(where, k -> new ArrayList<>())
              .add(new double[] {Units.speedRatio(w.mode(), w.score(), best.scoreIn(w.unit()))});
          against.computeIfAbsent(where, k -> new TreeSet<>()).add(best.variant());
        }
      }
      for (Map.Entry<String, List<double[]>> e : measured.entrySet()) {
        List<Double> values = e.getValue().stream().map(v -> v[0]).collect(Collectors.toList());
        long ok = values.stream().filter(g::met).count();
        String status;
        if (!g.judged()) {
          status = "reported";
        } else if (ok == values.size()) {
          status = "**MET**";
        } else if (ok == 0) {
          status = "**MISSED**";
        } else {
          status = "**UNSTABLE** (met in " + ok + " of " + values.size() + " repeats)";
        }
        String value = "alloc".equals(g.metric()) ? range(values, false) + " B/op"
            : g.percentile() && g.alternative() == null ? range(values, false) + " µs"
            : range(values, true);
        if (against.containsKey(e.getKey())) {
          value += " vs " + String.join("/", against.get(e.getKey()));
        }
        lines.add(new String[] {cls, cell(g.description()), cell(e.getKey()), g.condition(),
            cell(value), status});
      }
      if (!lines.isEmpty()) {
        return lines;
      }
    }
    String why = "—";
    if ("alloc".equals(g.metric())) {
      if (all.stream().allMatch(r -> Double.isNaN(r.allocBytesPerOp()))) {
        why = "needs a run with -prof gc";
      }
    } else if (g.percentile() && all.stream().allMatch(r -> r.percentiles().isEmpty())) {
      why = "percentiles need a SampleTime benchmark";
    } else if (!preview()
        && (JDK25.matcher(g.alternative() == null ? "" : g.alternative().pattern()).find()
            || JDK25.matcher(g.description()).find())) {
      why = "JDK-25-only comparison: not in this run";
    }
    lines.add(new String[] {cls, cell(g.description()), cell(g.whereText()), g.condition(), why,
        "not measured"});
    return lines;
  }

  /**
   * The alternative matching {@code alt} measured in the same run at the same key as {@code w}
   * with the lowest (best) value at percentile {@code p}, or null.
   */
  private Result bestAt(Result w, Pattern alt, double p) {
    Result best = null;
    double bestValue = Double.NaN;
    for (Result r : all) {
      if (r.run().equals(w.run()) && !r.isWeft() && r.key().equals(w.key())
          && alt.matcher(r.variant()).find()) {
        double v = r.percentileIn(p, Goal.PERCENTILE_UNIT);
        if (!Double.isNaN(v) && (best == null || v < bestValue)) {
          best = r;
          bestValue = v;
        }
      }
    }
    return best;
  }

  /** The best alternative measured in the same run at the same key as {@code w}. */
  private Result best(Result w, Predicate<Result> which) {
    Result best = null;
    for (Result r : all) {
      if (r.run().equals(w.run()) && !r.isWeft() && r.key().equals(w.key()) && which.test(r)
          && Units.convertible(r.unit(), w.unit())
          && (best == null || Units.better(w.mode(), r.scoreIn(w.unit()), best.scoreIn(w.unit())))) {
        best = r;
      }
    }
    return best;
  }

  // ---------------------------------------------------------------- per class and mode

  /**
   * One benchmark class in one mode: for each comparison group (weft variants with the
   * alternatives they compete with), the side-by-side table, the ratio table, the spread
   * between repeats, allocation, and a bar chart per parameter combination and thread count.
   */
  private void section(String cls, String mode, List<Result> all) throws IOException {
    String unit = commonUnit(all);
    List<List<String>> groups = groups(variants(all));
    for (List<String> variants : groups) {
      List<Result> rs = filter(all, r -> variants.contains(r.variant()));
      List<String> weft = variants.stream().filter(v -> v.startsWith("weft")).collect(Collectors.toList());
      Set<String> alts = variants.stream().filter(v -> !v.startsWith("weft")).collect(Collectors.toCollection(LinkedHashSet::new));
      md.append("\n### ").append(cls).append(": ").append(Units.describe(mode))
          .append(" (").append(unit).append(")");
      if (groups.size() > 1) {
        md.append(": ").append(weft.isEmpty() ? "other" : String.join(", ", weft));
      }
      md.append("\n\n");
      List<String> paramNames = paramNames(rs);
      boolean roles = rs.stream().anyMatch(r -> !r.role().isEmpty());
      Map<Result.Key, Map<String, List<Result>>> index = index(rs);
      boolean repeats = rs.stream().anyMatch(r -> r.run().repeat() > 1);
      boolean alloc = rs.stream().anyMatch(r -> !Double.isNaN(r.allocBytesPerOp()));

      // Table 1: the scores side by side, with weft ÷ best alternative.
      scoreTable(rs, variants, weft, alts, paramNames, roles, index, unit);

      // Sample mode: the tails table and a latency-percentile chart per point.
      if (rs.stream().anyMatch(r -> !r.percentiles().isEmpty())) {
        tails(cls, mode, rs, variants, weft, paramNames, roles, index, unit);
      }

      // Table 2: weft ÷ each alternative (only worth it with more than one alternative).
      if (!weft.isEmpty() && alts.size() > 1) {
        md.append("\nweft ÷ each alternative (speed ratio, above 1.00× = weft faster):\n\n");
        List<String> h2 = keyHead(paramNames, roles);
        h2.add("weft variant");
        for (String a : alts) {
          h2.add("÷ " + label(rs, a));
        }
        tableHead(h2);
        for (Map.Entry<Result.Key, Map<String, List<Result>>> e : index.entrySet()) {
          for (String w : weft) {
            if (e.getValue().get(w) == null) {
              continue;
            }
            List<String> line = keyCells(e.getKey(), paramNames, roles);
            line.add(w);
            for (String a : alts) {
              line.add(ratioCell(e.getValue().get(w), r -> r.variant().equals(a), false));
            }
            tableRow(line);
          }
        }
      }

      // Table 3: spread between repeats.
      if (repeats) {
        md.append("\nSpread between repeats ((highest − lowest) ÷ mean of the repeats' scores):\n\n");
        List<String> h3 = keyHead(paramNames, roles);
        for (String v : variants) {
          h3.add(label(rs, v));
        }
        tableHead(h3);
        for (Map.Entry<Result.Key, Map<String, List<Result>>> e : index.entrySet()) {
          List<String> line = keyCells(e.getKey(), paramNames, roles);
          for (String v : variants) {
            line.add(spreadCell(e.getValue().get(v), unit));
          }
          tableRow(line);
        }
      }

      // Table 4: allocation, when run with -prof gc.
      if (alloc) {
        md.append("\nAllocation per operation (`gc.alloc.rate.norm`, B/op; for a group, per")
            .append(" operation of the whole group):\n\n");
        List<String> h4 = keyHead(paramNames, false);
        for (String v : variants) {
          h4.add(label(rs, v));
        }
        tableHead(h4);
        Set<List<String>> seen = new LinkedHashSet<>();
        for (Map.Entry<Result.Key, Map<String, List<Result>>> e : index.entrySet()) {
          List<String> line = keyCells(e.getKey(), paramNames, false);
          for (String v : variants) {
            List<Result> l = e.getValue().get(v);
            line.add(l == null ? "—" : num(l.stream().mapToDouble(Result::allocBytesPerOp).average().orElse(Double.NaN)));
          }
          if (seen.add(line)) {
            tableRow(line); // group roles share one allocation figure: print it once
          }
        }
      }

      // Charts: one per parameter combination and thread count.
      Map<Result.Key, List<Result>> byPoint = new TreeMap<>(keyOrder());
      for (Result r : rs) {
        byPoint.computeIfAbsent(new Result.Key(cls, mode, r.params(), r.threads(), ""), k -> new ArrayList<>()).add(r);
      }
      md.append("\n");
      Set<String> weftLabels = weft.stream().map(w -> label(rs, w)).collect(Collectors.toSet());
      for (Map.Entry<Result.Key, List<Result>> p : byPoint.entrySet()) {
        DefaultStatisticalCategoryDataset data = new DefaultStatisticalCategoryDataset();
        Map<String, Map<String, List<Result>>> byRoleVariant = new TreeMap<>();
        for (Result r : p.getValue()) {
          byRoleVariant.computeIfAbsent(r.role().isEmpty() ? "score" : r.role(), k -> new TreeMap<>())
              .computeIfAbsent(r.variant(), k -> new ArrayList<>()).add(r);
        }
        for (String v : variants) {
          for (Map.Entry<String, Map<String, List<Result>>> role : byRoleVariant.entrySet()) {
            List<Result> l = role.getValue().get(v);
            if (l != null) {
              data.add(mean(l, unit), zeroIfNaN(maxError(l, unit)), role.getKey(), label(rs, v));
            }
          }
        }
        String point = pointName(p.getKey().params(), p.getKey().threads());
        String name = chartName(cls, mode, variants, point);
        Charts.bars(charts.resolve(name), cls + " (" + mode + ")",
            describePoint(p.getKey().params(), p.getKey().threads())
                + (weft.isEmpty() ? "" : "  (orange: weft)"),
            unit + " — " + better(mode), data, weftLabels);
        chartCount++;
        md.append("![").append(cls).append(" ").append(point).append("](charts/")
            .append(name).append(")\n");
      }
    }
  }

  /** The percentiles of the tails table: p50, p90, p99, p99.9, p99.99 and the maximum. */
  static final double[] TAIL_PERCENTILES = {50, 90, 99, 99.9, 99.99, 100};

  /** The column heading of a tail percentile: {@code p99.9}, or {@code max} for 100. */
  static String tailName(double p) {
    if (p >= 100) {
      return "max";
    }
    String s = String.format(Locale.ROOT, "%.4f", p).replaceAll("0+$", "").replaceAll("\\.$", "");
    return "p" + s;
  }

  /**
   * Sample-mode tails: a table with one row per point and variant (p50 … p99.99 and max, in
   * the section's unit; over repeats the mean and [lowest–highest]) and one latency-percentile
   * chart per point ({@link Charts#percentiles}; with repeats, the first repeat's curve).
   */
  private void tails(
      String cls,
      String mode,
      List<Result> rs,
      List<String> variants,
      List<String> weft,
      List<String> paramNames,
      boolean roles,
      Map<Result.Key, Map<String, List<Result>>> index,
      String unit)
      throws IOException {
    md.append("\nTails (").append(unit).append("; JMH samples a subset of the operations, so")
        .append(" `max` is the largest sample, a lower bound of the true worst case):\n\n");
    List<String> head = keyHead(paramNames, roles);
    head.add("variant");
    for (double p : TAIL_PERCENTILES) {
      head.add(tailName(p));
    }
    tableHead(head);
    for (Map.Entry<Result.Key, Map<String, List<Result>>> e : index.entrySet()) {
      for (String v : variants) {
        List<Result> l = e.getValue().get(v);
        if (l == null || l.stream().allMatch(r -> r.percentiles().isEmpty())) {
          continue;
        }
        List<String> line = keyCells(e.getKey(), paramNames, roles);
        line.add(label(rs, v));
        for (double p : TAIL_PERCENTILES) {
          List<Double> values = new ArrayList<>();
          for (Result r : l) {
            double x = r.percentileIn(p, unit);
            if (!Double.isNaN(x)) {
              values.add(x);
            }
          }
          line.add(values.isEmpty() ? "—" : range(values, false));
        }
        tableRow(line);
      }
    }
    md.append("\n");
    Set<String> weftLabels = weft.stream().map(w -> label(rs, w)).collect(Collectors.toSet());
    for (Map.Entry<Result.Key, Map<String, List<Result>>> e : index.entrySet()) {
      Map<String, NavigableMap<Double, Double>> series = new LinkedHashMap<>();
      for (String v : variants) {
        List<Result> l = e.getValue().get(v);
        if (l == null) {
          continue;
        }
        Result first = l.stream().filter(r -> !r.percentiles().isEmpty())
            .min(Comparator.comparingInt(r -> r.run().repeat())).orElse(null);
        if (first != null) {
          NavigableMap<Double, Double> pts = new TreeMap<>();
          first.percentiles().keySet().forEach(p -> pts.put(p, first.percentileIn(p, unit)));
          series.put(label(rs, v), pts);
        }
      }
      if (series.isEmpty()) {
        continue;
      }
      Result.Key k = e.getKey();
      String point = pointName(k.params(), k.threads()) + (k.role().isEmpty() ? "" : "-" + k.role());
      String name = chartName(cls, mode + "-percentiles", variants, point);
      Charts.percentiles(charts.resolve(name), cls + " latency by percentile",
          describeKey(k) + (weft.isEmpty() ? "" : "  (orange: weft)"), unit, series, weftLabels);
      chartCount++;
      md.append("![").append(cls).append(" percentiles ").append(point).append("](charts/")
          .append(name).append(")\n");
    }
  }

  /** Score against thread count, from the sweep files (jmh-t<T>*.json). */
  private void scaling(String cls, String mode, List<Result> all) throws IOException {
    String unit = commonUnit(all);
    for (List<String> variants : groups(variants(all))) {
      List<Result> rs = filter(all, r -> variants.contains(r.variant()));
      List<String> weft = variants.stream().filter(v -> v.startsWith("weft")).collect(Collectors.toList());
      Set<String> alts = variants.stream().filter(v -> !v.startsWith("weft")).collect(Collectors.toCollection(LinkedHashSet::new));
      md.append("\n### ").append(cls).append(": scaling with threads, ").append(Units.describe(mode))
          .append(" (").append(unit).append(")");
      if (!weft.isEmpty()) {
        md.append(": ").append(String.join(", ", weft));
      }
      md.append("\n\n");
      List<String> paramNames = paramNames(rs);
      boolean roles = rs.stream().anyMatch(r -> !r.role().isEmpty());
      scoreTable(rs, variants, weft, alts, paramNames, roles, index(rs), unit);
      topTables(cls, rs, variants, weft, alts, paramNames, roles);
      // One line chart per parameter combination and role.
      Map<Result.Key, List<Result>> byCurve = new TreeMap<>(keyOrder());
      for (Result r : rs) {
        byCurve.computeIfAbsent(new Result.Key(cls, mode, r.params(), 0, r.role()), x -> new ArrayList<>()).add(r);
      }
      md.append("\n");
      Set<String> weftLabels = weft.stream().map(w -> label(rs, w)).collect(Collectors.toSet());
      for (Map.Entry<Result.Key, List<Result>> c : byCurve.entrySet()) {
        TreeMap<Integer, Map<String, List<Result>>> byThreads = new TreeMap<>();
        for (Result r : c.getValue()) {
          byThreads.computeIfAbsent(r.threads(), k -> new TreeMap<>())
              .computeIfAbsent(r.variant(), k -> new ArrayList<>()).add(r);
        }
        if (byThreads.size() < 2) {
          continue;
        }
        DefaultStatisticalCategoryDataset data = new DefaultStatisticalCategoryDataset();
        for (String v : variants) {
          for (Map.Entry<Integer, Map<String, List<Result>>> t : byThreads.entrySet()) {
            List<Result> l = t.getValue().get(v);
            if (l != null) {
              data.add(mean(l, unit), zeroIfNaN(maxError(l, unit)), label(rs, v), Integer.toString(t.getKey()));
            }
          }
        }
        Result.Key k = c.getKey();
        String sub = describePoint(k.params(), -1) + (k.role().isEmpty() ? "" : (k.params().isEmpty() ? "" : ", ") + "role " + k.role());
        String point = pointName(k.params(), -1) + (k.role().isEmpty() ? "" : "_" + k.role());
        String name = chartName(cls, mode + "_scaling", variants, point);
        Charts.lines(charts.resolve(name), cls + " scaling (" + mode + ")", sub,
            unit + " — " + better(mode), data, weftLabels);
        chartCount++;
        md.append("![").append(cls).append(" scaling ").append(point).append("](charts/")
            .append(name).append(")\n");
      }
    }
  }

  /**
   * The sweep's verdict at its highest thread count: weft ÷ each alternative there, and each
   * variant's scaling (its speed there ÷ its speed at the lowest thread count measured).
   */
  private void topTables(String cls, List<Result> rs, List<String> variants, List<String> weft,
      Set<String> alts, List<String> paramNames, boolean roles) {
    int top = rs.stream().mapToInt(Result::threads).max().orElse(0);
    int low = rs.stream().mapToInt(Result::threads).min().orElse(0);
    if (top <= low) {
      return;
    }
    Map<Result.Key, Map<String, List<Result>>> atTop =
        index(filter(rs, r -> r.threads() == top));
    String t = top + (top == 1 ? " thread" : " threads");
    if (!weft.isEmpty() && !alts.isEmpty()) {
      md.append("\nAt ").append(t).append(" (the highest measured), weft ÷ each alternative")
          .append(" (speed ratio, above 1.00× = weft faster):\n\n");
      List<String> head = keyHead(paramNames, roles);
      head.remove("threads");
      head.add("weft variant");
      for (String a : alts) {
        head.add("÷ " + label(rs, a));
      }
      tableHead(head);
      for (Map.Entry<Result.Key, Map<String, List<Result>>> e : atTop.entrySet()) {
        for (String w : weft) {
          List<Result> wr = e.getValue().get(w);
          if (wr == null) {
            continue;
          }
          List<String> line = keyCells(e.getKey(), paramNames, roles);
          line.remove(paramNames.size()); // the threads column: all are at the top count
          line.add(w);
          List<String> versus = new ArrayList<>();
          for (String a : alts) {
            String r = ratioCell(wr, x -> x.variant().equals(a), false);
            line.add(r);
            if (!r.equals("—")) {
              versus.add(label(rs, a) + " " + r);
            }
          }
          tableRow(line);
          String point = describePoint(e.getKey().params(), -1);
          if (!e.getKey().role().isEmpty()) {
            point += (point.isEmpty() ? "" : ", ") + "role " + e.getKey().role();
          }
          summary.add(new String[] {cls, point.isEmpty() ? "—" : point, Integer.toString(top), w,
              versus.isEmpty() ? "—" : String.join(", ", versus), scalingCell(wr)});
        }
      }
    }
    md.append("\nScaling: each variant's speed at ").append(t).append(" ÷ its speed at the")
        .append(" lowest thread count measured (").append(low).append("; for a throughput,")
        .append(" how many times the total work per second grew):\n\n");
    List<String> head = keyHead(paramNames, roles);
    head.remove("threads");
    for (String v : variants) {
      head.add(label(rs, v));
    }
    tableHead(head);
    for (Map.Entry<Result.Key, Map<String, List<Result>>> e : atTop.entrySet()) {
      List<String> line = keyCells(e.getKey(), paramNames, roles);
      line.remove(paramNames.size());
      for (String v : variants) {
        line.add(scalingCell(e.getValue().get(v)));
      }
      tableRow(line);
    }
  }

  /** Mean [range] of the results' scaling over their repeats, with the base thread count. */
  private String scalingCell(List<Result> l) {
    if (l == null) {
      return "—";
    }
    List<Double> values = new ArrayList<>();
    Set<Integer> bases = new TreeSet<>();
    for (Result r : l) {
      Result base = sweepBase(r);
      if (base != null) {
        values.add(scaling(r, base));
        bases.add(base.threads());
      }
    }
    if (values.isEmpty()) {
      return "—";
    }
    return range(values, true) + " from " + bases.stream().map(String::valueOf).collect(Collectors.joining("/"));
  }

  /**
   * The same variant at the lowest thread count of the sweep (same class, mode, parameters,
   * role and repeat), or null if there is none below {@code r}'s.
   */
  private Result sweepBase(Result r) {
    Result base = null;
    for (Result b : all) {
      if (b.run().sweep() && b.run().repeat() == r.run().repeat()
          && b.benchClass().equals(r.benchClass()) && b.variant().equals(r.variant())
          && b.mode().equals(r.mode()) && b.params().equals(r.params())
          && b.role().equals(r.role()) && b.threads() < r.threads()
          && Units.convertible(b.unit(), r.unit())
          && (base == null || b.threads() < base.threads())) {
        base = b;
      }
    }
    return base;
  }

  /**
   * How many times the total speed grew from {@code base} to {@code r}: for throughput (the
   * sum over all threads) the ratio of the scores; for a time per operation (per thread) the
   * inverse ratio times the ratio of the thread counts.
   */
  static double scaling(Result r, Result base) {
    double speed = Units.speedRatio(r.mode(), r.score(), base.scoreIn(r.unit()));
    return Units.higherIsBetter(r.mode()) ? speed : speed * r.threads() / base.threads();
  }

  /** The summary of every sweep at its highest thread count, placed after the goals. */
  private String summary() {
    StringBuilder s = new StringBuilder();
    s.append("\n## Scaling at the highest thread count\n\n")
        .append("From the thread sweep (`jmh-t<T>*.json`): at each benchmark's highest thread")
        .append(" count, weft ÷ each alternative (speed ratio, above 1.00× = weft faster), and")
        .append(" weft's own scaling (its speed there ÷ its speed at the lowest thread count")
        .append(" measured). Details, and every variant's scaling, under each class below.\n\n");
    s.append("| Benchmark | Point | Threads | weft variant | weft ÷ alternative | weft scaling |\n");
    s.append("|---|---|---|---|---|---|\n");
    for (String[] row : summary) {
      List<String> cells = new ArrayList<>();
      for (String c : row) {
        cells.add(cell(c));
      }
      s.append("| ").append(String.join(" | ", cells)).append(" |\n");
    }
    return s.toString();
  }

  private void scoreTable(List<Result> rs, List<String> variants, List<String> weft,
      Set<String> alts, List<String> paramNames, boolean roles,
      Map<Result.Key, Map<String, List<Result>>> index, String unit) {
    List<String> head = keyHead(paramNames, roles);
    for (String v : variants) {
      head.add(label(rs, v));
    }
    if (!alts.isEmpty()) {
      for (String w : weft) {
        head.add(weft.size() > 1 ? w + " ÷ best alt" : "weft ÷ best alt");
      }
    }
    tableHead(head);
    for (Map.Entry<Result.Key, Map<String, List<Result>>> e : index.entrySet()) {
      List<String> line = keyCells(e.getKey(), paramNames, roles);
      for (String v : variants) {
        line.add(scoreCell(e.getValue().get(v), unit));
      }
      if (!alts.isEmpty()) {
        for (String w : weft) {
          line.add(ratioCell(e.getValue().get(w), r -> alts.contains(r.variant()), true));
        }
      }
      tableRow(line);
    }
  }

  private String chartName(String cls, String mode, List<String> variants, String point) {
    String weft = variants.stream().filter(v -> v.startsWith("weft")).collect(Collectors.joining("+"));
    return safe(cls + "_" + mode + (weft.isEmpty() ? "" : "_" + weft) + "_" + point) + ".png";
  }

  /**
   * Splits a class's variants into comparison groups. weft variant {@code weftRead} has the
   * scenario {@code read}; an alternative whose name ends or starts with a weft variant's
   * scenario ({@code stampedRead}, {@code readRwLock}) is compared only with that weft variant
   * (the longest matching scenario wins); every other alternative is compared with all weft
   * variants. weft variants with the same alternatives share one table.
   */
  static List<List<String>> groups(List<String> variants) {
    List<String> weft = variants.stream().filter(v -> v.startsWith("weft")).collect(Collectors.toList());
    List<String> alts = variants.stream().filter(v -> !v.startsWith("weft")).collect(Collectors.toList());
    if (weft.isEmpty()) {
      return List.of(alts);
    }
    Map<String, Set<String>> assigned = new LinkedHashMap<>();
    weft.forEach(w -> assigned.put(w, new TreeSet<>()));
    List<String> pool = new ArrayList<>();
    for (String a : alts) {
      String lower = a.toLowerCase(Locale.ROOT);
      int longest = 0;
      List<String> owners = new ArrayList<>();
      for (String w : weft) {
        String s = w.substring(4).toLowerCase(Locale.ROOT);
        if (!s.isEmpty() && (lower.endsWith(s) || lower.startsWith(s))) {
          if (s.length() > longest) {
            longest = s.length();
            owners.clear();
          }
          if (s.length() == longest) {
            owners.add(w);
          }
        }
      }
      if (owners.isEmpty()) {
        pool.add(a);
      } else {
        owners.forEach(w -> assigned.get(w).add(a));
      }
    }
    Map<Set<String>, List<String>> byAlts = new LinkedHashMap<>();
    for (String w : weft) {
      Set<String> set = new TreeSet<>(assigned.get(w));
      set.addAll(pool);
      byAlts.computeIfAbsent(set, k -> new ArrayList<>()).add(w);
    }
    List<List<String>> groups = new ArrayList<>();
    byAlts.forEach((a, w) -> {
      List<String> g = new ArrayList<>(w);
      g.addAll(a);
      groups.add(g);
    });
    return groups;
  }

  private void footer() {
    md.append("\n## Machine and command\n\n");
    if (machineText.isEmpty()) {
      md.append("No machine.txt in this folder.\n");
    } else {
      md.append("<details><summary>machine.txt</summary>\n\n```\n")
          .append(machineText.strip()).append("\n```\n\n</details>\n");
    }
    md.append("\nGenerated by `dev.weft.bench.report.BenchReport` from ")
        .append(String.join(", ", files)).append(" (").append(all.size())
        .append(" results, ").append(chartCount).append(" charts).\n");
  }

  // ---------------------------------------------------------------- cells

  private String scoreCell(List<Result> l, String unit) {
    if (l == null || l.isEmpty()) {
      return "—";
    }
    double err = maxError(l, unit);
    String s = num(mean(l, unit));
    return Double.isNaN(err) ? s : s + " ± " + num(err);
  }

  private String spreadCell(List<Result> l, String unit) {
    if (l == null || l.size() < 2) {
      return "—";
    }
    DoubleSummaryStatistics st = l.stream().mapToDouble(r -> r.scoreIn(unit)).summaryStatistics();
    return String.format(Locale.ROOT, "%.1f%%", 100 * (st.getMax() - st.getMin()) / st.getAverage());
  }

  /** Ratio of weft results (one per run) to the best alternative accepted by {@code which}. */
  private String ratioCell(List<Result> weftResults, Predicate<Result> which, boolean name) {
    if (weftResults == null) {
      return "—";
    }
    List<Double> values = new ArrayList<>();
    Set<String> against = new TreeSet<>();
    for (Result w : weftResults) {
      Result b = best(w, which);
      if (b != null) {
        values.add(Units.speedRatio(w.mode(), w.score(), b.scoreIn(w.unit())));
        against.add(b.variant());
      }
    }
    if (values.isEmpty()) {
      return "—";
    }
    String r = range(values, true);
    // Name the best alternative only in the "best alt" column, where it is not in the header.
    return name ? r + " vs " + String.join("/", against) : r;
  }

  /** Mean, and [lowest–highest] when there are several values. */
  private static String range(List<Double> values, boolean ratio) {
    DoubleSummaryStatistics st = values.stream().mapToDouble(Double::doubleValue).summaryStatistics();
    String fmt = ratio ? "%.2f×" : "%s";
    String mean = ratio ? String.format(Locale.ROOT, fmt, st.getAverage()) : num(st.getAverage());
    if (values.size() < 2) {
      return mean;
    }
    String lo = ratio ? String.format(Locale.ROOT, "%.2f", st.getMin()) : num(st.getMin());
    String hi = ratio ? String.format(Locale.ROOT, "%.2f", st.getMax()) : num(st.getMax());
    return mean + " [" + lo + "–" + hi + "]";
  }

  private static List<String> keyHead(List<String> paramNames, boolean roles) {
    List<String> head = new ArrayList<>(paramNames);
    head.add("threads");
    if (roles) {
      head.add("role");
    }
    return head;
  }

  private List<String> keyCells(Result.Key k, List<String> paramNames, boolean roles) {
    List<String> line = new ArrayList<>();
    for (String p : paramNames) {
      line.add(cell(k.params().getOrDefault(p, "")));
    }
    line.add(Integer.toString(k.threads()));
    if (roles) {
      line.add(k.role().isEmpty() ? "—" : k.role());
    }
    return line;
  }

  private void tableHead(List<String> head) {
    tableRow(head);
    md.append("|").append("---|".repeat(head.size())).append("\n");
  }

  private void tableRow(List<String> cells) {
    md.append("| ").append(String.join(" | ", cells)).append(" |\n");
  }

  /** Formats a number with about three significant digits, grouping thousands. */
  static String num(double v) {
    if (Double.isNaN(v)) {
      return "n/a";
    }
    double a = Math.abs(v);
    if (a >= 1000) {
      return String.format(Locale.ROOT, "%,.0f", v);
    }
    if (a >= 100) {
      return String.format(Locale.ROOT, "%.1f", v);
    }
    if (a >= 1) {
      return String.format(Locale.ROOT, "%.2f", v);
    }
    if (a == 0) {
      return "0";
    }
    return String.format(Locale.ROOT, "%.3g", v);
  }

  private static String cell(String s) {
    return s.replace("|", "\\|").replace("\n", " ");
  }

  // ---------------------------------------------------------------- helpers

  /** True if this run included the JDK-25-only comparisons (forks ran with preview enabled). */
  private boolean preview() {
    return infos.stream().anyMatch(i -> i.jvmArgs().contains("--enable-preview"))
        || all.stream().anyMatch(this::jdk25);
  }

  private boolean jdk25(Result r) {
    return JDK25.matcher(r.benchClass()).find() || JDK25.matcher(r.variant()).find();
  }

  private String label(List<Result> rs, String variant) {
    boolean mark = rs.stream().anyMatch(r -> r.variant().equals(variant) && jdk25(r));
    return mark ? variant + " †" : variant;
  }

  private static String better(String mode) {
    return Units.higherIsBetter(mode) ? "higher is better" : "lower is better";
  }

  private static List<Result> filter(List<Result> rs, Predicate<Result> p) {
    return rs.stream().filter(p).collect(Collectors.toList());
  }

  private static Set<String> modes(List<Result> rs) {
    Set<String> modes = new TreeSet<>(Comparator.comparing(Report::modeOrder).thenComparing(m -> m));
    rs.forEach(r -> modes.add(r.mode()));
    return modes;
  }

  private static int modeOrder(String mode) {
    int i = List.of("thrpt", "avgt", "sample", "ss").indexOf(mode);
    return i < 0 ? 99 : i;
  }

  /** weft variants first, then the alternatives, each in name order. */
  private static List<String> variants(List<Result> rs) {
    Set<String> v = new TreeSet<>(Comparator.comparing((String s) -> !s.startsWith("weft")).thenComparing(s -> s));
    rs.forEach(r -> v.add(r.variant()));
    return new ArrayList<>(v);
  }

  private static List<String> paramNames(List<Result> rs) {
    Set<String> names = new TreeSet<>();
    rs.forEach(r -> names.addAll(r.params().keySet()));
    return new ArrayList<>(names);
  }

  /** The unit most results of a section use; the others are converted to it. */
  private static String commonUnit(List<Result> rs) {
    Map<String, Long> counts = rs.stream().collect(Collectors.groupingBy(Result::unit, TreeMap::new, Collectors.counting()));
    return counts.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse("?");
  }

  private static Map<Result.Key, Map<String, List<Result>>> index(Collection<Result> rs) {
    Map<Result.Key, Map<String, List<Result>>> index = new TreeMap<>(keyOrder());
    for (Result r : rs) {
      index.computeIfAbsent(r.key(), k -> new TreeMap<>()).computeIfAbsent(r.variant(), k -> new ArrayList<>()).add(r);
    }
    return index;
  }

  private static Comparator<Result.Key> keyOrder() {
    Comparator<String> natural = naturalOrder();
    return (a, b) -> {
      Set<String> names = new TreeSet<>(a.params().keySet());
      names.addAll(b.params().keySet());
      for (String n : names) {
        int c = natural.compare(a.params().getOrDefault(n, ""), b.params().getOrDefault(n, ""));
        if (c != 0) {
          return c;
        }
      }
      int c = Integer.compare(a.threads(), b.threads());
      if (c != 0) {
        return c;
      }
      c = a.role().compareTo(b.role());
      if (c != 0) {
        return c;
      }
      c = a.mode().compareTo(b.mode());
      return c != 0 ? c : a.benchClass().compareTo(b.benchClass());
    };
  }

  /** Compares numbers by value (10 before 1000, 1e5 before 1e6), other text by name. */
  private static Comparator<String> naturalOrder() {
    return (a, b) -> {
      Double x = number(a);
      Double y = number(b);
      if (x != null && y != null) {
        int c = Double.compare(x, y);
        return c != 0 ? c : a.compareTo(b);
      }
      if (x != null) {
        return -1;
      }
      if (y != null) {
        return 1;
      }
      return a.compareTo(b);
    };
  }

  private static Double number(String s) {
    try {
      return Double.valueOf(s.replace("_", ""));
    } catch (NumberFormatException e) {
      return null;
    }
  }

  private static String pointName(Map<String, String> params, int threads) {
    StringBuilder sb = new StringBuilder();
    params.forEach((k, v) -> sb.append(sb.length() == 0 ? "" : "_").append(k).append('-').append(v));
    if (threads >= 0) {
      sb.append(sb.length() == 0 ? "" : "_").append('t').append(threads);
    }
    return sb.length() == 0 ? "all" : sb.toString();
  }

  private static String describePoint(Map<String, String> params, int threads) {
    List<String> parts = new ArrayList<>();
    params.forEach((k, v) -> parts.add(k + "=" + v));
    if (threads >= 0) {
      parts.add(threads + (threads == 1 ? " thread" : " threads"));
    }
    return String.join(", ", parts);
  }

  private String describeKey(Result.Key k) {
    String s = describePoint(k.params(), k.threads());
    return k.role().isEmpty() ? s : s + ", role " + k.role();
  }

  private static String safe(String s) {
    return s.replaceAll("[^A-Za-z0-9._-]+", "_");
  }

  private static double mean(List<Result> l, String unit) {
    return l.stream().mapToDouble(r -> r.scoreIn(unit)).average().orElse(Double.NaN);
  }

  private static double maxError(List<Result> l, String unit) {
    double max = Double.NaN;
    for (Result r : l) {
      double e = r.errorIn(unit);
      if (!Double.isNaN(e) && (Double.isNaN(max) || e > max)) {
        max = e;
      }
    }
    return max;
  }

  private static double zeroIfNaN(double v) {
    return Double.isNaN(v) ? 0 : v;
  }
}
