package dev.weft.bench.report;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Turns a results folder written by {@code jmh/run-benchmarks.sh} into {@code REPORT.md} and
 * PNG charts.
 *
 * <p>Usage: {@code java -Djava.awt.headless=true -cp jmh/target/benchmarks.jar
 * dev.weft.bench.report.BenchReport <results-dir> [--goals <goals.tsv>]}
 *
 * <p>Reads every {@code jmh*.json} in the folder (one JMH run each: {@code jmh.json}, or
 * {@code jmh-r<N>.json} for repeats and {@code jmh-t<T>[-r<N>].json} for thread-count sweeps)
 * and {@code machine.txt}; writes {@code REPORT.md} and {@code charts/*.png} into the same
 * folder. Without {@code --goals} it uses {@code <results-dir>/goals.tsv} if present, else
 * {@code jmh/goals.tsv} under the working directory, else reports no goals.
 *
 * <p>Conventions it relies on: benchmark (or {@code @Group}) names starting with {@code weft}
 * are weft's, all others are alternatives; results are compared within one benchmark class, one
 * mode, one parameter combination, one thread count and one group role; ratios are computed
 * only between results of the same JSON file.
 *
 * <p>Thread sweeps ({@code jmh-t<T>*.json}, from {@code run-benchmarks.sh THREADS=...} or
 * {@code run-scaling.sh}) get line charts of score against threads (logarithmic when the
 * scores span more than 20&times;), a table of weft ÷ each alternative at the highest thread
 * count measured, each variant's scaling (its speed there ÷ its speed at the lowest count),
 * and a summary of all of them after the goals. A benchmark that ran on one thread in a fork
 * with {@code -XX:ActiveProcessorCount=N} counts as running on N threads (how {@code
 * run-scaling.sh} sweeps {@code Parallel} and parallel streams, which size themselves by the
 * processors the JVM sees).
 */
public final class BenchReport {
  private BenchReport() {}

  /**
   * Entry point.
   *
   * @param args the results folder, optionally followed by {@code --goals <file>}
   * @throws IOException if the folder or a JSON file cannot be read, or the report not written
   */
  public static void main(String[] args) throws IOException {
    if (args.length != 1 && !(args.length == 3 && "--goals".equals(args[1]))) {
      System.err.println(
          "usage: java -Djava.awt.headless=true -cp jmh/target/benchmarks.jar"
              + " dev.weft.bench.report.BenchReport <results-dir> [--goals <goals.tsv>]");
      System.exit(2);
      return;
    }
    System.setProperty("java.awt.headless", "true");
    Path dir = Paths.get(args[0]);
    if (!Files.isDirectory(dir)) {
      System.err.println("BenchReport: not a folder: " + dir);
      System.exit(2);
      return;
    }
    Path goals;
    if (args.length == 3) {
      goals = Paths.get(args[2]);
      if (!Files.isRegularFile(goals)) {
        System.err.println("BenchReport: goals file not found: " + goals);
        System.exit(2);
        return;
      }
    } else if (Files.isRegularFile(dir.resolve("goals.tsv"))) {
      goals = dir.resolve("goals.tsv");
    } else {
      goals = Paths.get("jmh", "goals.tsv");
    }
    Path written = new Report(dir, goals).write();
    System.out.println("BenchReport: wrote " + written);
  }
}
