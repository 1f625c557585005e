package dev.weft;

import static dev.weft.testing.Gc.stillReachable;
import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.lang.ref.WeakReference;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 23 adversarial review: memory retention and unbounded growth across the library.
 * Each attack makes the object a user expects to be collectable only weakly reachable, runs a
 * bounded number of {@code System.gc()} rounds and asserts it was collected. {@code fixed_*}
 * tests failed on the code as reviewed (6f76566: 3 of 3 runs on JDK 17 and on JDK 25) and pass
 * since the cost memory holds a JDK {@code AtomicLong} and an ended scope drops its task list;
 * {@code held_*} are attacks that did not break anything.
 */
@SuppressWarnings({
  "try", // guards held only for their scope
  "LockNotBeforeTry" // the relays take the lock before starting threads
})
@Timeout(120)
class Review23MemoryTest {
  private final List<Thread> threads = new ArrayList<>();
  private final AtomicReference<Throwable> failure = new AtomicReference<>();

  interface Body {
    void run() throws Exception;
  }

  private Thread start(String name, Body body) {
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
    threads.add(t);
    t.start();
    return t;
  }

  @AfterEach
  void joinAll() throws Throwable {
    // First a bounded grace (2 s in all) for threads the test has just released (a keeper
    // woken by its latch): an interrupt racing that wake-up made the latch throw (CI, once).
    long graceEnd = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
    for (Thread t : threads) {
      long left = graceEnd - System.nanoTime();
      if (left > 0) {
        t.join(Math.max(1L, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
    for (Thread t : threads) {
      if (t.isAlive()) {
        t.interrupt();
      }
      t.join(TimeUnit.SECONDS.toMillis(10));
    }
    for (Thread t : threads) {
      assertThat(t.isAlive()).as("%s still running", t.getName()).isFalse();
    }
    threads.clear();
    Throwable f = failure.get();
    if (f != null) {
      throw f;
    }
  }

  private static void join(Thread t) throws InterruptedException {
    t.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(t.isAlive()).as("%s still running", t.getName()).isFalse();
  }

  /** A payload big enough to matter, so a retention is not only a few bytes. */
  static final class Payload {
    final byte[] bytes = new byte[1 << 20];
  }

  // ============================================================ class loaders (ClassValue)

  /**
   * Loads weft from its own class files into a fresh loader whose parent is the platform loader
   * (weft deployed in a web app, say), runs {@code Parallel.map(data, Function.identity(),
   * sequentialCutoff(10 s))} there (a cut-off that never splits: no pool thread is started, so
   * no weft thread keeps the loader), drops every reference to the loader and returns a weak
   * reference to it.
   */
  private static WeakReference<ClassLoader> runWeftInItsOwnLoader(List<Integer> data)
      throws Exception {
    URL weft = Parallel.class.getProtectionDomain().getCodeSource().getLocation();
    URLClassLoader loader = new URLClassLoader(new URL[] {weft}, ClassLoader.getPlatformClassLoader());
    Class<?> parallel = Class.forName("dev.weft.Parallel", true, loader);
    assertThat(parallel.getClassLoader()).isSameAs(loader);
    Object options = parallel.getMethod("options").invoke(null);
    Class<?> optionsType = options.getClass();
    options =
        optionsType.getMethod("sequentialCutoff", Duration.class).invoke(options, Duration.ofSeconds(10));
    Method map = parallel.getMethod("map", List.class, Function.class, optionsType);
    Object out = map.invoke(null, data, Function.identity(), options);
    assertThat(out).isEqualTo(data);
    loader.close();
    return new WeakReference<>(loader);
  }

  /**
   * Attacks: class-loader pinning by the small-input cost memory (ParallelJob.COSTS, a {@code
   * ClassValue<CostPrior>} keyed by the class of the user's function). A {@code ClassValue}'s
   * values live in the key class's own map, which holds each value strongly and only the
   * ClassValue's identity weakly; but a {@code CostPrior} references its class, its class
   * references weft's loader, the loader weft's classes, and {@code ParallelJob.COSTS} the
   * ClassValue: the weak key is strongly reachable from the value, so the entry is never
   * dropped (the JDK's known ClassValue pitfall, JDK-8136353). So one small {@code Parallel}
   * call whose function's class belongs to a longer-lived loader ({@code Function.identity()},
   * any JDK or shared-library function, a function from a parent web-app/server loader) pins
   * weft's class loader, all its classes and statics, for as long as that class lives (forever
   * for a JDK class): every redeploy of an application that bundles weft leaks a loader. The
   * docs promise the memory is "freed with the class" (true of the function's class, not of
   * weft's). Control: {@link #held_controlWeftsOwnLoaderIsCollectedWithoutTheCostMemory}, the
   * same loader and call on one element (no cost memory) is collected.
   *
   * <p>Anchor: the JDK keeps its own ClassValues' values in bootstrap classes; libraries that
   * hit this (Groovy's ClassInfo, GROOVY-7683; Clojure) store values that do not reference
   * their own loader.
   *
   * <p>Fix: make the value's class one of the bootstrap loader, e.g. {@code ClassValue<long[]>}
   * (or {@code AtomicLong}) with the opaque accesses through {@code
   * MethodHandles.arrayElementVarHandle(long[].class)}; the ClassValue subclass itself is then
   * reachable only through the weakly held identity and the weakly held Version.
   */
  @Test
  void fixed_costMemoryPinsWeftsClassLoaderThroughAFunctionOfAnOlderLoader() throws Exception {
    WeakReference<ClassLoader> loader = runWeftInItsOwnLoader(List.of(1, 2, 3));
    assertThat(stillReachable(loader))
        .as("weft's class loader, after a 3-element Parallel.map with Function.identity()")
        .isZero();
  }

  /** Control for the defect above: one element runs inline, without the cost memory. */
  @Test
  void held_controlWeftsOwnLoaderIsCollectedWithoutTheCostMemory() throws Exception {
    WeakReference<ClassLoader> loader = runWeftInItsOwnLoader(List.of(1));
    assertThat(stillReachable(loader)).as("weft's class loader after an inline call").isZero();
  }

  // ============================================================ Parallel pool

  /**
   * Attacks: what an idle pool thread keeps of the last call. A short-lived caller thread runs a
   * split {@code Parallel.map} (cut-off zero: always split, so the shared pool's threads take
   * part) whose function captures a 1 MiB payload, over an input list and into a result list;
   * after the call returns and the caller terminates, while the pool's threads sit idle (they
   * live 30 s), the function, its payload, the input, the result and the caller Thread must all
   * be collectable. Anchor: ForkJoinPool's workers drop a finished task; {@code FutureTask}
   * clears its callable. Held: PoolThread nulls {@code task}/{@code current} and the slot.
   */
  @Test
  void held_idlePoolThreadsKeepNothingOfTheLastCall() throws Exception {
    List<WeakReference<?>> refs = new CopyOnWriteArrayList<>();
    Thread caller =
        start(
            "parallel-caller",
            () -> {
              Payload payload = new Payload();
              List<Integer> in = new ArrayList<>();
              for (int i = 0; i < 64; i++) {
                in.add(i);
              }
              Function<Integer, Integer> f = x -> x + payload.bytes.length;
              List<Integer> out =
                  Parallel.map(
                      in, f, Parallel.options().threads(2).sequentialCutoff(Duration.ZERO));
              assertThat(out).hasSize(64);
              refs.add(new WeakReference<>(payload));
              refs.add(new WeakReference<>(f));
              refs.add(new WeakReference<>(in));
              refs.add(new WeakReference<>(out));
            });
    join(caller);
    refs.add(new WeakReference<>(caller));
    threads.remove(caller);
    caller = null;
    assertThat(stillReachable(refs))
        .as("payload, function, input, result or caller thread kept after the call")
        .isZero();
  }

  // ============================================================ Lazy / OnceCell

  /**
   * Attacks: a Lazy keeping its supplier (and what it captures) after a successful get. Anchor:
   * JDK 25 StableValue.supplier / Guava Suppliers.memoize drop the delegate after init. Held:
   * releaseSupplier nulls it.
   */
  @Test
  void held_lazyDropsItsSupplierAfterSuccess() {
    List<WeakReference<?>> refs = new ArrayList<>();
    Lazy<Integer> lazy = lazyCapturing(refs, Lazy.FailurePolicy.RETRY, false);
    assertThat(lazy.get()).isEqualTo(1 << 20);
    assertThat(stillReachable(refs)).as("supplier or its capture after success").isZero();
    assertThat(lazy.get()).isEqualTo(1 << 20);
  }

  /** A Lazy whose supplier captures a payload; weak references to both go to {@code refs}. */
  private static Lazy<Integer> lazyCapturing(
      List<WeakReference<?>> refs, Lazy.FailurePolicy policy, boolean fail) {
    Payload captured = new Payload();
    Supplier<Integer> s =
        () -> {
          if (fail) {
            throw new IllegalStateException("boom " + captured.bytes.length);
          }
          return captured.bytes.length;
        };
    refs.add(new WeakReference<>(captured));
    refs.add(new WeakReference<>(s));
    return Lazy.of(s, policy);
  }

  /**
   * Attacks: a Lazy under REMEMBER keeping its supplier after the failure it remembers (it can
   * never run again). Held: releaseSupplier on the failure path too.
   */
  @Test
  void held_lazyRememberDropsItsSupplierAfterFailure() {
    List<WeakReference<?>> refs = new ArrayList<>();
    Lazy<Integer> lazy = lazyCapturing(refs, Lazy.FailurePolicy.REMEMBER, true);
    for (int i = 0; i < 2; i++) {
      try {
        lazy.get();
        throw new AssertionError("no failure");
      } catch (RuntimeException expected) {
        // the first: the supplier's own; the second: remembered
      }
    }
    assertThat(stillReachable(refs)).as("supplier or its capture after a remembered failure").isZero();
    assertThat(lazy.isInitialized()).isFalse();
  }

  /**
   * Attacks: a OnceCell keeping its initializer, the threads that waited for it (parked, then
   * terminated), or the initialising Thread, after the value is set. Held.
   */
  @Test
  void held_onceCellForgetsInitializerWaitersAndInitialisingThread() throws Exception {
    OnceCell<Integer> cell = new OnceCell<>();
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    List<WeakReference<?>> refs = new CopyOnWriteArrayList<>();
    Thread init =
        start(
            "once-init",
            () -> {
              Payload captured = new Payload();
              Supplier<Integer> s =
                  () -> {
                    running.countDown();
                    try {
                      finish.await();
                    } catch (InterruptedException e) {
                      throw new IllegalStateException(e);
                    }
                    return captured.bytes.length;
                  };
              refs.add(new WeakReference<>(captured));
              refs.add(new WeakReference<>(s));
              assertThat(cell.getOrInit(s)).isEqualTo(1 << 20);
            });
    running.await();
    List<Thread> waiters = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      Thread w = start("once-waiter" + i, () -> assertThat(cell.await()).isEqualTo(1 << 20));
      Waits.awaitParkedOn(w, cell);
      waiters.add(w);
    }
    finish.countDown();
    join(init);
    for (Thread w : waiters) {
      join(w);
      refs.add(new WeakReference<>(w));
    }
    refs.add(new WeakReference<>(init));
    threads.clear();
    waiters.clear();
    init = null;
    assertThat(stillReachable(refs)).as("initializer, capture, waiters or initialiser").isZero();
    assertThat(cell.orElseThrow()).isEqualTo(1 << 20);
  }

  // ============================================================ Scope

  /**
   * Attacks: what an ended scope keeps through one handle. A caller keeps one {@link
   * ScopedThread} (to read its result later) and drops the others; after the scope has ended,
   * the other tasks' results (1 MiB each here) and terminated Threads should be collectable. They
   * are not (16 of 16 kept): the handle references its Scope (final {@code scope}), the Scope
   * keeps {@code head}, the list of every task it ever spawned, and a newer handle also reaches
   * its older siblings through {@code next}; neither is cleared at the end, and each ScopeTask
   * keeps its result, failure and Thread. Control: {@link
   * #held_controlAnEndedScopeWithNoHandleKeptKeepsNothing}. So one
   * handle kept (or the Scope object of an {@code open()} kept in a field) pins every sibling's
   * result. The docs say a scope "keeps one handle per spawned thread until it ends".
   *
   * <p>Anchor: StructuredTaskScope (JDK 21-25, default joiners) keeps no list of its subtasks
   * (its thread container tracks only live threads); a {@code Subtask} references its scope,
   * not its siblings, so a kept subtask pins only its own result.
   *
   * <p>Fix: once the end has joined every thread and settled every node, drop the list: {@code
   * HEAD.setRelease(this, null)} and null each node's {@code next} (nothing walks it after the
   * end: {@code spawn} on an ended scope throws).
   */
  @Test
  void fixed_aHandleKeptAfterTheScopeEndedPinsEverySiblingsResult() throws Exception {
    List<WeakReference<?>> refs = new CopyOnWriteArrayList<>();
    ScopedThread<String> kept = endedScopeKeepingOneHandle(refs, true);
    assertThat(refs).hasSize(16);
    int reachable = stillReachable(refs);
    assertThat(reachable)
        .as("siblings' results and threads reachable from one kept handle (of 16)")
        .isZero();
    assertThat(kept.join()).isEqualTo("kept"); // kept alive to here
  }

  /** Control for the defect above: with no handle kept, the ended scope keeps nothing. */
  @Test
  void held_controlAnEndedScopeWithNoHandleKeptKeepsNothing() throws Exception {
    List<WeakReference<?>> refs = new CopyOnWriteArrayList<>();
    assertThat(endedScopeKeepingOneHandle(refs, false)).isNull();
    assertThat(refs).hasSize(16);
    assertThat(stillReachable(refs)).as("results and threads of an ended scope").isZero();
  }

  /**
   * Runs a scope that spawns one small task first (its handle is returned if {@code keep}),
   * then 8 tasks returning 1 MiB each, joined and dropped; weak references to those 8 results
   * and their threads go to {@code refs}. The kept handle is the oldest, so it reaches its
   * siblings only through its scope ({@code ScopeTask.scope} then {@code Scope.head}); a newer
   * one would reach them through {@code next} as well.
   */
  private static @org.jspecify.annotations.Nullable ScopedThread<String> endedScopeKeepingOneHandle(
      List<WeakReference<?>> refs, boolean keep) throws Exception {
    return Scope.call(
        s -> {
          ScopedThread<String> mine = s.spawn(() -> "kept");
          List<ScopedThread<Payload>> others = new ArrayList<>();
          for (int i = 0; i < 8; i++) {
            others.add(
                s.spawn(
                    () -> {
                      Payload p = new Payload();
                      refs.add(new WeakReference<>(p));
                      return p;
                    }));
          }
          for (ScopedThread<Payload> o : others) {
            o.join();
            refs.add(new WeakReference<>(o.thread()));
          }
          assertThat(mine.join()).isEqualTo("kept");
          return keep ? mine : null;
        });
  }

  // ============================================================ locks under contention

  /**
   * Relay (as in Review23TicketLockTest): {@code k} short-lived threads queue behind the holder,
   * then a keeper; each relay thread takes the lock, hands it on with its successor already
   * queued (the queue never empties) and terminates. Returns weak references to them; the keeper
   * holds the lock until {@code release}.
   */
  private List<WeakReference<Thread>> relay(
      Lock lock, int k, CountDownLatch keeperHolds, CountDownLatch release) throws Exception {
    lock.lock();
    List<WeakReference<Thread>> refs = new ArrayList<>();
    List<Thread> relays = new ArrayList<>();
    try {
      for (int i = 0; i < k; i++) {
        Thread t =
            start(
                "relay" + i,
                () -> {
                  lock.lock();
                  lock.unlock();
                });
        Waits.awaitBlocked(t);
        relays.add(t);
        refs.add(new WeakReference<>(t));
      }
      start(
          "keeper",
          () -> {
            lock.lock();
            try {
              keeperHolds.countDown();
              release.await();
            } finally {
              lock.unlock();
            }
          });
    } finally {
      lock.unlock();
    }
    keeperHolds.await();
    for (Thread t : relays) {
      join(t);
    }
    threads.removeAll(relays);
    return refs;
  }

  /**
   * Attacks: the TicketLock retention on SpinLock, whose waiters are a Treiber stack with LEFT
   * nodes and an heir slot. The holder keeps the lock (no unlock pops anything); a stayer waits
   * in {@code lock()} at the bottom of the stack; 8 threads register above it, wait long enough
   * to claim the heir slot (platform threads, 50 ms), time out (their nodes go LEFT) and
   * terminate. While the lock is still held and the stack not empty, the terminated threads
   * must be collectable. Anchor: AQS unlinks cancelled nodes (cancelAcquire clears
   * node.thread). Held: a leaving waiter pops or sweeps its node, and withdraws its heir claim.
   */
  @Test
  void held_spinLockLeftWaitersAndHeirKeepNoTerminatedThread() throws Exception {
    SpinLock lock = new SpinLock();
    lock.lock();
    List<WeakReference<Thread>> refs = new ArrayList<>();
    try {
      Thread stayer =
          start(
              "stayer",
              () -> {
                lock.lock();
                lock.unlock();
              });
      Waits.awaitBlocked(stayer);
      List<Thread> leavers = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        leavers.add(
            start(
                "leaver" + i,
                () -> assertThat(lock.tryLock(50, TimeUnit.MILLISECONDS)).isFalse()));
      }
      for (Thread t : leavers) {
        join(t);
        refs.add(new WeakReference<>(t));
      }
      threads.removeAll(leavers);
      leavers.clear();
      assertThat(stillReachable(refs))
          .as("terminated waiters that timed out, while the lock is held")
          .isZero();
      assertThat(stayer.isAlive()).isTrue();
    } finally {
      lock.unlock();
    }
  }

  /** Anchor for the relays: fair ReentrantLock. */
  @Test
  void held_anchorFairReentrantLockForgetsPastWaiters() throws Exception {
    CountDownLatch keeperHolds = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try {
      List<WeakReference<Thread>> refs = relay(new ReentrantLock(true), 16, keeperHolds, release);
      assertThat(stillReachable(refs)).as("terminated relay threads still reachable").isZero();
    } finally {
      release.countDown();
    }
  }

  /**
   * Attacks: Mutex's change queue. Threads wait in {@code lockWhen} with a predicate capturing
   * a payload, time out one after another while the lock is never released in between (so
   * their LEFT nodes stay queued), and terminate; the nodes must not keep the threads or the
   * predicates' captures (a left node clears its thread; the predicate is not kept). Held.
   */
  @Test
  void held_mutexLeftChangeWaitersKeepNeitherThreadNorPredicate() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    List<WeakReference<?>> refs = new CopyOnWriteArrayList<>();
    List<Thread> waiters = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      Thread w =
          start(
              "lockwhen" + i,
              () -> {
                Payload p = new Payload();
                refs.add(new WeakReference<>(p));
                try (Mutex.Guard<Integer> g =
                    m.lockWhen(v -> v == p.bytes.length, Duration.ofMillis(20))) {
                  assertThat(g).isNull();
                }
              });
      join(w);
      waiters.add(w);
    }
    for (Thread w : waiters) {
      refs.add(new WeakReference<>(w));
    }
    threads.removeAll(waiters);
    waiters.clear();
    assertThat(stillReachable(refs)).as("left lockWhen waiters or their predicates").isZero();
    assertThat((int) m.with(v -> v)).isZero();
  }

}
