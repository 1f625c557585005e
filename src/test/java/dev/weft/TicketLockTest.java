package dev.weft;

import static dev.weft.SpinLockContractTest.inOtherThread;
import static dev.weft.SpinLockContractTest.join;
import static dev.weft.SpinLockContractTest.start;
import static dev.weft.testing.Waits.awaitBlocked;
import static dev.weft.testing.Waits.awaitParkedOn;
import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link TicketLock}: the shared lock contract plus FIFO order. */
@Timeout(60)
// Tests exercise lock misuse on purpose (unlock without finally, lock far from try), time out
// single Condition waits on purpose, and yield while polling a thread's state.
@SuppressWarnings({"LockNotBeforeTry", "WaitNotInLoop", "ThreadPriorityCheck", "JavaUtilDate"})
class TicketLockTest extends SpinLockContractTest {

  @Override
  TestLock newLock() {
    TicketLock lock = new TicketLock();
    return TestLock.of(
        "TicketLock",
        lock,
        lock::acquire,
        lock::tryLock,
        lock::isLocked,
        lock::isHeldByCurrentThread);
  }

  @Test
  void waitersAcquireInArrivalOrder() throws Exception {
    TicketLock lock = new TicketLock();
    lock.lock();
    int n = 5;
    List<Integer> order = new ArrayList<>(); // guarded by lock
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int id = i;
      ts.add(
          start(
              "fifo-" + i,
              () -> {
                lock.lock();
                try {
                  order.add(id);
                } finally {
                  lock.unlock();
                }
              },
              failure));
      awaitQueueLength(lock, i + 1);
    }
    assertThat(lock.hasQueuedThreads()).isTrue();
    assertThat(lock.toString()).contains("with queued waiters");
    lock.unlock();
    join(ts.toArray(new Thread[0]));
    assertThat(failure.get()).isNull();
    lock.lock();
    assertThat(order).containsExactly(0, 1, 2, 3, 4);
    lock.unlock();
    assertUnlocked(lock);
  }

  /** Free, nobody queued, and toString agrees. */
  static void assertUnlocked(TicketLock lock) {
    assertThat(lock.isLocked()).isFalse();
    assertThat(lock.hasQueuedThreads()).isFalse();
    assertThat(lock).hasToString("TicketLock[unlocked]");
  }

  @Test
  void timedOutAndInterruptedWaitersKeepTheQueueIntact() throws Exception {
    TicketLock lock = new TicketLock();
    lock.lock();
    List<String> order = new ArrayList<>(); // guarded by lock
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean timedResult = new AtomicBoolean(true);
    AtomicBoolean interrupted = new AtomicBoolean();
    ThrowingRunnable locker = recordUnderLock(lock, order);
    Thread first = start("first", locker, failure);
    awaitQueueLength(lock, 1);
    Thread timed =
        start(
            "timed",
            // 2 s, not less: it must still be queued when the others have queued behind it,
            // even on a loaded machine (queueLength counts waiting nodes only).
            () -> timedResult.set(lock.tryLock(Duration.ofSeconds(2))),
            failure);
    awaitQueueLength(lock, 2);
    Thread interruptible =
        startInterruptibleWaiter(
            "interruptible", lock, lock::isHeldByCurrentThread, interrupted, failure);
    awaitQueueLength(lock, 3);
    Thread last = start("last", locker, failure);
    awaitQueueLength(lock, 4);
    join(timed); // times out in the middle of the queue
    awaitBlocked(interruptible);
    interruptible.interrupt();
    join(interruptible);
    assertThat(lock.queueLength()).isEqualTo(2);
    lock.unlock();
    join(first, last);
    assertThat(failure.get()).isNull();
    assertThat(timedResult).isFalse();
    assertThat(interrupted).isTrue();
    lock.lock();
    assertThat(order).containsExactly("test-first", "test-last");
    lock.unlock();
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void tryLockDoesNotOvertakeQueuedWaiters() throws Exception {
    TicketLock lock = new TicketLock();
    lock.lock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread waiter =
        start(
            "queued",
            () -> {
              lock.lock();
              lock.unlock();
            },
            failure);
    awaitQueueLength(lock, 1);
    inOtherThread(() -> assertThat(lock.tryLock()).isFalse());
    lock.unlock();
    join(waiter);
    assertThat(failure.get()).isNull();
  }

  @Test
  void guardToStringShowsClosedState() {
    TicketLock lock = new TicketLock();
    TicketLock.Guard g = lock.acquire();
    assertThat(g.toString()).doesNotContain("closed");
    g.close();
    assertThat(g.toString()).contains("closed");
  }

  @Test
  void nextInLineWaiterSpinsOnlyBrieflyThenParksOnTheLock() throws Exception {
    TicketLock lock = new TicketLock();
    lock.lock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean acquired = new AtomicBoolean();
    Thread next =
        start(
            "next",
            () -> {
              lock.lock();
              acquired.set(true);
              lock.unlock();
            },
            failure);
    // The spin is 20 us and the next in line does not yield: the waiter must end up parked on
    // this lock (blocker == lock), not burning or yielding its core while the holder keeps it.
    awaitBlocked(next);
    assertThat(LockSupport.getBlocker(next)).isSameAs(lock);
    assertThat(acquired).isFalse();
    lock.unlock(); // hands over to the parked waiter and unparks it
    join(next);
    assertThat(failure.get()).isNull();
    assertThat(acquired).isTrue();
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void reusedFastPathNodeSurvivesMixedFastAndQueuedAcquisitions() throws Exception {
    TicketLock lock = new TicketLock();
    int[] counter = {0}; // guarded by lock
    int perThread = 20_000;
    AtomicReference<Throwable> failure = new AtomicReference<>();
    ThrowingRunnable body =
        () -> {
          for (int i = 0; i < perThread; i++) {
            if (i % 64 == 0) {
              Thread.yield(); // mix uncontended (fast-path node) and queued acquisitions
            }
            lock.lock();
            try {
              counter[0]++;
            } finally {
              lock.unlock();
            }
          }
        };
    Thread a = start("reuse-a", body, failure);
    Thread b = start("reuse-b", body, failure);
    Thread c = start("reuse-c", body, failure);
    join(a, b, c);
    assertThat(failure.get()).isNull();
    lock.lock();
    assertThat(counter[0]).isEqualTo(3 * perThread);
    lock.unlock();
    assertThat(lock.isLocked()).isFalse();
    assertThat(lock.hasQueuedThreads()).isFalse();
  }

  @Test
  void waiterFurtherBackYieldsOnlyBrieflyThenParksOnTheLock() throws Exception {
    TicketLock lock = new TicketLock();
    lock.lock();
    List<String> order = new ArrayList<>(); // guarded by lock
    AtomicReference<Throwable> failure = new AtomicReference<>();
    ThrowingRunnable locker = recordUnderLock(lock, order);
    Thread next;
    Thread behind;
    try {
      next = start("next", locker, failure);
      awaitQueueLength(lock, 1);
      behind = start("behind", locker, failure);
      awaitQueueLength(lock, 2);
      // The waiter further back yields for at most 20 us per wait, then parks: it must not stay
      // runnable (yielding or spinning) for as long as the holder keeps the lock.
      awaitBlocked(behind);
      assertThat(LockSupport.getBlocker(behind)).isSameAs(lock);
      awaitBlocked(next);
    } finally {
      lock.unlock(); // also on failure, so that the waiters end
    }
    join(next, behind);
    assertThat(failure.get()).isNull();
    assertThat(order).containsExactly("test-next", "test-behind");
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void slowYieldsPauseYieldingOnlyWhenTheyClusterAndRepeatedPausesDouble() {
    TicketLock lock = new TicketLock();
    assertThat(lock.yieldingPaused()).isFalse();
    assertThat(lock.yieldPauseNanos()).isZero();
    int k = SpinBackoff.SLOW_YIELDS_TO_PAUSE;
    long window = SpinBackoff.SLOW_YIELD_WINDOW_NANOS;
    // Synthetic times from two windows after construction: slow yields in the first window
    // after a pause ends (the constructor counts as one) are ignored.
    long t = System.nanoTime() + 2 * window;

    // k - 1 slow yields in the window, then one just after it: the count starts over.
    for (int i = 0; i < k - 1; i++) {
      lock.countSlowYield(t + i);
    }
    assertThat(lock.yieldingPaused()).as("%d slow yields must not pause", k - 1).isFalse();
    t += window + 1;
    lock.countSlowYield(t);
    assertThat(lock.yieldingPaused()).as("the window restarted").isFalse();

    // k within the window: paused for the base length.
    for (int i = 1; i < k; i++) {
      lock.countSlowYield(t + i);
    }
    assertThat(lock.yieldPausedUntilNanos()).isEqualTo(t + k - 1 + SpinBackoff.YIELD_PAUSE_NANOS);
    assertThat(lock.yieldPauseNanos()).isEqualTo(SpinBackoff.YIELD_PAUSE_NANOS);

    // Slow yields while the pause runs (yields that were under way when it started), or within
    // one window after it, neither extend nor double it.
    for (int i = 0; i < 2 * k; i++) {
      lock.countSlowYield(t + k + i);
    }
    long firstEnd = t + k - 1 + SpinBackoff.YIELD_PAUSE_NANOS;
    for (int i = 0; i < 2 * k; i++) {
      lock.countSlowYield(firstEnd + window - 2L * k + i);
    }
    assertThat(lock.yieldPausedUntilNanos()).isEqualTo(t + k - 1 + SpinBackoff.YIELD_PAUSE_NANOS);
    assertThat(lock.yieldPauseNanos()).isEqualTo(SpinBackoff.YIELD_PAUSE_NANOS);

    // Each pause that starts less than YIELD_PAUSE_NANOS after the last one ended doubles,
    // up to the cap.
    long expected = SpinBackoff.YIELD_PAUSE_NANOS;
    long pauseEnd = t + k - 1 + expected;
    for (int round = 0; round < 8; round++) {
      long start = pauseEnd + window + 1; // after the grace period, within one pause length
      for (int i = 0; i < k; i++) {
        lock.countSlowYield(start + i);
      }
      expected = Math.min(expected * 2, SpinBackoff.MAX_YIELD_PAUSE_NANOS);
      assertThat(lock.yieldPauseNanos()).as("round %d", round).isEqualTo(expected);
      pauseEnd = start + k - 1 + expected;
      assertThat(lock.yieldPausedUntilNanos()).as("round %d", round).isEqualTo(pauseEnd);
    }
    assertThat(expected).isEqualTo(SpinBackoff.MAX_YIELD_PAUSE_NANOS);

    // A burst that comes back later than YIELD_PAUSE_NANOS after the end (here 150 ms after a
    // 1.6 s pause): back to the base length, not another 1.6 s.
    long burst = pauseEnd + SpinBackoff.YIELD_PAUSE_NANOS + SpinBackoff.YIELD_PAUSE_NANOS / 2;
    for (int i = 0; i < k; i++) {
      lock.countSlowYield(burst + i);
    }
    assertThat(lock.yieldPauseNanos()).isEqualTo(SpinBackoff.YIELD_PAUSE_NANOS);
    pauseEnd = burst + k - 1 + SpinBackoff.YIELD_PAUSE_NANOS;

    // Long after the last pause: the base length too.
    long later = pauseEnd + 2 * SpinBackoff.MAX_YIELD_PAUSE_NANOS;
    for (int i = 0; i < k; i++) {
      lock.countSlowYield(later + i);
    }
    assertThat(lock.yieldPauseNanos()).isEqualTo(SpinBackoff.YIELD_PAUSE_NANOS);
  }

  @Test
  @Timeout(60)
  void outsideCpuLoadPausesYieldingAndTheCountStaysExact() throws Exception {
    TicketLock lock = new TicketLock();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long[] counter = {0}; // guarded by lock
    long[] perThread = new long[6]; // 6 users: up to 4 waiters queue behind the next in line
    List<Thread> threads = new ArrayList<>();
    // CPU-bound threads outside the lock, two per core, so that a yield can lose a time slice.
    int hogs = 2 * Runtime.getRuntime().availableProcessors();
    for (int i = 0; i < hogs; i++) {
      threads.add(
          start(
              "hog-" + i,
              () -> {
                while (!stop.get()) {
                  Thread.onSpinWait();
                }
              },
              failure));
    }
    for (int i = 0; i < perThread.length; i++) {
      int me = i;
      threads.add(
          start(
              "user-" + i,
              () -> {
                while (!stop.get()) {
                  lock.lock();
                  try {
                    counter[0]++;
                  } finally {
                    lock.unlock();
                  }
                  perThread[me]++;
                }
              },
              failure));
    }
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!lock.yieldingPaused()) {
        assertThat(System.nanoTime() - deadline).as("yielding never paused").isNegative();
        Thread.sleep(1); // polling a heuristic's state, not waiting for a result
      }
    } finally {
      stop.set(true);
      for (Thread th : threads) { // join every thread before asserting on any
        th.join(TimeUnit.SECONDS.toMillis(30));
      }
    }
    join(threads.toArray(new Thread[0]));
    assertThat(failure.get()).isNull();
    long total = 0;
    for (long n : perThread) {
      total += n;
    }
    lock.lock();
    assertThat(counter[0]).isEqualTo(total);
    lock.unlock();
    // The pause is a time limit: with nobody yielding it ends within the longest pause.
    long deadline =
        System.nanoTime() + SpinBackoff.MAX_YIELD_PAUSE_NANOS + TimeUnit.SECONDS.toNanos(5);
    while (lock.yieldingPaused()) {
      assertThat(System.nanoTime() - deadline).as("the pause never ended").isNegative();
      Thread.sleep(1); // waiting for a clock-based pause to run out
    }
  }

  @Test
  void waiterFurtherBackLeavesOnInterruptOrTimeoutWithoutBreakingTheQueue() throws Exception {
    TicketLock lock = new TicketLock();
    lock.lock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean nextAcquired = new AtomicBoolean();
    AtomicBoolean done = new AtomicBoolean();
    int attempts = 300;
    int[] interrupted = {0};
    int[] timedOut = {0};
    Thread next = null;
    Thread behind = null;
    Thread interrupter = null;
    try {
      next =
          start(
              "next",
              () -> {
                lock.lock();
                nextAcquired.set(true);
                lock.unlock();
              },
              failure);
      awaitQueueLength(lock, 1);
      // Every attempt queues behind `next` (so it takes the yield phase) and must fail, since
      // this thread holds the lock throughout: interrupted, or timed out after 1-40 us, which
      // ends inside the 20 us yield window or the spin or the park after it.
      behind =
          start(
              "behind",
              () -> {
                for (int i = 0; i < attempts; i++) {
                  if (i % 2 == 0) {
                    try {
                      lock.lockInterruptibly();
                      throw new AssertionError("acquired a lock held by another thread");
                    } catch (InterruptedException e) {
                      interrupted[0]++;
                    }
                  } else {
                    try {
                      if (lock.tryLock(Duration.ofNanos(1_000L + 1_000L * (i % 40)))) {
                        throw new AssertionError("acquired a lock held by another thread");
                      }
                      timedOut[0]++;
                    } catch (InterruptedException e) {
                      interrupted[0]++; // the interrupter was faster than the timeout
                    }
                  }
                }
                done.set(true);
              },
              failure);
      Thread target = behind;
      // Interrupts arrive at arbitrary points: some land while `behind` yields.
      interrupter =
          start(
              "interrupter",
              () -> {
                while (!done.get()) {
                  target.interrupt();
                  for (int s = 0; s < 200; s++) {
                    Thread.onSpinWait();
                  }
                }
              },
              failure);
      join(behind, interrupter);
      assertThat(failure.get()).isNull();
      assertThat(interrupted[0] + timedOut[0]).isEqualTo(attempts);
      assertThat(nextAcquired).as("next in line must still be waiting").isFalse();
      assertThat(lock.queueLength()).as("only `next` is still queued").isEqualTo(1);
    } finally {
      lock.unlock(); // hands over to `next` past all the abandoned nodes
    }
    join(next);
    assertThat(failure.get()).isNull();
    assertThat(nextAcquired).isTrue();
    assertThat(lock.isLocked()).isFalse();
  }

  /** A task that locks, appends its thread's name to {@code order} (guarded by lock), unlocks. */
  static ThrowingRunnable recordUnderLock(TicketLock lock, List<String> order) {
    return () -> {
      lock.lock();
      try {
        order.add(Thread.currentThread().getName());
      } finally {
        lock.unlock();
      }
    };
  }

  static void awaitQueueLength(TicketLock lock, int n) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (lock.queueLength() != n) {
      assertThat(System.nanoTime() - deadline).as("queue never reached %d", n).isNegative();
      Thread.yield();
    }
  }

  // ---- memory under long waits (issue 18, the kind of defect 6) ----

  /** Nodes from the holder's node to the tail, abandoned ones included, by reflection. */
  static int queueNodes(TicketLock lock) throws ReflectiveOperationException {
    Field head = TicketLock.class.getDeclaredField("head");
    head.setAccessible(true);
    Field next = TicketLock.Node.class.getDeclaredField("next");
    next.setAccessible(true);
    int n = 0;
    for (Object x = head.get(lock); x instanceof TicketLock.Node; x = next.get(x)) {
      n++;
    }
    return n;
  }

  // A thread that keeps timing out while the lock is held long left one abandoned node per
  // timeout in the queue: memory grew with the hold, and the next unlock walked them all.
  @Test
  void timedOutWaitersDoNotAccumulateNodesWhileTheLockIsHeld() throws Exception {
    TicketLock lock = new TicketLock();
    // Holder, stayer, and at most the last cancelled node (no successor has unlinked it yet).
    cancelWaitsBehindABlockedWaiter(
        lock,
        100,
        1,
        () ->
            assertThat(queueNodes(lock))
                .as("nodes after 110 cancelled waits")
                .isLessThanOrEqualTo(3));
    assertThat(lock.isLocked()).isFalse();
  }

  /**
   * Behaviours of {@link TicketLock} that the contract tests left open (found with PIT, see
   * docs/mutation-testing.md): the reused fast-path node must start each use unlinked (a
   * contender after an uncontended or a handed-over use of it must still wait), waiters that
   * give up at the front or the back of the queue, the state snapshots at every stage, and
   * contended acquisitions that return with the right interrupt status in FIFO order.
   */
  @Timeout(60)
  // Tests lock far from try on purpose and yield while polling a thread's state.
  @SuppressWarnings({"LockNotBeforeTry", "ThreadPriorityCheck"})
  @Nested
  class NodeReuseQueueExitsAndSnapshots {

    @Test
    void aContenderStillWaitsAfterAnUncontendedUseOfTheFastPathNode() throws Exception {
      TicketLock lock = new TicketLock();
      lock.lock();
      lock.unlock();
      assertUnlocked(lock);
      lock.lock(); // the same fast-path node again
      try {
        inOtherThread(
            () -> {
              assertThat(lock.tryLock(Duration.ofMillis(20))).isFalse();
              assertThat(lock.isHeldByCurrentThread()).isFalse();
            });
        assertThat(lock.isHeldByCurrentThread()).isTrue();
      } finally {
        lock.unlock(); // hands past the timed-out waiter at the back of the queue
      }
      assertUnlocked(lock);
    }

    @Test
    void aContenderStillWaitsAfterTheFastPathNodeWasHandedToAQueuedWaiter() throws Exception {
      TicketLock lock = new TicketLock();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      lock.lock();
      Thread t =
          start(
              "queued",
              () -> {
                lock.lock();
                lock.unlock();
              },
              failure);
      awaitQueueLength(lock, 1);
      lock.unlock(); // hands the lock from the fast-path node to the queued waiter
      join(t);
      assertThat(failure.get()).isNull();
      assertUnlocked(lock);
      lock.lock(); // the fast-path node again
      try {
        inOtherThread(() -> assertThat(lock.tryLock(Duration.ofMillis(20))).isFalse());
      } finally {
        lock.unlock();
      }
      assertUnlocked(lock);
    }

    @Test
    void anInterruptedWaiterAtTheBackOfTheQueueLeavesTheLockFree() throws Exception {
      TicketLock lock = new TicketLock();
      AtomicReference<Throwable> failure = new AtomicReference<>();
      AtomicBoolean threw = new AtomicBoolean();
      lock.lock();
      Thread t =
          startInterruptibleWaiter(
              "interrupted", lock, lock::isHeldByCurrentThread, threw, failure);
      awaitParkedOn(t, lock);
      t.interrupt();
      join(t);
      assertThat(failure.get()).isNull();
      assertThat(threw).isTrue();
      assertThat(lock.queueLength()).isZero();
      lock.unlock();
      assertUnlocked(lock);
    }

    @Test
    void snapshotsAtEveryStageOfAHandOver() throws Exception {
      TicketLock lock = new TicketLock();
      String me = Thread.currentThread().getName();
      assertUnlocked(lock);
      assertThat(lock.queueLength()).isZero();
      lock.lock();
      assertThat(lock.isLocked()).isTrue();
      assertThat(lock.hasQueuedThreads()).isFalse();
      assertThat(lock).hasToString("TicketLock[locked by " + me + "]");
      assertThat(lock.queueLength()).isZero();
      CountDownLatch holding = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      AtomicReference<Throwable> failure = new AtomicReference<>();
      Thread t =
          start(
              "holder",
              () -> {
                lock.lock();
                try {
                  holding.countDown();
                  assertThat(release.await(20, TimeUnit.SECONDS)).isTrue();
                } finally {
                  lock.unlock();
                }
              },
              failure);
      awaitQueueLength(lock, 1);
      assertThat(lock.hasQueuedThreads()).isTrue();
      assertThat(lock).hasToString("TicketLock[locked by " + me + ", with queued waiters]");
      lock.unlock();
      assertThat(holding.await(20, TimeUnit.SECONDS)).isTrue();
      // Handed over: held by the other thread, nobody queued behind it.
      assertThat(lock.isLocked()).isTrue();
      assertThat(lock.isHeldByCurrentThread()).isFalse();
      assertThat(lock.hasQueuedThreads()).isFalse();
      assertThat(lock).hasToString("TicketLock[locked by test-holder]");
      release.countDown();
      join(t);
      assertThat(failure.get()).isNull();
      assertUnlocked(lock);
    }

    @Test
    void contendedAcquisitionsFollowArrivalOrderWithAClearInterruptStatus() throws Exception {
      TicketLock lock = new TicketLock();
      int[] queued = {0};
      List<String> results =
          contendedAcquisitions(
              lock,
              lock::isHeldByCurrentThread,
              () -> lock.tryLock(30, TimeUnit.SECONDS),
              () -> awaitQueueLength(lock, ++queued[0])); // each queued before the next starts
      assertThat(results)
          .containsExactly(
              "plain held, not interrupted",
              "interruptible held, not interrupted",
              "timed true held, not interrupted");
      assertUnlocked(lock);
    }

    @Test
    void waitersThatGiveUpAtTheFrontAndTheBackAreSkipped() throws Exception {
      TicketLock lock = new TicketLock();
      List<String> order = new ArrayList<>(); // guarded by lock
      AtomicReference<Throwable> failure = new AtomicReference<>();
      AtomicBoolean frontThrew = new AtomicBoolean();
      AtomicBoolean backResult = new AtomicBoolean(true);
      lock.lock();
      Thread front =
          startInterruptibleWaiter(
              "front", lock, lock::isHeldByCurrentThread, frontThrew, failure);
      awaitQueueLength(lock, 1);
      Thread middle =
          start(
              "middle",
              () -> {
                lock.lock();
                order.add("middle");
                lock.unlock();
              },
              failure);
      awaitQueueLength(lock, 2);
      awaitParkedOn(front, lock);
      front.interrupt(); // gives up while next in line
      join(front);
      // Queues behind the middle one whatever the timing (the lock is held), then times out.
      Thread back =
          start("back", () -> backResult.set(lock.tryLock(Duration.ofMillis(20))), failure);
      join(back);
      assertThat(lock.queueLength()).isEqualTo(1);
      assertThat(lock.hasQueuedThreads()).isTrue(); // the tail is abandoned, not granted
      lock.unlock(); // past the abandoned front node to the middle one
      join(middle); // whose unlock passes the abandoned back node: free
      assertThat(failure.get()).isNull();
      assertThat(frontThrew).isTrue();
      assertThat(backResult).isFalse();
      lock.lock();
      assertThat(order).containsExactly("middle");
      lock.unlock();
      assertUnlocked(lock);
    }
  }

  /** Closes coverage gaps of {@link TicketLock}: lockInterruptibly that succeeds. */
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  @Nested
  class LockInterruptiblyThatSucceeds {
    private final TicketLock lock = new TicketLock();

    @Test
    void uncontendedLockInterruptiblyTakesTheLock() throws InterruptedException {
      lock.lockInterruptibly();
      try {
        assertThat(lock.isHeldByCurrentThread()).isTrue();
        assertThat(lock.isLocked()).isTrue();
      } finally {
        lock.unlock();
      }
      assertThat(lock.isLocked()).isFalse();
    }

    @Test
    void contendedLockInterruptiblyTakesTheLockOnceReleased() throws InterruptedException {
      AtomicBoolean held = new AtomicBoolean();
      CountDownLatch acquired = new CountDownLatch(1);
      Thread waiter =
          new Thread(
              () -> {
                try {
                  lock.lockInterruptibly();
                  try {
                    held.set(lock.isHeldByCurrentThread());
                    acquired.countDown();
                  } finally {
                    lock.unlock();
                  }
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              },
              "test-ticket-waiter");
      lock.lock();
      try {
        waiter.start();
        while (!lock.hasQueuedThreads()) {
          Thread.onSpinWait(); // bounded by @Timeout
        }
        assertThat(acquired.getCount()).isEqualTo(1); // still waiting while we hold it
      } finally {
        lock.unlock();
      }
      acquired.await();
      waiter.join();
      assertThat(held).isTrue();
      assertThat(lock.isLocked()).isFalse();
    }
  }
}
