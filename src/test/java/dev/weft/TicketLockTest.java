package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
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
    return new TestLock() {
      @Override
      public AutoCloseable acquire() {
        return lock.acquire();
      }

      @Override
      public boolean tryLock(Duration timeout) throws InterruptedException {
        return lock.tryLock(timeout);
      }

      @Override
      public boolean isLocked() {
        return lock.isLocked();
      }

      @Override
      public boolean isHeldByCurrentThread() {
        return lock.isHeldByCurrentThread();
      }

      @Override
      public String name() {
        return "TicketLock";
      }

      @Override
      public void lock() {
        lock.lock();
      }

      @Override
      public void lockInterruptibly() throws InterruptedException {
        lock.lockInterruptibly();
      }

      @Override
      public boolean tryLock() {
        return lock.tryLock();
      }

      @Override
      public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
        return lock.tryLock(time, unit);
      }

      @Override
      public void unlock() {
        lock.unlock();
      }

      @Override
      public Condition newCondition() {
        return lock.newCondition();
      }

      @Override
      public String toString() {
        return lock.toString();
      }
    };
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
    ThrowingRunnable locker =
        () -> {
          lock.lock();
          try {
            order.add(Thread.currentThread().getName());
          } finally {
            lock.unlock();
          }
        };
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
        start(
            "interruptible",
            () -> {
              try {
                lock.lockInterruptibly();
                lock.unlock();
              } catch (InterruptedException e) {
                interrupted.set(true);
              }
            },
            failure);
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
    // The spin is 2 us and there is no yield phase: the waiter must end up parked on this lock
    // (blocker == lock), not burning or yielding its core while the holder keeps the lock.
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

  static void awaitQueueLength(TicketLock lock, int n) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (lock.queueLength() != n) {
      assertThat(System.nanoTime() - deadline).as("queue never reached %d", n).isNegative();
      Thread.yield();
    }
  }
}
