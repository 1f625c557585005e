package dev.weft.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.weft.Parallel;
import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * What the shared pool's spin buys and costs (issue #19): a pool thread that finished a task
 * spins {@code dev.weft.parallel.spinMicros} (default 50 &micro;s) before it parks, so that the
 * next call finds it running and needs no unpark. Each benchmark method runs in forks with one
 * spin setting: {@code spin0} parks at once, {@code spin50} is the default, {@code spin200} a
 * longer window.
 *
 * <p>One operation is one {@code Parallel.map} call over {@code n} elements of {@link
 * ParallelBench#expensive} with the default options (the shared pool), followed by a busy gap
 * of {@code gapMicros} on the caller: the caller's own work between calls. A busy gap, not a
 * sleep, so that the gap is exact (a timed park lasts 50 &micro;s or more on a VM, longer
 * than the spin) and the pool thread's spin is the only thing that differs between methods.
 * The secondary results, per call:
 *
 * <ul>
 *   <li>{@code callMicros}: the time of the {@code Parallel.map} call alone: what the spin buys
 *       (a call that finds its worker spinning starts it without an unpark and its wake-up
 *       latency).
 *   <li>{@code cpuMicros}: the process's CPU time per operation (all threads, from {@code
 *       OperatingSystemMXBean.getProcessCpuTime}), gap included: what the spin costs. The gap
 *       and the work are the same in every method, so the difference between methods is the
 *       spinning (and the parking and waking it saves).
 * </ul>
 *
 * <p>The primary score (average time per operation) is call + gap.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
public class ParallelSpinBench {
  /** Elements per call: 100 of ~0.5 &micro;s, about 50 &micro;s of work per call alone. */
  @Param({"100"})
  int n;

  /** The caller's busy time between calls, in microseconds. */
  @Param({"0", "20", "100", "1000"})
  long gapMicros;

  long[] data;

  @Setup(Level.Trial)
  public void setUp() {
    data = new long[n];
    for (int i = 0; i < data.length; i++) {
      data[i] = i;
    }
  }

  /** Per-iteration counters, reported by JMH next to the score (not normalised by time). */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class PerCall {
    private static final OperatingSystemMXBean OS =
        (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    long calls;
    long callNanos;
    long cpu0;

    @Setup(Level.Iteration)
    public void reset() {
      calls = 0;
      callNanos = 0;
      cpu0 = OS.getProcessCpuTime();
    }

    /** Mean time of the Parallel call alone, in microseconds. */
    public double callMicros() {
      return calls == 0 ? 0 : callNanos / 1e3 / calls;
    }

    /** Process CPU time per operation (call and gap), in microseconds, all threads. */
    public double cpuMicros() {
      return calls == 0 ? 0 : (OS.getProcessCpuTime() - cpu0) / 1e3 / calls;
    }
  }

  private long call(PerCall c) {
    long t0 = System.nanoTime();
    long[] out = Parallel.map(data, ParallelBench::expensive);
    long t1 = System.nanoTime();
    c.callNanos += t1 - t0;
    c.calls++;
    long until = t1 + gapMicros * 1_000L;
    long sink = out[out.length - 1];
    if (gapMicros > 0) {
      while (System.nanoTime() - until < 0) {
        sink = sink * 31 + 1; // the caller's own work: keeps the core busy, not parked
      }
    }
    return sink;
  }

  @Benchmark
  @Fork(jvmArgsAppend = "-Ddev.weft.parallel.spinMicros=0")
  public long spin0(PerCall c) {
    return call(c);
  }

  @Benchmark
  @Fork(jvmArgsAppend = "-Ddev.weft.parallel.spinMicros=50")
  public long spin50(PerCall c) {
    return call(c);
  }

  @Benchmark
  @Fork(jvmArgsAppend = "-Ddev.weft.parallel.spinMicros=200")
  public long spin200(PerCall c) {
    return call(c);
  }
}
