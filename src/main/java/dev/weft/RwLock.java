package dev.weft;

import java.lang.invoke.MethodHandles;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.jspecify.annotations.Nullable;

/**
 * A reader-writer lock that owns the value it protects: many threads may read the value at
 * once, or one thread may write it; Rust's {@code RwLock<T>} for Java.
 *
 * <pre>{@code
 * RwLock<Config> cfg = new RwLock<>(initial);
 * try (RwLock.ReadGuard<Config> r = cfg.read()) {   // shared with other readers
 *   use(r.get());
 * }
 * try (RwLock.WriteGuard<Config> w = cfg.write()) { // exclusive
 *   w.set(w.get().withTimeout(5));
 * }
 * int port = cfg.withRead(Config::port);            // closure forms
 * cfg.update(c -> c.withPort(8080));
 * }</pre>
 *
 * <p>With the plain JDK, the lock and the data it guards are separate and nothing stops a
 * write under the read lock:
 *
 * <pre>{@code
 * ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
 * rw.readLock().lock();
 * try { use(config); } finally { rw.readLock().unlock(); }
 * }</pre>
 *
 * <p>The value handed to readers should be immutable, or used read-only: a read guard offers no
 * {@code set}, but Java cannot stop readers from mutating a mutable object they get from it.
 *
 * <p><b>Memory consistency effects:</b> Actions in a thread prior to releasing the write lock
 * (closing a {@link WriteGuard}, or returning from {@link #withWrite} or {@link #update})
 * <i>happen-before</i> actions subsequent to a later acquisition of the read or the write lock
 * in another thread. Actions in a thread prior to releasing a read lock happen-before actions
 * subsequent to a later acquisition of the write lock. These are the memory effects of
 * {@link java.util.concurrent.locks.ReadWriteLock}; {@code RwLock} is a thin layer over a
 * non-fair {@link ReentrantReadWriteLock}.
 *
 * <p><b>Thread safety:</b> all methods may be called from any thread; guards are confined to
 * the thread that acquired them. {@code null} is allowed as the protected value.
 *
 * <p><b>Reentrancy:</b> read guards may nest in one thread (as {@code ReentrantReadWriteLock}
 * permits without risk of deadlock). Any other nesting is refused with {@link
 * IllegalStateException} instead of a deadlock: acquiring the write lock while the thread holds
 * the read lock (an upgrade, which would wait for itself forever) or the write lock, and
 * acquiring the read lock while the thread holds the write lock. No poisoning: if the function
 * given to {@link #update} throws, the value is unchanged and the exception propagates.
 *
 * <p><b>Misuse:</b> null functions or timeouts throw {@link NullPointerException}; refused
 * nesting throws {@link IllegalStateException}; using or closing a guard from a thread other
 * than its owner throws {@link IllegalMonitorStateException}; using a closed guard or closing it
 * twice throws {@link IllegalStateException}. Read holds are counted by the JDK's lock: on JDK 17
 * more than 65,535 read holds at once (all threads together) make the next read throw {@link
 * Error} ("Maximum lock count exceeded"), as {@code ReentrantReadWriteLock} does, and the lock
 * stays usable; thousands of virtual readers can reach that. JDK 25's lock has no such limit
 * (JDKs in between not checked).
 *
 * @param <T> the type of the protected value; may be a nullable type
 */
public final class RwLock<T extends @Nullable Object> {
  /*
   * Algorithm notes:
   *
   * The value is a plain field. Readers read it only under the read lock, writers read and
   * write it only under the write lock; ReentrantReadWriteLock's happen-before edges (write
   * unlock -> any later lock, read unlock -> later write lock) order every access, so no
   * VarHandle or volatile is needed.
   *
   * Nesting checks use isWriteLockedByCurrentThread() (a plain owner comparison) and, on the
   * write path only, getReadHoldCount() (a per-thread counter lookup). The read fast path
   * therefore pays a single owner comparison; the write path, rarer by assumption, pays the
   * upgrade check.
   */

  static {
    // JFR: if a recording is running, weft's event classes load now, not inside a first wait.
    WeftJfr.prepareIfRecording();
  }

  private final Rw rw = new Rw();
  private final ReentrantReadWriteLock.ReadLock readLock = rw.readLock();
  private final ReentrantReadWriteLock.WriteLock writeLock = rw.writeLock();

  /** The protected value; read under either lock, written only under the write lock. */
  private T value;

