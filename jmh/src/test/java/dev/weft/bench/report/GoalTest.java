package dev.weft.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GoalTest {
  @TempDir Path dir;

  @Test
  void parsesRowsSkippingCommentsAndTheHeader() throws IOException {
    Path f = dir.resolve("goals.tsv");
    Files.writeString(f, "# comment\n\nclass\tmetric\tweft\talternative\twhere\top\ttarget\tdescription\n"
        + "SpinLock\tratio\tspin\treentrant\tthreads=2;n=10|100\t>=\t2.0\tfast\n");
    List<Goal> goals = Goal.read(f);
    assertThat(goals).hasSize(1);
    Goal g = goals.get(0);
    assertThat(g.met(2.0)).isTrue();
    assertThat(g.met(1.99)).isFalse();
    assertThat(g.judged()).isTrue();
    assertThat(g.matches(new Result.Key("SpinLockBench", "thrpt", Map.of("N", "100"), 2, ""))).isTrue();
    assertThat(g.matches(new Result.Key("SpinLockBench", "thrpt", Map.of("n", "1000"), 2, ""))).isFalse();
    assertThat(g.matches(new Result.Key("SpinLockBench", "thrpt", Map.of("n", "10"), 1, ""))).isFalse();
    assertThat(g.matches(new Result.Key("SpinLockBench", "thrpt", Map.of(), 2, ""))).isFalse();
    assertThat(g.matches(new Result.Key("MutexBench", "thrpt", Map.of("n", "10"), 2, ""))).isFalse();
  }

  @Test
  void reportsBadRowsWithTheLineNumber() throws IOException {
    Path f = dir.resolve("goals.tsv");
    Files.writeString(f, "# x\nSpinLock\tratio\tspin\n");
    assertThatThrownBy(() -> Goal.read(f)).isInstanceOf(IOException.class)
        .hasMessageContaining(":2:").hasMessageContaining("8 tab-separated columns");
    Files.writeString(f, "SpinLock\tspeed\tspin\tx\t*\t>=\t1\td\n");
    assertThatThrownBy(() -> Goal.read(f)).hasMessageContaining("metric");
    Files.writeString(f, "SpinLock\tratio\tspin\tx\t*\t>=\t\td\n");
    assertThatThrownBy(() -> Goal.read(f)).hasMessageContaining("target");
    Files.writeString(f, "SpinLock\tratio\tspin(\tx\t*\t>=\t1\td\n");
    assertThatThrownBy(() -> Goal.read(f)).hasMessageContaining("bad regex");
  }

  @Test
  void aMissingFileHasNoGoals() throws IOException {
    assertThat(Goal.read(dir.resolve("absent.tsv"))).isEmpty();
  }

  @Test
  void theCheckedInGoalsFileParses() throws IOException {
    Path goals = Paths.get("goals.tsv"); // surefire runs in the module folder, jmh/
    assertThat(goals).exists();
    assertThat(Goal.read(goals)).hasSizeGreaterThan(15);
  }

  @Test
  void theCheckedInScalingGoalsFileParses() throws IOException {
    List<Goal> goals = Goal.read(Paths.get("scaling-goals.tsv"));
    assertThat(goals).hasSizeGreaterThan(10);
    assertThat(goals).anyMatch(g -> g.metric().equals("scaling") && g.judged());
    assertThat(goals.stream().filter(g -> g.metric().equals("scaling")).findFirst().orElseThrow()
        .condition()).isEqualTo("scaling ≥ 12.00×");
  }

  @Test
  void parsesPercentileMetrics() throws IOException {
    Path f = dir.resolve("goals.tsv");
    Files.writeString(f, String.join("\n",
        "LockLatency\tp99.9\tweftSpinLock\treentrantLock$\t*\t>=\t1.0\ttail",
        "Handoff\tp99:p50\tweftCondvar\tcondition\t*\t>=\t1.0\thand-off",
        "LockLatency\tmax\tweftSpinLock\t-\t*\t<=\t1000\tbackstop",
        "LockLatency\tmax\tweftSpinLock\t-\t*\treport\t\tworst") + "\n");
    List<Goal> goals = Goal.read(f);
    assertThat(goals).allMatch(Goal::percentile);
    assertThat(goals.get(0).weftPercentile()).isEqualTo(99.9);
    assertThat(goals.get(0).alternativePercentile()).isEqualTo(99.9);
    assertThat(goals.get(0).condition()).isEqualTo("p99.9 ratio ≥ 1.00×");
    assertThat(goals.get(1).weftPercentile()).isEqualTo(99.0);
    assertThat(goals.get(1).alternativePercentile()).isEqualTo(50.0);
    assertThat(goals.get(1).condition()).isEqualTo("p99 vs the alternative's p50 ratio ≥ 1.00×");
    assertThat(goals.get(2).weftPercentile()).isEqualTo(100.0);
    assertThat(goals.get(2).alternative()).isNull();
    assertThat(goals.get(2).condition()).isEqualTo("max ≤ 1,000 µs");
    assertThat(goals.get(2).met(999)).isTrue();
    assertThat(goals.get(2).met(1001)).isFalse();
    assertThat(goals.get(3).judged()).isFalse();
    assertThat(new Goal(1, null, "ratio", null, null, Map.of(), ">=", 1, "").percentile()).isFalse();
  }

  @Test
  void rejectsPercentilesOutOfRange() throws IOException {
    Path f = dir.resolve("goals.tsv");
    Files.writeString(f, "LockLatency\tp101\tweft\tx\t*\t>=\t1\td\n");
    assertThatThrownBy(() -> Goal.read(f)).hasMessageContaining("between p0 and p100");
    Files.writeString(f, "LockLatency\tp99.9x\tweft\tx\t*\t>=\t1\td\n");
    assertThatThrownBy(() -> Goal.read(f)).hasMessageContaining("percentile");
  }
}
