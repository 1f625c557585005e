package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Timeout;

/**
 * Virtual-thread review: attacks that held (JDK 21+). The issue-20 shape (64 virtual threads,
 * half in {@code tryLock(t)} retry loops, half in lock(), holder parks 1 us in every 16th
 * section) with shorter timeouts than the regression test uses. Measured on JDK 25, 2 cores
 * (ms for 19,200 acquisitions): t=100 us: TicketLock 110-551, fair ReentrantLock 112-301,
 * SpinLock 469, ReentrantLock 69-488, SeqLock 64-369, StampedLock 57-101; t=20 us: TicketLock
 * 289, fair RL 228, SpinLock 166, RL 80, StampedLock 235 (SeqLock stalls: see
 * VirtualThreadReviewTest); t=5 us: TicketLock 465, fair RL 3436, SpinLock 330, RL 313.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VirtualThreadReviewTestHeld {

  @ParameterizedTest
  @CsvSource({"ticket,100", "ticket,20", "ticket,5", "spin,20", "spin,5", "seq,100"})
  void retryLoopsWithShortTimeoutsDoNotStarveAParkingHolder(String kind, long micros)
      throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    VirtualThreadReviewSupport.XLock l =
        switch (kind) {
          case "ticket" -> VirtualThreadReviewSupport.of(new TicketLock());
          case "spin" -> VirtualThreadReviewSupport.of(new SpinLock());
          default -> VirtualThreadReviewSupport.of(new SeqLock());
        };
    VirtualThreadReviewSupport.Result r =
        VirtualThreadReviewSupport.retryLoops(
            l, 32 * Math.max(2, VirtualThreadReviewSupport.carriers()), 300, micros, 15_000);
    assertThat(r.finished()).as("%s tryLock(%d us): %s", kind, micros, r).isTrue();
  }
}
