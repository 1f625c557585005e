package dev.weft.bench;

import dev.weft.Mutex;
import dev.weft.RwLock;
import dev.weft.SeqLock;
import dev.weft.SpinLock;
import dev.weft.TicketLock;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
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
 * The cost of weft's JFR events (issue 21) on every lock that emits {@code
 * dev.weft.LockContended}.
 *
 * <ul>
 *   <li>{@code uncontended}: one thread, acquire + release. The event code sits only on the
 *       slow paths, so with {@code recording=none} this must match the commit before the events
 *       (the goal: within noise, &le; 1%), and a recording should not change it either.
 *   <li>{@code contended}: two threads hammering the same lock with a tiny critical section, so
 *       that many acquisitions take the slow path, each one a begin/end pair of the event (almost
 *       none last 20 ms, so almost none are committed at the default threshold).
 * </ul>
 *
 * <p>{@code recording}: {@code none} (no recording: the production case), {@code default}
 * (a recording started in the trial's setup with the JDK's {@code default} settings plus weft's
 * {@code dev/weft/weft.jfc}, 20 ms thresholds) or {@code all} (the same with weft's thresholds at
 * 0, so every slow-path acquisition commits an event: the worst case, for scale).
 *
 * <pre>{@code
 * ./mvnw -q -pl jmh -am package -DskipTests
 * java -jar jmh/target/benchmarks.jar JfrCostBench -f 3 -rf json -rff jfr-cost.json
 * # uncontended, no recording, against the commit before the events (83092f5), with this file
 * # copied there (it refers to no new weft API):
 * java -jar jmh/target/benchmarks.jar 'JfrCostBench.uncontended' -p recording=none -f 5
 * }</pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(3)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
@SuppressWarnings("try") // guards held for their scope only
public class JfrCostBench {

  /** The lock under test. */
  @Param({"SpinLock", "TicketLock", "Mutex", "RwLockRead", "RwLockWrite", "SeqLockWrite"})
  public String lock;

  /** No recording, a default one (20 ms thresholds), or one with weft's thresholds at 0. */
  @Param({"none", "default", "all"})
  public String recording;

  private static final List<String> LOCKS =
      List.of("SpinLock", "TicketLock", "Mutex", "RwLockRead", "RwLockWrite", "SeqLockWrite");
  private static final List<String> EVENTS =
      List.of(
          "dev.weft.LockContended",
          "dev.weft.ConditionWait",
          "dev.weft.OnceInit",
          "dev.weft.Scope",
          "dev.weft.Parallel");

  private final SpinLock spin = new SpinLock();
  private final TicketLock ticket = new TicketLock();
  private final Mutex<long[]> mutex = new Mutex<>(new long[1]);
  private final RwLock<long[]> rw = new RwLock<>(new long[1]);
  private final SeqLock seq = new SeqLock();
  private long counter; // written only under the lock (or read under the read lock)
  private int kind;
  private Recording rec;

  /**
   * Starts the recording, if any, before anything is measured.
   *
   * @throws Exception if the settings cannot be read
   */
  @Setup(Level.Trial)
  public void setUp() throws Exception {
    kind = LOCKS.indexOf(lock);
    if (kind < 0) {
      throw new IllegalArgumentException("unknown lock " + lock);
    }
    if (recording.equals("none")) {
      return;
    }
    Map<String, String> settings =
        new HashMap<>(Configuration.getConfiguration("default").getSettings());
    try (Reader r =
        new InputStreamReader(
            Objects.requireNonNull(
                SpinLock.class.getResourceAsStream("/dev/weft/weft.jfc"), "dev/weft/weft.jfc"),
            StandardCharsets.UTF_8)) {
      settings.putAll(Configuration.create(r).getSettings());
    }
    if (recording.equals("all")) {
      for (String e : EVENTS) {
        settings.put(e + "#threshold", "0 ns");
      }
    } else if (!recording.equals("default")) {
      throw new IllegalArgumentException("recording must be none, default or all: " + recording);
    }
    rec = new Recording(settings);
    rec.setToDisk(true);
    rec.setMaxSize(64L << 20); // bounded: the "all" case writes an event per slow acquisition
    rec.start();
  }

  /** Stops and discards the recording. */
  @TearDown(Level.Trial)
  public void tearDown() {
    if (rec != null) {
      rec.close();
    }
  }

  /**
   * One thread: acquire and release, never contended.
   *
   * @return the counter, so the work is not eliminated
   * @throws InterruptedException never
   */
  @Benchmark
  public long uncontended() throws InterruptedException {
    return once();
  }

  /**
   * Two threads on the same lock.
   *
   * @return the counter, so the work is not eliminated
   * @throws InterruptedException never
   */
  @Benchmark
  @Group("contended")
  @GroupThreads(2)
  public long contended() throws InterruptedException {
    return once();
  }

  private long once() throws InterruptedException {
    switch (kind) {
      case 0:
        spin.lock();
        try {
          return ++counter;
        } finally {
          spin.unlock();
        }
      case 1:
        ticket.lock();
        try {
          return ++counter;
        } finally {
          ticket.unlock();
        }
      case 2:
        try (Mutex.Guard<long[]> g = mutex.lock()) {
          return ++g.get()[0];
        }
      case 3:
        try (RwLock.ReadGuard<long[]> g = rw.read()) {
          return g.get()[0];
        }
      case 4:
        try (RwLock.WriteGuard<long[]> g = rw.write()) {
          return ++g.get()[0];
        }
      case 5:
        try (SeqLock.WriteGuard g = seq.write()) {
          return ++counter;
        }
      default:
        throw new IllegalArgumentException("unknown lock " + lock);
    }
  }
}
