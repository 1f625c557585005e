package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 18: {@code StackOverflowError} safety of the locks (SpinLock, TicketLock, Mutex,
 * RwLock, SeqLock). Technique of {@link StackHeadroomTest}: a thread with a 512 KiB stack
 * recurses until the error, then on the way back up runs one lock operation per frame (each
 * frame with a little more stack), catching the error. Here two contender threads lock and
 * unlock the same lock all along (each holding it for ~20 us), so the sweep goes through the
 * slow paths (queueing, parking, hand-over, signalling) and its unlocks wake parked waiters.
 * Afterwards: the sweep thread must not hold the lock unless a lock call returned to it
 * ("leaked"), the contenders must stop ("stuck") and a fresh thread must get the lock within 2 s
 * ("probe").
 *
 * <p>Every sweep runs in a forked JVM (daemon threads only, so a hung lock never outlives the
 * fork, and a JFR recording never runs in the test JVM). Each fork warms the lock's paths first
 * (another call site than the sweep's), then sweeps over several stack alignments for a bounded
 * time, and prints "RESULT bad=N ...": N rounds that left the lock broken, with the top
 * frames of the overflow that did it where the sweep can tell.
 *
 * <p>Found (session 18, JDK 25, all forks of every defect failed): none of the locks' slow
 * paths is protected by {@link StackHeadroom}; an overflow after a waiter node is queued, in the
 * clean-up of an abandoned wait, or after the lock was taken, leaves the lock held by a thread
 * that was told it failed, or a node queued for a thread that has gone. Fixed in session 19
 * for TicketLock, Mutex, RwLock, SeqLock's read fallback, Condvar and TicketLock's Condition
 * (the {@code fixed_} tests say how); SpinLock.lock, Mutex.update and SeqLock's queued write
 * are better but not clean (the {@code defect_} tests say what is left). Held: the timed tryLocks of TicketLock and Mutex, Mutex's timed lockWhen, and
 * SpinLock Condition's timed await (no node of the sweep thread left in the Condition's queue).
 * Not attacked: Condvar's untimed awaits with untimed waiters (lost notifications), {@code
 * -Xint} runs, JDKs other than 25.
 */
@Timeout(120)
@SuppressWarnings({"try", "StatementSwitchToExpressionSwitch", "WaitNotInLoop", "StringSplitter"})
class Review18SoeTest {

  static final int SWEEP = 400;

  // ------------------------------------------------------------------ targets

  /** One lock kind: lock returns a token (a guard, or the lock), unlock takes it back. */
  abstract static class Target {
    /** Acquires; returns a token, or null if not acquired (a timed try that timed out). */
    abstract @Nullable Object lock() throws Exception;

    abstract void unlock(Object token);

    /** Whether the calling thread holds the lock; null if the lock cannot tell. */
    abstract @Nullable Boolean heldByMe();

    /** A closure form (lock, run, unlock in one call): the sweep never unlocks. */
    boolean closure() {
      return false;
    }

    String state() {
      return String.valueOf(lockObject());
    }

    abstract Object lockObject();
  }

  static final Duration TRY = Duration.ofMillis(20);

