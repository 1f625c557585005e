package dev.weft;

import static dev.weft.LazyTest.await;
import static dev.weft.LazyTest.awaitParkedOn;
import static dev.weft.LazyTest.start;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Rules of {@link Lazy} that PIT showed the other tests did not pin down: a waiter that was
 * parked and woken normally must not come back interrupted, and the recursion message names
 * {@code get()}. See docs/mutation-testing.md.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LazyMutationTest {

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
