package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * The writers' waiting room of {@link SeqLock} and {@link SeqLocked}: a FIFO mutual-exclusion
 * gate that lets one waiting writer at a time into the slot where it parks for the lock, and
 * queues and parks the others. Internal; created by the lock on its first contended write.
 *
 * <p>It replaces the {@link java.util.concurrent.locks.ReentrantLock} used until session 16,
 * for one property the JDK's queue does not have: <b>a waiter that gives up (timeout or
 * interrupt) wakes nobody</b>. The AQS wakes the next queued thread when the first one cancels.
 * With only timed waiters queued on one virtual-thread carrier that wake-up starts a chain: the
 * woken waiter's timeout has already run out while it waited for the carrier, so it cancels and
 * wakes the next, the local run queue never empties, and a holder whose timed park ended
 * (through the scheduler's external queue) never runs again. {@code SeqLock}'s
 * {@code tryWrite(30 µs)} retry loops stalled so on one carrier (Review15Test); the JDK's own
 * {@code ReentrantLock} and {@code StampedLock} stall the same way when every waiter is timed
 * (docs/seqlock.md). Here only {@link #exit} wakes a waiter, by granting it the room.
 *
 * <h2>Memory consistency effects</h2>
 *
 * <p>Actions of a thread before {@link #exit} happen-before the actions after the {@link #enter}
 * that returns {@code true} to the next thread in the room: a grant is a volatile CAS on the
 * grantee's node that the grantee reads with a volatile read; a free room is a volatile write of
 * {@code occupied} that the next CAS reads.
 *
 * <h2>Thread-safety and misuse</h2>
 *
 * <p>Safe for any number of threads. Not reentrant, and only the thread that entered may exit:
 * the caller ({@code SeqLockCore.acquireQueued}) enters and exits in one method, in a
 * try/finally, so neither is checked here.
 */
final class WaitingRoom {
  /*
   * Algorithm notes.
   *
   * State: `occupied` (0 free, 1 held) and a FIFO of nodes, one per waiting thread. A node's
   * status goes WAITING -> GRANTED (by an exiting holder) or WAITING -> CANCELLED (by its own
   * thread giving up), each by one CAS, so exactly one of the two happens.
   *
   * enter: CAS occupied 0 -> 1 (fast path). Else offer a node to the queue, then look at
   * `occupied` again: if it is 0 now, CAS it to 1 and withdraw the node (CAS it to CANCELLED:
   * it cannot have been granted, since only a holder grants and nobody held the room). Else park
   * until the node is GRANTED. A timeout or interrupt CASes the node to CANCELLED and unlinks
   * it; if that CAS fails the node was just granted, and the thread holds the room (a timed
   * enter returns true at its deadline; an interrupted one returns true with the interrupt
   * status set: SeqLockCore.acquireQueued then throws only if it has to park for the lock, and
   * a write that gets the lock at once returns with the status still set, as an AQS acquisition
   * that wins its race with an interrupt does); if it fails because exit withdrew the node
   * (below), the thread leaves without the room. A cancelled waiter wakes nobody: it had been
   * given nothing that it must pass on. A Throwable out of the wait (an Error from park) gives
   * the node up the same way, or, if it was granted meanwhile, passes the room on with exit,
   * so the room is never left held by a thread that has gone.
   *
   * exit: poll nodes in FIFO order; CAS the first WAITING one that is not past its deadline to
   * GRANTED and unpark its thread:
   * the room passes to it without ever being free (`occupied` stays 1), so nobody can barge in
   * between. Cancelled nodes are skipped. With the queue empty, set occupied = 0 and then look
   * at the queue again: a waiter may have offered its node after the poll and read `occupied`
   * as 1 before the write. If the queue is not empty, CAS occupied 0 -> 1 and grant again; if
   * the CAS fails, someone else holds the room and their exit will grant.
   *
   * Why no wake-up is lost (Dekker): the waiter writes (the queue's CAS, volatile) then reads
   * `occupied` (volatile); exit writes `occupied` (volatile) then reads the queue (volatile
   * reads). Volatile accesses are sequentially consistent, so at least one side sees the other:
   * the waiter sees 0 and takes the room itself, or exit sees the node and grants it. A grant's
   * unpark before the waiter's park leaves a permit, so that park returns at once.
   *
   * Fairness: FIFO among queued waiters; a thread arriving while the room is free (occupied 0,
   * which exit leaves only with the queue empty) takes it without queueing.
   *
   * Waiters past their deadline: exit withdraws them (CAS to CANCELLED) instead of granting, and
   * does not wake them (past the deadline by exit's one clock read, which the `| 1` that keeps
   * it nonzero may move by 1 ns; a waiter returns false only after its own clock says so); each one's own timed park ends at its deadline, finds its node
   * CANCELLED, and returns false. A grant to such a waiter would wake it only for it to find its
   * time gone and pass the room on at once, and on one virtual-thread carrier that is a chain
   * again: each grant is an unpark onto the carrier's local queue, the woken waiter exits at
   * once and grants the next, whose timeout has also run out while it waited for the carrier
   * (with the first version of this class, StallProbe still stalled at about 9,600 of 19,200
   * sections, a timed writer in the slot each time). A waiter that still has time when granted
   * is woken, usually runs at once (it is next on the local queue) with time left, and parks
   * in the slot with a timer: its next wake-up comes through the scheduler's external queue, in
   * line with the holder's.
   */

  private static final int WAITING = 0;
  private static final int GRANTED = 1;
  private static final int CANCELLED = -1;

  private static final VarHandle OCCUPIED;
  private static final VarHandle STATUS;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      OCCUPIED = l.findVarHandle(WaitingRoom.class, "occupied", int.class);
      STATUS = l.findVarHandle(Node.class, "status", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
    linkRareSteps();
  }

  /**
   * Runs, once and while the stack is shallow, the queue operations and node transitions that
   * a waiting room first needs under contention, so that their call sites (here and inside
   * ConcurrentLinkedQueue) are linked now. A first run links a method handle, which takes far
   * more stack than the step: Review18SoeTest's sweep saw one overflow deep in the stack inside
   * ConcurrentLinkedQueue.poll, after the lock was taken (as SpinLock.linkRareSteps).
   */
  private static void linkRareSteps() {
    WaitingRoom r = new WaitingRoom();
    Thread me = Thread.currentThread();
    Node a = new Node(me, false, 0L);
    Node b = new Node(me, true, 0L);
    r.queue.offer(a);
    r.queue.offer(b);
    if (r.queue.isEmpty() || r.queue.size() != 2) {
      throw new AssertionError("WaitingRoom: two nodes offered, queue says otherwise");
    }
    b.cancel();
    r.queue.remove(b);
    Node first = r.queue.poll();
    if (first != null) {
      first.grant();
      first.granted();
      first.cancelled();
    }
    r.casOccupied();
    r.exit(); // the queue is empty again: frees the room, wakes nobody
  }

  /** One waiting thread. */
  private static final class Node {
    final Thread thread;

    /** Whether the waiter gives up at {@link #deadline}. */
    final boolean timed;

    /** In {@link System#nanoTime()} terms; only if {@link #timed}. */
    final long deadline;

    /** WAITING, GRANTED or CANCELLED; accessed through {@link #STATUS}. */
    @SuppressWarnings("UnusedVariable") // accessed through the STATUS VarHandle
    private int status;

    Node(Thread thread, boolean timed, long deadline) {
      this.thread = thread;
      this.timed = timed;
      this.deadline = deadline;
    }

    /** Whether the waiter withdrew, or exit withdrew it at its deadline; volatile read. */
    boolean cancelled() {
      return (int) STATUS.getVolatile(this) == CANCELLED;
    }

    /** Volatile: the grantee's read of the grant; pairs with the CAS in {@link #grant}. */
    boolean granted() {
      return (int) STATUS.getVolatile(this) == GRANTED;
    }

    /** By the holder: volatile CAS, releasing the holder's writes to the grantee. */
    boolean grant() {
      return STATUS.compareAndSet(this, WAITING, GRANTED);
    }

    /**
     * By the waiter giving up, or by exit for a waiter past its deadline: volatile CAS, so
     * exactly one of grant and cancel wins.
     */
    boolean cancel() {
      return STATUS.compareAndSet(this, WAITING, CANCELLED);
    }
  }

  /** 0 free, 1 held (also while the room passes from a holder to a granted waiter). */
  @SuppressWarnings("UnusedVariable") // accessed through the OCCUPIED VarHandle
  private int occupied;

  /** The waiting threads' nodes, FIFO; a cancelled waiter removes its own. */
  private final ConcurrentLinkedQueue<Node> queue = new ConcurrentLinkedQueue<>();

  /** Volatile CAS: acquires what the previous holder released by its volatile write of 0. */
  private boolean casOccupied() {
    return (int) OCCUPIED.getVolatile(this) == 0 && OCCUPIED.compareAndSet(this, 0, 1);
  }

  /**
   * Enters the room, waiting in FIFO order.
   *
   * @param blocker the park blocker shown in thread dumps (the lock)
   * @param interruptible whether an interrupt while waiting throws (otherwise it is kept and
   *     re-asserted on return)
   * @param timed whether {@code deadline} applies
   * @param deadline in {@link System#nanoTime()} terms; compared only by subtraction
   * @return {@code true} in the room; {@code false} only when timed and the deadline passed
   * @throws InterruptedException if interruptible and interrupted while waiting (the room was
   *     not entered)
   */
  boolean enter(Object blocker, boolean interruptible, boolean timed, long deadline)
      throws InterruptedException {
    if (casOccupied()) {
      return true;
    }
    if (timed && deadline - System.nanoTime() <= 0L) {
      return false;
    }
    return enterQueued(blocker, interruptible, timed, deadline);
  }

  private boolean enterQueued(Object blocker, boolean interruptible, boolean timed, long deadline)
      throws InterruptedException {
    Node node = new Node(Thread.currentThread(), timed, deadline);
    queue.offer(node); // volatile write (a CAS in the queue): the first half of the Dekker pair
    if (casOccupied()) { // volatile read of occupied: the second half
      // The node cannot have been granted (a grant keeps the room occupied until the grantee
      // exits), but an exit may have withdrawn it already, past its deadline: then it is gone.
      if (node.cancel()) {
        queue.remove(node);
      }
      return true;
    }
    boolean interrupted = false;
    boolean done = false; // false while a Throwable may leave the wait (see the finally)
    try {
      while (!node.granted()) {
        if (timed) {
          long remaining = deadline - System.nanoTime();
          if (remaining <= 0L) {
            done = true;
            return !giveUp(node); // lost the race to a grant: in the room after all
          }
          LockSupport.parkNanos(blocker, remaining);
        } else {
          LockSupport.park(blocker);
        }
        if (Thread.interrupted()) {
          if (!interruptible) {
            interrupted = true; // kept aside: a set status would end every park at once
          } else if (giveUp(node)) {
            done = true;
            throw new InterruptedException("interrupted while waiting for a SeqLock write");
          } else {
            interrupted = true; // granted meanwhile: in the room, interrupt re-asserted
          }
        }
      }
      done = true;
      return true;
    } finally {
      if (!done && !giveUp(node)) {
        exit(); // an Error left the wait after a grant: pass the room on, never strand it
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Withdraws a waiter's node. Wakes nobody: a node that was never granted owes nothing.
   *
   * @return {@code true} if withdrawn; {@code false} if a grant won the race (the caller is in
   *     the room)
   */
  private boolean giveUp(Node node) {
    if (node.cancel()) {
      queue.remove(node); // O(queue); no other thread is woken or spins on it
      return true;
    }
    return node.cancelled(); // exit withdrew it at its deadline (and unlinked it), or granted
  }

  /**
   * Leaves the room: grants it to the first waiting thread whose deadline has not passed, or
   * frees it. A waiter past its deadline is withdrawn, not woken: its own timer wakes it, and it
   * returns false (see "Waiters past their deadline" in the algorithm notes).
   */
  void exit() {
    long now = 0L; // read once, at the first timed waiter
    while (true) {
      Node next = queue.poll();
      if (next != null) {
        if (next.timed) {
          if (now == 0L) {
            now = System.nanoTime() | 1L; // never 0
          }
          if (next.deadline - now <= 0L && next.cancel()) {
            continue; // past its deadline: withdrawn; its timer wakes it, not us
          }
        }
        if (next.grant()) {
          LockSupport.unpark(next.thread);
          return; // occupied stays 1: the room passed without being free
        }
        continue; // cancelled: its thread has left; skip it, waking nobody
      }
      // Volatile write, then the queue's volatile reads: the other half of the Dekker pair.
      OCCUPIED.setVolatile(this, 0);
      if (queue.isEmpty() || !casOccupied()) {
        return; // nobody waits, or another thread took the room (its exit grants)
      }
      // A waiter queued after our poll and saw the room held: we hold it again; grant it.
    }
  }

  /** For tests: whether the room is held (or passing to a granted waiter). */
  boolean isOccupied() {
    return (int) OCCUPIED.getVolatile(this) != 0;
  }

  /** For tests: waiting threads' nodes, cancelled ones not yet unlinked included. */
  int queuedNodes() {
    return queue.size();
  }
}
