package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Review of session 20 (commit 763606b): on a virtual thread, a timed wait whose deadline passes
 * before it has parked with time left parks once for 1 ns (SpinBackoff.unmountBeforeTimeout)
 * before it reports the timeout; SpinLock and SeqLock look at the lock once more after that park.
 * It found two defects, fixed since (fixed_ tests): a park that returned at once on a permit from
 * the same call's signal counted as an unmount, and an interrupt during the 1 ns park was
 * reported as a timeout. Now every timed failure on a virtual thread unmounts, whether it parked
 * before or not, a park that finds a permit is repeated, and the interrupt is reported.
 *
 * <p>How "unmounted" is observed: every carrier but one is held by a spinning virtual "hog", so
 * the virtual thread under test (V) runs on the only free carrier. Before a call, V unparks a
 * pre-started virtual "witness" W, which so queues on that carrier's local queue (see {@link
 * Witness}). W can run during V's call only if V leaves the carrier; V reads W's flag as soon as
 * the call returns. A witness may also act while
 * V is unmounted (release the lock, interrupt V) and, since it spins instead of parking, keeps V
 * off the carrier until it is done: that makes the 1 ns park's races deterministic.
 *
 * <p>Virtual threads are started by reflection (the code compiles with --release 17); every test
 * that needs them is skipped below JDK 21.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
@SuppressWarnings({"try", "LockNotBeforeTry"}) // window handles are scoped; locks move between threads
class Review20TimedUnmountTest {

  private static final long LIMIT_NANOS = TimeUnit.SECONDS.toNanos(10);

  // ---- harness ----------------------------------------------------------------------------

  interface Body {
    void run() throws Exception;
  }

  static void assumeVirtualThreads() {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
  }

  static Thread startVirtual(String name, Runnable r) throws ReflectiveOperationException {
    return SpinLockHandOverReviewTest.startVirtual(name, r);
  }

  /** Spins (never parks, so a virtual caller keeps its carrier) until {@code done}; false on escape. */
  static boolean spinUntil(BooleanSupplier done) {
    long end = System.nanoTime() + LIMIT_NANOS;
    while (!done.getAsBoolean()) {
      if (System.nanoTime() - end >= 0) {
        return false;
      }
      Thread.onSpinWait();
    }
    return true;
  }

  static void join(@Nullable Thread t) throws InterruptedException {
    if (t != null) {
      t.join(TimeUnit.NANOSECONDS.toMillis(LIMIT_NANOS) * 2);
      assertThat(t.isAlive()).as("%s still alive", t).isFalse();
    }
  }

  /** Holds every carrier but one with a spinning virtual thread, until closed. */
  static final class LoneCarrier implements AutoCloseable {
    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicBoolean escaped = new AtomicBoolean();
    private final List<Thread> hogs = new ArrayList<>();
    private final List<Witness> witnesses = new ArrayList<>();

    /** A parked witness (start it before V). */
    Witness witness(String name) throws Exception {
      Witness w = new Witness(name);
      witnesses.add(w);
      w.waitParked();
      return w;
    }

    LoneCarrier() throws Exception {
      int n = VirtualThreadReviewSupport.carriers() - 1;
      CountDownLatch running = new CountDownLatch(n);
      long escape = System.nanoTime() + 3 * LIMIT_NANOS;
      for (int i = 0; i < n; i++) {
        hogs.add(
            startVirtual(
                "r20-hog-" + i,
                () -> {
                  running.countDown();
                  while (!stop.get()) {
                    if (System.nanoTime() - escape >= 0) {
                      escaped.set(true);
                      return;
                    }
                    Thread.onSpinWait();
                  }
                }));
      }
      if (!running.await(10, TimeUnit.SECONDS)) {
        stop.set(true);
        throw new AssertionError("carrier hogs did not start");
      }
    }

    /** Runs {@code body} on a virtual thread (which gets the free carrier) and joins it. */
    Thread run(String name, Body body, AtomicReference<Throwable> failure) throws Exception {
      return startVirtual(
          name,
          () -> {
            try {
              body.run();
            } catch (Throwable t) {
              failure.compareAndSet(null, t);
            }
          });
    }

    @Override
    public void close() {
      for (Witness w : witnesses) {
        w.go.set(true);
        LockSupport.unpark(w.thread);
      }
      for (Witness w : witnesses) {
        try {
          join(w.thread);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError("interrupted joining a witness", e);
        }
      }
      stop.set(true);
      for (Thread h : hogs) {
        try {
          join(h);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new AssertionError("interrupted joining a hog", e);
        }
      }
      assertThat(escaped).as("a hog hit its escape: something held the lone carrier").isFalse();
    }
  }

  /**
   * A virtual thread, started and parked before V runs, that V releases right before a call:
   * the unpark from V (on its carrier) pushes the witness onto that carrier's local queue, which
   * the carrier runs before anything else as soon as V leaves it. (A thread started by V goes to
   * an external queue instead, and a 1 ns park's own wake-up often beats it: measured on JDK 25
   * with one free carrier, 1,341 of 2,000 parkNanos(1) calls resumed before such a thread ran;
   * with the local queue, 0 of 2,000.) It sets {@link #ran} first, then runs its action.
   */
  static final class Witness {
    final AtomicBoolean go = new AtomicBoolean();
    final AtomicBoolean ran = new AtomicBoolean();
    private volatile Runnable action = () -> {};
    final Thread thread;

