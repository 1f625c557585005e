package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.SeqLock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * SeqLock's write lock excludes writers: two writers write (1, 1) and (2, 2); afterwards the
 * pair is one writer's and the sequence has advanced by exactly two writes. (Two actors only, so
 * the test also runs on two CPUs; readers racing a writer are covered by {@link SeqLockStress}.)
 *
 * <p>Result: (final x, final y, final stamp).
 */
@JCStressTest
@Outcome(id = {"1, 1, 4", "2, 2, 4"}, expect = ACCEPTABLE, desc = "writers were exclusive")
@Outcome(expect = FORBIDDEN, desc = "writers overlapped, or a write was lost")
// "try": the guard is held for its scope only and never referenced (-Xlint:try).
@SuppressWarnings("try")
@State
public class SeqLockTwoWritersStress {
  final SeqLock lock = new SeqLock();
  int x;
  int y;

  @Actor
  public void writer1() {
    try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
      x = 1;
      y = 1;
    }
  }

  @Actor
  public void writer2() {
    try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
      x = 2;
      y = 2;
    }
  }

  @Arbiter
  public void arbiter(III_Result r) {
    long v = lock.readLong(() -> ((long) x << 32) | y);
    r.r1 = (int) (v >>> 32);
    r.r2 = (int) v;
    r.r3 = (int) lock.beginRead();
  }
}
