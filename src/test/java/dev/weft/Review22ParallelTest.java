package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntPredicate;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 22 (a helper given only the code and the docs): adversarial tests of {@link Parallel}'s
 * operations and short-circuiting searches. Tests named {@code fixed_*} failed on the reviewed
 * code (726db43) and pass since the fixes; tests named {@code held_*} are attacks that held, kept as regression tests.
 */
@SuppressWarnings("try") // hook handles are only closed
class Review22ParallelTest {
  /** Always split: no probe, no cost memory, chunks handed out from the first element. */
  private static final Parallel.Options SPLIT =
      Parallel.options().sequentialCutoff(Duration.ZERO);

  private static final long GATE_SECONDS = 5;

  @AfterEach
  void clearWindows() {
    ProtocolWindows.clear();
    Thread.interrupted(); // never leak an interrupt into the next test
  }

  // ------------------------------------------------------------------------------ defects

  /**
   * Broken promise: {@code reduce}'s Javadoc, "@throws TaskFailedException if {@code f} or
   * {@code combine} threw (the first failure is the cause)", and the convention "Failures of the
   * user's code ... reach the caller as one library exception type". A split reduce combines
   * the per-chunk partial results on the caller in {@code ReduceJob.result()} /
   * {@code LongReduceJob.result()}, after {@code invoke} returned and outside any try: a
   * {@code combine} that throws there escapes as the raw exception.
   *
   * <p>Schedule: deterministic, no concurrency needed. Cut-off zero and two threads, so the call
   * splits and partials exist even if the worker never starts; {@code combine} throws only when
   * its right operand is a partial of more than one element (inside a chunk the right operand is
   * always {@code f(x) == 1}). Fails 9 of 9 runs on JDK 17 and 5 of 5 on JDK 25 (both forms; the
   * small-input path that turns expensive, {@code invokeFromSecond}, ends in the same {@code
   * result()}).
   */
  @Test
  @Timeout(10)
  void fixed_reduceCombineThrowingWhileMergingPartialsEscapesUnwrapped() {
    IllegalStateException boom = new IllegalStateException("combine failed on partials");
    List<Integer> ones = Collections.nCopies(1_000, 1);
    Throwable fromList = catchThrowable(() -> Parallel.reduce(ones, x -> x, 0, (a, b) -> {
      if (b > 1) {
        throw boom;
      }
      return a + b;
    }, SPLIT.threads(2)));
    long[] longs = new long[1_000];
    Arrays.fill(longs, 1L);
    Throwable fromLongs = catchThrowable(() -> Parallel.reduce(longs, x -> x, 0L, (a, b) -> {
      if (b > 1) {
        throw boom;
      }
      return a + b;
    }, SPLIT.threads(2)));
    assertThat(List.of(fromList, fromLongs))
        .as("reduce(List), reduce(long[]): a combine failure must arrive as TaskFailedException")
        .allSatisfy(t -> assertThat(t).isInstanceOf(TaskFailedException.class).hasCause(boom));
  }

