package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The shared engine of {@link Lazy} and {@link OnceCell}: a write-once value slot whose
 * published state is the value field itself, a claim word that lets one thread at a time run an
 * initialiser, and a stack of parked waiters.
 *
 * <p>Package-private on purpose: the public types expose only their own methods, and both keep
 * the one-load fast path by reading {@link #valueAcquire()} directly (no extra indirection).
 *
 * @param <T> the type of the value
 */
abstract class OnceCellCore<T extends @Nullable Object> {
  /*
   * Algorithm notes
   * ---------------
   * Fields:
   *   value   - null: not set yet. NIL: set to null. FAILED: initialisation failed under
   *             FailurePolicy.REMEMBER (terminal). Anything else: the value. Every terminal
   *             transition is one CAS from null (trySet, a successful initialiser, a remembered
   *             failure), so "set", "failed" and "which value" are decided by a single field and
   *             the cell is linearizable on it. null as "unset" means the field needs no write
   *             in the constructor: the default value is already the right state.
   *   state   - null: nobody is initialising. A Thread: that thread claimed the right to run an
   *             initialiser (CAS null -> thread) and has not finished. Knowing the owner lets a
   *             recursive call from the same thread fail fast instead of deadlocking.
   *   waiters - a Treiber stack of Waiter nodes of parked threads.
   *   failure - the remembered throwable; written before the CAS that publishes FAILED and read
   *             only after reading FAILED, so the CAS (release) / getAcquire pair orders it.
   *
   * Fast path (get, getOrInit, isSet): one getAcquire of value and compares against null and the
   * two sentinels. Acquire pairs with the release of the CAS that published the value, so every
   * write the initialiser (or the caller of set) made before publishing is visible: the object
   * is never seen half-built, even if it has non-final fields.
   *
   * Initialisation: a caller that finds value null and state null CASes state null -> itself.
   * After the claim it re-reads value, since an earlier owner may have finished between this
   * thread's read of value and its claim (the claim CAS reads the earlier owner's volatile
   * release of state, so that owner's value CAS is visible). It then runs the supplier and
   * publishes with compareAndExchange(value, null, result): if trySet won meanwhile, the winner's
   * value is returned and the supplier's result is dropped (every caller sees one instance). On
   * failure it either leaves value null (RETRY) or CASes FAILED (REMEMBER); if that CAS finds a
   * value set by trySet meanwhile, the set linearizes first and the caller gets that value
   * (only an Error still propagates), exactly as if its initialiser had never run. Either way it then
   * finishes: setVolatile(state, null) and releases every waiter. Under RETRY a released waiter
   * claims the state and runs its supplier: waiters are never stranded by a failing initialiser.
   *
   * Waiting (the classic Dekker pattern, hence volatile accesses on both sides):
   *   waiter:   push node (CAS waiters)  ->  getVolatile(value), getVolatile(state)  -> park
   *   releaser: CAS value / setVolatile(state)  ->  getVolatile/getAndSet(waiters) -> unpark
   * All four are volatile, hence totally ordered: either the waiter's re-check sees the release,
   * or the releaser's read of waiters sees the node and unparks its thread. Acquire/release
   * alone would allow both sides to miss each other (store-load reordering), so these slow-path
   * accesses are volatile while the fast path stays a plain getAcquire.
   *
   * Releasing takes the whole stack with getAndSet(null) and, for each node whose thread is
   * still set, clears the thread (setRelease) and unparks it. A woken waiter re-checks value and
   * state; if its node's thread is null (getAcquire) the node is gone from the stack and it
   * pushes a fresh one before it parks again, otherwise the wakeup was spurious and the node is
   * still queued (or in a popped list about to be unparked). Node links are written only before
   * the pushing CAS and never change afterwards, so the CAS chain on waiters publishes them.
   *
   * Leaving early (timeout, interrupt, or returning after a push): the waiter clears its node's
   * thread and pops cancelled nodes off the top of the stack. A cancelled node can stay buried
   * under a live waiter's node until the next release; since every thread has at most one live
   * node, that garbage is bounded by the number of concurrently waiting threads, and all of it
   * goes at the next release. Nodes are never reused, so CAS on waiters has no ABA problem.
   *
   * Spinning: a waiter spins briefly (Thread.onSpinWait), yields once, then parks, so quick
   * initialisers are waited for cheaply and slow ones do not burn a core. Parking uses
   * LockSupport, never a monitor, so virtual threads do not pin.
   */

  /** Stored in {@code value} when the value is {@code null}. */
  static final Object NIL = new Marker("null");

  /** Stored in {@code value} after a failure under {@link Lazy.FailurePolicy#REMEMBER}. */
  static final Object FAILED = new Marker("failed");

  private static final int SPIN_LIMIT = 64;

  private static final VarHandle VALUE;
  private static final VarHandle STATE;
  private static final VarHandle WAITERS;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      VALUE = l.findVarHandle(OnceCellCore.class, "value", Object.class);
      STATE = l.findVarHandle(OnceCellCore.class, "state", Object.class);
      WAITERS = l.findVarHandle(OnceCellCore.class, "waiters", Waiter.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  @SuppressWarnings("UnusedVariable") // accessed through VALUE
  private @Nullable Object value;

  @SuppressWarnings("UnusedVariable") // accessed through STATE
  private @Nullable Object state;

  @SuppressWarnings("UnusedVariable") // accessed through WAITERS
  private @Nullable Waiter waiters;

  // Plain: written before the CAS that publishes FAILED, read after reading FAILED.
  private @Nullable Throwable failure;

  private final boolean rememberFailures;

  OnceCellCore(Lazy.FailurePolicy policy) {
    this.rememberFailures = Objects.requireNonNull(policy, "policy") == Lazy.FailurePolicy.REMEMBER;
  }

  // ---------------------------------------------------------------- hooks for the subclasses

  /**
   * The supplier to run when {@link #initSlow} was given none (Lazy's own supplier).
   *
   * @return the supplier; only called by the thread that owns the claim
   */
  abstract Supplier<? extends T> ownSupplier();

  /** Called by the claim owner once the supplier is no longer needed (value set or failed). */
  abstract void releaseSupplier();

  /**
   * A short name for messages.
   *
   * @return "Lazy" or "OnceCell"
   */
  abstract String kind();

  // ---------------------------------------------------------------- field accessors

  /** Acquire: pairs with the releasing CAS that published the value (see notes). */
  final @Nullable Object valueAcquire() {
    return VALUE.getAcquire(this);
  }

  /** Volatile: the re-check half of the Dekker pattern with the releaser. */
  private @Nullable Object valueVolatile() {
    return VALUE.getVolatile(this);
  }

  /** Volatile CAS: releases the value and is ordered before the releaser's read of waiters. */
  private boolean casValue(@Nullable Object expected, Object newValue) {
    return VALUE.compareAndSet(this, expected, newValue);
  }

  /** Like {@link #casValue} but returns the witness, to learn which value won. */
  private @Nullable Object compareAndExchangeValue(@Nullable Object expected, Object newValue) {
    return VALUE.compareAndExchange(this, expected, newValue);
  }

  /** Acquire: toString only needs a recent state, and sees the owner's writes before it. */
  private @Nullable Object stateAcquire() {
    return STATE.getAcquire(this);
  }

  /** Volatile: the re-check half of the Dekker pattern (see notes). */
  private @Nullable Object stateVolatile() {
    return STATE.getVolatile(this);
  }

  /** Volatile CAS: acquires the previous owner's release, so its value CAS is visible. */
  private boolean casState(Thread owner) {
    return STATE.compareAndSet(this, null, owner);
  }

  /** Volatile: must be ordered before the following read of waiters (store-load). */
  private void setStateVolatile(@Nullable Object newState) {
    STATE.setVolatile(this, newState);
  }

  /** Acquire: makes the node's links (written before its pushing CAS) visible. */
  private @Nullable Waiter waitersAcquire() {
    return (Waiter) WAITERS.getAcquire(this);
  }

  /** Volatile: the releaser's half of the Dekker pattern (store-load after the release). */
  private @Nullable Waiter waitersVolatile() {
    return (Waiter) WAITERS.getVolatile(this);
  }

  /** Volatile CAS: publishes the node's links; volatile for the Dekker pattern. */
  private boolean casWaiters(@Nullable Waiter expected, @Nullable Waiter newHead) {
    return WAITERS.compareAndSet(this, expected, newHead);
  }

  /** Volatile getAndSet: takes the whole stack, acquiring every pushed node's links. */
  private @Nullable Waiter getAndSetWaitersNull() {
    return (Waiter) WAITERS.getAndSet(this, (Waiter) null);
  }

  // ---------------------------------------------------------------- encoding

  /**
   * Encodes a value for the value field.
   *
   * @param v the value
   * @return {@link #NIL} for null, otherwise {@code v}
   */
  static Object encode(@Nullable Object v) {
    return v == null ? NIL : v;
  }

  /**
   * Decodes a non-null field value; throws for {@link #FAILED}.
   *
   * @param v the encoded value, not null
   * @return the value
   */
  @SuppressWarnings({"unchecked", "NullAway"}) // v came from encode(T); NIL stands for a null T
  final T decode(Object v) {
    if (v == NIL) {
      return (T) null;
    }
    if (v == FAILED) {
      throw failedException();
    }
    return (T) v;
  }

  final TaskFailedException failedException() {
    Throwable cause = Objects.requireNonNull(failure, "failure");
    return new TaskFailedException(
        kind()
            + " initialisation failed earlier and this "
            + kind()
            + " remembers failures (FailurePolicy.REMEMBER), so it will not run the supplier"
            + " again; the cause is the original failure. Create a new "
            + kind()
            + " to retry.",
        cause);
  }

  /**
   * The failure remembered under REMEMBER, if the cell failed.
   *
   * @return the original failure or null
   */
  final @Nullable Throwable failureIfFailed() {
    return valueAcquire() == FAILED ? failure : null;
  }

  final IllegalStateException recursion(String method) {
    return new IllegalStateException(
        "recursive initialisation: the initialiser of this "
            + kind()
            + " called "
            + method
            + " on the same "
            + kind()
            + " from the same thread, which would wait for itself forever; compute the value"
            + " without reading it from inside its own initialiser");
  }

  // ---------------------------------------------------------------- write paths

  /**
   * Sets the value if it is not set and the cell has not failed.
   *
   * @param v the value, may be null
   * @return true if this call set it
   */
  final boolean trySetValue(@Nullable Object v) {
    if (casValue(null, encode(v))) {
      releaseWaiters();
      return true;
    }
    return false;
  }

  /**
   * The slow path of get/getOrInit: waits for a running initialiser or claims and runs one.
   *
   * @param given the supplier passed by the caller, or null to use {@link #ownSupplier()}
   * @return the value
   */
  final T initSlow(@Nullable Supplier<? extends T> given) {
    Object v = waitOrClaim(given == null ? "get()" : "getOrInit()");
    if (v != null) {
      return decode(v);
    }
    return runClaimed(given);
  }

  /** Returns the encoded value once set, or null after this thread claimed the state. */
  // ThreadPriorityCheck flags Thread.yield(); the library rule is spin, then yield once, then
  // park, so a quick initialiser on an oversubscribed machine gets the CPU before we park.
  @SuppressWarnings("ThreadPriorityCheck")
  private @Nullable Object waitOrClaim(String method) {
    Thread me = Thread.currentThread();
    Waiter node = null;
    boolean interrupted = false;
    int spins = 0;
    try {
      for (; ; ) {
        Object v = valueVolatile();
        if (v != null) {
          return v;
        }
        Object st = stateVolatile();
        if (st == null) {
          if (casState(me)) {
            return null;
          }
          continue;
        }
        if (st == me) {
          throw recursion(method);
        }
        if (spins < SPIN_LIMIT) {
          spins++;
          Thread.onSpinWait();
        } else if (spins == SPIN_LIMIT) {
          spins++;
          Thread.yield();
        } else if (node == null || node.threadAcquire() == null) {
          node = push(me); // re-check before parking: loop again
        } else {
          LockSupport.park(this);
          if (Thread.interrupted()) {
            interrupted = true; // get/getOrInit do not throw it: restored below
          }
        }
      }
    } finally {
      if (node != null) {
        cancel(node);
      }
      if (interrupted) {
        me.interrupt();
      }
    }
  }

  /** Runs the supplier while owning the claim; always finishes (releases claim and waiters). */
  private T runClaimed(@Nullable Supplier<? extends T> given) {
    Object v = valueVolatile();
    if (v != null) { // an earlier owner finished between our read of value and our claim
      finish();
      return decode(v);
    }
    T result;
    try {
      Supplier<? extends T> s = given != null ? given : ownSupplier();
      result = s.get();
    } catch (Throwable t) {
      Object won; // a value set by trySet/set while the initialiser ran, if any
      if (rememberFailures) {
        failure = t;
        if (casValue(null, FAILED)) {
          releaseSupplier();
          won = null;
        } else {
          failure = null; // trySet won meanwhile: the cell is set, not failed
          won = valueVolatile();
        }
      } else {
        won = valueVolatile();
      }
      finish();
      if (won != null && !(t instanceof Error)) {
        // Linearizable outcome: the set that won comes first, and a getOrInit on a set cell
        // returns its value without running an initialiser. Errors still propagate.
        return decode(won);
      }
      throw t;
    }
    Object witness = compareAndExchangeValue(null, encode(result));
    if (witness == null) {
      releaseSupplier(); // plain write: only a later claim owner could read it, after finish()
    }
    finish();
    return witness == null ? result : decode(witness);
  }

  private void finish() {
    setStateVolatile(null);
    releaseWaiters();
  }

  // ---------------------------------------------------------------- waiting

  /**
   * Waits until the value is set or has failed.
   *
   * @param interruptible whether an interrupt throws (otherwise it is restored on return)
   * @param nanos the timeout, or a negative value for none; 0 checks once
   * @return the encoded value, or null on timeout
   * @throws InterruptedException if interruptible and interrupted while waiting
   */
  final @Nullable Object awaitSlow(boolean interruptible, long nanos) throws InterruptedException {
    Thread me = Thread.currentThread();
    boolean timed = nanos >= 0;
    long deadline = timed ? System.nanoTime() + nanos : 0L;
    Waiter node = null;
    boolean interrupted = false;
    int spins = 0;
    try {
      for (; ; ) {
        Object v = valueVolatile();
        if (v != null) {
          return v;
        }
        if (stateVolatile() == me) {
          throw recursion("await()");
        }
        if (interruptible && Thread.interrupted()) {
          throw new InterruptedException("interrupted while waiting for the " + kind());
        }
        long remaining = timed ? deadline - System.nanoTime() : 1L;
        if (remaining <= 0L) {
          return null;
        }
        if (spins < SPIN_LIMIT) {
          spins++;
          Thread.onSpinWait();
        } else if (node == null || node.threadAcquire() == null) {
          node = push(me); // re-check before parking: loop again
        } else {
          if (timed) {
            LockSupport.parkNanos(this, remaining);
          } else {
            LockSupport.park(this);
          }
          if (!interruptible && Thread.interrupted()) {
            interrupted = true;
          }
        }
      }
    } finally {
      if (node != null) {
        cancel(node);
      }
      if (interrupted) {
        me.interrupt();
      }
    }
  }

  private Waiter push(Thread me) {
    Waiter node = new Waiter(me);
    for (; ; ) {
      Waiter h = waitersAcquire();
      if (h != null && h.threadAcquire() == null) {
        casWaiters(h, h.next); // pop a cancelled node off the top; failure just means retry
        continue;
      }
      node.next = h; // plain: published by the CAS below
      if (casWaiters(h, node)) {
        return node;
      }
    }
  }

  private void cancel(Waiter node) {
    if (node.threadAcquire() == null) {
      return; // already released by a releaser (and no longer in the stack)
    }
    node.setThreadRelease(null);
    for (Waiter h; (h = waitersAcquire()) != null && h.threadAcquire() == null; ) {
      casWaiters(h, h.next);
    }
  }

  private void releaseWaiters() {
    if (waitersVolatile() == null) {
      return; // volatile read after our volatile release: a later push will see the release
    }
    for (Waiter q = getAndSetWaitersNull(); q != null; ) {
      Waiter next = q.next;
      Thread t = q.threadAcquire();
      if (t != null) {
        q.setThreadRelease(null);
        LockSupport.unpark(t);
      }
      q = next;
    }
  }

  // ---------------------------------------------------------------- toString support

  /**
   * Describes the state without blocking or initialising.
   *
   * @return e.g. {@code Lazy[uninitialised]}, {@code Lazy[42]}, {@code Lazy[failed: ...]}
   */
  final String describe(String unsetWord) {
    Object v = valueAcquire();
    String body;
    if (v == null) {
      body = stateAcquire() != null ? "initialising" : unsetWord;
    } else if (v == FAILED) {
      body = "failed: " + failure;
    } else if (v == NIL) {
      body = "null";
    } else {
      body = String.valueOf(v);
    }
    return kind() + "[" + body + "]";
  }

  /** A parked thread's node in the waiter stack. */
  private static final class Waiter {
    private static final VarHandle THREAD;

    static {
      try {
        THREAD = MethodHandles.lookup().findVarHandle(Waiter.class, "thread", Thread.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    @SuppressWarnings("UnusedVariable") // accessed through THREAD
    private @Nullable Thread thread;

    // Plain: written before the CAS that pushes this node, never changed afterwards.
    @Nullable Waiter next;

    Waiter(Thread thread) {
      this.thread = thread;
    }

    /** Acquire: pairs with the release that cleared it, so a cleared node is seen as gone. */
    @Nullable Thread threadAcquire() {
      return (Thread) THREAD.getAcquire(this);
    }

    /** Release: clearing happens before the unpark that follows it. */
    void setThreadRelease(@Nullable Thread t) {
      THREAD.setRelease(this, t);
    }
  }

  /** A named sentinel, so debugging output says what it is. */
  private static final class Marker {
    private final String name;

    Marker(String name) {
      this.name = name;
    }

    @Override
    public String toString() {
      return "<" + name + ">";
    }
  }
}
