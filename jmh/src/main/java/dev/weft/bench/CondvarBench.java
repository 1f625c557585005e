package dev.weft.bench;

import dev.weft.Condvar;
import dev.weft.Mutex;
import java.time.Duration;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Control;

/**
 * Two-thread hand-off (ping-pong): each operation waits for its turn, passes the turn to the
 * other thread and wakes it. One group per mechanism, all in this class so one run compares
 * them: weft {@link Condvar} ({@code weftCondvar}), weft {@link Mutex#lockWhen} with automatic
 * signalling and no notify call ({@code weftAutoSignal}), {@code ReentrantLock} +
 * {@code Condition} ({@code jucCondition}), {@code synchronized} + {@code wait/notify}
 * ({@code monitor}) and {@link SynchronousQueue} ({@code synchronousQueue}). Score: average time
 * per operation of each thread (≈ one hand-off). Goal (issue #7): weftCondvar ≥ 1.0× jucCondition
 * (time no higher).
 *
 * <p>Every variant waits with the same short timeout and re-checks JMH's
 * {@code Control.stopMeasurement}, so that at the end of an iteration the thread whose partner
 * has already stopped does not wait forever. The timeout never fires while both threads run.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class CondvarBench {
  static final long TIMEOUT_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
  static final Duration TIMEOUT = Duration.ofNanos(TIMEOUT_NANOS);

  // ---- weft Condvar ---------------------------------------------------------------------

  /** Turn 0: ping may go; turn 1: pong may go. */
  @State(Scope.Group)
  public static class WeftCondvar {
    final Mutex<int[]> turn = new Mutex<>(new int[1]);
    final Condvar cv = new Condvar();

    void step(int mine, Control c) throws InterruptedException {
      try (Mutex.Guard<int[]> g = turn.lock()) {
        if (cv.awaitWhile(g, t -> t[0] != mine && !c.stopMeasurement, TIMEOUT)
            && g.get()[0] == mine) {
          g.get()[0] = 1 - mine;
          cv.notifyOne();
        }
      }
    }
  }

  @Benchmark
  @Group("weftCondvar")
  @GroupThreads(1)
  public void weftCondvar_ping(WeftCondvar s, Control c) throws InterruptedException {
    s.step(0, c);
  }

  @Benchmark
  @Group("weftCondvar")
  @GroupThreads(1)
  public void weftCondvar_pong(WeftCondvar s, Control c) throws InterruptedException {
    s.step(1, c);
  }

  // ---- weft Mutex automatic signalling -----------------------------------------------------

  @State(Scope.Group)
  public static class WeftAuto {
    final Mutex<int[]> turn = new Mutex<>(new int[1]);

    void step(int mine, Control c) throws InterruptedException {
      Mutex.Guard<int[]> g = turn.lockWhen(t -> t[0] == mine || c.stopMeasurement, TIMEOUT);
      if (g != null) {
        try {
          if (g.get()[0] == mine) {
            g.get()[0] = 1 - mine; // closing the guard wakes the partner: no notify
          }
        } finally {
          g.close();
        }
      }
    }
  }

  @Benchmark
  @Group("weftAutoSignal")
  @GroupThreads(1)
  public void weftAutoSignal_ping(WeftAuto s, Control c) throws InterruptedException {
    s.step(0, c);
  }

  @Benchmark
  @Group("weftAutoSignal")
  @GroupThreads(1)
  public void weftAutoSignal_pong(WeftAuto s, Control c) throws InterruptedException {
    s.step(1, c);
  }

  // ---- ReentrantLock + Condition ------------------------------------------------------------

  @State(Scope.Group)
  public static class Juc {
    final ReentrantLock lock = new ReentrantLock();
    final Condition cond = lock.newCondition();
    int turn;

    void step(int mine, Control c) throws InterruptedException {
      lock.lock();
      try {
        long nanos = TIMEOUT_NANOS;
        while (turn != mine && !c.stopMeasurement) {
          if (nanos <= 0) {
            return;
          }
          nanos = cond.awaitNanos(nanos);
        }
        if (turn == mine) {
          turn = 1 - mine;
          cond.signal();
        }
      } finally {
        lock.unlock();
      }
    }
  }

  @Benchmark
  @Group("jucCondition")
  @GroupThreads(1)
  public void jucCondition_ping(Juc s, Control c) throws InterruptedException {
    s.step(0, c);
  }

  @Benchmark
  @Group("jucCondition")
  @GroupThreads(1)
  public void jucCondition_pong(Juc s, Control c) throws InterruptedException {
    s.step(1, c);
  }

  // ---- synchronized + wait/notify -------------------------------------------------------

  @State(Scope.Group)
  public static class Monitor {
    final Object mon = new Object();
    int turn;

    void step(int mine, Control c) throws InterruptedException {
      synchronized (mon) {
        long deadline = System.nanoTime() + TIMEOUT_NANOS;
        while (turn != mine && !c.stopMeasurement) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return;
          }
          TimeUnit.NANOSECONDS.timedWait(mon, left);
        }
        if (turn == mine) {
          turn = 1 - mine;
          mon.notify();
        }
      }
    }
  }

  @Benchmark
  @Group("monitor")
  @GroupThreads(1)
  public void monitor_ping(Monitor s, Control c) throws InterruptedException {
    s.step(0, c);
  }

  @Benchmark
  @Group("monitor")
  @GroupThreads(1)
  public void monitor_pong(Monitor s, Control c) throws InterruptedException {
    s.step(1, c);
  }

  // ---- SynchronousQueue -------------------------------------------------------------------

  /** Ping hands a token to pong through one queue; pong hands it back through the other. */
  @State(Scope.Group)
  public static class Sq {
    final SynchronousQueue<Integer> toPong = new SynchronousQueue<>();
    final SynchronousQueue<Integer> toPing = new SynchronousQueue<>();
    static final Integer TOKEN = 1;

    static void give(SynchronousQueue<Integer> q, Control c) throws InterruptedException {
      while (!q.offer(TOKEN, TIMEOUT_NANOS, TimeUnit.NANOSECONDS)) {
        if (c.stopMeasurement) {
          return;
        }
      }
    }

    static void take(SynchronousQueue<Integer> q, Control c) throws InterruptedException {
      while (q.poll(TIMEOUT_NANOS, TimeUnit.NANOSECONDS) == null) {
        if (c.stopMeasurement) {
          return;
        }
      }
    }
  }

  @Benchmark
  @Group("synchronousQueue")
  @GroupThreads(1)
  public void synchronousQueue_ping(Sq s, Control c) throws InterruptedException {
    Sq.give(s.toPong, c);
    Sq.take(s.toPing, c);
  }

  @Benchmark
  @Group("synchronousQueue")
  @GroupThreads(1)
  public void synchronousQueue_pong(Sq s, Control c) throws InterruptedException {
    Sq.take(s.toPong, c);
    Sq.give(s.toPing, c);
  }
}
