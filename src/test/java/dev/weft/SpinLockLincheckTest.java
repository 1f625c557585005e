package dev.weft;

/**
 * Lincheck: a counter guarded by a {@link SpinLock} is linearizable ({@link
 * LockedCounterLincheck}).
 */
public class SpinLockLincheckTest extends LockedCounterLincheck<SpinLock> {

  /** Lincheck creates one instance per scenario, reflectively: it must be public. */
  public SpinLockLincheckTest() {
    super(new SpinLock(), lock -> lock.acquire()::close, 2, 3);
  }
}
