package dev.weft.testing;

import dev.weft.SpinLock;
import dev.weft.TicketLock;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;

/** Small steps on {@link Lock}s and their {@link Condition}s, shared by the lock test suites. */
public final class Locks {
  private Locks() {}

  /**
   * Whether the current thread holds {@code lock}, asked without acquiring it: for {@link
   * ReentrantLock}, {@link SpinLock} and {@link TicketLock}.
   *
   * @param lock one of the three locks
   * @return whether the current thread holds it
   * @throws IllegalArgumentException for another kind of lock
   */
  public static boolean isHeldByCurrentThread(Lock lock) {
    if (lock instanceof ReentrantLock r) {
      return r.isHeldByCurrentThread();
    }
    if (lock instanceof SpinLock s) {
      return s.isHeldByCurrentThread();
    }
    if (lock instanceof TicketLock t) {
      return t.isHeldByCurrentThread();
    }
    throw new IllegalArgumentException("no ownership query for " + lock.getClass());
  }

  /**
   * Takes {@code lock}, calls {@code c.signal()}, releases it (also if signal throws).
   *
   * @param lock the lock {@code c} belongs to
   * @param c the condition to signal
   */
  public static void signalUnderLock(Lock lock, Condition c) {
    lock.lock();
    try {
      c.signal();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Takes {@code lock}, calls {@code c.signalAll()}, releases it (also if signalAll throws).
   *
   * @param lock the lock {@code c} belongs to
   * @param c the condition to signal
   */
  public static void signalAllUnderLock(Lock lock, Condition c) {
    lock.lock();
    try {
      c.signalAll();
    } finally {
      lock.unlock();
    }
  }
}
