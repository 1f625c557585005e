package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The shared engine of {@link Lazy} and {@link OnceCell}: a write-once cell whose outcome is
 * decided by one CAS on a state word, a value field that caches a non-null outcome for the
 * one-load fast path, and a stack of parked waiters.
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
   *   state   - the single source of truth. null: unset, nobody initialising. A Thread: that
   *             thread claimed the right to run an initialiser and has not finished (knowing the
   *             owner lets a recursive call from the same thread fail fast instead of
   *             deadlocking). A Done: terminal, holding the value (possibly null) or, under
   *             FailurePolicy.REMEMBER, the failure. Done is permanent: every terminal
   *             transition (trySet, a successful initialiser, a remembered failure) is one CAS
   *             of state to a Done, so "set", "failed" and "which value" are decided by a single
   *             field and the cell is linearizable on it.
   *   value   - a cache of a non-null outcome for the fast path. Written once, with setRelease,
   *             by the thread whose CAS installed the Done, after that CAS. Stays null for a
   *             null value and for a failure (those are read from the Done).
   *   waiters - a Treiber stack of Waiter nodes of parked threads.
   *
   * Fast path (Lazy.get, OnceCell.getOrInit, ...): one getAcquire of value and a null check.
   * The acquire pairs with the winner's setRelease, which follows everything the initialiser
   * (or the caller of trySet) did to build the object, so the object is never seen half-built,
   * even with non-final fields. Until the cache is written (and always for null or a failure)
   * readers take the slow path and read state with getVolatile, which acquires the releasing
   * CAS that installed the Done; Done's fields are final and written before that CAS.
   *
   * Initialisation: a caller that finds state null CASes it null -> itself (the claim; the CAS
   * acquires the previous owner's release, hence its writes, e.g. to Lazy's supplier). A claim
   * can only succeed while unset, because Done is permanent: no re-check is needed. The owner
   * runs the supplier and CASes state owner -> Done(result). That CAS fails only if trySet
   * installed a Done meanwhile (only trySet moves state away from a running owner): then the
   * winner's value is returned and the supplier's result dropped (every caller sees one
   * instance). On failure the owner CASes owner -> null (RETRY) or owner -> Done(failure)
   * (REMEMBER); if that CAS finds a trySet's Done, the set linearizes first and the caller gets
   * its value (only an Error still propagates), exactly as if its initialiser had never run.
   * Every outcome then releases all waiters; under RETRY a released getOrInit/get waiter claims
   * the state and runs its supplier, so waiters are never stranded by a failing initialiser.
   *
   * Waiting (the classic Dekker pattern, hence volatile accesses on both sides):
   *   waiter:   push node (CAS waiters)  ->  getVolatile(state)  -> park
   *   releaser: CAS state                ->  getVolatile/getAndSet(waiters) -> unpark
   * All are volatile, hence totally ordered: either the waiter's re-check sees the new state, or
   * the releaser's read of waiters sees the node and unparks its thread. Acquire/release alone
   * would allow both sides to miss each other (store-load reordering).
   *
   * Releasing takes the whole stack with getAndSet(null) and, for each node whose thread is
   * still set, clears the thread (setRelease) and unparks it. A woken waiter re-checks state;
   * if its node's thread is null (getAcquire) the node is gone from the stack and it pushes a
   * fresh one before it parks again, otherwise the wakeup was spurious and the node is still
   * queued (or in a popped list about to be unparked). A node's link is written before the
   * pushing CAS, which publishes it; afterwards it changes only when a canceller unlinks the
   * cancelled node below it (release store, read with acquire), so the chain below a node only
   * ever gets shorter and only by cancelled nodes.
   *
   * Leaving early (timeout, interrupt, or returning after a push): the waiter clears its node's
   * thread and pops cancelled nodes off the top of the stack; if a live node is then on top, it
   * sweeps the stack and unlinks every cancelled node below (as FutureTask's removeWaiter
   * does). Without the sweep a cancelled node stayed buried under a live one until the next
   * release, and timed waiters that keep re-pushing (two threads looping await(200 us) on a cell
   * never set) buried one node per timeout: 2,338-5,976 nodes in 2 s (session 17 review,
   * Review17cTest). Now the stack holds at most the live nodes plus the cancelled nodes whose
   * cancellers are still sweeping. A sweep unlinks a node only if its thread is null (cancelled,
   * or already released and so in a chain a releaser took), and the chain below a node never
   * gains a node, so no live node is skipped: concurrent sweeps can at worst re-link a cancelled
   * node, which a later sweep removes. It costs O(stack) per cancellation that finds a live node
   * on top. Nodes are never reused, so CAS on waiters has no ABA problem.
   *
   * Spinning: a waiter spins briefly (Thread.onSpinWait), yields once (platform threads only:
   * see SpinBackoff.yieldUnlessVirtual), then parks, so quick
   * initialisers are waited for cheaply and slow ones do not burn a core. Parking uses
   * LockSupport, never a monitor, so virtual threads do not pin.
   */

  private static final int SPIN_LIMIT = 64;

  /**
   * A virtual thread's spins before it parks. Nothing preempts a virtual thread: one whose short
   * timeout ran out inside 64 spins never unmounted, and callers retrying await(2 us) in a loop
   * kept the carriers from the setter, woken by a timer (session 12 re-review: 0 of 200 rounds
   * in 5 s, CountDownLatch.await(2 us): 12-53 ms).
   */
  private static final int VIRTUAL_SPIN_LIMIT = 4;

  private static int spinLimit(Thread t) {
    return SpinBackoff.isVirtual(t) ? VIRTUAL_SPIN_LIMIT : SPIN_LIMIT;
  }

  private static final VarHandle VALUE;
  private static final VarHandle STATE;
  private static final VarHandle WAITERS;

  static {
    // JFR: if a recording is running, weft's event classes load now, not inside a first wait.
    WeftJfr.prepareIfRecording();
  }

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      VALUE = l.findVarHandle(OnceCellCore.class, "value", Object.class);
      STATE = l.findVarHandle(OnceCellCore.class, "state", Object.class);
      WAITERS = l.findVarHandle(OnceCellCore.class, "waiters", Waiter.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
    linkWaitSteps();
  }

  /**
   * Runs, once, on a cell nobody else can see, the steps of a wait that follow its push (the
   * push itself, the cancel that takes the node back, the unlink of a buried node, the release
   * of waiters), so that their VarHandle call sites are linked now, on a shallow stack: the
   * first run of a call site links it, which needs far more stack than any probe covers (as in
   * SpinLock.linkRareSteps). Review 22 found waits near the stack's end that left their nodes
   * in the stack on JDK 17; the probe before the push (QUEUE_FRAMES) is the other half of the
   * fix.
   */
  private static void linkWaitSteps() {
    OnceCellCore<Object> c = new OnceCellCore<>(Lazy.FailurePolicy.RETRY) {
      @Override
      Supplier<? extends Object> ownSupplier() {
        throw new AssertionError("never initialised");
      }

      @Override
      void releaseSupplier() {}

      @Override
      String kind() {
        return "cell";
      }
    };
    Thread me = Thread.currentThread();
    Waiter below = c.push(me);
    Waiter top = c.push(me);
    c.cancel(below); // buried under a live node: unlinkCancelled
    c.cancel(top); // on top: popped
    // A node left in the stack with its thread cleared, as a cancel leaves a buried one: the
    // release walks it without an unpark, so no permit is given to this thread (a permit here
    // would let a later park of the initialising thread return early, and taking it back with
    // a park could eat one that somebody else gave it).
    c.push(me).setThreadRelease(null);
    c.releaseWaiters();
    // The value cache's release store (session 33's audit of LinkageAfterInitTest's baseline):
    // trySetValue runs it after its CAS installed the outcome and before it wakes the waiters,
    // with no finally around it (runClaimed has one), so a first link that threw there left
    // every parked waiter asleep on a set cell: the overtaken owner does not wake them either.
    // The other first runs of the cell's accessors (the claim's and the set's CAS, the state's
    // and the cache's reads) come before anything changes.
    c.setValueRelease(me); // release; nobody reads this cell
  }

  @SuppressWarnings("UnusedVariable") // accessed through VALUE
  private @Nullable Object value;

  @SuppressWarnings("UnusedVariable") // accessed through STATE
  private @Nullable Object state;

  @SuppressWarnings("UnusedVariable") // accessed through WAITERS
  private @Nullable Waiter waiters;

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

  /** Acquire: pairs with the winner's setRelease of the cache (see notes). */
  final @Nullable Object valueAcquire() {
    return VALUE.getAcquire(this);
  }

  /** Release: written after the winning CAS; publishes the value to fast-path readers. */
  private void setValueRelease(Object v) {
    VALUE.setRelease(this, v);
  }

  /** Acquire: for non-waiting reads; acquires the releasing CAS that installed a Done. */
  private @Nullable Object stateAcquire() {
    return STATE.getAcquire(this);
  }

  /** Volatile: the re-check half of the Dekker pattern with a releaser (see notes). */
  private @Nullable Object stateVolatile() {
    return STATE.getVolatile(this);
  }

  /** Volatile CAS: releases the new state and is ordered before the read of waiters. */
  private boolean casState(@Nullable Object expected, @Nullable Object newState) {
    return STATE.compareAndSet(this, expected, newState);
  }

  /** Acquire: makes the node's links (written before its pushing CAS) visible. */
  private @Nullable Waiter waitersAcquire() {
    return (Waiter) WAITERS.getAcquire(this);
  }

  /** Volatile: the releaser's half of the Dekker pattern (store-load after the state CAS). */
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

  // ---------------------------------------------------------------- reading outcomes

  /**
   * The terminal outcome, if any, without waiting.
   *
   * @return the Done, or null while unset
   */
  final @Nullable Done doneAcquire() {
    return stateAcquire() instanceof Done d ? d : null;
  }

  /**
   * Returns the value of a Done, or throws its remembered failure.
   *
   * @param d the outcome
   * @return the value
   */
  @SuppressWarnings({"unchecked", "NullAway"}) // d.value came from a T (null if T admits null)
  final T decode(Done d) {
    Throwable failure = d.failure;
    if (failure != null) {
      throw failedException(failure);
    }
    return (T) d.value;
  }

  final TaskFailedException failedException(Throwable cause) {
    return new TaskFailedException(
        kind()
            + " initialisation failed earlier and this "
            + kind()
            + " remembers failures (FailurePolicy.REMEMBER), so it will not run an initialiser"
            + " again; the cause is the original failure. Create a new "
            + kind()
            + " to retry.",
        cause);
  }

  /**
   * Whether a value (possibly null) is stored; never waits.
   *
   * @return true if set
   */
  final boolean isSetNow() {
    if (valueAcquire() != null) {
      return true;
    }
    Done d = doneAcquire();
    return d != null && d.failure == null;
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
   * Sets the value if the cell is unset (even while an initialiser runs). Never waits.
   *
   * @param v the value, may be null
   * @return true if this call set it
   */
  final boolean trySetValue(@Nullable Object v) {
    Done mine = null;
    for (; ; ) {
      Object st = stateVolatile();
      if (st instanceof Done) {
        return false;
      }
      if (mine == null) {
        mine = new Done(v, null);
        // Before the CAS, while nothing has changed: the CAS below is final, and the waiters
        // it must wake are woken after it. An overflow there left every parked waiter, platform
        // or virtual, asleep for good, and a retry returned false (session 26's review: 2 of 2
        // runs; there was no probe). As deep as a virtual waiter's wake-up needs, once per
        // call: a set happens once per cell.
        StackHeadroom.ensure(StackHeadroom.wakeFramesOfAnyThread());
      }
      if (casState(st, mine)) { // st is null or a running owner: both may be overtaken
        if (v != null) {
          setValueRelease(v);
        }
        releaseWaiters();
        return true;
      }
    }
  }

  /**
   * The slow path of get/getOrInit: waits for a running initialiser or claims and runs one.
   *
   * @param given the supplier passed by the caller, or null to use {@link #ownSupplier()}
   * @return the value
   */
  final T initSlow(@Nullable Supplier<? extends T> given) {
    Done d = waitOrClaim(given == null ? "get()" : "getOrInit()");
    if (d != null) {
      return decode(d);
    }
    return runClaimed(given);
  }

  /** Returns the outcome once there is one, or null after this thread claimed the state. */
  // The library rule is spin, then yield once (platform threads only), then park, so a quick
  // initialiser on an oversubscribed machine gets the CPU before we park.
  private @Nullable Done waitOrClaim(String method) {
    Thread me = Thread.currentThread();
    final int spinLimit = spinLimit(me);
    Waiter node = null;
    boolean interrupted = false;
    int spins = 0;
    try {
      for (; ; ) {
        Object st = stateVolatile();
        if (st instanceof Done d) {
          return d;
        }
        if (st == null) {
          // A StackOverflowError strikes here, before the claim, rather than in runClaimed's
          // clean-up, which would leave the claim for good (every later get would wait forever).
          // As deep as the wake-up of the waiters that the clean-up ends with: at CLAIM_FRAMES a
          // parked virtual waiter was left runnable and never run (session 26's review, 2 of 2
          // runs of a getOrInit sweep). Once per initialisation.
          StackHeadroom.ensure(
              Math.max(StackHeadroom.CLAIM_FRAMES, StackHeadroom.wakeFramesOfAnyThread()));
          if (casState(null, me)) {
            return null;
          }
          continue;
        }
        if (st == me) {
          throw recursion(method);
        }
        if (spins < spinLimit) {
          spins++;
          Thread.onSpinWait();
        } else if (spins == spinLimit) {
          spins++;
          SpinBackoff.yieldUnlessVirtual(); // a virtual thread goes on to park (see there)
        } else if (node == null || node.threadAcquire() == null) {
          // Before the push: an overflow strikes here, not in the park or the cancel after it
          // (review 22: a node left in the stack for a thread that had gone).
          StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES);
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

  /** Runs the supplier while owning the claim; always settles the state and wakes waiters. */
  private T runClaimed(@Nullable Supplier<? extends T> given) {
    Thread me = Thread.currentThread();
    Object jfr = null;
    Supplier<? extends T> supplier = null;
    T result;
    try {
      // JFR (dev.weft.OnceInit): the initialiser's run, when a recording asks for it (WeftJfr).
      // Inside the try: whatever it throws (it should not: see WeftJfr.initBegin) releases the
      // claim like a failed initialiser (review 22: an overflow here left the cell claimed).
      jfr = WeftJfr.initBegin();
      Supplier<? extends T> s = given != null ? given : ownSupplier();
      supplier = s;
      result = s.get();
    } catch (Throwable t) {
      Done won = releaseClaim(me, t, jfr, supplier);
      if (won != null) {
        return decode(won);
      }
      throw t;
    }
    Done done;
    try {
      done = new Done(result, null);
    } catch (Throwable t) {
      // An OutOfMemoryError for the outcome itself, after the initialiser succeeded (review 30:
      // the claim stayed set and every waiter, and every later caller, waited for ever). The
      // value cannot be recorded: the claim is released as for a failed initialiser and the
      // error propagates, as ConcurrentHashMap.computeIfAbsent drops its reservation.
      Done won = releaseClaim(me, t, jfr, supplier);
      if (won != null) {
        return decode(won);
      }
      throw t;
    }
    if (casState(me, done)) {
      int woken = 0;
      try {
        if (result != null) {
          setValueRelease(result);
        }
        releaseSupplier(); // plain write: no claim can succeed any more, nobody reads it again
      } finally {
        // Even if an Error struck above (the first use of a VarHandle links it, which allocates:
        // review 30 saw an OutOfMemoryError there): the cell is set, its waiters must see it.
        woken = releaseWaiters();
      }
      WeftJfr.initEnd(jfr, this, supplier, woken, null);
      return result;
    }
    WeftJfr.initEnd(jfr, this, supplier, 0, null); // a trySet won meanwhile; it woke the waiters
    return decode(overtaken());
  }

  /**
   * The initialiser (or the recording of its outcome) threw {@code t}: releases the claim,
   * remembering the failure if the policy says so and memory allows, and wakes the waiters.
   *
   * @return the outcome of a set that overtook the owner, which getOrInit returns instead of
   *     throwing {@code t} (not for an Error); null if {@code t} is to be rethrown
   */
  private @Nullable Done releaseClaim(
      Thread me, Throwable t, @Nullable Object jfr, @Nullable Supplier<? extends T> supplier) {
    Done won; // a Done installed by trySet/set while the initialiser ran, if any
    Done failed = null;
    if (rememberFailures) {
      try {
        failed = new Done(null, t);
      } catch (Throwable noMemory) {
        // Under a full heap the failure cannot be remembered either (review 30: the claim was
        // never released): release the claim unremembered, so a later call runs it again. The
        // initialiser's failure is still the one thrown; the error goes with it if it can.
        try {
          t.addSuppressed(noMemory);
        } catch (Throwable stillNoMemory) { // addSuppressed allocates its list
          // nothing more can be recorded
        }
      }
    }
    if (failed != null) {
      won = casState(me, failed) ? null : overtaken();
      if (won == null) {
        releaseSupplier();
      }
    } else {
      won = casState(me, null) ? null : overtaken();
    }
    int woken = releaseWaiters();
    WeftJfr.initEnd(jfr, this, supplier, woken, t);
    // Linearizable outcome: the set that won comes first, and a getOrInit on a set cell
    // returns its value without running an initialiser. Errors still propagate.
    return won != null && !(t instanceof Error) ? won : null;
  }

  /** After the owner's CAS failed: only trySet moves state away from a running owner. */
  private Done overtaken() {
    Object st = stateVolatile();
    if (st instanceof Done d) {
      return d;
    }
    throw new AssertionError("OnceCellCore: owner overtaken by a non-terminal state " + st);
  }

  // ---------------------------------------------------------------- waiting

  /**
   * Waits until the cell is set or has failed.
   *
   * @param interruptible whether an interrupt throws (otherwise it is restored on return)
   * @param nanos the timeout, or a negative value for none; 0 checks once
   * @return the outcome, or null on timeout
   * @throws InterruptedException if interruptible and interrupted while waiting
   */
  final @Nullable Done awaitSlow(boolean interruptible, long nanos) throws InterruptedException {
    Thread me = Thread.currentThread();
    final int spinLimit = spinLimit(me);
    boolean timed = nanos >= 0;
    long deadline = timed ? System.nanoTime() + nanos : 0L;
    Waiter node = null;
    boolean interrupted = false;
    int spins = 0;
    try {
      for (; ; ) {
        Object st = stateVolatile();
        if (st instanceof Done d) {
          return d;
        }
        if (st == me) {
          throw recursion("await()");
        }
        if (interruptible && Thread.interrupted()) {
          throw new InterruptedException("interrupted while waiting for the " + kind());
        }
        long remaining = timed ? deadline - System.nanoTime() : 1L;
        if (remaining <= 0L) {
          if (nanos > 0L && SpinBackoff.isVirtual(me)) { // a zero timeout checks once: no wait
            if (node != null) {
              cancel(node); // withdrawn before the park below: nobody unparks us for nothing
              node = null;
            }
            // The deadline can pass in the spin, before the first park (100 ns: 9 of 10 retry
            // loop runs stalled), and a loop of await(t) calls then kept its carrier from the
            // initialiser it waited for: a virtual thread unmounts once, parked before or not
            // (a park can return at once on a permit; SpinBackoff.unmountBeforeTimeout).
            if (SpinBackoff.unmountBeforeTimeoutInterrupted(this)) {
              if (interruptible) {
                throw new InterruptedException("interrupted while waiting for the " + kind());
              }
              interrupted = true; // re-asserted in the finally
            }
            Object last = stateVolatile(); // the park took a timer round trip: look once more
            if (last instanceof Done d) {
              return d;
            }
          }
          return null;
        }
        if (spins < spinLimit) {
          spins++;
          Thread.onSpinWait();
        } else if (node == null || node.threadAcquire() == null) {
          StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES); // before the push: see waitOrClaim
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
        casWaiters(h, h.nextAcquire()); // pop a cancelled node off the top; failure: retry
        continue;
      }
      node.setNextPlain(h); // plain: published by the CAS below
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
    Waiter h;
    while ((h = waitersAcquire()) != null && h.threadAcquire() == null) {
      casWaiters(h, h.nextAcquire()); // pop cancelled nodes off the top
    }
    if (h != null) {
      unlinkCancelled(); // a live node on top: ours (or others') may be buried below it
    }
  }

  /**
   * Unlinks every node whose thread is null from the stack (see "Leaving early"). Restarts when
   * the node it links from was cancelled meanwhile or the top moved.
   */
  private void unlinkCancelled() {
    restart:
    for (; ; ) {
      Waiter pred = null; // the last live node seen
      for (Waiter q = waitersAcquire(); q != null; ) {
        Waiter next = q.nextAcquire();
        if (q.threadAcquire() != null) {
          pred = q;
        } else if (pred != null) {
          pred.setNextRelease(next); // release: publishes nothing new, pairs with nextAcquire
          if (pred.threadAcquire() == null) {
            continue restart; // pred was cancelled meanwhile: its own unlink may undo ours
          }
        } else if (!casWaiters(q, next)) {
          continue restart; // the top moved (a push, a pop, a release)
        }
        q = next;
      }
      return;
    }
  }

  /** Wakes every parked waiter; returns how many it woke (for the JFR event). */
  private int releaseWaiters() {
    if (waitersVolatile() == null) {
      return 0; // volatile read after our state CAS: a later push will see the new state
    }
    int woken = 0;
    for (Waiter q = getAndSetWaitersNull(); q != null; ) {
      Waiter next = q.nextAcquire();
      Thread t = q.threadAcquire();
      if (t != null) {
        q.setThreadRelease(null);
        LockSupport.unpark(t);
        woken++;
      }
      q = next;
    }
    return woken;
  }

  /**
   * The nodes in the waiter stack, live or left; for tests of the memory bound (racy snapshot).
   *
   * @return the number of nodes reachable from the top of the stack
   */
  final int waiterCount() {
    int n = 0;
    for (Waiter q = waitersAcquire(); q != null; q = q.nextAcquire()) {
      n++;
    }
    return n;
  }

  // ---------------------------------------------------------------- toString support

  /**
   * Describes the state without blocking or initialising.
   *
   * @param unsetWord the word for "no value yet"
   * @return e.g. {@code Lazy[uninitialised]}, {@code Lazy[42]}, {@code Lazy[failed: ...]}
   */
  final String describe(String unsetWord) {
    Object v = valueAcquire();
    String body;
    if (v != null) {
      body = String.valueOf(v);
    } else {
      Object st = stateAcquire();
      if (st == null) {
        body = unsetWord;
      } else if (st instanceof Done d) {
        body = d.failure != null ? "failed: " + d.failure : String.valueOf(d.value);
      } else {
        body = "initialising";
      }
    }
    return kind() + "[" + body + "]";
  }

  /** A terminal outcome: the value (possibly null) or a remembered failure. Immutable. */
  static final class Done {
    final @Nullable Object value;
    final @Nullable Throwable failure;

    Done(@Nullable Object value, @Nullable Throwable failure) {
      this.value = value;
      this.failure = failure;
    }
  }

  /** A parked thread's node in the waiter stack. */
  private static final class Waiter {
    private static final VarHandle THREAD;
    private static final VarHandle NEXT;

    static {
      try {
        MethodHandles.Lookup l = MethodHandles.lookup();
        THREAD = l.findVarHandle(Waiter.class, "thread", Thread.class);
        NEXT = l.findVarHandle(Waiter.class, "next", Waiter.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    @SuppressWarnings("UnusedVariable") // accessed through THREAD
    private @Nullable Thread thread;

    /**
     * The node below; written plainly before the CAS that pushes this node, later only by a
     * canceller unlinking the cancelled node below it (release). Accessed through {@link #NEXT}.
     */
    @SuppressWarnings("UnusedVariable") // accessed through NEXT
    private @Nullable Waiter next;

    Waiter(Thread thread) {
      this.thread = thread;
    }

    /** Acquire: sees the link as pushed (the pushing CAS) or as a canceller left it (release). */
    @Nullable Waiter nextAcquire() {
      return (Waiter) NEXT.getAcquire(this);
    }

    /** Plain: before the pushing CAS, which publishes it. */
    void setNextPlain(@Nullable Waiter n) {
      NEXT.set(this, n);
    }

    /** Release: a canceller's unlink; readers use {@link #nextAcquire}. */
    void setNextRelease(@Nullable Waiter n) {
      NEXT.setRelease(this, n);
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

  static {
    // Last of the static initializers: the classes this one's slow paths use are initialized
    // with it, not on a first slow path near the end of some thread's stack, where an overflow
    // in their initializers would break them for the rest of the JVM (see
    // StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, SpinBackoff.class, Waiter.class,
        Lazy.FailurePolicy.class);
  }
}
