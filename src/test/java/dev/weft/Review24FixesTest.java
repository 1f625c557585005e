package dev.weft;

import static dev.weft.testing.Waits.awaitParkedOn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.testing.Dive;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Review 24 (fixes): attacks on the day's four changes: SpinLockCondition's CAS protocol,
 * Condvar's notify probes, Scope's nested-spawn refusal and slot handling, and the timed join's
 * park on virtual threads. ReentrantLock's Condition is the reference for the Condition cases.
 */
@Timeout(60)
@SuppressWarnings("WaitNotInLoop") // each await is the attack: its one return is what is checked
class Review24FixesTest {
  private final List<Thread> threads = new ArrayList<>();

  @AfterEach
  void tearDown() throws InterruptedException {
    ProtocolWindows.clear();
    for (Thread t : threads) {
      t.interrupt();
    }
    for (Thread t : threads) {
      t.join(5_000);
      assertThat(t.isAlive()).as("thread %s outlived its test", t.getName()).isFalse();
    }
    threads.clear();
    Thread.interrupted();
  }

  private Thread start(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    threads.add(t);
    if (name.equals("A")) {
      aThread = t; // published before it starts: the hooks compare with it
    }
    t.start();
    return t;
  }

  private volatile @Nullable Thread aThread;

  private static Lock newLock(String kind) {
    return switch (kind) {
      case "spin" -> new SpinLock();
      case "ticket" -> new TicketLock();
      default -> new ReentrantLock();
    };
  }

