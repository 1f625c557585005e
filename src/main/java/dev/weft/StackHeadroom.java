package dev.weft;

/**
 * Makes a {@link StackOverflowError} strike before a protocol step that must be undone on
 * failure, not inside the undo.
 *
 * <p>Some of weft's steps publish state that only a later step of the same thread settles: a
 * {@code OnceCell} claim, released when the initialiser returns or throws; a {@code Scope} task
 * listed before its thread starts, marked started or abandoned after {@code Thread.start()}; a
 * {@code SpinLock} waiter registered before it parks, taken back when it leaves. A
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
 * <p>Cost: about 5 ns per frame (Temurin 25, 2-vCPU EPYC): 80 ns for a claim, 340 ns for a
 * spawn (which costs about 100 µs); only on slow paths, never on a fast path.
 */
final class StackHeadroom {
  /**
   * The probe before a OnceCell claim: 4x the deepest probe the sweeps needed (4 frames). Each
   * compiled frame is about 120 bytes (8 longs, the return address, the frame pointer).
   */
  static final int CLAIM_FRAMES = 16;

  /**
   * The probe before a SpinLock waiter registers to park (its phase 3, after spinning), so that
   * its node is never left registered: 32 frames, about 170 ns, before a park that costs
   * microseconds. Review18SoeTest's timed tryLock sweep left the lock held in 8-11 of 12
   * rounds before it, in none of 12 (3 of 3 forks) after.
   */
  static final int PARK_FRAMES = 32;

  /** The probe before a Scope spawn: 2x what the sweeps needed (16 frames failed, 32 held). */
  static final int SPAWN_FRAMES = 64;

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

  /** The probe's result for a depth; for tests. */
  static long probe(int frames) {
    return descend(frames);
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
    // the call: all eight are live across it and occupy this frame.
    r = r * 31 + a;
    r = (r ^ b) * 31 + c;
    r = (r ^ d) * 31 + e;
    r = (r ^ f) * 31 + g;
    return r ^ h;
  }
}
