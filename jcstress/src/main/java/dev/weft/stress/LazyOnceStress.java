package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Lazy;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Exactly once: two threads racing on the first {@code get()} of a {@link Lazy} get the same
 * instance, and the supplier ran once. r1 = supplier runs, r2 = 1 if both saw the same object.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "one run, one instance")
@Outcome(expect = FORBIDDEN, desc = "supplier ran twice or the callers saw different objects")
@State
public class LazyOnceStress {
  final AtomicInteger runs = new AtomicInteger();
  final Lazy<Object> lazy = Lazy.of(() -> {
    runs.incrementAndGet();
    return new Object();
  });
  Object a;
  Object b;

  @Actor
  public void first() {
    a = lazy.get();
  }

  @Actor
  public void second() {
    b = lazy.get();
  }

  @Arbiter
  public void check(II_Result r) {
    r.r1 = runs.get();
    r.r2 = a == b && a != null ? 1 : 0;
  }
}
