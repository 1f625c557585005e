package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Mutex;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Mutual exclusion of {@link Mutex}: two holders do non-atomic read-modify-writes of the
 * protected state through every acquisition form (guard, {@code with}, {@code update},
 * {@code awaitThen}); no increment may be lost and no holder may see the two halves of the
 * state differ (which would mean the other holder was inside at the same time).
 */
@JCStressTest
@Outcome(id = "2, 2, 0", expect = ACCEPTABLE, desc = "every increment kept, no torn state seen")
@Outcome(expect = FORBIDDEN, desc = "lost update or torn state: two holders were inside at once")
@State
public class MutexExclusionStress {
  static final class Pair {
    int a;
    int b;
  }

  final Mutex<Pair> pair = new Mutex<>(new Pair());
  final Mutex<Integer> boxed = new Mutex<>(0);
  final Mutex<int[]> array = new Mutex<>(new int[1]);
  volatile int torn;

  static void step(Pair p, MutexExclusionStress s) {
    if (p.a != p.b) {
      s.torn = 1;
    }
    p.a = p.a + 1;
    p.b = p.b + 1;
  }

  @Actor
  public void guardAndUpdate() {
    try (Mutex.Guard<Pair> g = pair.lock()) {
      step(g.get(), this);
    }
    boxed.update(v -> v + 1);
    try (Mutex.Guard<int[]> g = array.lock()) {
      g.get()[0]++;
    }
  }

  @Actor
  public void withAndAwaitThen() {
    pair.with(p -> {
      step(p, this);
      return null;
    });
    boxed.with(v -> v); // a read-only holder in between
    boxed.update(v -> v + 1);
    try {
      array.awaitThen(a -> true, a -> a[0]++);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // never interrupted here; keep the status anyway
    }
  }

  @Arbiter
  public void arbiter(III_Result r) {
    int a = pair.with(p -> p.a == p.b ? p.a : -1);
    int n = boxed.with(v -> v);
    int m = array.with(x -> x[0]);
    r.r1 = a;
    r.r2 = n == m ? n : -n;
    r.r3 = torn;
  }
}
