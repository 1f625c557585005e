package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 18 review of the session-18 changes (Condvar's Dekker pair, Scope's end and
 * timedOut): attacks that held. One line each on what it attacked. Defects: {@link
 * Review18Test}.
 */
@Timeout(60)
@SuppressWarnings("try") // guards held only for the lock
class Review18TestHeld {

  interface Body {
    void run() throws Exception;
  }

  /** A started thread (platform or virtual) that records its failure; joined with a limit. */
  static final class T {
    final Thread thread;
    final AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();

    T(String name, boolean virtual, Body body) throws ReflectiveOperationException {
      Runnable r = () -> {
        try {
          body.run();
        } catch (Throwable t) {
          failure.set(t);
        }
      };
      if (virtual) {
        thread = SpinLockHandOverReviewTest.startVirtual("r18-" + name, r);
      } else {
        thread = new Thread(r, "r18-" + name);
        thread.start();
      }
    }

    void join() throws InterruptedException {
      thread.join(20_000);
      assertThat(thread.isAlive()).as("%s still running", thread.getName()).isFalse();
      Throwable t = failure.get();
      if (t != null) {
        throw new AssertionError(thread.getName() + " failed", t);
      }
    }
  }

  static boolean virtualThreadsAvailable() {
    try {
      Thread.class.getMethod("ofVirtual");
      return true;
    } catch (NoSuchMethodException e) {
      return false;
    }
  }

  // ------------------------------------------------------------------------------ Condvar

