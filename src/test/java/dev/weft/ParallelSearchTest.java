package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntPredicate;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Tests of {@link Parallel}'s short-circuiting searches ({@code anyMatch}, {@code allMatch},
 * {@code noneMatch}, {@code findAny}, {@code findFirst}) over lists, arrays and index ranges:
 * the sequential answer for every overload, findFirst's two rules (never miss an earlier match,
 * never wait for the chunks after it; both made deterministic with the
 * {@code "parallel.search-answered"} window), that an early match stops the work, fail fast,
 * cancellation, null matches and bad input.
 */
@Timeout(60)
class ParallelSearchTest {
  /** Always split: makes the parallel path deterministic regardless of machine speed. */
  private static final Parallel.Options SPLIT =
      Parallel.options().sequentialCutoff(Duration.ZERO);

  /** How long a gated predicate waits before it gives up (a bound, not a sleep). */
  private static final long GATE_SECONDS = 20;

  private enum Op { ANY, ALL, NONE, FIND_ANY, FIND_FIRST }

  private static List<Integer> indices(int n) {
    return IntStream.range(0, n).boxed().toList();
  }

  private static Integer[] indexArray(int n) {
    return IntStream.range(0, n).boxed().toArray(Integer[]::new);
  }

  /** A ThreadFactory that names threads test-search-N and remembers them. */
  private static final class RecordingFactory implements ThreadFactory {
    final List<Thread> threads = Collections.synchronizedList(new ArrayList<>());

    @Override
    public Thread newThread(Runnable r) {
      Thread t = new Thread(r, "test-search-" + threads.size());
      threads.add(t);
      return t;
    }
  }

  // ------------------------------------------------------------------ the sequential answer

  /**
   * Runs every search in all three forms (list, array, range from {@code from}) over the
   * elements {@code 0..n-1} with the predicate "match[i]", with {@code o} or (null) without
   * options, and compares each with the sequential answer.
   */
  private static void checkAll(String where, int n, boolean[] match, Parallel.@Nullable Options o,
      int from) {
    int lowest = -1;
    for (int i = n - 1; i >= 0; i--) {
      if (match[i]) {
        lowest = i;
      }
    }
    boolean any = lowest >= 0;
    boolean all = IntStream.range(0, n).allMatch(i -> match[i]);
    List<Integer> list = indices(n);
    Integer[] arr = indexArray(n);
    Predicate<Integer> p = x -> match[x];
    Predicate<Integer> notP = x -> !match[x];
    IntPredicate r = i -> match[i - from];
    int to = from + n;
    String w = where + " n=" + n + " from=" + from + " options=" + o;
    if (o == null) {
      assertThat(Parallel.anyMatch(list, p)).as(w).isEqualTo(any);
      assertThat(Parallel.anyMatch(arr, p)).as(w).isEqualTo(any);
      assertThat(Parallel.anyMatch(from, to, r)).as(w).isEqualTo(any);
      assertThat(Parallel.allMatch(list, p)).as(w).isEqualTo(all);
      assertThat(Parallel.allMatch(arr, p)).as(w).isEqualTo(all);
      assertThat(Parallel.allMatch(from, to, r)).as(w).isEqualTo(all);
      assertThat(Parallel.allMatch(list, notP)).as(w).isEqualTo(!any);
      assertThat(Parallel.noneMatch(list, p)).as(w).isEqualTo(!any);
      assertThat(Parallel.noneMatch(arr, p)).as(w).isEqualTo(!any);
      assertThat(Parallel.noneMatch(from, to, r)).as(w).isEqualTo(!any);
      checkFindAny(w, match, Parallel.findAny(list, p), Parallel.findAny(arr, p),
          Parallel.findAny(from, to, r), from);
      checkFindFirst(w, lowest, Parallel.findFirst(list, p), Parallel.findFirst(arr, p),
          Parallel.findFirst(from, to, r), from);
    } else {
      assertThat(Parallel.anyMatch(list, p, o)).as(w).isEqualTo(any);
      assertThat(Parallel.anyMatch(arr, p, o)).as(w).isEqualTo(any);
      assertThat(Parallel.anyMatch(from, to, r, o)).as(w).isEqualTo(any);
      assertThat(Parallel.allMatch(list, p, o)).as(w).isEqualTo(all);
      assertThat(Parallel.allMatch(arr, p, o)).as(w).isEqualTo(all);
      assertThat(Parallel.allMatch(from, to, r, o)).as(w).isEqualTo(all);
      assertThat(Parallel.allMatch(list, notP, o)).as(w).isEqualTo(!any);
      assertThat(Parallel.noneMatch(list, p, o)).as(w).isEqualTo(!any);
      assertThat(Parallel.noneMatch(arr, p, o)).as(w).isEqualTo(!any);
      assertThat(Parallel.noneMatch(from, to, r, o)).as(w).isEqualTo(!any);
      checkFindAny(w, match, Parallel.findAny(list, p, o), Parallel.findAny(arr, p, o),
          Parallel.findAny(from, to, r, o), from);
      checkFindFirst(w, lowest, Parallel.findFirst(list, p, o), Parallel.findFirst(arr, p, o),
          Parallel.findFirst(from, to, r, o), from);
    }
  }

