package dev.weft;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;

/**
 * {@link Condvar}: a flag set without the mutex, then a notify from outside it, always ends a
 * wait for the flag, wherever the notify lands in the waiter's way to its sleep (before its
 * spin, during it, between its last check and its park, or after it parked). The whole public
 * path; the ordering itself is {@link CondvarDekkerStress}. Review 17f's lost wake-up shows as
 * STALE. The notify comes after a pause chosen at random: none, a short spin, or until the
 * waiter shows as parked.
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the waiter saw the flag")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "lost wake-up: flag set, notified, still asleep")
@State
public class CondvarOutsideNotifyStress {
  final Mutex<Integer> mutex = new Mutex<>(0);
  final Condvar cv = new Condvar();
  final AtomicBoolean flag = new AtomicBoolean();
  volatile Thread waiter;

  /** Terminates once its wait for the flag ends. */
  @Actor
  @SuppressWarnings("try") // the guard is held only for the wait
  public void waiter() {
    waiter = Thread.currentThread();
    try (Mutex.Guard<Integer> g = mutex.lock()) {
      cv.awaitWhileUninterruptibly(g, v -> !flag.get());
    }
  }

  /** Sets the flag without the mutex and notifies from outside it, after a random pause. */
  @Signal
  public void notifier() {
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    int pause = rnd.nextInt(3);
    if (pause == 1) {
      long end = System.nanoTime() + rnd.nextInt(20_000);
      while (System.nanoTime() < end) {
        Thread.onSpinWait(); // lands the notify anywhere in the waiter's way to its park
      }
    } else if (pause == 2) {
      long deadline = System.nanoTime() + 50_000_000L;
      Thread w;
      while (((w = waiter) == null || w.getState() != Thread.State.WAITING)
          && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
    }
    flag.set(true);
    cv.notifyAllWaiters();
  }
}
