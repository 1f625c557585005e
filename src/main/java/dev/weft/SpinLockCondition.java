package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayDeque;
import java.util.Date;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * The {@link Condition} of {@link SpinLock} and {@link TicketLock}: a FIFO queue of waiting
 * threads, guarded by the lock itself.
 */
final class SpinLockCondition implements Condition {
  /*
   * Algorithm notes
   * ---------------
   * Every method except the parking itself runs while holding the lock, so the queue is a
   * plain ArrayDeque guarded by the lock (the lock's own happens-before edges publish it).
   * await: enqueue a Waiter (lock held), unlock, park until the waiter's `signalled` flag is
   * set (read with acquire, pairing with the signaller's release store, although the decisive
   * read is repeated under the lock after re-locking), re-lock uninterruptibly, then decide:
   * signalled -> normal return (an interrupt that arrived too is kept as interrupt status);
   * not signalled (interrupt or timeout) -> remove the waiter from the queue under the lock.
   * signal: (lock held) poll the first waiter, set signalled with release, unpark it. Because
   * `signalled` is only written under the lock and the decision is read under the lock, a
   * signal is never lost to a waiter that is leaving: it either was dequeued (and returns
   * normally) or is still queued and removes itself.
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
   * that leaves without a signal removes its own node (queue.remove, O(waiters)).
   *
   * Protocol windows (ProtocolWindows, tests only): "condition.released" after the lock was
   * released and before the first park; "condition.before-reacquire" after the wait ended
   * (signal, timeout or interrupt) and before the lock is taken again.
   */

  private final Lock lock;
  private final BooleanSupplier heldByCurrentThread;
  private final String lockName;
  private final ArrayDeque<Waiter> queue = new ArrayDeque<>(); // guarded by lock

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
    queue.addLast(w);
    lock.unlock();
    if (ProtocolWindows.ENABLED) {
      ProtocolWindows.at("condition.released");
    }
    boolean interrupted = false;
    while (!w.signalledAcquire()) {
      if (timed) {
        long remaining = deadline - System.nanoTime();
        if (remaining <= 0L) {
          // Timed out. The probe and the unlock outlast a 1 ns or 300 ns timeout, and a retry
          // loop of awaits, which take the free lock back without parking, kept its carrier from
          // the signaller (5 of 5 runs at 300 ns): a virtual thread unmounts once first, parked
          // before or not (a park can return at once on a permit; SpinBackoff
          // .unmountBeforeTimeout). Still queued: a signal that arrives meanwhile is found
          // below and reported; an interrupt, as one.
          if (SpinBackoff.unmountBeforeTimeoutInterrupted(this)) {
            interrupted = true;
          }
          break;
        }
        LockSupport.parkNanos(this, remaining);
      } else {
        LockSupport.park(this);
      }
      if (Thread.interrupted()) {
        interrupted = true;
        if (interruptible) {
          break;
        }
      }
    }
    if (ProtocolWindows.ENABLED) {
      ProtocolWindows.at("condition.before-reacquire");
    }
    LockOrderException refused = null;
    try {
      lock.lock(); // uninterruptible: await always returns holding the lock
    } catch (LockOrderException e) {
      // Lock-order checking (THROW) refused the re-acquisition: take the lock anyway, finish
      // the queue's bookkeeping, and report it holding the lock, as await promises (found by
      // review: the waiter was left in the queue and await returned without the lock).
      refused = e;
      LockOrder.lockUnchecked(lock);
    }
    if (w.signalledAcquire()) {
      if (interrupted) {
        Thread.currentThread().interrupt(); // signal wins; keep the interrupt as status
      }
      if (refused != null) {
        throw refused;
      }
      return true;
    }
    queue.remove(w);
    if (refused != null) {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      throw refused;
    }
    if (interrupted && interruptible) {
      throw new InterruptedException("interrupted while awaiting the " + lockName + " Condition");
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    return false;
  }

  @Override
  public void signal() {
    checkHeld();
    if (!queue.isEmpty()) {
      // Before the waiter is taken off the queue: an overflow between that and its unpark
      // would spend the signal on a thread that never wakes (review 18).
      StackHeadroom.ensure(StackHeadroom.RELEASE_FRAMES);
    }
    Waiter w = queue.pollFirst();
    if (w != null) {
      w.setSignalledRelease();
      LockSupport.unpark(w.thread);
    }
  }

  @Override
  public void signalAll() {
    checkHeld();
    if (!queue.isEmpty()) {
      StackHeadroom.ensure(StackHeadroom.RELEASE_FRAMES); // as in signal()
    }
    for (Waiter w; (w = queue.pollFirst()) != null; ) {
      w.setSignalledRelease();
      LockSupport.unpark(w.thread);
    }
  }

  @Override
  public String toString() {
    return lockName + ".Condition";
  }

  private static final class Waiter {
    private static final VarHandle SIGNALLED;

    static {
      try {
        SIGNALLED = MethodHandles.lookup().findVarHandle(Waiter.class, "signalled", boolean.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    final Thread thread;

    @SuppressWarnings("unused") // accessed through SIGNALLED
    private boolean signalled;

    Waiter(Thread thread) {
      this.thread = thread;
    }

    /** Release: the waiter may read it without the lock; it re-reads under the lock anyway. */
    void setSignalledRelease() {
      SIGNALLED.setRelease(this, true);
    }

    boolean signalledAcquire() {
      return (boolean) SIGNALLED.getAcquire(this);
    }
  }
}
