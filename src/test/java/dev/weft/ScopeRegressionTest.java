package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Regression tests for the {@code Scope} defects of issue 18 (1, 11, 12, 13, 14), each written to
 * fail on the code before the fix: the end of a scope that returned while a thread pushed but not
 * yet started still ran, {@code isDone()} and {@code join(Duration.ZERO)} disagreeing, a thread
 * that never ran its task counted as a success, a deadline that nobody enforced while the owner
 * computed, and a spawn into a cancelled scope that still started its thread. The windows are
 * opened on purpose through {@link ProtocolWindows}, so each schedule is reached every run.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
@SuppressWarnings("try") // window hooks are installed for the duration of a try block
class ScopeRegressionTest {

  // ------------------------------------------------------------------ defect 1, deterministic

  /** How the scope under test ends: each end path must wait for every thread. */
  enum EndKind { RUN, CLOSE, BODY_THROWS }

  static Stream<Arguments> scopeShapes() {
    List<Arguments> rows = new ArrayList<>();
    for (EndKind end : EndKind.values()) {
      rows.add(Arguments.of("default", end, (Supplier<Scope.Builder>) Scope::builder));
      rows.add(Arguments.of("cap 4", end,
          (Supplier<Scope.Builder>) () -> Scope.builder().maxConcurrency(4)));
      rows.add(Arguments.of("deadline 1 min", end,
          (Supplier<Scope.Builder>) () -> Scope.builder().timeout(Duration.ofMinutes(1))));
      rows.add(Arguments.of("await-all, cap 2, deadline", end,
          (Supplier<Scope.Builder>) () -> Scope.builder().maxConcurrency(2)
              .failurePolicy(Scope.FailurePolicy.AWAIT_ALL).timeout(Duration.ofMinutes(1))));
      rows.add(Arguments.of("factory", end, (Supplier<Scope.Builder>) () -> Scope.builder()
          .threadFactory(r -> new Thread(r, "test-factory"))));
      if (Runtime.version().feature() >= 21) {
        rows.add(Arguments.of("virtual", end,
            (Supplier<Scope.Builder>) () -> Scope.builder().virtualThreads()));
      }
    }
    return rows.stream();
  }

  /**
   * A scope thread spawns a child; the window between publishing the child's node and starting
   * its thread is held open until the owner waits at the end (so it has read the node). The
   * child then waits until its parent has terminated and the owner waits again (the end joins
   * the child) or the scope has returned (the bug). Before the fix the end skipped the unstarted
   * node ({@code isAlive()} false), joined the parent and returned with the child running.
   */
  @ParameterizedTest(name = "{0}, {1}")
  @MethodSource("scopeShapes")
  void theEndWaitsForAThreadPublishedButNotYetStarted(
      String shape, EndKind end, Supplier<Scope.Builder> builder) throws Exception {
    Thread owner = Thread.currentThread();
    AtomicReference<Thread> parent = new AtomicReference<>();
    AtomicReference<ScopedThread<?>> child = new AtomicReference<>();
    AtomicBoolean returned = new AtomicBoolean();
    AtomicBoolean windowSeen = new AtomicBoolean();
    boolean doneAtReturn;
    boolean aliveAtReturn;
    Throwable thrown = null;
    CountDownLatch inWindow = new CountDownLatch(1);
    AtomicBoolean bodyDone = new AtomicBoolean();
    try (AutoCloseable hook = ProtocolWindows.install(w -> {
      if (w.equals("scope.pushed-not-started") && Thread.currentThread() == parent.get()) {
        windowSeen.set(true);
        inWindow.countDown();
        // the owner ended the body after the child's node was published, and waits at the end
        awaitUninterruptibly(() -> bodyDone.get() || returned.get());
        awaitWaiting(owner, returned);
      }
    })) {
      Scope.VoidBody<Exception> body = scope -> {
        scope.spawn(() -> {
          parent.set(Thread.currentThread());
          Thread me = Thread.currentThread();
          child.set(scope.spawn(() -> {
            me.join(); // the parent has terminated
            awaitWaiting(owner, returned); // and the owner waits for this thread, or returned
            return null;
          }));
          return null;
        });
        inWindow.await(); // the child's node is published, its thread not started
        bodyDone.set(true);
        if (end == EndKind.BODY_THROWS) {
          throw new IllegalStateException("body");
        }
      };
      try {
        Scope.Builder b = builder.get();
        if (end == EndKind.BODY_THROWS) {
          b.failurePolicy(Scope.FailurePolicy.AWAIT_ALL); // the body's failure cancels nothing
        }
        if (end == EndKind.CLOSE) {
          try (Scope scope = b.open()) {
            body.accept(scope);
          }
        } else {
          b.run(body);
        }
      } catch (IllegalStateException e) {
        thrown = e;
      }
      doneAtReturn = child.get().isDone();
      aliveAtReturn = child.get().thread().isAlive();
    } finally {
      returned.set(true);
      ScopedThread<?> c = child.get();
      if (c != null) {
        c.thread().join();
      }
    }
    assertThat(windowSeen).as("the window was reached").isTrue();
    assertThat(doneAtReturn).as("child done when the scope returned").isTrue();
    assertThat(aliveAtReturn).as("child alive when the scope returned").isFalse();
    if (end == EndKind.BODY_THROWS) {
      assertThat(thrown).hasMessage("body");
    } else {
      assertThat(thrown).isNull();
    }
  }

