package dev.weft.bench;

import dev.weft.Parallel;
import java.util.Arrays;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Gatherers;
import java.util.stream.LongStream;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JDK 25 only: {@link ParallelSmallHeavyBench}'s blocking scenario (N = 2 to 16 elements that
 * each park for 1 ms) on virtual threads. {@code blocking_weftVirtualThreadsN} is {@code
 * Parallel.map} with {@code options().threads(N).executor(newVirtualThreadPerTaskExecutor())};
 * {@code blocking_weftThreadsN} is the default worker source with {@code threads(N)} (as in
 * {@code ParallelSmallHeavyBench}, repeated here so that the same run compares it with the
 * JDK's answer); {@code blocking_mapConcurrent} is {@code Gatherers.mapConcurrent(N, f)} (one
 * virtual thread per element, at most N at a time); {@code blocking_sequential} is the loop.
 *
 * <p>Goals (issue #19): both weft variants &ge; 0.8&middot;N &times; {@code
 * blocking_sequential}; weft against {@code mapConcurrent} reported.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-preview")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ParallelSmallHeavyJdk25Bench {
  @Param({"2", "4", "8", "16"})
  int n;

  long[] data;
  ExecutorService virtualThreads;
  Parallel.Options threadsN;
  Parallel.Options virtualThreadsN;

  @Setup(Level.Trial)
  public void setUp() {
    data = new long[n];
    Arrays.setAll(data, i -> i);
    virtualThreads = Executors.newVirtualThreadPerTaskExecutor();
    threadsN = Parallel.options().threads(n);
    virtualThreadsN = Parallel.options().threads(n).executor(virtualThreads);
  }

  @TearDown(Level.Trial)
  public void tearDown() throws InterruptedException {
    virtualThreads.shutdown();
    virtualThreads.awaitTermination(10, TimeUnit.SECONDS);
  }

  @Benchmark
  public long[] blocking_sequential() {
    long[] in = data;
    long[] out = new long[in.length];
    for (int i = 0; i < in.length; i++) {
      out[i] = ParallelSmallHeavyBench.blockingElement(in[i]);
    }
    return out;
  }

  @Benchmark
  public long[] blocking_weftThreadsN() {
    return Parallel.map(data, ParallelSmallHeavyBench::blockingElement, threadsN);
  }

  @Benchmark
  public long[] blocking_weftVirtualThreadsN() {
    return Parallel.map(data, ParallelSmallHeavyBench::blockingElement, virtualThreadsN);
  }

  @Benchmark
  public long[] blocking_mapConcurrent() {
    return LongStream.of(data)
        .boxed()
        .gather(Gatherers.mapConcurrent(n, (Long x) -> ParallelSmallHeavyBench.blockingElement(x)))
        .mapToLong(Long::longValue)
        .toArray();
  }
}
