package dev.weft;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * The contention policies of {@link SpinLock} and {@link TicketLock}. {@code SpinLock}: spin
 * briefly with bounded exponential backoff, then yield the processor a few times, then park.
 * {@code TicketLock}: a waiter further back in the queue yields for a short, clock-measured
 * time (unless slow yields show other load on the machine), the next-in-line waiter spins for
 * a short time and does not yield, and both then park (see {@link #QUEUE_YIELD_NANOS} and
 * {@link #HANDOFF_SPIN_NANOS} for the measurements behind that).
 *
 * <p>The spin budget is bounded by what blocking would cost. A waiter that spins longer than a
 * park/unpark round trip only burns a core that the lock owner (or another runnable thread)
 * could use; on a machine with more runnable threads than cores the owner is often
 * <em>descheduled</em>, and then every spin is wasted until the waiter gives its core away. The
 * {@code SpinLock} phase is 1504 {@link Thread#onSpinWait()} calls (a PAUSE/YIELD instruction
 * costs roughly 10–140 cycles depending on the microarchitecture; measured 12 ns on the 2-core
 * Xeon VM of the benchmarks, so about 18 µs there, against ~25 µs for a park/unpark round
 * trip), spread over a few widely spaced reads of the lock word, after which yielding and then
 * parking take over.
 */
final class SpinBackoff {
  /**
   * Number of test-and-test-and-set rounds before a waiter starts yielding. Each round reads
   * the lock word, attempts one CAS if it looks free, and otherwise pauses for the current
   * backoff.
   */
  static final int SPIN_ROUNDS = 6;

  /**
   * Test-and-test-and-set rounds of a virtual thread before it parks, first and after each
   * wake-up (32 pauses, well under a microsecond); it does not yield (see {@link #isVirtual}).
   * A virtual thread's park and unpark are a continuation yield and a resubmission, not an OS
   * wake-up, and the carrier it would spin on may be the one an unmounted holder needs.
   * Measured on JDK 25, 2 carriers (results/2026-12-04-epyc-2c-jdk25-issue20-vt-retry, warm
   * shots of four interleaved scripts): 64 virtual threads x 300 acquisitions, half in
   * tryLock(100 µs) retry loops, the holder parking 1 µs on every 16th: 6 rounds (the platform
   * setting) 467-923 ms, 2 rounds 83-227, 1 round 43-177, unfair ReentrantLock 44-160; 2,000
   * virtual threads x 20, the holder sleeping 50 µs on every 5th: 1 round 1.12-1.29 s,
   * ReentrantLock 1.09-1.28 s. Six rounds after a wake-up made the second scenario 0.69-0.84 s
   * but the first 126-190 ms, and only together with the 50 µs lost-race sleep, the same length
   * as that holder's sleep; not taken. On 16+ carriers a spinning virtual thread is less likely
   * to hold the holder's carrier, so more rounds may pay there; not measured.
   */
  static final int VIRTUAL_SPIN_ROUNDS = 1;

  /**
   * {@link Thread#onSpinWait()} pauses of a virtual thread that is next in line for a {@code
   * TicketLock}, before it parks (the platform spin is {@link #HANDOFF_SPIN_NANOS}, 20 µs). As
   * short as {@link #VIRTUAL_SPIN_ROUNDS}' one round, for the same reason: nothing preempts a
   * virtual thread, so one whose {@code tryLock(5 µs)} timed out inside a 20 µs spin retried,
   * was next in line again and spun again without ever unmounting; with one carrier that kept
   * the holder off it for good (JDK 25, {@code -Djdk.virtualThreadScheduler.parallelism=1}: 19
   * of 20 runs of the 64-thread retry scenario stalled; see {@code TicketLock}'s notes).
   */
  static final int VIRTUAL_HANDOFF_SPINS = 32;


  /**
   * Pauses ({@link Thread#onSpinWait()} calls) after the first failed round. Large on purpose:
   * a waiter that re-reads the lock word soon after failing pulls the lock's cache line away
   * from a holder that is about to unlock and re-lock, and every such pull costs the holder a
   * cache miss. Measured on the 2-core VM ({@code SpinLockBench.contended2}, 2 threads, 3
   * forks): with 1..64 pauses over 10 rounds (the first policy) {@code SpinLock} did 74.8
   * ops/&micro;s, 1.48&times; unfair {@code ReentrantLock}; with 32..512 over 6 rounds 93.5
   * &plusmn; 2.1 against 51.0 &plusmn; 2.3, 1.83&times;; 16..256 gave 64&ndash;91 and
   * 32..1024 80&ndash;102 with wide error bars.
   */
  static final int MIN_BACKOFF = 32;

  /**
   * Cap on the pauses per round; the backoff doubles each round from {@link #MIN_BACKOFF} up
   * to this value, so a full spin phase is 32+64+128+256+512+512 = 1504 pauses: about 18
   * &micro;s at the 12 ns a pause takes on the benchmark VM (about 60 &micro;s with a 140-cycle
   * PAUSE). That is below the ~25 &micro;s a park/unpark round trip costs on the same VM, the
   * classic bound for spinning before blocking (spin at most as long as blocking would cost).
   * The price: a waiter in its longest pause notices a release up to 512 pauses late (6
   * &micro;s here); unlike {@link TicketLock}, {@code SpinLock} promises no order, and an
   * uncontended acquisition never pauses.
   */
  static final int MAX_BACKOFF = 512;

  /**
   * How long the next-in-line waiter of a {@link TicketLock} polls its own queue node before it
   * parks: 20 µs, measured with {@link System#nanoTime()} rather than counted in pauses,
   * because one {@link Thread#onSpinWait()} costs anything from about 10 ns (measured: 12 ns on
   * the 2-core Xeon VM used for the benchmarks) to about 40 ns (140-cycle PAUSE on
   * Skylake-class cores), so a count would mean a 4&times; different time on different
   * machines. There is no backoff: a queue-lock waiter spins on a cache line that only its
   * releaser writes, so there is no contention to back off from.
   *
   * <p>Why 20 µs and not less: the spin must outlast a wake-up. Once one hand-over goes to a
   * parked thread, the lock's holder is a thread that is still waking up (tens of µs on a VM);
   * a next-in-line that gives up sooner parks too, its own hand-over then needs a wake-up, and
   * the two threads keep handing the lock to each other through the scheduler for good. The
   * first value, 2 µs (chosen on a machine at load 14, where the two threads seldom ran at
   * once), did exactly that on the idle machine: {@code SpinLockBench.contended2}, 3 forks
   * &times; 5 iterations, median 0.27 ops/µs against 4.2 with 20 µs (2.0 with 10 µs, 4.9 with
   * 50 µs; fair {@code ReentrantLock} 1.4&ndash;1.9). With 4 threads on 2 cores, as long as the
   * waiters further back parked at once, every hand-over needed a wake-up whatever the spin
   * (medians 0.08&ndash;0.11 ops/µs for 2, 10, 20 and 50 µs); see {@link #QUEUE_YIELD_NANOS}
   * for what fixed that.
   * 20 µs stays below a park/unpark round trip (~25 µs there), the usual bound for spinning
   * before blocking.
   *
   * <p>A {@code TicketLock} waiter that is next in line does <em>not</em> yield between
   * spinning and parking (unlike {@link SpinLock}, see {@link #YIELDS}; waiters further back do,
   * see {@link #QUEUE_YIELD_NANOS}). Measured on the 2-core VM with 2 threads:
   * with up to 3 yields, 100% of acquisitions went through the slow path and throughput was
   * 0.05–0.7 ops/µs; with even 1 yield 0.2–4.6; with none 11–23 ops/µs, with 0.1% slow
   * acquisitions. The reason is a convoy: a waiter that yields stays runnable, so the two threads
   * share one core and pass the lock to each other through the scheduler on every acquisition,
   * and the FIFO queue never empties. A waiter that parks leaves the run queue, the holder runs
   * on, and the queue drains.
   */
  static final long HANDOFF_SPIN_NANOS = 20_000L;

  /**
   * How long a {@link TicketLock} waiter that is <em>further back</em> than next in line yields
   * before it parks: 20 µs. Such a waiter gives its core to any other runnable thread (usually
   * the holder or the next in line, on a machine with more lock users than cores) but stays
   * runnable itself, so that its turn needs no wake-up. See {@link #SLOW_YIELD_NANOS} for when
   * it parks at once instead.
   *
   * <p>Why: with 4 threads on 2 cores and every waiter parking, each hand-over went to a parked
   * thread, and on the benchmark VM waking a thread on an idle virtual CPU costs 15&ndash;30 µs
   * (the VM's halt polling is off), plus about 11 µs in the waker. {@code TicketLock} ran at
   * 0.08 ops/µs, fair {@code ReentrantLock} at 0.10. With waiters further back yielding for
   * 20 µs (experiment runs, no pause rule yet): 1.65 ops/µs median (3 forks &times; 5
   * iterations); 100 µs measured the same (1.62), 5 µs gave 0.49. Final code, with the pause
   * rule below (4 forks &times; 3 iterations): 1.48 &plusmn; 0.15 against fair {@code
   * ReentrantLock}'s 0.27 &plusmn; 0.37, every thread's share within -5.0/+7.4% of the
   * mean. Beyond about 4 threads per 2 cores the yields themselves become slow, the pause rule
   * switches yielding off much of the time, and most hand-overs go to parked threads again (8
   * and 16 threads: 0.12 and 0.11 ops/µs against fair {@code ReentrantLock}'s 0.075 and 0.079).
   */
  static final long QUEUE_YIELD_NANOS = 20_000L;

  /**
   * A {@link TicketLock} waiter's {@link Thread#yield()} that returns this late (200 µs) lost a
   * scheduler time slice to another runnable thread: the core is oversubscribed, usually by
   * work outside the lock. Yielding then delays a waiter past its turn, and everyone behind it
   * with it: with two CPU-bound processes beside the benchmark, yielding without this rule
   * gave 0.001&ndash;0.002 ops/µs against 2.1 when parking. {@link #SLOW_YIELDS_TO_PAUSE} slow
   * yields within {@link #SLOW_YIELD_WINDOW_NANOS} pause yielding on that lock. On the idle
   * machine 99.99% of yields took under 10 µs and about 1 in 60,000 over 200 µs, mostly in
   * pairs at JMH iteration boundaries, which is why one or two do not pause it.
   */
  static final long SLOW_YIELD_NANOS = 200_000L;

  /**
   * How long a {@link TicketLock} keeps yielding paused the first time: 100 ms. Then waiters
   * try yielding again; if that pauses it again less than 100 ms after the pause ended (the slow
   * yields came straight back: steady outside load), the pause doubles, up to {@link
   * #MAX_YIELD_PAUSE_NANOS}; a pause that starts later is 100 ms again. Under steady outside
   * load a lock thus loses a few time slices per 1.6 s, and it is back to yielding within 1.6 s
   * once that load is gone. The first rule, "doubles if it starts within one pause length",
   * kept 3 of 8 benchmark forks at 1.6 s pauses: bursts of slow yields about a second apart
   * (JMH's iteration boundaries) always fell within 1.6 s of the last pause. Measured with
   * the final rule and two CPU-bound processes beside {@code SpinLockBench.oversubscribed4}
   * (4 forks &times; 10 iterations): median 0.79 ops/µs (fork means 1.1&ndash;3.0), against
   * 0.17&ndash;0.60 for the parking-only policy and 0.94&ndash;1.16 for fair {@code
   * ReentrantLock} in earlier runs under the same load; every lock swings between 0.04 and 10+
   * per iteration there.
   */
  static final long YIELD_PAUSE_NANOS = 100_000_000L;

  /** The longest pause of yielding, reached by doubling while slow yields go on: 1.6 s. */
  static final long MAX_YIELD_PAUSE_NANOS = 1_600_000_000L;

  /**
   * Slow yields ({@link #SLOW_YIELD_NANOS}) within {@link #SLOW_YIELD_WINDOW_NANOS} that pause
   * yielding on a {@link TicketLock}: 4.
   */
  static final int SLOW_YIELDS_TO_PAUSE = 4;

  /**
   * The window in which {@link #SLOW_YIELDS_TO_PAUSE} slow yields pause yielding: 10 ms. It is
   * also the grace period after a pause, in which slow yields are not counted: switching back
   * from parking to yielding produces a few slow yields by itself, and without the grace period
   * 3 of 8 benchmark forks kept re-pausing (0.28&ndash;0.67 ops/µs against 1.5&ndash;1.9 for
   * the rest). With it, two 8-fork runs had all 16 forks at 1.39&ndash;2.18, but a third still
   * had 3 of 8 forks stuck at long pauses, which the doubling rule of {@link
   * #YIELD_PAUSE_NANOS} fixed.
   */
  static final long SLOW_YIELD_WINDOW_NANOS = 10_000_000L;

  /** Pauses between two clock reads in the {@link #HANDOFF_SPIN_NANOS} spin (a read is ~20 ns). */
  static final int CLOCK_CHECK_SPINS = 16;

  /**
   * {@link Thread#yield()} calls (each followed by one attempt) between spinning and parking, in
   * {@link SpinLock} only ({@link TicketLock}'s next in line does not yield, see {@link
   * #HANDOFF_SPIN_NANOS}; its waiters further back yield by time, see {@link #QUEUE_YIELD_NANOS}).
   */
  static final int YIELDS = 3;

  /**
   * Spin rounds a waiter gets after being woken from a park, before it parks again: a woken
   * thread usually finds the lock free, and if another thread barged in it should not repeat
   * the whole spin phase.
   */
  static final int SPIN_ROUNDS_AFTER_WAKE = 4;

  /**
   * How long a {@link SpinLock} waiter that was woken by a signal, and then lost the lock to a
   * running thread, sleeps <em>without</em> registering for a signal before it tries again:
   * 50 µs (in practice up to ~100 µs: Linux adds its default 50 µs timer slack to a timed park).
   * After that it registers and parks as usual.
   *
   * <p>Why: an unfair lock under steady contention is usually re-taken by the running thread
   * that just released it. A parked waiter is then woken, finds the lock taken again, and
   * parks; the next {@code unlock()} must wake it again, and the holder pays for that
   * {@code unpark} (a system call and an inter-processor interrupt) while nobody holds the lock.
   * With two threads on two cores that cycle cost the holder about 12% of its throughput
   * ({@code SpinLockBench.contended2}: 101.9 ops/µs as before, 116 with unlock's wakeup switched
   * off entirely as a diagnostic, 120.7 uncontended). Letting the loser sleep once on a timer
   * instead of on a signal takes the holder's unpark out of every second cycle: 109.5 ops/µs,
   * 14 of 14 forks between 107 and 111 (baseline: 100&ndash;105, with some forks at 73&ndash;83).
   * 25 µs gave the same median with one fork of five in the slow mode, 100 µs two of three.
   * The cost is latency in one case only: if the lock is released for good during that sleep,
   * the loser notices up to this long later (registered waiters are still woken at once). On
   * Windows, where a timed park is rounded up to whole milliseconds, that is up to about 1 ms.
   */
  static final long LOST_RACE_PARK_NANOS = 50_000L;

  /**
   * Longest single park of the one {@link SpinLock} waiter that can be missed: 1 ms. {@link
   * SpinLock#unlock()} uses only a release store and an opaque read (no store-load fence) to
   * stay cheap, so in a rare race it can miss a waiter that is just going to sleep on an empty
   * waiter stack (and any that push on top of it meanwhile); that waiter parks with this bound
   * and re-checks on its own. Every other waiter parks until signalled. See the algorithm
   * notes in {@code SpinLock}.
   */
  static final long PARK_BACKSTOP_NANOS = 1_000_000L;

  /**
   * How long a {@link SpinLock} waiter waits, counted from its first registration (the first
   * time it parks), before it asks the next {@code unlock()} to hand the lock to it directly:
   * 0, so a waiter that has had to park is handed the lock by the next unlock, and running
   * threads can barge in only while it spins. Set with {@code
   * -Ddev.weft.spinlock.handOverMicros=N} (microseconds, at most 1 s; a value that is not a
   * number is ignored); a negative value switches hand-over off (the lock as it was before
   * issue 20: pure barging).
   *
   * <p>Measured (issue 20, JDK 25, 2 cores, {@code LockLatencyBench} p99.9 of one acquisition,
   * two runs each, unfair {@code ReentrantLock} 161&ndash;213 &micro;s and 399&ndash;420
   * &micro;s in the same runs): with 2 threads and 1 &micro;s critical sections, off
   * 1,174&ndash;1,323 &micro;s, 300 &micro;s 438&ndash;463, 100 &micro;s 205&ndash;273, 50
   * &micro;s 249&ndash;969, 20 &micro;s 208&ndash;229, <b>0: 90&ndash;94</b> (90&ndash;196 over six rounds); with 4 threads,
   * off 1,967&ndash;2,081, 100 &micro;s 652&ndash;945, 20 &micro;s 734&ndash;798, <b>0:
   * 409&ndash;440</b> (255&ndash;550 over six rounds). Short critical sections: no change (2 threads 21&ndash;24, 4 threads
   * 188&ndash;248, at every setting). Throughput and the virtual-thread scenario: see
   * docs/spinlock.md ("Hand-over"). The cost of a hand-over is the heir's wake-up (a few to
   * tens of microseconds), during which the lock is held by a thread that is not yet running;
   * on 16+ cores with many waiters that is one wake-up per hand-over, as for a fair lock, but
   * only for waiters that had to park.
   */
  static final long HAND_OVER_AFTER_NANOS =
      handOverAfterNanos(SystemProperties.getLong("dev.weft.spinlock.handOverMicros", 0L));

  /** Negative: off (-1); otherwise micros to nanos, capped at 1 s so it cannot overflow. */
  static long handOverAfterNanos(long micros) {
    return micros < 0L ? -1L : Math.min(micros, 1_000_000L) * 1000L;
  }

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
   * Gives the processor away once: between the spin phase and parking in {@link SpinLock}, and
   * in the yield phase of a {@link TicketLock} waiter further back in the queue.
   *
   * <p>Error Prone's ThreadPriorityCheck discourages {@link Thread#yield()} because correctness
   * must not depend on the scheduler. Here it does not: yielding is purely a performance step
   * of the documented spin-yield-park policy (it lets a descheduled lock owner, or the thread
   * we are about to hand over to, run on this core), and every wait ends in a park or in a
   * hand-over that does not depend on the yield.
   */
  @SuppressWarnings("ThreadPriorityCheck") // performance hint only; see above
  static void yieldProcessor() {
    Thread.yield();
  }

  /**
   * The step a timed wait on a virtual thread takes before it reports a timeout: one park of the
   * shortest time, so the thread unmounts once. Call it with nothing held and nothing registered
   * (after the waiter has withdrawn), never on a platform thread, and report an interrupt that
   * arrives during it as an interrupt where the wait is interruptible.
   *
   * <p>Why (session 20, CI stop 33): nothing preempts a virtual thread, and a virtual waiter
   * spins a little before it parks. A timeout shorter than that spin (or than a stack probe)
   * ran out on the carrier, the call returned {@code false} without unmounting, and a caller
   * retrying {@code tryLock(1 us)} in a loop kept its carrier for good; with one such loop per
   * carrier, a holder that had parked inside its critical section never got a carrier back.
   * Measured on 2 carriers, 64 virtual threads (half in such loops, the holder parking 1 us
   * every 16th section): {@code SpinLock} stalled in 12 of 12 runs (20 of 19,200 sections in 15
   * s), {@code SeqLock} in 1 of 15, and took up to 7 s in others; the JDK's locks park whenever
   * time is left, and took 40-330 ms. {@link Thread#yield()} does not help: it requeues the
   * thread on its carrier's local queue, which the scheduler runs before the external queue
   * where a timer-woken holder waits (measured: still 8 of 8 stalled). A timed park goes
   * through the timer, so the carrier is free to run other work meanwhile.
   *
   * <p>Every timed failure on a virtual thread takes this step, whether or not the wait parked
   * before: a park returns at once, without unmounting, when it is given no time or when it
   * finds a permit, and a permit can come from the same call (a SpinLock waiter signalled just
   * before its park; review 20), so "it parked" cannot be read from the code. The cost: a
   * failed timed wait returns one timer round trip after its deadline (about 40-55 us at p50 on
   * JDK 25, 2-vCPU Linux, the timer slack).
   *
   * <p>The park itself can find a permit: one left by an earlier call, or by a signal that
   * reached this waiter after it had stopped waiting (review 20: 4 of 1,195 failing {@code
   * tryLock(1 us)} calls under a back-to-back locker stayed mounted). A park that comes back
   * within {@link #PERMIT_RETURN_NANOS} took such a permit and did not unmount, since a timer
   * round trip takes tens of microseconds, so it parks once more. Permits do not add up, so a
   * second one in that microsecond would need a second unpark in it. A pending interrupt makes
   * both parks return at once; the caller then reports the interrupt.
   */
  static void unmountBeforeTimeout(Object blocker) {
    long start = System.nanoTime();
    LockSupport.parkNanos(blocker, 1L);
    if (System.nanoTime() - start < PERMIT_RETURN_NANOS
        && !Thread.currentThread().isInterrupted()) {
      LockSupport.parkNanos(blocker, 1L); // the first found a permit: see above
    }
  }

  /**
   * A park on a virtual thread that returns sooner than this is taken to have found a permit
   * and not unmounted. Measured on JDK 25, 2-vCPU Linux, 3 x 20,000 parks of 1 ns each way: a
   * park that unmounts waits for the JDK's timer and a resubmission to the scheduler (p50 22-39
   * us, 1st percentile 4-13 us, fastest 0.9-3.0 us); one that finds a permit returns at p50 in
   * 21-50 ns, p99 31-151 ns, with rare outliers to 65 us (the carrier descheduled). A mistake
   * either way costs little: a fast real unmount parks once more (one more timer round trip),
   * and a slow permit return leaves that one call mounted, as before this check. A faster
   * machine shortens both sides; many cores do not change either.
   */
  static final long PERMIT_RETURN_NANOS = 1_000L;

  /**
   * {@link #unmountBeforeTimeout} on a virtual thread, for a timed wait that is about to report
   * its timeout; nothing on a platform thread, which is never kept from others this way.
   *
   * <p>An interrupt already pending skips the park (it would return at once anyway): the wait
   * reports its timeout as it did before, with the status still set, and the thread's next
   * wait sees it (review 20b: an interrupt noticed only as the deadline passes stays status, as
   * {@code Mutex.lockWhen} documents). An interrupt that arrives during the park ends it.
   *
   * @return {@code true} if the thread was interrupted during the park, with the status now
   *     cleared: the caller reports an interrupt ({@code InterruptedException}, or the status
   *     set again where the wait is not interruptible); {@code false} otherwise
   */
  static boolean unmountBeforeTimeoutInterrupted(Object blocker) {
    Thread me = Thread.currentThread();
    if (!isVirtual(me) || me.isInterrupted()) {
      return false;
    }
    unmountBeforeTimeout(blocker);
    return Thread.interrupted();
  }

  /**
   * {@link Thread#yield()} on a platform thread; nothing on a virtual thread (see {@link
   * #isVirtual}). For the count-bounded "spin, then yield a few times, then park" loops of
   * {@code SeqLock}, {@code SeqCount}, {@code OnceCell} and {@code Parallel}: on a virtual thread
   * the loop reaches its park a few iterations sooner instead of requeueing itself ahead of the
   * thread it waits for (session 12's review: 32 virtual threads in {@code tryWrite(20 µs)}
   * loops stalled a {@code SeqLock} writer that parked inside its section, 48 to 9,649 of
   * 19,200 sections in 15 s, against {@code StampedLock}'s 0.24 s).
   */
  @SuppressWarnings("ThreadPriorityCheck") // performance step of the wait policy, as above
  static void yieldUnlessVirtual() {
    if (!isVirtual(Thread.currentThread())) {
      Thread.yield();
    }
  }

  /**
   * Rounds of {@link #pauseWithoutNode} between two tries to allocate the queue node again. A
   * failed allocation costs a full collection, so the tries are spaced: at the sleeps' cap
   * (1 ms) about every 50 ms. A power of two.
   */
  static final int NODE_RETRY_ROUNDS = 64;

  /**
   * One pause of a lock wait that has no queue node because allocating it threw {@link
   * OutOfMemoryError} (a full heap): {@code SpinLock}'s and {@code TicketLock}'s acquisitions
   * then poll the lock instead of failing, as JDK 25's AQS does after an OOME at its node. Such a
   * waiter is registered nowhere, so no release wakes it: it sleeps on a timer that doubles from
   * 1 µs to 1 ms (at most {@code nanosLeft}), and allocates nothing on a platform thread. A
   * virtual thread's timed park allocates its timer task; if that throws too, the round spins
   * instead and keeps the carrier, as a pinned wait would.
   *
   * @param round the rounds of this wait so far (0, 1, 2, ...)
   * @param nanosLeft the time left of a timed wait (positive), or {@code Long.MAX_VALUE}
   */
  static void pauseWithoutNode(Object blocker, int round, long nanosLeft) {
    long sleep = Math.min(1_000L << Math.min(round, 10), nanosLeft); // 1 µs, 2 µs, ... 1.02 ms
    try {
      LockSupport.parkNanos(blocker, sleep);
    } catch (OutOfMemoryError virtualTimer) { // only a virtual thread's park allocates
      for (int i = 0; i < MAX_BACKOFF; i++) {
        Thread.onSpinWait();
      }
    }
  }

  /** {@code Thread::isVirtual} on JDK 21 and later; null before (no virtual threads there). */
  private static final @Nullable MethodHandle IS_VIRTUAL = isVirtualHandle();

  private static @Nullable MethodHandle isVirtualHandle() {
    try {
      return MethodHandles.publicLookup()
          .findVirtual(Thread.class, "isVirtual", MethodType.methodType(boolean.class));
    } catch (ReflectiveOperationException e) {
      return null; // JDK 17-20
    }
  }

  /**
   * Whether {@code t} is a virtual thread (always {@code false} before JDK 21). A virtual
   * thread must not take a lock's yield phase: its {@link Thread#yield()} puts it back on its
   * carrier's local queue, which the scheduler drains before it looks at threads woken from
   * outside the pool (a sleep's timer, an unpark by a platform thread). Waiters that keep
   * yielding therefore starve a holder that sleeps inside its critical section; see {@link
   * SpinLock}'s algorithm notes ("Virtual threads spin one round and do not yield").
   */
  static boolean isVirtual(Thread t) {
    MethodHandle h = IS_VIRTUAL;
    if (h == null) {
      return false;
    }
    try {
      return (boolean) h.invokeExact(t);
    } catch (RuntimeException | Error e) {
      throw e; // a StackOverflowError near the stack's end stays one (see LockOrder.enabled)
    } catch (Throwable e) {
      throw new AssertionError("Thread.isVirtual failed", e);
    }
  }

  static {
    // Links isVirtual's invokeExact call site now, at class initialization: its first run
    // links it, which may spin an invoker class, and the first run of a wait's slow path may
    // come near the end of a thread's stack (see StackHeadroom.initializeNow).
    boolean unused = isVirtual(Thread.currentThread());
  }
}
