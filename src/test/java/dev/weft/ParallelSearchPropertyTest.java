package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.CancellationException;
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
import java.util.function.IntPredicate;
import java.util.stream.IntStream;
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
 * Property tests of {@link Parallel}'s searches against a sequential model, modelled on {@link
 * ParallelPropertyTest}: random sizes, match positions (none, one, several), forms (list, array,
 * range at random offsets), options (threads, cut-off, minimum chunk size, worker source) and
 * failure positions, with and without a user interrupt. Invariants: without failures the result
 * is the sequential one (findAny: some match; findFirst: the lowest); with failures the call
 * either throws {@link TaskFailedException} reporting every exception thrown exactly once, or
 * returns the sequential answer, and then findFirst (which must test every element before its
 * answer) has no failure before its answer and a search without a match is impossible; no
 * element is tested twice or after the call; the caller is never interrupted by weft; every
 * thread the factory made has ended. Each call runs on its own caller thread under a 20 s bound.
 */
class ParallelSearchPropertyTest {
  enum Op { ANY, ALL, NONE, FIND_ANY, FIND_FIRST }

  enum Form { LIST, ARRAY, RANGE }

  enum Workers { NEW_THREADS, NEW_PER_CALL, FACTORY, POOL, DIRECT, CALLER_RUNS, REJECTING,
    NEVER_RUNS, DELAYED }

  private static final ExecutorService CALLER =
      Executors.newSingleThreadExecutor(r -> new Thread(r, "test-sprop-caller"));
  private static final ExecutorService POOL =
      Executors.newFixedThreadPool(4, r -> new Thread(r, "test-sprop-pool"));
  private static final ExecutorService CALLER_RUNS =
      ParallelExecutorContractTest.callerRunsPool(1, r -> new Thread(r, "test-sprop-cr"));
  private static final ScheduledExecutorService DELAYED =
      Executors.newScheduledThreadPool(2, r -> new Thread(r, "test-sprop-delayed"));

  @AfterContainer
  static void stopPools() throws InterruptedException {
    for (ExecutorService s : List.of(CALLER, POOL, CALLER_RUNS, DELAYED)) {
      s.shutdown();
      assertThat(s.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
    }
  }

  /** A failure thrown by the predicate at one element. */
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
        Tuple.of(4, Arbitraries.integers().between(41, 20_000).withDistribution(UNIFORM)));
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

  /** Match positions as fractions (per 10 000) of the size: none, one or several. */
  @Provide
  Arbitrary<List<Integer>> matches() {
    return Arbitraries.integers().between(0, 9_999).withDistribution(UNIFORM).list()
        .ofMinSize(0).ofMaxSize(4);
  }

  /** -1: the user never interrupts; k: the caller interrupts itself at its first element >= k. */
  @Provide
  Arbitrary<Integer> interruptAt() {
    return Arbitraries.frequencyOf(
        Tuple.of(3, Arbitraries.just(-1)),
        Tuple.of(1, Arbitraries.integers().between(0, 5_000).withDistribution(UNIFORM)));
  }

