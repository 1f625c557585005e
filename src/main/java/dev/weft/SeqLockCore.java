package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * The sequence-lock state and protocol shared by {@link SeqLock} and {@link SeqLocked}: the
 * sequence counter that is also the write lock, the waiting room for writers, and the slow part
 * of optimistic reads. {@code SeqLocked} extends it (rather than holding a {@code SeqLock}) so
 * that its counter and its reference to the guarded value sit in one object: a read then loads
 * one object fewer, and no separate small object sits between hot lines.
 */
abstract class SeqLockCore {
  /*
   * Algorithm notes: see SeqLock, which documents the protocol, every fence and access mode, the
   * read fallback, the waiting room and the owner field implemented here.
   */

  /** Failed validations tolerated by {@code read} before it takes the lock for one pass. */
  static final int READ_ATTEMPTS = 4;
  /** Spins on an odd sequence tolerated by {@code read} before it takes the lock. */
  static final int READ_SPINS = 64;
  /** Spins of a reader (and of SeqCount's writer) on an odd sequence before it yields. */
  static final int SPINS = 128;
  /** Yields of a contending writer before it queues and parks. */
  static final int YIELDS = 4;

  /** A virtual writer's spins before the waiting room (no yields); see acquireWait. */
  static final int VIRTUAL_SPINS = 16;

  /**
   * Looks, after its spins, at which a virtual reader finds a new write in progress (no gap seen
   * since the last) before it registers (session 17); see awaitWritesEnd.
   */
  static final int VIRTUAL_READ_WAITS = 8;

  private static final VarHandle SEQ;
  private static final VarHandle PARKED;
  private static final VarHandle ROOM;
  private static final VarHandle READERS_WAITING;
  private static final VarHandle PARKED_READER;

