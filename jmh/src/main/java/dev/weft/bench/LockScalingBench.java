package dev.weft.bench;

import dev.weft.Mutex;
import java.util.concurrent.TimeUnit;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The locks of the scaling run ({@code jmh/run-scaling.sh}, issue #22): every thread increments
 * one shared counter under the lock, the same short critical section as {@link SpinLockBench},
 * and the thread count comes from JMH's {@code -t} (1 to 16), not from an annotation, so one
 * method covers the whole sweep. {@code SpinLock}, {@code TicketLock} and {@code Mutex} against
 * {@code ReentrantLock} (unfair and fair) and {@code synchronized}.
 *
 * <p>The lockers are {@link SpinLockBench}'s (one subclass per lock kind, one kind per fork,
 * so the call is monomorphic), plus one for {@link Mutex} in its guard form, which returns the
 * incremented counter from inside the lock without boxing it. Issue goals at every thread
 * count: {@code SpinLock} &ge; 1.0&times; unfair {@code ReentrantLock} (no collapse as threads
 * grow), {@code TicketLock} &ge; 1.0&times; fair {@code ReentrantLock}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class LockScalingBench {

  /** The lock under test. */
  @Param({
    "SpinLock",
    "TicketLock",
    "Mutex",
    "ReentrantLock",
    "ReentrantLockFair",
    "synchronized"
  })
  public String lock;

  private SpinLockBench.Locker locker;

  /** Creates the lock for this fork. */
  @Setup(Level.Trial)
  public void setUp() {
    locker = "Mutex".equals(lock) ? new MutexLocker() : SpinLockBench.Locker.of(lock);
  }

  /**
   * Lock, increment the shared counter, unlock; run by as many threads as {@code -t} says.
   *
   * @return the counter, so the work is not dead code
   */
  @Benchmark
  public long shared() {
    return locker.increment();
  }

  /** {@link Mutex} guarding a one-element array: the guard form, no box per operation. */
  static final class MutexLocker extends SpinLockBench.Locker {
    private final Mutex<long[]> mutex = new Mutex<>(new long[1]);

    @Override
    long increment() {
      try (Mutex.Guard<long[]> g = mutex.lock()) {
        return ++g.get()[0];
      }
    }
  }
}
