package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
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
   * Retiring. A parked thread waits at most KEEP_ALIVE_NANOS in all; then it CASes its slot to
   * RETIRED and exits. Its node may stay in the stack until a later pop drops it: at most one
   * node per thread that ever lived, and a pop that needs threads drops every dead node above
   * the live ones it takes.
   *
   * Size. `live` counts threads started and not yet exited (atomic add). A call with the
   * default thread count may only use up to `core` threads (available processors - 1: the
   * caller is the other one), so concurrent calls share the machine instead of each adding a
   * full set of threads; a call that asked for more threads explicitly (threads(n)) may start
   * more. Threads started for such a call stay in the pool like the others and retire when
   * unused.
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
      TimeUnit.SECONDS.toNanos(Math.max(1L, Long.getLong("dev.weft.parallel.keepAliveSeconds", 30L)));

  /**
   * How long a thread that finished a task spins (onSpinWait) before it parks: 50 us, so that
   * back-to-back calls find it running and need no unpark (a wake-up takes 20-60 us on the
   * machines measured); see docs/parallel.md for what it buys and costs. Set {@code
   * -Ddev.weft.parallel.spinMicros} to change it (0 parks at once).
   */
  static final long SPIN_NANOS =
      TimeUnit.MICROSECONDS.toNanos(Math.max(0L, Long.getLong("dev.weft.parallel.spinMicros", 50L)));

  /** Slot value of a thread that has decided to exit. */
  private static final Runnable RETIRED = new Retired();

  private static final VarHandle IDLE;
  private static final VarHandle LIVE;
  private static final VarHandle SEQ;
  private static final VarHandle SLOT;
  private static final VarHandle PARKED;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      IDLE = l.findVarHandle(ParallelPool.class, "idle", IdleNode.class);
      LIVE = l.findVarHandle(ParallelPool.class, "live", int.class);
      SEQ = l.findVarHandle(ParallelPool.class, "seq", long.class);
      SLOT = l.findVarHandle(PoolThread.class, "slot", Runnable.class);
      PARKED = l.findVarHandle(PoolThread.class, "parked", boolean.class);
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
   * Hands {@code task} to an idle pool thread, or to a new one if the size allows.
   *
   * @param task the worker to run
   * @param beyondCore whether the call asked for its thread count explicitly and may start
   *     threads beyond the pool's core size
   * @return false if no thread could take it (the call goes on with fewer workers)
   */
  boolean tryExecute(Runnable task, boolean beyondCore) {
    while (true) {
      IdleNode top = (IdleNode) IDLE.getVolatile(this);
      if (top == null) {
        break;
      }
      if (IDLE.compareAndSet(this, top, top.next)) { // volatile CAS: one popper per node
        PoolThread t = top.thread;
        // Volatile CAS: publishes the task (and what the caller did before) to t; fails only
        // if t retired (RETIRED), and then the node is simply dropped.
        if (SLOT.compareAndSet(t, null, task)) {
          if ((boolean) PARKED.getVolatile(t)) { // volatile: Dekker pair with awaitTask
            LockSupport.unpark(t);
          }
          return true;
        }
      }
    }
    while (true) {
      int n = (int) LIVE.getVolatile(this);
      if (!beyondCore && n >= core) {
        return false;
      }
      if (LIVE.compareAndSet(this, n, n + 1)) { // atomic: never more than core by default
        break;
      }
    }
    PoolThread t;
    try {
      long id = (long) SEQ.getAndAdd(this, 1L) + 1; // atomic: names are unique
      t = new PoolThread(this, task, id);
      t.start();
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

    /** The task handed over, null while idle, or RETIRED; SLOT CAS and volatile reads. */
    @SuppressWarnings("unused") // accessed through the SLOT VarHandle
    private @Nullable Runnable slot;

    /** Whether this thread may be parked (see notes, "Waking"); PARKED volatile. */
    @SuppressWarnings("unused") // accessed through the PARKED VarHandle
    private boolean parked;

    // Sets the priority back to normal (a new thread inherits its creator's); weft does not
    // rely on priorities.
    @SuppressWarnings("ThreadPriorityCheck")
    PoolThread(ParallelPool pool, Runnable first, long id) {
      // No inheritable thread-locals of whichever caller started it (last argument false).
      super(pool.group, null, pool.prefix + id, 0, false);
      this.pool = pool;
      this.first = first;
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
          task.run();
          task = awaitTask();
        }
      } finally {
        pool.dropIfTop(this);
        LIVE.getAndAdd(pool, -1);
      }
    }

    /** Goes idle and returns the next task, or null once retired. */
    private @Nullable Runnable awaitTask() {
      SLOT.setRelease(this, null); // free before it can be popped; the push CAS publishes it
      pool.pushIdle(this);
      long spin = pool.spinNanos;
      if (spin > 0) {
        long start = System.nanoTime();
        int i = 0;
        do {
          // Acquire: pairs with the hand-over CAS, so the task's fields are visible.
          Runnable r = (Runnable) SLOT.getAcquire(this);
          if (r != null) {
            return r == RETIRED ? null : r;
          }
          Thread.onSpinWait();
        } while ((++i & 63) != 0 || System.nanoTime() - start < spin);
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
}
