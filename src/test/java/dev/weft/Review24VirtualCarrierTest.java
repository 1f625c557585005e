package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.FutureTask;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.StampedLock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Review 24, "VirtualCarrier": every blocking or spinning path of the weft primitives run by
 * virtual threads with the scheduler limited to one or two carriers. Each scenario runs in a
 * child JVM (so that {@code -Djdk.virtualThreadScheduler.parallelism} takes effect) with a
 * watchdog inside the child and a hard timeout on it; the same scenario runs against the JDK's
 * anchor in the same configuration. A hang, or more than 10 times the anchor's time (plus a
 * 300 ms floor for noise), where the anchor completes, is a defect.
 *
 * <p>The test sources compile with {@code --release 17}: virtual threads are created by
 * reflection ({@code Thread.ofVirtual().factory()}).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
@SuppressWarnings({
  "StatementSwitchToExpressionSwitch", // one source for --release 17 habits
  "StringSplitter",
  "RethrowReflectiveOperationExceptionAsLinkageError"
})
class Review24VirtualCarrierTest {

  /** How long a child's scenario may run before its watchdog reports a stall. */
  static final long STALL_MS = 15_000;

  // ---------------------------------------------------------------------------------------------
  // Parent side: run a scenario in a child JVM.

  /** What a child reported: elapsed milliseconds, or -1 for a stall. */
  record Outcome(long millis, String output) {
    boolean stalled() {
      return millis < 0;
    }
  }

  static Outcome runChild(int carriers, String... args) throws Exception {
    return runChild(carriers, STALL_MS, args);
  }

