package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;
import java.util.function.ToLongFunction;
import org.jspecify.annotations.Nullable;

/**
 * A sequence counter for state with exactly one writer: optimistic reads like {@link SeqLock},
 * with a cheaper write that never waits, because writers are not serialised.
 *
 * <p>Only one thread may write at a time; that is the caller's promise (for example, a single
 * thread owns the state and publishes it). A second writer overlapping a write is detected and
 * fails with {@link IllegalStateException} instead of silently corrupting the state.
 *
 * <pre>{@code
 * final class Clock {                       // one ticker thread writes, any thread reads
 *   private final SeqCount count = new SeqCount();
 *   private long seconds, nanos;
 *
 *   void tick(long s, long n) {             // called only by the ticker thread
 *     try (SeqCount.WriteGuard w = count.write()) {
 *       seconds = s;
 *       nanos = n;
 *     }
 *   }
 *
 *   long totalNanos() {
 *     return count.readLong(() -> seconds * 1_000_000_000L + nanos);
 *   }
 * }
 * }</pre>
 *
 * <p>Reads work as for {@link SeqLock} ({@link #beginRead()}/{@link #validate(long)} by hand, or
 * {@link #read(Supplier)}, which retries and discards exceptions thrown on torn state), except
 * that there is no lock to fall back on: a reader retries until it sees a quiet moment, backing
 * off (spin, yield, then short parks) while a write is in progress. A writer that never pauses
 * can therefore starve readers; use {@link SeqLock} where that matters.
 *
 * <p><b>Memory consistency effects.</b> Actions in the writer prior to closing a {@link
 * WriteGuard} happen-before the actions of a read function whose read validates with a stamp at
 * or after that close. A read between {@link #beginRead()} and a successful {@link
 * #validate(long)} sees the state as of one completed write; values read before a failed
 * validation may be torn and must be discarded.
 *
 * <p><b>Thread safety.</b> Any number of threads may read; one thread at a time may write.
 *
 * <p><b>Misuse.</b> Null functions throw {@link NullPointerException}. Starting a write while
 * another write is in progress throws {@link IllegalStateException}: "concurrent writers on a
 * SeqCount" from another thread, or a non-reentrancy error from the same thread. The check
 * costs no atomic instruction and is best-effort: a write that starts during another write throws
 * at once, and two writes that start at nearly the same moment are usually caught when a guard
 * closes ("concurrent writers"), after readers may already have seen their mix; a writer
 * descheduled between its two first steps can still slip through unnoticed. With assertions
 * enabled ({@code -ea}, as in tests) the check is exact instead: the write starts with a
 * compare-and-set, so overlapping writes never both proceed. Closing a {@link WriteGuard} twice
 * throws {@link IllegalStateException}; closing it on another
 * thread throws {@link IllegalMonitorStateException}. A read function may read again (nested
 * {@code read}, {@code beginRead}/{@code validate}); reading inside this thread's own write
 * throws {@link IllegalStateException} (it would never validate), and so does a read function
 * that starts a write and leaves it open. A read function must not write and close a write on
 * the same counter: unlike {@link SeqLock}, there is no pass under a lock where that could be
 * detected, so every pass fails validation and the read never returns.
 */
