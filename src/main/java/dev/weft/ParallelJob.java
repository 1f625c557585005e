package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * One call of {@link Parallel}: the index range {@code [0, n)}, the chunk counter that hands it
 * out, the failure record, and the workers. Subclasses say what one chunk of elements does.
 *
 * <p>Package-private engine behind every {@code Parallel} method; it is used by exactly one
 * call and then dropped.
 */
abstract class ParallelJob {
  /*
   * Algorithm notes
   * ===============
   *
   * Phases. The caller runs everything in invoke():
   *
   * 0. Inline (Parallel itself, before any job exists). A single chunk or a single thread: a
   *    plain loop on the caller, no job object, no clock read. Nothing is shared, so no
   *    memory-ordering question arises.
   *
   * 0'. Small input (invokeSmall): 2 to SMALL_INPUT elements, cut-off not zero. Too few to
   *    probe, and the elements may each be heavy (eight files to compress): running them one
   *    by one on the caller was the trap of issue 19. A cost memory (COSTS, a ClassValue keyed
   *    by the class of the user's function, so one entry per lambda or method reference, freed
   *    with its class) holds what one element cost the last time: unknown, or expensive enough
   *    that the input is worth splitting, means split at once (no element runs alone first, so
   *    two 1 ms elements take 1 ms); cheap means time element 0 (three clock reads: the whole
   *    overhead of a small cheap call) and finish alone unless it has become expensive, in
   *    which case the memory is updated and the rest is split. A split call times the caller's
   *    own chunks and stores their mean cost, so a function that became cheap is noticed on the
   *    next call. The memory is a hint read and written opaque: a stale value costs one call
   *    a wrong guess, bounded either way (a needless split costs a hand-over, a missed one
   *    the first element alone, as before issue 19).
   *
   * 1. Probe (caller only, no shared state). Unless the sequential cut-off is zero, the caller
   *    runs elements 0, 1, 2-3, 4-7, ... itself (steps double up to MAX_PROBE_STEP) and reads
   *    System.nanoTime() after each step. Once max(PROBE_NANOS, cut-off / PROBE_FRACTION) has
   *    passed (and at least two steps ran) it estimates the time the rest would take on one thread, rate * (n - done), where
   *    rate is the lowest of the overall rate and the last two steps' rates (so one preempted
   *    step, common on a loaded machine, does not fake expensive work). Below
   *    the cut-off it keeps going alone (re-estimating after every step, so a slow tail still
   *    switches to parallel); at or above it, it switches to phase 2. When the estimate is
   *    below cutoff / FINISH_ALONE_MARGIN (even before PROBE_NANOS: a tiny sample can only
   *    overstate the rate, by nanoTime's own cost), it finishes in one untimed step, so a
   *    20-element call reads the clock twice. Cheap inputs therefore never wake a worker;
   *    above SMALL_INPUT elements the decision uses measured cost, not element count.
   *
   * 2. Parallel. The caller fixes the chunk size and the chunk base (plain writes), builds the
   *    Worker objects, sets `active` to their number (plain), and only then starts them
   *    (ParallelPool.tryExecute by default, Thread.start, or Executor.execute). The pool's
   *    hand-over CAS, Thread.start and the java.util.concurrent executors give happens-before
   *    from those writes (and from everything the caller did before the call) to the worker's
   *    run(); that is the "before the call happens-before
   *    every invocation of f" guarantee, and why none of those fields needs a stronger mode.
   *    Then the caller joins in: caller and workers run the same loop, taking the next chunk
   *    with NEXT.getAndAdd(1) (volatile RMW: each chunk number goes to exactly one thread, so
   *    every element is processed once; chunks are handed out dynamically, so a thread that
   *    drew cheap elements just takes more, and skew cannot idle it).
   *
   * 3. Wait. When the counter passes the end, the caller cancels workers that have not begun
   *    (CAS NEW -> CANCELLED; the worker's own CAS NEW -> RUNNING then fails and it returns
   *    without touching the job) and subtracts them from `active`. Each worker that ran
   *    decrements `active` with a volatile getAndAdd after its last write to the output; the
   *    one that brings it to zero unparks the caller. The caller spins briefly, yields (platform
   *    threads only: SpinBackoff.yieldUnlessVirtual), then
   *    parks until it reads `active == 0` (volatile read). That read synchronizes-with every
   *    worker's decrement, so every write by every invocation happens-before the caller
   *    reads the results: the "every invocation happens-before return" guarantee. Own threads
   *    are then also Thread.join()ed, so no weft thread outlives the call.
   *
   * A call inside a static initializer. The one wait that cannot end: the caller initializes a
   * class C, and a function's body is a static method of C (a lambda or method reference written in
   * C), so each worker's first call of it waits for C's initialization, which waits for the caller.
   * The caller's park in phase 3 is timed for its first LOOK_AFTER_NANOS (20 ms; a worker's exit
   * still unparks it early, so calls that end sooner pay nothing). Then, if the chunks are known to
   * be short (expectedChunkNanos: the measured cost, or a few elements), it looks
   * (lookForInitializer, InitializerDeadlock), and inside such an initializer again every
   * LOOK_AGAIN_NANOS, since a worker may reach the call later. A function's class (userFunctions: a
   * reduction's combiner too) must be C's generated lambda class with C's <clinit> frame on the
   * caller's stack, and a worker must sit at the call of the function (top frame the generated one,
   * or the job's own method that calls it; no frame of C) in five looks over a quarter of a second
   * with the same stack, having finished no chunk (a flag the worker sets, opaque, after its first
   * chunk: an opaque store so that it is not sunk out of the loop, and an opaque load on the
   * caller; it is a hint, nothing is published through it). Then the caller stops the job and
   * throws IllegalStateException without waiting for the blocked workers: the one exception to
   * "every invocation has completed". They have not entered the function; a failed initialization
   * releases them with NoClassDefFoundError into a stopped job, and they exit as after any failure.
   * An interrupted look proves nothing (its pauses end at once) and is made again in the next
   * round; an Error in the look (a full heap) means "not seen".
   *
   * Failure. The first Throwable of f (any thread) wins a CAS on `failure` (volatile CAS:
   * exactly one first failure); later ones are pushed on a Treiber stack `more` (CAS on the
   * head), so none is lost. The winner sets `stop` and interrupts the running workers. `stop`
   * is opaque on both sides: it is only an early-exit hint (checked per chunk and every
   * `checkEvery` elements, about STOP_CHECK_NANOS of work); correctness of what the caller reports rests on the `active` handshake above,
   * which orders the failure fields too.
   *
   * Interrupting workers without leaking the interrupt. A worker's state goes NEW -> RUNNING
   * (the worker's CAS, after a plain write of `thread`, which the CAS publishes) -> DONE (the
   * worker's CAS on exit). The interrupter moves RUNNING -> INTERRUPTING by CAS, calls
   * thread.interrupt(), then setRelease(INTERRUPTED), in a finally: a thread from a user's
   * factory or executor may override interrupt() and throw, and a worker left INTERRUPTING
   * would wait for ever on exit (review 30); the walk goes on to the other workers and the
   * exception is reported with the call's failures. A worker whose exit CAS fails therefore
   * knows an interrupt is being delivered to it: it waits (bounded spin, then yield) for
   * INTERRUPTED and then clears its interrupt status, so the interrupt cannot land in the
   * next, unrelated task an Executor's thread runs. An interrupt after DONE is impossible
   * because that CAS fails. Only an interrupt weft sent is cleared: an interrupter that finds
   * the thread already interrupted (its executor's shutdownNow, user code) sends nothing and
   * sets NOT_INTERRUPTED instead, and the worker then clears nothing. (An interrupt from
   * elsewhere that arrives after weft's cannot be told apart from it and is cleared with it.)
   * Nested workers: a function may run another call's worker task on the same thread (it runs
   * queued executor tasks). Each worker records the worker the thread was already running
   * (`enclosing`, through a ThreadLocal set for the task's duration). When the inner worker
   * clears weft's interrupt, an enclosing worker that its own call also targeted (INTERRUPTED,
   * or NOT_INTERRUPTED because the thread was already interrupted by the inner call) would lose
   * it: the inner worker re-asserts the interrupt and marks that worker INTERRUPTED, so the
   * enclosing function still sees it and the enclosing exit clears it in turn.
   * The caller is never interrupted by weft: it is the user's thread.
   *
   * The caller is never a worker. An Executor may run a worker's task on the calling thread
   * itself: a direct executor (Runnable::run), ThreadPoolExecutor.CallerRunsPolicy, or the
   * function running queued tasks on the caller. Such a task (Thread.currentThread() == caller;
   * `caller` is written before any execute, and read on the caller itself in program order)
   * cancels itself (NEW -> CANCELLED), gives its count back (`active`, no unpark: the caller is
   * this thread) and returns at once; the caller then does that share in its own loop, as the
   * caller: it checks its interrupt between chunks and cancels, is never in `workers` as a
   * RUNNING thread, so never interrupted by weft, and never has its interrupt cleared. (Until
   * issue 18 the task ran the worker loop on the caller: weft then interrupted the caller as a
   * worker on a failure and cleared the interrupt on exit, erasing the user's own.) Returning
   * at once also lets execute() come back, so the remaining workers still start.
   *
   * Thread factories: a factory that returns null leaves the worker NEW (cancelled later: fewer
   * workers); one that throws, or returns a thread that is not NEW (already started, or the
   * caller itself), fails the call with TaskFailedException (an IllegalStateException saying
   * so): weft never starts, joins or interrupts a thread it did not start, since such a thread
   * may run anything. If it happens to run this worker, the `active` handshake still waits for
   * it or cancels it before it begins, so no element runs after the call.
   *
   * Cancellation. The caller checks its own interrupt status at entry, after each probe step,
   * after each chunk and while waiting. When interrupted it stops the job like a failure: it
   * tries to CAS a CancellationException into `failure` (if a real failure came first, that
   * one is reported instead), stops and interrupts the workers, waits for the running ones
   * with its interrupt status cleared (park would return at once otherwise), restores the
   * status, and throws. Failures caused by the interrupts become suppressed exceptions.
   *
   * No deadlock. The caller only ever runs chunks of its own job, never unrelated work, so a
   * lock it holds cannot be taken re-entrantly by foreign code; a nested call is just a new
   * job with its own threads; workers that an Executor has not started yet are cancelled
   * instead of waited for, so a saturated or nested Executor cannot make the caller wait on
   * work queued behind itself.
   */