  /**
   * Broken promise: cancellation "stops the call the same way" as a failure (Parallel's
   * Javadoc; docs/parallel.md "Cancellation"), and in a search "threads inside a chunk stop at
   * their next check"; ParallelSearch's notes, FIRST mode, case (b): a chunk gives up when "the
   * stop hint is set and it was not set (only) by a match: a failure or cancellation, and the
   * call throws anyway". In findFirst, once a match is recorded, a worker scanning a chunk
   * before it ignores a cancellation: the FIRST-mode check only looks at {@code found == NONE}
   * and at the search's own {@code failed} flag, which {@code cancel()} never sets, so the
   * worker scans on to the end of its chunk (cut at the match) and the cancelled call waits for
   * it. With {@code minChunkSize} the chunk is as large as the user asks, so the delay is
   * unbounded (here 999 elements; with the default chunk sizes, 975 of 1e6 elements).
   *
   * <p>Schedule (deterministic): a thread factory holds the second worker's creation until the
   * first worker is inside element 0, so that worker holds chunk 0; the match is the first
   * element of chunk 1; the test interrupts the caller once the match is recorded
   * ({@code "parallel.search-answered"}); element 0 returns when weft's fail-fast interrupt
   * (sent by the cancellation) reaches it, like a CPU-bound predicate that does not look at
   * interrupts. Then the elements 1 .. match-1 are counted. A failure instead of the
   * cancellation sets {@code failed} and stops that worker at once
   * ({@link #held_findFirstFailedAfterAMatchStopsWorkersBeforeIt}). Fails 9 of 9 runs on JDK 17
   * and 5 of 5 on JDK 25, both layouts every time (999 and 975 elements).
   */
  @Test
  @Timeout(30)
  void fixed_findFirstCancelledAfterAMatchKeepsWorkersScanningTheirChunk() throws Exception {
    // {n, match = first index of chunk 1, minChunkSize}
    int[][] layouts = {{3_000, 1_000, 1_000}, {1_000_000, 976, 1}};
    List<String> scannedOn = new ArrayList<>();
    for (int[] layout : layouts) {
      int tested = testedBeforeTheMatchAfterTheStop(layout[0], layout[1], layout[2], true);
      if (tested > 1) {
        scannedOn.add("n=" + layout[0] + " minChunkSize=" + layout[2] + ": " + tested);
      }
    }
    assertThat(scannedOn)
        .as("elements the chunk-0 worker tested after the call was cancelled (at most 1 allowed)")
        .isEmpty();
  }

  /**
   * The same schedule as {@link #fixed_findFirstCancelledAfterAMatchKeepsWorkersScanningTheirChunk}
   * with a failure (in chunk 2, after the match is recorded) in place of the cancellation: the
   * worker in chunk 0 stops at its next check, as documented. The contrast shows that only the
   * cancellation is missed.
   */
  @Test
  @Timeout(30)
  void held_findFirstFailedAfterAMatchStopsWorkersBeforeIt() throws Exception {
    assertThat(testedBeforeTheMatchAfterTheStop(3_000, 1_000, 1_000, false)).isLessThanOrEqualTo(1);
    assertThat(testedBeforeTheMatchAfterTheStop(1_000_000, 976, 1, false)).isLessThanOrEqualTo(1);
  }

