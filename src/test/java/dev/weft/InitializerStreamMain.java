package dev.weft;

import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Forked by {@link ParallelInitializerDeadlockTest}: the JDK's reference for a parallel call in a
 * static initializer whose function is a lambda of the class being initialized. {@code stream}
 * uses a parallel stream, {@code weft} {@link Parallel#map}. Prints "ENDED ..." when the
 * initializer has ended (either way) and exits 0; a hang prints nothing more.
 */
final class InitializerStreamMain {
  private InitializerStreamMain() {}

  static String mode = "weft";

  static final class Table {
    static int slow(int i) {
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return i;
    }

    static final List<Integer> ROWS =
        mode.equals("stream")
            ? IntStream.range(0, 64).boxed().parallel().map(i -> slow(i) * 2)
                .collect(Collectors.toList())
            : Parallel.map(IntStream.range(0, 64).boxed().collect(Collectors.toList()),
                i -> slow(i) * 2, Parallel.options().threads(4));
  }

  @SuppressWarnings("SystemOut")
  public static void main(String[] args) {
    mode = args[0];
    System.out.println("STARTED " + mode);
    System.out.flush();
    String outcome;
    try {
      outcome = "rows " + Table.ROWS.size();
    } catch (ExceptionInInitializerError e) {
      outcome = "threw " + e.getCause();
    }
    System.out.println("ENDED " + outcome);
    System.out.flush();
    Runtime.getRuntime().halt(0);
  }
}
