package dev.weft;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.ThreadLocalRandom;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;

/**
 * Issue 19: a task handed to an idle thread of {@code Parallel}'s pool always runs, wherever
 * the hand-over lands in that thread's way to sleep. The pool thread publishes {@code parked}
 * (volatile) and then re-reads its slot (volatile) before it parks; the hand-over CASes the
 * slot (volatile) and then reads {@code parked} (volatile): a Dekker pair, so one of them sees
 * the other. A lost wake-up would leave the task unrun, and nothing else wakes that thread: the
 * pool here keeps idle threads for an hour, so a miss shows as STALE, not as a late run.
 *
 * <p>The real {@link ParallelPool} (this test lives in its package), one thread, no spin (so
 * the thread goes straight for the park) and one shared instance for all samples: the signal
 * waits for the thread to be idle again, then, after a pause chosen at random (none, a short
 * spin, or until the thread's state shows it parked), hands it a task; the actor terminates
 * once the task has run. {@code BrokenPoolHandOverStress} (in {@code dev.weft.stress}) is the negative control: the
 * same hand-shake with opaque accesses, which x86 reorders (store then load).
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the handed-over task ran")
@Outcome(id = "STALE", expect = FORBIDDEN, desc = "lost wake-up: the task was handed over and never ran")
@State
public class ParallelPoolHandOverStress {
  /** One thread, no spin, idle threads kept an hour: a missed unpark is never recovered. */
  static final ParallelPool POOL =
      new ParallelPool("weft-jcstress-pool-", 1, 3_600_000_000_000L, 0L);

  volatile boolean ran;

  /** Terminates once the task has run. */
  @Actor
  public void awaitTask() {
    while (!ran) {
      Thread.onSpinWait();
    }
  }

  /** Hands the task over, after a pause chosen at random. */
  @Signal
  public void handOver() {
    // The previous sample's task may still be returning into the pool: wait until the thread
    // is back in the idle stack (or, the first time, not started yet).
    long deadline = System.nanoTime() + 50_000_000L;
    while (POOL.idleThreads() == 0 && POOL.liveThreads() != 0 && System.nanoTime() < deadline) {
      Thread.onSpinWait();
    }
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    int pause = rnd.nextInt(3);
    if (pause == 1) {
      long end = System.nanoTime() + rnd.nextInt(40_000);
      while (System.nanoTime() < end) {
        Thread.onSpinWait(); // lands the hand-over anywhere in the thread's way to park
      }
    } else if (pause == 2) {
      waitUntilParked();
    }
    while (!POOL.tryExecute(() -> ran = true, false)) {
      Thread.onSpinWait(); // not idle yet after all (core size 1): try again
    }
  }

  private static void waitUntilParked() {
    long deadline = System.nanoTime() + 50_000_000L;
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t instanceof ParallelPool.PoolThread && t.getName().startsWith("weft-jcstress-pool-")) {
        while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING
            && System.nanoTime() < deadline) {
          Thread.onSpinWait();
        }
        return;
      }
    }
  }
}