  /**
   * Inputs of at most this many elements run on the calling thread without the probe (unless
   * the cut-off is zero): at this size one clock read costs as much as the whole loop of cheap
   * elements (a 10-element {@code x * x} map takes about 10 ns, {@code System.nanoTime()}
   * 20-30 ns on the machines measured), so timing them could only make them slower.
   */
  static final int SMALL_INPUT = 16;

  /**
   * Elements between two interrupt checks when the caller runs elements alone (the inline
   * path in Parallel and {@code runAlone}): an interrupt is noticed within this many
   * elements, and inputs no larger than one block are never checked mid-way.
   */
  static final int ALONE_BLOCK = 1024;

  /**
   * A function not seen before is split at once only under a cut-off no higher than this
   * (every default cut-off is): a user who set a higher one asked for work to stay on the
   * caller below it, and a saturated one for it never to be split, so the first element is
   * timed first (found by review).
   */
  static final long SPLIT_UNKNOWN_MAX_CUTOFF = 1_000_000L;

  /** Least probe time before a split: enough to make nanoTime's granularity small. */
  static final long PROBE_NANOS = 2_000L;

  /**
   * The caller works alone for at least cut-off / PROBE_FRACTION before it splits (ski-rental
   * style: pay a good part of a split's cost in plain work first). The estimate assumes the
   * rest costs what the first elements did; inputs whose expensive elements come first (the
   * skewed benchmark: the first eighth 500x dearer) would otherwise start threads for work
   * that is nearly over. A quarter of the cut-off is about half a split's measured cost.
   */
  static final long PROBE_FRACTION = 4L;

  /**
   * How far below the cut-off the estimated rest must be for the caller to finish it in one
   * untimed step: covers nanoTime's granularity on tiny samples and moderate skew.
   */
  static final double FINISH_ALONE_MARGIN = 64.0;

  /** Largest probe step, so a slow tail is noticed within at most this many elements. */
  static final long MAX_PROBE_STEP = 1024L;

  /** Chunks per thread aimed at when work is uniform: enough to absorb skew. */
  static final long CHUNKS_PER_THREAD = 8L;

  /** The tail (last quarter) is handed out in chunks this many times smaller. */
  static final long TAIL_DIVISOR = 8L;

  /** Target duration of one chunk when the per-element cost is known: bounds stop latency. */
  static final long TARGET_CHUNK_NANOS = 200_000L;

  /** Work between two checks of the stop flag once the cost is known: bounds stop latency. */
  static final long STOP_CHECK_NANOS = 10_000L;

  private static final int SPINS = 64;
  private static final int YIELDS = 4;

  private static final int NEW = 0;
  private static final int RUNNING = 1;
  private static final int INTERRUPTING = 2;
  private static final int INTERRUPTED = 3;
  private static final int DONE = 4;
  private static final int CANCELLED = 5;
  /** The interrupter found the worker's thread already interrupted and sent nothing. */
  private static final int NOT_INTERRUPTED = 6;

  private static final VarHandle NEXT;
  private static final VarHandle STOP;
  private static final VarHandle ACTIVE;
  private static final VarHandle FAILURE;
  private static final VarHandle MORE;
  private static final VarHandle WORKER_STATE;
  private static final VarHandle FINISHED_A_CHUNK;
  private static final VarHandle THREAD_SEQ;

