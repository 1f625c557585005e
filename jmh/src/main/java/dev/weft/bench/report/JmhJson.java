package dev.weft.bench.report;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads the JSON written by JMH's {@code -rf json} into {@link Result}s. */
final class JmhJson {
  private JmhJson() {}

  private static final Pattern REPEAT = Pattern.compile("-r(\\d+)(?=[-.])");
  private static final Pattern SWEEP = Pattern.compile("-t(\\d+)(?=[-.])");
  private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_$][A-Za-z0-9_$]*");
  private static final Pattern PROCESSORS = Pattern.compile("-XX:ActiveProcessorCount=(\\d+)");

  /** The pseudo-parameter that holds a benchmark's scenario (see {@link #normalise}). */
  static final String SCENARIO = "scenario";

  /** {@code @Param} names whose values name the implementation under test. */
  static final List<String> IMPL_PARAMS = List.of("lock", "impl");

  /** weft's public types: an implementation {@code @Param} value naming one is weft's. */
  static final List<String> WEFT_TYPES =
      List.of(
          "SpinLock", "TicketLock", "SeqLock", "SeqCount", "SeqLocked", "Lazy", "OnceCell",
          "Mutex", "RwLock", "Condvar", "Scope", "Parallel");

  /**
   * What one JSON file says about how it was run (taken from its first benchmark).
   *
   * @param run the file
   * @param jmhVersion JMH version
   * @param jdkVersion JDK version of the forked benchmark JVMs
   * @param vm VM name and version
   * @param jvmArgs JVM arguments of the forks
   * @param settings forks, warm-up and measurement settings in words
   */
  record RunInfo(
      Result.Run run,
      String jmhVersion,
      String jdkVersion,
      String vm,
      List<String> jvmArgs,
      String settings) {}

  /**
   * The results and run information of one file.
   *
   * @param info how it was run, or null for an empty file
   * @param results what was measured
   */
  record Parsed(RunInfo info, List<Result> results) {}

  /** Describes a file name: repeat index and whether it is a thread sweep. */
  static Result.Run describe(String fileName) {
    Matcher r = REPEAT.matcher(fileName);
    int repeat = r.find() ? Integer.parseInt(r.group(1)) : 1;
    return new Result.Run(fileName, repeat, SWEEP.matcher(fileName).find());
  }

  /** Parses one JMH JSON file. A file with no benchmarks gives an empty list. */
  static Parsed read(Path file) throws IOException {
    Result.Run run = describe(file.getFileName().toString());
    JsonElement root;
    try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      root = JsonParser.parseReader(in); // lenient: JMH writes NaN for unknown errors
    } catch (RuntimeException e) {
      throw new IOException("cannot parse " + file + " as JMH JSON: " + e.getMessage(), e);
    }
    if (!root.isJsonArray()) {
      throw new IOException(file + " is not a JMH JSON result (expected an array)");
    }
    List<Result> results = new ArrayList<>();
    RunInfo info = null;
    for (JsonElement e : root.getAsJsonArray()) {
      JsonObject b = e.getAsJsonObject();
      if (info == null) {
        info = runInfo(run, b);
      }
      parseBenchmark(run, b, results);
    }
    return new Parsed(info, results);
  }

  private static RunInfo runInfo(Result.Run run, JsonObject b) {
    List<String> args = new ArrayList<>();
    if (b.has("jvmArgs") && b.get("jvmArgs").isJsonArray()) {
      for (JsonElement a : b.getAsJsonArray("jvmArgs")) {
        args.add(a.getAsString());
      }
    }
    String settings =
        String.format(
            Locale.ROOT,
            "%s fork(s), %s warm-up iteration(s) of %s, %s measurement iteration(s) of %s",
            str(b, "forks"),
            str(b, "warmupIterations"),
            str(b, "warmupTime"),
            str(b, "measurementIterations"),
            str(b, "measurementTime"));
    return new RunInfo(
        run,
        str(b, "jmhVersion"),
        str(b, "jdkVersion"),
        str(b, "vmName") + " " + str(b, "vmVersion"),
        Collections.unmodifiableList(args),
        settings);
  }

  private static void parseBenchmark(Result.Run run, JsonObject b, List<Result> out) {
    String full = str(b, "benchmark");
    int lastDot = full.lastIndexOf('.');
    String variant = full.substring(lastDot + 1);
    String owner = lastDot < 0 ? "" : full.substring(0, lastDot);
    String benchClass = owner.substring(owner.lastIndexOf('.') + 1);
    String mode = str(b, "mode");
    int threads = b.has("threads") ? b.get("threads").getAsInt() : 1;
    if (threads == 1) {
      threads = processors(b, threads);
    }
    Map<String, String> params = new TreeMap<>();
    if (b.has("params") && b.get("params").isJsonObject()) {
      for (Map.Entry<String, JsonElement> p : b.getAsJsonObject("params").entrySet()) {
        params.put(p.getKey(), p.getValue().getAsString());
      }
    }
    String group = variant;
    variant = normalise(variant, params);
    Map<String, String> frozen = Collections.unmodifiableMap(params);
    JsonObject primary = b.getAsJsonObject("primaryMetric");
    double alloc = Double.NaN;
    List<Map.Entry<String, JsonObject>> roles = new ArrayList<>();
    if (b.has("secondaryMetrics") && b.get("secondaryMetrics").isJsonObject()) {
      for (Map.Entry<String, JsonElement> s : b.getAsJsonObject("secondaryMetrics").entrySet()) {
        String label = s.getKey();
        String plain = label.startsWith("\u00b7") ? label.substring(1) : label;
        if (plain.equals("gc.alloc.rate.norm")) {
          alloc = num(s.getValue().getAsJsonObject(), "score");
        } else if (IDENTIFIER.matcher(label).matches()) {
          // A method of an @Group benchmark: JMH labels its secondary metric with the name.
          roles.add(Map.entry(label, s.getValue().getAsJsonObject()));
        }
      }
    }
    if (roles.isEmpty()) {
      out.add(metric(run, benchClass, variant, "", mode, threads, frozen, primary, alloc));
    } else {
      // The group's primary metric is the sum over its methods: meaningless for a reader and
      // a writer, so only the per-method numbers are reported.
      for (Map.Entry<String, JsonObject> r : roles) {
        String role = role(r.getKey(), group);
        out.add(metric(run, benchClass, variant, role, mode, threads, frozen, r.getValue(), alloc));
      }
    }
  }

  /**
   * The thread count of a benchmark that JMH ran on one thread in a fork limited to {@code N}
   * processors ({@code -XX:ActiveProcessorCount=N} among the fork's JVM arguments): {@code N},
   * because such a benchmark spreads its work over the processors the JVM sees ({@code
   * Parallel.map}, parallel streams, pools sized by {@code availableProcessors()}); this is
   * how {@code jmh/run-scaling.sh} sweeps them. Otherwise {@code threads}.
   */
  static int processors(JsonObject b, int threads) {
    if (!b.has("jvmArgs") || !b.get("jvmArgs").isJsonArray()) {
      return threads;
    }
    int found = threads;
    for (JsonElement a : b.getAsJsonArray("jvmArgs")) {
      Matcher m = PROCESSORS.matcher(a.getAsString());
      if (m.matches()) {
        try {
          found = Integer.parseInt(m.group(1)); // the last one wins, as in the JVM
        } catch (NumberFormatException e) {
          return threads; // not a count the JVM would accept either
        }
      }
    }
    return found > 0 ? found : threads;
  }

  /**
   * Brings the two other naming conventions into the report's one ({@code weft...} methods
   * compared with the other methods at equal {@code @Param} values), returning the variant name
   * and adding a {@code scenario} pseudo-parameter to {@code params} where there is one, so
   * that only results of the same scenario are ever compared:
   *
   * <ul>
   *   <li>a scenario prefix, {@code <scenario>_<implementation>} ({@code read_weftSeqLock},
   *       {@code read_stampedOptimistic}, group {@code rw_weftSeqLock}): the variant is the
   *       part after the first underscore, the scenario the part before;
   *   <li>an implementation {@code @Param} named {@code lock} or {@code impl} ({@code
   *       lock=SpinLock} with methods {@code uncontended}, {@code contended2}): the variant is
   *       the parameter's value, prefixed with {@code weft} when it names a weft type ({@code
   *       weftSpinLock}) and otherwise with a lower-case first letter ({@code reentrantLock});
   *       the parameter is removed and the method name becomes the scenario.
   * </ul>
   *
   * A real {@code @Param} named {@code scenario} is kept and wins over both.
   */
  static String normalise(String method, Map<String, String> params) {
    String variant = method;
    String scenario = null;
    int underscore = method.indexOf('_');
    if (underscore > 0 && underscore < method.length() - 1) {
      scenario = method.substring(0, underscore);
      variant = method.substring(underscore + 1);
    }
    for (String name : IMPL_PARAMS) {
      String value = params.remove(name);
      if (value != null && !value.isEmpty()) {
        scenario = scenario == null ? variant : scenario + "_" + variant;
        variant = implName(value);
        break;
      }
    }
    if (scenario != null) {
      params.putIfAbsent(SCENARIO, scenario);
    }
    return variant;
  }

  /** {@code SpinLock} -> {@code weftSpinLock}, {@code ReentrantLock} -> {@code reentrantLock}. */
  static String implName(String value) {
    for (String t : WEFT_TYPES) {
      if (value.regionMatches(true, 0, t, 0, t.length())) {
        return "weft" + t + value.substring(t.length());
      }
    }
    if (value.regionMatches(true, 0, "weft", 0, 4)) {
      return "weft" + value.substring(4);
    }
    return value.substring(0, 1).toLowerCase(Locale.ROOT) + value.substring(1);
  }

  private static Result metric(
      Result.Run run,
      String benchClass,
      String variant,
      String role,
      String mode,
      int threads,
      Map<String, String> params,
      JsonObject m,
      double alloc) {
    boolean sample = "sample".equals(mode);
    return new Result(
        run,
        benchClass,
        variant,
        role,
        mode,
        threads,
        params,
        num(m, "score"),
        num(m, "scoreError"),
        str(m, "scoreUnit"),
        alloc,
        sample ? percentiles(m) : Collections.emptyNavigableMap());
  }

  /**
   * JMH's {@code scorePercentiles} of a metric (written in every mode; meaningful in sample
   * mode, where they are the percentiles of the sampled operation times), as percentile to
   * value; empty for the other modes, whose "percentiles" are over a handful of iteration
   * scores.
   */
  static NavigableMap<Double, Double> percentiles(JsonObject m) {
    NavigableMap<Double, Double> out = new TreeMap<>();
    JsonElement e = m.get("scorePercentiles");
    if (e == null || !e.isJsonObject()) {
      return Collections.unmodifiableNavigableMap(out);
    }
    for (Map.Entry<String, JsonElement> p : e.getAsJsonObject().entrySet()) {
      try {
        double pct = Double.parseDouble(p.getKey());
        double v = p.getValue().getAsDouble();
        if (pct >= 0 && pct <= 100 && !Double.isNaN(v)) {
          out.put(pct, v);
        }
      } catch (RuntimeException ex) {
        // a key or value that is not a number: not a percentile JMH wrote
      }
    }
    return Collections.unmodifiableNavigableMap(out);
  }

  /**
   * The role of a method inside an {@code @Group} benchmark, so that weft's reader lines up
   * with each alternative's reader: the text after the last underscore ({@code weft_read} ->
   * {@code read}); else the name without the group-name prefix ({@code weftReader} in group
   * {@code weft} -> {@code reader}); else a read/write keyword; else the method name.
   */
  static String role(String method, String group) {
    int underscore = method.lastIndexOf('_');
    if (underscore >= 0 && underscore < method.length() - 1) {
      return method.substring(underscore + 1).toLowerCase(Locale.ROOT);
    }
    String lower = method.toLowerCase(Locale.ROOT);
    String g = group.toLowerCase(Locale.ROOT);
    if (lower.startsWith(g) && lower.length() > g.length()) {
      return lower.substring(g.length());
    }
    if (lower.contains("read")) {
      return "read";
    }
    if (lower.contains("writ")) {
      return "write";
    }
    return method;
  }

  private static String str(JsonObject o, String name) {
    JsonElement e = o.get(name);
    if (e == null || e.isJsonNull()) {
      return "?";
    }
    if (e.isJsonArray()) {
      JsonArray a = e.getAsJsonArray();
      return a.toString();
    }
    return e.getAsString();
  }

  private static double num(JsonObject o, String name) {
    JsonElement e = o.get(name);
    if (e == null || e.isJsonNull() || !e.isJsonPrimitive()) {
      return Double.NaN;
    }
    try {
      return e.getAsDouble();
    } catch (NumberFormatException ex) {
      return Double.NaN; // "NaN" or "Infinity" spelled oddly: unknown
    }
  }
}
