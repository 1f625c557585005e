package dev.weft;

import java.util.Objects;

/**
 * Thrown when user code that weft ran on another thread ({@code Scope} tasks, {@code Parallel}
 * functions) failed: the original throwable is the {@linkplain #getCause() cause}, and every
 * further failure of the same operation is attached as {@linkplain #getSuppressed() suppressed},
 * so none is lost.
 *
 * <pre>{@code
 * try {
 *   Parallel.map(urls, url -> fetch(url));
 * } catch (TaskFailedException e) {
 *   Throwable first = e.getCause();              // the first failure, unchanged
 *   Throwable[] others = e.getSuppressed();      // any that failed concurrently
 * }
 * }</pre>
 *
 * <p>This is the one exception type through which weft reports failures of user code run on
 * other threads. It is unchecked because the failing code is usually a lambda that cannot
 * declare checked exceptions, and because the caller's code did not fail — the task did. An
 * {@link Error} thrown by user code is still reported here as the cause rather than swallowed;
 * callers that must react to {@code Error}s test {@code getCause() instanceof Error}.
 *
 * <p><b>Memory consistency effects:</b> actions of the failed task prior to its failure
 * happen-before the caller observes this exception.
 *
 * <p><b>Thread-safety:</b> instances are built by one thread and then only read; as with any
 * {@link Throwable}, adding suppressed exceptions after it has been thrown is not coordinated.
 */
public class TaskFailedException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates an exception reporting that a task failed.
   *
   * @param message what failed, naming the task or thread where known
   * @param cause the original failure; never null
   * @throws NullPointerException if {@code message} or {@code cause} is null
   */
  public TaskFailedException(String message, Throwable cause) {
    super(Objects.requireNonNull(message, "message"), Objects.requireNonNull(cause, "cause"));
  }

  /**
   * A failure as the library's messages quote it: its {@code toString()}, or, when that throws
   * (a user's exception whose {@code getMessage()} fails), its class name and what the
   * {@code toString()} threw. Building a message must never replace the failure it reports
   * (review 23: a join threw the {@code toString()}'s exception, and the task's was lost).
   */
  static String describe(Throwable t) {
    try {
      return String.valueOf(t);
    } catch (RuntimeException | Error e) { // any failure of user code, an Error included
      return t.getClass().getName() + " (its toString() threw " + e.getClass().getName() + ")";
    }
  }
}
