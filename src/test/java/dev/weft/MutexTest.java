package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class MutexTest {

  // ---- helpers --------------------------------------------------------------------------

  /** Starts a named test thread that records anything it throws. */
  static final class Worker {
    final Thread thread;
    final AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();

    Worker(String name, ThrowingRunnable body) {
      thread = new Thread(() -> {
        try {
          body.run();
        } catch (Throwable t) {
          failure.set(t);
        }
      }, "test-" + name);
      thread.start();
    }

    void join() throws InterruptedException {
      thread.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(thread.isAlive()).as("%s still running", thread.getName()).isFalse();
      Throwable t = failure.get();
      if (t != null) {
        throw new AssertionError(thread.getName() + " failed", t);
      }
    }
  }

  /** Reads a mutex's value under its lock (a typed helper that keeps AssertJ unambiguous). */
  static <T extends @Nullable Object> T value(Mutex<T> m) {
    return m.with(v -> v);
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  // ---- the chapter's program -------------------------------------------------------------

  @Test
  void tenThreadsTimesThousandIncrementsGiveTenThousand() throws Exception {
    Mutex<Long> counter = new Mutex<>(0L);
    List<Worker> workers = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      workers.add(new Worker("inc-" + i, () -> {
        for (int j = 0; j < 1000; j++) {
          try (Mutex.Guard<Long> g = counter.lock()) {
            g.set(g.get() + 1);
          }
        }
      }));
    }
    for (Worker w : workers) {
      w.join();
    }
    assertThat(value(counter)).isEqualTo(10_000L);
  }

  @Test
  void closureFormsCountExactlyUnderContention() throws Exception {
    Mutex<Long> counter = new Mutex<>(0L);
    Mutex<long[]> box = new Mutex<>(new long[1]);
    List<Worker> workers = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      workers.add(new Worker("closure-" + i, () -> {
        for (int j = 0; j < 2000; j++) {
          counter.update(v -> v + 1);
          box.with(a -> a[0]++);
        }
      }));
    }
    for (Worker w : workers) {
      w.join();
    }
    assertThat(value(counter)).isEqualTo(8000L);
    assertThat(box.<Long>with(a -> a[0])).isEqualTo(8000L);
  }

  // ---- basic behaviour -----------------------------------------------------------------

  @Test
  void guardReadsAndWritesTheValue() {
    Mutex<String> m = new Mutex<>("a");
    try (Mutex.Guard<String> g = m.lock()) {
      assertThat(m.isLocked()).isTrue();
      assertThat(m.isHeldByCurrentThread()).isTrue();
      assertThat(g.isOpen()).isTrue();
      assertThat(g.get()).isEqualTo("a");
      g.set("b");
      assertThat(g.get()).isEqualTo("b");
    }
    assertThat(m.isLocked()).isFalse();
    assertThat(m.with(Function.identity())).isEqualTo("b");
  }

  @Test
  void nullIsAllowedAsTheValue() {
    Mutex<@Nullable String> m = new Mutex<>(null);
    assertThat(value(m)).isNull();
    assertThat(m.update(v -> v == null ? "x" : null)).isEqualTo("x");
    try (Mutex.Guard<@Nullable String> g = m.lock()) {
      g.set(null);
      assertThat(g.get()).isNull();
    }
    assertThat(m.<Boolean>with(v -> v == null)).isTrue();
  }

  @Test
  void updateReturnsTheNewValue() {
    Mutex<Integer> m = new Mutex<>(41);
    assertThat(m.update(v -> v + 1)).isEqualTo(42);
    assertThat(value(m)).isEqualTo(42);
  }

  @Test
  void updateThatThrowsLeavesValueUnchangedAndReleases() {
    Mutex<Integer> m = new Mutex<>(7);
    assertThatThrownBy(() -> m.update(v -> {
      throw new ArithmeticException("boom");
    })).isInstanceOf(ArithmeticException.class).hasMessage("boom");
    assertThat(m.isLocked()).isFalse();
    assertThat(value(m)).isEqualTo(7);
  }

  @Test
  void withThatThrowsReleasesAndDoesNotPoison() {
    Mutex<Integer> m = new Mutex<>(1);
    assertThatThrownBy(() -> m.with(v -> {
      throw new IllegalArgumentException("bad");
    })).isInstanceOf(IllegalArgumentException.class);
    assertThat(m.isLocked()).isFalse();
    assertThat(m.update(v -> v + 1)).isEqualTo(2); // still usable: no poisoning
  }

  @Test
  void guardBodyThatThrowsKeepsWhatItWroteAndReleases() {
    Mutex<Integer> m = new Mutex<>(1);
    assertThatThrownBy(() -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        g.set(5);
        throw new IllegalStateException("halfway");
      }
    }).hasMessage("halfway");
    assertThat(m.isLocked()).isFalse();
    assertThat(value(m)).isEqualTo(5);
  }

  // ---- reentrancy ------------------------------------------------------------------------

  @Test
  void reentrantAcquisitionThrowsInsteadOfDeadlocking() {
    Mutex<Integer> m = new Mutex<>(0);
    try (Mutex.Guard<Integer> g = m.lock()) {
      assertThatIllegalStateException().isThrownBy(m::lock)
          .withMessageContaining("Mutex is not reentrant: this thread already holds it");
      assertThatIllegalStateException().isThrownBy(m::tryLock);
      assertThatIllegalStateException().isThrownBy(() -> m.tryLock(Duration.ofMillis(1)));
      assertThatIllegalStateException().isThrownBy(m::lockInterruptibly);
      assertThatIllegalStateException().isThrownBy(() -> m.with(v -> v));
      assertThatIllegalStateException().isThrownBy(() -> m.update(v -> v));
      assertThatIllegalStateException().isThrownBy(() -> m.lockWhen(v -> true));
      assertThatIllegalStateException()
          .isThrownBy(() -> m.lockWhen(v -> true, Duration.ofSeconds(1)));
      assertThatIllegalStateException().isThrownBy(() -> m.lockWhenUninterruptibly(v -> true));
      assertThatIllegalStateException().isThrownBy(() -> m.awaitThen(v -> true, v -> v));
      assertThat(g.isOpen()).isTrue();
      assertThat(m.isHeldByCurrentThread()).isTrue();
    }
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void nestedWithThrowsAndReleasesBoth() {
    Mutex<Integer> m = new Mutex<>(0);
    assertThatIllegalStateException().isThrownBy(() -> m.with(v -> m.with(w -> w)));
    assertThat(m.isLocked()).isFalse();
  }

  // ---- guard misuse ----------------------------------------------------------------------

  @Test
  void guardClosedTwiceThrows() {
    Mutex<Integer> m = new Mutex<>(0);
    Mutex.Guard<Integer> g = m.lock();
    g.close();
    assertThat(g.isOpen()).isFalse();
    assertThatIllegalStateException().isThrownBy(g::close).withMessageContaining("already closed");
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void guardUsedAfterCloseThrows() {
    Mutex<Integer> m = new Mutex<>(0);
    Mutex.Guard<Integer> g = m.lock();
    g.close();
    assertThatIllegalStateException().isThrownBy(g::get).withMessageContaining("already closed");
    assertThatIllegalStateException().isThrownBy(() -> g.set(1))
        .withMessageContaining("already closed");
    assertThat(value(m)).isZero();
  }

  @Test
  void guardUsedOrClosedByAnotherThreadThrowsIllegalMonitorState() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    try (Mutex.Guard<Integer> g = m.lock()) {
      AtomicReference<@Nullable Throwable> onClose = new AtomicReference<>();
      AtomicReference<@Nullable Throwable> onGet = new AtomicReference<>();
      AtomicReference<@Nullable Throwable> onSet = new AtomicReference<>();
      Worker w = new Worker("intruder", () -> {
        onClose.set(catchThrowable(g::close));
        onGet.set(catchThrowable(g::get));
        onSet.set(catchThrowable(() -> g.set(9)));
      });
      w.join();
      assertThat(onClose.get()).isInstanceOf(IllegalMonitorStateException.class)
          .hasMessageContaining("belongs to thread");
      assertThat(onGet.get()).isInstanceOf(IllegalMonitorStateException.class);
      assertThat(onSet.get()).isInstanceOf(IllegalMonitorStateException.class);
      assertThat(g.isOpen()).isTrue();
      assertThat(g.get()).isZero();
    }
    assertThat(m.isLocked()).isFalse();
  }

  static @Nullable Throwable catchThrowable(ThrowingRunnable r) {
    try {
      r.run();
      return null;
    } catch (Throwable t) {
      return t;
    }
  }

  // ---- bad input -------------------------------------------------------------------------

  @Test
  @SuppressWarnings("NullAway") // passing null on purpose
  void nullArgumentsThrowNpeNamingTheParameter() {
    Mutex<Integer> m = new Mutex<>(0);
    assertThatNullPointerException().isThrownBy(() -> m.with(null)).withMessage("fn");
    assertThatNullPointerException().isThrownBy(() -> m.update(null)).withMessage("fn");
    assertThatNullPointerException().isThrownBy(() -> m.tryLock(null)).withMessage("timeout");
    assertThatNullPointerException().isThrownBy(() -> m.lockWhen(null)).withMessage("ready");
    assertThatNullPointerException()
        .isThrownBy(() -> m.lockWhen(v -> true, (Duration) null)).withMessage("timeout");
    assertThatNullPointerException()
        .isThrownBy(() -> m.lockWhen(v -> true, (Instant) null)).withMessage("deadline");
    assertThatNullPointerException()
        .isThrownBy(() -> m.lockWhen(null, Duration.ZERO)).withMessage("ready");
    assertThatNullPointerException()
        .isThrownBy(() -> m.lockWhenUninterruptibly(null)).withMessage("ready");
    assertThatNullPointerException()
        .isThrownBy(() -> m.awaitThen(v -> true, null)).withMessage("action");
    assertThatNullPointerException()
        .isThrownBy(() -> m.awaitThen(null, v -> v)).withMessage("ready");
    assertThat(m.isLocked()).isFalse();
  }

  // ---- tryLock and timeouts ----------------------------------------------------------------

  @Test
  void tryLockFailsWhileAnotherThreadHoldsIt() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Worker holder = new Worker("holder", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        g.set(1);
        held.countDown();
        release.await();
      }
    });
    held.await();
    assertThat(m.tryLock()).isNull();
    assertThat(m.tryLock(Duration.ZERO)).isNull();
    assertThat(m.tryLock(Duration.ofMillis(-5))).isNull();
    long t0 = System.nanoTime();
    assertThat(m.tryLock(Duration.ofMillis(30))).isNull();
    assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(30));
    assertThat(m.toString()).startsWith("Mutex[Locked by thread test-holder");
    release.countDown();
    holder.join();
    try (Mutex.Guard<Integer> g = m.tryLock(Duration.ofSeconds(Long.MAX_VALUE))) {
      assertThat(g).isNotNull();
    }
    Mutex.Guard<Integer> g = m.tryLock();
    assertThat(g).isNotNull();
    if (g != null) {
      g.close();
    }
    assertThat(m.toString()).isEqualTo("Mutex[Unlocked]");
  }

  @Test
  void threadsThatFindTheLockHeldQueueAndThenRunInsteadOfThrowing() throws Exception {
    // The fast path is one CAS that fails for the holder and for everyone else alike; only
    // the holder may get IllegalStateException, the others must queue.
    Mutex<Integer> m = new Mutex<>(0);
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Worker holder = new Worker("holder", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        held.countDown();
        release.await();
        g.set(g.get() + 1);
      }
    });
    held.await();
    Worker locker = new Worker("locker", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        g.set(g.get() + 100);
      }
    });
    Worker updater = new Worker("updater", () -> m.update(v -> v + 10));
    awaitBlocked(locker.thread);
    awaitBlocked(updater.thread);
    assertThat(m.toString())
        .startsWith("Mutex[Locked by thread test-holder")
        .endsWith("[2 queued]");
    release.countDown();
    holder.join();
    locker.join();
    updater.join();
    assertThat(value(m)).isEqualTo(111);
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void lockInterruptiblyRespondsToInterrupt() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> seen = new AtomicReference<>();
    try (Mutex.Guard<Integer> g = m.lock()) {
      Worker w = new Worker("interruptible", () -> seen.set(catchThrowable(m::lockInterruptibly)));
      awaitBlocked(w.thread);
      w.thread.interrupt();
      w.join();
      assertThat(g.isOpen()).isTrue();
    }
    assertThat(seen.get()).isInstanceOf(InterruptedException.class);
    assertThat(m.isLocked()).isFalse();
  }

  // ---- predicate waits with automatic signalling ------------------------------------------

  @Test
  void lockWhenReturnsAtOnceIfPredicateHolds() throws Exception {
    Mutex<Integer> m = new Mutex<>(3);
    try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 3)) {
      assertThat(g.get()).isEqualTo(3);
    }
    try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 3, Duration.ZERO)) {
      assertThat(g).isNotNull();
    }
    try (Mutex.Guard<Integer> g = m.lockWhenUninterruptibly(v -> v == 3)) {
      assertThat(g.get()).isEqualTo(3);
    }
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void waiterIsWokenByUpdatesWithoutAnyNotify() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Integer> seen = new AtomicReference<>();
    Worker waiter = new Worker("lockWhen", () -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v >= 3)) {
        seen.set(g.get());
      }
    });
    awaitBlocked(waiter.thread);
    m.update(v -> v + 1);
    m.update(v -> v + 1);
    try (Mutex.Guard<Integer> g = m.lock()) {
      g.set(g.get() + 1); // guard form wakes too
    }
    waiter.join();
    assertThat(seen.get()).isEqualTo(3);
  }

  @Test
  void waiterIsWokenWhenHolderChangesStateThenWaitsOnCondvar() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    Worker auto = new Worker("auto", () -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1)) {
        g.set(2);
      }
      cv.notifyOne(); // a Condvar waiter needs an explicit notify
    });
    awaitBlocked(auto.thread);
    // Holder changes the value, then waits on a Condvar: the release inside the Condvar wait
    // must wake the automatic-signalling waiter, which then sets 2 and notifies. Without that
    // wake-up nobody would set 2 and the timed wait below would return false.
    try (Mutex.Guard<Integer> g = m.lock()) {
      g.set(1);
      boolean ok = cv.awaitWhile(g, v -> v != 2, Duration.ofSeconds(10));
      assertThat(ok).isTrue();
      assertThat(g.get()).isEqualTo(2);
    }
    auto.join();
  }

  @Test
  void timedLockWhenReturnsNullOnTimeoutAndReleases() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    assertThat(m.lockWhen(v -> v > 0, Duration.ZERO)).isNull();
    assertThat(m.lockWhen(v -> v > 0, Duration.ofNanos(-1))).isNull();
    assertThat(m.lockWhen(v -> v > 0, Instant.now().minusSeconds(5))).isNull();
    long t0 = System.nanoTime();
    assertThat(m.lockWhen(v -> v > 0, Duration.ofMillis(30))).isNull();
    assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(30));
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void timedLockWhenSucceedsWithHugeTimeoutsAndDeadlines() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    CountDownLatch go = new CountDownLatch(1);
    Worker setter = new Worker("setter", () -> {
      go.await();
      m.update(v -> 1);
    });
    go.countDown();
    try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1, Duration.ofSeconds(Long.MAX_VALUE))) {
      assertThat(g).isNotNull();
      if (g != null) {
        assertThat(g.get()).isEqualTo(1);
      }
    }
    setter.join();
    try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1, Instant.MAX)) {
      assertThat(g).isNotNull();
    }
  }

  @Test
  void lockWhenIsInterruptibleAndReleasesTheLock() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> seen = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> seenTimed = new AtomicReference<>();
    Worker w = new Worker("interrupted", () -> seen.set(catchThrowable(() -> m.lockWhen(v -> v > 0))));
    Worker wt = new Worker("interrupted-timed",
        () -> seenTimed.set(catchThrowable(() -> m.lockWhen(v -> v > 0, Duration.ofDays(1)))));
    awaitBlocked(w.thread);
    awaitBlocked(wt.thread);
    w.thread.interrupt();
    wt.thread.interrupt();
    w.join();
    wt.join();
    assertThat(seen.get()).isInstanceOf(InterruptedException.class);
    assertThat(seenTimed.get()).isInstanceOf(InterruptedException.class);
    assertThat(m.isLocked()).isFalse();
    assertThat(m.update(v -> v + 1)).isEqualTo(1);
  }

  @Test
  void uninterruptibleWaitKeepsWaitingAndRestoresInterrupt() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicBoolean interruptedOnReturn = new AtomicBoolean();
    AtomicBoolean returnedEarly = new AtomicBoolean();
    Worker w = new Worker("uninterruptible", () -> {
      try (Mutex.Guard<Integer> g = m.lockWhenUninterruptibly(v -> v == 1)) {
        returnedEarly.set(g.get() != 1);
        interruptedOnReturn.set(Thread.currentThread().isInterrupted());
      }
    });
    awaitBlocked(w.thread);
    w.thread.interrupt();
    m.update(v -> v); // a release that does not satisfy the predicate
    m.update(v -> 1);
    w.join();
    assertThat(returnedEarly.get()).isFalse();
    assertThat(interruptedOnReturn.get()).isTrue();
  }

  @Test
  void throwingPredicatePropagatesAndReleases() {
    Mutex<Integer> m = new Mutex<>(0);
    Predicate<Integer> bad = v -> {
      throw new UnsupportedOperationException("pred");
    };
    assertThatThrownBy(() -> m.lockWhen(bad)).hasMessage("pred");
    assertThatThrownBy(() -> m.lockWhen(bad, Duration.ofSeconds(1))).hasMessage("pred");
    assertThatThrownBy(() -> m.lockWhenUninterruptibly(bad)).hasMessage("pred");
    assertThatThrownBy(() -> m.awaitThen(bad, v -> v)).hasMessage("pred");
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void boundedProducerConsumerWithAwaitThenCountsExactly() throws Exception {
    int capacity = 8;
    int producers = 4;
    int consumers = 4;
    int perProducer = 2_500;
    Mutex<ArrayDeque<Integer>> queue = new Mutex<>(new ArrayDeque<>());
    AtomicLong consumedSum = new AtomicLong();
    AtomicLong consumedCount = new AtomicLong();
    AtomicBoolean overfilled = new AtomicBoolean();
    List<Worker> workers = new ArrayList<>();
    for (int p = 0; p < producers; p++) {
      int base = p * perProducer;
      workers.add(new Worker("producer-" + p, () -> {
        for (int i = 0; i < perProducer; i++) {
          int item = base + i + 1;
          queue.awaitThen(q -> q.size() < capacity, q -> {
            q.addLast(item);
            if (q.size() > capacity) {
              overfilled.set(true);
            }
            return null;
          });
        }
      }));
    }
    int total = producers * perProducer;
    int perConsumer = total / consumers;
    for (int c = 0; c < consumers; c++) {
      workers.add(new Worker("consumer-" + c, () -> {
        for (int i = 0; i < perConsumer; i++) {
          int item = queue.awaitThen(q -> !q.isEmpty(), ArrayDeque::removeFirst);
          consumedSum.addAndGet(item);
          consumedCount.incrementAndGet();
        }
      }));
    }
    for (Worker w : workers) {
      w.join();
    }
    long n = total;
    assertThat(consumedCount.get()).isEqualTo(n);
    assertThat(consumedSum.get()).isEqualTo(n * (n + 1) / 2);
    assertThat(overfilled.get()).isFalse();
    assertThat(queue.<Boolean>with(ArrayDeque::isEmpty)).isTrue();
  }

  @Test
  void toStringNeverBlocksOrShowsTheValue() throws Exception {
    Mutex<String> m = new Mutex<>("secret");
    assertThat(m.toString()).isEqualTo("Mutex[Unlocked]");
    Mutex.Guard<String> g = m.lock();
    {
      assertThat(m.toString()).startsWith("Mutex[Locked by thread").doesNotContain("secret");
      assertThat(g.toString()).startsWith("Mutex.Guard[open, owner=");
      AtomicReference<String> fromOther = new AtomicReference<>("");
      Worker w = new Worker("tostring", () -> fromOther.set(m.toString()));
      w.join();
      assertThat(fromOther.get()).contains("Locked by thread " + Thread.currentThread().getName());
      Worker queued = new Worker("queued", () -> m.with(v -> v));
      awaitBlocked(queued.thread);
      assertThat(m.toString()).endsWith("[1 queued]");
      g.close();
      assertThat(g.toString()).startsWith("Mutex.Guard[closed");
      queued.join();
    }
  }

  /**
   * Behaviours of {@link Mutex} and {@link Condvar} that the mutation run (PIT, issue #9) showed
   * untested: ownership queries from other threads, timed predicate waits that really wait and
   * then succeed or give up, and notifications sent by the mutex's holder. Every waiter is
   * blocked (parked) before the state it waits for is changed, so each test takes the waiting
   * path on purpose rather than by chance.
   */
  // "try": holders and guards kept for their scope only are never referenced (-Xlint:try).
  @SuppressWarnings("try")
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  @Nested
  class WaitingPathsAndOwnershipQueries {

    /** Holds {@code m} on a test thread until {@link #close()}. */
    private static final class Holder implements AutoCloseable {
      private final CountDownLatch held = new CountDownLatch(1);
      private final CountDownLatch release = new CountDownLatch(1);
      private final MutexTest.Worker worker;

      Holder(Mutex<Integer> m) throws InterruptedException {
        worker = new MutexTest.Worker("mutex-holder", () -> {
          try (Mutex.Guard<Integer> g = m.lock()) {
            held.countDown();
            release.await();
          }
        });
        held.await();
      }

      @Override
      public void close() throws InterruptedException {
        release.countDown();
        worker.join();
      }
    }

    // ---- Mutex ------------------------------------------------------------------------------

    @Test
    void isHeldByCurrentThreadIsTrueOnlyForTheHolder() throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      assertThat(m.isHeldByCurrentThread()).as("unlocked").isFalse();
      try (Holder h = new Holder(m)) {
        assertThat(m.isLocked()).isTrue();
        assertThat(m.isHeldByCurrentThread()).as("held by another thread").isFalse();
      }
      try (Mutex.Guard<Integer> g = m.lock()) {
        assertThat(m.isHeldByCurrentThread()).isTrue();
        AtomicBoolean seenElsewhere = new AtomicBoolean(true);
        MutexTest.Worker other =
            new MutexTest.Worker("mutex-asker", () -> seenElsewhere.set(m.isHeldByCurrentThread()));
        other.join();
        assertThat(seenElsewhere.get()).as("asked on a thread that does not hold it").isFalse();
      }
      assertThat(m.isHeldByCurrentThread()).as("after release").isFalse();
    }

    @Test
    void guardIsOpenUntilClosed() {
      Mutex<Integer> m = new Mutex<>(0);
      Mutex.Guard<Integer> g = m.lock();
      assertThat(g.isOpen()).isTrue();
      g.close();
      assertThat(g.isOpen()).isFalse();
    }

    @Test
    void timedLockWhenThatWaitedReturnsAGuardOnceThePredicateHolds() throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      AtomicReference<Mutex.@Nullable Guard<Integer>> got = new AtomicReference<>();
      AtomicReference<@Nullable Integer> seen = new AtomicReference<>();
      MutexTest.Worker w = new MutexTest.Worker("timed-lockwhen", () -> {
        Mutex.Guard<Integer> g = m.lockWhen(v -> v == 2, Duration.ofSeconds(20));
        got.set(g);
        if (g != null) {
          seen.set(g.get());
          g.close();
        }
      });
      awaitBlocked(w.thread); // it holds nothing and waits inside awaitChangedNanos
      m.update(v -> 1); // a change that does not satisfy it: it must wait again
      m.update(v -> 2);
      w.join();
      assertThat(got.get()).as("lockWhen(ready, timeout) returned a guard").isNotNull();
      assertThat(seen.get()).isEqualTo(2);
      assertThat(m.isLocked()).isFalse();
    }

    @Test
    void timedLockWhenGivesUpWhenChangesNeverSatisfyIt() throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      AtomicReference<@Nullable Object> got = new AtomicReference<>("unset");
      MutexTest.Worker w = new MutexTest.Worker("timed-lockwhen-gives-up",
          () -> got.set(m.lockWhen(v -> v < 0, Duration.ofMillis(300))));
      m.update(v -> v + 1); // wakes it if it already waits; never satisfies it
      w.join();
      assertThat(got.get()).isNull();
      assertThat(m.isLocked()).as("released on timeout").isFalse();
      assertThat(value(m)).isEqualTo(1);
    }

    @Test
    void timedLockWhenReturnsNullWhileAnotherThreadHoldsTheLock() throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      try (Holder h = new Holder(m)) {
        long t0 = System.nanoTime();
        assertThat(m.lockWhen(v -> true, Duration.ofMillis(30))).isNull();
        assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(30));
        assertThat(m.isHeldByCurrentThread()).isFalse();
      }
    }

    @Test
    void awaitThenIsWokenByAGuardWriteAndRunsItsAction() throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      AtomicReference<@Nullable String> result = new AtomicReference<>();
      MutexTest.Worker w = new MutexTest.Worker("await-then",
          () -> result.set(m.awaitThen(v -> v == 5, v -> "saw " + v)));
      awaitBlocked(w.thread);
      try (Mutex.Guard<Integer> g = m.lock()) {
        g.set(5); // no notify: closing the guard signals the waiter
      }
      w.join();
      assertThat(result.get()).isEqualTo("saw 5");
      assertThat(m.isLocked()).isFalse();
    }

    @Test
    void timedTryLockSucceedsWhenTheHolderReleasesDuringTheWait() throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      Holder h = new Holder(m);
      AtomicBoolean got = new AtomicBoolean();
      MutexTest.Worker w = new MutexTest.Worker("timed-trylock", () -> {
        try (Mutex.Guard<Integer> g = m.tryLock(Duration.ofSeconds(20))) {
          got.set(g != null);
        }
      });
      awaitBlocked(w.thread);
      h.close();
      w.join();
      assertThat(got.get()).isTrue();
    }

    @Test
    void lockInterruptiblyReturnsAUsableGuard() throws Exception {
      Mutex<Integer> m = new Mutex<>(1);
      try (Mutex.Guard<Integer> g = m.lockInterruptibly()) {
        assertThat(m.isHeldByCurrentThread()).isTrue();
        g.set(g.get() + 1);
      }
      assertThat(m.isLocked()).isFalse();
      assertThat(value(m)).isEqualTo(2);
    }

    // ---- Condvar ----------------------------------------------------------------------------

    @Test
    void timedAwaitWhileReturnsTrueAtOnceWhenNotBlocked() throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      try (Mutex.Guard<Integer> g = m.lock()) {
        assertThat(cv.awaitWhile(g, v -> false, Duration.ZERO)).isTrue();
        assertThat(cv.awaitWhile(g, v -> false, Duration.ofSeconds(5))).isTrue();
      }
      // Bound by its first use even though no wait happened (issue 18, defect 9): a guard of
      // another mutex is refused from then on, on every path.
      assertThat(cv.toString()).isEqualTo("Condvar[bound, 0 waiting]");
    }

    @Test
    void timedAwaitWhileThatWaitedReturnsTrueWhenNotified() throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      AtomicReference<@Nullable Boolean> result = new AtomicReference<>();
      AtomicReference<@Nullable Integer> seen = new AtomicReference<>();
      MutexTest.Worker w = new MutexTest.Worker("timed-await", () -> {
        try (Mutex.Guard<Integer> g = m.lock()) {
          result.set(cv.awaitWhile(g, v -> v < 2, Duration.ofSeconds(20)));
          seen.set(g.get());
        }
      });
      awaitBlocked(w.thread);
      m.update(v -> 1);
      cv.notifyAllWaiters(); // still blocked: it must wait again
      m.update(v -> 2);
      cv.notifyOne();
      w.join();
      assertThat(result.get()).isTrue();
      assertThat(seen.get()).isEqualTo(2);
    }

    @Test
    void timedAwaitWhileWokenButStillBlockedTimesOutWithFalse() throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      AtomicReference<@Nullable Boolean> result = new AtomicReference<>();
      MutexTest.Worker w = new MutexTest.Worker("timed-await-false", () -> {
        try (Mutex.Guard<Integer> g = m.lock()) {
          result.set(cv.awaitWhile(g, v -> v < 100, Duration.ofMillis(200)));
        }
      });
      awaitBlocked(w.thread);
      m.update(v -> 1);
      cv.notifyOne();
      w.join();
      assertThat(result.get()).isFalse();
      assertThat(cv.hasWaiters()).isFalse();
    }

    @Test
    void notifyByTheHolderOfTheMutexWakesTheWaiter() throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      MutexTest.Worker w = new MutexTest.Worker("held-notify", () -> {
        try (Mutex.Guard<Integer> g = m.lock()) {
          cv.awaitWhile(g, v -> v == 0);
        }
      });
      awaitBlocked(w.thread);
      assertThat(cv.hasWaiters()).isTrue();
      try (Mutex.Guard<Integer> g = m.lock()) {
        g.set(1);
        cv.notifyOne(); // holds the mutex: signals directly, no second acquire
        assertThat(m.isHeldByCurrentThread()).isTrue();
      }
      w.join();
      MutexTest.Worker w2 = new MutexTest.Worker("held-notify-all", () -> {
        try (Mutex.Guard<Integer> g = m.lock()) {
          cv.awaitWhileUninterruptibly(g, v -> v == 1);
        }
      });
      awaitBlocked(w2.thread);
      try (Mutex.Guard<Integer> g = m.lock()) {
        g.set(2);
        cv.notifyAllWaiters();
      }
      w2.join();
      assertThat(cv.hasWaiters()).isFalse();
      assertThat(cv.toString()).isEqualTo("Condvar[bound, 0 waiting]");
    }

    @Test
    void interruptedTimedWaitThrowsAndPassesTheWakeUpOn() throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      AtomicReference<@Nullable Throwable> aSaw = new AtomicReference<>();
      MutexTest.Worker a = new MutexTest.Worker("timed-giver-a", () -> {
        try (Mutex.Guard<Integer> g = m.lock()) {
          aSaw.set(org.assertj.core.api.Assertions.catchThrowable(() -> cv.awaitWhile(g, v -> v < 2, Duration.ofSeconds(20))));
        }
      });
      awaitBlocked(a.thread);
      AtomicReference<@Nullable Boolean> bResult = new AtomicReference<>();
      MutexTest.Worker b = new MutexTest.Worker("timed-giver-b", () -> {
        try (Mutex.Guard<Integer> g = m.lock()) {
          bResult.set(cv.awaitWhile(g, v -> v < 1, Duration.ofSeconds(20)));
        }
      });
      awaitBlocked(b.thread);
      try (Mutex.Guard<Integer> g = m.lock()) {
        g.set(1);
        cv.notifyOne(); // goes to A, which is still blocked...
        a.thread.interrupt(); // ...and gives up: the wake-up must reach B
      }
      a.join();
      b.join();
      assertThat(aSaw.get()).isInstanceOf(InterruptedException.class);
      assertThat(bResult.get()).isTrue();
    }

    /**
     * The holder changes the value and then waits on a condition variable without the timed form:
     * releasing the mutex inside that wait must wake a {@code lockWhen} waiter (automatic
     * signalling), which then sets 2 and notifies. If the wake-up were lost, the helper gives up
     * after 10 s, records it and sets 2 anyway, so the test fails instead of hanging.
     */
    private static void holderThatWaitsOnACondvarWakesLockWhenWaiters(boolean uninterruptibly)
        throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      AtomicBoolean woken = new AtomicBoolean();
      MutexTest.Worker auto = new MutexTest.Worker("auto-signalled", () -> {
        Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1, Duration.ofSeconds(10));
        if (g != null) {
          woken.set(true);
          g.set(2);
          g.close();
        } else {
          m.update(v -> 2);
        }
        cv.notifyOne();
      });
      awaitBlocked(auto.thread);
      try (Mutex.Guard<Integer> g = m.lock()) {
        g.set(1);
        if (uninterruptibly) {
          cv.awaitWhileUninterruptibly(g, v -> v != 2);
        } else {
          cv.awaitWhile(g, v -> v != 2);
        }
        assertThat(g.get()).isEqualTo(2);
      }
      auto.join();
      assertThat(woken.get()).as("the lockWhen waiter was woken by the Condvar wait").isTrue();
      assertThat(cv.hasWaiters()).isFalse();
    }

    @Test
    void untimedCondvarWaitWakesLockWhenWaiters() throws Exception {
      holderThatWaitsOnACondvarWakesLockWhenWaiters(false);
    }

    @Test
    void uninterruptibleCondvarWaitWakesLockWhenWaiters() throws Exception {
      holderThatWaitsOnACondvarWakesLockWhenWaiters(true);
    }

    private static Integer value(Mutex<Integer> m) {
      return m.with(v -> v);
    }
  }
}
