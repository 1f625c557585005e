package dev.weft.bench;

import dev.weft.Parallel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.LongUnaryOperator;
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
 * {@code Parallel.map} over a {@code long[]} against the ways a Java developer would do it
 * today, all computing the same {@code long[]}: a sequential loop, a parallel stream (common
 * pool), {@code ExecutorService.invokeAll} over one fixed slice per thread (a pool created
 * once per trial, the chapter's exercise done with the JDK), and three ways of running weft:
 * {@code weft} with the default options (the shared warm pool of issue #19), {@code
 * weftNewThreads} with {@code Parallel.options().newThreadsPerCall()} (new threads started and
 * joined by every call, the default before issue #19) and {@code weftOnPool} with the same
 * fixed pool as {@code invokeAllFixedChunks} as its {@code Executor}.
 *
 * <p>Work per element: {@code cheap} is {@code x * x}; {@code expensive} is the chapter's
 * {@code expensive_computation} (1000 rounds of {@code acc * 7 + 13}, about 0.5 &micro;s);
 * {@code skewed} makes the first eighth of the elements expensive and the rest cheap, which a
 * fixed slice per thread cannot balance.
 *
 * <p>Goals (2 cores, default options, against the same run's alternatives; jmh/goals.tsv).
 * Issue #19: {@code weft} &ge; 1.0&times; {@code parallelStream} at every N and every kind of
 * work; &ge; 1.7&times; {@code sequential} at N = 1e3 expensive (a 500 &micro;s job) and
 * &ge; 1.85&times; at larger expensive inputs; at N = 10 cheap at most 50 ns slower than
 * {@code sequential} (absolute; with {@link TinyInputFloorBench}); {@code -prof gc} bytes per
 * call at N = 1e3 reported. Issue #4 (before): &ge; 1.8&times; sequential where N&middot;Q
 * &ge; 1e5, &ge; 1.0&times; parallel streams at large N, &ge; 0.9&times; sequential at N = 10
 * (withdrawn by #19).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class ParallelBench {
  @Param({"10", "100", "1000", "10000", "100000", "1000000"})
  int n;

  @Param({"cheap", "expensive", "skewed"})
  String work;

  long[] data;
  LongUnaryOperator f;
  ExecutorService pool;
  int threads;
  Parallel.Options onPool;
  Parallel.Options newThreads;

  /** The chapter's expensive_computation. */
  static long expensive(long x) {
    long acc = x;
    for (int i = 0; i < 1000; i++) {
      acc = acc * 7 + 13;
    }
    return acc;
  }

  @Setup(Level.Trial)
  public void setUp() {
    data = new long[n];
    Arrays.setAll(data, i -> i);
    long skewEnd = Math.max(1, n / 8);
    switch (work) {
      case "cheap":
        f = x -> x * x;
        break;
      case "expensive":
        f = ParallelBench::expensive;
        break;
      case "skewed":
        f = x -> x < skewEnd ? expensive(x) : x * x;
        break;
      default:
        throw new IllegalArgumentException("unknown work: " + work);
    }
    threads = Runtime.getRuntime().availableProcessors();
    pool = Executors.newFixedThreadPool(threads, r -> {
      Thread t = new Thread(r, "bench-pool");
      t.setDaemon(true);
      return t;
    });
    onPool = Parallel.options().executor(pool);
    newThreads = Parallel.options().newThreadsPerCall();
  }

  @TearDown(Level.Trial)
  public void tearDown() throws InterruptedException {
    pool.shutdown();
    pool.awaitTermination(10, TimeUnit.SECONDS);
  }

  @Benchmark
  public long[] sequential() {
    long[] in = data;
    long[] out = new long[in.length];
    for (int i = 0; i < in.length; i++) {
      out[i] = f.applyAsLong(in[i]);
    }
    return out;
  }

  @Benchmark
  public long[] parallelStream() {
    return Arrays.stream(data).parallel().map(f).toArray();
  }

  @Benchmark
  public long[] invokeAllFixedChunks() throws InterruptedException, ExecutionException {
    long[] in = data;
    long[] out = new long[in.length];
    int slice = (in.length + threads - 1) / threads;
    List<Callable<Void>> tasks = new ArrayList<>(threads);
    for (int lo = 0; lo < in.length; lo += slice) {
      int from = lo;
      int to = Math.min(in.length, lo + slice);
      tasks.add(() -> {
        for (int i = from; i < to; i++) {
          out[i] = f.applyAsLong(in[i]);
        }
        return null;
      });
    }
    for (Future<Void> done : pool.invokeAll(tasks)) {
      done.get();
    }
    return out;
  }

  @Benchmark
  public long[] weft() {
    return Parallel.map(data, f);
  }

  /**
   * weft with new threads started and joined by each call (no thread outlives it).
   *
   * @return the mapped array
   */
  @Benchmark
  public long[] weftNewThreads() {
    return Parallel.map(data, f, newThreads);
  }

  @Benchmark
  public long[] weftOnPool() {
    return Parallel.map(data, f, onPool);
  }
}
