package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of {@link Scope} (issue 18, second review): written from the code and the
 * docs only. Each test was marked "FAILS: ..." (a reproducer of a broken promise, seen failing on
 * the code before its fix) or "HOLDS"; the doc-inaccuracy findings now assert the documented
 * behaviour.
 */
class ScopeAdversarialTest {

  /** Every thread a test creates, so that none outlives it. */
  private final List<Thread> created = Collections.synchronizedList(new ArrayList<>());

  @AfterEach
  void joinEverything() throws InterruptedException {
    ProtocolWindows.clear();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    synchronized (created) {
      for (Thread t : created) {
        try {
          t.interrupt();
        } catch (UnsupportedOperationException e) {
          // the Thread subclasses of the interrupt() tests: join them anyway
        }
        long left = end - System.nanoTime();
        if (left > 0) {
          t.join(Math.max(1, left / 1_000_000));
        }
      }
    }
  }

  private Thread track(Thread t) {
    created.add(t);
    return t;
  }

  /** Runs {@code body} as the owner on a fresh thread (so a broken scope cannot stay on ours). */
  private Throwable onOwner(String name, Callable<?> body) throws InterruptedException {
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread t = track(new Thread(() -> {
      try {
        body.call();
      } catch (Throwable e) {
        thrown.set(e);
      }
    }, "test-owner-" + name));
    t.start();
    t.join(20_000);
    assertThat(t.isAlive()).as("owner thread finished").isFalse();
    return thrown.get();
  }

  /** Sleeps about {@code ms}, ignoring interrupts (a task that ignores cancellation). */
  private static void sleepUninterruptibly(long ms) {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
    for (long left; (left = end - System.nanoTime()) > 0; ) {
      LockSupport.parkNanos(left);
    }
  }

  private static boolean contains(Throwable t, String message) {
    if (t == null) {
      return false;
    }
    if (message.equals(t.getMessage())) {
      return true;
    }
    for (Throwable s : t.getSuppressed()) {
      if (contains(s, message)) {
        return true;
      }
    }
    return t.getCause() != t && contains(t.getCause(), message);
  }

  // =============================================================================================
  // Confirmed defects
  // =============================================================================================

