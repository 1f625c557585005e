package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A herd of platform threads in {@link Mutex#lockWhen} (session 13): 100 waiters wait for each
 * of 200 rounds while a producer parks 20 us and bumps the value through the same mutex, the
 * shape of {@code VirtualThreadReReviewTest} (and of {@code WaiterHerdBench}) on platform
 * threads. Until woken waiters re-took the lock behind the threads queued for it (Mutex's
 * algorithm notes, "Woken waiters queue behind lockers"), the woken herd barged ahead of the
 * producer on every round: 290-580 ms against ReentrantLock + Condition's 26-56 ms on 2 cores,
 * The bound, best of 3 runs at most 10x the JDK's best plus 200 ms, only guards against a stall
 * or a storm far beyond what the code before showed (best 198 ms vs 25 ms); the ordering itself is
 * tested by aWokenWaiterTakesTheLockBehindALockerQueuedForIt, and the speed is measured by
 * WaiterHerdBench, not asserted here.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MutexHerdTest {
  private static final int WAITERS = 100;
  private static final int ROUNDS = 200;

  private static VirtualThreadReReviewSupport.Result best(String kind) throws Exception {
    VirtualThreadReReviewSupport.Result best = null;
    for (int i = 0; i < 3; i++) {
      VirtualThreadReReviewSupport.Result r =
          VirtualThreadReReviewSupport.pollRounds(
              VirtualThreadReReviewSupport.byName(kind, ROUNDS),
              new AtomicLong(),
              WAITERS,
              ROUNDS,
              0,
              10_000,
              false);
      assertThat(r.finished()).as("%s: %s", kind, r).isTrue();
      best = best == null || r.millis() < best.millis() ? r : best;
    }
    return best;
  }

  /**
   * The ordering itself, schedule opened on purpose: a waiter woken from the change queue finds
   * the lock free (its holder has just released it) while a locker is still queued for it (the
   * release has unparked that locker, which has not run yet). At the "mutex.woken" window the
   * waiter (running, so first to try) makes that state: a helper takes the lock, a locker
   * queues behind it, the helper releases, and the waiter busy-waits for that release, then
   * goes on to re-take the lock. The waiter must let the locker go first, or take the free lock
   * only after waiting Mutex.DEFER_NANOS for it (the bound that keeps a queued thread that cannot
   * run from keeping the waiter off a free lock). Both outcomes are checked exactly, with no
   * timing assumption. On the code before session 13 the waiter barged at once in some runs of
   * the schedule and not others (the locker sometimes wins the race), so the test runs it ten
   * times: it failed 5 of 6 times there (the waiter took the lock 5-27 us after the release).
   */
  @Test
  void aWokenWaiterTakesTheLockBehindALockerQueuedForIt() throws Exception {
    for (int round = 0; round < 10; round++) {
      long[] waiterFirstAfter = new long[] {-1L};
      List<String> order = wokenWaiterAgainstQueuedLocker(waiterFirstAfter);
      if (order.get(0).equals("waiter")) {
        assertThat(waiterFirstAfter[0])
            .as("round %d: the woken waiter took the free lock ahead of the queued locker after"
                + " %d ns, before the deferral of %d ns", round, waiterFirstAfter[0],
                Mutex.DEFER_NANOS)
            .isGreaterThanOrEqualTo(Mutex.DEFER_NANOS);
      }
      assertThat(order).as("round %d", round).containsExactlyInAnyOrder("locker", "waiter");
    }
  }

  /**
   * One run of the schedule above; returns the order in which the two took the lock, and puts
   * in {@code waiterFirstAfter[0]} the nanoseconds from the helper's release to the waiter's
   * acquisition.
   */
  @SuppressWarnings("try") // guards and the hook handle are held for their scope only
  private static List<String> wokenWaiterAgainstQueuedLocker(long[] waiterFirstAfter)
      throws Exception {
    Mutex<Long> m = new Mutex<>(0L);
    List<String> order = new CopyOnWriteArrayList<>();
    long[] released = new long[1]; // written and read by the waiter only
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch waiterParked = new CountDownLatch(1);
    AtomicReference<Thread> locker = new AtomicReference<>();
    AtomicReference<Thread> helper = new AtomicReference<>();
    Thread waiter = new Thread(() -> {
      Thread me = Thread.currentThread();
      try (var h = ProtocolWindows.install(MutexDeadlineTest.once(me, "mutex.woken", () -> {
        CountDownLatch held = new CountDownLatch(1);
        CountDownLatch letGo = new CountDownLatch(1);
        Thread b = new Thread(() -> {
          try (Mutex.Guard<Long> g = m.lock()) {
            held.countDown();
            letGo.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }, "test-herd-helper");
        helper.set(b);
        b.start();
        awaitQuietly(held);
        Thread p = new Thread(() -> {
          try (Mutex.Guard<Long> g = m.lock()) {
            order.add("locker");
          }
        }, "test-herd-locker");
        locker.set(p);
        p.start();
        Waits.awaitParkedOn(p, m.sync); // queued in the AQS behind the helper
        letGo.countDown();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        // Until the helper's release is complete (state 0), or the locker already has the lock.
        while (m.sync.isLocked() && m.sync.owner() != p && System.nanoTime() - deadline < 0) {
          Thread.onSpinWait(); // stay running: the waiter tries first, the locker must wake
        }
        released[0] = System.nanoTime();
      }))) {
        waiterParked.countDown();
        try (Mutex.Guard<Long> g = m.lockWhen(v -> v >= 1)) {
          if (order.isEmpty()) {
            waiterFirstAfter[0] = System.nanoTime() - released[0];
          }
          order.add("waiter");
        }
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      }
    }, "test-herd-waiter");
    waiter.start();
    awaitQuietly(waiterParked);
    Waits.awaitParkedOn(waiter, m); // in the change queue
    m.update(v -> 1L); // wakes the waiter: it reaches "mutex.woken"
    waiter.join(TimeUnit.SECONDS.toMillis(30));
    Thread p = locker.get();
    Thread b = helper.get();
    if (p != null) {
      p.join(TimeUnit.SECONDS.toMillis(30));
    }
    if (b != null) {
      b.join(TimeUnit.SECONDS.toMillis(30));
    }
    assertThat(failure.get()).isNull();
    assertThat(waiter.isAlive()).isFalse();
    return order;
  }

  private static void awaitQuietly(CountDownLatch l) {
    try {
      assertThat(l.await(20, TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  @Test
  void lockWhenHerdOfPlatformThreadsKeepsUpWithCondition() throws Exception {
    VirtualThreadReReviewSupport.Result j = best("jdkConditionUntimed");
    VirtualThreadReReviewSupport.Result w = best("lockWhenUntimed");
    System.out.println("PROBE platform lockWhen herd vs Condition: " + w + " vs " + j);
    assertThat(w.millis())
        .as("lockWhen herd, best %s; Condition, best %s", w, j)
        .isLessThanOrEqualTo(10 * j.millis() + 200);
  }

  /**
   * The rounds of a woken herd must not end together (session 16). CI failed once on
   * Review14Test's herd-CPU test: 100 waiters behind a 300 ms hold burned 182 ms instead of the
   * usual 11, because their exact 16 ms rounds ended within the same few hundred microseconds and
   * 100 AQS cancellations met in cleanQueue (reproduced standalone in 6 of 210 runs; the JDK's
   * ReentrantLock.tryLock(timeout) loops started together do the same). The cure is a random cut
   * of each round: this checks the rounds it gives. Over 2,000 draws of a 16 ms round each lies
   * in (8, 16] ms, and the middle 80% of them spread over at least 4 ms (uniform: about 6.4 ms);
   * exact rounds, as before, fail the spread. The herd end to end is Review14Test's
   * fixed_wokenHerdPollsInOneMillisecondRoundsWhileItsWakerHoldsTheLockAgain, and the storm's
   * rate is measured in results/2026-12-05-epyc-2c-mutex-round-jitter (MutexHerd).
   */
  @Test
  void theRoundsOfAWokenHerdAreSpreadSoTheyDoNotEndTogether() {
    long round = TimeUnit.MILLISECONDS.toNanos(16);
    long[] draws = new long[2_000];
    for (int i = 0; i < draws.length; i++) {
      draws[i] = Mutex.jitteredRound(round);
      assertThat(draws[i]).as("draw %d", i).isGreaterThan(round / 2).isLessThanOrEqualTo(round);
    }
    Arrays.sort(draws);
    long p10 = draws[draws.length / 10];
    long p90 = draws[draws.length * 9 / 10];
    assertThat(p90 - p10)
        .as("the middle 80%% of 16 ms rounds spread over %d us", (p90 - p10) / 1_000)
        .isGreaterThanOrEqualTo(round / 4);
    // The longest rounds: no overflow, and still never longer than asked.
    assertThat(Mutex.jitteredRound(Mutex.QUEUE_ROUND_LIMIT_NANOS))
        .isPositive()
        .isLessThanOrEqualTo(Mutex.QUEUE_ROUND_LIMIT_NANOS);
    // Rounds too short to spread are kept whole (nextLong(0) would throw).
    assertThat(Mutex.jitteredRound(1L)).isEqualTo(1L);
    assertThat(Mutex.jitteredRound(2L)).isBetween(1L, 2L);
  }
}
