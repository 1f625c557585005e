package dev.weft;

import java.time.Duration;
import java.util.Objects;
import java.util.function.Function;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.function.ToIntFunction;
import java.util.function.ToLongFunction;
import org.jspecify.annotations.Nullable;

/**
 * A sequence lock: optimistic reads of multi-word state that do not block writers and do not
 * write shared memory, with writers serialised by the lock itself.
 *
 * <p>The lock guards fields that the caller owns. A writer takes the lock with {@link #write()},
 * changes the fields, and closes the guard; a reader reads the fields between {@link
 * #beginRead()} and {@link #validate(long)} and retries when a write overlapped, or lets {@link
 * #read(Supplier)} do the loop:
 *
 * <pre>{@code
 * final class Position {
 *   private final SeqLock lock = new SeqLock();
 *   private long x, y;                       // plain fields: the SeqLock orders them
 *
 *   void moveTo(long nx, long ny) throws InterruptedException {
 *     try (SeqLock.WriteGuard w = lock.write()) {
 *       x = nx;
 *       y = ny;
 *     }
 *   }
 *
 *   long[] get() {
 *     return lock.read(() -> new long[] {x, y});   // retried until x and y match one write
 *   }
 *
 *   long sumNoAlloc() {                           // non-capturing: never allocates
 *     return lock.readLong(this, self -> self.x + self.y);
 *   }
 *
 *   long sum() {                                  // by hand, no allocation
 *     long s, a, b;
 *     do {
 *       s = lock.beginRead();
 *       a = x;
 *       b = y;
 *     } while (!lock.validate(s));
 *     return a + b;
 *   }
 * }
 *
 * // The same with the plain JDK: the caller writes the retry loop and the fallback.
 * StampedLock sl = new StampedLock();
 * long stamp = sl.tryOptimisticRead();
 * long a = x, b = y;
 * if (!sl.validate(stamp)) {
 *   stamp = sl.readLock();
 *   try { a = x; b = y; } finally { sl.unlockRead(stamp); }
 * }
 * }</pre>
 *
 * <p>{@link #read(Supplier)}, {@link #readInt(IntSupplier)} and {@link #readLong(LongSupplier)}
 * (and their forms that take the object to read from, such as {@link #readLong(Object,
 * ToLongFunction)}, which allow non-capturing, never-allocating read functions) retry
 * automatically. An exception thrown by the read function while a write overlapped (it saw
 * torn state: an index out of range, a null) is discarded and the read retried; it propagates
 * only when the read validated, that is when it was thrown on consistent state. After a few
 * failed optimistic attempts the read takes the write lock for one pass (like Linux's {@code
 * read_seqbegin_or_lock}), so a reader cannot starve under a storm of writes: while such a
 * reader waits for a writer's release, writers start no new section, so it gets the lock as
 * soon as the write in progress ends (a writer arriving at the same instant may still slip one
 * section in). That is the only way a reader ever delays a writer: by one pass of its read
 * function, after several failed attempts, and only for readers that queued behind a write. On a
 * virtual thread the read (and {@link #beginRead()}) first waits out writes in progress without queueing (a queued reader
 * holds writers until the scheduler runs it, which on busy carriers can take far longer than a
 * write); it queues only after those failed attempts, or once it has looked 8 times, after its
 * spins, and found a new write in progress each time. So its wait is bounded by its own looks,
 * not by a count of writes: with short write sections many writes can pass between two looks,
 * as they can for any reader that is not running. A reader that
 * takes the lock this way does not advance the sequence, so it does not disturb other readers.
 * The read function must therefore tolerate torn state: it must terminate and must not have side
 * effects on shared state, because it may run on a mix of old and new values and run more than
 * once.
 *
 * <p><b>Memory consistency effects.</b> Actions in a thread prior to closing a {@link WriteGuard}
 * happen-before the actions of a read function whose read validates with a stamp at or after
 * that close, and actions in a thread prior to closing a {@code WriteGuard} happen-before actions
 * following a later successful {@link #write()} in another thread. As with {@link
 * java.util.concurrent.locks.StampedLock}, a read between {@link #beginRead()} and a successful
 * {@link #validate(long)} sees the state as of one completed write: values it read before the
 * validation are consistent only if {@code validate} returns {@code true}; values read before a
 * failed validation may be torn and must be discarded.
 *
 * <p><b>Thread safety.</b> All methods are safe to call from any thread. The write lock is not
 * reentrant and not fair (a writer arriving while the lock is free may take it ahead of waiting
 * writers); waiting writers spin briefly, then yield (platform threads only), then park, so
 * the lock stays healthy when threads outnumber cores or run as virtual threads. A read function may read again, with
 * {@code read} or with {@code beginRead}/{@code validate} (nested reads are fine, also on the
 * pass that runs under the lock, where a nested stamp validates on that thread until the next write; on another thread it
 * validates only once the pass has ended, as long as no write has started since), and may
 * run inside a write section of the same thread, where it sees that thread's writes directly.
 * A read function that runs under the lock holds it as a reader, not as a writer: {@link
 * #isWriteLocked()} is true there, {@link #isWriteLockedByCurrentThread()} is false.
 *
 * <p><b>Misuse.</b> Null functions and timeouts throw {@link NullPointerException}. Taking the
 * write lock again on a thread that holds it throws {@link IllegalStateException} instead of
 * deadlocking, and so does {@link #beginRead()} inside the thread's own write section (the stamp
 * could never validate). A read function must not write: a write started from a read function
 * that runs under the lock throws {@link IllegalStateException} instead of waiting for its own
 * thread, and since a write inside an optimistic pass makes that pass fail validation, a read
 * function that writes on every pass ends in that exception after {@code READ_ATTEMPTS + 1}
 * writes. Closing a {@link WriteGuard} twice throws {@link IllegalStateException}; closing it on
 * a thread that does not hold the lock throws {@link IllegalMonitorStateException}.
 */
