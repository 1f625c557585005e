package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Session 17e review of {@link Scope}: attacks that held. */
@Timeout(30)
class Review17eTestHeld {

  /**
   * Attacked: a ThreadFactory that runs the Runnable inline inside newThread (on the spawner):
   * spawn throws IllegalStateException, the task never runs, the cap's slot comes back, the end
   * reports nothing.
   */
  @Test
  void held_factoryRunningTheTaskInlineMakesSpawnThrowAndGivesTheSlotBack() throws Exception {
    AtomicInteger ran = new AtomicInteger();
    AtomicInteger calls = new AtomicInteger();
    ThreadFactory inline = r -> {
      if (calls.getAndIncrement() == 0) {
        r.run();
      }
      return new Thread(r);
    };
    String v = Scope.builder().threadFactory(inline).maxConcurrency(1).call(s -> {
      assertThatThrownBy(() -> s.spawn(ran::incrementAndGet))
          .isInstanceOf(IllegalStateException.class);
      return s.spawn(() -> "ok").join(); // the slot is free again
    });
    assertThat(v).isEqualTo("ok");
    assertThat(ran).hasValue(0);
  }

  static int plain; // written by a task, read after the scope's end

  /**
   * Attacked: owner interrupted before call(); a task that ignores interrupts for a while and
   * writes a plain field. call throws InterruptedException only after the task ended, the
   * interrupt status is cleared, and the write is visible.
   */
  @Test
  void held_ownerInterruptedBeforeCallStillJoinsAnInterruptIgnoringTask() throws Exception {
    CountDownLatch started = new CountDownLatch(1);
    AtomicReference<Thread> worker = new AtomicReference<>();
    plain = 0;
    Thread.currentThread().interrupt();
    assertThatThrownBy(() -> Scope.run(s -> {
      s.spawn(() -> {
        worker.set(Thread.currentThread());
        started.countDown();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
        while (System.nanoTime() < end) {
          Thread.interrupted(); // ignores every interrupt
          java.util.concurrent.locks.LockSupport.parkNanos(1_000_000L);
        }
        plain = 42;
      });
      ScopeRegressionTest.awaitUninterruptibly(started);
      Thread.currentThread().interrupt(); // awaitUninterruptibly restored it; keep it pending
    })).isInstanceOf(InterruptedException.class);
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
    assertThat(worker.get().isAlive()).isFalse();
    assertThat(plain).isEqualTo(42);
  }

  /**
   * Attacked: virtual threads (JDK 21+): a tree of nested spawns from virtual scope threads with
   * one failing leaf under CANCEL_OTHERS; the end reports the failure and no thread is alive.
   */
  @Test
  void held_virtualSpawnTreeWithAFailingLeafEndsCleanly() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21);
    java.util.Queue<Thread> all = new java.util.concurrent.ConcurrentLinkedQueue<>();
    assertThatThrownBy(() -> Scope.builder().virtualThreads().run(s -> {
      for (int i = 0; i < 8; i++) {
        int k = i;
        s.spawn(() -> {
          all.add(Thread.currentThread());
          for (int j = 0; j < 8; j++) {
            int m = j;
            s.spawn(() -> {
              all.add(Thread.currentThread());
              if (k == 3 && m == 5) {
                throw new IllegalStateException("leaf");
              }
              try {
                Thread.sleep(2_000);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              return null;
            });
          }
          return null;
        });
      }
    })).isInstanceOf(TaskFailedException.class).hasRootCauseMessage("leaf");
    for (Thread t : all) {
      assertThat(t.isAlive()).isFalse();
    }
  }
}
