package dev.weft;

import static dev.weft.testing.Heap.fill;
import static dev.weft.testing.Heap.free;
import static dev.weft.testing.Heap.freeSmallest;
import static dev.weft.testing.Heap.waitFor;
import static dev.weft.testing.Scenario.daemon;

import dev.weft.testing.Scenario;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * Review 30c: a real OutOfMemoryError (an exhausted heap) inside Mutex's and Parallel's slow
 * paths, run in a fresh JVM ({@code -Xmx32m -XX:+UseSerialGC -XX:-UseTLAB}) by
 * Review30cHeapTest. The heap is filled (arrays of halving size, then a probe that must fail)
 * and kept full while weft's own handlers run; then freed, and the primitive is checked with
 * bounded waits. Prints "RESULT ..." and halts with 0 held, 1 defect, 3 the OOME missed, 2
 * harness error.
 */
@SuppressWarnings({"StatementSwitchToExpressionSwitch", "StaticAssignmentOfThrowable",
    "UnusedVariable"})
final class Review30cHeapMain {
  private Review30cHeapMain() {}

  static volatile @Nullable Object sink;

  /** {@code Scenario.describe(t, 4, false)}, then "(cause Simple)" when t has a cause. */
  static String describe(@Nullable Throwable t) {
    String s = Scenario.describe(t, 4, false);
    if (t == null || t.getCause() == null) {
      return s;
    }
    return s + "(cause " + t.getCause().getClass().getSimpleName() + ')';
  }

  static String stack(Thread t) {
    return Scenario.stack(t, 400);
  }

  // Flags written by the threads of a scenario; volatile ints, polled without allocation.
  static volatile int go = -1;
  static volatile int bDone = -1;
  static volatile int filled;
  static volatile int xDone;
  static volatile int callDone;
  static volatile @Nullable Throwable callError;
  static volatile @Nullable Throwable xError;
  static volatile @Nullable Thread callerThread;
  static volatile int want;

  // Suppliers made before any fill: a lambda evaluated first in a full heap links (allocates).
  static final BooleanSupplier B_DONE = () -> bDone == want;
  static final BooleanSupplier FILLED = () -> filled != 0;
  static final BooleanSupplier X_DONE = () -> xDone != 0;
  static final BooleanSupplier CALL_DONE = () -> callDone != 0;
  static final BooleanSupplier NEVER = () -> false;

  public static void main(String[] args) throws Exception {
    free();
    waitFor(0, NEVER);
    waitFor(0, B_DONE);
    waitFor(0, FILLED);
    waitFor(0, X_DONE);
    waitFor(0, CALL_DONE);
    describe(new OutOfMemoryError());
    describe(new IllegalStateException(new OutOfMemoryError())); // links the cause's concatenation
    Scenario.runAndHalt(args, Review30cHeapMain::describe, Review30cHeapMain::run);
  }

