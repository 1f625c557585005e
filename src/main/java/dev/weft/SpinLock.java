package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * A non-reentrant mutual-exclusion lock for short critical sections that spins briefly before
 * it parks, so it hands over faster than {@link java.util.concurrent.locks.ReentrantLock}
 * under light contention and still behaves when there are more threads than cores.
 *
 * <pre>{@code
 * SpinLock lock = new SpinLock();
 * try (SpinLock.Guard g = lock.acquire()) {   // weft: the guard unlocks, even on exceptions
 *   counter++;
 * }
 *
 * lock.lock();                                // same thing through java.util.concurrent.locks.Lock
 * try {
 *   counter++;
 * } finally {
 *   lock.unlock();
 * }
 * }</pre>
 *
 * <p><b>Memory consistency effects.</b> Actions in a thread prior to releasing the lock (by
 * {@link #unlock()} or {@link Guard#close()}) <i>happen-before</i> actions subsequent to a
 * successful acquisition of the same lock (by {@link #lock()}, {@link #lockInterruptibly()},
 * a successful {@code tryLock}, or {@link #acquire()}) in another thread, exactly as for
 * leaving and entering a monitor. A failed {@code tryLock} has no memory effects.
 *
 * <p><b>Thread-safety.</b> All methods are safe to call from any thread. The lock is owned by
 * the thread that acquired it; only that thread may release it. {@link #isLocked()} and
 * {@link #toString()} are snapshots that may be stale by the time they return.
 *
 * <p><b>Misuse.</b> Acquiring the lock (any of {@code lock}, {@code lockInterruptibly}, {@code
 * tryLock}, {@code acquire}) in a thread that already holds it throws {@link
 * IllegalStateException} instead of deadlocking; {@link #unlock()} in a thread that does not
 * hold it throws {@link IllegalMonitorStateException}; closing a {@link Guard} twice throws
 * {@link IllegalStateException}, and closing it from another thread throws {@link
 * IllegalMonitorStateException}. A {@code null} {@link TimeUnit} or {@link Duration} throws
 * {@link NullPointerException}; a zero or negative timeout means "try once, do not wait".
 *
 * <p><b>Acquisition policy.</b> An uncontended {@link #lock()} is one compare-and-set of the
 * owner field. Under contention the waiter runs test-and-test-and-set rounds: it reads the
 * owner and only attempts the CAS when the lock looks free, pausing with {@link
 * Thread#onSpinWait()} between rounds for an exponentially growing number of pauses (32, 64,
 * ... capped at 512; 6 rounds, 1504 pauses in total, about 18 &micro;s where a pause takes
 * 12 ns: less than a park/unpark round trip). It then calls {@link
 * Thread#yield()} up to 3 times, trying once after each, and finally parks with {@link
 * LockSupport}; {@link #unlock()} wakes one parked waiter (at most one wakeup is in flight at
 * a time). A woken waiter gets 4 more spin rounds; if a running thread took the lock first, it
 * sleeps about 50 &micro;s on a timer, without asking to be woken (so the threads that keep
 * the lock busy do not pay for waking it again), spins and yields once more, and only then
 * parks until signalled. A parked waiter
 * takes no CPU and is never woken by a timer: {@link #unlock()} orders its release before its
 * look for waiters (a volatile store and load), so a wakeup cannot be missed. (Until issue 20
 * it did not, and every waiter re-checked the lock each millisecond: 2,000 virtual threads
 * waiting behind a holder that slept took 38 s instead of about 1.4 s.) The lock is
 * <em>not fair</em>: a running thread may take the lock ahead of parked waiters (this is what
 * makes it fast); use {@link TicketLock} where first-come-first-served order matters.
 *
 * <p><b>Timeouts and interrupts.</b> A timed or interruptible acquisition checks its deadline
 * and interrupt status after every phase (the spin rounds, the yields, each park), so it
 * returns at most one spin phase and its yields after the deadline or the interrupt: tens of
 * microseconds on an idle machine, up to a scheduler time slice per yield when the cores are
 * busy. An acquisition that gets the lock in the same step as an interrupt arrives returns
 * holding it, with the interrupt status set (as {@code ReentrantLock} does).
 *
 * <p><b>Memory.</b> A waiting thread holds one node on the lock's waiter stack for as long as
 * it waits, however long that is; nodes of waits that ended without a signal (timeouts,
 * interrupts) are unlinked when the wait ends. {@link #unlock()} pops O(1) nodes amortised.
 *
 * <p><b>Footprint.</b> A {@code SpinLock} takes about 160 bytes: its fields are padded onto a
 * cache line of their own, so that data allocated next to the lock (typically the data it
 * guards) cannot share that line and slow down hand-overs. Measured with two threads, an
 * unpadded lock ran about 25% slower in some JVM runs, depending on where the allocator put it.
 */
public final class SpinLock extends SpinLockPadAfter implements Lock {
  /*
   * Algorithm notes
   * ---------------
   * State: `owner` (the Thread holding the lock, or null) and `waiters`, a Treiber stack of
   * Waiter nodes for threads that are parked or about to park.
   *
   * lock: CAS owner null -> currentThread (volatile CAS: it is the acquire that pairs with the
   * volatile store in unlock, giving the happens-before edge of the lock). Contended waiters
   * read the owner with an opaque load (test-and-test-and-set: the read stays in the local
   * cache while the line is shared, so waiters do not steal the line from the owner) and
   * attempt the CAS only when it reads null; the CAS itself supplies the acquire ordering.
   *
   * unlock: check owner == currentThread with a plain read (only this thread can have written
   * its own Thread into the field, and its own earlier write of null happens-before this read,
   * so a plain read cannot wrongly see "me"), then setVolatile(null): as a release it makes
   * every write of the critical section visible to the next thread whose CAS reads null. Then
   * one volatile read of `waiters`; only if it is non-null does unlock pop a waiter and unpark
   * it. The store and the load are both volatile because they are unlock's half of a Dekker
   * hand-shake (see "Why no wakeup is missed" below).
   *
   * Lost races: a waiter that was signalled (its node went SIGNALLED) and then fails its
   * post-wake spin and yields lost the lock to a running thread. Its next park is a plain timed
   * park of SpinBackoff.LOST_RACE_PARK_NANOS with no node pushed, so unlockers see no waiter for
   * it and pay no unpark; afterwards it spins, yields and registers as usual. Nobody has to wake
   * it, so no wakeup can be lost here; timeouts and interrupts are checked after the park as
   * after any other (the park is cut to the time left, and an interrupt ends it early).
   *
   * Parking: a waiter pushes a fresh Waiter node (CAS, a full fence), then tries the owner CAS
   * once more, then parks. A node's `state` goes WAITING -> SIGNALLED (by an unlocker that
   * popped it; the unlocker then unparks the thread) or WAITING -> LEFT (by the waiter itself
   * when it stops waiting without a signal: acquired on a re-check, timed out or interrupted).
   * A wake without a signal (a spurious wake) does not end the
   * registration: the waiter tries the owner CAS once and parks again on the same node, so a
   * wait of any length holds one node. (Until issue 18 it left the node and pushed a fresh one
   * on every wake of the 1 ms backstop that parks had then: 16 waiters behind a 10 s hold left 120,678 nodes, and the unlock
   * that finally came popped them one by one, 4.3 ms.) The CAS on `state` decides the race
   * between signal and leave; an unlocker that pops a LEFT node pops the next one, so a signal
   * is never spent on a thread that is not waiting. A waiter that was signalled but gives up
   * (timeout/interrupt) passes the signal on.
   *
   * Unlinking LEFT nodes: the leaving waiter pops its node if it is on top (a Treiber pop);
   * otherwise it requests a sweep. `sweepRequests` counts requests (getAndAdd); the requester
   * that found 0 sweeps, and sweeps again until it can CAS the count it last saw back to 0, so
   * every LEFT node is unlinked by a sweep that starts after it went LEFT. The sweep pops LEFT
   * nodes on top and links each remaining node past the LEFT nodes below it (Waiter.next,
   * setRelease; readers use getAcquire). Only the one sweeper writes `next` of a pushed node;
   * pushers and unlockers write only `waiters`. The sweeper writes `next` only of a node it saw
   * WAITING (that node may go LEFT afterwards), and only to skip LEFT nodes, so every `next`
   * points to an older node and still reaches every WAITING node below it: an unlocker whose
   * pop used a `next` read before the sweeper changed it only puts LEFT nodes back on top,
   * with their chains intact, and no WAITING node is ever unreachable. A LEFT node can outlive
   * a sweep that way (or when an unlocker pops the node the sweep stood on); the next pop that
   * reaches it, or the next sweep, removes it. The stack thus holds the WAITING nodes (at most
   * one per waiting thread) plus LEFT nodes of waits that ended since the last unlock or sweep,
   * and unlock's pops are O(1) amortised. At most one wakeup is in flight: `waking` is CAS-set by the unlocker that signals and
   * cleared (volatile store) by the signalled thread as soon as it runs again; unlockers that
   * see it set skip the wakeup (the pending one will take the lock or park again, and a later
   * unlock then wakes the next). This keeps a stream of unlocks from issuing an unpark each
   * while the first woken thread is still being scheduled. Skipping relies on the rule "who
   * clears the flag looks again": see "Why no wakeup is missed". Nodes are never reused, so the Treiber stack has no ABA problem (the GC keeps a popped
   * node's address from being reused while anyone can still see it).
   *
   * Protocol windows (ProtocolWindows, tests only): "spinlock.spin" and "spinlock.yield" at the
   * start of those phases, "spinlock.park" just before each registered park,
   * "spinlock.backstop-wake" after a registered park that ended without a signal, timeout or
   * interrupt (a spurious wake, since there is no backstop any more; the name is kept for the
   * tests), and "spinlock.lost-race-park" before the unregistered park after a lost race.
   *
   * Why no wakeup is missed. Unlock is "store owner null (volatile), load waiters (volatile)";
   * a parking waiter is "push its node (CAS), CAS the owner (a volatile read where it fails)".
   * That is Dekker's pattern: all four accesses are synchronization actions, totally ordered
   * consistently with program order, so either the unlocker's load comes after the push and
   * sees the node (it signals), or the waiter's CAS comes after the unlocker's store and sees
   * null (it takes the lock). Neither side can miss the other. The `waking` flag lets an
   * unlocker skip its signal; that is safe because of one rule: a thread that clears the flag
   * then looks again with a volatile access, and every unlocker that skipped released the lock
   * before it read the flag set, so before the clear. The signalled waiter's look is a CAS on
   * the owner: it finds the lock free, or held by a thread whose unlock reads the flag after
   * the clear. An unlocker that set the flag and found nobody to wake clears it and loads
   * `waiters` again (signalOne). A signalled waiter that gives up clears it and passes the
   * signal on (passSignalOn). So parks need no timer: an untimed registered park waits until
   * signalled. The lost-race park is the one timed park, and it needs no wakeup at all.
   *
   * What it costs: the volatile store makes the uncontended unlock one store-load fence dearer
   * than a release store (on x86 a locked instruction; see docs/spinlock.md for the measured
   * cost). Until issue 20 unlock had no fence and every park was capped at 1 ms so that a
   * missed waiter re-checked on its own; under virtual threads those timer wakes, 1,000 per
   * second per waiter, kept the carriers busy that a sleeping holder needed to come back on.
   *
   * Fields are plain Java fields accessed only through the VarHandles below. They live in
   * SpinLockState, between 64 bytes of padding on either side (SpinLockPadBefore/After; the
   * JVM lays superclass fields out before subclass fields, so inheritance fixes the order), so
   * that no other object's fields share the lock word's cache line. One catch: since JDK 15
   * HotSpot puts subclass fields into gaps a superclass leaves (-XX:+UseEmptySlotsInSupers, on
   * by default), and SpinLockPadBefore's longs leave a 4-byte gap after the 12-byte header, so
   * `waking` landed there, next to the previous object. SpinLockPadBefore fills that gap with
   * an int of its own (layout printed on JDK 17: owner, waiters and waking at 84-96, padding
   * at 16-80 and 96-160). Measured: with a guarded
   * counter allocated next to an unpadded lock, 2-thread throughput was bimodal by JVM fork
   * (most forks 103-111 ops/us, some 73-83 throughout, decided by where the allocator put the
   * two objects); with them on separate lines 8 of 8 forks ran at 102-110.
   */

  private static final VarHandle OWNER;
  private static final VarHandle WAITERS;
  private static final VarHandle WAKING;
  private static final VarHandle SWEEPS;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      OWNER = l.findVarHandle(SpinLockState.class, "owner", Thread.class);
      WAITERS = l.findVarHandle(SpinLockState.class, "waiters", Waiter.class);
      WAKING = l.findVarHandle(SpinLockState.class, "waking", boolean.class);
      SWEEPS = l.findVarHandle(SpinLockState.class, "sweepRequests", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private static final String NOT_REENTRANT =
      "SpinLock is not reentrant: this thread already holds it";

  /** Outcomes of {@link #acquireSlow}. */
  private static final int ACQUIRED = 0;

  private static final int TIMED_OUT = 1;
  private static final int INTERRUPTED = 2;

  /** Creates an unlocked lock. */
  public SpinLock() {}

  // ---- field accessors, named by access mode ----

  private @Nullable Thread ownerPlain() {
    return (Thread) OWNER.get(this);
  }

  private @Nullable Thread ownerOpaque() {
    return (Thread) OWNER.getOpaque(this);
  }

  private boolean casOwner(@Nullable Thread expected, Thread value) {
    return OWNER.compareAndSet(this, expected, value);
  }

  /** Volatile store: unlock's half of the Dekker hand-shake with a parking waiter. */
  private void setOwnerVolatile(@Nullable Thread value) {
    OWNER.setVolatile(this, value);
  }

  private @Nullable Waiter waitersOpaque() {
    return (Waiter) WAITERS.getOpaque(this);
  }

  /** Volatile load: ordered after unlock's volatile store of the owner (Dekker). */
  private @Nullable Waiter waitersVolatile() {
    return (Waiter) WAITERS.getVolatile(this);
  }

  private @Nullable Waiter waitersAcquire() {
    return (Waiter) WAITERS.getAcquire(this);
  }

  private boolean casWaiters(@Nullable Waiter expected, @Nullable Waiter value) {
    return WAITERS.compareAndSet(this, expected, value);
  }

  private boolean wakingVolatile() {
    return (boolean) WAKING.getVolatile(this);
  }

  private boolean casWaking(boolean expected, boolean value) {
    return WAKING.compareAndSet(this, expected, value);
  }

  /** Volatile: whoever clears the flag then re-checks with a volatile access (see the notes). */
  private void setWakingVolatile(boolean value) {
    WAKING.setVolatile(this, value);
  }

  // ---- Lock ----

  /**
   * Acquires the lock, waiting (spin, then yield, then park) until it is free. Interrupts
   * do not stop the wait; if the thread is interrupted while waiting, its interrupt status is
   * set again when this method returns.
   *
   * @throws IllegalStateException if the current thread already holds this lock
   */
  @Override
  public void lock() {
    Thread me = Thread.currentThread();
    if (!casOwner(null, me)) {
      acquireSlow(me, false, false, 0L);
    }
  }

  /**
   * Acquires the lock unless the current thread is interrupted.
   *
   * @throws InterruptedException if the thread is interrupted before or while waiting; the
   *     lock is then not held
   * @throws IllegalStateException if the current thread already holds this lock
   */
  @Override
  public void lockInterruptibly() throws InterruptedException {
    if (Thread.interrupted()) {
      throw new InterruptedException("interrupted before acquiring the SpinLock");
    }
    Thread me = Thread.currentThread();
    if (!casOwner(null, me) && acquireSlow(me, true, false, 0L) == INTERRUPTED) {
      throw new InterruptedException("interrupted while waiting for the SpinLock");
    }
  }

  /**
   * Acquires the lock only if it is free at the time of the call.
   *
   * @return {@code true} if the lock was acquired
   * @throws IllegalStateException if the current thread already holds this lock
   */
  @Override
  public boolean tryLock() {
    Thread me = Thread.currentThread();
    if (ownerOpaque() == null && casOwner(null, me)) {
      return true;
    }
    if (ownerPlain() == me) {
      throw new IllegalStateException(NOT_REENTRANT);
    }
    return false;
  }

  /**
   * Acquires the lock if it becomes free within the timeout. A zero or negative timeout tries
   * once without waiting.
   *
   * @param time the longest time to wait
   * @param unit the unit of {@code time}
   * @return {@code true} if the lock was acquired, {@code false} if the timeout elapsed
   * @throws InterruptedException if the thread is interrupted before or while waiting
   * @throws NullPointerException if {@code unit} is null
   * @throws IllegalStateException if the current thread already holds this lock
   */
  @Override
  public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
    return tryLockNanos(Timeouts.toNanos(time, unit));
  }

  /**
   * Acquires the lock if it becomes free within the timeout. A zero or negative timeout tries
   * once without waiting; a huge one is capped and does not overflow.
   *
   * @param timeout the longest time to wait
   * @return {@code true} if the lock was acquired, {@code false} if the timeout elapsed
   * @throws InterruptedException if the thread is interrupted before or while waiting
   * @throws NullPointerException if {@code timeout} is null
   * @throws IllegalStateException if the current thread already holds this lock
   */
  public boolean tryLock(Duration timeout) throws InterruptedException {
    return tryLockNanos(Timeouts.toNanos(timeout, "timeout"));
  }

  private boolean tryLockNanos(long nanos) throws InterruptedException {
    if (Thread.interrupted()) {
      throw new InterruptedException("interrupted before acquiring the SpinLock");
    }
    Thread me = Thread.currentThread();
    if (casOwner(null, me)) {
      return true;
    }
    if (nanos <= 0L) {
      if (ownerPlain() == me) {
        throw new IllegalStateException(NOT_REENTRANT);
      }
      return false;
    }
    int r = acquireSlow(me, true, true, nanos);
    if (r == INTERRUPTED) {
      throw new InterruptedException("interrupted while waiting for the SpinLock");
    }
    return r == ACQUIRED;
  }

  /**
   * Releases the lock.
   *
   * @throws IllegalMonitorStateException if the current thread does not hold this lock
   */
  @Override
  public void unlock() {
    if (ownerPlain() != Thread.currentThread()) {
      throw notOwner();
    }
    // Volatile store, then volatile load: the store releases the critical section to the next
    // owner, and the pair is the unlocker's half of the Dekker hand-shake with a waiter that
    // pushes its node (a CAS) and then re-checks the owner (a CAS). Either this load sees the
    // node, or that re-check sees null: a wakeup cannot be missed (see the algorithm notes).
    setOwnerVolatile(null);
    if (waitersVolatile() != null) {
      signalOne();
    }
  }

  private IllegalMonitorStateException notOwner() {
    Thread o = ownerOpaque();
    return new IllegalMonitorStateException(
        "SpinLock is not held by this thread ("
            + Thread.currentThread().getName()
            + "); it is "
            + (o == null ? "unlocked" : "held by " + o.getName())
            + ": only the thread that locked it may unlock it");
  }

  /**
   * Returns a new {@link Condition} bound to this lock. The condition works like the one of
   * {@link java.util.concurrent.locks.ReentrantLock}: {@code await} releases the lock, waits
   * for a signal (or interrupt or timeout), and re-acquires the lock before returning, also
   * when it throws. Signals are delivered in the order the threads started waiting. Calling
   * any condition method without holding the lock throws {@link IllegalMonitorStateException}.
   * A zero or negative timeout, or an {@code awaitUntil} date that is not after now (however
   * far in the past), returns at once without releasing the lock; {@code awaitNanos} returns
   * the timeout minus the time spent.
   *
   * @return a new condition for this lock
   */
  @Override
  public Condition newCondition() {
    return new SpinLockCondition(this, this::isHeldByCurrentThread, "SpinLock");
  }

  // ---- extras ----

  /**
   * Acquires the lock like {@link #lock()} and returns a guard whose {@link Guard#close()}
   * releases it, for use in try-with-resources.
   *
   * @return the guard of this acquisition
   * @throws IllegalStateException if the current thread already holds this lock
   */
  public Guard acquire() {
    lock();
    return new Guard(this, Thread.currentThread());
  }

  /**
   * Tells whether some thread holds the lock right now (a snapshot, for monitoring and
   * assertions, not for synchronisation).
   *
   * @return {@code true} if the lock is held
   */
  public boolean isLocked() {
    return ownerOpaque() != null;
  }

  /**
   * Tells whether the current thread holds this lock.
   *
   * @return {@code true} if the current thread holds the lock
   */
  public boolean isHeldByCurrentThread() {
    // Plain read: see unlock() — a thread cannot wrongly read its own Thread here.
    return ownerPlain() == Thread.currentThread();
  }

  /**
   * Describes the state without blocking: {@code SpinLock[unlocked]} or {@code
   * SpinLock[locked by <thread name>]}, plus whether threads are parked.
   *
   * @return a snapshot of the state
   */
  @Override
  public String toString() {
    Thread o = ownerOpaque();
    String s = o == null ? "unlocked" : "locked by " + o.getName();
    return "SpinLock[" + s + (waitersOpaque() != null ? ", with parked waiters" : "") + "]";
  }

  // ---- slow paths ----

  private int acquireSlow(Thread me, boolean interruptible, boolean timed, long nanos) {
    if (ownerPlain() == me) {
      throw new IllegalStateException(NOT_REENTRANT);
    }
    final long deadline = timed ? System.nanoTime() + nanos : 0L;
    boolean interrupted = false; // for uninterruptible lock(): restore at the end
    int rounds = SpinBackoff.SPIN_ROUNDS;
    boolean lostRace = false; // signalled, then a running thread took the lock first
    for (;;) {
      // Phase 1: test-and-test-and-set with bounded exponential backoff.
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("spinlock.spin");
      }
      int backoff = SpinBackoff.MIN_BACKOFF;
      for (int i = 0; i < rounds; i++) {
        if (ownerOpaque() == null && casOwner(null, me)) {
          return acquired(interrupted);
        }
        backoff = SpinBackoff.pause(backoff);
      }
      // Phase 2: give the core away a few times (lets a descheduled owner run).
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("spinlock.yield");
      }
      for (int i = 0; i < SpinBackoff.YIELDS; i++) {
        SpinBackoff.yieldProcessor();
        if (ownerOpaque() == null && casOwner(null, me)) {
          return acquired(interrupted);
        }
      }
      if (interruptible && Thread.interrupted()) {
        return INTERRUPTED;
      }
      long remaining = 0L; // timed waits only: the time left
      if (timed) {
        remaining = deadline - System.nanoTime();
        if (remaining <= 0L) {
          return TIMED_OUT;
        }
      }
      if (lostRace) {
        // Phase 3a (once per lost race): sleep on a timer, unregistered; see the notes.
        lostRace = false;
        if (ProtocolWindows.ENABLED) {
          ProtocolWindows.at("spinlock.lost-race-park");
        }
        LockSupport.parkNanos(
            this,
            timed
                ? Math.min(remaining, SpinBackoff.LOST_RACE_PARK_NANOS)
                : SpinBackoff.LOST_RACE_PARK_NANOS);
        rounds = SpinBackoff.SPIN_ROUNDS_AFTER_WAKE;
        if (Thread.interrupted()) {
          if (interruptible) {
            return INTERRUPTED; // not registered: there is no signal to pass on
          }
          interrupted = true;
        }
        if (timed && deadline - System.nanoTime() <= 0L) {
          return casOwner(null, me) ? acquired(interrupted) : TIMED_OUT;
        }
        continue;
      }
      // Phase 3: register once, then park until signalled; between parks (spurious wakes) the
      // node stays registered, so a long wait holds one node (see the notes).
      Waiter w = new Waiter(me);
      push(w);
      for (;;) {
        if (casOwner(null, me)) {
          leaveHolding(w);
          return acquired(interrupted);
        }
        if (ProtocolWindows.ENABLED) {
          ProtocolWindows.at("spinlock.park");
        }
        if (timed) {
          LockSupport.parkNanos(this, remaining);
        } else {
          LockSupport.park(this); // no backstop: the wakeup cannot be missed (see the notes)
        }
        if (w.wasSignalled()) {
          break; // popped and signalled by an unlocker: the lock was just released
        }
        // Timeout, interrupt or spurious wake; still registered (or being signalled).
        if (Thread.interrupted()) {
          if (interruptible) {
            return giveUp(w, INTERRUPTED);
          }
          interrupted = true;
        }
        if (timed) {
          long left = deadline - System.nanoTime();
          if (left <= 0L) {
            if (casOwner(null, me)) {
              leaveHolding(w);
              return acquired(interrupted);
            }
            return giveUp(w, TIMED_OUT);
          }
          remaining = left;
        }
        if (ProtocolWindows.ENABLED) {
          ProtocolWindows.at("spinlock.backstop-wake");
        }
      }
      // Signalled: our wakeup has arrived, so unlockers may wake another now. Clearing the flag
      // obliges us to look at the lock again with a volatile access: unlockers that saw the
      // flag set skipped their wakeup, relying on us. The CAS is that look (a failed CAS is a
      // volatile read); then spin a little; if that fails, a running thread barged in (the
      // lost-race park above).
      setWakingVolatile(false);
      if (casOwner(null, me)) {
        return acquired(interrupted);
      }
      lostRace = true;
      rounds = SpinBackoff.SPIN_ROUNDS_AFTER_WAKE;
      if (Thread.interrupted()) {
        if (interruptible) {
          passSignalOn();
          return INTERRUPTED;
        }
        interrupted = true;
      }
      if (timed && deadline - System.nanoTime() <= 0L) {
        if (casOwner(null, me)) {
          return acquired(interrupted);
        }
        passSignalOn();
        return TIMED_OUT;
      }
    }
  }

  /**
   * The waiter owns the lock now and stops waiting: if it was signalled meanwhile, the node is
   * already off the stack and the wakeup has arrived; otherwise it unlinks its node.
   */
  private void leaveHolding(Waiter w) {
    if (w.leave()) {
      unlinkLeft(w);
    } else {
      // Signalled meanwhile: the wakeup has arrived. We hold the lock, so our unlock will look
      // at the waiters; no other re-check is needed.
      setWakingVolatile(false);
    }
  }

  /**
   * The waiter stops waiting without the lock (timeout or interrupt). A signal that reached it
   * meanwhile is passed on, so it is never spent on a thread that is not waiting.
   */
  private int giveUp(Waiter w, int outcome) {
    if (w.leave()) {
      unlinkLeft(w);
    } else {
      setWakingVolatile(false); // our wakeup arrived after all; pass it on
      passSignalOn();
    }
    return outcome;
  }

  private static int acquired(boolean interrupted) {
    if (interrupted) {
      Thread.currentThread().interrupt(); // never swallow an interrupt
    }
    return ACQUIRED;
  }

  /** A waiter that received a signal but gives up must wake someone else in its place. */
  private void passSignalOn() {
    // Volatile, after the caller's volatile clear of `waking`: an unlocker that skipped its
    // wakeup because the flag was still set released the lock before that clear, so either
    // this load sees its waiter or that waiter's re-check sees the lock free.
    if (waitersVolatile() != null) {
      signalOne();
    }
  }

  /**
   * Removes a node that went LEFT (its thread stopped waiting without a signal). On top of the
   * stack it is popped at once; elsewhere a sweep unlinks it (and every other LEFT node).
   */
  private void unlinkLeft(Waiter w) {
    // Treiber pop of our own node; nodes are never reused, so a CAS that succeeds pops exactly w.
    if (waitersAcquire() == w && casWaiters(w, w.nextAcquire())) {
      return;
    }
    requestSweep();
  }

  /**
   * Makes sure a sweep starts after this call. One thread sweeps at a time: the requester that
   * finds no request pending sweeps, and sweeps again while requests arrived meanwhile; the
   * others return at once. So every LEFT node is unlinked by a sweep that starts after it went
   * LEFT, and the stack holds at most about one node per thread that is waiting or leaving.
   */
  private void requestSweep() {
    // getAndAdd (volatile, a full fence): orders our w.leave() before the sweeper's next read
    // of the count, and so before the sweep that follows that read.
    int seen = (int) SWEEPS.getAndAdd(this, 1);
    if (seen != 0) {
      return; // the running sweeper sees the new count and sweeps again
    }
    seen = 1;
    for (;;) {
      sweep();
      if (SWEEPS.compareAndSet(this, seen, 0)) {
        return;
      }
      seen = (int) SWEEPS.getVolatile(this); // more requests arrived: sweep again
    }
  }

  /**
   * Unlinks every LEFT node. Only the one sweeper writes {@code next} of pushed nodes, only of
   * nodes it saw WAITING and only to skip LEFT ones; pushers and unlockers change only
   * {@code waiters}. So an unlocker that popped a node with a stale {@code next} puts back at
   * most LEFT nodes whose chains still reach every node behind them: no WAITING node can become
   * unreachable (see the algorithm notes).
   */
  private void sweep() {
    for (;;) {
      Waiter h = waitersAcquire();
      if (h == null) {
        return;
      }
      if (h.hasLeft()) {
        casWaiters(h, h.nextAcquire()); // pop it; on failure (push or pop) look again
        continue;
      }
      Waiter p = h;
      for (Waiter x = p.nextAcquire(); x != null; x = p.nextAcquire()) {
        if (x.hasLeft()) {
          p.setNextRelease(x.nextAcquire());
        } else {
          p = x;
        }
      }
      return;
    }
  }

  private void push(Waiter w) {
    for (;;) {
      Waiter h = waitersAcquire();
      w.setNextPlain(h); // plain: published by the release semantics of the CAS below
      if (casWaiters(h, w)) {
        return;
      }
    }
  }

  /**
   * Pops waiters until one that is still waiting is signalled, or the stack is empty. Does
   * nothing while an earlier signalled waiter has not woken up yet: waking a second thread
   * before the first has even run only adds context switches (the first will take the lock,
   * or park again and be signalled by a later unlock).
   */
  private void signalOne() {
    // Volatile read, then CAS: a set flag means a signalled thread has not yet cleared it, and
    // it looks at the lock (volatile) after clearing, so skipping is safe only if the flag is
    // really still set in the synchronization order; an opaque read could be stale.
    while (!wakingVolatile() && casWaking(false, true)) {
      for (;;) {
        // Acquire: we read h.next next, which the pusher wrote before its CAS.
        Waiter h = waitersAcquire();
        if (h == null) {
          break; // nobody to wake
        }
        if (casWaiters(h, h.nextAcquire()) && h.signal()) {
          LockSupport.unpark(h.thread);
          return; // the signalled thread clears the flag
        }
      }
      // We set the flag and woke nobody. An unlocker may have skipped its wakeup meanwhile
      // because of our flag, after a waiter pushed behind our last look: clear the flag, then
      // look again (volatile), and go round if a waiter is there.
      setWakingVolatile(false);
      if (waitersVolatile() == null) {
        return;
      }
    }
  }

  /** A registration of a thread that is parked, or about to park, waiting for the lock. */
  static final class Waiter {
    private static final VarHandle STATE;
    private static final VarHandle NEXT;

    static {
      try {
        MethodHandles.Lookup l = MethodHandles.lookup();
        STATE = l.findVarHandle(Waiter.class, "state", int.class);
        NEXT = l.findVarHandle(Waiter.class, "next", Waiter.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    static final int WAITING = 0;
    static final int SIGNALLED = 1;
    static final int LEFT = 2;

    final Thread thread;

    /**
     * The node below this one. Written plain before the publishing CAS; after that only the
     * sweeper changes it (release), to unlink LEFT nodes; unlockers and the sweeper read it
     * with acquire.
     */
    @SuppressWarnings("unused") // accessed through NEXT
    private @Nullable Waiter next;

    @SuppressWarnings("unused") // accessed through STATE
    private int state;

    Waiter(Thread thread) {
      this.thread = thread;
    }

    /** Unlocker side: WAITING -> SIGNALLED; false if the waiter already left. */
    boolean signal() {
      return STATE.compareAndSet(this, WAITING, SIGNALLED);
    }

    /** Waiter side: WAITING -> LEFT; false if it was signalled first. */
    boolean leave() {
      return STATE.compareAndSet(this, WAITING, LEFT);
    }

    /**
     * Waiter side, after a park: acquire, pairing with the unlocker's CAS (the unlocker's
     * release of the lock precedes its signal).
     */
    boolean wasSignalled() {
      return (int) STATE.getAcquire(this) == SIGNALLED;
    }

    /** Sweeper side: LEFT is final, so a true answer stays true. */
    boolean hasLeft() {
      return (int) STATE.getAcquire(this) == LEFT;
    }

    @Nullable Waiter nextAcquire() {
      return (Waiter) NEXT.getAcquire(this);
    }

    void setNextPlain(@Nullable Waiter n) {
      NEXT.set(this, n);
    }

    /** Release: the sweeper links past LEFT nodes; readers use acquire. */
    void setNextRelease(@Nullable Waiter n) {
      NEXT.setRelease(this, n);
    }
  }

  // ---- guard ----

  /**
   * Proof that a thread holds a {@link SpinLock}; closing it releases the lock. Use it in a
   * try-with-resources statement. A guard belongs to the thread that acquired it.
   */
  public static final class Guard implements AutoCloseable {
    private final SpinLock lock;
    private final Thread thread;
    private boolean closed; // written and read only by `thread` (checked first in close)

    Guard(SpinLock lock, Thread thread) {
      this.lock = lock;
      this.thread = thread;
    }

    /**
     * Releases the lock.
     *
     * @throws IllegalMonitorStateException if called from a thread other than the one that
     *     acquired the guard, or if that thread no longer holds the lock
     * @throws IllegalStateException if the guard was already closed
     */
    @Override
    public void close() {
      if (Thread.currentThread() != thread) {
        throw new IllegalMonitorStateException(
            "SpinLock guard belongs to thread "
                + thread.getName()
                + ", not to "
                + Thread.currentThread().getName()
                + ": close it in the thread that acquired it");
      }
      if (closed) {
        throw new IllegalStateException(
            "SpinLock guard already closed: close each guard exactly once");
      }
      closed = true;
      lock.unlock();
    }

    /**
     * Describes the guard without blocking.
     *
     * @return the guard's owner thread and whether it is closed
     */
    @Override
    public String toString() {
      return "SpinLock.Guard[" + thread.getName() + (closed ? ", closed]" : "]");
    }
  }
}

/** 64 bytes of padding before {@link SpinLockState}'s fields (see SpinLock's algorithm notes). */
@SuppressWarnings("unused")
abstract class SpinLockPadBefore {
  int p0x; // fills the gap after the object header, or a subclass field would go there
  long p00, p01, p02, p03, p04, p05, p06, p07;
}

/** {@link SpinLock}'s state, accessed only through the VarHandles in {@code SpinLock}. */
@SuppressWarnings("unused") // accessed through SpinLock's VarHandles
abstract class SpinLockState extends SpinLockPadBefore {
  /** The thread holding the lock, or null. */
  @Nullable Thread owner;

  /** Treiber stack of parked (or about to park) waiters. */
  SpinLock.@Nullable Waiter waiters;

  /** Sweep requests not yet served; nonzero while one thread sweeps LEFT nodes off the stack. */
  int sweepRequests;

  /** True while a signalled waiter has not yet woken up (at most one wakeup in flight). */
  boolean waking;
}

/** 64 bytes of padding after {@link SpinLockState}'s fields. */
@SuppressWarnings("unused")
abstract class SpinLockPadAfter extends SpinLockState {
  long q00, q01, q02, q03, q04, q05, q06, q07;
}
