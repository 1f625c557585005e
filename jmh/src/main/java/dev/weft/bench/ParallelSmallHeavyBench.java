package dev.weft.bench;

import dev.weft.Parallel;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
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
 * A handful of heavy elements (issue #19): N = 2, 4, 8 or 16 elements of about 1 ms each,
 * which must run in parallel by default although the input is tiny.
 *
 * <p>Two scenarios (the report never compares across them):
 *
 * <ul>
 *   <li>{@code cpu}: each element is {@link #CPU_CALLS} calls of {@link
 *       ParallelBench#expensive} chained, a busy computation of about 1 ms (fixed work, not
 *       calibrated per fork, so every variant does exactly the same work; the {@code
 *       cpu_sequential} score divided by N shows what one element costs on the machine at
 *       hand). {@code cpu_weft} is {@code Parallel.map} with the default options, against a
 *       sequential loop and a parallel stream. Goal: {@code cpu_weft} &ge; 1.8&times; {@code
 *       cpu_sequential} at every N.
 *   <li>{@code blocking}: each element parks for 1 ms ({@link LockSupport#parkNanos} until a
 *       deadline, so a spurious wake-up does not shorten it), standing for I/O. {@code
 *       blocking_weftThreadsN} is {@code Parallel.map} with {@code options().threads(N)} and
 *       the default worker source, against a sequential loop. Goal: &ge; 0.8&middot;N
 *       &times; {@code blocking_sequential} (1.6&times; at N = 2 up to 12.8&times; at N = 16):
 *       on 2 cores that needs {@code threads(N)} above the shared pool's size to be honoured.
 *       The same with a virtual-thread executor and against {@code Gatherers.mapConcurrent} is
 *       {@code ParallelSmallHeavyJdk25Bench} (JDK 25 only).
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ParallelSmallHeavyBench {
  /**
   * Calls of {@link ParallelBench#expensive} (about 0.5 &micro;s each on the 2-core
   * development machines) per CPU element: about 1 ms.
   */
  static final int CPU_CALLS = 2000;

  /** How long a blocking element parks. */
  static final long BLOCK_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

  @Param({"2", "4", "8", "16"})
  int n;

  long[] data;
  Parallel.Options threadsN;

  @Setup(Level.Trial)
  public void setUp() {
    data = new long[n];
    Arrays.setAll(data, i -> i);
    threadsN = Parallel.options().threads(n);
  }

  /**
   * About 1 ms of CPU work.
   *
   * @param x the element
   * @return a value depending on all of the work
   */
  static long cpuElement(long x) {
    long acc = x;
    for (int i = 0; i < CPU_CALLS; i++) {
      acc = ParallelBench.expensive(acc);
    }
    return acc;
  }

  /**
   * Blocks for 1 ms without using the CPU.
   *
   * @param x the element
   * @return {@code x + 1}
   */
  static long blockingElement(long x) {
    long deadline = System.nanoTime() + BLOCK_NANOS;
    for (long left = BLOCK_NANOS; left > 0; left = deadline - System.nanoTime()) {
      LockSupport.parkNanos(left);
    }
    return x + 1;
  }

  @Benchmark
  public long[] cpu_sequential() {
    long[] in = data;
    long[] out = new long[in.length];
    for (int i = 0; i < in.length; i++) {
      out[i] = cpuElement(in[i]);
    }
    return out;
  }

  @Benchmark
  public long[] cpu_parallelStream() {
    return Arrays.stream(data).parallel().map(ParallelSmallHeavyBench::cpuElement).toArray();
  }

  @Benchmark
  public long[] cpu_weft() {
    return Parallel.map(data, ParallelSmallHeavyBench::cpuElement);
  }

  @Benchmark
  public long[] blocking_sequential() {
    long[] in = data;
    long[] out = new long[in.length];
    for (int i = 0; i < in.length; i++) {
      out[i] = blockingElement(in[i]);
    }
    return out;
  }

  @Benchmark
  public long[] blocking_weftThreadsN() {
    return Parallel.map(data, ParallelSmallHeavyBench::blockingElement, threadsN);
  }
}
