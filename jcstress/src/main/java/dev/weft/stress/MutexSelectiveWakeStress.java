package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.Mutex;
import java.time.Duration;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Selective wake-ups of {@link Mutex} (session 27): a release evaluates the waiters' predicates
 * and wakes only those for whom it holds, so a waiter left queued by one release must be woken
 * by the later release that makes its predicate hold. Two waiters wait for different values (at
 * least 1, at least 2) while two updaters each add one, in every order: whichever release makes
 * a predicate true, before or after its waiter queued, that waiter must get the lock. A lost
 * wake-up shows as a timed {@code lockWhen} giving up (0): its 5 s bound only keeps a broken
 * build from hanging the run.
 */
@JCStressTest
@Outcome(id = "1, 1", expect = ACCEPTABLE, desc = "both waiters got the lock once their value came")
@Outcome(expect = FORBIDDEN, desc = "a waiter was not woken by the release that satisfied it")
@State
public class MutexSelectiveWakeStress {
  private static final Duration BOUND = Duration.ofSeconds(5);

  final Mutex<Integer> value = new Mutex<>(0);

  @Actor
  public void waitsForOne(II_Result r) {
    r.r1 = acquired(v -> v >= 1);
  }

  @Actor
  public void waitsForTwo(II_Result r) {
    r.r2 = acquired(v -> v >= 2);
  }

  @Actor
  public void addsOne() {
    value.update(v -> v + 1);
  }

  @Actor
  public void addsAnother() {
    value.update(v -> v + 1);
  }

  private int acquired(java.util.function.Predicate<Integer> ready) {
    try {
      Mutex.Guard<Integer> g = value.lockWhen(ready, BOUND);
      if (g == null) {
        return 0;
      }
      g.close();
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // harness clean-up of a stale run; keep the status
      return -1;
    }
  }
}
