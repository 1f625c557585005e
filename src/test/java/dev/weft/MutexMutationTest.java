package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

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
class MutexMutationTest {

  private static void awaitBlocked(Thread t) {
    MutexTest.awaitBlocked(t);
  }

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
        aSaw.set(catchThrowable(() -> cv.awaitWhile(g, v -> v < 2, Duration.ofSeconds(20))));
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
