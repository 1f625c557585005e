package dev.weft;

import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * Recognises the one wait a parallel call can never finish: a call made inside a class's static
 * initializer whose workers run a lambda or method reference written in that class.
 *
 * <p>A lambda's body is a static method of the class it is written in (unless it captures {@code
 * this}), and a method reference to one of the class's static methods calls one, so a worker's
 * first call of the function waits for the class's initialization to end (JLS 12.4.2), while the
 * initializing thread, the caller, waits for its workers: a deadlock. A parallel stream hangs in it
 * for ever. A weft caller that has waited {@link #LOOK_AFTER_NANOS} for its workers looks, and
 * inside such an initializer again every {@link #LOOK_AGAIN_NANOS} ({@link ParallelJob}; only when
 * its chunks are known to be short): a function's class must be the generated class of a class
 * whose {@code <clinit>} frame is on the caller's stack ({@link #hostBeingInitialized}), and a
 * worker must be found, at every one of five looks spread over a quarter of a second ({@link
 * #GAPS_NANOS}), with the same stack, stopped at the call of the function and not inside its body
 * ({@link #atTheCall}), having finished no chunk of elements. A worker that runs the function
 * finishes chunks, or shows the body's frames (so does one whose function is a method reference,
 * written in that class, to another class's method: it does not wait for the initialization).
 *
 * <p>Not recognised (they still hang, as a parallel stream does): a function object of a named
 * or anonymous class, a lambda that captures a reference of the initializing class's type, and
 * a function defined elsewhere whose body reads a static of the class being initialized. In
 * those the worker's frames do not tell a blocked call from a running one.
 *
 * <p>Costs nothing on a call that ends within {@link #LOOK_AFTER_NANOS} of the caller's own
 * share; a longer one pays one stack trace of the caller (a few microseconds) and, only inside
 * the function's own class's initializer, the looks at its workers. Package-private: used by
 * {@link ParallelJob}.
 */
final class InitializerDeadlock {
  private InitializerDeadlock() {}

  /** How long a caller waits for its workers before it first looks. */
  static final long LOOK_AFTER_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  /** The pause between two looks, inside an initializer that one of the functions belongs to. */
  static final long LOOK_AGAIN_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

  /**
   * The longest expected chunk (from the measured cost per element) for which the looks are
   * made: a tenth of their span, so that a worker that runs finishes chunks between them.
   */
  static final long MAX_CHUNK_NANOS = TimeUnit.MILLISECONDS.toNanos(25);

  /**
   * Chunks of at most this many elements are looked at even when their cost is unknown: a
   * worker that runs finishes one between two looks, however cheap its elements.
   */
  static final long FEW_ELEMENTS = 16;

  /**
   * The pauses between the looks at a suspect worker (about a quarter of a second in all): a
   * worker is reported only if every look finds it in the same place, having finished nothing.
   * A thread descheduled for that long at that very call, on a machine this loaded, is the only
   * way a worker that is not blocked could look like one.
   */
  static final long[] GAPS_NANOS = {
    TimeUnit.MILLISECONDS.toNanos(2),
    TimeUnit.MILLISECONDS.toNanos(8),
    TimeUnit.MILLISECONDS.toNanos(40),
    TimeUnit.MILLISECONDS.toNanos(200),
  };

  /** The infix of the name of a class generated for a lambda or a method reference. */
  private static final String LAMBDA_INFIX = "$$Lambda";

  /**
   * If {@code fnClass} is the class generated for a lambda or method reference written in a
   * class whose static initializer the calling thread is running, that class's name; else null.
   * A function that holds a reference of that class's type (a lambda that captures {@code
   * this}, whose body is then an instance method and needs no initialization) is left out.
   *
   * @param fnClass the class of the call's function object
   * @return the initializing class's binary name, or null
   */
  static @Nullable String hostBeingInitialized(Class<?> fnClass) {
    String name = fnClass.getName();
    int at = name.indexOf(LAMBDA_INFIX);
    if (at <= 0) {
      return null;
    }
    String host = name.substring(0, at);
    for (java.lang.reflect.Field f : fnClass.getDeclaredFields()) {
      if (f.getType().getName().equals(host)) {
        return null;
      }
    }
    for (StackTraceElement e : Thread.currentThread().getStackTrace()) {
      if ("<clinit>".equals(e.getMethodName()) && host.equals(e.getClassName())) {
        return host;
      }
    }
    return null;
  }

  /**
   * Whether {@code stack} (a worker's) stops at the call of the function: its top frame is the
   * generated class of {@code host} (shown on JDK 17) or one of {@code callers}, the classes of
   * weft's code that call the function (JDK 21+ hide the generated frame), and no frame is of
   * {@code host} itself, so the body has not been entered.
   *
   * @param stack a worker thread's stack trace
   * @param host the class being initialized
   * @param callers the binary names of the classes whose code calls the function
   * @return whether the worker is at the call and not inside the body
   */
  static boolean atTheCall(StackTraceElement[] stack, String host, String[] callers) {
    if (stack.length == 0) {
      return false;
    }
    String top = stack[0].getClassName();
    boolean at = top.startsWith(host) && top.startsWith(LAMBDA_INFIX, host.length());
    for (int i = 0; !at && i < callers.length; i++) {
      at = top.equals(callers[i]);
    }
    if (!at) {
      return false;
    }
    for (StackTraceElement e : stack) {
      if (e.getClassName().equals(host)) {
        return false;
      }
    }
    return true;
  }

  /**
   * The binary names of {@code job}'s class and of its superclasses below {@code Object}: the
   * classes whose methods may be the frame that calls the function.
   *
   * @param job the call's job object
   * @return their names, the job's own class first
   */
  static String[] callerClasses(Object job) {
    int n = 0;
    for (Class<?> c = job.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
      n++;
    }
    String[] names = new String[n];
    int i = 0;
    for (Class<?> c = job.getClass(); c != null && c != Object.class; c = c.getSuperclass()) {
      names[i++] = c.getName();
    }
    return names;
  }

  /**
   * The message of the {@link IllegalStateException} a call throws when a worker waits for the
   * initializer of {@code host}.
   */
  static String message(String call, String host) {
    return call
        + " was called inside the static initializer of "
        + host
        + ", and its worker threads wait for that initializer to end (they run a lambda or"
        + " method reference written in that class), while the initializer waits for them:"
        + " a deadlock (a parallel stream hangs here for ever). Make the call after the"
        + " initializer (from a method, a holder class or a Lazy), or run it on one thread."
        + " The workers stay blocked until the initializer ends: if this exception leaves it,"
        + " they fail with NoClassDefFoundError and never run the function; if the"
        + " initializer catches it, they run the elements they had taken after this call has"
        + " thrown";
  }
}
