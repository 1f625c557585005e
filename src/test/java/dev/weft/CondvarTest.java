package dev.weft;

import static dev.weft.MutexTest.catchThrowable;
import static dev.weft.MutexTest.value;
import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.MutexTest.Worker;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class CondvarTest {

  @Test
  void chapterReadyHandshake() throws Exception {
    Mutex<Boolean> ready = new Mutex<>(false);
    Condvar cv = new Condvar();
    AtomicBoolean proceeded = new AtomicBoolean();
    Worker worker = new Worker("ready", () -> {
      try (Mutex.Guard<Boolean> g = ready.lock()) {
        cv.awaitWhile(g, r -> !r);
        proceeded.set(g.get());
      }
    });
    try (Mutex.Guard<Boolean> g = ready.lock()) {
      g.set(true);
      cv.notifyOne(); // notify while holding, as in the chapter
    }
    worker.join();
    assertThat(proceeded.get()).isTrue();
  }

  @Test
  void notifyWithoutHoldingTheMutexWakesTheWaiter() throws Exception {
    Mutex<Boolean> ready = new Mutex<>(false);
    Condvar cv = new Condvar();
    Worker worker = new Worker("outside", () -> {
      try (Mutex.Guard<Boolean> g = ready.lock()) {
        cv.awaitWhile(g, r -> !r);
      }
    });
    awaitBlocked(worker.thread);
    assertThat(cv.hasWaiters()).isTrue();
    assertThat(cv.toString()).isEqualTo("Condvar[bound, 1 waiting]");
    ready.update(r -> true);
    cv.notifyOne();
    worker.join();
    assertThat(cv.hasWaiters()).isFalse();
    assertThat(ready.isLocked()).isFalse();
  }

  @Test
  void returnsAtOnceWhenNotBlockedAndNotifyWithoutWaitersIsHarmless() throws Exception {
    Mutex<Integer> m = new Mutex<>(1);
    Condvar cv = new Condvar();
    assertThat(cv.toString()).isEqualTo("Condvar[unbound]");
    cv.notifyOne();
    cv.notifyAllWaiters();
    try (Mutex.Guard<Integer> g = m.lock()) {
      cv.awaitWhile(g, v -> v == 0);
      cv.awaitWhileUninterruptibly(g, v -> v == 0);
      assertThat(cv.awaitWhile(g, v -> v == 0, Duration.ZERO)).isTrue();
      assertThat(cv.awaitWhile(g, v -> v == 0, Instant.MIN)).isTrue();
      assertThat(g.isOpen()).isTrue();
      cv.notifyOne(); // holding the lock, nobody waiting
    }
  }

  @Test
  void spuriousAndIrrelevantWakeupsAreInvisible() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicInteger seen = new AtomicInteger(-1);
    Worker worker = new Worker("picky", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        cv.awaitWhile(g, v -> v < 5);
        seen.set(g.get());
      }
    });
    for (int i = 1; i <= 5; i++) {
      awaitBlocked(worker.thread);
      int next = i;
      m.update(v -> next);
      cv.notifyAllWaiters(); // each notification wakes it; it returns only once v >= 5
      if (i < 5) {
        assertThat(seen.get()).isEqualTo(-1);
      }
    }
    worker.join();
    assertThat(seen.get()).isEqualTo(5);
  }

  @Test
  void notifyAllWakesEveryWaiter() throws Exception {
    Mutex<Boolean> go = new Mutex<>(false);
    Condvar cv = new Condvar();
    AtomicInteger woke = new AtomicInteger();
    List<Worker> workers = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      workers.add(new Worker("all-" + i, () -> {
        try (Mutex.Guard<Boolean> g = go.lock()) {
          cv.awaitWhile(g, v -> !v);
        }
        woke.incrementAndGet();
      }));
    }
    for (Worker w : workers) {
      awaitBlocked(w.thread);
    }
    try (Mutex.Guard<Boolean> g = go.lock()) {
      g.set(true);
      cv.notifyAllWaiters();
    }
    for (Worker w : workers) {
      w.join();
    }
    assertThat(woke.get()).isEqualTo(5);
  }

  @Test
  void notifyOneWakesOneAtATime() throws Exception {
    Mutex<Integer> permits = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicInteger done = new AtomicInteger();
    List<Worker> workers = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      workers.add(new Worker("one-" + i, () -> {
        try (Mutex.Guard<Integer> g = permits.lock()) {
          cv.awaitWhile(g, v -> v == 0);
          g.set(g.get() - 1);
        }
        done.incrementAndGet();
      }));
    }
    for (Worker w : workers) {
      awaitBlocked(w.thread);
    }
    for (int i = 1; i <= 3; i++) {
      permits.update(v -> v + 1);
      cv.notifyOne();
    }
    for (Worker w : workers) {
      w.join();
    }
    assertThat(done.get()).isEqualTo(3);
    assertThat(value(permits)).isZero();
  }

  @Test
  void timedWaitReportsTimeoutAndHoldsTheLockAgain() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    try (Mutex.Guard<Integer> g = m.lock()) {
      assertThat(cv.awaitWhile(g, v -> v == 0, Duration.ZERO)).isFalse();
      assertThat(cv.awaitWhile(g, v -> v == 0, Duration.ofMillis(-1))).isFalse();
      assertThat(cv.awaitWhile(g, v -> v == 0, Instant.now().minusSeconds(1))).isFalse();
      long t0 = System.nanoTime();
      assertThat(cv.awaitWhile(g, v -> v == 0, Duration.ofMillis(30))).isFalse();
      assertThat(System.nanoTime() - t0)
          .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(30));
      assertThat(cv.awaitWhile(g, v -> v == 0, Instant.now().plusMillis(20))).isFalse();
      assertThat(m.isHeldByCurrentThread()).isTrue();
      assertThat(g.get()).isZero();
    }
  }

  @Test
  void timedWaitWithHugeTimeoutSucceedsWhenNotified() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicReference<@Nullable Boolean> result = new AtomicReference<>();
    AtomicReference<@Nullable Boolean> resultDeadline = new AtomicReference<>();
    Worker w = new Worker("huge", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        result.set(cv.awaitWhile(g, v -> v < 1, Duration.ofSeconds(Long.MAX_VALUE)));
        resultDeadline.set(cv.awaitWhile(g, v -> v < 2, Instant.MAX));
      }
    });
    awaitBlocked(w.thread);
    m.update(v -> 1);
    cv.notifyOne();
    m.update(v -> 2);
    cv.notifyAllWaiters();
    w.join();
    assertThat(result.get()).isTrue();
    assertThat(resultDeadline.get()).isTrue();
  }

  @Test
  void interruptThrowsWithTheLockHeldAgain() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicReference<@Nullable Throwable> seen = new AtomicReference<>();
    AtomicBoolean heldAfter = new AtomicBoolean();
    AtomicReference<@Nullable Throwable> seenTimed = new AtomicReference<>();
    Worker w = new Worker("interrupt", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        seen.set(catchThrowable(() -> cv.awaitWhile(g, v -> v == 0)));
        heldAfter.set(m.isHeldByCurrentThread() && g.isOpen());
        Thread.currentThread().interrupt();
        seenTimed.set(catchThrowable(() -> cv.awaitWhile(g, v -> v == 0, Duration.ofDays(1))));
      }
    });
    awaitBlocked(w.thread);
    w.thread.interrupt();
    w.join();
    assertThat(seen.get()).isInstanceOf(InterruptedException.class);
    assertThat(seenTimed.get()).isInstanceOf(InterruptedException.class);
    assertThat(heldAfter.get()).isTrue();
    assertThat(m.isLocked()).isFalse();
  }

  @Test
  void aWaiterThatGivesUpPassesNotifyOneOn() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicReference<@Nullable Throwable> aSaw = new AtomicReference<>();
    // A waits for v >= 2 and is first in line; B waits for v >= 1.
    Worker a = new Worker("giver-a", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        aSaw.set(catchThrowable(() -> cv.awaitWhile(g, v -> v < 2)));
      }
    });
    awaitBlocked(a.thread);
    Worker b = new Worker("giver-b", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        cv.awaitWhile(g, v -> v < 1);
      }
    });
    awaitBlocked(b.thread);
    try (Mutex.Guard<Integer> g = m.lock()) {
      g.set(1);
      cv.notifyOne();      // goes to A, the first waiter, whose predicate still blocks...
      a.thread.interrupt(); // ...and A then gives up: it must pass the wake-up on to B
    }
    a.join();
    b.join(); // without the pass-on, B would sleep forever and this join would fail
    assertThat(aSaw.get()).isInstanceOf(InterruptedException.class);
  }

  @Test
  void uninterruptibleWaitRestoresInterruptStatus() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicBoolean interruptedOnReturn = new AtomicBoolean();
    AtomicInteger valueOnReturn = new AtomicInteger(-1);
    Worker w = new Worker("uninterruptible", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        cv.awaitWhileUninterruptibly(g, v -> v == 0);
        valueOnReturn.set(g.get());
        interruptedOnReturn.set(Thread.currentThread().isInterrupted());
      }
    });
    awaitBlocked(w.thread);
    w.thread.interrupt();
    awaitBlocked(w.thread); // still waiting after the interrupt
    m.update(v -> 1);
    cv.notifyOne();
    w.join();
    assertThat(valueOnReturn.get()).isEqualTo(1);
    assertThat(interruptedOnReturn.get()).isTrue();
  }

  @Test
  void boundToTheFirstMutex() throws Exception {
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    Condvar cv = new Condvar();
    try (Mutex.Guard<Integer> g = a.lock()) {
      assertThat(cv.awaitWhile(g, v -> v == 0, Duration.ofMillis(1))).isFalse(); // binds to a
    }
    try (Mutex.Guard<Integer> g = b.lock()) {
      assertThatIllegalArgumentException().isThrownBy(() -> cv.awaitWhile(g, v -> v == 0))
          .withMessageContaining("Condvar is bound to");
      assertThatIllegalArgumentException()
          .isThrownBy(() -> cv.awaitWhile(g, v -> v == 0, Duration.ofSeconds(1)));
      assertThatIllegalArgumentException()
          .isThrownBy(() -> cv.awaitWhileUninterruptibly(g, v -> v == 0));
      assertThat(g.isOpen()).isTrue();
    }
    try (Mutex.Guard<Integer> g = a.lock()) {
      assertThat(cv.awaitWhile(g, v -> v == 0, Duration.ZERO)).isFalse(); // a is still fine
    }
  }

  @Test
  void closedOrForeignGuardIsRejected() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    Mutex.Guard<Integer> closed = m.lock();
    closed.close();
    assertThatIllegalStateException().isThrownBy(() -> cv.awaitWhile(closed, v -> true))
        .withMessageContaining("already closed");
    assertThatIllegalStateException()
        .isThrownBy(() -> cv.awaitWhile(closed, v -> true, Duration.ZERO));
    assertThatIllegalStateException()
        .isThrownBy(() -> cv.awaitWhileUninterruptibly(closed, v -> true));
    try (Mutex.Guard<Integer> g = m.lock()) {
      AtomicReference<@Nullable Throwable> seen = new AtomicReference<>();
      Worker w = new Worker("foreign", () -> seen.set(catchThrowable(() -> cv.awaitWhile(g, v -> true))));
      w.join();
      assertThat(seen.get()).isInstanceOf(IllegalMonitorStateException.class);
    }
  }

  @Test
  @SuppressWarnings("NullAway") // passing null on purpose
  void nullArgumentsThrowNpe() {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    try (Mutex.Guard<Integer> g = m.lock()) {
      assertThatNullPointerException().isThrownBy(() -> cv.awaitWhile(null, v -> true))
          .withMessage("guard");
      assertThatNullPointerException().isThrownBy(() -> cv.awaitWhile(g, null))
          .withMessage("blocked");
      assertThatNullPointerException()
          .isThrownBy(() -> cv.awaitWhile(g, v -> true, (Duration) null)).withMessage("timeout");
      assertThatNullPointerException()
          .isThrownBy(() -> cv.awaitWhile(g, v -> true, (Instant) null)).withMessage("deadline");
      assertThatNullPointerException()
          .isThrownBy(() -> cv.awaitWhileUninterruptibly(g, null)).withMessage("blocked");
    }
  }

  @Test
  void throwingPredicatePropagatesWithGuardStillOpen() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    try (Mutex.Guard<Integer> g = m.lock()) {
      assertThatThrownBy(() -> cv.awaitWhile(g, v -> {
        throw new IllegalStateException("pred");
      })).hasMessage("pred");
      assertThat(g.isOpen()).isTrue();
      assertThat(m.isHeldByCurrentThread()).isTrue();
    }
  }

  @Test
  void boundedProducerConsumerWithTwoCondvarsCountsExactly() throws Exception {
    int capacity = 4;
    int producers = 3;
    int consumers = 3;
    int perProducer = 2_000;
    Mutex<ArrayDeque<Integer>> queue = new Mutex<>(new ArrayDeque<>());
    Condvar notEmpty = new Condvar();
    Condvar notFull = new Condvar();
    AtomicLong sum = new AtomicLong();
    AtomicLong count = new AtomicLong();
    List<Worker> workers = new ArrayList<>();
    for (int p = 0; p < producers; p++) {
      int base = p * perProducer;
      workers.add(new Worker("cv-producer-" + p, () -> {
        for (int i = 0; i < perProducer; i++) {
          try (Mutex.Guard<ArrayDeque<Integer>> g = queue.lock()) {
            notFull.awaitWhile(g, q -> q.size() >= capacity);
            g.get().addLast(base + i + 1);
            notEmpty.notifyOne();
          }
        }
      }));
    }
    int total = producers * perProducer;
    for (int c = 0; c < consumers; c++) {
      workers.add(new Worker("cv-consumer-" + c, () -> {
        for (int i = 0; i < total / consumers; i++) {
          int item;
          try (Mutex.Guard<ArrayDeque<Integer>> g = queue.lock()) {
            notEmpty.awaitWhile(g, ArrayDeque::isEmpty);
            item = g.get().removeFirst();
            notFull.notifyOne();
          }
          sum.addAndGet(item);
          count.incrementAndGet();
        }
      }));
    }
    for (Worker w : workers) {
      w.join();
    }
    long n = total;
    assertThat(count.get()).isEqualTo(n);
    assertThat(sum.get()).isEqualTo(n * (n + 1) / 2);
  }
}
