package dev.weft;

import static dev.weft.testing.Gc.stillReachable;
import static dev.weft.testing.Waits.awaitBlocked;
import static dev.weft.testing.Waits.awaitParkedOn;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.lang.ref.WeakReference;
import java.lang.reflect.Field;
import java.net.URL;
import java.net.URLClassLoader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 23b adversarial review: memory retention and unbounded growth in the parts review 23
 * did not cover (the SeqLock family and its waiting room, Condvar, both locks' Condition, RwLock,
 * Mutex.lockWhen after timeouts, LockOrder, Scope's thread-locals and its deadline timer). Each
 * attack makes what a user expects to be collectable only weakly reachable, runs a bounded
 * number of {@code System.gc()} rounds and asserts it was collected, or counts queue nodes by
 * reflection. {@code fixed_*} tests failed on the code as reviewed (849416f):
 * both LockOrder ones 8 of 8 runs on JDK 17 and 5 of 5 on JDK 25; the deadline
 * timer one 8 of 8 on JDK 17 and 0 of 5 on JDK 25 (no inherited access-control context since
 * JDK 24); they pass since a thread holding no checked lock drops its LockOrder entry, an
 * edge keeps its first stack as StackTraceElements, and the deadline timer thread is made in
 * the pool's own access-control context. {@code held_*} are attacks that did not break
 * anything.
 */
@SuppressWarnings({
  "try", // guards held only for their scope
  "LockNotBeforeTry", // the schedules take the lock before starting threads
  "WaitNotInLoop", // the condition loops are the attack
  "unchecked",
  "rawtypes"
})
@Timeout(120)
class Review23bMemoryTest {
  private final List<Thread> threads = new ArrayList<>();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();

  interface Body {
    void run() throws Exception;
  }

  private Thread newThread(String name, Body body) {
    Thread t =
        new Thread(
            () -> {
              try {
                body.run();
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              }
            },
            "test-" + name);
    t.setDaemon(true);
    synchronized (threads) {
      threads.add(t);
    }
    return t;
  }

  private Thread start(String name, Body body) {
    Thread t = newThread(name, body);
    t.start();
    return t;
  }

  @AfterEach
  void joinAll() throws Throwable {
    List<Thread> all;
    synchronized (threads) {
      all = new ArrayList<>(threads);
      threads.clear();
    }
    // First a bounded grace (2 s in all) for threads the test has just released (a keeper
    // woken by its latch): an interrupt racing that wake-up made the latch throw (CI, once).
    long graceEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    for (Thread t : all) {
      long left = graceEnd - System.nanoTime();
      if (left > 0) {
        t.join(Math.max(1L, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
    for (Thread t : all) {
      if (t.isAlive()) {
        t.interrupt();
      }
      t.join(TimeUnit.SECONDS.toMillis(10));
    }
    for (Thread t : all) {
      assertThat(t.isAlive()).as("%s still running", t.getName()).isFalse();
    }
    if (LockOrder.mode() != LockOrder.Mode.OFF) {
      LockOrder.disable();
    }
    LockOrder.resetForTests();
    Throwable f = failure.get();
    if (f != null) {
      throw f;
    }
  }

  /** Joins {@code t} (bounded), forgets it, and returns a weak reference to it. */
  private WeakReference<Thread> joinAndForget(Thread t) throws InterruptedException {
    t.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(t.isAlive()).as("%s still running", t.getName()).isFalse();
    synchronized (threads) {
      threads.remove(t);
    }
    return new WeakReference<>(t);
  }

  private static Object field(Object o, Class<?> declaring, String name) throws Exception {
    Field f = declaring.getDeclaredField(name);
    f.setAccessible(true);
    return f.get(o);
  }

  /**
   * A long-lived "container" thread (a servlet container's request thread, an executor's
   * worker): runs the tasks handed to it one at a time and stays alive between them.
   */
  private final class LongLivedThread {
    private final LinkedBlockingQueue<Runnable> tasks = new LinkedBlockingQueue<>();
    final Thread thread;

    LongLivedThread(String name) {
      thread =
          start(
              name,
              () -> {
                while (true) {
                  Runnable r;
                  try {
                    r = tasks.take();
                  } catch (InterruptedException stop) {
                    return; // stop() or the clean-up
                  }
                  r.run();
                }
              });
    }

    /** Runs {@code body} on the thread and waits (bounded) for it; rethrows its failure. */
    void run(Body body) throws Throwable {
      CountDownLatch done = new CountDownLatch(1);
      AtomicReference<Throwable> thrown = new AtomicReference<>();
      tasks.add(
          () -> {
            try {
              body.run();
            } catch (Throwable e) {
              thrown.set(e);
            } finally {
              done.countDown();
            }
          });
      assertThat(done.await(30, TimeUnit.SECONDS)).as("task on %s", thread.getName()).isTrue();
      Throwable e = thrown.get();
      if (e != null) {
        throw e;
      }
    }

    void stop() throws InterruptedException {
      thread.interrupt();
      thread.join(TimeUnit.SECONDS.toMillis(10));
      assertThat(thread.isAlive()).isFalse();
    }
  }

  // ============================================================ class-loader helpers

  /** A loader for weft's own class files, parent the platform loader (weft in a web app). */
  private static URLClassLoader weftInItsOwnLoader() {
    URL weft = Parallel.class.getProtectionDomain().getCodeSource().getLocation();
    return new URLClassLoader(new URL[] {weft}, ClassLoader.getPlatformClassLoader());
  }

  /**
   * Defines one class of this test file (an "application" class) in a loader of its own, child
   * first, everything else from the test's loader: weft shared by the server, the application
   * redeployed.
   */
  static final class AppLoader extends ClassLoader {
    private final String appClass;

    AppLoader(String appClass) {
      super(Review23bMemoryTest.class.getClassLoader());
      this.appClass = appClass;
    }

    @Override
    protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
      if (!name.equals(appClass)) {
        return super.loadClass(name, resolve);
      }
      synchronized (getClassLoadingLock(name)) {
        Class<?> c = findLoadedClass(name);
        if (c == null) {
          byte[] b;
          try (InputStream in =
              getParent().getResourceAsStream(name.replace('.', '/') + ".class")) {
            if (in == null) {
              throw new ClassNotFoundException(name);
            }
            b = in.readAllBytes();
          } catch (IOException e) {
            throw new ClassNotFoundException(name, e);
          }
          c = defineClass(name, b, 0, b.length);
        }
        return c;
      }
    }
  }

  private static <T> T newAppObject(AppLoader loader, Class<?> template, Class<T> type)
      throws Exception {
    Class<?> c = loader.loadClass(template.getName());
    assertThat(c.getClassLoader()).isSameAs(loader);
    java.lang.reflect.Constructor<?> k = c.getDeclaredConstructor();
    k.setAccessible(true);
    return type.cast(k.newInstance());
  }

  /** Application code: two locks of its own, always taken in the same order. */
  static final class AppLocks implements Runnable {
    static final SpinLock ACCOUNTS = new SpinLock();
    static final SpinLock LEDGER = new SpinLock();

    @Override
    public void run() {
      ACCOUNTS.lock();
      try {
        LEDGER.lock();
        LEDGER.unlock();
      } finally {
        ACCOUNTS.unlock();
      }
    }
  }

  /**
   * Application code: a scope with a deadline of one hour and one quick task; {@code middle}
   * runs after the spawn, inside the body.
   */
  static final class AppScope implements Consumer<Runnable>, Scope.VoidBody<RuntimeException>,
      Runnable {
    private Runnable middle; // set by accept(Runnable); no lambda in an application class

    @Override
    public void accept(Runnable m) {
      middle = m;
      try {
        Scope.builder().timeout(Duration.ofHours(1)).run(this);
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    public void accept(Scope s) {
      try {
        s.spawn((Runnable) this);
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
      middle.run();
    }

    @Override
    public void run() {} // the task
  }

  // ============================================================ LockOrder

  /**
   * Attacks: LockOrder's per-thread state on a long-lived thread. weft is loaded by a loader of
   * its own (bundled in a web app); on a container thread that outlives the application,
   * checking is enabled, one SpinLock is locked and unlocked, checking is disabled; then every
   * reference to the loader is dropped while the thread lives on. Retained: the thread's
   * ThreadLocalMap entry for {@code LockOrder.HELD}: its value is a {@code LockOrder.Held} (a
   * weft class), so the value pins weft's class loader, all its classes and statics, and
   * through {@code LockOrder.HELD} (a static of a pinned class) its own weak key: the entry is
   * never expunged. One loader per redeploy, per thread that took a weft lock while checking
   * was on, for the thread's life; {@code disable()} does not drop it, and nothing ever calls
   * {@code HELD.remove()}. Not documented: docs/observability.md "Memory and bounds" says "Per
   * thread: a small array of the locks held, holding them only while held"; the class-loader
   * consequence is documented only for Parallel's pool (docs/parallel.md, "Thread-locals"),
   * and there for the user's thread-locals. Anchor: the JDK keeps no library state in
   * application threads' maps without removing it (FJP erases them; {@code
   * ReentrantReadWriteLock} removes its {@code readHolds} entry when the count reaches 0).
   * Control: {@link #held_controlWeftInItsOwnLoaderOnALongLivedThreadWithoutLockOrder}. Fix:
   * {@code HELD.remove()} when the held list becomes empty (only while checking is on), or
   * hold a value of bootstrap classes only (e.g. an {@code Object[]} of the lock array, the
   * mode array and a {@code long[]} for size/epoch), as the Parallel cost-memory fix did.
   */
  @Test
  void fixed_lockOrderThreadLocalPinsWeftsClassLoaderOnALongLivedThread() throws Throwable {
    int[] counts = weftLoaderAfterLongLivedThreadUse(true);
    assertThat(counts[0])
        .as("weft's loader reachable while the container thread lives (after it ended: %s)",
            counts[1] == 0 ? "collected" : "still reachable")
        .isZero();
  }

  /** Control for the defect above: the same without lock-order checking is collected. */
  @Test
  void held_controlWeftInItsOwnLoaderOnALongLivedThreadWithoutLockOrder() throws Throwable {
    int[] counts = weftLoaderAfterLongLivedThreadUse(false);
    assertThat(counts[0]).as("weft's loader while the container thread lives").isZero();
  }

  /** Returns {reachable while the thread lives, reachable after it ended}. */
  private int[] weftLoaderAfterLongLivedThreadUse(boolean lockOrder) throws Throwable {
    LongLivedThread container = new LongLivedThread("container");
    WeakReference<ClassLoader>[] ref = new WeakReference[1];
    container.run(
        () -> {
          URLClassLoader loader = weftInItsOwnLoader();
          Class<?> lo = Class.forName("dev.weft.LockOrder", true, loader);
          assertThat(lo.getClassLoader()).isSameAs(loader);
          Class<? extends Enum> mode =
              (Class<? extends Enum>) Class.forName("dev.weft.LockOrder$Mode", true, loader);
          if (lockOrder) {
            lo.getMethod("enable", mode).invoke(null, Enum.valueOf(mode, "THROW"));
          }
          Lock l =
              Class.forName("dev.weft.SpinLock", true, loader)
                  .asSubclass(Lock.class)
                  .getConstructor()
                  .newInstance();
          l.lock();
          l.unlock();
          lo.getMethod("disable").invoke(null);
          loader.close();
          ref[0] = new WeakReference<>(loader);
        });
    int whileAlive = stillReachable(ref[0]);
    container.stop();
    int afterEnd = stillReachable(ref[0]);
    return new int[] {whileAlive, afterEnd};
  }

  /**
   * Attacks: the order graph's edges. weft is shared (a server's library), an application's
   * class takes its two locks in a fixed order while checking is on (a staging JVM with {@code
   * -Ddev.weft.lockOrder=log}); the application is then undeployed. Retained: each Edge keeps
   * {@code first}, a {@code Throwable} made at the first acquisition; its JVM backtrace holds
   * the {@code Class} of every frame on that stack (HotSpot keeps the mirrors so the methods
   * stay valid), here the application's class, so {@code LockOrder.NODES} (static) -> Node ->
   * Edge -> Throwable -> the application's class -> its loader -> its statics -> its locks: the
   * locks stay strongly reachable, their WeakKeys are never enqueued, the nodes never purged.
   * One application loader per redeploy, for the JVM's life, even after {@code disable()}
   * (the graph is kept) and after later graph changes. Docs: "when a lock is garbage-collected,
   * its node and its edges are removed" and "the stack trace of its first acquisition (about
   * 1 KB)": true of the bytes, not of what the trace keeps reachable. Anchor: the JDK's own
   * StackTraceElement drops its Class reference once formatted ({@code computeFormat}), so an
   * element array pins nothing. Fix: keep {@code first.getStackTrace()} (a {@code
   * StackTraceElement[]}) plus the message, and build the Throwable only when a report is
   * made (report() already copies the trace into a new Throwable). Control: {@link
   * #held_controlAppLoaderIsCollectedWithoutLockOrder}.
   */
  @Test
  void fixed_lockOrderEdgeStackTracePinsTheApplicationsClassLoader() throws Exception {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.LOG);
    LockOrder.sinkForTests(e -> {});
    WeakReference<ClassLoader> app = runAppLocks();
    // a later graph change (drains collected locks' keys) by code of the test's own loader
    Thread other =
        start(
            "other-locks",
            () -> {
              SpinLock a = new SpinLock();
              SpinLock b = new SpinLock();
              a.lock();
              b.lock();
              b.unlock();
              a.unlock();
            });
    joinAndForget(other);
    other = null;
    LockOrder.disable();
    LockOrder.sinkForTests(null);
    int edges = LockOrder.edgesForTests();
    int reachable = stillReachable(app);
    LockOrder.resetForTests(); // drops the graph: shows that the graph is what keeps it
    int afterReset = stillReachable(app);
    assertThat(reachable)
        .as("the application's loader after it ran with lock-order checking (%d edges kept;"
            + " after the graph was dropped: %s)", edges, afterReset == 0 ? "collected" : "kept")
        .isZero();
  }

  /** Control for the defect above: the same application code without checking. */
  @Test
  void held_controlAppLoaderIsCollectedWithoutLockOrder() throws Exception {
    assertThat(stillReachable(runAppLocks())).as("the application's loader").isZero();
  }

  private WeakReference<ClassLoader> runAppLocks() throws Exception {
    AppLoader loader = new AppLoader(AppLocks.class.getName());
    Runnable app = newAppObject(loader, AppLocks.class, Runnable.class);
    Thread t = start("app", app::run);
    joinAndForget(t);
    t = null;
    app = null;
    return new WeakReference<>(loader);
  }

  // ============================================================ Scope's deadline timer

  /**
   * Attacks: the shared deadline timer's thread ({@code weft-scope-deadlines}). It is made
   * lazily, by the {@code ScheduledThreadPoolExecutor} on the stack of whichever caller's
   * timed scope spawns first while no timer thread exists, with a plain {@code new Thread}. On
   * JDK 17-23 every new thread keeps its creator's access-control context (the protection
   * domains of every frame on that stack, each holding its class loader). Here an
   * application's class (own loader, weft shared) opens the first timed scope; another
   * application keeps a deadline pending, so the timer thread lives on; the first application
   * is undeployed. Retained: its class loader, through the timer thread's {@code
   * inheritedAccessControlContext}, for as long as deadlines keep the thread alive (it exits
   * after 200 ms idle; under steady timed-scope traffic, never). ParallelPool documents and
   * avoids exactly this (its threads are made under {@code doPrivileged} with a context of its
   * own, ParallelPool.newThread); the timer does not, and docs/scope.md does not mention it.
   * Anchor: the JDK's own shared threads ({@code ForkJoinPool.commonPool}'s workers,
   * {@code InnocuousThread}, the HTTP client's selector) are created under a fixed context;
   * Tomcat's JreMemoryLeakPreventionListener exists because JDK threads once were not. Fix:
   * create the timer thread in {@code AccessController.doPrivileged(..., context)} with a
   * context of weft's own (reuse ParallelPool's), or {@code new Thread} inside
   * {@code doPrivileged} from a static, caller-free context. Control: {@link
   * #held_controlTimerThreadMadeByTheTestDoesNotPinTheApplication}. JDK 24+ threads keep no
   * such context: there it holds.
   */
  @Test
  void fixed_deadlineTimerThreadPinsTheClassLoaderOfTheScopeThatStartedIt() throws Exception {
    assertThat(appLoaderAfterTimedScope(false))
        .as("the application's loader while another application's deadline is pending")
        .isZero();
  }

  /** Control: the timer thread made from the test's own code; the application's loader goes. */
  @Test
  void held_controlTimerThreadMadeByTheTestDoesNotPinTheApplication() throws Exception {
    assertThat(appLoaderAfterTimedScope(true))
        .as("the application's loader while another application's deadline is pending")
        .isZero();
  }

  private int appLoaderAfterTimedScope(boolean keeperFirst) throws Exception {
    awaitNoDeadlineTimerThread();
    CountDownLatch scheduled = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread keeper =
        newThread(
            "deadline-keeper",
            () ->
                Scope.builder()
                    .timeout(Duration.ofHours(1))
                    .run(
                        s -> {
                          s.spawn(
                              () -> {
                                release.await();
                                return null;
                              });
                          scheduled.countDown();
                        }));
    Runnable startKeeper =
        () -> {
          keeper.start();
          try {
            assertThat(scheduled.await(20, TimeUnit.SECONDS)).isTrue();
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        };
    if (keeperFirst) {
      startKeeper.run();
    }
    WeakReference<ClassLoader> ref = runAppScope(keeperFirst ? () -> {} : startKeeper);
    assertThat(Scope.pendingDeadlines()).as("the keeper's entry").isEqualTo(1);
    int reachable = stillReachable(ref);
    release.countDown();
    joinAndForget(keeper);
    return reachable;
  }

  private WeakReference<ClassLoader> runAppScope(Runnable middle) throws Exception {
    AppLoader loader = new AppLoader(AppScope.class.getName());
    Consumer<Runnable> app = newAppObject(loader, AppScope.class, Consumer.class);
    Thread appThread = start("app-scope", () -> app.accept(middle));
    joinAndForget(appThread);
    return new WeakReference<>(loader);
  }

  /** Waits (bounded) until no deadline is pending and the timer's thread has gone. */
  private static void awaitNoDeadlineTimerThread() throws InterruptedException {
    assertThat(Scope.pendingDeadlines()).as("deadlines pending before the attack").isZero();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      if (t.getName().equals("weft-scope-deadlines")) {
        t.join(TimeUnit.SECONDS.toMillis(10)); // exits after 200 ms idle
        assertThat(t.isAlive()).as("idle timer thread").isFalse();
      }
    }
  }

  /**
   * Attacks: a timed scope (one hour) that ended long before its deadline: is it collectable
   * at once, or does the timer's entry keep it (and its owner, factory, jfr state) until the
   * hour is over? Ends by close(), by run() with a failing task, by run() with a failing body.
   * Anchor: ScheduledThreadPoolExecutor with removeOnCancel. Held: seal() cancels the entry.
   */
  @Test
  void held_anEndedOneHourScopeIsCollectableAtOnce() throws Exception {
    List<WeakReference<?>> refs = new ArrayList<>();
    Scope s = Scope.builder().timeout(Duration.ofHours(1)).open();
    s.spawn(() -> {});
    s.close();
    refs.add(new WeakReference<>(s));
    s = null;
    List<WeakReference<?>> captured = new CopyOnWriteArrayList<>();
    try {
      Scope.builder()
          .timeout(Duration.ofHours(1))
          .run(
              sc -> {
                captured.add(new WeakReference<>(sc));
                sc.spawn(
                    () -> {
                      throw new IllegalStateException("task");
                    });
              });
    } catch (TaskFailedException expected) {
      // the task's failure
    }
    try {
      Scope.builder()
          .timeout(Duration.ofHours(1))
          .run(
              sc -> {
                captured.add(new WeakReference<>(sc));
                sc.spawn(() -> {});
                throw new IllegalStateException("body");
              });
    } catch (IllegalStateException expected) {
      // the body's failure
    }
    refs.addAll(captured);
    assertThat(Scope.pendingDeadlines()).isZero();
    assertThat(stillReachable(refs)).as("ended one-hour scopes").isZero();
  }

  // ============================================================ Scope's thread-locals

  /**
   * Attacks: Scope.INNERMOST and ScopeTask.RUNNING on a long-lived owner thread, on every end
   * path: a task failure, a body failure, a scope left open inside the body (nesting
   * violation), open()/close() with a failure, a task that leaves a scope open, a spawn into a
   * cancelled scope. After each the thread must have no innermost scope and no running task,
   * and every scope must be collectable while the thread lives. Held: pop() and run()'s
   * finally remove both.
   */
  @Test
  void held_scopeThreadLocalsLeaveNothingOnALongLivedOwnerOnEveryEndPath() throws Throwable {
    LongLivedThread owner = new LongLivedThread("scope-owner");
    List<WeakReference<?>> refs = new CopyOnWriteArrayList<>();
    List<Body> paths = new ArrayList<>();
    paths.add(
        () ->
            Scope.run(
                s -> {
                  refs.add(new WeakReference<>(s));
                  s.spawn(
                      () -> {
                        throw new IllegalStateException("task");
                      });
                }));
    paths.add(
        () ->
            Scope.run(
                s -> {
                  refs.add(new WeakReference<>(s));
                  throw new IllegalStateException("body");
                }));
    paths.add(
        () ->
            Scope.run(
                s -> {
                  refs.add(new WeakReference<>(s));
                  Scope inner = Scope.open(); // left open: the end ends it and throws
                  refs.add(new WeakReference<>(inner));
                  inner.spawn(() -> {});
                }));
    paths.add(
        () -> {
          try (Scope s = Scope.open()) {
            refs.add(new WeakReference<>(s));
            s.spawn(
                () -> {
                  throw new IllegalStateException("task");
                });
          }
        });
    paths.add(
        () ->
            Scope.run(
                s -> {
                  refs.add(new WeakReference<>(s));
                  s.spawn(
                      () -> {
                        Scope left = Scope.open(); // a task leaves a scope open
                        refs.add(new WeakReference<>(left));
                      });
                }));
    paths.add(
        () -> {
          Scope s = Scope.open();
          refs.add(new WeakReference<>(s));
          s.spawn(
              () -> {
                throw new IllegalStateException("first");
              });
          try {
            s.spawn(() -> {}).join(); // may run or find the scope cancelled
          } catch (Exception ignored) {
            // cancelled by the first failure
          }
          s.close();
        });
    AtomicInteger leftBehind = new AtomicInteger();
    for (Body path : paths) {
      try {
        owner.run(
            () -> {
              try {
                path.run();
              } finally {
                if (Scope.innermost() != null || ScopeTask.runningOnThisThread() != null) {
                  leftBehind.incrementAndGet();
                }
              }
            });
      } catch (RuntimeException expected) {
        // each path ends with a failure of its own
      }
    }
    paths.clear();
    assertThat(leftBehind).as("paths that left an innermost scope or a running task").hasValue(0);
    assertThat(stillReachable(refs)).as("scopes, while their owner thread lives").isZero();
    owner.stop();
  }

  // ============================================================ SeqLock family

  /**
   * Attacks: SeqLock's waiting room and slots after a busy contended period: a writer parked in
   * the slot, a reader parked in the reader slot (fell back to the lock), and a thread that
   * times out of {@code tryWrite(2 ms)} 60 times inside the room while the lock stays held.
   * Measured: room nodes after each timeout, then after everything ended: the room's queue,
   * {@code owner}, {@code reader}, {@code parked}, {@code parkedReader}, and whether the
   * terminated threads are collectable while the lock lives. Anchor: StampedLock's queue
   * unlinks cancelled nodes; AQS clears a node's thread. Held.
   */
  @Test
  void held_seqLockRoomAndSlotsKeepNoNodesOrThreadsAfterTimeoutsAndFallbacks() throws Exception {
    SeqLock lock = new SeqLock();
    SeqLock.WriteGuard g = lock.write();
    Thread writer =
        start(
            "seq-writer",
            () -> {
              try (SeqLock.WriteGuard w = lock.write()) {
                // nothing: only the wait matters
              }
            });
    awaitParkedOn(writer, lock);
    Thread reader = start("seq-reader", () -> lock.read(() -> 1));
    AtomicInteger maxNodes = new AtomicInteger();
    Thread timer =
        start(
            "seq-timed",
            () -> {
              for (int i = 0; i < 60; i++) {
                assertThat(lock.tryWrite(Duration.ofMillis(5))).isNull();
                WaitingRoom room = (WaitingRoom) field(lock, SeqLockCore.class, "room");
                if (room != null) {
                  maxNodes.accumulateAndGet(room.queuedNodes(), Math::max);
                }
              }
            });
    awaitParkedOn(timer, lock); // a timed writer parked in the room (behind the slot's writer)
    List<WeakReference<Thread>> refs = new ArrayList<>();
    refs.add(joinAndForget(timer));
    timer = null;
    awaitParkedOn(reader, lock);
    g.close();
    refs.add(joinAndForget(writer));
    refs.add(joinAndForget(reader));
    writer = null;
    reader = null;
    WaitingRoom room = (WaitingRoom) field(lock, SeqLockCore.class, "room");
    assertThat(maxNodes.get()).as("room nodes after a timed-out tryWrite").isLessThanOrEqualTo(1);
    assertThat(room.queuedNodes()).isZero();
    assertThat(room.isOccupied()).isFalse();
    for (String f : List.of("owner", "reader", "parked", "parkedReader")) {
      assertThat(field(lock, SeqLockCore.class, f)).as(f).isNull();
    }
    assertThat(stillReachable(refs)).as("terminated writers/readers, lock alive").isZero();
    assertThat(lock.toString()).isNotNull(); // keeps lock reachable to here
  }

  /**
   * Attacks: SeqLocked and SeqCount keeping their last writer. A thread writes (SeqLocked:
   * contended, through the room; SeqCount: alone) and terminates; the object lives on.
   * Held: SeqLockCore clears owner at release, SeqCount keeps an id, not a Thread.
   */
  @Test
  void held_seqLockedAndSeqCountKeepNoTerminatedWriter() throws Exception {
    SeqLocked<int[]> locked = new SeqLocked<>(new int[1]);
    SeqCount count = new SeqCount();
    CountDownLatch hold = new CountDownLatch(1);
    CountDownLatch holding = new CountDownLatch(1);
    Thread holder =
        start(
            "seqlocked-holder",
            () ->
                locked.write(
                    v -> {
                      holding.countDown();
                      try {
                        hold.await();
                      } catch (InterruptedException e) {
                        throw new IllegalStateException(e);
                      }
                      v[0]++;
                    }));
    assertThat(holding.await(20, TimeUnit.SECONDS)).isTrue();
    Thread waiter = start("seqlocked-waiter", () -> locked.write(v -> v[0]++));
    awaitParkedOn(waiter, locked);
    hold.countDown();
    Thread counter =
        start(
            "seqcount-writer",
            () -> {
              try (SeqCount.WriteGuard w = count.write()) {
                // nothing
              }
            });
    List<WeakReference<Thread>> refs = new ArrayList<>();
    refs.add(joinAndForget(holder));
    refs.add(joinAndForget(waiter));
    refs.add(joinAndForget(counter));
    holder = null;
    waiter = null;
    counter = null;
    assertThat(locked.readInt(v -> v[0])).isEqualTo(2);
    assertThat(stillReachable(refs)).as("terminated writers").isZero();
    assertThat(count.toString() + locked).isNotNull();
  }

  // ============================================================ Conditions

  /**
   * Attacks: cancelled waiter nodes of weft's Condition (SpinLock's and TicketLock's, one
   * class). One thread waits untimed; another, holding the lock, loops {@code await(1 µs)} 300
   * times (each times out while the first keeps waiting), then 20 threads each time out once
   * and 20 are interrupted while waiting. Measured: queued nodes after each timed await, and
   * after all: exactly the one live waiter; the gone threads collectable. Anchor: AQS
   * ConditionObject unlinks cancelled waiters. Held: a waiter that leaves unlinks its node
   * under the lock.
   */
  @Test
  void held_spinLockConditionTimedAwaitLoopDoesNotGrowTheQueue() throws Exception {
    SpinLock lock = new SpinLock();
    conditionQueueStaysBounded(lock, lock.newCondition());
  }

  /** As above, for TicketLock's Condition. */
  @Test
  void held_ticketLockConditionTimedAwaitLoopDoesNotGrowTheQueue() throws Exception {
    TicketLock lock = new TicketLock();
    conditionQueueStaysBounded(lock, lock.newCondition());
  }

  private void conditionQueueStaysBounded(Lock lock, Condition c) throws Exception {
    SpinLockCondition cond = (SpinLockCondition) c;
    boolean[] go = {false};
    Thread live =
        start(
            "cond-live",
            () -> {
              lock.lock();
              try {
                while (!go[0]) {
                  c.await();
                }
              } finally {
                lock.unlock();
              }
            });
    awaitParkedOn(live, c);
    AtomicInteger maxQueued = new AtomicInteger();
    Thread looper =
        start(
            "cond-looper",
            () -> {
              lock.lock();
              try {
                for (int i = 0; i < 300; i++) {
                  assertThat(c.await(1, TimeUnit.MICROSECONDS)).isFalse();
                  maxQueued.accumulateAndGet(cond.queuedCount(), Math::max);
                }
              } finally {
                lock.unlock();
              }
            });
    List<WeakReference<Thread>> refs = new ArrayList<>();
    refs.add(joinAndForget(looper));
    looper = null;
    for (int i = 0; i < 20; i++) {
      Thread timed =
          start(
              "cond-timed-" + i,
              () -> {
                lock.lock();
                try {
                  c.await(1, TimeUnit.MILLISECONDS);
                } finally {
                  lock.unlock();
                }
              });
      refs.add(joinAndForget(timed));
      timed = null;
      Thread interrupted =
          start(
              "cond-interrupted-" + i,
              () -> {
                lock.lock();
                try {
                  c.await();
                } catch (InterruptedException expected) {
                  // leaves
                } finally {
                  lock.unlock();
                }
              });
      awaitParkedOn(interrupted, c);
      interrupted.interrupt();
      refs.add(joinAndForget(interrupted));
      interrupted = null;
    }
    int queued;
    lock.lock();
    try {
      queued = cond.queuedCount();
      go[0] = true;
      c.signalAll();
    } finally {
      lock.unlock();
    }
    refs.add(joinAndForget(live));
    live = null;
    assertThat(maxQueued.get()).as("nodes after a timed-out await (one live waiter)").isEqualTo(1);
    assertThat(queued).as("nodes after 340 waits that left").isEqualTo(1);
    assertThat(stillReachable(refs)).as("threads that waited, lock alive").isZero();
    assertThat(lock.toString()).isNotNull();
  }

  /**
   * Attacks: Condvar's waiters after timeouts and interrupts (its wait queue is an AQS
   * ConditionObject of the mutex's Sync). One thread waits untimed; another loops {@code
   * awaitWhile(…, 1 ms)} 100 times under the mutex; 10 threads are interrupted while waiting;
   * {@code notifyOne}/{@code notifyAllWaiters} with no waiters in between. Measured: the AQS
   * wait queue's length, Condvar's waiter count, and the gone threads and their predicates'
   * captured payloads. Held.
   */
  @Test
  void held_condvarTimedOutAndInterruptedWaitersLeaveNothing() throws Exception {
    Mutex<int[]> m = new Mutex<>(new int[1]);
    Condvar cv = new Condvar();
    Thread live =
        start(
            "condvar-live",
            () -> {
              try (Mutex.Guard<int[]> g = m.lock()) {
                cv.awaitWhile(g, v -> v[0] == 0);
              }
            });
    Poll.awaitUntil(cv::hasWaiters);
    Object binding = field(cv, Condvar.class, "binding");
    AbstractQueuedSynchronizer.ConditionObject cond =
        (AbstractQueuedSynchronizer.ConditionObject) field(binding, binding.getClass(), "condition");
    awaitParkedOn(live, cond);
    List<WeakReference<?>> refs = new ArrayList<>();
    AtomicInteger maxQueue = new AtomicInteger();
    AtomicReference<Object> box = new AtomicReference<>(new Object());
    refs.add(new WeakReference<>(box.get()));
    Thread looper =
        start(
            "condvar-looper",
            () -> {
              Object mine = box.getAndSet(null);
              try (Mutex.Guard<int[]> g = m.lock()) {
                for (int i = 0; i < 100; i++) {
                  assertThat(cv.awaitWhile(g, v -> v[0] == 0 && mine != null, Duration.ofMillis(1)))
                      .isFalse();
                  maxQueue.accumulateAndGet(m.sync.getWaitQueueLength(cond), Math::max);
                }
              }
            });
    refs.add(joinAndForget(looper));
    looper = null;
    for (int i = 0; i < 10; i++) {
      cv.notifyOne(); // only the live waiter: it re-checks and sleeps again
      Thread interrupted =
          start(
              "condvar-interrupted-" + i,
              () -> {
                try (Mutex.Guard<int[]> g = m.lock()) {
                  cv.awaitWhile(g, v -> v[0] == 0);
                } catch (InterruptedException expected) {
                  // leaves
                }
              });
      awaitParkedOn(interrupted, cond);
      interrupted.interrupt();
      refs.add(joinAndForget(interrupted));
      interrupted = null;
    }
    awaitParkedOn(live, cond);
    int queue;
    try (Mutex.Guard<int[]> g = m.lock()) {
      queue = m.sync.getWaitQueueLength(cond);
      g.get()[0] = 1;
    }
    cv.notifyAllWaiters();
    refs.add(joinAndForget(live));
    live = null;
    cv.notifyAllWaiters(); // nobody waits
    cv.notifyOne();
    // <= 1: a timed-out wait passes a notifyOne on, which moves the live waiter to the lock queue
    assertThat(maxQueue.get()).as("AQS wait nodes after a timed-out awaitWhile").isLessThanOrEqualTo(1);
    assertThat(queue).as("AQS wait nodes after 110 waits that left").isLessThanOrEqualTo(1);
    assertThat(cv.hasWaiters()).isFalse();
    assertThat(stillReachable(refs)).as("waiters and a predicate's payload").isZero();
    assertThat(m.toString() + cv).isNotNull();
  }

  /**
   * Attacks: Mutex.lockWhen with timeouts while an awaitThen waiter stays parked: the change
   * queue, and what its nodes keep (the predicate's captured payload, the thread). 100 timed
   * {@code lockWhen(…, 1 ms)} from one thread, then 10 threads interrupted inside
   * {@code awaitThen}. Held: nodes that left are purged at the next push, keep no thread, and
   * never held the predicate.
   */
  @Test
  void held_mutexLockWhenTimeoutsKeepTheChangeQueueAndNothingElse() throws Exception {
    Mutex<int[]> m = new Mutex<>(new int[1]);
    Thread live = start("mutex-live", () -> m.awaitThen(v -> v[0] != 0, v -> v[0]));
    awaitParkedOn(live, m);
    List<WeakReference<?>> refs = new ArrayList<>();
    AtomicReference<Object> box = new AtomicReference<>(new Object());
    refs.add(new WeakReference<>(box.get()));
    Thread looper =
        start(
            "mutex-looper",
            () -> {
              Object mine = box.getAndSet(null);
              for (int i = 0; i < 100; i++) {
                assertThat(m.lockWhen(v -> v[0] != 0 && mine != null, Duration.ofMillis(1)))
                    .isNull();
              }
            });
    refs.add(joinAndForget(looper));
    looper = null;
    for (int i = 0; i < 10; i++) {
      Thread interrupted =
          start(
              "mutex-interrupted-" + i,
              () -> {
                try {
                  m.awaitThen(v -> v[0] != 0, v -> v[0]);
                } catch (InterruptedException expected) {
                  // leaves
                }
              });
      awaitParkedOn(interrupted, m);
      interrupted.interrupt();
      refs.add(joinAndForget(interrupted));
      interrupted = null;
    }
    int queue;
    try (Mutex.Guard<int[]> g = m.lock()) {
      queue = m.changeQueueLengthLocked();
      g.get()[0] = 1;
    }
    refs.add(joinAndForget(live));
    live = null;
    // Since session 27 an append purges only when the queue has doubled since its last sweep
    // (twice the live nodes plus the slack, and the append); left nodes keep no predicate.
    assertThat(queue)
        .as("change-queue nodes: one live waiter, + the nodes left since the last sweep")
        .isLessThanOrEqualTo(2 * 1 + Mutex.PURGE_SLACK + 1);
    assertThat(stillReachable(refs)).as("waiters and a predicate's payload").isZero();
    assertThat(m.toString()).isNotNull();
  }

  // ============================================================ RwLock

  /**
   * Attacks: RwLock keeping past readers and writers (its ReentrantReadWriteLock has {@code
   * firstReader} and a cached hold counter): readers that read alone, readers that overlap,
   * a writer that waited for readers, a reader that timed out behind a writer; all terminate
   * while the lock lives. Anchor: ReentrantReadWriteLock stores thread ids, clears
   * firstReader. Held.
   */
  @Test
  void held_rwLockKeepsNoPastReaderOrWriter() throws Exception {
    RwLock<int[]> rw = new RwLock<>(new int[1]);
    List<WeakReference<Thread>> refs = new ArrayList<>();
    CountDownLatch reading = new CountDownLatch(2);
    CountDownLatch stop = new CountDownLatch(1);
    List<Thread> readers = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      readers.add(
          start(
              "rw-reader-" + i,
              () -> {
                try (RwLock.ReadGuard<int[]> g = rw.read()) {
                  reading.countDown();
                  stop.await();
                }
              }));
    }
    assertThat(reading.await(20, TimeUnit.SECONDS)).isTrue();
    Thread writer = start("rw-writer", () -> rw.update(v -> v));
    awaitBlocked(writer);
    Thread timed = start("rw-timed", () -> assertThat(rw.tryRead(Duration.ofMillis(5))).isNull());
    refs.add(joinAndForget(timed));
    timed = null;
    stop.countDown();
    for (Thread r : readers) {
      refs.add(joinAndForget(r));
    }
    readers.clear();
    refs.add(joinAndForget(writer));
    writer = null;
    Thread alone = start("rw-alone", () -> rw.withRead(v -> v[0]));
    refs.add(joinAndForget(alone));
    alone = null;
    assertThat(stillReachable(refs)).as("past readers and writers, lock alive").isZero();
    assertThat(rw.toString()).isNotNull();
  }

  /** Bounded polling helper for a condition that has no park to wait on. */
  static final class Poll {
    private Poll() {}

    static void awaitUntil(Supplier<Boolean> cond) {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (!cond.get()) {
        assertThat(System.nanoTime() - deadline < 0).as("condition within 20 s").isTrue();
        java.util.concurrent.locks.LockSupport.parkNanos(50_000L); // bounded poll of a state
      }
    }
  }
}