  /**
   * The same window, and the child fails: its failure must reach the owner, never be lost
   * because the scope returned first.
   */
  @Test
  void aFailureOfAThreadStartedLateIsNotLost() throws Exception {
    Thread owner = Thread.currentThread();
    AtomicReference<Thread> parent = new AtomicReference<>();
    AtomicReference<Thread> child = new AtomicReference<>();
    AtomicBoolean returned = new AtomicBoolean();
    RuntimeException boom = new RuntimeException("late child");
    Throwable thrown;
    CountDownLatch inWindow = new CountDownLatch(1);
    AtomicBoolean bodyDone = new AtomicBoolean();
    try (AutoCloseable hook = ProtocolWindows.install(w -> {
      if (w.equals("scope.pushed-not-started") && Thread.currentThread() == parent.get()) {
        inWindow.countDown();
        awaitUninterruptibly(() -> bodyDone.get() || returned.get());
        awaitWaiting(owner, returned);
      }
    })) {
      thrown = catchThrowable(() -> Scope.run(scope -> {
        scope.spawn(() -> {
          parent.set(Thread.currentThread());
          Thread me = Thread.currentThread();
          child.set(scope.spawn(() -> {
            me.join();
            awaitWaiting(owner, returned);
            throw boom;
          }).thread());
          return null;
        });
        inWindow.await();
        bodyDone.set(true);
      }));
    } finally {
      returned.set(true);
      Thread c = child.get();
      if (c != null) {
        c.join();
      }
    }
    assertThat(thrown).isInstanceOf(TaskFailedException.class).hasCause(boom);
  }

  // ------------------------------------------------------------------ defect 1, stress forms

  @Test
  void fourThreadsEachSpawningFourChildrenAreAllJoined() throws Exception {
    int short16 = 0;
    for (int round = 0; round < 150; round++) {
      AtomicInteger done = new AtomicInteger();
      ConcurrentLinkedQueue<Thread> all = new ConcurrentLinkedQueue<>();
      Scope.run(scope -> {
        for (int i = 0; i < 4; i++) {
          scope.spawn(() -> {
            for (int j = 0; j < 4; j++) {
              all.add(scope.spawn(() -> {
                LockSupport.parkNanos(200_000L);
                done.incrementAndGet();
              }).thread());
            }
            return null;
          });
        }
      });
      if (done.get() != 16) {
        short16++;
      }
      for (Thread t : all) {
        t.join(); // (terminated already if the scope kept its promise)
      }
    }
    assertThat(short16).as("scopes that returned with fewer than 16 done").isZero();
  }

  @Test
  void recursiveDivideAndConquerJoinsEveryLeaf() throws Exception {
    for (int round = 0; round < 3; round++) {
      AtomicInteger leaves = new AtomicInteger();
      Scope.run(scope -> split(scope, 0, 1024, leaves));
      assertThat(leaves).hasValue(1024);
    }
  }