  /**
   * findFirst over {@code [0, n)} with three threads, chunk 0 held by a worker (a factory holds
   * the second worker's creation until it is inside element 0), the match the first element of
   * chunk 1. Once the match is recorded, either the caller is interrupted ({@code cancel}) or
   * element {@code 2 * match} (chunk 2, entered before the match is returned) throws. Element 0
   * returns when weft's fail-fast interrupt reaches it, like a CPU-bound predicate that does not
   * look at interrupts. Returns how many of the elements 1 .. match-1 were tested after that.
   */
  private static int testedBeforeTheMatchAfterTheStop(int n, int match, int minChunk,
      boolean cancel) throws Exception {
    CountDownLatch chunk0Held = new CountDownLatch(1);
    CountDownLatch chunk2Entered = new CountDownLatch(1);
    CountDownLatch answered = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    AtomicBoolean stopReachedWorker = new AtomicBoolean();
    AtomicInteger testedAfterStop = new AtomicInteger();
    AtomicReference<@Nullable Thread> holder = new AtomicReference<>();
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger factoryCalls = new AtomicInteger();
    ThreadFactory factory = r -> {
      if (factoryCalls.getAndIncrement() == 1) {
        await(chunk0Held); // the first worker now holds chunk 0
      }
      Thread t = new Thread(r, "rv22-first-" + made.size());
      made.add(t);
      return t;
    };
    IllegalStateException boom = new IllegalStateException("chunk 2 failed");
    int failAt = 2 * match;
    IntPredicate p = i -> {
      if (i == 0) {
        holder.set(Thread.currentThread());
        chunk0Held.countDown();
        try {
          never.await(GATE_SECONDS, TimeUnit.SECONDS); // until weft's interrupt arrives
        } catch (InterruptedException e) {
          stopReachedWorker.set(true); // a CPU-bound predicate would not notice; go on
        }
        return false;
      }
      if (i < match && stopReachedWorker.get()) {
        testedAfterStop.incrementAndGet();
      }
      if (!cancel && i == match) {
        await(chunk2Entered); // the failing element is reached before the match is returned
      }
      if (!cancel && i == failAt) {
        chunk2Entered.countDown();
        await(answered);
        throw boom;
      }
      return i == match;
    };
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    AtomicReference<@Nullable Object> returned = new AtomicReference<>();
    Parallel.Options o = SPLIT.threads(3).minChunkSize(minChunk).threadFactory(factory);
    Thread caller = new Thread(() -> {
      try {
        returned.set(Parallel.findFirst(0, n, p, o));
      } catch (Throwable t) {
        thrown.set(t);
      }
    }, "rv22-caller");
    try (AutoCloseable h = ProtocolWindows.install(w -> {
      if (w.equals("parallel.search-answered")) {
        answered.countDown();
      }
    })) {
      caller.start();
      try {
        assertThat(answered.await(GATE_SECONDS, TimeUnit.SECONDS))
            .as("the match was recorded").isTrue();
      } finally {
        if (cancel) {
          caller.interrupt();
        }
        caller.join(20_000);
      }
    }
    String w = "n=" + n + " match=" + match + " minChunkSize=" + minChunk + " cancel=" + cancel;
    assertThat(caller.isAlive()).as(w).isFalse();
    assertThat(made).as(w).noneMatch(Thread::isAlive);
    assertThat(holder.get()).as(w + ": a worker held chunk 0").isIn(made);
    assertThat(stopReachedWorker).as(w + ": weft interrupted that worker").isTrue();
    if (cancel) {
      assertThat(thrown.get()).as(w + " (returned " + returned.get() + ")")
          .isInstanceOf(CancellationException.class);
    } else {
      assertThat(thrown.get()).as(w + " (returned " + returned.get() + ")")
          .isInstanceOf(TaskFailedException.class).hasCause(boom);
    }
    return testedAfterStop.get();
  }

  // --------------------------------------------------------------------------- held: input

