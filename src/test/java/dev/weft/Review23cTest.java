package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 23c: adversarial review of the review-23 overflow fixes (575e4e7: Mutex's own holder
 * field and its restore on overflow, SeqLockCore's owner restore, SeqCount's close order, guards
 * made before the CAS) and of 23b's LockOrder entry removal (fcc6c31). No test failed
 * on the code reviewed: every {@code held_} test is an attack that held.
 */
@Timeout(60)
@SuppressWarnings({"try", "BooleanLiteral"})
class Review23cTest {

  @BeforeAll
  static void initialiseShallow() throws Exception {
    LockOrder.resetForTests();
    for (int pass = 0; pass < 2; pass++) {
      if (pass == 1) {
        LockOrder.enable(LockOrder.Mode.LOG);
      }
      try {
        for (Target t : targets()) {
          for (int i = 0; i < 50; i++) {
            t.acquire();
            t.heldByMe();
            t.locked();
            t.release();
            t.heldByMe();
            t.locked();
          }
        }
        LockOrder.heldCountForTests();
      } finally {
        LockOrder.disable();
        LockOrder.resetForTests();
      }
    }
    assertThat(new StackOverflowError().getStackTrace()).isNotNull();
  }

  @AfterEach
  void off() {
    LockOrder.disable();
    LockOrder.resetForTests();
  }

  // ------------------------------------------------------------------------ unlock sweeps

  /** One lock under test: acquire (shallow enough to succeed), release, and its state. */
  abstract static class Target {
    final String name;

    Target(String name) {
      this.name = name;
    }

    abstract void acquire() throws Exception;

    /** Releases (closes the guard); may throw StackOverflowError. */
    abstract void release() throws Exception;

    abstract boolean heldByMe();

    abstract boolean locked();

    /** Forgets the guard after a release that completed. */
    void forget() {}

    @Override
    public String toString() {
      return name;
    }
  }

  static final class GuardTarget extends Target {
    final Supplier<? extends AutoCloseable> acq;
    final BooleanSupplier mine;
    final BooleanSupplier locked;
    AutoCloseable g;

    GuardTarget(String name, Supplier<? extends AutoCloseable> acq, BooleanSupplier mine,
        BooleanSupplier locked) {
      super(name);
      this.acq = acq;
      this.mine = mine;
      this.locked = locked;
    }

    @Override
    void acquire() {
      g = acq.get();
      if (g == null) {
        throw new AssertionError("free lock refused: " + name);
      }
    }

    @Override
    void release() throws Exception {
      g.close();
    }

    @Override
    void forget() {
      g = null;
    }

    @Override
    boolean heldByMe() {
      return mine.getAsBoolean();
    }

    @Override
    boolean locked() {
      return locked.getAsBoolean();
    }
  }

  static List<Target> targets() {
    List<Target> r = new ArrayList<>();
    Mutex<Integer> m = new Mutex<>(1);
    r.add(new GuardTarget("Mutex", m::tryLock, m::isHeldByCurrentThread, m::isLocked));
    SeqLock s = new SeqLock();
    r.add(new GuardTarget("SeqLock", s::tryWrite, s::isWriteLockedByCurrentThread,
        s::isWriteLocked));
    SeqCount c = new SeqCount();
    r.add(new GuardTarget("SeqCount(exact)", () -> c.write(true), c::isWriting, c::isWriting));
    SeqCount c2 = new SeqCount();
    r.add(new GuardTarget("SeqCount(plain)", () -> c2.write(false), c2::isWriting,
        c2::isWriting));
    RwLock<Integer> w = new RwLock<>(1);
    r.add(new GuardTarget("RwLock.write", w::tryWrite, w::isWriteLocked, w::isWriteLocked));
    RwLock<Integer> rd = new RwLock<>(1);
    r.add(new GuardTarget("RwLock.read", rd::tryRead, () -> rd.readLockCount() > 0,
        () -> rd.readLockCount() > 0));
    SpinLock sp = new SpinLock();
    r.add(new GuardTarget("SpinLock", () -> sp.tryLock() ? sp::unlock : null,
        sp::isHeldByCurrentThread, sp::isLocked));
    TicketLock tk = new TicketLock();
    r.add(new GuardTarget("TicketLock", () -> tk.tryLock() ? tk::unlock : null,
        tk::isHeldByCurrentThread, tk::isLocked));
    return r;
  }

