package dev.weft;

import static dev.weft.testing.Gc.stillReachable;
import static dev.weft.testing.Waits.awaitParkedOn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.testing.Waits;
import java.lang.ref.WeakReference;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 23 adversarial review of {@link TicketLock} and its {@link Condition}, from the code
 * and the docs only. The {@code fixed_*} test failed on the code as reviewed (6f76566: 4 of 4
 * runs on JDK 17, 5 of 5 on JDK 25) and passes since {@code becomeOwner} clears the granted
 * node's {@code prev}; {@code held_*} are attacks that did not break anything, kept as
 * regression tests.
 */
@SuppressWarnings({
  "try", // protocol-window hooks held only for their scope
  "LockNotBeforeTry", // the schedules take the lock before starting threads
  "WaitNotInLoop", // weft's Condition re-waits on a wake-up without a signal
  "JavaUtilDate", // Condition.awaitUntil takes a Date
  "ThreadPriorityCheck" // a bounded poll
})
@Timeout(60)
class Review23TicketLockTest {
  private final List<Thread> threads = new ArrayList<>();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();

  interface Body {
    void run() throws Exception;
  }

  private Thread start(String name, Body body) {
    Thread t =
        new Thread(
            () -> {
              try {
                body.run();
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              }
            },
            "test-" + name);
    t.setDaemon(true);
    threads.add(t);
    t.start();
    return t;
  }

  private Thread startVirtual(String name, Body body) throws ReflectiveOperationException {
    Runnable r =
        () -> {
          try {
            body.run();
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          }
        };
    Class<?> builderType = Class.forName("java.lang.Thread$Builder");
    Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
    builder = builderType.getMethod("name", String.class).invoke(builder, "test-" + name);
    Method m = builderType.getMethod("start", Runnable.class);
    Thread t = (Thread) m.invoke(builder, r);
    threads.add(t);
    return t;
  }

  private static void join(Thread t) throws InterruptedException {
    t.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(t.isAlive()).as("%s still running", t.getName()).isFalse();
  }

