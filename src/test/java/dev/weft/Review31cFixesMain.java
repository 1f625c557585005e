package dev.weft;

import static dev.weft.testing.Heap.fill;
import static dev.weft.testing.Heap.free;
import static dev.weft.testing.Heap.freeSmallest;
import static dev.weft.testing.Heap.waitFor;
import static dev.weft.testing.Scenario.daemon;

import dev.weft.testing.Scenario;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Review 31c: scenarios run in a fresh small-heap JVM ({@code -Xmx32m -XX:+UseSerialGC
 * -XX:-UseTLAB}) by Review31cFixesTest. Prints "RESULT ..." and halts with 0 held, 1 defect, 3
 * the OOME missed, 2 harness error.
 */
@SuppressWarnings({"StatementSwitchToExpressionSwitch", "StaticAssignmentOfThrowable",
    "UnusedVariable", "SystemOut"})
final class Review31cFixesMain {
  private Review31cFixesMain() {}

  static volatile @Nullable Object sink;
  static volatile @Nullable Thread callerThread;
  static volatile @Nullable Throwable callError;
  static volatile int claimed;
  static volatile int done;
  static volatile int interruptedAfter = -1;

  static final BooleanSupplier NEVER = () -> false;
  static final BooleanSupplier DONE = () -> done != 0;
  static final BooleanSupplier CLAIMED = () -> claimed != 0;

  static String describe(@Nullable Throwable t) {
    return Scenario.describe(t, 4, true);
  }

  public static void main(String[] args) throws Exception {
    free();
    freeSmallest(0);
    waitFor(3, NEVER);
    waitFor(0, DONE);
    waitFor(0, CLAIMED);
    describe(new OutOfMemoryError());
    Scenario.runAndHalt(args, Review31cFixesMain::describe, Review31cFixesMain::run);
  }

  static String[] run(String scenario, String kind) throws Exception {
    switch (scenario) {
      case "parallelInterrupt":
        return parallelInterrupt(kind);
      case "initSideEffects":
        return initSideEffects(kind);
      case "virtualNodeless":
        return virtualNodeless(kind);
      case "awaitInterrupt":
        return awaitInterrupt(kind);
      default:
        throw new IllegalArgumentException(scenario);
    }
  }

  // ---------------------------------------------------------------------------------------
  // parallelInterrupt: kind = pool|threads. The caller's function interrupts the caller (as a
  //   user's interrupt arriving mid-call would) and fills the heap. The caller's workLoop sees
  //   the interrupt, clears it (ParallelJob.java:855) and calls cancel(), whose
  //   CancellationException cannot be allocated. The new catch around workLoop stops and awaits
  //   the workers with interruptedBefore=false and rethrows the OOME: the interrupt it cleared
  //   is never set again. A warm-up call first (heap free) shows the status kept on the
  //   ordinary path, and links everything but the allocation.

  static final class Fn implements java.util.function.Function<Integer, Object> {
    final java.util.concurrent.atomic.AtomicInteger claim =
        new java.util.concurrent.atomic.AtomicInteger();
    final boolean fillHeap;

    Fn(boolean fillHeap) {
      this.fillHeap = fillHeap;
    }

    @Override
    public Object apply(Integer x) {
      if (Thread.currentThread() == callerThread) {
        if (claim.compareAndSet(0, 1)) {
          Thread.currentThread().interrupt();
          if (fillHeap) {
            fill();
            claimed = 1;
          }
        }
        return x;
      }
      LockSupport.parkNanos(2_000_000L);
      return x;
    }
  }

  static String[] parallelInterrupt(String kind) throws Exception {
    java.util.List<Integer> data = new java.util.ArrayList<>();
    for (int i = 0; i < 64; i++) {
      data.add(i);
    }
    Parallel.Options base = Parallel.options().threads(2).minChunkSize(1)
        .sequentialCutoff(Duration.ZERO);
    Parallel.Options o = kind.startsWith("threads") ? base.newThreadsPerCall() : base;
    // Warm-up, heap free: the ordinary cancellation keeps the interrupt.
    int[] warm = new int[] {-1};
    Throwable[] warmError = new Throwable[1];
    Fn w = new Fn(false);
    Thread pw = daemon("PW", () -> {
      callerThread = Thread.currentThread();
      try {
        Parallel.map(data, w, o);
      } catch (Throwable t) {
        warmError[0] = t;
      } finally {
        warm[0] = Thread.interrupted() ? 1 : 0;
      }
    });
    pw.join(10_000);
    Fn f = new Fn(true);
    f.claim.get();
    Thread p = daemon("P", () -> {
      callerThread = Thread.currentThread();
      try {
        Parallel.map(data, f, o);
      } catch (Throwable t) {
        callError = t;
      } finally {
        interruptedAfter = Thread.currentThread().isInterrupted() ? 1 : 0;
        free();
        done = 1;
      }
    });
    boolean wasFilled = waitFor(10_000, CLAIMED);
    waitFor(2000, DONE);
    free();
    boolean ended = waitFor(10_000, DONE);
    Throwable e = callError;
    boolean oome = e instanceof OutOfMemoryError;
    String s = "warmUp: error=" + describe(warmError[0]) + " interruptKept=" + (warm[0] == 1)
        + " | filled=" + wasFilled + " ended=" + ended + " callError=" + describe(e)
        + " interruptStatusAfterCall=" + interruptedAfter;
    if (!ended || !wasFilled || warm[0] != 1) {
      return new String[] {ended ? "3" : "1", s};
    }
    if (interruptedAfter == 1) {
      return new String[] {"0", s};
    }
    return new String[] {oome ? "1" : "3", s};
  }