public final class SeqLock extends SeqLockCore {
  /*
   * Algorithm notes.
   *
   * State: one long `seq`. Even = no write in progress; odd = the write lock is held. A writer
   * moves seq from even s to s+1 with a CAS: that CAS *is* the write lock (no other lock object
   * on the fast path). It ends the write with s+2. A reader records an even seq, reads the data,
   * and re-reads seq: if unchanged, no write started or finished in between, so the values come
   * from one completed write.
   *
   * Writer, in order:
   *  1. CAS seq s -> s+1 (s even). Volatile CAS: its read half synchronises with the previous
   *     writer's release (step 4), so this writer sees the previous writer's data; its write half
   *     is what makes the lock exclusive.
   *  2. VarHandle.storeStoreFence(). The data stores that follow must not become visible before
   *     the odd value: a reader that sees any new data value must then see seq >= s+1 on its
   *     re-read. The CAS is a full fence on every HotSpot platform, but the Java spec of a
   *     volatile write only orders *earlier* accesses before it, not later plain stores, so the
   *     explicit store-store fence states the requirement (and costs nothing after a CAS).
   *  3. Plain data stores (the caller's fields).
   *  4. seq = s+2 with setVolatile. Release semantics are what readers need (data stores before
   *     the even value); volatile (sequential consistency) is needed by the waiter hand-off below:
   *     the releaser stores seq and then reads `parked`, while a waiting writer stores `parked`
   *     and then reads seq (Dekker). With both sides volatile, at least one sees the other, so a
   *     waiting writer is never left parked with the lock free. This is the one full fence per
   *     write, the same price as StampedLock.unlockWrite's volatile store. SeqCount, which has no
   *     waiters, uses setRelease here.
   *
   * Reader, in order:
   *  1. s = seq with getAcquire. Acquire orders the data loads after this load: if s is the even
   *     value stored by writer k's step 4, the data loads see writer k's stores (or later ones).
   *     If s is odd a write is in progress: wait (spin, then fall back as below).
   *  2. Plain data loads. They may race with a writer; in Java a racy plain read is defined
   *     behaviour (it returns some written value; long and double fields may tear into halves,
   *     which the validation also catches), unlike C or Rust where it is undefined.
   *  3. VarHandle.loadLoadFence(). Data loads before it are not reordered with the seq load after
   *     it. Paired with the writer's store-store fence: if a data load saw a store of writer k
   *     (made after writer k's odd value and fence), the re-read of seq sees s+1 or later.
   *     loadLoadFence is the weakest fence that says this; HotSpot emits the same code as for
   *     acquireFence (nothing on x86, a load barrier on AArch64).
   *  4. Re-read seq with getOpaque. Opaque is enough: the fence provides the ordering; opaque
   *     guarantees a fresh, coherent read that the JIT may not merge with step 1.
   *     Equal to s => no writer's odd store was visible before step 3, so by (3) no data load
   *     saw a store of a later write: the snapshot is writer k's. Different => retry.
   *
   * Optimistic passes therefore never write shared memory and never delay writers.
   *
   * Readers before the next write (issue 20). Under a continuous writer an unfair lock would
   * starve a reader's fallback: the writer re-takes the lock the moment it releases it. So a
   * reader that waits for the lock for a pass (acquireForRead: the fallback pass, or beginRead
   * waiting out a writer) and finds it held by a writer registers in `readersWaiting`
   * (getAndAdd, a full fence), and while that count is nonzero writers do not take the lock:
   * tryAcquire (every writer's CAS attempt) reads the count (opaque) and fails, and the one
   * writer parked in the waiting room re-checks it after publishing itself and stays parked. The
   * reader waits only for the write in progress: it spins, yields (platform threads only: see
   * "Virtual threads" below), then parks in `parkedReader`
   * (published by CAS, then seq re-read volatile: Dekker with the release, which stores seq
   * volatile and then reads `parkedReader` volatile, and unparks it before any writer); a second
   * waiting reader polls with timed parks (1 us doubling to 50 us). Once the reader holds the
   * lock it unregisters, and its pass's release wakes the writer in the room. Each writer whose
   * opaque read of the count raced with a registration may take one section first.
   *
   * A reader that finds the lock held by another reader's pass (`reader` set; a plain, racy
   * read whose errors cost only fairness) neither registers nor takes the lock: the data does
   * not change during that pass, so it waits for the pass to end and goes back to an optimistic
   * pass with the even value as its stamp (acquireForRead returns it; retryStamp and beginRead
   * pass it on). If a writer gets in meanwhile, it finds the lock held by a writer and registers
   * as above. The first version
   * registered there too, and the issue 20 review showed the result: a reader's pass makes seq
   * odd like a write, so readers arriving during it fell back, registered, and their passes made
   * the next readers register, a chain that kept a waiting writer out for 13 to 2,923 passes
   * with no write at all (and a second attempt, which only stopped registering there but still
   * let those readers take the lock, kept the chain going by CAS races a parked writer loses).
   * Now reader passes come only from readers that queued behind a write, so a writer waits at
   * most for those: one pass each, at most one per reader thread. Measured in results (SeqLockTailBench, readUnderWriter): see
   * docs/seqlock.md.
   *
   * Read fallback (read_seqbegin_or_lock): read(...) makes one optimistic pass and up to
   * READ_ATTEMPTS more (before each, spinning with onSpinWait while seq is odd, at most
   * READ_SPINS times) and then takes the write lock for one pass: CAS s -> s+1, run the
   * function, and store s back (not s+2). The data did
   * not change, so restoring s keeps every other reader's stamp valid. This cannot hide a write:
   * seq only ever returns to a value it held while locked by a reader, and a real write always
   * ends at s+2, after which seq never returns to any earlier value (a reader that saw a
   * writer's data must, by coherence, re-read a value at or after that writer's s+1, and those
   * values are all greater than s). A long counter cannot wrap back to a stamp in practice.
   *
   * Exceptions in read functions: an exception thrown by the function is validated like a
   * result. Validated -> it was thrown on consistent state and propagates. Not validated ->
   * torn state caused it; discard and retry. The final pass under the lock always validates.
   *
   * Waiting writers: a writer whose CAS fails spins (SpinBackoff.SPIN_ROUNDS rounds of
   * exponential backoff, 32 to 512 onSpinWait pauses each, testing the lock once per round, as
   * SpinLock does; until session 16 a test after every pause, SPINS times, which kept the
   * sequence's cache line away from the holder: 2-4 writers ran 6-11x slower than
   * StampedLock's), then yields
   * (YIELDS times; a virtual thread spins VIRTUAL_SPINS times and does not yield, see below),
   * then enters a "waiting room": a WaitingRoom created lazily and used only on this slow
   * path, which queues and parks all but one waiting writer in FIFO order (until session 16 a
   * ReentrantLock; see WaitingRoom for why: a waiter that gives up there wakes nobody, so timed
   * writers on one virtual-thread carrier no longer wake each other in a chain that starves the
   * holder). The one writer inside the room publishes itself in `parked`
   * (setVolatile), re-checks seq with a volatile read, and parks; a releasing writer unparks
   * whoever is in `parked` (see writer step 4 for why no wake-up is lost). Writers arriving on
   * the fast path may barge past the room: the lock is not fair, like ReentrantLock's default.
   *
   * Owner and reader: `owner` is the writer holding the lock, written plainly by the holder right
   * after the CAS and cleared right before the release; `reader` is the thread holding the lock
   * for a read pass (the fallback pass, or beginRead waiting out a writer), set the same way
   * (acquireForRead moves the acquirer from `owner` to `reader`) and cleared before the restoring
   * release. Other threads read them only to ask "is it me?": a thread can read its own Thread
   * there only if its own latest write put it there (happens-before order within one thread), so
   * a plain read answers that question exactly. `owner` gives non-reentrancy errors instead of
   * deadlock, guard-closing checks and isWriteLockedByCurrentThread. `reader` lets the code
   * running inside this thread's own pass under the lock behave as a reader, not as a writer:
   * nested reads run as OWN_SECTION passes (the data cannot change), a nested beginRead returns
   * the even value the pass will restore (s = odd - 1), and validateStamp, on its failure path
   * only, accepts s while seq is s + 1 and `reader` is this thread (this thread's CAS moved seq
   * from s to s + 1 and no write can start before the pass restores s, so nothing changed since
   * any stamp s was taken; see the read fallback for why s never recurs after a write). A write
   * from inside that pass throws IllegalStateException (it would wait for its own thread).
   * (Until issue 18 the fallback recorded the reader in `owner`: a nested beginRead then took
   * the pass for a write section and threw, and isWriteLockedByCurrentThread answered true.)
   *
   * Virtual threads (session 12 review). A virtual thread never yields in these waits, and a
   * virtual writer spins only VIRTUAL_SPINS (16) times before the waiting room. Its yield would
   * requeue it on its carrier's local queue, ahead of a holder woken from outside the
   * scheduler (a timer, a platform thread), which waits in the external queue; and nothing
   * preempts a virtual thread, so a timed writer whose timeout ran out inside the 128 spins
   * never unmounted. 32 virtual threads retrying tryWrite(20 us) and tryWrite(5 us) stalled a
   * writer that parked inside its section (18 to 9,649 of 19,200 sections in 15 s, StampedLock
   * 0.15-0.32 s); now 0.23-0.42 s. Tests: VirtualThreadReviewTest. A timeout shorter than the
   * 16 spins and the stack probe (1 ns, 1 us) still ran out before the park (CI stop 33: 1 us
   * stalled 1 of 15 runs and took up to 7 s in others; 1 ns stalled every run), so a virtual
   * timed writer now unmounts once before it reports a timeout, outside the waiting room and
   * the slot (SeqLockCore.timedOut, SpinBackoff.unmountBeforeTimeout; VirtualTimedRetryTest,
   * Review20TimedUnmountTest): 35-180 ms at 1 us.
   *
   * Virtual readers (session 17). A registered reader keeps every writer out until it has been
   * scheduled and has taken its pass. A platform reader is scheduled within a time slice; a
   * virtual one waits behind its carrier's whole queue. 64 virtual readers (each parking 20 us
   * between reads) against a writer that blocked inside every 16th section registered 40,000 to
   * 56,000 times per run, and the writer waited after each blocking write for all of them:
   * 10-15x StampedLock's time (Review15Test). So in its first READ_ATTEMPTS attempts a virtual
   * reader whose spins ran out does not register: it waits (spin, then the parkedReader slot or
   * the timed poll, as below) until it reads an even value, which is the stamp of its next
   * optimistic pass (read with acquire, validated as usual: no new ordering argument), or until,
   * after its spins, it has found VIRTUAL_READ_WAITS (8) new writes in progress with no gap
   * between them; then it registers as any reader does. So the wait is bounded (at most
   * READ_ATTEMPTS + 1 such waits before the registration), but in the reader's looks, not in
   * writes: the slot's reader looks at every release, a polling one at each poll (1 us doubling
   * to 50 us), and each look counts one write however many passed since the last. Counting the
   * writes themselves (the sequence advances by 2 per write) was weighed: in the scenario below,
   * 16 writes pass per blocking write, so that budget would run out at once and bring the
   * registrations back. The session 17 review measured the cost: against a back-to-back 2 us
   * writer on a loaded 2-vCPU machine a virtual read spanned up to 134 writes at p99 (1,336 to
   * 2,221 at most; a platform reader p99 1-3), and against 50 us sections 0-40 at p99 (71-136 at
   * most; a virtual StampedLock reader 145-210 at p50, up to 8,081). Measured (results/2026-12-05-epyc-2c-jdk25-seqlock-virtual-readers): the writer 3.6x
   * faster, 2.9-3.5x StampedLock's; its readers' p99 1.4-5.8 ms (before 0.2-0.9 ms; StampedLock
   * 3-24 ms). The price: under a back-to-back platform writer with 2 us sections, 4 virtual
   * readers' p99 rose from 1.3-5.6 us to 31 us (StampedLock 1.1-27 us). Never registering was
   * tried: the writer then matched StampedLock, but its readers starved (p99 21-64 ms). A virtual
   * beginRead waiting out a writer does the same: one unregistered wait, then the registered
   * one. Platform readers are unchanged. Tests: SeqLockVirtualReaderTest.
   *
   * Protocol windows (test seam, see ProtocolWindows; folded away in production):
   * "seqlock.validation-failed" in retryStamp after a failed optimistic pass (or one whose
   * function threw on torn state), before the next stamp is taken; "seqlock.read-fallback" after
   * the read has decided to take the lock for its final pass, before it acquires;
   * "seqlock.reader-registered" once a reader that waits for a writer's release has registered
   * in `readersWaiting` (from then on no writer starts a new section before it).
   */

