package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * The one implementation of {@link ScopedThread}: at the same time the handle the user holds, the
 * {@code Runnable} the thread runs, the node of the scope's list of threads and, for threads from
 * a user's {@code ThreadFactory}, the thread's uncaught-exception handler, so a spawn allocates
 * nothing beyond this object and the thread.
 */
final class ScopeTask<T> implements ScopedThread<T>, Runnable, Thread.UncaughtExceptionHandler {
  /*
   * Algorithm notes:
   *
   * Completion is the task's completion, not the thread's liveness: isDone(), join() and
   * join(Duration) decide by state, and wait for the state, not for the thread: a factory's
   * thread may run clean-up code after the task (review 23: joins waited on Thread.join, so a
   * join called while the task ran returned only when that clean-up ended, never if the clean-up
   * waited for the joiner). The end of the scope additionally waits for every started thread to
   * terminate.
   *
   * joiners: a Treiber stack of Joiner nodes (threads waiting in a join), or DONE once the task
   * has an outcome. A joiner pushes its node with a CAS and reads state (acquire) again before
   * each park; the task's thread (and a settler) writes state (release) and then takes the whole
   * stack with getAndSet(DONE) and unparks every node. Both sides' atomic read-modify-writes
   * are full fences, so either the joiner's state read sees the outcome or the getAndSet sees
   * its node (Dekker): no wake-up is lost. A joiner that times out or is interrupted clears its
   * node's thread and unlinks cleared nodes, so a loop of short timed joins leaves nothing
   * behind. A thread might end without the task getting an outcome, which nothing signals: a
   * user's ThreadFactory's thread that never runs the task (and throws nothing), or an Error
   * that escapes weft's own code in run() (a stack overflow). So joiners park on a timer, from
   * JOIN_CHECK_MIN_NANOS doubling to JOIN_CHECK_MAX_NANOS, and isDone() looks at isAlive() after
   * each wake-up: a liveness backstop only (Thread.join covered it before, for free), which a
   * task that ends normally never needs.
   *
   * state: NEW -> SUCCESS | FAILED | CANCELLED, written once with release by the task's thread
   * (publishes result/failure to readers that read state with acquire). Other transitions:
   *   NEW -> ABANDONED  by the spawner when Thread.start() threw and the thread did not start;
   *   NEW -> SETTLING -> FAILED  when the thread terminated (or is terminating, in the
   *       uncaught-exception handler) without running the task: a CAS claims the node, because
   *       several threads may notice it (the owner at the end, joiners, a spawner waiting for a
   *       slot); the winner writes failure, reports it to the scope, then releases FAILED; a
   *       loser spins (a few instructions) until FAILED. The winner probes its stack before
   *       the CAS and gives the claim back (SETTLING -> NEW) if an Error strikes before its
   *       release, so SETTLING always ends (review 30).
   *   CANCELLED from construction for a spawn into a cancelled scope: no thread is made.
   * A task's failure is reported to the scope (firstFailed, cancel) BEFORE state says FAILED, so
   * whoever sees isDone() also sees the scope cancelled under CANCEL_OTHERS.
   *
   * started: false -> true once, by the spawner after Thread.start() returned (release; read
   * with acquire). Only a started thread is joined or checked with isAlive(): isAlive() is also
   * false for a thread not yet started, which is how the end once returned early (issue 18).
   *
   * observed: set (release) by join() when it reports this task's failure to a caller, read
   * (acquire) by the scope's owner at the end, after joining every thread; a failure observed
   * by a join is not rethrown at the end of the scope. A join from a thread that is not a scope
   * thread can race with the end of the scope; then the failure may be reported twice, never
   * lost.
   *
   * result, failure, deadlineMessage: plain; written before the release of state (or by the
   * SETTLING winner before its release) and read after an acquire of state or a Thread.join.
   *
   * next: the list link, written once before the task is published by the CAS on the scope's
   * head (the CAS has volatile semantics, so readers of head see next).
   *
   * The task references are cleared by the task's thread once it ran, so a finished handle does
   * not keep the captured data alive; no other thread reads them.
   *
   * Window (ProtocolWindows): "scope.task-finished", on the task's thread after the task's
   * outcome is published and its slot released, before the thread terminates.
   */

  static final int NEW = 0;
  static final int SUCCESS = 1;
  static final int FAILED = 2;
  static final int ABANDONED = 3;
  static final int CANCELLED = 4;
  static final int SETTLING = 5;

