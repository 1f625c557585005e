package dev.weft;

import dev.weft.testing.Dive;
import dev.weft.testing.Waits;
import java.lang.reflect.Field;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * Review 29 (join and idle-worker wake sites), run in a fresh JVM by Review29JoinWakeTest: a
 * wake site exercised at every depth near the end of the waking thread's stack (a stranded
 * virtual thread cannot be ended, and a pool thread left parked waits for its keep-alive, hence
 * the fresh JVM and System.exit).
 *
 * <p>Scenarios:
 *
 * <ul>
 *   <li>{@code poolHandOver}: a private {@link ParallelPool} (core 1, keep-alive 120 s, no spin)
 *       whose one thread is parked idle; a platform "deep" thread calls {@code tryExecute(task,
 *       false)} (a default task: it takes the permit) at every depth near the end of its stack.
 *       After each call, whether it returned or threw: a task it accepted runs within 2 s; a task
 *       of a call that threw either runs within 2 s or was never handed over (the thread is back
 *       on the idle stack with an empty slot); and once the thread is idle again the pool's
 *       permit count ({@code defaultBusy}) is 0.
 *   <li>{@code poolStart}: the same with a fresh pool each round (no thread yet), so that
 *       {@code tryExecute} starts the thread near the end of the caller's stack; afterwards the
 *       pool's count of live threads matches the threads alive, and its permit count is 0.
 *   <li>{@code scopeJoin}: a scope whose ThreadFactory's threads run weft's task near the end of
 *       their stack (at offset k from the overflow, k = 0, 1, 2, ... one spawn each), while
 *       two joiners (platform or virtual) are parked in {@code join()}. Each joiner must return
 *       (a value or a TaskFailedException) within 5 s of the task's thread terminating.
 * </ul>
 *
 * <p>Prints one line "RESULT &lt;scenario&gt; held|defect ..." and exits 0 (held), 1 (defect)
 * or 2 (the harness failed). Arguments: scenario, "virtual" or "platform", seconds.
 */
final class Review29JoinWakeMain {
  private Review29JoinWakeMain() {}

  /** Recurses to a StackOverflowError, then runs {@code r} once, {@code k} frames above it. */
  static final class DiveOnce {
    final Runnable r;
    final int k;
    int bottom = -1;
    boolean ran;
    @Nullable Throwable thrown;

    DiveOnce(Runnable r, int k) {
      this.r = r;
      this.k = k;
    }

    @SuppressWarnings("InfiniteRecursion") // on purpose: it ends in StackOverflowError
    void dive(int depth) {
      try {
        dive(depth + 1);
      } catch (StackOverflowError e) {
        if (bottom < 0) {
          bottom = depth;
        }
      }
      if (!ran && bottom - depth >= k) {
        ran = true; // a field store: nothing between the check and it can fail
        try {
          r.run();
        } catch (Throwable e) {
          thrown = e; // an overflow in weft's run() before or after the task
        }
      }
    }
  }

  public static void main(String[] args) throws Exception {
    String scenario = args[0];
    boolean virtual = args[1].equals("virtual");
    double seconds = Double.parseDouble(args[2]);
    int code;
    try {
      code = switch (scenario) {
        case "poolHandOver" -> poolHandOver(seconds);
        case "poolStart" -> poolStart(seconds);
        case "scopeJoin" -> scopeJoin(virtual, seconds);
        default -> throw new IllegalArgumentException(scenario);
      };
    } catch (Throwable e) {
      System.out.println("RESULT " + scenario + " harness-error " + e);
      e.printStackTrace(System.out);
      code = 2;
    }
    System.out.flush();
    System.exit(code);
  }

  // ------------------------------------------------------------------ poolHandOver

  /** A task handed to the pool: records that it ran. */
  static final class Task implements Runnable {
    volatile boolean ran;

    @Override
    public void run() {
      ran = true;
    }
  }

  /**
   * One tryExecute per deep thread, {@code k} frames above its stack overflow; the outcome is
   * checked afterwards at the top of the stack.
   */
  static final class PoolSweep {
    final ParallelPool pool;
    final Thread worker;
    final Field defaultBusy;
    final Field slot;
    @Nullable String failure;
    int accepted;
    int threw;
    int threwButRan;
    int threwNotHanded;
    int notCalled;

