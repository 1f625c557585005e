package dev.weft;

import java.security.AccessController;
import java.security.PrivilegedAction;
import org.jspecify.annotations.Nullable;

/**
 * Reads weft's tuning and switch properties ({@code -Ddev.weft.*}) once, in class initialisers.
 * Under a security manager (JDK 17-23) a plain {@code System.getProperty} is checked against
 * every frame on the stack, the application's code that first touched the class included: an
 * application granted nothing made the class initialiser throw {@code SecurityException}, and
 * the class (for {@code ProtocolWindows}, every lock) unusable for good (review 23d: the first
 * {@code Scope} threw {@code ExceptionInInitializerError}). So the read runs privileged, in
 * weft's own protection domain, and a property weft itself may not read counts as unset.
 */
final class SystemProperties {
  /** Reads one property in doPrivileged (no lambdas in the core: see CoreBytecodeTest). */
  private static final class Read implements PrivilegedAction<@Nullable String> {
    private final String name;

    Read(String name) {
      this.name = name;
    }

    @Override
    public @Nullable String run() {
      return System.getProperty(name);
    }
  }

  private SystemProperties() {}

  /**
   * The property's value, or null when it is unset or may not be read.
   *
   * @param name the property's name
   * @return its value, or null
   */
  @SuppressWarnings("removal") // AccessController: the JDK's own code does the same on 17-23
  static @Nullable String get(String name) {
    try {
      return AccessController.doPrivileged(new Read(name));
    } catch (SecurityException e) {
      return null;
    }
  }

  /**
   * The property as a {@code long}, or {@code dflt} when it is unset, unreadable or not a
   * number (as {@link Long#getLong(String, long)}).
   */
  static long getLong(String name, long dflt) {
    String v = get(name);
    if (v == null) {
      return dflt;
    }
    try {
      return Long.decode(v.trim());
    } catch (NumberFormatException e) {
      return dflt;
    }
  }

  /** The property as an {@code int}, as {@link #getLong}. */
  static int getInt(String name, int dflt) {
    long v = getLong(name, dflt);
    return v == (int) v ? (int) v : dflt;
  }

  /** Whether the property is {@code "true"}, ignoring case (as {@link Boolean#getBoolean}). */
  static boolean getBoolean(String name) {
    return Boolean.parseBoolean(get(name));
  }
}
