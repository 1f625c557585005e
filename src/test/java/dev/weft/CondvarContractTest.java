package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.MutexTest.Worker;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link Condvar}'s misuse checks on every path (issue 18, defect 9): a guard of another mutex,
 * a closed guard, another thread's guard and null arguments are refused by every wait method
 * whether the wait would block, return at once because the predicate already allows it, or
 * return at once because the timeout is zero, negative or in the past. Each case also checks
 * that nothing changed: the guard is still open and held, the binding is unchanged.
 */
@SuppressWarnings("try") // window hooks and guards held only for their scope
@Timeout(30)
class CondvarContractTest {

  /** One wait method, called with a guard and a predicate. */
  interface WaitCall {
    void call(Condvar cv, Mutex.Guard<Integer> g, Predicate<Integer> blocked)
        throws InterruptedException;
  }

  /** Every wait method and timeout edge, by name. */
  static List<Arguments> waits() {
    List<Arguments> l = new ArrayList<>();
    l.add(Arguments.of("awaitWhile", (WaitCall) Condvar::awaitWhile));
    l.add(Arguments.of("awaitWhileUninterruptibly", (WaitCall) Condvar::awaitWhileUninterruptibly));
    Duration[] durations = {Duration.ofSeconds(5), Duration.ZERO, Duration.ofNanos(-1),
        Duration.ofSeconds(Long.MIN_VALUE), Duration.ofSeconds(Long.MAX_VALUE)};
    for (Duration d : durations) {
      l.add(Arguments.of("awaitWhile(" + d + ")",
          (WaitCall) (cv, g, p) -> cv.awaitWhile(g, p, d)));
    }
    Instant[] instants = {Instant.MIN, Instant.EPOCH, Instant.MAX};
    for (Instant i : instants) {
      l.add(Arguments.of("awaitWhile(" + i + ")",
          (WaitCall) (cv, g, p) -> cv.awaitWhile(g, p, i)));
    }
    l.add(Arguments.of("awaitWhile(now+5s)",
        (WaitCall) (cv, g, p) -> cv.awaitWhile(g, p, Instant.now().plusSeconds(5))));
    return l;
  }

  /** Every wait method crossed with a predicate that allows returning at once and one that does not. */
  static Stream<Arguments> waitsAndPaths() {
    return waits().stream().flatMap(a -> Stream.of(
        Arguments.of(a.get()[0] + " satisfied", a.get()[1], false),
        Arguments.of(a.get()[0] + " blocked", a.get()[1], true)));
  }

