package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of issue 21: attacks on lock-order checking and on RwLock's new fast paths
 * that HELD on the code under review; kept as regression coverage. The failing reproducers are
 * in {@link ObservabilityAdversarialTest}.
 */
// try: guards held for their scope only; LockNotBeforeTry: releases out of order on purpose.
@SuppressWarnings({"try", "LockNotBeforeTry"})
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ObservabilityAdversarialTestHeld {

  @BeforeEach
  void on() {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
  }

  @AfterEach
  void off() {
    LockOrder.disable();
    LockOrder.sinkForTests(null);
    LockOrder.resetForTests();
  }

  // ---- RwLock's read fast path (!hasQueuedThreads && tryLock) ---------------------------

  /**
   * A new reader must not barge past a queued writer (RwLock is a non-fair
   * ReentrantReadWriteLock, whose read lock() waits behind a queued writer; the fast path must
   * keep that). Schedule: r1 holds the read lock; test-rw-writer queues for write (parked);
   * test-rw-reader2 calls read(): it must park, not get in. Then r1 closes: the writer goes
   * first, then the reader.
   */
  @Test
  void aNewReaderDoesNotBargePastAQueuedWriter() throws Exception {
    LockOrder.disable();
    RwLock<Integer> rw = new RwLock<>(0);
    AtomicInteger order = new AtomicInteger();
    AtomicInteger writerAt = new AtomicInteger(-1);
    AtomicInteger readerAt = new AtomicInteger(-1);
    var r1 = rw.read();
    Thread writer =
        new Thread(
            () -> {
              try (var w = rw.write()) {
                writerAt.set(order.getAndIncrement());
                w.set(1);
              }
            },
            "test-rw-writer");
    Thread reader =
        new Thread(
            () -> {
              try (var r = rw.read()) {
                readerAt.set(order.getAndIncrement());
                assertThat(r.get()).isEqualTo(1);
              }
            },
            "test-rw-reader2");
    try {
      writer.start();
      Waits.awaitBlocked(writer);
      reader.start();
      Waits.awaitBlocked(reader);
      assertThat(rw.readLockCount()).as("the second reader did not get in").isEqualTo(1);
    } finally {
      r1.close();
      writer.join(20_000);
      reader.join(20_000);
    }
    assertThat(writer.isAlive() || reader.isAlive()).isFalse();
    assertThat(writerAt.get()).isZero();
    assertThat(readerAt.get()).isEqualTo(1);
  }

  /**
   * A re-entrant read while a writer is queued still goes first (documented: read guards may
   * nest; the fast path fails on the queued writer, and lock() grants the re-entrant hold).
   * tryRead() barges by its contract ("only if no writer holds it").
   */
  @Test
  void reentrantReadsAndTryReadGoPastAQueuedWriter() throws Exception {
    LockOrder.disable();
    RwLock<Integer> rw = new RwLock<>(0);
    var r1 = rw.read();
    Thread writer = new Thread(() -> rw.write().close(), "test-rw-writer");
    try {
      writer.start();
      Waits.awaitBlocked(writer);
      try (var nested = rw.read()) {
        assertThat(rw.readLockCount()).isEqualTo(2);
      }
      var probe = rw.tryRead();
      assertThat(probe).isNotNull();
      probe.close();
      // An upgrade is refused with IllegalStateException (documented), whatever the timeout.
      assertThatThrownBy(() -> rw.tryWrite(Duration.ZERO))
          .isInstanceOf(IllegalStateException.class);
    } finally {
      r1.close();
      writer.join(20_000);
    }
    assertThat(writer.isAlive()).isFalse();
    assertThat(rw.isWriteLocked()).isFalse();
    assertThat(rw.readLockCount()).isZero();
  }

  /** Interrupt before acquiring, lock free: InterruptedException, nothing held (all forms). */
  @Test
  void interruptBeforeAcquiringAFreeLockThrowsAndHoldsNothing() {
    RwLock<Integer> rw = new RwLock<>(0);
    Mutex<Integer> m = new Mutex<>(0);
    Thread.currentThread().interrupt();
    assertThatThrownBy(rw::readInterruptibly).isInstanceOf(InterruptedException.class);
    Thread.currentThread().interrupt();
    assertThatThrownBy(rw::writeInterruptibly).isInstanceOf(InterruptedException.class);
    Thread.currentThread().interrupt();
    assertThatThrownBy(() -> rw.tryRead(Duration.ofSeconds(1)))
        .isInstanceOf(InterruptedException.class);
    Thread.currentThread().interrupt();
    assertThatThrownBy(() -> rw.tryWrite(Duration.ofSeconds(1)))
        .isInstanceOf(InterruptedException.class);
    Thread.currentThread().interrupt();
    assertThatThrownBy(m::lockInterruptibly).isInstanceOf(InterruptedException.class);
    Thread.currentThread().interrupt();
    assertThatThrownBy(() -> m.tryLock(Duration.ofSeconds(1)))
        .isInstanceOf(InterruptedException.class);
    assertThat(Thread.interrupted()).isFalse();
    assertThat(rw.readLockCount()).isZero();
    assertThat(rw.isWriteLocked()).isFalse();
    assertThat(m.isLocked()).isFalse();
    assertThat(LockOrder.heldCountForTests()).isZero();
  }

  /** Timed forms time out with the lock not held and the held list unchanged. */
  @Test
  void timedFormsTimeOutCleanly() throws Exception {
    RwLock<Integer> rw = new RwLock<>(0);
    Mutex<Integer> m = new Mutex<>(0);
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    Thread holder =
        new Thread(
            () -> {
              try (var w = rw.write(); var g = m.lock()) {
                held.countDown();
                done.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "test-holder");
    holder.start();
    try {
      assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(rw.tryRead(Duration.ofMillis(20))).isNull();
      assertThat(rw.tryWrite(Duration.ofMillis(20))).isNull();
      assertThat(m.tryLock(Duration.ofMillis(20))).isNull();
      assertThat(rw.tryRead(Duration.ZERO)).isNull();
      assertThat(m.tryLock()).isNull();
      assertThat(LockOrder.heldCountForTests()).isZero();
    } finally {
      done.countDown();
      holder.join(20_000);
    }
    assertThat(holder.isAlive()).isFalse();
  }

  // ---- THROW mode leaves nothing half-taken ---------------------------------------------

  /** A refused acquisition of each kind leaves the lock free and the held list as it was. */
  @Test
  void refusedAcquisitionsLeaveNothingHalfTaken() throws Exception {
    RwLock<Integer> rw = new RwLock<>(0);
    Mutex<Integer> m = new Mutex<>(0);
    SeqLock s = new SeqLock();
    try (var w = rw.write(); var g = m.lock(); var sw = s.write()) { // rw -> m -> s
      g.get();
    }
    try (var sw = s.write()) {
      assertThatThrownBy(rw::read).isInstanceOf(LockOrderException.class);
      assertThatThrownBy(rw::write).isInstanceOf(LockOrderException.class);
      assertThatThrownBy(rw::readInterruptibly).isInstanceOf(LockOrderException.class);
      assertThatThrownBy(() -> rw.tryWrite(Duration.ofSeconds(1)))
          .isInstanceOf(LockOrderException.class);
      assertThatThrownBy(() -> rw.withRead(v -> v)).isInstanceOf(LockOrderException.class);
      assertThatThrownBy(() -> rw.update(v -> v + 1)).isInstanceOf(LockOrderException.class);
      assertThatThrownBy(m::lock).isInstanceOf(LockOrderException.class);
      assertThatThrownBy(() -> m.lockWhen(v -> true)).isInstanceOf(LockOrderException.class);
      assertThatThrownBy(() -> m.lockWhen(v -> true, Duration.ofSeconds(1)))
          .isInstanceOf(LockOrderException.class);
      assertThat(rw.readLockCount()).isZero();
      assertThat(rw.isWriteLocked()).isFalse();
      assertThat(m.isLocked()).isFalse();
      assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
      // Probes are never refused, and are held afterwards.
      var probe = rw.tryRead();
      assertThat(probe).isNotNull();
      assertThat(LockOrder.heldCountForTests()).isEqualTo(2);
      probe.close();
    }
    assertThat(LockOrder.heldCountForTests()).isZero();
    assertThat(rw.update(v -> v + 1)).isEqualTo(1); // still usable
  }

  /** Refused nesting on an RwLock throws IllegalStateException, not LockOrderException. */
  @Test
  void rwLockNestingRulesWinOverTheOrderCheck() {
    RwLock<Integer> rw = new RwLock<>(0);
    try (var r = rw.read()) {
      assertThatThrownBy(rw::write).isInstanceOf(IllegalStateException.class)
          .isNotInstanceOf(LockOrderException.class);
      try (var r2 = rw.read()) { // re-entrant read: no edge, no report
        assertThat(LockOrder.heldCountForTests()).isEqualTo(2);
      }
    }
    try (var w = rw.write()) {
      assertThatThrownBy(rw::read).isInstanceOf(IllegalStateException.class)
          .isNotInstanceOf(LockOrderException.class);
    }
    assertThat(LockOrder.edgesForTests()).isZero();
    assertThat(LockOrder.heldCountForTests()).isZero();
  }

  // ---- false positives --------------------------------------------------------------------

  /** A tryLock probe in the opposite order, then blocking in the first order: no report. */
  @Test
  void probesInAnyOrderAndOutOfOrderReleasesAreNotReported() {
    SpinLock a = new SpinLock();
    TicketLock b = new TicketLock();
    RwLock<Integer> c = new RwLock<>(0);
    b.lock();
    assertThat(a.tryLock()).isTrue();
    var pc = c.tryWrite();
    assertThat(pc).isNotNull();
    b.unlock(); // released out of order
    pc.close();
    a.unlock();
    assertThat(LockOrder.edgesForTests()).isZero();
    a.lock();
    try (var r = c.read()) {
      b.lock();
      b.unlock();
    } finally {
      a.unlock();
    }
    assertThat(LockOrder.edgesForTests()).isEqualTo(3);
    assertThat(LockOrder.heldCountForTests()).isZero();
  }

  /** A thread that dies holding a lock leaves nothing in other threads' held lists. */
  @Test
  void aThreadThatDiesHoldingALockDoesNotPoisonOthers() throws Exception {
    SpinLock a = new SpinLock();
    Mutex<Integer> b = new Mutex<>(0);
    Thread t =
        new Thread(
            () -> {
              a.lock(); // never released: the thread ends holding it
              try (var g = b.lock()) { // a -> b
                g.get();
              }
            },
            "test-dies-holding");
    t.start();
    t.join(20_000);
    assertThat(t.isAlive()).isFalse();
    assertThat(LockOrder.heldCountForTests()).isZero();
    try (var g = b.lock(); var ga = a.acquire()) { // b -> a here; a -> b was on a dead thread
      g.get();
    } catch (LockOrderException e) {
      // a real inversion (the graph outlives threads): reported, and nothing stays held
    }
    assertThat(LockOrder.heldCountForTests()).isZero();
    assertThat(b.isLocked()).isFalse();
  }

  // ---- the graph under concurrency --------------------------------------------------------

  /**
   * Two threads add opposite edges at the same moment: exactly one of them must be refused
   * (the check and the insert are atomic under GRAPH), and the graph ends with one edge.
   * Schedule: each thread probes its first lock (tryLock: held, no edge), both meet at a
   * barrier, then each blocks for the other's lock. The refused one releases its lock, letting
   * the other through. 100 rounds, fresh locks each time.
   */
  @Test
  void oppositeEdgesAddedAtOnceExactlyOneIsReported() throws Exception {
    for (int round = 0; round < 100; round++) {
      SpinLock a = new SpinLock();
      SpinLock b = new SpinLock();
      CyclicBarrier barrier = new CyclicBarrier(2);
      AtomicInteger reports = new AtomicInteger();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Thread t1 = new Thread(() -> take(a, b, barrier, reports, failure), "test-order-ab");
      Thread t2 = new Thread(() -> take(b, a, barrier, reports, failure), "test-order-ba");
      t1.start();
      t2.start();
      t1.join(20_000);
      t2.join(20_000);
      assertThat(t1.isAlive() || t2.isAlive()).as("round " + round).isFalse();
      assertThat(failure.get()).as("round " + round).isNull();
      assertThat(reports.get()).as("round " + round).isEqualTo(1);
      assertThat(LockOrder.edgesForTests()).as("round " + round).isEqualTo(1);
      LockOrder.resetForTests();
    }
  }

  private static void take(
      SpinLock first,
      SpinLock second,
      CyclicBarrier barrier,
      AtomicInteger reports,
      AtomicReference<Throwable> failure) {
    try {
      if (!first.tryLock()) {
        throw new AssertionError("fresh lock busy");
      }
      try {
        barrier.await(10, TimeUnit.SECONDS);
        try {
          second.lock();
          second.unlock();
        } catch (LockOrderException e) {
          reports.incrementAndGet();
        }
      } finally {
        first.unlock();
      }
    } catch (Throwable e) {
      failure.compareAndSet(null, e);
    }
  }

  /** LOG mode: an inversion seen on two threads, many times, is reported exactly once. */
  @Test
  void logModeReportsAnInversionOnceAcrossThreads() throws Exception {
    LockOrder.enable(LockOrder.Mode.LOG);
    AtomicInteger logged = new AtomicInteger();
    LockOrder.sinkForTests(e -> logged.incrementAndGet());
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    Thread t =
        new Thread(
            () -> {
              for (int i = 0; i < 50; i++) {
                try (var ga = a.lock(); var gb = b.lock()) {
                  gb.get();
                }
              }
            },
            "test-log-ab");
    t.start();
    t.join(20_000);
    for (int i = 0; i < 50; i++) {
      try (var gb = b.lock(); var ga = a.lock()) {
        ga.get();
      }
    }
    assertThat(t.isAlive()).isFalse();
    assertThat(logged.get()).isEqualTo(1);
    assertThat(LockOrder.heldCountForTests()).isZero();
  }

  /** Locks of one class nested: the blocking nesting is reported, a probe is not. */
  @Test
  void sameClassNestingProbeVsBlocking() {
    Mutex<Integer> x = LockOrder.classify(new Mutex<>(1), "account");
    Mutex<Integer> y = LockOrder.classify(new Mutex<>(2), "account");
    try (var gx = x.lock()) {
      var py = y.tryLock();
      assertThat(py).isNotNull();
      py.close();
      assertThatThrownBy(y::lock).isInstanceOf(LockOrderException.class);
      assertThat(y.isLocked()).isFalse();
    }
    assertThat(LockOrder.heldCountForTests()).isZero();
  }

  /** disable() while holding, release while off, enable: the stale hold is gone. */
  @Test
  void releasesWhileOffLeaveNoStaleHold() {
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    var ga = a.lock();
    LockOrder.disable();
    ga.close(); // release not seen by checking
    LockOrder.enable(LockOrder.Mode.THROW);
    try (var gb = b.lock()) { // must not record a -> b
      gb.get();
    }
    assertThat(LockOrder.edgesForTests()).isZero();
    try (var gb = b.lock(); var ga2 = a.lock()) {
      ga2.get();
    }
    assertThat(LockOrder.heldCountForTests()).isZero();
  }
}
