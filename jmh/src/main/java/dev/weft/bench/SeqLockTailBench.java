package dev.weft.bench;

import java.util.Locale;
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
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * SeqLock readers under a writer, tails included (issue #20): one reader thread's latency for
 * one consistent read of a shared pair ({@code SampleTime}: p50 … p99.99, max) while one writer
 * thread writes it, continuously ({@code writerPauseUs=0}) or pausing 1, 10 or 100 &micro;s
 * between writes. {@code SeqLock} against {@code StampedLock} (optimistic read with its
 * read-lock fallback) and {@code ReentrantReadWriteLock}.
 *
 * <p>The readers, writers and the padded pair are {@link SeqLockScalingBench}'s ({@link
 * SeqLockScalingBench.Guarded} over {@link SeqLockBench.Data}), so the code measured is the
 * scaling run's and {@link SeqLockBench}'s. The writer is a plain thread started with the trial
 * (as in {@link SeqLockScalingBench#readWithWriter}); its pause is a busy wait on {@link
 * System#nanoTime} (a sleep or park cannot wait 1 &micro;s), so the writer occupies one of the
 * two cores all the time and the reader the other. One reader: 1 reader + 1 writer fill the
 * 2 cores of the development machines. At tear-down each fork prints the writer's rate ("writer:
 * N writes/ms"), the writer-side throughput the issue asks about, which the report does not
 * parse (JMH's JSON has no place for a number from another thread in sample mode); reader
 * throughput under a continuous writer is {@link SeqLockScalingBench#readWithWriter}'s.
 *
 * <p>Issue #20 goals (continuous writer): a reader that falls back to the lock gets it before
 * the writer's next write section (bounded latency, visible as {@code max}); reader throughput
 * &ge; 1.0&times; {@code StampedLock}'s (here: the mean of the samples).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SeqLockTailBench extends SeqLockBench.Data {

  /** The implementation: its reader is measured, its write path is the writer's. */
  @Param({"SeqLock", "StampedLock", "ReentrantReadWriteLock"})
  public String impl;

  /** The writer's busy pause between two writes, in microseconds (0: writes back to back). */
  @Param({"0", "1", "10", "100"})
  public long writerPauseUs;

  private SeqLockScalingBench.Guarded guarded;
  private volatile boolean stop;
  private Thread writer;
  private volatile long writes;
  private long started;

  /** Picks the implementation and starts the writer. */
  @Setup(Level.Trial)
  public void setUp() {
    guarded = SeqLockScalingBench.Guarded.of(impl);
    stop = false;
    SeqLockScalingBench.Guarded g = guarded;
    long pause = TimeUnit.MICROSECONDS.toNanos(writerPauseUs);
    writer =
        new Thread(
            () -> {
              long n = 0;
              while (!stop) {
                g.write(this);
                n++;
                if (pause > 0) {
                  long until = System.nanoTime() + pause;
                  while (System.nanoTime() - until < 0 && !stop) {
                    Thread.onSpinWait();
                  }
                }
              }
              writes = n;
            },
            "weft-bench-seqlock-tail-writer");
    writer.setDaemon(true);
    started = System.nanoTime();
    writer.start();
  }

  /**
   * Stops and joins the writer and prints its write rate.
   *
   * @throws InterruptedException if interrupted while joining
   */
  @TearDown(Level.Trial)
  public void tearDown() throws InterruptedException {
    stop = true;
    writer.join();
    double ms = (System.nanoTime() - started) / 1e6;
    System.out.printf(Locale.ROOT, "writer: %.1f writes/ms (%s, pause %d us)%n",
        writes / ms, impl, writerPauseUs);
  }

  /**
   * One consistent read of the pair while the writer writes.
   *
   * @return x - y + x, so a torn read changes the result
   */
  @Benchmark
  @Threads(1)
  public long readUnderWriter() {
    return guarded.read(this);
  }
}
