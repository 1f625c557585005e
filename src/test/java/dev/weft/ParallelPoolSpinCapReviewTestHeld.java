package dev.weft;

import static dev.weft.ParallelPoolSpinCapReviewTest.LONG_KEEP_ALIVE;
import static dev.weft.ParallelPoolSpinCapReviewTest.LONG_SPIN;
import static dev.weft.ParallelPoolSpinCapReviewTest.awaitSpinning;
import static dev.weft.ParallelPoolSpinCapReviewTest.isIdle;
import static dev.weft.ParallelPoolSpinCapReviewTest.isSpinning;
import static dev.weft.ParallelPoolSpinCapReviewTest.shutdown;
import static dev.weft.ParallelPoolSpinCapReviewTest.spinningCount;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of {@link ParallelPool}'s spinner cap (issue 19): attacks that HELD, kept
 * as regression coverage. The failing reproducers are in {@link ParallelPoolSpinCapReviewTest}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ParallelPoolSpinCapReviewTestHeld {

  private static List<Thread> runIdleTogether(ParallelPool p, int n) throws Exception {
    // n tasks, each of a one-task call (so each thread may spin), going idle together
    List<Thread> threads = ParallelPoolOversubscribedTest.runCall(p, n, 1);
    for (Thread t : threads) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!isIdle(t, p)) {
        assertThat(System.nanoTime() - deadline).as("%s never went idle", t).isNegative();
        LockSupport.parkNanos(50_000L); // bounded poll of a thread state
      }
    }
    return threads;
  }

  /*
   * n = 6 threads going idle together with core 2 and a spin that outlasts the test: exactly
   * core of them spin (never more), the count matches, and after retireIdle races the spinners
   * (RETIRED read inside spinForSlot) the count is back to 0, so a later idle thread spins
   * again (no drift). Held 3 of 3 runs.
   */
  @Test
  void atMostCoreSpinAndTheCountReturnsToZeroAfterRetiringSpinners() throws Exception {
    ParallelPool p = new ParallelPool("test-spincap-held-", 2, LONG_KEEP_ALIVE, LONG_SPIN);
    List<Thread> all = new ArrayList<>();
    try {
      List<Thread> threads = runIdleTogether(p, 6);
      all.addAll(threads);
      long spinners = threads.stream().filter(t -> isSpinning(t)).count();
      assertThat(spinners).isEqualTo(2);
      assertThat(spinningCount(p)).isEqualTo(2);
      shutdown(p, threads); // retires 2 spinners and 4 parked threads
      assertThat(spinningCount(p)).isZero();
      assertThat(p.liveThreads()).isZero();

      // No drift: a fresh idle thread still gets a spin slot.
      AtomicReference<Thread> t = new AtomicReference<>();
      CountDownLatch ran = new CountDownLatch(1);
      assertThat(p.tryExecute(() -> {
        t.set(Thread.currentThread());
        ran.countDown();
      }, false)).isTrue();
      assertThat(ran.await(20, TimeUnit.SECONDS)).isTrue();
      all.add(t.get());
      awaitSpinning(t.get());
      assertThat(spinningCount(p)).isEqualTo(1);
    } finally {
      shutdown(p, all);
    }
    assertThat(spinningCount(p)).isZero();
  }

  /*
   * A hand-over to a spinning thread (on top of the stack) is taken without an unpark, and a
   * hand-over to a parked one is not lost: core 1, two threads idle (one spins, one parks);
   * 50 rounds of two explicit tasks handed over once both are idle all run, on the same two
   * threads. Held 3 of 3 runs.
   */
  @Test
  void handOversToSpinnersAndParkedThreadsAreNeverLost() throws Exception {
    ParallelPool p = new ParallelPool("test-spincap-held2-", 1, LONG_KEEP_ALIVE, LONG_SPIN);
    List<Thread> all = new ArrayList<>();
    try {
      all.addAll(runIdleTogether(p, 2));
      for (int round = 0; round < 50; round++) {
        for (Thread t : all) { // both back in the idle stack (a plain task has no returnEarly)
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
          while (!isIdle(t, p)) {
            assertThat(System.nanoTime() - deadline).as("%s never went idle", t).isNegative();
            LockSupport.parkNanos(20_000L); // bounded poll of a thread state
          }
        }
        CountDownLatch ran = new CountDownLatch(2);
        assertThat(p.tryExecute(ran::countDown, true)).isTrue();
        assertThat(p.tryExecute(ran::countDown, true)).isTrue();
        assertThat(ran.await(20, TimeUnit.SECONDS)).as("round %d", round).isTrue();
      }
      assertThat(p.liveThreads()).as("no new thread was needed").isEqualTo(2);
    } finally {
      shutdown(p, all);
    }
  }
}
