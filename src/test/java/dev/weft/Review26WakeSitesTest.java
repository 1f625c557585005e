package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Review 26 (wake sites): a wake-up of a parked waiter at every depth near the end of the
 * waker's stack (see Review26WakeSitesMain, run in a fresh JVM each: a stranded virtual thread
 * cannot be ended). A virtual waiter's unpark runs the scheduler from the waker's stack, and the
 * pool swallows an overflow there (docs/spinlock.md, session 25); an overflow thrown between a
 * step that detaches the waiters and their unpark loses them too, for any waiter.
 *
 * <p>Fixed in session 26: each of these wake sites probes, before anything changes, as deep as
 * its wake-up needs ({@code StackHeadroom.wakeFrames} of the thread it will wake, or {@code
 * wakeFramesOfAnyThread} where the JDK's lock does not say whom it wakes: 64 frames wherever
 * virtual threads exist), and {@code OnceCell}'s set probes at all. Before, with the review's
 * runs and the integration run (JDK 25, each scenario a fresh JVM): trySet 2 of 2 and 1 of 1
 * (platform and virtual waiter alike), getOrInit 2 of 2 and 1 of 1, the Mutex unlock 1 of 2 and
 * 1 of 1, lockWhen's wake 2 of 3 and 0 of 1, Condvar 1 of 2 and 1 of 1, RwLock to a reader 1 of
 * 2 and 1 of 1, to a writer 0 of 2 and 1 of 1, SeqLock 1 of 2 and 1 of 1. After: 0 of 9
 * scenarios stranded in each of two runs.
 */
@Timeout(120)
class Review26WakeSitesTest {

  private static String fork(String scenario, String waiter) throws Exception {
    if (waiter.equals("virtual")) {
      Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads");
    }
    Process p =
        new ProcessBuilder(
                System.getProperty("java.home") + "/bin/java",
                "-cp",
                System.getProperty("java.class.path"),
                Review26WakeSitesMain.class.getName(),
                scenario,
                waiter,
                "4")
            .redirectErrorStream(true)
            .start();
    try {
      byte[] out = p.getInputStream().readAllBytes();
      assertThat(p.waitFor(100, TimeUnit.SECONDS)).as("the forked JVM ends").isTrue();
      String s = new String(out, StandardCharsets.UTF_8);
      System.out.println(s.lines().filter(l -> l.startsWith("RESULT")).findFirst().orElse(s));
      assertThat(p.exitValue()).as("exit 0 = W ran after every wake; output:%n%s", s).isZero();
      return s;
    } finally {
      p.destroyForcibly();
    }
  }

  /**
   * OnceCell.trySet near the stack's end, a waiter parked in awaitUninterruptibly. trySetValue
   * has no probe: its CAS publishes the value, then releaseWaiters detaches the waiter stack
   * (getAndSet null) and unparks each waiter. An overflow after the CAS throws out of trySet
   * with the waiters unwoken; a retry returns false (already set), and the waiter, parked
   * untimed, never sees the value. A platform waiter is lost as well as a virtual one.
   */
  @ParameterizedTest
  @ValueSource(strings = {"platform", "virtual"})
  void fixed_onceCellTrySetNearTheStackEndLosesTheParkedWaiter(String waiter) throws Exception {
    fork("onceCellTrySet", waiter);
  }

  /**
   * OnceCell.getOrInit whose initialiser returns near the stack's end: the claim probed 16
   * frames (CLAIM_FRAMES), so the unpark of a virtual waiter after the initialiser (64 needed)
   * overflows in the scheduler, which swallows it: W RUNNABLE, never run.
   */
  @ParameterizedTest
  @ValueSource(strings = {"virtual"})
  void fixed_onceCellGetOrInitNearTheStackEndStrandsAParkedVirtualWaiter(String waiter)
      throws Exception {
    fork("onceCellGetOrInit", waiter);
  }

  /**
   * Unlocks and wakes whose probe is RELEASE_FRAMES (16) where a parked virtual waiter needs
   * wakeFrames (64): Mutex guard close (AQS release), lockWhen's change-waiter wakeAll, Condvar
   * notifyOne + close, RwLock write close to a reader, SeqLock write close (wakeWaiter). Near
   * the stack's end the waiter's unpark overflows in the scheduler: W is left RUNNABLE and never
   * runs; when the overflow propagates, close() throws after the release took effect, and the
   * retry it invites fails (IllegalMonitorStateException, "guard already closed").
   * Probabilistic: see the report for rates.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "mutexUnlock", "mutexLockWhen", "condvarNotify", "rwWriteUnlockToReader",
        "rwWriteUnlockToWriter", "seqLockUnlock"
      })
  void fixed_unlockNearTheStackEndStrandsAParkedVirtualWaiter(String scenario)
      throws Exception {
    fork(scenario, "virtual");
  }
}