  /**
   * The task running on the current thread (set for the duration of run()): lets Scope.spawn
   * tell one of its own threads from a foreign one in O(1) (it walked the whole stack of
   * nodes before: quadratic fan-out from a scope thread, found by the issue 18 review).
   */
  private static final ThreadLocal<ScopeTask<?>> RUNNING = new ThreadLocal<>();

  private static final VarHandle STATE;
  private static final VarHandle OBSERVED;
  private static final VarHandle STARTED;
  private static final VarHandle JOINERS;

  /** The joiners stack once the task has an outcome: nobody parks after it. */
  private static final Joiner DONE = new Joiner(null);

  /**
   * First and longest timer of a joiner's park: the delay with which a join notices a thread
   * that ended without its task getting an outcome (see the notes). 1 ms doubling to 100 ms: a
   * join of a long task wakes at most ten times a second; a task that ends unparks its joiners.
   */
  private static final long JOIN_CHECK_MIN_NANOS = 1_000_000L;

  private static final long JOIN_CHECK_MAX_NANOS = 100_000_000L;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      STATE = l.findVarHandle(ScopeTask.class, "state", int.class);
      OBSERVED = l.findVarHandle(ScopeTask.class, "observed", boolean.class);
      STARTED = l.findVarHandle(ScopeTask.class, "started", boolean.class);
      JOINERS = l.findVarHandle(ScopeTask.class, "joiners", Joiner.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  final Scope scope;
  final Thread thread;
  @Nullable ScopeTask<?> next;
  private @Nullable Callable<? extends T> callable;
  private @Nullable Runnable runnable;
  private @Nullable Object result;
  private @Nullable Throwable failure;
  private @Nullable String deadlineMessage; // set with failure if the deadline had cancelled
  /** The factory thread's own handler, to which exceptions after the task are passed on. */
  private Thread.@Nullable UncaughtExceptionHandler previousHandler;
  @SuppressWarnings("unused") // accessed through STATE
  private int state;
  @SuppressWarnings("unused") // accessed through OBSERVED
  private boolean observed;
  @SuppressWarnings("unused") // accessed through STARTED
  private boolean started;
  @SuppressWarnings("unused") // accessed through JOINERS
  private @Nullable Joiner joiners;
  /**
   * Whether run() gave the slot back; plain: written by the task's thread, read by a settler
   * that runs on that thread (the uncaught-exception handler) or after it terminated.
   */
  private boolean exited;

  /**
   * Whether run() was entered. Plain: written and read only by the task's own thread (run()
   * checks the thread first). The state stays NEW while the task runs, so without this a task
   * that called its own thread's run() (Thread.currentThread().run(), or thread().run() of its
   * handle) ran the body again: the nested run recorded a failure, gave the concurrency slot
   * back while the task still ran, and the outer run gave it back a second time (review 24).
   */
  private boolean entered;

  /**
   * How many spawns of this task's thread, into its own scope, are under way (0 or 1: a nested
   * one is refused, see Scope.spawnTask). Plain: written and read only by the task's thread.
   */
  int spawning;

  /**
   * Creates the task and its (unstarted) thread; exactly one of the two tasks is non-null. With
   * {@code run} false the scope is cancelled: no thread is made (the factory is not called), the
   * handle gets an unstarted placeholder thread and the task is CANCELLED from the start.
   */
  ScopeTask(Scope scope, @Nullable Callable<? extends T> callable, @Nullable Runnable runnable,
      boolean run) {
    this.scope = scope;
    if (run) {
      this.callable = callable;
      this.runnable = runnable;
      Thread t = scope.newThread(this);
      if (scope.usesThreadFactory()) {
        // Catches a factory thread that throws before it runs this task (it never ran: that is
        // a failure of the task); anything else is passed on to the thread's own handler.
        previousHandler = t.getUncaughtExceptionHandler();
        t.setUncaughtExceptionHandler(this);
      }
      this.thread = t;
    } else {
      this.thread = scope.placeholderThread(this);
      STATE.set(this, CANCELLED); // plain: published with the handle by spawn's return
    }
  }

  /**
   * A node for {@link Scope}'s warm-up only (see {@link #linkRareSteps}): no task, no thread of
   * its own (its thread is the caller's, never started, joined or interrupted through it),
   * listed only in a warm-up scope nobody else can see.
   */
  ScopeTask(Scope warmUpScope) {
    this.scope = warmUpScope;
    this.thread = Thread.currentThread();
  }

  // ---- accessors by mode ----

  int stateAcquire() {
    return (int) STATE.getAcquire(this);
  }

  private void setStateRelease(int s) {
    STATE.setRelease(this, s);
  }

  /**
   * Volatile CAS NEW -> SETTLING: a settler's claim of a task that never ran (see the notes);
   * volatile, so that exactly one of the threads that notice the node records it.
   */
  private boolean claimNeverRan() {
    return STATE.compareAndSet(this, NEW, SETTLING);
  }

  /** Marks a task whose thread could not be started; the spawner still owns it alone. */
  void setAbandonedRelease() {
    setStateRelease(ABANDONED);
  }

  /** Release: a reader that sees true may join the thread (start() happened-before). */
  void setStartedRelease() {
    STARTED.setRelease(this, true);
  }

  boolean startedAcquire() {
    return (boolean) STARTED.getAcquire(this);
  }

  /** Whether the spawner is past start(): the thread started, or it never will. */
  boolean launched() {
    return startedAcquire() || stateAcquire() == ABANDONED;
  }

  boolean observedAcquire() {
    return (boolean) OBSERVED.getAcquire(this);
  }

  private void setObservedRelease() {
    OBSERVED.setRelease(this, true);
  }

  /** The failure; read only after the thread was joined or state was read with acquire. */
  @Nullable Throwable failurePlain() {
    return failure;
  }

  // ---- the thread's body ----

  /** The task running on the calling thread, or null; see {@link #RUNNING}. */
  static @Nullable ScopeTask<?> runningOnThisThread() {
    return RUNNING.get();
  }

  @Override
  public void run() {
    if (Thread.currentThread() != thread || entered || stateAcquire() != NEW) {
      throw new IllegalStateException("a ScopedThread's task runs once, on its own thread");
    }
    // Before anything changes: the epilogue below (outcome, scopes left open, the joiners'
    // wake-up) runs at this depth, so an overflow strikes here, with the task not entered, not in
    // the wake-up after the joiners were detached (see StackHeadroom.TASK_FRAMES).
    StackHeadroom.ensure(StackHeadroom.TASK_FRAMES);
    entered = true; // a field store: nothing between the check and it can fail
    Callable<? extends T> c = callable;
    Runnable r = runnable;
    callable = null;
    runnable = null;
    ScopeTask<?> outerTask = RUNNING.get(); // null but for a factory that runs us inside a task
    Scope outerScope = Scope.innermost(); // scopes the task opens go above this one
    RUNNING.set(this);
    try {
      if (scope.isCancelled()) {
        // Started while (or after) the scope was cancelled: the task does not run at all.
        setStateRelease(CANCELLED);
        return;
      }
      Throwable failed = null;
      try {
        if (c != null) {
          result = c.call();
        } else {
          Objects.requireNonNull(r, "runnable").run();
        }
      } catch (Throwable t) { // every failure, Errors included, is reported to the owner
        failed = t;
      }
      // A scope the task opened and left open is ended here (cancelled, its threads joined), so
      // that its threads cannot outlive this scope; leaving it open fails the task.
      IllegalStateException leftOpen =
          Scope.endScopesLeftOpen(outerScope, "the task of " + ThreadNames.of(thread));
      if (leftOpen != null) {
        if (failed == null) {
          failed = leftOpen;
        } else {
          failed.addSuppressed(leftOpen);
        }
      }
      if (failed == null) {
        setStateRelease(SUCCESS);
      } else {
        failure = failed;
        deadlineMessage = scope.deadlineMessage(); // failed after the deadline cancelled the scope
        scope.taskFailed(this); // cancels before isDone() can say FAILED
        setStateRelease(FAILED);
      }
    } finally {
      if (stateAcquire() != NEW) {
        wakeJoiners(); // after the state's release store
      } // else an Error in weft's code before the outcome: the settler wakes them (notes)
      if (outerTask == null) {
        RUNNING.remove(); // leave nothing behind on a pooled factory thread
      } else {
        RUNNING.set(outerTask);
      }
      exited = true;
      scope.taskExited();
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("scope.task-finished");
      }
    }
  }

