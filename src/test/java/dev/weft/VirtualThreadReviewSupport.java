package dev.weft;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.StampedLock;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/** Shared harness for the virtual-thread review (JDK 21+). */
final class VirtualThreadReviewSupport {
  private VirtualThreadReviewSupport() {}

  /** A minimal exclusive lock view over weft and JDK primitives. */
  interface XLock {
    boolean tryLock(long micros) throws InterruptedException;

    void lock() throws InterruptedException;

    void unlock();
  }

  static XLock of(Lock l) {
    return of(l, -1L);
  }

  /**
   * As {@link #of(Lock)}; with {@code fixedNanos >= 0} every {@code tryLock} waits that many
   * nanoseconds instead of its {@code micros} argument (timeouts below a microsecond).
   */
  static XLock of(Lock l, long fixedNanos) {
    return new XLock() {
      @Override
      public boolean tryLock(long micros) throws InterruptedException {
        return l.tryLock(fixedNanos >= 0L ? fixedNanos : micros * 1000L, TimeUnit.NANOSECONDS);
      }

      @Override
      @SuppressWarnings("LockNotBeforeTry")
      public void lock() {
        l.lock();
      }

      @Override
      public void unlock() {
        l.unlock();
      }
    };
  }

  static XLock of(SeqLock l) {
    return of(l, -1L);
  }

  /** As {@link #of(SeqLock)}, with {@code fixedNanos} as in {@link #of(Lock, long)}. */
  static XLock of(SeqLock l, long fixedNanos) {
    return new XLock() {
      SeqLock.@Nullable WriteGuard g; // guarded by l

      @Override
      public boolean tryLock(long micros) throws InterruptedException {
        SeqLock.WriteGuard w =
            l.tryWrite(Duration.ofNanos(fixedNanos >= 0L ? fixedNanos : micros * 1000L));
        if (w == null) {
          return false;
        }
        g = w;
        return true;
      }

      @Override
      public void lock() throws InterruptedException {
        g = l.write();
      }

      @Override
      public void unlock() {
        SeqLock.WriteGuard w = g;
        g = null;
        if (w != null) {
          w.close();
        }
      }
    };
  }

  static XLock of(StampedLock l) {
    return new XLock() {
      long stamp; // guarded by l

      @Override
      public boolean tryLock(long micros) throws InterruptedException {
        long s = l.tryWriteLock(micros, TimeUnit.MICROSECONDS);
        if (s == 0L) {
          return false;
        }
        stamp = s;
        return true;
      }

      @Override
      public void lock() {
        stamp = l.writeLock();
      }

      @Override
      public void unlock() {
        l.unlockWrite(stamp);
      }
    };
  }

  /** Result of a run: acquisitions done, expected, elapsed ms, finished in time. */
  record Result(long done, long expected, long millis, boolean finished) {
    @Override
    public String toString() {
      return done + "/" + expected + " in " + millis + " ms" + (finished ? "" : " (STALLED)");
    }
  }

  /**
   * The issue-20 shape: {@code threads} virtual threads, half in {@code tryLock(tryMicros)}
   * retry loops, half in lock(), each doing {@code each} acquisitions; every 16th critical
   * section parks 1 us (unmounts; woken by the timer thread).
   */
  static Result retryLoops(XLock lock, int threads, int each, long tryMicros, long limitMillis)
      throws Exception {
    return retryLoops(lock, threads, each, tryMicros, limitMillis, false);
  }

  /**
   * As {@link #retryLoops(XLock, int, int, long, long)}, with every thread in {@code
   * tryLock(tryMicros)} loops if {@code allTimed} (session 16: the JDK's locks stall so on one
   * carrier, see docs/seqlock.md).
   */
  static Result retryLoops(
      XLock lock, int threads, int each, long tryMicros, long limitMillis, boolean allTimed)
      throws Exception {
    long[] count = new long[1];
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(threads);
    List<Thread> started = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      boolean timed = allTimed || i % 2 == 0;
      started.add(
          SpinLockHandOverReviewTest.startVirtual(
              "vt-" + i,
              () -> {
                try {
                  go.await();
                  for (int k = 0; k < each && !stop.get(); k++) {
                    if (timed) {
                      while (!lock.tryLock(tryMicros)) {
                        if (stop.get()) {
                          return;
                        }
                      }
                    } else {
                      lock.lock();
                    }
                    try {
                      if ((++count[0] & 15) == 0) {
                        LockSupport.parkNanos(1_000L);
                      }
                    } finally {
                      lock.unlock();
                    }
                  }
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                } finally {
                  done.countDown();
                }
              }));
    }
    long start = System.nanoTime();
    go.countDown();
    boolean finished = done.await(limitMillis, TimeUnit.MILLISECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    stop.set(true);
    joinAll(started);
    if (failure.get() != null) {
      throw new AssertionError("a virtual thread failed", failure.get());
    }
    lock.lock();
    long acquired;
    try {
      acquired = count[0];
    } finally {
      lock.unlock();
    }
    return new Result(acquired, (long) threads * each, millis, finished);
  }

  static void joinAll(List<Thread> started) throws InterruptedException {
    for (Thread t : started) {
      t.join(TimeUnit.SECONDS.toMillis(20));
      if (t.isAlive()) {
        throw new AssertionError(t.getName() + " still running after the test");
      }
    }
  }

  static int carriers() {
    return Integer.getInteger(
        "jdk.virtualThreadScheduler.parallelism", Runtime.getRuntime().availableProcessors());
  }

  /**
   * Starts one CPU-bound virtual thread per carrier (JDK 21+), each spinning on its carrier
   * (virtual threads are not preempted) until {@code stop} is true or {@code escapeAfter} has
   * passed, which it records in {@code escaped}; returns once all of them run, so no other
   * virtual thread can get a carrier until they stop. The reviews' "carrier-less" schedules.
   *
   * @param name the hogs' name prefix
   * @param stop when the hogs stop (read on every spin)
   * @param escapeAfter when they give up anyway, so a deadlock ends the test
   * @param escaped set if a hog gave up at the escape
   * @return the started hogs, for the caller to join
   */
  static List<Thread> startCarrierHogs(
      String name, BooleanSupplier stop, Duration escapeAfter, AtomicBoolean escaped)
      throws Exception {
    int n = carriers();
    CountDownLatch running = new CountDownLatch(n);
    long escape = System.nanoTime() + escapeAfter.toNanos();
    List<Thread> hogs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      hogs.add(SpinLockHandOverReviewTest.startVirtual(name + "-" + i, () -> {
        running.countDown();
        while (!stop.getAsBoolean()) {
          if (System.nanoTime() - escape >= 0) {
            escaped.set(true);
            break;
          }
          Thread.onSpinWait();
        }
      }));
    }
    if (!running.await(10, TimeUnit.SECONDS)) {
      throw new AssertionError("the carrier hogs did not all start");
    }
    return hogs;
  }
}
