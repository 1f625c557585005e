package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.StructureViolationException;
import java.util.concurrent.StructuredTaskScope;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Scope}'s contract, differential against the JDK's {@link StructuredTaskScope} (JDK 25,
 * preview API) as the reference: every case runs against {@code StructuredTaskScope} (its
 * default joiner, {@code awaitAllSuccessfulOrThrow}) and against weft's {@code Scope} in both of
 * its end styles ({@link Scope#run} and try-with-resources {@link Scope#close()}), with the
 * default, a platform and a virtual {@link ThreadFactory}. A case that fails on
 * {@code StructuredTaskScope} is a wrong test; one that passes there and fails on weft is a weft
 * bug or one of the documented differences below. Compiled and run only on a JDK 25 build
 * ({@code src/test/jdk25}, the {@code jdk25} profile of {@code src/pom.xml}).
 *
 * <p>The shared contract, as both classes' Javadoc states it: when the end returns or throws,
 * every forked task has terminated (also when one failed, when a task ignores interrupts, when
 * the deadline passed, when the owner was interrupted); a failure is reported by the end with the
 * original exception as cause; the first failure cancels (interrupts) the others; a fork into a
 * cancelled scope neither calls the factory nor runs the task; a deadline cancels the scope when
 * it passes, even while the owner does not touch the scope; a fork after the end, from a thread
 * outside the scope, or an end by another thread is rejected; closing an outer scope first closes
 * the inner one and throws; a factory's null, or its exception, reaches the caller and nothing
 * runs; actions before a fork happen-before the task, and the task's actions happen-before the
 * end returns.
 *
 * <p>The outcome of an end is normalised ({@link EndKind}): weft's {@code TaskFailedException}
 * and the JDK's {@code FailedException} are {@code FAILED}; {@code ScopeTimeoutException} and
 * {@code StructuredTaskScope.TimeoutException} are {@code TIMED_OUT}; an
 * {@code InterruptedException} (or, from {@code close()}, which cannot throw it, the re-asserted
 * interrupt status) is {@code INTERRUPTED}.
 *
 * <p><b>Documented differences</b> (each a case below, with the subject's own expectation):
 * <ol>
 *   <li>Misuse exception types: {@code WrongThreadException} (JDK 19+),
 *       {@code StructureViolationException} (preview) and {@code RejectedExecutionException} for a
 *       factory's null are not available or not fitting on weft's Java 17 baseline; weft throws
 *       {@code IllegalStateException} for all three, with a message saying what happened.
 *   <li>A factory thread that never runs its task: the JDK reports nothing (the subtask stays
 *       {@code UNAVAILABLE}, {@code join()} returns normally); weft fails the task and the scope
 *       (issue 18, defect 12: a task that never ran is not a success).
 *   <li>A zero (or elapsed) deadline: the JDK's fork returns an unavailable subtask; weft's
 *       {@code spawn} throws {@code ScopeTimeoutException}. The end is {@code TIMED_OUT} in both
 *       and no task runs. A negative timeout: the JDK treats it as elapsed; weft's builder throws
 *       {@code IllegalArgumentException}.
 *   <li>A task that completes after the scope was cancelled: the JDK's subtask stays
 *       {@code UNAVAILABLE}; weft's handle reports what the task did. The cases only compare
 *       handles of tasks that completed before any cancellation.
 *   <li>The JDK's {@code fork} is owner-only; weft also lets the scope's own threads spawn into
 *       their scope (tested in {@code ScopeTest}, {@code ScopeRegressionTest},
 *       {@code ScopePropertyTest}). Here trees are built with nested scopes, which both allow.
 *   <li>A block that throws inside try-with-resources: the JDK's {@code close()} always cancels
 *       first; weft's {@code close()} cannot see the exception and waits without cancelling
 *       ({@link Scope#run}/{@link Scope#call} cancel). The body-throws case checks each subject's
 *       own behaviour.
 *   <li>Closing an outer scope while an inner one is open: both end the inner scope first and
 *       throw; weft cancels the inner scope (interrupts its threads), the JDK waits for the inner
 *       scope's threads without interrupting them. A later fork into that inner scope: weft
 *       throws {@code IllegalStateException}; the JDK returns a subtask that never runs.
 *   <li>What "the end waited" means: weft's end joins every thread, so each has terminated
 *       ({@code isAlive()} is false) when it returns; the JDK's end waits until each thread has
 *       left the scope's flock, on the thread's exit path, so {@code isAlive()} can still be
 *       true for a moment. Both guarantee that no task code runs after the end.
 * </ol>
 */
@Timeout(30)
class ScopeContractTest {

  // ------------------------------------------------------------------ the normalised model

  /** How an end finished, across both APIs. */
  enum EndKind {
    RETURNED,
    FAILED,
    TIMED_OUT,
    INTERRUPTED,
    BODY_THREW
  }

  /** The outcome of an end: its kind, and the exception behind it (the failure's cause). */
  record End(EndKind kind, @Nullable Throwable cause) {}

  /** What a handle says after the end. */
  enum HandleKind {
    SUCCESS,
    FAILED,
    NOT_RUN
  }

  /** The test body's own exception (so that it is told apart from the scope's reports). */
  static final class BodyFailure extends Exception {
    private static final long serialVersionUID = 1L;

    BodyFailure(String message) {
      super(message);
    }
  }

  /** A task's failure in these tests. */
  static final class TaskFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    TaskFailure(String message) {
      super(message);
    }
  }

  /** A factory's own failure in these tests. */
  static final class FactoryFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    FactoryFailure() {
      super("the factory refuses");
    }
  }

  /** A task handle, read after the end only. */
  interface Handle {
    HandleKind kind();

    /** The result ({@code SUCCESS}) or the exception ({@code FAILED}). */
    @Nullable Object value();
  }

  /** The fork operation of one open scope. */
  interface Forker {
    Handle fork(Callable<?> task) throws Exception;
  }

  /** Code run by the owner between the open and the end. */
  interface Body {
    void run(Forker forker) throws Exception;
  }

  /** An open scope, for the cases that need the owner's raw operations. */
  interface Session extends Forker {
    /** The owner's end, normalised. */
    End end();

    /** The owner's (or anyone's) raw close, exceptions unchanged. */
    void closeRaw();
  }

  /** How a scope's threads are made. */
  enum Threads {
    DEFAULT,
    PLATFORM,
    VIRTUAL;

    @Nullable ThreadFactory factory() {
      return switch (this) {
        case PLATFORM -> Thread.ofPlatform().name("test-contract-p-", 0).factory();
        case VIRTUAL -> Thread.ofVirtual().name("test-contract-v-", 0).factory();
        case DEFAULT -> null;
      };
    }

    /** A factory for cases that must count or replace the factory (DEFAULT: platform). */
    ThreadFactory explicit() {
      ThreadFactory f = factory();
      return f != null ? f : Thread.ofPlatform().name("test-contract-d-", 0).factory();
    }
  }

  /** One implementation under test. */
  abstract static class Subject {
    final String name;

    Subject(String name) {
      this.name = name;
    }

    /** Opens a scope owned by the calling thread, runs the body, ends the scope. */
    abstract End run(@Nullable ThreadFactory factory, @Nullable Duration timeout, Body body);

    /** Opens a scope owned by the calling thread. */
    abstract Session open(@Nullable ThreadFactory factory, @Nullable Duration timeout);

    abstract Class<? extends RuntimeException> wrongThread();

    abstract Class<? extends RuntimeException> structureViolation();

    abstract Class<? extends RuntimeException> factoryReturnedNull();

    /** Whether a factory thread that never ran its task fails the scope (difference 2). */
    abstract boolean taskThatNeverRanIsAFailure();

    /** Whether a try-with-resources block's exception cancels the scope (difference 6). */
    abstract boolean bodyExceptionCancels();

    /** Whether the end returns only after every thread has terminated (difference 8). */
    abstract boolean endJoinsThreads();

    /** Whether a fork into a scope that an outer close ended throws (difference 7). */
    abstract boolean forkIntoAForceClosedScopeThrows();

    @Override
    public String toString() {
      return name;
    }
  }

  // ------------------------------------------------------------------ the JDK, as reference

  static final class Jdk extends Subject {
    Jdk() {
      super("StructuredTaskScope");
    }

    private static StructuredTaskScope<Object, Void> openScope(
        @Nullable ThreadFactory factory, @Nullable Duration timeout) {
      return StructuredTaskScope.open(
          StructuredTaskScope.Joiner.awaitAllSuccessfulOrThrow(),
          cf -> {
            StructuredTaskScope.Configuration c = cf;
            if (factory != null) {
              c = c.withThreadFactory(factory);
            }
            if (timeout != null) {
              c = c.withTimeout(timeout);
            }
            return c;
          });
    }

    static Handle handle(StructuredTaskScope.Subtask<?> st) {
      return new Handle() {
        @Override
        public HandleKind kind() {
          return switch (st.state()) {
            case SUCCESS -> HandleKind.SUCCESS;
            case FAILED -> HandleKind.FAILED;
            case UNAVAILABLE -> HandleKind.NOT_RUN;
          };
        }

        @Override
        public @Nullable Object value() {
          return switch (st.state()) {
            case SUCCESS -> st.get();
            case FAILED -> st.exception();
            case UNAVAILABLE -> null;
          };
        }
      };
    }

    static End classify(Throwable t) {
      if (t instanceof StructuredTaskScope.FailedException) {
        return new End(EndKind.FAILED, t.getCause());
      }
      if (t instanceof StructuredTaskScope.TimeoutException) {
        return new End(EndKind.TIMED_OUT, t);
      }
      if (t instanceof InterruptedException) {
        return new End(EndKind.INTERRUPTED, t);
      }
      if (t instanceof BodyFailure) {
        return new End(EndKind.BODY_THREW, t);
      }
      throw new AssertionError("unexpected exception from the end", t);
    }

    @Override
    End run(@Nullable ThreadFactory factory, @Nullable Duration timeout, Body body) {
      try (StructuredTaskScope<Object, Void> scope = openScope(factory, timeout)) {
        body.run(task -> handle(scope.fork(task)));
        scope.join();
        return new End(EndKind.RETURNED, null);
      } catch (Exception e) {
        // try-with-resources has closed the scope (waited for every thread) by now; an
        // "owner did not join" IllegalStateException is suppressed on the body's exception.
        return classify(e);
      }
    }

    @Override
    Session open(@Nullable ThreadFactory factory, @Nullable Duration timeout) {
      StructuredTaskScope<Object, Void> scope = openScope(factory, timeout);
      return new Session() {
        @Override
        public Handle fork(Callable<?> task) {
          return handle(scope.fork(task));
        }

        @Override
        public End end() {
          try {
            scope.join();
            return new End(EndKind.RETURNED, null);
          } catch (Exception e) {
            return classify(e);
          } finally {
            scope.close();
          }
        }

        @Override
        public void closeRaw() {
          scope.close();
        }
      };
    }

    @Override
    Class<? extends RuntimeException> wrongThread() {
      return WrongThreadException.class;
    }

    @Override
    Class<? extends RuntimeException> structureViolation() {
      return StructureViolationException.class;
    }

    @Override
    Class<? extends RuntimeException> factoryReturnedNull() {
      return RejectedExecutionException.class;
    }

    @Override
    boolean taskThatNeverRanIsAFailure() {
      return false;
    }

    @Override
    boolean bodyExceptionCancels() {
      return true;
    }

    @Override
    boolean endJoinsThreads() {
      return false;
    }

    @Override
    boolean forkIntoAForceClosedScopeThrows() {
      return false;
    }
  }

  // ------------------------------------------------------------------ weft

  /** weft's Scope; {@code viaRun} ends with {@link Scope#run}, else with {@link Scope#close()}. */
  static final class Weft extends Subject {
    private final boolean viaRun;

    Weft(boolean viaRun) {
      super(viaRun ? "weft Scope.run" : "weft Scope.open/close");
      this.viaRun = viaRun;
    }

    private static Scope.Builder builder(
        @Nullable ThreadFactory factory, @Nullable Duration timeout) {
      Scope.Builder b = Scope.builder();
      if (factory != null) {
        b.threadFactory(factory);
      }
      if (timeout != null) {
        b.timeout(timeout);
      }
      return b;
    }

    static Handle handle(ScopedThread<?> t) {
      return new Handle() {
        @Override
        public HandleKind kind() {
          try {
            t.join(Duration.ZERO);
            return HandleKind.SUCCESS;
          } catch (ScopeTimeoutException e) {
            return HandleKind.NOT_RUN;
          } catch (TaskFailedException e) {
            return e.getCause() instanceof java.util.concurrent.CancellationException
                ? HandleKind.NOT_RUN
                : HandleKind.FAILED;
          } catch (Exception e) {
            throw new AssertionError("handle not done after the end: " + t, e);
          }
        }

        @Override
        public @Nullable Object value() {
          try {
            return t.join(Duration.ZERO);
          } catch (TaskFailedException e) {
            return e.getCause();
          } catch (Exception e) {
            return null;
          }
        }
      };
    }

    static End classify(Throwable t) {
      if (t instanceof ScopeTimeoutException) { // a TaskFailedException too: test it first
        return new End(EndKind.TIMED_OUT, t);
      }
      if (t instanceof TaskFailedException) {
        return new End(EndKind.FAILED, t.getCause());
      }
      if (t instanceof InterruptedException) {
        return new End(EndKind.INTERRUPTED, t);
      }
      if (t instanceof BodyFailure) {
        return new End(EndKind.BODY_THREW, t);
      }
      throw new AssertionError("unexpected exception from the end", t);
    }

    /**
     * close() cannot throw InterruptedException: it re-asserts the interrupt status, and may
     * throw the failures of tasks the cancellation stopped. The status is how it reports the
     * owner's interrupt, so it decides: that is the INTERRUPTED end (the failure, if any, as
     * cause).
     */
    static End closeAndClassify(Scope scope) {
      End end;
      try {
        scope.close();
        end = new End(EndKind.RETURNED, null);
      } catch (RuntimeException e) {
        end = classify(e);
      }
      if (Thread.interrupted()) {
        return new End(EndKind.INTERRUPTED, end.cause());
      }
      return end;
    }

    @Override
    End run(@Nullable ThreadFactory factory, @Nullable Duration timeout, Body body) {
      Scope.Builder b = builder(factory, timeout);
      if (viaRun) {
        try {
          b.run(scope -> body.run(task -> handle(scope.spawn(task))));
          return new End(EndKind.RETURNED, null);
        } catch (Exception e) {
          return classify(e);
        }
      }
      Scope scope = b.open();
      try {
        body.run(task -> handle(scope.spawn(task)));
      } catch (Exception e) {
        // the try-with-resources shape: close() runs, the block's exception wins
        try {
          scope.close();
        } catch (RuntimeException suppressed) {
          e.addSuppressed(suppressed);
        }
        return classify(e);
      }
      return closeAndClassify(scope);
    }

    @Override
    Session open(@Nullable ThreadFactory factory, @Nullable Duration timeout) {
      Scope scope = builder(factory, timeout).open();
      return new Session() {
        @Override
        public Handle fork(Callable<?> task) throws InterruptedException {
          return handle(scope.spawn(task));
        }

        @Override
        public End end() {
          return closeAndClassify(scope);
        }

        @Override
        public void closeRaw() {
          scope.close();
        }
      };
    }

    @Override
    Class<? extends RuntimeException> wrongThread() {
      return IllegalStateException.class;
    }

    @Override
    Class<? extends RuntimeException> structureViolation() {
      return IllegalStateException.class;
    }

    @Override
    Class<? extends RuntimeException> factoryReturnedNull() {
      return IllegalStateException.class;
    }

    @Override
    boolean taskThatNeverRanIsAFailure() {
      return true;
    }

    @Override
    boolean bodyExceptionCancels() {
      return viaRun;
    }

    @Override
    boolean endJoinsThreads() {
      return true;
    }

    @Override
    boolean forkIntoAForceClosedScopeThrows() {
      return true;
    }
  }

  static Stream<Subject> subjects() {
    return Stream.of(new Jdk(), new Weft(true), new Weft(false));
  }

  static Stream<Arguments> subjectsAndThreads() {
    return subjects()
        .flatMap(s -> Stream.of(Threads.values()).map(t -> Arguments.of(s, t)));
  }

  // ------------------------------------------------------------------ helpers

  /** Blocks (interruptibly) for far longer than any test; the scope's cancel ends it. */
  private static void blockUntilInterrupted(AtomicBoolean interrupted)
      throws InterruptedException {
    try {
      new CountDownLatch(1).await(20, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      interrupted.set(true);
      throw e;
    }
  }

  /**
   * Every thread that ran a task has terminated. weft's end joins the threads, so they have
   * terminated when it returns; the JDK's end waits until each thread has left the scope's
   * flock, which happens on the thread's exit path, so {@code isAlive()} may stay true a moment
   * longer (difference 8): for the JDK the threads must terminate within a bound, running no
   * task code (each case checks that through its task's own flags).
   */
  private static void assertAllTerminated(Subject s, Queue<Thread> threads)
      throws InterruptedException {
    for (Thread t : threads) {
      if (!s.endJoinsThreads()) {
        t.join(TimeUnit.SECONDS.toMillis(5));
      }
      assertThat(t.isAlive()).as("%s alive after the end (%s)", t, s).isFalse();
    }
  }

  // ------------------------------------------------------------------ the cases

  @ParameterizedTest(name = "{0}, {1} threads")
  @MethodSource("subjectsAndThreads")
  void theEndWaitsForEveryTaskAndPublishesWhatTheTasksWrote(Subject s, Threads threads) throws Exception {
    int n = 8;
    int[] input = new int[n]; // plain: written before each fork, read by the task
    int[] output = new int[n]; // plain: written by the tasks, read after the end
    Queue<Thread> ran = new ConcurrentLinkedQueue<>();
    List<Handle> handles = new ArrayList<>();
    End end =
        s.run(
            threads.factory(),
            null,
            f -> {
              for (int i = 0; i < n; i++) {
                int k = i;
                input[k] = k + 100;
                handles.add(
                    f.fork(
                        () -> {
                          ran.add(Thread.currentThread());
                          Thread.sleep(k % 3); // staggered finishes
                          output[k] = input[k] * 2;
                          return input[k];
                        }));
              }
            });
    assertThat(end.kind()).isEqualTo(EndKind.RETURNED);
    assertThat(ran).hasSize(n);
    assertAllTerminated(s, ran);
    for (int i = 0; i < n; i++) {
      assertThat(output[i]).isEqualTo((i + 100) * 2);
      assertThat(handles.get(i).kind()).isEqualTo(HandleKind.SUCCESS);
      assertThat(handles.get(i).value()).isEqualTo(i + 100);
    }
    if (threads == Threads.VIRTUAL) {
      assertThat(ran).allSatisfy(t -> assertThat(t.isVirtual()).isTrue());
    }
  }

  @ParameterizedTest(name = "{0}, {1} threads")
  @MethodSource("subjectsAndThreads")
  void aFailureIsReportedByTheEndWithTheOriginalException(Subject s, Threads threads) throws Exception {
    TaskFailure boom = new TaskFailure("boom");
    List<Handle> handles = new ArrayList<>();
    End end =
        s.run(
            threads.factory(),
            null,
            f ->
                handles.add(
                    f.fork(
                        () -> {
                          throw boom;
                        })));
    assertThat(end.kind()).isEqualTo(EndKind.FAILED);
    assertThat(end.cause()).isSameAs(boom);
    assertThat(handles.get(0).kind()).isEqualTo(HandleKind.FAILED);
    assertThat(handles.get(0).value()).isSameAs(boom);
  }

  @ParameterizedTest(name = "{0}, {1} threads")
  @MethodSource("subjectsAndThreads")
  void theFirstFailureCancelsTheOtherTasks(Subject s, Threads threads) throws Exception {
    TaskFailure boom = new TaskFailure("boom");
    AtomicBoolean interrupted = new AtomicBoolean();
    CountDownLatch blocking = new CountDownLatch(1);
    Queue<Thread> ran = new ConcurrentLinkedQueue<>();
    End end =
        s.run(
            threads.factory(),
            null,
            f -> {
              f.fork(
                  () -> {
                    ran.add(Thread.currentThread());
                    blocking.countDown();
                    blockUntilInterrupted(interrupted);
                    return null;
                  });
              f.fork(
                  () -> {
                    ran.add(Thread.currentThread());
                    blocking.await();
                    throw boom;
                  });
            });
    assertThat(end.kind()).isEqualTo(EndKind.FAILED);
    assertThat(end.cause()).isSameAs(boom);
    assertThat(interrupted).as("the sibling was interrupted").isTrue();
    assertAllTerminated(s, ran);
  }

  @ParameterizedTest(name = "{0}, {1} threads")
  @MethodSource("subjectsAndThreads")
  void theEndWaitsForATaskThatIgnoresTheCancellation(Subject s, Threads threads) throws Exception {
    AtomicBoolean stubbornFinished = new AtomicBoolean();
    CountDownLatch started = new CountDownLatch(1);
    Queue<Thread> ran = new ConcurrentLinkedQueue<>();
    End end =
        s.run(
            threads.factory(),
            null,
            f -> {
              f.fork(
                  () -> {
                    ran.add(Thread.currentThread());
                    started.countDown();
                    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(150);
                    while (System.nanoTime() - until < 0) {
                      Thread.interrupted(); // swallows the cancellation on purpose
                      Thread.onSpinWait();
                    }
                    stubbornFinished.set(true);
                    return null;
                  });
              f.fork(
                  () -> {
                    started.await();
                    throw new TaskFailure("boom");
                  });
            });
    assertThat(end.kind()).isEqualTo(EndKind.FAILED);
    assertThat(stubbornFinished).as("the end waited for the stubborn task").isTrue();
    assertAllTerminated(s, ran);
  }

  @ParameterizedTest(name = "{0}, {1} threads")
  @MethodSource("subjectsAndThreads")
  void whenTwoTasksFailTheEndReportsOneOfThem(Subject s, Threads threads) throws Exception {
    TaskFailure a = new TaskFailure("a");
    TaskFailure b = new TaskFailure("b");
    CyclicBarrier both = new CyclicBarrier(2);
    End end =
        s.run(
            threads.factory(),
            null,
            f -> {
              f.fork(
                  () -> {
                    both.await(10, TimeUnit.SECONDS);
                    throw a;
                  });
              f.fork(
                  () -> {
                    both.await(10, TimeUnit.SECONDS);
                    throw b;
                  });
            });
    assertThat(end.kind()).isEqualTo(EndKind.FAILED);
    assertThat(end.cause()).isIn(a, b);
  }

  @ParameterizedTest(name = "{0}, {1} threads")
  @MethodSource("subjectsAndThreads")
  void aForkIntoACancelledScopeNeitherCallsTheFactoryNorRunsTheTask(
      Subject s, Threads threads) throws Exception {
    ThreadFactory base = threads.explicit();
    AtomicInteger made = new AtomicInteger();
    ThreadFactory counting =
        r -> {
          made.incrementAndGet();
          return base.newThread(r);
        };
    TaskFailure boom = new TaskFailure("boom");
    AtomicReference<Thread> failing = new AtomicReference<>();
    AtomicBoolean lateRan = new AtomicBoolean();
    AtomicInteger madeBeforeLateFork = new AtomicInteger(-1);
    List<Handle> late = new ArrayList<>();
    End end =
        s.run(
            counting,
            null,
            f -> {
              f.fork(
                  () -> {
                    failing.set(Thread.currentThread());
                    throw boom;
                  });
              // Both cancel in the failing thread before it terminates.
              Thread t;
              while ((t = failing.get()) == null) {
                Thread.onSpinWait();
              }
              t.join();
              madeBeforeLateFork.set(made.get());
              late.add(f.fork(() -> lateRan.getAndSet(true)));
            });
    assertThat(end.kind()).isEqualTo(EndKind.FAILED);
    assertThat(end.cause()).isSameAs(boom);
    assertThat(made.get()).as("factory calls").isEqualTo(madeBeforeLateFork.get()).isEqualTo(1);
    assertThat(lateRan).isFalse();
    assertThat(late.get(0).kind()).isEqualTo(HandleKind.NOT_RUN);
  }

  @ParameterizedTest(name = "{0}, {1} threads")
  @MethodSource("subjectsAndThreads")
  void theDeadlineCancelsTheScopeWhileTheOwnerDoesNotTouchIt(Subject s, Threads threads) throws Exception {
    AtomicBoolean interrupted = new AtomicBoolean();
    CountDownLatch cancelled = new CountDownLatch(1);
    AtomicBoolean sawCancelWhileBusy = new AtomicBoolean();
    Queue<Thread> ran = new ConcurrentLinkedQueue<>();
    End end =
        s.run(
            threads.factory(),
            Duration.ofMillis(100),
            f -> {
              f.fork(
                  () -> {
                    ran.add(Thread.currentThread());
                    try {
                      blockUntilInterrupted(interrupted);
                    } finally {
                      cancelled.countDown();
                    }
                    return null;
                  });
              // The owner is busy elsewhere: it neither forks nor joins until the task saw the
              // cancellation (or 10 s passed, which fails the case).
              sawCancelWhileBusy.set(cancelled.await(10, TimeUnit.SECONDS));
            });
    assertThat(sawCancelWhileBusy).as("cancelled at the deadline, not at the end").isTrue();
    assertThat(interrupted).isTrue();
    assertThat(end.kind()).isEqualTo(EndKind.TIMED_OUT);
    assertAllTerminated(s, ran);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("subjects")
  void aScopeThatFinishesBeforeItsDeadlineEndsNormally(Subject s) throws Exception {
    List<Handle> handles = new ArrayList<>();
    End end = s.run(null, Duration.ofSeconds(20), f -> handles.add(f.fork(() -> 42)));
    assertThat(end.kind()).isEqualTo(EndKind.RETURNED);
    assertThat(handles.get(0).kind()).isEqualTo(HandleKind.SUCCESS);
    assertThat(handles.get(0).value()).isEqualTo(42);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("subjects")
  void aZeroDeadlineEndsTimedOutAndCancelsWhatWasForked(Subject s) throws Exception {
    AtomicBoolean ranPastTheDeadline = new AtomicBoolean();
    AtomicBoolean interrupted = new AtomicBoolean();
    End end =
        s.run(
            null,
            Duration.ZERO,
            f ->
                f.fork(
                    () -> {
                      // The JDK's timer may fire just after the fork; the task then blocks
                      // until the cancellation reaches it. weft's spawn checks first (the
                      // task never starts), difference 3.
                      blockUntilInterrupted(interrupted);
                      ranPastTheDeadline.set(true);
                      return null;
                    }));
    assertThat(end.kind()).isEqualTo(EndKind.TIMED_OUT);
    assertThat(ranPastTheDeadline).isFalse();
    if (s instanceof Weft) {
      assertThat(interrupted).as("weft never starts the task").isFalse();
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("subjects")
  void aNegativeTimeout(Subject s) throws Exception {
    if (s instanceof Weft) {
      // Difference 3: weft rejects a negative timeout when the scope is built.
      assertThatThrownBy(() -> Scope.builder().timeout(Duration.ofMillis(-1)))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("PT-0.001S");
    } else {
      AtomicBoolean interrupted = new AtomicBoolean();
      End end =
          s.run(
              null,
              Duration.ofMillis(-1),
              f ->
                  f.fork(
                      () -> {
                        blockUntilInterrupted(interrupted);
                        return null;
                      }));
      assertThat(end.kind()).isEqualTo(EndKind.TIMED_OUT);
    }
  }

  @ParameterizedTest(name = "{0}, {1} threads")
  @MethodSource("subjectsAndThreads")
  void theOwnerInterruptedAtTheEndCancelsAndStillWaits(Subject s, Threads threads)
      throws Exception {
    AtomicBoolean interrupted = new AtomicBoolean();
    AtomicBoolean taskFinished = new AtomicBoolean();
    CountDownLatch started = new CountDownLatch(1);
    Queue<Thread> ran = new ConcurrentLinkedQueue<>();
    AtomicReference<@Nullable End> end = new AtomicReference<>();
    AtomicBoolean finishedBeforeEndReturned = new AtomicBoolean();
    Thread owner =
        new Thread(
            () -> {
              End e =
                  s.run(
                      threads.factory(),
                      null,
                      f ->
                          f.fork(
                              () -> {
                                ran.add(Thread.currentThread());
                                started.countDown();
                                try {
                                  blockUntilInterrupted(interrupted);
                                } finally {
                                  // still running for a while after the cancellation
                                  long until = System.nanoTime() + 20_000_000L;
                                  while (System.nanoTime() - until < 0) {
                                    Thread.onSpinWait();
                                  }
                                  taskFinished.set(true);
                                }
                                return null;
                              }));
              finishedBeforeEndReturned.set(taskFinished.get());
              end.set(e);
            },
            "test-contract-owner");
    owner.start();
    try {
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      Waits.awaitBlocked(owner); // the owner waits at the end
      owner.interrupt();
    } finally {
      owner.join(TimeUnit.SECONDS.toMillis(20));
    }
    assertThat(owner.isAlive()).isFalse();
    End e = end.get();
    assertThat(e).isNotNull();
    assertThat(e.kind()).isEqualTo(EndKind.INTERRUPTED);
    assertThat(interrupted).as("the task was cancelled").isTrue();
    assertThat(finishedBeforeEndReturned).as("the end waited for the task").isTrue();
    assertAllTerminated(s, ran);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("subjects")
  void aForkAfterTheEndIsRejectedWithIllegalStateException(Subject s) throws Exception {
    AtomicReference<@Nullable Forker> leaked = new AtomicReference<>();
    AtomicBoolean ran = new AtomicBoolean();
    End end =
        s.run(
            null,
            null,
            f -> {
              leaked.set(f);
              f.fork(() -> 1);
            });
    assertThat(end.kind()).isEqualTo(EndKind.RETURNED);
    Forker f = leaked.get();
    assertThat(f).isNotNull();
    assertThatThrownBy(() -> f.fork(() -> ran.getAndSet(true)))
        .isInstanceOf(IllegalStateException.class);
    assertThat(ran).isFalse();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("subjects")
  void aForkFromAThreadOutsideTheScopeIsRejected(Subject s) throws Exception {
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    AtomicBoolean ran = new AtomicBoolean();
    End end =
        s.run(
            null,
            null,
            f -> {
              Thread outsider =
                  new Thread(
                      () -> {
                        try {
                          f.fork(() -> ran.getAndSet(true));
                        } catch (Throwable t) {
                          thrown.set(t);
                        }
                      },
                      "test-contract-outsider");
              outsider.start();
              outsider.join();
            });
    assertThat(end.kind()).isEqualTo(EndKind.RETURNED);
    assertThat(thrown.get()).isInstanceOf(s.wrongThread());
    assertThat(ran).isFalse();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("subjects")
  void anEndByAnotherThreadThanTheOwnerIsRejected(Subject s) throws Exception {
    Session session = s.open(null, null);
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    try {
      Thread other =
          new Thread(
              () -> {
                try {
                  session.closeRaw();
                } catch (Throwable t) {
                  thrown.set(t);
                }
              },
              "test-contract-other");
      other.start();
      other.join();
      // Still open for its owner: a fork works.
      Handle h = session.fork(() -> 7);
      assertThat(session.end().kind()).isEqualTo(EndKind.RETURNED);
      assertThat(h.value()).isEqualTo(7);
    } finally {
      session.closeRaw(); // a second close by the owner does nothing
    }
    assertThat(thrown.get()).isInstanceOf(s.wrongThread());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("subjects")
  void closingAnOuterScopeFirstEndsTheInnerOneAndThrows(Subject s) throws Exception {
    Session outer = s.open(null, null);
    Session inner = s.open(null, null);
    AtomicBoolean innerTaskInterrupted = new AtomicBoolean();
    AtomicBoolean innerTaskFinished = new AtomicBoolean();
    CountDownLatch started = new CountDownLatch(1);
    Queue<Thread> ran = new ConcurrentLinkedQueue<>();
    try {
      inner.fork(
          () -> {
            ran.add(Thread.currentThread());
            started.countDown();
            try {
              // Bounded: the JDK waits for the inner scope's threads without interrupting them.
              new CountDownLatch(1).await(300, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
              innerTaskInterrupted.set(true);
            }
            innerTaskFinished.set(true);
            return null;
          });
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      assertThatThrownBy(outer::closeRaw).isInstanceOf(s.structureViolation());
      assertThat(innerTaskFinished).as("the inner scope was ended first").isTrue();
      // Difference 7: weft cancels the inner scope; the JDK waits for its threads.
      assertThat(innerTaskInterrupted.get()).isEqualTo(s instanceof Weft);
      assertAllTerminated(s, ran);
      AtomicBoolean lateRan = new AtomicBoolean();
      if (s.forkIntoAForceClosedScopeThrows()) {
        assertThatThrownBy(() -> inner.fork(() -> lateRan.getAndSet(true)))
            .as("the inner scope is closed")
            .isInstanceOf(IllegalStateException.class);
      } else {
        // Difference 7: the JDK's fork returns a subtask that never runs.
        assertThat(inner.fork(() -> lateRan.getAndSet(true)).kind())
            .isEqualTo(HandleKind.NOT_RUN);
      }
      assertThat(lateRan).isFalse();
    } finally {
      // Cleanup only (a failed assertion above must not leave scopes open): weft's second
      // close does nothing; the JDK's reports that the inner owner never joined.
      closeQuietly(inner);
      closeQuietly(outer);
    }
  }

  private static void closeQuietly(Session session) {
    try {
      session.closeRaw();
    } catch (IllegalStateException ignored) {
      // see the caller
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("subjects")
  void aFactoryThatReturnsNullMakesTheForkThrowAndNothingRuns(Subject s) throws Exception {
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    AtomicBoolean ran = new AtomicBoolean();
    End end =
        s.run(
            r -> null,
            null,
            f -> {
              try {
                f.fork(() -> ran.getAndSet(true));
              } catch (RuntimeException e) {
                thrown.set(e);
              }
            });
    assertThat(thrown.get()).isInstanceOf(s.factoryReturnedNull());
    assertThat(ran).isFalse();
    assertThat(end.kind()).isEqualTo(EndKind.RETURNED);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("subjects")
  void aFactoryThatThrowsMakesTheForkThrowTheSameException(Subject s) throws Exception {
    FactoryFailure refusal = new FactoryFailure();
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    AtomicBoolean ran = new AtomicBoolean();
    End end =
        s.run(
            r -> {
              throw refusal;
            },
            null,
            f -> {
              try {
                f.fork(() -> ran.getAndSet(true));
              } catch (RuntimeException e) {
                thrown.set(e);
              }
            });
    assertThat(thrown.get()).isSameAs(refusal);
    assertThat(ran).isFalse();
    assertThat(end.kind()).isEqualTo(EndKind.RETURNED);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("subjects")
  void aFactoryThreadThatNeverRunsTheTask(Subject s) throws Exception {
    ThreadFactory ignoresTask =
        r -> Thread.ofPlatform().name("test-contract-ignorer").unstarted(() -> {});
    AtomicBoolean ran = new AtomicBoolean();
    List<Handle> handles = new ArrayList<>();
    End end = s.run(ignoresTask, null, f -> handles.add(f.fork(() -> ran.getAndSet(true))));
    assertThat(ran).isFalse();
    if (s.taskThatNeverRanIsAFailure()) {
      // Difference 2: weft does not count a task that never ran as done or successful.
      assertThat(end.kind()).isEqualTo(EndKind.FAILED);
      assertThat(handles.get(0).kind()).isEqualTo(HandleKind.FAILED);
    } else {
      assertThat(end.kind()).isEqualTo(EndKind.RETURNED);
      assertThat(handles.get(0).kind()).isEqualTo(HandleKind.NOT_RUN);
    }
  }

  @ParameterizedTest(name = "{0}, {1} threads")
  @MethodSource("subjectsAndThreads")
  void aBodyThatThrowsCancelsTheTasksAndItsExceptionWins(Subject s, Threads threads) throws Exception {
    AtomicBoolean interrupted = new AtomicBoolean();
    CountDownLatch started = new CountDownLatch(1);
    Queue<Thread> ran = new ConcurrentLinkedQueue<>();
    BodyFailure failure = new BodyFailure("the body fails");
    AtomicBoolean stop = new AtomicBoolean();
    End end =
        s.run(
            threads.factory(),
            null,
            f -> {
              f.fork(
                  () -> {
                    ran.add(Thread.currentThread());
                    started.countDown();
                    if (s.bodyExceptionCancels()) {
                      blockUntilInterrupted(interrupted);
                    } else {
                      // Difference 6: weft's close() waits without cancelling; the task ends
                      // on its own (when the body has thrown), so the case still terminates.
                      while (!stop.get()) {
                        Thread.onSpinWait();
                      }
                    }
                    return null;
                  });
              started.await();
              stop.set(true);
              throw failure;
            });
    assertThat(end.kind()).isEqualTo(EndKind.BODY_THREW);
    assertThat(end.cause()).isSameAs(failure);
    assertThat(interrupted.get()).isEqualTo(s.bodyExceptionCancels());
    assertAllTerminated(s, ran);
  }

  @ParameterizedTest(name = "{0}, {1} threads")
  @MethodSource("subjectsAndThreads")
  void nestedScopesInTasksAllEndBeforeTheOuterEndReturns(Subject s, Threads threads) throws Exception {
    Queue<Thread> ran = new ConcurrentLinkedQueue<>();
    AtomicInteger leaves = new AtomicInteger();
    End end =
        s.run(
            threads.factory(),
            null,
            outer -> {
              for (int i = 0; i < 3; i++) {
                outer.fork(
                    () -> {
                      ran.add(Thread.currentThread());
                      End inner =
                          s.run(
                              threads.factory(),
                              null,
                              f -> {
                                for (int j = 0; j < 3; j++) {
                                  f.fork(
                                      () -> {
                                        ran.add(Thread.currentThread());
                                        Thread.sleep(2);
                                        return leaves.incrementAndGet();
                                      });
                                }
                              });
                      assertThat(inner.kind()).isEqualTo(EndKind.RETURNED);
                      return null;
                    });
              }
            });
    assertThat(end.kind()).isEqualTo(EndKind.RETURNED);
    assertThat(leaves).hasValue(9);
    assertThat(ran).hasSize(12);
    assertAllTerminated(s, ran);
  }

  @ParameterizedTest(name = "{0}, {1} threads")
  @MethodSource("subjectsAndThreads")
  void aFailureInANestedScopeReachesTheOuterEnd(Subject s, Threads threads) throws Exception {
    TaskFailure leaf = new TaskFailure("leaf");
    End end =
        s.run(
            threads.factory(),
            null,
            outer ->
                outer.fork(
                    () -> {
                      End inner =
                          s.run(
                              threads.factory(),
                              null,
                              f ->
                                  f.fork(
                                      () -> {
                                        throw leaf;
                                      }));
                      assertThat(inner.kind()).isEqualTo(EndKind.FAILED);
                      assertThat(inner.cause()).isSameAs(leaf);
                      throw new TaskFailure("inner scope failed: " + inner.cause());
                    }));
    assertThat(end.kind()).isEqualTo(EndKind.FAILED);
    assertThat(end.cause()).hasMessageContaining("leaf");
  }
}
