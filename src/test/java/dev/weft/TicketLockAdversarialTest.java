package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of TicketLock's unlinking of abandoned nodes (issue 18): FIFO order and
 * hand-over across abandoned nodes, unlink racing a release, and the queries that describe
 * the queue.
 */
@Timeout(60)
class TicketLockAdversarialTest extends LockAdversary {
  private final TicketLock lock = new TicketLock();

  /** Holder thread (main) waits until {@code n} live waiters are queued. */
  private void awaitQueued(int n) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (lock.queueLength() != n) {
      assertThat(System.nanoTime() - deadline).as("never %d queued", n).isNegative();
      Thread.onSpinWait();
    }
  }

  private void awaitQueuedOrDone(int n, Thread t) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (lock.queueLength() != n && t.isAlive()) {
      assertThat(System.nanoTime() - deadline).as("never %d queued", n).isNegative();
      Thread.onSpinWait();
    }
  }

  /**
   * A timed-out waiter leaves an ABANDONED node as the tail while the lock is held; the
   * queries must not report queued threads when none is waiting (ReentrantLock skips
   * cancelled nodes in hasQueuedThreads).
   */
  @Test
  void hasQueuedThreadsIsFalseAfterTheOnlyWaiterTimedOut() throws Exception {
    lock.lock();
    try {
      AtomicBoolean got = new AtomicBoolean(true);
      Thread t = start("timed", () -> got.set(lock.tryLock(20, TimeUnit.MILLISECONDS)));
      SpinLockContractTest.join(t);
      assertThat(got.get()).isFalse();
      assertThat(lock.queueLength()).as("queueLength").isZero();
      assertThat(lock.hasQueuedThreads()).as("hasQueuedThreads with nobody waiting").isFalse();
    } finally {
      lock.unlock();
    }
  }

  /** Same state, seen through toString: it must not claim queued waiters. */
  @Test
  void toStringClaimsNoQueuedWaitersAfterTheOnlyWaiterTimedOut() throws Exception {
    lock.lock();
    try {
      Thread t = start("timed", () -> lock.tryLock(20, TimeUnit.MILLISECONDS));
      SpinLockContractTest.join(t);
      assertThat(lock.toString()).as("toString").doesNotContain("queued waiters");
    } finally {
      lock.unlock();
    }
  }

  /**
   * Live waiters interleaved with waiters that abandon (timeout and interrupt) are served in
   * arrival order, and abandoned nodes are skipped, whether the holder took the fast path or
   * a queue node.
   */
  @RepeatedTest(20)
  void fifoAcrossAbandonedNodes() throws Exception {
    List<String> order = Collections.synchronizedList(new ArrayList<>());
    lock.lock();
    try {
      for (int i = 0; i < 4; i++) {
        String name = "live" + i;
        start(
            name,
            () -> {
              lock.lock();
              try {
                order.add(name);
              } finally {
                lock.unlock();
              }
            });
        awaitQueued(i + 1);
        int k = i;
        Thread ab =
            start(
                "abandon" + i,
                () -> {
                  try {
                    if (k % 2 == 0) {
                      lock.tryLock(2, TimeUnit.MILLISECONDS);
                    } else {
                      lock.lockInterruptibly();
                    }
                    if (lock.isHeldByCurrentThread()) {
                      order.add("abandoner" + k);
                      lock.unlock();
                    }
                  } catch (InterruptedException expected) {
                    // abandoned
                  }
                });
        awaitQueuedOrDone(i + 2, ab); // a timed abandoner may already have timed out
        if (k % 2 == 1) {
          ab.interrupt();
        }
        SpinLockContractTest.join(ab);
        awaitQueued(i + 1);
      }
    } finally {
      lock.unlock();
    }
    SpinLockContractTest.join(threads.toArray(new Thread[0]));
    assertThat(failure.get()).isNull();
    assertThat(order).containsExactly("live0", "live1", "live2", "live3");
    assertThat(lock.isLocked()).isFalse();
  }

  /**
   * Window-driven: B unlinks the abandoned A in front of it (CAS fastNode.next A -> B) and is
   * paused right after; the holder releases meanwhile (resetting fastNode.next and granting B).
   * B must own the lock, and the reused fast-path node must still work for later waiters.
   */
  @Test
  @SuppressWarnings("LockNotBeforeTry") // hand-overs are driven step by step from the test
  void unlinkRacingReleaseOfTheFastPathNode() throws Exception {
    CountDownLatch unlinked = new CountDownLatch(1);
    CountDownLatch resume = new CountDownLatch(1);
    AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (name.equals("ticketlock.unlinked-abandoned")
                  && Thread.currentThread().getName().equals("test-B")) {
                unlinked.countDown();
                try {
                  resume.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            });
    AtomicBoolean bGot = new AtomicBoolean();
    try {
      lock.lock(); // fast path: the holder's node is fastNode
      Thread a = start("A", () -> lock.lockInterruptibly());
      awaitQueued(1);
      Thread b =
          start(
              "B",
              () -> {
                lock.lock();
                try {
                  bGot.set(lock.isHeldByCurrentThread());
                } finally {
                  lock.unlock();
                }
              });
      awaitQueued(2);
      awaitBlocked(b);
      a.interrupt();
      SpinLockContractTest.join(a);
      java.util.concurrent.locks.LockSupport.unpark(b); // spurious wake: B unlinks A
      assertThat(unlinked.await(20, TimeUnit.SECONDS)).as("B unlinked A").isTrue();
      lock.unlock(); // release while B is between its unlink CAS and n.prev = pp
      resume.countDown();
      SpinLockContractTest.join(b);
    } finally {
      resume.countDown();
      h.close();
    }
    assertThat(bGot.get()).isTrue();
    assertThat(lock.isLocked()).isFalse();
    // the fast-path node's next incarnation is clean: hold fast, queue C, hand over
    lock.lock();
    AtomicBoolean cGot = new AtomicBoolean();
    Thread c =
        start(
            "C",
            () -> {
              lock.lock();
              try {
                cGot.set(true);
              } finally {
                lock.unlock();
              }
            });
    awaitQueued(1);
    lock.unlock();
    SpinLockContractTest.join(c);
    assertThat(cGot.get()).isTrue();
    assertThat(lock.isLocked()).isFalse();
  }

  /** Bounded stress: mixed waits with interrupts; exact count, no deadlock, ends free. */
  @Test
  void mixedWaitsKeepExclusionAndEndFree() throws Exception {
    AtomicInteger inside = new AtomicInteger();
    AtomicLong acquisitions = new AtomicLong();
    long[] counter = new long[1];
    int workers = 6;
    for (int i = 0; i < workers; i++) {
      startMixedWaitsWorker(
          "w" + i,
          lock,
          lock::isHeldByCurrentThread,
          5_000,
          300_000,
          () -> {
            if (inside.incrementAndGet() != 1) {
              throw new AssertionError("two threads inside");
            }
            counter[0]++;
            acquisitions.incrementAndGet();
            busyWait(ThreadLocalRandom.current().nextLong(0, 60_000));
            inside.decrementAndGet();
          },
          () -> {});
    }
    startInterrupter(threads, 100_000);
    runFor(Duration.ofSeconds(2));
    assertThat(failure.get()).isNull();
    System.out.println("TicketLockAdversarial: acquisitions=" + acquisitions.get());
    assertThat(lock.isLocked()).as("free after everyone stopped").isFalse();
    assertThat(lock.hasQueuedThreads()).isFalse();
    lock.lock();
    try {
      assertThat(counter[0]).isEqualTo(acquisitions.get());
    } finally {
      lock.unlock();
    }
  }
}
