package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Parallel;
import dev.weft.TaskFailedException;
import java.time.Duration;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * When an invocation fails, its writes before the failure are visible to the caller that
 * catches the {@link TaskFailedException}, whichever thread ran it.
 */
@JCStressTest
@Outcome(id = "1, 4", expect = ACCEPTABLE, desc = "failure reported, the failing invocation's write visible")
@Outcome(expect = FORBIDDEN, desc = "failure lost, or its prior write not visible to the caller")
@State
public class ParallelFailureVisibilityStress {
  private static final Parallel.Options SPLIT =
      Parallel.options().threads(2).sequentialCutoff(Duration.ZERO);

  final int[] out = new int[4];

  @Actor
  public void caller(II_Result r) {
    try {
      Parallel.forRange(0, 4, i -> {
        out[i] = i + 1;
        if (i == 3) {
          throw new IllegalStateException("expected by the test");
        }
      }, SPLIT);
    } catch (TaskFailedException e) {
      r.r1 = 1;
    }
    r.r2 = out[3];
  }
}
