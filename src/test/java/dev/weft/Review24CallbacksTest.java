package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.stream.IntStream;
import org.assertj.core.api.SoftAssertions;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 24, angle "Callbacks": user code that misbehaves at every point where weft calls it
 * (suppliers, initialisers, predicates, functions, actions, reducers, combiners, scope bodies and
 * tasks, thread factories, executors). Written from the code and the docs only.
 *
 * <p>fixed_ methods failed on the reviewed code (commit ac9f830, 5 of 5 runs on JDK 17 and 25)
 * and assert the correct behaviour, fixed in session 24; held_ methods are attacks that held.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@SuppressWarnings({"try", "ThreadPriorityCheck"})
class Review24CallbacksTest {

  private final List<Thread> threads = Collections.synchronizedList(new ArrayList<>());

  @AfterEach
  void reapThreads() throws InterruptedException {
    List<Thread> copy;
    synchronized (threads) {
      copy = new ArrayList<>(threads);
    }
    for (Thread t : copy) {
      t.interrupt();
    }
    for (Thread t : copy) {
      t.join(5_000);
      assertThat(t.isAlive()).as("thread %s left behind", t.getName()).isFalse();
    }
  }

  interface Body {
    void run() throws Exception;
  }

  private Thread start(String name, Body body, AtomicReference<@Nullable Throwable> failure) {
    Thread t =
        new Thread(
            () -> {
              try {
                body.run();
              } catch (Throwable e) {
                failure.set(e);
              }
            },
            name);
    threads.add(t);
    t.start();
    return t;
  }

  private Thread start(String name, Body body) {
    return start(name, body, new AtomicReference<>());
  }

  @SuppressWarnings("unchecked")
  static <E extends Throwable> RuntimeException sneaky(Throwable t) throws E {
    throw (E) t;
  }

