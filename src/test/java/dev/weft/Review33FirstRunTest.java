package dev.weft;

import dev.weft.testing.HeapFork;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 33's audit of LinkageAfterInitTest's baseline: a DANGEROUS late link made to fail in a
 * fresh small-heap JVM (scenario onceTrySet of Review31FirstRunMain, whose harness it shares). Fork exit: 0
 * held, 1 defect, 3 the OOME did not land, 2 harness error.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class Review33FirstRunTest {

  /**
   * A claims a OnceCell and waits in its initialiser; B waits in {@code await()}; the JVM's
   * first {@code trySet} that wins over A is made in a full heap, one small filler freed per
   * try. {@code trySetValue}'s CAS installed the outcome, then the first run of {@code
   * setValueRelease} (the value cache's release store) linked its call site and threw OOME,
   * before {@code releaseWaiters}: B stayed parked on a set cell, and A, overtaken, does not
   * wake waiters either.
   *
   * <p>FIXED in session 33: OnceCellCore's initializer (linkWaitSteps) runs setValueRelease on
   * its throwaway cell.
   */
  @Test
  void fixed_onceCellFirstTrySetInFullHeapLeavesTheWaiterParked() throws Exception {
    HeapFork.expectHeld(Review31FirstRunMain.class, "onceTrySet", "-");
  }
}
