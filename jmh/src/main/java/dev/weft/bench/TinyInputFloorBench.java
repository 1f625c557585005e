package dev.weft.bench;

import dev.weft.Parallel;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongUnaryOperator;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The floor under issue #4's N = 10 goal (weft &ge; 0.9&times; a sequential loop for cheap
 * {@code x * x}): what the same loop costs when it sits in <em>any</em> library method rather
 * than in the benchmark method itself.
 *
 * <p>{@code localLoop} is {@link ParallelBench#sequential}'s loop, written in the benchmark
 * method. {@code helperLoop} is exactly that loop moved into a static method taking the array
 * and the function (plus the two null checks every public method needs). {@code weft} is
 * {@link Parallel#map(long[], LongUnaryOperator)}, which for 10 elements runs on the caller:
 * options check, interrupt check, the loop inside a try/catch. Measured on the 2-core VM
 * (JDK 17, 4 forks): local 10.19 ns, helper 11.63 ns (0.88&times;), weft 12.05 ns
 * (0.85&times;). So a plain helper is already under the goal's 0.9&times;, and weft's own
 * checks cost about 0.4 ns on top of it. See docs/parallel.md.
 *
 * <p>Issue #19 withdrew that ratio: small inputs of heavy elements now run in parallel by
 * default, and N = 10 cheap may cost at most 50 ns more than the loop, absolute: {@code weft}
 * minus {@code localLoop} here, in ns/op (a manual row in jmh/goals.tsv: the report compares
 * ratios, not differences).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(2)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 3, time = 1)
public class TinyInputFloorBench {
  long[] data;
  LongUnaryOperator f;

  /** Ten elements and the cheap function, as in {@code ParallelBench} with n=10, work=cheap. */
  @Setup
  public void setUp() {
    data = new long[10];
    for (int i = 0; i < data.length; i++) {
      data[i] = i;
    }
    f = x -> x * x;
  }

  /**
   * The loop in the benchmark method (the sequential baseline).
   *
   * @return the mapped array
   */
  @Benchmark
  public long[] localLoop() {
    long[] in = data;
    long[] out = new long[in.length];
    for (int i = 0; i < in.length; i++) {
      out[i] = f.applyAsLong(in[i]);
    }
    return out;
  }

  static long[] helper(long[] in, LongUnaryOperator fn) {
    Objects.requireNonNull(in, "data");
    Objects.requireNonNull(fn, "f");
    long[] out = new long[in.length];
    for (int i = 0; i < in.length; i++) {
      out[i] = fn.applyAsLong(in[i]);
    }
    return out;
  }

  /**
   * The same loop in a static helper method.
   *
   * @return the mapped array
   */
  @Benchmark
  public long[] helperLoop() {
    return helper(data, f);
  }

  /**
   * weft on the same input.
   *
   * @return the mapped array
   */
  @Benchmark
  public long[] weft() {
    return Parallel.map(data, f);
  }
}
