package dev.weft.bench;

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
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * Readers of one shared pair of longs, for the scaling run ({@code jmh/run-scaling.sh}, issue
 * #22): {@code SeqLock} against {@code StampedLock} (optimistic read with its read-lock
 * fallback) and {@code ReentrantReadWriteLock}, with as many reader threads as JMH's {@code -t}
 * says, and either no writer ({@code read}) or one writer ({@code readWithWriter}).
 *
 * <p>Unlike {@link SeqLockBench}'s {@code read_*} benchmarks, whose state is per thread (the
 * single-thread read cost), every reader here shares one pair and one lock, so a lock whose
 * readers write shared memory (the read-write lock's reader count) pays for it as threads are
 * added. The writer of {@code readWithWriter} is a plain thread started with the trial and
 * stopped after it, writing in a loop with the same implementation's write path, so that the
 * reader count can be swept with {@code -t} (JMH's {@code -tg} for {@code @Group} benchmarks
 * would apply to every benchmark of the run). Only the readers' throughput is measured; the
 * writer adds one busy thread, so at 16 readers 17 threads run. The readers and writers are
 * {@link SeqLockBench}'s ({@code SeqLockBench.Data}), on the same padded layout.
 *
 * <p>Issue goals: reads with no writer scale &ge; 12&times; from 1 to 16 threads, and are
 * &ge; 0.95&times; {@code StampedLock} optimistic at 16 threads.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SeqLockScalingBench extends SeqLockBench.Data {

  /** The implementation: its readers are measured, its write path is the writer's. */
  @Param({"SeqLock", "StampedLock", "ReentrantReadWriteLock"})
  public String impl;

  private Guarded guarded;
  private volatile boolean stop;
  private Thread writer;

  /**
   * Picks the implementation and, for {@code readWithWriter}, starts the writer.
   *
   * @param params which benchmark this trial runs
   */
  @Setup(Level.Trial)
  public void setUp(BenchmarkParams params) {
    guarded = Guarded.of(impl);
    stop = false;
    if (params.getBenchmark().endsWith("readWithWriter")) {
      Guarded g = guarded;
      writer =
          new Thread(
              () -> {
                while (!stop) {
                  g.write(this);
                }
              },
              "weft-bench-seqlock-writer");
      writer.setDaemon(true);
      writer.start();
    }
  }

  /**
   * Stops and joins the writer, if any.
   *
   * @throws InterruptedException if interrupted while joining
   */
  @TearDown(Level.Trial)
  public void tearDown() throws InterruptedException {
    stop = true;
    if (writer != null) {
      writer.join();
      writer = null;
    }
  }

  /**
   * One consistent read of the pair, no writer.
   *
   * @return x - y + x, so a torn read changes the result
   */
  @Benchmark
  public long read() {
    return guarded.read(this);
  }

  /**
   * One consistent read of the pair while one writer thread writes it continuously.
   *
   * @return x - y + x
   */
  @Benchmark
  public long readWithWriter() {
    return guarded.read(this);
  }

  /** The reader and writer of one implementation; one subclass per implementation. */
  abstract static class Guarded {
    abstract long read(SeqLockBench.Data d);

    abstract void write(SeqLockBench.Data d);

    static Guarded of(String impl) {
      switch (impl) {
        case "SeqLock":
          return new SeqLockGuarded();
        case "StampedLock":
          return new StampedGuarded();
        case "ReentrantReadWriteLock":
          return new RwGuarded();
        default:
          throw new IllegalArgumentException("unknown impl: " + impl);
      }
    }
  }

  static final class SeqLockGuarded extends Guarded {
    @Override
    long read(SeqLockBench.Data d) {
      return d.seqLockRead();
    }

    @Override
    void write(SeqLockBench.Data d) {
      d.seqLockWrite();
    }
  }

  static final class StampedGuarded extends Guarded {
    @Override
    long read(SeqLockBench.Data d) {
      return d.stampedRead();
    }

    @Override
    void write(SeqLockBench.Data d) {
      d.stampedWrite();
    }
  }

  static final class RwGuarded extends Guarded {
    @Override
    long read(SeqLockBench.Data d) {
      return d.rwRead();
    }

    @Override
    void write(SeqLockBench.Data d) {
      d.rwWrite();
    }
  }
}