  // ---------------------------------------------------------------------------------------
  // initSideEffects: kind = CHECK:CLASS, CHECK one of permit|spurious|interrupt. The first use
  //   of CLASS in this JVM runs its class-initializer warm-up on this thread, which holds a
  //   SpinLock (lock-order checking on, if the fork was started with it). permit: a permit
  //   given to this thread before survives the initialization (a parkNanos(2 s) after it
  //   returns at once); spurious: no permit is given by it (parkNanos(60 ms) sleeps 60 ms);
  //   interrupt: this thread's interrupt status survives it.

  static String[] initSideEffects(String kind) throws Exception {
    String check = kind.substring(0, kind.indexOf(':'));
    String cls = "dev.weft." + kind.substring(kind.indexOf(':') + 1);
    Thread me = Thread.currentThread();
    // Link what is used around the initialization.
    LockSupport.parkNanos(1L);
    Thread.interrupted();
    // A user's lock held across the initialization (a TicketLock when SpinLock is the class
    // under test: constructing a SpinLock would initialize it first).
    java.util.concurrent.locks.Lock held =
        cls.endsWith(".SpinLock") ? new TicketLock() : new SpinLock();
    boolean initialized;
    long slept;
    boolean interruptKept;
    held.lock();
    try {
      if (check.equals("permit")) {
        LockSupport.unpark(me);
      } else if (check.equals("interrupt")) {
        me.interrupt();
      }
      Class.forName(cls, true, Review31cFixesMain.class.getClassLoader());
      initialized = true;
      interruptKept = Thread.interrupted();
      long t0 = System.nanoTime();
      LockSupport.parkNanos(check.equals("permit") ? 2_000_000_000L : 60_000_000L);
      slept = System.nanoTime() - t0;
    } finally {
      held.unlock();
    }
    boolean good;
    switch (check) {
      case "permit":
        good = slept < 1_000_000_000L;
        break;
      case "spurious":
        good = slept >= 55_000_000L;
        break;
      default:
        good = interruptKept;
        break;
    }
    String s = "initialized=" + initialized + " sleptMillis=" + slept / 1_000_000L
        + " interruptKept=" + interruptKept + " lockOrder=" + LockOrder.mode();
    return new String[] {good ? "0" : "1", s};
  }

  // ---------------------------------------------------------------------------------------
  // virtualNodeless: kind = spin|ticket|jdk, JDK 21+. A VIRTUAL thread V calls lock() while
  //   main holds the lock and the heap is full: its node cannot be allocated, so it waits
  //   without one, sleeping on LockSupport.parkNanos (SpinBackoff.pauseWithoutNode), whose
  //   timer a virtual thread must allocate. Main releases the lock with the heap still full:
  //   V must take it (the JDK's AQS sleeps there with Unsafe.park, which allocates nothing).

  static volatile int vGo;
  static volatile int vGot;
  static volatile int vReady;
  static final BooleanSupplier V_GOT = () -> vGot != 0;
  static final BooleanSupplier V_READY = () -> vReady != 0;

  static Thread startVirtual(Runnable r) throws Exception {
    Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
    Class<?> b = Class.forName("java.lang.Thread$Builder");
    return (Thread) b.getMethod("start", Runnable.class).invoke(builder, r);
  }

