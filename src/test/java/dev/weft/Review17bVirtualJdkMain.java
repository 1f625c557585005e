package dev.weft;

/** Review 17b: {@link Review17bVirtualMain}'s schedules on {@code ReentrantReadWriteLock}. */
final class Review17bVirtualJdkMain {
  private Review17bVirtualJdkMain() {}

  public static void main(String[] args) throws Exception {
    System.exit(Review17bVirtualMain.runAll("jdk"));
  }
}
