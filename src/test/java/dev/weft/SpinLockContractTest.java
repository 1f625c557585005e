package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static dev.weft.testing.Waits.awaitParkedOn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

/**
 * The rules {@link SpinLock} and {@link TicketLock} share; {@link SpinLockTest} and {@link
 * TicketLockTest} run them for each lock.
 */
@Timeout(60)
// Tests exercise lock misuse on purpose (unlock without finally, lock far from try), time out
// single Condition waits on purpose, and yield while polling a thread's state.
@SuppressWarnings({"LockNotBeforeTry", "WaitNotInLoop", "ThreadPriorityCheck", "JavaUtilDate"})
abstract class SpinLockContractTest {

  /** What the tests need of a lock beyond {@link Lock}. */
  interface TestLock extends Lock {
    AutoCloseable acquire();

    boolean tryLock(Duration timeout) throws InterruptedException;

    boolean isLocked();

    boolean isHeldByCurrentThread();

    /** The name used in messages: "SpinLock" or "TicketLock". */
    String name();

    /**
     * Adapts one of weft's spin locks: the {@link Lock} methods and {@code toString} go to
     * {@code lock}, the rest to the given methods of the same lock.
     */
    static TestLock of(
        String name,
        Lock lock,
        Supplier<? extends AutoCloseable> acquire,
        TimedTryLock tryLock,
        BooleanSupplier isLocked,
        BooleanSupplier isHeldByCurrentThread) {
      return new TestLock() {
        @Override
        public AutoCloseable acquire() {
          return acquire.get();
        }

        @Override
        public boolean tryLock(Duration timeout) throws InterruptedException {
          return tryLock.tryLock(timeout);
        }

        @Override
        public boolean isLocked() {
          return isLocked.getAsBoolean();
        }

        @Override
        public boolean isHeldByCurrentThread() {
          return isHeldByCurrentThread.getAsBoolean();
        }

        @Override
        public String name() {
          return name;
        }

        @Override
        public void lock() {
          lock.lock();
        }

        @Override
        public void lockInterruptibly() throws InterruptedException {
          lock.lockInterruptibly();
        }

        @Override
        public boolean tryLock() {
          return lock.tryLock();
        }

        @Override
        public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
          return lock.tryLock(time, unit);
        }

        @Override
        public void unlock() {
          lock.unlock();
        }

        @Override
        public Condition newCondition() {
          return lock.newCondition();
        }

        @Override
        public String toString() {
          return lock.toString();
        }
      };
    }
  }

  /** {@code tryLock(Duration)} of a weft lock. */
  interface TimedTryLock {
    boolean tryLock(Duration timeout) throws InterruptedException;
  }

  abstract TestLock newLock();

  // ---- helpers ----

  static Thread start(String name, ThrowingRunnable body, AtomicReference<Throwable> failure) {
    Thread t =
        new Thread(
            () -> {
              try {
                body.run();
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              }
            },
            "test-" + name);
    t.start();
    return t;
  }

  interface ThrowingRunnable {
    void run() throws Exception;
  }

  static void join(Thread... threads) throws InterruptedException {
    for (Thread t : threads) {
      t.join(TimeUnit.SECONDS.toMillis(30));
      assertThat(t.isAlive()).as("%s still running", t.getName()).isFalse();
    }
  }

  /** Runs {@code body} in a test thread while the current thread waits for it. */
  static void inOtherThread(ThrowingRunnable body) throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t = start("other", body, failure);
    join(t);
    if (failure.get() != null) {
      throw new AssertionError("other thread failed", failure.get());
    }
  }

  /**
   * Holds {@code lock} with one waiter (the "stayer") blocked behind it, then cancels waits
   * behind the stayer: {@code timedWaits} timed {@code tryLock}s of {@code timeoutMillis} each,
   * in one other thread, and 10 {@code lockInterruptibly} waits, each interrupted once blocked.
   * Runs {@code whileHeld} (a check of the lock's nodes) before it releases the lock, then joins
   * the stayer and fails if any thread failed. The memory check of issue 18 (defect 6) for each
   * lock: cancelled waits must not accumulate nodes while the lock is held long.
   */
  static void cancelWaitsBehindABlockedWaiter(
      Lock lock, int timedWaits, long timeoutMillis, ThrowingRunnable whileHeld)
      throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    lock.lock();
    Thread stayer =
        start(
            "stayer",
            () -> {
              lock.lock();
              lock.unlock();
            },
            failure);
    try {
      awaitBlocked(stayer);
      inOtherThread(
          () -> {
            for (int i = 0; i < timedWaits; i++) {
              assertThat(lock.tryLock(timeoutMillis, TimeUnit.MILLISECONDS)).isFalse();
            }
          });
      for (int i = 0; i < 10; i++) {
        Thread t =
            start(
                "interrupted-" + i,
                () -> {
                  try {
                    lock.lockInterruptibly();
                    lock.unlock();
                  } catch (InterruptedException expected) {
                    // the point of the test
                  }
                },
                failure);
        awaitBlocked(t);
        t.interrupt();
        join(t);
      }
      whileHeld.run();
    } finally {
      lock.unlock();
      join(stayer);
    }
    assertThat(failure.get()).isNull();
  }

  /**
   * Starts a thread that waits in {@code lock.lockInterruptibly()}: if it acquires, it unlocks;
   * if it is interrupted, it sets {@code threwWithoutTheLock} to whether it does not hold the
   * lock after the {@link InterruptedException}.
   */
  static Thread startInterruptibleWaiter(
      String name,
      Lock lock,
      BooleanSupplier isHeldByCurrentThread,
      AtomicBoolean threwWithoutTheLock,
      AtomicReference<Throwable> failure) {
    return start(
        name,
        () -> {
          try {
            lock.lockInterruptibly();
            lock.unlock();
          } catch (InterruptedException e) {
            threwWithoutTheLock.set(!isHeldByCurrentThread.getAsBoolean());
          }
        },
        failure);
  }

  /**
   * "held, not interrupted" and the other combinations: whether the current thread holds the
   * lock ({@code held}) and whether its interrupt status is set.
   */
  static String holdAndInterruptStatus(boolean held) {
    return (held ? "held" : "NOT held")
        + (Thread.currentThread().isInterrupted() ? ", interrupted" : ", not interrupted");
  }

  /** A way to acquire a lock with a timeout, for {@link #contendedAcquisitions}. */
  interface TimedAcquisition {
    boolean tryLock() throws InterruptedException;
  }

  /**
   * Holds {@code lock} while three threads wait for it, by {@code lock()}, {@code
   * lockInterruptibly()} and {@code timed} (started in that order; {@code afterEachStart} runs
   * after each start, e.g. to wait until it is queued), waits until all three are parked on the
   * lock, releases it, and returns what each recorded once it had acquired, in the order they
   * acquired: "plain held, not interrupted", "interruptible held, not interrupted", "timed true
   * held, not interrupted" when each returned holding the lock with a clear interrupt status.
   */
  static List<String> contendedAcquisitions(
      Lock lock, BooleanSupplier isHeldByCurrentThread, TimedAcquisition timed,
      Runnable afterEachStart)
      throws Exception {
    List<String> results = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Supplier<String> state = () -> holdAndInterruptStatus(isHeldByCurrentThread.getAsBoolean());
    lock.lock();
    Thread a =
        start(
            "plain",
            () -> {
              lock.lock();
              results.add("plain " + state.get());
              lock.unlock();
            },
            failure);
    afterEachStart.run();
    Thread b =
        start(
            "interruptible",
            () -> {
              lock.lockInterruptibly();
              results.add("interruptible " + state.get());
              lock.unlock();
            },
            failure);
    afterEachStart.run();
    Thread c =
        start(
            "timed",
            () -> {
              boolean got = timed.tryLock();
              results.add("timed " + got + " " + state.get());
              if (got) {
                lock.unlock();
              }
            },
            failure);
    afterEachStart.run();
    awaitParkedOn(a, lock);
    awaitParkedOn(b, lock);
    awaitParkedOn(c, lock);
    lock.unlock();
    join(a, b, c);
    assertThat(failure.get()).isNull();
    return List.copyOf(results); // the joins order every add before this read
  }

  // ---- basic state ----

  @Test
  void lockAndUnlockTrackOwnership() {
    TestLock lock = newLock();
    assertThat(lock.isLocked()).isFalse();
    assertThat(lock.isHeldByCurrentThread()).isFalse();
    assertThat(lock.toString()).contains("unlocked");
    lock.lock();
    assertThat(lock.isLocked()).isTrue();
    assertThat(lock.isHeldByCurrentThread()).isTrue();
    assertThat(lock.toString()).contains("locked by " + Thread.currentThread().getName());
    lock.unlock();
    assertThat(lock.isLocked()).isFalse();
    assertThat(lock.isHeldByCurrentThread()).isFalse();
  }

  @Test
  void otherThreadsSeeTheLockHeldButNotByThem() throws Exception {
    TestLock lock = newLock();
    lock.lock();
    try {
      inOtherThread(
          () -> {
            assertThat(lock.isLocked()).isTrue();
            assertThat(lock.isHeldByCurrentThread()).isFalse();
            assertThat(lock.tryLock()).isFalse();
            assertThat(lock.tryLock(Duration.ZERO)).isFalse();
            assertThat(lock.tryLock(-5, TimeUnit.SECONDS)).isFalse();
          });
    } finally {
      lock.unlock();
    }
  }

  @Test
  void tryLockSucceedsWhenFree() throws Exception {
    TestLock lock = newLock();
    assertThat(lock.tryLock()).isTrue();
    lock.unlock();
    assertThat(lock.tryLock(Duration.ZERO)).isTrue();
    lock.unlock();
    assertThat(lock.tryLock(-1, TimeUnit.NANOSECONDS)).isTrue();
    lock.unlock();
    assertThat(lock.tryLock(Duration.ofSeconds(Long.MAX_VALUE))).isTrue(); // no overflow
    lock.unlock();
    assertThat(lock.tryLock(Long.MAX_VALUE, TimeUnit.DAYS)).isTrue();
    lock.unlock();
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void timedTryLockTimesOutWhileHeld() throws Exception {
    TestLock lock = newLock();
    lock.lock();
    try {
      inOtherThread(
          () -> {
            long start = System.nanoTime();
            assertThat(lock.tryLock(Duration.ofMillis(30))).isFalse();
            assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(25_000_000L);
            assertThat(lock.tryLock(20, TimeUnit.MILLISECONDS)).isFalse();
            assertThat(lock.isHeldByCurrentThread()).isFalse();
          });
      assertThat(lock.isHeldByCurrentThread()).isTrue();
    } finally {
      lock.unlock();
    }
    assertThat(lock.tryLock()).isTrue(); // timed-out waiters left nothing broken behind
    lock.unlock();
  }

  @Test
  void timedTryLockSucceedsWhenReleasedInTime() throws Exception {
    TestLock lock = newLock();
    lock.lock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean got = new AtomicBoolean();
    Thread t =
        start(
            "waiter",
            () -> {
              got.set(lock.tryLock(Duration.ofSeconds(Long.MAX_VALUE)));
              lock.unlock();
            },
            failure);
    awaitBlocked(t);
    lock.unlock();
    join(t);
    assertThat(failure.get()).isNull();
    assertThat(got).isTrue();
  }

  // ---- misuse ----

  @Test
  void relockingByTheOwnerThrowsInsteadOfDeadlocking() {
    TestLock lock = newLock();
    lock.lock();
    try {
      String msg = lock.name() + " is not reentrant: this thread already holds it";
      assertThatThrownBy(lock::lock).isInstanceOf(IllegalStateException.class).hasMessage(msg);
      assertThatThrownBy(lock::lockInterruptibly)
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(msg);
      assertThatThrownBy(lock::tryLock).isInstanceOf(IllegalStateException.class).hasMessage(msg);
      assertThatThrownBy(() -> lock.tryLock(Duration.ofMillis(10)))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(msg);
      assertThatThrownBy(() -> lock.tryLock(0, TimeUnit.SECONDS))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage(msg);
      assertThatThrownBy(lock::acquire).isInstanceOf(IllegalStateException.class).hasMessage(msg);
      assertThat(lock.isHeldByCurrentThread()).isTrue(); // still held exactly once
    } finally {
      lock.unlock();
    }
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void unlockWithoutHoldingThrowsIllegalMonitorState() throws Exception {
    TestLock lock = newLock();
    assertThatThrownBy(lock::unlock)
        .isInstanceOf(IllegalMonitorStateException.class)
        .hasMessageContaining("not held by this thread");
    lock.lock();
    String holder = Thread.currentThread().getName();
    try {
      inOtherThread(
          () ->
              assertThatThrownBy(lock::unlock)
                  .isInstanceOf(IllegalMonitorStateException.class)
                  .hasMessageContaining("held by " + holder));
      assertThat(lock.isHeldByCurrentThread()).isTrue(); // the failed unlock changed nothing
    } finally {
      lock.unlock();
    }
    assertThatThrownBy(lock::unlock).isInstanceOf(IllegalMonitorStateException.class);
  }

  @Test
  void nullArgumentsThrowNpeNamingTheParameter() {
    TestLock lock = newLock();
    assertThatNullPointerException().isThrownBy(() -> lock.tryLock(1, null)).withMessage("unit");
    assertThatNullPointerException().isThrownBy(() -> lock.tryLock(null)).withMessage("timeout");
    assertThat(lock.isLocked()).isFalse();
  }

  // ---- guards ----

  @Test
  void guardReleasesTheLockEvenOnException() {
    TestLock lock = newLock();
    assertThatThrownBy(
            () -> {
              try (AutoCloseable g = lock.acquire()) {
                assertThat(lock.isHeldByCurrentThread()).isTrue();
                assertThat(g.toString()).contains(Thread.currentThread().getName());
                throw new IllegalArgumentException("boom");
              }
            })
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("boom");
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void closingAGuardTwiceThrowsIllegalState() throws Exception {
    TestLock lock = newLock();
    AutoCloseable g = lock.acquire();
    g.close();
    assertThatThrownBy(g::close)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("guard already closed");
    // The second close must not have released a later acquisition.
    lock.lock();
    assertThatThrownBy(g::close).isInstanceOf(IllegalStateException.class);
    assertThat(lock.isHeldByCurrentThread()).isTrue();
    lock.unlock();
  }

  @Test
  void closingAGuardFromAnotherThreadThrowsIllegalMonitorState() throws Exception {
    TestLock lock = newLock();
    AutoCloseable g = lock.acquire();
    try {
      inOtherThread(
          () ->
              assertThatThrownBy(g::close)
                  .isInstanceOf(IllegalMonitorStateException.class)
                  .hasMessageContaining("guard belongs to thread"));
      assertThat(lock.isHeldByCurrentThread()).isTrue();
    } finally {
      g.close();
    }
    assertThat(lock.isLocked()).isFalse();
  }

  // ---- interruption ----

  @Test
  void lockInterruptiblyThrowsWhenAlreadyInterrupted() {
    TestLock lock = newLock();
    Thread.currentThread().interrupt();
    assertThatThrownBy(lock::lockInterruptibly).isInstanceOf(InterruptedException.class);
    assertThat(Thread.interrupted()).isFalse(); // the exception consumed the status
    Thread.currentThread().interrupt();
    assertThatThrownBy(() -> lock.tryLock(Duration.ofSeconds(1)))
        .isInstanceOf(InterruptedException.class);
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void waitingInterruptiblyCanBeInterruptedAndLeavesTheLockWorking() throws Exception {
    TestLock lock = newLock();
    lock.lock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean sawInterrupt = new AtomicBoolean();
    AtomicBoolean timedSawInterrupt = new AtomicBoolean();
    Thread a =
        startInterruptibleWaiter(
            "interruptible", lock, lock::isHeldByCurrentThread, sawInterrupt, failure);
    Thread b =
        start(
            "timed",
            () -> {
              try {
                lock.tryLock(Duration.ofMinutes(5));
                lock.unlock();
              } catch (InterruptedException e) {
                timedSawInterrupt.set(!lock.isHeldByCurrentThread());
              }
            },
            failure);
    awaitBlocked(a);
    awaitBlocked(b);
    a.interrupt();
    b.interrupt();
    join(a, b);
    assertThat(failure.get()).isNull();
    assertThat(sawInterrupt).isTrue();
    assertThat(timedSawInterrupt).isTrue();
    // Waiters that gave up must not break the lock for the next one.
    AtomicBoolean later = new AtomicBoolean();
    Thread c =
        start(
            "later",
            () -> {
              lock.lock();
              later.set(true);
              lock.unlock();
            },
            failure);
    awaitBlocked(c);
    lock.unlock();
    join(c);
    assertThat(later).isTrue();
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void plainLockIgnoresInterruptsButKeepsTheStatus() throws Exception {
    TestLock lock = newLock();
    lock.lock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean interruptedAfter = new AtomicBoolean();
    Thread t =
        start(
            "uninterruptible",
            () -> {
              lock.lock();
              interruptedAfter.set(Thread.currentThread().isInterrupted());
              lock.unlock();
            },
            failure);
    awaitBlocked(t);
    t.interrupt();
    // It must keep waiting: give it a moment to (wrongly) return.
    Thread.sleep(20);
    assertThat(t.isAlive()).isTrue();
    lock.unlock();
    join(t);
    assertThat(failure.get()).isNull();
    assertThat(interruptedAfter).isTrue();
  }

  // ---- mutual exclusion under load ----

  @Test
  void manyThreadsKeepAnExactCount() throws Exception {
    TestLock lock = newLock();
    int threads = 6;
    int perThread = 20_000;
    int[] counter = {0};
    CyclicBarrier start = new CyclicBarrier(threads);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      int id = i;
      ts.add(
          start(
              "counter-" + i,
              () -> {
                start.await();
                for (int k = 0; k < perThread; k++) {
                  switch ((k + id) % 3) {
                    case 0 -> {
                      lock.lock();
                      try {
                        counter[0]++;
                      } finally {
                        lock.unlock();
                      }
                    }
                    case 1 -> {
                      AutoCloseable g = lock.acquire();
                      try {
                        counter[0]++;
                      } finally {
                        g.close();
                      }
                    }
                    default -> {
                      while (!lock.tryLock(Duration.ofMillis(1))) {
                        // retry: a timed-out attempt must not break the lock
                      }
                      try {
                        counter[0]++;
                      } finally {
                        lock.unlock();
                      }
                    }
                  }
                }
              },
              failure));
    }
    join(ts.toArray(new Thread[0]));
    assertThat(failure.get()).isNull();
    lock.lock();
    assertThat(counter[0]).isEqualTo(threads * perThread);
    lock.unlock();
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void randomTimeoutsAndInterruptsNeverBreakTheLock() throws Exception {
    TestLock lock = newLock();
    int threads = 6;
    long[] counter = {0};
    AtomicInteger successes = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      ts.add(
          start(
              "chaos-" + i,
              () -> {
                ThreadLocalRandom rnd = ThreadLocalRandom.current();
                while (!stop.get()) {
                  boolean got;
                  try {
                    got = lock.tryLock(Duration.ofNanos(rnd.nextLong(1, 200_000)));
                  } catch (InterruptedException e) {
                    assertThat(lock.isHeldByCurrentThread()).isFalse();
                    continue;
                  }
                  if (got) {
                    try {
                      counter[0]++;
                    } finally {
                      lock.unlock();
                    }
                    successes.incrementAndGet();
                  }
                }
              },
              failure));
    }
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(400);
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    while (System.nanoTime() < end) {
      ts.get(rnd.nextInt(threads)).interrupt();
      Thread.onSpinWait();
    }
    stop.set(true);
    join(ts.toArray(new Thread[0]));
    Thread.interrupted();
    assertThat(failure.get()).isNull();
    assertThat(lock.tryLock(Duration.ofSeconds(5))).isTrue();
    assertThat(counter[0]).isEqualTo(successes.get());
    lock.unlock();
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  void parkedWaitersAreWokenByUnlock() throws Exception {
    TestLock lock = newLock();
    lock.lock();
    int n = 4;
    CountDownLatch done = new CountDownLatch(n);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ts.add(
          start(
              "parked-" + i,
              () -> {
                lock.lock();
                lock.unlock();
                done.countDown();
              },
              failure));
    }
    for (Thread t : ts) {
      awaitBlocked(t);
    }
    lock.unlock();
    assertThat(done.await(20, TimeUnit.SECONDS)).isTrue();
    join(ts.toArray(new Thread[0]));
    assertThat(failure.get()).isNull();
  }

  @Test
  @EnabledForJreRange(min = JRE.JAVA_21)
  void manyVirtualThreadsKeepAnExactCount() throws Exception {
    // More runnable threads than carriers: spinning must give way to parking, or this hangs.
    TestLock lock = newLock();
    int threads = 64;
    int perThread = 1_000;
    int[] counter = {0};
    Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
    Class<?> builderType = Class.forName("java.lang.Thread$Builder");
    builder = builderType.getMethod("name", String.class, long.class).invoke(builder, "test-v-", 0L);
    Method startMethod = builderType.getMethod("start", Runnable.class);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      Runnable body =
          () -> {
            try {
              for (int k = 0; k < perThread; k++) {
                lock.lock();
                try {
                  counter[0]++;
                } finally {
                  lock.unlock();
                }
              }
            } catch (Throwable e) {
              failure.compareAndSet(null, e);
            }
          };
      ts.add((Thread) startMethod.invoke(builder, body));
    }
    join(ts.toArray(new Thread[0]));
    assertThat(failure.get()).isNull();
    lock.lock();
    try {
      assertThat(counter[0]).isEqualTo(threads * perThread);
    } finally {
      lock.unlock();
    }
  }

  // ---- Condition ----

  @Test
  void conditionAwaitAndSignal() throws Exception {
    TestLock lock = newLock();
    Condition ready = lock.newCondition();
    boolean[] flag = {false};
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch waiting = new CountDownLatch(1);
    AtomicBoolean heldAfterAwait = new AtomicBoolean();
    Thread t =
        start(
            "await",
            () -> {
              lock.lock();
              try {
                waiting.countDown();
                while (!flag[0]) {
                  ready.await();
                }
                heldAfterAwait.set(lock.isHeldByCurrentThread());
              } finally {
                lock.unlock();
              }
            },
            failure);
    assertThat(waiting.await(20, TimeUnit.SECONDS)).isTrue();
    lock.lock(); // possible only once the waiter released the lock inside await
    try {
      flag[0] = true;
      ready.signal();
    } finally {
      lock.unlock();
    }
    join(t);
    assertThat(failure.get()).isNull();
    assertThat(heldAfterAwait).isTrue();
  }

  @Test
  void conditionSignalAllWakesEveryone() throws Exception {
    TestLock lock = newLock();
    Condition c = lock.newCondition();
    int n = 3;
    int[] generation = {0};
    CountDownLatch waiting = new CountDownLatch(n);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ts.add(
          start(
              "signalAll-" + i,
              () -> {
                lock.lock();
                try {
                  waiting.countDown();
                  while (generation[0] == 0) {
                    c.awaitUninterruptibly();
                  }
                } finally {
                  lock.unlock();
                }
              },
              failure));
    }
    assertThat(waiting.await(20, TimeUnit.SECONDS)).isTrue();
    lock.lock();
    try {
      generation[0] = 1;
      c.signalAll();
    } finally {
      lock.unlock();
    }
    join(ts.toArray(new Thread[0]));
    assertThat(failure.get()).isNull();
  }

  @Test
  void conditionTimeoutsAndInterruptsReturnHoldingTheLock() throws Exception {
    TestLock lock = newLock();
    Condition c = lock.newCondition();
    lock.lock();
    try {
      assertThat(c.awaitNanos(TimeUnit.MILLISECONDS.toNanos(10))).isLessThanOrEqualTo(0L);
      assertThat(lock.isHeldByCurrentThread()).isTrue();
      assertThat(c.await(0, TimeUnit.SECONDS)).isFalse();
      assertThat(c.await(5, TimeUnit.MILLISECONDS)).isFalse();
      assertThat(c.awaitUntil(new java.util.Date(System.currentTimeMillis() + 5))).isFalse();
      Thread.currentThread().interrupt();
      assertThatThrownBy(c::await).isInstanceOf(InterruptedException.class);
      assertThat(lock.isHeldByCurrentThread()).isTrue();
      assertThatNullPointerException().isThrownBy(() -> c.await(1, null)).withMessage("unit");
    } finally {
      lock.unlock();
    }
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicBoolean heldAfterInterrupt = new AtomicBoolean();
    Thread t =
        start(
            "await-interrupted",
            () -> {
              lock.lock();
              try {
                c.await();
              } catch (InterruptedException e) {
                heldAfterInterrupt.set(lock.isHeldByCurrentThread());
              } finally {
                lock.unlock();
              }
            },
            failure);
    awaitBlocked(t);
    t.interrupt();
    join(t);
    assertThat(failure.get()).isNull();
    assertThat(heldAfterInterrupt).isTrue();
    lock.lock();
    c.signal(); // the interrupted waiter left the queue: nothing to wake, nothing breaks
    lock.unlock();
  }

  /**
   * Runs {@code body} in a test thread and fails if it has not finished within {@code limit};
   * a thread still running then is interrupted (and joined) so that it cannot outlive the test.
   */
  static void inOtherThreadWithin(Duration limit, ThrowingRunnable body) throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread t = start("bounded", body, failure);
    t.join(limit.toMillis());
    boolean hung = t.isAlive();
    if (hung) {
      t.interrupt();
    }
    join(t);
    assertThat(hung).as("still waiting after %s", limit).isFalse();
    if (failure.get() != null) {
      throw new AssertionError("other thread failed", failure.get());
    }
  }

  // Issue 18, defect 2: deadline.getTime() - currentTimeMillis() overflowed for dates before
  // about now + Long.MIN_VALUE ms, and the wait was then capped near 146 years.
  @Test
  void conditionAwaitUntilADeadlineInThePastReturnsFalseAtOnce() throws Exception {
    TestLock lock = newLock();
    Condition c = lock.newCondition();
    long now = System.currentTimeMillis();
    long[] past = {Long.MIN_VALUE, Long.MIN_VALUE + 1, Long.MIN_VALUE + now / 2, -1L, 0L, now - 1};
    for (long millis : past) {
      inOtherThreadWithin(
          Duration.ofSeconds(5),
          () -> {
            lock.lock();
            try {
              assertThat(c.awaitUntil(new java.util.Date(millis))).as("date %d", millis).isFalse();
              assertThat(lock.isHeldByCurrentThread()).isTrue();
            } finally {
              lock.unlock();
            }
          });
    }
  }

  // Time-arithmetic sweep: every Duration edge of tryLock(Duration), free and held.
  @Test
  void tryLockDurationEdgesNeverOverflowOrWait() throws Exception {
    TestLock lock = newLock();
    Duration[] nonPositive = {Duration.ZERO, Duration.ofNanos(-1), Duration.ofSeconds(-1),
        Duration.ofSeconds(Long.MIN_VALUE)};
    Duration[] huge = {Duration.ofNanos(Long.MAX_VALUE), Duration.ofSeconds(Long.MAX_VALUE),
        Duration.ofSeconds(Long.MAX_VALUE, 999_999_999)};
    for (Duration d : nonPositive) {
      assertThat(lock.tryLock(d)).as("free, %s", d).isTrue();
      lock.unlock();
    }
    for (Duration d : huge) {
      assertThat(lock.tryLock(d)).as("free, %s", d).isTrue();
      lock.unlock();
    }
    lock.lock();
    try {
      inOtherThreadWithin(
          Duration.ofSeconds(10),
          () -> {
            for (Duration d : nonPositive) {
              long start = System.nanoTime();
              assertThat(lock.tryLock(d)).as("held, %s", d).isFalse();
              assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(1));
            }
          });
    } finally {
      lock.unlock();
    }
  }

  // Memory sweep for the condition: cancelled waits leave nothing queued.
  @Test
  void cancelledConditionWaitsLeaveTheQueueEmpty() throws Exception {
    TestLock lock = newLock();
    Condition c = lock.newCondition();
    lock.lock();
    try {
      for (int i = 0; i < 20; i++) {
        assertThat(c.await(1, TimeUnit.MILLISECONDS)).isFalse();
        assertThat(c.awaitNanos(1_000L)).isLessThanOrEqualTo(0L);
        assertThat(c.awaitUntil(new java.util.Date(System.currentTimeMillis() + 1))).isFalse();
      }
      assertThat(((SpinLockCondition) c).queuedCount()).isZero();
    } finally {
      lock.unlock();
    }
  }

  @Test
  void conditionMethodsRequireTheLock() {
    TestLock lock = newLock();
    Condition c = lock.newCondition();
    assertThatThrownBy(c::await)
        .isInstanceOf(IllegalMonitorStateException.class)
        .hasMessageContaining("does not hold the " + lock.name());
    assertThatThrownBy(c::signal).isInstanceOf(IllegalMonitorStateException.class);
    assertThatThrownBy(c::signalAll).isInstanceOf(IllegalMonitorStateException.class);
    assertThatThrownBy(c::awaitUninterruptibly).isInstanceOf(IllegalMonitorStateException.class);
    assertThatThrownBy(() -> c.awaitNanos(1)).isInstanceOf(IllegalMonitorStateException.class);
  }
}
