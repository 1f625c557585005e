package dev.weft.bench.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.jfree.data.statistics.DefaultStatisticalCategoryDataset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportTest {
  @TempDir Path dir;

  @BeforeAll
  static void headless() {
    System.setProperty("java.awt.headless", "true");
  }

  private static String spin(String variant, int threads, double score) {
    return Fixtures.bench("SpinLockBench." + variant, "thrpt", threads, Map.of(), score, 1.0,
        "ops/us", "");
  }

  private static String seq(String group, double read, double write) {
    return Fixtures.bench("SeqLockBench." + group, "thrpt", 2, Map.of(), read + write, 1.0,
        "ops/us", Fixtures.metric(group + "_read", read, 0.5, "ops/us") + ","
            + Fixtures.metric(group + "_write", write, 0.5, "ops/us"));
  }

  private void fixture() throws IOException {
    Files.writeString(dir.resolve("jmh-r1.json"), Fixtures.array(
        spin("weftLock", 1, 20), spin("reentrantLock", 1, 10), spin("synchronizedBlock", 1, 16),
        Fixtures.bench("LazyBench.weftGet", "avgt", 1, Map.of(), 2, 0.1, "ns/op", ""),
        Fixtures.bench("LazyBench.guavaGet", "avgt", 1, Map.of(), 0.004, 0.0001, "us/op", ""),
        Fixtures.bench("LazyBench.holderGet", "avgt", 1, Map.of(), 1, 0.1, "ns/op", ""),
        seq("weftRw", 100, 10), seq("stampedRw", 20, 20)));
    Files.writeString(dir.resolve("jmh-r2.json"), Fixtures.array(
        spin("weftLock", 1, 30), spin("reentrantLock", 1, 30), spin("synchronizedBlock", 1, 40)));
    Files.writeString(dir.resolve("jmh-t1.json"), Fixtures.array(
        spin("weftLock", 1, 20), spin("reentrantLock", 1, 10)));
    Files.writeString(dir.resolve("jmh-t4.json"), Fixtures.array(
        spin("weftLock", 4, 8), spin("reentrantLock", 4, 4)));
    Files.writeString(dir.resolve("machine.txt"), "date: 2026-11-27 20:00 UTC\nprofile: short\n"
        + "cpu: Test CPU\ncores: 2\njava -version:\n  openjdk 17\n");
    Files.writeString(dir.resolve("goals.tsv"), String.join("\n",
        "SpinLock\tratio\tweftLock\treentrant\tthreads=1\t>=\t1.3\tuncontended",
        "SpinLock\tratio\tweftLock\treentrant\tthreads=4\t>=\t1.5\tfour threads",
        "Lazy\tratio\tweft\tguava\t*\t>=\t1.0\tvs guava",
        "Lazy\tratio\tweft\tholder\t*\treport\t\tgap to holder",
        "SeqLock\tratio\tweft\tstamped\trole=read\t>=\t10\treader ten times",
        "SeqLock\talloc\tweft\t-\t*\t<=\t0.5\tno allocation",
        "Nope\tratio\tweft\tx\t*\t>=\t1\tmissing",
        "Nope\tmanual\tweft\t-\t*\treport\t\tfairness",
        "Lazy\tratio\tweft\tstablevalue\t*\treport\t\ton jdk 25") + "\n");
  }

  private String report() throws IOException {
    fixture();
    Path out = new Report(dir, dir.resolve("goals.tsv")).write();
    return Files.readString(out);
  }

  private static String line(String md, String... parts) {
    return md.lines().filter(l -> Stream.of(parts).allMatch(l::contains)).findFirst()
        .orElseThrow(() -> new AssertionError("no line with " + List.of(parts) + " in\n" + md));
  }

  @Test
  void ratiosAreComputedPerRunAndAggregatedOverRepeats() throws IOException {
    String md = report();
    // run 1: 20 / 16 (best alt synchronizedBlock) = 1.25; run 2: 30 / 40 = 0.75
    assertThat(line(md, "| 1 | 25.00 ± 1.00 |")).contains("1.00× [0.75–1.25] vs synchronizedBlock");
    // weft ÷ reentrantLock: 2.0 in run 1, 1.0 in run 2 (never 20/30 across runs)
    assertThat(line(md, "| 1 | weftLock |")).contains("| 1.50× [1.00–2.00] |");
  }

  @Test
  void timesAreConvertedAndInvertedSoAboveOneMeansWeftIsFaster() throws IOException {
    String md = report();
    // weftGet 2 ns/op, guavaGet 0.004 us/op = 4 ns/op, holderGet 1 ns/op
    assertThat(md).contains("LazyBench: average time per operation, lower is better (ns/op)");
    assertThat(line(md, "| 1 | weftGet |")).contains("| 2.00× |").contains("| 0.50× |");
    assertThat(line(md, "| 1 | 2.00 ± 0.100 | 4.00 ± 0.100 | 1.00 ± 0.100 |"))
        .contains("0.50× vs holderGet");
  }

  @Test
  void groupBenchmarksAreComparedRoleByRole() throws IOException {
    String md = report();
    assertThat(line(md, "| 2 | read | 100.0 ± 0.500 | 20.00 ± 0.500 |")).contains("5.00× vs stampedRw");
    assertThat(line(md, "| 2 | write | 10.00 ± 0.500 | 20.00 ± 0.500 |")).contains("0.50× vs stampedRw");
  }

  @Test
  void goalsShowMetMissedUnstableAndNotMeasured() throws IOException {
    String md = report();
    assertThat(line(md, "| uncontended |")).contains("**UNSTABLE** (met in 1 of 2 repeats)");
    assertThat(line(md, "| four threads |")).contains("2.00× vs reentrantLock").contains("**MET**");
    assertThat(line(md, "| vs guava |")).contains("2.00×").contains("**MET**");
    assertThat(line(md, "| gap to holder |")).contains("0.50×").contains("reported");
    assertThat(line(md, "| reader ten times |")).contains("5.00×").contains("**MISSED**");
    assertThat(line(md, "| no allocation |")).contains("-prof gc").contains("not measured");
    assertThat(line(md, "| on jdk 25 |")).contains("JDK-25-only comparison: not in this run");
    assertThat(line(md, "| missing |")).contains("not measured");
    assertThat(line(md, "| fairness |")).contains("not a JMH number");
  }

  @Test
  void writesMachineInfoAndChartsThatDecodeAsImages() throws IOException {
    String md = report();
    assertThat(md).contains("| CPU | Test CPU |").contains("| Cores | 2 |")
        .contains("jmh-r1.json, jmh-r2.json, jmh-t1.json, jmh-t4.json");
    assertThat(md).contains("Spread between repeats").contains("scaling with threads");
    List<Path> pngs;
    try (Stream<Path> s = Files.list(dir.resolve("charts"))) {
      pngs = s.collect(Collectors.toList());
    }
    assertThat(pngs).isNotEmpty();
    assertThat(pngs.stream().map(p -> p.getFileName().toString()))
        .anyMatch(n -> n.contains("scaling"));
    for (Path p : pngs) {
      assertThat(md).contains("](charts/" + p.getFileName() + ")");
      BufferedImage img = ImageIO.read(p.toFile());
      assertThat(img).as(p.toString()).isNotNull();
      assertThat(img.getWidth()).isGreaterThan(100);
    }
  }

  @Test
  void anEmptyFolderGivesAReportThatSaysSo() throws IOException {
    Path out = new Report(dir, dir.resolve("none.tsv")).write();
    assertThat(Files.readString(out)).contains("No benchmark results found").contains("No goals file");
  }

  @Test
  void scenariosAndImplementationParamsAreComparedOnlyWithinOneScenario() throws IOException {
    Files.writeString(dir.resolve("jmh.json"), Fixtures.array(
        Fixtures.bench("SeqLockBench.read_weftSeqLock", "thrpt", 1, Map.of(), 100, 1, "ops/us", ""),
        Fixtures.bench("SeqLockBench.read_stampedOptimistic", "thrpt", 1, Map.of(), 50, 1, "ops/us", ""),
        Fixtures.bench("SeqLockBench.write_weftSeqLock", "thrpt", 1, Map.of(), 30, 1, "ops/us", ""),
        Fixtures.bench("SeqLockBench.write_stamped", "thrpt", 1, Map.of(), 10, 1, "ops/us", ""),
        Fixtures.bench("SpinLockBench.uncontended", "thrpt", 1, Map.of("lock", "SpinLock"), 40, 1, "ops/us", ""),
        Fixtures.bench("SpinLockBench.uncontended", "thrpt", 1, Map.of("lock", "ReentrantLock"), 20, 1, "ops/us", ""),
        Fixtures.bench("SpinLockBench.contended2", "thrpt", 2, Map.of("lock", "SpinLock"), 9, 1, "ops/us", ""),
        Fixtures.bench("SpinLockBench.contended2", "thrpt", 2, Map.of("lock", "ReentrantLock"), 3, 1, "ops/us", "")));
    Files.writeString(dir.resolve("goals.tsv"), String.join("\n",
        "SeqLock\tratio\t^weft\toptimistic\tscenario=read\t>=\t0.95\tread goal",
        "SeqLock\tratio\t^weft\tstamped\tscenario=write\t>=\t1.5\twrite goal",
        "SpinLock\tratio\t^weftSpinLock$\t^reentrantLock$\tthreads=2\t>=\t2\tspin goal") + "\n");
    String md = Files.readString(new Report(dir, dir.resolve("goals.tsv")).write());
    assertThat(line(md, "| read goal |")).contains("2.00× vs stampedOptimistic").contains("**MET**");
    assertThat(line(md, "| write goal |")).contains("3.00× vs stamped").contains("**MET**");
    assertThat(line(md, "| spin goal |")).contains("3.00× vs reentrantLock")
        .contains("SpinLockBench.weftSpinLock @")
        .contains("scenario=contended2").contains("**MET**");
    assertThat(line(md, "| read | 1 | 100.0 ± 1.00 |")).contains("2.00× vs stampedOptimistic");
    assertThat(line(md, "| write | 1 | ")).contains("3.00× vs stamped").doesNotContain("Optimistic");
  }

  @Test
  void alternativesNamedAfterAWeftScenarioAreComparedOnlyWithIt() {
    assertThat(Report.groups(List.of("weftRead", "weftWrite", "rwLockRead", "stampedRead",
            "stampedWrite", "synchronizedBlock")))
        .containsExactly(
            List.of("weftRead", "rwLockRead", "stampedRead", "synchronizedBlock"),
            List.of("weftWrite", "stampedWrite", "synchronizedBlock"));
    assertThat(Report.groups(List.of("weftSpinLock", "weftTicketLock", "reentrantLock")))
        .containsExactly(List.of("weftSpinLock", "weftTicketLock", "reentrantLock"));
    assertThat(Report.groups(List.of("a", "b"))).containsExactly(List.of("a", "b"));
  }

  private static String lock(String kind, int threads, double score) {
    return Fixtures.bench("LockScalingBench.shared", "thrpt", threads, Map.of("lock", kind), score,
        score / 10, "ops/us", "");
  }

  private static String par(String method, int cpus, double score) {
    return Fixtures.bench("ParallelBench." + method, "thrpt", 1, Map.of("n", "1000000"), score,
        score / 10, "ops/s", "", List.of("-XX:+UseG1GC", "-XX:ActiveProcessorCount=" + cpus));
  }

  /** A thread sweep as jmh/run-scaling.sh writes it, at 1, 4 and 16 threads. */
  private void sweepFixture() throws IOException {
    Files.writeString(dir.resolve("jmh-t1.json"), Fixtures.array(
        lock("SpinLock", 1, 100), lock("ReentrantLock", 1, 50), lock("synchronized", 1, 80)));
    Files.writeString(dir.resolve("jmh-t4.json"), Fixtures.array(
        lock("SpinLock", 4, 40), lock("ReentrantLock", 4, 20), lock("synchronized", 4, 10)));
    Files.writeString(dir.resolve("jmh-t16.json"), Fixtures.array(
        lock("SpinLock", 16, 30), lock("ReentrantLock", 16, 7.5), lock("synchronized", 16, 4)));
    Files.writeString(dir.resolve("jmh-t1-parallel.json"), Fixtures.array(
        par("weft", 1, 10), par("parallelStream", 1, 10), par("sequential", 1, 10)));
    Files.writeString(dir.resolve("jmh-t4-parallel.json"), Fixtures.array(
        par("weft", 4, 38), par("parallelStream", 4, 30)));
    Files.writeString(dir.resolve("jmh-t16-parallel.json"), Fixtures.array(
        par("weft", 16, 120), par("parallelStream", 16, 100), par("sequential", 16, 10)));
    Files.writeString(dir.resolve("machine.txt"), "date: 2026-12-03 21:00 UTC\n"
        + "profile: scaling (device)\ncpu: Test CPU\ncores: 16\n");
    Files.writeString(dir.resolve("goals.tsv"), String.join("\n",
        "^LockScaling\tratio\t^weftSpinLock$\t^reentrantLock$\t*\t>=\t1.0\tspin at every count",
        "Parallel\tratio\t^weft$\t^sequential$\tthreads=16\t>=\t10\tten times sequential",
        "Parallel\tscaling\t^weft$\t-\tthreads=16\t>=\t14\tparallel scales",
        "^LockScaling\tscaling\t^weftSpinLock$\t-\tthreads=16\treport\t\tspin scaling") + "\n");
  }

  @Test
  void aSweepGetsRatiosAndScalingAtItsHighestThreadCountAndASummary() throws IOException {
    sweepFixture();
    String md = Files.readString(new Report(dir, dir.resolve("goals.tsv")).write());
    // Summary after the goals: weft / each alternative at 16 threads, and weft's own scaling.
    assertThat(md.indexOf("## Scaling at the highest thread count"))
        .isGreaterThan(md.indexOf("## Goals")).isLessThan(md.indexOf("## LockScalingBench"));
    assertThat(line(md, "| LockScalingBench | scenario=shared | 16 | weftSpinLock |"))
        .contains("reentrantLock 4.00×, synchronized 7.50×").contains("| 0.30× from 1 |");
    // Parallel: the thread count is the processors the fork saw; sequential only at 1 and 16.
    assertThat(line(md, "| ParallelBench | n=1000000 | 16 | weft |"))
        .contains("parallelStream 1.20×").contains("sequential 12.00×").contains("| 12.00× from 1 |");
    // Per class: the ratio table at the top count and every variant's scaling.
    assertThat(md).contains("At 16 threads (the highest measured), weft ÷ each alternative");
    assertThat(line(md, "| 1000000 | weft | 1.20× | 12.00× |")).isNotNull();
    assertThat(line(md, "| shared | weftSpinLock | 4.00× | 7.50× |")).isNotNull();
    assertThat(line(md, "| shared | 0.30× from 1 | 0.15× from 1 | 0.05× from 1 |")).isNotNull();
    assertThat(line(md, "| 1000000 | 12.00× from 1 | 10.00× from 1 | 1.00× from 1 |")).isNotNull();
    // Goals on the sweep: ratios per thread count, and scaling from the lowest count.
    assertThat(md.lines().filter(l -> l.contains("| spin at every count |")).count()).isEqualTo(3);
    assertThat(line(md, "| spin at every count |", "16 threads")).contains("4.00× vs reentrantLock")
        .contains("**MET**");
    assertThat(line(md, "| ten times sequential |")).contains("12.00× vs sequential")
        .contains("**MET**");
    assertThat(line(md, "| parallel scales |")).contains("12.00× vs its speed at 1 thread")
        .contains("scaling ≥ 14.00×").contains("**MISSED**");
    assertThat(line(md, "| spin scaling |")).contains("0.30×").contains("reported");
    // One line chart per curve (the locks' scores span 4 to 100: that one is logarithmic).
    try (Stream<Path> s = Files.list(dir.resolve("charts"))) {
      assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.contains("scaling")))
          .hasSize(2);
    }
  }

  @Test
  void lineChartsGoLogarithmicOnlyWhenTheScoresSpanMoreThanTwentyTimes() {
    DefaultStatisticalCategoryDataset wide = new DefaultStatisticalCategoryDataset();
    wide.add(100, 5, "a", "1");
    wide.add(2, 3, "a", "16");
    assertThat(Charts.logScale(wide)).isTrue();
    DefaultStatisticalCategoryDataset narrow = new DefaultStatisticalCategoryDataset();
    narrow.add(100, 5, "a", "1");
    narrow.add(10, 3, "a", "16");
    assertThat(Charts.logScale(narrow)).isFalse();
    DefaultStatisticalCategoryDataset zero = new DefaultStatisticalCategoryDataset();
    zero.add(100, 5, "a", "1");
    zero.add(0, 0, "a", "16");
    assertThat(Charts.logScale(zero)).isFalse();
  }

  /** Sample-mode results of two locks at one point, the alternative's in ns/op. */
  private String tailsReport() throws IOException {
    Files.writeString(dir.resolve("jmh.json"), Fixtures.array(
        Fixtures.sample("LockLatencyBench.contended2", 2, Map.of("lock", "SpinLock", "section", "short"),
            "us/op", 0.01, 0.03, 0.05, 0.06, 0.4, 46, 2300, 2400, 2400, 2400),
        Fixtures.sample("LockLatencyBench.contended2", 2, Map.of("lock", "ReentrantLock", "section", "short"),
            "ns/op", 20, 80, 150, 200, 400, 1000, 5000, 9000, 9000, 9000),
        Fixtures.bench("LockLatencyBench.contended2", "thrpt", 2, Map.of("lock", "SpinLock"), 1, 0.1,
            "ops/us", "")));
    Files.writeString(dir.resolve("goals.tsv"), String.join("\n",
        "LockLatency\tp99.9\t^weftSpinLock$\t^reentrantLock$\tthreads=2\t>=\t1.0\tp999 vs RL",
        "LockLatency\tp50\t^weftSpinLock$\t^reentrantLock$\t*\t>=\t1.0\tmedian vs RL",
        "LockLatency\tp99:p50\t^weftSpinLock$\t^reentrantLock$\t*\t>=\t1.0\tp99 under RL median",
        "LockLatency\tmax\t^weftSpinLock$\t-\t*\t<=\t1000\tbackstop",
        "Nope\tp99\tweft\tx\t*\t>=\t1\tno samples") + "\n");
    return Files.readString(new Report(dir, dir.resolve("goals.tsv")).write());
  }

  @Test
  void sampleModeGetsATailsTableInOneUnit() throws IOException {
    String md = tailsReport();
    // the section's common unit (ns/op here), every percentile converted into it
    assertThat(md).contains("Tails (ns/op;");
    assertThat(line(md, "| p50 | p90 | p99 | p99.9 | p99.99 | max |")).startsWith("| scenario | section | threads | variant");
    assertThat(line(md, "| contended2 | short | 2 | weftSpinLock |"))
        .endsWith("| 30.00 | 50.00 | 400.0 | 46,000 | 2,300,000 | 2,400,000 |");
    assertThat(line(md, "| contended2 | short | 2 | reentrantLock |"))
        .endsWith("| 80.00 | 150.0 | 400.0 | 1,000 | 5,000 | 9,000 |");
    // the throughput result has no tails
    assertThat(md.lines().filter(l -> l.contains("Tails ("))).hasSize(1);
  }

  @Test
  void percentileGoalsCompareTheNamedPercentiles() throws IOException {
    String md = tailsReport();
    // RL p99.9 1 us vs SpinLock 46 us: speed ratio 1/46
    assertThat(line(md, "| p999 vs RL |")).contains("0.02×").contains("(its 1.00 µs, weft's 46.00 µs)").contains("**MISSED**");
    // RL p50 0.08 us vs SpinLock 0.03 us
    assertThat(line(md, "| median vs RL |")).contains("2.67×").contains("**MET**");
    // SpinLock p99 0.4 us vs RL p50 0.08 us
    assertThat(line(md, "| p99 under RL median |")).contains("0.20×").contains("**MISSED**");
    assertThat(line(md, "| backstop |")).contains("2,400 µs").contains("max ≤ 1,000 µs").contains("**MISSED**");
    assertThat(line(md, "| no samples |")).contains("not measured");
  }

  @Test
  void sampleModeGetsAPercentileChartPerPoint() throws IOException {
    String md = tailsReport();
    List<Path> pngs;
    try (Stream<Path> s = Files.list(dir.resolve("charts"))) {
      pngs = s.filter(p -> p.getFileName().toString().contains("percentiles"))
          .collect(Collectors.toList());
    }
    assertThat(pngs).hasSize(1);
    assertThat(md).contains("](charts/" + pngs.get(0).getFileName() + ")");
    BufferedImage img = ImageIO.read(pngs.get(0).toFile());
    assertThat(img.getWidth()).isEqualTo(860);
  }

  @Test
  void percentileAxisLabelsReadAsPercentiles() {
    assertThat(Charts.percentileX(99.9)).isCloseTo(1000, org.assertj.core.data.Offset.offset(1e-6));
    assertThat(Charts.PercentileFormat.label(2, 1e7)).isEqualTo("50%");
    assertThat(Charts.PercentileFormat.label(1000, 1e7)).isEqualTo("99.9%");
    assertThat(Charts.PercentileFormat.label(1e7, 1e7)).isEqualTo("max");
    assertThat(Report.tailName(99.99)).isEqualTo("p99.99");
    assertThat(Report.tailName(100)).isEqualTo("max");
    assertThat(Report.tailName(50)).isEqualTo("p50");
  }

  @Test
  void starvationOutputIsIncludedVerbatim() throws IOException {
    Files.writeString(dir.resolve("starvation-t4.txt"),
        "4 threads, 10 s per lock, 2 CPUs\nTicketLock  1.0  -2.0%  +3.0%  0.500 ms  yes\n");
    String md = tailsReport();
    assertThat(md).contains("## Starvation (TicketLockFairnessBench)")
        .contains("`starvation-t4.txt`:").contains("TicketLock  1.0  -2.0%  +3.0%  0.500 ms  yes");
  }
}
