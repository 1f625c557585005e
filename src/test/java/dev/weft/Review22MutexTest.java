package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static dev.weft.testing.Waits.awaitParkedOn;
import static dev.weft.testing.Waits.isParked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.MutexTest.Worker;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 22 adversarial review of {@link Mutex}, {@link RwLock} and {@link Condvar}, from the
 * code and docs only. Tests named {@code fixed_*} failed on the code as reviewed (59cda82) and
 * pass since; {@code held_*} are attacks that did not break anything, kept as regression tests.
 */
@SuppressWarnings("try") // guards held only for their scope
@Timeout(30)
class Review22MutexTest {

  // ================================================================== defects

  /**
   * Mutex class Javadoc, "Automatic signalling": "a thread waiting in {@code lockWhen} or
   * {@code awaitThen} is woken every time another thread releases the lock (or releases it to
   * wait on a {@link Condvar}) ... no notify call is needed and no wake-up can be lost".
   * Condvar's docs put no restriction on what its {@code blocked} predicate may do (the
   * "no side effects" rule is stated for {@code lockWhen}'s predicates only), and the Rust
   * {@code Condvar::wait_while} it answers hands its condition {@code &mut T}, so a condition
   * that updates the value (drains expired entries, counts a retry) is idiomatic there.
   *
   * <p>Schedule (deterministic, no sleeps): C holds the guard and calls {@code
   * cv.awaitWhile(g, blocked)}; it checks twice (before and after its spin) and sleeps in the
   * condition. L calls {@code m.lockWhen(a -> a[0] == 1)} and parks in the change queue. Main
   * calls {@code cv.notifyOne()} from outside the mutex. C re-acquires, and its third check sets
   * {@code a[0] = 1} and still blocks, so C goes back to sleep: {@code Condition.await} releases
   * the lock without passing through {@code Mutex.release()}, and {@code
   * signalChangedBeforeWait()} runs only once, before the first sleep. L's predicate now holds
   * and the lock is free, but nothing ever wakes L (it is woken only when main's cleanup
   * releases the lock).
   *
   * <p>Observed: L still parked 2 s later, 5 of 5 runs on JDK 17 and 5 of 5 on JDK 25. Compare
   * Guava's {@code Monitor}, where every release of the monitor re-evaluates the guards.
   * Suggested fix: call {@code m.signalChangedBeforeWait()} before every {@code c.await*} in
   * the Condvar loops (one null check while nobody waits), or document that a Condvar predicate
   * must not change the value.
   */
  @Test
  void fixed_condvarPredicateThatUpdatesTheValueAfterASignalLeavesALockWhenWaiterAsleep()
      throws Exception {
    Mutex<int[]> m = new Mutex<>(new int[] {0});
    Condvar cv = new Condvar();
    AtomicInteger checks = new AtomicInteger();
    AtomicBoolean stop = new AtomicBoolean();
    Worker c =
        new Worker(
            "condvar-waiter",
            () -> {
              try (var g = m.lock()) {
                cv.awaitWhile(
                    g,
                    a -> {
                      if (checks.incrementAndGet() == 3) {
                        a[0] = 1; // the first check after a wake-up updates the value
                      }
                      return !stop.get();
                    });
              }
            });
    awaitOnCondition(c.thread);
    assertThat(checks.get()).as("checks before the first sleep").isEqualTo(2);
    Worker l =
        new Worker(
            "lockWhen-waiter",
            () -> {
              try (var g = m.lockWhen(a -> a[0] == 1)) {
                assertThat(g.get()[0]).isEqualTo(1);
              }
            });
    awaitParkedOn(l.thread, m);
    cv.notifyOne(); // wakes C; its third check sets a[0] = 1 and it sleeps again
    awaitUntil(() -> checks.get() >= 3 && onCondition(c.thread));
    l.thread.join(2_000);
    boolean strandedWithTheLockFree = l.thread.isAlive() && !m.isLocked();
    // Cleanup: a release through the mutex wakes L, then C is told to stop.
    m.with(a -> a);
    l.join();
    stop.set(true);
    cv.notifyAllWaiters();
    c.join();
    assertThat(strandedWithTheLockFree)
        .as("lockWhen waiter still parked with its predicate true and the lock free")
        .isFalse();
  }

