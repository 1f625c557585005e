package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.concurrent.locks.StampedLock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Audit (session 20, after CI stop 33): every public timed wait of weft other than {@code
 * SpinLock.tryLock}, {@code TicketLock.tryLock} and {@code SeqLock.tryWrite} (fixed with {@code
 * SpinBackoff.unmountBeforeTimeout}), called in a retry loop with a 1 ns and a 1 us timeout on
 * virtual threads, with the JDK's counterparts as the reference.
 *
 * <p>The defect class: nothing preempts a virtual thread. A timed wait whose timeout runs out
 * before it parks returns its failure without ever unmounting, so a caller that retries it in a
 * loop keeps its carrier for good. With one such loop per carrier, the virtual thread the loops
 * wait for (a lock holder that parked inside its critical section, a producer that parks before
 * it publishes, an initialiser) never gets a carrier back: a stall.
 *
 * <p>Two shapes, both with 64 virtual threads on the default scheduler (2 carriers on the
 * 2-vCPU machines these numbers come from), and a run that does not finish within its limit
 * counts as a stall:
 *
 * <ul>
 *   <li>lock shape ({@link #lockShape}): 300 sections per thread, half of the threads (or all)
 *       in timed retry loops and the other half in the untimed acquisition; every 16th section
 *       parks 1 us inside the lock (it unmounts and comes back through the timer);
 *   <li>signal shape ({@link #signalShape}): one producer publishes {@value #ITEMS} items, parking
 *       1 us before each; the other 63 threads take items in timed retry loops.
 * </ul>
 *
 * <p>{@link #main} repeats cases for the measurements in the report: {@code java -cp ...
 * dev.weft.VirtualTimedRetryAuditTest RUNS LIMIT_MS case:nanos ...}.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class VirtualTimedRetryAuditTest {
  static final int THREADS = 64;
  static final int EACH = 300;
  static final int ITEMS = 2_000;
  static final int CELLS = 200;
  static final long LIMIT_MILLIS = 15_000;

  /** What one run did. */
  record Outcome(long done, long expected, long millis, boolean finished) {
    @Override
    public String toString() {
      return done + "/" + expected + " in " + millis + " ms" + (finished ? "" : " (STALLED)");
    }
  }

  // ------------------------------------------------------------------------------- harness

  /** An acquisition: the release to run, or null when a timed attempt failed. */
  interface Gate {
    @Nullable Runnable acquire(long nanos) throws InterruptedException;
  }

  static Thread startVirtual(String name, Runnable r) throws ReflectiveOperationException {
    Class<?> builderType = Class.forName("java.lang.Thread$Builder");
    Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
    Method nameM = builderType.getMethod("name", String.class);
    builder = nameM.invoke(builder, name);
    Method start = builderType.getMethod("start", Runnable.class);
    return (Thread) start.invoke(builder, r);
  }

  interface Body {
    void run() throws Exception;
  }

  /** Starts the bodies, waits for {@code finished}, stops and joins them all. */
  static Outcome runAll(
      List<Body> bodies,
      CountDownLatch finished,
      AtomicBoolean stop,
      AtomicLong done,
      long expected,
      long limitMillis)
      throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> started = new ArrayList<>();
    try {
      for (int i = 0; i < bodies.size(); i++) {
        Body b = bodies.get(i);
        started.add(
            startVirtual(
                "audit-" + i,
                () -> {
                  try {
                    go.await();
                    b.run();
                  } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    stop.set(true);
                  }
                }));
      }
    } finally {
      go.countDown();
    }
    long start = System.nanoTime();
    boolean ok = finished.await(limitMillis, TimeUnit.MILLISECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    long count = done.get();
    stop.set(true);
    for (Thread t : started) {
      t.join(20_000);
      if (t.isAlive()) {
        throw new AssertionError(t.getName() + " still running after the run");
      }
    }
    if (failure.get() != null) {
      throw new AssertionError("a virtual thread failed", failure.get());
    }
    return new Outcome(count, expected, millis, ok && failure.get() == null);
  }

  /**
   * {@code THREADS} threads x {@link #EACH} sections; thread i is timed if {@code allTimed} or i
   * is even (it retries {@code timed.acquire(nanos)} until it succeeds), else it calls {@code
   * untimed.acquire(-1)}; every 16th section parks 1 us inside.
   */
  static Outcome lockShape(Gate timed, Gate untimed, boolean allTimed, long nanos, long limit)
      throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong sections = new AtomicLong();
    CountDownLatch finished = new CountDownLatch(THREADS);
    List<Body> bodies = new ArrayList<>();
    for (int i = 0; i < THREADS; i++) {
      boolean isTimed = allTimed || i % 2 == 0;
      bodies.add(
          () -> {
            try {
              for (int k = 0; k < EACH && !stop.get(); k++) {
                Runnable release;
                if (isTimed) {
                  while ((release = timed.acquire(nanos)) == null) {
                    if (stop.get()) {
                      return;
                    }
                  }
                } else {
                  release = untimed.acquire(-1L);
                  if (release == null) {
                    throw new AssertionError("an untimed acquisition failed");
                  }
                }
                try {
                  if ((sections.incrementAndGet() & 15) == 0) {
                    LockSupport.parkNanos(1_000L);
                  }
                } finally {
                  release.run();
                }
              }
            } finally {
              finished.countDown();
            }
          });
    }
    return runAll(bodies, finished, stop, sections, (long) THREADS * EACH, limit);
  }

  /** A take attempt of the signal shape: true if it took an item. */
  interface Take {
    boolean take(long nanos, AtomicBoolean stop) throws InterruptedException;
  }

  /**
   * One producer publishes {@link #ITEMS} items, parking 1 us before each; {@code THREADS - 1}
   * consumers call {@code take} in a loop until all items are taken.
   */
  static Outcome signalShape(Runnable publish, Take take, long nanos, long limit)
      throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong taken = new AtomicLong();
    CountDownLatch finished = new CountDownLatch(1);
    List<Body> bodies = new ArrayList<>();
    bodies.add(
        () -> {
          for (int i = 0; i < ITEMS && !stop.get(); i++) {
            LockSupport.parkNanos(1_000L);
            publish.run();
          }
        });
    for (int i = 1; i < THREADS; i++) {
      bodies.add(
          () -> {
            while (!stop.get()) {
              if (take.take(nanos, stop) && taken.incrementAndGet() == ITEMS) {
                finished.countDown();
                stop.set(true);
              }
            }
          });
    }
    return runAll(bodies, finished, stop, taken, ITEMS, limit);
  }

  /** The item count of the signal shape; guarded by its lock. */
  static final class Box {
    int avail;
  }

  // ------------------------------------------------------------------------------- cases

  /** Runs one case; see the names in {@link #CASES}. */
  static Outcome run(String kase, long nanos, long limit) throws Exception {
    Duration d = Duration.ofNanos(nanos);
    return switch (kase) {
      // ---- lock shape: weft
      case "mutex.tryLock", "mutex.tryLock.all" -> {
          Mutex<Box> m = new Mutex<>(new Box());
          Gate timed = n -> close(m.tryLock(d));
          Gate untimed = n -> close(m.lock());
          yield lockShape(timed, untimed, kase.endsWith(".all"), nanos, limit);
        }
      case "mutex.lockWhen.contended", "mutex.lockWhen.contended.all" -> {
          Mutex<Box> m = new Mutex<>(new Box());
          Gate timed = n -> close(m.lockWhen(b -> true, d));
          Gate untimed = n -> close(m.lock());
          yield lockShape(timed, untimed, kase.endsWith(".all"), nanos, limit);
        }
      case "rwlock.tryWrite", "rwlock.tryWrite.all" -> {
          RwLock<Box> l = new RwLock<>(new Box());
          Gate timed = n -> close(l.tryWrite(d));
          Gate untimed = n -> close(l.write());
          yield lockShape(timed, untimed, kase.endsWith(".all"), nanos, limit);
        }
      case "rwlock.tryRead" -> { // readers retry tryRead; writers write() and park inside
          RwLock<Box> l = new RwLock<>(new Box());
          Gate timed = n -> close(l.tryRead(d));
          Gate untimed = n -> close(l.write());
          yield lockShape(timed, untimed, false, nanos, limit);
        }
      // ---- lock shape: JDK
      case "jdk.ReentrantLock.tryLock", "jdk.ReentrantLock.tryLock.all" -> {
          ReentrantLock l = new ReentrantLock();
          yield lockShape(timedLock(l, nanos), untimedLock(l), kase.endsWith(".all"), nanos, limit);
        }
      case "jdk.RRWL.write.tryLock", "jdk.RRWL.write.tryLock.all" -> {
          ReentrantReadWriteLock l = new ReentrantReadWriteLock();
          yield lockShape(
              timedLock(l.writeLock(), nanos),
              untimedLock(l.writeLock()),
              kase.endsWith(".all"),
              nanos,
              limit);
        }
      case "jdk.RRWL.read.tryLock" -> {
          ReentrantReadWriteLock l = new ReentrantReadWriteLock();
          yield lockShape(
              timedLock(l.readLock(), nanos), untimedLock(l.writeLock()), false, nanos, limit);
        }
      case "jdk.StampedLock.tryWriteLock", "jdk.StampedLock.tryWriteLock.all" -> {
          StampedLock l = new StampedLock();
          Gate timed =
              n -> {
                long s = l.tryWriteLock(nanos, TimeUnit.NANOSECONDS);
                return s == 0L ? null : () -> l.unlockWrite(s);
              };
          Gate untimed =
              n -> {
                long s = l.writeLock();
                return () -> l.unlockWrite(s);
              };
          yield lockShape(timed, untimed, kase.endsWith(".all"), nanos, limit);
        }
      // ---- signal shape: weft
      case "mutex.lockWhen.predicate" -> {
          Mutex<Box> m = new Mutex<>(new Box());
          yield signalShape(
              () -> m.update(b -> {
                b.avail++;
                return b;
              }),
              (n, stop) -> {
                Mutex.Guard<Box> g = m.lockWhen(b -> b.avail > 0, d);
                if (g == null) {
                  return false;
                }
                try {
                  g.get().avail--;
                } finally {
                  g.close();
                }
                return true;
              },
              nanos,
              limit);
        }
      case "condvar.awaitWhile.perTry" -> { // the guard is taken for each try
          Mutex<Box> m = new Mutex<>(new Box());
          Condvar cv = new Condvar();
          yield signalShape(
              () -> publish(m, cv),
              (n, stop) -> {
                try (Mutex.Guard<Box> g = m.lock()) {
                  if (cv.awaitWhile(g, b -> b.avail == 0, d)) {
                    g.get().avail--;
                    return true;
                  }
                  return false;
                }
              },
              nanos,
              limit);
        }
      case "condvar.awaitWhile.held" -> { // one guard across the retries
          Mutex<Box> m = new Mutex<>(new Box());
          Condvar cv = new Condvar();
          yield signalShape(
              () -> publish(m, cv),
              (n, stop) -> {
                try (Mutex.Guard<Box> g = m.lock()) {
                  while (!cv.awaitWhile(g, b -> b.avail == 0, d)) {
                    if (stop.get()) {
                      return false;
                    }
                  }
                  g.get().avail--;
                  return true;
                }
              },
              nanos,
              limit);
        }
      case "spinlock.condition.held" ->
          conditionHeld(new SpinLock(), nanos, limit);
      case "spinlock.condition.perTry" ->
          conditionPerTry(new SpinLock(), nanos, limit);
      case "ticketlock.condition.held" ->
          conditionHeld(new TicketLock(), nanos, limit);
      case "ticketlock.condition.perTry" ->
          conditionPerTry(new TicketLock(), nanos, limit);
      case "oncecell.await" -> {
          List<OnceCell<Integer>> cells = new ArrayList<>();
          for (int i = 0; i < CELLS; i++) {
            cells.add(new OnceCell<>());
          }
          yield broadcastShape(
              i -> cells.get(i).trySet(i), (i, n) -> cells.get(i).await(d), limit);
        }
      // ---- signal shape: JDK
      case "jdk.ReentrantLock.condition.held" ->
          conditionHeld(new ReentrantLock(), nanos, limit);
      case "jdk.ReentrantLock.condition.perTry" ->
          conditionPerTry(new ReentrantLock(), nanos, limit);
      case "jdk.CountDownLatch.await" -> {
          List<CountDownLatch> latches = new ArrayList<>();
          for (int i = 0; i < CELLS; i++) {
            latches.add(new CountDownLatch(1));
          }
          yield broadcastShape(
              i -> latches.get(i).countDown(),
              (i, n) -> latches.get(i).await(nanos, TimeUnit.NANOSECONDS),
              limit);
        }
      default -> throw new IllegalArgumentException(kase);
    };
  }

  static @Nullable Runnable close(@Nullable AutoCloseable g) {
    return g == null
        ? null
        : () -> {
          try {
            g.close();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        };
  }

  static Gate timedLock(Lock l, long nanos) {
    return n -> l.tryLock(nanos, TimeUnit.NANOSECONDS) ? l::unlock : null;
  }

  @SuppressWarnings("LockNotBeforeTry")
  static Gate untimedLock(Lock l) {
    return n -> {
      l.lock();
      return l::unlock;
    };
  }

  static void publish(Mutex<Box> m, Condvar cv) {
    try (Mutex.Guard<Box> g = m.lock()) {
      g.get().avail++;
      cv.notifyAllWaiters();
    }
  }

  /** The signal shape with {@code lock}'s Condition, the lock held across the retries. */
  static Outcome conditionHeld(Lock lock, long nanos, long limit) throws Exception {
    Condition c = lock.newCondition();
    Box box = new Box(); // guarded by lock
    return signalShape(
        () -> signal(lock, c, box),
        (n, stop) -> {
          lock.lock();
          try {
            while (box.avail == 0) {
              if (stop.get()) {
                return false;
              }
              c.await(nanos, TimeUnit.NANOSECONDS);
            }
            box.avail--;
            return true;
          } finally {
            lock.unlock();
          }
        },
        nanos,
        limit);
  }

  /** The signal shape with {@code lock}'s Condition, one await per lock hold. */
  @SuppressWarnings("WaitNotInLoop") // one await per try, on purpose: the caller retries
  static Outcome conditionPerTry(Lock lock, long nanos, long limit) throws Exception {
    Condition c = lock.newCondition();
    Box box = new Box(); // guarded by lock
    return signalShape(
        () -> signal(lock, c, box),
        (n, stop) -> {
          lock.lock();
          try {
            if (box.avail == 0) {
              c.await(nanos, TimeUnit.NANOSECONDS);
            }
            if (box.avail > 0) {
              box.avail--;
              return true;
            }
            return false;
          } finally {
            lock.unlock();
          }
        },
        nanos,
        limit);
  }

  static void signal(Lock lock, Condition c, Box box) {
    lock.lock();
    try {
      box.avail++;
      c.signalAll();
    } finally {
      lock.unlock();
    }
  }

  interface IntAction {
    void run(int i);
  }

  interface TimedAwait {
    boolean await(int i, long nanos) throws InterruptedException;
  }

  /**
   * One producer completes {@link #CELLS} one-shot events in order, parking 1 us before each;
   * {@code THREADS - 1} consumers wait for each event in turn in a timed retry loop.
   */
  static Outcome broadcastShape(IntAction complete, TimedAwait await, long limit)
      throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong seen = new AtomicLong();
    CountDownLatch finished = new CountDownLatch(THREADS - 1);
    List<Body> bodies = new ArrayList<>();
    bodies.add(
        () -> {
          for (int i = 0; i < CELLS && !stop.get(); i++) {
            LockSupport.parkNanos(1_000L);
            complete.run(i);
          }
        });
    for (int t = 1; t < THREADS; t++) {
      bodies.add(
          () -> {
            try {
              for (int i = 0; i < CELLS; i++) {
                while (!await.await(i, 0L)) {
                  if (stop.get()) {
                    return;
                  }
                }
                seen.incrementAndGet();
              }
            } finally {
              finished.countDown();
            }
          });
    }
    return runAll(bodies, finished, stop, seen, (long) (THREADS - 1) * CELLS, limit);
  }

  /** Every case, for {@link #main} with "all". */
  static final String[] CASES = {
    "mutex.tryLock", "mutex.tryLock.all", "mutex.lockWhen.contended",
    "mutex.lockWhen.contended.all", "mutex.lockWhen.predicate", "rwlock.tryWrite",
    "rwlock.tryWrite.all", "rwlock.tryRead", "condvar.awaitWhile.perTry",
    "condvar.awaitWhile.held", "spinlock.condition.held", "spinlock.condition.perTry",
    "ticketlock.condition.held", "ticketlock.condition.perTry", "oncecell.await",
    "jdk.ReentrantLock.tryLock", "jdk.ReentrantLock.tryLock.all", "jdk.RRWL.write.tryLock",
    "jdk.RRWL.write.tryLock.all", "jdk.RRWL.read.tryLock", "jdk.StampedLock.tryWriteLock",
    "jdk.StampedLock.tryWriteLock.all", "jdk.ReentrantLock.condition.held",
    "jdk.ReentrantLock.condition.perTry", "jdk.CountDownLatch.await",
  };

  /**
   * Repeats cases: {@code RUNS LIMIT_MS case:nanos...} ({@code all:nanos} for every case).
   *
   * @param args as above
   */
  public static void main(String[] args) throws Exception {
    int runs = Integer.parseInt(args[0]);
    long limit = Long.parseLong(args[1]);
    List<String> specs = new ArrayList<>();
    for (int i = 2; i < args.length; i++) {
      String a = args[i];
      if (a.startsWith("all:")) {
        for (String c : CASES) {
          specs.add(c + a.substring(3));
        }
      } else {
        specs.add(args[i]);
      }
    }
    System.out.println(
        "JDK " + Runtime.version() + ", carriers " + Integer.getInteger(
            "jdk.virtualThreadScheduler.parallelism", Runtime.getRuntime().availableProcessors()));
    for (String spec : specs) {
      int colon = spec.indexOf(':');
      String kase = spec.substring(0, colon);
      long nanos = Long.parseLong(spec.substring(colon + 1));
      int stalls = 0;
      StringBuilder times = new StringBuilder();
      for (int r = 0; r < runs; r++) {
        Outcome o = run(kase, nanos, limit);
        if (!o.finished()) {
          stalls++;
          times.append(" STALL(").append(o.done()).append('/').append(o.expected()).append(')');
        } else {
          times.append(' ').append(o.millis());
        }
      }
      System.out.printf(
          Locale.ROOT, "%-36s %6d ns: stalled %d of %d; ms:%s%n", kase, nanos, stalls, runs,
          times);
    }
  }

  // ------------------------------------------------------------------------------- tests

  static void check(String kase, long nanos) throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    Outcome o = run(kase, nanos, LIMIT_MILLIS);
    assertThat(o.finished()).as("%s, %d ns: %s", kase, nanos, o).isTrue();
    assertThat(o.done()).as("%s, %d ns", kase, nanos).isEqualTo(o.expected());
  }

  /*
   * Measured on JDK 25.0.3, 2 vCPUs (2 carriers), src/main as of session 20 with the
   * SpinLock/TicketLock/SeqLock fix in the working tree; "k of n" = runs that did not finish
   * within the limit (5-15 s), with the operations done by then.
   */

  /**
   * Holds: every weft timed wait at 1 us (8 of 8 runs finished each, 13-507 ms; 10 more runs of
   * the lockWhen/Condvar/SpinLock-Condition cases, see the report), where the wait still has time
   * left when it gets to its park.
   */
  @ParameterizedTest(name = "{0}, {1} ns")
  @CsvSource({
    "mutex.tryLock,1000", "mutex.tryLock.all,1000", "mutex.lockWhen.contended,1000",
    "mutex.lockWhen.contended.all,1000", "mutex.lockWhen.predicate,1000", "rwlock.tryWrite,1000",
    "rwlock.tryWrite.all,1000", "rwlock.tryRead,1000", "condvar.awaitWhile.perTry,1000",
    "condvar.awaitWhile.held,1000", "spinlock.condition.held,1000",
    "spinlock.condition.perTry,1000", "ticketlock.condition.held,1000",
    "ticketlock.condition.perTry,1000", "oncecell.await,1000"
  })
  void timedRetryLoopsFinish(String kase, long nanos) throws Exception {
    check(kase, nanos);
  }

  /**
   * The JDK's counterparts where they hold: at 1 us every one (8 of 8 runs, 14-970 ms), and
   * ReentrantLock's Condition.await(1 ns) with one await per hold (8 of 8, 48-1,643 ms), which
   * re-takes the lock through the queue. (With the lock held across the retries it finished 7
   * of 8, 80-1,891 ms; one run did not finish in 5 s, 870 of 2,000: not run here.)
   */
  @ParameterizedTest(name = "{0}, {1} ns")
  @CsvSource({
    "jdk.ReentrantLock.tryLock,1000", "jdk.ReentrantLock.tryLock.all,1000",
    "jdk.RRWL.write.tryLock,1000", "jdk.RRWL.write.tryLock.all,1000",
    "jdk.RRWL.read.tryLock,1000", "jdk.StampedLock.tryWriteLock,1000",
    "jdk.StampedLock.tryWriteLock.all,1000", "jdk.ReentrantLock.condition.held,1000",
    "jdk.ReentrantLock.condition.perTry,1000", "jdk.CountDownLatch.await,1000",
    "jdk.ReentrantLock.condition.perTry,1"
  })
  void jdkReferenceFinishes(String kase, long nanos) throws Exception {
    check(kase, nanos);
  }

  /**
   * The reference for "better than the JDK": the JDK stalls at 1 ns, where weft's waits now
   * finish (the fixed_ tests below). Its timeout runs out before it gets to its park (AQS
   * acquire breaks out instead of parking when no time is left), so a 1 ns retry loop never
   * unmounts. Lock shape: 1 of 1 each at 5 s, 16-112 of 19,200 sections; CountDownLatch 6 of
   * 12,600; ReentrantLock.tryLock 5 of 5 more at 10 s (results/2026-12-06-...-vt-timed-retry).
   * Asserted as a stall within a 2 s limit, for two of the six measured cases: should a later
   * JDK park (or yield) there, this fails, and the docs' comparison has to be rewritten.
   * (Before session 20's honesty pass this was a disabled test that ran nothing.) The
   * CountDownLatch case was asserted too until it did not stall in a full local CI run on JDK
   * 25 (session 22: 12,600 of 12,600 in 8 ms): its stall depends on the schedule, so it is
   * measured and reported, not asserted.
   */
  @ParameterizedTest(name = "{0}, {1} ns")
  @CsvSource({"jdk.ReentrantLock.tryLock,1", "jdk.StampedLock.tryWriteLock,1"})
  void jdkReferenceStallsAtOneNanosecond(String kase, long nanos) throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    Outcome o = run(kase, nanos, 2_000L);
    assertThat(o.finished()).as("the JDK's %s at %d ns: %s", kase, nanos, o).isFalse();
    assertThat(o.done()).as("%s, %d ns", kase, nanos).isLessThan(o.expected());
  }

  /**
   * Mutex.tryLock(Duration), Mutex.lockWhen(ready, Duration) on a held lock, RwLock.tryWrite
   * and RwLock.tryRead at 1 ns: after one CAS they go to the AQS's timed acquire
   * (Mutex.java:930, RwLock.java:513 and 565), which does not park when no time is left
   * (as the JDK's own locks, above), and nothing in weft parks instead: every run stalls at the
   * first section that parked (16-32 of 19,200 sections).
   *
   * <p>Fixed in session 20 (SpinBackoff.unmountBeforeTimeout and unmountIfVirtual): every
   * case stalled as above on the code before the fix; 0 of 3 runs of each stalled after it
   * (JDK 25, 2 carriers, 10 s limit: 13-339 ms).
   */
  @ParameterizedTest(name = "{0}, {1} ns")
  @CsvSource({
    "mutex.tryLock,1", "mutex.tryLock.all,1", "mutex.lockWhen.contended,1",
    "mutex.lockWhen.contended.all,1", "rwlock.tryWrite,1", "rwlock.tryWrite.all,1",
    "rwlock.tryRead,1"
  })
  void fixed_aqsBackedTimedAcquisitionAtOneNanosecond(String kase, long nanos)
      throws Exception {
    check(kase, nanos);
  }

  /**
   * Mutex.lockWhen(ready, timeout) on a free lock whose predicate is false: a virtual thread has
   * no spin phase (window 0), so the wait loop's first deadline check (Mutex.java:1370) returns
   * false, holding the lock, before the thread has queued or parked; the caller releases it and
   * retries on the same carrier. Worse than the JDK's Condition (which holds at 300 ns): the
   * first acquisition, the predicate, the stack probe and the JFR check run before that check.
   *
   * <p>Fixed in session 20 (SpinBackoff.unmountBeforeTimeout and unmountIfVirtual): every
   * case stalled as above on the code before the fix; 0 of 3 runs of each stalled after it
   * (JDK 25, 2 carriers, 10 s limit: 13-339 ms).
   */
  @ParameterizedTest(name = "{0}, {1} ns")
  @CsvSource({"mutex.lockWhen.predicate,1", "mutex.lockWhen.predicate,300"})
  void fixed_mutexLockWhenPredicateFailsWithoutParking(String kase, long nanos)
      throws Exception {
    check(kase, nanos);
  }

  /**
   * Condvar.awaitWhile(guard, blocked, timeout) on a virtual thread: no spin phase (window 0,
   * so spinUntilReleased does not even release the mutex), and when the time is used up before
   * the park (Condvar.java:345/355-356) it returns false without releasing the mutex or
   * unmounting. A caller that keeps its guard across the retries then keeps the mutex for good:
   * the producer cannot publish even with a carrier (0 of 2,000 items in every run). With a
   * guard per try it is slow and erratic (0 of 7 stalled at 10-15 s, 676-9,470 ms; 1 of 1 over
   * 5 s in a first pass, 1,081 of 2,000).
   *
   * <p>Fixed in session 20 (SpinBackoff.unmountBeforeTimeout and unmountIfVirtual): every
   * case stalled as above on the code before the fix; 0 of 3 runs of each stalled after it
   * (JDK 25, 2 carriers, 10 s limit: 13-339 ms).
   */
  @ParameterizedTest(name = "{0}, {1} ns")
  @CsvSource({"condvar.awaitWhile.held,1", "condvar.awaitWhile.perTry,1"})
  void fixed_condvarAwaitWhileFailsWithoutReleasing(String kase, long nanos) throws Exception {
    check(kase, nanos);
  }

  /**
   * SpinLock.newCondition().await(t, unit) (and awaitNanos, awaitUntil: the same
   * parkForSignal): when the time is gone after the stack probe, queueing and unlock, the wait
   * loop breaks without parking (SpinLockCondition.java:139-141) and re-takes the lock with
   * lock(), which a virtual thread gets without parking whenever it is free. The JDK's Condition
   * holds at 300 ns and mostly at 1 ns in the same shape (above). TicketLock's Condition (the
   * same class over a lock whose lock() parks in its FIFO queue more often) is erratic rather
   * than dead at 1 ns: 1 of 8 runs per shape did not finish in 5 s (928-934 of 2,000), the others
   * took 111-3,134 ms.
   *
   * <p>Fixed in session 20 (SpinBackoff.unmountBeforeTimeout and unmountIfVirtual): every
   * case stalled as above on the code before the fix; 0 of 3 runs of each stalled after it
   * (JDK 25, 2 carriers, 10 s limit: 13-339 ms).
   */
  @ParameterizedTest(name = "{0}, {1} ns")
  @CsvSource({
    "spinlock.condition.held,1", "spinlock.condition.held,300", "spinlock.condition.perTry,1",
    "ticketlock.condition.held,1", "ticketlock.condition.perTry,1"
  })
  void fixed_spinLockConditionAwaitFailsWithoutParking(String kase, long nanos)
      throws Exception {
    check(kase, nanos);
  }

  /**
   * OnceCell.await(Duration) at 1 ns: the deadline check before the four spins
   * (OnceCellCore.java:446-448) returns null before the waiter has pushed a node or parked, so
   * retrying callers never unmount and the setter, back from its 1 us park, never runs again.
   * CountDownLatch.await(1 ns) stalls the same way (above), but at 100 ns CountDownLatch holds
   * (10 of 10 finished, 12-330 ms) and OnceCell does not.
   *
   * <p>Fixed in session 20 (SpinBackoff.unmountBeforeTimeout and unmountIfVirtual): every
   * case stalled as above on the code before the fix; 0 of 3 runs of each stalled after it
   * (JDK 25, 2 carriers, 10 s limit: 13-339 ms).
   */
  @ParameterizedTest(name = "{0}, {1} ns")
  @CsvSource({"oncecell.await,1", "oncecell.await,100"})
  void fixed_onceCellAwaitFailsWithoutParking(String kase, long nanos) throws Exception {
    check(kase, nanos);
  }
}
