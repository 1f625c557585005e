package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.atomic.AtomicReference;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Negative control for {@link ScopeNestedSpawnStress}: the same scenario (two scope threads each
 * spawn a child that writes one field; the owner reads both after the end) on a hand-made scope
 * with the end-of-scope protocol that issue 18 (defect 1) found broken. A spawn pushes its node
 * on a stack BEFORE {@code Thread.start()}; the end walks the stack from the head down to the
 * head it saw last time, waits for each thread only {@code while (t.isAlive())}, and returns
 * when the head did not change. A grandchild whose node is on the stack but whose thread has not
 * started is skipped ({@code isAlive()} is false); the owner then joins its parent, which starts
 * it, sees no new head and returns before the grandchild ran, so jcstress must report the
 * FORBIDDEN outcomes.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "the end waited for both grandchildren (by luck)")
@Outcome(expect = FORBIDDEN, desc = "the scope returned before a grandchild finished")
@State
public class BrokenScopeNestedSpawnStress {
  /** The old protocol, reduced to the spawn and the end. */
  static final class PushBeforeStartScope {
    static final class Node {
      final Thread thread;
      Node next; // written before the CAS that publishes the node

      Node(Thread thread) {
        this.thread = thread;
      }
    }

    private final AtomicReference<Node> head = new AtomicReference<>();

    void spawn(Runnable body) {
      Node n = new Node(new Thread(body, "test-broken-nested-spawn"));
      Node h;
      do {
        h = head.get();
        n.next = h;
      } while (!head.compareAndSet(h, n));
      n.thread.start(); // the node is visible before isAlive() turns true
    }

    /** The old end of the scope: returns true if it was interrupted. */
    boolean end() {
      boolean interrupted = false;
      Node seen = null;
      for (Node h = head.get(); h != seen; h = head.get()) {
        for (Node n = h; n != seen && n != null; n = n.next) {
          while (n.thread.isAlive()) { // BUG: false for a thread not yet started: skipped
            try {
              n.thread.join();
            } catch (InterruptedException e) {
              interrupted = true;
            }
          }
        }
        seen = h;
      }
      return interrupted;
    }

    /**
     * Joins every thread on the stack, to not leak one into the next sample. After {@link #end}
     * every thread has been started: each was pushed by a thread the end joined, before it ended.
     */
    void joinStragglers() throws InterruptedException {
      for (Node n = head.get(); n != null; n = n.next) {
        n.thread.join();
      }
    }
  }

  int a;
  int b;

  @Actor
  public void owner(II_Result r) {
    PushBeforeStartScope scope = new PushBeforeStartScope();
    scope.spawn(() -> scope.spawn(() -> a = 1));
    scope.spawn(() -> scope.spawn(() -> b = 1));
    boolean interrupted = scope.end();
    // Plain reads, as in the real test: only a correct end orders the children's writes first.
    r.r1 = interrupted ? -1 : a;
    r.r2 = b;
    try {
      scope.joinStragglers();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // not expected: nobody interrupts the owner here
    }
  }
}
