package dev.weft;

import static dev.weft.testing.Waits.awaitUninterruptibly;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.weft.testing.Gc;
import dev.weft.testing.Waits;
import java.io.IOException;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Disabled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 23: {@link ScopedThread}, {@link ScopeTask}, {@link TaskFailedException} and
 * {@link ScopeTimeoutException}, attacked the way a user coming from Rust's
 * {@code std::thread::scope} ({@code ScopedJoinHandle}) and JDK 25's {@code StructuredTaskScope}
 * ({@code Subtask}) would use them, from the code and the docs only. Tests named {@code
 * fixed_...} failed on the reviewed code (6f76566: 5 of 5 runs on JDK 17 and on JDK 25) and pass
 * since joins wait for the task instead of its thread and failures are described without
 * trusting their {@code toString()}; {@code openDefect_...} is open and documented (disabled);
 * {@code held_...} are attacks that held.
 */
class Review23ScopedThreadTest {

  /** Every thread a test starts itself, joined after the test so that none outlives it. */
  private final List<Thread> started = Collections.synchronizedList(new ArrayList<>());

  /** Latches a test may leave closed when it fails; opened after each test. */
  private final List<CountDownLatch> gates = Collections.synchronizedList(new ArrayList<>());

  @AfterEach
  void openGatesAndJoinEverything() throws InterruptedException {
    synchronized (gates) {
      for (CountDownLatch g : gates) {
        g.countDown();
      }
    }
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    List<Thread> copy;
    synchronized (started) {
      copy = new ArrayList<>(started);
    }
    for (Thread t : copy) {
      long left = end - System.nanoTime();
      if (left > 0) {
        t.join(Math.max(1, left / 1_000_000));
      }
      assertThat(t.isAlive()).as("%s outlived its test", t.getName()).isFalse();
    }
  }

  private CountDownLatch gate() {
    CountDownLatch g = new CountDownLatch(1);
    gates.add(g);
    return g;
  }

  private Thread startTest(String name, Runnable body) {
    Thread t = new Thread(body, "test-r23-" + name);
    started.add(t);
    t.start();
    return t;
  }

  /** Runs {@code body} on a fresh owner thread; returns what it threw, or null. */
  private @Nullable Throwable runOwner(String name, Callable<?> body) throws InterruptedException {
    AtomicReference<@Nullable Throwable> out = new AtomicReference<>();
    Thread t = startTest("owner-" + name, () -> {
      try {
        body.call();
      } catch (Throwable e) {
        out.set(e);
      }
    });
    t.join(20_000);
    assertThat(t.isAlive()).as("owner %s finished", name).isFalse();
    return out.get();
  }

  /** Polls {@code condition} with short parks; the test's @Timeout bounds it. */
  private static void awaitCondition(BooleanSupplier condition) {
    while (!condition.getAsBoolean()) {
      LockSupport.parkNanos(50_000L);
    }
  }

  /**
   * A factory whose threads run weft's task and then do clean-up of their own until
   * {@code cleanup} opens (flushing a log, closing a connection, returning to a pool).
   */
  private ThreadFactory lingering(CountDownLatch cleanup) {
    return r -> {
      Thread t = new Thread(() -> {
        r.run();
        awaitUninterruptibly(cleanup);
      }, "test-r23-linger");
      started.add(t);
      return t;
    };
  }

  /** How a joiner calls join. */
  private interface JoinCall {
    Object join(ScopedThread<Integer> h) throws Exception;
  }

