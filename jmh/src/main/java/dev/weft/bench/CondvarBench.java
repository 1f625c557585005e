package dev.weft.bench;

import dev.weft.Condvar;
import dev.weft.Mutex;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Predicate;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Two-thread hand-off (ping-pong): one operation is one round trip. Both sides run the same step
 * — wait until it is my turn, pass the turn to the other side, wake it — the benchmark thread
 * ("ping") once per operation, a partner thread ("pong") in a loop; in steady state each
 * operation waits for pong's reply to the previous pass, so it measures one full round trip.
 * One state class per mechanism, all in this class so one run compares them: weft
 * {@link Condvar} with {@code notifyOne} ({@code weftCondvar}), weft {@link Mutex#awaitThen}
 * with automatic signalling and no notify call ({@code weftAutoSignal}), {@code ReentrantLock} +
 * {@code Condition} ({@code jucCondition}), {@code synchronized} + {@code wait/notify}
 * ({@code monitor}) and {@link SynchronousQueue} ({@code synchronousQueue}). Score: average
 * time per round trip (two hand-offs). Goal (issue #7): weftCondvar ≥ 1.0× jucCondition (time no
 * higher).
 *
 * <p>Why this shape: an earlier version ran ping and pong as a JMH {@code @Group} with a 10 ms
 * timed wait so that the thread whose partner had already stopped at the end of an iteration
 * did not wait forever. On a loaded machine those timeouts fired while both threads were still
 * running (a descheduled partner), each costing 10 ms in one operation, and the scores spread by
 * ±70–180%. Here pong is a plain thread that lives for the whole trial and waits without a
 * timeout; it stops only at tear-down, after the last measured round trip, so no wait in the
 * measured path can time out or be left hanging, and every mechanism runs the same untimed
 * wait / flip / signal step. The waits' predicates are constants (no capturing lambda per
 * operation).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 8, time = 1)
public class CondvarBench {
  /** Index of the turn in the protected {@code int[]}: 0 = ping may go, 1 = pong may go. */
  static final int TURN = 0;

  /** Index of the stop flag in the protected {@code int[]}: set once, at tear-down. */
  static final int STOP = 1;

