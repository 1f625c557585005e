package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link SpinLock} with virtual threads whose holder unmounts inside its critical section
 * (JDK 21+; skipped on older JDKs).
 *
 * <p>Regression for session 12's finding: virtual threads in loops of {@code tryLock(100 µs)}
 * kept yielding (each timed try ran out inside the lock's yield phase and was retried at once),
 * and a virtual thread's {@code Thread.yield()} requeues it on its carrier's local queue, which
 * the scheduler drains before its external queue, where a holder woken by its sleep's timer
 * waits. On JDK 25 with 2 carriers the run below completed 912 of 19,200 acquisitions in 30 s
 * (unfair {@code ReentrantLock}: all of them in 0.15&ndash;0.25 s). Virtual threads now skip the
 * yield phase and park.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SpinLockVirtualThreadTest {

  @Test
  void timedRetryLoopsDoNotStarveAHolderThatSleepsInsideTheLock() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    SpinLock lock = new SpinLock();
    int threads = 32 * Math.max(2, VirtualThreadReviewSupport.carriers());
    VirtualThreadReviewSupport.Result r =
        VirtualThreadReviewSupport.retryLoops(
            VirtualThreadReviewSupport.of(lock), threads, 300, 100, 15_000);
    assertThat(r.finished())
        .as("%d virtual threads x 300 acquisitions did not finish in 15 s (%s): the holder's"
            + " wake-up was starved", threads, r)
        .isTrue();
    assertThat(r.done()).isEqualTo(r.expected());
    assertThat(lock.isLocked()).isFalse();
  }
}
