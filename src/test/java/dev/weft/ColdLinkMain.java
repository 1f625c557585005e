package dev.weft;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeoutException;

/**
 * Run in a fresh JVM by {@code Review26ColdLinkTest}: makes the JVM's first run of one core
 * operation at every depth near the end of a thread's stack, then checks, at the top of a stack,
 * that the operation still works, and exits 0 only if it does. The operation is the argument:
 *
 * <ul>
 *   <li>{@code join}: a {@code ScopedThread.join(Duration)} that times out;
 *   <li>{@code open}: opening (and ending) a scope;
 *   <li>{@code spawn}: a spawn into an open scope.
 * </ul>
 *
 * <p>Each is a line that javac compiled to an invokedynamic string concatenation before session
 * 26 (the TimeoutException's message, the scope's name, the thread's name). Linking such a call
 * site runs Java code; on JDK 25 that code spins a class, an overflow while it does is wrapped
 * in a StringConcatException, and the call site's link then fails for good: the same
 * BootstrapMethodError on every later run, in every thread.
 *
 * <p>This class has no lambdas of its own (they are invokedynamic call sites too, and one first
 * linked near the stack's end could fail the same way): nested classes instead.
 */
final class ColdLinkMain {
  private static int bottom = -1;
  private static String op = "";
  private static volatile ScopedThread<Integer> task;
  private static volatile Scope open;

  private ColdLinkMain() {}

  public static void main(String[] args) throws Exception {
    op = args[0];
    // JDK classes the sweep uses are initialized here, at the top: a class first initialized
    // near the stack's end fails for good, ours or the JDK's (java.time.Duration did, in the
    // first version of this sweep). Printed without a string concatenation: linking one here
    // could link the shape of the core's call site at the top.
    System.out.println(Duration.ofNanos(1));
    System.out.println(new TimeoutException());
    System.out.println(op);
    CountDownLatch end = new CountDownLatch(1);
    Scope.run(new Outer(end));
    System.exit(failed ? 1 : 0);
  }

  private static boolean failed;

  /** The scope the sweep joins and spawns into, with one task that runs until the end. */
  private static final class Outer implements Scope.VoidBody<Exception> {
    private final CountDownLatch end;

    Outer(CountDownLatch end) {
      this.end = end;
    }

    @Override
    public void accept(Scope scope) throws Exception {
      open = scope;
      task = scope.spawn(new Await(end));
      Thread t = new Thread(null, new Dive(), "deep", 256 * 1024);
      t.start();
      t.join();
      try {
        check();
        System.out.println("works after the sweep (bottom " + bottom + ")");
      } catch (Throwable e) {
        System.out.println("failed after the sweep: " + e);
        e.printStackTrace(System.out);
        failed = true;
      } finally {
        end.countDown();
      }
    }
  }

  /** The operation at the top of the stack, after the sweep: throws if it does not work. */
  private static void check() throws Exception {
    switch (op) {
      case "join" -> {
        try {
          task.join(Duration.ofNanos(1));
          throw new AssertionError("the join returned before the task ended");
        } catch (TimeoutException expected) {
          // as it should
        }
      }
      case "open" -> Scope.run(new Empty());
      case "spawn" -> {
        if (open.spawn(new One()).join() != 1) {
          throw new AssertionError("the spawned task's value");
        }
      }
      default -> throw new IllegalArgumentException(op);
    }
  }

  /** The operation in a deep frame: anything it throws is caught by the caller. */
  private static void once() throws Exception {
    switch (op) {
      case "join" -> task.join(Duration.ofNanos(1));
      case "open" -> Scope.run(new Empty());
      case "spawn" -> open.spawn(new One());
      default -> throw new IllegalArgumentException(op);
    }
  }

  private static final class Dive implements Runnable {
    @Override
    public void run() {
      dive(0);
    }
  }

  @SuppressWarnings("InfiniteRecursion") // on purpose: it ends in StackOverflowError
  private static void dive(int depth) {
    try {
      dive(depth + 1);
    } catch (StackOverflowError e) {
      if (bottom < 0) {
        bottom = depth;
      }
    }
    if (bottom - depth < 400) {
      try {
        once();
      } catch (Throwable e) {
        // an overflow in this frame, or the timeout: the next frame up tries again
      }
    }
  }

  private static final class Await implements Callable<Integer> {
    private final CountDownLatch end;

    Await(CountDownLatch end) {
      this.end = end;
    }

    @Override
    public Integer call() throws InterruptedException {
      end.await();
      return 0;
    }
  }

  private static final class One implements Callable<Integer> {
    @Override
    public Integer call() {
      return 1;
    }
  }

  private static final class Empty implements Scope.VoidBody<RuntimeException> {
    @Override
    public void accept(Scope scope) {
      // opened and ended
    }
  }
}
