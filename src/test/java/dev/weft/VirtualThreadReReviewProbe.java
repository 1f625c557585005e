package dev.weft;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Env-driven probe of the re-review (skipped unless PROBE is set): PROBE=kind,micros,consumers
 * [;...] runs pollRounds for each and prints the result; kind "lock:NAME" runs the
 * VirtualThreadReviewSupport.retryLoops shape for spin, ticket, seq, stamped, rl.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class VirtualThreadReReviewProbe {
  @Test
  @SuppressWarnings("StringSplitter")
  void probe() throws Exception {
    String spec = System.getenv("PROBE");
    Assumptions.assumeTrue(spec != null && Runtime.version().feature() >= 21);
    for (String one : spec.split(";")) {
      String[] p = one.split(",");
      long micros = Long.parseLong(p[1]);
      int consumers = Integer.parseInt(p[2]);
      if (p[0].startsWith("lock:") || p[0].startsWith("hold:")) {
        VirtualThreadReviewSupport.XLock l =
            switch (p[0].substring(5)) {
              case "spin" -> VirtualThreadReviewSupport.of(new SpinLock());
              case "fairrl" -> VirtualThreadReviewSupport.of(new java.util.concurrent.locks.ReentrantLock(true));
              case "ticket" -> VirtualThreadReviewSupport.of(new TicketLock());
              case "seq" -> VirtualThreadReviewSupport.of(new SeqLock());
              case "stamped" ->
                  VirtualThreadReviewSupport.of(new java.util.concurrent.locks.StampedLock());
              default ->
                  VirtualThreadReviewSupport.of(new java.util.concurrent.locks.ReentrantLock());
            };
        if (p[0].startsWith("hold:")) {
          long sum = 0;
          long max = 0;
          int stalls = 0;
          for (int k = 0; k < 20; k++) {
            long ms = VirtualThreadReReviewSupport.holderParks(l, consumers, micros, 1000, 2_000);
            if (ms < 0) {
              stalls++;
              ms = 2_000;
            }
            sum += ms;
            max = Math.max(max, ms);
          }
          System.out.println(
              "PROBE " + one + ": 20 trials, sum " + sum + " ms, max " + max + ", stalls " + stalls);
        } else {
          System.out.println(
              "PROBE " + one + ": "
                  + VirtualThreadReviewSupport.retryLoops(l, consumers, 300, micros, 15_000));
        }
        continue;
      }
      int rounds = 200;
      VirtualThreadReReviewSupport.Result r =
          VirtualThreadReReviewSupport.pollRounds(
              VirtualThreadReReviewSupport.byName(p[0], rounds),
              new AtomicLong(),
              consumers,
              rounds,
              micros,
              10_000);
      System.out.println("PROBE " + one + ": " + r);
    }
  }
}
