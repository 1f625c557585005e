package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Selective wake-ups of {@link Mutex}'s automatic signalling (session 27; Mutex's algorithm
 * notes, "Selective wake-ups"): a release evaluates the predicates of the threads waiting in
 * {@code lockWhen}/{@code awaitThen} under the lock and wakes only those for whom it holds (or
 * throws). Until then every release woke every waiter, which re-checked and went back to sleep.
 *
 * <p>Each test waits for its waiters to be parked on the mutex in the change queue ({@link
 * Thread.State#WAITING} with the mutex as blocker: the only untimed park with that blocker)
 * before it releases, so the counts below do not depend on timing. The first two failed on the
 * code before the change (every release woke the waiter: 40 evaluations on its own thread, and
 * the second waiter woken by the first one's change).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class MutexSelectiveWakeTest {

  /** A waiter thread running {@code m.lockWhen(ready)} and closing the guard at once. */
  private static final class Waiter {
    final Thread thread;
    final AtomicInteger ownEvaluations = new AtomicInteger();
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    volatile boolean done;

    Waiter(String name, Mutex<Integer> m, Predicate<Integer> ready) {
      thread =
          new Thread(
              () -> {
                try {
                  m.lockWhen(
                          v -> {
                            if (Thread.currentThread().getName().equals(name)) { // names are unique per test
                              ownEvaluations.incrementAndGet();
                            }
                            return ready.test(v);
                          })
                      .close();
                  done = true;
                } catch (Throwable t) {
                  failure.set(t);
                }
              },
              name);
      thread.setDaemon(true);
      thread.start();
    }

    void join() throws InterruptedException {
      thread.join(TimeUnit.SECONDS.toMillis(30));
      assertThat(thread.isAlive()).as("%s still waiting", thread.getName()).isFalse();
    }
  }

  /**
   * Waits, bounded, until {@code t} is parked in {@code m}'s change queue: WAITING (untimed)
   * with {@code m} as its blocker. Polls the thread's state; never waits for a result by time.
   */
  static void awaitInChangeQueue(Thread t, Mutex<?> m) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!(t.getState() == Thread.State.WAITING && LockSupport.getBlocker(t) == m)) {
      if (!t.isAlive()) {
        throw new AssertionError(t.getName() + " ended instead of waiting on " + m);
      }
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError(t.getName() + " never parked in the change queue within 20 s");
      }
      LockSupport.parkNanos(50_000L); // bounded poll of the thread state
    }
  }

  /**
   * Waits, bounded by the test's timeout, until a waiter's node is in {@code m}'s change queue,
   * looking under the lock. Each look is a release too: before selective wake-ups it woke the
   * waiter again, which had to re-check before it could queue and be seen.
   */
  private static void awaitQueued(Mutex<Integer> m) {
    while (m.with(v -> m.changeQueueLengthLocked()) == 0) {
      LockSupport.parkNanos(20_000L); // bounded poll of the queue, not a wait for a result
    }
  }

  @Test
  void fixed_aWaiterWhosePredicateStaysFalseIsNotWokenByReleases() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Waiter w = new Waiter("selective-waiter", m, v -> v >= 100);
    awaitInChangeQueue(w.thread, m);
    int before = w.ownEvaluations.get(); // the first check, and the spin phase's re-check
    for (int i = 0; i < 40; i++) {
      awaitQueued(m); // the waiter's node is in the queue when the next release comes
      m.update(v -> v + 1); // a change that leaves the predicate false
    }
    awaitQueued(m);
    int after = w.ownEvaluations.get();
    m.update(v -> 100);
    w.join();
    assertThat(w.failure.get()).isNull();
    assertThat(w.done).isTrue();
    // Before: woken by each of the 40 releases, it evaluated its predicate 40 more times.
    assertThat(after - before).as("evaluations on the waiter's own thread").isZero();
  }

  @Test
  void fixed_onlyTheWaiterWhosePredicateHoldsIsWoken() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Waiter one = new Waiter("waits-for-1", m, v -> v == 1);
    Waiter two = new Waiter("waits-for-2", m, v -> v == 2);
    awaitInChangeQueue(one.thread, m);
    awaitInChangeQueue(two.thread, m);
    int twoBefore = two.ownEvaluations.get();
    m.update(v -> 1);
    one.join();
    assertThat(one.done).isTrue();
    // The first waiter's own release (its guard's close) is a release too: still not woken.
    awaitInChangeQueue(two.thread, m);
    assertThat(two.ownEvaluations.get()).as("second waiter woken for nothing").isEqualTo(twoBefore);
    m.update(v -> 2);
    two.join();
    assertThat(two.done).isTrue();
    assertThat(one.failure.get()).isNull();
    assertThat(two.failure.get()).isNull();
  }

  @Test
  void aPredicateThatThrowsWhenAReleaseEvaluatesItIsThrownByItsOwnWaiter() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Waiter w =
        new Waiter(
            "throwing-waiter",
            m,
            v -> {
              if (v == 1) {
                throw new IllegalStateException("predicate failed on " + Thread.currentThread());
              }
              return false;
            });
    awaitInChangeQueue(w.thread, m);
    m.update(v -> 1); // evaluates the predicate, which throws here: the release must not
    w.join();
    assertThat(w.done).isFalse();
    assertThat(w.failure.get())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("throwing-waiter"); // thrown again on the waiter's own thread
    try (Mutex.Guard<Integer> g = m.tryLock()) {
      assertThat(g).as("the waiter gave the lock back").isNotNull();
      assertThat(g.get()).isEqualTo(1);
    }
  }

  @Test
  void anErrorInAPredicateOnTheReleasersThreadWakesItsWaiter() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Waiter w =
        new Waiter(
            "error-waiter",
            m,
            v -> {
              if (!Thread.currentThread().getName().equals("error-waiter")) {
                throw new StackOverflowError("a predicate that fails on the releaser's stack");
              }
              return v >= 1;
            });
    awaitInChangeQueue(w.thread, m);
    m.update(v -> 1); // the predicate's error stays inside the release: woken, not thrown here
    w.join();
    assertThat(w.failure.get()).isNull();
    assertThat(w.done).isTrue();
  }

  @Test
  void fixed_moreWaitersThanAReleaseEvaluatesAreAllWokenWhenTheirPredicateHolds() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    int n = Mutex.EVALUATIONS_PER_RELEASE + 16;
    List<Waiter> waiters = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      waiters.add(new Waiter("budget-waiter-" + i, m, v -> v >= 2));
    }
    for (Waiter w : waiters) {
      awaitInChangeQueue(w.thread, m);
    }
    m.update(v -> 1); // false for all: the ones past the budget are woken and go back
    for (Waiter w : waiters) {
      awaitInChangeQueue(w.thread, m);
    }
    m.update(v -> 2);
    for (Waiter w : waiters) {
      w.join();
      assertThat(w.failure.get()).isNull();
      assertThat(w.done).isTrue();
    }
    // The first EVALUATIONS_PER_RELEASE in the queue were not woken by the first update.
    long notWoken = waiters.stream().filter(w -> w.ownEvaluations.get() <= 3).count();
    assertThat(notWoken).isGreaterThanOrEqualTo(Mutex.EVALUATIONS_PER_RELEASE / 2);
  }

  @Test
  void aTimedWaiterThatLeftIsSkippedAndTheOthersAreWoken() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Waiter first = new Waiter("first", m, v -> v >= 1);
    awaitInChangeQueue(first.thread, m);
    AtomicReference<Mutex.Guard<Integer>> timed = new AtomicReference<>();
    Thread leaver =
        new Thread(
            () -> {
              try {
                timed.set(m.lockWhen(v -> v >= 1, java.time.Duration.ofMillis(20)));
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "leaver");
    leaver.start();
    leaver.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(timed.get()).as("timed out").isNull();
    Waiter last = new Waiter("last", m, v -> v >= 1);
    awaitInChangeQueue(last.thread, m);
    m.update(v -> 1);
    first.join();
    last.join();
    assertThat(first.done).isTrue();
    assertThat(last.done).isTrue();
  }

  // ------------------------------------------------- PredicateEvaluation.BY_WAITER (session 28)

  /**
   * A mutex made with {@code BY_WAITER} never runs a waiter's predicate on another thread, and
   * every release that may have changed the value wakes the waiter to re-check (as every release
   * did before session 27). On a default mutex ({@code new Mutex<>(0)}) it fails by its
   * timeout: the releases evaluate the predicate themselves and never wake the waiter to
   * re-check (checked, session 28).
   */
  @Test
  void byWaiter_predicatesRunOnlyOnTheirWaitersThreadAndEveryChangeWakesThem() throws Exception {
    Mutex<Integer> m = new Mutex<>(0, Mutex.PredicateEvaluation.BY_WAITER);
    AtomicInteger elsewhere = new AtomicInteger();
    Waiter w =
        new Waiter(
            "by-waiter",
            m,
            v -> {
              if (!Thread.currentThread().getName().equals("by-waiter")) {
                elsewhere.incrementAndGet();
              }
              return v >= 5;
            });
    awaitInChangeQueue(w.thread, m);
    int before = w.ownEvaluations.get();
    for (int i = 0; i < 4; i++) {
      int seen = w.ownEvaluations.get();
      m.update(v -> v + 1); // leaves the predicate false
      // Woken, the waiter re-checks: wait (bounded by the test's timeout) for that evaluation,
      // then for it to park again, so that the next release finds it queued.
      while (w.ownEvaluations.get() == seen) {
        LockSupport.parkNanos(20_000L); // bounded poll of a counter, not a wait for a result
      }
      awaitInChangeQueue(w.thread, m);
    }
    int rechecks = w.ownEvaluations.get() - before;
    m.update(v -> 5);
    w.join();
    assertThat(w.failure.get()).isNull();
    assertThat(w.done).isTrue();
    assertThat(elsewhere.get()).as("evaluations on a releasing thread").isZero();
    assertThat(rechecks)
        .as("re-checks on the waiter's thread, one per release at least")
        .isGreaterThanOrEqualTo(4);
  }

  @Test
  void predicateEvaluationIsWhatTheMutexWasMadeWith() {
    assertThat(new Mutex<>(0).predicateEvaluation())
        .isEqualTo(Mutex.PredicateEvaluation.BY_RELEASER);
    assertThat(new Mutex<>(0, Mutex.PredicateEvaluation.BY_WAITER).predicateEvaluation())
        .isEqualTo(Mutex.PredicateEvaluation.BY_WAITER);
    assertThat(new Mutex<>(0, Mutex.PredicateEvaluation.BY_RELEASER).predicateEvaluation())
        .isEqualTo(Mutex.PredicateEvaluation.BY_RELEASER);
    org.assertj.core.api.Assertions.assertThatNullPointerException()
        .isThrownBy(() -> new Mutex<>(0, null))
        .withMessageContaining("evaluation");
  }
}
