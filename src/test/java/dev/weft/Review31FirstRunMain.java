package dev.weft;

import static dev.weft.testing.Heap.fill;
import static dev.weft.testing.Heap.free;
import static dev.weft.testing.Heap.freeSmallest;
import static dev.weft.testing.Heap.waitFor;
import static dev.weft.testing.Scenario.daemon;

import dev.weft.testing.Scenario;
import java.time.Duration;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Review 31b: the JVM's FIRST run of a weft path, made under a full heap, inside a protocol
 * window. Nothing of weft is warmed up (only the harness's own call sites and lambdas are
 * linked before the fill); a class is initialized with the heap free (an initializer failing
 * under a full heap fails before any state exists). Run in a fresh JVM ({@code -Xmx32m
 * -XX:+UseSerialGC -XX:-UseTLAB}) by Review31FirstRunTest. Prints "RESULT ..." and halts with 0
 * held, 1 defect, 3 the OOME missed, 2 harness error.
 */
@SuppressWarnings({"StatementSwitchToExpressionSwitch", "StaticAssignmentOfThrowable",
    "UnusedVariable", "SystemOut"})
final class Review31FirstRunMain {
  private Review31FirstRunMain() {}

  static volatile @Nullable Object sink;

  static String describe(@Nullable Throwable t) {
    return Scenario.describe(t, 4, true);
  }

  static String stack(@Nullable Thread t) {
    return Scenario.stack(t, 400);
  }

  // Flags written by the scenario's threads; polled without allocation.
  static volatile @Nullable Thread bThread;
  static volatile int bDone;
  static volatile int bGot;
  static volatile int bHeldAfterError;
  static volatile @Nullable Throwable bError;
  static volatile int claimed;
  static volatile int go;

  static final BooleanSupplier NEVER = () -> false;
  static final BooleanSupplier B_DONE = () -> bDone != 0;
  static final BooleanSupplier GO = () -> go != 0;
  static final BooleanSupplier CLAIMED = () -> claimed != 0;
  static final BooleanSupplier B_PARKED = () -> {
    Thread t = bThread;
    return t != null && (t.getState() == Thread.State.WAITING
        || t.getState() == Thread.State.TIMED_WAITING);
  };

  public static void main(String[] args) throws Exception {
    free();
    freeSmallest(0);
    waitFor(3, NEVER); // parks: links LockSupport.parkNanos
    waitFor(0, B_DONE);
    waitFor(0, GO);
    waitFor(0, CLAIMED);
    waitFor(0, B_PARKED);
    describe(new OutOfMemoryError());
    Scenario.runAndHalt(args, Review31FirstRunMain::describe, Review31FirstRunMain::run);
  }

  static String[] run(String scenario, String kind) throws Exception {
    switch (scenario) {
      case "unlock":
        return unlock(kind);
      case "once":
        return once(kind);
      case "scope":
        return scope(kind);
      case "cond":
        return cond(kind);
      case "parallel":
        return parallel(kind);
      case "search":
        return search(kind);
      case "callerFails":
        return callerFails(kind);
      case "slots":
        return slots(kind);
      case "onceTrySet":
        return onceTrySet();
      default:
        throw new IllegalArgumentException(scenario);
    }
  }

  // ---------------------------------------------------------------------------------------
  // unlock: kind = LOCK:MODE, LOCK in spin|ticket|jdk, MODE in
  //   alone: main locks (heap free), fills the heap, unlocks once (the JVM's first unlock).
  //   guard: the same through acquire()/Guard.close() (try-with-resources closes once).
  //   waiter: B parked in lock() first; the first (contended) unlock made in a full heap.
  //   retry: as waiter, but an unlock that throws is retried while the heap stays nearly full
  //     (one small filler freed per try), so the release goes through and B's wake-up and
  //     return from lock() run for the first time in a nearly full heap.

  static Lock newLock(String type) {
    switch (type) {
      case "spin":
        return new SpinLock();
      case "ticket":
        return new TicketLock();
      case "jdk":
        return new ReentrantLock();
      default:
        throw new IllegalArgumentException(type);
    }
  }

