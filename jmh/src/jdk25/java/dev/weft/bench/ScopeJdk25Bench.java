package dev.weft.bench;

import dev.weft.Scope;
import dev.weft.ScopedThread;
import java.util.concurrent.StructuredTaskScope;
import java.util.concurrent.StructuredTaskScope.Joiner;
import java.util.concurrent.StructuredTaskScope.Subtask;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JDK 25 only: spawn and join N trivial tasks with weft's {@link Scope} against JDK 25's preview
 * {@code StructuredTaskScope}, on platform and on virtual threads, with raw {@code Thread}
 * start/join as the baseline for each kind. Run with {@code --enable-preview}.
 *
 * <p>Methods: {@code rawPlatform}, {@code weftPlatform}, {@code stsPlatform};
 * {@code rawVirtual}, {@code weftVirtual}, {@code stsVirtual}.
 */
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-preview")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ScopeJdk25Bench {
  private static final ThreadFactory PLATFORM = Thread.ofPlatform().factory();

  @Param({"16"})
  int tasks;

  @Benchmark
  public long rawPlatform() throws InterruptedException {
    return raw(Thread.ofPlatform());
  }

  @Benchmark
  public long rawVirtual() throws InterruptedException {
    return raw(Thread.ofVirtual());
  }

  @Benchmark
  public long weftPlatform() throws InterruptedException {
    return weft(Scope.builder());
  }

  @Benchmark
  public long weftVirtual() throws InterruptedException {
    return weft(Scope.builder().virtualThreads());
  }

  @Benchmark
  public long stsPlatform() throws InterruptedException {
    try (var scope = StructuredTaskScope.open(Joiner.<Long>awaitAllSuccessfulOrThrow(),
        cf -> cf.withThreadFactory(PLATFORM))) {
      return sts(scope);
    }
  }

  @Benchmark
  public long stsVirtual() throws InterruptedException {
    try (var scope = StructuredTaskScope.open(Joiner.<Long>awaitAllSuccessfulOrThrow())) {
      return sts(scope);
    }
  }

  private long raw(Thread.Builder builder) throws InterruptedException {
    int n = tasks;
    Thread[] threads = new Thread[n];
    long[] results = new long[n];
    for (int i = 0; i < n; i++) {
      int k = i;
      threads[i] = builder.start(() -> results[k] = k);
    }
    long sum = 0;
    for (int i = 0; i < n; i++) {
      threads[i].join();
      sum += results[i];
    }
    return sum;
  }

  private long weft(Scope.Builder builder) throws InterruptedException {
    int n = tasks;
    ScopedThread<?>[] handles = new ScopedThread<?>[n];
    long sum = 0;
    try (Scope scope = builder.open()) {
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

  private long sts(StructuredTaskScope<Long, Void> scope) throws InterruptedException {
    int n = tasks;
    @SuppressWarnings("unchecked")
    Subtask<Long>[] subtasks = (Subtask<Long>[]) new Subtask<?>[n];
    for (int i = 0; i < n; i++) {
      long k = i;
      subtasks[i] = scope.fork(() -> k);
    }
    scope.join();
    long sum = 0;
    for (Subtask<Long> s : subtasks) {
      sum += s.get();
    }
    return sum;
  }
}
