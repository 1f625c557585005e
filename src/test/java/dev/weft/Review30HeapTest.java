package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.HeapFork;
import java.util.ArrayList;
import java.util.concurrent.TimeUnit;
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
  private static void expectHeld(String scenario, String kind, String... jvmArgs)
      throws Exception {
    HeapFork.expectHeld(Review30HeapMain.class, scenario, kind, jvmArgs);
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

  // held_spinLockSlowPathOom and held_ticketLockSlowPathOom (lock() threw the node's OOME,
  // cleanly) are gone: since session 31 lock() waits without a node instead, as JDK 25's AQS
  // does (Review31LockWithoutNodeTest).

  /**
   * Reference: ReentrantLock.lock() under the same pressure. JDK 17's AQS throws the node's OOME
   * (exit 0); JDK 25's catches it and waits without a node, so lock() returns holding (exit 3).
   */
  @Test
  void held_jdkLockSlowPathOom() throws Exception {
    HeapFork.Result r = HeapFork.fork(Review30HeapMain.class, "lock", "jdk");
    String line = r.line();
    assertThat(line).contains("othersLock=true").contains("mainRelocks=true");
    assertThat(r.exit()).isIn(0, 3);
  }

  /** Reference: the JDK's await allocates nothing after the release; it returns holding. */
  @Test
  void held_jdkConditionAwaitKeepsTheLockUnderAFullHeap() throws Exception {
    HeapFork.Result r = HeapFork.fork(Review30HeapMain.class, "cond", "jdk");
    String line = r.line();
    assertThat(line).contains("holdsAtReturn=true").contains("D=signalled");
    assertThat(r.exit()).isIn(0, 3);
  }

  /** Scope: a spawn in a full heap throws to the spawner; the slot comes back; close joins. */
  @Test
  void held_scopeSpawnOom() throws Exception {
    expectHeld("scope", "-");
  }
}