  private static void split(Scope scope, int from, int to, AtomicInteger leaves)
      throws InterruptedException {
    if (to - from == 1) {
      leaves.incrementAndGet();
      return;
    }
    int mid = (from + to) >>> 1;
    scope.spawn(() -> {
      split(scope, from, mid, leaves);
      return null;
    });
    scope.spawn(() -> {
      split(scope, mid, to, leaves);
      return null;
    });
  }

  @Test
  void aNestedChildsFailureIsNeverLost() {
    int lost = 0;
    for (int round = 0; round < 200; round++) {
      RuntimeException boom = new RuntimeException("grandchild " + round);
      Throwable thrown = catchThrowable(() -> Scope.run(scope -> {
        scope.spawn(() -> {
          scope.spawn(() -> {
            throw boom;
          });
          return null;
        });
      }));
      if (!(thrown instanceof TaskFailedException) || thrown.getCause() != boom) {
        lost++;
      }
    }
    assertThat(lost).as("rounds whose grandchild failure was lost").isZero();
  }

  // ------------------------------------------------------------------ defect 11

  /** Threads that keep running (cleaning up) after weft's task returned. */
  private static ThreadFactory lingering(CountDownLatch cleanup) {
    AtomicInteger n = new AtomicInteger();
    return r -> new Thread(() -> {
      r.run();
      awaitUninterruptibly(cleanup);
    }, "test-linger-" + n.getAndIncrement());
  }

  @Test
  void onceIsDoneIsTrueAZeroTimeoutJoinReturnsTheResult() throws Exception {
    CountDownLatch cleanup = new CountDownLatch(1);
    RuntimeException boom = new RuntimeException("done, failed");
    try (Scope scope = Scope.builder().threadFactory(lingering(cleanup))
        .failurePolicy(Scope.FailurePolicy.AWAIT_ALL).open()) {
      ScopedThread<Integer> ok = scope.spawn(() -> 42);
      ScopedThread<Integer> bad = scope.spawn(() -> {
        throw boom;
      });
      try {
        awaitDone(ok);
        awaitDone(bad);
        assertThat(ok.thread().isAlive()).as("still unwinding").isTrue();
        assertThat(ok.join(Duration.ZERO)).isEqualTo(42);
        assertThat(ok.join(Duration.ofNanos(-1))).isEqualTo(42);
        assertThat(ok.join(Duration.ofSeconds(Long.MIN_VALUE))).isEqualTo(42);
        assertThat(ok.join()).isEqualTo(42); // does not wait for the cleanup either
        assertThatThrownBy(() -> bad.join(Duration.ZERO)).isInstanceOf(TaskFailedException.class)
            .hasCause(boom);
      } finally {
        cleanup.countDown();
      }
    }
  }

  @Test
  void onceIsDoneIsTrueAZeroTimeoutJoinReturnsTheResultOnWeftsOwnThreads() throws Exception {
    CountDownLatch leave = new CountDownLatch(1);
    AtomicReference<Thread> holdBack = new AtomicReference<>();
    try (AutoCloseable hook = ProtocolWindows.install(w -> {
      if (w.equals("scope.task-finished") && Thread.currentThread() == holdBack.get()) {
        awaitUninterruptibly(leave);
      }
    })) {
      try (Scope scope = Scope.open()) {
        CountDownLatch go = new CountDownLatch(1);
        ScopedThread<String> t = scope.spawn(() -> {
          holdBack.set(Thread.currentThread());
          go.await();
          return "v";
        });
        go.countDown();
        try {
          awaitDone(t);
          assertThat(t.join(Duration.ZERO)).isEqualTo("v");
        } finally {
          leave.countDown();
        }
      }
    }
  }

  // ------------------------------------------------------------------ defect 12

  /** A factory whose threads throw before they run the Runnable they were given. */
  private static ThreadFactory throwingBeforeRun(RuntimeException boom) {
    AtomicInteger n = new AtomicInteger();
    return r -> new Thread(() -> {
      if (boom != null) {
        throw boom;
      }
      r.run();
    }, "test-broken-" + n.getAndIncrement());
  }

