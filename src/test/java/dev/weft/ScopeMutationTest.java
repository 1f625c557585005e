package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Rules of {@link Scope} and {@link ScopedThread} that PIT showed the other tests did not pin
 * down: messages that list threads in spawn order, timed joins against the scope's deadline, a
 * body failure of {@link Scope#call}, a body failing after the deadline, the owner interrupted
 * while the scope joins after a body failure, and a thread spawned into a cancelled scope. See
 * docs/mutation-testing.md.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ScopeMutationTest {

  /** Makes threads whose start() fails the first time, as when no native thread can be made. */
  private static final class FailFirstStart implements ThreadFactory {
    final AtomicInteger made = new AtomicInteger();

    @Override
    public Thread newThread(Runnable r) {
      int i = made.getAndIncrement();
      if (i == 0) {
        return new Thread(r, "test-mut-unstartable") {
          @Override
          public synchronized void start() {
            throw new IllegalStateException("cannot start");
          }
        };
      }
      return new Thread(r, "test-mut-" + i);
    }
  }

  /** Polls (bounded by the test's timeout) until {@code t} is in {@code state}. */
  private static void awaitState(Thread t, Thread.State state) {
    while (t.getState() != state) {
      LockSupport.parkNanos(50_000L);
    }
  }

  @Test
  void aThreadThatNeverStartedIsNotListedAsRunningAtTheDeadline() {
    CountDownLatch never = new CountDownLatch(1);
    Throwable thrown = catchThrowable(() -> Scope.builder()
        .threadFactory(new FailFirstStart())
        .timeout(Duration.ofMillis(500)) // long enough for the spawns on a loaded machine
        .run(scope -> {
          assertThatThrownBy(() -> scope.spawn(() -> 1)).hasMessage("cannot start");
          scope.spawn(() -> {
            never.await();
            return 2;
          });
        }));
    assertThat(thrown).isInstanceOf(ScopeTimeoutException.class)
        .hasMessageEndingWith("still running, interrupted and joined: [test-mut-1]");
  }

  @Test
  void deadlineMessageListsTheRunningThreadsInSpawnOrder() {
    CountDownLatch never = new CountDownLatch(1);
    Throwable thrown = catchThrowable(() -> Scope.builder()
        .namePrefix("test-order")
        .timeout(Duration.ofMillis(500)) // long enough for the spawns on a loaded machine
        .run(scope -> {
          for (int i = 0; i < 3; i++) {
            scope.spawn(() -> {
              never.await();
              return null;
            });
          }
        }));
    assertThat(thrown).isInstanceOf(ScopeTimeoutException.class)
        .hasMessageEndingWith("[test-order-0, test-order-1, test-order-2]");
  }

  @Test
  void unjoinedFailuresAreAttachedInSpawnOrder() {
    Throwable thrown = catchThrowable(() -> Scope.builder()
        .namePrefix("test-fail")
        .failurePolicy(Scope.FailurePolicy.AWAIT_ALL)
        .run(scope -> {
          for (int i = 0; i < 3; i++) {
            int k = i;
            scope.spawn(() -> {
              throw new IllegalStateException("fail " + k);
            });
          }
        }));
    assertThat(thrown).isInstanceOf(TaskFailedException.class);
    String primary = thrown.getCause().getMessage();
    List<String> others = new ArrayList<>();
    List<String> otherThreads = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      if (!primary.equals("fail " + i)) {
        others.add("fail " + i);
        otherThreads.add("test-fail-" + i);
      }
    }
    List<String> suppressed = new ArrayList<>();
    for (Throwable s : thrown.getSuppressed()) {
      suppressed.add(s.getMessage());
    }
    assertThat(suppressed).containsExactlyElementsOf(others);
    assertThat(thrown.getMessage())
        .endsWith("(2 more failed, attached as suppressed: " + otherThreads + ")");
  }

  @Test
  void aSingleFailureIsReportedWithoutAMoreFailedPart() {
    Throwable thrown = catchThrowable(() -> Scope.builder().namePrefix("test-one").run(scope -> {
      scope.spawn(() -> {
        throw new IllegalStateException("only");
      });
    }));
    assertThat(thrown).isInstanceOf(TaskFailedException.class)
        .hasMessage("test-one-0 failed: java.lang.IllegalStateException: only");
    assertThat(thrown.getSuppressed()).isEmpty();
  }

  @Test
  void aTimedJoinShorterThanTheScopeDeadlineTimesOutOnItsOwn() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (Scope scope = Scope.builder().timeout(Duration.ofMinutes(2)).open()) {
      ScopedThread<Integer> t = scope.spawn(() -> {
        release.await();
        return 7;
      });
      long start = System.nanoTime();
      assertThatThrownBy(() -> t.join(Duration.ofMillis(50)))
          .isInstanceOf(TimeoutException.class);
      assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(20));
      release.countDown();
      assertThat(t.join()).isEqualTo(7);
    }
  }

  @Test
  void aTimedJoinLongerThanTheScopeDeadlineStillWaitsForTheThread() throws Exception {
    Thread owner = Thread.currentThread();
    try (Scope scope = Scope.builder().timeout(Duration.ofMinutes(2)).open()) {
      ScopedThread<Integer> t = scope.spawn(() -> {
        awaitState(owner, Thread.State.TIMED_WAITING); // returns once the owner is joining
        return 42;
      });
      assertThat(t.join(Duration.ofMinutes(10))).isEqualTo(42);
      assertThat(t.isDone()).isTrue();
    }
  }

  @Test
  void foreignSpawnMessageSaysWhetherTheScopeHasEnded() throws Exception {
    AtomicReference<Throwable> whileOpen = new AtomicReference<>();
    AtomicReference<Throwable> afterEnd = new AtomicReference<>();
    CountDownLatch release = new CountDownLatch(1);
    Scope scope = Scope.open();
    try {
      scope.spawn(() -> { // a live thread of the scope: the foreign thread is still not one
        release.await();
        return 1;
      });
      Thread foreign = new Thread(
          () -> whileOpen.set(catchThrowable(() -> scope.spawn(() -> 1))), "test-foreign-open");
      foreign.start();
      foreign.join();
    } finally {
      release.countDown();
      scope.close();
    }
    Thread late = new Thread(
        () -> afterEnd.set(catchThrowable(() -> scope.spawn(() -> 1))), "test-foreign-late");
    late.start();
    late.join();
    assertThat(whileOpen.get()).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("test-foreign-open")
        .hasMessageNotContaining("which has ended");
    assertThat(afterEnd.get()).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("test-foreign-late")
        .hasMessageContaining(", which has ended");
  }

  @Test
  void callCancelsAndJoinsItsThreadsWhenTheBodyThrows() {
    CountDownLatch never = new CountDownLatch(1);
    AtomicReference<Thread> spawned = new AtomicReference<>();
    IllegalStateException bodyFailure = new IllegalStateException("body");
    try {
      CountDownLatch started = new CountDownLatch(1);
      Throwable thrown = catchThrowable(() -> Scope.call(scope -> {
        spawned.set(scope.spawn(() -> {
          started.countDown();
          never.await();
          return 1;
        }).thread());
        started.await(); // a task cancelled before it starts never runs (nothing to suppress)
        throw bodyFailure;
      }));
      assertThat(thrown).isSameAs(bodyFailure);
      assertThat(spawned.get().isAlive()).as("thread joined before call() threw").isFalse();
      assertThat(thrown.getSuppressed()).singleElement().isInstanceOf(InterruptedException.class);
    } finally {
      never.countDown(); // only matters if the scope had not ended its thread
    }
  }

  @Test
  void aBodyFailureAfterTheDeadlineCarriesTheTimeoutAsSuppressed() {
    CountDownLatch never = new CountDownLatch(1);
    IllegalStateException bodyFailure = new IllegalStateException("body");
    Throwable thrown = catchThrowable(() -> Scope.builder()
        .namePrefix("test-late")
        .failurePolicy(Scope.FailurePolicy.AWAIT_ALL) // the body's failure cancels nothing
        .timeout(Duration.ofMillis(500)) // long enough for the spawns on a loaded machine
        .run(scope -> {
          scope.spawn(() -> {
            never.await();
            return null;
          });
          throw bodyFailure;
        }));
    assertThat(thrown).isSameAs(bodyFailure);
    assertThat(thrown.getSuppressed()).hasSize(2);
    assertThat(thrown.getSuppressed()[0]).isInstanceOf(ScopeTimeoutException.class)
        .hasMessageEndingWith("[test-late-0]");
    assertThat(thrown.getSuppressed()[1]).isInstanceOf(InterruptedException.class);
  }

  @Test
  void aTimeoutThrownByTheBodyIsNotAttachedToItselfAgain() {
    CountDownLatch never = new CountDownLatch(1);
    Throwable thrown = catchThrowable(() -> Scope.builder()
        .maxConcurrency(1)
        .timeout(Duration.ofMillis(500)) // long enough for the spawns on a loaded machine
        .run(scope -> {
          scope.spawn(() -> {
            never.await();
            return null;
          });
          scope.spawn(() -> 2); // waits for the slot until the deadline
        }));
    assertThat(thrown).isInstanceOf(ScopeTimeoutException.class);
    assertThat(thrown.getSuppressed()).noneMatch(s -> s instanceof ScopeTimeoutException);
    assertThat(thrown.getSuppressed()).singleElement().isInstanceOf(InterruptedException.class);
  }

  @Test
  void anOwnerInterruptedWhileJoiningAfterABodyFailureKeepsItsInterruptStatus() {
    Thread owner = Thread.currentThread();
    IllegalStateException bodyFailure = new IllegalStateException("body");
    CountDownLatch started = new CountDownLatch(1);
    AtomicInteger bodyDone = new AtomicInteger();
    Throwable thrown = catchThrowable(() -> Scope.run(scope -> {
      scope.spawn(() -> {
        started.countDown();
        while (bodyDone.get() == 0) { // not the owner's wait for `started`
          Thread.onSpinWait();
        }
        awaitState(owner, Thread.State.WAITING); // the owner joins this thread
        owner.interrupt();
        while (owner.isInterrupted()) { // until the owner's join has taken the interrupt
          Thread.onSpinWait();
        }
      });
      started.await(); // a task the body's failure cancels before it starts never runs
      bodyDone.set(1);
      throw bodyFailure;
    }));
    boolean interrupted = Thread.interrupted(); // also clears it for the next test
    assertThat(thrown).isSameAs(bodyFailure);
    assertThat(interrupted).as("interrupt status restored after the scope ended").isTrue();
  }

  @Test
  void aTaskSpawnedIntoACancelledScopeNeverRuns() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    try (Scope scope = Scope.open()) {
      ScopedThread<Object> failing = scope.spawn(() -> {
        throw new IllegalStateException("cancels the scope");
      });
      assertThatThrownBy(failing::join).isInstanceOf(TaskFailedException.class);
      ScopedThread<Object> late = scope.spawn(() -> ran.incrementAndGet());
      assertThatThrownBy(() -> late.join(Duration.ofSeconds(10)))
          .isInstanceOf(TaskFailedException.class)
          .hasCauseInstanceOf(java.util.concurrent.CancellationException.class)
          .hasMessageContaining("cancelled (" + failing.thread().getName() + " failed)");
    }
    assertThat(ran).hasValue(0);
  }

  @Test
  void toStringOfAnUncappedUntimedScopeShowsNeitherLimit() throws Exception {
    try (Scope scope = Scope.builder().namePrefix("test-plain").open()) {
      assertThat(scope.toString())
          .doesNotContain(", maxConcurrency=")
          .doesNotContain(", timeout=")
          .endsWith(", open, spawned=0]");
    }
  }
}
