package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The contract of {@link Parallel} held against every way an {@link Executor} or a {@link
 * ThreadFactory} may behave: direct, caller-runs, rejecting (always or sometimes), delayed, never
 * running, running only after the call returned, virtual threads (JDK 21+), new threads and a
 * factory; and factories that return null, throw, return a started thread or the caller itself.
 *
 * <p>Each kind must keep every documented guarantee: results equal to the sequential model,
 * every element run exactly once and before the call returns (happens-before: plain writes are
 * all visible), no element run after the call, failures reported as documented, the user's
 * interrupt never lost, the calling thread never interrupted by weft, no thread left behind.
 *
 * <p>Issue 18, defect 5: with a caller-runs or direct executor the caller ran a worker's loop,
 * was then interrupted by weft as a worker and had its interrupt cleared on exit.
 */
@Timeout(60)
class ParallelExecutorContractTest {
  private static final Parallel.Options SPLIT =
      Parallel.options().sequentialCutoff(Duration.ZERO);
  private static final int N = 2_000;

  // -------------------------------------------------------------------------- executors

  /** Where the workers come from in a contract case. */
  enum Kind {
    NEW_THREADS,
    FACTORY,
    POOL,
    DIRECT,
    CALLER_RUNS,
    REJECTING,
    REJECT_EVERY_OTHER,
    DELAYED,
    NEVER_RUNS,
    RUN_AFTER_RETURN,
    VIRTUAL
  }

  /** Workers for one case; close() stops and joins everything the case started. */
  static final class Env implements AutoCloseable {
    final Parallel.Options options;
    private final List<Runnable> deferred = Collections.synchronizedList(new ArrayList<>());
    private final List<Thread> threads = Collections.synchronizedList(new ArrayList<>());
    private @org.jspecify.annotations.Nullable ExecutorService service;

    Env(Kind kind, int threadCount) {
      Parallel.Options base = SPLIT.threads(threadCount);
      ThreadFactory named = r -> {
        Thread t = new Thread(r, "test-contract-" + threads.size());
        threads.add(t);
        return t;
      };
      switch (kind) {
        case NEW_THREADS -> options = base;
        case FACTORY -> options = base.threadFactory(named);
        case POOL -> {
          service = Executors.newFixedThreadPool(threadCount, named);
          options = base.executor(service);
        }
        case DIRECT -> options = base.executor(Runnable::run);
        case CALLER_RUNS -> {
          service = callerRunsPool(1, named);
          options = base.executor(service);
        }
        case REJECTING -> options = base.executor(r -> {
          throw new RejectedExecutionException("always full");
        });
        case REJECT_EVERY_OTHER -> {
          ExecutorService pool = Executors.newFixedThreadPool(threadCount, named);
          service = pool;
          AtomicInteger calls = new AtomicInteger();
          options = base.executor(r -> {
            if (calls.getAndIncrement() % 2 == 0) {
              throw new RejectedExecutionException("full this time");
            }
            pool.execute(r);
          });
        }
        case DELAYED -> {
          ScheduledExecutorService ses = Executors.newScheduledThreadPool(threadCount, named);
          service = ses;
          options = base.executor(r -> {
            java.util.concurrent.Future<?> unused = ses.schedule(r, 1, TimeUnit.MILLISECONDS);
          });
        }
        case NEVER_RUNS -> options = base.executor(r -> { });
        case RUN_AFTER_RETURN -> options = base.executor(deferred::add);
        case VIRTUAL -> {
          service = virtualThreadExecutor();
          options = base.executor(service);
        }
        default -> throw new AssertionError(kind);
      }
    }

    /** Runs the tasks an executor held back, on another thread, once the call has returned. */
    void runDeferred() throws InterruptedException {
      List<Runnable> tasks;
      synchronized (deferred) {
        tasks = new ArrayList<>(deferred);
        deferred.clear();
      }
      if (tasks.isEmpty()) {
        return;
      }
      Thread late = new Thread(() -> tasks.forEach(Runnable::run), "test-late-runner");
      late.start();
      late.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(late.isAlive()).isFalse();
    }

    @Override
    public void close() {
      try {
        closeInterruptibly();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted while stopping the workers", e);
      }
    }

    private void closeInterruptibly() throws InterruptedException {
      runDeferred();
      ExecutorService s = service;
      if (s != null) {
        s.shutdown();
        assertThat(s.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
      }
      for (Thread t : threads) {
        t.join(TimeUnit.SECONDS.toMillis(20));
        assertThat(t.isAlive()).as("thread %s", t.getName()).isFalse();
      }
    }
  }

