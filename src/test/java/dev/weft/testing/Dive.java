package dev.weft.testing;

/**
 * Runs an attempt near the end of the thread's stack: {@link #dive} recurses until a
 * StackOverflowError, then, unwinding, runs the attempt once in each of the {@code window}
 * frames nearest the bottom, so every depth at which the attempt's own steps can overflow is
 * tried. The attempt records what it needs (the state it left); a Throwable it throws, an
 * overflow in its own frames among them, is dropped here.
 */
public final class Dive {
  private final Runnable attempt;
  private final int window;
  private int bottom = -1;

  /**
   * @param attempt what to run in each bottom frame
   * @param window how many of the bottom frames run it
   */
  public Dive(Runnable attempt, int window) {
    this.attempt = attempt;
    this.window = window;
  }

  /** Recurses from {@code depth} (call with 0) to the overflow, then runs the attempts. */
  @SuppressWarnings("InfiniteRecursion") // on purpose: it ends in StackOverflowError
  public void dive(int depth) {
    try {
      dive(depth + 1);
    } catch (StackOverflowError e) {
      if (bottom < 0) {
        bottom = depth;
      }
    }
    if (bottom - depth < window) {
      try {
        attempt.run();
      } catch (Throwable e) {
        // an overflow in the attempt's own frames lands here; the state tells what it left
      }
    }
  }
}