  /**
   * The spin phase (window "mutex.released-for-spin", on the waiter after it released the
   * mutex): a helper sets a flag without the mutex and notifies from outside while the waiter
   * is not counted (it reads 0 and returns without the lock); the waiter's last check (after it
   * counts itself) must see the flag. Also the holder variant: the helper takes the mutex,
   * changes the value and notifies as holder (count 0, no signal).
   */
  @Test
  void held_notifyDuringTheSpinPhaseIsSeenByTheLastCheck() throws Exception {
    for (boolean asHolder : new boolean[] {false, true}) {
      for (int round = 0; round < 50; round++) {
        Mutex<int[]> m = new Mutex<>(new int[1]);
        Condvar cv = new Condvar();
        AtomicBoolean flag = new AtomicBoolean();
        AtomicReference<@Nullable Thread> waiter = new AtomicReference<>();
        AtomicInteger windows = new AtomicInteger();
        AtomicReference<@Nullable Throwable> helperFailure = new AtomicReference<>();
        boolean holder = asHolder;
        try (AutoCloseable hook = ProtocolWindows.install(w -> {
          if (w.equals("mutex.released-for-spin") && Thread.currentThread() == waiter.get()
              && windows.getAndIncrement() == 0) {
            Thread helper = new Thread(() -> {
              try {
                if (holder) {
                  try (var g = m.lock()) {
                    g.get()[0] = 1;
                    cv.notifyOne();
                  }
                } else {
                  flag.set(true);
                  cv.notifyOne();
                }
              } catch (Throwable t) {
                helperFailure.set(t);
              }
            });
            helper.start();
            try {
              helper.join(5_000);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        })) {
          T w = new T("spin-waiter", false, () -> {
            waiter.set(Thread.currentThread());
            try (var g = m.lock()) {
              boolean ok = cv.awaitWhile(g, v -> v[0] == 0 && !flag.get(), Duration.ofSeconds(5));
              assertThat(ok).as("woken in time (holder=%s)", holder).isTrue();
            }
          });
          w.join();
        }
        assertThat(helperFailure.get()).isNull();
        if (windows.get() == 0) {
          Assumptions.assumeTrue(Mutex.WAIT_SPINS, "no spin phase on one CPU");
        }
      }
    }
  }

  /**
   * Dekker under stress: N waiters on a flag changed without the mutex (AtomicInteger
   * generation), notifier outside the mutex with notifyAllWaiters / notifyOne alternating,
   * platform and (JDK 21+) virtual threads; every waiter must see every generation within a
   * bounded wait (a lost wake-up shows as a 5 s timed wait returning false).
   */
  @Test
  void held_outsideFlagOutsideNotifyManyWaitersEveryGeneration() throws Exception {
    for (boolean virtual : new boolean[] {false, true}) {
      if (virtual && !virtualThreadsAvailable()) {
        continue;
      }
      Mutex<Object> m = new Mutex<>(new Object());
      Condvar cv = new Condvar();
      AtomicInteger gen = new AtomicInteger();
      int waiters = 4;
      int gens = 3_000;
      AtomicInteger[] seen = new AtomicInteger[waiters];
      List<T> ts = new ArrayList<>();
      for (int i = 0; i < waiters; i++) {
        AtomicInteger s = new AtomicInteger();
        seen[i] = s;
        ts.add(new T("gen-w" + i, virtual, () -> {
          for (int g0 = 1; g0 <= gens; g0++) {
            int want = g0;
            try (var g = m.lock()) {
              boolean ok = cv.awaitWhile(g, o -> gen.get() < want, Duration.ofSeconds(5));
              assertThat(ok).as("generation %s lost", want).isTrue();
            }
            s.set(want);
          }
        }));
      }
      T notifier = new T("gen-n", virtual, () -> {
        for (int g0 = 1; g0 <= gens; g0++) {
          // wait until every waiter saw the previous generation (bounded)
          long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
          for (AtomicInteger s : seen) {
            while (s.get() < g0 - 1) {
              assertThat(System.nanoTime() - end).as("waiters stuck").isNegative();
              LockSupport.parkNanos(1_000L);
            }
          }
          gen.set(g0);
          if ((g0 & 1) == 0) {
            cv.notifyAllWaiters();
          } else {
            // notifyOne as many times as there are waiters: each wakes one
            for (int k = 0; k < waiters; k++) {
              cv.notifyOne();
            }
          }
        }
      });
      notifier.join();
      for (T t : ts) {
        t.join();
      }
    }
  }

  /**
   * notifyOne among many waiters, some of which time out (short random timeouts, retried) or
   * are interrupted: a semaphore whose permits are posted one at a time with notifyOne from
   * outside the mutex after a change under it; every permit must be taken within the bound,
   * while untimed waiters remain (the pass-on of a woken waiter that gives up). Also checked
   * against ReentrantLock + Condition with the same schedule (same bound, sanity).
   */
  @Test
  void held_notifyOnePermitsWithGivingUpWaitersAreNeverStranded() throws Exception {
    Mutex<int[]> m = new Mutex<>(new int[1]);
    Condvar cv = new Condvar();
    int permits = 4_000;
    AtomicInteger taken = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    List<T> ts = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      boolean timed = i % 2 == 0;
      ts.add(new T("perm-w" + i, false, () -> {
        while (!stop.get()) {
          try (var g = m.lock()) {
            boolean ok;
            try {
              if (timed) {
                long micros = ThreadLocalRandom.current().nextLong(1, 200);
                ok = cv.awaitWhile(g, v -> v[0] == 0 && !stop.get(),
                    Duration.ofNanos(micros * 1_000));
              } else {
                cv.awaitWhile(g, v -> v[0] == 0 && !stop.get());
                ok = true;
              }
            } catch (InterruptedException e) {
              continue; // gave up: the notification must be passed on
            }
            if (ok && g.get()[0] > 0) {
              g.get()[0]--;
              taken.incrementAndGet();
            }
          }
        }
      }));
    }
    List<Thread> interruptible = new ArrayList<>();
    for (T t : ts) {
      interruptible.add(t.thread);
    }
    for (int p = 0; p < permits; p++) {
      try (var g = m.lock()) {
        g.get()[0]++;
      }
      cv.notifyOne();
      if (p % 97 == 0) {
        interruptible.get(p % interruptible.size()).interrupt();
      }
      if (p % 64 == 0) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (taken.get() < p + 1 - 8) {
          assertThat(System.nanoTime() - end).as("permits stranded at %s", p).isNegative();
          LockSupport.parkNanos(10_000L);
        }
      }
    }
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (taken.get() < permits) {
      assertThat(System.nanoTime() - end)
          .as("permits stranded: %s of %s taken", taken.get(), permits).isNegative();
      LockSupport.parkNanos(100_000L);
    }
    stop.set(true);
    cv.notifyAllWaiters();
    for (T t : ts) {
      t.join();
    }
  }