  /**
   * The factory's thread is terminating with {@code e}: if it never ran this task, {@code e} is
   * the task's failure (reported by the scope, not to the thread's handler); otherwise it is
   * passed on to the handler the thread had.
   */
  @Override
  public void uncaughtException(Thread t, Throwable e) {
    if (t == thread && settleNeverRan(e)) {
      return;
    }
    Thread.UncaughtExceptionHandler previous = previousHandler;
    if (previous != null) {
      previous.uncaughtException(t, e);
    }
  }

  /**
   * Called once the thread has terminated (or, from the uncaught-exception handler, is
   * terminating): a task still NEW never ran; that is recorded as its failure.
   */
  void settleIfNeverRan() {
    int s = stateAcquire();
    if (s == NEW || s == SETTLING) {
      settleNeverRan(null);
    }
  }

  /**
   * Claims a never-ran task and records its failure; false if it had an outcome already.
   *
   * <p>Any thread may get here at any depth of its stack (isDone() and join() call it), and a
   * claim that is not carried through leaves SETTLING for good, which every later settler (the
   * owner's close among them) waits for without end. So: the probe comes before the claim, with
   * room for everything up to the release of FAILED (the failure's construction, the cancel
   * walk, the joiners' unparks: the same work as run()'s epilogue, hence the same depth); an
   * overflow there changes nothing and a later, shallower call settles the task (review 30:
   * isDone() called in the 600 frames nearest the end left SETTLING in 40 of 40 rounds). And an
   * Error that still strikes before the release (an OutOfMemoryError building the failure) gives
   * the claim back.
   */
  private boolean settleNeverRan(@Nullable Throwable cause) {
    StackHeadroom.ensure(StackHeadroom.TASK_FRAMES);
    if (!claimNeverRan()) {
      while (stateAcquire() == SETTLING) { // another thread is recording it: a few instructions
        Thread.onSpinWait();
      }
      return false;
    }
    try {
      failure = cause != null ? cause : new IllegalStateException(ThreadNames.of(thread)
          + " terminated without running its task: a ThreadFactory's thread must run the"
          + " Runnable it was created with, once");
      scope.taskFailed(this); // idempotent for this task: a retry after a give-back is safe
    } catch (Throwable e) { // an Error before the release: nothing is published yet
      setStateRelease(NEW); // release: a later settler's CAS sees the claim given back
      throw e;
    }
    callable = null;
    runnable = null;
    setStateRelease(FAILED);
    wakeJoiners();
    if (!exited) { // (run() gave the slot back if an Error escaped weft's own code in it)
      scope.taskExited();
    }
    return true;
  }