  static Target make(String kind) {
    switch (kind) {
      case "spin.lock": {
        SpinLock l = new SpinLock();
        return new Target() {
          @Override Object lock() {
            l.lock();
            return l;
          }
          @Override void unlock(Object t) {
            l.unlock();
          }
          @Override Boolean heldByMe() {
            return l.isHeldByCurrentThread();
          }
          @Override Object lockObject() {
            return l;
          }
        };
      }
      case "spin.tryLock": {
        SpinLock l = new SpinLock();
        return new Target() {
          @Override @Nullable Object lock() throws InterruptedException {
            return l.tryLock(TRY) ? l : null;
          }
          @Override void unlock(Object t) {
            l.unlock();
          }
          @Override Boolean heldByMe() {
            return l.isHeldByCurrentThread();
          }
          @Override Object lockObject() {
            return l;
          }
        };
      }
      case "ticket.lock": {
        TicketLock l = new TicketLock();
        return new Target() {
          @Override Object lock() {
            l.lock();
            return l;
          }
          @Override void unlock(Object t) {
            l.unlock();
          }
          @Override Boolean heldByMe() {
            return l.isHeldByCurrentThread();
          }
          @Override Object lockObject() {
            return l;
          }
        };
      }
      case "ticket.tryLock": {
        TicketLock l = new TicketLock();
        return new Target() {
          @Override @Nullable Object lock() throws InterruptedException {
            return l.tryLock(TRY) ? l : null;
          }
          @Override void unlock(Object t) {
            l.unlock();
          }
          @Override Boolean heldByMe() {
            return l.isHeldByCurrentThread();
          }
          @Override Object lockObject() {
            return l;
          }
        };
      }
      case "mutex.lock": {
        Mutex<int[]> m = new Mutex<>(new int[1]);
        return new Target() {
          @Override Object lock() {
            return m.lock();
          }
          @Override void unlock(Object t) {
            ((Mutex.Guard<?>) t).close();
          }
          @Override Boolean heldByMe() {
            return m.isHeldByCurrentThread();
          }
          @Override Object lockObject() {
            return m;
          }
        };
      }
      case "mutex.tryLock": {
        Mutex<int[]> m = new Mutex<>(new int[1]);
        return new Target() {
          @Override @Nullable Object lock() throws InterruptedException {
            return m.tryLock(TRY);
          }
          @Override void unlock(Object t) {
            ((Mutex.Guard<?>) t).close();
          }
          @Override Boolean heldByMe() {
            return m.isHeldByCurrentThread();
          }
          @Override Object lockObject() {
            return m;
          }
        };
      }
      case "mutex.update": {
        Mutex<Integer> m = new Mutex<>(0);
        return new Target() {
          @Override boolean closure() {
            return true;
          }
          @Override @Nullable Object lock() {
            m.update(UPDATE);
            return null;
          }
          @Override void unlock(Object t) {
            try (Mutex.Guard<Integer> g = m.lock()) {
              g.set(g.get() + 1);
            }
          }
          @Override Boolean heldByMe() {
            return m.isHeldByCurrentThread();
          }
          @Override Object lockObject() {
            return m;
          }
        };
      }
      case "mutex.lockWhen": {
        Mutex<int[]> m = new Mutex<>(new int[1]);
        return new Target() {
          @Override @Nullable Object lock() throws InterruptedException {
            return m.lockWhen(READY, TRY);
          }
          @Override void unlock(Object t) {
            @SuppressWarnings("unchecked")
            Mutex.Guard<int[]> g = (Mutex.Guard<int[]>) t;
            g.get()[0]++; // changes the value: wakes lockWhen waiters
            g.close();
          }
          @Override Boolean heldByMe() {
            return m.isHeldByCurrentThread();
          }
          @Override Object lockObject() {
            return m;
          }
        };
      }
      case "rwlock.write": {
        RwLock<int[]> r = new RwLock<>(new int[1]);
        return new Target() {
          @Override Object lock() {
            return r.write();
          }
          @Override void unlock(Object t) {
            ((RwLock.WriteGuard<?>) t).close();
          }
          @Override @Nullable Boolean heldByMe() {
            return null;
          }
          @Override Object lockObject() {
            return r;
          }
        };
      }
      case "seqlock.write": {
        SeqLock s = new SeqLock();
        return new Target() {
          @Override Object lock() {
            return s.writeUninterruptibly();
          }
          @Override void unlock(Object t) {
            ((SeqLock.WriteGuard) t).close();
          }
          @Override Boolean heldByMe() {
            return s.isWriteLockedByCurrentThread();
          }
          @Override Object lockObject() {
            return s;
          }
        };
      }
      case "condvar.await": {
        Mutex<int[]> m = new Mutex<>(new int[1]);
        Condvar cv = new Condvar();
        return new Target() {
          @Override Object lock() throws InterruptedException {
            Mutex.Guard<int[]> g = m.lock();
            try {
              cv.awaitWhile(g, BLOCKED, CV_WAIT);
            } catch (StackOverflowError e) {
              // The guard goes back to the sweep, which closes it (or finds the mutex not
              // held). No call here: one (it was m.hashCode()) could overflow in turn and lose
              // the guard, a leak of this harness's own (session 19).
            }
            return g;
          }
          @Override void unlock(Object t) {
            @SuppressWarnings("unchecked")
            Mutex.Guard<int[]> g = (Mutex.Guard<int[]>) t;
            g.get()[0]++;
            g.close();
            try {
              cv.notifyOne(); // from outside the mutex: the Dekker path
            } catch (StackOverflowError e) {
              // The guard is closed and the mutex released: the unlock is done. A notify lost
              // here is only this harness's (every wait in it is timed), and retrying the unlock
              // would find the guard closed (session 19: 2 of 10 forks reported that).
            }
          }
          @Override Boolean heldByMe() {
            return m.isHeldByCurrentThread();
          }
          @Override Object lockObject() {
            return m;
          }
        };
      }
      case "condvar.notify":
      case "condvar.notifyHeld": {
        // The sweep's operation is notifyOne() while the contenders wait in awaitWhile (50 us)
        // and change the value under the mutex (review 24, session 24). "condvar.notify" calls
        // it from outside the mutex: the Dekker path, which takes the mutex itself to signal.
        // "condvar.notifyHeld" calls it holding a guard, which goes back to the sweep to close
        // (a try-with-resources close that overflowed would leave it held in any lock).
        boolean holding = kind.endsWith("Held");
        Mutex<int[]> m = new Mutex<>(new int[1]);
        Condvar cv = new Condvar();
        return new Target() {
          @Override boolean closure() {
            return !holding;
          }
          @Override @Nullable Object lock() throws InterruptedException {
            if (!holding) {
              cv.notifyOne();
              return null;
            }
            if (!Thread.currentThread().getName().equals("sweep")) {
              waitAndChange();
              return null;
            }
            Mutex.Guard<int[]> g = m.lock();
            try {
              g.get()[0]++;
              cv.notifyOne();
            } catch (StackOverflowError e) {
              // the guard goes back to the sweep (no call here: see condvar.await)
            }
            return g;
          }
          @Override void unlock(Object t) {
            if (holding) {
              @SuppressWarnings("unchecked")
              Mutex.Guard<int[]> g = (Mutex.Guard<int[]>) t;
              g.close();
              return;
            }
            waitAndChange();
          }
          void waitAndChange() {
            try (Mutex.Guard<int[]> g = m.lock()) {
              try {
                cv.awaitWhile(g, BLOCKED, CV_WAIT);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              g.get()[0]++;
            }
          }
          @Override Boolean heldByMe() {
            return m.isHeldByCurrentThread();
          }
          @Override Object lockObject() {
            return m;
          }
        };
      }
      case "seqlock.read":
      case "seqlock.beginRead": {
        SeqLock s = new SeqLock();
        boolean begin = kind.endsWith("beginRead");
        return new Target() {
          @Override boolean closure() {
            return true;
          }
          @Override @Nullable Object lock() {
            if (begin) {
              s.beginRead();
            } else {
              s.read(READ);
            }
            return null;
          }
          @Override void unlock(Object t) {
            // the contenders' write, held for a while so that readers take the slow path
            try (SeqLock.WriteGuard g = s.writeUninterruptibly()) {
              LockSupport.parkNanos(20_000);
            }
          }
          @Override Boolean heldByMe() {
            return s.isWriteLockedByCurrentThread();
          }
          @Override Object lockObject() {
            return s;
          }
        };
      }
      default:
        throw new IllegalArgumentException(kind);
    }
  }

  static final java.util.function.Supplier<Integer> READ = () -> 1;
  static final java.util.function.Predicate<int[]> BLOCKED = a -> (a[0] & 3) != 0;
  static final Duration CV_WAIT = Duration.ofNanos(50_000);
  static final java.util.function.UnaryOperator<Integer> UPDATE = x -> x + 1;
  static final java.util.function.Predicate<int[]> READY = a -> (a[0] & 1) == 0 || a[0] > 0;

  /** A contender's (and the warm-up's) lock-use-unlock, another call site than the sweep's. */
  static void useOnce(Target t, long holdNanos) throws Exception {
    if (t.closure()) {
      t.unlock(t); // for closure targets: a plain lock, update, unlock
      return;
    }
    Object k = t.lock();
    if (k == null) {
      return;
    }
    try {
      if (holdNanos > 0) {
        LockSupport.parkNanos(holdNanos);
      }
    } finally {
      t.unlock(k);
    }
  }

  // ------------------------------------------------------------------ sweep

  static final class Sweep {
    final Target t;
    @Nullable Object token;
    boolean held;
    int frames;
    int deepest = -1;
    int overflows;
    int others;
    int partialUnlocks;
    @Nullable Throwable other;
    @Nullable Throwable lastSoe;
    @Nullable Throwable culprit;

    Sweep(Target t) {
      this.t = t;
    }

    /** Every overflow of the round, with the step it struck: 'l' lock, 'u' unlock. */
    final Throwable[] all = new Throwable[4096];

    final char[] steps = new char[4096];

    int recorded;

    void record(char step, Throwable e) {
      if (recorded < all.length) {
        all[recorded] = e;
        steps[recorded] = step;
        recorded++;
      }
    }

    /** The distinct places the round's overflows struck (-Dreview18.sites=true). */
    String sites() {
      return overflowSites(all, steps, recorded);
    }

    @Nullable Throwable previousSoe;

    /**
     * After a lock call threw: if it left the lock held, that overflow is the culprit, or the
     * one before it when this thread was too deep even to ask then.
     */
    void noteIfLeft(Throwable e) {
      if (culprit != null) {
        return;
      }
      try {
        Boolean mine = t.heldByMe();
        if (mine != null && mine) {
          culprit = previousSoe != null ? previousSoe : e;
        }
        previousSoe = null;
      } catch (Throwable ignored) {
        previousSoe = e; // too deep to ask: the next overflow's check decides
      }
    }

    void recurse(int depth) {
      try {
        if (depth < 10_000_000) {
          recurse(depth + 1);
        }
      } catch (StackOverflowError e) {
        if (deepest < 0) {
          deepest = depth;
        }
      }
      if (frames < SWEEP) {
        frames++;
        if (!held) {
          try {
            Object k = t.lock();
            if (k != null) {
              token = k;
              held = true;
            }
          } catch (StackOverflowError e) {
            overflows++;
            lastSoe = e;
            record('l', e);
            noteIfLeft(e);
          } catch (Throwable e) {
            if (causedByOverflow(e)) { // e.g. BootstrapMethodError: a call site linked deep
              overflows++;
              noteIfLeft(e);
            } else {
              others++;
              other = e;
              if (culprit == null) {
                culprit = lastSoe; // the overflow before the first refusal left the lock held
              }
            }
          }
        }
        if (held) {
          try {
            t.unlock(token);
            held = false;
            token = null;
          } catch (StackOverflowError e) {
            overflows++;
            lastSoe = e;
            record('u', e);
          } catch (IllegalMonitorStateException e) {
            // an earlier unlock overflowed after it had released: not held any more
            held = false;
            token = null;
            partialUnlocks++;
          } catch (Throwable e) {
            if (causedByOverflow(e)) {
              overflows++;
            } else {
              others++;
              other = e;
            }
          }
        }
      }
    }
  }

  /** Calls {@code then} below {@code frames} extra frames. */
  static void padThen(int frames, Runnable then) {
    StackHeadroomTest.padThen(frames, then);
  }

  static Thread daemon(String name, long stack, Runnable r) {
    Thread t = new Thread(null, r, name, stack);
    t.setDaemon(true);
    return t;
  }

  /**
   * One round: a fresh lock, two contenders, one sweep at alignment {@code pad}. Returns null if
   * all is well, else what was left broken.
   */
  static @Nullable String round(String kind, int pad, AtomicInteger overflows) throws Exception {
    Target t = make(kind);
    AtomicBoolean stop = new AtomicBoolean();
    Thread[] contenders = new Thread[2];
    for (int i = 0; i < contenders.length; i++) {
      contenders[i] = daemon("contender-" + i, 0, () -> {
        try {
          while (!stop.get()) {
            useOnce(t, 20_000);
          }
        } catch (Exception e) {
          throw new AssertionError(e);
        }
      });
      contenders[i].start();
    }
    Sweep s = new Sweep(t);
    String[] leak = {null};
    Thread sweeper = daemon("sweep", 1 << 19, () -> padThen(pad, () -> {
      s.recurse(0);
      // Back near the top of the stack: the lock must be held only if a lock call returned.
      Boolean mine = t.heldByMe();
      if (mine != null && mine && !s.held) {
        leak[0] = "leaked: held by the sweep thread after its lock call threw (" + t.state()
            + "), overflow at " + top(s.culprit);
      }
      if (s.held) {
        try {
          t.unlock(s.token);
        } catch (RuntimeException e) {
          leak[0] = "unlock after the sweep failed: " + e;
        }
      }
    }));
    sweeper.start();
    sweeper.join(10_000);
    stop.set(true);
    if (sweeper.isAlive()) {
      return "sweep thread stuck: " + t.state() + " at " + trace(sweeper)
          + " last overflow at " + top(s.lastSoe)
          + (Boolean.getBoolean("review18.sites")
              ? " overflow sites: " + s.sites() + " threads: " + allThreads()
              : "");
    }
    overflows.addAndGet(s.overflows);
    if (s.others > 0 && !(s.other instanceof IllegalStateException)) {
      return "other failure: " + s.other + " at " + top(s.other) + " cause " + rootCause(s.other);
    }
    for (Thread c : contenders) {
      c.join(3_000);
      if (c.isAlive()) {
        return "contender stuck: " + t.state() + (leak[0] != null ? " " + leak[0] : "")
            + " at " + trace(c)
            + (Boolean.getBoolean("review18.sites") ? " overflow sites: " + s.sites() : "");
      }
    }
    if (leak[0] != null) {
      return leak[0];
    }
    if (s.others > 0) {
      return "sweep saw: " + s.other;
    }
    AtomicBoolean got = new AtomicBoolean();
    Thread probe = daemon("probe", 0, () -> {
      try {
        useOnce(t, 0);
        got.set(true);
      } catch (Exception e) {
        // reported as not got
      }
    });
    probe.start();
    probe.join(2_000);
    if (!got.get()) {
      return "probe could not lock: " + t.state();
    }
    return null;
  }

  static String rootCause(@Nullable Throwable e) {
    Throwable c = e;
    while (c != null && c.getCause() != null && c.getCause() != c) {
      c = c.getCause();
    }
    return String.valueOf(c);
  }

  /** The top frames of an overflow (its deepest frames, from weft). */
  static String top(@Nullable Throwable e) {
    if (e == null) {
      return "?";
    }
    StringBuilder b = new StringBuilder();
    StackTraceElement[] st = e.getStackTrace();
    int n = 0;
    for (StackTraceElement f : st) {
      if (n == 0 && !f.getClassName().startsWith("dev.weft") && b.length() > 300) {
        continue;
      }
      b.append(f.getClassName().replace("dev.weft.", "")).append('.').append(f.getMethodName())
          .append(':').append(f.getLineNumber()).append(" < ");
      if (f.getClassName().startsWith("dev.weft.Review18")) {
        break;
      }
      if (++n > 10) {
        break;
      }
    }
    return b.toString();
  }

  /**
   * The distinct places the first {@code n} overflows struck, with how often: the step each
   * struck ({@code steps}), then up to 8 frames below the sweep's own, the probe's left out.
   */
  static String overflowSites(Throwable[] all, char[] steps, int n) {
    java.util.Map<String, Integer> m = new java.util.LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      StringBuilder b = new StringBuilder().append(steps[i]).append(':');
      int frames = 0;
      for (StackTraceElement f : all[i].getStackTrace()) {
        if (f.getMethodName().equals("descend")) {
          continue;
        }
        if (f.getClassName().startsWith("dev.weft.Review18")) {
          break;
        }
        b.append(f.getClassName().replace("dev.weft.", "")).append('.')
            .append(f.getMethodName()).append(':').append(f.getLineNumber()).append('<');
        if (++frames >= 8) {
          break;
        }
      }
      m.merge(b.toString(), 1, Integer::sum);
    }
    return m.toString();
  }

