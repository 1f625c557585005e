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
 * {@code getOrInit} racing {@code trySet}: every caller sees the one stored value. If trySet
 * wins while the initialiser runs, the initialiser's result is dropped and getOrInit returns
 * the value that was set. r1 = getOrInit's result, r2 = 1 if trySet won, r3 = final value.
 */
@JCStressTest
@Outcome(id = "1, 0, 1", expect = ACCEPTABLE, desc = "initialiser first")
@Outcome(id = "2, 1, 2", expect = ACCEPTABLE, desc = "trySet first (or while the initialiser ran)")
@Outcome(expect = FORBIDDEN, desc = "callers disagree about the value")
@State
public class OnceCellGetOrInitVsTrySetStress {
  final OnceCell<Integer> cell = new OnceCell<>();

  @Actor
  public void init(III_Result r) {
    r.r1 = cell.getOrInit(() -> 1);
  }

  @Actor
  public void set(III_Result r) {
    r.r2 = cell.trySet(2) ? 1 : 0;
  }

  @Arbiter
  public void check(III_Result r) {
    r.r3 = cell.orElse(-1);
  }
}