  /**
   * Scope.linkRareSteps' part, on a warm-up node (see the warm-up constructor): runs the
   * accessors of the task's protocol windows once, so that their VarHandle call sites are linked
   * in the class initializers, not on a first run inside a window (session 33's audit of
   * LinkageAfterInitTest's baseline). Linked on first use, the outcome's release store in run()
   * threw after the task ran (its result lost: the liveness backstop then reported it as a task
   * that never ran), and so did the settler's give-back or FAILED store (SETTLING for good: the
   * end waited for ever); the joiners' getAndSet threw in run()'s finally before the slot went
   * back (kept for good under maxConcurrency); the started flag's store threw from spawn after
   * Thread.start (spawn failed while its task ran); the end's first looks at started and
   * observed threw from close() with threads still running, or dropped the failures to report.
   * The join stack's push and leave are not run here: their first runs come before the node is
   * published, or after the leaving node was cleared (see linkage-after-init-baseline.txt).
   * Ends ABANDONED and started, with no joiner: the warm-up scope never walks it as NEW, so its
   * thread (the caller) is never interrupted.
   */
  void linkRareSteps() {
    stateAcquire(); // acquire: run()'s first check, isDone, the end's and the cancel walk's looks
    startedAcquire(); // acquire: launched(), awaitTask, isDone
    observedAcquire(); // acquire: the end's unjoinedFailures
    claimNeverRan(); // volatile CAS NEW -> SETTLING: settleNeverRan's claim
    setStateRelease(NEW); // release: every state store (run's outcome, the settler's give-back)
    setAbandonedRelease(); // release, through setStateRelease: the spawn's recovery
    setStartedRelease(); // release: spawn after Thread.start, settleLeftBySpawner
    setObservedRelease(); // release: report()
    wakeJoiners(); // volatile getAndSet to DONE: run()'s and the settler's wake-up; nobody parked
  }