  /**
   * FAILED before the fix (4 of 4 runs): "the end waits until every thread has terminated — also when the body threw". A
   * factory thread whose interrupt() throws makes cancel()'s walk (Scope.java:715) throw out of
   * endAfterBodyFailure before awaitAll: call/run throws the factory's exception (not the body's)
   * while the scope's thread is still running, and the scope stays half-ended on INNERMOST.
   */
  @Test
  @Timeout(30)
  void throwingInterruptLetsRunReturnWhileItsThreadRuns() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicReference<Thread> worker = new AtomicReference<>();
    AtomicBoolean aliveAtEnd = new AtomicBoolean();
    ThreadFactory noInterrupts = r -> track(new Thread(r, "test-nointr") {
      @Override
      public void interrupt() {
        throw new UnsupportedOperationException("this thread cannot be interrupted");
      }
    });
    Throwable thrown = onOwner("nointr", () -> {
      try {
        Scope.builder().threadFactory(noInterrupts).run(scope -> {
          worker.set(scope.spawn(() -> {
            release.await(2, TimeUnit.SECONDS); // the cancel cannot interrupt it: it times out
            return null;
          }).thread());
          throw new IllegalArgumentException("body failed");
        });
        return null;
      } finally {
        aliveAtEnd.set(worker.get().isAlive());
        release.countDown();
      }
    });
    assertThat(aliveAtEnd).as("scope thread alive after run() threw " + thrown).isFalse();
    assertThat(thrown).as("the body's exception wins").isInstanceOf(IllegalArgumentException.class);
    assertThat(contains(thrown, "this thread cannot be interrupted"))
        .as("the failed interrupt is reported: " + thrown).isTrue();
  }

  /**
   * FAILED before the fix (4 of 4): "no failure is ever lost". Same misbehaving thread class: the failing task's own
   * cancel() (ScopeTask.java:199 -> Scope.java:715) throws inside run()'s catch; the exception
   * escapes run(), reaches the uncaught-exception handler (the task), and settleNeverRan
   * (ScopeTask.java:248) overwrites the task's real failure with it. The original is gone.
   */
  @Test
  @Timeout(30)
  void throwingInterruptReplacesTheTasksRealFailure() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    ThreadFactory noInterrupts = r -> track(new Thread(r, "test-nointr2") {
      @Override
      public void interrupt() {
        throw new UnsupportedOperationException("this thread cannot be interrupted");
      }
    });
    Throwable thrown = onOwner("nointr2", () -> {
      Scope.builder().threadFactory(noInterrupts).run(scope -> {
        scope.spawn(() -> release.await(3, TimeUnit.SECONDS)); // still running at the failure
        ScopedThread<Object> f = scope.spawn(() -> {
          throw new IllegalStateException("the real failure");
        });
        while (!f.isDone()) {
          Thread.sleep(1);
        }
        release.countDown();
      });
      return null;
    });
    assertThat(thrown).isInstanceOf(TaskFailedException.class);
    assertThat(contains(thrown, "the real failure")).as("real failure reported: " + thrown).isTrue();
  }

  /**
   * FAILED before the fix (4 of 4): "first failure, default policy CANCEL_OTHERS: the other threads are interrupted". When
   * a scope thread is the one that notices that a sibling's factory thread died without running
   * its task (its join()/isDone() settles it, ScopeTask.java:251 -> Scope.java:633), cancel()
   * skips the calling thread for a ScopeTask reason (Scope.java:714-716, meant for the failing
   * task itself) — so that scope thread is never interrupted and keeps running.
   */
  @Test
  @Timeout(30)
  void scopeThreadThatSettlesANeverRanSiblingIsNotCancelled() throws Exception {
    AtomicBoolean first = new AtomicBoolean(true);
    ThreadFactory f = r -> track(first.getAndSet(false)
        ? new Thread(() -> { }, "test-ignores-runnable") // never runs weft's task
        : new Thread(r, "test-fine"));
    AtomicBoolean joinerInterrupted = new AtomicBoolean();
    AtomicBoolean otherInterrupted = new AtomicBoolean();
    CountDownLatch controlRunning = new CountDownLatch(1);
    Throwable thrown = onOwner("settler", () -> {
      Scope.builder().threadFactory(f).run(scope -> {
        ScopedThread<Object> neverRuns = scope.spawn(() -> "never");
        scope.spawn(() -> { // another scope thread: the control, it is interrupted
          controlRunning.countDown();
          try {
            Thread.sleep(3_000);
          } catch (InterruptedException e) {
            otherInterrupted.set(true);
          }
          return null;
        });
        scope.spawn(() -> { // the joiner: settles the sibling, so cancel() skips it
          // The control's task must be running first: a task that starts after the scope was
          // cancelled never runs, and then the control could not be interrupted.
          controlRunning.await();
          try {
            neverRuns.join();
          } catch (TaskFailedException expected) {
            // logged and carried on, like a supervisor
          }
          try {
            Thread.sleep(3_000);
          } catch (InterruptedException e) {
            joinerInterrupted.set(true);
          }
          return null;
        });
      });
      return null;
    });
    assertThat(thrown).isNull(); // the failure was joined: not reported again
    assertThat(otherInterrupted).as("control: the other scope thread was cancelled").isTrue();
    assertThat(joinerInterrupted).as("the joining scope thread was cancelled too").isTrue();
  }

  /**
   * FAILED before the fix (4 of 4): "No thread outlives its scope" / "the end of the scope also waits for threads that
   * scope threads spawned". A scope thread that opens a nested scope (Scope.open()) and returns
   * without closing it leaves that scope's threads running after the outer scope ended: nothing
   * checks INNERMOST when a task ends (ScopeTask.run), unlike the end of call/run for the owner
   * (JDK 21+ Thread.exit closes a thread's leftover StructuredTaskScopes).
   */
  @Test
  @Timeout(30)
  void scopeThreadThatLeavesANestedScopeOpenLeaksItsThreads() throws Exception {
    AtomicReference<Thread> grandchild = new AtomicReference<>();
    AtomicBoolean aliveAtEnd = new AtomicBoolean();
    Throwable thrown = onOwner("leak", () -> {
      Scope.run(outer -> {
        outer.spawn(() -> {
          Scope inner = Scope.open(); // forgot try-with-resources
          grandchild.set(inner.spawn(() -> {
            sleepUninterruptibly(1_000);
            return null;
          }).thread());
          return null;
        });
      });
      aliveAtEnd.set(grandchild.get().isAlive());
      return null;
    });
    track(grandchild.get());
    assertThat(aliveAtEnd).as("a thread started inside the outer scope still runs after it ended")
        .isFalse();
    // The task that left it open fails with IllegalStateException; the outer end reports that.
    assertThat(thrown).as("the leaked nested scope is reported")
        .isInstanceOf(TaskFailedException.class)
        .hasCauseInstanceOf(IllegalStateException.class);
    assertThat(thrown.getCause()).hasMessageContaining("still open");
  }

  /**
   * FAILED before the fix (4 of 4): "A call/run body that leaves a scope it opened open gets the same treatment" (cancel,
   * end, IllegalStateException). If the body closed its own scope first, end() returns at once
   * (Scope.java:808) without endInnerScopes: the inner scope stays open and its thread outlives
   * run(); the leaked scope also stays on the owner's INNERMOST.
   */
  @Test
  @Timeout(30)
  void bodyThatClosesItsScopeThenLeavesAnInnerOneOpenLeaksIt() throws Exception {
    AtomicReference<Thread> t = new AtomicReference<>();
    AtomicBoolean aliveAtEnd = new AtomicBoolean();
    Throwable thrown = onOwner("closedbody", () -> {
      Scope.run(scope -> {
        scope.close();
        Scope inner = Scope.open();
        t.set(inner.spawn(() -> {
          sleepUninterruptibly(1_000);
          return null;
        }).thread());
      });
      aliveAtEnd.set(t.get().isAlive());
      return null;
    });
    track(t.get());
    assertThat(aliveAtEnd).isFalse();
    assertThat(thrown).isInstanceOf(IllegalStateException.class);
  }

  /**
   * FAILED before the fix (measured, 4 of 4): Cost — "A spawn allocates the Thread and one handle object ... no lock, one
   * CAS and one atomic add". A spawn by a scope thread walks the scope's whole list
   * (checkForeignSpawner, Scope.java:516) to prove it is a scope thread: O(spawned so far) per
   * spawn, quadratic for fan-out from a scope thread. Compares the same 1000 spawns by the owner
   * and by a scope thread after 100000 earlier spawns (cheap: ABANDONED nodes).
   */
  @Test
  @Timeout(120)
  void spawnFromAScopeThreadIsLinearInThreadsSpawnedSoFar() throws Exception {
    int earlier = 100_000;
    int measured = 1_000;
    // Cheap list: a factory whose threads' start() throws leaves an ABANDONED node each time.
    AtomicBoolean realThreads = new AtomicBoolean(true);
    ThreadFactory f = r -> realThreads.get() ? new Thread(r, "test-real")
        : new Thread(r, "test-abandoned") {
          @Override
          public synchronized void start() {
            throw new IllegalStateException("no thread");
          }
        };
    AtomicLong ownerNanos = new AtomicLong();
    AtomicLong childNanos = new AtomicLong();
    Throwable thrown = onOwner("cost", () -> {
      Scope.builder().threadFactory(f).run(scope -> {
        CountDownLatch go = new CountDownLatch(1);
        ScopedThread<Object> child = scope.spawn(() -> {
          go.await();
          long t0 = System.nanoTime();
          for (int i = 0; i < measured; i++) {
            scope.spawn(() -> { });
          }
          childNanos.set(System.nanoTime() - t0);
          return null;
        });
        realThreads.set(false);
        for (int i = 0; i < earlier; i++) {
          try {
            scope.spawn(() -> { });
          } catch (IllegalStateException expected) {
            // abandoned node stays in the list
          }
        }
        realThreads.set(true);
        long t0 = System.nanoTime();
        for (int i = 0; i < measured; i++) {
          scope.spawn(() -> { });
        }
        ownerNanos.set(System.nanoTime() - t0);
        go.countDown();
        child.join();
      });
      return null;
    });
    assertThat(thrown).isNull();
    double ratio = (double) childNanos.get() / ownerNanos.get();
    System.out.printf("[review] %d spawns after %d: owner %d ms, scope thread %d ms (x%.1f)%n",
        measured, earlier, ownerNanos.get() / 1_000_000, childNanos.get() / 1_000_000, ratio);
    // Before the fix the ratio was 8.5 to 53; the bound leaves room for a loaded machine
    // (.ci/under-load), where both sides slow down alike.
    assertThat(ratio).as("a scope thread's spawn costs about what the owner's does").isLessThan(5.0);
  }

  // =============================================================================================
  // Doc inaccuracies
  // =============================================================================================

  /**
   * DOC FIX (race, 1-18 of 300 rounds): "a thread throws, someone join()s it: join() throws
   * ...; not reported again". A join from a thread that is not a scope thread, concurrent with
   * the end, reports the failure while the end reports it too. The internal note in ScopeTask
   * ("may be reported twice, never lost") admits it; the public docs do not.
   */
  @Test
  @Timeout(60)
  void foreignJoinConcurrentWithTheEndMayDuplicateButNeverLosesTheFailure() throws Exception {
    int rounds = 300;
    int duplicates = 0;
    int lost = 0;
    for (int i = 0; i < rounds; i++) {
      // AWAIT_ALL: the failure does not cancel, so isCancelled() turns true only when the end
      // seals the scope (ENDED), just before it collects the unjoined failures
      Scope s = Scope.builder().failurePolicy(Scope.FailurePolicy.AWAIT_ALL).open();
      ScopedThread<Object> h = s.spawn(() -> {
        throw new IllegalStateException("once");
      });
      AtomicLong joinThrewAt = new AtomicLong();
      Thread joiner = track(new Thread(() -> {
        long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!s.isCancelled() && System.nanoTime() - giveUp < 0) {
          Thread.onSpinWait();
        }
        try {
          h.join();
        } catch (TaskFailedException e) {
          joinThrewAt.set(System.nanoTime());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, "test-foreign-joiner"));
      joiner.start();
      boolean endReported = false;
      try {
        s.close();
      } catch (TaskFailedException e) {
        endReported = true;
      }
      long closeReturned = System.nanoTime();
      joiner.join(5_000);
      long j = joinThrewAt.get();
      if (endReported && j != 0 && j - closeReturned < 0) {
        duplicates++;
      }
      if (!endReported && j == 0) {
        lost++;
      }
    }
    System.out.printf("[review] failure reported by both join() and the end: %d of %d%n",
        duplicates, rounds);
    // Documented (ScopedThread.join, docs/scope.md): a join by a thread outside the scope that
    // races the end may see a failure the end also reports; a failure is never lost.
    assertThat(lost).isZero();
  }

  /**
   * DOC FIX: "maxConcurrency(8): at most 8 running at once" / "spawn waits while max threads are
   * running". The slot is given back when the task ends (ScopeTask.java:204), not when the thread
   * does: a factory thread that does clean-up after weft's Runnable lets any number of the
   * scope's threads be alive (and running code) at once. (The default threads overlap briefly in
   * the same way, in the "scope.task-finished" window.)
   */
  @Test
  @Timeout(30)
  void capCountsRunningTasksNotLingeringFactoryThreads() throws Exception {
    CountDownLatch cleanup = new CountDownLatch(1);
    List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
    ThreadFactory withCleanup = r -> {
      Thread t = track(new Thread(() -> {
        r.run();
        try { // e.g. flushing a log, closing a connection: still the scope's thread
          cleanup.await(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, "test-cleanup"));
      threads.add(t);
      return t;
    };
    AtomicInteger maxAlive = new AtomicInteger();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    Throwable thrown = onOwner("cap", () -> {
      Scope.builder().threadFactory(withCleanup).maxConcurrency(2).run(scope -> {
        for (int i = 0; i < 6; i++) {
          scope.spawn(() -> {
            maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
            Thread.sleep(5);
            running.decrementAndGet();
            return null;
          });
        }
        Thread.sleep(100);
        maxAlive.set((int) threads.stream().filter(Thread::isAlive).count());
        cleanup.countDown();
      });
      return null;
    });
    assertThat(thrown).isNull();
    // Documented (Builder.maxConcurrency): the cap counts running tasks; a factory's thread that
    // does its own work after the task has given its slot back.
    assertThat(maxRunning.get()).as("tasks running at once under maxConcurrency(2)")
        .isLessThanOrEqualTo(2);
    System.out.printf("[review] factory threads alive at once under maxConcurrency(2): %d%n",
        maxAlive.get());
  }

  /**
   * DOC FIX: "no failure is ever lost" / "the body's exception is rethrown unchanged, thread
   * failures suppressed on it". A body exception created with suppression disabled silently
   * drops every unjoined thread failure (Scope.java:1061 addSuppressed is a no-op then).
   */
  @Test
  @Timeout(30)
  void aBodyExceptionWithoutSuppressionCannotCarryThreadFailures() throws Exception {
    Throwable thrown = onOwner("nosuppress", () -> {
      Scope.run(scope -> {
        ScopedThread<Object> f = scope.spawn(() -> {
          throw new IllegalStateException("thread failure");
        });
        while (!f.isDone()) {
          Thread.sleep(1);
        }
        throw new NoSuppression("body failure");
      });
      return null;
    });
    // Documented (Scope, "Failures"): the body's exception is rethrown unchanged; one created
    // with suppression disabled cannot carry the unjoined failures, which are then lost.
    assertThat(thrown).isInstanceOf(NoSuppression.class);
    assertThat(thrown.getSuppressed()).isEmpty();
  }

  /** An exception type with suppression disabled (as some frameworks' fast exceptions). */
  private static final class NoSuppression extends RuntimeException {
    private static final long serialVersionUID = 1L;

    NoSuppression(String m) {
      super(m, null, false, false);
    }
  }

  // Found by the review, documented rather than fixed (Scope, "Deadline"): the shared timer
  // thread runs the cancel walk, so a ThreadFactory's Thread subclass whose interrupt() is slow
  // (2 s in the reviewer's reproducer) delayed the deadline of every other timed scope by as
  // much. Not kept as a test: it takes seconds and asserts nothing weft promises.

  // =============================================================================================
  // Things that held
  // =============================================================================================

  /** HOLDS: random spawn trees (owner + scope threads), windows widened, every end path. */
  @Test
  @Timeout(60)
  void spawnTreesRacingTheEndLeaveNoThreadBehind() throws Exception {
    AtomicInteger windowHits = new AtomicInteger();
    ProtocolWindows.install(w -> {
      windowHits.incrementAndGet();
      if (ThreadLocalRandom.current().nextInt(4) == 0) {
        LockSupport.parkNanos(ThreadLocalRandom.current().nextInt(200_000));
      }
    });
    long stop = System.nanoTime() + TimeUnit.SECONDS.toNanos(8);
    int rounds = 0;
    while (System.nanoTime() - stop < 0 && rounds < 300) {
      rounds++;
      Bag threads = new Bag();
      int mode = rounds % 4;
      Scope.Builder b = Scope.builder();
      if (mode == 1) {
        b.maxConcurrency(3);
      } else if (mode == 2) {
        b.timeout(Duration.ofMillis(5));
      } else if (mode == 3) {
        b.failurePolicy(Scope.FailurePolicy.AWAIT_ALL);
      }
      try {
        boolean nest = mode == 1;
        if (rounds % 2 == 0) {
          b.run(s -> tree(s, 3, threads, nest));
        } else {
          try (Scope s = b.open()) {
            tree(s, 3, threads, nest);
          }
        }
      } catch (TaskFailedException | IllegalStateException expected) {
        // failures and deadlines are fine; a leftover thread is not
      }
      for (Thread t : threads.all()) {
        assertThat(t.isAlive()).as("%s alive after the end (round %d)", t, rounds).isFalse();
      }
    }
    assertThat(windowHits.get()).isPositive();
  }

  /** Thread-safe bag of the threads spawned in one round. */
  private static final class Bag {
    private final java.util.Set<Thread> s = ConcurrentHashMap.newKeySet();

    void add(Thread t) {
      s.add(t);
    }

    java.util.Set<Thread> all() {
      return s;
    }
  }

  /**
   * Spawns a random tree. With {@code nest}, a scope thread spawns its children in a nested
   * scope of its own (under a cap, spawning into the capped scope from every scope thread can
   * deadlock, as documented).
   */
  private static void tree(Scope s, int depth, Bag threads, boolean nest)
      throws InterruptedException {
    int n = 1 + ThreadLocalRandom.current().nextInt(3);
    for (int i = 0; i < n; i++) {
      ScopedThread<Object> h = s.spawn(() -> {
        threads.add(Thread.currentThread());
        if (depth > 0) {
          if (nest) {
            Scope.builder().maxConcurrency(2).run(inner -> tree(inner, depth - 1, threads, true));
          } else {
            tree(s, depth - 1, threads, false);
          }
        }
        if (ThreadLocalRandom.current().nextInt(10) == 0) {
          throw new IllegalStateException("random failure");
        }
        LockSupport.parkNanos(ThreadLocalRandom.current().nextInt(100_000));
        return null;
      });
      threads.add(h.thread());
    }
  }

  /** HOLDS: the owner interrupted at a random moment; no thread outlives call/run. */
  @Test
  @Timeout(60)
  void ownerInterruptedAtRandomMomentsLeavesNoThreadBehind() throws Exception {
    for (int round = 0; round < 150; round++) {
      Bag threads = new Bag();
      AtomicReference<Thread> owner = new AtomicReference<>();
      CountDownLatch started = new CountDownLatch(1);
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      AtomicBoolean leftover = new AtomicBoolean();
      Thread o = track(new Thread(() -> {
        owner.set(Thread.currentThread());
        started.countDown();
        try {
          Scope.builder().maxConcurrency(1 + ThreadLocalRandom.current().nextInt(3)).run(s -> {
            tree(s, 2, threads, true);
          });
        } catch (Throwable t) {
          thrown.set(t);
        }
        for (Thread t : threads.all()) {
          if (t.isAlive()) {
            leftover.set(true);
          }
        }
      }, "test-owner-intr"));
      o.start();
      started.await();
      LockSupport.parkNanos(ThreadLocalRandom.current().nextInt(2_000_000));
      o.interrupt();
      o.join(10_000);
      assertThat(o.isAlive()).isFalse();
      assertThat(leftover).as("round %d, thrown %s", round, thrown.get()).isFalse();
    }
  }

  /** HOLDS: many concurrent timed scopes; deadlines while owners compute; no entry left. */
  @Test
  @Timeout(60)
  void manyConcurrentTimedScopes() throws Exception {
    AtomicInteger wrong = new AtomicInteger();
    AtomicInteger timedOut = new AtomicInteger();
    List<Thread> owners = new ArrayList<>();
    for (int o = 0; o < 6; o++) {
      Thread t = track(new Thread(() -> {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        for (int i = 0; i < 40; i++) {
          int deadline = 5 + r.nextInt(30);
          int work = r.nextInt(60);
          AtomicBoolean interrupted = new AtomicBoolean();
          long t0 = System.nanoTime();
          try {
            Scope.builder().timeout(Duration.ofMillis(deadline)).run(s -> {
              s.spawn(() -> {
                try {
                  Thread.sleep(work);
                } catch (InterruptedException e) {
                  interrupted.set(true);
                }
                return null;
              });
              sleepUninterruptibly(work); // the owner computes as long
            });
            if (System.nanoTime() - t0 > TimeUnit.MILLISECONDS.toNanos(deadline + 20)) {
              wrong.incrementAndGet(); // ended after the deadline without a timeout
            }
          } catch (ScopeTimeoutException e) {
            timedOut.incrementAndGet();
          } catch (Exception e) {
            wrong.incrementAndGet();
          }
        }
      }, "test-owner-timed-" + o));
      owners.add(t);
      t.start();
    }
    for (Thread t : owners) {
      t.join(40_000);
    }
    assertThat(wrong.get()).isZero();
    assertThat(timedOut.get()).isPositive();
    assertThat(Scope.pendingDeadlines()).isZero();
  }

  /** HOLDS: the timer thread exits when idle and comes back; the deadline still holds. */
  @Test
  @Timeout(30)
  void deadlineTimerExitsWhenIdleAndRestarts() throws Exception {
    for (int round = 0; round < 3; round++) {
      AtomicLong cancelledAfter = new AtomicLong(-1);
      AtomicReference<ScopedThread<Object>> handle = new AtomicReference<>();
      long t0 = System.nanoTime();
      try {
        // 500 ms: under load a thread may take over 100 ms to start, and a task that starts
        // after the deadline cancelled the scope never runs (it then saw no interrupt).
        Scope.builder().timeout(Duration.ofMillis(500)).run(s -> {
          handle.set(s.spawn(() -> {
            try {
              Thread.sleep(5_000);
            } catch (InterruptedException e) {
              cancelledAfter.set((System.nanoTime() - t0) / 1_000_000);
            }
            return null;
          }));
          sleepUninterruptibly(1_000);
        });
      } catch (ScopeTimeoutException expected) {
        // the deadline passed
      }
      assertThat(cancelledAfter.get()).as("round %d, handle %s", round, handle.get())
          .isBetween(490L, 2_500L);
      Thread.sleep(600);
      assertThat(Thread.getAllStackTraces().keySet().stream()
          .anyMatch(t -> t.getName().equals("weft-scope-deadlines") && t.isAlive()))
          .as("timer gone after 200 ms idle").isFalse();
    }
  }

  /** HOLDS: a spawn that saw the scope cancelled never runs its task, and is done. */
  @Test
  @Timeout(30)
  void spawnAfterCancelNeverRuns() throws Exception {
    for (int round = 0; round < 200; round++) {
      AtomicInteger ranAfter = new AtomicInteger();
      try {
        Scope.run(s -> {
          s.spawn(() -> {
            throw new IllegalStateException("cancel");
          });
          for (int i = 0; i < 50; i++) {
            boolean cancelled = s.isCancelled();
            ScopedThread<Object> h = s.spawn(() -> {
              if (cancelled) {
                ranAfter.incrementAndGet();
              }
              return null;
            });
            if (cancelled) {
              assertThat(h.isDone()).isTrue();
              try {
                h.join(Duration.ZERO);
              } catch (TaskFailedException e) {
                assertThat(e.getCause()).isInstanceOf(CancellationException.class);
              } catch (TimeoutException e) {
                throw new AssertionError(e);
              }
            }
          }
        });
      } catch (TaskFailedException expected) {
        // the failure
      }
      assertThat(ranAfter.get()).isZero();
    }
  }

  /** HOLDS: isDone(), join(ZERO) and join() agree, also with the task-finished window. */
  @Test
  @Timeout(30)
  void isDoneAndZeroJoinAgree() throws Exception {
    ProtocolWindows.install(w -> {
      if (w.equals("scope.task-finished")) {
        LockSupport.parkNanos(ThreadLocalRandom.current().nextInt(300_000));
      }
    });
    AtomicInteger disagreements = new AtomicInteger();
    for (int round = 0; round < 200; round++) {
      boolean fail = round % 2 == 0;
      try {
        Scope.run(s -> {
          ScopedThread<Object> h = s.spawn(() -> {
            if (fail) {
              throw new IllegalStateException("x");
            }
            return "ok";
          });
          Thread poller = new Thread(() -> {
            while (true) {
              boolean done = h.isDone();
              try {
                h.join(Duration.ZERO);
                if (!done && !h.isDone()) {
                  disagreements.incrementAndGet();
                }
                return;
              } catch (TimeoutException e) {
                if (done) {
                  disagreements.incrementAndGet();
                  return;
                }
              } catch (TaskFailedException e) {
                if (!h.isDone()) {
                  disagreements.incrementAndGet();
                }
                return;
              } catch (InterruptedException e) {
                return;
              }
            }
          }, "test-poller");
          track(poller).start();
          poller.join();
        });
      } catch (TaskFailedException expected) {
        // a failure the poller joined is not reported; else it is
      }
    }
    assertThat(disagreements.get()).isZero();
  }

  /** HOLDS: misbehaving factories (null, throws, started, never runs, twice, other thread). */
  @Test
  @Timeout(30)
  void misbehavingFactories() throws Exception {
    List<ThreadFactory> factories = List.of(
        r -> null,
        r -> {
          throw new IllegalArgumentException("factory failed");
        },
        r -> {
          Thread t = track(new Thread(r, "test-started")); // runs weft's Runnable at once
          t.start();
          return t;
        },
        r -> track(new Thread(() -> { }, "test-ignores")),
        r -> track(new Thread(() -> {
          r.run();
          r.run();
        }, "test-twice")),
        r -> track(new Thread(() -> {
          Thread other = track(new Thread(r, "test-other"));
          other.start();
          try {
            other.join();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }, "test-delegates")),
        r -> track(new Thread(() -> {
          throw new IllegalStateException("before the task");
        }, "test-throws-first")));
    for (ThreadFactory f : factories) {
      AtomicInteger ran = new AtomicInteger();
      AtomicReference<Throwable> spawnThrew = new AtomicReference<>();
      AtomicReference<Thread> t = new AtomicReference<>();
      Throwable end = null;
      try {
        Scope.builder().threadFactory(f).run(s -> {
          try {
            t.set(s.spawn(ran::incrementAndGet).thread());
          } catch (RuntimeException e) {
            spawnThrew.set(e);
          }
        });
      } catch (TaskFailedException e) {
        end = e;
      }
      if (t.get() != null) {
        assertThat(t.get().isAlive()).isFalse();
      }
      assertThat(ran.get()).isLessThanOrEqualTo(1);
      // exactly one report: spawn threw, the end failed, or the task ran once
      int reports = (spawnThrew.get() != null ? 1 : 0) + (end != null ? 1 : 0) + ran.get();
      assertThat(reports).as("factory %s: spawn %s, end %s, ran %d", f, spawnThrew.get(), end,
          ran.get()).isEqualTo(1);
    }
  }

  /** HOLDS: each unjoined failure is reported once, joined ones never again. */
  @Test
  @Timeout(30)
  void everyFailureReportedExactlyOnce() throws Exception {
    for (int round = 0; round < 50; round++) {
      java.util.Set<String> joinedByScopeThreads = ConcurrentHashMap.newKeySet();
      TaskFailedException end = null;
      try {
        Scope.builder().failurePolicy(Scope.FailurePolicy.AWAIT_ALL).run(s -> {
          List<ScopedThread<Object>> hs = new ArrayList<>();
          for (int i = 0; i < 8; i++) {
            String m = "f" + i;
            hs.add(s.spawn(() -> {
              throw new IllegalStateException(m);
            }));
          }
          for (int i = 0; i < 8; i += 2) {
            ScopedThread<Object> h = hs.get(i);
            s.spawn(() -> {
              try {
                h.join();
              } catch (TaskFailedException e) {
                joinedByScopeThreads.add(e.getCause().getMessage());
              }
              return null;
            });
          }
        });
      } catch (TaskFailedException e) {
        end = e;
      }
      assertThat(end).isNotNull();
      List<String> reported = new ArrayList<>();
      reported.add(end.getCause().getMessage());
      for (Throwable s : end.getSuppressed()) {
        reported.add(s.getMessage());
      }
      assertThat(reported).doesNotHaveDuplicates().doesNotContainAnyElementsOf(joinedByScopeThreads);
      assertThat(reported.size() + joinedByScopeThreads.size()).isEqualTo(8);
    }
  }

  /**
   * HOLDS: INNERMOST after misuse and failures: a failed open, a failing body, an out-of-order
   * close, a non-owner close, a thread's own Scope.run; later scopes on the same thread nest and
   * report out-of-order closes as before.
   */
  @Test
  @Timeout(30)
  void nestingBookkeepingSurvivesExceptions() throws Exception {
    Throwable thrown = onOwner("nesting", () -> {
      try {
        Scope.builder().virtualThreads(); // JDK 17: UnsupportedOperationException
      } catch (UnsupportedOperationException expected) {
        // fine
      }
      try {
        Scope.builder().timeout(Duration.ofMillis(-1));
      } catch (IllegalArgumentException expected) {
        // fine
      }
      try {
        Scope.run(s -> {
          throw new IllegalStateException("body");
        });
      } catch (IllegalStateException expected) {
        // fine
      }
      Scope a = Scope.open();
      Scope b = Scope.open();
      Throwable ooo = null;
      try {
        a.close();
      } catch (IllegalStateException e) {
        ooo = e;
      }
      assertThat(ooo).isNotNull();
      b.close(); // does nothing
      Scope c = Scope.open();
      Thread other = new Thread(() -> {
        try {
          c.close();
        } catch (IllegalStateException expected) {
          try {
            Scope.run(own -> own.spawn(() -> { }));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }, "test-nonowner");
      other.start();
      other.join();
      c.close();
      // later, unrelated scopes still nest properly
      Scope x = Scope.open();
      Scope y = Scope.open();
      Throwable again = null;
      try {
        x.close();
      } catch (IllegalStateException e) {
        again = e;
      }
      assertThat(again).isNotNull();
      assertThat(y.toString()).contains("ended");
      Scope.run(s -> s.spawn(() -> { }).join());
      return null;
    });
    assertThat(thrown).isNull();
  }

  /** HOLDS: toString from another thread, while spawning and ending, never blocks or throws. */
  @Test
  @Timeout(30)
  void toStringFromAnyThread() throws Exception {
    AtomicReference<Scope> current = new AtomicReference<>();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> err = new AtomicReference<>();
    Thread reader = track(new Thread(() -> {
      while (!stop.get()) {
        Scope s = current.get();
        try {
          if (s != null) {
            assertThat(s.toString()).startsWith("Scope[");
          }
        } catch (Throwable t) {
          err.set(t);
        }
      }
    }, "test-tostring"));
    reader.start();
    for (int i = 0; i < 200; i++) {
      try {
        Scope.builder().timeout(Duration.ofMillis(20)).maxConcurrency(2).run(s -> {
          current.set(s);
          tree(s, 1, new Bag(), true);
        });
      } catch (TaskFailedException expected) {
        // fine
      }
    }
    stop.set(true);
    reader.join();
    assertThat(err.get()).isNull();
  }

  /** HOLDS: a scope thread may not close its scope; it may run its own nested scope. */
  @Test
  @Timeout(30)
  void scopeThreadClosingItsScopeOrRunningItsOwn() throws Exception {
    AtomicReference<Throwable> closeFromThread = new AtomicReference<>();
    AtomicInteger nested = new AtomicInteger();
    Scope.run(s -> {
      s.spawn(() -> {
        try {
          s.close();
        } catch (IllegalStateException e) {
          closeFromThread.set(e);
        }
        Scope.run(own -> {
          for (int i = 0; i < 5; i++) {
            own.spawn(nested::incrementAndGet);
          }
        });
        return null;
      });
    });
    assertThat(closeFromThread.get()).isInstanceOf(IllegalStateException.class);
    assertThat(nested.get()).isEqualTo(5);
  }

  /**
   * HOLDS (doc note, measured): "A scope keeps one small handle per spawned thread until it
   * ends" — the handle also keeps the terminated Thread object (and its name), so the retained
   * heap per finished spawn is a few hundred bytes, not one small object.
   */
  @Test
  @Timeout(60)
  void retainedHeapPerFinishedSpawn() throws Exception {
    int n = 20_000;
    AtomicLong perSpawn = new AtomicLong();
    Scope.run(s -> {
      long before = usedAfterGc();
      CountDownLatch done = new CountDownLatch(n);
      for (int i = 0; i < n; i++) {
        s.spawn(done::countDown);
      }
      done.await();
      Thread.sleep(200); // let the threads terminate
      perSpawn.set((usedAfterGc() - before) / n);
    });
    System.out.printf("[review] retained heap per finished spawn: about %d bytes%n",
        perSpawn.get());
    assertThat(perSpawn.get()).isLessThan(2_048);
  }

  private static long usedAfterGc() throws InterruptedException {
    Runtime rt = Runtime.getRuntime();
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(50);
    }
    return rt.totalMemory() - rt.freeMemory();
  }
}
