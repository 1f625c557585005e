package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** {@link SpinLock}: the shared lock contract plus what is specific to the unfair spin lock. */
@Timeout(60)
// Tests exercise lock misuse on purpose (unlock without finally, lock far from try), time out
// single Condition waits on purpose, and yield while polling a thread's state.
@SuppressWarnings({"LockNotBeforeTry", "WaitNotInLoop", "ThreadPriorityCheck", "JavaUtilDate"})
class SpinLockTest extends SpinLockContractTest {

  @Override
  TestLock newLock() {
    SpinLock lock = new SpinLock();
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
        return "SpinLock";
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
  void toStringShowsParkedWaitersWithoutBlocking() throws Exception {
    SpinLock lock = new SpinLock();
    assertThat(lock).hasToString("SpinLock[unlocked]");
    lock.lock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t =
        start(
            "parker",
            () -> {
              lock.lock();
              lock.unlock();
            },
            failure);
    awaitBlocked(t);
    assertThat(lock.toString())
        .startsWith("SpinLock[locked by " + Thread.currentThread().getName())
        .contains("parked waiters");
    lock.unlock();
    join(t);
    assertThat(failure.get()).isNull();
    assertThat(lock).hasToString("SpinLock[unlocked]");
  }

  @Test
  void guardToStringShowsClosedState() {
    SpinLock lock = new SpinLock();
    SpinLock.Guard g = lock.acquire();
    assertThat(g.toString()).doesNotContain("closed");
    g.close();
    assertThat(g.toString()).contains("closed");
  }

  @Test
  void backoffPolicyConstantsAreSane() {
    // The documented policy: 32..512 pauses doubling over 6 rounds = 1504 pauses, then 3 yields.
    int total = 0;
    int b = SpinBackoff.MIN_BACKOFF;
    for (int i = 0; i < SpinBackoff.SPIN_ROUNDS; i++) {
      total += b;
      b = Math.min(b << 1, SpinBackoff.MAX_BACKOFF);
    }
    assertThat(total).isEqualTo(1504);
    assertThat(SpinBackoff.pause(512)).isEqualTo(512);
    assertThat(SpinBackoff.pause(64)).isEqualTo(128);
    assertThat(SpinBackoff.pause(2)).isEqualTo(4);
    assertThat(SpinBackoff.YIELDS).isEqualTo(3);
    assertThat(SpinBackoff.PARK_BACKSTOP_NANOS).isEqualTo(1_000_000L);
  }

  // ---- memory under long waits (issue 18, defect 6) ----

  /** Nodes on the waiter stack, counted by reflection (a snapshot; nodes are never reused). */
  static int stackNodes(SpinLock lock) throws ReflectiveOperationException {
    Field head = Class.forName("dev.weft.SpinLockState").getDeclaredField("waiters");
    head.setAccessible(true);
    Field next = SpinLock.Waiter.class.getDeclaredField("next");
    next.setAccessible(true);
    int n = 0;
    for (Object w = head.get(lock); w != null; w = next.get(w)) {
      n++;
    }
    return n;
  }

  // Every backstop wake (1 ms) used to leave the node and push a fresh one: 16 waiters and a
  // 10 s hold left 120,678 nodes. The stack must stay bounded by the number of waiters.
  @Test
  void waiterStackStaysBoundedByTheWaitersWhileTheLockIsHeldLong() throws Exception {
    SpinLock lock = new SpinLock();
    int waiters = 4;
    CountDownLatch backstopWakes = new CountDownLatch(waiters * 20);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    lock.lock();
    AutoCloseable hook =
        ProtocolWindows.install(
            w -> {
              if (w.equals("spinlock.backstop-wake")) {
                backstopWakes.countDown();
              }
            });
    try {
      for (int i = 0; i < waiters; i++) {
        ts.add(
            start(
                "long-waiter-" + i,
                () -> {
                  lock.lock();
                  lock.unlock();
                },
                failure));
      }
      for (Thread t : ts) {
        awaitBlocked(t);
      }
      // About 20 backstop wakes per waiter (20 ms); bounded so the old code fails in seconds.
      boolean woke = backstopWakes.await(3, TimeUnit.SECONDS);
      int nodes = stackNodes(lock);
      assertThat(nodes).as("waiter nodes with %d waiters", waiters).isLessThanOrEqualTo(waiters);
      assertThat(woke).as("waiters re-checked the lock on their backstop").isTrue();
    } finally {
      hook.close();
      lock.unlock();
      join(ts.toArray(new Thread[0]));
    }
    assertThat(failure.get()).isNull();
    assertThat(stackNodes(lock)).isZero();
  }

  // Cancelled waits (timeouts, interrupts) must not accumulate nodes behind a waiter that stays.
  @Test
  void cancelledWaitsLeaveNoNodesBehind() throws Exception {
    SpinLock lock = new SpinLock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    lock.lock();
    Thread stayer =
        start(
            "stayer",
            () -> {
              lock.lock();
              lock.unlock();
            },
            failure);
    try {
      awaitBlocked(stayer);
      inOtherThread(
          () -> {
            for (int i = 0; i < 50; i++) {
              assertThat(lock.tryLock(2, TimeUnit.MILLISECONDS)).isFalse();
            }
          });
      for (int i = 0; i < 10; i++) {
        Thread t =
            start(
                "interrupted-" + i,
                () -> {
                  try {
                    lock.lockInterruptibly();
                    lock.unlock();
                  } catch (InterruptedException expected) {
                    // the point of the test
                  }
                },
                failure);
        awaitBlocked(t);
        t.interrupt();
        join(t);
      }
      assertThat(stackNodes(lock)).as("nodes after 60 cancelled waits").isLessThanOrEqualTo(2);
    } finally {
      lock.unlock();
      join(stayer);
    }
    assertThat(failure.get()).isNull();
    // The query agrees: no node is left, so toString reports no parked waiters.
    assertThat(stackNodes(lock)).isZero();
    assertThat(lock).hasToString("SpinLock[unlocked]");
  }
}
