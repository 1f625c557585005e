package dev.weft.testing;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Fails any test that leaves behind a thread it started: every thread alive after the test that
 * was not alive before it, whose name starts with {@code weft} (threads weft creates) or
 * {@code test-} (threads tests create by convention), must have terminated within a short grace
 * period. Threads of {@code Parallel}'s shared pool may stay, but only idle (waiting in the
 * pool for work, not running work of a call). Registered for every test class through JUnit's
 * extension auto-detection.
 */
public final class ThreadLeakExtension implements BeforeEachCallback, AfterEachCallback {
  private static final ExtensionContext.Namespace NS =
      ExtensionContext.Namespace.create(ThreadLeakExtension.class);
  private static final long GRACE_NANOS = TimeUnit.SECONDS.toNanos(5);

  /**
   * JDK error classes the JVM creates when something fails. They are initialized here, before
   * any test runs, because this extension is registered for every test JVM. A class whose
   * initialization fails is unusable for the rest of the JVM. Tests that sweep the stack's end
   * (StackHeadroomTest, Review18SoeTest) could be the first to need one of these classes. If its
   * initialization then overflowed, every later test would get "NoClassDefFoundError: Could not
   * initialize class java.lang.ExceptionInInitializerError" in its place: CI showed exactly that
   * in session 32. This is the suspected cause. It was not reproduced, and the test that broke
   * the class was not found.
   */
  static final Throwable[] INITIALIZED_EARLY = {
    new ExceptionInInitializerError("initialized early"),
    new NoClassDefFoundError("initialized early"),
    new BootstrapMethodError("initialized early"),
    new IllegalMonitorStateException("initialized early"),
  };

  @Override
  public void beforeEach(ExtensionContext context) {
    context.getStore(NS).put("before", snapshot());
  }

  @Override
  public void afterEach(ExtensionContext context) {
    @SuppressWarnings("unchecked")
    Set<Thread> before = (Set<Thread>) context.getStore(NS).get("before", Set.class);
    long deadline = System.nanoTime() + GRACE_NANOS;
    List<Thread> leaked;
    while (true) {
      leaked = new ArrayList<>();
      for (Thread t : snapshot()) {
        if (!before.contains(t) && t.isAlive() && watched(t) && !idlePoolThread(t)) {
          leaked.add(t);
        }
      }
      if (leaked.isEmpty() || System.nanoTime() - deadline >= 0) {
        break;
      }
      // Threads that are finishing (joined by the primitive, but still unwinding in the JVM)
      // get a short grace period; this is a bounded poll, not a wait for a test result.
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
    if (!leaked.isEmpty()) {
      StringBuilder sb = new StringBuilder("threads leaked by ")
          .append(context.getDisplayName()).append(":");
      for (Thread t : leaked) {
        sb.append("\n  ").append(t).append(" state=").append(t.getState());
        for (StackTraceElement e : t.getStackTrace()) {
          sb.append("\n      at ").append(e);
        }
      }
      throw new AssertionError(sb.toString());
    }
  }

  /**
   * A thread of Parallel's shared pool outlives calls by design (it is kept for the next call);
   * it is fine as long as it is idle in the pool, waiting for work, and not running work of a
   * call that has returned.
   */
  private static boolean idlePoolThread(Thread t) {
    if (!t.getClass().getName().equals("dev.weft.ParallelPool$PoolThread")) {
      return false;
    }
    for (StackTraceElement e : t.getStackTrace()) {
      if (e.getMethodName().equals("awaitTask")
          && e.getClassName().equals("dev.weft.ParallelPool$PoolThread")) {
        return true;
      }
    }
    return false; // running a task, or just started or exiting: not idle (yet)
  }

  private static boolean watched(Thread t) {
    String name = t.getName();
    return name.startsWith("weft") || name.startsWith("test-");
  }

  private static Set<Thread> snapshot() {
    return new HashSet<>(Thread.getAllStackTraces().keySet());
  }
}