  @Property(tries = 1000, edgeCases = EdgeCasesMode.MIXIN)
  void everySearchAgreesWithTheSequentialModel(
      @ForAll("sizes") int n,
      @ForAll Op op,
      @ForAll Form form,
      @ForAll Workers workers,
      @ForAll @IntRange(min = 1, max = 8) int threads,
      @ForAll("cutoffs") Duration cutoff,
      @ForAll("minChunks") int minChunk,
      @ForAll("matches") List<Integer> matchAt,
      @ForAll @Size(max = 2) List<@IntRange(min = 0, max = 9_999) Integer> failAt,
      @ForAll("interruptAt") int interruptAt,
      @ForAll @IntRange(min = 0, max = 2) int offsetKind,
      @ForAll boolean slowBeforeFirstMatch)
      throws Exception {
    Set<Integer> matching = new HashSet<>();
    for (int m : matchAt) {
      if (n > 0) {
        matching.add((int) ((long) m * n / 10_000));
      }
    }
    Set<Integer> failing = new HashSet<>();
    for (int f : failAt) {
      if (n > 0) {
        failing.add((int) ((long) f * n / 10_000));
      }
    }
    int from = switch (offsetKind) {
      case 0 -> 0;
      case 1 -> -n / 2;
      default -> Integer.MAX_VALUE - n;
    };
    List<Object> where = Arrays.asList(n, op, form, workers, threads, cutoff, minChunk,
        matching, failing, interruptAt, from, slowBeforeFirstMatch);
    Future<?> call = CALLER.submit(() -> {
      checkOneCall(n, op, form, workers, threads, cutoff, minChunk, matching, failing,
          interruptAt, from, slowBeforeFirstMatch, where.toString());
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
      throw new AssertionError("call did not finish within 20 s: " + where, e);
    }
  }

  /** Busy work for about {@code nanos}: a widened window, not a wait for a result. */
  private static void spinNanos(long nanos) {
    long end = System.nanoTime() + nanos;
    while (System.nanoTime() - end < 0) {
      Thread.onSpinWait();
    }
  }

  private static void checkOneCall(
      int n, Op op, Form form, Workers workers, int threads, Duration cutoff, int minChunk,
      Set<Integer> matching, Set<Integer> failing, int interruptAt, int from,
      boolean slowBeforeFirstMatch, String where) {
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    ThreadFactory factory = r -> {
      Thread t = new Thread(r, "test-sprop-factory");
      made.add(t);
      return t;
    };
    Parallel.Options o = Parallel.options().threads(threads).sequentialCutoff(cutoff)
        .minChunkSize(minChunk);
    o = switch (workers) {
      case NEW_THREADS -> o;
      case NEW_PER_CALL -> o.newThreadsPerCall();
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
    AtomicIntegerArray runs = new AtomicIntegerArray(n);
    Set<Throwable> thrown = ConcurrentHashMap.newKeySet();
    // allMatch looks for the first element that fails the predicate: give it "not matching".
    boolean want = op != Op.ALL;
    // Widens findFirst's window on purpose: the element just before the first match takes
    // 300 us, so other threads often find a later match while its chunk is still short of it.
    int slow = slowBeforeFirstMatch && !matching.isEmpty() ? Collections.min(matching) - 1 : -1;
    IntPredicate test = i -> { // i: the element's index, 0 <= i < n
      if (returned.get()) {
        late.incrementAndGet();
      }
      runs.incrementAndGet(i);
      if (i == slow) {
        spinNanos(300_000L);
      }
      if (Thread.currentThread() == caller) {
        if (caller.isInterrupted() && !userInterrupted.get()) {
          callerInterrupted.incrementAndGet();
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
      return matching.contains(i) == want;
    };
    List<Integer> list = IntStream.range(0, n).boxed().toList();
    Integer[] arr = list.toArray(new Integer[0]);
    int to = from + n;
    IntPredicate range = i -> test.test(i - from);
    @Nullable Object result = null;
    @Nullable RuntimeException failure = null;
    try {
      result = switch (form) {
        case LIST -> switch (op) {
          case ANY -> Parallel.anyMatch(list, x -> test.test(x), o);
          case ALL -> Parallel.allMatch(list, x -> test.test(x), o);
          case NONE -> Parallel.noneMatch(list, x -> test.test(x), o);
          case FIND_ANY -> Parallel.findAny(list, x -> test.test(x), o);
          case FIND_FIRST -> Parallel.findFirst(list, x -> test.test(x), o);
        };
        case ARRAY -> switch (op) {
          case ANY -> Parallel.anyMatch(arr, x -> test.test(x), o);
          case ALL -> Parallel.allMatch(arr, x -> test.test(x), o);
          case NONE -> Parallel.noneMatch(arr, x -> test.test(x), o);
          case FIND_ANY -> Parallel.findAny(arr, x -> test.test(x), o);
          case FIND_FIRST -> Parallel.findFirst(arr, x -> test.test(x), o);
        };
        case RANGE -> switch (op) {
          case ANY -> Parallel.anyMatch(from, to, range, o);
          case ALL -> Parallel.allMatch(from, to, range, o);
          case NONE -> Parallel.noneMatch(from, to, range, o);
          case FIND_ANY -> Parallel.findAny(from, to, range, o);
          case FIND_FIRST -> Parallel.findFirst(from, to, range, o);
        };
      };
    } catch (RuntimeException e) {
      failure = e;
    } finally {
      returned.set(true);
    }
    // The user's interrupt is never lost, and only it can cancel the call.
    boolean stillInterrupted = Thread.interrupted();
    assertThat(stillInterrupted).as("interrupt status after " + where)
        .isEqualTo(userInterrupted.get());
    assertThat(late).as("invocations after the call: " + where).hasValue(0);
    assertThat(made).as(where).noneMatch(Thread::isAlive);
    assertThat(callerInterrupted).as("caller interrupted by weft: " + where).hasValue(0);
    for (int i = 0; i < n; i++) {
      assertThat(runs.get(i)).as("runs of %d in %s", i, where).isBetween(0, 1);
    }
    if (failure instanceof CancellationException) {
      assertThat(userInterrupted.get()).as(where).isTrue();
      assertThat(failure.getSuppressed()).as(where).doesNotHaveDuplicates()
          .containsExactlyInAnyOrderElementsOf(thrown);
      return; // cancelled: no result to compare
    }
    int lowest = matching.isEmpty() ? -1 : Collections.min(matching);
    if (failure != null) {
      assertThat(failure).as(where).isInstanceOf(TaskFailedException.class);
      List<Throwable> reported = new ArrayList<>();
      reported.add(failure.getCause());
      reported.addAll(Arrays.asList(failure.getSuppressed()));
      // Every failure thrown is reported, exactly once; nothing else is.
      assertThat(reported).as(where).doesNotHaveDuplicates()
          .containsExactlyInAnyOrderElementsOf(thrown);
      assertThat(thrown).as(where).isNotEmpty();
      return;
    }
    // Returned normally: failures may only lie where the search need not look.
    if (!failing.isEmpty()) {
      assertThat(lowest).as("no match, so every element was tested: " + where)
          .isGreaterThanOrEqualTo(0);
      if (op == Op.FIND_FIRST) {
        assertThat(Collections.min(failing)).as("findFirst skipped a failure before its answer: "
            + where).isGreaterThan(lowest);
      }
    }
    assertThat(thrown).as("a failure thrown but not reported: " + where).isEmpty();
    boolean any = lowest >= 0;
    switch (op) {
      case ANY -> assertThat(result).as(where).isEqualTo(any);
      case ALL, NONE -> assertThat(result).as(where).isEqualTo(!any);
      case FIND_ANY -> {
        if (form == Form.RANGE) {
          OptionalInt r = (OptionalInt) result;
          assertThat(r.isPresent()).as(where).isEqualTo(any);
          if (any) {
            assertThat(matching).as(where).contains(r.getAsInt() - from);
          }
        } else {
          Optional<?> r = (Optional<?>) result;
          assertThat(r.isPresent()).as(where).isEqualTo(any);
          if (any) {
            assertThat(matching).as(where).contains((Integer) r.orElseThrow());
          }
        }
      }
      case FIND_FIRST -> {
        if (form == Form.RANGE) {
          assertThat(result).as(where)
              .isEqualTo(any ? OptionalInt.of(from + lowest) : OptionalInt.empty());
        } else {
          assertThat(result).as(where)
              .isEqualTo(any ? Optional.of(lowest) : Optional.empty());
        }
      }
    }
    if (!any) {
      for (int i = 0; i < n; i++) {
        assertThat(runs.get(i)).as("no match, yet %d untested in %s", i, where).isEqualTo(1);
      }
    } else if (op == Op.FIND_FIRST) {
      for (int i = 0; i <= lowest; i++) {
        assertThat(runs.get(i)).as("findFirst did not test %d in %s", i, where).isEqualTo(1);
      }
    }
  }
}
