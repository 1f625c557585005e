package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.SpinLock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Hand-over (issue 20): a waiter that has parked is handed the lock by the next unlock, and what
 * the holder wrote in its critical section happens-before what the heir reads in its own. The
 * holder waits (bounded, 50 ms) until the waiter's thread is parked, writes {@code x}, unlocks
 * and at once tries to take the lock back: with the default settings a parked waiter is the
 * heir, so that {@code tryLock} fails (r2 = 1, the hand-over happened). If the waiter was not
 * parked yet (it was still spinning when the bound ran out) the release is an ordinary one (r2
 * = 0). Either way the waiter must read x = 1 (r1): 0 would be a critical section that the
 * hand-over did not publish.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE_INTERESTING, desc = "handed over; the heir saw the write")
@Outcome(id = "1, 0", expect = ACCEPTABLE, desc = "ordinary release (the waiter was not parked yet)")
@Outcome(id = "0, .*", expect = FORBIDDEN, desc = "the waiter missed the holder's write")
@State
public class SpinLockHandOverStress {
  private static final long PARK_WAIT_NANOS = 50_000_000L;

  final SpinLock lock = new SpinLock();
  volatile boolean held;
  volatile Thread waiterThread;
  int x; // guarded by lock
  int seen = -1; // written by the waiter under the lock
  int handedOver;

  @Actor
  public void holder() {
    lock.lock();
    held = true;
    awaitParked();
    x = 1;
    lock.unlock();
    if (lock.tryLock()) {
      lock.unlock(); // ordinary release: this thread could take it back
    } else {
      handedOver = 1;
    }
  }

  @Actor
  public void waiter() {
    waiterThread = Thread.currentThread();
    while (!held) {
      Thread.onSpinWait();
    }
    lock.lock();
    try {
      seen = x;
    } finally {
      lock.unlock();
    }
  }

  @Arbiter
  public void arbiter(II_Result r) {
    r.r1 = seen;
    r.r2 = handedOver;
  }

  /** Until the waiter's thread is parked, or the bound runs out. */
  private void awaitParked() {
    long end = System.nanoTime() + PARK_WAIT_NANOS;
    for (;;) {
      Thread t = waiterThread;
      if (t != null) {
        Thread.State s = t.getState();
        if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING) {
          return;
        }
      }
      if (System.nanoTime() - end >= 0L) {
        return;
      }
      Thread.onSpinWait();
    }
  }
}