  /** Every live thread's state and top frames (for the report of a stuck round). */
  static String allThreads() {
    StringBuilder b = new StringBuilder();
    for (java.util.Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
      Thread t = e.getKey();
      if (t.getName().startsWith("sweep") || t.getName().startsWith("contender")) {
        b.append(t.getName()).append(' ').append(t.getState()).append(": ");
        StackTraceElement[] st = e.getValue();
        for (int i = 0; i < Math.min(8, st.length); i++) {
          b.append(st[i]).append(" < ");
        }
        b.append(" ## ");
      }
    }
    return b.toString();
  }

  static String trace(Thread t) {
    StringBuilder b = new StringBuilder();
    StackTraceElement[] st = t.getStackTrace();
    for (int i = 0; i < Math.min(6, st.length); i++) {
      b.append(st[i]).append(" < ");
    }
    return b.toString();
  }

  /** Main for the forked sweeps: -Dreview18.kind=..., -Dreview18.rounds=N, -Dreview18.secs=S. */
  public static final class SweepMain {
    public static void main(String[] args) throws Exception {
      String kind = System.getProperty("review18.kind");
      int rounds = Integer.getInteger("review18.rounds", 12);
      long secs = Long.getLong("review18.secs", 6);
      // Warm: every class initialised and the paths compiled, from other call sites.
      Target w = make(kind);
      AtomicBoolean stop = new AtomicBoolean();
      Thread[] ws = new Thread[2];
      for (int i = 0; i < ws.length; i++) {
        ws[i] = daemon("warm-" + i, 0, () -> {
          try {
            for (int n = 0; n < 200_000 && !stop.get(); n++) {
              useOnce(w, (n & 255) == 0 ? 20_000 : 0);
              if (w.closure() && (n & 1) == 0) {
                w.lock();
              }
            }
          } catch (Exception e) {
            throw new AssertionError(e);
          }
        });
        ws[i].start();
      }
      for (Thread x : ws) {
        x.join(3_000);
      }
      stop.set(true);
      for (Thread x : ws) {
        x.join(1_000);
      }
      // Also the checks' classes.
      Sweep warm = new Sweep(make(kind));
      warm.frames = SWEEP;
      warm.recurse(9_999_999);
      trace(Thread.currentThread());
      top(new StackOverflowError());
      AtomicInteger overflows = new AtomicInteger();
      int bad = 0;
      int done = 0;
      StringBuilder first = new StringBuilder();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(secs);
      for (int r = 0; r < rounds && System.nanoTime() - end < 0; r++) {
        String out = round(kind, r, overflows);
        done++;
        if (out != null) {
          bad++;
          if (first.length() < 2000) {
            first.append(" | round ").append(r).append(": ").append(out);
          }
        }
      }
      System.out.println(
          "RESULT bad=" + bad + " rounds=" + done + " overflows=" + overflows.get() + first);
      System.out.flush();
      System.exit(0);
    }
  }

