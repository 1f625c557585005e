package dev.weft.bench;

import dev.weft.Scope;
import dev.weft.ScopedThread;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Spawn and join N trivial tasks (each returns its index; the op sums them): weft's
 * {@link Scope} against raw {@code Thread} start/join (the goal: weft within 5%, ratio >= 0.95),
 * against {@code ExecutorService} submit/get on a pool kept across ops (no thread creation: the
 * cost of reuse), and on a fresh pool per op (the structured equivalent: create, use, close).
 *
 * <p>Methods: {@code rawThread} (baseline), {@code weftJoin} (try-with-resources, join every
 * handle), {@code weftRun} ({@code Scope.run}, the end of the scope joins), {@code weftCapped}
 * (a {@code maxConcurrency} cap that never blocks: the cap's own cost), {@code executorPooled},
 * {@code executorPerOp}. JDK 25 comparisons with virtual threads and StructuredTaskScope are in
 * {@code ScopeJdk25Bench}.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ScopeBench {
  @Param({"1", "32"})
  int tasks;

  private ExecutorService pool;

  @Setup
  public void setUp() {
    pool = Executors.newCachedThreadPool();
  }

  @TearDown
  public void tearDown() throws InterruptedException {
    pool.shutdown();
    pool.awaitTermination(1, TimeUnit.MINUTES);
  }

  @Benchmark
  public long rawThread() throws InterruptedException {
    int n = tasks;
    Thread[] threads = new Thread[n];
    long[] results = new long[n];
    for (int i = 0; i < n; i++) {
      int k = i;
      threads[i] = new Thread(() -> results[k] = k);
      threads[i].start();
    }
    long sum = 0;
    for (int i = 0; i < n; i++) {
      threads[i].join();
      sum += results[i];
    }
    return sum;
  }

  @Benchmark
  public long weftJoin() throws InterruptedException {
    int n = tasks;
    ScopedThread<?>[] handles = new ScopedThread<?>[n];
    long sum = 0;
    try (Scope scope = Scope.open()) {
      for (int i = 0; i < n; i++) {
        long k = i;
        handles[i] = scope.spawn(() -> k);
      }
      for (int i = 0; i < n; i++) {
        sum += (Long) handles[i].join();
      }
    }
    return sum;
  }

  @Benchmark
  public long weftRun() throws InterruptedException {
    int n = tasks;
    long[] results = new long[n];
    Scope.run(scope -> {
      for (int i = 0; i < n; i++) {
        int k = i;
        scope.spawn(() -> {
          results[k] = k;
        });
      }
    });
    long sum = 0;
    for (long r : results) {
      sum += r;
    }
    return sum;
  }

  @Benchmark
  public long weftCapped() throws InterruptedException {
    int n = tasks;
    long[] results = new long[n];
    Scope.builder().maxConcurrency(n).run(scope -> {
      for (int i = 0; i < n; i++) {
        int k = i;
        scope.spawn(() -> {
          results[k] = k;
        });
      }
    });
    long sum = 0;
    for (long r : results) {
      sum += r;
    }
    return sum;
  }

  @Benchmark
  public long executorPooled() throws InterruptedException, ExecutionException {
    return submitAll(pool, tasks);
  }

  @Benchmark
  public long executorPerOp() throws InterruptedException, ExecutionException {
    ExecutorService perOp = Executors.newCachedThreadPool();
    try {
      return submitAll(perOp, tasks);
    } finally {
      perOp.shutdown();
      perOp.awaitTermination(1, TimeUnit.MINUTES);
    }
  }

  private static long submitAll(ExecutorService ex, int n)
      throws InterruptedException, ExecutionException {
    Future<?>[] fs = new Future<?>[n];
    for (int i = 0; i < n; i++) {
      long k = i;
      fs[i] = ex.submit(() -> k);
    }
    long sum = 0;
    for (Future<?> f : fs) {
      sum += (Long) f.get();
    }
    return sum;
  }
}
