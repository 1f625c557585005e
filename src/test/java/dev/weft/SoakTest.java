package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.Method;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Lock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Soak: hammers every primitive with more threads than cores (8 platform threads, and on JDK 21+
 * also 64 virtual threads) for a bounded time and checks invariants that fail if the primitive
 * is wrong: exact counts, no torn reads, single initialisation, no lost wake-ups, every failure
 * reported, parallel results equal to sequential ones.
 *
 * <p>System property {@code weft.soak.seconds} is the <em>total</em> budget of the class
 * (default 12): it is split evenly over the 12 primitives, and within a primitive over the
 * thread kinds (platform, and virtual on JDK 21+). The nightly job runs it with
 * {@code -Dweft.soak.seconds=60}, about a minute in all (5 s per primitive).
 *
 * <p>Bounding: {@code @Timeout} needs a compile-time constant, so every test carries a generous
 * backstop ({@link #BACKSTOP_MINUTES}), and the harness enforces the scaled bound itself: every
 * phase must finish within its duration plus {@link #GRACE_SECONDS}, otherwise the test fails
 * with the stacks of the stuck threads (which are then interrupted and joined).
 *
 * <p>After the class, one line per primitive with the operations performed is printed
 * ({@code soak ops <primitive> ...}).
 */
final class SoakTest {
  /** Backstop for {@code @Timeout}: far above any configured budget; the harness is stricter. */
  private static final long BACKSTOP_MINUTES = 30;

  private static final int PRIMITIVES = 12;
  private static final long GRACE_SECONDS = 20;
  private static final int PLATFORM_THREADS = 8;
  private static final int VIRTUAL_THREADS = 64;
  private static final boolean HAS_VIRTUAL = Runtime.version().feature() >= 21;
  private static final double TOTAL_SECONDS =
      Double.parseDouble(System.getProperty("weft.soak.seconds", "12"));
  private static final long PHASE_NANOS =
      (long) (TOTAL_SECONDS * 1e9 / PRIMITIVES / (HAS_VIRTUAL ? 2 : 1));

  /** primitive -> summary parts, printed after the class. */
  private static final Map<String, List<String>> SUMMARY = new ConcurrentSkipListMap<>();

  private enum Kind {
    PLATFORM("p", PLATFORM_THREADS),
    VIRTUAL("v", VIRTUAL_THREADS);

    final String tag;
    final int threads;

    Kind(String tag, int threads) {
      this.tag = tag;
      this.threads = threads;
    }
  }

  /** The end of a phase, and an abort flag set when a worker fails. */
  private static final class Phase {
    final boolean virtual;
    long deadline; // set before the start latch opens, which publishes it
    volatile boolean aborted;

    Phase(boolean virtual) {
      this.virtual = virtual;
    }

    // Virtual threads are not preempted: 64 of them busy-looping on 2 carriers would starve the
    // one writer that is not scheduled yet. A cooperative yield now and then keeps it fair.
    @SuppressWarnings("ThreadPriorityCheck")
    boolean running() {
      if (virtual && ThreadLocalRandom.current().nextInt(32) == 0) {
        Thread.yield();
      }
      return !aborted && System.nanoTime() - deadline < 0;
    }
  }

  /** One soak worker: runs until {@code phase.running()} is false, returns its operations. */
  @FunctionalInterface
  private interface Worker {
    long work(int id, Phase phase) throws Exception;
  }

  private static List<Kind> kinds() {
    return HAS_VIRTUAL ? List.of(Kind.PLATFORM, Kind.VIRTUAL) : List.of(Kind.PLATFORM);
  }

  private static ThreadFactory factory(Kind kind, String prefix) {
    if (kind == Kind.PLATFORM) {
      AtomicInteger n = new AtomicInteger();
      return r -> new Thread(r, prefix + n.getAndIncrement());
    }
    try { // Thread.ofVirtual().name(prefix, 0).factory(), by reflection: we compile for 17
      Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
      Class<?> api = Class.forName("java.lang.Thread$Builder");
      Method name = api.getMethod("name", String.class, long.class);
      builder = name.invoke(builder, prefix, 0L);
      return (ThreadFactory) api.getMethod("factory").invoke(builder);
    } catch (ReflectiveOperationException e) {
      throw new LinkageError("virtual threads unavailable on JDK " + Runtime.version(), e);
    }
  }

  /**
   * Runs {@code kind.threads} workers for one phase; fails with a clear report if a worker
   * throws or if a worker is still running {@link #GRACE_SECONDS} after the phase.
   */
  private static long run(String primitive, Kind kind, Worker worker) throws InterruptedException {
    String what = primitive + " [" + kind.threads + " " + kind.name().toLowerCase(java.util.Locale.ROOT) + " threads]";
    ThreadFactory tf = factory(kind, "test-soak-" + primitive + "-" + kind.tag + "-");
    Phase phase = new Phase(kind == Kind.VIRTUAL);
    CountDownLatch start = new CountDownLatch(1);
    LongAdder ops = new LongAdder();
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < kind.threads; i++) {
      int id = i;
      Thread t = tf.newThread(() -> {
        try {
          start.await();
          ops.add(worker.work(id, phase));
        } catch (Throwable e) { // report everything, including assertion errors
          failures.add(e);
          phase.aborted = true;
        }
      });
      threads.add(t);
      t.start();
    }
    phase.deadline = System.nanoTime() + PHASE_NANOS; // the clock starts once all are started
    start.countDown();
    long joinDeadline = phase.deadline + TimeUnit.SECONDS.toNanos(GRACE_SECONDS);
    for (Thread t : threads) {
      long left = joinDeadline - System.nanoTime();
      if (left > 0) {
        TimeUnit.NANOSECONDS.timedJoin(t, left);
      }
    }
    StringBuilder stuck = new StringBuilder();
    for (Thread t : threads) {
      if (t.isAlive()) {
        stuck.append("\n  ").append(t.getName()).append(" state=").append(t.getState());
        for (StackTraceElement e : t.getStackTrace()) {
          stuck.append("\n      at ").append(e);
        }
      }
    }
    if (stuck.length() > 0) {
      for (Thread t : threads) {
        t.interrupt();
      }
      for (Thread t : threads) {
        t.join(TimeUnit.SECONDS.toMillis(GRACE_SECONDS));
      }
      throw new AssertionError("soak " + what + ": HANG, threads still running " + GRACE_SECONDS
          + " s after the phase ended (" + ops.sum() + " ops done):" + stuck);
    }
    if (!failures.isEmpty()) {
      // Report the root failure first: a broken barrier is only a consequence.
      Throwable first = failures.stream()
          .filter(e -> !(e instanceof BrokenBarrierException))
          .findFirst()
          .orElse(failures.peek());
      AssertionError report = new AssertionError("soak " + what + ": " + failures.size()
          + " worker(s) failed after " + ops.sum() + " ops; first: " + first, first);
      for (Throwable e : failures) {
        if (e != first) {
          report.addSuppressed(e);
        }
      }
      throw report;
    }
    return ops.sum();
  }

  private static void record(String primitive, Kind kind, long ops, String detail) {
    SUMMARY.computeIfAbsent(primitive, k -> new ArrayList<>())
        .add(kind.name().toLowerCase(java.util.Locale.ROOT) + "(" + kind.threads + ")=" + ops
            + (detail.isEmpty() ? "" : " " + detail));
  }

  @AfterAll
  static void printSummary() {
    for (Map.Entry<String, List<String>> e : SUMMARY.entrySet()) {
      long total = 0;
      for (String part : e.getValue()) {
        String n = part.substring(part.indexOf('=') + 1).split(" ", 2)[0];
        total += Long.parseLong(n);
      }
      System.out.printf("soak ops %-11s total=%d %s (budget %.1f s, %s)%n",
          e.getKey(), total, String.join(" ", e.getValue()), TOTAL_SECONDS,
          "JDK " + Runtime.version().feature());
    }
  }

  private static void fail(String primitive, String invariant) {
    throw new AssertionError("soak " + primitive + ": invariant broken: " + invariant);
  }

  // ------------------------------------------------------------------ locks: exact counts

  /** Protected state: a counter and a holders count that detects two threads inside. */
  private static final class Counter {
    long count;
    int holders;

    void increment(String primitive) {
      if (holders != 0) {
        fail(primitive, "mutual exclusion: entered while " + holders + " other holder(s) inside");
      }
      holders = 1;
      count++;
      holders = 0;
    }
  }

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  @SuppressWarnings("try")
  void mutexCountsExactly() throws Exception {
    for (Kind kind : kinds()) {
      Mutex<Counter> m = new Mutex<>(new Counter());
      long ops = run("Mutex", kind, (id, phase) -> {
        long done = 0;
        for (int i = 0; phase.running(); i++) {
          switch (i & 3) {
            case 0 -> {
              try (Mutex.Guard<Counter> g = m.lock()) {
                g.get().increment("Mutex");
              }
            }
            case 1 -> m.with(c -> {
              c.increment("Mutex");
              return null;
            });
            case 2 -> {
              Mutex.Guard<Counter> g = m.tryLock(Duration.ofSeconds(GRACE_SECONDS));
              if (g == null) {
                fail("Mutex", "tryLock(" + GRACE_SECONDS + " s) timed out under load");
                continue;
              }
              try (g) {
                g.get().increment("Mutex");
              }
            }
            default -> {
              Mutex.Guard<Counter> g = m.tryLock();
              if (g == null) {
                continue; // busy: not counted
              }
              try (g) {
                g.get().increment("Mutex");
              }
            }
          }
          done++;
        }
        return done;
      });
      long count = m.with(c -> c.count);
      assertThat(count).as("soak Mutex [%s]: counter vs increments performed", kind)
          .isEqualTo(ops);
      assertThat(m.isLocked()).as("soak Mutex [%s]: unlocked at the end", kind).isFalse();
      record("Mutex", kind, ops, "");
    }
  }

  /** A pair a writer keeps equal: readers must never see them differ. */
  private static final class Pair {
    long a;
    long b;
  }

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  void rwLockCountsExactlyAndReadsAreConsistent() throws Exception {
    for (Kind kind : kinds()) {
      RwLock<Pair> rw = new RwLock<>(new Pair());
      LongAdder writes = new LongAdder();
      long ops = run("RwLock", kind, (id, phase) -> {
        long done = 0;
        for (int i = 0; phase.running(); i++, done++) {
          if (id % 4 == 0) { // writers
            if ((i & 1) == 0) {
              try (RwLock.WriteGuard<Pair> g = rw.write()) {
                Pair p = g.get();
                p.a++;
                if (rw.readLockCount() != 0) {
                  fail("RwLock", "write lock held while readLockCount=" + rw.readLockCount());
                }
                p.b++;
              }
            } else {
              rw.withWrite(p -> {
                p.a++;
                p.b++;
                return null;
              });
            }
            writes.increment();
          } else {
            long diff;
            if ((i & 1) == 0) {
              try (RwLock.ReadGuard<Pair> g = rw.read()) {
                diff = g.get().a - g.get().b;
              }
            } else {
              diff = rw.withRead(p -> p.a - p.b);
            }
            if (diff != 0) {
              fail("RwLock", "reader saw a half-done write: a - b = " + diff);
            }
          }
        }
        return done;
      });
      long a = rw.withRead(p -> p.a);
      long b = rw.withRead(p -> p.b);
      assertThat(a).as("soak RwLock [%s]: counter vs writes performed", kind)
          .isEqualTo(writes.sum());
      assertThat(b).as("soak RwLock [%s]: second counter", kind).isEqualTo(writes.sum());
      assertThat(writes.sum()).as("soak RwLock [%s]: writer starved: no write in %d ops", kind, ops)
          .isPositive();
      assertThat(ops - writes.sum()).as("soak RwLock [%s]: readers starved", kind).isPositive();
      record("RwLock", kind, ops, "writes=" + writes.sum());
    }
  }

  /** Opens a guard of a {@code java.util.concurrent.locks.Lock} implementation. */
  @FunctionalInterface
  private interface GuardOpener {
    AutoCloseable open();
  }

  @SuppressWarnings("try")
  private static void soakLock(String name, Lock lock, GuardOpener acquire) throws Exception {
    for (Kind kind : kinds()) {
      Counter c = new Counter(); // guarded by lock
      long ops = run(name, kind, (id, phase) -> {
        long done = 0;
        for (int i = 0; phase.running(); i++) {
          switch (i & 3) {
            case 0 -> {
              lock.lock();
              try {
                c.increment(name);
              } finally {
                lock.unlock();
              }
            }
            case 1 -> {
              try (AutoCloseable g = acquire.open()) {
                c.increment(name);
              }
            }
            case 2 -> {
              boolean locked = lock.tryLock(GRACE_SECONDS, TimeUnit.SECONDS);
              if (!locked) {
                fail(name, "tryLock(" + GRACE_SECONDS + " s) timed out under load");
                continue;
              }
              try {
                c.increment(name);
              } finally {
                lock.unlock();
              }
            }
            default -> {
              if (!lock.tryLock()) {
                continue; // busy: not counted
              }
              try {
                c.increment(name);
              } finally {
                lock.unlock();
              }
            }
          }
          done++;
        }
        return done;
      });
      long count;
      lock.lock();
      try {
        count = c.count;
      } finally {
        lock.unlock();
      }
      assertThat(count).as("soak %s [%s]: counter vs increments performed", name, kind)
          .isEqualTo(ops);
      record(name, kind, ops, "");
    }
  }

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  void spinLockCountsExactly() throws Exception {
    SpinLock lock = new SpinLock();
    soakLock("SpinLock", lock, lock::acquire);
    assertThat(lock.isLocked()).isFalse();
  }

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  void ticketLockCountsExactly() throws Exception {
    TicketLock lock = new TicketLock();
    soakLock("TicketLock", lock, lock::acquire);
    assertThat(lock.isLocked()).isFalse();
    assertThat(lock.hasQueuedThreads()).isFalse();
  }

  /** Negative control: the same soak on a lock that excludes nobody must fail, and say why. */
  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  void negativeControlBrokenLockIsCaught() {
    Lock broken = new java.util.concurrent.locks.ReentrantLock() {
      private static final long serialVersionUID = 1L;

      @Override
      public void lock() {}

      @Override
      public boolean tryLock() {
        return true;
      }

      @Override
      public boolean tryLock(long time, TimeUnit unit) {
        return true;
      }

      @Override
      public void unlock() {}
    };
    // A race has to happen to be caught, and on a loaded machine one soak phase may see the
    // threads take turns on one CPU and lose no update (a JDK 25 run beside another build:
    // "Expecting code to raise a throwable"). So the control gets up to 8 phases: the checks
    // must catch the broken lock in one of them, and a working lock passes every phase.
    Throwable caught = null;
    for (int attempt = 0; attempt < 8 && caught == null; attempt++) {
      try {
        soakLock("BrokenLock", broken, () -> () -> { });
      } catch (AssertionError e) {
        caught = e;
      } catch (Exception e) {
        throw new AssertionError("the negative control failed in an unexpected way", e);
      }
    }
    assertThat(caught)
        .as("the soak never caught a lock without mutual exclusion in 8 phases")
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("BrokenLock");
    assertThat(String.valueOf(caught.getMessage()) + caught.getCause())
        .containsAnyOf("mutual exclusion", "counter vs increments");
  }

  // ------------------------------------------------------------------ seqlocks: no torn reads

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  void seqLockNeverTears() throws Exception {
    for (Kind kind : kinds()) {
      SeqLock lock = new SeqLock();
      Pair p = new Pair(); // written under lock, read optimistically
      LongAdder writes = new LongAdder();
      long ops = run("SeqLock", kind, (id, phase) -> {
        long done = 0;
        for (int i = 0; phase.running(); i++, done++) {
          // Every thread writes now and then (the write lock serialises them): fixed writer
          // threads starve among 64 busy virtual threads, which are not preempted.
          if ((i & 7) == 0) {
            SeqLock.WriteGuard g = (i & 8) == 0
                ? lock.write() : lock.tryWrite(Duration.ofSeconds(GRACE_SECONDS));
            if (g == null) {
              fail("SeqLock", "tryWrite(" + GRACE_SECONDS + " s) timed out under load");
              continue;
            }
            try (g) {
              long k = p.a + 1;
              p.a = k;
              p.b = k;
            }
            writes.increment();
          } else {
            long diff;
            switch (i % 3) {
              case 0 -> diff = lock.readLong(() -> p.a - p.b);
              case 1 -> diff = lock.readLong(p, q -> q.a - q.b);
              default -> {
                long s;
                long a;
                long b;
                do {
                  s = lock.beginRead();
                  a = p.a;
                  b = p.b;
                } while (!lock.validate(s));
                diff = a - b;
              }
            }
            if (diff != 0) {
              fail("SeqLock", "torn read: a - b = " + diff);
            }
          }
        }
        return done;
      });
      long a = lock.readLong(() -> p.a);
      assertThat(a).as("soak SeqLock [%s]: value vs writes performed", kind)
          .isEqualTo(writes.sum());
      assertThat(lock.isWriteLocked()).isFalse();
      assertThat(writes.sum()).as("soak SeqLock [%s]: writer starved: no write in %d ops", kind, ops)
          .isPositive();
      assertThat(ops - writes.sum()).as("soak SeqLock [%s]: readers starved", kind).isPositive();
      record("SeqLock", kind, ops, "writes=" + writes.sum());
    }
  }

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  @SuppressWarnings("try") // the write guard only brackets the write
  void seqCountNeverTears() throws Exception {
    for (Kind kind : kinds()) {
      SeqCount count = new SeqCount();
      AtomicBoolean writerToken = new AtomicBoolean();
      Pair p = new Pair(); // written by the token holder, read optimistically
      LongAdder writes = new LongAdder();
      long ops = run("SeqCount", kind, (id, phase) -> {
        long done = 0;
        for (; phase.running(); done++) {
          // One writer at a time, but not always the same thread: whoever takes the token
          // writes (the token's CAS and release order one writer after the previous one). A
          // fixed writer thread starves among 64 busy virtual threads, which are not preempted.
          if ((done & 7) == 0 && writerToken.compareAndSet(false, true)) {
            try (SeqCount.WriteGuard g = count.write()) {
              long k = p.a + 1;
              p.a = k;
              p.b = k;
              if (!count.isWriting()) {
                fail("SeqCount", "isWriting() false inside a write");
              }
            } finally {
              writerToken.set(false);
            }
            writes.increment();
          } else {
            long diff = (done & 1) == 0
                ? count.readLong(() -> p.a - p.b) : count.readLong(p, q -> q.a - q.b);
            if (diff != 0) {
              fail("SeqCount", "torn read: a - b = " + diff);
            }
          }
        }
        return done;
      });
      assertThat(count.readLong(() -> p.a)).as("soak SeqCount [%s]: value vs writes", kind)
          .isEqualTo(writes.sum());
      assertThat(writes.sum()).as("soak SeqCount [%s]: writer starved: no write in %d ops", kind, ops)
          .isPositive();
      assertThat(ops - writes.sum()).as("soak SeqCount [%s]: readers starved", kind).isPositive();
      record("SeqCount", kind, ops, "writes=" + writes.sum());
    }
  }

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  void seqLockedNeverTears() throws Exception {
    for (Kind kind : kinds()) {
      SeqLocked<long[]> cell = new SeqLocked<>(new long[2]);
      LongAdder writes = new LongAdder();
      long ops = run("SeqLocked", kind, (id, phase) -> {
        long done = 0;
        for (; phase.running(); done++) {
          if ((done & 7) == 0) { // every thread writes now and then (see seqLockNeverTears)
            cell.write(v -> {
              long k = v[0] + 1;
              v[0] = k;
              v[1] = k;
            });
            writes.increment();
          } else {
            long diff = (done & 1) == 0
                ? cell.readLong(v -> v[0] - v[1]) : cell.read(v -> v[0] - v[1]);
            if (diff != 0) {
              fail("SeqLocked", "torn read: v[0] - v[1] = " + diff);
            }
          }
        }
        return done;
      });
      assertThat(cell.readLong(v -> v[0])).as("soak SeqLocked [%s]: value vs writes", kind)
          .isEqualTo(writes.sum());
      assertThat(writes.sum()).as("soak SeqLocked [%s]: writer starved: no write in %d ops", kind, ops)
          .isPositive();
      assertThat(ops - writes.sum()).as("soak SeqLocked [%s]: readers starved", kind).isPositive();
      record("SeqLocked", kind, ops, "writes=" + writes.sum());
    }
  }

  // ------------------------------------------------------------------ single initialisation

  /**
   * Rounds of a race: at each barrier the action checks the previous round and sets up a fresh
   * instance; then every worker hits it at once.
   */
  private abstract static class Rounds {
    final CyclicBarrier barrier;
    final Object[] results;
    final Phase[] phase = new Phase[1];
    volatile boolean stop;
    long rounds = -1;

    Rounds(int parties) {
      results = new Object[parties];
      barrier = new CyclicBarrier(parties, this::between);
    }

    private void between() {
      if (rounds >= 0) {
        Object first = results[0];
        for (int i = 0; i < results.length; i++) {
          if (results[i] != first) {
            fail(name(), "round " + rounds + ": worker " + i + " saw another value than worker 0 ("
                + results[i] + " vs " + first + ")");
          }
        }
        check();
      }
      rounds++;
      java.util.Arrays.fill(results, null);
      Phase ph = phase[0];
      if (ph == null || (rounds > 0 && !ph.running())) { // at least one round
        stop = true;
      } else {
        fresh();
      }
    }

    abstract String name();

    abstract void check();

    abstract void fresh();

    abstract @Nullable Object hit(int id) throws Exception;

    long work(int id, Phase p) throws Exception {
      phase[0] = p;
      long done = 0;
      while (true) {
        barrier.await(PHASE_NANOS + TimeUnit.SECONDS.toNanos(GRACE_SECONDS), TimeUnit.NANOSECONDS);
        if (stop) {
          return done;
        }
        results[id] = hit(id);
        done++;
      }
    }
  }

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  void lazyInitialisesOnce() throws Exception {
    for (Kind kind : kinds()) {
      AtomicInteger calls = new AtomicInteger();
      AtomicReference<Lazy<Object>> current = new AtomicReference<>();
      Rounds rounds = new Rounds(kind.threads) {
        @Override
        String name() {
          return "Lazy";
        }

        @Override
        void check() {
          if (calls.get() != 1) {
            fail("Lazy", "round " + rounds + ": supplier ran " + calls.get() + " times");
          }
        }

        @Override
        void fresh() {
          calls.set(0);
          current.set(Lazy.of(() -> {
            calls.incrementAndGet();
            return new Object();
          }));
        }

        @Override
        Object hit(int id) {
          return current.get().get();
        }
      };
      long ops = run("Lazy", kind, rounds::work);
      assertThat(rounds.rounds).as("soak Lazy [%s]: rounds", kind).isPositive();
      record("Lazy", kind, ops, "instances=" + rounds.rounds);
    }
  }

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  void onceCellInitialisesOnce() throws Exception {
    for (Kind kind : kinds()) {
      AtomicInteger inits = new AtomicInteger();
      AtomicInteger setWins = new AtomicInteger();
      AtomicReference<@Nullable Object> setValue = new AtomicReference<>();
      AtomicReference<OnceCell<Object>> current = new AtomicReference<>();
      Rounds rounds = new Rounds(kind.threads) {
        @Override
        String name() {
          return "OnceCell";
        }

        @Override
        void check() {
          Object v = current.get().orElseThrow();
          if (inits.get() > 1 || setWins.get() > 1) {
            fail("OnceCell", "round " + rounds + ": initialiser ran " + inits.get()
                + " times, trySet won " + setWins.get() + " times");
          }
          if (setWins.get() == 1 ? v != setValue.get() : inits.get() != 1) {
            fail("OnceCell", "round " + rounds + ": value " + v + " from neither the one winning"
                + " trySet (" + setWins.get() + ") nor the one initialiser (" + inits.get() + ")");
          }
        }

        @Override
        void fresh() {
          inits.set(0);
          setWins.set(0);
          setValue.set(null);
          current.set(new OnceCell<>());
        }

        @Override
        Object hit(int id) throws Exception {
          OnceCell<Object> cell = current.get();
          switch (id % 4) {
            case 1 -> {
              Object mine = new Object();
              if (cell.trySet(mine)) {
                setValue.set(mine);
                setWins.incrementAndGet();
              }
              return cell.orElseThrow();
            }
            case 2 -> {
              if (!cell.await(Duration.ofSeconds(GRACE_SECONDS))) {
                fail("OnceCell", "await timed out although worker 0 initialises");
              }
              return cell.orElseThrow();
            }
            default -> {
              return cell.getOrInit(() -> {
                inits.incrementAndGet();
                return new Object();
              });
            }
          }
        }
      };
      long ops = run("OnceCell", kind, rounds::work);
      assertThat(rounds.rounds).as("soak OnceCell [%s]: rounds", kind).isPositive();
      record("OnceCell", kind, ops, "instances=" + rounds.rounds);
    }
  }

  // ------------------------------------------------------------------ no lost wake-ups

  /** A bounded buffer protected by a Mutex. */
  private static final class Buffer {
    final ArrayDeque<Long> queue = new ArrayDeque<>();
    int producersLeft;
  }

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  void condvarAndAwaitThenLoseNoWakeups() throws Exception {
    final int capacity = 4;
    for (Kind kind : kinds()) {
      int producers = kind.threads / 2;
      Buffer buf = new Buffer();
      buf.producersLeft = producers;
      Mutex<Buffer> m = new Mutex<>(buf);
      Condvar notEmpty = new Condvar();
      Condvar notFull = new Condvar();
      LongAdder produced = new LongAdder();
      LongAdder producedSum = new LongAdder();
      LongAdder consumed = new LongAdder();
      LongAdder consumedSum = new LongAdder();
      long ops = run("Condvar", kind, (id, phase) -> {
        long done = 0;
        if (id < producers) {
          for (long seq = 0; phase.running(); seq++, done++) {
            long value = id * 1_000_000_000L + seq;
            try (Mutex.Guard<Buffer> g = m.lock()) {
              notFull.awaitWhile(g, b -> b.queue.size() >= capacity);
              g.get().queue.add(value);
            }
            notEmpty.notifyOne();
            produced.increment();
            producedSum.add(value);
          }
          try (Mutex.Guard<Buffer> g = m.lock()) {
            g.get().producersLeft--;
          }
          notEmpty.notifyAllWaiters();
          return done;
        }
        while (true) {
          Long v;
          if (id % 2 == 0) {
            try (Mutex.Guard<Buffer> g = m.lock()) {
              notEmpty.awaitWhile(g, b -> b.queue.isEmpty() && b.producersLeft > 0);
              v = g.get().queue.poll();
            }
          } else {
            v = m.awaitThen(b -> !b.queue.isEmpty() || b.producersLeft == 0, b -> b.queue.poll());
          }
          if (v == null) {
            return done; // empty and no producer left
          }
          notFull.notifyOne();
          consumed.increment();
          consumedSum.add(v);
          done++;
        }
      });
      assertThat(consumed.sum()).as("soak Condvar [%s]: items consumed vs produced", kind)
          .isEqualTo(produced.sum());
      assertThat(consumedSum.sum()).as("soak Condvar [%s]: checksum consumed vs produced", kind)
          .isEqualTo(producedSum.sum());
      int left = m.with(b -> b.queue.size());
      assertThat(left).as("soak Condvar [%s]: left in buffer", kind)
          .isZero();
      assertThat(notEmpty.hasWaiters() || notFull.hasWaiters()).isFalse();
      record("Condvar", kind, ops, "items=" + produced.sum());
    }
  }

  // ------------------------------------------------------------------ Scope and Parallel

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  void scopeReportsEveryFailureUnderItsCap() throws Exception {
    final int cap = 3;
    final int tasks = 10;
    for (Kind kind : kinds()) {
      LongAdder spawned = new LongAdder();
      long ops = run("Scope", kind, (id, phase) -> {
        long done = 0;
        for (int round = 0; phase.running(); round++, done++) {
          Scope.Builder b = Scope.builder()
              .maxConcurrency(cap)
              .failurePolicy(Scope.FailurePolicy.AWAIT_ALL)
              .namePrefix("test-soak-scope-" + kind.tag + id);
          if (kind == Kind.VIRTUAL) {
            b.virtualThreads();
          }
          AtomicInteger inside = new AtomicInteger();
          AtomicInteger maxInside = new AtomicInteger();
          Set<String> expected = new HashSet<>();
          int failing = round % 3;
          Scope scope = b.open();
          TaskFailedException reported = null;
          try {
            List<ScopedThread<Integer>> handles = new ArrayList<>();
            for (int t = 0; t < tasks; t++) {
              int task = t;
              String msg = "task " + id + "/" + round + "/" + t;
              if (task % 3 == failing) {
                expected.add(msg);
              }
              handles.add(scope.spawn(() -> {
                int now = inside.incrementAndGet();
                maxInside.accumulateAndGet(now, Math::max);
                try {
                  if (task % 3 == failing) {
                    throw new IllegalStateException(msg);
                  }
                  return task;
                } finally {
                  inside.decrementAndGet();
                }
              }));
              spawned.increment();
            }
            // Join the first task: a failure reported here must not be reported again.
            try {
              Integer r = handles.get(0).join();
              if (r == null || r != 0) {
                fail("Scope", "join of task 0 returned " + r);
              }
            } catch (TaskFailedException e) {
              Throwable cause = e.getCause();
              if (cause == null || !expected.remove(cause.getMessage())) {
                fail("Scope", "join reported an unexpected failure: " + e);
              }
            }
          } finally {
            try {
              scope.close();
            } catch (TaskFailedException e) {
              reported = e;
            }
          }
          Set<String> seen = new HashSet<>();
          int reports = 0;
          if (reported != null) {
            List<Throwable> all = new ArrayList<>();
            all.add(reported.getCause());
            all.addAll(List.of(reported.getSuppressed()));
            for (Throwable t : all) {
              reports++;
              seen.add(t == null ? "null" : t.getMessage());
            }
          }
          if (!seen.equals(expected) || reports != expected.size()) {
            fail("Scope", "round " + round + ": failures reported " + reports + " " + seen
                + ", expected each once: " + expected);
          }
          if (maxInside.get() > cap) {
            fail("Scope", "cap " + cap + " exceeded: " + maxInside.get() + " tasks at once");
          }
        }
        return done;
      });
      record("Scope", kind, ops, "threads=" + spawned.sum());
    }
  }

  @Test
  @Timeout(value = BACKSTOP_MINUTES, unit = TimeUnit.MINUTES)
  void parallelMapEqualsSequential() throws Exception {
    for (Kind kind : kinds()) {
      LongAdder elements = new LongAdder();
      long ops = run("Parallel", kind, (id, phase) -> {
        SplittableRandom rnd = new SplittableRandom(id);
        long done = 0;
        for (; phase.running(); done++) {
          int n = rnd.nextInt(2_000);
          Parallel.Options opts = Parallel.options()
              .threads(1 + rnd.nextInt(4))
              .minChunkSize(1 + rnd.nextInt(64))
              .sequentialCutoff(Duration.ZERO);
          long[] data = new long[n];
          List<Long> boxed = new ArrayList<>(n);
          for (int i = 0; i < n; i++) {
            data[i] = rnd.nextLong();
            boxed.add(data[i]);
          }
          long[] got = Parallel.map(data, x -> x * 31 + 7, opts);
          List<Long> gotBoxed = Parallel.map(boxed, x -> x * 31 + 7, opts);
          for (int i = 0; i < n; i++) {
            long want = data[i] * 31 + 7;
            if (got[i] != want || gotBoxed.get(i) != want) {
              fail("Parallel", "map differs from sequential at " + i + " of " + n + " with "
                  + opts + ": " + got[i] + " / " + gotBoxed.get(i) + " vs " + want);
            }
          }
          if (got.length != n || gotBoxed.size() != n) {
            fail("Parallel", "map returned " + got.length + "/" + gotBoxed.size()
                + " results for " + n + " inputs");
          }
          elements.add(2L * n);
        }
        return done;
      });
      record("Parallel", kind, ops, "elements=" + elements.sum());
    }
  }
}
