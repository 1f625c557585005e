package dev.weft.bench;

import com.sun.management.OperatingSystemMXBean;
import dev.weft.Condvar;
import dev.weft.Mutex;
import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.openjdk.jmh.annotations.AuxCounters;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What a waiter's spin costs when its partner is slow (issue 20): the other side of {@link
 * HandoffLatencyBench}. A producer thread publishes an item every {@code intervalMicros}
 * (a timed park, so it sleeps in between) and signals; the benchmark thread waits for each
 * item. One operation is one wait, so the score is about the interval; the secondary results
 * say what the wait cost:
 *
 * <ul>
 *   <li>{@code wakeMicros}: from the producer's publication (a {@code nanoTime} stamp taken just
 *       before it releases the lock) to the consumer holding the item, mean per item: the
 *       latency a spin saves.
 *   <li>{@code cpuMicros}: the process's CPU time per item, all threads (producer included, the
 *       same work in every variant): what the spinning costs.
 * </ul>
 *
 * <p>{@code weftCondvar} waits with {@code Condvar.awaitWhile}, {@code weftAwaitThen} with
 * {@code Mutex.awaitThen} (automatic signalling), {@code jucCondition} with a {@code
 * ReentrantLock} + {@code Condition}. An interval of 20 &micro;s is answered within weft's
 * spin window, 100 &micro;s and 1 ms are not.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 4, time = 1)
@Threads(1)
public class CondvarPacedBench {
  @Param({"20", "100", "1000"})
  long intervalMicros;

  /** The item: [0] sequence number, [1] publication stamp (nanoTime). */
  final Mutex<long[]> weft = new Mutex<>(new long[2]);

  final Condvar cv = new Condvar();
  final ReentrantLock lock = new ReentrantLock();
  final Condition changed = lock.newCondition();
  final long[] jucItem = new long[2];

  volatile boolean stop;
  Thread producer;

  /** Which mechanism the producer signals, set by the benchmark method's own state. */
  volatile int mode;

  long consumed;

  @Setup(Level.Trial)
  public void start() {
    producer = new Thread(this::produce, "paced-producer");
    producer.setDaemon(true);
    producer.start();
  }

  @TearDown(Level.Trial)
  public void stop() throws InterruptedException {
    stop = true;
    producer.join(10_000);
  }

  private void produce() {
    long interval = intervalMicros * 1_000L;
    while (!stop) {
      LockSupport.parkNanos(interval);
      int m = mode;
      if (m == 0) {
        try (Mutex.Guard<long[]> g = weft.lock()) {
          long[] item = g.get();
          item[0]++;
          item[1] = System.nanoTime();
        }
        cv.notifyOne(); // for weftCondvar; awaitThen waiters are woken by the release itself
      } else {
        lock.lock();
        try {
          jucItem[0]++;
          jucItem[1] = System.nanoTime();
          changed.signal();
        } finally {
          lock.unlock();
        }
      }
    }
  }

  /** Per-iteration counters (not normalised by time). */
  @State(Scope.Thread)
  @AuxCounters(AuxCounters.Type.EVENTS)
  public static class PerItem {
    private static final OperatingSystemMXBean OS =
        (OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

    long items;
    long wakeNanos;
    long cpu0;

    @Setup(Level.Iteration)
    public void reset() {
      items = 0;
      wakeNanos = 0;
      cpu0 = OS.getProcessCpuTime();
    }

    /** Mean time from publication to the consumer holding the item, in microseconds. */
    public double wakeMicros() {
      return items == 0 ? 0 : wakeNanos / 1e3 / items;
    }

    /** Process CPU time per item, all threads, in microseconds. */
    public double cpuMicros() {
      return items == 0 ? 0 : (OS.getProcessCpuTime() - cpu0) / 1e3 / items;
    }

    void took(long stamp) {
      wakeNanos += System.nanoTime() - stamp;
      items++;
    }
  }

  @Benchmark
  public long weftCondvar(PerItem c) throws InterruptedException {
    mode = 0;
    try (Mutex.Guard<long[]> g = weft.lock()) {
      long seen = consumed;
      cv.awaitWhile(g, item -> item[0] == seen);
      long[] item = g.get();
      c.took(item[1]);
      consumed = item[0];
      return consumed;
    }
  }

  @Benchmark
  public long weftAwaitThen(PerItem c) throws InterruptedException {
    mode = 0;
    long seen = consumed;
    long[] got = weft.awaitThen(item -> item[0] != seen, item -> new long[] {item[0], item[1]});
    c.took(got[1]);
    consumed = got[0];
    return consumed;
  }

  @Benchmark
  public long jucCondition(PerItem c) throws InterruptedException {
    mode = 1;
    lock.lock();
    try {
      while (jucItem[0] == consumed) {
        changed.await();
      }
      c.took(jucItem[1]);
      consumed = jucItem[0];
      return consumed;
    } finally {
      lock.unlock();
    }
  }
}
