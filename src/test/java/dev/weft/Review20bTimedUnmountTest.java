package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.Review20TimedUnmountTest.LoneCarrier;
import dev.weft.Review20TimedUnmountTest.Witness;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Review 20b of d1d73ea + 37a574b: on a virtual thread every failing timed wait parks once (1 ns)
 * before it reports the timeout, and an interrupt during that park is reported as one. Attacks on
 * the paths that release something around that park (Condvar releases and re-takes the mutex,
 * Mutex.lockWhen releases the lock, OnceCell cancels its node, SpinLockCondition stays queued)
 * and on platform threads (must be unaffected).
 *
 * <p>Harness: {@link Review20TimedUnmountTest}'s LoneCarrier (a spinning hog on every carrier but
 * one) and Witness (a virtual thread on the free carrier's local queue, which runs only while
 * the thread under test V is unmounted and, since it never parks, keeps V off the carrier until
 * its action is done). So "the witness acted" means "it acted during V's unmount park".
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@SuppressWarnings({"try", "LockNotBeforeTry", "WaitNotInLoop"})
class Review20bTimedUnmountTest {

  private static final int ROUNDS = 8;

  static Thread startVirtual(String name, Runnable r) throws ReflectiveOperationException {
    return Review20TimedUnmountTest.startVirtual(name, r);
  }

  static void join(@Nullable Thread t) throws InterruptedException {
    Review20TimedUnmountTest.join(t);
  }

  static void rethrow(AtomicReference<Throwable> failure) throws Exception {
    Review20TimedUnmountTest.rethrow(failure);
  }

  static boolean spinUntil(java.util.function.BooleanSupplier c) {
    return Review20TimedUnmountTest.spinUntil(c);
  }

  /** One V run on the lone carrier with one witness; returns V's outcome string. */
  interface VBody {
    String run(Witness w) throws Exception;
  }

