package dev.weft;

import dev.weft.testing.Heap;
import dev.weft.testing.Scenario;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Session 31: SpinLock's and TicketLock's acquisitions wait without a queue node when the node
 * cannot be allocated (a full heap), as JDK 25's AQS does. Run in a fresh 32 MiB JVM by
 * Review31LockWithoutNodeTest. A (main) holds the lock; B starts the acquisition with the heap
 * full, so its node allocation throws; A frees the heap after a while and (for "lock") unlocks.
 * Prints "RESULT ..." and halts 0 as expected, 1 not, 2 harness error.
 *
 * <p>Scenarios (args[0]): "lock" (B's lock() returns holding, no error), "interrupt" (B's
 * uninterruptible lock() is interrupted while it waits: it returns holding, interrupt status
 * set), "interruptibly" (B's lockInterruptibly() is interrupted while it waits: it throws
 * InterruptedException, not holding), "timed" (B's tryLock(600 ms) with A holding throughout
 * returns false, no error). args[1]: spin, ticket or jdk (ReentrantLock, the reference).
 */
@SuppressWarnings({"StatementSwitchToExpressionSwitch", "LockNotBeforeTry",
    "StaticAssignmentOfThrowable"})
final class Review31LockWithoutNodeMain {
  private Review31LockWithoutNodeMain() {}

  static volatile int ready;
  static volatile int done;
  static volatile int interruptSeen = -1;
  static volatile boolean holdsAtReturn;
  static volatile boolean acquired;
  static volatile @Nullable Throwable error;

  static final BooleanSupplier DONE = () -> done != 0;
  static final BooleanSupplier NEVER = () -> false;

  public static void main(String[] args) throws Exception {
    Heap.free();
    Heap.waitFor(0, DONE);
    Heap.waitFor(0, NEVER);
    Review30HeapMain.describe(null);
    Scenario.runAndHalt(args, Review30HeapMain::describe, Review31LockWithoutNodeMain::run);
  }

  static String[] run(String scenario, String kind) throws Exception {
    Lock l = Review30HeapMain.newLock(kind);
    Review30HeapMain.warm(l, l.newCondition());
    // An int, not the scenario's name: a string constant first resolved in a full heap
    // allocates (the lambda's string switch threw before it reached the lock).
    final int op = "lock interrupt interruptibly timed".indexOf(scenario);
    if (op < 0) {
      throw new IllegalArgumentException(scenario);
    }
    Review30HeapMain.held(l); // links held's class checks: B calls it with the heap full
    l.lock(); // main is A
    Thread b = Scenario.daemon("B", () -> {
      while (ready == 0) {
        LockSupport.parkNanos(1_000_000L);
      }
      try {
        if (op == 0 || op == 5) { // lock, interrupt
          l.lock();
          acquired = true;
        } else if (op == 15) { // interruptibly
          l.lockInterruptibly();
          acquired = true;
        } else { // timed
          acquired = l.tryLock(600, TimeUnit.MILLISECONDS);
        }
        interruptSeen = Thread.interrupted() ? 1 : 0;
        holdsAtReturn = Review30HeapMain.held(l);
        if (acquired) {
          l.unlock();
        }
      } catch (Throwable t) {
        Heap.free();
        error = t;
        holdsAtReturn = Review30HeapMain.held(l);
      } finally {
        done = 1;
      }
    });
    boolean full = Heap.fill();
    ready = 1;
    // B's node allocation fails at once: it either throws (done) or waits without a node.
    boolean doneWhileFull = Heap.waitFor(300, DONE);
    if (op == 5 || op == 15) { // interrupt, interruptibly
      // Freed first: an InterruptedException needs memory (ReentrantLock's too). B is still
      // between retries of its node (about 55 ms apart), so the interrupt finds it polling.
      Heap.free();
      b.interrupt();
      Heap.waitFor(300, DONE);
    } else if (op == 29) { // timed
      Heap.waitFor(3_000, DONE);
    }
    Heap.free();
    l.unlock();
    Heap.waitFor(10_000, DONE);
    b.join(5_000);
    boolean others = Review30HeapMain.otherThreadLocks(l);
    Throwable e = error;
    String out = "full=" + full + " doneWhileFull=" + doneWhileFull + " bDone=" + (done != 0)
        + " bAlive=" + b.isAlive() + " acquired=" + acquired + " holdsAtReturn=" + holdsAtReturn
        + " interruptSeen=" + interruptSeen + " othersLock=" + others + " error="
        + Review30HeapMain.describe(e) + " lock=" + l;
    boolean ok = full && done != 0 && !b.isAlive() && others;
    switch (scenario) {
      case "lock":
        ok &= e == null && acquired && holdsAtReturn && interruptSeen == 0;
        break;
      case "interrupt":
        ok &= e == null && acquired && holdsAtReturn && interruptSeen == 1;
        break;
      case "interruptibly":
        ok &= e instanceof InterruptedException && !acquired && !holdsAtReturn;
        break;
      default: // timed
        ok &= e == null && !acquired && !holdsAtReturn;
        break;
    }
    return new String[] {ok ? "0" : "1", out};
  }
}
