package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * A fair, non-reentrant mutual-exclusion lock: threads acquire it strictly in the order in
 * which they asked for it, and its waiting policy keeps that order cheap when there are more
 * threads than cores.
 *
 * <pre>{@code
 * TicketLock lock = new TicketLock();
 * try (TicketLock.Guard g = lock.acquire()) {   // weft: FIFO, the guard unlocks
 *   counter++;
 * }
 *
 * ReentrantLock jdk = new ReentrantLock(true);   // plain JDK: fair, but parks at once
 * jdk.lock();
 * try {
 *   counter++;
 * } finally {
 *   jdk.unlock();
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
 * the thread that acquired it; only that thread may release it. {@link #isLocked()}, {@link
 * #hasQueuedThreads()} and {@link #toString()} are snapshots.
 *
 * <p><b>Misuse.</b> Acquiring the lock in a thread that already holds it throws {@link
 * IllegalStateException} instead of deadlocking; {@link #unlock()} in a thread that does not
 * hold it throws {@link IllegalMonitorStateException}; closing a {@link Guard} twice throws
 * {@link IllegalStateException}, and from another thread {@link IllegalMonitorStateException}.
 * A {@code null} {@link TimeUnit} or {@link Duration} throws {@link NullPointerException}; a
 * zero or negative timeout means "try once, do not wait".
 *
 * <p><b>Order and policy.</b> This is a queue lock (MCS-style: each waiter has its own node,
 * the releaser hands the lock directly to its successor). Requests are served first come,
 * first served; {@link #tryLock()} succeeds only when nobody holds the lock <em>and</em> nobody
 * is queued, so it never overtakes a waiter. Each wait goes through at most three steps:
 * <ol>
 *   <li>A waiter <em>further back</em> than next in line calls {@link Thread#yield()} for up to
 *       20 µs: it gives its core to the threads ahead of it but stays runnable, so that its turn
 *       needs no wake-up (on the benchmark VM, waking a thread on an idle core cost 15&ndash;30
 *       µs; with 4 threads on 2 cores this step took the lock from 0.08 to about 1.5
 *       acquisitions per µs). If a single yield takes 200 µs or more, another thread had the core
 *       for a whole time slice; after 4 such yields within 10 ms the lock stops yielding for
 *       100 ms (doubling, up to 1.6 s, while it starts again within 100 ms of the last pause's
 *       end), because under outside CPU load
 *       a yielding waiter misses its turn by a time slice while a parked one is woken at once.
 *       A virtual thread skips this step and parks (its yield would starve a holder that
 *       unmounts inside the lock; see the algorithm notes).
 *   <li>A waiter that is next in line (its predecessor holds the lock) polls its own node with
 *       {@link Thread#onSpinWait()} for up to 20 µs (timed with {@link System#nanoTime()}, no
 *       backoff: nobody else writes that cache line). It does not yield: with two threads, that
 *       made them trade the lock through the scheduler on every acquisition. A virtual thread
 *       spins 32 pauses only (well under a microsecond), so that it soon gives its carrier back.
 *   <li>Then it parks until the lock is handed to it (or it times out or is interrupted).
 * </ol>
 * The constants and the measurements behind them are in {@code SpinBackoff} and {@code
 * docs/spinlock.md}. The releaser unparks the successor only if it actually parked. A waiter
 * that times out or is interrupted marks its node abandoned; the releaser skips such nodes,
 * handing the lock past them, so those behind it keep their place, and the next waiter behind
 * an abandoned node unlinks it before it parks, so cancelled waits do not pile up while the
 * lock is held for a long time.
 *
 * <p><b>A full heap.</b> A waiter whose queue node cannot be allocated ({@link
 * OutOfMemoryError}) does not throw: it waits without a node, taking the lock only when it is
 * free with nobody queued (polling on a timer of up to 1 ms), and tries to queue again every 64
 * polls, as JDK 25's {@code ReentrantLock} waits without its node. Until it queues it is outside
 * the FIFO order, as a {@link #tryLock()} is.
 *
 * <p><b>Timeouts and interrupts.</b> A timed or interruptible acquisition checks its deadline
 * and interrupt status after every phase (the yields, the spin, each park); the yield and spin
 * phases also stop at the deadline. So it returns at most about 20 µs after the deadline or
 * the interrupt on an idle machine (up to a scheduler time slice after a yield when the cores
 * are busy). An acquisition that is granted the lock before it notices an interrupt returns
 * holding the lock, with the interrupt status set; one that notices the interrupt while it is
 * being granted passes the lock on to the next in line and throws.
 */
public final class TicketLock implements Lock {
  /*
   * Algorithm notes
   * ---------------
   * A queue of Nodes linked through `next`; `tail` is the last node, null when the lock is
   * free and nobody waits. The node at the front is the holder's (`head`, a plain field that
   * only the current holder reads or writes; the handover edges below order it).
   *
   * Acquire. Fast path: CAS tail null -> fastNode (the lock was free: we own it). Otherwise
   * create a WAITING node n; getAndSet(tail, n) returns our predecessor p (or null: free, we
   * own it), and we link ourselves with CAS p.next null -> n. If that CAS fails, p.next holds
   * RELEASED: p was released before we could link, and we own the lock. Otherwise we wait
   * until n.status becomes GRANTED.
   *
   * Fast-path node: every uncontended acquisition uses the same per-lock node `fastNode`
   * (status GRANTED forever, no thread), so the fast path allocates nothing (together with
   * unlock's inline "next == null && CAS tail h -> null" this took an uncontended lock+unlock
   * from 22.9 to 14.9 ns on the benchmark VM; fair ReentrantLock: 16-19 ns).
   * Reuse is safe because one incarnation (from the CAS tail null -> fastNode until tail
   * leaves it) can be reached by at most one successor: the one thread whose getAndSet
   * returned fastNode. fastNode.next is reset to null, with a plain store, by whoever ends the
   * incarnation's link: the releaser before it grants that successor (the successor has
   * linked, nobody else touches the field), or the successor itself when its link CAS found
   * RELEASED. Either store happens before tail can be null again (tail is the successor's
   * node until a later release), and the next CAS tail null -> fastNode reads that null, so
   * the next incarnation starts with next == null. If nobody linked, the releaser's CAS tail
   * fastNode -> null ends the incarnation and next was never written.
   *
   * Release of node x (by the holder, and then on behalf of abandoned nodes):
   *   s = x.next; if null: CAS tail x -> null (nobody behind: lock free, done); if that fails
   *   a successor is between its getAndSet and its link: CAS x.next null -> RELEASED (it will
   *   see RELEASED and own the lock, done); if that fails too, the link arrived: s = x.next.
   *   Grant s: CAS s.status from WAITING or PARKED to GRANTED and unpark s's thread if it was
   *   PARKED. If s is ABANDONED, release s in the same way (the loop continues with x = s).
   * Release never waits, so a descheduled successor cannot stall the releaser.
   *
   * Waiting node states: WAITING -> PARKED (the waiter is about to park; tells the releaser to
   * unpark) -> GRANTED (by a releaser) or -> ABANDONED (by the waiter: timeout or interrupt).
   * GRANTED and ABANDONED are final, and the CAS on status decides the race between a
   * releaser granting and a waiter abandoning: a waiter whose abandon CAS fails owns the lock.
   * (An interrupted lockInterruptibly that loses this race releases the lock again and throws.)
   *
   * Happens-before: every way of getting the lock reads a value written by the releaser's
   * volatile CAS (status GRANTED read with acquire, RELEASED seen by a failing CAS, or tail
   * null seen by our CAS/getAndSet), and the releaser wrote it after all its critical-section
   * writes and after clearing head/owner. Hence plain accesses to head/owner by holders.
   * `owner` is read by other threads only as a hint (toString, JFR), with opaque reads of a
   * reference, which cannot tear; the holder's own checks use plain reads (a thread cannot
   * wrongly see itself: its own clearing write happens-before its later reads). A granted
   * waiter writes it opaque (becomeOwner); the fast paths (casTailFast, unlock's) and release
   * write it plain, so that no call, which could overflow the stack, comes between their field
   * writes and the CAS that publishes them or the handler that undoes them.
   *
   * Spinning: only a waiter whose predecessor holds the lock (p.status == GRANTED, opaque
   * hint: a stale value only makes it park a little early or spin a little in vain) spins, on
   * its own node's status (opaque reads; the loop then re-reads it with acquire before taking
   * the lock), for SpinBackoff.HANDOFF_SPIN_NANOS, then parks. One on-CPU phase per wake-up.
   * The next in line does not Thread.yield(): with two threads that kept both on one core
   * handing the lock to each other through the scheduler (a convoy that never drains, every
   * acquisition on the slow path); parking takes it off the run queue and lets the holder run.
   *
   * Waiting further back (p.status != GRANTED): the waiter yields, re-reading p and its own
   * node (opaque hints) after each yield, for SpinBackoff.QUEUE_YIELD_NANOS, then spins if p
   * now holds the lock, else parks. Spinning here would steal the core from the threads ahead;
   * parking at once made every hand-over on an oversubscribed machine go to a parked thread,
   * i.e. one wake-up (15-30 us on the VM) per acquisition. A yielding waiter is still runnable
   * when its turn comes, and while it yields its core runs the threads ahead of it. That only
   * holds while the runnable threads are the lock's own: when other work competes for the
   * core, a yield can cost a whole time slice, and a waiter granted the lock meanwhile keeps
   * everyone waiting for it. So each yield is timed; one that takes SLOW_YIELD_NANOS or more
   * is counted in slowYields/slowYieldsSince, and SLOW_YIELDS_TO_PAUSE of them within
   * SLOW_YIELD_WINDOW_NANOS set yieldPausedUntil, during which waiters further back park at
   * once (the pre-yielding policy). The pause starts at YIELD_PAUSE_NANOS and doubles, up to
   * MAX_YIELD_PAUSE_NANOS, when a pause starts less than YIELD_PAUSE_NANOS after the previous
   * one ended. These
   * four fields are heuristics shared by the lock's waiters, read and written opaque without
   * atomic updates (a lost count only moves a pause, never the queue), except that a pause
   * starts with a CAS on yieldPausedUntil, so racing waiters cannot double it twice; slow yields
   * seen while a pause runs, or within one window after it, are not counted.
   * Yielding changes no node state, so the hand-over protocol above is the same for a waiter
   * that yields, spins or parks.
   *
   * Virtual threads (SpinBackoff.isVirtual) do not yield, and next in line they spin only
   * SpinBackoff.VIRTUAL_HANDOFF_SPINS pauses before parking (SpinLock and SeqLock have the same
   * rules since session 12). A virtual thread's Thread.yield() puts it back on its carrier's
   * local queue whenever that queue is not empty, and a carrier runs its local queue dry before
   * it looks at the pool's external queue, which is where a virtual thread goes when its park's
   * timer fires or a platform thread starts or unparks it. Waiters that keep yielding (loops of
   * tryLock(5 us), each attempt ending inside the yield phase) thus kept both carriers' local
   * queues full, and a holder that parked for 1 us inside its section never ran again until
   * they stopped: 17 of 100 runs of the 64-thread retry scenario stalled (3 s limit) on JDK 25,
   * 2 carriers, and a holder's 1 ms park took up to 0.78 s (TicketLockVirtualThreadTest). The
   * slow-yield pause only rescued it when the yields happened to be slow. A virtual waiter
   * further back now parks at once: no stalls in 100 runs, p50 198 ms (was 998). The 20 us
   * next-in-line spin did the same harm with one carrier (nothing preempts a virtual thread):
   * a tryLock(5 us) that timed out inside it retried, was next in line again behind its own
   * abandoned node, and spun again without ever unmounting; 19 of 20 runs stalled with
   * -Djdk.virtualThreadScheduler.parallelism=1. With 32 pauses: none of 20, p50 38 ms; with 2
   * carriers p50 177 ms. The cost is a park/unpark (a continuation resubmission, not an OS
   * wake-up) for a hand-over the spin would have caught; LockVirtualJdk25Bench with the holder
   * sleeping: 1.10-1.19 s (was 1.15-1.23; unfair ReentrantLock 1.08-1.12). A timeout shorter
   * than the stack probe and those pauses (1 ns, 1 us) still ran out before the park, and retry
   * loops of such tryLocks kept both carriers (CI stop 33: every 1 ns run stalled): a virtual
   * timed waiter unmounts once after abandoning its node, before it reports the timeout
   * (SpinBackoff.unmountBeforeTimeout; VirtualTimedRetryTest). Parking: the waiter CASes its status WAITING -> PARKED
   * (a full fence) and re-checks nothing else: a releaser that CASes PARKED -> GRANTED sees
   * PARKED and unparks, and one that won WAITING -> GRANTED first makes the waiter's CAS fail,
   * so no wakeup can be lost (LockSupport permits cover an unpark that precedes the park).
   * (Tried and rejected: "pre-waking" the successor of a newly granted node so it spins while
   * the holder runs. On an oversubscribed 2-core machine it cut throughput 3-6x: the pre-woken
   * thread burns the core the holder needs, and every handover still waits for a scheduler
   * round trip.) Waiting nodes are fresh per acquisition, so they have no ABA or reuse hazard;
   * the one reused node is covered under "Fast-path node" above.
   *
   * Abandoned nodes (issue 18: a thread timing out in a loop while the lock was held left one
   * node per timeout, 112 after 110 cancelled waits, and the next unlock walked them all):
   * each waiting node n records its predecessor in n.prev (plain; written only by n's waiter,
   * and read by n's successor only after it saw n ABANDONED with acquire, which n's abandon CAS
   * publishes). Before each wait step, a waiter n whose predecessor p is ABANDONED unlinks it:
   * CAS p.prev.next from p to n, then n.prev = p.prev, and repeats. Only n does this: p.next is
   * n, so n is the one live successor of p, and p's waiter no longer acts. Races: a releaser
   * that read pp.next = p before the CAS walks p (abandoned) and reads p.next = n, which
   * the splice did not change; one that reads it after reads n. If pp was already released
   * past p, either its next is no longer p (RELEASED, or null for the fast-path node, reset
   * before its grant) and the CAS fails, or the release walk left pp.next = p and the CAS
   * succeeds on a node that no releaser reads again; both are harmless: the walk that passed
   * pp goes on through p.next = n, and n's next step finds pp not ABANDONED and stops. Bound: abandoned nodes pile up only in front of a
   * parked waiter (a running one unlinks them), and those were queued before it parked, so at
   * most one per thread per parked waiter, plus the tail's last abandoned node.
   *
   * Stack overflow (review 18): a StackOverflowError between queueing a node and its grant or
   * abandon left the node queued for a thread that had gone; the releaser granted it, and
   * nobody ever owned or passed on the lock again. Likewise one inside release(h), after head
   * and owner were cleared and before the grant. So the slow acquisition checks its stack
   * headroom (StackHeadroom.ensure, QUEUE_FRAMES) before it queues, and an unlock with a
   * successor to grant (RELEASE_FRAMES) before it clears anything: the error then strikes
   * before the first step, the acquisition has not started, the lock is still held by the
   * unlocker (as after an overflow at unlock's entry), and a retry higher up the stack works.
   * Every later step runs from the probed frame and needs less stack. The uncontended unlock
   * does not probe: it is inlined field accesses. When its CAS finds a successor linking, it
   * takes head and owner back (the successor reads neither) and goes the probed way.
   *
   * The probe measures compiled frames, and a path run for the first time is not compiled and
   * not linked: its first VarHandle access links the call site by running Java code several
   * kilobytes deep. CI stop 34 (session 20's code, JDK 17; Review18SoeTest's Condition sweep,
   * 6 of 200 forks with two busy processes beside it): an overflow in waitOnCpu's first
   * yieldPausedUntilOpaque(), after the probe had fitted,
   * left the node queued as before. So the probe is not the only defence: every error between
   * the tail swap and the grant or abandon is caught in acquireWait (at the probed depth) and
   * leaveAfterError links the node if it was not linked yet, abandons it, or, granted at the
   * same moment, takes the lock and passes it on; then the error propagates. The handler's
   * own node operations were linked by the class initialiser (PRELINKED), so it does not link
   * anything on the short stack. Not covered: an error inside the pass-on's own release, which
   * needs an error and a grant at the same moment and a release deeper than the probe.
   *
   * The wake-up after a grant (session 25): the grant's CAS is final, and the unpark after it
   * runs deeper than unlock's 16-frame probe covers when the successor is a parked virtual
   * thread: its unpark submits it to the scheduler, which may start a carrier thread from the
   * waker's stack, and the pool swallows an overflow there. The successor then stayed granted
   * and queued in the scheduler with no carrier to run it, and the unlock returned normally
   * (Review24FixesTest's unlock sweep: 5 of 5 runs, JDK 25). So release, having found the
   * successor PARKED, probes what waking it needs (StackHeadroom.wakeFrames: 64 frames for a
   * virtual thread, 16 for a platform thread) before its CAS. The decision is made at the CAS
   * loop on the status it is about to replace: a successor that parks after an earlier read
   * makes the CAS from WAITING fail, and the loop re-reads PARKED and probes. Where the probe
   * does not fit, nothing is granted yet: release undoes unlock's steps (head, owner, and
   * fastNode's link, with plain field writes, since a call could overflow again) and
   * rethrows, so the lock is still held and a retry higher up the stack releases it, as after
   * an overflow of the probe at unlock's entry. A grant to a WAITING successor (spinning or
   * yielding) wakes nobody and is not probed, so the common hand-over costs nothing more; a
   * parked virtual one costs about 0.3 us more (LockVirtualJdk25Bench: +2% against unfair
   * ReentrantLock in the same run; 256 frames cost 8-10% and were not needed). The
   * pass-on after an error (leaveAfterError) cannot be retried and goes ahead unprobed.
   * The same sweeps showed that an error anywhere in release before its publishing CAS must be
   * undone too: unlock cleared head and then called setOwnerOpaque(null), and an overflow at
   * that call left the lock with an owner and no head, so every retry of the unlock was
   * refused (IllegalMonitorStateException, the lock held for good; 2 of 20 runs of the four
   * sweeps together, JDK 25; 0 of 24 after). Release now clears both fields itself, plain, and one handler
   * undoes everything until a CAS publishes the hand-over.
   *
   * A full heap (session 31): a waiter whose node cannot be allocated (OutOfMemoryError at
   * `new Node`, before anything is queued) does not throw; it waits without a node, as JDK 25's
   * AQS does (pollWithoutNode): it takes the lock only when it is free with nobody queued (the
   * tryLock CAS of tail null -> fastNode), sleeping between tries on a timer that doubles from
   * 1 us to 1 ms, and tries to allocate and queue again every NODE_RETRY_ROUNDS rounds (about
   * 55 ms), so a queue that never empties serves it in FIFO order once memory is back. It is in
   * no queue, so no release owes it a grant. Until then it is outside the FIFO order, as a
   * tryLock() is. Before session 31 lock() threw the error, cleanly, as JDK 17's AQS does.
   *
   * Protocol windows (ProtocolWindows, tests only): "ticketlock.swapped" after the tail swap
   * and before the link, "ticketlock.queued" after the link, "ticketlock.yield" and
   * "ticketlock.spin" at the start of those phases, "ticketlock.park" just before a park,
   * "ticketlock.unlinked-abandoned" after an abandoned node was unlinked, and, for an
   * interruptible wait that found its interrupt, "ticketlock.interrupted" before it abandons its
   * node and "ticketlock.interrupted-pass-on" before it passes on a lock granted meanwhile;
   * "ticketlock.new-node" before a waiter allocates its node (tests throw OutOfMemoryError there
   * to send it down the node-less wait).
   */

  private static final VarHandle TAIL;
  private static final VarHandle OWNER;
  private static final VarHandle YIELD_PAUSED_UNTIL;
  private static final VarHandle SLOW_YIELDS;
  private static final VarHandle SLOW_YIELDS_SINCE;
  private static final VarHandle YIELD_PAUSE;

  static {
    // JFR: if a recording is running, weft's event classes load now, not inside a first wait.
    WeftJfr.prepareIfRecording();
  }

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      TAIL = l.findVarHandle(TicketLock.class, "tail", Node.class);
      OWNER = l.findVarHandle(TicketLock.class, "owner", Thread.class);
      YIELD_PAUSED_UNTIL = l.findVarHandle(TicketLock.class, "yieldPausedUntil", long.class);
      SLOW_YIELDS = l.findVarHandle(TicketLock.class, "slowYields", int.class);
      SLOW_YIELDS_SINCE = l.findVarHandle(TicketLock.class, "slowYieldsSince", long.class);
      YIELD_PAUSE = l.findVarHandle(TicketLock.class, "yieldPause", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private static final String NOT_REENTRANT =
      "TicketLock is not reentrant: this thread already holds it";

  /** Marker in {@code Node.next}: this node was released before its successor linked. */
  private static final Node RELEASED = new Node(null, Node.ABANDONED);

  private static final int ACQUIRED = 0;
  private static final int TIMED_OUT = 1;
  private static final int INTERRUPTED = 2;

  /**
   * Runs, once in the class initialiser, the node operations that {@link #leaveAfterError} and
   * an uncontended lock and unlock use, on objects nobody else sees. Their VarHandle call sites
   * are linked on first use, and linking runs Java code whose depth no probe foresees (CI stop
   * 34: an overflow in a first {@code getOpaque} after the probe before queueing). Linked here,
   * an error handler that runs on a short stack calls only methods that are linked already.
   */
  static final boolean PRELINKED = prelink();

  private static boolean prelink() {
    Node a = new Node(null, Node.WAITING);
    Node b = new Node(null, Node.WAITING);
    boolean ok = a.casNext(null, b) && b.abandon();
    a.setNextPlain(null);
    b.setStatusOpaque(Node.GRANTED);
    ok &= !b.abandon() && b.statusOpaque() == Node.GRANTED;
    a.nextAcquire();
    TicketLock l = new TicketLock();
    l.lock();
    try {
      ok &= l.isHeldByCurrentThread() && !l.yieldingPaused();
    } finally {
      l.unlock();
    }
    // Every other accessor and VarHandle site of the lock itself, once (review 31b: the first
    // grant's owner store, setOwnerOpaque in becomeOwner, ran for the first time in a full heap;
    // linking it threw, and the lock stayed handed over to nobody, for good). The fast paths
    // above write the owner plainly and never reach these.
    Node c = new Node(null, Node.WAITING);
    ok &= l.tailOpaque() == null && l.getAndSetTail(c) == null && l.casTail(c, null);
    l.setOwnerOpaque(l.ownerOpaque());
    ok &= l.ownerPlain() == null;
    l.casYieldPausedUntil(l.yieldPausedUntilOpaque(), 0L);
    l.countSlowYield(System.nanoTime()); // the yield pause's own opaque accesses
    l.yieldPauseNanos();
    return ok;
  }

  @SuppressWarnings("unused") // accessed through TAIL
  private @Nullable Node tail;

  // Read through OWNER; written through it too, except the fast paths' plain writes (see
  // casTailFast).
  @SuppressWarnings("unused")
  private @Nullable Thread owner;

  /** The holder's node; read and written only by the holder (see the algorithm notes). */
  private @Nullable Node head;

  /**
   * The node of every uncontended acquisition, reused so that the fast path allocates nothing;
   * always GRANTED. See "Fast-path node" in the algorithm notes.
   */
  private final Node fastNode = new Node(null, Node.GRANTED);

  /**
   * Until when (a {@link System#nanoTime()} value) waiters behind the next in line park at once
   * instead of yielding, because a yield on this lock recently lost a time slice to another
   * thread. A hint, read opaque (a stale value only costs one slow yield or one early park) and
   * set with a CAS when a pause starts. See "Waiting further back" in the algorithm notes. The
   * four yield-pause fields hold 28 bytes of data (about 24 more bytes per lock after HotSpot's
   * field packing).
   */
  @SuppressWarnings("unused") // accessed through YIELD_PAUSED_UNTIL
  private long yieldPausedUntil;

  /** Slow yields counted since {@link #slowYieldsSince}; a hint, like the pause. */
  @SuppressWarnings("unused") // accessed through SLOW_YIELDS
  private int slowYields;

  /** The length of the last pause, in ns; doubled while pauses follow each other. */
  @SuppressWarnings("unused") // accessed through YIELD_PAUSE
  private long yieldPause; // 0: no pause yet

  /** When the current slow-yield count started (a {@link System#nanoTime()} value). */
  @SuppressWarnings("unused") // accessed through SLOW_YIELDS_SINCE
  private long slowYieldsSince;

  /** Creates an unlocked lock. */
  public TicketLock() {
    // "Paused until now", i.e. not paused; nanoTime has an arbitrary origin, so 0 would not do.
    // Like the end of a pause, it starts a grace period: slow yields in the first 10 ms of a
    // new lock are not counted.
    long now = System.nanoTime();
    yieldPausedUntil = now;
    slowYieldsSince = now;
  }

  // ---- accessors ----

  private @Nullable Node tailOpaque() {
    return (Node) TAIL.getOpaque(this);
  }

  private boolean casTail(@Nullable Node expected, @Nullable Node value) {
    return TAIL.compareAndSet(this, expected, value);
  }

  private @Nullable Node getAndSetTail(Node value) {
    return (Node) TAIL.getAndSet(this, value);
  }

  private @Nullable Thread ownerPlain() {
    return (Thread) OWNER.get(this);
  }

  private @Nullable Thread ownerOpaque() {
    return (Thread) OWNER.getOpaque(this);
  }

  private void setOwnerOpaque(@Nullable Thread t) {
    OWNER.setOpaque(this, t);
  }

  // Opaque: the yield-pause fields are hints (see "Waiting further back").
  private long yieldPausedUntilOpaque() {
    return (long) YIELD_PAUSED_UNTIL.getOpaque(this);
  }

  private boolean casYieldPausedUntil(long expected, long nanoTime) {
    return YIELD_PAUSED_UNTIL.compareAndSet(this, expected, nanoTime);
  }

  /**
   * The uncontended acquisition: CAS the tail from null to fastNode (already GRANTED), then set
   * head and owner. No call may come between the CAS and the two writes: in a lock() that the
   * interpreter runs (not compiled yet, or deoptimized), a call's entry can throw
   * StackOverflowError, and one after the CAS left the lock held by nobody (review sweep,
   * session 21: 4 of 250 forks). So the owner is written plain here, not through
   * setOwnerOpaque: other threads read it opaque, as a hint, and the holder reads it plain.
   */
  private boolean casTailFast(Thread me) {
    if (TAIL.compareAndSet(this, (Node) null, fastNode)) {
      head = fastNode;
      owner = me; // plain, see above; ordered for later holders by the tail CAS of the release
      return true;
    }
    return false;
  }

  private void becomeOwner(Node n, Thread me) {
    // Forget the node in front: otherwise, while the queue never empties, the tail reaches
    // through prev every node (and Thread) that held the lock since it was last free, one more
    // per acquisition (review 23: 98,248 nodes with 8 threads in 0.5 s). Plain: prev is read
    // only by our successor after it sees this node ABANDONED, which a granted node never is.
    n.prev = null;
    n.setStatusOpaque(Node.GRANTED); // hint for our successor: "your predecessor holds it"
    head = n;
    setOwnerOpaque(me);
  }

  // ---- Lock ----

  /**
   * Acquires the lock, waiting in FIFO order. Interrupts do not stop the wait; the interrupt
   * status is set again when this method returns.
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
    if (!casTailFast(me)) {
      acquireSlow(me, false, false, 0L);
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
  }

  /**
   * Acquires the lock in FIFO order unless the current thread is interrupted.
   *
   * @throws InterruptedException if the thread is interrupted before or while waiting; the
   *     lock is then not held and the threads queued behind keep their order
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
    if (casTailFast(me)) {
      // held
    } else if (acquireSlow(me, true, false, 0L) == INTERRUPTED) {
      throw new InterruptedException("interrupted while waiting for the TicketLock");
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
  }

  /**
   * Acquires the lock only if nobody holds it and nobody is queued for it.
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
    if (tailOpaque() == null && casTailFast(me)) {
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
   * Acquires the lock in FIFO order if it is granted within the timeout. A zero or negative
   * timeout behaves like {@link #tryLock()}.
   *
   * <p>For a timeout that runs out on a virtual thread before the call has parked, see
   * {@link #tryLock(Duration)}.
   *
   * @param time the longest time to wait
   * @param unit the unit of {@code time}
   * @return {@code true} if the lock was acquired, {@code false} if the timeout elapsed (the
   *     threads queued behind keep their order)
   * @throws InterruptedException if the thread is interrupted before or while waiting
   * @throws NullPointerException if {@code unit} is null
   * @throws IllegalStateException if the current thread already holds this lock
   */
  @Override
  public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
    return tryLockNanos(Timeouts.toNanos(time, unit));
  }

  /**
   * Acquires the lock in FIFO order if it is granted within the timeout. A zero or negative
   * timeout behaves like {@link #tryLock()}; a huge one is capped and does not overflow.
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
    if (nanos <= 0L) {
      return tryLock();
    }
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false); // a positive timeout waits: checked like lock()
    }
    Thread me = Thread.currentThread();
    int r;
    if (casTailFast(me)) {
      r = ACQUIRED;
    } else {
      r = acquireSlow(me, true, true, nanos);
    }
    if (r == INTERRUPTED) {
      throw new InterruptedException("interrupted while waiting for the TicketLock");
    }
    if (r == ACQUIRED && ordered) {
      LockOrder.acquired(this, false);
    }
    return r == ACQUIRED;
  }

  /**
   * Releases the lock, handing it to the longest-waiting thread if there is one.
   *
   * @throws IllegalMonitorStateException if the current thread does not hold this lock
   */
  @Override
  public void unlock() {
    unlock(true);
  }

  /**
   * {@link #unlock()}, and the pass-on of a lock that an acquisition took while it was leaving
   * after an error ({@code retryable} false: nobody retries it, so it goes ahead even where
   * the stack is too short to wake the successor safely).
   */
  private void unlock(boolean retryable) {
    Node h = head;
    Thread me = Thread.currentThread();
    if (ownerPlain() != me || h == null) {
      Thread o = ownerOpaque();
      throw new IllegalMonitorStateException(
          "TicketLock is not held by this thread ("
              + ThreadNames.of(Thread.currentThread())
              + "); it is "
              + (o == null ? "not held by any thread" : "held by " + ThreadNames.of(o))
              + ": only the thread that locked it may unlock it");
    }
    if (LockOrder.enabled()) {
      LockOrder.released(this);
    }
    // Inline fast path of release(h): nobody linked behind us and nobody is linking.
    if (h.nextAcquire() == null && tailOpaque() == h) {
      // Plain writes and a catch that only writes: in an unlock that the interpreter runs, a
      // call's entry can throw StackOverflowError, and one between clearing the fields and the
      // CAS left the lock held with no owner, so that a retry of the unlock was refused and
      // nobody could ever release it. The CAS itself either happened or not; nothing follows.
      head = null;
      owner = null;
      boolean released;
      try {
        released = casTail(h, null);
      } catch (Throwable e) {
        head = h; // not released: still ours
        owner = me;
        throw e;
      }
      if (released) {
        return;
      }
      // A successor is between its getAndSet and its link: it waits for our node and reads
      // neither field, so taking them back changes nothing anyone has acted on.
      head = h;
      owner = me;
    }
    // A successor to grant: check the stack headroom before the first step (see "Stack
    // overflow" in the notes), so that an overflow leaves the lock held, not half passed on.
    if (retryable) {
      // Not for the pass-on after an error: an overflow here would leave the lock held by a
      // thread that is leaving; it goes ahead unprobed, as it did before the probes.
      StackHeadroom.ensure(StackHeadroom.RELEASE_FRAMES);
    }
    release(h, me, retryable);
  }

  /**
   * Returns a new {@link Condition} bound to this lock. {@code await} releases the lock, waits
   * for a signal (or interrupt or timeout), and re-acquires the lock (joining the back of the
   * FIFO queue) before returning, also when it throws. Signals wake threads in the order they
   * started waiting, skipping a waiter whose timeout has passed or whose wait an interrupt has
   * ended (as in {@code ReentrantLock}, it gives up before it has the lock back). Calling any condition method without holding the lock throws {@link
   * IllegalMonitorStateException}. A zero or negative timeout, or an {@code awaitUntil} date
   * that is not after now (however far in the past), returns at once without releasing the
   * lock; {@code awaitNanos} returns the timeout minus the time spent. On a virtual thread, a
   * timed await that times out unmounts the thread before it returns: see <a
   * href="package-summary.html#virtual-timeouts">timed waits on virtual threads</a>.
   *
   * @return a new condition for this lock
   */
  @Override
  public Condition newCondition() {
    return new SpinLockCondition(this, new HeldByCurrentThread(this), "TicketLock");
  }
  /** newCondition's ownership check (no lambdas in the core: see CoreBytecodeTest). */
  private static final class HeldByCurrentThread implements java.util.function.BooleanSupplier {
    private final TicketLock lock;

    HeldByCurrentThread(TicketLock lock) {
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
   * Tells whether the lock is held (or being handed over) right now; a snapshot.
   *
   * @return {@code true} if the lock is held or threads are queued for it
   */
  public boolean isLocked() {
    return tailOpaque() != null;
  }

  /**
   * Tells whether the current thread holds this lock.
   *
   * @return {@code true} if the current thread holds the lock
   */
  public boolean isHeldByCurrentThread() {
    return ownerPlain() == Thread.currentThread();
  }

  /**
   * Tells whether threads are queued behind the holder right now; a snapshot.
   *
   * @return {@code true} if some thread waits for the lock; waits that already timed out or were
   *     interrupted do not count
   */
  public boolean hasQueuedThreads() {
    return liveWaiterQueued(tailOpaque());
  }

  /**
   * Whether a node at or before {@code t} still waits: skips the abandoned nodes at the end of
   * the queue (a waiter that timed out stays the tail until a release or a later waiter unlinks
   * it), and stops at the first granted one, the holder's. A snapshot, O(abandoned nodes at the
   * tail).
   */
  private static boolean liveWaiterQueued(@Nullable Node t) {
    while (t != null) {
      // Acquire: when we see ABANDONED, the waiter's abandon CAS (release) has published its
      // prev, which it wrote before it could abandon and never changes afterwards.
      int st = t.statusAcquire();
      if (st == Node.GRANTED) {
        return false;
      }
      if (st != Node.ABANDONED) {
        return true; // WAITING or PARKED
      }
      t = t.prev;
    }
    return false;
  }

  /**
   * Describes the state without blocking: {@code TicketLock[unlocked]}, or the holder's name
   * and whether threads are queued.
   *
   * @return a snapshot of the state
   */
  @Override
  public String toString() {
    Thread o = ownerOpaque();
    Node t = tailOpaque();
    String s;
    if (t == null) {
      s = "unlocked";
    } else {
      s = o == null ? "locked (handing over)" : "locked by " + ThreadNames.of(o);
      if (liveWaiterQueued(t)) {
        s += ", with queued waiters";
      }
    }
    return "TicketLock[" + s + "]";
  }

  /**
   * Counts the threads waiting behind the holder (for tests); walks the queue, so O(n).
   *
   * @return the number of nodes behind the holder that are neither granted nor abandoned
   */
  int queueLength() {
    Node t = tailOpaque();
    // Walk from the holder's node if we can see it; a snapshot is good enough for tests.
    Node h = head;
    if (t == null || h == null) {
      return t == null ? 0 : -1;
    }
    int count = 0;
    for (Object x = h.nextAcquire(); x instanceof Node && x != RELEASED; ) {
      Node n = (Node) x;
      int st = n.statusOpaque();
      if (st == Node.WAITING || st == Node.PARKED) {
        count++;
      }
      x = n.nextAcquire();
    }
    return count;
  }

  /**
   * Tells whether waiters behind the next in line currently park at once instead of yielding
   * (for tests); a snapshot.
   *
   * @return true if a slow yield paused yielding on this lock and the pause has not ended
   */
  boolean yieldingPaused() {
    return System.nanoTime() - yieldPausedUntilOpaque() < 0L;
  }

  /**
   * The length of the last pause of yielding (for tests).
   *
   * @return the pause length in ns, 0 if yielding was never paused
   */
  long yieldPauseNanos() {
    return (long) YIELD_PAUSE.getOpaque(this);
  }

  /**
   * Until when yielding is paused (for tests).
   *
   * @return a {@link System#nanoTime()} value; in the past when yielding is not paused
   */
  long yieldPausedUntilNanos() {
    return yieldPausedUntilOpaque();
  }

  // ---- slow paths ----

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
    return new InterruptedException("interrupted before acquiring the TicketLock");
  }

  /**
   * The slow path: the lock was held or queued for. Records a JFR event ({@code
   * dev.weft.LockContended}) around the wait when a recording asks for it; see {@link WeftJfr}.
   */
  private int acquireSlow(Thread me, boolean interruptible, boolean timed, long nanos) {
    // Misuse is refused before the event begins: a call that throws here never waited, and a
    // LockContended event for it would report a wait that did not happen.
    if (ownerPlain() == me) {
      throw new IllegalStateException(NOT_REENTRANT);
    }
    // Before the node is queued: an overflow from here to the grant or the abandon would leave
    // a node nobody takes back (see "Stack overflow" in the notes).
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES);
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
    // A fresh WAITING node; its fields are published by the getAndSet below. A full heap: wait
    // without a node, as JDK 25's AQS does, rather than throw (see "A full heap" in the notes).
    Node n;
    while ((n = newNodeOrNull(me)) == null) {
      int r = pollWithoutNode(me, interruptible, timed, deadline);
      if (r != RETRY_NODE) {
        return r;
      }
    }
    Node p = getAndSetTail(n);
    if (p == null) {
      becomeOwner(n, me); // the lock was free
      return ACQUIRED;
    }
    n.prev = p; // plain: read only by our successor, after it sees us ABANDONED (acquire)
    // From here n is queued: any error before its grant or abandon (a StackOverflowError that
    // the probe did not foresee, from a call site linked for the first time or a frame the
    // interpreter runs; an OutOfMemoryError) must not leave it for a releaser to grant to a
    // thread that has gone (see "Stack overflow" in the notes).
    int stage = SWAPPED;
    try {
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("ticketlock.swapped");
      }
      if (!p.casNext(null, n)) {
        // p was released before we linked (p.next is RELEASED): we own the lock. If p is the
        // reused fastNode, clear the marker so its next incarnation starts unlinked; nobody
        // else can reach this incarnation any more (see "Fast-path node" in the notes).
        stage = OWNED;
        if (p == fastNode) {
          p.setNextPlain(null);
        }
        becomeOwner(n, me);
        return ACQUIRED;
      }
      stage = LINKED;
      return waitQueued(p, n, me, interruptible, timed, deadline);
    } catch (Throwable e) {
      leaveAfterError(p, n, me, stage);
      throw e;
    }
  }

  /** A waiting node, or null if allocating it threw OutOfMemoryError (a full heap). */
  private static @Nullable Node newNodeOrNull(Thread me) {
    try {
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("ticketlock.new-node"); // tests throw an OutOfMemoryError here
      }
      return new Node(me, Node.WAITING);
    } catch (OutOfMemoryError e) {
      return null; // the caller waits without a node; the error is not reported (as AQS's)
    }
  }

  /** An outcome of {@link #pollWithoutNode}: try to allocate the node again. */
  private static final int RETRY_NODE = -1;

  /**
   * The wait of a thread whose node could not be allocated: takes the lock when it is free with
   * nobody queued (as {@link #tryLock()} does), polling on a timer (see {@link
   * SpinBackoff#pauseWithoutNode}). It is in no queue, so no release owes it anything and it
   * leaves nothing behind if it throws; it returns {@link #RETRY_NODE} every {@link
   * SpinBackoff#NODE_RETRY_ROUNDS} rounds so the caller queues, in FIFO order, once memory is
   * back (under steady traffic the queue may never empty). An uninterruptible wait consumes the
   * interrupts it meets (a pending one would end every sleep at once) and sets the status again
   * before it returns, whatever it returns.
   */
  private int pollWithoutNode(Thread me, boolean interruptible, boolean timed, long deadline) {
    boolean interrupted = false;
    try {
      for (int round = 0; round < SpinBackoff.NODE_RETRY_ROUNDS; round++) {
        if (tailOpaque() == null && casTailFast(me)) {
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

  /** Stages of acquireWait, for leaveAfterError. */
  private static final int SWAPPED = 0;

  private static final int LINKED = 1;
  private static final int OWNED = 2;

  /**
   * Takes a queued node back after an error thrown while it linked or waited: links it if the
   * error struck before the link, then abandons it, or, if the lock became ours meanwhile (p
   * released before the link, or n granted), takes the lock and passes it on. Runs at the
   * depth of {@link #acquireWait}, which the probe before queueing covered, and calls only
   * what the class initialiser has linked already ({@link #PRELINKED}).
   */
  private void leaveAfterError(Node p, Node n, Thread me, int stage) {
    boolean ours;
    if (stage == OWNED) {
      ours = true; // the marker of a released fastNode was already cleared, or is cleared here
      if (p == fastNode) {
        p.setNextPlain(null); // as acquireWait does; nobody else reaches this incarnation
      }
    } else if (stage == SWAPPED && !p.casNext(null, n)) {
      ours = true; // p was released before the link (p.next is RELEASED)
      if (p == fastNode) {
        p.setNextPlain(null);
      }
    } else {
      // Linked: abandoned (the releaser skips it), or granted meanwhile (ours). A granted node's
      // fastNode predecessor was reset by its releaser and may be in use again: not touched.
      ours = !n.abandon();
    }
    if (ours) {
      becomeOwner(n, me);
      unlock(false); // pass it on: this thread is leaving with an error and will not retry
    }
  }

  private int waitQueued(
      Node p, Node n, Thread me, boolean interruptible, boolean timed, long deadline) {
    if (ProtocolWindows.ENABLED) {
      ProtocolWindows.at("ticketlock.queued");
    }
    boolean interrupted = false;
    boolean spun = false; // one spin phase per wake-up
    // An error cuts the wait short (see "Stack overflow" in the notes): the interrupt that an
    // uninterruptible wait absorbed is set again before acquireWait takes the node back (found
    // by review, session 21: the error left with the interrupt status cleared).
    try {
      for (;;) {
        p = unlinkAbandonedBefore(p, n);
        int st = n.statusAcquire(); // acquire: pairs with the releaser's CAS to GRANTED
        if (st == Node.GRANTED) {
          becomeOwner(n, me);
          if (interrupted) {
            Thread.currentThread().interrupt(); // never swallow an interrupt
          }
          return ACQUIRED;
        }
        if (Thread.interrupted()) {
          if (interruptible) {
            if (ProtocolWindows.ENABLED) {
              ProtocolWindows.at("ticketlock.interrupted");
            }
            if (n.abandon()) {
              return INTERRUPTED;
            }
            // Granted at the same moment: take the lock and pass it on, then report the
            // interrupt. If the pass-on throws (an overflow that its probe or the wake probe
            // found), the catch below sets the interrupt status again before the error leaves
            // and acquireWait passes the lock on unprobed: the interrupt is not lost (an open
            // item of session 25, found by reading; Review26InterruptedPassOnTest).
            interrupted = true;
            becomeOwner(n, me);
            if (ProtocolWindows.ENABLED) {
              ProtocolWindows.at("ticketlock.interrupted-pass-on");
            }
            unlock();
            return INTERRUPTED;
          }
          interrupted = true;
        }
        long remaining = 0L;
        if (timed) {
          remaining = deadline - System.nanoTime();
          if (remaining <= 0L) {
            if (n.abandon()) {
              // The node is abandoned, so nothing waits on us: a virtual thread unmounts once
              // before failing, or a retry loop keeps the carrier, whether or not this call parked
              // (a park can return at once on a permit; SpinBackoff.unmountBeforeTimeout). No last
              // try: that would barge past the queue. An interrupt meanwhile is reported as one.
              if (SpinBackoff.unmountBeforeTimeoutInterrupted(this)) {
                return INTERRUPTED;
              }
              return TIMED_OUT;
            }
            becomeOwner(n, me); // granted just in time
            return ACQUIRED;
          }
        }
        // Once per wake-up, wait on the CPU for a short time before parking: yield while further
        // back, spin while next in line (see the algorithm notes).
        if (!spun) {
          spun = true;
          waitOnCpu(p, n, me, timed, deadline);
          // Granted or not: re-check the node (acquire), the interrupt and the time left before
          // parking, since the wait on the CPU took up to ~40 us (more after a slow yield).
          continue;
        }
        if (st == Node.WAITING && !n.casStatus(Node.WAITING, Node.PARKED)) {
          continue; // granted meanwhile
        }
        if (ProtocolWindows.ENABLED) {
          ProtocolWindows.at("ticketlock.park");
        }
        if (timed) {
          LockSupport.parkNanos(this, remaining);
        } else {
          LockSupport.park(this);
        }
        spun = false; // woken: granted, or interrupt/timeout/spurious
      }
    } catch (Throwable e) {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      throw e;
    }
  }

  /**
   * Unlinks the abandoned nodes directly in front of {@code n} (timed-out or interrupted
   * waiters), so that they do not pile up while the lock is held for a long time; see
   * "Abandoned nodes" in the algorithm notes.
   *
   * @return {@code n}'s nearest predecessor that is not abandoned (or the last one that could
   *     not be unlinked because the releaser has already passed it)
   */
  private static Node unlinkAbandonedBefore(Node p, Node n) {
    // Acquire: pairs with the abandoning waiter's CAS, which follows its write of p.prev.
    while (p.statusAcquire() == Node.ABANDONED) {
      Node pp = p.prev;
      if (pp == null || !pp.casNext(p, n)) {
        return p; // pp was already released past p (see the notes): nothing to unlink
      }
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("ticketlock.unlinked-abandoned");
      }
      n.prev = pp; // plain, like the first write: only our successor reads it, after our abandon
      p = pp;
    }
    return p;
  }

  /**
   * The on-CPU part of one wait, before parking. A waiter whose predecessor does not hold the
   * lock yields for up to {@link SpinBackoff#QUEUE_YIELD_NANOS} (unless yielding is paused on
   * this lock), and a waiter whose predecessor holds it (or comes to hold it while we yield)
   * spins for up to {@link SpinBackoff#HANDOFF_SPIN_NANOS}. Neither goes past the deadline of
   * a timed wait. The caller re-reads the node afterwards, so this returns nothing.
   */
  private void waitOnCpu(Node p, Node n, Thread me, boolean timed, long deadline) {
    // See "Virtual threads" in the algorithm notes: no yield, and a spin of a few pauses.
    boolean virtual = SpinBackoff.isVirtual(me);
    // Opaque reads of p: only hints for choosing how to wait (see the algorithm notes).
    if (p.statusOpaque() != Node.GRANTED
        && !virtual
        && System.nanoTime() - yieldPausedUntilOpaque() >= 0L
        && yieldWhileBehind(p, n, me, timed, deadline)) {
      return; // granted while yielding
    }
    if (p.statusOpaque() == Node.GRANTED) {
      if (virtual) {
        spinForGrantVirtual(n);
      } else {
        spinForGrant(n, timed, deadline);
      }
    }
  }

  /**
   * A waiter further back than next in line: yields until its predecessor holds the lock, its
   * own node is granted, {@link SpinBackoff#QUEUE_YIELD_NANOS} (or the deadline) passes, the
   * thread is interrupted, or one yield takes {@link SpinBackoff#SLOW_YIELD_NANOS} or more
   * (another runnable thread had this core for a time slice: the yield is reported to {@link
   * #countSlowYield}, and this wait stops yielding). The caller then spins if the predecessor
   * holds the lock, else parks.
   *
   * @return true if {@code n} was granted while yielding
   */
  private boolean yieldWhileBehind(Node p, Node n, Thread me, boolean timed, long deadline) {
    if (ProtocolWindows.ENABLED) {
      ProtocolWindows.at("ticketlock.yield");
    }
    long now = System.nanoTime();
    long end = now + SpinBackoff.QUEUE_YIELD_NANOS;
    if (timed && deadline - end < 0L) {
      end = deadline;
    }
    do {
      SpinBackoff.yieldProcessor();
      long after = System.nanoTime();
      if (after - now >= SpinBackoff.SLOW_YIELD_NANOS) {
        try {
          countSlowYield(after);
        } catch (StackOverflowError e) {
          // A rare path, often still interpreted, so deeper than the probe before queueing
          // covers (review 18's sweep overflowed in its CAS). Only a heuristic: a count lost
          // changes no node, and the wait goes on.
        }
        break;
      }
      now = after;
      // Opaque: a hint to stop yielding; the caller's loop re-reads n with acquire to own it.
      if (n.statusOpaque() == Node.GRANTED) {
        return true;
      }
    } while (p.statusOpaque() != Node.GRANTED && now - end < 0L && !me.isInterrupted());
    return n.statusOpaque() == Node.GRANTED;
  }

  /**
   * Counts a slow yield, and pauses yielding on this lock when {@link
   * SpinBackoff#SLOW_YIELDS_TO_PAUSE} of them fall within {@link
   * SpinBackoff#SLOW_YIELD_WINDOW_NANOS}.
   * Slow yields during a pause, and in the first {@link SpinBackoff#SLOW_YIELD_WINDOW_NANOS}
   * after it, are not counted (without that grace period, switching back from parking to
   * yielding produced a few slow yields of its own, and 3 of 8 benchmark forks stayed paused
   * most of the time). Racing waiters may lose a count or restart the
   * window twice (opaque accesses, no atomic update): that only moves a pause a little. Starting
   * a pause is a CAS, so one pause is computed from one previous state.
   */
  void countSlowYield(long now) { // package-private for tests
    long pausedUntil = yieldPausedUntilOpaque();
    if (now - pausedUntil < SpinBackoff.SLOW_YIELD_WINDOW_NANOS) {
      // Paused, or a pause ended less than one window ago: slow yields that were under way when
      // it started do not count, nor do those of the switch back from parking to yielding.
      return;
    }
    int count;
    if (now - (long) SLOW_YIELDS_SINCE.getOpaque(this) > SpinBackoff.SLOW_YIELD_WINDOW_NANOS) {
      SLOW_YIELDS_SINCE.setOpaque(this, now);
      count = 1;
    } else {
      count = (int) SLOW_YIELDS.getOpaque(this) + 1;
    }
    SLOW_YIELDS.setOpaque(this, count);
    if (count >= SpinBackoff.SLOW_YIELDS_TO_PAUSE) {
      // Sustained load: if the last pause ended less than YIELD_PAUSE_NANOS ago (slow yields
      // came back as soon as yielding did), double it. Not "within its own length": bursts a
      // second apart (JMH iterations, GC) then kept some locks at the longest pause for good.
      long last = (long) YIELD_PAUSE.getOpaque(this);
      long pause =
          last > 0L && now - pausedUntil < SpinBackoff.YIELD_PAUSE_NANOS
              ? Math.min(last * 2, SpinBackoff.MAX_YIELD_PAUSE_NANOS)
              : SpinBackoff.YIELD_PAUSE_NANOS;
      // One thread starts the pause: a CAS from the value this decision was based on, so two
      // waiters that both counted to the threshold cannot double it twice.
      if (casYieldPausedUntil(pausedUntil, now + pause)) {
        YIELD_PAUSE.setOpaque(this, pause);
        SLOW_YIELDS.setOpaque(this, 0);
        SLOW_YIELDS_SINCE.setOpaque(this, now);
      }
    }
  }

  /**
   * The next-in-line waiter's spin: polls its own node for up to {@link
   * SpinBackoff#HANDOFF_SPIN_NANOS}, reading the clock only every {@link
   * SpinBackoff#CLOCK_CHECK_SPINS} pauses.
   *
   * @return true if the node was granted while spinning
   */
  private static boolean spinForGrant(Node n, boolean timed, long deadline) {
    if (ProtocolWindows.ENABLED) {
      ProtocolWindows.at("ticketlock.spin");
    }
    long until = System.nanoTime() + SpinBackoff.HANDOFF_SPIN_NANOS;
    if (timed && deadline - until < 0L) {
      until = deadline;
    }
    for (int i = 1; ; i++) {
      // Opaque: only a hint to stop spinning; the caller re-reads it with acquire before owning.
      if (n.statusOpaque() == Node.GRANTED) {
        return true;
      }
      Thread.onSpinWait(); // no backoff: only the releaser writes this node (see SpinBackoff)
      if (i % SpinBackoff.CLOCK_CHECK_SPINS == 0 && System.nanoTime() - until >= 0L) {
        return false;
      }
    }
  }


  /**
   * The next-in-line spin of a virtual thread: {@link SpinBackoff#VIRTUAL_HANDOFF_SPINS} pauses
   * (well under a microsecond), so that a virtual thread unmounts soon and never keeps its
   * carrier from a holder that needs one; see "Virtual threads" in the algorithm notes.
   *
   * @return true if the node was granted while spinning
   */
  private static boolean spinForGrantVirtual(Node n) {
    if (ProtocolWindows.ENABLED) {
      ProtocolWindows.at("ticketlock.spin");
    }
    for (int i = 0; i < SpinBackoff.VIRTUAL_HANDOFF_SPINS; i++) {
      // Opaque: only a hint to stop spinning; the caller re-reads it with acquire before owning.
      if (n.statusOpaque() == Node.GRANTED) {
        return true;
      }
      Thread.onSpinWait();
    }
    return n.statusOpaque() == Node.GRANTED;
  }

  /**
   * Hands the lock on from the holder's node {@code h}; see the algorithm notes. Never waits.
   * An error before the hand-over is published (a StackOverflowError that the probes did not
   * foresee, or the wake probe's own, which is only taken where {@code retryable}) undoes the
   * release, so that the caller holds the lock again, and propagates; see "Stack overflow".
   */
  private void release(Node h, Thread me, boolean retryable) {
    // Cleared before the hand-over publishes the lock (its CAS orders these writes before the
    // next holder's), with plain writes and no call between them and the try below: an
    // interpreted setOwnerOpaque overflowed after head was cleared (session 25's sweeps), and
    // the lock was left with an owner but no head, so that every retry of the unlock was
    // refused. The owner is read by other threads only as a hint (see the notes).
    head = null;
    owner = null;
    Node x = h;
    @Nullable Node unlinked = null; // h's successor when h is fastNode, unlinked below
    // The deepest wake probe that fitted: none yet, or "go ahead regardless" where no retry.
    int probed = retryable ? 0 : Integer.MAX_VALUE;
    boolean granted = false;
    try {
      for (;;) {
        Object nx = x.nextAcquire();
        if (nx == null) {
          if (casTail(x, null)) {
            return; // nobody behind: the lock is free
          }
          if (x.casNext(null, RELEASED)) {
            return; // a successor is linking: it will find RELEASED and own the lock
          }
          nx = x.nextAcquire();
        }
        Node s = (Node) nx;
        if (s == null) {
          throw new AssertionError("TicketLock queue corrupted: link vanished");
        }
        if (x == fastNode) {
          // Unlink before the grant below publishes it: s was the only thread that could
          // reach this incarnation of fastNode, and it has already linked. (Only h can be
          // fastNode: every waiting node is fresh.)
          x.setNextPlain(null);
          unlinked = s;
        }
        for (;;) {
          int st = s.statusAcquire();
          if (st == Node.ABANDONED) {
            break; // hand the lock past it
          }
          if (st == Node.PARKED && probed < Integer.MAX_VALUE) {
            // The grant below is final, and the unpark after it runs deeper than unlock's
            // RELEASE_FRAMES probe covered when s is a virtual thread: its unpark runs the
            // scheduler, whose pool swallows an overflow, and s was left granted with no
            // carrier (session 25). So probe what waking s needs before the grant; an
            // overflow here is undone below. Only a parked successor needs it: granting a
            // WAITING one wakes nobody. The status is the one the CAS below replaces, so a
            // successor that parks after an earlier read fails the CAS and is probed here.
            Thread t = s.thread; // never null: only fastNode has no thread, and it never waits
            int need = t == null ? StackHeadroom.RELEASE_FRAMES : StackHeadroom.wakeFrames(t);
            if (need > probed) {
              StackHeadroom.ensure(need);
              probed = need;
            }
          }
          if (s.casStatus(st, Node.GRANTED)) {
            granted = true;
            if (st == Node.PARKED) {
              LockSupport.unpark(s.thread);
            }
            return;
          }
        }
        x = s;
      }
    } catch (Throwable e) {
      if (!granted) {
        // Nothing is published (every other publishing CAS returns at once): undo the
        // release, so the caller holds the lock again and a retry higher up the stack
        // releases it. Field writes only: a call could overflow again here. The abandoned
        // nodes the walk passed are unchanged, and the successor that splices them out only
        // CASes h.next from the node it replaces.
        if (unlinked != null) {
          h.next = unlinked;
        }
        head = h;
        owner = me;
      }
      throw e;
    }
  }

  /** One thread's place in the queue. */
  static final class Node {
    private static final VarHandle STATUS;
    private static final VarHandle NEXT;

    static {
      try {
        MethodHandles.Lookup l = MethodHandles.lookup();
        STATUS = l.findVarHandle(Node.class, "status", int.class);
        NEXT = l.findVarHandle(Node.class, "next", Object.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    static final int WAITING = 0;
    static final int PARKED = 1;
    static final int GRANTED = 2;
    static final int ABANDONED = 3;

    final @Nullable Thread thread;

    /**
     * The node in front of this one while this one waits; null for the fast-path node and the
     * RELEASED marker. Written plain by this node's waiter only (when it links and when it
     * unlinks abandoned nodes in front of it); read by its successor only after this node is
     * ABANDONED, which the waiter's abandon CAS publishes.
     */
    @Nullable Node prev;

    @SuppressWarnings("unused") // accessed through STATUS
    private int status;

    /** The successor Node, RELEASED, or null. */
    @SuppressWarnings("unused") // accessed through NEXT
    private @Nullable Object next;

    Node(@Nullable Thread thread, int status) {
      this.thread = thread;
      this.status = status;
    }

    int statusAcquire() {
      return (int) STATUS.getAcquire(this);
    }

    /** Opaque: used only as a spinning hint and for snapshots. */
    int statusOpaque() {
      return (int) STATUS.getOpaque(this);
    }

    /** Opaque: a hint for the successor; the real handover uses CAS on the successor's node. */
    void setStatusOpaque(int s) {
      STATUS.setOpaque(this, s);
    }

    boolean casStatus(int expected, int value) {
      return STATUS.compareAndSet(this, expected, value);
    }

    /** WAITING or PARKED -> ABANDONED; false if the node was granted the lock first. */
    boolean abandon() {
      for (;;) {
        int st = statusAcquire();
        if (st == GRANTED) {
          return false;
        }
        if (casStatus(st, ABANDONED)) {
          return true;
        }
      }
    }

    /**
     * Plain: only for the reused fast-path node, by the one thread that can still reach it;
     * ordered before its reuse by the volatile tail and status CASes that follow.
     */
    void setNextPlain(@Nullable Object value) {
      NEXT.set(this, value);
    }

    @Nullable Object nextAcquire() {
      return NEXT.getAcquire(this);
    }

    boolean casNext(@Nullable Object expected, Object value) {
      return NEXT.compareAndSet(this, expected, value);
    }
  }

  // ---- guard ----

  /**
   * Proof that a thread holds a {@link TicketLock}; closing it releases the lock. Use it in a
   * try-with-resources statement. A guard belongs to the thread that acquired it.
   */
  public static final class Guard implements AutoCloseable {
    private final TicketLock lock;
    private final Thread thread;
    private boolean closed; // written and read only by `thread` (checked first in close)

    Guard(TicketLock lock, Thread thread) {
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
            "TicketLock guard belongs to thread "
                + ThreadNames.of(thread)
                + ", not to "
                + ThreadNames.of(Thread.currentThread())
                + ": close it in the thread that acquired it");
      }
      if (closed) {
        throw new IllegalStateException(
            "TicketLock guard already closed: close each guard exactly once");
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
      return "TicketLock.Guard[" + ThreadNames.of(thread) + (closed ? ", closed]" : "]");
    }
  }

  static {
    // Last of the static initializers: the classes this one's slow paths use are initialized
    // with it, not on a first slow path near the end of some thread's stack, where an overflow
    // in their initializers would break them for the rest of the JVM (see
    // StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, SpinBackoff.class, ProtocolWindows.class,
        Node.class, SpinLockCondition.class);
  }
}
