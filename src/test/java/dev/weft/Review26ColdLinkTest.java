package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A core operation first run near the end of a thread's stack must keep working for the rest of
 * the JVM. Each case runs {@link ColdLinkMain} in a fresh JVM (nothing linked or initialized
 * yet): the operation at every depth near the end of a thread's stack, then once at the top.
 *
 * <p>Found by session 25's CI (JDK 25): {@code Review23bScopeJoinTest
 * .held_interruptOrTimeoutRacingTheEnd} got {@code BootstrapMethodError} from a timed-out {@code
 * join}, because an earlier test's first timed-out join had run near its stack's end: the
 * TimeoutException message's string concatenation was an invokedynamic call site, its link
 * overflowed inside the JDK, and a failed link stays failed (see {@link CoreBytecodeTest}).
 *
 * <ul>
 *   <li>{@code join}, before session 26: 3 of 3 fresh JVMs failed on JDK 25 (held on JDK 17,
 *       whose concatenation bootstrap does not wrap the overflow). With the concatenations
 *       compiled inline it still failed, differently: the timed-out join's first run also
 *       initialized {@code SpinBackoff} there, whose initializer made the JVM's first method
 *       handle, and {@code java.lang.invoke.LambdaForm}'s initializer overflowed: every method
 *       handle, lambda and concatenation in that JVM then threw {@code NoClassDefFoundError}.
 *       Fixed: the classes a primitive's slow paths use are initialized with the primitive.
 *   <li>{@code open} and {@code spawn} held before (3 of 3 each): kept, as the same kind of
 *       line (the scope's and the thread's names) is on their paths.
 * </ul>
 */
class Review26ColdLinkTest {
  @ParameterizedTest
  @ValueSource(strings = {"join", "open", "spawn"})
  @Timeout(120)
  void fixed_firstRunNearTheStackEndInAFreshJvm(String op) throws Exception {
    String javaCmd = System.getProperty("java.home") + "/bin/java";
    Process p =
        new ProcessBuilder(
                javaCmd,
                "-cp",
                System.getProperty("java.class.path"),
                ColdLinkMain.class.getName(),
                op)
            .redirectErrorStream(true)
            .start();
    try {
      assertThat(p.waitFor(100, TimeUnit.SECONDS)).as("the forked JVM ends").isTrue();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.exitValue()).as(out).isZero();
      assertThat(out).contains("works after the sweep");
    } finally {
      p.destroyForcibly();
    }
  }
}
