package dev.weft;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Enabled;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Threshold;
import jdk.jfr.Timespan;
import org.jspecify.annotations.Nullable;

/**
 * weft's JFR events and the code that fills them in: the only class of the core that links
 * against {@code jdk.jfr}, loaded only through {@link WeftJfr} once its guard has found the
 * module (see there). Package-private, like the event classes: JFR records and reads events of
 * classes that are not public and not exported, because it instruments the event class itself
 * (see docs/observability.md for what a recording shows).
 *
 * <p>Every event is a duration event with a default threshold of 20 ms, the threshold the JDK's
 * own {@code default.jfc} gives {@code jdk.JavaMonitorEnter} and {@code jdk.JavaMonitorWait}; a
 * recording that names no weft setting (plain {@code -XX:StartFlightRecording}) uses these
 * annotations, and {@code dev/weft/weft.jfc} sets them explicitly so they can be changed. An
 * event's fields are computed only when it is committed, i.e. when the wait was longer than the
 * threshold: a wait under it costs one event object, {@code begin()} and {@code end()}.
 */
final class WeftEvents {
  private WeftEvents() {}

  // ---------------------------------------------------------------------------------------
  // Events
  // ---------------------------------------------------------------------------------------

  @Name("dev.weft.LockContended")
  @Label("weft Lock Contended")
  @Description(
      "A thread waited for a weft lock (SpinLock, TicketLock, Mutex, RwLock, SeqLock write)"
          + " that another thread held: the event lasts from the failed fast attempt to the"
          + " acquisition, timeout or interrupt")
  @Category({"weft", "Locks"})
  @Threshold("20 ms")
  @StackTrace(true)
  @Enabled(true)
  static final class LockContended extends Event {
    @Label("Lock Type")
    @Description("The weft type: SpinLock, TicketLock, Mutex, RwLock, SeqLock, SeqLocked")
    @Nullable String lockType;

    @Label("Lock")
    @Description(
        "The lock: its lock class when given with LockOrder.classify (while lock-order checking"
            + " is on), else Type@identityHashCode as in heap dumps and lock-order reports")
    @Nullable String lock;

    @Label("Access")
    @Description("exclusive, read or write")
    @Nullable String access;

    @Label("Holder")
    @Description(
        "The thread that held the lock when the wait began, if known (unknown for read"
            + " holders of an RwLock)")
    @Nullable Thread holder;

    @Label("Holder Name")
    @Description(
        "The holder's name: JFR shows the Holder field as N/A when that thread has ended by"
            + " the time the event is written; the name stays")
    @Nullable String holderName;

    @Label("Outcome")
    @Description("acquired, timed out, interrupted, or failed (an Error ended the wait)")
    @Nullable String outcome;
  }

  @Name("dev.weft.ConditionWait")
  @Label("weft Condition Wait")
  @Description(
      "A thread waited for a predicate over a Mutex's value to allow it to go on: Condvar"
          + " awaitWhile, Mutex lockWhen and awaitThen. The event lasts from the first"
          + " blocked check to the return")
  @Category({"weft", "Locks"})
  @Threshold("20 ms")
  @StackTrace(true)
  @Enabled(true)
  static final class ConditionWait extends Event {
    @Label("Lock Type")
    @Nullable String lockType;

    @Label("Lock")
    @Description("The mutex, named as in dev.weft.LockContended")
    @Nullable String lock;

    @Label("Method")
    @Description("What waited: Condvar.awaitWhile, Condvar.awaitWhileUninterruptibly, Mutex.lockWhen")
    @Nullable String method;

    @Label("Timeout")
    @Description("The timeout given; N/A for an untimed wait")
    @Timespan(Timespan.NANOSECONDS)
    long timeout;

    @Label("Outcome")
    @Description(
        "ready (the predicate allowed it), timed out, interrupted, or failed (the predicate"
            + " threw)")
    @Nullable String outcome;
  }

  @Name("dev.weft.OnceInit")
  @Label("weft Once Initialisation")
  @Description(
      "A Lazy or OnceCell initialiser ran: the event lasts as long as the initialiser, on the"
          + " thread that ran it, and counts the threads that were parked waiting for it")
  @Category({"weft", "Initialisation"})
  @Threshold("20 ms")
  @StackTrace(true)
  @Enabled(true)
  static final class OnceInit extends Event {
    @Label("Cell Type")
    @Description("Lazy or OnceCell")
    @Nullable String cellType;