  private static Condvar boundTo(Mutex<Integer> m) throws InterruptedException {
    Condvar cv = new Condvar();
    try (var g = m.lock()) {
      cv.awaitWhile(g, v -> false); // a first use binds it
    }
    return cv;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("waitsAndPaths")
  void guardOfAnotherMutexIsRefusedOnEveryPath(String name, WaitCall wait, boolean blocks)
      throws Exception {
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    Condvar cv = new Condvar();
    try (var g = a.lock()) {
      assertThat(cv.awaitWhile(g, v -> true, Duration.ofNanos(1))).isFalse(); // binds to a
    }
    try (var g = b.lock()) {
      assertThatThrownBy(() -> wait.call(cv, g, v -> blocks))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("Condvar is bound to");
      assertThat(g.isOpen()).isTrue();
      assertThat(b.isHeldByCurrentThread()).as("nothing released").isTrue();
    }
    try (var g = a.lock()) {
      wait.call(cv, g, v -> false); // still bound to a, and a still works
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("waitsAndPaths")
  void firstUseBindsEvenWhenItDoesNotWait(String name, WaitCall wait, boolean blocks)
      throws Exception {
    if (blocks) {
      return; // the blocking path is covered above; here only the non-waiting first use
    }
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    Condvar cv = new Condvar();
    try (var g = a.lock()) {
      wait.call(cv, g, v -> false);
    }
    assertThat(cv.toString()).isEqualTo("Condvar[bound, 0 waiting]");
    try (var g = b.lock()) {
      assertThatThrownBy(() -> wait.call(cv, g, v -> false))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("waitsAndPaths")
  void closedGuardIsRefusedOnEveryPathAndDoesNotBind(String name, WaitCall wait, boolean blocks)
      throws Exception {
    Mutex<Integer> a = new Mutex<>(0);
    Condvar cv = new Condvar();
    Mutex.Guard<Integer> g = a.lock();
    g.close();
    assertThatThrownBy(() -> wait.call(cv, g, v -> blocks))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("closed");
    assertThat(cv.toString()).isEqualTo("Condvar[unbound]");
    assertThat(a.isLocked()).isFalse();
    Condvar bound = boundTo(a);
    assertThatThrownBy(() -> wait.call(bound, g, v -> blocks))
        .isInstanceOf(IllegalStateException.class);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("waitsAndPaths")
  void closedGuardOfAnotherMutexIsAWrongMutexFirst(String name, WaitCall wait, boolean blocks)
      throws Exception {
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    Condvar cv = boundTo(a);
    Mutex.Guard<Integer> g = b.lock();
    g.close();
    assertThatThrownBy(() -> wait.call(cv, g, v -> blocks))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("waitsAndPaths")
  void anotherThreadsGuardIsRefusedOnEveryPath(String name, WaitCall wait, boolean blocks)
      throws Exception {
    Mutex<Integer> a = new Mutex<>(0);
    Condvar cv = boundTo(a);
    AtomicReference<Mutex.@Nullable Guard<Integer>> theirs = new AtomicReference<>();
    CountDownLatch holds = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    Worker owner = new Worker("owner", () -> {
      try (var g = a.lock()) {
        theirs.set(g);
        holds.countDown();
        done.await(10, TimeUnit.SECONDS);
      }
    });
    try {
      assertThat(holds.await(10, TimeUnit.SECONDS)).isTrue();
      Mutex.Guard<Integer> g = theirs.get();
      assertThat(g).isNotNull();
      assertThatThrownBy(() -> wait.call(cv, g, v -> blocks))
          .isInstanceOf(IllegalMonitorStateException.class);
      assertThat(a.isLocked()).as("the owner still holds it").isTrue();
    } finally {
      done.countDown();
      owner.join();
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("waitsAndPaths")
  @SuppressWarnings("NullAway") // passing null on purpose
  void nullArgumentsAreRefusedOnEveryPath(String name, WaitCall wait, boolean blocks)
      throws Exception {
    Mutex<Integer> a = new Mutex<>(0);
    Condvar cv = new Condvar();
    try (var g = a.lock()) {
      assertThatThrownBy(() -> wait.call(cv, g, null))
          .isInstanceOf(NullPointerException.class).hasMessage("blocked");
      assertThatThrownBy(() -> wait.call(cv, null, v -> blocks))
          .isInstanceOf(NullPointerException.class).hasMessage("guard");
      assertThat(g.isOpen()).isTrue();
    }
    try (var g = a.lock()) {
      assertThatThrownBy(() -> cv.awaitWhile(g, v -> blocks, (Duration) null))
          .isInstanceOf(NullPointerException.class).hasMessage("timeout");
      assertThatThrownBy(() -> cv.awaitWhile(g, v -> blocks, (Instant) null))
          .isInstanceOf(NullPointerException.class).hasMessage("deadline");
    }
    assertThat(cv.toString()).isEqualTo("Condvar[unbound]");
  }

  @Test
  void zeroOrPastTimeoutNeverReleasesTheMutex() throws Exception {
    Mutex<Integer> a = new Mutex<>(0);
    Condvar cv = boundTo(a);
    Thread me = Thread.currentThread();
    AtomicReference<@Nullable String> released = new AtomicReference<>();
    try (var h = ProtocolWindows.install(n -> {
      if (Thread.currentThread() == me && n.startsWith("mutex.released")) {
        released.set(n);
      }
    })) {
      try (var g = a.lock()) {
        assertThat(cv.awaitWhile(g, v -> true, Duration.ZERO)).isFalse();
        assertThat(cv.awaitWhile(g, v -> true, Duration.ofSeconds(Long.MIN_VALUE))).isFalse();
        assertThat(cv.awaitWhile(g, v -> true, Instant.MIN)).isFalse();
        assertThat(cv.awaitWhile(g, v -> true, Instant.now().minusSeconds(1))).isFalse();
        assertThat(a.isHeldByCurrentThread()).isTrue();
      }
    }
    assertThat(released.get()).isNull();
  }

  // ---- what a timeout bounds, and interrupts before the wait ---------------------------------

  @Test
  void timedWaitReturnsHoldingTheMutexOnceAHolderThatTookItLetsGo() throws Exception {
    // Documented bound: the guard must hold the mutex on return, so the final re-acquisition
    // waits for the holder (as Condition.awaitNanos does); it returns false, holding the mutex.
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = boundTo(m);
    AtomicReference<@Nullable Boolean> result = new AtomicReference<>();
    AtomicReference<@Nullable Boolean> heldOnReturn = new AtomicReference<>();
    java.util.concurrent.atomic.AtomicLong elapsed = new java.util.concurrent.atomic.AtomicLong();
    Worker waiter = new Worker("waiter", () -> {
      try (var g = m.lock()) {
        long start = System.nanoTime();
        result.set(cv.awaitWhile(g, v -> true, Duration.ofMillis(100)));
        elapsed.set(System.nanoTime() - start);
        heldOnReturn.set(m.isHeldByCurrentThread() && g.isOpen());
      }
    });
    awaitBlocked(waiter.thread);
    CountDownLatch never = new CountDownLatch(1);
    try (var g = m.lock()) { // took the mutex while the waiter sleeps; holds it for 800 ms
      assertThat(never.await(800, TimeUnit.MILLISECONDS)).isFalse();
    }
    waiter.join();
    assertThat(result.get()).isFalse();
    assertThat(heldOnReturn.get()).isTrue();
    assertThat(elapsed.get()).as("waited for the holder, as documented")
        .isGreaterThan(TimeUnit.MILLISECONDS.toNanos(500));
  }

  @Test
  void timedWaitWithTheMutexFreeReturnsAtItsDeadline() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    try (var g = m.lock()) {
      long start = System.nanoTime();
      assertThat(cv.awaitWhile(g, v -> true, Duration.ofMillis(100))).isFalse();
      long took = System.nanoTime() - start;
      assertThat(took).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(100))
          .isLessThan(TimeUnit.SECONDS.toNanos(2));
      assertThat(m.isHeldByCurrentThread()).isTrue();
    }
  }

  @Test
  void interruptedCallerWhosePredicateBlocksThrowsWithoutGivingTheMutexUp() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = boundTo(m);
    Thread me = Thread.currentThread();
    AtomicReference<@Nullable String> released = new AtomicReference<>();
    try (var h = ProtocolWindows.install(n -> {
      if (Thread.currentThread() == me && n.startsWith("mutex.released")) {
        released.set(n);
      }
    }); var g = m.lock()) {
      for (int i = 0; i < 3; i++) {
        Thread.currentThread().interrupt();
        int form = i;
        assertThatThrownBy(() -> {
          switch (form) {
            case 0 -> cv.awaitWhile(g, v -> true);
            case 1 -> cv.awaitWhile(g, v -> true, Duration.ofSeconds(5));
            default -> cv.awaitWhile(g, v -> true, Instant.now().plusSeconds(5));
          }
        }).isInstanceOf(InterruptedException.class);
        assertThat(m.isHeldByCurrentThread()).isTrue();
        assertThat(g.isOpen()).isTrue();
      }
      Thread.currentThread().interrupt();
      try {
        cv.awaitWhile(g, v -> false); // not blocked: returns, the status stays set
        assertThat(Thread.currentThread().isInterrupted()).isTrue();
      } finally {
        Thread.interrupted();
      }
    }
    assertThat(released.get()).as("the mutex was never given up").isNull();
    assertThat(cv.hasWaiters()).isFalse();
  }
}