    Witness(String name) throws ReflectiveOperationException {
      long end = System.nanoTime() + 3 * LIMIT_NANOS;
      thread =
          startVirtual(
              name,
              () -> {
                while (!go.get()) {
                  if (System.nanoTime() - end >= 0) {
                    return;
                  }
                  LockSupport.parkNanos(LIMIT_NANOS);
                }
                ran.set(true); // first: V reads it right after its call returns
                action.run();
              });
    }

    /** Called by V: the witness runs {@code a} once V leaves its carrier. */
    void arm(Runnable a) {
      action = a;
      go.set(true);
      LockSupport.unpark(thread);
    }

    void arm() {
      arm(() -> {});
    }

    boolean ran() {
      return ran.get();
    }

    void waitParked() throws InterruptedException {
      long end = System.nanoTime() + LIMIT_NANOS;
      while (thread.getState() != Thread.State.TIMED_WAITING) {
        if (System.nanoTime() - end >= 0) {
          throw new AssertionError("witness did not park: " + thread);
        }
        LockSupport.parkNanos(50_000L); // bounded poll of a thread state, not a result wait
      }
    }
  }

  static void rethrow(AtomicReference<Throwable> failure) throws Exception {
    Throwable t = failure.get();
    if (t instanceof Exception e) {
      throw e;
    }
    if (t instanceof Error e) {
      throw e;
    }
  }

  /** The three locks under review, seen through one interface. */
  interface Subject {
    boolean tryLockNanos(long nanos) throws InterruptedException;

    void lock();

    void unlock();

    boolean heldByMe();

    boolean locked();

    Object raw();
  }

  /** SpinLock and TicketLock: a {@link java.util.concurrent.locks.Lock} with its two queries. */
  static Subject lockSubject(
      java.util.concurrent.locks.Lock l,
      java.util.function.BooleanSupplier heldByMe,
      java.util.function.BooleanSupplier locked) {
    return new Subject() {
      @Override
      public boolean tryLockNanos(long nanos) throws InterruptedException {
        return l.tryLock(nanos, TimeUnit.NANOSECONDS);
      }

      @Override
      @SuppressWarnings("LockNotBeforeTry")
      public void lock() {
        l.lock();
      }

      @Override
      public void unlock() {
        l.unlock();
      }

      @Override
      public boolean heldByMe() {
        return heldByMe.getAsBoolean();
      }

      @Override
      public boolean locked() {
        return locked.getAsBoolean();
      }

      @Override
      public Object raw() {
        return l;
      }
    };
  }

  static Subject subject(String kind) {
    if (kind.equals("spin")) {
      SpinLock l = new SpinLock();
      return lockSubject(l, l::isHeldByCurrentThread, l::isLocked);
    }
    if (kind.equals("ticket")) {
      TicketLock l = new TicketLock();
      return lockSubject(l, l::isHeldByCurrentThread, l::isLocked);
    }
    if (kind.equals("seq")) {
      SeqLock l = new SeqLock();
      AtomicReference<SeqLock.@Nullable WriteGuard> guard = new AtomicReference<>();
      return new Subject() {
        @Override
        public boolean tryLockNanos(long nanos) throws InterruptedException {
          SeqLock.WriteGuard g = l.tryWrite(Duration.ofNanos(nanos));
          if (g == null) {
            return false;
          }
          guard.set(g);
          return true;
        }

        @Override
        public void lock() {
          guard.set(l.writeUninterruptibly());
        }

        @Override
        public void unlock() {
          SeqLock.WriteGuard g = guard.getAndSet(null);
          if (g == null) {
            throw new IllegalMonitorStateException("no guard");
          }
          g.close();
        }

        @Override
        public boolean heldByMe() {
          return l.isWriteLockedByCurrentThread();
        }

        @Override
        public boolean locked() {
          return l.isWriteLocked();
        }

        @Override
        public Object raw() {
          return l;
        }
      };
    }
    throw new IllegalArgumentException(kind);
  }

  // ---- 1. the claim itself: a failing timed call unmounts --------------------------------

  /**
   * Claim: "on a virtual thread, a timed wait that fails has unmounted at least once". The lock
   * is held by the (platform) test thread for the whole run; V makes 40 failing calls, each with
   * a fresh witness, and no interrupt or stray permit is around.
   */
  @ParameterizedTest(name = "{0}, {1} ns")
  @CsvSource({"spin,1", "spin,1000", "ticket,1", "ticket,1000", "seq,1", "seq,1000"})
  void held_everyFailingTimedCallOnAVirtualThreadUnmounts(String kind, long nanos)
      throws Exception {
    assumeVirtualThreads();
    Subject s = subject(kind);
    int calls = 40;
    AtomicInteger failedWithoutUnmount = new AtomicInteger();
    AtomicInteger acquired = new AtomicInteger();
    AtomicInteger inconsistent = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    s.lock();
    try (LoneCarrier lc = new LoneCarrier()) {
      List<Witness> witnesses = new ArrayList<>();
      for (int i = 0; i < calls; i++) {
        witnesses.add(lc.witness("r20-w" + i));
      }
      Thread v =
          lc.run(
              "r20-v",
              () -> {
                for (int i = 0; i < calls; i++) {
                  Witness w = witnesses.get(i);
                  w.arm();
                  boolean r = s.tryLockNanos(nanos);
                  boolean ran = w.ran();
                  if (r != s.heldByMe() || Thread.currentThread().isInterrupted()) {
                    inconsistent.incrementAndGet();
                  }
                  if (r) {
                    acquired.incrementAndGet();
                    s.unlock();
                  } else if (!ran) {
                    failedWithoutUnmount.incrementAndGet();
                  }
                }
              },
              failure);
      join(v);
    } finally {
      s.unlock();
    }
    rethrow(failure);
    assertThat(acquired).as("the test thread held the lock throughout").hasValue(0);
    assertThat(inconsistent).as("held after false, or an invented interrupt").hasValue(0);
    assertThat(failedWithoutUnmount)
        .as("%s tryLock(%d ns): failing calls that never left the carrier, of %d", kind, nanos, calls)
        .hasValue(0);
  }

