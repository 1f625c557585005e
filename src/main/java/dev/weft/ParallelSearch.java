package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.function.IntPredicate;
import java.util.function.Predicate;

/**
 * The engine behind {@link Parallel}'s short-circuiting searches ({@code anyMatch},
 * {@code allMatch}, {@code noneMatch}, {@code findAny}, {@code findFirst}): the inline loops
 * for small inputs and the {@link ParallelJob} subclasses for the rest. Every search is a search
 * for an index: the public methods turn the index into their result.
 *
 * <p>Package-private; not API.
 */
final class ParallelSearch {
  /*
   * Algorithm notes
   * ===============
   *
   * A search is a ParallelJob (probe, chunks from one counter, fail fast, cancellation, the
   * `active` hand-shake: see ParallelJob's notes) whose chunks scan for an element where
   * predicate(x) == want (want is false for allMatch: it looks for the first element that
   * fails). `found` holds the lowest index recorded so far (NONE = Long.MAX_VALUE while none),
   * lowered by a CAS loop, so it only ever decreases. A thread that finds a match records it,
   * calls stopEarly() (the stop hint: no further chunk is handed out) and returns from its chunk:
   * later elements of its own chunk cannot beat the match. The call returns normally; the
   * caller reads `found` after invoke(), ordered by the `active` hand-shake (or program order,
   * when it recorded the match itself).
   *
   * ANY mode (anyMatch, allMatch, noneMatch, findAny): any match is an answer, so every chunk
   * stops at its next check once the stop hint is set, whoever set it (match, failure or
   * cancellation).
   *
   * FIRST mode (findFirst). Claim: the lowest matching index m is always returned (or the call
   * throws). Chunks are handed out in increasing index order by one counter, and the probe (the
   * caller alone) scans in index order, so when any match j >= m is recorded, the chunk holding
   * m has already been handed out (or probed). Its thread scans from the chunk's start towards m
   * and gives up only when
   *   (a) found <= b, its next element: every recorded index is a match, so m <= found <= b,
   *       and b <= m since it has not passed m yet: found == m, already recorded; or
   *   (b) the stop hint is set and it was not set (only) by a match: a failure or cancellation,
   *       and the call throws anyway; or
   *   (c) its own predicate failed: the call throws.
   * Elements after `found` never need testing: each block is cut at `found`, and a chunk that
   * lies entirely after it stops at its next check. So findFirst never misses an earlier match
   * and never waits for the chunks after it (beyond each thread's next check).
   *
   * Telling (b) from a stop for a match. stopRequested() is an opaque read and stopEarly() an
   * opaque write, so seeing the hint set orders nothing. The recorder therefore publishes
   * `found` before the hint: CAS on found, then VarHandle.releaseFence(), then stopEarly(); a
   * chunk that sees the hint set issues VarHandle.acquireFence() before it rereads `found`.
   * Fence to fence, a hint set by a match is then seen together with that match (found !=
   * NONE). found == NONE after the fence therefore means the hint came from a failure or a
   * cancellation (ParallelJob's stopAndInterrupt), and the chunk stops like any other. If found
   * != NONE, the hint may also have come from a failure after the match: a chunk before the
   * match then notices its own thread's failure through `failed` (set before the failure leaves
   * runChunk), and any other failure or a cancellation through failureRecorded() (ParallelJob's
   * first failure, set by a CAS before the hint and before the interrupts that a failure or a
   * cancellation sends, so a chunk that stopped because of them sees it). Until review 22 only
   * `failed` was looked at: after a cancellation (the caller interrupted once a match was
   * recorded) a chunk before the match scanned on to the match, as far as minChunkSize lets a
   * chunk reach, while the cancelled call waited for it.
   *
   * Chunk size (chunkLimit). The elements wasted past the answer are about one chunk per other
   * thread (the chunk each holds when the answer appears; a thread beyond it stops at its next
   * check, but a thread that finds the match only after scanning its own chunk lets the others
   * scan as many elements meanwhile). For the goal "match at 1% of 1e6 cheap elements: at most
   * 3% tested" on up to 16 threads, 15 other threads may waste about 2% of the input, so a
   * chunk must hold at most about remaining / 1000 elements: hence remaining / 1024, at least
   * MIN_CHUNK. ParallelJob still caps a chunk at about TARGET_CHUNK_NANOS of work, so with
   * expensive predicates the bound in time is (threads - 1) * 200 us of work. The cost: about
   * 1000 counter increments per call (each tens of ns, under 1% of a chunk of 1000 elements
   * of 1 ns). MIN_CHUNK keeps inputs below 64k elements from being handed out one element at
   * a time; those are split only when the elements are expensive, and then ParallelJob's
   * per-chunk time target is the smaller bound anyway.
   *
   * Window (ProtocolWindows): "parallel.search-answered", on the thread that recorded a match,
   * after `found` and the stop hint are written.
   */

