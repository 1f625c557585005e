package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.I_Result;

/**
 * Negative control for {@link ScopeFailureStress}: a hand-made failure collector with a plain
 * check-then-act on its "first failure" slot instead of a CAS. Two threads failing at once can
 * both see the slot empty, and one failure is lost; jcstress must report the FORBIDDEN outcome.
 */
@JCStressTest
@Outcome(id = "2", expect = ACCEPTABLE, desc = "both failures recorded")
@Outcome(expect = FORBIDDEN, desc = "a failure was lost")
@State
public class BrokenScopeFailureStress {
  final AtomicInteger arrived = new AtomicInteger();
  Throwable first;
  Throwable second;

  void record(Throwable t) {
    if (first == null) { // BUG: check-then-act without a CAS
      String message = "first failure: " + t; // some work in the window, as real code does
      if (message.isEmpty()) {
        return;
      }
      first = t;
    } else {
      second = t;
    }
  }

  @Actor
  public void owner(I_Result r) {
    Thread[] ts = new Thread[2];
    for (int i = 0; i < 2; i++) {
      RuntimeException failure = new RuntimeException("fail " + i);
      ts[i] = new Thread(() -> {
        ScopeFailureStress.rendezvous(arrived, 2);
        record(failure);
      }, "test-broken-failure-" + i);
    }
    for (Thread t : ts) {
      t.start();
    }
    try {
      for (Thread t : ts) {
        t.join();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    r.r1 = (first != null ? 1 : 0) + (second != null ? 1 : 0);
  }
}
