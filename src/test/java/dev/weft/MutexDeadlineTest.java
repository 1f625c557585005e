package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.MutexTest.Worker;
import dev.weft.testing.Waits;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Deadlines and interrupts in every phase of {@link Mutex#lockWhen}'s wait (issue 18, defects 3
 * and 10): the first acquisition, the spin phase's release and re-acquisition, the park on the
 * change queue, and the re-acquisition after a wake-up. Each phase is opened on purpose with the
 * {@link ProtocolWindows} seam or by waiting for the waiter's thread state, and a "barger" takes
 * the lock inside it and holds it far longer than the caller's timeout; the caller must return
 * (null, without the lock) or throw {@link InterruptedException} at its deadline, not when the
 * barger lets go.
 */
@SuppressWarnings("try") // window hooks and guards held only for their scope
@Timeout(60)
class MutexDeadlineTest {
  /** How long a barger holds the lock at most; every bound below is far under it. */
  private static final long HOLD_MS = 5_000;

  /** A caller's timeout that the barger's hold overruns many times. */
  private static final Duration SHORT = Duration.ofMillis(200);

  /** Generous bound for "returned at its deadline, not the barger's release". */
  private static final long PROMPT_NANOS = TimeUnit.MILLISECONDS.toNanos(2_000);

  /**
   * A thread that, once {@link #go} is counted down, takes the lock and holds it until {@link
   * #letGo} is counted down (at most {@link #HOLD_MS}).
   */
  static final class Barger {
    final CountDownLatch go = new CountDownLatch(1);
    final CountDownLatch holds = new CountDownLatch(1);
    final CountDownLatch letGo = new CountDownLatch(1);
    final Worker worker;

    Barger(Mutex<?> m) {
      worker = new Worker("barger", () -> {
        go.await();
        try (var g = m.lock()) {
          holds.countDown();
          letGo.await(HOLD_MS, TimeUnit.MILLISECONDS);
        }
      });
    }

    /** From a window hook: lets the barger take the lock and waits until it holds it. */
    void bargeAndWait() {
      go.countDown();
      try {
        assertThat(holds.await(10, TimeUnit.SECONDS)).as("barger took the lock").isTrue();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }

    void finish() throws InterruptedException {
      go.countDown();
      letGo.countDown();
      worker.join();
    }
  }

  /** A hook that runs {@code action} the first time {@code caller} reaches {@code window}. */
  static Consumer<String> once(Thread caller, String window, Runnable action) {
    AtomicInteger hits = new AtomicInteger();
    return name -> {
      if (Thread.currentThread() == caller && name.equals(window)
          && hits.getAndIncrement() == 0) {
        action.run();
      }
    };
  }

  // ---- defect 3: a zero or elapsed timeout checks once and never gives the lock up -----------

