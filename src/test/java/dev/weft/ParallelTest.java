package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

@Timeout(30)
class ParallelTest {
  /** Always split: makes the parallel path deterministic regardless of machine speed. */
  private static final Parallel.Options SPLIT =
      Parallel.options().sequentialCutoff(Duration.ZERO);

  private static List<Long> oneTo(long n) {
    return LongStream.rangeClosed(1, n).boxed().collect(Collectors.toList());
  }

  /** The chapter's expensive_computation. */
  static long expensive(long x) {
    long acc = x;
    for (int i = 0; i < 1000; i++) {
      acc = acc * 7 + 13;
    }
    return acc;
  }

  /** A ThreadFactory that names threads test-parallel-N and remembers them. */
  private static final class RecordingFactory implements ThreadFactory {
    final List<Thread> threads = Collections.synchronizedList(new ArrayList<>());

    @Override
    public Thread newThread(Runnable r) {
      Thread t = new Thread(r, "test-parallel-" + threads.size());
      threads.add(t);
      return t;
    }
  }

  // ------------------------------------------------------------------ the chapter's exercise

  @Test
  void chapterExerciseSquaresOneToTwentyWithFourThreads() {
    List<Long> data = oneTo(20);
    List<Long> expected = LongStream.rangeClosed(1, 20).map(x -> x * x).boxed().toList();

    assertThat(Parallel.map(data, x -> x * x, 4)).isEqualTo(expected);
    // The same with the split forced, so that 4 threads really take part.
    Set<Thread> seen = ConcurrentHashMap.newKeySet();
    List<Long> squares = Parallel.map(data, x -> {
      seen.add(Thread.currentThread());
      return x * x;
    }, SPLIT.threads(4));
    assertThat(squares).isEqualTo(expected);
    assertThat(seen).hasSizeBetween(1, 4);
  }

  // ---------------------------------------------------------------------------- basics

  @Test
  void emptyAndSingleElementRunOnTheCaller() {
    RecordingFactory factory = new RecordingFactory();
    Parallel.Options opts = SPLIT.threadFactory(factory);
    assertThat(Parallel.map(List.<Long>of(), x -> x * x, opts)).isEmpty();
    assertThat(Parallel.map(List.of(7L), x -> x * x, opts)).containsExactly(49L);
    assertThat(Parallel.reduce(List.<Long>of(), x -> x, 5L, Long::sum, opts)).isEqualTo(5L);
    Parallel.forEach(List.of(), x -> {
      throw new AssertionError("called for an empty list");
    }, opts);
    assertThat(factory.threads).isEmpty();
  }

  @Test
  void mapIsOrderedUnderSkew() {
    List<Long> data = LongStream.range(0, 2_000).boxed().toList();
    List<Long> out = Parallel.map(data, x -> x % 97 == 0 ? expensive(x) * 0 + x * 3 : x * 3,
        SPLIT.threads(4));
    assertThat(out).isEqualTo(data.stream().map(x -> x * 3).toList());
    // The default path: the probe measures the cost and sizes chunks (and the tail) from it.
    List<Long> tailHeavy = Parallel.map(data, x -> x > 1_700 ? expensive(x) * 0 + x : x,
        Parallel.options().threads(3));
    assertThat(tailHeavy).isEqualTo(data);
    long[] big = LongStream.range(0, 300_000).toArray();
    assertThat(Parallel.reduce(big, x -> x % 1000 == 0 ? expensive(x) * 0 + x : x, 0L,
        Long::sum, Parallel.options().threads(3))).isEqualTo(299_999L * 300_000 / 2);
  }

