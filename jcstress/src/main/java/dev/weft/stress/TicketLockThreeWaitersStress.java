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
 * {@link TicketLock} with three contenders. In the samples where all three contend at once, one
 * of them queues <em>behind</em> the next in line and takes the yield phase (it yields,
 * re-reads its predecessor and its own node, and may then spin or park), while another takes
 * the spin phase. jcstress needs at least 3 CPUs to run a 3-actor test and skips it on fewer. Each actor
 * increments a plain field under the lock; the arbiter must see all three increments. Fewer
 * means two critical sections overlapped (a waiter left its yield or spin loop on a stale hint
 * and took the lock without the hand-over); a lost hand-over shows as a jcstress timeout.
 */
@JCStressTest
@Outcome(id = "3", expect = ACCEPTABLE, desc = "all three increments happened, one at a time")
@Outcome(id = {"1", "2"}, expect = FORBIDDEN, desc = "lost update: critical sections overlapped")
@State
public class TicketLockThreeWaitersStress {
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
  }

  @Actor
  public void second() {
    increment();
  }

  @Actor
  public void third() {
    increment();
  }

  @Arbiter
  public void arbiter(I_Result r) {
    r.r1 = x;
  }
}
