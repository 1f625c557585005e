package dev.weft;

/**
 * Lincheck: a counter guarded by a {@link TicketLock} is linearizable ({@link
 * LockedCounterLincheck}). 3 threads even in the quick run: only with 3 can a waiter queue behind
 * the next in line and take the yield phase.
 */
public class TicketLockLincheckTest extends LockedCounterLincheck {

  /** Lincheck creates one instance per scenario, reflectively: it must be public. */
  public TicketLockLincheckTest() {
    this(new TicketLock());
  }

  private TicketLockLincheckTest(TicketLock lock) {
    super(lock, () -> lock.acquire()::close, 3, 2);
  }
}