    PoolSweep(ParallelPool pool, Thread worker) throws ReflectiveOperationException {
      this.pool = pool;
      this.worker = worker;
      this.defaultBusy = ParallelPool.class.getDeclaredField("defaultBusy");
      this.defaultBusy.setAccessible(true);
      this.slot = ParallelPool.PoolThread.class.getDeclaredField("slot");
      this.slot.setAccessible(true);
    }

    /** Whether the worker is parked idle in the pool with an empty slot, on the idle stack. */
    boolean idleNow() throws IllegalAccessException {
      return LockSupport.getBlocker(worker) == pool
          && Waits.isParked(worker)
          && slot.get(worker) == null
          && pool.idleThreads() == 1;
    }

    void awaitIdle() throws IllegalAccessException {
      long idleEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
      while (!idleNow() && System.nanoTime() - idleEnd < 0) {
        LockSupport.parkNanos(100_000L);
      }
    }

    /** One attempt, at depth k, then its check at the top of the stack. */
    void round(int k) throws Exception {
      awaitIdle();
      if (!idleNow()) {
        failure = "the worker is not idle before round " + k + ": " + worker.getState();
        return;
      }
      Task t = new Task();
      boolean[] called = new boolean[1];
      boolean[] returned = new boolean[1];
      boolean[] result = new boolean[1];
      Runnable attempt = () -> {
        called[0] = true; // an array store: nothing between it and the call can fail
        result[0] = pool.tryExecute(t, false);
        returned[0] = true;
      };
      DiveOnce d = new DiveOnce(attempt, k);
      Thread deep = new Thread(null, () -> {
        if (k < 0) {
          attempt.run(); // at the top of the stack
        } else {
          d.dive(0);
        }
      }, "deep-" + k, 256 * 1024);
      deep.setDaemon(true);
      deep.start();
      deep.join(30_000);
      if (deep.isAlive()) {
        failure = "harness: the deep thread is stuck";
        return;
      }
      if (!called[0]) {
        notCalled++;
        return;
      }
      long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
      while (!t.ran && System.nanoTime() - end < 0) {
        LockSupport.parkNanos(100_000L);
      }
      if (returned[0]) {
        if (!result[0]) {
          failure = "tryExecute refused with its thread idle (k=" + k + ")";
          return;
        }
        accepted++;
        if (!t.ran) {
          failure = "tryExecute returned true but the task never ran (k=" + k + ", worker "
              + worker.getState() + ")";
          return;
        }
      } else {
        threw++;
        if (t.ran) {
          threwButRan++;
        } else if (slot.get(worker) == t) {
          String f = "tryExecute threw " + d.thrown + " (k=" + k + ") after handing the task"
              + " over: the worker stays parked (" + worker.getState() + ", blocker "
              + LockSupport.getBlocker(worker) + ") with the task in its slot until its"
              + " keep-alive (120 s); free threads on the idle stack: " + pool.idleThreads()
              + ", defaultBusy=" + defaultBusy.getInt(pool) + "; error at " + top(d.thrown);
          LockSupport.unpark(worker); // what the end of its keep-alive park would do
          awaitIdle();
          failure = f + "; once woken (unpark standing in for the keep-alive's end) the task "
              + (t.ran ? "ran" : "did not run") + " and defaultBusy=" + defaultBusy.getInt(pool)
              + " with the thread idle (0 expected)";
          return;
        } else {
          threwNotHanded++;
        }
      }
      awaitIdle();
      if (!idleNow()) {
        failure = "the worker did not go back to idle after round " + k + ": "
            + worker.getState();
        return;
      }
      int busy = defaultBusy.getInt(pool);
      if (busy != 0) {
        failure = "permit count wrong with the pool's only thread idle: defaultBusy=" + busy
            + " (0 expected) after a tryExecute at k=" + k + " that "
            + (returned[0] ? "returned true" : "threw " + d.thrown)
            + (t.ran ? ", whose task ran" : ", whose task never ran");
      }
    }
  }

