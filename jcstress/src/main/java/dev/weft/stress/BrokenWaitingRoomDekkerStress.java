package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * NEGATIVE CONTROL for {@code dev.weft.WaitingRoomNoLostWakeupStress}: the waiting room's
 * enter/exit hand-shake with the volatile accesses weakened to opaque. The waiter queues its
 * node ({@code queued = 1}) and reads {@code occupied}; the exit frees the room ({@code occupied
 * = 0}) and reads the queue. With volatile accesses (the real room: a CAS in the queue, volatile
 * reads and write of {@code occupied}) at least one side sees the other; with opaque ones each
 * store-then-load pair may be reordered (x86 does it through its store buffer), and both may
 * read the old values: the waiter sees the room held and parks, the exit sees nobody queued and
 * grants nothing. jcstress must flag (1, 0).
 *
 * <p>Result: (occupied as the waiter read it, queue length as the exit read it).
 */
@JCStressTest
@Outcome(id = {"0, 0", "0, 1", "1, 1"}, expect = ACCEPTABLE, desc = "one side saw the other")
@Outcome(id = "1, 0", expect = FORBIDDEN, desc = "lost wake-up: neither saw the other")
@State
public class BrokenWaitingRoomDekkerStress {
  private static final VarHandle OCCUPIED;
  private static final VarHandle QUEUED;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      OCCUPIED = l.findVarHandle(BrokenWaitingRoomDekkerStress.class, "occupied", int.class);
      QUEUED = l.findVarHandle(BrokenWaitingRoomDekkerStress.class, "queued", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  int occupied = 1; // held by the exiting holder
  int queued;

  /** The waiter: queue the node, then look at the room (r1: 1 = held, it would park). */
  @Actor
  public void waiter(II_Result r) {
    QUEUED.setOpaque(this, 1); // BROKEN: the room queues with a CAS (volatile)
    r.r1 = (int) OCCUPIED.getOpaque(this); // BROKEN: the room uses a volatile read
  }

  /** The exit: free the room, then look at the queue (r2: 0 = nobody, no grant). */
  @Actor
  public void exit(II_Result r) {
    OCCUPIED.setOpaque(this, 0); // BROKEN: the room uses a volatile write
    r.r2 = (int) QUEUED.getOpaque(this); // BROKEN: the room reads the queue with volatile reads
  }
}
