package dev.weft;

import static dev.weft.ParallelPoolSpinCapReviewTest.LONG_KEEP_ALIVE;
import static dev.weft.ParallelPoolSpinCapReviewTest.awaitQuietly;
import static dev.weft.ParallelPoolSpinCapReviewTest.awaitSpinning;
import static dev.weft.ParallelPoolSpinCapReviewTest.isSpinning;
import static dev.weft.ParallelPoolSpinCapReviewTest.shutdown;
import static dev.weft.ParallelPoolSpinCapReviewTest.spinningCount;
import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link ParallelPool}: a thread whose task belonged to a call that handed over more tasks than
 * the pool's core size (threads(n) above the processors: blocking work) parks as soon as it is
 * done instead of spinning (algorithm notes, "No spin after an oversubscribed call"). The spin
 * here outlasts the test, so a thread that spins is seen spinning, and one that parks is seen
 * parked on the pool. On the code before this change every thread below the spinner cap spun, and
 * the first and third tests failed (checked: the first finisher never parked).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ParallelPoolOversubscribedTest {
  /** Longer than Waits.awaitParkedOn's 20 s bound: a thread that spins is never seen parked. */
  private static final long SPIN = TimeUnit.SECONDS.toNanos(120);

  /**
   * Hands {@code n} tasks of one call of {@code callWorkers} tasks over, lets them finish
   * together, and returns the threads that ran them.
   */
  static List<Thread> runCall(ParallelPool p, int n, int callWorkers) {
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(n);
    Set<Thread> seen = ConcurrentHashMap.newKeySet();
    for (int i = 0; i < n; i++) {
      assertThat(p.tryExecute(() -> {
        seen.add(Thread.currentThread());
        started.countDown();
        awaitQuietly(go);
      }, true, callWorkers)).isTrue();
    }
    awaitQuietly(started);
    go.countDown();
    List<Thread> threads = new ArrayList<>(seen);
    assertThat(threads).hasSize(n);
    return threads;
  }

  @Test
  void threadsOfACallAboveTheCoreSizeParkAtOnce() throws Exception {
    ParallelPool p = new ParallelPool("test-oversub-", 2, LONG_KEEP_ALIVE, SPIN);
    List<Thread> threads = runCall(p, 3, 3); // 3 tasks, core 2: oversubscribed
    try {
      for (Thread t : threads) {
        Waits.awaitParkedOn(t, p); // a spinner would stay in spinForSlot for 20 s
        assertThat(isSpinning(t)).as("%s spins", t.getName()).isFalse();
      }
      assertThat(spinningCount(p)).isZero();
    } finally {
      shutdown(p, threads);
    }
  }

  @Test
  void threadsOfACallThatFitsTheCoreSizeStillSpin() throws Exception {
    ParallelPool p = new ParallelPool("test-oversub-fit-", 2, LONG_KEEP_ALIVE, SPIN);
    List<Thread> threads = runCall(p, 2, 2); // fits: both may spin (the spinner cap is 2)
    try {
      for (Thread t : threads) {
        awaitSpinning(t);
      }
      assertThat(spinningCount(p)).isEqualTo(2);
    } finally {
      shutdown(p, threads);
    }
  }

  /**
   * The decision belongs to the task, not the thread: a thread that parked after an
   * oversubscribed call spins again after a task of a call that fits, and the other way round.
   */
  @Test
  void theDecisionFollowsEachTasksCall() throws Exception {
    ParallelPool p = new ParallelPool("test-oversub-next-", 1, LONG_KEEP_ALIVE, SPIN);
    List<Thread> all = new ArrayList<>();
    try {
      List<Thread> first = runCall(p, 1, 2); // one task of a two-task call, core 1
      all.addAll(first);
      Thread t = first.get(0);
      Waits.awaitParkedOn(t, p);

      List<Thread> second = runCall(p, 1, 1); // reuses the parked thread: a call that fits
      assertThat(second).containsExactly(t);
      awaitSpinning(t);

      List<Thread> third = runCall(p, 1, 2); // handed to the spinner: oversubscribed again
      assertThat(third).containsExactly(t);
      Waits.awaitParkedOn(t, p);
      assertThat(spinningCount(p)).isZero();
    } finally {
      shutdown(p, all);
    }
  }
}
