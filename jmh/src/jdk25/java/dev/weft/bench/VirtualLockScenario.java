package dev.weft.bench;

import dev.weft.Mutex;
import dev.weft.SeqLock;
import dev.weft.SpinLock;
import dev.weft.TicketLock;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.StampedLock;
import java.util.function.LongSupplier;

/**
 * What {@link LockVirtualJdk25Bench} and {@link LockVirtualRetryJdk25Bench} share: the locks by
 * name, the count read under the lock, and the join of all threads within the cap.
 */
final class VirtualLockScenario {
  private VirtualLockScenario() {}

  /**
   * The lock named by a benchmark's {@code lock} parameter.
   *
   * @param name SpinLock, TicketLock, ReentrantLock, ReentrantLockFair, SeqLock (its write lock),
   *     StampedLock (its write lock) or Mutex
   * @return the lock, or {@code null} for Mutex (which the benchmarks use through its guards)
   */
  static Lock plainLock(String name) {
    return switch (name) {
      case "SpinLock" -> new SpinLock();
      case "TicketLock" -> new TicketLock();
      case "ReentrantLock" -> new ReentrantLock(false);
      case "ReentrantLockFair" -> new ReentrantLock(true);
      case "SeqLock" -> seqLockWriteLock(new SeqLock());
      case "StampedLock" -> new StampedLock().asWriteLock();
      case "Mutex" -> null;
      default -> throw new IllegalArgumentException("unknown lock: " + name);
    };
  }

  /**
   * Reads the count under the lock: {@code mutex}'s value if it is not null, else {@code
   * counter} while holding {@code plain}.
   */
  static long count(Mutex<long[]> mutex, Lock plain, LongSupplier counter) {
    if (mutex != null) {
      try (Mutex.Guard<long[]> g = mutex.lock()) {
        return g.get()[0];
      }
    }
    plain.lock();
    try {
      return counter.getAsLong();
    } finally {
      plain.unlock();
    }
  }

  /**
   * Joins every thread within {@code capSeconds} in all; if one is still running then, runs
   * {@code onCap} (which lets the threads finish) and throws, which fails the benchmark point.
   */
  static void joinWithin(Thread[] threads, long capSeconds, Runnable onCap, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(capSeconds);
    for (Thread t : threads) {
      long left = deadline - System.nanoTime();
      if (left <= 0 || !t.join(Duration.ofNanos(left))) {
        onCap.run();
        throw new IllegalStateException(what + ": not finished after the " + capSeconds + " s cap");
      }
    }
  }

  /**
   * SeqLock's write lock as a {@link Lock} for this loop (lock, timed tryLock, unlock by the
   * same thread); other methods are not used here.
   */
  static Lock seqLockWriteLock(SeqLock s) {
    ThreadLocal<SeqLock.WriteGuard> held = new ThreadLocal<>();
    return new Lock() {
      @Override
      public void lock() {
        held.set(s.writeUninterruptibly());
      }

      @Override
      public boolean tryLock(long time, TimeUnit unit) throws InterruptedException {
        SeqLock.WriteGuard g = s.tryWrite(Duration.ofNanos(unit.toNanos(time)));
        if (g == null) {
          return false;
        }
        held.set(g);
        return true;
      }

      @Override
      public void unlock() {
        held.get().close();
        held.remove();
      }

      @Override
      public void lockInterruptibly() {
        throw new UnsupportedOperationException();
      }

      @Override
      public boolean tryLock() {
        throw new UnsupportedOperationException();
      }

      @Override
      public Condition newCondition() {
        throw new UnsupportedOperationException();
      }
    };
  }

}