  @AfterEach
  void joinAll() throws Throwable {
    // First a bounded grace (2 s in all) for threads the test has just released (a keeper
    // woken by its latch): an interrupt racing that wake-up made the latch throw (CI, once).
    long graceEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    for (Thread t : threads) {
      long left = graceEnd - System.nanoTime();
      if (left > 0) {
        t.join(Math.max(1L, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
    for (Thread t : threads) {
      if (t.isAlive()) {
        t.interrupt();
      }
      t.join(TimeUnit.SECONDS.toMillis(10));
    }
    for (Thread t : threads) {
      assertThat(t.isAlive()).as("%s still running", t.getName()).isFalse();
    }
    threads.clear();
    Throwable f = failure.get();
    if (f != null) {
      throw f;
    }
  }

  /** The nodes reachable from the lock's tail through {@code Node.prev}, tail included. */
  private static List<TicketLock.Node> prevChain(TicketLock lock) throws ReflectiveOperationException {
    Field tail = TicketLock.class.getDeclaredField("tail");
    tail.setAccessible(true);
    List<TicketLock.Node> chain = new ArrayList<>();
    for (TicketLock.Node n = (TicketLock.Node) tail.get(lock); n != null; n = n.prev) {
      chain.add(n);
      if (chain.size() > 1_000_000) {
        break;
      }
    }
    return chain;
  }

  /**
   * Relay: {@code k} short-lived threads queue behind the holder in order, then a keeper; the
   * holder releases, each relay thread takes the lock, hands it on (its successor is queued
   * already, so the queue never empties) and terminates; the keeper ends up holding the lock.
   * Returns weak references to the relay threads, which have all terminated. While the keeper
   * holds, it waits for {@code release}.
   */
  private List<WeakReference<Thread>> relay(
      Lock lock, int k, CountDownLatch keeperHolds, CountDownLatch release) throws Exception {
    lock.lock();
    List<WeakReference<Thread>> refs = new ArrayList<>();
    List<Thread> relays = new ArrayList<>();
    try {
      for (int i = 0; i < k; i++) {
        Thread t =
            start(
                "relay" + i,
                () -> {
                  lock.lock();
                  lock.unlock();
                });
        Waits.awaitBlocked(t); // parked in lock(): nothing else blocks it
        relays.add(t);
        refs.add(new WeakReference<>(t));
      }
      Thread keeper =
          start(
              "keeper",
              () -> {
                lock.lock();
                try {
                  keeperHolds.countDown();
                  release.await();
                } finally {
                  lock.unlock();
                }
              });
      Waits.awaitBlocked(keeper);
    } finally {
      lock.unlock();
    }
    assertThat(keeperHolds.await(20, TimeUnit.SECONDS)).as("keeper got the lock").isTrue();
    for (Thread t : relays) {
      join(t);
    }
    threads.removeAll(relays); // drop every strong reference to the relay threads
    relays.clear();
    return refs;
  }

  // ================================================================== fixed

  /**
   * Attacks: memory retention under sustained contention. Every waiting node records its
   * predecessor in {@code Node.prev} and its thread in {@code Node.thread}, and neither is ever
   * cleared when the node is granted. So while the queue never empties, the tail reaches, through
   * {@code prev}, the node of every thread that acquired the lock since the lock was last free
   * (back to the last fast-path acquisition), and each of those nodes keeps its (possibly
   * terminated) {@code Thread} strongly reachable. A lock that stays contended (a hot lock in a
   * server) thus grows without bound: one node per acquisition.
   *
   * <p>Anchor: AQS's {@code setHead} nulls the new head's {@code thread} and {@code prev}, and
   * the old head's {@code next}, "for GC"; fair {@code ReentrantLock} in the same relay lets
   * every relay thread be collected ({@link #held_anchorFairReentrantLockForgetsPastWaiters}).
   *
   * <p>Magnitude without any orchestration (probe, JDK 17, 2 cores, holder walking the chain
   * every 2,000 acquisitions): 2 threads max 90 nodes, 4 threads 14,004, 8 threads 98,248 nodes
   * reachable from the tail, in 0.1-0.5 s of hot lock/unlock loops.
   *
   * <p>Fix (as suggested): clear {@code n.prev} when {@code n} is granted ({@code becomeOwner}):
   * {@code prev} is read only by a successor that saw the node ABANDONED, and a granted node
   * never becomes ABANDONED, so the write is invisible to the protocol.
   *
   * <p>Schedule (deterministic): the test holds the lock, 40 relay threads and then a keeper
   * queue in order (each parked before the next starts); the release passes the lock down the
   * relay (each one's successor is already queued) to the keeper, who holds it. All relay
   * threads have terminated. Expected: none of them reachable from the lock; observed: the
   * keeper's node reaches all 40 through {@code prev} (chain length 42) and none is collected.
   */
  @Test
  @Timeout(60)
  void fixed_nodesAndThreadsOfPastHoldersStayReachableWhileTheQueueNeverEmpties()
      throws Exception {
    TicketLock lock = new TicketLock();
    CountDownLatch keeperHolds = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try {
      List<WeakReference<Thread>> refs = relay(lock, 40, keeperHolds, release);
      int chain = prevChain(lock).size();
      int reachable = stillReachable(refs);
      assertThat(reachable)
          .as(
              "terminated relay threads still reachable from the contended lock (prev chain from"
                  + " the tail: %d nodes)",
              chain)
          .isZero();
      assertThat(chain).as("nodes reachable from the tail through prev").isLessThanOrEqualTo(2);
    } finally {
      release.countDown();
    }
  }

  // ================================================================== held

  /**
   * Anchor for the defect above: fair ReentrantLock in the same relay retains none of the
   * terminated relay threads (AQS clears a node's thread and prev when it becomes the head).
   */
  @Test
  void held_anchorFairReentrantLockForgetsPastWaiters() throws Exception {
    ReentrantLock lock = new ReentrantLock(true);
    CountDownLatch keeperHolds = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try {
      List<WeakReference<Thread>> refs = relay(lock, 40, keeperHolds, release);
      assertThat(stillReachable(refs)).isZero();
      assertThat(lock.isLocked()).isTrue();
    } finally {
      release.countDown();
    }
  }

  /**
   * Attacks FIFO and hand-over across a long run of abandoned nodes (timeouts and interrupts,
   * 60 in a row) between two parked live waiters, plus a run at the tail; a live waiter queued
   * behind the run unlinks it before parking. Anchor: fair ReentrantLock serves A, B, C in order
   * and skips cancelled nodes. Held: order A, B, C; queries exclude abandoned waits.
   */
  @Test
  void held_longRunsOfAbandonedNodesBetweenLiveWaitersKeepFifo() throws Exception {
    TicketLock lock = new TicketLock();
    List<String> order = new CopyOnWriteArrayList<>();
    lock.lock();
    try {
      Thread a = start("A", () -> live(lock, order, "A"));
      awaitParkedOn(a, lock);
      abandonRun(lock, 60);
      assertThat(lock.queueLength()).isEqualTo(1);
      Thread b = start("B", () -> live(lock, order, "B"));
      awaitParkedOn(b, lock);
      abandonRun(lock, 30);
      Thread c = start("C", () -> live(lock, order, "C"));
      awaitParkedOn(c, lock);
      abandonRun(lock, 30); // abandoned nodes at the tail
      assertThat(lock.queueLength()).isEqualTo(3);
      assertThat(lock.hasQueuedThreads()).isTrue();
    } finally {
      lock.unlock();
    }
    for (Thread t : new ArrayList<>(threads)) {
      join(t);
    }
    assertThat(order).containsExactly("A", "B", "C");
    assertThat(lock.isLocked()).isFalse();
    assertThat(lock.hasQueuedThreads()).isFalse();
    assertThat(lock.tryLock()).isTrue();
    lock.unlock();
  }

  private static void live(Lock lock, List<String> order, String name) {
    lock.lock();
    try {
      order.add(name);
    } finally {
      lock.unlock();
    }
  }

  /** {@code n} waiters that queue and abandon one after the other: timeouts and interrupts. */
  private void abandonRun(TicketLock lock, int n) throws Exception {
    for (int i = 0; i < n; i++) {
      AtomicBoolean bad = new AtomicBoolean();
      Thread t;
      if (i % 2 == 0) {
        t = start("timeout" + i, () -> bad.set(lock.tryLock(50, TimeUnit.MICROSECONDS)));
      } else {
        t =
            start(
                "interrupt" + i,
                () -> {
                  try {
                    lock.lockInterruptibly();
                    bad.set(true);
                  } catch (InterruptedException expected) {
                    bad.set(lock.isHeldByCurrentThread() || Thread.currentThread().isInterrupted());
                  }
                });
        awaitParkedOn(t, lock);
        t.interrupt();
      }
      join(t);
      threads.remove(t);
      assertThat(bad.get()).as("waiter %d got the lock or kept the interrupt", i).isFalse();
    }
  }

  /**
   * Attacks misuse while the lock is held and a waiter is parked: unlock, guard close and
   * condition calls by a non-owner; re-locks of every form by the owner (lock, lockInterruptibly,
   * tryLock(), tryLock(0), tryLock(1 s), tryLock(Duration), acquire). Docs: IMSE for a non-owner
   * unlock/condition call, ISE for a re-lock, and nothing changes. Held: right exceptions, no
   * wait, no node queued, the waiter is served next.
   */
  @Test
  void held_misuseByOwnerAndNonOwnerLeavesQueueIntact() throws Exception {
    TicketLock lock = new TicketLock();
    Condition cond = lock.newCondition();
    List<String> order = new CopyOnWriteArrayList<>();
    assertThatThrownBy(lock::unlock).isInstanceOf(IllegalMonitorStateException.class);
    TicketLock.Guard g = lock.acquire();
    Thread a = start("A", () -> live(lock, order, "A"));
    awaitParkedOn(a, lock);
    AtomicReference<List<Class<?>>> seen = new AtomicReference<>();
    Thread other =
        start(
            "other",
            () -> {
              List<Class<?>> ex = new ArrayList<>();
              for (Body b :
                  List.<Body>of(
                      lock::unlock,
                      g::close,
                      cond::await,
                      cond::signal,
                      cond::signalAll,
                      () -> cond.awaitNanos(-1),
                      () -> cond.await(0, TimeUnit.SECONDS))) {
                try {
                  b.run();
                  ex.add(Void.class);
                } catch (Exception e) {
                  ex.add(e.getClass());
                }
              }
              seen.set(ex);
            });
    join(other);
    assertThat(seen.get()).containsOnly(IllegalMonitorStateException.class).hasSize(7);
    long t0 = System.nanoTime();
    for (Body b :
        List.<Body>of(
            lock::lock,
            lock::lockInterruptibly,
            lock::tryLock,
            () -> lock.tryLock(0, TimeUnit.SECONDS),
            () -> lock.tryLock(1, TimeUnit.SECONDS),
            () -> lock.tryLock(Duration.ofDays(1)),
            lock::acquire)) {
      assertThatThrownBy(b::run).isInstanceOf(IllegalStateException.class);
    }
    assertThat(System.nanoTime() - t0).as("re-locks fail without waiting").isLessThan(
        TimeUnit.MILLISECONDS.toNanos(900));
    assertThat(lock.queueLength()).isEqualTo(1);
    assertThat(lock.isHeldByCurrentThread()).isTrue();
    g.close();
    assertThatThrownBy(g::close).isInstanceOf(IllegalStateException.class);
    join(a);
    assertThat(order).containsExactly("A");
    assertThat(lock.isLocked()).isFalse();
  }

  /**
   * Attacks the guard after a manual unlock: docs say IMSE "if that thread no longer holds the
   * lock"; the guard must stay usable for nothing else and the lock must stay free and working.
   */
  @Test
  void held_guardClosedAfterManualUnlockThrowsImseAndLeavesTheLockFree() throws Exception {
    TicketLock lock = new TicketLock();
    TicketLock.Guard g = lock.acquire();
    lock.unlock();
    assertThatThrownBy(g::close).isInstanceOf(IllegalMonitorStateException.class);
    assertThat(lock.isLocked()).isFalse();
    assertThat(lock.tryLock()).isTrue();
    lock.unlock();
  }

  /**
   * Attacks timeout extremes of tryLock and of the condition's waits: negative, zero,
   * Long.MIN_VALUE/MAX_VALUE in several units, Duration extremes, Date extremes. Anchor: fair
   * ReentrantLock (tryLock(<=0) tries once; huge timeouts wait until granted; awaitNanos returns
   * the estimate of time left, > 0 when signalled early; await(..) returns true when signalled).
   */
  @Test
  void held_timeoutExtremesOfTryLockAndCondition() throws Exception {
    TicketLock lock = new TicketLock();
    lock.lock();
    try {
      AtomicReference<List<Boolean>> quick = new AtomicReference<>();
      Thread q =
          start(
              "quick",
              () ->
                  quick.set(
                      List.of(
                          lock.tryLock(Long.MIN_VALUE, TimeUnit.NANOSECONDS),
                          lock.tryLock(-1, TimeUnit.DAYS),
                          lock.tryLock(0, TimeUnit.DAYS),
                          lock.tryLock(Duration.ofSeconds(Long.MIN_VALUE)),
                          lock.tryLock(Duration.ZERO),
                          lock.tryLock(Duration.ofNanos(-1)))));
      join(q);
      assertThat(quick.get()).containsOnly(false);
      assertThat(lock.isLocked()).isTrue();
      assertThat(lock.hasQueuedThreads()).isFalse();
    } finally {
      lock.unlock();
    }
    for (Body wait :
        List.<Body>of(
            () -> assertThat(lock.tryLock(Long.MAX_VALUE, TimeUnit.DAYS)).isTrue(),
            () -> assertThat(lock.tryLock(Long.MAX_VALUE, TimeUnit.NANOSECONDS)).isTrue(),
            () -> assertThat(lock.tryLock(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999))).isTrue())) {
      lock.lock();
      Thread w;
      try {
        w =
            start(
                "huge",
                () -> {
                  wait.run();
                  lock.unlock();
                });
        awaitParkedOn(w, lock);
      } finally {
        lock.unlock();
      }
      join(w);
    }
    // Condition extremes, each signalled by main.
    Condition c = lock.newCondition();
    AtomicLong left = new AtomicLong();
    AtomicReference<List<Boolean>> results = new AtomicReference<>();
    Thread w =
        start(
            "cond",
            () -> {
              lock.lock();
              try {
                assertThat(c.awaitNanos(Long.MIN_VALUE)).isLessThanOrEqualTo(0L);
                assertThat(c.await(Long.MIN_VALUE, TimeUnit.DAYS)).isFalse();
                assertThat(c.awaitUntil(new Date(Long.MIN_VALUE))).isFalse();
                assertThat(lock.isHeldByCurrentThread()).isTrue();
                left.set(c.awaitNanos(Long.MAX_VALUE));
                List<Boolean> r = new ArrayList<>();
                r.add(c.await(Long.MAX_VALUE, TimeUnit.DAYS));
                r.add(c.awaitUntil(new Date(Long.MAX_VALUE)));
                results.set(r);
              } finally {
                lock.unlock();
              }
            });
    SpinLockCondition sc = (SpinLockCondition) c;
    for (int i = 0; i < 3; i++) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      for (boolean signalled = false; !signalled; ) {
        assertThat(System.nanoTime() - deadline).as("waiter %d never queued", i).isNegative();
        lock.lock();
        try {
          if (sc.queuedCount() == 1) {
            c.signal();
            signalled = true;
          }
        } finally {
          lock.unlock();
        }
        if (!signalled) {
          Thread.yield();
        }
      }
    }
    join(w);
    assertThat(left.get()).isPositive();
    assertThat(results.get()).containsExactly(true, true);
  }

  /**
   * Attacks interrupt status across every acquisition form while queued behind a parked
   * waiter: lock() absorbs the interrupt and returns holding with the status set;
   * tryLock() (no arg) ignores and keeps it; lockInterruptibly throws with the status clear and
   * its node skipped. Anchor: fair ReentrantLock behaves the same.
   */
  @Test
  void held_interruptStatusAcrossFormsWhileQueued() throws Exception {
    TicketLock lock = new TicketLock();
    List<String> order = new CopyOnWriteArrayList<>();
    AtomicBoolean lockKept = new AtomicBoolean();
    AtomicBoolean tryKept = new AtomicBoolean();
    AtomicBoolean interruptibleClear = new AtomicBoolean();
    lock.lock();
    try {
      Thread a = start("A", () -> live(lock, order, "A"));
      awaitParkedOn(a, lock);
      Thread l =
          start(
              "lock",
              () -> {
                lock.lock();
                try {
                  lockKept.set(Thread.interrupted());
                  order.add("lock");
                } finally {
                  lock.unlock();
                }
              });
      awaitParkedOn(l, lock);
      l.interrupt();
      Thread i =
          start(
              "interruptible",
              () -> {
                try {
                  lock.lockInterruptibly();
                  lock.unlock();
                } catch (InterruptedException e) {
                  interruptibleClear.set(!Thread.currentThread().isInterrupted()
                      && !lock.isHeldByCurrentThread());
                }
              });
      awaitParkedOn(i, lock);
      i.interrupt();
      join(i);
      Thread t =
          start(
              "try",
              () -> {
                Thread.currentThread().interrupt();
                boolean got = lock.tryLock();
                tryKept.set(!got && Thread.interrupted());
              });
      join(t);
      Thread b = start("B", () -> live(lock, order, "B"));
      awaitParkedOn(b, lock);
    } finally {
      lock.unlock();
    }
    for (Thread t : new ArrayList<>(threads)) {
      join(t);
    }
    assertThat(order).containsExactly("A", "lock", "B");
    assertThat(lockKept).isTrue();
    assertThat(tryKept).isTrue();
    assertThat(interruptibleClear).isTrue();
  }

  /**
   * Attacks virtual threads: FIFO among parked virtual waiters with a virtual waiter interrupted
   * and one timing out in between. Skipped below JDK 21.
   * Anchor: fair ReentrantLock serves virtual waiters in arrival order.
   */
  @Test
  void held_virtualWaitersKeepFifoAcrossAbandons() throws Exception {
    if (Runtime.version().feature() < 21) {
      return;
    }
    TicketLock lock = new TicketLock();
    List<String> order = new CopyOnWriteArrayList<>();
    AtomicInteger ie = new AtomicInteger();
    lock.lock();
    try {
      Thread a = startVirtual("vA", () -> live(lock, order, "A"));
      awaitParkedOn(a, lock);
      Thread x =
          startVirtual(
              "vX",
              () -> {
                try {
                  lock.lockInterruptibly();
                  order.add("X");
                  lock.unlock();
                } catch (InterruptedException e) {
                  ie.incrementAndGet();
                }
              });
      awaitParkedOn(x, lock);
      Thread b = startVirtual("vB", () -> live(lock, order, "B"));
      awaitParkedOn(b, lock);
      Thread y =
          startVirtual(
              "vY",
              () -> {
                if (lock.tryLock(1, TimeUnit.MILLISECONDS)) {
                  order.add("Y");
                  lock.unlock();
                }
              });
      join(y);
      x.interrupt();
      join(x);
      Thread c = startVirtual("vC", () -> live(lock, order, "C"));
      awaitParkedOn(c, lock);
      assertThat(lock.queueLength()).isEqualTo(3);
    } finally {
      lock.unlock();
    }
    for (Thread t : new ArrayList<>(threads)) {
      join(t);
    }
    assertThat(order).containsExactly("A", "B", "C");
    assertThat(ie.get()).isEqualTo(1);
  }

  /**
   * Attacks lost wake-ups at the park window: the next-in-line waiter is stopped at
   * "ticketlock.park" (after its PARKED CAS, before LockSupport.park) while the holder releases;
   * the grant must unpark it (permit) so it never sleeps. Anchor: LockSupport permit semantics.
   */
  @Test
  void held_releaseInTheParkWindowIsNotLost() throws Exception {
    TicketLock lock = new TicketLock();
    CountDownLatch atPark = new CountDownLatch(1);
    AtomicBoolean go = new AtomicBoolean();
    AtomicBoolean got = new AtomicBoolean();
    lock.lock();
    Thread w;
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (name.equals("ticketlock.park")
                  && Thread.currentThread().getName().equals("test-parker")
                  && atPark.getCount() > 0) {
                atPark.countDown();
                // Spin, do not park: a park here (go.await()) would consume the grant's
                // unpark permit itself, which is the hook's fault, not the lock's.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
                while (!go.get() && System.nanoTime() - deadline < 0) {
                  Thread.onSpinWait();
                }
              }
            })) {
      try {
        w =
            start(
                "parker",
                () -> {
                  lock.lock();
                  got.set(true);
                  lock.unlock();
                });
        assertThat(atPark.await(20, TimeUnit.SECONDS)).isTrue();
      } finally {
        lock.unlock(); // grants the node that is between its PARKED CAS and its park
      }
      go.set(true);
      join(w);
    }
    assertThat(got).isTrue();
    assertThat(lock.isLocked()).isFalse();
  }
}
