package dev.weft;

import static dev.weft.SpinLockContractTest.join;
import static dev.weft.SpinLockContractTest.start;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Deadlines and interrupts are honoured by every phase of a wait of {@link SpinLock}, {@link
 * TicketLock} and their {@link Condition}: against holders that keep re-taking the lock
 * (barging, or re-queueing for the fair lock), an interrupt that arrives in the spin, yield or
 * park phase (injected through {@link ProtocolWindows} at the phase's window) ends an
 * interruptible wait within {@link #BOUND_NANOS}, and a waiter delayed in a phase past its
 * deadline returns within {@link #BOUND_NANOS} of the later of the deadline and the delay.
 *
 * <p>The documented bound (SpinLock and TicketLock Javadoc, "Timeouts and interrupts"): a timed
 * or interruptible acquisition notices its deadline or interrupt after at most one spin phase
 * and its yields (tens of microseconds on an idle machine, up to a scheduler time slice per
 * yield when the cores are busy). {@link #BOUND_NANOS} is 150 ms only because this 2-core CI
 * machine runs other builds beside the tests.
 */
@Timeout(60)
// Bargers run for the try block, which does not refer to them; lock()/unlock() pairs in loops.
@SuppressWarnings({"try", "LockNotBeforeTry"})
class LockDeadlineTest {
  static final long BOUND_NANOS = TimeUnit.MILLISECONDS.toNanos(150);
  static final long HOLD_NANOS = TimeUnit.MICROSECONDS.toNanos(1500); // > the 1 ms backstop

  static Stream<Arguments> phases() {
    Stream<Arguments> all =
        Stream.of(
            Arguments.of("SpinLock", "spinlock.spin"),
            Arguments.of("SpinLock", "spinlock.yield"),
            Arguments.of("SpinLock", "spinlock.park"),
            Arguments.of("SpinLock", "spinlock.backstop-wake"),
            Arguments.of("SpinLock", "spinlock.lost-race-park"),
            Arguments.of("TicketLock", "ticketlock.yield"),
            Arguments.of("TicketLock", "ticketlock.spin"),
            Arguments.of("TicketLock", "ticketlock.park"));
    // A platform thread that has registered is handed the lock (issue 20) and never takes the
    // lost-race park, so that window is reached only with hand-over off: this class runs again
    // in the surefire execution spinlock-hand-over-off.
    return SpinBackoff.HAND_OVER_AFTER_NANOS < 0L
        ? all
        : all.filter(a -> !"spinlock.lost-race-park".equals(a.get()[1]));
  }

  static Lock newLock(String kind) {
    return kind.equals("SpinLock") ? new SpinLock() : new TicketLock();
  }

  /**
   * Threads that keep re-taking the lock: each holds it for {@link #HOLD_NANOS} (busy, so the
   * backstop and the yield phases are reached), releases it and at once asks for it again.
   */
  static final class Bargers implements AutoCloseable {
    final AtomicBoolean stop = new AtomicBoolean();
    final AtomicReference<Throwable> failure = new AtomicReference<>();
    final List<Thread> threads = new ArrayList<>();

    Bargers(Lock lock, int n) {
      for (int i = 0; i < n; i++) {
        threads.add(
            start(
                "barger-" + i,
                () -> {
                  while (!stop.get()) {
                    lock.lock();
                    try {
                      long until = System.nanoTime() + HOLD_NANOS;
                      while (System.nanoTime() - until < 0L) {
                        Thread.onSpinWait();
                      }
                    } finally {
                      lock.unlock();
                    }
                  }
                },
                failure));
      }
    }

    @Override
    public void close() throws InterruptedException {
      stop.set(true);
      join(threads.toArray(new Thread[0]));
      assertThat(failure.get()).isNull();
    }
  }

  /** An interruptible or timed acquisition. */
  interface Acquire {
    boolean run(Lock lock) throws InterruptedException;
  }

  static final List<Acquire> INTERRUPTIBLE =
      List.of(
          l -> {
            l.lockInterruptibly();
            return true;
          },
          l -> l.tryLock(20, TimeUnit.SECONDS));

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("phases")
  void anInterruptInEveryPhaseEndsTheWaitWithinTheBound(String kind, String phase)
      throws Exception {
    for (Acquire acquire : INTERRUPTIBLE) {
      Lock lock = newLock(kind);
      AtomicReference<Thread> target = new AtomicReference<>();
      AtomicLong firedAt = new AtomicLong();
      AtomicLong returnedAt = new AtomicLong();
      AtomicReference<String> outcome = new AtomicReference<>("window never reached");
      AtomicReference<Throwable> failure = new AtomicReference<>();
      AutoCloseable hook =
          ProtocolWindows.install(
              w -> {
                if (w.equals(phase)
                    && Thread.currentThread() == target.get()
                    && firedAt.compareAndSet(0L, System.nanoTime())) {
                  Thread.currentThread().interrupt();
                }
              });
      try (Bargers b = new Bargers(lock, kind.equals("SpinLock") ? 1 : 2)) {
        Thread t =
            start(
                "interrupted-waiter",
                () -> {
                  target.set(Thread.currentThread());
                  // Until the window is reached: a wait that gets the lock first starts again.
                  while (firedAt.get() == 0L) {
                    try {
                      boolean got = acquire.run(lock);
                      if (firedAt.get() != 0L) {
                        // Acquired in the same step as the interrupt (ReentrantLock does the
                        // same): allowed, with the interrupt kept as status.
                        returnedAt.set(System.nanoTime());
                        outcome.set(
                            !got ? "timed out"
                                : Thread.interrupted() ? "acquired, status kept"
                                : "acquired, interrupt LOST");
                      }
                      if (got) {
                        lock.unlock();
                      }
                    } catch (InterruptedException e) {
                      returnedAt.set(System.nanoTime());
                      outcome.set(
                          Thread.currentThread().isInterrupted()
                              ? "interrupted, status still set"
                              : "interrupted");
                    }
                  }
                },
                failure);
        join(t);
        assertThat(failure.get()).isNull();
      } finally {
        hook.close();
      }
      assertThat(outcome.get())
          .as("%s: interrupted in %s", kind, phase)
          .isIn("interrupted", "acquired, status kept");
      assertThat(returnedAt.get() - firedAt.get())
          .as("%s: from the interrupt in %s to the return", kind, phase)
          .isLessThan(BOUND_NANOS);
      assertThat(lock.tryLock(5, TimeUnit.SECONDS)).as("the lock still works").isTrue();
      lock.unlock();
    }
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("phases")
  void anInterruptInEveryPhaseOfLockIsKeptAndTheLockAcquired(String kind, String phase)
      throws Exception {
    Lock lock = newLock(kind);
    AtomicReference<Thread> target = new AtomicReference<>();
    AtomicBoolean fired = new AtomicBoolean();
    AtomicBoolean statusKept = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AutoCloseable hook =
        ProtocolWindows.install(
            w -> {
              if (w.equals(phase)
                  && Thread.currentThread() == target.get()
                  && fired.compareAndSet(false, true)) {
                Thread.currentThread().interrupt();
              }
            });
    try (Bargers b = new Bargers(lock, kind.equals("SpinLock") ? 1 : 2)) {
      Thread t =
          start(
              "uninterruptible-waiter",
              () -> {
                target.set(Thread.currentThread());
                while (!fired.get()) {
                  lock.lock();
                  lock.unlock();
                }
                statusKept.set(Thread.interrupted());
              },
              failure);
      join(t);
      assertThat(failure.get()).isNull();
    } finally {
      hook.close();
    }
    assertThat(statusKept).as("%s: interrupt in %s kept as status", kind, phase).isTrue();
  }

  static Stream<Arguments> delayablePhases() {
    // Not the park windows: a thread delayed just before parking (preempted there) then parks
    // for the time it computed before the delay; that is preemption, not a missed deadline.
    return phases().filter(a -> !((String) a.get()[1]).endsWith("park"));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("delayablePhases")
  void aTimedWaitDelayedInAPhasePastItsDeadlineReturnsWithinTheBound(String kind, String phase)
      throws Exception {
    Lock lock = newLock(kind);
    long timeout = TimeUnit.MILLISECONDS.toNanos(20);
    long delay = TimeUnit.MILLISECONDS.toNanos(40);
    AtomicReference<Thread> target = new AtomicReference<>();
    AtomicLong delayEnd = new AtomicLong();
    AtomicLong overrun = new AtomicLong(-1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AutoCloseable hook =
        ProtocolWindows.install(
            w -> {
              if (w.equals(phase)
                  && Thread.currentThread() == target.get()
                  && delayEnd.get() == 0L) {
                long end = System.nanoTime() + delay;
                delayEnd.set(end);
                while (System.nanoTime() - end < 0L) {
                  LockSupport.parkNanos(end - System.nanoTime()); // the "preemption"
                }
              }
            });
    try (Bargers b = new Bargers(lock, kind.equals("SpinLock") ? 1 : 2)) {
      Thread t =
          start(
              "delayed-waiter",
              () -> {
                target.set(Thread.currentThread());
                while (overrun.get() < 0L) {
                  long start = System.nanoTime();
                  boolean got = lock.tryLock(timeout, TimeUnit.NANOSECONDS);
                  long end = System.nanoTime();
                  if (got) {
                    lock.unlock();
                  }
                  if (delayEnd.get() != 0L) {
                    overrun.set(end - Math.max(start + timeout, delayEnd.get()));
                  }
                }
              },
              failure);
      join(t);
      assertThat(failure.get()).isNull();
    } finally {
      hook.close();
    }
    assertThat(overrun.get())
        .as("%s: return after the later of deadline and a delay in %s", kind, phase)
        .isLessThan(BOUND_NANOS);
  }

  /**
   * A timed tryLock against holders that keep re-taking the lock returns within the timeout
   * plus the bound, every time.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("kinds")
  void timedTryLockAgainstBargingHoldersReturnsWithinTheTimeoutPlusTheBound(String kind)
      throws Exception {
    Lock lock = newLock(kind);
    long timeout = TimeUnit.MILLISECONDS.toNanos(5);
    long worst = 0L;
    try (Bargers b = new Bargers(lock, 2)) {
      for (int i = 0; i < 50; i++) {
        long start = System.nanoTime();
        if (lock.tryLock(timeout, TimeUnit.NANOSECONDS)) {
          lock.unlock();
        }
        worst = Math.max(worst, System.nanoTime() - start - timeout);
      }
    }
    assertThat(worst).as("%s: worst overrun", kind).isLessThan(BOUND_NANOS);
  }

  /**
   * TicketLock's condition: the re-acquire after a timed await is FIFO, so against re-queueing
   * holders it takes at most their holds. (SpinLock is unfair: a barging holder can delay the
   * re-acquire indefinitely, as for an unfair ReentrantLock; see ConditionContractTest.)
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("kinds")
  void timedAwaitAgainstReQueueingHoldersReturnsWithinTheTimeoutPlusTheirHolds(String kind)
      throws Exception {
    if (!kind.equals("TicketLock")) {
      return;
    }
    Lock lock = newLock(kind);
    Condition c = lock.newCondition();
    long timeout = TimeUnit.MILLISECONDS.toNanos(10);
    long worst = 0L;
    try (Bargers b = new Bargers(lock, 2)) {
      for (int i = 0; i < 10; i++) {
        lock.lock();
        try {
          long start = System.nanoTime();
          assertThat(c.await(timeout, TimeUnit.NANOSECONDS)).isFalse();
          worst = Math.max(worst, System.nanoTime() - start - timeout);
        } finally {
          lock.unlock();
        }
      }
    }
    assertThat(worst).as("worst overrun of await").isLessThan(BOUND_NANOS);
  }

  static Stream<String> kinds() {
    return Stream.of("SpinLock", "TicketLock");
  }
}
