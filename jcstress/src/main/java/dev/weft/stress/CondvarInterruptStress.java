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
 * A {@link Condvar} waiter whose predicate never becomes false is woken by interruption,
 * whether the interrupt arrives before or during the wait.
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the interrupt ended the wait")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "the interrupt was lost")
@State
public class CondvarInterruptStress {
  final Mutex<Boolean> never = new Mutex<>(false);
  final Condvar cv = new Condvar();
  volatile Thread waiterThread;

  @Actor
  public void waiter() {
    waiterThread = Thread.currentThread();
    try (Mutex.Guard<Boolean> g = never.lock()) {
      cv.awaitWhile(g, v -> !v);
    } catch (InterruptedException expected) {
      // the point of the test: interruption ends the wait
    }
  }

  @Signal
  public void signal() {
    Thread t;
    while ((t = waiterThread) == null) {
      Thread.onSpinWait(); // the actor publishes itself first thing; this is short
    }
    t.interrupt();
  }
}
