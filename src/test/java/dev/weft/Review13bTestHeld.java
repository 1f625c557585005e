package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

/**
 * Review 13b: attacks on Mutex.reacquireWoken's bounded deferral (lock free, a thread queued
 * for it that cannot run) that held. Each test builds the deferral state as Review13Test does:
 * W parks in lockWhen on the change queue, the test thread takes the lock, a virtual thread V
 * queues for it, every carrier is hogged by CPU-bound virtual threads, the test thread sets the
 * value to 1 and releases (wakes W; unparks V, which has no carrier). A ProtocolWindows hook at
 * "mutex.woken" on W then interrupts W, or burns its deadline, just before reacquireWoken runs.
 * Each held 3/3 on JDK 25 (skipped on JDK 17: no virtual threads).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@EnabledForJreRange(min = JRE.JAVA_21)
class Review13bTestHeld {

  /** Starts a virtual thread through the shared review helper (JDK 21+). */
  private static Thread startVirtual(String name, Runnable r) {
    try {
      return SpinLockHandOverReviewTest.startVirtual(name, r);
    } catch (ReflectiveOperationException e) {
      throw new LinkageError("Thread.ofVirtual", e);
    }
  }

  interface Body {
    void run(Mutex<Integer> m) throws Exception;
  }

  /**
   * Runs {@code body} on W (platform); brings W into the deferral with {@code atWoken} run on W
   * at "mutex.woken". Returns W's run time in ns after the release.
   */
  @SuppressWarnings("try")
  private static long[] inDeferral(Body body, Runnable atWoken,
      AtomicReference<@Nullable Throwable> failure) throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicLong doneAt = new AtomicLong();
    CountDownLatch wDone = new CountDownLatch(1);
    AtomicBoolean stopHogs = new AtomicBoolean();
    List<Thread> all = new ArrayList<>();
    long releasedAt;
    Thread w = new Thread(() -> {
      try {
        body.run(m);
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      } finally {
        doneAt.set(System.nanoTime());
        wDone.countDown();
      }
    }, "test-r13b-waiter");
    all.add(w);
    try (AutoCloseable h = ProtocolWindows.install(
        MutexDeadlineTest.once(w, "mutex.woken", atWoken))) {
      w.start();
      Waits.awaitParkedOn(w, m);
      Mutex.Guard<Integer> g = m.lock();
      Thread v = startVirtual("test-r13b-vlocker", () -> {
        try (Mutex.Guard<Integer> vg = m.lock()) {
          vg.set(vg.get() + 10);
        }
      });
      all.add(v);
      Waits.awaitParkedOn(v, m.sync);
      all.addAll(VirtualThreadReviewSupport.startCarrierHogs(
          "test-r13b-hog", stopHogs::get, Duration.ofSeconds(8), new AtomicBoolean()));
      g.set(1);
      releasedAt = System.nanoTime();
      g.close();
      assertThat(wDone.await(20, TimeUnit.SECONDS)).isTrue();
    } finally {
      stopHogs.set(true);
      for (Thread t : all) {
        t.join(20_000);
      }
    }
    for (Thread t : all) {
      assertThat(t.isAlive()).as("%s still alive", t.getName()).isFalse();
    }
    assertThat(m.isLocked()).isFalse();
    return new long[] {doneAt.get() - releasedAt};
  }

  /**
   * Attacked: an interruptible lockWhen interrupted as it is woken, then deferring to a queued
   * virtual thread without a carrier: the interrupt ends the deferral (the first 10 us park
   * returns at once) with InterruptedException, well before the hogs stop (8 s).
   */
  @Test
  void interruptEndsTheDeferralOfAnInterruptibleWaiter() throws Exception {
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicReference<@Nullable Boolean> got = new AtomicReference<>();
    long[] r = inDeferral(m -> {
      try {
        Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1);
        got.set(Boolean.TRUE);
        g.close();
      } catch (InterruptedException e) {
        got.set(Boolean.FALSE);
        assertThat(m.isHeldByCurrentThread()).isFalse();
      }
    }, () -> Thread.currentThread().interrupt(), failure);
    assertThat(failure.get()).isNull();
    assertThat(got.get()).as("true = guard, false = InterruptedException").isNotNull();
    assertThat(TimeUnit.NANOSECONDS.toMillis(r[0])).isLessThan(2_000);
  }

  /**
   * Attacked: lockWhenUninterruptibly interrupted as it is woken, in the deferral: the interrupt
   * must not turn the 10 us parks into a spin (it is kept aside), the waiter takes the free lock
   * after the deferral, and returns with its interrupt status set.
   */
  @Test
  void uninterruptibleWaiterInterruptedInTheDeferralTakesTheLockWithItsInterrupt()
      throws Exception {
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicBoolean intr = new AtomicBoolean();
    AtomicReference<@Nullable Integer> seen = new AtomicReference<>();
    long[] r = inDeferral(m -> {
      try (Mutex.Guard<Integer> g = m.lockWhenUninterruptibly(v -> v == 1)) {
        seen.set(g.get());
        intr.set(Thread.currentThread().isInterrupted());
      }
    }, () -> Thread.currentThread().interrupt(), failure);
    assertThat(failure.get()).isNull();
    assertThat(seen.get()).isEqualTo(1);
    assertThat(intr.get()).isTrue();
    assertThat(TimeUnit.NANOSECONDS.toMillis(r[0])).isLessThan(2_000);
  }

  /**
   * Attacked: a timed lockWhen whose deadline passes (burned in the "mutex.woken" hook) just as
   * it enters the deferral: one attempt at the deadline, which finds the lock free and takes it
   * (v == 1), promptly; no park until the hogs stop.
   */
  @Test
  void timedWaiterWhoseDeadlinePassesAtTheDeferralMakesOneAttempt() throws Exception {
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicReference<@Nullable Boolean> got = new AtomicReference<>();
    long[] r = inDeferral(m -> {
      Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1, Duration.ofMillis(300));
      got.set(g != null);
      if (g != null) {
        assertThat(g.get()).isEqualTo(1);
        g.close();
      }
    }, () -> {
      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(400);
      while (System.nanoTime() - until < 0) {
        Thread.onSpinWait();
      }
    }, failure);
    assertThat(failure.get()).isNull();
    assertThat(got.get()).isNotNull();
    assertThat(TimeUnit.NANOSECONDS.toMillis(r[0])).isLessThan(2_000);
  }

  /**
   * Attacked: a woken waiter whose deferral nothing extends: with the lock free and
   * V stuck, W must take it after about 200 us, not spin or park until the hogs stop (8 s).
   */
  @Test
  void plainWokenWaiterTakesTheFreeLockAfterTheDeferral() throws Exception {
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicReference<@Nullable Integer> seen = new AtomicReference<>();
    long[] r = inDeferral(m -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1)) {
        seen.set(g.get());
      }
    }, () -> { }, failure);
    assertThat(failure.get()).isNull();
    assertThat(seen.get()).isEqualTo(1);
    assertThat(TimeUnit.NANOSECONDS.toMillis(r[0])).isLessThan(2_000);
  }
}