  @ParameterizedTest
  @ValueSource(longs = {0L, -1L, Long.MIN_VALUE})
  void zeroOrNegativeTimeoutChecksOnceWithoutReleasingTheLock(long nanos) throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Barger barger = new Barger(m);
    AtomicInteger released = new AtomicInteger();
    Thread me = Thread.currentThread();
    try (var h = ProtocolWindows.install(name -> {
      if (Thread.currentThread() == me && name.startsWith("mutex.released")) {
        released.incrementAndGet();
        barger.bargeAndWait(); // what a barging holder would do in that window
      }
    })) {
      long start = System.nanoTime();
      Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1, Duration.ofNanos(nanos));
      long elapsed = System.nanoTime() - start;
      barger.letGo.countDown();
      assertThat(g).as("predicate false: timeout").isNull();
      assertThat(released.get()).as("a zero timeout released the lock mid-call").isZero();
      assertThat(elapsed).as("zero timeout returned at once").isLessThan(PROMPT_NANOS);
      assertThat(m.isHeldByCurrentThread()).isFalse();
    } finally {
      barger.finish();
    }
  }

  @Test
  void zeroTimeoutWithSatisfiedPredicateReturnsTheGuard() throws Exception {
    Mutex<Integer> m = new Mutex<>(1);
    for (Duration d : new Duration[] {Duration.ZERO, Duration.ofNanos(-1),
        Duration.ofSeconds(Long.MIN_VALUE)}) {
      try (var g = m.lockWhen(v -> v == 1, d)) {
        assertThat(g).isNotNull();
        assertThat(m.isHeldByCurrentThread()).isTrue();
      }
    }
    for (Instant past : new Instant[] {Instant.MIN, Instant.EPOCH, Instant.now().minusSeconds(1)}) {
      try (var g = m.lockWhen(v -> v == 1, past)) {
        assertThat(g).isNotNull();
      }
      assertThat(m.lockWhen(v -> v == 2, past)).isNull();
      assertThat(m.isLocked()).isFalse();
    }
  }

  @Test
  void zeroTimeoutAgainstAHeldLockReturnsNullAtOnce() throws Exception {
    Mutex<Integer> m = new Mutex<>(1);
    Barger barger = new Barger(m);
    try {
      barger.bargeAndWait();
      long start = System.nanoTime();
      assertThat(m.lockWhen(v -> true, Duration.ZERO)).isNull();
      assertThat(m.lockWhen(v -> true, Instant.MIN)).isNull();
      assertThat(System.nanoTime() - start).isLessThan(PROMPT_NANOS);
    } finally {
      barger.finish();
    }
  }

  // ---- defect 3: interrupts during the spin phase's re-acquisition -------------------------

  /** Which lockWhen form the interrupt tests call. */
  enum Form { UNTIMED, TIMED, DEADLINE, AWAIT_THEN }

  private static Mutex.@Nullable Guard<Integer> call(Mutex<Integer> m, String form)
      throws InterruptedException {
    return switch (Form.valueOf(form)) {
      case UNTIMED -> m.lockWhen(v -> v == 1);
      case TIMED -> m.lockWhen(v -> v == 1, Duration.ofSeconds(30));
      case DEADLINE -> m.lockWhen(v -> v == 1, Instant.now().plusSeconds(30));
      case AWAIT_THEN -> {
        m.awaitThen(v -> v == 1, v -> v);
        yield null;
      }
    };
  }

  @ParameterizedTest
  @ValueSource(strings = {"UNTIMED", "TIMED", "DEADLINE", "AWAIT_THEN"})
  void interruptWhileReacquiringAfterTheSpinThrowsAtOnce(String form) throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Barger barger = new Barger(m);
    Thread me = Thread.currentThread();
    try (var h = ProtocolWindows.install(once(me, "mutex.released-for-spin", () -> {
      barger.bargeAndWait();
      me.interrupt(); // arrives while the lock is another thread's and we must re-take it
    }))) {
      if (!Mutex.WAIT_SPINS) {
        return; // one CPU: no spin phase to open
      }
      long start = System.nanoTime();
      assertThatThrownBy(() -> call(m, form)).isInstanceOf(InterruptedException.class);
      long elapsed = System.nanoTime() - start;
      assertThat(elapsed).as("threw while the barger still held the lock").isLessThan(PROMPT_NANOS);
      assertThat(m.isHeldByCurrentThread()).isFalse();
      assertThat(Thread.currentThread().isInterrupted()).as("status consumed by the throw").isFalse();
    } finally {
      Thread.interrupted();
      barger.finish();
    }
    assertThat(m.tryLock()).as("lock left usable").isNotNull().satisfies(Mutex.Guard::close);
  }

  // ---- defect 10: the deadline bounds every re-acquisition ----------------------------------

  @Test
  void deadlinePassingWhileReacquiringAfterTheSpinReturnsNullWithoutTheLock() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Barger barger = new Barger(m);
    Thread me = Thread.currentThread();
    try (var h = ProtocolWindows.install(
        once(me, "mutex.released-for-spin", barger::bargeAndWait))) {
      if (!Mutex.WAIT_SPINS) {
        return;
      }
      long start = System.nanoTime();
      Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1, SHORT);
      long elapsed = System.nanoTime() - start;
      assertThat(g).isNull();
      assertThat(m.isHeldByCurrentThread()).isFalse();
      assertThat(m.isLocked()).as("the barger still holds it").isTrue();
      assertThat(elapsed).as("returned at the deadline, not at the barger's release")
          .isGreaterThanOrEqualTo(SHORT.toNanos()).isLessThan(PROMPT_NANOS);
    } finally {
      barger.finish();
    }
  }

  @Test
  void holderTakingTheLockWhileTheWaiterSleepsCannotStretchItsTimeout() throws Exception {
    // The scenario: parked in lockWhen(p, timeout), another thread takes the lock and
    // holds it far past the timeout; the waiter must not wait for it to let go.
    Mutex<Integer> m = new Mutex<>(0);
    Barger barger = new Barger(m);
    AtomicLong elapsed = new AtomicLong();
    AtomicReference<Mutex.@Nullable Guard<Integer>> got = new AtomicReference<>();
    AtomicInteger heldAfter = new AtomicInteger(-1);
    Worker waiter = new Worker("waiter", () -> {
      long start = System.nanoTime();
      got.set(m.lockWhen(v -> v == 1, Duration.ofMillis(300)));
      elapsed.set(System.nanoTime() - start);
      heldAfter.set(m.isHeldByCurrentThread() ? 1 : 0);
    });
    try {
      awaitBlocked(waiter.thread); // parked waiting for a change
      barger.bargeAndWait();
      waiter.thread.join(TimeUnit.SECONDS.toMillis(10));
      barger.letGo.countDown();
      waiter.join();
    } finally {
      barger.finish();
    }
    assertThat(got.get()).isNull();
    assertThat(heldAfter.get()).isZero();
    assertThat(elapsed.get()).isLessThan(PROMPT_NANOS);
  }

  @Test
  void deadlinePassingWhileReacquiringAfterAWakeupReturnsNullWithoutTheLock() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Barger barger = new Barger(m);
    AtomicLong elapsed = new AtomicLong();
    AtomicReference<Mutex.@Nullable Guard<Integer>> got = new AtomicReference<>();
    CountDownLatch woken = new CountDownLatch(1);
    Worker waiter = new Worker("waiter", () -> {
      Thread me = Thread.currentThread();
      try (var h = ProtocolWindows.install(once(me, "mutex.woken", () -> {
        woken.countDown();
        barger.bargeAndWait();
      }))) {
        long start = System.nanoTime();
        got.set(m.lockWhen(v -> v == 2, Duration.ofMillis(400)));
        elapsed.set(System.nanoTime() - start);
      }
    });
    try {
      awaitBlocked(waiter.thread);
      // Wakes the waiter: its predicate holds (since session 27 a release wakes only such
      // waiters), and it must re-take the lock to see it.
      m.update(v -> 2);
      waiter.thread.join(TimeUnit.SECONDS.toMillis(10));
      barger.letGo.countDown();
      waiter.join();
    } finally {
      barger.finish();
    }
    assertThat(woken.getCount()).as("the wake-up window was reached").isZero();
    assertThat(got.get()).isNull();
    assertThat(elapsed.get()).isLessThan(PROMPT_NANOS);
  }

  /**
   * Session 14: a woken waiter that finds the lock held queues in rounds of
   * Mutex.QUEUE_ROUND_NANOS, looking again after each. Here the waker stays in its release
   * window (after the wake-up, before the release) far beyond the waiter's timeout, with a
   * locker queued behind it: the waiter must return null at its deadline, not when the waker lets go. A draft that
   * looked again after a round cut short by the deadline, without a last attempt, spun through
   * rounds of zero length until the waker let go (this test failed on it).
   */
  @Test
  void deadlinePassingWhileTheWakerStillHoldsTheLockReturnsNullAtTheDeadline() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicLong elapsed = new AtomicLong();
    AtomicReference<Mutex.@Nullable Guard<Integer>> got = new AtomicReference<>();
    CountDownLatch waiterDone = new CountDownLatch(1);
    AtomicInteger windows = new AtomicInteger();
    Worker waiter = new Worker("waiter", () -> {
      try {
        long start = System.nanoTime();
        got.set(m.lockWhen(v -> v == 2, SHORT));
        elapsed.set(System.nanoTime() - start);
      } finally {
        waiterDone.countDown();
      }
    });
    Thread me = Thread.currentThread();
    boolean doneWhileHeld;
    awaitBlocked(waiter.thread);
    Worker locker;
    try (var h = ProtocolWindows.install(once(me, "mutex.woke-before-release", () -> {
      windows.incrementAndGet();
      try {
        // The waker "preempted" in its release window until the waiter has given up.
        assertThat(waiterDone.await(HOLD_MS, TimeUnit.MILLISECONDS)).isTrue();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }))) {
      Mutex.Guard<Integer> g = m.lock();
      locker = new Worker("locker", () -> m.lock().close());
      Waits.awaitParkedOn(locker.thread, m.sync); // queued behind us before the wake-up
      g.set(2);
      g.close(); // wakes the waiter (its predicate holds) and holds in the window
      doneWhileHeld = waiterDone.getCount() == 0;
    }
    waiter.join();
    locker.join();
    assertThat(windows.get()).as("the window was reached").isEqualTo(1);
    assertThat(doneWhileHeld).as("the waiter returned while the waker held the lock").isTrue();
    assertThat(got.get()).isNull();
    assertThat(elapsed.get()).isLessThan(PROMPT_NANOS);
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void interruptWhileParkedThrowsWithoutTheLock() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    AtomicInteger heldAfter = new AtomicInteger(-1);
    Worker waiter = new Worker("waiter", () -> {
      try {
        m.lockWhen(v -> v == 1, Duration.ofSeconds(30));
      } catch (InterruptedException e) {
        thrown.set(e);
      }
      heldAfter.set(m.isHeldByCurrentThread() ? 1 : 0);
    });
    awaitBlocked(waiter.thread);
    waiter.thread.interrupt();
    waiter.join();
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    assertThat(heldAfter.get()).isZero();
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void interruptWhileReacquiringAfterAWakeupThrowsWithoutTheLock() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Barger barger = new Barger(m);
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    AtomicLong elapsed = new AtomicLong();
    AtomicInteger heldAfter = new AtomicInteger(-1);
    Worker waiter = new Worker("waiter", () -> {
      Thread me = Thread.currentThread();
      try (var h = ProtocolWindows.install(once(me, "mutex.woken", () -> {
        barger.bargeAndWait();
        me.interrupt();
      }))) {
        long start = System.nanoTime();
        try {
          m.lockWhen(v -> v == 2);
        } catch (InterruptedException e) {
          thrown.set(e);
        }
        elapsed.set(System.nanoTime() - start);
        heldAfter.set(m.isHeldByCurrentThread() ? 1 : 0);
      }
    });
    try {
      awaitBlocked(waiter.thread);
      m.update(v -> 2); // wakes the waiter, whose predicate now holds
      waiter.thread.join(TimeUnit.SECONDS.toMillis(10));
      barger.letGo.countDown();
      waiter.join();
    } finally {
      barger.finish();
    }
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    assertThat(heldAfter.get()).isZero();
    assertThat(elapsed.get()).isLessThan(PROMPT_NANOS);
  }

  @Test
  void uninterruptibleWaitKeepsWaitingAndRestoresTheStatus() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicInteger sawFlag = new AtomicInteger(-1);
    Worker waiter = new Worker("waiter", () -> {
      try (var g = m.lockWhenUninterruptibly(v -> v == 1)) {
        sawFlag.set(Thread.currentThread().isInterrupted() ? 1 : 0);
        assertThat(g.get()).isEqualTo(1);
      }
    });
    awaitBlocked(waiter.thread);
    waiter.thread.interrupt();
    awaitBlocked(waiter.thread); // still waiting after the interrupt
    m.update(v -> 1);
    waiter.join();
    assertThat(sawFlag.get()).isEqualTo(1);
  }

  // ---- time arithmetic edges ------------------------------------------------------------------

  @Test
  void hugeTimeoutsAndFarFutureDeadlinesNeverOverflow() throws Exception {
    Mutex<Integer> m = new Mutex<>(1);
    Object[] timeouts = {Duration.ofSeconds(Long.MAX_VALUE, 999_999_999), Duration.ofNanos(Long.MAX_VALUE),
        Instant.MAX, Instant.now().plus(Duration.ofDays(365L * 1000))};
    for (Object t : timeouts) {
      try (var g = t instanceof Duration d ? m.lockWhen(v -> v == 1, d)
          : m.lockWhen(v -> v == 1, (Instant) t)) {
        assertThat(g).as("satisfied at once for %s", t).isNotNull();
      }
      try (var g = t instanceof Duration d ? m.tryLock(d) : m.tryLock()) {
        assertThat(g).isNotNull();
      }
    }
    // Unsatisfied with a huge timeout: it waits, and a change ends the wait.
    Mutex<Integer> n = new Mutex<>(0);
    CountDownLatch first = new CountDownLatch(1);
    Worker waiter = new Worker("waiter", () -> {
      try (var g = n.lockWhen(v -> v == 1, Duration.ofSeconds(Long.MAX_VALUE))) {
        assertThat(g).isNotNull();
      }
      first.countDown();
      try (var g = n.lockWhen(v -> v == 2, Instant.MAX)) {
        assertThat(g).isNotNull();
      }
    });
    awaitBlocked(waiter.thread);
    n.update(v -> 1);
    assertThat(first.await(10, TimeUnit.SECONDS)).isTrue();
    awaitBlocked(waiter.thread);
    n.update(v -> 2);
    waiter.join();
  }

  // ---- memory under long waits ----------------------------------------------------------------

  @Test
  void waitersThatLeaveWithoutTheLockLeaveAtMostOneNodeEach() throws Exception {
    // One thread waits for a long time (untimed); another keeps timing out and being
    // interrupted next to it. The change queue must stay bounded by the waiting threads.
    Mutex<Integer> m = new Mutex<>(0);
    Worker patient = new Worker("patient", () -> {
      try (var g = m.lockWhen(v -> v == -1)) {
        assertThat(g.get()).isEqualTo(-1);
      }
    });
    awaitBlocked(patient.thread);
    for (int i = 0; i < 300; i++) {
      assertThat(m.lockWhen(v -> v == -1, Duration.ofNanos(i * 3_000L))).isNull();
      assertThat(m.isHeldByCurrentThread()).isFalse();
      Thread.currentThread().interrupt();
      assertThatThrownBy(() -> m.lockWhen(v -> v == -1))
          .isInstanceOf(InterruptedException.class);
    }
    int length = m.with(v -> m.changeQueueLengthLocked());
    // Since session 27 an append purges only when the queue has doubled since its last sweep
    // (O(1) amortized): at most twice the live nodes plus the slack, then one more append.
    assertThat(length)
        .as("the patient waiter plus the nodes that left since the last sweep")
        .isBetween(1, 2 * 1 + Mutex.PURGE_SLACK + 1);
    m.update(v -> -1);
    patient.join();
    int after = m.with(v -> m.changeQueueLengthLocked());
    assertThat(after).isZero();
  }

  @Test
  void queriesAgreeWithTheOperationsAfterEveryKindOfEnd() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    assertThat(m.lockWhen(v -> v == 1, Duration.ofMillis(20))).isNull(); // timed out
    assertThat(m.isLocked()).isFalse();
    assertThat(m.isHeldByCurrentThread()).isFalse();
    try (var g = m.tryLock()) {
      assertThat(g).as("isLocked() said free").isNotNull();
      assertThat(m.isLocked()).isTrue();
      assertThat(m.isHeldByCurrentThread()).isTrue();
    }
    Thread.currentThread().interrupt();
    assertThatThrownBy(() -> m.lockWhen(v -> v == 0)).isInstanceOf(InterruptedException.class);
    assertThat(m.isLocked()).isFalse();
    assertThatThrownBy(() -> m.lockWhen(v -> { throw new IllegalStateException("boom"); }))
        .hasMessage("boom");
    assertThat(m.isLocked()).isFalse();
    assertThat(m.tryLock(Duration.ZERO)).isNotNull().satisfies(Mutex.Guard::close);
  }
}
