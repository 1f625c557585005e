package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of SpinLock's waiter stack (one node per wait, sweeper unlinking LEFT
 * nodes, unlockers popping concurrently). Workers mix lock(), timed tryLock and
 * lockInterruptibly under an interrupter, so nodes go LEFT in the middle of the stack, sweeps
 * race unlockers' pops, signals race leaves and are passed on. Through the protocol windows
 * every parked waiter checks, at each wake without a signal, that (1) its WAITING node is
 * still reachable from the stack top, and (2) the "lost wake-up" signature is absent: a
 * release happened after it parked, nobody acquired since, the lock is free and no wakeup is
 * in flight.
 */
@Timeout(60)
class SpinLockAdversarialTest extends LockAdversary {
  private final SpinLock lock = new SpinLock();
  private final AtomicLong acquisitions = new AtomicLong();
  private final AtomicLong releases = new AtomicLong();
  private final AtomicInteger inside = new AtomicInteger();
  private long counter; // guarded by lock
  private volatile long lastRelease;
  private final AtomicLong unlocksDone = new AtomicLong();

  private final AtomicLong backstopWakes = new AtomicLong();
  private final AtomicLong lostWakeSignatures = new AtomicLong();
  private final AtomicLong unreachableWaiting = new AtomicLong();
  private final AtomicLong tracked = new AtomicLong();
  private static final ThreadLocal<SpinLock.Waiter> MY_NODE = new ThreadLocal<>();
  private static final ThreadLocal<long[]> PARK_SNAPSHOT = new ThreadLocal<>();

  private static boolean reachable(SpinLock lock, SpinLock.Waiter target) {
    int steps = 0;
    for (SpinLock.Waiter x = lock.waiters; x != null; x = x.nextAcquire()) {
      if (x == target) {
        return true;
      }
      if (++steps > 100_000) {
        throw new AssertionError("waiter stack has a cycle or is huge");
      }
    }
    return false;
  }

  private static SpinLock.Waiter findWaiting(SpinLock lock, Thread me) {
    for (SpinLock.Waiter x = lock.waiters; x != null; x = x.nextAcquire()) {
      if (x.thread == me && !x.hasLeft() && !x.wasSignalled()) {
        return x;
      }
    }
    return null;
  }

  static int stackSize(SpinLock lock) {
    int n = 0;
    for (SpinLock.Waiter x = lock.waiters; x != null; x = x.nextAcquire()) {
      n++;
    }
    return n;
  }

  private void window(String name) {
    Thread me = Thread.currentThread();
    if (!me.getName().startsWith("test-w")) {
      return;
    }
    switch (name) {
      case "spinlock.spin" -> MY_NODE.remove();
      case "spinlock.park" -> {
        SpinLock.Waiter w = MY_NODE.get();
        if (w == null || w.hasLeft() || w.wasSignalled()) {
          w = findWaiting(lock, me);
          if (w != null) {
            MY_NODE.set(w);
            tracked.incrementAndGet();
          } else {
            MY_NODE.remove();
          }
        }
        PARK_SNAPSHOT.set(new long[] {releases.get(), acquisitions.get(), unlocksDone.get()});
      }
      case "spinlock.backstop-wake" -> {
        backstopWakes.incrementAndGet();
        long[] snap = PARK_SNAPSHOT.get();
        if (snap != null
            && unlocksDone.get() > snap[2]
            && acquisitions.get() == snap[1]
            && !lock.isLocked()
            && !lock.waking) {
          // Persisting for 300 us with nobody acquiring and no wakeup in flight: lost.
          long until = System.nanoTime() + 300_000;
          boolean progress = false;
          while (System.nanoTime() - until < 0) {
            if (acquisitions.get() != snap[1] || lock.isLocked() || lock.waking) {
              progress = true;
              break;
            }
            Thread.onSpinWait();
          }
          if (!progress) {
            lostWakeSignatures.incrementAndGet();
            StringBuilder sb = new StringBuilder("LOST? sinceRelease_us=")
                .append((System.nanoTime() - lastRelease) / 1000)
                .append(" me=").append(me.getName()).append(" stack=[");
            for (SpinLock.Waiter x = lock.waiters; x != null; x = x.nextAcquire()) {
              sb.append(x.thread.getName())
                  .append(x.hasLeft() ? ":L" : x.wasSignalled() ? ":S" : ":W")
                  .append(' ');
            }
            sb.append("] threads=");
            for (Thread t : threads) {
              sb.append(t.getName()).append(':').append(t.getState()).append(' ');
            }
            System.out.println(sb);
          }
        }
        SpinLock.Waiter w = MY_NODE.get();
        if (w != null && !reachable(lock, w)) {
          // popped-but-not-yet-signalled is legal for a moment; a lost node stays WAITING. The
          // moment lasts as long as the popping thread is preempted between its pop and its
          // signal: 7.6-8.9 ms was seen on 2 cores with 6 busy threads (since issue 20 give-ups
          // pop and signal too), so allow 300 ms; a lost node never becomes reachable again.
          long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
          while (!w.wasSignalled() && System.nanoTime() - until < 0 && !reachable(lock, w)) {
            Thread.onSpinWait();
          }
          if (!w.wasSignalled() && !reachable(lock, w)) {
            unreachableWaiting.incrementAndGet();
          }
        }
      }
      default -> {}
    }
  }

  private void criticalSection(long holdNanos) {
    if (inside.incrementAndGet() != 1) {
      throw new AssertionError("two threads inside the critical section");
    }
    acquisitions.incrementAndGet();
    counter++;
    busyWait(holdNanos);
    inside.decrementAndGet();
    lastRelease = System.nanoTime();
    releases.incrementAndGet();
  }

  @Test
  void mixedWaitsNeverLoseAWaitingNodeOrAWakeup() throws Exception {
    int workers = 5;
    AutoCloseable h = ProtocolWindows.install(this::window);
    try {
      for (int i = 0; i < workers; i++) {
        startMixedWaitsWorker(
            "w" + i,
            lock,
            lock::isHeldByCurrentThread,
            20_000,
            400_000,
            () -> criticalSection(ThreadLocalRandom.current().nextLong(0, 150_000)),
            unlocksDone::incrementAndGet);
      }
      startInterrupter(threads, 150_000);
      runFor(Duration.ofSeconds(2));
    } finally {
      h.close();
    }
    System.out.printf(
        "SpinLockAdversarial: acq=%d backstopWakes=%d lostWakeSignatures=%d tracked=%d"
            + " unreachable=%d stackAfter=%d waking=%b sweeps=%d%n",
        acquisitions.get(),
        backstopWakes.get(),
        lostWakeSignatures.get(),
        tracked.get(),
        unreachableWaiting.get(),
        stackSize(lock),
        lock.waking,
        lock.sweepRequests);
    assertThat(failure.get()).as("failure in a thread").isNull();
    assertThat(lock.isLocked()).isFalse();
    assertThat(counter).isEqualTo(acquisitions.get());
    assertThat(tracked.get()).as("the check ran").isPositive();
    assertThat(unreachableWaiting.get()).as("WAITING nodes unreachable from the top").isZero();
    assertThat(lostWakeSignatures.get()).as("lost wake-up signatures").isZero();
    assertThat(lock.waking).as("no wakeup in flight after quiescence").isFalse();
    assertThat(lock.sweepRequests).as("no sweep pending after quiescence").isZero();
    assertThat(stackSize(lock)).as("waiter stack empty after every wait ended").isZero();
  }
}