    @Label("Cell")
    @Description("Type@identityHashCode")
    @Nullable String cell;

    @Label("Initialiser")
    @Description("The class of the supplier that ran (a lambda's class names its enclosing class)")
    @Nullable String initialiser;

    @Label("Waiting Threads")
    @Description("Threads that were parked waiting for this initialiser and were woken when it ended")
    int waitingThreads;

    @Label("Failed")
    boolean failed;

    @Label("Failure")
    @Description("What the initialiser threw (class: message), or null")
    @Nullable String failure;
  }

  @Name("dev.weft.Scope")
  @Label("weft Scope")
  @Description(
      "A weft Scope, from its opening to the end of its close (or of Scope.call/run): how many"
          + " threads it started, how many ran at once, and how it ended")
  @Category({"weft", "Threads"})
  @Threshold("20 ms")
  @StackTrace(true)
  @Enabled(true)
  static final class ScopeEvent extends Event {
    @Label("Scope")
    @Description("The scope's name, e.g. weft-scope-3; its threads are named <name>-<n>")
    @Nullable String scope;

    @Label("Threads Started")
    long threadsStarted;

    @Label("Peak Concurrency")
    @Description("The most of the scope's threads running at the same time")
    int peakConcurrency;

    @Label("Max Concurrency")
    @Description("The scope's cap (Builder.maxConcurrency), 0 for none")
    int maxConcurrency;

    @Label("Outcome")
    @Description(
        "completed, task failed, timed out, body failed, interrupted, or nesting violated")
    @Nullable String outcome;
  }

  @Name("dev.weft.Parallel")
  @Label("weft Parallel Call")
  @Description(
      "A Parallel call: its input size, how many threads processed it, and whether and why it"
          + " split the work or ran on the calling thread alone")
  @Category({"weft", "Threads"})
  @Threshold("20 ms")
  @StackTrace(true)
  @Enabled(true)
  static final class ParallelEvent extends Event {
    @Label("Elements")
    long elements;

    @Label("Threads")
    @Description("Threads that processed elements, the caller included")
    int threads;

    @Label("Decision")
    @Description("How the call ran and why, e.g. split, alone: estimate below cut-off")
    @Nullable String decision;

    @Label("Cut-off")
    @Description("The sequential cut-off in force; N/A if none applied")
    @Timespan(Timespan.NANOSECONDS)
    long cutoff;

    @Label("Estimate")
    @Description("The estimated time of the rest on one thread when it decided; N/A if none")
    @Timespan(Timespan.NANOSECONDS)
    long estimate;
  }

  // ---------------------------------------------------------------------------------------
  // Helpers called by WeftJfr
  // ---------------------------------------------------------------------------------------

  /**
   * Loads every event class and has the recorder register it, by asking a fresh instance of
   * each whether it is enabled (the first such call is what costs tens of milliseconds). Called
   * once a recording is running, before the first event is begun; see {@link
   * WeftJfr#prepareIfRecording}.
   */
  static void prepare() {
    // The answers are not needed: each first call only forces the class's registration.
    new LockContended().isEnabled();
    new ConditionWait().isEnabled();
    new OnceInit().isEnabled();
    new ScopeEvent().isEnabled();
    PARALLEL_PROBE.isEnabled();
  }

  static @Nullable Object lockWaitBegin(@Nullable Thread holder) {
    LockContended e = new LockContended();
    if (!e.isEnabled()) {
      return null;
    }
    e.holder = holder;
    e.begin();
    return e;
  }

  static void lockWaitEnd(Object token, Object lock, String access, int outcome) {
    LockContended e = (LockContended) token;
    e.end();
    if (e.shouldCommit()) {
      e.lockType = lock.getClass().getSimpleName();
      e.lock = LockOrder.displayName(lock);
      e.access = access;
      Thread h = e.holder;
      e.holderName = h == null ? null : ThreadNames.of(h);
      e.outcome = WeftJfr.outcomeName(outcome);
      e.commit();
    }
  }

