package dev.weft;

import static dev.weft.LazyTest.await;
import static dev.weft.LazyTest.awaitBarrier;
import static dev.weft.LazyTest.racingCallsRunTheInitialiserOnce;
import static dev.weft.LazyTest.start;
import static dev.weft.testing.Waits.awaitParkedOn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class OnceCellTest {

  // ------------------------------------------------------------------ the chapter's example

  static final OnceCell<Map<String, String>> CONFIG = new OnceCell<>();
  static final AtomicInteger CONFIG_LOADS = new AtomicInteger();

  static Map<String, String> getConfig() {
    return CONFIG.getOrInit(() -> {
      CONFIG_LOADS.incrementAndGet(); // expensive: read and parse a config file, exactly once
      Map<String, String> m = new HashMap<>();
      m.put("log_level", "info");
      m.put("max_connections", "100");
      return m;
    });
  }

  @Test
  void chapterConfigExample() {
    assertThat(getConfig()).containsEntry("log_level", "info");
    assertThat(getConfig()).isSameAs(getConfig());
    assertThat(CONFIG_LOADS).hasValue(1);
    assertThat(CONFIG.isSet()).isTrue();
  }

  // ------------------------------------------------------------------ basics

  @Test
  void getOrInitRunsOnlyTheFirstInitialiser() {
    OnceCell<String> cell = new OnceCell<>();
    AtomicInteger runs = new AtomicInteger();
    assertThat(cell.getOrInit(() -> "a" + runs.incrementAndGet())).isEqualTo("a1");
    assertThat(cell.getOrInit(() -> "b" + runs.incrementAndGet())).isEqualTo("a1");
    assertThat(runs).hasValue(1);
  }

  @Test
  void trySetAndSet() {
    OnceCell<String> cell = new OnceCell<>();
    assertThat(cell.isSet()).isFalse();
    assertThat(cell.trySet("first")).isTrue();
    assertThat(cell.trySet("second")).isFalse();
    assertThat(cell.orElseThrow()).isEqualTo("first");
    assertThatIllegalStateException()
        .isThrownBy(() -> cell.set("third"))
        .withMessageContaining("already set")
        .withMessageContaining("trySet");
    assertThat(cell.getOrInit(() -> "init")).isEqualTo("first");
    assertThat(cell.isSet()).isTrue();

    OnceCell<String> other = new OnceCell<>();
    other.set("x");
    assertThat(other.orElse("fallback")).isEqualTo("x");
  }

  @Test
  void orElseAndOrElseThrowOnAnUnsetCell() {
    OnceCell<String> cell = new OnceCell<>();
    assertThat(cell.orElse("fallback")).isEqualTo("fallback");
    assertThat(cell.orElse(null)).isNull();
    assertThatThrownBy(cell::orElseThrow)
        .isInstanceOf(NoSuchElementException.class)
        .hasMessageContaining("not set");
  }

  @Test
  void nullIsALegalValue() {
    OnceCell<@Nullable String> cell = new OnceCell<>();
    assertThat(cell.trySet(null)).isTrue();
    assertThat(cell.isSet()).isTrue();
    assertThat(cell.trySet("x")).isFalse();
    assertThat(cell.orElse("fallback")).isNull();
    assertThat(cell.orElseThrow()).isNull();
    assertThat(cell.getOrInit(() -> "never")).isNull();
    assertThat(cell.awaitUninterruptibly()).isNull();
    assertThat(cell).hasToString("OnceCell[null]");

    OnceCell<@Nullable String> viaInit = new OnceCell<>();
    AtomicInteger runs = new AtomicInteger();
    assertThat(viaInit.getOrInit(() -> {
      runs.incrementAndGet();
      return null;
    })).isNull();
    assertThat(viaInit.getOrInit(() -> "again")).isNull();
    assertThat(runs).hasValue(1);
  }

  @Test
  void toStringShowsStateWithoutSideEffects() {
    OnceCell<String> cell = new OnceCell<>();
    assertThat(cell).hasToString("OnceCell[unset]");
    assertThat(cell.isSet()).isFalse();
    cell.set("v");
    assertThat(cell).hasToString("OnceCell[v]");
  }

  @Test
  void badInput() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    assertThatNullPointerException().isThrownBy(() -> new OnceCell<String>(null))
        .withMessage("policy");
    assertThatNullPointerException().isThrownBy(() -> cell.getOrInit(null))
        .withMessage("initializer");
    assertThatNullPointerException().isThrownBy(() -> cell.await(null)).withMessage("timeout");
    cell.set("v");
    // Checked on the fast path too, not only while unset.
    assertThatNullPointerException().isThrownBy(() -> cell.getOrInit(null))
        .withMessage("initializer");
    assertThatNullPointerException().isThrownBy(() -> cell.await(null)).withMessage("timeout");
  }

  // ------------------------------------------------------------------ await

  @Test
  void awaitReturnsAtOnceWhenSet() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    cell.set("v");
    assertThat(cell.await()).isEqualTo("v");
    assertThat(cell.await(Duration.ZERO)).isTrue();
    assertThat(cell.await(Duration.ofSeconds(-1))).isTrue();
    assertThat(cell.awaitUninterruptibly()).isEqualTo("v");
  }

  @Test
  void awaitBlocksUntilAnotherThreadSets() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    AtomicReference<@Nullable String> got = new AtomicReference<>();
    Thread waiter = start("test-cell-await", () -> {
      try {
        got.set(cell.await());
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
    awaitParkedOn(waiter, cell);
    assertThat(got.get()).isNull();
    cell.set("hello");
    waiter.join();
    assertThat(got.get()).isEqualTo("hello");
  }

  @Test
  void timedAwaitTimesOutAndChecksOnceForZeroOrNegative() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    assertThat(cell.await(Duration.ZERO)).isFalse();
    assertThat(cell.await(Duration.ofMillis(-5))).isFalse();
    long t0 = System.nanoTime();
    assertThat(cell.await(Duration.ofMillis(30))).isFalse();
    assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(30));
  }

  @Test
  void timedAwaitWithAHugeTimeoutIsReleasedBySet() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    AtomicReference<@Nullable Boolean> got = new AtomicReference<>();
    Thread waiter = start("test-cell-await", () -> {
      try {
        got.set(cell.await(Duration.ofSeconds(Long.MAX_VALUE)));
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
    awaitParkedOn(waiter, cell);
    cell.set("v");
    waiter.join();
    assertThat(got.get()).isTrue();
    assertThat(cell.orElseThrow()).isEqualTo("v");
  }

  @Test
  void awaitIsInterruptible() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    AtomicReference<@Nullable Throwable> untimed = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> timed = new AtomicReference<>();
    Thread a = start("test-cell-await-a", () -> {
      try {
        cell.await();
      } catch (InterruptedException e) {
        untimed.set(e);
      }
    });
    Thread b = start("test-cell-await-b", () -> {
      try {
        cell.await(Duration.ofMinutes(5));
      } catch (InterruptedException e) {
        timed.set(e);
      }
    });
    awaitParkedOn(a, cell);
    awaitParkedOn(b, cell);
    a.interrupt();
    b.interrupt();
    a.join();
    b.join();
    assertThat(untimed.get()).isInstanceOf(InterruptedException.class);
    assertThat(timed.get()).isInstanceOf(InterruptedException.class);
    // The cell is unaffected and still works.
    assertThat(cell.trySet("later")).isTrue();
    assertThat(cell.await()).isEqualTo("later");
  }

  @Test
  void awaitOnAnInterruptedThreadThrowsAtOnceIfUnset() {
    OnceCell<String> cell = new OnceCell<>();
    Thread.currentThread().interrupt();
    assertThatThrownBy(cell::await).isInstanceOf(InterruptedException.class);
    assertThat(Thread.interrupted()).isFalse(); // the exception cleared it, as in j.u.c
  }

  @Test
  void awaitUninterruptiblyKeepsWaitingAndRestoresTheInterrupt() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    AtomicReference<@Nullable String> got = new AtomicReference<>();
    AtomicReference<@Nullable Boolean> flag = new AtomicReference<>();
    Thread waiter = start("test-cell-await-u", () -> {
      got.set(cell.awaitUninterruptibly());
      flag.set(Thread.currentThread().isInterrupted());
    });
    awaitParkedOn(waiter, cell);
    waiter.interrupt();
    awaitParkedOn(waiter, cell);
    assertThat(got.get()).isNull();
    cell.set("v");
    waiter.join();
    assertThat(got.get()).isEqualTo("v");
    assertThat(flag.get()).isTrue();
  }

  @Test
  void repeatedTimedAwaitsDoNotAccumulateWaiterNodes() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    for (int i = 0; i < 2_000; i++) {
      assertThat(cell.await(Duration.ofNanos(20_000))).isFalse();
    }
    assertThat(waiterCount(cell)).isZero();
    cell.set("v");
    assertThat(cell.await(Duration.ofNanos(1))).isTrue();
  }

  // ------------------------------------------------------------------ concurrency

  @Test
  void racingGetOrInitRunsOneInitialiser() throws Exception {
    racingCallsRunTheInitialiserOnce(
        "test-cell-race-",
        runs -> {
          OnceCell<Object> cell = new OnceCell<>();
          return () -> cell.getOrInit(() -> {
            runs.incrementAndGet();
            return new Object();
          });
        });
  }

  @Test
  void racingTrySetHasExactlyOneWinner() throws Exception {
    int n = 8;
    for (int round = 0; round < 50; round++) {
      OnceCell<Integer> cell = new OnceCell<>();
      AtomicInteger wins = new AtomicInteger();
      AtomicInteger winner = new AtomicInteger(-1);
      CyclicBarrier barrier = new CyclicBarrier(n);
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int idx = i;
        threads.add(start("test-cell-tryset-" + i, () -> {
          awaitBarrier(barrier);
          if (cell.trySet(idx)) {
            wins.incrementAndGet();
            winner.set(idx);
          }
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      assertThat(wins).hasValue(1);
      assertThat(cell.orElseThrow()).isEqualTo(winner.get());
    }
  }

  @Test
  void trySetDuringARunningInitialiserWinsAndReleasesWaiters() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicReference<@Nullable String> initResult = new AtomicReference<>();
    Thread initialiser = start("test-cell-init", () -> initResult.set(cell.getOrInit(() -> {
      entered.countDown();
      await(release);
      return "from-initialiser";
    })));
    entered.await();
    assertThat(cell).hasToString("OnceCell[initialising]");
    AtomicReference<@Nullable String> waited = new AtomicReference<>();
    Thread waiter = start("test-cell-waiter", () -> waited.set(cell.getOrInit(() -> "other")));
    awaitParkedOn(waiter, cell);
    assertThat(cell.trySet("from-trySet")).isTrue(); // never waits for the initialiser
    waiter.join();
    assertThat(waited.get()).isEqualTo("from-trySet");
    release.countDown();
    initialiser.join();
    assertThat(initResult.get()).isEqualTo("from-trySet");
    assertThat(cell.orElseThrow()).isEqualTo("from-trySet");
  }

  @Test
  void retryAWaitingGetOrInitTakesOverWhileAwaitKeepsWaiting() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread failing = start("test-cell-failing", () -> {
      try {
        cell.getOrInit(() -> {
          entered.countDown();
          await(release);
          throw new IllegalStateException("first initialiser fails");
        });
      } catch (IllegalStateException expected) {
        // propagated unchanged to its own caller
      }
    });
    entered.await();
    AtomicReference<@Nullable String> taken = new AtomicReference<>();
    AtomicReference<@Nullable String> awaited = new AtomicReference<>();
    Thread taker = start("test-cell-taker", () -> taken.set(cell.getOrInit(() -> "second")));
    Thread awaiter = start("test-cell-awaiter", () -> awaited.set(cell.awaitUninterruptibly()));
    awaitParkedOn(taker, cell);
    awaitParkedOn(awaiter, cell);
    release.countDown();
    failing.join();
    taker.join();
    awaiter.join();
    assertThat(taken.get()).isEqualTo("second");
    assertThat(awaited.get()).isEqualTo("second");
  }

  // ------------------------------------------------------------------ remember policy

  @Test
  void rememberPolicyMakesTheCellFailedForGood() throws Exception {
    OnceCell<String> cell = new OnceCell<>(Lazy.FailurePolicy.REMEMBER);
    IllegalArgumentException boom = new IllegalArgumentException("cannot load");
    assertThatThrownBy(() -> cell.getOrInit(() -> {
      throw boom;
    })).isSameAs(boom);
    AtomicInteger runs = new AtomicInteger();
    assertThatThrownBy(() -> cell.getOrInit(() -> "x" + runs.incrementAndGet()))
        .isInstanceOf(TaskFailedException.class)
        .hasCause(boom);
    assertThat(runs).hasValue(0);
    assertThatThrownBy(cell::await).isInstanceOf(TaskFailedException.class).hasCause(boom);
    assertThatThrownBy(() -> cell.await(Duration.ofSeconds(1)))
        .isInstanceOf(TaskFailedException.class)
        .hasCause(boom);
    assertThatThrownBy(cell::awaitUninterruptibly)
        .isInstanceOf(TaskFailedException.class)
        .hasCause(boom);
    assertThat(cell.trySet("late")).isFalse();
    assertThatIllegalStateException().isThrownBy(() -> cell.set("late")).withCause(boom);
    assertThat(cell.isSet()).isFalse();
    assertThat(cell.orElse("fallback")).isEqualTo("fallback");
    assertThatThrownBy(cell::orElseThrow)
        .isInstanceOf(NoSuchElementException.class)
        .hasCause(boom);
    assertThat(cell.toString()).startsWith("OnceCell[failed: ");
  }

  @Test
  void rememberPolicyReleasesAwaitersWithTheFailure() throws Exception {
    OnceCell<String> cell = new OnceCell<>(Lazy.FailurePolicy.REMEMBER);
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    IllegalStateException boom = new IllegalStateException("fails");
    Thread failing = start("test-cell-failing", () -> {
      try {
        cell.getOrInit(() -> {
          entered.countDown();
          await(release);
          throw boom;
        });
      } catch (IllegalStateException expected) {
        // the original
      }
    });
    entered.await();
    AtomicReference<@Nullable Throwable> got = new AtomicReference<>();
    Thread awaiter = start("test-cell-awaiter", () -> {
      try {
        cell.await();
      } catch (InterruptedException | RuntimeException e) {
        got.set(e);
      }
    });
    awaitParkedOn(awaiter, cell);
    release.countDown();
    failing.join();
    awaiter.join();
    assertThat(got.get()).isInstanceOf(TaskFailedException.class).hasCause(boom);
  }

  // ------------------------------------------------------------------ recursion

  @Test
  void recursiveGetOrInitAndAwaitThrow() {
    OnceCell<String> cell = new OnceCell<>();
    assertThatIllegalStateException()
        .isThrownBy(() -> cell.getOrInit(() -> cell.getOrInit(() -> "inner")))
        .withMessageContaining("recursive initialisation");
    assertThatIllegalStateException()
        .isThrownBy(() -> cell.getOrInit(() -> cell.awaitUninterruptibly()))
        .withMessageContaining("recursive initialisation");
    assertThat(cell.isSet()).isFalse();
    // trySet from inside the initialiser is allowed and wins.
    assertThat(cell.getOrInit(() -> {
      cell.trySet("set-inside");
      return "returned";
    })).isEqualTo("set-inside");
  }

  // ------------------------------------------------------------------ helpers

  static int waiterCount(OnceCellCore<?> cell) throws ReflectiveOperationException {
    Field head = OnceCellCore.class.getDeclaredField("waiters");
    head.setAccessible(true);
    Object node = head.get(cell);
    int n = 0;
    while (node != null) {
      n++;
      Field next = node.getClass().getDeclaredField("next");
      next.setAccessible(true);
      node = next.get(node);
    }
    return n;
  }

  /**
   * Rules of {@link OnceCell} (and the engine it shares with {@link Lazy}) that PIT showed the
   * other tests did not pin down: a set that overtakes a failing initialiser, waiters that a
   * failed initialiser released and that must park again, many waiters queueing at once, and the
   * method named in the recursion message. See docs/mutation-testing.md.
   */
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  @Nested
  class OvertakingSetsAndWaiterWakeups {

    private static final long JOIN_MILLIS = 5_000;

    /** Joins {@code t}; if it is still alive (a lost wakeup), interrupts it and fails. */
    private static void joinOrFail(Thread t) throws InterruptedException {
      t.join(JOIN_MILLIS);
      if (t.isAlive()) {
        t.interrupt(); // every waiter here uses an interruptible wait: the thread ends
        t.join();
        throw new AssertionError(t.getName() + " was never woken: a wakeup was lost");
      }
    }

    @Test
    void aSetThatOvertakesAFailingInitialiserWinsAndTheFailureIsDropped() {
      for (Lazy.FailurePolicy policy : Lazy.FailurePolicy.values()) {
        OnceCell<String> cell = new OnceCell<>(policy);
        String got = cell.getOrInit(() -> {
          assertThat(cell.trySet("set-first")).isTrue();
          throw new IllegalArgumentException("initialiser fails after the set");
        });
        assertThat(got).as("policy %s", policy).isEqualTo("set-first");
        assertThat(cell.isSet()).isTrue();
        assertThat(cell.orElseThrow()).isEqualTo("set-first");
        assertThat(cell).hasToString("OnceCell[set-first]");
      }
    }

    @Test
    void anErrorStillPropagatesWhenASetOvertookTheInitialiser() {
      OnceCell<String> cell = new OnceCell<>(Lazy.FailurePolicy.REMEMBER);
      AssertionError boom = new AssertionError("an Error is never dropped");
      assertThatThrownBy(() -> cell.getOrInit(() -> {
        cell.trySet("set-first");
        throw boom;
      })).isSameAs(boom);
      assertThat(cell.orElseThrow()).isEqualTo("set-first"); // the set still stands
    }

    @Test
    void aNullSetThatOvertakesAFailingInitialiserIsReturnedToo() {
      OnceCell<@Nullable String> cell = new OnceCell<>();
      assertThat(cell.getOrInit(() -> {
        cell.set(null);
        throw new IllegalStateException("dropped");
      })).isNull();
      assertThat(cell.isSet()).isTrue();
      assertThat(cell.orElse("other")).isNull();
    }

    @Test
    void recursionMessageNamesTheMethodThatWasCalled() {
      OnceCell<String> cell = new OnceCell<>();
      assertThatIllegalStateException()
          .isThrownBy(() -> cell.getOrInit(() -> cell.getOrInit(() -> "inner")))
          .withMessageContaining("called getOrInit() on the same OnceCell");
      assertThatIllegalStateException()
          .isThrownBy(() -> cell.getOrInit(() -> {
            try {
              return cell.await();
            } catch (InterruptedException e) {
              throw new AssertionError(e);
            }
          }))
          .withMessageContaining("called await() on the same OnceCell");
    }

    /**
     * An await()er released by a failed initialiser (RETRY: the cell is unset again) must queue
     * again before it parks, or the next successful initialiser cannot wake it.
     */
    @Test
    void anAwaiterReleasedByAFailedInitialiserIsWokenByTheNextSuccess() throws Exception {
      OnceCell<String> cell = new OnceCell<>();
      CountDownLatch entered = new CountDownLatch(1);
      CountDownLatch fail = new CountDownLatch(1);
      Thread failing = start("test-cell-failing", () -> {
        try {
          cell.getOrInit(() -> {
            entered.countDown();
            await(fail);
            throw new IllegalStateException("first initialiser fails");
          });
        } catch (IllegalStateException expected) {
          // propagated unchanged to its own caller
        }
      });
      entered.await();
      AtomicReference<@Nullable String> awaited = new AtomicReference<>();
      Thread awaiter = start("test-cell-awaiter", () -> {
        try {
          awaited.set(cell.await());
        } catch (InterruptedException e) {
          awaited.set("interrupted");
        }
      });
      awaitParkedOn(awaiter, cell);
      fail.countDown();
      failing.join();
      // Provokes a schedule only: lets the released awaiter run and park again before the next
      // initialiser succeeds; the test's outcome does not depend on it.
      Thread.sleep(50);
      awaitParkedOn(awaiter, cell);
      assertThat(cell.getOrInit(() -> "second")).isEqualTo("second");
      joinOrFail(awaiter);
      assertThat(awaited.get()).isEqualTo("second");
    }

    /**
     * Threads queueing at the same moment (released together by a spinning start gate, so their
     * pushes onto the waiter stack collide): every one of them is woken by the set.
     */
    @Test
    void manyWaitersQueueingAtOnceAreAllWoken() throws Exception {
      int waiters = 3;
      for (int round = 0; round < 100; round++) {
        OnceCell<Integer> cell = new OnceCell<>();
        AtomicInteger ready = new AtomicInteger();
        AtomicBoolean go = new AtomicBoolean();
        AtomicReferenceArray<@Nullable Object> seen = new AtomicReferenceArray<>(waiters);
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < waiters; i++) {
          int me = i;
          threads.add(start("test-cell-waiter-" + i, () -> {
            ready.incrementAndGet();
            while (!go.get()) {
              Thread.onSpinWait();
            }
            try {
              seen.set(me, cell.await());
            } catch (InterruptedException e) {
              seen.set(me, e);
            }
          }));
        }
        while (ready.get() < waiters) {
          Thread.onSpinWait();
        }
        go.set(true);
        for (Thread t : threads) {
          awaitParkedOn(t, cell);
        }
        cell.set(round);
        for (Thread t : threads) {
          joinOrFail(t);
        }
        for (int i = 0; i < waiters; i++) {
          assertThat(seen.get(i)).as("round %d waiter %d", round, i).isEqualTo(round);
        }
      }
    }
  }
}
