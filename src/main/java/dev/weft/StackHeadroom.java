package dev.weft;

/**
 * Makes a {@link StackOverflowError} strike before a protocol step that must be undone on
 * failure, not inside the undo.
 *
 * <p>Some of weft's steps publish state that only a later step of the same thread settles: a
 * {@code OnceCell} claim, released when the initialiser returns or throws; a {@code Scope} task
 * listed before its thread starts, marked started or abandoned after {@code Thread.start()}. A
 * {@code StackOverflowError} that strikes the settling step itself (the clean-up in a catch
 * block calls methods, and each call needs a frame) leaves the state published for good: other
 * threads then wait for it forever. The JDK's own locks avoid this with a reserved stack area
 * ({@code @ReservedStackAccess}, JEP 270) that only JDK code may use.
 *
 * <p>{@link #ensure()} is the portable substitute: before such a step, it descends {@link
 * #FRAMES} frames, each holding {@link #LOCALS} values live across its call, so at least that
 * much stack below the caller's frame is in use for a moment. HotSpot throws {@code
 * StackOverflowError} when a frame's stack bang reaches the guard zone, a fixed address range: if
 * the probe's frames fit, any chain of calls from the caller's depth that uses no more stack
 * fits too. So a thread that is short of stack gets the error from {@code ensure()}, before the
 * step changes anything, and a clean-up that needs less stack than the probe completes.
 *
 * <p>What it does not promise: a clean-up that needs more stack than the probe (interpreted
 * frames are larger than compiled ones; the probe's size was chosen with a margin over the
 * deepest clean-up measured in interpreted mode, see the tests {@code StackHeadroomTest}); and
 * anything on a platform whose stack checks work differently.
 *
 * <p>Cost: {@link #FRAMES} calls, measured at about 100 ns; only on slow paths (a cell's
 * initialisation, a spawn), never on a fast path.
 */
final class StackHeadroom {
  /**
   * Frames the probe descends. Each compiled frame holds {@link #LOCALS} longs plus the return
   * address and frame pointer (about 96 bytes on x86-64); interpreted, about twice that. 64
   * frames is about 6 KiB compiled, 12 KiB interpreted: the clean-ups it guards need under 2 KiB
   * interpreted (measured by StackHeadroomTest).
   */
  static final int FRAMES = 64;

  /** Values each frame keeps live across its call, so that they are spilled to its frame. */
  static final int LOCALS = 8;

  /**
   * Seeds for the probe's locals, read from an array so that the compiler cannot recompute
   * them after the call instead of keeping them in the frame (it cannot prove the array
   * unchanged across the call).
   */
  private static final long[] SEEDS = {1, 2, 3, 5, 7, 11, 13, 17};

  /**
   * The probe's result, written so that the descent cannot be removed as dead code. Plain: the
   * value is never read for its meaning, only its computation matters.
   */
  @SuppressWarnings("unused")
  private static long sink;

  private StackHeadroom() {}

  /**
   * Throws {@code StackOverflowError} now if less stack is left below the caller than the
   * probe uses; otherwise returns, having changed nothing of the caller's.
   */
  static void ensure() {
    sink = descend(FRAMES);
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
