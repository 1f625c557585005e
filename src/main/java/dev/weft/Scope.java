package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.reflect.InvocationTargetException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/**
 * Scoped threads: threads that may use the caller's local data, because the scope guarantees
 * that every one of them has terminated before it returns — Rust's {@code std::thread::scope} for
 * Java 17+.
 *
 * <pre>{@code
 * List<Integer> data = new ArrayList<>(List.of(1, 2, 3, 4, 5));
 * int total = Scope.call(scope -> {
 *   ScopedThread<Integer> sum = scope.spawn(() -> data.stream().mapToInt(i -> i).sum());
 *   ScopedThread<Integer> max = scope.spawn(() -> Collections.max(data));
 *   return sum.join() + max.join();
 * });                         // both threads have terminated here, even on failure
 * data.add(6);                // so mutating the list is safe again
 *
 * // try-with-resources form; close() joins every thread
 * try (Scope scope = Scope.builder().maxConcurrency(8).timeout(Duration.ofSeconds(5)).open()) {
 *   for (Path p : files) scope.spawn(() -> index(p));
 * }
 * }</pre>
 *
 * <p>The plain-JDK version of the first example needs a {@code Thread} per task, a field for each
 * result, a {@code try/finally} that joins every thread (and keeps joining when interrupted), and
 * hand-written failure propagation; {@code ExecutorService.close()} (JDK 19+) joins but loses
 * failures of tasks nobody called {@code get()} on, and {@code StructuredTaskScope} is still a
 * preview API.
 *
 * <h2>Lifecycle</h2>
 * The thread that opens a scope (by {@link #open()}, {@link #call}, {@link #run} or the builder)
 * is its <em>owner</em>. The owner and the scope's own threads may {@link #spawn(Callable) spawn};
 * each spawn starts one new thread. The scope <em>ends</em> when {@link #call}/{@link #run}
 * return or throw, or when the owner calls {@link #close()}; the end waits until every thread
 * has terminated — also when the body threw, when a thread failed, when the deadline passed, and
 * when the owner is interrupted, and whatever the order in which the owner and the scope's
 * threads spawned. No thread outlives its scope.
 *
 * <h2>Failures, cancellation, deadline, interruption</h2>
 * <ul>
 *   <li>{@link ScopedThread#join()} of a failed thread throws {@link TaskFailedException} whose
 *       cause is the original throwable and whose message names the thread.
 *   <li>A failure nobody joined is rethrown at the end of the scope as a
 *       {@code TaskFailedException} (the first failure as cause, every further one as
 *       suppressed, and the message names every failed thread). {@link Error}s are reported the
 *       same way, never swallowed.
 *   <li>With the default {@link FailurePolicy#CANCEL_OTHERS}, the first failure cancels the scope:
 *       its other threads are interrupted. {@link FailurePolicy#AWAIT_ALL} lets them finish.
 *       Cancellation is cooperative: a thread that ignores interrupts is still waited for.
 *   <li>An exception thrown by the body of {@link #call}/{@link #run} wins: it is rethrown
 *       unchanged, with unjoined thread failures attached as suppressed (under
 *       {@code CANCEL_OTHERS} the body's exception first cancels the threads; an
 *       {@code InterruptedException} from the body cancels them under either policy). In the
 *       try-with-resources form {@link #close()} cannot see an exception leaving the block, so
 *       it waits for the threads without cancelling them; prefer {@link #call}/{@link #run}
 *       when the block itself can fail.
 *   <li>Deadline ({@link Builder#timeout}): when it passes before the scope has ended, the scope
 *       is cancelled at once — also while the owner computes in the body without touching the
 *       scope (a shared timer, see below, interrupts the scope's threads) — and the end of the
 *       scope throws {@link ScopeTimeoutException}, naming the threads that were still running.
 *       A {@code join} or a {@code spawn} (or its wait for a slot) that meets the passed deadline
 *       throws it too; a scope thread that does so is also interrupted, like the scope's other
 *       threads. {@link ScopedThread#join()} of a thread that failed after the deadline
 *       cancelled the scope throws it as well. The timer is one daemon thread,
 *       {@code weft-scope-deadlines}, shared by all scopes, started at the first spawn of a
 *       scope with a deadline and gone after 200 ms without pending deadlines; a scope's entry
 *       is removed when the scope ends, so it never keeps a scope or the JVM alive.
 *   <li>Spawn into a cancelled scope (after a failure under {@code CANCEL_OTHERS}, or while the
 *       scope is being cancelled) starts no thread and never runs the task: the factory is not
 *       called, and the returned handle is done at once ({@link ScopedThread#join()} throws
 *       {@link TaskFailedException} whose cause is a
 *       {@link java.util.concurrent.CancellationException}, or {@link ScopeTimeoutException}
 *       after the deadline). A thread that starts while the scope is being cancelled does not
 *       run its task either. Such tasks are not failures: nothing is reported for them at the
 *       end. (Like {@code StructuredTaskScope.fork} after shutdown.)
 *   <li>Owner interrupted while waiting at the end: the threads are interrupted (the scope is
 *       cancelled), still joined, and then {@link #call}/{@link #run} throw
 *       {@link InterruptedException} (with unjoined failures suppressed), clearing the interrupt
 *       status as every {@code java.util.concurrent} method that throws it does.
 *       {@link #close()} cannot throw a checked exception: like {@code ExecutorService.close()}
 *       it re-asserts the owner's interrupt status before it returns (or throws a failure).
 *   <li>When several things go wrong, the first reason the scope was cancelled decides what the
 *       end reports (a failure, or the deadline); an interrupt of the owner is always reported.
 *       A body exception created with suppression disabled cannot carry the unjoined failures.
 *       Neither can the errors the JVM raises itself (a {@link StackOverflowError}, or an
 *       {@link OutOfMemoryError} from the JVM's preallocated ones): for those two the scope
 *       throws a new error of the same class instead, with the JVM's error as its cause and the
 *       failures suppressed. If the deadline cancelled the scope and the owner is then
 *       interrupted at the end, the {@link InterruptedException} carries a
 *       {@link ScopeTimeoutException} as suppressed.
 *       An {@code interrupt()} of a factory's thread that throws does not stop the cancellation:
 *       the other threads are still interrupted, every thread is still joined, and the exception
 *       is reported by the end if it happened before the end reported (the end does not wait
 *       for a walk the timer is running). The shared timer runs those {@code interrupt()} calls
 *       for deadlines, so an override must be quick.
 *   <li>The end never returns or throws while one of the scope's threads runs, even when its
 *       wait itself fails: on JDK 21+ a virtual owner too deep in its stack to unmount gets a
 *       {@link StackOverflowError} from the park inside {@code Thread.join}. The end then waits
 *       without parking (keeping its carrier, as a pinned virtual thread does) and reports the
 *       error once every thread has ended: attached as suppressed to the exception the end
 *       throws, or thrown alone.
 * </ul>
 *
 * <p><b>Memory consistency effects:</b> actions in a thread prior to {@link #spawn(Callable)}
 * happen-before the spawned task starts. Every action of a task happens-before its
 * {@link ScopedThread#join()} returns (or throws {@code TaskFailedException}), happens-before
 * {@link ScopedThread#isDone()} returns {@code true}, and happens-before the end of the scope
 * returns or throws in the owner; so does every action of the scope's threads (thread
 * termination, JLS 17.4.4).
 *
 * <p><b>Memory:</b> a scope keeps every handle it returned until it ends, and each handle its
 * terminated {@code Thread} (about 500 bytes) and its task's result or failure, joined or not.
 * Scopes are meant to be short-lived: do not run millions of tasks, or pass large results,
 * through a scope that stays open.
 *
 * <p><b>Thread-safety:</b> {@code spawn} may be called concurrently by the owner and the scope's
 * threads; {@link #close()} only by the owner. {@link #toString()} may be called by any thread
 * and never blocks.
 *
 * <p><b>Misuse:</b> {@code spawn} after the scope ended, or from a thread that is neither the
 * owner nor one of the scope's threads, throws {@link IllegalStateException}; so does
 * {@link #close()} from another thread than the owner, and a {@link ScopedThread} joining
 * itself. A second {@code close()} does nothing. Null arguments throw
 * {@link NullPointerException} naming the parameter. Nested scopes work; a scope that a scope
 * thread opens belongs to that thread. Nested scopes must end innermost first (as
 * try-with-resources and {@code call}/{@code run} do): ending a scope while a scope that its
 * owner opened later is still open first cancels and ends that inner scope (and any inside it),
 * then ends this one, then throws {@link IllegalStateException} naming them (their own failures
 * suppressed on it; after a failing body it is suppressed on the body's exception) — the rule
 * {@code StructuredTaskScope} enforces with {@code StructureViolationException}. A scope
 * thread's task that finishes with a scope it opened still open has that scope cancelled and
 * ended, and fails with {@code IllegalStateException}; so does a {@code call}/{@code run} body
 * that leaves one open (also after closing its own scope). With
 * {@link Builder#maxConcurrency}, a scope thread that spawns waits for a slot like the owner
 * does: if every running thread waits so, none can finish — give nested fan-out its own (nested)
 * scope. A {@link Builder#threadFactory ThreadFactory} that returns null, throws, or returns a
 * thread already started makes {@code spawn} throw (see there), as does a factory that spawns
 * into the scope it makes threads for (under a cap, that spawn would wait for good for the slot
 * its caller holds); a factory thread that dies without running weft's task fails that task.
 */
