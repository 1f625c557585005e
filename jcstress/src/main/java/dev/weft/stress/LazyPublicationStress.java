package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Lazy;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Safe publication through {@link Lazy}: an object with plain (non-final) fields, built by the
 * supplier on one thread, is never seen half-built by the other thread's {@code get()}, whether
 * that {@code get()} takes the fast path, waits, or runs the supplier itself.
 */
@JCStressTest
@Outcome(id = "1, 2", expect = ACCEPTABLE, desc = "fully built")
@Outcome(expect = FORBIDDEN, desc = "half-built object seen")
@State
public class LazyPublicationStress {
  /** Plain fields on purpose: only the Lazy's release/acquire makes them visible. */
  static final class Plain {
    int x;
    int y;
  }

  final Lazy<Plain> lazy = Lazy.of(() -> {
    Plain p = new Plain();
    p.x = 1;
    p.y = 2;
    return p;
  });

  @Actor
  public void writer() {
    lazy.get();
  }

  @Actor
  public void reader(II_Result r) {
    Plain p = lazy.get();
    r.r1 = p.x;
    r.r2 = p.y;
  }
}
