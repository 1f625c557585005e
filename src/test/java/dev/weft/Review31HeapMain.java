package dev.weft;

import static dev.weft.testing.Heap.fill;
import static dev.weft.testing.Heap.free;
import static dev.weft.testing.Heap.freeSmallest;
import static dev.weft.testing.Heap.waitFor;
import static dev.weft.testing.Scenario.daemon;
import static dev.weft.testing.Scenario.describe;
import static dev.weft.testing.Scenario.stack;

import dev.weft.testing.Scenario;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.concurrent.locks.StampedLock;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Review 31: a real OutOfMemoryError (an exhausted heap) inside the slow paths of Condvar,
 * RwLock, the SeqLock family (SeqLock, SeqLocked, SeqCount) and OnceCell/Lazy, run in a fresh
 * JVM ({@code -Xmx32m -XX:+UseSerialGC -XX:-UseTLAB}, see {@code testing.Heap}) by
 * Review31HeapTest; the JDK's ReentrantLock+Condition, ReentrantReadWriteLock and StampedLock
 * under the same pressure are the references. Prints "RESULT ..." and halts with 0 held, 1
 * defect, 3 the OOME missed, 2 harness error (see {@code testing.HeapFork}).
 *
 * <p>"cold" kinds run a path for the first time in the JVM under the full heap, round after
 * round (each round fills the heap, runs the operation once, frees the heap and checks the
 * primitive): a first execution of a VarHandle call site links it, and linking allocates, so
 * each round's OOME lands one linking step further on, until one lands between a change and
 * its undo or the path runs through. "warm" kinds run the same path with the heap free first.
 */
@SuppressWarnings({"StatementSwitchToExpressionSwitch", "StaticAssignmentOfThrowable",
    "UnusedVariable", "LockNotBeforeTry", "WaitNotInLoop", "CatchAndPrintStackTrace", "try",
    "rawtypes"})
final class Review31HeapMain {
  private Review31HeapMain() {}

  /**
   * How many of the smallest filler arrays (24 bytes each) a cold round gives back after the
   * fill: round after round a little more room, so each round's first-run linking gets one
   * step further than the last before it fails (a link that failed is tried again, and a full
   * heap alone would fail at the same first step for ever).
   */
  static final int[] KS = {0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96,
      128, 160, 192, 256, 320, 384, 512, 640, 768, 1024, 1536, 2048};

  static void fillLeaving(int round) {
    fill();
    freeSmallest(KS[Math.min(round, KS.length - 1)]);
  }

  static void park(long micros) {
    LockSupport.parkNanos(micros * 1000L);
  }

  // Flags written by the threads of a scenario; volatile ints, polled without allocation.
  static volatile int want = -1;
  static volatile int go = -1;
  static volatile int wLocked = -1;
  static volatile int wDone = -1;
  static volatile int tHolds = -1;
  static volatile int tRelease = -1;
  static volatile int tDone = -1;

  static final BooleanSupplier W_DONE = () -> wDone == want;
  static final BooleanSupplier W_LOCKED = () -> wLocked == want;
  static final BooleanSupplier T_HOLDS = () -> tHolds == want;
  static final BooleanSupplier T_DONE = () -> tDone == want;
  static final BooleanSupplier NEVER = () -> false;

  public static void main(String[] args) throws Exception {
    free();
    waitFor(0, NEVER);
    waitFor(0, W_DONE);
    waitFor(0, W_LOCKED);
    waitFor(0, T_HOLDS);
    waitFor(0, T_DONE);
    describe(new OutOfMemoryError());
    Scenario.runAndHalt(args, Review31HeapMain::run);
  }

  static String[] run(String scenario, String kind) throws Exception {
    switch (scenario) {
      case "cvSpin":
        return cvSpin(kind);
      case "cvNotify":
        return cvNotify(kind);
      case "rw":
        return rw(kind);
      case "seqCount":
        return seqCount(kind);
      case "seqLock":
        return seqLock(kind);
      case "once":
        return once(kind);
      case "seqReader":
        return seqReader(kind);
      default:
        throw new IllegalArgumentException(scenario);
    }
  }

  /** Blocks while v[0] == 0. */
  private static final class Blocked implements Predicate<int[]> {
    @Override
    public boolean test(int[] v) {
      return v[0] == 0;
    }
  }

  static final Predicate<int[]> BLOCKED = new Blocked();

  // ---------------------------------------------------------------------------------------
  // cvSpin <weft|jdk>-<warm|cold>: W holds the mutex and waits on the condition variable
  // (predicate blocked); T is queued for the mutex. The heap is filled, then W's wait releases
  // the mutex; T takes it and keeps it (heap still full) while W's wait takes it back. weft's
  // Condvar releases in its spin phase and re-acquires through Mutex.spinUntilReleased: a
  // contended AQS acquire, whose node allocation is the first allocation after the release.
  // The JDK's await allocates its ConditionNode before releasing and re-acquires with it.
  // Then T releases, the heap is freed, the predicate made true and all waiters notified.
  // Defect: W's wait throws without the mutex, W never ends, the mutex stays locked, or a later
  // waiter is not woken by notifyOne.

  static final int[] CV_ROUNDS = new int[1];
  static final Throwable[] W_ERR = new Throwable[32];
  static final boolean[] W_HELD_AT_THROW = new boolean[32];
  static final boolean[] W_HELD_AT_RETURN = new boolean[32];
  static final Throwable[] W_CLOSE_ERR = new Throwable[32];
  static final Throwable[] T_ERR = new Throwable[32];

