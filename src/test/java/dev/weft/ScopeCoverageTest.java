package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.ThreadFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Closes coverage gaps of {@link Scope}: a thread that fails to start (its slot must be given
 * back) and the description of a scope cancelled by a failed thread.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class ScopeCoverageTest {

  /** Makes threads whose start() fails the first time, as when no native thread can be made. */
  private static final class FailFirstStart implements ThreadFactory {
    final AtomicInteger made = new AtomicInteger();

    @Override
    public Thread newThread(Runnable r) {
      int i = made.getAndIncrement();
      if (i == 0) {
        return new Thread(r, "test-scope-unstartable") {
          @Override
          public synchronized void start() {
            throw new IllegalStateException("cannot start");
          }
        };
      }
      return new Thread(r, "test-scope-" + i);
    }
  }

  @Test
  void threadThatFailsToStartGivesItsSlotBackAndScopeStillCloses() throws InterruptedException {
    FailFirstStart factory = new FailFirstStart();
    try (Scope scope = Scope.builder().threadFactory(factory).maxConcurrency(1).open()) {
      assertThatThrownBy(() -> scope.spawn(() -> 1))
          .isInstanceOf(IllegalStateException.class)
          .hasMessage("cannot start");
      // The only slot was released: this spawn does not block.
      ScopedThread<Integer> ok = scope.spawn(() -> 2);
      assertThat(ok.join()).isEqualTo(2);
      assertThat(ok.thread().getName()).isEqualTo("test-scope-1");
    }
    assertThat(factory.made).hasValue(2);
  }

  @Test
  void toStringNamesTheThreadWhoseFailureCancelledTheScope() throws InterruptedException {
    CountDownLatch never = new CountDownLatch(1);
    Scope scope = Scope.builder().namePrefix("test-scope").open();
    try {
      ScopedThread<Void> victim =
          scope.spawn(
              () -> {
                try {
                  never.await(); // ends only when the failure cancels the scope
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
      ScopedThread<Void> failing =
          scope.spawn(
              (Runnable)
                  () -> {
                    throw new IllegalArgumentException("boom");
                  });
      victim.thread().join();
      failing.thread().join();
      assertThat(scope.toString()).contains("cancelled: test-scope-").contains(" failed");
    } finally {
      assertThatThrownBy(scope::close)
          .isInstanceOf(TaskFailedException.class)
          .hasRootCauseInstanceOf(IllegalArgumentException.class);
    }
  }
}
