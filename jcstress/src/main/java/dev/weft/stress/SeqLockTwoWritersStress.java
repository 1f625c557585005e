package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.SeqLock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIII_Result;

/**
 * SeqLock's write lock excludes writers and {@code read(...)} returns whole pairs: two writers
 * write (1, 1) and (2, 2); a reader reads the pair with {@code read}; the arbiter sees the final
 * pair, which must be one writer's.
 *
 * <p>Result: (reader x, reader y, final x, final y).
 */
@JCStressTest
@Outcome(
    id = {
      "0, 0, 1, 1", "1, 1, 1, 1", "2, 2, 1, 1",
      "0, 0, 2, 2", "1, 1, 2, 2", "2, 2, 2, 2"
    },
    expect = ACCEPTABLE,
    desc = "reader saw a whole pair; writers were exclusive")
@Outcome(expect = FORBIDDEN, desc = "torn pair read, or writers overlapped")
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

  @Actor
  public void reader(IIII_Result r) {
    long v = lock.readLong(() -> ((long) x << 32) | y);
    r.r1 = (int) (v >>> 32);
    r.r2 = (int) v;
  }

  @Arbiter
  public void arbiter(IIII_Result r) {
    r.r3 = x;
    r.r4 = y;
  }
}