  // ------------------------------------------------------------------ Condition sweeps

  /** A lock with its Condition, SpinLock's or TicketLock's. */
  static final class CondTarget {
    final java.util.concurrent.locks.Lock lock;
    final java.util.function.BooleanSupplier held;
    final java.util.concurrent.locks.Condition cond;
    int permits; // guarded by lock

    CondTarget(String kind) {
      if (kind.startsWith("spin")) {
        SpinLock l = new SpinLock();
        lock = l;
        held = l::isHeldByCurrentThread;
      } else {
        TicketLock l = new TicketLock();
        lock = l;
        held = l::isHeldByCurrentThread;
      }
      cond = lock.newCondition();
    }

    /** Waiters of {@code t} left in the Condition's queue (read under the lock). */
    int queued(Thread t) {
      lock.lock();
      try {
        return ((SpinLockCondition) cond).queuedCount(t);
      } finally {
        lock.unlock();
      }
    }

    /** A real waiter: takes a permit, waiting untimed for one. */
    void take() throws InterruptedException {
      lock.lock();
      try {
        while (permits == 0) {
          cond.await();
        }
        permits--;
      } finally {
        lock.unlock();
      }
    }

    void give() {
      lock.lock();
      try {
        permits++;
        cond.signal();
      } finally {
        lock.unlock();
      }
    }
  }

  /** Per frame near the limit: lock (if not held), one step (await or signal), unlock. */
  static final class CondSweep {
    final CondTarget t;
    final boolean await;
    int frames;
    int deepest = -1;
    int overflows;
    @Nullable Throwable other;

    /** The last three overflows, newest first (for the report). */
    final @Nullable Throwable[] soes = new Throwable[3];

    /** Every overflow of the round, with the step it struck (for the report of a bad round). */
    final Throwable[] all = new Throwable[4096];

    final char[] steps = new char[4096];

    char step = '?';

    void note(StackOverflowError e) {
      if (overflows < all.length) {
        all[overflows] = e;
        steps[overflows] = step;
      }
      overflows++;
      soes[2] = soes[1];
      soes[1] = soes[0];
      soes[0] = e;
    }

    CondSweep(CondTarget t, boolean await) {
      this.t = t;
      this.await = await;
    }

    void recurse(int depth) throws InterruptedException {
      try {
        if (depth < 10_000_000) {
          recurse(depth + 1);
        }
      } catch (StackOverflowError e) {
        if (deepest < 0) {
          deepest = depth;
        }
      }
      if (frames < SWEEP) {
        frames++;
        boolean held;
        step = 'h';
        try {
          held = t.held.getAsBoolean();
        } catch (StackOverflowError e) {
          note(e);
          return;
        }
        if (!held) {
          step = 'l';
          try {
            t.lock.lock();
            held = true;
          } catch (StackOverflowError e) {
            note(e);
          }
        }
        if (held) {
          step = await ? 'a' : 's';
          try {
            if (await) {
              t.cond.awaitNanos(30_000);
            } else {
              t.permits++;
              t.cond.signal();
            }
          } catch (StackOverflowError e) {
            note(e);
          } catch (IllegalMonitorStateException e) {
            other = e;
          }
        }
        step = 'u';
        try {
          if (t.held.getAsBoolean()) {
            t.lock.unlock();
          }
        } catch (StackOverflowError e) {
          note(e);
        }
      }
    }

