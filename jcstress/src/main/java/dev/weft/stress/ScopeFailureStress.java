package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Scope;
import dev.weft.TaskFailedException;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * No failure is lost when two scope threads fail at once: they meet at a spin rendezvous, then
 * both throw; the scope's end reports one as the cause and the other as suppressed (r1 = how many
 * of the two were reported, r2 = 1 if the first spawned one is the cause, else 2).
 */
@JCStressTest
@Outcome(id = {"2, 1", "2, 2"}, expect = ACCEPTABLE, desc = "both failures reported")
@Outcome(expect = FORBIDDEN, desc = "a failure was lost")
@State
public class ScopeFailureStress {
  final AtomicInteger arrived = new AtomicInteger();
  final RuntimeException failA = new RuntimeException("a");
  final RuntimeException failB = new RuntimeException("b");

  @Actor
  public void owner(II_Result r) {
    try {
      Scope.run(scope -> {
        scope.spawn(() -> {
          rendezvous(arrived, 2);
          throw failA;
        });
        scope.spawn(() -> {
          rendezvous(arrived, 2);
          throw failB;
        });
      });
    } catch (TaskFailedException e) {
      int n = 0;
      for (Throwable s : e.getSuppressed()) {
        if (s == failA || s == failB) {
          n++;
        }
      }
      if (e.getCause() == failA || e.getCause() == failB) {
        n++;
      }
      r.r1 = n;
      r.r2 = e.getCause() == failA ? 1 : 2;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      r.r1 = -1;
    }
  }

  /** Spins until {@code parties} threads arrived (bounded: gives up after ~1M spins). */
  static void rendezvous(AtomicInteger arrived, int parties) {
    arrived.incrementAndGet();
    for (int i = 0; i < 1_000_000 && arrived.get() < parties; i++) {
      Thread.onSpinWait();
    }
  }
}