  /**
   * Spawns a task on a {@link #lingering} factory thread, starts a joiner that calls
   * {@code call} while the task still runs, lets the task finish, waits until isDone(), and then
   * gives the joiner {@code boundMs} to return. Returns whether it returned within the bound,
   * and the value it got.
   */
  private boolean joinerReturnsOnceTheTaskIsDone(
      Scope.Builder builder, JoinCall call, AtomicReference<@Nullable Object> got)
      throws Exception {
    CountDownLatch cleanup = gate();
    CountDownLatch go = gate();
    AtomicBoolean returnedInTime = new AtomicBoolean();
    Throwable thrown = runOwner("linger", () -> {
      builder.threadFactory(lingering(cleanup)).run(scope -> {
        ScopedThread<Integer> h = scope.spawn(() -> {
          go.await();
          return 42;
        });
        Thread joiner = startTest("joiner", () -> {
          try {
            got.set(call.join(h));
          } catch (Throwable e) {
            got.set(e);
          }
        });
        Waits.awaitBlocked(joiner); // the joiner is inside join; the task has not finished
        go.countDown();
        awaitCondition(h::isDone); // the task is done: the thread is in the factory's clean-up
        joiner.join(3_000); // a bound, not a result wait: a join decided by the task is at once
        returnedInTime.set(!joiner.isAlive());
        cleanup.countDown();
        joiner.join();
      });
      return null;
    });
    assertThat(thrown).isNull();
    return returnedInTime.get();
  }

  // =============================================================================================
  // Defects
  // =============================================================================================

  /**
   * Attacks ScopedThread's promise "Done means the task is done: isDone(), join() and
   * join(Duration) decide by the task, not by the thread, which may still be unwinding (or running
   * a factory's clean-up code)". join() called while the task runs falls through to
   * {@code Thread.join()}, which waits for the THREAD: a factory thread that does clean-up after
   * weft's task keeps the joiner blocked although isDone() is already true (and forever, if the
   * clean-up waits for something the joiner does next). Anchor: a JDK 25 Subtask's state is
   * SUCCESS as soon as the task returned (get() needs no thread); Rust's join waits for the
   * thread, but a Rust thread does nothing after the closure.
   */
  @Test
  @Timeout(30)
  void fixed_joinCalledBeforeTheTaskEndsWaitsForTheFactoryThreadsCleanUp() throws Exception {
    AtomicReference<@Nullable Object> got = new AtomicReference<>();
    boolean inTime = joinerReturnsOnceTheTaskIsDone(Scope.builder(), h -> h.join(), got);
    assertThat(got.get()).isEqualTo(42);
    assertThat(inTime)
        .as("join() returned within 3 s after isDone() became true (thread in clean-up)")
        .isTrue();
  }

  /**
   * As above for {@code join(Duration)}: the loop waits with {@code Thread.join(left)}, so a
   * timed join that began before the task ended sleeps out its WHOLE timeout (here 60 s, cut
   * short by the clean-up ending) and then returns the result; it neither returns at the task's
   * end nor throws TimeoutException.
   */
  @Test
  @Timeout(30)
  void fixed_timedJoinCalledBeforeTheTaskEndsSleepsOutItsTimeoutWhileTheThreadLingers()
      throws Exception {
    AtomicReference<@Nullable Object> got = new AtomicReference<>();
    boolean inTime = joinerReturnsOnceTheTaskIsDone(
        Scope.builder(), h -> h.join(Duration.ofSeconds(60)), got);
    assertThat(got.get()).isEqualTo(42);
    assertThat(inTime)
        .as("join(60 s) returned within 3 s after isDone() became true (thread in clean-up)")
        .isTrue();
  }

  /**
   * The same through the scope's deadline path ({@code joinUntilDeadline}, taken by join() in a
   * timed scope): it loops on {@code Thread.join(left)} while the thread is alive, so the joiner
   * waits until the clean-up ends or the scope's deadline passes.
   */
  @Test
  @Timeout(30)
  void fixed_joinInATimedScopeWaitsForTheFactoryThreadsCleanUp() throws Exception {
    AtomicReference<@Nullable Object> got = new AtomicReference<>();
    boolean inTime = joinerReturnsOnceTheTaskIsDone(
        Scope.builder().timeout(Duration.ofMinutes(5)), h -> h.join(), got);
    assertThat(got.get()).isEqualTo(42);
    assertThat(inTime)
        .as("join() in a timed scope returned within 3 s after isDone() became true")
        .isTrue();
  }

