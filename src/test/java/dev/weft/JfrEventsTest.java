package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import jdk.jfr.Configuration;
import jdk.jfr.EventType;
import jdk.jfr.FlightRecorder;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedThread;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * weft's JFR events (issue 21): each test records with threshold 0, provokes one wait on purpose
 * (a holder holds; the waiter waits until its thread is parked; then the holder lets go), reads
 * the recording back and checks the event's name and fields. The holder stays alive until the
 * waiter's event is committed, so the holder field can be resolved.
 */
@Timeout(value = 30, unit = TimeUnit.SECONDS)
@SuppressWarnings("try") // guards held for their scope only
class JfrEventsTest {
  private static final String[] EVENTS = {
    "dev.weft.LockContended",
    "dev.weft.ConditionWait",
    "dev.weft.OnceInit",
    "dev.weft.Scope",
    "dev.weft.Parallel"
  };

  // ---- lock contention -----------------------------------------------------------------

  @Test
  void spinLockContention() throws Exception {
    SpinLock lock = new SpinLock();
    RecordedEvent e =
        contended(lock::lock, lock::unlock, lock::lock, lock::unlock, "dev.weft.LockContended");
    assertLockEvent(e, "SpinLock", lock, "exclusive", "acquired");
  }

  // With the default hand-over threshold (0) a parked waiter becomes the heir and the unlock
  // hands the lock to it: the event must still end as an acquisition, timed to the hand-over.
  @Test
  void spinLockContentionEndedByAHandOver() throws Exception {
    SpinLock lock = new SpinLock();
    AtomicReference<Thread> heirAtRelease = new AtomicReference<>();
    RecordedEvent e =
        contended(
            lock::lock,
            () -> {
              long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
              Thread heir;
              while ((heir = SpinLockHandOverTestSupport.heir(lock)) == null) {
                assertThat(System.nanoTime() - deadline < 0).as("no heir within 20 s").isTrue();
                Thread.onSpinWait();
              }
              heirAtRelease.set(heir);
              lock.unlock(); // hands the lock to the heir
            },
            lock::lock,
            lock::unlock,
            "dev.weft.LockContended");
    assertThat(heirAtRelease.get().getName()).isEqualTo("test-waiter");
    assertLockEvent(e, "SpinLock", lock, "exclusive", "acquired");
  }

  @Test
  void ticketLockContention() throws Exception {
    TicketLock lock = new TicketLock();
    RecordedEvent e =
        contended(lock::lock, lock::unlock, lock::lock, lock::unlock, "dev.weft.LockContended");
    assertLockEvent(e, "TicketLock", lock, "exclusive", "acquired");
  }