  static Outcome runChild(int carriers, long stallMs, String... args) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> cmd = new ArrayList<>();
    cmd.add(java);
    cmd.add("-Djdk.virtualThreadScheduler.parallelism=" + carriers);
    cmd.add("-Djdk.virtualThreadScheduler.maxPoolSize=" + carriers);
    cmd.add("-Xmx256m");
    cmd.add("-Dreview24.stallMs=" + stallMs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(Child.class.getName());
    for (String a : args) {
      cmd.add(a);
    }
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    StringBuilder out = new StringBuilder();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                  synchronized (out) {
                    out.append(line).append('\n');
                  }
                }
              } catch (IOException ignored) {
                // the process was destroyed
              }
            });
    reader.setDaemon(true);
    reader.start();
    try {
      boolean ended = p.waitFor(stallMs + 20_000, TimeUnit.MILLISECONDS);
      if (!ended) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      reader.join(5_000);
      String text;
      synchronized (out) {
        text = out.toString();
      }
      long ms = -1;
      for (String line : text.split("\n")) {
        if (line.startsWith("DONE ")) {
          ms = Long.parseLong(line.substring(5).trim());
        }
      }
      if (ended && p.exitValue() != 0 && p.exitValue() != 3) {
        throw new AssertionError(
            "child " + String.join(" ", args) + " failed, exit " + p.exitValue() + ":\n" + text);
      }
      return new Outcome(ended ? ms : -1, text);
    } finally {
      if (p.isAlive()) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  static void assumeVirtualThreads() {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
  }

  /**
   * Runs the weft kind and the anchor kind of a scenario with the same arguments and asserts
   * that weft neither stalls nor takes more than 10x (+300 ms) the anchor's time; the anchor
   * itself must complete (else the scenario proves nothing).
   */
  static void compare(int carriers, String scenario, String weft, String anchor, String... rest)
      throws Exception {
    Outcome a = runChild(carriers, args(scenario, anchor, rest));
    Outcome w = runChild(carriers, args(scenario, weft, rest));
    String label =
        scenario + " " + String.join(" ", rest) + " on " + carriers + " carrier(s): " + weft + " "
            + (w.stalled() ? "STALLED" : w.millis() + " ms") + ", " + anchor + " "
            + (a.stalled() ? "STALLED" : a.millis() + " ms");
    System.out.println(label);
    assertThat(a.stalled()).as("anchor completes: %s\n%s", label, a.output()).isFalse();
    assertThat(w.stalled()).as("weft completes: %s\n%s", label, w.output()).isFalse();
    assertThat(w.millis()).as(label).isLessThanOrEqualTo(10 * a.millis() + 300);
  }

  static String[] args(String scenario, String kind, String... rest) {
    String[] all = new String[rest.length + 2];
    all[0] = scenario;
    all[1] = kind;
    System.arraycopy(rest, 0, all, 2, rest.length);
    return all;
  }

  // ---------------------------------------------------------------------------------------------
  // The attacks.

  /** 200 virtual threads x 40 acquisitions; the holder parks 100 us on every 5th. */
  @ParameterizedTest
  @CsvSource({
    "1, spin", "1, ticket", "1, mutex", "1, rwlock", "1, seqlock",
    "2, spin", "2, ticket", "2, mutex", "2, rwlock", "2, seqlock",
  })
  void held_holderBlocksWhileHolding(int carriers, String kind) throws Exception {
    assumeVirtualThreads();
    compare(carriers, "sleepy", kind, "rl", "200", "40", "5", "100000");
  }

  /** 200 virtual threads x 40 acquisitions, nobody blocks: waiters spin while the holder waits for a carrier. */
  @ParameterizedTest
  @CsvSource({"1, spin", "1, ticket", "1, mutex", "1, rwlock", "1, seqlock", "2, spin", "2, ticket"})
  void held_holderDescheduledWhileWaitersSpin(int carriers, String kind) throws Exception {
    assumeVirtualThreads();
    compare(carriers, "sleepy", kind, "rl", "200", "40", "0", "0");
  }

  /**
   * 32 virtual threads: half retry tryLock(timeout) at once, half lock(); the holder parks 1 us.
   * The JDK's ReentrantLock and StampedLock stall these loops at 1 ns and 1 us on one carrier
   * (measured here: 0 of 3,200 and 1,600 of 3,200 sections in 15 s; README "timed waits on
   * virtual threads"), so there is no anchor time: weft must finish.
   */
  @ParameterizedTest
  @CsvSource({
    "1, spin, 1", "1, ticket, 1", "1, mutex, 1", "1, rwlock, 1", "1, seqlock, 1",
    "1, spin, 1000", "1, ticket, 1000", "1, mutex, 1000", "1, rwlock, 1000", "1, seqlock, 1000",
    "2, spin, 1", "2, ticket, 1", "2, mutex, 1",
  })
  void held_timedRetryLoopsWithTinyTimeouts(int carriers, String kind, String nanos)
      throws Exception {
    assumeVirtualThreads();
    Outcome w = runChild(carriers, "retry", kind, "32", "100", nanos);
    System.out.println("retry " + kind + " " + nanos + " ns on " + carriers + ": weft "
        + w.millis() + " ms");
    assertThat(w.stalled()).as(w.output()).isFalse();
    assertThat(w.millis()).isLessThan(10_000);
  }

  /** A waiter blocked behind a parked holder, with spinners around it, is interrupted. */
  @ParameterizedTest
  @CsvSource({
    "1, spin, lock", "1, ticket, lock", "1, mutex, lock", "1, rwlock, lock", "1, seqlock, lock",
    "1, spin, timed", "1, ticket, timed", "1, mutex, timed", "1, rwlock, timed", "1, seqlock, timed",
  })
  void held_waiterInterruptedWhileOthersWait(int carriers, String kind, String mode)
      throws Exception {
    assumeVirtualThreads();
    compare(carriers, "interrupt", kind, "rl", mode);
  }

  /** Condition hand-offs: a virtual producer parks 20 us before each of 200 rounds. */
  @ParameterizedTest
  @CsvSource({
    "1, spincond, 0", "1, ticketcond, 0", "1, mutexwhen, 0", "1, condvar, 0", "1, awaitthen, 0",
    "1, spincond, 1", "1, ticketcond, 1", "1, mutexwhen, 1", "1, condvar, 1",
    "1, spincond, 1000", "1, ticketcond, 1000", "1, mutexwhen, 1000", "1, condvar, 1000",
    "2, spincond, 1", "2, mutexwhen, 1", "2, condvar, 1",
  })
  void held_conditionWaitersWithTinyTimeouts(int carriers, String kind, String nanos)
      throws Exception {
    assumeVirtualThreads();
    Outcome w = runChild(carriers, "cond", kind, "100", "200", nanos);
    // ReentrantLock's Condition stalls the 1 ns loop on one carrier (measured: 0 of 20,000
    // waits in 15 s), so it is the anchor only for the other timeouts.
    Outcome a =
        nanos.equals("1")
            ? new Outcome(-1, "not run")
            : runChild(carriers, "cond", "rlcond", "100", "200", nanos);
    System.out.println("cond " + kind + " " + nanos + " ns on " + carriers + ": weft " + w.millis()
        + " ms, Condition " + a.millis() + " ms");
    assertThat(w.stalled()).as(w.output()).isFalse();
    if (!a.stalled()) {
      assertThat(w.millis()).isLessThanOrEqualTo(10 * a.millis() + 300);
    }
  }

  /** 1000 virtual waiters on a value whose initialiser parks 20 ms; tiny timed awaits too. */
  @ParameterizedTest
  @CsvSource({
    "1, oncecell, 0", "1, lazy, 0", "1, await, 0", "1, await, 1", "1, await, 1000",
    "2, oncecell, 0", "2, await, 1",
  })
  void held_onceWaiters(int carriers, String kind, String nanos) throws Exception {
    assumeVirtualThreads();
    Outcome w = runChild(carriers, "once", kind, "1000", nanos);
    Outcome a = runChild(carriers, "once", "cf", "1000", nanos);
    System.out.println("once " + kind + " " + nanos + " ns on " + carriers + ": weft " + w.millis()
        + " ms, CompletableFuture " + a.millis() + " ms");
    assertThat(w.stalled()).as(w.output()).isFalse();
    if (!a.stalled()) {
      assertThat(w.millis()).isLessThanOrEqualTo(10 * a.millis() + 300);
    }
  }

  /** Readers of SeqLock/SeqLocked/SeqCount while a virtual writer parks inside its sections. */
  @ParameterizedTest
  @CsvSource({"1, seqlock", "1, seqlocked", "1, seqcount", "2, seqlock", "2, seqcount"})
  void held_seqReadersWhileWriterBlocks(int carriers, String kind) throws Exception {
    assumeVirtualThreads();
    compare(carriers, "seqread", kind, "stamped", "64", "2000");
  }

  /** A virtual thread holds a lock and runs a Scope/Parallel call; 50 others queue on the lock. */
  @ParameterizedTest
  @CsvSource({
    "1, spin, scope", "1, ticket, scope", "1, mutex, scope",
    "1, spin, parexec", "1, spin, parfactory", "1, spin, parpool",
    "1, ticket, parexec", "1, mutex, parfactory",
    "2, spin, scope", "2, spin, parexec",
  })
  void held_nestedScopeOrParallelUnderALock(int carriers, String kind, String inner)
      throws Exception {
    assumeVirtualThreads();
    Outcome a = runChild(carriers, "nested", "rl", "jdk");
    Outcome w = runChild(carriers, "nested", kind, inner);
    String label = "nested " + kind + "/" + inner + " on " + carriers + ": weft "
        + w.millis() + " ms, ReentrantLock+invokeAll " + a.millis() + " ms";
    System.out.println(label);
    assertThat(a.stalled()).as(a.output()).isFalse();
    assertThat(w.stalled()).as("%s\n%s", label, w.output()).isFalse();
    assertThat(w.millis()).as(label).isLessThanOrEqualTo(10 * a.millis() + 300);
  }

  /**
   * {@code ScopedThread.join(Duration)} retried with a tiny timeout by virtual threads, while the
   * task (on a virtual thread) parks: the join's first deadline check returns before it ever
   * parks (ScopeTask.awaitDone), so the joiner never leaves its carrier and the task never gets
   * one back. README promises that "every timed wait that fails on a virtual thread, with a
   * positive timeout, parks once" before reporting the timeout. The anchor, {@code
   * FutureTask.get(1 ns)} on the same virtual threads, parks whenever time is left and finishes
   * in tens of milliseconds. Before the fix: 7 of 7 runs stalled (JDK 25, all three cases).
   * Fixed (session 24): a timed join that fails parks once, as the other timed waits do.
   */
  @ParameterizedTest
  @CsvSource({"1, 1, 1", "1, 1, 100", "2, 2, 1"})
  void fixed_scopedThreadTimedJoinRetryLoopNeverLeavesTheCarrier(
      int carriers, String joiners, String nanos) throws Exception {
    assumeVirtualThreads();
    Outcome a = runChild(carriers, 5_000, "join", "future", joiners, nanos);
    Outcome w = runChild(carriers, 5_000, "join", "scope", joiners, nanos);
    String label = "join(" + nanos + " ns) x " + joiners + " on " + carriers + " carrier(s): "
        + "ScopedThread " + (w.stalled() ? "STALLED" : w.millis() + " ms") + ", FutureTask "
        + (a.stalled() ? "STALLED" : a.millis() + " ms");
    System.out.println(label);
    assertThat(a.stalled()).as("anchor completes: %s\n%s", label, a.output()).isFalse();
    assertThat(w.stalled()).as("ScopedThread.join completes: %s\n%s", label, w.output())
        .isFalse();
    assertThat(w.millis()).as(label).isLessThanOrEqualTo(10 * a.millis() + 300);
  }

  /** The same loop at 1 us: the join has time to push its node and park, and so it holds. */
  @ParameterizedTest
  @CsvSource({"1, 1, 1000", "2, 2, 1000"})
  void held_scopedThreadTimedJoinRetryLoopAtOneMicrosecond(
      int carriers, String joiners, String nanos) throws Exception {
    assumeVirtualThreads();
    Outcome a = runChild(carriers, 5_000, "join", "future", joiners, nanos);
    Outcome w = runChild(carriers, 5_000, "join", "scope", joiners, nanos);
    System.out.println("join(" + nanos + " ns) on " + carriers + ": ScopedThread " + w.millis()
        + " ms, FutureTask " + a.millis() + " ms");
    assertThat(a.stalled()).isFalse();
    assertThat(w.stalled()).as(w.output()).isFalse();
    assertThat(w.millis()).isLessThanOrEqualTo(10 * a.millis() + 300);
  }

  /**
   * A virtual thread polls with the untimed {@code tryLock()} (spinning between polls) while a
   * second one blocks in {@code lock()}: a lock that hands itself to the parked waiter on unlock
   * (SpinLock's hand-over) would leave the poller spinning on the only carrier while the heir
   * cannot run. Held for SpinLock, Mutex, RwLock, SeqLock. (TicketLock stalls here, but its
   * tryLock() is documented to fail while anybody is queued, and a fair ReentrantLock polled with
   * tryLock(0, unit) stalls the same way: see the next test.)
   */
  @ParameterizedTest
  @CsvSource({"1, spin", "1, mutex", "1, rwlock", "1, seqlock", "2, spin"})
  void held_untimedTryLockPollerBesideABlockedLocker(int carriers, String kind) throws Exception {
    assumeVirtualThreads();
    compare(carriers, "poll", kind, "rl", "2000");
  }

  /**
   * The poller of the previous test on a TicketLock: its FIFO {@code tryLock()} fails while the
   * lock is granted to the parked waiter, so the poller keeps the only carrier and the waiter
   * never runs. The anchor with the same ordering promise, a fair ReentrantLock polled with
   * {@code tryLock(0, unit)}, stalls identically (both 4 of 4 by hand, 1 carrier): parity, the
   * documented price of strict FIFO, not a defect.
   */
  @ParameterizedTest
  @CsvSource({"ticket", "rlfair0"})
  void held_fifoTryLockPollerStallsLikeTheFairJdkLock(String kind) throws Exception {
    assumeVirtualThreads();
    Outcome o = runChild(1, 3_000, "poll", kind, "2000");
    System.out.println("poll " + kind + " on 1: " + (o.stalled() ? "STALLED" : o.millis() + " ms"));
    assertThat(o.stalled()).as(o.output()).isTrue();
  }

  /**
   * 16 virtual readers retry {@code RwLock.tryRead(timeout)} while a virtual writer parks inside
   * its sections. ReentrantReadWriteLock's read lock stalls the same loop at 1 ns and 1 us on
   * one carrier (measured: 25 and 1 of 100 writes in 8 s), so there is no anchor time.
   */
  @ParameterizedTest
  @CsvSource({"1, 1", "1, 100", "1, 1000", "2, 1"})
  void held_rwLockTimedReadRetryLoops(int carriers, String nanos) throws Exception {
    assumeVirtualThreads();
    Outcome w = runChild(carriers, "rread", "rwlock", "16", nanos);
    System.out.println("tryRead(" + nanos + " ns) on " + carriers + ": " + w.millis() + " ms");
    assertThat(w.stalled()).as(w.output()).isFalse();
    assertThat(w.millis()).isLessThan(10_000);
  }

  /** 1000 virtual waiters on a RETRY OnceCell whose initialiser parks 2 ms and fails 3 times. */
  @ParameterizedTest
  @CsvSource({"1", "2"})
  void held_onceCellRetryAfterFailuresWithManyVirtualWaiters(int carriers) throws Exception {
    assumeVirtualThreads();
    Outcome w = runChild(carriers, "oncefail", "1000", "3");
    System.out.println("oncefail on " + carriers + ": " + w.millis() + " ms");
    assertThat(w.stalled()).as(w.output()).isFalse();
    assertThat(w.millis()).isLessThan(5_000);
  }

  /**
   * Parallel searches (findFirst on a virtual-thread executor, anyMatch on a virtual thread
   * factory) whose elements park, called from 4 virtual threads: the match cancels the others
   * by interrupting virtual workers.
   */
  @ParameterizedTest
  @CsvSource({"1", "2"})
  void held_parallelSearchesOnVirtualWorkers(int carriers) throws Exception {
    assumeVirtualThreads();
    Outcome w = runChild(carriers, "search", "parallel", "4");
    System.out.println("search on " + carriers + ": " + w.millis() + " ms");
    assertThat(w.stalled()).as(w.output()).isFalse();
    assertThat(w.millis()).isLessThan(5_000);
  }

  // ---------------------------------------------------------------------------------------------
  // Child side.

  /** The scenario run in the child JVM: prints "DONE millis", or "STALL" and exits 3. */
  static final class Child {
    private Child() {}

    static ThreadFactory virtualFactory() {
      try {
        Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
        Class<?> b = Class.forName("java.lang.Thread$Builder");
        return (ThreadFactory) b.getMethod("factory").invoke(builder);
      } catch (ReflectiveOperationException e) {
        throw new AssertionError(e);
      }
    }

    static ExecutorService virtualExecutor() {
      try {
        return (ExecutorService)
            Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
      } catch (ReflectiveOperationException e) {
        throw new AssertionError(e);
      }
    }

    static final ThreadFactory VF = virtualFactory();

    static final long STALL = Long.getLong("review24.stallMs", STALL_MS);

    interface Body {
      void run() throws Exception;
    }

    static final List<Throwable> FAILURES = new ArrayList<>();

    static Thread start(Body b) {
      Thread t =
          VF.newThread(
              () -> {
                try {
                  b.run();
                } catch (Throwable e) {
                  synchronized (FAILURES) {
                    FAILURES.add(e);
                  }
                }
              });
      t.start();
      return t;
    }

    static void joinAll(List<Thread> ts, long start) throws InterruptedException {
      long deadline = start + TimeUnit.MILLISECONDS.toNanos(STALL);
      for (Thread t : ts) {
        long left = deadline - System.nanoTime();
        if (left > 0) {
          t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
        if (t.isAlive()) {
          stall(ts);
        }
      }
      synchronized (FAILURES) {
        if (!FAILURES.isEmpty()) {
          FAILURES.get(0).printStackTrace(System.out);
          System.out.flush();
          Runtime.getRuntime().halt(1);
        }
      }
      System.out.println("DONE " + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
      System.out.flush();
      Runtime.getRuntime().halt(0);
    }

    static void stall(List<Thread> ts) {
      int alive = 0;
      for (Thread t : ts) {
        if (t.isAlive()) {
          alive++;
        }
      }
      System.out.println("STALL alive=" + alive + " " + PROGRESS.get());
      System.out.flush();
      Runtime.getRuntime().halt(3);
    }

    static final AtomicLong PROGRESS = new AtomicLong();

    /** One lock, seen the same way for every kind. */
    interface L {
      void lock() throws InterruptedException;

      /** Interruptible where the kind has that form. */
      void lockInterruptibly() throws InterruptedException;

      boolean tryLock(long nanos) throws InterruptedException;

      /** The untimed, barging {@code tryLock()}. */
      boolean tryLockNow();

      void unlock();
    }

    static L lockOf(String kind) {
      switch (kind) {
        case "spin":
          return ofLock(new SpinLock());
        case "ticket":
          return ofLock(new TicketLock());
        case "rl":
          return ofLock(new ReentrantLock());
        case "rlfair":
          return ofLock(new ReentrantLock(true));
        case "rlfair0": // a fair ReentrantLock polled with tryLock(0, unit), which keeps the order
          ReentrantLock fair = new ReentrantLock(true);
          L base = ofLock(fair);
          return new L() {
            @Override
            public void lock() {
              fair.lock();
            }

            @Override
            public void lockInterruptibly() throws InterruptedException {
              fair.lockInterruptibly();
            }

            @Override
            public boolean tryLock(long nanos) throws InterruptedException {
              return base.tryLock(nanos);
            }

            @Override
            public boolean tryLockNow() {
              try {
                return fair.tryLock(0, TimeUnit.NANOSECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
              }
            }

            @Override
            public void unlock() {
              fair.unlock();
            }
          };
        case "mutex": {
          Mutex<int[]> m = new Mutex<>(new int[1]);
          return guarded(
              m::lock, m::lockInterruptibly, n -> m.tryLock(Duration.ofNanos(n)), m::tryLock);
        }
        case "rwlock": {
          RwLock<int[]> m = new RwLock<>(new int[1]);
          return guarded(
              m::write, m::writeInterruptibly, n -> m.tryWrite(Duration.ofNanos(n)), m::tryWrite);
        }
        case "seqlock": {
          SeqLock m = new SeqLock();
          return guarded(
              m::writeUninterruptibly, m::write, n -> m.tryWrite(Duration.ofNanos(n)),
              m::tryWrite);
        }
        case "stamped":
          return new L() {
            final StampedLock m = new StampedLock();
            long s;

            @Override
            public void lock() {
              s = m.writeLock();
            }

            @Override
            public void lockInterruptibly() throws InterruptedException {
              s = m.writeLockInterruptibly();
            }

            @Override
            public boolean tryLock(long nanos) throws InterruptedException {
              long x = m.tryWriteLock(nanos, TimeUnit.NANOSECONDS);
              if (x == 0) {
                return false;
              }
              s = x;
              return true;
            }

            @Override
            public boolean tryLockNow() {
              long x = m.tryWriteLock();
              if (x == 0) {
                return false;
              }
              s = x;
              return true;
            }

            @Override
            public void unlock() {
              m.unlockWrite(s);
            }
          };
        default:
          throw new IllegalArgumentException(kind);
      }
    }

    interface Take<G> {
      G take() throws InterruptedException;
    }

    interface TakeTimed<G> {
      @Nullable G take(long nanos) throws InterruptedException;
    }

    /** An {@link L} over a lock that hands out guards (Mutex, RwLock's write lock, SeqLock). */
    static <G extends AutoCloseable> L guarded(
        java.util.function.Supplier<G> lock,
        Take<G> interruptibly,
        TakeTimed<G> timed,
        java.util.function.Supplier<@Nullable G> now) {
      return new L() {
        @Nullable G g;

        @Override
        public void lock() {
          g = lock.get();
        }

        @Override
        public void lockInterruptibly() throws InterruptedException {
          g = interruptibly.take();
        }

        @Override
        public boolean tryLock(long nanos) throws InterruptedException {
          return held(timed.take(nanos));
        }

        @Override
        public boolean tryLockNow() {
          return held(now.get());
        }

        private boolean held(@Nullable G x) {
          if (x == null) {
            return false;
          }
          g = x;
          return true;
        }

        @Override
        public void unlock() {
          try {
            java.util.Objects.requireNonNull(g, "guard").close();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }
      };
    }

    static L ofLock(Lock l) {
      return new L() {
        @Override
        public void lock() {
          l.lock();
        }

        @Override
        public void lockInterruptibly() throws InterruptedException {
          l.lockInterruptibly();
        }

        @Override
        public boolean tryLock(long nanos) throws InterruptedException {
          return l.tryLock(nanos, TimeUnit.NANOSECONDS);
        }

        @Override
        public boolean tryLockNow() {
          return l.tryLock();
        }

        @Override
        public void unlock() {
          l.unlock();
        }
      };
    }

    public static void main(String[] a) throws Exception {
      switch (a[0]) {
        case "sleepy":
          sleepy(lockOf(a[1]), Integer.parseInt(a[2]), Integer.parseInt(a[3]),
              Integer.parseInt(a[4]), Long.parseLong(a[5]));
          break;
        case "retry":
          retry(lockOf(a[1]), Integer.parseInt(a[2]), Integer.parseInt(a[3]), Long.parseLong(a[4]));
          break;
        case "interrupt":
          interrupt(lockOf(a[1]), a[2]);
          break;
        case "cond":
          cond(a[1], Integer.parseInt(a[2]), Integer.parseInt(a[3]), Long.parseLong(a[4]));
          break;
        case "once":
          once(a[1], Integer.parseInt(a[2]), Long.parseLong(a[3]));
          break;
        case "seqread":
          seqread(a[1], Integer.parseInt(a[2]), Integer.parseInt(a[3]));
          break;
        case "nested":
          nested(lockOf(a[1]), a[2]);
          break;
        case "poll":
          poll(lockOf(a[1]), Integer.parseInt(a[2]));
          break;
        case "rread":
          rread(a[1], Integer.parseInt(a[2]), Long.parseLong(a[3]));
          break;
        case "oncefail":
          oncefail(Integer.parseInt(a[1]), Integer.parseInt(a[2]));
          break;
        case "search":
          search(a[1], Integer.parseInt(a[2]));
          break;
        case "join":
          join(a[1], Integer.parseInt(a[2]), Long.parseLong(a[3]));
          break;
        default:
          throw new IllegalArgumentException(a[0]);
      }
    }

    static void sleepy(L l, int threads, int iters, int every, long parkNanos)
        throws InterruptedException {
      int[] counter = new int[1];
      List<Thread> ts = new ArrayList<>();
      long start = System.nanoTime();
      for (int i = 0; i < threads; i++) {
        ts.add(start(() -> {
          for (int k = 1; k <= iters; k++) {
            l.lock();
            try {
              counter[0]++;
              if (every > 0 && k % every == 0) {
                LockSupport.parkNanos(parkNanos);
              }
            } finally {
              l.unlock();
            }
            PROGRESS.incrementAndGet();
          }
        }));
      }
      joinAll(ts, start);
    }

    static void retry(L l, int threads, int iters, long nanos) throws InterruptedException {
      List<Thread> ts = new ArrayList<>();
      long start = System.nanoTime();
      for (int i = 0; i < threads; i++) {
        boolean timed = i % 2 == 0;
        ts.add(start(() -> {
          for (int k = 0; k < iters; k++) {
            if (timed) {
              while (!l.tryLock(nanos)) {
                // retry at once
              }
            } else {
              l.lock();
            }
            try {
              LockSupport.parkNanos(1_000);
            } finally {
              l.unlock();
            }
            PROGRESS.incrementAndGet();
          }
        }));
      }
      joinAll(ts, start);
    }

    static void interrupt(L l, String mode) throws InterruptedException {
      CountDownLatch held = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      List<Thread> ts = new ArrayList<>();
      ts.add(start(() -> {
        l.lock();
        try {
          held.countDown();
          release.await();
        } finally {
          l.unlock();
        }
      }));
      held.await();
      // Others queued on the lock, too.
      for (int i = 0; i < 8; i++) {
        ts.add(start(() -> {
          l.lock();
          l.unlock();
        }));
      }
      CountDownLatch interrupted = new CountDownLatch(1);
      Thread victim = start(() -> {
        try {
          if (mode.equals("timed")) {
            if (l.tryLock(TimeUnit.SECONDS.toNanos(60))) {
              l.unlock();
              throw new AssertionError("got the lock");
            }
            throw new AssertionError("timed out");
          }
          l.lockInterruptibly();
          l.unlock();
          throw new AssertionError("got the lock");
        } catch (InterruptedException expected) {
          interrupted.countDown();
        }
      });
      Thread.sleep(50);
      long start = System.nanoTime();
      victim.interrupt();
      if (!interrupted.await(STALL, TimeUnit.MILLISECONDS)) {
        ts.add(victim);
        stall(ts);
      }
      long took = System.nanoTime() - start;
      release.countDown();
      ts.add(victim);
      joinAll(ts, System.nanoTime() - took); // reports the interrupt's latency
    }

    static void cond(String kind, int waiters, int rounds, long nanos) throws Exception {
      int[] round = new int[1];
      List<Thread> ts = new ArrayList<>();
      Body producer;
      Body waiter;
      if (kind.equals("spincond") || kind.equals("ticketcond") || kind.equals("rlcond")) {
        Lock lock =
            kind.equals("spincond")
                ? new SpinLock()
                : kind.equals("ticketcond") ? new TicketLock() : new ReentrantLock();
        Condition c = lock.newCondition();
        producer = () -> {
          for (int r = 1; r <= rounds; r++) {
            LockSupport.parkNanos(20_000);
            lock.lock();
            try {
              round[0] = r;
              c.signalAll();
            } finally {
              lock.unlock();
            }
          }
        };
        waiter = () -> {
          for (int r = 1; r <= rounds; r++) {
            lock.lock();
            try {
              while (round[0] < r) {
                if (nanos == 0) {
                  c.await();
                } else {
                  c.await(nanos, TimeUnit.NANOSECONDS);
                }
              }
            } finally {
              lock.unlock();
            }
            PROGRESS.incrementAndGet();
          }
        };
      } else {
        Mutex<int[]> m = new Mutex<>(round);
        Condvar cv = new Condvar();
        producer = () -> {
          for (int r = 1; r <= rounds; r++) {
            LockSupport.parkNanos(20_000);
            try (Mutex.Guard<int[]> g = m.lock()) {
              g.get()[0] = r;
            }
            cv.notifyAllWaiters();
          }
        };
        switch (kind) {
          case "mutexwhen":
            waiter = () -> {
              for (int r = 1; r <= rounds; r++) {
                int want = r;
                if (nanos == 0) {
                  m.lockWhen(v -> v[0] >= want).close();
                } else {
                  Mutex.Guard<int[]> g;
                  while ((g = m.lockWhen(v -> v[0] >= want, Duration.ofNanos(nanos))) == null) {
                    // retry
                  }
                  g.close();
                }
                PROGRESS.incrementAndGet();
              }
            };
            break;
          case "awaitthen":
            waiter = () -> {
              for (int r = 1; r <= rounds; r++) {
                int want = r;
                m.awaitThen(v -> v[0] >= want, v -> v[0]);
                PROGRESS.incrementAndGet();
              }
            };
            break;
          case "condvar":
            waiter = () -> {
              for (int r = 1; r <= rounds; r++) {
                int want = r;
                try (Mutex.Guard<int[]> g = m.lock()) {
                  if (nanos == 0) {
                    cv.awaitWhile(g, v -> v[0] < want);
                  } else {
                    while (!cv.awaitWhile(g, v -> v[0] < want, Duration.ofNanos(nanos))) {
                      // retry
                    }
                  }
                }
                PROGRESS.incrementAndGet();
              }
            };
            break;
          default:
            throw new IllegalArgumentException(kind);
        }
      }
      long start = System.nanoTime();
      for (int i = 0; i < waiters; i++) {
        ts.add(start(waiter));
      }
      ts.add(start(producer));
      joinAll(ts, start);
    }

    static void once(String kind, int waiters, long nanos) throws Exception {
      List<Thread> ts = new ArrayList<>();
      OnceCell<String> cell = new OnceCell<>();
      CompletableFuture<String> cf = new CompletableFuture<>();
      Lazy<String> lazy = Lazy.of(() -> {
        LockSupport.parkNanos(20_000_000);
        return "v";
      });
      long start = System.nanoTime();
      for (int i = 0; i < waiters; i++) {
        ts.add(start(() -> {
          String v;
          switch (kind) {
            case "oncecell":
              v = cell.getOrInit(() -> {
                LockSupport.parkNanos(20_000_000);
                return "v";
              });
              break;
            case "lazy":
              v = lazy.get();
              break;
            case "await":
              if (nanos == 0) {
                v = cell.await();
              } else {
                while (!cell.await(Duration.ofNanos(nanos))) {
                  // retry
                }
                v = cell.orElseThrow();
              }
              break;
            case "cf":
              if (nanos == 0) {
                v = cf.join();
              } else {
                for (;;) {
                  try {
                    v = cf.get(nanos, TimeUnit.NANOSECONDS);
                    break;
                  } catch (TimeoutException retry) {
                    // retry
                  }
                }
              }
              break;
            default:
              throw new IllegalArgumentException(kind);
          }
          if (!"v".equals(v)) {
            throw new AssertionError(v);
          }
        }));
      }
      if (kind.equals("await") || kind.equals("cf")) {
        ts.add(start(() -> {
          LockSupport.parkNanos(20_000_000);
          cell.set("v");
          cf.complete("v");
        }));
      }
      joinAll(ts, start);
    }

    static void seqread(String kind, int readers, int writes) throws Exception {
      long[] xy = new long[2];
      SeqLock sl = new SeqLock();
      SeqCount sc = new SeqCount();
      SeqLocked<long[]> sld = new SeqLocked<>(new long[2]);
      StampedLock st = new StampedLock();
      AtomicInteger done = new AtomicInteger();
      List<Thread> ts = new ArrayList<>();
      long start = System.nanoTime();
      Body writer = () -> {
        for (int i = 1; i <= writes; i++) {
          boolean block = i % 16 == 0;
          switch (kind) {
            case "seqlock":
              SeqLock.WriteGuard g = sl.write();
              try {
                xy[0] = i;
                if (block) {
                  LockSupport.parkNanos(1_000);
                }
                xy[1] = i;
              } finally {
                g.close();
              }
              break;
            case "seqcount":
              SeqCount.WriteGuard g2 = sc.write();
              try {
                xy[0] = i;
                if (block) {
                  LockSupport.parkNanos(1_000);
                }
                xy[1] = i;
              } finally {
                g2.close();
              }
              break;
            case "seqlocked":
              int v = i;
              sld.write(s -> {
                s[0] = v;
                if (block) {
                  LockSupport.parkNanos(1_000);
                }
                s[1] = v;
              });
              break;
            case "stamped":
              long s = st.writeLock();
              try {
                xy[0] = i;
                if (block) {
                  LockSupport.parkNanos(1_000);
                }
                xy[1] = i;
              } finally {
                st.unlockWrite(s);
              }
              break;
            default:
              throw new IllegalArgumentException(kind);
          }
          PROGRESS.incrementAndGet();
        }
        done.set(1);
      };
      for (int r = 0; r < readers; r++) {
        ts.add(start(() -> {
          while (done.get() == 0) {
            long d;
            switch (kind) {
              case "seqlock":
                d = sl.readLong(() -> xy[0] - xy[1]);
                break;
              case "seqcount":
                d = sc.readLong(() -> xy[0] - xy[1]);
                break;
              case "seqlocked":
                d = sld.readLong(s -> s[0] - s[1]);
                break;
              default:
                long s = st.tryOptimisticRead();
                d = xy[0] - xy[1];
                if (!st.validate(s)) {
                  s = st.readLock();
                  try {
                    d = xy[0] - xy[1];
                  } finally {
                    st.unlockRead(s);
                  }
                }
            }
            if (d != 0) {
              throw new AssertionError("torn read " + d);
            }
            LockSupport.parkNanos(20_000);
          }
        }));
      }
      ts.add(start(writer));
      joinAll(ts, start);
    }

    /**
     * One task on a virtual thread parks 20 times for 500 us; {@code joiners} virtual threads
     * retry a join with a {@code nanos} timeout until the task is done.
     */
    static void join(String kind, int joiners, long nanos) throws Exception {
      Body task = () -> {
        for (int i = 0; i < 20; i++) {
          LockSupport.parkNanos(500_000);
          PROGRESS.incrementAndGet();
        }
      };
      Callable<String> call = () -> {
        task.run();
        return "v";
      };
      List<Thread> ts = new ArrayList<>();
      long start = System.nanoTime();
      if (kind.equals("scope")) {
        try (Scope scope = Scope.builder().threadFactory(VF).open()) {
          ScopedThread<String> h = scope.spawn(call);
          for (int j = 0; j < joiners; j++) {
            ts.add(start(() -> {
              for (;;) {
                try {
                  if (!"v".equals(h.join(Duration.ofNanos(nanos)))) {
                    throw new AssertionError();
                  }
                  return;
                } catch (TimeoutException retry) {
                  // retry at once
                }
              }
            }));
          }
          joinAll(ts, start); // halts the JVM
        }
      } else {
        FutureTask<String> f = new FutureTask<>(call);
        ts.add(start(f::run));
        for (int j = 0; j < joiners; j++) {
          ts.add(start(() -> {
            for (;;) {
              try {
                if (!"v".equals(f.get(nanos, TimeUnit.NANOSECONDS))) {
                  throw new AssertionError();
                }
                return;
              } catch (TimeoutException retry) {
                // retry at once
              }
            }
          }));
        }
        joinAll(ts, start);
      }
    }

    /**
     * A virtual thread polls the lock with the untimed {@code tryLock()} (spinning between polls,
     * as code that does other work between polls would) and parks 1 us inside each of its
     * {@code iters} sections; a second virtual thread takes the lock with {@code lock()} 20 times.
     */
    static void poll(L l, int iters) throws Exception {
      List<Thread> ts = new ArrayList<>();
      long start = System.nanoTime();
      ts.add(start(() -> {
        for (int k = 0; k < iters; k++) {
          while (!l.tryLockNow()) {
            Thread.onSpinWait();
          }
          try {
            LockSupport.parkNanos(1_000);
          } finally {
            l.unlock();
          }
          PROGRESS.incrementAndGet();
        }
      }));
      ts.add(start(() -> {
        for (int k = 0; k < 20; k++) {
          l.lock();
          l.unlock();
          PROGRESS.addAndGet(1L << 32);
          LockSupport.parkNanos(1_000);
        }
      }));
      joinAll(ts, start);
    }

    /**
     * {@code readers} virtual threads retry {@code tryRead(nanos)} 100 times each while a virtual
     * writer takes the write lock 100 times and parks 1 us inside.
     */
    static void rread(String kind, int readers, long nanos) throws Exception {
      RwLock<int[]> rw = new RwLock<>(new int[1]);
      java.util.concurrent.locks.ReentrantReadWriteLock jrw =
          new java.util.concurrent.locks.ReentrantReadWriteLock();
      boolean weft = kind.equals("rwlock");
      List<Thread> ts = new ArrayList<>();
      long start = System.nanoTime();
      ts.add(start(() -> {
        for (int k = 0; k < 100; k++) {
          if (weft) {
            try (RwLock.WriteGuard<int[]> g = rw.write()) {
              g.get()[0]++;
              LockSupport.parkNanos(1_000);
            }
          } else {
            jrw.writeLock().lock();
            try {
              LockSupport.parkNanos(1_000);
            } finally {
              jrw.writeLock().unlock();
            }
          }
          PROGRESS.incrementAndGet();
        }
      }));
      for (int r = 0; r < readers; r++) {
        ts.add(start(() -> {
          for (int k = 0; k < 100; k++) {
            if (weft) {
              RwLock.ReadGuard<int[]> g;
              while ((g = rw.tryRead(Duration.ofNanos(nanos))) == null) {
                // retry
              }
              g.close();
            } else {
              while (!jrw.readLock().tryLock(nanos, TimeUnit.NANOSECONDS)) {
                // retry
              }
              jrw.readLock().unlock();
            }
            LockSupport.parkNanos(1_000);
          }
        }));
      }
      joinAll(ts, start);
    }

    /**
     * {@code waiters} virtual threads call {@code getOrInit} on a RETRY cell whose initialiser
     * parks 2 ms and throws the first {@code failures} times.
     */
    static void oncefail(int waiters, int failures) throws Exception {
      OnceCell<String> cell = new OnceCell<>();
      AtomicInteger calls = new AtomicInteger();
      List<Thread> ts = new ArrayList<>();
      long start = System.nanoTime();
      for (int i = 0; i < waiters; i++) {
        ts.add(start(() -> {
          for (;;) {
            try {
              String v = cell.getOrInit(() -> {
                LockSupport.parkNanos(2_000_000);
                if (calls.incrementAndGet() <= failures) {
                  throw new IllegalStateException("try again");
                }
                return "v";
              });
              if (!"v".equals(v)) {
                throw new AssertionError(v);
              }
              return;
            } catch (IllegalStateException retry) {
              // the initialiser failed: try again
            }
          }
        }));
      }
      joinAll(ts, start);
    }

    /**
     * {@code callers} virtual threads each run 20 Parallel searches (findFirst, anyMatch) on
     * virtual-thread workers; every element parks 50 us, element 3 matches, so the search
     * cancels the others.
     */
    static void search(String kind, int callers) throws Exception {
      ExecutorService ex = virtualExecutor();
      List<Integer> data = new ArrayList<>();
      for (int i = 0; i < 64; i++) {
        data.add(i);
      }
      List<Thread> ts = new ArrayList<>();
      long start = System.nanoTime();
      for (int c = 0; c < callers; c++) {
        ts.add(start(() -> {
          for (int k = 0; k < 20; k++) {
            java.util.function.Predicate<Integer> p = x -> {
              LockSupport.parkNanos(50_000);
              return x == 3;
            };
            Object r;
            if (kind.equals("parallel")) {
              r = Parallel.findFirst(data, p,
                  Parallel.options().executor(ex).threads(8).minChunkSize(1));
              if (!Parallel.anyMatch(data, p, Parallel.options().threadFactory(VF).threads(8))) {
                throw new AssertionError("anyMatch");
              }
            } else {
              r = ex.submit(() -> data.stream().filter(p).findFirst()).get();
              ex.submit(() -> data.stream().anyMatch(p)).get();
            }
            if (!java.util.Optional.of(3).equals(r)) {
              throw new AssertionError(r);
            }
            PROGRESS.incrementAndGet();
          }
        }));
      }
      joinAll(ts, start);
    }

    static void nested(L l, String inner) throws Exception {
      List<Thread> ts = new ArrayList<>();
      AtomicInteger work = new AtomicInteger();
      ExecutorService ex = virtualExecutor();
      long start = System.nanoTime();
      for (int i = 0; i < 50; i++) {
        boolean nester = i % 10 == 0;
        ts.add(start(() -> {
          for (int k = 0; k < 10; k++) {
            l.lock();
            try {
              if (nester) {
                switch (inner) {
                  case "scope":
                    Scope.builder().threadFactory(VF).run(s -> {
                      for (int c = 0; c < 4; c++) {
                        s.spawn(() -> {
                          LockSupport.parkNanos(100_000);
                          work.incrementAndGet();
                        });
                      }
                    });
                    break;
                  case "parexec":
                    Parallel.forRange(0, 8, x -> {
                      LockSupport.parkNanos(100_000);
                      work.incrementAndGet();
                    }, Parallel.options().executor(ex).threads(4));
                    break;
                  case "parfactory":
                    Parallel.forRange(0, 8, x -> {
                      LockSupport.parkNanos(100_000);
                      work.incrementAndGet();
                    }, Parallel.options().threadFactory(VF).threads(4));
                    break;
                  case "parpool":
                    Parallel.forRange(0, 8, x -> {
                      LockSupport.parkNanos(100_000);
                      work.incrementAndGet();
                    }, Parallel.options().threads(4));
                    break;
                  case "jdk":
                  default:
                    List<java.util.concurrent.Callable<Object>> cs = new ArrayList<>();
                    for (int c = 0; c < 4; c++) {
                      cs.add(() -> {
                        LockSupport.parkNanos(100_000);
                        return work.incrementAndGet();
                      });
                    }
                    ex.invokeAll(cs);
                }
              }
            } finally {
              l.unlock();
            }
            PROGRESS.incrementAndGet();
          }
        }));
      }
      joinAll(ts, start);
    }
  }
}
