package dev.weft;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Harness of the virtual-thread re-review (JDK 21+): consumers poll with a short timed wait in a
 * retry loop while a virtual producer, which unmounts (parks 20 us) before each step, advances a
 * round counter.
 */
final class VirtualThreadReReviewSupport {
  private VirtualThreadReReviewSupport() {}

  /** One timed wait: true if the counter reached {@code round} (the wait's outcome). */
  interface Poll {
    boolean poll(long round, long micros) throws Exception;
  }

  /** Advances the counter by one and wakes the waiters. */
  interface Bump {
    void bump() throws Exception;
  }

  /** The primitives under test, with the same shape: a counter, a timed wait, a bump. */
  interface Subject extends Poll, Bump {}

  record Result(long rounds, long expected, long millis, boolean finished, long polls) {
    @Override
    public String toString() {
      return rounds
          + "/"
          + expected
          + " rounds in "
          + millis
          + " ms, "
          + polls
          + " timed waits"
          + (finished ? "" : " (STALLED)");
    }
  }

  /**
   * {@code consumers} virtual threads wait for each of {@code rounds} rounds in a {@code
   * poll(round, micros)} retry loop; one virtual producer parks 20 us, then bumps, per round.
   */
  static Result pollRounds(
      Subject s, AtomicLong progress, int consumers, int rounds, long micros, long limitMillis)
      throws Exception {
    return pollRounds(s, progress, consumers, rounds, micros, limitMillis, true);
  }

  /**
   * {@link #pollRounds(Subject, AtomicLong, int, int, long, long)} on virtual threads, or (with
   * {@code virtual} false) on daemon platform threads.
   */
  static Result pollRounds(
      Subject s,
      AtomicLong progress,
      int consumers,
      int rounds,
      long micros,
      long limitMillis,
      boolean virtual)
      throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong polls = new AtomicLong();
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(consumers + 1);
    List<Thread> started = new ArrayList<>();
    for (int i = 0; i < consumers; i++) {
      started.add(
          start(
              virtual,
              "consumer-" + i,
              () -> {
                try {
                  go.await();
                  long n = 0;
                  for (long r = 1; r <= rounds; r++) {
                    while (!s.poll(r, micros)) {
                      n++;
                      if (stop.get()) {
                        return;
                      }
                    }
                  }
                  polls.addAndGet(n);
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                } finally {
                  done.countDown();
                }
              }));
    }
    started.add(
        start(
            virtual,
            "producer",
            () -> {
              try {
                go.await();
                for (int r = 1; r <= rounds && !stop.get(); r++) {
                  LockSupport.parkNanos(20_000L); // unmounts; the timer wakes it
                  s.bump();
                  progress.set(r);
                }
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              } finally {
                done.countDown();
              }
            }));
    long start = System.nanoTime();
    go.countDown();
    boolean finished = done.await(limitMillis, TimeUnit.MILLISECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    stop.set(true);
    VirtualThreadReviewSupport.joinAll(started);
    if (failure.get() != null) {
      throw new AssertionError("a virtual thread failed", failure.get());
    }
    return new Result(progress.get(), rounds, millis, finished, polls.get());
  }

