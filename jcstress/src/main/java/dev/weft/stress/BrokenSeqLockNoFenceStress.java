package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Negative control for {@link SeqLockStress}: the sequence protocol with every fence removed,
 * that is a naive seqlock on a plain {@code int} counter. The writer does not order the odd value
 * before the data stores (no CAS, no storeStoreFence) nor the data before the even value (no
 * release); the reader does not order its data loads after the first counter read (no acquire)
 * nor before the re-read (no loadLoadFence). jcstress flags it (validated torn or stale pairs).
 *
 * <p>What catches it on x86: not the hardware. x86 (TSO) never reorders loads with loads or stores
 * with stores, so a variant that keeps <em>opaque</em> counter accesses and only drops the fences
 * and the CAS was tried and is not flagged on x86 (0 forbidden outcomes in a {@code -m quick}
 * run); it would need a weakly ordered CPU such as AArch64. What flags this plain version is the
 * JIT: C1 and C2 merge the reader's two plain loads of the counter into one (so "validation"
 * always succeeds), and C2 may drop the writer's first counter store or move the last one. In a
 * {@code -m quick} run on x86 it failed in configurations with a C1 or C2 reader, including an
 * interpreted writer. The real SeqLock's fences are exactly what forbids those transformations.
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
public class BrokenSeqLockNoFenceStress {
  int seq; // BROKEN: a plain counter
  int x;
  int y;

  @Actor
  public void writer() {
    seq = 1; // BROKEN: no CAS, no storeStoreFence
    x = 1;
    y = 1;
    seq = 2; // BROKEN: no release
  }

  @Actor
  public void reader(IIII_Result r) {
    int s = seq; // BROKEN: no acquire
    r.r1 = x;
    r.r2 = y;
    // BROKEN: no loadLoadFence before the re-read
    r.r3 = (s & 1) == 0 && seq == s ? 1 : 0;
    r.r4 = s == 0 ? 0 : 1;
  }
}
