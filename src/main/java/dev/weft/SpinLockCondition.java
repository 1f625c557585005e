package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Date;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * The {@link Condition} of {@link SpinLock} and {@link TicketLock}: a FIFO queue of waiting
 * threads, guarded by the lock itself.
 */
final class SpinLockCondition implements Condition {
  /*
   * Algorithm notes
   * ---------------
   * Every method except the parking itself runs while holding the lock, so the queue is an
   * intrusive FIFO list of Waiter nodes (first/last, prev/next) with plain fields, guarded by
   * the lock (the lock's own happens-before edges publish them). A Waiter's `state` (WAITING,
   * SIGNALLED, CANCELLED) is the one field written without the lock: it leaves WAITING exactly
   * once, by a CAS, either the signaller's (to SIGNALLED, lock held) or the waiter's own (to
   * CANCELLED, when its wait ends by a timeout or an interrupt, before it takes the lock back).
   *
   * await: enqueue a Waiter (lock held), unlock, park until woken (or the deadline, or an
   * interrupt). A wait that ends without a signal cancels first (CAS WAITING -> CANCELLED,
   * without the lock); a failed CAS means a signaller got there first, and the wait counts as
   * signalled. Then it re-locks uninterruptibly and decides under the lock: SIGNALLED -> normal
   * return (an interrupt that arrived too is kept as interrupt status); CANCELLED -> unlink the
   * waiter if a signaller has not done so already, return false or throw; still WAITING (a
   * spurious wake-up, an interrupt of an uninterruptible wait) -> unlock and park again.
   *
   * Why the waiter cancels before re-locking (review 24): it used to decide everything under
   * the lock, so a waiter whose deadline had passed stayed first in the queue until it got the
   * lock back, and a signal sent meanwhile went to it: it returned true long after its timeout
   * while the next waiter, still waiting, slept out its own (A with await(20 ms), B behind it,
   * the signaller holding the lock for 300 ms and then signalling once: A true at 300 ms, B
   * false at its 3 s). The JDK's AQS cancels its condition node at the deadline the same way
   * (getAndUnsetStatus(COND)), and a signal then skips it.
   *
   * signal: (lock held) for the first waiter: if it is CANCELLED, unlink it and look at the
   * next; else unpark its thread, then CAS it WAITING -> SIGNALLED and unlink it; a failed CAS
   * (the waiter cancelled in between) unlinks it and goes on to the next. The order is for stack
   * overflows (CI stop 34, below): the unpark goes first, and an overflow in it, or in the CAS
   * after it, changes nothing but a spurious wake-up (the waiter finds itself still WAITING and
   * parks again; the signal threw). After the CAS only field writes follow, written out in
   * wakeFirst() with no call among them. A woken waiter that is not marked yet (the signaller still
   * holds the lock) either finds SIGNALLED when it tries to cancel, or blocks in its re-lock and
   * finds the mark then. A signal is never lost to a waiter that is leaving: exactly one of the
   * two CASes wins, and a signaller that loses goes on to the next waiter.
   *
   * Errors in await (review, session 21): from the enqueue to the decision under the lock, any
   * error (an overflow in the unlock, the park or the re-acquisition, which TicketLock now
   * survives and rethrows) is caught, and leaveAfterError takes the lock back if it is not
   * held, unlinks the waiter (or, if it was signalled, passes the signal to the next waiter),
   * and sets an absorbed interrupt again, before the error propagates. Before, the node stayed
   * queued for a thread that had left, and the next signal was spent on it. A signalled waiter
   * whose re-acquisition lock-order checking refuses (LockOrderException, THROW mode) passes
   * its signal on too before it throws (review 21c).
   *
   * Stack overflow (CI stop 34): signal() used to poll an ArrayDeque, set the flag with a
   * VarHandle and then unpark. A path run for the first time is interpreted and, for the
   * VarHandle, linked first, and both need more stack than the probe (RELEASE_FRAMES, compiled
   * frames) measures: the sweep overflowed in the flag's store (Unsafe.putBooleanVolatile)
   * after the waiter had left the queue, and that waiter was never woken (JDK 17, 2 of 350
   * sweeps under load, both waiters stuck with the lock free). Now the only call that follows
   * the probe is the unpark, and it comes before any change.
   *
   * Timeouts: a zero or negative timeout (and an awaitUntil date not after now) checks the lock
   * and the interrupt and returns at once, without releasing the lock. awaitUntil compares the
   * date with now before subtracting (Timeouts.nanosUntil): deadline - now overflowed for dates
   * before about now + Long.MIN_VALUE ms (issue 18). awaitNanos returns nanosTimeout minus the
   * time spent (no overflow: both are >= 0), which is <= 0 if the re-acquire used up the time
   * even when signalled, as the Condition contract says; await(time, unit) and awaitUntil
   * return whether the thread was signalled. The timeout bounds the wait for a signal; the
   * re-acquire is the lock's own lock() (as in ReentrantLock).
   *
   * Memory: one Waiter per waiting thread, parked again on wake-ups without a signal; a waiter
   * that leaves without a signal unlinks its own node (O(1)), unless a signal skipped it first.
   *
   * The state's VarHandle accesses (casState, stateOpaque) have one call site each, linked by
   * the class initialiser (PRELINKED): linking a VarHandle call site runs Java code, far deeper
   * than the signal's probe.
   *
   * Protocol windows (ProtocolWindows, tests only): "condition.released" after the lock was
   * released and before the first park; "condition.before-reacquire" after a wake-up (signal,
   * timeout, interrupt or spurious) and before the lock is taken again; "condition.unparked"
   * in signal() after the unpark and before the mark (the lock held).
   */

  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.lookup().findVarHandle(Waiter.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** Links casState's call site now, not on a short stack inside a first signal. */
  static final boolean PRELINKED = prelink();

  private static boolean prelink() {
    Waiter w = new Waiter(Thread.currentThread());
    return stateOpaque(w) == Waiter.WAITING
        && casState(w, Waiter.WAITING, Waiter.CANCELLED)
        && w.state == Waiter.CANCELLED;
  }

  /** Opaque: a hint read by signallers (see wakeFirst); the CAS decides. */
  private static int stateOpaque(Waiter w) {
    return (int) STATE.getOpaque(w);
  }

  /**
   * The only CAS of a waiter's state (see the algorithm notes): volatile semantics, so that the
   * signaller's and the waiter's claims are ordered and exactly one of them wins.
   */
  private static boolean casState(Waiter w, int expected, int next) {
    return STATE.compareAndSet(w, expected, next);
  }

  private final Lock lock;
  private final BooleanSupplier heldByCurrentThread;
  private final String lockName;
  private @Nullable Waiter first; // guarded by lock
  private @Nullable Waiter last; // guarded by lock

  SpinLockCondition(Lock lock, BooleanSupplier heldByCurrentThread, String lockName) {
    this.lock = lock;
    this.heldByCurrentThread = heldByCurrentThread;
    this.lockName = lockName;
  }

  private void checkHeld() {
    if (!heldByCurrentThread.getAsBoolean()) {
      throw new IllegalMonitorStateException(
          "this thread does not hold the "
              + lockName
              + ": lock it before awaiting or signalling its Condition");
    }
  }

  @Override
  public void await() throws InterruptedException {
    parkForSignal(true, false, 0L);
  }

  @Override
  public void awaitUninterruptibly() {
    try {
      parkForSignal(false, false, 0L);
    } catch (InterruptedException e) {
      throw new AssertionError("uninterruptible wait cannot be interrupted", e);
    }
  }

  @Override
  public long awaitNanos(long nanosTimeout) throws InterruptedException {
    long start = System.nanoTime();
    parkForSignal(true, true, Math.min(nanosTimeout, Timeouts.MAX_NANOS));
    if (nanosTimeout <= 0L) {
      return nanosTimeout; // checked once, did not wait: no time remains
    }
    // The Condition contract: nanosTimeout minus the time spent, signalled or not (<= 0 when
    // the re-acquire took the rest of the time). Cannot overflow: both terms are >= 0.
    return nanosTimeout - (System.nanoTime() - start);
  }

  @Override
  public boolean await(long time, TimeUnit unit) throws InterruptedException {
    return parkForSignal(true, true, Timeouts.toNanos(time, unit));
  }

  @Override
  @SuppressWarnings("JavaUtilDate") // the Condition interface prescribes java.util.Date here
  public boolean awaitUntil(Date deadline) throws InterruptedException {
    Objects.requireNonNull(deadline, "deadline");
    // Compared with now before subtracting: Long.MIN_VALUE ms must not wrap to ~146 years.
    return parkForSignal(
        true, true, Timeouts.nanosUntil(deadline.getTime(), System.currentTimeMillis()));
  }

  /**
   * Releases the lock, waits for a signal (or the timeout, or an interrupt if {@code
   * interruptible}), and re-acquires the lock. Returns whether the thread was signalled; a
   * zero or negative timeout checks the lock and the interrupt status once and does not wait.
   */
  private boolean parkForSignal(boolean interruptible, boolean timed, long nanos)
      throws InterruptedException {
    checkHeld();
    if (interruptible && Thread.interrupted()) {
      throw new InterruptedException("interrupted before awaiting the " + lockName + " Condition");
    }
    if (timed && nanos <= 0L) {
      return false;
    }
    long deadline = timed ? System.nanoTime() + Math.min(nanos, Timeouts.MAX_NANOS) : 0L;
    // Before the waiter is queued: from here to the re-acquisition's end, an overflow would
    // leave a queued node that takes a later signal, or return without the lock (review 18).
    // Deeper than the lock's own probes, which the unlock and the re-acquisition run.
    StackHeadroom.ensure(StackHeadroom.AWAIT_FRAMES);
    Waiter w = new Waiter(Thread.currentThread());
    enqueue(w);
    boolean interrupted = false;
    boolean settled = false; // the queue's bookkeeping is done and the lock held: errors pass
    try {
      lock.unlock();
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("condition.released");
      }
      for (;;) {
        boolean ends = false; // the wait ends even without a signal (timeout, interrupt)
        if (timed) {
          long remaining = deadline - System.nanoTime();
          if (remaining > 0L) {
            LockSupport.parkNanos(this, remaining);
            remaining = deadline - System.nanoTime(); // timed out in the park: decide it now
          }
          if (remaining <= 0L) {
            // Timed out. The probe and the unlock outlast a 1 ns or 300 ns timeout, and a
            // retry loop of awaits, which take the free lock back without parking, kept its
            // carrier from the signaller (5 of 5 runs at 300 ns): a virtual thread unmounts once
            // first, parked before or not (a park can return at once on a permit; SpinBackoff
            // .unmountBeforeTimeout). Still queued: a signal that arrives meanwhile is found
            // below and reported; an interrupt, as one.
            if (SpinBackoff.unmountBeforeTimeoutInterrupted(this)) {
              interrupted = true;
            }
            ends = true;
          }
        } else {
          LockSupport.park(this);
        }
        if (Thread.interrupted()) {
          interrupted = true;
        }
        if (interrupted && interruptible) {
          ends = true;
        }
        if (ends && !casState(w, Waiter.WAITING, Waiter.CANCELLED)) {
          ends = false; // a signaller claimed it first: signalled, decided below as such
        }
        if (ProtocolWindows.ENABLED) {
          ProtocolWindows.at("condition.before-reacquire");
        }
        LockOrderException refused = relock();
        // Decided under the lock: a signaller marks (and unlinks) a waiter while it holds it.
        // Plain read: the mark was written under the lock we hold now, or by this thread.
        if (w.state == Waiter.SIGNALLED) {
          settled = true;
          if (interrupted) {
            Thread.currentThread().interrupt(); // signal wins; keep the interrupt as status
          }
          if (refused != null) {
            // This thread leaves by throwing and will not act on the signal it took: pass it on
            // (review 21c: lock-order checking's refusal lost the signal, and the next waiter
            // was never woken).
            passSignalOn();
            throw refused;
          }
          return true;
        }
        if (ends || refused != null) {
          unlink(w);
          settled = true;
          if (refused != null) {
            if (interrupted) {
              Thread.currentThread().interrupt();
            }
            throw refused;
          }
          if (interrupted && interruptible) {
            throw new InterruptedException(
                "interrupted while awaiting the " + lockName + " Condition");
          }
          if (interrupted) {
            Thread.currentThread().interrupt();
          }
          return false;
        }
        // Woken without a signal (spuriously, by a permit left from earlier, or by an interrupt
        // of an uninterruptible wait): still queued; wait again without the lock.
        lock.unlock();
      }
    } catch (Throwable e) {
      if (!settled) {
        try {
          leaveAfterError(w, interrupted);
        } catch (Throwable again) {
          try {
            e.addSuppressed(again);
          } catch (Throwable noMemory) { // addSuppressed allocates its list: under a full heap
            // it fails too; the first error is the one to report
          }
        }
      }
      throw e;
    }
  }