    /** The distinct places the round's overflows struck: step, then weft's frames below it. */
    String sites() {
      return overflowSites(all, steps, Math.min(overflows, all.length));
    }
  }

  static @Nullable String condRound(String kind, int pad, AtomicInteger overflows)
      throws Exception {
    CondTarget t = new CondTarget(kind);
    boolean await = kind.endsWith(".await");
    AtomicBoolean stop = new AtomicBoolean();
    // Two real waiters (untimed awaits), and for the await sweep a signaller.
    Thread[] waiters = new Thread[2];
    for (int i = 0; i < waiters.length; i++) {
      waiters[i] = daemon("waiter-" + i, 0, () -> {
        try {
          while (!stop.get()) {
            t.take();
          }
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
      });
      waiters[i].start();
    }
    Thread signaller = daemon("signaller", 0, () -> {
      while (!stop.get()) {
        t.give();
        LockSupport.parkNanos(1_000_000); // rarely: a node left behind would soon be popped
      }
    });
    if (await) {
      signaller.start();
    }
    CondSweep s = new CondSweep(t, await);
    Throwable[] failed = {null};
    Thread sweeper = daemon("sweep", 1 << 19, () -> padThen(pad, () -> {
      try {
        s.recurse(0);
        if (t.held.getAsBoolean()) {
          t.lock.unlock();
        }
      } catch (Throwable e) {
        failed[0] = e;
      }
    }));
    sweeper.start();
    sweeper.join(10_000);
    if (sweeper.isAlive()) {
      stop.set(true);
      return "sweep thread stuck: " + t.lock + " at " + trace(sweeper) + " last overflows at "
          + top(s.soes[0]) + " || " + top(s.soes[1]) + " || " + top(s.soes[2])
          + (Boolean.getBoolean("review18.sites") ? " overflow sites: " + s.sites() : "");
    }
    overflows.addAndGet(s.overflows);
    if (failed[0] != null) {
      stop.set(true);
      return "sweep failed: " + failed[0];
    }
    if (await) {
      stop.set(true);
      signaller.join(3_000);
    }
    int left = t.queued(sweeper);
    stop.set(true);
    // Enough permits and signals for every waiter to see stop.
    for (int i = 0; i < 8; i++) {
      t.lock.lock();
      try {
        t.permits += 4;
        t.cond.signalAll();
      } finally {
        t.lock.unlock();
      }
      LockSupport.parkNanos(1_000_000);
    }
    StringBuilder b = new StringBuilder();
    if (left > 0) {
      b.append("waiter nodes of the (finished) sweep thread left in the queue: ").append(left);
    }
    for (Thread w : waiters) {
      w.join(2_000);
      if (w.isAlive()) {
        b.append(" waiter stuck: ").append(t.lock).append(" at ").append(trace(w));
      }
    }
    if (b.length() > 0 && Boolean.getBoolean("review18.sites")) {
      b.append(" overflow sites: ").append(s.sites());
    }
    if (s.other != null) {
      b.append(" sweep saw: ").append(s.other);
    }
    return b.length() == 0 ? null : b.toString().strip();
  }

  /** Main for the forked Condition sweeps: -Dreview18.kind=spin.await, ticket.signal, ... */
  public static final class CondMain {
    public static void main(String[] args) throws Exception {
      String kind = System.getProperty("review18.kind");
      int rounds = Integer.getInteger("review18.rounds", 12);
      long secs = Long.getLong("review18.secs", 6);
      CondTarget w = new CondTarget(kind);
      Thread taker = daemon("warm-taker", 0, () -> {
        try {
          for (int n = 0; n < 50_000; n++) {
            w.take();
          }
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
      });
      taker.start();
      for (int n = 0; n < 50_000 && taker.isAlive(); n++) {
        w.give();
      }
      taker.join(3_000);
      w.lock.lock();
      try {
        w.cond.awaitNanos(1_000);
      } finally {
        w.lock.unlock();
      }
      w.queued(Thread.currentThread());
      CondSweep warm = new CondSweep(new CondTarget(kind), true);
      warm.frames = SWEEP;
      warm.recurse(9_999_999);
      trace(Thread.currentThread());
      top(new StackOverflowError());
      AtomicInteger overflows = new AtomicInteger();
      int bad = 0;
      int done = 0;
      StringBuilder first = new StringBuilder();
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(secs);
      for (int r = 0; r < rounds && System.nanoTime() - end < 0; r++) {
        String out = condRound(kind, r, overflows);
        done++;
        if (out != null) {
          bad++;
          if (first.length() < 2000) {
            first.append(" | round ").append(r).append(": ").append(out);
          }
        }
      }
      System.out.println(
          "RESULT bad=" + bad + " rounds=" + done + " overflows=" + overflows.get() + first);
      System.out.flush();
      System.exit(0);
    }
  }

  static String condSweep(String kind, String... flags) throws Exception {
    String[] all = new String[flags.length + 1];
    all[0] = "-Dreview18.kind=" + kind;
    System.arraycopy(flags, 0, all, 1, flags.length);
    String out = StackHeadroomTest.fork(CondMain.class, all);
    int i = out.indexOf("RESULT ");
    assertThat(i).as("output: %s", out).isNotNegative();
    return out.substring(i).strip();
  }

  static final String JFR = "-XX:StartFlightRecording:settings=profile";

  static String sweep(String kind, String... flags) throws Exception {
    String[] all = new String[flags.length + 1];
    all[0] = "-Dreview18.kind=" + kind;
    System.arraycopy(flags, 0, all, 1, flags.length);
    String out = StackHeadroomTest.fork(SweepMain.class, all);
    int i = out.indexOf("RESULT ");
    assertThat(i).as("output: %s", out).isNotNegative();
    return out.substring(i).strip();
  }

  /**
   * Whether {@code e} wraps a StackOverflowError: an invokedynamic call site or a class first
   * linked near the stack's end fails with BootstrapMethodError (or ExceptionInInitializerError)
   * around it. Counted as an overflow: found in CI (session 18, JDK 25), where such an error in
   * the first round failed a sweep whose lock was not left held.
   */
  static boolean causedByOverflow(Throwable e) {
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c instanceof StackOverflowError) {
        return true;
      }
    }
    return false;
  }

