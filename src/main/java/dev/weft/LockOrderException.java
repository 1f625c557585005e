package dev.weft;

import java.util.List;

/**
 * Thrown by a weft lock, with {@linkplain LockOrder lock-order checking} on in {@link
 * LockOrder.Mode#THROW} mode, instead of a blocking acquisition that would take two or more
 * locks in an order that contradicts an order seen before: a lock-order inversion, the cause of
 * most deadlocks, found the first time both orders are seen, even on a single thread.
 *
 * <pre>{@code
 * LockOrder.enable(LockOrder.Mode.THROW);   // or -Ddev.weft.lockOrder=check
 * try (var a = accounts.lock(); var b = audit.lock()) { ... }   // records accounts -> audit
 * try (var b = audit.lock(); var a = accounts.lock()) { ... }   // throws LockOrderException
 * }</pre>
 *
 * <p>The message names the cycle, for example {@code Mutex@1b6d3586 -> Mutex@4554617c ->
 * Mutex@1b6d3586}; {@link #cycle()} returns the same names as a list. The exception's own stack
 * is the acquisition that would close the cycle (its first edge). Every other edge of the cycle
 * is attached as a {@linkplain #getSuppressed() suppressed} throwable whose message names the
 * edge and the thread, and whose stack trace is where that edge was first seen (the acquisition
 * of its second lock while the first was held), in the order of the cycle.
 *
 * <p><b>Memory consistency effects.</b> None: the exception is thrown before the lock is
 * acquired, and the acquisition does not happen.
 *
 * <p><b>Thread-safety.</b> Immutable once thrown (apart from what {@link Throwable} allows any
 * caller to add, such as further suppressed exceptions).
 *
 * <p><b>Misuse.</b> None; the lock the thread asked for is not held when this is thrown, and the
 * locks it held before are still held (release them as usual).
 */
public final class LockOrderException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** The names of the cycle's locks, first name repeated at the end; an array to stay serializable. */
  private final String[] cycle;

  LockOrderException(String message, List<String> cycle) {
    super(message);
    this.cycle = cycle.toArray(new String[0]);
  }

  /**
   * Returns the cycle as lock names: the lock held, the lock being acquired, then the locks of
   * the earlier edges, ending with the first name again. A lock given a {@linkplain
   * LockOrder#classify lock class} appears as {@code class "<name>"}; one without as {@code
   * <Type>@<identity hash in hex>}.
   *
   * @return the names along the cycle; the first and last are equal
   */
  public List<String> cycle() {
    return List.of(cycle);
  }
}
