package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Scope;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Scope's central guarantee when scope threads spawn into their scope (issue 18 defect 1): the
 * end of the scope returns only after every thread has terminated, including a grandchild whose
 * node was published but whose thread had not started when the owner reached the end, and the
 * grandchildren's writes happen-before the end returns. Two scope threads each spawn a child
 * that writes one field; the owner reads both after the scope. The end waited for neither
 * child's thread before the fix when it found it not yet started ({@code isAlive()} false).
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "the end waited for both grandchildren")
@Outcome(expect = FORBIDDEN, desc = "the scope returned before a grandchild finished")
@State
public class ScopeNestedSpawnStress {
  int a;
  int b;

  @Actor
  public void owner(II_Result r) {
    try {
      Scope.run(scope -> {
        scope.spawn(() -> scope.spawn(() -> a = 1));
        scope.spawn(() -> scope.spawn(() -> b = 1));
      });
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // not expected: nobody interrupts the owner here
      r.r1 = -1;
      return;
    }
    // Plain reads: the scope's end must order the grandchildren's plain writes before them.
    r.r1 = a;
    r.r2 = b;
  }
}
