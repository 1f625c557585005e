package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.SeqLock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * Negative control for {@link SeqLockStress}: the same reader without the second counter check.
 * It trusts any even stamp from {@code beginRead}, so it reports torn pairs as "validated";
 * jcstress must flag this test (FORBIDDEN outcomes observed).
 *
 * <p>Result: (x, y, 1 = "validated", stamp == 0 ? 0 : 1).
 */
@JCStressTest
@Outcome(id = {"0, 0, 1, 0"}, expect = ACCEPTABLE, desc = "before the write")
@Outcome(id = {"1, 1, 1, 1", "1, 1, 1, 0"}, expect = ACCEPTABLE, desc = "after the write")
@Outcome(expect = FORBIDDEN, desc = "torn pair accepted: the missing re-check lets it through")
// "try": the guard is held for its scope only and never referenced (-Xlint:try).
@SuppressWarnings("try")
@State
public class BrokenSeqLockNoRecheckStress {
  final SeqLock lock = new SeqLock();
  int x;
  int y;

  @Actor
  public void writer() {
    try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
      x = 1;
      y = 1;
    }
  }

  @Actor
  public void reader(IIII_Result r) {
    long s = lock.beginRead();
    r.r1 = x;
    r.r2 = y;
    r.r3 = 1; // BROKEN: no lock.validate(s)
    r.r4 = s == 0 ? 0 : 1;
  }
}
