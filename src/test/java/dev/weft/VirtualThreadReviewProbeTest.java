package dev.weft;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.StampedLock;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Exploration only (prints timings); run with -Dprobe=NAME. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class VirtualThreadReviewProbeTest {
  static String env(String k, String d) {
    String v = System.getenv(k);
    return v == null ? d : v;
  }

  @Test
  void probe() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21);
    String p = env("PROBE", "");
    Assumptions.assumeTrue(!p.isEmpty());
    int threads = Integer.parseInt(env("THREADS", "64"));
    int each = Integer.parseInt(env("EACH", "300"));
    long tryMicros = Long.parseLong(env("TRYMICROS", "100"));
    for (String name : p.split(",", -1)) {
      VirtualThreadReviewSupport.XLock l =
          switch (name) {
            case "ticket" -> VirtualThreadReviewSupport.of(new TicketLock());
            case "spin" -> VirtualThreadReviewSupport.of(new SpinLock());
            case "rl" -> VirtualThreadReviewSupport.of(new ReentrantLock());
            case "fairrl" -> VirtualThreadReviewSupport.of(new ReentrantLock(true));
            case "seq" -> VirtualThreadReviewSupport.of(new SeqLock());
            case "stamped" -> VirtualThreadReviewSupport.of(new StampedLock());
            default -> throw new IllegalArgumentException(name);
          };
      System.out.println(
          "PROBE " + name + ": "
              + VirtualThreadReviewSupport.retryLoops(l, threads, each, tryMicros, 15_000));
    }
  }
}
