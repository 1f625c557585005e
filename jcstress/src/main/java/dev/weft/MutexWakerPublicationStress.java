package dev.weft;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.I_Result;

/**
 * Session 14: a waiter woken from {@code Mutex}'s change queue always learns which thread woke
 * it. {@code ChangeWaiter.wake()} writes the waker (plain) and then clears the node's thread
 * with a volatile getAndSet; {@code waker()} reads the thread with getAcquire and, if it is
 * cleared, the waker (plain). The waiter uses the waker to decide whether the lock it finds
 * held is its waker's (then it queues in bounded rounds) or someone else's: a woken node whose
 * waker reads as null would make it queue as an ordinary acquisition, behind threads that may
 * never run (Mutex's algorithm notes, "The waker's hold").
 *
 * <p>The real {@code ChangeWaiter} (this test lives in its package), one node per sample; the
 * node's thread is a thread that was never started, so the unpark does nothing. {@code
 * BrokenWakerPublicationStress} (in {@code dev.weft.stress}) is the negative control: the same
 * hand-shake with the waker written after the clear.
 */
@JCStressTest
@Outcome(id = "0", expect = ACCEPTABLE, desc = "not woken yet")
@Outcome(id = "1", expect = ACCEPTABLE, desc = "woken, and the waker is known")
@Outcome(id = "2", expect = FORBIDDEN, desc = "woken, but the waker reads as null")
@State
public class MutexWakerPublicationStress {
  private static final Thread PARKED = new Thread(() -> {}, "jcstress-never-started");

  final Mutex.ChangeWaiter node = new Mutex.ChangeWaiter(PARKED);

  /** The releasing holder. */
  @Actor
  public void waker() {
    node.wake();
  }

  /** The woken waiter. */
  @Actor
  public void waiter(I_Result r) {
    if (!node.isWoken()) {
      r.r1 = 0;
      return;
    }
    r.r1 = node.waker() != null ? 1 : 2;
  }
}
