package dev.weft;

import java.lang.invoke.MethodHandles;

/**
 * Makes a {@link StackOverflowError} strike before a protocol step that must be undone on
 * failure, not inside the undo.
 *
 * <p>Some of weft's steps publish state that only a later step of the same thread settles: a
 * {@code OnceCell} claim, released when the initialiser returns or throws; a {@code Scope} task
 * listed before its thread starts, marked started or abandoned after {@code Thread.start()}; a
 * lock waiter's node, queued before it parks and taken back when it leaves; a release that
 * frees a lock and then wakes the waiter who will take it next. A
 * {@code StackOverflowError} that strikes the settling step itself (the clean-up in a catch
 * block calls methods, and each call needs a frame) leaves the state published for good: other
 * threads then wait for it forever. The JDK's own locks avoid this with a reserved stack area
 * ({@code @ReservedStackAccess}, JEP 270) that only JDK code may use, and even that is not
 * always enough: a sweep of spawns near the limit left the {@code ReentrantLock} inside the
 * shared deadline timer's {@code ScheduledThreadPoolExecutor} held for good (the JVM warned
 * "Potentially dangerous stack overflow in ReservedStackAccess annotated method"), and every
 * timed scope in the JVM then hung.
 *
 * <p>{@link #ensure(int)} is the portable substitute: before such a step, it descends a number
 * of frames, each holding {@link #LOCALS} values live across its call, so that much stack below
 * the caller's frame is in use for a moment. HotSpot throws {@code StackOverflowError} when a
 * frame's stack bang reaches the guard zone, a fixed address range: if the probe's frames fit,
 * any chain of calls from the caller's depth that uses no more stack fits too. So a thread that
 * is short of stack gets the error from {@code ensure}, before the step changes anything, and a
 * clean-up that needs less stack than the probe completes. Interpreted, both the probe's frames
 * and the clean-up's are larger, so the probe scales with the clean-up.
 *
 * <p>The depths were measured, not derived (StackHeadroomTest sweeps every depth near the limit,
 * compiled and {@code -Xint}, with a JFR recording on, which makes the paths deeper, on JDK 17
 * and 25): for a OnceCell claim a 4-frame probe was already enough; for a spawn (Thread.start()
 * and the shared deadline timer's schedule) 16 frames were not and 32 were. Each site uses a
 * margin over what it needed. What it does not promise: a clean-up deeper than its site's probe (a user
 * JFR event or a JVM that grew its paths), or a platform whose stack checks work differently.
 *
 * <p>Where the locks probe (session 19; the sites' comments say why each is needed): every
 * slow acquisition before it queues or registers ({@link #QUEUE_FRAMES} for TicketLock, Mutex,
 * RwLock, SeqLock's writers and read fallback, Condvar and lockWhen waits; {@link
 * #PARK_FRAMES} for SpinLock, whose spin phase changes nothing); a Condition wait before its
 * waiter is queued ({@link #AWAIT_FRAMES}); and an unlock or signal that will wake or hand
 * over to a waiter, before it changes anything ({@link #RELEASE_FRAMES}), so that an overflow
 * leaves the lock held and a retry higher up the stack releases it; TicketLock's release also
 * probes {@link #wakeFrames} before it grants a parked successor, undoing its steps if that
 * does not fit (session 25). Uncontended acquisitions
 * and releases never probe. The release at the end of a closure ({@code Mutex.update}) has no
 * guard to retry with, so it uses {@link #fits} and goes ahead unprobed when the probe fails.
 *
 * <p>Cost: about 3 ns per frame (Temurin 25, 2-vCPU EPYC, {@code StackHeadroomBench}): 42 ns
 * for a waking release's 16 frames, 187 ns for the 64 before queueing (which then parks or
 * spins for microseconds) or before a spawn (which costs about 100 µs); only on slow paths,
 * never on a fast path. Until session 28 the frames combined their locals in a serial chain of
 * multiply-adds, and a probe cost twice that (81 and 354 ns): the stores that give the probe its
 * reach cost about half of it, the chain's latency the rest.
 */
final class StackHeadroom {
  /**
   * The probe before a OnceCell claim: 4x the deepest probe the sweeps needed (4 frames). Each
   * compiled frame is about 120 bytes (8 longs, the return address, the frame pointer).
   */
  static final int CLAIM_FRAMES = 16;