  static String[] cvSpin(String kind) throws Exception {
    boolean jdk = kind.startsWith("jdk");
    boolean warm = kind.contains("warm");
    spinner = !kind.endsWith("queued");
    cvCold = !warm;
    if (kind.contains("fjp")) {
      // ForkJoinPool initialized with the heap free: the first Condition.await of a JVM runs
      // its static initializer (ForkJoinPool.managedBlock), after the lock was released.
      Class.forName("java.util.concurrent.ForkJoinPool", true, null);
    }
    waitFor(0, T_SPINNING);
    int[] v = {0};
    Mutex<int[]> m = new Mutex<>(v);
    Condvar cv = new Condvar();
    ReentrantLock lock = new ReentrantLock();
    Condition cond = lock.newCondition();
    try (Mutex.Guard<int[]> g = m.lock()) {
      cv.awaitWhile(g, BLOCKED, Duration.ZERO); // binds; the zero timeout never releases
    }
    BooleanSupplier tQueued = jdk ? lock::hasQueuedThreads : m.sync::hasQueuedThreads;
    waitFor(0, tQueued);
    int base = 0;
    if (warm) {
      for (; base < 4; base++) {
        cvRound(base, false, jdk, v, m, cv, lock, cond, tQueued);
      }
    }
    int rounds = warm ? 12 : KS.length;
    StringBuilder log = new StringBuilder();
    int threw = 0;
    int threwUnheld = 0;
    int returnedUnheld = 0;
    int stuck = 0;
    int fullWhileTHeld = 0;
    for (int r = base; r < base + rounds; r++) {
      String s = cvRound(r, true, jdk, v, m, cv, lock, cond, tQueued);
      log.append(" r").append(r).append('[').append(s).append(']');
      if (W_ERR[r] != null) {
        threw++;
        if (!W_HELD_AT_THROW[r]) {
          threwUnheld++;
        }
      } else if (!W_HELD_AT_RETURN[r]) {
        returnedUnheld++;
      }
      if (s.startsWith("STUCK")) {
        stuck++;
        break;
      }
      if (threwUnheld > 0 && r >= base + 3) {
        break; // enough shown; later rounds add time, not evidence
      }
      if (s.contains("tHeldWhileFull")) {
        fullWhileTHeld++;
      }
    }
    // A later waiter and one notifyOne: no dead node eats it; the mutex is free.
    String later = laterWaiter(jdk, v, m, cv, lock, cond);
    boolean lockedAtEnd = jdk ? lock.isLocked() : m.isLocked();
    String s = "rounds=" + rounds + " waitThrew=" + threw + " threwWithoutLock=" + threwUnheld
        + " returnedWithoutLock=" + returnedUnheld + " stuck=" + stuck
        + " tHeldWhileHeapFull=" + fullWhileTHeld + " later=" + later + " lockedAtEnd="
        + lockedAtEnd + (jdk ? "" : " " + cv + " " + m) + " |" + log;
    boolean good = threwUnheld == 0 && returnedUnheld == 0 && stuck == 0
        && later.equals("woken") && !lockedAtEnd;
    boolean landed = threw > 0 || fullWhileTHeld > 0;
    return new String[] {!good ? "1" : !landed ? "3" : "0", s};
  }

  static volatile boolean spinner;
  static volatile boolean cvCold;
  static volatile int tSpinning = -1;
  static final BooleanSupplier T_SPINNING = () -> tSpinning == want;

  static String cvRound(int r, boolean fillIt, boolean jdk, int[] v, Mutex<int[]> m,
      Condvar cv, ReentrantLock lock, Condition cond, BooleanSupplier tQueued) {
    want = r;
    v[0] = 0;
    Thread w = daemon("W" + r, () -> {
      Mutex.Guard<int[]> g = null;
      if (jdk) {
        lock.lock();
      } else {
        g = m.lock();
      }
      wLocked = r;
      while (go != r) {
        park(100);
      }
      try {
        if (jdk) {
          while (v[0] == 0) {
            cond.await();
          }
          W_HELD_AT_RETURN[r] = lock.isHeldByCurrentThread();
        } else {
          cv.awaitWhile(g, BLOCKED);
          W_HELD_AT_RETURN[r] = m.isHeldByCurrentThread();
        }
      } catch (Throwable e) {
        free();
        W_ERR[r] = e;
        W_HELD_AT_THROW[r] = jdk ? lock.isHeldByCurrentThread() : m.isHeldByCurrentThread();
      }
      try {
        if (jdk) {
          lock.unlock(); // the caller's finally
        } else {
          g.close(); // try-with-resources
        }
      } catch (Throwable e) {
        W_CLOSE_ERR[r] = e;
      }
      wDone = r;
    });
    Thread t = daemon("T" + r, () -> {
      while (wLocked != r) {
        park(100);
      }
      try {
        Mutex.Guard<int[]> tg = null;
        if (spinner) {
          // A locker in its spin phase (Mutex.spinAcquire polls tryLockFast the same way):
          // it takes the mutex the moment W's wait releases it.
          tSpinning = r;
          if (jdk) {
            while (!lock.tryLock()) {
              Thread.onSpinWait();
            }
          } else {
            while (!m.sync.tryLockFast()) {
              Thread.onSpinWait();
            }
          }
        } else if (jdk) {
          lock.lock();
        } else {
          tg = m.lock();
        }
        tHolds = r;
        while (tRelease != r) {
          park(100);
        }
        if (jdk) {
          lock.unlock();
        } else if (spinner) {
          m.sync.release(1);
        } else {
          tg.close();
        }
      } catch (Throwable e) {
        free();
        T_ERR[r] = e;
      }
      tDone = r;
    });
    waitFor(3000, W_LOCKED);
    if (spinner) {
      waitFor(3000, T_SPINNING);
    } else {
      waitFor(3000, tQueued); // T queued (parked) behind W
    }
    park(20_000);
    if (fillIt) {
      if (cvCold) {
        fillLeaving(r);
      } else {
        fill();
      }
    }
    go = r;
    boolean tHeld = waitFor(1000, T_HOLDS); // W released; T took the mutex
    boolean tHeldWhileFull = tHeld && fillIt && wDone != r; // W still in its wait, heap full
    waitFor(300, W_DONE);
    tRelease = r; // T releases with the heap still full
    waitFor(300, W_DONE);
    free();
    waitFor(2000, T_DONE);
    if (jdk) {
      lock.lock();
      v[0] = 1;
      cond.signalAll();
      lock.unlock();
    } else {
      try (Mutex.Guard<int[]> g = m.lock()) {
        v[0] = 1;
      }
      cv.notifyAllWaiters();
    }
    boolean done = waitFor(5000, W_DONE);
    String s = (done ? "" : "STUCK W:" + stack(w) + " ") + "W=" + describe(W_ERR[r])
        + (W_ERR[r] != null ? " heldAtThrow=" + W_HELD_AT_THROW[r] : " heldAtReturn="
        + W_HELD_AT_RETURN[r]) + " close=" + describe(W_CLOSE_ERR[r]) + " T=" + describe(T_ERR[r])
        + (tDone == r ? "" : " tStuck") + (tHeldWhileFull ? " tHeldWhileFull" : "");
    return s;
  }

  static final int[] LATER = new int[1];

  static String laterWaiter(boolean jdk, int[] v, Mutex<int[]> m, Condvar cv, ReentrantLock lock,
      Condition cond) throws Exception {
    v[0] = 0;
    AtomicInteger state = new AtomicInteger();
    Thread d = daemon("D", () -> {
      try {
        if (jdk) {
          lock.lock();
          try {
            state.set(1);
            while (v[0] == 0) {
              cond.await();
            }
          } finally {
            lock.unlock();
          }
        } else {
          try (Mutex.Guard<int[]> g = m.lock()) {
            state.set(1);
            cv.awaitWhile(g, BLOCKED);
          }
        }
        state.set(2);
      } catch (Throwable e) {
        state.set(3);
      }
    });
    waitFor(3000, () -> state.get() == 1 && d.getState() == Thread.State.WAITING);
    park(50_000);
    if (jdk) {
      lock.lock();
      v[0] = 1;
      cond.signal();
      lock.unlock();
    } else {
      try (Mutex.Guard<int[]> g = m.lock()) {
        v[0] = 1;
      }
      cv.notifyOne();
    }
    d.join(3000);
    return state.get() == 2 ? "woken" : state.get() == 3 ? "threw" : "notWoken:" + stack(d);
  }