  private static void checkFindAny(String w, boolean[] match, Optional<Integer> list,
      Optional<Integer> arr, OptionalInt range, int from) {
    boolean any = false;
    for (boolean b : match) {
      any |= b;
    }
    assertThat(list.isPresent()).as(w).isEqualTo(any);
    assertThat(arr.isPresent()).as(w).isEqualTo(any);
    assertThat(range.isPresent()).as(w).isEqualTo(any);
    if (any) {
      assertThat(match[list.orElseThrow()]).as(w + " findAny(list) returned a non-match").isTrue();
      assertThat(match[arr.orElseThrow()]).as(w + " findAny(array) returned a non-match").isTrue();
      assertThat(match[range.getAsInt() - from]).as(w + " findAny(range) returned a non-match")
          .isTrue();
    }
  }

  private static void checkFindFirst(String w, int lowest, Optional<Integer> list,
      Optional<Integer> arr, OptionalInt range, int from) {
    if (lowest < 0) {
      assertThat(list).as(w).isEmpty();
      assertThat(arr).as(w).isEmpty();
      assertThat(range).as(w).isEmpty();
    } else {
      assertThat(list).as(w).contains(lowest);
      assertThat(arr).as(w).contains(lowest);
      assertThat(range).as(w).hasValue(from + lowest);
    }
  }

