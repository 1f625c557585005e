package dev.weft.testing;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Fills the heap of a small forked JVM ({@code -Xmx32m -XX:+UseSerialGC -XX:-UseTLAB}) so that
 * the next allocation of a scenario fails with a real {@link OutOfMemoryError}, keeps it full
 * while the code under test handles the error, and frees it again. Used by the out-of-memory
 * scenario mains ({@code Review30HeapMain}, {@code Review30cHeapMain}, ...).
 *
 * <p>Call {@link #free()} and {@link #waitFor} once before the first {@link #fill()}: a first
 * call links its call site, and linking allocates.
 */
public final class Heap {
  private Heap() {}

  private static final Object[] SLOTS = new Object[1 << 16];

  /**
   * Fills the heap with arrays of halving size (1 MiB down to 8 bytes), four passes, then tries
   * one more {@code Object}. A second fill tops up the first.
   *
   * @return true when that probe allocation failed (the heap is full)
   */
  @SuppressWarnings("UnusedVariable")
  public static boolean fill() {
    int i = 0;
    while (i < SLOTS.length - 1 && SLOTS[i] != null) {
      i++;
    }
    for (int pass = 0; pass < 4; pass++) {
      for (int size = 1 << 20; size >= 8 && i < SLOTS.length - 1; ) {
        try {
          SLOTS[i] = new byte[size];
          i++;
        } catch (OutOfMemoryError e) {
          size >>>= 1;
        }
      }
      try {
        SLOTS[i] = new Object();
        i++;
      } catch (OutOfMemoryError e) {
        return true;
      }
    }
    return false;
  }

  /** Drops everything {@link #fill()} holds. */
  public static void free() {
    Arrays.fill(SLOTS, null);
  }

  /** Drops the k last (smallest, a few dozen bytes each) filler arrays. */
  public static void freeSmallest(int k) {
    for (int i = SLOTS.length - 1, n = 0; i >= 0 && n < k; i--) {
      if (SLOTS[i] != null) {
        SLOTS[i] = null;
        n++;
      }
    }
  }

  /** Polls f, without allocating, every millisecond until it holds or millis pass. */
  public static boolean waitFor(long millis, BooleanSupplier f) {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    while (!f.getAsBoolean()) {
      if (System.nanoTime() - end > 0L) {
        return false;
      }
      LockSupport.parkNanos(1_000_000L);
    }
    return true;
  }
}