  // ---------------------------------------------------------------------------------------
  // cvNotify <weft|jdk>-<fresh|used>: W is asleep in the condition (weft: after its spin
  // phase). The notifier holds the mutex, makes the predicate true, and signals with the heap
  // full. On a lock whose AQS queue was never used ("fresh": no thread ever queued for it), the
  // JDK 17 AQS's signal takes W's node off the condition queue and then allocates the sync
  // queue's head (tryInitializeHead): an OOME there leaves W in neither queue. "used": a thread
  // queued for the lock once before, so the head exists. Defect: W is never woken, even by a
  // later notifyAll with the heap free.

  static String[] cvNotify(String kind) throws Exception {
    boolean jdk = kind.startsWith("jdk");
    boolean used = kind.endsWith("used");
    // Warm the whole wait/notify path on another pair first (links weft's call sites and the
    // AQS's code), so that the only first in the JVM left is this lock's queue head.
    int[] v2 = {0};
    Mutex<int[]> m2 = new Mutex<>(v2);
    Condvar cv2 = new Condvar();
    ReentrantLock lock2 = new ReentrantLock();
    Condition cond2 = lock2.newCondition();
    for (int i = 0; i < 3; i++) {
      String s = laterWaiter(jdk, v2, m2, cv2, lock2, cond2);
      if (!s.equals("woken")) {
        throw new IllegalStateException("warm-up: " + s);
      }
    }
    int[] v = {0};
    Mutex<int[]> m = new Mutex<>(v);
    Condvar cv = new Condvar();
    ReentrantLock lock = new ReentrantLock();
    Condition cond = lock.newCondition();
    try (Mutex.Guard<int[]> g = m.lock()) {
      cv.awaitWhile(g, BLOCKED, Duration.ZERO); // binds
    }
    if (used) { // one thread queues for the lock: the AQS makes its head
      Thread x;
      if (jdk) {
        lock.lock();
        x = daemon("X", () -> {
          lock.lock();
          lock.unlock();
        });
        waitFor(3000, lock::hasQueuedThreads);
        lock.unlock();
      } else {
        Mutex.Guard<int[]> g = m.lock();
        x = daemon("X", () -> {
          m.lock().close();
        });
        waitFor(3000, m.sync::hasQueuedThreads);
        g.close();
      }
      x.join(3000);
    }
    AtomicInteger state = new AtomicInteger();
    AtomicReference<Throwable> wErr = new AtomicReference<>();
    Thread w = daemon("W", () -> {
      try {
        if (jdk) {
          lock.lock();
          try {
            state.set(1);
            while (v[0] == 0) {
              cond.await();
            }
          } finally {
            lock.unlock();
          }
        } else {
          try (Mutex.Guard<int[]> g = m.lock()) {
            state.set(1);
            cv.awaitWhile(g, BLOCKED);
          }
        }
        state.set(2);
      } catch (Throwable e) {
        wErr.set(e);
        state.set(3);
      }
    });
    waitFor(3000, () -> state.get() == 1 && w.getState() == Thread.State.WAITING);
    park(50_000);
    Thread.State wState = w.getState();
    Throwable notifyErr = null;
    if (jdk) {
      lock.lock();
      v[0] = 1;
      fill();
      try {
        cond.signal();
      } catch (Throwable e) {
        free();
        notifyErr = e;
      }
      free();
      lock.unlock();
    } else {
      Mutex.Guard<int[]> g = m.lock();
      v[0] = 1;
      fill();
      try {
        cv.notifyOne();
      } catch (Throwable e) {
        free();
        notifyErr = e;
      }
      free();
      g.close();
    }
    w.join(3000);
    boolean firstWoke = state.get() == 2;
    String again = "-";
    if (state.get() != 2) {
      if (jdk) {
        lock.lock();
        cond.signalAll();
        lock.unlock();
      } else {
        cv.notifyAllWaiters();
      }
      w.join(3000);
      again = state.get() == 2 ? "wokenByNotifyAll" : "stillAsleep";
    }
    String s = "W(before: " + wState + ") notify=" + describe(notifyErr) + " wWokeAfterIt="
        + firstWoke + " retry=" + again + " wErr=" + describe(wErr.get())
        + (state.get() == 2 ? "" : " W:" + stack(w)) + (jdk ? " " + lock : " " + cv + " " + m);
    boolean good = state.get() == 2;
    boolean landed = notifyErr != null;
    return new String[] {!good ? "1" : !landed ? "3" : "0", s};
  }

  // ---------------------------------------------------------------------------------------
  // rw <weft|jdk|stamped>-<read|tryRead|withRead|queued>: R1 holds the read lock (the lock's
  // first reader); the heap is full but for k small arrays (k = 0..5, one round each); R2 takes
  // the read lock. ReentrantReadWriteLock counts a second reader's holds in a ThreadLocal
  // HoldCounter, made (readHolds.get()) after the state CAS that took the hold: an OOME there
  // leaves a hold that no thread can release. weft's read guard is allocated before the
  // acquisition: the k free arrays let it fit while what follows does not.
  // "queued": a writer holds the lock, R2 and R3 queue for reads; the writer releases with the
  // heap full; the first woken reader is the first reader, the second allocates.
  // Defect: after everything is released and the heap freed, a writer cannot get in.

  static final Function0 NOOP_READ = v -> v.length;

  interface Function0 extends java.util.function.Function<int[], Integer> {}

  /** What a thread holds: a weft guard or a StampedLock stamp (no boxing in a full heap). */
  static final class Hold {
    @Nullable Object guard;
    long stamp;
  }