  private static int poolHandOver(double seconds) throws Exception {
    ParallelPool pool = new ParallelPool("r29-pool-", 1, TimeUnit.SECONDS.toNanos(120), 0L);
    AtomicReference<@Nullable Thread> workerRef = new AtomicReference<>();
    Runnable first = () -> workerRef.set(Thread.currentThread());
    if (!pool.tryExecute(first, false)) {
      throw new IllegalStateException("first tryExecute refused");
    }
    long end0 = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (workerRef.get() == null && System.nanoTime() - end0 < 0) {
      LockSupport.parkNanos(100_000L);
    }
    Thread worker = workerRef.get();
    if (worker == null) {
      throw new IllegalStateException("the pool's thread never ran");
    }
    PoolSweep sweep = new PoolSweep(pool, worker);
    for (int i = 0; i < 200; i++) {
      sweep.round(-1); // at the top of the stack: warms up the paths
    }
    sweep.accepted = 0;
    long end = System.nanoTime() + (long) (seconds * 1e9);
    int rounds = 0;
    while (sweep.failure == null && System.nanoTime() - end < 0) {
      for (int k = 0; k < 400 && sweep.failure == null; k++) {
        rounds++;
        sweep.round(k);
      }
    }
    String summary = String.format(
        "rounds=%d accepted=%d threw=%d threwButRan=%d threwNotHanded=%d notCalled=%d"
            + " worker=%s",
        rounds, sweep.accepted, sweep.threw, sweep.threwButRan, sweep.threwNotHanded,
        sweep.notCalled, worker.getState());
    if (sweep.failure != null) {
      System.out.println("RESULT poolHandOver "
          + (sweep.failure.startsWith("harness") ? "harness-error " : "defect ")
          + sweep.failure + " " + summary);
      return sweep.failure.startsWith("harness") ? 2 : 1;
    }
    if (sweep.accepted == 0 || sweep.threw == 0) {
      System.out.println("RESULT poolHandOver harness-error sweep missed the window " + summary);
      return 2;
    }
    System.out.println("RESULT poolHandOver held " + summary);
    return 0;
  }

  /** The top frames of {@code e}'s stack trace, for the report. */
  static String top(@Nullable Throwable e) {
    if (e == null) {
      return "(none)";
    }
    StackTraceElement[] st = e.getStackTrace();
    return Arrays.toString(Arrays.copyOf(st, Math.min(st.length, 8)));
  }

  static final class StartSweep {
    final Field defaultBusy;
    @Nullable String failure;
    int accepted;
    int threw;
    int threwButStarted;
    int threwNotStarted;
    int notCalled;

    StartSweep() throws ReflectiveOperationException {
      defaultBusy = ParallelPool.class.getDeclaredField("defaultBusy");
      defaultBusy.setAccessible(true);
    }

    void round(int k, int n) throws Exception {
      String prefix = "r29-start-" + n + "-";
      ParallelPool pool = new ParallelPool(prefix, 1, TimeUnit.SECONDS.toNanos(120), 0L);
      AtomicReference<@Nullable Thread> ranOn = new AtomicReference<>();
      Runnable t = () -> ranOn.set(Thread.currentThread());
      boolean[] called = new boolean[1];
      boolean[] returned = new boolean[1];
      boolean[] result = new boolean[1];
      Runnable attempt = () -> {
        called[0] = true; // an array store: nothing between it and the call can fail
        result[0] = pool.tryExecute(t, false);
        returned[0] = true;
      };
      DiveOnce d = new DiveOnce(attempt, k);
      Thread deep = new Thread(null, () -> {
        if (k < 0) {
          attempt.run();
        } else {
          d.dive(0);
        }
      }, "deep-" + k, 256 * 1024);
      deep.setDaemon(true);
      deep.start();
      deep.join(30_000);
      if (deep.isAlive()) {
        failure = "harness: the deep thread is stuck";
        return;
      }
      if (!called[0]) {
        notCalled++;
        return;
      }
      long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
      while (ranOn.get() == null && System.nanoTime() - end < 0) {
        LockSupport.parkNanos(100_000L);
      }
      Thread w = ranOn.get();
      if (returned[0]) {
        accepted++;
        if (!result[0] || w == null) {
          failure = "tryExecute returned " + result[0] + " on a fresh pool but no task ran (k="
              + k + ")";
          return;
        }
      } else {
        threw++;
        if (w != null) {
          threwButStarted++;
        } else {
          threwNotStarted++;
          for (Thread x : Thread.getAllStackTraces().keySet()) {
            if (x.getName().startsWith(prefix)) {
              failure = "tryExecute threw " + d.thrown + " (k=" + k + ") but left " + x.getName()
                  + " alive (" + x.getState() + ") without the task; live=" + pool.liveThreads();
              return;
            }
          }
        }
      }
      if (w != null) {
        long idleEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (!(LockSupport.getBlocker(w) == pool && Waits.isParked(w))
            && System.nanoTime() - idleEnd < 0) {
          LockSupport.parkNanos(100_000L);
        }
      }
      int busy = defaultBusy.getInt(pool);
      int live = pool.liveThreads();
      int expectLive = w != null && w.isAlive() ? 1 : 0;
      if (busy != 0 || live != expectLive) {
        failure = "after a tryExecute at k=" + k + " that "
            + (returned[0] ? "returned true" : "threw " + d.thrown)
            + (w != null ? " and started " + w.getName() : " and started no thread")
            + ": defaultBusy=" + busy + " (0 expected), live=" + live + " (" + expectLive
            + " expected); the error was thrown at " + top(d.thrown);
      }
      pool.retireIdle();
      if (w != null) {
        w.join(10_000);
        if (w.isAlive()) {
          failure = "harness: " + w.getName() + " did not retire";
        }
      }
    }
  }

