package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Virtual-thread re-review (JDK 21+, measured on JDK 25, 2 carriers; session 12): reproducers
 * that failed on the reviewed code ({@code fixed_} since), and one known gap ({@code gap_}). Shape (VirtualThreadReReviewSupport.pollRounds): consumers on virtual
 * threads wait for each of 200 rounds; a virtual producer parks 20 us (unmounts, woken by the
 * timer) before each round. Each test runs the JDK equivalent in the same shape first and
 * requires weft to stay within 3x of it (plus slack).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VirtualThreadReReviewTest {
  private static final int ROUNDS = 200;

  private static VirtualThreadReReviewSupport.Result run(
      String kind, int consumers, long micros, long limitMillis) throws Exception {
    return VirtualThreadReReviewSupport.pollRounds(
        VirtualThreadReReviewSupport.byName(kind, ROUNDS),
        new AtomicLong(),
        consumers,
        ROUNDS,
        micros,
        limitMillis);
  }

  /**
   * Best of 3 runs each (JIT-warm), JDK first; fails if weft stalls (5 s) or its best run is
   * over 3x the JDK's best plus 100 ms.
   */
  private static void compare(String weft, String jdk, int consumers, long micros)
      throws Exception {
    compare(weft, jdk, consumers, micros, 3);
  }

  /** As above, with {@code factor} times the JDK's best plus 100 ms as the bound. */
  private static void compare(String weft, String jdk, int consumers, long micros, int factor)
      throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    VirtualThreadReReviewSupport.Result j = null;
    VirtualThreadReReviewSupport.Result w = null;
    for (int i = 0; i < 3; i++) {
      VirtualThreadReReviewSupport.Result r = run(jdk, consumers, micros, 10_000);
      assertThat(r.finished()).as("JDK baseline %s: %s", jdk, r).isTrue();
      j = j == null || r.millis() < j.millis() ? r : j;
    }
    for (int i = 0; i < 3; i++) {
      VirtualThreadReReviewSupport.Result r = run(weft, consumers, micros, 5_000);
      w = w == null || (r.finished() && r.millis() < w.millis()) ? r : w;
      if (!r.finished()) {
        break; // a stall: no need to wait 5 s twice more
      }
    }
    System.out.println("PROBE " + weft + " vs " + jdk + ": " + w + " vs " + j);
    assertThat(w.finished() && w.millis() <= factor * j.millis() + 100)
        .as("%s (%d us, %d consumers, bound %dx JDK + 100 ms): best %s; JDK %s: best %s",
            weft, micros, consumers, factor, w, jdk, j)
        .isTrue();
  }

  /**
   * Fixed in session 12 (a virtual thread spins 4 times, OnceCellCore.VIRTUAL_SPIN_LIMIT).
   * OnceCell.await(2 us) in a retry loop never unmounted: awaitSlow spins SPIN_LIMIT (64)
   * onSpinWait with a clock read each before it pushes a node and parks, and a 1-2 us timeout
   * runs out inside that spin, so the call returns false without parking. With as many pollers
   * as carriers, the setter (a virtual thread woken by the timer) never gets a carrier: 0/200
   * rounds in 10 s (runs: 1/1, 1 us 1/1, 8 pollers 1/1). CountDownLatch.await(2 us): 28-139 ms.
   */
  @Test
  void fixed_onceCellShortTimedAwaitRetryLoopsStarveTheSetter() throws Exception {
    compare("onceCell", "jdkLatch", VirtualThreadReviewSupport.carriers(), 2);
  }

  /**
   * Fixed in session 12 (a virtual waiter's spin window is 0, Mutex.waitSpinLocked).
   * Condvar.awaitWhile(guard, blocked, 10 us) in a retry loop: the wait spun its whole timeout
   * (window = min(timeout, 10 us adaptive window), Condvar.awaitBlockedNanosWait), finds
   * remaining <= 0 and returns false without ever parking on the Condition; consumers unmount
   * only when the mutex itself is contended, so the unmounted producer waits for a carrier.
   * 1.5-1.7 s for 200 rounds vs ReentrantLock + Condition.awaitNanos(10 us) 20-39 ms.
   */
  @Test
  void fixed_condvarShortTimedAwaitRetryLoopsStarveTheNotifier() throws Exception {
    compare("condvar", "jdkCondition", VirtualThreadReviewSupport.carriers(), 10);
  }

  /**
   * Fixed in session 12 (no spin window, one spinAcquire round for a virtual thread).
   * 500 virtual threads in untimed Condvar.awaitWhile: each call first spun up to the
   * adaptive window (10-50 us, Mutex.releaseAndSpin) on its carrier, then Mutex.spinAcquire's
   * 6 backoff rounds; with 200 waiters per notifyAllWaiters that is milliseconds of carrier
   * time per round in which the unmounted producer cannot run. 610-863 ms vs ReentrantLock +
   * Condition.await 43-57 ms.
   *
   * <p>The bound is 6x the JDK's best plus 100 ms, as for the lockWhen herd below (session 27:
   * the 3x bound failed CI's second run of a test-only commit, weft's best 207 ms against the
   * JDK's best 27 ms, bound 181; code this session did not touch, since the Condvar's waiters
   * are not in the change queue; WaiterHerdJdk25Bench's Condvar herd, 142-149 ms against
   * Condition's 33-39 ms, sits at the 3x bound). It guards against the stall it was written
   * for, 610-863 ms against 43-57 ms, which 6x still catches.
   */
  @Test
  void fixed_condvarHerdOfVirtualWaitersSpinsOutTheNotifier() throws Exception {
    compare("condvarUntimed", "jdkConditionUntimed", 500, 0, 6);
  }

  /**
   * As above, with untimed Mutex.lockWhen (automatic signalling): 1.7-3.0 s vs 43 ms when
   * found. Virtual waiters no longer spin (Mutex.waitSpinLocked, spinAcquire), which took it to
   * 0.70 s, still about 17x Condition's 41 ms. Improved in session 13: woken waiters let the
   * threads queued for the lock go first, for at most 200 us while it is free (Mutex's notes,
   * "Woken waiters queue behind lockers"); until then the woken herd barged ahead of the
   * producer on every round (WaiterHerdJdk25Bench: 156-188 ms against Condition's 32-36, now
   * 54-89 against 32-34). A stall guard only: the code before also met this bound.
   *
   * <p>The bound is 6x the JDK's best plus 100 ms, not 3x (session 26: the 3x bound failed 3 of
   * 17 runs on the 2-vCPU machine, and fails the code before session 26 too, whenever the JDK's
   * best run happens to be quick: Temurin 25, weft's best 106-228 ms before and 116-253 ms
   * after, the JDK's 32-98 ms; 228 against 42 fails 3x). Speed is JMH's to measure
   * (WaiterHerdJdk25Bench); this guards against the stall it was written for, 0.7-3.0 s
   * against 41-43 ms, which 6x still catches.
   */
  @Test
  void fixed_lockWhenHerdOfVirtualWaitersBargedAheadOfTheProducer() throws Exception {
    compare("lockWhenUntimed", "jdkConditionUntimed", 500, 0, 6);
  }
}
