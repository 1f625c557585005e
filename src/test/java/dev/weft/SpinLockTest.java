package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
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
}
