package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.lang.reflect.InvocationTargetException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import jdk.jfr.Recording;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 22b: an adversarial review of the fixes of review 22 (commits 9ace83b, 4872b87,
 * 2e45172): Scope's nesting check from inside spawns, the replacement error for JVM-raised
 * StackOverflowError/OutOfMemoryError, the deadline at an interrupted end; WeftJfr's preparation
 * on a fresh thread; OnceCellCore's probes and linkWaitSteps; Parallel's wrapped final merge.
 * Written from the code and the docs only. Tests named {@code fixed_...} failed on the code
 * reviewed (59cda82) and pass since; tests named {@code held_...} are attacks that held.
 */
class Review22bTest {

  /** Every thread a test starts itself, joined after the test so that none outlives it. */
  private final List<Thread> started = Collections.synchronizedList(new ArrayList<>());

  @AfterEach
  void joinEverything() throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    List<Thread> copy;
    synchronized (started) {
      copy = new ArrayList<>(started);
    }
    for (Thread t : copy) {
      long left = end - System.nanoTime();
      if (left > 0) {
        t.join(Math.max(1, left / 1_000_000));
      }
      assertThat(t.isAlive()).as("%s outlived its test", t.getName()).isFalse();
    }
    Thread.interrupted(); // never leak an interrupt into the next test
  }

  /** Runs {@code body} on a fresh thread (the owner) and returns what it threw, or null. */
  private @Nullable Throwable runOwner(String name, long stackBytes, Callable<?> body)
      throws InterruptedException {
    AtomicReference<@Nullable Throwable> out = new AtomicReference<>();
    Thread t = new Thread(null, () -> {
      try {
        body.call();
      } catch (Throwable e) {
        out.set(e);
      }
    }, "r22b-owner-" + name, stackBytes);
    started.add(t);
    t.start();
    t.join(20_000);
    assertThat(t.isAlive()).as("owner %s finished", name).isFalse();
    return out.get();
  }

  /** Polls {@code condition} with short parks; the test's @Timeout bounds it. */
  private static void awaitCondition(BooleanSupplier condition) {
    while (!condition.getAsBoolean()) {
      LockSupport.parkNanos(50_000L);
    }
  }

  private static int depth;

  /** Recurses until the JVM throws a real StackOverflowError. */
  private static void recurse() {
    if (depth++ >= 0) { // always true: recursion until the stack overflows
      recurse();
    }
  }

  /** A StackOverflowError made by user code: its constructor ran, so it carries suppressed. */
  private static final class UserOverflow extends StackOverflowError {
    private static final long serialVersionUID = 1L;

    UserOverflow(String message) {
      super(message);
    }
  }

  /** An exception created with suppression disabled (Throwable's protected constructor). */
  private static final class NoSuppression extends RuntimeException {
    private static final long serialVersionUID = 1L;

    NoSuppression(String message) {
      super(message, null, false, true);
    }
  }

  // =============================================================================================
  // Defects
  // =============================================================================================

  /**
   * Promise broken: docs/observability.md, "Limits": the event classes load "on a short-lived
   * thread of its own ({@code weft-jfr-prepare}, joined before the wait goes on) ... If that
   * thread cannot be started, the wait has no event and a later one tries again"; the event is
   * a diagnostic (WeftJfr: "Losing one diagnostic event is the lesser harm"), and CONVENTIONS:
   * every wait honours its deadline and interrupt. The preparation's join is unbounded and
   * uninterruptible, and the preparing thread needs locks that the calling thread may hold: it
   * loads {@code WeftEvents} and its event classes through weft's class loader. When weft is
   * defined by a class loader that is not parallel capable (any {@code ClassLoader} subclass
   * that does not call {@code registerAsParallelCapable()}, e.g. an anonymous
   * {@code URLClassLoader} subclass), loading takes the loader's own monitor; a caller that holds
   * it (here: {@code synchronized (loader)}, as legacy code does; the JVM also holds it while it
   * runs such a loader's {@code loadClass}) joins a thread that waits for that monitor: a
   * deadlock, in a call that would not have waited at all ({@code OnceCell.getOrInit} on a new
   * cell: OnceCellCore's class initialiser, and the claim's {@code initBegin}). Before 2e45172
   * the classes loaded on the calling thread, which re-entered the monitor: the same program
   * returned 42 (checked with the classes of 726db43 on JDK 17 and 25).
   *
   * <p>Schedule, in a forked JVM: start a {@link Recording}; make a non-parallel-capable
   * {@code URLClassLoader} over weft's classes; on a thread holding its monitor, load
   * {@link LoaderVictim} through it and run {@code new OnceCell<>().getOrInit(() -> 42)}. The
   * fork reports whether that returned within 15 s and what {@code weft-jfr-prepare} is doing.
   * Control: the same without a recording returns at once.
   *
   * <p>Fails 4 of 4 runs on JDK 17 and 7 of 7 on JDK 25 (deterministic): the caller waits in
   * {@code WeftJfr.prepareOnAFreshStack}'s {@code join()}, {@code weft-jfr-prepare} is BLOCKED on
   * the loader's monitor. Suggested fix: when the preparing thread does not finish promptly
   * (a bounded join), give up for this wait (no event, retry later) instead of joining forever;
   * or prepare on the calling thread when it has enough stack (a probe) and only fall back to a
   * fresh thread when it does not.
   */
  @Test
  @Timeout(90)
  void fixed_firstSlowPathUnderTheClassLoadersMonitorHangsWhileARecordingRuns()
      throws Exception {
    String control = fork(LoaderMonitorMain.class, "no-recording");
    assertThat(control).as("control, no recording").contains("returned=42");
    String out = fork(LoaderMonitorMain.class, "recording");
    assertThat(out)
        .as("getOrInit under the class loader's monitor while a recording runs")
        .contains("returned=42");
  }

  /** Loaded through a non-parallel-capable loader by {@link LoaderMonitorMain}. */
  public static final class LoaderVictim {
    private LoaderVictim() {}

    /**
     * The first use of weft in that loader: a new cell's first initialisation.
     *
     * @return the cell's value
     */
    public static Object run() {
      OnceCell<Integer> c = new OnceCell<>();
      return c.getOrInit(() -> 42);
    }
  }

  /** Forked main of the class-loader-monitor schedule; argument "recording" starts one. */
  public static final class LoaderMonitorMain {
    private LoaderMonitorMain() {}

    public static void main(String[] args) throws Exception {
      boolean record = args.length > 0 && args[0].equals("recording");
      URL[] urls = {location(OnceCell.class), location(LoaderVictim.class),
          location(Nullable.class)};
      // An anonymous subclass is not parallel capable: loading takes the loader's monitor.
      @SuppressWarnings("resource") // lives as long as this short JVM
      URLClassLoader loader =
          new URLClassLoader(urls, ClassLoader.getPlatformClassLoader()) {};
      Recording r = null;
      if (record) {
        r = new Recording();
        r.start();
      }
      AtomicReference<@Nullable Object> result = new AtomicReference<>();
      Thread t = new Thread(() -> {
        try {
          synchronized (loader) {
            result.set(loader.loadClass(LoaderVictim.class.getName()).getMethod("run")
                .invoke(null));
          }
        } catch (InvocationTargetException e) {
          result.set(e.getCause());
        } catch (ReflectiveOperationException | RuntimeException e) {
          result.set(e);
        }
      }, "holds-the-loader-monitor");
      t.setDaemon(true);
      t.start();
      t.join(15_000);
      StringBuilder sb = new StringBuilder("returned=").append(result.get())
          .append(" callerAlive=").append(t.isAlive()).append(" callerState=")
          .append(t.getState());
      for (Thread x : Thread.getAllStackTraces().keySet()) {
        if (x.getName().equals("weft-jfr-prepare")) {
          sb.append(" weft-jfr-prepare=").append(x.getState());
        }
      }
      if (t.isAlive()) {
        sb.append(" caller at ").append(Arrays.toString(t.getStackTrace()));
      }
      System.out.println(sb);
      System.out.flush();
      if (r != null && !t.isAlive()) {
        r.stop();
        r.close();
      }
      Runtime.getRuntime().halt(0); // the deadlocked threads never end: do not wait for them
    }
  }

  static URL location(Class<?> c) {
    return c.getProtectionDomain().getCodeSource().getLocation();
  }

  // =============================================================================================
  // Attacks that held
  // =============================================================================================

  /**
   * Promise broken: CONVENTIONS, "A wake-up is never lost"; {@code LockSupport}'s contract that
   * an {@code unpark} given before {@code park} makes the park return (the only thing that
   * makes the usual check-then-park loop safe). OnceCellCore's class initialiser
   * ({@code linkWaitSteps}, new in 2e45172) unparks the current thread and then calls
   * {@code LockSupport.parkNanos(1)} "to take that permit back"; but there is only one permit
   * per thread, so if somebody had already unparked this thread, that park consumes the other
   * party's permit. The thread's next {@code park} then sleeps: in a loop such as
   * {@code while (!ready) { log(lazyConfig.get()); LockSupport.park(this); }} whose
   * {@code unpark} arrived between the check and the park, the wake-up is lost for good.
   *
   * <p>Schedule, in a forked JVM (OnceCellCore not initialised yet; no recording): this thread
   * checks a flag (false); a waker thread sets the flag and unparks it; once the waker is done
   * this thread makes its first {@code OnceCell} (the class initialiser runs) and parks with a
   * 10 s bound. It should return at once, on the waker's permit. Control: the same with a plain
   * JDK step in place of the first OnceCell (a short thread started and joined) keeps the
   * permit; the classes of 726db43 kept it too (JDK 17 and 25).
   *
   * <p>Fails 2 of 2 runs on JDK 17 and 5 of 5 on JDK 25 (deterministic): the park waits the full
   * 10 s. Suggested fix: give no permit in the first place (link the release on a node whose
   * thread field is cleared, or one that names a throw-away thread), and never park to take
   * one back.
   */
  @Test
  @Timeout(90)
  void fixed_onceCellClassInitialiserEatsAPermitSomebodyElseGave() throws Exception {
    String control = fork(PermitMain.class, "jdk");
    assertThat(control).as("control: a plain JDK step").contains("permitKept=true");
    String out = fork(PermitMain.class, "weft");
    assertThat(out).as("first OnceCell between the waker's unpark and the park")
        .contains("permitKept=true");
  }

  /** Forked main of {@link #fixed_onceCellClassInitialiserEatsAPermitSomebodyElseGave}. */
  public static final class PermitMain {
    private PermitMain() {}

    private static volatile boolean ready;
    private static volatile boolean wakerDone;

    public static void main(String[] args) throws Exception {
      Thread me = Thread.currentThread();
      if (ready) {
        throw new AssertionError("ready before the check");
      }
      // the check of a check-then-park loop came out false; the waker runs now
      Thread waker = new Thread(() -> {
        ready = true;
        LockSupport.unpark(me);
        wakerDone = true;
      }, "waker");
      waker.start();
      while (!wakerDone) {
        Thread.onSpinWait(); // no park here: that would take the permit itself
      }
      if (args[0].equals("weft")) {
        OnceCell<Integer> c = new OnceCell<>(); // first use: OnceCellCore's initialiser runs
        if (c.getOrInit(() -> 7) != 7) {
          throw new AssertionError("value");
        }
      } else {
        Thread t = new Thread(() -> { }, "short");
        t.start();
        t.join();
      }
      long t0 = System.nanoTime();
      LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(10)); // returns at once on the permit
      long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      waker.join();
      System.out.println(args[0] + ": ready=" + ready + " permitKept=" + (waitedMs < 5_000)
          + " parkedMs=" + waitedMs);
    }
  }

  /**
   * WeftJfr: the preparation's join on a thread whose interrupt is already pending (the join
   * throws at once and is retried), in OnceCellCore's class initialiser, while a recording runs:
   * afterwards the value is computed, the interrupt is still pending (neither lost nor turned
   * into an exception), and no {@code weft-jfr-prepare} thread is left. Forked JVM: held on
   * JDK 17 and 25.
   */
  @Test
  @Timeout(90)
  void held_preparationWithAPendingInterruptKeepsIt() throws Exception {
    String out = fork(PrepareInterruptMain.class);
    assertThat(out).contains("value=7 interrupted=true preparersLeft=0");
  }

  /** Forked main of {@link #held_preparationWithAPendingInterruptKeepsIt}. */
  public static final class PrepareInterruptMain {
    private PrepareInterruptMain() {}

    public static void main(String[] args) throws Exception {
      try (Recording r = new Recording()) {
        r.start();
        Thread me = Thread.currentThread();
        me.interrupt(); // a pending interrupt
        OnceCell<Integer> c = new OnceCell<>(); // OnceCellCore's initialiser prepares JFR
        Integer v = c.getOrInit(() -> 7);
        boolean interrupted = Thread.interrupted();
        int left = 0;
        for (Thread x : Thread.getAllStackTraces().keySet()) {
          if (x.getName().equals("weft-jfr-prepare")) {
            left++;
          }
        }
        System.out.println("value=" + v + " interrupted=" + interrupted + " preparersLeft="
            + left);
        r.stop();
      }
    }
  }

  /**
   * attachAll: a body error that is a user subclass of StackOverflowError (its constructor ran,
   * so suppression works) is rethrown itself, with the task's failure suppressed on it; no
   * replacement error. Held on JDK 17 and 25.
   */
  @Test
  @Timeout(10)
  void held_userStackOverflowErrorSubclassIsRethrownItselfCarryingTheFailure() throws Exception {
    IllegalStateException taskFailure = new IllegalStateException("task failure");
    UserOverflow bodyError = new UserOverflow("user-made");
    Throwable thrown = runOwner("user-soe", 0, () -> {
      Scope.run(scope -> {
        ScopedThread<Void> t = scope.spawn(() -> {
          throw taskFailure;
        });
        awaitCondition(t::isDone);
        throw bodyError;
      });
      return null;
    });
    assertThat(thrown).isSameAs(bodyError);
    assertThat(thrown.getSuppressed()).containsExactly(taskFailure);
  }

  /**
   * attachAll: the replacement for a JVM-raised StackOverflowError keeps the JVM's error as its
   * cause and its stack trace, is a StackOverflowError (catch clauses still match) and carries
   * the unjoined failure and the deadline; with an AWAIT_ALL scope whose deadline passed in the
   * body. Held on JDK 17 and 25.
   */
  @Test
  @Timeout(10)
  void held_replacementErrorKeepsCauseStackTraceAndCarriesFailureAndDeadline() throws Exception {
    IllegalStateException taskFailure = new IllegalStateException("task failure");
    Throwable thrown = runOwner("jvm-soe", 512 * 1024, () -> {
      Scope.builder().failurePolicy(Scope.FailurePolicy.AWAIT_ALL)
          .timeout(java.time.Duration.ofMillis(50)).run(scope -> {
            ScopedThread<Void> t = scope.spawn(() -> {
              throw taskFailure;
            });
            awaitCondition(t::isDone);
            awaitCondition(() -> scope.toString().contains("the deadline passed"));
            recurse();
          });
      return null;
    });
    assertThat(thrown).isExactlyInstanceOf(StackOverflowError.class);
    Throwable jvm = thrown.getCause();
    assertThat(jvm).isExactlyInstanceOf(StackOverflowError.class).isNotSameAs(thrown);
    assertThat(thrown.getStackTrace()).isEqualTo(jvm.getStackTrace());
    assertThat(thrown.getSuppressed()).contains(taskFailure)
        .anyMatch(x -> x instanceof ScopeTimeoutException);
  }

  /**
   * attachAll: a body that rethrows the unjoined task's own failure object (read from a shared
   * variable, never joined) is not made to suppress itself (no IllegalArgumentException), and an
   * exception created with suppression disabled is rethrown unchanged (the documented loss), not
   * replaced. Held on JDK 17 and 25.
   */
  @Test
  @Timeout(10)
  void held_selfSuppressionAndSuppressionDisabledBodyExceptions() throws Exception {
    IllegalStateException taskFailure = new IllegalStateException("task failure");
    Throwable same = runOwner("self", 0, () -> {
      Scope.run(scope -> {
        ScopedThread<Void> t = scope.spawn(() -> {
          throw taskFailure;
        });
        awaitCondition(t::isDone);
        throw taskFailure;
      });
      return null;
    });
    assertThat(same).isSameAs(taskFailure);
    assertThat(same.getSuppressed()).isEmpty();

    NoSuppression bodyError = new NoSuppression("no suppression");
    Throwable disabled = runOwner("disabled", 0, () -> {
      Scope.run(scope -> {
        ScopedThread<Void> t = scope.spawn(() -> {
          throw new IllegalStateException("lost, as documented");
        });
        awaitCondition(t::isDone);
        throw bodyError;
      });
      return null;
    });
    assertThat(disabled).isSameAs(bodyError);
  }

  /**
   * The nesting check must not refuse legitimate nesting: a {@code Scope.run} and a
   * try-with-resources scope, each with a thread, inside the ThreadFactory of the outer scope
   * (the owner is inside its spawn into the outer scope), end normally; an inner scope opened
   * before the spawn and closed from inside the outer's factory ends too; and a
   * {@code Scope.run} body nested in the INNER scope's factory that tries to close the outer
   * scope is refused, after which everything still ends and every thread has terminated.
   * Held on JDK 17 and 25.
   */
  @Test
  @Timeout(20)
  void held_nestingInsideFactoriesStillWorksAndTheOuterCloseIsRefused() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<@Nullable Scope> innerBefore = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> inFactory = new AtomicReference<>();
    ThreadFactory outerFactory = r -> {
      try {
        Scope.run(s -> {
          made.add(s.spawn(ran::incrementAndGet).thread());
        });
        try (Scope s = Scope.open()) {
          made.add(s.spawn(ran::incrementAndGet).thread());
        }
        Scope ib = innerBefore.get();
        if (ib != null) {
          ib.close(); // opened after the outer, before this spawn: not being spawned into
        }
      } catch (Throwable e) {
        inFactory.compareAndSet(null, e);
      }
      Thread t = new Thread(r);
      made.add(t);
      return t;
    };
    Throwable thrown = runOwner("legit", 0, () -> {
      try (Scope outer = Scope.builder().threadFactory(outerFactory).open()) {
        Scope ib = Scope.open();
        innerBefore.set(ib);
        made.add(ib.spawn(ran::incrementAndGet).thread());
        outer.spawn(ran::incrementAndGet);
        assertThat(ib.toString()).contains(", ended");
      }
      return null;
    });
    assertThat(inFactory.get()).isNull();
    assertThat(thrown).isNull();
    assertThat(ran.get()).isEqualTo(4);

    AtomicReference<@Nullable Scope> outerRef = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> refused = new AtomicReference<>();
    AtomicBoolean once = new AtomicBoolean();
    ThreadFactory innerFactory = r -> {
      if (once.compareAndSet(false, true)) {
        try {
          Scope.run(s -> {
            ScopedThread<Integer> t = s.spawn(ran::incrementAndGet);
            made.add(t.thread());
            t.join(); // else the refused close's failure may cancel it before it runs
            Scope o = outerRef.get();
            o.close();
          });
        } catch (Throwable e) {
          refused.set(e);
        }
      }
      Thread t = new Thread(r);
      made.add(t);
      return t;
    };
    CountDownLatch release = new CountDownLatch(1);
    Throwable second = runOwner("refused", 0, () -> {
      try (Scope outer = Scope.open()) {
        outerRef.set(outer);
        made.add(outer.spawn(() -> {
          release.await();
          return null;
        }).thread());
        try (Scope inner = Scope.builder().threadFactory(innerFactory).open()) {
          inner.spawn(ran::incrementAndGet);
          assertThat(outer.toString()).contains(", open");
        }
        release.countDown();
      }
      return null;
    });
    assertThat(second).isNull();
    assertThat(refused.get()).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("cannot end from inside a spawn into");
    assertThat(ran.get()).isEqualTo(6);
    synchronized (made) {
      assertThat(made).noneMatch(Thread::isAlive);
    }
  }

  /**
   * Parallel.reduce: a combine that fails in the final merge on the caller is wrapped once (the
   * cause is the user's exception, not a TaskFailedException around a TaskFailedException), the
   * caller's interrupt status is untouched, and a later call on the same thread works. Held on
   * JDK 17 and 25.
   */
  @Test
  @Timeout(10)
  void held_reduceFinalMergeFailureWrappedOnceAndTheThreadStaysUsable() {
    IllegalStateException boom = new IllegalStateException("combine failed on partials");
    List<Integer> ones = Collections.nCopies(1_000, 1);
    Parallel.Options split =
        Parallel.options().sequentialCutoff(java.time.Duration.ZERO).threads(2);
    Throwable thrown = catchThrowable(() -> Parallel.reduce(ones, x -> x, 0, (a, b) -> {
      if (b > 1) {
        throw boom;
      }
      return a + b;
    }, split));
    assertThat(thrown).isExactlyInstanceOf(TaskFailedException.class).hasCause(boom);
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
    assertThat(Parallel.reduce(ones, x -> x, 0, Integer::sum, split)).isEqualTo(1_000);
  }

  // =============================================================================================
  // Forking
  // =============================================================================================

  /** Runs {@code main} in a fresh JVM with program {@code args}; prints and returns its output. */
  static String fork(Class<?> main, String... args) throws Exception {
    String out = StackHeadroomTest.forkJvm(main, List.of(), List.of(args));
    System.out.println(main.getSimpleName() + ": " + out);
    return out;
  }
}
