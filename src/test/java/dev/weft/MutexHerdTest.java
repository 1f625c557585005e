package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
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
 * and this test failed (checked on the code before the change: best 198 ms vs 25 ms). The bound is
 * the re-review's: best of 3 runs at most 3x the JDK's best plus 100 ms, a guard against the
 * storm coming back, not a performance measurement (that is WaiterHerdBench).
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
   * release has unparked that locker, which has not run yet). The woken waiter must go behind
   * the locker. At the "mutex.woken" window the waiter (running, so first to try) makes that
   * state: a helper takes the lock, a locker queues behind it, the helper releases, and the
   * waiter busy-waits for that release, then goes on to re-take the lock. Deterministic with the
   * change (the waiter sees the queued locker and queues behind it). On the code before, the
   * waiter barged first in some runs of the schedule and not others (the locker sometimes wins
   * the race), so the test runs it ten times: it failed 6 of 6 times there (5 rounds: 4 of 6).
   */
  @Test
  void aWokenWaiterTakesTheLockBehindALockerQueuedForIt() throws Exception {
    for (int round = 0; round < 10; round++) {
      assertThat(wokenWaiterAgainstQueuedLocker()).as("round %d", round)
          .containsExactly("locker", "waiter");
    }
  }

  /** One run of the schedule above; returns the order in which the two took the lock. */
  @SuppressWarnings("try") // guards and the hook handle are held for their scope only
  private static List<String> wokenWaiterAgainstQueuedLocker() throws Exception {
    Mutex<Long> m = new Mutex<>(0L);
    List<String> order = new CopyOnWriteArrayList<>();
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
        // Until the helper's release is complete and the locker it unparked is running again
        // (or already has the lock): the locker then takes the lock within microseconds, well
        // inside the waiter's deferral (Mutex.DEFER_NANOS), and a barging waiter races it.
        while (((m.sync.isLocked() && m.sync.owner() != p)
                || p.getState() == Thread.State.WAITING)
            && System.nanoTime() - deadline < 0) {
          Thread.onSpinWait(); // stay running: the waiter is ready to try at once
        }
      }))) {
        waiterParked.countDown();
        try (Mutex.Guard<Long> g = m.lockWhen(v -> v >= 1)) {
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
        .isLessThanOrEqualTo(3 * j.millis() + 100);
  }
}
