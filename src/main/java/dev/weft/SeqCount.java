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
 * that starts a write and leaves it open. A read function must not write to the same counter:
 * its own write fails the pass's validation, and the retry would write again. A read ({@link
 * #read(Supplier)} and every other read form) whose function starts and closes a write on this
 * counter throws {@link IllegalStateException} ("read function wrote") when that pass fails
 * validation, instead of retrying forever; if the function threw on that pass, its exception is
 * attached as suppressed. The check adds no store and no fence to the write path (one read of
 * the thread's id) and nothing to a read that validates. It is made at the first pass in which
 * this thread's write is the last write to complete: the first pass, unless another thread's
 * write also completed after it during that pass (that pass is then retried; if that happens in
 * every pass, the read keeps retrying). Not detected: a hand-written {@link #beginRead()}/{@link
 * #validate(long)} loop whose body writes ({@code validate} answers {@code false} after this
 * thread's own write, as it must for a writer that uses stamps as versions, so such a loop never
 * ends), and a read function that has another thread write for it. The checks tell threads apart
 * by {@link Thread#getId()}, which must therefore be unique among live threads (as the JDK's
 * own threads' ids are; a {@code Thread} subclass that overrides {@code getId()} to return
 * another live thread's id breaks them). A reader that waits for a write while its interrupt
 * status is set still backs off and parks (the status is cleared for the park and restored
 * before the read returns or throws).
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
   * SeqLock.SPINS rounds, then Thread.yield for SeqLock.YIELDS rounds (a virtual thread does not
   * yield: SpinBackoff.yieldUnlessVirtual), then LockSupport.parkNanos
   * with a doubling delay capped at MAX_PARK_NANOS. Counting only odd observations means a reader
   * parks when one write stays in progress for long (its writer was descheduled), not because
   * writes are frequent: an earlier version counted failed validations too and, under a steady
   * writer, parked readers for tens of microseconds after a burst of ordinary failures.
   *
   * `writer` says who writes or wrote last, as a thread id (a long, not a Thread, so that a
   * counter never keeps a dead thread's object reachable): `id` while that thread is inside a
   * write, stored after the odd value; `~id` (negative; ids are positive) once it has closed the
   * write, stored before the release of the even value; 0 before any write and after a detected
   * overlap. The same two stores per write as when the field held the Thread and was cleared at
   * close: the fix for the read-function-writes livelock (issue 18) added no store and no fence
   * to the write path, only a load of the thread's id; and a long store has none of the GC
   * barriers of a reference store (JMH write_weftSeqCount got faster under G1, see
   * docs/seqlock.md). All accesses are opaque: a long must not
   * tear (JLS 17.7), and a thread always sees its own latest store; ordering, where needed, comes
   * from the seq accesses around them. Two questions are asked of it:
   *  - "Am I inside my own write?" (a read while this thread writes, write() reentrancy): value
   *    == my id. Exact: only this thread stores its id, and it replaces it with ~id before it
   *    leaves the write, so a stale value is never this thread's id outside its write.
   *  - "Did my read function write?" (retryStamp, after a failed validation, once seq is even):
   *    value == ~my id. The acquire of the even value s' synchronises with the release that
   *    published it, so the load sees that close's ~id or a later store. s' differs from the
   *    failed pass's stamp, so the write that published it started at or after that stamp; if
   *    it was this thread's, this thread was inside the read function then. A write between two
   *    reads of this thread is never reported: it ended before the next stamp was read. If
   *    another thread's write completes after this thread's in the same pass, the pass is retried
   *    instead (the value is that thread's); the first pass in which this thread's write is the
   *    last one throws, so a read function that writes on every pass ends unless another thread's
   *    write completes after its own in every pass (found by review: two threads taking turns
   *    can keep it retrying; documented, not detected: catching it would need a per-read
   *    record on the write path). A hand-written
   *    beginRead/validate loop is not covered: validate(stamp) stays a query ("did a write start
   *    since?"), which is also true, and useful, after this thread's own write.
   * Reading `writer` does not add a window: it is read only after a seq value that the write
   * protocol already orders, so no schedule test or stress test of its own is needed.
   */

  private static final long MAX_PARK_NANOS = 1_000_000L;

  /**
   * Whether {@link #write()} uses the exact (CAS) check for concurrent writers: on when
   * assertions are enabled for this class ({@code -ea}, as in tests), off otherwise. A static
   * final, so the JIT folds the choice away.
   */
  private static final boolean EXACT_WRITER_CHECK = SeqCount.class.desiredAssertionStatus();

  private static final VarHandle SEQ;
  private static final VarHandle WRITER;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      SEQ = l.findVarHandle(SeqCount.class, "seq", long.class);
      WRITER = l.findVarHandle(SeqCount.class, "writer", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The sequence: even = quiet, odd = write in progress. Accessed only through {@link #SEQ}. */
  @SuppressWarnings("UnusedVariable") // accessed through the SEQ VarHandle
  private long seq;

  /**
   * Who writes or wrote last, by thread id: {@code id} while that thread is inside a write,
   * {@code ~id} (negative) once it has closed the latest write, 0 before any write and after a
   * detected overlap. Accessed only through {@link #WRITER}, in opaque mode (see the algorithm
   * notes).
   */
  @SuppressWarnings("UnusedVariable") // accessed through the WRITER VarHandle
  private long writer;

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
   * Opaque: an atomic read of a long (a plain long may tear, JLS 17.7) that never sees a value
   * older than this thread's own last store to it. Its answers are exact only where the caller
   * says why (see the algorithm notes); no ordering is needed of it.
   */
  private long writerOpaque() {
    return (long) WRITER.getOpaque(this);
  }

  /** The current thread's id, the value {@link #writer} holds while it writes. */
  private static long currentThreadId() {
    return Thread.currentThread().getId(); // not deprecated in the Java 17 API we compile to
  }

  /**
   * Starts an optimistic read. If a write is in progress, waits (spinning, then yielding, then
   * parking briefly) until it ends, so the returned stamp is always even.
   *
   * @return the stamp for {@link #validate(long)}
   * @throws IllegalStateException if a write is in progress on this thread (the stamp could
   *     never validate)
   */
  public long beginRead() {
    long s = seqAcquire();
    return (s & 1) == 0 ? s : awaitEven();
  }

  private long awaitEven() {
    checkNotWriter();
    boolean interrupted = false;
    try {
      for (int round = 0; ; round++) {
        interrupted |= backoff(round);
        long s = seqAcquire();
        if ((s & 1) == 0) {
          return s;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt(); // the status backoff cleared to park
      }
    }
  }

  private void checkNotWriter() {
    // Exact for "is it me?": only this thread stores its own id, and it replaces it with ~id
    // before it leaves its write, so a stale read can show another thread's id, never this one's
    // unless this thread is inside its write.
    if (writerOpaque() == currentThreadId()) {
      throw new IllegalStateException(
          "SeqCount read inside this thread's own write would never validate;"
              + " read the fields directly while writing");
    }
  }

  /**
   * Spin, then yield, then park with a doubling delay. Returns whether it cleared the thread's
   * interrupt status to park: parkNanos returns at once while the status is set, so an
   * interrupted reader would otherwise spin for the whole write (found by review); the caller
   * restores the status before it returns or throws.
   */
  // The library's spin policy (CONVENTIONS.md) is spin, then yield (platform threads only),
  // then park; the yield phase is deliberate and bounded, not a reliance on scheduling.
  private boolean backoff(int round) {
    if (round < SeqLock.SPINS) {
      Thread.onSpinWait();
      return false;
    } else if (round < SeqLock.SPINS + SeqLock.YIELDS) {
      SpinBackoff.yieldUnlessVirtual(); // a virtual thread goes on to park (see there)
      return false;
    } else {
      boolean cleared = Thread.interrupted();
      int shift = Math.min(round - SeqLock.SPINS - SeqLock.YIELDS, 20);
      LockSupport.parkNanos(this, Math.min(1_000L << shift, MAX_PARK_NANOS));
      return cleared;
    }
  }

  /**
   * Tells whether no write has started since {@code stamp} was obtained. A query that never
   * throws: after a write by this thread, too, it answers {@code false} (so a writer may use
   * stamps as versions; a hand-written read loop whose body writes therefore never ends).
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
   * @throws IllegalStateException if this thread is inside its own write, or if {@code reader}
   *     started and closed a write on this counter during a pass (see the class notes on misuse)
   */
  public <R> R read(Supplier<? extends R> reader) {
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = awaitEven(); // a write is in progress: no pass has run yet
    }
    while (true) {
      R r;
      try {
        r = reader.get();
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStampAfter(t);
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
   * @throws IllegalStateException if this thread is inside its own write, or if {@code reader}
   *     started and closed a write on this counter during a pass (see the class notes on misuse)
   */
  public int readInt(IntSupplier reader) {
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = awaitEven(); // a write is in progress: no pass has run yet
    }
    while (true) {
      int r;
      try {
        r = reader.getAsInt();
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStampAfter(t);
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
   * @throws IllegalStateException if this thread is inside its own write, or if {@code reader}
   *     started and closed a write on this counter during a pass (see the class notes on misuse)
   */
  public long readLong(LongSupplier reader) {
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = awaitEven(); // a write is in progress: no pass has run yet
    }
    while (true) {
      long r;
      try {
        r = reader.getAsLong();
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStampAfter(t);
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
   * @throws IllegalStateException if this thread is inside its own write, or if {@code reader}
   *     started and closed a write on this counter during a pass (see the class notes on misuse)
   */
  public <A, R> R read(A source, Function<? super A, ? extends R> reader) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = awaitEven(); // a write is in progress: no pass has run yet
    }
    while (true) {
      R r;
      try {
        r = reader.apply(source);
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStampAfter(t);
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
   * @throws IllegalStateException if this thread is inside its own write, or if {@code reader}
   *     started and closed a write on this counter during a pass (see the class notes on misuse)
   */
  public <A> int readInt(A source, ToIntFunction<? super A> reader) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = awaitEven(); // a write is in progress: no pass has run yet
    }
    while (true) {
      int r;
      try {
        r = reader.applyAsInt(source);
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStampAfter(t);
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
   * @throws IllegalStateException if this thread is inside its own write, or if {@code reader}
   *     started and closed a write on this counter during a pass (see the class notes on misuse)
   */
  public <A> long readLong(A source, ToLongFunction<? super A> reader) {
    Objects.requireNonNull(source, "source");
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = awaitEven(); // a write is in progress: no pass has run yet
    }
    while (true) {
      long r;
      try {
        r = reader.applyAsLong(source);
      } catch (Throwable t) {
        if (validate(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStampAfter(t);
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

  /**
   * The next even stamp to try after a pass that failed validation, backing off while a write is
   * in progress.
   *
   * @throws IllegalStateException if this thread is inside its own write (the read function
   *     opened one and left it open), or if the write that published the even value was this
   *     thread's: the read function wrote during the pass, and every retry would do it again
   */
  private long retryStamp() {
    boolean interrupted = false;
    try {
      for (int waits = 0; ; waits++) {
        long s = seqAcquire(); // acquire: orders the next pass's data loads after this load
        if ((s & 1) == 0) {
          // The acquire above read s, published by the release in some close(), whose store of
          // ~id to `writer` came before that release: this load sees it or a later store (by
          // a write that started after s, not this thread's: it is here). So ~(my id) means
          // that the latest completed write is this thread's, and it began at or after the
          // stamp of the failed pass (s moved past it). This thread was running the read
          // function then: the function wrote. Not seen when another thread's write completed
          // after it in the same pass; the next pass that writes is then caught.
          if (writerOpaque() == ~currentThreadId()) {
            throw readFunctionWrote();
          }
          return s;
        }
        if (waits == 0) {
          checkNotWriter();
        }
        interrupted |= backoff(waits);
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt(); // the status backoff cleared to park
      }
    }
  }


  /**
   * {@link #retryStamp()} after a pass whose read function threw {@code discarded} on state
   * that did not validate: if the retry reports misuse instead, {@code discarded} is attached to
   * that report as suppressed (it is usually the torn-state symptom of the same misuse).
   */
  private long retryStampAfter(Throwable discarded) {
    try {
      return retryStamp();
    } catch (IllegalStateException e) {
      e.addSuppressed(discarded);
      throw e;
    }
  }

  private static IllegalStateException readFunctionWrote() {
    return new IllegalStateException(
        "SeqCount read function wrote to the same counter: this thread started and closed a"
            + " write during the read's pass, so the pass cannot validate and every retry would"
            + " write again; a read function must not write: write before or after the read");
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
    // The calls come before the odd store (review 23): a stack overflow after it left seq odd
    // for good, and every reader waiting for it to turn even. After it only the two VarHandle
    // accesses below remain, intrinsics once compiled.
    Thread me = Thread.currentThread();
    long id = me.getId(); // not deprecated in the Java 17 API we compile to
    WriteGuard g = new WriteGuard(this, me, id);
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
    g.stamp = s + 1;
    // Opaque: atomic for a long; no ordering needed: only this thread compares `writer` with
    // its own id, and other threads read it only to learn that it is not theirs.
    WRITER.setOpaque(this, id);
    // Store-store: the odd value must be visible no later than any data store that follows
    // (a reader that sees new data must re-read an odd or later seq). Release semantics on the
    // odd store would order the wrong side (earlier accesses before it); storeStoreFence orders
    // it before the later stores. Free on x86 (TSO), `dmb ishst` on AArch64.
    VarHandle.storeStoreFence();
    return g;
  }

  private IllegalStateException concurrentWriters() {
    if (writerOpaque() == currentThreadId()) { // exact for "is it me?", see checkNotWriter
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
    // The guard is marked closed only once the even value is out (review 23: marked first, an
    // overflow in the stores below left the count odd for good, every reader waiting, and the
    // retry refused as a second close). An overflow at one of these calls' entry changes
    // nothing; a retry after the ~id store below finds ~id, not a concurrent writer.
    long w = writerOpaque();
    if ((w != g.threadId && w != ~g.threadId) || seqOpaque() != g.stamp) {
      g.closed = true;
      // Another thread started a write that overlapped this one (possible only without the
      // exact check): seq or `writer` moved under us. Publish an even value anyway so that
      // the counter is not left odd, and report the broken single-writer promise. `writer`
      // becomes 0 (nobody): the latest write is no single thread's.
      WRITER.setOpaque(this, 0L); // ordered before the even value by the release below
      SEQ.setRelease(this, (seqOpaque() | 1) + 1);
      throw new IllegalStateException(
          "concurrent writers on a SeqCount: another thread wrote while this write was in"
              + " progress; a SeqCount allows one writer at a time (use SeqLock for several"
              + " writers)");
    }
    // ~id: "this thread closed the latest write". Not a Thread reference, so that a counter
    // does not keep its last writer's Thread object reachable. Opaque (atomic long); the
    // release below orders it before the even value, so a reader that acquires that value
    // sees it (retryStamp relies on this). It replaces the earlier store of id, so the same
    // two stores per write as before: no store and no fence added to the write path.
    WRITER.setOpaque(this, ~g.threadId);
    SEQ.setRelease(this, g.stamp + 1); // release: data and `writer` stores before the even value
    g.closed = true;
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
    /** The write's odd value, set by write() once it is stored (plain: the writer's own). */
    long stamp;
    private final Thread thread;
    private final long threadId; // thread.getId(), taken once by write()
    // Plain: a guard is used by the thread that wrote; a close from another thread is rejected
    // before this flag is set, and the flag only turns misuse into the right exception.
    private boolean closed;

    WriteGuard(SeqCount count, Thread thread, long threadId) {
      this.count = count;
      this.thread = thread;
      this.threadId = threadId;
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

  static {
    // Last of the static initializers: the classes this one's slow paths use are initialized
    // with it, not on a first slow path near the end of some thread's stack, where an overflow
    // in their initializers would break them for the rest of the JVM (see
    // StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, SpinBackoff.class);
    // Both write paths and the close, once, on a counter nobody else can see, so that their
    // VarHandle call sites are linked now: the first execution of a call site links it, and
    // linking allocates. Review 31a: a JVM's first close in a full heap threw between the
    // writer mark and the even value, and the count stayed odd, every reader waiting for ever
    // (try-with-resources does not close again); write()'s own writer mark, after the odd
    // store, was as exposed.
    SeqCount c = new SeqCount();
    c.write(true).close();
    c.write(false).close();
    c.seqAcquire();
  }
}
