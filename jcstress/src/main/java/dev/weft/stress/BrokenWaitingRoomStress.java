package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Negative control for {@code dev.weft.WaitingRoomGrantOrWithdrawStress}: the same race on a
 * stripped-down copy of the room whose timed-out waiter withdraws its node with a plain write
 * instead of a CAS, so a grant that lands between its check and its write is overwritten. The
 * waiter leaves without the room while the exit has passed the room to it: the room stays
 * occupied with nobody inside. jcstress must flag this test (FORBIDDEN outcomes observed).
 *
 * <p>Result: (waiter entered: 1, room occupied at the end: 1, nodes left in the queue).
 */
@JCStressTest
@Outcome(id = {"1, 0, 0", "0, 0, 0"}, expect = ACCEPTABLE, desc = "entered or left; room free")
@Outcome(expect = FORBIDDEN, desc = "the room leaked: the withdrawal overwrote a grant")
@State
public class BrokenWaitingRoomStress {
  static final int WAITING = 0;
  static final int GRANTED = 1;
  static final int CANCELLED = -1;

  static final class Node {
    final Thread thread = Thread.currentThread();
    final AtomicInteger status = new AtomicInteger(WAITING);
  }

  final AtomicInteger occupied = new AtomicInteger(1); // held by "holder" from the start
  final ConcurrentLinkedQueue<Node> queue = new ConcurrentLinkedQueue<>();

  @Actor
  public void holder() {
    while (true) {
      Node next = queue.poll();
      if (next != null) {
        if (next.status.compareAndSet(WAITING, GRANTED)) {
          LockSupport.unpark(next.thread);
          return;
        }
        continue;
      }
      occupied.set(0);
      if (queue.isEmpty() || !occupied.compareAndSet(0, 1)) {
        return;
      }
    }
  }

  @Actor
  public void waiter(III_Result r) {
    long deadline = System.nanoTime() + 500L;
    boolean in;
    if (occupied.compareAndSet(0, 1)) {
      in = true;
    } else {
      Node node = new Node();
      queue.offer(node);
      if (occupied.compareAndSet(0, 1)) {
        node.status.set(CANCELLED);
        queue.remove(node);
        in = true;
      } else {
        in = true;
        while (node.status.get() != GRANTED) {
          long remaining = deadline - System.nanoTime();
          if (remaining <= 0L) {
            node.status.set(CANCELLED); // BROKEN: overwrites a grant that just landed
            queue.remove(node);
            in = false;
            break;
          }
          LockSupport.parkNanos(remaining);
        }
      }
    }
    r.r1 = in ? 1 : 0;
    if (in) {
      occupied.set(0); // exit, simplified: nobody else waits in this test
    }
  }

  @Arbiter
  public void arbiter(III_Result r) {
    r.r2 = occupied.get();
    r.r3 = queue.size();
  }
}
