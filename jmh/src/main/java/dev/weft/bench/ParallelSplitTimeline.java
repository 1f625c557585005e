package dev.weft.bench;

import dev.weft.Parallel;
import java.util.Locale;
import java.util.concurrent.ThreadFactory;

/**
 * Where the time of a split goes (a plain main class, run from the benchmarks jar): calls
 * {@code Parallel.map} on {@code n} elements of the chapter's expensive computation with new
 * threads, through a {@link ThreadFactory} that timestamps when the worker thread is created,
 * when its body starts running and when it ends, and compares the call with the plain loop.
 *
 * <pre>
 * java -cp jmh/target/benchmarks.jar dev.weft.bench.ParallelSplitTimeline [n] [rounds]
 * </pre>
 *
 * <p>Issue #4 asks for 1.8&times; the loop at N=1e3 (about 500 &micro;s of work). This shows
 * why a new platform thread cannot give that on the benchmark VM: {@code Thread.start} and the
 * new thread's set-up take longer than the probe before it, and the caller is blocked in
 * {@code start} for much of that time.
 */
public final class ParallelSplitTimeline {
  private ParallelSplitTimeline() {}

  private static volatile long created;
  private static volatile long running;
  private static volatile long ended;

  /**
   * Runs the measurement.
   *
   * @param args optional element count (default 1000) and measured rounds (default 400)
   */
  public static void main(String[] args) {
    int n = args.length > 0 ? Integer.parseInt(args[0]) : 1000;
    int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 400;
    long[] data = new long[n];
    for (int i = 0; i < n; i++) {
      data[i] = i;
    }
    ThreadFactory timed =
        r -> {
          created = System.nanoTime();
          return new Thread(
              () -> {
                running = System.nanoTime();
                r.run();
                ended = System.nanoTime();
              },
              "weft-timeline");
        };
    Parallel.Options options = Parallel.options().threadFactory(timed);
    long sink = 0;
    for (int w = 0; w < 3000; w++) { // warm-up: both paths compiled
      sink += Parallel.map(data, ParallelBench::expensive, options)[n / 2];
      sink += loop(data)[n / 3];
    }
    long seq = 0;
    long call = 0;
    long toCreate = 0;
    long toRun = 0;
    long workerEnd = 0;
    long toReturn = 0;
    int splits = 0;
    for (int r = 0; r < rounds; r++) {
      long s0 = System.nanoTime();
      sink += loop(data)[1];
      seq += System.nanoTime() - s0;
      created = 0L;
      long t0 = System.nanoTime();
      sink += Parallel.map(data, ParallelBench::expensive, options)[2];
      long t1 = System.nanoTime();
      call += t1 - t0;
      if (created != 0L) {
        splits++;
        toCreate += created - t0;
        toRun += running - created;
        workerEnd += ended - t0;
        toReturn += t1 - ended;
      }
    }
    int s = Math.max(1, splits);
    System.out.printf(
        Locale.ROOT,
        "n=%d: loop %.1f us, Parallel.map %.1f us (%.2fx), split in %d of %d calls%n"
            + "  call start -> worker thread created: %.1f us (the probe, on the caller)%n"
            + "  created -> worker body running:      %.1f us (Thread.start and thread set-up)%n"
            + "  call start -> worker body ended:     %.1f us%n"
            + "  worker ended -> call returned:       %.1f us (wake-up and join)%n"
            + "(checksum %d)%n",
        n, seq / 1e3 / rounds, call / 1e3 / rounds, (double) seq / call, splits, rounds,
        toCreate / 1e3 / s, toRun / 1e3 / s, workerEnd / 1e3 / s, toReturn / 1e3 / s, sink & 1);
  }

  private static long[] loop(long[] data) {
    long[] out = new long[data.length];
    for (int i = 0; i < data.length; i++) {
      out[i] = ParallelBench.expensive(data[i]);
    }
    return out;
  }
}
