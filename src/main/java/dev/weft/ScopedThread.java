package dev.weft;

import java.time.Duration;
import java.util.concurrent.TimeoutException;

/**
 * A handle to one thread started by {@link Scope#spawn(java.util.concurrent.Callable)}: wait for
 * its result with {@link #join()}, poll it with {@link #isDone()}, name or inspect the underlying
 * thread with {@link #thread()}.
 *
 * <pre>{@code
 * int total = Scope.call(scope -> {
 *   ScopedThread<Integer> sum = scope.spawn(() -> data.stream().mapToInt(i -> i).sum());
 *   ScopedThread<Integer> max = scope.spawn(() -> Collections.max(data));
 *   return sum.join() + max.join();          // each join returns the task's value
 * });
 * }</pre>
 *
 * <p>With the plain JDK the same handle is a {@code Thread} plus a field written by the task and
 * read after {@code Thread.join()}, with the failure smuggled out by hand; {@code ScopedThread}
 * does this and reports a failure as a {@link TaskFailedException} naming the thread.
 *
 * <p><b>Memory consistency effects:</b> actions in a thread prior to {@code spawn} happen-before
 * the task starts; every action of the task happens-before {@link #join()} (or a
 * {@link #join(Duration) timed join} that returns or throws {@code TaskFailedException}) returns
 * in any thread, and happens-before {@link #isDone()} returns {@code true}.
 *
 * <p><b>Thread-safety:</b> a handle may be used by any number of threads; any thread may join
 * it, not only the scope's owner.
 *
 * <p><b>Misuse:</b> a thread joining itself gets {@link IllegalStateException} instead of a
 * deadlock. Handles are created only by {@link Scope}.
 *
 * @param <T> the type of the task's result ({@code Void} for a {@code Runnable})
 */
public sealed interface ScopedThread<T> permits ScopeTask {

  /**
   * Waits for the thread to finish and returns its task's result.
   *
   * <p>If the scope has a deadline and it passes while waiting, the scope is cancelled (its
   * running threads are interrupted) and {@link ScopeTimeoutException} is thrown.
   *
   * @return the value the task returned ({@code null} for a {@code Runnable})
   * @throws InterruptedException if the calling thread is interrupted while waiting; the scope
   *     is not cancelled by this
   * @throws TaskFailedException if the task threw; the cause is the original throwable and the
   *     message names the thread. A failure reported here is not reported again at the end of
   *     the scope
   * @throws ScopeTimeoutException if the scope's deadline passed while waiting, or if the task
   *     failed after the deadline had cancelled the scope (its failure is then suppressed on
   *     this exception), so that a deadline always shows as a deadline
   * @throws IllegalStateException if called by this handle's own thread
   */
  T join() throws InterruptedException;

  /**
   * Waits at most {@code timeout} for the thread to finish and returns its task's result. A zero
   * or negative timeout checks once without waiting; huge timeouts do not overflow.
   *
   * @param timeout how long to wait at most
   * @return the value the task returned ({@code null} for a {@code Runnable})
   * @throws InterruptedException if the calling thread is interrupted while waiting
   * @throws TimeoutException if the thread is still running when {@code timeout} has passed; the
   *     thread keeps running and may be joined again
   * @throws TaskFailedException if the task threw; the cause is the original throwable
   * @throws ScopeTimeoutException if the scope's own deadline passed first, or if the task
   *     failed after the deadline had cancelled the scope
   * @throws IllegalStateException if called by this handle's own thread
   * @throws NullPointerException if {@code timeout} is null
   */
  T join(Duration timeout) throws InterruptedException, TimeoutException;

  /**
   * Returns whether the task has finished, normally or by throwing. The thread may still be
   * unwinding for a moment after this returns {@code true}; {@link #join()} then returns at once
   * or almost at once.
   *
   * @return {@code true} if the task returned or threw
   */
  boolean isDone();

  /**
   * Returns the thread that runs the task, for naming and diagnostics (stack traces, thread
   * dumps). Do not start, join or interrupt it directly; use the handle and its scope.
   *
   * @return the underlying thread
   */
  Thread thread();
}