  @Test
  void aThreadThatThrowsBeforeRunningTheTaskFailsTheTaskAndTheScope() throws Exception {
    RuntimeException boom = new RuntimeException("factory thread broke");
    ScopedThread<Integer>[] seen = newHandles();
    Throwable thrown = catchThrowable(() -> Scope.builder().threadFactory(throwingBeforeRun(boom))
        .run(scope -> {
          seen[0] = scope.spawn(() -> 1);
          seen[0].thread().join();
          assertThat(seen[0].isDone()).as("isDone of a task that will never run").isTrue();
        }));
    assertThat(thrown).isInstanceOf(TaskFailedException.class).hasCause(boom);
    AtomicReference<Throwable> fromJoin = new AtomicReference<>();
    Throwable end = catchThrowable(() -> Scope.builder().threadFactory(throwingBeforeRun(boom))
        .run(scope -> fromJoin.set(catchThrowable(scope.spawn(() -> 1)::join))));
    assertThat(fromJoin.get()).isInstanceOf(TaskFailedException.class).hasCause(boom);
    assertThat(end).as("reported once, by the join").isNull();
  }

  @Test
  void aThreadThatReturnsWithoutRunningTheTaskFailsTheTask() {
    ThreadFactory ignoresTask = r -> new Thread(() -> { }, "test-ignores-task");
    AtomicReference<Throwable> fromJoin = new AtomicReference<>();
    Throwable end = catchThrowable(() -> Scope.builder().threadFactory(ignoresTask)
        .run(scope -> {
          ScopedThread<Integer> t = scope.spawn(() -> 1);
          fromJoin.set(catchThrowable(t::join));
          assertThat(t.isDone()).isTrue();
        }));
    assertThat(fromJoin.get()).isInstanceOf(TaskFailedException.class)
        .hasCauseInstanceOf(IllegalStateException.class)
        .hasMessageContaining("test-ignores-task");
    assertThat(end).isNull();
    Throwable unjoined = catchThrowable(() -> Scope.builder().threadFactory(ignoresTask)
        .run(scope -> scope.spawn(() -> 1)));
    assertThat(unjoined).isInstanceOf(TaskFailedException.class)
        .hasCauseInstanceOf(IllegalStateException.class);
    assertThat(unjoined.getCause()).hasMessageContaining("without running");
  }

  @Test
  @Timeout(value = 10, unit = TimeUnit.SECONDS)
  void underACapAThreadThatNeverRanGivesItsSlotBack() {
    ThreadFactory ignoresTask = r -> new Thread(() -> { }, "test-ignores-task");
    AtomicInteger spawned = new AtomicInteger();
    Throwable end = catchThrowable(() -> Scope.builder().threadFactory(ignoresTask)
        .maxConcurrency(1).failurePolicy(Scope.FailurePolicy.AWAIT_ALL).run(scope -> {
          for (int i = 0; i < 3; i++) {
            scope.spawn(() -> 1); // must not wait forever for the slot of a dead thread
            spawned.incrementAndGet();
          }
        }));
    assertThat(spawned).hasValue(3);
    assertThat(end).isInstanceOf(TaskFailedException.class);
    assertThat(end.getSuppressed()).hasSize(2);
  }

