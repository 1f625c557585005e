package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.SpinLock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * {@link SpinLock}: {@code tryLock()} never succeeds while another thread holds the lock. Each
 * critical section writes its own flag and reads the other's (Dekker style); if a successful
 * {@code tryLock} overlapped the holder's critical section, both could read 0 (or both 1).
 * r2 = -1 means tryLock failed.
 */
@JCStressTest
@Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "lock() first, then tryLock() succeeded")
@Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "tryLock() first, then lock()")
@Outcome(id = "0, -1", expect = ACCEPTABLE, desc = "tryLock() failed: the lock was held")
@Outcome(expect = FORBIDDEN, desc = "tryLock() succeeded while the lock was held")
@State
public class SpinLockTryLockStress {
  private final SpinLock lock = new SpinLock();
  private int a;
  private int b;

  @Actor
  public void holder(II_Result r) {
    lock.lock();
    try {
      a = 1;
      r.r1 = b;
    } finally {
      lock.unlock();
    }
  }

  @Actor
  public void trier(II_Result r) {
    if (lock.tryLock()) {
      try {
        b = 1;
        r.r2 = a;
      } finally {
        lock.unlock();
      }
    } else {
      r.r2 = -1;
    }
  }
}
