package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Negative control for {@link ParallelVisibilityStress}: a hand-rolled "parallel for" that
 * gives half the range to a new thread and returns without waiting for it (no join, no
 * handshake). The caller then reads results the worker has not written, or whose writes
 * are not ordered before the reads; jcstress must flag the FORBIDDEN outcomes.
 */
@JCStressTest
@Outcome(id = "42, 43, 44, 45", expect = ACCEPTABLE, desc = "every result visible (by luck)")
@Outcome(expect = FORBIDDEN, desc = "results missing after return: the broken version does not wait")
@State
public class BrokenParallelVisibilityStress {
  int before;
  final int[] out = new int[4];

  @Actor
  public void caller(IIII_Result r) {
    before = 42;
    Thread worker = new Thread(() -> {
      out[2] = before + 2;
      out[3] = before + 3;
    }, "test-broken-parallel");
    worker.start();
    out[0] = before;
    out[1] = before + 1;
    // BUG: returns without joining the worker.
    r.r1 = out[0];
    r.r2 = out[1];
    r.r3 = out[2];
    r.r4 = out[3];
  }
}
