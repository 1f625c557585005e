package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * No weft class with a static initializer is first initialized on a slow path. {@link
 * ColdInitMain} runs in a fresh JVM with {@code -Xlog:class+init=info}: it makes one of each
 * public primitive, then takes their slow paths (contention, timeouts, interrupts, conditions,
 * failures, misuse); the JVM's log names every class as it is initialized.
 *
 * <p>Why: a slow path may first be taken near the end of a thread's stack, and a class whose
 * initializer overflows there fails for good (every later use in the JVM: {@code
 * NoClassDefFoundError}). Session 26 met it twice: {@code java.lang.invoke.LambdaForm} broken
 * for a whole JVM by {@code SpinBackoff}'s initializer run inside a first timed-out join near
 * the stack's end ({@code Review26ColdLinkTest}), and {@code LockOrder$Held} in session 25.
 *
 * <p>Before the fix (the primitives' static initializers initialize their slow paths' classes,
 * {@code StackHeadroom.initializeNow}) 13 classes were first initialized on slow paths, on JDK 17
 * and 25 alike: SpinBackoff, ProtocolWindows, StackHeadroom, SpinLockCondition,
 * Mutex$ChangeWaiter, WaitingRoom, Scope$FailurePolicy, ScopeTask, Scope$DeadlineTimer,
 * ParallelPool, ParallelJob, ParallelJob$Worker and ParallelPool$Shared. After: none.
 */
class Review26ColdInitTest {
  @Test
  @Timeout(120)
  void fixed_noWeftClassIsFirstInitializedOnASlowPath() throws Exception {
    String javaCmd = System.getProperty("java.home") + "/bin/java";
    Process p =
        new ProcessBuilder(
                javaCmd,
                "-Xlog:class+init=info",
                "-cp",
                System.getProperty("java.class.path"),
                ColdInitMain.class.getName())
            .redirectErrorStream(true)
            .start();
    try {
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(100, TimeUnit.SECONDS)).as("the forked JVM ends").isTrue();
      assertThat(p.exitValue()).as(tail(out)).isZero();
      assertThat(out).contains(ColdInitMain.MARK).contains("---- done ----");
      List<String> before = new ArrayList<>();
      List<String> late = new ArrayList<>();
      boolean marked = false;
      for (String line : out.lines().toList()) {
        if (line.contains(ColdInitMain.MARK)) {
          marked = true;
          continue;
        }
        int at = line.indexOf("Initializing 'dev/weft/");
        // "(no method)": no static initializer, nothing that can fail
        if (at < 0 || line.contains("(no method)")) {
          continue;
        }
        String name = line.substring(at + 14, line.indexOf('\'', at + 14)).replace('/', '.');
        (marked ? late : before).add(name);
      }
      assertThat(before).as("the log names the classes initialized up front (log format)")
          .contains("dev.weft.SpinLock", "dev.weft.Scope", "dev.weft.SpinBackoff");
      assertThat(late).as("weft classes first initialized on a slow path").isEmpty();
    } finally {
      p.destroyForcibly();
    }
  }

  private static String tail(String out) {
    return out.length() > 4000 ? out.substring(out.length() - 4000) : out;
  }
}