  /**
   * A waiter woken by notifyOne whose predicate then throws passes the notification on
   * (leave), also when the notify came from outside the mutex after a change without it.
   * Reference: ReentrantLock + Condition with a throwing check has no such pass-on; the
   * contract is weft's own, and it held.
   */
  @Test
  void held_throwingPredicateAfterOutsideNotifyPassesOn() throws Exception {
    for (int round = 0; round < 100; round++) {
      Mutex<Object> m = new Mutex<>(new Object());
      Condvar cv = new Condvar();
      AtomicBoolean ready = new AtomicBoolean();
      T thrower = new T("thrower", false, () -> {
        try (var g = m.lock()) {
          try {
            cv.awaitWhile(g, o -> {
              if (ready.get()) {
                throw new IllegalStateException("predicate");
              }
              return true;
            });
          } catch (IllegalStateException expected) {
            // thrown after the wake-up
          }
        }
      });
      awaitWaiting(m, cv, 1);
      T patient = new T("patient", false, () -> {
        try (var g = m.lock()) {
          assertThat(cv.awaitWhile(g, o -> !ready.get(), Duration.ofSeconds(5)))
              .as("the thrower passed the notification on").isTrue();
        }
      });
      awaitWaiting(m, cv, 2);
      ready.set(true);
      cv.notifyOne(); // from outside: the thrower is first in the condition's queue
      patient.join();
      cv.notifyAllWaiters(); // clean-up only (the thrower has normally left already)
      thrower.join();
    }
  }

