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
 * {@link TicketLock} mutual exclusion: two actors increment a plain field under the lock (one
 * through {@code lock()/unlock()}, one through the guard); the arbiter must see both
 * increments. A lost update (1) means both were inside the critical section at once.
 */
@JCStressTest
@Outcome(id = "2", expect = ACCEPTABLE, desc = "both increments happened, one after the other")
@Outcome(id = "1", expect = FORBIDDEN, desc = "lost update: the critical sections overlapped")
@State
public class TicketLockMutualExclusionStress {
  private final TicketLock lock = new TicketLock();
  private int x;

  @Actor
  public void viaLock() {
    lock.lock();
    try {
      x++;
    } finally {
      lock.unlock();
    }
  }

  @Actor
  public void viaGuard() {
    TicketLock.Guard g = lock.acquire();
    try {
      x++;
    } finally {
      g.close();
    }
  }

  @Arbiter
  public void arbiter(I_Result r) {
    r.r1 = x;
  }
}
