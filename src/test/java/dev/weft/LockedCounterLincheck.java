package dev.weft;

import java.util.concurrent.locks.Lock;
import java.util.function.Function;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Lincheck: a counter guarded by one of weft's locks must be linearizable (behave like an atomic
 * counter) under model checking and stress. One subclass per lock ({@link SpinLockLincheckTest},
 * {@link TicketLockLincheckTest}) supplies the lock, its guard form and the size of the quick
 * scenarios. Quick settings by default; heavier ones (the same for every lock) with {@code
 * -Dweft.lincheck.heavy=true}.
 */
public abstract class LockedCounterLincheck<L extends Lock> {
  static final boolean HEAVY = Boolean.getBoolean("weft.lincheck.heavy");

  /** Releases a guard taken by {@link #acquire}. */
  interface Release {
    void release();
  }

  private final L lock;
  private final Function<L, Release> acquire;
  private final int quickThreads;
  private final int quickActorsPerThread;
  private int counter; // guarded by lock

  /**
   * @param lock the lock under test
   * @param acquire takes the lock through its guard form and returns the guard's close
   * @param quickThreads threads per scenario in the quick run
   * @param quickActorsPerThread operations per thread in the quick run
   */
  LockedCounterLincheck(
      L lock, Function<L, Release> acquire, int quickThreads, int quickActorsPerThread) {
    this.lock = lock;
    this.acquire = acquire;
    this.quickThreads = quickThreads;
    this.quickActorsPerThread = quickActorsPerThread;
  }

  /**
   * Increments under {@code lock()}.
   *
   * @return the new value
   */
  @Operation
  public int increment() {
    lock.lock();
    try {
      return ++counter;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Adds under the guard form.
   *
   * @return the new value
   */
  @Operation
  public int addTwo() {
    Release g = acquire.apply(lock);
    try {
      counter += 2;
      return counter;
    } finally {
      g.release();
    }
  }

  /**
   * Reads under the lock.
   *
   * @return the value
   */
  @Operation
  public int get() {
    lock.lock();
    try {
      return counter;
    } finally {
      lock.unlock();
    }
  }

  @Test
  @Timeout(300)
  void modelChecking() {
    new ModelCheckingOptions()
        .addGuarantee(LincheckStackProbe.ignored())
        .iterations(HEAVY ? 100 : 10)
        .invocationsPerIteration(HEAVY ? 5_000 : 200)
        .threads(HEAVY ? 3 : quickThreads)
        .actorsPerThread(HEAVY ? 4 : quickActorsPerThread)
        .check(getClass());
  }

  @Test
  @Timeout(300)
  void stress() {
    new StressOptions()
        .iterations(HEAVY ? 100 : 5)
        .invocationsPerIteration(HEAVY ? 10_000 : 200)
        .threads(HEAVY ? 4 : quickThreads)
        .actorsPerThread(HEAVY ? 5 : quickActorsPerThread)
        .check(getClass());
  }
}
