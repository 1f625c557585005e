package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link WaitingRoom}, SeqLock's writers' waiting room since session 16: FIFO grants, timed and
 * interrupted waiters that leave without the room and without waking anyone, and a holder's exit
 * that withdraws waiters past their deadline. The end-to-end check of why it exists (timed
 * writers on one carrier) is Review15Test's fixed_ test; its memory effects are in the jcstress
 * module (WaitingRoomExclusionStress, WaitingRoomGrantOrWithdrawStress).
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class WaitingRoomTest {
  private static final long FAR = Long.MAX_VALUE; // an untimed call's unused deadline

  private static boolean enterUntimed(WaitingRoom room) {
    try {
      return room.enter(room, false, false, 0L);
    } catch (InterruptedException e) {
      throw new AssertionError("uninterruptible enter threw", e);
    }
  }

  /**
   * Starts a platform thread that enters the room (untimed), counts {@code in} down, and exits;
   * returns once it is queued (parked on the room).
   */
  private static Thread queueEnterer(WaitingRoom room, String name, CountDownLatch in) {
    Thread t =
        new Thread(
            () -> {
              enterUntimed(room);
              in.countDown();
              room.exit();
            },
            name);
    t.start();
    Waits.awaitParkedOn(t, room);
    return t;
  }

  @Test
  void aFreeRoomIsEnteredAtOnceAndFreedByExit() throws Exception {
    WaitingRoom room = new WaitingRoom();
    assertThat(room.enter(room, true, true, System.nanoTime())).isTrue(); // free: no wait
    assertThat(room.isOccupied()).isTrue();
    room.exit();
    assertThat(room.isOccupied()).isFalse();
    assertThat(room.queuedNodes()).isZero();
  }

  @Test
  void anElapsedDeadlineOnAHeldRoomReturnsFalseWithoutQueueing() throws Exception {
    WaitingRoom room = new WaitingRoom();
    assertThat(enterUntimed(room)).isTrue();
    assertThat(room.enter(room, true, true, System.nanoTime() - 1)).isFalse();
    assertThat(room.queuedNodes()).isZero();
    room.exit();
    assertThat(room.isOccupied()).isFalse();
  }

  /** Three waiters queued in a known order get the room in that order, each by a grant. */
  @Test
  void exitGrantsTheRoomInFifoOrder() throws Exception {
    WaitingRoom room = new WaitingRoom();
    assertThat(enterUntimed(room)).isTrue();
    List<String> order = new CopyOnWriteArrayList<>();
    List<Thread> waiters = new ArrayList<>();
    for (String name : new String[] {"a", "b", "c"}) {
      Thread t =
          new Thread(
              () -> {
                enterUntimed(room);
                order.add(name);
                room.exit();
              },
              "test-room-" + name);
      t.start();
      Waits.awaitParkedOn(t, room); // queued before the next one starts
      waiters.add(t);
    }
    assertThat(room.queuedNodes()).isEqualTo(3);
    room.exit();
    for (Thread t : waiters) {
      t.join(10_000);
      assertThat(t.isAlive()).isFalse();
    }
    assertThat(order).containsExactly("a", "b", "c");
    assertThat(room.isOccupied()).isFalse();
    assertThat(room.queuedNodes()).isZero();
  }

  /**
   * A timed waiter that runs out of time leaves without the room and unlinks its node; an
   * untimed waiter queued behind it gets the room at the holder's exit, once.
   */
  @Test
  void aTimedOutWaiterLeavesWithoutTheRoomAndWakesNobody() throws Exception {
    WaitingRoom room = new WaitingRoom();
    assertThat(enterUntimed(room)).isTrue();
    CountDownLatch timedQueued = new CountDownLatch(1);
    AtomicReference<@Nullable Boolean> timedResult = new AtomicReference<>();
    Thread timed =
        new Thread(
            () -> {
              try {
                timedQueued.countDown();
                timedResult.set(
                    room.enter(room, true, true, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(200)));
              } catch (InterruptedException e) {
                throw new AssertionError(e);
              }
            },
            "test-room-timed");
    timed.start();
    Waits.awaitParkedOn(timed, room);
    CountDownLatch untimedIn = new CountDownLatch(1);
    Thread untimed = queueEnterer(room, "test-room-untimed", untimedIn);
    timed.join(10_000);
    assertThat(timedResult.get()).isFalse();
    assertThat(room.queuedNodes()).as("the timed waiter unlinked its node").isEqualTo(1);
    room.exit();
    assertThat(untimedIn.await(10, TimeUnit.SECONDS)).isTrue();
    untimed.join(10_000);
    assertThat(untimedIn.getCount()).isZero(); // it got in once
    assertThat(room.isOccupied()).isFalse();
    assertThat(room.queuedNodes()).isZero();
  }

  /**
   * A holder's exit withdraws a timed waiter whose deadline has passed instead of granting it
   * the room, and grants the next one. The timed waiter is a virtual thread kept from running
   * past its deadline by carrier hogs (every carrier busy), so it cannot give itself up: only the
   * exit can. The next waiter, a platform thread, must get the room while the hogs still run;
   * with a grant to the late waiter (this class's first version) it would wait until the late
   * waiter got a carrier, ran, and passed the room on.
   */
  @Test
  void exitSkipsAWaiterPastItsDeadlineAndGrantsTheNext() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    WaitingRoom room = new WaitingRoom();
    assertThat(enterUntimed(room)).isTrue();
    AtomicReference<@Nullable Boolean> timedResult = new AtomicReference<>();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(50);
    Thread late =
        SpinLockHandOverReviewTest.startVirtual(
            "test-room-late",
            () -> {
              try {
                timedResult.set(room.enter(room, true, true, deadline));
              } catch (InterruptedException e) {
                throw new AssertionError(e);
              }
            });
    Waits.awaitParkedOn(late, room);
    CountDownLatch nextIn = new CountDownLatch(1);
    Thread next = queueEnterer(room, "test-room-next", nextIn);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicBoolean escaped = new AtomicBoolean();
    List<Thread> hogs =
        VirtualThreadReviewSupport.startCarrierHogs(
            "test-room-hog", stop::get, Duration.ofSeconds(10), escaped);
    boolean nextGotIn;
    try {
      // Wait out the deadline (a stimulus: the late waiter cannot run to see it).
      while (System.nanoTime() - deadline < 0L) {
        Thread.onSpinWait();
      }
      room.exit();
      nextGotIn = nextIn.await(5, TimeUnit.SECONDS);
    } finally {
      stop.set(true);
      for (Thread h : hogs) {
        h.join(10_000);
      }
    }
    late.join(10_000);
    next.join(10_000);
    assertThat(nextGotIn)
        .as("the next waiter got the room while the late one could not run (hogs escaped: %s)",
            escaped.get())
        .isTrue();
    assertThat(timedResult.get()).isFalse();
    assertThat(room.isOccupied()).isFalse();
    assertThat(room.queuedNodes()).isZero();
  }

  @Test
  void anInterruptibleWaiterThrowsAndTheNextWaiterIsStillGranted() throws Exception {
    WaitingRoom room = new WaitingRoom();
    assertThat(enterUntimed(room)).isTrue();
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    Thread interruptible =
        new Thread(
            () -> {
              try {
                room.enter(room, true, false, 0L);
              } catch (InterruptedException e) {
                thrown.set(e);
              }
            },
            "test-room-interruptible");
    interruptible.start();
    Waits.awaitParkedOn(interruptible, room);
    CountDownLatch nextIn = new CountDownLatch(1);
    Thread next = queueEnterer(room, "test-room-after", nextIn);
    interruptible.interrupt();
    interruptible.join(10_000);
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    room.exit();
    assertThat(nextIn.await(10, TimeUnit.SECONDS)).isTrue();
    next.join(10_000);
    assertThat(room.isOccupied()).isFalse();
    assertThat(room.queuedNodes()).isZero();
  }

  @Test
  void anUninterruptibleWaiterKeepsItsInterruptAndEnters() throws Exception {
    WaitingRoom room = new WaitingRoom();
    assertThat(enterUntimed(room)).isTrue();
    AtomicReference<@Nullable Boolean> interruptedInside = new AtomicReference<>();
    Thread waiter =
        new Thread(
            () -> {
              enterUntimed(room);
              interruptedInside.set(Thread.currentThread().isInterrupted());
              room.exit();
            },
            "test-room-uninterruptible");
    waiter.start();
    Waits.awaitParkedOn(waiter, room);
    waiter.interrupt();
    // It must park again (not spin on the set status) and stay queued until the exit.
    Waits.awaitParkedOn(waiter, room);
    assertThat(room.queuedNodes()).isEqualTo(1);
    room.exit();
    waiter.join(10_000);
    assertThat(waiter.isAlive()).isFalse();
    assertThat(interruptedInside.get()).isTrue();
    assertThat(room.isOccupied()).isFalse();
  }

  /**
   * An interrupt already set: a free room is entered with the status kept (SeqLockCore's
   * acquireSlow checks it before any wait); a held room makes an interruptible enter throw at
   * once, with no node left behind.
   */
  @Test
  void anInterruptAlreadySetEntersAFreeRoomAndThrowsOnAHeldOne() throws Exception {
    WaitingRoom room = new WaitingRoom();
    Thread.currentThread().interrupt();
    try {
      assertThat(room.enter(room, true, false, 0L)).isTrue();
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
      assertThatThrownBy(() -> room.enter(room, true, false, 0L))
          .isInstanceOf(InterruptedException.class);
      assertThat(room.queuedNodes()).isZero();
    } finally {
      Thread.interrupted();
    }
    room.exit();
    assertThat(room.isOccupied()).isFalse();
  }

  /**
   * Many threads, platform and virtual, in untimed, interruptible and short timed enters (1-50
   * us, so grants race with deadlines and exits withdraw late waiters): at most one thread is
   * ever in the room, every untimed enter gets in, and at the end the room is free with no node
   * left behind (a grant lost to a cancellation would leave it occupied with nobody in it, and
   * every later enter would wait for good: the @Timeout).
   */
  @Test
  void mixedWaitersNeverShareTheRoomAndLeaveItFree() throws Exception {
    WaitingRoom room = new WaitingRoom();
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger maxInside = new AtomicInteger();
    AtomicInteger entries = new AtomicInteger();
    AtomicInteger untimedEntries = new AtomicInteger();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    int threads = 8;
    int each = 2_000;
    List<Thread> all = new ArrayList<>();
    CountDownLatch go = new CountDownLatch(1);
    for (int i = 0; i < threads; i++) {
      int kind = i % 4; // 0 untimed, 1 interruptible, 2-3 timed
      Runnable body =
          () -> {
            try {
              go.await();
              ThreadLocalRandom rnd = ThreadLocalRandom.current();
              for (int k = 0; k < each; k++) {
                boolean in;
                if (kind == 0) {
                  in = enterUntimed(room);
                } else if (kind == 1) {
                  in = room.enter(room, true, false, FAR);
                } else {
                  in = room.enter(room, true, true, System.nanoTime() + rnd.nextLong(1_000, 50_000));
                }
                if (!in) {
                  continue;
                }
                int now = inside.incrementAndGet();
                maxInside.accumulateAndGet(now, Math::max);
                entries.incrementAndGet();
                if (kind == 0) {
                  untimedEntries.incrementAndGet();
                }
                if ((k & 7) == 0) {
                  LockSupport.parkNanos(1_000L); // hold it a little, so others queue
                }
                inside.decrementAndGet();
                room.exit();
              }
            } catch (Throwable e) {
              failure.compareAndSet(null, e);
            }
          };
      if ((i & 1) == 0 || Runtime.version().feature() < 21) {
        Thread t = new Thread(body, "test-room-mixed-" + i);
        t.start();
        all.add(t);
      } else {
        all.add(SpinLockHandOverReviewTest.startVirtual("test-room-mixed-" + i, body));
      }
    }
    go.countDown();
    for (Thread t : all) {
      t.join(20_000);
      assertThat(t.isAlive()).as("%s finished", t.getName()).isFalse();
    }
    assertThat(failure.get()).isNull();
    assertThat(maxInside.get()).isEqualTo(1);
    assertThat(untimedEntries.get()).isEqualTo(2 * each); // threads 0 and 4
    assertThat(entries.get()).isGreaterThanOrEqualTo(4 * each); // untimed + interruptible
    assertThat(room.isOccupied()).isFalse();
    assertThat(room.queuedNodes()).isZero();
  }
}
