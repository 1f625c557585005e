package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.OnceCell;
import java.time.Duration;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;

/**
 * Session 17: a waiter that times out unlinks cancelled nodes buried under live ones (the sweep
 * in {@code OnceCellCore.cancel}); it must never unlink a live waiter's node, or the set that
 * follows would not wake that waiter. The signal makes three timed waits of 20 &micro;s (each
 * pushes a node, times out and cancels it, below or above the actor's node depending on the
 * race, and sweeps when a live node is on top), then sets the cell; the actor's untimed wait must
 * return.
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the live waiter saw the value")
@Outcome(
    id = "STALE",
    expect = FORBIDDEN,
    desc = "a timed-out waiter's sweep unlinked the live waiter's node: it missed the set")
@State
public class OnceCellCancelSweepStress {
  final OnceCell<String> cell = new OnceCell<>();

  @Actor
  public void waiter() {
    cell.awaitUninterruptibly();
  }

  @Signal
  public void timedWaitsThenSet() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      cell.await(Duration.ofNanos(20_000L)); // times out: the cell is set only below
    }
    cell.trySet("v");
  }
}
