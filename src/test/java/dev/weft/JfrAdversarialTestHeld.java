package dev.weft;

import static dev.weft.JfrAdversarialTestSupport.await;
import static dev.weft.JfrAdversarialTestSupport.awaitParked;
import static dev.weft.JfrAdversarialTestSupport.join;
import static dev.weft.JfrAdversarialTestSupport.on;
import static dev.weft.JfrAdversarialTestSupport.only;
import static dev.weft.JfrAdversarialTestSupport.recordAll;
import static dev.weft.JfrAdversarialTestSupport.recordShipped;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import jdk.jfr.consumer.RecordedEvent;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Adversarial review of weft's JFR events (issue 21): attacks that held (all pass). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@SuppressWarnings({"try", "LockNotBeforeTry"})
class JfrAdversarialTestHeld {

  interface Hold {
    void run() throws Exception;
  }

  /**
   * A holder runs {@code hold} (taking the lock) and keeps it until released; returns after
   * {@code waiterBody} ran on thread "test-waiter" while the holder held, the holder releasing
   * once the waiter is parked (plus {@code extraMillis}). Returns the waiter thread.
   */
  private static Thread contend(
      Hold hold, Hold release, Hold waiterBody, long extraMillis, AtomicReference<Throwable> err)
      throws Exception {
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch letGo = new CountDownLatch(1);
    CountDownLatch end = new CountDownLatch(1);
    Thread holder =
        new Thread(
            () -> {
              try {
                hold.run();
                held.countDown();
                await(letGo);
                release.run();
                await(end); // alive until the waiter's event is written
              } catch (Throwable t) {
                err.compareAndSet(null, t);
                held.countDown();
              }
            },
            "test-holder");
    Thread waiter =
        new Thread(
            () -> {
              try {
                waiterBody.run();
              } catch (Throwable t) {
                err.compareAndSet(null, t);
              }
            },
            "test-waiter");
    try {
      holder.start();
      await(held);
      waiter.start();
      awaitParked(waiter);
      if (extraMillis > 0) {
        Thread.sleep(extraMillis); // the stimulus: a longer hold
      }
      letGo.countDown();
      waiter.join(20_000);
    } finally {
      letGo.countDown();
      end.countDown();
      join(waiter, holder);
    }
    return waiter;
  }

  /** Loads weft's event classes (see JfrAdversarialTest's first-wait defect) before timing. */
  private static void warmUp() throws Exception {
    SpinLock l = new SpinLock();
    AtomicReference<Throwable> err = new AtomicReference<>();
    recordAll(() -> contend(l::lock, l::unlock, () -> { l.lock(); l.unlock(); }, 0, err));
    assertThat(err.get()).isNull();
  }

  // ---- the shipped settings honour 20 ms ----------------------------------------------------

  @Test
  void theShippedSettingsRecordAWaitOver20msAndNotAShortOne() throws Exception {
    warmUp();
    TicketLock lock = new TicketLock();
    AtomicReference<Throwable> err = new AtomicReference<>();
    Thread[] ws = new Thread[2];
    List<RecordedEvent> events =
        recordShipped(
            () -> {
              ws[0] = contend(lock::lock, lock::unlock, () -> { lock.lock(); lock.unlock(); }, 0, err);
              ws[1] = contend(lock::lock, lock::unlock, () -> { lock.lock(); lock.unlock(); }, 60, err);
            });
    assertThat(err.get()).isNull();
    // ws[0] and ws[1] are different Thread objects with different ids
    assertThat(on(events, "dev.weft.LockContended", ws[0])).as("a wait of < 1 ms").isEmpty();
    RecordedEvent e = only(events, "dev.weft.LockContended", ws[1]);
    assertThat(e.getDuration()).isGreaterThanOrEqualTo(Duration.ofMillis(55));
    assertThat(e.getString("holderName")).isEqualTo("test-holder");
  }

  // ---- a recording stopped, and another started ---------------------------------------------

  @Test
  void aSecondRecordingAfterTheFirstStoppedStillGetsEvents() throws Exception {
    for (int round = 0; round < 2; round++) {
      SpinLock l = new SpinLock();
      AtomicReference<Throwable> err = new AtomicReference<>();
      Thread[] w = new Thread[1];
      List<RecordedEvent> events =
          recordAll(() -> w[0] = contend(l::lock, l::unlock, () -> { l.lock(); l.unlock(); }, 0, err));
      assertThat(err.get()).isNull();
      assertThat(on(events, "dev.weft.LockContended", w[0])).as("round " + round).hasSize(1);
    }
    // and nothing is recorded between recordings (no exception either)
    SpinLock l = new SpinLock();
    AtomicReference<Throwable> err = new AtomicReference<>();
    contend(l::lock, l::unlock, () -> { l.lock(); l.unlock(); }, 0, err);
    assertThat(err.get()).isNull();
  }