  /**
   * The probe before a SpinLock waiter registers to park (its phase 3, after spinning), so that
   * its node is never left registered: about 190 ns before a park that costs microseconds.
   * Review18SoeTest's timed tryLock sweep left the lock held in 8-11 of 12 rounds before it,
   * in none of 12 (3 of 3 forks) after, at 32 frames; the untimed lock() sweep with a JFR
   * recording still overflowed after the push at 32 (1 of 8 forks), so it is now 64, as
   * {@link #QUEUE_FRAMES}.
   */
  static final int PARK_FRAMES = 64;

  /**
   * The probe before a TicketLock waiter queues its node: the whole wait, and the grant or the
   * abandon that ends it, runs below. 32 frames were not enough in Review18SoeTest's sweep (a
   * rarely run step, still interpreted, overflowed in 2 of 5 forks); 64 held in 6 of 6, and with
   * a JFR recording. The same depth guards the contended acquisitions of Mutex and RwLock (the
   * AQS queues a node), SeqLock's waiting room and read fallback, and Condvar and lockWhen
   * waits. For Condvar waits 32 frames were tried, to halve the probe on the ping-pong path:
   * the JDK 17 sweep then left the mutex held or a wake-up lost in 2 of 10 forks (64: 0 of 19).
   */
  static final int QUEUE_FRAMES = 64;

  /**
   * The probe of an unlock that will hand the lock over or wake a waiter (SpinLock, TicketLock),
   * and of a Condition's signal or await, before the first step changes anything: the steps
   * that follow (CAS pops, a grant, an unpark) are a few frames deep.
   */
  static final int RELEASE_FRAMES = 16;

  /**
   * The probe before an unpark of {@code t}: {@link #RELEASE_FRAMES} for a platform thread. A
   * virtual thread's unpark submits its continuation to the scheduler (a ForkJoinPool: submit,
   * signalWork, createWorker), far deeper, and the pool swallows an overflow in createWorker:
   * the thread is left queued with no carrier woken, and nobody is told. Review 24d's sweep of
   * Condition.signal near the stack's end to a virtual waiter stranded it in 6 of 6 runs (JDK
   * 25); {@link #QUEUE_FRAMES} for a virtual thread, as for a wait. Session 25's direct sweep
   * of a TicketLock unlock granting a parked virtual waiter held in 12 of 12 runs at this depth
   * (JDK 25); 256 frames also held, but cost the virtual-thread lock scenario 8-10% (a probe
   * then cost about 5 ns per frame, paid on every hand-over to a parked virtual thread; about
   * 3 since session 28), against 2% for 64.
   *
   * @param t the thread about to be unparked
   * @return the probe's depth in frames
   */
  static int wakeFrames(Thread t) {
    return SpinBackoff.isVirtual(t) ? QUEUE_FRAMES : RELEASE_FRAMES;
  }

  /**
   * The probe before an unpark of a thread this code cannot name: the one a {@code
   * java.util.concurrent} lock's release wakes ({@code ReentrantReadWriteLock} does not say
   * which), the waiters of a {@code Condition}, a {@code OnceCell}'s waiters before they have
   * pushed. {@link #QUEUE_FRAMES} wherever virtual threads exist (JDK 21 and later), as {@link
   * #wakeFrames} for a virtual thread; {@link #RELEASE_FRAMES} before. Session 26's review
   * stranded a parked virtual waiter, left runnable and never run, from a {@code Mutex},
   * {@code RwLock}, {@code SeqLock} and {@code Condvar} release near the stack's end that had
   * probed {@link #RELEASE_FRAMES} ({@code Review26WakeSitesTest}).
   *
   * @return the probe's depth in frames
   */
  static int wakeFramesOfAnyThread() {
    return VIRTUAL_THREADS_EXIST ? QUEUE_FRAMES : RELEASE_FRAMES;
  }

  /**
   * The probe before a wake-up of a waiter this code cannot name, on a primitive that records
   * whether a virtual thread ever queued on it ({@code virtualWaited}, set by the waiter before
   * it queues; see {@link #queueingVirtual}): {@link #QUEUE_FRAMES} if one did, else {@link
   * #RELEASE_FRAMES}. So platform-only use pays nothing for virtual threads: {@link
   * #wakeFramesOfAnyThread} on every waking release cost {@code RwLock}'s contended write 2-4x
   * in session 26's measurement (367-712 ns/op against 39-168, two threads, JDK 25).
   *
   * @param virtualWaited whether a virtual thread ever queued on the primitive
   * @return the probe's depth in frames
   */
  static int wakeFrames(boolean virtualWaited) {
    return virtualWaited ? QUEUE_FRAMES : RELEASE_FRAMES;
  }