  static String[] rw(String kind) throws Exception {
    String impl = kind.substring(0, kind.indexOf('-'));
    String op = kind.substring(kind.indexOf('-') + 1);
    RwLock<int[]> rw = new RwLock<>(new int[1]);
    ReentrantReadWriteLock jrw = new ReentrantReadWriteLock();
    StampedLock sl = new StampedLock();
    // warm: reads and writes from several threads, with the heap free
    for (int i = 0; i < 3; i++) {
      Thread a = daemon("warmA", () -> rwReadHold(impl, rw, jrw, sl, 5));
      Thread b = daemon("warmB", () -> rwReadHold(impl, rw, jrw, sl, 5));
      a.join();
      b.join();
      rwWrite(impl, rw, jrw, sl);
    }
    StringBuilder log = new StringBuilder();
    int landed = 0;
    String broken = null;
    int rounds = op.equals("queued") ? 3 : 6;
    for (int k = 0; k < rounds && broken == null; k++) {
      String s = op.equals("queued") ? rwQueuedRound(impl, rw, jrw, sl)
          : rwRound(impl, op, k, rw, jrw, sl);
      log.append(" k").append(k).append('[').append(s).append(']');
      if (s.contains("OutOfMemoryError")) {
        landed++;
      }
      int readers = readHolds(impl, rw, jrw, sl);
      boolean writerIn = writerGetsIn(impl, rw, jrw, sl);
      if (readers != 0 || !writerIn) {
        broken = "k=" + k + ": readHoldsAfterAllReleased=" + readers + " writerGetsInWithin3s="
            + writerIn + " " + (impl.equals("weft") ? rw : impl.equals("jdk") ? jrw : sl);
      }
    }
    String s = "landed=" + landed + " broken=" + broken + " |" + log;
    return new String[] {broken != null ? "1" : landed == 0 ? "3" : "0", s};
  }

  static String rwRound(String impl, String op, int k, RwLock<int[]> rw,
      ReentrantReadWriteLock jrw, StampedLock sl) throws Exception {
    AtomicReference<Throwable> r2Err = new AtomicReference<>();
    AtomicInteger r1State = new AtomicInteger();
    AtomicInteger r2State = new AtomicInteger();
    AtomicInteger release = new AtomicInteger();
    AtomicInteger r2Go = new AtomicInteger();
    Hold h1 = new Hold();
    Hold h2 = new Hold();
    Thread r1 = daemon("R1", () -> {
      rwAcquireRead(impl, "read", rw, jrw, sl, h1);
      r1State.set(1);
      while (release.get() == 0) {
        park(200);
      }
      rwReleaseRead(impl, h1, rw, jrw, sl);
      r1State.set(2);
    });
    Thread r2 = daemon("R2", () -> {
      while (r2Go.get() == 0) {
        park(100);
      }
      try {
        rwAcquireRead(impl, op, rw, jrw, sl, h2);
        r2State.set(1);
        rwReleaseRead(impl, h2, rw, jrw, sl);
      } catch (Throwable e) {
        free();
        r2Err.set(e);
      }
      r2State.set(2);
    });
    waitFor(3000, () -> r1State.get() == 1);
    BooleanSupplier r2Done = () -> r2State.get() == 2; // made before the fill
    waitFor(0, r2Done);
    fill();
    freeSmallest(k);
    r2Go.set(1);
    waitFor(3000, r2Done);
    free();
    release.set(1);
    waitFor(3000, () -> r1State.get() == 2);
    r1.join(1000);
    r2.join(1000);
    return "R2=" + describe(r2Err.get()) + " readHolds=" + readHolds(impl, rw, jrw, sl);
  }

  static String rwQueuedRound(String impl, RwLock<int[]> rw, ReentrantReadWriteLock jrw,
      StampedLock sl) throws Exception {
    AtomicReference<Throwable> r2Err = new AtomicReference<>();
    AtomicReference<Throwable> r3Err = new AtomicReference<>();
    AtomicInteger r2State = new AtomicInteger();
    AtomicInteger r3State = new AtomicInteger();
    AtomicInteger release = new AtomicInteger();
    AtomicInteger wGo = new AtomicInteger();
    AtomicInteger wState = new AtomicInteger();
    Hold hw = new Hold();
    Hold h2 = new Hold();
    Hold h3 = new Hold();
    Thread wr = daemon("Wr", () -> {
      rwAcquireWrite(impl, rw, jrw, sl, hw);
      wState.set(1);
      while (wGo.get() == 0) {
        park(100);
      }
      rwReleaseWrite(impl, hw, rw, jrw, sl); // with the heap full
      wState.set(2);
    });
    waitFor(3000, () -> wState.get() == 1);
    Runnable reader2 = () -> {
      try {
        rwAcquireRead(impl, "read", rw, jrw, sl, h2);
        r2State.set(1);
        while (release.get() == 0) {
          park(200);
        }
        rwReleaseRead(impl, h2, rw, jrw, sl);
      } catch (Throwable e) {
        free();
        r2Err.set(e);
      }
      r2State.set(2);
    };
    Runnable reader3 = () -> {
      try {
        rwAcquireRead(impl, "read", rw, jrw, sl, h3);
        r3State.set(1);
        while (release.get() == 0) {
          park(200);
        }
        rwReleaseRead(impl, h3, rw, jrw, sl);
      } catch (Throwable e) {
        free();
        r3Err.set(e);
      }
      r3State.set(2);
    };
    Thread r2 = daemon("R2", reader2);
    Thread r3 = daemon("R3", reader3);
    waitFor(3000, () -> r2.getState() == Thread.State.WAITING
        && r3.getState() == Thread.State.WAITING);
    park(50_000);
    BooleanSupplier wDoneS = () -> wState.get() == 2; // made before the fill
    BooleanSupplier readersDone = () -> (r2State.get() != 0 || r2Err.get() != null)
        && (r3State.get() != 0 || r3Err.get() != null);
    waitFor(0, wDoneS);
    waitFor(0, readersDone);
    fill();
    wGo.set(1);
    waitFor(3000, wDoneS);
    waitFor(2000, readersDone);
    free();
    release.set(1);
    waitFor(3000, () -> r2State.get() == 2 && r3State.get() == 2);
    return "R2=" + describe(r2Err.get()) + " R3=" + describe(r3Err.get()) + " readHolds="
        + readHolds(impl, rw, jrw, sl);
  }

  static int readHolds(String impl, RwLock<int[]> rw, ReentrantReadWriteLock jrw,
      StampedLock sl) {
    return impl.equals("weft") ? rw.readLockCount()
        : impl.equals("jdk") ? jrw.getReadLockCount() : sl.getReadLockCount();
  }

  static boolean writerGetsIn(String impl, RwLock<int[]> rw, ReentrantReadWriteLock jrw,
      StampedLock sl) throws Exception {
    AtomicInteger writerGot = new AtomicInteger();
    Thread x = daemon("X", () -> {
      try {
        if (impl.equals("weft")) {
          RwLock.WriteGuard<int[]> g = rw.tryWrite(Duration.ofSeconds(3));
          if (g != null) {
            writerGot.set(1);
            g.close();
          }
        } else if (impl.equals("jdk")) {
          if (jrw.writeLock().tryLock(3, TimeUnit.SECONDS)) {
            writerGot.set(1);
            jrw.writeLock().unlock();
          }
        } else {
          long s = sl.tryWriteLock(3, TimeUnit.SECONDS);
          if (s != 0L) {
            writerGot.set(1);
            sl.unlockWrite(s);
          }
        }
      } catch (Throwable e) {
        writerGot.set(2);
      }
    });
    x.join(6000);
    return writerGot.get() == 1;
  }

