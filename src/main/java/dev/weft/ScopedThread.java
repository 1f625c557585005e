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
 * <p><b>Done means the task is done:</b> {@link #isDone()}, {@code join()} and
 * {@code join(Duration)} decide by the task, not by the thread, which may still be unwinding (or
 * running a factory's clean-up code): once {@code isDone()} returned {@code true}, every join,
 * even with a zero timeout, returns the result or throws the failure without waiting. A task that
 * never runs is done too: spawned into a cancelled scope (its {@code join()} throws
 * {@link TaskFailedException} with a {@link java.util.concurrent.CancellationException} cause),
 * or run by a factory thread that died without running it (a failure, see
 * {@link Scope.Builder#threadFactory}).
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
   *     the scope (unless this join runs on a thread outside the scope while the scope ends:
   *     then both may report it). Also if the task never ran because the scope was cancelled first (the cause
   *     is then a {@link java.util.concurrent.CancellationException}; nothing is reported for
   *     it at the end), or because its factory thread died without running it
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
   * @throws TimeoutException if the task is still running when {@code timeout} has passed
   *     (never once {@link #isDone()} returned true); the thread keeps running and may be joined
   *     again
   * @throws TaskFailedException if the task threw; the cause is the original throwable (and in
   *     the other cases {@link #join()} lists)
   * @throws ScopeTimeoutException if the scope's own deadline passed first, or if the task
   *     failed after the deadline had cancelled the scope
   * @throws IllegalStateException if called by this handle's own thread
   * @throws NullPointerException if {@code timeout} is null
   */
  T join(Duration timeout) throws InterruptedException, TimeoutException;

  /**
   * Returns whether the task has finished, normally or by throwing, or will never run. The
   * thread may still be unwinding after this returns {@code true}; every join then returns (or
   * throws the task's failure) at once, without waiting for the thread.
   *
   * @return {@code true} if the task returned or threw, or will never run
   */
  boolean isDone();

  /**
   * Returns the thread that runs the task, for naming and diagnostics (stack traces, thread
   * dumps). Do not start, join or interrupt it directly; use the handle and its scope. For a
   * task spawned into a cancelled scope it is a placeholder that was never started (state
   * {@code NEW}), named like the thread it stands for and not made by the scope's factory.
   *
   * @return the underlying thread
   */
  Thread thread();
}
