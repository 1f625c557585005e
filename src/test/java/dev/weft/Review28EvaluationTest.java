package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.testing.Waits;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
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
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review of session 28's {@link Mutex.PredicateEvaluation#BY_WAITER}: a mutex made with it must
 * evaluate each {@code lockWhen}/{@code awaitThen} predicate only on its own waiter's thread,
 * under the lock; wake every waiter on every release that may have changed the value; lose no
 * wake-up; let predicates take locks ordered after the mutex without deadlocking a releaser; and
 * otherwise behave as the default (timeouts, interrupts, Condvar waits, lock-order checking,
 * left waiters, stack-overflow safety).
 *
 * <p>{@code defect_} tests fail on the reviewed code; {@code held_} tests are attacks it
 * survived. Every wait is on a latch, a join, a counter or a thread state (bounded polls);
 * nothing sleeps for a result.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@SuppressWarnings("try") // guards held for their scope only
class Review28EvaluationTest {

  private static final Mutex.PredicateEvaluation BY_WAITER = Mutex.PredicateEvaluation.BY_WAITER;

  // ------------------------------------------------------------------------------- helpers

  private static Thread start(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static void join(Thread t) throws InterruptedException {
    t.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(t.isAlive()).as("%s still running", t.getName()).isFalse();
  }

  private static void awaitInChangeQueue(Thread t, Mutex<?> m) {
    MutexSelectiveWakeTest.awaitInChangeQueue(t, m);
  }

  /** Bounded poll of a condition that another thread makes true; not a wait for a result. */
  private static void poll(String what, java.util.function.BooleanSupplier cond) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError("never happened within 20 s: " + what);
      }
      LockSupport.parkNanos(20_000L);
    }
  }

  /**
   * Wraps predicates so that an evaluation on any thread but the waiter's, or without the mutex
   * held, is counted (and the first one described).
   */
  private static final class Foreign {
    final AtomicInteger count = new AtomicInteger();
    final AtomicReference<@Nullable String> first = new AtomicReference<>();

    <T> Predicate<T> wrap(Mutex<?> m, Thread waiter, Predicate<T> p) {
      return v -> {
        Thread me = Thread.currentThread();
        boolean held = m.isHeldByCurrentThread();
        if (me != waiter || !held) {
          count.incrementAndGet();
          first.compareAndSet(
              null,
              me.getName() + " evaluated " + waiter.getName() + "'s predicate (mutex held: "
                  + held + ")");
        }
        return p.test(v);
      };
    }

    void assertNone() {
      assertThat(count.get())
          .as("evaluations on a thread other than the waiter's, or without the lock; first: %s",
              first.get())
          .isZero();
    }
  }

  /** A thread in {@code m.lockWhen(ready)} that closes the guard at once; counts own checks. */
  private static final class Waiter {
    final Thread thread;
    final AtomicInteger ownEvaluations = new AtomicInteger();
    final AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    final AtomicBoolean done = new AtomicBoolean();

    Waiter(String name, Mutex<Integer> m, Foreign foreign, Predicate<Integer> ready) {
      thread =
          start(
              name,
              () -> {
                Thread me = Thread.currentThread();
                Predicate<Integer> p =
                    foreign.wrap(
                        m,
                        me,
                        v -> {
                          if (Thread.currentThread() == me) {
                            ownEvaluations.incrementAndGet();
                          }
                          return ready.test(v);
                        });
                try {
                  try (Mutex.Guard<Integer> g = m.lockWhen(p)) {
                    if (!ready.test(g.get())) {
                      throw new AssertionError("returned with its predicate false: " + g.get());
                    }
                  }
                  done.set(true);
                } catch (Throwable t) {
                  failure.set(t);
                }
              });
    }
  }

  private static void awaitOnCondition(Thread t) {
    poll(
        t.getName() + " asleep on a Condvar",
        () ->
            t.getState() == Thread.State.WAITING
                && LockSupport.getBlocker(t) instanceof Condition);
  }

  // ========================================================= 1. no foreign evaluation, anywhere

  /**
   * HELD. Ten waiters, two of each wait form (lockWhen, timed lockWhen, lockWhen with an
   * Instant, lockWhenUninterruptibly, awaitThen), each waiting for its own count, parked before
   * the first release. Ten releases of ten kinds each raise the count by one: a guard's close,
   * with, update, another thread's awaitThen, tryLock, timed tryLock, lockInterruptibly, a holder
   * that changes the value and waits on a Condvar (signalChangedBeforeWait), a Condvar predicate
   * that changes the value after a notify from outside the mutex, and a with that ends it all.
   * Every waiter returns with its predicate true, and no predicate is ever evaluated on another
   * thread or without the lock. (With the default evaluation the releases evaluate them: checked
   * by swapping the constructor, 110 foreign evaluations.)
   */
  @Test
  void held_everyWaitFormEvaluatesOnlyOnItsWaiterAcrossEveryKindOfRelease() throws Exception {
    int n = 10;
    Mutex<int[]> m = new Mutex<>(new int[2], BY_WAITER); // [0]: the count; [1]: Condvar phase
    Condvar cv = new Condvar();
    Foreign foreign = new Foreign();
    ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    AtomicInteger done = new AtomicInteger();
    List<Thread> waiters = new ArrayList<>();
    for (int k = 1; k <= n; k++) {
      int target = k;
      int form = k % 5;
      waiters.add(
          start(
              "r28-form" + form + "-" + k,
              () -> {
                Predicate<int[]> p =
                    foreign.wrap(m, Thread.currentThread(), v -> v[0] >= target);
                try {
                  int seen =
                      switch (form) {
                        case 0 -> {
                          try (Mutex.Guard<int[]> g = m.lockWhen(p)) {
                            yield g.get()[0];
                          }
                        }
                        case 1 -> {
                          Mutex.Guard<int[]> g = m.lockWhen(p, Duration.ofSeconds(60));
                          if (g == null) {
                            yield -1;
                          }
                          try (g) {
                            yield g.get()[0];
                          }
                        }
                        case 2 -> {
                          Mutex.Guard<int[]> g = m.lockWhen(p, Instant.now().plusSeconds(60));
                          if (g == null) {
                            yield -2;
                          }
                          try (g) {
                            yield g.get()[0];
                          }
                        }
                        case 3 -> {
                          try (Mutex.Guard<int[]> g = m.lockWhenUninterruptibly(p)) {
                            yield g.get()[0];
                          }
                        }
                        default -> m.awaitThen(p, v -> v[0]);
                      };
                  if (seen < target) {
                    problems.add(target + ": returned with its predicate false, or gave up (" + seen + ")");
                  }
                  done.incrementAndGet();
                } catch (Throwable t) {
                  problems.add(target + ": " + t);
                }
              }));
    }
    for (Thread w : waiters) {
      Waits.awaitParkedOn(w, m); // in the change queue (WAITING or TIMED_WAITING on m)
    }
    List<Thread> helpers = new ArrayList<>();
    // 1: a guard's close
    try (Mutex.Guard<int[]> g = m.lock()) {
      g.get()[0] = 1;
    }
    join(waiters.get(0));
    // 2: with
    m.with(v -> v[0] = 2);
    join(waiters.get(1));
    // 3: update
    m.update(
        v -> {
          v[0] = 3;
          return v;
        });
    join(waiters.get(2));
    // 4: another thread's awaitThen
    Thread at =
        start(
            "r28-awaitThen-releaser",
            () -> {
              try {
                m.awaitThen(v -> true, v -> v[0] = 4);
              } catch (InterruptedException e) {
                problems.add("awaitThen releaser interrupted");
              }
            });
    helpers.add(at);
    join(at);
    join(waiters.get(3));
    // 5: tryLock (the lock may be busy with woken waiters re-checking: poll)
    AtomicReference<Mutex.@Nullable Guard<int[]>> tl = new AtomicReference<>();
    poll("tryLock succeeds", () -> tl.updateAndGet(g -> g != null ? g : m.tryLock()) != null);
    Mutex.Guard<int[]> g5 = tl.get();
    assertThat(g5).isNotNull();
    if (g5 != null) {
      try (g5) {
        g5.get()[0] = 5;
      }
    }
    join(waiters.get(4));
    // 6: timed tryLock
    Mutex.Guard<int[]> g6 = m.tryLock(Duration.ofSeconds(30));
    assertThat(g6).isNotNull();
    if (g6 != null) {
      try (g6) {
        g6.get()[0] = 6;
      }
    }
    join(waiters.get(5));
    // 7: lockInterruptibly
    try (Mutex.Guard<int[]> g = m.lockInterruptibly()) {
      g.get()[0] = 7;
    }
    join(waiters.get(6));
    // 8: a holder that changes the value and then waits on the Condvar
    Thread h1 =
        start(
            "r28-cv-holder",
            () -> {
              try (Mutex.Guard<int[]> g = m.lock()) {
                g.get()[0] = 8;
                cv.awaitWhile(g, v -> v[1] < 2);
              } catch (Throwable e) {
                problems.add("h1: " + e);
              }
            });
    helpers.add(h1);
    join(waiters.get(7));
    awaitOnCondition(h1);
    // 9: a Condvar predicate that changes the value after a notify from outside the mutex
    Thread h2 =
        start(
            "r28-cv-changer",
            () -> {
              try (Mutex.Guard<int[]> g = m.lock()) {
                cv.awaitWhile(
                    g,
                    v -> {
                      if (v[1] == 1 && v[0] == 8) {
                        v[0] = 9; // changed by the blocked predicate, which then blocks again
                      }
                      return v[1] < 2;
                    });
              } catch (Throwable e) {
                problems.add("h2: " + e);
              }
            });
    helpers.add(h2);
    awaitOnCondition(h2);
    m.with(v -> v[1] = 1); // a release that leaves every lockWhen predicate false
    cv.notifyAllWaiters(); // from outside the mutex: takes it briefly, signals
    join(waiters.get(8));
    // 10: the end
    m.with(
        v -> {
          v[0] = 10;
          v[1] = 2;
          return v;
        });
    cv.notifyAllWaiters();
    for (Thread w : waiters) {
      join(w);
    }
    for (Thread h : helpers) {
      join(h);
    }
    assertThat(problems).isEmpty();
    assertThat(done.get()).isEqualTo(n);
    foreign.assertNone();
    assertThat(m.isLocked()).isFalse();
    assertThat((int) m.with(v -> m.changeQueueLengthLocked())).isZero();
  }

  // ============================================== 2. a herd past the budget, woken whole

  /**
   * HELD. More waiters than a default release evaluates (EVALUATIONS_PER_RELEASE + 40), all
   * parked: one release that leaves every predicate false makes every one of them re-check on its
   * own thread (wake-all), and one that makes them true lets all of them through; no predicate
   * runs elsewhere.
   */
  @Test
  void held_aHerdPastTheBudgetIsWokenWholeByEveryReleaseAndEvaluatedOnlyByItself()
      throws Exception {
    int n = Mutex.EVALUATIONS_PER_RELEASE + 40;
    Mutex<Integer> m = new Mutex<>(0, BY_WAITER);
    Foreign foreign = new Foreign();
    List<Waiter> ws = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        ws.add(new Waiter("r28-herd-" + i, m, foreign, v -> v == 2));
      }
      for (Waiter w : ws) {
        awaitInChangeQueue(w.thread, m);
      }
      int[] before = new int[n];
      for (int i = 0; i < n; i++) {
        before[i] = ws.get(i).ownEvaluations.get();
      }
      m.update(v -> 1); // leaves every predicate false: every waiter re-checks all the same
      for (int i = 0; i < n; i++) {
        Waiter w = ws.get(i);
        int b = before[i];
        poll(w.thread.getName() + " re-checked after the release", () -> w.ownEvaluations.get() > b);
      }
      for (Waiter w : ws) {
        awaitInChangeQueue(w.thread, m);
      }
      m.update(v -> 2);
      for (Waiter w : ws) {
        join(w.thread);
        assertThat(w.failure.get()).as(w.thread.getName()).isNull();
        assertThat(w.done.get()).as(w.thread.getName()).isTrue();
      }
    } finally {
      for (Waiter w : ws) {
        w.thread.interrupt();
      }
      for (Waiter w : ws) {
        w.thread.join(TimeUnit.SECONDS.toMillis(30));
      }
    }
    foreign.assertNone();
  }

  // ======================================================== 3. lock-order checking records so

  /**
   * HELD. Lock-order checking on (THROW). W's predicate takes X only once the value is 1, so X is
   * first taken on W's re-check after a wake-up (the lock re-taken in reacquireWoken). The main
   * thread sets 1 and closes M while holding A (M, then A: a release with another lock held).
   * Then (1) X -> A is consistent with what the program does and must not be refused (a release
   * that evaluated W's predicate would have recorded A -> X), and (2) X -> M must be refused,
   * since W ordered X after M ("lock-order checking records them so"). With the default
   * evaluation (2) is not refused: the release evaluates the predicate with recording suspended,
   * finds it false, and W never takes X.
   */
  @Test
  void held_lockOrderRecordsAPredicatesLockAfterTheMutexOnItsWaiterOnly() throws Exception {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
    Mutex<Integer> m = new Mutex<>(0, BY_WAITER);
    Mutex<String> x = new Mutex<>("x");
    Mutex<String> a = new Mutex<>("a");
    Foreign foreign = new Foreign();
    Waiter w = new Waiter("r28-lo-waiter", m, foreign, v -> v >= 1 && x.with(s -> v == 2));
    @Nullable Throwable xThenA = null;
    @Nullable Throwable xThenM = null;
    try {
      awaitInChangeQueue(w.thread, m);
      int seen = w.ownEvaluations.get();
      Mutex.Guard<Integer> gm = m.lock();
      gm.set(1);
      Mutex.Guard<String> ga = a.lock(); // M -> A
      gm.close(); // wakes W; with the default it would evaluate W's predicate here, A held
      ga.close();
      poll("W re-checked", () -> w.ownEvaluations.get() > seen);
      awaitInChangeQueue(w.thread, m); // its re-check took X under M, then it parked again
      try (Mutex.Guard<String> gx = x.lock()) {
        try (Mutex.Guard<String> ga2 = a.lock()) { // X -> A: consistent (M < X, M < A)
          assertThat(ga2.isOpen()).isTrue();
        }
      } catch (LockOrderException e) {
        xThenA = e;
      }
      try (Mutex.Guard<String> gx = x.lock()) {
        try (Mutex.Guard<Integer> gm2 = m.lock()) { // X -> M: the inverse of W's M -> X
          assertThat(gm2.isOpen()).isTrue();
        }
      } catch (LockOrderException e) {
        xThenM = e;
      }
      m.update(v -> 2);
      join(w.thread);
    } finally {
      LockOrder.disable();
      LockOrder.sinkForTests(null);
      LockOrder.resetForTests();
      if (w.thread.isAlive()) {
        w.thread.interrupt();
        join(w.thread);
      }
    }
    assertThat(w.failure.get()).as("waiter failure").isNull();
    assertThat(w.done.get()).isTrue();
    foreign.assertNone();
    assertThat(xThenA).as("X -> A refused although nothing in the program orders A before X")
        .isNull();
    assertThat(xThenM)
        .as("X -> M refused: W's predicate took X holding M, on its own thread")
        .isInstanceOf(LockOrderException.class);
  }

  // ======================================== 4. lock-taking predicates and every kind of release

  /**
   * HELD. Review 27's deadlock (R releases M while holding H; W's predicate takes B; T holds B
   * and waits for H), on a BY_WAITER mutex, with every way a holder releases M: a guard's close,
   * the end of with, of update and of awaitThen, a tryLock guard's close. Each release returns
   * within 5 s and all three threads finish (on the default mutex each of these deadlocks: the
   * guard close is Review27SelectiveWakeTest's disabled open defect).
   */
  @Test
  void held_lockTakingPredicatesDoNotDeadlockAnyKindOfRelease() throws Exception {
    List<String> kinds = List.of("close", "with", "update", "awaitThen", "tryLock");
    List<String> stuck = new ArrayList<>();
    for (String kind : kinds) {
      if (!releaseReturnsWhileAPredicateTakesALock(new Mutex<>(0, BY_WAITER), kind)) {
        stuck.add(kind);
      }
    }
    assertThat(stuck).as("releases that deadlocked in a waiter's predicate").isEmpty();
  }

  private static boolean releaseReturnsWhileAPredicateTakesALock(Mutex<Integer> m, String kind)
      throws Exception {
    ReentrantLock b = new ReentrantLock();
    ReentrantLock h = new ReentrantLock();
    Foreign foreign = new Foreign();
    Waiter w =
        new Waiter(
            "r28-dl-waiter-" + kind,
            m,
            foreign,
            v -> {
              b.lock(); // ordered after M
              try {
                return v == 1;
              } finally {
                b.unlock();
              }
            });
    awaitInChangeQueue(w.thread, m);
    CountDownLatch rHoldsH = new CountDownLatch(1);
    CountDownLatch goRelease = new CountDownLatch(1);
    CountDownLatch released = new CountDownLatch(1);
    CountDownLatch tHoldsB = new CountDownLatch(1);
    AtomicReference<@Nullable Throwable> rFailure = new AtomicReference<>();
    Runnable holdHThenWait =
        () -> {
          h.lock(); // M -> H
          rHoldsH.countDown();
          Waits.awaitUninterruptibly(goRelease);
        };
    Thread r =
        start(
            "r28-dl-releaser-" + kind,
            () -> {
              try {
                switch (kind) {
                  case "close" -> {
                    Mutex.Guard<Integer> g = m.lock();
                    g.set(1);
                    holdHThenWait.run();
                    g.close();
                  }
                  case "with" ->
                      m.with( // its release wakes W, whose re-check then waits for B
                          v -> {
                            holdHThenWait.run();
                            return v;
                          });
                  case "update" ->
                      m.update(
                          v -> {
                            holdHThenWait.run();
                            return 1;
                          });
                  case "awaitThen" ->
                      m.awaitThen(
                          v -> true,
                          v -> {
                            holdHThenWait.run();
                            return v;
                          });
                  default -> {
                    Mutex.Guard<Integer> g = m.tryLock();
                    if (g == null) {
                      throw new AssertionError("tryLock failed on a free mutex");
                    }
                    g.set(1);
                    holdHThenWait.run();
                    g.close();
                  }
                }
                released.countDown();
                h.unlock();
                if (kind.equals("with") || kind.equals("awaitThen")) {
                  m.update(v -> 1); // their closures cannot set an Integer: a later release
                }
              } catch (Throwable e) {
                rFailure.set(e);
              } finally {
                if (h.isHeldByCurrentThread()) {
                  h.unlock();
                }
              }
            });
    AtomicBoolean tInterrupted = new AtomicBoolean();
    Thread t =
        start(
            "r28-dl-other-" + kind,
            () -> {
              b.lock();
              try {
                Waits.awaitUninterruptibly(rHoldsH);
                tHoldsB.countDown();
                h.lockInterruptibly(); // B -> H
                h.unlock();
              } catch (InterruptedException e) {
                tInterrupted.set(true);
              } finally {
                b.unlock();
              }
            });
    tHoldsB.await();
    Waits.awaitBlocked(t); // T waits for H
    goRelease.countDown();
    boolean ok = released.await(5, TimeUnit.SECONDS);
    if (!ok) {
      t.interrupt(); // break the deadlock so that every thread ends
    }
    join(r);
    join(t);
    join(w.thread);
    assertThat(rFailure.get()).as(kind).isNull();
    assertThat(w.failure.get()).as(kind).isNull();
    assertThat(w.done.get()).as(kind).isTrue();
    foreign.assertNone();
    return ok && !tInterrupted.get();
  }

  // =============================================================== 5. near the stack's end

  /** Recurses to the stack's end, then on the way up releases M once per frame. */
  static final class ReleaseSweep {
    final Mutex<int[]> m;
    final Thread partner;
    final boolean closure; // awaitThen (no retry) or a guard's close (retried higher up)
    int frames;
    int overflows;
    int calls;
    Mutex.@Nullable Guard<int[]> pending; // a guard whose close overflowed, to retry higher up
    @Nullable String leak;

    ReleaseSweep(Mutex<int[]> m, Thread partner, boolean closure) {
      this.m = m;
      this.partner = partner;
      this.closure = closure;
    }

    boolean partnerParked() {
      return Review27SelectiveWakeTest.parkedInChangeQueue(partner, m);
    }

    void recurse(int depth) {
      try {
        if (depth < 10_000_000) {
          recurse(depth + 1);
        }
      } catch (StackOverflowError e) {
        // the bottom
      }
      if (frames >= 300 || leak != null) {
        return;
      }
      frames++;
      try {
        Mutex.Guard<int[]> p = pending;
        if (p != null) {
          p.close(); // retry a close that overflowed deeper down
          pending = null;
          return;
        }
        if (!partnerParked()) {
          return;
        }
        calls++;
        if (closure) {
          m.awaitThen(v -> v[0] % 2 == 0, v -> ++v[0]); // even -> odd: wakes the partner
        } else {
          Mutex.Guard<int[]> g = m.lock();
          pending = g;
          g.get()[0]++;
          g.close();
          pending = null;
        }
      } catch (StackOverflowError e) {
        overflows++;
        try {
          if (closure && m.isHeldByCurrentThread()) {
            leak = "awaitThen left the mutex held";
          }
        } catch (StackOverflowError tooDeep) {
          // checked at the top
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * HELD. Sweeps of a release near the stack's end on a BY_WAITER mutex, with a partner parked
   * in lockWhen whose predicate the release makes true: awaitThen's closing release (no guard to
   * retry with) and a guard's close retried higher up after a StackOverflowError. The mutex is
   * never left held, the partner keeps being woken (every odd value comes back even), and the
   * partner's predicate never runs on the sweeping thread.
   */
  @Test
  void held_releasesNearTheStacksEndNeitherStrandNorEvaluateOnTheReleaser() throws Exception {
    Mutex<int[]> m = new Mutex<>(new int[1], BY_WAITER);
    Foreign foreign = new Foreign();
    AtomicReference<@Nullable Throwable> partnerFailure = new AtomicReference<>();
    Thread partner =
        start(
            "r28-sweep-partner",
            () -> {
              Predicate<int[]> odd =
                  foreign.wrap(m, Thread.currentThread(), v -> v[0] % 2 == 1);
              try {
                while (true) {
                  try (Mutex.Guard<int[]> g = m.lockWhen(odd)) {
                    g.get()[0]++;
                  }
                }
              } catch (InterruptedException e) {
                // done
              } catch (Throwable e) {
                partnerFailure.set(e);
              }
            });
    awaitInChangeQueue(partner, m);
    List<String> leaks = new ArrayList<>();
    int overflows = 0;
    int calls = 0;
    for (int round = 0; round < 16; round++) {
      ReleaseSweep s = new ReleaseSweep(m, partner, (round & 1) == 0);
      int pad = round / 2;
      Runnable body =
          () ->
              StackHeadroomTest.padThen(
                  pad,
                  () -> {
                    s.recurse(0);
                    Mutex.Guard<int[]> p = s.pending;
                    if (p != null) {
                      p.close(); // the last retry, at the top
                      s.pending = null;
                    }
                    if (s.m.isHeldByCurrentThread() && s.leak == null) {
                      s.leak = "the sweeping thread still holds the mutex at the top";
                    }
                  });
      Thread t = new Thread(null, body, "r28-sweep-" + round, 1 << 19);
      t.setDaemon(true);
      t.start();
      join(t);
      overflows += s.overflows;
      calls += s.calls;
      if (s.leak != null) {
        leaks.add("round " + round + ": " + s.leak);
      }
      // every sweep hands the partner its last odd value: it makes it even and parks again
      poll("the partner took the last change", () -> m.with(v -> v[0] % 2 == 0));
      awaitInChangeQueue(partner, m);
      assertThat(m.isLocked() && m.toString().contains("r28-sweep-"))
          .as("round %d: the mutex is held by a dead sweeper: %s", round, m)
          .isFalse();
    }
    partner.interrupt();
    join(partner);
    assertThat(partnerFailure.get()).isNull();
    assertThat(calls).as("releases made").isPositive();
    assertThat(overflows).as("the sweeps reached the stack's end").isPositive();
    assertThat(leaks).isEmpty();
    foreign.assertNone();
  }

  /** The innermost frames of {@code e}, weft's own shortened. */
  static String top(Throwable e) {
    StringBuilder b = new StringBuilder();
    int n = 0;
    int weft = 0;
    for (StackTraceElement f : e.getStackTrace()) {
      boolean ours = f.getClassName().startsWith("dev.weft.");
      if (n < 4 || (ours && weft < 5)) {
        if (b.length() > 0) {
          b.append(n < 4 ? " < " : " << ");
        }
        b.append(f.getClassName().replace("dev.weft.", ""))
            .append('.')
            .append(f.getMethodName())
            .append(':')
            .append(f.getLineNumber());
        if (ours) {
          weft++;
        }
      }
      n++;
      if (weft == 5) {
        break;
      }
    }
    return b.toString();
  }

  /**
   * Recurses to the stack's end, then on the way up waits once per frame in awaitThen for an
   * even value (a partner makes odd values even), with a predicate that takes a ReentrantLock:
   * the waiter's own evaluations, the ones BY_WAITER moves onto it, run near the stack's end.
   */
  static final class WaiterSweep {
    final Mutex<int[]> m;
    final Thread partner;
    final ReentrantLock b = new ReentrantLock();
    final Predicate<int[]> even;
    int frames;
    int overflows;
    int calls;
    @Nullable String leak;
    @Nullable StackOverflowError lastOverflow; // the last one caught, for the report
    @Nullable StackOverflowError leakedBy; // the overflow after which the mutex stayed held
    final boolean closure; // awaitThen, or lockWhen and a guard's close retried higher up
    Mutex.@Nullable Guard<int[]> pending; // a guard whose close overflowed, to retry higher up

    WaiterSweep(Mutex<int[]> m, Thread partner, Foreign foreign, Thread me, boolean closure) {
      this.m = m;
      this.partner = partner;
      this.closure = closure;
      this.even =
          foreign.wrap(
              m,
              me,
              v -> {
                b.lock(); // a lock of its own, ordered after m
                try {
                  return v[0] % 2 == 0;
                } finally {
                  b.unlock();
                }
              });
    }

    void recurse(int depth) {
      try {
        if (depth < 10_000_000) {
          recurse(depth + 1);
        }
      } catch (StackOverflowError e) {
        // the bottom
      }
      if (frames >= 300 || leak != null) {
        return;
      }
      frames++;
      try {
        Mutex.Guard<int[]> p = pending;
        if (p != null) {
          p.close(); // retry a close that overflowed deeper down
          pending = null;
          return;
        }
        calls++;
        if (closure) {
          m.awaitThen(even, v -> ++v[0]); // even -> odd: the partner makes it even again
        } else {
          Mutex.Guard<int[]> g = m.lockWhen(even);
          pending = g;
          g.get()[0]++;
          g.close();
          pending = null;
        }
      } catch (IllegalStateException e) {
        // "not reentrant": an earlier call that threw StackOverflowError left it held
        leakedBy = lastOverflow;
        leak = "a later call found the mutex held by its own thread";
      } catch (StackOverflowError e) {
        overflows++;
        lastOverflow = e; // a field store: cannot overflow
        try {
          if (pending == null && m.isHeldByCurrentThread()) {
            leakedBy = e;
            leak =
                (closure ? "an awaitThen" : "a lockWhen")
                    + " that threw StackOverflowError left the mutex held";
          } else if (b.isHeldByCurrentThread()) {
            leak = "the predicate's lock is left held";
          }
        } catch (StackOverflowError tooDeep) {
          // checked at the top
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * FIXED (found as a defect by review 28; stack-overflow safety, not specific to BY_WAITER:
   * awaitThen's end is the same for both evaluations). awaitThen now reads the lock-order
   * switch once, before the lock, and releases with that value, as with/update do. Before the
   * fix, awaitThen released through Guard.closeAtClosureEnd, which marks the guard
   * closed and then calls {@code mutex.releaseLock(false, LockOrder.enabled())}: the lock-order
   * switch is read after the action, with the lock held, by a method-handle call
   * (MutableCallSite.dynamicInvoker().invokeExact) that may link or customise its lambda form,
   * kilobytes deep, on first calls and after the switch flips. with/update read it before the
   * body for exactly this reason ("no second LockOrder.enabled() call after the body"). A sweep
   * of awaitThen near the stack's end (a partner turns each odd value even; the waiter's own
   * predicate takes a ReentrantLock, as BY_WAITER allows), with lock-order checking switched on
   * in every other round: the StackOverflowError strikes inside LockOrder.enabled() called from
   * closeAtClosureEnd, and the mutex stays held for good by a thread that has left (every later
   * locker waits forever). Temurin 25: 9 of 14 runs (2 of 2 runs of the whole class; rounds 4-15,
   * with checking on or off, always in closeAtClosureEnd's LockOrder.enabled()); JDK 17: 0 of 4
   * (its lambda-form spinning is shallower). Expected, as the class doc says ("The lock is
   * always released") and as for with/update: the mutex is released, and the partner keeps
   * going.
   */
  @Test
  void fixed_awaitThenNearTheStacksEndLeavesTheMutexHeldAfterTheLockOrderSwitchFlips()
      throws Exception {
    sweepWaiterNearTheStacksEnd(true);
  }

  /**
   * HELD. On a BY_WAITER mutex the waiter runs its lock-taking predicate itself after every
   * wake-up, wherever its stack is. Sweeps of lockWhen near the stack's end (the guard's close
   * retried higher up after an overflow), with lock-order checking on in every other round: an
   * overflow in the predicate, the wait or the lock-order bookkeeping never leaves the mutex (or
   * the predicate's lock) held, and the partner is never stranded.
   */
  @Test
  void held_aLockWhenNearTheStacksEndWithALockTakingPredicateNeverStrandsTheMutex()
      throws Exception {
    sweepWaiterNearTheStacksEnd(false);
  }

  private static void sweepWaiterNearTheStacksEnd(boolean closure) throws Exception {
    Mutex<int[]> m = new Mutex<>(new int[1], BY_WAITER);
    Foreign foreign = new Foreign();
    AtomicReference<@Nullable Throwable> partnerFailure = new AtomicReference<>();
    Thread partner =
        start(
            "r28-wsweep-partner",
            () -> {
              Predicate<int[]> odd = foreign.wrap(m, Thread.currentThread(), v -> v[0] % 2 == 1);
              try {
                while (true) {
                  try (Mutex.Guard<int[]> g = m.lockWhen(odd)) {
                    g.get()[0]++;
                  }
                }
              } catch (InterruptedException e) {
                // done
              } catch (Throwable e) {
                partnerFailure.set(e);
              }
            });
    awaitInChangeQueue(partner, m);
    List<String> leaks = new ArrayList<>();
    int overflows = 0;
    int calls = 0;
    try {
      for (int round = 0; round < 32; round++) {
        boolean ordered = (round & 1) == 1;
        if (ordered) {
          LockOrder.resetForTests();
          LockOrder.enable(LockOrder.Mode.THROW);
        }
        WaiterSweep[] box = new WaiterSweep[1];
        int pad = (round / 2) % 12;
        Runnable body =
            () ->
                StackHeadroomTest.padThen(
                    pad,
                    () -> {
                      WaiterSweep s =
                          new WaiterSweep(m, partner, foreign, Thread.currentThread(), closure);
                      box[0] = s;
                      s.recurse(0);
                      Mutex.Guard<int[]> p = s.pending;
                      if (p != null) {
                        p.close(); // the last retry, at the top
                        s.pending = null;
                      }
                      if (s.m.isHeldByCurrentThread() && s.leak == null) {
                        s.leak = "the sweeping thread still holds the mutex at the top";
                      }
                    });
        Thread t = new Thread(null, body, "r28-wsweep-" + round, 1 << 19);
        t.setDaemon(true);
        t.start();
        join(t);
        if (ordered) {
          LockOrder.disable();
          LockOrder.resetForTests();
        }
        WaiterSweep s = box[0];
        if (s != null) {
          overflows += s.overflows;
          calls += s.calls;
          if (s.leak != null) {
            StackOverflowError by = s.leakedBy;
            leaks.add(
                "round " + round + (ordered ? " (lock order on)" : "") + ": " + s.leak
                    + (by == null ? "" : "; overflow thrown at " + top(by)));
            break; // the mutex is held for good by a thread that has ended
          }
        }
        int r = round;
        poll("round " + r + ": the mutex is free and the partner parked again, " + m,
            () -> !m.isLocked() && partner.getState() == Thread.State.WAITING
                && LockSupport.getBlocker(partner) == m);
      }
    } finally {
      LockOrder.disable();
      LockOrder.resetForTests();
      partner.interrupt();
      join(partner);
    }
    assertThat(partnerFailure.get()).isNull();
    assertThat(calls).as("awaitThen calls made").isPositive();
    assertThat(overflows).as("the sweeps reached the stack's end").isPositive();
    assertThat(leaks).isEmpty();
    foreign.assertNone();
  }

  // ============================================== timed waits woken by every release

  /**
   * HELD. On a BY_WAITER mutex a timed waiter whose predicate never holds is woken by every
   * release of a producer that keeps changing the value (with the default it would stay parked),
   * so it runs the woken path (reacquireWoken, the last-moment wake-up, the re-queue) again and
   * again: each of four such waiters, 20 waits of 5 ms each, returns null without the lock, and
   * within its deadline plus a generous 500 ms (never after a hold of another thread), while an
   * untimed sibling whose predicate the producer finally makes true gets through.
   */
  @Test
  void held_timedWaitersWokenByEveryReleaseStillTimeOutWithoutTheLock() throws Exception {
    Mutex<Integer> m = new Mutex<>(0, BY_WAITER);
    Foreign foreign = new Foreign();
    ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    AtomicInteger running = new AtomicInteger(4);
    List<Thread> timed = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      timed.add(
          start(
              "r28-timed-" + i,
              () -> {
                Predicate<Integer> never = foreign.wrap(m, Thread.currentThread(), v -> v < 0);
                try {
                  for (int it = 0; it < 20; it++) {
                    long t0 = System.nanoTime();
                    Mutex.Guard<Integer> g = m.lockWhen(never, Duration.ofMillis(5));
                    long took = System.nanoTime() - t0;
                    if (g != null) {
                      problems.add("a timed wait returned a guard with its predicate false");
                      g.close();
                    }
                    if (m.isHeldByCurrentThread()) {
                      problems.add("a timed wait that gave up still holds the mutex");
                    }
                    if (took > TimeUnit.MILLISECONDS.toNanos(505)) {
                      problems.add("a 5 ms wait took " + took / 1_000_000 + " ms");
                    }
                  }
                } catch (Throwable t) {
                  problems.add(Thread.currentThread().getName() + ": " + t);
                } finally {
                  running.decrementAndGet();
                }
              }));
    }
    Waiter untimed = new Waiter("r28-timed-sibling", m, foreign, v -> v == -7);
    Thread producer =
        start(
            "r28-timed-producer",
            () -> {
              int i = 0;
              while (running.get() > 0) {
                int next = ++i;
                m.update(v -> next);
                LockSupport.parkNanos(20_000L); // pacing only
              }
              m.update(v -> -7);
            });
    for (Thread t : timed) {
      join(t);
    }
    join(producer);
    join(untimed.thread);
    assertThat(problems).isEmpty();
    assertThat(untimed.failure.get()).isNull();
    assertThat(untimed.done.get()).isTrue();
    foreign.assertNone();
    assertThat(m.isLocked()).isFalse();
  }

  // ================================================================= virtual threads (21+)

  private static Thread startVirtual(String name, Runnable r) throws Exception {
    Class<?> builderType = Class.forName("java.lang.Thread$Builder");
    Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
    builder = builderType.getMethod("name", String.class).invoke(builder, name);
    return (Thread) builderType.getMethod("start", Runnable.class).invoke(builder, r);
  }

  /**
   * HELD (JDK 21+; skipped on 17). 60 virtual waiters on a BY_WAITER mutex, each with a
   * predicate that takes a ReentrantLock shared by all of them, wait for their own count; a
   * virtual producer counts up to 60 with guard closes. Every waiter gets through with its
   * predicate true, evaluated only on its own thread.
   */
  @Test
  void held_virtualWaitersWithLockTakingPredicatesAllGetThroughOnTheirOwnThreads()
      throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    int n = 60;
    Mutex<Integer> m = new Mutex<>(0, BY_WAITER);
    ReentrantLock shared = new ReentrantLock();
    Foreign foreign = new Foreign();
    ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    AtomicInteger done = new AtomicInteger();
    List<Thread> ws = new ArrayList<>();
    for (int k = 1; k <= n; k++) {
      int target = k;
      ws.add(
          startVirtual(
              "r28-vt-" + k,
              () -> {
                Predicate<Integer> p =
                    foreign.wrap(
                        m,
                        Thread.currentThread(),
                        v -> {
                          shared.lock();
                          try {
                            return v >= target;
                          } finally {
                            shared.unlock();
                          }
                        });
                try (Mutex.Guard<Integer> g = m.lockWhen(p)) {
                  if (g.get() < target) {
                    problems.add(target + ": returned with " + g.get());
                  }
                  done.incrementAndGet();
                } catch (Throwable t) {
                  problems.add(target + ": " + t);
                }
              }));
    }
    Thread producer =
        startVirtual(
            "r28-vt-producer",
            () -> {
              for (int i = 1; i <= n; i++) {
                try (Mutex.Guard<Integer> g = m.lock()) {
                  g.set(i);
                }
                LockSupport.parkNanos(10_000L); // pacing only
              }
            });
    join(producer);
    for (Thread w : ws) {
      join(w);
    }
    assertThat(problems).isEmpty();
    assertThat(done.get()).isEqualTo(n);
    foreign.assertNone();
  }

  // ================================================================ 6. left waiters, bounded

  /**
   * HELD. On a BY_WAITER mutex, 40 waiters park, 39 are interrupted and leave, a new waiter joins:
   * the queue holds at most twice its live waiters plus PURGE_SLACK, counted under the lock before
   * any release. A timed waiter that leaves is also never evaluated by anyone afterwards.
   */
  @Test
  void held_leftWaitersStayWithinTheBoundOnAByWaiterMutex() throws Exception {
    Mutex<Integer> m = new Mutex<>(0, BY_WAITER);
    Foreign foreign = new Foreign();
    List<Waiter> ws = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      Waiter w = new Waiter("r28-left-" + i, m, foreign, v -> v == -1);
      ws.add(w);
      awaitInChangeQueue(w.thread, m);
    }
    for (int i = 1; i < 40; i++) {
      ws.get(i).thread.interrupt();
    }
    for (int i = 1; i < 40; i++) {
      join(ws.get(i).thread);
      assertThat(ws.get(i).failure.get()).isInstanceOf(InterruptedException.class);
    }
    Waiter late = new Waiter("r28-left-late", m, foreign, v -> v == -1);
    awaitInChangeQueue(late.thread, m);
    int length = m.with(v -> m.changeQueueLengthLocked()); // counted before the release
    int after = m.with(v -> m.changeQueueLengthLocked()); // the previous release woke all
    ws.get(0).thread.interrupt();
    late.thread.interrupt();
    join(ws.get(0).thread);
    join(late.thread);
    assertThat(length).isLessThanOrEqualTo(2 * 2 + Mutex.PURGE_SLACK);
    assertThat(after).as("nodes still queued after a release woke everyone").isLessThanOrEqualTo(2);
    foreign.assertNone();
  }

  // ============================================= 7. a mixed run: never true-less, never foreign

  /**
   * HELD. Four waiters loop (400 waits each) over random wait forms (untimed, 50 us - 2 ms timed,
   * awaitThen) for a random residue of a counter, with an interrupter hitting them; a producer
   * keeps counting with random release kinds (update, guard close, a Condvar wait whose
   * predicate counts). Every successful wait sees its predicate true, no predicate runs on
   * another thread, nobody is stranded (all loops finish), and the mutex ends free with at most
   * the slack of left nodes queued.
   */
  @Test
  void held_mixedWaitsTimeoutsInterruptsAndCondvarNeverReturnFalseOrEvaluateElsewhere()
      throws Exception {
    Mutex<int[]> m = new Mutex<>(new int[1], BY_WAITER);
    Condvar cv = new Condvar();
    Foreign foreign = new Foreign();
    ConcurrentLinkedQueue<String> problems = new ConcurrentLinkedQueue<>();
    AtomicInteger running = new AtomicInteger(4);
    AtomicInteger successes = new AtomicInteger();
    List<Thread> waiters = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      waiters.add(
          start(
              "r28-mix-" + i,
              () -> {
                Thread me = Thread.currentThread();
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                try {
                  for (int it = 0; it < 400; it++) {
                    int r = rnd.nextInt(3);
                    Predicate<int[]> ready = v -> Math.floorMod(v[0], 3) == r;
                    Predicate<int[]> p = foreign.wrap(m, me, ready);
                    try {
                      switch (rnd.nextInt(3)) {
                        case 0 -> {
                          try (Mutex.Guard<int[]> g = m.lockWhen(p)) {
                            if (!ready.test(g.get())) {
                              problems.add("lockWhen returned false");
                            }
                          }
                          successes.incrementAndGet();
                        }
                        case 1 -> {
                          Mutex.Guard<int[]> g =
                              m.lockWhen(p, Duration.ofNanos(rnd.nextLong(50_000, 2_000_000)));
                          if (g != null) {
                            try (g) {
                              if (!ready.test(g.get())) {
                                problems.add("timed lockWhen returned false");
                              }
                            }
                            successes.incrementAndGet();
                          }
                        }
                        default -> {
                          boolean ok = m.awaitThen(p, ready::test);
                          if (!ok) {
                            problems.add("awaitThen's action saw it false");
                          }
                          successes.incrementAndGet();
                        }
                      }
                    } catch (InterruptedException e) {
                      // the interrupter's: go on
                    }
                  }
                } catch (Throwable t) {
                  problems.add(me.getName() + ": " + t);
                } finally {
                  running.decrementAndGet();
                  Thread.interrupted();
                }
              }));
    }
    Thread interrupter =
        start(
            "r28-mix-interrupter",
            () -> {
              ThreadLocalRandom rnd = ThreadLocalRandom.current();
              while (running.get() > 0) {
                Thread w = waiters.get(rnd.nextInt(waiters.size()));
                if (rnd.nextInt(8) == 0) {
                  w.interrupt();
                }
                LockSupport.parkNanos(200_000L); // pacing only
              }
            });
    Thread producer =
        start(
            "r28-mix-producer",
            () -> {
              ThreadLocalRandom rnd = ThreadLocalRandom.current();
              try {
                while (running.get() > 0) {
                  switch (rnd.nextInt(3)) {
                    case 0 ->
                        m.update(
                            v -> {
                              v[0]++;
                              return v;
                            });
                    case 1 -> {
                      try (Mutex.Guard<int[]> g = m.lock()) {
                        g.get()[0]++;
                      }
                    }
                    default -> {
                      try (Mutex.Guard<int[]> g = m.lock()) {
                        int[] left = {2};
                        // a Condvar wait whose blocked predicate counts twice (1 ms timed wait)
                        cv.awaitWhile(
                            g,
                            v -> {
                              if (left[0] > 0) {
                                left[0]--;
                                v[0]++;
                                return true; // blocked: it waits, and counts again
                              }
                              return false;
                            },
                            Duration.ofMillis(1));
                      }
                    }
                  }
                  LockSupport.parkNanos(rnd.nextLong(1_000L, 50_000L)); // pacing only
                }
              } catch (Throwable t) {
                problems.add("producer: " + t);
              }
            });
    for (Thread w : waiters) {
      join(w);
    }
    join(producer);
    join(interrupter);
    assertThat(problems).isEmpty();
    assertThat(successes.get()).isPositive();
    foreign.assertNone();
    assertThat(m.isLocked()).isFalse();
    assertThat((int) m.with(v -> m.changeQueueLengthLocked()))
        .isLessThanOrEqualTo(Mutex.PURGE_SLACK + 4);
  }

  // ============================================================ 8. misuse on a BY_WAITER mutex

  /**
   * HELD. With a waiter queued on a BY_WAITER mutex: null arguments throw NullPointerException,
   * re-entry by the holder (lockWhen, timed lockWhen, awaitThen, with) throws
   * IllegalStateException, and none of them disturbs the waiter, which a later release wakes.
   * A zero timeout on a free lock with a false predicate returns null without waking anybody.
   */
  @Test
  @SuppressWarnings("NullAway") // null arguments on purpose
  void held_misuseOnAByWaiterMutexThrowsTheDocumentedExceptions() throws Exception {
    Mutex<Integer> m = new Mutex<>(0, BY_WAITER);
    Foreign foreign = new Foreign();
    Waiter w = new Waiter("r28-misuse-waiter", m, foreign, v -> v == 1);
    awaitInChangeQueue(w.thread, m);
    assertThatThrownBy(() -> m.lockWhen(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> m.lockWhen(null, Duration.ZERO))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> m.lockWhen(v -> true, (Duration) null))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> m.awaitThen(v -> true, null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> m.awaitThen(null, v -> v)).isInstanceOf(NullPointerException.class);
    int beforeRelease = w.ownEvaluations.get();
    try (Mutex.Guard<Integer> g = m.lock()) {
      assertThatThrownBy(() -> m.lockWhen(v -> true)).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> m.lockWhen(v -> true, Duration.ofSeconds(1)))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> m.awaitThen(v -> true, v -> v))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> m.with(v -> v)).isInstanceOf(IllegalStateException.class);
      assertThat(g.isOpen()).isTrue();
    }
    // BY_WAITER: that release woke the waiter, which re-evaluates on its own thread and queues
    // again. Its state reads WAITING on m until it runs, so first wait for that evaluation (CI,
    // session 29: the count moved from 2 to 3 after it was read).
    poll("the waiter re-evaluated after the release", () -> w.ownEvaluations.get() > beforeRelease);
    awaitInChangeQueue(w.thread, m);
    int seen = w.ownEvaluations.get();
    assertThat(m.lockWhen(v -> v == 7, Duration.ZERO)).isNull(); // free, false: no wake-up
    assertThat(w.thread.getState()).isEqualTo(Thread.State.WAITING);
    assertThat(w.ownEvaluations.get()).isEqualTo(seen);
    m.update(v -> 1);
    join(w.thread);
    assertThat(w.failure.get()).isNull();
    assertThat(w.done.get()).isTrue();
    foreign.assertNone();
  }

  // ======================================================================= 9. the docs' example

  private static Path repoFile(String rel) {
    for (String candidate : new String[] {rel, "../" + rel}) {
      Path p = Path.of(candidate);
      if (Files.exists(p)) {
        return p;
      }
    }
    throw new AssertionError(rel + " not found from " + System.getProperty("user.dir"));
  }

  private static String read(String rel) throws IOException {
    return new String(Files.readAllBytes(repoFile(rel)), StandardCharsets.UTF_8)
        .replaceAll("\\s*\\*\\s", " ")
        .replaceAll("\\s+", " ");
  }

  /**
   * FIXED (docs; found as a defect by review 28). The first BY_WAITER example in the class
   * Javadoc and docs/mutex.md waited with {@code order.lockWhen(x -> cache.with(c ->
   * c.covers(x)))}: a predicate reading a cache guarded by its own lock. A waiter re-checks only
   * when {@code order} is released, so a change to the cache wakes nobody (shown below: the
   * waiter stays parked in the change queue after the cache update; only a release of {@code
   * order} lets it through). Both documents now show a predicate whose lock guards state that
   * changes only under the mutex, and say next to the example that a change made under another
   * lock alone wakes nobody. This test failed on the first wording (the example without that
   * warning) and checks that no document shows the cache example again without it.
   */
  @Test
  void fixed_docExampleNoLongerWaitsOnStateChangedUnderAnotherLock() throws Exception {
    Mutex<Integer> order = new Mutex<>(7, BY_WAITER);
    Mutex<Set<Integer>> cache = new Mutex<>(new HashSet<>());
    AtomicBoolean shipped = new AtomicBoolean();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    Thread w =
        start(
            "r28-doc-example",
            () -> {
              try (Mutex.Guard<Integer> g = order.lockWhen(x -> cache.with(c -> c.contains(x)))) {
                shipped.set(g.get() == 7);
              } catch (Throwable t) {
                failure.set(t);
              }
            });
    boolean parkedAfterCacheChange;
    try {
      awaitInChangeQueue(w, order);
      cache.with(c -> c.add(7)); // the cache now covers the order
      // Nothing releases `order`, so nothing can unpark w: it is still in the change queue.
      parkedAfterCacheChange =
          w.getState() == Thread.State.WAITING && LockSupport.getBlocker(w) == order;
    } finally {
      order.update(x -> x); // a release of `order`: the waiter re-checks and ships
      join(w);
    }
    assertThat(failure.get()).isNull();
    assertThat(shipped.get()).isTrue();
    assertThat(parkedAfterCacheChange).as("the waiter still parked after the cache change").isTrue();
    Consumer<String> check =
        text -> {
          int at = text.indexOf("cache.with(c -> c.covers(x))");
          if (at < 0) {
            return;
          }
          String around = text.substring(Math.max(0, at - 600), Math.min(text.length(), at + 600));
          boolean told = false;
          for (String phrase :
              new String[] {
                "changed under this", "under `order`", "under {@code order}", "release of `order`",
                "release of {@code order}", "wakes nobody", "does not wake"
              }) {
            told |= around.contains(phrase);
          }
          assertThat(told)
              .as("the text around the example tells that a change of the cache alone wakes"
                  + " nobody: %s", around)
              .isTrue();
        };
    check.accept(read("src/main/java/dev/weft/Mutex.java"));
    check.accept(read("docs/mutex.md"));
    // And the example that replaced it comes with the warning, in both documents.
    for (String doc : new String[] {"src/main/java/dev/weft/Mutex.java", "docs/mutex.md"}) {
      String text = read(doc);
      int at = text.indexOf("a.balance() >= price");
      assertThat(at).as("the BY_WAITER example in %s", doc).isNotNegative();
      String around = text.substring(Math.max(0, at - 600), Math.min(text.length(), at + 600));
      assertThat(around).as("the warning next to the example in %s", doc).contains("wakes nobody");
    }
  }
}