  static void rwReadHold(String impl, RwLock<int[]> rw, ReentrantReadWriteLock jrw,
      StampedLock sl, long ms) {
    Hold h = new Hold();
    rwAcquireRead(impl, "read", rw, jrw, sl, h);
    park(ms * 1000L);
    rwReleaseRead(impl, h, rw, jrw, sl);
  }

  static void rwAcquireRead(String impl, String op, RwLock<int[]> rw,
      ReentrantReadWriteLock jrw, StampedLock sl, Hold h) {
    switch (impl) {
      case "weft":
        switch (op) {
          case "read":
            h.guard = rw.read();
            return;
          case "tryRead": {
            RwLock.ReadGuard<int[]> g = rw.tryRead();
            if (g == null) {
              throw new IllegalStateException("tryRead failed");
            }
            h.guard = g;
            return;
          }
          case "withRead":
            rw.withRead(NOOP_READ);
            h.guard = null;
            return;
          default:
            throw new IllegalArgumentException(op);
        }
      case "jdk":
        if (op.equals("tryRead")) {
          if (!jrw.readLock().tryLock()) {
            throw new IllegalStateException("tryLock failed");
          }
        } else {
          jrw.readLock().lock();
        }
        return;
      default:
        h.stamp = op.equals("tryRead") ? sl.tryReadLock() : sl.readLock();
    }
  }

  static void rwReleaseRead(String impl, Hold h, RwLock<int[]> rw,
      ReentrantReadWriteLock jrw, StampedLock sl) {
    switch (impl) {
      case "weft":
        if (h.guard != null) {
          ((RwLock.ReadGuard<?>) h.guard).close();
        }
        break;
      case "jdk":
        jrw.readLock().unlock();
        break;
      default:
        sl.unlockRead(h.stamp);
    }
  }

  static void rwAcquireWrite(String impl, RwLock<int[]> rw, ReentrantReadWriteLock jrw,
      StampedLock sl, Hold h) {
    switch (impl) {
      case "weft":
        h.guard = rw.write();
        break;
      case "jdk":
        jrw.writeLock().lock();
        break;
      default:
        h.stamp = sl.writeLock();
    }
  }

  static void rwReleaseWrite(String impl, Hold h, RwLock<int[]> rw,
      ReentrantReadWriteLock jrw, StampedLock sl) {
    switch (impl) {
      case "weft":
        ((RwLock.WriteGuard<?>) h.guard).close();
        break;
      case "jdk":
        jrw.writeLock().unlock();
        break;
      default:
        sl.unlockWrite(h.stamp);
    }
  }

  static void rwWrite(String impl, RwLock<int[]> rw, ReentrantReadWriteLock jrw,
      StampedLock sl) {
    Hold h = new Hold();
    rwAcquireWrite(impl, rw, jrw, sl, h);
    rwReleaseWrite(impl, h, rw, jrw, sl);
  }

  // ---------------------------------------------------------------------------------------
  // seqCount <cold|warm|stampedCold>: round after round, fill the heap, write() and close()
  // once (as try-with-resources does), free the heap, check the count is even. Defect: the
  // count left odd (every reader then spins for ever); reported with whether a second close
  // (which try-with-resources never makes) would have ended it.

  static final Supplier<Integer> READ_ONE = () -> 1;

  static String[] seqCount(String kind) throws Exception {
    boolean stamped = kind.startsWith("stamped");
    SeqCount sc = new SeqCount();
    StampedLock sl = new StampedLock();
    if (kind.startsWith("warm")) {
      for (int i = 0; i < 3; i++) {
        try (SeqCount.WriteGuard g = sc.write()) {
          sc.isWriting();
        }
        sc.read(READ_ONE);
      }
    }
    StringBuilder log = new StringBuilder();
    int oomes = 0;
    String broken = null;
    boolean closeOnly = kind.endsWith("close");
    for (int r = 0; r < KS.length && broken == null; r++) {
      Throwable we = null;
      Throwable ce = null;
      SeqCount.WriteGuard g = null;
      long stamp = 0L;
      if (!closeOnly) {
        fillLeaving(r);
      }
      try {
        if (stamped) {
          stamp = sl.writeLock();
        } else {
          g = sc.write();
        }
      } catch (Throwable t) {
        free();
        we = t;
      }
      if (closeOnly) {
        fillLeaving(r);
      }
      if (g != null || stamp != 0L) {
        try {
          if (stamped) {
            sl.unlockWrite(stamp);
          } else {
            g.close();
          }
        } catch (Throwable t) {
          free();
          ce = t;
        }
      }
      free();
      if (we != null || ce != null) {
        oomes++;
        log.append(" r").append(r).append(we != null ? ":write=" + describe(we) : "")
            .append(ce != null ? ":close=" + describe(ce) : "");
      }
      boolean odd = stamped ? sl.isWriteLocked() : sc.isWriting();
      if (odd) {
        broken = "round " + r + ": left " + (stamped ? sl : sc) + " after "
            + (ce != null ? "close threw" : "write threw");
        // Would a reader ever get through?
        AtomicInteger readDone = new AtomicInteger();
        Thread reader = daemon("reader", () -> {
          if (stamped) {
            long s = sl.readLock();
            sl.unlockRead(s);
          } else {
            sc.read(READ_ONE);
          }
          readDone.set(1);
        });
        reader.join(2000);
        broken += "; a reader " + (readDone.get() == 1 ? "got through" : "still waits after 2 s ("
            + reader.getState() + ")");
        if (ce != null) {
          try {
            if (stamped) {
              sl.unlockWrite(stamp);
            } else {
              g.close();
            }
            broken += "; a second close (not made by try-with-resources) ended the write: "
                + (stamped ? sl : sc);
          } catch (Throwable t) {
            broken += "; a second close threw " + describe(t);
          }
        }
      }
    }
    String s = "oomeRounds=" + oomes + " broken=" + broken + " |" + log + " final="
        + (stamped ? sl : sc);
    return new String[] {broken != null ? "1" : oomes == 0 ? "3" : "0", s};
  }

  // ---------------------------------------------------------------------------------------
  // seqLock <guard|locked>-<cold|warm>[-waiter]: the same rounds with SeqLock.write()/close()
  // ("guard": a close that threw while the thread still holds the lock is retried once with
  // the heap free, as the harness of review 30c did, and reported) or SeqLocked.write(consumer)
  // ("locked": no retry exists). "-waiter": a second writer is parked in the waiting room
  // during each close. Defect: the lock left odd and held by nobody, the closure form left it
  // held, or a parked writer not woken.

  static final Consumer<int[]> NOOP_WRITE = v -> v[0]++;

  static final AtomicReference<Throwable> W_THREW = new AtomicReference<>();

  /** SeqLocked bodies that fill the heap (leaving KS[r]) as the write's last act. */
  @SuppressWarnings("unchecked")
  static final Consumer<int[]>[] FILL_IN_BODY = new Consumer[KS.length];

