package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.OnceCell;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;

/**
 * No lost wake-up: a thread blocked in {@code awaitUninterruptibly()} always returns once
 * another thread sets the cell, however the set races with the waiter parking.
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the waiter saw the value")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "the waiter missed the set and hangs")
@State
public class OnceCellAwaitStress {
  final OnceCell<String> cell = new OnceCell<>();

  @Actor
  public void waiter() {
    cell.awaitUninterruptibly();
  }

  @Signal
  public void setter() {
    cell.trySet("v");
  }
}