  // ---- outcomes and holders per acquiring method ---------------------------------------------

  @Test
  void ticketLockInterruptedWaitIsRecordedAsInterrupted() throws Exception {
    TicketLock lock = new TicketLock();
    AtomicReference<Boolean> gotIe = new AtomicReference<>(false);
    Thread[] w = new Thread[1];
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch end = new CountDownLatch(1);
    Thread holder = new Thread(() -> {
      lock.lock();
      try {
        held.countDown();
        await(end);
      } finally {
        lock.unlock();
      }
    }, "test-holder");
    List<RecordedEvent> events;
    try {
      events = recordAll(() -> {
        holder.start();
        await(held);
        w[0] = new Thread(() -> {
          try {
            lock.lockInterruptibly();
            lock.unlock();
          } catch (InterruptedException e) {
            gotIe.set(true);
          }
        }, "test-waiter");
        w[0].start();
        awaitParked(w[0]);
        w[0].interrupt();
        w[0].join();
      });
    } finally {
      end.countDown();
      join(holder);
      if (w[0] != null) {
        join(w[0]);
      }
    }
    assertThat(gotIe.get()).isTrue();
    RecordedEvent e = only(events, "dev.weft.LockContended", w[0]);
    assertThat(e.getString("outcome")).isEqualTo("interrupted");
    assertThat(e.getString("holderName")).isEqualTo("test-holder");
    assertThat(e.getString("access")).isEqualTo("exclusive");
  }

  @Test
  void timedWaitsThatTimeOutNameTheWriterAndTheAccess() throws Exception {
    RwLock<Integer> rw = new RwLock<>(0);
    SeqLock seq = new SeqLock();
    SpinLock spin = new SpinLock();
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch end = new CountDownLatch(1);
    Thread holder = new Thread(() -> {
      try (var w = rw.write(); var s = seq.writeUninterruptibly()) {
        spin.lock();
        try {
          held.countDown();
          await(end);
        } finally {
          spin.unlock();
        }
      }
    }, "test-holder");
    List<RecordedEvent> events;
    try {
      events = recordAll(() -> {
        holder.start();
        await(held);
        assertThat(rw.tryRead(Duration.ofMillis(30))).isNull();
        assertThat(rw.tryWrite(Duration.ofMillis(30))).isNull();
        assertThat(seq.tryWrite(Duration.ofMillis(30))).isNull();
        assertThat(spin.tryLock(Duration.ofMillis(30))).isFalse();
        assertThat(seq.tryWrite(Duration.ZERO)).isNull(); // no wait: no event
        assertThat(rw.tryWrite(Duration.ZERO)).isNull();
      });
    } finally {
      end.countDown();
      join(holder);
    }
    List<RecordedEvent> mine = on(events, "dev.weft.LockContended", Thread.currentThread());
    assertThat(mine).hasSize(4);
    String[][] expected = {
      {"RwLock", "read"}, {"RwLock", "write"}, {"SeqLock", "write"}, {"SpinLock", "exclusive"}
    };
    for (int i = 0; i < 4; i++) {
      RecordedEvent e = mine.get(i);
      assertThat(e.getString("lockType")).isEqualTo(expected[i][0]);
      assertThat(e.getString("access")).isEqualTo(expected[i][1]);
      assertThat(e.getString("outcome")).isEqualTo("timed out");
      assertThat(e.getString("holderName")).isEqualTo("test-holder");
      assertThat(e.getDuration()).isGreaterThanOrEqualTo(Duration.ofMillis(25));
    }
  }

  // ---- condition waits ----------------------------------------------------------------------