  /**
   * Sweeps the release near the stack's end: on the way up from an overflow, each frame
   * acquires with the frame's stack and releases; an overflowing release is settled one frame
   * higher: the lock must be held by this thread (then a retry of the same guard must work) or
   * free; locked-but-not-mine is an orphan. With checking on, a lock still held after the
   * overflow must still be in LockOrder's held list ({@code lost} counts the ones that are not).
   */
  static final class UnlockSweep {
    final Target t;
    final boolean checking;
    int frames;
    int overflows;
    int orphans;
    int refusedRetries;
    int freedButThrew;
    int lost;
    int acquireOverflows;
    boolean pending;
    boolean mustRetry;
    boolean acqPending;
    int acqLeaks;
    String firstBad = "";

    UnlockSweep(Target t, boolean checking) {
      this.t = t;
      this.checking = checking;
    }

    void recurse(int depth) {
      try {
        if (depth < 10_000_000) {
          recurse(depth + 1);
        }
      } catch (StackOverflowError e) {
        // the deepest frame
      }
      if (frames >= 400) {
        return;
      }
      frames++;
      try {
        if (acqPending) {
          acqPending = false;
          if (t.locked()) {
            acqLeaks++; // an acquisition's own residual window (SeqCount: documented)
            frames = 400;
            return;
          }
        }
        if (pending) {
          boolean mine = t.heldByMe();
          boolean locked = t.locked();
          int count = checking && !t.name.startsWith("SeqCount") ? LockOrder.heldCountForTests() : 1;
          pending = false;
          if (mine) {
            if (count == 0) {
              lost++;
            }
            mustRetry = true;
          } else if (locked) {
            orphans++;
            if (firstBad.isEmpty()) {
              firstBad = "orphan";
            }
            return;
          } else {
            freedButThrew++;
            t.forget();
          }
        }
        if (mustRetry) {
          try {
            t.release();
            mustRetry = false;
            t.forget();
          } catch (IllegalStateException | IllegalMonitorStateException e) {
            refusedRetries++;
            if (firstBad.isEmpty()) {
              firstBad = "retry refused: " + e;
            }
            mustRetry = false;
            orphans += t.locked() ? 1 : 0;
            return;
          }
        }
      } catch (StackOverflowError e) {
        return;
      } catch (Exception e) {
        throw new AssertionError(e);
      }
      if (mustRetry || pending) {
        return;
      }
      try {
        t.acquire();
      } catch (StackOverflowError e) {
        acquireOverflows++;
        acqPending = true;
        return; // acquisitions are review 23's own sweep; not counted here
      } catch (Exception e) {
        throw new AssertionError(e);
      }
      try {
        t.release();
        t.forget();
      } catch (StackOverflowError e) {
        overflows++;
        pending = true;
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    }
  }

  static String sweepAll(boolean checking, int rounds) throws Exception {
    StringBuilder out = new StringBuilder();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread th = new Thread(null, () -> {
      try {
        for (int round = 0; round < rounds; round++) {
          for (Target t : targets()) {
            UnlockSweep s = new UnlockSweep(t, checking);
            StackHeadroomTest.padThen(round % 7, () -> s.recurse(0));
            if (s.orphans + s.refusedRetries + s.lost > 0) {
              out.append(String.format("%n  %s round %d: overflows=%d orphans=%d refused=%d"
                  + " lost=%d freedButThrew=%d (%s)", t, round, s.overflows, s.orphans,
                  s.refusedRetries, s.lost, s.freedButThrew, s.firstBad));
            }
            if (s.acqLeaks > 0) {
              System.out.println("r23c: acquisition left " + t + " locked (residual), round "
                  + round);
            }
            if (s.acqLeaks == 0 && t.locked() && !s.pending && !s.mustRetry && s.orphans == 0) {
              if (t.heldByMe()) {
                t.release();
              }
            }
            LockOrder.resetForTests();
            if (checking) {
              LockOrder.enable(LockOrder.Mode.LOG);
            }
          }
        }
      } catch (Throwable e) {
        failure.set(e);
      }
    }, "test-r23c-sweep", 512 * 1024);
    th.setDaemon(true);
    th.start();
    th.join();
    if (failure.get() != null) {
      throw new AssertionError(failure.get());
    }
    return out.toString();
  }