  /**
   * Empty, one-element and tiny inputs under extreme options agree with the stream operations
   * of the same names (empty: anyMatch false, allMatch and noneMatch true, find empty).
   */
  @Test
  @Timeout(20)
  void held_emptyAndTinyInputsUnderExtremeOptionsAgreeWithStreams() {
    List<Parallel.Options> options = List.of(Parallel.options(), SPLIT, SPLIT.threads(1),
        SPLIT.threads(16), SPLIT.threads(4).minChunkSize(Integer.MAX_VALUE),
        Parallel.options().sequentialCutoff(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999)),
        Parallel.options().sequentialCutoff(Duration.ofNanos(1)).threads(3));
    for (Parallel.Options o : options) {
      for (int n : new int[] {0, 1, 2, 16, 17}) {
        for (int m = -1; m < n; m++) { // m: the only match, or none
          int mm = m;
          IntPredicate ip = i -> i == mm;
          List<Integer> list = IntStream.range(0, n).boxed().toList();
          Integer[] arr = list.toArray(new Integer[0]);
          String w = o + " n=" + n + " m=" + m;
          boolean any = IntStream.range(0, n).anyMatch(ip);
          assertThat(Parallel.anyMatch(list, x -> x == mm, o)).as(w).isEqualTo(any);
          assertThat(Parallel.anyMatch(arr, x -> x == mm, o)).as(w).isEqualTo(any);
          assertThat(Parallel.allMatch(-5, n - 5, i -> i + 5 != mm, o)).as(w)
              .isEqualTo(IntStream.range(0, n).allMatch(ip.negate()));
          assertThat(Parallel.noneMatch(list, x -> x == mm, o)).as(w).isEqualTo(!any);
          assertThat(Parallel.findFirst(list, x -> x == mm, o)).as(w)
              .isEqualTo(list.stream().filter(x -> x == mm).findFirst());
          assertThat(Parallel.findAny(0, n, ip, o)).as(w)
              .isEqualTo(IntStream.range(0, n).filter(ip).findAny());
        }
      }
    }
  }

  /**
   * Index ranges at the ends of {@code int}: an empty range at MAX_VALUE, the last
   * representable index, ranges starting at MIN_VALUE, a range of 2^32 - 1 elements (more than
   * Integer.MAX_VALUE) with an early match, and forRange near both ends; reversed ranges throw
   * IllegalArgumentException with both values.
   */
  @Test
  @Timeout(30)
  void held_rangesAtTheEndsOfIntNeitherOverflowNorMiss() {
    int max = Integer.MAX_VALUE;
    int min = Integer.MIN_VALUE;
    for (Parallel.Options o : List.of(Parallel.options(), SPLIT.threads(3),
        SPLIT.threads(2).minChunkSize(7), SPLIT.threads(1))) {
      String w = o.toString();
      assertThat(Parallel.anyMatch(max, max, i -> true, o)).as(w).isFalse();
      assertThat(Parallel.allMatch(max, max, i -> false, o)).as(w).isTrue();
      assertThat(Parallel.findFirst(min, min, i -> true, o)).as(w).isEmpty();
      assertThat(Parallel.findFirst(max - 100, max, i -> i >= max - 3, o)).as(w)
          .hasValue(max - 3);
      assertThat(Parallel.findAny(max - 100, max, i -> i == max - 1, o)).as(w)
          .hasValue(max - 1);
      assertThat(Parallel.allMatch(max - 100, max, i -> i < max, o)).as(w).isTrue();
      assertThat(Parallel.findFirst(min, min + 100, i -> true, o)).as(w).hasValue(min);
      assertThat(Parallel.noneMatch(min, min + 100, i -> i >= min + 100, o)).as(w).isTrue();
      AtomicInteger top = new AtomicInteger();
      AtomicInteger bottom = new AtomicInteger();
      Parallel.forRange(max - 50, max, i -> {
        assertThat(i).isBetween(max - 50, max - 1);
        top.incrementAndGet();
      }, o);
      Parallel.forRange(min, min + 50, i -> {
        assertThat(i).isBetween(min, min + 49);
        bottom.incrementAndGet();
      }, o);
      assertThat(top).as(w).hasValue(50);
      assertThat(bottom).as(w).hasValue(50);
    }
    // 2^32 - 1 elements: offsets beyond int, chunks of millions; the match is early.
    for (Parallel.Options o : List.of(SPLIT.threads(2), SPLIT.threads(4), Parallel.options())) {
      assertThat(Parallel.findFirst(min, max, i -> i == min + 70, o)).as(o.toString())
          .hasValue(min + 70);
      assertThat(Parallel.findFirst(min, max, i -> i >= min + 5_000_000, o)).as(o.toString())
          .hasValue(min + 5_000_000);
      assertThat(Parallel.allMatch(min, max, i -> i < min + 1_000, o)).as(o.toString())
          .isFalse();
    }
    List<Runnable> reversed = List.of(
        () -> Parallel.findFirst(max, min, i -> true),
        () -> Parallel.anyMatch(0, -1, i -> true, SPLIT),
        () -> Parallel.forRange(max, max - 1, i -> {}));
    for (Runnable r : reversed) {
      assertThatThrownBy(r::run).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("from = ").hasMessageContaining("to = ");
    }
    assertThatThrownBy(() -> Parallel.findFirst(max, min, i -> true))
        .hasMessageContaining(Integer.toString(max)).hasMessageContaining(Integer.toString(min));
  }

  /** Out-of-range and null options throw with the value or the parameter's name. */
  @Test
  @Timeout(10)
  void held_optionsRejectOutOfRangeValuesWithTheValue() {
    Parallel.Options o = Parallel.options();
    assertThatThrownBy(() -> o.threads(0)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("0");
    assertThatThrownBy(() -> o.threads(Integer.MIN_VALUE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(Integer.toString(Integer.MIN_VALUE));
    assertThatThrownBy(() -> o.minChunkSize(-3)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("-3");
    assertThatThrownBy(() -> o.sequentialCutoff(Duration.ofNanos(-1)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT-0.000000001S");
    assertThatThrownBy(() -> o.sequentialCutoff(null)).isInstanceOf(NullPointerException.class)
        .hasMessage("cutoff");
    assertThatThrownBy(() -> o.executor(null)).isInstanceOf(NullPointerException.class)
        .hasMessage("executor");
    assertThatThrownBy(() -> o.threadFactory(null)).isInstanceOf(NullPointerException.class)
        .hasMessage("factory");
  }

  /**
   * Null elements: a predicate that handles null is called for it, a non-null match after nulls
   * is found, and a null list element that matches throws NullPointerException as
   * Stream.findFirst does; allMatch over nulls with a null-hostile predicate fails with the NPE
   * as the cause.
   */
  @Test
  @Timeout(10)
  void held_nullElementsBehaveLikeStreams() {
    List<@Nullable String> words = new ArrayList<>(Collections.nCopies(200, null));
    words.add("x");
    for (Parallel.Options o : List.of(Parallel.options(), SPLIT.threads(3), SPLIT.threads(1))) {
      assertThat(Parallel.findFirst(words, Objects::nonNull, o)).as(o.toString()).contains("x");
      assertThat(Parallel.allMatch(words, w -> w == null || w.equals("x"), o)).isTrue();
      assertThat(Parallel.anyMatch(words, Objects::isNull, o)).isTrue();
      assertThatThrownBy(() -> Parallel.findAny(words, Objects::isNull, o))
          .isInstanceOf(NullPointerException.class).hasMessageContaining("is null");
      assertThatThrownBy(() -> Parallel.allMatch(words, w -> w.isEmpty(), o))
          .isInstanceOf(TaskFailedException.class)
          .hasCauseInstanceOf(NullPointerException.class);
    }
  }

  // ------------------------------------------------------------------ held: worker sources

  /**
   * Searches with an executor that rejects every task, one that runs tasks on the caller, and
   * a factory that throws: the first two give the sequential answer on the caller alone; the
   * factory's exception fails the call as the cause, and no element runs after it.
   */
  @Test
  @Timeout(20)
  void held_searchesOnRejectingDirectAndThrowingWorkerSources() {
    Thread me = Thread.currentThread();
    Executor rejecting = r -> {
      throw new RejectedExecutionException("full");
    };
    Executor direct = Runnable::run;
    for (Executor e : List.of(rejecting, direct)) {
      Parallel.Options o = SPLIT.threads(4).executor(e);
      AtomicBoolean elsewhere = new AtomicBoolean();
      AtomicInteger calls = new AtomicInteger();
      IntPredicate p = i -> {
        calls.incrementAndGet();
        if (Thread.currentThread() != me) {
          elsewhere.set(true);
        }
        return i == 7_777;
      };
      assertThat(Parallel.findFirst(0, 10_000, p, o)).hasValue(7_777);
      assertThat(calls.get()).isGreaterThanOrEqualTo(7_778);
      assertThat(Parallel.anyMatch(0, 10_000, p, o)).isTrue();
      assertThat(Parallel.allMatch(0, 10_000, i -> !p.test(i), o)).isFalse();
      assertThat(elsewhere).isFalse();
      // The caller notices its own interrupt, set by the predicate, and keeps it.
      assertThatThrownBy(() -> Parallel.findAny(0, 10_000, i -> {
        if (i == 10) {
          Thread.currentThread().interrupt();
        }
        return false;
      }, o)).isInstanceOf(CancellationException.class);
      assertThat(Thread.interrupted()).as("the caller's own interrupt is kept").isTrue();
    }
    IllegalStateException boom = new IllegalStateException("factory");
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    ThreadFactory throwing = r -> {
      if (made.size() == 1) {
        throw boom;
      }
      Thread t = new Thread(r, "rv22-factory-" + made.size());
      made.add(t);
      return t;
    };
    AtomicBoolean callEnded = new AtomicBoolean();
    AtomicInteger afterEnd = new AtomicInteger();
    assertThatThrownBy(() -> Parallel.findFirst(0, 100_000, i -> {
      if (callEnded.get()) {
        afterEnd.incrementAndGet();
      }
      return false;
    }, SPLIT.threads(3).threadFactory(throwing)))
        .isInstanceOf(TaskFailedException.class).hasCause(boom);
    callEnded.set(true);
    assertThat(made).hasSize(1).noneMatch(Thread::isAlive);
    assertThat(afterEnd).hasValue(0);
  }

  /**
   * A search whose predicate runs another search, with the caller holding a lock and the
   * default shared pool: no deadlock, the right answer, and every invocation happened before
   * the outer call returned.
   */
  @Test
  @Timeout(20)
  void held_nestedSearchesUnderAHeldLockOnTheSharedPool() {
    ReentrantLock lock = new ReentrantLock();
    AtomicInteger inner = new AtomicInteger();
    boolean found;
    lock.lock();
    try {
      found = Parallel.anyMatch(0, 64, i -> {
        OptionalInt r = Parallel.findFirst(0, 2_000, j -> {
          inner.incrementAndGet();
          return j == i * 10;
        }, SPLIT.threads(2));
        return r.orElseThrow() == 630;
      }, SPLIT.threads(3));
    } finally {
      lock.unlock();
    }
    assertThat(found).isTrue();
    int seen = inner.get();
    assertThat(seen).isPositive();
    assertThat(inner.get()).as("nothing ran after the call").isEqualTo(seen);
  }

  /** Two callers share one predicate object at once: each gets its own lowest match. */
  @Test
  @Timeout(20)
  void held_concurrentCallsSharingOnePredicate() throws Exception {
    IntPredicate p = i -> i % 1_000 == 999;
    CyclicBarrier start = new CyclicBarrier(2);
    AtomicReference<@Nullable OptionalInt> a = new AtomicReference<>();
    AtomicReference<@Nullable OptionalInt> b = new AtomicReference<>();
    Thread ta = new Thread(() -> {
      awaitBarrier(start);
      a.set(Parallel.findFirst(0, 50_000, p, SPLIT.threads(2)));
    }, "rv22-a");
    Thread tb = new Thread(() -> {
      awaitBarrier(start);
      b.set(Parallel.findFirst(5_000, 60_000, p, SPLIT.threads(2)));
    }, "rv22-b");
    ta.start();
    tb.start();
    ta.join(15_000);
    tb.join(15_000);
    assertThat(ta.isAlive() || tb.isAlive()).isFalse();
    assertThat(a.get()).isEqualTo(OptionalInt.of(999));
    assertThat(b.get()).isEqualTo(OptionalInt.of(5_999));
  }

  /**
   * A match and an Error in the same call (ANY mode): the Error, thrown after the answer was
   * recorded, still fails the call with TaskFailedException and the Error as the cause (as
   * documented: "a failure of any invocation fails the call ... even if a match was also
   * found"), and the caller's interrupt status stays clear.
   */
  @Test
  @Timeout(20)
  void held_anErrorAfterTheAnswerStillFailsAnyModeSearches() throws Exception {
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    ThreadFactory f = r -> {
      Thread t = new Thread(r, "rv22-err-" + made.size());
      made.add(t);
      return t;
    };
    for (int round = 0; round < 2; round++) {
      boolean all = round == 0;
      CountDownLatch answered = new CountDownLatch(1);
      CountDownLatch zeroStarted = new CountDownLatch(1);
      AtomicBoolean answerKnown = new AtomicBoolean();
      AssertionError err = new AssertionError("late error");
      // Chunks of 64 (search minimum), so 0 and 64 lie in different chunks. Element 64 waits
      // until element 0 has started: otherwise the answer can be recorded before element 0's
      // chunk makes its first check, and that chunk then stops without running element 0, as
      // documented (seen once in a full local CI run).
      IntPredicate p = i -> {
        if (i == 0) {
          zeroStarted.countDown();
          answerKnown.set(await(answered));
          throw err;
        }
        if (i == 64) {
          await(zeroStarted);
        }
        boolean hit = i == 64;
        return all != hit; // allMatch looks for the failing element, anyMatch for the match
      };
      try (AutoCloseable h = ProtocolWindows.install(w -> {
        if (w.equals("parallel.search-answered")) {
          answered.countDown();
        }
      })) {
        Parallel.Options o = SPLIT.threads(2).threadFactory(f);
        assertThatThrownBy(() -> {
          if (all) {
            Parallel.allMatch(0, 10_000, p, o);
          } else {
            Parallel.anyMatch(0, 10_000, p, o);
          }
        }).isInstanceOf(TaskFailedException.class).hasCause(err);
      }
      assertThat(answerKnown).as("all=" + all).isTrue();
      assertThat(Thread.currentThread().isInterrupted()).isFalse();
    }
    assertThat(made).noneMatch(Thread::isAlive);
  }

  /**
   * A predicate that interrupts the calling thread on the match: whether the call returns or is
   * cancelled, the interrupt is never swallowed, on every path (inline, small, probe, split).
   */
  @Test
  @Timeout(20)
  void held_anInterruptRaisedByThePredicateIsNeverSwallowed() {
    Thread me = Thread.currentThread();
    for (Parallel.Options o : List.of(Parallel.options(), SPLIT.threads(3), SPLIT.threads(1),
        Parallel.options().threads(2))) {
      for (int n : new int[] {5, 16, 5_000}) {
        int target = n - 2;
        AtomicBoolean raised = new AtomicBoolean();
        Object r;
        try {
          r = Parallel.findFirst(0, n, i -> {
            if (i == target && Thread.currentThread() == me) {
              raised.set(true);
              me.interrupt();
            }
            return i == target;
          }, o);
        } catch (CancellationException e) {
          r = e;
        }
        boolean kept = Thread.interrupted();
        String w = o + " n=" + n + " -> " + r;
        // Only when the caller ran the matching element (it may have run on a worker).
        assertThat(kept).as(w).isEqualTo(raised.get());
        if (r instanceof OptionalInt oi) {
          assertThat(oi).as(w).hasValue(target);
        }
      }
    }
  }

  /**
   * Fail fast interrupts only the workers of the failed call: a nested search that fails inside
   * an outer call's function (on the outer caller and on an outer worker, both the inner call's
   * caller) never leaves an interrupt on the thread that called it, and the outer call goes on.
   */
  @Test
  @Timeout(20)
  void held_aFailedNestedSearchNeverInterruptsItsCaller() {
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    ThreadFactory f = r -> {
      Thread t = new Thread(r, "rv22-outer-" + made.size());
      made.add(t);
      return t;
    };
    AtomicInteger innerFailures = new AtomicInteger();
    AtomicInteger interruptedAfter = new AtomicInteger();
    IllegalStateException boom = new IllegalStateException("inner");
    Parallel.forRange(0, 4, i -> {
      try {
        Parallel.anyMatch(0, 5_000, j -> {
          if (j == 100 + i) {
            throw boom;
          }
          return false;
        }, SPLIT.threads(3));
      } catch (TaskFailedException e) {
        assertThat(e).hasCause(boom);
        innerFailures.incrementAndGet();
      }
      if (Thread.currentThread().isInterrupted()) {
        interruptedAfter.incrementAndGet();
      }
    }, SPLIT.threads(2).threadFactory(f));
    assertThat(innerFailures).hasValue(4);
    assertThat(interruptedAfter).hasValue(0);
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
    assertThat(made).noneMatch(Thread::isAlive);
  }

  // ------------------------------------------------------------------------------ helpers

  private static boolean await(CountDownLatch latch) {
    try {
      return latch.await(GATE_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static void awaitBarrier(CyclicBarrier b) {
    try {
      b.await(GATE_SECONDS, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

}
