package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 30: {@code Parallel}'s fail-fast interrupt walk over threads it did not make. Scope's
 * cancel walk has survived a factory thread whose {@code interrupt()} throws since the issue 18
 * review; {@code ParallelJob.stopAndInterrupt} did not: the exception left the walk between the
 * worker's RUNNING -> INTERRUPTING CAS and the release of its final state, so that worker's exit
 * waited (spinning, then yielding) for INTERRUPTING to end, for ever, and the caller waited for
 * that worker. The reference: {@code FutureTask.cancel(true)} publishes its final state in a
 * {@code finally} around the runner's {@code interrupt()}, and {@code Scope} keeps the
 * exception for its end.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class Review30ParallelInterruptTest {
  private final List<Thread> made = Collections.synchronizedList(new ArrayList<>());
  /** Turned off before an executor's shutdown, whose own interrupt walk would meet it. */
  private final AtomicBoolean refusing = new AtomicBoolean(true);

  @AfterEach
  void noThreadOutlivesTheTest() throws InterruptedException {
    List<Thread> copy;
    synchronized (made) {
      copy = new ArrayList<>(made);
    }
    for (Thread t : copy) {
      t.join(TimeUnit.SECONDS.toMillis(10));
      assertThat(t.isAlive()).as("%s outlived its test", t.getName()).isFalse();
    }
  }

  /** Threads whose interrupt() interrupts and then throws, as a badly behaved factory's may. */
  private ThreadFactory refusingFactory() {
    return r -> {
      Thread t = new Thread(r, "test-r30-refuser") {
        @Override
        public void interrupt() {
          super.interrupt();
          if (refusing.get()) {
            throw new IllegalStateException("interrupt refused by " + getName());
          }
        }
      };
      t.setDaemon(true); // so that a regression cannot keep the JVM alive
      made.add(t);
      return t;
    };
  }

  /**
   * Runs 8 elements on 3 threads (2 workers and the caller): the first worker element to start
   * fails once the other worker is inside an element, which then waits up to 20 s for weft's
   * interrupt. Returns what the call threw; the caller is a separate thread joined with a bound.
   */
  private @Nullable Throwable failFast(Parallel.Options options, AtomicInteger interrupted)
      throws InterruptedException {
    AtomicInteger workersIn = new AtomicInteger();
    CountDownLatch never = new CountDownLatch(1);
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    Thread caller = new Thread(() -> thrown.set(catchThrowable(() -> Parallel.forRange(0, 8, i -> {
      if (Thread.currentThread().getName().startsWith("test-r30-caller")) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (workersIn.get() < 2 && System.nanoTime() - end < 0) {
          Thread.onSpinWait(); // the caller takes no part until both workers are in
        }
        return;
      }
      if (workersIn.incrementAndGet() == 1) {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (workersIn.get() < 2 && System.nanoTime() - end < 0) {
          Thread.onSpinWait();
        }
        throw new IllegalArgumentException("element " + i + " failed");
      }
      try {
        if (!never.await(20, TimeUnit.SECONDS)) {
          throw new AssertionError("never interrupted");
        }
      } catch (InterruptedException e) {
        interrupted.incrementAndGet();
        Thread.currentThread().interrupt();
      }
    }, options.threads(3).minChunkSize(1)))), "test-r30-caller");
    caller.setDaemon(true);
    made.add(caller);
    caller.start();
    caller.join(TimeUnit.SECONDS.toMillis(15));
    assertThat(caller.isAlive())
        .as("the call returned within 15 s (a worker left INTERRUPTING hangs it for ever)")
        .isFalse();
    return thrown.get();
  }

  /**
   * FIXED in session 30. A thread factory whose threads' interrupt() throws: before the fix the
   * call never returned (3 of 3 runs, JDK 17; the refused worker yielding in interruptDecided,
   * the caller parked in awaitWorkers). Now it fails fast with the element's failure as the
   * cause and the refusal among the suppressed, and the other worker was interrupted.
   */
  @Test
  void fixed_aFactoryThreadWhoseInterruptThrowsHangsAFailingCall() throws Exception {
    AtomicInteger interrupted = new AtomicInteger();
    Throwable e = failFast(Parallel.options().threadFactory(refusingFactory()), interrupted);
    assertThat(e).isInstanceOf(TaskFailedException.class)
        .hasCauseInstanceOf(IllegalArgumentException.class);
    assertThat(Objects.requireNonNull(e).getSuppressed())
        .anySatisfy(s -> assertThat(s).isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("interrupt refused"));
    assertThat(interrupted.get()).as("the other worker got weft's interrupt").isEqualTo(1);
  }

  /**
   * FIXED in session 30. The same with an executor whose threads refuse: the executor's thread
   * must also come back clean (weft clears the interrupt it sent) and run the next task.
   */
  @Test
  void fixed_anExecutorThreadWhoseInterruptThrowsHangsAFailingCall() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2, refusingFactory());
    try {
      AtomicInteger interrupted = new AtomicInteger();
      Throwable e = failFast(Parallel.options().executor(pool), interrupted);
      assertThat(e).isInstanceOf(TaskFailedException.class)
          .hasCauseInstanceOf(IllegalArgumentException.class);
      assertThat(interrupted.get()).as("the other worker got weft's interrupt").isEqualTo(1);
      boolean[] cleanAfter = new boolean[2];
      CountDownLatch ran = new CountDownLatch(2);
      CountDownLatch both = new CountDownLatch(2);
      for (int k = 0; k < 2; k++) {
        int slot = k;
        pool.execute(() -> {
          cleanAfter[slot] = !Thread.currentThread().isInterrupted();
          both.countDown();
          try {
            both.await(10, TimeUnit.SECONDS); // both pool threads, not one twice
          } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
          }
          ran.countDown();
        });
      }
      assertThat(ran.await(10, TimeUnit.SECONDS)).isTrue();
      assertThat(cleanAfter).containsOnly(true);
    } finally {
      refusing.set(false);
      pool.shutdown();
      assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    }
  }
}
