package dev.weft;

/**
 * Lincheck: a counter guarded by a {@link TicketLock} is linearizable ({@link
 * LockedCounterLincheck}). 3 threads even in the quick run: only with 3 can a waiter queue behind
 * the next in line and take the yield phase.
 */
public class TicketLockLincheckTest extends LockedCounterLincheck<TicketLock> {

  /** Lincheck creates one instance per scenario, reflectively: it must be public. */
  public TicketLockLincheckTest() {
    super(new TicketLock(), lock -> lock.acquire()::close, 3, 2);
  }
}
