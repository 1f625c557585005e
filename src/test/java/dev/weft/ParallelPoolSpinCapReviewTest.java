package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of {@link ParallelPool}'s spinner cap (issue 19, "Waking": at most {@code
 * core} idle threads spin; the others park at once): reproducers that FAIL on the reviewed
 * code. The attacks that held are in {@link ParallelPoolSpinCapReviewTestHeld}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ParallelPoolSpinCapReviewTest {
  static final long LONG_KEEP_ALIVE = TimeUnit.SECONDS.toNanos(60);
  /** Spinners spin "forever" (until handed a task or retired) so the schedule is exact. */
  static final long LONG_SPIN = TimeUnit.SECONDS.toNanos(20);

  /** Whether {@code t} is an idle pool thread spinning in {@code spinForSlot} now. */
  static boolean isSpinning(Thread t) {
    return Arrays.stream(t.getStackTrace())
        .anyMatch(f -> f.getMethodName().equals("spinForSlot"));
  }

  /** Whether {@code t} is idle: spinning, or parked in the pool's wait (blocker: the pool). */
  static boolean isIdle(Thread t, ParallelPool p) {
    return isSpinning(t) || (Waits.isParked(t) && LockSupport.getBlocker(t) == p);
  }

  /** Bounded poll of thread states until {@code t} spins in spinForSlot. */
  static void awaitSpinning(Thread t) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!isSpinning(t)) {
      if (!t.isAlive() || System.nanoTime() - deadline >= 0) {
        throw new AssertionError(t.getName() + " never spun (state " + t.getState() + ")");
      }
      LockSupport.parkNanos(50_000L); // bounded poll of a thread state, not a result wait
    }
  }

  /** The pool's count of spinning idle threads (private field, read racily for tests). */
  static int spinningCount(ParallelPool p) {
    try {
      Field f = ParallelPool.class.getDeclaredField("spinning");
      f.setAccessible(true);
      return f.getInt(p);
    } catch (ReflectiveOperationException e) {
      throw new LinkageError("ParallelPool.spinning not found", e);
    }
  }

  /** Waits until every thread is idle or gone, retires the idle ones and joins them all. */
  static void shutdown(ParallelPool p, List<Thread> threads) throws InterruptedException {
    for (Thread t : threads) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (t.isAlive() && !isIdle(t, p) && System.nanoTime() - deadline < 0) {
        LockSupport.parkNanos(50_000L); // bounded poll of a thread state
      }
    }
    p.retireIdle();
    for (Thread t : threads) {
      t.join(20_000);
      assertThat(t.isAlive()).as("%s still alive after retireIdle", t.getName()).isFalse();
    }
  }

  /*
   * Guarantee (algorithm notes, "Idle threads" and "Waking"): "The stack is LIFO on purpose:
   * the thread that finished last (still spinning, its caches warm) is reused first", and an
   * idle thread spins "so calls that follow one another find it running" ("a spinning thread
   * costs the caller no unpark"); the cap exists so that "the spinning threads fit on the
   * processors besides the caller's" for "the caller's next call". With the cap, the threads
   * that go idle LAST are the ones that park (the first `core` took the spin slots), and the
   * LIFO stack hands the next task to them first: the next call pays an unpark of a parked
   * thread while a spinning idle thread sits lower in the stack, spinning in vain. This is
   * exactly the case the cap was added for (a threads(n) call ending with n > core threads
   * going idle together). Schedule: core 1; threads A and B run explicit (beyondCore) tasks;
   * A finishes and spins (cap 1 reached); B finishes and parks (blocker: the pool); then one
   * default task is handed over. Deterministic: failed 3 of 3 runs (it runs on B, which had
   * to be unparked).
   */
  @Test
  @Disabled("known cost, not fixed: the spinners sit below the parked threads in the LIFO idle"
      + " stack; a fix needs idle nodes that can be pushed twice, which breaks the hand-over's"
      + " permit hand-off (see ParallelPool's notes, \"Waking\"). Documented there.")
  void knownCost_nextTaskWakesAParkedThreadWhileACappedSpinnerIsIdle() throws Exception {
    ParallelPool p = new ParallelPool("test-spincap-", 1, LONG_KEEP_ALIVE, LONG_SPIN);
    CountDownLatch goA = new CountDownLatch(1);
    CountDownLatch goB = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(2);
    AtomicReference<Thread> tA = new AtomicReference<>();
    AtomicReference<Thread> tB = new AtomicReference<>();
    List<Thread> threads = new ArrayList<>();
    try {
      assertThat(p.tryExecute(() -> {
        tA.set(Thread.currentThread());
        started.countDown();
        awaitQuietly(goA);
      }, true)).isTrue();
      assertThat(p.tryExecute(() -> {
        tB.set(Thread.currentThread());
        started.countDown();
        awaitQuietly(goB);
      }, true)).isTrue();
      assertThat(started.await(20, TimeUnit.SECONDS)).isTrue();
      threads.add(tA.get());
      threads.add(tB.get());
      goA.countDown();
      awaitSpinning(tA.get()); // A idle first: it took the only spin slot
      goB.countDown();
      Waits.awaitParkedOn(tB.get(), p); // B idle last: the cap made it park at once
      assertThat(spinningCount(p)).isEqualTo(1);

      AtomicReference<Thread> ranOn = new AtomicReference<>();
      CountDownLatch ran = new CountDownLatch(1);
      assertThat(p.tryExecute(() -> {
        ranOn.set(Thread.currentThread());
        ran.countDown();
      }, false)).isTrue();
      assertThat(ran.await(20, TimeUnit.SECONDS)).isTrue();
      assertThat(ranOn.get().getName())
          .as("the next task should go to the idle thread that is spinning (%s), not wake the"
              + " parked one (%s)", tA.get().getName(), tB.get().getName())
          .isEqualTo(tA.get().getName());
    } finally {
      goA.countDown();
      goB.countDown();
      shutdown(p, threads);
    }
  }

  static void awaitQuietly(CountDownLatch l) {
    try {
      assertThat(l.await(20, TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
