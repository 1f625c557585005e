package dev.weft.bench;

import com.google.common.util.concurrent.Monitor;
import dev.weft.Mutex;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * A bounded buffer with two kinds of waiter on one lock (session 27): {@code pairs} producers
 * wait for room and as many consumers wait for an item, capacity {@value #CAPACITY}, {@value
 * #ITEMS} items in all. The score is the time until every item is consumed ({@code
 * SingleShotTime}, ms).
 *
 * <ul>
 *   <li>{@code weftAwaitThen}: {@code Mutex<ArrayDeque>} with {@code awaitThen(q -> q.size() <
 *       cap, q -> q.add(x))} and {@code awaitThen(q -> !q.isEmpty(), ArrayDeque::poll)}: no
 *       signalling code at all.
 *   <li>{@code guavaMonitor}: Guava's {@code Monitor} with two guards, the anchor for automatic
 *       signalling (it evaluates waiters' guards on the thread that leaves).
 *   <li>{@code jucTwoConditions}: {@code ReentrantLock} with {@code notFull} and {@code
 *       notEmpty} and {@code signal()}, the hand-written form ({@code ArrayBlockingQueue}'s).
 *   <li>{@code arrayBlockingQueue}: the JDK's own queue, for scale.
 * </ul>
 *
 * <p>What it shows: with automatic signalling a release must decide whom to wake. Until session
 * 27 {@code Mutex} woke every waiter on every release, so each put woke the waiting producers
 * too, and each take the waiting consumers; since then it evaluates each waiter's predicate
 * under the lock and wakes only those for whom it holds (as Guava's {@code Monitor} does).
 *
 * <p>Cannot hang: a run gives up after {@value #CAP_SECONDS} s and throws. {@code
 * BoundedBufferJdk25Bench} runs the same on virtual threads.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(1)
@Warmup(iterations = 3)
@Measurement(iterations = 8)
public class BoundedBufferBench {
  static final int CAPACITY = 4;
  static final int ITEMS = 40_000;
  static final long CAP_SECONDS = 30;

  /** Producers, and as many consumers. */
  @Param({"2", "16"})
  public int pairs;

  /** A bounded buffer of longs. */
  interface Buffer {
    void put(long x) throws InterruptedException;

    long take() throws InterruptedException;
  }

  /**
   * Where the producers and consumers run.
   *
   * @return a factory of daemon platform threads here
   */
  protected ThreadFactory threads() {
    return r -> {
      Thread t = new Thread(r, "buffer");
      t.setDaemon(true);
      return t;
    };
  }

  @Benchmark
  public long weftAwaitThen() throws Exception {
    Mutex<ArrayDeque<Long>> m = new Mutex<>(new ArrayDeque<>());
    return run(new Buffer() {
      @Override
      public void put(long x) throws InterruptedException {
        m.awaitThen(q -> q.size() < CAPACITY, q -> q.add(x));
      }

      @Override
      public long take() throws InterruptedException {
        return m.awaitThen(q -> !q.isEmpty(), ArrayDeque::poll);
      }
    });
  }

  @Benchmark
  public long guavaMonitor() throws Exception {
    ArrayDeque<Long> q = new ArrayDeque<>();
    Monitor monitor = new Monitor();
    Monitor.Guard notFull = monitor.newGuard(() -> q.size() < CAPACITY);
    Monitor.Guard notEmpty = monitor.newGuard(() -> !q.isEmpty());
    return run(new Buffer() {
      @Override
      public void put(long x) throws InterruptedException {
        monitor.enterWhen(notFull);
        try {
          q.add(x);
        } finally {
          monitor.leave();
        }
      }

      @Override
      public long take() throws InterruptedException {
        monitor.enterWhen(notEmpty);
        try {
          return q.poll();
        } finally {
          monitor.leave();
        }
      }
    });
  }

  @Benchmark
  public long jucTwoConditions() throws Exception {
    ArrayDeque<Long> q = new ArrayDeque<>();
    ReentrantLock lock = new ReentrantLock();
    Condition notFull = lock.newCondition();
    Condition notEmpty = lock.newCondition();
    return run(new Buffer() {
      @Override
      public void put(long x) throws InterruptedException {
        lock.lockInterruptibly();
        try {
          while (q.size() >= CAPACITY) {
            notFull.await();
          }
          q.add(x);
          notEmpty.signal();
        } finally {
          lock.unlock();
        }
      }

      @Override
      public long take() throws InterruptedException {
        lock.lockInterruptibly();
        try {
          while (q.isEmpty()) {
            notEmpty.await();
          }
          long x = q.poll();
          notFull.signal();
          return x;
        } finally {
          lock.unlock();
        }
      }
    });
  }

  @Benchmark
  public long arrayBlockingQueue() throws Exception {
    ArrayBlockingQueue<Long> q = new ArrayBlockingQueue<>(CAPACITY);
    return run(new Buffer() {
      @Override
      public void put(long x) throws InterruptedException {
        q.put(x);
      }

      @Override
      public long take() throws InterruptedException {
        return q.take();
      }
    });
  }

  private long run(Buffer b) throws Exception {
    int n = pairs;
    int each = ITEMS / n;
    CountDownLatch go = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(2 * n);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> started = new ArrayList<>();
    ThreadFactory f = threads();
    for (int i = 0; i < n; i++) {
      started.add(f.newThread(() -> {
        try {
          go.await();
          for (int k = 0; k < each; k++) {
            b.put(k);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        } finally {
          done.countDown();
        }
      }));
      started.add(f.newThread(() -> {
        try {
          go.await();
          for (int k = 0; k < each; k++) {
            b.take();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        } finally {
          done.countDown();
        }
      }));
    }
    for (Thread t : started) {
      t.start();
    }
    long start = System.nanoTime();
    go.countDown();
    boolean finished = done.await(CAP_SECONDS, TimeUnit.SECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    if (!finished) {
      for (Thread t : started) {
        t.interrupt();
      }
    }
    for (Thread t : started) {
      t.join(TimeUnit.SECONDS.toMillis(CAP_SECONDS));
    }
    if (failure.get() != null) {
      throw new IllegalStateException("a buffer thread failed", failure.get());
    }
    if (!finished) {
      throw new IllegalStateException("buffer not drained after " + CAP_SECONDS + " s");
    }
    return millis;
  }
}