  /** {@code found} while no match is recorded. */
  static final long NONE = Long.MAX_VALUE;

  /** Chunks handed out per search at most, about: bounds the work wasted past the answer. */
  static final long SEARCH_CHUNKS = 1024L;

  /** Smallest chunk a search asks for (see the notes, "Chunk size"). */
  static final long MIN_CHUNK = 64L;

  private ParallelSearch() {}

  // ------------------------------------------------------------------------------ inline
  // Small inputs, one chunk or one thread: a plain scan on the calling thread (see
  // ParallelJob.runsInline and Parallel's mapInline), with the caller's interrupt checked
  // between blocks of ParallelJob.ALONE_BLOCK elements, outside the try.

  /** The first index in {@code in} where {@code p.test(x) == want}, or -1. */
  static <T> int firstInline(
      String op, List<? extends T> in, Predicate<? super T> p, boolean want) {
    ParallelJob.checkNotInterrupted(op);
    int n = in.size();
    for (int b = 0; b < n; b += ParallelJob.ALONE_BLOCK) {
      if (b > 0) {
        ParallelJob.checkNotInterrupted(op);
      }
      int e = Math.min(n, b + ParallelJob.ALONE_BLOCK);
      try {
        for (int i = b; i < e; i++) {
          if (p.test(in.get(i)) == want) {
            return i;
          }
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(op, t);
      }
    }
    return -1;
  }

  /** The first offset {@code k} in {@code [0, to - from)} where {@code p.test(from + k) == want}, or -1. */
  static long firstInline(String op, int from, int to, IntPredicate p, boolean want) {
    ParallelJob.checkNotInterrupted(op);
    for (long b = from; b < to; b += ParallelJob.ALONE_BLOCK) {
      if (b > from) {
        ParallelJob.checkNotInterrupted(op);
      }
      int e = (int) Math.min(to, b + ParallelJob.ALONE_BLOCK);
      try {
        for (int i = (int) b; i < e; i++) {
          if (p.test(i) == want) {
            return (long) i - from;
          }
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(op, t);
      }
    }
    return -1L;
  }

  // -------------------------------------------------------------------------------- jobs

  /**
   * A search: scans chunks for a matching index and records the lowest one found.
   * Subclasses say how to scan a range of indices ({@link #scan}).
   */
  abstract static class SearchJob extends ParallelJob {
    private static final VarHandle FOUND;
    private static final VarHandle FAILED;

    static {
      try {
        MethodHandles.Lookup l = MethodHandles.lookup();
        FOUND = l.findVarHandle(SearchJob.class, "found", long.class);
        FAILED = l.findVarHandle(SearchJob.class, "failed", boolean.class);
      } catch (ReflectiveOperationException e) {
        throw new ExceptionInInitializerError(e);
      }
    }

    /** Whether the lowest index is wanted (findFirst) or any (the others); see the notes. */
    private final boolean first;

    /** Lowest matching index recorded; NONE while none. Only lowered, by CAS (see notes). */
    @SuppressWarnings("unused") // accessed through the FOUND VarHandle
    private long found = NONE;

    /** Set (opaque) when a predicate invocation failed: an early-exit hint, see the notes. */
    @SuppressWarnings("unused") // accessed through the FAILED VarHandle
    private boolean failed;

    SearchJob(String op, long n, boolean first) {
      super(op, n);
      this.first = first;
    }

    /**
     * The first index in {@code [lo, hi)} that matches, or -1; both bounds fit in an int.
     * Runs the user's predicate; a failure propagates.
     */
    abstract long scan(long lo, long hi);

    @Override
    final void runChunk(long lo, long hi, long slot) {
      try {
        for (long b = lo, e; b < hi; b = e) {
          e = blockEnd(b, hi);
          if (first) {
            long f = (long) FOUND.getVolatile(this);
            if (f <= b) {
              return; // nothing from b on can beat the match already recorded
            }
            if (stopRequested()) {
              // Pairs with record()'s releaseFence: a hint set by a match shows that match.
              VarHandle.acquireFence();
              f = (long) FOUND.getVolatile(this);
              if (f == NONE || f <= b || (boolean) FAILED.getOpaque(this)
                  || failureRecorded()) {
                return; // a failure or cancellation (or a match at or before b)
              }
              // Stopped for a match after this block: it may still hold an earlier one.
            }
            if (f < e) {
              e = f; // never test past the best match so far
            }
          } else if (stopRequested()) {
            return; // any answer will do, or the call failed or was cancelled
          }
          long j = scan(b, e);
          if (j >= 0) {
            record(j);
            return; // later elements of this chunk cannot beat j
          }
        }
      } catch (Throwable t) {
        FAILED.setOpaque(this, true); // hint for chunks before the match (notes)
        throw t;
      }
    }

    private void record(long j) {
      long cur = (long) FOUND.getVolatile(this);
      while (j < cur && !FOUND.compareAndSet(this, cur, j)) { // volatile CAS: only ever lowered
        cur = (long) FOUND.getVolatile(this);
      }
      VarHandle.releaseFence(); // `found` before the stop hint (notes, "Telling (b)")
      stopEarly();
      if (ProtocolWindows.ENABLED) {
        ProtocolWindows.at("parallel.search-answered");
      }
    }

    /**
     * The lowest recorded matching index, or -1. Call after {@link #invoke} returned: the
     * {@code active} hand-shake orders every record before it.
     */
    final long result() {
      long f = (long) FOUND.getVolatile(this);
      return f == NONE ? -1L : f;
    }

    /** Keeps chunks small so that little is scanned past the answer (see the notes). */
    @Override
    final long chunkLimit(long remaining) {
      return Math.max(MIN_CHUNK, remaining / SEARCH_CHUNKS);
    }
  }

  /** Searches a random-access list (arrays come as {@code Arrays.asList}). */
  static final class ListSearchJob<T> extends SearchJob {
    private final List<? extends T> in;
    private final Predicate<? super T> p;
    private final boolean want;

    ListSearchJob(
        String op, List<? extends T> in, Predicate<? super T> p, boolean want, boolean first) {
      super(op, in.size(), first);
      this.in = in;
      this.p = p;
      this.want = want;
    }

    @Override
    Object costKey() {
      return p;
    }

    @Override
    long scan(long lo, long hi) {
      final List<? extends T> in = this.in;
      final Predicate<? super T> p = this.p;
      final boolean want = this.want;
      for (int i = (int) lo, end = (int) hi; i < end; i++) { // int loop: see Parallel's MapJob
        if (p.test(in.get(i)) == want) {
          return i;
        }
      }
      return -1L;
    }
  }

  /** Searches the {@code int} range {@code [from, from + n)}; indices are offsets from from. */
  static final class RangeSearchJob extends SearchJob {
    private final int from;
    private final IntPredicate p;
    private final boolean want;

    RangeSearchJob(String op, int from, long n, IntPredicate p, boolean want, boolean first) {
      super(op, n, first);
      this.from = from;
      this.p = p;
      this.want = want;
    }

    @Override
    Object costKey() {
      return p;
    }

    @Override
    long scan(long lo, long hi) {
      final IntPredicate p = this.p;
      final boolean want = this.want;
      // from + hi <= to, so both bounds fit in an int.
      for (int i = (int) (from + lo), end = (int) (from + hi); i < end; i++) {
        if (p.test(i) == want) {
          return (long) i - from;
        }
      }
      return -1L;
    }
  }
}