  /**
   * Attack: every release (guard close / unlock) near the stack's end, checking off. After an
   * overflowing release the lock must be held by this thread with a retry that works, or free.
   * Anchor: 575e4e7 (Mutex.tryRelease / SeqLockCore.releaseWrite restore, SeqCount close order).
   */
  @Test
  void held_releaseNearTheStackEndLeavesTheLockMineOrFreeCheckingOff() throws Exception {
    assertThat(sweepAll(false, 6)).isEmpty();
  }

  /**
   * Attack: the same sweep with lock-order checking on; also asks that a lock still held after
   * the overflow is still in LockOrder's held list ("lost" otherwise). Anchor: every release
   * calls LockOrder.released(this) first (Mutex.releaseLock, RwLock.unlockRead/Write,
   * SeqLockCore.releaseWrite, SpinLock/TicketLock.unlock), then probes/releases: an overflow in
   * between would leave the lock held, its record gone. Held: 6 rounds x 8 locks, no orphan, no
   * refused retry, no lost record (the probes fire before LockOrder.released in practice).
   */
  @Test
  void held_releaseNearTheStackEndWithCheckingOnKeepsTheHoldRecorded() throws Exception {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.LOG);
    assertThat(sweepAll(true, 6)).isEmpty();
  }

  // --------------------------------------------------------------- Mutex owner field

