package dev.weft;

import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.ToIntFunction;
import java.util.function.ToLongFunction;

/**
 * A value guarded by its own sequence lock (the protocol of {@link SeqLock}): readers get
 * consistent snapshots of a mutable object without blocking, writers mutate it in place, one at a
 * time, without allocating.
 *
 * <pre>{@code
 * final class MutablePoint { int x, y; }
 *
 * SeqLocked<MutablePoint> cell = new SeqLocked<>(new MutablePoint());
 * cell.write(pt -> { pt.x++; pt.y++; });          // exclusive, in place
 * int sum = cell.readInt(pt -> pt.x + pt.y);      // optimistic, retried, never torn
 *
 * // The idiomatic JDK alternative allocates a new immutable snapshot per write:
 * AtomicReference<Point> ref = new AtomicReference<>(new Point(0, 0));
 * ref.updateAndGet(p -> new Point(p.x() + 1, p.y() + 1));
 * int sum2 = ref.get().x() + ref.get().y();       // (two reads: not even consistent)
 * }</pre>
 *
 * <p>The read functions follow {@link SeqLock#read(java.util.function.Supplier)}: they may run several times and on
 * torn state (so they must terminate and have no side effects), an exception they throw
 * propagates only if it was thrown on consistent state, and after a few failed optimistic
 * attempts the read runs once under the lock. Only the value computed by the read function may
 * leave it: references into the guarded object read optimistically may point to state that a
 * later write changes.
 *
 * <p><b>Memory consistency effects.</b> Actions in a thread prior to the end of a {@code write}
 * (the write function and everything before it) happen-before the actions of a read function
 * whose read validates after that write, and happen-before the actions of later writes.
 *
 * <p><b>Thread safety.</b> Safe for any number of readers and writers; writes are serialised
 * and not reentrant. The guarded object must be reached only through this cell.
 *
 * <p><b>Misuse.</b> A null value or function throws {@link NullPointerException}. Calling {@code
 * write} from inside a write function throws {@link IllegalStateException} (not reentrant). A
 * read function may read the cell again (also inside a write function, where it sees that
 * write's changes), but must not write it: a write from a read function's pass under the lock
 * throws {@link IllegalStateException} instead of waiting for its own thread, so a read function
 * that writes on every pass ends in that exception (see {@link SeqLock}).
 *
 * @param <T> the type of the guarded, usually mutable, object
 */
public final class SeqLocked<T> extends SeqLockCore {
  /*
   * Algorithm notes: SeqLock's protocol (see its notes for every fence and access mode), with the
   * counter in this object itself (it extends the shared SeqLockCore rather than holding a
   * SeqLock) next to the reference to the guarded value, so a read loads the counter and the
   * value reference from one object. Reads are SeqLock's read loop with the value as the
   * function's argument (getAcquire of the sequence, the function on the value with plain
   * loads, loadLoadFence, opaque re-read; up to READ_ATTEMPTS further optimistic passes, then
   * one pass under the lock that restores the counter), written out here so that the
   * function's one call site inlines into the caller: a non-capturing function never
   * allocates, and neither does a capturing one once inlined. Writes take the write lock (CAS
   * even -> odd, storeStoreFence), run the function, and release with a volatile store of the
   * next even value, so no guard object is created.
   */

  private final T value;

  /**
   * Creates a cell guarding {@code value}.
   *
   * @param value the object to guard; from now on reach it only through this cell
   * @throws NullPointerException if {@code value} is null
   */
  public SeqLocked(T value) {
    this.value = Objects.requireNonNull(value, "value");
  }

