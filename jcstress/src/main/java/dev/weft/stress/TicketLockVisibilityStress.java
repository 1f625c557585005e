package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.TicketLock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * {@link TicketLock} visibility: plain writes made under the lock are all visible to the next owner
 * (unlock happens-before the next lock), so the reader sees none of them or both.
 */
@JCStressTest
@Outcome(id = "0, 0", expect = ACCEPTABLE, desc = "reader locked first")
@Outcome(id = "1, 2", expect = ACCEPTABLE, desc = "reader locked after the writer: sees both")
@Outcome(expect = FORBIDDEN, desc = "a write made under the lock was lost or torn")
@State
public class TicketLockVisibilityStress {
  private final TicketLock lock = new TicketLock();
  private int a;
  private int b;

  @Actor
  public void writer() {
    lock.lock();
    try {
      a = 1;
      b = 2;
    } finally {
      lock.unlock();
    }
  }

  @Actor
  public void reader(II_Result r) {
    lock.lock();
    try {
      r.r1 = a;
      r.r2 = b;
    } finally {
      lock.unlock();
    }
  }
}
