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
 * SeqLock's hand-written read protocol: a writer writes (1, 1) over (0, 0); a reader reads x and
 * y between {@code beginRead} and {@code validate}. A validated read never sees a mixed pair, and
 * a validated read whose stamp was taken after the write sees the write (visibility).
 *
 * <p>Result: (x, y, validated ? 1 : 0, stamp == 0 ? 0 : 1).
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
    desc = "not validated: the reader discards what it read")
@Outcome(expect = FORBIDDEN, desc = "validated torn pair, or validated stale/future data")
// "try": the guard is held for its scope only and never referenced (-Xlint:try).
@SuppressWarnings("try")
@State
public class SeqLockStress {
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
    r.r3 = lock.validate(s) ? 1 : 0;
    r.r4 = s == 0 ? 0 : 1;
  }
}