  @SuppressWarnings("LockNotBeforeTry") // the scenario releases the lock at a chosen moment
  static String[] virtualNodeless(String kind) throws Exception {
    java.util.concurrent.locks.Lock lock = kind.equals("spin") ? new SpinLock()
        : kind.equals("ticket") ? new TicketLock()
        : new java.util.concurrent.locks.ReentrantLock();
    waitFor(0, V_GOT);
    waitFor(0, V_READY);
    // Warm-up with the heap free: a contended acquisition by a virtual thread.
    lock.lock();
    Thread w;
    try {
      w = startVirtual(() -> {
        lock.lock();
        lock.unlock();
      });
      Thread.sleep(50);
    } finally {
      lock.unlock();
    }
    w.join(5_000);
    lock.lock();
    Thread v;
    boolean gotWhileFull;
    boolean filled;
    try {
      v = startVirtual(() -> {
        vReady = 1;
        while (vGo == 0) {
          Thread.onSpinWait();
        }
        lock.lock();
        vGot = 1;
        lock.unlock();
      });
      waitFor(5_000, V_READY);
      filled = fill();
      vGo = 1;
      waitFor(200, NEVER);
    } finally {
      lock.unlock();
    }
    gotWhileFull = waitFor(3_000, V_GOT);
    free();
    boolean gotAfterFree = waitFor(3_000, V_GOT);
    String s = "filled=" + filled + " gotWhileFull=" + gotWhileFull + " gotAfterFree="
        + gotAfterFree + " V=" + v.getState();
    return new String[] {gotWhileFull ? "0" : filled ? "1" : "3", s};
  }

  // ---------------------------------------------------------------------------------------
  // awaitInterrupt: kind = pool|threads. The caller has finished its share and is parked in
  //   awaitWorkers while a worker is still in the function (which filled the heap and then
  //   sleeps 300 ms). The caller is interrupted: awaitWorkers calls cancel(), whose
  //   CancellationException cannot be allocated, and the OOME leaves awaitWorkers (outside
  //   session 31's new catch). The call must not end while a worker is still in the function.

  static final java.util.concurrent.atomic.AtomicInteger IN_FN =
      new java.util.concurrent.atomic.AtomicInteger();
  static volatile int inFnAtEnd = -1;
  static volatile @Nullable Thread pThread;
  static final BooleanSupplier P_PARKED = () -> {
    Thread t = pThread;
    return t != null && t.getState() == Thread.State.WAITING;
  };

  static final class WorkerFills implements java.util.function.Function<Integer, Object> {
    final java.util.concurrent.atomic.AtomicInteger claim =
        new java.util.concurrent.atomic.AtomicInteger();
    final java.util.concurrent.atomic.AtomicInteger callerClaim =
        new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public Object apply(Integer x) {
      if (Thread.currentThread() == callerThread) {
        if (callerClaim.compareAndSet(0, 1)) {
          LockSupport.parkNanos(20_000_000L); // once: leaves chunks to the worker
        }
        return x;
      }
      IN_FN.incrementAndGet();
      try {
        if (claim.compareAndSet(0, 1)) {
          fill();
          claimed = 1;
          LockSupport.parkNanos(300_000_000L);
        }
        return x;
      } finally {
        IN_FN.decrementAndGet();
      }
    }
  }

  static String[] awaitInterrupt(String kind) throws Exception {
    java.util.List<Integer> data = new java.util.ArrayList<>();
    for (int i = 0; i < 16; i++) {
      data.add(i);
    }
    waitFor(0, P_PARKED);
    Parallel.Options base = Parallel.options().threads(2).minChunkSize(1)
        .sequentialCutoff(Duration.ZERO);
    Parallel.Options o = kind.startsWith("threads") ? base.newThreadsPerCall() : base;
    Parallel.map(data, x -> x, o); // warm-up, heap free
    WorkerFills f = new WorkerFills();
    f.claim.get();
    f.callerClaim.get();
    IN_FN.get();
    Thread p = daemon("P", () -> {
      callerThread = Thread.currentThread();
      try {
        Parallel.map(data, f, o);
      } catch (Throwable t) {
        callError = t;
      } finally {
        inFnAtEnd = IN_FN.get();
        interruptedAfter = Thread.currentThread().isInterrupted() ? 1 : 0;
        free();
        done = 1;
      }
    });
    pThread = p;
    boolean wasFilled = waitFor(10_000, CLAIMED);
    boolean parked = waitFor(250, P_PARKED);
    p.interrupt();
    waitFor(1_000, DONE);
    free();
    boolean ended = waitFor(10_000, DONE);
    String s = "filled=" + wasFilled + " callerParkedInAwait=" + parked + " ended=" + ended
        + " callError=" + describe(callError) + " workersInFunctionWhenCallEnded=" + inFnAtEnd
        + " interruptStatusAfterCall=" + interruptedAfter;
    if (!wasFilled || !parked) {
      return new String[] {"3", s};
    }
    boolean good = ended && inFnAtEnd == 0 && interruptedAfter == 1;
    return new String[] {good ? "0" : "1", s};
  }
}
