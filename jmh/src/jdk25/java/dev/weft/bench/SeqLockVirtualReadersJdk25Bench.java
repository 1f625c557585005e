package dev.weft.bench;

import dev.weft.SeqLock;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.StampedLock;
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
 * JDK 25 only (issue #20, session 17): a writer behind many virtual readers, the scenario of
 * session 15's review ({@code Review15Test.openDefect_seqLockWriterBehindVirtualReaders...}).
 * One operation: {@value #READERS} virtual readers loop (read two fields, park 20 &micro;s) while
 * one virtual writer does {@value #WRITES} writes, parking 1 &micro;s inside every 16th; the
 * score is the writer's time ({@code SingleShotTime}, ms). The readers' side of the trade is
 * printed after each iteration on standard output ({@code readers: N reads, p50/p99/max µs}):
 * a lock can make the writer fast by starving the readers, so both are reported.
 *
 * <p>{@code SeqLock} against {@code StampedLock} used as the JDK documents it (optimistic read,
 * {@code readLock} fallback). Until session 17 a virtual {@code SeqLock} reader registered at its
 * first fallback and the writer waited after every blocking write for each registered reader to
 * be scheduled: 10-15x {@code StampedLock}'s time. No goal yet (reported; docs/seqlock.md).
 *
 * <p>Cannot hang: an operation gives up after {@value #CAP_SECONDS} s (it stops the readers and
 * throws, which fails this point). Run with {@code -wi 2 -i 5}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-preview")
@Warmup(iterations = 2)
@Measurement(iterations = 5)
public class SeqLockVirtualReadersJdk25Bench {
  static final int READERS = 64;
  static final int WRITES = 20_000;
  static final long CAP_SECONDS = 30;

  /** The lock under test. */
  @Param({"SeqLock", "StampedLock"})
  public String lock;

  private SeqLock seqLock;
  private StampedLock stamped;
  private final long[] data = new long[2];
  private volatile boolean stop;
  private long[][] latencies;
  private final AtomicLong torn = new AtomicLong();

  /** Creates the lock for this fork. */
  @Setup(Level.Trial)
  public void setUp() {
    seqLock = "SeqLock".equals(lock) ? new SeqLock() : null;
    stamped = seqLock == null ? new StampedLock() : null;
  }

  /**
   * The whole scenario, once.
   *
   * @return the writer's final value (checked)
   * @throws InterruptedException if interrupted while joining
   */
  @Benchmark
  public long writerBehindReaders() throws InterruptedException {
    stop = false;
    latencies = new long[READERS][];
    Thread[] readers = new Thread[READERS];
    for (int i = 0; i < READERS; i++) {
      int r = i;
      readers[i] = Thread.ofVirtual().name("weft-bench-reader-" + i).start(() -> readLoop(r));
    }
    Thread writer = Thread.ofVirtual().name("weft-bench-writer").start(this::writeLoop);
    writer.join(TimeUnit.SECONDS.toMillis(CAP_SECONDS));
    boolean finished = !writer.isAlive();
    stop = true;
    for (Thread t : readers) {
      t.join();
    }
    if (!finished) {
      writer.join(); // stop ends its loop
      throw new IllegalStateException(lock + ": the writer did not finish in " + CAP_SECONDS + " s");
    }
    if (torn.get() != 0) {
      throw new IllegalStateException(lock + ": " + torn.get() + " torn reads");
    }
    return data[0];
  }

  /** Prints the readers' side of the last operation. */
  @TearDown(Level.Iteration)
  public void printReaders() {
    long[] all = Arrays.stream(latencies).flatMapToLong(Arrays::stream).sorted().toArray();
    if (all.length == 0) {
      return;
    }
    System.out.printf(
        "%nreaders (%s): %d reads, p50 %.1f us, p99 %.1f us, max %.1f us%n",
        lock,
        all.length,
        all[all.length / 2] / 1e3,
        all[(int) (all.length * 0.99)] / 1e3,
        all[all.length - 1] / 1e3);
  }

  private void readLoop(int r) {
    long[] lat = new long[1 << 14];
    int n = 0;
    while (!stop) {
      long t0 = System.nanoTime();
      long sum = read();
      long t = System.nanoTime() - t0;
      if (n < lat.length) {
        lat[n++] = t;
      }
      if (sum != 0) {
        torn.incrementAndGet();
      }
      LockSupport.parkNanos(20_000L);
    }
    latencies[r] = Arrays.copyOf(lat, n);
  }

  private long read() {
    if (seqLock != null) {
      return seqLock.readLong(() -> data[0] + data[1]);
    }
    long s = stamped.tryOptimisticRead();
    long v = data[0] + data[1];
    if (!stamped.validate(s)) {
      s = stamped.readLock();
      try {
        v = data[0] + data[1];
      } finally {
        stamped.unlockRead(s);
      }
    }
    return v;
  }

  @SuppressWarnings("try") // the guard is only closed
  private void writeLoop() {
    for (int i = 0; i < WRITES && !stop; i++) {
      boolean park = (i & 15) == 0;
      if (seqLock != null) {
        try (SeqLock.WriteGuard g = seqLock.writeUninterruptibly()) {
          section(park);
        }
      } else {
        long s = stamped.writeLock();
        try {
          section(park);
        } finally {
          stamped.unlockWrite(s);
        }
      }
    }
  }

  private void section(boolean park) {
    data[0]++;
    if (park) {
      LockSupport.parkNanos(1_000L);
    }
    data[1]--;
  }
}
