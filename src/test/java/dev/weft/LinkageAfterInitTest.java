package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The mechanism behind reviews 26 and 31, checked as a whole: no VarHandle call site of the core
 * is linked for the first time on a slow path after its class was initialized. A first run of a
 * signature-polymorphic call site links it, which allocates and takes stack; in a full heap or
 * near the stack's end that throws inside a protocol window (a lock left held, a grant to
 * nobody, a count left odd). Each class links its slow paths' sites in its initializer, by
 * running the methods that hold them: HotSpot links such a site per constant-pool entry, and
 * javac may give two calls with the same descriptor two entries, so a warm-up's own call of the
 * same VarHandle method links nothing of the real one (session 32 found SeqLockCore's reader
 * slot CAS linked on a first reader fallback that way).
 *
 * <p>{@link LinkageAfterInitMain} runs in a forked JVM with the JDK's linkage trace on; every
 * {@code linkMethod java.lang.invoke.VarHandle...} line after its mark whose receiver is a core
 * type is such a late link. Those of today's code are listed in {@code
 * linkage-after-init-baseline.txt}: 20 trace lines (of {@code Scope}, {@code ScopeTask}, the
 * pool, {@code Condvar}, {@code lockWhen}'s change waiters, {@code Mutex}, {@code OnceCell} and
 * {@code Parallel}), each audited as safe in session 33 (every site of the line first runs before
 * its operation changes anything, or a throw there leaves nothing unsettled) and preceded by a
 * {@code #} line giving the reason; the 32 other lines that session 32 listed (29 of them with a
 * site inside a protocol window) are linked in their classes' initializers now. The test fails on
 * any late link not in the list, so a new slow path cannot add one unnoticed. Session 32's run on
 * the code before its fix listed the reader slot's CAS ({@code
 * compareAndSet(SeqLockCore,Thread,Thread)}).
 */
@Timeout(120)
class LinkageAfterInitTest {

  @Test
  void noCoreVarHandleCallSiteIsFirstLinkedOnASlowPath() throws Exception {
    Path log = Files.createTempFile("weft-linkage-", ".log");
    Process p = new ProcessBuilder(System.getProperty("java.home") + "/bin/java",
        "-Djava.lang.invoke.MethodHandle.TRACE_METHOD_LINKAGE=true",
        "-cp", System.getProperty("java.class.path"), LinkageAfterInitMain.class.getName())
        .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    boolean ended;
    try {
      ended = p.waitFor(90, TimeUnit.SECONDS);
    } finally {
      p.destroyForcibly();
      p.waitFor(20, TimeUnit.SECONDS);
    }
    List<String> lines = Files.readAllLines(log);
    Files.deleteIfExists(log);
    assertThat(ended).as("the probe ended: %s", tail(lines)).isTrue();
    assertThat(lines).as("the probe ran: %s", tail(lines)).contains("MARK", "END");
    Set<String> core = coreSimpleNames();
    Set<String> late = new TreeSet<>();
    int early = 0;
    boolean marked = false;
    for (String l : lines) {
      if (l.equals("MARK")) {
        marked = true;
      } else if (l.startsWith(LINK) && core.contains(receiver(l))) {
        if (marked) {
          late.add(l);
        } else {
          early++;
        }
      }
    }
    // The trace is on and sees the core: the initializers' own links come before the mark.
    assertThat(early).as("core VarHandle links traced before the mark").isGreaterThan(50);
    Set<String> baseline = new TreeSet<>();
    try (InputStream in = LinkageAfterInitTest.class.getResourceAsStream(BASELINE)) {
      assertThat(in).as(BASELINE).isNotNull();
      for (String l : new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList()) {
        if (!l.isBlank() && !l.startsWith("#")) {
          baseline.add(l.trim());
        }
      }
    }
    Set<String> unexpected = new TreeSet<>(late);
    unexpected.removeAll(baseline);
    Set<String> gone = new TreeSet<>(baseline);
    gone.removeAll(late);
    System.out.printf("late core links: %d (baseline %d, not seen this run %d)%n",
        late.size(), baseline.size(), gone.size());
    assertThat(unexpected).as("core VarHandle call sites linked for the first time after class"
        + " initialization, not in %s: link them in the class's initializer, through the method"
        + " that holds the call", BASELINE).isEmpty();
  }

  private static final String LINK = "linkMethod java.lang.invoke.VarHandle.";
  private static final String BASELINE = "linkage-after-init-baseline.txt";

  /** The trace's receiver type: the first parameter's simple name, as the JDK prints it. */
  private static String receiver(String line) {
    int open = line.indexOf('(');
    int end = line.indexOf(',', open);
    int close = line.indexOf(')', open);
    if (open < 0 || close < 0) {
      return "";
    }
    return line.substring(open + 1, end < 0 || end > close ? close : end);
  }

  /** Simple names of the core's classes, nested ones included (the trace prints those). */
  private static Set<String> coreSimpleNames() throws Exception {
    File root = new File(Parallel.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    String[] files = new File(root, "dev/weft").list();
    assertThat(files).as("core classes in %s", root).isNotNull();
    Set<String> names = new TreeSet<>();
    for (String f : files) {
      if (f.endsWith(".class")) {
        String n = f.substring(0, f.length() - ".class".length());
        names.add(n.substring(n.lastIndexOf('$') + 1));
      }
    }
    return names;
  }

  private static String tail(List<String> lines) {
    return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
  }
}
