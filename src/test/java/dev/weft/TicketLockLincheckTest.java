package dev.weft;

import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Lincheck: a counter guarded by a {@link TicketLock} must be linearizable (behave like an
 * atomic counter) under model checking and stress. Quick settings by default; heavier ones
 * with {@code -Dweft.lincheck.heavy=true}.
 */
public class TicketLockLincheckTest {
  static final boolean HEAVY = Boolean.getBoolean("weft.lincheck.heavy");

  private final TicketLock lock = new TicketLock();
  private int counter; // guarded by lock

  /** Lincheck creates one instance per scenario, reflectively: it must be public. */
  public TicketLockLincheckTest() {}

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
    TicketLock.Guard g = lock.acquire();
    try {
      counter += 2;
      return counter;
    } finally {
      g.close();
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
        .iterations(HEAVY ? 100 : 10)
        .invocationsPerIteration(HEAVY ? 5_000 : 200)
        // 3 threads even in the quick run: only with 3 can a waiter queue behind the next in
        // line and take the yield phase.
        .threads(3)
        .actorsPerThread(HEAVY ? 4 : 2)
        .check(getClass());
  }

  @Test
  @Timeout(300)
  void stress() {
    new StressOptions()
        .iterations(HEAVY ? 100 : 5)
        .invocationsPerIteration(HEAVY ? 10_000 : 200)
        .threads(HEAVY ? 4 : 3)
        .actorsPerThread(HEAVY ? 5 : 2)
        .check(getClass());
  }
}