  static {
    for (int i = 0; i < KS.length; i++) {
      int r = i;
      FILL_IN_BODY[i] = v -> fillLeaving(r);
    }
  }

  static boolean oddNow(SeqLockCore c) {
    return (c.seqOpaque() & 1) != 0;
  }

  static String[] seqLock(String kind) throws Exception {
    if (kind.endsWith("sweep")) {
      return seqLockSweep(kind.startsWith("locked"));
    }
    boolean locked = kind.startsWith("locked");
    boolean warm = kind.contains("warm");
    boolean waiter = kind.endsWith("waiter");
    SeqLock sl = new SeqLock();
    SeqLocked<int[]> sld = new SeqLocked<>(new int[1]);
    SeqLockCore core = locked ? sld : sl;
    if (warm) {
      for (int i = 0; i < 3; i++) {
        if (locked) {
          sld.write(NOOP_WRITE);
        } else {
          sl.write().close();
        }
      }
      // one contended write, so that the waiting room and the wake-up are linked too
      seqWriteContended(locked, sl, sld, false);
    }
    StringBuilder log = new StringBuilder();
    int oomes = 0;
    int closeThrewHeld = 0;
    String broken = null;
    boolean closeOnly = kind.contains("close");
    for (int r = 0; r < KS.length && broken == null; r++) {
      Throwable we = null;
      Throwable ce = null;
      boolean retried = false;
      if (waiter) {
        String s = seqWriteContended(locked, sl, sld, true);
        if (s != null) {
          log.append(" r").append(r).append(':').append(s);
          if (s.contains("notWoken") || s.contains("lockedByNobody") || s.contains("heldAfter")) {
            broken = "round " + r + ": " + s;
          }
          oomes++;
        }
        continue;
      }
      SeqLock.WriteGuard g = null;
      if (!closeOnly) {
        fillLeaving(r);
      }
      try {
        if (locked) {
          sld.write(closeOnly ? FILL_IN_BODY[r] : NOOP_WRITE);
        } else {
          g = sl.write();
        }
      } catch (Throwable t) {
        free();
        we = t;
      }
      if (closeOnly && !locked) {
        fillLeaving(r);
      }
      if (g != null) {
        try {
          g.close();
        } catch (Throwable t) {
          free();
          ce = t;
        }
      }
      free();
      if (we != null || ce != null) {
        oomes++;
        log.append(" r").append(r).append(we != null ? ":write=" + describe(we) : "")
            .append(ce != null ? ":close=" + describe(ce) : "");
      }
      if (oddNow(core)) {
        boolean mine = core.owner == Thread.currentThread();
        if (mine && g != null && ce != null) {
          closeThrewHeld++;
          log.append("(held: closed again)");
          g.close();
          retried = true;
        }
        if (oddNow(core)) {
          broken = "round " + r + ": left " + core.describe() + (mine ? " (held by this thread"
              + (locked ? ", and the closure form has no guard to close again)" : ")")
              : " (lockedByNobody)");
          AtomicInteger readDone = new AtomicInteger();
          Thread reader = daemon("reader", () -> {
            if (locked) {
              sld.read(a -> a[0]);
            } else {
              sl.read(READ_ONE);
            }
            readDone.set(1);
          });
          reader.join(2000);
          broken += "; a reader " + (readDone.get() == 1 ? "got through" : "still waits after 2 s");
        }
      }
      if (retried) {
        log.append("=").append(core.describe());
      }
    }
    String s = "oomeRounds=" + oomes + " closeThrewHoldingTheLock=" + closeThrewHeld + " broken="
        + broken + " |" + log + " final=" + core.describe();
    boolean good = broken == null && (locked || closeThrewHeld == 0);
    return new String[] {!good ? "1" : oomes == 0 ? "3" : "0", s};
  }

  /**
   * seqReader <cold|warm>: a reader falls back to the lock behind a long write and parks in the
   * reader slot; the heap is filled; the writer's close wakes it; the reader takes the lock for
   * its pass in the full heap. "cold": no writer has ever queued in this JVM (the slot's clearing,
   * PARKED_READER.setRelease, shares its call site's linking with acquireQueued's
   * PARKED.setRelease); the writes' own release path is linked first with the heap free.
   * Defect: the reader's read throws with the lock still odd (held by it, or by nobody), or a
   * later writer cannot get in.
   */
  static String[] seqReader(String kind) throws Exception {
    boolean warm = kind.startsWith("warm");
    SeqLock warmLock = new SeqLock();
    warmLock.write().close(); // links the release path (probe, seq store, wake)
    warmLock.read(READ_ONE);
    if (warm) {
      seqReaderRound(warmLock, false); // a parked fallback reader, heap free
      seqWriteContended(false, warmLock, new SeqLocked<>(new int[1]), false); // a queued writer
    }
    SeqLock sl = new SeqLock();
    String s = seqReaderRound(sl, true);
    boolean odd = oddNow(sl);
    boolean writerIn;
    {
      AtomicInteger got = new AtomicInteger();
      Thread x = daemon("X", () -> {
        try {
          SeqLock.WriteGuard g = sl.tryWrite(Duration.ofSeconds(2));
          if (g != null) {
            got.set(1);
            g.close();
          }
        } catch (Throwable t) {
          got.set(2);
        }
      });
      x.join(4000);
      writerIn = got.get() == 1;
    }
    String out = s + " afterwards: " + sl + " writerGetsInWithin2s=" + writerIn
        + " readersWaitingCount=" + readersWaiting(sl);
    boolean good = !odd && writerIn;
    return new String[] {!good ? "1" : !s.contains("OutOfMemoryError") ? "3" : "0", out};
  }

  static int readersWaiting(SeqLockCore c) throws Exception {
    java.lang.reflect.Field f = SeqLockCore.class.getDeclaredField("readersWaiting");
    f.setAccessible(true);
    return f.getInt(c);
  }

  static String seqReaderRound(SeqLock sl, boolean fillIt) throws Exception {
    AtomicReference<Throwable> rErr = new AtomicReference<>();
    AtomicInteger rDone = new AtomicInteger();
    SeqLock.WriteGuard g = sl.write();
    Thread reader = daemon("R", () -> {
      try {
        sl.read(READ_ONE);
      } catch (Throwable t) {
        free();
        rErr.set(t);
      }
      rDone.set(1);
    });
    waitFor(3000, () -> reader.getState() == Thread.State.WAITING);
    park(20_000);
    Thread.State before = reader.getState();
    BooleanSupplier readerDone = () -> rDone.get() == 1; // made before the fill
    waitFor(0, readerDone);
    if (fillIt) {
      fill();
    }
    Throwable ce = null;
    try {
      g.close();
    } catch (Throwable t) {
      free();
      ce = t;
    }
    waitFor(2000, readerDone);
    free();
    waitFor(3000, readerDone);
    return "reader(before: " + before + ")=" + describe(rErr.get()) + " readerDone="
        + (rDone.get() == 1) + " close=" + describe(ce) + " lock=" + sl.describe()
        + (rDone.get() == 1 ? "" : " R:" + stack(reader));
  }