  private static boolean tryLockBounded(Lock lock) {
    try {
      return lock.tryLock(100, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static boolean heldByMe(Lock lock) {
    if (lock instanceof SpinLock sl) {
      return sl.isHeldByCurrentThread();
    }
    if (lock instanceof TicketLock tl) {
      return tl.isHeldByCurrentThread();
    }
    return ((ReentrantLock) lock).isHeldByCurrentThread();
  }

  /** Waiters still queued on the condition (lock held by the caller). */
  private static int queued(Lock lock, Condition c) {
    if (c instanceof SpinLockCondition slc) {
      return slc.queuedCount();
    }
    return ((ReentrantLock) lock).getWaitQueueLength(c);
  }

  private static void await(CountDownLatch l) {
    try {
      if (!l.await(10, TimeUnit.SECONDS)) {
        throw new AssertionError("latch not reached in 10 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Waits for the latch without reacting to (or clearing) an interrupt. */
  private static void awaitUninterruptibly(CountDownLatch l) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (l.getCount() > 0) {
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("latch not reached in 10 s");
      }
      LockSupport.parkNanos(50_000L);
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A waiter's outcome: Boolean (await's result) or the Throwable it threw, + interrupt status. */
  private static final class Outcome {
    final AtomicReference<Object> result = new AtomicReference<>();
    final AtomicBoolean interruptedAfter = new AtomicBoolean();
    final CountDownLatch done = new CountDownLatch(1);

    Object get() {
      await(done);
      return result.get();
    }
  }

  private interface Wait {
    Object await(Condition c) throws Exception;
  }

  private volatile boolean virtualWaiters;

  private Thread waiter(String name, Lock lock, Condition c, Wait how, Outcome out) {
    Runnable body =
        () -> {
          lock.lock();
          try {
            out.result.set(how.await(c));
          } catch (Throwable e) {
            out.result.set(e);
          } finally {
            out.interruptedAfter.set(Thread.currentThread().isInterrupted());
            lock.unlock();
            out.done.countDown();
          }
        };
    if (virtualWaiters && name.startsWith("T")) {
      Thread v = startVirtual(body);
      if (v != null) {
        threads.add(v);
        return v;
      }
    }
    return start(name, body);
  }

  /** Waits until {@code n} waiters are queued on {@code c}. */
  private static void awaitQueued(Lock lock, Condition c, int n) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      lock.lock();
      try {
        if (queued(lock, c) == n) {
          return;
        }
      } finally {
        lock.unlock();
      }
      if (System.nanoTime() - deadline > 0) {
        throw new AssertionError("never " + n + " queued");
      }
      LockSupport.parkNanos(100_000L);
    }
  }

  // ---------------------------------------------------------------------------------------
  // 1. SpinLockCondition: protocol windows
  // ---------------------------------------------------------------------------------------

  /**
   * A (await 1 ms) is queued first, B (untimed) behind it. The signaller unparks A and, in the
   * window before its claim, lets A time out and cancel; its claim fails, and the signal must
   * go to B. ReentrantLock: A's time runs out while the lock is held, the signal goes to B.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "jdk"})
  void held_timedWaiterCancelsInsideSignalWindow_signalGoesToNext(String kind) throws Exception {
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    boolean weft = !kind.equals("jdk");
    CountDownLatch aAtReleased = new CountDownLatch(1);
    CountDownLatch aGo = new CountDownLatch(1);
    CountDownLatch aBeforeReacquire = new CountDownLatch(1);
    Thread[] a = new Thread[1];
    Thread me = Thread.currentThread();
    AtomicBoolean firstUnpark = new AtomicBoolean(true);
    if (weft) {
      ProtocolWindows.install(
          w -> {
            Thread t = Thread.currentThread();
            if (t == aThread && w.equals("condition.released") && aAtReleased.getCount() > 0) {
              aAtReleased.countDown();
              await(aGo);
              sleep(5); // past its 1 ms deadline
            } else if (t == aThread && w.equals("condition.before-reacquire")) {
              aBeforeReacquire.countDown();
            } else if (t == me
                && w.equals("condition.unparked")
                && firstUnpark.compareAndSet(true, false)) {
              aGo.countDown();
              await(aBeforeReacquire); // A cancels in our window
            }
          });
    }
    Outcome ra = new Outcome();
    Outcome rb = new Outcome();
    long aMillis = weft ? 1 : 200; // the JDK's A must be queued until B is
    a[0] = waiter("A", lock, c, x -> x.await(aMillis, TimeUnit.MILLISECONDS), ra);
    if (weft) {
      await(aAtReleased);
    } else {
      awaitQueued(lock, c, 1);
    }
    Thread b = waiter("B", lock, c, x -> x.await(10, TimeUnit.SECONDS), rb);
    awaitParkedOn(b, c);
    awaitQueued(lock, c, 2);
    lock.lock();
    try {
      if (!weft) {
        sleep(300); // A's time runs out; it cannot take the lock back
      }
      c.signal();
    } finally {
      lock.unlock();
    }
    assertThat(ra.get()).isEqualTo(false);
    assertThat(rb.get()).isEqualTo(true);
    lock.lock();
    try {
      assertThat(queued(lock, c)).isZero();
    } finally {
      lock.unlock();
    }
  }

  /**
   * As above, with an interrupt: A (untimed, interruptible) is interrupted inside the
   * signaller's window; the interrupt came first, so A throws and B takes the signal (the JDK's
   * rule; docs/spinlock.md).
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "jdk"})
  void held_interruptInsideSignalWindow_throwsAndSignalGoesToNext(String kind) throws Exception {
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    boolean weft = !kind.equals("jdk");
    CountDownLatch aAtReleased = new CountDownLatch(1);
    CountDownLatch aGo = new CountDownLatch(1);
    CountDownLatch aBeforeReacquire = new CountDownLatch(1);
    Thread[] a = new Thread[1];
    Thread me = Thread.currentThread();
    AtomicBoolean firstUnpark = new AtomicBoolean(true);
    if (weft) {
      ProtocolWindows.install(
          w -> {
            Thread t = Thread.currentThread();
            if (t == aThread && w.equals("condition.released") && aAtReleased.getCount() > 0) {
              aAtReleased.countDown();
              awaitUninterruptibly(aGo);
            } else if (t == aThread && w.equals("condition.before-reacquire")) {
              aBeforeReacquire.countDown();
            } else if (t == me
                && w.equals("condition.unparked")
                && firstUnpark.compareAndSet(true, false)) {
              aGo.countDown();
              aThread.interrupt();
              await(aBeforeReacquire);
            }
          });
    }
    Outcome ra = new Outcome();
    Outcome rb = new Outcome();
    a[0] = waiter("A", lock, c, x -> { x.await(); return true; }, ra);
    if (weft) {
      await(aAtReleased);
    } else {
      awaitQueued(lock, c, 1);
    }
    waiter("B", lock, c, x -> x.await(10, TimeUnit.SECONDS), rb);
    awaitQueued(lock, c, 2);
    lock.lock();
    try {
      if (!weft) {
        a[0].interrupt();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (queued(lock, c) != 1 && System.nanoTime() - deadline < 0) {
          LockSupport.parkNanos(100_000L); // the AQS cancels A's node without the lock
        }
      }
      c.signal();
    } finally {
      lock.unlock();
    }
    assertThat(ra.get()).isInstanceOf(InterruptedException.class);
    assertThat(ra.interruptedAfter.get()).isFalse();
    assertThat(rb.get()).isEqualTo(true);
  }

  /**
   * The signal's claim comes first, then an interrupt before A re-locks: A returns normally
   * (awaitNanos positive) with its interrupt status set, as ReentrantLock's.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "jdk"})
  void held_signalThenInterruptBeforeRelock_returnsSignalledWithStatus(String kind)
      throws Exception {
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    boolean weft = !kind.equals("jdk");
    Thread[] a = new Thread[1];
    if (weft) {
      ProtocolWindows.install(
          w -> {
            if (Thread.currentThread() == aThread && w.equals("condition.before-reacquire")) {
              aThread.interrupt();
            }
          });
    }
    Outcome ra = new Outcome();
    a[0] = waiter("A", lock, c, x -> x.awaitNanos(TimeUnit.SECONDS.toNanos(10)), ra);
    awaitQueued(lock, c, 1);
    lock.lock();
    try {
      c.signal();
      if (!weft) {
        a[0].interrupt();
      }
    } finally {
      lock.unlock();
    }
    assertThat(ra.get()).isInstanceOf(Long.class);
    assertThat((Long) ra.get()).isPositive();
    assertThat(ra.interruptedAfter.get()).isTrue();
  }

  /**
   * signalAll over W1 (1 ms), W2, W3 (1 ms), W4: W1 and W3 cancel inside the first claim's
   * window; signalAll must wake W2 and W4 exactly once each and leave nothing queued.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "jdk"})
  void held_signalAllSkipsWaitersCancelledInItsWindow(String kind) throws Exception {
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    boolean weft = !kind.equals("jdk");
    CountDownLatch atReleased1 = new CountDownLatch(1);
    CountDownLatch atReleased3 = new CountDownLatch(1);
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch cancelled = new CountDownLatch(2);
    Thread[] w = new Thread[4];
    Thread me = Thread.currentThread();
    AtomicBoolean firstUnpark = new AtomicBoolean(true);
    if (weft) {
      ProtocolWindows.install(
          win -> {
            Thread t = Thread.currentThread();
            boolean timed = t.getName().equals("W1") || t.getName().equals("W3");
            if (timed && win.equals("condition.released")) {
              (t.getName().equals("W1") ? atReleased1 : atReleased3).countDown();
              await(go);
              sleep(5);
            } else if (timed && win.equals("condition.before-reacquire")) {
              cancelled.countDown();
            } else if (t == me
                && win.equals("condition.unparked")
                && firstUnpark.compareAndSet(true, false)) {
              go.countDown();
              await(cancelled);
            }
          });
    }
    Outcome[] out = {new Outcome(), new Outcome(), new Outcome(), new Outcome()};
    for (int i = 0; i < 4; i++) {
      boolean timed = i % 2 == 0;
      w[i] =
          waiter(
              "W" + (i + 1),
              lock,
              c,
              timed
                  ? x -> x.await(weft ? 1 : 300, TimeUnit.MILLISECONDS)
                  : x -> x.await(10, TimeUnit.SECONDS),
              out[i]);
      if (weft && i == 0) {
        await(atReleased1);
      } else if (weft && i == 2) {
        await(atReleased3);
      } else {
        awaitQueued(lock, c, i + 1);
      }
    }
    lock.lock();
    try {
      if (!weft) {
        sleep(400);
      }
      c.signalAll();
      assertThat(queued(lock, c)).isZero();
    } finally {
      lock.unlock();
    }
    assertThat(out[0].get()).isEqualTo(false);
    assertThat(out[1].get()).isEqualTo(true);
    assertThat(out[2].get()).isEqualTo(false);
    assertThat(out[3].get()).isEqualTo(true);
  }

  /**
   * B, A (1 ms), C queued; A cancels and pauses before it re-locks, its node still queued
   * between B and C. A signal goes to B; D queues behind; A re-locks and unlinks itself from
   * the head; two more signals go to C and D; nothing is left queued, no waiter woken twice.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket"})
  void held_cancelledNodeLeavesTheListIntact(String kind) throws Exception {
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    CountDownLatch aCancelled = new CountDownLatch(1);
    CountDownLatch aGo = new CountDownLatch(1);
    ProtocolWindows.install(
        w -> {
          if (Thread.currentThread() == aThread && w.equals("condition.before-reacquire")) {
            aCancelled.countDown();
            awaitUninterruptibly(aGo);
          }
        });
    Outcome rb = new Outcome();
    Outcome ra = new Outcome();
    Outcome rc = new Outcome();
    Outcome rd = new Outcome();
    waiter("B", lock, c, x -> x.await(10, TimeUnit.SECONDS), rb);
    awaitQueued(lock, c, 1);
    waiter("A", lock, c, x -> x.await(50, TimeUnit.MILLISECONDS), ra);
    waiter("C", lock, c, x -> x.await(10, TimeUnit.SECONDS), rc);
    await(aCancelled); // A cancelled (its time ran out), not re-locked
    awaitQueued(lock, c, 3);
    lock.lock();
    try {
      c.signal(); // B
    } finally {
      lock.unlock();
    }
    assertThat(rb.get()).isEqualTo(true);
    waiter("D", lock, c, x -> x.await(10, TimeUnit.SECONDS), rd);
    awaitQueued(lock, c, 3); // A (cancelled), C, D
    aGo.countDown();
    assertThat(ra.get()).isEqualTo(false);
    awaitQueued(lock, c, 2);
    lock.lock();
    try {
      c.signal();
      c.signal();
      assertThat(queued(lock, c)).isZero();
    } finally {
      lock.unlock();
    }
    assertThat(rc.get()).isEqualTo(true);
    assertThat(rd.get()).isEqualTo(true);
  }

  // ---------------------------------------------------------------------------------------
  // 1b. SpinLockCondition: timing races, many rounds
  // ---------------------------------------------------------------------------------------

  /**
   * Rounds of: T1 and T2 with 0-60 us timeouts queued (or not) ahead of a live untimed waiter
   * U, one signal once U is parked in the condition. Exactly one of them must take it: T1 or
   * T2 returning true, or else U waking (U is live and queued, so the signal cannot be lost).
   * Nothing stays queued. ReentrantLock beside.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "jdk"})
  void held_signalWithLiveWaiterQueuedIsTakenExactlyOnce(String kind) throws Exception {
    signalTakenExactlyOnce(kind, false);
  }

  /** As above with T1 and T2 on virtual threads (JDK 21+): the timeout's unmount path. */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "jdk"})
  void held_virtualTimedWaitersSignalTakenExactlyOnce(String kind) throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Runtime.version().feature() >= 21, "virtual threads");
    signalTakenExactlyOnce(kind, true);
  }