  /**
   * Attack: Mutex's holder field under contention: every holder sees isHeldByCurrentThread,
   * toString names it, no one else does; AQS Condition (Condvar) await/notify uses
   * isHeldExclusively. Anchor: Mutex.Sync.holder.
   */
  @Test
  void held_mutexHolderFieldUnderContentionAndCondvar() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    int threads = 4;
    int iters = 5_000;
    AtomicReference<Throwable> fail = new AtomicReference<>();
    CyclicBarrier start = new CyclicBarrier(threads);
    List<Thread> ts = new ArrayList<>();
    AtomicInteger turn = new AtomicInteger();
    for (int k = 0; k < threads; k++) {
      int id = k;
      Thread t = new Thread(() -> {
        try {
          start.await();
          for (int i = 0; i < iters; i++) {
            Mutex.Guard<Integer> g = (i & 1) == 0 ? m.lock() : m.tryLock();
            if (g == null) {
              if (m.isHeldByCurrentThread()) {
                throw new AssertionError("tryLock failed yet held");
              }
              continue;
            }
            try {
              if (!m.isHeldByCurrentThread()) {
                throw new AssertionError("holder not me");
              }
              g.set(g.get() + 1);
            } finally {
              g.close();
            }
            if (m.isHeldByCurrentThread()) {
              throw new AssertionError("still mine after close");
            }
          }
          // a ring of Condvar waits: thread id waits for its turn
          for (int r = 0; r < 20; r++) {
            try (Mutex.Guard<Integer> g = m.lock()) {
              cv.awaitWhile(g, v -> turn.get() % threads != id);
              if (!m.isHeldByCurrentThread()) {
                throw new AssertionError("not held after await");
              }
              turn.incrementAndGet();
              cv.notifyAllWaiters();
            }
          }
        } catch (Throwable e) {
          fail.compareAndSet(null, e);
        }
      }, "r23c-mutex-" + k);
      t.setDaemon(true);
      ts.add(t);
      t.start();
    }
    for (Thread t : ts) {
      t.join(TimeUnit.SECONDS.toMillis(50));
      assertThat(t.isAlive()).as("thread stuck").isFalse();
    }
    assertThat(fail.get()).isNull();
    assertThat(m.isLocked()).isFalse();
    assertThat(turn.get()).isEqualTo(threads * 20);
  }

  /**
   * Attack: misuse of a Mutex guard (close by a non-owner, double close, lockWhen) leaves the
   * holder field right. Anchor: Mutex.Guard.close, Sync.tryRelease's holder check.
   */
  @Test
  void held_mutexMisuseKeepsTheHolder() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Mutex.Guard<Integer> g = m.lock();
    AtomicReference<Throwable> other = new AtomicReference<>();
    Thread t = new Thread(() -> {
      try {
        g.close();
      } catch (Throwable e) {
        other.set(e);
      }
      if (m.tryLock() != null) {
        other.set(new AssertionError("other thread got a held mutex"));
      }
    });
    t.start();
    t.join();
    assertThat(other.get()).isInstanceOf(IllegalMonitorStateException.class);
    assertThat(m.isHeldByCurrentThread()).isTrue();
    assertThat(m.toString()).contains(Thread.currentThread().getName());
    g.close();
    assertThatThrownBy(g::close).isInstanceOf(IllegalStateException.class);
    assertThat(m.isLocked()).isFalse();
    try (Mutex.Guard<Integer> w = m.lockWhen(v -> v == 0)) {
      assertThat(m.isHeldByCurrentThread()).isTrue();
      w.set(1);
    }
    assertThat(m.isHeldByCurrentThread()).isFalse();
    Thread.currentThread().interrupt();
    assertThatThrownBy(() -> m.lockWhen(v -> v == 1)).isInstanceOf(InterruptedException.class);
    assertThat(m.isLocked()).isFalse();
  }

  // ------------------------------------------------------------------------------ SeqCount

  static void setWriter(SeqCount c, long v) throws Exception {
    Field f = SeqCount.class.getDeclaredField("writer");
    f.setAccessible(true);
    f.setLong(c, v);
  }

  /**
   * Attack: a close retried after a partial close (the ~id store done, the even store not),
   * exact and plain; and a close from another thread (refused, guard still usable). Anchor:
   * SeqCount.close accepting w == ~id.
   */
  @Test
  void held_seqCountCloseRetryAfterPartialCloseAndForeignClose() throws Exception {
    for (boolean exact : new boolean[] {true, false}) {
      SeqCount c = new SeqCount();
      SeqCount.WriteGuard g = c.write(exact);
      setWriter(c, ~Thread.currentThread().getId()); // as after WRITER.setOpaque(~id)
      g.close();
      assertThat(c.isWriting()).isFalse();
      assertThat(c.beginRead()).isEqualTo(2L);
      assertThatThrownBy(g::close).isInstanceOf(IllegalStateException.class);
      SeqCount.WriteGuard g2 = c.write(exact);
      AtomicReference<Throwable> other = new AtomicReference<>();
      Thread t = new Thread(() -> {
        try {
          g2.close();
        } catch (Throwable e) {
          other.set(e);
        }
      });
      t.start();
      t.join();
      assertThat(other.get()).isInstanceOf(IllegalMonitorStateException.class);
      assertThat(c.isWriting()).isTrue();
      g2.close();
      assertThat(c.isWriting()).isFalse();
      // a read function that writes is still reported
      assertThatThrownBy(() -> c.read(() -> {
        try (SeqCount.WriteGuard w = c.write(exact)) {
          return 1;
        }
      })).isInstanceOf(IllegalStateException.class).hasMessageContaining("read function wrote");
      assertThat(c.isWriting()).isFalse();
    }
  }

  // ------------------------------------------------------------------------------ SeqLock

  /** Attack: SeqLock guard stamp set after acquisition: toString before/after close. */
  @Test
  void held_seqLockGuardToStringAndDoubleClose() throws Exception {
    SeqLock s = new SeqLock();
    SeqLock.WriteGuard g = s.tryWrite();
    assertThat(g).isNotNull();
    assertThat(g.toString()).isEqualTo("SeqLock.WriteGuard[stamp=1]");
    g.close();
    assertThat(g.toString()).contains("closed");
    assertThatThrownBy(g::close).isInstanceOf(IllegalStateException.class);
    assertThat(s.isWriteLocked()).isFalse();
  }

  // ----------------------------------------------------------------------------- LockOrder

  /**
   * Attack: nested read guards of one RwLock (held twice in the list) with checking on: the
   * list must count both, and an inversion taken after the inner close is still reported with
   * the right suppressed "first taken here" stack. Anchor: LockOrder.released's HELD.remove.
   */
  @Test
  void held_lockOrderNestedReadsAndInversionReport() throws Exception {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
    RwLock<Integer> a = new RwLock<>(1);
    Mutex<Integer> b = new Mutex<>(2);
    try (RwLock.ReadGuard<Integer> r1 = a.read()) {
      try (RwLock.ReadGuard<Integer> r2 = a.read()) {
        assertThat(LockOrder.heldCountForTests()).isEqualTo(2);
      }
      assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
      try (Mutex.Guard<Integer> gb = b.lock()) {
        assertThat(LockOrder.heldCountForTests()).isEqualTo(2);
      }
    }
    assertThat(LockOrder.heldCountForTests()).isZero();
    try (Mutex.Guard<Integer> gb = b.lock()) {
      Throwable e = catchThrown(() -> a.read().close());
      assertThat(e).isInstanceOf(LockOrderException.class);
      assertThat(e.getSuppressed()).hasSize(1);
      assertThat(e.getSuppressed()[0].getMessage()).contains("first taken here")
          .contains(Thread.currentThread().getName());
      assertThat(e.getSuppressed()[0].getStackTrace()).anySatisfy(st ->
          assertThat(st.getMethodName()).isEqualTo("held_lockOrderNestedReadsAndInversionReport"));
      assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
    }
    assertThat(LockOrder.heldCountForTests()).isZero();
  }

  static Throwable catchThrown(ThrowingRunnable r) {
    try {
      r.run();
    } catch (Throwable e) {
      return e;
    }
    throw new AssertionError("nothing thrown");
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  /**
   * Attack: a lock taken while checking was off and released with it on, then a SpinLock
   * Condition await (releases to size 0, so HELD goes, inside the wait; lockUnchecked makes a
   * new one) with an outer lock held and without. Anchor: LockOrder.released / lockUnchecked.
   */
  @Test
  void held_lockOrderEntryRemovalAroundConditionWaits() throws Exception {
    LockOrder.resetForTests();
    Mutex<Integer> pre = new Mutex<>(0);
    Mutex.Guard<Integer> pg = pre.lock();
    LockOrder.enable(LockOrder.Mode.THROW);
    pg.close();
    assertThat(LockOrder.heldCountForTests()).isZero();
    SpinLock outer = new SpinLock();
    SpinLock l = new SpinLock();
    java.util.concurrent.locks.Condition c = l.newCondition();
    for (boolean nested : new boolean[] {false, true}) {
      if (nested) {
        outer.lock();
      }
      l.lock();
      try {
        assertThat(c.await(1, TimeUnit.MILLISECONDS)).isFalse();
        assertThat(LockOrder.heldCountForTests()).isEqualTo(nested ? 2 : 1);
      } finally {
        l.unlock();
      }
      if (nested) {
        outer.unlock();
      }
      assertThat(LockOrder.heldCountForTests()).isZero();
    }
    l.lock();
    try {
      assertThatThrownBy(outer::lock).isInstanceOf(LockOrderException.class);
    } finally {
      l.unlock();
    }
  }
}
