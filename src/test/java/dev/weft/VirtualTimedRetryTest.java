package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A timed wait that fails on a virtual thread unmounts at least once (CI stop 33, session 20).
 *
 * <p>Nothing preempts a virtual thread, and weft's locks spin a little (and probe the stack)
 * before they park. A timeout shorter than that ran out on the carrier, and the call returned
 * {@code false} without unmounting; a caller retrying it in a loop kept its carrier for good.
 * With a loop on every carrier, a holder that had parked inside its critical section never ran
 * again. On the code before the fix (24da4ad, JDK 25, 2 carriers, this shape): {@code SpinLock}
 * at 1 us stalled in 12 of 12 runs (20 of 19,200 sections in 15 s), {@code SeqLock} at 1 us in 1
 * of 15 and took up to 7 s in others, and every 1 ns case below stalled. CI failed on {@code
 * VirtualThreadReReviewTestHeld}'s SeqLock case. Now such a call parks once for the shortest time
 * (SpinBackoff.unmountBeforeTimeout) before it reports the timeout.
 *
 * <p>The reference: {@link ReentrantLock} parks whenever its timeout has time left when it gets to
 * the park, so it holds at 1 us; at 1 ns its timeout runs out before the park and it stalls the
 * same way (not run here: see docs/spinlock.md, "Timed waits on virtual threads").
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VirtualTimedRetryTest {

  /** The harness's lock view with the timeout in nanoseconds ({@code micros} is ignored). */
  static VirtualThreadReviewSupport.XLock withNanos(String kind, long nanos) {
    return switch (kind) {
      case "spin" -> VirtualThreadReviewSupport.of(new SpinLock(), nanos);
      case "ticket" -> VirtualThreadReviewSupport.of(new TicketLock(), nanos);
      case "jdk" -> VirtualThreadReviewSupport.of(new ReentrantLock(), nanos);
      case "seq" -> VirtualThreadReviewSupport.of(new SeqLock(), nanos);
      default -> throw new IllegalArgumentException(kind);
    };
  }

  /**
   * 64 virtual threads (32 per carrier), half in {@code tryLock(t)} retry loops and half in
   * {@code lock()}, 300 sections each; every 16th section parks 1 us inside the lock.
   */
  @ParameterizedTest(name = "{0}, {1} ns")
  @CsvSource({
    "spin,1", "spin,1000", "ticket,1", "ticket,1000", "seq,1", "seq,1000", "jdk,1000"
  })
  void halfInTimedRetryLoopsFinish(String kind, long nanos) throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    VirtualThreadReviewSupport.Result r =
        VirtualThreadReviewSupport.retryLoops(
            withNanos(kind, nanos),
            32 * Math.max(2, VirtualThreadReviewSupport.carriers()),
            300,
            0L,
            15_000);
    assertThat(r.finished()).as("%s tryLock(%d ns): %s", kind, nanos, r).isTrue();
    assertThat(r.done()).as("%s: sections", kind).isEqualTo(r.expected());
  }

  /** As above, with every thread in a {@code tryLock(1 ns)} retry loop. */
  @ParameterizedTest(name = "{0}, all timed")
  @CsvSource({"spin", "ticket", "seq"})
  void allInTimedRetryLoopsFinish(String kind) throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    VirtualThreadReviewSupport.Result r =
        VirtualThreadReviewSupport.retryLoops(
            withNanos(kind, 1L),
            32 * Math.max(2, VirtualThreadReviewSupport.carriers()),
            300,
            0L,
            15_000,
            true);
    assertThat(r.finished()).as("%s tryLock(1 ns), all timed: %s", kind, r).isTrue();
    assertThat(r.done()).as("%s: sections", kind).isEqualTo(r.expected());
  }
}