  @Test
  void everySearchAgreesWithTheSequentialAnswer() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(3, r -> new Thread(r, "test-search-pool"));
    try {
      List<Parallel.@Nullable Options> options = Arrays.asList(null,
          Parallel.options().threads(1), SPLIT.threads(2), SPLIT.threads(4).minChunkSize(5),
          SPLIT.threads(3).executor(pool), Parallel.options().threads(2).newThreadsPerCall(),
          SPLIT.newThreadsPerCall().threads(8));
      for (int n : new int[] {0, 1, 2, 15, 16, 17, 100, 1_000, 30_000}) {
        List<boolean[]> patterns = new ArrayList<>();
        patterns.add(new boolean[n]); // no match
        boolean[] allTrue = new boolean[n];
        Arrays.fill(allTrue, true);
        patterns.add(allTrue);
        for (int pos : new int[] {0, n / 2, n - 1}) {
          if (pos >= 0 && pos < n) {
            boolean[] one = new boolean[n];
            one[pos] = true;
            patterns.add(one);
            boolean[] allBut = allTrue.clone();
            allBut[pos] = false;
            patterns.add(allBut);
          }
        }
        if (n > 3) {
          boolean[] several = new boolean[n];
          several[n / 3] = true;
          several[n / 3 + 1] = true;
          several[2 * n / 3] = true;
          several[n - 1] = true;
          patterns.add(several);
        }
        for (boolean[] match : patterns) {
          for (Parallel.@Nullable Options o : options) {
            checkAll("pattern", n, match, o, -n / 2);
          }
        }
      }
      // Ranges at the edges of int.
      boolean[] last = new boolean[40];
      last[39] = true;
      checkAll("top", 40, last, SPLIT.threads(3), Integer.MAX_VALUE - 40);
      checkAll("bottom", 40, last, SPLIT.threads(3), Integer.MIN_VALUE);
    } finally {
      pool.shutdown();
      assertThat(pool.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void findFirstReturnsTheLowestMatchAtManyPositionsAndOptions() throws Exception {
    int n = 20_000;
    ExecutorService pool = Executors.newFixedThreadPool(4, r -> new Thread(r, "test-search-pool"));
    try {
      List<Parallel.Options> options = new ArrayList<>();
      for (int threads = 2; threads <= 8; threads++) {
        options.add(SPLIT.threads(threads));
      }
      options.add(SPLIT.threads(3).minChunkSize(7));
      options.add(SPLIT.threads(4).minChunkSize(300));
      options.add(SPLIT.threads(5).executor(pool));
      options.add(Parallel.options().threads(3).executor(pool));
      options.add(SPLIT.threads(4).newThreadsPerCall());
      options.add(Parallel.options().threads(2));
      List<Integer> list = indices(n);
      for (int pos : new int[] {0, 1, 63, 64, 65, 100, 1_000, 2_048, 9_999, 15_000, 19_998,
          19_999}) {
        // Several matches: pos, pos + 1, pos + 37, and the last element; the lowest must win.
        boolean[] match = new boolean[n];
        for (int m : new int[] {pos, pos + 1, pos + 37, n - 1}) {
          if (m < n) {
            match[m] = true;
          }
        }
        for (Parallel.Options o : options) {
          String w = "pos=" + pos + " " + o;
          assertThat(Parallel.findFirst(list, x -> match[x], o)).as(w).contains(pos);
          assertThat(Parallel.findFirst(0, n, i -> match[i], o)).as(w).hasValue(pos);
        }
      }
      // Expensive elements with the default cut-off: the probe splits, and its in-order steps
      // find early matches on the caller alone.
      for (int pos : new int[] {3, 700, 2_999}) {
        assertThat(Parallel.findFirst(0, 3_000, i -> ParallelTest.expensive(i) != 0 && i >= pos,
            Parallel.options().threads(3))).hasValue(pos);
      }
    } finally {
      pool.shutdown();
      assertThat(pool.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
    }
  }

  // ----------------------------------------------------------------- findFirst's two rules

  /**
   * Never misses an earlier match: the thread that scans the chunk holding the first match m1
   * is held at m1 - 1 (inside the predicate) until a later match m2 (in a later chunk, found by
   * another thread) has been recorded and the stop hint set ({@code "parallel.search-answered"});
   * only then does it go on to m1. findFirst must still return m1. (Breaking the rule, e.g. by
   * letting a chunk before the match stop on the stop hint, makes it return m2.)
   */
  @Test
  @SuppressWarnings("try") // the hook's handle is only closed
  void findFirstNeverMissesAnEarlierMatchFoundAfterALaterOne() throws Exception {
    int n = 10_000;
    List<Integer> list = indices(n);
    // m1 - 1 and m1 lie in one chunk for the layouts used here (chunks of 64, 100, 8 or 12).
    int[] firsts = {5, 150, 1_037, 3_051, 6_999};
    ExecutorService pool = Executors.newFixedThreadPool(4, r -> new Thread(r, "test-search-pool"));
    try {
      List<Parallel.Options> options = new ArrayList<>();
      for (int threads = 2; threads <= 8; threads++) {
        options.add(SPLIT.threads(threads));
      }
      options.add(SPLIT.threads(3).minChunkSize(100));
      options.add(SPLIT.threads(4).executor(pool));
      options.add(SPLIT.threads(2).newThreadsPerCall());
      int gateSawAnAnswer = 0;
      int runs = 0;
      for (int m1 : firsts) {
        int m2 = Math.min(n - 1, m1 + 1_500);
        for (Parallel.Options o : options) {
          for (boolean rangeForm : new boolean[] {false, true}) {
            CountDownLatch answered = new CountDownLatch(1);
            AtomicBoolean gateReleasedByAnswer = new AtomicBoolean();
            IntPredicate p = i -> {
              if (i == m1 - 1) {
                gateReleasedByAnswer.set(await(answered, GATE_SECONDS));
              }
              return i == m1 || i == m2;
            };
            Object got;
            try (AutoCloseable h = ProtocolWindows.install(window -> {
              if (window.equals("parallel.search-answered")) {
                answered.countDown();
              }
            })) {
              got = rangeForm ? Parallel.findFirst(0, n, p, o)
                  : Parallel.findFirst(list, x -> p.test(x), o);
            }
            String w = "m1=" + m1 + " m2=" + m2 + " range=" + rangeForm + " " + o;
            if (rangeForm) {
              assertThat((OptionalInt) got).as(w).hasValue(m1);
            } else {
              assertThat(got).as(w).isEqualTo(Optional.of(m1));
            }
            runs++;
            if (gateReleasedByAnswer.get()) {
              gateSawAnAnswer++;
            }
          }
        }
      }
      // The scenario really happened: the gate was released by a recorded answer every time
      // (with two or more threads someone else always reaches m2, or m1 in a chunk of its own).
      assertThat(gateSawAnAnswer).isEqualTo(runs);
    } finally {
      pool.shutdown();
      assertThat(pool.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
    }
  }

  /**
   * Does not wait for the chunks after the match: every element after index k blocks on a latch
   * that is released only after the call (a bounded wait), and every element between the match
   * m and k waits (bounded) until the match is recorded, so no thread can run ahead past k
   * while the match is being found. findFirst must return m without ever testing an element
   * after k (a search that ran on past its answer would block there).
   */
  @Test
  @SuppressWarnings("try") // the hook's handle is only closed
  void findFirstDoesNotWaitForTheChunksAfterTheMatch() throws Exception {
    int n = 100_000;
    int m = 10_000;
    int k = m + 5_000; // far beyond the one chunk per thread that can start past m
    for (int threads : new int[] {2, 4, 8}) {
      CountDownLatch answered = new CountDownLatch(1);
      CountDownLatch afterTheCall = new CountDownLatch(1);
      AtomicInteger beyondK = new AtomicInteger();
      AtomicInteger betweenWaitedInVain = new AtomicInteger();
      // One deadline for all blocked elements, so that a search that runs on past its answer
      // fails in about 5 s on the assertion below rather than on the test's time-out.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      IntPredicate p = i -> {
        if (i > k) {
          beyondK.incrementAndGet();
          // Would hold the call up: it must never be reached.
          awaitNanos(afterTheCall, deadline - System.nanoTime());
        } else if (i > m && !await(answered, GATE_SECONDS)) {
          betweenWaitedInVain.incrementAndGet();
        }
        return i == m;
      };
      OptionalInt got;
      try (AutoCloseable h = ProtocolWindows.install(window -> {
        if (window.equals("parallel.search-answered")) {
          answered.countDown();
        }
      })) {
        got = Parallel.findFirst(0, n, p, SPLIT.threads(threads));
      } finally {
        afterTheCall.countDown();
      }
      assertThat(got).as("threads=" + threads).hasValue(m);
      assertThat(beyondK).as("elements after k tested, threads=" + threads).hasValue(0);
      assertThat(betweenWaitedInVain).as("threads=" + threads).hasValue(0);
    }
  }

  // ------------------------------------------------------------------- stopping the work

  @Test
  void anEarlyAnswerStopsTheWork() {
    int n = 1_000_000;
    int m = n / 100; // the match at 1%
    List<Parallel.Options> options = List.of(Parallel.options(), Parallel.options().threads(2),
        Parallel.options().threads(4), SPLIT.threads(2), SPLIT.threads(4).minChunkSize(16));
    for (Parallel.Options o : options) {
      for (Op op : Op.values()) {
        AtomicInteger calls = new AtomicInteger();
        // allMatch stops at the first element that fails: the same element
        IntPredicate p = op == Op.ALL
            ? i -> calls.incrementAndGet() > 0 && i != m
            : i -> calls.incrementAndGet() > 0 && i == m;
        Object got = switch (op) {
          case ANY -> Parallel.anyMatch(0, n, p, o);
          case ALL -> Parallel.allMatch(0, n, p, o);
          case NONE -> Parallel.noneMatch(0, n, p, o);
          case FIND_ANY -> Parallel.findAny(0, n, p, o);
          case FIND_FIRST -> Parallel.findFirst(0, n, p, o);
        };
        String w = op + " " + o;
        switch (op) {
          case ANY -> assertThat(got).as(w).isEqualTo(true);
          case ALL, NONE -> assertThat(got).as(w).isEqualTo(false);
          case FIND_ANY, FIND_FIRST -> assertThat((OptionalInt) got).as(w).hasValue(m);
        }
        // A generous bound (the goal is about 3% of the input); not a timing.
        assertThat(calls.get()).as("predicate calls for " + w).isLessThan(n / 2);
      }
    }
    // The list form stops as well.
    List<Integer> list = indices(n);
    AtomicInteger calls = new AtomicInteger();
    assertThat(Parallel.findFirst(list, x -> calls.incrementAndGet() > 0 && x == m,
        SPLIT.threads(3))).contains(m);
    assertThat(calls.get()).isLessThan(n / 2);
  }

  @Test
  void cheapSmallInputsRunOnTheCallerUnlessTheCutoffIsZero() {
    RecordingFactory factory = new RecordingFactory();
    Thread caller = Thread.currentThread();
    AtomicBoolean elsewhere = new AtomicBoolean();
    Predicate<Integer> p = x -> {
      if (Thread.currentThread() != caller) {
        elsewhere.set(true);
      }
      return x == 15;
    };
    Parallel.Options o = Parallel.options().threads(4).threadFactory(factory);
    IntPredicate q = i -> p.test(i);
    // Issue 19: a function not seen before may be split once (its cost is not known yet); once
    // it is known to be cheap, small calls stay on the caller. A preempted split call can make
    // it look expensive for one more call, so: within a few rounds.
    boolean onCaller = false;
    for (int round = 0; round < 10 && !onCaller; round++) {
      factory.threads.clear();
      elsewhere.set(false);
      assertThat(Parallel.findFirst(indices(16), p, o)).contains(15);
      assertThat(Parallel.anyMatch(indexArray(16), p, o)).isTrue();
      assertThat(Parallel.findAny(0, 16, q, o)).hasValue(15);
      onCaller = factory.threads.isEmpty() && !elsewhere.get();
    }
    assertThat(onCaller).as("cheap small searches still split after 10 rounds").isTrue();
    // Cut-off zero: even 16 elements are split.
    assertThat(Parallel.findFirst(indices(16), p, o.sequentialCutoff(Duration.ZERO)))
        .contains(15);
    assertThat(factory.threads).isNotEmpty().noneMatch(Thread::isAlive);
  }

  @Test
  void noWorkerOutlivesASearchThatStoppedEarly() {
    RecordingFactory factory = new RecordingFactory();
    for (int round = 0; round < 20; round++) {
      assertThat(Parallel.anyMatch(0, 100_000, i -> i == 50, SPLIT.threads(4)
          .threadFactory(factory))).isTrue();
    }
    assertThat(factory.threads).isNotEmpty().noneMatch(Thread::isAlive);
  }

  // ------------------------------------------------------------------------- failures

  @Test
  @SuppressWarnings("try") // the hook's handle is only closed
  void aFailureFailsTheCallEvenIfAMatchWasFound() throws Exception {
    int n = 10_000;
    int fail = 2_000;
    int match = 6_000;
    for (int threads : new int[] {2, 4}) {
      // findFirst must test every element before its match, so the failure before it is always
      // reached; it waits until the match is recorded, so a match is known when it throws.
      CountDownLatch answered = new CountDownLatch(1);
      AtomicBoolean matchWasKnown = new AtomicBoolean();
      IllegalStateException boom = new IllegalStateException("boom");
      try (AutoCloseable h = ProtocolWindows.install(window -> {
        if (window.equals("parallel.search-answered")) {
          answered.countDown();
        }
      })) {
        assertThatThrownBy(() -> Parallel.findFirst(0, n, i -> {
          if (i == fail) {
            matchWasKnown.set(await(answered, GATE_SECONDS));
            throw boom;
          }
          return i == match;
        }, SPLIT.threads(threads)))
            .isInstanceOf(TaskFailedException.class)
            .hasCause(boom)
            .hasMessageContaining("Parallel.findFirst");
      }
      assertThat(matchWasKnown).as("threads=" + threads).isTrue();
    }
    // Inline, on the caller alone, and in every form.
    IllegalArgumentException bad = new IllegalArgumentException("bad");
    Predicate<Integer> failing = x -> {
      if (x == 3) {
        throw bad;
      }
      return false;
    };
    List<Runnable> calls = List.of(
        () -> Parallel.anyMatch(indices(10), failing),
        () -> Parallel.allMatch(indexArray(10), x -> !failing.test(x)),
        () -> Parallel.noneMatch(0, 10, i -> failing.test(i)),
        () -> Parallel.findAny(indices(5_000), failing, Parallel.options().threads(1)),
        () -> Parallel.findFirst(indexArray(5_000), failing, SPLIT.threads(2)));
    for (Runnable call : calls) {
      assertThatThrownBy(call::run).isInstanceOf(TaskFailedException.class).hasCause(bad)
          .hasMessageContaining("Parallel.");
    }
  }

  @Test
  void aFailureInterruptsWorkersBlockedInsideThePredicate() {
    // Workers block until interrupted; the caller's element fails once both are blocked.
    CountDownLatch blocked = new CountDownLatch(2);
    CountDownLatch never = new CountDownLatch(1);
    Thread caller = Thread.currentThread();
    IllegalStateException boom = new IllegalStateException("boom");
    assertThatThrownBy(() -> Parallel.anyMatch(List.of(0, 1, 2), i -> {
      if (Thread.currentThread() == caller) {
        await(blocked, GATE_SECONDS);
        throw boom;
      }
      blocked.countDown();
      try {
        never.await();
      } catch (InterruptedException e) {
        throw new IllegalStateException("worker interrupted", e);
      }
      return false;
    }, SPLIT.threads(3)))
        .isInstanceOfSatisfying(TaskFailedException.class, e -> {
          assertThat(e.getCause()).isSameAs(boom);
          assertThat(e.getSuppressed()).hasSize(2).allSatisfy(s ->
              assertThat(s).hasMessage("worker interrupted")
                  .hasCauseInstanceOf(InterruptedException.class));
        });
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
  }

  // --------------------------------------------------------------------- cancellation

  @Test
  void interruptingTheCallerCancelsTheSearch() throws Exception {
    for (Op op : Op.values()) {
      CountDownLatch workersBlocked = new CountDownLatch(2);
      CountDownLatch never = new CountDownLatch(1);
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      AtomicReference<Boolean> interruptedAfter = new AtomicReference<>();
      Thread callerThread = new Thread(() -> {
        Thread me = Thread.currentThread();
        IntPredicate p = i -> {
          if (Thread.currentThread() == me) {
            // The caller leaves the other two elements to the workers, then waits for them.
            await(workersBlocked, GATE_SECONDS);
            return op == Op.ALL;
          }
          workersBlocked.countDown();
          try {
            never.await();
          } catch (InterruptedException e) {
            throw new IllegalStateException("worker interrupted", e);
          }
          return op == Op.ALL;
        };
        Parallel.Options o = SPLIT.threads(3);
        try {
          switch (op) {
            case ANY -> Parallel.anyMatch(0, 3, p, o);
            case ALL -> Parallel.allMatch(0, 3, p, o);
            case NONE -> Parallel.noneMatch(0, 3, p, o);
            case FIND_ANY -> Parallel.findAny(0, 3, p, o);
            case FIND_FIRST -> Parallel.findFirst(0, 3, p, o);
          }
        } catch (Throwable t) {
          thrown.set(t);
        }
        interruptedAfter.set(me.isInterrupted());
      }, "test-search-caller");
      callerThread.start();
      try {
        assertThat(workersBlocked.await(GATE_SECONDS, TimeUnit.SECONDS)).isTrue();
        callerThread.interrupt();
      } finally {
        callerThread.join();
      }
      assertThat(thrown.get()).as(op.toString()).isInstanceOf(CancellationException.class)
          .hasMessageContaining("interrupted");
      assertThat(thrown.get().getSuppressed()).as(op.toString()).hasSize(2);
      assertThat(interruptedAfter.get()).as(op.toString()).isTrue();
    }
  }

  @Test
  void anInterruptedCallerIsCancelledInlineAndAlone() {
    AtomicInteger calls = new AtomicInteger();
    List<Runnable> before = List.of(
        () -> Parallel.anyMatch(indices(10), x -> calls.incrementAndGet() < 0),
        () -> Parallel.findFirst(0, 10, i -> calls.incrementAndGet() < 0),
        () -> Parallel.findAny(indexArray(5_000), x -> calls.incrementAndGet() < 0, SPLIT));
    for (Runnable call : before) {
      Thread.currentThread().interrupt();
      try {
        assertThatThrownBy(call::run).isInstanceOf(CancellationException.class);
        assertThat(Thread.currentThread().isInterrupted()).isTrue();
      } finally {
        Thread.interrupted();
      }
    }
    assertThat(calls).hasValue(0);
    // An interrupt during a long search on the caller alone is noticed within a block.
    Parallel.Options one = Parallel.options().threads(1);
    List<Runnable> during = List.of(
        () -> Parallel.anyMatch(0, 1_000_000, i -> interruptOnce(), one),
        () -> Parallel.allMatch(indices(5_000), x -> !interruptOnce(), one),
        () -> Parallel.findFirst(indexArray(5_000), x -> interruptOnce(), one));
    for (Runnable call : during) {
      try {
        assertThatThrownBy(call::run).isInstanceOf(CancellationException.class)
            .hasMessageContaining("Parallel.");
      } finally {
        Thread.interrupted();
      }
    }
  }

  private static boolean interruptOnce() {
    Thread.currentThread().interrupt(); // stays set: the next block check sees it
    return false;
  }

  // ------------------------------------------------------------------ null and bad input

  @Test
  @SuppressWarnings("JdkObsolete") // a list without RandomAccess is part of what is tested
  void aNullMatchThrowsAndTheRangeFormFindsIt() {
    List<@Nullable String> words = Arrays.asList("a", null, "b", null);
    for (Parallel.Options o : List.of(Parallel.options(), SPLIT.threads(2))) {
      assertThatThrownBy(() -> Parallel.findFirst(words, w -> w == null, o))
          .isInstanceOf(NullPointerException.class)
          .hasMessageContaining("Parallel.findFirst")
          .hasMessageContaining("is null")
          .hasMessageContaining("index 1");
      assertThatThrownBy(() -> Parallel.findAny(words.toArray(new String[0]), w -> w == null, o))
          .isInstanceOf(NullPointerException.class)
          .hasMessageContaining("Parallel.findAny")
          .hasMessageContaining("is null");
      // Null elements that do not match are fine, and the index of a null is found.
      assertThat(Parallel.findFirst(words, w -> "b".equals(w), o)).contains("b");
      assertThat(Parallel.findFirst(0, words.size(), i -> words.get(i) == null, o)).hasValue(1);
      assertThat(Parallel.anyMatch(words, w -> w == null, o)).isTrue();
    }
    LinkedList<@Nullable String> linked = new LinkedList<>(words);
    assertThat(Parallel.findFirst(linked, w -> "b".equals(w), SPLIT)).contains("b");
  }

  @Test
  void badInputThrowsWithTheNameOrValue() {
    List<Integer> data = List.of(1, 2);
    Integer[] arr = {1, 2};
    Predicate<Integer> p = x -> true;
    IntPredicate ip = i -> true;
    Parallel.Options o = Parallel.options();
    List<Named> npes = List.of(
        new Named("data", () -> Parallel.anyMatch((List<Integer>) null, p)),
        new Named("predicate", () -> Parallel.anyMatch(data, null)),
        new Named("options", () -> Parallel.anyMatch(data, p, null)),
        new Named("data", () -> Parallel.anyMatch((Integer[]) null, p)),
        new Named("predicate", () -> Parallel.anyMatch(arr, null, o)),
        new Named("options", () -> Parallel.anyMatch(arr, p, null)),
        new Named("predicate", () -> Parallel.anyMatch(0, 2, null)),
        new Named("options", () -> Parallel.anyMatch(0, 2, ip, null)),
        new Named("data", () -> Parallel.allMatch((List<Integer>) null, p)),
        new Named("predicate", () -> Parallel.allMatch(data, null)),
        new Named("options", () -> Parallel.allMatch(data, p, null)),
        new Named("data", () -> Parallel.allMatch((Integer[]) null, p)),
        new Named("predicate", () -> Parallel.allMatch(arr, null, o)),
        new Named("options", () -> Parallel.allMatch(arr, p, null)),
        new Named("predicate", () -> Parallel.allMatch(0, 2, null)),
        new Named("options", () -> Parallel.allMatch(0, 2, ip, null)),
        new Named("data", () -> Parallel.noneMatch((List<Integer>) null, p)),
        new Named("predicate", () -> Parallel.noneMatch(data, null)),
        new Named("options", () -> Parallel.noneMatch(data, p, null)),
        new Named("data", () -> Parallel.noneMatch((Integer[]) null, p)),
        new Named("predicate", () -> Parallel.noneMatch(arr, null, o)),
        new Named("options", () -> Parallel.noneMatch(arr, p, null)),
        new Named("predicate", () -> Parallel.noneMatch(0, 2, null)),
        new Named("options", () -> Parallel.noneMatch(0, 2, ip, null)),
        new Named("data", () -> Parallel.findAny((List<Integer>) null, p)),
        new Named("predicate", () -> Parallel.findAny(data, null)),
        new Named("options", () -> Parallel.findAny(data, p, null)),
        new Named("data", () -> Parallel.findAny((Integer[]) null, p)),
        new Named("predicate", () -> Parallel.findAny(arr, null, o)),
        new Named("options", () -> Parallel.findAny(arr, p, null)),
        new Named("predicate", () -> Parallel.findAny(0, 2, null)),
        new Named("options", () -> Parallel.findAny(0, 2, ip, null)),
        new Named("data", () -> Parallel.findFirst((List<Integer>) null, p)),
        new Named("predicate", () -> Parallel.findFirst(data, null)),
        new Named("options", () -> Parallel.findFirst(data, p, null)),
        new Named("data", () -> Parallel.findFirst((Integer[]) null, p)),
        new Named("predicate", () -> Parallel.findFirst(arr, null, o)),
        new Named("options", () -> Parallel.findFirst(arr, p, null)),
        new Named("predicate", () -> Parallel.findFirst(0, 2, null)),
        new Named("options", () -> Parallel.findFirst(0, 2, ip, null)));
    for (Named c : npes) {
      assertThatThrownBy(c.call::run).isInstanceOf(NullPointerException.class)
          .hasMessage(c.name);
    }
    List<Runnable> reversed = List.of(
        () -> Parallel.anyMatch(5, 3, ip), () -> Parallel.allMatch(5, 3, ip, o),
        () -> Parallel.noneMatch(5, 3, ip), () -> Parallel.findAny(5, 3, ip, o),
        () -> Parallel.findFirst(5, 3, ip));
    for (Runnable call : reversed) {
      assertThatThrownBy(call::run).isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("from = 5").hasMessageContaining("to = 3")
          .hasMessageContaining("Parallel.");
    }
  }

  private record Named(String name, Runnable call) {}

  // -------------------------------------------------------------------------- helpers

  /** Bounded latch wait; true if the latch opened, false on time-out or interrupt. */
  private static boolean awaitNanos(CountDownLatch latch, long nanos) {
    try {
      return latch.await(nanos, TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Bounded latch wait; true if the latch opened, false on time-out or interrupt. */
  private static boolean await(CountDownLatch latch, long seconds) {
    try {
      return latch.await(seconds, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
