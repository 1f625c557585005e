package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Parallel;
import java.time.Duration;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Parallel's two happens-before edges in one call: the caller's plain write before the call
 * is seen by every invocation (on workers too), and every invocation's plain write to the
 * output is seen by the caller after the call returns. The split is forced (cut-off zero,
 * two threads) so that a worker thread really writes some of the results.
 */
@JCStressTest
@Outcome(id = "42, 43, 44, 45", expect = ACCEPTABLE, desc = "every result visible and built from the caller's write")
@Outcome(expect = FORBIDDEN, desc = "a result missing after return, or an invocation missed the caller's write")
@State
public class ParallelVisibilityStress {
  private static final Parallel.Options SPLIT =
      Parallel.options().threads(2).sequentialCutoff(Duration.ZERO);

  int before;
  final int[] out = new int[4];

  @Actor
  public void caller(IIII_Result r) {
    before = 42;
    Parallel.forRange(0, 4, i -> out[i] = before + i, SPLIT);
    r.r1 = out[0];
    r.r2 = out[1];
    r.r3 = out[2];
    r.r4 = out[3];
  }
}
