package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;
import java.util.regex.Pattern;
import java.util.stream.LongStream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 23 (docs): a new user's pass over README.md, the docs it links and the class-level
 * Javadoc of the public types. Every Java example is compiled and run here (wrapped minimally),
 * and the behaviours a user would rely on are spot-checked. {@code fixed_*} tests failed on the
 * reviewed code (6f76566: the docs and the code disagreed; the docs or the code were corrected,
 * as each says); {@code held_*} tests passed.
 */
@SuppressWarnings("try") // guards held only for their scope, as in the docs' examples
class Review23DocsTest {

  /** The longest {@code Duration}: the README's "huge timeout" and then some. */
  private static final Duration HUGE = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);

  private final List<Thread> started = new ArrayList<>();

  /** A body for a test thread that may throw. */
  private interface Body {
    void run() throws Exception;
  }

  /** Starts a test thread whose failure, if any, is stored in {@code failure}. */
  private Thread start(String name, AtomicReference<@Nullable Throwable> failure, Body body) {
    Thread t = new Thread(() -> {
      try {
        body.run();
      } catch (Throwable e) {
        failure.set(e);
      }
    }, "test-" + name);
    started.add(t);
    t.start();
    return t;
  }

  @AfterEach
  void joinThreads() throws InterruptedException {
    for (Thread t : started) {
      t.interrupt();
      t.join(TimeUnit.SECONDS.toMillis(20));
    }
    LockOrder.disable();
    Thread.interrupted();
  }

  // ============================================================================ defects

  /**
   * README.md, "Conventions across the library", on naming threads. It said an unnamed thread is
   * named "by its {@code toString()} (which carries its id)", and docs/mutex.md the same, while
   * {@code ThreadNames.of} (review 22c) writes "unnamed thread #id": the docs were wrong and now
   * say "unnamed thread #&lt;id&gt;". Failed as first written (asserting the old doc's claim).
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void fixed_readmeNamesAnUnnamedThreadAsUnnamedThreadId() throws Exception {
    Mutex<String> m = new Mutex<>("v");
    AtomicReference<String> desc = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    Thread t = new Thread(() -> {
      try (Mutex.Guard<String> g = m.lock()) {
        desc.set(m.toString() + " / " + g);
      } catch (Throwable e) {
        failure.set(e);
      }
    }, "");
    started.add(t);
    t.start();
    t.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(failure.get()).isNull();
    @SuppressWarnings("deprecation") // getId(): threadId() is JDK 19+
    String named = "unnamed thread #" + t.getId();
    assertThat(desc.get()).isEqualTo(
        "Mutex[Locked by thread " + named + "] / Mutex.Guard[open, owner=" + named + "]");
  }

  /**
   * README.md, "Conventions across the library": "An interruptible acquisition called with the
   * interrupt status already set throws {@code InterruptedException} even when the lock is
   * free ...; misuse is reported first." {@code SpinLock.lockInterruptibly()} by the thread that
   * already holds the lock, with its interrupt status set, throws {@code InterruptedException}
   * (the interrupt check comes first) instead of the {@code IllegalStateException} for
   * re-locking. {@code Mutex}, {@code RwLock} and {@code SeqLock} report the misuse first
   * (held_misuseReportedBeforePendingInterrupt). Fixed in the code: the owner is checked when a
   * pending interrupt is found, and the interrupt status stays set. Failed before the fix (JDK 17
   * and 25).
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void fixed_spinLockReportsMisuseBeforeAPendingInterrupt() throws Exception {
    SpinLock lock = new SpinLock();
    lock.lock();
    try {
      Thread.currentThread().interrupt();
      Throwable lockInt = catchThrowable(lock::lockInterruptibly);
      boolean keptAfterLockInt = Thread.interrupted();
      Thread.currentThread().interrupt();
      Throwable tryTimed = catchThrowable(() -> lock.tryLock(Duration.ofSeconds(1)));
      boolean keptAfterTryTimed = Thread.interrupted();
      assertThat(lockInt).isInstanceOf(IllegalStateException.class); // was InterruptedException
      assertThat(tryTimed).isInstanceOf(IllegalStateException.class);
      assertThat(keptAfterLockInt).as("interrupt status kept after the misuse").isTrue();
      assertThat(keptAfterTryTimed).as("interrupt status kept after the misuse").isTrue();
    } finally {
      Thread.interrupted();
      lock.unlock();
    }
  }


  /** As fixed_spinLockReportsMisuseBeforeAPendingInterrupt, for {@code TicketLock}. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void fixed_ticketLockReportsMisuseBeforeAPendingInterrupt() throws Exception {
    TicketLock lock = new TicketLock();
    lock.lock();
    try {
      Thread.currentThread().interrupt();
      Throwable lockInt = catchThrowable(lock::lockInterruptibly);
      boolean keptAfterLockInt = Thread.interrupted();
      Thread.currentThread().interrupt();
      Throwable tryTimed = catchThrowable(() -> lock.tryLock(1, TimeUnit.SECONDS));
      boolean keptAfterTryTimed = Thread.interrupted();
      assertThat(lockInt).isInstanceOf(IllegalStateException.class); // was InterruptedException
      assertThat(tryTimed).isInstanceOf(IllegalStateException.class);
      assertThat(keptAfterLockInt).as("interrupt status kept after the misuse").isTrue();
      assertThat(keptAfterTryTimed).as("interrupt status kept after the misuse").isTrue();
    } finally {
      Thread.interrupted();
      lock.unlock();
    }
  }


  /**
   * README.md, "Conventions across the library": "Blocking methods that can wait indefinitely
   * are interruptible ...". {@code Lazy.get()} waits indefinitely for another thread's
   * initialiser and is not interruptible (its own Javadoc says so), nor are {@code
   * OnceCell.getOrInit} and {@code Parallel}'s calls (which cancel): the convention did not list
   * them. The README now does; this checks what it says of {@code Lazy.get()}: the interrupt
   * does not end the wait, and the interrupt status is set on return. Failed as first written
   * (asserting the old convention).
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void fixed_lazyGetWaitsUninterruptiblyAndKeepsTheInterrupt() throws Exception {
    CountDownLatch inSupplier = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Lazy<String> lazy = Lazy.of(() -> {
      inSupplier.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return "v";
    });
    AtomicReference<@Nullable Throwable> f1 = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> f2 = new AtomicReference<>();
    Thread init = start("lazy-init", f1, lazy::get);
    assertThat(inSupplier.await(20, TimeUnit.SECONDS)).isTrue();
    AtomicReference<@Nullable String> got = new AtomicReference<>();
    AtomicBoolean interruptedOnReturn = new AtomicBoolean();
    Thread waiter = start("lazy-waiter", f2, () -> {
      got.set(lazy.get());
      interruptedOnReturn.set(Thread.currentThread().isInterrupted());
    });
    awaitBlocked(waiter);
    waiter.interrupt();
    waiter.join(500); // bounded look: the interrupt must not end the wait
    boolean endedByInterrupt = !waiter.isAlive();
    release.countDown();
    waiter.join(TimeUnit.SECONDS.toMillis(20));
    init.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(endedByInterrupt).as("Lazy.get() ended by an interrupt").isFalse();
    assertThat(f2.get()).isNull();
    assertThat(got.get()).isEqualTo("v");
    assertThat(interruptedOnReturn).isTrue();
  }

  // ============================================================ README examples (held)

  /** README.md, "Parallel": the three search lines, with values/orders/pixels filled in. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_readmeParallelSearchExample() {
    record Order(long total) {}
    List<Integer> values = List.of(3, 1, -4, 1, 5);
    List<Order> orders = List.of(new Order(5), new Order(50), new Order(500));
    long limit = 10;
    int[] pixels = {0, 7, 9, 7};
    int key = 7;
    boolean anyNegative = Parallel.anyMatch(values, v -> v < 0);
    Optional<Order> first = Parallel.findFirst(orders, o -> o.total() > limit);
    OptionalInt at = Parallel.findFirst(0, pixels.length, i -> pixels[i] == key);
    assertThat(anyNegative).isTrue();
    assertThat(first).contains(new Order(50));
    assertThat(at).hasValue(1);
  }

  /**
   * README.md, "Small inputs": {@code Parallel.forEach(eightFiles, this::compress)} and
   * {@code Parallel.map(tenUrls, this::fetch, Parallel.options().threads(10))} compile and run.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_readmeSmallInputsExample() {
    List<String> eightFiles = List.of("a", "b", "c", "d", "e", "f", "g", "h");
    List<String> tenUrls = List.of("0", "1", "2", "3", "4", "5", "6", "7", "8", "9");
    Map<String, Boolean> compressed = new ConcurrentHashMap<>();
    Parallel.forEach(eightFiles, f -> compressed.put(f, true));
    List<Integer> pages = Parallel.map(tenUrls, Integer::parseInt, Parallel.options().threads(10));
    assertThat(compressed).hasSize(8);
    assertThat(pages).containsExactly(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
  }

  /**
   * README.md, "Lock-order checking": the account/audit example, and the message it shows
   * ("Lock-order inversion: thread "main" holds class "audit log" and is about to wait for class
   * "account", but the opposite order was seen before (class "account" -> class "audit log").
   * Cycle: class "audit log" -> class "account" -> class "audit log". ..." and a suppressed
   * {@code Throwable} "class "account" -> class "audit log" first taken here, ...").
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_readmeLockOrderExampleAndMessage() {
    LockOrder.enable(LockOrder.Mode.THROW);
    Mutex<Long> account = LockOrder.classify(new Mutex<>(100L), "account");
    Mutex<List<String>> audit = LockOrder.classify(new Mutex<>(new ArrayList<>()), "audit log");
    try (var a = account.lock(); var log = audit.lock()) {
      log.get().add("transfer " + a.get());
    }
    String me = Thread.currentThread().getName();
    Throwable t = catchThrowable(() -> {
      try (var log = audit.lock(); var a = account.lock()) {
        log.get().add("report " + a.get());
      }
    });
    assertThat(t).isInstanceOf(LockOrderException.class);
    assertThat(t.getMessage()).startsWith("Lock-order inversion: thread \"" + me
        + "\" holds class \"audit log\" and is about to wait for class \"account\", but the"
        + " opposite order was seen before (class \"account\" -> class \"audit log\"). Cycle:"
        + " class \"audit log\" -> class \"account\" -> class \"audit log\".");
    assertThat(((LockOrderException) t).cycle())
        .containsExactly("class \"audit log\"", "class \"account\"", "class \"audit log\"");
    assertThat(t.getSuppressed()).hasSize(1);
    assertThat(t.getSuppressed()[0].getClass()).isEqualTo(Throwable.class);
    assertThat(t.getSuppressed()[0].getMessage())
        .startsWith("class \"account\" -> class \"audit log\" first taken here");
    int size = audit.with(List::size);
    assertThat(size).isEqualTo(1); // the refused section never ran
  }

  /**
   * README.md, "JFR events": "{@code dev/weft/weft.jfc} (in the jar; {@code
   * src/main/resources/dev/weft/weft.jfc} here)" with a {@code weft-threshold} control.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_readmeJfcIsOnTheClassPathWithItsControl() throws Exception {
    try (var in = Review23DocsTest.class.getResourceAsStream("/dev/weft/weft.jfc")) {
      assertThat(in).isNotNull();
      String jfc = new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
      assertThat(jfc).contains("weft-threshold").contains("dev.weft.LockContended");
    }
  }

  // ===================================================== class Javadoc examples (held)

  /** Condvar class Javadoc: the ready handshake, worker and main on two threads. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_condvarJavadocExample() throws Exception {
    Mutex<Boolean> ready = new Mutex<>(false);
    Condvar cv = new Condvar();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    Thread worker = start("condvar-worker", failure, () -> {
      try (var g = ready.lock()) {
        cv.awaitWhile(g, r -> !r);
        assertThat(g.get()).isTrue();
      }
    });
    awaitBlocked(worker);
    try (var g = ready.lock()) {
      g.set(true);
    }
    cv.notifyOne();
    worker.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(worker.isAlive()).isFalse();
    assertThat(failure.get()).isNull();
    assertThat(cv.toString()).isEqualTo("Condvar[bound, 0 waiting]");
  }

  /** Lazy class Javadoc: {@code IDENT} and {@code isIdentifier}; supplier runs once. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_lazyJavadocExample() {
    AtomicInteger runs = new AtomicInteger();
    Lazy<Pattern> ident = Lazy.of(() -> {
      runs.incrementAndGet();
      return Pattern.compile("^[a-zA-Z0-9_]+$");
    });
    assertThat(ident.toString()).isEqualTo("Lazy[uninitialised]");
    assertThat(ident.get().matcher("hello_42").matches()).isTrue();
    assertThat(ident.get().matcher("no spaces").matches()).isFalse();
    assertThat(runs).hasValue(1);
    assertThat(ident.isInitialized()).isTrue();
  }

  /**
   * LockOrder class Javadoc: from/to example, and LockOrderException's Javadoc: "The message
   * names the cycle, for example {@code Mutex@1b6d3586 -> Mutex@4554617c -> Mutex@1b6d3586};
   * {@link LockOrderException#cycle()} returns the same names as a list".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_lockOrderJavadocExample() {
    LockOrder.enable(LockOrder.Mode.THROW);
    Mutex<String> from = new Mutex<>("a");
    Mutex<String> to = new Mutex<>("b");
    try (var f = from.lock(); var t = to.lock()) {
      assertThat(f.get() + t.get()).isEqualTo("ab");
    }
    Throwable e = catchThrowable(() -> {
      try (var t = to.lock(); var f = from.lock()) {
        assertThat(f).isNull();
      }
    });
    assertThat(e).isInstanceOf(LockOrderException.class);
    List<String> cycle = ((LockOrderException) e).cycle();
    assertThat(cycle).hasSize(3);
    assertThat(cycle.get(0)).matches("Mutex@[0-9a-f]+").isEqualTo(cycle.get(2));
    assertThat(e.getMessage()).contains(String.join(" -> ", cycle));
    assertThat(to.isLocked()).isFalse(); // "the locks it held before are still held" (released)
  }

  /** Mutex class Javadoc: guard form, closure form, update, awaitThen without a notify. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_mutexJavadocExample() throws Exception {
    Mutex<List<String>> jobs = new Mutex<>(new ArrayList<>());
    try (Mutex.Guard<List<String>> g = jobs.lock()) {
      g.get().add("x");
    }
    int n = jobs.with(List::size);
    Mutex<Long> counter = new Mutex<>(0L);
    long now = counter.update(v -> v + 1);
    String first = jobs.awaitThen(list -> !list.isEmpty(), list -> list.remove(0));
    assertThat(n).isEqualTo(1);
    assertThat(now).isEqualTo(1L);
    assertThat(first).isEqualTo("x");
    // The waiting case: a producer that only uses the lock wakes the waiter.
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicReference<String> got = new AtomicReference<>();
    Thread waiter = start("awaitThen", failure,
        () -> got.set(jobs.awaitThen(list -> !list.isEmpty(), list -> list.remove(0))));
    awaitBlocked(waiter);
    jobs.with(list -> list.add("y"));
    waiter.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(failure.get()).isNull();
    assertThat(got.get()).isEqualTo("y");
  }

  /**
   * OnceCell class Javadoc: getOrInit by the first caller; "set ... IllegalStateException if
   * already set"; "await() blocks until some thread has set it".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_onceCellJavadocExample() throws Exception {
    OnceCell<Map<String, String>> config = new OnceCell<>();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicReference<Map<String, String>> seen = new AtomicReference<>();
    Thread awaiter = start("oncecell-await", failure, () -> seen.set(config.await()));
    awaitBlocked(awaiter);
    config.set(Map.of("mode", "fast"));
    awaiter.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(failure.get()).isNull();
    assertThat(seen.get()).containsEntry("mode", "fast");
    assertThat(config.getOrInit(() -> Map.of("mode", "slow"))).isSameAs(seen.get());
    assertThatThrownBy(() -> config.set(Map.of())).isInstanceOf(IllegalStateException.class);
    assertThat(config.await()).isSameAs(seen.get());
  }

  /** Parallel class Javadoc: the example block, with files/rows/urls filled in. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_parallelJavadocExample() {
    List<Long> data = LongStream.rangeClosed(1, 20).boxed().toList();
    List<Long> squares = Parallel.map(data, x -> x * x, 4);
    long sum = Parallel.reduce(data, x -> x * x, 0L, Long::sum);
    List<String> files = List.of("a", "b", "c");
    Map<String, Integer> compressed = new ConcurrentHashMap<>();
    Parallel.forEach(files, file -> compressed.put(file, file.length()));
    int rows = 50;
    int[] image = new int[rows];
    Parallel.forRange(0, rows, row -> image[row] = row + 1);
    boolean anyOdd = Parallel.anyMatch(data, x -> x % 2 == 1);
    Optional<Long> big = Parallel.findFirst(data, x -> x * x > 100);
    OptionalInt at = Parallel.findFirst(0, data.size(), i -> data.get(i) * data.get(i) > 100);
    Parallel.Options io = Parallel.options().threads(32).executor(Runnable::run);
    List<Integer> pages = Parallel.map(List.of("u1", "u22"), String::length, io);
    List<Long> squares2 = data.parallelStream().map(x -> x * x).toList();

    assertThat(squares).isEqualTo(squares2);
    assertThat(sum).isEqualTo(2870L);
    assertThat(compressed).hasSize(3);
    assertThat(image[0]).isEqualTo(1);
    assertThat(image[rows - 1]).isEqualTo(rows);
    assertThat(anyOdd).isTrue();
    assertThat(big).contains(11L); // "lowest index: 11"
    assertThat(at).hasValue(10);
    assertThat(pages).containsExactly(2, 3);
  }

  /** RwLock class Javadoc: read/write guards, withRead, update. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_rwLockJavadocExample() {
    record Config(int port, int timeout) {
      Config withTimeout(int t) {
        return new Config(port, t);
      }

      Config withPort(int p) {
        return new Config(p, timeout);
      }
    }
    RwLock<Config> cfg = new RwLock<>(new Config(80, 1));
    List<Config> used = new ArrayList<>();
    try (RwLock.ReadGuard<Config> r = cfg.read()) {
      used.add(r.get());
    }
    try (RwLock.WriteGuard<Config> w = cfg.write()) {
      w.set(w.get().withTimeout(5));
    }
    int port = cfg.withRead(Config::port);
    cfg.update(c -> c.withPort(8080));
    assertThat(used).containsExactly(new Config(80, 1));
    assertThat(port).isEqualTo(80);
    Config now = cfg.withRead(c -> c);
    assertThat(now).isEqualTo(new Config(8080, 5));
  }

  /** Scope class Javadoc: call form and the try-with-resources form with cap and deadline. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_scopeJavadocExample() throws Exception {
    List<Integer> data = new ArrayList<>(List.of(1, 2, 3, 4, 5));
    int total = Scope.call(scope -> {
      ScopedThread<Integer> sum = scope.spawn(() -> data.stream().mapToInt(i -> i).sum());
      ScopedThread<Integer> max = scope.spawn(() -> Collections.max(data));
      return sum.join() + max.join();
    });
    data.add(6);
    assertThat(total).isEqualTo(20);
    List<String> files = List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j");
    Map<String, Boolean> indexed = new ConcurrentHashMap<>();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger peak = new AtomicInteger();
    try (Scope scope = Scope.builder().maxConcurrency(8).timeout(Duration.ofSeconds(5)).open()) {
      for (String p : files) {
        scope.spawn(() -> {
          peak.accumulateAndGet(running.incrementAndGet(), Math::max);
          indexed.put(p, true);
          running.decrementAndGet();
        });
      }
    }
    assertThat(indexed).hasSize(10);
    assertThat(peak.get()).isBetween(1, 8);
  }

  /**
   * ScopeTimeoutException class Javadoc: run with a deadline, catch it before
   * TaskFailedException; message "... still running: [weft-scope-3-1, weft-scope-3-4]"; cause a
   * TimeoutException with the same message. README "Scope": "the deadline is enforced when it
   * passes, also while the owner computes".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_scopeTimeoutJavadocExample() {
    List<String> urls = List.of("fast", "slow1", "slow2");
    Throwable t = catchThrowable(() ->
        Scope.builder().timeout(Duration.ofMillis(200)).namePrefix("fetch").run(scope -> {
          for (String url : urls) {
            scope.spawn(() -> {
              if (url.startsWith("slow")) {
                new CountDownLatch(1).await(); // ends only by the deadline's interrupt
              }
              return url;
            });
          }
          // the owner computes without touching the scope; the deadline still cancels
          long spin = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
          while (System.nanoTime() - spin < 0) {
            Thread.onSpinWait();
          }
        }));
    assertThat(t).isInstanceOf(ScopeTimeoutException.class).isInstanceOf(TaskFailedException.class);
    assertThat(t.getMessage()).contains("still running").contains("fetch-1").contains("fetch-2")
        .doesNotContain("fetch-0");
    assertThat(t.getCause()).isInstanceOf(TimeoutException.class);
    assertThat(t.getCause().getMessage()).isEqualTo(t.getMessage());
  }

  /** ScopedThread Javadoc: each join returns the task's value; isDone; self-join refused. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_scopedThreadJavadocExample() throws Exception {
    List<Integer> data = List.of(4, 9, 2);
    AtomicReference<@Nullable Throwable> selfJoin = new AtomicReference<>();
    int total = Scope.call(scope -> {
      ScopedThread<Integer> sum = scope.spawn(() -> data.stream().mapToInt(i -> i).sum());
      ScopedThread<Integer> max = scope.spawn(() -> Collections.max(data));
      AtomicReference<@Nullable ScopedThread<Object>> me = new AtomicReference<>();
      CountDownLatch set = new CountDownLatch(1);
      ScopedThread<Object> self = scope.spawn(() -> {
        set.await();
        selfJoin.set(catchThrowable(() -> me.get().join()));
        return "";
      });
      me.set(self);
      set.countDown();
      self.join();
      int r = sum.join() + max.join();
      assertThat(sum.isDone()).isTrue();
      assertThat(sum.join(Duration.ZERO)).isEqualTo(15); // done: a zero timeout returns
      return r;
    });
    assertThat(total).isEqualTo(24);
    assertThat(selfJoin.get()).isInstanceOf(IllegalStateException.class);
  }

  /** SeqCount class Javadoc: the Clock with one ticker thread. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_seqCountJavadocExample() {
    final class Clock {
      private final SeqCount count = new SeqCount();
      private long seconds;
      private long nanos;

      void tick(long s, long n) {
        try (SeqCount.WriteGuard w = count.write()) {
          seconds = s;
          nanos = n;
        }
      }

      long totalNanos() {
        return count.readLong(() -> seconds * 1_000_000_000L + nanos);
      }
    }
    Clock c = new Clock();
    c.tick(2, 5);
    assertThat(c.totalNanos()).isEqualTo(2_000_000_005L);
    assertThat(c.count.toString()).isEqualTo("SeqCount[seq=2, quiet]");
  }

  /** SeqLock class Javadoc: Position with moveTo, get, sumNoAlloc and the hand-written sum. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_seqLockJavadocExample() throws Exception {
    final class Position {
      private final SeqLock lock = new SeqLock();
      private long x;
      private long y;

      void moveTo(long nx, long ny) throws InterruptedException {
        try (SeqLock.WriteGuard w = lock.write()) {
          x = nx;
          y = ny;
        }
      }

      long[] get() {
        return lock.read(() -> new long[] {x, y});
      }

      long sumNoAlloc() {
        return lock.readLong(this, self -> self.x + self.y);
      }

      long sum() {
        long s;
        long a;
        long b;
        do {
          s = lock.beginRead();
          a = x;
          b = y;
        } while (!lock.validate(s));
        return a + b;
      }
    }
    Position p = new Position();
    p.moveTo(3, 4);
    assertThat(p.get()).containsExactly(3, 4);
    assertThat(p.sumNoAlloc()).isEqualTo(7);
    assertThat(p.sum()).isEqualTo(7);
    assertThat(p.lock.toString()).isEqualTo("SeqLock[seq=2, unlocked]");
  }

  /** SeqLocked class Javadoc: MutablePoint written in place, read with readInt. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_seqLockedJavadocExample() throws Exception {
    final class MutablePoint {
      int x;
      int y;
    }
    SeqLocked<MutablePoint> cell = new SeqLocked<>(new MutablePoint());
    cell.write(pt -> {
      pt.x++;
      pt.y++;
    });
    int sum = cell.readInt(pt -> pt.x + pt.y);
    assertThat(sum).isEqualTo(2);
    assertThat(cell.toString()).isEqualTo("SeqLocked[seq=2, unlocked]");
  }

  /** SpinLock and TicketLock class Javadoc: guard form and Lock form. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_spinAndTicketLockJavadocExamples() {
    int[] counter = {0};
    SpinLock lock = new SpinLock();
    try (SpinLock.Guard g = lock.acquire()) {
      counter[0]++;
    }
    lock.lock();
    try {
      counter[0]++;
    } finally {
      lock.unlock();
    }
    TicketLock ticket = new TicketLock();
    try (TicketLock.Guard g = ticket.acquire()) {
      counter[0]++;
    }
    assertThat(counter[0]).isEqualTo(3);
    assertThat(lock.toString()).isEqualTo("SpinLock[unlocked]");
    assertThat(ticket.toString()).isEqualTo("TicketLock[unlocked]");
  }

  /**
   * TaskFailedException class Javadoc: catch around Parallel.map; first failure as cause,
   * others suppressed. README Conventions: "Errors included".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_taskFailedExceptionJavadocExample() {
    List<String> urls = List.of("ok", "bad");
    Throwable first = null;
    Throwable[] others = null;
    try {
      Parallel.map(urls, url -> {
        if (url.equals("bad")) {
          throw new AssertionError("fetch failed: " + url);
        }
        return url;
      });
    } catch (TaskFailedException e) {
      first = e.getCause();
      others = e.getSuppressed();
    }
    assertThat(first).isInstanceOf(AssertionError.class).hasMessage("fetch failed: bad");
    assertThat(others).isEmpty();
  }

  // ================================================================ spot checks (held)

  /**
   * README Conventions: "null arguments throw NullPointerException naming the parameter;
   * out-of-range values throw IllegalArgumentException with the value".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_nullsNameTheParameterAndBadValuesCarryTheValue() {
    Mutex<String> m = new Mutex<>("v");
    RwLock<String> rw = new RwLock<>("v");
    SeqLock sl = new SeqLock();
    assertThatThrownBy(() -> m.with(null)).isInstanceOf(NullPointerException.class)
        .hasMessage("fn");
    assertThatThrownBy(() -> m.lockWhen(x -> true, (Instant) null))
        .isInstanceOf(NullPointerException.class).hasMessage("deadline");
    assertThatThrownBy(() -> rw.tryWrite(null)).isInstanceOf(NullPointerException.class)
        .hasMessage("timeout");
    assertThatThrownBy(() -> sl.readLong(null, x -> 1L)).isInstanceOf(NullPointerException.class)
        .hasMessage("source");
    assertThatThrownBy(() -> Lazy.of(null)).isInstanceOf(NullPointerException.class)
        .hasMessage("supplier");
    assertThatThrownBy(() -> Scope.call(null)).isInstanceOf(NullPointerException.class)
        .hasMessage("body");
    assertThatThrownBy(() -> Parallel.map((List<Integer>) null, x -> x))
        .isInstanceOf(NullPointerException.class).hasMessage("data");
    assertThatThrownBy(() -> new SpinLock().tryLock(1, null))
        .isInstanceOf(NullPointerException.class).hasMessage("unit");
    assertThatThrownBy(() -> Scope.builder().maxConcurrency(-5))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-5");
    assertThatThrownBy(() -> Scope.builder().timeout(Duration.ofSeconds(-3)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT-3S");
    assertThatThrownBy(() -> Parallel.map(List.of(1), x -> x, -7))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-7");
    assertThatThrownBy(() -> Parallel.options().minChunkSize(0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0");
    assertThatThrownBy(() -> Parallel.forRange(5, 2, i -> { }))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("5").hasMessageContaining("2");
    assertThatThrownBy(() -> LockOrder.classify(new Mutex<>(1), " "))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> LockOrder.classify("not a lock", "x"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * README Conventions: "a huge timeout ({@code Duration.ofSeconds(Long.MAX_VALUE)}) is capped,
   * never overflows". Free locks/set cells must succeed, not time out at once.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_hugeTimeoutsNeverOverflow() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    try (var g = m.tryLock(HUGE)) {
      assertThat(g).isNotNull();
      assertThat(new Condvar().awaitWhile(g, x -> false, HUGE)).isTrue();
    }
    try (var g = m.lockWhen(x -> true, HUGE)) {
      assertThat(g).isNotNull();
    }
    try (var g = m.lockWhen(x -> true, Instant.MAX)) {
      assertThat(g).isNotNull();
    }
    RwLock<Integer> rw = new RwLock<>(0);
    try (var r = rw.tryRead(HUGE)) {
      assertThat(r).isNotNull();
    }
    try (var w = rw.tryWrite(HUGE)) {
      assertThat(w).isNotNull();
    }
    SeqLock sl = new SeqLock();
    try (var w = sl.tryWrite(HUGE)) {
      assertThat(w).isNotNull();
    }
    for (Lock l : List.<Lock>of(new SpinLock(), new TicketLock())) {
      assertThat(l.tryLock(Long.MAX_VALUE, TimeUnit.DAYS)).isTrue();
      l.unlock();
    }
    assertThat(new SpinLock().tryLock(HUGE)).isTrue();
    assertThat(new TicketLock().tryLock(HUGE)).isTrue();
    OnceCell<String> cell = new OnceCell<>();
    cell.set("v");
    assertThat(cell.await(HUGE)).isTrue();
    int seven = Scope.builder().timeout(HUGE).call(s -> s.spawn(() -> 7).join(HUGE));
    assertThat(seven).isEqualTo(7);
  }

  /**
   * README Conventions: "zero or negative means 'check once'". A held lock is not waited for;
   * Condvar class Javadoc: "A zero or negative timeout ... checks the predicate once and never
   * releases the mutex"; Mutex Javadoc: lockWhen with zero "never waits".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_zeroOrNegativeTimeoutChecksOnce() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    SpinLock spin = new SpinLock();
    TicketLock ticket = new TicketLock();
    RwLock<Integer> rw = new RwLock<>(0);
    SeqLock sl = new SeqLock();
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    start("holder", failure, () -> {
      try (var g = m.lock(); var w = rw.write(); var s = sl.write()) {
        spin.lock();
        ticket.lock();
        try {
          held.countDown();
          done.await();
        } finally {
          ticket.unlock();
          spin.unlock();
        }
      }
    });
    assertThat(held.await(20, TimeUnit.SECONDS)).isTrue();
    Duration neg = Duration.ofSeconds(-1);
    try {
      assertThat(m.tryLock(Duration.ZERO)).isNull();
      assertThat(m.tryLock(neg)).isNull();
      assertThat(m.lockWhen(x -> true, Duration.ZERO)).isNull();
      assertThat(m.lockWhen(x -> true, Instant.MIN)).isNull();
      assertThat(spin.tryLock(neg)).isFalse();
      assertThat(ticket.tryLock(0, TimeUnit.SECONDS)).isFalse();
      assertThat(rw.tryRead(Duration.ZERO)).isNull();
      assertThat(rw.tryWrite(neg)).isNull();
      assertThat(sl.tryWrite(Duration.ZERO)).isNull();
      assertThat(new OnceCell<String>().await(neg)).isFalse();
    } finally {
      done.countDown();
    }
    Mutex<Integer> free = new Mutex<>(0);
    try (var g = free.lock()) {
      assertThat(new Condvar().awaitWhile(g, x -> true, Duration.ZERO)).isFalse();
      assertThat(g.isOpen()).isTrue();
      assertThat(free.isHeldByCurrentThread()).isTrue();
    }
  }

  /**
   * README Conventions: "An interruptible acquisition called with the interrupt status already
   * set throws InterruptedException even when the lock is free".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_pendingInterruptThrowsOnFreeLocks() {
    Mutex<Integer> m = new Mutex<>(0);
    RwLock<Integer> rw = new RwLock<>(0);
    SeqLock sl = new SeqLock();
    SeqLocked<int[]> cell = new SeqLocked<>(new int[1]);
    SpinLock spin = new SpinLock();
    TicketLock ticket = new TicketLock();
    List<Body> calls = List.of(
        () -> m.lockInterruptibly().close(),
        () -> m.tryLock(Duration.ofSeconds(1)).close(),
        () -> m.lockWhen(x -> true).close(),
        () -> m.awaitThen(x -> true, x -> x),
        () -> rw.readInterruptibly().close(),
        () -> rw.writeInterruptibly().close(),
        () -> rw.tryRead(Duration.ofSeconds(1)).close(),
        () -> sl.write().close(),
        () -> sl.tryWrite(Duration.ofSeconds(1)).close(),
        () -> cell.write(a -> a[0]++),
        spin::lockInterruptibly,
        () -> spin.tryLock(1, TimeUnit.SECONDS),
        ticket::lockInterruptibly,
        () -> ticket.tryLock(Duration.ofSeconds(1)));
    for (Body call : calls) {
      Thread.currentThread().interrupt();
      Throwable t = catchThrowable(call::run);
      Thread.interrupted();
      assertThat(t).isInstanceOf(InterruptedException.class);
    }
    assertThat(m.isLocked() || rw.isWriteLocked() || sl.isWriteLocked() || spin.isLocked()
        || ticket.isLocked()).isFalse();
    assertThat(rw.readLockCount()).isZero();
  }

  /** README Conventions: "misuse is reported first" (Mutex, RwLock, SeqLock: held). */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_misuseReportedBeforePendingInterrupt() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    RwLock<Integer> rw = new RwLock<>(0);
    SeqLock sl = new SeqLock();
    try (var g = m.lock(); var w = rw.write(); var s = sl.write()) {
      List<Body> calls = List.of(
          m::lockInterruptibly,
          () -> m.tryLock(Duration.ofSeconds(1)),
          rw::writeInterruptibly,
          () -> rw.tryRead(Duration.ofSeconds(1)),
          sl::write);
      for (Body call : calls) {
        Thread.currentThread().interrupt();
        Throwable t = catchThrowable(call::run);
        Thread.interrupted();
        assertThat(t).isInstanceOf(IllegalStateException.class);
      }
    }
  }

  /**
   * README Conventions: "Guards ... closing one twice throws IllegalStateException, closing it
   * from a thread that does not own the lock throws IllegalMonitorStateException". The lock stays
   * held by its owner after the refused close.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_guardsRefuseDoubleCloseAndForeignClose() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    RwLock<Integer> rw = new RwLock<>(0);
    RwLock<Integer> rw2 = new RwLock<>(0);
    SeqLock sl = new SeqLock();
    SeqCount sc = new SeqCount();
    SpinLock spin = new SpinLock();
    TicketLock ticket = new TicketLock();
    List<AutoCloseable> guards = List.of(m.lock(), rw.read(), rw2.write(), sl.write(), sc.write(),
        spin.acquire(), ticket.acquire());
    List<@Nullable Throwable> foreign = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    Thread other = start("foreign-close", failure, () -> {
      for (AutoCloseable g : guards) {
        foreign.add(catchThrowable(g::close));
      }
    });
    other.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(failure.get()).isNull();
    assertThat(foreign).hasSize(guards.size())
        .allSatisfy(t -> assertThat(t).isInstanceOf(IllegalMonitorStateException.class));
    assertThat(m.isHeldByCurrentThread()).isTrue();
    assertThat(rw.readLockCount()).isEqualTo(1);
    assertThat(rw2.isWriteLocked()).isTrue();
    assertThat(sl.isWriteLockedByCurrentThread()).isTrue();
    assertThat(sc.isWriting()).isTrue();
    assertThat(spin.isHeldByCurrentThread()).isTrue();
    assertThat(ticket.isHeldByCurrentThread()).isTrue();
    for (AutoCloseable g : guards) {
      g.close();
      assertThatThrownBy(g::close).isInstanceOf(IllegalStateException.class);
    }
    assertThat(m.isLocked() || rw2.isWriteLocked() || sl.isWriteLocked() || sc.isWriting()
        || spin.isLocked() || ticket.isLocked()).isFalse();
  }

  /**
   * README "Mutex...": "not reentrant (re-locking throws IllegalStateException instead of
   * deadlocking); no poisoning (a throwing update leaves the value unchanged)". README
   * "SpinLock and TicketLock": "unlock() by a non-owner throws IllegalMonitorStateException,
   * re-locking by the owner throws IllegalStateException".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_notReentrantAndNoPoisoning() throws Exception {
    Mutex<Integer> m = new Mutex<>(1);
    try (var g = m.lock()) {
      assertThatThrownBy(m::lock).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(m::tryLock).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> m.with(x -> x)).isInstanceOf(IllegalStateException.class);
      assertThat(g.get()).isEqualTo(1);
    }
    assertThatThrownBy(() -> m.update(x -> {
      throw new IllegalArgumentException("no");
    })).isInstanceOf(IllegalArgumentException.class);
    int value = m.with(x -> x);
    assertThat(value).isEqualTo(1);
    assertThat(m.isLocked()).isFalse();
    RwLock<Integer> rw = new RwLock<>(1);
    try (var r = rw.read()) {
      assertThatThrownBy(rw::write).isInstanceOf(IllegalStateException.class);
      try (var r2 = rw.read()) {
        assertThat(rw.readLockCount()).isEqualTo(2);
      }
    }
    for (Lock l : List.<Lock>of(new SpinLock(), new TicketLock())) {
      assertThatThrownBy(l::unlock).isInstanceOf(IllegalMonitorStateException.class);
      l.lock();
      try {
        assertThatThrownBy(l::lock).isInstanceOf(IllegalStateException.class);
      } finally {
        l.unlock();
      }
    }
  }

  /** Mutex, RwLock, SeqLock, Scope, Options toString as their Javadoc shows. */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_toStringAsDocumented() throws Exception {
    String me = Thread.currentThread().getName();
    Mutex<String> m = new Mutex<>("secret");
    assertThat(m.toString()).isEqualTo("Mutex[Unlocked]");
    try (var g = m.lock()) {
      assertThat(m.toString()).isEqualTo("Mutex[Locked by thread " + me + "]")
          .doesNotContain("secret");
      assertThat(g.toString()).isEqualTo("Mutex.Guard[open, owner=" + me + "]");
    }
    RwLock<String> rw = new RwLock<>("secret");
    try (var r = rw.read(); var r2 = rw.read()) {
      assertThat(rw.toString()).isEqualTo("RwLock[readers=2, writeLocked=false]");
      assertThat(r.toString()).isEqualTo("RwLock.ReadGuard[open, owner=" + me + "]");
    }
    try (var w = rw.write()) {
      assertThat(w.toString()).isEqualTo("RwLock.WriteGuard[open, owner=" + me + "]");
    }
    Lazy<String> lazy = Lazy.of(() -> "x");
    lazy.get();
    assertThat(lazy.toString()).isEqualTo("Lazy[x]");
    Lazy<String> failed = Lazy.of(() -> {
      throw new IllegalStateException("boom");
    }, Lazy.FailurePolicy.REMEMBER);
    assertThatThrownBy(failed::get).isInstanceOf(IllegalStateException.class);
    assertThat(failed.toString()).startsWith("Lazy[failed: ").contains("boom");
    assertThat(new OnceCell<String>().toString()).isEqualTo("OnceCell[unset]");
    SpinLock spin = new SpinLock();
    spin.lock();
    try {
      assertThat(spin.toString()).startsWith("SpinLock[locked by " + me);
    } finally {
      spin.unlock();
    }
    Scope scope = Scope.open();
    String open = scope.toString();
    scope.close();
    assertThat(open).contains("open");
    assertThat(scope.toString()).contains("ended");
  }

  /**
   * Lazy/OnceCell class Javadoc and README: REMEMBER makes every later get throw
   * TaskFailedException with the original cause; RETRY runs again; null is a legal value and
   * not recomputed; recursion throws IllegalStateException ("recursive initialisation").
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_lazyAndOnceCellFailurePoliciesAndRecursion() {
    IllegalArgumentException bad = new IllegalArgumentException("bad");
    Lazy<String> remember = Lazy.of(() -> {
      throw bad;
    }, Lazy.FailurePolicy.REMEMBER);
    assertThatThrownBy(remember::get).isSameAs(bad);
    assertThatThrownBy(remember::get).isInstanceOf(TaskFailedException.class).hasCause(bad);
    AtomicInteger runs = new AtomicInteger();
    Lazy<@Nullable String> retry = Lazy.of(() -> {
      if (runs.getAndIncrement() == 0) {
        throw bad;
      }
      return null;
    });
    assertThatThrownBy(retry::get).isSameAs(bad);
    assertThat(retry.get()).isNull();
    assertThat(retry.get()).isNull();
    assertThat(runs).hasValue(2);
    AtomicReference<@Nullable Lazy<Integer>> self = new AtomicReference<>();
    Lazy<Integer> rec = Lazy.of(() -> self.get().get() + 1);
    self.set(rec);
    assertThatThrownBy(rec::get).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("recursive initialisation");
    OnceCell<String> cell = new OnceCell<>(Lazy.FailurePolicy.REMEMBER);
    assertThatThrownBy(() -> cell.getOrInit(() -> {
      throw bad;
    })).isSameAs(bad);
    assertThat(cell.trySet("x")).isFalse();
    assertThatThrownBy(() -> cell.set("x")).isInstanceOf(IllegalStateException.class);
    assertThat(cell.isSet()).isFalse();
    assertThatThrownBy(cell::orElseThrow).isInstanceOf(java.util.NoSuchElementException.class)
        .hasCause(bad);
    assertThatThrownBy(cell::await).isInstanceOf(TaskFailedException.class).hasCause(bad);
  }

  /**
   * Scope class Javadoc: a failure nobody joined is rethrown at the end, first failure as
   * cause, others suppressed, message names every failed thread; Errors the same way.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_scopeReportsEveryFailure() {
    CountDownLatch both = new CountDownLatch(2);
    Throwable t = catchThrowable(() -> Scope.builder()
        .failurePolicy(Scope.FailurePolicy.AWAIT_ALL).namePrefix("w").run(scope -> {
          scope.spawn(() -> {
            both.countDown();
            both.await();
            throw new IllegalStateException("one");
          });
          scope.spawn(() -> {
            both.countDown();
            both.await();
            throw new AssertionError("two");
          });
        }));
    assertThat(t).isInstanceOf(TaskFailedException.class);
    assertThat(t.getMessage()).contains("w-0").contains("w-1");
    assertThat(t.getSuppressed()).hasSize(1);
    List<Throwable> all = new ArrayList<>(Arrays.asList(t.getSuppressed()));
    all.add(t.getCause());
    assertThat(all).extracting(Throwable::getMessage).containsExactlyInAnyOrder("one", "two");
  }

  /**
   * README "Scope": "A spawn into a cancelled scope never calls the factory or runs the task";
   * Scope Javadoc: its join throws TaskFailedException with a CancellationException cause;
   * "Such tasks are not failures: nothing is reported for them at the end".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_spawnIntoCancelledScopeNeverRunsTask() {
    AtomicInteger factoryCalls = new AtomicInteger();
    AtomicBoolean ran = new AtomicBoolean();
    AtomicReference<@Nullable Throwable> lateJoin = new AtomicReference<>();
    Throwable t = catchThrowable(() -> Scope.builder().threadFactory(r -> {
      factoryCalls.incrementAndGet();
      return new Thread(r);
    }).run(scope -> {
      ScopedThread<Object> failing = scope.spawn(() -> {
        throw new IllegalStateException("first");
      });
      Throwable joined = catchThrowable(failing::join);
      assertThat(joined).isInstanceOf(TaskFailedException.class);
      int before = factoryCalls.get();
      ScopedThread<Void> late = scope.spawn(() -> ran.set(true));
      assertThat(factoryCalls.get()).isEqualTo(before);
      lateJoin.set(catchThrowable(late::join));
    }));
    assertThat(ran).isFalse();
    assertThat(lateJoin.get()).isInstanceOf(TaskFailedException.class)
        .hasCauseInstanceOf(CancellationException.class);
    assertThat(t).isNull(); // the joined failure is not reported again; the late task is none
  }

  /**
   * Scope class Javadoc: spawn after the end or from an outsider, and close by a non-owner,
   * throw IllegalStateException; a second close does nothing; ending an outer scope while an
   * inner one is open ends the inner one and throws IllegalStateException naming it.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_scopeMisuse() throws Exception {
    Scope ended = Scope.open();
    ended.close();
    ended.close();
    assertThatThrownBy(() -> ended.spawn(() -> 1)).isInstanceOf(IllegalStateException.class);
    Scope open = Scope.open();
    List<@Nullable Throwable> outsider = Collections.synchronizedList(new ArrayList<>());
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    Thread t = start("outsider", failure, () -> {
      outsider.add(catchThrowable(() -> open.spawn(() -> 1)));
      outsider.add(catchThrowable(open::close));
    });
    t.join(TimeUnit.SECONDS.toMillis(20));
    open.close();
    assertThat(outsider).hasSize(2)
        .allSatisfy(e -> assertThat(e).isInstanceOf(IllegalStateException.class));
    Scope outer = Scope.open();
    Scope inner = Scope.open();
    String innerName = inner.toString().replaceAll("^Scope\\[([^,]+),.*$", "$1");
    assertThatThrownBy(outer::close).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining(innerName);
    assertThat(inner.toString()).contains("ended");
  }

  /**
   * Parallel class Javadoc: the first failure stops the call; every invocation has finished
   * before the call throws; the workers still inside the function are interrupted; the calling
   * thread is never interrupted by weft.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_parallelFailFastInterruptsWorkers() {
    int n = 4;
    CountDownLatch othersIn = new CountDownLatch(n - 1);
    AtomicInteger inside = new AtomicInteger();
    AtomicInteger interrupted = new AtomicInteger();
    Parallel.Options opts = Parallel.options().threads(n).sequentialCutoff(Duration.ZERO)
        .newThreadsPerCall();
    List<Integer> data = List.of(0, 1, 2, 3);
    Throwable t = catchThrowable(() -> Parallel.forEach(data, i -> {
      inside.incrementAndGet();
      try {
        if (i == 0) {
          othersIn.await(10, TimeUnit.SECONDS);
          throw new IllegalStateException("first");
        }
        othersIn.countDown();
        new CountDownLatch(1).await(20, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        interrupted.incrementAndGet();
      } finally {
        inside.decrementAndGet();
      }
    }, opts));
    assertThat(t).isInstanceOf(TaskFailedException.class).hasCauseInstanceOf(
        IllegalStateException.class);
    assertThat(inside).hasValue(0); // none still running once the call threw
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
    assertThat(interrupted.get()).isGreaterThanOrEqualTo(n - 2);
  }

  /**
   * Parallel class Javadoc: "if the calling thread is interrupted before or during the call,
   * the call ... throws CancellationException, with the caller's interrupt status still set".
   * Empty inputs: anyMatch false, allMatch/noneMatch true, find* empty. findFirst of a null
   * match throws NullPointerException; map may put null in the result.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_parallelCancellationAndEdgeCases() {
    Thread.currentThread().interrupt();
    Throwable t = catchThrowable(() -> Parallel.map(List.of(1, 2, 3), x -> x));
    boolean stillSet = Thread.interrupted();
    assertThat(t).isInstanceOf(CancellationException.class);
    assertThat(stillSet).isTrue();
    List<Integer> empty = List.of();
    assertThat(Parallel.anyMatch(empty, x -> true)).isFalse();
    assertThat(Parallel.allMatch(empty, x -> false)).isTrue();
    assertThat(Parallel.noneMatch(empty, x -> true)).isTrue();
    assertThat(Parallel.findAny(empty, x -> true)).isEmpty();
    assertThat(Parallel.findFirst(0, 0, i -> true)).isEmpty();
    assertThatThrownBy(() -> Parallel.findFirst(Arrays.asList(1, null, 3), x -> x == null))
        .isInstanceOf(NullPointerException.class);
    assertThat(Parallel.findFirst(0, 3, i -> i == 1)).hasValue(1);
    assertThat(Parallel.map(List.of(1, 2), x -> (String) null)).containsExactly(null, null);
  }

  /**
   * README "Parallel": "Pool threads inherit nothing from the caller that started them (no
   * context class loader, no inheritable thread-locals)"; Parallel Javadoc: "they have the
   * system class loader".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_poolThreadsInheritNothing() throws Exception {
    InheritableThreadLocal<String> itl = new InheritableThreadLocal<>();
    ClassLoader mine = new ClassLoader(getClass().getClassLoader()) {};
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    Map<String, String> seen = new ConcurrentHashMap<>();
    // a fresh caller thread, so a pool thread it starts would inherit from it
    Thread caller = start("pool-caller", failure, () -> {
      itl.set("leaked");
      Thread.currentThread().setContextClassLoader(mine);
      List<Integer> data = new ArrayList<>();
      for (int i = 0; i < 64; i++) {
        data.add(i);
      }
      CountDownLatch gate = new CountDownLatch(1);
      Parallel.forEach(data, i -> {
        Thread me = Thread.currentThread();
        if (me.getName().startsWith("weft-parallel")) {
          seen.put(me.getName(), String.valueOf(itl.get()) + "|"
              + (me.getContextClassLoader() == ClassLoader.getSystemClassLoader()));
          gate.countDown();
        } else {
          try {
            gate.await(50, TimeUnit.MILLISECONDS); // let a pool thread take elements
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        }
      }, Parallel.options().threads(8).sequentialCutoff(Duration.ZERO));
    });
    caller.join(TimeUnit.SECONDS.toMillis(25));
    assertThat(failure.get()).isNull();
    assertThat(seen).isNotEmpty();
    assertThat(seen.values()).allSatisfy(v -> assertThat(v).isEqualTo("null|true"));
  }

  /**
   * SeqLock Javadoc: an exception thrown by the read function propagates only when the read
   * validated; SeqCount Javadoc: "Starting a write while another write is in progress throws
   * IllegalStateException: 'concurrent writers on a SeqCount' from another thread".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_seqLockAndSeqCountMisuse() throws Exception {
    SeqLock sl = new SeqLock();
    assertThatThrownBy(() -> sl.read(() -> {
      throw new IllegalStateException("consistent");
    })).isInstanceOf(IllegalStateException.class).hasMessage("consistent");
    try (var w = sl.write()) {
      assertThatThrownBy(sl::beginRead).isInstanceOf(IllegalStateException.class);
    }
    SeqCount sc = new SeqCount();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> second = new AtomicReference<>();
    try (var w = sc.write()) {
      Thread t = start("second-writer", failure, () -> second.set(catchThrowable(sc::write)));
      t.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(sc.isWriting()).isTrue();
    }
    assertThat(failure.get()).isNull();
    assertThat(second.get()).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("concurrent writers on a SeqCount");
  }

  /**
   * Condvar Javadoc "Misuse": a guard of a different mutex than the first one throws
   * IllegalArgumentException; a closed guard IllegalStateException; another thread's guard
   * IllegalMonitorStateException; a pending interrupt ends a blocking wait with
   * InterruptedException, returning with the mutex held.
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_condvarMisuseAndInterrupt() throws Exception {
    Condvar cv = new Condvar();
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    try (var g = a.lock()) {
      assertThat(cv.awaitWhile(g, x -> true, Duration.ZERO)).isFalse();
      Thread.currentThread().interrupt();
      assertThatThrownBy(() -> cv.awaitWhile(g, x -> true)).isInstanceOf(InterruptedException.class);
      assertThat(Thread.interrupted()).isFalse();
      assertThat(g.isOpen()).isTrue();
      assertThat(a.isHeldByCurrentThread()).isTrue();
    }
    try (var g = b.lock()) {
      assertThatThrownBy(() -> cv.awaitWhile(g, x -> false))
          .isInstanceOf(IllegalArgumentException.class);
    }
    Mutex.Guard<Integer> closed = a.lock();
    closed.close();
    assertThatThrownBy(() -> cv.awaitWhile(closed, x -> false))
        .isInstanceOf(IllegalStateException.class);
    try (var g = a.lock()) {
      AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
      AtomicReference<@Nullable Throwable> foreign = new AtomicReference<>();
      Thread t = start("foreign-wait", failure,
          () -> foreign.set(catchThrowable(() -> cv.awaitWhile(g, x -> false))));
      t.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(foreign.get()).isInstanceOf(IllegalMonitorStateException.class);
      assertThat(g.get()).isZero();
    }
  }

  /**
   * README "Mutex...": "a notify may come after the guard is closed, and what the predicate
   * reads may be changed without the mutex (a volatile flag) and notified from outside it".
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_condvarNotifyFromOutsideTheMutex() throws Exception {
    AtomicBoolean shutdown = new AtomicBoolean();
    Mutex<Deque<String>> q = new Mutex<>(new ArrayDeque<>());
    Condvar cv = new Condvar();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    Thread waiter = start("flag-waiter", failure, () -> {
      try (var g = q.lock()) {
        cv.awaitWhile(g, d -> d.isEmpty() && !shutdown.get());
      }
    });
    awaitBlocked(waiter);
    shutdown.set(true);
    cv.notifyAllWaiters();
    waiter.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(waiter.isAlive()).isFalse();
    assertThat(failure.get()).isNull();
  }

  /**
   * Scope/ScopedThread Javadoc memory-consistency: actions before spawn happen-before the task;
   * every action of a task happens-before join returns and the scope's end. Lazy: an object with
   * non-final fields is seen fully constructed. (A functional check of the documented edges.)
   */
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  void held_memoryConsistencyPromisesFunctionally() throws Exception {
    final class Box {
      long a;
      long b;
    }
    for (int round = 0; round < 200; round++) {
      Box box = new Box();
      box.a = round;
      long seenByTask = Scope.call(scope -> {
        ScopedThread<Long> t = scope.spawn(() -> {
          box.b = box.a + 1;
          return box.a;
        });
        return t.join();
      });
      assertThat(seenByTask).isEqualTo(round);
      assertThat(box.b).isEqualTo(round + 1L);
      Lazy<Box> lazy = Lazy.of(() -> {
        Box x = new Box();
        x.a = 7;
        x.b = 8;
        return x;
      });
      long[] got = Parallel.map(new long[] {0, 1, 2, 3}, i -> lazy.get().a + lazy.get().b);
      assertThat(got).containsOnly(15L);
    }
  }
}
