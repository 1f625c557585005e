package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 30: a real OutOfMemoryError (an exhausted heap, not a thrown one) inside weft's slow
 * paths, with the heap kept full while weft's own recovery runs. Each scenario runs in a fresh
 * JVM (Review30HeapMain) with {@code -Xmx32m -XX:+UseSerialGC -XX:-UseTLAB}; the JDK's
 * ReentrantLock under the same pressure is the reference. The fill spends HotSpot's four
 * preallocated OutOfMemoryErrors that carry a stack trace, so the errors weft sees have none;
 * where they were thrown comes from {@code -Xlog:exceptions}, printed as "throw sites".
 *
 * <p>Exit codes of the fork: 0 held (the OOME landed and the primitive recovered), 1 defect,
 * 3 the OOME did not land (no error reached the thread), 2 harness error.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class Review30HeapTest {
  private static final Pattern THROWN_IN =
      Pattern.compile("thrown in (?:interpreter|compiled) method <\\{method\\} \\{[^}]*\\} '([^']*)' "
          + "'[^']*' in '([^']*)'>");

  /** Runs one scenario; returns {exit code, RESULT line, OOME throw sites in weft}. */
  private static String[] fork(String scenario, String kind, String... jvmArgs) throws Exception {
    File log = File.createTempFile("review30", ".log");
    File ex = File.createTempFile("review30", ".exceptions");
    List<String> cmd = new ArrayList<>();
    cmd.add(System.getProperty("java.home") + "/bin/java");
    cmd.addAll(List.of("-Xmx32m", "-Xms32m", "-XX:+UseSerialGC", "-XX:-UseTLAB",
        "-Xlog:exceptions=info:file=" + ex.getAbsolutePath()));
    cmd.addAll(List.of(jvmArgs));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"),
        Review30HeapMain.class.getName(), scenario, kind));
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log).start();
      try {
        boolean ended = p.waitFor(120, TimeUnit.SECONDS);
        String s = Files.readString(log.toPath(), StandardCharsets.UTF_8);
        String result = s.lines().filter(l -> l.startsWith("RESULT")).findFirst().orElse(s);
        String sites = throwSites(Files.readAllLines(ex.toPath(), StandardCharsets.UTF_8));
        System.out.println(result.length() > 4000 ? result.substring(0, 4000) : result);
        System.out.println("  OOME throw sites (first weft frames): " + sites);
        assertThat(ended).as("the forked JVM ends; output:%n%s", s).isTrue();
        return new String[] {Integer.toString(p.exitValue()), result, sites};
      } finally {
        p.destroyForcibly();
        p.waitFor(10, TimeUnit.SECONDS);
      }
    } finally {
      Files.deleteIfExists(log.toPath());
      Files.deleteIfExists(ex.toPath());
    }
  }

  /** The chains of frames (outside the harness) that each OutOfMemoryError unwound through. */
  private static String throwSites(List<String> lines) {
    Set<String> chains = new LinkedHashSet<>();
    StringBuilder chain = new StringBuilder();
    boolean oome = false;
    for (String line : lines) {
      if (line.contains("[exceptions] Exception <a '")) {
        oome = line.contains("java/lang/OutOfMemoryError");
        continue;
      }
      Matcher m = THROWN_IN.matcher(line);
      if (!m.find()) {
        continue;
      }
      String frame = m.group(2).replace("dev/weft/", "").replace('/', '.') + "." + m.group(1);
      if (!oome || frame.contains("Review30HeapMain")) {
        if (chain.length() > 0) {
          chains.add(chain.toString());
        }
        chain.setLength(0);
        continue;
      }
      if (chain.length() > 0 && chain.toString().endsWith(frame)) {
        continue; // the same frame logged twice (throw, then unwind)
      }
      chain.append(chain.length() == 0 ? "" : "<").append(frame);
    }
    if (chain.length() > 0) {
      chains.add(chain.toString());
    }
    return chains.isEmpty() ? "(none)" : String.join(" | ", chains);
  }

  private static void expectHeld(String scenario, String kind, String... jvmArgs)
      throws Exception {
    // A fork whose OutOfMemoryError did not land where the scenario aims (exit 3: the
    // allocation fit after all) shows nothing either way: fork again, at most 4 times, and
    // skip if it never lands (CI, session 30: 1 of 1 such miss failed the JDK 25 phase).
    String[] r = fork(scenario, kind, jvmArgs);
    for (int i = 1; i < 4 && r[0].equals("3"); i++) {
      r = fork(scenario, kind, jvmArgs);
    }
    Assumptions.assumeFalse(r[0].equals("3"), "the OutOfMemoryError never landed in 4 forks");
    assertThat(r[1]).as("the harness ran").doesNotContain("harness-error");
    assertThat(r[0]).as("exit 0 = held (3 = the OOME did not land); %s", r[1]).isEqualTo("0");
  }

  // ---- defects: fail on the current code, pass once fixed

  /**
   * SpinLock's Condition: B is signalled while C holds the lock with the heap full; B's
   * re-acquisition inside await (SpinLock.acquireWait's new Waiter) throws OOME, the retry in
   * leaveAfterError throws again, and Throwable.addSuppressed (an ArrayList) throws a third:
   * await throws without the lock. The JDK's await re-acquires with the node it already has and
   * returns holding the lock (jdkConditionAwait below).
   */
  @Test
  void fixed_spinLockConditionAwaitThrowsWithoutTheLockOnHeapOom() throws Exception {
    expectHeld("cond", "spin");
  }

  /** As above, for TicketLock's Condition (the same SpinLockCondition). */
  @Test
  void fixed_ticketLockConditionAwaitThrowsWithoutTheLockOnHeapOom() throws Exception {
    expectHeld("cond", "ticket");
  }

  /**
   * OnceCell.getOrInit: the initialiser returns, and the cell's "done" record (OnceCellCore
   * .runClaimed's new Done, outside its try) throws OOME: the claim is never released; a waiter
   * parked on the cell and every later getOrInit wait for good (the cell says "initialising").
   */
  @Test
  void fixed_onceCellInitialisedValueLostOnHeapOomStrandsWaiters() throws Exception {
    expectHeld("onceOk", "-");
  }

  /**
   * OnceCell with FailurePolicy.REMEMBER: the initialiser throws, and recording the failure
   * (runClaimed's catch: new Done(null, t)) throws OOME before the claim is released: the same
   * stranding.
   */
  @Test
  void fixed_onceCellRememberedFailureOnHeapOomStrandsWaiters() throws Exception {
    expectHeld("onceFail", "-");
  }

  /**
   * Lock-order checking on: SpinLock.lock() takes the lock (CAS), then LockOrder.acquired grows
   * the thread's held list (Arrays.copyOf) and that throws OOME: lock() throws with the lock held
   * and not in the held list; a caller's {@code lock(); try {...} finally {unlock();}} never
   * unlocks it. A JDK lock() that throws has not acquired.
   */
  @Test
  void fixed_lockOrderHeldListGrowthOomLeavesLockHeld() throws Exception {
    expectHeld("lockOrder", "-", "-Ddev.weft.lockOrder=check");
  }

  // ---- held, and the JDK reference

  @Test
  void held_spinLockSlowPathOom() throws Exception {
    expectHeld("lock", "spin");
  }

  @Test
  void held_ticketLockSlowPathOom() throws Exception {
    expectHeld("lock", "ticket");
  }

  /**
   * Reference: ReentrantLock.lock() under the same pressure. JDK 17's AQS throws the node's OOME
   * (exit 0); JDK 25's catches it and waits without a node, so lock() returns holding (exit 3).
   */
  @Test
  void held_jdkLockSlowPathOom() throws Exception {
    String[] r = fork("lock", "jdk");
    assertThat(r[1]).contains("othersLock=true").contains("mainRelocks=true");
    assertThat(r[0]).isIn("0", "3");
  }

  /** Reference: the JDK's await allocates nothing after the release; it returns holding. */
  @Test
  void held_jdkConditionAwaitKeepsTheLockUnderAFullHeap() throws Exception {
    String[] r = fork("cond", "jdk");
    assertThat(r[1]).contains("holdsAtReturn=true").contains("D=signalled");
    assertThat(r[0]).isIn("0", "3");
  }

  /** Scope: a spawn in a full heap throws to the spawner; the slot comes back; close joins. */
  @Test
  void held_scopeSpawnOom() throws Exception {
    expectHeld("scope", "-");
  }
}
