package dev.weft.bench;

import dev.weft.SpinLock;
import dev.weft.TicketLock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.StampedLock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link SpinLock} and {@link TicketLock} against the JDK's locks, in one run: uncontended
 * lock+unlock (1 thread), a short critical section under contention (2 threads), and the same
 * oversubscribed (4 threads; on a 2-core machine that is more threads than cores, where a
 * lock that only spins collapses). The critical section increments a shared counter.
 *
 * <p>Each {@code lock} value runs in its own fork, so the call through {@link Locker} is
 * monomorphic and inlined. Issue goals (SpinLock): uncontended &ge; 1.3&times; ReentrantLock,
 * 2 threads &ge; 2&times; unfair ReentrantLock, oversubscribed &ge; 0.9&times; ReentrantLock;
 * (TicketLock): oversubscribed &ge; 1.0&times; fair ReentrantLock. Fairness (per-thread share,
 * longest wait) is measured by {@link TicketLockFairnessBench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SpinLockBench {

  /** The lock under test. */
  @Param({
    "SpinLock",
    "TicketLock",
    "ReentrantLock",
    "ReentrantLockFair",
    "synchronized",
    "StampedLockWrite"
  })
  public String lock;

  private Locker locker;

  /** Creates the lock for this fork. */
  @Setup(Level.Trial)
  public void setUp() {
    locker = Locker.of(lock);
  }

  /**
   * One thread: the cost of an uncontended lock+unlock.
   *
   * @return the counter, so the work is not dead code
   */
  @Benchmark
  @Threads(1)
  public long uncontended() {
    return locker.increment();
  }

  /**
   * Two threads contending for a short critical section.
   *
   * @return the counter
   */
  @Benchmark
  @Threads(2)
  public long contended2() {
    return locker.increment();
  }

  /**
   * Four threads (oversubscribed on 2 cores).
   *
   * @return the counter
   */
  @Benchmark
  @Threads(4)
  public long oversubscribed4() {
    return locker.increment();
  }

  /** A lock plus the counter it guards; one subclass per lock kind. */
  abstract static class Locker {
    long counter;

    abstract long increment();

    static Locker of(String kind) {
      switch (kind) {
        case "SpinLock":
          return new SpinLocker();
        case "TicketLock":
          return new TicketLocker();
        case "ReentrantLock":
          return new ReentrantLocker(false);
        case "ReentrantLockFair":
          return new ReentrantLocker(true);
        case "synchronized":
          return new SynchronizedLocker();
        case "StampedLockWrite":
          return new StampedLocker();
        default:
          throw new IllegalArgumentException("unknown lock: " + kind);
      }
    }
  }

  static final class SpinLocker extends Locker {
    private final SpinLock lock = new SpinLock();

    @Override
    long increment() {
      lock.lock();
      try {
        return ++counter;
      } finally {
        lock.unlock();
      }
    }
  }

  static final class TicketLocker extends Locker {
    private final TicketLock lock = new TicketLock();

    @Override
    long increment() {
      lock.lock();
      try {
        return ++counter;
      } finally {
        lock.unlock();
      }
    }
  }

  static final class ReentrantLocker extends Locker {
    private final ReentrantLock lock;

    ReentrantLocker(boolean fair) {
      lock = new ReentrantLock(fair);
    }

    @Override
    long increment() {
      lock.lock();
      try {
        return ++counter;
      } finally {
        lock.unlock();
      }
    }
  }

  static final class SynchronizedLocker extends Locker {
    private final Object monitor = new Object();

    @Override
    long increment() {
      synchronized (monitor) {
        return ++counter;
      }
    }
  }

  static final class StampedLocker extends Locker {
    private final StampedLock lock = new StampedLock();

    @Override
    long increment() {
      long stamp = lock.writeLock();
      try {
        return ++counter;
      } finally {
        lock.unlockWrite(stamp);
      }
    }
  }
}
