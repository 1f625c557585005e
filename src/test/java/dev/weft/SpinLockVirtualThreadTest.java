package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link SpinLock} with virtual threads whose holder unmounts inside its critical section
 * (JDK 21+; skipped on older JDKs).
 *
 * <p>Regression for session 12's finding: virtual threads in loops of {@code tryLock(100 µs)}
 * kept yielding (each timed try ran out inside the lock's yield phase and was retried at once),
 * and a virtual thread's {@code Thread.yield()} requeues it on its carrier's local queue, which
 * the scheduler drains before its external queue, where a holder woken by its sleep's timer
 * waits. On JDK 25 with 2 carriers the run below completed 912 of 19,200 acquisitions in 30 s
 * (unfair {@code ReentrantLock}: all of them in 0.15&ndash;0.25 s). Virtual threads now skip the
 * yield phase and park.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@SuppressWarnings("LockNotBeforeTry") // the timed acquisition is retried in a loop on purpose
class SpinLockVirtualThreadTest {

  @Test
  void timedRetryLoopsDoNotStarveAHolderThatSleepsInsideTheLock() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    SpinLock lock = new SpinLock();
    int carriers =
        Integer.getInteger(
            "jdk.virtualThreadScheduler.parallelism", Runtime.getRuntime().availableProcessors());
    int threads = 32 * Math.max(2, carriers); // half in timed retry loops, half in lock()
    int each = 300;
    long[] count = new long[1]; // guarded by lock
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(threads);
    List<Thread> started = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      boolean timed = i % 2 == 0;
      started.add(
          SpinLockHandOverReviewTest.startVirtual(
              "vt-" + i,
              () -> {
                try {
                  assertThat(go.await(20, TimeUnit.SECONDS)).isTrue();
                  for (int k = 0; k < each && !stop.get(); k++) {
                    if (timed) {
                      while (!lock.tryLock(100, TimeUnit.MICROSECONDS)) {
                        if (stop.get()) {
                          return;
                        }
                      }
                    } else {
                      lock.lock();
                    }
                    try {
                      if ((++count[0] & 15) == 0) {
                        LockSupport.parkNanos(1_000L); // unmounts: woken by the timer thread
                      }
                    } finally {
                      lock.unlock();
                    }
                  }
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                } finally {
                  done.countDown();
                }
              }));
    }
    long start = System.nanoTime();
    go.countDown();
    boolean finished = done.await(15, TimeUnit.SECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    stop.set(true); // a starved run ends its retry loops, so every thread ends below
    for (Thread t : started) {
      t.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(t.isAlive()).as("%s still running after the test", t.getName()).isFalse();
    }
    assertThat(failure.get()).as("a virtual thread failed").isNull();
    long acquired;
    lock.lock();
    try {
      acquired = count[0];
    } finally {
      lock.unlock();
    }
    assertThat(finished)
        .as(
            "%d virtual threads x %d acquisitions did not finish in 15 s (%d of %d done after"
                + " %d ms): the holder's wake-up was starved",
            threads, each, acquired, (long) threads * each, millis)
        .isTrue();
    assertThat(acquired).isEqualTo((long) threads * each);
  }
}
