package dev.weft;

/**
 * The contention policy shared by {@link SpinLock} and {@link TicketLock}: spin briefly with
 * bounded exponential backoff, then yield the processor a few times, then park.
 *
 * <p>The numbers are deliberately small. A waiter that spins longer than a short critical
 * section lasts only burns a core that the lock owner (or another runnable thread) could use;
 * on a machine with more runnable threads than cores the owner is often <em>descheduled</em>,
 * and then every spin is wasted until the waiter gives its core away. The budget below is a
 * few microseconds of {@link Thread#onSpinWait()} on current x86 and ARM cores (a PAUSE/YIELD
 * instruction costs roughly 10–140 cycles depending on the microarchitecture), which covers
 * the hand-over latency of a short critical section, after which yielding and then parking
 * take over.
 */
final class SpinBackoff {
  /**
   * Number of test-and-test-and-set rounds before a waiter starts yielding. Each round reads
   * the lock word, attempts one CAS if it looks free, and otherwise pauses for the current
   * backoff.
   */
  static final int SPIN_ROUNDS = 10;

  /** Pauses ({@link Thread#onSpinWait()} calls) after the first failed round. */
  static final int MIN_BACKOFF = 1;

  /**
   * Cap on the pauses per round; the backoff doubles each round from {@link #MIN_BACKOFF} up
   * to this value, so a full spin phase is 1+2+4+8+16+32+64×4 = 319 pauses.
   */
  static final int MAX_BACKOFF = 64;

  /**
   * Checks (one {@link Thread#onSpinWait()} each) that the next-in-line waiter of a {@link
   * TicketLock} makes on its own queue node before it yields: the same time budget as the
   * spin phase above (319 pauses), but without backoff, because a queue-lock waiter spins on a
   * cache line that only its predecessor writes, so there is no contention to back off from and
   * every extra pause would be added straight to the handover latency.
   */
  static final int HANDOFF_SPINS = 320;

  /** {@link Thread#yield()} calls (each followed by one attempt) between spinning and parking. */
  static final int YIELDS = 3;

  /**
   * Spin rounds a waiter gets after being woken from a park, before it parks again: a woken
   * thread usually finds the lock free, and if another thread barged in it should not repeat
   * the whole spin phase.
   */
  static final int SPIN_ROUNDS_AFTER_WAKE = 4;

  /**
   * Longest single park of a {@link SpinLock} waiter: 1 ms. {@link SpinLock#unlock()} uses
   * only a release store and an opaque read (no store-load fence) to stay cheap, so in a rare
   * race it can miss a waiter that is just going to sleep; the waiter then re-checks on its
   * own after at most this long. See the algorithm notes in {@code SpinLock}.
   */
  static final long PARK_BACKSTOP_NANOS = 1_000_000L;

  private SpinBackoff() {}

  /**
   * Pauses {@code backoff} times and returns the next (doubled, capped) backoff.
   *
   * @param backoff pauses to perform now, at least 1
   * @return the backoff for the next round
   */
  static int pause(int backoff) {
    for (int i = 0; i < backoff; i++) {
      Thread.onSpinWait();
    }
    return Math.min(backoff << 1, MAX_BACKOFF);
  }

  /**
   * Gives the processor away once, between the spin phase and parking.
   *
   * <p>Error Prone's ThreadPriorityCheck discourages {@link Thread#yield()} because correctness
   * must not depend on the scheduler. Here it does not: yielding is purely a performance step
   * of the documented spin-yield-park policy (it lets a descheduled lock owner, or the thread
   * we are about to hand over to, run on this core), and every wait ends in a park.
   */
  @SuppressWarnings("ThreadPriorityCheck") // performance hint only; see above
  static void yieldProcessor() {
    Thread.yield();
  }
}
