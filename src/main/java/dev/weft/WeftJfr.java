package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * The guard between weft's slow paths and its JFR events ({@link WeftEvents}): every call site
 * in the core goes through this class, which never names a {@code jdk.jfr} type, so weft loads
 * and works on a runtime without the {@code jdk.jfr} module (a {@code jlink}ed image with
 * {@code --add-modules java.base}, or {@code --limit-modules java.base}).
 *
 * <p>How the guard works. {@code module-info} has {@code requires static jdk.jfr}: the module
 * is read when it is in the boot layer, and not required otherwise. {@link #AVAILABLE} is decided
 * once, when this class initialises, by {@link #decide}: {@code jdk.jfr} must be in the boot
 * layer, readable by weft's module, and {@code jdk.jfr.Event} loadable. Only then does any method
 * here touch {@link WeftEvents}, the one class (with its nested event classes) that links
 * against {@code jdk.jfr}; while it is false, HotSpot never loads it (classes are resolved
 * lazily, and no method here passes a {@code WeftEvents} type the verifier would have to load).
 * {@code -Ddev.weft.jfr=false} switches the events off even where the module is present.
 *
 * <p>Cost. Call sites sit only on slow paths (a lock's failed fast CAS, a predicate that blocks,
 * an initialiser's run, a scope's open and end), never on an uncontended path. With no
 * recording, a begin call is one test of a {@code static final} (folded by the JIT) and, if
 * JFR is present, an {@code isEnabled()} check of a fresh event object that escape analysis
 * removes; it returns {@code null} and the matching end call does nothing. The tokens are typed
 * {@code Object} on purpose: a {@code WeftEvents} type in a signature here would make the
 * verifier load {@code jdk.jfr} classes.
 */
final class WeftJfr {
  /** Lock access modes, shown in the events' {@code access} field. */
  static final String EXCLUSIVE = "exclusive";

  static final String READ = "read";
  static final String WRITE = "write";

  /**
   * Outcomes of a wait, shown in the events' {@code outcome} field. The first three are the
   * codes SpinLock and TicketLock's slow paths return, so those pass theirs on unchanged.
   */
  static final int ACQUIRED = 0;

  static final int TIMED_OUT = 1;
  static final int INTERRUPTED = 2;
  static final int FAILED = 3;

  /** Whether the events can be used at all (see the class notes); decided once. */
  static final boolean AVAILABLE =
      decide(
          SystemProperties.get("dev.weft.jfr"),
          WeftJfr.class.getModule(),
          ModuleLayer.boot().findModule("jdk.jfr"),
          new EventClassProbe());

  /** The real probe (no lambdas in the core: see CoreBytecodeTest). */
  private static final class EventClassProbe implements ClassProbe {
    @Override
    public boolean loads() {
      return eventClassLoads();
    }
  }

  /** The preparing thread's body. */
  private static final class Prepare implements Runnable {
    @Override
    public void run() {
      prepareHere();
    }
  }


  private WeftJfr() {}

  /**
   * Called from the static initialiser of every class with an event call site (the locks,
   * {@code Condvar}, the once-cells, {@code Scope}, {@code Parallel}'s job): if a recording is
   * already running, loads weft's event classes now, so that the first wait after it is
   * recorded in full. Loading and instrumenting the first event class takes the recorder tens
   * of milliseconds (measured: a 150 ms wait was recorded as ~110 ms); inside a wait that time
   * would be missing from the event, or a short wait would go unrecorded. With no recording
   * this costs the class initialisation the guard's decision and one {@code isInitialized()}
   * check, once per JVM. A recording started later (jcmd JFR.start, the Recording API) is
   * seen at the first slow path after it starts, which loads the classes then: that one wait is
   * recorded short (see docs/observability.md, "Limits").
   */
  static void prepareIfRecording() {
    recorderRunning(); // prepares, if it is running
  }

  /**
   * Whether events could be recorded now: the events are usable and the flight recorder has
   * been initialised (a recording was started, by {@code -XX:StartFlightRecording}, {@code
   * jcmd JFR.start} or the API). Until then no event class is loaded or created: loading the
   * first {@code jdk.jfr.Event} subclass costs a JVM without a recording a few hundred
   * milliseconds (measured: a cold first {@code Parallel} call took 300 ms against 16 ms
   * without it), which weft must not charge to an application that records nothing.
   */
  static boolean recorderRunning() {
    if (!AVAILABLE || !Recorder.initialized()) {
      return false;
    }
    int p = (int) PREPARATION.getAcquire(); // acquire: pairs with the preparer's release store
    return p == PREPARED || (p == NOT_PREPARED && prepareOnAFreshStack());
  }

  /** {@link #preparation}: the event classes not loaded yet (or a start that failed). */
  private static final int NOT_PREPARED = 0;

  /** A thread is loading the event classes; waits meanwhile have no event. */
  private static final int PREPARING = 1;

  /** The event classes are loaded and registered. */
  private static final int PREPARED = 2;

  /**
   * The event classes failed to initialise: a class whose initialiser threw cannot be
   * initialised again (every later use throws NoClassDefFoundError), so the events stay off for
   * the rest of the JVM and nothing names {@link WeftEvents} again.
   */
  private static final int BROKEN = 3;

  /**
   * How long the thread that starts the preparation waits for it, in milliseconds. Loading
   * the classes takes tens of milliseconds; this bound only matters when the preparing thread
   * cannot proceed, e.g. blocked on a lock the caller holds (review 22b: weft loaded by a class
   * loader that is not parallel capable, whose monitor the caller held).
   */
  private static final long PREPARE_WAIT_MILLIS = 1_000L;

  /**
   * NOT_PREPARED, PREPARING, PREPARED or BROKEN. Moved out of NOT_PREPARED by one CAS (one
   * preparing thread at a time), then set by that thread with a release store after the
   * classes are ready (or failed); read with acquire, so a thread that sees PREPARED sees the
   * classes' registration. Accessed through {@link #PREPARATION}.
   */
  @SuppressWarnings("unused") // accessed through PREPARATION
  private static int preparation;

  private static final VarHandle PREPARATION;

  static {
    try {
      PREPARATION = MethodHandles.lookup()
          .findStaticVarHandle(WeftJfr.class, "preparation", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /**
   * Loads and registers the event classes ({@link WeftEvents#prepare}) on a new thread of its
   * own, and waits for it at most {@link #PREPARE_WAIT_MILLIS}. The first slow path after a
   * recording starts may run anywhere, deep in the caller's stack, even inside a OnceCell's
   * claim (review 22): loading the classes and letting the recorder instrument them needs far
   * more stack than the probes before those steps check, and a StackOverflowError there struck
   * WeftEvents' class initialiser, which left the class unusable for good; every first
   * initialisation of a cell afterwards threw after its claim and left the cell claimed. A
   * fresh thread has a whole stack. The wait is bounded because that thread may need a lock the
   * caller holds (a class loader's monitor): then this wait has no event, and the events start
   * once the thread has finished. Only one thread prepares at a time; others have no event for
   * the waits they make meanwhile.
   *
   * @return whether the classes are ready
   */
  private static boolean prepareOnAFreshStack() {
    if (!PREPARATION.compareAndSet(NOT_PREPARED, PREPARING)) {
      return (int) PREPARATION.getAcquire() == PREPARED; // another thread prepares, or did
    }
    Thread t;
    try {
      t = new Thread(null, new Prepare(), "weft-jfr-prepare", 0, false);
      t.setDaemon(true);
      t.start();
    } catch (Throwable cannotStart) { // an overflow or out of memory here: no event this time
      PREPARATION.setRelease(NOT_PREPARED); // a later wait tries again
      dropped(cannotStart);
      return false;
    }
    boolean interrupted = false;
    long deadline = System.nanoTime() + PREPARE_WAIT_MILLIS * 1_000_000L;
    for (long left = PREPARE_WAIT_MILLIS; left > 0L && t.isAlive(); ) {
      try {
        t.join(left);
      } catch (InterruptedException e) {
        interrupted = true; // a wait must not lose its caller's interrupt: restored below
      }
      left = (deadline - System.nanoTime()) / 1_000_000L;
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    return (int) PREPARATION.getAcquire() == PREPARED;
  }

  /** The preparing thread's task: the release store publishes the outcome. */
  private static void prepareHere() {
    int outcome = BROKEN;
    try {
      WeftEvents.prepare();
      outcome = PREPARED;
    } finally {
      PREPARATION.setRelease(outcome);
    }
  }

  /** Holder: refers to jdk.jfr only when AVAILABLE (the verifier never loads it otherwise). */
  private static final class Recorder {
    static boolean initialized() {
      return jdk.jfr.FlightRecorder.isInitialized();
    }
  }

  /** Something that says whether {@code jdk.jfr.Event} can be loaded; a seam for tests. */
  @FunctionalInterface
  interface ClassProbe {
    boolean loads();
  }

  /**
   * The guard's decision, a pure function of its inputs so that tests can check every case.
   *
   * @param property the value of {@code dev.weft.jfr}: {@code "false"} or {@code "off"} turns the
   *     events off; anything else (or absent) leaves them to the other checks
   * @param self weft's module (unnamed on the class path, where it reads every module)
   * @param jfr the {@code jdk.jfr} module of the boot layer, if it is there
   * @param probe loads {@code jdk.jfr.Event}; asked last, only if everything else holds
   * @return whether {@link WeftEvents} may be used
   */
  static boolean decide(
      @Nullable String property, Module self, Optional<Module> jfr, ClassProbe probe) {
    if (property != null
        && (property.equalsIgnoreCase("false") || property.equalsIgnoreCase("off"))) {
      return false;
    }
    if (jfr.isEmpty() || !self.canRead(jfr.get())) {
      return false; // not in the runtime, or resolved without weft reading it
    }
    return probe.loads();
  }

  private static boolean eventClassLoads() {
    try {
      Class.forName("jdk.jfr.Event", false, WeftJfr.class.getClassLoader());
      return true;
    } catch (ClassNotFoundException | LinkageError | SecurityException e) {
      return false;
    }
  }

  /**
   * Called when a lock's fast path failed and the thread is about to wait.
   *
   * @param holder the thread holding the lock as the wait begins, if known cheaply
   * @return a token for {@link #lockWaitEnd}, or null when no recording wants the event
   */
  static @Nullable Object lockWaitBegin(@Nullable Thread holder) {
    return recorderRunning() ? WeftEvents.lockWaitBegin(holder) : null;
  }

  /**
   * Ends a lock wait begun by {@link #lockWaitBegin}; commits the event if it lasted longer
   * than the recording's threshold.
   *
   * @param token the token, or null (then nothing happens)
   * @param lock the lock waited for
   * @param access {@link #EXCLUSIVE}, {@link #READ} or {@link #WRITE}
   * @param outcome {@link #ACQUIRED}, {@link #TIMED_OUT}, {@link #INTERRUPTED} or {@link
   *     #FAILED}
   */
  static void lockWaitEnd(@Nullable Object token, Object lock, String access, int outcome) {
    if (token != null) {
      try {
        WeftEvents.lockWaitEnd(token, lock, access, outcome);
      } catch (Throwable diagnosticFailed) {
        dropped(diagnosticFailed);
      }
    }
  }

  /**
   * Called when a predicate wait (Condvar, Mutex.lockWhen/awaitThen) is about to block.
   *
   * @return a token for {@link #conditionWaitEnd}, or null when no recording wants the event
   */
  static @Nullable Object conditionWaitBegin() {
    return recorderRunning() ? WeftEvents.conditionWaitBegin() : null;
  }

  /**
   * Ends a predicate wait.
   *
   * @param token the token, or null (then nothing happens)
   * @param lock the mutex whose value the predicate reads
   * @param method what waited, e.g. {@code "Condvar.awaitWhile"}
   * @param timeoutNanos the timeout, or a negative value for none
   * @param outcome {@link #ACQUIRED} (the predicate allowed it), {@link #TIMED_OUT}, {@link
   *     #INTERRUPTED} or {@link #FAILED} (the predicate threw)
   */
  static void conditionWaitEnd(
      @Nullable Object token, Object lock, String method, long timeoutNanos, int outcome) {
    if (token != null) {
      try {
        WeftEvents.conditionWaitEnd(token, lock, method, timeoutNanos, outcome);
      } catch (Throwable diagnosticFailed) {
        dropped(diagnosticFailed);
      }
    }
  }

  /**
   * Called when a thread has claimed a {@code OnceCell}/{@code Lazy} and is about to run its
   * initialiser.
   *
   * @return a token for {@link #initEnd}, or null when no recording wants the event
   */
  static @Nullable Object initBegin() {
    // Called after a claim: an error here must not stop the initialisation (review 22). The
    // event is a diagnostic: dropped, as an end call drops a failed commit.
    try {
      return recorderRunning() ? WeftEvents.initBegin() : null;
    } catch (Throwable diagnosticFailed) {
      dropped(diagnosticFailed);
      return null;
    }
  }

  /**
   * Ends an initialisation.
   *
   * @param token the token, or null (then nothing happens)
   * @param cell the cell
   * @param initialiser the supplier that ran, or null if it could not be obtained
   * @param waiters the threads that were parked waiting and were woken at the end
   * @param failure what the initialiser threw, or null
   */
  static void initEnd(
      @Nullable Object token,
      Object cell,
      @Nullable Object initialiser,
      int waiters,
      @Nullable Throwable failure) {
    if (token != null) {
      try {
        WeftEvents.initEnd(token, cell, initialiser, waiters, failure);
      } catch (Throwable diagnosticFailed) {
        dropped(diagnosticFailed);
      }
    }
  }

  /**
   * Called when a scope opens.
   *
   * @return a token for {@link #scopeEnd}, or null when no recording wants the event
   */
  static @Nullable Object scopeBegin() {
    return recorderRunning() ? WeftEvents.scopeBegin() : null;
  }

  /**
   * Ends a scope.
   *
   * @param token the token, or null (then nothing happens)
   * @param name the scope's name
   * @param threads the threads started
   * @param peak the most threads of the scope running at once
   * @param maxConcurrency the scope's cap, or 0 for none
   * @param outcome how it ended, e.g. {@code "completed"}, {@code "task failed"}
   */
  static void scopeEnd(
      @Nullable Object token,
      String name,
      long threads,
      int peak,
      int maxConcurrency,
      String outcome) {
    if (token != null) {
      try {
        WeftEvents.scopeEnd(token, name, threads, peak, maxConcurrency, outcome);
      } catch (Throwable diagnosticFailed) {
        dropped(diagnosticFailed);
      }
    }
  }

  /**
   * Called when a {@code Parallel} call starts.
   *
   * @return a token for {@link #parallelEnd}, or null when no recording wants the event
   */
  static @Nullable Object parallelBegin() {
    return recorderRunning() ? WeftEvents.parallelBegin() : null;
  }

  /**
   * Ends a {@code Parallel} call.
   *
   * @param token the token, or null (then nothing happens)
   * @param elements the input's size
   * @param threads the threads that processed elements, the caller included
   * @param decision how the call ran, e.g. {@code "split"}, {@code "alone: estimate below
   *     cut-off"}
   * @param cutoffNanos the cut-off in force, or a negative value if none applied
   * @param estimateNanos the estimated sequential time of the rest when it decided, or a
   *     negative value if it made no estimate
   */
  static void parallelEnd(
      @Nullable Object token,
      long elements,
      int threads,
      String decision,
      long cutoffNanos,
      long estimateNanos) {
    if (token != null) {
      try {
        WeftEvents.parallelEnd(token, elements, threads, decision, cutoffNanos, estimateNanos);
      } catch (Throwable diagnosticFailed) {
        dropped(diagnosticFailed);
      }
    }
  }

  /**
   * What an end call does when writing the event threw (an out-of-memory error while filling
   * it in, say): nothing. Every end call runs after the work it describes, often holding a
   * lock the caller is about to get a guard for, or inside the catch block of a failed
   * initialiser; a throwable escaping from there would leave the lock held with no guard, or
   * replace the user's exception. Losing one diagnostic event is the lesser harm.
   */
  @SuppressWarnings("unused") // the parameter names what is dropped
  private static void dropped(Throwable diagnosticFailed) {}

  static String outcomeName(int outcome) {
    return switch (outcome) {
      case ACQUIRED -> "acquired";
      case TIMED_OUT -> "timed out";
      case INTERRUPTED -> "interrupted";
      default -> "failed";
    };
  }
}
