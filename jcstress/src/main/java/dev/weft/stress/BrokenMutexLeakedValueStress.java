package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Mutex;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.I_Result;

/**
 * Negative control (must be flagged): a mutable value leaked out of {@link Mutex#with} and
 * modified after the lock was released is not protected; increments get lost. Java cannot stop
 * this as Rust's borrow checker does, which is why the docs say "do not leak the value".
 */
@JCStressTest
@Outcome(id = "2", expect = ACCEPTABLE, desc = "both increments kept (by luck)")
@Outcome(id = "1", expect = FORBIDDEN, desc = "lost update: expected for this broken code")
@State
public class BrokenMutexLeakedValueStress {
  final Mutex<int[]> counter = new Mutex<>(new int[1]);

  @Actor
  public void actor1() {
    int[] leaked = counter.with(a -> a); // BUG: the reference escapes the lock
    leaked[0]++;
  }

  @Actor
  public void actor2() {
    int[] leaked = counter.with(a -> a);
    leaked[0]++;
  }

  @Arbiter
  public void arbiter(I_Result r) {
    r.r1 = counter.with(a -> a[0]);
  }
}
