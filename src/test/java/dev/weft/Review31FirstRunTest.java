package dev.weft;

import dev.weft.testing.HeapFork;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 31b: the JVM's FIRST run of a weft path, made under a full heap, inside a protocol
 * window. Each scenario runs in a fresh JVM (Review31FirstRunMain, {@code -Xmx32m
 * -XX:+UseSerialGC -XX:-UseTLAB}); nothing of weft is warmed up, only the harness's own call
 * sites are linked before the heap is filled; a class is initialized with the heap free. The
 * first execution of a VarHandle call site links it, and linking allocates: where that first
 * execution sits between a state change and its undo, the OOME breaks the primitive. OOME sites
 * come from {@code -Xlog:exceptions}. Fork exit: 0 held, 1 defect, 3 the OOME did not land, 2
 * harness error.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class Review31FirstRunTest {
  private static void expectHeld(String scenario, String kind, String... jvmArgs)
      throws Exception {
    HeapFork.expectHeld(Review31FirstRunMain.class, scenario, kind, jvmArgs);
  }

  // ---- defects

  /**
   * A SpinLock locked with the heap free (its first lock), then the JVM's first SpinLock
   * unlock, made in a full heap, with nobody waiting. {@code unlock()} calls {@code
   * ownerPlain()} (SpinLock.java:623, the VarHandle {@code OWNER.get} at :396), whose call site
   * no initializer has linked ({@code linkRareSteps} links the wait-side steps only), so the
   * link throws OOME. unlock() throws with the lock still held by the caller: a {@code finally
   * { unlock(); }} does not retry, so the lock stays held by a thread that has moved on and
   * every later lock() waits for ever. ({@code heirOpaque}, {@code waitersOpaque} and {@code
   * setOwnerRelease} at :640-648 follow, equally unlinked.) ReentrantLock in the same scenario
   * (kind jdk:alone): unlock allocates nothing and returns. The same with lock-order checking
   * on ({@code -Ddev.weft.lockOrder=check}). Review 30c fixed exactly this for Mutex by running
   * one release in its initializer.
   *
   * <p>FIXED in session 31: SpinLock's initializer (linkRareSteps) runs the release side too (an
   * uncontended internal release, setOwnerRelease and every owner/heir/waiters accessor). Failed 4
   * of 4 fixed_ SpinLock/TicketLock tests on the code before (JDK 17), passes after.
   */
  @Test
  void fixed_spinLockFirstUnlockInFullHeapThrowsHoldingTheLock() throws Exception {
    expectHeld("unlock", "spin:alone");
  }

  /**
   * The same through {@code acquire()} and {@code Guard.close()}, as try-with-resources closes
   * it: close throws OOME (from the same unlinked {@code ownerPlain()}), the guard stays open,
   * and try-with-resources does not close it again: the lock is held for good.
   *
   * <p>FIXED in session 31, as above.
   */
  @Test
  void fixed_spinLockFirstGuardCloseInFullHeapThrowsHoldingTheLock() throws Exception {
    expectHeld("unlock", "spin:guard");
  }

  /**
   * B waits in {@code lock()} (heap free; with the default hand-over threshold 0 it claims the
   * heir slot at once); main's unlock is made in a full heap and retried, one small filler
   * freed per try, until it goes through. The first tries throw at unlinked call sites; one
   * reaches {@code handOver} (SpinLock.java:698-707): {@code casHeir(heir, null)} succeeds, then
   * the first run of {@code setOwnerRelease(heir)} (:705) throws OOME. Nothing undoes the heir
   * claim. The unlock throws with main still owner; the retry releases the lock as an ordinary
   * release and signals B, and B, the heir, calls {@code withdrawHeir} (:1087-1100): its
   * {@code casHeir(me, null)} fails (the failed hand-over took the claim), so it waits for a
   * hand-over store that never comes, yielding in a loop for ever (RUNNABLE, a core busy),
   * while other threads take the free lock. ReentrantLock (jdk:retry): the unlock does not
   * throw and B gets the lock.
   *
   * <p>FIXED in session 31, as above: setOwnerRelease, the hand-over's owner store, is linked in the
   * initializer.
   */
  @Test
  void fixed_spinLockFirstHandOverInFullHeapStrandsTheHeirForEver() throws Exception {
    expectHeld("unlock", "spin:retry");
  }

  /**
   * B waits in {@code lock()} of a TicketLock (heap free); main's unlock, in a full heap, grants
   * B's node (TicketLock.prelink linked the uncontended unlock, and the grant CAS allocates
   * nothing), so main's unlock returns. B wakes in the full heap: {@code becomeOwner}
   * (TicketLock.java:439-448) stores {@code head = n}, then the first run of {@code
   * setOwnerOpaque(me)} (:447, {@code OWNER.setOpaque} at :410) throws OOME: prelink's lock()
   * took the fast path, whose owner write is plain, so this call site was never linked. The
   * error handler {@code leaveAfterError} (:945-947) calls {@code becomeOwner} again, which
   * throws again at the same site, so the pass-on {@code unlock(false)} never runs. B's lock()
   * throws OOME; the lock is left "locked (handing over)", with no owner: once the heap is
   * free, no thread can ever take it (tryLock(3 s) fails) and nobody can unlock it.
   * ReentrantLock (jdk:waiter): B gets the lock and returns. Same with a JFR recording on.
   *
   * <p>FIXED in session 31: TicketLock's initializer (prelink) runs every accessor of the lock once,
   * setOwnerOpaque and getAndSetTail among them, and the yield pause's accesses.
   */
  @Test
  void fixed_ticketLockFirstGrantInFullHeapLeavesItLockedByNobody() throws Exception {
    expectHeld("unlock", "ticket:waiter");
  }

  // ---- held

  /** Reference: ReentrantLock, first unlock in a full heap (allocates nothing). */
  @Test
  void held_jdkReentrantLockUnlockInFullHeap() throws Exception {
    expectHeld("unlock", "jdk:alone");
  }

  /** Reference: ReentrantLock with a parked waiter: unlock and the waiter's wake allocate nothing. */
  @Test
  void held_jdkReentrantLockContendedUnlockInFullHeap() throws Exception {
    expectHeld("unlock", "jdk:waiter");
  }

  /**
   * TicketLock's first uncontended unlock (and Guard.close) in a full heap: TicketLock.prelink
   * ran one lock/unlock in the initializer, so nothing allocates (as ReentrantLock).
   */
  @Test
  void held_ticketLockFirstUncontendedUnlockInFullHeap() throws Exception {
    expectHeld("unlock", "ticket:alone");
    expectHeld("unlock", "ticket:guard");
  }

  /**
   * SpinLock's and TicketLock's Condition: B awaits (heap free); main locks, fills the heap,
   * signals and unlocks: nothing allocates (SpinLockCondition links its sites in its
   * initializer, review 30c); B returns holding the lock. The JDK's ReentrantLock Condition in
   * the same scenario (kind jdk, JDK 17): signal throws OOME in AQS.enqueue (tryInitializeHead)
   * after it took the node off the condition queue, and B stays in awaitNanos for good, past
   * its timeout (its node was neither on the condition queue nor on the lock's queue).
   */
  @Test
  void held_lockConditionsFirstSignalInFullHeap() throws Exception {
    expectHeld("cond", "spin");
    expectHeld("cond", "ticket");
  }

  /**
   * OnceCell: the owner claims with the heap free, B parks waiting, the initializer fills the
   * heap and returns a preallocated value. Seen both ways: (a) the first run of {@code
   * setValueRelease} (OnceCellCore.java:206) throws OOME after the state CAS, and the {@code
   * finally} at :454-458 still wakes B, which gets the value; the owner's getOrInit throws the
   * OOME though the value is set (every later call returns it); (b) the outcome's allocation
   * fails, the claim is released unrecorded (review 30) and the owner gets the OOME; B runs its
   * own initializer. Either way nobody waits for ever and a later call sees one value.
   * ConcurrentHashMap.computeIfAbsent in a full heap throws with no mapping recorded.
   */
  @Test
  void held_onceCellFirstPublicationInFullHeap() throws Exception {
    expectHeld("once", "cell:value");
  }

  /**
   * OnceCell, initializer throws a preallocated exception in a full heap (RETRY and REMEMBER):
   * the claim is released (REMEMBER: the failure record cannot be allocated, the claim is
   * released unrecorded, review 30); B wakes and runs its own initializer.
   */
  @Test
  void held_onceCellFirstFailureInFullHeap() throws Exception {
    expectHeld("once", "cell:throw");
    expectHeld("once", "remember:throw");
  }

  /** Lazy: the same two outcomes; the claim is released or the value published, B wakes. */
  @Test
  void held_lazyFirstOutcomeInFullHeap() throws Exception {
    expectHeld("once", "lazy:value");
    expectHeld("once", "lazy:throw");
  }

  /**
   * Scope with a thread factory whose thread starts the task only once the heap is full (as
   * review 30c's Parallel hand-off): ScopeTask.run's first run throws OOME (a class load, a
   * thread-local) before the task's outcome; the settler reports it, close() throws the OOME
   * with the task's thread ended, and a later scope works.
   */
  @Test
  void held_scopeTaskFirstRunInFullHeap() throws Exception {
    expectHeld("scope", "handoff");
  }

  /**
   * The JVM's first Parallel.map (no warm-up call), on the pool and with new threads per call
   * (kinds pool:early, threads:early): the worker's function fills the heap and throws a real
   * OOME; the heap is freed 30 ms later, while the caller still runs its chunks. The worker's
   * {@code catch (Throwable t) { recordFailure(t, self); break; }} (ParallelJob.java:835-837)
   * calls recordFailure, whose first statement, {@code FAILURE.compareAndSet} (:954), is that
   * call site's first run (the initializer's warm-up runs a worker over an empty job, which
   * never fails), so it throws OOME: the failure is never recorded, the error escapes the worker
   * to its thread's uncaught-exception handler, the worker still exits cleanly (workerExit in a
   * finally), and Parallel.map RETURNS NORMALLY with {@code null} in place of the element whose
   * function threw: the error is lost and the result is silently wrong. The JDK's
   * ExecutorService.invokeAll in the same scenario reports the task's failure through its
   * Future (Review30cHeapMain.jdkExecutor). On JDK 25 it happens without the early free too;
   * on JDK 17, with the heap kept full, the caller's own OOME masks it.
   *
   * <p>FIXED in session 31: ParallelJob's initializer records two failures on a throwaway job with a
   * RUNNING worker (the FAILURE CAS, the interrupt walk, the further-failures list, the worker's
   * exit after the walk, the read-back). A further failure whose node cannot be allocated is
   * dropped (the first fails the call). The three Parallel fixed_ tests failed 3 of 3 on the code
   * before (JDK 17), pass after.
   */
  @Test
  void fixed_parallelFirstWorkerFailureInFullHeapIsLostAndMapReturnsNull() throws Exception {
    expectHeld("parallel", "pool:early");
    expectHeld("parallel", "threads:early");
  }

  /**
   * The same window through Parallel.anyMatch (ParallelSearch's jobs share ParallelJob.workLoop
   * and recordFailure): the worker's predicate throws a real OOME for one element in a full
   * heap, recordFailure's first {@code FAILURE.compareAndSet} (ParallelJob.java:954) throws, and
   * anyMatch returns {@code false}, "no element matches", for a call one of whose predicate
   * evaluations failed: the error is lost, the answer unproven. Pool and new threads, with the
   * heap kept full (kinds pool, threads). ExecutorService.invokeAny/invokeAll report the task's
   * failure.
   *
   * <p>FIXED in session 31, as above.
   */
  @Test
  void fixed_parallelAnyMatchFirstWorkerFailureInFullHeapReturnsFalse() throws Exception {
    expectHeld("search", "pool");
    expectHeld("search", "threads");
  }

  /**
   * A Scope with maxConcurrency(1): T1 runs, the owner's second spawn waits for the slot; the
   * heap is filled and T1 ends, so its slot hand-off and the waiting spawn's thread creation
   * run first in a full heap. The spawn throws OOME (the slot is given back), T1's epilogue
   * OOMEs are reported, close() ends with every thread joined, and a later scope runs two
   * tasks through one slot. (Seen: the body's OOME and the one close() reports are the JVM's
   * same preallocated instance, so try-with-resources' addSuppressed throws
   * IllegalArgumentException "Self-suppression not permitted", which replaces the OOME; any
   * try-with-resources resource whose close rethrows a preallocated error does that.)
   */
  @Test
  void held_scopeSlotHandOffFirstRunInFullHeap() throws Exception {
    expectHeld("slots", "x");
  }

  /**
   * The caller's side of the same window: the JVM's first Parallel.map (64 elements, two
   * participants), whose function, on the CALLER's thread, fills the heap and throws a real
   * OOME on its first element, while the worker's function takes 20 ms per element; the heap is
   * freed 30 ms later. The caller's workLoop catch calls recordFailure (ParallelJob.java:836),
   * whose first {@code FAILURE.compareAndSet} (:954) throws OOME; it escapes {@code
   * workLoop(null)} at :735, and nothing guards the {@code awaitWorkers(ws, interrupted)} at
   * :737 (no try/finally around :731-737, where ACTIVE counted the workers), so Parallel.map
   * throws the OOME while the worker is still in the function (1 of 1 in every fork), and,
   * the failure never recorded and nothing stopping it, the worker goes on calling the
   * function for the rest of the job after the call has ended (18-57 calls; with
   * newThreadsPerCall that is a thread the call started, outliving it). Review 30 #3 fixed the
   * same outcome for a caller whose park overflowed. ExecutorService.invokeAll returns only
   * once every task is done.
   *
   * <p>FIXED in session 31, as above; also, an Error from the caller's own work loop now stops the
   * workers and waits for them before it propagates.
   */
  @Test
  void fixed_parallelFirstCallerFailureInFullHeapEndsTheCallWithWorkersRunning()
      throws Exception {
    expectHeld("callerFails", "pool");
    expectHeld("callerFails", "threads");
  }
}