  // ---- ScopedThread ----

  @Override
  public T join() throws InterruptedException {
    checkNotSelf();
    if (!isDone()) {
      if (scope.hasDeadline()) {
        scope.joinUntilDeadline(this);
      } else {
        awaitDone(false, 0L);
      }
    }
    return report();
  }

  @Override
  public T join(Duration timeout) throws InterruptedException, TimeoutException {
    long nanos = Timeouts.toNanos(timeout, "timeout");
    checkNotSelf();
    if (!isDone()) {
      long deadline = System.nanoTime() + nanos;
      if (scope.hasDeadline() && scope.deadline() - deadline < 0) {
        scope.joinUntilDeadline(this); // the scope's deadline comes first
      } else if (!awaitDone(true, deadline)) {
        // awaitDone pushes its node and reads the state again before its first park, and a
        // tiny timeout runs out in between: a virtual thread in a join(1 ns) retry loop never
        // left its carrier, and a task parked on that carrier never ran (review 24: every run
        // on one carrier stalled). As every other timed wait: park once, for the shortest
        // time, before reporting the timeout (see SpinBackoff.unmountBeforeTimeout).
        if (nanos > 0L && SpinBackoff.unmountBeforeTimeoutInterrupted(this)) {
          throw new InterruptedException("interrupted while joining " + ThreadNames.of(thread));
        }
        throw new TimeoutException(
            ThreadNames.of(thread) + " still running after " + Duration.ofNanos(nanos));
      }
    }
    return report();
  }