  static @Nullable Object conditionWaitBegin() {
    ConditionWait e = new ConditionWait();
    if (!e.isEnabled()) {
      return null;
    }
    e.begin();
    return e;
  }

  static void conditionWaitEnd(
      Object token, Object lock, String method, long timeoutNanos, int outcome) {
    ConditionWait e = (ConditionWait) token;
    e.end();
    if (e.shouldCommit()) {
      e.lockType = lock.getClass().getSimpleName();
      e.lock = LockOrder.displayName(lock);
      e.method = method;
      e.timeout = timeoutNanos < 0 ? Long.MIN_VALUE : timeoutNanos; // MIN_VALUE shows as N/A
      e.outcome = outcome == WeftJfr.ACQUIRED ? "ready" : WeftJfr.outcomeName(outcome);
      e.commit();
    }
  }

  static @Nullable Object initBegin() {
    OnceInit e = new OnceInit();
    if (!e.isEnabled()) {
      return null;
    }
    e.begin();
    return e;
  }

  static void initEnd(
      Object token,
      Object cell,
      @Nullable Object initialiser,
      int waiters,
      @Nullable Throwable failure) {
    OnceInit e = (OnceInit) token;
    e.end();
    if (e.shouldCommit()) {
      e.cellType = cell.getClass().getSimpleName();
      e.cell = identity(cell);
      e.initialiser = initialiser == null ? null : initialiser.getClass().getName();
      e.waitingThreads = waiters;
      e.failed = failure != null;
      e.failure = failure == null ? null : describe(failure);
      e.commit();
    }
  }

  static @Nullable Object scopeBegin() {
    ScopeEvent e = new ScopeEvent();
    if (!e.isEnabled()) {
      return null;
    }
    e.begin();
    return e;
  }

  static void scopeEnd(
      Object token, String name, long threads, int peak, int maxConcurrency, String outcome) {
    ScopeEvent e = (ScopeEvent) token;
    e.end();
    if (e.shouldCommit()) {
      e.scope = name;
      e.threadsStarted = threads;
      e.peakConcurrency = peak;
      e.maxConcurrency = maxConcurrency;
      e.outcome = outcome;
      e.commit();
    }
  }

  static @Nullable Object parallelBegin() {
    // Asked of a shared instance first: a Parallel call with no recording wanting the event
    // (every call, usually) then allocates nothing.
    if (!PARALLEL_PROBE.isEnabled()) {
      return null;
    }
    ParallelEvent e = new ParallelEvent();
    e.begin();
    return e;
  }

  /** Only asked whether the event is enabled (a class-wide setting); never committed. */
  private static final ParallelEvent PARALLEL_PROBE = new ParallelEvent();

  static void parallelEnd(
      Object token,
      long elements,
      int threads,
      String decision,
      long cutoffNanos,
      long estimateNanos) {
    ParallelEvent e = (ParallelEvent) token;
    e.end();
    if (e.shouldCommit()) {
      e.elements = elements;
      e.threads = threads;
      e.decision = decision;
      e.cutoff = cutoffNanos < 0 ? Long.MIN_VALUE : cutoffNanos;
      e.estimate = estimateNanos < 0 ? Long.MIN_VALUE : estimateNanos;
      e.commit();
    }
  }

  /**
   * "class: message" for the event's failure field. The message is user code (an exception may
   * compute it, and that may throw anything, an Error or a checked exception thrown sneakily
   * included): whatever it throws is dropped here, so that recording
   * never replaces the exception the initialiser threw, which the caller is about to rethrow.
   */
  static String describe(Throwable failure) {
    String name = failure.getClass().getName();
    String message;
    try {
      message = failure.getLocalizedMessage();
    } catch (Throwable unprintable) { // anything: an Error, or a checked exception thrown sneakily
      // Dropped on purpose: the event loses the message, the caller keeps the initialiser's
      // exception (what this catch keeps from being replaced).
      return name + " (its message threw " + unprintable.getClass().getName() + ")";
    }
    return message == null ? name : name + ": " + message;
  }

  private static String identity(Object o) {
    return o.getClass().getSimpleName() + "@" + Integer.toHexString(System.identityHashCode(o));
  }
}