  static String onLoneCarrier(VBody body) throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    String[] out = new String[1];
    Witness[] w = new Witness[1];
    try (LoneCarrier lc = new LoneCarrier()) {
      w[0] = lc.witness("r20b-w");
      Thread v = lc.run("r20b-v", () -> out[0] = body.run(w[0]), failure);
      join(v);
    }
    join(w[0].thread);
    rethrow(failure);
    return out[0];
  }

  // ---- 1. Condvar: a change made while the mutex is released for the unmount park --------

  /**
   * V (virtual) holds the mutex (value 0) and calls awaitWhile(g, v -> v == 0, 1 ns). A virtual
   * thread has no spin window, so the deadline passes at the first check, with the mutex never
   * released: timedOutUnmounting releases it, parks, re-takes it, and returns false without a
   * look at the predicate. The witness runs in that park: takes the mutex, sets 1, releases, and
   * (with {@code notify}) calls notifyOne, which finds V counted, takes the mutex and signals an
   * empty condition queue.
   *
   * @return "false 1" when V returned false holding the mutex with the predicate no longer
   *     blocking
   */
  static String condvarChangeDuringPark(boolean notify) throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    return onLoneCarrier(
        w -> {
          try (Mutex.Guard<Integer> g = m.lock()) {
            w.arm(
                () -> {
                  try (Mutex.Guard<Integer> wg = m.lock()) {
                    wg.set(1);
                  }
                  if (notify) {
                    cv.notifyOne();
                  }
                });
            boolean r = cv.awaitWhile(g, v -> v == 0, Duration.ofNanos(1));
            if (!w.ran()) {
              return "witness did not run";
            }
            if (!m.isHeldByCurrentThread()) {
              return "mutex not held on return";
            }
            return r + " " + g.get();
          }
        });
  }

  /** The held part: V returns holding the mutex, guard usable, the witness ran in the park. */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void held_condvarReturnsHoldingTheMutexAfterAChangeInTheUnmountPark(boolean notify)
      throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    for (int i = 0; i < ROUNDS; i++) {
      assertThat(condvarChangeDuringPark(notify)).isIn("false 1", "true 1");
    }
  }

  /**
   * Fixed (was a defect of 37a574b, 8 of 8 rounds each way in 3 of 3 runs): Condvar's
   * timedOutUnmounting now checks the predicate again after re-taking the mutex. The original
   * report: Contract (Condvar.awaitWhile(g, blocked, timeout), @return): "true if blocked is
   * false on return, false if the timeout elapsed while it still held". Rust's
   * wait_timeout_while and the JDK's awaitNanos loop both report a timeout only right after a
   * check under the lock that still blocked, so false meant "holding the mutex, still blocked".
   * On a virtual thread, timedOutUnmounting now gives the mutex up after that check (and after
   * the check that follows an awaitNanos) and returns false after re-taking it without a new
   * look: a holder that changed the value in the ~50 us park (schedule: see
   * condvarChangeDuringPark) leaves V returning false with blocked false on return. With a
   * notifyOne from outside (notify=true) the class-level promise "a change made before a notify
   * call is seen by every wait that the call does not wake" fails too: the notify took the
   * mutex, signalled nobody (V was counted but not in the condition queue), and V reports a
   * timeout. A platform thread never releases between its last check and return false.
   * Observed: 8 of 8 rounds each way, in 3 of 3 runs (JDK 25).
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void fixed_condvarSeesAChangeMadeDuringTheUnmountPark(boolean notify)
      throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    int broke = 0;
    for (int i = 0; i < ROUNDS; i++) {
      if (condvarChangeDuringPark(notify).equals("false 1")) {
        broke++;
      }
    }
    assertThat(broke).as("rounds that returned false with the predicate satisfied").isZero();
  }

  /** The same with the change made without the mutex (a flag), as the Dekker notes allow. */
  @Test
  void fixed_condvarSeesAFlagNotifiedFromOutsideDuringTheUnmountPark() throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    int broke = 0;
    for (int i = 0; i < ROUNDS; i++) {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      AtomicBoolean flag = new AtomicBoolean();
      String out =
          onLoneCarrier(
              w -> {
                try (Mutex.Guard<Integer> g = m.lock()) {
                  w.arm(
                      () -> {
                        flag.set(true);
                        cv.notifyOne();
                      });
                  boolean r = cv.awaitWhile(g, v -> !flag.get(), Duration.ofNanos(1));
                  return (w.ran() ? "" : "witness did not run ") + r + " " + flag.get();
                }
              });
      assertThat(out).isIn("false true", "true true");
      if (out.equals("false true")) {
        broke++;
      }
    }
    assertThat(broke).as("rounds that returned false after a notified change").isZero();
  }

  /**
   * A notifyOne made during V's unmount park is not spent on V (it is not in the condition
   * queue): a platform waiter P asleep in an untimed awaitWhile gets it and returns.
   */
  @Test
  void held_condvarNotifyDuringTheUnmountParkReachesTheSleepingWaiter() throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    for (int i = 0; i < ROUNDS; i++) {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      AtomicReference<Throwable> pFailure = new AtomicReference<>();
      AtomicInteger pSaw = new AtomicInteger(-1);
      Thread p =
          Review20TimedUnmountTest.startPlatform(
              "r20b-p",
              () -> {
                try (Mutex.Guard<Integer> g = m.lock()) {
                  cv.awaitWhile(g, v -> v == 0);
                  pSaw.set(g.get());
                } catch (Throwable t) {
                  pFailure.set(t);
                }
              });
      assertThat(spinUntilParked(p, cv, m)).isTrue();
      String out =
          onLoneCarrier(
              w -> {
                try (Mutex.Guard<Integer> g = m.lock()) {
                  w.arm(
                      () -> {
                        try (Mutex.Guard<Integer> wg = m.lock()) {
                          wg.set(1);
                        }
                        cv.notifyOne();
                      });
                  boolean r = cv.awaitWhile(g, v -> v == 0, Duration.ofNanos(1));
                  return w.ran() + " " + r + " " + m.isHeldByCurrentThread();
                }
              });
      assertThat(out).startsWith("true ").endsWith(" true");
      join(p);
      rethrow(pFailure);
      assertThat(pSaw.get()).isEqualTo(1);
      assertThat(cv.hasWaiters()).isFalse();
    }
  }

  static void restore(LockOrder.Mode before) {
    if (before == LockOrder.Mode.OFF) {
      LockOrder.disable();
    } else {
      LockOrder.enable(before);
    }
  }

  static boolean spinUntilParked(Thread p, Condvar cv, Mutex<?> m) {
    return spinUntil(
        () -> cv.hasWaiters() && !m.isLocked() && p.getState() == Thread.State.WAITING);
  }

  /**
   * An interrupt during the unmount park: InterruptedException, thrown holding the mutex, guard
   * usable, waiter count back to 0, lock-order bookkeeping balanced (LOG), a ConditionWait JFR
   * event "interrupted"; the Condvar works afterwards (a platform waiter is notified).
   */
  @Test
  void held_condvarInterruptDuringTheUnmountParkThrowsHoldingTheMutex() throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    LockOrder.Mode before = LockOrder.mode();
    LockOrder.enable(LockOrder.Mode.LOG);
    Path file = Files.createTempFile("r20b", ".jfr");
    try (Recording rec = new Recording()) {
      rec.enable("dev.weft.ConditionWait").withThreshold(Duration.ZERO).withStackTrace();
      rec.start();
      for (int i = 0; i < ROUNDS; i++) {
        Mutex<Integer> m = new Mutex<>(0);
        Condvar cv = new Condvar();
        String out =
            onLoneCarrier(
                w -> {
                  Thread me = Thread.currentThread();
                  String r;
                  try (Mutex.Guard<Integer> g = m.lock()) {
                    w.arm(me::interrupt);
                    try {
                      r = "returned " + cv.awaitWhile(g, v -> v == 0, Duration.ofNanos(1));
                    } catch (InterruptedException e) {
                      r = "IE";
                    }
                    r += " held=" + m.isHeldByCurrentThread() + " status=" + me.isInterrupted();
                    g.set(7); // the guard is still usable
                    r += " lo=" + LockOrder.heldCountForTests();
                  }
                  r += " after=" + LockOrder.heldCountForTests() + " locked=" + m.isLocked();
                  return (w.ran() ? "" : "witness did not run ") + r;
                });
        assertThat(out).isEqualTo("IE held=true status=false lo=1 after=0 locked=false");
        assertThat(cv.hasWaiters()).isFalse();
        // Still usable: a platform waiter is woken by a later change + notify.
        Thread p =
            Review20TimedUnmountTest.startPlatform(
                "r20b-p2",
                () -> {
                  try (Mutex.Guard<Integer> g = m.lock()) {
                    cv.awaitWhileUninterruptibly(g, v -> v == 7);
                  }
                });
        assertThat(spinUntilParked(p, cv, m)).isTrue();
        try (Mutex.Guard<Integer> g = m.lock()) {
          g.set(8);
        }
        cv.notifyOne();
        join(p);
      }
      rec.stop();
      rec.dump(file);
      int interrupted = 0;
      for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
        if ("Condvar.awaitWhile".equals(e.getString("method"))
            && "interrupted".equals(e.getString("outcome"))) {
          interrupted++;
        }
      }
      assertThat(interrupted).isEqualTo(ROUNDS);
    } finally {
      Files.deleteIfExists(file);
      restore(before);
    }
  }

  /**
   * A lockWhen waiter L (platform) on the same mutex: V's release/re-take in the Condvar unmount
   * park announces nothing, but the witness's change does, and L returns. Also V changed the
   * value just before its wait (signalChangedBeforeWait must still wake L).
   */
  @Test
  void held_condvarUnmountDoesNotStrandLockWhenWaiters() throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    for (int i = 0; i < ROUNDS; i++) {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      AtomicReference<Throwable> lf = new AtomicReference<>();
      CountDownLatch l1Done = new CountDownLatch(1);
      Thread l1 =
          Review20TimedUnmountTest.startPlatform(
              "r20b-l1",
              () -> {
                try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1)) {
                  l1Done.countDown();
                } catch (Throwable t) {
                  lf.set(t);
                }
              });
      Thread l2 =
          Review20TimedUnmountTest.startPlatform(
              "r20b-l2",
              () -> {
                try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 2)) {
                  g.set(3);
                } catch (Throwable t) {
                  lf.set(t);
                }
              });
      assertThat(
              spinUntil(
                  () ->
                      l1.getState() == Thread.State.WAITING
                          && l2.getState() == Thread.State.WAITING
                          && !m.isLocked()))
          .isTrue();
      String out =
          onLoneCarrier(
              w -> {
                try (Mutex.Guard<Integer> g = m.lock()) {
                  g.set(1); // announced by signalChangedBeforeWait, not by a release
                  w.arm(
                      () -> {
                        // l1 may hold the mutex now: wait for it without parking
                        if (!spinUntil(() -> l1Done.getCount() == 0 && !m.isLocked())) {
                          return;
                        }
                        try (Mutex.Guard<Integer> wg = m.lock()) {
                          wg.set(2);
                        }
                      });
                  boolean r = cv.awaitWhile(g, v -> v != 3, Duration.ofNanos(1));
                  return w.ran() + " held=" + m.isHeldByCurrentThread() + " r=" + r;
                }
              });
      assertThat(out).startsWith("true held=true");
      join(l1);
      join(l2);
      rethrow(lf);
    }
  }

  // ---- 2. Mutex.lockWhen / tryLock: interrupt in the unmount park -----------------------

  /**
   * lockWhen(ready, 1 ns) on a free mutex, predicate false: the lock is released, V parks, the
   * witness interrupts it: InterruptedException, nothing held, lock-order bookkeeping empty,
   * interrupt status cleared, change queue empty. Then tryLock(1 ns) against a lock held by a
   * platform thread, interrupted the same way: InterruptedException, nothing held.
   */
  @Test
  void held_mutexInterruptDuringTheUnmountParkLeavesNothingHeld() throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    LockOrder.Mode before = LockOrder.mode();
    LockOrder.enable(LockOrder.Mode.THROW);
    try {
      for (int i = 0; i < ROUNDS; i++) {
        Mutex<Integer> m = new Mutex<>(0);
        String out =
            onLoneCarrier(
                w -> {
                  Thread me = Thread.currentThread();
                  w.arm(me::interrupt);
                  String r;
                  try (Mutex.Guard<Integer> g = m.lockWhen(v -> v == 1, Duration.ofNanos(1))) {
                    r = "got " + g;
                  } catch (InterruptedException e) {
                    r = "IE";
                  }
                  r += " held=" + m.isHeldByCurrentThread() + " locked=" + m.isLocked()
                      + " status=" + me.isInterrupted() + " lo=" + LockOrder.heldCountForTests();
                  try (Mutex.Guard<Integer> g = m.lock()) {
                    r += " queue=" + m.changeQueueLengthLocked();
                  }
                  return (w.ran() ? "" : "witness did not run ") + r;
                });
        assertThat(out).isEqualTo("IE held=false locked=false status=false lo=0 queue=0");
      }
      for (int i = 0; i < ROUNDS; i++) {
        Mutex<Integer> m = new Mutex<>(0);
        CountDownLatch holding = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread holder =
            Review20TimedUnmountTest.startPlatform(
                "r20b-holder",
                () -> {
                  try (Mutex.Guard<Integer> g = m.lock()) {
                    holding.countDown();
                    release.await();
                  } catch (InterruptedException e) {
                    throw new AssertionError(e);
                  }
                });
        holding.await();
        String out;
        try {
          out =
              onLoneCarrier(
                  w -> {
                    Thread me = Thread.currentThread();
                    w.arm(me::interrupt);
                    String r;
                    try (Mutex.Guard<Integer> g = m.tryLock(Duration.ofNanos(1))) {
                      r = "got " + g;
                    } catch (InterruptedException e) {
                      r = "IE";
                    }
                    return (w.ran() ? "" : "witness did not run ") + r + " held="
                        + m.isHeldByCurrentThread() + " status=" + me.isInterrupted() + " lo="
                        + LockOrder.heldCountForTests();
                  });
        } finally {
          release.countDown();
          join(holder);
        }
        assertThat(out).isEqualTo("IE held=false status=false lo=0");
        assertThat(m.isLocked()).isFalse();
      }
    } finally {
      restore(before);
    }
  }

  /**
   * lockWhen(ready, 1 ns) whose predicate is evaluated while another thread interrupts the
   * caller (the predicate itself only reads the value and waits for the interrupt to land, so
   * the schedule is exact): the interrupt is pending when the deadline is found passed.
   *
   * @return "null status=true" or "IE status=false"
   */
  static String lockWhenInterruptAtTheDeadline(boolean virtual) throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicBoolean inPredicate = new AtomicBoolean();
    String[] out = new String[1];
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Runnable body =
        () -> {
          Thread me = Thread.currentThread();
          try {
            try (Mutex.Guard<Integer> g =
                m.lockWhen(
                    v -> {
                      inPredicate.set(true);
                      spinUntil(me::isInterrupted);
                      return v == 1;
                    },
                    Duration.ofNanos(1))) {
              out[0] = "got " + g;
            }
          } catch (InterruptedException e) {
            out[0] = "IE";
          } catch (Throwable t) {
            failure.set(t);
          }
          out[0] += " status=" + Thread.interrupted() + " locked=" + m.isLocked();
        };
    Thread t =
        virtual
            ? startVirtual("r20b-lw", body)
            : Review20TimedUnmountTest.startPlatform("r20b-lw", body);
    assertThat(spinUntil(inPredicate::get)).isTrue();
    t.interrupt();
    join(t);
    rethrow(failure);
    return out[0];
  }

  /**
   * Fixed (was a defect of 37a574b: 8 of 8 on each kind of thread, 3 of 3 runs): the interrupt
   * check after the unmount park is now SpinBackoff.unmountBeforeTimeoutInterrupted, which does
   * nothing on a platform thread and skips the park when an interrupt is already pending, so
   * the status is kept as documented. The original report (platform threads changed, and the
   * Javadoc contradicted on both kinds). Contract,
   * Mutex.lockWhen(ready, timeout), @throws InterruptedException: "An interrupt noticed only as
   * the deadline passes, or during a spin that ends with the lock held and ready true, is kept
   * as the thread's interrupt status instead"; the algorithm notes: "when the deadline and an
   * interrupt are both due at the top of the loop, the timed call returns null with the status
   * set (the deadline is checked first)". Schedule (exact): T calls lockWhen(v -> v == 1, 1 ns)
   * on a free mutex; while T evaluates the predicate, another thread interrupts T (the predicate
   * waits for the interrupt to land, reading nothing but the value); the predicate returns
   * false; awaitReadyWait finds the deadline passed and returns false holding the lock (a
   * platform thread at its `remaining <= 0` check before the spin, a virtual one at the top of
   * the loop); lockWhen releases the lock, calls SpinBackoff.unmountIfVirtual (nothing on a
   * platform thread; on a virtual one both 1 ns parks return at once on the pending interrupt)
   * and then, on either kind of thread, {@code if (Thread.interrupted()) throw new
   * InterruptedException(...)}: the check added by 37a574b is not limited to virtual threads.
   * Before 37a574b a platform thread returned null with the status set, as documented; now it
   * throws. (Mutex.tryAcquireContended and RwLock.tryReadTimed/tryWriteTimed got the same
   * unconditional check: a platform tryLock(t) whose AQS wait returns false with an interrupt
   * that landed after its last check now throws too; allowed by their "before or while waiting"
   * wording, but platform behaviour changed there as well, contrary to "Platform threads are
   * unaffected" in package-info.) Observed: platform 8 of 8, virtual 8 of 8, 3 of 3 runs.
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void fixed_lockWhenKeepsAnInterruptPendingAtTheDeadlineAsStatus(boolean virtual)
      throws Exception {
    if (virtual) {
      Review20TimedUnmountTest.assumeVirtualThreads();
    }
    int broke = 0;
    for (int i = 0; i < ROUNDS; i++) {
      String out = lockWhenInterruptAtTheDeadline(virtual);
      assertThat(out).isIn("got null status=true locked=false", "IE status=false locked=false");
      if (out.startsWith("IE")) {
        broke++;
      }
    }
    assertThat(broke).as("rounds that threw instead of keeping the status").isZero();
  }

  // ---- 3. OnceCell.await -----------------------------------------------------------------

  static @Nullable Object waitersHead(OnceCell<?> cell) throws ReflectiveOperationException {
    Field f = OnceCellCore.class.getDeclaredField("waiters");
    f.setAccessible(true);
    return f.get(cell);
  }

  /** A set() during the unmount park is found by the last look: await returns true. */
  @Test
  void held_onceCellSetDuringTheUnmountParkIsReported() throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    for (int i = 0; i < ROUNDS; i++) {
      OnceCell<String> cell = new OnceCell<>();
      String out =
          onLoneCarrier(
              w -> {
                w.arm(() -> cell.set("x"));
                boolean r = cell.await(Duration.ofNanos(1));
                return w.ran() + " " + r + " " + cell.isSet() + " " + (waitersHead(cell) == null);
              });
      assertThat(out).isEqualTo("true true true true");
    }
  }

  /**
   * Same with a timeout long enough for V to push a node (200 us: it spins, pushes, parks, times
   * out, cancels, then the unmount park): the witness arms at the first unmount, which is the
   * timed park with the node in place, so it sets with V's node pushed; and in a second variant
   * with nothing armed until after the deadline (the witness spins until V's deadline passed).
   * Either way: true, no node left.
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void held_onceCellSetRacingTheCancelIsNeverMissed(boolean afterDeadline) throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    for (int i = 0; i < ROUNDS; i++) {
      OnceCell<String> cell = new OnceCell<>();
      long timeout = 200_000L;
      String out =
          onLoneCarrier(
              w -> {
                long deadline = System.nanoTime() + timeout;
                w.arm(
                    () -> {
                      if (afterDeadline) {
                        spinUntil(() -> System.nanoTime() - deadline > 0);
                      }
                      cell.set("x");
                    });
                boolean r = cell.await(Duration.ofNanos(timeout));
                return w.ran() + " " + r + " " + (waitersHead(cell) == null);
              });
      assertThat(out).isEqualTo("true true true");
    }
  }

  /**
   * An interrupt during the unmount park: InterruptedException (status cleared), no node left;
   * interrupt then set in the same park: InterruptedException or true, never false.
   */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void held_onceCellInterruptDuringTheUnmountPark(boolean alsoSet) throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    for (int i = 0; i < ROUNDS; i++) {
      OnceCell<String> cell = new OnceCell<>();
      String out =
          onLoneCarrier(
              w -> {
                Thread me = Thread.currentThread();
                w.arm(
                    () -> {
                      me.interrupt();
                      if (alsoSet) {
                        cell.set("x");
                      }
                    });
                String r;
                try {
                  r = Boolean.toString(cell.await(Duration.ofNanos(1)));
                } catch (InterruptedException e) {
                  r = "IE";
                }
                return w.ran() + " " + r + " status=" + Thread.interrupted() + " "
                    + (waitersHead(cell) == null);
              });
      assertThat(out).isIn("true IE status=false true", "true true status=true true");
    }
  }

  /** Many failing awaits of assorted lengths, two virtual waiters and a platform one: no node leak. */
  @Test
  void held_onceCellFailingAwaitsLeaveNoNodes() throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    OnceCell<String> cell = new OnceCell<>();
    long[] timeouts = {1L, 100L, 2_000L, 30_000L, 300_000L};
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicInteger trues = new AtomicInteger();
    List<Thread> ts = new ArrayList<>();
    for (int k = 0; k < 3; k++) {
      Runnable r =
          () -> {
            try {
              for (int i = 0; i < 300; i++) {
                if (cell.await(Duration.ofNanos(timeouts[i % timeouts.length]))) {
                  trues.incrementAndGet();
                }
              }
            } catch (Throwable t) {
              failure.set(t);
            }
          };
      ts.add(k < 2 ? startVirtual("r20b-o" + k, r) : Review20TimedUnmountTest.startPlatform("r20b-op", r));
    }
    for (Thread t : ts) {
      join(t);
    }
    rethrow(failure);
    assertThat(trues.get()).isZero();
    assertThat(waitersHead(cell)).isNull();
  }

  // ---- 4. SpinLock / TicketLock Condition ------------------------------------------------

  static Lock lockOf(String kind) {
    return kind.equals("spin") ? new SpinLock() : new TicketLock();
  }

  /**
   * V holds the lock and calls await(1 ns): the deadline passes, V (still queued) parks 1 ns;
   * the witness takes the lock and signals (with {@code interrupt}: interrupts V first). The
   * signal must be reported: true (interrupt status kept when interrupted too).
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin:false", "spin:true", "ticket:false", "ticket:true"})
  void held_conditionSignalDuringTheUnmountParkIsReported(String spec) throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    String kind = spec.substring(0, spec.indexOf(':'));
    boolean interrupt = spec.endsWith("true");
    for (int i = 0; i < ROUNDS; i++) {
      Lock lock = lockOf(kind);
      Condition c = lock.newCondition();
      String out =
          onLoneCarrier(
              w -> {
                Thread me = Thread.currentThread();
                lock.lock();
                String r;
                try {
                  w.arm(
                      () -> {
                        if (interrupt) {
                          me.interrupt();
                        }
                        lock.lock();
                        try {
                          c.signal();
                        } finally {
                          lock.unlock();
                        }
                      });
                  try {
                    r = Boolean.toString(c.await(1, TimeUnit.NANOSECONDS));
                  } catch (InterruptedException e) {
                    r = "IE";
                  }
                } finally {
                  lock.unlock();
                }
                return w.ran() + " " + r + " status=" + Thread.interrupted();
              });
      assertThat(out).isEqualTo("true true status=" + interrupt);
    }
  }

  /**
   * The signal during V's park goes to the first queued waiter. P (platform) queued before V:
   * P gets it and V reports false; nothing is lost (P returns). Interrupt only: V throws.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket"})
  void held_conditionSignalDuringTheParkGoesToTheFirstWaiterAndInterruptAloneThrows(String kind)
      throws Exception {
    Review20TimedUnmountTest.assumeVirtualThreads();
    for (int i = 0; i < ROUNDS; i++) {
      Lock lock = lockOf(kind);
      Condition c = lock.newCondition();
      AtomicBoolean pSignalled = new AtomicBoolean();
      AtomicBoolean pQueued = new AtomicBoolean();
      AtomicReference<Throwable> pf = new AtomicReference<>();
      Thread p =
          Review20TimedUnmountTest.startPlatform(
              "r20b-cp",
              () -> {
                lock.lock();
                try {
                  pQueued.set(true);
                  pSignalled.set(c.await(30, TimeUnit.SECONDS));
                } catch (Throwable t) {
                  pf.set(t);
                } finally {
                  lock.unlock();
                }
              });
      assertThat(spinUntil(() -> pQueued.get() && p.getState() == Thread.State.TIMED_WAITING))
          .isTrue();
      String out =
          onLoneCarrier(
              w -> {
                lock.lock();
                try {
                  w.arm(
                      () -> {
                        lock.lock();
                        try {
                          c.signal();
                        } finally {
                          lock.unlock();
                        }
                      });
                  boolean r = c.await(1, TimeUnit.NANOSECONDS);
                  return w.ran() + " " + r;
                } finally {
                  lock.unlock();
                }
              });
      join(p);
      rethrow(pf);
      assertThat(pSignalled.get()).isTrue();
      assertThat(out).isEqualTo("true false");
      // interrupt alone
      Lock lock2 = lockOf(kind);
      Condition c2 = lock2.newCondition();
      String out2 =
          onLoneCarrier(
              w -> {
                Thread me = Thread.currentThread();
                lock2.lock();
                try {
                  w.arm(me::interrupt);
                  try {
                    return "r=" + c2.await(1, TimeUnit.NANOSECONDS);
                  } catch (InterruptedException e) {
                    return "IE status=" + me.isInterrupted() + " " + w.ran();
                  }
                } finally {
                  lock2.unlock();
                }
              });
      assertThat(out2).isEqualTo("IE status=false true");
    }
  }

  // ---- 5. Platform threads: no park at all -----------------------------------------------

  /**
   * A platform thread with a permit pending: every timed failure under review (Condvar 1 ns,
   * lockWhen 1 ns, tryLock 1 ns against a held lock, OnceCell 1 ns, SpinLock/TicketLock
   * Condition 1 ns) returns without parking, so the permit is still there afterwards (a
   * parkNanos(2 s) returns at once).
   */
  @Test
  void held_platformTimedFailuresNeverParkAndKeepThePermit() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<String> kept = new ArrayList<>();
    Mutex<Integer> held = new Mutex<>(0);
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder =
        Review20TimedUnmountTest.startPlatform(
            "r20b-ph",
            () -> {
              try (Mutex.Guard<Integer> g = held.lock()) {
                holding.countDown();
                release.await();
              } catch (InterruptedException e) {
                throw new AssertionError(e);
              }
            });
    holding.await();
    Thread t =
        Review20TimedUnmountTest.startPlatform(
            "r20b-plat",
            () -> {
              try {
                Mutex<Integer> m = new Mutex<>(0);
                Condvar cv = new Condvar();
                OnceCell<String> cell = new OnceCell<>();
                Lock sl = new SpinLock();
                Condition sc = sl.newCondition();
                Lock tl = new TicketLock();
                Condition tc = tl.newCondition();
                Dur[] calls = {
                  () -> {
                    try (Mutex.Guard<Integer> g = m.lock()) {
                      return !cv.awaitWhile(g, v -> v == 0, Duration.ofNanos(1));
                    }
                  },
                  () -> m.lockWhen(v -> v == 1, Duration.ofNanos(1)) == null,
                  () -> held.tryLock(Duration.ofNanos(1)) == null,
                  () -> !cell.await(Duration.ofNanos(1)),
                  () -> {
                    sl.lock();
                    try {
                      return !sc.await(1, TimeUnit.NANOSECONDS);
                    } finally {
                      sl.unlock();
                    }
                  },
                  () -> {
                    tl.lock();
                    try {
                      return !tc.await(1, TimeUnit.NANOSECONDS);
                    } finally {
                      tl.unlock();
                    }
                  },
                };
                for (int round = 0; round < 20; round++) {
                  for (int k = 0; k < calls.length; k++) {
                    LockSupport.unpark(Thread.currentThread());
                    boolean failed = calls[k].call();
                    long s = System.nanoTime();
                    LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(2));
                    long took = System.nanoTime() - s;
                    if (!failed || took > TimeUnit.SECONDS.toNanos(1)) {
                      kept.add("call " + k + " failed=" + failed + " parkNanos took " + took);
                      return;
                    }
                  }
                }
              } catch (Throwable e) {
                failure.set(e);
              }
            });
    join(t);
    release.countDown();
    join(holder);
    rethrow(failure);
    assertThat(kept).isEmpty();
  }

  interface Dur {
    boolean call() throws Exception;
  }
}