  private static Thread start(boolean virtual, String name, Runnable r) throws Exception {
    if (virtual) {
      return SpinLockHandOverReviewTest.startVirtual(name, r);
    }
    Thread t = new Thread(r, "test-" + name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  static Duration micros(long us) {
    return Duration.ofNanos(us * 1000L);
  }

  /** weft: Condvar.awaitWhile(guard, blocked, timeout). */
  static Subject condvar() {
    Mutex<Long> m = new Mutex<>(0L);
    Condvar cv = new Condvar();
    return new Subject() {
      @Override
      public boolean poll(long round, long micros) throws InterruptedException {
        try (Mutex.Guard<Long> g = m.lock()) {
          return cv.awaitWhile(g, v -> v < round, micros(micros));
        }
      }

      @Override
      public void bump() {
        m.update(v -> v + 1);
        cv.notifyAllWaiters();
      }
    };
  }

  /** weft: Mutex.lockWhen(ready, timeout). */
  static Subject lockWhen() {
    Mutex<Long> m = new Mutex<>(0L);
    return new Subject() {
      @Override
      public boolean poll(long round, long micros) throws InterruptedException {
        Mutex.Guard<Long> g = m.lockWhen(v -> v >= round, micros(micros));
        if (g == null) {
          return false;
        }
        g.close();
        return true;
      }

      @Override
      public void bump() {
        m.update(v -> v + 1);
      }
    };
  }

  /** JDK: ReentrantLock + Condition.awaitNanos(timeout), the lock taken per wait. */
  static Subject jdkCondition() {
    ReentrantLock lock = new ReentrantLock();
    Condition c = lock.newCondition();
    long[] v = new long[1];
    return new Subject() {
      @Override
      @SuppressWarnings({"LockNotBeforeTry", "WaitNotInLoop"}) // the caller's retry loop
      public boolean poll(long round, long micros) throws InterruptedException {
        lock.lock();
        try {
          if (v[0] >= round) {
            return true;
          }
          c.awaitNanos(micros * 1000L);
          return v[0] >= round;
        } finally {
          lock.unlock();
        }
      }

      @Override
      @SuppressWarnings("LockNotBeforeTry")
      public void bump() {
        lock.lock();
        try {
          v[0]++;
          c.signalAll();
        } finally {
          lock.unlock();
        }
      }
    };
  }

  /** weft: OnceCell.await(timeout), one cell per round. */
  static Subject onceCell(int rounds) {
    List<OnceCell<Long>> cells = new ArrayList<>();
    for (int i = 0; i <= rounds; i++) {
      cells.add(new OnceCell<>());
    }
    int[] next = {1};
    return new Subject() {
      @Override
      public boolean poll(long round, long micros) throws InterruptedException {
        return cells.get((int) round).await(micros(micros));
      }

      @Override
      public void bump() {
        int r = next[0]++; // the producer alone
        cells.get(r).set((long) r);
      }
    };
  }

  /** JDK: CountDownLatch.await(timeout), one latch per round. */
  static Subject jdkLatch(int rounds) {
    List<CountDownLatch> latches = new ArrayList<>();
    for (int i = 0; i <= rounds; i++) {
      latches.add(new CountDownLatch(1));
    }
    int[] next = {1};
    return new Subject() {
      @Override
      public boolean poll(long round, long micros) throws InterruptedException {
        return latches.get((int) round).await(micros, TimeUnit.MICROSECONDS);
      }

      @Override
      public void bump() {
        latches.get(next[0]++).countDown();
      }
    };
  }

  /** weft: untimed Condvar.awaitWhile(guard, blocked) (the micros argument is ignored). */
  static Subject condvarUntimed() {
    Mutex<Long> m = new Mutex<>(0L);
    Condvar cv = new Condvar();
    return new Subject() {
      @Override
      public boolean poll(long round, long micros) throws InterruptedException {
        try (Mutex.Guard<Long> g = m.lock()) {
          cv.awaitWhile(g, v -> v < round);
          return true;
        }
      }

      @Override
      public void bump() {
        m.update(v -> v + 1);
        cv.notifyAllWaiters();
      }
    };
  }

  /** weft: untimed Mutex.lockWhen(ready). */
  static Subject lockWhenUntimed() {
    Mutex<Long> m = new Mutex<>(0L);
    return new Subject() {
      @Override
      public boolean poll(long round, long micros) throws InterruptedException {
        m.lockWhen(v -> v >= round).close();
        return true;
      }

      @Override
      public void bump() {
        m.update(v -> v + 1);
      }
    };
  }

  /** JDK: ReentrantLock + untimed Condition.await in a loop. */
  static Subject jdkConditionUntimed() {
    ReentrantLock lock = new ReentrantLock();
    Condition c = lock.newCondition();
    long[] v = new long[1];
    return new Subject() {
      @Override
      @SuppressWarnings("LockNotBeforeTry")
      public boolean poll(long round, long micros) throws InterruptedException {
        lock.lock();
        try {
          while (v[0] < round) {
            c.await();
          }
          return true;
        } finally {
          lock.unlock();
        }
      }

      @Override
      @SuppressWarnings("LockNotBeforeTry")
      public void bump() {
        lock.lock();
        try {
          v[0]++;
          c.signalAll();
        } finally {
          lock.unlock();
        }
      }
    };
  }

  static Subject byName(String kind, int rounds) {
    return switch (kind) {
      case "condvarUntimed" -> condvarUntimed();
      case "lockWhenUntimed" -> lockWhenUntimed();
      case "jdkConditionUntimed" -> jdkConditionUntimed();
      case "condvar" -> condvar();
      case "lockWhen" -> lockWhen();
      case "jdkCondition" -> jdkCondition();
      case "onceCell" -> onceCell(rounds);
      case "jdkLatch" -> jdkLatch(rounds);
      default -> throw new IllegalArgumentException(kind);
    };
  }

  /**
   * A virtual holder takes {@code lock}, parks {@code holdMicros} inside its section (unmounts;
   * the timer wakes it) and releases; meanwhile {@code spinners} virtual threads try to take it
   * once each, in a {@code tryLock(micros)} retry loop. Returns the ms until all are done, or
   * -1 if that took longer than {@code limitMillis}.
   */
  static long holderParks(
      VirtualThreadReviewSupport.XLock lock,
      int spinners,
      long micros,
      long holdMicros,
      long limitMillis)
      throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(spinners + 1);
    List<Thread> started = new ArrayList<>();
    started.add(
        SpinLockHandOverReviewTest.startVirtual(
            "holder",
            () -> {
              try {
                lock.lock();
                try {
                  held.countDown();
                  LockSupport.parkNanos(holdMicros * 1000L);
                } finally {
                  lock.unlock();
                }
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              } finally {
                done.countDown();
              }
            }));
    held.await();
    long start = System.nanoTime();
    for (int i = 0; i < spinners; i++) {
      started.add(
          SpinLockHandOverReviewTest.startVirtual(
              "spinner-" + i,
              () -> {
                try {
                  while (!lock.tryLock(micros)) {
                    if (stop.get()) {
                      return;
                    }
                  }
                  lock.unlock();
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                } finally {
                  done.countDown();
                }
              }));
    }
    boolean finished = done.await(limitMillis, TimeUnit.MILLISECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    stop.set(true);
    VirtualThreadReviewSupport.joinAll(started);
    if (failure.get() != null) {
      throw new AssertionError("a virtual thread failed", failure.get());
    }
    return finished ? millis : -1L;
  }
}