  static {
    // JFR: if a recording is running, weft's event classes load now, not inside a first wait.
    WeftJfr.prepareIfRecording();
  }

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      NEXT = l.findVarHandle(ParallelJob.class, "next", long.class);
      STOP = l.findVarHandle(ParallelJob.class, "stop", boolean.class);
      ACTIVE = l.findVarHandle(ParallelJob.class, "active", int.class);
      FAILURE = l.findVarHandle(ParallelJob.class, "failure", Throwable.class);
      MORE = l.findVarHandle(ParallelJob.class, "more", FailureNode.class);
      WORKER_STATE = l.findVarHandle(Worker.class, "state", int.class);
      FINISHED_A_CHUNK = l.findVarHandle(Worker.class, "finishedAChunk", boolean.class);
      THREAD_SEQ = l.findStaticVarHandle(ParallelJob.class, "threadSeq", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** Sequence for default worker thread names; only ever accessed through THREAD_SEQ. */
  @SuppressWarnings("unused") // accessed through the THREAD_SEQ VarHandle
  private static long threadSeq;

  /** The operation's name for messages, e.g. "Parallel.map". */
  private final String op;

  /** Number of elements. */
  final long n;

  // Padding keeps the hot counter off the line holding the job's read-mostly fields.
  @SuppressWarnings("unused")
  private long p01, p02, p03, p04, p05, p06, p07;

  /** Number of the next chunk to hand out; NEXT.getAndAdd only. */
  @SuppressWarnings("unused") // accessed through the NEXT VarHandle
  private long next;

  @SuppressWarnings("unused")
  private long q01, q02, q03, q04, q05, q06, q07;

  /** Set when no more work should start (failure or cancellation); opaque hint. */
  @SuppressWarnings("unused") // accessed through the STOP VarHandle
  private boolean stop;

  /** Workers started and not yet finished (or cancelled). */
  @SuppressWarnings("unused") // accessed through the ACTIVE VarHandle
  private int active;

  /** The first failure, set once by CAS. */
  @SuppressWarnings("unused") // accessed through the FAILURE VarHandle
  private @Nullable Throwable failure;

  /** Further failures, newest first. */
  @SuppressWarnings("unused") // accessed through the MORE VarHandle
  private @Nullable FailureNode more;

  // Written by the caller before any worker starts; read by workers (see notes, phase 2).
  private long base;
  private long chunk;
  /** Size of the chunks after the first bigChunks ones (the tail). */
  private long smallChunk;
  /** Number of chunks of size chunk before the tail. */
  private long bigChunks;
  /** Elements between two stop checks; unbounded while the caller runs alone. */
  private long checkEvery = Long.MAX_VALUE;
  private @Nullable Thread caller;
  private Worker @Nullable [] workers;
  private boolean ownThreads;
  /**
   * Whether every participant times its chunks to refresh the cost memory; written by the caller
   * before the workers start (published like the chunk fields, notes phase 2).
   */
  private boolean timedCaller;
  /** Time the caller spent in its chunks and their elements, when timedCaller; caller-only. */
  private long callerNanos;
  private long callerElements;
  /** What the call decided, for the dev.weft.Parallel JFR event; caller-only, plain. */
  private String jfrDecision = "alone";
  private int jfrThreads = 1;
  private long jfrEstimate = -1L;
  /** The CancellationException the caller recorded, if it cancelled; caller-only. */
  private @Nullable CancellationException cancellation;

  ParallelJob(String op, long n) {
    this.op = op;
    this.n = n;
  }

  /**
   * Processes elements {@code [lo, hi)}. Implementations check {@link #stopRequested()} at
   * the start and at every {@link #blockEnd} and return early when it is set.
   *
   * @param slot {@code -1} for a step run by the caller alone (before or instead of the
   *     parallel phase, in index order); otherwise the number of this chunk in the parallel
   *     phase, {@code 0 <= slot < chunkCount}
   */
  abstract void runChunk(long lo, long hi, long slot);

  /**
   * The user's function of this call (the mapper, action, body or predicate): its class keys
   * the cost memory of small inputs (see the notes, phase 0'). Every job of {@code Parallel}
   * overrides it; the default, the job itself, gives all jobs of one class one memory.
   *
   * @return the function
   */
  Object costKey() {
    return this;
  }

  /**
   * Every function of the user's that the workers call: the cost key's, and a reduction's
   * combiner. The look for a static-initializer deadlock checks each (review 32: a combiner
   * written in the initializing class, with {@code Function.identity()} as the mapper, hung).
   *
   * @return the functions, the cost key first
   */
  Object[] userFunctions() {
    return new Object[] {costKey()};
  }

  /**
   * Called once, by the caller, before the parallel phase.
   *
   * @param chunkCount the number of chunks the parallel phase will have
   */
  void prepareChunks(long chunkCount) {}

  /**
   * End of the block of elements to run before the next {@link #stopRequested()} check: the
   * whole step while the caller runs alone (nothing can stop it), otherwise about
   * STOP_CHECK_NANOS of work, so cheap functions do not pay a load per element.
   */
  final long blockEnd(long b, long hi) {
    long every = checkEvery;
    return hi - b <= every ? hi : b + every;
  }

  /** Whether the job was stopped; opaque: an early-exit hint only (see notes). */
  final boolean stopRequested() {
    return (boolean) STOP.getOpaque(this);
  }

  /**
   * Whether a failure or a cancellation has been recorded (the call will throw). Volatile, but
   * read only after the stop hint was seen set, so only on the way out: findFirst's chunks use
   * it to tell a stop for a failure or cancellation from a stop for a match (ParallelSearch's
   * notes, FIRST mode (b); review 22: a cancellation after a match was missed there).
   */
  final boolean failureRecorded() {
    return FAILURE.getVolatile(this) != null;
  }

  /**
   * Stops handing out chunks because the answer is known (a search found its match): no
   * failure, no interrupt; threads inside a chunk return at their next {@link
   * #stopRequested()} check and the call returns normally. Opaque, like every write of the
   * stop hint: what the call returns is ordered by the {@code active} hand-shake (notes,
   * phase 3), not by this flag.
   */
  final void stopEarly() {
    STOP.setOpaque(this, true);
  }

  /**
   * The largest chunk this job wants handed out at once in the parallel phase; subclasses
   * override it where a chunk run past the answer is wasted work (searches).
   *
   * @param remaining the elements left when the parallel phase begins
   * @return at least 1
   */
  long chunkLimit(long remaining) {
    return Long.MAX_VALUE;
  }

  /**
   * Whether a call of {@code n} elements runs on the calling thread in a plain loop, without a
   * job, a probe or a clock read: at most {@link #SMALL_INPUT} elements (unless the cut-off is
   * zero: "always split"), no more than one chunk, or a single thread.
   */
  static boolean runsInline(long n, Parallel.Options o) {
    return n <= o.minChunk() || o.isSingleThreaded();
  }

  /**
   * Throws the call's {@link CancellationException} if the calling thread is interrupted;
   * the inline path's entry check (the same as {@link #invoke}'s).
   */
  static void checkNotInterrupted(String op) {
    if (Thread.currentThread().isInterrupted()) {
      throw cancelled(op);
    }
  }

  /** The exception an inline call throws when the function threw {@code t}. */
  static TaskFailedException failedInline(String op, Throwable t) {
    return new TaskFailedException(message(op, t), t);
  }

  /**
   * Runs the whole job according to the options, on the caller's thread and, where the
   * estimated work is above the cut-off, on worker threads; returns when every element has
   * been processed and every worker has finished.
   *
   * @throws TaskFailedException if an invocation of the user's code failed
   * @throws CancellationException if the calling thread was interrupted
   */
  final void invoke(Parallel.Options o) {
    Object jfr = WeftJfr.parallelBegin(); // null unless a recording wants dev.weft.Parallel
    if (jfr == null) {
      invokeUntraced(o);
      return;
    }
    try {
      invokeUntraced(o);
    } finally {
      WeftJfr.parallelEnd(jfr, n, jfrThreads, jfrDecision,
          o.isSingleThreaded() ? -1L : o.cutoffNanos(), jfrEstimate);
    }
  }

  private void invokeUntraced(Parallel.Options o) {
    Thread me = Thread.currentThread();
    if (me.isInterrupted()) {
      throw cancelled();
    }
    long n = this.n;
    if (n == 0) {
      return;
    }
    if (o.isSingleThreaded() || n <= o.minChunk()) {
      jfrDecision = o.isSingleThreaded() ? "alone: threads(1)" : "alone: at most minChunkSize";
      runAlone(0, n);
      return;
    }
    long cutoff = o.cutoffNanos();
    if (n <= SMALL_INPUT && cutoff != 0) {
      invokeSmall(o, me, cutoff);
      return;
    }
    long done = 0;
    double nanosPerElement = 0;
    if (cutoff > 0) {
      long start = System.nanoTime();
      long stepStart = start;
      long step = 1;
      double prevStepRate = Double.MAX_VALUE;
      long probeNanos = Math.max(PROBE_NANOS, cutoff / PROBE_FRACTION);
      while (true) {
        long hi = Math.min(n, done + step);
        runAlone(done, hi);
        long stepSize = hi - done;
        done = hi;
        if (done == n || stopRequested()) {
          jfrDecision = done == n ? "alone: finished while probing" : "stopped early";
          return; // all done, or a search already has its answer
        }
        if (me.isInterrupted()) {
          throw cancelled();
        }
        long now = System.nanoTime();
        long elapsed = now - start;
        // The lowest of the overall rate and the last two steps' rates: a preemption during
        // one step (likely on a loaded machine) then does not make cheap work look expensive,
        // and a split always rests on two steps that both looked expensive.
        double stepRate = (double) (now - stepStart) / stepSize;
        double rate = Math.min((double) elapsed / done, Math.min(stepRate, prevStepRate));
        prevStepRate = stepRate;
        double rest = rate * (n - done);
        if (elapsed >= probeNanos && rest >= cutoff && step > 1) {
          nanosPerElement = rate;
          break;
        }
        if (rest * FINISH_ALONE_MARGIN < cutoff) {
          // Far below the cut-off even if the rest were much slower: finish without timing
          // (nanoTime costs 20-100 ns, as much as a small input's whole work).
          jfrDecision = "alone: estimate below cut-off";
          jfrEstimate = (long) rest;
          runAlone(done, n);
          return;
        }
        stepStart = now;
        step = Math.min(step << 1, MAX_PROBE_STEP);
      }
    }
    int threads = o.effectiveThreads(); // may read cgroup limits: only when about to split
    if (threads == 1) {
      jfrDecision = "alone: one processor";
      runAlone(done, n);
      return;
    }
    runParallel(o, me, threads, done, nanosPerElement, cutoff);
  }

  /**
   * A handful of elements (2 to {@link #SMALL_INPUT}): too few to time a probe, and each may be
   * heavy (a file to compress, a URL to fetch). See the notes, phase 0'.
   */
  private void invokeSmall(Parallel.Options o, Thread me, long cutoff) {
    AtomicLong prior = COSTS.get(costKey().getClass());
    long p = costOpaque(prior);
    long start = 0;
    if ((p >= 0 && p * n < cutoff) || (p < 0 && cutoff > SPLIT_UNKNOWN_MAX_CUTOFF)) {
      // Known to be cheap last time (or unknown under a cut-off a user set high: found by
      // review, a huge cut-off must never split): time the first element and finish alone
      // unless it has become expensive; then time the rest too, for the next call.
      long t0 = System.nanoTime();
      runAlone(0, 1);
      long t1 = System.nanoTime();
      long first = t1 - t0;
      if (stopRequested() || first * (n - 1) < cutoff) {
        jfrDecision = "alone: small input, known cheap";
        jfrEstimate = first * (n - 1);
        runAlone(1, n);
        rememberAlone(prior, first, System.nanoTime() - t1, n);
        return;
      }
      setCostOpaque(prior, first);
      p = first;
      start = 1;
    }
    int threads = o.effectiveThreads();
    if (threads == 1) {
      jfrDecision = "alone: one processor";
      runAlone(start, n);
      return;
    }
    // Unknown, or expensive last time: split at once, and time the caller's own elements so
    // that the next call with this function knows what they cost now.
    this.timedCaller = true;
    runParallel(o, me, threads, start, (double) Math.max(0L, p), cutoff);
    recordCost(prior);
  }

  /**
   * Parallel's small-input fast path, step 1: the cost memory of {@code fn} if a call of
   * {@code n} elements is small and {@code fn} is known to be cheap; the caller then times
   * element 0 itself, with no job at all (notes, phase 0'). Null otherwise: the call goes
   * through a job ({@link #invoke}).
   */
  static @Nullable AtomicLong knownCheap(Object fn, long n, Parallel.Options o) {
    if (n > SMALL_INPUT) {
      return null;
    }
    long cutoff = o.cutoffNanos();
    if (cutoff == 0) {
      return null;
    }
    AtomicLong prior = COSTS.get(fn.getClass());
    long p = costOpaque(prior);
    return (p >= 0 && p * n < cutoff) || (p < 0 && cutoff > SPLIT_UNKNOWN_MAX_CUTOFF)
        ? prior : null;
  }

  /**
   * Step 2b: the caller ran all {@code n} elements alone, element 0 in {@code firstNanos} and
   * the rest in {@code restNanos}: remember their mean cost, so that a function whose first
   * element stayed cheap while the others became expensive is split on its next call (found
   * by review: timing element 0 alone let such calls run one by one on the caller forever).
   */
  static void rememberAlone(AtomicLong prior, long firstNanos, long restNanos, long n) {
    long mean = (firstNanos + restNanos) / n;
    long old = costOpaque(prior);
    if (old != mean) {
      setCostOpaque(prior, mean); // a write only when it changed: calls share this memory
    }
  }

  /**
   * Step 2: element 0 took {@code firstNanos}; whether the other {@code n - 1} are now worth
   * splitting (then recorded in the memory, and the caller goes on with {@link
   * #invokeFromSecond}).
   */
  static boolean turnedExpensive(AtomicLong prior, long firstNanos, long n, Parallel.Options o) {
    if (firstNanos * (n - 1) < o.cutoffNanos()) {
      return false;
    }
    setCostOpaque(prior, firstNanos);
    return true;
  }

  /**
   * Step 3: runs elements {@code [1, n)} split at once (element 0, which became expensive, is
   * done), as {@link #invoke} does for a small input known to be expensive.
   */
  final void invokeFromSecond(Parallel.Options o, long firstNanos) {
    Object jfr = WeftJfr.parallelBegin();
    try {
      Thread me = Thread.currentThread();
      if (me.isInterrupted()) {
        throw cancelled();
      }
      int threads = o.effectiveThreads();
      if (threads == 1) {
        jfrDecision = "alone: one processor";
        runAlone(1, n);
        return;
      }
      this.timedCaller = true;
      runParallel(o, me, threads, 1, (double) firstNanos, o.cutoffNanos());
      recordCost(COSTS.get(costKey().getClass()));
    } finally {
      if (jfr != null) {
        WeftJfr.parallelEnd(jfr, n, jfrThreads, jfrDecision, o.cutoffNanos(), jfrEstimate);
      }
    }
  }

  /** Stores the mean cost per element that the participants of a split call measured. */
  private void recordCost(AtomicLong prior) {
    long nanos = callerNanos;
    long elements = callerElements;
    Worker[] ws = this.workers;
    if (ws != null) {
      for (Worker w : ws) {
        // Plain reads: each worker's last write to them happens-before its `active` decrement,
        // which the caller's return from runParallel (it read active == 0) synchronizes with.
        nanos += w.nanos;
        elements += w.elements;
      }
    }
    if (elements > 0) {
      setCostOpaque(prior, nanos / elements);
    }
  }

  /**
   * Runs {@code [lo, hi)} on the caller with no workers, wrapping a failure, in blocks of {@link #ALONE_BLOCK} elements with an
   * interrupt check between them, so that a long call on the caller alone (after the probe, or
   * on a one-processor machine) can still be cancelled.
   */
  private void runAlone(long lo, long hi) {
    for (long b = lo; b < hi; ) {
      long e = hi - b <= ALONE_BLOCK ? hi : b + ALONE_BLOCK;
      try {
        runChunk(b, e, -1);
      } catch (Throwable t) {
        throw new TaskFailedException(message(t), t);
      }
      b = e;
      if (b < hi && stopRequested()) {
        return; // a search found its answer
      }
      if (b < hi && Thread.currentThread().isInterrupted()) {
        throw cancelled();
      }
    }
  }

  /**
   * The most workers one call starts on platform threads (the shared pool, or new threads per
   * call), whatever {@code threads} allows: ForkJoinPool's limit of 32,767. A {@code
   * threads(Integer.MAX_VALUE)} call over a range of billions of one-element chunks asked for
   * 2^31 - 2 workers and threw the JVM's OutOfMemoryError ("Requested array size exceeds VM
   * limit") before any element ran (review 23); {@code threads} is an upper bound, so the call
   * runs with this many.
   */
  static final int MAX_WORKERS = 32_767;

  /**
   * The same bound where the user supplies the threads (an {@code executor} or a {@code
   * threadFactory}, virtual threads say): 2^20, so that {@code threads(40_000)} of blocking
   * work on virtual threads is honoured (review 23d: the platform bound made 9,699 of 40,000
   * elements wait for good at a latch all of them had to reach), while the worker array stays
   * allocatable.
   */
  static final int MAX_USER_WORKERS = 1 << 20;

  private void runParallel(
      Parallel.Options o, Thread me, int threads, long done, double nanosPerElement,
      long cutoff) {
    long remaining = n - done;
    long c = ceilDiv(remaining, threads * CHUNKS_PER_THREAD);
    if (nanosPerElement > 0) {
      c = Math.min(c, Math.max(1L, (long) (TARGET_CHUNK_NANOS / nanosPerElement)));
    }
    c = Math.min(c, Math.max(1L, chunkLimit(remaining)));
    c = Math.max(c, o.minChunk());
    // The last quarter goes out in chunks 8 times smaller, so that a slow tail (expensive
    // last elements, or a thread descheduled while it holds a chunk) idles the others less.
    long small = Math.max(o.minChunk(), c / TAIL_DIVISOR);
    long bigChunks;
    if (small < c) {
      bigChunks = (remaining - remaining / 4) / c;
    } else {
      bigChunks = 0; // chunks too small to split further: one size throughout
      small = c;
    }
    long chunks = bigChunks + ceilDiv(remaining - bigChunks * c, small);
    long w = Math.min(Math.min(threads - 1L, chunks - 1),
        o.executor() != null || o.threadFactory() != null ? MAX_USER_WORKERS : MAX_WORKERS);
    if (nanosPerElement > 0) {
      // Each worker costs a thread start; start no more than the estimated work can repay.
      double est = nanosPerElement * remaining;
      w = Math.min(w, Math.max(1L, (long) (est / cutoff)));
    }
    if (w < 1) {
      jfrDecision = "alone: one chunk";
      runAlone(done, n);
      return;
    }
    this.base = done;
    this.chunk = c;
    // Unknown cost (cut-off zero, or a small input split at once): only chunks of a few
    // elements, which a running worker finishes between two looks however cheap they are.
    this.expectedChunkNanos = nanosPerElement > 0 ? (long) (c * nanosPerElement)
        : c <= InitializerDeadlock.FEW_ELEMENTS ? 0L : Long.MAX_VALUE;
    this.smallChunk = small;
    this.bigChunks = bigChunks;
    this.checkEvery = nanosPerElement > 0
        ? Math.max(1L, Math.min(1024L, (long) (STOP_CHECK_NANOS / nanosPerElement)))
        : 1L; // cost unknown (cut-off zero: work said to be heavy): check every element
    this.caller = me;
    prepareChunks(chunks);
    int count = (int) w;
    Worker[] ws = new Worker[count];
    for (int i = 0; i < count; i++) {
      ws[i] = new Worker(this);
    }
    this.workers = ws;
    jfrDecision = "split";
    jfrThreads = count + 1;
    jfrEstimate = nanosPerElement > 0 ? (long) (nanosPerElement * remaining) : -1L;
    // Plain: no worker exists yet; Thread.start/execute publishes it (notes, phase 2).
    ACTIVE.set(this, count);
    startWorkers(o, ws);
    boolean interrupted = false;
    try {
      if (!stopRequested()) {
        interrupted = workLoop(null);
      }
    } catch (Throwable e) {
      // weft's own step failed on the caller (an Error recording its function's failure): the
      // call still returns only once every worker has finished (review 31b: it threw with a
      // worker still in the function). The workers are stopped first, best effort.
      try {
        stopAndInterrupt(null);
        awaitWorkers(ws, false);
      } catch (Throwable again) {
        if (again != e) {
          e.addSuppressed(again);
        }
      }
      throw e;
    }
    awaitWorkers(ws, interrupted);
  }

  private void startWorkers(Parallel.Options o, Worker[] ws) {
    Executor executor = o.executor();
    ThreadFactory factory = o.threadFactory();
    ParallelPool pool = executor == null && factory == null ? ParallelPool.shared() : null;
    this.ownThreads = executor == null && pool == null;
    boolean beyondCore = o.explicitThreads();
    for (Worker w : ws) {
      if (stopRequested()) {
        return; // the rest stay NEW and are cancelled in awaitWorkers
      }
      try {
        if (pool != null) {
          if (!pool.tryExecute(w, beyondCore, ws.length)) {
            return; // no pool thread free: fewer workers; the rest are cancelled later
          }
        } else if (executor != null) {
          executor.execute(w);
        } else {
          Thread t = factory != null ? factory.newThread(w) : NEW_THREADS.newThread(w);
          if (t == null) {
            continue; // the factory declined: this worker stays NEW and is cancelled
          }
          if (t.getState() != Thread.State.NEW) {
            // Never start, join or interrupt a thread weft did not start: it may be the caller
            // or run anything. If it runs this worker, the `active` handshake still waits for
            // it (or cancels it before it begins).
            throw new IllegalStateException("the ThreadFactory of " + op
                + " returned a thread that was already started (" + ThreadNames.of(t)
                + "); it must return a new, unstarted thread");
          }
          w.ownThread = t;
          t.start();
        }
      } catch (RejectedExecutionException e) {
        // A saturated or shut-down executor: run with fewer workers; the caller does the rest.
      } catch (Throwable t) {
        w.ownThread = null; // not started
        recordFailure(t, null);
        return;
      }
    }
  }

  /**
   * The factory behind {@link Parallel.Options#newThreadsPerCall()}: new platform threads named
   * {@code weft-parallel-N}, started and joined by each call.
   */
  static final ThreadFactory NEW_THREADS = new PerCallThreads();

  /** NEW_THREADS' class (the core has no lambdas: see CoreBytecodeTest). */
  private static final class PerCallThreads implements ThreadFactory {
    @Override
    public Thread newThread(Runnable r) {
      long id = (long) THREAD_SEQ.getAndAdd(1L) + 1; // atomic: names must be unique
      return new Thread(null, r, "weft-parallel-" + id, 0, false);
    }
  }

  /**
   * The loop every participant runs: take chunks until none is left or the job stops.
   *
   * @param self the worker running it, or null for the caller
   * @return for the caller: whether it saw its interrupt status set (and cancelled the job)
   */
  final boolean workLoop(@Nullable Worker self) {
    final long n = this.n;
    final long base = this.base;
    final long c = this.chunk;
    final long small = this.smallChunk;
    final long big = this.bigChunks;
    final long bigEnd = base + big * c;
    final Thread me = Thread.currentThread();
    final boolean timed = this.timedCaller;
    while (!stopRequested()) {
      long k = (long) NEXT.getAndAdd(this, 1L); // volatile RMW: each chunk to one thread
      long lo = k < big ? base + k * c : bigEnd + (k - big) * small;
      if (lo >= n) {
        break;
      }
      long hi = Math.min(n, lo + (k < big ? c : small));
      try {
        if (timed) {
          long t0 = System.nanoTime();
          runChunk(lo, hi, k);
          long dt = System.nanoTime() - t0;
          if (self == null) {
            callerNanos += dt;
            callerElements += hi - lo;
          } else {
            self.nanos += dt; // plain: read by the caller after the `active` hand-shake
            self.elements += hi - lo;
          }
        } else {
          runChunk(lo, hi, k);
        }
        if (self != null && !self.finishedAChunk) {
          setFinishedAChunkOpaque(self);
        }
      } catch (Throwable t) {
        recordFailure(t, self);
        break;
      }
      if (self == null && me.isInterrupted()) {
        Thread.interrupted(); // cleared while waiting; restored before the call returns
        cancel();
        return true;
      }
    }
    return false;
  }

  // Yield (platform threads only) is the middle stage of the convention's spin -> yield -> park
  // backoff, not a correctness mechanism.
  private void awaitWorkers(Worker[] ws, boolean interruptedBefore) {
    boolean interrupted = interruptedBefore;
    for (Worker w : ws) {
      if (WORKER_STATE.compareAndSet(w, NEW, CANCELLED)) {
        ACTIVE.getAndAdd(this, -1);
      }
    }
    int spins = 0;
    @Nullable Error parkFailure = null;
    long nextLook = 0L; // nanoTime of the next look (| 1: nonzero), or 0 before the first park
    boolean lookedForInitializer = false; // for good: see "A call inside a static initializer"
    @Nullable String initializingHost = null; // known after the first look
    @Nullable String initializerBlocks = null;
    while ((int) ACTIVE.getVolatile(this) != 0) { // volatile: see notes, phase 3
      if (spins < SPINS || parkFailure != null) {
        spins++;
        Thread.onSpinWait();
      } else {
        try {
          if (spins < SPINS + YIELDS) {
            spins++;
            SpinBackoff.yieldUnlessVirtual(); // a virtual thread goes on to park (see there)
          } else if (lookedForInitializer) {
            LockSupport.park(this);
          } else {
            long now = System.nanoTime();
            if (nextLook == 0L) {
              nextLook = (now + InitializerDeadlock.LOOK_AFTER_NANOS) | 1L;
            }
            long left = nextLook - now;
            if (left > 0L) {
              LockSupport.parkNanos(this, left); // a worker's exit still unparks it early
            } else {
              if (initializingHost == null) {
                initializingHost = initializingHost();
                if (initializingHost == null) {
                  lookedForInitializer = true; // not inside such an initializer: never look again
                  continue;
                }
              }
              // Inside the initializer: look now and again, since a worker may reach the call
              // only later (review 32: after a slow element, or a slow get of the list).
              initializerBlocks = lookForInitializer(ws, initializingHost);
              if (initializerBlocks != null) {
                break;
              }
              nextLook = (System.nanoTime() + InitializerDeadlock.LOOK_AGAIN_NANOS) | 1L;
            }
          }
        } catch (Error e) {
          // JDK 21+: a virtual caller too deep in its stack to unmount gets a
          // StackOverflowError from the park (review 30: the call threw with a worker still
          // inside the function); a first yield in a full heap threw an OutOfMemoryError
          // (review 31c, the same outcome, and the caller's interrupt lost). The promise is
          // that every invocation has completed when the call returns or throws: wait without
          // parking, and report the error after that.
          parkFailure = e;
        }
      }
      if (Thread.interrupted()) {
        if (!interrupted) {
          interrupted = true;
          cancel();
        }
      }
    }
    if (initializerBlocks != null) {
      throw blockedByInitializer(initializerBlocks, interrupted);
    }
    if (ownThreads) {
      for (Worker w : ws) {
        Thread t = w.ownThread;
        if (t != null) {
          try {
            interrupted |= joinUninterruptibly(t);
          } catch (Error e) { // the park inside join() failed, as above: the thread still runs
            while (t.isAlive()) {
              Thread.onSpinWait();
            }
            if (parkFailure == null) {
              parkFailure = e;
            } else if (parkFailure != e) {
              parkFailure.addSuppressed(e);
            }
          }
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt(); // restore: never swallow the caller's interrupt
    }
    Throwable first = (Throwable) FAILURE.getVolatile(this);
    if (first == null) {
      if (parkFailure != null) {
        throw parkFailure; // never swallowed; every worker has finished
      }
      return;
    }
    RuntimeException e = first == cancellation ? (CancellationException) first : failed(first);
    List<Throwable> others = new ArrayList<>();
    for (FailureNode f = (FailureNode) MORE.getVolatile(this); f != null; f = f.next) {
      others.add(f.failure);
    }
    for (int i = others.size() - 1; i >= 0; i--) {
      e.addSuppressed(others.get(i));
    }
    if (parkFailure != null) {
      e.addSuppressed(parkFailure);
    }
    throw e;
  }

  /**
   * Opaque: read by the caller's look for a static-initializer deadlock, from another thread, so
   * the store must happen (not sink out of the loop); nothing is published through it.
   */
  private static void setFinishedAChunkOpaque(Worker w) {
    FINISHED_A_CHUNK.setOpaque(w, true);
  }

  private static boolean finishedAChunkOpaque(Worker w) {
    return (boolean) FINISHED_A_CHUNK.getOpaque(w);
  }

  /**
   * How long one chunk is expected to take, from the probe's measured cost; when the cost is
   * unknown (cut-off zero, a small input split at once), 0 for chunks of a few elements and
   * Long.MAX_VALUE for longer ones. Caller-only. The look for a static-initializer deadlock
   * needs it short: "finished no chunk in a quarter of a second" then means "stuck", where a
   * chunk of cheap elements of unknown cost could run that long in the job's own loop, whose
   * stack (stopped at the loop's safepoint poll) looks the same at every look.
   */
  private long expectedChunkNanos = Long.MAX_VALUE;

  /** A stack seen at no look (a worker that is not, or no longer, a suspect). */
  private static final StackTraceElement[] NO_FRAMES = new StackTraceElement[0];

  /**
   * The class whose static initializer the caller is running and in which one of the call's
   * functions is written (InitializerDeadlock.hostBeingInitialized), or null; also null when
   * the chunks' duration is unknown or long (see expectedChunkNanos), where the look could
   * mistake a running worker for a blocked one. Never throws.
   */
  private @Nullable String initializingHost() {
    try {
      if (expectedChunkNanos > InitializerDeadlock.MAX_CHUNK_NANOS) {
        return null;
      }
      for (Object f : userFunctions()) {
        String host = InitializerDeadlock.hostBeingInitialized(f.getClass());
        if (host != null) {
          return host;
        }
      }
      return null;
    } catch (Throwable unseen) {
      return null;
    }
  }

  /**
   * Whether a worker in {@code ws} waits for the static initializer of {@code host}, which the
   * caller is running (see InitializerDeadlock): that class's name, or null. Best effort, and never throws: an Error
   * here (a full heap) must not change how the call ends. Returns null at once when the caller
   * is interrupted (the looks would not be apart in time) or every worker has finished.
   */
  private @Nullable String lookForInitializer(Worker[] ws, String host) {
    try {
      String[] callers = InitializerDeadlock.callerClasses(this);
      StackTraceElement[][] seen = new StackTraceElement[ws.length][0]; // empty: not a suspect
      for (int look = 0; look <= InitializerDeadlock.GAPS_NANOS.length; look++) {
        if (look > 0 && !pauseBetweenLooks(InitializerDeadlock.GAPS_NANOS[look - 1])) {
          return null;
        }
        boolean suspect = false;
        for (int i = 0; i < ws.length; i++) {
          StackTraceElement[] before = seen[i];
          seen[i] = NO_FRAMES;
          if (look > 0 && before.length == 0) {
            continue; // cleared at an earlier look
          }
          Worker w = ws[i];
          // Acquire: pairs with the worker's NEW -> RUNNING CAS, which publishes `thread`.
          int st = (int) WORKER_STATE.getAcquire(w);
          Thread t = w.thread;
          if (t == null || finishedAChunkOpaque(w)
              || !(st == RUNNING || st == INTERRUPTING || st == INTERRUPTED
                  || st == NOT_INTERRUPTED)) {
            continue;
          }
          StackTraceElement[] now = t.getStackTrace();
          if (InitializerDeadlock.atTheCall(now, host, callers)
              && (look == 0 || Arrays.equals(before, now))) {
            seen[i] = now;
            suspect = true;
          }
        }
        if (!suspect) {
          return null;
        }
      }
      return host;
    } catch (Throwable unseen) {
      return null;
    }
  }

  /**
   * Sleeps {@code nanos} between two looks (a worker's exit may unpark this thread early: the
   * pause is measured, not assumed). False if the caller is interrupted or the workers are done.
   */
  private boolean pauseBetweenLooks(long nanos) {
    long until = System.nanoTime() + nanos;
    for (long left = nanos; left > 0L; left = until - System.nanoTime()) {
      LockSupport.parkNanos(this, left);
      if (Thread.currentThread().isInterrupted() || (int) ACTIVE.getVolatile(this) == 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * The caller is inside the static initializer of {@code host}, and a worker waits for that
   * initializer to end (InitializerDeadlock): the call can never end by waiting. It stops the
   * job (workers that do resume stop at their next check) and returns the exception the call
   * throws, without waiting for the blocked workers. This is the one way a call ends with
   * workers still running; they have not entered the function, and do so only if the
   * initializer catches the exception and completes (documented in Parallel).
   */
  private IllegalStateException blockedByInitializer(String host, boolean interrupted) {
    IllegalStateException e = new IllegalStateException(InitializerDeadlock.message(op, host));
    Throwable first = (Throwable) FAILURE.getVolatile(this);
    // (Throwable): the descriptor recordFailure's CAS has, linked in the class initializer.
    if (first == null && FAILURE.compareAndSet(this, null, (Throwable) e)) {
      stopAndInterrupt(null);
    } else {
      first = (Throwable) FAILURE.getVolatile(this);
      if (first != null && first != cancellation) {
        e.addSuppressed(first);
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt(); // restore: never swallow the caller's interrupt
    }
    return e;
  }

  /**
   * The caller was interrupted: stop like a failure, with a CancellationException as the
   * "first failure" unless a real failure came first; failures caused by the interrupts we
   * deliver then become its suppressed exceptions.
   */
  private void cancel() {
    CancellationException ce;
    try {
      ce = cancelled();
    } catch (OutOfMemoryError e) {
      // No memory for the exception (review 31c: cancel() threw, the interrupt the caller had
      // consumed was lost, and a caller waiting for its workers threw with one still in the
      // function). The error stands in for the cancellation, as the call's first failure; the
      // caller's interrupt is set again when the call ends, as after any cancellation.
      recordFailure(e, null);
      return;
    }
    this.cancellation = ce; // caller-only field
    if (FAILURE.compareAndSet(this, null, ce)) {
      stopAndInterrupt(null);
    }
  }

  private static boolean joinUninterruptibly(Thread t) {
    boolean interrupted = false;
    while (true) {
      try {
        t.join();
        return interrupted;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
  }

  /** Records a failure of the user's code; the first one stops the job. */
  private void recordFailure(Throwable t, @Nullable Worker self) {
    if (FAILURE.compareAndSet(this, null, t)) {
      stopAndInterrupt(self);
      return;
    }
    FailureNode node;
    try {
      node = new FailureNode(t);
    } catch (OutOfMemoryError e) {
      return; // a further failure, dropped: the first one, recorded, fails the call
    }
    while (true) {
      FailureNode head = (FailureNode) MORE.getVolatile(this);
      node.next = head; // plain: published by the CAS below
      if (MORE.compareAndSet(this, head, node)) {
        return;
      }
    }
  }

  private void stopAndInterrupt(@Nullable Worker self) {
    STOP.setOpaque(this, true); // hint only; see notes
    Worker[] ws = this.workers;
    if (ws == null) {
      return;
    }
    @Nullable Throwable refused = null;
    for (Worker w : ws) {
      if (w != self && WORKER_STATE.compareAndSet(w, RUNNING, INTERRUPTING)) {
        Thread t = w.thread; // published by the worker's NEW -> RUNNING CAS that we read
        // A thread already interrupted (by its executor, by user code) gets nothing from weft,
        // and so has nothing cleared by weft on exit: only an interrupt weft sent is cleared.
        boolean send = false;
        try {
          if (t != null && !t.isInterrupted()) {
            send = true;
            t.interrupt();
          }
        } catch (Throwable e) { // a factory's Thread subclass whose interrupt() throws, or an
          // Error inside it: the walk must reach the other workers, and this worker's state
          // must still leave INTERRUPTING, or its exit waits for it for ever (review 30)
          if (refused == null) {
            refused = e;
          } else if (refused != e) {
            refused.addSuppressed(e);
          }
        } finally {
          // release: the worker waits for the final state (and so for interrupt() to be done).
          // After a throwing interrupt() the thread may or may not be interrupted: INTERRUPTED
          // makes its exit clear the status, as for any interrupt weft sent.
          WORKER_STATE.setRelease(w, send ? INTERRUPTED : NOT_INTERRUPTED);
        }
      }
    }
    if (refused != null) {
      recordFailure(refused, self); // FAILURE is set: it joins the failures the call reports
    }
  }

  /**
   * Called by a worker task that an executor ran on the calling thread itself (a direct
   * executor, {@code CallerRunsPolicy}, or the function running queued tasks on the caller):
   * it was cancelled before it began, so the caller no longer counts it.
   */
  final void workerDeclined() {
    ACTIVE.getAndAdd(this, -1); // no unpark: the caller is this thread
  }

  /** Called by a worker when it leaves the loop. */
  final void workerExit(Worker w) {
    Thread c = this.caller;
    try {
      if (!WORKER_STATE.compareAndSet(w, RUNNING, DONE)) {
        // An interrupter won the CAS: wait until it has decided (and, if it sends one, until
        // its interrupt() has happened), then clear only an interrupt that weft sent.
        if (interruptDecided(w) == INTERRUPTED) {
          Thread.interrupted();
          keepInterruptOwedToEnclosing(w);
        }
        WORKER_STATE.setOpaque(w, DONE); // for toString/debugging only
      }
      // A pool thread goes back to the pool's idle stack before the caller can return, so a
      // call that follows at once finds it (ParallelPool notes, "Back early").
      ParallelPool.returnEarly(w);
    } finally {
      // Whatever failed above (an OutOfMemoryError at the idle node, or where a first call
      // links: the pool thread then ends and gives its permit back), the caller must stop
      // counting this worker, or it waits for ever (review 30c).
      if ((int) ACTIVE.getAndAdd(this, -1) == 1 && c != null) {
        LockSupport.unpark(c);
      }
    }
  }

  /**
   * Waits (bounded spin, then yield) while an interrupter is between its RUNNING ->
   * INTERRUPTING CAS and its final state, and returns that final state.
   */
  // Yield only backs off while another thread finishes a Thread.interrupt() call.
  @SuppressWarnings("ThreadPriorityCheck")
  private static int interruptDecided(Worker w) {
    int spins = 0;
    int st;
    // Acquire: pairs with the interrupter's setRelease, so its interrupt() call is done.
    while ((st = (int) WORKER_STATE.getAcquire(w)) == INTERRUPTING) {
      if (++spins < SPINS) {
        Thread.onSpinWait();
      } else {
        Thread.yield(); // park would return at once: this thread is being interrupted
      }
    }
    return st;
  }

  /**
   * After worker {@code w} cleared the interrupt weft sent it: if {@code w} ran nested inside a
   * worker of another call on this same thread (that call's function ran {@code w}'s task), and
   * that enclosing worker was also targeted by a failure of its call, the interrupt we cleared
   * was owed to it as well: its interrupter found the thread already interrupted (by {@code w}'s
   * call) and sent nothing, or its interrupt merged with ours. Re-assert it, and mark that
   * worker INTERRUPTED so that its own exit clears it in turn. Found by review (issue 18): the
   * enclosing worker's function, waiting for an interrupt, was never interrupted.
   */
  private static void keepInterruptOwedToEnclosing(Worker w) {
    for (Worker e = w.enclosing; e != null; e = e.enclosing) {
      int st = interruptDecided(e);
      if (st == INTERRUPTED || st == NOT_INTERRUPTED) {
        // e's interrupter has finished (final state read with acquire) and e's exit CAS runs
        // later on this thread, so nobody else writes e's state now; opaque is enough, and
        // e's exit reads it in program order.
        WORKER_STATE.setOpaque(e, INTERRUPTED);
        Thread.currentThread().interrupt();
        return; // e's exit clears it and repeats this for e's own enclosing workers
      }
    }
  }

  private TaskFailedException failed(Throwable first) {
    return new TaskFailedException(message(first), first);
  }

  private String message(Throwable t) {
    return message(op, t);
  }

  private static String message(String op, Throwable t) {
    return op + " failed: " + TaskFailedException.describe(t)
        + " (the cause; any further failures are suppressed)";
  }

  private CancellationException cancelled() {
    return cancelled(op);
  }

  private static CancellationException cancelled(String op) {
    return new CancellationException(
        op + " was cancelled: the calling thread was interrupted (its interrupt status is"
            + " still set)");
  }

  static long ceilDiv(long a, long b) {
    return -Math.floorDiv(-a, b);
  }

  @Override
  public String toString() {
    return op + "[n=" + n + ", next=" + (long) NEXT.getOpaque(this)
        + ", active=" + (int) ACTIVE.getOpaque(this)
        + ", stopped=" + stopRequested() + "]";
  }

  /**
   * Cost memory of small inputs, per class of the user's function (notes, phase 0'): what one
   * element cost the last time a function of this class ran, in nanoseconds, or -1 if never
   * measured. Read and written opaque ({@link #costOpaque}, {@link #setCostOpaque}): it is a hint
   * shared by every call with such a function, a stale or lost update only makes one call decide
   * as the one before did, and a long written opaque is never torn.
   *
   * <p>The value is an {@link AtomicLong}, a class of the JDK, not one of weft's: a ClassValue's
   * value is held strongly by the key class, and a value of weft's own class would lead from a
   * long-lived key (a JDK function such as {@code Function.identity()}, or a parent loader's
   * class) back to weft's class loader, through it to this ClassValue, and so keep its weak key
   * and weft's whole loader alive for good (review 23: a redeployed web application's copy of
   * weft was never collected; JDK-8136353).
   */
  private static final ClassValue<AtomicLong> COSTS = new ClassValue<>() {
    @Override
    protected AtomicLong computeValue(Class<?> type) {
      return new AtomicLong(-1L);
    }
  };

  static long costOpaque(AtomicLong prior) {
    return prior.getOpaque();
  }

  static void setCostOpaque(AtomicLong prior, long perElement) {
    // Capped so that perElement * SMALL_INPUT cannot overflow.
    prior.setOpaque(Math.min(perElement, 1L << 40));
  }

  /** A failure after the first, on a Treiber stack. */
  private static final class FailureNode {
    final Throwable failure;
    @Nullable FailureNode next;

    FailureNode(Throwable failure) {
      this.failure = failure;
    }
  }

  /** One worker: a Runnable started on a new thread or handed to the user's Executor. */
  static final class Worker implements Runnable {
    /**
     * The worker this thread is running now, if any: lets a worker that a function runs nested
     * (another call's task) know the worker it interrupts the progress of; see
     * keepInterruptOwedToEnclosing. One lookup per worker task, not per element.
     */
    private static final ThreadLocal<@Nullable Worker> RUNNING_HERE = new ThreadLocal<>();

    private final ParallelJob job;
    /** The thread running it; plain write published by the NEW -> RUNNING CAS. */
    @Nullable Thread thread;
    /**
     * The worker of another call that this thread was running when it started this one (that
     * call's function ran this task nested), or null; written and read only by this thread.
     */
    @Nullable Worker enclosing;
    /** Time spent in chunks and their elements, when the job is timed; see invokeSmall. */
    long nanos;
    long elements;
    /** The thread weft created for it, for join; caller-only. */
    @Nullable Thread ownThread;
    /** NEW, RUNNING, INTERRUPTING, INTERRUPTED, DONE or CANCELLED; WORKER_STATE only. */
    @SuppressWarnings("unused") // accessed through the WORKER_STATE VarHandle
    private int state;
    /**
     * Set (opaque) by the worker once it has finished a chunk: a worker that has, is not the
     * one blocked on a static initializer (see lookForInitializer). Written once per worker.
     */
    boolean finishedAChunk;

    Worker(ParallelJob job) {
      this.job = job;
    }

    @Override
    public void run() {
      Thread me = Thread.currentThread();
      if (me == job.caller) {
        // The executor runs this task on the calling thread (see the notes, "The caller is
        // never a worker"): give the share back; the caller does that work in its own loop, as
        // the caller, so it is never interrupted by weft and never has its interrupt cleared.
        if (WORKER_STATE.compareAndSet(this, NEW, CANCELLED)) {
          job.workerDeclined();
        }
        return;
      }
      thread = me;
      if (!WORKER_STATE.compareAndSet(this, NEW, RUNNING)) {
        return; // cancelled before it began: the caller no longer counts it
      }
      Worker outer = null;
      boolean marked = false;
      try {
        // Inside the try: the thread-local calls allocate (an entry, a map), and an
        // OutOfMemoryError between the RUNNING CAS and workerExit left the caller counting this
        // worker for ever (review 30c: the call never returned).
        outer = RUNNING_HERE.get();
        enclosing = outer;
        RUNNING_HERE.set(this);
        marked = true;
        job.workLoop(this);
      } finally {
        try {
          job.workerExit(this);
        } finally {
          if (!marked) {
            // nothing of ours to undo
          } else if (outer == null) {
            RUNNING_HERE.remove();
          } else {
            RUNNING_HERE.set(outer);
          }
        }
      }
    }

    @Override
    public String toString() {
      return "Parallel worker[state=" + (int) WORKER_STATE.getOpaque(this) + "]";
    }
  }

  static {
    // Last of the static initializers. Runs one worker over an empty job on this thread, so
    // that the VarHandle call sites of a worker's run and exit are linked now: the first run of
    // a call site links it, which allocates, and under a full heap a worker's first exit threw
    // there before the caller stopped counting it, and the call never returned (review 30c).
    ParallelJob warm =
        new ParallelJob("warm-up", 0L) {
          @Override
          void runChunk(long lo, long hi, long slot) {
            // an empty job: no chunk is ever handed out
          }
        };
    warm.active = 1;
    new Worker(warm).run();
    // The worker's first finished chunk, and the caller's look at it: through the accessors the
    // loop and the look call, so that their own call sites are linked.
    Worker marked = new Worker(warm);
    setFinishedAChunkOpaque(marked);
    finishedAChunkOpaque(marked);
    // The failure paths, likewise (review 31b: the JVM's first failure of a function, raised in
    // a full heap, could not link recordFailure's FAILURE CAS; the failure was never recorded,
    // and Parallel.map returned null for the element, anyMatch false). A job with one RUNNING
    // worker that has no thread: two failures (the first CAS, the stop and interrupt walk; the
    // list of further failures), the worker's exit after the walk, and the caller reading the
    // failures back into its exception.
    ParallelJob failing =
        new ParallelJob("warm-up", 0L) {
          @Override
          void runChunk(long lo, long hi, long slot) {
            // never called
          }
        };
    Worker running = new Worker(failing);
    WORKER_STATE.compareAndSet(running, NEW, RUNNING);
    failing.workers = new Worker[] {running};
    failing.active = 1;
    IllegalStateException warmUpFailure = new IllegalStateException("warm-up");
    failing.recordFailure(warmUpFailure, null);
    failing.recordFailure(warmUpFailure, null);
    failing.workerExit(running);
    try {
      failing.awaitWorkers(new Worker[0], false);
    } catch (TaskFailedException expected) {
      // the warm-up's own failure, read back
    }
    // And a cancellation: its CAS records a CancellationException, a descriptor of its own
    // (a signature-polymorphic call's descriptor takes its arguments' static types).
    // SpinBackoff, initialized now (a caller's first wait for its workers initialized it in a
    // full heap: CI, session 31, JDK 25; an Error in a class initializer breaks the class for
    // the JVM).
    SpinBackoff.isVirtual(Thread.currentThread());
    ParallelJob cancelling =
        new ParallelJob("warm-up", 0L) {
          @Override
          void runChunk(long lo, long hi, long slot) {
            // never called
          }
        };
    cancelling.cancel();
  }
}
