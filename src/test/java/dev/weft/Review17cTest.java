package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 17 review (a helper given only the code and docs) of {@link OnceCell} and {@link
 * Lazy}: the one defect it found, which failed on the code it was written against and is fixed
 * ({@code fixed_}). The attacks that held are in {@link Review17cTestHeld}.
 */
@Timeout(60)
class Review17cTest {

  /**
   * Documented (docs/lazy.md, CONVENTIONS.md "Memory held for waiters is bounded by the number of
   * waiting threads, however long they wait"): "a waiter that times out leaves at most one node
   * behind until the next release, so the stack stays bounded by the number of waiting threads".
   *
   * <p>Schedule: two platform threads loop {@code cell.await(Duration.ofNanos(200_000))} on a
   * cell that is never set, started 100 us apart so their timeouts interleave: A pushes a1, B
   * pushes b1 on top, A times out and cancels a1 (top is B's live b1: a1 stays buried), A
   * pushes a2, B times out and cancels b1 (top is A's live a2: b1 stays buried), B pushes b2,
   * ... Each cancel pops cancelled nodes off the top only, and the top is always the other
   * thread's live node, so the stack grows by one node per timeout. Nothing is released while
   * the cell stays unset.
   *
   * <p>Numbers (JDK 17, 2 vCPUs, standalone probe, 2 s): 2 waiters reached 4029, 5976 and 2338
   * nodes (bound: 4); 4 waiters reached 24571, 28103, 28413 nodes. This test: fails 3 of 3 (it
   * stops sampling once the count passes 64). JDK analogue: {@code CountDownLatch.await(timeout)}
   * (AQS) unlinks a cancelled node from wherever it is in the queue ({@code cancelAcquire} /
   * {@code cleanQueue}), so its queue stays bounded by the number of waiters.
   *
   * <p>Cause (guess confirmed by reading): {@code OnceCellCore.cancel} and {@code push} only
   * pop cancelled nodes from the top of the Treiber stack; a cancelled node under a live node
   * is never unlinked, and the "at most one left node per waiter" argument assumes a live
   * waiter's node is pushed once and stays, which fails when the live waiters are themselves
   * timed waiters that keep re-pushing on top. A fix must unlink buried cancelled nodes (e.g.
   * a sweep of the stack on cancel, as AQS/{@code SynchronousQueue} clean), or count them and
   * sweep when the count exceeds the live waiters.
   *
   * <p>Fixed (session 17): {@code cancel} now sweeps the stack and unlinks every cancelled node
   * when a live node is on top (as FutureTask's removeWaiter does). This test failed 3 of 3
   * before (and once more on the review's copy, JDK 17); the probe: 8 threads, 57,000 nodes in 2 s
   * before, at most 8 after, at the same rate of timed waits
   * (results/2026-12-05-epyc-2c-oncecell-waiter-sweep).
   */
  @Test
  void fixed_timedAwaitersLeaveUnboundedNodesInTheWaiterStack() throws Exception {
    OnceCell<Integer> cell = new OnceCell<>();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread[] waiters = new Thread[2];
    int max = 0;
    try {
      for (int i = 0; i < waiters.length; i++) {
        waiters[i] =
            new Thread(
                () -> {
                  try {
                    while (!stop.get()) {
                      cell.await(Duration.ofNanos(200_000));
                    }
                  } catch (Throwable t) {
                    failure.set(t);
                  }
                },
                "timed-waiter-" + i);
        waiters[i].start();
        LockSupport.parkNanos(100_000); // offset the phases so the timeouts interleave
      }
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
      while (System.nanoTime() - end < 0 && max <= 64) {
        max = Math.max(max, cell.waiterCount());
        LockSupport.parkNanos(1_000_000);
      }
    } finally {
      stop.set(true);
      for (Thread t : waiters) {
        if (t != null) {
          t.join(TimeUnit.SECONDS.toMillis(10));
          assertThat(t.isAlive()).as("waiter ended").isFalse();
        }
      }
    }
    assertThat(failure.get()).isNull();
    assertThat(max)
        .as("nodes in the waiter stack of an unset cell with 2 timed waiters (2 live + 2 left)")
        .isLessThanOrEqualTo(4);
  }
}
