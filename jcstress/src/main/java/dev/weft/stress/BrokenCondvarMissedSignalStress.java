package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;

/**
 * Negative control (must be flagged): the "ready" handshake written with a raw
 * {@link Condition} whose waiter does not check any state before sleeping. A signal that
 * arrives before the waiter sleeps is lost and the waiter sleeps forever (STALE). This is the
 * mistake {@code Condvar.awaitWhile}'s predicate and re-check loop make impossible.
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the signal came after the waiter slept")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "missed signal: expected for this broken code")
@State
public class BrokenCondvarMissedSignalStress {
  final ReentrantLock lock = new ReentrantLock();
  final Condition cond = lock.newCondition();

  @Actor
  public void waiter() {
    // Some setup work before waiting, as real waiters have. It widens the window in which the
    // signal can arrive before the waiter sleeps; without it, jcstress's signal almost always
    // comes after the await on an idle machine and this control would not be flagged.
    for (int i = 0; i < 200_000; i++) {
      Thread.onSpinWait();
    }
    lock.lock();
    try {
      cond.await(); // BUG: no predicate, no loop
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  @Signal
  public void signal() {
    lock.lock();
    try {
      cond.signal();
    } finally {
      lock.unlock();
    }
  }
}
