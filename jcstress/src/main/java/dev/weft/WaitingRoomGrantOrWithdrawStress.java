package dev.weft;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * {@link WaitingRoom}: a holder's exit races a timed waiter whose deadline runs out at about the
 * same time (500 ns). Exactly one of grant and withdrawal wins each node (one CAS each): the
 * waiter enters (the grant won, or it found the room free) or leaves without it (its own
 * withdrawal won, or the exit withdrew it past its deadline); either way the room ends free and
 * no node is left. A withdrawal that overwrote a grant would leave the room occupied with nobody
 * inside, and every later writer would wait for good: {@code
 * dev.weft.stress.BrokenWaitingRoomStress} is that bug, the negative control.
 *
 * <p>Result: (waiter entered: 1, room occupied at the end: 1, nodes left in the queue).
 */
@JCStressTest
@Outcome(id = {"1, 0, 0", "0, 0, 0"}, expect = ACCEPTABLE, desc = "entered or left; room free")
@Outcome(expect = FORBIDDEN, desc = "the room leaked (occupied, nobody inside) or a node stayed")
@State
public class WaitingRoomGrantOrWithdrawStress {
  final WaitingRoom room = new WaitingRoom();

  public WaitingRoomGrantOrWithdrawStress() {
    try {
      room.enter(room, false, false, 0L); // free: the fast path; the holder is "holder" below
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Actor
  public void holder() {
    room.exit();
  }

  @Actor
  public void waiter(III_Result r) {
    boolean in;
    try {
      in = room.enter(room, true, true, System.nanoTime() + 500L);
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    r.r1 = in ? 1 : 0;
    if (in) {
      room.exit();
    }
  }

  @Arbiter
  public void arbiter(III_Result r) {
    r.r2 = room.isOccupied() ? 1 : 0;
    r.r3 = room.queuedNodes();
  }
}
