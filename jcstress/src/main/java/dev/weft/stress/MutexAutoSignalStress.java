package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Mutex;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;

/**
 * Automatic signalling of {@link Mutex}: a thread in {@code awaitThen} is woken by a plain
 * guard-form write (no notify call anywhere), whenever the write happens.
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the waiter saw the write")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "lost automatic wake-up")
@State
public class MutexAutoSignalStress {
  final Mutex<Boolean> ready = new Mutex<>(false);

  @Actor
  public void waiter() {
    try {
      ready.awaitThen(r -> r, r -> r);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // harness clean-up of a stale run; keep the status
    }
  }

  @Signal
  public void signal() {
    try (Mutex.Guard<Boolean> g = ready.lock()) {
      g.set(true);
    }
  }
}
