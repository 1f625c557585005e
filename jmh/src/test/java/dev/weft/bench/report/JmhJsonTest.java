package dev.weft.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JmhJsonTest {
  @TempDir Path dir;

  @Test
  void readsPlainBenchmarksWithParamsAndNaNErrors() throws IOException {
    Path f = dir.resolve("jmh-r2.json");
    Files.writeString(f, Fixtures.array(
        Fixtures.bench("SpinLockBench.weftLock", "thrpt", 2, Map.of("n", "10"), 12.5, Double.NaN,
            "ops/us", Fixtures.metric("\u00b7gc.alloc.rate.norm", 0.01, Double.NaN, "B/op"))));
    JmhJson.Parsed p = JmhJson.read(f);
    assertThat(p.results()).hasSize(1);
    Result r = p.results().get(0);
    assertThat(r.benchClass()).isEqualTo("SpinLockBench");
    assertThat(r.variant()).isEqualTo("weftLock");
    assertThat(r.isWeft()).isTrue();
    assertThat(r.role()).isEmpty();
    assertThat(r.threads()).isEqualTo(2);
    assertThat(r.params()).containsExactly(Map.entry("n", "10"));
    assertThat(r.score()).isEqualTo(12.5);
    assertThat(r.error()).isNaN();
    assertThat(r.allocBytesPerOp()).isEqualTo(0.01);
    assertThat(r.run()).isEqualTo(new Result.Run("jmh-r2.json", 2, false));
    assertThat(p.info().jdkVersion()).isEqualTo("17.0.15");
  }

  @Test
  void splitsGroupBenchmarksIntoRolesAndDropsTheGroupTotal() throws IOException {
    Path f = dir.resolve("jmh.json");
    Files.writeString(f, Fixtures.array(
        Fixtures.bench("SeqLockBench.stampedRw", "thrpt", 2, Map.of(), 30, 1, "ops/us",
            Fixtures.metric("stampedRw_read", 25, 1, "ops/us") + ","
                + Fixtures.metric("stampedRw_write", 5, 1, "ops/us"))));
    List<Result> rs = JmhJson.read(f).results();
    assertThat(rs).extracting(Result::role).containsExactly("read", "write");
    assertThat(rs).extracting(Result::score).containsExactly(25.0, 5.0);
    assertThat(rs).allSatisfy(r -> assertThat(r.variant()).isEqualTo("stampedRw"));
  }

  @Test
  void aScenarioPrefixBecomesTheScenarioPseudoParam() throws IOException {
    Path f = dir.resolve("jmh.json");
    Files.writeString(f, Fixtures.array(
        Fixtures.bench("SeqLockBench.read_weftSeqLock", "thrpt", 1, Map.of(), 9, 1, "ops/us", ""),
        Fixtures.bench("SeqLockBench.rw_stamped", "thrpt", 2, Map.of("n", "1"), 30, 1, "ops/us",
            Fixtures.metric("rw_stamped_reader", 25, 1, "ops/us") + ","
                + Fixtures.metric("rw_stamped_writer", 5, 1, "ops/us"))));
    List<Result> rs = JmhJson.read(f).results();
    assertThat(rs).extracting(Result::variant)
        .containsExactly("weftSeqLock", "stamped", "stamped");
    assertThat(rs.get(0).isWeft()).isTrue();
    assertThat(rs.get(0).params()).containsExactly(Map.entry("scenario", "read"));
    assertThat(rs.get(1).params()).containsEntry("scenario", "rw").containsEntry("n", "1");
    assertThat(rs.subList(1, 3)).extracting(Result::role).containsExactly("reader", "writer");
    assertThat(rs.get(0).key()).isNotEqualTo(rs.get(1).key());
  }

  @Test
  void anImplementationParamBecomesTheVariantAndTheMethodTheScenario() {
    Map<String, String> p = new java.util.TreeMap<>(Map.of("lock", "SpinLock", "n", "4"));
    assertThat(JmhJson.normalise("contended2", p)).isEqualTo("weftSpinLock");
    assertThat(p).containsExactly(Map.entry("n", "4"), Map.entry("scenario", "contended2"));
    p = new java.util.TreeMap<>(Map.of("impl", "ReentrantLockFair"));
    assertThat(JmhJson.normalise("uncontended", p)).isEqualTo("reentrantLockFair");
    p = new java.util.TreeMap<>(Map.of("lock", "SeqLocked", "scenario", "mine"));
    assertThat(JmhJson.normalise("read_x", p)).isEqualTo("weftSeqLocked");
    assertThat(p).containsExactly(Map.entry("scenario", "mine")); // a real @Param wins
    p = new java.util.TreeMap<>();
    assertThat(JmhJson.normalise("weftLock", p)).isEqualTo("weftLock");
    assertThat(p).isEmpty();
    assertThat(JmhJson.implName("synchronized")).isEqualTo("synchronized");
    assertThat(JmhJson.implName("onceCell")).isEqualTo("weftOnceCell");
  }

  @Test
  void normalisesGroupRoles() {
    assertThat(JmhJson.role("weftRw_read", "weftRw")).isEqualTo("read");
    assertThat(JmhJson.role("weftReader", "weft")).isEqualTo("reader");
    assertThat(JmhJson.role("readStamped", "stamped")).isEqualTo("read");
    assertThat(JmhJson.role("writerOfStamped", "x")).isEqualTo("write");
    assertThat(JmhJson.role("ping", "x")).isEqualTo("ping");
  }

  @Test
  void describesFileNames() {
    assertThat(JmhJson.describe("jmh.json")).isEqualTo(new Result.Run("jmh.json", 1, false));
    assertThat(JmhJson.describe("jmh-t8-r3.json")).isEqualTo(new Result.Run("jmh-t8-r3.json", 3, true));
    assertThat(JmhJson.describe("jmh-t4.json").sweep()).isTrue();
  }

  @Test
  void rejectsSomethingThatIsNotJmhJson() throws IOException {
    Path f = dir.resolve("jmh.json");
    Files.writeString(f, "{\"not\": \"an array\"}");
    assertThatThrownBy(() -> JmhJson.read(f)).isInstanceOf(IOException.class)
        .hasMessageContaining("expected an array");
  }

  @Test
  void aForkLimitedToNProcessorsOnOneThreadCountsAsNThreads() throws IOException {
    Path f = dir.resolve("jmh-t8-parallel.json");
    Files.writeString(f, Fixtures.array(
        Fixtures.bench("ParallelBench.weft", "thrpt", 1, Map.of("n", "1000"), 9, 1, "ops/s", "",
            List.of("-XX:+UseG1GC", "-XX:ActiveProcessorCount=8")),
        Fixtures.bench("LockScalingBench.shared", "thrpt", 4, Map.of("lock", "SpinLock"), 9, 1,
            "ops/us", "", List.of("-XX:ActiveProcessorCount=8")),
        Fixtures.bench("ParallelBench.sequential", "thrpt", 1, Map.of("n", "1000"), 9, 1, "ops/s",
            "", List.of("-XX:ActiveProcessorCount=oops"))));
    List<Result> rs = JmhJson.read(f).results();
    // One benchmark thread spreading its work over the 8 processors the fork saw: 8.
    assertThat(rs.get(0).threads()).isEqualTo(8);
    assertThat(rs.get(0).run().sweep()).isTrue();
    // JMH's own thread count wins when it is more than one; an unparsable count is ignored.
    assertThat(rs.get(1).threads()).isEqualTo(4);
    assertThat(rs.get(2).threads()).isEqualTo(1);
  }

  @Test
  void readsThePercentilesOfSampleModeOnly() throws IOException {
    Path f = dir.resolve("jmh.json");
    Files.writeString(f, Fixtures.array(
        Fixtures.sample("LockLatencyBench.contended2", 2, Map.of("lock", "SpinLock"), "us/op",
            0.01, 0.03, 0.05, 0.06, 0.4, 46, 2300, 2400, 2400, 2400),
        Fixtures.bench("SpinLockBench.contended2", "thrpt", 2, Map.of("lock", "SpinLock"), 20, 1,
            "ops/us", "")));
    List<Result> rs = JmhJson.read(f).results();
    Result sample = rs.stream().filter(r -> r.mode().equals("sample")).findFirst().orElseThrow();
    assertThat(sample.variant()).isEqualTo("weftSpinLock");
    assertThat(sample.percentiles()).hasSize(10).containsEntry(99.9, 46.0).containsEntry(100.0, 2400.0);
    assertThat(sample.percentileIn(99.9, "ns/op")).isEqualTo(46_000.0);
    assertThat(sample.percentileIn(99.5, "us/op")).isNaN();
    Result thrpt = rs.stream().filter(r -> r.mode().equals("thrpt")).findFirst().orElseThrow();
    assertThat(thrpt.percentiles()).isEmpty();
  }
}
