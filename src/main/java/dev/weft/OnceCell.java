package dev.weft;

import java.time.Duration;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * A cell that is written at most once, by whichever thread gets there first, and read freely
 * afterwards (Rust's {@code OnceLock}); the initialiser is given at the call site, so it may
 * depend on arguments known only at run time.
 *
 * <pre>{@code
 * private final OnceCell<Map<String, String>> config = new OnceCell<>();
 *
 * Map<String, String> config() {
 *   return config.getOrInit(() -> loadConfig(path));  // first caller loads; others wait for it
 * }
 *
 * // or: one thread sets it, others wait for it
 * config.set(Map.of("mode", "fast"));                 // IllegalStateException if already set
 * Map<String, String> c = config.await();             // blocks until some thread has set it
 * }</pre>
 *
 * <p>With the plain JDK, the closest are an {@code AtomicReference} with {@code
 * compareAndSet(null, v)} (no waiting, no null values, no "run the initialiser once") or a
 * {@code CompletableFuture} completed once ({@code complete(v)} and {@code join()}), which
 * cannot run an initialiser exactly once either.
 *
 * <p><b>Semantics.</b> {@link #getOrInit} runs at most one initialiser at a time and stores the
 * first successful result; other callers wait for it and get the same instance. {@link #trySet}
 * and {@link #set} never wait: if one of them wins while an initialiser is running, the
 * initialiser's outcome is dropped (its result, or an exception other than an {@link Error}) and
 * its caller gets the value that was set, as if the set had come first. {@code null} is a
 * legal value. If an initialiser throws, the exception propagates unchanged to its caller and
 * waiting threads are released; under {@link Lazy.FailurePolicy#RETRY RETRY} (the default) the
 * cell stays unset and a waiting {@code getOrInit} runs its own initialiser; under {@link
 * Lazy.FailurePolicy#REMEMBER REMEMBER} the cell becomes failed for good: {@code getOrInit} and
 * {@code await} throw {@link TaskFailedException} with the original failure as cause, {@code
 * trySet} returns false, {@code set} throws, {@code isSet} is false and {@code orElseThrow}
 * throws {@link NoSuchElementException} with the original failure as cause.
 *
 * <p>There is no {@code get()} returning null for "unset": since null is a legal value, it
 * would be ambiguous. Use {@link #isSet()}, {@link #orElse}, or {@link #orElseThrow()}.
 *
 * <p><b>Memory consistency effects:</b> Actions in a thread prior to a successful {@link #set}
 * or {@link #trySet}, and actions of a thread running an initialiser passed to {@link
 * #getOrInit} prior to its return, happen-before every method of this cell that returns or
 * reports that value ({@code getOrInit}, {@code await}, {@code orElse}, {@code orElseThrow},
 * {@code isSet}) in another thread.
 *
 * <p><b>Thread-safety:</b> all methods are safe to call from any number of threads. Waiting
 * uses {@link java.util.concurrent.locks.LockSupport}, not monitors, so virtual threads do not
 * pin. {@link #await()} and {@link #await(Duration)} respond to interrupts; {@link #getOrInit}
 * and {@link #awaitUninterruptibly()} do not, and keep the interrupt status set.
 *
 * <p><b>Bad input and misuse:</b> a null initialiser or timeout throws {@link
 * NullPointerException}; a zero or negative timeout checks once without waiting. {@link #set}
 * on a set cell throws {@link IllegalStateException}. An initialiser that calls {@code
 * getOrInit} or {@code await} on its own cell from the same thread gets an {@link
 * IllegalStateException} ("recursive initialisation") instead of a deadlock.
 *
 * @param <T> the type of the value; may be a nullable type
 */
public final class OnceCell<T extends @Nullable Object> extends OnceCellCore<T> {
  /*
   * Algorithm notes: the protocol lives in OnceCellCore (see its notes). trySet/set are one CAS
   * of the state word to a terminal Done (also over a running initialiser), then the value
   * cache's setRelease and the release of waiters; getOrInit is the shared claim-and-run slow
   * path with the caller's supplier; await parks until the state is terminal. Every read method
   * tries the cached value first (one getAcquire), then the Done (getAcquire of the state).
   */

  /** Creates an empty cell that lets a failed initialiser be retried ({@code RETRY}). */
  public OnceCell() {
    super(Lazy.FailurePolicy.RETRY);
  }

  /**
   * Creates an empty cell that handles a failed initialiser as {@code policy} says.
   *
   * @param policy what a failure of an initialiser passed to {@link #getOrInit} does
   * @throws NullPointerException if {@code policy} is null
   */
  public OnceCell(Lazy.FailurePolicy policy) {
    super(Objects.requireNonNull(policy, "policy"));
  }

  /**
   * Returns the value, running {@code initializer} first if the cell is unset and no other
   * thread is initialising it; if another thread is, waits for it (and if that thread fails
   * under {@code RETRY}, runs {@code initializer} itself).
   *
   * @param initializer computes the value; may return null; runs only if needed
   * @return the cell's value (the same instance for every caller)
   * @throws NullPointerException if {@code initializer} is null
   * @throws IllegalStateException if called by an initialiser of this cell on the same thread
   *     (recursive initialisation)
   * @throws TaskFailedException if an initialiser failed earlier under {@link
   *     Lazy.FailurePolicy#REMEMBER}; the cause is the original failure
   * @throws RuntimeException whatever {@code initializer} throws (likewise any {@link Error}),
   *     unchanged
   */
  @SuppressWarnings("unchecked") // a non-null cached value is the T that was set
  public T getOrInit(Supplier<? extends T> initializer) {
    Objects.requireNonNull(initializer, "initializer");
    Object v = valueAcquire();
    if (v != null) {
      return (T) v;
    }
    return initSlow(initializer);
  }

  /**
   * Sets the value if the cell is unset. Never waits: if an initialiser is running, this value
   * wins and the initialiser's result is dropped.
   *
   * @param value the value; may be null
   * @return true if this call set the value; false if the cell was already set (or failed)
   */
  public boolean trySet(T value) {
    return trySetValue(value);
  }

  /**
   * Sets the value, which must not have been set before.
   *
   * @param value the value; may be null
   * @throws IllegalStateException if the cell is already set, or failed under {@code REMEMBER}
   */
  public void set(T value) {
    if (!trySetValue(value)) {
      Done d = doneAcquire();
      Throwable failed = d != null ? d.failure : null;
      if (failed != null) {
        throw new IllegalStateException(
            "OnceCell cannot be set: its initialiser failed and FailurePolicy.REMEMBER keeps it"
                + " failed; the cause is that failure",
            failed);
      }
      throw new IllegalStateException(
          "OnceCell is already set; use trySet(value) to set it only if it is still unset");
    }
  }

  /**
   * Tells whether the value has been set. Never waits.
   *
   * @return true if a value (possibly null) is stored
   */
  public boolean isSet() {
    return isSetNow();
  }

  /**
   * Returns the value if it is set, otherwise {@code other}. Never waits.
   *
   * @param other the value to return if the cell is unset (or failed); may be null
   * @return the cell's value or {@code other}
   */
  @SuppressWarnings("unchecked") // a non-null cached value is the T that was set
  public T orElse(T other) {
    Object v = valueAcquire();
    if (v != null) {
      return (T) v;
    }
    Done d = doneAcquire();
    return d == null || d.failure != null ? other : decode(d);
  }

  /**
   * Returns the value if it is set. Never waits.
   *
   * @return the cell's value; may be null if null was set
   * @throws NoSuchElementException if the cell is unset, or failed under {@code REMEMBER} (then
   *     with the original failure as cause)
   */
  @SuppressWarnings("unchecked") // a non-null cached value is the T that was set
  public T orElseThrow() {
    Object v = valueAcquire();
    if (v != null) {
      return (T) v;
    }
    Done d = doneAcquire();
    if (d == null) {
      throw new NoSuchElementException(
          "OnceCell is not set; use isSet() or orElse(other) to test first, or await() to wait");
    }
    if (d.failure != null) {
      throw new NoSuchElementException(
          "OnceCell is not set: its initialiser failed (FailurePolicy.REMEMBER); the cause is that"
              + " failure",
          d.failure);
    }
    return decode(d);
  }

  /**
   * Waits until some thread sets the value (by {@code set}, {@code trySet} or {@code
   * getOrInit}) and returns it.
   *
   * @return the cell's value; may be null if null was set
   * @throws InterruptedException if this thread is interrupted while waiting (the value, if
   *     already set, is returned without checking the interrupt status)
   * @throws IllegalStateException if called by an initialiser of this cell on the same thread
   * @throws TaskFailedException if an initialiser failed under {@code REMEMBER}, before or while
   *     waiting; the cause is the original failure
   */
  @SuppressWarnings("unchecked") // a non-null cached value is the T that was set
  public T await() throws InterruptedException {
    Object v = valueAcquire();
    if (v != null) {
      return (T) v;
    }
    return decode(Objects.requireNonNull(awaitSlow(true, -1L)));
  }

  /**
   * Waits until some thread sets the value, or the timeout elapses. Read the value afterwards
   * with {@link #orElseThrow()}.
   *
   * <p>On a virtual thread, a wait that fails unmounts the thread before it returns: see <a
   * href="package-summary.html#virtual-timeouts">timed waits on virtual threads</a>.
   *
   * @param timeout how long to wait at most; zero or negative checks once without waiting; huge
   *     values are capped (about 146 years), never overflow
   * @return true if the value is set, false if the timeout elapsed first
   * @throws NullPointerException if {@code timeout} is null
   * @throws InterruptedException if this thread is interrupted before or while waiting while the
   *     cell is unset (a zero timeout included: the status is checked before the one check);
   *     a set cell answers {@code true} without looking at the status
   * @throws IllegalStateException if called by an initialiser of this cell on the same thread
   * @throws TaskFailedException if an initialiser failed under {@code REMEMBER}, before or while
   *     waiting; the cause is the original failure
   */
  public boolean await(Duration timeout) throws InterruptedException {
    long nanos = Timeouts.toNanos(timeout, "timeout");
    if (valueAcquire() != null) {
      return true;
    }
    Done d = awaitSlow(true, nanos);
    if (d == null) {
      return false;
    }
    decode(d); // throws if the initialiser failed under REMEMBER
    return true;
  }

  /**
   * Waits, ignoring interrupts, until some thread sets the value, and returns it. An interrupt
   * received while waiting is kept: the thread's interrupt status is set again on return.
   *
   * @return the cell's value; may be null if null was set
   * @throws IllegalStateException if called by an initialiser of this cell on the same thread
   * @throws TaskFailedException if an initialiser failed under {@code REMEMBER}; the cause is
   *     the original failure
   */
  @SuppressWarnings("unchecked") // a non-null cached value is the T that was set
  public T awaitUninterruptibly() {
    Object v = valueAcquire();
    if (v != null) {
      return (T) v;
    }
    try {
      return decode(Objects.requireNonNull(awaitSlow(false, -1L)));
    } catch (InterruptedException e) {
      throw new AssertionError("an uninterruptible wait threw InterruptedException", e);
    }
  }

  /**
   * Describes this cell without initialising it, waiting, or locking.
   *
   * @return {@code OnceCell[unset]}, {@code OnceCell[initialising]}, {@code OnceCell[<value>]},
   *     or {@code OnceCell[failed: <cause>]}
   */
  @Override
  public String toString() {
    return describe("unset");
  }

  @Override
  Supplier<? extends T> ownSupplier() {
    throw new AssertionError("OnceCell always passes the caller's initializer");
  }

  @Override
  void releaseSupplier() {
    // nothing: the initializer belongs to the getOrInit caller
  }

  @Override
  String kind() {
    return "OnceCell";
  }
}
