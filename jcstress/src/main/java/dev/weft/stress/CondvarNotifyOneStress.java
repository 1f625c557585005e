package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Condvar;
import dev.weft.Mutex;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;

/**
 * No lost wake-up with {@link Condvar#notifyOne()} called <em>outside</em> the mutex (the racy
 * case: notify skips locking when it sees no waiter): the chapter's "ready" handshake must
 * always terminate, whether the signal comes before, during or after the waiter's check.
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the waiter saw ready or was woken")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "lost wake-up: the waiter sleeps forever")
@State
public class CondvarNotifyOneStress {
  final Mutex<Boolean> ready = new Mutex<>(false);
  final Condvar cv = new Condvar();

  @Actor
  public void waiter() {
    // The same setup work as BrokenCondvarMissedSignalStress: makes the signal arrive before
    // the wait in most samples, the case a lost wake-up would hang.
    for (int i = 0; i < 200_000; i++) {
      Thread.onSpinWait();
    }
    try (Mutex.Guard<Boolean> g = ready.lock()) {
      cv.awaitWhile(g, r -> !r);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // harness clean-up of a stale run; keep the status
    }
  }

  @Signal
  public void signal() {
    ready.update(r -> true);
    cv.notifyOne();
  }
}
