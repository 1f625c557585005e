package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * A mutual-exclusion lock that owns the value it protects, so the value can only be reached
 * while the lock is held: Rust's {@code Mutex<T>} for Java, with predicate waits and automatic
 * signalling in the style of Guava's {@code Monitor}.
 *
 * <pre>{@code
 * Mutex<List<String>> jobs = new Mutex<>(new ArrayList<>());
 * try (Mutex.Guard<List<String>> g = jobs.lock()) {     // guard form
 *   g.get().add("x");
 * }
 * int n = jobs.with(List::size);                         // closure form
 *
 * Mutex<Long> counter = new Mutex<>(0L);
 * long now = counter.update(v -> v + 1);                 // replace an immutable value
 *
 * // Wait until the predicate holds; every holder that releases the lock wakes the waiter,
 * // so nobody has to remember to signal:
 * String first = jobs.awaitThen(list -> !list.isEmpty(), list -> list.remove(0));
 * }</pre>
 *
 * <p>The same with the plain JDK, where nothing ties the lock to the list and every waiter
 * writes its own loop and every writer its own {@code signalAll}:
 *
 * <pre>{@code
 * ReentrantLock lock = new ReentrantLock();
 * Condition changed = lock.newCondition();
 * List<String> jobs = new ArrayList<>();             // guarded by lock, by convention only
 * lock.lock();
 * try {
 *   while (jobs.isEmpty()) changed.await();
 *   first = jobs.remove(0);
 * } finally {
 *   lock.unlock();
 * }
 * }</pre>
 *
 * <p><b>Memory consistency effects:</b> Actions in a thread prior to releasing a {@code Mutex}
 * (closing a {@link Guard}, or returning from {@link #with}, {@link #update} or
 * {@link #awaitThen}) <i>happen-before</i> actions subsequent to a later acquisition of the same
 * {@code Mutex} in another thread (through {@link #lock}, {@link #tryLock}, {@link #with},
 * {@link #update}, {@link #lockWhen}, {@link #awaitThen}, or the return from a {@link Condvar}
 * wait). These are the memory effects of {@link java.util.concurrent.locks.Lock}: the
 * {@code Mutex} is a thin layer over an {@link AbstractQueuedSynchronizer}, the machinery of
 * {@link java.util.concurrent.locks.ReentrantLock}, with the same queueing and conditions.
 *
 * <p><b>Thread safety:</b> all methods may be called from any thread. The protected value is
 * reachable only through a guard or a closure while the lock is held; a reference that the
 * caller copies out of the closure or guard is no longer protected (that is the caller's bug,
 * and a Java compiler cannot catch it as Rust's borrow checker does).
 *
 * <p><b>Null values:</b> {@code null} is allowed as the protected value ({@code new
 * Mutex<@Nullable String>(null)}); functions and timeouts must not be null.
 *
 * <p><b>Reentrancy:</b> the lock is <em>not</em> reentrant. Acquiring it again from the thread
 * that holds it ({@code lock}, {@code with}, {@code update}, {@code tryLock}, {@code lockWhen},
 * {@code awaitThen}) throws {@link IllegalStateException} instead of deadlocking.
 *
 * <p><b>No poisoning:</b> unlike Rust, a holder that throws does not poison the lock. If the
 * function given to {@link #update} throws, the value is left unchanged and the exception
 * propagates; code that throws while holding a {@link Guard} keeps whatever it already wrote,
 * as with any Java lock. The lock is always released.
 *
 * <p><b>Automatic signalling:</b> a thread waiting in {@link #lockWhen} or {@link #awaitThen} is
 * woken when another thread releases the lock (or releases it to wait on a {@link Condvar})
 * with the waiter's predicate true, and re-checks it under the lock; no notify call is needed
 * and no wake-up can be lost. The releasing thread evaluates the waiters' predicates, under the
 * lock, and wakes only those for whom it holds or throws (as Guava's {@code Monitor} evaluates
 * its guards), at most 128 per release, oldest first; waiters past those are woken to check for
 * themselves. Releases cost nothing extra while nobody waits. A woken waiter lets
 * the threads already queued for the lock go first (as {@code Condition.signalAll}'s waiters
 * do), so a crowd of waiters cannot keep out the thread that would make the change they wait
 * for; it waits at most 200&nbsp;&micro;s for a queued thread to take a free lock, then takes
 * it itself; while the lock is held it queues behind the others in rounds (16&nbsp;ms, doubling
 * up to 64&nbsp;ms), looking again after each, so a queued thread that never runs cannot keep
 * it off a free lock for longer than one round and the 200&nbsp;&micro;s. Behind a hold longer
 * than a round it re-queues at the tail, behind threads that queued after it. Predicates must depend
 * only on the protected value (and other state changed under this lock), be quick, and have no
 * side effects; they may run many times, and on the thread that releases the lock (not only
 * the waiter's), even just after a timed wait gave up. So on a default mutex a predicate must
 * not block or take another lock: the releasing thread may hold locks of its own while it evaluates, and a
 * predicate that waits there for a lock can deadlock it (Guava's {@code Monitor} has the same
 * rule for its guards). A predicate that throws when a release evaluates it wakes its waiter,
 * which throws it from its own {@code lockWhen}; the release itself never throws it. Where
 * predicates must take locks, make the mutex with {@link PredicateEvaluation#BY_WAITER}: each
 * waiter then evaluates only its own predicate, on its own thread, and every release that may
 * have changed the value wakes every waiter to re-check (the behaviour of {@code
 * Condition.signalAll}).
 *
 * The state a predicate reads must still change only under this mutex: a change made under
 * another lock alone wakes nobody, whoever evaluates.
 *
 * <pre>{@code
 * // The value is a legacy object whose methods take its own lock: so does the predicate.
 * Mutex<Account> account = new Mutex<>(legacy, Mutex.PredicateEvaluation.BY_WAITER);
 * try (Mutex.Guard<Account> g = account.lockWhen(a -> a.balance() >= price)) {
 *   g.get().withdraw(price); // deposits, too, are made holding `account`
 * }
 * }</pre>
 *
 * <p><b>Waiting policy:</b> {@link #lockWhen} and {@link #awaitThen} (like {@link Condvar}'s
 * waits) spin for up to 10&nbsp;&micro;s for another thread's release before they sleep, so a
 * state change made right away costs no park/unpark round trip. Plain acquisition ({@link
 * #lock}, {@link #with}, {@link #update}) does not spin: like {@code ReentrantLock}, a
 * contended acquirer queues and parks almost at once, which keeps throughput up when two
 * threads hammer the lock.
 *
 * <p><b>A full heap:</b> an uninterruptible acquisition ({@link #lock()}, {@link #with}, {@link
 * #update}, the re-acquisition inside a {@link Condvar} wait) whose queue node cannot be
 * allocated waits without one, polling, as JDK 25's {@code ReentrantLock} does; on JDK 17 the
 * JDK's own queue would throw the {@link OutOfMemoryError}. Interruptible and timed acquisitions
 * throw it, holding nothing.
 *
 * <p><b>Timeouts and interrupts:</b> a timed {@link #lockWhen(Predicate, Duration)} waits at
 * most its timeout <em>in total</em>, including every time it gives the lock up to wait and
 * takes it back: if the deadline passes while another thread holds the lock, it returns
 * {@code null} without the lock instead of waiting for that thread. A zero or negative timeout
 * (or a deadline in the past) evaluates the predicate once if the lock is free, never gives the
 * lock up in between, and never waits. An interrupt at any point of {@link #lockWhen} or {@link
 * #awaitThen} ends the wait with {@link InterruptedException}, without the lock.
 *
 * <p><b>Footprint:</b> a {@code Mutex} takes about 220 bytes with its lock (a {@code
 * ReentrantLock} about 50): the lock word is padded onto a cache line of its own, because
 * sharing that line with a neighbouring object made contended calls up to 12 times slower in
 * some JVM runs (see the padding notes in the source).
 *
 * <p><b>Misuse:</b> null functions or timeouts throw {@link NullPointerException}; acquiring the
 * lock again from its holder throws {@link IllegalStateException}; guard misuse is described in
 * {@link Guard}.
 *
 * @param <T> the type of the protected value; may be a nullable type
 */
public final class Mutex<T extends @Nullable Object> extends MutexFields<T> {
  /*
   * Algorithm notes:
   *
   * The lock. `sync` is a non-reentrant exclusive AbstractQueuedSynchronizer (AQS): state 0 =
   * free, 1 = held, plus AQS's exclusive owner thread. tryAcquire is one CAS of the state from 0
   * to 1 (volatile semantics: acquire ordering) followed by a plain write of the owner;
   * tryRelease checks the owner (IllegalMonitorStateException otherwise), clears it with a plain
   * write and sets the state to 0 with AQS's volatile setState (release ordering), after which
   * AQS wakes the first queued thread. These are exactly the edges of ReentrantLock (unlock
   * happens-before the next successful CAS), and queueing, parking, timeouts, interrupts and
   * Condition objects are AQS's own, as in ReentrantLock. We do not use ReentrantLock itself
   * because it is reentrant: refusing reentry on top of it needs an owner check before every
   * lock(), while a non-reentrant CAS simply fails for the holder, so the reentry check moves to
   * the slow path (below). The holder's plain owner write is read only by the holder itself
   * (isHeldExclusively) or racily by toString; a thread always sees its own latest write, and it
   * cleared the owner before its previous release, so it can never mistake a stale owner for
   * itself.
   *
   * The value lives in a plain field. Every read and write of it happens while the lock is held
   * (guards check ownership before touching it), so the lock's happens-before edges (release ->
   * later acquire) order all accesses; no VarHandle or volatile is needed.
   *
   * Automatic signalling: the change queue. `changeWaiters` is a singly linked list of
   * ChangeWaiter nodes (one per parked lockWhen/awaitThen thread) whose head and links are
   * plain fields read and written only under the lock. A thread whose predicate is false appends
   * a node (holding its predicate) while it holds the lock, releases the lock, and parks until
   * its node's thread field is cleared. Every release by a holder that may have changed the
   * state goes through `releaseLock()`, which, when the head is non-null, evaluates the queued
   * predicates under the lock and wakes the nodes whose predicate holds before `sync.release(1)`,
   * as Condition.signalAll moves its waiters while the lock is held (see "Selective wake-ups"
   * and "Bounded rounds in the lock's queue"); each woken thread re-takes the lock and
   * re-checks its own predicate. No wake-up is lost: the node is appended under the lock before
   * the waiter's release, so every holder that acquires the lock afterwards finds it; the waker
   * clears the node's thread (getAndSet, volatile) before it unparks, and the waiter checks the
   * field (getAcquire) before each park, so either it sees the clear or the unpark's permit
   * ends its park. A holder that changes the state and then waits on a Condvar wakes the due
   * waiters first (signalChangedBeforeWait), because Condition.await releases the lock without
   * passing through releaseLock().
   *
   * Selective wake-ups (session 27). Until then every release woke every queued waiter, and
   * each re-took the lock only to find its predicate still false and queue again: in a herd
   * waiting for successive rounds, each satisfied waiter's release woke the ones already back
   * for the next round (100 platform waiters: 105-134 ms against Condition's 34-43 ms,
   * WaiterHerdBench). Now the releasing holder evaluates each queued predicate against the
   * value as it is at the release (markDue, under the lock, so it sees every change the holder
   * made) and wakes only the nodes whose predicate holds (detachDue); the others stay queued,
   * in order. As Guava's Monitor does with its guards. Why it loses no wake-up: a node stays
   * queued only if its predicate was false for the value at a release; the value changes only
   * under the lock, and every holder that may change it (a guard's close, the end of with,
   * update and awaitThen, a Condvar wait) releases through releaseLock() or
   * signalChangedBeforeWait(), which evaluate again. Releases that cannot have changed anything
   * (a waiter whose predicate failed, giving the lock back to wait or to spin; a Condvar's
   * notify) do not evaluate: the predicates they would see are the ones already seen false.
   * Three rules keep the user's predicates safe to run on another thread. A predicate that
   * throws (anything, a StackOverflowError included) counts as holding: its waiter is woken and
   * throws it on its own thread (ChangeWaiter.mayProceed), and the releasing holder's unlock
   * never fails because of another thread's predicate. At most EVALUATIONS_PER_RELEASE (128)
   * predicates are evaluated per release, oldest first; the nodes after them are woken
   * unevaluated, as before, so a release's time under the lock stays bounded however many
   * threads wait (each evaluation costs a few ns; a herd of 500 evaluated in full on every
   * release spent more in evaluations than the wake-ups it saved, measured with the stack
   * probes disabled). Lock-order checking records nothing while a releaser evaluates
   * (LockOrder.suspendRecording): a lock a predicate takes is ordered after this mutex by its
   * waiter's own evaluations, while the releaser's other locks would add orders the program
   * never uses (review 27: a LockOrderException for a correct program). And the contract of
   * lockWhen already asks for predicates that depend only on state guarded by this lock and
   * have no side effects; it now says that they may run on a releasing thread too, and so must
   * not block or take locks (review 27 built a deadlock from a predicate taking a
   * ReentrantLock while the releaser held another lock; Guava's Monitor has the same rule).
   * Since session 28 a mutex made with PredicateEvaluation.BY_WAITER evaluates nothing on
   * release (markDue's budget is 0: every node is due, as before session 27), for predicates
   * that must take locks. The nodes of waiters that left (timeout, interrupt) are purged by
   * the evaluation and, when they outnumber the live nodes, by an append
   * (purgeLeftWaiters), so an append costs O(1) amortized and the queue holds at most twice its
   * live nodes plus PURGE_SLACK (changeWaitersLeft counts the left nodes: an append purges when
   * they outnumber the live ones by more than PURGE_SLACK).
   *
   * Woken waiters queue behind lockers (session 13). A waiter woken from the change queue
   * lets the threads already queued for the lock in the AQS go first (reacquireWoken): it spins
   * for the lock only while nobody is queued (spinAcquire stops as soon as a thread queues);
   * while the lock is held it joins the AQS queue at the tail without barging
   * (Sync.BEHIND_QUEUED), for bounded rounds (see "Bounded rounds in the lock's queue" below);
   * while the lock is free but threads are queued (the release
   * unparked the first of them, which has not run yet) it parks in DEFER_POLL_NANOS steps
   * (200 us) and looks again. Why: the threads queued for the lock are often the ones that make the change
   * the herd waits for. When every woken waiter barged, a producer queued behind them waited
   * for the whole herd on every change, so the waiters kept up with it and waited again, a
   * storm of wake-ups: 100 platform waiters on 2 cores took 290-580 ms against Condition's
   * 26-56 ms (the producer spent 80-90% of the run waiting for the lock; WaiterHerdBench).
   * Condition gets the same order for free: signalAll moves its waiters to the lock's queue,
   * behind the lockers already there.
   *
   * The deferral is bounded (found by review, session 13): a first version queued behind
   * the others even when the lock was free, and a queued virtual thread without a carrier
   * then kept the woken waiter off a free lock for good (a timed lockWhen returned null at its
   * deadline with nobody holding the lock; with the carriers' threads waiting for the waiter,
   * a deadlock: Review13Test). Now, once the lock has been seen free with threads queued for
   * DEFER_NANOS (200 us, several wake-ups) without any of them taking it, the waiter takes it
   * itself, as a barging acquisition may. "Without any of them taking it" is checked by the
   * release count (Sync.releases, read opaque): a queued thread that took and released the lock
   * between two looks starts the deferral again (found by the second review: without it, a
   * stream of short holders let the waiter push ahead of a queue that was moving), but never
   * beyond 4 * DEFER_NANOS from the first look, so a queue that keeps moving while the lock is
   * free at every look cannot keep the waiter waiting without bound either. Deadlines and
   * interrupts hold in every
   * step: the deferral ends at the deadline with one attempt, and an interrupt ends it (or is
   * kept aside, uninterruptible). A lone waiter with nobody queued spins as before, so a
   * hand-off between two threads is unchanged. This orders acquisitions only; it adds no
   * memory effect (every acquisition is the same CAS on the state).
   *
   * Bounded rounds in the lock's queue (session 14). release() wakes the change queue before
   * it releases the lock, so most woken waiters find the lock still held by their waker and
   * queue behind it in the AQS, in FIFO order, as Condition.signalAll's waiters do. The order
   * was reversed for a while (session 13: wake after the release), because a waker preempted
   * between the wake-up and its release left the woken waiter queued behind a thread that
   * could not run (a virtual thread without a carrier; CI found it in Review13Test); but then
   * most of a herd found the lock free while the thread that the release had unparked was not
   * yet running, and spent the 200 us deferral instead of queueing: 100 platform waiters took
   * 142-185 ms, against 84-132 ms with the wake-up first. The hazard is not the waker's alone:
   * any thread that holds the lock when a woken waiter looks sends it into the queue, and the
   * queue can be stuck behind a thread that cannot run once that holder releases (Review14Test,
   * a third thread barging in between). So a woken waiter that finds the lock held, whoever
   * holds it, queues with tryAcquireNanos(BEHIND_QUEUED, round): no barging (Sync.tryAcquire
   * refuses while hasQueuedPredecessors), for one round, then it looks again: held, another
   * round; free with threads queued, the bounded deferral above; free with nobody queued, it
   * takes the lock. The first round is QUEUE_ROUND_NANOS (16 ms) and each further round of the
   * same wait doubles: up to QUEUE_ROUND_MAX_NANOS (64 ms) after a round in which the queue
   * did not move (one long hold), without a cap after a round in which it moved (the release
   * count changed: a queue of many short holds, longer than the round). A herd's queue moves
   * in a few microseconds per thread, so rounds rarely end there; behind a long hold each
   * waiter wakes once per 64 ms (Review14Test: with fixed 1 ms rounds, 100 waiters behind a
   * 300 ms hold burned 170-560 ms of CPU, and a waker preempted for more than 1 ms cost its
   * woken waiters their places); behind a long moving queue the rounds grow until one outlasts
   * it (Review14bTest: with the 64 ms cap, a waiter behind ~76 ms of 4 ms holds re-queued at
   * the tail for good). What it costs: a waiter whose round ends re-queues at the tail, so
   * behind a hold longer than 16 ms, or a queue longer than its round, the woken waiters lose
   * their places to threads that queued after them (a documented limitation: Condition's
   * waiters keep theirs, and can be stuck for good); and a queue that gets stuck keeps a waiter
   * at most one round plus the deferral: 64 ms behind single holds, and after rounds that grew
   * behind a moving queue, at most about as long again as it had already waited. Timed waits cut the round at their deadline and then make one attempt,
   * so a timed lockWhen still times out only while another thread holds the lock.
   *
   * Each round is cut short by a random 0-50% (jitteredRound, session 16), so the rounds of a
   * herd do not end together. The herd is woken at once and queues within a millisecond, so
   * with exact rounds its waiters time out within the same few hundred microseconds, and
   * each timed-out AQS acquisition cancels its node and runs the AQS's cleanQueue, which
   * walks the queue from the tail and starts again after every node it unlinks: many
   * cancellations at once, interleaved by preemption, cost each other far more than one at a
   * time (a sampled outlier: 32 of 34 running samples in cleanQueue). Measured on 2 cores
   * (results/2026-12-05-epyc-2c-mutex-round-jitter): 100 waiters behind a 300 ms hold burned
   * 55-214 ms of CPU in 6 of 210 runs (typically 11 ms), 200 waiters 138-554 ms in 3 of 50;
   * the JDK's own ReentrantLock.tryLock(timeout) loops started together do the same (3 of 150,
   * up to 75 ms). With the jitter: 100 waiters 0 of 150 (at most 22 ms, typically 15), 200
   * waiters 0 of 100. It costs about a third more round ends (the rounds are 25% shorter on
   * average) and leaves every bound above as it was (a round is never longer than before).
   * Still open: a herd of about 400 waiters can still meet in cleanQueue (0 and 2 of 30 runs,
   * against 3 of 30 without), since the spread a herd needs grows with its size and the
   * jitter's does not; and each round end walks the whole queue, so a herd's CPU grows with
   * the square of its size (400 waiters: 69 ms per 300 ms hold, typically).
   *
   * Why the queue and not a Condition of the lock (as until issue 18): Condition.await and
   * awaitNanos re-acquire the lock uninterruptibly and without any time limit after a signal
   * or a timeout, so a holder that kept the lock made lockWhen(p, 50 ms) return after a second.
   * With our own queue the waiter re-takes the lock itself, with tryAcquireNanos(deadline) or
   * acquireInterruptibly, and can give up without the lock (see "Deadlines and interrupts").
   *
   * Leaving early. A waiter that times out or is interrupted while parked leaves without the
   * lock, so it cannot unlink its node: it clears the node's thread with a CAS (leave), which
   * races with the waker's getAndSet; exactly one wins, so a node is either woken or left, never
   * both. Left nodes stay in the list until the next evaluating release or the next sweep of an
   * append (both purge them, under the lock): the queue never holds more than twice its live
   * nodes plus PURGE_SLACK, so memory stays bounded by the number of waiting threads however
   * long they wait. An interrupted waiter that was also woken passes nothing on: every waiter
   * whose predicate held was woken by the same release.
   *
   * Why the plain read of the head in release() cannot miss a waiter: the head is written only
   * by threads holding the lock (push, purge, detach), and release() reads it while still
   * holding the lock, so the lock's release -> acquire edges order every earlier push before our
   * read. A waiter that has not pushed yet must first acquire the lock, which it can only do
   * after our unlock, and then it evaluates its predicate under the lock and sees our changes
   * before deciding to wait. No fence or volatile is needed; the read is a plain field load and
   * is non-null only while some thread waits in lockWhen/awaitThen, so a release with nobody
   * waiting costs one load and one never-taken branch.
   *
   * Uncontended fast path (lock, with, update, tryLock): one CAS (tryAcquire), the user's code,
   * one plain read of `changeWaiters`, release (owner check, volatile state write, read of the AQS
   * queue head). Everything else is in separate, rarely-called methods, so the fast path stays
   * small enough for the JIT to inline into the caller.
   *
   * Reentrancy check, on the slow path only. The CAS fails if any thread holds the lock,
   * including the current thread; only then does lockSlow() compare the owner with the current
   * thread and throw IllegalStateException instead of queueing behind itself forever. Only the
   * current thread can make that comparison true, so it is exact without races. Methods that
   * are not on the hot path (lockInterruptibly, timed tryLock, lockWhen) check first, as before.
   *
   * Spin before sleeping (adaptive wait). A wait in lockWhen/awaitThen or on a Condvar whose
   * predicate blocks first releases the lock and spins for up to its window (WAIT_SPIN_NANOS
   * at first; see "Adaptive window" below), watching
   * Sync.releases, a counter that every release increments (an opaque store under the lock;
   * spinners read it with opaque loads, a fresh value each time, no ordering needed because the
   * spinner re-acquires the lock before it looks at anything). When another thread's release
   * moves the counter, the spinner re-acquires the lock and re-checks its predicate; if the
   * predicate still blocks, or the window ends without a release, it parks as
   * before (the change queue for lockWhen/awaitThen, the Condvar's Condition for a Condvar).
   * So a state change made within a few microseconds (the other half of a hand-off) costs no
   * park/unpark round trip, which on the benchmark VM is ~25 us per hand-off. No wake-up can
   * be lost: the spinner holds no place in any queue, wake-ups sent while it spins go to real
   * waiters (or nobody), and it re-checks the predicate under the lock after the spin, then
   * queues under the lock before it releases again, exactly as without the spin. One spin phase
   * per wait call: a busy lock cannot keep a waiter spinning. Off on a single-CPU machine,
   * where the thread it waits for cannot run while it spins.
   *
   * Adaptive window (issue 20). Each mutex keeps a window, 10 us (WAIT_SPIN_NANOS) at first,
   * and every 16th wait that would spin less than WAIT_SPIN_MAX_NANOS (50 us) probes: it
   * spins up to 50 us instead. A wait whose spin saw the change later than the window would
   * have allowed (a probe that succeeded; the time is the spin's own, not the re-acquisition
   * after it) sets the window to 50 us. A wait that spun wider than 10 us (a probe, or the
   * widened window) and did not catch the change (it parks next, or its time ran out) halves
   * it, never below 10 us. Why: a ping-pong of two threads can fall into a park convoy,
   * where each side spins 10 us, shorter than the other side's wake-up, so every hand-off
   * pays a park and an unpark (measured: p99 of a Condvar round trip 99.6 us against
   * Condition's p50 of 28.8 us on JDK 17). Growing on parked waits cannot get out of it: a
   * convoy's waits last two wake-ups, longer than any useful spin. A probe can: its 50 us
   * spin outlasts the partner's one wake-up and catches its release, and from then on both
   * sides find each other spinning. What it costs: a waiter whose partner answers in 10-50
   * us spins that long instead of parking (CPU for latency); a waiter whose partner answers
   * later spins 50 us in vain once in 16 waits, and once each time the widened window fails
   * before it is narrow again. The window is a hint in Sync, read and written opaque (a wait
   * that timed out reports without holding the lock; racing reports can lose one step); the
   * probe count is a plain int touched only under the lock. Neither orders anything: whatever
   * the window, a waiter parks exactly as described above, so no wake-up can be lost by it.
   *
   * Spin before queueing, for waits only. lockWhen/awaitThen's acquisition and the
   * re-acquisition at the end of a wait's spin first run SpinLock's test-and-test-and-set
   * rounds with bounded exponential backoff (SpinBackoff); only then do they queue in the AQS,
   * which parks almost at once. These are the hand-off paths: the partner holds the lock only
   * to change the state and signal, and catching its release saves a park/unpark round trip.
   * Plain acquisitions (lock, with, update, lockInterruptibly) do not spin, like ReentrantLock:
   * measured with two threads hammering Mutex.with (MutexBench.contended_*), spinning there
   * made an operation 3-4x slower (48 -> 159-193 ns; ReentrantLock 40 ns), because a spinning
   * waiter keeps pulling the lock's cache line from a holder that would otherwise run many
   * critical sections in a row while the waiter sleeps. A spinner may take the lock ahead of
   * parked threads, as any barging acquisition of a non-fair lock can.
   *
   * Deadlines and interrupts in every phase (issue 18, defects 3 and 10). lockWhen's wait has
   * four phases: the first acquisition, the spin phase (release, spin, re-acquire), the park on
   * the change queue, and the re-acquisition after a wake-up. A timed call computes one
   * deadline (nanoTime + timeout, compared only by subtraction) and every phase honours it:
   * the first acquisition is tryAcquireNanos; a zero or elapsed timeout returns before the spin
   * phase, so it checks the predicate once and never gives the lock up mid-call; the spin is
   * cut to the time left; spinAcquire reads the clock once per backoff round; the AQS part of
   * each re-acquisition is tryAcquireNanos(deadline - now); the park is parkNanos(deadline -
   * now). When the deadline passes in a re-acquisition, lockWhen returns null without the lock
   * (it never had it back); when it passes while parked, the waiter leaves the queue and returns
   * null. The overrun is therefore at most one backoff pause (<= 512 onSpinWait, a few us) or
   * the scheduler's latency in waking a parkNanos, never another thread's hold time. Likewise
   * an interruptible call checks the interrupt before it gives the lock up, re-acquires with
   * acquireInterruptibly/tryAcquireNanos and parks interruptibly, so an interrupt that arrives
   * while the thread waits (for the lock, or parked for a change) ends the wait with
   * InterruptedException, without the lock. Two edges, both keeping the interrupt status: an
   * interrupt during a spin round is noticed at the next check, so if the lock is taken and the
   * predicate holds first, the guard is returned with the status still set; and when the
   * deadline and an interrupt are both due at the top of the loop, the timed call returns null
   * with the status set (the deadline is checked first). lockWhenUninterruptibly re-acquires
   * with acquire and parks again after an interrupt, and re-asserts the interrupt on return.
   * Condvar's waits cannot give up the lock (they return holding it), so they re-acquire
   * without a limit, as Condition.await does; see Condvar.
   *
   * Protocol windows (ProtocolWindows, for tests): "mutex.released-for-spin" right after a
   * wait's spin phase released the lock (lockWhen and Condvar); "mutex.released-for-wait"
   * right after a lockWhen waiter pushed its node and released the lock, before it parks;
   * "mutex.woken" after a lockWhen waiter was woken, before it re-takes the lock;
   * "mutex.woke-before-release" in release() after the waker woke the change queue, before its
   * release (a waker preempted there). A test that
   * lets another thread take the lock in one of them opens the release/re-acquire window of
   * that phase on purpose.
   */

  /** {@link MutexFields#changeWaitersLeft}: counted up by leaving waiters, down by sweeps. */
  private static final VarHandle LEFT;

  static {
    // JFR: if a recording is running, weft's event classes load now, not inside a first wait.
    WeftJfr.prepareIfRecording();
    try {
      LEFT =
          MethodHandles.lookup().findVarHandle(MutexFields.class, "changeWaitersLeft", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /**
   * How long a wait spins for another thread's release before it sleeps on its condition, at
   * first and at least (the window adapts up to {@link #WAIT_SPIN_MAX_NANOS}; see the
   * algorithm notes). Chosen from {@code CondvarBench}: a hand-off that parks costs
   * about 25 &micro;s per direction on the 2-core benchmark VM, and a partner that is running
   * answers within 1&ndash;2 &micro;s, so 10 &micro;s catches a running partner with room to
   * spare while bounding the CPU a wait can burn before it sleeps.
   */
  static final long WAIT_SPIN_NANOS = 10_000L;

  /** How many change waiters' predicates a release evaluates at most; see "Selective wake-ups". */
  static final int EVALUATIONS_PER_RELEASE =
      Math.max(0, SystemProperties.getInt("dev.weft.mutex.evaluationsPerRelease", 128));

  /**
   * The longest the adaptive spin window grows to (see the algorithm notes, "Adaptive
   * window"): 50 &micro;s, the wake-up latency of a parked thread on the VMs measured (20-60
   * &micro;s) and the spin of {@code Parallel}'s pool threads, chosen from {@code
   * HandoffLatencyBench} and {@code CondvarBench} (docs/mutex.md, "Hand-off tails").
   */
  static final long WAIT_SPIN_MAX_NANOS = 50_000L;

  /** Spinning only makes sense when another thread can run meanwhile. */
  static final boolean WAIT_SPINS = Runtime.getRuntime().availableProcessors() > 1;

  /**
   * How long a waiter woken from the change queue waits for a thread queued for a free lock to
   * take it, before it takes it itself: 200 &micro;s, several wake-ups of a queued thread (see
   * "Woken waiters queue behind lockers" in the algorithm notes). {@code
   * -Ddev.weft.mutex.deferMicros=N} changes it; 0 makes woken waiters barge like any other
   * acquisition.
   */
  static final long DEFER_NANOS =
      TimeUnit.MICROSECONDS.toNanos(
          Math.max(0L, SystemProperties.getLong("dev.weft.mutex.deferMicros", 200L)));

  /**
   * The park step of that wait: 200 &micro;s, one look per deferral. Measured with
   * WaiterHerdBench (session 13, two rounds, ms per herd): 10 &micro;s steps 99&ndash;105 platform
   * and 102&ndash;117 virtual, 50 &micro;s 76&ndash;101 and 90&ndash;92, 200 &micro;s
   * 79&ndash;94 and 65&ndash;70: every timed park of a virtual thread goes through the
   * scheduler's timer, so fewer looks cost less. {@code -Ddev.weft.mutex.deferPollMicros=N}
   * changes it (at least 1).
   */
  static final long DEFER_POLL_NANOS =
      TimeUnit.MICROSECONDS.toNanos(
          Math.max(1L, SystemProperties.getLong("dev.weft.mutex.deferPollMicros", 200L)));

  /**
   * The first round that a woken waiter stays queued in the AQS while the lock is held, before
   * it looks again: 16 ms; each further round of the same wait is twice as long, up to {@link
   * #QUEUE_ROUND_MAX_NANOS}. A bound, not a tuning knob: in a herd the queue ahead moves in a
   * few microseconds per thread, so a round rarely ends; it ends when the lock is held for long
   * (then the waiter re-queues, at the tail, and loses its place to threads that queued after
   * it) or when the queue is stuck behind a thread that cannot run while the lock is free (then
   * the deferral takes the lock). Even cut to 8 ms it is longer than a preempted holder's usual time slice
   * (a few ms), so a waker preempted before its release does not cost its woken waiters their
   * places; Review14Test found both 1 ms rounds' costs (the lost places, and the wake-ups). See
   * "Bounded rounds in the lock's queue" in the algorithm notes. Each round is cut short by a
   * random 0-50% ({@link #jitteredRound}), so the first is 8-16 ms. {@code
   * -Ddev.weft.mutex.queueRoundMicros=N} changes it (at least 1).
   */
  static final long QUEUE_ROUND_NANOS =
      TimeUnit.MICROSECONDS.toNanos(
          Math.max(1L, SystemProperties.getLong("dev.weft.mutex.queueRoundMicros", 16_000L)));

  /**
   * The longest round: 4 times the first (64 ms by default). It bounds how long a woken waiter
   * can stay behind a thread that cannot run while the lock is free (one round, plus the
   * deferral), and it keeps a herd behind a long hold to one wake-up per waiter every 64 ms
   * (Review14Test: 100 waiters re-queueing every 1 ms behind a 300 ms hold burned 170-560 ms
   * of CPU).
   */
  static final long QUEUE_ROUND_MAX_NANOS = QUEUE_ROUND_NANOS << 2;

  /**
   * A round cut short by a random 0-50%: the rounds of a woken herd, which starts them within a
   * millisecond, then end spread over half a round instead of together, so their AQS
   * cancellations do not meet in cleanQueue (see "Bounded rounds in the lock's queue" in the
   * algorithm notes). Never longer than {@code round}, so every bound on a round holds as
   * before; never shorter than half of it.
   *
   * @param round the round, at least 1 ns
   * @return a value in ({@code round - round/2}, {@code round}]
   */
  static long jitteredRound(long round) {
    long spread = round >>> 1;
    // nextLong(bound) needs bound > 0; a round under 2 ns has nothing to spread.
    return spread == 0L ? round : round - ThreadLocalRandom.current().nextLong(spread);
  }

  /**
   * The longest round after a round in which the queue moved (a long queue of short holds):
   * only an overflow guard (about 1.6 days), since such a round is at most about as long as the
   * waiter has already waited.
   */
  static final long QUEUE_ROUND_LIMIT_NANOS = Long.MAX_VALUE >>> 16;

  /*
   * Padding. The fields live in MutexFields (superclass fields are laid out first), followed
   * by these 64 bytes; Sync adds 64 bytes after its own. A Mutex allocates its Sync right
   * after itself, so the AQS state that both threads CAS gets a cache line that neither the
   * Mutex's fields (read on every call) nor the next object share. Measured with two threads
   * on MutexBench.contended_weftMutexWith, 8 forks each: unpadded, forks ran either at 28-34
   * ns or at 120-300 ns per operation (4 of 8; the mode changed within a fork when a GC moved
   * the objects); with -XX:ObjectAlignmentInBytes=64 (every object on its own line) 8 of 8 at
   * 30-34 ns, so it is sharing a line with a neighbour; with 32-byte alignment 6 of 8 slow;
   * padding only after Sync left 2 of 6 slow; padding on both sides: 8 of 8 at 27-34 ns.
   * Cost: 128 bytes per Mutex, about 220 in all with its lock (see "Footprint" in the class doc).
   */
  @SuppressWarnings("unused")
  private long p00, p01, p02, p03, p04, p05, p06, p07;

  /**
   * Who evaluates the predicates of the threads waiting in {@link #lockWhen} and {@link
   * #awaitThen}, chosen when the mutex is made ({@link Mutex#Mutex(Object, Mutex.PredicateEvaluation)}).
   * Either way no wake-up is lost and a waiter returns only with its predicate true, checked
   * under the lock; what differs is which thread runs the predicate and how many waiters a
   * release wakes.
   */
  public enum PredicateEvaluation {
    /**
     * The default. A release that may have changed the value evaluates the queued predicates,
     * under the lock, on the releasing thread, and wakes only the waiters whose predicate holds
     * (or throws), at most 128 evaluations per release, the waiters past those woken to check
     * for themselves. A herd of waiters for different values costs one evaluation each per
     * release instead of a wake-up each. Predicates must not block or take locks: the releasing
     * thread may hold locks of its own while it evaluates them.
     */
    BY_RELEASER,
    /**
     * Each waiter evaluates only its own predicate, on its own thread, under the lock. A
     * release that may have changed the value wakes every waiter, and each re-acquires the
     * lock to re-check ({@code Condition.signalAll}'s cost: a herd pays a wake-up and an
     * acquisition per waiter per change). For predicates that take locks of their own (always
     * ordered after this mutex, by every waiter: lock-order checking records them so) or do
     * anything else that must not run on another thread.
     */
    BY_WAITER
  }

  /** Who evaluates waiting predicates; final, set in the constructor. */
  private final PredicateEvaluation evaluation;

  /**
   * Creates a mutex protecting {@code value}, whose releases evaluate waiting predicates ({@link
   * PredicateEvaluation#BY_RELEASER}).
   *
   * @param value the initial value; may be {@code null}
   */
  public Mutex(T value) {
    this(value, PredicateEvaluation.BY_RELEASER);
  }

  /**
   * Creates a mutex protecting {@code value}, with the given evaluation of waiting predicates.
   *
   * @param value the initial value; may be {@code null}
   * @param evaluation who evaluates the predicates of {@link #lockWhen} and {@link #awaitThen}
   * @throws NullPointerException if {@code evaluation} is null
   */
  public Mutex(T value, PredicateEvaluation evaluation) {
    super(value);
    this.evaluation = Objects.requireNonNull(evaluation, "evaluation");
  }

  /**
   * Returns who evaluates this mutex's waiting predicates, as chosen when it was made.
   *
   * @return the predicate evaluation of this mutex
   */
  public PredicateEvaluation predicateEvaluation() {
    return evaluation;
  }

  // ---------------------------------------------------------------------------------------
  // Guard acquisition
  // ---------------------------------------------------------------------------------------

  /**
   * Acquires the lock, waiting uninterruptibly if another thread holds it, and returns a guard
   * through which the value can be used until the guard is closed. Like {@link
   * java.util.concurrent.locks.Lock#lock()}, this does not respond to interruption; use
   * {@link #lockInterruptibly()} for that.
   *
   * @return an open guard owned by the current thread
   * @throws IllegalStateException if the current thread already holds this mutex
   */
  public Guard<T> lock() {
    // The guard exists before the lock is taken: its allocation (a call, when the constructor
    // is not inlined) cannot then overflow the stack after the acquisition and leave the
    // mutex held by a call that threw (session 19's sweep found that window).
    Guard<T> guard = new Guard<>(this);
    // Lock-order checking (LockOrder): one switch read, constant-folded by the JIT while off.
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    if (!sync.tryLockFast()) {
      lockSlow();
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    return guard;
  }

  /**
   * Acquires the lock unless the current thread is interrupted.
   *
   * @return an open guard owned by the current thread
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   * @throws IllegalStateException if the current thread already holds this mutex
   */
  public Guard<T> lockInterruptibly() throws InterruptedException {
    Guard<T> guard = new Guard<>(this); // before the acquisition: see lock()
    checkNotHeld();
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    if (Thread.interrupted()) { // as AQS's acquireInterruptibly: even when the lock is free
      throw new InterruptedException("interrupted before acquiring the Mutex");
    }
    if (!sync.tryLockFast()) {
      acquireContended(); // no spin: see "Spin before queueing" in the algorithm notes
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    return guard;
  }

  /**
   * Acquires the lock only if it is free at the time of the call.
   *
   * @return an open guard, or {@code null} if another thread holds the lock
   * @throws IllegalStateException if the current thread already holds this mutex
   */
  public @Nullable Guard<T> tryLock() {
    Guard<T> guard = new Guard<>(this); // before the acquisition: see lock()
    // Everything that can overflow the stack comes before the CAS: after it, only field
    // accesses (review 23: a call after the CAS threw StackOverflowError holding the lock).
    // With lock-order checking on, a probe covers the record that follows the CAS.
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      StackHeadroom.ensure(StackHeadroom.RECORD_FRAMES);
    }
    if (sync.tryLockFast()) {
      if (ordered) {
        LockOrder.acquired(this, false); // held, but no edge: a tryLock does not wait
      }
      return guard;
    }
    checkNotHeld(); // the CAS also fails for the holder: tell it apart from contention
    return null;
  }

  /**
   * Acquires the lock if it becomes free within the timeout.
   *
   * <p>On a virtual thread, a wait that fails unmounts the thread before it returns: see <a
   * href="package-summary.html#virtual-timeouts">timed waits on virtual threads</a>.
   *
   * @param timeout how long to wait; zero or negative means check once without waiting
   * @return an open guard, or {@code null} if the timeout elapsed first
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   * @throws NullPointerException if {@code timeout} is null
   * @throws IllegalStateException if the current thread already holds this mutex
   */
  public @Nullable Guard<T> tryLock(Duration timeout) throws InterruptedException {
    long nanos = Timeouts.toNanos(timeout, "timeout");
    Guard<T> guard = new Guard<>(this); // before the acquisition: see lock()
    checkNotHeld();
    boolean ordered = LockOrder.enabled();
    if (ordered && nanos > 0L) {
      LockOrder.beforeWait(this, false); // a positive timeout waits: checked like lock()
    } else if (ordered) {
      StackHeadroom.ensure(StackHeadroom.RECORD_FRAMES); // see tryLock()
    }
    if (Thread.interrupted()) { // as AQS's tryAcquireNanos: even when the lock is free
      throw new InterruptedException("interrupted before acquiring the Mutex");
    }
    if (!sync.tryLockFast() && (nanos <= 0L || !tryAcquireContended(nanos))) {
      return null;
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    return guard;
  }

  // ---------------------------------------------------------------------------------------
  // Closure forms
  // ---------------------------------------------------------------------------------------

  /**
   * Runs {@code fn} on the value while holding the lock and returns its result. The lock is
   * acquired uninterruptibly, as by {@link #lock()}, and released however {@code fn} completes.
   *
   * @param fn the function to apply; must not leak the value if the value is mutable
   * @param <R> the result type
   * @return what {@code fn} returned
   * @throws NullPointerException if {@code fn} is null
   * @throws IllegalStateException if the current thread already holds this mutex
   */
  public <R extends @Nullable Object> R with(Function<? super T, ? extends R> fn) {
    Objects.requireNonNull(fn, "fn");
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    if (!sync.tryLockFast()) {
      lockSlow();
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    try {
      return fn.apply(value);
    } finally {
      releaseLock(false, ordered); // no second LockOrder.enabled() call after the body
    }
  }

  /**
   * Replaces the value with {@code fn(value)} while holding the lock, and returns the new value.
   * If {@code fn} throws, the value is unchanged and the exception propagates (no poisoning).
   *
   * @param fn the function computing the new value from the old one
   * @return the new value
   * @throws NullPointerException if {@code fn} is null
   * @throws IllegalStateException if the current thread already holds this mutex
   */
  public T update(UnaryOperator<T> fn) {
    Objects.requireNonNull(fn, "fn");
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    if (!sync.tryLockFast()) {
      lockSlow();
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    try {
      T next = fn.apply(value);
      value = next;
      return next;
    } finally {
      releaseLock(false, ordered); // no second LockOrder.enabled() call after the body
    }
  }

  // ---------------------------------------------------------------------------------------
  // Predicate waits with automatic signalling
  // ---------------------------------------------------------------------------------------

  /**
   * Acquires the lock once {@code ready} holds for the value, waiting as long as needed. The
   * predicate is evaluated under the lock, first at once and then each time another holder
   * releases the lock (automatic signalling: by the releasing thread, which wakes this one only
   * if it holds; on a mutex made with {@link PredicateEvaluation#BY_WAITER}, by this thread,
   * woken by every release); spurious wake-ups are never visible.
   *
   * @param ready the condition to wait for; evaluated only while the lock is held, by this
   *     thread or by a thread releasing the lock (only by this thread on a mutex made with
   *     {@link PredicateEvaluation#BY_WAITER}; see "Automatic signalling" in the class doc)
   * @return an open guard; {@code ready} held when it was returned
   * @throws InterruptedException if the current thread is interrupted before or while waiting;
   *     the lock is then not held
   * @throws NullPointerException if {@code ready} is null
   * @throws IllegalStateException if the current thread already holds this mutex
   */
  public Guard<T> lockWhen(Predicate<? super T> ready) throws InterruptedException {
    return lockWhenOrdered(ready, LockOrder.enabled());
  }

  /**
   * {@link #lockWhen(Predicate)} with the lock-order switch as the caller read it, before the
   * acquisition: {@link #awaitThen} releases with the same value, as {@code with}/{@code update}
   * do, so that no {@code LockOrder.enabled()} call (a method-handle call that may link deep in
   * the stack after the switch flips) runs between the action and the release (review 28).
   */
  private Guard<T> lockWhenOrdered(Predicate<? super T> ready, boolean ordered)
      throws InterruptedException {
    Guard<T> guard = new Guard<>(this); // before the acquisition: see lock()
    Objects.requireNonNull(ready, "ready");
    checkNotHeld();
    if (Thread.interrupted()) { // "interrupted before waiting" holds even for a free lock
      throw new InterruptedException("interrupted before acquiring the Mutex");
    }
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    // Before the lock is taken: a failed predicate gives it back from this frame (AQS release,
    // a VarHandle store), and an overflow there left it locked by nobody (review 22d). ~80 ns.
    StackHeadroom.ensure(StackHeadroom.RELEASE_FRAMES);
    if (!spinAcquire(false, 0L)) {
      acquireContended();
    }
    boolean ok = false;
    try {
      if (ordered) {
        // Held from here on for lock-order checking, before the predicate runs: a lock the
        // predicate takes is ordered after this one (review 22: recorded only after the
        // predicate, such a lock made no edge and the inverse order went unreported). It stays
        // recorded while a wait has released the lock: the predicate runs only with it held.
        // Inside the try: an error here (an overflow in the thread's first checked
        // acquisition, review 22d) gives the lock back like a failed predicate.
        LockOrder.acquired(this, false);
      }
      ok = ready.test(value) || awaitReady(ready, true, false, 0L); // untimed: true or throws
    } finally {
      forgetUnlessReady(ok, ordered);
    }
    return guard;
  }

  /**
   * Like {@link #lockWhen(Predicate)}, but waits at most {@code timeout} in total: for the lock,
   * for the predicate, and for the lock again each time a release wakes this thread to re-check.
   * If the deadline passes while another thread holds the lock, this returns {@code null}
   * without waiting for that thread to let go. The call returns no later than the deadline plus
   * the time the thread needs to notice it: one pause of the spin backoff (a few
   * microseconds) or the scheduler's delay in waking a timed park; never another thread's hold
   * time.
   *
   * <p>A zero or negative timeout checks once: if the lock is free it evaluates {@code ready}
   * once and returns the guard or {@code null}, without ever releasing the lock in between;
   * if another thread holds the lock it returns {@code null} at once.
   *
   * <p>On a virtual thread, a wait that fails unmounts the thread before it returns: see <a
   * href="package-summary.html#virtual-timeouts">timed waits on virtual threads</a>.
   *
   * @param ready the condition to wait for
   * @param timeout the longest time to wait; zero or negative means check once without waiting;
   *     huge values are capped (about 146 years) and never overflow
   * @return an open guard, or {@code null} if the deadline passed before the lock was held with
   *     {@code ready} true (the lock is then not held)
   * @throws InterruptedException if the current thread is interrupted before waiting (also
   *     with a zero timeout) or while it waits for the lock or for a change; the lock is then not
   *     held. An interrupt noticed only as the deadline passes, or during a spin that ends with
   *     the lock held and {@code ready} true, is kept as the thread's interrupt status instead
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the current thread already holds this mutex
   */
  public @Nullable Guard<T> lockWhen(Predicate<? super T> ready, Duration timeout)
      throws InterruptedException {
    Objects.requireNonNull(ready, "ready");
    long nanos = Timeouts.toNanos(timeout, "timeout");
    checkNotHeld();
    // nanos <= Timeouts.MAX_NANOS (2^62): the sum may wrap, but it is only ever used as
    // `deadline - System.nanoTime()`, which is exact while the true difference is below 2^63.
    long deadline = System.nanoTime() + nanos;
    boolean ordered = LockOrder.enabled();
    if (ordered && nanos > 0L) {
      LockOrder.beforeWait(this, false); // a positive timeout waits: checked like lock()
    }
    if (Thread.interrupted()) { // as AQS's tryAcquireNanos: even when the lock is free
      throw new InterruptedException("interrupted before acquiring the Mutex");
    }
    StackHeadroom.ensure(StackHeadroom.RELEASE_FRAMES); // see lockWhen(Predicate)
    // A zero timeout: one attempt, no queueing.
    if (!sync.tryLockFast() && (nanos <= 0L || !tryAcquireContended(nanos))) {
      return null;
    }
    boolean ok = false;
    try {
      if (ordered) {
        LockOrder.acquired(this, false); // before the predicate: see lockWhen(Predicate)
      }
      ok = ready.test(value) || awaitReady(ready, true, true, deadline);
    } finally {
      forgetUnlessReady(ok, ordered);
    }
    if (!ok) {
      if (nanos > 0L) {
        // Timed out, the lock released: a virtual thread unmounts once first. Its wait may not
        // have parked (a virtual thread has no spin window, so a lock that was free and a
        // predicate that was false end at the first deadline check), and a lockWhen(1 us) retry
        // loop then kept its carrier (SpinBackoff.unmountIfVirtual; 5 of 5 runs at 300 ns).
        // An interrupt during that park is reported as one.
        if (SpinBackoff.unmountBeforeTimeoutInterrupted(this)) {
          throw new InterruptedException("interrupted while waiting in Mutex.lockWhen");
        }
      }
      return null;
    }
    return new Guard<>(this);
  }

  /**
   * Like {@link #lockWhen(Predicate, Duration)} with an absolute deadline, measured on the
   * system clock ({@link Instant#now()}) at the time of the call. The deadline is compared with
   * now before anything is subtracted, so any {@code Instant}, however far in the past or
   * future, works.
   *
   * @param ready the condition to wait for
   * @param deadline when to give up; a deadline in the past means check once without waiting
   * @return an open guard, or {@code null} if the deadline passed before {@code ready} held
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the current thread already holds this mutex
   */
  public @Nullable Guard<T> lockWhen(Predicate<? super T> ready, Instant deadline)
      throws InterruptedException {
    Objects.requireNonNull(deadline, "deadline");
    Instant now = Instant.now();
    // Compared before subtracting: a deadline in the past is a zero timeout, whatever its value.
    return lockWhen(
        ready, deadline.isAfter(now) ? Duration.between(now, deadline) : Duration.ZERO);
  }

  /**
   * Like {@link #lockWhen(Predicate)}, but ignores interruption while waiting. If the thread is
   * interrupted while waiting, its interrupt status is set again when this method returns.
   *
   * @param ready the condition to wait for
   * @return an open guard; {@code ready} held when it was returned
   * @throws NullPointerException if {@code ready} is null
   * @throws IllegalStateException if the current thread already holds this mutex
   */
  public Guard<T> lockWhenUninterruptibly(Predicate<? super T> ready) {
    Guard<T> guard = new Guard<>(this); // before the acquisition: see lock()
    Objects.requireNonNull(ready, "ready");
    checkNotHeld();
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    StackHeadroom.ensure(StackHeadroom.RELEASE_FRAMES); // see lockWhen(Predicate)
    if (!sync.tryLockFast()) {
      lockContended();
    }
    boolean ok = false;
    try {
      if (ordered) {
        LockOrder.acquired(this, false); // before the predicate: see lockWhen(Predicate)
      }
      ok = ready.test(value) || awaitReady(ready, false, false, 0L); // true (or the test throws)
    } catch (InterruptedException e) {
      throw new AssertionError("an uninterruptible wait threw InterruptedException", e);
    } finally {
      forgetUnlessReady(ok, ordered);
    }
    return guard;
  }

  /**
   * Waits until {@code ready} holds for the value, then applies {@code action} to it under the
   * same lock hold and returns the result: the closure form of {@link #lockWhen(Predicate)}.
   * Other threads waiting in {@code awaitThen} or {@code lockWhen} whose predicate then holds
   * are woken when this one releases the lock, so the action's changes reach them without a
   * notify call.
   *
   * @param ready the condition to wait for; evaluated only while the lock is held (see lockWhen)
   * @param action what to do once it holds; may change a mutable value
   * @param <R> the result type
   * @return what {@code action} returned
   * @throws InterruptedException if the current thread is interrupted before or while waiting;
   *     {@code action} has then not run
   * @throws NullPointerException if an argument is null
   * @throws IllegalStateException if the current thread already holds this mutex
   */
  public <R extends @Nullable Object> R awaitThen(
      Predicate<? super T> ready, Function<? super T, ? extends R> action)
      throws InterruptedException {
    Objects.requireNonNull(action, "action");
    boolean ordered = LockOrder.enabled(); // read once, before the lock: see lockWhenOrdered
    Guard<T> g = lockWhenOrdered(ready, ordered);
    try {
      return action.apply(value);
    } finally {
      // As at the end of with/update: the caller has no guard to retry a failed release with,
      // so it goes ahead even when its stack probe fails (review 27: a guard's retryable close
      // here left the mutex held for good near the stack's end), and it reads no lock-order
      // switch after the action (review 28: an overflow in that read left the mutex held).
      g.closeAtClosureEnd(ordered);
    }
  }

  // ---------------------------------------------------------------------------------------
  // State queries
  // ---------------------------------------------------------------------------------------

  /**
   * Reports whether any thread holds the lock; for monitoring, not for synchronisation.
   *
   * @return {@code true} if some thread holds the lock at the moment of the call
   */
  public boolean isLocked() {
    return sync.isLocked();
  }

  /**
   * Reports whether the current thread holds the lock.
   *
   * @return {@code true} if the current thread holds the lock
   */
  public boolean isHeldByCurrentThread() {
    return sync.heldByCurrentThread();
  }

  /**
   * Describes the lock state without acquiring the lock; the value is not shown, since reading
   * it without the lock would be a data race.
   *
   * @return for example {@code Mutex[Unlocked]} or {@code Mutex[Locked by thread worker-1]}
   */
  @Override
  public String toString() {
    // Racy reads of the owner, the state and the queue: a snapshot that never blocks.
    Thread owner = sync.owner();
    String state =
        owner != null
            ? "[Locked by thread " + ThreadNames.of(owner) + "]"
            : sync.isLocked() ? "[Locked]" : "[Unlocked]";
    int queued = sync.getQueueLength();
    return "Mutex" + state + (queued > 0 ? "[" + queued + " queued]" : "");
  }

  // ---------------------------------------------------------------------------------------
  // Internals
  // ---------------------------------------------------------------------------------------

  /**
   * The slow path of {@link #lock()}, {@link #with} and {@link #update}: the CAS failed, either
   * because another thread holds the lock (queue behind it) or because this thread does (throw).
   */
  private void lockSlow() {
    checkNotHeld();
    lockContended(); // no spin here: see "Spin before queueing" in the algorithm notes
  }

  /*
   * Contended acquisitions (JFR): the fast CAS failed, so the thread queues in the AQS. Each
   * records a dev.weft.LockContended event around the queueing when a recording asks for it
   * (WeftJfr); the holder is read racily from the AQS owner, a hint for the event only.
   */

  /** Uninterruptible: lock, with, update, lockWhenUninterruptibly. */
  private void lockContended() {
    // Before the AQS queues a node for us: an overflow inside its queueing or clean-up would
    // leave the node queued, and the wake-up meant for the next waiter would go to it. The
    // JDK's ReentrantLock gets the reserved stack area for this (JEP 270); see StackHeadroom.
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES);
    Object jfr = WeftJfr.lockWaitBegin(sync.owner());
    int outcome = WeftJfr.FAILED; // stays so only if the wait throws (an Error: review 17b)
    try {
      acquireEvenWithoutNode();
      outcome = WeftJfr.ACQUIRED;
    } finally {
      WeftJfr.lockWaitEnd(jfr, this, WeftJfr.EXCLUSIVE, outcome);
    }
  }

  /** Interruptible: lockInterruptibly, lockWhen's first acquisition (after its spin). */
  private void acquireContended() throws InterruptedException {
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES); // as in lockContended
    Object jfr = WeftJfr.lockWaitBegin(sync.owner());
    int outcome = WeftJfr.FAILED; // stays so only if something but an interrupt ends the wait
    try {
      sync.acquireInterruptibly(1);
      outcome = WeftJfr.ACQUIRED;
    } catch (InterruptedException e) {
      outcome = WeftJfr.INTERRUPTED;
      throw e;
    } finally {
      WeftJfr.lockWaitEnd(jfr, this, WeftJfr.EXCLUSIVE, outcome);
    }
  }

  /** Timed (positive nanos): tryLock(Duration), lockWhen(ready, timeout). */
  private boolean tryAcquireContended(long nanos) throws InterruptedException {
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES); // as in lockContended
    Object jfr = WeftJfr.lockWaitBegin(sync.owner());
    int outcome = WeftJfr.FAILED; // stays so only if something but an interrupt ends the wait
    try {
      boolean got = sync.tryAcquireNanos(1, nanos);
      if (!got) {
        // AQS gives up without parking when the deadline passes before its park, and does not
        // say whether it parked: a virtual thread unmounts once on every timed failure, or a
        // tryLock(1 ns) retry loop keeps its carrier (SpinBackoff.unmountIfVirtual). An
        // interrupt during that park is reported as one.
        if (SpinBackoff.unmountBeforeTimeoutInterrupted(this)) {
          throw new InterruptedException("interrupted while waiting for the Mutex");
        }
      }
      outcome = got ? WeftJfr.ACQUIRED : WeftJfr.TIMED_OUT;
      return got;
    } catch (InterruptedException e) {
      outcome = WeftJfr.INTERRUPTED;
      throw e;
    } finally {
      WeftJfr.lockWaitEnd(jfr, this, WeftJfr.EXCLUSIVE, outcome);
    }
  }

  private void checkNotHeld() {
    if (sync.heldByCurrentThread()) {
      throw new IllegalStateException(
          "Mutex is not reentrant: this thread already holds it; "
              + "use the value through the guard you already have");
    }
  }

  /**
   * Releases the lock, waking automatic-signalling waiters if there are any. The plain read of
   * {@code changeWaiters} is made while holding the lock; see the algorithm notes.
   */
  void release() {
    releaseLock(true, LockOrder.enabled());
  }

  /**
   * Releases the lock; {@code retryable} is false for the release at the end of {@link #with}
   * and {@link #update}, whose caller has no guard to retry with (see {@link
   * StackHeadroom#fits}); {@code ordered} is {@link LockOrder#enabled()} as the caller read it.
   */
  private void releaseLock(boolean retryable, boolean ordered) {
    // Which change waiters this release wakes: those whose predicate now holds (or throws),
    // evaluated here, under the lock, before the lock-order record goes, so that a lock a
    // predicate takes is ordered after this one, as in the waiter's own evaluation. The plain
    // read of the head is made under the lock: see the algorithm notes ("Selective wake-ups").
    boolean due;
    try {
      due = changeWaiters != null && markDue();
    } catch (StackOverflowError e) {
      // markDue's own calls overflowed (an overflow inside a predicate counts as "due" and
      // stays there). Nothing has changed: a guard's close rethrows, leaving the lock held and
      // the guard open for a retry higher up; the end of with/update, which has no guard to
      // retry with, must release, so it wakes every waiter instead, as before session 27
      // (plain writes only in this handler: no call that could overflow again).
      if (retryable) {
        throw e;
      }
      for (ChangeWaiter q = changeWaiters; q != null; q = q.next) {
        q.due = true;
      }
      due = changeWaiters != null;
    }
    if (ordered) {
      LockOrder.released(this);
    }
    if (due || sync.hasQueuedThreads()) {
      // A release that will wake somebody checks its stack headroom first: an overflow between
      // the AQS's release and its unpark, or among the change waiters' wake-ups, would strand
      // them (review 18). Before anything changes, so an overflow leaves the mutex held and
      // the guard open for a retry (which marks the waiters again). hasQueuedThreads reads two
      // fields when nobody is queued. As deep as the deepest wake-up needs: a virtual thread's
      // unpark runs the scheduler, and an overflow there strands it (session 26's review: 1 of
      // 2 runs of an unlock sweep, 2 of 3 of a lockWhen sweep, at 16 frames).
      StackHeadroom.beforeRelease(retryable, wakeFramesNeeded(due));
    }
    if (!due) {
      sync.release(1);
      return;
    }
    ChangeWaiter woken = detachDue(); // under the lock: these waiters are ours to wake
    try {
      // Before the release, as Condition.signalAll moves its waiters to the lock's queue while
      // the lock is held: a woken waiter finds it held by us and queues behind (see notes).
      wakeAll(woken);
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("mutex.woke-before-release"); // a waker preempted here (tests)
      }
    } finally {
      sync.release(1);
    }
  }

  /**
   * The stack a release needs to wake the change waiters marked due and the thread the AQS
   * will unpark (see {@link StackHeadroom#wakeFrames}); called with the lock held.
   */
  private int wakeFramesNeeded(boolean due) {
    Thread first = sync.getFirstQueuedThread(); // the thread the AQS release unparks, if any
    int frames = first == null ? StackHeadroom.RELEASE_FRAMES : StackHeadroom.wakeFrames(first);
    for (ChangeWaiter w = due ? changeWaiters : null;
        w != null && frames < StackHeadroom.QUEUE_FRAMES;
        w = w.next) {
      Thread t = w.due ? w.threadOpaque() : null; // null once the waiter left: nothing to wake
      if (t != null) {
        frames = Math.max(frames, StackHeadroom.wakeFrames(t));
      }
    }
    return frames;
  }

  /**
   * Called with the lock held: evaluates every waiting thread's predicate against the value as
   * it is now (see {@link ChangeWaiter#mayProceed}) and marks the node due to be woken if it
   * holds or throws, or if its waiter left (the node is then purged). Marks every node, so a
   * release retried after its stack probe failed marks afresh.
   *
   * @return whether any node is due
   */
  private boolean markDue() {
    // Lock-order checking: the predicates are other threads' code, run while this thread holds
    // its own locks; a lock they take is ordered after this mutex by their waiters' own
    // evaluations, not after ours (review 27).
    boolean ordered = LockOrder.enabled();
    boolean was = ordered && LockOrder.suspendRecording();
    try {
      T v = value;
      boolean any = false;
      // BY_WAITER: no evaluation here; every node is woken to re-check on its own thread.
      int budget = evaluation == PredicateEvaluation.BY_WAITER ? 0 : EVALUATIONS_PER_RELEASE;
      for (ChangeWaiter q = changeWaiters; q != null; q = q.next) {
        // Beyond the budget, woken without evaluating: they re-check on their own threads.
        boolean due = budget-- <= 0 || q.hasLeft() || q.mayProceed(v);
        q.due = due; // plain: read only by this holder, under the lock (detachDue)
        any |= due;
      }
      return any;
    } finally {
      if (ordered) {
        LockOrder.resumeRecording(was);
      }
    }
  }

  /**
   * Called with the lock held after {@link #markDue}: unlinks the nodes marked due and returns
   * them as a list in queue order (oldest first); the others stay queued in their order.
   */
  private @Nullable ChangeWaiter detachDue() {
    ChangeWaiter kept = null; // the last node kept
    ChangeWaiter woken = null; // the list to wake, and its last node
    ChangeWaiter wokenLast = null;
    int left = 0; // nodes still queued, for enqueueChangeWaiter's purge
    for (ChangeWaiter q = changeWaiters; q != null; ) {
      ChangeWaiter next = q.next; // plain: links are only touched under the lock
      if (q.due) {
        if (kept == null) {
          changeWaiters = next;
        } else {
          kept.next = next;
        }
        q.next = null;
        if (wokenLast == null) {
          woken = q;
        } else {
          wokenLast.next = q;
        }
        wokenLast = q;
      } else {
        kept = q;
        left++;
      }
      q = next;
    }
    changeWaitersTail = kept;
    changeWaitersCount = left;
    return woken;
  }

  /**
   * Called with the lock held, before the holder releases it inside a Condvar wait: the holder
   * may have changed the value, so the change waiters whose predicate now holds are woken.
   */
  void signalChangedBeforeWait() {
    if (changeWaiters != null && markDue()) {
      wakeAll(detachDue());
    }
  }

  /**
   * Wakes every node of a list detached from the change queue under the lock; may run after
   * the lock is released, since nobody else can reach a detached list.
   */
  private void wakeAll(@Nullable ChangeWaiter q) {
    int left = 0;
    while (q != null) {
      ChangeWaiter next = q.next; // plain: written before the detach, under the lock
      if (!q.wake()) {
        left++; // its waiter left (and counted itself in changeWaitersLeft): uncount it
      }
      q = next;
    }
    if (left != 0) {
      LEFT.getAndAdd(this, -left); // volatile: races only with leaving waiters' increments
    }
  }

  /**
   * Called with the lock held, before releasing it to park: purges nodes whose waiters left
   * without the lock (timeout, interrupt), then pushes a node for the current thread. The purge
   * keeps the queue bounded by the threads that wait: at most one live node per waiting thread,
   * plus one node per thread that left since the last push or wake-up.
   */
  private ChangeWaiter enqueueChangeWaiter(Thread me, Predicate<? super T> ready) {
    // Opaque: a count that lags a leave by a moment only delays a purge to the next append.
    if (2 * (int) LEFT.getOpaque(this) > changeWaitersCount + PURGE_SLACK) {
      purgeLeftWaiters(); // more left nodes than live ones plus the slack
    }
    ChangeWaiter node = new ChangeWaiter(me, ready);
    ChangeWaiter last = changeWaitersTail;
    if (last == null) { // at the tail: the queue runs oldest first
      changeWaiters = node;
    } else {
      last.next = node;
    }
    changeWaitersTail = node;
    changeWaitersCount++;
    return node;
  }

  /**
   * How many more left nodes than live ones the change queue may hold before an enqueue purges
   * them: the purge walks the whole queue, so running it only when most of the queue is left
   * nodes keeps an enqueue O(1) amortized (a queue of hundreds of waiters was walked on every
   * enqueue before, and a herd re-queueing each round paid for it squared), while the queue
   * stays within twice its live nodes plus this slack (changeWaitersLeft counts the left ones;
   * found by review 27: a first version purged when the queue had doubled since its last sweep,
   * which let 39 left nodes stay behind 2 live ones).
   */
  static final int PURGE_SLACK = 16;

  /** Called with the lock held: unlinks every node whose waiter left (timeout, interrupt). */
  private void purgeLeftWaiters() {
    ChangeWaiter kept = null;
    int n = 0;
    int purged = 0;
    for (ChangeWaiter q = changeWaiters; q != null; q = q.next) {
      if (q.hasLeft()) {
        purged++;
        if (kept == null) {
          changeWaiters = q.next;
        } else {
          kept.next = q.next;
        }
      } else {
        kept = q;
        n++;
      }
    }
    changeWaitersTail = kept;
    changeWaitersCount = n;
    if (purged != 0) {
      LEFT.getAndAdd(this, -purged); // volatile: races only with leaving waiters' increments
    }
  }

  /**
   * The number of nodes in the change queue; for tests, called with the lock held.
   *
   * @return live waiters plus nodes of waiters that left and are not purged yet
   */
  int changeQueueLengthLocked() {
    int n = 0;
    for (ChangeWaiter q = changeWaiters; q != null; q = q.next) {
      n++;
    }
    return n;
  }

  /**
   * The end of a lockWhen that recorded the lock for lock-order checking before its predicate
   * ran: unless it succeeded, the record goes (the lock is released, or was never re-taken).
   */
  private void forgetUnlessReady(boolean ok, boolean ordered) {
    if (!ok && ordered) {
      LockOrder.released(this);
    }
    releaseIfStillHeld(ok);
  }

  /** The end of a predicate wait that did not succeed: gives the lock back if it still has it. */
  private void releaseIfStillHeld(boolean ok) {
    if (!ok && sync.heldByCurrentThread()) { // exact for the current thread (see notes)
      sync.release(1); // the caller changed nothing (predicates have no side effects)
    }
  }

  /** Reads the value; the caller holds the lock. */
  T valueLocked() {
    return value;
  }

  /**
   * {@link Condvar}'s spin phase (see the algorithm notes): called with the lock held by the
   * current thread, whose predicate blocks and who has already woken automatic-signalling
   * waiters for any change it made. Releases the lock, spins for at most {@code maxNanos}
   * (capped at the adaptive window, see the algorithm notes) until another thread releases it, and re-acquires it
   * uninterruptibly and without a time limit, because a {@code Condvar} wait returns (and
   * throws) holding the lock; an interrupt that arrives meanwhile stays set for the caller. The
   * caller re-checks its predicate afterwards.
   *
   * @return the nanoseconds spent spinning (until a release was seen or the window ended),
   *     not counting the re-acquisition; timed waits read the clock themselves
   */
  long spinUntilReleased(long maxNanos) {
    if (!WAIT_SPINS || maxNanos <= 0L) {
      return 0L; // no spin phase (a virtual thread's window is 0: see waitSpinLocked)
    }
    long spun = releaseAndSpin(Math.min(maxNanos, WAIT_SPIN_MAX_NANOS)); // the caller's window
    if (!spinAcquire(false, 0L)) {
      acquireEvenWithoutNode(); // uninterruptible, like Condition.await's own re-acquisition
    }
    return spun;
  }

  /**
   * For a timed condition wait on a virtual thread whose time ran out before it released the
   * lock ({@link Condvar}): releases it (held by the current thread, nothing to announce),
   * unmounts once, and takes it back uninterruptibly, as {@code Condition.await}'s own
   * re-acquisition does. See SpinBackoff.unmountBeforeTimeout.
   */
  void releaseUnmountReacquire() {
    sync.release(1);
    SpinBackoff.unmountBeforeTimeout(this);
    if (!spinAcquire(false, 0L)) {
      acquireEvenWithoutNode();
    }
  }

  /**
   * Releases the lock (held by the current thread, with nothing to announce) and spins for at
   * most {@code window} nanoseconds until another thread releases it too. Returns without the
   * lock.
   */
  private long releaseAndSpin(long window) {
    long start = System.nanoTime();
    int seen = sync.releasesPlain() + 1; // plain: written only under the lock, which we hold
    sync.release(1); // our own release moves the counter to `seen`; no change to signal
    if (ProtocolWindows.ENABLED) {
      ProtocolWindows.at("mutex.released-for-spin");
    }
    for (int i = 1; sync.releasesOpaque() == seen; i++) {
      // A clock read costs ~20 ns; pausing 16 times between reads keeps the check cheap.
      if ((i & 15) == 0 && System.nanoTime() - start >= window) {
        break;
      }
      Thread.onSpinWait();
    }
    return System.nanoTime() - start;
  }

  /**
   * Takes the lock back after a release inside a predicate wait, honouring the wait's mode:
   * spinning first ({@link #spinAcquire}), then queueing in the AQS until the deadline (timed),
   * until an interrupt (interruptible) or for as long as it takes (uninterruptible; AQS then
   * re-asserts an interrupt that arrived meanwhile).
   *
   * @return {@code true} if the lock is held; {@code false} only when timed and the deadline
   *     passed first
   * @throws InterruptedException if interruptible and interrupted first; the lock is not held
   */
  private boolean reacquire(boolean interruptible, boolean timed, long deadline)
      throws InterruptedException {
    if (spinAcquire(timed, deadline)) {
      return true;
    }
    return queueForLock(interruptible, timed, deadline);
  }

  /** The AQS part of {@link #reacquire}: one barging attempt, then the queue's FIFO order. */
  private boolean queueForLock(boolean interruptible, boolean timed, long deadline)
      throws InterruptedException {
    if (timed) { // interruptible too: only lockWhen(ready, timeout) is timed
      return sync.tryAcquireNanos(1, deadline - System.nanoTime()); // <= 0: one attempt
    }
    if (interruptible) {
      sync.acquireInterruptibly(1);
    } else {
      acquireEvenWithoutNode();
    }
    return true;
  }

  /**
   * {@code sync.acquire(1)}, uninterruptible, that takes the lock without a queue node when the
   * AQS cannot allocate one. JDK 17's AQS throws the node's OutOfMemoryError (later JDKs' AQS
   * waits without a node, as SpinLock and TicketLock do since session 31): a Condvar wait's
   * re-acquisition after its spin phase then threw without the mutex, and the caller's close
   * failed (review 31a: 5 of 5 forks on JDK 17). Here the thread then polls {@code
   * tryLockFast} on a timer ({@link SpinBackoff#pauseWithoutNode}), registered nowhere, and
   * queues again every {@link SpinBackoff#NODE_RETRY_ROUNDS} rounds so that, once memory is
   * back, it is served in the queue's order; an interrupt met meanwhile is set again on
   * return, as the AQS's uninterruptible acquire does.
   */
  void acquireEvenWithoutNode() {
    try {
      sync.acquire(1);
      return;
    } catch (OutOfMemoryError e) {
      // no node (JDK 17): nothing was queued; wait without one below
    }
    boolean interrupted = false;
    try {
      for (int round = 0; !sync.tryLockFast(); round++) {
        if (round % SpinBackoff.NODE_RETRY_ROUNDS == SpinBackoff.NODE_RETRY_ROUNDS - 1) {
          try {
            sync.acquire(1);
            return;
          } catch (OutOfMemoryError again) {
            // still no memory: go on polling
          }
        }
        if (Thread.interrupted()) {
          interrupted = true; // a pending interrupt would end every sleep at once
        }
        SpinBackoff.pauseWithoutNode(this, round % SpinBackoff.NODE_RETRY_ROUNDS, Long.MAX_VALUE);
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt(); // never swallow an interrupt
      }
    }
  }

  /**
   * {@link #reacquire} for a waiter woken from the change queue: it lets the threads already
   * queued for the lock go first (see "Woken waiters queue behind lockers" in the algorithm
   * notes). While nobody is queued it spins for the lock as usual; while the lock is held it
   * queues in the AQS without barging, in rounds of {@link #QUEUE_ROUND_NANOS} doubling up to
   * {@link #QUEUE_ROUND_MAX_NANOS}, looking again after each ("Bounded rounds in the lock's
   * queue"); while the lock is free but threads are queued (the release
   * has unparked the first of them, which has not run yet) it waits, parked in {@link
   * #DEFER_POLL_NANOS} steps, for at most {@link #DEFER_NANOS} of that state (restarted when a
   * queued thread takes and releases the lock meanwhile, up to four times as long in all), and
   * then takes the free lock itself: a queued
   * thread that cannot run (a virtual thread without a carrier) cannot keep it off a free lock.
   * An uninterruptible caller's interrupt is kept and re-asserted.
   */
  private boolean reacquireWoken(boolean interruptible, boolean timed, long deadline)
      throws InterruptedException {
    if (DEFER_NANOS <= 0L) {
      return reacquire(interruptible, timed, deadline); // off: barge like any acquisition
    }
    boolean interrupted = false;
    try {
      long freeSince = 0L; // 0: not seen free with threads queued (yet, or since it was held)
      long firstLook = 0L; // when it was first seen so, whatever happened since (0: not yet)
      int releasesSeen = 0; // the release count when freeSince was set
      long round = QUEUE_ROUND_NANOS; // the next round in the AQS queue: doubles, capped
      while (true) {
        if (!sync.hasQueuedThreads() && spinAcquire(timed, deadline, true)) {
          return true; // nobody to go behind (the spin stops when a thread queues)
        }
        long now = System.nanoTime();
        if (timed && deadline - now <= 0L) {
          return sync.tryLockFast(); // the deadline: one attempt, as a timed acquisition makes
        }
        if (sync.isLocked()) {
          // Held (by our waker, most often, or by anyone): queue behind, in FIFO order and
          // without barging, as Condition.signalAll's waiters are, but for one bounded round;
          // then look again. If the queue ahead of us is stuck behind a thread that cannot run
          // (a virtual thread without a carrier: Review13Test, Review14Test) while the lock is
          // free, the round ends and the deferral below takes the lock in bounded time.
          long jittered = jitteredRound(round); // so a herd's rounds do not end together
          long thisRound = timed ? Math.min(jittered, deadline - now) : jittered;
          int releasesBefore = sync.releasesOpaque(); // opaque: a hint, like the deferral's
          try {
            if (sync.tryAcquireNanos(Sync.BEHIND_QUEUED, thisRound)) { // FIFO, no barging
              return true;
            }
          } catch (InterruptedException e) {
            if (interruptible) {
              throw e;
            }
            interrupted = true; // kept aside (the AQS cleared it), so the next round parks
          }
          // The next round is twice as long. If the queue moved during this one, it is alive
          // but longer than the round: no cap, so a queue of many short holds is passed in a
          // few rounds (Review14bTest: with a 64 ms cap, a waiter behind ~76 ms of 4 ms holds
          // re-queued at the tail for good). If it did not move (one long hold), the cap keeps
          // long holds to one wake-up per 64 ms and a queue stuck later to 64 ms.
          boolean moved = sync.releasesOpaque() != releasesBefore;
          round = Math.min(round << 1, moved ? QUEUE_ROUND_LIMIT_NANOS : QUEUE_ROUND_MAX_NANOS);
          continue; // look again (past the deadline: the one attempt above)
        }
        if (!sync.hasQueuedThreads()) {
          if (sync.tryLockFast()) {
            return true; // free, nobody queued: take it
          }
          continue; // someone took it meanwhile: look again
        }
        int releases = sync.releasesOpaque(); // opaque: a fresh count, used only as a hint
        if (firstLook == 0L) {
          firstLook = now | 1L; // never 0
        }
        boolean overdue = now - firstLook >= 4 * DEFER_NANOS; // a moving queue gets 4 deferrals
        if (!overdue && (freeSince == 0L || releases != releasesSeen)) {
          // First look, or a queued thread took the lock and released it since the last look
          // (found by review): the queue moves, so the deferral starts again.
          freeSince = now | 1L; // never 0
          releasesSeen = releases;
        } else if (overdue || now - freeSince >= DEFER_NANOS) {
          if (sync.tryLockFast()) {
            return true; // free for a whole deferral and nobody took it: take it
          }
          freeSince = 0L; // someone did: look again after the park
        }
        LockSupport.parkNanos(this, DEFER_POLL_NANOS);
        if (Thread.interrupted()) {
          if (interruptible) {
            throw new InterruptedException("interrupted while waiting in Mutex.lockWhen");
          }
          interrupted = true; // a set status would end every park at once: keep it aside
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * Tries to take the lock by test-and-test-and-set with bounded exponential backoff ({@link
   * SpinBackoff#SPIN_ROUNDS} rounds, as {@link SpinLock} does: at most about 18 &micro;s on the
   * benchmark VM, usually one round when the partner only flips a flag and signals) before the caller queues in the AQS and parks. A holder that is running
   * releases a short critical section well within that time, and taking the lock this way saves
   * a park/unpark round trip (tens of microseconds on a VM). The backoff matters: a waiter that
   * polled the lock word continuously would keep pulling its cache line away from the holder.
   * Unfair, like the lock itself, unless {@code behindQueued}: then it takes the lock only while
   * no thread is queued for it, and stops spinning (to queue behind them) as soon as one is.
   *
   * @return {@code true} if the lock is now held by the current thread
   */
  private boolean spinAcquire(boolean timed, long deadline) {
    return spinAcquire(timed, deadline, false);
  }

  private boolean spinAcquire(boolean timed, long deadline, boolean behindQueued) {
    if (behindQueued && sync.hasQueuedThreads()) {
      return false; // lockers are queued: go behind them (see the algorithm notes)
    }
    if (!WAIT_SPINS) {
      return sync.tryLockFast();
    }
    int backoff = SpinBackoff.MIN_BACKOFF;
    // A virtual thread spins one round: its spin holds a carrier that an unmounted holder may
    // need (see SpinBackoff.VIRTUAL_SPIN_ROUNDS).
    int rounds =
        SpinBackoff.isVirtual(Thread.currentThread())
            ? SpinBackoff.VIRTUAL_SPIN_ROUNDS
            : SpinBackoff.SPIN_ROUNDS;
    for (int i = 0; i < rounds; i++) {
      // Test before the CAS: a failing CAS would take the line exclusive for nothing.
      if (!sync.isLocked() && sync.tryLockFast()) {
        return true;
      }
      if (behindQueued && sync.hasQueuedThreads()) {
        return false; // a locker queued meanwhile: go behind it
      }
      // One clock read per round (~20 ns against 32-512 pauses): a timed wait overruns its
      // deadline by at most one pause of the backoff.
      if (timed && deadline - System.nanoTime() <= 0L) {
        return false;
      }
      backoff = SpinBackoff.pause(backoff);
    }
    return false;
  }

  /**
   * The wait of {@link #lockWhen} and its forms, after the first acquisition: called holding the
   * lock with {@code ready} false. One spin phase (release, spin for another thread's release,
   * re-acquire), then rounds of: join the change queue, release, park until a releasing holder
   * wakes us, re-acquire, re-check. Every phase honours the deadline (timed) and interrupts
   * (interruptible): see "Deadlines and interrupts in every phase" in the algorithm notes.
   *
   * @param interruptible whether an interrupt ends the wait with {@link InterruptedException}
   *     (otherwise it is remembered and re-asserted on return)
   * @param timed whether {@code deadline} applies
   * @param deadline in {@link System#nanoTime()} terms; compared only by subtraction
   * @return {@code true} holding the lock with {@code ready} true; {@code false} (timed only)
   *     when the deadline passed, with or without the lock: the caller checks and releases
   * @throws InterruptedException if interruptible and interrupted; the lock may or may not be
   *     held (the caller checks)
   */
  private boolean awaitReady(
      Predicate<? super T> ready, boolean interruptible, boolean timed, long deadline)
      throws InterruptedException {
    // The wait gives the lock up and takes it back through the AQS: an overflow anywhere in
    // between would leave a node queued or return without the lock (review 18). Checked once,
    // before anything changes; every later step runs from here and needs less stack.
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES);
    // JFR (dev.weft.ConditionWait): the predicate blocked, so the thread is about to wait.
    Object jfr = WeftJfr.conditionWaitBegin();
    if (jfr == null) {
      return awaitReadyWait(ready, interruptible, timed, deadline);
    }
    long timeout = timed ? Math.max(0L, deadline - System.nanoTime()) : -1L; // left, as it starts
    int outcome = WeftJfr.FAILED; // stays so if the predicate throws
    try {
      boolean ok = awaitReadyWait(ready, interruptible, timed, deadline);
      outcome = ok ? WeftJfr.ACQUIRED : WeftJfr.TIMED_OUT;
      return ok;
    } catch (InterruptedException e) {
      outcome = WeftJfr.INTERRUPTED;
      throw e;
    } finally {
      WeftJfr.conditionWaitEnd(jfr, this, "Mutex.lockWhen", timeout, outcome);
    }
  }

  private boolean awaitReadyWait(
      Predicate<? super T> ready, boolean interruptible, boolean timed, long deadline)
      throws InterruptedException {
    Thread me = Thread.currentThread();
    boolean interrupted = false; // uninterruptible mode: re-asserted on the way out
    try {
      long window = WAIT_SPINS ? sync.waitSpinLocked() : 0L; // adaptive (notes), held lock
      if (window > 0L) { // 0: no spin phase (spins off, or a virtual thread)
        if (timed) {
          long remaining = deadline - System.nanoTime();
          if (remaining <= 0L) {
            return false; // zero or elapsed timeout: checked once, the lock never given up
          }
          window = Math.min(window, remaining);
        }
        if (interruptible && Thread.interrupted()) { // before giving the lock up
          throw new InterruptedException("interrupted while waiting in Mutex.lockWhen");
        }
        long spun = releaseAndSpin(window);
        boolean held = reacquire(interruptible, timed, deadline);
        if (held && ready.test(value)) {
          sync.spinCaught(spun, window);
          return true;
        }
        sync.spinFailed(window); // whatever follows: a park, a timeout
        if (!held) {
          return false; // the deadline passed while another thread held the lock
        }
      }
      for (; ; ) {
        if (timed && deadline - System.nanoTime() <= 0L) {
          return false; // holding the lock; the caller releases it
        }
        if (Thread.interrupted()) {
          if (interruptible) {
            throw new InterruptedException("interrupted while waiting in Mutex.lockWhen");
          }
          interrupted = true;
        }
        ChangeWaiter node = enqueueChangeWaiter(me, ready);
        sync.release(1); // nothing of ours to announce: predicates have no side effects
        if (ProtocolWindows.ENABLED) {
          ProtocolWindows.at("mutex.released-for-wait");
        }
        while (!node.isWoken()) {
          if (timed) {
            long remaining = deadline - System.nanoTime();
            if (remaining <= 0L) {
              if (node.leave(me)) {
                LEFT.getAndAdd(this, 1); // its node stays queued until a sweep (enqueue)
                return false; // timed out while parked: the lock is not held
              }
              break; // woken at the last moment: take the wake-up (one attempt, below)
            }
            LockSupport.parkNanos(this, remaining);
          } else {
            LockSupport.park(this);
          }
          if (Thread.interrupted()) {
            if (interruptible) {
              if (node.leave(me)) { // a woken waiter passes nothing on: see "Leaving early"
                LEFT.getAndAdd(this, 1); // its node stays queued until a sweep (enqueue)
              }
              throw new InterruptedException("interrupted while waiting in Mutex.lockWhen");
            }
            interrupted = true;
          }
        }
        if (ProtocolWindows.ENABLED) {
          ProtocolWindows.at("mutex.woken");
        }
        // Behind queued lockers: they may be the threads that make the change we wait for.
        if (!reacquireWoken(interruptible, timed, deadline)) {
          return false; // the deadline passed while another thread held the lock
        }
        if (ready.test(value)) {
          return true;
        }
      }
    } finally {
      if (interrupted) {
        me.interrupt();
      }
    }
  }

  /**
   * A thread parked in {@link Mutex#awaitReady} until a holder releases the lock. The links are
   * plain fields touched only under the lock; the thread field decides, by one atomic
   * operation on each side, whether the waiter was woken or left first.
   */
  static final class ChangeWaiter {
    private static final VarHandle THREAD;
    private static final VarHandle READY;

    static {
      try {
        THREAD = MethodHandles.lookup().findVarHandle(ChangeWaiter.class, "thread", Thread.class);
        READY = MethodHandles.lookup().findVarHandle(ChangeWaiter.class, "ready", Predicate.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
      linkRareSteps();
    }

    /**
     * Runs, once, on a node nobody else can see, the steps a releasing holder takes on the
     * change queue, so that their VarHandle call sites are linked now: the first run of a call
     * site links it, which allocates, and in a full heap it throws. Session 33's audit of
     * LinkageAfterInitTest's baseline: linked on the JVM's first release that found a change
     * waiter, the looks of markDue and wakeFramesNeeded threw from the release with the mutex
     * still held (for good: a guard's close is not retried, and the end of with/update catches
     * only a StackOverflowError there), and wake()'s getAndSet threw after detachDue had taken
     * the waiters off the queue, leaving them parked for good. The waiter's own steps (leave,
     * isWoken) are not run here: a first run that throws leaves its node queued as a live one,
     * which a later release wakes (a spurious unpark); see linkage-after-init-baseline.txt.
     */
    private static void linkRareSteps() {
      ChangeWaiter n = new ChangeWaiter(Thread.currentThread(), new Never());
      n.mayProceed(null); // opaque read of the predicate (Never: false, nothing else runs)
      n.threadOpaque(); // opaque: wakeFramesNeeded's look at the thread to wake
      n.hasLeft(); // opaque: markDue's and the purge's look
      n.thread = null; // plain, on this node only: the wake below then unparks nobody
      n.wake(); // volatile getAndSet: finds null, so no permit is left on this thread
    }

    /** The warm-up's predicate (a class, not a lambda: see CoreBytecodeTest). */
    private static final class Never implements Predicate<Object> {
      @Override
      public boolean test(@Nullable Object v) {
        return false;
      }
    }

    /**
     * The waiting thread until it is woken or leaves, then null. Set in the constructor (plain:
     * the node is published by the release that follows, and every reader holds the lock or is
     * the waiter itself); cleared only through {@link #THREAD}.
     */
    @SuppressWarnings("UnusedVariable") // read and written through the THREAD VarHandle too
    private @Nullable Thread thread;

    /** The next node; plain, read and written only under the lock. */
    @Nullable ChangeWaiter next;

    /**
     * The waiter's predicate, also evaluated by releasing holders under the lock (see
     * "Selective wake-ups" in the algorithm notes); null once the waiter left, so that a left
     * node still queued keeps neither its thread nor what its predicate captured. Typed for any
     * value: only the mutex that queued the node calls {@link #mayProceed}, with its own value.
     * Written in the constructor (plain, published by the release that follows, like {@link
     * #thread}) and cleared by the leaving waiter (opaque: see {@link #leave}).
     */
    @SuppressWarnings("UnusedVariable") // read and written through the READY VarHandle too
    private @Nullable Predicate<Object> ready;

    /**
     * Whether the release now running wakes this node; plain, written by {@link Mutex#markDue}
     * and read by the same holder under the lock, before it releases.
     */
    boolean due;

    @SuppressWarnings("unchecked") // only the mutex whose value type the predicate takes tests it
    ChangeWaiter(Thread thread, Predicate<?> ready) {
      this.thread = thread;
      this.ready = (Predicate<Object>) ready;
    }

    /**
     * Holder, under the lock: whether the waiter's predicate holds for {@code value}, or throws.
     * A throwing predicate counts as holding: the waiter is woken, evaluates it on its own
     * thread and gets the exception there, so a holder's release never fails because of
     * another thread's predicate. That includes a {@link StackOverflowError} in a release deep
     * in the holder's stack: the catch runs at this frame's depth, within what the release's
     * probe covers, and the waiter re-checks on its own stack.
     */
    @SuppressWarnings("IllegalCatch") // see above: any failure means "let the waiter see it"
    boolean mayProceed(@Nullable Object value) {
      // Opaque: a waiter that left while we look may have cleared it; null means left, and a
      // left node is due anyway (purged). A stale non-null runs a predicate whose waiter just
      // gave up, which the contract allows (see the class doc).
      @SuppressWarnings("unchecked")
      Predicate<Object> p = (Predicate<Object>) READY.getOpaque(this);
      if (p == null) {
        return true;
      }
      try {
        return p.test(value);
      } catch (Throwable t) {
        return true;
      }
    }

    /**
     * Waker, holding the lock: claims the node and unparks its thread unless it left first.
     * getAndSet (volatile) against {@link #leave}'s CAS: exactly one of them wins, and the
     * clearing happens-before the unpark, so a waiter that then finds it null is woken.
     *
     * @return {@code false} if the waiter had left first: nobody was woken
     */
    boolean wake() {
      Thread t = (Thread) THREAD.getAndSet(this, (Thread) null);
      if (t == null) {
        return false;
      }
      LockSupport.unpark(t);
      return true;
    }

    /**
     * Waiter, without the lock: leaves (timeout, interrupt) unless it was woken first.
     *
     * @return {@code true} if it left before any wake-up
     */
    boolean leave(Thread me) {
      if (!THREAD.compareAndSet(this, me, (Thread) null)) { // volatile: see wake()
        return false;
      }
      // The node may stay queued until the next sweep: drop the predicate and its captures.
      // Opaque: only a hint for mayProceed, which treats null as "left"; the CAS above decides.
      READY.setOpaque(this, (Predicate<?>) null);
      return true;
    }

    /** Waiter: acquire, pairing with wake()'s clear; a wake-up seen here is never lost. */
    boolean isWoken() {
      return THREAD.getAcquire(this) == null;
    }

    /**
     * Holder, purging: true if the waiter left (a woken node is no longer in the queue). Opaque:
     * a stale non-null only keeps the node until the next purge.
     */
    boolean hasLeft() {
      return THREAD.getOpaque(this) == null;
    }

    /** Holder, before waking: the thread a wake-up would unpark (opaque: a hint, see there). */
    @Nullable Thread threadOpaque() {
      return (Thread) THREAD.getOpaque(this);
    }
  }

  /**
   * A non-reentrant exclusive lock: state 0 is free, 1 is held. See the algorithm notes of
   * {@link Mutex}.
   */
  static final class Sync extends AbstractQueuedSynchronizer {
    private static final long serialVersionUID = 1L;

    /**
     * The acquire argument of a woken waiter's round in the queue: it never barges ahead of
     * queued threads. Every other acquisition passes 1 and barges once, as ReentrantLock's
     * nonfair acquisition does.
     */
    static final int BEHIND_QUEUED = 2;

    private static final VarHandle RELEASES;
    private static final VarHandle WAIT_SPIN;

    static {
      try {
        RELEASES = MethodHandles.lookup().findVarHandle(Sync.class, "releases", int.class);
        WAIT_SPIN = MethodHandles.lookup().findVarHandle(Sync.class, "waitSpinNanos", int.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    /**
     * Counts releases, for spinning waiters (see the algorithm notes); written only by the
     * holder, read without the lock through {@link #RELEASES}. Wraps around harmlessly.
     */
    @SuppressWarnings("UnusedVariable") // read and written through the RELEASES VarHandle too
    private int releases;

    /** Padding after the AQS state: see "Padding" in {@code Mutex}. */
    @SuppressWarnings("unused")
    private long q00, q01, q02, q03, q04, q05, q06, q07;

    /**
     * The adaptive spin window of waits, in nanoseconds (see "Adaptive window" in the
     * algorithm notes): a hint, read and written opaque through {@link #WAIT_SPIN}, by waiters
     * with or without the lock (a wait that timed out no longer holds it). Racing updates
     * can lose one adaptation step; nothing else depends on the value.
     */
    @SuppressWarnings("UnusedVariable") // read and written through the WAIT_SPIN VarHandle
    private int waitSpinNanos = (int) WAIT_SPIN_NANOS;

    /** Waits begun, for the probes (one in 16); wraps harmlessly. Plain: only under the lock. */
    private int waits;

    /**
     * The spin window for a wait about to release the lock: the adaptive window, or the
     * maximum for a probe. The caller holds the lock (for the probe count).
     */
    long waitSpinLocked() {
      if (SpinBackoff.isVirtual(Thread.currentThread())) {
        // A virtual waiter does not spin for a partner: nothing preempts it, so a spin as long
        // as its timeout never unmounts it, and hundreds of spinning waiters keep the carriers
        // from the thread that would satisfy them (session 12 re-review: Condvar.awaitWhile(10
        // us) retry loops stalled the notifier; 500 waiters took 6-65x Condition's time). It
        // parks at once and leaves the window (tuned for platform threads) untouched.
        return 0L;
      }
      int w = (int) WAIT_SPIN.getOpaque(this);
      if (w < WAIT_SPIN_MAX_NANOS && (++waits & 15) == 0) {
        return WAIT_SPIN_MAX_NANOS; // a probe: see the algorithm notes
      }
      return w;
    }

    /**
     * A wait's spin of up to {@code usedWindow} saw a release after {@code spunNanos} and its
     * predicate then held: if the spin was a probe (wider than the window) and caught what the
     * window would have missed, the window widens to the maximum. A wait within the window
     * never widens it, however long its spin was stretched (by a preemption, say).
     */
    void spinCaught(long spunNanos, long usedWindow) {
      int w = (int) WAIT_SPIN.getOpaque(this);
      if (usedWindow > w && spunNanos > w) {
        WAIT_SPIN.setOpaque(this, (int) WAIT_SPIN_MAX_NANOS);
      }
    }

    /**
     * A wait that spun for up to {@code usedWindow} found its predicate still blocking (it
     * parks next, or its time ran out): if that spin was wider than the first window (a probe,
     * or the widened window), spinning wide did not pay this time, and the window halves.
     */
    void spinFailed(long usedWindow) {
      if (usedWindow > WAIT_SPIN_NANOS) {
        int w = (int) WAIT_SPIN.getOpaque(this);
        WAIT_SPIN.setOpaque(this, (int) Math.max(WAIT_SPIN_NANOS, w >> 1));
      }
    }

    /** Plain: for the holder, who is the only writer. */
    int releasesPlain() {
      return releases;
    }

    /** Opaque: a spinner's fresh read each iteration; it orders nothing (the lock does). */
    int releasesOpaque() {
      return (int) RELEASES.getOpaque(this);
    }

    /**
     * The thread holding the lock, or null. Our own field, not the AQS's exclusiveOwnerThread:
     * that one is written through a method call, and a StackOverflowError at that call, after
     * the CAS, left the mutex locked by nobody, for good (review 23's sweep). A field store
     * cannot overflow. Plain: written by the holder only (set after its CAS, cleared before its
     * releasing state write); other threads read it as a hint (toString, JFR), and a thread
     * asking "is it me?" reads its own last write or a value that is not itself.
     */
    private transient @Nullable Thread holder;

    /** One CAS; fails for every thread while the lock is held, the holder included. */
    boolean tryLockFast() {
      Thread me = Thread.currentThread(); // before the CAS: after it, only a field store
      // CAS with volatile semantics: acquires everything the previous holder released.
      if (compareAndSetState(0, 1)) {
        holder = me;
        return true;
      }
      return false;
    }

    /**
     * The AQS's attempt, made by queued and waking threads: test before the CAS (as
     * ReentrantLock does), because a failing CAS takes the cache line exclusive and so steals it
     * from the holder, which is about to release it.
     */
    @Override
    protected boolean tryAcquire(int mode) {
      if (mode == BEHIND_QUEUED && hasQueuedPredecessors()) {
        return false; // a woken waiter's round: no barging ahead of queued threads
      }
      return getState() == 0 && tryLockFast();
    }

    @Override
    protected boolean tryRelease(int ignored) {
      Thread me = Thread.currentThread();
      if (holder != me) {
        throw new IllegalMonitorStateException(
            "Mutex released by a thread that does not hold it");
      }
      holder = null; // plain: ordered before the volatile state write below
      try {
        // Opaque: spinners read it without the lock and need an untorn, eventually visible value.
        RELEASES.setOpaque(this, releases + 1);
        setState(0); // volatile write: releases the holder's writes to the next acquirer
      } catch (Error e) {
        // The state write did not happen (an overflow at a call's entry changes nothing; an
        // OutOfMemoryError comes from linking the VarHandle call above, before it): the mutex
        // is still ours, so say so again, and a retry higher up can release it (review 23: it
        // was left locked by nobody; review 30c: the same with the heap full at the JVM's first
        // release). A field store in this frame cannot overflow.
        holder = me;
        throw e;
      }
      return true;
    }

    @Override
    protected boolean isHeldExclusively() {
      return holder == Thread.currentThread();
    }

    boolean heldByCurrentThread() {
      return isHeldExclusively();
    }

    boolean isLocked() {
      return getState() != 0;
    }

    @Nullable Thread owner() {
      return holder;
    }

    Condition newCondition() {
      return new ConditionObject();
    }
  }

  /**
   * Access to the value of a locked {@link Mutex}; closing the guard releases the lock.
   *
   * <p>A guard belongs to the thread that acquired it. Use it in try-with-resources:
   *
   * <pre>{@code
   * try (Mutex.Guard<Config> g = mutex.lock()) {
   *   g.set(g.get().withTimeout(5));
   * }
   * }</pre>
   *
   * <p><b>Memory consistency effects:</b> as for {@link Mutex}: actions in a thread prior to
   * {@link #close()} happen-before actions of a thread after it next acquires the same mutex.
   *
   * <p><b>Thread safety:</b> a guard is confined to its owner thread.
   *
   * <p><b>Misuse:</b> using or closing a guard from a thread other than its owner throws
   * {@link IllegalMonitorStateException}; using a guard after closing it, or closing it twice,
   * throws {@link IllegalStateException}.
   *
   * @param <T> the type of the protected value
   */
  public static final class Guard<T extends @Nullable Object> implements AutoCloseable {
    final Mutex<T> mutex;
    private final Thread owner;

    /** Written and read only by {@link #owner} (checked first), so a plain field suffices. */
    private boolean closed;

    Guard(Mutex<T> mutex) {
      this.mutex = mutex;
      this.owner = Thread.currentThread();
    }

    /**
     * Returns the protected value.
     *
     * @return the value; may be {@code null} if the mutex holds {@code null}
     * @throws IllegalMonitorStateException if called from a thread other than the owner
     * @throws IllegalStateException if the guard is closed
     */
    public T get() {
      checkUsable();
      return mutex.value;
    }

    /**
     * Replaces the protected value.
     *
     * @param value the new value; may be {@code null}
     * @throws IllegalMonitorStateException if called from a thread other than the owner
     * @throws IllegalStateException if the guard is closed
     */
    public void set(T value) {
      checkUsable();
      mutex.value = value;
    }

    /**
     * Releases the lock. Threads waiting in {@link Mutex#lockWhen} or {@link Mutex#awaitThen}
     * whose predicates this release makes true are woken (on a mutex made with {@link
     * PredicateEvaluation#BY_WAITER}, every such thread is woken to re-check its predicate).
     *
     * @throws IllegalMonitorStateException if called from a thread other than the owner
     * @throws IllegalStateException if the guard is already closed
     */
    @Override
    public void close() {
      checkOwner();
      if (closed) {
        throw new IllegalStateException(
            "Mutex guard already closed: close each guard exactly once (use try-with-resources)");
      }
      // Released first, then marked closed (a plain write, no call): an Error in the release
      // (a StackOverflowError near the stack's end) leaves the guard open, so it still says
      // what is held and a retry can release it (review 18).
      mutex.release();
      closed = true;
    }

    /**
     * Closes a guard that the caller never sees (the end of {@link Mutex#awaitThen}): marked
     * closed first, then released without a retry (see {@link StackHeadroom#fits}), with the
     * lock-order switch as read before the acquisition.
     *
     * @param ordered {@link LockOrder#enabled()} as read before the lock was taken
     */
    void closeAtClosureEnd(boolean ordered) {
      closed = true;
      mutex.releaseLock(false, ordered);
    }

    /**
     * Reports whether this guard is still open (the owner still holds the lock through it).
     *
     * @return {@code true} until {@link #close()} is called; only meaningful on the owner thread
     */
    public boolean isOpen() {
      return !closed;
    }

    void checkUsable() {
      checkOwner();
      if (closed) {
        throw new IllegalStateException(
            "Mutex guard already closed: the value may only be used while the guard is open");
      }
    }

    private void checkOwner() {
      if (Thread.currentThread() != owner) {
        throw new IllegalMonitorStateException(
            "Mutex guard belongs to thread " + ThreadNames.of(owner) + ", not to "
                + ThreadNames.of(Thread.currentThread()) + "; a guard must be used and closed by the"
                + " thread that locked it");
      }
    }

    /**
     * Describes the guard without touching the value.
     *
     * @return for example {@code Mutex.Guard[open, owner=main]}
     */
    @Override
    public String toString() {
      return "Mutex.Guard[" + (closed ? "closed" : "open") + ", owner=" + ThreadNames.of(owner) + "]";
    }
  }

  static {
    // Last of the static initializers: the classes this one's slow paths use are initialized
    // with it, not on a first slow path near the end of some thread's stack, where an overflow
    // in their initializers would break them for the rest of the JVM (see
    // StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, SpinBackoff.class, ProtocolWindows.class,
        Sync.class, ChangeWaiter.class);
    // Links the release's VarHandle call site (RELEASES.setOpaque) now: linking allocates, and
    // the JVM's first release, under a full heap, threw there (review 30c).
    Sync warm = new Sync();
    warm.acquire(1);
    warm.release(1);
    // And the spinners' read of the release count (session 33's audit of
    // LinkageAfterInitTest's baseline): a Condvar wait's spin phase reads it first after it
    // released the mutex (releaseAndSpin), and a first link that threw there left the wait
    // throwing without the mutex it promises to hold again, its guard still open.
    warm.releasesOpaque(); // opaque
  }
}

/**
 * {@link Mutex}'s fields, in a superclass so that {@code Mutex}'s padding is laid out after
 * them (see "Padding" in {@code Mutex}). Only {@code Mutex} and {@link Condvar} use them.
 *
 * @param <T> the type of the protected value
 */
abstract class MutexFields<T extends @Nullable Object> {
  /** The lock; package-private for {@link Condvar}, which waits on conditions of it. */
  final Mutex.Sync sync = new Mutex.Sync();

  /** The protected value; read and written only while {@link #sync} is held. */
  T value;

  /**
   * The change queue, oldest first: threads parked in {@code lockWhen}/{@code awaitThen}, each
   * woken by the first release after which its predicate holds. The head and every link are
   * read and written only while {@link #sync} is held (see the algorithm notes in {@code Mutex} for why a plain read in its release is
   * enough).
   */
  Mutex.@Nullable ChangeWaiter changeWaiters;

  /** The last node of the change queue, or null when it is empty; under {@link #sync} only. */
  Mutex.@Nullable ChangeWaiter changeWaitersTail;

  /** The nodes in the change queue, live or left; under {@link #sync} only. */
  int changeWaitersCount;

  /**
   * About how many nodes of the change queue belong to waiters that left (timeout, interrupt):
   * counted up by each leaving waiter, without the lock, and down by the sweeps that unlink such
   * nodes, under it; read and written only through {@code Mutex.LEFT}. A hint for when an
   * append should purge, never for correctness.
   */
  @SuppressWarnings("UnusedVariable") // read and written through Mutex.LEFT
  int changeWaitersLeft;

  MutexFields(T value) {
    this.value = value;
  }

}
