package dev.weft;

import java.util.Objects;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * A test seam that lets tests widen or pause a protocol's critical windows on purpose (between
 * publishing a node and starting its thread, between a release and a re-acquire, between a
 * failed validation and the fallback, ...), so that an interleaving that stress reaches in one
 * run of twenty is reached in every run.
 *
 * <p>Not API: package-private, and switched off unless the JVM starts with
 * {@code -Ddev.weft.testWindows=true} (the core's surefire configuration sets it). With the
 * property absent, {@link #ENABLED} is a {@code static final false}, so the JIT folds every
 * {@code if (ProtocolWindows.ENABLED) ProtocolWindows.at("...")} call site away: the seam costs
 * nothing in production.
 *
 * <p>Each window is named by a string, {@code "<type>.<window>"} (for example
 * {@code "scope.pushed-not-started"}); the class Javadoc of the type that calls {@link #at}
 * lists its windows. A test installs one hook with {@link #install}, which sees every window
 * name reached by any thread, and removes it with {@link #clear} (or closes the returned handle).
 */
final class ProtocolWindows {
  /** True only when the JVM runs with {@code -Ddev.weft.testWindows=true}. */
  static final boolean ENABLED = SystemProperties.getBoolean("dev.weft.testWindows");

  // Plain static volatile field: installation is rare (tests only) and every window read must
  // see the latest hook without any other synchronisation. Never read unless ENABLED.
  private static volatile @Nullable Consumer<String> hook;

  private ProtocolWindows() {}

  /**
   * Called by the protocols at a named window; runs the installed hook, if any, on the calling
   * thread. Callers guard the call with {@code if (ENABLED)}.
   *
   * @param window the window's name
   */
  static void at(String window) {
    Consumer<String> h = hook;
    if (h != null) {
      h.accept(window);
    }
  }

  /**
   * Installs the hook that every window reaches until {@link #clear()}.
   *
   * @param windowHook runs on the thread that reaches a window, with the window's name
   * @return a handle whose {@code close()} clears the hook
   * @throws IllegalStateException if the JVM did not start with {@code -Ddev.weft.testWindows=true}
   */
  static AutoCloseable install(Consumer<String> windowHook) {
    Objects.requireNonNull(windowHook, "windowHook");
    if (!ENABLED) {
      throw new IllegalStateException(
          "protocol windows are off: start the JVM with -Ddev.weft.testWindows=true");
    }
    hook = windowHook;
    return new Clearer();
  }

  /** install's handle (no lambda: see CoreBytecodeTest). */
  private static final class Clearer implements AutoCloseable {
    @Override
    public void close() {
      clear();
    }
  }

  /** Removes the installed hook. */
  static void clear() {
    hook = null;
  }
}
