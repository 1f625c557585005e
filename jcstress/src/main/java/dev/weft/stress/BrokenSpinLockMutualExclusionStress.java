package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.I_Result;

/**
 * Negative control for {@link SpinLockMutualExclusionStress}: the same test on a spin lock
 * that acquires with check-then-set (a volatile read, then a separate volatile write) instead
 * of a compare-and-set. Both actors can see the lock free and both enter, so jcstress must
 * report the FORBIDDEN lost update. Excluded from the main run (Broken prefix).
 */
@JCStressTest
@Outcome(id = "2", expect = ACCEPTABLE, desc = "both increments happened")
@Outcome(id = "1", expect = FORBIDDEN, desc = "lost update: the broken lock let both in")
@State
public class BrokenSpinLockMutualExclusionStress {
  /** The bug under test: the test and the set are two separate steps. */
  static final class CheckThenSetLock {
    private volatile boolean locked;

    void lock() {
      while (locked) {
        Thread.onSpinWait();
      }
      locked = true; // another thread may have passed the loop too
    }

    void unlock() {
      locked = false;
    }
  }

  private final CheckThenSetLock lock = new CheckThenSetLock();
  private int x;

  @Actor
  public void actor1() {
    lock.lock();
    try {
      x++;
    } finally {
      lock.unlock();
    }
  }

  @Actor
  public void actor2() {
    lock.lock();
    try {
      x++;
    } finally {
      lock.unlock();
    }
  }

  @Arbiter
  public void arbiter(I_Result r) {
    r.r1 = x;
  }
}