  /**
   * seqLock <guard|locked>-sweep: a new lock each round (call sites are linked per class, not
   * per lock), written with the heap free, then the heap filled but for KS[r] small arrays and
   * the write ended once (the guard's close, or the end of SeqLocked.write's body). A lock left
   * held after a close that threw is abandoned (try-with-resources does not close twice), and
   * the sweep goes on: how far each round's linking gets decides where its OOME lands.
   */
  static String[] seqLockSweep(boolean locked) throws Exception {
    StringBuilder log = new StringBuilder();
    int threw = 0;
    int heldAfter = 0;
    int nobody = 0;
    int unlockedAfter = 0;
    String nobodyDetail = null;
    for (int r = 0; r < KS.length; r++) {
      SeqLock sl = new SeqLock();
      SeqLocked<int[]> sld = new SeqLocked<>(new int[1]);
      SeqLockCore core = locked ? sld : sl;
      Throwable e = null;
      SeqLock.WriteGuard[] gh = new SeqLock.WriteGuard[1];
      try {
        if (locked) {
          sld.write(FILL_IN_BODY[r]);
        } else {
          gh[0] = sl.write();
          fillLeaving(r);
          gh[0].close();
        }
      } catch (Throwable t) {
        free();
        e = t;
      }
      free();
      if (e == null) {
        continue;
      }
      threw++;
      String what;
      if (!oddNow(core)) {
        unlockedAfter++;
        what = "unlocked";
      } else if (core.owner == Thread.currentThread()) {
        heldAfter++;
        what = "heldByMe";
      } else {
        nobody++;
        what = "lockedByNobody";
        if (nobodyDetail == null) {
          AtomicInteger readDone = new AtomicInteger();
          AtomicReference<Object> wrote = new AtomicReference<>();
          Thread reader = daemon("reader", () -> {
            if (locked) {
              sld.read(a -> a[0]);
            } else {
              sl.read(READ_ONE);
            }
            readDone.set(1);
          });
          Thread writer = daemon("writer", () -> {
            try {
              if (locked) {
                sld.write(NOOP_WRITE);
                wrote.set("wrote");
              } else {
                SeqLock.WriteGuard g = sl.tryWrite(Duration.ofSeconds(2));
                wrote.set(g == null ? "tryWrite(2 s) null" : "wrote");
                if (g != null) {
                  g.close();
                }
              }
            } catch (Throwable t) {
              wrote.set(describe(t));
            }
          });
          reader.join(2500);
          writer.join(2500);
          String retry;
          try {
            if (!locked && gh[0] != null) {
              gh[0].close();
            }
            retry = locked ? "no guard" : "close again: ok";
          } catch (Throwable t) {
            retry = "close again: " + describe(t);
          }
          nobodyDetail = "r" + r + ": " + core.describe() + ", reader "
              + (readDone.get() == 1 ? "got through" : "waits after 2 s") + ", writer "
              + (wrote.get() == null ? "waits after 2.5 s" : wrote.get()) + ", " + retry;
        }
      }
      log.append(" r").append(r).append("(k=").append(KS[r]).append("):").append(what);
    }
    String s = "rounds=" + KS.length + " endThrew=" + threw + " heldAfterThrow=" + heldAfter
        + " lockedByNobody=" + nobody + " unlockedAfterThrow=" + unlockedAfter + " nobody: "
        + nobodyDetail + " |" + log;
    boolean good = nobody == 0 && (!locked || heldAfter == 0);
    return new String[] {!good ? "1" : threw == 0 ? "3" : "0", s};
  }

  /**
   * Main takes the write lock; a second writer W queues (spins, then parks in the waiting
   * room); main releases, with the heap full when {@code fillIt}. Returns null if nothing threw
   * and W got in, else a description.
   */
  static @Nullable String seqWriteContended(boolean locked, SeqLock sl, SeqLocked<int[]> sld,
      boolean fillIt) throws Exception {
    AtomicInteger wState = new AtomicInteger();
    AtomicReference<Throwable> wErr = new AtomicReference<>();
    W_THREW.set(null);
    AtomicInteger hold = new AtomicInteger(1);
    AtomicInteger mainIn = new AtomicInteger();
    Consumer<int[]> mainBody = v -> {
      mainIn.set(1);
      while (hold.get() != 0) {
        park(100);
      }
      if (fillIt) {
        fill();
      }
    };
    Throwable mainErr = null;
    boolean heldAfter = false;
    Thread w;
    if (locked) {
      Thread mainWriter = daemon("M", () -> {
        try {
          sld.write(mainBody);
        } catch (Throwable t) {
          free();
          wErr.compareAndSet(null, t);
        }
      });
      waitFor(3000, () -> mainIn.get() == 1);
      w = daemon("W", () -> {
        try {
          sld.write(NOOP_WRITE);
          wState.set(1);
        } catch (Throwable t) {
          free();
          W_THREW.set(t);
          wState.set(2);
        }
      });
      waitFor(3000, () -> w.getState() == Thread.State.WAITING);
      park(20_000);
      hold.set(0);
      mainWriter.join(3000);
      mainErr = wErr.get();
      heldAfter = oddNow(sld) && sld.owner == mainWriter;
      free();
    } else {
      SeqLock.WriteGuard g = sl.write();
      w = daemon("W", () -> {
        try {
          sl.write().close();
          wState.set(1);
        } catch (Throwable t) {
          free();
          W_THREW.set(t);
          wState.set(2);
        }
      });
      waitFor(3000, () -> w.getState() == Thread.State.WAITING);
      park(20_000);
      if (fillIt) {
        fill();
      }
      try {
        g.close();
      } catch (Throwable t) {
        free();
        mainErr = t;
        heldAfter = sl.isWriteLockedByCurrentThread();
        if (heldAfter) {
          g.close(); // retried, reported
        }
      }
      free();
    }
    w.join(3000);
    boolean woken = wState.get() == 1;
    if (mainErr == null && woken) {
      return null;
    }
    return "release=" + describe(mainErr) + (heldAfter ? " heldAfter" : "")
        + (woken ? " W woken" : wState.get() == 2 ? " W threw " + describe(W_THREW.get())
        : " notWoken(W " + stack(w) + ") " + (locked ? sld : sl));
  }

