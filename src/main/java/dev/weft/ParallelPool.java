package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.security.AccessControlContext;
import java.security.AccessController;
import java.security.Permissions;
import java.security.PrivilegedAction;
import java.security.ProtectionDomain;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * The worker threads {@link Parallel} uses by default: daemon platform threads named {@code
 * weft-parallel-N}, started when a call first needs them, kept between calls, and retired after
 * {@link #KEEP_ALIVE_NANOS} without work.
 *
 * <p>Package-private. It runs only {@link ParallelJob.Worker} tasks, one at a time per thread,
 * and never queues: {@link #tryExecute} hands a task to an idle thread or a new one, or says no,
 * and the call then goes on with fewer workers. So a call never waits for a pool thread, and a
 * pool thread never holds work of a call that has returned (the call's own hand-shake, {@code
 * ParallelJob}'s phase 3, waits for or cancels every task it handed over).
 */
final class ParallelPool {
  /*
   * Algorithm notes
   * ===============
   *
   * Idle threads sit on a Treiber stack (`idle`, CAS on the head). Each time a thread goes idle
   * it pushes a fresh IdleNode, so a node is never pushed twice and the stack has no ABA
   * problem. The stack is LIFO on purpose: the thread that finished last (still spinning, its
   * caches warm) is reused first, and threads beyond the steady demand stay at the bottom,
   * unused, until they retire.
   *
   * Hand-over. A thread's `slot` is null while it waits for a task. tryExecute pops a node and
   * CASes that thread's slot from null to the task (volatile CAS: it publishes the task, and
   * everything the caller did before, to the thread's acquire read of the slot; that is the
   * "actions before the call happen-before every invocation" edge, as Thread.start is for new
   * threads). A retiring thread CASes its slot from null to RETIRED. Exactly one of the two
   * CASes wins, so a task is never given to a thread that has decided to exit, and a thread
   * never exits holding a task. A popped node whose CAS fails belongs to a retired thread and
   * is dropped.
   *
   * Waking. An idle thread first spins (SPIN_NANOS, onSpinWait) reading its slot, so calls that
   * follow one another find it running; then it writes `parked = true` (volatile) and reads its
   * slot (volatile) before it parks. The hand-over CASes the slot (volatile) and then reads
   * `parked` (volatile). Both pairs are volatile, so (sequential consistency of volatile
   * accesses) either the thread sees the task and does not park, or the hand-over sees
   * `parked` and unparks it: no wake-up is lost, and a spinning thread costs the caller no
   * unpark. A stale unpark only makes a later park return early; every park is in a loop.
   *
   * At most `core` threads spin at once (`spinning`, atomic add; a thread that finds the
   * count at `core` parks at once). A call with threads(n) far above the processor count
   * (blocking work) ends with all n threads going idle together; without the cap each would
   * spin, and n spinners on fewer cores take the processors from the caller's next call and
   * from each other, so that spinning delays the very calls it is meant to speed up (measured:
   * docs/parallel.md). With the cap, the spinning threads fit on the processors besides the
   * caller's, and a single processor (core 0) never spins. The count is only a heuristic
   * bound: a stale read lets one extra thread spin for one window, never loses a wake-up
   * (parking is the Dekker protocol above, whatever the count says).
   *
   * No spin after an oversubscribed call (session 13). A thread whose task belonged to a call
   * that handed over more tasks than `core` (threads(n) above the processors: blocking work)
   * parks at once (PoolThread.maySpin, set with the task by the hand-over, thread-confined
   * like holdsPermit). Even capped at `core`, spinners took the processors from that call's
   * own threads, which wake together when their blocking ends and each need a processor to
   * finish: one spinner at a time, passing the slot from finisher to finisher, made a
   * threads(16) call of 1 ms parks 18% slower on 2 cores (1.44 against 1.22 ms, mean of 2,000
   * calls; 4-8% at threads(4) and threads(8)), and the next call rarely found the spinner
   * anyway: the threads that take the spin slots are the first to go idle, so they sit below
   * the parked ones in the LIFO stack, and the next hand-over pops a parked thread (one
   * unpark) while the spinner idles (found by review). The spin pays only when the call's
   * threads fit the processors, which is when it is still allowed. Nothing about wake-ups
   * changes: a thread that does not spin parks by the same protocol.
   *
   * Retiring. A parked thread waits at most KEEP_ALIVE_NANOS in all; then it CASes its slot to
   * RETIRED and exits. Its node may stay in the stack until a later pop drops it: at most one
   * node per thread that ever lived, and a pop that needs threads drops every dead node above
   * the live ones it takes.
   *
   * Size. `live` counts threads started and not yet exited (atomic add). Tasks of calls with
   * the default thread count hold one of `core` permits (available processors - 1: the caller
   * is the other one; `defaultBusy`, CAS) from the hand-over until the thread is done with the
   * task, whichever thread runs them, so concurrent calls share the machine instead of each
   * adding a full set of threads; a task of a call that asked for more threads explicitly
   * (threads(n)) needs no permit and may start a new thread. Threads started for such a call
   * stay in the pool like the others and retire when unused. (Found by review: counting only
   * thread starts let default calls take every idle thread an explicit call had left.)
   *
   * Back early. A task's last act for its call (ParallelJob.workerExit) is the `active`
   * decrement that lets the caller return; a caller that calls again at once would find the
   * thread not yet back in the idle stack. So just before that decrement the thread pushes its
   * idle node and then gives back its permit (returnEarly; in that order since review 22, see
   * goIdle): a hand-over may then fill its slot
   * while it finishes the few instructions left of the old task, and it takes the new task as
   * soon as it looks at its slot. Only the pool's own top-level task does this, never a worker
   * that a user's function ran nested on a pool thread (that thread is still busy).
   *
   * Nothing kept. The run loop drops its reference to a finished task before it waits, so an
   * idle thread does not keep the last call's function and data reachable (found by review:
   * the dead local kept them until the next task). Threads are created with an access-control
   * context of one empty protection domain, so on JDK 17-23 they do not keep the creating
   * caller's stack of protection domains, and with it its class loaders (found by review).
   *
   * Interrupts. A pool thread clears its interrupt status before each task, so an interrupt
   * meant for an earlier task (the user's function interrupting its own thread, or anyone else)
   * cannot reach the next one; weft's own fail-fast interrupts are also cleared by the task
   * itself before it returns (ParallelJob.workerExit).
   */

  /**
   * How long an idle pool thread waits for work before it exits: 30 seconds. An idle thread
   * costs no CPU (it is parked) and does not keep the JVM alive (daemon), only its stack and
   * thread object; a new thread costs about 60-130 us to start on the machines measured
   * (docs/parallel.md). Calls more often than every 30 s therefore never pay a start, and a
   * JVM that stops calling Parallel is back to no weft threads half a minute later. Set {@code
   * -Ddev.weft.parallel.keepAliveSeconds} to change it.
   */
  static final long KEEP_ALIVE_NANOS =
      TimeUnit.SECONDS.toNanos(Math.max(1L, SystemProperties.getLong("dev.weft.parallel.keepAliveSeconds", 30L)));

  /**
   * How long a thread that finished a task spins (onSpinWait) before it parks: 50 us, so that
   * back-to-back calls find it running and need no unpark (a wake-up takes 20-60 us on the
   * machines measured); see docs/parallel.md for what it buys and costs. Set {@code
   * -Ddev.weft.parallel.spinMicros} to change it (0 parks at once; values above 10,000, i.e.
   * 10 ms, are capped there, so that an idle thread always reaches its park and keep-alive).
   */
  static final long SPIN_NANOS =
      TimeUnit.MICROSECONDS.toNanos(
          Math.min(10_000L, Math.max(0L, SystemProperties.getLong("dev.weft.parallel.spinMicros", 50L))));

  /** Slot value of a thread that has decided to exit. */
  private static final Runnable RETIRED = new Retired();

  private static final VarHandle IDLE;
  private static final VarHandle LIVE;
  private static final VarHandle SEQ;
  private static final VarHandle SLOT;
  private static final VarHandle PARKED;
  private static final VarHandle DEFAULT_BUSY;
  private static final VarHandle SPINNING;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      IDLE = l.findVarHandle(ParallelPool.class, "idle", IdleNode.class);
      LIVE = l.findVarHandle(ParallelPool.class, "live", int.class);
      SEQ = l.findVarHandle(ParallelPool.class, "seq", long.class);
      SLOT = l.findVarHandle(PoolThread.class, "slot", Runnable.class);
      PARKED = l.findVarHandle(PoolThread.class, "parked", boolean.class);
      DEFAULT_BUSY = l.findVarHandle(ParallelPool.class, "defaultBusy", int.class);
      SPINNING = l.findVarHandle(ParallelPool.class, "spinning", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The pool every {@code Parallel} call uses unless told otherwise; created on first use. */
  static ParallelPool shared() {
    return Shared.POOL;
  }

  /** Holder idiom: the shared pool (not its threads, which start on demand) on first use. */
  private static final class Shared {
    static final ParallelPool POOL = new ParallelPool(
        "weft-parallel-",
        Math.max(0, Runtime.getRuntime().availableProcessors() - 1),
        KEEP_ALIVE_NANOS, SPIN_NANOS);
  }

  private final String prefix;
  private final int core;
  private final long keepAliveNanos;
  private final long spinNanos;
  private final ThreadGroup group;

  /** Top of the stack of idle threads; IDLE CAS only. */
  @SuppressWarnings("unused") // accessed through the IDLE VarHandle
  private @Nullable IdleNode idle;

  /** Threads started and not yet exited; LIVE atomics only. */
  @SuppressWarnings("unused") // accessed through the LIVE VarHandle
  private int live;

  /** Permits held by tasks of default calls; DEFAULT_BUSY atomics only. */
  @SuppressWarnings("unused") // accessed through the DEFAULT_BUSY VarHandle
  private int defaultBusy;

  /** Idle threads spinning now (see notes, "Waking"); SPINNING atomics only. */
  @SuppressWarnings("unused") // accessed through the SPINNING VarHandle
  private int spinning;

  /** Thread name sequence; SEQ.getAndAdd only. */
  @SuppressWarnings("unused") // accessed through the SEQ VarHandle
  private long seq;

  ParallelPool(String prefix, int core, long keepAliveNanos, long spinNanos) {
    this.prefix = prefix;
    this.core = core;
    this.keepAliveNanos = keepAliveNanos;
    this.spinNanos = spinNanos;
    this.group = rootGroup();
  }

  /**
   * {@link #tryExecute(Runnable, boolean, int)} for a call of one task (for tests): the thread
   * may spin when the task is done.
   */
  boolean tryExecute(Runnable task, boolean beyondCore) {
    return tryExecute(task, beyondCore, 1);
  }

  /**
   * Hands {@code task} to an idle pool thread, or to a new one if the size allows.
   *
   * @param task the worker to run
   * @param beyondCore whether the call asked for its thread count explicitly and may start
   *     threads beyond the pool's core size
   * @param callWorkers how many pool tasks the call hands over in all: above the core size,
   *     the thread parks as soon as the task is done instead of spinning (see notes, "Waking")
   * @return false if no thread could take it (the call goes on with fewer workers)
   */
  boolean tryExecute(Runnable task, boolean beyondCore, int callWorkers) {
    // Before anything changes: near the end of the caller's stack an overflow must strike here,
    // not after the permit was taken or an idle thread popped. Review 29: the finally's
    // releasePermit overflowed deeper than the CAS that took the permit, which stayed taken for
    // the JVM's life (4 of 4 runs, -Xint); an overflow in the unpark after the slot CAS left the
    // worker parked with the task until its keep-alive ended, and the permit was returned twice
    // (3 of 3 runs, JDK 25). The same depth as a Scope spawn, which also starts a thread.
    StackHeadroom.ensure(StackHeadroom.SPAWN_FRAMES);
    boolean maySpin = callWorkers <= core;
    boolean permit = !beyondCore;
    if (permit && !acquirePermit()) {
      return false; // core threads all busy with default calls: fewer workers
    }
    boolean handed = false;
    try {
      PoolThread idle = popIdle(task, permit, maySpin);
      if (idle != null) {
        handed = true; // the task is in idle's slot, and with it the permit: idle returns it
        if (idle.parkedVolatile()) { // volatile: Dekker pair with awaitTask
          LockSupport.unpark(idle);
        }
        return true;
      }
      handed = startThread(task, permit, maySpin);
      return handed;
    } finally {
      if (!handed && permit) {
        releasePermit();
      }
    }
  }

  /**
   * Pops an idle thread and puts {@code task} in its slot; returns it (the caller wakes it), or
   * null if no thread is idle.
   */
  private @Nullable PoolThread popIdle(Runnable task, boolean permit, boolean maySpin) {
    while (true) {
      IdleNode top = (IdleNode) IDLE.getVolatile(this);
      if (top == null) {
        return null;
      }
      if (IDLE.compareAndSet(this, top, top.next)) { // volatile CAS: one popper per node
        PoolThread t = top.thread;
        // Plain: only the popper of t's node writes it, and the slot CAS below publishes it
        // (t reads it after its acquire read of the slot). Harmless if t has retired.
        t.nextHoldsPermit = permit;
        t.nextMaySpin = maySpin; // plain, published the same way
        // Volatile CAS: publishes the task (and what the caller did before) to t; fails only
        // if t retired (RETIRED), and then the node is simply dropped.
        if (SLOT.compareAndSet(t, null, task)) {
          return t;
        }
      }
    }
  }

  /** Starts a new pool thread for {@code task}; false if the JVM cannot create one. */
  private boolean startThread(Runnable task, boolean permit, boolean maySpin) {
    LIVE.getAndAdd(this, 1); // atomic count of live threads
    try {
      long id = (long) SEQ.getAndAdd(this, 1L) + 1; // atomic: names are unique
      PoolThread t = newThread(task, id, permit, maySpin);
      t.start(); // Thread.start publishes the task to the new thread
    } catch (Throwable e) {
      LIVE.getAndAdd(this, -1);
      if (e instanceof OutOfMemoryError) {
        // "unable to create native thread": fewer workers, like a rejected executor task
        return false;
      }
      throw e;
    }
    return true;
  }

  private boolean acquirePermit() {
    while (true) {
      int busy = (int) DEFAULT_BUSY.getVolatile(this);
      if (busy >= core) {
        return false;
      }
      if (DEFAULT_BUSY.compareAndSet(this, busy, busy + 1)) { // atomic: at most core
        return true;
      }
    }
  }

  private void releasePermit() {
    DEFAULT_BUSY.getAndAdd(this, -1);
  }

  /**
   * Atomic add to the count of spinning threads, shared by every idle thread of the pool; the
   * count before the add. One call site for the increment and both decrements, which the
   * warm-up links (see linkRareSteps).
   */
  private int addSpinning(int delta) {
    return (int) SPINNING.getAndAdd(this, delta);
  }

  /**
   * A new thread, created with an access-control context of one protection domain of its own,
   * so that (on JDK 17-23, where every new thread keeps its creator's context) it does not keep
   * the calling code's protection domains, and their class loaders, reachable. That domain
   * holds exactly the permissions that making a pool thread needs under a security manager
   * (joining the root group, setting the context class loader), as the JDK's own pools'
   * contexts do; with none (until review 22) every split onto the pool failed with an
   * AccessControlException once a security manager was installed, even one granting all code
   * every permission. weft's own code still needs them granted: doPrivileged intersects.
   */
  @SuppressWarnings("removal") // AccessController: the JDK's own pools do the same on 17-23
  private PoolThread newThread(Runnable task, long id, boolean permit, boolean maySpin) {
    return AccessController.doPrivileged(
        new MakeThread(this, task, id, permit, maySpin), THREAD_PERMISSIONS);
  }

  /** Makes a pool thread under THREAD_PERMISSIONS (no lambda: see CoreBytecodeTest). */
  private static final class MakeThread implements PrivilegedAction<PoolThread> {
    private final ParallelPool pool;
    private final Runnable task;
    private final long id;
    private final boolean permit;
    private final boolean maySpin;

    MakeThread(ParallelPool pool, Runnable task, long id, boolean permit, boolean maySpin) {
      this.pool = pool;
      this.task = task;
      this.id = id;
      this.permit = permit;
      this.maySpin = maySpin;
    }

    @Override
    public PoolThread run() {
      return new PoolThread(pool, task, id, permit, maySpin);
    }
  }

  @SuppressWarnings("removal")
  private static final AccessControlContext THREAD_PERMISSIONS = threadPermissions();

  /**
   * Makes another library-owned, long-lived thread (Scope's deadline timer) in the same context
   * as the pool's threads, for the same reason: made in its first caller's context on JDK 17-23,
   * the timer kept that caller's protection domains, and an application's class loader, alive
   * while deadlines stayed pending (review 23b).
   *
   * @param make creates the thread
   * @return the thread {@code make} created
   */
  @SuppressWarnings("removal") // AccessController: see newThread
  static Thread newLibraryThread(PrivilegedAction<Thread> make) {
    return AccessController.doPrivileged(make, THREAD_PERMISSIONS);
  }

  @SuppressWarnings("removal")
  private static AccessControlContext threadPermissions() {
    Permissions p = new Permissions();
    p.add(new RuntimePermission("modifyThread"));
    p.add(new RuntimePermission("modifyThreadGroup"));
    p.add(new RuntimePermission("setContextClassLoader"));
    return new AccessControlContext(new ProtectionDomain[] {new ProtectionDomain(null, p)});
  }

  /**
   * Makes every idle thread exit now, as if its keep-alive had passed (for tests of private
   * pools; busy threads finish their task and stay).
   */
  void retireIdle() {
    IdleNode top;
    while ((top = (IdleNode) IDLE.getVolatile(this)) != null) {
      if (IDLE.compareAndSet(this, top, top.next)) {
        PoolThread t = top.thread;
        if (SLOT.compareAndSet(t, null, RETIRED)) { // the retiring CAS, on its behalf
          LockSupport.unpark(t);
        }
      }
    }
  }

  /**
   * Called by the top-level task running on a pool thread just before its call can return:
   * gives back the default permit and makes the thread idle (see notes, "Back early").
   *
   * @param task the task finishing; nothing happens unless it is this pool thread's current
   *     top-level task
   */
  static void returnEarly(Runnable task) {
    Thread me = Thread.currentThread();
    if (me instanceof PoolThread t) {
      if (t.current == task && !t.returnedEarly) {
        t.returnedEarly = true; // thread-confined
        t.pool.goIdle(t);
      }
    }
  }

  /** Threads alive in this pool, idle or busy (for tests and toString). */
  int liveThreads() {
    return (int) LIVE.getVolatile(this);
  }

  /** Threads in this pool's idle stack whose slot is free (for tests); may be stale. */
  int idleThreads() {
    int n = 0;
    for (IdleNode x = (IdleNode) IDLE.getVolatile(this); x != null; x = x.next) {
      if (SLOT.getVolatile(x.thread) == null) {
        n++;
      }
    }
    return n;
  }

  @Override
  public String toString() {
    return "Parallel pool[live=" + liveThreads() + ", core=" + core + "]";
  }

  /**
   * Thread {@code t} is done with its task: give back the task's permit, then free its slot
   * and push a fresh node (it may be handed a task from now on). Called by t itself.
   */
  private void goIdle(PoolThread t) {
    SLOT.setRelease(t, null); // free before it can be popped; the push CAS publishes it
    pushIdle(t);
    // The permit goes back only once the thread is on the idle stack (review 22: released
    // first, a caller that took it in between found the stack empty and started a thread
    // beyond the core size; 2-264 hand-overs of a core-1 pool). A caller that finds no
    // permit meanwhile goes on with fewer workers, as when the core threads are busy.
    if (t.holdsPermit) {
      t.holdsPermit = false; // thread-confined
      releasePermit();
    }
  }

  /** Pushes a fresh node for {@code t}: it is idle and may be handed a task from now on. */
  private void pushIdle(PoolThread t) {
    IdleNode node = new IdleNode(t);
    while (true) {
      IdleNode top = (IdleNode) IDLE.getVolatile(this);
      node.next = top; // plain: published by the CAS below
      if (IDLE.compareAndSet(this, top, node)) {
        return;
      }
    }
  }

  /** Best effort: take a retired thread's node off the stack if it is on top. */
  private void dropIfTop(PoolThread t) {
    IdleNode top = (IdleNode) IDLE.getVolatile(this);
    if (top != null && top.thread == t) {
      IDLE.compareAndSet(this, top, top.next);
    }
  }

  private static ThreadGroup rootGroup() {
    // Pool threads belong to no caller: the root group, not the group of the thread that
    // happened to start them (an application server's request group, say).
    ThreadGroup g = Thread.currentThread().getThreadGroup();
    try {
      for (ThreadGroup p = g.getParent(); p != null; p = p.getParent()) {
        g = p;
      }
    } catch (SecurityException e) {
      // A security manager forbids walking up: stay in the group we are allowed to see.
    }
    return g;
  }

  /** The type of the RETIRED sentinel; never run. */
  private static final class Retired implements Runnable {
    @Override
    public void run() {}
  }

  /** One entry of the idle stack; a fresh one per idle period. */
  private static final class IdleNode {
    final PoolThread thread;
    @Nullable IdleNode next;

    IdleNode(PoolThread thread) {
      this.thread = thread;
    }
  }

  /** A pool thread: runs the task it was started with, then whatever it is handed. */
  static final class PoolThread extends Thread {
    private final ParallelPool pool;
    private @Nullable Runnable first;
    /** The top-level task running now, or null; thread-confined (read by returnEarly). */
    @Nullable Runnable current;
    /** Whether the current task went back to the idle stack already; thread-confined. */
    boolean returnedEarly;
    /** Whether the current task holds a default permit; thread-confined. */
    boolean holdsPermit;
    /** Whether the task being handed over holds a permit: see popIdle. */
    boolean nextHoldsPermit;
    /**
     * Whether this thread may spin when its current task is done: false after a task of a call
     * that handed over more tasks than the core size (see notes, "Waking"); thread-confined.
     */
    boolean maySpin;
    /** Whether the thread may spin after the task being handed over: see popIdle. */
    boolean nextMaySpin;

    /** The task handed over, null while idle, or RETIRED; SLOT CAS and volatile reads. */
    @SuppressWarnings("unused") // accessed through the SLOT VarHandle
    private @Nullable Runnable slot;

    /** Whether this thread may be parked (see notes, "Waking"); PARKED volatile. */
    @SuppressWarnings("unused") // accessed through the PARKED VarHandle
    private boolean parked;

    // Sets the priority back to normal (a new thread inherits its creator's); weft does not
    // rely on priorities.
    @SuppressWarnings("ThreadPriorityCheck")
    PoolThread(ParallelPool pool, Runnable first, long id, boolean permit, boolean maySpin) {
      // No inheritable thread-locals of whichever caller started it (last argument false).
      super(pool.group, null, pool.prefix + id, 0, false);
      this.pool = pool;
      this.first = first;
      this.holdsPermit = permit;
      this.maySpin = maySpin;
      setDaemon(true); // never keeps the JVM alive
      setPriority(Thread.NORM_PRIORITY); // not the priority of the caller that started it
      // Not the context class loader of that caller either (it would pin an application's
      // loader, the leak library-owned threads cause in application servers): the system
      // class loader, as the common ForkJoinPool's threads have.
      setContextClassLoader(ClassLoader.getSystemClassLoader());
    }

    @Override
    public void run() {
      Runnable task = first;
      first = null;
      try {
        while (task != null) {
          Thread.interrupted(); // a stale interrupt must not reach the next task (notes)
          current = task;
          returnedEarly = false;
          try {
            task.run();
          } finally {
            current = null;
          }
          task = null; // an idle thread keeps nothing of the last call reachable (notes)
          task = awaitTask();
        }
      } finally {
        if (holdsPermit) {
          holdsPermit = false;
          pool.releasePermit();
        }
        pool.dropIfTop(this);
        LIVE.getAndAdd(pool, -1);
      }
    }

    /**
     * Spins for the pool's spin window if fewer than {@code core} threads spin already (see
     * notes, "Waking"); returns what arrived in the slot, or null.
     */
    private @Nullable Runnable spinForSlot() {
      ParallelPool p = pool;
      if (p.addSpinning(1) >= p.core) {
        p.addSpinning(-1);
        return null; // enough threads spin already: park at once
      }
      try {
        long start = System.nanoTime();
        int i = 0;
        do {
          // Acquire: pairs with the hand-over CAS, so the task's fields are visible.
          Runnable r = (Runnable) SLOT.getAcquire(this);
          if (r != null) {
            return r;
          }
          Thread.onSpinWait();
        } while ((++i & 63) != 0 || System.nanoTime() - start < p.spinNanos);
        return null;
      } finally {
        p.addSpinning(-1);
      }
    }

    /** Volatile: the hand-over's half of the Dekker pair with waitForSlot (see notes). */
    boolean parkedVolatile() {
      return (boolean) PARKED.getVolatile(this);
    }

    /** Goes idle and returns the next task, or null once retired. */
    private @Nullable Runnable awaitTask() {
      if (!returnedEarly) {
        pool.goIdle(this);
      }
      Runnable r = waitForSlot();
      if (r != null) {
        holdsPermit = nextHoldsPermit; // written before the slot CAS that published r
        maySpin = nextMaySpin; // likewise
      }
      return r;
    }

    private @Nullable Runnable waitForSlot() {
      if (pool.spinNanos > 0 && maySpin) { // maySpin: the finished task's call (notes)
        Runnable r = spinForSlot();
        if (r != null) {
          return r == RETIRED ? null : r;
        }
      }
      long deadline = System.nanoTime() + pool.keepAliveNanos;
      PARKED.setVolatile(this, true); // volatile: Dekker pair with tryExecute (notes)
      try {
        while (true) {
          Runnable r = (Runnable) SLOT.getVolatile(this);
          if (r == RETIRED) {
            return null; // retired by retireIdle
          }
          if (r != null) {
            return r;
          }
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            if (SLOT.compareAndSet(this, null, RETIRED)) { // volatile CAS: see notes
              return null;
            }
            continue; // a task arrived at the last moment: take it
          }
          LockSupport.parkNanos(pool, left);
          Thread.interrupted(); // an idle thread has nothing to interrupt: keep waiting
        }
      } finally {
        PARKED.setOpaque(this, false); // only saves a later hand-over an unpark; a hint
      }
    }
  }

  static {
    // Last of the static initializers: the shared pool (an object; its threads start on
    // demand) is made with this class, not on a first call near the end of some thread's
    // stack, where an overflow in the holder's initializer would break it for the rest of the
    // JVM (see StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(MethodHandles.lookup(), StackHeadroom.class, Shared.class);
    linkRareSteps();
  }

  /**
   * Runs, once, on a pool and a pool thread nobody else can see (the thread is made, never
   * started), the steps of the idle protocol, through the methods that hold their VarHandle
   * call sites, so that those are linked now: the first run of a call site links it, which
   * allocates, and in a full heap it throws. Session 33's audit of LinkageAfterInitTest's
   * baseline found, linked on first use: the idle thread's steps after its node was pushed
   * (the permit's return, the spin count, the slot's reads, the parked flag, the retiring CAS),
   * where a throw ended the thread with its node left in the idle stack and its slot free, so
   * that a later hand-over gave a task, and a default permit, to a dead thread (the permit lost
   * for the JVM's life); the clear of the parked flag after a task arrived, which dropped the
   * task and its permit; and the hand-over's look at the parked flag after the slot CAS, which
   * left the worker asleep with its task until its keep-alive ended. Thread creation needs
   * the pool's permissions under a security manager: where they are denied, no pool thread can
   * ever run these steps, and the warm-up is skipped.
   */
  private static void linkRareSteps() {
    // No keep-alive: the retiring wait below ends at once, without a park. Core 1: one spinner.
    ParallelPool p = new ParallelPool("weft-parallel-warm-up-", 1, 0L, 1L);
    PoolThread t;
    try {
      t = p.newThread(RETIRED, 0L, false, false); // never started
    } catch (SecurityException e) {
      return; // no pool thread can be made in this JVM: see above
    }
    p.goIdle(t); // release store of the slot, the push (volatile read, CAS); no permit held
    p.popIdle(RETIRED, false, false); // the pop (volatile read, CAS), the slot's volatile CAS
    t.parkedVolatile(); // volatile: tryExecute's look after the hand-over
    t.spinForSlot(); // the spin count's adds; the slot's acquire read finds RETIRED at once
    // maySpin false: the volatile store of parked, the slot's volatile read (RETIRED: back at
    // once, no park), the opaque clear of parked.
    t.waitForSlot();
    p.goIdle(t); // the slot free again, t on top of the idle stack
    t.waitForSlot(); // slot free, keep-alive over at once: the retiring volatile CAS, no park
    p.dropIfTop(t); // volatile read and CAS: an exiting thread takes its node off the top
    p.releasePermit(); // atomic add: the permit's return (this pool's count only)
  }
}