  @Test
  void lockWhenWhosePredicateThrowsIsRecordedAsFailedAndTimedOutAsTimedOut() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    List<RecordedEvent> events = recordAll(() -> {
      assertThat(m.lockWhen(v -> v > 0, Duration.ofMillis(30))).isNull();
      int[] calls = {0};
      try (var g = m.lockWhen(v -> {
        if (++calls[0] > 1) {
          throw new ArithmeticException("predicate broke");
        }
        return false;
      }, Duration.ofSeconds(5))) {
        throw new AssertionError("returned a guard");
      } catch (ArithmeticException expected) {
        // the predicate's own exception, unchanged
      }
      assertThat(m.isLocked()).isFalse();
      // interrupted before: checked before any event
      Thread.currentThread().interrupt();
      try {
        m.lockWhen(v -> false);
        throw new AssertionError("returned");
      } catch (InterruptedException expected) {
        // ok
      }
    });
    List<RecordedEvent> mine = on(events, "dev.weft.ConditionWait", Thread.currentThread());
    assertThat(mine).hasSize(2);
    assertThat(mine.get(0).getString("outcome")).isEqualTo("timed out");
    assertThat(mine.get(0).getLong("timeout")).isBetween(1L, Duration.ofMillis(30).toNanos());
    assertThat(mine.get(1).getString("outcome")).isEqualTo("failed");
    assertThat(mine.get(1).getString("method")).isEqualTo("Mutex.lockWhen");
    assertThat(on(events, "dev.weft.LockContended", Thread.currentThread())).isEmpty();
  }

  @Test
  void condvarUninterruptibleWaitIsNamedAndReady() throws Exception {
    Mutex<Boolean> flag = new Mutex<>(false);
    Condvar cv = new Condvar();
    Thread waiter = new Thread(() -> {
      try (var g = flag.lock()) {
        cv.awaitWhileUninterruptibly(g, v -> !v);
      }
    }, "test-waiter");
    List<RecordedEvent> events;
    try {
      events = recordAll(() -> {
        waiter.start();
        awaitParked(waiter);
        waiter.interrupt(); // ignored: it keeps waiting
        awaitParked(waiter);
        flag.update(v -> true);
        cv.notifyAllWaiters();
        waiter.join();
      });
    } finally {
      join(waiter);
    }
    RecordedEvent e = only(events, "dev.weft.ConditionWait", waiter);
    assertThat(e.getString("method")).isEqualTo("Condvar.awaitWhileUninterruptibly");
    assertThat(e.getString("outcome")).isEqualTo("ready");
    assertThat(e.getLong("timeout")).isEqualTo(Long.MIN_VALUE);
  }

  // ---- initialisation -------------------------------------------------------------------------

  @Test
  void onceCellFailureFieldsAndWaiters() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    Thread init = new Thread(() -> {
      try {
        cell.getOrInit(() -> {
          running.countDown();
          await(finish);
          throw new IllegalArgumentException("bad input");
        });
      } catch (IllegalArgumentException expected) {
        // the initialiser's failure
      }
    }, "test-init");
    Thread w = new Thread(() -> cell.getOrInit(() -> "second"), "test-waiter");
    List<RecordedEvent> events;
    try {
      events = recordAll(() -> {
        init.start();
        await(running);
        w.start();
        awaitParked(w);
        finish.countDown();
        init.join();
        w.join();
      });
    } finally {
      finish.countDown();
      join(init, w);
    }
    RecordedEvent failed = only(events, "dev.weft.OnceInit", init);
    assertThat(failed.getBoolean("failed")).isTrue();
    assertThat(failed.getString("failure"))
        .isEqualTo("java.lang.IllegalArgumentException: bad input");
    assertThat(failed.getInt("waitingThreads")).isEqualTo(1);
    assertThat(failed.getString("cellType")).isEqualTo("OnceCell");
    RecordedEvent retried = only(events, "dev.weft.OnceInit", w);
    assertThat(retried.getBoolean("failed")).isFalse();
    assertThat(cell.orElseThrow()).isEqualTo("second");
  }

  // ---- scopes -----------------------------------------------------------------------------

  @Test
  void aScopeThatTimesOutSaysSo() throws Exception {
    CountDownLatch never = new CountDownLatch(1);
    List<RecordedEvent> events = recordAll(() -> {
      try (Scope s = Scope.builder().timeout(Duration.ofMillis(50)).maxConcurrency(2).open()) {
        s.spawn(() -> {
          never.await(); // interrupted by the timeout's cancel
          return null;
        });
      } catch (ScopeTimeoutException expected) {
        // the deadline passed
      }
    });
    RecordedEvent e = only(events, "dev.weft.Scope", Thread.currentThread());
    assertThat(e.getString("outcome")).isEqualTo("timed out");
    assertThat(e.getLong("threadsStarted")).isEqualTo(1);
    assertThat(e.getInt("peakConcurrency")).isEqualTo(1);
    assertThat(e.getInt("maxConcurrency")).isEqualTo(2);
  }
}
