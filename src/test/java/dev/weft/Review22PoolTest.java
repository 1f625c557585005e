package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.WeakReference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review 22 (pool and lock order): adversarial review of {@link ParallelPool}, the shared pool
 * behind {@link Parallel}, and of {@link LockOrder}. Tests named {@code fixed_...} failed on the
 * code as reviewed (each Javadoc: the promise, the schedule, how often it failed on JDK 17 and
 * 25) and pass since; {@code openDefect_...} still fail and are disabled (documented limits);
 * tests named {@code held_...} are attacks that held.
 *
 * <p>Pool threads are the library's: the shared pool's threads outlive a test only while idle
 * in the pool (ThreadLeakExtension), which every test here leaves them as. Threads the tests
 * start are joined; forked JVMs are waited for (bounded) and destroyed if they hang.
 */
@SuppressWarnings("try") // guards held for their scope only
@Timeout(value = 90, unit = TimeUnit.SECONDS)
class Review22PoolTest {

  // =============================================================================== helpers

  private static void await(CountDownLatch l) {
    try {
      assertThat(l.await(20, TimeUnit.SECONDS)).as("latch reached in time").isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  private static boolean gcUntilCleared(WeakReference<?> ref) {
    return dev.weft.testing.Gc.stillReachable(ref) == 0;
  }

  private static int feature() {
    return Runtime.version().feature();
  }

  /** Runs {@code main} in a fresh JVM with {@code jvmArgs}; returns its output (exit 0 asserted). */
  static String fork(List<String> jvmArgs, Class<?> main, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(System.getProperty("java.home") + "/bin/java");
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(main.getName());
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try (InputStream in = p.getInputStream()) {
      Thread reader = new Thread(() -> {
        try {
          in.transferTo(buf);
        } catch (IOException e) {
          // the process ended or was destroyed
        }
      }, "r22pool-fork-output");
      reader.start();
      boolean ended = p.waitFor(60, TimeUnit.SECONDS);
      if (!ended) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      reader.join(10_000);
      String out;
      synchronized (buf) {
        out = buf.toString(StandardCharsets.UTF_8);
      }
      System.out.println(main.getSimpleName() + ": " + out);
      assertThat(ended).as("forked JVM ended by itself; output: %s", out).isTrue();
      assertThat(p.exitValue()).as("exit status; output: %s", out).isZero();
      return out;
    }
  }

  // ====================================================================== DEFECTS: the pool

  /**
   * DEFECT (JDK 17-23 with a SecurityManager): every Parallel call that splits onto the shared
   * pool fails. Promise: Parallel's class Javadoc ("by default, weft's shared pool of daemon
   * platform threads ... started when first needed") and ParallelPool's own notes, which handle
   * a security manager ("A security manager forbids walking up: stay in the group we are allowed
   * to see") and create threads under "an access-control context of one empty protection
   * domain" for JDK 17-23. That context has no permissions at all, so inside it the {@code
   * Thread} constructor's {@code checkAccess} of the root group ({@code modifyThreadGroup}), or
   * {@code setContextClassLoader} when the walk was refused, throws AccessControlException even
   * when the policy grants AllPermission to all code. The JDK's common pool, under the same
   * manager, starts its worker (control in the same fork). The JDK's own factories pass a
   * context that grants the permissions thread set-up needs.
   *
   * <p>Schedule, in a forked JVM with {@code -Djava.security.manager} and a policy granting
   * AllPermission: {@code Parallel.map} of two elements, {@code threads(2)}, which meet at a
   * latch (so one must run on a pool thread). Observed: TaskFailedException caused by {@code
   * AccessControlException: access denied ("java.lang.RuntimePermission" "modifyThreadGroup")}
   * from {@code ParallelPool$PoolThread.<init>}. Fails 4 of 4 runs on JDK 17; not applicable
   * (skipped) on JDK 25, which cannot install a SecurityManager.
   */
  @Test
  void fixed_aSecurityManagerMakesEverySplitOntoThePoolFail(@TempDir Path dir) throws Exception {
    assumeTrue(feature() < 24, "JDK 24+ cannot install a SecurityManager");
    Path policy = dir.resolve("all.policy");
    Files.writeString(policy, "grant { permission java.security.AllPermission; };\n");
    String out = fork(
        List.of("-Djava.security.manager", "-Djava.security.policy==" + policy),
        SecurityManagerMain.class);
    assertThat(out).as("control: the JDK's common pool starts a worker").contains("jdk=worker");
    assertThat(out).as("weft's call under the same manager").contains("weft=ok");
  }

  /** The fork of {@link #fixed_aSecurityManagerMakesEverySplitOntoThePoolFail}. */
  static final class SecurityManagerMain {
    private SecurityManagerMain() {}

    public static void main(String[] args) throws Exception {
      CountDownLatch ran = new CountDownLatch(1);
      AtomicReference<Thread> on = new AtomicReference<>();
      ForkJoinPool.commonPool().execute(() -> {
        on.set(Thread.currentThread());
        ran.countDown();
      });
      boolean jdkRan = ran.await(20, TimeUnit.SECONDS);
      System.out.println(jdkRan && on.get() != Thread.currentThread() ? "jdk=worker" : "jdk=none");
      CountDownLatch both = new CountDownLatch(2);
      try {
        List<Integer> r = Parallel.map(List.of(1, 2), x -> {
          both.countDown();
          try {
            if (!both.await(20, TimeUnit.SECONDS)) {
              throw new IllegalStateException("the two elements never ran together");
            }
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
          return x;
        }, Parallel.options().threads(2));
        System.out.println("weft=ok " + r);
      } catch (RuntimeException e) {
        System.out.println("weft=failed " + e + " cause " + e.getCause());
      }
    }
  }

  /**
   * DEFECT (size): tasks of default calls alone grow the pool beyond its core size. Promises:
   * Parallel's class Javadoc, "At most {@code availableProcessors() - 1} of them serve calls
   * with the default thread count"; ParallelPoolTest's class Javadoc, threads "never take more
   * than the core size for calls with the default thread count" (its test
   * callsWithTheDefaultThreadCountNeverGrowThePoolBeyondItsCore). A thread that finishes a task
   * gives its permit back in {@code goIdle} before it pushes its idle node: a caller that takes
   * the permit in that window finds the idle stack empty and starts another thread, which then
   * stays (and serves default calls) until it retires. With one permit the pool reaches 3-4
   * threads.
   *
   * <p>Schedule: a private pool of core 1 (the shared pool's size on 2 processors, 50 us spin,
   * long keep-alive); one thread hands a no-op default task ({@code beyondCore = false}) over
   * whenever the permit is free, at most 50,000 hand-overs or 2 s, and stops at the first
   * extra thread. Observed: a second live thread after 2 to 264 hand-overs (in a standalone
   * harness running 300 ms: 3-4 live threads, the first extra one at the 2nd hand-over in 9 of
   * 10 runs). Fails 3 of 3 runs on JDK 17 and 3 of 3 on JDK 25 (a race, but hit within the
   * first few hundred hand-overs on this 2-core VM).
   */
  @Test
  void fixed_defaultTasksAloneGrowThePoolBeyondItsCoreSize() throws Exception {
    ParallelPool p = new ParallelPool(
        "test-r22-grow-", 1, TimeUnit.SECONDS.toNanos(60), TimeUnit.MICROSECONDS.toNanos(50));
    Set<Thread> threads = ConcurrentHashMap.newKeySet();
    Runnable task = () -> threads.add(Thread.currentThread());
    int maxLive = 0;
    long handed = 0;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    try {
      while (maxLive <= 1 && handed < 50_000 && System.nanoTime() - deadline < 0) {
        if (p.tryExecute(task, false)) {
          handed++;
        }
        maxLive = Math.max(maxLive, p.liveThreads());
      }
    } finally {
      shutdown(p, threads);
    }
    assertThat(maxLive)
        .as("live threads of a core-1 pool serving only default tasks (%d hand-overs, threads %s)",
            handed, threads.size())
        .isLessThanOrEqualTo(1);
  }

  /**
   * Retires every thread of a private pool and joins them. A thread parked on the pool is not
   * necessarily idle: one that the last hand-over popped off the idle stack, still parked until
   * the scheduler runs it, is neither on the stack nor retired by retireIdle, then runs its
   * task and goes idle for the keep-alive (60 s here). Session 30's new-user pass saw that once
   * under load (a thread alive 20 s after retireIdle). So retireIdle is repeated, bounded,
   * until each thread has exited.
   */
  private static void shutdown(ParallelPool pool, Set<Thread> threads) throws InterruptedException {
    // Every thread of the pool ran its first task, so it is in the set once that task ran.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (threads.size() < pool.liveThreads() && System.nanoTime() - deadline < 0) {
      LockSupport.parkNanos(50_000L); // a thread just started has not run its task yet
    }
    for (Thread t : threads) {
      while (t.isAlive() && System.nanoTime() - deadline < 0) {
        pool.retireIdle(); // retires it once it is on the idle stack
        t.join(10);
      }
      assertThat(t.isAlive()).as("%s exits after retireIdle", t.getName()).isFalse();
    }
    assertThat(pool.liveThreads()).isZero();
  }

  /**
   * DEFECT (thread-locals outlive the call on an idle pool thread and pin a web application's
   * loader). Promises: docs/parallel.md, "Nothing inherited from the caller": pool threads are
   * set up "so an application server's web-app class loader is never pinned by a library
   * thread"; ParallelPool's class Javadoc, "a pool thread never holds work of a call that has
   * returned", and its notes ("Nothing kept"): "an idle thread does not keep the last call's
   * function and data reachable". A function run by a pool worker that fills a per-thread cache
   * (a {@code static ThreadLocal}, the classic application-server leak) leaves the value in the
   * pool thread's thread-local map when the call returns; the value's class keeps its loader,
   * so the idle weft thread pins the web application's loader until the thread retires (30 s
   * after its last use, never while calls keep coming). The JDK's common pool, the model the
   * docs cite for these threads, erases a worker's thread-locals after each top-level task on
   * both JDK 17 and 25 (control in this test: the same payload run on a common-pool worker
   * leaves its loader collectable).
   *
   * <p>Schedule: a class defined by a child-first loader (the "web app") sets a static
   * ThreadLocal to an instance of itself; {@code Parallel.forRange(0, 2)} with {@code
   * threads(2)} and a rendezvous runs it on the pool worker only; the call returns, every
   * reference to the loader is dropped, GC (bounded, 40 rounds). Observed: the loader stays
   * reachable (with the payload's {@code CACHE.set} replaced by {@code remove}, it is
   * collected: the thread-local is what pins it). Fails 4 of 4 runs on JDK 17 and 4 of 4 on
   * JDK 25.
   */
  @Test
  @Disabled("open (session 22): Java has no public API to erase a thread's ThreadLocals (the"
      + " JDK's pools use internal access); documented in docs/parallel.md, \"Thread-locals\"")
  void openDefect_aThreadLocalSetByTheFunctionPinsItsLoaderOnTheIdlePoolThread() throws Exception {
    WeakReference<ClassLoader> jdk = runPayloadOnACommonPoolWorker();
    assertThat(gcUntilCleared(jdk))
        .as("control: the JDK's common pool leaves the web-app loader collectable")
        .isTrue();
    WeakReference<ClassLoader> weft = runPayloadOnAPoolWorker();
    assertThat(gcUntilCleared(weft))
        .as("the web-app loader, after its Parallel call returned (pool thread idle)")
        .isTrue();
  }

  private static WeakReference<ClassLoader> runPayloadOnAPoolWorker() throws Exception {
    ClassLoader webApp = new ChildFirstLoader(Review22PoolTest.class.getClassLoader());
    Runnable payload = newPayload(webApp);
    Thread caller = Thread.currentThread();
    AtomicBoolean ranOnWorker = new AtomicBoolean();
    CountDownLatch both = new CountDownLatch(2);
    Parallel.forRange(0, 2, i -> {
      both.countDown();
      await(both); // both elements in flight at once: one is on a pool worker
      if (Thread.currentThread() != caller) {
        payload.run();
        ranOnWorker.set(Thread.currentThread() instanceof ParallelPool.PoolThread);
      }
    }, Parallel.options().threads(2));
    assertThat(ranOnWorker).as("the payload ran on a pool thread").isTrue();
    return new WeakReference<>(webApp);
  }

  private static WeakReference<ClassLoader> runPayloadOnACommonPoolWorker() throws Exception {
    ClassLoader webApp = new ChildFirstLoader(Review22PoolTest.class.getClassLoader());
    Runnable payload = newPayload(webApp);
    CountDownLatch done = new CountDownLatch(1);
    ForkJoinPool.commonPool().execute(() -> {
      payload.run();
      done.countDown();
    });
    await(done);
    return new WeakReference<>(webApp);
  }

  private static Runnable newPayload(ClassLoader webApp) throws Exception {
    Class<?> c = webApp.loadClass(ThreadLocalPayload.class.getName());
    assertThat(c.getClassLoader()).isSameAs(webApp);
    return (Runnable) c.getConstructor().newInstance();
  }

  /**
   * Loaded by {@link ChildFirstLoader} (a web application's code): keeps a per-thread cache, as
   * formatters and buffers in application libraries do.
   */
  public static final class ThreadLocalPayload implements Runnable {
    static final ThreadLocal<Object> CACHE = new ThreadLocal<>();

    public ThreadLocalPayload() {}

    @Override
    public void run() {
      CACHE.set(new ThreadLocalPayload());
    }
  }

  /** Defines the payload class itself (as a web application's loader would), else delegates. */
  private static final class ChildFirstLoader extends ClassLoader {
    ChildFirstLoader(ClassLoader parent) {
      super("r22-web-app-loader", parent);
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (!name.equals(ThreadLocalPayload.class.getName())) {
        return super.loadClass(name, resolve);
      }
      synchronized (getClassLoadingLock(name)) {
        Class<?> c = findLoadedClass(name);
        if (c != null) {
          return c;
        }
        String res = name.replace('.', '/') + ".class";
        try (InputStream in = getParent().getResourceAsStream(res)) {
          if (in == null) {
            throw new ClassNotFoundException(name);
          }
          byte[] b = in.readAllBytes();
          return defineClass(name, b, 0, b.length);
        } catch (IOException e) {
          throw new ClassNotFoundException(name, e);
        }
      }
    }
  }

  // ================================================================ DEFECTS: lock order

  /**
   * DEFECT (lock order, false negative): a lock taken inside a {@code Mutex.lockWhen}
   * predicate is not ordered after the mutex. Promises: LockOrder's class Javadoc, "Before a
   * blocking acquisition of B, weft adds the edges from every lock the thread holds to B", with
   * {@code Mutex} "including ... lockWhen and awaitThen" covered; lockWhen's Javadoc: the
   * predicate is "evaluated only while holding the lock". The mutex is pushed on the held list
   * only after the predicate returned true ({@code LockOrder.acquired} follows {@code
   * awaitReady}), so while the predicate runs the mutex is held but unknown to the checker.
   * Thread 1 in {@code m.lockWhen(v -> { x.lock(); ... })} holding m waits for x; thread 2
   * holding x waits in {@code m.lock()}: a deadlock that is never reported, in either order.
   *
   * <p>Schedule (one thread, THROW mode): {@code m.lockWhen(pred)} whose predicate takes and
   * releases x; then {@code x.lock(); m.lock()}. Observed: no edge m -> x is recorded, and the
   * inverted order takes m without a LockOrderException. Also for {@code
   * lockWhenUninterruptibly} and timed {@code lockWhen}. Fails 4 of 4 runs on JDK 17 and 4 of
   * 4 on JDK 25 (deterministic).
   */
  @Test
  void fixed_aLockTakenInALockWhenPredicateIsNotOrderedAfterTheMutex() throws Exception {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
    try {
      List<String> missed = new ArrayList<>();
      for (String form : List.of("lockWhen", "lockWhenUninterruptibly", "lockWhen(timeout)")) {
        LockOrder.resetForTests();
        Mutex<Integer> m = new Mutex<>(0);
        Mutex<Integer> x = new Mutex<>(0);
        java.util.function.Predicate<Integer> takesX = v -> {
          try (var gx = x.lock()) { // m is held here: the order m -> x
            return gx.get() == 0;
          }
        };
        Mutex.Guard<Integer> g = switch (form) {
          case "lockWhen" -> m.lockWhen(takesX);
          case "lockWhenUninterruptibly" -> m.lockWhenUninterruptibly(takesX);
          default -> m.lockWhen(takesX, Duration.ofSeconds(10));
        };
        assertThat(g).isNotNull();
        g.close();
        int edges = LockOrder.edgesForTests();
        boolean thrown = false;
        try (var gx = x.lock()) {
          try (var gm = m.lock()) { // x -> m: the inversion of the predicate's order
            gm.get();
          } catch (LockOrderException expected) {
            thrown = true;
          }
        }
        if (edges != 1 || !thrown) {
          missed.add(form + " (edges after the predicate: " + edges + ", inversion thrown: "
              + thrown + ")");
        }
      }
      assertThat(missed).as("forms whose predicate's lock order was missed").isEmpty();
    } finally {
      LockOrder.disable();
      LockOrder.resetForTests();
    }
  }

  /**
   * DEFECT (lock order, memory): a lock released while checking is off stays strongly reachable
   * from the releasing thread's held list for as long as checking stays off. Promises:
   * LockOrder's class Javadoc, "Each thread's held list holds its locks strongly only while
   * they are held"; docs/observability.md, "Per thread: a small array of the locks held,
   * holding them only while held". {@code disable()} only bumps the epoch; a thread's list is
   * reset the next time it is used with checking on, and a release with checking off skips
   * {@code LockOrder.released}. So a JVM that switches checking off (the documented end of a
   * test, or a staging run) keeps every lock that any thread held at that moment, and
   * everything those locks reference (a {@code Mutex}'s value), on every such thread
   * forever: a pool thread's, for example.
   *
   * <p>Schedule (one thread): enable THROW; lock a {@code Mutex} holding a payload; disable;
   * close the guard (the lock is free); drop every reference; GC, bounded. Control: the same
   * with the release made while checking is on is collected. Observed: the released lock
   * (with its value) is never collected. Fails 4 of 4 runs on JDK 17 and 4 of 4 on JDK 25.
   */
  @Test
  @Disabled("open (session 22): another thread's held list cannot be cleared from disable(), and"
      + " an unlock with checking off does not look at it (that would cost every unlock);"
      + " documented in docs/observability.md, lock-order checking")
  void openDefect_aLockReleasedWhileCheckingIsOffStaysReachableFromTheHeldList() {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
    try {
      WeakReference<Object> control = lockAndRelease(false);
      assertThat(gcUntilCleared(control))
          .as("control: a lock released while checking is on is collectable")
          .isTrue();
      LockOrder.enable(LockOrder.Mode.THROW);
      WeakReference<Object> released = lockAndRelease(true);
      assertThat(LockOrder.mode()).isEqualTo(LockOrder.Mode.OFF);
      assertThat(gcUntilCleared(released))
          .as("a lock released (while checking is off) and dropped")
          .isTrue();
    } finally {
      LockOrder.disable();
      LockOrder.resetForTests();
    }
  }

  /** Locks a fresh Mutex, optionally disables checking, releases it; returns a weak ref to it. */
  private static WeakReference<Object> lockAndRelease(boolean disableWhileHeld) {
    Mutex<byte[]> m = new Mutex<>(new byte[1 << 20]);
    Mutex.Guard<byte[]> g = m.lock();
    assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
    if (disableWhileHeld) {
      LockOrder.disable();
    }
    g.close();
    assertThat(m.isLocked()).isFalse();
    return new WeakReference<>(m);
  }

  // ========================================================================== HELD: the pool

  /**
   * HELD: a JVM whose main thread returns exits at once although pool threads are idle and one
   * pool worker is blocked forever inside a function (of a call made from a daemon thread).
   * Promise: "never keep the JVM alive". Forked JVM, keep-alive left at 30 s: it must end
   * well inside the fork's 60 s limit, with its output printed.
   */
  @Test
  void held_theJvmExitsWithIdlePoolThreadsAndAWorkerBlockedForever() throws Exception {
    String out = fork(List.of(), ExitMain.class);
    assertThat(out).contains("blocked-worker-on-pool=true").contains("main-done");
  }

  /** The fork of {@link #held_theJvmExitsWithIdlePoolThreadsAndAWorkerBlockedForever}. */
  static final class ExitMain {
    private ExitMain() {}

    public static void main(String[] args) throws Exception {
      CountDownLatch blockedIn = new CountDownLatch(1);
      CountDownLatch never = new CountDownLatch(1);
      Thread daemonCaller = new Thread(() -> {
        Thread me = Thread.currentThread();
        CountDownLatch both = new CountDownLatch(2);
        Parallel.forRange(0, 2, i -> {
          both.countDown();
          try {
            both.await();
            if (Thread.currentThread() != me) {
              System.out.println("blocked-worker-on-pool="
                  + (Thread.currentThread() instanceof ParallelPool.PoolThread));
              blockedIn.countDown();
              never.await(); // blocks forever (an interrupt would end it; none comes)
            }
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }, Parallel.options().threads(2).sequentialCutoff(Duration.ZERO)); // rendezvous: split
      }, "r22-daemon-caller");
      daemonCaller.setDaemon(true);
      daemonCaller.start();
      if (!blockedIn.await(20, TimeUnit.SECONDS)) {
        System.out.println("never-blocked");
      }
      // Other calls go on and leave idle pool threads behind.
      long[] a = IntStream.range(0, 10_000).asLongStream().toArray();
      for (int i = 0; i < 5; i++) {
        long[] sq = Parallel.map(a, x -> x * 2,
            Parallel.options().threads(4).sequentialCutoff(Duration.ZERO));
        if (sq[9_999] != 19_998) {
          throw new AssertionError("wrong result");
        }
      }
      System.out.println("main-done");
    }
  }

  /**
   * HELD: a function that interrupts its own pool thread and leaves the status set does not
   * reach the next call's worker. Promise: "Each task starts with a clean interrupt status,
   * whatever the last task ... left". Through {@code Parallel} (the "back early" path, where
   * the thread is back in the idle stack before its old task has returned), not raw tasks.
   */
  @Test
  void held_aSelfInterruptOfAPoolWorkerDoesNotReachTheNextCall() {
    Thread caller = Thread.currentThread();
    AtomicReference<Thread> first = new AtomicReference<>();
    // Every call here is a rendezvous of two elements, so each must split: sequentialCutoff
    // zero. With the default cut-off, weft's cost memory may learn from an earlier round that
    // this lambda is cheap and run its element 0 alone first (documented), and the rendezvous
    // then waits in vain (failed once in a full CI run, never alone).
    CountDownLatch both1 = new CountDownLatch(2);
    Parallel.forRange(0, 2, i -> {
      both1.countDown();
      await(both1);
      if (Thread.currentThread() != caller) {
        first.set(Thread.currentThread());
        Thread.currentThread().interrupt(); // left set when the function returns
      }
    }, Parallel.options().threads(2).sequentialCutoff(Duration.ZERO)); // rendezvous: split
    assertThat(first.get()).isInstanceOf(ParallelPool.PoolThread.class);
    assertThat(caller.isInterrupted()).isFalse();
    for (int round = 0; round < 3; round++) {
      AtomicReference<Thread> on = new AtomicReference<>();
      AtomicBoolean interrupted = new AtomicBoolean(true);
      CountDownLatch both = new CountDownLatch(2);
      Parallel.forRange(0, 2, i -> {
        if (Thread.currentThread() != caller) {
          on.set(Thread.currentThread());
          interrupted.set(Thread.currentThread().isInterrupted()); // before anything else
        }
        both.countDown();
        await(both);
      }, Parallel.options().threads(2).sequentialCutoff(Duration.ZERO)); // rendezvous: split
      assertThat(on.get()).isInstanceOf(ParallelPool.PoolThread.class);
      assertThat(interrupted).as("round %d on %s (first: %s)", round, on.get(), first.get())
          .isFalse();
    }
  }

  /**
   * HELD: while one call's pool worker is blocked inside its function, other calls (default
   * options, explicit threads, nested inside a pool worker's function, and calls under a held
   * weft lock) complete with correct results and never wait for it. Promise: "a nested call or
   * a call under a held lock never waits for queued tasks"; "the pool never queues".
   */
  @Test
  void held_callsCompleteWhileAnotherCallsPoolWorkerIsBlocked() throws Exception {
    CountDownLatch blockedIn = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicReference<Throwable> blockedCallFailed = new AtomicReference<>();
    Thread blockedCaller = new Thread(() -> {
      try {
        Thread me = Thread.currentThread();
        CountDownLatch both = new CountDownLatch(2);
        Parallel.forRange(0, 2, i -> {
          both.countDown();
          await(both);
          if (Thread.currentThread() != me) {
            blockedIn.countDown();
            await(release);
          }
        }, Parallel.options().threads(2).sequentialCutoff(Duration.ZERO)); // rendezvous: split
      } catch (Throwable t) {
        blockedCallFailed.set(t);
      }
    }, "r22-blocked-caller");
    blockedCaller.start();
    try {
      await(blockedIn);
      List<Integer> in = IntStream.range(0, 500).boxed().toList();
      Parallel.Options split = Parallel.options().sequentialCutoff(Duration.ZERO);
      Mutex<Integer> lock = new Mutex<>(0);
      for (int k = 0; k < 10; k++) {
        assertThat(Parallel.map(in, x -> x + 1, split)).element(499).isEqualTo(500);
        assertThat(Parallel.map(in, x -> x + 1, split.threads(3))).element(0).isEqualTo(1);
        // nested: each element of the outer call makes a call of its own
        List<Integer> sums = Parallel.map(List.of(1, 2, 3, 4), n ->
            Parallel.reduce(in, x -> x * n, 0, Integer::sum, split), split.threads(4));
        assertThat(sums).containsExactly(124_750, 249_500, 374_250, 499_000);
        try (var g = lock.lock()) { // a call under a held weft lock
          assertThat(Parallel.reduce(in, x -> x, 0, Integer::sum, split)).isEqualTo(124_750);
          g.set(g.get() + 1);
        }
      }
    } finally {
      release.countDown();
      blockedCaller.join(20_000);
    }
    assertThat(blockedCaller.isAlive()).isFalse();
    assertThat(blockedCallFailed.get()).isNull();
  }

  // ===================================================================== HELD: lock order

  /**
   * HELD: lock-order checking on virtual threads (JDK 21+; skipped on 17): an order recorded on
   * one virtual thread is checked on another, the refused acquisition leaves the lock free and
   * the thread's held list as it was, and a virtual thread's held list starts empty.
   */
  @Test
  void held_anInversionAcrossVirtualThreadsIsReportedAndLeavesNothingHeld() throws Exception {
    assumeTrue(feature() >= 21, "virtual threads");
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
    try {
      Mutex<Integer> a = new Mutex<>(0);
      SpinLock b = new SpinLock();
      AtomicReference<Throwable> firstFailed = new AtomicReference<>();
      Thread v1 = startVirtual(() -> {
        try {
          assertThat(LockOrder.heldCountForTests()).isZero();
          try (var ga = a.lock()) {
            b.lock();
            try {
              ga.get();
            } finally {
              b.unlock();
            }
          }
        } catch (Throwable t) {
          firstFailed.set(t);
        }
      });
      v1.join(20_000);
      assertThat(v1.isAlive()).isFalse();
      assertThat(firstFailed.get()).isNull();
      AtomicReference<Throwable> refused = new AtomicReference<>();
      AtomicReference<String> after = new AtomicReference<>();
      Thread v2 = startVirtual(() -> {
        b.lock();
        try {
          try (var ga = a.lock()) {
            after.set("took a");
          } catch (LockOrderException e) {
            refused.set(e);
            after.set("held=" + LockOrder.heldCountForTests() + " aLocked=" + a.isLocked()
                + " bHeld=" + b.isHeldByCurrentThread()
                + " interrupted=" + Thread.currentThread().isInterrupted());
          }
        } finally {
          b.unlock();
        }
      });
      v2.join(20_000);
      assertThat(v2.isAlive()).isFalse();
      assertThat(refused.get()).isInstanceOf(LockOrderException.class);
      assertThat(after.get()).isEqualTo("held=1 aLocked=false bHeld=true interrupted=false");
    } finally {
      LockOrder.disable();
      LockOrder.resetForTests();
    }
  }

  private static Thread startVirtual(Runnable r) throws Exception {
    return (Thread) Thread.class.getMethod("startVirtualThread", Runnable.class)
        .invoke(null, r);
  }

  /**
   * HELD: orders that cannot deadlock are not reported: a {@code tryLock} in the opposite order,
   * the same pair re-taken after release, re-entrant reads, and a lock that was ordered, died
   * and was collected, after which fresh locks are taken in the opposite order to the survivor.
   */
  @Test
  void held_noFalseReportsForProbesReleasesReentrantReadsAndCollectedLocks() {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
    try {
      Mutex<Integer> a = new Mutex<>(0);
      TicketLock b = new TicketLock();
      try (var ga = a.lock()) {
        b.lock();
        try {
          ga.get();
        } finally {
          b.unlock();
        }
      }
      b.lock();
      try (var pa = a.tryLock()) { // a probe in the opposite order: no wait, no report
        assertThat(pa).isNotNull();
      } finally {
        b.unlock();
      }
      for (int i = 0; i < 3; i++) { // the same order again and again
        try (var ga = a.lock()) {
          b.lock();
          try {
            ga.get();
          } finally {
            b.unlock();
          }
        }
      }
      RwLock<Integer> r = new RwLock<>(0);
      try (var r1 = r.read(); var ga = a.lock(); var r2 = r.read()) { // re-entrant read
        assertThat(r2.get()).isZero();
      }
      // s1 -> d -> s2 recorded through a lock d that then dies: once d is collected (and
      // purged at the next graph change), s2 -> s1 closes no cycle: nobody can hold d.
      Mutex<Integer> s1 = new Mutex<>(1);
      Mutex<Integer> s2 = new Mutex<>(2);
      WeakReference<Object> dead = orderThroughThenDrop(s1, s2);
      assertThat(gcUntilCleared(dead)).isTrue();
      int nodes = LockOrder.identityNodesForTests(); // drains the collected keys
      for (int i = 0; i < 100 && nodes > 4; i++) { // a, b, r, s1, s2 less d: enqueue may lag
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
        nodes = LockOrder.identityNodesForTests();
      }
      try (var g2 = s2.lock(); var g1 = s1.lock()) {
        assertThat(g1.get() + g2.get()).isEqualTo(3);
      }
    } finally {
      LockOrder.disable();
      LockOrder.resetForTests();
    }
  }

  /** Records s1 -> d and d -> s2 for a fresh lock d, then drops d; returns a weak ref to d. */
  private static WeakReference<Object> orderThroughThenDrop(Mutex<Integer> s1, Mutex<Integer> s2) {
    SpinLock d = new SpinLock();
    try (var g1 = s1.lock()) {
      d.lock();
      try {
        g1.get();
      } finally {
        d.unlock();
      }
    }
    d.lock();
    try (var g2 = s2.lock()) {
      g2.get();
    } finally {
      d.unlock();
    }
    return new WeakReference<>(d);
  }

  /**
   * HELD: the checker under concurrent acquisitions: two threads record many fresh pairs each
   * in one consistent global order (by creation index) at the same time; nothing is reported
   * and the edge count is exact; then one opposite acquisition is refused.
   */
  @Test
  void held_concurrentConsistentOrdersAreNeverReportedAndEdgesAreExact() throws Exception {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
    try {
      int pairs = 200;
      List<Mutex<Integer>> locks = new ArrayList<>();
      for (int i = 0; i < pairs * 2; i++) {
        locks.add(new Mutex<>(i));
      }
      CountDownLatch go = new CountDownLatch(1);
      AtomicReference<Throwable> failed = new AtomicReference<>();
      List<Thread> ts = new ArrayList<>();
      for (int t = 0; t < 2; t++) {
        Thread th = new Thread(() -> {
          try {
            await(go);
            for (int i = 0; i < pairs; i++) { // both threads: lock 2i, then 2i+1
              try (var g1 = locks.get(2 * i).lock(); var g2 = locks.get(2 * i + 1).lock()) {
                g2.get();
              }
            }
          } catch (Throwable e) {
            failed.compareAndSet(null, e);
          }
        }, "r22-order-" + t);
        th.start();
        ts.add(th);
      }
      go.countDown();
      for (Thread th : ts) {
        th.join(30_000);
        assertThat(th.isAlive()).isFalse();
      }
      assertThat(failed.get()).isNull();
      assertThat(LockOrder.edgesForTests()).isEqualTo(pairs);
      try (var g = locks.get(1).lock()) {
        assertThatThrownBy(() -> locks.get(0).lock().close())
            .isInstanceOf(LockOrderException.class);
      }
    } finally {
      LockOrder.disable();
      LockOrder.resetForTests();
    }
  }
}
