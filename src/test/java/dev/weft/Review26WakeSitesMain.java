package dev.weft;

import dev.weft.testing.Dive;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * Review 26 (wake sites), run in a fresh JVM by Review26WakeSitesTest: a platform "deep" thread
 * performs one wake operation of a weft primitive at every depth near the end of its stack,
 * while a waiter W (virtual or platform) is parked on that primitive. After each wake that
 * returned normally, W must run (bounded wait); after the sweep, W must have finished every
 * round it was let into. A wake that threw is retried one frame higher (the lock is still held,
 * or the value not yet set), as a caller's retry higher up would.
 *
 * <p>Prints one line "RESULT &lt;scenario&gt; held|stranded ..." and exits 0 (held), 1 (W
 * stranded) or 2 (the harness failed). Arguments: scenario, "virtual" or "platform", seconds.
 * A stranded virtual thread cannot be ended, hence the fresh JVM (System.exit ends it).
 */
final class Review26WakeSitesMain {
  private Review26WakeSitesMain() {}

  /** One primitive's wake operation, split as the sweep needs it. */
  interface Target {
    /** Deep, before W is let in: takes what the wake releases (a lock); may throw. */
    void prepare(int round);

    /** W, at the top of its stack: waits until round {@code round}'s wake. */
    void await(int round) throws Exception;

    /**
     * Deep, once W is parked: the wake under test. Throws if it did not happen (an overflow
     * before its first step); called again a frame higher until it returns.
     */
    void wake(int round);
  }

  static final int ROUNDS = 200_000;

  /**
   * tryLock until it succeeds (for 2 s at most): W, just woken, may hold the mutex for a moment
   * (session 26's integration: a plain tryLock reported "mutex busy" as a harness error in 2 of
   * 9 scenarios of one run). Polls rather than blocks, as the sweep needs an operation that
   * throws only on an overflow.
   */
  static Mutex.Guard<int[]> lockSoon(Mutex<int[]> m) {
    long end = System.nanoTime() + 2_000_000_000L;
    for (;;) {
      Mutex.Guard<int[]> x = m.tryLock();
      if (x != null) {
        return x;
      }
      if (System.nanoTime() - end > 0) {
        throw new IllegalStateException("mutex busy for 2 s");
      }
      Thread.onSpinWait();
    }
  }

