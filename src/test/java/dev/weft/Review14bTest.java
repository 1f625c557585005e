package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 14b: attacks on the woken-waiter protocol of {@link Mutex} (bounded BEHIND_QUEUED
 * rounds of 16 ms doubling to 64 ms, then a look) that found defects, now fixed. Attacks that
 * held are in {@link Review14bTestHeld}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class Review14bTest {

  /** Holds for about {@code nanos}, parked (a critical section that does I/O, say). */
  static void holdFor(long nanos) {
    long start = System.nanoTime();
    long left;
    while ((left = nanos - (System.nanoTime() - start)) > 0L) {
      LockSupport.parkNanos(left);
    }
  }

  /**
   * Defect: a woken waiter starves behind a FIFO convoy of short holds. 20 platform lockers
   * loop lock(), hold 4 ms, unlock(), pause 1 ms, so the AQS queue always holds about 19 of
   * them (about 76 ms of work ahead of its tail), and every plain lock() gets through in one
   * turn of the convoy. A lockWhen(v == 1) waiter woken by the change finds the lock held,
   * queues at the tail for a round (16, 32, then 64 ms), and every round ends before the ~76 ms
   * of the queue ahead of it has passed: it re-queues at the tail, behind the same lockers,
   * again and again. No hold is longer than 4 ms (the docs promise a woken waiter keeps its
   * FIFO place behind a hold shorter than a round), yet the waiter never gets the lock while
   * the convoy runs: every locker passes it many times. Condition's signalled waiters would be
   * served in one turn of the convoy. Failed 5/5 runs on JDK 17 and 4/5 on JDK 25 (a plain
   * lock() waited 69-87 ms; lockers passed W 356-361 times in 1.5 s); the passing run
   * presumably had W look in a free gap between two holds, where the deferral lets it barge.
   *
   * <p>Fixed (session 14): a round in which the queue moved (the lock's release count changed)
   * is followed by a round twice as long without the 64 ms cap, so W passes the convoy in a few
   * rounds. With the cap put back this test failed again (1.8 s, JDK 17).
   */
  @Test
  void fixed_wokenWaiterStarvesBehindAConvoyOfShortHolds() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    int lockers = 20;
    long hold = TimeUnit.MILLISECONDS.toNanos(4);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicInteger acquisitions = new AtomicInteger();
    AtomicLong wGotAt = new AtomicLong();
    AtomicInteger passedW = new AtomicInteger(-1);
    CountDownLatch wDone = new CountDownLatch(1);
    List<Thread> all = new ArrayList<>();
    Thread w = new Thread(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1)) {
        wGotAt.set(System.nanoTime());
        passedW.set(acquisitions.get());
        g.get();
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      } finally {
        wDone.countDown();
      }
    }, "test-r14b-convoy-waiter");
    all.add(w);
    try {
      w.start();
      Waits.awaitParkedOn(w, m);
      for (int i = 0; i < lockers; i++) {
        Thread t = new Thread(() -> {
          try {
            while (!stop.get()) {
              try (Mutex.Guard<Integer> g = m.lock()) {
                holdFor(hold);
                g.get();
                acquisitions.incrementAndGet();
              }
              holdFor(TimeUnit.MILLISECONDS.toNanos(1)); // lets the queue's head take it
            }
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          }
        }, "test-r14b-convoy-" + i);
        all.add(t);
        t.start();
      }
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (m.sync.getQueueLength() < lockers - 4) { // the convoy is formed
        assertThat(System.nanoTime() - until).as("convoy formed").isNegative();
        Thread.onSpinWait();
      }
      long lockStart = System.nanoTime();
      int before;
      long wokenAt;
      try (Mutex.Guard<Integer> g = m.lock()) { // a plain locker at the tail: one turn
        before = acquisitions.get();
        g.set(1);
        wokenAt = System.nanoTime();
      }
      long plainWait = wokenAt - lockStart;
      // Give W 1.5 s of the convoy (about 18 turns); a latch, not a sleep: it ends when W gets it.
      boolean wGotItDuringConvoy = wDone.await(1500, TimeUnit.MILLISECONDS);
      int passed = acquisitions.get() - before;
      stop.set(true);
      assertThat(wDone.await(20, TimeUnit.SECONDS)).isTrue();
      for (Thread x : all) {
        x.join(20_000);
      }
      assertThat(failure.get()).isNull();
      assertThat(plainWait).as("a plain lock() at the convoy's tail").isLessThan(
          TimeUnit.MILLISECONDS.toNanos(1000));
      assertThat(wGotItDuringConvoy)
          .as("woken waiter got the lock while the convoy ran (a plain lock() waited %d ms;"
                  + " lockers acquired it %d times after the wake-up, %d before W had it)",
              TimeUnit.NANOSECONDS.toMillis(plainWait), passed,
              passedW.get() < 0 ? -1 : passedW.get() - before)
          .isTrue();
    } finally {
      stop.set(true);
      for (Thread x : all) {
        x.join(20_000);
      }
    }
    for (Thread x : all) {
      assertThat(x.isAlive()).as("%s still alive", x.getName()).isFalse();
    }
  }
}
