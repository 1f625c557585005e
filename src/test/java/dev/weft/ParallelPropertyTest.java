package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.stream.Collectors;
import java.util.stream.LongStream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import org.jspecify.annotations.Nullable;

/**
 * Property tests of {@link Parallel} against a sequential model: random input sizes (0, 1, small,
 * large; cheap or heavier elements), options (threads, cut-off, minimum chunk size, worker source:
 * new threads, a factory, a pool, direct, caller-runs, rejecting, never running, delayed) and
 * failure positions. Invariants, for every operation: the result equals the sequential loop's;
 * with failures, the call throws {@link TaskFailedException} and every exception the function
 * threw is reported exactly once (the cause or a suppressed one); no element runs twice or after
 * the call; the calling thread is never interrupted by weft; every thread weft or the factory
 * created has terminated when the call returns. Each call runs on its own caller thread under a
 * 20 s bound. 1000 tries, about 5 s.
 */
class ParallelPropertyTest {
  enum Op { MAP_LIST, MAP_LONGS, REDUCE_LIST, REDUCE_LONGS, FOR_EACH, FOR_RANGE }

  enum Workers { NEW_THREADS, FACTORY, POOL, DIRECT, CALLER_RUNS, REJECTING, NEVER_RUNS, DELAYED }

  private static final ExecutorService CALLER =
      Executors.newSingleThreadExecutor(r -> new Thread(r, "test-prop-caller"));
  private static final ExecutorService POOL =
      Executors.newFixedThreadPool(4, r -> new Thread(r, "test-prop-pool"));
  private static final ExecutorService CALLER_RUNS =
      ParallelExecutorContractTest.callerRunsPool(1, r -> new Thread(r, "test-prop-cr"));
  private static final ScheduledExecutorService DELAYED =
      Executors.newScheduledThreadPool(2, r -> new Thread(r, "test-prop-delayed"));

  @AfterContainer
  static void stopPools() throws InterruptedException {
    for (ExecutorService s : List.of(CALLER, POOL, CALLER_RUNS, DELAYED)) {
      s.shutdown();
      assertThat(s.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
    }
  }

  /** A failure thrown by the function at one element. */
  static final class ElementFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    ElementFailure(long index) {
      super("element " + index, null, false, false);
    }
  }

  private static final RandomDistribution UNIFORM = RandomDistribution.uniform();

  @Provide
  Arbitrary<Integer> sizes() {
    return Arbitraries.frequencyOf(
        Tuple.of(1, Arbitraries.just(0)),
        Tuple.of(1, Arbitraries.just(1)),
        Tuple.of(4, Arbitraries.integers().between(2, 40)),
        Tuple.of(4, Arbitraries.integers().between(41, 5_000).withDistribution(UNIFORM)));
  }

  @Provide
  Arbitrary<Duration> cutoffs() {
    return Arbitraries.of(Duration.ZERO, Duration.ofNanos(1), Duration.ofMillis(1),
        Parallel.DEFAULT_SEQUENTIAL_CUTOFF);
  }

  @Provide
  Arbitrary<Integer> minChunks() {
    return Arbitraries.frequencyOf(
        Tuple.of(4, Arbitraries.just(1)), Tuple.of(1, Arbitraries.integers().between(2, 300)));
  }

  /** -1: the user never interrupts; k: the caller interrupts itself at its first element >= k. */
  @Provide
  Arbitrary<Integer> interruptAt() {
    return Arbitraries.frequencyOf(
        Tuple.of(1, Arbitraries.just(-1)), Tuple.of(1, Arbitraries.integers().between(0, 1_500).withDistribution(UNIFORM)));
  }

