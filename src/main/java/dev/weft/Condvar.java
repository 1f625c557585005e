package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * A condition variable that lets threads holding a {@link Mutex} sleep until another thread
 * changes the protected value and notifies them: Rust's {@code Condvar}, with the re-check loop
 * built in so that spurious wake-ups are never visible.
 *
 * <pre>{@code
 * Mutex<Boolean> ready = new Mutex<>(false);
 * Condvar cv = new Condvar();
 *
 * // worker: sleep until ready
 * try (var g = ready.lock()) {
 *   cv.awaitWhile(g, r -> !r);                       // no hand-written loop
 * }
 * // main: set ready, then wake the worker
 * try (var g = ready.lock()) {
 *   g.set(true);
 * }
 * cv.notifyOne();
 * }</pre>
 *
 * <p>The plain-JDK version needs the loop and the lock around the signal:
 *
 * <pre>{@code
 * lock.lock();
 * try {
 *   while (!ready) cond.await();
 * } finally {
 *   lock.unlock();
 * }
 * }</pre>
 *
 * <p>A {@code Condvar} is bound to the {@link Mutex} of the first guard it is used with (by
 * any wait, even one that returns at once), and must then always be used with guards of that
 * mutex (as in Rust). For waits that need no
 * notify call at all, see {@link Mutex#awaitThen} and {@link Mutex#lockWhen}.
 *
 * <p><b>Waiting policy:</b> a wait whose predicate blocks first releases the mutex and spins
 * for up to 10&nbsp;&micro;s until another thread releases it, then re-checks; only after that
 * does it sleep on the underlying {@link java.util.concurrent.locks.Condition}. A partner that
 * is running and answers quickly (a hand-off, a producer that fills the slot right away) is
 * seen without a park/unpark round trip: measured on a 2-core VM, a two-thread ping-pong took
 * 1.4&ndash;2.8&nbsp;&micro;s per round trip against about 50&nbsp;&micro;s for {@code
 * ReentrantLock} + {@code Condition}. The price is up to 10&nbsp;&micro;s of CPU per wait that
 * nobody answers that fast; on a single-CPU machine the spin is skipped.
 *
 * <p><b>Memory consistency effects:</b> Actions in a thread prior to calling {@link #notifyOne}
 * or {@link #notifyAllWaiters} <i>happen-before</i> actions in a thread after it returns from a wait
 * that the notification ended, because the waiter re-acquires the mutex after the notifier
 * released it. Returning from any wait re-acquires the mutex, with the memory effects of
 * {@link Mutex}. A wait that a notify from outside the mutex did not need to wake, because the
 * wait's last check of the predicate comes after the notifier's change, sees that change as the
 * predicate reads it: state changed without the mutex should be volatile or atomic.
 *
 * <p><b>Thread safety:</b> all methods may be called from any thread. The wait methods require
 * the caller to own an open guard; the notify methods may be called with or without holding the
 * mutex: without it, a notify briefly acquires the mutex (only when a thread is waiting), so a
 * notify can never slip in between a waiter's check and its sleep, also when the predicate
 * reads state changed without the mutex (a shutdown flag, an {@code AtomicBoolean}): a change
 * made before a notify call is seen by every wait that the call does not wake. ({@code
 * Condition.signal} requires the lock, so with the JDK such a notify always takes it; a session
 * 17 review found that weft lost this wake-up, fixed in session 18, {@code Review17fTest}.)
 *
 * <p><b>Timeouts:</b> a timed wait must return holding the mutex (the guard stays open), so
 * the timeout bounds the wait for the predicate, not the final re-acquisition: when the
 * deadline passes, the call takes the mutex back, which takes as long as other threads keep
 * it, exactly as {@link java.util.concurrent.locks.Condition#awaitNanos} and {@link
 * Object#wait(long)} do. With the mutex free at the deadline, it returns within the deadline
 * plus the scheduler's delay in waking a timed park. A zero or negative timeout (or a past
 * deadline) checks the predicate once and never releases the mutex. (For a wait that gives up
 * without the lock when the deadline passes, use {@link Mutex#lockWhen(Predicate, Duration)}.)
 *
 * <p><b>Misuse:</b> checked first by every wait method, on every path (whether the wait would
 * block, or returns at once because the predicate already allows it or the timeout is zero):
 * null arguments throw {@link NullPointerException}; a guard of a different mutex than the
 * first one throws {@link IllegalArgumentException} (checked before the guard itself, as
 * Guava's {@code Monitor} checks its guards); a closed guard throws {@link
 * IllegalStateException}, another thread's guard {@link IllegalMonitorStateException}. A call
 * refused this way changes nothing: the mutex stays held, the binding unchanged.
 */
public final class Condvar {
  /*
   * Algorithm notes:
   *
   * Binding. `binding` is null until the first wait, then an immutable Binding(mutex, condition)
   * set once by CAS. The condition is created from the mutex's lock (an AQS) by the binding
   * thread; the CAS publishes it with volatile semantics and readers use getAcquire, so a thread
   * that sees the Binding sees its final fields fully constructed (they are final anyway). A
   * losing CAS reads the winner's Binding and compares mutexes: a different mutex throws
   * IllegalArgumentException.
   *
   * Misuse checks first (issue 18, defect 9). Every wait runs checkGuard before it evaluates the
   * predicate or looks at the timeout: an existing binding to another mutex (one getAcquire and
   * a reference comparison, no side effect), then the guard's owner and open state, then the
   * binding of an unbound Condvar. So the checks hold on the paths that return without waiting,
   * and a refused call binds nothing and releases nothing.
   *
   * Deadlines and interrupts. A wait checks the interrupt status before it gives the mutex up
   * (an interrupted caller whose predicate blocks throws at once, holding the mutex) and again
   * after the spin phase (Mutex.spinUntilReleased re-acquires uninterruptibly, because a
   * Condvar wait must return and throw holding the mutex). A zero timeout returns before the
   * spin phase: the mutex is never released. The spin is cut to the timeout; the final
   * re-acquisition (spin phase or Condition.awaitNanos) is not bounded by the deadline, since
   * the guard must hold the mutex on return: the bound documented in the class Javadoc.
   *
   * Waiting. All waits run while the caller holds the mutex (its guard is checked). The loop
   * `while (blocked(value)) condition.await()` re-checks after every wake-up. `waiters` counts
   * threads from just before their last check (after the spin phase, mutex held) until they
   * leave; it is written only under the lock (plain read, release write).
   *
   * Notifying without the lock (Dekker). The predicate may read state changed without the mutex
   * (a flag, an AtomicBoolean) and the notify may come from outside the mutex: neither side then
   * orders the other through the lock. So the waiter counts itself and full-fences before its
   * last check, and notify full-fences after the caller's change before it reads `waiters`: of
   * the two stores (count, change) at least one is seen by the other side's later load. Either
   * the check sees the change (the waiter does not sleep), or notify sees the count and
   * acquires the mutex, which the waiter holds from that check until await releases it, so the
   * signal comes after the waiter is asleep. A notify that reads 0 returns without the lock.
   * Until session 18 the waiter counted itself after its check and notify read `waiters` with
   * no fence: sound only for state changed under the mutex (review 17f found the lost wake-up).
   * A notify from the mutex's holder needs neither fence: a waiter's last check needs the mutex,
   * so it comes after the holder's change; the holder signals if anyone is counted. A waiter
   * whose first (pre-spin) check blocked is not counted during the spin phase: its last check
   * comes after it counts itself.
   *
   * Giving up passes a notification on. notifyOne wakes one waiter; if that waiter then leaves
   * without its predicate satisfied (timeout racing the signal, interrupt after the signal,
   * throwing predicate), the notification would be lost to the others. leave() therefore
   * signals one other waiter when a wait ends unsatisfied. This cannot cascade: only waits that
   * end (a finite number) pass a signal on; a waiter whose predicate is still blocked after a
   * wake-up just sleeps again without signalling. The extra wake-up is at worst spurious, and
   * the loop hides it.
   *
   * Automatic signalling interaction: Condition.await releases the lock without passing through
   * Mutex.release(), so before every await (and before the spin) the waiter calls
   * signalChangedBeforeWait(): it may have changed the value before waiting, and so may its
   * predicate, which runs under the mutex after every wake-up; Mutex.lockWhen waiters must
   * re-check. (Until review 22 only the first await did: a predicate that changed the value
   * after a notify left a lockWhen waiter parked with its own predicate true and the mutex
   * free.) While nobody waits in lockWhen it is one null check.
   */

  private static final VarHandle BINDING;
  private static final VarHandle WAITERS;

  static {
    // JFR: if a recording is running, weft's event classes load now, not inside a first wait.
    WeftJfr.prepareIfRecording();
  }

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      BINDING = l.findVarHandle(Condvar.class, "binding", Binding.class);
      WAITERS = l.findVarHandle(Condvar.class, "waiters", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** Immutable pairing of the bound mutex with a condition of its lock. */
  private static final class Binding {
    final Mutex<?> mutex;
    final Condition condition;

    Binding(Mutex<?> mutex) {
      this.mutex = mutex;
      this.condition = mutex.sync.newCondition();
    }
  }

  /** Null until first use; set once by CAS. Accessed only through {@link #BINDING}. */
  @SuppressWarnings("UnusedVariable") // accessed through the BINDING VarHandle
  private @Nullable Binding binding;

  /** Threads currently waiting; written only under the bound mutex. Accessed via WAITERS. */
  @SuppressWarnings("UnusedVariable") // accessed through the WAITERS VarHandle
  private int waiters;

  /** Creates a condition variable, not yet bound to any mutex. */
  public Condvar() {}

  // ---------------------------------------------------------------------------------------
  // Waiting
  // ---------------------------------------------------------------------------------------

  /**
   * Releases the guard's mutex and sleeps while {@code blocked} holds for the value, re-checking
   * it under the mutex after every wake-up; returns holding the mutex again with {@code blocked}
   * false. Returns at once, without releasing, if {@code blocked} is already false. The guard
   * stays open throughout.
   *
   * @param guard an open guard of the mutex this condition variable is bound to
   * @param blocked the condition under which to keep waiting (Rust's {@code wait_while})
   * @param <T> the type of the protected value
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   *     (not if {@code blocked} is already false); the mutex is held again when this is thrown
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the guard belongs to a different mutex than this
   *     condition variable's first use
   * @throws IllegalStateException if the guard is closed
   * @throws IllegalMonitorStateException if the guard belongs to another thread
   */
  public <T extends @Nullable Object> void awaitWhile(
      Mutex.Guard<T> guard, Predicate<? super T> blocked) throws InterruptedException {
    Condition c = checkGuard(guard, blocked);
    Mutex<T> m = guard.mutex;
    if (blocked.test(m.valueLocked())) {
      awaitBlocked(m, c, blocked); // the blocking part in its own method keeps this one small
    }
  }

  /*
   * JFR (dev.weft.ConditionWait): each blocking part below runs inside an event when a
   * recording asks for it (WeftJfr), from the first blocked check to the return: ready, timed
   * out, interrupted, or failed (the predicate threw).
   */

  private <T extends @Nullable Object> void awaitBlocked(
      Mutex<T> m, Condition c, Predicate<? super T> blocked) throws InterruptedException {
    // Before the event and before releasing anything: an interrupted caller does not wait, and
    // an event for it would report a wait that did not happen.
    checkInterrupt();
    Object jfr = WeftJfr.conditionWaitBegin();
    if (jfr == null) {
      awaitBlockedWait(m, c, blocked);
      return;
    }
    int outcome = WeftJfr.FAILED;
    try {
      awaitBlockedWait(m, c, blocked);
      outcome = WeftJfr.ACQUIRED;
    } catch (InterruptedException e) {
      outcome = WeftJfr.INTERRUPTED;
      throw e;
    } finally {
      WeftJfr.conditionWaitEnd(jfr, m, "Condvar.awaitWhile", -1L, outcome);
    }
  }

  /**
   * Whether a virtual thread ever waited here: a notify under the mutex then probes as deep as
   * a virtual thread's wake-up needs. Sticky; plain: written and read under the mutex (a waiter
   * writes it before its wait releases the mutex; a notifier reads it holding the mutex).
   */
  private boolean virtualWaited;

  /** Called by a waiter holding the mutex, after its stack probe. */
  private void noteVirtualWaiter() {
    if (!virtualWaited && StackHeadroom.queueingVirtual()) {
      virtualWaited = true;
    }
  }

  private <T extends @Nullable Object> void awaitBlockedWait(
      Mutex<T> m, Condition c, Predicate<? super T> blocked) throws InterruptedException {
    // The wait gives the mutex up and takes it back (a spin, the AQS condition queue, a
    // re-acquisition): an overflow anywhere in between would leave a node queued or return
    // without the mutex (review 18). Checked once, before anything changes; every later
    // step runs from this frame and needs less stack. See StackHeadroom.
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES);
    noteVirtualWaiter();
    m.signalChangedBeforeWait(); // the caller checked the interrupt status before the event
    long window = m.sync.waitSpinLocked(); // adaptive: see Mutex's algorithm notes
    long spun = m.spinUntilReleased(window);
    // Interrupted during the spin, which is part of the wait: throw now, holding the mutex
    // again, even if the predicate holds by now (as Condition.await throws for an interrupt
    // that came before the signal).
    checkInterrupt();
    enterBeforeLastCheck();
    boolean passOn = false; // a wait that ends unsatisfied passes a notifyOne on (leave)
    try {
      if (!blocked.test(m.valueLocked())) {
        m.sync.spinCaught(spun, window);
        return;
      }
      m.sync.spinFailed(window);
      passOn = true;
      do {
        m.signalChangedBeforeWait(); // the predicate may have changed the value (notes)
        c.await();
      } while (blocked.test(m.valueLocked()));
      passOn = false;
    } finally {
      leave(c, passOn);
    }
  }

  /**
   * Like {@link #awaitWhile(Mutex.Guard, Predicate)}, but gives up after {@code timeout}. The
   * timeout bounds the wait for {@code blocked} to become false; after it, the mutex is taken
   * back before this returns, which waits as long as another thread holds it (see "Timeouts"
   * in the class documentation).
   *
   * <p>On a virtual thread, a wait that fails unmounts the thread before it returns: see <a
   * href="package-summary.html#virtual-timeouts">timed waits on virtual threads</a>.
   *
   * @param guard an open guard of the mutex this condition variable is bound to
   * @param blocked the condition under which to keep waiting
   * @param timeout the longest time to wait; zero or negative means check once without waiting
   *     (and without releasing the mutex); huge values are capped (about 146 years)
   * @param <T> the type of the protected value
   * @return {@code true} if {@code blocked} is false on return, {@code false} if the timeout
   *     elapsed while it still held; the mutex is held again in both cases
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   *     (not if it returns without waiting); the mutex is held again when this is thrown
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the guard belongs to a different mutex
   * @throws IllegalStateException if the guard is closed
   * @throws IllegalMonitorStateException if the guard belongs to another thread
   */
  public <T extends @Nullable Object> boolean awaitWhile(
      Mutex.Guard<T> guard, Predicate<? super T> blocked, Duration timeout)
      throws InterruptedException {
    long nanos = Timeouts.toNanos(timeout, "timeout");
    Condition c = checkGuard(guard, blocked);
    Mutex<T> m = guard.mutex;
    if (!blocked.test(m.valueLocked())) {
      return true;
    }
    if (nanos <= 0L) {
      return false; // check once: the mutex is never released
    }
    return awaitBlockedNanos(m, c, blocked, nanos);
  }

  private <T extends @Nullable Object> boolean awaitBlockedNanos(
      Mutex<T> m, Condition c, Predicate<? super T> blocked, long nanos)
      throws InterruptedException {
    // Before the event and before releasing anything: an interrupted caller does not wait, and
    // an event for it would report a wait that did not happen.
    checkInterrupt();
    Object jfr = WeftJfr.conditionWaitBegin();
    if (jfr == null) {
      return awaitBlockedNanosWait(m, c, blocked, nanos);
    }
    int outcome = WeftJfr.FAILED;
    try {
      boolean ready = awaitBlockedNanosWait(m, c, blocked, nanos);
      outcome = ready ? WeftJfr.ACQUIRED : WeftJfr.TIMED_OUT;
      return ready;
    } catch (InterruptedException e) {
      outcome = WeftJfr.INTERRUPTED;
      throw e;
    } finally {
      WeftJfr.conditionWaitEnd(jfr, m, "Condvar.awaitWhile", nanos, outcome);
    }
  }

  private <T extends @Nullable Object> boolean awaitBlockedNanosWait(
      Mutex<T> m, Condition c, Predicate<? super T> blocked, long nanos)
      throws InterruptedException {
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES); // as in awaitBlockedWait
    noteVirtualWaiter();
    m.signalChangedBeforeWait(); // the caller checked the interrupt status before the event
    long start = System.nanoTime();
    long window = Math.min(nanos, m.sync.waitSpinLocked()); // adaptive: see Mutex's notes
    long spun = m.spinUntilReleased(window);
    long remaining = nanos - (System.nanoTime() - start); // the re-acquisition counts too
    checkInterrupt(); // interrupted during the spin: as in awaitBlockedWait
    enterBeforeLastCheck();
    boolean passOn = false; // as in awaitBlockedWait
    try {
      if (!blocked.test(m.valueLocked())) {
        m.sync.spinCaught(spun, window);
        return true;
      }
      m.sync.spinFailed(window);
      if (remaining <= 0L) {
        // The spin used up the timeout; never slept, so nothing to pass on. A virtual thread has
        // no spin window, so it has not even released the mutex: see timedOutUnmounting.
        return timedOutUnmounting(m, blocked);
      }
      passOn = true;
      do {
        if (remaining <= 0L) {
          boolean ready = timedOutUnmounting(m, blocked); // awaitNanos may not have parked
          passOn = !ready; // ready: this wait used the wake-up it may have had
          return ready;
        }
        // awaitNanos computes its own deadline from a value <= Timeouts.MAX_NANOS: no overflow.
        m.signalChangedBeforeWait(); // the predicate may have changed the value (notes)
        remaining = c.awaitNanos(remaining);
      } while (blocked.test(m.valueLocked()));
      passOn = false;
      return true;
    } finally {
      leave(c, passOn);
    }
  }

  /**
   * Like {@link #awaitWhile(Mutex.Guard, Predicate, Duration)} with an absolute deadline on the
   * system clock, converted to a timeout with {@link Instant#now()} when called (compared with
   * now before anything is subtracted, so any {@code Instant} works).
   *
   * @param guard an open guard of the mutex this condition variable is bound to
   * @param blocked the condition under which to keep waiting
   * @param deadline when to give up; a deadline in the past means check once without waiting
   * @param <T> the type of the protected value
   * @return {@code true} if {@code blocked} is false on return, {@code false} if the deadline
   *     passed while it still held
   * @throws InterruptedException if the current thread is interrupted while waiting
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the guard belongs to a different mutex
   * @throws IllegalStateException if the guard is closed
   * @throws IllegalMonitorStateException if the guard belongs to another thread
   */
  public <T extends @Nullable Object> boolean awaitWhile(
      Mutex.Guard<T> guard, Predicate<? super T> blocked, Instant deadline)
      throws InterruptedException {
    Objects.requireNonNull(deadline, "deadline");
    Instant now = Instant.now();
    // Compared before subtracting, so that no deadline, however far off, is ever subtracted
    // from now when it lies in the past (Duration.between itself cannot overflow for Instants).
    return awaitWhile(
        guard, blocked, deadline.isAfter(now) ? Duration.between(now, deadline) : Duration.ZERO);
  }

  /**
   * Like {@link #awaitWhile(Mutex.Guard, Predicate)}, but keeps waiting if interrupted. An
   * interrupt received while waiting is restored (the thread's interrupt status is set) before
   * this method returns.
   *
   * @param guard an open guard of the mutex this condition variable is bound to
   * @param blocked the condition under which to keep waiting
   * @param <T> the type of the protected value
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the guard belongs to a different mutex
   * @throws IllegalStateException if the guard is closed
   * @throws IllegalMonitorStateException if the guard belongs to another thread
   */
  public <T extends @Nullable Object> void awaitWhileUninterruptibly(
      Mutex.Guard<T> guard, Predicate<? super T> blocked) {
    Condition c = checkGuard(guard, blocked);
    Mutex<T> m = guard.mutex;
    if (!blocked.test(m.valueLocked())) {
      return;
    }
    Object jfr = WeftJfr.conditionWaitBegin();
    if (jfr == null) {
      awaitBlockedUninterruptibly(m, c, blocked);
      return;
    }
    int outcome = WeftJfr.FAILED;
    try {
      awaitBlockedUninterruptibly(m, c, blocked);
      outcome = WeftJfr.ACQUIRED;
    } finally {
      WeftJfr.conditionWaitEnd(jfr, m, "Condvar.awaitWhileUninterruptibly", -1L, outcome);
    }
  }

  private <T extends @Nullable Object> void awaitBlockedUninterruptibly(
      Mutex<T> m, Condition c, Predicate<? super T> blocked) {
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES); // as in awaitBlockedWait
    noteVirtualWaiter();
    m.signalChangedBeforeWait();
    long window = m.sync.waitSpinLocked(); // adaptive: see Mutex's algorithm notes
    long spun = m.spinUntilReleased(window);
    enterBeforeLastCheck();
    boolean passOn = false; // as in awaitBlockedWait
    try {
      if (!blocked.test(m.valueLocked())) {
        m.sync.spinCaught(spun, window);
        return;
      }
      m.sync.spinFailed(window);
      passOn = true;
      do {
        m.signalChangedBeforeWait(); // the predicate may have changed the value (notes)
        c.awaitUninterruptibly(); // restores the interrupt status itself
      } while (blocked.test(m.valueLocked()));
      passOn = false;
    } finally {
      leave(c, passOn);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Notifying
  // ---------------------------------------------------------------------------------------

  /**
   * Wakes one waiting thread, if any; it re-checks its predicate and sleeps again if the
   * predicate still blocks it. Use this only when every waiter waits for the same condition
   * (any one of them can make progress); when waiters wait for different conditions, the one
   * woken may not be the one that can proceed, so use {@link #notifyAllWaiters()}. A waiter that
   * is woken but then gives up (timeout, interrupt) passes the wake-up on to another waiter.
   * May be called with or without holding the bound mutex; without it, and only if a thread is
   * waiting, this briefly acquires the mutex (uninterruptibly). Whatever the caller changed
   * before this call is seen by the re-check of a waiter it wakes; a waiter it does not need to
   * wake sees it too, provided state changed without the mutex is volatile or atomic.
   */
  public void notifyOne() {
    notify(false);
  }

  /**
   * Wakes every waiting thread; each re-checks its predicate. May be called with or without
   * holding the bound mutex, as for {@link #notifyOne()}. (Rust's {@code notify_all}; the name
   * {@code notifyAll} is taken by the final method of {@link Object}.)
   */
  public void notifyAllWaiters() {
    notify(true);
  }

  private void notify(boolean all) {
    Binding b = bindingAcquire();
    if (b != null && b.mutex.sync.heldByCurrentThread()) {
      // Holding the mutex: a waiter is either asleep in the condition or has not made its last
      // check yet (it needs the mutex for that), so it sees our change; no fence needed.
      if (waitersPlain() > 0) { // plain: written only under the mutex, which we hold
        // A stack probe first, as SpinLock's and TicketLock's signals have: the AQS's signal
        // takes the waiter's node off the condition, then queues it for the mutex; an overflow
        // between the two leaves the waiter's await spinning for good (review 24's sweep of a
        // notify under the mutex: 6 of 6 forks; with this probe 0 of 5). Nothing has changed
        // if it throws. About 80 ns, only when a waiter is counted.
        // As deep as a virtual waiter's wake-up needs once one has waited here (session 26:
        // the JDK's Condition does not say whom it wakes; see StackHeadroom.wakeFrames).
        StackHeadroom.ensure(StackHeadroom.wakeFrames(virtualWaited));
        signal(b.condition, all);
      }
      return;
    }
    notifyWithoutTheMutex(all);
  }

  /** Slow path of notify: the caller does not hold the mutex (or the Condvar is unbound). */
  private void notifyWithoutTheMutex(boolean all) {
    if (waitersAfterChange() == 0) {
      return; // any waiter still to make its last check will see the change
    }
    Binding b = bindingAcquire(); // non-null: bound before a waiter counts itself (acquire above)
    if (b == null) {
      return; // unreachable, kept for NullAway
    }
    Mutex<?> m = b.mutex;
    if (LockOrder.enabled()) {
      LockOrder.beforeWait(m, false); // this thread waits for m here (found by review)
    }
    // A stack probe before the mutex is taken (see StackHeadroom): a StackOverflowError in the
    // acquisition's queueing, in the signal or in the release below would leave the mutex held
    // by a thread whose notify threw (every other thread then waits for good), a waiter half
    // signalled (the AQS has taken its node off the condition but not queued it for the lock:
    // its await then spins for good), or a queued thread's wake-up lost. Review 24's sweep of
    // notifyOne near the stack's end left the mutex held in every round before this probe, and
    // a half-done signal in 1 fork of 4 with a 16-frame probe (the depth of a guard's waking
    // close); QUEUE_FRAMES, as Mutex.lockContended, covers all three. About 190 ns, only when a
    // waiter is counted and the notifier does not hold the mutex; nothing is held while it runs.
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES);
    // The counted waiter holds the mutex from its last check until await releases it, so taking
    // the mutex orders the signal after that waiter is asleep in the condition.
    // Uninterruptibly, even without a queue node (a full heap, JDK 17); not the holder (checked
    // above), so it cannot self-deadlock.
    m.acquireEvenWithoutNode();
    try {
      signal(b.condition, all);
    } finally {
      m.sync.release(1); // nothing changed: no automatic signalling needed
    }
  }

  private static void signal(Condition c, boolean all) {
    if (all) {
      c.signalAll();
    } else {
      c.signal();
    }
  }

  // ---------------------------------------------------------------------------------------
  // State queries
  // ---------------------------------------------------------------------------------------

  /**
   * Reports whether threads are waiting; an estimate for monitoring, not for synchronisation.
   *
   * @return {@code true} if at least one thread was waiting at some moment during the call
   */
  public boolean hasWaiters() {
    return (int) WAITERS.getOpaque(this) > 0;
  }

  /**
   * Describes the state without locking.
   *
   * @return for example {@code Condvar[unbound]} or {@code Condvar[bound, 2 waiting]}
   */
  @Override
  public String toString() {
    if (bindingAcquire() == null) {
      return "Condvar[unbound]";
    }
    return "Condvar[bound, " + (int) WAITERS.getOpaque(this) + " waiting]";
  }

  // ---------------------------------------------------------------------------------------
  // Internals
  // ---------------------------------------------------------------------------------------

  /**
   * The misuse checks of every wait, made before anything else (before the predicate runs and
   * before a zero timeout returns), so that they hold on every path: a guard of another mutex
   * (checked first, as Guava's {@code Monitor} does, and without touching the guard), then a
   * guard of another thread or a closed guard; finally binds an unbound condition variable to
   * the guard's mutex.
   *
   * @return the condition of the binding
   */
  private <T extends @Nullable Object> Condition checkGuard(
      Mutex.Guard<T> guard, Predicate<? super T> blocked) {
    Objects.requireNonNull(guard, "guard");
    Objects.requireNonNull(blocked, "blocked");
    Binding b = bindingAcquire();
    if (b != null && b.mutex != guard.mutex) {
      throw wrongMutex(b.mutex, guard.mutex);
    }
    guard.checkUsable();
    return b != null ? b.condition : bind(guard.mutex).condition;
  }

  private static IllegalArgumentException wrongMutex(Mutex<?> bound, Mutex<?> given) {
    return new IllegalArgumentException(
        "Condvar is bound to " + bound + " (its first use) but was used with a guard of "
            + given + "; use one Condvar per Mutex");
  }

  /**
   * A timed wait whose deadline has passed, holding the mutex with {@code blocked} true. A
   * virtual thread first releases the mutex, unmounts once and takes the mutex back, as {@code
   * Condition.await} would: its wait has no spin window, so its deadline could pass before it
   * had released the mutex or parked, and an awaitWhile(1 ns) retry loop kept the mutex and its
   * carrier from the thread that would change the state (session 20 audit;
   * SpinBackoff.unmountBeforeTimeout). Also after an {@code awaitNanos}, which gives up without
   * parking when no time is left at its park. Another thread can change the state (and notify)
   * while the mutex is released, so the predicate is checked again under the mutex: a timeout
   * is reported only after a check that still blocked (review 20b: it returned false with the
   * state changed, and a notify from outside the mutex in that gap was lost). An interrupt
   * during the park is reported as one; one already pending skips the park (see
   * SpinBackoff.unmountBeforeTimeoutInterrupted).
   *
   * @return {@code true} if {@code blocked} no longer holds after the park, else {@code false}
   */
  private static <T extends @Nullable Object> boolean timedOutUnmounting(
      Mutex<T> m, Predicate<? super T> blocked) throws InterruptedException {
    Thread me = Thread.currentThread();
    if (!SpinBackoff.isVirtual(me) || me.isInterrupted()) {
      return false;
    }
    m.releaseUnmountReacquire();
    checkInterrupt();
    return !blocked.test(m.valueLocked());
  }

  private static void checkInterrupt() throws InterruptedException {
    if (Thread.interrupted()) {
      throw new InterruptedException("interrupted while waiting on a Condvar");
    }
  }

  private @Nullable Binding bindingAcquire() {
    // Acquire pairs with the CAS's volatile write: the Binding's fields are visible.
    return (Binding) BINDING.getAcquire(this);
  }

  private Binding bind(Mutex<?> m) {
    Binding b = bindingAcquire();
    if (b == null) {
      Binding fresh = new Binding(m);
      Binding witness = (Binding) BINDING.compareAndExchange(this, null, fresh);
      b = witness == null ? fresh : witness;
    }
    if (b.mutex != m) {
      throw wrongMutex(b.mutex, m); // another thread bound it first, to another mutex
    }
    return b;
  }

  /**
   * The notifier's half of the Dekker pair (jcstress: CondvarDekkerStress): the count of
   * waiters, read after a full fence.
   */
  int waitersAfterChange() {
    // Full fence: orders the caller's change (any store before this call, with or without the
    // mutex) before the read of waiters. A waiter counts itself and fences before its last
    // check (enterBeforeLastCheck): of the two, at least one sees the other's store, so either
    // that check sees the change or this read sees the waiter (store-buffer litmus with a full
    // fence on both sides, which no weaker access mode forbids).
    VarHandle.fullFence();
    return waitersAcquire();
  }

  /**
   * Counts the caller as a waiter before its last check of the predicate (it holds the mutex),
   * then fences: see notifyWithoutTheMutex. Counting after the check, as this did until session
   * 18, let a notify from outside the mutex that followed a change made without it see no
   * waiter and return while the waiter went to sleep (review 17f).
   */
  void enterBeforeLastCheck() {
    addWaiters(1);
    // Full fence: the count's store must be ordered before the predicate's loads (a release
    // store alone may be reordered with later loads, which is exactly the lost wake-up).
    VarHandle.fullFence();
  }

  /**
   * Leaves the wait set. A waiter that gives up after sleeping (timeout, interrupt, throwing
   * predicate) may have consumed a {@link #notifyOne()} meant for another waiter; it passes one
   * wake-up on ({@code passOn}), which at worst is a spurious wake-up that the other waiter's
   * loop hides. A waiter whose last check let it through never slept and passes nothing on.
   */
  private void leave(Condition c, boolean passOn) {
    addWaiters(-1);
    if (passOn && waitersPlain() > 0) {
      c.signal();
    }
  }

  private int waitersAcquire() {
    // Acquire pairs with addWaiters' release: a thread that sees a waiter counted sees the
    // binding that waiter used (bound before it counted itself).
    return (int) WAITERS.getAcquire(this);
  }

  private void addWaiters(int delta) {
    // Plain read and release write: the field is only written while the bound mutex is held,
    // so the read is ordered by the lock; the release write makes it (and the binding before
    // it) visible to notify's acquire read outside the lock, without tearing.
    int n = waitersPlain();
    WAITERS.setRelease(this, n + delta);
  }

  /**
   * Plain: the count is written only under the bound mutex, which every caller holds. One call
   * site for notify, addWaiters and leave, linked in the initializer (see linkRareSteps).
   */
  private int waitersPlain() {
    return (int) WAITERS.get(this);
  }

  static {
    // Last of the static initializers: the classes this one's slow paths use are initialized
    // with it, not on a first slow path near the end of some thread's stack, where an overflow
    // in their initializers would break them for the rest of the JVM (see
    // StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, SpinBackoff.class, Mutex.class);
    linkRareSteps();
  }

  /**
   * Links, on a condition variable nobody else can see, the plain read of the waiter count, so
   * that its call site is not linked on a first run inside a window (linking allocates, and in
   * a full heap it throws). Session 33's audit of LinkageAfterInitTest's baseline: leave()'s
   * read, which decides whether a waiter that gives up passes its notification on, ran after
   * the count went down, and a first link that threw there lost a notifyOne meant for another
   * waiter, which then slept with its predicate satisfied. The read is now one accessor; its
   * other first runs (a notify under the mutex, a wait's count) come before anything changes,
   * as do the binding's CAS and the other reads and the count's store, which stay linked on
   * first use (see linkage-after-init-baseline.txt).
   */
  private static void linkRareSteps() {
    new Condvar().waitersPlain(); // plain read; nothing is bound, counted or signalled
  }
}
