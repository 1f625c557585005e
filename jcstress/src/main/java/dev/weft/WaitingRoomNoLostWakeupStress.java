package dev.weft;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.ThreadLocalRandom;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;

/**
 * {@link WaitingRoom}: an untimed waiter always gets in once the holder exits, wherever the exit
 * lands in the waiter's way to its park (before its node is queued, between the queueing and
 * its look at {@code occupied}, or after it parked). The waiter queues its node (a CAS in the
 * queue) and then reads {@code occupied} (volatile); the exit writes {@code occupied = 0}
 * (volatile) and then reads the queue: a Dekker pair, so the waiter takes the free room itself
 * or the exit grants it. The waiter has no timer, so a lost wake-up shows as STALE. {@code
 * dev.weft.stress.BrokenWaitingRoomDekkerStress} is the negative control (the pair with opaque
 * accesses). The exit comes after a pause chosen at random: none, a short spin, or until the
 * waiter shows as parked.
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the waiter got in")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "lost wake-up: the room was left and the waiter slept on")
@State
public class WaitingRoomNoLostWakeupStress {
  final WaitingRoom room = new WaitingRoom();
  volatile Thread waiter;

  public WaitingRoomNoLostWakeupStress() {
    try {
      room.enter(room, false, false, 0L); // held from the start; the signal exits
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  /** Terminates once it is in the room (and leaves it). */
  @Actor
  public void waiter() {
    waiter = Thread.currentThread();
    try {
      room.enter(room, false, false, 0L);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    room.exit();
  }

  /** The holder's exit, after a pause chosen at random. */
  @Signal
  public void exit() {
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    int pause = rnd.nextInt(3);
    if (pause == 1) {
      long end = System.nanoTime() + rnd.nextInt(20_000);
      while (System.nanoTime() < end) {
        Thread.onSpinWait(); // lands the exit anywhere in the waiter's way to its park
      }
    } else if (pause == 2) {
      long deadline = System.nanoTime() + 50_000_000L;
      Thread w;
      while (((w = waiter) == null || w.getState() != Thread.State.WAITING)
          && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
    }
    room.exit();
  }
}
