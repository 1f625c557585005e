package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 30c: a real OutOfMemoryError (an exhausted heap) in Mutex's and Parallel's slow paths.
 * Each scenario runs in a fresh JVM (Review30cHeapMain, {@code -Xmx32m -XX:+UseSerialGC
 * -XX:-UseTLAB}); OOME sites come from {@code -Xlog:exceptions} (the errors weft sees have no
 * stack trace once HotSpot's preallocated ones are spent). Fork exit: 0 held, 1 defect, 3 the
 * OOME did not land, 2 harness error.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class Review30cHeapTest {
  private static final Pattern FRAME =
      Pattern.compile("thrown in (?:interpreter|compiled) method <\\{method\\} \\{[^}]*\\} '([^']*)' "
          + "'[^']*' in '([^']*)'>");

  private static String[] fork(String scenario, String kind) throws Exception {
    File out = File.createTempFile("review30c", ".out");
    File exLog = File.createTempFile("review30c", ".ex");
    List<String> cmd = new ArrayList<>(List.of(System.getProperty("java.home") + "/bin/java",
        "-Xmx32m", "-Xms32m", "-XX:+UseSerialGC", "-XX:-UseTLAB",
        "-Xlog:exceptions=info:file=" + exLog.getAbsolutePath(),
        "-cp", System.getProperty("java.class.path"), Review30cHeapMain.class.getName(),
        scenario, kind));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out).start();
    try {
      boolean ended = p.waitFor(150, TimeUnit.SECONDS);
      String s = Files.readString(out.toPath(), StandardCharsets.UTF_8);
      String result = s.lines().filter(l -> l.startsWith("RESULT")).findFirst().orElse(s);
      String sites = oomeSites(Files.readAllLines(exLog.toPath(), StandardCharsets.UTF_8));
      System.out.println(result.length() > 3000 ? result.substring(0, 3000) : result);
      System.out.println("  OOME sites (weft frames, count): " + sites);
      assertThat(ended).as("fork ends; output:%n%s", s).isTrue();
      return new String[] {Integer.toString(p.exitValue()), result, sites};
    } finally {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
      Files.deleteIfExists(out.toPath());
      Files.deleteIfExists(exLog.toPath());
    }
  }

  /** For each OutOfMemoryError, the first five weft frames it was thrown in, with counts. */
  private static String oomeSites(List<String> lines) {
    Map<String, Integer> sites = new LinkedHashMap<>();
    boolean oome = false;
    StringBuilder site = new StringBuilder();
    int depth = 0;
    for (String line : lines) {
      if (line.contains("[exceptions] Exception <a '")) {
        if (site.length() > 0) {
          sites.merge(site.toString(), 1, Integer::sum);
        }
        site.setLength(0);
        depth = 0;
        oome = line.contains("java/lang/OutOfMemoryError");
        continue;
      }
      Matcher m = FRAME.matcher(line);
      if (!oome || !m.find()) {
        continue;
      }
      String cls = m.group(2);
      if (!cls.startsWith("dev/weft/") || cls.contains("Review30c") || depth >= 5) {
        continue;
      }
      String frame = cls.replace("dev/weft/", "") + "." + m.group(1);
      if (site.toString().endsWith(frame)) {
        continue;
      }
      site.append(depth == 0 ? "" : "<").append(frame);
      depth++;
    }
    if (site.length() > 0) {
      sites.merge(site.toString(), 1, Integer::sum);
    }
    return sites.isEmpty() ? "(none)" : sites.toString();
  }

  private static void expectHeld(String scenario, String kind) throws Exception {
    // A fork whose OutOfMemoryError did not land where the scenario aims (exit 3: the
    // allocation fit after all) shows nothing either way: fork again, at most 4 times, and
    // skip if it never lands (CI, session 30: 1 of 1 such miss failed the JDK 25 phase).
    String[] r = fork(scenario, kind);
    for (int i = 1; i < 4 && r[0].equals("3"); i++) {
      r = fork(scenario, kind);
    }
    Assumptions.assumeFalse(r[0].equals("3"), "the OutOfMemoryError never landed in 4 forks");
    assertThat(r[1]).as("harness ran").doesNotContain("harness-error");
    assertThat(r[0]).as("exit 0 = held (1 defect, 3 the OOME missed): %s | sites %s", r[1], r[2])
        .isEqualTo("0");
  }

  // ---- fixed in session 30 (both failed before the fix)

  /**
   * The first release of a Mutex in the JVM, made in a full heap: Mutex.Sync.tryRelease clears
   * the holder, then RELEASES.setOpaque (its first execution links the VarHandle call site, which
   * allocates) throws OOME; only StackOverflowError is caught there, so the state stays 1 with
   * no holder: the mutex is locked by nobody for good (close cannot be retried: IMSE; every
   * other locker waits for ever). ReentrantLock.unlock allocates nothing. 4 of 4 forks.
   *
   * <p>FIXED in session 30: tryRelease restores the holder on any Error before the state write,
   * and Mutex's initializer runs one release, so the call site is linked before any heap fills.
   */
  @Test
  void fixed_mutexFirstReleaseInFullHeapLeavesItLockedByNobody() throws Exception {
    expectHeld("guardClose", "0");
  }

  /**
   * Parallel.map with a user Executor whose thread starts the worker task once the heap is full:
   * Worker.run moves NEW -> RUNNING, then RUNNING_HERE.get()/set() (a ThreadLocal entry, and on
   * a fresh thread the map) throws OOME before the try whose finally calls workerExit: the
   * caller's `active` count never reaches 0 and the call parks in awaitWorkers for good, after
   * the heap is freed. A pool thread runs the same code. 1 of 1 fork (deterministic hand-off).
   *
   * <p>FIXED in session 30: the thread-local calls moved inside the try; workerExit stops the
   * caller counting the worker in a finally; and ParallelJob's initializer runs one worker over
   * an empty job, so a worker's first run and exit link nothing (with the first two changes
   * alone an OOME still landed where the exit's call sites were linked: 2 of 5 runs hung).
   */
  @Test
  void fixed_parallelWorkerStartingInFullHeapHangsTheCall() throws Exception {
    expectHeld("parallel", "exec");
  }

  // ---- held

  @Test
  void held_parallelPoolWorkerFunctionOome() throws Exception {
    expectHeld("parallel", "pool");
  }

  @Test
  void held_parallelNewThreadsWorkerFunctionOome() throws Exception {
    expectHeld("parallel", "threads");
  }

  // ---- Mutex: B locks while main holds, heap full but for k small arrays (24 rounds)

  @Test
  void held_mutexLock() throws Exception {
    expectHeld("mutex", "lock");
  }

  @Test
  void held_mutexWith() throws Exception {
    expectHeld("mutex", "with");
  }

  @Test
  void held_mutexUpdate() throws Exception {
    expectHeld("mutex", "update");
  }

  /**
   * Also seen here (3 of 5 forks): main's Guard.close in the full heap throws OOME from
   * LockOrder.enabled() (MethodHandle.maybeCustomize allocating a LambdaForm) with the mutex
   * still held; the harness retries the close once the heap is free, so it is reported, not
   * judged (a try-with-resources block would not retry).
   */
  @Test
  void held_mutexLockWhen() throws Exception {
    expectHeld("mutex", "lockWhen");
  }

  @Test
  void held_mutexLockWhenByWaiter() throws Exception {
    expectHeld("mutex", "lockWhenBW");
  }

  @Test
  void held_mutexAwaitThen() throws Exception {
    expectHeld("mutex", "awaitThen");
  }

  @Test
  void held_mutexAwaitThenByWaiter() throws Exception {
    expectHeld("mutex", "awaitThenBW");
  }
}
