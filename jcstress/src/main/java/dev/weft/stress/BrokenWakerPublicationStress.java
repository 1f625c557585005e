package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.I_Result;

/**
 * Negative control (must be flagged) for {@code MutexWakerPublicationStress}: the waker's
 * identity written <em>after</em> the volatile clear of the node's thread, so a waiter that
 * sees the clear can still read the waker as null. {@code Mutex.ChangeWaiter.wake()} writes it
 * before the clear, which publishes it.
 */
@JCStressTest
@Outcome(id = "0", expect = ACCEPTABLE, desc = "not woken yet")
@Outcome(id = "1", expect = ACCEPTABLE, desc = "woken, and the waker is known")
@Outcome(id = "2", expect = FORBIDDEN, desc = "woken, but the waker reads as null: expected here")
@State
public class BrokenWakerPublicationStress {
  private static final VarHandle THREAD;

  static {
    try {
      THREAD =
          MethodHandles.lookup()
              .findVarHandle(BrokenWakerPublicationStress.class, "thread", Thread.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private static final Thread PARKED = new Thread(() -> {}, "jcstress-never-started");

  @SuppressWarnings("UnusedVariable") // read and written through THREAD
  private Thread thread = PARKED;

  private Thread waker;

  /** The releasing holder: BUG, the waker is written after the clear that publishes it. */
  @Actor
  public void waker() {
    THREAD.getAndSet(this, (Thread) null);
    waker = Thread.currentThread();
  }

  /** The woken waiter. */
  @Actor
  public void waiter(I_Result r) {
    if (THREAD.getAcquire(this) != null) {
      r.r1 = 0;
      return;
    }
    r.r1 = waker != null ? 1 : 2;
  }
}