  /**
   * A stale permit: V gives itself a permit, then fails twice. The review's version of the code
   * documented that the first call spends the permit and stays mounted (held 8 of 8 then). Since
   * SpinBackoff.unmountBeforeTimeout parks once more when its park came back within a
   * microsecond, the first call usually unmounts too; not always: in a fresh JVM the park that
   * takes the permit can run cold and take longer (1 or all 3 kinds in 2 of 4 runs). So only the
   * documented promise is asserted: the next failing call unmounts.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "seq"})
  void held_aStalePermitSkipsAtMostOneUnmount(String kind)
      throws Exception {
    assumeVirtualThreads();
    Subject s = subject(kind);
    boolean[] out = new boolean[4];
    AtomicReference<Throwable> failure = new AtomicReference<>();
    s.lock();
    try (LoneCarrier lc = new LoneCarrier()) {
      Witness w1 = lc.witness("r20-w1");
      Witness w2 = lc.witness("r20-w2");
      Thread v =
          lc.run(
              "r20-v",
              () -> {
                LockSupport.unpark(Thread.currentThread());
                w1.arm();
                out[0] = s.tryLockNanos(1);
                out[1] = w1.ran();
                w2.arm();
                out[2] = s.tryLockNanos(1);
                out[3] = w2.ran();
              },
              failure);
      join(v);
    } finally {
      s.unlock();
    }
    rethrow(failure);
    assertThat(out[0]).isFalse();
    assertThat(out[2]).isFalse();
    assertThat(out[3]).as("the next failing call unmounts").isTrue();
  }

  /**
   * Platform threads are unaffected: a failing tryLock(1 ns) on a platform thread never parks,
   * so a permit the caller holds survives it (the next parkNanos(5 s) returns at once).
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "seq"})
  void held_platformTimedFailureNeverParksAndKeepsThePermit(String kind) throws Exception {
    Subject s = subject(kind);
    int rounds = 20;
    AtomicInteger lostPermits = new AtomicInteger();
    AtomicInteger acquired = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    s.lock();
    Thread p =
        new Thread(
            () -> {
              try {
                for (int i = 0; i < rounds; i++) {
                  LockSupport.unpark(Thread.currentThread());
                  if (s.tryLockNanos(1)) {
                    acquired.incrementAndGet();
                    s.unlock();
                  }
                  long t0 = System.nanoTime();
                  LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(5));
                  if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(1)) {
                    lostPermits.incrementAndGet();
                  }
                }
              } catch (Throwable t) {
                failure.set(t);
              }
            },
            "r20-platform");
    p.start();
    try {
      join(p);
    } finally {
      s.unlock();
    }
    rethrow(failure);
    assertThat(acquired).hasValue(0);
    assertThat(lostPermits).as("%s: platform calls that parked (spent the permit)", kind).hasValue(0);
  }

  // ---- 2. a release during the 1 ns park: the last look ----------------------------------

  /**
   * The holder releases while V is in its 1 ns park (the witness asks for it and keeps V off the
   * carrier until it is done). SpinLock and SeqLock: V's last look takes the lock, and the call
   * reports it as an acquisition everywhere: return value, isHeldByCurrentThread, LockOrder's
   * per-thread held set, and the JFR event's outcome. TicketLock: no last try (FIFO), so V
   * reports the timeout, does not hold, and the lock is left free.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "seq"})
  void held_releaseDuringTheUnmountParkIsReportedConsistently(String kind) throws Exception {
    assumeVirtualThreads();
    Subject s = subject(kind);
    CountDownLatch wRunning = new CountDownLatch(1);
    AtomicBoolean released = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    boolean[] out = new boolean[3];
    int[] heldCounts = new int[2];
    List<RecordedEvent> events = new ArrayList<>();
    Witness[] w = new Witness[1];
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
    Path file = Files.createTempFile("r20", ".jfr");
    try (Recording rec = new Recording()) {
      rec.enable("dev.weft.LockContended").withThreshold(Duration.ZERO);
      rec.start();
      WeftJfr.prepareIfRecording();
      s.lock();
      boolean unlocked = false;
      try (LoneCarrier lc = new LoneCarrier()) {
        w[0] = lc.witness("r20-w");
        Thread v =
            lc.run(
                "r20-v-" + kind,
                () -> {
                  w[0].arm(() -> {
                            wRunning.countDown();
                            spinUntil(released::get);
                          });
                  boolean r = s.tryLockNanos(1);
                  out[0] = r;
                  out[1] = w[0].ran();
                  out[2] = s.heldByMe();
                  heldCounts[0] = LockOrder.heldCountForTests();
                  if (r) {
                    s.unlock();
                  }
                  heldCounts[1] = LockOrder.heldCountForTests();
                },
                failure);
        assertThat(wRunning.await(10, TimeUnit.SECONDS)).as("V never unmounted").isTrue();
        s.unlock();
        unlocked = true;
        released.set(true);
        join(v);
      } finally {
        released.set(true);
        if (!unlocked) {
          s.unlock();
        }
      }
      join(w[0] == null ? null : w[0].thread);
      rec.stop();
      rec.dump(file);
      for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
        RecordedThread t = e.getThread();
        if (t != null && ("r20-v-" + kind).equals(t.getJavaName())) {
          events.add(e);
        }
      }
    } finally {
      LockOrder.disable();
      LockOrder.resetForTests();
      Files.deleteIfExists(file);
    }
    rethrow(failure);
    boolean lastLook = !kind.equals("ticket");
    assertThat(out[1]).as("V unmounted (the witness ran)").isTrue();
    assertThat(out[0]).as("%s: the call's result", kind).isEqualTo(lastLook);
    assertThat(out[2]).as("isHeldByCurrentThread agrees with the result").isEqualTo(out[0]);
    assertThat(heldCounts[0]).as("LockOrder held count after the call").isEqualTo(out[0] ? 1 : 0);
    assertThat(heldCounts[1]).as("LockOrder held count after unlock").isZero();
    assertThat(s.locked()).as("the lock is free at the end").isFalse();
    assertThat(events).as("one LockContended event for V").hasSize(1);
    assertThat(events.get(0).getString("outcome")).isEqualTo(out[0] ? "acquired" : "timed out");
    // and the lock is usable: an immediate try from this thread succeeds
    assertThat(s.tryLockNanos(0)).isTrue();
    s.unlock();
  }

  /**
   * SpinLock's last CAS must not take a lock that an unlock hands over to a platform heir: the
   * hand-over goes owner -> heir without passing through null. P (platform) waits in lock() and
   * has claimed the hand-over when it reaches its park; the test thread unlocks while V is in its
   * 1 ns park. V must fail and P must get the lock.
   */
  @Test
  void held_lastCasDoesNotStealAHandOverFromAPlatformHeir() throws Exception {
    assumeVirtualThreads();
    Assumptions.assumeTrue(SpinBackoff.HAND_OVER_AFTER_NANOS == 0L, "hand-over at once only");
    SpinLock l = new SpinLock();
    AtomicReference<Thread> pRef = new AtomicReference<>();
    CountDownLatch pParked = new CountDownLatch(1);
    CountDownLatch pAcquired = new CountDownLatch(1);
    CountDownLatch pRelease = new CountDownLatch(1);
    CountDownLatch wRunning = new CountDownLatch(1);
    AtomicBoolean released = new AtomicBoolean();
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    boolean[] out = new boolean[3];
    Witness[] w = new Witness[1];
    l.lock();
    boolean unlocked = false;
    Thread p = null;
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (name.equals("spinlock.park") && Thread.currentThread() == pRef.get()) {
                pParked.countDown();
              }
            })) {
      p =
          new Thread(
              () -> {
                try {
                  l.lock();
                  if (inside.incrementAndGet() != 1) {
                    overlaps.incrementAndGet();
                  }
                  pAcquired.countDown();
                  pRelease.await(20, TimeUnit.SECONDS);
                  inside.decrementAndGet();
                  l.unlock();
                } catch (Throwable t) {
                  failure.compareAndSet(null, t);
                }
              },
              "r20-heir");
      pRef.set(p);
      p.start();
      assertThat(pParked.await(10, TimeUnit.SECONDS)).isTrue();
      try (LoneCarrier lc = new LoneCarrier()) {
        w[0] = lc.witness("r20-w");
        Thread v =
            lc.run(
                "r20-v",
                () -> {
                  w[0].arm(() -> {
                            wRunning.countDown();
                            spinUntil(released::get);
                          });
                  boolean r = l.tryLock(1, TimeUnit.NANOSECONDS);
                  out[0] = r;
                  out[1] = w[0].ran();
                  out[2] = l.isHeldByCurrentThread();
                  if (r) {
                    if (inside.incrementAndGet() != 1) {
                      overlaps.incrementAndGet();
                    }
                    inside.decrementAndGet();
                    l.unlock();
                  }
                },
                failure);
        assertThat(wRunning.await(10, TimeUnit.SECONDS)).isTrue();
        l.unlock(); // hands over to P
        unlocked = true;
        released.set(true);
        join(v);
      }
      assertThat(pAcquired.await(10, TimeUnit.SECONDS)).as("the heir got the lock").isTrue();
    } finally {
      released.set(true);
      if (!unlocked) {
        l.unlock();
      }
      pRelease.countDown();
      join(p);
      join(w[0] == null ? null : w[0].thread);
    }
    rethrow(failure);
    assertThat(out[1]).isTrue();
    assertThat(out[0]).as("V's last CAS took a lock handed over to the heir").isFalse();
    assertThat(out[2]).isFalse();
    assertThat(overlaps).hasValue(0);
    assertThat(l.isLocked()).isFalse();
  }

  /**
   * The unlock during V's 1 ns park signals X (a virtual waiter parked in lock(): virtual
   * threads never take a hand-over, so the unlock releases and signals); X is held at
   * "spinlock.spin" just after waking, so V's last CAS wins the free lock. X, who spent its signal, must not be
   * stranded: V keeps the lock until X has registered and reached its park again, then unlocks,
   * and X must get the lock.
   */
  @Test
  void held_aSignalledWaiterThatLosesToTheLastCasIsNotStranded() throws Exception {
    assumeVirtualThreads();
    SpinLock l = new SpinLock();
    AtomicReference<Thread> xRef = new AtomicReference<>();
    AtomicInteger xParks = new AtomicInteger();
    CountDownLatch xFirstPark = new CountDownLatch(1);
    CountDownLatch xParkedAgain = new CountDownLatch(1);
    AtomicBoolean holdXAtSpin = new AtomicBoolean();
    CountDownLatch vDone = new CountDownLatch(1);
    CountDownLatch xAcquired = new CountDownLatch(1);
    CountDownLatch wRunning = new CountDownLatch(1);
    AtomicBoolean released = new AtomicBoolean();
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    boolean[] out = new boolean[3];
    Witness[] w = new Witness[1];
    l.lock();
    boolean unlocked = false;
    Thread x = null;
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (Thread.currentThread() != xRef.get()) {
                return;
              }
              if (name.equals("spinlock.park")) {
                if (xParks.incrementAndGet() == 1) {
                  xFirstPark.countDown();
                } else if (vDone.getCount() == 0) {
                  xParkedAgain.countDown();
                }
              } else if (name.equals("spinlock.spin") && holdXAtSpin.compareAndSet(true, false)) {
                try {
                  vDone.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            })) {
      x =
          startVirtual(
          "r20-x",
              () -> {
                try {
                  l.lock();
                  if (inside.incrementAndGet() != 1) {
                    overlaps.incrementAndGet();
                  }
                  inside.decrementAndGet();
                  xAcquired.countDown();
                  l.unlock();
                } catch (Throwable t) {
                  failure.compareAndSet(null, t);
                }
              });
      xRef.set(x);
      assertThat(xFirstPark.await(10, TimeUnit.SECONDS)).isTrue();
      holdXAtSpin.set(true);
      try (LoneCarrier lc = new LoneCarrier()) {
        w[0] = lc.witness("r20-w");
        Thread v =
            lc.run(
                "r20-v",
                () -> {
                  w[0].arm(() -> {
                            wRunning.countDown();
                            spinUntil(released::get);
                          });
                  boolean r = l.tryLock(1, TimeUnit.NANOSECONDS);
                  out[0] = r;
                  out[1] = w[0].ran();
                  out[2] = l.isHeldByCurrentThread();
                  vDone.countDown();
                  if (r) {
                    if (inside.incrementAndGet() != 1) {
                      overlaps.incrementAndGet();
                    }
                    xParkedAgain.await(10, TimeUnit.SECONDS);
                    inside.decrementAndGet();
                    l.unlock();
                  }
                },
                failure);
        assertThat(wRunning.await(10, TimeUnit.SECONDS)).isTrue();
        l.unlock(); // signals X
        unlocked = true;
        released.set(true);
        join(v);
      }
      assertThat(xAcquired.await(10, TimeUnit.SECONDS)).as("X stranded").isTrue();
    } finally {
      released.set(true);
      vDone.countDown();
      if (!unlocked) {
        l.unlock();
      }
      join(x);
      join(w[0] == null ? null : w[0].thread);
    }
    rethrow(failure);
    assertThat(out[1]).isTrue();
    assertThat(out[0]).as("V's last CAS took the free lock").isTrue();
    assertThat(out[2]).isTrue();
    assertThat(xParkedAgain.getCount()).as("X registered again while V held the lock").isZero();
    assertThat(overlaps).hasValue(0);
    assertThat(l.isLocked()).isFalse();
    assertThat(l.toString()).doesNotContain("parked waiters");
  }

  /**
   * TicketLock: the unlock during V's 1 ns park must skip V's abandoned node and grant T, a
   * platform thread that queued behind it (T queues while V is in the park).
   */
  @Test
  void held_ticketAbandonedNodeDuringTheUnmountParkIsSkipped() throws Exception {
    assumeVirtualThreads();
    TicketLock l = new TicketLock();
    AtomicReference<Thread> tRef = new AtomicReference<>();
    CountDownLatch tParked = new CountDownLatch(1);
    CountDownLatch wRunning = new CountDownLatch(1);
    AtomicBoolean tGot = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    boolean[] out = new boolean[3];
    Witness[] w = new Witness[1];
    l.lock();
    boolean unlocked = false;
    Thread t = null;
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (name.equals("ticketlock.park") && Thread.currentThread() == tRef.get()) {
                tParked.countDown();
              }
            })) {
      try (LoneCarrier lc = new LoneCarrier()) {
        w[0] = lc.witness("r20-w");
        Thread v =
            lc.run(
                "r20-v",
                () -> {
                  w[0].arm(() -> {
                            wRunning.countDown();
                            spinUntil(tGot::get);
                          });
                  boolean r = l.tryLock(1, TimeUnit.NANOSECONDS);
                  out[0] = r;
                  out[1] = w[0].ran();
                  out[2] = l.isHeldByCurrentThread();
                  if (r) {
                    l.unlock();
                  }
                },
                failure);
        assertThat(wRunning.await(10, TimeUnit.SECONDS)).isTrue();
        t =
            new Thread(
                () -> {
                  l.lock();
                  tGot.set(true);
                  l.unlock();
                },
                "r20-t");
        tRef.set(t);
        t.start();
        assertThat(tParked.await(10, TimeUnit.SECONDS)).as("T queued behind V's node").isTrue();
        l.unlock();
        unlocked = true;
        join(t);
        join(v);
      }
    } finally {
      tGot.set(true);
      if (!unlocked) {
        l.unlock();
      }
      join(t);
      join(w[0] == null ? null : w[0].thread);
    }
    rethrow(failure);
    assertThat(out[1]).isTrue();
    assertThat(out[0]).isFalse();
    assertThat(out[2]).isFalse();
    assertThat(l.isLocked()).isFalse();
    assertThat(l.tryLock()).isTrue();
    l.unlock();
  }

  /**
   * SeqLock's last look after the 1 ns park must respect a registered reader: R (platform) fell
   * back and registered while the test thread wrote; the write ends during V's park and R takes
   * its pass. V's last tryAcquire must fail (readers that queued behind a write go first).
   */
  @Test
  void held_seqLastLookRespectsARegisteredReader() throws Exception {
    assumeVirtualThreads();
    SeqLock l = new SeqLock();
    int[] data = new int[2];
    AtomicReference<Thread> rRef = new AtomicReference<>();
    CountDownLatch rRegistered = new CountDownLatch(1);
    AtomicBoolean rInPass = new AtomicBoolean();
    CountDownLatch vDone = new CountDownLatch(1);
    CountDownLatch wRunning = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicReference<int[]> readResult = new AtomicReference<>();
    boolean[] out = new boolean[3];
    Witness[] w = new Witness[1];
    SeqLock.WriteGuard g = l.writeUninterruptibly();
    data[0] = 1;
    data[1] = 1;
    boolean closed = false;
    Thread r = null;
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (name.equals("seqlock.reader-registered") && Thread.currentThread() == rRef.get()) {
                rRegistered.countDown();
              }
            })) {
      r =
          new Thread(
              () -> {
                readResult.set(
                    l.read(
                        () -> {
                          int[] v = {data[0], data[1]};
                          if (l.isWriteLocked() && !rInPass.get()) {
                            rInPass.set(true);
                            try {
                              vDone.await(20, TimeUnit.SECONDS);
                            } catch (InterruptedException e) {
                              Thread.currentThread().interrupt();
                            }
                          }
                          return v;
                        }));
              },
              "r20-reader");
      rRef.set(r);
      r.start();
      assertThat(rRegistered.await(10, TimeUnit.SECONDS)).isTrue();
      try (LoneCarrier lc = new LoneCarrier()) {
        w[0] = lc.witness("r20-w");
        Thread v =
            lc.run(
                "r20-v",
                () -> {
                  w[0].arm(() -> {
                            wRunning.countDown();
                            spinUntil(rInPass::get);
                          });
                  SeqLock.WriteGuard vg = l.tryWrite(Duration.ofNanos(1));
                  out[0] = vg != null;
                  out[1] = w[0].ran();
                  out[2] = rInPass.get() && l.isWriteLockedByCurrentThread();
                  vDone.countDown();
                  if (vg != null) {
                    data[0] = 2;
                    data[1] = 2;
                    vg.close();
                  }
                },
                failure);
        assertThat(wRunning.await(10, TimeUnit.SECONDS)).isTrue();
        g.close();
        closed = true;
        join(v);
      }
    } finally {
      vDone.countDown();
      if (!closed) {
        g.close();
      }
      join(r);
      join(w[0] == null ? null : w[0].thread);
    }
    rethrow(failure);
    assertThat(out[1]).isTrue();
    assertThat(out[0]).as("V's last look took the lock from a registered reader").isFalse();
    assertThat(out[2]).isFalse();
    assertThat(readResult.get()).containsExactly(1, 1);
    assertThat(l.isWriteLocked()).isFalse();
  }

  // ---- 3. interrupts during the 1 ns park ------------------------------------------------

  /** Runs V's tryLock(1 ns) while the lock is held; the witness interrupts V during its park. */
  static String[] interruptDuringPark(String kind) throws Exception {
    Subject s = subject(kind);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    String[] out = new String[3];
    Witness[] w = new Witness[1];
    s.lock();
    try (LoneCarrier lc = new LoneCarrier()) {
      w[0] = lc.witness("r20-w");
      Thread v =
          lc.run(
              "r20-v",
              () -> {
                Thread me = Thread.currentThread();
                w[0].arm(me::interrupt);
                try {
                  boolean r = s.tryLockNanos(1);
                  out[0] = Boolean.toString(r);
                  out[2] = Boolean.toString(s.heldByMe());
                  if (r) {
                    s.unlock();
                  }
                } catch (InterruptedException e) {
                  out[0] = "InterruptedException";
                }
                out[1] = Boolean.toString(Thread.interrupted());
                if (!w[0].ran()) {
                  out[0] = "witness did not run";
                }
              },
              failure);
      join(v);
    } finally {
      s.unlock();
    }
    join(w[0].thread);
    rethrow(failure);
    return out;
  }

  /**
   * An interrupt that arrives during the 1 ns park is never lost: the call either throws
   * InterruptedException (status cleared) or returns with the status still set.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "seq"})
  void held_anInterruptDuringTheUnmountParkIsNeverLost(String kind) throws Exception {
    assumeVirtualThreads();
    String[] out = interruptDuringPark(kind);
    assertThat(out[0]).isNotEqualTo("witness did not run");
    if (out[0].equals("InterruptedException")) {
      assertThat(out[1]).as("status after the exception").isEqualTo("false");
    } else {
      assertThat(out[1]).as("%s returned %s: interrupt status kept", kind, out[0]).isEqualTo("true");
    }
  }

  /**
   * Contract: "@throws InterruptedException if the thread is interrupted before or while
   * waiting" (SpinLock, TicketLock tryLock; SeqLock.tryWrite "while waiting"). The 1 ns park is
   * new waiting time added by this change, ~40-55 us long; an interrupt that arrives in it is
   * reported as a timeout ({@code false}/{@code null}) with the status left set, where the JDK's
   * AQS (ReentrantLock.tryLock) throws for an interrupt seen after a park. Failed 8 of 8 for
   * each lock on d1d73ea; since then each lock checks the interrupt after that park.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "seq"})
  void fixed_anInterruptDuringTheUnmountParkIsReportedAsAnInterrupt(String kind) throws Exception {
    assumeVirtualThreads();
    String[] out = interruptDuringPark(kind);
    assertThat(out[0]).as("%s: outcome of tryLock(1 ns) interrupted during its park", kind)
        .isIn("InterruptedException", "true");
  }

  // ---- 4. a signal before the park counts as an unmount ----------------------------------

  /*
   * The defect (fixed since): SpinLock counted a park as an unmount when it was given a
   * positive time ({@code unmounted |= parkNanos > 0}), but such a park returns at once, without unmounting, when a permit is
   * pending; and a signal of this very call delivers one. Schedule (exact, by the protocol
   * window "spinlock.park"):
   *
   * <ol>
   *   <li>the (platform) test thread holds the lock;
   *   <li>V calls tryLock(20 ms): spins, registers on the empty stack (so it is the exposed
   *       waiter, parkNanos = remaining, 1 ms, computed before the registration) and reaches
   *       "spinlock.park", where the hook keeps it on its carrier until told to go;
   *   <li>V's deadline passes; the test thread unlocks (signalOne pops V's node, signals it and
   *       unparks V: a permit, V is running) and locks again at once (the lock was free);
   *   <li>V goes on: parkNanos(1 ms) sets {@code unmounted = true} and returns at once on the
   *       permit; V was signalled, so it breaks out, finds its deadline past and the lock held,
   *       passes the signal on (nobody) and calls timedOut(me, virtual && !unmounted = false):
   *       no park. tryLock returns false, and V never left its carrier during the call.
   * </ol>
   *
   * The permit is not stale (it is this call's own signal), so the documented exception does not
   * cover it; the next call unmounts (the permit was spent). Same shape, without the window: any
   * signal that lands between V's push and its park while another thread re-takes the lock.
   */
  /**
   * V's tryLock(20 ms) held at "spinlock.park" (registered, exposed) until its deadline has
   * passed; with {@code signal}, the test thread unlocks (signalling V, who is running: a
   * permit) and locks again before V goes on.
   *
   * @return whether V left its carrier during the call
   */
  static boolean signalBeforePark(boolean signal) throws Exception {
    SpinLock l = new SpinLock();
    AtomicReference<Thread> vRef = new AtomicReference<>();
    AtomicBoolean armed = new AtomicBoolean(true);
    CountDownLatch atPark = new CountDownLatch(1);
    AtomicBoolean go = new AtomicBoolean();
    AtomicLong vDeadline = new AtomicLong();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    boolean[] out = new boolean[3];
    Witness[] w = new Witness[1];
    l.lock();
    boolean held = true;
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (name.equals("spinlock.park")
                  && Thread.currentThread() == vRef.get()
                  && armed.compareAndSet(true, false)) {
                atPark.countDown();
                spinUntil(go::get); // stays mounted
              }
            })) {
      try (LoneCarrier lc = new LoneCarrier()) {
        w[0] = lc.witness("r20-w");
        Thread v =
            lc.run(
                "r20-v",
                () -> {
                  vRef.set(Thread.currentThread());
                  w[0].arm();
                  vDeadline.set(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20));
                  boolean r = l.tryLock(20, TimeUnit.MILLISECONDS);
                  out[0] = r;
                  out[1] = w[0].ran();
                  out[2] = l.isHeldByCurrentThread();
                  if (r) {
                    l.unlock();
                  }
                },
                failure);
        try {
          assertThat(atPark.await(10, TimeUnit.SECONDS)).isTrue();
          while (System.nanoTime() - vDeadline.get() < TimeUnit.MILLISECONDS.toNanos(10)) {
            Thread.sleep(5); // let V's deadline pass (time, not a result)
          }
          if (signal) {
            l.unlock(); // signals V (running: a permit)
            held = false;
            l.lock(); // free: the fast path
            held = true;
          }
        } finally {
          go.set(true);
        }
        join(v);
      }
    } finally {
      go.set(true);
      if (held) {
        l.unlock();
      }
      join(w[0] == null ? null : w[0].thread);
    }
    rethrow(failure);
    assertThat(out[0]).isFalse();
    assertThat(out[2]).isFalse();
    assertThat(l.isLocked()).isFalse();
    return out[1];
  }

  /** Control for the next test: the same schedule without the signal; V's park unmounts. */
  @Test
  void held_controlWithoutTheSignalTheExposedWaitersParkUnmounts() throws Exception {
    assumeVirtualThreads();
    assertThat(signalBeforePark(false)).as("V left its carrier").isTrue();
  }

  /**
   * The schedule above with the signal: failed 8 of 8 on d1d73ea, where SpinLock counted a park
   * given a positive time as an unmount. Every timed failure on a virtual thread now unmounts.
   */
  @Test
  void fixed_aSignalBeforeTheParkNoLongerCountsAsAnUnmount() throws Exception {
    assumeVirtualThreads();
    assertThat(signalBeforePark(true))
        .as("V failed its timed tryLock without ever leaving its carrier")
        .isTrue();
  }

  /**
   * The same defect without protocol windows: V retries tryLock(1 us) while a platform thread P
   * takes and releases the lock back to back (a short hold, then at once again). An unlock of P
   * that lands between V's registration and its park signals V (a permit), and P's next lock
   * takes the lock back; V's park then returns at once but counts, and V times out without
   * unmounting. Counts such failures among 1,500 calls. Measured (JDK 25, 2 vCPU): 3 mounted
   * failures in about 10,400 failures over 11 runs (2 runs with any). This shows the symptom in
   * the wild only: a permit left by the previous call's signal (the documented stale-permit
   * case) looks the same here; the mechanism is proven by the test above. With every timed
   * failure unmounting, 4 of 1,195 still stayed mounted in one of 3 runs (a late signal's
   * permit taken by the unmount park itself); with the second park after a return within a
   * microsecond (SpinBackoff.unmountBeforeTimeout), none.
   */
  @Test
  void fixed_noMountedTimeoutsUnderUnlockRelockWithoutWindows() throws Exception {
    assumeVirtualThreads();
    SpinLock l = new SpinLock();
    int calls = 1500;
    AtomicBoolean stopP = new AtomicBoolean();
    AtomicInteger failed = new AtomicInteger();
    AtomicInteger failedMounted = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread p =
        startPlatform(
            "r20-hammer",
            () -> {
              while (!stopP.get()) {
                l.lock();
                for (int i = 0; i < 20; i++) {
                  Thread.onSpinWait();
                }
                l.unlock();
              }
            });
    try (LoneCarrier lc = new LoneCarrier()) {
      List<Witness> ws = new ArrayList<>();
      for (int i = 0; i < calls; i++) {
        ws.add(lc.witness("r20-w" + i));
      }
      Thread v =
          lc.run(
              "r20-v",
              () -> {
                for (int i = 0; i < calls; i++) {
                  Witness w = ws.get(i);
                  w.arm();
                  boolean r = l.tryLock(1, TimeUnit.MICROSECONDS);
                  boolean ran = w.ran();
                  if (r) {
                    l.unlock();
                  } else {
                    failed.incrementAndGet();
                    if (!ran) {
                      failedMounted.incrementAndGet();
                    }
                  }
                }
              },
              failure);
      join(v);
    } finally {
      stopP.set(true);
      join(p);
    }
    rethrow(failure);
    System.out.println("R20 no-window: " + failedMounted + " of " + failed + " failures stayed mounted");
    assertThat(failedMounted)
        .as("failing tryLock(1 us) calls that never left the carrier, of %s failures", failed)
        .hasValue(0);
  }

  // ---- 5. mutual exclusion and liveness under the new park --------------------------------

  /**
   * Retry loops of tryLock(1 ns) and tryLock(1 us) on virtual and platform threads, with lock()
   * users, on the default carriers; every 8th section parks 1 us inside the lock. Checks: no two
   * holders at once, the result always agrees with isHeldByCurrentThread, no interrupt status
   * appears, everybody finishes, and the lock ends free with no parked waiter. SeqLock also has
   * virtual readers that check the pair they read.
   */
  @ParameterizedTest
  @ValueSource(strings = {"spin", "ticket", "seq"})
  void held_mutualExclusionAndResultsUnderRetryLoops(String kind) throws Exception {
    assumeVirtualThreads();
    Subject s = subject(kind);
    int sections = 300;
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger overlaps = new AtomicInteger();
    AtomicInteger inconsistent = new AtomicInteger();
    AtomicInteger done = new AtomicInteger();
    AtomicInteger torn = new AtomicInteger();
    AtomicBoolean writersDone = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    int[] data = new int[2];
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(40);
    List<Thread> threads = new ArrayList<>();
    // mode: 0 tryLock(1 ns) loop, 1 tryLock(1 us) loop, 2 lock()
    int[][] plan = {{0, 12, 1}, {1, 6, 1}, {2, 6, 1}, {0, 2, 0}, {2, 1, 0}};
    int id = 0;
    for (int[] p : plan) {
      for (int i = 0; i < p[1]; i++) {
        int mode = p[0];
        int me = id++;
        Runnable body =
            () -> {
              try {
                for (int k = 0; k < sections && System.nanoTime() - end < 0; ) {
                  boolean got;
                  if (mode == 2) {
                    s.lock();
                    got = true;
                  } else {
                    got = s.tryLockNanos(mode == 0 ? 1 : 1000);
                  }
                  if (got != s.heldByMe() || Thread.currentThread().isInterrupted()) {
                    inconsistent.incrementAndGet();
                  }
                  if (!got) {
                    continue;
                  }
                  try {
                    if (inside.incrementAndGet() != 1) {
                      overlaps.incrementAndGet();
                    }
                    data[0] = me;
                    if ((k & 7) == 7) {
                      LockSupport.parkNanos(1000);
                    }
                    data[1] = me;
                    inside.decrementAndGet();
                  } finally {
                    s.unlock();
                  }
                  k++;
                  done.incrementAndGet();
                }
              } catch (Throwable t) {
                failure.compareAndSet(null, t);
              }
            };
        threads.add(p[2] == 1 ? startVirtual("r20-s" + me, body) : startPlatform("r20-s" + me, body));
      }
    }
    int writers = threads.size();
    if (kind.equals("seq")) {
      SeqLock seq = (SeqLock) s.raw();
      for (int i = 0; i < 4; i++) {
        threads.add(
            startVirtual(
                "r20-reader" + i,
                () -> {
                  while (!writersDone.get() && System.nanoTime() - end < 0) {
                    int[] v = seq.read(() -> new int[] {data[0], data[1]});
                    if (v[0] != v[1]) {
                      torn.incrementAndGet();
                    }
                    LockSupport.parkNanos(20_000);
                  }
                }));
      }
    }
    for (int i = 0; i < writers; i++) {
      threads.get(i).join(TimeUnit.SECONDS.toMillis(60));
    }
    writersDone.set(true);
    for (Thread t : threads) {
      join(t);
    }
    rethrow(failure);
    assertThat(overlaps).as("%s: two holders at once", kind).hasValue(0);
    assertThat(inconsistent).as("%s: result vs isHeldByCurrentThread, or an interrupt", kind).hasValue(0);
    assertThat(torn).as("torn reads").hasValue(0);
    assertThat(done).as("%s: sections done by the deadline", kind).hasValue(writers * sections);
    assertThat(s.locked()).isFalse();
    if (kind.equals("spin")) {
      assertThat(s.raw().toString()).doesNotContain("parked waiters");
    }
    assertThat(s.tryLockNanos(0)).isTrue();
    s.unlock();
  }

  static Thread startPlatform(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.start();
    return t;
  }
}
