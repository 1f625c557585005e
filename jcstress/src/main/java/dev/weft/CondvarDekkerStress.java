package dev.weft;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * {@link Condvar}: the Dekker pair that lets a notify from outside the mutex return without
 * taking it. The waiter counts itself and fences ({@code enterBeforeLastCheck}, the real code),
 * then makes its last check: here a read of a flag that the notifier sets without the mutex.
 * The notifier sets the flag, then reads the count after a fence ({@code waitersAfterChange},
 * the real code). At least one side must see the other: if the waiter's check missed the flag
 * (it would sleep), the notifier must see it counted (it takes the mutex and signals). The flag
 * is a plain field, as a user's may be: the fences order it. {@code
 * dev.weft.stress.BrokenCondvarDekkerStress} is the negative control (the pair as it was before
 * session 18: counted with a release store, read with an opaque load, no fences).
 *
 * <p>Result: (flag as the waiter's check read it, waiters as the notifier read it).
 */
@JCStressTest
@Outcome(id = {"1, 0", "1, 1", "0, 1"}, expect = ACCEPTABLE, desc = "one side saw the other")
@Outcome(id = "0, 0", expect = FORBIDDEN, desc = "lost wake-up: the waiter would sleep unseen")
@State
public class CondvarDekkerStress {
  final Condvar cv = new Condvar();
  int flag; // plain, as a user's state may be

  /** The waiter, mutex held in the real code: count, fence, last check. */
  @Actor
  public void waiter(II_Result r) {
    cv.enterBeforeLastCheck();
    r.r1 = flag;
  }

  /** The notifier, without the mutex: change, then notify's fenced read of the count. */
  @Actor
  public void notifier(II_Result r) {
    flag = 1;
    r.r2 = cv.waitersAfterChange();
  }
}
