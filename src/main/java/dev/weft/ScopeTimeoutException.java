package dev.weft;

import java.util.concurrent.TimeoutException;

/**
 * Thrown when a {@link Scope}'s deadline passed before its threads finished: the threads still
 * running were interrupted and joined, and the message names them.
 *
 * <pre>{@code
 * try {
 *   Scope.builder().timeout(Duration.ofSeconds(2)).run(scope -> {
 *     for (String url : urls) scope.spawn(() -> fetch(url));
 *   });
 * } catch (ScopeTimeoutException e) {   // catch before TaskFailedException, which it extends
 *   log.warn(e.getMessage()); // "... passed its deadline (timeout PT2S); still running,
 *                             //  interrupted and joined: [weft-scope-3-1, weft-scope-3-4]"
 * }
 * }</pre>
 *
 * <p>It extends {@link TaskFailedException}, so one {@code catch (TaskFailedException e)} handles
 * every way a scope's threads can fail to deliver. Its {@linkplain #getCause() cause} is a
 * {@link TimeoutException} with the same message; failures of threads that were not joined by the
 * user are attached as {@linkplain #getSuppressed() suppressed}.
 *
 * <p><b>Memory consistency effects:</b> every action of the scope's threads happens-before the
 * owner catches this exception at the end of the scope (all threads have been joined).
 *
 * <p><b>Thread-safety:</b> built by one thread and then only read.
 */
public final class ScopeTimeoutException extends TaskFailedException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception; the cause is a {@link TimeoutException} with the same message.
   *
   * @param message what timed out and which threads were still running
   * @throws NullPointerException if {@code message} is null
   */
  public ScopeTimeoutException(String message) {
    super(message, new TimeoutException(message));
  }
}
