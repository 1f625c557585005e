package dev.weft;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

/**
 * What a stack probe costs ({@code StackHeadroom.ensure}, package-private, hence this class's
 * package): every contended acquisition, queued wait and waking release pays one or two, and a
 * virtual thread's {@code lockWhen} round pays three of {@code QUEUE_FRAMES} (64 frames).
 *
 * <p>{@code serialChain} is the probe as it was until session 28, kept as the reference
 * ({@code StackHeadroom.serialChainProbe}):
 * the same eight longs per frame kept live across the call, combined with the callee's result
 * by a serial chain of multiply-adds instead of a balanced sum. Both use the same stack (the
 * reach is checked by {@code StackHeadroomTest.theProbeReachesAsDeepAsTheSerialChain}); the
 * difference is the latency of the combination on the way back up.
 *
 * <p>Run: {@code java -jar jmh/target/benchmarks.jar StackHeadroomBench}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class StackHeadroomBench {

  /** The depths in use: RELEASE_FRAMES and QUEUE_FRAMES. */
  @Param({"16", "64"})
  public int frames;

  /** weft's probe. */
  @Benchmark
  public void ensure() {
    StackHeadroom.ensure(frames);
  }

  /** The reference: the probe before session 28, returned so that it is not dead code. */
  @Benchmark
  public long serialChain() {
    return StackHeadroom.serialChainProbe(frames);
  }
}
