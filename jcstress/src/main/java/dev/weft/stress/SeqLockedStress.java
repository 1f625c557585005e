package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.SeqLocked;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * SeqLocked's automatic read loop (fast path, retries, fallback to the lock): a writer sets the
 * guarded pair to (1, 1) in place; {@code read} returns only whole pairs.
 */
@JCStressTest
@Outcome(id = {"0, 0", "1, 1"}, expect = ACCEPTABLE, desc = "a whole pair: before or after")
@Outcome(expect = FORBIDDEN, desc = "torn pair returned by read()")
@State
public class SeqLockedStress {
  static final class Pair {
    int x;
    int y;
  }

  final SeqLocked<Pair> cell = new SeqLocked<>(new Pair());

  @Actor
  public void writer() {
    cell.writeUninterruptibly(
        p -> {
          p.x = 1;
          p.y = 1;
        });
  }

  @Actor
  public void reader(II_Result r) {
    long v = cell.readLong(p -> ((long) p.x << 32) | p.y);
    r.r1 = (int) (v >>> 32);
    r.r2 = (int) v;
  }
}
