package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 19: the shared pool {@link Parallel} uses by default. Threads are weft's own (daemon,
 * root group, system class loader, nothing inherited from the caller that started them), are
 * reused by later calls, retire when idle, never take more than the core size for calls with
 * the default thread count, start each task with a clean interrupt status, and never lose a
 * hand-over.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ParallelPoolTest {
  private static final long MS = 1_000_000L;

  /** A private pool: core size, keep-alive and spin chosen by the test. */
  private static ParallelPool pool(int core, long keepAliveNanos, long spinNanos) {
    return new ParallelPool("weft-test-pool-", core, keepAliveNanos, spinNanos);
  }

  /** Waits, bounded, until the pool has no live thread (they retired). */
  private static void awaitRetired(ParallelPool p, List<Thread> threads) throws Exception {
    for (Thread t : threads) {
      t.join(10_000);
      assertThat(t.isAlive()).as("%s still alive after its keep-alive", t).isFalse();
    }
    long deadline = System.nanoTime() + 10_000 * MS;
    while (p.liveThreads() != 0 && System.nanoTime() - deadline < 0) {
      Thread.onSpinWait(); // the count drops just after run() ends; bounded
    }
    assertThat(p.liveThreads()).isZero();
  }

  @Test
  @SuppressWarnings("ThreadPriorityCheck") // the caller's priority is what must not leak
  void poolThreadsAreWeftsOwnNotTheCallersThatStartedThem() throws Exception {
    // The caller: its own thread group, maximum priority, a context class loader of its own,
    // and an inheritable thread-local. A pool thread started from it inherits none of them.
    ThreadGroup group = new ThreadGroup("test-app-group");
    ClassLoader appLoader = new ClassLoader(getClass().getClassLoader()) { };
    InheritableThreadLocal<String> inherited = new InheritableThreadLocal<>();
    AtomicReference<Thread> poolThread = new AtomicReference<>();
    AtomicReference<String> seenLocal = new AtomicReference<>("unset");
    ParallelPool p = pool(1, 200 * MS, 0);
    CountDownLatch ran = new CountDownLatch(1);
    AtomicReference<Throwable> callerFailed = new AtomicReference<>();
    Thread caller = new Thread(group, () -> {
      try {
        inherited.set("request-42");
        Thread.currentThread().setContextClassLoader(appLoader);
        assertThat(p.tryExecute(() -> {
          poolThread.set(Thread.currentThread());
          seenLocal.set(inherited.get());
          ran.countDown();
        }, false)).isTrue();
      } catch (Throwable e) {
        callerFailed.set(e);
      }
    }, "test-pool-caller");
    caller.setPriority(Thread.MAX_PRIORITY);
    caller.start();
    caller.join();
    assertThat(callerFailed.get()).isNull();
    assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
    Thread t = poolThread.get();
    assertThat(t.getName()).startsWith("weft-test-pool-");
    assertThat(t.isDaemon()).as("daemon: never keeps the JVM alive").isTrue();
    assertThat(t.getPriority()).isEqualTo(Thread.NORM_PRIORITY);
    assertThat(t.getContextClassLoader()).isSameAs(ClassLoader.getSystemClassLoader());
    assertThat(seenLocal.get()).as("inheritable thread-local of the starting caller").isNull();
    ThreadGroup g = t.getThreadGroup();
    if (g != null) { // null once terminated
      assertThat(g).isNotSameAs(group);
      assertThat(g.getParent()).as("the root group").isNull();
    }
    awaitRetired(p, List.of(t));
  }

  @Test
  void theSharedPoolsThreadsAreDaemonsNamedWeftParallel() {
    Set<Thread> workers = ConcurrentHashMap.newKeySet();
    Thread caller = Thread.currentThread();
    CountDownLatch both = new CountDownLatch(2);
    Parallel.map(List.of(1, 2), x -> {
      if (Thread.currentThread() != caller) {
        workers.add(Thread.currentThread());
      }
      both.countDown();
      await(both); // both elements inside f at once: one ran on a worker
      return x;
    }, Parallel.options().threads(2));
    assertThat(workers).hasSize(1).allSatisfy(t -> {
      assertThat(t.getName()).startsWith("weft-parallel-");
      assertThat(t.isDaemon()).isTrue();
      assertThat(t).isInstanceOf(ParallelPool.PoolThread.class);
    });
  }

  @Test
  void aSecondCallReusesTheSameThreadInsteadOfStartingOne() throws Exception {
    ParallelPool p = pool(1, 10_000 * MS, 0);
    List<Thread> ran = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      CountDownLatch done = new CountDownLatch(1);
      AtomicReference<Thread> on = new AtomicReference<>();
      assertThat(p.tryExecute(() -> {
        on.set(Thread.currentThread());
        done.countDown();
      }, false)).isTrue();
      assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
      ran.add(on.get());
      awaitIdle(p, 1);
    }
    assertThat(ran).as("one thread, reused").containsOnly(ran.get(0));
    assertThat(p.liveThreads()).isEqualTo(1);
    retireNow(p, ran.get(0));
  }

  @Test
  void callsWithTheDefaultThreadCountNeverGrowThePoolBeyondItsCore() throws Exception {
    ParallelPool p = pool(1, 10_000 * MS, 0);
    CountDownLatch release = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(3);
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    Runnable blocker = () -> {
      threads.add(Thread.currentThread());
      started.countDown();
      await(release);
    };
    try {
      assertThat(p.tryExecute(blocker, false)).isTrue(); // starts the core thread
      assertThat(p.tryExecute(blocker, false)).as("core full, no idle thread").isFalse();
      // A call that asked for more threads explicitly may grow the pool.
      assertThat(p.tryExecute(blocker, true)).isTrue();
      assertThat(p.tryExecute(blocker, true)).isTrue();
      assertThat(started.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(p.liveThreads()).isEqualTo(3);
    } finally {
      release.countDown();
    }
    awaitIdle(p, 3);
    for (Thread t : threads) {
      retireNow(p, t);
    }
  }

  @Test
  void idleThreadsRetireAfterTheKeepAlive() throws Exception {
    ParallelPool p = pool(2, 50 * MS, 0);
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    CountDownLatch both = new CountDownLatch(2);
    for (int i = 0; i < 2; i++) {
      assertThat(p.tryExecute(() -> {
        threads.add(Thread.currentThread());
        both.countDown();
        await(both);
      }, false)).isTrue();
    }
    assertThat(both.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(threads).hasSize(2);
    awaitRetired(p, new ArrayList<>(threads));
    // A retired pool starts again on demand.
    CountDownLatch again = new CountDownLatch(1);
    AtomicReference<Thread> t = new AtomicReference<>();
    assertThat(p.tryExecute(() -> {
      t.set(Thread.currentThread());
      again.countDown();
    }, false)).isTrue();
    assertThat(again.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(threads).doesNotContain(t.get());
    awaitRetired(p, List.of(t.get()));
  }

  @Test
  void aTaskStartsWithACleanInterruptStatusWhateverTheLastOneLeft() throws Exception {
    ParallelPool p = pool(1, 10_000 * MS, 0);
    CountDownLatch first = new CountDownLatch(1);
    AtomicReference<Thread> firstOn = new AtomicReference<>();
    assertThat(p.tryExecute(() -> {
      firstOn.set(Thread.currentThread());
      Thread.currentThread().interrupt(); // the user's function interrupts its own thread
      first.countDown();
    }, false)).isTrue();
    assertThat(first.await(10, TimeUnit.SECONDS)).isTrue();
    awaitIdle(p, 1);
    CountDownLatch second = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean(true);
    AtomicReference<Thread> secondOn = new AtomicReference<>();
    assertThat(p.tryExecute(() -> {
      secondOn.set(Thread.currentThread());
      interrupted.set(Thread.currentThread().isInterrupted());
      second.countDown();
    }, false)).isTrue();
    assertThat(second.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(secondOn.get()).isSameAs(firstOn.get());
    assertThat(interrupted).isFalse();
    retireNow(p, firstOn.get());
  }

  @Test
  void anInterruptOfAnIdleThreadNeitherKillsItNorReachesTheNextTask() throws Exception {
    ParallelPool p = pool(1, 10_000 * MS, 0);
    CountDownLatch first = new CountDownLatch(1);
    AtomicReference<Thread> on = new AtomicReference<>();
    assertThat(p.tryExecute(() -> {
      on.set(Thread.currentThread());
      first.countDown();
    }, false)).isTrue();
    assertThat(first.await(10, TimeUnit.SECONDS)).isTrue();
    awaitIdle(p, 1);
    on.get().interrupt(); // someone interrupts an idle pool thread
    CountDownLatch second = new CountDownLatch(1);
    AtomicBoolean interrupted = new AtomicBoolean(true);
    AtomicReference<Thread> secondOn = new AtomicReference<>();
    assertThat(p.tryExecute(() -> {
      secondOn.set(Thread.currentThread());
      interrupted.set(Thread.currentThread().isInterrupted());
      second.countDown();
    }, false)).isTrue();
    assertThat(second.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(secondOn.get()).isSameAs(on.get());
    assertThat(interrupted).isFalse();
    retireNow(p, on.get());
  }

  @Test
  void noHandOverIsLostWhenThreadsParkAndAreHandedWorkAtOnce() throws Exception {
    // No spin and a keep-alive far beyond the test: hand-overs race with parking, and a lost
    // wake-up would leave its task unrun (nothing else would wake that thread in time).
    handOversRace(pool(2, 600_000 * MS, 0));
  }

  @Test
  void noHandOverIsLostWhenThreadsRetireAndAreHandedWorkAtOnce() throws Exception {
    // Keep-alive of 1 ms: hand-overs race with retiring; a task given to a thread that then
    // exits would never run.
    handOversRace(pool(2, MS, 0));
  }

  /**
   * Every task that tryExecute accepted must run exactly once, within a bounded wait; then
   * the pool's threads are made to exit.
   */
  private static void handOversRace(ParallelPool p) throws Exception {
    int tasks = 3_000;
    int accepted = 0;
    AtomicInteger runs = new AtomicInteger();
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    for (int i = 0; i < tasks; i++) {
      if (p.tryExecute(() -> {
        threads.add(Thread.currentThread());
        runs.incrementAndGet();
      }, (i & 1) == 0)) {
        accepted++;
      }
      if ((i & 7) == 0) {
        LockSupport.parkNanos((i % 3) * MS / 2); // let threads park, and some retire
      }
    }
    long deadline = System.nanoTime() + 5_000 * MS;
    while (runs.get() < accepted && System.nanoTime() - deadline < 0) {
      LockSupport.parkNanos(MS); // bounded poll for a count, not for a result of timing
    }
    assertThat(runs.get()).isEqualTo(accepted);
    assertThat(accepted).isGreaterThan(tasks / 2);
    for (Thread t : threads) {
      awaitIdleOrGone(p, t);
    }
    p.retireIdle();
    awaitRetired(p, new ArrayList<>(threads));
  }

  @Test
  void noMoreThreadsSpinThanTheCoreSizeWhenManyGoIdleTogether() throws Exception {
    // A call with threads(4) on a pool of core 1 (blocking work, more threads than cores) ends
    // with four threads going idle together. With a spin window far longer than the test, at
    // most one of them may spin; the other three must park at once. Before the cap all four
    // spun (RUNNABLE for the whole window) and took the cores from the caller.
    ParallelPool p = pool(1, 600_000 * MS, 600_000 * MS);
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    CountDownLatch all = new CountDownLatch(4);
    for (int i = 0; i < 4; i++) {
      assertThat(p.tryExecute(() -> {
        threads.add(Thread.currentThread());
        all.countDown();
        await(all);
      }, true)).isTrue(); // beyond the core, as threads(n) asks
    }
    assertThat(all.await(10, TimeUnit.SECONDS)).isTrue();
    awaitIdle(p, 4);
    try {
      long deadline = System.nanoTime() + 10_000 * MS;
      long parked;
      do {
        parked = threads.stream().filter(t -> t.getState() == Thread.State.TIMED_WAITING).count();
        if (parked >= 3) {
          break;
        }
        Thread.onSpinWait();
      } while (System.nanoTime() - deadline < 0);
      assertThat(parked).as("pool threads parked, of 4 idle, with a core of 1").isEqualTo(3);
      assertThat(threads.stream().filter(t -> t.getState() == Thread.State.RUNNABLE).count())
          .as("pool threads spinning")
          .isLessThanOrEqualTo(1);
    } finally {
      p.retireIdle();
      for (Thread t : threads) {
        t.join(10_000);
        assertThat(t.isAlive()).isFalse();
      }
    }
  }

  @Test
  void aCallFromAPoolThreadNeverWaitsForThePool() {
    // Nested calls with default options from inside pool threads, on every level: the pool
    // may have no free thread for them (core size), and then the inner caller does the work.
    List<Integer> data = IntStream.range(0, 64).boxed().collect(Collectors.toList());
    List<Long> sums = Parallel.map(data, x -> Parallel.reduce(data, y -> (long) y * x, 0L,
        Long::sum, Parallel.options().sequentialCutoff(java.time.Duration.ZERO)),
        Parallel.options().sequentialCutoff(java.time.Duration.ZERO));
    assertThat(sums.get(3)).isEqualTo(3L * 2016);
  }

  // ------------------------------------------------------------------------------ helpers

  /** Waits, bounded, until {@code n} threads of the pool are idle (back in its stack). */
  private static void awaitIdle(ParallelPool p, int n) {
    long deadline = System.nanoTime() + 10_000 * MS;
    while (p.idleThreads() < n) {
      assertThat(System.nanoTime() - deadline).as("threads idle: " + p).isNegative();
      Thread.onSpinWait();
    }
  }

  /** Waits, bounded, until {@code t} is back in the pool's idle stack or has exited. */
  private static void awaitIdleOrGone(ParallelPool p, Thread t) {
    long deadline = System.nanoTime() + 10_000 * MS;
    while (t.isAlive() && !idleIn(t)) {
      assertThat(System.nanoTime() - deadline).as("%s idle: %s", t, p).isNegative();
      Thread.onSpinWait();
    }
  }

  private static boolean idleIn(Thread t) {
    for (StackTraceElement e : t.getStackTrace()) {
      if (e.getMethodName().equals("awaitTask")) {
        return true;
      }
    }
    return false;
  }

  /** Makes the idle threads of a private pool exit now, so that none outlives the test. */
  private static void retireNow(ParallelPool p, Thread t) throws Exception {
    p.retireIdle();
    t.join(10_000);
    assertThat(t.isAlive()).isFalse();
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(10, TimeUnit.SECONDS)) {
        throw new AssertionError("latch not reached in 10 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
