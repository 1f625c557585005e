package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.invoke.VarHandle;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review of {@link SpinLock}'s hand-over (issue 20): attacks that did NOT break it, kept as
 * tests. The reproducers that fail are in {@link SpinLockHandOverReviewTest}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@SuppressWarnings({"try", "LockNotBeforeTry"}) // window hooks act for a whole try block
class SpinLockHandOverReviewTestHeld {
  private final SpinLock lock = new SpinLock();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();
  private final List<Thread> threads = new ArrayList<>();

  @AfterEach
  void noThreadOutlivesItsTest() throws InterruptedException {
    ProtocolWindows.clear();
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(t.isAlive()).as("%s still running after the test", t.getName()).isFalse();
    }
    assertThat(failure.get()).as("a test thread failed").isNull();
  }

  private Thread start(String name, SpinLockContractTest.ThrowingRunnable body) {
    Thread t = SpinLockContractTest.start(name, body, failure);
    threads.add(t);
    return t;
  }

  private void awaitHeir(Thread t) {
    SpinLockHandOverTestSupport.awaitHeir(lock, t);
  }

  private void awaitParkedOnLock(Thread t) {
    SpinLockHandOverTestSupport.awaitParkedOnLock(lock, t);
  }

  /** The lock at rest: free, no heir, no wakeup in flight, no WAITING node left behind. */
  private void assertQuiescent() {
    VarHandle.fullFence();
    assertThat(lock.isLocked()).as("lock free at the end").isFalse();
    assertThat(lock.heir).as("no heir at the end").isNull();
    assertThat(lock.waking).as("no wakeup in flight at the end").isFalse();
    for (SpinLock.Waiter w = lock.waiters; w != null; w = w.nextAcquire()) {
      assertThat(w.hasLeft()).as("a node of %s is still WAITING", w.thread.getName()).isTrue();
    }
  }

  private static void assumeHandOverAtOnce() {
    assertThat(SpinBackoff.HAND_OVER_AFTER_NANOS)
        .as("these tests assume the default: a waiter that parked is the heir")
        .isZero();
  }

  /**
   * Claim 1 across the hand-over window: while the unlocker is paused between its claim and its
   * owner store, the lock stays held (no tryLock, timed tryLock or lock() of a third thread
   * gets in), and afterwards exactly the heir holds it.
   */
  @Test
  void noThirdThreadGetsInWhileAHandOverIsPausedBetweenClaimAndStore() throws Exception {
    assumeHandOverAtOnce();
    SpinLockWakeAdversarialTest.Gate handingOver = new SpinLockWakeAdversarialTest.Gate(1);
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicBoolean heirHeld = new AtomicBoolean();
    try (AutoCloseable hooks =
        ProtocolWindows.install(
            w -> {
              if (w.equals("spinlock.hand-over")
                  && Thread.currentThread().getName().equals("test-holder")) {
                handingOver.pass();
              }
            })) {
      start(
          "holder",
          () -> {
            lock.lock();
            inside.incrementAndGet();
            held.countDown();
            assertThat(release.await(20, TimeUnit.SECONDS)).isTrue();
            inside.decrementAndGet();
            lock.unlock();
          });
      assertThat(held.await(20, TimeUnit.SECONDS)).isTrue();
      Thread heirThread =
          start(
              "heir",
              () -> {
                lock.lock();
                if (inside.incrementAndGet() != 1) {
                  overlaps.incrementAndGet();
                }
                heirHeld.set(lock.isHeldByCurrentThread());
                inside.decrementAndGet();
                lock.unlock();
              });
      awaitHeir(heirThread);
      release.countDown();
      handingOver.awaitArrival("the holder's unlock");
      // The claim is made, the owner store held back: nobody else may get in.
      assertThat(lock.isLocked()).isTrue();
      assertThat(lock.tryLock()).as("untimed tryLock during the window").isFalse();
      assertThat(lock.tryLock(2, TimeUnit.MILLISECONDS)).as("timed tryLock in the window").isFalse();
      Thread barger =
          start(
              "barger",
              () -> {
                lock.lock();
                if (inside.incrementAndGet() != 1) {
                  overlaps.incrementAndGet();
                }
                inside.decrementAndGet();
                lock.unlock();
              });
      awaitParkedOnLock(barger); // the barger waits: the lock never looked free
      assertThat(lock.isLocked()).isTrue();
      handingOver.open();
      SpinLockContractTest.join(heirThread, barger);
    }
    assertThat(overlaps.get()).as("two threads inside at once").isZero();
    assertThat(heirHeld.get()).as("the heir holds the lock it was handed").isTrue();
    assertQuiescent();
  }

  /**
   * Claims 2 and 4: an interrupt that reaches a lockInterruptibly heir after the unlocker claimed
   * the hand-over makes it return holding the lock with its interrupt status set (it never
   * throws holding the lock, never throws leaving the lock handed to it).
   */
  @Test
  void anHeirInterruptedWhileTheHandOverIsPausedReturnsHoldingWithTheInterruptSet()
      throws Exception {
    assumeHandOverAtOnce();
    SpinLockWakeAdversarialTest.Gate handingOver = new SpinLockWakeAdversarialTest.Gate(1);
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicReference<String> outcome = new AtomicReference<>("none");
    try (AutoCloseable hooks =
        ProtocolWindows.install(
            w -> {
              if (w.equals("spinlock.hand-over")
                  && Thread.currentThread().getName().equals("test-holder")) {
                handingOver.pass();
              }
            })) {
      start(
          "holder",
          () -> {
            lock.lock();
            held.countDown();
            assertThat(release.await(20, TimeUnit.SECONDS)).isTrue();
            lock.unlock();
          });
      assertThat(held.await(20, TimeUnit.SECONDS)).isTrue();
      Thread heirThread =
          start(
              "heir",
              () -> {
                try {
                  lock.lockInterruptibly();
                  outcome.set(SpinLockContractTest.holdAndInterruptStatus(true));
                  lock.unlock();
                } catch (InterruptedException e) {
                  outcome.set(
                      "threw, " + (lock.isHeldByCurrentThread() ? "holding" : "not holding"));
                }
              });
      awaitHeir(heirThread);
      release.countDown();
      handingOver.awaitArrival("the holder's unlock");
      heirThread.interrupt();
      // The heir wakes, fails to withdraw (claimed) and waits for the owner store.
      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
      while (System.nanoTime() - until < 0) {
        LockSupport.parkNanos(1_000_000L); // gives the heir time to reach withdrawHeir
      }
      assertThat(heirThread.isAlive()).as("the heir returned before the owner store").isTrue();
      handingOver.open();
      SpinLockContractTest.join(heirThread);
    }
    assertThat(outcome.get()).isEqualTo("held, interrupted");
    assertQuiescent();
  }

  /**
   * A signal reaches the heir while the hand-over to it is paused (set up directly: signalOne,
   * which an exposed waiter's give-up runs while the lock is held): the heir fails to withdraw,
   * waits for the store, holds the lock, and clears {@code waking} (its node was signalled).
   * Afterwards a new contended acquisition is not blocked by a stuck {@code waking}.
   */
  @Test
  void aSignalledHeirWhoseHandOverIsClaimedTakesTheLockAndClearsWaking() throws Exception {
    assumeHandOverAtOnce();
    SpinLockWakeAdversarialTest.Gate handingOver = new SpinLockWakeAdversarialTest.Gate(1);
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean heirHeld = new AtomicBoolean();
    Method signalOne = SpinLock.class.getDeclaredMethod("signalOne", boolean.class);
    signalOne.setAccessible(true);
    try (AutoCloseable hooks =
        ProtocolWindows.install(
            w -> {
              if (w.equals("spinlock.hand-over")
                  && Thread.currentThread().getName().equals("test-holder")) {
                handingOver.pass();
              }
            })) {
      start(
          "holder",
          () -> {
            lock.lock();
            held.countDown();
            assertThat(release.await(20, TimeUnit.SECONDS)).isTrue();
            lock.unlock();
          });
      assertThat(held.await(20, TimeUnit.SECONDS)).isTrue();
      Thread heirThread =
          start(
              "heir",
              () -> {
                lock.lock();
                heirHeld.set(lock.isHeldByCurrentThread());
                lock.unlock();
              });
      awaitHeir(heirThread);
      release.countDown();
      handingOver.awaitArrival("the holder's unlock");
      signalOne.invoke(lock, true); // pops and signals the heir's node, sets `waking`
      VarHandle.fullFence();
      assertThat(lock.waking).as("the signal is in flight").isTrue();
      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
      while (System.nanoTime() - until < 0) {
        LockSupport.parkNanos(1_000_000L); // gives the heir time to reach withdrawHeir
      }
      assertThat(heirThread.isAlive()).as("the heir returned before the owner store").isTrue();
      handingOver.open();
      SpinLockContractTest.join(heirThread);
    }
    assertThat(heirHeld.get()).isTrue();
    assertQuiescent();
    // A parked waiter is still woken afterwards (a stuck `waking` would strand it).
    lock.lock();
    Thread late =
        start(
            "late",
            () -> {
              lock.lock();
              lock.unlock();
            });
    awaitHeir(late);
    lock.unlock();
    SpinLockContractTest.join(late);
    assertQuiescent();
  }

  /**
   * Claims 1-4 under randomized stress: platform threads mix lock, lockInterruptibly, acquire,
   * tryLock and timed tryLock (0-200 us) on a lock with 0-20 us critical sections, while an
   * interrupter interrupts them at random. Checks: never two inside; the critical section is
   * seen whole (two plain fields written together); isHeldByCurrentThread true inside and false
   * after a failed or thrown acquisition; everyone finishes; the lock ends at rest.
   */
  @Test
  void randomizedStressWithTimeoutsAndInterruptsKeepsEveryClaim() throws Exception {
    int n = 4;
    long runNanos = TimeUnit.MILLISECONDS.toNanos(2_500);
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger bad = new AtomicInteger();
    AtomicLong acquisitions = new AtomicLong();
    AtomicLong failures = new AtomicLong();
    AtomicBoolean stop = new AtomicBoolean();
    long[] pair = new long[2]; // written only under the lock
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch started = new CountDownLatch(n); // past go.await: may be interrupted now
    List<Thread> workers = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      workers.add(
          start(
              "worker-" + i,
              () -> {
                assertThat(go.await(20, TimeUnit.SECONDS)).isTrue();
                started.countDown();
                ThreadLocalRandom r = ThreadLocalRandom.current();
                while (!stop.get()) {
                  boolean got;
                  SpinLock.Guard g = null;
                  int op = r.nextInt(5);
                  try {
                    got =
                        switch (op) {
                          case 0 -> {
                            lock.lock();
                            yield true;
                          }
                          case 1 -> {
                            lock.lockInterruptibly();
                            yield true;
                          }
                          case 2 -> {
                            g = lock.acquire();
                            yield true;
                          }
                          case 3 -> lock.tryLock();
                          default -> lock.tryLock(r.nextInt(200), TimeUnit.MICROSECONDS);
                        };
                  } catch (InterruptedException e) {
                    got = false;
                  }
                  Thread.interrupted(); // the interrupter's aim was the wait, not the work
                  if (!got) {
                    failures.incrementAndGet();
                    if (lock.isHeldByCurrentThread()) {
                      bad.incrementAndGet(); // a failed acquisition left the lock with us
                    }
                    continue;
                  }
                  acquisitions.incrementAndGet();
                  if (inside.incrementAndGet() != 1 || !lock.isHeldByCurrentThread()) {
                    bad.incrementAndGet();
                  }
                  long a = pair[0];
                  if (pair[1] != a) {
                    bad.incrementAndGet(); // a critical section seen in part
                  }
                  pair[0] = a + 1;
                  int work = r.nextInt(20_000);
                  long t0 = System.nanoTime();
                  while (System.nanoTime() - t0 < work) {
                    Thread.onSpinWait();
                  }
                  pair[1] = a + 1;
                  inside.decrementAndGet();
                  if (g != null) {
                    g.close();
                  } else {
                    lock.unlock();
                  }
                  if (lock.isHeldByCurrentThread()) {
                    bad.incrementAndGet();
                  }
                }
              }));
    }
    Thread interrupter =
        start(
            "interrupter",
            () -> {
              ThreadLocalRandom r = ThreadLocalRandom.current();
              assertThat(started.await(20, TimeUnit.SECONDS)).isTrue();
              while (!stop.get()) {
                workers.get(r.nextInt(n)).interrupt();
                LockSupport.parkNanos(r.nextInt(300_000)); // pacing the noise, not a wait
              }
            });
    go.countDown();
    long end = System.nanoTime() + runNanos;
    while (System.nanoTime() - end < 0) {
      LockSupport.parkNanos(10_000_000L); // the run's length, not a result wait
    }
    stop.set(true);
    for (Thread t : workers) {
      t.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(t.isAlive()).as("%s stranded (lock %s)", t.getName(), lock).isFalse();
    }
    interrupter.join(TimeUnit.SECONDS.toMillis(20));
    VarHandle.fullFence();
    assertThat(bad.get()).as("claim violations").isZero();
    assertThat(pair[0]).isEqualTo(acquisitions.get());
    assertThat(acquisitions.get()).isPositive();
    assertQuiescent();
  }

  /**
   * Claim 5: Condition await/signal hand-offs between two threads, with a third thread taking
   * the lock all the time (so await's unlock and the re-lock go through hand-overs), finish
   * and keep the count.
   */
  @Test
  void conditionPingPongWithABargerAndHandOvers() throws Exception {
    Condition turn = lock.newCondition();
    int rounds = 2_000;
    int[] state = new int[2]; // [0]: whose turn; [1]: count; guarded by the lock
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> players = new ArrayList<>();
    for (int p = 0; p < 2; p++) {
      int me = p;
      players.add(
          start(
              "player-" + p,
              () -> {
                for (int i = 0; i < rounds; i++) {
                  lock.lock();
                  try {
                    while (state[0] != me) {
                      assertThat(turn.await(10, TimeUnit.SECONDS)).as("signalled").isTrue();
                    }
                    state[1]++;
                    state[0] = 1 - me;
                    turn.signal();
                  } finally {
                    lock.unlock();
                  }
                }
              }));
    }
    Thread barger =
        start(
            "barger",
            () -> {
              while (!stop.get()) {
                lock.lock();
                Thread.onSpinWait();
                lock.unlock();
              }
            });
    try {
      SpinLockContractTest.join(players.toArray(new Thread[0]));
    } finally {
      stop.set(true);
      barger.join(TimeUnit.SECONDS.toMillis(20));
    }
    lock.lock();
    try {
      assertThat(state[1]).isEqualTo(2 * rounds);
    } finally {
      lock.unlock();
    }
    assertQuiescent();
  }

  /**
   * Claim 5: LockOrder tracks an acquisition that came by hand-over. The order a -> b is
   * learned; then a thread is handed b (it waited as the heir) and takes a: THROW mode
   * reports the inversion, which it can only do if the hand-over registered b as held.
   */
  @Test
  void lockOrderSeesALockThatCameByHandOver() throws Exception {
    assumeHandOverAtOnce();
    SpinLock a = new SpinLock();
    LockOrder.Mode before = LockOrder.mode();
    LockOrder.enable(LockOrder.Mode.THROW);
    try {
      a.lock();
      lock.lock(); // learns a -> lock
      lock.unlock();
      a.unlock();
      lock.lock();
      AtomicReference<String> outcome = new AtomicReference<>("none");
      Thread t =
          start(
              "handed",
              () -> {
                lock.lock(); // parks, becomes the heir, is handed the lock
                try {
                  a.lock();
                  a.unlock();
                  outcome.set("no report");
                } catch (LockOrderException e) {
                  outcome.set("reported");
                } finally {
                  lock.unlock();
                }
              });
      awaitHeir(t);
      lock.unlock();
      SpinLockContractTest.join(t);
      assertThat(outcome.get()).isEqualTo("reported");
    } finally {
      if (before == LockOrder.Mode.OFF) {
        LockOrder.disable();
      } else {
        LockOrder.enable(before);
      }
    }
    assertQuiescent();
    assertThatThrownBy(lock::unlock).isInstanceOf(IllegalMonitorStateException.class);
  }

  /**
   * Claim 6 without pinning: 64 virtual threads (JDK 21+; skipped on 17) contend with timed
   * and untimed acquisitions; hand-overs to unmounted heirs do not stall the carriers, every
   * thread finishes and the count is exact.
   */
  @Test
  void virtualThreadsUnderHandOversAllFinish() throws Exception {
    if (Runtime.version().feature() < 21) {
      return;
    }
    int n = 64;
    int each = 300;
    long[] count = new long[1];
    CountDownLatch go = new CountDownLatch(1);
    for (int i = 0; i < n; i++) {
      boolean timed = i % 2 == 0;
      Thread v =
          SpinLockHandOverReviewTest.startVirtual(
              "test-v-" + i,
              () -> {
                try {
                  assertThat(go.await(20, TimeUnit.SECONDS)).isTrue();
                  for (int k = 0; k < each; k++) {
                    if (timed) {
                      while (!lock.tryLock(100, TimeUnit.MICROSECONDS)) {
                        Thread.onSpinWait();
                      }
                    } else {
                      lock.lock();
                    }
                    try {
                      count[0]++;
                      // No unmount inside the critical section: with one (parkNanos(1 us) every
                      // 16th hold) this stalled for 20+ s on JDK 25 with hand-over ON AND OFF
                      // (the holder's timer wake-up starved behind the timed waiters' yields),
                      // so that stall is not the hand-over's; see the review report.
                    } finally {
                      lock.unlock();
                    }
                  }
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              });
      threads.add(v);
    }
    go.countDown();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    for (Thread t : threads) {
      t.join(Math.max(1L, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
    }
    StringBuilder stuck = new StringBuilder();
    for (Thread t : threads) {
      if (t.isAlive()) {
        stuck.append("\n").append(t.getName()).append(' ').append(t.getState());
        for (StackTraceElement e : t.getStackTrace()) {
          stuck.append("\n    ").append(e);
        }
      }
    }
    if (stuck.length() > 0) {
      VarHandle.fullFence();
      StringBuilder nodes = new StringBuilder();
      for (SpinLock.Waiter w = lock.waiters; w != null; w = w.nextAcquire()) {
        nodes.append(w.thread.getName()).append(w.hasLeft() ? "(LEFT) " : w.wasSignalled() ? "(SIG) " : "(W) ");
      }
      System.err.println("STUCK lock=" + lock + " owner=" + lock.owner + " heir=" + lock.heir
          + " waking=" + lock.waking + " backstop=" + lock.backstopHandedOn + " nodes=" + nodes + stuck);
    }
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(5));
      assertThat(t.isAlive()).as("%s stranded (lock %s)", t.getName(), lock).isFalse();
    }
    VarHandle.acquireFence();
    assertThat(count[0]).isEqualTo((long) n * each);
    assertQuiescent();
  }
}
