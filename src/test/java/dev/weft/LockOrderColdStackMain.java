package dev.weft;

/**
 * Run in a fresh JVM by {@code Review25ReleaseTest.held_lockOrderFirstUsedNearTheStackEndInAFreshJvm}:
 * switches lock-order checking on, then makes a JVM's first lock-order records at every depth
 * near the end of a thread's stack (a tryLock and unlock of a fresh TicketLock and SpinLock in
 * each frame), and exits 0 only if both locks still work afterwards at the top of the stack.
 * Before session 25 the first record initialized LockOrder's per-thread list class there; an
 * overflow inside that class's initializer (seen in a test JVM, not in this sweep) left it
 * unusable for the rest of the JVM, and every later acquisition with checking on threw
 * NoClassDefFoundError.
 */
@SuppressWarnings("try") // guards held for their scope only
final class LockOrderColdStackMain {
  private static int bottom = -1;

  private LockOrderColdStackMain() {}

  public static void main(String[] args) throws Exception {
    // The locks' own classes are initialized here, at the top: a class first initialized near
    // the stack's end can fail for good, as any Java class can; this checks what checking
    // itself initializes on a lock's first record.
    System.out.println(new TicketLock() + " " + new SpinLock());
    LockOrder.enable(LockOrder.Mode.THROW);
    Thread t = new Thread(null, () -> dive(0), "deep", 256 * 1024);
    t.start();
    t.join();
    TicketLock ticket = new TicketLock();
    SpinLock spin = new SpinLock();
    try {
      try (TicketLock.Guard g = ticket.acquire()) {
        // held: checking recorded it
      }
      try (SpinLock.Guard g = spin.acquire()) {
        // held: checking recorded it
      }
    } catch (Throwable e) {
      System.out.println("the locks failed after the sweep: " + e);
      System.exit(1);
    }
    System.out.println("the locks work after the sweep (bottom " + bottom + ")");
  }

  @SuppressWarnings("InfiniteRecursion") // on purpose: it ends in StackOverflowError
  private static void dive(int depth) {
    try {
      dive(depth + 1);
    } catch (StackOverflowError e) {
      if (bottom < 0) {
        bottom = depth;
      }
    }
    if (bottom - depth < 400) {
      try {
        TicketLock ticket = new TicketLock();
        if (ticket.tryLock()) {
          ticket.unlock();
        }
        SpinLock spin = new SpinLock();
        if (spin.tryLock()) {
          spin.unlock();
        }
      } catch (Throwable e) {
        // an overflow in this frame: the next frame up tries again
      }
    }
  }
}