  static Target target(String scenario) {
    return switch (scenario) {
      case "mutexUnlock" -> new Target() {
          final Mutex<int[]> m = new Mutex<>(new int[1]);
          Mutex.@Nullable Guard<int[]> g;

          @Override
          public void prepare(int round) {
            Mutex.Guard<int[]> x = lockSoon(m);
            g = x;
          }

          @Override
          public void await(int round) {
            m.lock().close();
          }

          @Override
          public void wake(int round) {
            Mutex.Guard<int[]> x = g;
            if (x != null) {
              x.close();
              g = null;
            }
          }
        };
      case "mutexLockWhen" -> new Target() {
          final Mutex<int[]> m = new Mutex<>(new int[1]);
          Mutex.@Nullable Guard<int[]> g;

          @Override
          public void prepare(int round) {}

          @Override
          public void await(int round) throws InterruptedException {
            m.lockWhen(a -> a[0] >= round).close();
          }

          @Override
          public void wake(int round) {
            Mutex.Guard<int[]> x = g;
            if (x == null) {
              x = lockSoon(m);
              g = x;
            }
            x.get()[0] = round;
            x.close();
            g = null;
          }
        };
      case "condvarNotify" -> new Target() {
          final Mutex<int[]> m = new Mutex<>(new int[1]);
          final Condvar cv = new Condvar();
          Mutex.@Nullable Guard<int[]> g;
          boolean notified;

          @Override
          public void prepare(int round) {}

          @Override
          public void await(int round) {
            try (Mutex.Guard<int[]> x = m.lock()) {
              cv.awaitWhileUninterruptibly(x, a -> a[0] < round);
            }
          }

          @Override
          public void wake(int round) {
            Mutex.Guard<int[]> x = g;
            if (x == null) {
              x = lockSoon(m);
              g = x;
              notified = false;
            }
            x.get()[0] = round;
            if (!notified) {
              cv.notifyOne();
              notified = true;
            }
            x.close();
            g = null;
          }
        };
      case "rwWriteUnlockToWriter", "rwWriteUnlockToReader" -> {
        boolean reader = scenario.endsWith("Reader");
        yield new Target() {
          final RwLock<int[]> rw = new RwLock<>(new int[1]);
          RwLock.@Nullable WriteGuard<int[]> g;

          @Override
          public void prepare(int round) {
            RwLock.WriteGuard<int[]> x = rw.tryWrite();
            if (x == null) {
              throw new IllegalStateException("rwlock busy");
            }
            g = x;
          }

          @Override
          public void await(int round) {
            if (reader) {
              rw.read().close();
            } else {
              rw.write().close();
            }
          }

          @Override
          public void wake(int round) {
            RwLock.WriteGuard<int[]> x = g;
            if (x != null) {
              x.close();
              g = null;
            }
          }
        };
      }
      case "seqLockUnlock" -> new Target() {
          final SeqLock seq = new SeqLock();
          SeqLock.@Nullable WriteGuard g;

          @Override
          public void prepare(int round) {
            SeqLock.WriteGuard x = seq.tryWrite();
            if (x == null) {
              throw new IllegalStateException("seqlock busy");
            }
            g = x;
          }

          @Override
          public void await(int round) {
            seq.writeUninterruptibly().close();
          }

          @Override
          public void wake(int round) {
            SeqLock.WriteGuard x = g;
            if (x != null) {
              x.close();
              g = null;
            }
          }
        };
      case "onceCellTrySet", "onceCellGetOrInit" -> {
        boolean init = scenario.endsWith("GetOrInit");
        yield new Target() {
          final OnceCell<?>[] cells = new OnceCell<?>[ROUNDS + 2];
          final java.util.function.Supplier<String> supplier = () -> "v";

          {
            for (int i = 0; i < cells.length; i++) {
              cells[i] = new OnceCell<String>();
            }
          }

          @SuppressWarnings("unchecked")
          private OnceCell<String> cell(int round) {
            return (OnceCell<String>) cells[round];
          }

          @Override
          public void prepare(int round) {}

          @Override
          public void await(int round) {
            cell(round).awaitUninterruptibly();
          }

          @Override
          public void wake(int round) {
            if (init) {
              cell(round).getOrInit(supplier);
            } else {
              cell(round).trySet("v");
            }
          }
        };
      }
      default -> throw new IllegalArgumentException(scenario);
    };
  }

  public static void main(String[] args) throws Exception {
    String scenario = args[0];
    boolean virtual = args[1].equals("virtual");
    double seconds = Double.parseDouble(args[2]);
    int code;
    try {
      code = run(scenario, virtual, seconds);
    } catch (Throwable e) {
      System.out.println("RESULT " + scenario + " harness-error " + e);
      e.printStackTrace(System.out);
      code = 2;
    }
    System.out.flush();
    System.exit(code);
  }

