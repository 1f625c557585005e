package dev.weft;

/**
 * How weft names a thread in exception messages, {@code toString()} and JFR events.
 *
 * <p>A virtual thread has no name unless it is given one ({@code Thread.ofVirtual()} and the
 * virtual-thread-per-task executor make unnamed threads), and neither has a platform thread
 * created with an empty name: a message built from {@code getName()} alone then read "belongs
 * to thread , not to ..." (review 22). Such a thread is named by its {@code toString()}, which
 * carries its id ({@code VirtualThread[#31]/runnable@ForkJoinPool-1-worker-1}).
 */
final class ThreadNames {
  private ThreadNames() {}

  /**
   * The name to show for {@code t}.
   *
   * @param t a thread
   * @return its name, or its {@code toString()} if the name is empty
   */
  static String of(Thread t) {
    String name = t.getName();
    return name.isEmpty() ? t.toString() : name;
  }
}
