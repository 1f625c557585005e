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
}
