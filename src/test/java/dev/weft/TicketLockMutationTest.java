package dev.weft;

import static dev.weft.SpinLockContractTest.inOtherThread;
import static dev.weft.SpinLockContractTest.join;
import static dev.weft.SpinLockContractTest.start;
import static dev.weft.SpinLockMutationTest.awaitParkedOn;
import static dev.weft.TicketLockTest.awaitQueueLength;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

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
class TicketLockMutationTest {

  private static void assertUnlocked(TicketLock lock) {
    assertThat(lock.isLocked()).isFalse();
    assertThat(lock.hasQueuedThreads()).isFalse();
    assertThat(lock).hasToString("TicketLock[unlocked]");
  }

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
        start(
            "interrupted",
            () -> {
              try {
                lock.lockInterruptibly();
                lock.unlock();
              } catch (InterruptedException e) {
                threw.set(!lock.isHeldByCurrentThread());
              }
            },
            failure);
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
    List<String> results = new ArrayList<>(); // guarded by lock
    AtomicReference<Throwable> failure = new AtomicReference<>();
    lock.lock();
    Thread a =
        start(
            "plain",
            () -> {
              lock.lock();
              results.add("plain " + state(lock));
              lock.unlock();
            },
            failure);
    awaitQueueLength(lock, 1);
    Thread b =
        start(
            "interruptible",
            () -> {
              lock.lockInterruptibly();
              results.add("interruptible " + state(lock));
              lock.unlock();
            },
            failure);
    awaitQueueLength(lock, 2);
    Thread c =
        start(
            "timed",
            () -> {
              boolean got = lock.tryLock(30, TimeUnit.SECONDS);
              results.add("timed " + got + " " + state(lock));
              if (got) {
                lock.unlock();
              }
            },
            failure);
    awaitQueueLength(lock, 3);
    awaitParkedOn(a, lock);
    awaitParkedOn(b, lock);
    awaitParkedOn(c, lock);
    lock.unlock();
    join(a, b, c);
    assertThat(failure.get()).isNull();
    lock.lock();
    try {
      assertThat(results)
          .containsExactly(
              "plain held, not interrupted",
              "interruptible held, not interrupted",
              "timed true held, not interrupted");
    } finally {
      lock.unlock();
    }
    assertUnlocked(lock);
  }

  private static String state(TicketLock lock) {
    return (lock.isHeldByCurrentThread() ? "held" : "NOT held")
        + (Thread.currentThread().isInterrupted() ? ", interrupted" : ", not interrupted");
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
        start(
            "front",
            () -> {
              try {
                lock.lockInterruptibly();
                lock.unlock();
              } catch (InterruptedException e) {
                frontThrew.set(!lock.isHeldByCurrentThread());
              }
            },
            failure);
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