  /** Creates an unlocked sequence lock. */
  public SeqLock() {}

  // ---- reading ---------------------------------------------------------------------------

  /**
   * Starts an optimistic read: returns a stamp to pass to {@link #validate(long)} after reading
   * the guarded fields. If a write is in progress, waits for it to finish (briefly spinning,
   * then waiting for the lock), so the returned stamp is always even. Inside a read function's
   * pass under the lock (see the class documentation) it returns at once: the data cannot change
   * until the pass ends, and the stamp validates on this thread until the next write (on another
   * thread, only after the pass has ended and before the next write: during the pass the counter
   * is odd, so other threads' validations fail safe and retry).
   *
   * @return the stamp for {@link #validate(long)}
   * @throws IllegalStateException if the current thread holds the write lock (its own write
   *     section): a stamp taken there could never validate
   */
  public long beginRead() {
    long s = seqAcquire();
    return (s & 1) == 0 ? s : beginReadSlow();
  }

  private long beginReadSlow() {
    Thread me = Thread.currentThread();
    if (reader == me) {
      // Inside this thread's own pass under the lock (a read function on its fallback pass):
      // the data cannot change until the pass restores the even value it took the lock from,
      // so that value is the stamp, and validate accepts it while the pass lasts.
      return seqOpaque() - 1;
    }
    if (owner == me) {
      throw new IllegalStateException(
          "SeqLock.beginRead() inside this thread's own write section would never validate;"
              + " read the fields directly while holding the write lock");
    }
    long lastOdd = 1L; // the last odd value seen
    for (int i = 0; i < READ_SPINS; i++) {
      Thread.onSpinWait();
      long s = seqAcquire();
      if ((s & 1) == 0) {
        return s;
      }
      lastOdd = s;
    }
    if (SpinBackoff.isVirtual(me)) {
      // As read(...) on a virtual thread: wait out writes unregistered first (session 17).
      long s = awaitWritesEnd(lastOdd);
      if ((s & 1) == 0) {
        return s;
      }
    }
    // Wait for the writer by taking and dropping the lock; the value restored is even.
    long odd = acquireForRead();
    if ((odd & 1) == 0) {
      return odd; // waited out another reader's pass: an even stamp, lock not taken
    }
    long s = odd - 1;
    releaseRestoring(s);
    return s;
  }