  @Property(tries = 1000, edgeCases = EdgeCasesMode.FIRST)
  void everyCallAgreesWithTheSequentialModel(
      @ForAll("sizes") int n,
      @ForAll Op op,
      @ForAll Workers workers,
      @ForAll @IntRange(min = 1, max = 6) int threads,
      @ForAll("cutoffs") Duration cutoff,
      @ForAll("minChunks") int minChunk,
      @ForAll boolean heavy,
      @ForAll @Size(max = 3) List<@IntRange(min = 0, max = 9_999) Integer> failAt,
      @ForAll("interruptAt") int interruptAt)
      throws Exception {
    Set<Integer> failing = new HashSet<>();
    for (int f : failAt) {
      if (n > 0) {
        failing.add(f % n);
      }
    }
    Future<?> call = CALLER.submit(() -> {
      checkOneCall(n, op, workers, threads, cutoff, minChunk, heavy, failing, interruptAt);
      return null;
    });
    try {
      call.get(20, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof Error err) {
        throw err;
      }
      throw e;
    } catch (TimeoutException e) {
      call.cancel(true);
      throw new AssertionError("call did not finish within 20 s: " + Arrays.asList(
          n, op, workers, threads, cutoff, minChunk, heavy, failing, interruptAt), e);
    }
  }

