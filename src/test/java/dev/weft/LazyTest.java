package dev.weft;

import static dev.weft.testing.Waits.awaitParkedOn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Field;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledForJreRange;
import org.junit.jupiter.api.condition.JRE;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class LazyTest {

  // ------------------------------------------------------------------ the chapter's example

  static final Lazy<Pattern> IDENT = Lazy.of(() -> Pattern.compile("^[a-zA-Z0-9_]+$"));

  static boolean isValidIdentifier(String s) {
    return IDENT.get().matcher(s).matches();
  }

  @Test
  void chapterRegexExample() {
    assertThat(isValidIdentifier("hello_world")).isTrue();
    assertThat(isValidIdentifier("hello world")).isFalse();
    assertThat(IDENT.isInitialized()).isTrue();
    assertThat(IDENT.get()).isSameAs(IDENT.get());
  }

  // ------------------------------------------------------------------ basics

  @Test
  void computesOnceAndReturnsTheSameInstance() {
    AtomicInteger runs = new AtomicInteger();
    Lazy<Object> lazy = Lazy.of(() -> {
      runs.incrementAndGet();
      return new Object();
    });
    assertThat(lazy.isInitialized()).isFalse();
    assertThat(runs).hasValue(0);
    Object first = lazy.get();
    assertThat(lazy.get()).isSameAs(first);
    assertThat(lazy.isInitialized()).isTrue();
    assertThat(runs).hasValue(1);
  }

  @Test
  void isASupplier() {
    Supplier<String> s = Lazy.of(() -> "x");
    assertThat(s.get()).isEqualTo("x");
  }

  @Test
  void nullIsStoredNotRecomputed() {
    AtomicInteger runs = new AtomicInteger();
    Lazy<@Nullable String> lazy = Lazy.of(() -> {
      runs.incrementAndGet();
      return null;
    });
    assertThat(lazy.get()).isNull();
    assertThat(lazy.get()).isNull();
    assertThat(lazy.isInitialized()).isTrue();
    assertThat(runs).hasValue(1);
    assertThat(lazy).hasToString("Lazy[null]");
  }

  @Test
  void aThreadAsTheValueIsNotMistakenForARunningInitialiser() throws Exception {
    Lazy<Thread> lazy = Lazy.of(Thread::currentThread);
    Thread me = Thread.currentThread();
    assertThat(lazy.get()).isSameAs(me);
    AtomicReference<@Nullable Thread> other = new AtomicReference<>();
    Thread t = start("test-lazy-thread-value", () -> other.set(lazy.get()));
    t.join();
    assertThat(other.get()).isSameAs(me);
    assertThat(lazy.get()).isSameAs(me); // no "recursive initialisation" for the owner thread
  }

  @Test
  void toStringNeverInitialises() {
    AtomicInteger runs = new AtomicInteger();
    Lazy<String> lazy = Lazy.of(() -> {
      runs.incrementAndGet();
      return "v";
    });
    assertThat(lazy).hasToString("Lazy[uninitialised]");
    assertThat(runs).hasValue(0);
    lazy.get();
    assertThat(lazy).hasToString("Lazy[v]");
  }

  @Test
  void toStringShowsInitialisingWithoutBlocking() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Lazy<String> lazy = Lazy.of(() -> {
      entered.countDown();
      await(release);
      return "v";
    });
    Thread t = start("test-lazy-init", lazy::get);
    entered.await();
    assertThat(lazy).hasToString("Lazy[initialising]");
    release.countDown();
    t.join();
  }

  @Test
  void supplierIsReleasedAfterSuccess() throws Exception {
    Lazy<String> lazy = Lazy.of(() -> "v");
    assertThat(supplierField(lazy)).isNotNull();
    lazy.get();
    assertThat(supplierField(lazy)).isNull();
  }

  @Test
  void supplierIsKeptForRetryAfterFailure() throws Exception {
    Lazy<String> lazy = Lazy.of(() -> {
      throw new IllegalArgumentException("boom");
    });
    assertThatThrownBy(lazy::get).isInstanceOf(IllegalArgumentException.class);
    assertThat(supplierField(lazy)).isNotNull();
  }

  @Test
  void badInput() {
    assertThatNullPointerException().isThrownBy(() -> Lazy.of(null)).withMessage("supplier");
    assertThatNullPointerException()
        .isThrownBy(() -> Lazy.of(null, Lazy.FailurePolicy.RETRY))
        .withMessage("supplier");
    assertThatNullPointerException().isThrownBy(() -> Lazy.of(() -> 1, null)).withMessage("policy");
  }

  // ------------------------------------------------------------------ failure policies

  @Test
  void retryPolicyRunsTheSupplierAgainAfterAFailure() {
    AtomicInteger runs = new AtomicInteger();
    IllegalStateException boom = new IllegalStateException("first attempt fails");
    Lazy<String> lazy = Lazy.of(() -> {
      if (runs.incrementAndGet() == 1) {
        throw boom;
      }
      return "ok";
    });
    assertThatThrownBy(lazy::get).isSameAs(boom);
    assertThat(lazy.isInitialized()).isFalse();
    assertThat(lazy).hasToString("Lazy[uninitialised]");
    assertThat(lazy.get()).isEqualTo("ok");
    assertThat(lazy.get()).isEqualTo("ok");
    assertThat(runs).hasValue(2);
  }

  @Test
  void rememberPolicyRethrowsTheOriginalAsCause() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    IllegalArgumentException boom = new IllegalArgumentException("bad config");
    Lazy<String> lazy = Lazy.of(() -> {
      runs.incrementAndGet();
      throw boom;
    }, Lazy.FailurePolicy.REMEMBER);
    assertThatThrownBy(lazy::get).isSameAs(boom);
    for (int i = 0; i < 3; i++) {
      assertThatThrownBy(lazy::get)
          .isInstanceOf(TaskFailedException.class)
          .hasCause(boom)
          .hasMessageContaining("REMEMBER");
    }
    assertThat(runs).hasValue(1);
    assertThat(lazy.isInitialized()).isFalse();
    assertThat(lazy.toString()).startsWith("Lazy[failed: ").contains("bad config");
    assertThat(supplierField(lazy)).isNull();
  }

  @Test
  void errorsAreRememberedToo() {
    OutOfMemoryError oom = new OutOfMemoryError("simulated");
    Lazy<String> lazy = Lazy.of(() -> {
      throw oom;
    }, Lazy.FailurePolicy.REMEMBER);
    assertThatThrownBy(lazy::get).isSameAs(oom);
    assertThatThrownBy(lazy::get).isInstanceOf(TaskFailedException.class).hasCause(oom);
  }

  // ------------------------------------------------------------------ recursion

  static final class Holder {
    @Nullable Lazy<String> lazy;
  }

  @Test
  void directRecursionThrowsInsteadOfDeadlocking() {
    Holder h = new Holder();
    AtomicReference<@Nullable Throwable> inner = new AtomicReference<>();
    h.lazy = Lazy.of(() -> {
      try {
        return "x" + h.lazy.get();
      } catch (IllegalStateException e) {
        inner.set(e);
        throw e;
      }
    });
    assertThatIllegalStateException()
        .isThrownBy(h.lazy::get)
        .withMessageContaining("recursive initialisation");
    assertThat(inner.get()).isNotNull();
    assertThat(h.lazy.isInitialized()).isFalse();
  }

  @Test
  void indirectRecursionThrows() {
    Holder a = new Holder();
    Holder b = new Holder();
    a.lazy = Lazy.of(() -> "a" + b.lazy.get());
    b.lazy = Lazy.of(() -> "b" + a.lazy.get());
    assertThatIllegalStateException()
        .isThrownBy(a.lazy::get)
        .withMessageContaining("recursive initialisation");
  }

  // ------------------------------------------------------------------ concurrency

  @Test
  void racingCallersRunTheSupplierOnceAndSeeOneInstance() throws Exception {
    racingCallsRunTheInitialiserOnce(
        "test-lazy-race-",
        runs -> {
          Lazy<Object> lazy = Lazy.of(() -> {
            runs.incrementAndGet();
            return new Object();
          });
          return lazy; // Lazy is a Supplier: the race calls get()
        });
  }

  /**
   * 50 rounds, each on a fresh subject: {@code newRound} gets the round's run counter (which its
   * initialiser must increment) and returns the call to race; 8 threads meet at a barrier and
   * make the call. The initialiser must have run once and every thread must have seen the same
   * instance. Shared with {@link OnceCellTest}.
   */
  static void racingCallsRunTheInitialiserOnce(
      String threadNamePrefix, Function<AtomicInteger, Supplier<Object>> newRound)
      throws InterruptedException {
    int n = 8;
    for (int round = 0; round < 50; round++) {
      AtomicInteger runs = new AtomicInteger();
      Supplier<Object> call = newRound.apply(runs);
      CyclicBarrier barrier = new CyclicBarrier(n);
      Object[] seen = new Object[n];
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int idx = i;
        threads.add(start(threadNamePrefix + i, () -> {
          awaitBarrier(barrier);
          seen[idx] = call.get();
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      assertThat(runs).hasValue(1);
      for (Object o : seen) {
        assertThat(o).isSameAs(seen[0]);
      }
    }
  }

  @Test
  void waitersBlockUntilTheValueIsReady() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Lazy<String> lazy = Lazy.of(() -> {
      entered.countDown();
      await(release);
      return "ready";
    });
    Thread initialiser = start("test-lazy-init", lazy::get);
    entered.await();
    AtomicReference<@Nullable String> got = new AtomicReference<>();
    Thread waiter = start("test-lazy-waiter", () -> got.set(lazy.get()));
    awaitParkedOn(waiter, lazy);
    assertThat(got.get()).isNull();
    release.countDown();
    waiter.join();
    initialiser.join();
    assertThat(got.get()).isEqualTo("ready");
  }

  @Test
  void retryAWaiterTakesOverWhenTheInitialiserFails() throws Exception {
    AtomicInteger runs = new AtomicInteger();
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Lazy<String> lazy = Lazy.of(() -> {
      if (runs.incrementAndGet() == 1) {
        entered.countDown();
        await(release);
        throw new IllegalStateException("first fails");
      }
      return "second";
    });
    AtomicReference<@Nullable Throwable> firstFailure = new AtomicReference<>();
    Thread first = start("test-lazy-first", () -> {
      try {
        lazy.get();
      } catch (IllegalStateException e) {
        firstFailure.set(e);
      }
    });
    entered.await();
    AtomicReference<@Nullable String> got = new AtomicReference<>();
    Thread waiter = start("test-lazy-waiter", () -> got.set(lazy.get()));
    awaitParkedOn(waiter, lazy);
    release.countDown();
    first.join();
    waiter.join();
    assertThat(firstFailure.get()).hasMessage("first fails");
    assertThat(got.get()).isEqualTo("second");
    assertThat(runs).hasValue(2);
  }

  @Test
  void rememberWaitersGetTheRememberedFailure() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    IllegalStateException boom = new IllegalStateException("fails for good");
    Lazy<String> lazy = Lazy.of(() -> {
      entered.countDown();
      await(release);
      throw boom;
    }, Lazy.FailurePolicy.REMEMBER);
    Thread first = start("test-lazy-first", () -> {
      try {
        lazy.get();
      } catch (IllegalStateException expected) {
        // the original, on the initialising thread
      }
    });
    entered.await();
    AtomicReference<@Nullable Throwable> got = new AtomicReference<>();
    Thread waiter = start("test-lazy-waiter", () -> {
      try {
        lazy.get();
      } catch (RuntimeException e) {
        got.set(e);
      }
    });
    awaitParkedOn(waiter, lazy);
    release.countDown();
    first.join();
    waiter.join();
    assertThat(got.get()).isInstanceOf(TaskFailedException.class).hasCause(boom);
  }

  @Test
  void interruptedWaiterKeepsWaitingAndKeepsItsInterruptStatus() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Lazy<String> lazy = Lazy.of(() -> {
      entered.countDown();
      await(release);
      return "v";
    });
    Thread initialiser = start("test-lazy-init", lazy::get);
    entered.await();
    AtomicReference<@Nullable String> got = new AtomicReference<>();
    AtomicReference<@Nullable Boolean> interruptedAfter = new AtomicReference<>();
    Thread waiter = start("test-lazy-waiter", () -> {
      got.set(lazy.get());
      interruptedAfter.set(Thread.currentThread().isInterrupted());
    });
    awaitParkedOn(waiter, lazy);
    waiter.interrupt();
    // It must park again rather than return without a value.
    awaitParkedOn(waiter, lazy);
    assertThat(got.get()).isNull();
    release.countDown();
    waiter.join();
    initialiser.join();
    assertThat(got.get()).isEqualTo("v");
    assertThat(interruptedAfter.get()).isTrue();
  }

  @Test
  void supplierRunsWithTheCallersInterruptStatus() {
    AtomicReference<@Nullable Boolean> seen = new AtomicReference<>();
    Lazy<String> lazy = Lazy.of(() -> {
      seen.set(Thread.currentThread().isInterrupted());
      return "v";
    });
    Thread.currentThread().interrupt();
    try {
      assertThat(lazy.get()).isEqualTo("v");
      assertThat(Thread.currentThread().isInterrupted()).isTrue();
    } finally {
      Thread.interrupted();
    }
    assertThat(seen.get()).isTrue();
  }

  /**
   * Many virtual threads wait for one slow initialiser; the thread that lets it finish is
   * started last. If waiting pinned carrier threads (as {@code synchronized} does on JDK 21-23),
   * the waiters would occupy every carrier and the releaser would never run.
   */
  @Test
  @EnabledForJreRange(min = JRE.JAVA_21)
  void virtualThreadWaitersDoNotPinCarriers() throws Exception {
    ExecutorService executor =
        (ExecutorService) Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
    try {
      CountDownLatch release = new CountDownLatch(1);
      Lazy<String> lazy = Lazy.of(() -> {
        await(release);
        return "v";
      });
      int n = 4 * Runtime.getRuntime().availableProcessors() + 8;
      List<Future<String>> results = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        results.add(executor.submit(lazy::get));
      }
      Future<?> releaser = executor.submit(release::countDown);
      releaser.get(10, TimeUnit.SECONDS);
      for (Future<String> f : results) {
        assertThat(f.get(10, TimeUnit.SECONDS)).isEqualTo("v");
      }
    } finally {
      executor.shutdown();
      assertThat(executor.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
  }

  // ------------------------------------------------------------------ helpers

  static @Nullable Object supplierField(Lazy<?> lazy) throws ReflectiveOperationException {
    Field f = Lazy.class.getDeclaredField("supplier");
    f.setAccessible(true);
    return f.get(lazy);
  }

  static Thread start(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  static void await(CountDownLatch latch) {
    try {
      latch.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  static void awaitBarrier(CyclicBarrier barrier) {
    try {
      barrier.await();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Rules of {@link Lazy} that PIT showed the other tests did not pin down: a waiter that was
   * parked and woken normally must not come back interrupted, and the recursion message names
   * {@code get()}. See docs/mutation-testing.md.
   */
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  @Nested
  class WaiterWakeupAndRecursionMessage {

    @Test
    void aWaiterWokenNormallyReturnsWithoutItsInterruptStatusSet() throws Exception {
      CountDownLatch entered = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      Lazy<String> lazy = Lazy.of(() -> {
        entered.countDown();
        await(release);
        return "value";
      });
      Thread owner = start("test-lazy-owner", lazy::get);
      entered.await();
      AtomicReference<@Nullable String> got = new AtomicReference<>();
      AtomicBoolean interruptedAfter = new AtomicBoolean(true);
      Thread waiter = start("test-lazy-waiter", () -> {
        got.set(lazy.get());
        interruptedAfter.set(Thread.currentThread().isInterrupted());
      });
      awaitParkedOn(waiter, lazy); // the waiter really parks before the value arrives
      release.countDown();
      owner.join();
      waiter.join();
      assertThat(got.get()).isEqualTo("value");
      assertThat(interruptedAfter).as("interrupt status invented by get()").isFalse();
    }

    @Test
    void recursionMessageNamesGet() {
      AtomicReference<@Nullable Lazy<String>> self = new AtomicReference<>();
      Lazy<String> lazy = Lazy.of(() -> "x" + Objects.requireNonNull(self.get()).get());
      self.set(lazy);
      assertThatIllegalStateException()
          .isThrownBy(lazy::get)
          .withMessageContaining("called get() on the same Lazy");
      assertThat(lazy.isInitialized()).isFalse();
    }
  }
}
