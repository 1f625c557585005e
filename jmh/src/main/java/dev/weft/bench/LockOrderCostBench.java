package dev.weft.bench;

import dev.weft.Mutex;
import dev.weft.RwLock;
import dev.weft.SeqLock;
import dev.weft.SpinLock;
import dev.weft.TicketLock;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cost of lock-order checking ({@code dev.weft.LockOrder}, issue 21) on the uncontended
 * acquire+release of every covered lock, one thread.
 *
 * <ul>
 *   <li>{@code alone}: one lock taken and released with nothing else held, the common case.
 *   <li>{@code nested}: the lock taken and released while an outer {@code Mutex} is held, so
 *       that with checking on each acquisition looks up one known edge.
 * </ul>
 *
 * <p>{@code check=off} is the production setting: the goal is "within noise, &le; 1%"
 * of the same lock without the hooks. The hooks cannot be compiled out, so compare against the
 * commit before them: this file refers to {@code LockOrder} only through reflection, and only
 * for {@code check=on}, so it compiles unchanged on that commit (b5aca1d). To compare:
 *
 * <pre>{@code
 * # on this branch
 * ./mvnw -q -pl jmh -am package -DskipTests
 * java -jar jmh/target/benchmarks.jar LockOrderCostBench -p check=off -f 5 -rf json -rff after.json
 * # on b5aca1d, with this file copied into jmh/src/main/java/dev/weft/bench
 * java -jar jmh/target/benchmarks.jar LockOrderCostBench -p check=off -f 5 -rf json -rff before.json
 * }</pre>
 *
 * <p>{@code check=on} reports the cost of checking in THROW mode (LOG costs the same while no
 * inversion is found). Each {@code lock} x {@code check} pair runs in its own fork, so the
 * switch is constant for the whole fork, as it is in production.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(3)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@SuppressWarnings("try") // guards held for their scope only
public class LockOrderCostBench {

  /** The lock under test. */
  @Param({"SpinLock", "TicketLock", "Mutex", "RwLockRead", "RwLockWrite", "SeqLockWrite"})
  public String lock;

  /** Whether lock-order checking is on (THROW mode) for this fork. */
  @Param({"off", "on"})
  public String check;

  private final SpinLock spin = new SpinLock();
  private final TicketLock ticket = new TicketLock();
  private final Mutex<long[]> mutex = new Mutex<>(new long[1]);
  private final RwLock<long[]> rw = new RwLock<>(new long[1]);
  private final SeqLock seq = new SeqLock();
  private final Mutex<Object> outer = new Mutex<>(new Object());
  private long counter;
  private int kind; // the index of `lock` in LOCKS: an int switch, resolved once per fork

  private static final java.util.List<String> LOCKS =
      java.util.List.of("SpinLock", "TicketLock", "Mutex", "RwLockRead", "RwLockWrite", "SeqLockWrite");

  /**
   * Switches checking on for {@code check=on}, before anything is compiled.
   *
   * @throws ReflectiveOperationException if {@code check=on} runs where LockOrder is missing
   */
  @Setup(Level.Trial)
  public void setUp() throws ReflectiveOperationException {
    kind = LOCKS.indexOf(lock);
    if (kind < 0) {
      throw new IllegalArgumentException("unknown lock " + lock);
    }
    if (check.equals("on")) {
      Class<?> lo = Class.forName("dev.weft.LockOrder");
      Class<?> mode = Class.forName("dev.weft.LockOrder$Mode");
      @SuppressWarnings({"unchecked", "rawtypes"})
      Object thr = Enum.valueOf((Class) mode, "THROW");
      lo.getMethod("enable", mode).invoke(null, thr);
    } else if (!check.equals("off")) {
      throw new IllegalArgumentException("check must be off or on: " + check);
    }
  }

  /**
   * Switches checking off again.
   *
   * @throws ReflectiveOperationException never in practice
   */
  @TearDown(Level.Trial)
  public void tearDown() throws ReflectiveOperationException {
    if (check.equals("on")) {
      Class.forName("dev.weft.LockOrder").getMethod("disable").invoke(null);
    }
  }

  /**
   * Acquire and release with nothing else held.
   *
   * @return the counter, so the work is not eliminated
   * @throws InterruptedException never (uncontended)
   */
  @Benchmark
  public long alone() throws InterruptedException {
    return once();
  }

  /**
   * Acquire and release while an outer Mutex is held (one known edge with checking on).
   *
   * @return the counter, so the work is not eliminated
   * @throws InterruptedException never (uncontended)
   */
  @Benchmark
  public long nested() throws InterruptedException {
    try (Mutex.Guard<Object> g = outer.lock()) {
      return once();
    }
  }

  private long once() throws InterruptedException {
    switch (kind) {
      case 0: // SpinLock
        spin.lock();
        try {
          return ++counter;
        } finally {
          spin.unlock();
        }
      case 1: // TicketLock
        ticket.lock();
        try {
          return ++counter;
        } finally {
          ticket.unlock();
        }
      case 2: // Mutex
        try (Mutex.Guard<long[]> g = mutex.lock()) {
          return ++g.get()[0];
        }
      case 3: // RwLockRead
        try (RwLock.ReadGuard<long[]> g = rw.read()) {
          return g.get()[0] + ++counter;
        }
      case 4: // RwLockWrite
        try (RwLock.WriteGuard<long[]> g = rw.write()) {
          return ++g.get()[0];
        }
      case 5: // SeqLockWrite
        try (SeqLock.WriteGuard g = seq.write()) {
          return ++counter;
        }
      default:
        throw new IllegalArgumentException("unknown lock " + lock);
    }
  }
}
