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
 * SeqCount" from another thread, or a non-reentrancy error from the same thread. The check is
 * exact for overlapping writes (the odd bump is a CAS), and costs one uncontended CAS per write.
 * Closing a {@link WriteGuard} twice throws {@link IllegalStateException}; closing it on another
 * thread throws {@link IllegalMonitorStateException}.
 */
public final class SeqCount {
  /*
   * Algorithm notes.
   *
   * The same sequence protocol as SeqLock (see its notes for the reader's fences, which are
   * identical here: getAcquire, plain data loads, loadLoadFence, getOpaque re-read), with these
   * differences on the write side:
   *
   *  - Begin: CAS seq from even s to s+1. The caller promised a single writer, so a plain
   *    store would do for correct callers; the CAS costs one uncontended atomic instruction and
   *    turns a broken promise into an IllegalStateException instead of silent corruption: two
   *    overlapping writers cannot both move the same even value to odd, and a writer that finds
   *    seq odd knows another write is in progress. (A getAndAdd would leave seq corrupted when
   *    it detects the overlap; a plain "is it odd?" check misses two writers that start
   *    together.) Then VarHandle.storeStoreFence() so that the data stores cannot become
   *    visible before the odd value (writer step 2 in SeqLock).
   *  - End: setRelease(s+2). Release orders the data stores before the even value, which is all
   *    readers need; unlike SeqLock there are no waiting writers to hand off to, so no full fence.
   *    That is the saving over a lock: one CAS and one plain store per write.
   *
   * Readers have no lock to fall back on, so they back off while seq is odd: onSpinWait for
   * SeqLock.SPINS rounds, then Thread.yield for SeqLock.YIELDS rounds, then LockSupport.parkNanos
   * with a doubling delay capped at MAX_PARK_NANOS.
   *
   * `writer` is the thread inside a write, written plainly after the CAS and cleared before the
   * release; read only by threads asking "is it me?" (exact, see SeqLock's notes on `owner`).
   */

  private static final long MAX_PARK_NANOS = 1_000_000L;

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
    if (writer == Thread.currentThread()) {
      throw new IllegalStateException(
          "SeqCount read inside this thread's own write would never validate;"
              + " read the fields directly while writing");
    }
    for (int round = 0; ; round++) {
      backoff(round);
      long s = seqAcquire();
      if ((s & 1) == 0) {
        return s;
      }
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
    return read(reader, Supplier::get);
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
    return readInt(reader, IntSupplier::getAsInt);
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
    return readLong(reader, LongSupplier::getAsLong);
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
    for (int round = 0; ; round++) {
      long s = beginRead();
      R r;
      try {
        r = reader.apply(source);
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        backoff(round);
        continue;
      }
      if (validate(s)) {
        return r;
      }
      backoff(round);
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
    for (int round = 0; ; round++) {
      long s = beginRead();
      int r;
      try {
        r = reader.applyAsInt(source);
      } catch (Throwable t) {
        if (validate(s)) {
          throw t;
        }
        backoff(round);
        continue;
      }
      if (validate(s)) {
        return r;
      }
      backoff(round);
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
    for (int round = 0; ; round++) {
      long s = beginRead();
      long r;
      try {
        r = reader.applyAsLong(source);
      } catch (Throwable t) {
        if (validate(s)) {
          throw t;
        }
        backoff(round);
        continue;
      }
      if (validate(s)) {
        return r;
      }
      backoff(round);
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
    long s = seqOpaque(); // opaque: the CAS re-validates it
    if ((s & 1) != 0 || !SEQ.compareAndSet(this, s, s + 1)) {
      throw concurrentWriters();
    }
    writer = Thread.currentThread();
    VarHandle.storeStoreFence(); // the odd value before the data stores
    return new WriteGuard(this, s + 1);
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

  private void close(long odd) {
    if (seqOpaque() != odd) {
      throw new IllegalStateException(
          "SeqCount write guard already closed: close each WriteGuard exactly once");
    }
    if (writer != Thread.currentThread()) {
      throw new IllegalMonitorStateException(
          "SeqCount write guard closed by a thread that is not the writer;"
              + " close it on the thread that called write()");
    }
    writer = null;
    SEQ.setRelease(this, odd + 1); // release: data stores before the even value
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

    WriteGuard(SeqCount count, long stamp) {
      this.count = count;
      this.stamp = stamp;
    }

    /**
     * Ends the write.
     *
     * @throws IllegalStateException if this guard was already closed
     * @throws IllegalMonitorStateException if the current thread is not the writer
     */
    @Override
    public void close() {
      count.close(stamp);
    }

    /**
     * Describes the guard without blocking.
     *
     * @return a description with the write's sequence number
     */
    @Override
    public String toString() {
      return "SeqCount.WriteGuard[stamp=" + stamp
          + (count.seqOpaque() == stamp ? "" : ", closed") + "]";
    }
  }
}