  /** Starts a named daemon partner thread. */
  static Thread startPong(String name, Runnable loop) {
    Thread t = new Thread(loop, "bench-condvar-pong-" + name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  static void join(Thread t) throws InterruptedException {
    t.join(TimeUnit.SECONDS.toMillis(10));
    if (t.isAlive()) {
      throw new IllegalStateException(t.getName() + " did not stop");
    }
  }

  // ---- weft Condvar ---------------------------------------------------------------------

  /** Ping and pong wait on one Condvar; each notifies after passing the turn. */
  @State(Scope.Benchmark)
  public static class WeftCondvar {
    static final Predicate<int[]> PING_BLOCKED = s -> s[TURN] != 0;
    static final Predicate<int[]> PONG_BLOCKED = s -> s[TURN] != 1 && s[STOP] == 0;

    final Mutex<int[]> state = new Mutex<>(new int[2]);
    final Condvar cv = new Condvar();
    Thread pong = Thread.currentThread();

    @Setup(Level.Trial)
    public void start() {
      pong = startPong("weftCondvar", this::pongLoop);
    }

    void pongLoop() {
      try {
        while (true) {
          try (Mutex.Guard<int[]> g = state.lock()) {
            cv.awaitWhile(g, PONG_BLOCKED);
            int[] s = g.get();
            if (s[STOP] != 0) {
              return;
            }
            s[TURN] = 0;
            cv.notifyOne();
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    /** Waits for the turn (pong's reply to the previous pass) and passes it to pong. */
    void roundTrip() throws InterruptedException {
      try (Mutex.Guard<int[]> g = state.lock()) {
        cv.awaitWhile(g, PING_BLOCKED);
        g.get()[TURN] = 1;
        cv.notifyOne();
      }
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
      try (Mutex.Guard<int[]> g = state.lock()) {
        g.get()[STOP] = 1;
        cv.notifyAllWaiters();
      }
      join(pong);
    }
  }

  @Benchmark
  public void weftCondvar(WeftCondvar s) throws InterruptedException {
    s.roundTrip();
  }

  // ---- weft Mutex automatic signalling -----------------------------------------------------

  /**
   * Ping and pong each wait in {@code awaitThen} for their turn and pass it on in the same lock
   * hold; releasing the lock wakes the other (no notify call).
   */
  @State(Scope.Benchmark)
  public static class WeftAuto {
    static final Predicate<int[]> PING_READY = s -> s[TURN] == 0;
    static final Predicate<int[]> PONG_READY = s -> s[TURN] == 1 || s[STOP] != 0;

    static final Function<int[], int[]> PASS_TO_PONG =
        s -> {
          s[TURN] = 1;
          return s;
        };

    /** Passes the turn back, or reports that the trial is over. */
    static final Function<int[], Boolean> PASS_TO_PING =
        s -> {
          if (s[STOP] != 0) {
            return Boolean.TRUE;
          }
          s[TURN] = 0;
          return Boolean.FALSE;
        };

    final Mutex<int[]> state = new Mutex<>(new int[2]);
    Thread pong = Thread.currentThread();

    @Setup(Level.Trial)
    public void start() {
      pong = startPong("weftAutoSignal", this::pongLoop);
    }

    void pongLoop() {
      try {
        while (!state.awaitThen(PONG_READY, PASS_TO_PING)) {
          // each pass releases the lock, which wakes ping
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    /** Waits for the turn (pong's reply to the previous pass) and passes it to pong. */
    void roundTrip() throws InterruptedException {
      state.awaitThen(PING_READY, PASS_TO_PONG);
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
      state.update(
          s -> {
            s[STOP] = 1;
            return s;
          });
      join(pong);
    }
  }

  @Benchmark
  public void weftAutoSignal(WeftAuto s) throws InterruptedException {
    s.roundTrip();
  }

  // ---- ReentrantLock + Condition ------------------------------------------------------------

  /** The plain-JDK version of {@link WeftCondvar}: one Condition, signal after each flip. */
  @State(Scope.Benchmark)
  public static class Juc {
    final ReentrantLock lock = new ReentrantLock();
    final Condition cond = lock.newCondition();
    int turn;
    boolean stopping;
    Thread pong = Thread.currentThread();

    @Setup(Level.Trial)
    public void start() {
      pong = startPong("jucCondition", this::pongLoop);
    }

    void pongLoop() {
      try {
        while (true) {
          lock.lock();
          try {
            while (turn != 1 && !stopping) {
              cond.await();
            }
            if (stopping) {
              return;
            }
            turn = 0;
            cond.signal();
          } finally {
            lock.unlock();
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void roundTrip() throws InterruptedException {
      lock.lock();
      try {
        while (turn != 0) {
          cond.await();
        }
        turn = 1;
        cond.signal();
      } finally {
        lock.unlock();
      }
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
      lock.lock();
      try {
        stopping = true;
        cond.signalAll();
      } finally {
        lock.unlock();
      }
      join(pong);
    }
  }

  @Benchmark
  public void jucCondition(Juc s) throws InterruptedException {
    s.roundTrip();
  }

  // ---- synchronized + wait/notify -------------------------------------------------------

  /** The same step with an intrinsic lock. */
  @State(Scope.Benchmark)
  public static class Monitor {
    final Object mon = new Object();
    int turn;
    boolean stopping;
    Thread pong = Thread.currentThread();

    @Setup(Level.Trial)
    public void start() {
      pong = startPong("monitor", this::pongLoop);
    }

    void pongLoop() {
      try {
        while (true) {
          synchronized (mon) {
            while (turn != 1 && !stopping) {
              mon.wait();
            }
            if (stopping) {
              return;
            }
            turn = 0;
            mon.notify();
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void roundTrip() throws InterruptedException {
      synchronized (mon) {
        while (turn != 0) {
          mon.wait();
        }
        turn = 1;
        mon.notify();
      }
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
      synchronized (mon) {
        stopping = true;
        mon.notifyAll();
      }
      join(pong);
    }
  }

  @Benchmark
  public void monitor(Monitor s) throws InterruptedException {
    s.roundTrip();
  }

  // ---- SynchronousQueue -------------------------------------------------------------------

  /** Ping hands a token to pong through one queue; pong hands it back through the other. */
  @State(Scope.Benchmark)
  public static class Sq {
    static final Integer TOKEN = 1;
    static final Integer STOP_TOKEN = 2;

    final SynchronousQueue<Integer> toPong = new SynchronousQueue<>();
    final SynchronousQueue<Integer> toPing = new SynchronousQueue<>();
    Thread pong = Thread.currentThread();

    @Setup(Level.Trial)
    public void start() {
      pong = startPong("synchronousQueue", this::pongLoop);
    }

    void pongLoop() {
      try {
        while (true) {
          Integer t = toPong.take();
          if (t.equals(STOP_TOKEN)) {
            return;
          }
          toPing.put(t);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    void roundTrip() throws InterruptedException {
      toPong.put(TOKEN);
      toPing.take();
    }

    @TearDown(Level.Trial)
    public void stop() throws InterruptedException {
      toPong.put(STOP_TOKEN);
      join(pong);
    }
  }

  @Benchmark
  public void synchronousQueue(Sq s) throws InterruptedException {
    s.roundTrip();
  }
}