  static boolean heldByMe(Lock l) {
    if (l instanceof SpinLock s) {
      return s.isHeldByCurrentThread();
    }
    if (l instanceof TicketLock t) {
      return t.isHeldByCurrentThread();
    }
    return ((ReentrantLock) l).isHeldByCurrentThread();
  }

  static boolean isLocked(Lock l) {
    if (l instanceof SpinLock s) {
      return s.isLocked();
    }
    if (l instanceof TicketLock t) {
      return t.isLocked();
    }
    return ((ReentrantLock) l).isLocked();
  }

  static void closeGuard(Lock l, Object g) {
    if (l instanceof SpinLock) {
      ((SpinLock.Guard) g).close();
    } else if (l instanceof TicketLock) {
      ((TicketLock.Guard) g).close();
    } else {
      l.unlock();
    }
  }

  static Object acquire(Lock l) {
    if (l instanceof SpinLock s) {
      return s.acquire();
    }
    if (l instanceof TicketLock t) {
      return t.acquire();
    }
    l.lock();
    return l;
  }

  static String[] splitKind(String kind) {
    int i = kind.indexOf(':');
    return new String[] {kind.substring(0, i), kind.substring(i + 1)};
  }

  @SuppressWarnings("LockNotBeforeTry") // the unlock is the scenario, made after the fill
  static String[] unlock(String kind) throws Exception {
    String[] k = splitKind(kind);
    String type = k[0];
    String mode = k[1];
    Lock l = newLock(type); // class initialized with the heap free
    // link the harness's own calls on another JDK lock (nothing of weft)
    ReentrantLock probe = new ReentrantLock();
    heldByMe(probe);
    isLocked(probe);
    closeGuard(probe, acquire(probe));
    Thread b = null;
    Object guard = mode.equals("guard") ? acquire(l) : null;
    if (guard == null) {
      l.lock(); // the JVM's first lock of this class: heap free
    }
    if (mode.equals("waiter") || mode.equals("retry")) {
      b = daemon("B", () -> {
        bThread = Thread.currentThread();
        try {
          l.lock();
          bGot = 1;
          waitFor(2000, GO); // hold until main has freed the heap
          l.unlock();
        } catch (Throwable t) {
          free();
          bError = t;
          bHeldAfterError = heldByMe(l) ? 1 : 0;
        } finally {
          bDone = 1;
        }
      });
      if (!waitFor(5000, B_PARKED)) {
        return new String[] {"2", "harness-error B never parked " + stack(b)};
      }
      waitFor(50, NEVER); // B well inside its park
    }
    int maxTries = mode.equals("retry") ? 400 : 1; // before the fill: a first ldc allocates
    boolean wasFull = fill();
    @Nullable Throwable first = null;
    int tries = 0;
    boolean released = false;
    while (tries < maxTries && !released) {
      tries++;
      try {
        if (guard != null) {
          closeGuard(l, guard);
        } else {
          l.unlock();
        }
        released = true;
      } catch (Throwable t) {
        if (first == null) {
          first = t;
        }
        freeSmallest(1);
      }
    }
    waitFor(500, B_DONE); // the heap stays (nearly) full while B wakes
    free();
    boolean heldAfter = heldByMe(l); // main still holds it: its unlock threw
    boolean heldAfterThrow = first != null && !released && heldAfter;
    go = 1;
    boolean bEnded = b == null || waitFor(5000, B_DONE);
    String bState = b == null ? "-" : bEnded ? "done" : stack(b);
    boolean lockedByNobody = false;
    if (bEnded && !heldAfter) {
      lockedByNobody = !waitFor(2000, () -> !isLocked(l));
    }
    if (heldAfter) {
      try {
        l.unlock(); // the retry higher up (reported, not judged as the deciding failure)
      } catch (Throwable t) {
        first = first == null ? t : first;
      }
    }
    if (b != null && !bEnded) {
      bEnded = waitFor(5000, B_DONE); // after main's late unlock
    }
    int[] other = new int[1];
    Thread c = daemon("C", () -> {
      try {
        if (l.tryLock(3, TimeUnit.SECONDS)) {
          other[0] = 1;
          l.unlock();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    c.join(10_000);
    Throwable be = bError;
    String s = "full=" + wasFull + " unlockThrew=" + (first != null) + " tries=" + tries
        + " released=" + released + " heldAfterThrow=" + heldAfterThrow + " lockedByNobody="
        + lockedByNobody + " B=" + bState + " bGot=" + bGot + " bError=" + describe(be)
        + " bHeldAfterError=" + bHeldAfter() + " bEndedAfterLateUnlock=" + bEnded
        + " otherLocksIn3s=" + (other[0] == 1) + " first=" + describe(first) + " " + l;
    boolean good = !heldAfterThrow && !lockedByNobody && bHeldAfterError == 0 && bEnded
        && other[0] == 1 && (b == null || bString(bState));
    // A full heap (the probe allocation failed) in which the unlock allocated nothing: held.
    return new String[] {!good ? "1" : wasFull ? "0" : "3", s};
  }

  static boolean bHeldAfter() {
    return bHeldAfterError != 0;
  }

  static boolean bString(String state) {
    return state.equals("done");
  }

  // ---------------------------------------------------------------------------------------
  // once: kind = CELL:OUTCOME, CELL in cell|lazy|remember; OUTCOME in value|throw.
  //   The owner claims with the heap free; B parks waiting; the initialiser fills the heap and
  //   returns a preallocated value (or throws a preallocated exception): the publication of the
  //   outcome and the wake-up of B are the JVM's first, in a full heap.

  static final Object VALUE = new Object();
  static final RuntimeException FAILURE = new RuntimeException("preallocated initialiser failure");

  static final class Init implements Supplier<Object> {
    final boolean fail;

    Init(boolean fail) {
      this.fail = fail;
    }

    @Override
    public Object get() {
      if (claimed != 0) {
        return VALUE; // a second run (Lazy's waiter, after the owner's failure): no fill
      }
      claimed = 1;
      waitFor(5000, B_PARKED);
      waitFor(50, NEVER);
      fill();
      if (fail) {
        throw FAILURE;
      }
      return VALUE;
    }
  }

  static final Supplier<Object> OTHER = () -> "other";

  static String[] once(String kind) throws Exception {
    String[] k = splitKind(kind);
    boolean fail = k[1].equals("throw");
    Init init = new Init(fail);
    OnceCell<Object> cell = null;
    Lazy<Object> lazy = null;
    if (k[0].equals("lazy")) {
      lazy = Lazy.of(init);
    } else {
      cell = new OnceCell<>(
          k[0].equals("remember") ? Lazy.FailurePolicy.REMEMBER : Lazy.FailurePolicy.RETRY);
    }
    OnceCell<Object> c = cell;
    Lazy<Object> z = lazy;
    Object[] bGotValue = new Object[1];
    Thread b = daemon("B", () -> {
      try {
        waitFor(5000, CLAIMED);
        bThread = Thread.currentThread(); // from here, a park is the wait on the cell
        bGotValue[0] = c != null ? c.getOrInit(OTHER) : z.get();
        bGot = 1;
      } catch (Throwable t) {
        free();
        bError = t;
      } finally {
        bDone = 1;
      }
    });
    @Nullable Throwable ownerError = null;
    Object got = null;
    try {
      got = c != null ? c.getOrInit(init) : z.get();
    } catch (Throwable t) {
      ownerError = t;
    }
    waitFor(500, B_DONE); // the heap stays full while B wakes
    free();
    boolean bEnded = waitFor(5000, B_DONE);
    // a later call, with the heap free
    Object later = null;
    @Nullable Throwable laterError = null;
    try {
      later = c != null ? c.getOrInit(OTHER) : z.get();
    } catch (Throwable t) {
      laterError = t;
    }
    boolean set = c != null ? c.isSet() : z.isInitialized();
    boolean claimedForGood = !bEnded && stack(b).contains("waitOrClaim");
    String s = "ownerGot=" + (got == VALUE ? "VALUE" : String.valueOf(got)) + " ownerError="
        + describe(ownerError) + " B=" + (bEnded ? "done" : stack(b)) + " bGot="
        + (bGotValue[0] == VALUE ? "VALUE" : String.valueOf(bGotValue[0])) + " bError="
        + describe(bError) + " later=" + (later == VALUE ? "VALUE" : String.valueOf(later))
        + " laterError=" + describe(laterError) + " set=" + set + " " + (c != null ? c : z);
    boolean laterOk = later != null || laterError != null;
    boolean good = bEnded && laterOk && !claimedForGood;
    if (!fail && got == VALUE && ownerError == null) {
      // the owner returned its value: a waiter and a later call must see it
      good &= bGotValue[0] == VALUE && later == VALUE;
    }
    if (bGotValue[0] != null) {
      // B returned a value: the cell holds it for good (the owner's value may have been
      // dropped with its claim: an OOME recording it is thrown to the owner, review 30)
      good &= later == bGotValue[0];
    }
    boolean landed = ownerError instanceof OutOfMemoryError || bError != null
        || (ownerError != null && ownerError.getSuppressed().length > 0);
    return new String[] {!good ? "1" : landed ? "0" : "3", s};
  }

  // ---------------------------------------------------------------------------------------
  // scope: a Scope whose thread factory's thread starts running the task only once the heap is
  //   full (as Review30cHeapMain's hand-off executor): the task's first run (its thread-local
  //   set, its state changes, its exit) is the JVM's first, in a full heap.

  static final class HandOffFactory implements ThreadFactory {
    @Override
    public Thread newThread(Runnable r) {
      Thread t = new Thread(() -> {
        waitFor(10_000, GO);
        r.run();
      }, "X");
      xThread = t;
      t.setDaemon(true);
      return t;
    }
  }

  static volatile @Nullable Thread xThread;
  static volatile int xAliveAtClose = -1;

  static String[] scope(String kind) throws Exception {
    HandOffFactory f = new HandOffFactory();
    go = 1;
    Thread w = f.newThread(() -> { });
    w.start(); // link the harness wrapper
    w.join(5000);
    go = 0;
    int[] ran = new int[1];
    @Nullable Throwable[] closeError = new Throwable[1];
    int[] closed = new int[1];
    Thread owner = daemon("P", () -> {
      try (Scope s = Scope.builder().threadFactory(f).open()) {
        s.spawn(() -> {
          ran[0] = 1;
        });
        claimed = 1;
      } catch (Throwable t) {
        free();
        closeError[0] = t;
      } finally {
        Thread x = xThread;
        xAliveAtClose = x != null && x.isAlive() ? 1 : 0;
        closed[0] = 1;
        bDone = 1;
      }
    });
    if (!waitFor(10_000, CLAIMED)) {
      return new String[] {"2", "harness-error spawn never returned " + stack(owner)};
    }
    waitFor(100, NEVER); // P parks in close()
    fill();
    go = 1;
    waitFor(2000, B_DONE); // heap full while X runs the task and P joins it
    free();
    boolean ended = waitFor(10_000, B_DONE);
    Thread x = xThread;
    boolean xEnded = x != null && waitFor(5000, () -> !x.isAlive());
    // a later scope, heap free
    int[] later = new int[1];
    try (Scope s2 = Scope.open()) {
      s2.spawn(() -> {
        later[0] = 1;
      });
    }
    String s = "closeEnded=" + ended + " taskRan=" + ran[0] + " closeError="
        + describe(closeError[0]) + " taskThreadAliveWhenCloseReturned=" + xAliveAtClose
        + " taskThreadEnded=" + xEnded + " laterScope=" + later[0] + " P="
        + (ended ? "done" : stack(owner));
    boolean good = ended && xAliveAtClose == 0 && xEnded && later[0] == 1
        && (ran[0] == 0 || closeError[0] == null || closeError[0] instanceof Error
            || closeError[0].getCause() != null);
    return new String[] {!good ? "1" : closeError[0] != null ? "0" : "3", s};
  }

  // ---------------------------------------------------------------------------------------
  // cond: kind = spin|ticket|jdk. B (heap free) locks and awaits a condition; main locks
  //   (uncontended), fills the heap, signals and unlocks: the JVM's first signal, and B's
  //   first wake-up and re-acquisition, in a full heap. B must return holding the lock, or
  //   throw without it; the lock must be free afterwards.

  static volatile int bAwaiting;

  @SuppressWarnings({"LockNotBeforeTry", "WaitNotInLoop"}) // the steps are the scenario
  static String[] cond(String type) throws Exception {
    Lock l = newLock(type);
    java.util.concurrent.locks.Condition c = l.newCondition();
    ReentrantLock probe = new ReentrantLock();
    heldByMe(probe);
    isLocked(probe);
    int[] bHeldOnReturn = new int[] {-1};
    Thread b = daemon("B", () -> {
      bThread = Thread.currentThread();
      l.lock();
      try {
        bAwaiting = 1;
        c.awaitNanos(TimeUnit.SECONDS.toNanos(20));
        bHeldOnReturn[0] = heldByMe(l) ? 1 : 0;
        bGot = 1;
      } catch (Throwable t) {
        bError = t;
        bHeldOnReturn[0] = heldByMe(l) ? 1 : 0;
      } finally {
        if (heldByMe(l)) {
          try {
            l.unlock();
          } catch (Throwable t) {
            free();
            bHeldAfterError = 1;
          }
        }
        bDone = 1;
      }
    });
    if (!waitFor(5000, B_PARKED) || bAwaiting == 0) {
      return new String[] {"2", "harness-error B never awaited " + stack(b)};
    }
    waitFor(50, NEVER);
    l.lock();
    boolean wasFull = fill();
    @Nullable Throwable signalError = null;
    @Nullable Throwable unlockError = null;
    try {
      c.signal();
    } catch (Throwable t) {
      signalError = t;
    }
    try {
      l.unlock();
    } catch (Throwable t) {
      unlockError = t;
    }
    waitFor(500, B_DONE);
    free();
    boolean mainHolds = heldByMe(l);
    if (mainHolds) {
      l.unlock(); // the retry higher up
    }
    if (signalError != null) {
      l.lock();
      c.signal();
      l.unlock();
    }
    boolean bEnded = waitFor(25_000, B_DONE);
    int[] other = new int[1];
    Thread x = daemon("C", () -> {
      try {
        if (l.tryLock(3, TimeUnit.SECONDS)) {
          other[0] = 1;
          l.unlock();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    x.join(10_000);
    Throwable be = bError;
    String s = "full=" + wasFull + " signalError=" + describe(signalError) + " unlockError="
        + describe(unlockError) + " mainHeldAfter=" + mainHolds + " B="
        + (bEnded ? "done" : stack(b)) + " bReturned=" + bGot + " bError=" + describe(be)
        + " bHeldOnReturn=" + bHeldOnReturn[0] + " bUnlockFailed=" + bHeldAfterError
        + " otherLocksIn3s=" + (other[0] == 1) + " " + l;
    boolean bOk = bGot == 1 ? bHeldOnReturn[0] == 1 : bHeldOnReturn[0] != -1;
    boolean good = bEnded && other[0] == 1 && bHeldAfterError == 0 && bOk;
    boolean landed = signalError != null || unlockError != null || be != null;
    return new String[] {!good ? "1" : landed || wasFull ? "0" : "3", s};
  }

  // ---------------------------------------------------------------------------------------
  // parallel: kind = pool|threads. No warm-up call: the JVM's first Parallel.map. The worker's
  //   function fills the heap and fails with a real OOME; the heap stays full while the job
  //   winds down; then a later call must work.

  static final class Fn implements java.util.function.Function<Integer, Object> {
    final java.util.concurrent.atomic.AtomicInteger claim =
        new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public Object apply(Integer x) {
      if (Thread.currentThread() != callerThread && claim.compareAndSet(0, 1)) {
        fill();
        claimed = 1;
        sink = new long[256];
      }
      LockSupport.parkNanos(10_000_000L);
      return x;
    }
  }

  static volatile @Nullable Thread callerThread;
  static volatile @Nullable Throwable callError;

  static String[] parallel(String kind) throws Exception {
    java.util.List<Integer> data = new java.util.ArrayList<>();
    for (int i = 0; i < 16; i++) {
      data.add(i);
    }
    Parallel.Options base = Parallel.options().threads(2).minChunkSize(1)
        .sequentialCutoff(Duration.ZERO);
    boolean early = kind.endsWith(":early"); // free the heap 30 ms after the worker's OOME
    Parallel.Options o = kind.startsWith("threads") ? base.newThreadsPerCall() : base;
    Fn f = new Fn();
    f.claim.get();
    java.util.List<?>[] result = new java.util.List<?>[1];
    Thread p = daemon("P", () -> {
      callerThread = Thread.currentThread();
      try {
        result[0] = Parallel.map(data, f, o);
      } catch (Throwable t) {
        free();
        callError = t;
      } finally {
        bDone = 1;
      }
    });
    boolean wasFilled = waitFor(10_000, CLAIMED);
    boolean endedWhileFull = waitFor(early ? 30 : 2000, B_DONE);
    free();
    boolean ended = waitFor(10_000, B_DONE);
    int[] later = new int[1];
    Thread q = daemon("Q", () -> {
      later[0] = Parallel.map(data, y -> y, o).size();
    });
    q.join(10_000);
    // The worker's function threw for one element: the call must throw (the JDK's
    // invokeAll reports the task's failure); a normal return drops the error, and the
    // element whose function threw has no result.
    java.util.List<?> r = result[0];
    int wrong = 0;
    if (r != null) {
      for (int i = 0; i < data.size(); i++) {
        if (i >= r.size() || !data.get(i).equals(r.get(i))) {
          wrong++;
        }
      }
    }
    String s = "filled=" + wasFilled + " endedWhileFull=" + endedWhileFull + " ended=" + ended
        + " callError=" + describe(callError) + " returnedNormally=" + (r != null)
        + " wrongElements=" + wrong + (r != null ? " result=" + r : "") + " later=" + later[0]
        + (ended ? "" : " P=" + stack(p));
    boolean good = ended && later[0] == data.size() && r == null;
    return new String[] {!good ? "1" : !wasFilled ? "3" : "0", s};
  }

  // ---------------------------------------------------------------------------------------
  // search: Parallel.anyMatch, the JVM's first call; the worker's predicate fills the heap and
  //   throws a real OOME; the heap is freed 30 ms later. No element matches: the call must
  //   throw the predicate's error, not return false.

  static final class Pred implements java.util.function.Predicate<Integer> {
    final java.util.concurrent.atomic.AtomicInteger claim =
        new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public boolean test(Integer x) {
      if (Thread.currentThread() != callerThread && claim.compareAndSet(0, 1)) {
        fill();
        claimed = 1;
        sink = new long[256];
      }
      LockSupport.parkNanos(10_000_000L);
      return false;
    }
  }

  static String[] search(String kind) throws Exception {
    java.util.List<Integer> data = new java.util.ArrayList<>();
    for (int i = 0; i < 16; i++) {
      data.add(i);
    }
    Parallel.Options base = Parallel.options().threads(2).minChunkSize(1)
        .sequentialCutoff(Duration.ZERO);
    Parallel.Options o = kind.startsWith("threads") ? base.newThreadsPerCall() : base;
    Pred f = new Pred();
    f.claim.get();
    int[] returned = new int[] {-1};
    Thread p = daemon("P", () -> {
      callerThread = Thread.currentThread();
      try {
        returned[0] = Parallel.anyMatch(data, f, o) ? 1 : 0;
      } catch (Throwable t) {
        free();
        callError = t;
      } finally {
        bDone = 1;
      }
    });
    boolean wasFilled = waitFor(10_000, CLAIMED);
    waitFor(30, B_DONE);
    free();
    boolean ended = waitFor(10_000, B_DONE);
    int[] later = new int[] {-1};
    Thread q = daemon("Q", () -> {
      later[0] = Parallel.anyMatch(data, y -> y == 3, o) ? 1 : 0;
    });
    q.join(10_000);
    String s = "filled=" + wasFilled + " ended=" + ended + " callError=" + describe(callError)
        + " returned=" + returned[0] + " later=" + later[0] + (ended ? "" : " P=" + stack(p));
    boolean good = ended && later[0] == 1 && returned[0] == -1;
    return new String[] {!good ? "1" : !wasFilled ? "3" : "0", s};
  }

  // ---------------------------------------------------------------------------------------
  // slots: a Scope with maxConcurrency(1). T1 runs (waits for GO); P's second spawn waits for
  //   the slot. The heap is filled, then T1 ends: its slot hand-off to the waiting spawn is
  //   the JVM's first, in a full heap. Then the heap is freed: close must end with both tasks
  //   done or reported, and a later scope must work.

  static volatile int t1Started;
  static final BooleanSupplier T1_STARTED = () -> t1Started != 0;

  static String[] slots(String kind) throws Exception {
    int[] ran = new int[2];
    @Nullable Throwable[] err = new Throwable[1];
    Thread p = daemon("P", () -> {
      try (Scope s = Scope.builder().maxConcurrency(1).open()) {
        s.spawn(() -> {
          t1Started = 1;
          waitFor(10_000, GO);
          ran[0] = 1;
        });
        bThread = Thread.currentThread();
        s.spawn(() -> {
          ran[1] = 1;
        });
      } catch (Throwable t) {
        free();
        err[0] = t;
      } finally {
        bDone = 1;
      }
    });
    if (!waitFor(10_000, T1_STARTED) || !waitFor(10_000, B_PARKED)) {
      return new String[] {"2", "harness-error no slot wait " + stack(p)};
    }
    waitFor(50, NEVER);
    boolean wasFull = fill();
    go = 1;
    waitFor(1000, B_DONE);
    free();
    boolean ended = waitFor(10_000, B_DONE);
    int[] later = new int[1];
    Thread q = daemon("Q", () -> {
      try (Scope s2 = Scope.builder().maxConcurrency(1).open()) {
        s2.spawn(() -> {
          later[0]++;
        });
        s2.spawn(() -> {
          later[0]++;
        });
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    q.join(10_000);
    String s = "full=" + wasFull + " ended=" + ended + " ran=" + ran[0] + "," + ran[1]
        + " error=" + describe(err[0]) + " later=" + later[0] + (ended ? "" : " P=" + stack(p));
    boolean good = ended && later[0] == 2 && (ran[1] == 1 || err[0] != null);
    return new String[] {!good ? "1" : wasFull ? "0" : "3", s};
  }

  // ---------------------------------------------------------------------------------------
  // callerFails: the JVM's first Parallel.map; the CALLER's function fills the heap and throws
  //   a real OOME on its first element; the workers' function takes 20 ms per element. The
  //   call must not end (return or throw) while a worker is still in the function, nor may
  //   the function run after it ended (Review 30 #3).

  static volatile int callEnded;
  static final java.util.concurrent.atomic.AtomicInteger IN_FN =
      new java.util.concurrent.atomic.AtomicInteger();
  static final java.util.concurrent.atomic.AtomicInteger AFTER_END =
      new java.util.concurrent.atomic.AtomicInteger();

  static final class CallerFn implements java.util.function.Function<Integer, Object> {
    final java.util.concurrent.atomic.AtomicInteger claim =
        new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public Object apply(Integer x) {
      if (Thread.currentThread() == callerThread) {
        if (claim.compareAndSet(0, 1)) {
          fill();
          claimed = 1;
          sink = new long[256];
        }
        return x;
      }
      IN_FN.incrementAndGet();
      try {
        if (callEnded != 0) {
          AFTER_END.incrementAndGet();
        }
        LockSupport.parkNanos(20_000_000L);
        return x;
      } finally {
        IN_FN.decrementAndGet();
      }
    }
  }

  static String[] callerFails(String kind) throws Exception {
    java.util.List<Integer> data = new java.util.ArrayList<>();
    for (int i = 0; i < 64; i++) {
      data.add(i);
    }
    Parallel.Options base = Parallel.options().threads(2).minChunkSize(1)
        .sequentialCutoff(Duration.ZERO);
    Parallel.Options o = kind.startsWith("threads") ? base.newThreadsPerCall() : base;
    CallerFn f = new CallerFn();
    f.claim.get();
    IN_FN.get();
    AFTER_END.get();
    int[] inFnAtEnd = new int[] {-1};
    java.util.List<?>[] result = new java.util.List<?>[1];
    Thread p = daemon("P", () -> {
      callerThread = Thread.currentThread();
      try {
        result[0] = Parallel.map(data, f, o);
      } catch (Throwable t) {
        callError = t;
      } finally {
        inFnAtEnd[0] = IN_FN.get();
        callEnded = 1;
        free();
        bDone = 1;
      }
    });
    boolean wasFilled = waitFor(10_000, CLAIMED);
    waitFor(30, B_DONE);
    free();
    boolean ended = waitFor(10_000, B_DONE);
    waitFor(1500, () -> IN_FN.get() == 0 && AFTER_END.get() > 0);
    waitFor(300, NEVER);
    String s = "filled=" + wasFilled + " ended=" + ended + " callError=" + describe(callError)
        + " returnedNormally=" + (result[0] != null) + " workersInFunctionWhenCallEnded="
        + inFnAtEnd[0] + " functionCallsStartedAfterCallEnded=" + AFTER_END.get()
        + (ended ? "" : " P=" + stack(p));
    boolean good = ended && inFnAtEnd[0] == 0 && AFTER_END.get() == 0;
    return new String[] {!good ? "1" : !wasFilled ? "3" : "0", s};
  }

  // ---- session 33: the first OnceCell.trySet that overtakes a running initialiser ----

  /** What B's await() returned in onceTrySet (Review31's bGot counts, this one is the value). */
  static volatile @Nullable Object bValue;

  static final Object OWNER_VALUE = new Object();

  /**
   * Session 33's audit of LinkageAfterInitTest's baseline, one of its DANGEROUS sites made to
   * fail (Review33FirstRunTest): {@code trySetValue} stores the value cache ({@code
   * setValueRelease}) after its CAS and before {@code releaseWaiters}, with no {@code finally};
   * a first link of that store that throws leaves the waiter parked on a set cell, and the
   * overtaken owner does not wake it either.
   *
   * A claims the cell and waits in its initialiser; B waits in await() (parked); main, with the
   * heap full, calls trySet, freeing one small filler per try until a try gets past the
   * outcome's allocation. Then the heap is freed and A finishes (its CAS fails: overtaken).
   * Held: B returns trySet's value.
   */
  static String[] onceTrySet() throws Exception {
    OnceCell<Object> c = new OnceCell<>();
    Object[] aGot = new Object[1];
    Thread a = daemon("A", () -> aGot[0] = c.getOrInit(() -> {
      claimed = 1;
      waitFor(20_000, GO);
      return OWNER_VALUE;
    }));
    if (!waitFor(5000, CLAIMED)) {
      throw new IllegalStateException("A never claimed");
    }
    daemon("B", () -> {
      try {
        bThread = Thread.currentThread(); // from here, a WAITING state is the park in await
        bValue = c.await();
      } catch (Throwable t) {
        free();
        bError = t;
      } finally {
        bDone = 1;
      }
    });
    if (!waitFor(5000, B_PARKED)) {
      throw new IllegalStateException("B never parked");
    }
    boolean setResult = false;
    @Nullable Throwable setError = null;
    int oomes = 0;
    boolean setByATry = false;
    int tries = 0;
    for (; tries < 2000; tries++) {
      fill();
      freeSmallest(tries);
      try {
        setResult = c.trySet(VALUE);
        free();
        break; // went through
      } catch (Throwable t) {
        free();
        setError = t;
        oomes += t instanceof OutOfMemoryError ? 1 : 0;
        if (c.isSet()) {
          setByATry = true; // the CAS won, then the try threw: the window
          break;
        }
      }
    }
    boolean bEnded = waitFor(2000, B_DONE); // before A ends: only trySet can wake B
    go = 1;
    a.join(5000);
    if (!bEnded) {
      bEnded = waitFor(3000, B_DONE);
    }
    String s = "tries=" + tries + " oomes=" + oomes + " setResult=" + setResult
        + " setByAThrowingTry=" + setByATry + " lastSetError=" + describe(setError)
        + " B=" + (bEnded ? "done" : Scenario.stack(bThread, 400))
        + " bGot=" + (bValue == VALUE ? "VALUE" : String.valueOf(bValue))
        + " bError=" + describe(bError)
        + " aGot=" + (aGot[0] == VALUE ? "VALUE" : String.valueOf(aGot[0])) + " " + c;
    boolean good = bEnded && bValue == VALUE && bError == null && c.isSet();
    boolean landed = oomes > 0;
    return new String[] {!good ? "1" : landed ? "0" : "3", s};
  }
}