  /**
   * Whether the current thread, about to queue, is virtual: the primitive then sets its
   * sticky {@code virtualWaited} flag (a plain write, before the queueing's own volatile write
   * or lock release, which publishes it to the releaser that finds the waiter queued).
   *
   * @return whether the queueing thread is virtual
   */
  static boolean queueingVirtual() {
    return VIRTUAL_THREADS_EXIST && SpinBackoff.isVirtual(Thread.currentThread());
  }

  private static final boolean VIRTUAL_THREADS_EXIST = Runtime.version().feature() >= 21;

  /**
   * The probe of an acquisition that does not wait ({@code tryLock()}, {@code tryRead()}, a
   * zero timeout), taken only while lock-order checking is on, before the CAS: it covers the
   * {@code LockOrder.acquired} record that follows the CAS, which must not overflow with the
   * lock held (review 23). Waiting acquisitions need none: their {@code LockOrder.beforeWait},
   * before the CAS, runs the same lookups deeper. 64 since session 25: at 16, review 25's
   * tryLock sweep with checking on threw from the record after the CAS, leaving the lock held,
   * in every overflowing tryLock (9-23 per run) of a JVM where other tests had run first; it
   * costs only while checking is on.
   */
  static final int RECORD_FRAMES = 64;

  /**
   * The probe before a SpinLock or TicketLock Condition queues a waiter: it covers the unlock,
   * the park and the re-acquisition, each of which may run the lock's own probes (up to
   * {@link #QUEUE_FRAMES}, TicketLock's) below a few frames of its own, so it must be deeper.
   */
  static final int AWAIT_FRAMES = 80;

  /** The probe before a Scope spawn: 2x what the sweeps needed (16 frames failed, 32 held). */
  static final int SPAWN_FRAMES = 64;

  /**
   * The probe at the entry of a scoped thread's task ({@code ScopeTask.run}), before it is
   * marked entered: its epilogue, at the same depth, records the outcome, ends scopes left open
   * and wakes the joiners, and a virtual joiner's unpark runs the scheduler on this stack
   * ({@link #QUEUE_FRAMES}). Review 29: a task run by a factory's thread near the end of its
   * stack overflowed inside that unpark, and the virtual joiner stayed parked for good (6 of 6
   * runs, JDK 25). Twice the wake-up's probe, for the epilogue around it.
   */
  static final int TASK_FRAMES = 2 * QUEUE_FRAMES;

  /** Values each frame keeps live across its call, so that they are spilled to its frame. */
  static final int LOCALS = 8;

  /**
   * Seeds for the probe's locals, read from an array so that the compiler cannot recompute
   * them after the call instead of keeping them in the frame (it cannot prove the array
   * unchanged across the call).
   */
  private static final long[] SEEDS = {1, 2, 3, 5, 7, 11, 13, 17};

  /**
   * A value the probe's result is compared with, so that the descent is used and cannot be
   * removed as dead code, without a write to shared memory (which many threads claiming cells
   * at once would contend on). The probe never returns it for the depths weft uses
   * (StackHeadroomTest checks).
   */
  static final long NEVER = 0x5EED_DEAD_BEEF_0001L;

  private StackHeadroom() {}

  /**
   * Throws {@code StackOverflowError} now if less stack is left below the caller than {@code
   * frames} probe frames use; otherwise returns, having changed nothing of the caller's.
   *
   * @param frames the probe's depth, in frames of about 120 bytes compiled
   */
  static void ensure(int frames) {
    if (descend(frames) == NEVER) {
      throw new AssertionError("StackHeadroom: the probe returned its sentinel");
    }
  }

  /**
   * Like {@link #ensure(int)}, for a step that must go ahead even without the headroom: the
   * release at the end of a closure ({@code Mutex.update}, a {@code SeqLocked} write, a read
   * function's pass under the lock), whose caller holds no guard to retry with. Refusing it
   * would leave the lock held for good; going ahead unprobed risks only what a release without
   * probes always risked. An overflow at this method's own entry propagates, as one at the
   * release's next call would.
   *
   * @param frames the probe's depth, in frames of about 120 bytes compiled
   * @return whether the probe fitted
   */
  static boolean fits(int frames) {
    try {
      ensure(frames);
      return true;
    } catch (StackOverflowError e) {
      return false;
    }
  }

