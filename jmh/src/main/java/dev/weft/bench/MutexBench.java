package dev.weft.bench;

import dev.weft.Mutex;
import dev.weft.RwLock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.UnaryOperator;
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
 * The cost of weft's data-owning layer over a raw lock: one short critical section (increment
 * a counter) through {@code Mutex.with}, the {@code Mutex} guard form, {@code Mutex.update},
 * a raw {@link ReentrantLock} lock/unlock, a {@code synchronized} block and
 * {@code RwLock.withWrite}; uncontended (one thread, prefix {@code uncontended_}) and contended
 * ({@code @Threads(2)}, prefix {@code contended_}). Goal (issue #7): {@code weftMutexWith} ≥
 * 0.95× {@code rawReentrantLock} uncontended (time at most about 5% higher).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class MutexBench {
  static final Function<long[], Long> INC = a -> ++a[0];
  static final UnaryOperator<Long> ADD_ONE = v -> v + 1;

  final Mutex<long[]> mutex = new Mutex<>(new long[1]);
  final Mutex<Long> boxed = new Mutex<>(0L);
  final RwLock<long[]> rw = new RwLock<>(new long[1]);
  final ReentrantLock lock = new ReentrantLock();
  final long[] raw = new long[1];
  final Object monitor = new Object();
  final long[] monitored = new long[1];

  // ---- uncontended ---------------------------------------------------------------------

  @Benchmark
  public long uncontended_weftMutexWith() {
    return mutex.with(INC);
  }

  @Benchmark
  public long uncontended_weftMutexGuard() {
    try (Mutex.Guard<long[]> g = mutex.lock()) {
      return ++g.get()[0];
    }
  }

  @Benchmark
  public long uncontended_weftMutexUpdate() {
    return boxed.update(ADD_ONE);
  }

  @Benchmark
  public long uncontended_rawReentrantLock() {
    lock.lock();
    try {
      return ++raw[0];
    } finally {
      lock.unlock();
    }
  }

  @Benchmark
  public long uncontended_synchronizedBlock() {
    synchronized (monitor) {
      return ++monitored[0];
    }
  }

  @Benchmark
  public long uncontended_weftRwLockWithWrite() {
    return rw.withWrite(INC);
  }

  // ---- contended (2 threads) -----------------------------------------------------------

  @Benchmark
  @Threads(2)
  public long contended_weftMutexWith() {
    return mutex.with(INC);
  }

  @Benchmark
  @Threads(2)
  public long contended_rawReentrantLock() {
    return uncontended_rawReentrantLock();
  }

  @Benchmark
  @Threads(2)
  public long contended_synchronizedBlock() {
    return uncontended_synchronizedBlock();
  }
}
