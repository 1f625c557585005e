package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.TicketLock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.I_Result;

/**
 * {@link TicketLock} reuses one node for every uncontended acquisition. Two actors each
 * increment twice under the lock, so the reused node goes through several incarnations while
 * the other actor links behind it, races its release (the RELEASED path) or takes the fast
 * path again; the arbiter must see all 4 increments. Fewer means two critical sections
 * overlapped (a stale link on the reused node would let a waiter in early). A hang (a waiter
 * linked to a stale incarnation and never granted) shows as a jcstress timeout error.
 */
@JCStressTest
@Outcome(id = "4", expect = ACCEPTABLE, desc = "all four increments happened, one at a time")
@Outcome(id = {"2", "3"}, expect = FORBIDDEN, desc = "lost update: critical sections overlapped")
@State
public class TicketLockNodeReuseStress {
  private final TicketLock lock = new TicketLock();
  private int x;

  private void increment() {
    lock.lock();
    try {
      x++;
    } finally {
      lock.unlock();
    }
  }

  @Actor
  public void first() {
    increment();
    increment();
  }

  @Actor
  public void second() {
    increment();
    increment();
  }

  @Arbiter
  public void arbiter(I_Result r) {
    r.r1 = x;
  }
}
