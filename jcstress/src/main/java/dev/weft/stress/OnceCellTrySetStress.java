package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.OnceCell;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Two racing {@code trySet}s: exactly one wins and the cell holds the winner's value.
 * r1, r2 = 1 if that actor's trySet returned true; r3 = the final value.
 */
@JCStressTest
@Outcome(id = "1, 0, 1", expect = ACCEPTABLE, desc = "first wins")
@Outcome(id = "0, 1, 2", expect = ACCEPTABLE, desc = "second wins")
@Outcome(expect = FORBIDDEN, desc = "no winner, two winners, or the loser's value stored")
@State
public class OnceCellTrySetStress {
  final OnceCell<Integer> cell = new OnceCell<>();

  @Actor
  public void first(III_Result r) {
    r.r1 = cell.trySet(1) ? 1 : 0;
  }

  @Actor
  public void second(III_Result r) {
    r.r2 = cell.trySet(2) ? 1 : 0;
  }

  @Arbiter
  public void check(III_Result r) {
    r.r3 = cell.orElse(-1);
  }
}
