package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Virtual-thread review (JDK 21+, run on JDK 25 with 2 carriers; session 12): reproducers that
 * failed on the code they were written against (fixed since, hence {@code fixed_}). Each is bounded by its own deadline and stops its threads before returning.
 * The JDK equivalents' timings are in each test's comment (same harness, same machine).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class VirtualThreadReviewTest {

  /**
   * SeqLock writers in {@code tryWrite(20 us)} retry loops (half of 64 virtual threads; the
   * other half in {@code write()}), the writer parking 1 us in every 16th section. A timed
   * SeqLock writer spins 128 times and yields 4 times before the waiting room; with a 20 us
   * budget the retries spend their whole life in that spin/yield phase, and each virtual
   * thread's yield requeues it on its carrier's local queue, ahead of the holder, whose wake-up
   * from its 1 us park went to the external queue: the issue-20 starvation again, in SeqLock.
   * Measured (JDK 25, 2 cores): SeqLock 77 and 18 of 19,200 in 15 s; StampedLock
   * tryWriteLock(20 us) all in 235-319 ms, ReentrantLock 80-313 ms.
   */
  @Test
  void fixed_seqLockTimedWriteRetryLoopsStarveAWriterThatParksInItsSection() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    VirtualThreadReviewSupport.Result r =
        VirtualThreadReviewSupport.retryLoops(
            VirtualThreadReviewSupport.of(new SeqLock()),
            32 * Math.max(2, VirtualThreadReviewSupport.carriers()),
            300,
            20,
            15_000);
    assertThat(r.finished()).as("SeqLock: %s (StampedLock: ~0.3 s)", r).isTrue();
  }

  /**
   * The same with {@code tryWrite(5 us)}. After the first fix (no yields on virtual threads)
   * this still stalled, 18 and 19 of 19,200 in 15 s: a 5 us timeout ran out inside the 128
   * spins, so the retrying virtual threads never unmounted and the holder never got a carrier
   * back. A virtual writer now spins 16 times and parks in the waiting room (StampedLock parks
   * too). After: 234-259 ms, StampedLock 147-163 ms.
   */
  @Test
  void fixed_seqLockShortTimedWriteRetriesNeverUnmountedTheirCarriers() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    VirtualThreadReviewSupport.Result r =
        VirtualThreadReviewSupport.retryLoops(
            VirtualThreadReviewSupport.of(new SeqLock()),
            32 * Math.max(2, VirtualThreadReviewSupport.carriers()),
            300,
            5,
            15_000);
    assertThat(r.finished()).as("SeqLock: %s (StampedLock: ~0.2 s)", r).isTrue();
  }
}