  static ThreadPoolExecutor callerRunsPool(int size, ThreadFactory factory) {
    return new ThreadPoolExecutor(size, size, 1, TimeUnit.MINUTES, new SynchronousQueue<>(),
        factory, new ThreadPoolExecutor.CallerRunsPolicy());
  }

  static ExecutorService virtualThreadExecutor() {
    assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    try {
      return (ExecutorService)
          Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
    } catch (ReflectiveOperationException e) {
      throw new LinkageError("newVirtualThreadPerTaskExecutor", e);
    }
  }

  /** Some work per element (about a microsecond), so that several threads take part. */
  static long work(long x) {
    long acc = x;
    for (int i = 0; i < 300; i++) {
      acc = acc * 6364136223846793005L + 1442695040888963407L;
    }
    return acc;
  }

  static List<Long> input(int n) {
    return LongStream.range(0, n).boxed().collect(Collectors.toList());
  }

  // ----------------------------------------------------------------- contract: results

  @ParameterizedTest
  @EnumSource(Kind.class)
  void everyOperationEqualsTheSequentialModelAndRunsEachElementOnceBeforeReturn(Kind kind)
      throws Exception {
    List<Long> in = input(N);
    long[] arr = LongStream.range(0, N).toArray();
    long[] expected = LongStream.range(0, N).map(ParallelExecutorContractTest::work).toArray();
    long expectedSum = LongStream.of(expected).sum();
    AtomicBoolean returned = new AtomicBoolean();
    AtomicInteger late = new AtomicInteger();
    Thread caller = Thread.currentThread();
    AtomicInteger callerSawInterrupt = new AtomicInteger();
    try (Env env = new Env(kind, 4)) {
      AtomicIntegerArray runs = new AtomicIntegerArray(N);
      long[] plain = new long[N]; // plain writes: visible after return only by happens-before
      java.util.function.LongUnaryOperator f = x -> {
        if (returned.get()) {
          late.incrementAndGet();
        }
        runs.incrementAndGet((int) x);
        long r = work(x);
        if (Thread.currentThread() == caller && caller.isInterrupted()) {
          callerSawInterrupt.incrementAndGet();
        }
        return r;
      };
      try {
        assertThat(Parallel.map(in, x -> f.applyAsLong(x), env.options))
            .containsExactlyElementsOf(LongStream.of(expected).boxed().toList());
        assertThat(Parallel.map(arr, f, env.options)).containsExactly(expected);
        assertThat(Parallel.reduce(in, x -> f.applyAsLong(x), 0L, Long::sum, env.options))
            .isEqualTo(expectedSum);
        assertThat(Parallel.reduce(arr, f, 0L, Long::sum, env.options)).isEqualTo(expectedSum);
        Parallel.forEach(in, x -> plain[(int) (long) x] = f.applyAsLong(x), env.options);
        assertThat(plain).containsExactly(expected);
        long[] plain2 = new long[N];
        Parallel.forRange(0, N, i -> plain2[i] = f.applyAsLong(i), env.options);
        assertThat(plain2).containsExactly(expected);
      } finally {
        returned.set(true);
      }
      for (int i = 0; i < N; i++) {
        assertThat(runs.get(i)).as("runs of element %d", i).isEqualTo(6);
      }
    }
    assertThat(late).as("invocations after the call returned").hasValue(0);
    assertThat(callerSawInterrupt).as("caller interrupted during the call").hasValue(0);
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
  }

  // ----------------------------------------------------------------- contract: failures