public final class SeqCount {
  /*
   * Algorithm notes.
   *
   * The same sequence protocol as SeqLock (see its notes for the reader's fences, which are
   * identical here: getAcquire, plain data loads, loadLoadFence, getOpaque re-read), with these
   * differences on the write side:
   *
   *  - Begin: read seq (opaque: only writers store it, and a correct caller's previous write
   *    happened-before this one, so this thread sees the latest value; opaque only for the
   *    atomicity of a long); if it is odd, another write is in progress: throw. Then store s+1
   *    with setOpaque (atomic, no ordering of its own) followed by VarHandle.storeStoreFence():
   *    the data stores that follow must not become visible before the odd value (a reader that
   *    sees any new data value must then re-read an odd or later seq). A release store would
   *    order the wrong side (accesses *before* it); storeStoreFence orders the odd store before
   *    every later store. On x86 (TSO) both are plain instructions; on AArch64 the fence is one
   *    `dmb ishst`. No atomic read-modify-write and no full fence: the write is two ordered
   *    stores around the data, which is the whole point of a single-writer counter.
   *  - Debug check for concurrent writers (`EXACT_WRITER_CHECK`, on when assertions are enabled,
   *    as in tests): the odd store is a CAS from s instead, so two writers that start together
   *    cannot both move the same even value to odd and the loser throws. Without it the check
   *    is best-effort and costs only plain loads: a write that starts while another is in
   *    progress sees an odd seq and throws; an overlap that slipped past both (two writers read
   *    the same even value) is usually caught when a guard closes, because `writer` or seq no
   *    longer hold what this write put there: that close throws IllegalStateException
   *    ("concurrent writers"), after re-publishing an even value so the counter is not left
   *    odd. Not always: if writer B reads s, is descheduled, and stores s+1 only after writer A
   *    has finished (seq s+2), B's write passes every check (seq went s+2 -> s+1 -> s+2) and a
   *    reader holding stamp s+2 may validate B's half-written data. Readers may also have
   *    validated a torn state during a detected overlap: the exception reports a broken
   *    promise, it does not undo it. A CAS per write (a locked instruction, a full fence on
   *    x86) would cost as much as the rest of the write; the goal was a write close to two
   *    plain stores.
   *  - End: setRelease(s+2). Release orders the data stores before the even value, which is all
   *    readers need; unlike SeqLock there are no waiting writers to hand off to, so no full fence.
   *
   * Readers: the inline fast path is SeqLock's (getAcquire, function, loadLoadFence, opaque
   * re-read). The slow path retries at once after a failed validation (the counter moved: the
   * write is over or in progress) and backs off only while seq is odd: onSpinWait for
   * SeqLock.SPINS rounds, then Thread.yield for SeqLock.YIELDS rounds, then LockSupport.parkNanos
   * with a doubling delay capped at MAX_PARK_NANOS. Counting only odd observations means a reader
   * parks when one write stays in progress for long (its writer was descheduled), not because
   * writes are frequent: an earlier version counted failed validations too and, under a steady
   * writer, parked readers for tens of microseconds after a burst of ordinary failures.
   *
   * `writer` is the thread inside a write, written plainly after the odd store and cleared
   * before the release; read only by threads asking "is it me?" (exact, see SeqLock's notes on
   * `owner`).
   */

  private static final long MAX_PARK_NANOS = 1_000_000L;

  /**
   * Whether {@link #write()} uses the exact (CAS) check for concurrent writers: on when
   * assertions are enabled for this class ({@code -ea}, as in tests), off otherwise. A static
   * final, so the JIT folds the choice away.
   */
  private static final boolean EXACT_WRITER_CHECK = SeqCount.class.desiredAssertionStatus();

  private static final VarHandle SEQ;

