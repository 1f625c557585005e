package dev.weft.testing;

import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The skeleton and helpers of the out-of-memory scenario mains that {@link HeapFork} runs:
 * {@link #runAndHalt} runs one scenario and prints its {@code RESULT} line, {@link #describe},
 * {@link #stack} and {@link #daemon} are their diagnostics and threads.
 *
 * <p>Everything {@link #runAndHalt} does after the scenario returns is run once before it
 * starts, with the heap free: in a full heap the first execution of a call site links it, and
 * linking allocates (a string concatenation, the first {@code ldc} of a string constant).
 */
@SuppressWarnings("SystemOut")
public final class Scenario {
  private Scenario() {}

  /**
   * One scenario of a main: returns {code, out}, code 0 held, 1 defect or 3 the OutOfMemoryError
   * missed, as a decimal string, and out the rest of the RESULT line.
   */
  @FunctionalInterface
  public interface Runner {
    String[] run(String scenario, String kind) throws Exception;
  }

  /** By exit code: 0 held, 1 defect, 2 harness error, 3 miss. */
  private static final String[] VERDICTS = {"held", "defect", "error", "miss"};

  static volatile @Nullable Object sink;

  /** The simple class name and first 3 frames: {@code describe(t, 3, false)}. */
  public static String describe(@Nullable Throwable t) {
    return describe(t, 3, false);
  }

  /**
   * "none" for null, else the throwable's simple class name, "@" and its first {@code frames}
   * frames (class without "dev.weft.", method, ":line" if {@code lines}), joined by "<".
   */
  public static String describe(@Nullable Throwable t, int frames, boolean lines) {
    if (t == null) {
      return "none";
    }
    StringBuilder sb = new StringBuilder(t.getClass().getSimpleName());
    StackTraceElement[] st = t.getStackTrace();
    for (int i = 0; i < Math.min(frames, st.length); i++) {
      sb.append(i == 0 ? "@" : "<").append(st[i].getClassName().replace("dev.weft.", ""))
          .append('.').append(st[i].getMethodName());
      if (lines) {
        sb.append(':').append(st[i].getLineNumber());
      }
    }
    return sb.toString();
  }

  /** The thread's state and frames, about 500 characters at most ("-" for null). */
  public static String stack(@Nullable Thread t) {
    return stack(t, 500);
  }

  /**
   * "-" for null, else the thread's state, then " &lt;class.method:line" per frame (class
   * without "dev.weft."), stopping after the frame that takes it past {@code maxChars}.
   */
  public static String stack(@Nullable Thread t, int maxChars) {
    if (t == null) {
      return "-";
    }
    StringBuilder st = new StringBuilder(t.getState().toString());
    for (StackTraceElement el : t.getStackTrace()) {
      st.append(" <").append(el.getClassName().replace("dev.weft.", "")).append('.')
          .append(el.getMethodName()).append(':').append(el.getLineNumber());
      if (st.length() > maxChars) {
        break;
      }
    }
    return st.toString();
  }

  /** Starts a daemon platform thread with the name running r. */
  public static Thread daemon(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** {@link #runAndHalt(String[], Function, Runner)} with {@link #describe(Throwable)}. */
  public static void runAndHalt(String[] args, Runner run) {
    runAndHalt(args, Scenario::describe, run);
  }

  /**
   * The main of a scenario JVM: runs {@code run(args[0], args[1])} (kind "-" when absent),
   * prints {@code RESULT <scenario> <kind> <held|defect|miss|error> <out>} and halts with the
   * code. A Throwable out of the scenario frees the heap and reads as code 2, out
   * "harness-error " + describe(it), its stack trace on stderr. Call the main's own warm-ups
   * first; this warms its own call sites (describe included) before the scenario runs.
   */
  @SuppressWarnings("CatchAndPrintStackTrace")
  public static void runAndHalt(String[] args, Function<? super Throwable, String> describe,
      Runner run) {
    String scenario = args[0];
    String kind = args.length > 1 ? args[1] : "-";
    // Runs, with the heap free, every call and string the path after the scenario makes.
    Heap.free();
    Integer.parseInt("0");
    for (int c = 0; c <= VERDICTS.length; c++) {
      sink = line(scenario, kind, c, harnessError(describe, new OutOfMemoryError()));
    }
    sink = null;
    System.out.flush();
    int code;
    String out;
    try {
      String[] r = run.run(scenario, kind);
      code = Integer.parseInt(r[0]);
      out = r[1];
    } catch (Throwable t) {
      Heap.free();
      code = 2;
      out = harnessError(describe, t);
      try {
        t.printStackTrace();
      } catch (Throwable ignored) {
        // the RESULT line matters; a trace that cannot be printed does not
      }
    }
    System.out.println(line(scenario, kind, code, out));
    System.out.flush();
    Runtime.getRuntime().halt(code);
  }

  private static String harnessError(Function<? super Throwable, String> describe, Throwable t) {
    return "harness-error " + describe.apply(t);
  }

  private static String line(String scenario, String kind, int code, String out) {
    String verdict = code >= 0 && code < VERDICTS.length ? VERDICTS[code] : "error";
    return "RESULT " + scenario + " " + kind + " " + verdict + " " + out;
  }
}
