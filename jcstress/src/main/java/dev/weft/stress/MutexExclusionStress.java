package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Mutex;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Mutual exclusion of {@link Mutex}: two holders, one through a guard and one through
 * {@code with}, each do a non-atomic read-modify-write of two fields. No increment may be lost,
 * and no holder may see the two fields differ (which would mean the other holder was inside at
 * the same time). One lock operation per actor keeps the test light: every contended acquisition
 * may park a thread.
 */
@JCStressTest
@Outcome(id = "2, 0", expect = ACCEPTABLE, desc = "both increments kept, no torn state seen")
@Outcome(expect = FORBIDDEN, desc = "lost update or torn state: two holders were inside at once")
@State
public class MutexExclusionStress {
  static final class Pair {
    int a;
    int b;
    boolean torn;

    Void step() {
      if (a != b) {
        torn = true;
      }
      a = a + 1;
      b = b + 1;
      return null;
    }
  }

  final Mutex<Pair> pair = new Mutex<>(new Pair());

  @Actor
  public void guardForm() {
    try (Mutex.Guard<Pair> g = pair.lock()) {
      g.get().step();
    }
  }

  @Actor
  public void closureForm() {
    pair.with(Pair::step);
  }

  @Arbiter
  public void arbiter(II_Result r) {
    try (Mutex.Guard<Pair> g = pair.lock()) {
      Pair p = g.get();
      r.r1 = p.a == p.b ? p.a : -1;
      r.r2 = p.torn ? 1 : 0;
    }
  }
}
