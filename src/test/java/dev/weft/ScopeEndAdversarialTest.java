package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Third adversarial review of Scope / ScopeTask (commit 3a50419: the cancel walk's
 * awaitCancelWalk, endScopesLeftOpen, ScopeTask.RUNNING, the walk's self-interrupt rule).
 * Written from the main code and docs only. Each test says "FAILED before the fix" (a defect reproduced; the
 * assertion states the promised behaviour) or "HOLDS".
 */
class ScopeEndAdversarialTest {

  // ------------------------------------------------------------------ helpers

  private static boolean stackMentions(Thread t, String method) {
    return Arrays.stream(t.getStackTrace()).anyMatch(e -> e.getMethodName().equals(method));
  }

  private static void sleepIgnoringInterrupts(long ms) {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
    boolean intr = false;
    for (long left; (left = end - System.nanoTime()) > 0; ) {
      try {
        TimeUnit.NANOSECONDS.sleep(left);
      } catch (InterruptedException e) {
        intr = true;
      }
    }
    if (intr) {
      Thread.currentThread().interrupt();
    }
  }

  private static long count(Throwable t, Throwable needle) {
    long n = t.getCause() == needle ? 1 : 0;
    for (Throwable s : t.getSuppressed()) {
      n += s == needle ? 1 : 0;
    }
    return n;
  }

  // ------------------------------------------------------------------ endScopesLeftOpen

  /**
   * FAILED before the fix (4 of 4): "Nested scopes must end innermost first ... ending a scope while a scope that its
   * owner opened later is still open first cancels and ends that inner scope". A call/run body
   * that closes its own scope and then, in order, the enclosing scope makes the end of call/run
   * cancel and close a scope FURTHER OUT that the body never opened (and that nothing left open):
   * endScopesLeftOpen(enclosing) walks down until it meets `enclosing`, which is no longer on
   * the stack, so it ends everything down to the bottom. The outer scope's thread is interrupted.
   */
  @Test
  @Timeout(10)
  void bodyClosingItsScopeThenTheEnclosingOneCancelsAScopeFurtherOut() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    Throwable thrown;
    String outerState;
    try (Scope outer = Scope.builder().namePrefix("test-outer").open()) {
      outer.spawn(() -> {
        started.countDown();
        try {
          Thread.sleep(600);
        } catch (InterruptedException e) {
          interrupted.set(true);
        }
      });
      started.await();
      Scope mid = Scope.open();
      thrown = catchThrowable(() -> Scope.run(s -> {
        s.close();   // its own scope: innermost, fine
        mid.close(); // now innermost: an in-order close
      }));
      outerState = outer.toString();
    }
    assertThat(interrupted).as("outer scope's thread interrupted by the inner body's end").isFalse();
    assertThat(outerState).as("outer scope state after the body").contains(", open");
    assertThat(thrown).as("in-order closes reported as a violation").isNull();
  }

  /**
   * FAILED before the fix (4 of 4): same root cause without a scope further out: the end of call/run throws
   * IllegalStateException "the body of weft-scope-N ended with the scopes [] still open" although
   * every scope was closed innermost first and no scope is open.
   */
  @Test
  @Timeout(10)
  void bodyClosingItsScopeThenTheEnclosingOneGetsAnEmptyLeftOpenError() throws Exception {
    Scope mid = Scope.open();
    Throwable thrown = catchThrowable(() -> Scope.run(s -> {
      s.close();
      mid.close();
    }));
    assertThat(thrown).isNull();
  }

  /**
   * FAILED before the fix (4 of 4): a body that closes the enclosing scope out of order gets the documented
   * IllegalStateException from that close (its own scope is ended first), but then the end of
   * call/run (closed == true: endScopesLeftOpen(enclosing)) also cancels and ends the scope
   * outside the enclosing one, interrupting its thread.
   */
  @Test
  @Timeout(10)
  void outOfOrderCloseOfTheEnclosingScopeFromABodyCancelsTheScopeOutsideIt() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean();
    Throwable thrown;
    try (Scope outer = Scope.builder().namePrefix("test-outer2").open()) {
      outer.spawn(() -> {
        started.countDown();
        try {
          Thread.sleep(600);
        } catch (InterruptedException e) {
          interrupted.set(true);
        }
      });
      started.await();
      Scope mid = Scope.open();
      thrown = catchThrowable(() -> Scope.run(s -> mid.close()));
    }
    assertThat(thrown).isInstanceOf(IllegalStateException.class); // documented: mid closed early
    assertThat(thrown.getSuppressed()).as("nothing but the documented violation")
        .noneMatch(t -> String.valueOf(t.getMessage()).contains("still open; they were cancelled"));
    assertThat(interrupted).as("outer scope's thread interrupted").isFalse();
  }

  /**
   * HOLDS: a factory thread that opens a scope around weft's Runnable: the task's base is that
   * scope, which is left alone; the task's own left-open scope is ended and reported.
   */
  @Test
  @Timeout(10)
  void factoryThreadThatOpensAScopeAroundTheTaskIsLeftAlone() throws Exception {
    AtomicReference<String> aroundState = new AtomicReference<>();
    AtomicReference<Throwable> aroundFailure = new AtomicReference<>();
    ThreadFactory f = r -> new Thread(() -> {
      try (Scope around = Scope.builder().namePrefix("test-around").open()) {
        r.run();
        aroundState.set(around.toString());
      } catch (Throwable t) {
        aroundFailure.set(t);
      }
    }, "test-factory");
    Throwable thrown = catchThrowable(() -> Scope.builder().threadFactory(f).run(s -> {
      ScopedThread<Void> t = s.spawn(() -> {
        Scope.builder().namePrefix("test-leak").open(); // left open
      });
      Throwable j = catchThrowable(t::join);
      assertThat(j).isInstanceOf(TaskFailedException.class)
          .hasCauseInstanceOf(IllegalStateException.class);
    }));
    assertThat(thrown).isNull();
    assertThat(aroundFailure.get()).isNull();
    assertThat(aroundState.get()).contains(", open").doesNotContain("cancelled");
  }

  /**
   * HOLDS: nested left-open scopes whose ends throw: both ended innermost first, the task fails
   * with IllegalStateException naming both, their failures suppressed on it.
   */
  @Test
  @Timeout(10)
  void nestedLeftOpenScopesWhoseEndsThrowAreReportedOnTheTask() throws Exception {
    List<Scope> opened = new ArrayList<>();
    Throwable thrown = catchThrowable(() -> Scope.builder().namePrefix("test-lo").run(s -> {
      ScopedThread<Object> t = s.spawn(() -> {
        CountDownLatch ran = new CountDownLatch(2);
        Scope i1 = Scope.builder().namePrefix("test-lo-i1").open();
        opened.add(i1);
        i1.spawn(() -> {
          ran.countDown();
          throw new IllegalArgumentException("i1 failed");
        });
        Scope i2 = Scope.builder().namePrefix("test-lo-i2").open();
        opened.add(i2);
        i2.spawn(() -> {
          ran.countDown();
          throw new ArithmeticException("i2 failed");
        });
        ran.await(); // both tasks ran (a task that starts after a cancel never runs)
        return null;
      });
      Throwable j = catchThrowable(t::join);
      assertThat(j.getCause()).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining(opened.get(1).name() + ", " + opened.get(0).name());
      assertThat(j.getCause().getSuppressed()).hasSize(2);
    }));
    assertThat(thrown).isNull();
    assertThat(opened).allMatch(x -> x.toString().contains(", ended"));
  }

  /** HOLDS: a task that closes its scopes out of order: no second report from the task's end. */
  @Test
  @Timeout(10)
  void taskThatClosesItsScopesOutOfOrder() throws Exception {
    Throwable thrown = catchThrowable(() -> Scope.builder().namePrefix("test-ooo").run(s -> {
      ScopedThread<String> t = s.spawn(() -> {
        Scope i1 = Scope.builder().namePrefix("test-ooo-i1").open();
        Scope i2 = Scope.builder().namePrefix("test-ooo-i2").open();
        Throwable c = catchThrowable(i1::close);
        i2.close(); // does nothing
        return c == null ? "none" : c.getClass().getSimpleName() + c.getSuppressed().length;
      });
      assertThat(t.join()).isEqualTo("IllegalStateException0");
    }));
    assertThat(thrown).isNull();
  }

  /**
   * HOLDS: a task running Scope.run whose body leaves a scope open: run throws (its own check),
   * the task's end finds nothing more; a left-open scope whose thread ignores interrupts is
   * waited for: no thread outlives the outer scope.
   */
  @Test
  @Timeout(10)
  void taskRunningScopeRunWithLeftOpenScopeWhoseThreadIgnoresInterrupts() throws Exception {
    AtomicReference<Thread> inner = new AtomicReference<>();
    Throwable thrown = catchThrowable(() -> Scope.builder().namePrefix("test-tr").run(s -> {
      ScopedThread<Object> t = s.spawn(() -> {
        Scope.run(b -> {
          Scope leak = Scope.builder().namePrefix("test-tr-leak").open();
          inner.set(leak.spawn(() -> sleepIgnoringInterrupts(300)).thread());
        });
        return null;
      });
      Throwable j = catchThrowable(t::join);
      assertThat(j.getCause()).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("was closed while the scopes");
    }));
    assertThat(thrown).isNull();
    assertThat(inner.get().isAlive()).isFalse();

    // And a task that leaves it open directly: the left-open thread (ignoring interrupts)
    // terminated before the outer scope's end returned.
    AtomicReference<Thread> inner2 = new AtomicReference<>();
    Throwable thrown2 = catchThrowable(() -> Scope.builder().namePrefix("test-tr2").run(s -> {
      s.spawn(() -> {
        Scope leak = Scope.builder().namePrefix("test-tr2-leak").open();
        inner2.set(leak.spawn(() -> sleepIgnoringInterrupts(300)).thread());
        return null;
      });
    }));
    assertThat(thrown2).isInstanceOf(TaskFailedException.class)
        .hasCauseInstanceOf(IllegalStateException.class);
    assertThat(inner2.get().isAlive()).isFalse();
  }

  // ------------------------------------------------------------------ RUNNING

  /** HOLDS: a task of scope A spawning into scope B (not its owner) is refused. */
  @Test
  @Timeout(10)
  void taskOfOneScopeSpawningIntoAnotherIsRefused() throws Exception {
    Scope.builder().namePrefix("test-b").run(b -> {
      Scope.builder().namePrefix("test-a").run(a -> {
        ScopedThread<Throwable> t = a.spawn(() -> catchThrowable(() -> b.spawn(() -> 1)));
        assertThat(t.join()).isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("is neither the owner");
      });
    });
  }

  /**
   * HOLDS (behaviour change to note): a factory thread that keeps running after weft's task has
   * no RUNNING entry (nothing leaks into the pooled thread) and is no longer allowed to spawn
   * into the scope (the old node walk allowed it while the thread was alive).
   */
  @Test
  @Timeout(10)
  void factoryThreadAfterItsTaskHasNoRunningEntry() throws Exception {
    AtomicReference<Object> afterTask = new AtomicReference<>("unset");
    AtomicReference<Throwable> spawnAfter = new AtomicReference<>();
    AtomicReference<Scope> scope = new AtomicReference<>();
    AtomicBoolean interruptedAfter = new AtomicBoolean();
    ThreadFactory f = r -> new Thread(() -> {
      r.run();
      afterTask.set(ScopeTask.runningOnThisThread());
      interruptedAfter.set(Thread.currentThread().isInterrupted());
      spawnAfter.set(catchThrowable(() -> scope.get().spawn(() -> 2)));
    }, "test-pooled");
    Scope.builder().threadFactory(f).run(s -> {
      scope.set(s);
      s.spawn(() -> 1).join();
    });
    assertThat(afterTask.get()).isNull();
    assertThat(interruptedAfter).isFalse();
    assertThat(spawnAfter.get()).isInstanceOf(IllegalStateException.class);
  }

  // ------------------------------------------------------------------ interrupt() that throws

  /** A factory whose threads' interrupt() throws (after interrupting). */
  private static ThreadFactory throwingInterrupt(RuntimeException toThrow, String name) {
    return r -> new Thread(r, name) {
      @Override
      public void interrupt() {
        super.interrupt();
        throw toThrow;
      }
    };
  }

  /**
   * HOLDS: the walk by a failing task's thread: the end reports the failure as cause and the
   * interrupt() exception once, suppressed.
   */
  @Test
  @Timeout(10)
  void throwingInterruptDuringAFailingTasksWalkIsReportedOnce() throws Exception {
    RuntimeException boom = new IllegalStateException("interrupt() override threw");
    RuntimeException fail = new ArithmeticException("task failed");
    CountDownLatch running = new CountDownLatch(1);
    Throwable thrown = catchThrowable(() -> Scope.builder()
        .threadFactory(throwingInterrupt(boom, "test-ti")).run(s -> {
          s.spawn(() -> {
            running.countDown();
            Thread.sleep(5_000);
            return null;
          });
          running.await();
          s.spawn(() -> {
            throw fail;
          });
        }));
    assertThat(thrown).isInstanceOf(TaskFailedException.class).hasCause(fail);
    assertThat(count(thrown, boom)).isEqualTo(1);
    assertThat(Thread.interrupted()).isFalse();
  }

  /**
   * The walk by the deadline timer: close() throws ScopeTimeoutException with the interrupt()
   * exception suppressed at most once. Not exactly once: the end does not wait for the timer's
   * walk (waiting could deadlock, see below), and the override interrupts before it throws, so
   * the task can finish and the owner report before the timer records the exception (seen once
   * in ten runs under .ci/under-load; documented in docs/scope.md).
   */
  @Test
  @Timeout(10)
  void throwingInterruptDuringTheTimersWalkIsReportedAtMostOnce() throws Exception {
    RuntimeException boom = new IllegalStateException("interrupt() override threw (timer)");
    Throwable thrown = catchThrowable(() -> {
      try (Scope s = Scope.builder().threadFactory(throwingInterrupt(boom, "test-tt"))
          .timeout(Duration.ofMillis(50)).open()) {
        s.spawn(() -> {
          Thread.sleep(5_000);
          return null;
        });
      }
    });
    assertThat(thrown).isInstanceOf(ScopeTimeoutException.class);
    assertThat(count(thrown, boom)).isLessThanOrEqualTo(1);
    assertThat(Thread.interrupted()).isFalse();
  }

  /**
   * HOLDS: a scope thread that finds a sibling that never ran (factory thread that skips the
   * Runnable) interrupts itself; the owner is not interrupted, and an interrupt() that throws on
   * the self-interrupt is still reported once.
   */
  @Test
  @Timeout(10)
  void selfInterruptOnNeverRanSiblingDoesNotTouchTheOwner() throws Exception {
    RuntimeException boom = new IllegalStateException("self interrupt() threw");
    AtomicInteger made = new AtomicInteger();
    ThreadFactory f = r -> {
      if (made.getAndIncrement() == 1) {
        return new Thread(() -> { }, "test-skipper"); // never runs weft's Runnable
      }
      return new Thread(r, "test-self") {
        @Override
        public void interrupt() {
          super.interrupt();
          throw boom;
        }
      };
    };
    AtomicBoolean selfInterrupted = new AtomicBoolean();
    CountDownLatch joined = new CountDownLatch(1);
    Throwable thrown = catchThrowable(() -> Scope.builder().threadFactory(f).run(s -> {
      CountDownLatch go = new CountDownLatch(1);
      AtomicReference<ScopedThread<?>> sib = new AtomicReference<>();
      s.spawn(() -> {
        go.await();
        var unused = catchThrowable(() -> sib.get().join());
        selfInterrupted.set(Thread.currentThread().isInterrupted());
        joined.countDown();
        return null;
      });
      sib.set(s.spawn(() -> 1));
      go.countDown();
      // The owner must not reach the end first: its own wait would settle the sibling, and its
      // cancel walk would interrupt the joiner, whose join then clears the status (seen on
      // JDK 25). Bounded: the joiner is not interrupted before it has joined.
      assertThat(joined.await(5, TimeUnit.SECONDS)).isTrue();
    }));
    assertThat(selfInterrupted).isTrue();
    assertThat(thrown).isInstanceOf(TaskFailedException.class);
    assertThat(count(thrown, boom)).isEqualTo(1);
    assertThat(Thread.interrupted()).as("owner's interrupt status").isFalse();
  }

  // ------------------------------------------------------------------ awaitCancelWalk

  /**
   * FAILED before the fix (4 of 4; the owner waited for the timer's walk, which waited for the
   * owner's lock): "An interrupt() of a factory's thread that throws does not stop the cancellation ...
   * The shared timer runs those interrupt() calls for deadlines, so an override must be quick"
   * (and docs/scope.md: a slow override "delays the deadlines of other scopes"). Not said: the
   * end of the scope now waits for the timer's walk even after every thread has terminated
   * (awaitCancelWalk), so an override that needs a lock the owner holds while it closes
   * deadlocks the owner with the timer, forever (before 3a50419 close() returned once the thread
   * finished). The owner no longer waits for another thread's walk.
   */
  @Test
  @Timeout(15)
  void ownerWaitsForeverForATimerWalkThatNeedsALockTheOwnerHolds() throws Exception {
    Object lock = new Object();
    ThreadFactory f = r -> new Thread(r, "test-locked-interrupt") {
      @Override
      public void interrupt() {
        synchronized (lock) {
          super.interrupt();
        }
      }
    };
    AtomicReference<Scope> scope = new AtomicReference<>();
    AtomicReference<Throwable> closeOutcome = new AtomicReference<>();
    CountDownLatch taskDone = new CountDownLatch(1);
    Thread owner = new Thread(() -> {
      synchronized (lock) {
        try (Scope s = Scope.builder().threadFactory(f).timeout(Duration.ofMillis(50)).open()) {
          scope.set(s);
          s.spawn(() -> {
            // Spins for 300 ms and never calls interrupt() on itself: re-asserting its status
            // would enter the override, which needs the owner's lock while the owner joins it
            // (a deadlock of the test's own making; seen on JDK 25, where the owner, not the
            // timer, noticed the deadline first and interrupted this thread).
            long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
            while (System.nanoTime() - until < 0) {
              Thread.onSpinWait();
            }
            taskDone.countDown();
          });
        } catch (Throwable t) {
          closeOutcome.set(t);
        }
      }
    }, "test-owner-locked");
    long t0 = System.nanoTime();
    owner.start();
    assertThat(taskDone.await(5, TimeUnit.SECONDS)).isTrue();
    long t1 = System.nanoTime();
    owner.join(1_500);
    boolean stuck = owner.isAlive();
    boolean inAwaitWalk = stuck && stackMentions(owner, "awaitCancelWalk");
    owner.join(5_000);
    System.out.printf("lock test: task done after %d ms, owner gone after %d ms%n",
        (t1 - t0) / 1_000_000, (System.nanoTime() - t0) / 1_000_000);
    assertThat(owner.isAlive()).isFalse();
    assertThat(stuck).as("owner stuck in awaitCancelWalk: %s", inAwaitWalk).isFalse();
    assertThat(closeOutcome.get()).isInstanceOf(ScopeTimeoutException.class);
  }
}