  /** Waits until n threads are counted as waiting and the mutex is free (they are asleep). */
  static void awaitWaiting(Mutex<?> m, Condvar cv, int n) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (m.isLocked() || !cv.toString().contains(n + " waiting")) {
      assertThat(System.nanoTime() - end).as("%s waiters", n).isNegative();
      LockSupport.parkNanos(20_000L);
    }
    LockSupport.parkNanos(200_000L);
    while (m.isLocked()) {
      assertThat(System.nanoTime() - end).as("%s waiters", n).isNegative();
      LockSupport.parkNanos(20_000L);
    }
  }

  /**
   * awaitWhileUninterruptibly on a flag set without the mutex, interrupted while it waits, then
   * the flag and a notifyOne from outside: it returns, with its interrupt status set.
   */
  @Test
  void held_uninterruptibleWaitOnAnOutsideFlagWithInterrupts() throws Exception {
    for (int round = 0; round < 200; round++) {
      Mutex<Object> m = new Mutex<>(new Object());
      Condvar cv = new Condvar();
      AtomicBoolean flag = new AtomicBoolean();
      AtomicReference<@Nullable Boolean> status = new AtomicReference<>();
      T w = new T("unint", false, () -> {
        try (var g = m.lock()) {
          cv.awaitWhileUninterruptibly(g, o -> !flag.get());
        }
        status.set(Thread.interrupted());
      });
      LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(0, 100_000));
      w.thread.interrupt();
      LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(0, 50_000));
      flag.set(true);
      cv.notifyOne();
      w.join();
      assertThat(status.get()).isTrue();
    }
  }

  /**
   * lockWhen (automatic signalling) and Condvar on one mutex: a lockWhen waiter on the value,
   * a Condvar waiter on an outside flag; the holder changes the value and notifies from inside,
   * another thread sets the flag and notifies from outside; both waiters must return.
   */
  @Test
  void held_lockWhenAndCondvarMixedWithInsideAndOutsideNotifies() throws Exception {
    for (int round = 0; round < 300; round++) {
      Mutex<int[]> m = new Mutex<>(new int[1]);
      Condvar cv = new Condvar();
      AtomicBoolean flag = new AtomicBoolean();
      T lw = new T("lockWhen", false, () -> {
        try (var g = m.lockWhen(v -> v[0] == 1, Duration.ofSeconds(5))) {
          assertThat(g).as("lockWhen woken").isNotNull();
        }
      });
      T cw = new T("condvar", false, () -> {
        try (var g = m.lock()) {
          assertThat(cv.awaitWhile(g, v -> !flag.get() || v[0] == 0, Duration.ofSeconds(5)))
              .as("condvar woken").isTrue();
        }
      });
      if ((round & 1) == 0) {
        LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(0, 50_000));
      }
      T outside = new T("outside", false, () -> {
        flag.set(true);
        cv.notifyAllWaiters();
      });
      try (var g = m.lock()) {
        g.get()[0] = 1;
        cv.notifyAllWaiters();
      }
      outside.join();
      lw.join();
      cw.join();
    }
  }

  /**
   * Reference check for the flag schedule: the same outside-flag + notify as {@link
   * #held_outsideFlagOutsideNotifyManyWaitersEveryGeneration}, with ReentrantLock + Condition
   * (which must take the lock to signal). Sanity for the bound used above.
   */
  @Test
  void held_jdkReferenceOfTheGenerationSchedule() throws Exception {
    ReentrantLock lock = new ReentrantLock();
    Condition c = lock.newCondition();
    AtomicInteger gen = new AtomicInteger();
    AtomicInteger seen = new AtomicInteger();
    int gens = 2_000;
    T w = new T("jdk-w", false, () -> {
      for (int g0 = 1; g0 <= gens; g0++) {
        lock.lock();
        try {
          long n = TimeUnit.SECONDS.toNanos(5);
          while (gen.get() < g0 && n > 0) {
            n = c.awaitNanos(n);
          }
          assertThat(gen.get()).isGreaterThanOrEqualTo(g0);
        } finally {
          lock.unlock();
        }
        seen.set(g0);
      }
    });
    for (int g0 = 1; g0 <= gens; g0++) {
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (seen.get() < g0 - 1) {
        assertThat(System.nanoTime() - end).isNegative();
        LockSupport.parkNanos(1_000L);
      }
      gen.set(g0);
      lock.lock();
      try {
        c.signal();
      } finally {
        lock.unlock();
      }
    }
    w.join();
  }

  // ------------------------------------------------------------------------------ Scope (a)

  /**
   * Scope threads that spawn (three levels) while the owner ends the scope, with the spawn
   * window ("scope.pushed-not-started") held open for a random while on the spawners, for the
   * default, virtual, capped (with a user factory) and timed scopes: after the end, every thread
   * of the scope (recorded by the task or by the factory) has terminated, and no spawned thread
   * was left NEW and then started later.
   */
  @Test
  void held_nestedSpawnsRacingTheEndLeaveNoThreadAlive() throws Exception {
    ConcurrentLinkedQueue<Thread> threads = new ConcurrentLinkedQueue<>();
    try (AutoCloseable hook = ProtocolWindows.install(w -> {
      if (w.equals("scope.pushed-not-started") && Thread.currentThread().getName()
          .contains("r18n")) {
        LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(0, 300_000));
      }
    })) {
      for (int shape = 0; shape < 4; shape++) {
        if (shape == 1 && !virtualThreadsAvailable()) {
          continue;
        }
        for (int round = 0; round < 30; round++) {
          Scope.Builder b = Scope.builder().namePrefix("r18n" + shape);
          if (shape == 1) {
            b.virtualThreads();
          } else if (shape == 2) {
            b.threadFactory(r -> {
              Thread t = new Thread(r);
              threads.add(t);
              return t;
            }).maxConcurrency(64);
          } else if (shape == 3) {
            b.timeout(Duration.ofMillis(ThreadLocalRandom.current().nextLong(1, 20)));
          }
          try (Scope scope = b.open()) {
            for (int i = 0; i < 3; i++) {
              scope.spawn(() -> {
                threads.add(Thread.currentThread());
                for (int j = 0; j < 3; j++) {
                  scope.spawn(() -> {
                    threads.add(Thread.currentThread());
                    LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(0, 200_000));
                    scope.spawn(() -> {
                      threads.add(Thread.currentThread());
                    });
                    return null;
                  });
                }
                return null;
              });
            }
          } catch (TaskFailedException expected) {
            // the timed shape may pass its deadline; spawns then fail the spawning task
          }
          for (Thread t : threads) {
            assertThat(t.isAlive()).as("%s alive after the end (shape %s)", t, shape).isFalse();
          }
          threads.clear();
        }
      }
    }
  }

  /**
   * The deferred-node order: a grandchild's spawn window held open until the owner waits at
   * the end (so the owner has read the grandchild's node unstarted, while its spawner, the
   * child, is still alive); the child then finishes its spawn. The end joins the grandchild.
   */
  @Test
  void held_grandchildPublishedButNotStartedWhenTheOwnerEndsIsJoined() throws Exception {
    Thread owner = Thread.currentThread();
    AtomicReference<@Nullable Thread> child = new AtomicReference<>();
    AtomicReference<@Nullable ScopedThread<Void>> grandchild = new AtomicReference<>();
    AtomicBoolean returned = new AtomicBoolean();
    AtomicBoolean bodyDone = new AtomicBoolean();
    CountDownLatch inWindow = new CountDownLatch(1);
    try (AutoCloseable hook = ProtocolWindows.install(w -> {
      if (w.equals("scope.pushed-not-started") && Thread.currentThread() == child.get()) {
        inWindow.countDown();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while ((!bodyDone.get() || owner.getState() != Thread.State.WAITING) && !returned.get()
            && System.nanoTime() < end) {
          LockSupport.parkNanos(100_000L);
        }
        LockSupport.parkNanos(2_000_000L);
      }
    })) {
      try (Scope scope = Scope.open()) {
        scope.spawn(() -> {
          child.set(Thread.currentThread());
          grandchild.set(scope.spawn(() -> LockSupport.parkNanos(20_000_000L)));
          return null;
        });
        assertThat(inWindow.await(5, TimeUnit.SECONDS)).isTrue();
        bodyDone.set(true);
      } finally {
        returned.set(true);
      }
      ScopedThread<Void> g = grandchild.get();
      assertThat(g).isNotNull();
      assertThat(g.thread().isAlive()).isFalse();
      assertThat(g.isDone()).isTrue();
    }
  }

  // ------------------------------------------------------------------------------ Scope (b)

  /** The owner meeting the passed deadline in spawn (the timer cancelled first): no interrupt. */
  @Test
  void held_ownerSpawningAfterTheDeadlineIsNotInterrupted() throws Exception {
    try (Scope scope = Scope.builder().timeout(Duration.ofMillis(50)).open()) {
      scope.spawn(() -> LockSupport.parkNanos(1_000_000L));
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
      while (!scope.toString().contains("deadline") && System.nanoTime() < end) {
        Thread.sleep(5);
      }
      Thread.sleep(100);
      assertThatThrownBy(() -> scope.spawn(() -> { })).isInstanceOf(ScopeTimeoutException.class);
      assertThat(Thread.currentThread().isInterrupted()).as("owner interrupted").isFalse();
    } catch (ScopeTimeoutException expected) {
      // the end reports the deadline
    }
    assertThat(Thread.interrupted()).isFalse();
  }

  /**
   * A thread of scope A that owns scope B (shorter deadline) and meets B's passed deadline in
   * B.spawn and in a join of B's thread: it is B's owner, so it is not interrupted, and A is not
   * cancelled.
   */
  @Test
  void held_threadOfAOwningBIsNotInterruptedByBsDeadline() throws Exception {
    AtomicReference<@Nullable Boolean> interruptedAfterSpawn = new AtomicReference<>();
    AtomicReference<@Nullable Boolean> interruptedAfterJoin = new AtomicReference<>();
    AtomicReference<@Nullable String> aState = new AtomicReference<>();
    try (Scope a = Scope.builder().timeout(Duration.ofSeconds(20)).open()) {
      a.spawn(() -> {
        try (Scope b = Scope.builder().timeout(Duration.ofMillis(50)).open()) {
          AtomicBoolean release = new AtomicBoolean();
          ScopedThread<Void> u = b.spawn(() -> {
            while (!release.get()) { // ignores interrupts
              LockSupport.parkNanos(100_000L);
            }
          });
          Thread.sleep(150);
          try {
            b.spawn(() -> { });
          } catch (ScopeTimeoutException expected) {
            interruptedAfterSpawn.set(Thread.currentThread().isInterrupted());
          }
          try {
            u.join();
          } catch (ScopeTimeoutException expected) {
            interruptedAfterJoin.set(Thread.currentThread().isInterrupted());
          }
          release.set(true);
        } catch (ScopeTimeoutException expected) {
          // B's end
        }
        aState.set(a.toString());
        return null;
      });
    }
    assertThat(interruptedAfterSpawn.get()).isFalse();
    assertThat(interruptedAfterJoin.get()).isFalse();
    assertThat(aState.get()).doesNotContain("cancel");
  }

  /**
   * A thread that is not the scope's (a plain thread given a handle) joining a still-running
   * scope thread after the deadline gets ScopeTimeoutException and is not interrupted.
   */
  @Test
  void held_foreignThreadJoiningAfterTheDeadlineIsNotInterrupted() throws Exception {
    AtomicReference<@Nullable Boolean> foreignInterrupted = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> foreignGot = new AtomicReference<>();
    AtomicBoolean release = new AtomicBoolean();
    try (Scope scope = Scope.builder().timeout(Duration.ofMillis(50)).open()) {
      ScopedThread<Void> h = scope.spawn(() -> {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!release.get() && System.nanoTime() < end) { // ignores interrupts
          LockSupport.parkNanos(100_000L);
        }
      });
      T foreign = new T("foreign", false, () -> {
        Thread.sleep(150);
        try {
          h.join();
        } catch (ScopeTimeoutException e) {
          foreignGot.set(e);
        }
        foreignInterrupted.set(Thread.currentThread().isInterrupted());
      });
      foreign.join();
      release.set(true);
    } catch (ScopeTimeoutException expected) {
      // the end reports the deadline
    }
    assertThat(foreignGot.get()).isInstanceOf(ScopeTimeoutException.class);
    assertThat(foreignInterrupted.get()).isFalse();
  }

  /**
   * The documented case, for contrast with Review18Test's defect: a scope thread that swallowed
   * the walk's interrupt and joins a sibling still running after the deadline is interrupted.
   */
  @Test
  void held_scopeThreadJoiningARunningSiblingAfterTheDeadlineIsInterrupted() throws Exception {
    AtomicReference<@Nullable Boolean> interruptedAfter = new AtomicReference<>();
    AtomicBoolean release = new AtomicBoolean();
    try (Scope scope = Scope.builder().timeout(Duration.ofMillis(100)).open()) {
      ScopedThread<Void> h = scope.spawn(() -> {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!release.get() && System.nanoTime() < end) { // ignores interrupts
          LockSupport.parkNanos(100_000L);
        }
      });
      scope.spawn(() -> {
        try {
          Thread.sleep(10_000);
        } catch (InterruptedException e) {
          // swallowed
        }
        try {
          h.join();
        } catch (ScopeTimeoutException e) {
          interruptedAfter.set(Thread.currentThread().isInterrupted());
        }
        Thread.interrupted();
        release.set(true);
        return null;
      });
    } catch (ScopeTimeoutException expected) {
      // the end reports the deadline
    }
    assertThat(interruptedAfter.get()).isTrue();
  }

  /**
   * Scope (b) in the wait for a slot: under maxConcurrency(1), a scope thread (it holds the only
   * slot) spawns and waits for a slot until the deadline; the timer cancels first (and its walk
   * interrupt is swallowed by a task that retries): the spawn throws ScopeTimeoutException and
   * the thread is interrupted; the end returns with ScopeTimeoutException.
   */
  @Test
  void held_scopeThreadWaitingForASlotAtTheDeadlineIsInterrupted() throws Exception {
    AtomicReference<@Nullable Boolean> interruptedAfter = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> spawnGot = new AtomicReference<>();
    long t0 = System.nanoTime();
    assertThatThrownBy(() -> {
      try (Scope scope = Scope.builder().maxConcurrency(1).timeout(Duration.ofMillis(100))
          .open()) {
        scope.spawn(() -> {
          while (true) {
            try {
              scope.spawn(() -> { });
            } catch (InterruptedException e) {
              Thread.interrupted(); // the walk's interrupt, swallowed: try again
            } catch (ScopeTimeoutException e) {
              spawnGot.set(e);
              break;
            }
          }
          interruptedAfter.set(Thread.currentThread().isInterrupted());
          Thread.interrupted();
          return null;
        });
      }
    }).isInstanceOf(ScopeTimeoutException.class);
    assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(5));
    assertThat(spawnGot.get()).isInstanceOf(ScopeTimeoutException.class);
    assertThat(interruptedAfter.get()).isTrue();
  }
}