  static void awaitState(Thread t, Thread.State... states) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < deadline) {
      for (Thread.State s : states) {
        if (t.getState() == s) {
          return;
        }
      }
      Thread.sleep(1);
    }
    throw new AssertionError(t.getName() + " never reached " + List.of(states) + ": " + t.getState());
  }

  // =========================================================================================
  // Lazy / OnceCell
  // =========================================================================================

  @Test
  void held_lazySupplierFailures_propagateUnchanged_andPolicyHolds() {
    // RETRY: a RuntimeException, an Error and a sneaky checked exception each propagate
    // unchanged (same instance), and the next get() runs the supplier again.
    IOException checked = new IOException("sneaky");
    StackOverflowError soe = new StackOverflowError("user-thrown");
    AssertionError ae = new AssertionError("assert");
    AtomicInteger calls = new AtomicInteger();
    Lazy<String> retry =
        Lazy.of(
            () -> {
              int c = calls.incrementAndGet();
              if (c == 1) {
                throw sneaky(checked);
              } else if (c == 2) {
                throw soe;
              } else if (c == 3) {
                throw ae;
              }
              return "ok";
            });
    assertThat(catchThrowable(retry::get)).isSameAs(checked);
    assertThat(catchThrowable(retry::get)).isSameAs(soe);
    assertThat(catchThrowable(retry::get)).isSameAs(ae);
    assertThat(retry.get()).isEqualTo("ok");
    assertThat(retry.get()).isEqualTo("ok");
    assertThat(calls).hasValue(4);

    // REMEMBER: the first caller gets the Error itself, later ones a TaskFailedException whose
    // cause is that same instance; the supplier never runs again.
    AtomicInteger runs = new AtomicInteger();
    OutOfMemoryError oom = new OutOfMemoryError("user-thrown");
    Lazy<String> remember =
        Lazy.of(
            () -> {
              runs.incrementAndGet();
              throw oom;
            },
            Lazy.FailurePolicy.REMEMBER);
    assertThat(catchThrowable(remember::get)).isSameAs(oom);
    for (int i = 0; i < 3; i++) {
      assertThat(catchThrowable(remember::get))
          .isInstanceOf(TaskFailedException.class)
          .cause().isSameAs(oom);
    }
    assertThat(runs).hasValue(1);
    assertThat(remember.toString()).contains("failed");
  }

  @Test
  void held_lazyRecursiveGet_throwsIllegalState_likeComputeIfAbsent_andStaysUsable() {
    // Anchor: ConcurrentHashMap.computeIfAbsent detects a recursive update of the same bin.
    ConcurrentHashMap<String, String> map = new ConcurrentHashMap<>();
    assertThatThrownBy(() -> map.computeIfAbsent("k", k -> map.computeIfAbsent("k", k2 -> "v")))
        .isInstanceOf(IllegalStateException.class);

    AtomicInteger calls = new AtomicInteger();
    AtomicReference<Lazy<String>> self = new AtomicReference<>();
    Lazy<String> lazy =
        Lazy.of(
            () -> {
              if (calls.incrementAndGet() == 1) {
                return self.get().get(); // recursive: must throw, not hang or overflow
              }
              return "second";
            });
    self.set(lazy);
    assertThatThrownBy(lazy::get)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("recursive initialisation");
    assertThat(lazy.isInitialized()).isFalse();
    assertThat(lazy.get()).isEqualTo("second"); // RETRY: usable afterwards

    // The supplier may catch the recursion error and still produce a value.
    AtomicReference<OnceCell<String>> cellRef = new AtomicReference<>();
    OnceCell<String> cell = new OnceCell<>();
    cellRef.set(cell);
    String v =
        cell.getOrInit(
            () -> {
              Throwable t = catchThrowable(() -> cellRef.get().getOrInit(() -> "inner"));
              assertThat(t).isInstanceOf(IllegalStateException.class);
              Throwable a = catchThrowable(() -> cellRef.get().await(Duration.ZERO));
              assertThat(a).isInstanceOf(IllegalStateException.class);
              Throwable u = catchThrowable(() -> cellRef.get().awaitUninterruptibly());
              assertThat(u).isInstanceOf(IllegalStateException.class);
              assertThat(cellRef.get().orElse("none")).isEqualTo("none");
              return "outer";
            });
    assertThat(v).isEqualTo("outer");
  }

  @Test
  void held_onceCellInitializerThatSetsItsOwnCell_thenThrows_returnsTheSetValue() {
    OnceCell<String> cell = new OnceCell<>(Lazy.FailurePolicy.REMEMBER);
    String v =
        cell.getOrInit(
            () -> {
              assertThat(cell.trySet("set")).isTrue();
              throw new IllegalArgumentException("dropped, as documented");
            });
    assertThat(v).isEqualTo("set");
    assertThat(cell.orElseThrow()).isEqualTo("set");

    // An Error still propagates, but the cell keeps the set value.
    OnceCell<String> cell2 = new OnceCell<>(Lazy.FailurePolicy.REMEMBER);
    AssertionError err = new AssertionError("boom");
    assertThat(
            catchThrowable(
                () ->
                    cell2.getOrInit(
                        () -> {
                          cell2.set("set2");
                          throw err;
                        })))
        .isSameAs(err);
    assertThat(cell2.orElseThrow()).isEqualTo("set2");
  }

  @Test
  void held_lazySupplierThatInterruptsOrClearsItsThread() throws Exception {
    Lazy<String> lazy =
        Lazy.of(
            () -> {
              Thread.currentThread().interrupt();
              return "v";
            });
    try {
      assertThat(lazy.get()).isEqualTo("v");
      assertThat(Thread.currentThread().isInterrupted()).isTrue(); // not swallowed
    } finally {
      Thread.interrupted();
    }

    // A waiter interrupted while another thread runs the supplier keeps its interrupt, and a
    // supplier that clears its own interrupt does not affect the waiter.
    CountDownLatch inSupplier = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Lazy<String> slow =
        Lazy.of(
            () -> {
              inSupplier.countDown();
              try {
                release.await(10, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.interrupted();
              }
              return "slow";
            });
    AtomicReference<@Nullable Throwable> f1 = new AtomicReference<>();
    Thread owner = start("owner", slow::get, f1);
    assertThat(inSupplier.await(10, TimeUnit.SECONDS)).isTrue();
    AtomicBoolean keptInterrupt = new AtomicBoolean();
    AtomicReference<@Nullable String> got = new AtomicReference<>();
    Thread waiter =
        start(
            "waiter",
            () -> {
              got.set(slow.get());
              keptInterrupt.set(Thread.currentThread().isInterrupted());
            });
    awaitState(waiter, Thread.State.WAITING);
    waiter.interrupt();
    Thread.sleep(20);
    assertThat(waiter.isAlive()).isTrue(); // get() waits uninterruptibly, as documented
    release.countDown();
    owner.join(10_000);
    waiter.join(10_000);
    assertThat(f1.get()).isNull();
    assertThat(got.get()).isEqualTo("slow");
    assertThat(keptInterrupt).isTrue();
  }

  @Test
  void held_lazyWaitersReleasedWhenSupplierThrowsError_andOneRunsItsOwn() throws Exception {
    CountDownLatch inSupplier = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger runs = new AtomicInteger();
    Lazy<String> lazy =
        Lazy.of(
            () -> {
              if (runs.incrementAndGet() == 1) {
                inSupplier.countDown();
                try {
                  release.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
                throw new StackOverflowError("user-thrown, after waiters queued");
              }
              return "retried";
            });
    AtomicReference<@Nullable Throwable> ownerFailure = new AtomicReference<>();
    Thread owner = start("owner", lazy::get, ownerFailure);
    assertThat(inSupplier.await(10, TimeUnit.SECONDS)).isTrue();
    List<AtomicReference<@Nullable String>> results = new ArrayList<>();
    List<Thread> waiters = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      AtomicReference<@Nullable String> r = new AtomicReference<>();
      results.add(r);
      waiters.add(start("waiter-" + i, () -> r.set(lazy.get())));
    }
    for (Thread w : waiters) {
      awaitState(w, Thread.State.WAITING);
    }
    release.countDown();
    owner.join(10_000);
    for (Thread w : waiters) {
      w.join(10_000);
      assertThat(w.isAlive()).isFalse();
    }
    assertThat(ownerFailure.get()).isInstanceOf(StackOverflowError.class);
    for (AtomicReference<@Nullable String> r : results) {
      assertThat(r.get()).isEqualTo("retried");
    }
    assertThat(runs).hasValue(2);
  }

  @Test
  void held_lazyCrossThreadCycle_blocksLikeTheAnchors_andResolvesWhenTheSupplierGivesUp()
      throws Exception {
    // Lazy A's supplier waits (bounded) for thread B, which calls A.get(): no thread can detect
    // this (ConcurrentHashMap.computeIfAbsent and Guava's memoize block the same way); once the
    // supplier stops waiting, B gets A's value and nothing is left stuck.
    AtomicReference<@Nullable Lazy<String>> ref = new AtomicReference<>();
    AtomicReference<@Nullable String> bGot = new AtomicReference<>();
    AtomicReference<Thread.@Nullable State> bStateSeen = new AtomicReference<>();
    Lazy<String> a =
        Lazy.of(
            () -> {
              Thread b = start("b", () -> bGot.set(ref.get().get()));
              try {
                awaitState(b, Thread.State.WAITING);
                bStateSeen.set(b.getState());
                b.join(50); // B waits for us: a cross-thread cycle, broken by our timeout
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return "a";
            });
    ref.set(a);
    assertThat(a.get()).isEqualTo("a");
    Thread b = threads.get(0);
    b.join(10_000);
    assertThat(bStateSeen.get()).isEqualTo(Thread.State.WAITING);
    assertThat(bGot.get()).isEqualTo("a");
  }

  // =========================================================================================
  // Mutex / Condvar
  // =========================================================================================

  @Test
  void held_mutexClosuresThatThrow_releaseTheLock_unchangedValue_unwrappedException()
      throws Exception {
    Mutex<Integer> m = new Mutex<>(1);
    IOException checked = new IOException("sneaky");
    assertThat(catchThrowable(() -> m.with(v -> { throw sneaky(checked); }))).isSameAs(checked);
    assertThat(m.isLocked()).isFalse();
    StackOverflowError soe = new StackOverflowError("user");
    assertThat(catchThrowable(() -> m.update(v -> { throw soe; }))).isSameAs(soe);
    assertThat(m.isLocked()).isFalse();
    int now = m.with(v -> v);
    assertThat(now).isEqualTo(1); // no poisoning, value unchanged
    AssertionError ae = new AssertionError("action");
    assertThat(catchThrowable(() -> m.awaitThen(v -> true, v -> { throw ae; }))).isSameAs(ae);
    assertThat(m.isLocked()).isFalse();
    IllegalStateException ise = new IllegalStateException("pred");
    assertThat(catchThrowable(() -> m.lockWhen(v -> { throw ise; }))).isSameAs(ise);
    assertThat(catchThrowable(() -> m.lockWhen(v -> { throw ise; }, Duration.ofSeconds(1))))
        .isSameAs(ise);
    assertThat(catchThrowable(() -> m.lockWhenUninterruptibly(v -> { throw ise; })))
        .isSameAs(ise);
    assertThat(m.isLocked()).isFalse();
    try (var g = m.tryLock()) {
      assertThat(g).isNotNull();
    }
  }

  @Test
  void held_mutexCallbacksThatReenterTheSameMutex_throwIllegalState_andReleaseTheLock()
      throws Exception {
    AtomicReference<Mutex<Integer>> self = new AtomicReference<>();
    Mutex<Integer> m = new Mutex<>(0);
    self.set(m);
    List<Body> reentries =
        List.of(
            () -> self.get().lock(),
            () -> self.get().with(v -> v),
            () -> self.get().update(v -> v),
            () -> self.get().tryLock(),
            () -> self.get().tryLock(Duration.ofMillis(1)),
            () -> self.get().lockInterruptibly(),
            () -> self.get().lockWhen(v -> true),
            () -> self.get().lockWhen(v -> true, Duration.ZERO),
            () -> self.get().awaitThen(v -> true, v -> v));
    for (Body reentry : reentries) {
      Throwable inWith = catchThrowable(() -> m.with(v -> { try { reentry.run(); } catch (Exception e) { throw sneaky(e); } return v; }));
      assertThat(inWith).isInstanceOf(IllegalStateException.class).hasMessageContaining("not reentrant");
      assertThat(m.isLocked()).isFalse();
      Throwable inPredicate =
          catchThrowable(
              () ->
                  m.lockWhen(
                      v -> {
                        try {
                          reentry.run();
                        } catch (Exception e) {
                          throw sneaky(e);
                        }
                        return true;
                      }));
      assertThat(inPredicate).isInstanceOf(IllegalStateException.class);
      assertThat(m.isLocked()).isFalse();
    }
  }

  @Test
  void held_lockWhenPredicateThatThrowsAfterAWait_releasesAndOtherWaitersStillWake()
      throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<@Nullable Throwable> thrower = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> other = new AtomicReference<>();
    CountDownLatch otherGot = new CountDownLatch(1);
    Thread t1 =
        start(
            "thrower",
            () -> {
              try (var g =
                  m.lockWhen(
                      v -> {
                        if (v == 1) {
                          throw new IllegalArgumentException("predicate failed on 1");
                        }
                        return v == 2;
                      })) {
                g.get();
              }
            },
            thrower);
    Thread t2 =
        start(
            "other",
            () -> {
              try (var g = m.lockWhen(v -> v >= 1)) {
                otherGot.countDown();
              }
            },
            other);
    awaitState(t1, Thread.State.WAITING, Thread.State.TIMED_WAITING);
    awaitState(t2, Thread.State.WAITING, Thread.State.TIMED_WAITING);
    m.update(v -> 1);
    assertThat(otherGot.await(10, TimeUnit.SECONDS)).isTrue();
    t1.join(10_000);
    t2.join(10_000);
    assertThat(thrower.get()).isInstanceOf(IllegalArgumentException.class);
    assertThat(other.get()).isNull();
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void held_lockWhenPredicateThatInterruptsItsOwnThread() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    // Interruptible: the self-interrupt ends the wait with InterruptedException, lock not held.
    assertThatThrownBy(
            () ->
                m.lockWhen(
                    v -> {
                      Thread.currentThread().interrupt();
                      return false;
                    }))
        .isInstanceOf(InterruptedException.class);
    assertThat(m.isLocked()).isFalse();
    assertThat(Thread.interrupted()).isFalse(); // reported by the exception, status cleared

    // Uninterruptible: keeps waiting, the predicate becomes true later, the status is kept.
    AtomicInteger tests = new AtomicInteger();
    AtomicBoolean interruptedAfter = new AtomicBoolean();
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    Thread t =
        start(
            "uninterruptible",
            () -> {
              try (var g =
                  m.lockWhenUninterruptibly(
                      v -> {
                        tests.incrementAndGet();
                        Thread.currentThread().interrupt();
                        return v == 1;
                      })) {
                interruptedAfter.set(Thread.currentThread().isInterrupted());
              }
            },
            failure);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (tests.get() < 2 && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    Thread.sleep(20);
    int before = tests.get();
    Thread.sleep(50);
    // A self-interrupting predicate must not turn the wait into a busy loop.
    assertThat(tests.get() - before).isLessThan(50);
    // Since session 27 a release evaluates the waiters' predicates on the releasing thread, so
    // this one (a side effect the contract rules out) interrupts whoever releases: a helper.
    Thread releaser = new Thread(() -> m.update(v -> 1), "releaser");
    releaser.start();
    releaser.join(10_000);
    assertThat(releaser.isAlive()).isFalse();
    t.join(10_000);
    assertThat(t.isAlive()).isFalse();
    assertThat(failure.get()).isNull();
    assertThat(interruptedAfter).isTrue();
  }

  @Test
  void held_condvarPredicateThatThrows_passesTheNotificationOn() throws Exception {
    for (int round = 0; round < 20; round++) {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      AtomicReference<@Nullable Throwable> fa = new AtomicReference<>();
      AtomicReference<@Nullable Throwable> fb = new AtomicReference<>();
      CountDownLatch bDone = new CountDownLatch(1);
      Thread a =
          start(
              "a",
              () -> {
                try (var g = m.lock()) {
                  cv.awaitWhile(
                      g,
                      v -> {
                        if (v == 1) {
                          throw new IllegalArgumentException("a fails");
                        }
                        return true;
                      });
                }
              },
              fa);
      Thread b =
          start(
              "b",
              () -> {
                try (var g = m.lock()) {
                  cv.awaitWhile(g, v -> v == 0);
                }
                bDone.countDown();
              },
              fb);
      awaitState(a, Thread.State.WAITING);
      awaitState(b, Thread.State.WAITING);
      m.update(v -> 1);
      cv.notifyOne();
      assertThat(bDone.await(10, TimeUnit.SECONDS)).as("round %d", round).isTrue();
      a.interrupt();
      a.join(10_000);
      b.join(10_000);
      assertThat(fb.get()).isNull();
      assertThat(m.isLocked()).isFalse();
      threads.clear();
    }
  }

  // =========================================================================================
  // RwLock
  // =========================================================================================

  @Test
  void held_rwLockFunctionsThatReenter_nestedReadBehindQueuedWriter_upgradeRefused()
      throws Exception {
    RwLock<Integer> rw = new RwLock<>(0);
    CountDownLatch inRead = new CountDownLatch(1);
    CountDownLatch writerQueued = new CountDownLatch(1);
    AtomicReference<@Nullable Throwable> wf = new AtomicReference<>();
    AtomicReference<@Nullable Thread> writer = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> upgrade = new AtomicReference<>();
    int r =
        rw.withRead(
            v -> {
              inRead.countDown();
              writer.set(start("writer", () -> rw.update(x -> x + 1), wf));
              try {
                awaitState(writer.get(), Thread.State.WAITING);
              } catch (InterruptedException e) {
                throw new AssertionError(e);
              }
              writerQueued.countDown();
              upgrade.set(catchThrowable(() -> rw.update(x -> x + 100)));
              return rw.withRead(x -> x + 10); // nested read behind the queued writer
            });
    assertThat(r).isEqualTo(10);
    assertThat(upgrade.get()).isInstanceOf(IllegalStateException.class);
    writer.get().join(10_000);
    assertThat(wf.get()).isNull();
    int after = rw.withRead(x -> x);
    assertThat(after).isEqualTo(1);
    assertThat(rw.isWriteLocked()).isFalse();
    assertThat(rw.readLockCount()).isZero();
    // Anchor: ReentrantReadWriteLock lets the nested read in too.
    ReentrantReadWriteLock jdk = new ReentrantReadWriteLock();
    jdk.readLock().lock();
    try {
      assertThat(jdk.readLock().tryLock()).isTrue();
      jdk.readLock().unlock();
    } finally {
      jdk.readLock().unlock();
    }
  }

  // =========================================================================================
  // SeqLock / SeqLocked
  // =========================================================================================

  static final class Point {
    int x;
    int y;
  }

  @Test
  void held_seqLockedCallbacks_writeThrows_readWrites_writeReads_writeNests() throws Exception {
    SeqLocked<Point> cell = new SeqLocked<>(new Point());
    IOException checked = new IOException("sneaky");
    assertThat(
            catchThrowable(
                () ->
                    cell.write(
                        p -> {
                          p.x = 1;
                          throw sneaky(checked);
                        })))
        .isSameAs(checked);
    assertThat(cell.isWriteLocked()).isFalse();
    assertThat(cell.readInt(p -> p.x)).isEqualTo(1); // partial write published, lock released

    // A write function that reads its own cell sees its own changes, no hang.
    cell.write(
        p -> {
          p.y = 7;
          assertThat(cell.readInt(q -> q.y)).isEqualTo(7);
        });
    // Nested write: IllegalStateException, and the outer write still completes.
    AtomicReference<@Nullable Throwable> nested = new AtomicReference<>();
    cell.writeUninterruptibly(p -> nested.set(catchThrowable(() -> cell.write(q -> q.x = 99))));
    assertThat(nested.get()).isInstanceOf(IllegalStateException.class);
    assertThat(cell.isWriteLocked()).isFalse();

    // A read function that writes on every pass ends in IllegalStateException, bounded.
    AtomicInteger passes = new AtomicInteger();
    Throwable t =
        catchThrowable(
            () ->
                cell.read(
                    p -> {
                      passes.incrementAndGet();
                      cell.writeUninterruptibly(q -> q.x++);
                      return p.x;
                    }));
    assertThat(t).isInstanceOf(IllegalStateException.class);
    assertThat(passes.get()).isLessThan(1000);
    assertThat(cell.isWriteLocked()).isFalse();
    assertThat(cell.isWriteLockedByCurrentThread()).isFalse();
    cell.write(p -> p.x = 5);
    assertThat(cell.readInt(p -> p.x)).isEqualTo(5);

    // SeqLock: a read supplier that throws Error on consistent state propagates it unchanged.
    SeqLock lock = new SeqLock();
    AssertionError ae = new AssertionError("reader");
    assertThat(catchThrowable(() -> lock.read(() -> { throw ae; }))).isSameAs(ae);
    try (var g = lock.tryWrite()) {
      assertThat(g).isNotNull();
    }
  }

  // =========================================================================================
  // Parallel
  // =========================================================================================

  @Test
  void held_parallelFunctionFailures_areWrappedOnEveryPath_withTheOriginalAsCause() {
    IOException checked = new IOException("sneaky");
    for (int n : new int[] {1, 2, 10, 17, 5_000}) {
      List<Integer> data = IntStream.range(0, n).boxed().toList();
      for (Parallel.Options o :
          List.of(
              Parallel.options(),
              Parallel.options().threads(1),
              Parallel.options().sequentialCutoff(Duration.ZERO).threads(3),
              Parallel.options().newThreadsPerCall().sequentialCutoff(Duration.ZERO))) {
        Throwable t =
            catchThrowable(
                () ->
                    Parallel.map(
                        data,
                        x -> {
                          if (x == n - 1) {
                            throw sneaky(checked);
                          }
                          return x;
                        },
                        o));
        assertThat(t).as("n=%d %s", n, o).isInstanceOf(TaskFailedException.class).cause().isSameAs(checked);
        Throwable r =
            catchThrowable(
                () ->
                    Parallel.reduce(
                        data,
                        x -> x,
                        0,
                        (a, b) -> {
                          if (b == n - 1) {
                            throw new AssertionError("combine");
                          }
                          return a + b;
                        },
                        o));
        assertThat(r).as("reduce n=%d %s", n, o).isInstanceOf(TaskFailedException.class)
            .hasCauseInstanceOf(AssertionError.class);
      }
    }
  }

  @Test
  void held_parallelFunctionThatCallsParallelOnTheSameList_andInterruptsItsWorker() {
    List<Integer> data = IntStream.range(0, 200).boxed().toList();
    Parallel.Options heavy = Parallel.options().sequentialCutoff(Duration.ZERO).threads(3);
    List<Integer> out =
        Parallel.map(
            data, x -> Parallel.reduce(data, y -> y, 0, Integer::sum, heavy) + x, heavy);
    int sum = 199 * 200 / 2;
    assertThat(out).hasSize(200);
    for (int i = 0; i < 200; i++) {
      assertThat(out.get(i)).isEqualTo(sum + i);
    }
    // A function that interrupts its own pool thread: the next call's tasks start clean.
    Thread caller = Thread.currentThread();
    Parallel.forRange(
        0,
        2_000,
        i -> {
          if (Thread.currentThread() != caller) {
            Thread.currentThread().interrupt();
          }
        },
        heavy);
    AtomicInteger dirty = new AtomicInteger();
    Parallel.forRange(
        0,
        2_000,
        i -> {
          if (Thread.currentThread() != caller && Thread.currentThread().isInterrupted()) {
            dirty.incrementAndGet();
            Thread.interrupted();
          }
        },
        heavy);
    assertThat(dirty).hasValue(0);
    assertThat(caller.isInterrupted()).isFalse();
  }

  @Test
  void held_parallelFunctionThatInterruptsTheCaller_cancels() {
    Thread caller = Thread.currentThread();
    try {
      Throwable t =
          catchThrowable(
              () ->
                  Parallel.forRange(
                      0,
                      100_000,
                      i -> {
                        if (i == 10 && Thread.currentThread() == caller) {
                          caller.interrupt();
                        }
                      },
                      Parallel.options().sequentialCutoff(Duration.ZERO).threads(2)));
      // Either the caller ran element 10 (then the call is cancelled) or a worker did.
      if (t != null) {
        assertThat(t).isInstanceOf(CancellationException.class);
        assertThat(caller.isInterrupted()).isTrue();
      }
    } finally {
      Thread.interrupted();
    }
  }

  @Test
  void held_parallelBrokenThreadFactories() {
    List<Integer> data = IntStream.range(0, 2_000).boxed().toList();
    Parallel.Options base = Parallel.options().sequentialCutoff(Duration.ZERO).threads(3);
    // null: fewer workers, the call still completes.
    assertThat(Parallel.map(data, x -> x + 1, base.threadFactory(r -> null))).hasSize(2_000);
    // throws: TaskFailedException with the factory's exception as cause.
    IllegalStateException boom = new IllegalStateException("factory");
    assertThat(catchThrowable(() -> Parallel.map(data, x -> x, base.threadFactory(r -> { throw boom; }))))
        .isInstanceOf(TaskFailedException.class)
        .cause().isSameAs(boom);
    // a thread that never runs its Runnable: fewer workers, no hang.
    List<Thread> made = Collections.synchronizedList(new ArrayList<>());
    ThreadFactory ignoring =
        r -> {
          Thread t = new Thread(() -> {}, "ignores-runnable");
          made.add(t);
          return t;
        };
    assertThat(Parallel.map(data, x -> x * 2, base.threadFactory(ignoring))).hasSize(2_000);
    // an already started thread: TaskFailedException.
    CountDownLatch stop = new CountDownLatch(1);
    ThreadFactory started =
        r -> {
          Thread t = new Thread(() -> {
            try {
              stop.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }, "already-started");
          threads.add(t);
          t.start();
          return t;
        };
    assertThat(catchThrowable(() -> Parallel.map(data, x -> x, base.threadFactory(started))))
        .isInstanceOf(TaskFailedException.class);
    stop.countDown();
    // a thread that runs the Runnable twice: results stay correct, exactly once each.
    AtomicInteger calls = new AtomicInteger();
    ThreadFactory twice =
        r -> {
          Thread t = new Thread(() -> { r.run(); r.run(); }, "runs-twice");
          made.add(t);
          return t;
        };
    List<Integer> out =
        Parallel.map(data, x -> { calls.incrementAndGet(); return x; }, base.threadFactory(twice));
    assertThat(out).isEqualTo(data);
    assertThat(calls).hasValue(2_000);
  }

  @Test
  void held_parallelExecutorThatRunsTaskTwiceConcurrently_orInline_orRejects() throws Exception {
    List<Integer> data = IntStream.range(0, 5_000).boxed().toList();
    Parallel.Options base = Parallel.options().sequentialCutoff(Duration.ZERO).threads(4);
    AtomicInteger calls = new AtomicInteger();
    Executor twice =
        r -> {
          start("twice-a", r::run);
          start("twice-b", r::run);
        };
    List<Integer> out =
        Parallel.map(
            data,
            x -> {
              calls.incrementAndGet();
              return x;
            },
            base.executor(twice));
    assertThat(out).isEqualTo(data);
    assertThat(calls).hasValue(5_000);
    // inline: the caller does the work as the caller, its interrupt status untouched
    assertThat(Parallel.map(data, x -> x, base.executor(Runnable::run))).isEqualTo(data);
    // rejects: fewer workers
    assertThat(
            Parallel.map(
                data,
                x -> x,
                base.executor(r -> { throw new java.util.concurrent.RejectedExecutionException("no"); })))
        .isEqualTo(data);
    // throws something else: TaskFailedException
    assertThat(
            catchThrowable(
                () -> Parallel.map(data, x -> x, base.executor(r -> { throw new AssertionError("exec"); }))))
        .isInstanceOf(TaskFailedException.class)
        .hasCauseInstanceOf(AssertionError.class);
  }

  // =========================================================================================
  // Scope
  // =========================================================================================

  @Test
  void held_scopeTaskFailures_causeAndSuppressed_bodyErrorsKeepTaskFailures() throws Exception {
    IOException checked = new IOException("sneaky");
    StackOverflowError soe = new StackOverflowError("user");
    Throwable t =
        catchThrowable(
            () ->
                Scope.builder()
                    .failurePolicy(Scope.FailurePolicy.AWAIT_ALL)
                    .run(
                        s -> {
                          s.spawn(() -> { throw sneaky(checked); });
                          s.spawn(() -> { throw soe; });
                        }));
    assertThat(t).isInstanceOf(TaskFailedException.class);
    List<Throwable> all = new ArrayList<>();
    all.add(t.getCause());
    all.addAll(List.of(t.getSuppressed()));
    assertThat(all).containsExactlyInAnyOrder(checked, soe);

    // The body throws an Error: unchanged (or the documented same-class error), the task
    // failures suppressed on it.
    AssertionError bodyError = new AssertionError("body");
    Throwable b =
        catchThrowable(
            () ->
                Scope.run(
                    s -> {
                      s.spawn(() -> { throw new IllegalStateException("task"); }).thread();
                      Thread.sleep(50);
                      throw bodyError;
                    }));
    assertThat(b).isSameAs(bodyError);
    assertThat(b.getSuppressed()).hasSize(1);
  }

  @Test
  void held_scopeTaskClosingItsOwnScope_orJoiningItself_getsIllegalState() throws Exception {
    AtomicReference<@Nullable Throwable> closeFailure = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> joinFailure = new AtomicReference<>();
    AtomicReference<@Nullable ScopedThread<?>> self = new AtomicReference<>();
    CountDownLatch handleSet = new CountDownLatch(1);
    try (Scope s = Scope.open()) {
      self.set(
          s.spawn(
              () -> {
                closeFailure.set(catchThrowable(s::close));
                handleSet.await(10, TimeUnit.SECONDS);
                joinFailure.set(catchThrowable(() -> self.get().join()));
                return null;
              }));
      handleSet.countDown();
    }
    assertThat(closeFailure.get()).isInstanceOf(IllegalStateException.class);
    assertThat(joinFailure.get()).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void held_scopeBrokenFactories() throws Exception {
    assertThatThrownBy(() -> Scope.builder().threadFactory(r -> null).run(s -> s.spawn(() -> 1)))
        .isInstanceOf(IllegalStateException.class);
    Thread done = new Thread(() -> {});
    done.start();
    done.join();
    assertThatThrownBy(() -> Scope.builder().threadFactory(r -> done).run(s -> s.spawn(() -> 1)))
        .isInstanceOf(IllegalStateException.class);
    IllegalArgumentException boom = new IllegalArgumentException("factory");
    assertThat(
            catchThrowable(
                () -> Scope.builder().threadFactory(r -> { throw boom; }).run(s -> s.spawn(() -> 1))))
        .isSameAs(boom);
    // A thread that never runs its Runnable: the task fails, no hang, even under a cap.
    Throwable never =
        catchThrowable(
            () ->
                Scope.builder()
                    .maxConcurrency(1)
                    .threadFactory(r -> new Thread(() -> {}))
                    .run(
                        s -> {
                          s.spawn(() -> 1);
                          s.spawn(() -> 2); // waits for the slot the first one never frees
                        }));
    assertThat(never).isInstanceOf(TaskFailedException.class);
  }

  /**
   * A task that calls {@code run()} on its own thread ({@code Thread.currentThread().run()}, or
   * {@code handle.thread().run()} from inside the task: the public {@link ScopedThread#thread()}
   * hands the {@code Thread} out) re-enters weft's {@code ScopeTask.run()}. Its guard {@code
   * stateAcquire() != NEW} does not see a running task (the state stays NEW while the task runs),
   * so the nested run proceeds with the callable already cleared: it records an NPE ("runnable")
   * as the task's failure, cancels the scope, and calls {@code scope.taskExited()}, releasing the
   * concurrency slot while the task is still running; the outer run later overwrites FAILED
   * with SUCCESS and releases the slot a second time. The anchor, {@code FutureTask.run()},
   * claims a runner by CAS and a nested or second run returns without doing anything. Before
   * the fix: 5 of 5 runs failed (JDK 17 and 25). Fixed (session 24): run() marks itself entered
   * (a plain field of the task's own thread) and refuses a second entry with
   * IllegalStateException.
   */
  @Test
  @SuppressWarnings("DoNotCall") // the misuse under test: a task re-entering its own run()
  void fixed_taskThatReentersItsOwnRun_releasesItsCapSlotTwice_andFailsTheScope()
      throws Exception {
    // Anchor: FutureTask ignores a nested run().
    AtomicInteger futureRuns = new AtomicInteger();
    AtomicReference<java.util.concurrent.@Nullable FutureTask<Integer>> ftRef =
        new AtomicReference<>();
    java.util.concurrent.FutureTask<Integer> ft =
        new java.util.concurrent.FutureTask<>(
            () -> {
              futureRuns.incrementAndGet();
              ftRef.get().run(); // nested: ignored
              return 1;
            });
    ftRef.set(ft);
    Thread ftThread = new Thread(ft);
    threads.add(ftThread);
    ftThread.start();
    assertThat(ft.get(10, TimeUnit.SECONDS)).isEqualTo(1);
    assertThat(futureRuns).hasValue(1);

    AtomicInteger running = new AtomicInteger();
    AtomicInteger maxRunning = new AtomicInteger();
    AtomicReference<@Nullable Throwable> nested = new AtomicReference<>();
    CountDownLatch aReentered = new CountDownLatch(1);
    AtomicBoolean bStartedWhileARan = new AtomicBoolean();
    AtomicBoolean aRunning = new AtomicBoolean();
    Throwable end =
        catchThrowable(
            () ->
                Scope.builder()
                    .maxConcurrency(1)
                    .failurePolicy(Scope.FailurePolicy.AWAIT_ALL)
                    .run(
                        s -> {
                          s.spawn(
                              () -> {
                                aRunning.set(true);
                                maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                                try {
                                  nested.set(catchThrowable(() -> Thread.currentThread().run()));
                                  aReentered.countDown();
                                  Thread.sleep(300); // a second task must not start meanwhile
                                } finally {
                                  running.decrementAndGet();
                                  aRunning.set(false);
                                }
                                return null;
                              });
                          aReentered.await(10, TimeUnit.SECONDS);
                          // Under maxConcurrency(1) this spawn must wait for A to finish.
                          s.spawn(
                              () -> {
                                bStartedWhileARan.set(aRunning.get());
                                maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
                                running.decrementAndGet();
                              });
                        }));
    SoftAssertions soft = new SoftAssertions();
    soft.assertThat(bStartedWhileARan).as("B started while A was still running: cap broken").isFalse();
    soft.assertThat(maxRunning).as("tasks running at once under maxConcurrency(1)").hasValue(1);
    soft.assertThat(nested.get())
        .as("the nested run() should be refused, like FutureTask's")
        .isInstanceOf(IllegalStateException.class);
    soft.assertThat(end).as("the task itself succeeded; nothing should fail the scope").isNull();
    soft.assertAll();
  }

  /**
   * A {@code ThreadFactory} that spawns into the same scope (re-entry from inside the owner's
   * own spawn) under {@code maxConcurrency(1)} waits forever: the outer spawn holds the only slot
   * while it calls the factory, and the nested spawn waits for that slot. weft already knows it
   * is inside the owner's own spawn ({@code ownerSpawning}, used to refuse a {@code close()}
   * from there), but a nested spawn is not refused; the reap loop looks only at tasks that were
   * started, so it never frees the slot. The owner hangs until interrupted (or the deadline).
   * Without a cap the same nested spawn works. Expected: an {@code IllegalStateException}
   * instead of a self-deadlock, as for close(). Before the fix: 5 of 5 runs hung (JDK 17 and
   * 25). Fixed (session 24): a spawn from inside a spawn of the same thread into the same scope
   * is refused, with or without a cap.
   */
  @Test
  void fixed_factoryThatSpawnsIntoItsScopeUnderACap_deadlocksTheOwner() throws Exception {
    AtomicReference<@Nullable Throwable> outcome = new AtomicReference<>();
    AtomicBoolean finished = new AtomicBoolean();
    AtomicReference<@Nullable Scope> scopeRef = new AtomicReference<>();
    AtomicBoolean nestedOnce = new AtomicBoolean();
    ThreadFactory reentrant =
        r -> {
          Scope s = scopeRef.get();
          if (s != null && nestedOnce.compareAndSet(false, true)) {
            try {
              s.spawn(() -> 2); // re-entry: spawn from inside the owner's own spawn
            } catch (InterruptedException e) {
              throw sneaky(e);
            }
          }
          return new Thread(r);
        };
    Thread owner =
        start(
            "owner",
            () -> {
              try {
                Scope.builder()
                    .maxConcurrency(1)
                    .threadFactory(reentrant)
                    .run(
                        s -> {
                          scopeRef.set(s);
                          s.spawn(() -> 1);
                        });
              } finally {
                finished.set(true);
              }
            },
            outcome);
    owner.join(3_000);
    boolean hung = owner.isAlive();
    String where = hung ? stackOf(owner) : "";
    owner.interrupt(); // spawn's slot wait is interruptible: free it either way
    owner.join(10_000);
    assertThat(hung).as("owner deadlocked inside the factory's nested spawn:%n%s", where).isFalse();
    assertThat(finished).isTrue();
    assertThat(outcome.get())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("a ThreadFactory must not spawn into the scope it makes threads for");
  }

  private static String stackOf(Thread t) {
    StringBuilder sb = new StringBuilder();
    for (StackTraceElement e : t.getStackTrace()) {
      sb.append("  at ").append(e).append('\n');
      if (sb.length() > 1500) {
        break;
      }
    }
    return sb.toString();
  }
}
