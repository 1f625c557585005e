package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.MutexTest.Worker;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 18's sweep for {@link RwLock}: timeout edges of {@code tryRead}/{@code tryWrite},
 * callbacks that use the same lock in every way, queries against the operations they promise.
 */
@SuppressWarnings("try") // guards held only for their scope
@Timeout(30)
class RwLockEdgeTest {
  private static final Duration[] NOW = {Duration.ZERO, Duration.ofNanos(-1),
      Duration.ofSeconds(Long.MIN_VALUE), Duration.ofNanos(Long.MIN_VALUE)};
  private static final Duration[] HUGE = {Duration.ofSeconds(Long.MAX_VALUE, 999_999_999),
      Duration.ofNanos(Long.MAX_VALUE), Duration.ofDays(365L * 10_000)};

  @Test
  void timeoutEdgesOnAFreeLockSucceedAndOnAWriteLockedOneReturnAtOnce() throws Exception {
    RwLock<Integer> rw = new RwLock<>(1);
    for (Duration d : concat(NOW, HUGE)) {
      try (var r = rw.tryRead(d)) {
        assertThat(r).as("%s", d).isNotNull();
      }
      try (var w = rw.tryWrite(d)) {
        assertThat(w).as("%s", d).isNotNull();
      }
    }
    CountDownLatch holds = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    Worker writer = new Worker("writer", () -> {
      try (var w = rw.write()) {
        holds.countDown();
        done.await(10, TimeUnit.SECONDS);
      }
    });
    try {
      assertThat(holds.await(10, TimeUnit.SECONDS)).isTrue();
      long start = System.nanoTime();
      for (Duration d : NOW) {
        assertThat(rw.tryRead(d)).as("%s", d).isNull();
        assertThat(rw.tryWrite(d)).as("%s", d).isNull();
      }
      assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(2));
      assertThat(rw.isWriteLocked()).isTrue();
      assertThat(rw.tryRead()).isNull();
    } finally {
      done.countDown();
      writer.join();
    }
  }

  @Test
  void interruptedCallerThrowsFromEveryInterruptibleFormEvenOnAFreeLock() {
    RwLock<Integer> rw = new RwLock<>(1);
    for (int i = 0; i < 4; i++) {
      Thread.currentThread().interrupt();
      int form = i;
      assertThatThrownBy(() -> {
        switch (form) {
          case 0 -> rw.readInterruptibly();
          case 1 -> rw.writeInterruptibly();
          case 2 -> rw.tryRead(Duration.ZERO);
          default -> rw.tryWrite(Duration.ofSeconds(1));
        }
      }).isInstanceOf(InterruptedException.class);
      assertThat(rw.readLockCount()).isZero();
      assertThat(rw.isWriteLocked()).isFalse();
    }
  }

  @Test
  void callbacksThatUseTheSameLock() {
    RwLock<Integer> rw = new RwLock<>(1);
    // Nested reads are allowed in every form.
    int n = rw.withRead(v -> {
      try (var r = rw.read()) {
        assertThat(rw.tryRead()).isNotNull().satisfies(RwLock.ReadGuard::close);
        return v + r.get() + rw.withRead(x -> x);
      }
    });
    assertThat(n).isEqualTo(3);
    // Anything involving the write lock from inside a read or a write is refused, not a hang.
    assertThatThrownBy(() -> rw.withRead(v -> rw.write())).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> rw.withRead(v -> rw.tryWrite())).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> rw.withRead(v -> rw.update(x -> x + 1)))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> rw.withWrite(v -> rw.read())).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> rw.withWrite(v -> rw.withRead(x -> x)))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> rw.update(v -> rw.update(x -> x + 10)))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> rw.update(v -> rw.withWrite(x -> x)))
        .isInstanceOf(IllegalStateException.class);
    // Every refusal released what it held, and the value is unchanged.
    assertThat(rw.readLockCount()).isZero();
    assertThat(rw.isWriteLocked()).isFalse();
    int value = rw.withRead(v -> v);
    assertThat(value).isEqualTo(1);
    // Queries from inside the callbacks.
    int readers = rw.withRead(v -> rw.readLockCount());
    assertThat(readers).isEqualTo(1);
    boolean writeLocked = rw.withWrite(v -> rw.isWriteLocked());
    assertThat(writeLocked).isTrue();
    String described = rw.withWrite(v -> rw.toString());
    assertThat(described).isEqualTo("RwLock[readers=0, writeLocked=true]");
  }

  @Test
  void queriesAgreeWithTheNonBlockingOperations() {
    RwLock<Integer> rw = new RwLock<>(1);
    assertThat(rw.isWriteLocked()).isFalse();
    try (var w = rw.tryWrite()) {
      assertThat(w).isNotNull();
      assertThat(rw.isWriteLocked()).isTrue();
    }
    try (var r1 = rw.read(); var r2 = rw.read()) {
      assertThat(rw.readLockCount()).isEqualTo(2);
      assertThat(rw.isWriteLocked()).isFalse();
    }
    assertThat(rw.readLockCount()).isZero();
  }

  private static Duration[] concat(Duration[] a, Duration[] b) {
    Duration[] all = new Duration[a.length + b.length];
    System.arraycopy(a, 0, all, 0, a.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }
}