  /**
   * Tells whether no write has started since {@code stamp} was obtained, so that everything
   * read since then is consistent.
   *
   * @param stamp a stamp from {@link #beginRead()}
   * @return {@code true} if the values read since {@code beginRead} come from one completed
   *     write; {@code false} if they may be torn and the read must be retried (always {@code
   *     false} for an odd stamp)
   */
  public boolean validate(long stamp) {
    return validateStamp(stamp);
  }

  /**
   * Runs {@code reader} optimistically until it sees consistent state and returns its result.
   * See the class documentation for retries, exceptions and the fallback to the lock.
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
      s = retryStamp(0); // a write is in progress
    }
    for (int attempt = 1; ; attempt++) {
      R r;
      try {
        r = reader.get();
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
   * Like {@link #read(Supplier)} for an {@code int} result, without boxing or allocation.
   *
   * @param reader reads the guarded fields; may run several times and on torn state
   * @return the result of a run of {@code reader} that validated
   * @throws NullPointerException if {@code reader} is null
   */
  public int readInt(IntSupplier reader) {
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = retryStamp(0); // a write is in progress
    }
    for (int attempt = 1; ; attempt++) {
      int r;
      try {
        r = reader.getAsInt();
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
   * Like {@link #read(Supplier)} for a {@code long} result, without boxing or allocation.
   *
   * @param reader reads the guarded fields; may run several times and on torn state
   * @return the result of a run of {@code reader} that validated
   * @throws NullPointerException if {@code reader} is null
   */
  public long readLong(LongSupplier reader) {
    Objects.requireNonNull(reader, "reader");
    long s = seqAcquire();
    if ((s & 1) != 0) {
      s = retryStamp(0); // a write is in progress
    }
    for (int attempt = 1; ; attempt++) {
      long r;
      try {
        r = reader.getAsLong();
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
   * Like {@link #read(Supplier)}, with the object to read from passed in, so that {@code reader}
   * can be a non-capturing lambda: then no path of the read allocates, whatever the JIT does. A
   * capturing lambda passed to {@link #read(Supplier)} is removed by HotSpot's escape analysis
   * when the read inlines into its caller (the read loop calls the function at a single site and
   * passes it to nothing out of line), but not where the caller is not compiled or the read is
   * not inlined into it, for example from a call site that is too large or megamorphic.
   *
   * <pre>{@code
   * long sum = lock.readLong(this, self -> self.x + self.y);
   * }</pre>
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
      s = retryStamp(0); // a write is in progress
    }
    for (int attempt = 1; ; attempt++) {
      R r;
      try {
        r = reader.apply(source);
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
   * Like {@link #read(Object, Function)} for an {@code int} result, without boxing or
   * allocation.
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
      s = retryStamp(0); // a write is in progress
    }
    for (int attempt = 1; ; attempt++) {
      int r;
      try {
        r = reader.applyAsInt(source);
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
   * Like {@link #read(Object, Function)} for a {@code long} result, without boxing or
   * allocation.
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
      s = retryStamp(0); // a write is in progress
    }
    for (int attempt = 1; ; attempt++) {
      long r;
      try {
        r = reader.applyAsLong(source);
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

  // ---- writing ---------------------------------------------------------------------------

  /**
   * Takes the write lock, waiting if another thread holds it.
   *
   * @return the guard that releases the lock when closed
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   *     (an interrupt that is pending on entry is reported even if the lock is free, as {@code
   *     StampedLock.writeLockInterruptibly()} does)
   * @throws IllegalStateException if the current thread already holds the write lock (the lock
   *     is not reentrant), or runs a read function's pass under the lock
   */
  public WriteGuard write() throws InterruptedException {
    // The guard exists before the lock is taken: its allocation after the acquisition could
    // overflow the stack holding the lock (review 23); after it, only a field store.
    WriteGuard g = new WriteGuard(this);
    g.stamp = acquireInterruptibly(); // with the lock-order hooks
    return g;
  }

  /**
   * Takes the write lock, waiting without responding to interrupts if another thread holds it.
   * If the thread is interrupted while waiting, its interrupt status is set again on return.
   *
   * @return the guard that releases the lock when closed
   * @throws IllegalStateException if the current thread already holds the write lock, or runs a
   *     read function's pass under the lock
   */
  public WriteGuard writeUninterruptibly() {
    WriteGuard g = new WriteGuard(this); // before the acquisition: see write()
    g.stamp = acquireUninterruptibly();
    return g;
  }

  /**
   * Takes the write lock if it is free right now and no reader is waiting for it after a write
   * (readers that queued behind a write go first; see the class documentation).
   *
   * @return the guard, or {@code null} if another thread holds the lock or a reader waits for it
   * @throws IllegalStateException if the current thread already holds the write lock, or runs a
   *     read function's pass under the lock
   */
  public @Nullable WriteGuard tryWrite() {
    WriteGuard g = new WriteGuard(this); // before the acquisition: see write()
    // Everything that can overflow the stack comes before the CAS: after it, only field
    // accesses (review 23: a call after the CAS threw StackOverflowError holding the lock).
    // With lock-order checking on, a probe covers the record that follows the CAS.
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      StackHeadroom.ensure(StackHeadroom.RECORD_FRAMES);
    }
    long odd = tryAcquire();
    if (odd == 0L) {
      checkNotOwner();
      return null;
    }
    if (ordered) {
      LockOrder.acquired(this, false); // held, but no edge: a tryWrite does not wait
    }
    g.stamp = odd;
    return g;
  }

  /**
   * Takes the write lock, waiting at most {@code timeout}.
   *
   * <p>On a virtual thread, a call with a positive timeout that times out parks once for the
   * shortest time before it returns {@code null}, so the thread leaves its carrier: a loop retrying
   * a short timeout (one that runs out in the brief spin before the park) cannot keep the
   * carrier from a holder that needs it. Such a failure returns about one timer round trip
   * (tens of microseconds) after its deadline; see <a
   * href="package-summary.html#virtual-timeouts">timed waits on virtual threads</a>.
   *
   * @param timeout the longest time to wait; zero or negative means do not wait
   * @return the guard, or {@code null} if the timeout elapsed first
   * @throws InterruptedException if the current thread is interrupted before or while waiting
   *     (also with a zero timeout, and even if the lock is free, as {@code
   *     StampedLock.tryWriteLock(time, unit)} does)
   * @throws NullPointerException if {@code timeout} is null
   * @throws IllegalStateException if the current thread already holds the write lock, or runs a
   *     read function's pass under the lock (checked before any waiting, whatever the timeout)
   */
  public @Nullable WriteGuard tryWrite(Duration timeout) throws InterruptedException {
    long nanos = Timeouts.toNanos(timeout, "timeout");
    if (Thread.currentThread().isInterrupted()) {
      throw interruptedBefore(); // as StampedLock.tryWriteLock(time, unit): even when it is free
    }
    WriteGuard g = new WriteGuard(this); // before the acquisition: see write()
    boolean ordered = LockOrder.enabled();
    if (ordered && nanos > 0L) {
      LockOrder.beforeWait(this, false); // a positive timeout waits: checked like write()
    } else if (ordered) {
      StackHeadroom.ensure(StackHeadroom.RECORD_FRAMES); // see tryWrite()
    }
    long odd = tryAcquire();
    if (odd == 0L) {
      if (nanos <= 0L) {
        // Checks once, never waits: no spin, no park (review 22: on a virtual thread the slow
        // path's timeout handling parked once, for a timeout that was never positive).
        checkNotOwner();
        return null;
      }
      odd = acquireSlow(true, true, nanos);
      if (odd == 0L) {
        return null;
      }
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    g.stamp = odd;
    return g;
  }

  /**
   * Tells whether the write lock is held, by a writer or by a reader that fell back to it. The
   * answer may be stale as soon as it is returned; use it for monitoring, not for control.
   *
   * @return {@code true} if the sequence is odd
   */
  public boolean isWriteLocked() {
    return (seqOpaque() & 1) != 0;
  }

  /**
   * Tells whether the current thread holds the write lock as a writer, between taking it with a
   * {@code write} method and closing the guard. A read function running under the lock (a
   * read's final pass) holds it as a reader: this method returns {@code false} there, while
   * {@link #isWriteLocked()} returns {@code true}.
   *
   * @return {@code true} if the current thread holds it as a writer
   */
  public boolean isWriteLockedByCurrentThread() {
    return owner == Thread.currentThread();
  }

  private void close(long odd) {
    if (seqOpaque() != odd) {
      throw new IllegalStateException(
          "SeqLock write guard already closed: close each WriteGuard exactly once");
    }
    if (owner != Thread.currentThread()) {
      throw new IllegalMonitorStateException(
          "SeqLock write guard closed by a thread that does not hold the write lock;"
              + " close it on the thread that called write()");
    }
    release(odd);
  }

  /**
   * Describes the lock's state without blocking: its sequence and whether it is write-locked.
   *
   * @return a description such as {@code SeqLock[seq=42, unlocked]}
   */
  @Override
  public String toString() {
    return "SeqLock[" + describe() + "]";
  }

  /**
   * Proof of holding a {@link SeqLock}'s write lock; closing it ends the write, publishing the
   * changes to readers and letting the next writer in. Close it exactly once, on the thread that
   * took the lock, normally with try-with-resources.
   */
  public static final class WriteGuard implements AutoCloseable {
    private final SeqLock lock;
    /**
     * The write's odd sequence value, set by the writer right after it took the lock (the guard
     * is made before, so that nothing after the acquisition can overflow the stack). Plain: the
     * guard belongs to the writer's thread; another thread's {@code toString()} is a hint.
     */
    long stamp;

    WriteGuard(SeqLock lock) {
      this.lock = lock;
    }

    /**
     * Ends the write and releases the lock.
     *
     * @throws IllegalStateException if this guard was already closed
     * @throws IllegalMonitorStateException if the current thread does not hold the lock
     */
    @Override
    public void close() {
      lock.close(stamp);
    }

    /**
     * Describes the guard without blocking.
     *
     * @return a description with the write's sequence number
     */
    @Override
    public String toString() {
      return "SeqLock.WriteGuard[stamp=" + stamp + (lock.seqOpaque() == stamp ? "" : ", closed")
          + "]";
    }
  }
}