  private void signalTakenExactlyOnce(String kind, boolean virtual) throws Exception {
    virtualWaiters = virtual;
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    int rounds = 0;
    int timedTook = 0;
    while (rounds < 300 && System.nanoTime() - end < 0) {
      rounds++;
      Outcome u = new Outcome();
      Outcome t1 = new Outcome();
      Outcome t2 = new Outcome();
      long n1 = ThreadLocalRandom.current().nextLong(60_000);
      long n2 = ThreadLocalRandom.current().nextLong(60_000);
      Thread a = waiter("T1", lock, c, x -> x.await(n1, TimeUnit.NANOSECONDS), t1);
      Thread b = waiter("T2", lock, c, x -> x.await(n2, TimeUnit.NANOSECONDS), t2);
      Thread tu = waiter("U", lock, c, x -> x.await(10, TimeUnit.SECONDS), u);
      awaitParkedOn(tu, c);
      lock.lock();
      try {
        LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(30_000));
        c.signal();
      } finally {
        lock.unlock();
      }
      int took = (Boolean.TRUE.equals(t1.get()) ? 1 : 0) + (Boolean.TRUE.equals(t2.get()) ? 1 : 0);
      assertThat(took).as("round %d: timed waiters that took the one signal", rounds)
          .isLessThanOrEqualTo(1);
      if (took == 1) {
        timedTook++;
        assertThat(u.done.await(20, TimeUnit.MILLISECONDS)).as("round %d: U woken too", rounds)
            .isFalse();
        lock.lock();
        try {
          c.signal();
        } finally {
          lock.unlock();
        }
      }
      assertThat(u.done.await(5, TimeUnit.SECONDS)).as("round %d: U never woken", rounds)
          .isTrue();
      assertThat(u.get()).as("round %d", rounds).isEqualTo(true);
      tu.join(5_000);
      a.join(5_000);
      b.join(5_000);
      lock.lock();
      try {
        assertThat(queued(lock, c)).isZero();
      } finally {
        lock.unlock();
      }
      threads.remove(tu);
      threads.remove(a);
      threads.remove(b);
    }
    System.out.printf("%s: %d rounds, a timed waiter took the signal in %d%n", kind, rounds,
        timedTook);
  }

  /**
   * Untimed waiters only, some interrupted at random against random signals: every signal sent
   * while a waiter is queued wakes exactly one waiter (returns normally); a waiter that throws
   * InterruptedException did not take one; in the end, waiters == returns + throws and the
   * signals taken == returns. ReentrantLock beside.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "jdk"})
  void held_interruptsRacingSignalsNeverLoseOrDuplicate(String kind) throws Exception {
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    int n = 4;
    AtomicInteger returns = new AtomicInteger();
    AtomicInteger throwsIe = new AtomicInteger();
    AtomicInteger statusAfterReturn = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> ws = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ws.add(
          start(
              "W" + i,
              () -> {
                while (!stop.get()) {
                  lock.lock();
                  try {
                    c.await();
                    returns.incrementAndGet();
                    if (Thread.interrupted()) {
                      statusAfterReturn.incrementAndGet();
                    }
                  } catch (InterruptedException e) {
                    throwsIe.incrementAndGet();
                  } finally {
                    lock.unlock();
                  }
                }
              }));
    }
    int signals = 0;
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    while (System.nanoTime() - end < 0) {
      lock.lock();
      try {
        if (queued(lock, c) > 0) {
          c.signal();
          signals++;
        }
      } finally {
        lock.unlock();
      }
      if (rnd.nextInt(3) == 0) {
        ws.get(rnd.nextInt(n)).interrupt();
      }
      LockSupport.parkNanos(rnd.nextLong(20_000));
    }
    stop.set(true);
    // drain: wake everyone left, by signals only
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (ws.stream().anyMatch(Thread::isAlive) && System.nanoTime() - deadline < 0) {
      lock.lock();
      try {
        if (queued(lock, c) > 0) {
          c.signal();
          signals++;
        }
      } finally {
        lock.unlock();
      }
      LockSupport.parkNanos(200_000L);
    }
    assertThat(ws).noneMatch(Thread::isAlive);
    // every signal was sent with a waiter queued: taken by a return, or skipped only if every
    // queued waiter had been interrupted first (then the JDK wakes nobody too); never twice
    assertThat(returns.get()).isLessThanOrEqualTo(signals);
    lock.lock();
    try {
      assertThat(queued(lock, c)).isZero();
    } finally {
      lock.unlock();
    }
  }

  // ---------------------------------------------------------------------------------------
  // 1c. SpinLockCondition near the stack's end
  // ---------------------------------------------------------------------------------------

  /** Runs {@code dive} rounds on a thread with a small stack; bounded by {@code seconds}. */
  private void sweep(String name, Runnable attempt, int window, double seconds)
      throws InterruptedException {
    long end = System.nanoTime() + (long) (seconds * 1e9);
    int rounds = 0;
    while (System.nanoTime() - end < 0 && rounds < 20) {
      rounds++;
      Dive d = new Dive(attempt, window);
      Thread t =
          new Thread(
              null,
              () -> {
                d.dive(0);
                attempt.run(); // at the top: whatever is still pending
              },
              name,
              256 * 1024);
      t.setDaemon(true);
      threads.add(t);
      t.start();
      t.join(20_000);
      assertThat(t.isAlive()).as("sweep thread stuck").isFalse();
      threads.remove(t);
    }
  }

  /**
   * signal() at every depth near the stack's end, against a waiter W that re-waits at once:
   * afterwards W must be queued and live, every signal that returned must have woken W once,
   * and one that threw must not have (or at most as a spurious wake-up, which W never sees).
   */
  @Test
  void held_signalNearTheStackEnd() throws Exception {
    signalSweep("spin", false);
  }

  /**
   * The same sweep on TicketLock: W, re-locking after a signal, was sometimes left parked in
   * TicketLock's queue with the lock passed to it (2 of 4 runs on JDK 25 on the code before
   * session 24's fixes, and 1 of 4 after them, always together with the virtual case below in
   * the same JVM, never alone: 0 of 8). The sweep thread's unlock grants W (a CAS) and then
   * unparks it. Fixed (session 25): see fixed_ticketLockUnlockNearTheStackEndToAParkedVirtual
   * Waiter, which reaches that unlock directly; with the deeper signal probe of session 25 the
   * signal now fails first at the depths where the old unlock did, so this sweep no longer
   * shows the old defect (0 of 10 on the old TicketLock) and guards the combination.
   */
  @Test
  void fixed_ticketLockUnlockNearTheStackEndStrandsAGrantedWaiter() throws Exception {
    signalSweep("ticket", false);
  }

  /**
   * As above with W on a virtual thread (JDK 21+): the signal's unpark then submits W to the
   * scheduler, far deeper than a platform thread's unpark, and ForkJoinPool.createWorker
   * swallows an overflow there: W stayed queued in the scheduler with no carrier woken, a
   * silent lost wake-up. Before the fix: 6 of 6 runs (JDK 25, both locks). Fixed (session 24):
   * the signal probes QUEUE_FRAMES before waking a virtual thread (StackHeadroom.wakeFrames).
   */
  @Test
  void fixed_signalNearTheStackEndToAVirtualWaiterStrandsIt() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Runtime.version().feature() >= 21, "virtual threads");
    signalSweep("spin", true);
  }

  /**
   * The same with TicketLock. The signal was fixed in session 24; the unlock's grant that
   * follows it, and the unlock's head/owner window, in session 25 (0 of 12 runs after, the
   * three TicketLock sweeps together, JDK 25).
   */
  @Test
  void fixed_ticketLockSignalNearTheStackEndToAVirtualWaiter() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Runtime.version().feature() >= 21, "virtual threads");
    signalSweep("ticket", true);
  }

  /**
   * TicketLock's unlock at every depth near the stack's end, granting a waiter W that is parked
   * in the queue (no Condition: the sweeps above reach this unlock only where their signal
   * fitted). Before the fix the grant's CAS came first and the unpark after it was probed with
   * only 16 frames: a virtual W's unpark runs the scheduler, whose pool swallows an overflow,
   * and W stayed granted but queued in the scheduler with no carrier (W RUNNABLE, never run) or
   * parked (JDK 25: 5 of 5 runs before; 0 of 12 after, with 64 frames).
   * Fixed (session 25): before granting a parked successor the release probes what waking it
   * needs (StackHeadroom.wakeFrames) and, where that does not fit, undoes its steps and throws,
   * leaving the lock held for a retry higher up the stack.
   */
  @Test
  @Timeout(60)
  void fixed_ticketLockUnlockNearTheStackEndToAParkedVirtualWaiter() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Runtime.version().feature() >= 21, "virtual threads");
    unlockSweep(true);
  }

  /**
   * The same with a platform W, whose unpark is shallow: it held alone on the code before the
   * fix; in 1 of 5 runs it failed right after the virtual case had stranded its W in the same
   * JVM: the lock was left held by the sweep thread, with an owner and no head (the second
   * defect fixed in session 25, which the sweeps reach together; see TicketLock's notes).
   */
  @Test
  @Timeout(60)
  void held_ticketLockUnlockNearTheStackEndToAParkedPlatformWaiter() throws Exception {
    unlockSweep(false);
  }

  /**
   * The same sweep on SpinLock, whose unlock wakes a parked waiter after the release (signalOne:
   * it sets the waking flag, pops the waiter and unparks it). A virtual W's unpark runs the
   * scheduler, as in TicketLock's case, and its 16-frame probe did not cover it: W was left
   * RUNNABLE and never run, the lock free (5 of 5 runs, JDK 25). W also keeps the waking flag
   * set until it runs, so every later unlock would have skipped its wake-up. Fixed (session
   * 25): the unlock's probe, taken while the lock is still held, is StackHeadroom.wakeFrames of
   * the waiter on top (0 of 5 after, and see the runs in docs/spinlock.md).
   */
  @Test
  @Timeout(60)
  void fixed_spinLockUnlockNearTheStackEndToAParkedVirtualWaiter() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Runtime.version().feature() >= 21, "virtual threads");
    unlockSweep(new SpinLock(), true);
  }

  private void unlockSweep(boolean virtualWaiter) throws Exception {
    unlockSweep(new TicketLock(), virtualWaiter);
  }

  private void unlockSweep(Lock lock, boolean virtualWaiter) throws Exception {
    // Rounds W is let into lock(): W polls it (no unpark from the sweep thread, so the lock's
    // hand-over is the only wake-up near the stack's end).
    AtomicInteger goal = new AtomicInteger();
    AtomicInteger acquired = new AtomicInteger(); // rounds W got the lock
    AtomicBoolean stop = new AtomicBoolean();
    AtomicBoolean inLock = new AtomicBoolean(); // W is inside lock()
    Runnable wBody =
        () -> {
          while (!stop.get()) {
            if (goal.get() == acquired.get()) {
              LockSupport.parkNanos(20_000L);
              continue;
            }
            inLock.set(true);
            lock.lock();
            try {
              inLock.set(false);
              acquired.incrementAndGet();
            } finally {
              lock.unlock();
            }
          }
        };
    Thread w = virtualWaiter ? startVirtual(wBody) : start("W", wBody);
    assertThat(w).isNotNull();
    threads.add(w);
    // Written only by the sweep thread, with plain array stores: a call between taking the
    // lock and recording it could overflow and leave the lock held with nobody to release it.
    boolean[] mustUnlock = new boolean[1]; // an unlock that overflowed: retried a frame higher
    int[] handedOver = new int[1];
    int[] unlocksThrew = new int[1];
    boolean[] stranded = new boolean[1];
    Throwable[] otherError = new Throwable[1]; // an unlock that failed with anything else
    Runnable attempt =
        () -> {
          if (mustUnlock[0]) {
            lock.unlock(); // an overflow here: retried a frame higher
            mustUnlock[0] = false;
            return;
          }
          if (stranded[0] || acquired.get() != goal.get() || !lock.tryLock()) {
            return; // W has not finished its last round, or the lock is not free
          }
          mustUnlock[0] = true;
          goal.incrementAndGet();
          // Wait (bounded) for W to be queued and parked behind us.
          for (int i = 0; i < 200_000; i++) {
            Thread.State st = w.getState();
            if (inLock.get()
                && (st == Thread.State.WAITING || st == Thread.State.TIMED_WAITING)) {
              break;
            }
            Thread.onSpinWait();
          }
          try {
            lock.unlock(); // the unlock under test, at this depth
          } catch (StackOverflowError e) {
            unlocksThrew[0]++;
            throw e; // mustUnlock stays set: the lock is still ours
          } catch (Throwable e) {
            if (otherError[0] == null) {
              otherError[0] = e;
            }
            throw e;
          }
          mustUnlock[0] = false;
          handedOver[0]++;
          // W must take the lock now; wait for it (bounded) before the next depth.
          for (int i = 0; i < 2_000 && acquired.get() != goal.get(); i++) {
            LockSupport.parkNanos(100_000L);
          }
          if (acquired.get() != goal.get()) {
            stranded[0] = true;
          }
        };
    try {
      sweep("deep-unlock", attempt, 2_000, 3);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (acquired.get() != goal.get() && System.nanoTime() - deadline < 0) {
        LockSupport.parkNanos(1_000_000L);
      }
      assertThat(acquired.get())
          .as(
              "W's acquisitions 5 s after the sweep (W %s, hand-overs %d, unlocks that threw %d,"
                  + " lock %s) at %s",
              w.getState(), handedOver[0], unlocksThrew[0], lock,
              java.util.Arrays.toString(w.getStackTrace()))
          .isEqualTo(goal.get());
      assertThat(otherError[0]).as("an unlock's error other than StackOverflowError").isNull();
      assertThat(handedOver[0]).as("unlocks near the stack's end that handed over").isPositive();
      assertThat(tryLockBounded(lock)).as("the lock is free after the sweep").isTrue();
      lock.unlock();
    } finally {
      stop.set(true);
    }
  }

  /**
   * The anchor, ReentrantLock's Condition, in the same sweep: shown, not asserted (on JDK 25
   * it strands the virtual waiter as well, or worse: the lock cannot be taken afterwards).
   * Disabled: its stuck waiter (the AQS node half signalled) cannot be ended, so it outlives the
   * test. Run by hand: JDK 25, 1 of 1 run, signal threw, W parked for good, never re-queued.
   */
  @Test
  @org.junit.jupiter.api.Disabled("leaves an unrecoverable thread behind: run by hand")
  void anchor_jdkSignalNearTheStackEndToAVirtualWaiter() throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Runtime.version().feature() >= 21, "virtual threads");
    try {
      signalSweep("jdk", true);
      System.out.println("anchor (ReentrantLock): the virtual waiter was not stranded");
    } catch (AssertionError e) {
      System.out.println("anchor (ReentrantLock): " + e.getMessage().lines().findFirst().orElse(""));
    }
  }

  private void signalSweep(String kind, boolean virtualWaiter) throws Exception {
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    AtomicInteger wakes = new AtomicInteger();
    AtomicInteger sent = new AtomicInteger();
    AtomicInteger threw = new AtomicInteger();
    AtomicInteger leftHeld = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    Runnable wBody =
        () -> {
          lock.lock();
          try {
            while (!stop.get()) {
              c.awaitUninterruptibly();
              wakes.incrementAndGet();
            }
          } finally {
            lock.unlock();
          }
        };
    Thread w = virtualWaiter ? startVirtual(wBody) : start("W", wBody);
    assertThat(w).isNotNull();
    threads.add(w);
    awaitQueued(lock, c, 1);
    // Plain array stores (the sweep thread is its only user): a call between tryLock and
    // recording it (AtomicBoolean.set, before session 25) could overflow and leave the lock
    // held with nobody to release it.
    boolean[] mustUnlock = new boolean[1]; // an unlock that overflowed: retry higher
    Runnable attempt =
        () -> {
          if (mustUnlock[0]) {
            lock.unlock(); // an overflow here: retried a frame higher
            mustUnlock[0] = false;
            leftHeld.incrementAndGet();
            return;
          }
          for (int tries = 0; tries < 200; tries++) {
            if (!lock.tryLock()) {
              LockSupport.parkNanos(10_000L);
              continue;
            }
            mustUnlock[0] = true;
            boolean attempted = false;
            try {
              if (queued(lock, c) == 1) {
                attempted = true;
                c.signal();
                sent.incrementAndGet();
              }
            } catch (Throwable e) {
              if (attempted) {
                threw.incrementAndGet();
              }
            }
            lock.unlock(); // an overflow here: mustUnlock stays set
            mustUnlock[0] = false;
            if (attempted) {
              // wait (bounded) for W to be queued again before the next depth
              for (int i = 0; i < 2_000; i++) {
                LockSupport.parkNanos(10_000L);
                if (lock.tryLock()) {
                  mustUnlock[0] = true;
                  int q = queued(lock, c);
                  lock.unlock();
                  mustUnlock[0] = false;
                  if (q == 1) {
                    return;
                  }
                }
              }
              return;
            }
          }
        };
    try {
      sweep("deep-signal", attempt, 200, 3);
      // W must be queued again (not woken-and-lost, not unlinked-and-asleep), counts must match
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      int q;
      do {
        LockSupport.parkNanos(1_000_000L);
        q = -1; // the lock could not be taken
        if (tryLockBounded(lock)) {
          try {
            q = queued(lock, c);
          } finally {
            lock.unlock();
          }
        }
      } while (q != 1 && System.nanoTime() - deadline < 0);
      assertThat(q)
          .as(
              "W queued again 5 s after the sweep (W %s, wakes %d, sent %d, threw %d) at %s",
              w.getState(), wakes.get(), sent.get(), threw.get(),
              java.util.Arrays.toString(w.getStackTrace()))
          .isEqualTo(1);
      assertThat(wakes.get())
          .as("wakes vs signals that returned (threw: %d)", threw.get())
          .isEqualTo(sent.get());
    } finally {
      stop.set(true);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (w.isAlive() && System.nanoTime() - deadline < 0) {
        if (virtualWaiter) {
          startVirtual(() -> {}); // a submission wakes a carrier, which finds W's continuation
        }
        if (tryLockBounded(lock)) {
          try {
            c.signal();
          } finally {
            lock.unlock();
          }
        }
        w.join(10);
      }
    }
    assertThat(w.isAlive()).isFalse();
    System.out.printf(
        "%s signal sweep: %d sent, %d threw, %d unlocks retried a frame higher%n",
        kind, sent.get(), threw.get(), leftHeld.get());
  }

  /**
   * Timed awaits (1 us) at every depth near the stack's end while another thread signals at
   * random: afterwards nothing of the deep thread may stay queued, the lock must be free, and a
   * live waiter must still get the next signal.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket"})
  void held_timedAwaitNearTheStackEnd(String kind) throws Exception {
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    AtomicInteger notHeldAfter = new AtomicInteger();
    AtomicInteger awaits = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    Thread signaller =
        start(
            "S",
            () -> {
              while (!stop.get()) {
                lock.lock();
                try {
                  c.signal();
                } finally {
                  lock.unlock();
                }
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(20_000));
              }
            });
    AtomicBoolean pending = new AtomicBoolean(); // the await's after-check still to run
    Runnable attempt =
        () -> {
          if (!pending.get()) {
            if (!lock.tryLock()) {
              return;
            }
            pending.set(true);
            awaits.incrementAndGet();
            try {
              c.awaitNanos(1_000L);
            } catch (Throwable e) {
              // an overflow: await promises the lock held even so
            }
          }
          // here, or a frame higher if this overflows
          if (heldByMe(lock)) {
            lock.unlock();
          } else {
            notHeldAfter.incrementAndGet();
          }
          pending.set(false);
        };
    try {
      sweep("deep-await", attempt, 200, 3);
    } finally {
      stop.set(true);
      signaller.join(5_000);
    }
    lock.lock();
    try {
      assertThat(queued(lock, c)).as("nodes left queued").isZero();
    } finally {
      lock.unlock();
    }
    Outcome live = new Outcome();
    waiter("live", lock, c, x -> x.await(10, TimeUnit.SECONDS), live);
    awaitQueued(lock, c, 1);
    lock.lock();
    try {
      c.signal();
    } finally {
      lock.unlock();
    }
    assertThat(live.get()).isEqualTo(true);
    System.out.printf("%s await sweep: %d awaits, %d not held after%n", kind, awaits.get(),
        notHeldAfter.get());
    assertThat(notHeldAfter.get()).isZero();
  }

  /**
   * Condvar.notifyOne without the mutex at every depth near the stack's end (the new 64-frame
   * probe), against a waiter that waits for an atomic counter to move; then one notify from a
   * normal stack. The waiter must see the last value: with a platform waiter, and with a
   * virtual one (JDK 21+), whose wake-up is a scheduler submission.
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void held_condvarNotifyWithoutTheMutexNearTheStackEnd(boolean virtualWaiter) throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        !virtualWaiter || Runtime.version().feature() >= 21, "virtual threads");
    Mutex<int[]> m = new Mutex<>(new int[1]);
    Condvar cv = new Condvar();
    AtomicInteger counter = new AtomicInteger();
    AtomicInteger seenByWaiter = new AtomicInteger(-1);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger threw = new AtomicInteger();
    Runnable wBody =
        () -> {
          try (Mutex.Guard<int[]> g = m.lock()) {
            while (!stop.get()) {
              int seen = counter.get();
              seenByWaiter.set(seen);
              cv.awaitWhileUninterruptibly(g, v -> counter.get() == seen && !stop.get());
            }
          }
        };
    Thread w = virtualWaiter ? startVirtual(wBody) : start("W", wBody);
    assertThat(w).isNotNull();
    threads.add(w);
    Runnable attempt =
        () -> {
          counter.incrementAndGet();
          try {
            cv.notifyOne();
          } catch (Throwable e) {
            threw.incrementAndGet();
          }
          // let W take it (bounded) before the next depth
          int target = counter.get();
          for (int i = 0; i < 200 && seenByWaiter.get() != target; i++) {
            LockSupport.parkNanos(10_000L);
          }
        };
    try {
      sweep("deep-notify", attempt, 200, 3);
      int last = counter.incrementAndGet();
      cv.notifyOne(); // a normal stack: must reach W
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (seenByWaiter.get() != last && System.nanoTime() - deadline < 0) {
        LockSupport.parkNanos(1_000_000L);
      }
      assertThat(seenByWaiter.get())
          .as("W saw the last value (W %s, threw %d) at %s", w.getState(), threw.get(),
              java.util.Arrays.toString(w.getStackTrace()))
          .isEqualTo(last);
    } finally {
      stop.set(true);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (w.isAlive() && System.nanoTime() - deadline < 0) {
        if (virtualWaiter) {
          startVirtual(() -> {});
        }
        cv.notifyAllWaiters();
        w.join(10);
      }
    }
  }

  // ---------------------------------------------------------------------------------------
  // 3. Scope
  // ---------------------------------------------------------------------------------------

  /** A factory of the inner scope spawns into the outer one (same owner): not refused. */
  @Test
  void held_factorySpawningIntoADifferentScopeIsNotRefused() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    try (Scope outer = Scope.builder().maxConcurrency(1).open()) {
      try (Scope inner =
          Scope.builder()
              .maxConcurrency(1)
              .threadFactory(
                  r -> {
                    try {
                      outer.spawn(ran::incrementAndGet);
                    } catch (InterruptedException e) {
                      throw new AssertionError(e);
                    }
                    return new Thread(r);
                  })
              .open()) {
        inner.spawn(ran::incrementAndGet).join();
      }
      // and the outer's factory-less spawn, from the inner's task thread, is foreign: refused
    }
    assertThat(ran.get()).isEqualTo(2);
  }

  /** A factory that opens its own scope and spawns in it, under the outer cap. */
  @Test
  void held_factoryOpeningItsOwnScopeIsNotRefused() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    try (Scope s =
        Scope.builder()
            .maxConcurrency(1)
            .threadFactory(
                r -> {
                  try {
                    Scope.run(own -> own.spawn(ran::incrementAndGet));
                  } catch (InterruptedException e) {
                    throw new AssertionError(e);
                  }
                  return new Thread(r);
                })
            .open()) {
      s.spawn(ran::incrementAndGet);
      s.spawn(ran::incrementAndGet);
    }
    assertThat(ran.get()).isEqualTo(4);
  }

  /**
   * The owner is inside its factory call while a task thread of the same scope spawns (its
   * own factory call runs on that thread): neither is nested, neither may be refused.
   */
  @Test
  void held_taskThreadSpawnsWhileOwnerIsInsideItsSpawn() throws Exception {
    Thread owner = Thread.currentThread();
    CountDownLatch childSpawned = new CountDownLatch(1);
    AtomicInteger calls = new AtomicInteger();
    AtomicReference<Throwable> childFailure = new AtomicReference<>();
    try (Scope s =
        Scope.builder()
            .threadFactory(
                r -> {
                  if (Thread.currentThread() == owner && calls.incrementAndGet() == 2) {
                    await(childSpawned); // the owner's second spawn waits for the child's
                  }
                  return new Thread(r);
                })
            .open()) {
      s.spawn(
          () -> {
            try {
              s.spawn(() -> {}).join();
            } catch (Throwable e) {
              childFailure.set(e);
            } finally {
              childSpawned.countDown();
            }
          });
      s.spawn(() -> {}).join();
    }
    assertThat(childFailure.get()).isNull();
  }

  /** A factory that spawns into its own scope: refused, and no slot leaks or doubles. */
  @Test
  void held_nestedSpawnRefusedWithoutLeakingTheSlot() throws Exception {
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    AtomicReference<Throwable> inner = new AtomicReference<>();
    Scope[] self = new Scope[1];
    AtomicBoolean first = new AtomicBoolean(true);
    try (Scope s =
        Scope.builder()
            .maxConcurrency(1)
            .threadFactory(
                r -> {
                  if (first.compareAndSet(true, false)) {
                    try {
                      self[0].spawn(() -> {});
                    } catch (Throwable e) {
                      inner.set(e);
                    }
                  }
                  return new Thread(r);
                })
            .open()) {
      self[0] = s;
      for (int i = 0; i < 4; i++) {
        s.spawn(
            () -> {
              int now = running.incrementAndGet();
              maxRunning.accumulateAndGet(now, Math::max);
              LockSupport.parkNanos(2_000_000L);
              running.decrementAndGet();
            });
      }
    }
    assertThat(inner.get())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("from inside its own spawn");
    assertThat(maxRunning.get()).isEqualTo(1);
  }

  /** A pending interrupt with a free slot: the task starts; the status stays set. */
  @Test
  void held_pendingInterruptWithFreeSlotStartsTheTask() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    try (Scope s = Scope.builder().maxConcurrency(2).open()) {
      Thread.currentThread().interrupt();
      ScopedThread<Integer> t = s.spawn(ran::incrementAndGet);
      assertThat(Thread.interrupted()).isTrue();
      t.join();
    }
    assertThat(ran.get()).isEqualTo(1);
  }

  /**
   * An interrupted slot wait: InterruptedException with a message, status cleared, nothing
   * spawned, the slot count intact afterwards (JDK Semaphore as the reference for the status).
   */
  @Test
  void held_interruptedSlotWaitSaysSoAndLeaksNothing() throws Exception {
    Thread owner = Thread.currentThread();
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    try (Scope s = Scope.builder().maxConcurrency(1).open()) {
      s.spawn(() -> await(release));
      Thread interrupter =
          start(
              "interrupter",
              () -> {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (!(owner.getState() == Thread.State.WAITING)
                    && System.nanoTime() - deadline < 0) {
                  LockSupport.parkNanos(100_000L);
                }
                owner.interrupt();
              });
      assertThatThrownBy(() -> s.spawn(() -> {}))
          .isInstanceOf(InterruptedException.class)
          .hasMessageContaining("slot");
      assertThat(Thread.currentThread().isInterrupted()).isFalse();
      interrupter.join(5_000);
      release.countDown();
      for (int i = 0; i < 3; i++) {
        s.spawn(
            () -> {
              maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
              LockSupport.parkNanos(1_000_000L);
              running.decrementAndGet();
            });
      }
    }
    assertThat(maxRunning.get()).isEqualTo(1);
  }

  /**
   * Deadline + cap, the race behind a CI failure of the test below (session 31, under load): the
   * deadline cancels the scope, the cancelled task gives its slot back, and the spawner, which
   * passed its entry checks before the deadline, takes that slot after it. It returned a handle
   * that never runs (the scope is cancelled), hiding the timeout that a spawn made after the
   * deadline reports. Forced here: the spawner is held at "scope.before-slot" until the first
   * task's thread has ended. Failed 3 of 3 on the code before the fix (with the window).
   */
  @Test
  @SuppressWarnings("try")
  void fixed_slotFreedByTheDeadlinesCancellationStillReportsTheTimeout() throws Exception {
    CountDownLatch firstEnded = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(1);
    Thread owner = Thread.currentThread();
    Throwable[] thrown = new Throwable[1];
    AtomicInteger arrivals = new AtomicInteger();
    @Nullable Thread[] first = new Thread[1];
    try (AutoCloseable hook = ProtocolWindows.install(w -> {
      if (w.equals("scope.before-slot") && Thread.currentThread() == owner
          && arrivals.incrementAndGet() == 2) { // the second spawn
        try {
          firstEnded.await(10, TimeUnit.SECONDS); // the deadline passed
          Thread t = first[0];
          if (t != null) {
            t.join(10_000); // its thread gives the slot back as it exits
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    })) {
      try (Scope s =
          Scope.builder().maxConcurrency(1).timeout(Duration.ofMillis(100)).open()) {
        s.spawn(
            () -> {
              first[0] = Thread.currentThread();
              try {
                never.await(10, TimeUnit.SECONDS); // interrupted by the deadline's cancellation
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } finally {
                firstEnded.countDown();
              }
            });
        try {
          s.spawn(() -> {});
        } catch (Throwable e) {
          thrown[0] = e;
          throw e;
        }
      } catch (ScopeTimeoutException expected) {
        // the spawn's, or the scope end's
      }
    }
    assertThat(thrown[0]).as("the spawn that took the slot after the deadline")
        .isInstanceOf(ScopeTimeoutException.class);
    assertThat(Thread.interrupted()).isFalse();
  }

  /** Deadline + cap: a spawn waiting for a slot past the deadline gets the timeout, unwrapped. */
  @Test
  void held_slotWaitPastTheDeadlineIsATimeoutNotAnInterrupt() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    Throwable[] thrown = new Throwable[1];
    try {
      try (Scope s =
          Scope.builder().maxConcurrency(1).timeout(Duration.ofMillis(100)).open()) {
        s.spawn(
            () -> {
              try {
                release.await(10, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            });
        try {
          s.spawn(() -> {});
        } catch (Throwable e) {
          thrown[0] = e;
          throw e;
        }
      }
    } catch (ScopeTimeoutException expected) {
      // the scope's end reports the deadline too
    } finally {
      release.countDown();
    }
    assertThat(thrown[0]).isInstanceOf(ScopeTimeoutException.class);
    assertThat(Thread.interrupted()).isFalse();
  }

  // ---------------------------------------------------------------------------------------
  // 4. ScopedThread.join(Duration)
  // ---------------------------------------------------------------------------------------

  /** Platform threads: a failed timed join throws TimeoutException at once, status untouched. */
  @Test
  void held_timedJoinOnPlatformThread() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (Scope s = Scope.open()) {
      ScopedThread<Void> t = s.spawn(() -> await(release));
      for (int i = 0; i < 1000; i++) {
        assertThatThrownBy(() -> t.join(Duration.ofNanos(1)))
            .isInstanceOf(TimeoutException.class);
      }
      Thread.currentThread().interrupt();
      assertThatThrownBy(() -> t.join(Duration.ofMillis(5)))
          .isInstanceOf(InterruptedException.class);
      assertThat(Thread.interrupted()).isFalse();
      release.countDown();
    }
  }

  /** Starts {@code r} on a virtual thread (JDK 21+), else null. */
  private static @Nullable Thread startVirtual(Runnable r) {
    try {
      return (Thread) Thread.class.getMethod("startVirtualThread", Runnable.class).invoke(null, r);
    } catch (ReflectiveOperationException e) {
      return null;
    }
  }

  /**
   * Timed joins of 0-50 us on a task that does not finish, each raced by one interrupt: the
   * interrupt must come out exactly once, as InterruptedException (status cleared) or as the
   * status after a TimeoutException; never lost, never both. On a virtual thread (JDK 21+) this
   * races the new park before the TimeoutException; on JDK 17, a platform thread.
   */
  @Test
  void held_timedJoinRacingAnInterruptReportsItExactlyOnce() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger lost = new AtomicInteger();
    AtomicInteger twice = new AtomicInteger();
    AtomicInteger asIe = new AtomicInteger();
    AtomicInteger asStatus = new AtomicInteger();
    AtomicReference<Throwable> odd = new AtomicReference<>();
    try (Scope s = Scope.open()) {
      ScopedThread<Void> task = s.spawn(() -> await(release));
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
      int rounds = 0;
      while (System.nanoTime() - end < 0 && rounds < 2_000) {
        rounds++;
        CountDownLatch interrupted = new CountDownLatch(1);
        CountDownLatch finished = new CountDownLatch(1);
        long nanos = ThreadLocalRandom.current().nextLong(50_000);
        Runnable joiner =
            () -> {
              boolean ie = false;
              try {
                task.join(Duration.ofNanos(nanos));
                odd.set(new AssertionError("join returned"));
              } catch (InterruptedException e) {
                ie = true;
              } catch (TimeoutException e) {
                // expected
              } catch (Throwable e) {
                odd.set(e);
              }
              awaitUninterruptibly(interrupted);
              boolean status = Thread.interrupted();
              if (ie && status) {
                twice.incrementAndGet();
              } else if (!ie && !status) {
                lost.incrementAndGet();
              } else if (ie) {
                asIe.incrementAndGet();
              } else {
                asStatus.incrementAndGet();
              }
              finished.countDown();
            };
        Thread v = startVirtual(joiner);
        if (v == null) {
          v = start("joiner", joiner);
        }
        LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(60_000));
        v.interrupt();
        interrupted.countDown();
        await(finished);
        v.join(5_000);
        threads.remove(v);
      }
      release.countDown();
      System.out.printf(
          "join race: %d rounds, IE %d, status %d, lost %d, twice %d%n",
          rounds, asIe.get(), asStatus.get(), lost.get(), twice.get());
    } finally {
      release.countDown();
    }
    assertThat(odd.get()).isNull();
    assertThat(lost.get()).as("interrupts lost").isZero();
    assertThat(twice.get()).as("interrupts reported twice").isZero();
  }

  // ---------------------------------------------------------------------------------------
  // 2. Condvar
  // ---------------------------------------------------------------------------------------

  /**
   * Notify without holding the mutex races waiters whose timeouts run out: a waiter whose
   * predicate turned false must return true (never sleep out its timeout after the notify).
   */
  @Test
  void held_notifyWithoutTheMutexRacingTimeouts() throws Exception {
    Mutex<int[]> m = new Mutex<>(new int[1]);
    Condvar cv = new Condvar();
    ConcurrentHashMap<String, Object> bad = new ConcurrentHashMap<>();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    int round = 0;
    while (System.nanoTime() - end < 0 && round < 300) {
      round++;
      int r = round;
      CountDownLatch done = new CountDownLatch(2);
      AtomicReference<Object> live = new AtomicReference<>();
      long shortNanos = ThreadLocalRandom.current().nextLong(50_000);
      Thread shortWaiter =
          start(
              "short",
              () -> {
                try (Mutex.Guard<int[]> g = m.lock()) {
                  cv.awaitWhile(g, v -> v[0] < r, Duration.ofNanos(shortNanos));
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                } finally {
                  done.countDown();
                }
              });
      Thread liveWaiter =
          start(
              "live",
              () -> {
                try (Mutex.Guard<int[]> g = m.lock()) {
                  live.set(cv.awaitWhile(g, v -> v[0] < r, Duration.ofSeconds(5)));
                } catch (InterruptedException e) {
                  live.set(e);
                } finally {
                  done.countDown();
                }
              });
      LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(40_000));
      try (Mutex.Guard<int[]> g = m.lock()) {
        g.get()[0] = r;
      }
      cv.notifyAllWaiters(); // without the mutex
      long t0 = System.nanoTime();
      await(done);
      if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(2)) {
        bad.put("round " + r, "slow wake");
      }
      assertThat(live.get()).as("round %d", r).isEqualTo(true);
      shortWaiter.join(5_000);
      liveWaiter.join(5_000);
      threads.remove(shortWaiter);
      threads.remove(liveWaiter);
    }
    assertThat(bad).isEmpty();
  }
}