  static void assertClean(String result) {
    assertThat(result).startsWith("RESULT bad=0 ").doesNotContain("overflows=0");
  }

  // ------------------------------------------------------------------ tests (filled below)

  /** Exploration: -Dreview18.explore=kind1,cond:kind2,... prints each sweep's result. */
  @Test
  void explore() throws Exception {
    String kinds = System.getProperty("review18.explore", "");
    String flags = System.getProperty("review18.flags", "");
    for (String k : kinds.split(",")) {
      if (k.isEmpty()) {
        continue;
      }
      String[] f = flags.isEmpty() ? new String[0] : flags.split(" ");
      String r = k.startsWith("cond:") ? condSweep(k.substring(5), f) : sweep(k, f);
      System.out.println("EXPLORE " + k + " [" + flags + "] " + r);
    }
  }

  static final String SECS = "-Dreview18.secs=4";

  // ------------------------------------------------------------------ defects

  /**
   * SpinLock.lock() under contention, at every depth near the stack's end (two contenders
   * lock/unlock all along). What happens: the lock is left held by the sweep thread although its
   * lock() threw (the contenders then park forever), or a waiter node of the sweep thread is
   * left in the waiter stack (a later unlock pops it and "wakes" a thread that is not waiting:
   * the wake-up is lost, the contenders and the sweep's next lock() park forever). Once also a
   * {@code ConcurrentModificationException} of a Condition's queue iterated under the lock
   * (the spin.signal sweep): two threads in the lock at once.
   *
   * <p>How often: JDK 25, no JFR: every fork failed, 4 of 4 (2/2, 2/5, 2/2, 2/2 rounds); with
   * {@code -XX:StartFlightRecording:settings=profile}: 1 of 1 fork (1/1 round).
   *
   * <p>Windows (overflow tops recorded by the sweep): SpinLock.java:746 ({@code push(w) ||
   * takeBackstop()}: the node is pushed, the overflow strikes in takeBackstop, outside the
   * try whose catch abandons the node); and the catch's clean-up itself overflowing:
   * SpinLock.java:834 {@code abandon} -> :879/:895 {@code withdrawHeir} (the lock was handed to
   * this heir: left held), -> :884 {@code giveUp} -> :927 {@code Waiter.leave} (node left
   * WAITING). No StackHeadroom probe before the push.
   *
   * <p>Session 19: much better, not clean. The registration probe is now 64 frames (32 let
   * takeBackstop overflow after the push with a JFR recording), an unlock that will hand over or
   * wake probes before it releases, and the rare steps' VarHandle call sites are linked when
   * the class initialises (the first takeBackstop() of a JVM, run deep in the stack, linked its
   * call site there and overflowed: 2 of 8 JDK 17 forks). Left: 1 of 8 JDK 17 forks still
   * ended with a waiter parked on a free lock; the overflow that did it was not recorded (the
   * last one seen was a probe's), so the window is not known.
   */
  @Test
  @Disabled("open: an overflow in SpinLock.lock()'s slow path leaves the lock held or a node queued")
  void defect_spinLockLockOverflowLeavesLockHeldOrNodeQueued() throws Exception {
    assertClean(sweep("spin.lock", SECS));
  }

  /**
   * SpinLock.tryLock(20 ms) under contention near the stack's end. What happens: the lock is
   * left held by the sweep thread after tryLock threw. How often: JDK 25, no JFR: 2 of 2
   * forks (8/12 and 11/12 rounds); with JFR 1 of 1 (10/12 rounds; there also the JDK's own
   * ExceptionThrown event overflowing on the way out of a wait that had taken the lock). Windows: the abandon path of acquireWait's catch, SpinLock.java:834 ->
   * :880 {@code leaveHolding} -> :918 {@code setWakingRelease} overflowing after the lock was
   * taken (hand-over or CAS) - the catch then rethrows holding the lock; and the same windows
   * as lock(). Fixed in session 18: a probe (StackHeadroom.PARK_FRAMES) before the waiter
   * registers for its park; 0 of 12 rounds in 3 of 3 forks after it. The untimed lock() sweep
   * below still fails: its windows include the spin phase and the hand-over.
   */
  @Test
  void fixed_spinLockTimedTryLockOverflowLeavesLockHeld() throws Exception {
    assertClean(sweep("spin.tryLock", SECS));
  }

  /**
   * TicketLock.lock() under contention near the stack's end. What happens: the sweep thread's
   * next lock() parks forever ("locked (handing over), with queued waiters"): an earlier lock()
   * that overflowed left its node in the queue, WAITING; the releaser grants the lock to that
   * node, whose thread has gone: nobody ever owns or passes on the lock again, every thread
   * hangs. How often: JDK 25: 3 of 3 forks without JFR, 1 of 1 with JFR (each 1/1 round). Window: TicketLock.java:692
   * (getAndSetTail enqueues) up to the park at :761, with no catch that abandons the node:
   * the overflow observed at :747 {@code waitOnCpu} -> :804 {@code yieldPausedUntilOpaque}.
   *
   * <p>Fixed in session 19: a stack probe (StackHeadroom.QUEUE_FRAMES) before the node is
   * queued, and one before an unlock clears anything when it has a successor to grant. After:
   * 0 bad rounds in 20 forks on JDK 17 and 25, with and without JFR (32 frames were not enough:
   * a rarely run step, still interpreted, overflowed in 2 of 5 forks).
   */
  @Test
  void fixed_ticketLockLockOverflowLeavesNodeQueued() throws Exception {
    assertClean(sweep("ticket.lock", SECS));
  }

  /**
   * Mutex.lock() (guard) under contention near the stack's end. What happens: the sweep
   * thread's next lock() parks forever in AQS.acquire ("Locked by contender-1, 3 queued").
   * How often: JDK 25: 2 of 2 forks without JFR, 1 of 1 with JFR (each 1/1 round). Window: Mutex.java:890 {@code
   * sync.acquire(1)}: the overflow observed in AbstractQueuedSynchronizer.acquire:769 (the
   * node's allocation) after the node was queued; AQS.acquire is not
   * {@code @ReservedStackAccess}-protected when called from user code (the JDK's ReentrantLock
   * gets the reserved zone from its annotated Sync.lock, Mutex.Sync does not).
   *
   * <p>Fixed in session 19: a stack probe (QUEUE_FRAMES) before every contended acquisition
   * enters the AQS, and one before a release that will wake a queued thread. After: 0 bad
   * rounds in 14 forks, JDK 17 and 25, with and without JFR.
   */
  @Test
  void fixed_mutexLockOverflowBreaksQueue() throws Exception {
    assertClean(sweep("mutex.lock", SECS));
  }

