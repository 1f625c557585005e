package dev.weft.bench;

import dev.weft.SpinLock;
import dev.weft.TicketLock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Wake-up / hand-off latency, tails included (issue #20): {@link CondvarBench}'s ping-pong in
 * JMH's {@code SampleTime} mode, so the report shows the distribution (p50 … p99.99, max) of
 * one round trip rather than its mean, plus {@code SpinLock} and {@code TicketLock} conditions.
 *
 * <p>One sample is one round trip: ping waits for its turn, passes the turn to pong and wakes
 * it; pong (a plain thread that lives for the whole trial) wakes, passes the turn back and wakes
 * ping. In steady state each waiter is parked when it is signalled, so a sample is two
 * hand-offs, each from the signaller's {@code unlock()} (or the signal inside the lock) to the
 * parked waiter running again, plus the lock operations around them. This measures the round
 * trip, not the one-way time from {@code unlock()} to the waiter running that the issue names:
 * a one-way time would need per-operation {@code System.nanoTime} stamps passed through the
 * shared state and a histogram of their own, which JMH's JSON (and so the report) cannot carry;
 * a round trip is two such hand-offs and JMH records its percentiles. Halve it for an
 * estimate of one hand-off, which is only fair when both directions cost the same (they do
 * here: ping and pong run the same step).
 *
 * <p>The weft {@code Condvar}, {@code Mutex.awaitThen} ({@code weftAutoSignal}), {@code
 * ReentrantLock} + {@code Condition} ({@code jucCondition}) and {@code synchronized} + {@code
 * wait/notify} ({@code monitor}) states are {@link CondvarBench}'s own, so both classes measure
 * the same code; the {@code SpinLock} and {@code TicketLock} condition states follow {@link
 * CondvarBench.Juc} with the lock replaced. Issue #20 goal: hand-off p99 of {@code Condvar} and
 * {@code awaitThen} &le; {@code Condition}'s p50.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class HandoffLatencyBench {

  @Benchmark
  public void weftCondvar(CondvarBench.WeftCondvar s) throws InterruptedException {
    s.roundTrip();
  }

  @Benchmark
  public void weftAutoSignal(CondvarBench.WeftAuto s) throws InterruptedException {
    s.roundTrip();
  }

  @Benchmark
  public void weftSpinLockCondition(SpinLockCond s) throws InterruptedException {
    s.roundTrip();
  }

  @Benchmark
  public void weftTicketLockCondition(TicketLockCond s) throws InterruptedException {
    s.roundTrip();
  }

  @Benchmark
  public void jucCondition(CondvarBench.Juc s) throws InterruptedException {
    s.roundTrip();
  }

  @Benchmark
  public void monitor(CondvarBench.Monitor s) throws InterruptedException {
    s.roundTrip();
  }

  /** {@link CondvarBench.Juc}'s step over any {@link Lock} and its condition. */
  abstract static class LockCond {
    final Lock lock;
    final Condition cond;
    int turn;
    boolean stopping;
    Thread pong = Thread.currentThread();

    LockCond(Lock lock) {
      this.lock = lock;
      this.cond = lock.newCondition();
    }

    void startPong(String name) {
      pong = CondvarBench.startPong(name, this::pongLoop);
    }

    void pongLoop() {
      try {
        while (true) {
          lock.lock();
          try {
            while (turn != 1 && !stopping) {
              cond.await();
            }
            if (stopping) {
              return;
            }
            turn = 0;
            cond.signal();
          } finally {
            lock.unlock();
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void roundTrip() throws InterruptedException {
      lock.lock();
      try {
        while (turn != 0) {
          cond.await();
        }
        turn = 1;
        cond.signal();
      } finally {
        lock.unlock();
      }
    }

    void stopPong() throws InterruptedException {
      lock.lock();
      try {
        stopping = true;
        cond.signalAll();
      } finally {
        lock.unlock();
      }
      CondvarBench.join(pong);
    }
  }

  /** {@link SpinLock#newCondition()}. */
  @State(Scope.Benchmark)
  public static class SpinLockCond extends LockCond {
    public SpinLockCond() {
      super(new SpinLock());
    }

    @Setup(Level.Trial)
    public void start() {
      startPong("weftSpinLockCondition");
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
      stopPong();
    }
  }

  /** {@link TicketLock#newCondition()}. */
  @State(Scope.Benchmark)
  public static class TicketLockCond extends LockCond {
    public TicketLockCond() {
      super(new TicketLock());
    }

    @Setup(Level.Trial)
    public void start() {
      startPong("weftTicketLockCondition");
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
      stopPong();
    }
  }
}
