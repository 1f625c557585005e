package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.weft.testing.Waits;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 29: the two wake sites earlier reviews did not attack, {@code ScopeTask}'s wake of its
 * joiners and {@code ParallelPool}'s wake of an idle worker.
 *
 * <p>(a) Near the end of the waking thread's stack: Review29JoinWakeMain, in a fresh JVM per
 * scenario (a stranded virtual thread cannot be ended; a pool thread left parked waits for its
 * keep-alive). (b) Schedules around the completion of a task: a joiner interrupted or timing out
 * exactly as the task completes, pinned with the "scope.task-finished" window, and the JDK's
 * {@link FutureTask} as the reference for what a joiner sees.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class Review29JoinWakeTest {
  private final List<Thread> started = new ArrayList<>();

  @AfterEach
  void joinEverything() throws InterruptedException {
    ProtocolWindows.clear();
    for (Thread t : started) {
      t.join(TimeUnit.SECONDS.toMillis(10));
    }
    for (Thread t : started) {
      assertThat(t.isAlive()).as("%s outlived its test", t.getName()).isFalse();
    }
  }

  private static String fork(String scenario, String waiter, String seconds, String... jvmArgs)
      throws Exception {
    if (waiter.equals("virtual")) {
      Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads");
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(System.getProperty("java.home") + "/bin/java");
    cmd.addAll(List.of(jvmArgs));
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"),
        Review29JoinWakeMain.class.getName(), scenario, waiter, seconds));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      byte[] out = p.getInputStream().readAllBytes();
      assertThat(p.waitFor(150, TimeUnit.SECONDS)).as("the forked JVM ends").isTrue();
      String s = new String(out, StandardCharsets.UTF_8);
      String result = s.lines().filter(l -> l.startsWith("RESULT")).findFirst().orElse(s);
      System.out.println(result.length() > 4000 ? result.substring(0, 4000) : result);
      assertThat(result).as("the harness ran").doesNotContain("harness-error");
      assertThat(p.exitValue()).as("exit 0 = held; output:%n%s", result).isZero();
      return s;
    } finally {
      p.destroyForcibly();
    }
  }

  private Thread startPlatform(String name, Runnable body) {
    Thread t = new Thread(body, name);
    t.setDaemon(true);
    started.add(t);
    t.start();
    return t;
  }

  private @Nullable Thread startVirtual(Runnable body) throws ReflectiveOperationException {
    if (Runtime.version().feature() < 21) {
      return null;
    }
    // Thread.startVirtualThread, by reflection: the sources are compiled for Java 17
    Thread t = (Thread) Thread.class.getMethod("startVirtualThread", Runnable.class)
        .invoke(null, body);
    started.add(t);
    return t;
  }

  // ====================================================================== ParallelPool

  /**
   * FIXED, was a DEFECT. {@code ParallelPool.tryExecute} near the end of the caller's stack, on a pool with no
   * idle thread (so it goes to start one): the call takes a default permit (acquirePermit, line
   * 228), the hand-over overflows, and the {@code finally} that gives the permit back
   * (releasePermit(), line 237) overflows too: its VarHandle getAndAdd (line 293: getAndAdd ->
   * Unsafe.getAndAddInt -> weakCompareAndSetInt -> compareAndSetInt) is deeper than the
   * acquiring CAS. The StackOverflowError leaves tryExecute, no thread is started, and
   * {@code defaultBusy} stays 1 for good: on the shared pool one of its {@code core} permits is
   * gone for the JVM's life, and with core 1 (every 2-processor machine) no default Parallel
   * call ever hands work to the pool again (tryExecute refuses at acquirePermit; each call runs
   * on its caller alone, silently). Parallel reaches this from ParallelJob.startWorkers (line
   * 749), which catches the error and reports it, but nothing gives the permit back.
   *
   * <p>Schedule: one tryExecute(task, false) per fresh thread, k frames above the point where
   * its stack overflows, k = 0, 1, 2, ...; interpreted (-Xint, as code that runs for the first
   * time near the stack's end is). Failed at k = 10 in 4 of 4 runs on JDK 17 and 3 of 3 on JDK
   * 25 (the error's top frames: Unsafe.getAndAddInt, VarHandleInts.getAndAdd, releasePermit
   * (line 293), tryExecute (line 237)); compiled (not what this test runs), JDK 17 failed the
   * same way at k = 32 in 2 of 5 runs (it depends on what the JIT inlined), JDK 25 held 1 of 1.
   *
   * <p>FIXED in session 29: tryExecute probes SPAWN_FRAMES before the permit is taken. The
   * review's suggestion was: probe before the permit is taken, as Scope.spawn does before it lists a task:
   * {@code StackHeadroom.ensure(StackHeadroom.SPAWN_FRAMES)} at the top of tryExecute (a thread
   * start follows) or in ParallelJob.startWorkers before its loop; or give the permit back with
   * a release that cannot be deeper than the acquisition (a CAS loop like acquirePermit's).
   */
  @Test
  void fixed_anOverflowInTryExecuteLeaksTheDefaultPermitForGood() throws Exception {
    fork("poolStart", "platform", "12", "-Xint");
  }

  /**
   * FIXED, was a DEFECT (JDK 17 and 25). The wake of a parked idle worker near the end of the submitter's stack:
   * handOver pops the worker's node (line 248), CASes the task into its slot (line 256), then
   * reads {@code parked} and unparks it (257-258), with no stack probe anywhere in tryExecute.
   * An overflow after the slot CAS, in the read of {@code parked} or the call of
   * LockSupport.unpark (where it was seen: LockSupport.java:177 on JDK 17, :183 on 25), throws
   * out of tryExecute with the task handed over and the worker not woken: it stays parked, off
   * the idle stack,
   * with the task in its slot, until its keep-alive ends (30 s by default; 120 s here), serving
   * no call meanwhile. tryExecute's finally (line 236) believes nothing was handed over and gives
   * the permit back; when the worker finally wakes it takes nextHoldsPermit (true) with the task
   * and gives the same permit back a second time: {@code defaultBusy} ends at -1, one permit
   * more than {@code core} for good (the pool may then run core + 1 default tasks at once, the
   * over-subscription review 22 fixed). Through Parallel (ParallelJob.startWorkers catches the
   * error, cancels the still-NEW worker and fails the call) the lost wake costs the pool that
   * thread for the keep-alive, and the permit count stays wrong.
   *
   * <p>Schedule: the pool's one thread parked idle (spin 0), one tryExecute(task, false) per
   * fresh thread k frames above its stack's overflow, k = 0..399, repeated; compiled. The error
   * leaves from LockSupport.unpark, called by handOver at line 258. JDK 25: failed at k = 18 in
   * 3 of 3 runs (once in the second pass). JDK 17: failed at k = 18 in 2 of 3 compiled runs
   * (the other held one pass of 400 depths) and held 1 of 1 run with -Xint; with the worker
   * then unparked by hand (standing in for the end of its keep-alive) the permit count read
   * -1.
   *
   * <p>FIXED in session 29 as suggested: the SPAWN_FRAMES probe at the top of tryExecute, and
   * handed = true right after the slot CAS, before the unpark (popIdle). Sweep shortened to 20 s
   * (the failure came at k = 18 of the first or second pass). The suggestion: probe before the
   * permit is taken and before the pop, deep enough for the unpark
   * (StackHeadroom.ensure(StackHeadroom.RELEASE_FRAMES) suffices for a platform worker; one
   * probe of SPAWN_FRAMES at the top of tryExecute covers this and the thread start of the
   * previous test), so that an overflow changes nothing; and record the hand-over before the
   * unpark (handed = true right after the slot CAS) so that the finally never returns a permit
   * the worker now owns.
   */
  @Test
  void fixed_anOverflowAfterTheSlotCasLeavesTheIdleWorkerParkedWithTheTask() throws Exception {
    fork("poolHandOver", "platform", "20");
  }

  // ====================================================================== ScopeTask

  /**
   * FIXED, was a DEFECT (JDK 21+). A task whose thread finishes near the end of its stack (a ThreadFactory's
   * thread that runs weft's Runnable deep in its own frames, as the factory contract allows)
   * wakes its joiners in run()'s finally (ScopeTask.java:285, wakeJoiners, 456-464) with no
   * stack probe. The joiners' node stack is taken (getAndSet DONE, line 457) and a parked
   * virtual joiner's unpark runs VirtualThread.unpark -> submitRunContinuation -> the
   * scheduler's execute on the task's stack; the overflow there strikes after the joiner's state
   * went from parked to unparked and before its continuation is queued. The joiner is left
   * RUNNABLE and never runs again: its park's timer (the liveness backstop, JOIN_CHECK_MAX_NANOS)
   * cannot wake a thread that is no longer parked, and join() never returns, although the handle
   * says "succeeded". (The error then leaves run() to the factory's frames; the task's outcome
   * was already published, the other joiner returned the value.)
   *
   * <p>Schedule: two virtual joiners parked in join() (for 150 ms, so that their park timers are
   * at their longest), the task's thread runs the task k frames above its stack's overflow, k =
   * 0, 1, 2, ... (one spawn each). JDK 25: stranded at k = 40 in 6 of 6 runs; the error that
   * left run() was thrown in ForkJoinPool.submissionQueue <- poolSubmit <- execute <-
   * VirtualThread.submitRunContinuation <- VirtualThread.unpark, and the joiner stayed RUNNABLE
   * in ScopeTask.awaitDone's parkNanos (line 428). Skipped on JDK 17 (no virtual threads).
   *
   * <p>FIXED in session 29: a probe of StackHeadroom.TASK_FRAMES (128) at run()'s entry; the
   * sweep is 15 s (the failure came at k = 40). settleNeverRan got its probe in session 30
   * (Review30SettleTest: it could leave the task SETTLING for good). Before that it had none (no
   * failing schedule for it). The suggestion: as at the other wake sites (session 26), probe
   * before anything changes: run()
   * completes at the depth it was entered at (the task's frames have returned), so a probe at
   * its entry, before {@code entered = true}, of {@code StackHeadroom.wakeFramesOfAnyThread()}
   * (64 frames) plus what run()'s own epilogue needs makes an overflow strike before the task
   * runs, with the Runnable still runnable by a retry higher up (or, if the thread gives up,
   * settled as a task that never ran, with the overflow as its cause). The settler's wake
   * (settleNeverRan, line 342, run by joiners and the owner at any depth) deserves the same
   * probe before its CAS.
   */
  @Test
  void fixed_aTaskFinishingNearItsStackEndStrandsAParkedVirtualJoiner() throws Exception {
    fork("scopeJoin", "virtual", "15");
  }

  /**
   * HELD. The same sweep with platform joiners: a joiner whose unpark was lost (or never came,
   * when the overflow struck before the outcome) is woken by its park's timer and sees the
   * outcome, or the backstop's "terminated without running its task" once the factory's thread
   * has ended. JDK 17: 4 of 4 held (110-147 spawns each, 34-40 of them overflowing in run());
   * JDK 25: 3 of 3 held. No joiner ever saw a wrong value, and none of the tasks whose callable
   * had returned was reported as "terminated without running its task".
   */
  @Test
  void held_platformJoinersOfATaskFinishingNearItsStackEndAlwaysWake() throws Exception {
    fork("scopeJoin", "platform", "20");
  }

  // ====================================================================== schedules

  /**
   * HELD. The JDK as reference: a join of a finished task by an interrupted thread returns the
   * value and keeps the interrupt status (FutureTask.get() does the same; so does Thread.join()
   * of a terminated thread); a join of an unfinished task by an interrupted thread throws
   * InterruptedException and clears the status; join(Duration.ZERO) of an unfinished task
   * throws TimeoutException (FutureTask.get(0, ns) too). JDK 17: 3 of 3 passed; JDK 25: 2 of 2.
   */
  @Test
  void held_interruptAndZeroTimeoutAgreeWithFutureTask() throws Exception {
    FutureTask<String> ref = new FutureTask<>(() -> "v");
    ref.run();
    Thread.currentThread().interrupt();
    assertThat(ref.get()).isEqualTo("v");
    assertThat(Thread.interrupted()).as("FutureTask keeps the status").isTrue();
    FutureTask<String> refPending = new FutureTask<>(() -> "never");
    Thread.currentThread().interrupt();
    assertThat(catchThrowable(refPending::get)).isInstanceOf(InterruptedException.class);
    assertThat(Thread.interrupted()).as("FutureTask clears the status").isFalse();
    assertThat(catchThrowable(() -> refPending.get(0, TimeUnit.NANOSECONDS)))
        .isInstanceOf(TimeoutException.class);

    CountDownLatch release = new CountDownLatch(1);
    try (Scope scope = Scope.open()) {
      ScopedThread<String> done = scope.spawn(() -> "v");
      ScopedThread<String> pending = scope.spawn(() -> {
        release.await();
        return "w";
      });
      try {
        assertThat(done.join()).isEqualTo("v");
        Thread.currentThread().interrupt();
        assertThat(done.join()).isEqualTo("v");
        assertThat(Thread.interrupted()).as("weft keeps the status").isTrue();
        Thread.currentThread().interrupt();
        assertThat(catchThrowable(pending::join)).isInstanceOf(InterruptedException.class);
        assertThat(Thread.interrupted()).as("weft clears the status").isFalse();
        assertThat(catchThrowable(() -> pending.join(Duration.ZERO)))
            .isInstanceOf(TimeoutException.class);
      } finally {
        release.countDown();
      }
      assertThat(pending.join()).isEqualTo("w");
    }
  }

  /**
   * HELD. Completion racing joiners that leave: the task's thread, paused in the
   * "scope.task-finished" window (after its outcome is published and its joiners woken),
   * interrupts one joiner and lets a second one's timed join run out meanwhile; further
   * joiners, platform and virtual, untimed and timed (long), parked before the completion, all
   * return the value; the interrupted one returns the value with its status still set (the
   * outcome came first, as with FutureTask); and a joiner looping on 1-50 us timed joins, its
   * nodes pushed and unlinked while the wake walks the stack, never strands an untimed one. 150
   * rounds, outcomes value, failure and cancellation by the deadline. JDK 17: 2 of 2 passed,
   * JDK 25: 2 of 2 (a first version that checked the interrupt status before the window had
   * sent the interrupt failed: a test race, not weft's).
   */
  @Test
  void held_joinersLeavingAsTheTaskCompletesStrandNoOne() throws Exception {
    AtomicReference<@Nullable Thread> pausedTask = new AtomicReference<>();
    AtomicReference<@Nullable Thread> interruptMe = new AtomicReference<>();
    AtomicReference<CountDownLatch> sent = new AtomicReference<>(new CountDownLatch(1));
    AutoCloseable hook = ProtocolWindows.install(w -> {
      if (w.equals("scope.task-finished") && Thread.currentThread() == pausedTask.get()) {
        Thread j = interruptMe.getAndSet(null);
        if (j != null) {
          j.interrupt();
          sent.get().countDown(); // the joiner checks its status only after this
        }
      }
    });
    try {
      for (int round = 0; round < 150; round++) {
        int outcome = round % 3; // 0 value, 1 failure, 2 deadline
        CountDownLatch interruptSent = new CountDownLatch(1);
        sent.set(interruptSent);
        oneRound(round, outcome, pausedTask, interruptMe, interruptSent);
      }
    } finally {
      hook.close();
    }
  }

  private void oneRound(int round, int outcome, AtomicReference<@Nullable Thread> pausedTask,
      AtomicReference<@Nullable Thread> interruptMe, CountDownLatch interruptSent)
      throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    IllegalStateException boom = new IllegalStateException("boom " + round);
    ConcurrentLinkedQueue<String> wrong = new ConcurrentLinkedQueue<>();
    AtomicInteger finished = new AtomicInteger();
    AtomicBoolean stopLoop = new AtomicBoolean();
    List<Thread> joiners = new ArrayList<>();
    Scope.Builder b = Scope.builder().failurePolicy(Scope.FailurePolicy.AWAIT_ALL);
    if (outcome == 2) {
      b = b.timeout(Duration.ofMillis(300));
    }
    Throwable end = null;
    ScopedThread<String> task = null;
    try (Scope scope = b.open()) {
      ScopedThread<String> t = scope.spawn(() -> {
        pausedTask.set(Thread.currentThread());
        if (outcome == 2) {
          new CountDownLatch(1).await(); // until the deadline interrupts it
        }
        release.await();
        if (outcome == 1) {
          throw boom;
        }
        return "v" + round;
      });
      task = t;
      Runnable untimed = () -> check(t, round, outcome, false, wrong, finished);
      Runnable timedLong = () -> check(t, round, outcome, true, wrong, finished);
      joiners.add(startPlatform("untimed-" + round, untimed));
      joiners.add(startPlatform("timed-" + round, timedLong));
      Thread v = startVirtual(untimed);
      if (v != null) {
        joiners.add(v);
      }
      Thread interrupted = startPlatform("interrupted-" + round, () -> {
        try {
          String got = t.join();
          if (!got.equals("v" + round)) {
            wrong.add("interrupted joiner got " + got);
          }
          // The interrupt comes in the window, after the wake: it may reach this joiner inside
          // join or after it returned; either way the status must be set once it was sent.
          // (Not CountDownLatch.await: it would throw on the very status checked here.)
          long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
          while (interruptSent.getCount() > 0 && System.nanoTime() - until < 0) {
            Thread.onSpinWait(); // bounded; the window follows the wake within microseconds
          }
          if (interruptSent.getCount() > 0) {
            wrong.add("the window never interrupted the joiner");
          } else if (!Thread.currentThread().isInterrupted()) {
            wrong.add("the interrupted joiner returned the value with its status cleared");
          }
        } catch (InterruptedException e) {
          // the joiner woke on its backstop timer just before the outcome, then saw the
          // interrupt: the same race FutureTask.get has (state check, then interrupt check)
        } catch (TaskFailedException e) { // ScopeTimeoutException is one
          if (outcome == 0) {
            wrong.add("interrupted joiner: " + e);
          }
        } finally {
          finished.incrementAndGet();
        }
      });
      interruptMe.set(interrupted);
      joiners.add(interrupted);
      Thread looping = startPlatform("looping-" + round, () -> {
        long n = 1_000L;
        while (!stopLoop.get()) {
          try {
            t.join(Duration.ofNanos(n));
            return;
          } catch (TimeoutException e) {
            n = n >= 50_000L ? 1_000L : n * 2;
          } catch (InterruptedException e) {
            wrong.add("looping joiner interrupted");
            return;
          } catch (TaskFailedException e) {
            return; // the task's failure or the deadline (ScopeTimeoutException): seen
          }
        }
      });
      if (outcome != 2) { // with a deadline, a joiner may be done before it is seen parked
        for (Thread j : joiners) {
          Waits.awaitParkedOn(j, t);
        }
      }
      release.countDown();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (finished.get() < joiners.size() && System.nanoTime() - deadline < 0) {
        LockSupport.parkNanos(200_000L); // bounded poll of a counter the joiners set
      }
      if (finished.get() < joiners.size()) {
        StringBuilder sb = new StringBuilder("round " + round + ": joiners stranded:");
        for (Thread j : joiners) {
          sb.append(' ').append(j).append('=').append(j.getState());
        }
        wrong.add(sb.toString());
      }
      stopLoop.set(true);
      looping.join(10_000);
      if (looping.isAlive()) {
        wrong.add("the looping joiner is stuck: " + looping.getState());
      }
    } catch (TaskFailedException e) { // ScopeTimeoutException is one
      end = e;
    } finally {
      interruptMe.set(null);
      pausedTask.set(null);
    }
    for (Thread j : joiners) {
      j.join(10_000);
    }
    assertThat(wrong).as("round %d (outcome %d), task %s", round, outcome, task).isEmpty();
    if (outcome == 2) {
      assertThat(end).as("the end reports the deadline").isInstanceOf(ScopeTimeoutException.class);
    } else {
      assertThat(end).as("every failure was joined").isNull();
    }
  }

  private static void check(ScopedThread<String> t, int round, int outcome, boolean timed,
      ConcurrentLinkedQueue<String> wrong, AtomicInteger finished) {
    try {
      String got = timed ? t.join(Duration.ofSeconds(60)) : t.join();
      if (outcome != 0 || !got.equals("v" + round)) {
        wrong.add(Thread.currentThread() + " got " + got + " for outcome " + outcome);
      }
    } catch (ScopeTimeoutException e) {
      if (outcome != 2) {
        wrong.add(Thread.currentThread() + ": " + e + " for outcome " + outcome);
      }
    } catch (TaskFailedException e) {
      if (outcome != 1 || !(e.getCause() instanceof IllegalStateException)) {
        wrong.add(Thread.currentThread() + ": " + e + " for outcome " + outcome);
      }
    } catch (InterruptedException | TimeoutException | RuntimeException e) {
      wrong.add(Thread.currentThread() + ": " + e);
    } finally {
      finished.incrementAndGet();
    }
  }
}
