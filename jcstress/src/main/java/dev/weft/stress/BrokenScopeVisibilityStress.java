package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Negative control for {@link ScopeVisibilityStress}: a hand-made "scope" that reads the task's
 * plain writes before joining its thread (the join comes only afterwards, to not leak it). There
 * is no happens-before edge, so jcstress must report the FORBIDDEN outcomes.
 */
@JCStressTest
@Outcome(id = "1, 2", expect = ACCEPTABLE, desc = "writes visible (by luck)")
@Outcome(expect = FORBIDDEN, desc = "read before the join: writes not visible")
@State
public class BrokenScopeVisibilityStress {
  int a;
  int b;

  @Actor
  public void owner(II_Result r) {
    Thread t = new Thread(() -> {
      a = 1;
      b = 2;
    }, "test-broken-scope");
    t.start();
    r.r1 = a; // BUG: no join before reading
    r.r2 = b;
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