  @ParameterizedTest
  @EnumSource(Kind.class)
  void aFailureIsReportedAsTheCauseAndNothingRunsAfterTheCall(Kind kind) throws Exception {
    for (int failAt : new int[] {0, N / 2, N - 1}) {
      AtomicBoolean returned = new AtomicBoolean();
      AtomicInteger late = new AtomicInteger();
      Set<Throwable> thrown = ConcurrentHashMap.newKeySet();
      Thread caller = Thread.currentThread();
      AtomicInteger callerSawInterrupt = new AtomicInteger();
      try (Env env = new Env(kind, 4)) {
        Throwable reported;
        try {
          Parallel.forEach(input(N), x -> {
            if (returned.get()) {
              late.incrementAndGet();
            }
            work(x);
            if (Thread.currentThread() == caller && caller.isInterrupted()) {
              callerSawInterrupt.incrementAndGet();
            }
            if (x == failAt) {
              IllegalStateException e = new IllegalStateException("element " + x);
              thrown.add(e);
              throw e;
            }
          }, env.options);
          throw new AssertionError("no failure reported for element " + failAt);
        } catch (TaskFailedException e) {
          reported = e;
        } finally {
          returned.set(true);
        }
        assertThat(reported.getCause()).isIn(thrown);
        assertThat(reported.getSuppressed()).isEmpty();
        assertThat(reported).hasMessageContaining("Parallel.forEach failed")
            .hasMessageContaining("element " + failAt);
      }
      assertThat(thrown).hasSize(1);
      assertThat(late).hasValue(0);
      assertThat(callerSawInterrupt).hasValue(0);
      assertThat(Thread.currentThread().isInterrupted()).isFalse();
    }
  }

  // -------------------------------------------------------- contract: user's interrupt

