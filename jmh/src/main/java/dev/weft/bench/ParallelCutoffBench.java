package dev.weft.bench;

import dev.weft.Parallel;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Finds the sequential cut-off: the amount of work below which starting workers cannot pay
 * off. Each element costs about {@code rounds} dependent multiply-adds; {@code sequential} is a
 * plain loop, {@code alwaysSplit} is {@code Parallel.reduce} with the cut-off at zero (always
 * starts workers), and {@code weft} uses the default cut-off
 * ({@link Parallel#DEFAULT_SEQUENTIAL_CUTOFF}). The cut-off should sit where
 * {@code alwaysSplit} starts to beat {@code sequential} (its time at that point is the work
 * time to use), and {@code weft} should follow the better of the two on both sides of it.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class ParallelCutoffBench {
  /** Elements of 10 rounds each (~10-30 ns): 10 µs to 1 ms of sequential work. */
  @Param({"1000", "3000", "10000", "30000", "100000"})
  int n;

  long[] data;
  Parallel.Options split;

  @Setup(Level.Trial)
  public void setUp() {
    data = new long[n];
    Arrays.setAll(data, i -> i);
    split = Parallel.options().sequentialCutoff(Duration.ZERO);
  }

  static long work(long x) {
    long acc = x;
    for (int i = 0; i < 10; i++) {
      acc = acc * 7 + 13;
    }
    return acc;
  }

  @Benchmark
  public long sequential() {
    long sum = 0;
    for (long x : data) {
      sum += work(x);
    }
    return sum;
  }

  @Benchmark
  public long alwaysSplit() {
    return Parallel.reduce(data, ParallelCutoffBench::work, 0L, Long::sum, split);
  }

  @Benchmark
  public long weft() {
    return Parallel.reduce(data, ParallelCutoffBench::work, 0L, Long::sum);
  }
}
