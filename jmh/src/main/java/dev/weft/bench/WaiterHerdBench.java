package dev.weft.bench;

import dev.weft.Condvar;
import dev.weft.Mutex;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A herd of waiters on one condition (issue #20, session 13): {@link #waiters()} platform
 * threads each wait for every one of {@value #ROUNDS} rounds ("the counter has reached r"),
 * while one producer parks 20 &micro;s and then bumps the counter, per round, through the same
 * lock. The score is the time until every thread is done ({@code SingleShotTime}, ms).
 *
 * <ul>
 *   <li>{@code weftLockWhen}: {@code mutex.lockWhen(v -> v >= r).close()} against {@code
 *       mutex.update(v -> v + 1)} (automatic signalling: every release wakes the waiters).
 *   <li>{@code weftCondvar}: {@code condvar.awaitWhile(guard, v -> v < r)} against {@code update}
 *       and {@code notifyAllWaiters()}.
 *   <li>{@code jucCondition}: {@code ReentrantLock} and {@code Condition.await()} in a loop
 *       against {@code signalAll()}: the reference.
 * </ul>
 *
 * <p>What it shows: a waiter woken for a change must take the lock back; if the woken herd
 * barges ahead of the threads queued for the lock, the producer (queued with them) waits for the
 * whole herd on every round, the consumers keep up with it and wait again, and the run is a
 * storm of wake-ups. Until session 13 {@code lockWhen}'s woken waiters barged: 380&ndash;440 ms
 * against {@code Condition}'s 38&ndash;45 ms with 100 platform threads on 2 cores (the producer
 * spent 80&ndash;90% of the run waiting for the lock); since then 84&ndash;132 ms, and
 * 106&ndash;118 ms after session 14 bounded a woken waiter's wait behind its waker. Goal (set in
 * session 13, {@code goals.tsv}): {@code lockWhen} within 2&times; {@code Condition}; {@code
 * Condvar} reported.
 *
 * <p>Cannot hang: a run gives up after {@value #CAP_SECONDS} s and throws. {@code
 * WaiterHerdJdk25Bench} runs the same with 500 virtual threads.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
public class WaiterHerdBench {
  static final int ROUNDS = 200;
  static final long CAP_SECONDS = 30;

  /** One wait for round {@code r} and one bump, on some lock. */
  interface Subject {
    void await(long r) throws InterruptedException;

    void bump();
  }

  /**
   * How many threads wait.
   *
   * @return 100 platform threads here
   */
  protected int waiters() {
    return 100;
  }

  /**
   * Where the waiters and the producer run.
   *
   * @return a factory of daemon platform threads here
   */
  protected ThreadFactory threads() {
    return r -> {
      Thread t = new Thread(r, "herd");
      t.setDaemon(true);
      return t;
    };
  }

  @Benchmark
  public long weftLockWhen() throws Exception {
    return lockWhenHerd(new Mutex<>(0L));
  }

  /**
   * The same herd on a mutex whose waiters evaluate their own predicates ({@code
   * PredicateEvaluation.BY_WAITER}): every bump wakes every waiter, as before session 27.
   */
  @Benchmark
  public long weftLockWhenByWaiter() throws Exception {
    return lockWhenHerd(new Mutex<>(0L, Mutex.PredicateEvaluation.BY_WAITER));
  }

  private long lockWhenHerd(Mutex<Long> m) throws Exception {
    return herd(new Subject() {
      @Override
      public void await(long r) throws InterruptedException {
        m.lockWhen(v -> v >= r).close();
      }

      @Override
      public void bump() {
        m.update(v -> v + 1);
      }
    });
  }

  @Benchmark
  public long weftCondvar() throws Exception {
    Mutex<Long> m = new Mutex<>(0L);
    Condvar c = new Condvar();
    return herd(new Subject() {
      @Override
      public void await(long r) throws InterruptedException {
        try (Mutex.Guard<Long> g = m.lock()) {
          c.awaitWhile(g, v -> v < r);
        }
      }

      @Override
      public void bump() {
        m.update(v -> v + 1);
        c.notifyAllWaiters();
      }
    });
  }

  @Benchmark
  public long jucCondition() throws Exception {
    ReentrantLock lock = new ReentrantLock();
    Condition changed = lock.newCondition();
    long[] v = new long[1];
    return herd(new Subject() {
      @Override
      public void await(long r) throws InterruptedException {
        lock.lock();
        try {
          while (v[0] < r) {
            changed.await();
          }
        } finally {
          lock.unlock();
        }
      }

      @Override
      public void bump() {
        lock.lock();
        try {
          v[0]++;
          changed.signalAll();
        } finally {
          lock.unlock();
        }
      }
    });
  }

  private long herd(Subject s) throws Exception {
    int n = waiters();
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(n + 1);
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> started = new ArrayList<>();
    ThreadFactory f = threads();
    for (int i = 0; i < n; i++) {
      started.add(f.newThread(() -> {
        try {
          go.await();
          for (long r = 1; r <= ROUNDS && !stop.get(); r++) {
            s.await(r);
          }
        } catch (InterruptedException e) {
          // stopped after the cap: the run fails below
        } catch (Throwable e) {
          failure.compareAndSet(null, e);
        } finally {
          done.countDown();
        }
      }));
    }
    started.add(f.newThread(() -> {
      try {
        go.await();
        for (int r = 1; r <= ROUNDS && !stop.get(); r++) {
          LockSupport.parkNanos(20_000L);
          s.bump();
        }
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
      } finally {
        done.countDown();
      }
    }));
    for (Thread t : started) {
      t.start();
    }
    long start = System.nanoTime();
    go.countDown();
    boolean finished = done.await(CAP_SECONDS, TimeUnit.SECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    if (!finished) {
      stop.set(true);
      for (Thread t : started) {
        t.interrupt();
      }
    }
    for (Thread t : started) {
      t.join(TimeUnit.SECONDS.toMillis(CAP_SECONDS));
    }
    if (failure.get() != null) {
      throw new IllegalStateException("a herd thread failed", failure.get());
    }
    if (!finished) {
      throw new IllegalStateException("herd not done after " + CAP_SECONDS + " s");
    }
    return millis;
  }
}
