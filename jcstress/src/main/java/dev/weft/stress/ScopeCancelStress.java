package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Scope;
import dev.weft.TaskFailedException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * A spawn racing with the cancellation of the scope (the first task fails while the second is
 * being spawned and started) is never missed: the second task either never runs (r1 = 0: the
 * spawn saw the cancellation, or its thread saw it before the task began; issue 18 defect 14)
 * or runs and is interrupted (r1 = 1), whether the cancel walk saw it or it saw the cancel at
 * its start. It never runs without being interrupted (r1 = -1). r2 = 1 if the scope reported
 * the failure.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "the racing task ran and was interrupted")
@Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "the racing task never ran (cancelled first)")
@Outcome(expect = FORBIDDEN, desc = "a task spawned during cancellation ran uninterrupted")
@State
public class ScopeCancelStress {
  static final RuntimeException FAIL = new RuntimeException("cancel the scope");
  volatile int interrupted;

  @Actor
  public void owner(II_Result r) {
    try {
      Scope.run(scope -> {
        scope.spawn(() -> {
          throw FAIL;
        });
        scope.spawn(() -> {
          interrupted = -1; // the task ran; set to 1 below only if it is interrupted
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
          while (!Thread.currentThread().isInterrupted() && deadline - System.nanoTime() > 0) {
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
          }
          interrupted = Thread.currentThread().isInterrupted() ? 1 : -1;
        });
      });
    } catch (TaskFailedException e) {
      r.r2 = e.getCause() == FAIL ? 1 : 0;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      r.r2 = -1;
    }
    r.r1 = interrupted;
  }
}