  /**
   * Creates a reader-writer lock protecting {@code value}.
   *
   * @param value the initial value; may be {@code null}
   */
  public RwLock(T value) {
    this.value = value;
  }

  // ---------------------------------------------------------------------------------------
  // Read side
  // ---------------------------------------------------------------------------------------

  /**
   * Acquires the read lock, waiting uninterruptibly while a writer holds it (like {@link
   * java.util.concurrent.locks.Lock#lock()}).
   *
   * @return an open read guard owned by the current thread
   * @throws IllegalStateException if the current thread holds the write lock
   */
  public ReadGuard<T> read() {
    ReadGuard<T> guard = new ReadGuard<>(this); // before the acquisition: see Mutex.lock()
    checkNoWriteHeld("read");
    // Lock-order checking (LockOrder): one switch read, constant-folded by the JIT while off.
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, true);
    }
    if (!readFast()) {
      readContended();
    }
    if (ordered) {
      LockOrder.acquired(this, true);
    }
    return guard;
  }

  /**
   * Acquires the read lock unless the current thread is interrupted.
   *
   * @return an open read guard owned by the current thread
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   * @throws IllegalStateException if the current thread holds the write lock
   */
  public ReadGuard<T> readInterruptibly() throws InterruptedException {
    ReadGuard<T> guard = new ReadGuard<>(this); // before the acquisition: see Mutex.lock()
    checkNoWriteHeld("read");
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, true);
    }
    if (Thread.interrupted()) { // as the AQS's lockInterruptibly: even when the lock is free
      throw new InterruptedException("interrupted before acquiring the RwLock");
    }
    if (!readFast()) {
      readContendedInterruptibly();
    }
    if (ordered) {
      LockOrder.acquired(this, true);
    }
    return guard;
  }

  /**
   * Acquires the read lock only if no writer holds it at the time of the call. Like {@code
   * ReentrantReadWriteLock.ReadLock.tryLock()} it barges: it succeeds even while a writer is
   * queued, where {@link #tryRead(Duration) tryRead(Duration.ZERO)} honours the queue and
   * returns {@code null}.
   *
   * @return an open read guard, or {@code null} if a writer holds the lock
   * @throws IllegalStateException if the current thread holds the write lock
   */
  public @Nullable ReadGuard<T> tryRead() {
    ReadGuard<T> guard = new ReadGuard<>(this); // before the acquisition: see Mutex.lock()
    checkNoWriteHeld("read");
    // Everything that can overflow the stack comes before the CAS: after it, only field
    // accesses (review 23: a call after the CAS threw StackOverflowError holding the lock).
    // With lock-order checking on, a probe covers the record that follows the CAS.
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      StackHeadroom.ensure(StackHeadroom.RECORD_FRAMES);
    }
    if (!readLock.tryLock()) {
      return null;
    }
    if (ordered) {
      LockOrder.acquired(this, true); // held, but no edge: a tryRead does not wait
    }
    return guard;
  }

  /**
   * Acquires the read lock if it becomes available within the timeout.
   *
   * <p>On a virtual thread, a wait that fails unmounts the thread before it returns: see <a
   * href="package-summary.html#virtual-timeouts">timed waits on virtual threads</a>.
   *
   * @param timeout how long to wait; zero or negative means check once without waiting (and
   *     without barging ahead of a queued writer, unlike {@link #tryRead()})
   * @return an open read guard, or {@code null} if the timeout elapsed first
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   * @throws NullPointerException if {@code timeout} is null
   * @throws IllegalStateException if the current thread holds the write lock
   */
  public @Nullable ReadGuard<T> tryRead(Duration timeout) throws InterruptedException {
    long nanos = Timeouts.toNanos(timeout, "timeout");
    ReadGuard<T> guard = new ReadGuard<>(this); // before the acquisition: see Mutex.lock()
    checkNoWriteHeld("read");
    boolean ordered = LockOrder.enabled();
    if (ordered && nanos > 0L) {
      LockOrder.beforeWait(this, true); // a positive timeout waits: checked like read()
    } else if (ordered) {
      StackHeadroom.ensure(StackHeadroom.RECORD_FRAMES); // see tryRead()
    }
    if (!(nanos > 0L ? tryReadTimed(nanos) : readLock.tryLock(nanos, TimeUnit.NANOSECONDS))) {
      return null;
    }
    if (ordered) {
      LockOrder.acquired(this, true);
    }
    return guard;
  }

  /**
   * Applies {@code fn} to the value under the read lock (acquired uninterruptibly) and returns
   * the result.
   *
   * @param fn the function; must not modify the value
   * @param <R> the result type
   * @return what {@code fn} returned
   * @throws NullPointerException if {@code fn} is null
   * @throws IllegalStateException if the current thread holds the write lock
   */
  public <R extends @Nullable Object> R withRead(Function<? super T, ? extends R> fn) {
    Objects.requireNonNull(fn, "fn");
    checkNoWriteHeld("read");
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, true);
    }
    if (!readFast()) {
      readContended();
    }
    if (ordered) {
      LockOrder.acquired(this, true);
    }
    try {
      return fn.apply(value);
    } finally {
      unlockRead(false, ordered); // no second LockOrder.enabled() call after the body
    }
  }

  // ---------------------------------------------------------------------------------------
  // Write side
  // ---------------------------------------------------------------------------------------

  /**
   * Acquires the write lock, waiting uninterruptibly until no reader or writer holds it.
   *
   * @return an open write guard owned by the current thread
   * @throws IllegalStateException if the current thread holds the read or the write lock
   */
  public WriteGuard<T> write() {
    WriteGuard<T> guard = new WriteGuard<>(this); // before the acquisition: see Mutex.lock()
    checkNothingHeld();
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    if (!writeLock.tryLock()) { // as lock()'s first attempt: non-fair writers never yield
      writeContended();
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    return guard;
  }

  /**
   * Acquires the write lock unless the current thread is interrupted.
   *
   * @return an open write guard owned by the current thread
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   * @throws IllegalStateException if the current thread holds the read or the write lock
   */
  public WriteGuard<T> writeInterruptibly() throws InterruptedException {
    WriteGuard<T> guard = new WriteGuard<>(this); // before the acquisition: see Mutex.lock()
    checkNothingHeld();
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    if (Thread.interrupted()) { // as the AQS's lockInterruptibly: even when the lock is free
      throw new InterruptedException("interrupted before acquiring the RwLock");
    }
    if (!writeLock.tryLock()) {
      writeContendedInterruptibly();
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    return guard;
  }

  /**
   * Acquires the write lock only if no thread holds the lock at the time of the call.
   *
   * @return an open write guard, or {@code null} if the lock is held
   * @throws IllegalStateException if the current thread holds the read or the write lock
   */
  public @Nullable WriteGuard<T> tryWrite() {
    WriteGuard<T> guard = new WriteGuard<>(this); // before the acquisition: see Mutex.lock()
    checkNothingHeld();
    // Everything that can overflow the stack comes before the CAS: after it, only field
    // accesses (review 23: a call after the CAS threw StackOverflowError holding the lock).
    // With lock-order checking on, a probe covers the record that follows the CAS.
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      StackHeadroom.ensure(StackHeadroom.RECORD_FRAMES);
    }
    if (!writeLock.tryLock()) {
      return null;
    }
    if (ordered) {
      LockOrder.acquired(this, false); // held, but no edge: a tryWrite does not wait
    }
    return guard;
  }

  /**
   * Acquires the write lock if it becomes available within the timeout.
   *
   * <p>On a virtual thread, a wait that fails unmounts the thread before it returns: see <a
   * href="package-summary.html#virtual-timeouts">timed waits on virtual threads</a>.
   *
   * @param timeout how long to wait; zero or negative means check once without waiting
   * @return an open write guard, or {@code null} if the timeout elapsed first
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   * @throws NullPointerException if {@code timeout} is null
   * @throws IllegalStateException if the current thread holds the read or the write lock
   */
  public @Nullable WriteGuard<T> tryWrite(Duration timeout) throws InterruptedException {
    long nanos = Timeouts.toNanos(timeout, "timeout");
    WriteGuard<T> guard = new WriteGuard<>(this); // before the acquisition: see Mutex.lock()
    checkNothingHeld();
    boolean ordered = LockOrder.enabled();
    if (ordered && nanos > 0L) {
      LockOrder.beforeWait(this, false); // a positive timeout waits: checked like write()
    } else if (ordered) {
      StackHeadroom.ensure(StackHeadroom.RECORD_FRAMES); // see tryWrite()
    }
    if (!(nanos > 0L ? tryWriteTimed(nanos) : writeLock.tryLock(nanos, TimeUnit.NANOSECONDS))) {
      return null;
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    return guard;
  }

  /**
   * Applies {@code fn} to the value under the write lock (acquired uninterruptibly) and returns
   * the result; {@code fn} may modify a mutable value.
   *
   * @param fn the function
   * @param <R> the result type
   * @return what {@code fn} returned
   * @throws NullPointerException if {@code fn} is null
   * @throws IllegalStateException if the current thread holds the read or the write lock
   */
  public <R extends @Nullable Object> R withWrite(Function<? super T, ? extends R> fn) {
    Objects.requireNonNull(fn, "fn");
    checkNothingHeld();
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    if (!writeLock.tryLock()) { // as lock()'s first attempt: non-fair writers never yield
      writeContended();
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    try {
      return fn.apply(value);
    } finally {
      unlockWrite(false, ordered); // as in read(fn)
    }
  }

  /**
   * Replaces the value with {@code fn(value)} under the write lock and returns the new value. If
   * {@code fn} throws, the value is unchanged and the exception propagates (no poisoning).
   *
   * @param fn the function computing the new value from the old one
   * @return the new value
   * @throws NullPointerException if {@code fn} is null
   * @throws IllegalStateException if the current thread holds the read or the write lock
   */
  public T update(UnaryOperator<T> fn) {
    Objects.requireNonNull(fn, "fn");
    checkNothingHeld();
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    if (!writeLock.tryLock()) { // as lock()'s first attempt: non-fair writers never yield
      writeContended();
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    try {
      T next = fn.apply(value);
      value = next;
      return next;
    } finally {
      unlockWrite(false, ordered); // as in read(fn)
    }
  }

  // ---------------------------------------------------------------------------------------
  // State queries
  // ---------------------------------------------------------------------------------------

  /**
   * Reports whether a writer holds the lock; for monitoring, not for synchronisation.
   *
   * @return {@code true} if some thread holds the write lock at the moment of the call
   */
  public boolean isWriteLocked() {
    return rw.isWriteLocked();
  }

  /**
   * Returns the number of read holds; for monitoring, not for synchronisation.
   *
   * @return the number of read-lock holds at the moment of the call
   */
  public int readLockCount() {
    return rw.getReadLockCount();
  }

  /**
   * Describes the lock state without locking; the value is not shown.
   *
   * @return for example {@code RwLock[readers=2, writeLocked=false]}
   */
  @Override
  public String toString() {
    return "RwLock[readers=" + rw.getReadLockCount() + ", writeLocked=" + rw.isWriteLocked() + "]";
  }

  // ---------------------------------------------------------------------------------------
  // Internals
  // ---------------------------------------------------------------------------------------

  private void checkNoWriteHeld(String what) {
    if (rw.isWriteLockedByCurrentThread()) {
      throw new IllegalStateException(
          "RwLock is not reentrant: this thread holds the write lock and asked for the " + what
              + " lock; use the write guard you already have");
    }
  }

  private void checkNothingHeld() {
    checkNoWriteHeld("write");
    if (rw.getReadHoldCount() > 0) {
      throw new IllegalStateException(
          "RwLock cannot upgrade: this thread holds the read lock and asked for the write lock,"
              + " which would wait for itself forever; close the read guard first");
    }
  }

  /*
   * Contended acquisitions (JFR). The fast attempt is a tryLock: for the write lock it is
   * exactly lock()'s first step (a non-fair writer never yields to the queue); for the read
   * lock, tryLock alone would barge past a queued writer, which lock() does not, so the read
   * fast path first checks that nobody is queued (when someone is, lock() decides as before).
   * Only when the fast attempt fails does the thread queue, inside a dev.weft.LockContended
   * event when a recording asks for it (WeftJfr). The holder is the writer, if a writer holds
   * the lock (unknown for readers).
   */

  /** The read lock's uncontended attempt: nobody queued, and the CAS of the read count won. */
  private boolean readFast() {
    return !rw.hasQueuedThreads() && readLock.tryLock();
  }

  /**
   * Whether this thread already holds a read lock: then its next read never waits (the lock
   * lets a reader in again even behind a queued writer), so it is no contended acquisition and
   * gets no event. A per-thread counter lookup, paid only once the fast attempt has failed.
   */
  private boolean nestedRead() {
    return rw.getReadHoldCount() > 0;
  }

  private void readContended() {
    if (nestedRead()) {
      readLock.lock(); // returns at once: see nestedRead
      return;
    }
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES); // as in writeContended
    noteVirtualWaiter();
    Object jfr = WeftJfr.lockWaitBegin(rw.owner());
    int outcome = WeftJfr.FAILED; // stays so only if the wait throws (an Error: review 17b)
    try {
      readLock.lock();
      outcome = WeftJfr.ACQUIRED;
    } finally {
      WeftJfr.lockWaitEnd(jfr, this, WeftJfr.READ, outcome);
    }
  }

  private void readContendedInterruptibly() throws InterruptedException {
    if (nestedRead()) {
      readLock.lockInterruptibly(); // returns at once: see nestedRead
      return;
    }
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES); // as in writeContended
    noteVirtualWaiter();
    Object jfr = WeftJfr.lockWaitBegin(rw.owner());
    int outcome = WeftJfr.FAILED; // stays so only if something but an interrupt ends the wait
    try {
      readLock.lockInterruptibly();
      outcome = WeftJfr.ACQUIRED;
    } catch (InterruptedException e) {
      outcome = WeftJfr.INTERRUPTED;
      throw e;
    } finally {
      WeftJfr.lockWaitEnd(jfr, this, WeftJfr.READ, outcome);
    }
  }

  /** A timed read with a positive timeout. */
  private boolean tryReadTimed(long nanos) throws InterruptedException {
    if (Thread.interrupted()) { // as the AQS's timed acquire: even when the lock is free
      throw new InterruptedException("interrupted before acquiring the RwLock");
    }
    if (readFast() || (nestedRead() && readLock.tryLock())) { // a nested read never waits
      return true;
    }
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES); // as in writeContended
    noteVirtualWaiter();
    Object jfr = WeftJfr.lockWaitBegin(rw.owner());
    int outcome = WeftJfr.FAILED; // stays so only if something but an interrupt ends the wait
    try {
      boolean got = readLock.tryLock(nanos, TimeUnit.NANOSECONDS);
      if (!got) {
        // AQS may not have parked: see Mutex, same place.
        if (SpinBackoff.unmountBeforeTimeoutInterrupted(this)) {
          throw new InterruptedException("interrupted while waiting for the RwLock");
        }
      }
      outcome = got ? WeftJfr.ACQUIRED : WeftJfr.TIMED_OUT;
      return got;
    } catch (InterruptedException e) {
      outcome = WeftJfr.INTERRUPTED;
      throw e;
    } finally {
      WeftJfr.lockWaitEnd(jfr, this, WeftJfr.READ, outcome);
    }
  }

  /**
   * Whether a virtual thread ever queued on this lock: releases that will wake somebody then
   * probe as deep as a virtual thread's wake-up needs (see StackHeadroom.wakeFrames(boolean)).
   * Sticky; plain: written by a queueing thread before the AQS's enqueue (a volatile write),
   * read by a releaser after hasQueuedThreads() (volatile reads) found it queued.
   */
  private boolean virtualWaited;

  /** Called by a thread about to queue, after its stack probe. */
  private void noteVirtualWaiter() {
    if (!virtualWaited && StackHeadroom.queueingVirtual()) {
      virtualWaited = true;
    }
  }

  private void writeContended() {
    // Before the AQS queues a node for us: an overflow inside its queueing or clean-up would
    // leave the node queued, and the lock broken for everyone (review 18); see StackHeadroom.
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES);
    noteVirtualWaiter();
    Object jfr = WeftJfr.lockWaitBegin(rw.owner());
    int outcome = WeftJfr.FAILED; // stays so only if the wait throws (an Error: review 17b)
    try {
      writeLock.lock();
      outcome = WeftJfr.ACQUIRED;
    } finally {
      WeftJfr.lockWaitEnd(jfr, this, WeftJfr.WRITE, outcome);
    }
  }

  private void writeContendedInterruptibly() throws InterruptedException {
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES); // as in writeContended
    noteVirtualWaiter();
    Object jfr = WeftJfr.lockWaitBegin(rw.owner());
    int outcome = WeftJfr.FAILED; // stays so only if something but an interrupt ends the wait
    try {
      writeLock.lockInterruptibly();
      outcome = WeftJfr.ACQUIRED;
    } catch (InterruptedException e) {
      outcome = WeftJfr.INTERRUPTED;
      throw e;
    } finally {
      WeftJfr.lockWaitEnd(jfr, this, WeftJfr.WRITE, outcome);
    }
  }

  /** A timed write with a positive timeout. */
  private boolean tryWriteTimed(long nanos) throws InterruptedException {
    if (Thread.interrupted()) { // as the AQS's timed acquire: even when the lock is free
      throw new InterruptedException("interrupted before acquiring the RwLock");
    }
    if (writeLock.tryLock()) {
      return true;
    }
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES); // as in writeContended
    noteVirtualWaiter();
    Object jfr = WeftJfr.lockWaitBegin(rw.owner());
    int outcome = WeftJfr.FAILED; // stays so only if something but an interrupt ends the wait
    try {
      boolean got = writeLock.tryLock(nanos, TimeUnit.NANOSECONDS);
      if (!got) {
        // AQS may not have parked: see Mutex, same place.
        if (SpinBackoff.unmountBeforeTimeoutInterrupted(this)) {
          throw new InterruptedException("interrupted while waiting for the RwLock");
        }
      }
      outcome = got ? WeftJfr.ACQUIRED : WeftJfr.TIMED_OUT;
      return got;
    } catch (InterruptedException e) {
      outcome = WeftJfr.INTERRUPTED;
      throw e;
    } finally {
      WeftJfr.lockWaitEnd(jfr, this, WeftJfr.WRITE, outcome);
    }
  }

  /** The non-fair lock, with its owner visible to this class (for the JFR events' holder). */
  @SuppressWarnings("serial") // never serialised: a private field of a non-serialisable class
  private static final class Rw extends ReentrantReadWriteLock {
    @Nullable Thread owner() {
      return getOwner();
    }
  }

  /**
   * Releases a read hold; {@code retryable} is false at the end of a closure ({@link #read}),
   * whose caller has no guard to retry with (see {@link StackHeadroom#fits}); {@code ordered}
   * is {@link LockOrder#enabled()} as the caller read it.
   */
  private void unlockRead(boolean retryable, boolean ordered) {
    if (ordered) {
      LockOrder.released(this);
    }
    if (rw.hasQueuedThreads()) {
      // A release that will wake a queued thread checks its stack headroom first: an overflow
      // between the AQS's release and its unpark would strand the queue (review 18). Before
      // anything changes, so an overflow leaves the lock held and the guard open for a retry.
      // As deep as a virtual thread's wake-up needs once one has queued here: the JDK's lock
      // does not say whom it wakes (session 26's review: 1 of 2 runs of a write-unlock sweep
      // stranded a virtual reader at 16 frames).
      StackHeadroom.beforeRelease(retryable, StackHeadroom.wakeFrames(virtualWaited));
    }
    readLock.unlock();
  }

  /** Releases the write lock; {@code retryable} and {@code ordered} as in {@link #unlockRead}. */
  private void unlockWrite(boolean retryable, boolean ordered) {
    if (ordered) {
      LockOrder.released(this);
    }
    if (rw.hasQueuedThreads()) { // as in unlockRead
      StackHeadroom.beforeRelease(retryable, StackHeadroom.wakeFrames(virtualWaited));
    }
    writeLock.unlock();
  }

  private static String ownerMessage(String kind, Thread owner) {
    return "RwLock " + kind + " guard belongs to thread " + ThreadNames.of(owner) + ", not to "
        + ThreadNames.of(Thread.currentThread()) + "; a guard must be used and closed by the thread"
        + " that acquired it";
  }

  /**
   * Shared access to the value of an {@link RwLock}; closing the guard releases the read lock.
   *
   * <p><b>Memory consistency effects:</b> as for {@link RwLock}.
   *
   * <p><b>Thread safety:</b> a guard is confined to its owner thread.
   *
   * <p><b>Misuse:</b> using or closing the guard from a thread other than its owner throws
   * {@link IllegalMonitorStateException}; using it after closing, or closing it twice, throws
   * {@link IllegalStateException}.
   *
   * @param <T> the type of the protected value
   */
  public static final class ReadGuard<T extends @Nullable Object> implements AutoCloseable {
    private final RwLock<T> lock;
    private final Thread owner;

    /** Written and read only by {@link #owner} (checked first), so a plain field suffices. */
    private boolean closed;

    ReadGuard(RwLock<T> lock) {
      this.lock = lock;
      this.owner = Thread.currentThread();
    }

    /**
     * Returns the protected value, which must only be read.
     *
     * @return the value; may be {@code null}
     * @throws IllegalMonitorStateException if called from a thread other than the owner
     * @throws IllegalStateException if the guard is closed
     */
    public T get() {
      checkOwner();
      if (closed) {
        throw new IllegalStateException(
            "RwLock read guard already closed: the value may only be used while it is open");
      }
      return lock.value;
    }

    /**
     * Releases this read hold.
     *
     * @throws IllegalMonitorStateException if called from a thread other than the owner
     * @throws IllegalStateException if the guard is already closed
     */
    @Override
    public void close() {
      checkOwner();
      if (closed) {
        throw new IllegalStateException(
            "RwLock read guard already closed: close each guard exactly once"
                + " (use try-with-resources)");
      }
      // Released first, then marked closed (a plain write, no call): an Error in the release
      // (a StackOverflowError near the stack's end) leaves the guard open, so it still says
      // what is held and a retry can release it (review 18).
      lock.unlockRead(true, LockOrder.enabled());
      closed = true;
    }

    private void checkOwner() {
      if (Thread.currentThread() != owner) {
        throw new IllegalMonitorStateException(ownerMessage("read", owner));
      }
    }

    /**
     * Describes the guard without touching the value.
     *
     * @return for example {@code RwLock.ReadGuard[open, owner=main]}
     */
    @Override
    public String toString() {
      return "RwLock.ReadGuard[" + (closed ? "closed" : "open") + ", owner=" + ThreadNames.of(owner)
          + "]";
    }
  }

  /**
   * Exclusive access to the value of an {@link RwLock}; closing the guard releases the write
   * lock.
   *
   * <p><b>Memory consistency effects:</b> as for {@link RwLock}.
   *
   * <p><b>Thread safety:</b> a guard is confined to its owner thread.
   *
   * <p><b>Misuse:</b> using or closing the guard from a thread other than its owner throws
   * {@link IllegalMonitorStateException}; using it after closing, or closing it twice, throws
   * {@link IllegalStateException}.
   *
   * @param <T> the type of the protected value
   */
  public static final class WriteGuard<T extends @Nullable Object> implements AutoCloseable {
    private final RwLock<T> lock;
    private final Thread owner;

    /** Written and read only by {@link #owner} (checked first), so a plain field suffices. */
    private boolean closed;

    WriteGuard(RwLock<T> lock) {
      this.lock = lock;
      this.owner = Thread.currentThread();
    }

    /**
     * Returns the protected value.
     *
     * @return the value; may be {@code null}
     * @throws IllegalMonitorStateException if called from a thread other than the owner
     * @throws IllegalStateException if the guard is closed
     */
    public T get() {
      checkUsable();
      return lock.value;
    }

    /**
     * Replaces the protected value.
     *
     * @param value the new value; may be {@code null}
     * @throws IllegalMonitorStateException if called from a thread other than the owner
     * @throws IllegalStateException if the guard is closed
     */
    public void set(T value) {
      checkUsable();
      lock.value = value;
    }

    /**
     * Releases the write lock.
     *
     * @throws IllegalMonitorStateException if called from a thread other than the owner
     * @throws IllegalStateException if the guard is already closed
     */
    @Override
    public void close() {
      checkOwner();
      if (closed) {
        throw new IllegalStateException(
            "RwLock write guard already closed: close each guard exactly once"
                + " (use try-with-resources)");
      }
      // Released first, then marked closed (a plain write, no call): an Error in the release
      // (a StackOverflowError near the stack's end) leaves the guard open, so it still says
      // what is held and a retry can release it (review 18).
      lock.unlockWrite(true, LockOrder.enabled());
      closed = true;
    }

    private void checkUsable() {
      checkOwner();
      if (closed) {
        throw new IllegalStateException(
            "RwLock write guard already closed: the value may only be used while it is open");
      }
    }

    private void checkOwner() {
      if (Thread.currentThread() != owner) {
        throw new IllegalMonitorStateException(ownerMessage("write", owner));
      }
    }

    /**
     * Describes the guard without touching the value.
     *
     * @return for example {@code RwLock.WriteGuard[open, owner=main]}
     */
    @Override
    public String toString() {
      return "RwLock.WriteGuard[" + (closed ? "closed" : "open") + ", owner=" + ThreadNames.of(owner)
          + "]";
    }
  }

  static {
    // Last of the static initializers: the classes this one's slow paths use are initialized
    // with it, not on a first slow path near the end of some thread's stack, where an overflow
    // in their initializers would break them for the rest of the JVM (see
    // StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, SpinBackoff.class);
  }
}