  static {
    // JFR: if a recording is running, weft's event classes load now, not inside a first wait.
    WeftJfr.prepareIfRecording();
  }

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      SEQ = l.findVarHandle(SeqLockCore.class, "seq", long.class);
      PARKED = l.findVarHandle(SeqLockCore.class, "parked", Thread.class);
      ROOM = l.findVarHandle(SeqLockCore.class, "room", WaitingRoom.class);
      READERS_WAITING = l.findVarHandle(SeqLockCore.class, "readersWaiting", int.class);
      PARKED_READER = l.findVarHandle(SeqLockCore.class, "parkedReader", Thread.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** The sequence: even = unlocked, odd = write lock held. Accessed only through {@link #SEQ}. */
  @SuppressWarnings("UnusedVariable") // accessed through the SEQ VarHandle
  private long seq;

  /**
   * The writer holding the lock (between a write's acquire and its release), or null; plain
   * accesses, see the algorithm notes. A reader holding the lock for a pass is in {@link
   * #reader} instead, never here.
   */
  @Nullable Thread owner;

  /**
   * The reader holding the lock for a read pass (a read's fallback pass, or {@code beginRead}
   * waiting out a writer), or null; plain accesses, like {@link #owner}.
   */
  @Nullable Thread reader;

  /** The writer inside the waiting room that may be parked; volatile accesses (Dekker). */
  @SuppressWarnings("UnusedVariable") // accessed through the PARKED VarHandle
  private @Nullable Thread parked;

  /**
   * Queue for waiting writers, created on first contention; accessed through {@link #ROOM}. A
   * {@link WaitingRoom}, not a ReentrantLock: its waiters that time out wake nobody (session
   * 16; see WaitingRoom).
   */
  @SuppressWarnings("UnusedVariable") // accessed through the ROOM VarHandle
  private @Nullable WaitingRoom room;

  /**
   * Readers waiting to take the lock for a pass (a read's fallback pass, or beginRead waiting
   * out a writer); while it is nonzero, writers do not take the lock (issue 20: a reader that
   * falls back gets the lock before the writer's next write section). Accessed through {@link
   * #READERS_WAITING}: getAndAdd by readers, opaque and volatile reads by writers.
   */
  @SuppressWarnings("UnusedVariable") // accessed through the READERS_WAITING VarHandle
  private int readersWaiting;

  /** A waiting reader that may be parked (one at a time; others poll); volatile accesses. */
  @SuppressWarnings("UnusedVariable") // accessed through the PARKED_READER VarHandle
  private @Nullable Thread parkedReader;

  /** Reads that fell back to the lock; written only under the lock, read by tests. */
  long fallbackReads;

  // ---- field accessors -------------------------------------------------------------------

  /** Acquire: orders the caller's later data loads after this load (reader step 1). */
  long seqAcquire() {
    return (long) SEQ.getAcquire(this);
  }

  /** Opaque: a fresh, coherent read; ordering comes from a fence or a following CAS. */
  long seqOpaque() {
    return (long) SEQ.getOpaque(this);
  }

  /** Volatile: the waiting writer's re-check after publishing itself (Dekker). */
  final long seqVolatile() {
    return (long) SEQ.getVolatile(this);
  }

  /** Volatile CAS: the write lock itself (see writer step 1). */
  private boolean casSeq(long expected, long value) {
    return SEQ.compareAndSet(this, expected, value);
  }

  /** Volatile store: release for readers, plus the Dekker hand-off with waiting writers. */
  private void setSeqVolatile(long value) {
    SEQ.setVolatile(this, value);
  }

  // The retry loop of every read form is written out in the form itself, with exactly one call
  // of the read function, which runs for optimistic passes and for the final pass under the
  // lock alike. Everything out of line takes no lambda: retryStamp (waiting while a write is in
  // progress, counting attempts, taking the lock) and endRead's release. So the function's
  // call site is always profiled and inlined, a capturing lambda passed to read(...) never
  // escapes, and escape analysis removes it on every path. (The first version passed the
  // function to a shared out-of-line slow path, and a second had a separate call for the locked
  // pass: either way HotSpot allocated the lambda on every read once writers made that path
  // reachable: 16 bytes per read in SeqLockBench.rw_weftSeqLock.)
  //
  // The stamp `s` of a pass is even for an optimistic pass, and odd when the pass runs under
  // the lock: the odd value this reader stored, or OWN_SECTION for a read inside this thread's
  // own write section (the data is stable and the lock is not ours to release).

  /** The stamp of a pass run inside this thread's own write section; odd, never a real stamp. */
  static final long OWN_SECTION = -1L;

  /**
   * The stamp for the next pass of a read after {@code attempt} failed passes: an even stamp
   * read with acquire, waiting up to {@link #READ_SPINS} spins while a write is in progress;
   * or, after {@link #READ_ATTEMPTS} failures or a longer wait, the odd stamp of the lock taken
   * for a final pass (or {@link #OWN_SECTION}).
   */
  long retryStamp(int attempt) {
    if (ProtocolWindows.ENABLED && attempt > 0) {
      ProtocolWindows.at("seqlock.validation-failed");
    }
    long odd = 1L; // the last odd value seen by the spin below
    if (attempt <= READ_ATTEMPTS) {
      for (int spins = 0; spins < READ_SPINS; spins++) {
        long s = seqAcquire(); // acquire: reader step 1 again
        if ((s & 1) == 0) {
          return s;
        }
        if (spins == 0 && holdsLock()) {
          return OWN_SECTION;
        }
        odd = s;
        Thread.onSpinWait();
      }
    }
    if (holdsLock()) {
      return OWN_SECTION;
    }
    if (attempt <= READ_ATTEMPTS && SpinBackoff.isVirtual(Thread.currentThread())) {
      // A virtual reader waits out the write in progress without registering and goes
      // optimistic again; it registers only after READ_ATTEMPTS failed passes, or once one wait
      // has found VIRTUAL_READ_WAITS writes back to back (session 17; see awaitWritesEnd).
      long s = awaitWritesEnd(odd);
      if ((s & 1) == 0) {
        return s;
      }
    }
    if (ProtocolWindows.ENABLED) {
      ProtocolWindows.at("seqlock.read-fallback");
    }
    long stamp = acquireForRead();
    if ((stamp & 1) == 0) {
      return stamp; // waited out another reader's pass: go optimistic again, lock not taken
    }
    fallbackReads++; // under the lock
    return stamp;
  }

  /**
   * Whether this thread holds the lock, as a writer or as a reader on a pass under the lock: a
   * nested read then runs as {@link #OWN_SECTION} (the data cannot change under it).
   */
  final boolean holdsLock() {
    Thread me = Thread.currentThread();
    return owner == me || reader == me;
  }

  /**
   * Takes the lock for a read pass (uninterruptibly) and records this thread as its {@link
   * #reader}, not as its {@link #owner}: the pass is not a write section, so nested
   * {@code beginRead}/{@code validate} keep working, {@code isWriteLockedByCurrentThread()}
   * stays false, and a write from the pass fails instead of waiting for itself. Release with
   * {@link #releaseRestoring}.
   */
  final long acquireForRead() {
    if (LockOrder.enabled()) {
      // A reader that waits for a writer's release waits for this lock, as lockdep treats
      // seqcount readers (found by review); no hold is recorded: the pass is a read.
      LockOrder.beforeWait(this, true);
    }
    long odd = acquireForReadRegistered(true, 0L, 0);
    if ((odd & 1) == 0) {
      return odd; // an even stamp: the lock is free after another reader's pass, not taken
    }
    // Plain: only this thread ever compares either field with itself (see the owner notes);
    // tryAcquire put this thread into `owner`, which no other thread can observe as "me".
    owner = null;
    reader = Thread.currentThread();
    return odd;
  }

  /**
   * A virtual reader's wait in its first {@link #READ_ATTEMPTS} attempts, and a virtual {@code
   * beginRead}'s before it registers (session 17): waits,
   * without registering and without taking the lock, until no write is in progress, and returns
   * the even value then read (with acquire) as the stamp of the next optimistic pass. If, after
   * its spins, it finds a new write in progress with no gap since the last one it saw {@link
   * #VIRTUAL_READ_WAITS} times, it returns that odd value instead, and the caller registers.
   *
   * <p>Why: a registered reader keeps every writer out until it has been scheduled and has taken
   * its pass. A platform reader is scheduled within a time slice; a virtual reader waits for its
   * carrier's whole queue, and 64 of them (each parking 20 us between reads) held a writer that
   * blocked inside every 16th section to 10-15x StampedLock's time (Review15Test). Waiting
   * unregistered first, they no longer do, and the wait stays bounded: by this reader's looks
   * (each counts one new write, however many passed since the last), then, registered, by at
   * most one more write.
   *
   * @param odd the odd value last seen: the section being waited out
   */
  final long awaitWritesEnd(long odd) {
    if (LockOrder.enabled()) {
      // Waiting for a writer's release is waiting for this lock (see acquireForRead).
      LockOrder.beforeWait(this, true);
    }
    return acquireForReadRegistered(false, odd, VIRTUAL_READ_WAITS);
  }

  /**
   * Ends a pass: for an optimistic pass (even stamp), whether it validated; for a pass under the
   * lock (odd stamp), releases the lock, restoring the even value so that other readers' stamps
   * stay valid, and returns {@code true}.
   */
  final boolean endRead(long s) {
    if ((s & 1) == 0) {
      return validateStamp(s);
    }
    if (s != OWN_SECTION) {
      releaseRestoring(s - 1);
    }
    return true;
  }

  /**
   * An interruptible write was called with the interrupt status set (review 22: it took a free
   * lock and returned, so whether the interrupt was reported depended on contention). Misuse is
   * reported first, as Mutex does: a write from the thread's own write or read pass throws
   * IllegalStateException and leaves the interrupt status set; otherwise the status is cleared
   * and InterruptedException returned for the caller to throw.
   */
  final InterruptedException interruptedBefore() {
    checkNotOwner();
    Thread.interrupted();
    return new InterruptedException("interrupted before taking the SeqLock's write lock");
  }

  /** Package-private for SeqLocked: interruptible acquire; returns the odd stamp. */
  long acquireInterruptibly() throws InterruptedException {
    if (Thread.currentThread().isInterrupted()) {
      throw interruptedBefore(); // as StampedLock.writeLockInterruptibly: even when it is free
    }
    // Lock-order checking (LockOrder): one switch read, constant-folded by the JIT while off.
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    long odd = tryAcquire();
    if (odd == 0L) {
      odd = acquireSlow(true, false, 0L);
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    return odd;
  }

  /** Uninterruptible acquire; returns the odd stamp. */
  long acquireUninterruptibly() {
    boolean ordered = LockOrder.enabled();
    if (ordered) {
      LockOrder.beforeWait(this, false);
    }
    long odd = tryAcquire();
    if (odd == 0L) {
      try {
        odd = acquireSlow(false, false, 0L);
      } catch (InterruptedException e) {
        throw new AssertionError("uninterruptible acquire threw", e);
      }
    }
    if (ordered) {
      LockOrder.acquired(this, false);
    }
    return odd;
  }

  /**
   * A writer's fast path: one CAS from an even value; returns the odd stamp, or 0 (never odd) on
   * failure. Fails while a reader waits to take the lock for a pass: readers that fell back go
   * first (see "Readers before the next write" in SeqLock's notes).
   */
  final long tryAcquire() {
    // Opaque: a writer that misses a reader's registration by a hair takes one more section
    // first; the reader's getAndAdd is a full fence, so any later writer sees it.
    if ((int) READERS_WAITING.getOpaque(this) != 0) {
      return 0L;
    }
    return tryAcquireForRead();
  }

  /**
   * One CAS from an even value, whoever waits; returns the odd stamp, or 0 on failure. Readers
   * taking the lock for a pass use it directly; writers through {@link #tryAcquire}.
   */
  final long tryAcquireForRead() {
    Thread me = Thread.currentThread(); // before the CAS: after it, no call that can be avoided
    long s = seqOpaque(); // opaque: the CAS re-validates the value
    if ((s & 1) == 0 && casSeq(s, s + 1)) {
      owner = me;
      VarHandle.storeStoreFence(); // writer step 2: odd value before the data stores
      return s + 1;
    }
    return 0L;
  }

  final void checkNotOwner() {
    Thread me = Thread.currentThread();
    if (owner == me) {
      throw new IllegalStateException(
          "SeqLock is not reentrant: this thread already holds the write lock;"
              + " close its WriteGuard before writing again");
    }
    if (reader == me) {
      throw new IllegalStateException(
          "SeqLock write from inside a read function: this read runs under the lock (its"
              + " fallback pass), so the write would wait for its own thread; a read function"
              + " must not write");
    }
  }

  /**
   * A reader's acquisition of the lock for a pass (uninterruptible, like the read it serves).
   * When it finds the lock held by a writer it registers in {@link #readersWaiting}, so that no
   * writer starts a new section meanwhile: it waits only for the write in progress. Behind
   * another reader's pass it waits without registering. Spin, yield, then park: one reader
   * parks in {@link #parkedReader} and is woken by the release; any other polls with timed
   * parks of at most 50 us.
   *
   * <p>With {@code mayRegister} false ({@link #awaitWritesEnd}) it never registers or takes the
   * lock: it returns the first even value it reads, or an odd one once {@code sections} new
   * writes, starting from {@code awaited}, have been found in progress after the spins.
   */
  private long acquireForReadRegistered(boolean mayRegister, long awaited, int sections) {
    checkNotOwner();
    // Before the reader registers or takes the slot: an overflow between those and the finally
    // that undoes them, or in that finally, would keep writers out for good (review 18). The
    // pass's release, which the caller runs from a shallower frame, is covered too.
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES);
    Thread me = Thread.currentThread();
    boolean registered = false;
    boolean behindReader = !mayRegister;
    boolean interrupted = false;
    boolean slot = false; // whether this reader holds the parkedReader slot
    long pollNanos = 1_000L;
    try {
      for (int i = 0; ; i++) {
        if (behindReader && !registered) {
          // Behind another reader's pass the data does not change: do not take the lock (that
          // made reader passes chain and shut writers out, issue 20 review); when the pass
          // ends, hand back the even value as a stamp for another optimistic pass.
          long s = seqAcquire(); // acquire: reader step 1
          if ((s & 1) == 0) {
            return s;
          }
          if (!mayRegister && s != awaited) {
            // The section waited out ended and another began before this reader saw a gap:
            // counted once the spins are over (while spinning the reader still holds its
            // carrier and looks again within nanoseconds).
            if (i >= SPINS && --sections <= 0) {
              return s; // odd: the caller registers
            }
            awaited = s;
          }
        } else {
          long odd = tryAcquireForRead();
          if (odd != 0L) {
            return odd;
          }
        }
        if (!registered && reader != null) {
          behindReader = true; // plain, racy read: an error costs only fairness
        } else if (!registered && mayRegister) {
          // Held by a writer (no reader pass holds it): register, so that no writer starts a
          // new section before us. getAndAdd: volatile, a full fence, so writers that read the
          // count afterwards see it and stay out.
          addReadersWaiting(1);
          registered = true;
          if (ProtocolWindows.ENABLED) {
            ProtocolWindows.at("seqlock.reader-registered");
          }
        }
        if (i < SPINS) {
          Thread.onSpinWait();
          continue;
        }
        if (i < SPINS + YIELDS) {
          SpinBackoff.yieldUnlessVirtual(); // a virtual thread goes on to park (see there)
          continue;
        }
        if (!slot) {
          slot = casParkedReader(null, me);
        }
        if (slot) {
          // Dekker with the release: publish (the CAS above, volatile), re-read seq
          // (volatile); a release after this read sees us in the slot and unparks us.
          long s = seqVolatile();
          if ((s & 1) == 0 || (!mayRegister && s != awaited)) {
            continue; // count the section above, or return
          }
          LockSupport.park(this); // any release wakes the slot's reader
        } else {
          LockSupport.parkNanos(this, pollNanos); // another reader has the slot: poll
          pollNanos = Math.min(pollNanos << 1, 50_000L);
        }
        if (Thread.interrupted()) {
          interrupted = true; // uninterruptible: restored below
        }
      }
    } finally {
      if (slot) {
        clearParkedReaderRelease(); // a stale read only costs a spurious unpark
      }
      // Release is not enough here: a writer parked in the room re-reads the count after we
      // release the lock, and the volatile store of seq in the release orders this before it.
      if (registered) {
        addReadersWaiting(-1);
      }
      if (interrupted) {
        me.interrupt();
      }
    }
  }

  // The library's spin policy (CONVENTIONS.md) is spin, then yield, then park; the yield
  // phase is deliberate and bounded, not a reliance on scheduling for correctness.
  final long acquireSlow(boolean interruptible, boolean timed, long nanos)
      throws InterruptedException {
    // JFR (dev.weft.LockContended): the fast CAS failed and the writer is about to wait. The
    // holder is a hint read racily: the writer, or a reader on a pass under the lock.
    // Misuse and a pending interrupt are refused before the event begins: such a call never
    // waited, and an event for it would report a wait that did not happen.
    checkNotOwner();
    if (interruptible && Thread.interrupted()) {
      throw new InterruptedException();
    }
    Object jfr = timed && nanos <= 0L ? null : WeftJfr.lockWaitBegin(holderHint());
    if (jfr == null) {
      return acquireWait(interruptible, timed, nanos);
    }
    int outcome = WeftJfr.FAILED; // stays so only if the wait throws an Error
    try {
      long odd = acquireWait(interruptible, timed, nanos);
      outcome = odd != 0L ? WeftJfr.ACQUIRED : WeftJfr.TIMED_OUT;
      return odd;
    } catch (InterruptedException e) {
      outcome = WeftJfr.INTERRUPTED;
      throw e;
    } finally {
      WeftJfr.lockWaitEnd(jfr, this, WeftJfr.WRITE, outcome);
    }
  }

  private @Nullable Thread holderHint() {
    Thread o = owner;
    return o != null ? o : reader;
  }

  @SuppressWarnings("ThreadPriorityCheck") // platform threads only; see SpinBackoff.isVirtual
  private long acquireWait(boolean interruptible, boolean timed, long nanos)
      throws InterruptedException {
    long deadline = timed ? System.nanoTime() + nanos : 0L;
    // A virtual thread spins briefly and goes to the waiting room, where it parks (unmounts):
    // nothing preempts a virtual thread, so one whose short timeout ran out inside a long spin
    // never left its carrier, and a caller retrying tryWrite(5 us) in a loop kept it for good
    // while the holder, unmounted inside its section, waited for a carrier (session 12 review).
    // A platform writer spins SpinBackoff.SPIN_ROUNDS rounds with exponential backoff (32 to
    // 512 pauses each, as SpinLock does), testing the lock once per round (session 16): with a
    // test every pause, 2 to 4 contending writers kept pulling the sequence's cache line away
    // from the holder, and SeqLockWritersBench ran 12-29 ops/us where StampedLock ran 64-183;
    // with the backoff 129-167 (results/2026-12-05-epyc-2c-jdk25-seqlock-waiting-room-jmh).
    final boolean virtual = SpinBackoff.isVirtual(Thread.currentThread());
    final int spins = virtual ? VIRTUAL_SPINS : SpinBackoff.SPIN_ROUNDS;
    final int yields = virtual ? 0 : YIELDS;
    int backoff = SpinBackoff.MIN_BACKOFF;
    for (int i = 0; i < spins + yields; i++) {
      if (timed && deadline - System.nanoTime() <= 0L) {
        return timedOut(interruptible);
      }
      if (i >= spins) {
        Thread.yield();
      } else if (virtual) {
        Thread.onSpinWait(); // one pause: a virtual writer must not keep its carrier long
      } else {
        backoff = SpinBackoff.pause(backoff);
      }
      long odd = tryAcquire();
      if (odd != 0L) {
        return odd;
      }
    }
    return acquireQueued(interruptible, timed, deadline);
  }

  private long acquireQueued(boolean interruptible, boolean timed, long deadline)
      throws InterruptedException {
    // Before the waiting room is entered: an overflow between entering and the finally's exit
    // (the room's queue, the park, the exit itself) would leave the room occupied or the lock
    // held by a call that threw (review 18); see StackHeadroom.
    StackHeadroom.ensure(StackHeadroom.QUEUE_FRAMES);
    WaitingRoom r = waitingRoom();
    if (!r.enter(this, interruptible, timed, deadline)) {
      return timedOut(interruptible); // timed out waiting for the room, and withdrawn from it
    }
    Thread me = Thread.currentThread();
    boolean interrupted = false;
    try {
      while (true) {
        long odd = tryAcquire();
        if (odd != 0L) {
          return odd;
        }
        setParkedVolatile(me); // Dekker: publish, then re-read seq with a volatile read
        long s = seqVolatile();
        if ((s & 1) == 0 && readersWaitingVolatile() == 0) {
          continue; // released meanwhile and no reader waits: try again without parking
        }
        // Held, or free with a reader about to take it: that holder's release wakes us (a
        // waiting reader takes the lock, and its pass's release wakes us).
        if (timed) {
          long remaining = deadline - System.nanoTime();
          if (remaining <= 0L) {
            break; // timed out: see timedOut, after the room and the slot are left
          }
          LockSupport.parkNanos(this, remaining);
        } else {
          LockSupport.park(this);
        }
        if (Thread.interrupted()) {
          if (interruptible) {
            throw new InterruptedException();
          }
          interrupted = true;
        }
      }
    } finally {
      // Release is enough: a releaser reading a stale `me` only causes a harmless spurious
      // unpark, which every park caller must tolerate.
      clearParkedRelease();
      r.exit();
      if (interrupted) {
        me.interrupt();
      }
    }
    return timedOut(interruptible); // only a timed wait leaves the loop
  }

  /**
   * A timed write wait reports its timeout, out of the waiting room and the slot. A virtual
   * writer first unmounts once (SpinBackoff.unmountBeforeTimeout): its deadline can pass in the
   * spin, before any park, and a tryWrite(1 us) retry loop then kept its carrier (CI stop 33).
   * It does so whether or not it parked before, since a park can return at once on a permit
   * without unmounting (review 20). An interrupt during that park is reported as one; otherwise
   * the lock is looked at once more (a plain tryAcquire, as tryWrite's first attempt), since the
   * park took a timer round trip.
   *
   * @return the stamp if that last look took the lock, else 0
   */
  private long timedOut(boolean interruptible) throws InterruptedException {
    if (!SpinBackoff.isVirtual(Thread.currentThread())) {
      return 0L;
    }
    if (SpinBackoff.unmountBeforeTimeoutInterrupted(this)) {
      if (interruptible) {
        throw new InterruptedException("interrupted while waiting for a SeqLock write");
      }
      Thread.currentThread().interrupt(); // not interruptible: kept as status
    }
    return tryAcquire();
  }

  private WaitingRoom waitingRoom() {
    WaitingRoom r = (WaitingRoom) ROOM.getAcquire(this); // acquire: see a fully built room
    if (r == null) {
      WaitingRoom fresh = new WaitingRoom();
      // Volatile CAS: publishes the fresh room's fields to every thread that reads it.
      r = (WaitingRoom) ROOM.compareAndExchange(this, (WaitingRoom) null, fresh);
      if (r == null) {
        r = fresh;
      }
    }
    return r;
  }

  /** Ends a write: {@code odd} is the stamp of the acquisition. */
  void release(long odd) {
    releaseWrite(odd, true);
  }

  /** Ends a write at the end of a closure ({@code SeqLocked.write}): see {@link #probeBeforeWake}. */
  final void releaseAfterBody(long odd) {
    releaseWrite(odd, false);
  }

  private void releaseWrite(long odd, boolean retryable) {
    if (LockOrder.enabled()) {
      LockOrder.released(this);
    }
    probeBeforeWake(retryable);
    Thread me = owner;
    owner = null;
    try {
      setSeqVolatile(odd + 1); // writer step 4
    } catch (Error e) {
      // The store did not happen (an overflow at a call's entry changes nothing, nor does an
      // OutOfMemoryError linking the call site on its first run, review 31a): the lock is still
      // this writer's, so say so again, and the guard's retry higher up can release it (review
      // 23: it was left write-locked by nobody, for good). A field store cannot overflow.
      owner = me;
      throw e;
    }
    wakeWaiter();
  }

  /** Ends a reader's locked pass: restores the even value {@code even}. */
  final void releaseRestoring(long even) {
    probeBeforeWake(false); // a read function's pass: its caller has no stamp to retry with
    reader = null; // plain, before the release store: see acquireForRead
    setSeqVolatile(even);
    wakeWaiter();
  }

  // Accessors of the waiting-reader count and the parked slots: each VarHandle call site of the
  // slow paths lives in one of these, so that linkRareSteps links the very site the slow path
  // runs (HotSpot links a signature-polymorphic call per constant-pool entry, and javac may give
  // two calls with the same descriptor two entries: a separate warm-up call does not link the
  // real one; session 32).

  /** Volatile getAndAdd (a full fence): see the reader's registration. */
  private void addReadersWaiting(int delta) {
    READERS_WAITING.getAndAdd(this, delta);
  }

  private int readersWaitingVolatile() {
    return (int) READERS_WAITING.getVolatile(this);
  }

  /** Volatile CAS: the reader's half of the Dekker pair with the release's volatile read. */
  private boolean casParkedReader(@Nullable Thread expected, Thread reader) {
    return PARKED_READER.compareAndSet(this, expected, reader);
  }

  private void clearParkedReaderRelease() {
    PARKED_READER.setRelease(this, (Thread) null);
  }

  /** Volatile: the writer's half of the Dekker pair with the release's volatile read. */
  private void setParkedVolatile(Thread writer) {
    PARKED.setVolatile(this, writer);
  }

  private void clearParkedRelease() {
    PARKED.setRelease(this, (Thread) null);
  }

  /**
   * A release that will wake a parked thread checks its stack headroom before it changes
   * anything: an overflow between the sequence's release store and the unpark would leave the
   * parked thread asleep on a free lock (review 18), and the guard already closed. Opaque
   * reads: a hint; a thread that parks after them is one the release's own volatile reads find,
   * a window of a few instructions that the probe does not cover. Not {@code retryable} (the
   * end of a closure or of a read function's pass, whose caller holds nothing to retry with):
   * the release goes ahead even if the probe overflowed (see {@link StackHeadroom#fits}).
   */
  private void probeBeforeWake(boolean retryable) {
    Thread w = (Thread) PARKED.getOpaque(this);
    Thread r = (Thread) PARKED_READER.getOpaque(this);
    if (w != null || r != null) {
      // As deep as the deeper wake-up needs (a virtual thread's: see StackHeadroom.wakeFrames;
      // session 26's review stranded a parked virtual writer in 1 of 2 runs at 16 frames).
      int frames = Math.max(
          w == null ? 0 : StackHeadroom.wakeFrames(w), r == null ? 0 : StackHeadroom.wakeFrames(r));
      StackHeadroom.beforeRelease(retryable, frames);
    }
  }

  private void wakeWaiter() {
    // Volatile: the other half of the Dekker pairs. Both are woken: a registered reader goes
    // first (the writer finds the count nonzero and parks again), but a reader waiting behind
    // another reader's pass has no priority, and waking only it could leave the writer asleep
    // on a free lock (issue 20 review).
    Thread r = (Thread) PARKED_READER.getVolatile(this);
    if (r != null) {
      LockSupport.unpark(r);
    }
    Thread w = (Thread) PARKED.getVolatile(this);
    if (w != null) {
      LockSupport.unpark(w);
    }
  }

  /** For tests: how many reads fell back to the lock. Racy outside the lock. */
  long fallbackReads() {
    return fallbackReads;
  }

  /**
   * Reader steps 3 and 4 (see SeqLock's notes): whether no write started since {@code stamp}.
   */
  final boolean validateStamp(long stamp) {
    VarHandle.loadLoadFence(); // reader step 3: data loads before the re-read of seq
    long now = seqOpaque();
    if (now == stamp) {
      return (stamp & 1) == 0;
    }
    // Failure path only: this thread's own pass under the lock took it from `stamp` (the CAS
    // stamp -> stamp + 1), and no write can start before the pass restores `stamp`.
    return now == stamp + 1 && (stamp & 1) == 0 && reader == Thread.currentThread();
  }

  /** Describes the lock state for toString: {@code seq=42, unlocked}. */
  final String describe() {
    long s = seqOpaque();
    Thread o = owner;
    Thread r = reader;
    String state =
        (s & 1) == 0
            ? "unlocked"
            : o != null ? "write-locked by " + ThreadNames.of(o)
            : r != null ? "locked for a read pass by " + ThreadNames.of(r)
            : "write-locked";
    return "seq=" + s + ", " + state;
  }

  static {
    // Last of the static initializers: the classes this one's slow paths use are initialized
    // with it, not on a first slow path near the end of some thread's stack, where an overflow
    // in their initializers would break them for the rest of the JVM (see
    // StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, SpinBackoff.class, ProtocolWindows.class,
        WaitingRoom.class);
    linkRareSteps();
  }

  /**
   * Runs, once, on a lock nobody else can see, every VarHandle access of the write, release and
   * read-fallback paths, so that their call sites are linked now: the first execution of a
   * call site links it, and linking allocates. Review 31a: in a full heap, a JVM's first
   * release threw at the wake-up probe's first read with the lock still held (a SeqLocked
   * write, or a guard that try-with-resources does not close again), and a reader's first
   * parked fallback threw at the slot's first clear, leaving the lock odd and owned by it.
   * Internal calls: lock-order checking must not record this throwaway lock.
   */
  private static void linkRareSteps() {
    SeqLockCore c = new SeqLockCore() {};
    Thread me = Thread.currentThread();
    c.seqAcquire();
    c.seqVolatile();
    long odd = c.tryAcquire(); // READERS_WAITING.getOpaque, the CAS of seq
    c.probeBeforeWake(true); // PARKED and PARKED_READER, opaque
    c.owner = null;
    c.setSeqVolatile(odd + 1);
    c.wakeWaiter(); // PARKED and PARKED_READER, volatile
    // Through the accessors the slow paths call, so that their own call sites are linked (a
    // separate call with the same descriptor may have its own constant-pool entry, and then
    // links nothing of theirs: session 32, TRACE_METHOD_LINKAGE showed the reader's slot CAS
    // linked on a first fallback after this warm-up).
    c.addReadersWaiting(1); // a registered reader, and its finally
    c.addReadersWaiting(-1);
    c.readersWaitingVolatile();
    c.casParkedReader(null, me); // the reader's slot, and its finally
    c.clearParkedReaderRelease();
    c.setParkedVolatile(me); // a parked writer's registration, and its clear
    c.clearParkedRelease();
    c.waitingRoom(); // ROOM, acquire and compare-and-exchange
  }
}
