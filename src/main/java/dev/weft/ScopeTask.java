package dev.weft;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/**
 * The one implementation of {@link ScopedThread}: at the same time the handle the user holds, the
 * {@code Runnable} the thread runs, and the node of the scope's list of threads, so a spawn
 * allocates nothing beyond this object and the thread.
 */
final class ScopeTask<T> implements ScopedThread<T>, Runnable {
  /*
   * Algorithm notes:
   *
   * Fields written by the task (result, failure, deadlineMessage) are plain: the only readers
   * read them after Thread.join() returned, and thread termination happens-before join()
   * returning (JLS 17.4.4), or after reading state with acquire, which pairs with the release
   * write of state that follows them.
   *
   * state: NEW -> SUCCESS | FAILED, written once by the task's thread with release (publishes
   * result/failure to isDone() readers and to the scope's cancel walk); ABANDONED is written
   * by the spawner when the thread could not be started (the task never runs).
   *
   * observed: set (release) by join() when it reports this task's failure to a caller, read
   * (acquire) by the scope's owner at the end, after joining every thread; a failure observed
   * by a join is not rethrown at the end of the scope. A join from a thread that is not a scope
   * thread can race with the end of the scope; then the failure may be reported twice, never
   * lost.
   *
   * next: the list link, written once before the task is published by the CAS on the scope's
   * head (the CAS has volatile semantics, so readers of head see next).
   *
   * The task references are cleared by the task's thread once it ran, so a finished handle does
   * not keep the captured data alive; no other thread reads them.
   */

  static final int NEW = 0;
  static final int SUCCESS = 1;
  static final int FAILED = 2;
  static final int ABANDONED = 3;

  private static final VarHandle STATE;
  private static final VarHandle OBSERVED;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      STATE = l.findVarHandle(ScopeTask.class, "state", int.class);
      OBSERVED = l.findVarHandle(ScopeTask.class, "observed", boolean.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  final Scope scope;
  final Thread thread;
  @Nullable ScopeTask<?> next;
  private @Nullable Callable<? extends T> callable;
  private @Nullable Runnable runnable;
  private @Nullable Object result;
  private @Nullable Throwable failure;
  private @Nullable String deadlineMessage; // set with failure if the deadline had cancelled
  @SuppressWarnings("unused") // accessed through STATE
  private int state;
  @SuppressWarnings("unused") // accessed through OBSERVED
  private boolean observed;

  /** Creates the task and its (unstarted) thread; exactly one of the two tasks is non-null. */
  ScopeTask(Scope scope, @Nullable Callable<? extends T> callable, @Nullable Runnable runnable) {
    this.scope = scope;
    this.callable = callable;
    this.runnable = runnable;
    this.thread = scope.newThread(this);
  }

  // ---- accessors by mode ----

  int stateAcquire() {
    return (int) STATE.getAcquire(this);
  }

  private void setStateRelease(int s) {
    STATE.setRelease(this, s);
  }

  /** Marks a task whose thread could not be started; the spawner still owns it alone. */
  void setAbandonedRelease() {
    setStateRelease(ABANDONED);
  }

  boolean observedAcquire() {
    return (boolean) OBSERVED.getAcquire(this);
  }

  private void setObservedRelease() {
    OBSERVED.setRelease(this, true);
  }

  /** The failure; read only after the thread was joined or state was read with acquire. */
  @Nullable Throwable failurePlain() {
    return failure;
  }

  // ---- the thread's body ----

  @Override
  public void run() {
    if (Thread.currentThread() != thread || stateAcquire() != NEW) {
      throw new IllegalStateException("a ScopedThread's task runs once, on its own thread");
    }
    Callable<? extends T> c = callable;
    Runnable r = runnable;
    callable = null;
    runnable = null;
    try {
      if (scope.isCancelled()) {
        // Spawned after (or while) the scope was cancelled: the cancel walk may have missed this
        // thread, so it interrupts itself; the task sees it at its first blocking call.
        thread.interrupt();
      }
      if (c != null) {
        result = c.call();
      } else {
        Objects.requireNonNull(r, "runnable").run();
      }
      setStateRelease(SUCCESS);
    } catch (Throwable t) { // every failure, Errors included, is reported to the owner
      failure = t;
      deadlineMessage = scope.deadlineMessage(); // failed after the deadline cancelled the scope
      setStateRelease(FAILED);
      scope.taskFailed(this);
    } finally {
      scope.taskExited();
    }
  }

  // ---- ScopedThread ----

  @Override
  public T join() throws InterruptedException {
    checkNotSelf();
    if (scope.hasDeadline()) {
      scope.joinUntilDeadline(thread);
    } else {
      thread.join();
    }
    return report();
  }

  @Override
  public T join(Duration timeout) throws InterruptedException, TimeoutException {
    long nanos = Timeouts.toNanos(timeout, "timeout");
    checkNotSelf();
    if (thread.isAlive()) {
      long deadline = System.nanoTime() + nanos;
      if (scope.hasDeadline() && scope.deadline() - deadline < 0) {
        scope.joinUntilDeadline(thread); // the scope's deadline comes first
      } else {
        for (long left = nanos; thread.isAlive() && left > 0; left = deadline - System.nanoTime()) {
          thread.join(left / 1_000_000L, (int) (left % 1_000_000L));
        }
        if (thread.isAlive()) {
          throw new TimeoutException(
              thread.getName() + " still running after " + Duration.ofNanos(nanos));
        }
      }
    }
    return report();
  }

  @Override
  public boolean isDone() {
    int s = stateAcquire();
    return s == SUCCESS || s == FAILED;
  }

  @Override
  public Thread thread() {
    return thread;
  }

  private void checkNotSelf() {
    if (Thread.currentThread() == thread) {
      throw new IllegalStateException(
          thread.getName() + " tried to join itself, which would never return; "
              + "join a ScopedThread from another thread");
    }
  }

  /** Called once the thread has terminated (so plain reads are safe). */
  @SuppressWarnings({"unchecked", "NullAway"}) // result is null only where T admits it (Void)
  private T report() {
    Throwable f = failure;
    if (f != null) {
      setObservedRelease();
      String late = deadlineMessage;
      if (late != null) { // most likely a consequence of the deadline: report that
        ScopeTimeoutException e = new ScopeTimeoutException(late);
        e.addSuppressed(f);
        throw e;
      }
      throw new TaskFailedException(thread.getName() + " failed: " + f, f);
    }
    return (T) result;
  }

  @Override
  public String toString() {
    String s = switch (stateAcquire()) {
      case SUCCESS -> "succeeded";
      case FAILED -> "failed";
      case ABANDONED -> "not started";
      default -> "running";
    };
    return "ScopedThread[" + thread.getName() + ", " + s + "]";
  }
}