  private static void checkOneCall(
      int n, Op op, Workers workers, int threads, Duration cutoff, int minChunk, boolean heavy,
      Set<Integer> failing, int interruptAt) {
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    ThreadFactory factory = r -> {
      Thread t = new Thread(r, "test-prop-factory");
      made.add(t);
      return t;
    };
    Parallel.Options o = Parallel.options().threads(threads).sequentialCutoff(cutoff)
        .minChunkSize(minChunk);
    o = switch (workers) {
      case NEW_THREADS -> o;
      case FACTORY -> o.threadFactory(factory);
      case POOL -> o.executor(POOL);
      case DIRECT -> o.executor(Runnable::run);
      case CALLER_RUNS -> o.executor(CALLER_RUNS);
      case REJECTING -> o.executor(r -> {
        throw new RejectedExecutionException("full");
      });
      case NEVER_RUNS -> o.executor(r -> { });
      case DELAYED -> o.executor(r -> {
        Future<?> unused = DELAYED.schedule(r, 200, TimeUnit.MICROSECONDS);
      });
    };
    Thread caller = Thread.currentThread();
    AtomicBoolean returned = new AtomicBoolean();
    AtomicInteger late = new AtomicInteger();
    AtomicInteger callerInterrupted = new AtomicInteger();
    AtomicBoolean userInterrupted = new AtomicBoolean();
    AtomicInteger callerRunsAfterInterrupt = new AtomicInteger();
    AtomicIntegerArray runs = new AtomicIntegerArray(n);
    Set<Throwable> thrown = ConcurrentHashMap.newKeySet();
    int iterations = heavy ? 400 : 3;
    java.util.function.LongUnaryOperator f = x -> {
      if (returned.get()) {
        late.incrementAndGet();
      }
      int i = (int) x;
      runs.incrementAndGet(i);
      if (Thread.currentThread() == caller) {
        if (caller.isInterrupted() && !userInterrupted.get()) {
          callerInterrupted.incrementAndGet();
        }
        if (userInterrupted.get()) {
          callerRunsAfterInterrupt.incrementAndGet();
        }
        if (interruptAt >= 0 && i >= interruptAt && userInterrupted.compareAndSet(false, true)) {
          caller.interrupt(); // the user's own interrupt, during the call
        }
      }
      if (failing.contains(i)) {
        ElementFailure e = new ElementFailure(i);
        thrown.add(e);
        throw e;
      }
      return model(x, iterations);
    };
    long[] expected = LongStream.range(0, n).map(x -> model(x, iterations)).toArray();
    List<Long> in = LongStream.range(0, n).boxed().collect(Collectors.toList());
    long[] arr = LongStream.range(0, n).toArray();
    @Nullable Object result = null;
    @Nullable RuntimeException failure = null;
    long[] plain = new long[n];
    try {
      result = switch (op) {
        case MAP_LIST -> Parallel.map(in, x -> f.applyAsLong(x), o);
        case MAP_LONGS -> Parallel.map(arr, f, o);
        case REDUCE_LIST -> Parallel.reduce(in, x -> f.applyAsLong(x), 0L, Long::sum, o);
        case REDUCE_LONGS -> Parallel.reduce(arr, f, 0L, Long::sum, o);
        case FOR_EACH -> {
          Parallel.forEach(in, x -> plain[(int) (long) x] = f.applyAsLong(x), o);
          yield plain;
        }
        case FOR_RANGE -> {
          Parallel.forRange(0, n, i -> plain[i] = f.applyAsLong(i), o);
          yield plain;
        }
      };
    } catch (RuntimeException e) {
      failure = e;
    } finally {
      returned.set(true);
    }
    String where = Arrays.asList(
        n, op, workers, threads, cutoff, minChunk, heavy, failing, interruptAt).toString();
    // The user's interrupt is never lost, and only it can cancel the call.
    boolean stillInterrupted = Thread.interrupted();
    assertThat(stillInterrupted).as("interrupt status after " + where)
        .isEqualTo(userInterrupted.get());
    // The caller notices its interrupt between chunks, or every ALONE_BLOCK elements alone.
    assertThat(callerRunsAfterInterrupt.get()).as("caller ran on after its interrupt: " + where)
        .isLessThanOrEqualTo(ParallelJob.ALONE_BLOCK);
    if (failure instanceof java.util.concurrent.CancellationException) {
      assertThat(userInterrupted.get()).as(where).isTrue();
      // Failures thrown after the cancellation are its suppressed exceptions, each once.
      assertThat(failure.getSuppressed()).as(where).doesNotHaveDuplicates()
          .containsExactlyInAnyOrderElementsOf(thrown);
      assertThat(late).as(where).hasValue(0);
      return; // cancelled: no result to compare
    }
    // No thread left behind: threads weft or the factory created are joined before return.
    assertThat(made).as(where).noneMatch(Thread::isAlive);
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      // Threads of the shared pool stay by design (idle; ThreadLeakExtension checks that).
      assertThat(t.getName().startsWith("weft-parallel-") && t.isAlive()
              && !(t instanceof ParallelPool.PoolThread))
          .as("%s left behind by %s", t.getName(), where).isFalse();
    }
    assertThat(caller.isInterrupted()).as(where).isFalse();
    assertThat(callerInterrupted).as("caller interrupted by weft: " + where).hasValue(0);
    for (int i = 0; i < n; i++) {
      assertThat(runs.get(i)).as("runs of %d in %s", i, where).isBetween(0, 1);
    }
    if (failing.isEmpty()) {
      assertThat(failure).as(where).isNull();
      long sum = LongStream.of(expected).sum();
      switch (op) {
        case MAP_LIST -> assertThat(result).as(where)
            .isEqualTo(LongStream.of(expected).boxed().toList());
        case MAP_LONGS, FOR_EACH, FOR_RANGE -> assertThat((long[]) result).as(where)
            .containsExactly(expected);
        case REDUCE_LIST, REDUCE_LONGS -> assertThat(result).as(where).isEqualTo(sum);
      }
      for (int i = 0; i < n; i++) {
        assertThat(runs.get(i)).as("runs of %d in %s", i, where).isEqualTo(1);
      }
    } else {
      assertThat(failure).as(where).isInstanceOf(TaskFailedException.class);
      List<Throwable> reported = new ArrayList<>();
      reported.add(failure.getCause());
      reported.addAll(Arrays.asList(failure.getSuppressed()));
      // Every failure thrown is reported, exactly once; nothing else is.
      assertThat(reported).as(where).doesNotHaveDuplicates()
          .containsExactlyInAnyOrderElementsOf(thrown);
      assertThat(thrown).as(where).isNotEmpty();
    }
    // Late invocations would come from workers still running: none may.
    assertThat(late).as(where).hasValue(0);
  }

  /** The sequential model's element function. */
  static long model(long x, int iterations) {
    long acc = x;
    for (int i = 0; i < iterations; i++) {
      acc = acc * 6364136223846793005L + 1442695040888963407L;
    }
    return acc;
  }
}