  /**
   * Settles a wait that an error cut short (a StackOverflowError the probe did not foresee, in
   * the unlock, the park or the re-acquisition; found by review, session 21): takes the lock
   * back if it is not held, as await promises even when it throws; unlinks the waiter, or, if
   * it was signalled, passes the signal on to the next waiter, since this thread will not act
   * on it; sets the interrupt status again if the wait had absorbed an interrupt. A re-lock
   * that fails here too leaves the waiter queued, and the error that caused it is added to the
   * first as suppressed.
   */
  private void leaveAfterError(Waiter w, boolean interrupted) {
    Throwable relockFailure = null; // a RuntimeException or an Error: lock() throws nothing checked
    if (!heldByCurrentThread.getAsBoolean()) {
      try {
        if (LockOrder.enabled()) {
          LockOrder.lockUnchecked(lock); // bookkeeping first; refusing it would change nothing
        } else {
          lock.lock();
        }
      } catch (RuntimeException | Error again) {
        // lock() failed again, most likely as the first time: an OutOfMemoryError at its queue
        // node (review 30: await then threw without the lock, and the caller's finally unlock
        // failed). Take the lock without queueing, which allocates nothing.
        relockFailure = again;
        lockWithoutQueueing();
      }
    }
    if (w.state == Waiter.SIGNALLED) { // plain: under the lock, as in parkForSignal
      passSignalOn();
    } else {
      // Under the lock no signaller can claim it now: a plain write, no call.
      w.state = Waiter.CANCELLED;
      unlink(w);
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    // await adds it to its own error as suppressed; the lock is held now.
    if (relockFailure instanceof Error e) {
      throw e;
    }
    if (relockFailure != null) {
      throw (RuntimeException) relockFailure;
    }
  }

  /**
   * Takes the lock by polling tryLock(), with no queue node: only after lock() failed with an
   * Error in leaveAfterError. Spins, then yields (platform threads) between attempts; a
   * virtual thread keeps its carrier, as a pinned wait would, since parking may need memory
   * too. Under a FIFO lock (TicketLock) tryLock succeeds only when nobody is queued, so every
   * {@link #RELOCK_RETRY_POLLS} polls it tries the queued lock() again, which is fair once the
   * error has passed: a degraded, rare path.
   */
  private void lockWithoutQueueing() {
    for (int i = 1; !lock.tryLock(); i++) {
      if ((i & (RELOCK_RETRY_POLLS - 1)) == 0 && relockQueued()) {
        return; // memory came back: queued and served as any waiter (fairly, under TicketLock)
      }
      if (i < 128) {
        Thread.onSpinWait();
      } else {
        SpinBackoff.yieldUnlessVirtual(); // backs off from the holder; not a correctness device
      }
    }
  }

  /**
   * Polls of {@link #lockWithoutQueueing} between two tries of the queued lock(): under a FIFO
   * lock with steady traffic tryLock alone may never find a gap (review 30b), while the error
   * that made lock() fail (a full heap) is usually gone by then. A power of two.
   */
  private static final int RELOCK_RETRY_POLLS = 1024;

  /** One more try of the queued lock(); false if it failed again (the error is dropped). */
  private boolean relockQueued() {
    try {
      if (LockOrder.enabled()) {
        LockOrder.lockUnchecked(lock);
      } else {
        lock.lock();
      }
      return true;
    } catch (RuntimeException | Error again) { // the same failure as the one being reported
      return false;
    }
  }

  /**
   * Re-acquires the lock uninterruptibly: await always returns holding it. Returns the
   * exception of lock-order checking (THROW) if it refused the re-acquisition, which is then
   * taken anyway: the caller finishes the queue's bookkeeping and reports it holding the lock,
   * as await promises (found by review: the waiter was left in the queue and await returned
   * without the lock).
   */
  private @Nullable LockOrderException relock() {
    try {
      lock.lock();
      return null;
    } catch (LockOrderException e) {
      LockOrder.lockUnchecked(lock);
      return e;
    }
  }

  /** Appends {@code w} to the queue (lock held). Field writes only: it cannot fail halfway. */
  private void enqueue(Waiter w) {
    Waiter l = last;
    w.prev = l;
    if (l == null) {
      first = w;
    } else {
      l.next = w;
    }
    last = w;
    w.queued = true;
  }

  /** Removes {@code w} from the queue if it is still there (lock held). Field writes only. */
  private void unlink(Waiter w) {
    if (!w.queued) {
      return;
    }
    Waiter p = w.prev;
    Waiter n = w.next;
    if (p == null) {
      first = n;
    } else {
      p.next = n;
    }
    if (n == null) {
      last = p;
    } else {
      n.prev = p;
    }
    w.prev = null;
    w.next = null;
    w.queued = false;
  }

  /** The number of queued waiters (lock held); for tests. */
  int queuedCount() {
    checkHeld();
    int n = 0;
    for (Waiter w = first; w != null; w = w.next) {
      n++;
    }
    return n;
  }

  /** The number of queued waiters of thread {@code t} (lock held); for tests. */
  int queuedCount(Thread t) {
    checkHeld();
    int n = 0;
    for (Waiter w = first; w != null; w = w.next) {
      if (w.thread == t) {
        n++;
      }
    }
    return n;
  }

  @Override
  public void signal() {
    checkHeld();
    Waiter w = first;
    if (w != null) {
      // Before the first step: an overflow must strike before anything changes (review 18).
      // Deeper for a virtual waiter, whose unpark runs the scheduler (StackHeadroom.wakeFrames).
      StackHeadroom.ensure(StackHeadroom.wakeFrames(w.thread));
      wakeFirst();
    }
  }

  @Override
  public void signalAll() {
    checkHeld();
    if (first != null) {
      // As in signal(), once for all: the deepest any of the unparks below needs.
      int frames = StackHeadroom.RELEASE_FRAMES;
      for (Waiter w = first; w != null && frames != StackHeadroom.QUEUE_FRAMES; w = w.next) {
        frames = StackHeadroom.wakeFrames(w.thread);
      }
      StackHeadroom.ensure(frames);
      while (wakeFirst()) {
        // an overflow here leaves the waiters not yet woken queued, as they were
      }
    }
  }

  /**
   * Wakes the first waiter that is still waiting, unlinking the cancelled ones before it (lock
   * held). Returns whether it woke one. For each waiter: unpark first, then the CAS that claims
   * it (an overflow in either changes nothing but a spurious wake-up), then the unlink, field
   * writes written out here rather than a call to {@link #unlink}, so that nothing after the
   * claim can fail: an error there would leave a claimed waiter queued, and from
   * leaveAfterError's pass-on nobody could retry it (review 21c). The claimed waiter reads its
   * mark under the lock or finds it when its own cancelling CAS fails, so waking it before the
   * claim is safe (see the algorithm notes).
   */
  private boolean wakeFirst() {
    for (Waiter w = first; w != null; w = first) {
      // A hint that skips the unpark of a waiter that is leaving; the CAS decides.
      boolean claimed = false;
      if (stateOpaque(w) == Waiter.WAITING) {
        LockSupport.unpark(w.thread);
        if (ProtocolWindows.ENABLED) {
          ProtocolWindows.at("condition.unparked"); // a test seam: no call here in production
        }
        claimed = casState(w, Waiter.WAITING, Waiter.SIGNALLED);
      }
      // unlink(w), written out (w is first: no predecessor). A cancelled waiter's own unlink,
      // under the lock later, then finds it gone.
      Waiter n = w.next;
      first = n;
      if (n == null) {
        last = null;
      } else {
        n.prev = null;
      }
      w.next = null;
      w.queued = false;
      if (claimed) {
        return true;
      }
    }
    return false;
  }

  /** Passes a signal this thread took but will not act on to the first waiter, if any. */
  private void passSignalOn() {
    if (first != null) {
      wakeFirst();
    }
  }

  @Override
  public String toString() {
    return lockName + ".Condition";
  }

  /**
   * A waiting thread's node. Every field but {@code state} is read and written only under the
   * lock; {@code state} leaves WAITING once, by a CAS (see the algorithm notes).
   */
  private static final class Waiter {
    static final int WAITING = 0;
    static final int SIGNALLED = 1;
    static final int CANCELLED = 2;

    final Thread thread;
    @Nullable Waiter prev;
    @Nullable Waiter next;
    boolean queued;

    /**
     * WAITING, SIGNALLED or CANCELLED. Claimed through STATE's CAS without the lock; read plain
     * under the lock (a mark written under it, or by the reading thread) and opaque as a hint.
     */
    int state;

    Waiter(Thread thread) {
      this.thread = thread;
    }
  }

  static {
    // Last of the static initializers: see StackHeadroom.initializeNow.
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, Waiter.class);
  }
}