  private static int poolStart(double seconds) throws Exception {
    StartSweep sweep = new StartSweep();
    int n = 0;
    for (int i = 0; i < 100; i++) {
      sweep.round(-1, n++); // at the top of the stack: warms up the paths
    }
    sweep.accepted = 0;
    long end = System.nanoTime() + (long) (seconds * 1e9);
    int rounds = 0;
    while (sweep.failure == null && System.nanoTime() - end < 0) {
      for (int k = 0; k < 400 && sweep.failure == null; k++) {
        rounds++;
        sweep.round(k, n++);
      }
    }
    String summary = String.format(
        "rounds=%d accepted=%d threw=%d threwButStarted=%d threwNotStarted=%d notCalled=%d",
        rounds, sweep.accepted, sweep.threw, sweep.threwButStarted, sweep.threwNotStarted,
        sweep.notCalled);
    if (sweep.failure != null) {
      boolean harness = sweep.failure.startsWith("harness");
      System.out.println("RESULT poolStart " + (harness ? "harness-error " : "defect ")
          + sweep.failure + " " + summary);
      return harness ? 2 : 1;
    }
    System.out.println("RESULT poolStart held " + summary);
    return 0;
  }

  // ------------------------------------------------------------------ scopeJoin

  /** Makes threads that run weft's task {@code k} frames above a stack overflow. */
  static final class DeepFactory implements ThreadFactory {
    final AtomicInteger nextK = new AtomicInteger();
    final AtomicInteger runThrew = new AtomicInteger();
    final AtomicReference<String> lastThrown = new AtomicReference<>("(none)");
    final Thread[] joiners;

    DeepFactory(Thread[] joiners) {
      this.joiners = joiners;
    }

    @Override
    public Thread newThread(Runnable r) {
      int k = nextK.getAndIncrement();
      Thread t = new Thread(null, () -> {
        // At the top: wait until every joiner is parked on this task (its blocker is the task,
        // which is r), then long enough that their park timers are at their longest (100 ms),
        // so that the wake-up finds them parked.
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        for (Thread j : joiners) {
          while (LockSupport.getBlocker(j) != r && System.nanoTime() - end < 0) {
            LockSupport.parkNanos(100_000L);
          }
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(150));
        DiveOnce d = new DiveOnce(r, k);
        d.dive(0);
        if (d.thrown != null) {
          runThrew.incrementAndGet();
          lastThrown.set("k=" + k + ": " + top(d.thrown));
        }
      }, "deep-task-" + k, 256 * 1024);
      t.setDaemon(true);
      return t;
    }
  }

