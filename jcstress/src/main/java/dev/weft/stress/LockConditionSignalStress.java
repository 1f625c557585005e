package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.SpinLock;
import dev.weft.TicketLock;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * The {@code Condition} of {@link SpinLock} and {@link TicketLock} (session 21: signal wakes the
 * waiter before it marks it, and every wake-up is decided under the lock). Two guarantees, one
 * test each, for both locks: no lost signal (the "ready" handshake always ends, whether the
 * signal comes before, during or after the waiter's check), and what the signaller wrote before
 * its signal is visible to the waiter that the signal woke.
 */
public class LockConditionSignalStress {
  private LockConditionSignalStress() {}

  /** The handshake's state; {@code ready} and {@code data} are guarded by the lock. */
  abstract static class Handshake {
    final Lock lock;
    final Condition cond;
    boolean ready;
    int data;

    Handshake(Lock lock) {
      this.lock = lock;
      this.cond = lock.newCondition();
    }

    void awaitReady() {
      // Some setup work, so that the signal often comes before the wait, and often during it.
      for (int i = 0; i < 50_000; i++) {
        Thread.onSpinWait();
      }
      lock.lock();
      try {
        while (!ready) {
          cond.awaitUninterruptibly();
        }
      } finally {
        lock.unlock();
      }
    }

    void publishAndSignal() {
      lock.lock();
      try {
        data = 42;
        ready = true;
        cond.signal();
      } finally {
        lock.unlock();
      }
    }

    int readAfterWait() {
      lock.lock();
      try {
        while (!ready) {
          cond.awaitUninterruptibly();
        }
        return data;
      } finally {
        lock.unlock();
      }
    }
  }

  /** TicketLock: the waiter always wakes. */
  @JCStressTest(Mode.Termination)
  @Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the waiter saw ready or was woken")
  @Outcome(id = "STALE", expect = FORBIDDEN, desc = "lost signal: the waiter sleeps forever")
  @State
  public static class TicketNoLostSignal extends Handshake {
    public TicketNoLostSignal() {
      super(new TicketLock());
    }

    @Actor
    public void waiter() {
      awaitReady();
    }

    @Signal
    public void signal() {
      publishAndSignal();
    }
  }

  /** SpinLock: the waiter always wakes. */
  @JCStressTest(Mode.Termination)
  @Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the waiter saw ready or was woken")
  @Outcome(id = "STALE", expect = FORBIDDEN, desc = "lost signal: the waiter sleeps forever")
  @State
  public static class SpinNoLostSignal extends Handshake {
    public SpinNoLostSignal() {
      super(new SpinLock());
    }

    @Actor
    public void waiter() {
      awaitReady();
    }

    @Signal
    public void signal() {
      publishAndSignal();
    }
  }

  /**
   * TicketLock: the waiter woken by the signal sees the data written before it (r1 = 42), and
   * the arbiter, after both, sees the flag (r2 = 1).
   */
  @JCStressTest
  @Outcome(id = "42, 1", expect = ACCEPTABLE, desc = "the signal's writes are visible")
  @Outcome(expect = FORBIDDEN, desc = "a write before the signal is not visible after the wait")
  @State
  public static class TicketVisibility extends Handshake {
    public TicketVisibility() {
      super(new TicketLock());
    }

    @Actor
    public void waiter(II_Result r) {
      r.r1 = readAfterWait();
    }

    @Actor
    public void signaller() {
      publishAndSignal();
    }

    @Arbiter
    public void after(II_Result r) {
      lock.lock();
      try {
        r.r2 = ready ? 1 : 0;
      } finally {
        lock.unlock();
      }
    }
  }

  /** SpinLock: as {@link TicketVisibility}. */
  @JCStressTest
  @Outcome(id = "42, 1", expect = ACCEPTABLE, desc = "the signal's writes are visible")
  @Outcome(expect = FORBIDDEN, desc = "a write before the signal is not visible after the wait")
  @State
  public static class SpinVisibility extends Handshake {
    public SpinVisibility() {
      super(new SpinLock());
    }

    @Actor
    public void waiter(II_Result r) {
      r.r1 = readAfterWait();
    }

    @Actor
    public void signaller() {
      publishAndSignal();
    }

    @Arbiter
    public void after(II_Result r) {
      lock.lock();
      try {
        r.r2 = ready ? 1 : 0;
      } finally {
        lock.unlock();
      }
    }
  }
}
