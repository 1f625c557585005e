package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of issue 21 (lock-order checking and the acquire paths it touched): each
 * reproducer here failed (2 of 2 runs) on the code under review, session 9; each names the
 * documented guarantee it broke and the schedule. Fixed since: a condition's re-acquisition
 * refused in THROW mode still takes the lock and cleans its queue before it reports (D1, D1b);
 * enabling again while on keeps every thread's held list (D2); {@code Condvar.notify} from a
 * non-holder and a {@code SeqLock} reader waiting for a writer are checked (D3, D4). The
 * attacks that held are in {@link ObservabilityAdversarialTestHeld}.
 */
// try: guards held for their scope only; WaitNotInLoop: one timed await is the point of each
// condition test (a spurious wake-up only makes it return false early); LockNotBeforeTry: the
// reproducers release by hand to observe the state a refused acquisition leaves.
@SuppressWarnings({"try", "WaitNotInLoop", "LockNotBeforeTry"})
class ObservabilityAdversarialTest {

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

  // ---- D1: THROW mode inside a SpinLock/TicketLock Condition's re-acquisition ----------

  /*
   * Guarantee (SpinLock.newCondition, TicketLock.newCondition): "await releases the lock,
   * waits ..., and re-acquires the lock before returning, also when it throws". LockOrder's
   * class doc: "A Condition of a SpinLock or TicketLock re-acquires through lock(), so that
   * re-acquisition is checked like any other."
   *
   * Schedule (one thread): b.lock(); a.lock() records b -> a. Then c = b's condition,
   * c.await(1 ms): await releases b, times out and re-acquires b through lock() while a is held,
   * i.e. a -> b, which closes the cycle b -> a -> b. THROW mode throws LockOrderException out of
   * SpinLockCondition.parkForSignal's lock.lock(): await returns WITHOUT b (the caller's
   * finally { b.unlock() } then throws IllegalMonitorStateException, hiding the report), and the
   * waiter node stays in the condition's queue (queue.remove(w) is skipped), see D1b.
   *
   * Fails every run (deterministic, single thread). Suggested fix: in parkForSignal, re-acquire
   * unconditionally (catch the LockOrderException from lock.lock(), take the lock with an
   * unchecked acquire, finish the queue bookkeeping, then rethrow it, holding the lock), or run
   * LockOrder.beforeWait before releasing the lock in await (a wait that will re-acquire b while
   * holding a is then refused before anything changed), and record the hold after re-acquiring.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void spinLockConditionAwaitReturnsWithoutTheLockWhenItsReacquisitionIsRefused()
      throws Exception {
    SpinLock b = new SpinLock();
    SpinLock a = new SpinLock();
    Condition c = b.newCondition();
    b.lock();
    a.lock(); // b -> a
    Throwable thrown = null;
    try {
      c.await(1, TimeUnit.MILLISECONDS); // times out, re-acquires b while holding a
    } catch (LockOrderException e) {
      thrown = e;
    }
    boolean heldAfterAwait = b.isHeldByCurrentThread();
    a.unlock();
    if (heldAfterAwait) {
      b.unlock();
    }
    assertThat(thrown).as("the a -> b re-acquisition is a real inversion").isNotNull();
    assertThat(heldAfterAwait)
        .as("Condition.await returns holding the lock, also when it throws")
        .isTrue();
  }

  /** D1 for TicketLock (it shares SpinLockCondition). Fails every run. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void ticketLockConditionAwaitReturnsWithoutTheLockWhenItsReacquisitionIsRefused()
      throws Exception {
    TicketLock b = new TicketLock();
    TicketLock a = new TicketLock();
    Condition c = b.newCondition();
    b.lock();
    a.lock(); // b -> a
    try {
      c.await(1, TimeUnit.MILLISECONDS);
    } catch (LockOrderException expected) {
      // reported; the question is the state it leaves
    }
    boolean heldAfterAwait = b.isHeldByCurrentThread();
    a.unlock();
    if (heldAfterAwait) {
      b.unlock();
    }
    assertThat(heldAfterAwait)
        .as("Condition.await returns holding the lock, also when it throws")
        .isTrue();
  }

  /*
   * D1b, the consequence: the refused await leaves its waiter node in the condition's FIFO
   * queue, so the next signal() is spent on that dead node and a real waiter is never woken
   * (a lost wake-up; SpinLock's Condition promises "Signals are delivered in the order the
   * threads started waiting").
   *
   * Schedule: as D1 on the main thread (the refused await leaves node w0 queued); then
   * test-cond-waiter locks b and awaits (node w1, behind w0); main waits until it is parked on
   * the condition, locks b, signal()s once, unlocks. signal pops w0 (nobody parks on it), w1
   * stays parked until its 3 s timeout and await returns false. Fails every run.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void aRefusedAwaitLeavesADeadWaiterThatSwallowsTheNextSignal() throws Exception {
    SpinLock b = new SpinLock();
    SpinLock a = new SpinLock();
    Condition c = b.newCondition();
    b.lock();
    a.lock(); // b -> a
    try {
      c.await(1, TimeUnit.MILLISECONDS);
    } catch (LockOrderException expected) {
      // D1
    }
    a.unlock();
    if (b.isHeldByCurrentThread()) {
      b.unlock();
    }
    AtomicReference<Boolean> signalled = new AtomicReference<>();
    Thread waiter =
        new Thread(
            () -> {
              b.lock();
              try {
                signalled.set(c.await(3, TimeUnit.SECONDS));
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } finally {
                b.unlock();
              }
            },
            "test-cond-waiter");
    waiter.start();
    try {
      Waits.awaitParkedOn(waiter, c);
      b.lock();
      try {
        c.signal();
      } finally {
        b.unlock();
      }
      waiter.join(20_000);
    } finally {
      waiter.interrupt();
      waiter.join(20_000);
    }
    assertThat(waiter.isAlive()).isFalse();
    assertThat(signalled.get()).as("the one waiter got the signal").isTrue();
  }

  // ---- D2: enable() while checking is already on forgets every held lock --------------

  /*
   * Guarantee (LockOrder.enable): "the graph of orders already seen is kept, so enabling again
   * only changes the mode". But setMode bumps EPOCH on every call, and held() then clears every
   * thread's held list: a lock taken before a second enable() (same mode, or THROW <-> LOG) is
   * forgotten while still held, and the orders from it are never recorded.
   *
   * Schedule (one thread): enable(THROW) (setup); a.lock(); enable(THROW) again (e.g. a second
   * test fixture, or a library that enables in its own init); b.lock() (should record a -> b);
   * release; then b.lock(); a.lock(): the inversion b -> a -> b is not reported, the
   * acquisition goes through. Fails every run.
   *
   * Suggested fix: bump the epoch only on a transition from OFF (or to OFF), not when enable is
   * called while checking is on; or keep held lists across mode changes between LOG and THROW.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void enablingAgainWhileOnForgetsTheLocksEveryThreadHolds() {
    Mutex<Integer> a = new Mutex<>(1);
    Mutex<Integer> b = new Mutex<>(2);
    try (var ga = a.lock()) {
      LockOrder.enable(LockOrder.Mode.THROW); // "only changes the mode" (here: not even that)
      assertThat(LockOrder.heldCountForTests()).as("a is still held").isEqualTo(1);
      try (var gb = b.lock()) { // a -> b
        gb.get();
      }
    }
    AtomicBoolean reported = new AtomicBoolean();
    try (var gb = b.lock()) {
      try (var ga = a.lock()) { // b -> a: the inversion
        ga.get();
      } catch (LockOrderException e) {
        reported.set(true);
      }
    }
    assertThat(reported).as("b -> a after a -> b is reported").isTrue();
  }

  // ---- D3: Condvar.notify acquires the Mutex without the lock-order check -------------

  /*
   * Guarantee (LockOrder class doc): the graph gets an edge "for every order seen", and
   * "Before a blocking acquisition of B, weft adds the edges from every lock the thread holds
   * to B"; Mutex is covered. Condvar's doc: "without [the mutex], a notify briefly acquires the
   * mutex (only when a thread is waiting)" -- a blocking acquisition (m.sync.acquire(1)) that
   * bypasses LockOrder entirely. A thread holding A that calls notifyOne() waits for the mutex
   * M while holding A: with another thread in M -> A (the order the first block records) the
   * two deadlock, and nothing is reported.
   *
   * Schedule: main records m -> a (m.lock(); a.lock()). test-cv-waiter locks m and waits on
   * cv (parked, the mutex released). Main: a.lock(); cv.notifyOne() -> acquires m while
   * holding a: a -> m closes m -> a -> m; expected LockOrderException (THROW), got none.
   * Fails every run.
   *
   * Suggested fix: in Condvar.notify's non-holder path, call LockOrder.beforeWait(m, false)
   * when LockOrder.enabled() before m.sync.acquire(1) (no acquired()/released() needed, the
   * hold does not outlive the call), or document the exception.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void condvarNotifyWhileHoldingAnotherLockIsNotChecked() throws Exception {
    Mutex<Boolean> m = new Mutex<>(false);
    SpinLock a = new SpinLock();
    Condvar cv = new Condvar();
    try (var gm = m.lock(); var ga = a.acquire()) { // m -> a
      gm.get();
    }
    Thread waiter =
        new Thread(
            () -> {
              try (var g = m.lock()) {
                cv.awaitWhile(g, ready -> !ready);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "test-cv-waiter");
    waiter.start();
    Throwable reported = null;
    try {
      while (!(cv.hasWaiters() && Waits.isParked(waiter))) {
        assertThat(waiter.isAlive()).isTrue();
        LockSupport.parkNanos(50_000L); // bounded by the test's timeout; a state poll
      }
      a.lock();
      try {
        cv.notifyOne(); // takes m while holding a
      } catch (LockOrderException e) {
        reported = e;
      } finally {
        a.unlock();
      }
    } finally {
      LockOrder.disable(); // let the clean-up below run whatever happened
      m.update(v -> true);
      cv.notifyAllWaiters();
      waiter.join(20_000);
    }
    assertThat(waiter.isAlive()).isFalse();
    assertThat(reported).as("a -> m (notify under a) after m -> a is an inversion").isNotNull();
  }

  // ---- D4: a SeqLock reader that waits for a writer is not checked ---------------------

  /*
   * Guarantee (LockOrder class doc): inversions are found "the first time both orders are
   * seen ... long before two threads collide" and are "reported, before the thread waits";
   * "Before a blocking acquisition of B, weft adds the edges...". SeqLock.beginRead() (and
   * read(...)'s fallback pass) waits for an active writer by TAKING the write lock
   * (acquireForRead), a blocking acquisition of the SeqLock that LockOrder never sees (only
   * write sections are hooked). Linux lockdep, which the doc cites, annotates seqcount readers
   * for exactly this reason.
   *
   * Schedule: test-seq-writer takes s.write() (records nothing yet). test-seq-reader locks a,
   * then beginRead() blocks behind the writer (parked). The writer, inside its section, tries
   * a with a 1 s timed tryLock (checked like lock()): s -> a while the reader, holding a, waits
   * for s. That is a real deadlock (it only ends because the writer's wait is timed), and
   * neither side reports it: the reader's wait added no a -> s edge. Fails every run.
   *
   * Suggested fix: in SeqLockCore.acquireForRead (the read pass and beginRead's wait), call
   * LockOrder.beforeWait(this, true) when enabled (a read edge: no acquired()/released() since
   * the pass is not a held section, or push/pop it around the pass), or document that SeqLock
   * reads are not checked.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void aSeqLockReaderWaitingForAWriterWhileHoldingALockIsNotChecked() throws Exception {
    SeqLock s = new SeqLock();
    SpinLock a = new SpinLock();
    CountDownLatch writing = new CountDownLatch(1);
    CountDownLatch readerWaits = new CountDownLatch(1);
    AtomicReference<Throwable> writerSaw = new AtomicReference<>();
    AtomicReference<Throwable> readerSaw = new AtomicReference<>();
    AtomicBoolean writerGotA = new AtomicBoolean();
    Thread writer =
        new Thread(
            () -> {
              try (var g = s.write()) {
                writing.countDown();
                readerWaits.await();
                if (a.tryLock(Duration.ofSeconds(1))) { // s -> a, checked
                  writerGotA.set(true);
                  a.unlock();
                }
              } catch (LockOrderException e) {
                writerSaw.set(e);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "test-seq-writer");
    Thread reader =
        new Thread(
            () -> {
              try {
                a.lock();
                try {
                  s.beginRead(); // waits for the writer while holding a: a -> s
                } finally {
                  a.unlock();
                }
              } catch (LockOrderException e) {
                readerSaw.set(e);
              }
            },
            "test-seq-reader");
    writer.start();
    try {
      assertThat(writing.await(10, TimeUnit.SECONDS)).isTrue();
      reader.start();
      Waits.awaitBlocked(reader); // inside beginRead, behind the writer
      readerWaits.countDown();
      writer.join(20_000);
      reader.join(20_000);
    } finally {
      readerWaits.countDown();
      writer.join(20_000);
      reader.join(20_000);
    }
    assertThat(writer.isAlive()).isFalse();
    assertThat(reader.isAlive()).isFalse();
    assertThat(writerGotA).as("a real deadlock, broken only by the timeout").isFalse();
    assertThat(writerSaw.get() != null || readerSaw.get() != null)
        .as("the s -> a / a -> s inversion is reported on one side")
        .isTrue();
  }
}