public final class Scope implements AutoCloseable {
  /*
   * Algorithm notes:
   *
   * Threads are kept in a Treiber stack of ScopeTask nodes (head, CAS with volatile semantics;
   * read with acquire, which sees a node's fields written before its CAS, except by the cancel
   * walk below, which needs a volatile read). A node is pushed by its spawner BEFORE its thread
   * is started; after start() returns the spawner marks it started (release), or ABANDONED if
   * start() threw without starting it. Only live threads push (the owner, or a scope thread,
   * which is alive while it spawns).
   *
   * The end (owner) joins every node from the current head down to the head it saw last time,
   * then rereads head; when head did not change, every thread that could still push has
   * terminated, so no node can be added any more. A node that is not yet started when the owner
   * reaches it (its spawner is between push and start: window "scope.pushed-not-started") must
   * not be skipped (isAlive() is false for a thread not yet started; that was issue 18's lost
   * thread): it is deferred to the end of the pass. Its spawner is a scope thread whose node is
   * older (further down), so the owner joins that spawner later in the same pass, or joined it
   * in an earlier pass; the spawner settled the node (started or abandoned) before it
   * terminated, and termination happens-before the join's return. The deferred nodes are then
   * launched; their threads are joined like the others. Joining uses Thread.join: thread
   * termination happens-before join returning (JLS 17.4.4), which gives the memory effects for
   * all plain fields the tasks wrote. After the join, a task still NEW never ran (a factory
   * thread that ignored its Runnable): it becomes a failure (ScopeTask.settleIfNeverRan).
   *
   * Cancellation: cancelReason goes once from null to the reason (CAS, volatile): the failed
   * ScopeTask, or a Cancel marker (body threw, owner interrupted, deadline, an enclosing scope
   * closed first). The winner walks the stack (volatile read of head after its CAS) and
   * interrupts every thread whose task has not finished (also one not started yet: Java keeps an
   * interrupt of an unstarted thread), and itself if it is a scope thread cancelling for the
   * deadline. A thread pushed concurrently is either seen by the walk, or its CAS on head came
   * after the walk's read of head in the synchronization order, and then its task reads
   * cancelReason (volatile) at its start, sees the cancel, and does not run at all; the volatile
   * (sequentially consistent) accesses on both sides are what rule out missing both (a
   * store-load pattern: acquire/release would not be enough). spawn checks cancelReason before
   * it calls the factory: a spawn into a cancelled scope makes no thread.
   *
   * The end seals the scope: after the last join it sets cancelReason to the deadline reason if
   * the deadline has passed, else (CAS from null) to the ENDED marker, so that a deadline timer
   * that fires late cannot cancel an ended scope; ENDED is not shown as a cancellation.
   *
   * Deadline timer: one ScheduledThreadPoolExecutor for all scopes (class DeadlineTimer: one
   * daemon thread, removeOnCancel, core thread times out after 200 ms idle). A timed scope
   * schedules its entry at the owner's first spawn (before it, no thread can run past the
   * deadline; the owner's own operations compare with System.nanoTime()); the entry calls
   * deadlinePassed(), which cancels unless the scope was cancelled or ended; the end cancels
   * the entry, which removes it. Cost: one schedule and one cancel (each O(log n) under the
   * executor's lock) per timed scope that spawns; nothing for scopes without a deadline.
   *
   * firstFailed: CAS once from null by the first task that fails, before the task publishes
   * FAILED (release), so whoever sees the task done also sees the scope cancelled; read plainly
   * by the owner after all joins (the joins order it). cancelReason is read with acquire where
   * no store-load order is needed (the owner's end, toString): those readers only need the
   * reason object's fields.
   *
   * closed: written only by the owner (release, so toString's acquire read on another thread
   * sees a consistent state); the owner reads its own write plainly. Scope threads never see it
   * set while they run, because the owner sets it only after joining all of them.
   *
   * Nesting: a ThreadLocal holds each owner thread's innermost open scope; a scope records the
   * previous one (enclosing) when it opens and restores it (or removes the entry) when it ends.
   * An end that finds another scope innermost ends the inner ones first and reports
   * IllegalStateException. Cost: one ThreadLocal get and set per open and per end.
   *
   * spawned: getAndAdd per spawn (owner and scope threads may spawn concurrently); it numbers the
   * threads' names. Its reads in toString are opaque (a statistic, no ordering needed).
   *
   * The concurrency cap is a java.util.concurrent.Semaphore (acquired by the spawner, released
   * by the task's thread as its last action, or by whoever settles a task that never ran);
   * without a cap nothing is allocated for it and the spawn path does no extra work. With a
   * user ThreadFactory, a spawn waiting for a slot looks every 20 ms for factory threads that
   * died without running their task, so that their slots come back.
   *
   * The cancel walk never stops early: each interrupt() is in its own try (a factory's Thread
   * subclass may throw from it); the first such exception is CAS'd into interruptFailure
   * (further ones suppressed on it) and the owner reports it with the end's outcome (acquire
   * read). The owner does not wait for a walk another thread is running (the timer's walk may
   * run interrupt() overrides that block on something the owner holds: a review found that
   * waiting could hang close()); an exception recorded after the end reported is not reported.
   * The walk skips
   * the calling thread only when it is the failing task's own thread (it has finished); any
   * other scope thread that cancels (deadline noticed, a sibling found never-ran) interrupts
   * itself too.
   *
   * Scope threads: ScopeTask.RUNNING (a ThreadLocal) names the task running on the thread, so
   * spawn tells one of its own threads from a foreign one in O(1). A task also records the
   * thread's innermost open scope when it starts and, when it finishes, ends every scope the
   * task opened above it and left open (endScopesLeftOpen: cancel, close, innermost first) and
   * fails with IllegalStateException; a call/run body that closed its own scope gets the same
   * check against the enclosing scope. Cost: one ThreadLocal set, get and remove per task.
   *
   * Windows (ProtocolWindows): "scope.pushed-not-started" on the spawner, after its node is
   * published and before Thread.start(); "scope.before-slot" on a spawner under a cap, after
   * its entry checks (deadline, cancellation) and before it takes a slot;
   * "scope.task-finished" (in ScopeTask).
   */

  /** What the first failure of a scope's thread does to the others. */
  public enum FailurePolicy {
    /** The first failure cancels the scope: its other threads are interrupted (the default). */
    CANCEL_OTHERS,
    /** Failures are collected; the other threads run to completion. */
    AWAIT_ALL
  }

  /**
   * The body of {@link Scope#call}: computes a result using the scope.
   *
   * @param <T> the result type
   * @param <X> the checked exception the body may throw (inferred; {@code RuntimeException} when
   *     it throws none)
   */
  @FunctionalInterface
  public interface Body<T, X extends Exception> {
    /**
     * Runs the body.
     *
     * @param scope the open scope, for spawning threads
     * @return the result of {@link Scope#call}
     * @throws X if the body fails
     */
    T apply(Scope scope) throws X;
  }

  /**
   * The body of {@link Scope#run}: uses the scope, returns nothing.
   *
   * @param <X> the checked exception the body may throw (inferred; {@code RuntimeException} when
   *     it throws none)
   */
  @FunctionalInterface
  public interface VoidBody<X extends Exception> {
    /**
     * Runs the body.
     *
     * @param scope the open scope, for spawning threads
     * @throws X if the body fails
     */
    void accept(Scope scope) throws X;
  }

  /** Why a scope was cancelled, when it is not the failure of one of its tasks. */
  private static final class Cancel {
    final String what;
    final @Nullable String timeoutMessage;

    Cancel(String what, @Nullable String timeoutMessage) {
      this.what = what;
      this.timeoutMessage = timeoutMessage;
    }
  }

  private static final Cancel BODY_FAILED = new Cancel("the body threw", null);
  private static final Cancel OWNER_INTERRUPTED = new Cancel("the owner was interrupted", null);
  private static final Cancel OUTER_CLOSED =
      new Cancel("a scope it was opened in was closed first", null);
  private static final Cancel LEFT_OPEN =
      new Cancel("the code that opened it ended without closing it", null);
  /** Not a cancellation: set at the end when nothing cancelled the scope, so nothing later can. */
  private static final Cancel ENDED = new Cancel("the scope ended", null);

  /** How often a spawn waiting for a slot looks for factory threads that died without the task. */
  private static final long REAP_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  /** The innermost open scope of each thread that owns scopes; nesting is checked at the end. */
  private static final ThreadLocal<Scope> INNERMOST = new ThreadLocal<>();

  private static final VarHandle HEAD;
  private static final VarHandle CANCEL_REASON;
  private static final VarHandle FIRST_FAILED;
  private static final VarHandle CLOSED;
  private static final VarHandle SPAWNED;
  private static final VarHandle SCOPES;
  private static final VarHandle INTERRUPT_FAILURE;

