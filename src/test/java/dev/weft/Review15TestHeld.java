package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.StampedLock;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 15 review, attacks on weft's virtual-thread waits that did NOT find a defect (JDK 25,
 * 2-core VM). Bounded; each stops and joins its threads. See {@link Review15Test} for the ones
 * that did.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class Review15TestHeld {

  /**
   * One carrier ({@code -Djdk.virtualThreadScheduler.parallelism=1}, forked JVM), the 64-thread
   * retry scenario of {@code VirtualThreadReviewSupport.retryLoops} with timeouts that end
   * inside or just after TicketLock's 32-pause virtual spin: {@code TicketLock.tryLock} of 1, 2
   * and 15 µs, and {@code Mutex.tryLock(25 µs)}. Probe numbers: TicketLock 108-336 ms at 1 µs,
   * 26-49 at 2 µs, 22-82 at 15 µs; Mutex 29-34 ms at 25 µs. The JDK stalls here below about
   * 15 µs ({@code ReentrantLock} fair and unfair, {@code StampedLock}: 9,616 of 19,200 in 3 s at
   * 1-10 µs; unfair {@code ReentrantLock} stalled 1 of 3 at 15 µs, as did {@code Mutex}, which
   * queues in an AQS: "JDK too"), so TicketLock's virtual path does better than the JDK.
   * {@code SpinLock} stalls at 1-2 µs with one carrier too (63-80 of 19,200 done; the JDK 9,616):
   * JDK too, not asserted.
   */
  @Test
  void oneCarrierTicketLockRetryLoopsWithTimeoutsInsideTheVirtualSpinFinish() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    String out = VirtualReadersHarness.forkOneCarrier(OneCarrierHeld.class);
    assertThat(out).as(out).contains("4 of 4 finished");
  }

  /** The forked JVM of the test above. */
  static final class OneCarrierHeld {
    private OneCarrierHeld() {}

    public static void main(String[] args) throws Exception {
      int finished = 0;
      long[] micros = {1, 2, 15};
      for (long m : micros) {
        VirtualThreadReviewSupport.Result r =
            VirtualThreadReviewSupport.retryLoops(
                VirtualThreadReviewSupport.of(new TicketLock()), 64, 300, m, 4_000);
        System.out.println("ticket " + m + " us: " + r);
        finished += r.finished() ? 1 : 0;
      }
      VirtualThreadReviewSupport.Result r =
          VirtualThreadReviewSupport.retryLoops(new MutexXLock(new Mutex<>(0)), 64, 300, 25, 4_000);
      System.out.println("mutex 25 us: " + r);
      finished += r.finished() ? 1 : 0;
      System.out.println(finished + " of 4 finished");
      System.exit(0);
    }
  }

  /** {@code Mutex} as an {@code XLock}. */
  static final class MutexXLock implements VirtualThreadReviewSupport.XLock {
    private final Mutex<Integer> m;
    private Mutex.@org.jspecify.annotations.Nullable Guard<Integer> g; // guarded by m

    MutexXLock(Mutex<Integer> m) {
      this.m = m;
    }

    @Override
    public boolean tryLock(long micros) throws InterruptedException {
      Mutex.Guard<Integer> x = m.tryLock(java.time.Duration.ofNanos(micros * 1000));
      if (x == null) {
        return false;
      }
      g = x;
      return true;
    }

    @Override
    public void lock() {
      g = m.lock();
    }

    @Override
    public void unlock() {
      Mutex.Guard<Integer> x = g;
      g = null;
      if (x != null) {
        x.close();
      }
    }
  }

  /**
   * Two carriers (the default here), the 64-thread retry scenario with {@code tryLock(2 µs)}
   * (inside TicketLock's 32-pause virtual spin plus one short park): probes 258-337 ms for
   * TicketLock, against fair {@code ReentrantLock} (its FIFO analogue) 2,375 ms and 2 of 3
   * stalled (18,672-19,169 of 19,200 in 3 s), unfair 31-473 ms, {@code StampedLock} 30-58 ms.
   * At 5 µs TicketLock 26-239 ms, fair {@code ReentrantLock} stalled 3 of 3. Asserted: finishes
   * within 4 s.
   */
  @Test
  void twoCarrierTicketLockRetryLoopsAtTwoMicrosecondsFinish() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    VirtualThreadReviewSupport.Result r =
        VirtualThreadReviewSupport.retryLoops(
            VirtualThreadReviewSupport.of(new TicketLock()), 64, 300, 2, 4_000);
    assertThat(r.finished()).as("TicketLock tryLock(2 us): %s", r).isTrue();
  }

  /**
   * TicketLock's {@code newCondition()} with 64 virtual consumers in {@code await(5 µs)} loops
   * (each re-acquisition joins the back of the FIFO queue) and a virtual producer doing 500
   * rounds of {@code count++; signalAll()}, parking 1 µs inside every 16th. Probes (3 runs): one
   * carrier 21-104 ms, two carriers 22-117 ms; fair {@code ReentrantLock} + Condition 11-57 ms,
   * unfair 1-4 ms, SpinLock's condition 2-13 ms. Asserted: under max(200 ms, 3x fair {@code
   * ReentrantLock}) in the same harness.
   */
  @Test
  void ticketLockConditionShortTimedAwaitLoopsDoNotStarveAParkingSignaller() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    conditionRounds(new TicketLock(), 100); // warm-up
    conditionRounds(new ReentrantLock(true), 100);
    long fair = conditionRounds(new ReentrantLock(true), 500);
    long ticket = conditionRounds(new TicketLock(), 500);
    assertThat(ticket)
        .as("TicketLock condition: %d ms; fair ReentrantLock: %d ms", ticket, fair)
        .isLessThan(Math.max(200L, 3 * fair));
  }

  private static long conditionRounds(Lock l, int rounds) throws Exception {
    Condition c = l.newCondition();
    long[] count = new long[1]; // guarded by l
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch done = new CountDownLatch(65);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      threads.add(
          SpinLockHandOverReviewTest.startVirtual(
              "consumer-" + i,
              () -> {
                long seen = 0;
                try {
                  while (seen < rounds && !stop.get()) {
                    l.lock();
                    try {
                      while (count[0] == seen && !stop.get()) {
                        c.await(5, TimeUnit.MICROSECONDS);
                      }
                      seen = count[0];
                    } finally {
                      l.unlock();
                    }
                  }
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                } finally {
                  done.countDown();
                }
              }));
    }
    long start = System.nanoTime();
    threads.add(
        SpinLockHandOverReviewTest.startVirtual(
            "producer",
            () -> {
              try {
                for (int i = 0; i < rounds && !stop.get(); i++) {
                  l.lock();
                  try {
                    count[0]++;
                    if ((i & 15) == 0) {
                      LockSupport.parkNanos(1_000L);
                    }
                    c.signalAll();
                  } finally {
                    l.unlock();
                  }
                }
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              } finally {
                done.countDown();
              }
            }));
    boolean finished = done.await(4, TimeUnit.SECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    stop.set(true);
    VirtualThreadReviewSupport.joinAll(threads);
    if (failure.get() != null) {
      throw new AssertionError("a virtual thread failed", failure.get());
    }
    return finished ? millis : 4_000L;
  }

  /**
   * {@code SeqCount} (single writer, readers back off spin / park with a doubling delay) with
   * the schedule of {@link Review15Test}'s SeqLock reader test: 64 virtual readers, each read
   * followed by a 20 µs park, one virtual writer doing 3,000 writes parking 1 µs inside every
   * 16th. Probes: SeqCount 5-27 ms (one or two carriers), {@code StampedLock} 3-11 ms, SeqLock
   * 95-286 ms. Asserted: under max(200 ms, 3x StampedLock).
   */
  @Test
  void seqCountWriterBehindVirtualReadersKeepsUpWithStampedLock() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    VirtualReadersHarness.writerBehindReaders(
        VirtualReadersHarness.of(new StampedLock()), 1_000, 3_000); // warm-up
    VirtualReadersHarness.writerBehindReaders(VirtualReadersHarness.of(new SeqCount()), 1_000, 3_000);
    long stamped =
        VirtualReadersHarness.writerBehindReaders(
            VirtualReadersHarness.of(new StampedLock()), 3_000, 3_000);
    long count =
        VirtualReadersHarness.writerBehindReaders(
            VirtualReadersHarness.of(new SeqCount()), 3_000, 3_000);
    assertThat(count)
        .as("SeqCount writer: %d ms; StampedLock: %d ms", count, stamped)
        .isLessThan(Math.max(200L, 3 * stamped));
  }
}