  /**
   * Mutex.update(fn) under contention near the stack's end. What happens: the mutex is left
   * held by the sweep thread after update threw; the contenders park forever. How often: JDK
   * 25, no JFR: 2 of 2 forks (2/2, 2/4 rounds); with JFR 1 of 1 (the sweep's next update
   * parked forever in AQS.acquire with the mutex unlocked and 2 queued). Window: Mutex.java:626-640, the acquisition
   * ({@code lockSlow}/{@code lockContended}, :890) or the {@code finally { release(); }} after
   * {@code fn.apply} overflowing (the release call itself overflows at the same depth).
   *
   * <p>Session 19: the acquisition is probed now (QUEUE_FRAMES), and the release probes before
   * it wakes anybody; but update has no guard to retry the release with, so when that probe
   * fails it releases unprobed (StackHeadroom.fits), and an overflow at the release's own entry
   * still leaves the mutex held, as {@code finally { lock.unlock(); }} does with a JDK lock.
   * LockOrder.enabled() wrapped such an overflow in an AssertionError; it no longer does, and
   * the closures pass the switch they read to the release instead of reading it again. Left:
   * 1 of 12 rounds in 3 of 4 forks (JDK 17: 2 of 4 rounds in one).
   */
  @Test
  @Disabled("open: an overflow in Mutex.update leaves the mutex held")
  void defect_mutexUpdateOverflowLeavesMutexHeld() throws Exception {
    assertClean(sweep("mutex.update", SECS));
  }

  /**
   * RwLock.write() under contention near the stack's end. What happens: the sweep thread's
   * next write() parks forever, write-locked with no holder; or (second fork) the write lock
   * is left held with its guard already marked closed, so it can never be released. How often:
   * JDK 25: 2 of 2 forks without JFR (1/1, 2/2 rounds), 1 of 1 with JFR (1/1). Window: RwLock.java:521 {@code writeContended} -> the JDK's
   * AbstractQueuedLongSynchronizer.acquire:416, whose own clean-up {@code cancelAcquire:484}
   * overflowed (not protected by the reserved zone when called from RwLock's code); and
   * WriteGuard.close setting {@code closed} before the unlock that overflows (RwLock.java, the
   * WriteGuard's close).
   *
   * <p>Fixed in session 19, as Mutex.lock (probes before the AQS queues, and before a release
   * with queued threads). The JDK's ReentrantReadWriteLock.WriteLock.lock itself has the
   * window (its AQS acquire is not in the reserved stack area). After: 0 bad rounds in 14
   * forks, JDK 17 and 25, with and without JFR.
   */
  @Test
  void fixed_rwLockWriteOverflowBreaksLock() throws Exception {
    assertClean(sweep("rwlock.write", SECS));
  }

  /**
   * SeqLock.writeUninterruptibly() under contention near the stack's end. What happens: the
   * write lock is left held by the sweep thread after the call threw; the contenders park
   * forever in WaitingRoom. How often: JDK 25: 2 of 2 forks without JFR (2/7, 1/2 rounds), 1
   * of 1 with JFR (2/2 rounds). Windows: SeqLockCore.java:563 {@code acquireQueued} ->
   * WaitingRoom.java:257 {@code exit} (ConcurrentLinkedQueue.poll) overflowing after the lock
   * was taken; WaitingRoom.enterQueued's {@code ConcurrentLinkedQueue.offer} (WaitingRoom.java
   * :183-210) overflowing after the room was entered; with JFR, the JDK's ExceptionThrown event
   * (JVM.newEventWriter) overflowing after acquisition.
   *
   * <p>Session 19: a probe (QUEUE_FRAMES) before the waiting room is entered, and before a
   * release with a parked thread. Left: 1 of 14 forks, both JDKs: the waiting room's
   * ConcurrentLinkedQueue linking a method handle (MethodType.makeImpl, the JDK's own code)
   * the first time it ran a step, deep in the stack, which needs more than the probe covers.
   */
  @Test
  @Disabled("open: an overflow in SeqLock's queued write acquisition leaves the lock held")
  void defect_seqLockWriteOverflowLeavesLockHeld() throws Exception {
    assertClean(sweep("seqlock.write", SECS));
  }

  /**
   * SeqLock.read(supplier) near the stack's end while writers hold the lock ~20 us at a
   * time (the read's fallback takes and drops the lock). What happens: a writer parks forever
   * in WaitingRoom.enterQueued with the SeqLock unlocked: the waiting room was left occupied
   * or a queue node was left behind by the overflowing read. How often: JDK 25: 2 of 2 forks
   * without JFR (2/4, 2/5 rounds), 1 of 1 with JFR (2/6). Window: SeqLock.java:307-342 {@code beginReadSlow}/read's fallback:
   * {@code acquireForRead()} then {@code releaseRestoring(s)} (:342), and the WaitingRoom
   * enter/exit of SeqLockCore.acquireQueued (:525, :563).
   *
   * <p>Fixed in session 19: a stack probe (QUEUE_FRAMES) before a reader registers or takes
   * the parked-reader slot, and before a writer enters the waiting room; a release with a
   * parked thread probes first (the read pass's release, which has no caller to retry it, goes
   * ahead unprobed if the probe fails: StackHeadroom.fits). After: 0 bad rounds in 14 forks of
   * read and 14 of beginRead, JDK 17 and 25, with and without JFR.
   */
  @Test
  void fixed_seqLockReadFallbackOverflowLeavesWaitingRoomStuck() throws Exception {
    assertClean(sweep("seqlock.read", SECS));
  }

  /**
   * TicketLock's Condition: signal() near the stack's end (lock, permits++, signal, unlock per
   * frame) while two threads wait untimed for permits. What happens: after the sweep (and 8
   * rounds of permits + signalAll from a shallow thread) both waiters are still parked in
   * SpinLockCondition.parkForSignal with the lock free: a waiter was popped from the queue (and
   * marked signalled) but never unparked, or the lock's own overflow windows (see the
   * TicketLock defect) stranded it. In a second fork the shallow check's iteration of the
   * Condition's queue, under the lock, threw ConcurrentModificationException: the queue was
   * changed by another thread while this one held the lock. The SpinLock variant (kind
   * "spin.signal") threw the same ConcurrentModificationException in 2 of 2 forks. How often:
   * JDK 25, no JFR: 2 of 2 forks (stranded 1/1 round; CME). Window:
   * SpinLockCondition.java:192-194 ({@code pollFirst}, {@code setSignalledRelease}, then
   * {@code LockSupport.unpark} overflowing), and the re-acquire at :155.
   *
   * <p>Fixed in session 19: signal and signalAll probe (RELEASE_FRAMES) before they take a
   * waiter off the queue, await probes (AWAIT_FRAMES, deeper than the lock's own probes that
   * its unlock and re-acquisition run) before it queues, and the lock's own windows are closed
   * (see the TicketLock test). After: 0 bad rounds in 18 forks, JDK 17 and 25, with JFR too,
   * once AWAIT_FRAMES went from 48 to 80 (at 48, 1 of 8 JDK 17 forks failed: its re-acquisition
   * runs TicketLock's own 64-frame probe).
   */
  @Test
  void fixed_ticketConditionSignalOverflowStrandsWaiters() throws Exception {
    assertClean(condSweep("ticket.signal", SECS));
  }

