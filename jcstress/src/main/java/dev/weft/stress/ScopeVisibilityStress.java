package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Scope;
import dev.weft.ScopedThread;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.IIIII_Result;

/**
 * Scope's memory consistency effects, all plain fields: a write before {@code spawn} is seen by
 * the task; a task's writes are seen after its {@code join()}; the writes of a task nobody joined
 * are seen after the scope's end ({@code close()}).
 */
@JCStressTest
@Outcome(id = "5, 1, 2, 3, 4", expect = ACCEPTABLE, desc = "every write visible")
@Outcome(expect = FORBIDDEN, desc = "a plain write was not visible across spawn/join/end")
@State
public class ScopeVisibilityStress {
  int before;
  int seenBefore;
  int a;
  int b;
  int c;
  int d;

  @Actor
  public void owner(IIIII_Result r) {
    before = 5;
    try (Scope scope = Scope.open()) {
      ScopedThread<Void> joined = scope.spawn(() -> {
        seenBefore = before;
        a = 1;
        b = 2;
      });
      scope.spawn(() -> {
        c = 3;
        d = 4;
      });
      joined.join();
      r.r1 = seenBefore;
      r.r2 = a;
      r.r3 = b;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      r.r1 = -1;
    }
    r.r4 = c; // the unjoined task: visible because close() returned
    r.r5 = d;
  }
}