  private static int scopeJoin(boolean virtual, double seconds) throws Exception {
    int nJoiners = 2;
    Thread[] joiners = new Thread[nJoiners];
    AtomicReference<@Nullable ScopedThread<Integer>> handle = new AtomicReference<>();
    AtomicInteger[] joined = new AtomicInteger[nJoiners];
    String[] outcome = new String[nJoiners];
    AtomicInteger values = new AtomicInteger();
    AtomicInteger failures = new AtomicInteger();
    AtomicReference<@Nullable Throwable> odd = new AtomicReference<>();
    AtomicInteger round = new AtomicInteger();
    AtomicInteger callableRan = new AtomicInteger(-1);
    AtomicInteger misreported = new AtomicInteger();
    for (int i = 0; i < nJoiners; i++) {
      joined[i] = new AtomicInteger();
      int me = i;
      Runnable body = () -> {
        int seen = 0;
        while (true) {
          int r = round.get();
          if (r < 0) {
            return;
          }
          ScopedThread<Integer> h = handle.get();
          if (r == seen || h == null) {
            LockSupport.parkNanos(50_000L);
            continue;
          }
          try {
            Integer v = h.join();
            values.incrementAndGet();
            outcome[me] = "value " + v;
          } catch (TaskFailedException e) {
            failures.incrementAndGet();
            if (callableRan.get() == r - 1 && e.getCause() instanceof IllegalStateException
                && String.valueOf(e.getCause().getMessage()).contains("without running")) {
              misreported.incrementAndGet(); // the task ran and returned; reported as never ran
            }
            outcome[me] = "failed " + e.getCause();
          } catch (Throwable e) {
            odd.compareAndSet(null, e);
            outcome[me] = "odd " + e;
          }
          seen = r;
          joined[me].set(r);
        }
      };
      if (virtual) {
        joiners[i] = (Thread) Thread.class.getMethod("startVirtualThread", Runnable.class)
            .invoke(null, body);
      } else {
        joiners[i] = new Thread(body, "joiner-" + i);
        joiners[i].setDaemon(true);
        joiners[i].start();
      }
    }
    DeepFactory factory = new DeepFactory(joiners);
    long end = System.nanoTime() + (long) (seconds * 1e9);
    int spawns = 0;
    String stranded = null;
    try (Scope scope = Scope.builder().threadFactory(factory)
        .failurePolicy(Scope.FailurePolicy.AWAIT_ALL).open()) {
      while (System.nanoTime() - end < 0 && stranded == null) {
        int k = spawns;
        spawns++;
        Callable<Integer> c = () -> {
          callableRan.set(k);
          return k;
        };
        handle.set(null);
        round.set(spawns);
        ScopedThread<Integer> h = scope.spawn(c);
        handle.set(h);
        Thread t = h.thread();
        t.join(30_000);
        if (t.isAlive()) {
          stranded = "task thread " + t.getName() + " did not terminate: "
              + Arrays.toString(t.getStackTrace());
          break;
        }
        long wend = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        boolean all = false;
        while (!all && System.nanoTime() - wend < 0) {
          all = true;
          for (AtomicInteger j : joined) {
            all &= j.get() == spawns;
          }
          if (!all) {
            LockSupport.parkNanos(200_000L);
          }
        }
        if (!all) {
          StringBuilder sb = new StringBuilder("k=" + k + " task " + h + " (its run() threw, "
              + factory.lastThrown.get() + "):");
          for (int i = 0; i < nJoiners; i++) {
            sb.append(" joiner").append(i).append(' ').append(joiners[i].getState())
                .append(" joined=").append(joined[i].get())
                .append(" stack=").append(Arrays.toString(joiners[i].getStackTrace()));
          }
          stranded = sb.toString();
        }
      }
    } catch (TaskFailedException e) {
      // unjoined failures are rethrown at the end: every task was joined, so none expected
      odd.compareAndSet(null, e);
    }
    String summary = String.format(
        "%s spawns=%d values=%d failures=%d misreportedAsNeverRan=%d runThrew=%d odd=%s",
        virtual ? "virtual" : "platform", spawns, values.get(), failures.get(),
        misreported.get(), factory.runThrew.get(), odd.get());
    if (stranded != null) {
      System.out.println("RESULT scopeJoin defect stranded " + stranded + " " + summary);
      return 1;
    }
    round.set(-1);
    for (Thread j : joiners) {
      j.join(5_000);
    }
    if (odd.get() != null) {
      System.out.println("RESULT scopeJoin defect odd outcome " + summary);
      return 1;
    }
    System.out.println("RESULT scopeJoin held " + summary);
    return 0;
  }
}
