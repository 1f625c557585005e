package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.MutexTest.Worker;
import java.lang.reflect.Method;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Adversarial review of the change queue behind {@link Mutex#lockWhen}/{@link Mutex#awaitThen}
 * and of {@link Condvar}: every release path inside every release window of a waiter, wake and
 * interrupt in the same window, leave-vs-wake races under short timeouts, a token ring that
 * needs every wake-up next to waiters that time out and are interrupted, deadline overrun under
 * a barging holder, Condvar binding races and notifyOne pass-on.
 */
@SuppressWarnings({"try", "StatementSwitchToExpressionSwitch"}) // cases with several statements
@Timeout(120)
class MutexAdversarialTest {

  /** Makes value[0] 1 (from 0) and releases the lock through one named path. */
  private static void releaseThrough(String path, Mutex<int[]> m, Condvar cv) throws Exception {
    switch (path) {
      case "guard":
        try (var g = m.lock()) {
          g.get()[0] = 1;
        }
        break;
      case "with":
        m.with(v -> v[0] = 1);
        break;
      case "update":
        m.update(v -> new int[] {1});
        break;
      case "tryLock": {
        Mutex.Guard<int[]> g = m.tryLock();
        assertThat(g).isNotNull();
        try (g) {
          g.get()[0] = 1;
        }
        break;
      }
      case "tryLockTimed": {
        Mutex.Guard<int[]> g = m.tryLock(Duration.ofSeconds(5));
        assertThat(g).isNotNull();
        try (g) {
          g.get()[0] = 1;
        }
        break;
      }
      case "lockInterruptibly":
        try (var g = m.lockInterruptibly()) {
          g.get()[0] = 1;
        }
        break;
      case "awaitThen":
        m.awaitThen(v -> v[0] == 0, v -> v[0] = 1);
        break;
      case "lockWhen":
        try (var g = m.lockWhen(v -> v[0] == 0)) {
          g.get()[0] = 1;
        }
        break;
      case "lockWhenTimed": {
        Mutex.Guard<int[]> g = m.lockWhen(v -> v[0] == 0, Duration.ofSeconds(5));
        assertThat(g).isNotNull();
        try (g) {
          g.get()[0] = 1;
        }
        break;
      }
      case "lockWhenUninterruptibly":
        try (var g = m.lockWhenUninterruptibly(v -> v[0] == 0)) {
          g.get()[0] = 1;
        }
        break;
      case "condvarWait":
        // The holder changes the value and then waits on a Condvar: its release happens inside
        // the Condvar's spin or Condition.await, not through Mutex.release().
        try (var g = m.lock()) {
          g.get()[0] = 1;
          cv.awaitWhile(g, v -> v[0] < 2);
        }
        break;
      case "condvarTimedWait":
        try (var g = m.lock()) {
          g.get()[0] = 1;
          cv.awaitWhile(g, v -> v[0] < 2, Duration.ofSeconds(10));
        }
        break;
      case "condvarUninterruptibly":
        try (var g = m.lock()) {
          g.get()[0] = 1;
          cv.awaitWhileUninterruptibly(g, v -> v[0] < 2);
        }
        break;
      default:
        throw new IllegalArgumentException(path);
    }
  }

  /**
   * A change made and released, through every path, inside the waiter's release windows (after
   * its spin-phase release; after it pushed its node and released, before it parks) must wake
   * it. The change runs on a helper thread from inside the waiter's hook, so it lands exactly
   * between the waiter's predicate check and its park.
   */
  @ParameterizedTest
  @CsvSource({
    "mutex.released-for-wait,guard", "mutex.released-for-wait,with",
    "mutex.released-for-wait,update", "mutex.released-for-wait,tryLock",
    "mutex.released-for-wait,tryLockTimed", "mutex.released-for-wait,lockInterruptibly",
    "mutex.released-for-wait,awaitThen", "mutex.released-for-wait,lockWhen",
    "mutex.released-for-wait,lockWhenTimed", "mutex.released-for-wait,lockWhenUninterruptibly",
    "mutex.released-for-wait,condvarWait", "mutex.released-for-wait,condvarTimedWait",
    "mutex.released-for-spin,guard", "mutex.released-for-spin,update",
    "mutex.released-for-spin,tryLock", "mutex.released-for-spin,awaitThen",
    "mutex.released-for-spin,lockWhenTimed", "mutex.released-for-spin,condvarWait",
    "mutex.released-for-spin,condvarTimedWait", "mutex.released-for-wait,condvarUninterruptibly",
    "mutex.woken,guard", "mutex.woken,condvarWait",
  })
  @Timeout(30)
  void aChangeReleasedInsideAWaitersWindowWakesIt(String window, String path) throws Exception {
    for (String form : new String[] {"lockWhen", "lockWhenTimed", "awaitThen", "uninterruptible"}) {
      Mutex<int[]> m = new Mutex<>(new int[] {0});
      Condvar cv = new Condvar();
      AtomicBoolean fired = new AtomicBoolean();
      AtomicReference<@Nullable Worker> helper = new AtomicReference<>();
      // For "mutex.woken" the waiter must be woken once first: start at -1, a first update to 1
      // wakes it (since session 27 only a change that makes the predicate hold wakes), the
      // helper sets 0 in the woken window and then releases the change to 1 there.
      boolean woken = window.equals("mutex.woken");
      if (woken) {
        m.with(v -> v[0] = -1);
      }
      AtomicInteger seen = new AtomicInteger(Integer.MIN_VALUE);
      try (var h =
          ProtocolWindows.install(
              name -> {
                if (!name.equals(window)
                    || !Thread.currentThread().getName().equals("test-waiter")
                    || !fired.compareAndSet(false, true)) {
                  return;
                }
                CountDownLatch done = new CountDownLatch(1);
                Worker w =
                    new Worker(
                        "helper",
                        () -> {
                          try {
                            if (woken) {
                              m.with(v -> v[0] = 0);
                            }
                            releaseThrough(path, m, cv);
                          } finally {
                            done.countDown();
                          }
                        });
                helper.set(w);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                // Wait (bounded) until the helper has finished, or sleeps on the Condvar.
                while (done.getCount() > 0 && !cv.hasWaiters()) {
                  assertThat(System.nanoTime() - deadline).isNegative();
                  LockSupport.parkNanos(50_000L);
                }
              })) {
        Worker waiter =
            new Worker(
                "waiter",
                () -> {
                  switch (form) {
                    case "lockWhen":
                      try (var g = m.lockWhen(v -> v[0] >= 1)) {
                        seen.set(g.get()[0]);
                      }
                      break;
                    case "lockWhenTimed": {
                      Mutex.Guard<int[]> g = m.lockWhen(v -> v[0] >= 1, Duration.ofSeconds(15));
                      assertThat(g).as("timed waiter missed the change").isNotNull();
                      try (g) {
                        seen.set(g.get()[0]);
                      }
                      break;
                    }
                    case "awaitThen":
                      seen.set(m.awaitThen(v -> v[0] >= 1, v -> v[0]));
                      break;
                    default:
                      try (var g = m.lockWhenUninterruptibly(v -> v[0] >= 1)) {
                        seen.set(g.get()[0]);
                      }
                  }
                  assertThat(m.isHeldByCurrentThread()).isFalse();
                });
        if (woken) {
          // Wake the waiter once (value -1 -> 0 happens inside the hook), so let a first
          // release reach it: it is parked on the queue. Since session 27 a release wakes only
          // a waiter whose predicate holds, so this one makes it hold; inside the window the
          // helper makes it false again and then releases the change under test.
          awaitBlocked(waiter.thread);
          m.with(v -> v[0] = 1);
        }
        // The waiter must finish well within its own bound: a lost wake-up leaves it parked.
        waiter.thread.join(TimeUnit.SECONDS.toMillis(8));
        boolean stuck = waiter.thread.isAlive();
        if (stuck) {
          m.with(v -> v); // rescue so that every thread can be joined
        }
        m.with(v -> v[0] = 2);
        cv.notifyAllWaiters();
        waiter.join();
        Worker w = helper.get();
        if (w != null) {
          w.join();
        }
        assertThat(fired).as("window %s reached (%s)", window, form).isTrue();
        assertThat(stuck).as("%s/%s/%s: waiter missed the change", window, path, form).isFalse();
        assertThat(seen.get()).isGreaterThanOrEqualTo(1);
        assertThat(m.isLocked()).isFalse();
      }
    }
  }

  /**
   * Wake-up and interrupt in the same window: the waiter must either return holding the lock
   * with its interrupt status still set, or throw InterruptedException without the lock.
   */
  @ParameterizedTest
  @CsvSource({"mutex.released-for-wait", "mutex.released-for-spin", "mutex.woken"})
  @Timeout(30)
  void wakeAndInterruptInOneWindowNeverLoseTheInterruptOrKeepTheLock(String window)
      throws Exception {
    for (boolean timed : new boolean[] {false, true}) {
      Mutex<Integer> m = new Mutex<>(-1);
      AtomicBoolean fired = new AtomicBoolean();
      AtomicReference<String> outcome = new AtomicReference<>("none");
      try (var h =
          ProtocolWindows.install(
              name -> {
                if (name.equals(window)
                    && Thread.currentThread().getName().equals("test-iwaiter")
                    && fired.compareAndSet(false, true)) {
                  Worker w = new Worker("ihelper", () -> m.update(v -> 1));
                  try {
                    w.join();
                  } catch (InterruptedException e) {
                    throw new AssertionError(e);
                  }
                  Thread.currentThread().interrupt();
                }
              })) {
        Worker waiter =
            new Worker(
                "iwaiter",
                () -> {
                  try {
                    Mutex.Guard<Integer> g =
                        timed ? m.lockWhen(v -> v >= 1, Duration.ofSeconds(10))
                            : m.lockWhen(v -> v >= 1);
                    assertThat(g).isNotNull();
                    assertThat(m.isHeldByCurrentThread()).isTrue();
                    boolean status = Thread.interrupted();
                    g.close();
                    outcome.set("guard, interrupt status " + status);
                  } catch (InterruptedException e) {
                    outcome.set("IE, held " + m.isHeldByCurrentThread());
                  }
                });
        if (window.equals("mutex.woken")) {
          awaitBlocked(waiter.thread);
          m.update(v -> 1); // wake once (a change that makes the predicate hold, session 27)
        }
        waiter.join();
        assertThat(fired).isTrue();
        assertThat(outcome.get()).isIn("guard, interrupt status true", "IE, held false");
        assertThat(m.isLocked()).isFalse();
      }
    }
  }

  /**
   * A token ring whose every step needs a wake-up (thread i waits for v % K == i), run next to
   * noise: waiters that time out after 0-200 us (leave-vs-wake races, left nodes, purges),
   * waiters that are interrupted, and a thread that releases through Condvar waits and
   * tryLock. A lost wake-up stops the ring. Also checks the queue bound afterwards.
   */
  @Test
  @Timeout(90)
  void tokenRingNeedsEveryWakeupWhileNoiseWaitersLeave() throws Exception {
    runRing(false);
  }

  /** The same ring on virtual threads (JDK 21+, through reflection; skipped on 17). */
  @Test
  @Timeout(90)
  void tokenRingOnVirtualThreads() throws Exception {
    if (Runtime.version().feature() < 21) {
      return;
    }
    runRing(true);
  }

  private static Thread newThread(boolean virtual, String name, Runnable r) throws Exception {
    if (!virtual) {
      Thread t = new Thread(r, name);
      t.start();
      return t;
    }
    // Through the public interface Thread.Builder: the builder's class is not accessible.
    Class<?> builderType = Class.forName("java.lang.Thread$Builder");
    Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
    Method nameM = builderType.getMethod("name", String.class);
    builder = nameM.invoke(builder, name);
    Method start = builderType.getMethod("start", Runnable.class);
    return (Thread) start.invoke(builder, r);
  }

  private static void runRing(boolean virtual) throws Exception {
    final int k = 3;
    final int steps = virtual ? 2_000 : 3_000;
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicLong timeouts = new AtomicLong();
    AtomicLong interrupts = new AtomicLong();
    AtomicInteger maxQueue = new AtomicInteger();
    List<Thread> threads = new ArrayList<>();
    CountDownLatch ringDone = new CountDownLatch(k);
    try {
      for (int i = 0; i < k; i++) {
        final int id = i;
        threads.add(
            newThread(
                virtual,
                "test-ring-" + i,
                () -> {
                  try {
                    for (int s = 0; s < steps; s++) {
                      switch (id) {
                        case 0:
                          m.awaitThen(v -> v % k == id, v -> 0);
                          m.update(v -> v + 1); // a second hold: another release to see
                          break;
                        case 1:
                          try (var g = m.lockWhen(v -> v % k == id)) {
                            g.set(g.get() + 1);
                          }
                          break;
                        default:
                          try (var g = m.lockWhenUninterruptibly(v -> v % k == id)) {
                            g.set(g.get() + 1);
                          }
                      }
                      assertThat(m.isHeldByCurrentThread()).isFalse();
                    }
                  } catch (Throwable t) {
                    failure.compareAndSet(null, new AssertionError(Thread.currentThread().getName(), t));
                  } finally {
                    ringDone.countDown();
                  }
                }));
      }
      for (int i = 0; i < 2; i++) {
        threads.add(
            newThread(
                virtual,
                "test-timed-noise-" + i,
                () -> {
                  try {
                    ThreadLocalRandom r = ThreadLocalRandom.current();
                    while (!stop.get()) {
                      Mutex.Guard<Integer> g =
                          m.lockWhen(v -> v < 0, Duration.ofNanos(r.nextLong(0, 200_000)));
                      assertThat(g).isNull();
                      assertThat(m.isHeldByCurrentThread()).isFalse();
                      timeouts.incrementAndGet();
                    }
                  } catch (InterruptedException e) {
                    if (!stop.get()) {
                      failure.compareAndSet(null, e);
                    }
                  } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                  }
                }));
      }
      Thread interruptee =
          newThread(
              virtual,
              "test-interrupted-noise",
              () -> {
                while (!stop.get()) {
                  try {
                    m.lockWhen(v -> v < 0).close();
                    failure.compareAndSet(null, new AssertionError("predicate never true"));
                  } catch (InterruptedException e) {
                    if (m.isHeldByCurrentThread()) {
                      failure.compareAndSet(null, new AssertionError("IE with the lock held"));
                    }
                    interrupts.incrementAndGet();
                  } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                  }
                }
              });
      threads.add(interruptee);
      threads.add(
          newThread(
              virtual,
              "test-release-noise",
              () -> {
                try {
                  ThreadLocalRandom r = ThreadLocalRandom.current();
                  while (!stop.get()) {
                    interruptee.interrupt();
                    Mutex.Guard<Integer> g = m.tryLock();
                    if (g != null) {
                      try (g) {
                        maxQueue.accumulateAndGet(m.changeQueueLengthLocked(), Math::max);
                        if (r.nextBoolean()) {
                          cv.awaitWhile(g, v -> true, Duration.ofNanos(r.nextLong(1, 50_000)));
                        }
                      }
                    }
                    LockSupport.parkNanos(r.nextLong(1, 100_000));
                  }
                } catch (InterruptedException e) {
                  if (!stop.get()) {
                    failure.compareAndSet(null, e);
                  }
                } catch (Throwable t) {
                  failure.compareAndSet(null, t);
                }
              }));
      boolean finished = ringDone.await(60, TimeUnit.SECONDS);
      int value = m.with(v -> v);
      assertThat(finished)
          .as("ring stalled at %d of %d (lost wake-up?), timeouts %d", value, k * steps,
              timeouts.get())
          .isTrue();
      assertThat(failure.get()).isNull();
      assertThat(value).isEqualTo(k * steps);
    } finally {
      stop.set(true);
      for (Thread t : threads) {
        t.interrupt();
      }
      m.update(v -> v); // wake anyone still queued
      for (Thread t : threads) {
        t.join(TimeUnit.SECONDS.toMillis(20));
        if (t.isAlive()) {
          m.update(v -> v);
        }
      }
    }
    Throwable f = failure.get();
    if (f != null) {
      throw new AssertionError(f);
    }
    // 2 timed noise + 1 interrupted noise + 3 ring threads. Since session 27 an append purges
    // only when the queue has doubled since its last sweep: at most twice the live nodes plus
    // the slack, and the append itself (it was two nodes per thread).
    System.out.printf(
        "ring (virtual=%s): timeouts %d, interrupts %d, max queue %d%n",
        virtual, timeouts.get(), interrupts.get(), maxQueue.get());
    assertThat(maxQueue.get())
        .as("change queue length")
        .isLessThanOrEqualTo(2 * 6 + Mutex.PURGE_SLACK + 1);
    assertThat(timeouts.get()).isPositive();
  }

  /**
   * Leave-vs-wake race: a timed waiter with 1-50 us timeouts against a thread that flips the
   * value as fast as it can. Each return must be either a guard (lock held, predicate true) or
   * null (lock not held).
   */
  @Test
  @Timeout(60)
  void shortTimedWaitsRacingWakeupsReturnAGuardOrNullButNeverAMixture() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicBoolean stop = new AtomicBoolean();
    Worker flipper =
        new Worker(
            "flipper",
            () -> {
              ThreadLocalRandom r = ThreadLocalRandom.current();
              while (!stop.get()) {
                m.update(v -> v + 1);
                // Mostly back-to-back, sometimes a pause so that the waiter parks on the queue
                // and its deadline races the next wake-up.
                if (r.nextInt(4) == 0) {
                  LockSupport.parkNanos(r.nextLong(1, 40_000));
                }
              }
            });
    int guards = 0;
    int nulls = 0;
    try {
      ThreadLocalRandom r = ThreadLocalRandom.current();
      for (int i = 0; i < 20_000; i++) {
        Mutex.Guard<Integer> g =
            m.lockWhen(v -> v % 7 == 3, Duration.ofNanos(r.nextLong(1, 50_000)));
        if (g != null) {
          assertThat(m.isHeldByCurrentThread()).isTrue();
          assertThat(g.get() % 7).isEqualTo(3);
          g.close();
          guards++;
        } else {
          nulls++;
        }
        assertThat(m.isHeldByCurrentThread()).isFalse();
      }
    } finally {
      stop.set(true);
      flipper.join();
    }
    System.out.printf("short timed waits: %d guards, %d nulls%n", guards, nulls);
    assertThat(guards + nulls).isEqualTo(20_000);
    int queue = m.with(v -> m.changeQueueLengthLocked());
    assertThat(queue).isLessThanOrEqualTo(2);
  }

  /**
   * A barger that keeps taking the lock for 3 ms at a time must not stretch a timed lockWhen
   * past its deadline by more than scheduling noise. Reports the worst overrun.
   */
  @Test
  @Timeout(60)
  void bargingHolderCannotStretchTimedLockWhen() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicBoolean stop = new AtomicBoolean();
    Worker barger =
        new Worker(
            "barger",
            () -> {
              while (!stop.get()) {
                try (var g = m.lock()) {
                  LockSupport.parkNanos(3_000_000L);
                }
                Thread.onSpinWait();
              }
            });
    long worst = 0;
    List<Long> overruns = new ArrayList<>();
    try {
      for (int i = 0; i < 200; i++) {
        long t0 = System.nanoTime();
        Mutex.Guard<Integer> g = m.lockWhen(v -> v < 0, Duration.ofMillis(2));
        long over = System.nanoTime() - t0 - 2_000_000L;
        assertThat(g).isNull();
        assertThat(m.isHeldByCurrentThread()).isFalse();
        overruns.add(over);
        worst = Math.max(worst, over);
      }
    } finally {
      stop.set(true);
      barger.join();
    }
    overruns.sort(null);
    System.out.printf(
        "lockWhen(2ms) against a 3ms barger: overrun median %d us, p99 %d us, max %d us%n",
        overruns.get(100) / 1000, overruns.get(198) / 1000, worst / 1000);
    // A wait bounded by the barger's hold (3 ms) instead of its own deadline shows in the median.
    assertThat(overruns.get(100)).as("median overrun").isLessThan(1_500_000L);
  }

  /**
   * Two threads race to be the first user of one Condvar with guards of two different mutexes,
   * on the "returns at once" paths. Exactly one binds; the other gets IllegalArgumentException
   * and still holds its own mutex; every later use with the loser's mutex is refused.
   */
  @Test
  @Timeout(60)
  void racingFirstUsesBindExactlyOneMutex() throws Exception {
    for (int round = 0; round < 300; round++) {
      Condvar cv = new Condvar();
      Mutex<Integer> a = new Mutex<>(0);
      Mutex<Integer> b = new Mutex<>(0);
      CountDownLatch start = new CountDownLatch(1);
      AtomicInteger refused = new AtomicInteger();
      List<Worker> ws = new ArrayList<>();
      for (Mutex<Integer> mx : List.of(a, b)) {
        final int form = round % 3;
        ws.add(
            new Worker(
                "binder",
                () -> {
                  try (var g = mx.lock()) {
                    start.await();
                    try {
                      if (form == 0) {
                        cv.awaitWhile(g, v -> false);
                      } else if (form == 1) {
                        cv.awaitWhile(g, v -> true, Duration.ZERO);
                      } else {
                        cv.awaitWhile(g, v -> true, Instant.MIN);
                      }
                    } catch (IllegalArgumentException e) {
                      refused.incrementAndGet();
                    }
                    assertThat(mx.isHeldByCurrentThread()).isTrue();
                  }
                }));
      }
      start.countDown();
      for (Worker w : ws) {
        w.join();
      }
      assertThat(refused.get()).as("round %d", round).isEqualTo(1);
      // Whichever won, the other mutex is refused on every path, the mutex stays held.
      int accepted = 0;
      for (Mutex<Integer> mx : List.of(a, b)) {
        try (var g = mx.lock()) {
          try {
            cv.awaitWhileUninterruptibly(g, v -> false);
            accepted++;
          } catch (IllegalArgumentException e) {
            assertThat(mx.isHeldByCurrentThread()).isTrue();
          }
        }
      }
      assertThat(accepted).isEqualTo(1);
    }
  }

  /**
   * notifyOne with consumers that time out (1-100 us) or are interrupted while an untimed
   * consumer sleeps: a notification taken by a waiter that gives up must be passed on, or an
   * item stays in the queue while the untimed consumer sleeps. The timed consumers stop after
   * the first half, so the second half depends on the untimed one being woken.
   */
  @Test
  @Timeout(90)
  void notifyOneIsPassedOnByWaitersThatGiveUp() throws Exception {
    Mutex<ArrayDeque<Integer>> m = new Mutex<>(new ArrayDeque<>());
    Condvar cv = new Condvar();
    AtomicInteger consumed = new AtomicInteger();
    AtomicBoolean timedStop = new AtomicBoolean();
    AtomicBoolean done = new AtomicBoolean();
    final int items = 4_000;
    List<Worker> timed = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      timed.add(
          new Worker(
              "timed-consumer",
              () -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                while (!timedStop.get()) {
                  try (var g = m.lock()) {
                    try {
                      if (cv.awaitWhile(
                          g, q -> q.isEmpty(), Duration.ofNanos(r.nextLong(1, 100_000)))) {
                        g.get().poll();
                        consumed.incrementAndGet();
                      }
                    } catch (InterruptedException e) {
                      assertThat(m.isHeldByCurrentThread()).isTrue();
                    }
                  }
                }
              }));
    }
    Worker untimed =
        new Worker(
            "untimed-consumer",
            () -> {
              while (true) {
                try (var g = m.lock()) {
                  cv.awaitWhile(g, q -> q.isEmpty() && !done.get());
                  if (g.get().poll() == null) {
                    return;
                  }
                  consumed.incrementAndGet();
                }
              }
            });
    Worker interrupter =
        new Worker(
            "interrupter",
            () -> {
              while (!timedStop.get()) {
                for (Worker w : timed) {
                  w.thread.interrupt();
                }
                LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(1, 200_000));
              }
            });
    try {
      for (int i = 0; i < items; i++) {
        if (i == items / 2) {
          timedStop.set(true);
        }
        final int item = i;
        m.with(q -> q.add(item));
        cv.notifyOne();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (consumed.get() <= i) {
          assertThat(System.nanoTime() - deadline)
              .as("item %d never consumed: a notifyOne was lost", i)
              .isNegative();
          LockSupport.parkNanos(5_000L); // bounded poll of a counter, not a sleep
        }
      }
    } finally {
      timedStop.set(true);
      m.with(q -> {
        done.set(true);
        return q;
      });
      cv.notifyAllWaiters();
      interrupter.join();
      for (Worker w : timed) {
        w.join();
      }
      untimed.join();
    }
    assertThat(consumed.get()).isEqualTo(items);
  }
}
