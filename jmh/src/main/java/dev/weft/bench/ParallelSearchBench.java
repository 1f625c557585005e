package dev.weft.bench;

import dev.weft.Parallel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Predicate;
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
 * Short-circuiting searches (issue #19): {@code Parallel.findFirst} and {@code
 * Parallel.anyMatch} over a {@code List<Integer>} of N = 1e6 elements whose only match sits at
 * {@code matchAt} percent of the input (1: index 9,999; 50: index 499,999; 100: the last
 * element), against {@code parallelStream()} and a sequential loop, with default options.
 *
 * <p>Two scenarios, never compared with each other: {@code findFirst_*} ({@code
 * Parallel.findFirst(data, p)} against {@code data.parallelStream().filter(p).findFirst()})
 * and {@code anyMatch_*} ({@code Parallel.anyMatch(data, p)} against {@code
 * data.parallelStream().anyMatch(p)}).
 *
 * <p>{@code counted}: with {@code true} the predicate also adds one to a {@link LongAdder}
 * for every element it tests, and at the end of each iteration the fork prints the elements
 * tested per call ({@code tested per call: ...} in the JMH output; issue #19's goal: at
 * {@code matchAt=1}, findFirst tests no more than 3% of the elements). The adder costs more
 * than the comparison it counts, so the time goals use {@code counted=false}.
 *
 * <p>Goals: {@code findFirst_weft} &ge; 1.0&times; {@code findFirst_parallelStream} at every
 * {@code matchAt} ({@code counted=false}); anyMatch against the stream reported.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ParallelSearchBench {
  @Param({"1000000"})
  int n;

  /** Where the only match is, in percent of the input. */
  @Param({"1", "50", "100"})
  int matchAt;

  /** Whether the predicate counts the elements it tests. */
  @Param({"false", "true"})
  boolean counted;

  List<Integer> data;
  int matchIndex;
  Predicate<Integer> p;
  final LongAdder tested = new LongAdder();
  final LongAdder calls = new LongAdder();

  @Setup(Level.Trial)
  public void setUp() {
    List<Integer> list = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      list.add(i);
    }
    data = list;
    matchIndex = Math.max(0, (int) ((long) n * matchAt / 100) - 1);
    int target = matchIndex;
    if (counted) {
      LongAdder t = tested;
      p = x -> {
        t.increment();
        return x.intValue() == target;
      };
    } else {
      p = x -> x.intValue() == target;
    }
  }

  @Setup(Level.Iteration)
  public void resetCounts() {
    tested.reset();
    calls.reset();
  }

  @TearDown(Level.Iteration)
  public void printCounts() {
    long c = calls.sum();
    if (counted && c > 0) {
      double perCall = (double) tested.sum() / c;
      System.out.printf(Locale.ROOT,
          "tested per call: %.0f of %d elements (%.2f%%), match at index %d, %d calls%n",
          perCall, n, 100.0 * perCall / n, matchIndex, c);
    }
  }

  @Benchmark
  public Optional<Integer> findFirst_sequential() {
    calls.increment();
    for (Integer x : data) {
      if (p.test(x)) {
        return Optional.of(x);
      }
    }
    return Optional.empty();
  }

  @Benchmark
  public Optional<Integer> findFirst_parallelStream() {
    calls.increment();
    return data.parallelStream().filter(p).findFirst();
  }

  @Benchmark
  public Optional<Integer> findFirst_weft() {
    calls.increment();
    return Parallel.findFirst(data, p);
  }

  @Benchmark
  public boolean anyMatch_sequential() {
    calls.increment();
    for (Integer x : data) {
      if (p.test(x)) {
        return true;
      }
    }
    return false;
  }

  @Benchmark
  public boolean anyMatch_parallelStream() {
    calls.increment();
    return data.parallelStream().anyMatch(p);
  }

  @Benchmark
  public boolean anyMatch_weft() {
    calls.increment();
    return Parallel.anyMatch(data, p);
  }
}
