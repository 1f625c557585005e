package dev.weft;

import static dev.weft.testing.Heap.fill;
import static dev.weft.testing.Heap.free;
import static dev.weft.testing.Heap.freeSmallest;
import static dev.weft.testing.Heap.waitFor;
import static dev.weft.testing.Scenario.daemon;

import dev.weft.testing.Scenario;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Review 30 (a real OutOfMemoryError inside a slow path), run in a fresh JVM with a small heap
 * ({@code -Xmx32m -XX:+UseSerialGC -XX:-UseTLAB}) by Review30HeapTest. The heap is filled to the
 * last few bytes (byte arrays of halving size until even an 8-byte one fails, then a probe
 * allocation that must fail) and kept full until the error has left weft's code: weft's own
 * recovery (its catch and finally blocks) runs in a full heap, as it would in a service. The
 * thread that receives the error frees the heap in its catch block (no allocation), then the
 * scenario checks, with bounded waits, that the primitive still works for other threads.
 *
 * <p>Scenarios (first argument), with the kind ({@code spin}, {@code ticket}, {@code jdk}):
 *
 * <ul>
 *   <li>{@code lock}: A holds the lock; the heap is filled; B calls lock() (its slow path
 *       allocates a queue node). Then: A unlocks, another thread locks and unlocks within 5 s.
 *   <li>{@code cond}: B awaits a Condition; C takes the lock, fills the heap, signals and keeps
 *       the lock for 3 s, so that B's re-acquisition inside await takes the slow path in a full
 *       heap. Then: does B hold the lock when await returns or throws; does one later signal
 *       reach a new waiter D (not a node B left queued); is the lock free at the end.
 *   <li>{@code onceOk} / {@code onceFail}: the initialiser fills the heap and returns (or
 *       throws); the cell's own bookkeeping after it allocates. Then: does a parked waiter
 *       return, and does another thread's getOrInit return within 5 s.
 * </ul>
 *
 * <p>Prints one line "RESULT &lt;scenario&gt; &lt;kind&gt; held|defect|miss ..." and exits 0
 * (held), 1 (defect), 3 (the OOME did not land: miss) or 2 (harness error).
 */
@SuppressWarnings({
  "StatementSwitchToExpressionSwitch",
  "LockNotBeforeTry",
  "StaticAssignmentOfThrowable",
  "WaitNotInLoop"
})
final class Review30HeapMain {
  private Review30HeapMain() {}

  static volatile @Nullable Throwable error;
  static volatile boolean holdsAtError;
  static volatile boolean holdsAtReturn;
  static volatile int done;
  static volatile int ready;

  private static final class DoneFlag implements java.util.function.BooleanSupplier {
    @Override
    public boolean getAsBoolean() {
      return done != 0;
    }
  }

  private static final class ReadyFlag implements java.util.function.BooleanSupplier {
    @Override
    public boolean getAsBoolean() {
      return ready != 0;
    }
  }

  private static final DoneFlag DONE = new DoneFlag();
  private static final ReadyFlag READY = new ReadyFlag();

  static String describe(@Nullable Throwable t) {
    if (t == null) {
      return "no-error";
    }
    StringBuilder sb = new StringBuilder(t.toString().replace(' ', '_'));
    sb.append(" frames=");
    StackTraceElement[] st = t.getStackTrace();
    for (int i = 0; i < Math.min(6, st.length); i++) {
      sb.append(i == 0 ? "" : "<").append(st[i].getClassName().replace("dev.weft.", ""))
          .append('.').append(st[i].getMethodName()).append(':').append(st[i].getLineNumber());
    }
    sb.append(" suppressed=").append(t.getSuppressed().length);
    return sb.toString();
  }

  static boolean inWeft(@Nullable Throwable t) {
    if (!(t instanceof OutOfMemoryError)) {
      return false;
    }
    for (StackTraceElement e : t.getStackTrace()) {
      if (e.getClassName().startsWith("dev.weft.") && !e.getClassName().contains("Review30")) {
        return true;
      }
    }
    return false;
  }

  static Lock newLock(String kind) {
    switch (kind) {
      case "spin":
        return new SpinLock();
      case "ticket":
        return new TicketLock();
      case "jdk":
        return new ReentrantLock();
      default:
        throw new IllegalArgumentException(kind);
    }
  }

  static boolean held(Lock l) {
    if (l instanceof SpinLock s) {
      return s.isHeldByCurrentThread();
    }
    if (l instanceof TicketLock t) {
      return t.isHeldByCurrentThread();
    }
    return ((ReentrantLock) l).isHeldByCurrentThread();
  }