  /**
   * Memory: a long-lived scope keeps every handle it spawned until it ends (documented:
   * "about 500 bytes per finished spawn"), but the handle also keeps the task's RESULT (and
   * failure), so a joined and dropped handle pins arbitrarily large results for the scope's whole
   * life: 1,000 spawns returning 1 MiB each keep 1 GB. Anchors: JDK 25 StructuredTaskScope
   * (Joiner.awaitAll) lets a dropped subtask's result be collected while the scope is open
   * (checked by hand: collected), its flock tracks live threads only; Rust's scope keeps a
   * counter, the result lives in the handle's Packet.
   */
  @Test
  @Disabled("open, documented (Scope's Javadoc \"Memory\", docs/scope.md): a scope keeps every"
      + " handle, and its result, until it ends")
  @Timeout(60)
  void openDefect_joinedAndDroppedResultStaysReachableUntilTheScopeEnds() throws Exception {
    AtomicBoolean collectedWhileOpen = new AtomicBoolean();
    AtomicReference<@Nullable WeakReference<Object>> ref = new AtomicReference<>();
    Scope.run(scope -> {
      WeakReference<Object> r = spawnJoinAndDrop(scope);
      ref.set(r);
      collectedWhileOpen.set(gcUntilCleared(r));
    });
    WeakReference<Object> r = ref.get();
    assertThat(r).isNotNull();
    assertThat(gcUntilCleared(r)).as("control: collected once the scope ended").isTrue();
    assertThat(collectedWhileOpen.get())
        .as("a 4 MiB result, joined and its handle dropped, collectable while the scope is open")
        .isTrue();
  }

  /** In its own frame, so that no local of the caller keeps the handle or the result. */
  private static WeakReference<Object> spawnJoinAndDrop(Scope scope) throws InterruptedException {
    ScopedThread<Object> h = scope.spawn(() -> (Object) new byte[4 << 20]);
    return new WeakReference<>(h.join());
  }

  private static boolean gcUntilCleared(WeakReference<?> r) {
    return Gc.stillReachable(r) == 0;
  }

  /** A failure whose getMessage(), so toString(), throws (a lazy message, a closed resource). */
  private static final class NastyFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;

    NastyFailure() {
      super(null, null, false, false); // no stack trace: cheap; suppression is irrelevant here
    }

