package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 16 review of {@link WaitingRoom} and SeqLock's use of it: attacks that did NOT find a
 * defect (JDK 17 and 25, 2-core VM). Bounded; each stops and joins its threads. No attack of
 * this review found a defect, so there is no Review16Test.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class Review16TestHeld {

  private static final int OUT = 0;
  private static final int IN = 1;
  private static final int TIMED_OUT = 2;
  private static final int THREW = 3;

  /** Busy-waits (bounded by the test timeout) until {@code flag} is set; no sleep. */
  private static void spinUntil(AtomicBoolean flag) {
    while (!flag.get()) {
      Thread.onSpinWait();
    }
  }

  /** Busy-waits until System.nanoTime() reaches {@code t}. */
  private static void spinUntilTime(long t) {
    while (System.nanoTime() - t < 0) {
      Thread.onSpinWait();
    }
  }

  private static void join(Thread t) throws InterruptedException {
    t.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(t.isAlive()).as(t.getName() + " ended").isFalse();
  }

  private static void assertFreeAndEmpty(WaitingRoom room) {
    assertThat(room.isOccupied()).as("room free at the end").isFalse();
    assertThat(room.queuedNodes()).as("no node left in the queue").isZero();
  }

  /**
   * Claims 3 and 5, exit racing a deadline. Each of 3,000 rounds: the main thread holds the
   * room; a platform waiter T enters with a deadline 150 us away; the holder spins until a
   * random point between 100 us before and 30 us after that deadline and exits. Asserts in every
   * round: T returns {@code true} only while nobody else is inside (an {@code inside} counter),
   * returns {@code false} only at or after its deadline (by its own clock after the return), and
   * the room ends free with no node. Both outcomes occur (about half each here), so the race
   * between the exit's withdrawal/grant and the waiter's own give-up is exercised. Held.
   */
  @Test
  void exitRacingATimedWaitersDeadlineNeverMisgrants() throws Exception {
    int rounds = 3_000;
    int[] outcomes = new int[4];
    AtomicInteger inside = new AtomicInteger();
    for (int round = 0; round < rounds; round++) {
      WaitingRoom room = new WaitingRoom();
      assertThat(room.enter(room, false, false, 0L)).isTrue();
      inside.incrementAndGet();
      long deadline = System.nanoTime() + 150_000L;
      AtomicInteger outcome = new AtomicInteger(OUT);
      AtomicLong returnedAt = new AtomicLong();
      AtomicReference<@Nullable String> bad = new AtomicReference<>();
      Thread t =
          new Thread(
              () -> {
                try {
                  boolean in = room.enter(room, true, true, deadline);
                  returnedAt.set(System.nanoTime());
                  if (in) {
                    if (inside.incrementAndGet() != 1) {
                      bad.set("two inside");
                    }
                    if (!room.isOccupied()) {
                      bad.set("inside but room free");
                    }
                    inside.decrementAndGet();
                    outcome.set(IN);
                    room.exit();
                  } else {
                    outcome.set(TIMED_OUT);
                  }
                } catch (InterruptedException e) {
                  outcome.set(THREW);
                }
              },
              "r16-timed-" + round);
      t.start();
      long jitter = ThreadLocalRandom.current().nextLong(-100_000L, 30_000L);
      spinUntilTime(deadline + jitter);
      inside.decrementAndGet();
      room.exit();
      join(t);
      assertThat(bad.get()).as("round " + round).isNull();
      int o = outcome.get();
      assertThat(o).as("round " + round).isIn(IN, TIMED_OUT);
      if (o == TIMED_OUT) {
        assertThat(returnedAt.get() - deadline).as("false only past the deadline").isNotNegative();
      }
      outcomes[o]++;
      assertFreeAndEmpty(room);
    }
    assertThat(outcomes[IN]).as("rounds granted").isPositive();
    assertThat(outcomes[TIMED_OUT]).as("rounds timed out").isPositive();
  }

  /**
   * Claim 4, exit racing an interrupt. 3,000 rounds: main holds the room; a platform waiter T
   * enters (interruptible in even rounds, uninterruptible in odd ones); in half the rounds main
   * first waits until T is parked on the room, in the others T may still be queueing; then an
   * interrupter thread and main (exit) are released together by a flag, each after its own
   * random spin of 0-20 us. Asserts: an interruptible T either throws (and never held the room)
   * or enters; an uninterruptible T always enters and, once the interrupter has finished, still
   * sees its interrupt status set; the room ends free with no node. Both interruptible outcomes
   * occur. Held.
   */
  @Test
  void exitRacingAnInterruptKeepsTheRoomConsistent() throws Exception {
    int rounds = 3_000;
    int[] outcomes = new int[4];
    for (int round = 0; round < rounds; round++) {
      WaitingRoom room = new WaitingRoom();
      assertThat(room.enter(room, false, false, 0L)).isTrue();
      boolean interruptible = (round & 1) == 0;
      AtomicBoolean go = new AtomicBoolean();
      AtomicBoolean interruptDone = new AtomicBoolean();
      AtomicInteger outcome = new AtomicInteger(OUT);
      AtomicReference<@Nullable String> bad = new AtomicReference<>();
      Thread t =
          new Thread(
              () -> {
                try {
                  boolean in = room.enter(room, interruptible, false, 0L);
                  if (!in) {
                    bad.set("untimed enter returned false");
                    return;
                  }
                  outcome.set(IN);
                  if (!interruptible) {
                    spinUntil(interruptDone);
                    if (!Thread.currentThread().isInterrupted()) {
                      bad.set("uninterruptible enter lost the interrupt");
                    }
                  }
                  room.exit();
                } catch (InterruptedException e) {
                  if (!interruptible) {
                    bad.set("uninterruptible enter threw");
                  }
                  outcome.set(THREW);
                }
              },
              "r16-intr-" + round);
      Thread interrupter =
          new Thread(
              () -> {
                spinUntil(go);
                long until = System.nanoTime() + ThreadLocalRandom.current().nextLong(20_000L);
                spinUntilTime(until);
                t.interrupt();
                interruptDone.set(true);
              },
              "r16-interrupter-" + round);
      t.start();
      interrupter.start();
      if ((round & 2) == 0) {
        Waits.awaitParkedOn(t, room);
      }
      go.set(true);
      if ((round & 4) != 0) {
        // Every other pair of rounds, the interrupt lands before the exit: so an interruptible
        // waiter throws in some rounds however the two random spins below fall. With both cores
        // busy (another test JVM on the machine), the interrupter ran after the exit in all
        // 1,500 interruptible rounds of a run (session 20): the coverage check below failed.
        spinUntil(interruptDone);
      }
      spinUntilTime(System.nanoTime() + ThreadLocalRandom.current().nextLong(20_000L));
      room.exit();
      join(interrupter);
      join(t);
      assertThat(bad.get()).as("round " + round).isNull();
      outcomes[outcome.get()]++;
      assertFreeAndEmpty(room);
    }
    assertThat(outcomes[THREW]).as("rounds where the waiter threw").isPositive();
    assertThat(outcomes[IN]).as("rounds where the waiter entered").isPositive();
  }

  /**
   * Claims 1, 2 and 4 together: 6 platform threads for 1.5 s, each looping enter/exit with a
   * random mode per call (untimed uninterruptible, untimed interruptible, timed 0-40 us, timed
   * 0-40 us uninterruptible), plus a thread interrupting a random one every ~20 us. Inside, an
   * {@code inside} counter must be 1 and the room occupied. At the end the room is free and
   * empty. Typically ~10^6 entries, thousands of time-outs and interrupts. Held.
   */
  @Test
  void mixedPlatformStormKeepsExclusionAndEndsFree() throws Exception {
    WaitingRoom room = new WaitingRoom();
    storm(room, false, 6, 1_500);
    assertFreeAndEmpty(room);
  }

  /** The same storm with 16 virtual threads (default carriers, JDK 21+). Held. */
  @Test
  void mixedVirtualStormKeepsExclusionAndEndsFree() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    WaitingRoom room = new WaitingRoom();
    storm(room, true, 16, 1_500);
    assertFreeAndEmpty(room);
  }

  private static void storm(WaitingRoom room, boolean virtual, int n, long millis)
      throws Exception {
    AtomicInteger inside = new AtomicInteger();
    AtomicLong entries = new AtomicLong();
    AtomicLong timeouts = new AtomicLong();
    AtomicLong thrown = new AtomicLong();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicBoolean stop = new AtomicBoolean();
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Runnable body =
          () -> {
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            try {
              while (System.nanoTime() - end < 0) {
                int mode = rnd.nextInt(4);
                boolean interruptible = mode == 1 || mode == 2;
                boolean timed = mode >= 2;
                long deadline = timed ? System.nanoTime() + rnd.nextLong(40_000L) : 0L;
                boolean in;
                try {
                  in = room.enter(room, interruptible, timed, deadline);
                } catch (InterruptedException e) {
                  thrown.incrementAndGet();
                  continue;
                }
                if (!in) {
                  if (System.nanoTime() - deadline < 0) {
                    throw new AssertionError("false before the deadline");
                  }
                  timeouts.incrementAndGet();
                  continue;
                }
                try {
                  if (inside.incrementAndGet() != 1) {
                    throw new AssertionError("two threads inside the room");
                  }
                  if (!room.isOccupied()) {
                    throw new AssertionError("inside, but the room reads free");
                  }
                  entries.incrementAndGet();
                  if (rnd.nextInt(64) == 0) {
                    LockSupport.parkNanos(5_000L); // unmount/park inside sometimes
                  }
                  inside.decrementAndGet();
                } finally {
                  room.exit();
                }
                Thread.interrupted(); // clear a stray interrupt between rounds
              }
            } catch (Throwable e) {
              failure.compareAndSet(null, e);
            } finally {
              Thread.interrupted();
            }
          };
      threads.add(
          virtual
              ? SpinLockHandOverReviewTest.startVirtual("r16-storm-" + i, body)
              : startPlatform("r16-storm-" + i, body));
    }
    Thread interrupter =
        startPlatform(
            "r16-storm-interrupter",
            () -> {
              ThreadLocalRandom rnd = ThreadLocalRandom.current();
              while (!stop.get()) {
                threads.get(rnd.nextInt(threads.size())).interrupt();
                LockSupport.parkNanos(20_000L);
              }
            });
    for (Thread t : threads) {
      join(t);
    }
    stop.set(true);
    join(interrupter);
    if (failure.get() != null) {
      throw new AssertionError("a storm thread failed", failure.get());
    }
    assertThat(entries.get()).isPositive();
    assertThat(timeouts.get() + thrown.get()).as("give-ups exercised").isPositive();
  }

  private static Thread startPlatform(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.start();
    return t;
  }

  /**
   * Claim 3 with a frozen grantee: main holds the room; virtual waiter T enters with a deadline
   * 100 ms away and parks; a platform waiter U queues behind it; carrier hogs then take every
   * carrier, and main exits at once, so the exit grants T (deadline not passed) while T cannot
   * run. Main waits until T's deadline has passed by 50 ms (T still frozen; U must still be out,
   * the room still occupied), then stops the hogs. T must return {@code true} although its
   * deadline passed (it was granted), hold the room alone, and its exit must grant U. Held.
   */
  @Test
  void aGranteeFrozenPastItsDeadlineStillEntersAndPassesTheRoomOn() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    WaitingRoom room = new WaitingRoom();
    assertThat(room.enter(room, false, false, 0L)).isTrue();
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
    AtomicReference<@Nullable Boolean> tResult = new AtomicReference<>();
    AtomicBoolean uIn = new AtomicBoolean();
    AtomicBoolean tSawUOut = new AtomicBoolean();
    Thread t =
        SpinLockHandOverReviewTest.startVirtual(
            "r16-frozen-grantee",
            () -> {
              try {
                boolean in = room.enter(room, true, true, deadline);
                tResult.set(in);
                if (in) {
                  tSawUOut.set(!uIn.get());
                  room.exit();
                }
              } catch (InterruptedException e) {
                throw new AssertionError(e);
              }
            });
    Waits.awaitParkedOn(t, room);
    CountDownLatch uEntered = new CountDownLatch(1);
    Thread u =
        startPlatform(
            "r16-behind",
            () -> {
              try {
                assertThat(room.enter(room, false, false, 0L)).isTrue();
              } catch (InterruptedException e) {
                throw new AssertionError(e);
              }
              uIn.set(true);
              uEntered.countDown();
              room.exit();
            });
    Waits.awaitParkedOn(u, room);
    AtomicBoolean stopHogs = new AtomicBoolean();
    AtomicBoolean escaped = new AtomicBoolean();
    List<Thread> hogs =
        VirtualThreadReviewSupport.startCarrierHogs(
            "r16-hog", stopHogs::get, Duration.ofSeconds(10), escaped);
    try {
      room.exit(); // grants T, which cannot run
      spinUntilTime(deadline + TimeUnit.MILLISECONDS.toNanos(50));
      assertThat(uIn.get()).as("U still waits behind the granted, frozen T").isFalse();
      assertThat(room.isOccupied()).isTrue();
      assertThat(tResult.get()).as("T has not run yet").isNull();
    } finally {
      stopHogs.set(true);
      VirtualThreadReviewSupport.joinAll(hogs);
    }
    assertThat(uEntered.await(20, TimeUnit.SECONDS)).isTrue();
    join(t);
    join(u);
    assertThat(escaped.get()).isFalse();
    assertThat(tResult.get()).as("granted before its deadline: true, even though late").isTrue();
    assertThat(tSawUOut.get()).isTrue();
    assertFreeAndEmpty(room);
  }

  /** The SeqLock's room, read reflectively (private in SeqLockCore). */
  static @Nullable WaitingRoom roomOf(SeqLockCore lock) throws ReflectiveOperationException {
    Field f = SeqLockCore.class.getDeclaredField("room");
    f.setAccessible(true);
    return (WaitingRoom) f.get(lock);
  }

  /**
   * Claim 6 with platform threads and interrupts: 8 platform writers for 1.5 s, each choosing
   * per write {@code write()}, {@code writeUninterruptibly()} or {@code tryWrite(0-40 us)}, one
   * section in 32 parking 20 us; an interrupter hits a random writer every ~20 us. Sections
   * are checked exclusive (two plain fields must stay equal) and counted; at the end the lock is
   * free, and its room free and empty. Held.
   */
  @Test
  void seqLockPlatformWritersWithInterruptsStayExclusiveAndEndFree() throws Exception {
    SeqLock lock = new SeqLock();
    long[] data = new long[2];
    AtomicLong sections = new AtomicLong();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicBoolean stop = new AtomicBoolean();
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1_500);
    List<Thread> writers = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      writers.add(
          startPlatform(
              "r16-seq-" + i,
              () -> {
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                try {
                  while (System.nanoTime() - end < 0) {
                    SeqLock.@Nullable WriteGuard g;
                    int mode = rnd.nextInt(3);
                    try {
                      g =
                          mode == 0
                              ? lock.write()
                              : mode == 1
                                  ? lock.writeUninterruptibly()
                                  : lock.tryWrite(Duration.ofNanos(rnd.nextLong(40_000L)));
                    } catch (InterruptedException e) {
                      continue;
                    }
                    if (g == null) {
                      continue;
                    }
                    try {
                      long a = ++data[0];
                      if (rnd.nextInt(32) == 0) {
                        LockSupport.parkNanos(20_000L);
                      }
                      if (++data[1] != a) {
                        throw new AssertionError("two writers in a section");
                      }
                      sections.incrementAndGet();
                    } finally {
                      g.close();
                    }
                    Thread.interrupted();
                  }
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                } finally {
                  Thread.interrupted();
                }
              }));
    }
    Thread interrupter =
        startPlatform(
            "r16-seq-interrupter",
            () -> {
              ThreadLocalRandom rnd = ThreadLocalRandom.current();
              while (!stop.get()) {
                writers.get(rnd.nextInt(writers.size())).interrupt();
                LockSupport.parkNanos(20_000L);
              }
            });
    for (Thread t : writers) {
      join(t);
    }
    stop.set(true);
    join(interrupter);
    if (failure.get() != null) {
      throw new AssertionError("a writer failed", failure.get());
    }
    assertThat(sections.get()).isPositive();
    assertThat(data[0]).isEqualTo(sections.get());
    assertThat(lock.isWriteLocked()).isFalse();
    WaitingRoom room = roomOf(lock);
    if (room != null) {
      assertFreeAndEmpty(room);
    }
    assertThat(lock.tryWrite()).as("the lock is free").isNotNull().satisfies(SeqLock.WriteGuard::close);
  }

  /**
   * Claim 6 on ONE carrier (forked JVM, {@code -Djdk.virtualThreadScheduler.parallelism=1}):
   * three scenarios, each 5 s limit. (a) 48 virtual writers mixing {@code write()}, {@code
   * writeUninterruptibly()} and {@code tryWrite(1-40 us)} retry loops, 200 sections each, every
   * 8th section parking 1 us and every 64th 200 us, with a virtual interrupter hitting a random
   * writer every 50 us. (b) 48 writers all in {@code tryWrite(5 us)} loops, every 4th section
   * parking 100 us. (c) one virtual holder doing 200 sections that each park 100 us inside,
   * against 32 virtual writers in endless {@code tryWrite(10 us)} loops that park 20 us after
   * each success (without that park a loop whose tryWrite keeps succeeding never unmounts and
   * owns the one carrier: 673 million sections, holder stalled, a property of virtual threads,
   * not of the lock); the holder's time only.
   * (d) 16 virtual readers ({@code readLong}, 20 us park between reads) against 32 virtual
   * writers in {@code tryWrite(1 us)} loops, 200 sections each, every 8th parking 50 us inside
   * (readers fall back and register, so the slot writer also parks on a free lock).
   * The fork prints "ok" per finished scenario with exact counts and a free, empty room. Held:
   * (a) ~0.3-1 s, (b) ~0.1-0.5 s, (c) ~30-60 ms, (d) ~0.2-0.6 s here. A
   * probe (not committed) of {@code VirtualThreadReviewSupport.retryLoops} on one carrier, 64
   * threads, all timed and mixed, at 1, 2, 3, 5, 8, 10, 15, 20, 30, 50, 100 us: 44 of 44 runs
   * finished, 28-282 ms.
   */
  @Test
  void oneCarrierSeqLockMixedWritersInterruptsAndParkingHoldersFinish() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    String out = VirtualReadersHarness.forkOneCarrier(OneCarrierMix.class);
    System.out.println(out);
    assertThat(out).as(out).contains("a ok").contains("b ok").contains("c ok").contains("d ok");
  }

  /** The forked JVM of the test above. */
  static final class OneCarrierMix {
    private OneCarrierMix() {}

    public static void main(String[] args) throws Exception {
      System.out.println(mixed(true) ? "a ok" : "a STALLED");
      System.out.println(mixed(false) ? "b ok" : "b STALLED");
      System.out.println(parkingHolder() ? "c ok" : "c STALLED");
      System.out.println(readersAndTimedWriters() ? "d ok" : "d STALLED");
      System.exit(0);
    }

    /** Scenario (a) if {@code mixedModes}, else (b). */
    static boolean mixed(boolean mixedModes) throws Exception {
      SeqLock lock = new SeqLock();
      long[] data = new long[2];
      int threads = 48;
      int each = 200;
      AtomicBoolean stop = new AtomicBoolean();
      AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
      CountDownLatch done = new CountDownLatch(threads);
      List<Thread> started = new ArrayList<>();
      for (int i = 0; i < threads; i++) {
        int mode = mixedModes ? i % 3 : 2;
        started.add(
            SpinLockHandOverReviewTest.startVirtual(
                "w-" + i,
                () -> {
                  ThreadLocalRandom rnd = ThreadLocalRandom.current();
                  try {
                    for (int k = 0; k < each && !stop.get(); ) {
                      SeqLock.@Nullable WriteGuard g;
                      try {
                        g =
                            mode == 0
                                ? lock.write()
                                : mode == 1
                                    ? lock.writeUninterruptibly()
                                    : lock.tryWrite(
                                        Duration.ofNanos(
                                            mixedModes ? 1_000L + rnd.nextLong(39_000L) : 5_000L));
                      } catch (InterruptedException e) {
                        continue;
                      }
                      if (g == null) {
                        continue;
                      }
                      try {
                        long a = ++data[0];
                        if (mixedModes ? (a & 63) == 0 : (a & 3) == 0) {
                          LockSupport.parkNanos(mixedModes ? 200_000L : 100_000L);
                        } else if (mixedModes && (a & 7) == 0) {
                          LockSupport.parkNanos(1_000L);
                        }
                        if (++data[1] != a) {
                          throw new AssertionError("two writers in a section");
                        }
                      } finally {
                        g.close();
                      }
                      k++;
                      Thread.interrupted();
                    }
                  } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                  } finally {
                    Thread.interrupted();
                    done.countDown();
                  }
                }));
      }
      Thread interrupter =
          SpinLockHandOverReviewTest.startVirtual(
              "interrupter",
              () -> {
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                while (mixedModes && !stop.get()) {
                  started.get(rnd.nextInt(threads)).interrupt();
                  LockSupport.parkNanos(50_000L);
                }
              });
      long t0 = System.nanoTime();
      boolean finished = done.await(5, TimeUnit.SECONDS);
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      stop.set(true);
      VirtualThreadReviewSupport.joinAll(started);
      interrupter.join();
      if (failure.get() != null) {
        failure.get().printStackTrace(System.out);
        return false;
      }
      WaitingRoom room = roomOf(lock);
      boolean clean =
          !lock.isWriteLocked() && (room == null || (!room.isOccupied() && room.queuedNodes() == 0));
      System.out.println(
          (mixedModes ? "a" : "b") + ": " + data[0] + "/" + (long) threads * each + " in " + ms
              + " ms, clean=" + clean);
      return finished && clean && data[0] == (long) threads * each && data[1] == data[0];
    }

    /** Scenario (d). */
    static boolean readersAndTimedWriters() throws Exception {
      SeqLock lock = new SeqLock();
      long[] d = new long[2];
      AtomicBoolean stop = new AtomicBoolean();
      AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
      List<Thread> ts = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        ts.add(
            SpinLockHandOverReviewTest.startVirtual(
                "r-" + i,
                () -> {
                  while (!stop.get()) {
                    if (lock.readLong(() -> d[0] - d[1]) != 0) {
                      failure.compareAndSet(null, new AssertionError("torn read validated"));
                    }
                    LockSupport.parkNanos(20_000L);
                  }
                }));
      }
      CountDownLatch done = new CountDownLatch(32);
      for (int i = 0; i < 32; i++) {
        ts.add(
            SpinLockHandOverReviewTest.startVirtual(
                "tw-" + i,
                () -> {
                  try {
                    for (int k = 0; k < 200 && !stop.get(); ) {
                      SeqLock.@Nullable WriteGuard g = lock.tryWrite(Duration.ofNanos(1_000L));
                      if (g == null) {
                        continue;
                      }
                      try {
                        if ((++d[0] & 7) == 0) {
                          LockSupport.parkNanos(50_000L);
                        }
                        ++d[1];
                      } finally {
                        g.close();
                      }
                      k++;
                      LockSupport.parkNanos(1_000L);
                    }
                  } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                  } finally {
                    done.countDown();
                  }
                }));
      }
      long t0 = System.nanoTime();
      boolean finished = done.await(5, TimeUnit.SECONDS);
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      stop.set(true);
      VirtualThreadReviewSupport.joinAll(ts);
      System.out.println("d: " + d[0] + "/6400 in " + ms + " ms, fallback reads "
          + lock.fallbackReads() + ", failure " + failure.get());
      return finished && failure.get() == null && d[0] == 6400;
    }

    /** Scenario (c). */
    static boolean parkingHolder() throws Exception {
      SeqLock lock = new SeqLock();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong stolen = new AtomicLong();
      List<Thread> started = new ArrayList<>();
      for (int i = 0; i < 32; i++) {
        started.add(
            SpinLockHandOverReviewTest.startVirtual(
                "timed-" + i,
                () -> {
                  try {
                    while (!stop.get()) {
                      SeqLock.@Nullable WriteGuard g = lock.tryWrite(Duration.ofNanos(10_000L));
                      if (g != null) {
                        stolen.incrementAndGet();
                        g.close();
                        // Unmount after a success: a virtual thread whose tryWrite always
                        // succeeds never parks, and on one carrier any such busy loop starves
                        // every other virtual thread (not a lock property).
                        LockSupport.parkNanos(20_000L);
                      }
                    }
                  } catch (InterruptedException e) {
                    throw new AssertionError(e);
                  }
                }));
      }
      CountDownLatch done = new CountDownLatch(1);
      Thread holder =
          SpinLockHandOverReviewTest.startVirtual(
              "holder",
              () -> {
                for (int i = 0; i < 200; i++) {
                  try (SeqLock.WriteGuard g = lock.writeUninterruptibly()) {
                    LockSupport.parkNanos(100_000L);
                    if (!lock.isWriteLockedByCurrentThread()) {
                      throw new AssertionError("lost the lock " + g);
                    }
                  }
                }
                done.countDown();
              });
      long t0 = System.nanoTime();
      boolean finished = done.await(5, TimeUnit.SECONDS);
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      stop.set(true);
      started.add(holder);
      VirtualThreadReviewSupport.joinAll(started);
      System.out.println("c: holder " + (finished ? "finished" : "STALLED") + " in " + ms
          + " ms, timed writers took " + stolen.get() + " sections");
      return finished;
    }
  }
}
