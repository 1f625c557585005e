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
 * Thread#yield()} up to 3 times, trying once after each (a virtual thread spins one round
 * only and skips this step: see below), and finally parks with {@link
 * LockSupport}; {@link #unlock()} wakes one parked waiter (at most one wakeup is in flight at
 * a time). A woken waiter gets 4 more spin rounds; if a running thread took the lock first,
 * it parks again and asks for a hand-over (below). With hand-over switched off, or not yet due,
 * it instead sleeps about 50 &micro;s on a timer, without asking to be woken (so the threads
 * that keep the lock busy do not pay for waking it again), spins and yields once more, and
 * only then parks until signalled. To keep the
 * uncontended unlock a single release store, one parked waiter (the one that found no other
 * waiter when it parked) re-checks the lock on its own every millisecond, which covers a rare
 * race in which an unlock misses a waiter (see the algorithm notes); every other parked waiter
 * sleeps until it is signalled and takes no CPU. (Until issue 20 every waiter re-checked each
 * millisecond: 2,000 virtual threads behind a lock holder that slept took 2.3&ndash;38 s against
 * {@code ReentrantLock}'s 1.3 s, because those timer wakes kept the carriers busy.) A virtual
 * thread spins one round (under a microsecond) and parks: its park is cheap, its spin holds a
 * carrier that an unmounted holder may need, and its {@code Thread.yield()} requeues it on its
 * carrier ahead of a holder whose sleep inside the critical section has ended (32 virtual
 * threads retrying {@code tryLock(100 µs)} in a loop let such a holder through 912 times in
 * 30 s). The lock is
 * <em>not fair</em>: a running thread may take the lock ahead of a waiter that is still
 * spinning (this is what makes it fast); use {@link TicketLock} where first-come-first-served
 * order matters.
 *
 * <p><b>Hand-over: no waiter is starved by barging.</b> A waiter that has had to park asks for
 * the lock (one such <i>heir</i> per lock at a time), and the next {@link #unlock()} hands the
 * lock straight to it instead of releasing it, so the releasing thread cannot re-take it
 * nanoseconds later, however often it tries. With two threads and 1 &micro;s critical sections
 * this cut the 99.9th percentile of an acquisition from 1.1&ndash;1.7 ms to 90&ndash;196
 * &micro;s (unfair {@code ReentrantLock}: 162&ndash;213 &micro;s in the same runs; see
 * docs/spinlock.md). The price of one hand-over is the heir's wake-up, during which the lock is
 * held by a thread that is not running yet. {@code -Ddev.weft.spinlock.handOverMicros=N} makes
 * a waiter wait N &micro;s after it first parked before it asks; a negative N switches
 * hand-over off. Only platform threads are handed the lock: a virtual thread would need a free
 * carrier to take it, and waiters pinned to every carrier (inside a class initialiser, or in
 * {@code synchronized} on JDK 21&ndash;23) would then deadlock; virtual threads keep the
 * barging behaviour.
 *
 * <p><b>Timeouts and interrupts.</b> A timed or interruptible acquisition checks its deadline
 * and interrupt status after every phase (the spin rounds, the yields, each park), so it
 * returns at most one spin phase and its yields after the deadline or the interrupt: tens of
 * microseconds on an idle machine, up to a scheduler time slice per yield when the cores are
 * busy. An acquisition that gets the lock in the same step as an interrupt arrives returns
 * holding it, with the interrupt status set (as {@code ReentrantLock} does); so does one whose
 * hand-over was already under way when the interrupt or the deadline came (a timed {@code
 * tryLock} then returns {@code true}).
 *
 * <p><b>A full heap.</b> A waiter whose queue node cannot be allocated ({@link
 * OutOfMemoryError}) does not throw: it waits without a node, polling the lock on a timer of up
 * to 1 ms and trying the node again every 64 polls, as JDK 25's {@code ReentrantLock} does.
 * Timeouts and interrupts work as in any wait (see {@code docs/spinlock.md}).
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
   * release store in unlock, giving the happens-before edge of the lock). Contended waiters
   * read the owner with an opaque load (test-and-test-and-set: the read stays in the local
   * cache while the line is shared, so waiters do not steal the line from the owner) and
   * attempt the CAS only when it reads null; the CAS itself supplies the acquire ordering.
   *
   * unlock: check owner == currentThread with a plain read (only this thread can have written
   * its own Thread into the field, and its own earlier write of null happens-before this read,
   * so a plain read cannot wrongly see "me"), then setRelease(null): the release store makes
   * every write of the critical section visible to the next thread whose CAS reads null. Then
   * one opaque read of `waiters`; only if it is non-null does unlock pop a waiter and unpark it.
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
   * A wake without a signal (the backstop below, a spurious wake) does not end the
   * registration: the waiter tries the owner CAS once and parks again on the same node, so a
   * wait of any length holds one node. (Until issue 18 it left the node and pushed a fresh one
   * on every backstop wake: 16 waiters behind a 10 s hold left 120,678 nodes, and the unlock
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
   * cleared (release store) by the signalled thread as soon as it runs again; unlockers that
   * see it set skip the wakeup (the pending one will take the lock or park again, and a later
   * unlock then wakes the next). This keeps a stream of unlocks from issuing an unpark each
   * while the first woken thread is still being scheduled. The flag is set only by the CAS in
   * signalOne, by a thread that then wakes somebody; if it finds nobody to wake (only LEFT
   * nodes), it clears the flag with a volatile store and looks at the waiters again with a
   * volatile load, and goes round if a waiter is there, because unlockers that ran while the
   * flag was set skipped their wakeup. (Before this, found by issue 20's review: an unlocker
   * preempted between finding only LEFT nodes and clearing the flag let later unlocks skip
   * while the exposed waiter came and went; the waiters left had no timer and slept forever.)
   * Nodes are never reused, so the Treiber stack has no ABA problem (the GC keeps a popped
   * node's address from being reused while anyone can still see it).
   *
   * Protocol windows (ProtocolWindows, tests only): "spinlock.spin" and "spinlock.yield" at the
   * start of those phases, "spinlock.park" just before each registered park,
   * "spinlock.backstop-wake" after a park that ended without a signal, timeout or interrupt,
   * "spinlock.lost-race-park" before the unregistered park after a lost race, and
   * "spinlock.signal-found-none" in signalOne after it set `waking` and found nobody to wake,
   * before it clears the flag.
   *
   * The missed-wakeup race and which parks are bounded: unlock is "store owner (release), load
   * waiters (opaque)"; a parking waiter is "store waiters (CAS), load owner (volatile)". That
   * is Dekker's pattern, which needs a store-load fence on both sides to exclude the outcome
   * where the unlocker reads no waiters and the waiter reads the lock still held. The waiter's
   * CAS is a full fence; the unlocker deliberately has none, because a fence (or a volatile
   * store, or a CAS) on every uncontended unlock costs about as much as the lock's CAS. Issue
   * 20 measured it: with unlock as a volatile store and a volatile load, JDK 25, 2 cores,
   * uncontended lock+unlock fell from 62.7-71.8 to 47.5-52.3 ops/us (below ReentrantLock's
   * 52.6-54.4) and two threads from 70-73 to 40-47. So in a rare, narrow window a just-parking
   * waiter can be missed: the unlocker's load of `waiters` is satisfied before its store of
   * the owner is visible (the one reordering TSO and ARMv8 allow here), and returns the head
   * as it was before the push. If that head was a node, the unlocker signals through CAS pops,
   * which work on the current stack, and reaches the new waiter or one above it. Only a waiter
   * that pushed onto an EMPTY stack (push returns true: the "exposed" waiter) can be missed
   * outright, and waiters that push on top of it while the unlock is in flight are missed with
   * it. So the exposed waiter, and only it, parks with SpinBackoff.PARK_BACKSTOP_NANOS (1 ms)
   * as a bound and re-checks the lock itself on each wake; whoever it wakes or its own
   * acquisition then reaches the others (its unlock sees their nodes). The others park without
   * a timer (timed waits: until their deadline). If the exposed waiter gives up (timeout,
   * interrupt) it can no longer cover the others, and the unlock that missed them may not even
   * be visible to it yet (the lock looks held). So it hands the backstop on, whatever the lock
   * looks like: it sets `backstopHandedOn` (volatile) and wakes one waiter if any are left; the
   * next registration takes the flag (a CAS, so exactly one) and is exposed, and the woken
   * waiter either takes the lock, or, finding it taken, sleeps on the lost-race timer and
   * registers again, taking the flag, or gives up on the way, passing the signal on
   * (wokenGivesUp: from a signal to the next registration, every give-up passes it on; so does an Error there, through acquireWait's outer handler, since review 29). Any other waiter that leaves without the lock wakes one
   * when it finds the lock free and waiters left. (Both rules, and the `waking` rule above,
   * have tests that set the racy state up directly: SpinLockTest and
   * SpinLockWakeAdversarialTest.) The cost of the race is at
   * most 1 ms of latency for the waiters behind one exposed waiter while the lock sits free,
   * never a hang; the cost of the backstop is one timer wake per millisecond per lock with
   * waiters, not per waiter (2,000 parked virtual threads used to cause 2,000 per ms).
   *
   * Hand over (issue 20): an unfair lock lets a running thread re-take the lock nanoseconds
   * after releasing it, so a woken waiter can lose race after race (measured: p99.9 acquisition
   * latency of 1.2-2.1 ms with 1 us critical sections, against 0.16-0.42 ms for unfair
   * ReentrantLock). A registered waiter that has waited HAND_OVER_AFTER_NANOS since its first
   * registration claims `heir` (CAS null -> its thread; one heir per lock). unlock() reads
   * `heir` (opaque) before it releases: if set, handOver CASes it back to null (the claim;
   * it decides the race with the heir withdrawing) and stores the heir's Thread as the owner
   * (release store, the release of the critical section) instead of null, then unparks it. The
   * lock never passes through null, so no barging CAS can succeed in between; the heir sees
   * owner == itself (acquire load, pairing with that store) and returns holding the lock.
   * The heir stays registered on the stack, so a stale read of `heir` by an unlock (it read
   * null just before the claim, or the opaque load lagged) costs only that one hand-over: the
   * release is an ordinary one and the heir is covered like any registered waiter (signal,
   * or the exposed waiter's backstop); the heir needs no timer of its own. The heir CASes
   * `heir` after it registered and then looks at the owner again (the CAS is a full fence). It
   * clears `heir` on every way out: on a CAS acquisition (which cannot race a hand-over: a
   * claimed hand-over never lets the owner be null), by the claim itself, or by withdrawing
   * (CAS its thread -> null) on a timeout, an interrupt or a signal. If that CAS fails, an
   * unlocker has claimed the hand-over and is about to store the owner: the heir waits for the
   * store (spin, then yield) and reports an acquisition (a timed wait returns true at its
   * deadline; an interrupted lockInterruptibly returns holding the lock with the interrupt
   * status set, as if the interrupt came just after). A signalled heir withdraws and competes
   * as a woken waiter, but skips the lost-race sleep, and claims again when it registers.
   * Only platform threads claim (mayInherit): a hand-over to an unmounted virtual thread waits
   * for a carrier, and pinned waiters of this lock may hold them all (review D2). A Throwable
   * thrown while registered (abandon) withdraws the claim, releasing the lock if a hand-over
   * won that race, and gives the node up (review D1).
   * Protocol window (tests): "spinlock.hand-over", between the claim and the owner store.
   *
   * Stack overflow (review 18): a StackOverflowError thrown between two steps that belong
   * together (a node pushed and its clean-up, a hand-over claimed and the owner stored, the
   * `waking` flag set and the unpark) would leave the protocol half done: a node nobody will
   * take back, a heir that waits for a store that never comes, a flag that makes every later
   * unlock skip its wakeup. So each such sequence starts with StackHeadroom.ensure, which makes
   * the error strike before the first step changes anything. A waiter probes once before it
   * first registers (PARK_FRAMES): every later step of the wait, including the catch that
   * abandons the node, runs from the same frame of acquireWait and needs less stack. An unlock
   * that will hand over or wake somebody probes before it releases (RELEASE_FRAMES), so an
   * overflow leaves the lock held, as one at unlock's entry would, and retrying the unlock
   * higher up the stack works; the uncontended unlock does not probe (its steps are inlined
   * field accesses). Nor does an unlock that finds a wake-up in flight (`waking` set): it wakes
   * nobody, and the probe, made while the lock is still held, cost contended SpinLockBench
   * 13-19% when every unlock with waiters made it. signalOne probes, after the release, in the
   * two cases where nothing probed first: the flag cleared since (whoever cleared it is
   * running and will find the free lock: a woken waiter competes for it, a signaller re-reads
   * the waiters after clearing), or waiters pushed since a read that found none (the first of
   * them pushed onto an empty stack and keeps the backstop). An overflow of that probe wakes
   * nobody, a wake-up those cases cover, as they cover the missed-wakeup race. The probe always
   * comes before the CAS that sets `waking`, never between it and the unpark. Its depth is
   * StackHeadroom.wakeFrames of the waiter then on top of the stack (session 25): a virtual
   * thread's unpark runs the scheduler, whose pool swallows an overflow, and a sweep of unlocks
   * near the stack's end left a parked virtual waiter RUNNABLE and never run, with `waking`
   * set for good, in 5 of 5 runs at 16 frames. A waiter pushed between that read and the pop
   * is woken after the shallower probe (open, and narrow: it needs both at once).
   *
   * A full heap (session 31): a waiter whose node cannot be allocated (OutOfMemoryError at
   * `new Waiter`) does not throw; it waits without a node, as JDK 25's AQS does
   * (pollWithoutNode): it CASes the free lock, sleeping between tries on a timer that doubles
   * from 1 us to 1 ms, and tries to allocate and register again every NODE_RETRY_ROUNDS
   * rounds (about 55 ms). It is registered nowhere, so no unlock owes it a wake-up, and it
   * first passes on a signal it holds, since a signal may carry the backstop. It barges, as
   * every SpinLock acquisition may. Before session 31 lock() threw the error, cleanly (the
   * lock free, the next waiter served), as JDK 17's AQS does. Protocol window (tests):
   * "spinlock.new-waiter", before the allocation (tests throw OutOfMemoryError there).
   *
   * Virtual threads spin one round and do not yield (SpinBackoff.VIRTUAL_SPIN_ROUNDS; phase 2 is
   * skipped for them). A virtual thread's
   * Thread.yield() unmounts it and, when its carrier's local queue is not empty, pushes it back
   * there; the default scheduler (a ForkJoinPool) runs a worker's local tasks before it polls
   * the external submission queue, which is where a virtual thread woken by the timer thread or
   * by a platform thread goes. Waiters that keep yielding thus keep the local queues full and
   * starve such a thread: found with a holder that parks 1 us inside its critical section on
   * every 16th hold and 32 virtual threads in loops of tryLock(100 us) (each tryLock timed out
   * inside its yields and was retried at once): 912 of 19,200 acquisitions in 30 s on JDK 25
   * (ReentrantLock, which never yields: 0.15-0.25 s). Parking instead empties the queues.
   * Without the yields, the platform spin (6 rounds, ~18 us) still made that scenario 5-10x
   * ReentrantLock's time: 32 timed waiters spinning 18 us per retry fill 2 carriers. One round
   * brings it level; the measurements are at SpinBackoff.VIRTUAL_SPIN_ROUNDS. The regression
   * test is SpinLockVirtualThreadTest. Even one round, the stack probe and the registration
   * outlast a 1 us timeout: a timed wait that had not parked with time left then failed on the
   * carrier, and retry loops of tryLock(1 us) kept both carriers (CI stop 33). A virtual
   * thread's timed wait now unmounts once before it reports a timeout (timedOut,
   * SpinBackoff.unmountBeforeTimeout), whether or not it parked before: a park given no time
   * returns at once, and so does one that finds the permit this call's own signal left (review
   * 20), so "it parked" cannot be told from the code. Tests: VirtualTimedRetryTest,
   * Review20TimedUnmountTest.
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
  private static final VarHandle BACKSTOP;
  private static final VarHandle HEIR;

  static {
    // JFR: if a recording is running, weft's event classes load now, not inside a first wait.
    WeftJfr.prepareIfRecording();
  }

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      OWNER = l.findVarHandle(SpinLockState.class, "owner", Thread.class);
      WAITERS = l.findVarHandle(SpinLockState.class, "waiters", Waiter.class);
      WAKING = l.findVarHandle(SpinLockState.class, "waking", boolean.class);
      SWEEPS = l.findVarHandle(SpinLockState.class, "sweepRequests", int.class);
      BACKSTOP = l.findVarHandle(SpinLockState.class, "backstopHandedOn", boolean.class);
      HEIR = l.findVarHandle(SpinLockState.class, "heir", Thread.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
    linkRareSteps();
  }

  /**
   * Runs, once, on a lock nobody else can see, the rarely taken steps of the wait and release
   * protocols, so that their VarHandle call sites are linked now, while the stack is shallow.
   * The first execution of such a call site links it (a method type interned, an invoker
   * built), which takes far more stack than the step itself: more than the stack probe before a
   * waiter registers covers. Review18SoeTest's sweep on JDK 17 found it: the first
   * takeBackstop() of the JVM ran after the push, deep in the stack, and its overflow left the
   * node registered (2 of 8 forks). Takes microseconds, once per JVM.
   */
  private static void linkRareSteps() {
    SpinLock l = new SpinLock();
    Thread me = Thread.currentThread();
    Waiter w = new Waiter(me);
    l.push(w);
    l.takeBackstop();
    l.giveUp(w, true, TIMED_OUT); // leave, pop, hand the backstop on (BACKSTOP.setVolatile)
    l.takeBackstop();
    Waiter x = new Waiter(me);
    l.push(x);
    l.push(new Waiter(me));
    x.leave();
    l.unlinkLeft(x); // not on top: requestSweep and sweep (SWEEPS, setNextRelease)
    l.casHeir(null, me);
    l.casHeir(me, null);
    l.casWaking(false, true);
    l.setWakingRelease(false);
    l.setWakingVolatile(false);
    l.wakingVolatile();
    l.waitersVolatile();
    w.wasSignalled();
    w.hasLeft();
    new Waiter(me).signal();
    // The release side, and every accessor not run above (review 31b: a JVM's first unlock,
    // first guard close and first hand-over ran in a full heap; linking ownerPlain or
    // setOwnerRelease threw there, leaving the lock held for good, or an heir claimed and never
    // handed the lock). Internal calls, not lock()/unlock(): lock-order checking must not
    // record this throwaway lock.
    SpinLock r = new SpinLock();
    r.casOwner(null, me);
    r.ownerPlain();
    r.ownerOpaque();
    r.ownerAcquire();
    r.heirOpaque();
    r.waitersAcquire();
    r.release(); // uncontended: heirOpaque, waitersOpaque, setOwnerRelease
    r.casOwner(null, me);
    r.setOwnerRelease(null); // as handOver stores the heir
  }

  /**
   * Whether {@code t} may claim a hand-over: platform threads only. A hand-over to an unmounted
   * virtual thread needs a free carrier to complete, and waiters of this lock that are pinned
   * (parked inside a class initialiser, or in {@code synchronized} on JDK 21-23) may hold every
   * carrier, waiting for exactly that hand-over: a deadlock (review D2). Virtual threads keep
   * the barging behaviour, in which a pinned waiter that is woken takes the free lock itself.
   */
  private static boolean mayInherit(Thread t) {
    return !SpinBackoff.isVirtual(t);
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

  private void setOwnerRelease(@Nullable Thread value) {
    OWNER.setRelease(this, value);
  }

  private @Nullable Waiter waitersOpaque() {
    return (Waiter) WAITERS.getOpaque(this);
  }

  private @Nullable Waiter waitersAcquire() {
    return (Waiter) WAITERS.getAcquire(this);
  }

  private boolean casWaiters(@Nullable Waiter expected, @Nullable Waiter value) {
    return WAITERS.compareAndSet(this, expected, value);
  }

  private boolean casWaking(boolean expected, boolean value) {
    return WAKING.compareAndSet(this, expected, value);
  }

  private void setWakingRelease(boolean value) {
    WAKING.setRelease(this, value);
  }

  /** Volatile: signalOne's clear, ordered before its volatile re-read of the waiters. */
  private boolean wakingVolatile() {
    return (boolean) WAKING.getVolatile(this);
  }

  private void setWakingVolatile(boolean value) {
    WAKING.setVolatile(this, value);
  }

  /** Volatile: a look at the waiters after a volatile store (see signalOne). */
  private @Nullable Waiter waitersVolatile() {
    return (Waiter) WAITERS.getVolatile(this);
  }

  /**
   * Takes the backstop that an exposed waiter handed on when it gave up (see giveUp): the CAS
   * makes sure one registration takes it.
   */
  private boolean takeBackstop() {
    return (boolean) BACKSTOP.getOpaque(this) && BACKSTOP.compareAndSet(this, true, false);
  }

  private @Nullable Thread ownerAcquire() {
    return (Thread) OWNER.getAcquire(this);
  }

  private @Nullable Thread heirOpaque() {
    return (Thread) HEIR.getOpaque(this);
  }

  private boolean casHeir(@Nullable Thread expected, @Nullable Thread value) {
    return HEIR.compareAndSet(this, expected, value);
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
    // Lock-order checking (LockOrder): one switch read, constant-folded by the JIT while off.
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    Thread me = Thread.currentThread();
    if (!casOwner(null, me)) {
      acquireSlow(me, false, false, 0L);
    }
    if (ordered) {
      LockOrder.acquired(this, false);
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
      throw interruptedBefore(); // or the misuse, reported first
    }
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    Thread me = Thread.currentThread();
    if (!casOwner(null, me) && acquireSlow(me, true, false, 0L) == INTERRUPTED) {
      throw new InterruptedException("interrupted while waiting for the SpinLock");
    }
    if (ordered) {
      LockOrder.acquired(this, false);
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
    // Everything that can overflow the stack comes before the CAS: after it, only field
    // accesses (review 23: a call after the CAS threw StackOverflowError holding the lock).
    // With lock-order checking on, a probe covers the record that follows the CAS.
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      StackHeadroom.ensure(StackHeadroom.RECORD_FRAMES);
    }
    if (ownerOpaque() == null && casOwner(null, me)) {
      if (ordered) {
        LockOrder.acquired(this, false); // held, but no edge: a tryLock does not wait
      }
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
   * <p>For a timeout that runs out on a virtual thread before the call has parked, see
   * {@link #tryLock(Duration)}.
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
   * <p>On a virtual thread, a call with a positive timeout that times out parks once for the
   * shortest time before it returns {@code false}, so the thread leaves its carrier: a loop retrying
   * a short timeout (one that runs out in the brief spin before the park) cannot keep the
   * carrier from a holder that needs it. Such a failure returns about one timer round trip
   * (tens of microseconds) after its deadline; see <a
   * href="package-summary.html#virtual-timeouts">timed waits on virtual threads</a>.
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
      throw interruptedBefore(); // or the misuse, reported first
    }
    boolean ordered = LockOrder.enabled();
    if (ordered && nanos > 0L) {
      LockOrder.beforeWait(this, false); // a positive timeout waits: checked like lock()
    } else if (ordered) {
      StackHeadroom.ensure(StackHeadroom.RECORD_FRAMES); // see tryLock()
    }
    Thread me = Thread.currentThread();
    if (casOwner(null, me)) {
      if (ordered) {
        LockOrder.acquired(this, false);
      }
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
    if (r == ACQUIRED && ordered) {
      LockOrder.acquired(this, false);
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
    if (LockOrder.enabled()) {
      LockOrder.released(this);
    }
    release();
  }

  /** Releases the lock held by the current thread: a hand-over, or a release and a wakeup. */
  private void release() {
    // Opaque: a waiter that has waited too long asks for the lock to be handed to it (see "Hand
    // over"); a stale null only means this one release is an ordinary one, and the heir, still
    // registered, is covered like any other waiter. A non-null value is confirmed by a CAS.
    // Opaque, read before the release: waiters to wake make this unlock a slow one, which
    // checks its stack headroom before it changes anything (see "Stack overflow" in the notes).
    Thread heir = heirOpaque();
    Waiter top = waitersOpaque();
    if (heir != null || top != null) {
      releaseSlow(heir, top);
      return;
    }
    setOwnerRelease(null);
    // Opaque is enough: a stale null here is the missed-wakeup race that the park backstop
    // covers (see the algorithm notes); a non-null value only triggers the slow path.
    if (waitersOpaque() != null) {
      // Pushed since the read above, so onto an empty stack: that waiter keeps the backstop,
      // and an overflow of signalOne's probe leaves its wake-up to it, as the race above does.
      signalOne(false);
    }
  }

  /** The release of an unlock that found an heir or waiters: probe, then hand over or wake. */
  private void releaseSlow(@Nullable Thread heir, @Nullable Waiter top) {
    // With a wake-up already in flight this unlock wakes nobody (signalOne finds the flag
    // set), so it skips the probe, which would otherwise lengthen every contended hold; if
    // the flag clears meanwhile, signalOne probes (see "Stack overflow" in the notes).
    boolean probed = heir != null || !wakingVolatile();
    if (probed) {
      // Deeper when the waiter on top, the one signalOne will most likely wake, is a virtual
      // thread: its unpark runs the scheduler, whose pool swallows an overflow, which left it
      // queued with no carrier (session 25: 5 of 5 sweeps; StackHeadroom.wakeFrames).
      StackHeadroom.ensure(
          top == null ? StackHeadroom.RELEASE_FRAMES : StackHeadroom.wakeFrames(top.thread));
    }
    if (heir != null && handOver(heir)) {
      return;
    }
    setOwnerRelease(null);
    if (top != null || waitersOpaque() != null) { // the heir withdrew: an ordinary release
      signalOne(probed);
    }
  }

  /**
   * The exception for a pending interrupt found on entry to an interruptible acquisition, whose
   * status {@link Thread#interrupted()} has just cleared. Misuse is reported first, as the
   * README's conventions promise: a thread that already holds this lock gets the {@link
   * IllegalStateException} (thrown here), with its interrupt status set again, since the
   * interrupt was not consumed (review 23: it got an {@code InterruptedException}).
   */
  private InterruptedException interruptedBefore() {
    Thread me = Thread.currentThread();
    if (ownerPlain() == me) {
      me.interrupt();
      throw new IllegalStateException(NOT_REENTRANT);
    }
    return new InterruptedException("interrupted before acquiring the SpinLock");
  }
  /**
   * Hands the lock straight to the heir instead of releasing it, so that no running thread can
   * barge in between. The CAS claims the hand-over against the heir withdrawing (timeout or
   * interrupt); the release store of the owner is the release of this critical section, paired
   * with the heir's acquire load of the owner.
   */
  private boolean handOver(Thread heir) {
    if (!casHeir(heir, null)) {
      return false; // the heir withdrew: release as usual
    }
    if (ProtocolWindows.ENABLED) {
      ProtocolWindows.at("spinlock.hand-over");
    }
    setOwnerRelease(heir);
    LockSupport.unpark(heir);
    return true;
  }

  private IllegalMonitorStateException notOwner() {
    Thread o = ownerOpaque();
    return new IllegalMonitorStateException(
        "SpinLock is not held by this thread ("
            + ThreadNames.of(Thread.currentThread())
            + "); it is "
            + (o == null ? "unlocked" : "held by " + ThreadNames.of(o))
            + ": only the thread that locked it may unlock it");
  }

  /**
   * Returns a new {@link Condition} bound to this lock. The condition works like the one of
   * {@link java.util.concurrent.locks.ReentrantLock}: {@code await} releases the lock, waits
   * for a signal (or interrupt or timeout), and re-acquires the lock before returning, also
   * when it throws. Signals are delivered in the order the threads started waiting, skipping
   * a waiter whose timeout has passed or whose wait an interrupt has ended: as in {@code
   * ReentrantLock}, such a waiter gives up at once, before it has the lock back, and a signal
   * sent while it waits for the lock goes to the next waiter. Calling
   * any condition method without holding the lock throws {@link IllegalMonitorStateException}.
   * A zero or negative timeout, or an {@code awaitUntil} date that is not after now (however
   * far in the past), returns at once without releasing the lock; {@code awaitNanos} returns
   * the timeout minus the time spent. On a virtual thread, a timed await that times out
   * unmounts the thread before it returns: see <a
   * href="package-summary.html#virtual-timeouts">timed waits on virtual threads</a>.
   *
   * @return a new condition for this lock
   */
  @Override
  public Condition newCondition() {
    return new SpinLockCondition(this, new HeldByCurrentThread(this), "SpinLock");
  }
  /** newCondition's ownership check (no lambdas in the core: see CoreBytecodeTest). */
  private static final class HeldByCurrentThread implements java.util.function.BooleanSupplier {
    private final SpinLock lock;

    HeldByCurrentThread(SpinLock lock) {
      this.lock = lock;
    }

    @Override
    public boolean getAsBoolean() {
      return lock.isHeldByCurrentThread();
    }
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
    Guard guard = new Guard(this, Thread.currentThread()); // before the lock: see Mutex.lock()
    lock();
    return guard;
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
    String s = o == null ? "unlocked" : "locked by " + ThreadNames.of(o);
    return "SpinLock[" + s + (waitersOpaque() != null ? ", with parked waiters" : "") + "]";
  }

  // ---- slow paths ----

  /**
   * The slow path: the fast CAS failed. Records a JFR event ({@code dev.weft.LockContended})
   * around the wait when a recording asks for it; see {@link WeftJfr}.
   */
  private int acquireSlow(Thread me, boolean interruptible, boolean timed, long nanos) {
    // Misuse is refused before the event begins: a call that throws here never waited, and a
    // LockContended event for it would report a wait that did not happen.
    if (ownerPlain() == me) {
      throw new IllegalStateException(NOT_REENTRANT);
    }
    Object jfr = WeftJfr.lockWaitBegin(ownerOpaque());
    if (jfr == null) {
      return acquireWait(me, interruptible, timed, nanos);
    }
    int r = WeftJfr.FAILED; // stays so only if the wait throws (an Error, e.g. out of memory)
    try {
      r = acquireWait(me, interruptible, timed, nanos);
      return r;
    } finally {
      WeftJfr.lockWaitEnd(jfr, this, WeftJfr.EXCLUSIVE, r); // same codes as WeftJfr's
    }
  }

  private int acquireWait(Thread me, boolean interruptible, boolean timed, long nanos) {
    final long deadline = timed ? System.nanoTime() + nanos : 0L;
    boolean interrupted = false; // for uninterruptible lock(): restore at the end
    final boolean virtual = SpinBackoff.isVirtual(me); // spins less, skips the yield phase
    int rounds = virtual ? SpinBackoff.VIRTUAL_SPIN_ROUNDS : SpinBackoff.SPIN_ROUNDS;
    boolean lostRace = false; // signalled, then a running thread took the lock first
    // Signalled and not registered again since: a give-up on the way passes the signal on (the
    // signal may carry the backstop an exposed waiter handed on; see giveUp).
    boolean woken = false;
    long registeredAt = 0L; // nanoTime of the first registration, or 0
    boolean heir = false; // this thread is the heir: the next unlock hands the lock to it
    try {
      for (;;) {
        // Phase 1: test-and-test-and-set with bounded exponential backoff.
        if (ProtocolWindows.ENABLED) {
          ProtocolWindows.at("spinlock.spin");
        }
        int backoff = SpinBackoff.MIN_BACKOFF;
        for (int i = 0; i < rounds; i++) {
          if (ownerOpaque() == null && casOwner(null, me)) {
            return interrupted ? acquired(true) : ACQUIRED;
          }
          backoff = SpinBackoff.pause(backoff);
        }
        // Phase 2: give the core away a few times (lets a descheduled owner run). Not on a
        // virtual thread: see "Virtual threads spin one round" in the notes.
        if (ProtocolWindows.ENABLED) {
          ProtocolWindows.at("spinlock.yield");
        }
        for (int i = virtual ? SpinBackoff.YIELDS : 0; i < SpinBackoff.YIELDS; i++) {
          SpinBackoff.yieldProcessor();
          if (ownerOpaque() == null && casOwner(null, me)) {
            return interrupted ? acquired(true) : ACQUIRED;
          }
        }
        if (interruptible && Thread.interrupted()) {
          return wokenGivesUp(woken, INTERRUPTED);
        }
        long remaining = SpinBackoff.PARK_BACKSTOP_NANOS;
        if (timed) {
          long left = deadline - System.nanoTime();
          if (left <= 0L) {
            return timedOut(me, virtual, wokenGivesUp(woken, TIMED_OUT));
          }
          remaining = Math.min(left, remaining);
        }
        if (lostRace) {
          // Phase 3a (once per lost race): sleep on a timer, unregistered; see the notes.
          lostRace = false;
          if (ProtocolWindows.ENABLED) {
            ProtocolWindows.at("spinlock.lost-race-park");
          }
          LockSupport.parkNanos(this, Math.min(remaining, SpinBackoff.LOST_RACE_PARK_NANOS));
          rounds = virtual ? SpinBackoff.VIRTUAL_SPIN_ROUNDS : SpinBackoff.SPIN_ROUNDS_AFTER_WAKE;
          if (Thread.interrupted()) {
            if (interruptible) {
              return wokenGivesUp(woken, INTERRUPTED); // a signal we got is passed on
            }
            interrupted = true;
          }
          if (timed && deadline - System.nanoTime() <= 0L) {
            return casOwner(null, me)
                ? (interrupted ? acquired(true) : ACQUIRED)
                : timedOut(me, virtual, wokenGivesUp(woken, TIMED_OUT));
          }
          continue;
        }
        // Phase 3: register once, then park until signalled; between parks (backstop, spurious
        // wakes) the node stays registered, so a long wait holds one node (see the notes). Only
        // a waiter that pushed onto an empty stack can be missed by an unlock (see "The
        // missed-wakeup race"): it alone keeps the 1 ms backstop; the others sleep until
        // signalled (or until their deadline), taking no CPU however many they are.
        // Before registering: a StackOverflowError strikes here, not between the push and the
        // clean-up that would take the node back (review 18: a node left registered, or a lock
        // taken in that clean-up, hung every later waiter). The park this leads to costs
        // microseconds.
        StackHeadroom.ensure(StackHeadroom.PARK_FRAMES);
        Waiter w = newWaiterOrNull(me);
        if (w == null) {
          // A full heap: wait without a node, as JDK 25's AQS does, rather than throw (see "A
          // full heap" in the notes). Unregistered, this thread must not keep a signal.
          if (woken) {
            passSignalOn();
            woken = false;
          }
          int r = pollWithoutNode(me, interruptible, timed, deadline);
          if (r == RETRY_NODE) {
            continue;
          }
          return r == ACQUIRED && interrupted ? acquired(true) : r;
        }
        woken = false;
        final boolean exposed = push(w) || takeBackstop();
        if (registeredAt == 0L) {
          registeredAt = System.nanoTime() | 1L; // nonzero: "registered before"
        }
        try {
          for (;;) {
            if (heir && ownerAcquire() == me) {
              leaveHolding(w); // handed over (acquire: pairs with handOver's release store)
              return interrupted ? acquired(true) : ACQUIRED;
            }
            if (casOwner(null, me)) {
              if (heir) {
                casHeir(me, null); // cannot fail: a hand-over never passes through a free lock
              }
              leaveHolding(w);
              return interrupted ? acquired(true) : ACQUIRED;
            }
            if (!heir
              && handOverDue(registeredAt)
              && heirOpaque() == null
              && mayInherit(me)
              && casHeir(null, me)) {
              heir = true;
              continue; // look at the lock again after the CAS (a full fence): see "Hand over"
            }
            if (ProtocolWindows.ENABLED) {
              ProtocolWindows.at("spinlock.park");
            }
            // The heir needs no timer of its own: it is registered like any other waiter, and a
            // hand-over always unparks it.
            if (exposed || timed) {
              LockSupport.parkNanos(this, exposed ? remaining : deadline - System.nanoTime());
            } else {
              LockSupport.park(this); // covered: an unlock, or the exposed waiter, will wake us
            }
            if (w.wasSignalled()) {
              // Popped and signalled: the lock was just released. An heir (signalled by an unlock
              // that ran before its claim, or by a waiter that gave up) withdraws and competes like
              // any woken waiter; it skips the lost-race sleep and claims again when it registers.
              if (heir) {
                heir = false;
                if (!withdrawHeir(me)) {
                  leaveHolding(w); // handed over first: we hold the lock
                  return interrupted ? acquired(true) : ACQUIRED;
                }
              }
              break;
            }
            // Backstop, timeout, interrupt or spurious wake; still registered (or being signalled).
            if (Thread.interrupted()) {
              if (interruptible) {
                if (heir) {
                  heir = false;
                  if (!withdrawHeir(me)) {
                    leaveHolding(w); // handed over first: we hold the lock; the interrupt stays set
                    return acquired(true);
                  }
                }
                return giveUp(w, exposed, INTERRUPTED);
              }
              interrupted = true;
            }
            if (timed) {
              long left = deadline - System.nanoTime();
              if (left <= 0L) {
                if (heir) {
                  heir = false;
                  if (!withdrawHeir(me)) {
                    leaveHolding(w); // handed over at the deadline: report the acquisition
                    return interrupted ? acquired(true) : ACQUIRED;
                  }
                }
                if (casOwner(null, me)) {
                  leaveHolding(w);
                  return interrupted ? acquired(true) : ACQUIRED;
                }
                return timedOut(me, virtual, giveUp(w, exposed, TIMED_OUT));
              }
              remaining = Math.min(left, SpinBackoff.PARK_BACKSTOP_NANOS);
            }
            if (ProtocolWindows.ENABLED) {
              ProtocolWindows.at("spinlock.backstop-wake");
            }
          }
        } catch (Throwable t) {
          // An Error (a stack overflow, out of memory) thrown while registered: leave no trace
          // that would strand others, and above all no heir claim (review D1: the next unlock
          // handed the lock to a thread that had stopped waiting, and nobody could release it).
          abandon(me, w, exposed, heir);
          throw t;
        }
        // Signalled: our wakeup has arrived, so unlockers may wake another now. Spin a little and
        // retry; if that fails, a running thread barged in (the lost-race park above).
        setWakingRelease(false);
        woken = true; // from here an Error passes the signal on (the handler above)
        // A waiter that is due a hand-over does not sleep on the lost-race timer: it registers
        // again straight after this spin and claims the hand-over.
        lostRace = !(handOverDue(registeredAt) && mayInherit(me));
        rounds = virtual ? SpinBackoff.VIRTUAL_SPIN_ROUNDS : SpinBackoff.SPIN_ROUNDS_AFTER_WAKE;
        if (Thread.interrupted()) {
          if (interruptible) {
            passSignalOn();
            return INTERRUPTED;
          }
          interrupted = true;
        }
        if (timed && deadline - System.nanoTime() <= 0L) {
          if (casOwner(null, me)) {
            return interrupted ? acquired(true) : ACQUIRED;
          }
          passSignalOn();
          return timedOut(me, virtual, TIMED_OUT);
        }
      }
    } catch (Throwable t) {
      // An Error (out of memory at the new Waiter, a stack overflow at a probe or a park)
      // between a signal and the next registration: the signal may carry the backstop an exposed
      // waiter handed on (see giveUp), and dropped here it stranded the waiters parked without a
      // timer while the lock was free (review 29: an Error injected at that window, 4 of 4 runs
      // on JDK 17, 2 of 2 on JDK 25). Pass it on, as a timeout or an interrupt there does. While
      // registered, woken is false and the inner handler (abandon) has done the same.
      if (woken) {
        passSignalOn(); // best effort: after a stack overflow this call may overflow too
      }
      throw t;
    }
  }

  /** The waiter's node, or null if allocating it threw OutOfMemoryError (a full heap). */
  private static @Nullable Waiter newWaiterOrNull(Thread me) {
    try {
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("spinlock.new-waiter"); // tests throw an OutOfMemoryError here
      }
      return new Waiter(me);
    } catch (OutOfMemoryError e) {
      return null; // the caller waits without a node; the error is not reported (as AQS's)
    }
  }

  /** An outcome of {@link #pollWithoutNode}: try to allocate the node again. */
  private static final int RETRY_NODE = -1;

  /**
   * The wait of a thread whose node could not be allocated: polls the lock on a timer (see
   * {@link SpinBackoff#pauseWithoutNode}), registered nowhere, so no release needs to wake it
   * and nothing is left behind if it throws. Returns {@link #RETRY_NODE} every {@link
   * SpinBackoff#NODE_RETRY_ROUNDS} rounds so the caller registers once memory is back. An
   * uninterruptible wait consumes the interrupts it meets (a pending one would end every sleep
   * at once) and sets the status again before it returns, whatever it returns.
   */
  private int pollWithoutNode(Thread me, boolean interruptible, boolean timed, long deadline) {
    boolean interrupted = false;
    try {
      for (int round = 0; round < SpinBackoff.NODE_RETRY_ROUNDS; round++) {
        if (ownerOpaque() == null && casOwner(null, me)) {
          return ACQUIRED;
        }
        if (Thread.interrupted()) {
          if (interruptible) {
            return INTERRUPTED;
          }
          interrupted = true;
        }
        long left = Long.MAX_VALUE;
        if (timed) {
          left = deadline - System.nanoTime();
          if (left <= 0L) {
            return TIMED_OUT;
          }
        }
        SpinBackoff.pauseWithoutNode(this, round, left);
      }
      return RETRY_NODE;
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt(); // never swallow an interrupt
      }
    }
  }

  /**
   * A timed wait gives up, with nothing registered and any signal passed on. A virtual thread
   * ({@code unmount}) unmounts once first: a timeout shorter than the spin, the stack probe and
   * the registration ran out on the carrier, and a caller retrying {@code tryLock(1 us)} in a
   * loop kept it for good (CI stop 33; see SpinBackoff.unmountBeforeTimeout). It does so even
   * if it parked in this call: a park can return at once on a permit that this call's own
   * signal left, without unmounting (review 20). An interrupt that arrives during that park is
   * reported as one (timed waits are interruptible); otherwise the lock is looked at once more,
   * since the park took a timer round trip.
   */
  private int timedOut(Thread me, boolean unmount, int outcome) {
    if (!unmount || outcome != TIMED_OUT) {
      return outcome;
    }
    if (SpinBackoff.unmountBeforeTimeoutInterrupted(this)) {
      return INTERRUPTED;
    }
    return ownerOpaque() == null && casOwner(null, me) ? ACQUIRED : outcome;
  }

  /** Whether a waiter first registered at {@code registeredAt} (0: not yet) is due a hand-over. */
  private static boolean handOverDue(long registeredAt) {
    long after = SpinBackoff.HAND_OVER_AFTER_NANOS;
    // At the default threshold (0) no clock read: a registered waiter is due at once. (Before,
    // the "| 1" that marks registeredAt nonzero could put it 1 ns after a later nanoTime() of
    // equal value on a coarse clock, and such a waiter parked once without claiming.)
    return registeredAt != 0L
        && after >= 0L
        && (after == 0L || System.nanoTime() - registeredAt >= after);
  }

  /**
   * A registered waiter leaves on a Throwable: it withdraws its heir claim (if a hand-over won
   * that race, it now holds a lock its caller will never know of, so it releases it) and gives
   * its node up, passing on a signal that reached it.
   */
  private void abandon(Thread me, Waiter w, boolean exposed, boolean heir) {
    if (heir && !withdrawHeir(me)) {
      leaveHolding(w);
      release();
      return;
    }
    giveUp(w, exposed, INTERRUPTED); // the outcome is ignored: the Throwable propagates
  }

  /**
   * The heir stops waiting without the lock (timeout or interrupt): it withdraws its claim
   * with a CAS. If an unlocker claimed the hand-over first, the lock is (or is about to be)
   * ours: wait for the unlocker's release store and report that.
   *
   * @return {@code true} if withdrawn; {@code false} if this thread now holds the lock
   */
  private boolean withdrawHeir(Thread me) {
    if (casHeir(me, null)) {
      return true;
    }
    // The unlocker is between its CAS of `heir` and its store of the owner: a few instructions,
    // unless it is preempted there, so spin, then yield the core to it.
    for (int i = 0; ownerAcquire() != me; i++) {
      if (i < 64) {
        Thread.onSpinWait();
      } else {
        SpinBackoff.yieldProcessor();
      }
    }
    return false;
  }

  /**
   * The waiter owns the lock now and stops waiting: if it was signalled meanwhile, the node is
   * already off the stack and the wakeup has arrived; otherwise it unlinks its node.
   */
  private void leaveHolding(Waiter w) {
    if (w.leave()) {
      unlinkLeft(w);
    } else {
      setWakingRelease(false); // signalled meanwhile: the wakeup has arrived
    }
  }

  /**
   * The waiter stops waiting without the lock (timeout or interrupt). A signal that reached it
   * meanwhile is passed on, so it is never spent on a thread that is not waiting.
   */
  private int giveUp(Waiter w, boolean exposed, int outcome) {
    if (w.leave()) {
      unlinkLeft(w);
      if (exposed) {
        // The exposed waiter covered the waiters above it against a missed wakeup; they park
        // without a timer. Hand the backstop on, whatever the lock looks like (an unlock that
        // missed us may not be visible yet): the next registration takes it, and one waiter is
        // woken now to re-register (a woken waiter that finds the lock taken sleeps on the
        // lost-race timer, then registers again).
        BACKSTOP.setVolatile(this, true);
        if (waitersOpaque() != null) {
          signalOne(true); // covered by the registration probe
        }
      } else if (ownerOpaque() == null && waitersOpaque() != null) {
        // Any other waiter that leaves a free lock with waiters behind wakes one. Opaque reads:
        // the leave CAS and the unlink above are full fences.
        signalOne(true); // covered by the registration probe
      }
    } else {
      setWakingRelease(false); // our wakeup arrived after all; pass it on
      passSignalOn();
    }
    return outcome;
  }

  /**
   * An acquisition that absorbed an interrupt (an uninterruptible wait): sets the status again.
   * Its call sites return {@code interrupted ? acquired(true) : ACQUIRED}, so the usual case
   * makes no call after the winning CAS: in code the interpreter runs, a call's entry can throw
   * StackOverflowError, and one here left the lock held by a thread whose tryLock(timeout)
   * threw (session 26: Review18SoeTest's timed tryLock sweep, 1 bad round of 12 in one run).
   * The absorbed-interrupt case still makes the call.
   */
  private static int acquired(boolean interrupted) {
    if (interrupted) {
      Thread.currentThread().interrupt(); // never swallow an interrupt
    }
    return ACQUIRED;
  }

  /**
   * A waiter gives up between a signal and its next registration (in the spin, the yields or
   * the lost-race park): if it was signalled, it passes the signal on, since the signal may
   * have been the hand-on of an exposed waiter's backstop (issue 20 re-review).
   */
  private int wokenGivesUp(boolean woken, int outcome) {
    if (woken) {
      passSignalOn();
    }
    return outcome;
  }

  /** A waiter that received a signal but gives up must wake someone else in its place. */
  private void passSignalOn() {
    if (waitersOpaque() != null) {
      signalOne(true); // covered by the registration probe
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

  /**
   * Pushes the node of a waiter that is about to park.
   *
   * @return {@code true} if the stack was empty, so that an unlock running at the same time may
   *     miss this waiter (see the algorithm notes): the caller keeps the park backstop
   */
  private boolean push(Waiter w) {
    for (;;) {
      Waiter h = waitersAcquire();
      w.setNextPlain(h); // plain: published by the release semantics of the CAS below
      if (casWaiters(h, w)) {
        return h == null;
      }
    }
  }

  /**
   * Pops waiters until one that is still waiting is signalled, or the stack is empty. Does
   * nothing while an earlier signalled waiter has not woken up yet: waking a second thread
   * before the first has even run only adds context switches (the first will take the lock,
   * or park again and be signalled by a later unlock).
   */
  private void signalOne(boolean probed) {
    if (!probed) {
      // Nothing probed the stack before this unlock released the lock. A set flag means a
      // wake-up is in flight: return, exactly as the CAS below would fail. Otherwise probe
      // before the CAS sets it (an overflow after would leave it set, and every later unlock
      // would skip its wakeup). An overflow of this probe comes after the release and wakes
      // nobody, which is covered: the flag was set moments before this unlock, so the thread
      // that cleared it is running (a woken waiter, about to compete for the now free lock,
      // or a signaller that re-reads the waiters after clearing it), or the stack was empty
      // before the release and the waiters pushed since include an exposed one with the
      // backstop.
      if (wakingVolatile()) {
        return;
      }
      try {
        Waiter top = waitersAcquire(); // deeper for a virtual thread, as in releaseSlow
        StackHeadroom.ensure(
            top == null ? StackHeadroom.RELEASE_FRAMES : StackHeadroom.wakeFrames(top.thread));
      } catch (StackOverflowError e) {
        // The lock is already released: the unlock has happened, and throwing would make a
        // retry of it fail (IllegalMonitorStateException). The wake-up skipped here is covered
        // as described above (review 25: the error used to propagate from unlock()).
        return;
      }
    }
    // The CAS decides, on the latest value: while the flag is set, unlockers skip their
    // wakeup, so it must be set only by the one thread that is about to wake somebody.
    while (casWaking(false, true)) {
      for (;;) {
        // Acquire: we read h.next next, which the pusher wrote before its CAS.
        Waiter h = waitersAcquire();
        if (h == null) {
          break; // nobody to wake (only LEFT nodes, or none)
        }
        if (casWaiters(h, h.nextAcquire()) && h.signal()) {
          LockSupport.unpark(h.thread);
          return; // the signalled thread clears the flag when it runs
        }
      }
      // We set the flag and woke nobody. Unlockers and give-ups that ran meanwhile skipped
      // their wakeup because of it (issue 20 review: a preemption here used to leave a waiter
      // with no timer parked forever). Clear it, then look again: volatile store, volatile
      // load, so a waiter pushed while the flag was set is seen here or sees the flag clear.
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("spinlock.signal-found-none");
      }
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
                + ThreadNames.of(thread)
                + ", not to "
                + ThreadNames.of(Thread.currentThread())
                + ": close it in the thread that acquired it");
      }
      if (closed) {
        throw new IllegalStateException(
            "SpinLock guard already closed: close each guard exactly once");
      }
      // Released first, then marked closed (a plain write, no call): an Error in the release
      // (a StackOverflowError near the stack's end) leaves the guard open, so it still says
      // what is held and a retry can release it (review 18).
      lock.unlock();
      closed = true;
    }

    /**
     * Describes the guard without blocking.
     *
     * @return the guard's owner thread and whether it is closed
     */
    @Override
    public String toString() {
      return "SpinLock.Guard[" + ThreadNames.of(thread) + (closed ? ", closed]" : "]");
    }
  }

  static {
    // Last of the static initializers: the classes this one's slow paths use are initialized
    // with it, not on a first slow path near the end of some thread's stack, where an overflow
    // in their initializers would break them for the rest of the JVM (see
    // StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, SpinBackoff.class, ProtocolWindows.class,
        Waiter.class, SpinLockCondition.class);
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

  /** True when an exposed waiter gave up and its backstop waits for the next registration. */
  boolean backstopHandedOn;

  /** A waiter that has waited too long: the next unlock hands the lock to it, or null. */
  @Nullable Thread heir;
}

/** 64 bytes of padding after {@link SpinLockState}'s fields. */
@SuppressWarnings("unused")
abstract class SpinLockPadAfter extends SpinLockState {
  long q00, q01, q02, q03, q04, q05, q06, q07;

}
