package dev.weft.testing;

import java.lang.ref.WeakReference;
import java.util.List;

/** Collectability checks for the memory-retention reviews, shared by the test suites. */
public final class Gc {
  private Gc() {}

  /**
   * How many of {@code refs} are still set after up to 10 collections ({@code System.gc()}
   * clears a weakly reachable referent itself, so no wait is needed between rounds).
   *
   * @param refs weak references to what should be collectable
   * @return how many still refer to their object
   */
  public static int stillReachable(List<? extends WeakReference<?>> refs) {
    int alive = refs.size();
    for (int round = 0; round < 10 && alive > 0; round++) {
      System.gc();
      alive = 0;
      for (WeakReference<?> r : refs) {
        if (r.get() != null) {
          alive++;
        }
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