  @ParameterizedTest
  @EnumSource(Kind.class)
  void theUsersInterruptDuringTheCallCancelsItAndIsNeverLost(Kind kind) throws Exception {
    Thread caller = Thread.currentThread();
    AtomicBoolean interruptedByUser = new AtomicBoolean();
    AtomicBoolean returned = new AtomicBoolean();
    AtomicInteger late = new AtomicInteger();
    try (Env env = new Env(kind, 4)) {
      Throwable outcome = null;
      List<Long> result = null;
      try {
        result = Parallel.map(input(N), x -> {
          if (returned.get()) {
            late.incrementAndGet();
          }
          if (Thread.currentThread() == caller && x >= 10
              && interruptedByUser.compareAndSet(false, true)) {
            caller.interrupt(); // the user's own interrupt, sent during the call
          }
          return work(x);
        }, env.options);
      } catch (RuntimeException e) {
        outcome = e;
      } finally {
        returned.set(true);
      }
      boolean stillInterrupted = Thread.interrupted();
      if (interruptedByUser.get()) {
        assertThat(stillInterrupted).as("the user's interrupt survives the call").isTrue();
        assertThat(outcome).as("an interrupted caller cancels the call")
            .isInstanceOf(CancellationException.class).hasMessageContaining("interrupted");
      } else {
        // The workers took every chunk before the caller ran one element: nothing to cancel.
        assertThat(stillInterrupted).isFalse();
        assertThat(outcome).isNull();
        assertThat(result).hasSize(N);
      }
    }
    assertThat(late).hasValue(0);
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void anInterruptBeforeTheCallCancelsItWithoutRunningAnything(Kind kind) throws Exception {
    AtomicInteger runs = new AtomicInteger();
    try (Env env = new Env(kind, 4)) {
      Thread.currentThread().interrupt();
      try {
        assertThatThrownBy(() -> Parallel.forRange(0, N, i -> runs.incrementAndGet(),
            env.options)).isInstanceOf(CancellationException.class);
        assertThat(Thread.currentThread().isInterrupted()).isTrue();
      } finally {
        Thread.interrupted();
      }
    }
    assertThat(runs).hasValue(0);
  }

  // ------------------------------------------------ defect 5: the caller is also a worker

  /**
   * A caller-runs pool of one thread: the first worker runs on the pool thread, the next one is
   * rejected and so runs on the caller inside {@code execute}. The pool worker fails while the
   * caller is inside the function; afterExecute tells the caller when the pool worker (and so
   * weft's stop, and any interrupt it sends) is over.
   */
  @RepeatedTest(10)
  void callerRunsPolicyNeverMakesWeftInterruptTheCaller() throws Exception {
    CountDownLatch callerInF = new CountDownLatch(1);
    CountDownLatch poolTaskDone = new CountDownLatch(1);
    List<Thread> poolThreads = Collections.synchronizedList(new ArrayList<>());
    ThreadPoolExecutor pool = new ThreadPoolExecutor(1, 1, 1, TimeUnit.MINUTES,
        new SynchronousQueue<>(), r -> {
          Thread t = new Thread(r, "test-caller-runs-pool");
          poolThreads.add(t);
          return t;
        }, new ThreadPoolExecutor.CallerRunsPolicy()) {
      @Override
      protected void afterExecute(Runnable r, Throwable t) {
        poolTaskDone.countDown();
      }
    };
    Thread caller = Thread.currentThread();
    AtomicReference<String> callerSaw = new AtomicReference<>("nothing");
    try {
      assertThatThrownBy(() -> Parallel.map(input(4), x -> {
        if (Thread.currentThread() == caller) {
          if (callerInF.getCount() == 0) {
            return x; // a later element on the caller: nothing more to observe
          }
          callerInF.countDown();
          try {
            // Interruptible wait: an interrupt from weft ends it at once.
            if (!poolTaskDone.await(20, TimeUnit.SECONDS)) {
              callerSaw.set("timeout");
            }
          } catch (InterruptedException e) {
            callerSaw.set("interrupted by weft");
          }
          return x;
        }
        try {
          assertThat(callerInF.await(20, TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
        throw new IllegalStateException("pool worker fails");
      }, SPLIT.threads(3).executor(pool)))
          .isInstanceOf(TaskFailedException.class).cause().hasMessage("pool worker fails");
      assertThat(callerSaw.get()).isEqualTo("nothing");
      assertThat(Thread.currentThread().isInterrupted()).isFalse();
    } finally {
      Thread.interrupted();
      pool.shutdown();
      assertThat(pool.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
    }
  }

  @RepeatedTest(10)
  void callerRunsPolicyNeverErasesTheUsersInterrupt() throws Exception {
    CountDownLatch callerInF = new CountDownLatch(1);
    CountDownLatch poolTaskDone = new CountDownLatch(1);
    ThreadPoolExecutor pool = new ThreadPoolExecutor(1, 1, 1, TimeUnit.MINUTES,
        new SynchronousQueue<>(), r -> new Thread(r, "test-caller-runs-pool"),
        new ThreadPoolExecutor.CallerRunsPolicy()) {
      @Override
      protected void afterExecute(Runnable r, Throwable t) {
        poolTaskDone.countDown();
      }
    };
    Thread caller = Thread.currentThread();
    try {
      Throwable outcome = null;
      try {
        Parallel.map(input(4), x -> {
          if (Thread.currentThread() == caller) {
            if (callerInF.getCount() == 0) {
              return x;
            }
            caller.interrupt(); // the user's own interrupt, during the call
            callerInF.countDown();
            awaitUninterruptibly(poolTaskDone);
            return x;
          }
          awaitUninterruptibly(callerInF);
          throw new IllegalStateException("pool worker fails");
        }, SPLIT.threads(3).executor(pool));
      } catch (RuntimeException e) {
        outcome = e;
      }
      assertThat(Thread.currentThread().isInterrupted())
          .as("the user's interrupt is still set after the call").isTrue();
      // The failure came before the caller noticed its interrupt: it is reported.
      assertThat(outcome).isInstanceOf(TaskFailedException.class)
          .cause().hasMessage("pool worker fails");
    } finally {
      Thread.interrupted();
      pool.shutdown();
      assertThat(pool.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void directExecutorLetsTheCallerNoticeItsInterruptAndCancel() {
    Thread caller = Thread.currentThread();
    AtomicLong ranAfterInterrupt = new AtomicLong();
    AtomicBoolean sent = new AtomicBoolean();
    try {
      assertThatThrownBy(() -> Parallel.forRange(0, 1_000, i -> {
        if (sent.get()) {
          ranAfterInterrupt.incrementAndGet();
        }
        if (i == 10 && Thread.currentThread() == caller) {
          sent.set(true);
          caller.interrupt();
        }
      }, SPLIT.threads(4).executor(Runnable::run)))
          .isInstanceOf(CancellationException.class);
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
      // Stopped at the end of the chunk that saw the interrupt, not after the whole input.
      assertThat(ranAfterInterrupt.get()).isLessThan(900);
    } finally {
      Thread.interrupted();
    }
  }

  // ----------------------------------------------------------------- thread factories

  @Test
  void factoryReturningNullMeansFewerWorkers() {
    AtomicInteger asked = new AtomicInteger();
    assertThat(Parallel.map(input(N), ParallelExecutorContractTest::work, SPLIT.threads(4)
        .threadFactory(r -> {
          asked.incrementAndGet();
          return null;
        }))).hasSize(N).element(N - 1).isEqualTo(work(N - 1));
    assertThat(asked.get()).isBetween(1, 3);
  }

  @Test
  void factoryThatThrowsFailsTheCallAndStopsWhatItStarted() throws Exception {
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger calls = new AtomicInteger();
    AtomicBoolean returned = new AtomicBoolean();
    AtomicInteger late = new AtomicInteger();
    IllegalStateException boom = new IllegalStateException("factory out of threads");
    try {
      assertThatThrownBy(() -> Parallel.forEach(input(N), x -> {
        if (returned.get()) {
          late.incrementAndGet();
        }
        work(x);
      }, SPLIT.threads(4).threadFactory(r -> {
        if (calls.incrementAndGet() == 2) {
          throw boom;
        }
        Thread t = new Thread(r, "test-factory-" + calls.get());
        made.add(t);
        return t;
      }))).isInstanceOf(TaskFailedException.class).cause().isSameAs(boom);
    } finally {
      returned.set(true);
    }
    assertThat(made).noneMatch(Thread::isAlive); // joined before the call threw
    assertThat(late).hasValue(0);
  }

  @Test
  void factoryReturningAStartedThreadFailsClearlyAndNothingRunsAfterTheCall()
      throws Exception {
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean returned = new AtomicBoolean();
    AtomicInteger late = new AtomicInteger();
    try {
      assertThatThrownBy(() -> Parallel.forEach(input(N), x -> {
        if (returned.get()) {
          late.incrementAndGet();
        }
        work(x);
      }, SPLIT.threads(4).threadFactory(r -> {
        Thread t = new Thread(r, "test-prestarted");
        made.add(t);
        t.start(); // wrong: a factory must return an unstarted thread
        return t;
      }))).isInstanceOf(TaskFailedException.class)
          .cause().isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("already started").hasMessageContaining("test-prestarted");
    } finally {
      returned.set(true);
      for (Thread t : made) {
        t.join(TimeUnit.SECONDS.toMillis(20));
      }
    }
    assertThat(made).isNotEmpty().noneMatch(Thread::isAlive);
    assertThat(late).hasValue(0);
  }

  @Test
  void factoryReturningTheCallerOrAnUnrelatedRunningThreadNeverHangs() throws Exception {
    assertThatThrownBy(() -> Parallel.map(input(N), ParallelExecutorContractTest::work,
        SPLIT.threads(4).threadFactory(r -> Thread.currentThread())))
        .isInstanceOf(TaskFailedException.class)
        .cause().isInstanceOf(IllegalStateException.class).hasMessageContaining("already started");
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
    CountDownLatch release = new CountDownLatch(1);
    Thread busy = new Thread(() -> awaitUninterruptibly(release), "test-unrelated");
    busy.start();
    try {
      assertThatThrownBy(() -> Parallel.map(input(N), ParallelExecutorContractTest::work,
          SPLIT.threads(4).threadFactory(r -> busy)))
          .isInstanceOf(TaskFailedException.class)
          .cause().hasMessageContaining("already started");
      assertThat(busy.isInterrupted()).as("weft does not interrupt a thread it never ran on")
          .isFalse();
    } finally {
      release.countDown();
      busy.join(TimeUnit.SECONDS.toMillis(20));
    }
    assertThat(busy.isAlive()).isFalse();
  }

  @Test
  void factoryWhoseThreadsIgnoreTheTaskLeavesTheWorkToTheCaller() {
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    List<Long> out = Parallel.map(input(N), ParallelExecutorContractTest::work,
        SPLIT.threads(4).threadFactory(r -> {
          Thread t = new Thread(() -> { }, "test-ignoring");
          made.add(t);
          return t;
        }));
    assertThat(out).hasSize(N).element(7).isEqualTo(work(7));
    assertThat(made).isNotEmpty().noneMatch(Thread::isAlive); // started, so joined
  }

  @Test
  void executorThatThrowsSomethingElseFailsTheCallWithThatCause() {
    IllegalStateException broken = new IllegalStateException("executor is broken");
    Set<Long> ran = ConcurrentHashMap.newKeySet();
    assertThatThrownBy(() -> Parallel.forEach(input(N), ran::add,
        SPLIT.threads(4).executor(r -> {
          throw broken;
        }))).isInstanceOf(TaskFailedException.class).cause().isSameAs(broken);
    assertThat(new HashSet<>(ran)).hasSizeLessThan(N); // stopped: not every element ran
  }

  // -------------------------------------------------------------------------- helpers

  static void awaitUninterruptibly(CountDownLatch latch) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          if (!latch.await(20, TimeUnit.SECONDS)) {
            fail("latch not released within 20 s");
          }
          return;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}