  /**
   * CONVENTIONS.md: misuse throws "the documented exception with a clear message" ("Messages
   * say what happened and what to do"); Mutex.toString's Javadoc: "for example {@code
   * Mutex[Locked by thread worker-1]}". Both name the owner with {@link Thread#getName()},
   * which is the empty string for every virtual thread that was not given a name (the default
   * for {@code Thread.ofVirtual()}, {@code Executors.newVirtualThreadPerTaskExecutor()} and
   * structured concurrency), so the message reads "Mutex guard belongs to thread , not to
   * main" and the description "Mutex[Locked by thread ]": the holder cannot be identified. The
   * same for RwLock's guards.
   *
   * <p>Schedule: an unnamed virtual thread locks a Mutex and an RwLock and hands the guards to
   * the test thread, which uses them (IllegalMonitorStateException, as documented) and reads
   * the descriptions. Observed: JDK 25, 5 of 5 runs (JDK 17 has no virtual threads: skipped).
   * Suggested fix: describe threads by {@code Thread.toString()} or by name plus {@code
   * threadId()} when the name is empty.
   */
  @Test
  void fixed_misuseMessagesAndToStringNameNoThreadForAnUnnamedVirtualOwner() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    Mutex<Integer> m = new Mutex<>(1);
    RwLock<Integer> rw = new RwLock<>(2);
    AtomicReference<Mutex.@Nullable Guard<Integer>> mg = new AtomicReference<>();
    AtomicReference<RwLock.@Nullable ReadGuard<Integer>> rg = new AtomicReference<>();
    CountDownLatch handed = new CountDownLatch(1);
    CountDownLatch used = new CountDownLatch(1);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    Thread owner =
        startUnnamedVirtual(
            () -> {
              try (var g = m.lock();
                  var r = rw.read()) {
                mg.set(g);
                rg.set(r);
                handed.countDown();
                used.await();
              } catch (Throwable t) {
                failure.set(t);
              }
            });
    String guardMessage;
    String readMessage;
    String described;
    try {
      assertThat(handed.await(10, TimeUnit.SECONDS)).isTrue();
      Mutex.Guard<Integer> g = mg.get();
      RwLock.ReadGuard<Integer> r = rg.get();
      assertThat(g).isNotNull();
      assertThat(r).isNotNull();
      guardMessage = messageOf(g::get);
      readMessage = messageOf(r::get);
      described = m.toString();
    } finally {
      used.countDown();
      owner.join(10_000);
    }
    assertThat(owner.isAlive()).isFalse();
    assertThat(failure.get()).isNull();
    assertThat(guardMessage).as("Mutex guard misuse message").doesNotContain("thread , not");
    assertThat(readMessage).as("RwLock guard misuse message").doesNotContain("thread , not");
    assertThat(described).as("Mutex.toString while held").doesNotEndWith("by thread ]");
  }

  // ================================================================== held

  /**
   * Many waiters, one signal each: five threads sleep in {@code awaitWhile(g, p -> p == 0)}
   * (the first of them, first in the condition queue, throws from its predicate when a signal
   * wakes it), then four permits are each published with {@code update} and a {@code
   * notifyOne()} from outside the mutex. Every permit must be taken by one of the four
   * well-behaved waiters: the thrower passes its wake-up on, and none is lost.
   */
  @Test
  void held_notifyOnePerPermitReachesEveryWaiterEvenPastOneWhosePredicateThrows()
      throws Exception {
    Mutex<Integer> permits = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicInteger throwerChecks = new AtomicInteger();
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    Worker thrower =
        new Worker(
            "thrower",
            () -> {
              try (var g = permits.lock()) {
                try {
                  cv.awaitWhile(
                      g,
                      p -> {
                        if (throwerChecks.incrementAndGet() > 2) {
                          throw new IllegalStateException("predicate failed after a wake-up");
                        }
                        return p == 0;
                      });
                } catch (IllegalStateException e) {
                  thrown.set(e);
                  assertThat(g.isOpen()).isTrue();
                  assertThat(permits.isHeldByCurrentThread()).isTrue();
                }
              }
            });
    awaitOnCondition(thrower.thread);
    List<Worker> takers = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Worker w =
          new Worker(
              "taker-" + i,
              () -> {
                try (var g = permits.lock()) {
                  cv.awaitWhile(g, p -> p == 0);
                  g.set(g.get() - 1);
                }
              });
      awaitOnCondition(w.thread);
      takers.add(w);
    }
    assertThat(cv.toString()).isEqualTo("Condvar[bound, 5 waiting]");
    for (int i = 0; i < 4; i++) {
      permits.update(p -> p + 1);
      cv.notifyOne();
    }
    thrower.join();
    for (Worker w : takers) {
      w.join();
    }
    assertThat(thrown.get()).isNotNull();
    assertThat(MutexTest.value(permits)).isZero();
    assertThat(cv.hasWaiters()).isFalse();
  }

  /**
   * Guava Monitor style: a {@code lockWhen} predicate that throws after a wake-up, and an
   * {@code update} whose function throws, next to a second waiter. The thrower gets its own
   * exception without the lock; the failed update changes nothing and wakes the other waiter
   * only spuriously; the next real change still reaches it.
   */
  @Test
  void held_throwingPredicateAndThrowingUpdateDoNotStrandASiblingWaiter() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    Worker bad =
        new Worker(
            "throwing-predicate",
            () -> {
              try {
                m.lockWhen(
                    v -> {
                      if (v == 1) {
                        throw new IllegalArgumentException("bad state " + v);
                      }
                      return v == 9;
                    });
              } catch (IllegalArgumentException e) {
                thrown.set(e);
                assertThat(m.isHeldByCurrentThread()).isFalse();
              }
            });
    AtomicInteger got = new AtomicInteger(-1);
    Worker good = new Worker("sibling", () -> got.set(m.awaitThen(v -> v == 2, v -> v)));
    awaitParkedOn(bad.thread, m);
    awaitParkedOn(good.thread, m);
    m.update(v -> 1);
    bad.join();
    assertThat(thrown.get()).hasMessage("bad state 1");
    assertThatThrownBy(
            () ->
                m.update(
                    v -> {
                      throw new IllegalStateException("update failed");
                    }))
        .hasMessage("update failed");
    assertThat(m.isLocked()).isFalse();
    awaitParkedOn(good.thread, m);
    m.update(v -> v + 1);
    good.join();
    assertThat(got.get()).isEqualTo(2);
  }

  /**
   * Interrupts in every phase of {@code lockWhenUninterruptibly}: the waiter interrupts itself
   * in each protocol window it passes (after releasing for the spin, after releasing to park,
   * after being woken) and is interrupted again by main while parked. It must keep waiting, never
   * return early with the predicate false, and return with the status set.
   */
  @Test
  void held_uninterruptibleLockWhenInterruptedInEveryWindowKeepsWaitingAndRestoresTheStatus()
      throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Thread> waiterThread = new AtomicReference<>();
    List<String> seen = new CopyOnWriteArrayList<>();
    AtomicInteger observed = new AtomicInteger(-1);
    AtomicBoolean statusSet = new AtomicBoolean();
    try (AutoCloseable hook =
        ProtocolWindows.install(
            w -> {
              if (Thread.currentThread() == waiterThread.get()) {
                seen.add(w);
                Thread.currentThread().interrupt();
              }
            })) {
      Worker waiter =
          new Worker(
              "uninterruptible",
              () -> {
                waiterThread.set(Thread.currentThread());
                try (var g = m.lockWhenUninterruptibly(v -> v == 3)) {
                  observed.set(g.get());
                  statusSet.set(Thread.interrupted());
                }
              });
      for (int step = 1; step <= 3; step++) {
        awaitParkedOn(waiter.thread, m);
        waiter.thread.interrupt();
        awaitParkedOn(waiter.thread, m);
        int next = step;
        m.update(v -> next);
      }
      waiter.join();
    }
    assertThat(observed.get()).isEqualTo(3);
    assertThat(statusSet.get()).isTrue();
    assertThat(seen).contains("mutex.released-for-wait", "mutex.woken");
  }

  /**
   * Condvar's spin phase: an interrupt that arrives while the waiter has released the mutex to
   * spin (window {@code mutex.released-for-spin}) together with a change that unblocks it. As
   * documented ("throw now, holding the mutex again, even if the predicate holds by now", as
   * {@code Condition.await} throws for an interrupt that came before the signal), the wait
   * throws with the guard open and the mutex held, and the change is visible.
   */
  @Test
  void held_condvarInterruptInTheSpinWindowThrowsHoldingTheMutex() throws Exception {
    Assumptions.assumeTrue(Mutex.WAIT_SPINS, "the spin phase needs more than one CPU");
    Mutex<Boolean> m = new Mutex<>(false);
    Condvar cv = new Condvar();
    AtomicReference<@Nullable Thread> waiterThread = new AtomicReference<>();
    AtomicBoolean changer = new AtomicBoolean();
    AtomicReference<String> outcome = new AtomicReference<>("none");
    try (AutoCloseable hook =
        ProtocolWindows.install(
            w -> {
              if (w.equals("mutex.released-for-spin")
                  && Thread.currentThread() == waiterThread.get()
                  && changer.compareAndSet(false, true)) {
                Worker other = new Worker("changer", () -> m.update(v -> true));
                try {
                  other.join();
                } catch (InterruptedException e) {
                  throw new AssertionError(e);
                }
                Thread.currentThread().interrupt(); // after the join, which would throw
              }
            })) {
      Worker waiter =
          new Worker(
              "condvar-waiter",
              () -> {
                waiterThread.set(Thread.currentThread());
                try (var g = m.lock()) {
                  try {
                    cv.awaitWhile(g, ready -> !ready);
                    outcome.set("returned");
                  } catch (InterruptedException e) {
                    outcome.set(
                        "interrupted open=" + g.isOpen() + " held=" + m.isHeldByCurrentThread()
                            + " value=" + g.get());
                  }
                }
              });
      waiter.join();
    }
    assertThat(changer.get()).as("the spin window was reached").isTrue();
    assertThat(outcome.get()).isEqualTo("interrupted open=true held=true value=true");
    assertThat(m.isLocked()).isFalse();
  }

  /**
   * RwLock against ReentrantReadWriteLock's non-fair rules with a writer queued behind a reader:
   * a new reader's {@code read()} queues behind the writer, {@code tryRead(ZERO)} and {@code
   * tryRead(1 ms)} refuse, {@code tryRead()} barges; the reader's nested forms never wait. A
   * guard handed to another thread cannot be closed there (IllegalMonitorStateException) and
   * the read hold stays in place until its owner closes it.
   */
  @Test
  void held_rwLockQueuedWriterOrdersNewReadersButNotNestedOnesOrForeignCloses()
      throws Exception {
    RwLock<String> rw = new RwLock<>("v");
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch nestedDone = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicReference<RwLock.@Nullable ReadGuard<String>> handed = new AtomicReference<>();
    Worker reader =
        new Worker(
            "reader",
            () -> {
              try (var r = rw.read()) {
                handed.set(r);
                held.countDown();
                nestedDone.await();
                // A writer is queued now: nested reads never wait.
                try (var r2 = rw.read();
                    var r3 = rw.tryRead(Duration.ZERO);
                    var r4 = rw.tryRead(Duration.ofMillis(1))) {
                  assertThat(r3).isNotNull();
                  assertThat(r4).isNotNull();
                  assertThat(readValue(rw)).isEqualTo("v");
                  assertThat(r2.get()).isEqualTo("v");
                }
                release.await();
              }
            });
    assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
    Worker writer = new Worker("writer", () -> rw.update(v -> v + "w"));
    awaitBlocked(writer.thread);
    try {
      assertThat(rw.tryRead(Duration.ZERO)).isNull();
      assertThat(rw.tryRead(Duration.ofMillis(1))).isNull();
      try (var barged = rw.tryRead()) {
        assertThat(barged).isNotNull();
      }
      RwLock.ReadGuard<String> foreign = handed.get();
      assertThat(foreign).isNotNull();
      assertThatThrownBy(foreign::close).isInstanceOf(IllegalMonitorStateException.class);
      assertThatThrownBy(foreign::get).isInstanceOf(IllegalMonitorStateException.class);
      assertThat(rw.readLockCount()).isEqualTo(1);
      Worker late = new Worker("late-reader", () -> rw.withRead(v -> v));
      awaitBlocked(late.thread);
      nestedDone.countDown();
      assertThat(writer.thread.isAlive()).isTrue();
      release.countDown();
      reader.join();
      writer.join();
      late.join();
    } finally {
      nestedDone.countDown();
      release.countDown();
    }
    assertThat(readValue(rw)).isEqualTo("vw");
    assertThat(rw.toString()).isEqualTo("RwLock[readers=0, writeLocked=false]");
  }

  /**
   * Timed {@code lockWhen} edges against a lock held by another thread: zero, negative,
   * {@code Long.MIN_VALUE} seconds and 1 ns return null promptly without the lock (never the
   * holder's hold time); the interrupted caller throws even for a zero timeout; a huge timeout
   * waits and succeeds once the holder releases with the state changed. Checked against a
   * predicate that counts its calls: the 0 / negative forms never evaluate it.
   */
  @Test
  void held_timedLockWhenEdgesAgainstAHeldLock() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicInteger calls = new AtomicInteger();
    CountDownLatch locked = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Worker holder =
        new Worker(
            "holder",
            () -> {
              try (var g = m.lock()) {
                locked.countDown();
                release.await();
                g.set(7);
              }
            });
    assertThat(locked.await(10, TimeUnit.SECONDS)).isTrue();
    try {
      Duration[] tiny = {
        Duration.ZERO, Duration.ofNanos(-1), Duration.ofSeconds(Long.MIN_VALUE), Duration.ofNanos(1)
      };
      for (Duration d : tiny) {
        long start = System.nanoTime();
        try (var g =
            m.lockWhen(
                v -> {
                  calls.incrementAndGet();
                  return true;
                },
                d)) {
          assertThat(g).as("%s", d).isNull();
        }
        assertThat(System.nanoTime() - start).as("%s", d).isLessThan(TimeUnit.SECONDS.toNanos(2));
        assertThat(m.isHeldByCurrentThread()).isFalse();
      }
      assertThat(calls.get()).isZero();
      Thread.currentThread().interrupt();
      assertThatThrownBy(() -> m.lockWhen(v -> true, Duration.ZERO))
          .isInstanceOf(InterruptedException.class);
      assertThat(Thread.interrupted()).isFalse();
      AtomicReference<@Nullable Integer> got = new AtomicReference<>();
      Worker huge =
          new Worker(
              "huge",
              () -> {
                try (var g = m.lockWhen(v -> v == 7, Duration.ofSeconds(Long.MAX_VALUE))) {
                  got.set(g == null ? null : g.get());
                }
              });
      awaitBlocked(huge.thread);
      release.countDown();
      huge.join();
      assertThat(got.get()).isEqualTo(7);
    } finally {
      release.countDown();
      holder.join();
    }
  }

  /**
   * Virtual threads (JDK 21+): twenty virtual waiters in {@code awaitThen} on different
   * thresholds of one counter, with a virtual producer that only calls {@code update}: every
   * waiter runs once its threshold is reached, with no notify call.
   */
  @Test
  void held_virtualAwaitThenWaitersAllRunOnUpdatesAlone() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    Mutex<Integer> m = new Mutex<>(0);
    AtomicInteger ran = new AtomicInteger();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 1; i <= 20; i++) {
      int threshold = i;
      threads.add(
          startUnnamedVirtual(
              () -> {
                try {
                  int seen = m.awaitThen(v -> v >= threshold, v -> v);
                  assertThat(seen).isGreaterThanOrEqualTo(threshold);
                  ran.incrementAndGet();
                } catch (Throwable t) {
                  failure.set(t);
                }
              }));
    }
    Thread producer =
        startUnnamedVirtual(
            () -> {
              for (int i = 0; i < 20; i++) {
                m.update(v -> v + 1);
              }
            });
    producer.join(20_000);
    for (Thread t : threads) {
      t.join(20_000);
      assertThat(t.isAlive()).isFalse();
    }
    assertThat(failure.get()).isNull();
    assertThat(ran.get()).isEqualTo(20);
  }

  /**
   * A stale guard closed again while the same thread holds a newer guard of the same lock (the
   * classic double-unlock that, with ReentrantLock, would release the newer hold): refused with
   * IllegalStateException before anything is released, for Mutex, RwLock read (with a second
   * read hold open) and RwLock write guards; the newer hold stays in place and other threads
   * stay out.
   */
  @Test
  void held_staleGuardClosedAgainNeverReleasesTheNewerHold() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Mutex.Guard<Integer> g1 = m.lock();
    g1.close();
    try (var g2 = m.lock()) {
      assertThatThrownBy(g1::close).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> g1.set(5)).isInstanceOf(IllegalStateException.class);
      assertThat(m.isHeldByCurrentThread()).isTrue();
      Worker other = new Worker("try", () -> assertThat(m.tryLock()).isNull());
      other.join();
      g2.set(1);
    }
    RwLock<Integer> rw = new RwLock<>(0);
    RwLock.ReadGuard<Integer> r1 = rw.read();
    try (var r2 = rw.read()) {
      r1.close();
      assertThatThrownBy(r1::close).isInstanceOf(IllegalStateException.class);
      assertThat(rw.readLockCount()).isEqualTo(1);
      Worker writer = new Worker("try-write", () -> assertThat(rw.tryWrite()).isNull());
      writer.join();
      assertThat(r2.get()).isZero();
    }
    RwLock.WriteGuard<Integer> w1 = rw.write();
    w1.close();
    try (var w2 = rw.write()) {
      assertThatThrownBy(w1::close).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> w1.set(3)).isInstanceOf(IllegalStateException.class);
      assertThat(rw.isWriteLocked()).isTrue();
      w2.set(2);
    }
    assertThat(rw.toString()).isEqualTo("RwLock[readers=0, writeLocked=false]");
    assertThat(MutexTest.value(m)).isEqualTo(1);
  }

  // ================================================================== helpers

  private static <T extends @Nullable Object> T readValue(RwLock<T> rw) {
    return rw.withRead(v -> v);
  }

  private static boolean onCondition(Thread t) {
    return isParked(t)
        && LockSupport.getBlocker(t) instanceof AbstractQueuedSynchronizer.ConditionObject;
  }

  /** Waits (bounded) until {@code t} sleeps in a Condvar's condition. */
  private static void awaitOnCondition(Thread t) {
    awaitUntil(() -> onCondition(t));
  }

  /** Bounded poll of thread states (not a wait for a result). */
  private static void awaitUntil(BooleanSupplier done) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!done.getAsBoolean()) {
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError("state not reached within 20 s");
      }
      LockSupport.parkNanos(50_000L);
    }
  }

  private static String messageOf(Runnable misuse) {
    try {
      misuse.run();
    } catch (IllegalMonitorStateException e) {
      return String.valueOf(e.getMessage());
    }
    throw new AssertionError("no IllegalMonitorStateException");
  }

  /** An unnamed virtual thread, as an executor or {@code Thread.ofVirtual().start} makes. */
  private static Thread startUnnamedVirtual(Runnable r) throws ReflectiveOperationException {
    Class<?> builderType = Class.forName("java.lang.Thread$Builder");
    Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
    Method start = builderType.getMethod("start", Runnable.class);
    return (Thread) start.invoke(builder, r);
  }
}
