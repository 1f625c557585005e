package dev.weft;

/**
 * Lincheck: a counter guarded by a {@link SpinLock} is linearizable ({@link
 * LockedCounterLincheck}).
 */
public class SpinLockLincheckTest extends LockedCounterLincheck {

  /** Lincheck creates one instance per scenario, reflectively: it must be public. */
  public SpinLockLincheckTest() {
    this(new SpinLock());
  }

  private SpinLockLincheckTest(SpinLock lock) {
    super(lock, () -> lock.acquire()::close, 2, 3);
  }
}
