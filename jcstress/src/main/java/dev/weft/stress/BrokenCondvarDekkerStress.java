package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * NEGATIVE CONTROL for {@code dev.weft.CondvarDekkerStress}: Condvar's count of waiters as it
 * was before session 18, without the two full fences. The waiter counts itself with a release
 * store and then reads the flag; the notifier sets the flag and reads the count with an opaque
 * load. A release store may be reordered with a later load (x86 does it through its store
 * buffer), so both may read the old values: the waiter's check misses the flag and it sleeps,
 * the notify sees no waiter and returns. The lost wake-up review 17f found. jcstress must flag
 * (0, 0).
 *
 * <p>Result: (flag as the waiter's check read it, waiters as the notifier read it).
 */
@JCStressTest
@Outcome(id = {"1, 0", "1, 1", "0, 1"}, expect = ACCEPTABLE, desc = "one side saw the other")
@Outcome(id = "0, 0", expect = FORBIDDEN, desc = "lost wake-up: neither saw the other")
@State
public class BrokenCondvarDekkerStress {
  private static final VarHandle WAITERS;

  static {
    try {
      WAITERS = MethodHandles.lookup()
          .findVarHandle(BrokenCondvarDekkerStress.class, "waiters", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  int waiters;
  int flag;

  /** The waiter: count (release store), then the last check (no fence between: BROKEN). */
  @Actor
  public void waiter(II_Result r) {
    WAITERS.setRelease(this, 1);
    r.r1 = flag;
  }

  /** The notifier: set the flag, then read the count (opaque, no fence before it: BROKEN). */
  @Actor
  public void notifier(II_Result r) {
    flag = 1;
    r.r2 = (int) WAITERS.getOpaque(this);
  }
}
