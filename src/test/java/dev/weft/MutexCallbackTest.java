package dev.weft;

import static dev.weft.MutexTest.value;
import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.MutexTest.Worker;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 18's "callbacks that call back" sweep for {@link Mutex} and {@link Condvar}: every
 * method that runs user code (the functions of {@code with}/{@code update}/{@code awaitThen},
 * the predicates of {@code lockWhen} and of {@code Condvar} waits) called with code that uses the
 * same mutex in every way the API allows. Each either works or throws the documented {@link
 * IllegalStateException} (not reentrant); none hangs, and the lock is always released.
 */
@SuppressWarnings("try") // guards held only for their scope
@Timeout(30)
class MutexCallbackTest {

  @Test
  void reentryFromEveryCallbackIsRefusedAndReleasesTheLock() {
    Mutex<Integer> m = new Mutex<>(1);
    Runnable[] reentries = {m::lock, m::tryLock, () -> m.with(v -> v), () -> m.update(v -> v + 1),
        () -> {
          try {
            m.lockWhen(v -> true);
          } catch (InterruptedException e) {
            throw new AssertionError(e);
          }
        },
        () -> {
          try {
            m.lockWhen(v -> true, Duration.ZERO);
          } catch (InterruptedException e) {
            throw new AssertionError(e);
          }
        },
        () -> m.lockWhenUninterruptibly(v -> true),
        () -> {
          try {
            m.lockInterruptibly();
          } catch (InterruptedException e) {
            throw new AssertionError(e);
          }
        }};
    for (Runnable again : reentries) {
      assertThatThrownBy(() -> m.with(v -> { again.run(); return v; }))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("not reentrant");
      assertThatThrownBy(() -> m.update(v -> { again.run(); return v + 100; }))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> m.lockWhen(v -> { again.run(); return true; }))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> m.lockWhen(v -> { again.run(); return true; }, Duration.ZERO))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> m.awaitThen(v -> true, v -> { again.run(); return v; }))
          .isInstanceOf(IllegalStateException.class);
      assertThat(m.isLocked()).as("released after every refusal").isFalse();
    }
    assertThat(value(m)).as("no refused update changed the value").isEqualTo(1);
  }

  @Test
  void queriesAndNotifiesFromCallbacksWork() throws Exception {
    Mutex<Integer> m = new Mutex<>(1);
    Condvar cv = new Condvar();
    boolean held = m.with(v -> m.isLocked() && m.isHeldByCurrentThread());
    assertThat(held).isTrue();
    String described = m.with(v -> m.toString());
    assertThat(described).startsWith("Mutex[Locked by thread");
    try (var g = m.lockWhen(v -> {
      cv.notifyOne(); // holding the lock, nobody waiting: harmless
      return m.isHeldByCurrentThread();
    })) {
      assertThat(g.get()).isEqualTo(1);
      cv.awaitWhile(g, v -> {
        cv.notifyAllWaiters();
        return !g.get().equals(v); // the guard is usable inside the predicate
      });
      assertThatThrownBy(() -> cv.awaitWhile(g, v -> m.tryLock() == null))
          .isInstanceOf(IllegalStateException.class);
      assertThat(g.isOpen()).isTrue();
      assertThat(m.isHeldByCurrentThread()).isTrue();
    }
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void aPredicateThatThrowsAfterAWakeupReleasesTheLockAndLeavesNoNode() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicInteger calls = new AtomicInteger();
    Worker waiter = new Worker("waiter", () -> assertThatThrownBy(() -> m.lockWhen(v -> {
      calls.incrementAndGet();
      if (v == 1) {
        throw new IllegalStateException("predicate failed on " + v);
      }
      return false;
    }, Duration.ofSeconds(20))).hasMessage("predicate failed on 1"));
    awaitBlocked(waiter.thread);
    m.update(v -> 1);
    waiter.join();
    assertThat(m.isLocked()).isFalse();
    int nodes = m.with(v -> m.changeQueueLengthLocked());
    assertThat(nodes).isZero();
    assertThat(calls.get()).isGreaterThanOrEqualTo(2);
  }
}
