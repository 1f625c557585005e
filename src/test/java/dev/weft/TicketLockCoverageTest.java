package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Closes coverage gaps of {@link TicketLock}: lockInterruptibly that succeeds. */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TicketLockCoverageTest {
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