  @Test
  void mutexContention() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<Mutex.Guard<Integer>> held = new AtomicReference<>();
    AtomicReference<Mutex.Guard<Integer>> waited = new AtomicReference<>();
    RecordedEvent e =
        contended(
            () -> held.set(m.lock()),
            () -> held.get().close(),
            () -> waited.set(m.lock()),
            () -> waited.get().close(),
            "dev.weft.LockContended");
    assertLockEvent(e, "Mutex", m, "exclusive", "acquired");
  }

  @Test
  void mutexTimedContentionThatTimesOut() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    Thread holder =
        new Thread(
            () -> {
              try (var g = m.lock()) {
                held.countDown();
                await(done);
              }
            },
            "test-holder");
    List<RecordedEvent> events;
    try {
      events =
          record(
              () -> {
                holder.start();
                await(held);
                assertThat(m.tryLock(Duration.ofMillis(30))).isNull();
              });
    } finally {
      done.countDown();
      holder.join();
    }
    RecordedEvent e = only(events, "dev.weft.LockContended", Thread.currentThread());
    assertThat(e.getString("outcome")).isEqualTo("timed out");
    assertThat(holderName(e)).isEqualTo("test-holder");
    assertThat(e.getDuration()).isGreaterThanOrEqualTo(Duration.ofMillis(25));
  }

  @Test
  void rwLockReadWaitsForAWriter() throws Exception {
    RwLock<Integer> rw = new RwLock<>(0);
    AtomicReference<RwLock.WriteGuard<Integer>> w = new AtomicReference<>();
    AtomicReference<RwLock.ReadGuard<Integer>> r = new AtomicReference<>();
    RecordedEvent e =
        contended(
            () -> w.set(rw.write()),
            () -> w.get().close(),
            () -> r.set(rw.read()),
            () -> r.get().close(),
            "dev.weft.LockContended");
    assertLockEvent(e, "RwLock", rw, "read", "acquired");
  }

  @Test
  void rwLockWriteWaitsForAReaderWhoseIdentityIsUnknown() throws Exception {
    RwLock<Integer> rw = new RwLock<>(0);
    AtomicReference<RwLock.ReadGuard<Integer>> r = new AtomicReference<>();
    AtomicReference<RwLock.WriteGuard<Integer>> w = new AtomicReference<>();
    RecordedEvent e =
        contended(
            () -> r.set(rw.read()),
            () -> r.get().close(),
            () -> w.set(rw.write()),
            () -> w.get().close(),
            "dev.weft.LockContended",
            true);
    assertThat(e.getString("lockType")).isEqualTo("RwLock");
    assertThat(e.getString("access")).isEqualTo("write");
    assertThat(e.getString("outcome")).isEqualTo("acquired");
  }

  @Test
  void seqLockWriteContention() throws Exception {
    SeqLock lock = new SeqLock();
    AtomicReference<SeqLock.WriteGuard> held = new AtomicReference<>();
    AtomicReference<SeqLock.WriteGuard> waited = new AtomicReference<>();
    RecordedEvent e =
        contended(
            () -> held.set(lock.write()),
            () -> held.get().close(),
            () -> waited.set(lock.write()),
            () -> waited.get().close(),
            "dev.weft.LockContended");
    assertLockEvent(e, "SeqLock", lock, "write", "acquired");
  }

  @Test
  void aClassifiedLockIsNamedByItsClass() throws Exception {
    LockOrder.Mode before = LockOrder.mode();
    LockOrder.enable(LockOrder.Mode.LOG);
    try {
      SpinLock lock = LockOrder.classify(new SpinLock(), "jfr-test-account");
      RecordedEvent e =
          contended(lock::lock, lock::unlock, lock::lock, lock::unlock, "dev.weft.LockContended");
      assertThat(e.getString("lock")).isEqualTo("class \"jfr-test-account\"");
    } finally {
      if (before == LockOrder.Mode.OFF) {
        LockOrder.disable();
      } else {
        LockOrder.enable(before);
      }
    }
  }

  @Test
  void uncontendedAcquisitionsEmitNothing() throws Exception {
    SpinLock spin = new SpinLock();
    TicketLock ticket = new TicketLock();
    Mutex<Integer> mutex = new Mutex<>(0);
    RwLock<Integer> rw = new RwLock<>(0);
    SeqLock seq = new SeqLock();
    Condvar cv = new Condvar();
    List<RecordedEvent> events =
        record(
            () -> {
              for (int i = 0; i < 1000; i++) {
                spin.lock();
                try {
                  ticket.lock();
                  try {
                    assertThat(ticket.isHeldByCurrentThread()).isTrue();
                  } finally {
                    ticket.unlock();
                  }
                } finally {
                  spin.unlock();
                }
                mutex.update(v -> v + 1);
                try (var g = mutex.lockInterruptibly()) {
                  cv.awaitWhile(g, v -> v < 0); // never blocks: no wait, no event
                }
                try (var g = mutex.tryLock(Duration.ofSeconds(1))) {
                  assertThat(g).isNotNull();
                }
                try (var g = mutex.lockWhen(v -> v > 0)) {
                  g.set(g.get() + 1);
                }
                rw.withRead(v -> v);
                rw.update(v -> v + 1);
                try (var g = rw.readInterruptibly()) {
                  assertThat(g.get()).isPositive();
                }
                try (var g = rw.tryWrite(Duration.ofSeconds(1))) {
                  assertThat(g).isNotNull();
                }
                try (var g = seq.write()) {
                  assertThat(g).isNotNull();
                }
              }
            });
    assertThat(events).as("no dev.weft event without a wait").isEmpty();
  }

  // ---- condition waits -----------------------------------------------------------------

  @Test
  void condvarWaitUntilReady() throws Exception {
    Mutex<Boolean> flag = new Mutex<>(false);
    Condvar cv = new Condvar();
    Thread waiter =
        new Thread(
            () -> {
              try (var g = flag.lock()) {
                cv.awaitWhile(g, v -> !v);
              } catch (InterruptedException e) {
                throw new AssertionError(e);
              }
            },
            "test-waiter");
    List<RecordedEvent> events;
    try {
      events =
          record(
              () -> {
                waiter.start();
                awaitParked(waiter);
                flag.update(v -> true);
                cv.notifyAllWaiters();
                waiter.join();
              });
    } finally {
      waiter.join();
    }
    RecordedEvent e = only(events, "dev.weft.ConditionWait", waiter);
    assertThat(e.getString("lockType")).isEqualTo("Mutex");
    assertThat(e.getString("lock")).isEqualTo(LockOrder.displayName(flag));
    assertThat(e.getString("method")).isEqualTo("Condvar.awaitWhile");
    assertThat(e.getLong("timeout")).as("untimed: N/A").isEqualTo(Long.MIN_VALUE);
    assertThat(e.getString("outcome")).isEqualTo("ready");
    assertThat(e.getDuration()).isPositive();
  }

  @Test
  void condvarTimedWaitThatTimesOut() throws Exception {
    Mutex<Boolean> flag = new Mutex<>(false);
    Condvar cv = new Condvar();
    List<RecordedEvent> events =
        record(
            () -> {
              try (var g = flag.lock()) {
                assertThat(cv.awaitWhile(g, v -> !v, Duration.ofMillis(20))).isFalse();
              }
            });
    RecordedEvent e = only(events, "dev.weft.ConditionWait", Thread.currentThread());
    assertThat(e.getString("outcome")).isEqualTo("timed out");
    assertThat(e.getLong("timeout")).isEqualTo(Duration.ofMillis(20).toNanos());
    assertThat(e.getDuration()).isGreaterThanOrEqualTo(Duration.ofMillis(15));
  }

  @Test
  void mutexLockWhenWait() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicReference<Integer> seen = new AtomicReference<>();
    Thread waiter =
        new Thread(
            () -> {
              try {
                seen.set(m.awaitThen(v -> v > 0, v -> v));
              } catch (InterruptedException e) {
                throw new AssertionError(e);
              }
            },
            "test-waiter");
    List<RecordedEvent> events;
    try {
      events =
          record(
              () -> {
                waiter.start();
                awaitParked(waiter);
                m.update(v -> 7);
                waiter.join();
              });
    } finally {
      waiter.join();
    }
    assertThat(seen.get()).isEqualTo(7);
    RecordedEvent e = only(events, "dev.weft.ConditionWait", waiter);
    assertThat(e.getString("method")).isEqualTo("Mutex.lockWhen");
    assertThat(e.getString("outcome")).isEqualTo("ready");
    assertThat(e.getString("lock")).isEqualTo(LockOrder.displayName(m));
  }

  // ---- initialisation ------------------------------------------------------------------

  @Test
  void lazyInitialisationCountsItsWaiters() throws Exception {
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    Lazy<String> lazy =
        Lazy.of(
            () -> {
              running.countDown();
              await(finish);
              return "v";
            });
    Thread init = new Thread(lazy::get, "test-init");
    Thread w1 = new Thread(lazy::get, "test-waiter-1");
    Thread w2 = new Thread(lazy::get, "test-waiter-2");
    List<RecordedEvent> events;
    try {
      events =
          record(
              () -> {
                init.start();
                await(running);
                w1.start();
                w2.start();
                awaitParked(w1);
                awaitParked(w2);
                finish.countDown();
                init.join();
                w1.join();
                w2.join();
              });
    } finally {
      finish.countDown();
      init.join();
      w1.join();
      w2.join();
    }
    RecordedEvent e = only(events, "dev.weft.OnceInit", init);
    assertThat(e.getString("cellType")).isEqualTo("Lazy");
    assertThat(e.getInt("waitingThreads")).isEqualTo(2);
    assertThat(e.getBoolean("failed")).isFalse();
    assertThat(e.getString("failure")).isNull();
    assertThat(e.getString("initialiser")).startsWith(JfrEventsTest.class.getName());
    assertThat(byName(events, "dev.weft.OnceInit")).hasSize(1); // the waiters ran nothing
  }

  @Test
  void failedInitialisationIsReported() throws Exception {
    Lazy<String> lazy =
        Lazy.of(
            () -> {
              throw new IllegalStateException("no config file");
            });
    OnceCell<String> cell = new OnceCell<>();
    List<RecordedEvent> events =
        record(
            () -> {
              assertThatThrownBy(lazy::get).isInstanceOf(IllegalStateException.class);
              assertThat(cell.getOrInit(() -> "x")).isEqualTo("x");
            });
    List<RecordedEvent> inits = byName(events, "dev.weft.OnceInit");
    assertThat(inits).hasSize(2);
    RecordedEvent failed = inits.get(0);
    assertThat(failed.getString("cellType")).isEqualTo("Lazy");
    assertThat(failed.getBoolean("failed")).isTrue();
    assertThat(failed.getString("failure"))
        .isEqualTo("java.lang.IllegalStateException: no config file");
    assertThat(failed.getInt("waitingThreads")).isZero();
    RecordedEvent ok = inits.get(1);
    assertThat(ok.getString("cellType")).isEqualTo("OnceCell");
    assertThat(ok.getBoolean("failed")).isFalse();
  }

  // ---- scopes ----------------------------------------------------------------------------

  @Test
  void scopeReportsThreadsPeakAndOutcome() throws Exception {
    CyclicBarrier allRunning = new CyclicBarrier(3);
    List<RecordedEvent> events =
        record(
            () ->
                Scope.run(
                    s -> {
                      for (int i = 0; i < 3; i++) {
                        s.spawn(() -> allRunning.await(10, TimeUnit.SECONDS));
                      }
                    }));
    RecordedEvent e = only(events, "dev.weft.Scope", Thread.currentThread());
    assertThat(e.getString("scope")).startsWith("weft-scope-");
    assertThat(e.getLong("threadsStarted")).isEqualTo(3);
    assertThat(e.getInt("peakConcurrency")).as("all three met at the barrier").isEqualTo(3);
    assertThat(e.getInt("maxConcurrency")).isZero();
    assertThat(e.getString("outcome")).isEqualTo("completed");
  }

  @Test
  void cappedFailingScope() throws Exception {
    List<RecordedEvent> events =
        record(
            () -> {
              try (Scope s = Scope.builder().maxConcurrency(1).open()) {
                for (int i = 0; i < 3; i++) {
                  int n = i;
                  s.spawn(
                      () -> {
                        if (n == 2) {
                          throw new IllegalArgumentException("bad row");
                        }
                      });
                }
                assertThatThrownBy(s::close).isInstanceOf(TaskFailedException.class);
              }
            });
    RecordedEvent e = only(events, "dev.weft.Scope", Thread.currentThread());
    assertThat(e.getLong("threadsStarted")).isEqualTo(3);
    assertThat(e.getInt("peakConcurrency")).isEqualTo(1);
    assertThat(e.getInt("maxConcurrency")).isEqualTo(1);
    assertThat(e.getString("outcome")).isEqualTo("task failed");
  }

  // ---- the guard, the settings file, the event metadata ----------------------------------

  @Test
  void theGuardDecidesFromTheModuleThePropertyAndTheClass() {
    Module unnamed = JfrEventsTest.class.getModule();
    Optional<Module> jfr = ModuleLayer.boot().findModule("jdk.jfr");
    assertThat(jfr).isPresent();
    assertThat(WeftJfr.AVAILABLE).isTrue();
    assertThat(WeftJfr.decide(null, unnamed, jfr, () -> true)).isTrue();
    assertThat(WeftJfr.decide("true", unnamed, jfr, () -> true)).isTrue();
    assertThat(WeftJfr.decide("false", unnamed, jfr, () -> true)).isFalse();
    assertThat(WeftJfr.decide("OFF", unnamed, jfr, () -> true)).isFalse();
    assertThat(WeftJfr.decide(null, unnamed, Optional.empty(), () -> true))
        .as("no jdk.jfr in the runtime")
        .isFalse();
    // java.logging does not read jdk.jfr (java.base may: JFR adds that edge once it records).
    Module logging = ModuleLayer.boot().findModule("java.logging").orElseThrow();
    assertThat(logging.canRead(jfr.get())).isFalse();
    assertThat(WeftJfr.decide(null, logging, jfr, () -> true))
        .as("a named module that does not read jdk.jfr")
        .isFalse();
    assertThat(WeftJfr.decide(null, unnamed, jfr, () -> false)).as("class not loadable").isFalse();
    assertThat(WeftJfr.decide(null, unnamed, Optional.empty(), () -> {
      throw new AssertionError("the probe is asked last");
    })).isFalse();
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void weftWorksWithoutJdkJfrInAForkedJvm() throws Exception {
    String out = fork("--limit-modules", "java.base");
    assertThat(out).contains("jdk.jfr present: false", "AVAILABLE=false", "OK");
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void thePropertySwitchesTheEventsOffInAForkedJvm() throws Exception {
    String out = fork("-Ddev.weft.jfr=false");
    assertThat(out).contains("jdk.jfr present: true", "AVAILABLE=false", "OK");
  }

  @Test
  void theShippedSettingsFileNamesEveryEventWithA20msThreshold() throws Exception {
    Configuration c;
    try (Reader r =
        new InputStreamReader(
            Objects.requireNonNull(
                WeftJfr.class.getResourceAsStream("/dev/weft/weft.jfc"), "weft.jfc on the path"),
            StandardCharsets.UTF_8)) {
      c = Configuration.create(r);
    }
    Map<String, String> settings = c.getSettings();
    for (String name : EVENTS) {
      assertThat(settings).containsEntry(name + "#enabled", "true");
      assertThat(settings).containsEntry(name + "#threshold", "20 ms");
      assertThat(settings).containsEntry(name + "#stackTrace", "true");
    }
    assertThat(c.getLabel()).isEqualTo("weft");
    assertThat(c.getProvider()).isEqualTo("dev.weft");
  }

  @Test
  void eventsAreRegisteredWithLabelsCategoriesAndDefaultThresholds() throws Exception {
    // Touch each event class so that it registers.
    record(() -> {});
    new WeftEvents.ParallelEvent(); // Parallel's hook is added by ParallelJob's owner
    List<String> seen = new ArrayList<>();
    for (EventType t : FlightRecorder.getFlightRecorder().getEventTypes()) {
      if (t.getName().startsWith("dev.weft.")) {
        seen.add(t.getName());
        assertThat(t.getLabel()).startsWith("weft ");
        assertThat(t.getDescription()).isNotBlank();
        assertThat(t.getCategoryNames().get(0)).isEqualTo("weft");
        assertThat(t.getSettingDescriptors())
            .anySatisfy(
                d -> {
                  assertThat(d.getName()).isEqualTo("threshold");
                  assertThat(d.getDefaultValue()).isEqualTo("20 ms");
                });
      }
    }
    assertThat(seen).contains(EVENTS);
  }

  @Test
  void theParallelHelperRecordsItsFields() throws Exception {
    List<RecordedEvent> events =
        record(
            () -> {
              Object token = WeftJfr.parallelBegin();
              WeftJfr.parallelEnd(token, 1000, 2, "split", 1_000_000L, 5_000_000L);
              Object none = WeftJfr.parallelBegin();
              WeftJfr.parallelEnd(none, 10, 1, "alone: single-threaded", -1L, -1L);
            });
    List<RecordedEvent> ps = byName(events, "dev.weft.Parallel");
    assertThat(ps).hasSize(2);
    assertThat(ps.get(0).getLong("elements")).isEqualTo(1000);
    assertThat(ps.get(0).getInt("threads")).isEqualTo(2);
    assertThat(ps.get(0).getString("decision")).isEqualTo("split");
    assertThat(ps.get(0).getLong("cutoff")).isEqualTo(1_000_000L);
    assertThat(ps.get(0).getLong("estimate")).isEqualTo(5_000_000L);
    assertThat(ps.get(1).getLong("cutoff")).isEqualTo(Long.MIN_VALUE);
  }

  @Test
  void aParallelCallRecordsWhatItDecided() throws Exception {
    long[] big = new long[200_000];
    java.util.function.LongUnaryOperator heavy = x -> {
      long acc = x;
      for (int i = 0; i < 200; i++) {
        acc = acc * 7 + 13;
      }
      return acc;
    };
    List<RecordedEvent> events =
        record(
            () -> {
              // Forced split (cut-off zero, two threads) and a call alone (threads(1)).
              Parallel.map(big, heavy,
                  Parallel.options().threads(2).sequentialCutoff(java.time.Duration.ZERO));
              Parallel.map(big, heavy, Parallel.options().threads(1));
            });
    List<RecordedEvent> ps = byName(events, "dev.weft.Parallel");
    // threads(1) runs inline (no job), so only the split call is recorded.
    assertThat(ps).hasSize(1);
    assertThat(ps.get(0).getLong("elements")).isEqualTo(200_000);
    assertThat(ps.get(0).getString("decision")).isEqualTo("split");
    assertThat(ps.get(0).getInt("threads")).isEqualTo(2);
    assertThat(ps.get(0).getLong("cutoff")).isZero();
  }

  // ---- helpers ---------------------------------------------------------------------------

  interface Action {
    void run() throws Exception;
  }

  /**
   * A holder takes the lock on its thread; a waiter asks for it and is let wait until it is
   * parked; the holder releases; the waiter's event is returned. The holder thread stays
   * alive until the recording has stopped.
   */
  private static RecordedEvent contended(
      Action hold, Action release, Action acquire, Action releaseWaiter, String event)
      throws Exception {
    return contended(hold, release, acquire, releaseWaiter, event, false);
  }

  private static RecordedEvent contended(
      Action hold,
      Action release,
      Action acquire,
      Action releaseWaiter,
      String event,
      boolean readHolder)
      throws Exception {
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch letGo = new CountDownLatch(1);
    CountDownLatch end = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread holder =
        new Thread(
            () -> {
              try {
                hold.run();
                held.countDown();
                await(letGo);
                release.run();
                await(end);
              } catch (Throwable t) {
                failure.set(t);
                held.countDown();
              }
            },
            "test-holder");
    Thread waiter =
        new Thread(
            () -> {
              try {
                acquire.run();
                releaseWaiter.run();
              } catch (Throwable t) {
                failure.set(t);
              }
            },
            "test-waiter");
    List<RecordedEvent> events;
    try {
      events =
          record(
              () -> {
                holder.start();
                await(held);
                waiter.start();
                awaitParked(waiter);
                letGo.countDown();
                waiter.join();
              });
    } finally {
      letGo.countDown();
      end.countDown();
      waiter.join();
      holder.join();
    }
    assertThat(failure.get()).isNull();
    RecordedEvent e = only(events, event, waiter);
    // The holder is known for an exclusive or write holder; a read holder is not recorded.
    assertThat(holderName(e)).isEqualTo(readHolder ? null : holder.getName());
    assertThat(e.getString("holderName")).isEqualTo(readHolder ? null : holder.getName());
    assertThat(byName(events, event)).as("the holder never waited").hasSize(1);
    return e;
  }

  private static void assertLockEvent(
      RecordedEvent e, String type, Object lock, String access, String outcome) {
    assertThat(e.getString("lockType")).isEqualTo(type);
    assertThat(e.getString("lock")).isEqualTo(LockOrder.displayName(lock));
    assertThat(e.getString("lock")).startsWith(type + "@");
    assertThat(e.getString("access")).isEqualTo(access);
    assertThat(e.getString("outcome")).isEqualTo(outcome);
    assertThat(e.getDuration()).isPositive();
    assertThat(e.getStackTrace()).isNotNull();
  }

  private static @org.jspecify.annotations.Nullable String holderName(RecordedEvent e) {
    RecordedThread t = e.getThread("holder");
    return t == null ? null : t.getJavaName();
  }

  /** Records every dev.weft event with threshold 0 while {@code action} runs. */
  private static List<RecordedEvent> record(Action action) throws Exception {
    try (Recording r = new Recording()) {
      for (String name : EVENTS) {
        r.enable(name).withThreshold(Duration.ZERO).withStackTrace();
      }
      return JfrAdversarialTestSupport.recordDuring(r, action::run);
    }
  }

  private static List<RecordedEvent> byName(List<RecordedEvent> events, String name) {
    List<RecordedEvent> out = new ArrayList<>();
    for (RecordedEvent e : events) {
      if (e.getEventType().getName().equals(name)) {
        out.add(e);
      }
    }
    return out;
  }

  private static RecordedEvent only(List<RecordedEvent> events, String name, Thread on) {
    List<RecordedEvent> mine = new ArrayList<>();
    for (RecordedEvent e : byName(events, name)) {
      RecordedThread t = e.getThread();
      if (t != null && t.getJavaThreadId() == on.getId()) {
        mine.add(e);
      }
    }
    assertThat(mine).as(name + " on " + on.getName() + " in " + events).hasSize(1);
    return mine.get(0);
  }

  /** Waits (bounded by the test's timeout) until {@code t} is parked or blocked. */
  private static void awaitParked(Thread t) {
    while (true) {
      Thread.State s = t.getState();
      if (s == Thread.State.WAITING
          || s == Thread.State.TIMED_WAITING
          || s == Thread.State.BLOCKED) {
        return;
      }
      if (s == Thread.State.TERMINATED) {
        throw new AssertionError(t.getName() + " ended without waiting");
      }
      Thread.onSpinWait();
    }
  }

  private static void await(CountDownLatch l) {
    try {
      if (!l.await(20, TimeUnit.SECONDS)) {
        throw new AssertionError("latch not released in 20 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private static String fork(String... jvmOptions) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(System.getProperty("java.home") + "/bin/java");
    cmd.addAll(List.of(jvmOptions));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(JfrForkedMain.class.getName());
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      assertThat(p.waitFor(50, TimeUnit.SECONDS)).as("the forked JVM ends").isTrue();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.exitValue()).as(out).isZero();
      return out;
    } finally {
      p.destroyForcibly();
    }
  }
}
