package dev.weft;

/**
 * How weft names a thread in exception messages, {@code toString()} and JFR events.
 *
 * <p>A virtual thread has no name unless it is given one ({@code Thread.ofVirtual()} and the
 * virtual-thread-per-task executor make unnamed threads), and neither has a platform thread
 * created with an empty name: a message built from {@code getName()} alone then read "belongs
 * to thread , not to ..." (review 22). Such a thread is named by its id, "unnamed thread #31".
 * Not by its {@code toString()}: on JDK 17 that is {@code Thread[,5,main]}, the same for every
 * unnamed thread of a group, so the owner and the misuser still read alike (review 22c).
 */
final class ThreadNames {
  private ThreadNames() {}

  /**
   * The name to show for {@code t}.
   *
   * @param t a thread
   * @return its name, or "unnamed thread #" and its id if the name is empty
   */
  @SuppressWarnings("deprecation") // getId(): threadId() is JDK 19+, and this is Java 17 code
  static String of(Thread t) {
    String name = t.getName();
    return name.isEmpty() ? "unnamed thread #" + t.getId() : name;
  }
}
