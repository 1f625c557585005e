package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of {@link ParallelPool} and its use by {@link ParallelJob}: the attacks that
 * held, kept as regression coverage (the failing reproducers are in {@link
 * ParallelPoolAdversarialTest}).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ParallelPoolAdversarialTestHeld {
  private static final long LONG_KEEP_ALIVE = TimeUnit.SECONDS.toNanos(60);

  private static boolean isPoolThread(Thread t) {
    return t instanceof ParallelPool.PoolThread;
  }

  private static void awaitIdleOrGone(Thread t, ParallelPool pool) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (t.isAlive() && !(Waits.isParked(t) && LockSupport.getBlocker(t) == pool)) {
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError(t.getName() + " never went idle (state " + t.getState() + ")");
      }
      LockSupport.parkNanos(50_000L); // bounded poll of a thread state, not a result wait
    }
  }

  private static void shutdown(ParallelPool pool, Set<Thread> threads) throws InterruptedException {
    for (Thread t : threads) {
      awaitIdleOrGone(t, pool);
    }
    pool.retireIdle();
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(t.isAlive()).as("%s exits after retireIdle", t.getName()).isFalse();
    }
    assertThat(pool.liveThreads()).isZero();
  }

  private static void await(CountDownLatch l) {
    try {
      assertTrue(l.await(20, TimeUnit.SECONDS), "latch not released within 20 s");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  private static void awaitBarrier(CyclicBarrier b) {
    try {
      b.await(20, TimeUnit.SECONDS);
    } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
      throw new AssertionError(e);
    }
  }

  private static void join(Thread t) throws InterruptedException {
    t.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(t.isAlive()).as("%s finished", t.getName()).isFalse();
  }

  // ------------------------------------------------------------------- pool: hand-over

  /** Every hand-over to a parked thread (spin 0) is delivered: the Dekker pair on `parked`. */
  @Test
  void handOverToAParkedThreadIsNeverLost() throws Exception {
    ParallelPool pool = new ParallelPool("test-pool-park-", 1, LONG_KEEP_ALIVE, 0L);
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    try {
      for (int i = 0; i < 300; i++) {
        if (i > 0) {
          awaitOnStack(pool); // pushed, then parks at once (spin 0) or is about to
        }
        CountDownLatch ran = new CountDownLatch(1);
        assertThat(pool.tryExecute(() -> {
          threads.add(Thread.currentThread());
          ran.countDown();
        }, false)).isTrue();
        await(ran);
        if (i % 3 == 0) {
          for (Thread t : threads) {
            awaitIdleOrGone(t, pool); // really parked before the next hand-over
          }
        } else if (i % 3 == 1) {
          // a stale permit: the next park returns at once and must loop
          threads.forEach(LockSupport::unpark);
        }
      }
      assertThat(threads).hasSize(1); // one thread, reused throughout
    } finally {
      shutdown(pool, threads);
    }
  }

  /**
   * Hand-overs racing the keep-alive retirement (keep-alive of 1 µs, no spin): each accepted
   * task runs exactly once, on a thread that runs nothing else at the same time.
   */
  @Test
  void handOverRacingRetirementIsNeverLostNorDoubled() throws Exception {
    ParallelPool pool = new ParallelPool("test-pool-retire-", 2, 1_000L, 0L);
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    ConcurrentHashMap<Thread, AtomicInteger> busy = new ConcurrentHashMap<>();
    AtomicInteger overlaps = new AtomicInteger();
    int tasks = 3000;
    AtomicInteger[] runs = new AtomicInteger[tasks];
    Semaphore done = new Semaphore(0);
    int accepted = 0;
    try {
      for (int i = 0; i < tasks; i++) {
        runs[i] = new AtomicInteger();
        AtomicInteger mine = runs[i];
        if (pool.tryExecute(() -> {
          Thread me = Thread.currentThread();
          threads.add(me);
          AtomicInteger b = busy.computeIfAbsent(me, k -> new AtomicInteger());
          if (b.incrementAndGet() != 1) {
            overlaps.incrementAndGet();
          }
          mine.incrementAndGet();
          b.decrementAndGet();
          done.release();
        }, (i & 1) == 0)) {
          accepted++;
        }
      }
      assertTrue(done.tryAcquire(accepted, 30, TimeUnit.SECONDS),
          "accepted tasks that never ran: " + (accepted - done.availablePermits()));
      int total = 0;
      for (AtomicInteger r : runs) {
        assertThat(r.get()).isBetween(0, 1);
        total += r.get();
      }
      assertThat(total).isEqualTo(accepted);
      assertThat(overlaps.get()).as("a thread ran two tasks at once").isZero();
    } finally {
      shutdown(pool, threads);
    }
  }

  /** Concurrent submitters and a concurrent retireIdle: no task lost, doubled or overlapped. */
  @Test
  void concurrentSubmittersAndRetireIdleLoseNothing() throws Exception {
    ParallelPool pool = new ParallelPool("test-pool-multi-", 2, LONG_KEEP_ALIVE, 20_000L);
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    ConcurrentHashMap<Thread, AtomicInteger> busy = new ConcurrentHashMap<>();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicInteger accepted = new AtomicInteger();
    AtomicInteger ran = new AtomicInteger();
    Semaphore done = new Semaphore(0);
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> submitters = new ArrayList<>();
    Thread retirer = new Thread(() -> {
      while (!stop.get()) {
        pool.retireIdle();
        Thread.onSpinWait();
      }
    }, "test-retirer");
    try {
      retirer.start();
      for (int s = 0; s < 3; s++) {
        Thread t = new Thread(() -> {
          for (int i = 0; i < 1000; i++) {
            if (pool.tryExecute(() -> {
              Thread me = Thread.currentThread();
              threads.add(me);
              AtomicInteger b = busy.computeIfAbsent(me, k -> new AtomicInteger());
              if (b.incrementAndGet() != 1) {
                overlaps.incrementAndGet();
              }
              ran.incrementAndGet();
              b.decrementAndGet();
              done.release();
            }, (i % 3) == 0)) {
              accepted.incrementAndGet();
            }
          }
        }, "test-submitter-" + s);
        submitters.add(t);
        t.start();
      }
      for (Thread t : submitters) {
        join(t);
      }
      assertTrue(done.tryAcquire(accepted.get(), 30, TimeUnit.SECONDS), "a hand-over was lost");
      assertThat(ran.get()).isEqualTo(accepted.get());
      assertThat(overlaps.get()).isZero();
    } finally {
      stop.set(true);
      join(retirer);
      shutdown(pool, threads);
    }
  }

  // ------------------------------------------------------------ pool: interrupt status

  /**
   * A task that interrupts its own thread, and an interrupt sent to the idle thread (parked or
   * spinning), never reach the next task.
   */
  @Test
  void everyTaskStartsWithACleanInterruptStatus() throws Exception {
    for (long spin : new long[] {0L, TimeUnit.SECONDS.toNanos(5)}) {
      ParallelPool pool = new ParallelPool("test-pool-intr-", 1, LONG_KEEP_ALIVE, spin);
      Set<Thread> threads = ConcurrentHashMap.newKeySet();
      try {
        CountDownLatch first = new CountDownLatch(1);
        pool.tryExecute(() -> {
          threads.add(Thread.currentThread());
          Thread.currentThread().interrupt(); // the user's function interrupts itself
          first.countDown();
        }, false);
        await(first);
        Thread t = threads.iterator().next();
        awaitOnStack(pool);
        if (spin == 0L) {
          awaitIdleOrGone(t, pool);
        }
        t.interrupt(); // someone interrupts the idle thread
        AtomicReference<Boolean> seen = new AtomicReference<>();
        CountDownLatch second = new CountDownLatch(1);
        assertThat(pool.tryExecute(() -> {
          seen.set(Thread.currentThread().isInterrupted());
          second.countDown();
        }, false)).isTrue();
        await(second);
        assertThat(seen.get()).as("spin=%s", spin).isFalse();
      } finally {
        if (spin > 0) {
          // the spinning thread parks after its spin; retire it from the stack now
          Thread t = threads.iterator().next();
          awaitOnStack(pool);
          pool.retireIdle();
          join(t);
        } else {
          shutdown(pool, threads);
        }
      }
    }
  }

  /** Waits (bounded) until the pool's one thread is on its idle stack. */
  private static void awaitOnStack(ParallelPool pool) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (pool.idleThreads() != 1) {
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError("the pool thread never went idle: " + pool);
      }
      Thread.onSpinWait(); // bounded poll of pool state, not a result wait
    }
  }

  // ------------------------------------------------------------------- pool: inheritance

  /** A thread started from a "request thread" inherits none of its context. */
  @SuppressWarnings("ThreadPriorityCheck") // a low caller priority that must not be inherited
  @Test
  void poolThreadsInheritNothingFromTheThreadThatStartedThem() throws Exception {
    ThreadGroup requestGroup = new ThreadGroup("test-request-group");
    InheritableThreadLocal<String> itl = new InheritableThreadLocal<>();
    ClassLoader appLoader = new ClassLoader(getClass().getClassLoader()) { };
    AtomicReference<Thread> poolThread = new AtomicReference<>();
    AtomicReference<String> seenItl = new AtomicReference<>("unset");
    AtomicReference<ParallelPool> poolRef = new AtomicReference<>();
    CountDownLatch ran = new CountDownLatch(1);
    Thread request = new Thread(requestGroup, () -> {
      itl.set("request-value");
      Thread.currentThread().setContextClassLoader(appLoader);
      Thread.currentThread().setPriority(Thread.MIN_PRIORITY + 1);
      ParallelPool pool = new ParallelPool("test-pool-inherit-", 1, LONG_KEEP_ALIVE, 0L);
      poolRef.set(pool);
      pool.tryExecute(() -> {
        poolThread.set(Thread.currentThread());
        seenItl.set(itl.get());
        ran.countDown();
      }, false);
      await(ran);
    }, "test-request");
    request.start();
    join(request);
    Thread t = poolThread.get();
    try {
      assertThat(seenItl.get()).isNull();
      assertThat(t.getContextClassLoader()).isSameAs(ClassLoader.getSystemClassLoader());
      assertThat(t.getThreadGroup()).isNotSameAs(requestGroup);
      assertThat(t.getThreadGroup().getParent()).isNull(); // the root group
      assertThat(t.getPriority()).isEqualTo(Thread.NORM_PRIORITY);
      assertThat(t.isDaemon()).isTrue();
    } finally {
      shutdown(poolRef.get(), Set.of(t));
    }
  }

  // --------------------------------------------------------- Parallel on the shared pool

  /**
   * Fail fast interrupts only the workers of the failed call: a concurrent call's pool workers,
   * blocked in its function, are not interrupted, and its result is complete and in order.
   */
  @Test
  void failFastInterruptsOnlyTheFailedCallsWorkers() throws Exception {
    CyclicBarrier bothInside = new CyclicBarrier(2); // B's caller + B's worker
    CountDownLatch releaseB = new CountDownLatch(1);
    AtomicInteger bInterrupted = new AtomicInteger();
    AtomicReference<List<Integer>> bResult = new AtomicReference<>();
    List<Integer> in = IntStream.range(0, 2).boxed().collect(Collectors.toList());
    Thread callB = new Thread(() -> bResult.set(Parallel.map(in, x -> {
      awaitBarrier(bothInside);
      try {
        if (!releaseB.await(20, TimeUnit.SECONDS)) {
          throw new AssertionError("not released");
        }
      } catch (InterruptedException e) {
        bInterrupted.incrementAndGet();
      }
      return x * 10;
    }, Parallel.options().threads(2).sequentialCutoff(Duration.ZERO))), "test-call-b");
    callB.start();
    // Call A on this thread: its pool worker blocks until interrupted; element 0 fails.
    CountDownLatch aWorkerInside = new CountDownLatch(1);
    AtomicBoolean aWorkerInterrupted = new AtomicBoolean();
    try {
      assertThatThrownBy(() -> Parallel.forRange(0, 2, i -> {
        if (isPoolThread(Thread.currentThread())) {
          aWorkerInside.countDown();
          try {
            new CountDownLatch(1).await(20, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            aWorkerInterrupted.set(true);
          }
        } else {
          await(aWorkerInside);
          throw new IllegalStateException("boom");
        }
      }, Parallel.options().threads(2).sequentialCutoff(Duration.ZERO)))
          .isInstanceOf(TaskFailedException.class)
          .hasCauseInstanceOf(IllegalStateException.class);
      assertThat(aWorkerInterrupted).isTrue();
      assertThat(Thread.currentThread().isInterrupted()).as("caller never interrupted").isFalse();
    } finally {
      releaseB.countDown();
      join(callB);
    }
    assertThat(bInterrupted.get()).as("workers of the other call interrupted").isZero();
    assertThat(bResult.get()).containsExactly(0, 10);
  }

  /**
   * Cancellation by interrupting the caller, on the pool: CancellationException, status kept,
   * workers interrupted, no element running after the call, and the pool thread's next task
   * starts with a clean interrupt status.
   */
  @Test
  void cancellationStopsPoolWorkersAndLeavesNoElementRunning() throws Exception {
    AtomicInteger inFlight = new AtomicInteger();
    AtomicInteger afterReturn = new AtomicInteger();
    AtomicBoolean returned = new AtomicBoolean();
    CountDownLatch workerInside = new CountDownLatch(1);
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    AtomicBoolean statusAfter = new AtomicBoolean();
    AtomicReference<Thread> worker = new AtomicReference<>();
    Thread caller = new Thread(() -> {
      try {
        Parallel.forRange(0, 64, i -> {
          inFlight.incrementAndGet();
          try {
            if (returned.get()) {
              afterReturn.incrementAndGet();
            }
            if (isPoolThread(Thread.currentThread())) {
              worker.set(Thread.currentThread());
              workerInside.countDown();
              try {
                new CountDownLatch(1).await(20, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                throw new IllegalStateException("worker interrupted", e);
              }
            } else if (!Thread.currentThread().isInterrupted()) {
              // (the rest of this chunk runs with the status set: the caller checks between
              // chunks)
              await(workerInside);
              Thread.currentThread().interrupt(); // cancel ourselves mid-call
            }
          } finally {
            inFlight.decrementAndGet();
          }
        }, Parallel.options().threads(2).sequentialCutoff(Duration.ZERO));
      } catch (Throwable t) {
        thrown.set(t);
      }
      returned.set(true);
      statusAfter.set(Thread.currentThread().isInterrupted());
      assertThat(inFlight.get()).isZero();
    }, "test-cancel-caller");
    caller.start();
    join(caller);
    assertThat(thrown.get()).isInstanceOf(CancellationException.class);
    assertThat(thrown.get().getSuppressed()).anySatisfy(
        s -> assertThat(s).hasMessageContaining("worker interrupted"));
    assertThat(statusAfter).isTrue();
    assertThat(afterReturn.get()).isZero();
    // The same pool thread, next call: clean status.
    Thread w = worker.get();
    awaitIdleOrGone(w, ParallelPool.shared());
    Set<Boolean> statuses = ConcurrentHashMap.newKeySet();
    CyclicBarrier two = new CyclicBarrier(2);
    Parallel.forRange(0, 2, i -> {
      if (isPoolThread(Thread.currentThread())) {
        statuses.add(Thread.currentThread().isInterrupted());
      }
      awaitBarrier(two);
    }, Parallel.options().threads(2).sequentialCutoff(Duration.ZERO));
    assertThat(statuses).containsOnly(false);
  }

  /**
   * Nested calls from pool threads when the pool is at its core, and calls made under a held
   * lock: they complete, correctly, and the caller of one call never runs elements of another.
   */
  @Test
  void nestedCallsAndCallsUnderALockCompleteAndNeverRunForeignElements() throws Exception {
    ConcurrentHashMap<Thread, Set<Integer>> callsRunBy = new ConcurrentHashMap<>();
    List<Thread> callers = new ArrayList<>();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    for (int c = 0; c < 3; c++) {
      int callId = c;
      Thread t = new Thread(() -> {
        try {
          ReentrantLock own = new ReentrantLock();
          own.lock();
          try {
            long[] outer = Parallel.map(LongStreamRange.of(64), x -> {
              callsRunBy.computeIfAbsent(Thread.currentThread(), k -> ConcurrentHashMap.newKeySet())
                  .add(callId);
              long[] inner = Parallel.map(LongStreamRange.of(40), y -> y * x,
                  Parallel.options().sequentialCutoff(Duration.ZERO));
              long s = 0;
              for (long v : inner) {
                s += v;
              }
              return s;
            }, Parallel.options().sequentialCutoff(Duration.ZERO));
            for (int i = 0; i < 64; i++) {
              assertThat(outer[i]).isEqualTo(i * (39L * 40 / 2));
            }
          } finally {
            own.unlock();
          }
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        }
      }, "test-nested-caller-" + c);
      callers.add(t);
    }
    callers.forEach(Thread::start);
    for (Thread t : callers) {
      join(t);
    }
    assertThat(failure.get()).isNull();
    for (int c = 0; c < 3; c++) {
      assertThat(callsRunBy.getOrDefault(callers.get(c), Set.of()))
          .as("elements run by the caller of call %s", c)
          .isSubsetOf(Set.of(c));
    }
  }

  /** long[] 0..n-1. */
  private static final class LongStreamRange {
    static long[] of(int n) {
      long[] a = new long[n];
      for (int i = 0; i < n; i++) {
        a[i] = i;
      }
      return a;
    }
  }

  /** Calls from a virtual thread (JDK 21+; skipped through reflection on 17). */
  @Test
  void callsFromAVirtualThreadWork() throws Exception {
    java.lang.reflect.Method ofVirtual;
    try {
      ofVirtual = Thread.class.getMethod("ofVirtual");
    } catch (NoSuchMethodException e) {
      Assumptions.abort("virtual threads need JDK 21+");
      return;
    }
    Object builder = ofVirtual.invoke(null);
    AtomicReference<long[]> out = new AtomicReference<>();
    Runnable r = () -> out.set(Parallel.map(LongStreamRange.of(1000), x -> x + 1,
        Parallel.options().sequentialCutoff(Duration.ZERO)));
    java.lang.reflect.Method start =
        Class.forName("java.lang.Thread$Builder").getMethod("start", Runnable.class);
    Thread vt = (Thread) start.invoke(builder, r);
    join(vt);
    assertThat(out.get()).hasSize(1000);
    assertThat(out.get()[999]).isEqualTo(1000L);
  }

  // ------------------------------------------------------------------ small-input path

  private static final AtomicLong SMALL_COST_NANOS = new AtomicLong();

  private static void spinFor(long nanos) {
    long start = System.nanoTime();
    while (System.nanoTime() - start < nanos) {
      Thread.onSpinWait();
    }
  }

  /** One call site: one lambda class, one cost memory, whose cost changes between calls. */
  private static String reduceSharedSite(List<Integer> in) {
    return Parallel.reduce(in, x -> {
      spinFor(SMALL_COST_NANOS.get());
      return Integer.toString(x);
    }, "", String::concat); // associative, not commutative: order shows
  }

  /**
   * The same lambda class alternating cheap and expensive (each direction, several times, and
   * with a cost only on element 0): results and order always right.
   */
  @Test
  void smallInputResultsStayRightAcrossCostChanges() {
    for (int n = 2; n <= 16; n++) {
      List<Integer> in = IntStream.range(0, n).boxed().collect(Collectors.toList());
      String expected = in.stream().map(String::valueOf).collect(Collectors.joining());
      for (long cost : new long[] {0L, 200_000L, 0L, 0L, 50_000L, 0L, 300_000L, 300_000L, 0L}) {
        SMALL_COST_NANOS.set(cost);
        assertThat(reduceSharedSite(in)).as("n=%s cost=%s", n, cost).isEqualTo(expected);
      }
    }
  }

  /** Element 0 throws: in the cheap (timed, alone) path and in the split path. */
  @Test
  void smallInputFailureOnElementZeroInEveryPath() {
    AtomicBoolean expensive = new AtomicBoolean();
    AtomicInteger after = new AtomicInteger();
    AtomicBoolean done = new AtomicBoolean();
    for (int round = 0; round < 12; round++) {
      expensive.set(round % 3 == 1);
      boolean failOnZero = round % 2 == 0;
      List<Integer> in = IntStream.range(0, 8).boxed().collect(Collectors.toList());
      done.set(false);
      try {
        List<Integer> out = Parallel.map(in, x -> {
          if (done.get()) {
            after.incrementAndGet();
          }
          if (x == 0 && failOnZero) {
            throw new IllegalArgumentException("element 0");
          }
          if (expensive.get()) {
            spinFor(100_000L);
          }
          return x + 1;
        });
        assertThat(failOnZero).as("round %s returned", round).isFalse();
        assertThat(out).containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
      } catch (TaskFailedException e) {
        assertThat(failOnZero).isTrue();
        assertThat(e).hasCauseInstanceOf(IllegalArgumentException.class);
      }
      done.set(true);
    }
    assertThat(after.get()).as("elements run after a call returned").isZero();
  }

  /** The caller interrupted before, during element 0, and during the split: status kept. */
  @Test
  void smallInputInterruptAtEachPoint() throws Exception {
    AtomicBoolean expensive = new AtomicBoolean();
    // 0: before the call; 1: during element 0 (cheap -> alone); 2: during element 0 of an
    // expensive function (split)
    // -1: no interrupt (warm-ups, so that the cost memory knows the function as cheap)
    for (int point : new int[] {-1, -1, -1, -1, -1, 0, 1, 2}) {
      int p = point;
      expensive.set(point == 2);
      AtomicReference<Object> outcome = new AtomicReference<>();
      AtomicBoolean statusAfter = new AtomicBoolean();
      AtomicInteger inFlight = new AtomicInteger();
      AtomicReference<Thread> callerThread = new AtomicReference<>();
      Thread t = new Thread(() -> {
        callerThread.set(Thread.currentThread());
        if (p == 0) {
          Thread.currentThread().interrupt();
        }
        try {
          outcome.set(Parallel.map(List.of(0, 1, 2, 3, 4, 5), x -> {
            inFlight.incrementAndGet();
            try {
              // Interrupt the caller while element 0 runs, whichever thread runs it: with a
              // split at once a spinning pool thread may take element 0 before the caller.
              if (x == 0 && p > 0) {
                callerThread.get().interrupt();
              }
              if (expensive.get()) {
                spinFor(200_000L);
              }
              return x;
            } finally {
              inFlight.decrementAndGet();
            }
          }));
        } catch (RuntimeException e) {
          outcome.set(e);
        }
        statusAfter.set(Thread.currentThread().isInterrupted());
        assertThat(inFlight.get()).isZero();
      }, "test-small-interrupt-" + point);
      t.start();
      join(t);
      assertThat(statusAfter.get()).as("point %s: interrupt status", point).isEqualTo(point >= 0);
      Object o = outcome.get();
      if (o instanceof RuntimeException) {
        assertThat(o).isInstanceOf(CancellationException.class);
      } else {
        assertThat(o).isEqualTo(List.of(0, 1, 2, 3, 4, 5));
      }
      if (point == 0) {
        assertThat(o).isInstanceOf(CancellationException.class);
      }
    }
  }
}