  /**
   * Condvar.awaitWhile(guard, blocked, 50 us) near the stack's end, two contenders doing the
   * same, each changing the value, closing its guard and calling notifyOne from outside the
   * mutex. What happens: the mutex is left held by the sweep thread while its guard says
   * "closed": no call can release it any more (close and get throw IllegalStateException),
   * the contenders park forever. How often: JDK 25: 1 of 1 fork without JFR (2/3 rounds), 1 of
   * 1 with JFR (2/2 rounds). Window: Mutex.java:1691 {@code closed = true} before {@code
   * mutex.release()} (Mutex.java:940: LockOrder, wakeAll of the change waiters, then {@code
   * sync.release(1)}): an overflow in release after the flag leaves the mutex held with a closed
   * guard. (The same order in RwLock's guards, RwLock.java:647 and :733, showed up in the RwLock
   * write sweep.) Note that an overflow at close()'s very entry also leaves a try-with-resources
   * user holding the mutex; the flag makes even a retry impossible.
   *
   * <p>Fixed: the guards release first and mark themselves closed after (session 18); the
   * Condvar waits probe (QUEUE_FRAMES) before they give the mutex up, and a release that wakes
   * somebody probes first (session 19). Two rounds that still failed were this harness's own:
   * a hashCode() call in its catch block overflowed and lost the guard, and a notifyOne after
   * a completed close overflowed and made the harness retry the close. After both were fixed:
   * 0 bad rounds in 16 forks, JDK 17 and 25, with and without JFR. Session 23's CI failed it
   * once (1 round of 12: the sweep's next lock() found the mutex its own), and 3 of 8 forks did
   * under load in session 24: the harness's notifyOne after the close takes the mutex itself
   * when called outside it, and did so unprobed; see {@link
   * #fixed_condvarNotifyOutsideTheMutexLeavesItHeld}.
   */
  @Test
  void fixed_mutexGuardCloseOverflowLeavesMutexHeldWithClosedGuard() throws Exception {
    assertClean(sweep("condvar.await", SECS));
  }

  /**
   * Review 24 (session 24): {@code Condvar.notifyOne()} from outside the mutex near the stack's
   * end, while two contenders wait in {@code awaitWhile(50 us)}. Found while chasing a CI
   * failure of {@link #fixed_mutexGuardCloseOverflowLeavesMutexHeldWithClosedGuard} (1 round of
   * 12): that harness's unlock calls {@code notifyOne()} after closing its guard and swallows an
   * overflow there, and the sweep thread's next {@code lock()} found the mutex already its own.
   * What happens: the notify takes the mutex to order its signal after the waiter's sleep
   * ({@code m.sync.acquire(1)}, signal, {@code m.sync.release(1)}) with no stack probe, so an
   * overflow in the signal or in the release leaves the mutex held by a thread whose notify
   * threw, and every other thread parks for good; an overflow between the release and the
   * AQS's unpark loses the wake-up of a queued thread. How often: JDK 17, 3 of 3 forks, every
   * round. Fixed: a 64-frame probe (QUEUE_FRAMES) before the mutex is taken; a 16-frame one
   * still left a waiter half signalled in 1 fork of 4 (see the next test). After: 0 bad rounds
   * in 9 forks (JDK 17) and 3 (JDK 25).
   */
  @Test
  void fixed_condvarNotifyOutsideTheMutexLeavesItHeld() throws Exception {
    assertClean(sweep("condvar.notify", SECS));
  }

  /**
   * Review 24 (session 24): {@code Condvar.notifyOne()} holding the mutex near the stack's end,
   * the guard closed by the sweep afterwards. What happens: the AQS's signal takes the waiter's
   * node off the condition queue, then queues it for the mutex ({@code enqueue}, a call); an
   * overflow between the two leaves the node on neither queue, and the waiter's
   * {@code awaitNanos} loops for good without parking (the contender is found RUNNABLE in
   * {@code ConditionObject.awaitNanos}, the mutex free). The JDK's own {@code ReentrantLock}
   * conditions have the same window; weft's {@code SpinLock}/{@code TicketLock} conditions
   * probed before their signals since session 19, {@code Condvar} did not. How often: JDK 17, 6
   * of 6 forks. Fixed: a 16-frame probe (RELEASE_FRAMES) before the signal; 0 of 5 forks after.
   */
  @Test
  void fixed_condvarNotifyHoldingTheMutexHalfSignalsAWaiter() throws Exception {
    assertClean(sweep("condvar.notifyHeld", SECS));
  }

  // ------------------------------------------------------------------ held

  /** TicketLock.tryLock(20 ms) near the stack's end: held (JDK 25, with and without JFR). */
  @Test
  void held_ticketLockTimedTryLock() throws Exception {
    assertClean(sweep("ticket.tryLock", SECS, "-Dreview18.rounds=1"));
  }

  /** Mutex.tryLock(20 ms) near the stack's end, with a JFR recording: held. */
  @Test
  void held_mutexTimedTryLockWithJfr() throws Exception {
    assertClean(sweep("mutex.tryLock", SECS, "-Dreview18.rounds=1", JFR));
  }

  /** Mutex.lockWhen(ready, 20 ms) near the stack's end: held. */
  @Test
  void held_mutexTimedLockWhen() throws Exception {
    assertClean(sweep("mutex.lockWhen", SECS, "-Dreview18.rounds=1"));
  }

  /**
   * SpinLock Condition.awaitNanos near the stack's end: no waiter node of the sweep thread left
   * in the queue, no waiter stranded; held (JDK 25, 12 of 12 rounds, with and without JFR).
   */
  @Test
  void held_spinLockConditionTimedAwait() throws Exception {
    assertClean(condSweep("spin.await", SECS));
  }

  @Test
  void held_spinLockConditionTimedAwaitWithJfr() throws Exception {
    assertClean(condSweep("spin.await", SECS, JFR));
  }
}
