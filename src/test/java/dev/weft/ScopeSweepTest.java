package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 18's sweep over {@link Scope} and {@link ScopedThread}, one test per instance found of
 * a kind: a thread that exists but is not started or has terminated, time arithmetic at the
 * edges, deadlines in every wait, factory behaviours, callbacks into the scope, misuse checks on
 * every path, queries that agree with the operations they promise, and memory left behind.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ScopeSweepTest {

  // ---- a thread that exists but has not started, or has terminated

  @Test
  void aThreadWhoseStartThrowsAfterStartingIsStillJoinedAtTheEnd() throws Exception {
    Thread owner = Thread.currentThread();
    AtomicBoolean returned = new AtomicBoolean();
    AtomicReference<Thread> made = new AtomicReference<>();
    AtomicBoolean finishedBeforeReturn = new AtomicBoolean();
    ThreadFactory f = r -> {
      Thread t = new Thread(r, "test-start-throws") {
        @Override
        public synchronized void start() {
          super.start();
          throw new IllegalStateException("start threw after starting");
        }
      };
      made.set(t);
      return t;
    };
    try {
      Scope.builder().threadFactory(f).run(scope -> {
        assertThatThrownBy(() -> scope.spawn(() -> {
          ScopeRegressionTest.awaitWaiting(owner, returned); // the owner waits at the end
          finishedBeforeReturn.set(!returned.get());
          return null;
        })).hasMessage("start threw after starting");
      });
    } finally {
      returned.set(true);
      made.get().join();
    }
    assertThat(finishedBeforeReturn).as("the end waited for the started thread").isTrue();
  }

  @Test
  void aFactoryThreadWhoseStartDoesNothingIsAFailureNotAHang() {
    ThreadFactory f = r -> new Thread(r, "test-never-starts") {
      @Override
      public synchronized void start() {
        // never starts: isAlive() stays false, the task never runs
      }
    };
    AtomicReference<ScopedThread<Integer>> handle = new AtomicReference<>();
    Throwable thrown = catchThrowable(() -> Scope.builder().threadFactory(f).run(scope -> {
      handle.set(scope.spawn(() -> 1));
    }));
    assertThat(thrown).isInstanceOf(TaskFailedException.class)
        .hasCauseInstanceOf(IllegalStateException.class);
    assertThat(handle.get().isDone()).isTrue();
  }

  @Test
  void isDoneAgreesWithJoinForAThreadThatDiedWithoutTheTask() throws Exception {
    try (Scope scope = Scope.builder().threadFactory(r -> new Thread(() -> { }, "test-ignores"))
        .failurePolicy(Scope.FailurePolicy.AWAIT_ALL).open()) {
      ScopedThread<Integer> t = scope.spawn(() -> 1);
      t.thread().join();
      assertThat(t.isDone()).as("a dead thread's task is done (it failed)").isTrue();
      assertThatThrownBy(() -> t.join(Duration.ZERO)).isInstanceOf(TaskFailedException.class)
          .hasCauseInstanceOf(IllegalStateException.class);
    }
  }

  // ---- time arithmetic

  @Test
  void timeoutsAtTheEdgesNeitherOverflowNorWait() throws Exception {
    // zero: the deadline passed at open; a scope that spawns nothing still reports it at the end
    assertThatThrownBy(() -> Scope.builder().timeout(Duration.ZERO).run(scope -> { }))
        .isInstanceOf(ScopeTimeoutException.class)
        .hasMessageContaining("no thread was still running");
    assertThatThrownBy(() -> Scope.builder().timeout(Duration.ofNanos(1)).run(scope -> {
      scope.spawn(() -> 1);
    })).isInstanceOf(ScopeTimeoutException.class);
    for (Duration huge : new Duration[] {Duration.ofSeconds(Long.MAX_VALUE),
        Duration.ofSeconds(Long.MAX_VALUE, 999_999_999), Duration.ofNanos(Long.MAX_VALUE)}) {
      int v = Scope.builder().timeout(huge).call(scope -> scope.spawn(() -> 7).join());
      assertThat(v).isEqualTo(7);
    }
    CountDownLatch release = new CountDownLatch(1);
    try (Scope scope = Scope.open()) {
      ScopedThread<Integer> t = scope.spawn(() -> {
        release.await();
        return 3;
      });
      for (Duration d : new Duration[] {Duration.ZERO, Duration.ofNanos(-1),
          Duration.ofSeconds(Long.MIN_VALUE), Duration.ofNanos(1)}) {
        long start = System.nanoTime();
        assertThatThrownBy(() -> t.join(d))
            .isInstanceOf(java.util.concurrent.TimeoutException.class);
        assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(5));
      }
      release.countDown();
      assertThat(t.join(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999))).isEqualTo(3);
    }
  }

  // ---- deadlines honoured by every wait

  @Test
  void aSlotWaitWithAUserFactoryHonoursTheDeadline() {
    CountDownLatch never = new CountDownLatch(1);
    AtomicInteger n = new AtomicInteger();
    ThreadFactory f = r -> new Thread(r, "test-slot-" + n.getAndIncrement());
    long start = System.nanoTime();
    Throwable thrown = catchThrowable(() -> Scope.builder().threadFactory(f).maxConcurrency(1)
        .timeout(Duration.ofMillis(100)).run(scope -> {
          scope.spawn(() -> {
            never.await();
            return null;
          });
          scope.spawn(() -> 2); // waits for the slot (reaping every 20 ms) until the deadline
        }));
    assertThat(thrown).isInstanceOf(ScopeTimeoutException.class);
    assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(10));
  }

  // ---- callbacks that call back into the scope

  @Test
  void scopeThreadsUsingTheScopeGetTheDocumentedAnswers() throws Exception {
    AtomicReference<Throwable> close = new AtomicReference<>();
    AtomicReference<String> description = new AtomicReference<>();
    Scope.run(scope -> {
      scope.spawn(() -> {
        close.set(catchThrowable(scope::close));
        description.set(scope.toString()); // never blocks
        return scope.spawn(() -> 1).join(); // spawning and joining from a scope thread works
      }).join();
    });
    assertThat(close.get()).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("only its owner");
    assertThat(description.get()).contains("open");
  }

  // ---- misuse checks on every path

  @Test
  void misuseIsCheckedBeforeTheFastPaths() throws Exception {
    AtomicReference<Throwable> foreign = new AtomicReference<>();
    Scope cancelled = Scope.open();
    try {
      ScopedThread<Object> failing = cancelled.spawn(() -> {
        throw new IllegalStateException("cancels");
      });
      assertThatThrownBy(failing::join).isInstanceOf(TaskFailedException.class);
      // null before anything, also in a cancelled scope
      assertThatThrownBy(() -> cancelled.spawn((Runnable) null))
          .isInstanceOf(NullPointerException.class);
      // a foreign thread is refused also where the spawn would start nothing
      Thread t = new Thread(() -> foreign.set(catchThrowable(() -> cancelled.spawn(() -> 1))),
          "test-foreign-cancelled");
      t.start();
      t.join();
      assertThat(foreign.get()).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("neither the owner");
    } finally {
      cancelled.close();
    }
    // an ended scope whose deadline also passed: "has ended" wins over the deadline
    Scope ended = Scope.builder().timeout(Duration.ofNanos(1)).open();
    assertThatThrownBy(ended::close).isInstanceOf(ScopeTimeoutException.class);
    assertThatThrownBy(() -> ended.spawn(() -> 1)).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("has ended");
  }

  // ---- a query and the operation it promises agree

  @Test
  void aCancelledScopeSaysSoAndItsSpawnsSayNotStarted() throws Exception {
    try (Scope scope = Scope.builder().threadFactory(r -> new Thread(r, "test-q")).open()) {
      ScopedThread<Object> failing = scope.spawn(() -> {
        throw new IllegalStateException("x");
      });
      assertThatThrownBy(failing::join).isInstanceOf(TaskFailedException.class);
      assertThat(scope.toString()).contains("cancelled: test-q failed");
      ScopedThread<Integer> late = scope.spawn(() -> 1);
      assertThat(late.isDone()).isTrue();
      assertThatThrownBy(() -> late.join(Duration.ZERO))
          .hasCauseInstanceOf(CancellationException.class);
      assertThat(late.thread().isAlive()).isFalse();
    }
  }

  // ---- memory and cost

  @Test
  void endedTimedScopesLeaveNothingInTheTimer() throws Exception {
    for (int i = 0; i < 300; i++) {
      try (Scope scope = Scope.builder().timeout(Duration.ofHours(1)).open()) {
        scope.spawn(() -> 1);
      }
    }
    assertThat(Scope.pendingDeadlines()).isZero();
  }
}
