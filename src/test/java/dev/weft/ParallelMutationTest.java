package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Rules of {@link Parallel} (and its engine {@link ParallelJob}) that PIT showed the other
 * tests did not pin down: fail fast stops a worker at its next element, a caller interrupted
 * in the parallel phase or while waiting is cancelled and keeps its interrupt status (also when
 * the interrupt arrives while it joins a worker thread), executor workers are waited for, the
 * cut-off decisions seen through a recording {@link ThreadFactory}, reduce after the probe
 * combines the caller's prefix exactly once, the chunk hand-out covers every element exactly
 * once, and the inline path's interrupt check for every operation. See
 * docs/mutation-testing.md.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ParallelMutationTest {
  /** Always split: no probe, stop checked before every element. */
  private static final Parallel.Options SPLIT =
      Parallel.options().sequentialCutoff(Duration.ZERO);

  /**
   * A 1 ns cut-off: the caller probes two steps (at least 2 µs), then always splits, with the
   * chunk size and stop-check interval derived from the measured cost.
   */
  private static final Parallel.Options PROBE_THEN_SPLIT =
      Parallel.options().sequentialCutoff(Duration.ofNanos(1));

  /** Names threads test-pmt-N and counts them. */
  private static final class RecordingFactory implements ThreadFactory {
    final List<Thread> threads = Collections.synchronizedList(new ArrayList<>());

    @Override
    public Thread newThread(Runnable r) {
      Thread t = new Thread(r, "test-pmt-" + threads.size());
      threads.add(t);
      return t;
    }

    int count() {
      return threads.size();
    }
  }

  // -------------------------------------------------------------------------- fail fast

  /**
   * The worker's first element blocks until weft interrupts it (the caller's element fails
   * once the worker is inside); afterwards the worker must not start another element.
   */
  private static int workerElementsAround(Parallel.Options opts, int n, long spin) {
    Thread caller = Thread.currentThread();
    RecordingFactory factory = new RecordingFactory();
    CountDownLatch workerIn = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    AtomicInteger workerCalls = new AtomicInteger();
    IllegalStateException boom = new IllegalStateException("boom");
    assertThatThrownBy(() -> Parallel.forRange(0, n, i -> {
      if (Thread.currentThread() != caller) {
        if (workerCalls.incrementAndGet() == 1) {
          workerIn.countDown();
          try {
            never.await(20, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            return; // stopped by the caller's failure: end this element normally
          }
        }
        spinNanos(spin);
        return;
      }
      spinNanos(spin);
      if (factory.count() > 0) { // the parallel phase began (probe steps never wait here)
        awaitQuietly(workerIn);
        throw boom;
      }
    }, opts.threads(2).threadFactory(factory)))
        .isInstanceOfSatisfying(TaskFailedException.class, e -> {
          assertThat(e.getCause()).isSameAs(boom);
          assertThat(e.getSuppressed()).isEmpty();
        });
    assertThat(factory.count()).isEqualTo(1);
    return workerCalls.get();
  }

  @Test
  void afterAFailureAWorkerStartsNoFurtherElement() {
    assertThat(workerElementsAround(SPLIT, 10_000, 0)).isEqualTo(1);
  }

  @Test
  void afterAFailureAWorkerStopsWithinItsChunkWhenTheProbeMeasuredExpensiveElements() {
    // 20 µs elements: the stop check comes before every element (10 µs of work at most).
    assertThat(workerElementsAround(PROBE_THEN_SPLIT, 400, 20_000)).isEqualTo(1);
  }

  // ---------------------------------------------------------------------- cancellation

  @Test
  void callerInterruptedInTheParallelPhaseStopsAfterItsChunk() {
    Thread caller = Thread.currentThread();
    int n = 10_000;
    CountDownLatch workerIn = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    AtomicInteger calls = new AtomicInteger();
    AtomicInteger workerCalls = new AtomicInteger();
    AtomicBoolean interruptSent = new AtomicBoolean();
    try {
      assertThatThrownBy(() -> Parallel.forRange(0, n, i -> {
        calls.incrementAndGet();
        if (Thread.currentThread() != caller) {
          if (workerCalls.incrementAndGet() == 1) {
            workerIn.countDown();
            try {
              never.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              return; // stopped by the cancellation
            }
          }
          return;
        }
        if (!interruptSent.getAndSet(true)) {
          awaitQuietly(workerIn);
          caller.interrupt(); // the caller is interrupted during the call
        }
      }, SPLIT.threads(2))).isInstanceOf(CancellationException.class)
          .hasMessageContaining("Parallel.forRange was cancelled");
      assertThat(caller.isInterrupted()).as("caller's interrupt status kept").isTrue();
    } finally {
      Thread.interrupted();
    }
    // The caller finishes the chunk it holds (625 elements here), then stops handing out.
    assertThat(calls.get()).isLessThan(n / 2);
    assertThat(workerCalls).hasValue(1);
  }

  @Test
  void callerInterruptedWhileWaitingForWorkersCancelsAndInterruptsThem() throws Exception {
    CountDownLatch workerIn = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    AtomicBoolean callerElementDone = new AtomicBoolean();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicBoolean interruptedAfter = new AtomicBoolean();
    Thread callerThread = new Thread(() -> {
      Thread me = Thread.currentThread();
      try {
        Parallel.forEach(List.of(0, 1), i -> {
          if (Thread.currentThread() == me) {
            awaitQuietly(workerIn); // leave the other element to the worker
            callerElementDone.set(true);
            return;
          }
          workerIn.countDown();
          try {
            never.await(20, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            throw new IllegalStateException("worker interrupted", e);
          }
        }, SPLIT.threads(2));
      } catch (Throwable t) {
        thrown.set(t);
      }
      interruptedAfter.set(me.isInterrupted());
    }, "test-pmt-caller");
    callerThread.start();
    assertThat(workerIn.await(20, TimeUnit.SECONDS)).isTrue();
    // Its own element is done and it is parked: it waits for the worker in awaitWorkers.
    pollUntil(() -> callerElementDone.get()
        && callerThread.getState() == Thread.State.WAITING, "caller parked");
    callerThread.interrupt();
    callerThread.join();
    assertThat(thrown.get()).isInstanceOf(CancellationException.class);
    assertThat(thrown.get().getSuppressed()).hasSize(1);
    assertThat(thrown.get().getSuppressed()[0]).hasMessage("worker interrupted");
    assertThat(interruptedAfter).as("caller's interrupt status kept").isTrue();
  }

  @Test
  void interruptWhileTheCallerJoinsAWorkerThreadIsNotSwallowed() {
    Thread caller = Thread.currentThread();
    AtomicBoolean testDone = new AtomicBoolean();
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    ThreadFactory factory = r -> {
      Thread t = new Thread(() -> {
        r.run();
        // The work is done; interrupt the caller only while it joins this thread, and stay
        // alive until its join has seen the interrupt.
        pollUntil(() -> testDone.get() || isJoining(caller), "caller joining");
        if (!testDone.get()) {
          caller.interrupt();
          pollUntil(() -> testDone.get() || !caller.isInterrupted(), "join saw the interrupt");
        }
      }, "test-pmt-joined-" + made.size());
      made.add(t);
      return t;
    };
    try {
      List<Integer> out = Parallel.map(List.of(1, 2, 3, 4), x -> x * 10,
          SPLIT.threads(2).threadFactory(factory));
      assertThat(out).containsExactly(10, 20, 30, 40);
      assertThat(made).hasSize(1).noneMatch(Thread::isAlive); // joined before returning
      assertThat(Thread.interrupted()).as("interrupt delivered during join kept").isTrue();
    } finally {
      testDone.set(true);
      Thread.interrupted();
    }
  }

  // ------------------------------------------------------------------------- executors

  @Test
  void executorWorkersRunOnTheExecutorAndAreWaitedFor() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(1, r -> new Thread(r, "test-pmt-pool"));
    try {
      Thread caller = Thread.currentThread();
      CountDownLatch workerIn = new CountDownLatch(1);
      AtomicBoolean callerDone = new AtomicBoolean();
      AtomicBoolean workerFinished = new AtomicBoolean();
      AtomicReference<String> workerName = new AtomicReference<>();
      Parallel.forEach(List.of(0, 1), i -> {
        if (Thread.currentThread() == caller) {
          awaitQuietly(workerIn);
          callerDone.set(true);
          return;
        }
        workerName.set(Thread.currentThread().getName());
        workerIn.countDown();
        // Finish only once the caller is done with its element and waits for this one.
        pollUntil(() -> callerDone.get() && caller.getState() != Thread.State.RUNNABLE,
            "caller waiting");
        workerFinished.set(true);
      }, SPLIT.threads(2).executor(pool));
      assertThat(workerFinished).as("the call returned before its worker finished").isTrue();
      assertThat(workerName.get()).isEqualTo("test-pmt-pool");
    } finally {
      pool.shutdown();
      assertThat(pool.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
    }
  }

  // ------------------------------------------------------------ threads and cut-off

  @Test
  void abundantWorkStartsExactlyThreadsMinusOneWorkers() {
    RecordingFactory factory = new RecordingFactory();
    List<Long> data = LongStream.range(0, 1_000).boxed().toList();
    assertThat(Parallel.map(data, x -> x + 1, SPLIT.threads(4).threadFactory(factory)))
        .hasSize(1_000).startsWith(1L).endsWith(1_000L);
    assertThat(factory.count()).isEqualTo(3);

    // After the probe: the measured work is far above a 1 ns cut-off, so all three again.
    RecordingFactory probed = new RecordingFactory();
    List<Long> small = LongStream.range(0, 200).boxed().toList();
    assertThat(Parallel.map(small, x -> {
      spinNanos(1_000);
      return x * 2;
    }, PROBE_THEN_SPLIT.threads(4).threadFactory(probed))).hasSize(200).endsWith(398L);
    assertThat(probed.count()).isEqualTo(3);
  }

  @Test
  void workAFewTimesTheCutoffIsSplit() {
    // 100 elements of 50 µs (5 ms) against a 2 ms cut-off: after a probe of 0.5 ms the rest
    // (at least 4 ms) is at least twice the cut-off. (How many of the 7 allowed workers it
    // starts depends on the measured rate, which preemption on a loaded machine inflates.)
    RecordingFactory factory = new RecordingFactory();
    Parallel.Options opts = Parallel.options().threads(8).threadFactory(factory)
        .sequentialCutoff(Duration.ofMillis(2));
    AtomicIntegerArray hits = new AtomicIntegerArray(100);
    Parallel.forRange(0, 100, i -> {
      hits.incrementAndGet(i);
      spinNanos(50_000);
    }, opts);
    assertAllOnce(hits);
    assertThat(factory.count()).isBetween(1, 7);
  }

  @Test
  void oneExpensiveFirstElementDoesNotSplitCheapWork() {
    // Element 0 alone takes longer than the probe time and looks like 285 ms of work ahead;
    // a split needs two steps that both look expensive, and the next step is cheap.
    RecordingFactory factory = new RecordingFactory();
    Parallel.Options opts = Parallel.options().threads(2).threadFactory(factory)
        .sequentialCutoff(Duration.ofMillis(50));
    List<Integer> data = IntStream.range(0, 20).boxed().toList();
    List<Integer> out = Parallel.map(data, x -> {
      if (x == 0) {
        spinNanos(15_000_000L);
      }
      return x + 1;
    }, opts);
    assertThat(out).hasSize(20).startsWith(1).endsWith(20);
    assertThat(factory.count()).isZero();
  }

  @Test
  void expensiveFirstElementsWithinAQuarterOfTheCutoffDoNotSplit() {
    // Three 1 ms elements, then cheap ones, against a 400 ms cut-off: the caller probes for
    // 100 ms before it may split; by then the expensive start is long over.
    RecordingFactory factory = new RecordingFactory();
    Parallel.Options opts = Parallel.options().threads(2).threadFactory(factory)
        .sequentialCutoff(Duration.ofMillis(400));
    AtomicIntegerArray hits = new AtomicIntegerArray(10_000);
    Parallel.forRange(0, 10_000, i -> {
      hits.incrementAndGet(i);
      if (i < 3) {
        spinNanos(1_000_000L);
      }
    }, opts);
    assertAllOnce(hits);
    assertThat(factory.count()).isZero();
  }

  // -------------------------------------------------------------- after the probe

  @Test
  void reduceAfterTheProbeCombinesTheCallersPrefixExactlyOnceInOrder() {
    RecordingFactory factory = new RecordingFactory();
    RecordingFactory longFactory = new RecordingFactory();
    Parallel.Options opts = PROBE_THEN_SPLIT.threads(3).threadFactory(factory);
    List<Integer> data = IntStream.range(0, 300).boxed().toList();
    String expected = data.stream().map(i -> i + ";").collect(Collectors.joining());
    assertThat(Parallel.reduce(data, i -> {
      spinNanos(1_000);
      return i + ";";
    }, "", String::concat, opts)).isEqualTo(expected);

    // Multiplication of odd numbers mod 2^64: associative, never 0, and a prefix counted
    // twice, lost, or an unwritten (zero) partial result all change the product.
    long[] longs = LongStream.range(0, 300).toArray();
    long product = 1;
    for (long x : longs) {
      product *= 2 * x + 1;
    }
    assertThat(Parallel.reduce(longs, x -> {
      spinNanos(1_000);
      return 2 * x + 1;
    }, 1L, (a, b) -> a * b, opts.threadFactory(longFactory))).isEqualTo(product);
    assertThat(factory.count()).as("the list reduce really split").isEqualTo(2);
    assertThat(longFactory.count()).as("the long[] reduce really split").isEqualTo(2);
  }

  @Test
  void everyElementExactlyOnceAfterTheProbe() {
    RecordingFactory factory = new RecordingFactory();
    RecordingFactory mapFactory = new RecordingFactory();
    int n = 100_000;
    AtomicIntegerArray hits = new AtomicIntegerArray(n);
    Parallel.forRange(0, n, hits::incrementAndGet,
        PROBE_THEN_SPLIT.threads(3).threadFactory(factory));
    assertAllOnce(hits);
    long[] longs = LongStream.range(0, n).toArray();
    assertThat(Parallel.map(longs, x -> x * 3, PROBE_THEN_SPLIT.threads(3)
        .threadFactory(mapFactory))).isEqualTo(LongStream.range(0, n).map(x -> x * 3).toArray());
    assertThat(factory.count()).isEqualTo(2);
    assertThat(mapFactory.count()).isEqualTo(2);
  }

  @Test
  void aRestNoLargerThanOneChunkAfterTheProbeRunsOnTheCaller() {
    // 20 elements, minimum chunk 17: after the probe's 3 elements only one chunk is left.
    RecordingFactory factory = new RecordingFactory();
    Thread caller = Thread.currentThread();
    List<Integer> out = Parallel.map(IntStream.range(0, 20).boxed().toList(), x -> {
      assertThat(Thread.currentThread()).isSameAs(caller);
      spinNanos(2_000);
      return x * x;
    }, PROBE_THEN_SPLIT.threads(4).minChunkSize(17).threadFactory(factory));
    assertThat(out).hasSize(20).startsWith(0, 1, 4).endsWith(361);
    assertThat(factory.count()).isZero();
  }

  // ------------------------------------------------------------- the inline path

  @Test
  void everyInlineOperationChecksTheCallersInterruptStatus() {
    AtomicInteger calls = new AtomicInteger();
    List<Integer> list = List.of(1, 2, 3);
    long[] longs = {1, 2, 3};
    Thread.currentThread().interrupt();
    try {
      assertThatThrownBy(() -> Parallel.map(list, x -> calls.incrementAndGet()))
          .isInstanceOf(CancellationException.class).hasMessageContaining("Parallel.map");
      assertThatThrownBy(() -> Parallel.map(longs, x -> calls.incrementAndGet()))
          .isInstanceOf(CancellationException.class).hasMessageContaining("Parallel.map");
      assertThatThrownBy(() -> Parallel.forRange(0, 3, i -> calls.incrementAndGet()))
          .isInstanceOf(CancellationException.class).hasMessageContaining("Parallel.forRange");
      assertThatThrownBy(() -> Parallel.reduce(list, x -> calls.incrementAndGet(), 0,
          Integer::sum)).isInstanceOf(CancellationException.class)
          .hasMessageContaining("Parallel.reduce");
      assertThatThrownBy(() -> Parallel.reduce(longs, x -> calls.incrementAndGet(), 0L,
          Long::sum)).isInstanceOf(CancellationException.class)
          .hasMessageContaining("Parallel.reduce");
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    assertThat(calls).hasValue(0);
    assertThat(Parallel.map(list, x -> x * 2)).containsExactly(2, 4, 6);
    // And failures there name the operation.
    assertThatThrownBy(() -> Parallel.forEach(list, x -> {
      throw new IllegalStateException("each");
    })).isInstanceOf(TaskFailedException.class).hasMessageContaining("Parallel.forEach failed");
    assertThatThrownBy(() -> Parallel.reduce(list, x -> x, 0, (a, b) -> {
      throw new IllegalStateException("combine");
    })).isInstanceOf(TaskFailedException.class).hasMessageContaining("Parallel.reduce failed");
  }

  // ------------------------------------------------------------------- the engine

  /** Records every step: {lo, hi, slot}. */
  private static final class RecordingJob extends ParallelJob {
    final ConcurrentLinkedQueue<long[]> steps = new ConcurrentLinkedQueue<>();
    final AtomicLong prepared = new AtomicLong(-1);
    final AtomicInteger prepareCalls = new AtomicInteger();
    private final long spin;

    RecordingJob(long n, long spin) {
      super("test-op", n);
      this.spin = spin;
    }

    @Override
    void prepareChunks(long chunkCount) {
      prepareCalls.incrementAndGet();
      prepared.set(chunkCount);
    }

    @Override
    void runChunk(long lo, long hi, long slot) {
      for (long i = lo; i < hi; i++) {
        spinNanos(spin);
      }
      steps.add(new long[] {lo, hi, slot});
    }
  }

  @Test
  void engineRunsASingleThreadedOrOneChunkJobAsOneCallerStep() {
    RecordingJob single = new RecordingJob(100, 0);
    single.invoke(SPLIT.threads(1));
    assertThat(single.steps).hasSize(1);
    assertThat(single.steps.peek()).containsExactly(0, 100, -1);
    RecordingJob oneChunk = new RecordingJob(8, 0);
    oneChunk.invoke(SPLIT.minChunkSize(8));
    assertThat(oneChunk.steps).hasSize(1);
    assertThat(oneChunk.steps.peek()).containsExactly(0, 8, -1);
    RecordingJob empty = new RecordingJob(0, 0);
    empty.invoke(SPLIT);
    assertThat(empty.steps).isEmpty();
    assertThat(empty.prepareCalls).hasValue(0);
  }

  @Test
  void engineHandsOutEveryElementOnceInChunksOfAtLeastTheMinimum() {
    for (int n : new int[] {17, 100, 1_000, 4_099}) {
      for (int threads : new int[] {2, 3, 8}) {
        for (int minChunk : new int[] {1, 3, 50}) {
          RecordingJob job = new RecordingJob(n, 0);
          job.invoke(SPLIT.threads(threads).minChunkSize(minChunk));
          checkLayout(job, n, minChunk, "n=" + n + " threads=" + threads + " min=" + minChunk);
        }
      }
    }
    RecordingJob probed = new RecordingJob(400, 1_000);
    probed.invoke(PROBE_THEN_SPLIT.threads(3));
    checkLayout(probed, 400, 1, "after the probe");
    assertThat(probed.steps).anyMatch(s -> s[2] < 0).anyMatch(s -> s[2] >= 0);
  }

  private static void checkLayout(RecordingJob job, long n, int minChunk, String shape) {
    List<long[]> steps = new ArrayList<>(job.steps);
    steps.sort(Comparator.comparingLong(s -> s[0]));
    long end = 0;
    boolean parallelSeen = false;
    for (long[] s : steps) {
      assertThat(s[0]).as(shape + ": steps tile [0, n)").isEqualTo(end);
      assertThat(s[1]).as(shape).isGreaterThan(s[0]);
      if (s[2] < 0) {
        assertThat(parallelSeen).as(shape + ": caller steps form a prefix").isFalse();
      } else {
        parallelSeen = true;
        if (s[1] != n) {
          assertThat(s[1] - s[0]).as(shape + ": chunk size").isGreaterThanOrEqualTo(minChunk);
        }
      }
      end = s[1];
    }
    assertThat(end).as(shape).isEqualTo(n);
    if (!parallelSeen) {
      return;
    }
    assertThat(job.prepareCalls).as(shape).hasValue(1);
    List<long[]> chunks = new ArrayList<>();
    Set<Long> slots = new HashSet<>();
    for (long[] s : steps) {
      if (s[2] >= 0) {
        chunks.add(s);
        slots.add(s[2]);
      }
    }
    assertThat(slots).as(shape + ": each slot once").hasSize(chunks.size());
    assertThat(chunks).as(shape + ": one chunk per slot").hasSize((int) job.prepared.get());
    for (long[] c : chunks) {
      assertThat(c[2]).as(shape).isBetween(0L, job.prepared.get() - 1);
    }
    chunks.sort(Comparator.comparingLong(s -> s[2]));
    for (int i = 1; i < chunks.size(); i++) {
      assertThat(chunks.get(i)[0]).as(shape + ": handed out in index order")
          .isGreaterThan(chunks.get(i - 1)[0]);
    }
  }

  @Test
  void engineToStringShowsStateAndCeilDivRoundsUp() {
    RecordingJob job = new RecordingJob(5, 0);
    assertThat(job.toString()).isEqualTo("test-op[n=5, next=0, active=0, stopped=false]");
    assertThat(new ParallelJob.Worker(job).toString()).isEqualTo("Parallel worker[state=0]");
    assertThat(ParallelJob.ceilDiv(7, 2)).isEqualTo(4);
    assertThat(ParallelJob.ceilDiv(8, 2)).isEqualTo(4);
    assertThat(ParallelJob.ceilDiv(0, 3)).isZero();
    // Options show the worker source by identity, never by its own toString.
    ThreadFactory factory = r -> new Thread(r, "test-pmt-unused");
    assertThat(Parallel.options().threadFactory(factory).toString())
        .contains("workers=threadFactory " + factory.getClass().getName() + "@"
            + Integer.toHexString(System.identityHashCode(factory)));
  }

  // -------------------------------------------------------------------------- helpers

  private static void assertAllOnce(AtomicIntegerArray hits) {
    for (int i = 0; i < hits.length(); i++) {
      if (hits.get(i) != 1) {
        throw new AssertionError("element " + i + " ran " + hits.get(i) + " times");
      }
    }
  }

  private static boolean isJoining(Thread t) {
    for (StackTraceElement e : t.getStackTrace()) {
      if (e.getMethodName().equals("joinUninterruptibly")) {
        return true;
      }
    }
    return false;
  }

  /** Bounded poll of another thread's state (not a wait for a result). */
  private static void pollUntil(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("timed out waiting for: " + what);
      }
      Thread.onSpinWait();
      LockSupport.parkNanos(20_000L);
    }
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(20, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void spinNanos(long nanos) {
    if (nanos <= 0) {
      return;
    }
    long end = System.nanoTime() + nanos;
    while (System.nanoTime() - end < 0) {
      Thread.onSpinWait();
    }
  }
}
