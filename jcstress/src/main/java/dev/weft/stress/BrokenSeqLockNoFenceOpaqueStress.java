package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Negative control for {@link SeqLockStress}: a sequence protocol without fences, with
 * opaque accesses to the counter (the real protocol with the fences and the CAS removed). The writer does not order the odd value before the data stores and the
 * reader does not order its data loads before the re-read of the counter.
 *
 * <p>Result: (x, y, validated ? 1 : 0, first counter read == 0 ? 0 : 1).
 */
@JCStressTest
@Outcome(id = {"0, 0, 1, 0"}, expect = ACCEPTABLE, desc = "validated before the write")
@Outcome(id = {"1, 1, 1, 1"}, expect = ACCEPTABLE, desc = "validated after the write")
@Outcome(
    id = {
      "0, 0, 0, 0", "0, 1, 0, 0", "1, 0, 0, 0", "1, 1, 0, 0",
      "0, 0, 0, 1", "0, 1, 0, 1", "1, 0, 0, 1", "1, 1, 0, 1"
    },
    expect = ACCEPTABLE,
    desc = "not validated: discarded")
@Outcome(expect = FORBIDDEN, desc = "validated torn or stale pair: the missing fences let it through")
@State
public class BrokenSeqLockNoFenceOpaqueStress {
  static final VarHandle SEQ;

  static {
    try {
      SEQ = MethodHandles.lookup().findVarHandle(BrokenSeqLockNoFenceOpaqueStress.class, "seq", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  int seq;
  int x;
  int y;

  @Actor
  public void writer() {
    SEQ.setOpaque(this, 1); // BROKEN: no CAS, no storeStoreFence
    x = 1;
    y = 1;
    SEQ.setOpaque(this, 2); // BROKEN: no release
  }

  @Actor
  public void reader(IIII_Result r) {
    int s = (int) SEQ.getOpaque(this); // BROKEN: no acquire
    r.r1 = x;
    r.r2 = y;
    // BROKEN: no loadLoadFence before the re-read
    r.r3 = (s & 1) == 0 && (int) SEQ.getOpaque(this) == s ? 1 : 0;
    r.r4 = s == 0 ? 0 : 1;
  }
}