  static {
    // JFR: if a recording is running, weft's event classes load now, not inside a first wait.
    WeftJfr.prepareIfRecording();
  }

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      HEAD = l.findVarHandle(Scope.class, "head", ScopeTask.class);
      CANCEL_REASON = l.findVarHandle(Scope.class, "cancelReason", Object.class);
      FIRST_FAILED = l.findVarHandle(Scope.class, "firstFailed", ScopeTask.class);
      CLOSED = l.findVarHandle(Scope.class, "closed", boolean.class);
      SPAWNED = l.findVarHandle(Scope.class, "spawned", long.class);
      SCOPES = l.findStaticVarHandle(Scope.class, "scopes", long.class);
      INTERRUPT_FAILURE = l.findVarHandle(Scope.class, "interruptFailure", Throwable.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** Numbers scopes for their default thread names; getAndAdd, no ordering needed. */
  @SuppressWarnings("unused") // accessed through SCOPES
  private static long scopes;

  private final Thread owner;
  private final String name;
  private final @Nullable String threadPrefix;
  private final @Nullable ThreadFactory factory;
  private final boolean userFactory;
  private final boolean cancelOnFailure;

  /**
   * How many spawns of the owner are in progress (0 or 1: a spawn from inside one, by its
   * ThreadFactory, is refused): read and written only by the owner, so plain. The end refuses
   * to run while it is not zero.
   */
  private int ownerSpawning;
  private final @Nullable Semaphore slots;
  private final int maxConcurrency;
  private final boolean timed;
  private final long deadline;
  private final long timeoutNanos;
  /** The owner's innermost open scope when this one opened (it must end after this one). */
  private final @Nullable Scope enclosing;
  /** The deadline timer's entry; owner-only, plain (set at the owner's first spawn). */
  private @Nullable ScheduledFuture<?> deadlineTimer;

  @SuppressWarnings("unused") // accessed through HEAD
  private @Nullable ScopeTask<?> head;
  @SuppressWarnings("unused") // accessed through CANCEL_REASON
  private @Nullable Object cancelReason;
  @SuppressWarnings("unused") // accessed through FIRST_FAILED
  private @Nullable ScopeTask<?> firstFailed;
  private boolean closed; // accessed plainly by the owner, through CLOSED otherwise
  /**
   * An Error thrown by the park inside the end's Thread.join (JDK 21+: a virtual owner too deep
   * in its stack to unmount, review 30); from then on the end waits without parking, and the
   * error is reported once every thread has ended (see awaitThread). Owner only, plain.
   */
  private @Nullable Error joinFailure;
  @SuppressWarnings("unused") // accessed through SPAWNED
  private long spawned;
  /**
   * What a thread's interrupt() threw during the cancel walk (a Thread subclass from a user
   * factory may override it): CAS from null by the walker when it happens (volatile; further
   * ones are suppressed on it), read with acquire by the owner when it reports the end.
   */
  @SuppressWarnings("unused") // accessed through INTERRUPT_FAILURE
  private @Nullable Throwable interruptFailure;
  /** The JFR event's state while a recording wants dev.weft.Scope events, else null. */
  private final @Nullable JfrStats jfr;

  /**
   * A scope for {@link #linkRareSteps} only: owned by the initializing thread but not on its
   * stack of open scopes, unnumbered (SCOPES is not touched), untimed, uncapped, without a JFR
   * event; nothing is ever spawned into it, and it is never ended.
   */
  private Scope() {
    this.owner = Thread.currentThread();
    this.name = "weft-scope-warm-up";
    this.factory = null;
    this.userFactory = false;
    this.threadPrefix = null;
    this.cancelOnFailure = false;
    this.maxConcurrency = 0;
    this.slots = null;
    this.timed = false;
    this.timeoutNanos = -1L;
    this.deadline = 0L;
    this.enclosing = null;
    this.jfr = null;
  }

  private Scope(Builder b) {
    this.owner = Thread.currentThread();
    this.name = "weft-scope-" + (long) SCOPES.getAndAdd(1L);
    this.factory = b.virtual ? VirtualThreads.factory() : b.factory;
    this.userFactory = !b.virtual && b.factory != null;
    this.threadPrefix = b.prefix != null ? b.prefix : (b.factory == null ? name : null);
    this.cancelOnFailure = b.policy == FailurePolicy.CANCEL_OTHERS;
    this.maxConcurrency = b.maxConcurrency;
    this.slots = b.maxConcurrency > 0 ? new Semaphore(b.maxConcurrency) : null;
    this.timed = b.timeoutNanos >= 0;
    this.timeoutNanos = b.timeoutNanos;
    this.deadline = timed ? System.nanoTime() + b.timeoutNanos : 0L;
    this.enclosing = INNERMOST.get();
    INNERMOST.set(this);
    Object token = WeftJfr.scopeBegin();
    this.jfr = token == null ? null : new JfrStats(token);
  }

  /**
   * What the dev.weft.Scope JFR event reports (see WeftJfr), counted only while a recording
   * asked for the event when the scope opened: threads started, and the peak of those running
   * at once (counted from just before a start to the task's exit).
   */
  private static final class JfrStats {
    final Object token;
    final AtomicLong started = new AtomicLong();
    final AtomicInteger live = new AtomicInteger();
    final AtomicInteger peak = new AtomicInteger();

    JfrStats(Object token) {
      this.token = token;
    }

    void starting() {
      started.incrementAndGet();
      int n = live.incrementAndGet();
      int p;
      while ((p = peak.get()) < n && !peak.compareAndSet(p, n)) {
        // another thread raised the peak: read it again (no lambda: see CoreBytecodeTest)
      }
    }

    void notStarted() {
      started.decrementAndGet();
      live.decrementAndGet();
    }
  }

  /** Commits the dev.weft.Scope event, if one is being recorded; called once, by the owner. */
  private void recordEnd(String outcome) {
    JfrStats j = jfr;
    if (j != null) {
      WeftJfr.scopeEnd(
          j.token, name, j.started.get(), j.peak.get(), Math.max(0, maxConcurrency), outcome);
    }
  }

  private static String outcomeOf(
      @Nullable RuntimeException violation, @Nullable RuntimeException e, boolean interrupted) {
    if (violation != null) {
      return "nesting violated";
    }
    if (e instanceof ScopeTimeoutException) {
      return "timed out";
    }
    if (e != null) {
      return "task failed";
    }
    return interrupted ? "interrupted" : "completed";
  }

  // ---------------------------------------------------------------- factories

  /**
   * Opens a scope with default settings, owned by the calling thread: platform threads named
   * {@code weft-scope-N-M}, first failure cancels the others, no deadline, no cap. Close it with
   * try-with-resources.
   *
   * @return the open scope
   */
  public static Scope open() {
    return new Scope(new Builder());
  }

  /**
   * Returns a builder for a scope with a name prefix, thread factory, virtual threads, failure
   * policy, deadline or concurrency cap.
   *
   * @return a new builder with the default settings
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Runs {@code body} in a new default scope and returns its result once every thread the body
   * spawned has terminated.
   *
   * @param <T> the result type
   * @param <X> the checked exception the body may throw
   * @param body the code that spawns and joins threads
   * @return what {@code body} returned
   * @throws X if the body threw it (with unjoined thread failures suppressed on it)
   * @throws InterruptedException if the owner was interrupted while waiting at the end (the
   *     threads were interrupted and joined first)
   * @throws TaskFailedException if a thread failed and nobody joined it
   * @throws IllegalStateException if the body left a scope it opened (with {@link #open()}) open;
   *     that scope was cancelled and ended first
   * @throws NullPointerException if {@code body} is null
   */
  public static <T, X extends Exception> T call(Body<T, X> body)
      throws X, InterruptedException {
    Objects.requireNonNull(body, "body");
    return new Scope(new Builder()).callBody(body);
  }

  /**
   * Runs {@code body} in a new default scope and returns once every thread it spawned has
   * terminated.
   *
   * @param <X> the checked exception the body may throw
   * @param body the code that spawns threads
   * @throws X if the body threw it (with unjoined thread failures suppressed on it)
   * @throws InterruptedException if the owner was interrupted while waiting at the end (the
   *     threads were interrupted and joined first)
   * @throws TaskFailedException if a thread failed and nobody joined it
   * @throws IllegalStateException if the body left a scope it opened (with {@link #open()}) open;
   *     that scope was cancelled and ended first
   * @throws NullPointerException if {@code body} is null
   */
  public static <X extends Exception> void run(VoidBody<X> body) throws X, InterruptedException {
    Objects.requireNonNull(body, "body");
    new Scope(new Builder()).runBody(body);
  }

  // ---------------------------------------------------------------- spawning

  /**
   * Starts a new thread of this scope that runs {@code task}. If the scope has a concurrency cap
   * and it is reached, waits (interruptibly) until one of the scope's threads finishes. If the
   * scope has been cancelled, starts nothing: the returned handle is done, and its
   * {@code join()} throws {@link TaskFailedException} with a
   * {@link java.util.concurrent.CancellationException} cause (the task never runs).
   *
   * @param <T> the task's result type
   * @param task the code to run; it may use the caller's local data, because the scope ends only
   *     after the thread has terminated
   * @return the handle to join the thread
   * @throws InterruptedException if interrupted while waiting for a slot under the cap
   * @throws ScopeTimeoutException if the scope's deadline has passed (the scope is cancelled)
   * @throws IllegalStateException if the scope has ended, if the calling thread is neither the
   *     owner nor one of the scope's threads, or if the configured {@code ThreadFactory}
   *     returned null or a thread that was already started (nothing is started then), or if
   *     called from inside a spawn of the same thread into this scope (a {@code ThreadFactory}
   *     that spawns into the scope it makes threads for)
   * @throws NullPointerException if {@code task} is null
   * @throws RuntimeException (or {@code Error}) what the {@code ThreadFactory} or
   *     {@code Thread.start()} threw, unchanged (e.g. {@code OutOfMemoryError} when no native
   *     thread can be made); nothing is started and the slot, if any, is given back (a
   *     thread short of stack gets its {@code StackOverflowError} from a probe before the
   *     spawn takes a slot or lists the task)
   */
  public <T> ScopedThread<T> spawn(Callable<? extends T> task)
      throws InterruptedException {
    Objects.requireNonNull(task, "task");
    return spawnTask(task, null);
  }

  /**
   * Starts a new thread of this scope that runs {@code task}; like {@link #spawn(Callable)} for
   * code that returns nothing (its handle's {@code join()} returns {@code null}).
   *
   * @param task the code to run
   * @return the handle to join the thread
   * @throws InterruptedException if interrupted while waiting for a slot under the cap
   * @throws ScopeTimeoutException if the scope's deadline has passed (the scope is cancelled)
   * @throws IllegalStateException if the scope has ended, if the calling thread is neither the
   *     owner nor one of the scope's threads, or if the configured {@code ThreadFactory}
   *     returned null or a thread that was already started (nothing is started then), or if
   *     called from inside a spawn of the same thread into this scope (a {@code ThreadFactory}
   *     that spawns into the scope it makes threads for)
   * @throws NullPointerException if {@code task} is null
   * @throws RuntimeException (or {@code Error}) what the {@code ThreadFactory} or
   *     {@code Thread.start()} threw, unchanged (e.g. {@code OutOfMemoryError} when no native
   *     thread can be made); nothing is started and the slot, if any, is given back (a
   *     thread short of stack gets its {@code StackOverflowError} from a probe before the
   *     spawn takes a slot or lists the task)
   */
  public ScopedThread<Void> spawn(Runnable task) throws InterruptedException {
    Objects.requireNonNull(task, "task");
    return spawnTask(null, task);
  }

  private <T> ScopedThread<T> spawnTask(
      @Nullable Callable<? extends T> c, @Nullable Runnable r) throws InterruptedException {
    Thread me = Thread.currentThread();
    if (me != owner) {
      ScopeTask<?> spawner = checkForeignSpawner(me);
      if (spawner.spawning != 0) {
        throw nestedSpawn(me);
      }
      spawner.spawning++;
      try {
        return spawnChecked(me, c, r);
      } finally {
        spawner.spawning--; // a plain write, no call: safe even when the stack is exhausted
      }
    }
    if (closed) {
      checkForeignSpawner(me); // throws: the scope has ended
    }
    if (ownerSpawning != 0) {
      throw nestedSpawn(me);
    }
    ownerSpawning++; // the end refuses to run from inside the owner's own spawn (review 18)
    try {
      return spawnChecked(me, c, r);
    } finally {
      ownerSpawning--; // a plain write, no call: safe even when the stack is exhausted
    }
  }

  private <T> ScopedThread<T> spawnChecked(
      Thread me, @Nullable Callable<? extends T> c, @Nullable Runnable r)
      throws InterruptedException {
    if (timed && deadline - System.nanoTime() <= 0) {
      throw timedOut();
    }
    if (isCancelled()) {
      return new ScopeTask<>(this, c, r, false); // never runs: no factory call, no thread
    }
    // A StackOverflowError strikes here, before a slot is taken or the task listed, rather than
    // in Thread.start() and then in the clean-up below (which would keep the slot).
    StackHeadroom.ensure(StackHeadroom.SPAWN_FRAMES);
    Semaphore s = slots;
    if (s != null) {
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("scope.before-slot");
      }
      acquireSlot(s);
      if (timed && deadline - System.nanoTime() <= 0) {
        // The deadline passed while this spawn waited: report it, as a spawn that starts after
        // the deadline does. The slot may have come from the deadline's own cancellation (a
        // cancelled task gave it back); returning a never-running handle then hid the timeout
        // (CI under load, session 31: Review24FixesTest's slot wait past the deadline).
        s.release();
        throw timedOut();
      }
      if (isCancelled()) { // cancelled while this spawn waited for the slot
        s.release();
        return new ScopeTask<>(this, c, r, false);
      }
    }
    ScopeTask<T> task;
    try {
      if (timed && me == owner && deadlineTimer == null) {
        // The first spawn is always the owner's: from now on a thread may run past the deadline
        deadlineTimer = DeadlineTimer.schedule(this, deadline - System.nanoTime());
      }
      task = new ScopeTask<>(this, c, r, true);
    } catch (Throwable e) { // the factory (or the timer) failed: give the slot back, unchanged
      if (s != null) {
        s.release();
      }
      throw e;
    }
    push(task);
    try {
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("scope.pushed-not-started");
      }
      if (jfr != null) {
        jfr.starting(); // before the start: the task's exit may come first
      }
      task.thread.start();
    } catch (Throwable e) { // e.g. OutOfMemoryError: unable to create native thread
      // A StackOverflowError may hit here again, cutting this short: the slot first (later
      // spawns need it), then the node (the end settles a node left unsettled), then JFR.
      if (task.thread.getState() == Thread.State.NEW) { // it did not start: it never will
        if (s != null) {
          s.release();
        }
        task.setAbandonedRelease();
        if (jfr != null) {
          jfr.notStarted();
        }
      } else {
        task.setStartedRelease(); // a Thread subclass whose start() threw after starting
      }
      throw e;
    }
    task.setStartedRelease();
    return task;
  }

  /**
   * A spawn from inside a spawn of the same thread into this scope: only the user's code that a
   * spawn runs (its ThreadFactory, or a Thread subclass's start()) can make one. Refused always:
   * under maxConcurrency the outer spawn holds a slot while it calls the factory, and the inner
   * one waited for a slot only a running task could free, for good when none ran (review 24);
   * without a cap it would work, but one rule is easier to keep than a rule that depends on
   * how many slots happen to be free.
   */
  private IllegalStateException nestedSpawn(Thread me) {
    return new IllegalStateException(
        ThreadNames.of(me) + " spawned into " + name + " from inside its own spawn into it"
            + " (from the ThreadFactory, or a Thread's start()): a ThreadFactory must not spawn"
            + " into the scope it makes threads for");
  }

  /**
   * Slow path of the spawn check: the caller is not the owner, or the scope has ended. Returns
   * the caller's task when it is a thread of this scope; throws otherwise.
   */
  private ScopeTask<?> checkForeignSpawner(Thread me) {
    if (me == owner) {
      throw new IllegalStateException(
          name + " has ended: spawn threads before the scope ends, or open a new scope");
    }
    ScopeTask<?> running = ScopeTask.runningOnThisThread();
    if (running != null && running.scope == this) {
      return running; // a thread of this scope, running its task: the scope cannot have ended
    }
    throw new IllegalStateException(
        ThreadNames.of(me) + " is neither the owner (" + ThreadNames.of(owner) + ") nor a thread of "
            + name + (closedAcquire() ? ", which has ended" : "")
            + ": only they may spawn; open a scope in this thread instead");
  }

  private void acquireSlot(Semaphore s) throws InterruptedException {
    // A free slot first, without waiting: Semaphore.acquire throws for a pending interrupt even
    // when a permit is free, so a spawn under a cap threw InterruptedException (with no
    // message) where the same spawn without a cap started its task, though spawn promises it
    // only while waiting for a slot (review 24). The interrupt status stays set, as without a cap.
    if (s.tryAcquire()) {
      return;
    }
    try {
      acquireSlotWaiting(s);
    } catch (InterruptedException e) {
      // The semaphore's own exception says nothing. The spawn's probe (SPAWN_FRAMES) left the
      // headroom this message needs; the interrupt status was cleared by the semaphore, as the
      // InterruptedException convention has it.
      throw new InterruptedException(
          "interrupted while waiting for a slot of " + name + " (maxConcurrency "
              + maxConcurrency + "); nothing was spawned");
    }
  }

  private void acquireSlotWaiting(Semaphore s) throws InterruptedException {
    boolean reap = usesThreadFactory();
    if (!timed && !reap) {
      s.acquire();
      return;
    }
    while (true) {
      long wait = reap ? REAP_NANOS : Long.MAX_VALUE;
      if (timed) {
        long left = deadline - System.nanoTime();
        // tryAcquire(<= 0) still succeeds when a slot is free: check the deadline first
        if (left <= 0) {
          throw timedOut();
        }
        wait = Math.min(wait, left);
      }
      if (s.tryAcquire(wait, TimeUnit.NANOSECONDS)) {
        return;
      }
      if (reap) {
        reapThreadsThatNeverRan();
      }
    }
  }

  /**
   * A factory's thread that returned without running its task holds its slot until someone
   * notices; a spawn waiting for a slot does, so that it cannot wait for that slot forever.
   */
  private void reapThreadsThatNeverRan() {
    for (ScopeTask<?> n = headAcquire(); n != null; n = n.next) {
      if (n.stateAcquire() == ScopeTask.NEW && n.startedAcquire() && !n.thread.isAlive()) {
        n.settleIfNeverRan();
      }
    }
  }

  private void push(ScopeTask<?> task) {
    ScopeTask<?> h;
    do {
      h = headAcquire();
      task.next = h; // published by the CAS below
    } while (!HEAD.compareAndSet(this, h, task));
  }

  /** Whether threads come from a user's ThreadFactory (which might not run the task). */
  boolean usesThreadFactory() {
    return userFactory;
  }

  /**
   * The thread of a handle whose task never runs (spawned into a cancelled scope): named like
   * the thread it stands for, never started, not made by the factory.
   */
  Thread placeholderThread(Runnable task) {
    long index = (long) SPAWNED.getAndAdd(this, 1L);
    String prefix = threadPrefix;
    return new Thread(task, (prefix != null ? prefix : name) + "-" + index);
  }

  String name() {
    return name;
  }

  /** What cancelled the scope, for messages. */
  String cancelCause() {
    Object reason = cancelReasonAcquire();
    if (reason instanceof ScopeTask<?> t) {
      return ThreadNames.of(t.thread) + " failed";
    }
    return reason instanceof Cancel c ? c.what : "not cancelled";
  }

  /** Creates the (unstarted) thread of a task; called from the task's constructor. */
  Thread newThread(Runnable task) {
    long index = (long) SPAWNED.getAndAdd(this, 1L);
    String prefix = threadPrefix;
    ThreadFactory f = factory;
    if (f == null) {
      return new Thread(task, prefix + "-" + index);
    }
    Thread t = f.newThread(task);
    if (t == null) {
      throw new IllegalStateException(
          "the ThreadFactory of " + name + " returned null instead of a thread");
    }
    if (t.getState() != Thread.State.NEW) {
      throw new IllegalStateException("the ThreadFactory of " + name
          + " returned a thread that was already started (" + ThreadNames.of(t)
          + "); it must return a new, unstarted thread");
    }
    if (prefix != null) {
      t.setName(prefix + "-" + index);
    }
    return t;
  }

  // ---------------------------------------------------------------- task callbacks

  boolean isCancelled() {
    // volatile: the store-load pairing with cancel()'s walk, see the algorithm notes
    return CANCEL_REASON.getVolatile(this) != null;
  }

  void taskFailed(ScopeTask<?> task) {
    if (FIRST_FAILED.compareAndSet(this, null, task) && cancelOnFailure) {
      cancel(task);
    }
  }

  void taskExited() {
    JfrStats j = jfr;
    if (j != null) {
      j.live.decrementAndGet();
    }
    Semaphore s = slots;
    if (s != null) {
      s.release();
    }
  }

  /** The timeout message if the deadline cancelled the scope, else null. */
  @Nullable String deadlineMessage() {
    return cancelReasonAcquire() instanceof Cancel c ? c.timeoutMessage : null;
  }

  boolean hasDeadline() {
    return timed;
  }

  long deadline() {
    return deadline;
  }

  /**
   * Waits until {@code t}'s task is done or its thread terminated, but throws
   * ScopeTimeoutException (cancelling) at the scope's deadline.
   */
  void joinUntilDeadline(ScopeTask<?> t) throws InterruptedException {
    if (!t.awaitDone(true, deadline)) { // waits for the task, not its thread (review 23)
      throw timedOut();
    }
  }

  /** Deadline entries pending in the shared timer; for tests. */
  static int pendingDeadlines() {
    return DeadlineTimer.pending();
  }

  /** Called by the deadline timer at the deadline: cancels the scope unless it ended. */
  void deadlinePassed() {
    if (cancelReasonAcquire() == null) {
      cancel(new Cancel("the deadline passed", timeoutMessage()));
    }
  }

  /**
   * Cancels the scope for its deadline (if not cancelled yet) and returns the exception. A scope
   * thread of this scope that meets the passed deadline is interrupted whoever cancelled first
   * (the timer usually has, and its walk found this thread busy or before it swallowed that
   * interrupt): a later wait of its task, which may catch the exception, must still end
   * (review 17e). The owner is not: it gets the exception and the end waits for the threads.
   */
  private ScopeTimeoutException timedOut() {
    String msg = timeoutMessage();
    if (!cancel(new Cancel("the deadline passed", msg))) {
      interruptIfScopeThread();
    }
    return new ScopeTimeoutException(msg);
  }

  /**
   * Interrupts the calling thread if it is a thread of this scope running its task: called when
   * it meets the passed deadline (in a join, a spawn, a wait for a slot), also when the joined
   * task had already ended (review 18: its join reported the deadline without interrupting).
   */
  void interruptIfScopeThread() {
    ScopeTask<?> running = ScopeTask.runningOnThisThread();
    if (running != null && running.scope == this) {
      interruptForCancel(Thread.currentThread());
    }
  }

  private String timeoutMessage() {
    List<String> running = new ArrayList<>();
    for (ScopeTask<?> n = headAcquire(); n != null; n = n.next) {
      if (n.stateAcquire() == ScopeTask.NEW) {
        running.add(ThreadNames.of(n.thread));
      }
    }
    Collections.reverse(running); // spawn order
    String passed = name + " passed its deadline (timeout " + Duration.ofNanos(timeoutNanos) + ")";
    return running.isEmpty() ? passed + " before it ended; no thread was still running"
        : passed + "; still running, interrupted and joined: " + running;
  }

  /** Cancels the scope once: records the reason and interrupts every unfinished thread. */
  private boolean cancel(Object reason) {
    if (!CANCEL_REASON.compareAndSet(this, null, reason)) {
      return false;
    }
    Thread me = Thread.currentThread();
    boolean meToo = false;
    for (ScopeTask<?> n = headVolatile(); n != null; n = n.next) {
      if (n.stateAcquire() != ScopeTask.NEW) {
        continue;
      }
      if (n.thread != me) {
        interruptForCancel(n.thread);
      } else if (!(reason instanceof ScopeTask<?> failed && failed.thread == me)) {
        // A scope thread that noticed the deadline (or found a sibling that never ran) is
        // cancelled like the others: it gets the exception and its interrupt status, so that a
        // later wait of its task (which may catch the exception) still ends. Only the failing
        // task's own thread is not: its task has finished.
        meToo = true;
      }
    }
    if (meToo) {
      interruptForCancel(me);
    }
    return true;
  }

  /**
   * Interrupts one thread for the cancel walk. A thread from a user factory may be a subclass
   * whose interrupt() throws: the walk must still reach every other thread and the end must
   * still wait for all of them (issue 18 review), so the exception is kept for the end's report.
   */
  private void interruptForCancel(Thread t) {
    try {
      t.interrupt();
    } catch (Throwable e) { // user code (an override of interrupt()), Errors included: the walk
      // must go on and the end must still join every thread, whatever interrupt() throws
      if (!casInterruptFailure(e)) {
        Throwable first = interruptFailureAcquire();
        if (first != null && first != e) {
          first.addSuppressed(e); // Throwable.addSuppressed is itself thread-safe
        }
      }
    }
  }

  /** Volatile CAS from null: the first failure of the walk; the owner may read it any time. */
  private boolean casInterruptFailure(Throwable e) {
    return INTERRUPT_FAILURE.compareAndSet(this, null, e);
  }

  /**
   * Acquire: the owner sees the recorded exception's state. The owner does not wait for a walk
   * that another thread (the deadline timer) may still be running: that walk may run user code
   * (interrupt() overrides) that could block on something the owner holds; an exception it
   * records after the end has reported is not reported (documented).
   */
  private @Nullable Throwable interruptFailureAcquire() {
    return (Throwable) INTERRUPT_FAILURE.getAcquire(this);
  }

  // ---------------------------------------------------------------- the end

  /**
   * Ends the scope: waits until every thread of the scope has terminated, then reports failures
   * nobody joined. Only the owner may close; a second call does nothing.
   *
   * <p>If the owner is interrupted while waiting, the threads are interrupted (the scope is
   * cancelled) and still joined, and the owner's interrupt status is re-asserted before this
   * method returns or throws. Use {@link #call}/{@link #run} to get the interruption as an
   * {@link InterruptedException} instead.
   *
   * @throws TaskFailedException if a thread failed and nobody joined it (the first failure as
   *     cause, further ones suppressed)
   * @throws ScopeTimeoutException if the scope's deadline passed before the scope ended
   * @throws IllegalStateException if called by another thread than the owner, if a scope the
   *     owner opened after this one was still open (it was cancelled and ended first; this
   *     scope's own report is suppressed on the exception), or if called from inside one of the
   *     owner's spawns (by the {@code ThreadFactory} or the {@code start()} of its thread; the
   *     scope is left open)
   */
  @Override
  public void close() {
    checkOwner();
    if (closed) {
      return;
    }
    checkNotInOwnersSpawn();
    RuntimeException violation = endInnerScopes();
    boolean interrupted = awaitAll();
    RuntimeException e = outcome();
    recordEnd(outcomeOf(violation, e, interrupted));
    forgetTasks();
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    RuntimeException thrown = violation != null ? withSuppressed(violation, e) : e;
    reportJoinFailure(thrown);
    if (thrown != null) {
      throw thrown;
    }
  }

  /**
   * After an end whose Thread.join failed with an Error (see {@link #joinFailure}) and then
   * waited without parking: the error is never swallowed. It is attached to the exception the
   * end throws, or thrown itself if the end has none.
   */
  private void reportJoinFailure(@Nullable Throwable thrown) {
    Error jf = joinFailure;
    if (jf == null) {
      return;
    }
    joinFailure = null;
    if (thrown == null) {
      throw jf;
    }
    if (thrown != jf) {
      thrown.addSuppressed(jf);
    }
  }

  /**
   * Refuses to end the scope from inside one of its owner's spawns (review 18), into this scope
   * or into a scope opened inside it, which its end would end first (review 22: a factory of an
   * inner scope closed the outer one, whose end then could not end the inner one and went on
   * without it, leaving the inner scope's threads running after the outer had ended).
   */
  private void checkNotInOwnersSpawn() {
    // Only the owner ends a scope, and the scopes above this one on the owner's stack are the
    // owner's too, so only this thread writes ownerSpawning of any of them: plain reads.
    // Only scopes above this one count: once its end has taken it off the stack (call/run),
    // the walk finds scopes it was opened in, whose spawns may legitimately be running it.
    Scope spawning = null;
    for (Scope x = INNERMOST.get(); x != null; x = x.enclosing) {
      if (x == this) {
        if (spawning != null) {
          throw new IllegalStateException(name + " cannot end from inside a spawn into "
              + spawning.name + ", a scope opened inside it that its end would end first (that"
              + " scope's ThreadFactory, or the start() of a thread it made, tried to end "
              + name + "): the thread being spawned would outlive the end; end the scopes after"
              + " spawn returns");
        }
        break;
      }
      if (spawning == null && x.ownerSpawning != 0) {
        spawning = x;
      }
    }
    if (ownerSpawning != 0) {
      throw new IllegalStateException(name + " cannot end from inside one of its owner's spawns"
          + " (its ThreadFactory, or the start() of a thread that factory made, tried to end"
          + " it): the thread being spawned would outlive the end; end the scope after spawn"
          + " returns");
    }
  }

  private void checkOwner() {
    if (Thread.currentThread() != owner) {
      throw new IllegalStateException(ThreadNames.of(Thread.currentThread())
          + " tried to close " + name + ", which only its owner " + ThreadNames.of(owner)
          + " may close");
    }
  }

  private static RuntimeException withSuppressed(RuntimeException e, @Nullable Throwable more) {
    if (more != null && more != e) {
      e.addSuppressed(more);
    }
    return e;
  }

  /** Runs a call body in this (new) scope; the calling thread is the owner. */
  <T, X extends Exception> T callBody(Body<T, X> body)
      throws X, InterruptedException {
    T result;
    try {
      result = body.apply(this);
    } catch (Throwable t) {
      Error carrier = endAfterBodyFailure(t);
      if (carrier != null) {
        throw carrier; // t could not carry the scope's failures: see attachAll
      }
      throw t;
    }
    end();
    return result;
  }

  <X extends Exception> void runBody(VoidBody<X> body) throws X, InterruptedException {
    try {
      body.accept(this);
    } catch (Throwable t) {
      Error carrier = endAfterBodyFailure(t);
      if (carrier != null) {
        throw carrier; // t could not carry the scope's failures: see attachAll
      }
      throw t;
    }
    end();
  }

  /** The end of call/run after the body returned normally. */
  private void end() throws InterruptedException {
    try {
      endAfterBody();
    } catch (Throwable t) {
      reportJoinFailure(t);
      throw t;
    }
    reportJoinFailure(null);
  }

  private void endAfterBody() throws InterruptedException {
    if (closed) { // the body closed the scope itself; scopes it opened after that must end too
      IllegalStateException leftOpen = endScopesLeftOpen(enclosing, "the body of " + name);
      if (leftOpen != null) {
        throw leftOpen;
      }
      return;
    }
    RuntimeException violation = endInnerScopes();
    boolean interrupted = awaitAll();
    if (violation != null) {
      RuntimeException e = outcome();
      recordEnd(outcomeOf(violation, e, interrupted));
      forgetTasks();
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      throw withSuppressed(violation, e);
    }
    if (interrupted) {
      recordEnd("interrupted");
      InterruptedException ie = new InterruptedException(
          name + ": the owner was interrupted while waiting for the scope's threads;"
              + " they were interrupted and joined");
      // The deadline, if it cancelled the scope first, is reported too (review 22: it was
      // dropped here, while close() and a failed body report it).
      if (cancelReasonAcquire() instanceof Cancel c && c.timeoutMessage != null) {
        ie.addSuppressed(new ScopeTimeoutException(c.timeoutMessage));
      }
      addUnjoinedFailures(ie, null);
      forgetTasks();
      throw ie;
    }
    RuntimeException e = outcome();
    recordEnd(outcomeOf(null, e, false));
    forgetTasks();
    if (e != null) {
      throw e;
    }
  }

  /**
   * The end of call/run after the body threw {@code bodyFailure}: cancels, ends the inner
   * scopes, joins, and attaches what else went wrong to {@code bodyFailure} as suppressed.
   *
   * @return null if {@code bodyFailure} is to be rethrown, else the error to throw in its place
   *     (see {@link #attachAll})
   */
  private @Nullable Error endAfterBodyFailure(Throwable bodyFailure) {
    List<Throwable> more = new ArrayList<>();
    if (closed) { // the body closed the scope itself; scopes it opened after that must end too
      IllegalStateException leftOpen = endScopesLeftOpen(enclosing, "the body of " + name);
      if (leftOpen != null) {
        more.add(leftOpen);
      }
      return attachAll(bodyFailure, more);
    }
    if (bodyFailure instanceof InterruptedException) {
      cancel(OWNER_INTERRUPTED); // whatever the policy: an interrupt asks everything to stop
    } else if (cancelOnFailure) {
      cancel(BODY_FAILED);
    }
    RuntimeException violation = endInnerScopes();
    boolean interrupted = awaitAll();
    recordEnd(
        violation != null ? "nesting violated"
            : bodyFailure instanceof ScopeTimeoutException ? "timed out"
            : bodyFailure instanceof InterruptedException ? "interrupted"
            : "body failed");
    Object reason = cancelReasonAcquire();
    if (reason instanceof Cancel c) {
      String tm = c.timeoutMessage;
      if (tm != null && !(bodyFailure instanceof ScopeTimeoutException)) {
        more.add(new ScopeTimeoutException(tm));
      }
    }
    collectUnjoinedFailures(more, bodyFailure, null);
    forgetTasks();
    if (violation != null) {
      more.add(violation);
    }
    Error jf = joinFailure;
    if (jf != null) { // never swallowed: see reportJoinFailure
      joinFailure = null;
      more.add(jf);
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    return attachAll(bodyFailure, more);
  }

  /**
   * Attaches {@code more} to the body's {@code failure} as suppressed exceptions. A throwable
   * whose suppressed list is disabled ignores {@code addSuppressed}: one created so by its own
   * code (Throwable's protected constructor) is rethrown without them, as documented; but the
   * errors the JVM raises itself are built without a constructor and are all like that (a
   * StackOverflowError, an OutOfMemoryError from the JVM's preallocated ones; review 22), and
   * losing a task's failure because the body overflowed its stack would break "no failure is
   * ever lost". For those two the scope throws a new error of the same class instead, with the
   * JVM's as its cause and {@code more} suppressed.
   *
   * @return null if {@code failure} carries {@code more} (or nothing could carry them), else
   *     the error to throw in its place
   */
  private @Nullable Error attachAll(Throwable failure, List<Throwable> more) {
    if (more.isEmpty()) {
      return null;
    }
    int before = failure.getSuppressed().length;
    for (Throwable x : more) {
      failure.addSuppressed(x);
    }
    if (failure.getSuppressed().length > before) {
      return null;
    }
    String msg = name + ": the body threw the JVM's " + failure.getClass().getSimpleName()
        + " (its cause), which cannot carry suppressed exceptions; the scope's other failures"
        + " are suppressed here";
    Error carrier;
    if (failure instanceof StackOverflowError) {
      carrier = new StackOverflowError(msg);
    } else if (failure instanceof OutOfMemoryError) {
      carrier = new OutOfMemoryError(msg);
    } else {
      return null; // created with suppression disabled by its own code: documented
    }
    carrier.initCause(failure);
    carrier.setStackTrace(failure.getStackTrace());
    for (Throwable x : more) {
      carrier.addSuppressed(x);
    }
    return carrier;
  }

  /**
   * Checks the nesting of the owner's scopes at the start of this scope's end: scopes that the
   * owner opened after this one and has not ended yet are cancelled and ended first, innermost
   * first (each waits for its threads as its close() does), and this scope is taken off the
   * owner's stack.
   *
   * @return null if the nesting was right, else the IllegalStateException to report (after this
   *     scope has ended too), with the inner scopes' own failures suppressed
   */
  private @Nullable RuntimeException endInnerScopes() {
    Scope top = INNERMOST.get();
    if (top == this) {
      pop();
      return null;
    }
    boolean found = false;
    for (Scope x = top; x != null; x = x.enclosing) {
      if (x == this) {
        found = true;
        break;
      }
    }
    if (!found) {
      return null; // not on the stack (cannot happen for an open scope); leave the stack alone
    }
    List<String> inner = new ArrayList<>();
    List<RuntimeException> failures = new ArrayList<>();
    for (Scope x = top; x != null && x != this; x = INNERMOST.get()) {
      inner.add(x.name);
      x.cancel(OUTER_CLOSED); // like an exception leaving its block: its threads are cancelled
      try {
        x.close(); // x is the innermost now: its own check passes and pops it
      } catch (RuntimeException e) {
        failures.add(e);
      }
      if (INNERMOST.get() == x) {
        x.pop(); // defensive: an ended scope is never on the stack, so this does not happen
      }
    }
    pop();
    IllegalStateException e = new IllegalStateException(name + " was closed while the scopes "
        + inner + ", opened inside it by " + ThreadNames.of(owner) + ", were still open; they were "
        + "ended first. Close nested scopes innermost first (try-with-resources does)");
    for (RuntimeException f : failures) {
      e.addSuppressed(f);
    }
    return e;
  }

  /** The calling thread's innermost open scope, or null; read by a task when it starts. */
  static @Nullable Scope innermost() {
    return INNERMOST.get();
  }

  /**
   * Ends the scopes that the calling thread opened above {@code base} on its stack of open
   * scopes and left open when the code that opened them finished (a scope thread's task, or a
   * call/run body that closed its own scope first): each is cancelled and ended, innermost
   * first, as an out-of-order close ends inner scopes. Without this, their threads would outlive
   * the enclosing scope (issue 18 review: a task that returned with a scope still open).
   *
   * @param base the thread's innermost scope when that code started (null: none)
   * @param who what left them open, for the message
   * @return null if nothing was left open, else the IllegalStateException to report, naming the
   *     scopes, with their own failures suppressed
   */
  static @Nullable IllegalStateException endScopesLeftOpen(@Nullable Scope base, String who) {
    Scope top = INNERMOST.get();
    if (top == base || atOrBelow(top, base)) {
      return null; // the fast path is one ThreadLocal read; base itself may have been closed
    }
    List<String> names = new ArrayList<>();
    List<RuntimeException> failures = new ArrayList<>();
    for (Scope x = top; x != null && !atOrBelow(x, base); x = INNERMOST.get()) {
      names.add(x.name);
      x.cancel(LEFT_OPEN);
      try {
        x.close(); // x is the innermost: its own nesting check passes and pops it
      } catch (RuntimeException e) {
        failures.add(e);
      }
      if (INNERMOST.get() == x) {
        x.pop(); // defensive: an ended scope is never on the stack
      }
    }
    IllegalStateException e = new IllegalStateException(who + " ended with the scopes " + names
        + " still open; they were cancelled and ended. Close every scope you open"
        + " (try-with-resources, or Scope.call/run)");
    for (RuntimeException f : failures) {
      e.addSuppressed(f);
    }
    return e;
  }

  /**
   * Whether {@code x} is {@code base} or a scope {@code base} was opened in (its enclosing
   * chain): the code that recorded {@code base} did not open it, so it must not be ended for
   * that code (the code may have closed {@code base} itself, in order or not; found by review).
   */
  private static boolean atOrBelow(@Nullable Scope x, @Nullable Scope base) {
    if (x == null) {
      return true; // the bottom of the stack: nothing left to end
    }
    for (Scope b = base; b != null; b = b.enclosing) {
      if (b == x) {
        return true;
      }
    }
    return false;
  }

  /** Takes this scope off its owner's stack of open scopes (it is the innermost). */
  private void pop() {
    Scope outer = enclosing;
    if (outer == null) {
      INNERMOST.remove(); // leave nothing behind in pooled threads
    } else {
      INNERMOST.set(outer);
    }
  }

  /**
   * Waits until every thread of the scope, including threads spawned by scope threads
   * meanwhile, has terminated, then seals the scope (see {@link #seal}) and marks it closed.
   * Keeps waiting when interrupted (cancelling the scope) and when the deadline passes
   * (cancelling the scope).
   *
   * <p>A node published before its thread was started (its spawner is between push and start)
   * is deferred to the end of the pass, and the deferred nodes are taken oldest first: its
   * spawner is the owner (now here, so past its spawns) or a scope thread whose node is older,
   * so that thread was joined earlier in this pass (deferred or not) or in an earlier pass, and
   * has left its spawn. A spawn settles its node (started or abandoned) before it returns or
   * throws, except when an Error hits its own recovery (a StackOverflowError in Thread.start()
   * and again in the catch block): such a node is settled here, by its thread's state, instead
   * of being waited for forever (review 17e).
   *
   * @return whether the owner was interrupted while waiting
   */
  private boolean awaitAll() {
    checkNotInOwnersSpawn(); // also reached for inner scopes that an outer end ends first
    boolean interrupted = false;
    ScopeTask<?> seen = null;
    for (ScopeTask<?> h = headAcquire(); h != seen; h = headAcquire()) {
      List<ScopeTask<?>> unstarted = null;
      for (ScopeTask<?> n = h; n != seen && n != null; n = n.next) {
        if (n.launched()) {
          interrupted |= awaitTask(n);
        } else {
          if (unstarted == null) {
            unstarted = new ArrayList<>();
          }
          unstarted.add(n);
        }
      }
      if (unstarted != null) {
        for (int i = unstarted.size() - 1; i >= 0; i--) { // oldest first: spawners come first
          ScopeTask<?> n = unstarted.get(i);
          if (!n.launched()) {
            settleLeftBySpawner(n);
          }
          interrupted |= awaitTask(n);
        }
      }
      seen = h;
    }
    seal();
    setClosedRelease();
    return interrupted;
  }

  /**
   * Settles a node that its spawner left unsettled: only an Error thrown inside the spawn's own
   * recovery does that (a StackOverflowError that hit Thread.start() and then the catch block
   * too, review 17e). The spawner has left spawn (see awaitAll), so nobody else will start the
   * thread or settle the node: a thread still NEW never ran, any other started.
   */
  private void settleLeftBySpawner(ScopeTask<?> n) {
    if (n.thread.getState() == Thread.State.NEW) {
      n.setAbandonedRelease();
    } else {
      n.setStartedRelease();
    }
  }

  /** Waits for one launched node's thread to terminate; a task that never ran fails here. */
  private boolean awaitTask(ScopeTask<?> n) {
    if (!n.startedAcquire()) {
      return false; // abandoned: its thread never started
    }
    boolean interrupted = awaitThread(n.thread);
    n.settleIfNeverRan();
    return interrupted;
  }

  /**
   * After the end has joined every thread and collected every failure to report: drops the task
   * list, so that a handle (or the scope object) kept after the end reaches only its own task.
   * Before, it reached every sibling through the scope's head and the nodes' next links, with
   * their results, failures and threads (review 23: 16 of 16 objects of a scope of 8 tasks).
   * Nothing walks the list after the end: spawn is refused, every thread has terminated, and a
   * late deadline timer finds the scope sealed. Plain writes of next: no other thread reads them.
   */
  private void forgetTasks() {
    ScopeTask<?> n = (ScopeTask<?>) HEAD.getAndSet(this, null);
    while (n != null) {
      ScopeTask<?> next = n.next;
      n.next = null;
      n = next;
    }
  }

  /**
   * After every thread terminated: stops the deadline timer, and fixes the scope's cancel
   * reason: the deadline if it has passed (the scope did not end in time) and nothing else
   * cancelled the scope first, else ENDED, so that a timer firing late cannot cancel it now.
   */
  private void seal() {
    ScheduledFuture<?> timer = deadlineTimer;
    if (timer != null) {
      deadlineTimer = null;
      timer.cancel(false); // removed from the timer's queue (removeOnCancel)
    }
    if (timed && deadline - System.nanoTime() <= 0) {
      cancel(new Cancel("the deadline passed", timeoutMessage()));
    } else {
      CANCEL_REASON.compareAndSet(this, null, ENDED);
    }
  }

  private boolean awaitThread(Thread t) {
    boolean interrupted = false;
    while (t.isAlive()) {
      try {
        if (timed && cancelReasonAcquire() == null) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            cancel(new Cancel("the deadline passed", timeoutMessage()));
            continue;
          }
          if (joinFailure != null) {
            spinWhileAlive(t, left);
          } else {
            t.join(left / 1_000_000L, (int) (left % 1_000_000L));
          }
        } else if (joinFailure != null) {
          spinWhileAlive(t, Long.MAX_VALUE);
        } else {
          t.join();
        }
      } catch (InterruptedException e) {
        interrupted = true;
        cancel(OWNER_INTERRUPTED);
      } catch (Error e) {
        // The park inside join() failed: on JDK 21+ a virtual owner whose stack is too deep to
        // unmount gets a StackOverflowError from it (review 30: close() then threw with a task
        // still running, which is the one thing a scope must never do). The thread is still
        // alive: wait for it without parking, and report the error once the end is over.
        if (joinFailure == null) {
          joinFailure = e;
        } else if (joinFailure != e) {
          joinFailure.addSuppressed(e);
        }
      }
    }
    return interrupted;
  }

  /**
   * Waits for {@code t} to terminate without parking, for at most {@code nanos}: only after a
   * park failed (see {@link #joinFailure}). It keeps its carrier busy, as a pinned virtual
   * thread's park would; an interrupt is reported as join's would be.
   */
  private static void spinWhileAlive(Thread t, long nanos) throws InterruptedException {
    long start = System.nanoTime();
    while (t.isAlive() && System.nanoTime() - start < nanos) {
      if (Thread.interrupted()) {
        throw new InterruptedException();
      }
      Thread.onSpinWait();
    }
  }

  /**
   * After all joins: the exception the end of the scope reports (null if none), with every
   * unjoined failure attached.
   */
  private @Nullable RuntimeException outcome() {
    Object reason = cancelReasonAcquire();
    if (reason instanceof Cancel c) {
      String tm = c.timeoutMessage;
      if (tm != null) {
        ScopeTimeoutException e = new ScopeTimeoutException(tm);
        addUnjoinedFailures(e, null);
        return e;
      }
    }
    ScopeTask<?> first = firstFailedPlain();
    List<ScopeTask<?>> failed =
        first == null ? List.of() : unjoinedFailures(); // every failure sets firstFailed
    if (failed.isEmpty()) {
      Throwable intr = interruptFailureAcquire();
      return intr == null ? null : new TaskFailedException(name + " was cancelled, and"
          + " interrupting one of its threads threw (a ThreadFactory's Thread subclass whose"
          + " interrupt() fails): " + TaskFailedException.describe(intr), intr);
    }
    ScopeTask<?> primary = first != null && failed.contains(first) ? first : failed.get(0);
    Throwable cause = Objects.requireNonNull(primary.failurePlain());
    StringBuilder msg = new StringBuilder(ThreadNames.of(primary.thread)).append(" failed: ")
        .append(TaskFailedException.describe(cause));
    if (failed.size() > 1) {
      List<String> others = new ArrayList<>();
      for (ScopeTask<?> f : failed) {
        if (f != primary) {
          others.add(ThreadNames.of(f.thread));
        }
      }
      msg.append(" (").append(others.size()).append(" more failed, attached as suppressed: ")
          .append(others).append(')');
    }
    TaskFailedException e = new TaskFailedException(msg.toString(), cause);
    addUnjoinedFailures(e, primary);
    return e;
  }

  /** Attaches every unjoined failure (except {@code skip}'s) to {@code target}. */
  private void addUnjoinedFailures(Throwable target, @Nullable ScopeTask<?> skip) {
    List<Throwable> more = new ArrayList<>();
    collectUnjoinedFailures(more, target, skip);
    for (Throwable x : more) {
      target.addSuppressed(x);
    }
  }

  /**
   * Adds to {@code into} the failure of an interrupt() that threw and every unjoined failure
   * (except {@code skip}'s), leaving out {@code target} itself.
   */
  private void collectUnjoinedFailures(
      List<Throwable> into, Throwable target, @Nullable ScopeTask<?> skip) {
    Throwable intr = interruptFailureAcquire();
    if (intr != null && intr != target) {
      into.add(intr);
    }
    if (firstFailedPlain() == null) {
      return;
    }
    for (ScopeTask<?> f : unjoinedFailures()) {
      Throwable x = f.failurePlain();
      if (f != skip && x != null && x != target) {
        into.add(x);
      }
    }
  }

  /** Failed tasks nobody joined, in spawn order; only after all threads were joined. */
  private List<ScopeTask<?>> unjoinedFailures() {
    List<ScopeTask<?>> failed = new ArrayList<>();
    for (ScopeTask<?> n = headAcquire(); n != null; n = n.next) {
      if (n.failurePlain() != null && !n.observedAcquire()) {
        failed.add(n);
      }
    }
    Collections.reverse(failed);
    return failed;
  }

  // ---------------------------------------------------------------- accessors

  /**
   * Acquire is enough for every reader but the cancel walk: a node's next and thread fields are
   * written before the CAS that publishes it, and these readers need no order with their own
   * earlier writes (push revalidates with its CAS; the owner's re-reads after joins are ordered
   * by Thread.join anyway).
   */
  private @Nullable ScopeTask<?> headAcquire() {
    return (ScopeTask<?>) HEAD.getAcquire(this);
  }

  /** Volatile: cancel() reads head after its CAS on cancelReason, a store-load pair. */
  private @Nullable ScopeTask<?> headVolatile() {
    return (ScopeTask<?>) HEAD.getVolatile(this);
  }

  /** Acquire: readers need the reason object's fields, never an order with their own writes. */
  private @Nullable Object cancelReasonAcquire() {
    return CANCEL_REASON.getAcquire(this);
  }

  /** Plain: read only by the owner after it joined every thread (join gives happens-before). */
  private @Nullable ScopeTask<?> firstFailedPlain() {
    return (ScopeTask<?>) FIRST_FAILED.get(this);
  }

  /** Release: a thread that reads the scope closed (acquire) sees its end complete. */
  private void setClosedRelease() {
    CLOSED.setRelease(this, true);
  }

  private boolean closedAcquire() {
    return (boolean) CLOSED.getAcquire(this);
  }

  /**
   * Returns the scope's name and state (open or ended, threads spawned, cancellation, cap,
   * deadline) without blocking.
   *
   * @return a description for logs and debuggers
   */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("Scope[").append(name)
        .append(", owner=").append(ThreadNames.of(owner))
        .append(closedAcquire() ? ", ended" : ", open")
        .append(", spawned=").append((long) SPAWNED.getOpaque(this));
    Object reason = cancelReasonAcquire();
    if (reason instanceof ScopeTask<?> t) {
      sb.append(", cancelled: ").append(ThreadNames.of(t.thread)).append(" failed");
    } else if (reason instanceof Cancel c && c != ENDED) {
      sb.append(", cancelled: ").append(c.what);
    }
    if (maxConcurrency > 0) {
      sb.append(", maxConcurrency=").append(maxConcurrency);
    }
    if (timed) {
      sb.append(", timeout=").append(Duration.ofNanos(timeoutNanos));
    }
    return sb.append(']').toString();
  }

  // ---------------------------------------------------------------- builder

  /**
   * Configures and opens scopes. A builder may open any number of scopes; it is not thread-safe.
   *
   * <pre>{@code
   * List<Page> pages = Scope.builder()
   *     .namePrefix("crawler")                       // threads crawler-0, crawler-1, ...
   *     .maxConcurrency(16)                          // at most 16 tasks running at once
   *     .timeout(Duration.ofSeconds(30))             // then ScopeTimeoutException
   *     .call(scope -> {
   *       List<ScopedThread<Page>> ts = new ArrayList<>();
   *       for (URI u : uris) ts.add(scope.spawn(() -> fetch(u)));
   *       List<Page> out = new ArrayList<>();
   *       for (ScopedThread<Page> t : ts) out.add(t.join());
   *       return out;
   *     });
   * }</pre>
   */
  public static final class Builder {
    private @Nullable String prefix;
    private @Nullable ThreadFactory factory;
    private boolean virtual;
    private FailurePolicy policy = FailurePolicy.CANCEL_OTHERS;
    private long timeoutNanos = -1;
    private int maxConcurrency;

    private Builder() {}

    /**
     * Names the scope's threads {@code prefix-0}, {@code prefix-1}, ... instead of
     * {@code weft-scope-N-0}, ...; applies to threads from a {@link #threadFactory} too.
     *
     * @param prefix the name prefix
     * @return this builder
     * @throws NullPointerException if {@code prefix} is null
     */
    public Builder namePrefix(String prefix) {
      this.prefix = Objects.requireNonNull(prefix, "prefix");
      return this;
    }

    /**
     * Creates the scope's threads with {@code factory}, which must return a new, unstarted thread
     * that runs the given {@code Runnable} (as every {@code ThreadFactory} does). The threads keep
     * the factory's names unless a {@link #namePrefix} is set. Replaces {@link #virtualThreads()}.
     *
     * <p>A factory that returns null or a thread already started (or terminated), or that
     * throws, makes {@code spawn} throw (see {@link Scope#spawn(Callable)}); nothing is started.
     * A factory thread that throws before it runs weft's {@code Runnable}, or terminates without
     * running it, fails the task: its {@code join()} and the end of the scope report the thread's
     * exception (or an {@link IllegalStateException} saying the task never ran) as the task's
     * failure. To see the first case weft sets itself as the thread's uncaught-exception handler;
     * an exception the thread throws after the task is passed on to the handler it had. Under a
     * cap, the slot of a thread that died that way is given back when a spawn waiting for a slot
     * notices it (within about 20 ms).
     *
     * @param factory the thread factory
     * @return this builder
     * @throws NullPointerException if {@code factory} is null
     */
    public Builder threadFactory(ThreadFactory factory) {
      this.factory = Objects.requireNonNull(factory, "factory");
      this.virtual = false;
      return this;
    }

    /**
     * Runs the scope's tasks on virtual threads (JDK 21 or later), named like platform ones.
     * Replaces {@link #threadFactory}.
     *
     * @return this builder
     * @throws UnsupportedOperationException on JDK 17 to 20, which have no (final) virtual
     *     threads
     */
    public Builder virtualThreads() {
      VirtualThreads.factory(); // fail here, where the mistake is, not at open()
      this.virtual = true;
      this.factory = null;
      return this;
    }

    /**
     * Sets what the first failure of a thread does to the others; the default is
     * {@link FailurePolicy#CANCEL_OTHERS}.
     *
     * @param policy the failure policy
     * @return this builder
     * @throws NullPointerException if {@code policy} is null
     */
    public Builder failurePolicy(FailurePolicy policy) {
      this.policy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /**
     * Gives each scope a deadline {@code timeout} after it is opened: when it passes before the
     * scope has ended, the scope is cancelled at once (its threads are interrupted, also while
     * the owner is busy in the body) and the end reports {@link ScopeTimeoutException}. Zero
     * means the deadline has already passed when the scope opens (the first spawn throws, and the
     * end reports the timeout); huge values do not overflow.
     *
     * @param timeout the time the scope may take
     * @return this builder
     * @throws IllegalArgumentException if {@code timeout} is negative
     * @throws NullPointerException if {@code timeout} is null
     */
    public Builder timeout(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative()) {
        throw new IllegalArgumentException("timeout must not be negative: " + timeout);
      }
      this.timeoutNanos = Timeouts.toNanos(timeout, "timeout");
      return this;
    }

    /**
     * Caps how many of the scope's tasks run at once: {@code spawn} waits (interruptibly, and
     * at most until the deadline) while {@code max} tasks are running. A slot is taken before the
     * spawn starts the thread and given back when the task ends; a factory's thread that does
     * work of its own after the task may still be alive then.
     *
     * @param max the largest number of tasks running at once
     * @return this builder
     * @throws IllegalArgumentException if {@code max} is zero or negative
     */
    public Builder maxConcurrency(int max) {
      if (max <= 0) {
        throw new IllegalArgumentException("maxConcurrency must be positive: " + max);
      }
      this.maxConcurrency = max;
      return this;
    }

    /**
     * Opens a scope with these settings, owned by the calling thread; the deadline, if any,
     * starts now.
     *
     * @return the open scope
     */
    public Scope open() {
      return new Scope(this);
    }

    /**
     * Like {@link Scope#call}, in a scope with these settings.
     *
     * @param <T> the result type
     * @param <X> the checked exception the body may throw
     * @param body the code that spawns and joins threads
     * @return what {@code body} returned
     * @throws X if the body threw it (with unjoined thread failures suppressed on it)
     * @throws InterruptedException if the owner was interrupted while waiting at the end
     * @throws TaskFailedException if a thread failed and nobody joined it
     * @throws ScopeTimeoutException if the deadline passed
     * @throws IllegalStateException if the body left a scope it opened open (ended first)
     * @throws NullPointerException if {@code body} is null
     */
    public <T, X extends Exception> T call(Body<T, X> body)
        throws X, InterruptedException {
      Objects.requireNonNull(body, "body");
      return new Scope(this).callBody(body);
    }

    /**
     * Like {@link Scope#run}, in a scope with these settings.
     *
     * @param <X> the checked exception the body may throw
     * @param body the code that spawns threads
     * @throws X if the body threw it (with unjoined thread failures suppressed on it)
     * @throws InterruptedException if the owner was interrupted while waiting at the end
     * @throws TaskFailedException if a thread failed and nobody joined it
     * @throws ScopeTimeoutException if the deadline passed
     * @throws IllegalStateException if the body left a scope it opened open (ended first)
     * @throws NullPointerException if {@code body} is null
     */
    public <X extends Exception> void run(VoidBody<X> body) throws X, InterruptedException {
      Objects.requireNonNull(body, "body");
      new Scope(this).runBody(body);
    }
  }

  /**
   * The deadline timer shared by all timed scopes: one daemon thread, started on first use and
   * gone after {@value #KEEP_ALIVE_MS} ms without pending deadlines; a scope's entry is removed
   * when the scope ends, so the timer holds a scope only until its end or its deadline.
   */
  private static final class DeadlineTimer {
    static final long KEEP_ALIVE_MS = 200;
    static final ScheduledThreadPoolExecutor TIMER = create();

    private DeadlineTimer() {}

    /** Entries waiting in the timer's queue (for tests: ended scopes leave none behind). */
    static int pending() {
      return TIMER.getQueue().size();
    }

    static ScheduledFuture<?> schedule(Scope scope, long delayNanos) {
      return TIMER.schedule(new Expiry(scope), delayNanos, TimeUnit.NANOSECONDS);
    }

    private static ScheduledThreadPoolExecutor create() {
      ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, new TimerThreads());
      e.setRemoveOnCancelPolicy(true); // an ended scope's entry goes at once: no garbage kept
      e.setKeepAliveTime(KEEP_ALIVE_MS, TimeUnit.MILLISECONDS);
      e.allowCoreThreadTimeOut(true); // no thread while no deadline is pending
      return e;
    }

    // The core has no lambdas: each is an invokedynamic call site, linked on its first run, and
    // a link that fails (an overflow near the stack's end, which the JDK may wrap) fails for
    // good in that JVM. Named classes instead (see CoreBytecodeTest).

    /** The timer's task for one scope: tells it that its deadline passed. */
    private static final class Expiry implements Runnable {
      private final Scope scope;

      Expiry(Scope scope) {
        this.scope = scope;
      }

      @Override
      public void run() {
        scope.deadlinePassed();
      }
    }

    /** Makes the timer's thread. */
    private static final class TimerThreads implements ThreadFactory {
      @Override
      public Thread newThread(Runnable r) {
        // no inherited thread-locals, no context class loader, no caller's access-control
        // context (see ParallelPool.newLibraryThread): the thread serves every caller
        return ParallelPool.newLibraryThread(new TimerThread(r));
      }
    }

    /** Makes the timer's thread in the library's context (see TimerThreads). */
    private static final class TimerThread implements java.security.PrivilegedAction<Thread> {
      private final Runnable r;

      TimerThread(Runnable r) {
        this.r = r;
      }

      @Override
      public Thread run() {
        Thread t = new Thread(null, r, "weft-scope-deadlines", 0, false);
        t.setDaemon(true); // never keeps the JVM alive
        t.setContextClassLoader(null);
        return t;
      }
    }
  }

  /** Obtains the virtual thread factory reflectively: the code compiles with --release 17. */
  private static final class VirtualThreads {
    private VirtualThreads() {}

    static ThreadFactory factory() {
      int feature = Runtime.version().feature();
      if (feature < 21) {
        throw new UnsupportedOperationException("virtual threads need Java 21 or later, this is "
            + "Java " + feature + "; use platform threads (the default) or a ThreadFactory");
      }
      ThreadFactory f = made;
      if (f == null) {
        // Made on first use only, so JDK 17-20 never run the reflection. Not a holder class:
        // a holder whose initializer failed (an overflow, near the end of the first caller's
        // stack) would fail for good; this tries again next time. Two racing callers may each
        // make one: they are equivalent, and the volatile write publishes the one kept.
        f = create();
        made = f;
      }
      return f;
    }

    private static volatile @Nullable ThreadFactory made;

    private static ThreadFactory create() {
      try {
        Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
        Object factory = Class.forName("java.lang.Thread$Builder").getMethod("factory")
            .invoke(builder);
        return (ThreadFactory) Objects.requireNonNull(factory, "factory");
      } catch (InvocationTargetException e) {
        throw new UnsupportedOperationException(
            "virtual threads are not available on this JVM: " + e.getCause(), e.getCause());
      } catch (ReflectiveOperationException e) {
        throw new UnsupportedOperationException(
            "virtual threads are not available on this JVM: " + e, e);
      }
    }
  }

  static {
    // Last of the static initializers: the classes this one's slow paths use are initialized
    // with it, not on a first slow path near the end of some thread's stack, where an overflow
    // in their initializers would break them for the rest of the JVM (see
    // StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, ScopeTask.class, ProtocolWindows.class,
        FailurePolicy.class, DeadlineTimer.class, ParallelPool.class);
    linkRareSteps();
  }

  /**
   * Runs, once, on a scope and a node nobody else can see, the steps of a scope's protocol
   * windows, through the methods that hold their VarHandle call sites, so that those are linked
   * now: the first run of a call site links it, which allocates and takes stack, and in a full
   * heap or near the stack's end it throws (HotSpot links per constant-pool entry, so a
   * separate call of the same VarHandle method would link nothing of the real one: session
   * 32). Session 33's audit of LinkageAfterInitTest's baseline found, linked on first use: the
   * push's CAS after the spawn took its slot (the slot kept for good under maxConcurrency); the
   * cancel's CAS after a task's failure was recorded (CANCEL_OTHERS never cancelled the
   * others), and the cancel walk's first read of the head after the reason was set (no thread
   * interrupted, the end waiting for ever); the end's first looks at the reason (a timed end)
   * and at the nodes, which threw from close() with threads still running; the seal's CAS and the
   * closed store, which left an ended scope open to spawns; and the reads and clears of the
   * end's report, which dropped the failures it was to throw. The spawn's own first reads
   * (isCancelled) and the thread counter are not run here: they come before the spawn changes
   * anything (see linkage-after-init-baseline.txt). No thread is started, interrupted or joined,
   * nothing is scheduled, no JFR event is recorded, and the owner's stack of open scopes is
   * not touched.
   */
  private static void linkRareSteps() {
    Scope s = new Scope();
    // First, with no node listed: the walk after the CAS finds nobody to interrupt.
    s.cancel(ENDED); // volatile CAS of the reason, then the walk's volatile read of the head
    s.seal(); // untimed: the seal's own CAS of ENDED (it fails now; the site is linked anyway)
    s.setClosedRelease(); // release: the end's last store
    s.deadlineMessage(); // acquire read of the reason: task failures, the end, the timer
    ScopeTask<Void> t = new ScopeTask<>(s);
    t.linkRareSteps(); // the node's own accessors; it ends ABANDONED: no walk takes it as NEW
    s.push(t); // acquire read of the head, then the push's volatile CAS
    s.taskFailed(t); // volatile CAS of firstFailed (this scope does not cancel on failure)
    s.outcome(); // the end's report: the reason, firstFailed (plain), the head, interruptFailure
    s.casInterruptFailure(new IllegalStateException("warm-up")); // volatile CAS: the walk's catch
    s.forgetTasks(); // the head's volatile getAndSet to null
  }
}