  /**
   * Applies {@code reader} to a consistent state of the value and returns its result.
   *
   * @param reader computes the result from the value; may run several times and on torn state
   * @param <R> the result type
   * @return the result of a run of {@code reader} that validated
   * @throws NullPointerException if {@code reader} is null
   */
  public <R> R read(Function<? super T, ? extends R> reader) {
    Objects.requireNonNull(reader, "reader");
    T v = value;
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = retryStamp(0); // a write is in progress
    }
    for (int attempt = 1; ; attempt++) {
      R r;
      try {
        r = reader.apply(v);
      } catch (Throwable t) {
        if (endRead(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStamp(attempt);
        continue;
      }
      if (endRead(s)) {
        return r;
      }
      s = retryStamp(attempt);
    }
  }

  /**
   * Like {@link #read(Function)} for an {@code int} result, without boxing.
   *
   * @param reader computes the result from the value; may run several times and on torn state
   * @return the result of a run of {@code reader} that validated
   * @throws NullPointerException if {@code reader} is null
   */
  public int readInt(ToIntFunction<? super T> reader) {
    Objects.requireNonNull(reader, "reader");
    T v = value;
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = retryStamp(0); // a write is in progress
    }
    for (int attempt = 1; ; attempt++) {
      int r;
      try {
        r = reader.applyAsInt(v);
      } catch (Throwable t) {
        if (endRead(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStamp(attempt);
        continue;
      }
      if (endRead(s)) {
        return r;
      }
      s = retryStamp(attempt);
    }
  }

  /**
   * Like {@link #read(Function)} for a {@code long} result, without boxing.
   *
   * @param reader computes the result from the value; may run several times and on torn state
   * @return the result of a run of {@code reader} that validated
   * @throws NullPointerException if {@code reader} is null
   */
  public long readLong(ToLongFunction<? super T> reader) {
    Objects.requireNonNull(reader, "reader");
    T v = value;
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = retryStamp(0); // a write is in progress
    }
    for (int attempt = 1; ; attempt++) {
      long r;
      try {
        r = reader.applyAsLong(v);
      } catch (Throwable t) {
        if (endRead(s)) {
          throw t; // thrown on consistent state: a real failure
        }
        s = retryStamp(attempt);
        continue;
      }
      if (endRead(s)) {
        return r;
      }
      s = retryStamp(attempt);
    }
  }

  /**
   * Mutates the value in place under the write lock, waiting for other writers. If {@code
   * writer} throws, the changes it made so far are published as they are and the exception
   * propagates.
   *
   * @param writer changes the value
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   *     for the lock (a pending interrupt is reported even if the lock is free)
   * @throws NullPointerException if {@code writer} is null
   * @throws IllegalStateException if called from inside a write on this cell (not reentrant), or
   *     from a read function's pass under the lock
   */
  public void write(Consumer<? super T> writer) throws InterruptedException {
    Objects.requireNonNull(writer, "writer");
    long odd = acquireInterruptibly();
    try {
      writer.accept(value);
    } finally {
      releaseAfterBody(odd);
    }
  }

  /**
   * Like {@link #write(Consumer)}, but waits without responding to interrupts; an interrupt
   * received while waiting is restored before returning.
   *
   * @param writer changes the value
   * @throws NullPointerException if {@code writer} is null
   * @throws IllegalStateException if called from inside a write on this cell (not reentrant), or
   *     from a read function's pass under the lock
   */
  public void writeUninterruptibly(Consumer<? super T> writer) {
    Objects.requireNonNull(writer, "writer");
    long odd = acquireUninterruptibly();
    try {
      writer.accept(value);
    } finally {
      releaseAfterBody(odd);
    }
  }

  /** For tests: whether the current thread holds the write lock as a writer. */
  boolean isWriteLockedByCurrentThread() {
    return owner == Thread.currentThread();
  }

  /** For tests: whether the write lock is held (the sequence is odd). */
  boolean isWriteLocked() {
    return (seqOpaque() & 1) != 0;
  }

  /**
   * Describes the cell's lock state without blocking; the value is not shown, because reading
   * it here would be a racy read.
   *
   * @return a description such as {@code SeqLocked[seq=4, unlocked]}
   */
  @Override
  public String toString() {
    return "SeqLocked[" + describe() + "]";
  }
}
