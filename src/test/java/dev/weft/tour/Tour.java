package dev.weft.tour;

import dev.weft.Condvar;
import dev.weft.Lazy;
import dev.weft.LockOrder;
import dev.weft.LockOrderException;
import dev.weft.Mutex;
import dev.weft.OnceCell;
import dev.weft.Parallel;
import dev.weft.RwLock;
import dev.weft.Scope;
import dev.weft.ScopedThread;
import dev.weft.SeqLock;
import dev.weft.SpinLock;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.LongStream;

/**
 * The tour: every program of the Rust concurrency chapter, written in Java with weft (or with
 * the JDK where the JDK is the right answer), in the chapter's order. Run it with
 * {@code ./mvnw -q -pl src test-compile exec:java} (see README); {@code TourTest} runs the same
 * code in the test suite so it cannot rot.
 */
public final class Tour {
  private final PrintStream out;

  Tour(PrintStream out) {
    this.out = out;
  }

  /**
   * Runs every section of the tour, printing to standard output.
   *
   * @param args ignored
   * @throws Exception if a section fails
   */
  public static void main(String[] args) throws Exception {
    new Tour(System.out).runAll();
  }

  void runAll() throws Exception {
    section("1. OS threads with a return value (JDK Thread / ExecutorService)");
    osThreads();
    section("2. Scoped threads borrowing local data (weft Scope)");
    scopedThreads();
    section("3. Data parallelism (weft Parallel; JDK Arrays.parallelSort)");
    dataParallelism();
    section("4. Mutex<T>: 10 threads x 1000 increments (weft Mutex)");
    mutexCounter();
    section("5. RwLock<T>: five readers and a writer (weft RwLock)");
    rwLock();
    section("6. Atomic counter (JDK AtomicLong)");
    atomicCounter();
    section("7. Condvar: the 'ready' handshake (weft Condvar, and Mutex.awaitThen)");
    condvarReady();
    section("8. OnceCell config and Lazy regex (weft OnceCell, Lazy)");
    onceAndLazy();
    section("9. Spin lock with a guard (weft SpinLock)");
    spinLock();
    section("10. Sequence lock: wait-free reads of a pair (weft SeqLock)");
    seqLock();
    section("11. Exercise: parallel_map (weft Parallel.map, 4 threads)");
    exerciseParallelMap();
    section("12. Lock-order checking: an inversion caught on one thread (weft LockOrder)");
    lockOrder();
    out.println();
    out.println("Tour complete.");
  }

  private void section(String title) {
    out.println();
    out.println("== " + title);
  }

