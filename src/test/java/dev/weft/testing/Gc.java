package dev.weft.testing;

import java.lang.ref.WeakReference;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/** Collectability checks for the memory-retention reviews, shared by the test suites. */
public final class Gc {
  private Gc() {}

  /** How long {@link #stillReachable(List)} keeps collecting before it reports what is left. */
  private static final long SETTLE_NANOS = TimeUnit.SECONDS.toNanos(5);

  /**
   * How many of {@code refs} are still set after repeated collections. It returns at once if none
   * is set; otherwise it first collects up to
   * 10 times back to back ({@code System.gc()} clears a weakly reachable referent itself), then,
   * while any is still set, collects every 10 ms for up to 5 s in all, and returns as soon as
   * none is left.
   *
   * <p>Why the second phase: {@code Thread.join()} returns when the thread is marked terminated,
   * before the JVM has finished tearing the thread down and let go of its {@code Thread} object;
   * on a loaded machine the exiting thread may not run again for tens of milliseconds. A review
   * 23 relay test failed once in CI that way (1 of 40 terminated threads still set after 10
   * rounds). Reproduced here with 4 busy threads on 2 cores: in 15 of 300 relays, 1 to 6 threads
   * were still set after 10 rounds, and all were cleared 16 to 59 ms later. No event tells when
   * the JVM lets go, hence the bounded poll; something that really retains the referent still
   * fails, 5 s later.
   *
   * @param refs weak references to what should be collectable
   * @return how many still refer to their object
   */
  public static int stillReachable(List<? extends WeakReference<?>> refs) {
    int alive = alive(refs); // none left: no collection at all
    for (int round = 0; round < 10 && alive > 0; round++) {
      System.gc();
      alive = alive(refs);
    }
    long deadline = System.nanoTime() + SETTLE_NANOS;
    while (alive > 0 && System.nanoTime() - deadline < 0) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10)); // the exiting thread's turn
      System.gc();
      alive = alive(refs);
    }
    return alive;
  }

  private static int alive(List<? extends WeakReference<?>> refs) {
    int alive = 0;
    for (WeakReference<?> r : refs) {
      if (r.get() != null) {
        alive++;
      }
    }
    return alive;
  }

  /**
   * {@link #stillReachable(List)} for one reference.
   *
   * @param ref a weak reference to what should be collectable
   * @return 1 if it still refers to its object, else 0
   */
  public static int stillReachable(WeakReference<?> ref) {
    return stillReachable(List.of(ref));
  }
}