  /**
   * The probe before a release that will wake somebody ({@link #RELEASE_FRAMES}): {@link
   * #ensure} where the caller can retry the release (an unlock, a guard's close), {@link #fits}
   * where it cannot (the end of a closure), which then goes ahead unprobed.
   *
   * @param retryable whether the caller can retry the release after an overflow
   */
  static void beforeRelease(boolean retryable) {
    beforeRelease(retryable, RELEASE_FRAMES);
  }

  /**
   * As {@link #beforeRelease(boolean)}, with the depth the wake-up needs ({@link #wakeFrames},
   * {@link #wakeFramesOfAnyThread}).
   *
   * @param retryable whether the caller can retry the release after an overflow
   * @param frames the probe's depth in frames
   */
  static void beforeRelease(boolean retryable, int frames) {
    if (retryable) {
      ensure(frames);
    } else {
      fits(frames); // no retry possible: go ahead regardless
    }
  }

  /**
   * Initializes {@code classes} now, from a primitive's static initializer: the classes its slow
   * paths use (contention, timeouts, conditions, failures), which would otherwise be
   * initialized on the first slow path taken, at whatever depth that comes. A class whose
   * initializer overflows there fails for good: every later use, in every thread, throws {@code
   * NoClassDefFoundError} (JLS 12.4.2). Found by session 26: a first timed-out {@code
   * ScopedThread.join} near the stack's end initialized {@code SpinBackoff} there. A primitive
   * first used near the stack's end can still fail that way, as any Java class can; its slow
   * paths, taken later and deeper, no longer add to that ({@code Review26ColdInitTest}).
   *
   * @param lookup the caller's lookup (it reaches the caller's private nested classes)
   * @param classes the classes to initialize
   */
  static void initializeNow(MethodHandles.Lookup lookup, Class<?>... classes) {
    try {
      for (Class<?> c : classes) {
        lookup.ensureInitialized(c);
      }
    } catch (IllegalAccessException e) {
      throw new AssertionError("weft: a core class is not accessible to " + lookup, e);
    }
  }

  /** The probe's result for a depth; for tests. */
  static long probe(int frames) {
    return descend(frames);
  }

  /**
   * The probe as it was until session 28, for comparison only (StackHeadroomTest checks that
   * {@link #descend} reaches as deep; StackHeadroomBench times both): the same eight longs kept
   * live across each call, combined with the callee's result by a serial chain of multiply-adds,
   * whose latency the return path of every frame waited for. Never called by the library.
   *
   * @param frames the depth in frames
   * @return a value derived from every frame's locals
   */
  static long serialChainProbe(int frames) {
    long[] s = SEEDS;
    long a = s[0];
    long b = s[1];
    long c = s[2];
    long d = s[3];
    long e = s[4];
    long f = s[5];
    long g = s[6];
    long h = s[7];
    long r = frames > 1 ? serialChainProbe(frames - 1) : frames;
    r = r * 31 + a;
    r = (r ^ b) * 31 + c;
    r = (r ^ d) * 31 + e;
    r = (r ^ f) * 31 + g;
    return r ^ h;
  }

  private static long descend(int frames) {
    long[] s = SEEDS;
    long a = s[0];
    long b = s[1];
    long c = s[2];
    long d = s[3];
    long e = s[4];
    long f = s[5];
    long g = s[6];
    long h = s[7];
    long r = frames > 1 ? descend(frames - 1) : frames;
    // Each local is combined with the call's result, so none can be folded into another before
    // the call: all eight are live across it and occupy this frame. The combination is a
    // balanced sum of eight independent xors, three additions deep, not a serial chain: the
    // frames return one after another, so each frame's combination lies on the probe's critical
    // path, and a chain of four multiply-adds (about 16 cycles of latency) per frame made the
    // probe twice as slow as the stores that give it its reach (session 28: ensure(64) 349 ns
    // to 192 ns on JDK 25, 352 to 176 on JDK 17, same reach; StackHeadroomTest checks the reach).
    return ((r ^ a) + (r ^ b) + ((r ^ c) + (r ^ d))) + (((r ^ e) + (r ^ f)) + ((r ^ g) + (r ^ h)));
  }
}