  static {
    try {
      SEQ = MethodHandles.lookup().findVarHandle(SeqCount.class, "seq", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The sequence: even = quiet, odd = write in progress. Accessed only through {@link #SEQ}. */
  @SuppressWarnings("UnusedVariable") // accessed through the SEQ VarHandle
  private long seq;

  /** The thread inside a write, or null; plain accesses (see the algorithm notes). */
  private @Nullable Thread writer;

  /** Creates a counter with no write in progress. */
  public SeqCount() {}

  /** Acquire: orders later data loads after this load. */
  private long seqAcquire() {
    return (long) SEQ.getAcquire(this);
  }

  /** Opaque: a fresh coherent read; ordering comes from a fence or a following CAS. */
  private long seqOpaque() {
    return (long) SEQ.getOpaque(this);
  }

  /**
   * Starts an optimistic read. If a write is in progress, waits (spinning, then yielding, then
   * parking briefly) until it ends, so the returned stamp is always even.
   *
   * @return the stamp for {@link #validate(long)}
   */
  public long beginRead() {
    long s = seqAcquire();
    return (s & 1) == 0 ? s : awaitEven();
  }

  private long awaitEven() {
    checkNotWriter();
    for (int round = 0; ; round++) {
      backoff(round);
      long s = seqAcquire();
      if ((s & 1) == 0) {
        return s;
      }
    }
  }

  private void checkNotWriter() {
    if (writer == Thread.currentThread()) {
      throw new IllegalStateException(
          "SeqCount read inside this thread's own write would never validate;"
              + " read the fields directly while writing");
    }
  }

  /** Spin, then yield, then park with a doubling delay. */
  // The library's spin policy (CONVENTIONS.md) is spin, then yield, then park; the yield
  // phase is deliberate and bounded, not a reliance on scheduling for correctness.
  @SuppressWarnings("ThreadPriorityCheck")
  private void backoff(int round) {
    if (round < SeqLock.SPINS) {
      Thread.onSpinWait();
    } else if (round < SeqLock.SPINS + SeqLock.YIELDS) {
      Thread.yield();
    } else {
      int shift = Math.min(round - SeqLock.SPINS - SeqLock.YIELDS, 20);
      LockSupport.parkNanos(this, Math.min(1_000L << shift, MAX_PARK_NANOS));
    }
  }

  /**
   * Tells whether no write has started since {@code stamp} was obtained.
   *
   * @param stamp a stamp from {@link #beginRead()}
   * @return {@code true} if the values read since {@code beginRead} come from one completed
   *     write; {@code false} if they may be torn (always {@code false} for an odd stamp)
   */
  public boolean validate(long stamp) {
    VarHandle.loadLoadFence(); // data loads before the re-read of seq
    return (stamp & 1) == 0 && seqOpaque() == stamp;
  }

  /**
   * Runs {@code reader} until it sees consistent state and returns its result. An exception it
   * throws propagates only if the read validated; otherwise it is discarded and the read
   * retried.
   *
   * @param reader reads the guarded fields; may run several times and on torn state
   * @param <R> the result type
   * @return the result of a run of {@code reader} that validated
   * @throws NullPointerException if {@code reader} is null
   */
  public <R> R read(Supplier<? extends R> reader) {
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = retryStamp(); // a write is in progress
    }
    while (true) {
      R r;
      try {
        r = reader.get();
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStamp();
        continue;
      }
      if (validate(s)) {
        return r;
      }
      s = retryStamp();
    }
  }

  /**
   * Like {@link #read(Supplier)} for an {@code int} result, without boxing.
   *
   * @param reader reads the guarded fields; may run several times and on torn state
   * @return the result of a run of {@code reader} that validated
   * @throws NullPointerException if {@code reader} is null
   */
  public int readInt(IntSupplier reader) {
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = retryStamp(); // a write is in progress
    }
    while (true) {
      int r;
      try {
        r = reader.getAsInt();
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStamp();
        continue;
      }
      if (validate(s)) {
        return r;
      }
      s = retryStamp();
    }
  }

  /**
   * Like {@link #read(Supplier)} for a {@code long} result, without boxing.
   *
   * @param reader reads the guarded fields; may run several times and on torn state
   * @return the result of a run of {@code reader} that validated
   * @throws NullPointerException if {@code reader} is null
   */
  public long readLong(LongSupplier reader) {
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = retryStamp(); // a write is in progress
    }
    while (true) {
      long r;
      try {
        r = reader.getAsLong();
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStamp();
        continue;
      }
      if (validate(s)) {
        return r;
      }
      s = retryStamp();
    }
  }

  /**
   * Like {@link #read(Supplier)}, with the object to read from passed in, so that {@code reader}
   * can be a non-capturing lambda that is never allocated (see {@link SeqLock#read(Object,
   * Function)}).
   *
   * @param source the object {@code reader} reads from, typically {@code this}
   * @param reader reads the guarded fields of {@code source}; may run several times and on torn
   *     state
   * @param <A> the type of {@code source}
   * @param <R> the result type
   * @return the result of a run of {@code reader} that validated
   * @throws NullPointerException if {@code source} or {@code reader} is null
   */
  public <A, R> R read(A source, Function<? super A, ? extends R> reader) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = retryStamp(); // a write is in progress
    }
    while (true) {
      R r;
      try {
        r = reader.apply(source);
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStamp();
        continue;
      }
      if (validate(s)) {
        return r;
      }
      s = retryStamp();
    }
  }

  /**
   * Like {@link #read(Object, Function)} for an {@code int} result, without boxing.
   *
   * @param source the object {@code reader} reads from, typically {@code this}
   * @param reader reads the guarded fields of {@code source}; may run several times and on torn
   *     state
   * @param <A> the type of {@code source}
   * @return the result of a run of {@code reader} that validated
   * @throws NullPointerException if {@code source} or {@code reader} is null
   */
  public <A> int readInt(A source, ToIntFunction<? super A> reader) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = retryStamp(); // a write is in progress
    }
    while (true) {
      int r;
      try {
        r = reader.applyAsInt(source);
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStamp();
        continue;
      }
      if (validate(s)) {
        return r;
      }
      s = retryStamp();
    }
  }

  /**
   * Like {@link #read(Object, Function)} for a {@code long} result, without boxing.
   *
   * @param source the object {@code reader} reads from, typically {@code this}
   * @param reader reads the guarded fields of {@code source}; may run several times and on torn
   *     state
   * @param <A> the type of {@code source}
   * @return the result of a run of {@code reader} that validated
   * @throws NullPointerException if {@code source} or {@code reader} is null
   */
  public <A> long readLong(A source, ToLongFunction<? super A> reader) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = retryStamp(); // a write is in progress
    }
    while (true) {
      long r;
      try {
        r = reader.applyAsLong(source);
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStamp();
        continue;
      }
      if (validate(s)) {
        return r;
      }
      s = retryStamp();
    }
  }

  // The retry loop is written out in every read form, so the read function is called only from
  // code that inlines into the caller and a capturing lambda never escapes (see SeqLock). A
  // failed validation retries at once: the counter moved, so the next look at it finds the
  // write over (even) or in progress (odd). Only an odd counter backs off, and the back-off
  // restarts for every write, so a reader parks only when one write stays in progress for long
  // (its writer was descheduled), never merely because writes are frequent.

  /** The next even stamp to try, backing off while a write is in progress. */
  private long retryStamp() {
    for (int waits = 0; ; waits++) {
      long s = seqAcquire(); // acquire: orders the next pass's data loads after this load
      if ((s & 1) == 0) {
        return s;
      }
      if (waits == 0) {
        checkNotWriter();
      }
      backoff(waits);
    }
  }

  /**
   * Starts a write. Never waits.
   *
   * @return the guard that ends the write when closed
   * @throws IllegalStateException if another write is in progress: the single-writer promise
   *     was broken ("concurrent writers on a SeqCount"), or this thread is already writing
   */
  public WriteGuard write() {
    return write(EXACT_WRITER_CHECK);
  }

  /**
   * Starts a write; {@code exact} chooses the CAS that detects every overlap (the debug check)
   * over the two plain-cost stores. Package-private so that tests can run both.
   */
  WriteGuard write(boolean exact) {
    long s = seqOpaque(); // opaque: an atomic long; only writers store seq, and a correct
    // caller's previous write happened-before this one, so this is the latest value
    if ((s & 1) != 0) {
      throw concurrentWriters(); // a write is in progress (or this thread's own)
    }
    if (exact) {
      if (!SEQ.compareAndSet(this, s, s + 1)) {
        throw concurrentWriters(); // another writer moved seq since the read above
      }
    } else {
      SEQ.setOpaque(this, s + 1); // opaque: atomic, no ordering; the fence below orders it
    }
    writer = Thread.currentThread();
    // Store-store: the odd value must be visible no later than any data store that follows
    // (a reader that sees new data must re-read an odd or later seq). Release semantics on the
    // odd store would order the wrong side (earlier accesses before it); storeStoreFence orders
    // it before the later stores. Free on x86 (TSO), `dmb ishst` on AArch64.
    VarHandle.storeStoreFence();
    return new WriteGuard(this, s + 1, Thread.currentThread());
  }

  private IllegalStateException concurrentWriters() {
    if (writer == Thread.currentThread()) {
      return new IllegalStateException(
          "SeqCount write is not reentrant: this thread is already writing;"
              + " close its WriteGuard before writing again");
    }
    return new IllegalStateException(
        "concurrent writers on a SeqCount: another thread is writing; a SeqCount allows one"
            + " writer at a time (use SeqLock for several writers)");
  }

  private void close(WriteGuard g) {
    if (g.closed) {
      throw new IllegalStateException(
          "SeqCount write guard already closed: close each WriteGuard exactly once");
    }
    Thread me = Thread.currentThread();
    if (g.thread != me) {
      throw new IllegalMonitorStateException(
          "SeqCount write guard closed by a thread that is not the writer;"
              + " close it on the thread that called write()");
    }
    g.closed = true;
    if (writer != me || seqOpaque() != g.stamp) {
      // Another thread started a write that overlapped this one (possible only without the
      // exact check): seq or `writer` moved under us. Publish an even value anyway so that
      // the counter is not left odd, and report the broken single-writer promise.
      writer = null;
      SEQ.setRelease(this, (seqOpaque() | 1) + 1);
      throw new IllegalStateException(
          "concurrent writers on a SeqCount: another thread wrote while this write was in"
              + " progress; a SeqCount allows one writer at a time (use SeqLock for several"
              + " writers)");
    }
    writer = null;
    SEQ.setRelease(this, g.stamp + 1); // release: the data stores before the even value
  }

  /**
   * Tells whether a write is in progress. The answer may be stale as soon as it is returned.
   *
   * @return {@code true} if the sequence is odd
   */
  public boolean isWriting() {
    return (seqOpaque() & 1) != 0;
  }

  /**
   * Describes the counter without blocking.
   *
   * @return a description such as {@code SeqCount[seq=42, quiet]}
   */
  @Override
  public String toString() {
    long s = seqOpaque();
    return "SeqCount[seq=" + s + ((s & 1) == 0 ? ", quiet]" : ", writing]");
  }

  /**
   * A write in progress on a {@link SeqCount}; closing it publishes the changes to readers.
   * Close it exactly once, on the writing thread, normally with try-with-resources.
   */
  public static final class WriteGuard implements AutoCloseable {
    private final SeqCount count;
    private final long stamp;
    private final Thread thread;
    // Plain: a guard is used by the thread that wrote; a close from another thread is rejected
    // before this flag is set, and the flag only turns misuse into the right exception.
    private boolean closed;

    WriteGuard(SeqCount count, long stamp, Thread thread) {
      this.count = count;
      this.stamp = stamp;
      this.thread = thread;
    }

    /**
     * Ends the write.
     *
     * @throws IllegalStateException if this guard was already closed, or if another thread
     *     wrote while this write was in progress (the single-writer promise was broken)
     * @throws IllegalMonitorStateException if the current thread is not the writer
     */
    @Override
    public void close() {
      count.close(this);
    }

    /**
     * Describes the guard without blocking.
     *
     * @return a description with the write's sequence number
     */
    @Override
    public String toString() {
      return "SeqCount.WriteGuard[stamp=" + stamp + (closed ? ", closed" : "") + "]";
    }
  }
}