  private static int run(String scenario, boolean virtual, double seconds) throws Exception {
    Target target = target(scenario);
    AtomicInteger goal = new AtomicInteger(); // the round W is let into
    AtomicInteger done = new AtomicInteger(); // the last round W finished
    AtomicBoolean inWait = new AtomicBoolean();
    AtomicBoolean stop = new AtomicBoolean();
    Throwable[] wError = new Throwable[1];
    Runnable wBody =
        () -> {
          try {
            while (!stop.get()) {
              int g = goal.get();
              if (g == done.get()) {
                LockSupport.parkNanos(20_000L);
                continue;
              }
              inWait.set(true);
              target.await(g);
              inWait.set(false);
              done.set(g);
            }
          } catch (Throwable e) {
            wError[0] = e;
          }
        };
    Thread w;
    if (virtual) {
      // Thread.startVirtualThread, by reflection: the sources are compiled for Java 17
      w = (Thread) Thread.class.getMethod("startVirtualThread", Runnable.class).invoke(null, wBody);
    } else {
      w = new Thread(wBody, "W");
      w.setDaemon(true);
      w.start();
    }

    // State of the deep thread, its only writer: plain array stores (a call between taking
    // the lock and recording it could overflow and leave it held with nobody to release it).
    boolean[] pending = new boolean[1]; // a wake that threw: retried a frame higher
    int[] cur = new int[1];
    int[] woke = new int[1]; // wakes that returned normally near the stack's end
    int[] threw = new int[1]; // wakes that threw StackOverflowError
    int[] retried = new int[1]; // wakes completed by a retry a frame higher
    int[] strandedAt = {-1}; // the round whose wake returned but W did not run
    Throwable[] otherError = new Throwable[1];
    Runnable attempt =
        () -> {
          if (strandedAt[0] >= 0) {
            return;
          }
          if (pending[0]) {
            try {
              target.wake(cur[0]); // an overflow here: retried a frame higher
            } catch (StackOverflowError e) {
              throw e;
            } catch (Throwable e) {
              if (otherError[0] == null) {
                otherError[0] = e; // a retry refused otherwise: the wake's contract broken
              }
              throw e;
            }
            pending[0] = false;
            retried[0]++;
            return; // W is checked by the next attempt (done == goal), or after the sweep
          }
          if (done.get() != goal.get() || cur[0] >= ROUNDS) {
            return; // W has not finished its last round (a retried wake was just made)
          }
          cur[0] = goal.get() + 1;
          target.prepare(cur[0]); // throws: nothing taken
          pending[0] = true;
          goal.set(cur[0]);
          for (int i = 0; i < 200_000; i++) {
            Thread.State st = w.getState();
            if (inWait.get() && (st == Thread.State.WAITING)) {
              break;
            }
            Thread.onSpinWait();
          }
          try {
            target.wake(cur[0]); // the wake under test, at this depth
          } catch (StackOverflowError e) {
            threw[0]++;
            throw e; // pending stays set
          } catch (Throwable e) {
            if (otherError[0] == null) {
              otherError[0] = e;
            }
            throw e;
          }
          pending[0] = false;
          woke[0]++;
          for (int i = 0; i < 10_000 && done.get() != cur[0]; i++) {
            LockSupport.parkNanos(100_000L);
          }
          if (done.get() != cur[0]) {
            strandedAt[0] = cur[0];
          }
        };

    long end = System.nanoTime() + (long) (seconds * 1e9);
    int rounds = 0;
    while (System.nanoTime() - end < 0 && rounds < 40 && strandedAt[0] < 0) {
      rounds++;
      Dive d = new Dive(attempt, 2_000);
      Thread t =
          new Thread(
              null,
              () -> {
                for (int i = 0; i < 3; i++) {
                  attempt.run(); // at the top first: links and initializes what it uses
                }
                d.dive(0);
                attempt.run(); // at the top: whatever is still pending
                attempt.run();
              },
              "deep",
              256 * 1024);
      t.setDaemon(true);
      t.start();
      t.join(60_000);
      if (t.isAlive()) {
        System.out.println("RESULT " + scenario + " harness-error sweep thread stuck at "
            + Arrays.toString(t.getStackTrace()));
        return 2;
      }
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (done.get() != goal.get() && System.nanoTime() - deadline < 0) {
      LockSupport.parkNanos(1_000_000L);
    }
    boolean stranded = done.get() != goal.get();
    String summary =
        String.format(
            "%s sweeps=%d goal=%d done=%d wakesNearEnd=%d wakesThrew=%d retried=%d strandedAt=%d"
                + " pending=%b W=%s otherError=%s wError=%s",
            virtual ? "virtual" : "platform", rounds, goal.get(), done.get(), woke[0], threw[0], retried[0],
            strandedAt[0], pending[0], w.getState(), otherError[0], wError[0]);
    if (stranded) {
      System.out.println("RESULT " + scenario + " stranded " + summary);
      System.out.println("W stack: " + Arrays.toString(w.getStackTrace()));
      return 1;
    }
    stop.set(true);
    w.join(5_000);
    if (otherError[0] != null || wError[0] != null || woke[0] == 0) {
      System.out.println("RESULT " + scenario + " harness-error " + summary);
      return 2;
    }
    System.out.println("RESULT " + scenario + " held " + summary);
    return 0;
  }
}
