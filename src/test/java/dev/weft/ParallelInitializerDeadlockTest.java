package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A {@code Parallel} call inside a class's static initializer, with a function written in that
 * class: the workers' first call of the function waits for the initializer (JLS 12.4.2), which
 * waits for them. A parallel stream hangs there for ever; weft's call throws {@link
 * IllegalStateException} naming the class (it leaves the initializer as its {@link
 * ExceptionInInitializerError}'s cause), and the blocked workers are released by the failed
 * initialization and go back to the pool (the thread-leak extension checks that they are idle
 * after each test). Before the change every {@code deadlock…} test timed out here (the
 * initializing thread never ended).
 *
 * <p>Each scenario is its own holder class: a class is initialized once per JVM. The second half
 * are calls that must not be mistaken for the deadlock, because their workers run: a function
 * from another class, a lambda that captures {@code this}, slow elements outside an initializer.
 */
@Timeout(120)
class ParallelInitializerDeadlockTest {

  /**
   * 4 threads, the default cut-off: the caller's probe measures the elements (about 1 ms each,
   * see {@link #slow}) and splits them in chunks of about one element. (With a cut-off of zero
   * the cost is unknown, the chunks may be long, and the call does not look: see {@link
   * #longChunksOfUnknownCostAreNotLookedAt}.)
   */
  static final Parallel.Options SPLIT = Parallel.options().threads(4);

  /**
   * Returns {@code i} after about a millisecond: elements slow enough that the workers take
   * chunks before the caller has run them all (cheap elements can all be done by the caller
   * before a worker wakes, and then nothing waits for the initializer: no deadlock at all).
   */
  static int slow(int i) {
    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
    return i;
  }

  static List<Integer> range(int n) {
    List<Integer> l = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      l.add(i);
    }
    return l;
  }

  /**
   * An executor for one scenario; shut down after the class (its threads are not named "test-":
   * they outlive single tests by design).
   */
  static final ExecutorService EXECUTOR = Executors.newFixedThreadPool(3, r -> {
    Thread t = new Thread(r, "executor-of-initializer-tests");
    t.setDaemon(true);
    return t;
  });

  @AfterAll
  static void shutDown() throws InterruptedException {
    EXECUTOR.shutdownNow();
    assertThat(EXECUTOR.awaitTermination(20, TimeUnit.SECONDS)).isTrue();
  }

  /**
   * Initializes {@code holder} on a new thread and returns what the initializer threw (null if
   * it completed). Fails if it has not ended within 30 s: the deadlock, unrecognised.
   */
  private static @Nullable Throwable initialize(Class<?> holder) throws InterruptedException {
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    Thread t = new Thread(() -> {
      Other.initThread = Thread.currentThread();
      try {
        Class.forName(holder.getName(), true, holder.getClassLoader());
      } catch (Throwable e) {
        thrown.set(e);
      }
    }, "test-initializer");
    t.setDaemon(true);
    long t0 = System.nanoTime();
    t.start();
    t.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(t.isAlive()).as("the initializer of %s ended (it hangs on the deadlock)",
        holder.getSimpleName()).isFalse();
    System.out.printf("%s: ended in %d ms%n", holder.getSimpleName(),
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    return thrown.get();
  }

  /** What each holder's call threw, recorded on its way out of the initializer. */
  static final java.util.Map<Class<?>, Throwable> RAISED =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** Runs a holder's call, recording what it throws (see {@link #assertReported}). */
  static <T> T recorded(Class<?> holder, java.util.function.Supplier<T> call) {
    try {
      return call.get();
    } catch (RuntimeException | Error e) {
      RAISED.put(holder, e);
      throw e;
    }
  }

  /**
   * The initializer threw the call's IllegalStateException, naming the class and the call. Read
   * from {@link #RAISED}: the initializer's own failure is an ExceptionInInitializerError, unless
   * an earlier test in this JVM broke that JDK class's own initialization (its first use in a
   * full heap or near the stack's end; CI, session 32), after which it is a NoClassDefFoundError
   * that names ExceptionInInitializerError and carries no cause.
   */
  private static void assertReported(@Nullable Throwable thrown, Class<?> holder, String call) {
    assertThat(thrown).isInstanceOfAny(ExceptionInInitializerError.class,
        NoClassDefFoundError.class);
    assertThat(RAISED.get(holder))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith(call + " was called inside the static initializer of "
            + holder.getName() + ", and its worker threads wait for that initializer");
    // The pool is not stuck: a call right after has all its threads.
    assertThat(Parallel.map(range(64), i -> i + 1, SPLIT)).hasSize(64).endsWith(64);
  }

  // ---- the deadlock, every shape of call ----

  static final class MapHolder {
    static int twice(int i) {
      return 2 * i;
    }

    static final List<Integer> OUT =
        recorded(MapHolder.class, () -> Parallel.map(range(64), i -> slow(twice(i)), SPLIT));
  }

  @Test
  void deadlockInMap() throws Exception {
    assertReported(initialize(MapHolder.class), MapHolder.class, "Parallel.map");
  }

  static final class MethodRefHolder {
    static int square(int i) {
      return slow(i * i);
    }

    static final List<Integer> OUT = recorded(MethodRefHolder.class,
        () -> Parallel.map(range(64), MethodRefHolder::square, SPLIT));
  }

  @Test
  void deadlockInMapWithAMethodReferenceToTheClass() throws Exception {
    assertReported(initialize(MethodRefHolder.class), MethodRefHolder.class, "Parallel.map");
  }

  static final class LongsHolder {
    static final long[] OUT = recorded(LongsHolder.class,
        () -> Parallel.map(new long[64], x -> slow((int) x) + 3, SPLIT));
  }

  @Test
  void deadlockInMapOfLongs() throws Exception {
    assertReported(initialize(LongsHolder.class), LongsHolder.class, "Parallel.map");
  }

  static final class ForEachHolder {
    static final AtomicInteger SEEN = new AtomicInteger();

    static {
      recorded(ForEachHolder.class, () -> {
        Parallel.forEach(range(64), i -> SEEN.addAndGet(slow(1)), SPLIT);
        return null;
      });
    }
  }

  @Test
  void deadlockInForEach() throws Exception {
    assertReported(initialize(ForEachHolder.class), ForEachHolder.class, "Parallel.forEach");
  }

  static final class RangeHolder {
    static final int[] OUT = new int[64];

    static {
      recorded(RangeHolder.class, () -> {
        Parallel.forRange(0, 64, i -> OUT[i] = slow(i), SPLIT);
        return null;
      });
    }
  }

  @Test
  void deadlockInForRange() throws Exception {
    assertReported(initialize(RangeHolder.class), RangeHolder.class, "Parallel.forRange");
  }

  static final class ReduceHolder {
    static final int SUM = recorded(ReduceHolder.class,
        () -> Parallel.reduce(range(64), i -> slow(i), 0, Integer::sum, SPLIT));
  }

  @Test
  void deadlockInReduce() throws Exception {
    assertReported(initialize(ReduceHolder.class), ReduceHolder.class, "Parallel.reduce");
  }

  static final class AnyMatchHolder {
    static final boolean ANY = recorded(AnyMatchHolder.class,
        () -> Parallel.anyMatch(range(64), i -> slow(i) < 0, SPLIT));
  }

  @Test
  void deadlockInAnyMatch() throws Exception {
    assertReported(initialize(AnyMatchHolder.class), AnyMatchHolder.class, "Parallel.anyMatch");
  }

  static final class NewThreadsHolder {
    static final List<Integer> OUT =
        recorded(NewThreadsHolder.class,
            () -> Parallel.map(range(64), i -> slow(i) + 1, SPLIT.newThreadsPerCall()));
  }

  @Test
  void deadlockWithNewThreadsPerCall() throws Exception {
    assertReported(initialize(NewThreadsHolder.class), NewThreadsHolder.class, "Parallel.map");
  }

  static final class ExecutorHolder {
    static final List<Integer> OUT =
        recorded(ExecutorHolder.class,
            () -> Parallel.map(range(64), i -> slow(i) + 1, SPLIT.executor(EXECUTOR)));
  }

  @Test
  void deadlockOnAUsersExecutor() throws Exception {
    assertReported(initialize(ExecutorHolder.class), ExecutorHolder.class, "Parallel.map");
    // The executor's threads were released too: it runs a task.
    assertThat(EXECUTOR.submit(() -> 7).get(20, TimeUnit.SECONDS)).isEqualTo(7);
  }

  /** The caller interrupted while it waits: still the same report, and its status kept. */
  static final class InterruptedHolder {
    static {
      try {
        recorded(InterruptedHolder.class, () -> Parallel.map(range(64), i -> slow(i) + 1, SPLIT));
      } finally {
        // Into a class that stays usable: this one's statics are gone once it fails.
        INTERRUPT_SEEN.set(Thread.currentThread().isInterrupted());
      }
    }
  }

  @Test
  void deadlockWhileTheCallerIsInterrupted() throws Exception {
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    Thread t = new Thread(() -> {
      try {
        Class.forName(InterruptedHolder.class.getName(), true,
            InterruptedHolder.class.getClassLoader());
      } catch (Throwable e) {
        thrown.set(e);
      }
    }, "test-initializer");
    t.setDaemon(true);
    t.start();
    awaitWaitingForWorkers(t);
    t.interrupt();
    t.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(t.isAlive()).as("the initializer ended").isFalse();
    assertReported(thrown.get(), InterruptedHolder.class, "Parallel.map");
    assertThat(INTERRUPT_SEEN.get()).as("the caller's interrupt status, kept").isTrue();
  }

  /** Waits (bounded) until {@code t} is parked in a Parallel call's wait for its workers. */
  private static void awaitWaitingForWorkers(Thread t) {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!(LockSupport.getBlocker(t) instanceof ParallelJob && Waits.isParked(t))) {
      assertThat(t.isAlive()).as("%s alive", t.getName()).isTrue();
      assertThat(System.nanoTime() - end).as("parked for its workers within 20 s").isNegative();
      LockSupport.parkNanos(50_000L); // bounded poll of the thread's state, not a result wait
    }
  }

  /** Set by {@link InterruptedHolder} through a class that stays usable. */
  static final AtomicBoolean INTERRUPT_SEEN = new AtomicBoolean();

  /**
   * The initializer catches the exception and completes: documented, the blocked workers then
   * run the elements they had taken, after the call has thrown, and go back to the pool.
   */
  static final class CaughtHolder {
    static final AtomicInteger RUN = new AtomicInteger();
    static final AtomicReference<@Nullable Throwable> CAUGHT = new AtomicReference<>();

    static {
      try {
        Parallel.forEach(range(64), i -> RUN.addAndGet(slow(1)), SPLIT);
      } catch (IllegalStateException e) {
        CAUGHT.set(e);
      }
    }
  }

  @Test
  void anInitializerThatCatchesTheReportCompletesAndTheWorkersFinishAfterIt() throws Exception {
    assertThat(initialize(CaughtHolder.class)).isNull();
    assertThat(CaughtHolder.CAUGHT.get()).isInstanceOf(IllegalStateException.class);
    assertThat(Parallel.map(range(64), i -> i + 1, SPLIT)).hasSize(64);
    assertThat(CaughtHolder.RUN.get()).as("elements run, by the caller and the released workers")
        .isPositive();
  }

  // ---- the JDK's reference, in forked JVMs: a parallel stream in the same spot hangs ----

  /** Runs InitializerStreamMain in a new JVM; its output, after at most {@code seconds}. */
  private static String fork(String mode, int seconds) throws Exception {
    java.nio.file.Path log = java.nio.file.Files.createTempFile("weft-initializer-", ".log");
    Process p = new ProcessBuilder(System.getProperty("java.home") + "/bin/java",
        "-cp", System.getProperty("java.class.path"), InitializerStreamMain.class.getName(), mode)
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      p.waitFor(seconds, TimeUnit.SECONDS);
    } finally {
      p.destroyForcibly();
      p.waitFor(20, TimeUnit.SECONDS);
    }
    String out = java.nio.file.Files.readString(log);
    java.nio.file.Files.deleteIfExists(log);
    return out;
  }

  @Test
  void reference_aParallelStreamInTheSameInitializerHangs() throws Exception {
    String out = fork("stream", 5);
    assertThat(out).contains("STARTED stream").doesNotContain("ENDED");
  }

  @Test
  void weftInTheSameInitializerThrowsInsteadOfHanging() throws Exception {
    String out = fork("weft", 30);
    assertThat(out).contains("ENDED threw java.lang.IllegalStateException: Parallel.map was"
        + " called inside the static initializer of dev.weft.InitializerStreamMain$Table");
  }

  // ---- not the deadlock: these calls must complete, with their results ----

  /** Functions of a class that is not being initialized. */
  static final class Other {
    static int slowSquare(int i) {
      try {
        Thread.sleep(15);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return i * i;
    }

    static int cheapSquare(int i) {
      return i * i;
    }

    static volatile @Nullable Thread initThread;
    static long touched;

    /** Next to nothing on the initializing thread, a few ns on a worker (which then lags). */
    static void touch(int i) {
      if (Thread.currentThread() != initThread) {
        touched += (i * 31L) % 7;
      }
    }
  }

  static final class SlowOtherHolder {
    static final List<Integer> OUT = Parallel.map(range(32), Other::slowSquare, SPLIT);
  }

  @Test
  void aSlowFunctionOfAnotherClassInsideAnInitializerCompletes() throws Exception {
    assertThat(initialize(SlowOtherHolder.class)).isNull();
    assertThat(SlowOtherHolder.OUT).hasSize(32).startsWith(0, 1, 4).endsWith(31 * 31);
  }

  static final class CheapOtherHolder {
    static final List<Integer> OUT = Parallel.map(range(40_000), Other::cheapSquare, SPLIT);
  }

  @Test
  void aCheapFunctionOfAnotherClassOverALargeInputInsideAnInitializerCompletes()
      throws Exception {
    assertThat(initialize(CheapOtherHolder.class)).isNull();
    assertThat(CheapOtherHolder.OUT).hasSize(40_000).endsWith(39_999 * 39_999);
  }

  /** A lambda that captures {@code this}: its body is an instance method, no wait on the class. */
  static final class CapturesThisHolder {
    final int k = 3;

    List<Integer> compute() {
      return Parallel.map(range(32), i -> {
        try {
          Thread.sleep(15); // slow: the caller waits long enough to look
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        return i * this.k;
      }, SPLIT);
    }

    static final List<Integer> OUT = new CapturesThisHolder().compute();
  }

  @Test
  void aLambdaThatCapturesThisInsideAnInitializerCompletes() throws Exception {
    assertThat(initialize(CapturesThisHolder.class)).isNull();
    assertThat(CapturesThisHolder.OUT).hasSize(32).endsWith(93);
  }

  /**
   * A method reference written in the class to another class's cheap method, cut-off zero (cost
   * unknown) and chunks of 400 million elements: the worker runs for about a second in the job's
   * own loop, stopped at that loop's safepoint poll with the same stack at every look, having
   * finished no chunk, while the caller (whose elements are cheaper) waits for it. That looks
   * exactly like the deadlock; such a call is not looked at (the chunks' duration is unknown),
   * so it completes. (With the look not gated on a known, short chunk it threw
   * IllegalStateException here; the deadlock itself, with such options, is not recognised.)
   */
  static final class LongChunksHolder {
    static {
      Parallel.forRange(0, 800_000_000, Other::touch,
          Parallel.options().threads(2).sequentialCutoff(Duration.ZERO)
              .minChunkSize(400_000_000));
    }

    static final boolean DONE = true;
  }

  @Test
  void longChunksOfUnknownCostAreNotLookedAt() throws Exception {
    assertThat(initialize(LongChunksHolder.class)).isNull();
    assertThat(LongChunksHolder.DONE).isTrue();
    assertThat(Other.touched).isPositive();
  }

  @Test
  void slowElementsOutsideAnyInitializerComplete() {
    List<Integer> out = Parallel.map(range(32), i -> {
      try {
        Thread.sleep(15);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return i + 1;
    }, SPLIT);
    assertThat(out).hasSize(32).endsWith(32);
  }
}
