package dev.weft.bench;

import dev.weft.Parallel;
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
 * The first parallel call in a fresh JVM (issue #19, reported, no goal): one single shot per
 * fork, no warm-up, many forks, so each sample is a cold call: classes loaded and initialised
 * on the way, the code interpreted, and the workers started (weft's shared pool, the common
 * {@code ForkJoinPool}).
 *
 * <p>{@code weft} is {@code Parallel.map} with the default options, {@code parallelStream} is
 * {@code Arrays.stream(data).parallel().map(f).toArray()}, {@code sequential} the loop; all
 * over N = 1e4 elements of {@link ParallelBench#expensive} (about 5 ms of work once
 * compiled). The setup builds the input without touching {@code Parallel}, streams or the
 * common pool, so each method pays its own first use.
 *
 * <p>The annotations ask for 20 forks, no warm-up and one measurement: run it with exactly
 * those settings (jmh/run-benchmarks.sh runs it separately from the other benchmarks, with
 * {@code -f 20 -wi 0 -i 1}); a run with warm-up iterations measures warm calls instead.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(20)
@Warmup(iterations = 0)
@Measurement(iterations = 1)
public class ParallelColdStartBench {
  @Param({"10000"})
  int n;

  long[] data;

  @Setup(Level.Trial)
  public void setUp() {
    data = new long[n];
    for (int i = 0; i < data.length; i++) {
      data[i] = i;
    }
  }

  @Benchmark
  public long[] sequential() {
    long[] in = data;
    long[] out = new long[in.length];
    for (int i = 0; i < in.length; i++) {
      out[i] = ParallelBench.expensive(in[i]);
    }
    return out;
  }

  @Benchmark
  public long[] parallelStream() {
    return Arrays.stream(data).parallel().map(ParallelBench::expensive).toArray();
  }

  @Benchmark
  public long[] weft() {
    return Parallel.map(data, ParallelBench::expensive);
  }
}