  static String[] run(String scenario, String kind) throws Exception {
    switch (scenario) {
      case "mutex":
        return mutex(kind);
      case "parallel":
        return parallel(kind);
      case "jdkexec":
        return jdkExecutor();
      case "guardClose":
        return guardClose(Integer.parseInt(kind));
      default:
        throw new IllegalArgumentException(scenario);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Mutex: main holds the lock; the heap is full but for k small arrays; B calls op; main
  // makes B's predicate true and releases while the heap is still full; then frees it.

  private static final class RoundPred implements Predicate<int[]> {
    final int round;

    RoundPred(int round) {
      this.round = round;
    }

    @Override
    public boolean test(int[] v) {
      return v[0] == round;
    }
  }

  private static final class HeldInside implements UnaryOperator<int[]> {
    final Mutex<int[]> m;
    volatile boolean held;

    HeldInside(Mutex<int[]> m) {
      this.m = m;
    }

    @Override
    public int[] apply(int[] v) {
      held = m.isHeldByCurrentThread();
      return v;
    }
  }

  static String[] mutex(String op) throws Exception {
    Mutex.PredicateEvaluation eval = op.endsWith("BW")
        ? Mutex.PredicateEvaluation.BY_WAITER : Mutex.PredicateEvaluation.BY_RELEASER;
    int[] v = new int[] {-1};
    Mutex<int[]> m = new Mutex<>(v, eval);
    HeldInside body = new HeldInside(m);
    int rounds = 24;
    AtomicInteger thrown = new AtomicInteger();
    AtomicInteger leaked = new AtomicInteger();
    AtomicInteger notHeldOnReturn = new AtomicInteger();
    StringBuilder log = new StringBuilder();
    @Nullable Throwable[] firstError = new Throwable[1];
    // Warm the paths (link call sites) before any fill.
    for (int i = 0; i < 2000; i++) {
      Thread w = daemon("warm", () -> {
        try (Mutex.Guard<int[]> g = m.lock()) {
          g.get();
        }
      });
      try (Mutex.Guard<int[]> g = m.lock()) {
        g.get();
        LockSupport.parkNanos(20_000L);
      }
      w.join();
      if (i > 20) {
        break;
      }
    }
    Thread b = daemon("B", () -> {
      for (int r = 0; r < rounds; r++) {
        RoundPred pred = new RoundPred(r);
        while (go != r) {
          LockSupport.parkNanos(200_000L);
        }
        try {
          switch (op) {
            case "lock": {
              Mutex.Guard<int[]> g = m.lock();
              body.held = m.isHeldByCurrentThread();
              g.close();
              break;
            }
            case "with":
              m.with(body);
              break;
            case "update":
              m.update(body);
              break;
            case "lockWhen":
            case "lockWhenBW": {
              Mutex.Guard<int[]> g = m.lockWhen(pred);
              body.held = m.isHeldByCurrentThread();
              g.close();
              break;
            }
            case "awaitThen":
            case "awaitThenBW":
              m.awaitThen(pred, body);
              break;
            default:
              throw new IllegalArgumentException(op);
          }
          if (!body.held) {
            notHeldOnReturn.incrementAndGet();
          }
        } catch (Throwable t) {
          free();
          thrown.incrementAndGet();
          if (firstError[0] == null) {
            firstError[0] = t;
          }
          if (m.isHeldByCurrentThread()) {
            leaked.incrementAndGet();
            log.append(" r").append(r).append("=leaked");
          }
        } finally {
          bDone = r;
        }
      }
    });
    int stuckAt = -1;
    @Nullable Throwable mainClose = null;
    for (int r = 0; r < rounds; r++) {
      want = r;
      Mutex.Guard<int[]> g = m.tryLock(Duration.ofSeconds(10));
      if (g == null) {
        stuckAt = r;
        log.append(" mainCannotLock@r").append(r).append(' ').append(m).append(" B:")
            .append(stack(b));
        break;
      }
      v[0] = -1;
      fill();
      freeSmallest(r % 12);
      go = r;
      waitFor(300, B_DONE); // B fails at once or queues
      v[0] = r;
      try {
        g.close(); // release with the heap still full
      } catch (Throwable t) {
        free();
        mainClose = t;
        if (m.isHeldByCurrentThread()) {
          g.close();
        }
      }
      waitFor(1500, B_DONE);
      free();
      if (!waitFor(5000, B_DONE)) {
        stuckAt = r;
        log.append(" bStuck@r").append(r).append(' ').append(m).append(" B:").append(stack(b));
        break;
      }
    }
    b.join(5000);
    AtomicInteger ok = new AtomicInteger();
    Thread c = daemon("C", () -> {
      try (Mutex.Guard<int[]> g = m.lock()) {
        ok.set(g.get().length);
      }
    });
    c.join(5000);
    boolean lockedAtEnd = m.isLocked();
    Throwable e = firstError[0];
    String s = "thrown=" + thrown + "/" + rounds + " leakedHeld=" + leaked + " returnedNotHeld="
        + notHeldOnReturn + " stuckAt=" + stuckAt + " bAlive=" + b.isAlive() + " othersLock="
        + (ok.get() == 1) + " lockedAtEnd=" + lockedAtEnd + " mainClose=" + describe(mainClose)
        + " first=" + describe(e) + log + " " + m;
    boolean good = stuckAt < 0 && !b.isAlive() && leaked.get() == 0 && notHeldOnReturn.get() == 0
        && ok.get() == 1 && !lockedAtEnd; // a close that threw was retried: reported, not judged
    return new String[] {!good ? "1" : thrown.get() == 0 ? "3" : "0", s};
  }

  /**
   * A guard closed (try-with-resources style: once) in a full heap, round after round; the
   * lock taken with the heap free. {@code extra} extra lock-order switch reads shift which call
   * is the one that links/customizes the switch's method handle. Defect if a close throws with
   * the mutex still held (no retry: a try-with-resources block closes once).
   */
  static String[] guardClose(int extra) throws Exception {
    Mutex<int[]> m = new Mutex<>(new int[1]);
    for (int i = 0; i < extra; i++) {
      LockOrder.enabled();
    }
    int rounds = 400;
    int thrown = 0;
    boolean heldAfterThrow = false;
    @Nullable Throwable first = null;
    int at = -1;
    for (int r = 0; r < rounds && first == null; r++) {
      Mutex.Guard<int[]> g = m.lock();
      fill();
      try {
        g.close(); // the only close: as try-with-resources does
      } catch (Throwable t) {
        free();
        thrown++;
        first = t;
        at = r;
        heldAfterThrow = m.isHeldByCurrentThread();
      }
      free();
    }
    AtomicInteger other = new AtomicInteger();
    Thread c = daemon("C", () -> {
      Mutex.Guard<int[]> g = null;
      try {
        g = m.tryLock(Duration.ofSeconds(3));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      if (g != null) {
        other.set(1);
        g.close();
      }
    });
    c.join(10_000);
    String s = "closeThrew=" + thrown + " atRound=" + at + " heldAfterThrow=" + heldAfterThrow
        + " otherThreadLocksIn3s=" + (other.get() == 1) + " first=" + describe(first) + " " + m;
    boolean good = !heldAfterThrow && other.get() == 1;
    // Since session 30's fix the release allocates nothing (its call site is linked when Mutex
    // initializes), so the close no longer throws: a close that throws is no longer needed to
    // call it held; a lock left held or unreachable still fails.
    return new String[] {!good ? "1" : "0", s};
  }

  // ---------------------------------------------------------------------------------------
  // Parallel.map with two participants (the caller and one worker).
  //   pool / threads: the worker's function fills the heap and fails with a real OOME; the
  //     heap stays full while the job winds down (worker exit, failure report), then is freed.
  //   exec: a user Executor whose thread starts the worker task only once the caller's own
  //     function has filled the heap: the job's code on the worker allocates first.

  private static final class Fn implements Function<Integer, Object> {
    final String kind;
    final AtomicInteger claimed = new AtomicInteger();

    Fn(String kind) {
      this.kind = kind;
    }

    @Override
    public Object apply(Integer x) {
      boolean onCaller = Thread.currentThread() == callerThread;
      if (kind.equals("exec")) {
        if (onCaller && claimed.compareAndSet(0, 1)) {
          fill();
          filled = 1;
          waitFor(3000, X_DONE); // the heap stays full while the worker starts
          waitFor(1000, NEVER);
          free();
        }
        return x;
      }
      if (!onCaller && claimed.compareAndSet(0, 1)) {
        fill();
        filled = 1;
        sink = new long[256]; // a real OOME, in the user's function on the worker
      }
      LockSupport.parkNanos(10_000_000L); // simulated work, so both participants take chunks
      return x;
    }
  }

  private static final class HandOff implements java.util.concurrent.Executor {
    volatile @Nullable Runnable task;
    final Thread x;

    HandOff() {
      x = daemon("X", () -> {
        while (task == null || filled == 0) {
          LockSupport.parkNanos(1_000_000L);
        }
        try {
          Runnable t = task;
          if (t != null) {
            t.run();
          }
        } catch (Throwable e) {
          xError = e;
        } finally {
          xDone = 1;
        }
      });
    }

    @Override
    public void execute(Runnable command) {
      task = command;
    }
  }

  static String[] parallel(String kind) throws Exception {
    List<Integer> data = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      data.add(i);
    }
    // warm: one split call of the same shape, no failure
    Parallel.Options base = Parallel.options().threads(2).minChunkSize(1)
        .sequentialCutoff(Duration.ZERO);
    Parallel.Options warmOpts = kind.equals("threads") ? base.newThreadsPerCall() : base;
    Parallel.map(data, y -> y, warmOpts);
    HandOff handOff = kind.equals("exec") ? new HandOff() : null;
    Parallel.Options o = kind.equals("threads") ? base.newThreadsPerCall()
        : handOff != null ? base.executor(handOff) : base;
    Fn f = new Fn(kind);
    AtomicInteger returned = new AtomicInteger();
    Thread p = daemon("P", () -> {
      callerThread = Thread.currentThread();
      try {
        Parallel.map(data, f, o);
        returned.set(1);
      } catch (Throwable t) {
        free();
        callError = t;
      } finally {
        callDone = 1;
      }
    });
    boolean wasFilled = waitFor(10_000, FILLED);
    boolean endedWhileFull = waitFor(2000, CALL_DONE);
    free();
    boolean ended = waitFor(10_000, CALL_DONE);
    p.join(1000);
    // Later calls: does the same kind of call still work (pool still serving)?
    AtomicInteger later = new AtomicInteger();
    Thread q = daemon("Q", () -> {
      List<Object> r = Parallel.map(data, y -> y, warmOpts);
      later.set(r.size());
    });
    q.join(10_000);
    String s = "filled=" + wasFilled + " callEndedWhileFull=" + endedWhileFull + " callEnded="
        + ended + " returned=" + (returned.get() == 1) + " callError=" + describe(callError)
        + " workerTaskError=" + describe(xError) + " xDone=" + (xDone != 0) + " callerState="
        + p.getState() + " laterCall=" + later.get();
    if (!ended) {
      StringBuilder st = new StringBuilder();
      for (StackTraceElement el : p.getStackTrace()) {
        st.append(" <").append(el.getClassName().replace("dev.weft.", "")).append('.')
            .append(el.getMethodName()).append(':').append(el.getLineNumber());
        if (st.length() > 300) {
          break;
        }
      }
      s += " callerStack=" + st;
    }
    boolean good = ended && !p.isAlive() && later.get() == data.size();
    return new String[] {!good ? "1" : !wasFilled ? "3" : "0", s};
  }

  /** Reference: ExecutorService.invokeAll, one task fills the heap and fails with an OOME. */
  static String[] jdkExecutor() throws Exception {
    ExecutorService ex = Executors.newFixedThreadPool(2);
    try {
      List<Callable<Object>> tasks = new ArrayList<>();
      AtomicInteger claimed = new AtomicInteger();
      for (int i = 0; i < 8; i++) {
        tasks.add(() -> {
          if (claimed.compareAndSet(0, 1)) {
            fill();
            filled = 1;
            sink = new long[256];
          }
          LockSupport.parkNanos(10_000_000L);
          return claimed;
        });
      }
      ex.invokeAll(tasks); // warm
      claimed.set(0);
      AtomicInteger failed = new AtomicInteger();
      Thread p = daemon("P", () -> {
        try {
          for (Future<Object> fu : ex.invokeAll(tasks)) {
            try {
              fu.get();
            } catch (Exception e) {
              failed.incrementAndGet();
            }
          }
        } catch (Throwable t) {
          free();
          callError = t;
        } finally {
          callDone = 1;
        }
      });
      boolean wasFilled = waitFor(10_000, FILLED);
      boolean endedWhileFull = waitFor(2000, CALL_DONE);
      free();
      boolean ended = waitFor(10_000, CALL_DONE);
      claimed.set(2);
      Future<?> later = ex.submit(() -> { });
      boolean laterOk;
      try {
        later.get(10, TimeUnit.SECONDS);
        laterOk = true;
      } catch (Exception e) {
        laterOk = false;
      }
      String s = "filled=" + wasFilled + " endedWhileFull=" + endedWhileFull + " ended=" + ended
          + " failedTasks=" + failed + " callError=" + describe(callError) + " later=" + laterOk;
      boolean good = ended && laterOk;
      return new String[] {!good ? "1" : !wasFilled ? "3" : "0", s};
    } finally {
      ex.shutdownNow();
    }
  }
}