  // 1. thread::spawn + JoinHandle::join -> a Future. Background work is the JDK's job.
  void osThreads() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor(r -> new Thread(r, "test-tour-1"));
    try {
      Future<Integer> handle = executor.submit(() -> {
        for (int i = 0; i < 3; i++) {
          out.println("spawned thread: " + i);
        }
        return 42;
      });
      out.println("main thread: doing other work");
      out.println("Thread returned: " + handle.get());
    } finally {
      executor.shutdown();
    }
  }

  // 2. thread::scope: threads read `data` without copying it; all are joined before the scope
  // returns, so mutating `data` afterwards is safe.
  void scopedThreads() throws Exception {
    List<Integer> data = new ArrayList<>(List.of(1, 2, 3, 4, 5));
    Scope.run(scope -> {
      ScopedThread<Integer> sum = scope.spawn(() -> data.stream().mapToInt(i -> i).sum());
      ScopedThread<Integer> max = scope.spawn(() -> Collections.max(data));
      out.println("Sum: " + sum.join());
      out.println("Max: " + max.join());
    });
    data.add(6); // every scoped thread has finished: safe
    out.println("Updated: " + data);
  }

  static long expensiveComputation(long x) {
    long acc = x;
    for (int i = 0; i < 1000; i++) {
      acc = acc * 7 + 13; // wrapping arithmetic, as the chapter's wrapping_mul/wrapping_add
    }
    return acc;
  }

  void dataParallelism() {
    long[] data = LongStream.range(0, 1_000_000).toArray();
    // Each side runs a few times and the best time is shown: the first runs include JIT
    // compilation. A demonstration, not a benchmark (see the JMH results for those).
    long sumSeq = 0;
    long sumPar = 0;
    long bestSeq = Long.MAX_VALUE;
    long bestPar = Long.MAX_VALUE;
    for (int round = 0; round < 5; round++) {
      long t0 = System.nanoTime();
      long s = 0;
      for (long x : data) {
        s += x * x;
      }
      long t1 = System.nanoTime();
      long p = Parallel.reduce(data, x -> x * x, 0L, Long::sum);
      long t2 = System.nanoTime();
      sumSeq = s;
      sumPar = p;
      bestSeq = Math.min(bestSeq, t1 - t0);
      bestPar = Math.min(bestPar, t2 - t1);
    }
    out.printf("sum of squares of 0..1e6: sequential %d (%.2f ms), parallel %d (%.2f ms), "
        + "equal: %b%n", sumSeq, bestSeq / 1e6, sumPar, bestPar / 1e6, sumSeq == sumPar);

    int[] numbers = {5, 2, 8, 1, 9, 3};
    Arrays.parallelSort(numbers); // the JDK's parallel merge sort is the par_sort answer
    out.println("parallel sort: " + Arrays.toString(numbers));

    List<Long> evens = LongStream.range(0, 100_000).filter(x -> x % 2 == 0).boxed()
        .collect(Collectors.toList());
    List<Long> seq = new ArrayList<>();
    List<Long> par = List.of();
    bestSeq = Long.MAX_VALUE;
    bestPar = Long.MAX_VALUE;
    for (int round = 0; round < 3; round++) {
      long t3 = System.nanoTime();
      seq = new ArrayList<>(evens.size());
      for (long x : evens) {
        seq.add(expensiveComputation(x));
      }
      long t4 = System.nanoTime();
      par = Parallel.map(evens, Tour::expensiveComputation);
      long t5 = System.nanoTime();
      bestSeq = Math.min(bestSeq, t4 - t3);
      bestPar = Math.min(bestPar, t5 - t4);
    }
    out.printf("filter even + expensive_computation on %d values: sequential %.1f ms, "
        + "parallel %.1f ms (%d cores), equal: %b%n", evens.size(), bestSeq / 1e6,
        bestPar / 1e6, Runtime.getRuntime().availableProcessors(), seq.equals(par));
  }

  // 4. Arc<Mutex<u64>>: the lock owns the counter; the guard is the only way to reach it.
  void mutexCounter() throws Exception {
    Mutex<Long> counter = new Mutex<>(0L);
    Scope.run(scope -> {
      for (int t = 0; t < 10; t++) {
        scope.spawn(() -> {
          for (int i = 0; i < 1000; i++) {
            try (Mutex.Guard<Long> g = counter.lock()) {
              g.set(g.get() + 1);
            } // guard closed -> lock released
          }
        });
      }
    });
    out.println("Counter: " + counter.with(v -> v)); // 10000
  }

  // 5. Arc<RwLock<String>>: readers share, the writer is exclusive.
  void rwLock() throws Exception {
    RwLock<String> config = new RwLock<>("initial");
    Scope.run(scope -> {
      for (int id = 0; id < 5; id++) {
        int reader = id;
        scope.spawn(() -> {
          try (RwLock.ReadGuard<String> g = config.read()) {
            out.println("Reader " + reader + ": " + g.get());
          }
        });
      }
      try (RwLock.WriteGuard<String> g = config.write()) {
        g.set("updated");
      }
    });
    out.println("Final: " + config.withRead(s -> s));
  }

  // 6. AtomicU64::fetch_add(Relaxed) -> AtomicLong (or LongAdder under heavy contention).
  void atomicCounter() throws Exception {
    AtomicLong counter = new AtomicLong();
    Scope.run(scope -> {
      for (int t = 0; t < 10; t++) {
        scope.spawn(() -> {
          for (int i = 0; i < 1000; i++) {
            counter.incrementAndGet();
          }
        });
      }
    });
    out.println("Atomic counter: " + counter.get()); // 10000
  }

  // 7. (Mutex<bool>, Condvar): no hand-written while loop; spurious wakeups are handled inside.
  void condvarReady() throws Exception {
    Mutex<Boolean> ready = new Mutex<>(false);
    Condvar cvar = new Condvar();
    Scope.run(scope -> {
      ScopedThread<Void> worker = scope.spawn(() -> {
        try (Mutex.Guard<Boolean> g = ready.lock()) {
          cvar.awaitWhile(g, r -> !r); // atomically unlocks + sleeps, re-checks on wakeup
          out.println("Worker: condition met, proceeding");
        }
        return null;
      });
      try (Mutex.Guard<Boolean> g = ready.lock()) {
        g.set(true);
        cvar.notifyOne();
      }
      worker.join();
    });

    // The same handshake with automatic signalling: no Condvar, no notify call.
    Mutex<Boolean> flag = new Mutex<>(false);
    Scope.run(scope -> {
      ScopedThread<String> waiter =
          scope.spawn(() -> flag.awaitThen(f -> f, f -> "Worker (awaitThen): woken without notify"));
      flag.update(f -> true);
      out.println(waiter.join());
    });
  }

  // 8. OnceLock: init depends on the call site; LazyLock: init given at the definition.
  static final OnceCell<Map<String, String>> CONFIG = new OnceCell<>();
  static final Lazy<Pattern> IDENT = Lazy.of(() -> Pattern.compile("^[a-zA-Z0-9_]+$"));

  static Map<String, String> config() {
    return CONFIG.getOrInit(() -> {
      Map<String, String> m = new HashMap<>();
      m.put("log_level", "info"); // expensive: read & parse a config file, exactly once
      return Collections.unmodifiableMap(m);
    });
  }

  static boolean isValidIdentifier(String s) {
    return IDENT.get().matcher(s).matches(); // first call compiles the regex
  }

  void onceAndLazy() {
    Map<String, String> first = config();
    Map<String, String> second = config();
    out.println("config log_level = " + first.get("log_level")
        + " (same instance on a second call: " + (first == second) + ")");
    out.println("is_valid_identifier(\"hello_42\") = " + isValidIdentifier("hello_42"));
    out.println("is_valid_identifier(\"no spaces\") = " + isValidIdentifier("no spaces"));
  }

  // 9. The chapter's teaching SpinLock, production version: guard, owner checks, backoff.
  @SuppressWarnings("try") // the guard is held for its scope only; javac's lint wants it read
  void spinLock() throws Exception {
    SpinLock lock = new SpinLock();
    long[] counter = {0};
    Scope.run(scope -> {
      for (int t = 0; t < 4; t++) {
        scope.spawn(() -> {
          for (int i = 0; i < 10_000; i++) {
            try (SpinLock.Guard g = lock.acquire()) {
              counter[0]++;
            }
          }
        });
      }
    });
    out.println("SpinLock counter: " + counter[0]); // 40000
  }

  // 10. SeqLock: the writer keeps x == y; readers never block and never see a torn pair.
  static final class Point {
    long x;
    long y;
  }

  @SuppressWarnings("try") // the write guard is held for its scope only
  void seqLock() throws Exception {
    SeqLock lock = new SeqLock();
    Point p = new Point();
    long[] torn = {0};
    long[] reads = {0};
    Scope.run(scope -> {
      scope.spawn(() -> {
        for (long k = 1; k <= 100_000; k++) {
          try (SeqLock.WriteGuard w = lock.write()) {
            p.x = k;
            p.y = k;
          }
        }
        return null;
      });
      scope.spawn(() -> {
        for (int i = 0; i < 100_000; i++) {
          long diff = lock.readLong(() -> p.x - p.y);
          reads[0]++;
          if (diff != 0) {
            torn[0]++;
          }
        }
      });
    });
    out.println("SeqLock: " + reads[0] + " validated reads, torn pairs seen: " + torn[0]);
  }

  // 12. Not in the chapter, but the bug its Mutex section warns about: two code paths that take
  // the same two locks in opposite order. transfer() locks the account, then the audit log;
  // report() locks the log, then the account. Two threads running them at once can deadlock;
  // lock-order checking (-Ddev.weft.lockOrder=check, or LockOrder.enable) reports it the first
  // time both orders are seen, here on one thread, before anything waits.
  @SuppressWarnings("try") // guards held for their scope only
  void lockOrder() {
    LockOrder.Mode before = LockOrder.mode();
    LockOrder.enable(LockOrder.Mode.THROW);
    try {
      Mutex<Long> account = LockOrder.classify(new Mutex<>(100L), "account");
      Mutex<List<String>> audit = LockOrder.classify(new Mutex<>(new ArrayList<>()), "audit log");
      // transfer(): account, then audit log
      try (Mutex.Guard<Long> a = account.lock(); Mutex.Guard<List<String>> log = audit.lock()) {
        a.set(a.get() - 10);
        log.get().add("withdrew 10");
      }
      out.println("transfer: locked the account, then the audit log (order recorded)");
      // report(): audit log, then account -- the opposite order
      try (Mutex.Guard<List<String>> log = audit.lock(); Mutex.Guard<Long> a = account.lock()) {
        out.println("report: " + log.get() + ", balance " + a.get() + " (inversion missed!)");
      } catch (LockOrderException e) {
        out.println("report: LockOrderException before waiting; cycle " + e.cycle());
        out.println("  (" + e.getSuppressed().length + " earlier order attached with its stack)");
      }
    } finally {
      if (before == LockOrder.Mode.OFF) {
        LockOrder.disable();
      } else {
        LockOrder.enable(before);
      }
    }
  }

  // 11. The exercise: parallel_map(data, f, num_threads) and its check.
  void exerciseParallelMap() {
    List<Long> data = LongStream.rangeClosed(1, 20).boxed().collect(Collectors.toList());
    List<Long> squares = Parallel.map(data, x -> x * x, 4);
    List<Long> expected = data.stream().map(x -> x * x).collect(Collectors.toList());
    if (!squares.equals(expected)) {
      throw new AssertionError("parallel_map returned " + squares);
    }
    out.println("Parallel squares: " + squares + " (check passed)");
  }
}
