package dev.weft;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * Review 29, run in a fresh JVM by Review29SpinLockWakeTest: SpinLock.giveUp's wake-up (the
 * exposed waiter hands its backstop on and signals the waiter above it) at every depth near the
 * end of the giving-up thread's stack.
 *
 * <p>Per round: the controller C holds the lock; the deep thread D (platform, 256 KiB stack)
 * calls {@code lockInterruptibly()} (mode "interrupt") or {@code tryLock(5 ms)} (mode "timed")
 * at one depth and parks, registered first (the exposed waiter); then W (platform or virtual)
 * calls {@code lock()} and parks registered above D, untimed; then C interrupts D (or lets its
 * timeout run out). D gives up: giveUp hands the backstop on and wakes W, which finds the lock
 * held, and parks again. D may also throw StackOverflowError anywhere on that path. Then C
 * unlocks, and W must get the lock (bounded: 5 s). A W that does not, with the lock free, is a
 * stranded waiter; a lock that D ends up holding (a hand-over to a thread that threw) strands W
 * too.
 *
 * <p>Prints "RESULT &lt;mode&gt; &lt;waiter&gt; held|stranded|harness-error ..." and exits 0, 1
 * or 2. Arguments: mode, "platform" or "virtual", seconds.
 */
// The controller locks without try/finally on purpose (a round's unlock is the step under test);
// errors are kept in static fields for the report.
@SuppressWarnings({"LockNotBeforeTry", "StaticAssignmentOfThrowable"})
final class Review29SpinLockWakeMain {
  private Review29SpinLockWakeMain() {}

  static final SpinLock LOCK = new SpinLock();

  // D's side, written with plain putstatic (no call) so that an overflow cannot skip them.
  /** 0: idle; 1: C holds the lock and lets D try; 2: D calling; 3: D returned; 4: C gave up. */
  static volatile int dPhase;

  /** 1 acquired (must not happen: C holds it), 2 timed out, 3 interrupted, 4 overflow, 5 other. */
  static volatile int dOutcome;

  static volatile @Nullable Throwable dOther;

  static volatile boolean timed;

  // W's side.
  static volatile int wGoal;
  static volatile int wDone;
  static volatile boolean wStop;
  static volatile @Nullable Throwable wError;

  static final long TIMEOUT_NANOS = 5_000_000L;

  static final Runnable ATTEMPT =
      () -> {
        // Wait for the controller's round (it unlocks, lets W finish, and locks again); plain
        // spin with a bound, so every depth gets its round.
        for (int i = 0; dPhase != 1; i++) {
          if (i > 200_000_000 || dPhase == 4) {
            return;
          }
          Thread.onSpinWait();
        }
        Thread.interrupted(); // a late interrupt of the previous round (see the controller)
        dPhase = 2;
        try {
          if (timed) {
            dOutcome = LOCK.tryLock(TIMEOUT_NANOS, TimeUnit.NANOSECONDS) ? 1 : 2;
          } else {
            LOCK.lockInterruptibly();
            dOutcome = 1;
          }
        } catch (InterruptedException e) {
          dOutcome = 3;
        } catch (StackOverflowError e) {
          dOutcome = 4;
        } catch (Throwable e) {
          dOther = e;
          dOutcome = 5;
        }
        dPhase = 3;
      };

  /** Recurses to a StackOverflowError, then runs the attempt in each of the bottom frames. */
  static final class Dive {
    final int window;
    int bottom = -1;

    Dive(int window) {
      this.window = window;
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
      if (bottom - depth < window) {
        try {
          ATTEMPT.run();
        } catch (Throwable e) {
          // an overflow in the attempt's own frame, before it began
        }
      }
    }
  }

  public static void main(String[] args) throws Exception {
    String mode = args[0];
    boolean virtual = args[1].equals("virtual");
    double seconds = Double.parseDouble(args[2]);
    boolean virtualD = args.length > 3 && args[3].equals("virtualD");
    int code;
    try {
      code = run(mode, virtual, seconds, virtualD);
    } catch (Throwable e) {
      System.out.println("RESULT " + mode + " " + args[1] + " harness-error " + e);
      e.printStackTrace(System.out);
      code = 2;
    }
    System.out.flush();
    System.exit(code);
  }

  private static boolean parkedOnLock(Thread t) {
    Thread.State s = t.getState();
    return LockSupport.getBlocker(t) == LOCK
        && (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING);
  }

  private static String describe(Thread w) {
    java.lang.invoke.VarHandle.fullFence();
    Thread o = LOCK.owner;
    return "lock="
        + LOCK
        + " owner="
        + (o == null ? "none" : o.getName())
        + " waking="
        + LOCK.waking
        + " backstopHandedOn="
        + LOCK.backstopHandedOn
        + " heir="
        + LOCK.heir
        + " W="
        + w.getState()
        + " W stack="
        + Arrays.toString(w.getStackTrace());
  }

