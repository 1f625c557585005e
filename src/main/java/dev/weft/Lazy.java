package dev.weft;

import java.util.Objects;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * A value computed on first use by a supplier given where the {@code Lazy} is defined, exactly
 * once however many threads ask for it at the same time (Rust's {@code LazyLock}).
 *
 * <pre>{@code
 * static final Lazy<Pattern> IDENT = Lazy.of(() -> Pattern.compile("^[a-zA-Z0-9_]+$"));
 *
 * static boolean isIdentifier(String s) {
 *   return IDENT.get().matcher(s).matches();   // compiled by the first caller only
 * }
 * }</pre>
 *
 * <p>The same with the plain JDK needs either the holder-class idiom (statics only, and a
 * failure becomes {@code ExceptionInInitializerError} then {@code NoClassDefFoundError}) or a
 * hand-written double-checked lock:
 *
 * <pre>{@code
 * private static volatile Pattern ident;             // volatile is essential
 * static Pattern ident() {
 *   Pattern p = ident;
 *   if (p == null) {
 *     synchronized (Holder.class) {                  // pins virtual threads on JDK 21-23
 *       p = ident;
 *       if (p == null) ident = p = Pattern.compile("^[a-zA-Z0-9_]+$");
 *     }
 *   }
 *   return p;
 * }
 * }</pre>
 *
 * <p>After initialisation {@link #get()} is one acquire load and a null check, as cheap as a
 * {@code volatile} read (a {@code null} value takes a slightly longer path). A plain {@code static final} field, or the holder-class idiom, is still
 * faster because the JIT folds it into a constant: prefer those when the value is static and
 * its construction cannot fail or depend on anything set up later. Use {@code Lazy} for instance
 * fields, for values whose construction may fail and should be retried, and where class
 * initialisation order is a concern. When the computation needs arguments known only at the
 * call site, use {@link OnceCell}.
 *
 * <p><b>Semantics.</b> The supplier runs at most once per successful initialisation; every
 * caller gets the same instance. Concurrent callers wait (parking, never spinning for long)
 * while one thread runs the supplier. {@code null} is a legal value: it is stored and not
 * recomputed. Once a value is stored the supplier is released for garbage collection. If the
 * supplier throws, its exception propagates unchanged to the thread that ran it, and what
 * happens next depends on the {@link FailurePolicy}: under {@link FailurePolicy#RETRY RETRY}
 * (the default) the {@code Lazy} stays uninitialised, one waiting thread (or the next caller)
 * runs the supplier again; under {@link FailurePolicy#REMEMBER REMEMBER} every later {@code
 * get} throws a {@link TaskFailedException} whose cause is the original failure. Waiting threads
 * are released in both cases.
 *
 * <p><b>Memory consistency effects:</b> Actions of the thread running the supplier, prior to the
 * supplier's return, happen-before every {@code get()} that returns its value, in any thread.
 * An object published through a {@code Lazy} is therefore seen fully constructed, even if it
 * has non-final fields.
 *
 * <p><b>Thread-safety:</b> all methods are safe to call from any number of threads. Waiting
 * uses {@link java.util.concurrent.locks.LockSupport}, not monitors, so virtual threads do not
 * pin. {@link #get()} waits without responding to interrupts, as a field read would; an
 * interrupt that arrives meanwhile is kept (the thread's interrupt status is set on return).
 * Like any object, a {@code Lazy} itself must be published safely (for example through a
 * {@code final} field).
 *
 * <p><b>Misuse:</b> {@link #of} throws {@link NullPointerException} for a null supplier or
 * policy. A supplier that calls {@code get()} on its own {@code Lazy} from the same thread
 * (directly or through other code) gets an {@link IllegalStateException} ("recursive
 * initialisation") instead of a deadlock or a stack overflow.
 *
 * @param <T> the type of the value; may be a nullable type
 */
public final class Lazy<T extends @Nullable Object> extends OnceCellCore<T>
    implements Supplier<T> {
  /*
   * Algorithm notes: the protocol lives in OnceCellCore (see its notes). Lazy adds only the
   * supplier field: written in the constructor (published with the Lazy itself), read only by
   * the thread that owns the initialisation claim (the claim CAS acquires every earlier owner's
   * writes), and cleared by the owner after its CAS made the outcome terminal (success, or a
   * remembered failure); no claim can succeed after that, so nobody reads it again and it
   * becomes garbage.
   */

  /**
   * What a {@link Lazy} or {@link OnceCell} does when its initialiser throws.
   *
   * <p>In both cases the exception propagates unchanged to the thread that ran the initialiser,
   * and threads waiting for it are released.
   */
  public enum FailurePolicy {
    /**
     * The failure is not stored: the value stays unset and the next caller (or a thread that
     * was waiting) runs an initialiser again. Suits transient failures. The default.
     */
    RETRY,
    /**
     * The failure is stored: from then on every read throws {@link TaskFailedException} with
     * the original failure as its cause, and no initialiser runs again. Suits failures that
     * would recur, and callers that must all see the same outcome.
     */
    REMEMBER
  }

  // Plain: see the algorithm notes.
  private @Nullable Supplier<? extends T> supplier;

  private Lazy(Supplier<? extends T> supplier, FailurePolicy policy) {
    super(policy);
    this.supplier = supplier;
  }

  /**
   * Creates a {@code Lazy} that computes its value with {@code supplier} on first use and
   * retries after a failure ({@link FailurePolicy#RETRY}).
   *
   * @param <T> the type of the value
   * @param supplier computes the value; may return null; runs at most once per success
   * @return a new, uninitialised {@code Lazy}
   * @throws NullPointerException if {@code supplier} is null
   */
  public static <T extends @Nullable Object> Lazy<T> of(Supplier<? extends T> supplier) {
    return new Lazy<>(Objects.requireNonNull(supplier, "supplier"), FailurePolicy.RETRY);
  }

  /**
   * Creates a {@code Lazy} that computes its value with {@code supplier} on first use and
   * handles a failure of the supplier as {@code policy} says.
   *
   * @param <T> the type of the value
   * @param supplier computes the value; may return null
   * @param policy what a failure of the supplier does to later calls
   * @return a new, uninitialised {@code Lazy}
   * @throws NullPointerException if {@code supplier} or {@code policy} is null
   */
  public static <T extends @Nullable Object> Lazy<T> of(
      Supplier<? extends T> supplier, FailurePolicy policy) {
    return new Lazy<>(
        Objects.requireNonNull(supplier, "supplier"), Objects.requireNonNull(policy, "policy"));
  }

  /**
   * Returns the value, computing it first if no thread has done so yet; if another thread is
   * computing it, waits for that thread.
   *
   * @return the value (the same instance for every caller); may be null if the supplier
   *     returned null
   * @throws IllegalStateException if called by this {@code Lazy}'s supplier on the same thread
   *     (recursive initialisation)
   * @throws TaskFailedException if the supplier failed earlier and the policy is {@link
   *     FailurePolicy#REMEMBER}; the cause is the original failure
   * @throws RuntimeException whatever the supplier throws (likewise any {@link Error}),
   *     unchanged, on the thread that ran it
   */
  @Override
  @SuppressWarnings("unchecked") // a non-null cached value is the T the initialiser returned
  public T get() {
    Object v = valueAcquire();
    if (v != null) {
      return (T) v;
    }
    return initSlow(null);
  }

  /**
   * Tells whether the value has been computed and stored. Never runs the supplier or waits.
   *
   * @return true if a value (possibly null) is stored; false before, during, and after a failed
   *     initialisation
   */
  public boolean isInitialized() {
    return isSetNow();
  }

  /**
   * Describes this {@code Lazy} without initialising it, waiting, or locking.
   *
   * @return {@code Lazy[uninitialised]}, {@code Lazy[initialising]}, {@code Lazy[<value>]}, or
   *     {@code Lazy[failed: <cause>]}
   */
  @Override
  public String toString() {
    return describe("uninitialised");
  }

  @Override
  Supplier<? extends T> ownSupplier() {
    Supplier<? extends T> s = supplier;
    if (s == null) {
      // Only possible if this Lazy was published through a data race (see class Javadoc).
      throw new IllegalStateException(
          "Lazy has no supplier: it was published unsafely; publish it through a final field");
    }
    return s;
  }

  @Override
  void releaseSupplier() {
    supplier = null;
  }

  @Override
  String kind() {
    return "Lazy";
  }
}