  // ---------------------------------------------------------------------------------------
  // once <lazyRetry|lazyRemember|lazyRememberFail|cellAwait|cellAwaitFail|cellCold>: the owner's
  // initialiser waits until the waiters are parked on the cell (getOrInit / get waiters, an
  // await(), an await(30 s)), fills the heap and returns a prebuilt value (or throws a
  // prebuilt exception). The heap is freed by the thread that gets an OOME, or after 2 s.
  // Defect: a waiter never returns, or a later get/getOrInit does not return within 5 s.
  // "cellCold": round after round, a new cell, getOrInit in a full heap (first runs of the
  // init path), then another thread's getOrInit with the heap free.

  static final Object VALUE = new Object();
  static final Object OTHER = new Object();
  static final RuntimeException PREBUILT = new IllegalStateException("initialiser failed");
  static volatile @Nullable OnceCellCore<Object> target;
  static volatile int failing;

  static final AtomicInteger OWNER_RUNS = new AtomicInteger();
  static volatile int ownerStarted;

  static final Supplier<Object> OWNER_INIT = () -> {
    if (OWNER_RUNS.getAndIncrement() != 0) {
      return OTHER; // a later run (a waiter's claim after the owner's failed): no fill
    }
    ownerStarted = 1;
    OnceCellCore<Object> c = target;
    long end = System.nanoTime() + 3_000_000_000L;
    while (c != null && c.waiterCount() < 3 && System.nanoTime() - end < 0L) {
      park(1000);
    }
    park(50_000);
    fill();
    fill();
    if (failing != 0) {
      throw PREBUILT;
    }
    return VALUE;
  };
  static final Supplier<Object> OTHER_INIT = () -> OTHER;

  static String[] once(String kind) throws Exception {
    if (kind.equals("cellCold")) {
      return onceCold();
    }
    boolean lazy = kind.startsWith("lazy");
    failing = kind.endsWith("Fail") ? 1 : 0;
    Lazy.FailurePolicy policy = kind.contains("Remember") || kind.endsWith("Fail")
        ? Lazy.FailurePolicy.REMEMBER : Lazy.FailurePolicy.RETRY;
    // warm: one cell of the same kind through the same steps, heap free
    {
      OnceCell<Object> c = new OnceCell<>(policy);
      c.getOrInit(OTHER_INIT);
      Lazy<Object> l = Lazy.of(OTHER_INIT, policy);
      l.get();
    }
    Lazy<Object> l = Lazy.of(OWNER_INIT, policy);
    OnceCell<Object> cell = new OnceCell<>(policy);
    target = lazy ? l : cell;
    String[] outcome = new String[4];
    Thread[] ws = new Thread[4];
    Thread owner = daemon("O", () -> {
      try {
        Object v = lazy ? l.get() : cell.getOrInit(OWNER_INIT);
        outcome[0] = v == VALUE ? "value" : "other";
      } catch (Throwable t) {
        free();
        outcome[0] = "threw:" + t.getClass().getSimpleName();
      }
    });
    waitFor(3000, () -> ownerStarted != 0);
    for (int i = 1; i < 4; i++) {
      int k = i;
      ws[i] = daemon("W" + i, () -> {
        try {
          Object v;
          if (lazy || k == 1) {
            v = lazy ? l.get() : cell.getOrInit(OTHER_INIT);
          } else if (k == 2) {
            v = cell.await();
          } else {
            v = cell.await(Duration.ofSeconds(30)) ? cell.orElse(null) : "timedOut";
          }
          outcome[k] = v == VALUE ? "value" : v == OTHER ? "other" : String.valueOf(v);
        } catch (Throwable t) {
          free();
          outcome[k] = "threw:" + t.getClass().getSimpleName();
        }
      });
    }
    owner.join(6000);
    waitFor(2000, NEVER); // let woken waiters run in the full heap (if it still is)
    free();
    for (int i = 1; i < 4; i++) {
      ws[i].join(3000);
    }
    StringBuilder sb = new StringBuilder();
    sb.append("owner=").append(outcome[0]);
    for (int i = 1; i < 4; i++) {
      sb.append(" W").append(i).append('=').append(outcome[i] == null ? "waiting" : outcome[i]);
    }
    // A later caller, heap free: it initialises (or reads) the cell; then every await() waiter
    // must return (an await() has nothing to return before some initialiser succeeds).
    AtomicReference<String> later = new AtomicReference<>("none");
    Thread c = daemon("C", () -> {
      try {
        Object v = lazy ? l.get() : cell.getOrInit(OTHER_INIT);
        later.set(v == VALUE ? "value" : v == OTHER ? "other" : "?");
      } catch (Throwable t) {
        later.set("threw:" + t.getClass().getSimpleName());
      }
    });
    c.join(5000);
    boolean allReturned = !owner.isAlive();
    for (int i = 1; i < 4; i++) {
      ws[i].join(3000);
      if (ws[i].isAlive()) {
        allReturned = false;
        sb.append(" W").append(i).append(" STUCK after C: ").append(stack(ws[i]));
      } else if (outcome[i] == null) {
        sb.append(" W").append(i).append(" then=?");
      } else {
        sb.append(" W").append(i).append(" then=").append(outcome[i]);
      }
    }
    sb.append(" later=").append(later.get()).append(" ").append(lazy ? l : cell);
    boolean good = allReturned && !c.isAlive() && !later.get().equals("none");
    String all = String.join(",", java.util.Arrays.asList(outcome));
    // Landed: someone got the OOME, or (REMEMBER) the failure could not be recorded, so the
    // claim was released unremembered and a waiter ran its own initialiser.
    boolean landed = all.contains("OutOfMemoryError") || (failing != 0 && all.contains("other"));
    return new String[] {!good ? "1" : !landed ? "3" : "0", sb.toString()};
  }

  static String[] onceCold() throws Exception {
    StringBuilder log = new StringBuilder();
    int oomes = 0;
    String broken = null;
    for (int r = 0; r < KS.length && broken == null; r++) {
      OnceCell<Object> cell = new OnceCell<>(Lazy.FailurePolicy.RETRY);
      Throwable e = null;
      Object v = null;
      fillLeaving(r);
      try {
        v = cell.getOrInit(OTHER_INIT);
      } catch (Throwable t) {
        free();
        e = t;
      }
      free();
      if (e != null) {
        oomes++;
        log.append(" r").append(r).append(':').append(describe(e)).append("->").append(cell);
      }
      AtomicReference<Object> later = new AtomicReference<>();
      Thread c = daemon("C", () -> later.set(cell.getOrInit(() -> VALUE)));
      c.join(5000);
      if (c.isAlive()) {
        broken = "round " + r + ": another getOrInit waits for good: " + cell + " " + stack(c);
      } else if (e == null && later.get() != OTHER) {
        broken = "round " + r + ": returned without setting the cell";
      }
    }
    String s = "oomeRounds=" + oomes + " broken=" + broken + " |" + log;
    return new String[] {broken != null ? "1" : oomes == 0 ? "3" : "0", s};
  }
}
