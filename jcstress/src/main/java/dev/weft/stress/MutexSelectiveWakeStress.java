package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Mutex;
import java.time.Duration;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.I_Result;

/**
 * Automatic signalling of {@link Mutex} never loses a wake-up, with either {@link
 * Mutex.PredicateEvaluation}. {@link ByReleaser} (selective wake-ups, session 27): a release
 * evaluates the waiters' predicates and wakes only those for whom it holds, so a waiter left
 * queued by one release must be woken by the later release that makes its predicate hold.
 * {@link ByWaiter} (session 28): every release wakes every waiter, which re-checks on its own
 * thread. The waiter waits for 2 while the other actor writes 1 (a release that leaves the
 * predicate false, before or after the waiter queued) and then 2. A lost wake-up shows as the
 * timed {@code lockWhen} giving up (0): its 5 s bound only keeps a broken build from hanging
 * the run. Two actors, so that it runs on 2 CPUs.
 */
public class MutexSelectiveWakeStress {
  private static final Duration BOUND = Duration.ofSeconds(5);

  private MutexSelectiveWakeStress() {}

  static void waitForTwo(Mutex<Integer> value, I_Result r) {
    try {
      Mutex.Guard<Integer> g = value.lockWhen(v -> v == 2, BOUND);
      if (g == null) {
        r.r1 = 0;
        return;
      }
      g.close();
      r.r1 = 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // harness clean-up of a stale run; keep the status
      r.r1 = -1;
    }
  }

  static void writeOneThenTwo(Mutex<Integer> value) {
    value.update(v -> 1); // leaves the waiter's predicate false: it stays queued, or queues
    value.update(v -> 2);
  }

  /** The default: releases evaluate the predicates and wake only the satisfied waiters. */
  @JCStressTest
  @Outcome(id = "1", expect = ACCEPTABLE, desc = "the waiter got the lock once its value came")
  @Outcome(expect = FORBIDDEN, desc = "the waiter was not woken by the release that satisfied it")
  @State
  public static class ByReleaser {
    final Mutex<Integer> value = new Mutex<>(0);

    @Actor
    public void waitsForTwo(I_Result r) {
      waitForTwo(value, r);
    }

    @Actor
    public void writesOneThenTwo() {
      writeOneThenTwo(value);
    }
  }

  /** Waiters evaluate their own predicates; every release wakes them all. */
  @JCStressTest
  @Outcome(id = "1", expect = ACCEPTABLE, desc = "the waiter got the lock once its value came")
  @Outcome(expect = FORBIDDEN, desc = "the waiter was not woken by the release that satisfied it")
  @State
  public static class ByWaiter {
    final Mutex<Integer> value = new Mutex<>(0, Mutex.PredicateEvaluation.BY_WAITER);

    @Actor
    public void waitsForTwo(I_Result r) {
      waitForTwo(value, r);
    }

    @Actor
    public void writesOneThenTwo() {
      writeOneThenTwo(value);
    }
  }
}