  @Test
  void resultMayContainNullAndIsUnmodifiable() {
    List<String> out = Parallel.map(List.of(1, 2, 3, 4), x -> x % 2 == 0 ? null : "o" + x,
        SPLIT.threads(2));
    assertThat(out).containsExactly("o1", null, "o3", null);
    assertThatThrownBy(() -> out.set(0, "x")).isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  @SuppressWarnings("JdkObsolete") // a list without RandomAccess is what this test needs
  void arraysPrimitiveArraysAndLinkedLists() {
    Integer[] boxed = {3, 1, 2};
    assertThat(Parallel.map(boxed, x -> x + 1)).containsExactly(4, 2, 3);
    assertThat(Parallel.map(boxed, x -> x + 1, SPLIT)).containsExactly(4, 2, 3);

    long[] longs = LongStream.range(0, 10_000).toArray();
    long[] sq = Parallel.map(longs, x -> x * x, SPLIT.threads(3));
    assertThat(sq).isEqualTo(LongStream.range(0, 10_000).map(x -> x * x).toArray());
    assertThat(Parallel.map(new long[0], x -> x)).isEmpty();

    LinkedList<Integer> linked = new LinkedList<>(List.of(5, 6, 7, 8, 9));
    assertThat(Parallel.map(linked, x -> -x, SPLIT)).containsExactly(-5, -6, -7, -8, -9);

    AtomicLong sum = new AtomicLong();
    Parallel.forEach(new Long[] {1L, 2L, 3L}, sum::addAndGet, SPLIT);
    Parallel.forEach(new Long[] {4L}, sum::addAndGet);
    assertThat(sum).hasValue(10L);
  }

  @Test
  void forEachVisitsEveryElementOnce() {
    int n = 50_000;
    int[] hits = new int[n];
    Parallel.forEach(IntStream.range(0, n).boxed().toList(), i -> hits[i]++, SPLIT.threads(4));
    assertThat(hits).containsOnly(1);
  }

  @Test
  void forRangeCoversTheRangeIncludingItsEdges() {
    int[] hits = new int[100_000];
    Parallel.forRange(0, hits.length, i -> hits[i]++, SPLIT.threads(3));
    assertThat(hits).containsOnly(1);

    Set<Integer> top = ConcurrentHashMap.newKeySet();
    Parallel.forRange(Integer.MAX_VALUE - 5, Integer.MAX_VALUE, top::add, SPLIT);
    assertThat(top).containsExactlyInAnyOrder(
        Integer.MAX_VALUE - 5, Integer.MAX_VALUE - 4, Integer.MAX_VALUE - 3,
        Integer.MAX_VALUE - 2, Integer.MAX_VALUE - 1);

    AtomicInteger calls = new AtomicInteger();
    Parallel.forRange(Integer.MIN_VALUE, Integer.MIN_VALUE + 3, i -> calls.incrementAndGet());
    Parallel.forRange(7, 7, i -> calls.addAndGet(100));
    assertThat(calls).hasValue(3);
  }

  @Test
  void reduceCombinesInInputOrderEvenWhenNotCommutative() {
    List<Integer> data = IntStream.range(0, 3_000).boxed().toList();
    String expected = data.stream().map(i -> i + ",").collect(Collectors.joining());
    assertThat(Parallel.reduce(data, i -> i + ",", "", String::concat, SPLIT.threads(4)))
        .isEqualTo(expected);
    assertThat(Parallel.reduce(data, i -> i + ",", "", String::concat)).isEqualTo(expected);
  }

  @Test
  void everyElementOnceInOrderForManyShapes() {
    for (int n : new int[] {2, 3, 7, 8, 9, 63, 64, 65, 1_000, 1_001, 4_099}) {
      long[] data = LongStream.range(0, n).toArray();
      long[] expected = LongStream.range(0, n).map(x -> 3 * x + 1).toArray();
      List<Integer> boxed = IntStream.range(0, n).boxed().toList();
      String concat = boxed.stream().map(i -> i + ";").collect(Collectors.joining());
      for (int threads : new int[] {2, 3, 16}) {
        for (int minChunk : new int[] {1, 3, 50}) {
          Parallel.Options o = SPLIT.threads(threads).minChunkSize(minChunk);
          String shape = "n=" + n + " threads=" + threads + " minChunk=" + minChunk;
          assertThat(Parallel.map(data, x -> 3 * x + 1, o)).as(shape).isEqualTo(expected);
          assertThat(Parallel.reduce(boxed, i -> i + ";", "", String::concat, o)).as(shape)
              .isEqualTo(concat);
        }
      }
    }
  }

  @Test
  void longReduceMatchesTheChaptersSequentialSum() {
    long[] data = LongStream.range(0, 1_000_000).toArray();
    long seq = LongStream.of(data).map(x -> x * x).sum();
    assertThat(Parallel.reduce(data, x -> x * x, 0L, Long::sum)).isEqualTo(seq);
    assertThat(Parallel.reduce(data, x -> x * x, 0L, Long::sum, SPLIT.threads(4)))
        .isEqualTo(seq);
    assertThat(Parallel.reduce(oneTo(1000), x -> x * x, 0L, Long::sum, SPLIT))
        .isEqualTo(LongStream.rangeClosed(1, 1000).map(x -> x * x).sum());
    assertThat(Parallel.reduce(new long[0], x -> x, 42L, Long::sum)).isEqualTo(42L);
  }

  // ------------------------------------------------------------ threads and cut-off

  @Test
  void threadsReallyRunConcurrentlyAndAreNamed() throws Exception {
    // Three elements, three threads, each waits until all three are inside f at once: only
    // possible if two workers run beside the caller.
    CyclicBarrier allIn = new CyclicBarrier(3);
    Set<String> names = ConcurrentHashMap.newKeySet();
    Thread caller = Thread.currentThread();
    List<Integer> out = Parallel.map(List.of(1, 2, 3), x -> {
      names.add(Thread.currentThread() == caller ? "caller" : Thread.currentThread().getName());
      await(allIn);
      return x;
    }, SPLIT.threads(3));
    assertThat(out).containsExactly(1, 2, 3);
    assertThat(names).hasSize(3).contains("caller");
    assertThat(names.stream().filter(s -> !s.equals("caller")))
        .allMatch(s -> s.startsWith("weft-parallel-"));
  }

  @Test
  void moreThreadsThanElementsStartsAtMostOneWorkerPerExtraElement() {
    RecordingFactory factory = new RecordingFactory();
    assertThat(Parallel.map(List.of(1, 2, 3), x -> x * 2, SPLIT.threads(16).threadFactory(factory)))
        .containsExactly(2, 4, 6);
    assertThat(factory.threads).hasSizeLessThanOrEqualTo(2);
  }

  @Test
  void threadsOneRunsOnTheCallerOnly() {
    RecordingFactory factory = new RecordingFactory();
    Thread caller = Thread.currentThread();
    Parallel.forRange(0, 10_000, i -> assertThat(Thread.currentThread()).isSameAs(caller),
        SPLIT.threads(1).threadFactory(factory));
    assertThat(factory.threads).isEmpty();
  }

  @Test
  void workBelowTheCutoffStaysOnTheCaller() {
    RecordingFactory factory = new RecordingFactory();
    Thread caller = Thread.currentThread();
    // A cut-off no test machine reaches: the probe must keep everything on the caller.
    Parallel.Options opts = Parallel.options().threads(4).threadFactory(factory)
        .sequentialCutoff(Duration.ofSeconds(30));
    List<Long> out = Parallel.map(oneTo(10_000), x -> {
      assertThat(Thread.currentThread()).isSameAs(caller);
      return x + 1;
    }, opts);
    assertThat(out).hasSize(10_000).startsWith(2L, 3L).endsWith(10_001L);
    assertThat(factory.threads).isEmpty();
    // One element never starts a thread, whatever the cut-off.
    Parallel.map(List.of(1), x -> x, SPLIT.threadFactory(factory));
    assertThat(factory.threads).isEmpty();
  }

  @Test
  void smallInputsRunInlineUnlessTheCutoffIsZero() {
    RecordingFactory factory = new RecordingFactory();
    Thread caller = Thread.currentThread();
    Parallel.Options opts = Parallel.options().threads(4).threadFactory(factory);
    List<Integer> sixteen = IntStream.range(0, 16).boxed().collect(Collectors.toList());
    long[] longs = LongStream.range(0, 16).toArray();
    // Heavy elements, but at most 16 of them: a plain loop on the caller, nothing started.
    assertThat(Parallel.map(sixteen, x -> {
      assertThat(Thread.currentThread()).isSameAs(caller);
      spinNanos(50_000);
      return x * 2;
    }, opts)).hasSize(16).startsWith(0, 2).endsWith(30);
    assertThat(Parallel.map(longs, x -> x + 1, opts)).startsWith(1L).endsWith(16L);
    assertThat(Parallel.reduce(sixteen, x -> x, 0, Integer::sum, opts)).isEqualTo(120);
    assertThat(Parallel.reduce(longs, x -> x, 0L, Long::sum, opts)).isEqualTo(120L);
    AtomicInteger calls = new AtomicInteger();
    Parallel.forEach(sixteen, x -> calls.incrementAndGet(), opts);
    Parallel.forRange(0, 16, i -> calls.incrementAndGet(), opts);
    assertThat(calls).hasValue(32);
    assertThat(factory.threads).isEmpty();
    // The inline loop keeps the contract: failures wrapped, an interrupted caller cancelled.
    RuntimeException boom = new IllegalStateException("boom");
    assertThatThrownBy(() -> Parallel.map(longs, x -> {
      throw boom;
    }, opts)).isInstanceOf(TaskFailedException.class).hasCause(boom)
        .hasMessageContaining("Parallel.map failed");
    assertThatThrownBy(() -> Parallel.forRange(0, 3, i -> {
      throw boom;
    }, opts)).isInstanceOf(TaskFailedException.class).hasMessageContaining("Parallel.forRange");
    assertThatThrownBy(() -> Parallel.forEach(sixteen, x -> {
      throw boom;
    })).isInstanceOf(TaskFailedException.class).hasCause(boom)
        .hasMessageContaining("Parallel.forEach");
    assertThatThrownBy(() -> Parallel.reduce(sixteen, x -> {
      throw boom;
    }, 0, Integer::sum)).isInstanceOf(TaskFailedException.class).hasCause(boom)
        .hasMessageContaining("Parallel.reduce");
    assertThatThrownBy(() -> Parallel.reduce(longs, x -> x, 0L, (a, b) -> {
      throw boom;
    })).isInstanceOf(TaskFailedException.class).hasCause(boom)
        .hasMessageContaining("Parallel.reduce");
    assertThatThrownBy(() -> Parallel.map(sixteen, x -> {
      throw boom;
    })).isInstanceOf(TaskFailedException.class).hasCause(boom);
    Thread.currentThread().interrupt();
    try {
      assertThatThrownBy(() -> Parallel.forEach(sixteen, x -> { }, opts))
          .isInstanceOf(CancellationException.class).hasMessageContaining("Parallel.forEach");
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    // A zero cut-off splits even sixteen elements: a worker is started (which of the two
    // threads runs which elements is up to the schedule).
    AtomicInteger ran = new AtomicInteger();
    Parallel.forRange(0, 16, i -> ran.incrementAndGet(),
        opts.threads(2).sequentialCutoff(Duration.ZERO));
    assertThat(factory.threads).hasSize(1);
    assertThat(ran).hasValue(16);
  }

  @Test
  void anInterruptDuringACallOnTheCallerAloneCancelsIt() {
    // threads(1): the whole call runs inline; the interrupt is noticed within a block.
    AtomicInteger calls = new AtomicInteger();
    try {
      assertThatThrownBy(() -> Parallel.forRange(0, 1_000_000, i -> {
        if (calls.incrementAndGet() == 1) {
          Thread.currentThread().interrupt();
        }
      }, Parallel.options().threads(1))).isInstanceOf(CancellationException.class)
          .hasMessageContaining("Parallel.forRange");
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
      assertThat(calls.get()).isLessThan(1_000_000);
    } finally {
      Thread.interrupted();
    }
    // The same for every inline form.
    long[] longs = new long[5_000];
    List<Integer> list = Collections.nCopies(5_000, 1);
    Parallel.Options one = Parallel.options().threads(1);
    List<Runnable> calls2 = List.of(
        () -> Parallel.map(longs, x -> interruptOnce(x), one),
        () -> Parallel.map(list, x -> interruptOnce(x), one),
        () -> Parallel.forEach(list, x -> interruptOnce(x), one),
        () -> Parallel.reduce(list, x -> interruptOnce(x), 0L, Long::sum, one),
        () -> Parallel.reduce(longs, x -> interruptOnce(x), 0L, Long::sum, one));
    for (Runnable call : calls2) {
      try {
        assertThatThrownBy(call::run).isInstanceOf(CancellationException.class);
      } finally {
        Thread.interrupted();
      }
    }
    // A failure of the function that is itself a CancellationException is still wrapped.
    CancellationException own = new CancellationException("the function's own");
    assertThatThrownBy(() -> Parallel.forRange(0, 3_000, i -> {
      if (i == 2_000) {
        throw own;
      }
    }, one)).isInstanceOf(TaskFailedException.class).hasCause(own);
  }

  private static long interruptOnce(long x) {
    Thread.currentThread().interrupt(); // stays set: the next block check sees it
    return x;
  }

  @Test
  void workAboveTheDefaultCutoffIsSplit() {
    RecordingFactory factory = new RecordingFactory();
    // Each element takes at least 20 µs, so the rest is far above the 300 µs default cut-off.
    Parallel.Options opts = Parallel.options().threads(2).threadFactory(factory);
    Set<Thread> seen = ConcurrentHashMap.newKeySet();
    CountDownLatch workerRan = new CountDownLatch(1);
    Thread caller = Thread.currentThread();
    Parallel.forRange(0, 2_000, i -> {
      seen.add(Thread.currentThread());
      if (Thread.currentThread() != caller) {
        workerRan.countDown();
      } else if (i > 1_000) {
        // Leave the worker time to join in even on a loaded machine.
        awaitQuietly(workerRan, 5);
      }
      spinNanos(20_000);
    }, opts);
    assertThat(factory.threads).hasSize(1);
    assertThat(seen).hasSize(2);
  }

  @Test
  void noWorkerThreadOutlivesTheCall() {
    RecordingFactory factory = new RecordingFactory();
    for (int round = 0; round < 20; round++) {
      Parallel.map(oneTo(1_000), ParallelTest::expensive, SPLIT.threads(4).threadFactory(factory));
    }
    assertThat(factory.threads).isNotEmpty().noneMatch(Thread::isAlive);
  }

  // ------------------------------------------------------------------------- failures

  @Test
  void failureOnTheCallerIsWrappedEvenWithoutThreads() {
    IllegalStateException boom = new IllegalStateException("boom");
    assertThatThrownBy(() -> Parallel.map(List.of(1, 2, 3), x -> {
      throw boom;
    }))
        .isInstanceOf(TaskFailedException.class)
        .hasCause(boom)
        .hasMessageContaining("Parallel.map")
        .hasMessageContaining("boom");
  }

  @Test
  void everyFailureIsKeptFirstAsCauseOthersSuppressed() {
    // All four invocations are inside f at once before any throws, so all four fail.
    CyclicBarrier allIn = new CyclicBarrier(4);
    assertThatThrownBy(() -> Parallel.forEach(List.of(0, 1, 2, 3), i -> {
      await(allIn);
      throw new IllegalStateException("failure " + i);
    }, SPLIT.threads(4)))
        .isInstanceOfSatisfying(TaskFailedException.class, e -> {
          List<String> all = new ArrayList<>();
          all.add(e.getCause().getMessage());
          for (Throwable s : e.getSuppressed()) {
            all.add(s.getMessage());
          }
          assertThat(all).containsExactlyInAnyOrder(
              "failure 0", "failure 1", "failure 2", "failure 3");
        });
  }

  @Test
  void errorsAreReportedNotSwallowed() {
    StackOverflowError err = new StackOverflowError("deep");
    assertThatThrownBy(() -> Parallel.map(oneTo(1_000), x -> {
      if (x == 999) {
        throw err;
      }
      return x;
    }, SPLIT.threads(3)))
        .isInstanceOf(TaskFailedException.class)
        .hasCause(err);
    AssertionError ae = new AssertionError("assert");
    assertThatThrownBy(() -> Parallel.reduce(new long[] {1, 2}, x -> {
      throw ae;
    }, 0L, Long::sum)).isInstanceOf(TaskFailedException.class).hasCause(ae);
  }

  @Test
  void failureOfCombineIsReportedLikeAFailureOfTheFunction() {
    ArithmeticException overflow = new ArithmeticException("overflow");
    assertThatThrownBy(() -> Parallel.reduce(oneTo(10_000), x -> x, 0L, (a, b) -> {
      if (b == 9_000L) {
        throw overflow;
      }
      return a + b;
    }, SPLIT.threads(3))).isInstanceOf(TaskFailedException.class).hasCause(overflow)
        .hasMessageContaining("Parallel.reduce");
  }

  @Test
  void firstFailureStopsHandingOutWork() {
    AtomicInteger calls = new AtomicInteger();
    int n = 200_000;
    assertThatThrownBy(() -> Parallel.forRange(0, n, i -> {
      calls.incrementAndGet();
      if (i == 5) {
        throw new IllegalArgumentException("five");
      }
    }, SPLIT.threads(2).minChunkSize(10)))
        .isInstanceOf(TaskFailedException.class)
        .cause().hasMessage("five");
    assertThat(calls.get()).isLessThan(n);
  }

  @Test
  void firstFailureStopsTheWorkWithTheDefaultCutoffToo() {
    // Expensive elements: the probe splits, stop checks come every few elements.
    AtomicInteger calls = new AtomicInteger();
    int n = 100_000;
    assertThatThrownBy(() -> Parallel.forRange(0, n, i -> {
      calls.incrementAndGet();
      expensive(i);
      if (i == 20_000) {
        throw new IllegalArgumentException("twenty thousand");
      }
    }, Parallel.options().threads(2)))
        .isInstanceOf(TaskFailedException.class)
        .cause().hasMessage("twenty thousand");
    assertThat(calls.get()).isLessThan(n);
  }

  @Test
  void failureInterruptsWorkersBlockedInsideTheFunction() {
    // Workers block until interrupted; the caller's element fails once both are blocked.
    CountDownLatch blocked = new CountDownLatch(2);
    CountDownLatch never = new CountDownLatch(1);
    Thread caller = Thread.currentThread();
    IllegalStateException boom = new IllegalStateException("boom");
    assertThatThrownBy(() -> Parallel.forEach(List.of(0, 1, 2), i -> {
      if (Thread.currentThread() == caller) {
        awaitQuietly(blocked, 20);
        throw boom;
      }
      blocked.countDown();
      try {
        never.await();
      } catch (InterruptedException e) {
        throw new IllegalStateException("worker interrupted", e);
      }
    }, SPLIT.threads(3)))
        .isInstanceOfSatisfying(TaskFailedException.class, e -> {
          assertThat(e.getCause()).isSameAs(boom);
          assertThat(e.getSuppressed()).hasSize(2).allSatisfy(s ->
              assertThat(s).hasMessage("worker interrupted")
                  .hasCauseInstanceOf(InterruptedException.class));
        });
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
  }

  @Test
  void nestedFailureKeepsTheOriginalAsTheInnermostCause() {
    IllegalStateException boom = new IllegalStateException("inner boom");
    assertThatThrownBy(() -> Parallel.map(List.of(1, 2), x ->
        Parallel.map(List.of(1, 2, 3), y -> {
          if (x == 2 && y == 3) {
            throw boom;
          }
          return y;
        }, SPLIT), SPLIT))
        .isInstanceOf(TaskFailedException.class)
        .rootCause().isSameAs(boom);
  }

  // --------------------------------------------------------------------- cancellation

  @Test
  void interruptingTheCallerCancelsTheCall() throws Exception {
    CountDownLatch workersBlocked = new CountDownLatch(2);
    CountDownLatch never = new CountDownLatch(1);
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicReference<Boolean> interruptedAfter = new AtomicReference<>();
    Thread callerThread = new Thread(() -> {
      Thread me = Thread.currentThread();
      try {
        Parallel.forEach(List.of(0, 1, 2), i -> {
          if (Thread.currentThread() == me) {
            // The caller leaves the other two elements to the workers, then waits for them.
            awaitQuietly(workersBlocked, 20);
            return;
          }
          workersBlocked.countDown();
          try {
            never.await();
          } catch (InterruptedException e) {
            throw new IllegalStateException("worker interrupted", e);
          }
        }, SPLIT.threads(3));
      } catch (Throwable t) {
        thrown.set(t);
      }
      interruptedAfter.set(me.isInterrupted());
    }, "test-parallel-caller");
    callerThread.start();
    assertThat(workersBlocked.await(20, TimeUnit.SECONDS)).isTrue();
    callerThread.interrupt();
    callerThread.join();
    assertThat(thrown.get()).isInstanceOf(CancellationException.class)
        .hasMessageContaining("interrupted");
    assertThat(thrown.get().getSuppressed()).hasSize(2);
    assertThat(interruptedAfter.get()).isTrue();
  }

  @Test
  void anAlreadyInterruptedCallerIsCancelledAtOnce() {
    AtomicInteger calls = new AtomicInteger();
    Thread.currentThread().interrupt();
    try {
      assertThatThrownBy(() -> Parallel.forRange(0, 10, i -> calls.incrementAndGet()))
          .isInstanceOf(CancellationException.class);
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    assertThat(calls).hasValue(0);
  }

  // ----------------------------------------------------------------- nesting and locks

  @Test
  void nestedCallsComplete() {
    List<Long> outer = oneTo(8);
    List<Long> sums = Parallel.map(outer, x ->
        Parallel.reduce(oneTo(500), y -> x * y, 0L, Long::sum, SPLIT.threads(2)),
        SPLIT.threads(4));
    assertThat(sums).isEqualTo(outer.stream().map(x -> x * 500 * 501 / 2).toList());
  }

  @Test
  void callUnderAHeldLockNeverRunsForeignWorkOnTheCaller() throws Exception {
    ReentrantLock lock = new ReentrantLock();
    CyclicBarrier bothRunning = new CyclicBarrier(2);
    Set<Thread> otherCallThreads = ConcurrentHashMap.newKeySet();
    AtomicReference<Throwable> otherFailure = new AtomicReference<>();
    // Another, unrelated call runs at the same time on a different thread.
    Thread other = new Thread(() -> {
      try {
        Parallel.forRange(0, 2_000, i -> {
          if (i == 0) {
            await(bothRunning);
          }
          otherCallThreads.add(Thread.currentThread());
          assertThat(lock.isHeldByCurrentThread()).isFalse();
          expensive(i);
        }, SPLIT.threads(2));
      } catch (Throwable t) {
        otherFailure.set(t);
      }
    }, "test-parallel-other");
    Thread me = Thread.currentThread();
    lock.lock();
    try {
      other.start();
      List<Long> out = Parallel.map(oneTo(2_000), x -> {
        if (x == 1) {
          await(bothRunning);
        }
        // Only the caller holds the lock; on workers it must look free.
        assertThat(lock.isHeldByCurrentThread()).isEqualTo(Thread.currentThread() == me);
        return expensive(x);
      }, SPLIT.threads(2));
      assertThat(out).hasSize(2_000);
    } finally {
      lock.unlock();
    }
    other.join();
    assertThat(otherFailure.get()).isNull();
    assertThat(otherCallThreads).doesNotContain(me);
  }

  @Test
  void functionThatTakesItsOwnLockDoesNotDeadlock() {
    ReentrantLock shared = new ReentrantLock();
    long[] total = new long[1];
    Parallel.forRange(0, 20_000, i -> {
      shared.lock();
      try {
        total[0] += i;
      } finally {
        shared.unlock();
      }
    }, SPLIT.threads(4));
    assertThat(total[0]).isEqualTo(20_000L * 19_999 / 2);
  }

  // ------------------------------------------------------------------------ executors

  /**
   * A two-thread executor that, unlike ThreadPoolExecutor, does not clear interrupts between
   * tasks: an interrupt leaked by weft makes the next take() throw, which it records.
   */
  private static final class PlainPool implements java.util.concurrent.Executor {
    private static final Object POISON = new Object();
    final java.util.concurrent.BlockingQueue<Object> queue =
        new java.util.concurrent.LinkedBlockingQueue<>();
    final AtomicInteger leaks = new AtomicInteger();
    final List<Thread> threads = new ArrayList<>();

    PlainPool() {
      for (int i = 0; i < 2; i++) {
        Thread t = new Thread(() -> {
          while (true) {
            Object r;
            try {
              r = queue.take();
            } catch (InterruptedException e) {
              leaks.incrementAndGet();
              continue;
            }
            if (r == POISON) {
              return;
            }
            ((Runnable) r).run();
          }
        }, "test-plain-pool-" + i);
        threads.add(t);
        t.start();
      }
    }

    @Override
    public void execute(Runnable r) {
      queue.add(r);
    }

    void close() throws InterruptedException {
      for (int i = 0; i < threads.size(); i++) {
        queue.add(POISON);
      }
      for (Thread t : threads) {
        t.join();
      }
    }
  }

  @Test
  void executorWorkersDoNotLeakInterruptsIntoTheNextTask() throws Exception {
    PlainPool pool = new PlainPool();
    try {
      Parallel.Options opts = SPLIT.threads(3).executor(pool);
      assertThat(Parallel.map(oneTo(1_000), x -> x + 1, opts)).hasSize(1_000).startsWith(2L);

      CountDownLatch blocked = new CountDownLatch(2);
      CountDownLatch never = new CountDownLatch(1);
      Thread caller = Thread.currentThread();
      assertThatThrownBy(() -> Parallel.forEach(List.of(0, 1, 2), i -> {
        if (Thread.currentThread() == caller) {
          awaitQuietly(blocked, 20);
          throw new IllegalStateException("boom");
        }
        blocked.countDown();
        try {
          never.await();
        } catch (InterruptedException e) {
          throw new IllegalStateException("interrupted", e);
        }
      }, opts)).isInstanceOf(TaskFailedException.class);
      // Both pool threads were interrupted by weft; neither may still carry that interrupt.
      CyclicBarrier both = new CyclicBarrier(2);
      CountDownLatch checked = new CountDownLatch(2);
      AtomicInteger stillInterrupted = new AtomicInteger();
      for (int i = 0; i < 2; i++) {
        pool.execute(() -> {
          if (Thread.currentThread().isInterrupted()) {
            stillInterrupted.incrementAndGet();
          }
          await(both);
          checked.countDown();
        });
      }
      assertThat(checked.await(20, TimeUnit.SECONDS)).isTrue();
      assertThat(stillInterrupted).hasValue(0);
    } finally {
      pool.close();
    }
    assertThat(pool.leaks).hasValue(0);
  }

  @Test
  @EnabledForJreRange(min = JRE.JAVA_21)
  void virtualThreadExecutorRunsTheWorkers() throws Exception {
    ExecutorService vt = (ExecutorService)
        Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
    try {
      CyclicBarrier allIn = new CyclicBarrier(8);
      List<Integer> out = Parallel.map(IntStream.range(0, 8).boxed().toList(), x -> {
        await(allIn); // eight invocations at once: seven virtual workers and the caller
        return x * x;
      }, SPLIT.threads(8).executor(vt));
      assertThat(out).containsExactly(0, 1, 4, 9, 16, 25, 36, 49);
    } finally {
      vt.shutdown();
      assertThat(vt.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void busyExecutorNeverMakesTheCallWait() throws Exception {
    ExecutorService pool = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-busy"));
    CountDownLatch release = new CountDownLatch(1);
    try {
      pool.execute(() -> awaitQuietly(release, 20)); // occupy the only pool thread
      // The worker task queues behind it: the caller does everything and returns.
      assertThat(Parallel.map(oneTo(100), x -> x * 2, SPLIT.threads(2).executor(pool)))
          .hasSize(100).endsWith(200L);
      // A nested call from inside a pool task onto the same, now saturated pool.
      release.countDown();
      Future<List<Long>> nested = pool.submit(() ->
          Parallel.map(oneTo(100), x -> x * 3, SPLIT.threads(2).executor(pool)));
      assertThat(nested.get(20, TimeUnit.SECONDS)).hasSize(100).endsWith(300L);
    } finally {
      release.countDown();
      pool.shutdown();
      assertThat(pool.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
    }
  }

  @Test
  void rejectingExecutorAndDecliningFactoryFallBackToTheCaller() {
    Parallel.Options rejecting = SPLIT.threads(4).executor(r -> {
      throw new RejectedExecutionException("full");
    });
    assertThat(Parallel.map(oneTo(100), x -> x, rejecting)).hasSize(100);
    Parallel.Options declining = SPLIT.threads(4).threadFactory(r -> null);
    assertThat(Parallel.map(oneTo(100), x -> x, declining)).hasSize(100);
  }

  @Test
  void failingThreadFactoryFailsTheCallAfterStoppingStartedWorkers() {
    AtomicInteger made = new AtomicInteger();
    List<Thread> started = Collections.synchronizedList(new ArrayList<>());
    Parallel.Options opts = SPLIT.threads(4).threadFactory(r -> {
      if (made.incrementAndGet() == 2) {
        throw new IllegalStateException("no more threads");
      }
      Thread t = new Thread(r, "test-factory");
      started.add(t);
      return t;
    });
    assertThatThrownBy(() -> Parallel.map(oneTo(10_000), ParallelTest::expensive, opts))
        .isInstanceOf(TaskFailedException.class).cause().hasMessage("no more threads");
    assertThat(started).noneMatch(Thread::isAlive);
  }

  // ------------------------------------------------------------------------ bad input

  @Test
  void badInputThrowsWithTheNameOrValue() {
    Function<Long, Long> id = x -> x;
    assertThatNullPointerException().isThrownBy(() -> Parallel.map((List<Long>) null, id))
        .withMessage("data");
    assertThatNullPointerException().isThrownBy(() -> Parallel.map(List.of(1L), null))
        .withMessage("f");
    assertThatNullPointerException().isThrownBy(() -> Parallel.map((Long[]) null, id))
        .withMessage("data");
    assertThatNullPointerException()
        .isThrownBy(() -> Parallel.map(List.of(1L), id, (Parallel.Options) null))
        .withMessage("options");
    assertThatNullPointerException().isThrownBy(() -> Parallel.map((long[]) null, x -> x))
        .withMessage("data");
    assertThatNullPointerException().isThrownBy(() -> Parallel.forEach(List.of(1), null))
        .withMessage("action");
    assertThatNullPointerException().isThrownBy(() -> Parallel.forRange(0, 1, null))
        .withMessage("body");
    assertThatNullPointerException()
        .isThrownBy(() -> Parallel.reduce(List.of(1L), id, 0L, null))
        .withMessage("combine");
    assertThatNullPointerException().isThrownBy(() -> Parallel.options().executor(null))
        .withMessage("executor");
    assertThatNullPointerException().isThrownBy(() -> Parallel.options().threadFactory(null))
        .withMessage("factory");
    assertThatNullPointerException().isThrownBy(() -> Parallel.options().sequentialCutoff(null))
        .withMessage("cutoff");

    assertThatIllegalArgumentException().isThrownBy(() -> Parallel.map(List.of(1L), id, 0))
        .withMessageContaining("0");
    assertThatIllegalArgumentException().isThrownBy(() -> Parallel.options().threads(-3))
        .withMessageContaining("-3");
    assertThatIllegalArgumentException().isThrownBy(() -> Parallel.options().minChunkSize(0))
        .withMessageContaining("0");
    assertThatIllegalArgumentException()
        .isThrownBy(() -> Parallel.options().sequentialCutoff(Duration.ofNanos(-1)))
        .withMessageContaining("PT-0.000000001S");
    assertThatIllegalArgumentException().isThrownBy(() -> Parallel.forRange(5, 4, i -> { }))
        .withMessageContaining("5").withMessageContaining("4");
  }

  @Test
  void optionsAreImmutableAndDescribeThemselves() {
    Parallel.Options base = Parallel.options();
    Parallel.Options custom = base.threads(3).minChunkSize(8)
        .sequentialCutoff(Duration.ofMillis(1)).sequentialCutoff(Duration.ofSeconds(
            Long.MAX_VALUE));
    assertThat(base.toString()).contains("threads=availableProcessors").contains("new threads")
        .contains("minChunkSize=1").contains("PT0.0003S (default)");
    assertThat(custom.toString()).contains("threads=3").contains("minChunkSize=8");
    java.util.concurrent.Executor exec = new java.util.concurrent.Executor() {
      @Override
      public void execute(Runnable r) {
        r.run();
      }

      @Override
      public String toString() {
        throw new AssertionError("Options.toString must not call the executor's toString");
      }
    };
    assertThat(base.executor(exec).toString()).contains("workers=executor ")
        .contains("PT0.0001S (default)");
    assertThat(base.sequentialCutoff(Duration.ofMillis(2)).executor(exec).toString())
        .contains("PT0.002S").doesNotContain("(default)");
    // A direct executor runs the worker on the caller: still correct.
    assertThat(Parallel.map(oneTo(100), x -> x + 1, SPLIT.executor(exec))).hasSize(100)
        .endsWith(101L);
    assertThat(Parallel.DEFAULT_SEQUENTIAL_CUTOFF).isEqualTo(Duration.ofNanos(300_000));
    assertThat(Parallel.DEFAULT_EXECUTOR_SEQUENTIAL_CUTOFF).isEqualTo(Duration.ofNanos(100_000));
    // minChunkSize larger than the input: runs on the caller.
    RecordingFactory factory = new RecordingFactory();
    Parallel.map(Arrays.asList(1, 2, 3), x -> x, SPLIT.minChunkSize(3).threadFactory(factory));
    assertThat(factory.threads).isEmpty();
  }

  // -------------------------------------------------------------------------- helpers

  private static void await(CyclicBarrier b) {
    try {
      b.await(20, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static void awaitQuietly(CountDownLatch latch, int seconds) {
    try {
      latch.await(seconds, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void spinNanos(long nanos) {
    long end = System.nanoTime() + nanos;
    while (System.nanoTime() - end < 0) {
      Thread.onSpinWait();
    }
  }
}