  @Test
  void badFactoriesGiveAClearErrorAndNeverHang() throws Exception {
    Thread running = Thread.currentThread();
    try (Scope scope = Scope.builder().threadFactory(r -> running).open()) {
      assertThatThrownBy(() -> scope.spawn(() -> 1)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("already started");
    }
    Thread reused = new Thread(() -> { }, "test-reused");
    Throwable closed = catchThrowable(() -> {
      try (Scope scope = Scope.builder().threadFactory(r -> reused).open()) {
        assertThat(scope.spawn(() -> 1).thread()).isSameAs(reused);
        assertThatThrownBy(() -> scope.spawn(() -> 1)).isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("already started");
      }
    });
    // the reused thread ran its own Runnable, not weft's: the first task never ran
    assertThat(closed).isInstanceOf(TaskFailedException.class)
        .hasCauseInstanceOf(IllegalStateException.class);
    // a scope thread whose spawn meets a failing factory fails with the factory's exception
    RuntimeException factoryFailure = new RuntimeException("factory says no");
    AtomicInteger calls = new AtomicInteger();
    Throwable thrown = catchThrowable(() -> Scope.builder().threadFactory(r -> {
      if (calls.getAndIncrement() == 0) {
        return new Thread(r, "test-first");
      }
      throw factoryFailure;
    }).run(scope -> scope.spawn(() -> scope.spawn(() -> 2))));
    assertThat(thrown).isInstanceOf(TaskFailedException.class).hasCause(factoryFailure);
  }

  // ------------------------------------------------------------------ defect 13

  @Test
  void theDeadlineInterruptsThreadsWhileTheOwnerComputes() throws Exception {
    AtomicBoolean started = new AtomicBoolean();
    AtomicBoolean interrupted = new AtomicBoolean();
    AtomicBoolean doneWhileComputing = new AtomicBoolean();
    Throwable thrown = catchThrowable(() -> Scope.builder().timeout(Duration.ofMillis(100))
        .run(scope -> {
          ScopedThread<Object> t = scope.spawn(() -> {
            started.set(true);
            try {
              new CountDownLatch(1).await();
            } catch (InterruptedException e) {
              interrupted.set(true);
              throw e;
            }
            return null;
          });
          busyUntil(t::isDone, TimeUnit.SECONDS.toNanos(10)); // computes; never waits in scope
          doneWhileComputing.set(t.isDone());
        }));
    assertThat(doneWhileComputing).as("cancelled while the owner computed").isTrue();
    // A thread that had not started by the deadline never runs its task (a loaded JDK 25 run:
    // its start took over 100 ms); one that had started must have been interrupted.
    assertThat(interrupted.get()).as("interrupted at the deadline").isEqualTo(started.get());
    assertThat(thrown).isInstanceOf(ScopeTimeoutException.class);
  }

  @Test
  void theDeadlineOfAnOpenedScopeIsEnforcedWhileTheOwnerComputes() throws Exception {
    AtomicBoolean started = new AtomicBoolean();
    AtomicBoolean interrupted = new AtomicBoolean();
    AtomicBoolean doneWhileComputing = new AtomicBoolean();
    Throwable thrown = catchThrowable(() -> {
      try (Scope scope = Scope.builder().timeout(Duration.ofMillis(100)).open()) {
        ScopedThread<Void> t = scope.spawn(() -> {
          started.set(true);
          try {
            new CountDownLatch(1).await();
          } catch (InterruptedException e) {
            interrupted.set(true); // a clean exit
          }
        });
        busyUntil(t::isDone, TimeUnit.SECONDS.toNanos(10));
        doneWhileComputing.set(t.isDone());
      }
    });
    assertThat(doneWhileComputing).as("cancelled while the owner computed").isTrue();
    assertThat(interrupted.get()).as("interrupted if it had started").isEqualTo(started.get());
    assertThat(thrown).isInstanceOf(ScopeTimeoutException.class);
  }

  @Test
  void aScopeThatEndedBeforeItsDeadlineIsNotCancelledLater() throws Exception {
    AtomicReference<Scope> escaped = new AtomicReference<>();
    Throwable thrown = catchThrowable(() -> {
      try (Scope scope = Scope.builder().timeout(Duration.ofMillis(200)).open()) {
        escaped.set(scope);
        assertThat(scope.spawn(() -> 1).join()).isEqualTo(1);
      }
    });
    org.junit.jupiter.api.Assumptions.assumeFalse(thrown instanceof ScopeTimeoutException,
        "machine too slow: a spawn and join took 200 ms");
    assertThat(thrown).isNull();
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
    busyUntil(() -> System.nanoTime() - until > 0, TimeUnit.SECONDS.toNanos(1));
    assertThat(escaped.get().toString()).contains("ended").doesNotContain("cancelled");
  }

  @Test
  void theDeadlineTimerThreadIsADaemonAndGoesAwayWhenIdle() throws Exception {
    Throwable thrown = catchThrowable(() -> Scope.builder().timeout(Duration.ofMillis(50))
        .run(scope -> {
          ScopedThread<Object> t = scope.spawn(() -> {
            new CountDownLatch(1).await();
            return null;
          });
          busyUntil(t::isDone, TimeUnit.SECONDS.toNanos(10));
          assertThat(t.isDone()).isTrue();
        }));
    assertThat(thrown).isInstanceOf(ScopeTimeoutException.class);
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().startsWith("weft-scope-deadline")) {
        assertThat(t.isDaemon()).as(t.getName()).isTrue();
      }
    }
    // (ThreadLeakExtension checks that it has terminated within its grace period)
  }

  /**
   * Found by ScopePropertyTest: the scope thread that noticed the deadline (its join threw
   * ScopeTimeoutException) was the one thread the cancellation did not interrupt; a task that
   * caught the exception and waited again was never woken, and the scope never ended.
   */
  @Test
  void aScopeThreadThatNoticesTheDeadlineIsCancelledToo() {
    CountDownLatch never = new CountDownLatch(1);
    AtomicBoolean caught = new AtomicBoolean();
    AtomicBoolean interruptedAfterTimeout = new AtomicBoolean();
    Throwable thrown = catchThrowable(() -> Scope.builder().timeout(Duration.ofMillis(50))
        .failurePolicy(Scope.FailurePolicy.AWAIT_ALL).run(scope -> {
          scope.spawn(() -> {
            ScopedThread<Object> stuck = scope.spawn(() -> {
              never.await();
              return null;
            });
            try {
              stuck.join(); // this thread notices the deadline
            } catch (ScopeTimeoutException e) {
              caught.set(true);
            }
            // Must not wait forever: the scope is cancelled, so this thread is interrupted,
            // now or when the canceller's walk reaches it (the timer or the owner may have set
            // the cancel reason that the join above saw, and interrupt a moment later). Bounded,
            // so a regression fails in 10 s instead of hanging the scope.
            try {
              never.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              interruptedAfterTimeout.set(true);
            }
            return null;
          });
        }));
    assertThat(thrown).isInstanceOf(ScopeTimeoutException.class);
    // (if the timer or the owner noticed first, this thread's join was interrupted instead)
    assertThat(!caught.get() || interruptedAfterTimeout.get())
        .as("a scope thread that saw the deadline at its join is interrupted too").isTrue();
  }

  // ------------------------------------------------------------------ defect 14

  @Test
  void spawnAfterCancellationNeitherCallsTheFactoryNorRunsTheTask() throws Exception {
    AtomicInteger made = new AtomicInteger();
    AtomicBoolean ran = new AtomicBoolean();
    ThreadFactory counting = r -> new Thread(r, "test-count-" + made.getAndIncrement());
    RuntimeException boom = new RuntimeException("cancels the scope");
    Throwable end = catchThrowable(() -> Scope.builder().threadFactory(counting).run(scope -> {
      ScopedThread<Object> failing = scope.spawn(() -> {
        throw boom;
      });
      assertThatThrownBy(failing::join).hasCause(boom); // the scope is cancelled now
      ScopedThread<Object> late = scope.spawn(() -> {
        ran.set(true);
        return null;
      });
      assertThat(late.isDone()).isTrue();
      assertThat(late.thread().getState()).isEqualTo(Thread.State.NEW);
      assertThat(late.toString()).contains("not started");
      assertThatThrownBy(late::join).isInstanceOf(TaskFailedException.class)
          .hasCauseInstanceOf(CancellationException.class)
          .hasMessageContaining("not started");
      assertThatThrownBy(() -> late.join(Duration.ZERO))
          .hasCauseInstanceOf(CancellationException.class);
    }));
    assertThat(made).as("factory calls").hasValue(1);
    assertThat(ran).as("task ran").isFalse();
    assertThat(end).as("the failure was joined; nothing else to report").isNull();
  }

  @Test
  void aSpawnRacingWithTheCancellationDoesNotRunItsTask() throws Exception {
    AtomicBoolean ran = new AtomicBoolean();
    RuntimeException boom = new RuntimeException("cancels in the window");
    AtomicReference<Scope> current = new AtomicReference<>();
    AtomicReference<ScopedThread<Object>> failing = new AtomicReference<>();
    Thread owner = Thread.currentThread();
    CountDownLatch fail = new CountDownLatch(1);
    try (AutoCloseable hook = ProtocolWindows.install(w -> {
      if (w.equals("scope.pushed-not-started") && Thread.currentThread() == owner
          && failing.get() != null) {
        fail.countDown(); // the failure cancels the scope between the check and the start
        awaitUninterruptibly(() -> failing.get().isDone()
            && current.get().toString().contains("cancelled"));
      }
    })) {
      Throwable end = catchThrowable(() -> Scope.run(scope -> {
        current.set(scope);
        failing.set(scope.spawn(() -> {
          fail.await();
          throw boom;
        }));
        ScopedThread<Object> late = scope.spawn(() -> {
          ran.set(true);
          return null;
        });
        assertThatThrownBy(late::join).hasCauseInstanceOf(CancellationException.class);
      }));
      assertThat(end).isInstanceOf(TaskFailedException.class).hasCause(boom);
    }
    assertThat(ran).isFalse();
  }

  @Test
  void closingAnOuterScopeBeforeAnInnerOneIsAStructureViolation() throws Exception {
    CountDownLatch never = new CountDownLatch(1);
    Scope outer = Scope.open();
    Scope inner = Scope.open();
    ScopedThread<Object> innerThread = inner.spawn(() -> {
      never.await();
      return null;
    });
    try {
      assertThatThrownBy(outer::close).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining(nameOf(inner)).hasMessageContaining(nameOf(outer));
      assertThat(innerThread.thread().isAlive()).as("the inner scope was ended first").isFalse();
      assertThatThrownBy(() -> inner.spawn(() -> 1)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("has ended");
      inner.close(); // does nothing now
      try (Scope next = Scope.open()) { // the thread's nesting is consistent again
        assertThat(next.spawn(() -> 3).join()).isEqualTo(3);
      }
    } finally {
      never.countDown();
      inner.close();
      outer.close();
    }
  }

  @Test
  void aCallWhoseBodyLeavesAnInnerScopeOpenEndsItAndSaysSo() {
    AtomicReference<Scope> leaked = new AtomicReference<>();
    Throwable thrown = catchThrowable(() -> Scope.call(scope -> {
      Scope inner = Scope.open();
      leaked.set(inner);
      return inner.spawn(() -> 1);
    }));
    assertThat(thrown).isInstanceOf(IllegalStateException.class);
    assertThat(leaked.get().toString()).contains("ended");
  }

  // ------------------------------------------------------------------ helpers

  /** The scope's name, from its toString "Scope[name, ...". */
  static String nameOf(Scope scope) {
    String s = scope.toString();
    return s.substring("Scope[".length(), s.indexOf(','));
  }

  @SuppressWarnings("unchecked")
  private static ScopedThread<Integer>[] newHandles() {
    return (ScopedThread<Integer>[]) new ScopedThread<?>[1];
  }

  /** Polls until {@code t} waits (WAITING/TIMED_WAITING) or {@code stop} is set. */
  static void awaitWaiting(Thread t, AtomicBoolean stop) {
    while (!stop.get()) {
      Thread.State s = t.getState();
      if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING) {
        return;
      }
      LockSupport.parkNanos(20_000L);
    }
  }

  static void awaitDone(ScopedThread<?> t) {
    while (!t.isDone()) {
      LockSupport.parkNanos(20_000L);
    }
  }

  /** Spins (a busy owner that never waits in the scope) until done or the bound passes. */
  static void busyUntil(Supplier<Boolean> done, long boundNanos) {
    long start = System.nanoTime();
    while (!done.get() && System.nanoTime() - start < boundNanos) {
      Thread.onSpinWait();
    }
  }

  static void awaitUninterruptibly(CountDownLatch latch) {
    dev.weft.testing.Waits.awaitUninterruptibly(latch); // the shared helper (session 27)
  }

  static void awaitUninterruptibly(Supplier<Boolean> condition) {
    while (!condition.get()) {
      LockSupport.parkNanos(20_000L);
    }
  }
}
