package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
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
 * Session 17f adversarial review of {@link Condvar}: attacks that held. One line each on what
 * it attacked.
 */
@Timeout(20)
@SuppressWarnings("try") // guards held only for the lock
class Review17fTestHeld {

  interface Body {
    void run() throws Exception;
  }

  /** A started platform thread that records its failure; joined with a time limit. */
  static final class T {
    final Thread thread;
    final AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();

    T(String name, Body body) {
      thread = new Thread(() -> {
        try {
          body.run();
        } catch (Throwable t) {
          failure.set(t);
        }
      }, "r17f-" + name);
      thread.start();
    }

    void join() throws InterruptedException {
      thread.join(10_000);
      assertThat(thread.isAlive()).as("%s still running", thread.getName()).isFalse();
      Throwable t = failure.get();
      if (t != null) {
        throw new AssertionError(thread.getName() + " failed", t);
      }
    }
  }

  /** Consumes one permit under the lock, asserting the lock is held. */
  private static void take(Mutex.Guard<Integer> g, Mutex<Integer> m) {
    assertThat(m.isHeldByCurrentThread()).isTrue();
    assertThat(g.isOpen()).isTrue();
    g.set(g.get() - 1);
  }

  /**
   * notifyOne that lands on a waiter whose timeout expires at the same moment: the permit is
   * taken by that waiter or by the untimed waiter behind it (never lost). 300 schedules with
   * timeouts spread around the notify.
   */
  @Test
  @Timeout(60)
  void notifyOneRacingATimeoutIsNeverLost() throws Exception {
    for (int i = 0; i < 300; i++) {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      CountDownLatch taken = new CountDownLatch(1);
      AtomicBoolean shortTook = new AtomicBoolean();
      T longW = new T("long", () -> {
        try (var g = m.lock()) {
          cv.awaitWhile(g, p -> p == 0);
          take(g, m);
        }
        taken.countDown();
      });
      awaitBlocked(longW.thread);
      long timeout = ThreadLocalRandom.current().nextLong(1_000, 200_000);
      CountDownLatch shortIn = new CountDownLatch(1);
      T shortW = new T("short", () -> {
        try (var g = m.lock()) {
          shortIn.countDown();
          if (cv.awaitWhile(g, p -> p == 0, Duration.ofNanos(timeout))) {
            take(g, m);
            shortTook.set(true);
            taken.countDown();
          }
          assertThat(m.isHeldByCurrentThread()).isTrue();
        }
      });
      assertThat(shortIn.await(5, TimeUnit.SECONDS)).isTrue();
      LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(0, 2 * timeout));
      try (var g = m.lock()) {
        g.set(g.get() + 1);
      }
      if ((i & 1) == 0) {
        cv.notifyOne(); // outside the lock
      } else {
        try (var g = m.lock()) {
          cv.notifyOne(); // inside
        }
      }
      assertThat(taken.await(3, TimeUnit.SECONDS)).as("schedule %d: the permit was lost", i).isTrue();
      shortW.join();
      if (shortTook.get()) {
        try (var g = m.lock()) {
          g.set(g.get() + 1);
        }
        cv.notifyOne();
      }
      longW.join();
      assertThat(cv.hasWaiters()).isFalse();
      assertThat(MutexTest.value(m)).isZero();
    }
  }

  /**
   * notifyOne racing an interrupt of the waiter it lands on (first in line): either that waiter
   * takes the permit (and keeps its interrupt status) or it throws and the next waiter takes it.
   */
  @Test
  @Timeout(60)
  void notifyOneRacingAnInterruptIsNeverLost() throws Exception {
    for (int i = 0; i < 300; i++) {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      CountDownLatch taken = new CountDownLatch(1);
      AtomicBoolean firstTook = new AtomicBoolean();
      AtomicBoolean firstThrew = new AtomicBoolean();
      boolean timed = (i & 2) != 0;
      T first = new T("first", () -> {
        try (var g = m.lock()) {
          try {
            boolean ok = true;
            if (timed) {
              ok = cv.awaitWhile(g, p -> p == 0, Duration.ofSeconds(30));
            } else {
              cv.awaitWhile(g, p -> p == 0);
            }
            assertThat(ok).isTrue();
            take(g, m);
            firstTook.set(true);
            taken.countDown();
          } catch (InterruptedException e) {
            firstThrew.set(true);
            assertThat(m.isHeldByCurrentThread()).isTrue();
            assertThat(g.isOpen()).isTrue();
          }
        }
      });
      awaitBlocked(first.thread);
      T second = new T("second", () -> {
        try (var g = m.lock()) {
          cv.awaitWhile(g, p -> p == 0);
          take(g, m);
        }
        taken.countDown();
      });
      awaitBlocked(second.thread);
      try (var g = m.lock()) {
        g.set(g.get() + 1);
      }
      CountDownLatch go = new CountDownLatch(1);
      T interrupter = new T("interrupter", () -> {
        go.await();
        first.thread.interrupt();
      });
      go.countDown();
      if ((i & 1) == 0) {
        cv.notifyOne();
      } else {
        try (var g = m.lock()) {
          cv.notifyOne();
        }
      }
      interrupter.join();
      assertThat(taken.await(3, TimeUnit.SECONDS)).as("schedule %d: the permit was lost", i).isTrue();
      first.join();
      assertThat(firstTook.get() ^ firstThrew.get()).isTrue();
      if (firstTook.get()) {
        try (var g = m.lock()) {
          g.set(g.get() + 1);
        }
        cv.notifyOne();
      }
      second.join();
      assertThat(cv.hasWaiters()).isFalse();
    }
  }

  /** A predicate that throws after the wake-up passes notifyOne on; lock held at the throw. */
  @Test
  void throwingPredicateAfterWakeUpPassesNotifyOneOnAndKeepsTheLock() throws Exception {
    for (int i = 0; i < 50; i++) {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      boolean timed = (i & 1) != 0;
      T thrower = new T("thrower", () -> {
        try (var g = m.lock()) {
          Predicate<Integer> p = v -> {
            if (v > 0) {
              throw new IllegalStateException("boom");
            }
            return true;
          };
          assertThatThrownBy(() -> {
            if (timed) {
              cv.awaitWhile(g, p::test, Duration.ofSeconds(30));
            } else {
              cv.awaitWhile(g, p::test);
            }
          }).hasMessage("boom");
          assertThat(m.isHeldByCurrentThread()).isTrue();
          assertThat(g.isOpen()).isTrue();
        }
      });
      awaitBlocked(thrower.thread);
      T second = new T("second", () -> {
        try (var g = m.lock()) {
          cv.awaitWhile(g, p -> p == 0);
          take(g, m);
        }
      });
      awaitBlocked(second.thread);
      try (var g = m.lock()) {
        g.set(1);
      }
      cv.notifyOne();
      thrower.join();
      second.join();
      assertThat(cv.hasWaiters()).isFalse();
      assertThat(cv.toString()).isEqualTo("Condvar[bound, 0 waiting]");
    }
  }

  private interface Predicate<V> {
    boolean test(V v);
  }

  /** Every evaluation of the predicate, on every wait form, happens with the mutex held. */
  @Test
  void predicateAlwaysRunsUnderTheLock() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicInteger unlockedEvaluations = new AtomicInteger();
    AtomicInteger evaluations = new AtomicInteger();
    java.util.function.Predicate<Integer> p = v -> {
      evaluations.incrementAndGet();
      if (!m.isHeldByCurrentThread()) {
        unlockedEvaluations.incrementAndGet();
      }
      return v < 40;
    };
    List<T> ws = new ArrayList<>();
    ws.add(new T("plain", () -> {
      try (var g = m.lock()) {
        cv.awaitWhile(g, p);
      }
    }));
    ws.add(new T("timed", () -> {
      try (var g = m.lock()) {
        assertThat(cv.awaitWhile(g, p, Duration.ofSeconds(10))).isTrue();
      }
    }));
    ws.add(new T("deadline", () -> {
      try (var g = m.lock()) {
        assertThat(cv.awaitWhile(g, p, Instant.now().plusSeconds(10))).isTrue();
      }
    }));
    ws.add(new T("unint", () -> {
      try (var g = m.lock()) {
        cv.awaitWhileUninterruptibly(g, p);
      }
    }));
    for (T w : ws) {
      awaitBlocked(w.thread);
    }
    for (int i = 0; i < 40; i++) {
      m.update(v -> v + 1);
      if ((i & 1) == 0) {
        cv.notifyAllWaiters();
      } else {
        cv.notifyOne();
        cv.notifyAllWaiters();
      }
    }
    for (T w : ws) {
      w.join();
    }
    assertThat(unlockedEvaluations.get()).isZero();
    assertThat(evaluations.get()).isGreaterThanOrEqualTo(8);
  }

  /** Huge Duration/Instant timeouts (Duration max, Long.MAX_VALUE nanos, Instant.MAX) wait and wake. */
  @Test
  void hugeTimeoutsWaitAndWake() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    Duration max = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
    List<T> ws = new ArrayList<>();
    for (Object t : new Object[] {max, Duration.ofNanos(Long.MAX_VALUE), Instant.MAX,
        Duration.ofNanos(Timeouts.MAX_NANOS), Duration.ofNanos(Timeouts.MAX_NANOS + 1)}) {
      ws.add(new T("huge-" + t, () -> {
        try (var g = m.lock()) {
          boolean ok = t instanceof Duration d
              ? cv.awaitWhile(g, v -> v == 0, d)
              : cv.awaitWhile(g, v -> v == 0, (Instant) t);
          assertThat(ok).isTrue();
        }
      }));
    }
    for (T w : ws) {
      awaitBlocked(w.thread);
    }
    m.update(v -> 1);
    cv.notifyAllWaiters();
    for (T w : ws) {
      w.join();
    }
  }

  /** Tiny and negative/MIN timeouts and deadlines: false, lock held (never released for <= 0). */
  @Test
  void tinyAndNegativeTimeouts() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    try (var g = m.lock()) {
      for (Duration d : new Duration[] {Duration.ofNanos(1), Duration.ofNanos(1000),
          Duration.ofNanos(-1), Duration.ofSeconds(Long.MIN_VALUE), Duration.ZERO}) {
        assertThat(cv.awaitWhile(g, v -> true, d)).as("%s", d).isFalse();
        assertThat(m.isHeldByCurrentThread()).isTrue();
      }
      for (Instant d : new Instant[] {Instant.MIN, Instant.EPOCH, Instant.now()}) {
        assertThat(cv.awaitWhile(g, v -> true, d)).as("%s", d).isFalse();
        assertThat(m.isHeldByCurrentThread()).isTrue();
      }
      assertThat(cv.hasWaiters()).isFalse();
    }
  }

  /** Interrupt status survives uninterruptible waits: pre-set, set while parked, many times. */
  @Test
  void uninterruptibleWaitKeepsWaitingAndRestoresTheStatus() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicBoolean statusAfter = new AtomicBoolean();
    // No start latch: awaitBlocked below could catch the thread still parked in it, and the
    // interrupts meant for the wait would end it there (a failure seen in CI, stop 32).
    T w = new T("unint", () -> {
      Thread.currentThread().interrupt(); // pre-set, predicate blocks
      try (var g = m.lock()) {
        cv.awaitWhileUninterruptibly(g, v -> v == 0);
        assertThat(m.isHeldByCurrentThread()).isTrue();
        statusAfter.set(Thread.currentThread().isInterrupted());
      }
    });
    awaitBlocked(w.thread);
    for (int i = 0; i < 20; i++) {
      w.thread.interrupt();
      LockSupport.parkNanos(100_000);
    }
    if (!w.thread.isAlive()) {
      w.join(); // reports what ended it
    }
    assertThat(w.thread.isAlive()).isTrue();
    m.update(v -> 1);
    cv.notifyOne();
    w.join();
    assertThat(statusAfter.get()).isTrue();
    // already satisfied: status untouched either way
    Thread.currentThread().interrupt();
    try (var g = m.lock()) {
      cv.awaitWhileUninterruptibly(g, v -> v == 0);
      cv.awaitWhile(g, v -> v == 0);
      assertThat(cv.awaitWhile(g, v -> v == 0, Duration.ofSeconds(1))).isTrue();
      assertThat(cv.awaitWhile(g, v -> v != 0, Duration.ZERO)).isFalse(); // returns without waiting
    }
    assertThat(Thread.interrupted()).isTrue();
  }

  /** Two threads binding one Condvar to two mutexes at once: one wins, the loser keeps its lock. */
  @Test
  void concurrentBindingToTwoMutexes() throws Exception {
    for (int i = 0; i < 200; i++) {
      Condvar cv = new Condvar();
      Mutex<Integer> a = new Mutex<>(0);
      Mutex<Integer> b = new Mutex<>(0);
      CountDownLatch start = new CountDownLatch(1);
      AtomicInteger wins = new AtomicInteger();
      AtomicInteger refusals = new AtomicInteger();
      List<T> ts = new ArrayList<>();
      for (Mutex<Integer> mm : List.of(a, b)) {
        ts.add(new T("bind", () -> {
          start.await();
          try (var g = mm.lock()) {
            try {
              cv.awaitWhile(g, v -> false);
              wins.incrementAndGet();
            } catch (IllegalArgumentException e) {
              refusals.incrementAndGet();
              assertThat(e).hasMessageContaining("use one Condvar per Mutex");
            }
            assertThat(mm.isHeldByCurrentThread()).isTrue();
            assertThat(g.isOpen()).isTrue();
          }
        }));
      }
      start.countDown();
      for (T t : ts) {
        t.join();
      }
      assertThat(wins.get()).isEqualTo(1);
      assertThat(refusals.get()).isEqualTo(1);
      assertThat(a.isLocked() || b.isLocked()).isFalse();
    }
  }

  /** Ping-pong of timed waits with notifies outside the lock (spin phase + park): no round lost. */
  @Test
  void timedPingPongWithOutsideNotifiesLosesNoRound() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    int rounds = 20_000;
    List<T> ts = new ArrayList<>();
    for (int side = 0; side < 2; side++) {
      int mine = side;
      ts.add(new T("side" + side, () -> {
        for (int r = mine; r < rounds; r += 2) {
          int want = r;
          try (var g = m.lock()) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (!cv.awaitWhile(g, v -> v != want, Duration.ofNanos(
                ThreadLocalRandom.current().nextLong(1, 30_000)))) {
              assertThat(System.nanoTime() - deadline).as("round %d stuck", want).isNegative();
            }
            g.set(want + 1);
          }
          cv.notifyOne();
        }
      }));
    }
    for (T t : ts) {
      t.join();
    }
    assertThat(MutexTest.value(m)).isEqualTo(rounds);
  }

  /** A predicate that closes its own guard: an exception, not a hang; the mutex ends up free. */
  @Test
  void predicateThatClosesItsGuardFailsFast() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    T w = new T("closer", () -> {
      Mutex.Guard<Integer> g = m.lock();
      AtomicBoolean once = new AtomicBoolean();
      Throwable t = MutexTest.catchThrowable(() -> cv.awaitWhile(g, v -> {
        if (once.compareAndSet(false, true)) {
          g.close();
        }
        return true;
      }));
      assertThat(t).isNotNull();
      assertThat(m.isHeldByCurrentThread()).isFalse();
    });
    w.join();
    assertThat(m.isLocked()).isFalse();
    assertThat(cv.hasWaiters()).isFalse();
  }

  /** An interrupted notifier outside the lock, lock held by another: blocks, then returns; status kept. */
  @Test
  void interruptedNotifierOutsideTheLockKeepsItsStatus() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    T w = new T("waiter", () -> {
      try (var g = m.lock()) {
        cv.awaitWhile(g, v -> v == 0);
      }
    });
    awaitBlocked(w.thread);
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch letGo = new CountDownLatch(1);
    T holder = new T("holder", () -> {
      try (var g = m.lock()) {
        g.set(1);
        held.countDown();
        letGo.await();
      }
    });
    assertThat(held.await(5, TimeUnit.SECONDS)).isTrue();
    AtomicBoolean status = new AtomicBoolean();
    T notifier = new T("notifier", () -> {
      Thread.currentThread().interrupt();
      cv.notifyOne();
      status.set(Thread.currentThread().isInterrupted());
    });
    awaitBlocked(notifier.thread);
    notifier.thread.interrupt();
    letGo.countDown();
    notifier.join();
    holder.join();
    w.join();
    assertThat(status.get()).isTrue();
  }

  /** A Condvar wait after changing the value wakes lockWhen waiters on the same mutex (all forms). */
  @Test
  void condvarWaitAfterAChangeWakesLockWhenWaiters() throws Exception {
    for (int form = 0; form < 3; form++) {
      int f = form;
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      T lw = new T("lockWhen", () -> {
        try (var g = m.lockWhen(v -> v == 1)) {
          g.set(2);
        }
        cv.notifyOne();
      });
      awaitBlocked(lw.thread);
      T cw = new T("condvar", () -> {
        try (var g = m.lock()) {
          g.set(1); // changed, then waits without closing the guard
          if (f == 0) {
            cv.awaitWhile(g, v -> v != 2);
          } else if (f == 1) {
            assertThat(cv.awaitWhile(g, v -> v != 2, Duration.ofSeconds(10))).isTrue();
          } else {
            cv.awaitWhileUninterruptibly(g, v -> v != 2);
          }
        }
      });
      cw.join();
      lw.join();
    }
  }

  // (A JFR attack, "every way a wait ends under a recording", was dropped: run before
  // JfrEventsTest in one JVM it made JfrEventsTest.condvarWaitUntilReady fail, 3 of 3 batch
  // runs; JfrEventsTest and JfrAdversarialTest cover those outcomes.)

  /**
   * JDK analogue of {@code Review17fTest.openDefect_notifyOutsideTheMutexSlipsBetweenCheckAndSleep}:
   * ReentrantLock + Condition, flag set without the lock, signalAll under it; the waiter's last
   * check pauses until the notifier is done or 500 ms passed. The wake-up is not lost.
   */
  @Test
  void jdkAnalogueOfTheFlagSchedule() throws Exception {
    java.util.concurrent.locks.ReentrantLock lock = new java.util.concurrent.locks.ReentrantLock();
    java.util.concurrent.locks.Condition cond = lock.newCondition();
    AtomicBoolean flag = new AtomicBoolean();
    AtomicInteger evals = new AtomicInteger();
    CountDownLatch checked = new CountDownLatch(1);
    CountDownLatch notified = new CountDownLatch(1);
    T w = new T("waiter", () -> {
      lock.lock();
      try {
        while (true) {
          boolean blocked = !flag.get();
          if (evals.incrementAndGet() == 1) {
            checked.countDown();
            notified.await(500, TimeUnit.MILLISECONDS);
          }
          if (!blocked) {
            break;
          }
          cond.await();
        }
      } finally {
        lock.unlock();
      }
    });
    assertThat(checked.await(5, TimeUnit.SECONDS)).isTrue();
    flag.set(true);
    T n = new T("notifier", () -> {
      lock.lock();
      try {
        cond.signalAll();
      } finally {
        lock.unlock();
      }
      notified.countDown();
    });
    n.join();
    w.join();
  }

  /**
   * Chaos: plain, timed and uninterruptible waiters consuming permits while a producer adds
   * them (notifyOne inside and outside the lock, value changed under the lock) and a chaos
   * thread interrupts waiters at random: every permit is consumed, none stranded.
   */
  @Test
  @Timeout(30)
  void permitsAreNeverStrandedUnderInterruptsAndTimeouts() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    int permits = 4000;
    AtomicInteger consumed = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    List<T> ws = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      int mode = i % 3;
      ws.add(new T("w" + i, () -> {
        while (!stop.get()) {
          try (var g = m.lock()) {
            boolean ok = true;
            try {
              if (mode == 0) {
                cv.awaitWhile(g, v -> v == 0 && !stop.get());
              } else if (mode == 1) {
                ok = cv.awaitWhile(g, v -> v == 0 && !stop.get(),
                    Duration.ofNanos(ThreadLocalRandom.current().nextLong(1, 100_000)));
              } else {
                cv.awaitWhileUninterruptibly(g, v -> v == 0 && !stop.get());
                Thread.interrupted();
              }
            } catch (InterruptedException e) {
              ok = false;
            }
            assertThat(m.isHeldByCurrentThread()).isTrue();
            if (ok && g.get() > 0) {
              g.set(g.get() - 1);
              consumed.incrementAndGet();
            }
          }
        }
      }));
    }
    T chaos = new T("chaos", () -> {
      while (!stop.get()) {
        ws.get(ThreadLocalRandom.current().nextInt(ws.size())).thread.interrupt();
        LockSupport.parkNanos(20_000);
      }
    });
    for (int i = 0; i < permits; i++) {
      if ((i & 1) == 0) {
        m.update(v -> v + 1);
        cv.notifyOne();
      } else {
        try (var g = m.lock()) {
          g.set(g.get() + 1);
          cv.notifyOne();
        }
      }
      if ((i & 63) == 0) {
        LockSupport.parkNanos(10_000);
      }
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (consumed.get() < permits && System.nanoTime() < deadline) {
      LockSupport.parkNanos(1_000_000);
    }
    int got = consumed.get();
    try (var g = m.lock()) {
      stop.set(true); // under the lock: predicates read it
    }
    cv.notifyAllWaiters();
    chaos.join();
    for (T w : ws) {
      w.join();
    }
    assertThat(got).isEqualTo(permits);
  }

  /** 500 virtual waiters, each waiting for its own ticket; a virtual notifier that parks. */
  @Test
  void manyVirtualWaitersAndAnUnmountingNotifier() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21);
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    int n = 500;
    AtomicInteger done = new AtomicInteger();
    AtomicReference<@Nullable Throwable> fail = new AtomicReference<>();
    List<Thread> ws = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int ticket = i;
      ws.add(SpinLockHandOverReviewTest.startVirtual("vw" + i, () -> {
        try (var g = m.lock()) {
          if ((ticket & 1) == 0) {
            cv.awaitWhile(g, v -> v <= ticket);
          } else {
            while (!cv.awaitWhile(g, v -> v <= ticket, Duration.ofNanos(10_000))) {
              // retry: a timed retry loop on a virtual thread
            }
          }
          done.incrementAndGet();
        } catch (Throwable t) {
          fail.set(t);
        }
      }));
    }
    Thread notifier = SpinLockHandOverReviewTest.startVirtual("vn", () -> {
      for (int i = 0; i < n; i++) {
        m.update(v -> v + 1);
        if ((i & 3) == 0) {
          LockSupport.parkNanos(20_000); // unmounts
        }
        cv.notifyAllWaiters();
      }
    });
    notifier.join(10_000);
    for (Thread w : ws) {
      w.join(10_000);
    }
    assertThat(notifier.isAlive()).isFalse();
    assertThat(ws).noneMatch(Thread::isAlive);
    assertThat(fail.get()).isNull();
    assertThat(done.get()).isEqualTo(n);
  }

  /** The same attacks on a single virtual-thread carrier, in a forked JVM. */
  @Test
  @Timeout(60)
  void oneCarrier() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21);
    String out = VirtualReadersHarness.forkOneCarrier(OneCarrierMain.class);
    assertThat(out).contains("ok");
  }

  /** Forked with one carrier: virtual waiters (timed retry loops, notifyOne chains) and notifier. */
  static final class OneCarrierMain {
    public static void main(String[] args) throws Exception {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      int n = 50;
      AtomicInteger done = new AtomicInteger();
      List<Thread> ws = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int k = i;
        ws.add(SpinLockHandOverReviewTest.startVirtual("w" + i, () -> {
          try (var g = m.lock()) {
            if ((k & 1) == 0) {
              cv.awaitWhile(g, v -> v == 0);
            } else {
              while (!cv.awaitWhile(g, v -> v == 0, Duration.ofNanos(5_000))) {
                // retry
              }
            }
            g.set(g.get() - 1);
            done.incrementAndGet();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        }));
      }
      Thread notifier = SpinLockHandOverReviewTest.startVirtual("n", () -> {
        for (int i = 0; i < n; i++) {
          m.update(v -> v + 1);
          LockSupport.parkNanos(5_000);
          cv.notifyOne();
        }
      });
      notifier.join(20_000);
      for (Thread w : ws) {
        w.join(20_000);
      }
      if (notifier.isAlive() || done.get() != n) {
        System.out.println("stuck: done=" + done.get() + " " + cv);
        System.exit(1);
      }
      System.out.println("ok");
    }
  }
}