  private static int run(String mode, boolean virtual, double seconds, boolean virtualD)
      throws Exception {
    timed = mode.equals("timed");
    Runnable wBody =
        () -> {
          try {
            while (!wStop) {
              int g = wGoal;
              if (g == wDone) {
                LockSupport.parkNanos(20_000L);
                continue;
              }
              LOCK.lock();
              wDone = g;
              LOCK.unlock();
            }
          } catch (Throwable e) {
            wError = e;
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
    int[] outcomes = new int[6];
    int overflowedWhileParked = 0;
    int validRounds = 0; // rounds in which W was parked above D before D gave up
    int round = 0;
    int sweeps = 0;
    long end = System.nanoTime() + (long) (seconds * 1e9);
    while (System.nanoTime() - end < 0 && sweeps < 40) {
      sweeps++;
      // A virtual D (optional 4th argument "virtualD") reaches few depths: on JDK 25 its first
      // park deep in a stack throws StackOverflowError from Continuation.doYield (the freeze),
      // at every one of the last 4,000 frames tried; the registered park's catch (abandon)
      // cleans up, so such rounds only count as "overflowed".
      Dive dv = new Dive(virtualD ? 4_000 : timed ? 300 : 600);
      Runnable dBody =
          () -> {
            for (int i = 0; i < 3; i++) {
              ATTEMPT.run(); // at the top first: links what it uses
            }
            dv.dive(0);
            ATTEMPT.run();
          };
      Thread d;
      if (virtualD) {
        // Thread.ofVirtual().unstarted(dBody), by reflection (sources compiled for Java 17)
        Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
        d = (Thread) Class.forName("java.lang.Thread$Builder")
            .getMethod("unstarted", Runnable.class).invoke(builder, dBody);
      } else {
        d = new Thread(null, dBody, "D", 256 * 1024);
      }
      if (!virtualD) {
        d.setDaemon(true);
      }
      // The controller's loop for this sweep: one round per attempt of D.
      LOCK.lock();
      dPhase = 1;
      d.start();
      for (;;) {
        // Wait for D to take the round (it may be diving: bounded by D's life).
        long stuck = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (dPhase == 1 && d.isAlive()) {
          if (System.nanoTime() - stuck > 0) {
            System.out.println("RESULT " + mode + " " + args(virtual) + " harness-error D idle");
            return 2;
          }
          Thread.onSpinWait();
        }
        if (dPhase == 1) {
          break; // D ended: the sweep is over
        }
        round++;
        // D is calling: wait until it is parked on the lock, or has returned. The result of
        // the poll is kept: an exposed D wakes every millisecond, so a second look may miss it.
        long bound = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        boolean dParked = false;
        while (dPhase == 2 && System.nanoTime() - bound < 0) {
          if (parkedOnLock(d)) {
            dParked = true;
            break;
          }
          Thread.onSpinWait();
        }
        boolean wIn = false;
        if (dParked) {
          wIn = true;
          wGoal = round;
          long wb = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
          boolean wParked = false;
          while (System.nanoTime() - wb < 0) {
            if (parkedOnLock(w)) {
              wParked = true;
              break;
            }
            Thread.onSpinWait();
          }
          if (wParked && dPhase == 2) {
            validRounds++;
          }
        }
        if (!timed && dPhase == 2) {
          d.interrupt(); // D leaves lockInterruptibly (a D that already returned: cleared below)
        }
        long db = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (dPhase != 3 && System.nanoTime() - db < 0) {
          Thread.onSpinWait();
        }
        if (dPhase != 3) {
          System.out.println("RESULT " + mode + " " + args(virtual) + " stranded D never returned"
              + " round=" + round + " D stack=" + Arrays.toString(d.getStackTrace()) + " "
              + describe(w));
          return 1;
        }
        int oc = dOutcome;
        outcomes[oc]++;
        if (oc == 4 && wIn) {
          overflowedWhileParked++; // thrown on the give-up path, after D had registered
        }
        if (oc == 1 || oc == 5) {
          System.out.println("RESULT " + mode + " " + args(virtual) + " harness-error D outcome "
              + oc + " " + dOther + " " + describe(w));
          return 2;
        }
        dOutcome = 0;
        dPhase = 0;
        LOCK.unlock();
        if (wIn) {
          long wd = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
          while (wDone != round && System.nanoTime() - wd < 0) {
            LockSupport.parkNanos(100_000L);
          }
          if (wDone != round) {
            System.out.println("RESULT " + mode + " " + args(virtual) + " stranded round="
                + round + " D outcome=" + oc + " outcomes=" + Arrays.toString(outcomes) + " "
                + describe(w));
            return 1;
          }
        }
        long fb = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (LOCK.isLocked() && System.nanoTime() - fb < 0) {
          LockSupport.parkNanos(100_000L);
        }
        if (LOCK.isLocked()) {
          System.out.println("RESULT " + mode + " " + args(virtual) + " stranded lock left held"
              + " round=" + round + " " + describe(w));
          return 1;
        }
        Thread.interrupted(); // C is never interrupted; keeps the loop honest
        LOCK.lock();
        dPhase = 1;
      }
      dPhase = 0;
      LOCK.unlock();
      d.join(10_000);
    }
    wStop = true;
    w.join(5_000);
    String summary =
        "sweeps=" + sweeps + " rounds=" + round + " valid=" + validRounds
            + " timedOut=" + outcomes[2] + " interrupted=" + outcomes[3]
            + " virtualD=" + virtualD + " overflowed=" + outcomes[4] + " overflowedAfterParking=" + overflowedWhileParked
            + " wError=" + wError;
    if (wError != null || validRounds == 0) {
      System.out.println("RESULT " + mode + " " + args(virtual) + " harness-error " + summary);
      return 2;
    }
    System.out.println("RESULT " + mode + " " + args(virtual) + " held " + summary);
    return 0;
  }

  private static String args(boolean virtual) {
    return virtual ? "virtual" : "platform";
  }
}
