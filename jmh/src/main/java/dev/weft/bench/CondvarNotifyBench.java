package dev.weft.bench;

import dev.weft.Condvar;
import dev.weft.Mutex;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of a notify that finds nobody waiting, the common case for a producer that announces
 * every change: set a flag (an {@code AtomicBoolean}, without the lock) and notify. weft's notify
 * from outside the mutex does not take the mutex when nobody is counted as waiting; since session
 * 18 it pays a full fence first, so that a waiter about to sleep is never missed (review 17f; see
 * docs/mutex.md, "Notifying without the mutex"). The JDK's {@code Condition.signal} needs the
 * lock, so its caller takes it every time. Variants:
 *
 * <ul>
 *   <li>{@code weftOutside}: {@code flag.set; cv.notifyOne()} without the mutex;
 *   <li>{@code weftHolding}: the same with the mutex held ({@code lock; set; notify; unlock});
 *   <li>{@code jucSignal}: {@code lock; set; signal; unlock} with {@code ReentrantLock};
 *   <li>{@code flagOnly}: {@code flag.set} alone, the floor.
 * </ul>
 *
 * Run with {@code -t 1} and {@code -t 2} (two threads notify the same condition at once).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Threads(1)
public class CondvarNotifyBench {

  /** A bound Condvar with nobody waiting, and the JDK's pair. */
  @State(Scope.Benchmark)
  public static class Shared {
    final Mutex<Integer> mutex = new Mutex<>(0);
    final Condvar cv = new Condvar();
    final ReentrantLock lock = new ReentrantLock();
    final Condition cond = lock.newCondition();
    final AtomicBoolean flag = new AtomicBoolean();

    public Shared() {
      try (Mutex.Guard<Integer> g = mutex.lock()) {
        cv.awaitWhileUninterruptibly(g, v -> false); // binds the Condvar; returns at once
      }
    }
  }

  @Benchmark
  public void flagOnly(Shared s) {
    s.flag.set(true);
  }

  @Benchmark
  public void weftOutside(Shared s) {
    s.flag.set(true);
    s.cv.notifyOne();
  }

  @Benchmark
  @SuppressWarnings("try") // the guard is held only for the notify
  public void weftHolding(Shared s) {
    try (Mutex.Guard<Integer> g = s.mutex.lock()) {
      s.flag.set(true);
      s.cv.notifyOne();
    }
  }

  @Benchmark
  public void jucSignal(Shared s) {
    s.lock.lock();
    try {
      s.flag.set(true);
      s.cond.signal();
    } finally {
      s.lock.unlock();
    }
  }
}
