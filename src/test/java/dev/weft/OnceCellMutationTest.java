package dev.weft;

import static dev.weft.LazyTest.await;
import static dev.weft.LazyTest.awaitParkedOn;
import static dev.weft.LazyTest.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Rules of {@link OnceCell} (and the engine it shares with {@link Lazy}) that PIT showed the
 * other tests did not pin down: a set that overtakes a failing initialiser, waiters that a
 * failed initialiser released and that must park again, many waiters queueing at once, and the
 * method named in the recursion message. See docs/mutation-testing.md.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class OnceCellMutationTest {

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
