package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.testing.Dive;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 30: {@code ScopeTask.settleNeverRan}, the last wake site without a stack probe (left
 * open by review 29). It is run by whoever first notices that a factory's thread terminated
 * without running its task: the owner's close, a spawn reaping slots, and any thread calling
 * {@code isDone()} or {@code join()} on the handle, at any depth of its stack.
 *
 * <p>It claims the task with a CAS from NEW to SETTLING, then builds the failure, cancels the
 * scope (an interrupt walk over the other threads), publishes FAILED and wakes the joiners. A
 * second settler that finds SETTLING spins until the first one publishes. An overflow anywhere
 * between the CAS and the publication left the task SETTLING for good, so that every later
 * settler, the owner's close included, spun forever.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class Review30SettleTest {
  private static final VarHandle STATE;

  static {
    try {
      STATE = MethodHandles.privateLookupIn(ScopeTask.class, MethodHandles.lookup())
          .findVarHandle(ScopeTask.class, "state", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final List<Thread> started = new ArrayList<>();

  @AfterEach
  void joinEverything() throws InterruptedException {
    for (Thread t : started) {
      t.join(TimeUnit.SECONDS.toMillis(10));
    }
    for (Thread t : started) {
      assertThat(t.isAlive()).as("%s outlived its test", t.getName()).isFalse();
    }
  }

  /**
   * FIXED in session 30. Schedule: a factory whose thread returns without running the task; once
   * it has terminated, a thread calls {@code isDone()} on the handle in each of the 600 frames
   * nearest its stack's end (a fresh 256 KiB thread per round). Before the fix, 1 or more of 40
   * rounds left the task SETTLING with no settler running (the overflow struck in the failure's
   * construction or the cancel walk after the CAS); the owner's close then spun in
   * settleNeverRan's wait for SETTLING to end, for ever. The test reads the state after each
   * dive; where it finds SETTLING it records the round and, so that the test can end, publishes
   * FAILED itself before closing. Fixed by a probe before the CAS: an overflow now strikes
   * before anything changes, and a later, shallower call settles the task.
   */
  @Test
  void fixed_anOverflowInsideSettleNeverRanLeavesTheTaskSettlingForEver() throws Exception {
    int stuck = 0;
    int settledInDive = 0;
    for (int round = 0; round < 40; round++) {
      ThreadFactory ignorer = r -> {
        Thread t = new Thread(() -> { }, "test-r30-ignorer");
        started.add(t);
        return t;
      };
      Scope scope = Scope.builder().threadFactory(ignorer).open();
      try {
        ScopedThread<Integer> h = scope.spawn(() -> 1);
        h.thread().join(TimeUnit.SECONDS.toMillis(10));
        assertThat(h.thread().isAlive()).isFalse();
        ScopeTask<?> task = (ScopeTask<?>) h;
        Dive d = new Dive(() -> {
          if ((int) STATE.getAcquire(task) == ScopeTask.SETTLING) {
            return; // left behind by an earlier frame: calling again would spin for ever
          }
          h.isDone();
        }, 600);
        Thread diver = new Thread(null, () -> d.dive(0), "test-r30-diver", 256 * 1024);
        started.add(diver);
        diver.start();
        diver.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(diver.isAlive()).as("the diver returned").isFalse();
        int s = (int) STATE.getAcquire(task);
        if (s == ScopeTask.SETTLING) {
          stuck++;
          STATE.setRelease(task, ScopeTask.FAILED); // only so that close() can end
        } else if (s == ScopeTask.FAILED) {
          settledInDive++;
        }
      } finally {
        try {
          scope.close();
        } catch (RuntimeException e) {
          // the never-ran task's failure: expected
        }
      }
    }
    System.out.println("settleNeverRan near the stack's end: " + stuck
        + " of 40 rounds left SETTLING; " + settledInDive + " settled in the dive");
    assertThat(stuck).as("rounds that left the task SETTLING with nobody settling it")
        .isZero();
    assertThat(settledInDive).as("rounds a frame of the dive settled").isPositive();
  }
}
