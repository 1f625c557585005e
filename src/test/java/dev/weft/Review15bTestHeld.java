package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 15b review of {@link TicketLock}'s virtual-thread wait policy (no yield, a 32-pause
 * next-in-line spin, then park): the attacks that held. Each test runs the same schedule on
 * {@code TicketLock} and, where it says so, on a fair {@link ReentrantLock} as the reference.
 * Numbers are from JDK 25 (Temurin), the default scheduler (2 carriers on the 2-core review VM).
 *
 * <p>Also held, in throwaway probes (not kept; forked JVMs with {@code
 * -Djdk.virtualThreadScheduler.parallelism=1} and {@code =2}): (a) {@code
 * VirtualThreadReviewSupport.retryLoops} (32 virtual threads x 200, tryLock(t) retry loops) on
 * one carrier, 3 runs each: TicketLock finished every run for t = 1, 2, 5, 20, 100 µs (52-132,
 * 16-39, 12-41, 8-24, 15-23 ms); fair ReentrantLock stalled (3 s) in 3 of 3 runs at t = 1, 2
 * and 5 µs and took 13-22 ms at 20 and 100 µs; (b) 24 virtual + 4 platform threads x 400
 * random lock / lockInterruptibly / tryLock(1-200 µs) / tryLock() with a random interrupter,
 * 6 runs each on 1 and 2 carriers: no exclusion or result violation, no stall; TicketLock
 * 53-143 ms, worst timed overshoot 0.9-5.5 ms; fair ReentrantLock 51-89 ms, 0.2-3.5 ms; (c)
 * FIFO with cancellations: 24 mixed waiters queued one at a time (a quarter in tryLock(2 ms)
 * that expire, some lockInterruptibly ones interrupted), then released; 30 rounds each on 1
 * and 2 carriers: the survivors were granted in arrival order in 60 of 60 rounds (fair
 * ReentrantLock also 60 of 60), all drained within 6 ms.
 *
 * <p>JDK too, not a weft defect: (d) pinned carriers. A platform thread holds the lock for 200
 * ms; a virtual heir H queues ({@code lock()}, or {@code tryLock(10 s)}) and unmounts; then two
 * virtual threads each start a class initialiser that calls {@code lock()} (pinned waiters on
 * JDK 25, one per carrier with parallelism=2). The release hands the turn to H, which has no
 * carrier: neither TicketLock nor fair ReentrantLock finished within 3 s, 4 of 4 forked JVMs
 * each (as claim 6 of {@code SpinLockHandOverReviewTest} found for SpinLock's hand-over).
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
@SuppressWarnings("LockNotBeforeTry") // schedules that unlock at chosen points
final class Review15bTestHeld {

  @BeforeEach
  void needsVirtualThreads() {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
  }

  static Thread start(boolean virtual, String name, Runnable r) throws Exception {
    if (virtual) {
      return SpinLockHandOverReviewTest.startVirtual(name, r);
    }
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  static void awaitTrue(BooleanSupplier c, String what) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (!c.getAsBoolean()) {
      if (System.nanoTime() - end > 0L) {
        throw new AssertionError("timed out waiting for: " + what);
      }
      Thread.sleep(1);
    }
  }

  static void joinAll(List<Thread> ts) throws InterruptedException {
    for (Thread t : ts) {
      t.join(5_000);
      assertThat(t.isAlive()).as(t.getName() + " ended").isFalse();
    }
  }

  /**
   * Strict FIFO with mixed waiters. The test thread (platform) holds the lock; 16 waiters, even
   * ones virtual and odd ones platform, call {@code lock()} one at a time (the next starts only
   * once {@code queueLength()} shows the previous one queued, parked or spinning); the holder
   * unlocks and every waiter records its turn and unlocks. JDK 25, 3 runs of 10 rounds: the
   * grant order equalled the arrival order in all 30 rounds (480 grants). Fair ReentrantLock:
   * not compared here (the queue count is TicketLock's own test hook; probe (c) in the class
   * comment compared both).
   */
  @Test
  void fifoHoldsForMixedVirtualAndPlatformWaiters() throws Exception {
    for (int round = 0; round < 10; round++) {
      TicketLock lock = new TicketLock();
      lock.lock();
      ConcurrentLinkedQueue<Integer> order = new ConcurrentLinkedQueue<>();
      List<Thread> ts = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        int id = i;
        ts.add(
            start(
                i % 2 == 0,
                "w" + i,
                () -> {
                  lock.lock();
                  try {
                    order.add(id);
                  } finally {
                    lock.unlock();
                  }
                }));
        int queued = i + 1;
        awaitTrue(() -> lock.queueLength() == queued, "waiter " + id + " queued");
      }
      lock.unlock();
      joinAll(ts);
      List<Integer> expected = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        expected.add(i);
      }
      assertThat(new ArrayList<>(order)).as("round " + round).isEqualTo(expected);
    }
  }

  /**
   * Timed waits of virtual threads return near their deadline and never lie. A platform thread
   * holds the lock for 60 ms; 48 virtual threads call {@code tryLock(t)} with t from 1 to 48 ms
   * (some then get the lock when it is released, some time out). Each return is checked: true
   * only while holding (and exclusively: a shared counter), false only while not holding, and a
   * false came back at most 30 ms after its deadline. JDK 25, 3 runs x 5 rounds: no lie;
   * latest false return 0.11-2.58 ms past the deadline (fair ReentrantLock in the same harness
   * 0.13-1.72 ms).
   */
  @Test
  void timedWaitsOfVirtualThreadsReturnNearTheDeadlineAndNeverLie() throws Exception {
    for (Lock lock : new Lock[] {new TicketLock(), new ReentrantLock(true)}) {
      for (int round = 0; round < 5; round++) {
        long worst = timedRound(lock);
        assertThat(worst).as(lock + " worst overshoot ns").isLessThan(30_000_000L);
      }
    }
  }

  private static long timedRound(Lock lock) throws Exception {
    AtomicLong worst = new AtomicLong();
    AtomicInteger inside = new AtomicInteger();
    AtomicReference<String> lie = new AtomicReference<>();
    CountDownLatch started = new CountDownLatch(48);
    lock.lock();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < 48; i++) {
      long millis = 1L + i;
      ts.add(
          start(
              true,
              "t" + i,
              () -> {
                started.countDown();
                long t0 = System.nanoTime();
                try {
                  boolean got = lock.tryLock(millis, TimeUnit.MILLISECONDS);
                  long late = System.nanoTime() - t0 - TimeUnit.MILLISECONDS.toNanos(millis);
                  if (got) {
                    if (inside.incrementAndGet() != 1 || !held(lock)) {
                      lie.set("true without exclusive hold");
                    }
                    inside.decrementAndGet();
                    lock.unlock();
                  } else {
                    if (held(lock)) {
                      lie.set("false while holding");
                    }
                    worst.accumulateAndGet(late, Math::max);
                  }
                } catch (InterruptedException e) {
                  lie.set("interrupted");
                }
              }));
    }
    assertThat(started.await(5, TimeUnit.SECONDS)).isTrue();
    Thread.sleep(60);
    lock.unlock();
    joinAll(ts);
    assertThat(lie.get()).isNull();
    assertThat(lock.tryLock()).as("free at the end").isTrue();
    lock.unlock();
    return worst.get();
  }

  static boolean held(Lock lock) {
    if (lock instanceof TicketLock t) {
      return t.isHeldByCurrentThread();
    }
    return ((ReentrantLock) lock).isHeldByCurrentThread();
  }

  /**
   * Interrupts at random points. 12 virtual and 4 platform threads each do 300 {@code
   * lockInterruptibly()} sections (a counter checked for exclusion; the holder parks 20 µs on
   * every 8th) while a platform thread interrupts a random one every 50-150 µs. Checked: each
   * call either returns holding the lock or throws InterruptedException not holding it (the
   * interrupter may set the status again at once, so it is not checked); no lost lock (every
   * thread finishes; the lock is free at the end, queueLength 0). JDK 25, 3 runs: TicketLock
   * 4,294-4,401 sections and 399-506 InterruptedExceptions per run, fair ReentrantLock
   * 4,333-4,383 and 417-467; no violation in either.
   */
  @Test
  void randomInterruptsOfVirtualWaitersLoseNoLock() throws Exception {
    for (Lock lock : new Lock[] {new TicketLock(), new ReentrantLock(true)}) {
      interruptRound(lock);
    }
  }

  private static void interruptRound(Lock lock) throws Exception {
    AtomicInteger inside = new AtomicInteger();
    AtomicReference<String> bad = new AtomicReference<>();
    AtomicInteger ies = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      ts.add(
          start(
              i < 12,
              "i" + i,
              () -> {
                for (int k = 0; k < 300; k++) {
                  try {
                    lock.lockInterruptibly();
                  } catch (InterruptedException e) {
                    ies.incrementAndGet();
                    if (held(lock)) { // (the status is not checked: the interrupter may strike again)
                      bad.set("IE while holding");
                    }
                    continue;
                  }
                  try {
                    if (inside.incrementAndGet() != 1) {
                      bad.set("two inside");
                    }
                    if (k % 8 == 0) {
                      java.util.concurrent.locks.LockSupport.parkNanos(20_000);
                    }
                    inside.decrementAndGet();
                  } finally {
                    lock.unlock();
                  }
                  Thread.interrupted(); // a granted-then-interrupted call keeps the status
                  done.incrementAndGet();
                }
              }));
    }
    AtomicBoolean stop = new AtomicBoolean();
    Thread interrupter =
        start(
            false,
            "interrupter",
            () -> {
              ThreadLocalRandom rnd = ThreadLocalRandom.current();
              while (!stop.get()) {
                ts.get(rnd.nextInt(ts.size())).interrupt();
                java.util.concurrent.locks.LockSupport.parkNanos(rnd.nextLong(50_000, 150_000));
              }
            });
    try {
      for (Thread t : ts) {
        t.join(15_000);
      }
    } finally {
      stop.set(true);
      interrupter.join(5_000);
    }
    for (Thread t : ts) {
      assertThat(t.isAlive()).as(lock + ": " + t.getName() + " finished").isFalse();
    }
    assertThat(bad.get()).as(lock.toString()).isNull();
    assertThat(lock.tryLock()).as("free at the end").isTrue();
    lock.unlock();
    if (lock instanceof TicketLock t) {
      assertThat(t.queueLength()).isZero();
    }
    assertThat(done.get() + ies.get()).isEqualTo(16 * 300);
  }

  /**
   * Abandoned nodes do not pile up behind a parked virtual waiter. The test thread holds the
   * lock; a virtual thread V parks in {@code lock()}; another virtual thread then does 2,000
   * {@code tryLock(2 µs)} calls that all time out (each leaves an abandoned node behind V's).
   * Then one more virtual waiter W queues behind them (it unlinks them before it parks), and
   * the holder unlocks: V and W both get the lock, in order. JDK 25: the node chain from the
   * holder to the tail walked by reflection had 3 nodes (holder, V, W) in 3 of 3 runs, not
   * 2,000.
   */
  @Test
  void abandonedNodesOfVirtualRetriesDoNotPileUp() throws Exception {
    TicketLock lock = new TicketLock();
    lock.lock();
    ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
    List<Thread> ts = new ArrayList<>();
    ts.add(
        start(
            true,
            "V",
            () -> {
              lock.lock();
              order.add("V");
              lock.unlock();
            }));
    awaitTrue(() -> lock.queueLength() == 1, "V queued");
    AtomicInteger timeouts = new AtomicInteger();
    Thread r =
        start(
            true,
            "R",
            () -> {
              for (int i = 0; i < 2_000; i++) {
                try {
                  if (lock.tryLock(2, TimeUnit.MICROSECONDS)) {
                    lock.unlock();
                  } else {
                    timeouts.incrementAndGet();
                  }
                } catch (InterruptedException e) {
                  return;
                }
              }
            });
    r.join(10_000);
    assertThat(r.isAlive()).isFalse();
    assertThat(timeouts.get()).isEqualTo(2_000);
    ts.add(
        start(
            true,
            "W",
            () -> {
              lock.lock();
              order.add("W");
              lock.unlock();
            }));
    awaitTrue(() -> lock.queueLength() == 2, "W queued");
    int chain = chainLength(lock);
    assertThat(chain).as("nodes from the holder to the tail").isLessThan(10);
    lock.unlock();
    joinAll(ts);
    assertThat(new ArrayList<>(order)).containsExactly("V", "W");
  }

  static int chainLength(TicketLock lock) throws Exception {
    java.lang.reflect.Field head = TicketLock.class.getDeclaredField("head");
    head.setAccessible(true);
    java.lang.reflect.Field next = TicketLock.Node.class.getDeclaredField("next");
    next.setAccessible(true);
    Object x = head.get(lock);
    int n = 0;
    while (x instanceof TicketLock.Node && n < 100_000) {
      n++;
      x = next.get(x);
    }
    return n;
  }

  /**
   * Condition await/signal with virtual threads: a one-slot buffer guarded by the lock and two
   * conditions; 8 virtual producers and 8 virtual consumers pass 8 x 500 items, consumers using
   * {@code await(200 µs)} in a loop and producers {@code awaitUninterruptibly()}. JDK 25, 3
   * runs: TicketLock 4,000 items in 17-33 ms, fair ReentrantLock 12-31 ms; no lost item, no
   * stall.
   */
  @Test
  void conditionHandOffBetweenVirtualThreadsLosesNothing() throws Exception {
    for (Lock lock : new Lock[] {new TicketLock(), new ReentrantLock(true)}) {
      Condition notFull = lock.newCondition();
      Condition notEmpty = lock.newCondition();
      int[] slot = {0};
      boolean[] full = {false};
      AtomicLong sum = new AtomicLong();
      List<Thread> ts = new ArrayList<>();
      for (int p = 0; p < 8; p++) {
        ts.add(
            start(
                true,
                "p" + p,
                () -> {
                  for (int i = 1; i <= 500; i++) {
                    lock.lock();
                    try {
                      while (full[0]) {
                        notFull.awaitUninterruptibly();
                      }
                      slot[0] = i;
                      full[0] = true;
                      notEmpty.signal();
                    } finally {
                      lock.unlock();
                    }
                  }
                }));
        ts.add(
            start(
                true,
                "c" + p,
                () -> {
                  for (int i = 0; i < 500; i++) {
                    lock.lock();
                    try {
                      while (!full[0]) {
                        notEmpty.await(200, TimeUnit.MICROSECONDS);
                      }
                      sum.addAndGet(slot[0]);
                      full[0] = false;
                      notFull.signal();
                    } catch (InterruptedException e) {
                      return;
                    } finally {
                      lock.unlock();
                    }
                  }
                }));
      }
      for (Thread t : ts) {
        t.join(10_000);
      }
      for (Thread t : ts) {
        if (t.isAlive()) {
          t.interrupt();
        }
      }
      for (Thread t : ts) {
        assertThat(t.isAlive()).as(lock + ": " + t.getName()).isFalse();
      }
      assertThat(sum.get()).as(lock.toString()).isEqualTo(8L * 500 * 501 / 2);
    }
  }

  /**
   * No lost wake-up at the park window of a virtual waiter. A virtual waiter V is next in line
   * behind a platform holder H; when V reaches "ticketlock.park" (its status is PARKED, the
   * park not yet called), the window hook makes H unlock and waits until H has done so (the
   * releaser's unpark then precedes V's park: a permit), optionally after interrupting V
   * ({@code lockInterruptibly}: V must then either hold the lock with its interrupt status set
   * or throw and pass the lock to W, a platform waiter queued behind it). 200 rounds of each
   * variant on JDK 25 (2 carriers), 3 runs: V always returned and W always got the lock after
   * it; the plain variant ended 600 of 600 with V holding, the interrupted one 600 of 600 with
   * V holding and its status set (the loop sees GRANTED before it checks the interrupt); no
   * lost lock. (A first version waited in the hook on a latch, i.e. parked, which consumed the
   * releaser's unpark and left V parked on a granted node: a test artefact; the hook spins.)
   */
  @Test
  void noLostWakeUpAtTheParkWindowOfAVirtualWaiter() throws Exception {
    Assumptions.assumeTrue(ProtocolWindows.ENABLED, "needs -Ddev.weft.testWindows=true");
    for (int round = 0; round < 400; round++) {
      boolean interrupt = round % 2 == 1;
      TicketLock lock = new TicketLock();
      CountDownLatch unlockNow = new CountDownLatch(1);
      CountDownLatch unlocked = new CountDownLatch(1);
      CountDownLatch holding = new CountDownLatch(1);
      ConcurrentLinkedQueue<String> order = new ConcurrentLinkedQueue<>();
      AtomicReference<String> vOutcome = new AtomicReference<>();
      Thread h =
          start(
              false,
              "H",
              () -> {
                lock.lock();
                holding.countDown();
                try {
                  unlockNow.await(5, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                lock.unlock();
                unlocked.countDown();
              });
      assertThat(holding.await(5, TimeUnit.SECONDS)).isTrue();
      Thread[] v = new Thread[1];
      AutoCloseable hook =
          ProtocolWindows.install(
              w -> {
                if (w.equals("ticketlock.park")
                    && Thread.currentThread().getName().equals("V")
                    && unlockNow.getCount() == 1) {
                  if (interrupt) {
                    Thread.currentThread().interrupt();
                  }
                  unlockNow.countDown();
                  // Spin, not park: a park here would consume the releaser's unpark permit.
                  long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                  while (unlocked.getCount() > 0 && System.nanoTime() - end < 0L) {
                    Thread.onSpinWait();
                  }
                }
              });
      try {
        v[0] =
            start(
                true,
                "V",
                () -> {
                  try {
                    lock.lockInterruptibly();
                    vOutcome.set("held, interrupted=" + Thread.interrupted());
                    order.add("V");
                    lock.unlock();
                  } catch (InterruptedException e) {
                    vOutcome.set("threw");
                  }
                });
        awaitTrue(() -> lock.queueLength() == 1 || unlockNow.getCount() == 0, "V queued");
        Thread w =
            start(
                false,
                "W",
                () -> {
                  lock.lock();
                  order.add("W");
                  lock.unlock();
                });
        joinAll(List.of(h, v[0], w));
      } finally {
        hook.close();
      }
      assertThat(vOutcome.get()).as("round " + round).isNotNull();
      if (vOutcome.get().startsWith("held")) {
        assertThat(new ArrayList<>(order)).containsExactly("V", "W");
        assertThat(vOutcome.get()).isEqualTo("held, interrupted=" + interrupt);
      } else {
        assertThat(interrupt).isTrue();
        assertThat(new ArrayList<>(order)).containsExactly("W");
      }
      assertThat(lock.isLocked()).isFalse();
    }
  }
}
