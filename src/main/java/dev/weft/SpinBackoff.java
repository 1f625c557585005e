package dev.weft;

/**
 * The contention policies of {@link SpinLock} and {@link TicketLock}. {@code SpinLock}: spin
 * briefly with bounded exponential backoff, then yield the processor a few times, then park.
 * {@code TicketLock}: the next-in-line waiter spins for a short, clock-measured time, then
 * parks, and never yields (see {@link #HANDOFF_SPIN_NANOS} for the measurements behind that).
 *
 * <p>The numbers are deliberately small. A waiter that spins longer than a short critical
 * section lasts only burns a core that the lock owner (or another runnable thread) could use;
 * on a machine with more runnable threads than cores the owner is often <em>descheduled</em>,
 * and then every spin is wasted until the waiter gives its core away. The budget below is a
 * few microseconds of {@link Thread#onSpinWait()} on current x86 and ARM cores (a PAUSE/YIELD
 * instruction costs roughly 10–140 cycles depending on the microarchitecture; measured 12 ns on
 * the 2-core Xeon VM of the benchmarks, so the {@code SpinLock} phase of 319 pauses is about
 * 4 µs there), which covers the hand-over latency of a short critical section, after which
 * yielding and then parking take over.
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
   * How long the next-in-line waiter of a {@link TicketLock} polls its own queue node before it
   * parks: 2 µs, measured with {@link System#nanoTime()} rather than counted in pauses, because
   * one {@link Thread#onSpinWait()} costs anything from about 10 ns (measured: 12 ns on the
   * 2-core Xeon VM used for the benchmarks) to about 40 ns (140-cycle PAUSE on Skylake-class
   * cores), so a count would mean a 4&times; different time on different machines. 2 µs covers
   * a cross-core handover of a short critical section (0.1–0.3 µs) many times over and is well
   * below the cost of a park/unpark round trip (tens of µs on a VM). There is no backoff: a
   * queue-lock waiter spins on a cache line that only its releaser writes, so there is no
   * contention to back off from.
   *
   * <p>A {@code TicketLock} waiter does <em>not</em> yield between spinning and parking
   * (unlike {@link SpinLock}, see {@link #YIELDS}). Measured on the 2-core VM with 2 threads:
   * with up to 3 yields, 100% of acquisitions went through the slow path and throughput was
   * 0.05–0.7 ops/µs; with even 1 yield 0.2–4.6; with none 11–23 ops/µs, with 0.1% slow
   * acquisitions. The reason is a convoy: a waiter that yields stays runnable, so the two threads
   * share one core and pass the lock to each other through the scheduler on every acquisition,
   * and the FIFO queue never empties. A waiter that parks leaves the run queue, the holder runs
   * on, and the queue drains.
   */
  static final long HANDOFF_SPIN_NANOS = 2_000L;

  /** Pauses between two clock reads in the {@link #HANDOFF_SPIN_NANOS} spin (a read is ~20 ns). */
  static final int CLOCK_CHECK_SPINS = 16;

  /**
   * {@link Thread#yield()} calls (each followed by one attempt) between spinning and parking, in
   * {@link SpinLock} only ({@link TicketLock} does not yield; see {@link #HANDOFF_SPIN_NANOS}).
   */
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
