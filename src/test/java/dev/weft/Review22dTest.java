package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 22d: adversarial review of the two protocol changes of commit c053f96: {@code
 * ParallelPool.goIdle} (the permit goes back after the idle node is pushed) and {@code
 * Mutex.lockWhen} (the mutex is recorded for lock-order checking before the predicate runs,
 * and forgotten by {@code forgetUnlessReady} unless the call succeeds). Tests named {@code
 * fixed_...} failed on the code as reviewed and pass since (Javadoc: the promise, the schedule,
 * frequency on JDK 17 and 25); {@code held_...} are attacks that held.
 */
@SuppressWarnings("try") // guards held for their scope only
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class Review22dTest {

  // =============================================================================== helpers

  private static final VarHandle DEFAULT_BUSY;

  static {
    try {
      DEFAULT_BUSY = MethodHandles.privateLookupIn(ParallelPool.class, MethodHandles.lookup())
          .findVarHandle(ParallelPool.class, "defaultBusy", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private static int permits(ParallelPool p) {
    return (int) DEFAULT_BUSY.getVolatile(p);
  }

  /** Bounded poll of the pool's permit count until it reaches 0; returns the last value read. */
  private static int awaitNoPermits(ParallelPool p) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    int busy;
    while ((busy = permits(p)) != 0 && System.nanoTime() - deadline < 0) {
      LockSupport.parkNanos(100_000L); // a poll of pool state, not a wait for a result
    }
    return busy;
  }

  private static void await(CountDownLatch l) {
    try {
      assertThat(l.await(20, TimeUnit.SECONDS)).as("latch reached in time").isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  private static void join(Thread t) throws InterruptedException {
    t.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(t.isAlive()).as("%s ended", t.getName()).isFalse();
  }

  /** Retires every thread of a private pool and joins them. */
  private static void shutdown(ParallelPool pool, Set<Thread> threads) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (threads.size() < pool.liveThreads() && System.nanoTime() - deadline < 0) {
      LockSupport.parkNanos(50_000L);
    }
    // Retire repeatedly: a thread still finishing a task pushes its node after the first pass.
    while (pool.liveThreads() > 0 && System.nanoTime() - deadline < 0) {
      pool.retireIdle();
      LockSupport.parkNanos(200_000L);
    }
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(t.isAlive()).as("%s exits after retireIdle", t.getName()).isFalse();
    }
    assertThat(pool.liveThreads()).isZero();
  }

  // ========================================================================= the pool

  /**
   * HELD: the permit count of a private core-1 pool returns to 0, and a default task can be
   * handed over again, after two threads hand over default and explicit tasks as fast as they
   * can (hand-overs land between a thread's push and its permit release: explicit tasks need no
   * permit, so they are taken in that window). Also: live threads never exceed core (1) plus the
   * threads explicit tasks may start.
   */
  @Test
  void held_permitsReturnToZeroAfterMixedHandOversOnAPrivatePool() throws Exception {
    ParallelPool p = new ParallelPool(
        "test-r22d-mixed-", 1, TimeUnit.SECONDS.toNanos(60), TimeUnit.MICROSECONDS.toNanos(50));
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    AtomicInteger ran = new AtomicInteger();
    Runnable task = () -> {
      threads.add(Thread.currentThread());
      ran.incrementAndGet();
    };
    AtomicInteger handed = new AtomicInteger();
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(600);
    Runnable driver = () -> {
      int i = 0;
      while (System.nanoTime() - end < 0) {
        boolean explicit = (i++ % 3) == 0;
        if (p.tryExecute(task, explicit, explicit ? 2 : 1)) {
          handed.incrementAndGet();
        }
        int busy = permits(p);
        if (busy < 0 || busy > 1) {
          throw new AssertionError("permit count out of range: " + busy);
        }
      }
    };
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    Thread a = new Thread(() -> {
      try {
        driver.run();
      } catch (Throwable t) {
        failure.compareAndSet(null, t);
      }
    }, "r22d-driver-a");
    a.start();
    try {
      driver.run();
    } finally {
      join(a);
    }
    assertThat(failure.get()).isNull();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (ran.get() < handed.get() && System.nanoTime() - deadline < 0) {
        LockSupport.parkNanos(100_000L);
      }
      assertThat(ran.get()).as("every handed task ran").isEqualTo(handed.get());
      assertThat(awaitNoPermits(p)).as("permits held once every task is done").isZero();
      // The pool still serves default tasks: the single permit is free.
      CountDownLatch done = new CountDownLatch(1);
      boolean again = false;
      for (int i = 0; i < 1000 && !again; i++) {
        again = p.tryExecute(() -> {
          threads.add(Thread.currentThread());
          done.countDown();
        }, false);
        if (!again) {
          LockSupport.parkNanos(100_000L);
        }
      }
      assertThat(again).as("a default task is accepted again").isTrue();
      await(done);
    } finally {
      shutdown(p, threads);
    }
  }

  /**
   * HELD: after many Parallel calls on the shared pool, mixed default and explicit thread counts,
   * nested calls on pool threads, failing calls and calls cancelled by an interrupt, the shared
   * pool's permit count returns to 0, and a later default call still splits onto a pool thread.
   */
  @Test
  void held_sharedPoolPermitsReturnToZeroAfterMixedCalls() throws Exception {
    ParallelPool pool = ParallelPool.shared();
    Parallel.Options dflt = Parallel.options().sequentialCutoff(Duration.ZERO);
    Parallel.Options explicit = Parallel.options().sequentialCutoff(Duration.ZERO).threads(3);
    for (int round = 0; round < 300; round++) {
      switch (round % 5) {
        case 0 -> Parallel.forRange(0, 8, i -> { }, dflt);
        case 1 -> Parallel.forRange(0, 8, i -> { }, explicit);
        case 2 -> Parallel.forRange(0, 4, i ->
            Parallel.forRange(0, 4, j -> { }, (i & 1) == 0 ? dflt : explicit), explicit);
        case 3 -> {
          Parallel.Options o = (round & 1) == 0 ? dflt : explicit;
          assertThatThrownBy(() -> Parallel.forRange(0, 8, i -> {
            if (i == 5) {
              throw new IllegalStateException("boom " + i);
            }
          }, o)).isInstanceOf(TaskFailedException.class);
        }
        default -> {
          List<Integer> out = Parallel.map(List.of(1, 2, 3, 4), x -> x * 2, dflt);
          assertThat(out).containsExactly(2, 4, 6, 8);
        }
      }
    }
    // A concurrent caller too: two threads calling at once share the single permit.
    Thread other = new Thread(() -> {
      for (int r = 0; r < 200; r++) {
        Parallel.forRange(0, 8, i -> { }, (r & 1) == 0 ? dflt : explicit);
      }
    }, "r22d-other-caller");
    other.start();
    for (int r = 0; r < 200; r++) {
      Parallel.forRange(0, 8, i -> { }, dflt);
    }
    join(other);
    assertThat(awaitNoPermits(pool)).as("shared pool permits once idle").isZero();
    // A default call still splits: two elements that meet at a latch need two threads.
    assumeCoreAtLeastOne(pool);
    CountDownLatch both = new CountDownLatch(2);
    Parallel.forRange(0, 2, i -> {
      both.countDown();
      await(both);
    }, Parallel.options().sequentialCutoff(Duration.ZERO));
    assertThat(awaitNoPermits(pool)).isZero();
  }

  private static void assumeCoreAtLeastOne(ParallelPool pool) {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Runtime.getRuntime().availableProcessors() >= 2, "a core-0 pool never splits default calls");
    assertThat(pool.toString()).doesNotContain("core=0");
  }

  // =================================================================== lock order: lockWhen

  private interface Body {
    void run() throws Exception;
  }

  private static void withChecking(LockOrder.Mode mode, Body body) throws Exception {
    LockOrder.resetForTests();
    LockOrder.enable(mode);
    try {
      body.run();
    } finally {
      LockOrder.disable();
      LockOrder.sinkForTests(null);
      LockOrder.resetForTests();
    }
  }

  /**
   * HELD: every way a lockWhen can end (success then close, timeout while parked, zero timeout,
   * throwing predicate, interrupt before and during the wait, awaitThen with a throwing action,
   * a Condvar wait after lockWhen) leaves this thread's held list exactly as before, in THROW and
   * LOG mode; no false report is made.
   */
  @Test
  void held_heldListIsExactAfterEveryLockWhenOutcome() throws Exception {
    for (LockOrder.Mode mode : List.of(LockOrder.Mode.THROW, LockOrder.Mode.LOG)) {
      List<LockOrderException> reports = new ArrayList<>();
      withChecking(mode, () -> {
        LockOrder.sinkForTests(reports::add);
        Mutex<Integer> m = new Mutex<>(0);
        Mutex<Integer> outer = new Mutex<>(0);
        Predicate<Integer> never = v -> v > 100;
        Predicate<Integer> always = v -> true;
        try (var go = outer.lock()) { // one lock held throughout: the count must stay at 1
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
          // success, each form
          try (var g = m.lockWhen(always)) {
            assertThat(LockOrder.heldCountForTests()).isEqualTo(2);
          }
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
          try (var g = m.lockWhenUninterruptibly(always)) {
            assertThat(LockOrder.heldCountForTests()).isEqualTo(2);
          }
          var tg = m.lockWhen(always, Duration.ofSeconds(5));
          assertThat(tg).isNotNull();
          assertThat(LockOrder.heldCountForTests()).isEqualTo(2);
          tg.close();
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
          // timeouts: zero (checked once) and positive (waits)
          assertThat(m.lockWhen(never, Duration.ZERO)).isNull();
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
          assertThat(m.lockWhen(never, Duration.ofMillis(20))).isNull();
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
          assertThat(m.lockWhen(never, java.time.Instant.now().plusMillis(5))).isNull();
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
          // throwing predicates, each form
          Predicate<Integer> throwing = v -> {
            throw new IllegalStateException("predicate");
          };
          assertThatThrownBy(() -> m.lockWhen(throwing)).isInstanceOf(IllegalStateException.class);
          assertThatThrownBy(() -> m.lockWhenUninterruptibly(throwing))
              .isInstanceOf(IllegalStateException.class);
          assertThatThrownBy(() -> m.lockWhen(throwing, Duration.ofMillis(5)))
              .isInstanceOf(IllegalStateException.class);
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
          assertThat(m.isLocked()).isFalse();
          // interrupted before: nothing recorded
          Thread.currentThread().interrupt();
          assertThatThrownBy(() -> m.lockWhen(always)).isInstanceOf(InterruptedException.class);
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
          // interrupted during the wait (another thread interrupts us while parked)
          Thread me = Thread.currentThread();
          CountDownLatch waiting = new CountDownLatch(1);
          Thread interrupter = new Thread(() -> {
            await(waiting);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (LockSupport.getBlocker(me) != m && System.nanoTime() - deadline < 0) {
              LockSupport.parkNanos(50_000L);
            }
            me.interrupt();
          }, "r22d-interrupter");
          interrupter.start();
          try {
            waiting.countDown();
            assertThatThrownBy(() -> m.lockWhen(never)).isInstanceOf(InterruptedException.class);
          } finally {
            join(interrupter);
            Thread.interrupted();
          }
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
          assertThat(m.isLocked()).isFalse();
          // awaitThen: action throws
          assertThatThrownBy(() -> m.awaitThen(always, v -> {
            throw new IllegalArgumentException("action");
          })).isInstanceOf(IllegalArgumentException.class);
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
          int r = m.awaitThen(always, v -> v + 1);
          assertThat(r).isEqualTo(1);
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
          // Condvar wait after lockWhen: the mutex stays held once, and is gone after close
          Condvar cv = new Condvar();
          try (var g = m.lockWhen(always)) {
            assertThat(cv.awaitWhile(g, v -> true, Duration.ofMillis(5))).isFalse();
            assertThat(LockOrder.heldCountForTests()).isEqualTo(2);
          }
          assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
        }
        assertThat(LockOrder.heldCountForTests()).isZero();
        // An order outer -> m was recorded; the inversion must be reported once taken...
        assertThat(reports).as("no report for consistent orders (%s)", mode).isEmpty();
      });
    }
  }

  /**
   * HELD: no false report while a lockWhen waits with its mutex released but recorded. Thread W
   * waits in {@code m.lockWhen(v -> v > 0)} (untimed, timed, uninterruptible); thread C takes x,
   * then m (order x -> m), changes the value; W wakes, closes m, then takes x alone and then m
   * under x (the same order as C). THROW mode: nothing thrown, W's held list empty afterwards,
   * and the graph has exactly the edge x -> m.
   */
  @Test
  void held_noFalseReportWhileALockWhenWaitsWithItsMutexReleased() throws Exception {
    for (String form : List.of("untimed", "timed", "uninterruptible")) {
      withChecking(LockOrder.Mode.THROW, () -> {
        Mutex<Integer> m = new Mutex<>(0);
        Mutex<Integer> x = new Mutex<>(0);
        AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
        AtomicInteger heldAfter = new AtomicInteger(-1);
        Thread w = new Thread(() -> {
          try {
            Predicate<Integer> ready = v -> v > 0;
            Mutex.Guard<Integer> g = switch (form) {
              case "untimed" -> m.lockWhen(ready);
              case "timed" -> m.lockWhen(ready, Duration.ofSeconds(20));
              default -> m.lockWhenUninterruptibly(ready);
            };
            assertThat(g).isNotNull();
            g.close();
            try (var gx = x.lock(); var gm = m.lock()) {
              gm.set(gm.get() + 1);
            }
            heldAfter.set(LockOrder.heldCountForTests());
          } catch (Throwable t) {
            failure.set(t);
          }
        }, "r22d-waiter-" + form);
        w.start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (LockSupport.getBlocker(w) != m && w.isAlive() && System.nanoTime() - deadline < 0) {
          LockSupport.parkNanos(50_000L);
        }
        try (var gx = x.lock(); var gm = m.lock()) {
          gm.set(1);
        }
        join(w);
        assertThat(failure.get()).as(form).isNull();
        assertThat(heldAfter.get()).as(form).isZero();
        assertThat(LockOrder.edgesForTests()).as(form).isEqualTo(1);
      });
    }
  }

  /**
   * HELD: a lock taken in the predicate of a lockWhen that then times out or whose predicate
   * later throws leaves no stale record: after the failed lockWhen, taking x then m (the
   * inverse of the predicate's m -> x) is reported as an inversion (the edge is real), but
   * taking x alone, and m alone, is not; the held list is empty.
   */
  @Test
  void held_failedLockWhenWithALockInItsPredicateLeavesNoStaleRecord() throws Exception {
    withChecking(LockOrder.Mode.THROW, () -> {
      Mutex<Integer> m = new Mutex<>(0);
      Mutex<Integer> x = new Mutex<>(0);
      AtomicBoolean armed = new AtomicBoolean();
      Predicate<Integer> takesXThenFails = v -> {
        try (var gx = x.lock()) {
          if (armed.get()) {
            throw new IllegalStateException("armed");
          }
          return false;
        }
      };
      assertThat(m.lockWhen(takesXThenFails, Duration.ofMillis(5))).isNull();
      assertThat(LockOrder.heldCountForTests()).isZero();
      armed.set(true);
      assertThatThrownBy(() -> m.lockWhen(takesXThenFails))
          .isInstanceOf(IllegalStateException.class);
      assertThat(LockOrder.heldCountForTests()).isZero();
      assertThat(m.isLocked()).isFalse();
      assertThat(x.isLocked()).isFalse();
      try (var gx = x.lock()) {
        assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
      }
      try (var gm = m.lock()) {
        assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
      }
      try (var gx = x.lock()) {
        assertThatThrownBy(m::lock).isInstanceOf(LockOrderException.class);
      }
      assertThat(LockOrder.heldCountForTests()).isZero();
      assertThat(LockOrder.edgesForTests()).isEqualTo(1);
    });
  }

  // ============================================================ lock order: stack overflow

  /** Calls {@code then} below {@code frames} extra frames (shifts the sweep's alignment). */
  static void padThen(int frames, Runnable then) {
    if (frames <= 0) {
      then.run();
      return;
    }
    long[] keep = {frames};
    padThen(frames - 1, then);
    if (keep[0] < 0) {
      throw new AssertionError();
    }
  }

  /** One sweep: recurse to the stack's end, then call lockWhen once per frame on the way up. */
  static final class LockWhenSweep {
    final Mutex<int[]> m = new Mutex<>(new int[1]);
    final Predicate<int[]> ready;
    final boolean timedZero;
    int frames;
    int overflows;
    int returned;
    @Nullable Throwable culprit;

    LockWhenSweep(Predicate<int[]> ready, boolean timedZero) {
      this.ready = ready;
      this.timedZero = timedZero;
    }

    void recurse(int depth) {
      try {
        if (depth < 10_000_000) {
          recurse(depth + 1);
        }
      } catch (StackOverflowError e) {
        // the bottom
      }
      if (frames < 300 && culprit == null) {
        frames++;
        try {
          Mutex.Guard<int[]> g = timedZero ? m.lockWhen(ready, Duration.ZERO) : m.lockWhen(ready);
          if (g != null) {
            returned++;
            g.close();
          }
        } catch (StackOverflowError e) {
          overflows++;
          try {
            if (m.isLocked()) {
              culprit = e;
            }
          } catch (StackOverflowError tooDeep) {
            // checked again at the top
          }
        } catch (RuntimeException | InterruptedException e) {
          // the predicate's own exception: expected
        }
      }
    }
  }

  /** Runs sweeps at several alignments; returns a description of the first leak, or null. */
  private static @Nullable String sweepLockWhen(
      boolean checking, Predicate<int[]> ready, boolean timedZero, int[] overflowsOut)
      throws Exception {
    for (int pad = 0; pad < 24; pad++) {
      LockWhenSweep s = new LockWhenSweep(ready, timedZero);
      String[] leak = {null};
      int[] heldAfter = {-1};
      int p = pad;
      Runnable body = () -> padThen(p, () -> {
        if (checking) {
          LockOrder.enable(LockOrder.Mode.THROW);
        }
        s.recurse(0);
        if (s.m.isLocked()) {
          leak[0] = "pad " + p + ": the mutex is left locked although no lockWhen returned it ("
              + s.m + "); overflow at " + top(s.culprit);
        }
        if (checking) {
          heldAfter[0] = LockOrder.heldCountForTests();
        }
      });
      Thread t = new Thread(null, body, "r22d-sweep-" + pad, 1 << 19);
      t.setDaemon(true);
      t.start();
      join(t);
      overflowsOut[0] += s.overflows;
      if (leak[0] != null) {
        return leak[0];
      }
      if (checking && heldAfter[0] != 0) {
        return "pad " + pad + ": the held list keeps " + heldAfter[0] + " lock(s) after the sweep";
      }
    }
    return null;
  }

  static String top(@Nullable Throwable e) {
    if (e == null) {
      return "?";
    }
    StringBuilder b = new StringBuilder();
    int n = 0;
    for (StackTraceElement f : e.getStackTrace()) {
      b.append(f.getClassName().replace("dev.weft.", "")).append('.').append(f.getMethodName())
          .append(':').append(f.getLineNumber()).append(" < ");
      if (++n == 8) {
        break;
      }
    }
    return b.toString();
  }

  /**
   * DEFECT (pre-existing; the commit's forgetUnlessReady keeps it and, with checking on, puts
   * a LockOrder call before the release): a {@code lockWhen} that fails near the stack's end
   * leaves the mutex locked for good. Promise: lockWhen(ready, timeout)'s Javadoc, "{@code null}
   * if the deadline passed ... (the lock is then not held)"; StackHeadroom's class Javadoc
   * (review 18/19: an overflow must leave no lock held by a thread told it failed); Review18SoeTest
   * lists "Mutex's timed lockWhen" as held, but its sweep's predicate is almost always true, so
   * its failure path was never swept. The failure path ({@code forgetUnlessReady} ->
   * {@code releaseIfStillHeld} -> AQS release -> {@code Sync.tryRelease}) runs unprobed after the
   * predicate or awaitReady's probe threw: an overflow in tryRelease after {@code
   * setExclusiveOwnerThread(null)} and before {@code setState(0)} leaves the mutex locked by
   * nobody (every later lock() parks forever); one before leaves it held by the thread that
   * was told it failed.
   *
   * <p>Schedule: a thread with a 512 KiB stack recurses to StackOverflowError; on the way up each
   * frame calls {@code m.lockWhen(a -> a[0] > 0, Duration.ZERO)} (free lock, false predicate:
   * must return null, lock not held), catching the overflow; 24 alignments; afterwards {@code
   * m.isLocked()} must be false. Checking off (the code before c053f96 behaves the same) and
   * THROW. Observed: "the mutex is left locked ... overflow at Mutex$Sync.tryRelease:1673 < AQS
   * .release < Mutex.releaseIfStillHeld:1105 < Mutex.forgetUnlessReady:1100 < Mutex.lockWhen:755".
   * Fails 3 of 3 runs on JDK 17 and 3 of 3 on JDK 25 (deterministic sweep, under 1 s). Fix: probe before the clean-up
   * ({@code StackHeadroom.ensure(RELEASE_FRAMES)} before acquiring in lockWhen, or at the start
   * of the predicate phase) so the overflow strikes before the lock is taken.
   */
  @Test
  void fixed_lockWhenFailureNearTheStackEndLeavesTheMutexLocked() throws Exception {
    assertSweepClean(false);
  }

  /**
   * DEFECT (lock order on; the window moved by c053f96): {@code LockOrder.acquired} now runs
   * right after the lock is taken and before the {@code try} whose {@code finally}
   * (forgetUnlessReady) gives the lock back; an overflow inside it (observed: the first
   * checked acquisition of a thread creating its held list, {@code ThreadLocal.get ->
   * createMap -> WeakReference.<init>}) leaves the mutex held by a thread whose lockWhen threw
   * and which has no guard to close it: every other thread then waits forever. Promise: as
   * above (lockWhen's "the lock is then not held" when it fails; StackHeadroom's notes). Same
   * schedule as {@link #fixed_lockWhenFailureNearTheStackEndLeavesTheMutexLocked}, THROW
   * mode. Observed: "Mutex[Locked by thread r22d-sweep-0]; overflow at WeakReference.<init> <
   * ... < ThreadLocal.get < LockOrder.held:544 < LockOrder.acquired:437". Fix: call {@code
   * LockOrder.acquired} inside the try (forgetUnlessReady's {@code released} ignores a lock that
   * was never pushed), or probe the stack before acquiring. Fails 3 of 3 runs on JDK 17 and 3
   * of 3 on JDK 25 (culprit in LockOrder.acquired in 5 of 6; once the tryRelease window).
   */
  @Test
  void fixed_lockOrderRecordInLockWhenOverflowsWithTheMutexHeldAndNoGuard() throws Exception {
    assertSweepClean(true);
  }

  private static void assertSweepClean(boolean checking) throws Exception {
    int[] ov = {0};
    String r;
    try {
      r = sweepLockWhen(checking, Review22dTest::never, true, ov);
    } finally {
      LockOrder.disable();
      LockOrder.resetForTests();
    }
    System.out.println("R22D-SWEEP checking=" + checking + " overflows=" + ov[0] + " -> " + r);
    assertThat(ov[0]).as("the sweep reached the stack's end").isPositive();
    assertThat(r).as("a sweep left the mutex locked").isNull();
  }

  private static boolean never(int[] a) {
    return a[0] > 0;
  }
}