    @Override
    public String getMessage() { // toString() calls it
      throw new IllegalStateException("getMessage() of the task's failure threw");
    }
  }

  /** Whether {@code x} is {@code t} or in its cause/suppressed tree, by identity only. */
  private static boolean inTree(@Nullable Throwable t, Throwable x) {
    if (t == null) {
      return false;
    }
    if (t == x) {
      return true;
    }
    if (t.getCause() != t && inTree(t.getCause(), x)) {
      return true;
    }
    for (Throwable s : t.getSuppressed()) {
      if (inTree(s, x)) {
        return true;
      }
    }
    return false;
  }

  /**
   * "No failure is ever lost" / "the cause is the original throwable": ScopeTask.report() and
   * Scope.outcome() build the message with {@code " failed: " + f}, i.e. f.toString(). A failure
   * whose getMessage() (so toString()) throws makes join() (and a second join, and the end) throw
   * that IllegalStateException instead, and the task's failure is referenced nowhere: join marked
   * it observed BEFORE building the message, so the end does not report it either. JDK 25's
   * FailedException(cause) also calls toString() and join() throws the same way, but
   * Subtask.exception() still returns the original; weft has no such accessor, so the original
   * is unreachable.
   */
  @Test
  @Timeout(10)
  void fixed_failureWhoseToStringThrowsIsLostInJoinAndAtTheEnd() throws Exception {
    NastyFailure joinedFailure = new NastyFailure();
    Throwable joined = catchThrowable(() -> Scope.run(scope -> {
      scope.spawn(() -> {
        throw joinedFailure;
      }).join();
    }));
    NastyFailure unjoinedFailure = new NastyFailure();
    Throwable unjoined = catchThrowable(() -> Scope.run(scope -> {
      ScopedThread<Object> h = scope.spawn(() -> {
        throw unjoinedFailure;
      });
      awaitCondition(h::isDone);
    }));
    assertThat(joined).isNotNull();
    assertThat(unjoined).isNotNull();
    boolean joinedKept = inTree(joined, joinedFailure);
    boolean unjoinedKept = inTree(unjoined, unjoinedFailure);
    assertThat(joinedKept && unjoinedKept)
        .as("the failure is in what Scope.run threw: joined %s (got %s), unjoined %s (got %s)",
            joinedKept, joined.getClass().getName(), unjoinedKept, unjoined.getClass().getName())
        .isTrue();
  }

  // =============================================================================================
  // Attacks that held
  // =============================================================================================

  /**
   * Join a task twice, from the owner, from a sibling task, from a thread outside the scope and
   * after the scope ended: always the same value (Rust's join consumes the handle; JDK 25
   * Subtask.get() may be called any number of times after join).
   */
  @Test
  @Timeout(20)
  void held_joinTwiceFromEveryKindOfThreadAndAfterTheEndGivesTheSameValue() throws Exception {
    AtomicReference<@Nullable ScopedThread<String>> escaped = new AtomicReference<>();
    AtomicReference<@Nullable Object> foreign = new AtomicReference<>();
    String fromSibling = Scope.call(scope -> {
      ScopedThread<String> h = scope.spawn(() -> new String("v"));
      String first = h.join();
      assertThat(h.join()).isSameAs(first);
      assertThat(h.join(Duration.ZERO)).isSameAs(first);
      ScopedThread<String> sib = scope.spawn(() -> h.join() + h.join(Duration.ofSeconds(10)));
      Thread outside = startTest("foreign-join", () -> {
        try {
          foreign.set(h.join());
        } catch (Throwable e) {
          foreign.set(e);
        }
      });
      outside.join();
      escaped.set(h);
      return sib.join();
    });
    assertThat(fromSibling).isEqualTo("vv");
    assertThat(foreign.get()).isEqualTo("v");
    ScopedThread<String> h = escaped.get();
    assertThat(h).isNotNull();
    assertThat(h.isDone()).isTrue();
    assertThat(h.join()).isEqualTo("v");
    assertThat(h.join(Duration.ZERO)).isEqualTo("v");
    assertThat(h.thread().getState()).isEqualTo(Thread.State.TERMINATED);
    assertThat(h.toString()).contains("succeeded");
  }

  /**
   * Outcomes: an Error, a checked exception, null from a Callable, a Runnable. Joined twice, a
   * failure throws TaskFailedException with the same cause each time; a joined failure is not
   * reported again at the end (Rust: a joined panic is not re-raised by scope; JDK 25: Subtask
   * exception() is the throwable itself, Errors included).
   */
  @Test
  @Timeout(20)
  void held_errorExceptionNullAndRunnableOutcomes() throws Exception {
    AssertionError err = new AssertionError("task error");
    IOException io = new IOException("task io");
    Scope.builder().failurePolicy(Scope.FailurePolicy.AWAIT_ALL).run(scope -> {
      ScopedThread<Object> e = scope.spawn(() -> {
        throw err;
      });
      ScopedThread<Object> x = scope.spawn(() -> {
        throw io;
      });
      ScopedThread<Object> n = scope.spawn(() -> null);
      ScopedThread<Void> r = scope.spawn(() -> { });
      for (int i = 0; i < 2; i++) {
        Throwable t1 = catchThrowable(e::join);
        assertThat(t1).isExactlyInstanceOf(TaskFailedException.class).hasCause(err);
        assertThat(t1.getCause()).isSameAs(err);
        assertThat(t1.getMessage()).contains(e.thread().getName()).contains("task error");
        Throwable t2 = catchThrowable(() -> x.join(Duration.ofSeconds(10)));
        assertThat(t2).isExactlyInstanceOf(TaskFailedException.class);
        assertThat(t2.getCause()).isSameAs(io);
      }
      assertThat(n.join()).isNull();
      assertThat(r.join()).isNull();
      assertThat(e.isDone() && x.isDone() && n.isDone() && r.isDone()).isTrue();
      assertThat(e.toString()).contains("failed");
    });
    assertThat(err.getSuppressed()).isEmpty();
  }

  /**
   * An Error nobody joined is the cause at the end; a handle that escaped reports it again when
   * joined after the end (the end reported it; "never lost", at worst twice, as documented).
   */
  @Test
  @Timeout(20)
  void held_unjoinedErrorAtTheEndAndAgainFromAnEscapedHandle() throws Exception {
    StackOverflowError err = new StackOverflowError("deep");
    AtomicReference<@Nullable ScopedThread<?>> escaped = new AtomicReference<>();
    Throwable end = catchThrowable(() -> Scope.run(scope -> {
      ScopedThread<Object> h = scope.spawn(() -> {
        throw err;
      });
      escaped.set(h);
      awaitCondition(h::isDone);
    }));
    assertThat(end).isExactlyInstanceOf(TaskFailedException.class);
    assertThat(end.getCause()).isSameAs(err);
    ScopedThread<?> h = escaped.get();
    assertThat(h).isNotNull();
    assertThat(catchThrowable(h::join)).isInstanceOf(TaskFailedException.class).hasCause(err);
  }

  /**
   * A task that interrupts its owner while the owner is in join(): the owner gets
   * InterruptedException, the scope is NOT cancelled (the sibling is not interrupted, documented
   * on join()), and a task that interrupts itself and returns still returns its value.
   */
  @Test
  @Timeout(20)
  void held_taskInterruptingItsOwnerOrItselfDoesNotCancelTheScope() throws Exception {
    AtomicReference<@Nullable Object> result = new AtomicReference<>();
    Throwable thrown = runOwner("interrupted", () -> {
      Thread owner = Thread.currentThread();
      CountDownLatch release = gate();
      Scope.run(scope -> {
        ScopedThread<Boolean> slow = scope.spawn(() -> {
          release.await(); // throws if the scope cancelled it
          return Thread.currentThread().isInterrupted();
        });
        ScopedThread<String> rude = scope.spawn(() -> {
          Waits.awaitBlocked(owner); // the owner waits in slow.join()
          owner.interrupt();
          Thread.currentThread().interrupt();
          return "done";
        });
        Throwable t = catchThrowable(slow::join);
        assertThat(t).isInstanceOf(InterruptedException.class);
        assertThat(scope.toString()).doesNotContain("cancelled");
        release.countDown();
        assertThat(slow.join()).isFalse();
        assertThat(rude.join()).isEqualTo("done");
        result.set("ok");
      });
      return null;
    });
    assertThat(thrown).isNull();
    assertThat(result.get()).isEqualTo("ok");
  }

  /**
   * A task that spawns into the scope after the owner began close(), joins its child and
   * publishes with plain fields: the end waits for the child, and every plain write of both is
   * visible after close() and after join() in a foreign thread (happens-before, documented).
   */
  @Test
  @Timeout(20)
  void held_spawnAfterTheOwnerBeganClosingAndPlainWritesAreVisible() throws Exception {
    int[] plain = new int[2];
    AtomicReference<@Nullable ScopedThread<Integer>> parentRef = new AtomicReference<>();
    Throwable thrown = runOwner("closing", () -> {
      Thread owner = Thread.currentThread();
      try (Scope scope = Scope.open()) {
        parentRef.set(scope.spawn(() -> {
          Waits.awaitBlocked(owner); // the owner is inside close(), joining
          ScopedThread<Integer> child = scope.spawn(() -> {
            plain[0] = 41;
            return 1;
          });
          int c = child.join();
          plain[1] = plain[0] + c;
          return plain[1];
        }));
      }
      assertThat(plain[1]).isEqualTo(42);
      return null;
    });
    assertThat(thrown).isNull();
    ScopedThread<Integer> parent = parentRef.get();
    assertThat(parent).isNotNull();
    AtomicReference<@Nullable Object> seen = new AtomicReference<>();
    startTest("hb", () -> {
      try {
        seen.set(parent.join() == 42 && plain[0] == 41 && plain[1] == 42);
      } catch (Throwable e) {
        seen.set(e);
      }
    }).join();
    assertThat(seen.get()).isEqualTo(true);
  }

  /**
   * Factories that throw, return null, a started thread or a dead thread make spawn throw
   * (the same exception, unchanged, or IllegalStateException), nothing runs, and the scope goes on
   * and ends normally; a name prefix renames a factory thread. (JDK 25: RejectedExecutionException
   * for null; Rust's Builder::spawn_scoped returns io::Error.)
   */
  @Test
  @Timeout(20)
  void held_misbehavingFactoriesAndNames() throws Exception {
    RuntimeException boom = new IllegalArgumentException("factory boom");
    CountDownLatch hold = gate();
    Thread running = startTest("already-running", () -> awaitUninterruptibly(hold));
    Thread dead = startTest("dead", () -> { });
    dead.join();
    AtomicInteger mode = new AtomicInteger();
    AtomicInteger ran = new AtomicInteger();
    ThreadFactory f = r -> {
      return switch (mode.get()) {
        case 0 -> throw boom;
        case 1 -> null;
        case 2 -> running;
        case 3 -> dead;
        default -> new Thread(r, "test-r23-factory");
      };
    };
    Scope.builder().threadFactory(f).namePrefix("test-r23-p").run(scope -> {
      assertThat(catchThrowable(() -> scope.spawn(ran::incrementAndGet))).isSameAs(boom);
      mode.set(1);
      assertThat(catchThrowable(() -> scope.spawn(ran::incrementAndGet)))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("null");
      mode.set(2);
      assertThat(catchThrowable(() -> scope.spawn(ran::incrementAndGet)))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("already started");
      mode.set(3);
      assertThat(catchThrowable(() -> scope.spawn(ran::incrementAndGet)))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("already started");
      mode.set(4);
      ScopedThread<Integer> ok = scope.spawn(() -> 7);
      assertThat(ok.join()).isEqualTo(7);
      assertThat(ok.thread().getName()).startsWith("test-r23-p-");
    });
    assertThat(ran.get()).isZero();
    assertThat(running.getName()).isEqualTo("test-r23-already-running"); // not renamed
    hold.countDown();
  }

  /** Null arguments throw NullPointerException naming the parameter. */
  @Test
  @Timeout(10)
  void held_nullArguments() throws Exception {
    Scope.run(scope -> {
      assertThat(catchThrowable(() -> scope.spawn((Callable<Object>) null)))
          .isInstanceOf(NullPointerException.class).hasMessageContaining("task");
      assertThat(catchThrowable(() -> scope.spawn((Runnable) null)))
          .isInstanceOf(NullPointerException.class).hasMessageContaining("task");
      ScopedThread<Integer> h = scope.spawn(() -> 1);
      assertThat(catchThrowable(() -> h.join(null)))
          .isInstanceOf(NullPointerException.class).hasMessageContaining("timeout");
      assertThat(h.join()).isEqualTo(1);
    });
    assertThat(catchThrowable(() -> new TaskFailedException("m", null)))
        .isInstanceOf(NullPointerException.class).hasMessageContaining("cause");
    assertThat(catchThrowable(() -> new ScopeTimeoutException(null)))
        .isInstanceOf(NullPointerException.class);
  }

  /**
   * Exception shapes: a spawn into a scope cancelled by a failure gives a done handle whose
   * unstarted placeholder thread never runs, whose join() throws TaskFailedException with a
   * CancellationException cause naming thread and scope; the end reports only the real failure.
   * A ScopeTimeoutException's cause is a TimeoutException with the same message.
   */
  @Test
  @Timeout(20)
  void held_cancelledSpawnAndTimeoutExceptionShapes() throws Exception {
    RuntimeException boom = new RuntimeException("first");
    AtomicBoolean ranLate = new AtomicBoolean();
    AtomicReference<@Nullable ScopedThread<?>> late = new AtomicReference<>();
    Throwable end = catchThrowable(() -> Scope.run(scope -> {
      ScopedThread<Object> f = scope.spawn(() -> {
        throw boom;
      });
      awaitCondition(f::isDone); // under CANCEL_OTHERS the scope is cancelled now
      ScopedThread<Void> h = scope.spawn(() -> ranLate.set(true));
      late.set(h);
      assertThat(h.isDone()).isTrue();
      assertThat(h.thread().getState()).isEqualTo(Thread.State.NEW);
      Throwable t = catchThrowable(h::join);
      assertThat(t).isExactlyInstanceOf(TaskFailedException.class)
          .hasCauseInstanceOf(CancellationException.class)
          .hasMessageContaining(h.thread().getName())
          .hasMessageContaining(f.thread().getName() + " failed");
    }));
    assertThat(end).isExactlyInstanceOf(TaskFailedException.class);
    assertThat(end.getCause()).isSameAs(boom);
    assertThat(end.getSuppressed()).isEmpty();
    assertThat(ranLate).isFalse();
    assertThat(late.get()).isNotNull();

    Throwable timeout = catchThrowable(() -> Scope.builder().timeout(Duration.ZERO).run(s -> { }));
    assertThat(timeout).isExactlyInstanceOf(ScopeTimeoutException.class)
        .hasCauseInstanceOf(TimeoutException.class);
    assertThat(timeout.getCause().getMessage()).isEqualTo(timeout.getMessage());
  }

  /** A task joining its own handle, untimed or timed, gets IllegalStateException, no deadlock. */
  @Test
  @Timeout(10)
  void held_selfJoinUntimedAndTimed() throws Exception {
    AtomicReference<@Nullable ScopedThread<Object>> self = new AtomicReference<>();
    CountDownLatch set = gate();
    Scope.run(scope -> {
      ScopedThread<Object> h = scope.spawn(() -> {
        set.await();
        ScopedThread<Object> me = self.get();
        Throwable a = catchThrowable(me::join);
        Throwable b = catchThrowable(() -> me.join(Duration.ofSeconds(1)));
        return a instanceof IllegalStateException && b instanceof IllegalStateException;
      });
      self.set(h);
      set.countDown();
      assertThat(h.join()).isEqualTo(true);
    });
  }

  /**
   * Memory, as documented: a long-lived scope keeps every finished handle until it ends
   * ("scopes are meant to be short-lived"); they all go once it ended. (Rust and JDK 25 keep no
   * per-task state for finished tasks; weft documents the difference.)
   */
  @Test
  @Timeout(60)
  void held_finishedHandlesAreKeptUntilTheEndAsDocumented() throws Exception {
    List<WeakReference<Object>> refs = new ArrayList<>();
    AtomicInteger keptWhileOpen = new AtomicInteger();
    Scope.run(scope -> {
      for (int i = 0; i < 1_000; i++) {
        refs.add(new WeakReference<>(scope.spawn(() -> { })));
      }
      for (WeakReference<Object> r : refs) {
        Object h = r.get();
        if (h != null) {
          ((ScopedThread<?>) h).join();
        }
      }
      // Expected to stay reachable: a few collections, not Gc.stillReachable's 5 s of waiting
      // for them to go (which this test paid, and then 1,000 more rounds of collections below:
      // it timed out at 60 s in a loaded verify, session 30's new-user pass).
      for (int i = 0; i < 3; i++) {
        System.gc();
      }
      keptWhileOpen.set((int) refs.stream().filter(r -> r.get() != null).count());
    });
    assertThat(keptWhileOpen.get()).isEqualTo(1_000);
    assertThat(Gc.stillReachable(refs)).as("handles still reachable after the end").isZero();
  }

  /** Virtual threads (JDK 21+): joined twice, from a foreign platform thread, after the end. */
  @Test
  @Timeout(20)
  void held_virtualThreadHandles() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    AtomicReference<@Nullable Object> foreign = new AtomicReference<>();
    AtomicReference<@Nullable ScopedThread<Integer>> escaped = new AtomicReference<>();
    Scope.builder().virtualThreads().namePrefix("test-r23-v").run(scope -> {
      ScopedThread<Integer> h = scope.spawn(() -> 5);
      assertThat((Boolean) Thread.class.getMethod("isVirtual").invoke(h.thread())).isTrue();
      startTest("vjoin", () -> {
        try {
          foreign.set(h.join() + h.join(Duration.ofSeconds(5)));
        } catch (Throwable e) {
          foreign.set(e);
        }
      }).join();
      escaped.set(h);
    });
    assertThat(foreign.get()).isEqualTo(10);
    assertThat(escaped.get().join()).isEqualTo(5);
  }
}
