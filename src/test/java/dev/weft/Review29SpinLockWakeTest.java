package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Review 29: the two wake sites of SpinLock that earlier reviews had not attacked.
 *
 * <ol>
 *   <li>{@code SpinLock.giveUp} / {@code wokenGivesUp} / {@code passSignalOn}: a waiter that
 *       gives up must not strand the others. Attacked near the end of the giving-up thread's
 *       stack (Review29SpinLockWakeMain, a fresh JVM per case), and by schedules paused at the
 *       protocol windows, between a signal and the woken waiter's next registration.
 *   <li>{@code SpinLockCondition}'s hand-on of a signal when the first waiter leaves (timeout,
 *       interrupt, an Error). Each schedule that is not specific to weft also runs against
 *       {@code ReentrantLock}'s Condition, the reference: a test that fails there is wrong.
 * </ol>
 *
 * <p>States that need an unlocker's store to stay invisible (the missed-wakeup race of the
 * algorithm notes) are simulated as SpinLockWakeAdversarialTest does: the owner field is set to
 * a thread that never runs, and cleared without an unlock.
 */
@Timeout(120)
// "try": window hooks act for a whole try block; the workload locks without try/finally on
// purpose (an unlock is often the step under test).
@SuppressWarnings({"try", "LockNotBeforeTry", "WaitNotInLoop"})
class Review29SpinLockWakeTest {

  private final SpinLock lock = new SpinLock();
  private final Map<String, Gate> gates = new ConcurrentHashMap<>();
  private final List<Thread> threads = new ArrayList<>();
  private final List<Runnable> rescues = new ArrayList<>();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();
  private final Thread fakeHolder = new Thread(() -> {}, "test-never-started-holder");

  // ---- harness ----

  /** A pause (or an injected error) of one thread at its {@code arrival}-th visit of a window. */
  static final class Gate {
    private final int arrival;
    private final @Nullable Error inject;
    private final AtomicInteger arrivals = new AtomicInteger();
    private final CountDownLatch arrived = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);

    Gate(int arrival, @Nullable Error inject) {
      this.arrival = arrival;
      this.inject = inject;
    }

    void pass() {
      if (arrivals.incrementAndGet() != arrival) {
        return;
      }
      arrived.countDown();
      Error e = inject;
      if (e != null) {
        throw e;
      }
      boolean interrupted = false;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      try {
        while (System.nanoTime() - deadline < 0) {
          try {
            if (release.await(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)) {
              return;
            }
          } catch (InterruptedException ie) {
            interrupted = true; // the protocol must see it after the window
          }
        }
      } finally {
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
        // The latch's own park may have eaten an unpark meant for the protocol's park right
        // after the window ("spinlock.park": a signal that came while paused): give the permit
        // back. At worst a spurious wake-up, which every park here tolerates.
        LockSupport.unpark(Thread.currentThread());
      }
    }

    void awaitArrival(String what) throws InterruptedException {
      assertThat(arrived.await(20, TimeUnit.SECONDS)).as("%s reached its window", what).isTrue();
    }