  /** Locks and unlocks on a fresh thread; true if it finished within 5 s. */
  static boolean otherThreadLocks(Lock l) throws InterruptedException {
    AtomicInteger ok = new AtomicInteger();
    Thread c = daemon("C", () -> {
      l.lock();
      l.unlock();
      ok.set(1);
    });
    c.join(5000);
    return ok.get() == 1;
  }

  public static void main(String[] args) throws Exception {
    // Links every call the threads make after the heap is full (a first call may allocate).
    free();
    waitFor(0, DONE);
    waitFor(0, READY);
    LockSupport.parkNanos(1L);
    held(new SpinLock());
    held(new TicketLock());
    held(new ReentrantLock());
    inWeft(new OutOfMemoryError());
    describe(null);
    Scenario.runAndHalt(args, Review30HeapMain::describe, Review30HeapMain::run);
  }

  static String[] run(String scenario, String kind) throws Exception {
    switch (scenario) {
      case "lock":
        return lock(kind);
      case "cond":
        return cond(kind);
      case "onceOk":
        return once(false);
      case "onceFail":
        return once(true);
      case "scope":
        return scope();
      case "lockOrder":
        return lockOrder();
      default:
        throw new IllegalArgumentException(scenario);
    }
  }

  /**
   * Runs the lock's and the condition's slow paths (spin, register, park, hand-over, await,
   * signal) before the heap is filled, so that the first-call linking they do (method and
   * VarHandle call sites) is done and an OOME later lands at the slow path's own allocations.
   */
  static void warm(Lock l, Condition c) throws InterruptedException {
    Runnable r = () -> {
      for (int i = 0; i < 3000; i++) {
        l.lock();
        try {
          if (i % 8 == 0) {
            LockSupport.parkNanos(50_000L);
          }
          if (i % 16 == 0) {
            c.signal();
            c.await(20, TimeUnit.MICROSECONDS);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          l.unlock();
        }
      }
    };
    Thread t1 = daemon("warm1", r);
    Thread t2 = daemon("warm2", r);
    t1.join(30_000);
    t2.join(30_000);
    System.gc();
  }

  static String[] lock(String kind) throws Exception {
    Lock l = newLock(kind);
    warm(l, l.newCondition());
    l.lock(); // main is A
    Thread b = daemon("B", () -> {
      while (ready == 0) {
        LockSupport.parkNanos(1_000_000L);
      }
      try {
        l.lock();
        holdsAtReturn = held(l);
        l.unlock();
      } catch (Throwable t) {
        free();
        error = t;
        holdsAtError = held(l);
      } finally {
        done = 1;
      }
    });
    boolean full = fill();
    ready = 1;
    waitFor(3000, DONE); // B fails at once, or parks: then the unlock lets it in
    free();
    l.unlock();
    waitFor(10_000, DONE);
    b.join(5000);
    boolean others = otherThreadLocks(l);
    boolean again = l.tryLock(5, TimeUnit.SECONDS);
    if (again) {
      l.unlock();
    }
    Throwable e = error;
    String s = "full=" + full + " landedInWeft=" + inWeft(e) + " bDone=" + (done != 0)
        + " bAlive=" + b.isAlive() + " holdsAtReturn=" + holdsAtReturn + " holdsAtError="
        + holdsAtError + " othersLock=" + others + " mainRelocks=" + again + " " + describe(e)
        + " lock=" + l;
    boolean ok = done != 0 && !b.isAlive() && others && again && !holdsAtError;
    int code = !ok ? 1 : e == null ? 3 : 0;
    return new String[] {Integer.toString(code), s};
  }

  static String[] cond(String kind) throws Exception {
    Lock l = newLock(kind);
    Condition c = l.newCondition();
    warm(l, c);
    Thread b = daemon("B", () -> {
      l.lock();
      try {
        ready = 1;
        c.await();
        holdsAtReturn = held(l);
      } catch (Throwable t) {
        free();
        error = t;
        holdsAtError = held(l);
      } finally {
        done = 1;
        if (held(l)) {
          l.unlock();
        }
      }
    });
    waitFor(5000, READY);
    l.lock(); // B has released it inside await: its node is queued
    boolean full = fill();
    Throwable signalError = null;
    try {
      c.signal();
    } catch (Throwable t) {
      free();
      signalError = t;
    }
    boolean bEndedWhileHeld = waitFor(3000, DONE); // keep the lock (and the heap full)
    free();
    l.unlock();
    waitFor(10_000, DONE);
    b.join(5000);
    // A new waiter D and one signal: the signal must reach D, not a node B left behind.
    ready = 0;
    AtomicReference<String> dOutcome = new AtomicReference<>("none");
    Thread d = daemon("D", () -> {
      l.lock();
      try {
        ready = 1;
        dOutcome.set(c.await(5, TimeUnit.SECONDS) ? "signalled" : "timed-out");
      } catch (Throwable t) {
        dOutcome.set(t.toString());
      } finally {
        if (held(l)) {
          l.unlock();
        }
      }
    });
    waitFor(5000, READY);
    boolean mainGot = l.tryLock(5, TimeUnit.SECONDS);
    if (mainGot) {
      c.signal();
      l.unlock();
    }
    d.join(10_000);
    boolean others = otherThreadLocks(l);
    Throwable e = error;
    String s = "full=" + full + " landedInWeft=" + inWeft(e) + " signalError=" + describe(signalError)
        + " bEndedWhileCHeld=" + bEndedWhileHeld + " bDone=" + (done != 0) + " bAlive=" + b.isAlive()
        + " holdsAtReturn=" + holdsAtReturn + " holdsAtError=" + holdsAtError + " D=" + dOutcome.get()
        + " othersLock=" + others + " B:" + describe(e) + " lock=" + l;
    boolean bOk = e == null ? holdsAtReturn : holdsAtError;
    boolean ok = done != 0 && !b.isAlive() && bOk && mainGot && "signalled".equals(dOutcome.get())
        && others && !d.isAlive();
    int code = !ok ? 1 : e == null ? 3 : 0;
    return new String[] {Integer.toString(code), s};
  }

  /**
   * A scope (maxConcurrency 2, timeout 20 s) with one task parked on a flag; the heap is filled
   * and a second spawn is made (it allocates the task and its thread). Then: the error reaches
   * the spawner, a third spawn still gets a slot, close() joins every started thread.
   */
  static String[] scope() throws Exception {
    AtomicInteger release = new AtomicInteger();
    AtomicInteger ran = new AtomicInteger();
    Runnable parked = () -> {
      while (release.get() == 0) {
        LockSupport.parkNanos(1_000_000L);
      }
      ran.incrementAndGet();
    };
    Throwable spawnError = null;
    boolean thirdSpawned = false;
    Throwable closeError = null;
    Thread[] threads = new Thread[3];
    Scope scope = Scope.builder().maxConcurrency(3).timeout(Duration.ofSeconds(20)).open();
    try {
      threads[0] = scope.spawn(parked).thread();
      // warm: one spawn that runs and ends
      scope.spawn(parked); // parked until release: holds the second slot for now
      release.set(0);
      full = fill();
      try {
        threads[1] = scope.spawn(parked).thread();
      } catch (Throwable t) {
        free();
        spawnError = t;
      }
      free();
      release.set(1);
      try {
        threads[2] = scope.spawn(parked).thread();
        thirdSpawned = true;
      } catch (Throwable t) {
        closeError = t;
      }
    } finally {
      try {
        scope.close();
      } catch (Throwable t) {
        closeError = closeError == null ? t : closeError;
      }
    }
    boolean anyAlive = false;
    for (Thread t : threads) {
      if (t != null && t.isAlive()) {
        anyAlive = true;
      }
    }
    String s = "full=" + full + " landedInWeft=" + inWeft(spawnError) + " spawn2:" + describe(spawnError)
        + " thirdSpawned=" + thirdSpawned + " ran=" + ran.get() + " anyThreadAlive=" + anyAlive
        + " closeError=" + describe(closeError);
    boolean ok = !anyAlive && thirdSpawned && closeError == null;
    int code = !ok ? 1 : spawnError == null ? 3 : 0;
    return new String[] {Integer.toString(code), s};
  }

  static volatile boolean full;

  /**
   * Lock-order checking on ({@code -Ddev.weft.lockOrder=check}): B holds eight SpinLocks (the
   * held list's first capacity) and takes a ninth, uncontended, whose order is known already;
   * the heap is full but for k small arrays freed (k = 0..8): the check before the CAS fits,
   * the held list's growth after it may not. Whenever lock() throws, is the ninth lock held?
   */
  static String[] lockOrder() throws Exception {
    SpinLock[] locks = new SpinLock[9];
    for (int i = 0; i < locks.length; i++) {
      locks[i] = new SpinLock();
    }
    StringBuilder sb = new StringBuilder("enabled=" + LockOrder.enabled());
    AtomicInteger leaked = new AtomicInteger();
    AtomicInteger thrown = new AtomicInteger();
    AtomicReference<String> firstLeak = new AtomicReference<>("");
    Thread b = daemon("B", () -> {
      for (SpinLock l : locks) { // records the order l0 < ... < l8 once
        l.lock();
      }
      for (int i = locks.length - 1; i >= 0; i--) {
        locks[i].unlock();
      }
      for (int round = 0; round < 36; round++) { // the sweep k = 0..8, four times
        int k = round % 9;
        for (int i = 0; i < 8; i++) {
          locks[i].lock();
        }
        fill();
        freeSmallest(k);
        Throwable t = null;
        try {
          locks[8].lock();
        } catch (Throwable e) {
          free();
          t = e;
        }
        free();
        boolean heldNow = locks[8].isHeldByCurrentThread();
        if (t != null) {
          thrown.incrementAndGet();
          if (heldNow) {
            leaked.incrementAndGet();
            if (firstLeak.get().isEmpty()) {
              firstLeak.set("k=" + k + " " + describe(t));
            }
          }
        }
        if (t != null) {
          sb.append(" k").append(k).append('=').append("OOME").append(heldNow ? "+held" : "");
        }
        if (heldNow) {
          try {
            locks[8].unlock();
          } catch (Throwable e) {
            sb.append("(unlock:").append(e.getClass().getSimpleName()).append(')');
          }
        }
        for (int i = 7; i >= 0; i--) {
          locks[i].unlock();
        }
      }
    });
    b.join(60_000);
    String s = sb + " thrown=" + thrown.get() + " leakedHeld=" + leaked.get() + " first: "
        + firstLeak.get();
    int code = b.isAlive() ? 1 : leaked.get() > 0 ? 1 : thrown.get() == 0 ? 3 : 0;
    return new String[] {Integer.toString(code), s};
  }

  private static final String B_VALUE = "b-value";

  private static final RuntimeException PREBUILT = new IllegalStateException("initialiser failed");

  static String[] once(boolean failing) throws Exception {
    Lazy.FailurePolicy policy = failing ? Lazy.FailurePolicy.REMEMBER : Lazy.FailurePolicy.RETRY;
    OnceCell<String> cell = new OnceCell<>(policy);
    AtomicInteger started = new AtomicInteger();
    Thread b = daemon("B", () -> {
      try {
        String v = cell.getOrInit(() -> {
          started.set(1);
          while (ready == 0) { // let the waiter W park on the cell
            LockSupport.parkNanos(1_000_000L);
          }
          fill();
          fill(); // tops up what the GC or another thread gave back meanwhile
          if (failing) {
            throw PREBUILT;
          }
          return B_VALUE; // no ldc here: a first ldc of a string allocates it
        });
        holdsAtReturn = v != null;
      } catch (Throwable t) {
        free();
        error = t;
      } finally {
        done = 1;
      }
    });
    while (started.get() == 0) {
      LockSupport.parkNanos(1_000_000L);
    }
    // W stores what it got without allocating: it may run while the heap is still full (the
    // REMEMBER failure wakes it before the main thread frees the heap), and a string built in
    // its catch threw there, so W ended with nothing recorded and the fork read as a defect
    // (CI, session 31). The strings are made after the heap is freed.
    AtomicReference<@Nullable Object> wGot = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> wThrew = new AtomicReference<>();
    Thread w = daemon("W", () -> {
      try {
        wGot.set(cell.getOrInit(() -> "w-value"));
      } catch (Throwable t) {
        wThrew.set(t);
      }
    });
    // W parks on the cell (it spins and yields first): give it a moment, bounded.
    waitFor(200, () -> w.getState() == Thread.State.WAITING);
    Thread.State wState = w.getState();
    ready = 1;
    waitFor(10_000, DONE);
    free();
    w.join(5000);
    b.join(5000);
    Throwable wt = wThrew.get();
    String waiter = wt != null ? "threw:" + wt.getClass().getSimpleName()
        : wGot.get() != null ? "returned:" + wGot.get() : "none";
    AtomicReference<String> later = new AtomicReference<>("none");
    Thread c = daemon("C", () -> {
      try {
        later.set("returned:" + cell.getOrInit(() -> "c-value"));
      } catch (Throwable t) {
        later.set("threw:" + t.getClass().getSimpleName());
      }
    });
    c.join(5000);
    Throwable e = error;
    String s = "landedInWeft=" + inWeft(e) + " bDone=" + (done != 0) + " W(parked " + wState
        + ")=" + waiter + " wAlive=" + w.isAlive() + " laterC=" + later.get() + " cAlive="
        + c.isAlive() + " B:" + describe(e) + " cell=" + cell;
    boolean ok = done != 0 && !b.isAlive() && !w.isAlive() && !c.isAlive() && !waiter.equals("none")
        && !later.get().equals("none");
    // Landed: B got the OOME, or (REMEMBER, since session 30's fix) the failure could not be
    // recorded, so the claim was released unremembered and W ran its own initialiser.
    boolean landed = e instanceof OutOfMemoryError
        || (failing && waiter.equals("returned:w-value"));
    int code = !ok ? 1 : !landed ? 3 : 0; // 3: the OOME missed
    return new String[] {Integer.toString(code), s};
  }
}
