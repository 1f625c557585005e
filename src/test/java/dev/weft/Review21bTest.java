package dev.weft;

import static dev.weft.Review21OverflowHandlerTest.awaitParked;
import static dev.weft.Review21OverflowHandlerTest.awaitQueuedOnCondition;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Review 21b (session 21, a helper given only the code and the docs): errors at the windows of
 * SpinLockCondition and TicketLock, and Condition contract checks. On the first version of the
 * session's fix (commit "Fix CI stop 34") 10 of the 12 cases failed in every run, JDK 17 and 25:
 * an error while await re-took the lock left its waiter queued and the next signal was spent on
 * it (6 of 6), and an error after an absorbed interrupt cleared the interrupt status (4 of 4).
 * Both are fixed (SpinLockCondition.leaveAfterError; TicketLock.waitQueued's catch).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@SuppressWarnings({"LockNotBeforeTry", "WaitNotInLoop"})
class Review21bTest {

  static Lock newLock(String kind) {
    return switch (kind) {
      case "ticket" -> new TicketLock();
      case "spin" -> new SpinLock();
      default -> new ReentrantLock();
    };
  }

  /** Set when the last hook armed by {@link #throwOnceAt} has thrown. */
  static volatile CountDownLatch thrown = new CountDownLatch(1);

  static AutoCloseable throwOnceAt(String window, Thread victim) {
    AtomicBoolean done = new AtomicBoolean();
    CountDownLatch t = new CountDownLatch(1);
    thrown = t;
    return ProtocolWindows.install(
        w -> {
          if (w.equals(window)
              && Thread.currentThread() == victim
              && done.compareAndSet(false, true)) {
            t.countDown();
            throw new StackOverflowError("injected at " + window);
          }
        });
  }

  static void join(Thread t) throws InterruptedException {
    t.join(10_000);
    assertThat(t.isAlive()).as("%s ended", t.getName()).isFalse();
  }

  /**
   * An awaiting thread that is woken without a signal and whose re-acquisition throws (the
   * error injected in the condition's window, or inside TicketLock's own slow path, which
   * TicketLock itself survives) leaves its Waiter in the condition queue. The next signal() is
   * then spent on that stale node, and the live waiter behind it is never woken.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "ticket:condition.released",
        "spin:condition.released",
        "ticket:condition.before-reacquire",
        "spin:condition.before-reacquire",
        "ticket:ticketlock.queued",
        "ticket:ticketlock.park"
      })
  void errorDuringReacquireLeavesStaleWaiterThatEatsASignal(String param) throws Exception {
    String kind = param.substring(0, param.indexOf(':'));
    String window = param.substring(param.indexOf(':') + 1);
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    AtomicReference<@Nullable Throwable> victimSaw = new AtomicReference<>();
    AtomicBoolean victimHeld = new AtomicBoolean();
    Thread victim =
        new Thread(
            () -> {
              lock.lock();
              try {
                c.await(); // woken below without a signal
              } catch (Throwable e) {
                victimSaw.set(e);
              } finally {
                victimHeld.set(
                    kind.equals("ticket")
                        ? ((TicketLock) lock).isHeldByCurrentThread()
                        : ((SpinLock) lock).isHeldByCurrentThread());
                if (victimHeld.get()) {
                  lock.unlock();
                }
              }
            },
            "victim");
    victim.setDaemon(true);
    // Armed before the victim starts: its first lock() is uncontended (no window), and
    // "condition.released" is reached in its first await.
    try (AutoCloseable hook = throwOnceAt(window, victim)) {
      assertThat(hook).isNotNull();
      victim.start();
      if (!window.equals("condition.released")) {
        awaitParked(victim);
        awaitQueuedOnCondition(lock, c, 1);
        lock.lock(); // held while the victim wakes: its re-acquisition takes the slow path
        try {
          LockSupport.unpark(victim); // a spurious wake-up
          if (window.startsWith("ticketlock")) {
            // let it queue for the lock and reach the window while we hold it (after the error
            // the condition takes the lock back, so it waits for our unlock below)
            assertThat(thrown.await(10, TimeUnit.SECONDS)).as("window %s reached", window).isTrue();
          }
        } finally {
          lock.unlock();
        }
      }
      join(victim);
    }
    assertThat(victimSaw.get()).isInstanceOf(StackOverflowError.class);
    // A live waiter now waits; one signal must wake it.
    AtomicReference<@Nullable Object> result = new AtomicReference<>();
    Thread live =
        new Thread(
            () -> {
              lock.lock();
              try {
                result.set(c.await(20, TimeUnit.SECONDS));
              } catch (Throwable e) {
                result.set(e);
              } finally {
                lock.unlock();
              }
            },
            "live");
    live.setDaemon(true);
    live.start();
    awaitParked(live);
    int queued;
    lock.lock();
    try {
      queued = ((SpinLockCondition) c).queuedCount();
      c.signal(); // one waiter is alive: it must get this signal
    } finally {
      lock.unlock();
    }
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    while (result.get() == null && System.nanoTime() < end) {
      LockSupport.parkNanos(1_000_000);
    }
    Object got = result.get();
    // cleanup: wake it whatever happened
    lock.lock();
    try {
      c.signalAll();
    } finally {
      lock.unlock();
    }
    join(live);
    assertThat(got)
        .as("the live waiter got the one signal (%d waiters were queued, 1 thread waits)", queued)
        .isEqualTo(true);
    assertThat(queued).isEqualTo(1);
    assertThat(victimHeld.get()).as("await threw without the lock").isTrue();
  }

  /**
   * lock() (uninterruptible) keeps an interrupt in a local while it waits; an error after that
   * (injected at "ticketlock.park") propagates without restoring the interrupt status.
   */
  @ParameterizedTest
  @ValueSource(strings = {"ticketlock.park", "ticketlock.spin"})
  void ticketLockErrorAfterInterruptLosesInterruptStatus(String window) throws Exception {
    TicketLock lock = new TicketLock();
    lock.lock();
    AtomicReference<@Nullable Throwable> saw = new AtomicReference<>();
    AtomicBoolean interruptedAfter = new AtomicBoolean();
    CountDownLatch armed = new CountDownLatch(1);
    Thread victim =
        new Thread(
            () -> {
              try {
                lock.lock();
                lock.unlock();
              } catch (Throwable e) {
                saw.set(e);
                interruptedAfter.set(Thread.currentThread().isInterrupted());
              }
            },
            "victim");
    victim.setDaemon(true);
    try {
      victim.start();
      awaitParked(victim);
      AtomicBoolean done = new AtomicBoolean();
      try (AutoCloseable hook =
          ProtocolWindows.install(
              w -> {
                if (w.equals(window)
                    && Thread.currentThread() == victim
                    && armed.getCount() == 0
                    && done.compareAndSet(false, true)) {
                  throw new StackOverflowError("injected at " + window);
                }
              })) {
        assertThat(hook).isNotNull();
        armed.countDown();
        victim.interrupt();
        join(victim);
      }
    } finally {
      lock.unlock();
    }
    assertThat(saw.get()).isInstanceOf(StackOverflowError.class);
    assertThat(interruptedAfter.get()).as("interrupt status kept after the error").isTrue();
    assertThat(lock.tryLock(5, TimeUnit.SECONDS)).isTrue();
    lock.unlock();
  }

  /** Same for awaitUninterruptibly: an error after an interrupt drops the interrupt status. */
  @ParameterizedTest
  @ValueSource(strings = {"ticket", "spin"})
  void awaitUninterruptiblyErrorAfterInterruptLosesInterruptStatus(String kind)
      throws Exception {
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    AtomicReference<@Nullable Throwable> saw = new AtomicReference<>();
    AtomicBoolean interruptedAfter = new AtomicBoolean();
    Thread victim =
        new Thread(
            () -> {
              lock.lock();
              try {
                c.awaitUninterruptibly();
              } catch (Throwable e) {
                saw.set(e);
                interruptedAfter.set(Thread.currentThread().isInterrupted());
              } finally {
                try {
                  lock.unlock();
                } catch (IllegalMonitorStateException ignored) {
                  // not held after the error
                }
              }
            },
            "victim");
    victim.setDaemon(true);
    victim.start();
    awaitParked(victim);
    try (AutoCloseable hook = throwOnceAt("condition.before-reacquire", victim)) {
      assertThat(hook).isNotNull();
      victim.interrupt();
      join(victim);
    }
    assertThat(saw.get()).isInstanceOf(StackOverflowError.class);
    assertThat(interruptedAfter.get()).as("interrupt status kept after the error").isTrue();
  }

  /**
   * Timeouts racing signals: no signal is lost to a waiter that is leaving. Half the threads wait
   * untimed (they never cancel), half with 1-60 us timeouts. Every signal() issued while an
   * untimed waiter's node is queued must be taken by exactly one await that returns true (the
   * untimed waiter's, or an earlier timed waiter's that had not cancelled yet); a signal that
   * finds only timed waiters may be taken or may find them all cancelled. At the end the untimed
   * waiters are interrupted, not signalled, so that no true comes from outside the count. Until
   * review 24 weft decided every wake-up under the lock and this test required every signal
   * sent while any waiter was queued to be taken; a timed-out waiter then took signals meant
   * for live ones, and it now cancels at its deadline as the JDK's does, so the exact count
   * holds only with a live waiter queued. (ReentrantLock cannot count its queued nodes per
   * thread from outside, so it is not run here.)
   */
  @ParameterizedTest
  @ValueSource(strings = {"ticket", "spin"})
  void timeoutsRacingSignalsLoseNoSignal(String kind) throws Exception {
    Lock lock = newLock(kind);
    SpinLockCondition c = (SpinLockCondition) lock.newCondition();
    int threads = 8;
    int rounds = 3000;
    AtomicInteger trues = new AtomicInteger();
    int mustBeTaken = 0;
    int sent = 0;
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    List<Thread> untimed = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      boolean timed = (i & 1) == 1;
      Thread t =
          new Thread(
              () -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                try {
                  while (!stop.get()) {
                    lock.lock();
                    try {
                      boolean got;
                      if (timed) {
                        got = c.await(r.nextInt(1, 60), TimeUnit.MICROSECONDS);
                      } else {
                        c.await();
                        got = true;
                      }
                      if (got) {
                        trues.incrementAndGet();
                      }
                    } finally {
                      lock.unlock();
                    }
                  }
                } catch (InterruptedException e) {
                  // the end: an untimed waiter is released by an interrupt
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              },
              (timed ? "timed" : "untimed") + i);
      t.setDaemon(true);
      ts.add(t);
      if (!timed) {
        untimed.add(t);
      }
      t.start();
    }
    for (int i = 0; i < rounds; i++) {
      lock.lock();
      try {
        boolean live = false;
        for (Thread u : untimed) {
          live |= c.queuedCount(u) > 0; // an untimed node stays queued until a signal claims it
        }
        if (c.queuedCount() > 0) {
          sent++;
          if (live) {
            mustBeTaken++;
          }
          c.signal();
        }
      } finally {
        lock.unlock();
      }
      if ((i & 7) == 0) {
        LockSupport.parkNanos(1_000);
      }
    }
    stop.set(true);
    for (Thread t : ts) {
      t.interrupt();
      t.join(10_000);
      assertThat(t.isAlive()).as("%s ended", t.getName()).isFalse();
    }
    assertThat(failure.get()).isNull();
    assertThat(mustBeTaken).as("signals sent with an untimed waiter queued").isPositive();
    assertThat(trues.get())
        .as("signals sent %d, %d of them with an untimed waiter queued", sent, mustBeTaken)
        .isBetween(mustBeTaken, sent);
  }
}