    void open() {
      release.countDown();
    }
  }

  private Gate gate(String window, String name, int arrival) {
    return gate(window, name, arrival, null);
  }

  private Gate gate(String window, String name, int arrival, @Nullable Error inject) {
    Gate g = new Gate(arrival, inject);
    gates.put(window + "@test-" + name, g);
    return g;
  }

  private AutoCloseable hooks() {
    return ProtocolWindows.install(
        w -> {
          Gate g = gates.get(w + "@" + Thread.currentThread().getName());
          if (g != null) {
            g.pass();
          }
        });
  }

  interface Body {
    void run() throws Exception;
  }

  private Thread start(String name, Body body) {
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
    threads.add(t);
    t.start();
    return t;
  }

  @AfterEach
  void releaseEverything() throws InterruptedException {
    ProtocolWindows.clear();
    gates.values().forEach(Gate::open);
    if (lock.owner == fakeHolder) {
      lock.owner = null;
      VarHandle.fullFence();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    for (Thread t : threads) {
      while (t.isAlive() && System.nanoTime() - deadline < 0) {
        rescues.forEach(Runnable::run);
        if (!lock.isHeldByCurrentThread() && lock.tryLock()) {
          lock.unlock(); // an unlock that sees the stack wakes a waiter a defect left parked
        }
        t.join(20);
      }
    }
    for (Thread t : threads) {
      assertThat(t.isAlive()).as("%s still running after the test", t.getName()).isFalse();
    }
  }

  private static boolean parked(Thread t) {
    Thread.State s = t.getState();
    return s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING;
  }

  private boolean hasWaitingNode(Thread t) {
    VarHandle.acquireFence();
    for (SpinLock.Waiter w = lock.waiters; w != null; w = w.nextAcquire()) {
      if (w.thread == t && !w.wasSignalled() && !w.hasLeft()) {
        return true;
      }
    }
    return false;
  }

  /** Bounded poll until {@code t} is parked on the lock with a WAITING node. */
  private void awaitParkedRegistered(Thread t) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!(hasWaitingNode(t) && parked(t) && LockSupport.getBlocker(t) == lock)) {
      assertThat(t.isAlive()).as("%s ended instead of parking: %s", t.getName(), describe())
          .isTrue();
      assertThat(System.nanoTime() - deadline < 0)
          .as("%s parked registered within 20 s: %s", t.getName(), describe())
          .isTrue();
      LockSupport.parkNanos(50_000L); // bounded poll of a thread state
    }
  }

  /** Bounded poll until {@code t} is parked with a blocker other than {@code not}. */
  private static void awaitParkedElsewhere(Thread t, Object not) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    for (;;) {
      Object b = LockSupport.getBlocker(t);
      if (parked(t) && b != null && b != not) {
        return;
      }
      assertThat(t.isAlive()).as("%s alive", t.getName()).isTrue();
      assertThat(System.nanoTime() - deadline < 0).as("%s parked on the lock", t.getName())
          .isTrue();
      LockSupport.parkNanos(50_000L);
    }
  }

  /** Bounded poll until {@code t} is parked with blocker {@code on}. */
  private static void awaitParkedOn(Thread t, Object on) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!(parked(t) && LockSupport.getBlocker(t) == on)) {
      assertThat(t.isAlive()).as("%s alive", t.getName()).isTrue();
      assertThat(System.nanoTime() - deadline < 0).as("%s parked on %s", t.getName(), on)
          .isTrue();
      LockSupport.parkNanos(50_000L);
    }
  }

  private String describe() {
    VarHandle.fullFence();
    StringBuilder sb = new StringBuilder();
    Thread o = lock.owner;
    sb.append("owner=").append(o == null ? "none" : o.getName());
    sb.append(" waking=").append(lock.waking);
    sb.append(" backstopHandedOn=").append(lock.backstopHandedOn);
    Thread h = lock.heir;
    sb.append(" heir=").append(h == null ? "none" : h.getName());
    sb.append(" nodes=[");
    for (SpinLock.Waiter w = lock.waiters; w != null; w = w.nextAcquire()) {
      sb.append(w.thread.getName())
          .append(w.hasLeft() ? ":LEFT" : w.wasSignalled() ? ":SIGNALLED" : ":WAITING")
          .append('(')
          .append(w.thread.getState())
          .append(") ");
    }
    return sb.append(']').toString();
  }

  // ---- 1. giveUp near the end of the stack (forked JVMs) ----

  /**
   * The exposed waiter D gives up (interrupted in lockInterruptibly, or its tryLock(5 ms) timing
   * out) at every depth of the last 300-600 frames of a 256 KiB stack, while W (platform, or
   * virtual on JDK 21+) is parked untimed above it: giveUp hands the backstop on and wakes W
   * (signalOne, "covered by the registration probe"), W parks again, and the holder's unlock
   * must then let W in. Held: JDK 17 (platform W; 4 runs) and JDK 25 (platform and virtual W;
   * 3 runs), each case a fresh JVM, 600-2,400 rounds per case, of which 490-2,100 (interrupt)
   * and 200-640 (timed) had W parked above D when D gave up; every StackOverflowError struck
   * before D registered (at the PARK_FRAMES probe), none on the give-up path after the park
   * (overflowedAfterParking=0), and W was never stranded, nor the lock left held.
   */
  @ParameterizedTest
  @CsvSource({"interrupt,platform", "interrupt,virtual", "timed,platform", "timed,virtual"})
  void held_giveUpNearTheStackEndWakesTheWaiterAbove(String mode, String waiter)
      throws Exception {
    if (waiter.equals("virtual")) {
      Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads");
    }
    Process p =
        new ProcessBuilder(
                System.getProperty("java.home") + "/bin/java",
                "-cp",
                System.getProperty("java.class.path"),
                Review29SpinLockWakeMain.class.getName(),
                mode,
                waiter,
                "4")
            .redirectErrorStream(true)
            .start();
    try {
      byte[] out = p.getInputStream().readAllBytes();
      assertThat(p.waitFor(100, TimeUnit.SECONDS)).as("the forked JVM ends").isTrue();
      String s = new String(out, StandardCharsets.UTF_8);
      System.out.println(s.lines().filter(l -> l.startsWith("RESULT")).findFirst().orElse(s));
      assertThat(p.exitValue()).as("exit 0 = W got the lock after every give-up; output:%n%s", s)
          .isZero();
    } finally {
      p.destroyForcibly();
    }
  }

  // ---- 2. a woken waiter gives up before it registers again ----

  /** How the woken waiter S leaves between its signal and its next registration. */
  enum Leave {
    /** lockInterruptibly, interrupted while paused at its post-wake spin. */
    INTERRUPT,
    /** tryLock(1 s), whose deadline passes while it is paused there. */
    TIMEOUT,
    /** lock(), and an Error (a StackOverflowError stand-in) thrown at its post-wake spin. */
    ERROR
  }

  /**
   * The stack, bottom first: E (exposed, the heir), C (untimed lock()), S. The lock is "held"
   * by a thread that never runs, standing for the missed-wakeup race: an unlock whose look at
   * the waiters came before E's push and whose release store is not visible yet. E is
   * interrupted: giveUp hands the backstop on (flag set) and signals S, the top. S is paused
   * at its second "spinlock.spin" (after the signal, before it registers again) and leaves
   * there. Then the release store becomes visible (owner cleared without an unlock). C, parked
   * without a timer, can now only be reached through S: S's pass-on wakes C, C finds the lock
   * held, registers again, takes the handed-on backstop and finds the lock free on its timer.
   */
  private void wokenWaiterLeavesBeforeRegistering(Leave leave) throws Exception {
    lock.owner = fakeHolder;
    VarHandle.fullFence();
    AtomicBoolean exposedGaveUp = new AtomicBoolean();
    AtomicReference<String> sLeft = new AtomicReference<>("not yet");
    AtomicBoolean coveredGotIt = new AtomicBoolean();
    try (AutoCloseable h = hooks()) {
      Gate exposedAtPark = gate("spinlock.park", "exposed", 1);
      Thread exposed =
          start(
              "exposed",
              () -> {
                try {
                  lock.lockInterruptibly();
                  lock.unlock();
                } catch (InterruptedException e) {
                  exposedGaveUp.set(true);
                }
              });
      exposedAtPark.awaitArrival("E");
      exposedAtPark.open();
      awaitParkedRegistered(exposed);
      Thread covered =
          start(
              "covered",
              () -> {
                lock.lock();
                coveredGotIt.set(true);
                lock.unlock();
              });
      awaitParkedRegistered(covered);
      Gate sWoken =
          gate(
              "spinlock.spin",
              "signalled",
              2,
              leave == Leave.ERROR ? new StackOverflowError("injected after the signal") : null);
      long sStart = System.nanoTime();
      Thread signalled =
          start(
              "signalled",
              () -> {
                try {
                  switch (leave) {
                    case INTERRUPT -> lock.lockInterruptibly();
                    case TIMEOUT -> {
                      if (!lock.tryLock(1, TimeUnit.SECONDS)) {
                        sLeft.set("timed out");
                        return;
                      }
                    }
                    case ERROR -> lock.lock();
                  }
                  sLeft.set("acquired");
                  lock.unlock();
                } catch (InterruptedException e) {
                  sLeft.set("interrupted");
                } catch (StackOverflowError e) {
                  sLeft.set("error");
                }
              });
      awaitParkedRegistered(signalled);
      exposed.interrupt(); // E gives up: hands the backstop on, signals S (the top)
      exposed.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(exposedGaveUp.get()).as("E gave up: %s", describe()).isTrue();
      sWoken.awaitArrival("S, woken");
      if (leave == Leave.INTERRUPT) {
        signalled.interrupt();
      } else if (leave == Leave.TIMEOUT) {
        long until = sStart + TimeUnit.MILLISECONDS.toNanos(1_020);
        while (System.nanoTime() - until < 0) {
          LockSupport.parkNanos(until - System.nanoTime()); // S's deadline must pass first
        }
      }
      sWoken.open();
      signalled.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(signalled.isAlive()).isFalse();
      assertThat(sLeft.get())
          .isEqualTo(
              switch (leave) {
                case INTERRUPT -> "interrupted";
                case TIMEOUT -> "timed out";
                case ERROR -> "error";
              });
      String before = describe();
      lock.owner = null; // the missed unlock's release store becomes visible
      VarHandle.fullFence();
      covered.join(2_000); // 2,000 times the 1 ms backstop
      assertThat(covered.isAlive())
          .as(
              "C still parked, the lock free, 2 s after S left (%s); before the release: %s;"
                  + " now: %s",
              leave, before, describe())
          .isFalse();
      assertThat(coveredGotIt.get()).isTrue();
    }
    assertThat(failure.get()).isNull();
  }

  /**
   * S, woken by E's hand-on, is interrupted, or times out, before it registers again:
   * wokenGivesUp passes the signal on, and C takes over the backstop. Held on JDK 17 and 25.
   */
  @ParameterizedTest
  @EnumSource(
      value = Leave.class,
      names = {"INTERRUPT", "TIMEOUT"})
  void held_aWokenWaiterThatGivesUpBeforeRegisteringPassesTheBackstopOn(Leave leave)
      throws Exception {
    wokenWaiterLeavesBeforeRegistering(leave);
  }

  /**
   * Same schedule with an Error as S's way out (injected at its second "spinlock.spin"), under
   * the simulated missed-wakeup race: C is stranded (see the defect test below, which needs no
   * simulation, for the reading). Kept as a second witness. Failed 7 of 7 runs on JDK 17 and
   * 3 of 3 on JDK 25 in the review (1 of 1 each again in session 29 before the fix); fixed in
   * session 29 (acquireWait's outer handler passes the signal on).
   */
  @Test
  void fixed_aWokenWaiterThatDiesOfAnErrorBeforeRegisteringDropsTheHandedOnBackstop()
      throws Exception {
    wokenWaiterLeavesBeforeRegistering(Leave.ERROR);
  }

  /**
   * Real lock, no simulated race. The holder H (the test thread) holds the lock; the stack,
   * bottom first, is E (exposed, lockInterruptibly, the heir), C (untimed lock()), S (top). S is
   * paused at "spinlock.park": registered, not parked yet. E is interrupted: giveUp hands the
   * backstop on and signals S (the top: popped, SIGNALLED, unparked; `waking` set). H unlocks:
   * the lock is now free, and H's signalOne skips its wake-up, since S's is in flight (as the
   * algorithm notes intend: "the pending one will take the lock or park again"). S then runs,
   * clears `waking`, and leaves before it has taken the lock or registered again:
   * <ul>
   *   <li>INTERRUPT (the interrupt is seen right after the wake): passSignalOn wakes C, which
   *       takes the free lock. Held.
   *   <li>ERROR (thrown at its post-wake spin): nothing is passed on, and C, the only waiter
   *       left, sleeps without a timer while the lock is free, with nobody to wake it; the
   *       handed-on backstop sits in `backstopHandedOn` with no registration to take it.
   * </ul>
   */
  private void wakeInFlightThenTheWokenWaiterLeaves(Leave leave) throws Exception {
    AtomicBoolean exposedGaveUp = new AtomicBoolean();
    AtomicReference<String> sLeft = new AtomicReference<>("not yet");
    AtomicBoolean coveredGotIt = new AtomicBoolean();
    lock.lock();
    try (AutoCloseable h = hooks()) {
      Thread exposed =
          start(
              "exposed",
              () -> {
                try {
                  lock.lockInterruptibly();
                  lock.unlock();
                } catch (InterruptedException e) {
                  exposedGaveUp.set(true);
                }
              });
      awaitParkedRegistered(exposed);
      Thread covered =
          start(
              "covered",
              () -> {
                lock.lock();
                coveredGotIt.set(true);
                lock.unlock();
              });
      awaitParkedRegistered(covered);
      Gate sAtPark = gate("spinlock.park", "signalled", 1);
      gate(
          "spinlock.spin",
          "signalled",
          2,
          leave == Leave.ERROR ? new StackOverflowError("injected after the signal") : null);
      Thread signalled =
          start(
              "signalled",
              () -> {
                try {
                  if (leave == Leave.INTERRUPT) {
                    lock.lockInterruptibly();
                  } else {
                    lock.lock();
                  }
                  sLeft.set("acquired");
                  lock.unlock();
                } catch (InterruptedException e) {
                  sLeft.set("interrupted");
                } catch (StackOverflowError e) {
                  sLeft.set("error");
                }
              });
      sAtPark.awaitArrival("S, registered");
      assertThat(hasWaitingNode(signalled)).as("S registered: %s", describe()).isTrue();
      exposed.interrupt(); // E gives up: hands the backstop on and signals S, the top
      exposed.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(exposedGaveUp.get()).as("E gave up: %s", describe()).isTrue();
      VarHandle.fullFence();
      assertThat(lock.waking).as("S's wake-up in flight: %s", describe()).isTrue();
      lock.unlock(); // H: the lock is free; its wake-up is skipped (one is in flight)
      if (leave == Leave.INTERRUPT) {
        signalled.interrupt(); // kept by the gate, seen right after S's wake-up
      }
      sAtPark.open();
      signalled.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(signalled.isAlive()).isFalse();
      assertThat(sLeft.get()).isEqualTo(leave == Leave.INTERRUPT ? "interrupted" : "error");
      covered.join(2_000); // 2,000 times the 1 ms backstop
      assertThat(covered.isAlive())
          .as("C still parked, the lock free, 2 s after S left (%s): %s", leave, describe())
          .isFalse();
      assertThat(coveredGotIt.get()).isTrue();
    }
    assertThat(failure.get()).isNull();
  }

  /** See {@link #wakeInFlightThenTheWokenWaiterLeaves}: the interrupted S passes it on. */
  @Test
  void held_aWokenWaiterInterruptedWhileTheHoldersWakeWasSkippedPassesTheSignalOn()
      throws Exception {
    wakeInFlightThenTheWokenWaiterLeaves(Leave.INTERRUPT);
  }

  /**
   * FIXED in session 29 (was a defect; failed 4 of 4 runs on JDK 17 and 2 of 2 on JDK 25 in the
   * review, 1 of 1 each in session 29 before the fix). Schedule in {@link
   * #wakeInFlightThenTheWokenWaiterLeaves}: E (exposed) gives up
   * while H holds the lock and wakes S; H unlocks while S's wake-up is in flight, so H wakes
   * nobody; S runs, clears `waking` (SpinLock.java acquireWait, the setWakingRelease(false)
   * after the registered loop) and then dies of an Error before it takes the lock or registers
   * again. C is left parked without a timer, the lock free, `waking` clear, and
   * `backstopHandedOn` true with no registration coming. Failed 4 of 4 runs on JDK 17 and 2 of
   * 2 on JDK 25 (C WAITING on the lock, nodes=[C:WAITING], owner=none, waking=false,
   * backstopHandedOn=true, 2 s after S left).
   *
   * <p>Cause: from the signal to the next registration (phases 1, 2 and 3a of acquireWait, the
   * re-registration probe {@code StackHeadroom.ensure(PARK_FRAMES)} and {@code new Waiter(me)}),
   * only interrupts and timeouts pass the signal on (wokenGivesUp, passSignalOn); an Error
   * there (an OutOfMemoryError from {@code new Waiter}, a StackOverflowError from the probe if
   * acquireWait's frame grew since the first one, e.g. after a deoptimisation, or from a virtual
   * thread's lost-race park) propagates from outside the registered loop's catch, and nobody
   * takes over the wake-up that the holder's unlock skipped for it. Here the Error is injected
   * at the window (the library's hooks run on the waiter's own thread).
   *
   * <p>Fix (as suggested): every way out of the woken window passes the signal on: acquireWait's
   * outer loop is wrapped in {@code try { ... } catch (Throwable t) { if (woken) passSignalOn();
   * throw t; }} ({@code woken} is false while registered, where abandon already passes it on),
   * and {@code woken} is set right after {@code waking} is cleared.
   */
  @Test
  void fixed_anErrorInTheWokenWindowAfterASkippedWakeStrandsTheNextWaiter() throws Exception {
    wakeInFlightThenTheWokenWaiterLeaves(Leave.ERROR);
  }

  // ---- 3. SpinLockCondition: a signal racing the first waiter's departure ----

  /** The lock under test; ReentrantLock is the reference for the Condition contract. */
  enum Kind {
    SPIN_LOCK,
    TICKET_LOCK,
    REENTRANT_LOCK
  }

  private Lock lockOf(Kind kind) {
    return switch (kind) {
      case SPIN_LOCK -> lock;
      case TICKET_LOCK -> new TicketLock();
      case REENTRANT_LOCK -> new ReentrantLock();
    };
  }

  /**
   * W1 await(30 ms) then W2 await(): the holder keeps the lock past W1's deadline, so W1 has
   * timed out and waits for the lock; then one signal(). It must reach W2 (W1 gave up before
   * the signal, as ReentrantLock's reference run shows). Held for SpinLock, TicketLock and the
   * reference, JDK 17 and 25.
   */
  @ParameterizedTest
  @EnumSource(Kind.class)
  void held_aSignalSkipsAWaiterThatTimedOutAndReachesTheNext(Kind kind) throws Exception {
    Lock l = lockOf(kind);
    Condition c = l.newCondition();
    AtomicReference<String> w1 = new AtomicReference<>("running");
    AtomicReference<String> w2 = new AtomicReference<>("running");
    rescues.add(() -> signalAllIfFree(l, c));
    Thread t1 =
        start(
            "w1",
            () -> {
              l.lock();
              try {
                w1.set(c.await(30, TimeUnit.MILLISECONDS) ? "signalled" : "timed out");
              } finally {
                l.unlock();
              }
            });
    awaitParkedOn(t1, c);
    Thread t2 =
        start(
            "w2",
            () -> {
              l.lock();
              try {
                c.await();
                w2.set("signalled");
              } finally {
                l.unlock();
              }
            });
    awaitParkedOn(t2, c);
    l.lock();
    try {
      awaitParkedElsewhere(t1, c); // timed out, waiting for the lock we hold
      c.signal();
    } finally {
      l.unlock();
    }
    t1.join(10_000);
    t2.join(10_000);
    assertThat(w1.get()).isEqualTo("timed out");
    assertThat(w2.get()).as("the one signal reached W2").isEqualTo("signalled");
    assertThat(failure.get()).isNull();
  }

  private static void signalAllIfFree(Lock l, Condition c) {
    if (l.tryLock()) {
      try {
        c.signalAll();
      } finally {
        l.unlock();
      }
    }
  }

  /**
   * The signaller pauses at "condition.unparked" (W1 unparked, not yet marked) and interrupts
   * W1 there, then waits until W1 has passed its cancelling CAS ("condition.before-reacquire")
   * before it marks. Exactly one of W1 and W2 must take the signal: W1 (returns normally, the
   * interrupt kept as status) if its wake-up read no interrupt, else W2, with W1 throwing
   * InterruptedException. Held on JDK 17 and 25 (W1 saw the interrupt in most runs, so the
   * signal went on to W2).
   */
  @Test
  void held_aSignalRacingAnInterruptOfTheFirstWaiterReachesExactlyOne() throws Exception {
    Condition c = lock.newCondition();
    rescues.add(() -> signalAllIfFree(lock, c));
    AtomicReference<String> w1 = new AtomicReference<>("running");
    AtomicBoolean w2Signalled = new AtomicBoolean();
    CountDownLatch w1Decided = new CountDownLatch(1);
    AtomicReference<@Nullable Thread> first = new AtomicReference<>();
    AtomicInteger unparkedVisits = new AtomicInteger();
    Thread signaller = Thread.currentThread();
    try (AutoCloseable h =
        ProtocolWindows.install(
            w -> {
              Thread me = Thread.currentThread();
              if (w.equals("condition.before-reacquire") && me == first.get()) {
                w1Decided.countDown();
              } else if (w.equals("condition.unparked")
                  && me == signaller
                  && unparkedVisits.incrementAndGet() == 1) {
                Thread t = first.get();
                if (t != null) {
                  t.interrupt();
                }
                try {
                  if (!w1Decided.await(20, TimeUnit.SECONDS)) {
                    failure.compareAndSet(null, new AssertionError("W1 never woke"));
                  }
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            })) {
      Thread t1 =
          start(
              "w1",
              () -> {
                lock.lock();
                try {
                  c.await();
                  w1.set(Thread.interrupted() ? "signalled, interrupt kept" : "signalled");
                } catch (InterruptedException e) {
                  w1.set("interrupted");
                } finally {
                  lock.unlock();
                }
              });
      first.set(t1);
      awaitParkedOn(t1, c);
      Thread t2 =
          start(
              "w2",
              () -> {
                lock.lock();
                try {
                  c.await();
                  w2Signalled.set(true);
                } finally {
                  lock.unlock();
                }
              });
      awaitParkedOn(t2, c);
      lock.lock();
      try {
        c.signal();
      } finally {
        lock.unlock();
      }
      t1.join(10_000);
      assertThat(t1.isAlive()).isFalse();
      if (w1.get().equals("interrupted")) {
        t2.join(10_000); // no second signal: the first one must have gone on to W2
        assertThat(w2Signalled.get()).as("W1 cancelled: the signal went on to W2").isTrue();
      } else {
        assertThat(w1.get()).isEqualTo("signalled, interrupt kept");
        lock.lock();
        try {
          assertThat(((SpinLockCondition) c).queuedCount()).as("W2 still queued").isEqualTo(1);
          c.signal();
        } finally {
          lock.unlock();
        }
        t2.join(10_000);
        assertThat(w2Signalled.get()).isTrue();
      }
      System.out.println("Review29 condition race: W1 " + w1.get());
    }
    assertThat(failure.get()).isNull();
  }

  /**
   * A signalled condition waiter W1 whose re-acquisition throws (a StackOverflowError stand-in
   * injected at the named window: before the re-lock, or in the SpinLock's spin inside it) must
   * pass the signal on to W2 (leaveAfterError) and still return holding the lock. Held on
   * JDK 17 and 25.
   */
  @ParameterizedTest
  @ValueSource(strings = {"condition.before-reacquire", "spinlock.spin"})
  void held_aSignalledConditionWaiterThatThrowsPassesTheSignalOn(String window)
      throws Exception {
    Condition c = lock.newCondition();
    rescues.add(() -> signalAllIfFree(lock, c));
    AtomicReference<String> w1 = new AtomicReference<>("running");
    AtomicBoolean w2Signalled = new AtomicBoolean();
    try (AutoCloseable h = hooks()) {
      Thread t1 =
          start(
              "w1",
              () -> {
                lock.lock();
                try {
                  c.await();
                  w1.set("returned");
                } catch (StackOverflowError e) {
                  w1.set(lock.isHeldByCurrentThread() ? "threw, holding" : "threw, not holding");
                } finally {
                  if (lock.isHeldByCurrentThread()) {
                    lock.unlock();
                  }
                }
              });
      awaitParkedOn(t1, c);
      Thread t2 =
          start(
              "w2",
              () -> {
                lock.lock();
                try {
                  c.await();
                  w2Signalled.set(true);
                } finally {
                  lock.unlock();
                }
              });
      awaitParkedOn(t2, c);
      // W1's first visit of the window after the signal: before-reacquire is visited once per
      // wake-up; the spin only in the re-lock (W1 never spun before: it held the lock).
      gate(window, "w1", 1, new StackOverflowError("injected in the re-acquisition"));
      lock.lock();
      try {
        c.signal();
        awaitParkedElsewhere(t1, c); // W1 spins, throws, and waits for the lock in its clean-up
      } finally {
        lock.unlock();
      }
      t1.join(10_000);
      t2.join(10_000); // no second signal
      assertThat(w1.get()).isEqualTo("threw, holding");
      assertThat(w2Signalled.get()).as("W1's signal passed on to W2").isTrue();
    }
    assertThat(failure.get()).isNull();
  }
}