  /**
   * Waits until the task is done (see {@link #isDone()}), or, if {@code timed}, until {@code
   * deadline} (a {@link System#nanoTime()} value) passes; see "joiners" in the notes.
   *
   * @return true if the task is done, false if the time ran out first
   * @throws InterruptedException if the calling thread is interrupted (its status is cleared)
   */
  boolean awaitDone(boolean timed, long deadline) throws InterruptedException {
    Joiner node = null;
    boolean unregistered = false; // the stack was DONE with no outcome: park on the timer only
    long check = JOIN_CHECK_MIN_NANOS; // the liveness backstop's timer (see the notes)
    try {
      while (!isDone()) {
        if (Thread.interrupted()) {
          throw new InterruptedException(
              "interrupted while joining " + ThreadNames.of(thread));
        }
        long park = check;
        if (timed) {
          long left = deadline - System.nanoTime();
          if (left <= 0L) {
            return false;
          }
          park = Math.min(left, check);
        }
        if (node == null && !unregistered) {
          // A probe before the push: an overflow between the push and the finally's leave()
          // left a live node with a gone thread on the stack (review 23b). A join that blocks
          // can afford it (about 190 ns).
          StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES);
          node = new Joiner(Thread.currentThread());
          if (!push(node)) {
            // DONE: normally the state says so now (acquire in isDone). If it does not, run()
            // woke its joiners without an outcome (an Error in weft's own code after the task):
            // nothing will wake us, so wait on the backstop's timer, not in a spin (review 23b).
            node = null;
            unregistered = true;
          }
          continue; // read the state again before parking (see the notes)
        }
        LockSupport.parkNanos(this, park);
        check = Math.min(check << 1, JOIN_CHECK_MAX_NANOS);
      }
      return true;
    } finally {
      if (node != null) {
        leave(node);
      }
    }
  }

  private boolean push(Joiner node) {
    for (;;) {
      Joiner head = (Joiner) JOINERS.getAcquire(this);
      if (head == DONE) {
        return false;
      }
      node.next = head; // plain: published by the CAS below
      if (JOINERS.compareAndSet(this, head, node)) { // volatile: the joiner's side of the fence
        return true;
      }
    }
  }

  /**
   * Takes the joiners off the stack and unparks them; called after the state's release store.
   * getAndSet is volatile: the task's side of the fence in the notes.
   */
  private void wakeJoiners() {
    Joiner j = (Joiner) JOINERS.getAndSet(this, DONE);
    for (; j != null && j != DONE; j = j.next) {
      Thread t = j.thread;
      if (t != null) {
        LockSupport.unpark(t);
      }
    }
  }

  /**
   * A joiner is leaving (done, timed out, interrupted or an Error): its node is cleared and
   * every cleared node is unlinked, so that repeated short joins do not pile nodes up. Nodes
   * are unlinked only while the stack is not DONE (after that it is unreachable anyway); a CAS
   * that fails restarts from the head.
   */
  private void leave(Joiner node) {
    node.thread = null; // plain: see Joiner
    retry:
    for (;;) {
      Joiner head = (Joiner) JOINERS.getAcquire(this);
      if (head == DONE || head == null) {
        return;
      }
      if (head.thread == null) {
        if (!JOINERS.compareAndSet(this, head, head.next)) {
          continue;
        }
        continue retry;
      }
      for (Joiner prev = head, j = head.next; j != null; j = j.next) {
        if (j.thread == null) {
          prev.next = j.next; // plain: only the head is CASed; see Joiner
          if (JOINERS.getAcquire(this) != head) {
            continue retry; // the head moved: walk again from the new one
          }
        } else {
          prev = j;
        }
      }
      return;
    }
  }

  @Override
  public boolean isDone() {
    int s = stateAcquire();
    if (s == NEW && startedAcquire() && !thread.isAlive()) {
      settleIfNeverRan(); // terminated without running the task: that is a (finished) failure
      s = stateAcquire();
    }
    return s == SUCCESS || s == FAILED || s == CANCELLED;
  }

  @Override
  public Thread thread() {
    return thread;
  }

  private void checkNotSelf() {
    if (Thread.currentThread() == thread) {
      throw new IllegalStateException(
          ThreadNames.of(thread) + " tried to join itself, which would never return; "
              + "join a ScopedThread from another thread");
    }
  }

  /** Called once the task is done (state read with acquire, so plain reads are safe). */
  @SuppressWarnings({"unchecked", "NullAway"}) // result is null only where T admits it (Void)
  private T report() {
    if (stateAcquire() == CANCELLED) {
      String late = scope.deadlineMessage();
      if (late != null) {
        scope.interruptIfScopeThread(); // meeting the passed deadline, as in joinUntilDeadline
        throw new ScopeTimeoutException(late);
      }
      String msg = ThreadNames.of(thread) + " was not started: " + scope.name()
          + " had been cancelled (" + scope.cancelCause() + ")";
      throw new TaskFailedException(msg, new CancellationException(msg));
    }
    Throwable f = failure;
    if (f != null) {
      // Observed only once the exception carrying it exists: if building it failed, the end of
      // the scope must still report the failure (review 23).
      String late = deadlineMessage;
      if (late != null) { // most likely a consequence of the deadline: report that
        ScopeTimeoutException e = new ScopeTimeoutException(late);
        e.addSuppressed(f);
        setObservedRelease();
        scope.interruptIfScopeThread(); // meeting the passed deadline (review 18)
        throw e;
      }
      TaskFailedException e = new TaskFailedException(
          ThreadNames.of(thread) + " failed: " + TaskFailedException.describe(f), f);
      setObservedRelease();
      throw e;
    }
    return (T) result;
  }

  @Override
  public String toString() {
    String s = switch (stateAcquire()) {
      case SUCCESS -> "succeeded";
      case FAILED -> "failed";
      case ABANDONED -> "not started";
      case CANCELLED -> "not started: the scope was cancelled";
      default -> startedAcquire() ? "running" : "starting";
    };
    return "ScopedThread[" + ThreadNames.of(thread) + ", " + s + "]";
  }

  /**
   * A thread waiting in a join. {@code thread} is cleared by the joiner when it leaves (plain: a
   * waker that still sees it unparks a thread that has left, a spurious wake-up that every park
   * loop tolerates, as FutureTask's waiters do); {@code next} is written by the pusher before
   * its CAS and by leavers that unlink cleared nodes (only nodes they saw cleared, and a cleared
   * node stays cleared, so no live node is ever skipped). Two
   * leavers unlinking at once may each undo the other's plain write, leaving a cleared node
   * linked: harmless (a cleared node is skipped by the waker and unlinked by the next leaver,
   * and the whole stack is dropped when the task ends), as in FutureTask's removal.
   */
  static final class Joiner {
    @Nullable Thread thread;
    @Nullable Joiner next;

    Joiner(@Nullable Thread thread) {
      this.thread = thread;
    }
  }

  static {
    // Last of the static initializers: the classes this one's slow paths use are initialized
    // with it, not on a first slow path near the end of some thread's stack, where an overflow
    // in their initializers would break them for the rest of the JVM (see
    // StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, SpinBackoff.class, ProtocolWindows.class);
  }
}
