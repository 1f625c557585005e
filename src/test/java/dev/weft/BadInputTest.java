package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.IntPredicate;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Bad input table: every public method of every public type gets its bad inputs (nulls, zero or
 * negative counts, negative and huge timeouts, misuse orders). Each row asserts the documented
 * exception type, that the message names the parameter or says what happened, and that the
 * object was not half-changed (an "after" check that it still works). A second table checks that
 * extreme but legal timeouts neither overflow nor wait: a huge timeout on something available
 * returns at once, a negative one checks once.
 */
@SuppressWarnings({"NullAway", "try"}) // nulls on purpose; guards that only bracket a check
final class BadInputTest {
  private static final Duration NEG = Duration.ofSeconds(-1);
  private static final Duration HUGE = Duration.ofSeconds(Long.MAX_VALUE);
  private static final Duration MIN = Duration.ofSeconds(Long.MIN_VALUE);

  @FunctionalInterface
  interface Action {
    void run() throws Exception;
  }

  /** A row: the call, the documented exception, words its message must contain, a check after. */
  record Bad(String name, Class<? extends Throwable> type, List<String> words, Action call,
      Action after) {
    @Override
    public String toString() {
      return name;
    }
  }

  /** A row of the boundary table: the call asserts its own outcome. */
  record Edge(String name, Action call) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static final Action NOTHING = () -> { };

  private static Bad npe(String name, String param, Action call, Action after) {
    return new Bad(name + " [null " + param + "]", NullPointerException.class, List.of(param),
        call, after);
  }

  private static Bad bad(String name, Class<? extends Throwable> type, String words, Action call,
      Action after) {
    return new Bad(name, type, List.of(words.split("\\|")), call, after);
  }

  /** Runs {@code a} on a fresh thread and returns what it threw (null if nothing). */
  static @Nullable Throwable onOtherThread(Action a) throws InterruptedException {
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    Thread t = new Thread(() -> {
      try {
        a.run();
      } catch (Throwable e) { // hand every outcome back to the test thread
        thrown.set(e);
      }
    }, "test-bad-other");
    t.start();
    t.join(TimeUnit.SECONDS.toMillis(10));
    assertThat(t.isAlive()).as("foreign-thread call must not hang").isFalse();
    return thrown.get();
  }

  /** Runs {@code a} on another thread and rethrows what it threw there. */
  static void other(Action a) throws Exception {
    Throwable e = onOtherThread(a);
    if (e instanceof Exception x) {
      throw x;
    }
    if (e instanceof Error x) {
      throw x;
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("badInputs")
  @Timeout(10)
  void rejects(Bad row) throws Exception {
    assertThatThrownBy(row.call()::run)
        .as(row.name())
        .isInstanceOf(row.type())
        .satisfies(e -> {
          String msg = String.valueOf(e.getMessage()).toLowerCase(Locale.ROOT);
          assertThat(row.words())
              .as("%s: message \"%s\" should say one of %s", row.name(), e.getMessage(),
                  row.words())
              .anyMatch(w -> msg.contains(w.toLowerCase(Locale.ROOT)));
        });
    row.after().run();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("edges")
  @Timeout(10)
  void extremeButLegal(Edge row) throws Exception {
    long t0 = System.nanoTime();
    row.call().run();
    assertThat(System.nanoTime() - t0).as("%s must not wait", row.name())
        .isLessThan(TimeUnit.SECONDS.toNanos(5));
  }

  // =============================================================== the bad input table

  static Stream<Bad> badInputs() {
    List<Bad> rows = new ArrayList<>();
    mutex(rows);
    rwLock(rows);
    lock(rows, "SpinLock", SpinLock::new, l -> ((SpinLock) l).acquire());
    lock(rows, "TicketLock", TicketLock::new, l -> ((TicketLock) l).acquire());
    seqLock(rows);
    seqCount(rows);
    seqLocked(rows);
    lazy(rows);
    onceCell(rows);
    condvar(rows);
    scope(rows);
    parallel(rows);
    exceptions(rows);
    conditions(rows);
    interrupts(rows);
    remembered(rows);
    return rows.stream();
  }

  private static void mutex(List<Bad> rows) {
    Function<Mutex<String>, Action> works = m -> () -> {
      assertThat(m.isLocked()).as("Mutex left locked").isFalse();
      try (Mutex.Guard<String> g = m.lock()) {
        assertThat(g.get()).isEqualTo("v");
      }
    };
    Mutex<String> m = new Mutex<>("v");
    Action ok = works.apply(m);
    rows.add(npe("Mutex.tryLock(Duration)", "timeout", () -> m.tryLock(null), ok));
    rows.add(npe("Mutex.with", "fn", () -> m.with(null), ok));
    rows.add(npe("Mutex.update", "fn", () -> m.update(null), ok));
    rows.add(npe("Mutex.lockWhen(ready)", "ready", () -> m.lockWhen(null), ok));
    rows.add(npe("Mutex.lockWhen(ready, Duration)", "ready",
        () -> m.lockWhen(null, Duration.ZERO), ok));
    rows.add(npe("Mutex.lockWhen(ready, Duration)", "timeout",
        () -> m.lockWhen(v -> true, (Duration) null), ok));
    rows.add(npe("Mutex.lockWhen(ready, Instant)", "ready",
        () -> m.lockWhen(null, Instant.now()), ok));
    rows.add(npe("Mutex.lockWhen(ready, Instant)", "deadline",
        () -> m.lockWhen(v -> true, (Instant) null), ok));
    rows.add(npe("Mutex.lockWhenUninterruptibly", "ready", () -> m.lockWhenUninterruptibly(null),
        ok));
    rows.add(npe("Mutex.awaitThen", "ready", () -> m.awaitThen(null, v -> v), ok));
    rows.add(npe("Mutex.awaitThen", "action", () -> m.awaitThen(v -> true, null), ok));

    // Relock by the owner: every acquiring method throws, the lock stays held, then releases.
    List<Bad> relocks = new ArrayList<>();
    String[] names = {"lock", "lockInterruptibly", "tryLock", "tryLock(Duration)", "with",
        "update", "lockWhen", "lockWhen(Duration)", "lockWhenUninterruptibly", "awaitThen"};
    for (String name : names) {
      Mutex<String> mm = new Mutex<>("v");
      Action reacquire = switch (name) {
        case "lock" -> mm::lock;
        case "lockInterruptibly" -> mm::lockInterruptibly;
        case "tryLock" -> mm::tryLock;
        case "tryLock(Duration)" -> () -> mm.tryLock(HUGE);
        case "with" -> () -> mm.with(v -> v);
        case "update" -> () -> mm.update(v -> v + "x");
        case "lockWhen" -> () -> mm.lockWhen(v -> true);
        case "lockWhen(Duration)" -> () -> mm.lockWhen(v -> true, HUGE);
        case "lockWhenUninterruptibly" -> () -> mm.lockWhenUninterruptibly(v -> true);
        default -> () -> mm.awaitThen(v -> true, v -> v);
      };
      AtomicReference<Mutex.@Nullable Guard<String>> held = new AtomicReference<>();
      relocks.add(bad("Mutex." + name + " by the holder (not reentrant)",
          IllegalStateException.class, "already|reentrant|holds",
          () -> {
            held.set(mm.lock());
            reacquire.run();
          },
          () -> {
            Mutex.Guard<String> g = held.get();
            assertThat(g).isNotNull();
            assertThat(mm.isHeldByCurrentThread()).as("still held after the rejected relock")
                .isTrue();
            assertThat(g.get()).as("value unchanged").isEqualTo("v");
            g.close();
            works.apply(mm).run();
          }));
    }
    rows.addAll(relocks);

    // Guard misuse.
    Mutex<String> m2 = new Mutex<>("v");
    rows.add(bad("Mutex.Guard.close twice", IllegalStateException.class, "already closed",
        () -> {
          Mutex.Guard<String> g = m2.lock();
          g.close();
          g.close();
        }, works.apply(m2)));
    rows.add(bad("Mutex.Guard.get after close", IllegalStateException.class, "closed",
        () -> {
          Mutex.Guard<String> g = m2.lock();
          g.close();
          g.get();
        }, works.apply(m2)));
    rows.add(bad("Mutex.Guard.set after close", IllegalStateException.class, "closed",
        () -> {
          Mutex.Guard<String> g = m2.lock();
          g.close();
          g.set("changed");
        }, works.apply(m2)));
    AtomicReference<Mutex.@Nullable Guard<String>> foreign = new AtomicReference<>();
    Mutex<String> m3 = new Mutex<>("v");
    Action closeForeign = () -> {
      Mutex.Guard<String> g = foreign.get();
      assertThat(m3.isHeldByCurrentThread()).as("owner still holds it").isTrue();
      if (g != null) {
        g.close();
      }
      works.apply(m3).run();
    };
    rows.add(bad("Mutex.Guard.close from another thread", IllegalMonitorStateException.class,
        "thread|owner", () -> {
          foreign.set(m3.lock());
          other(() -> foreign.get().close());
        }, closeForeign));
    rows.add(bad("Mutex.Guard.get from another thread", IllegalMonitorStateException.class,
        "thread|owner", () -> {
          foreign.set(m3.lock());
          other(() -> foreign.get().get());
        }, closeForeign));
    rows.add(bad("Mutex.Guard.set from another thread", IllegalMonitorStateException.class,
        "thread|owner", () -> {
          foreign.set(m3.lock());
          other(() -> foreign.get().set("changed"));
        }, closeForeign));
  }

  private static void rwLock(List<Bad> rows) {
    RwLock<String> rw = new RwLock<>("v");
    Action ok = () -> {
      assertThat(rw.isWriteLocked()).isFalse();
      assertThat(rw.readLockCount()).isZero();
      try (RwLock.WriteGuard<String> g = rw.write()) {
        assertThat(g.get()).isEqualTo("v");
      }
    };
    rows.add(npe("RwLock.tryRead(Duration)", "timeout", () -> rw.tryRead(null), ok));
    rows.add(npe("RwLock.tryWrite(Duration)", "timeout", () -> rw.tryWrite(null), ok));
    rows.add(npe("RwLock.withRead", "fn", () -> rw.withRead(null), ok));
    rows.add(npe("RwLock.withWrite", "fn", () -> rw.withWrite(null), ok));
    rows.add(npe("RwLock.update", "fn", () -> rw.update(null), ok));

    String[] upgrades = {"write", "writeInterruptibly", "tryWrite", "tryWrite(Duration)",
        "withWrite", "update"};
    for (String name : upgrades) {
      RwLock<String> l = new RwLock<>("v");
      Action upgrade = switch (name) {
        case "write" -> l::write;
        case "writeInterruptibly" -> l::writeInterruptibly;
        case "tryWrite" -> l::tryWrite;
        case "tryWrite(Duration)" -> () -> l.tryWrite(HUGE);
        case "withWrite" -> () -> l.withWrite(v -> v);
        default -> () -> l.update(v -> v + "x");
      };
      AtomicReference<RwLock.@Nullable ReadGuard<String>> held = new AtomicReference<>();
      rows.add(bad("RwLock." + name + " while holding the read lock (no upgrade)",
          IllegalStateException.class, "read|upgrade|holds", () -> {
            held.set(l.read());
            upgrade.run();
          }, () -> {
            assertThat(l.readLockCount()).isEqualTo(1);
            held.get().close();
            assertThat(l.readLockCount()).isZero();
            assertThat(l.<String>withWrite(v -> v)).isEqualTo("v");
          }));
    }
    String[] reentries = {"read", "readInterruptibly", "tryRead", "tryRead(Duration)",
        "withRead", "write", "tryWrite"};
    for (String name : reentries) {
      RwLock<String> l = new RwLock<>("v");
      Action again = switch (name) {
        case "read" -> l::read;
        case "readInterruptibly" -> l::readInterruptibly;
        case "tryRead" -> l::tryRead;
        case "tryRead(Duration)" -> () -> l.tryRead(HUGE);
        case "withRead" -> () -> l.withRead(v -> v);
        case "write" -> l::write;
        default -> l::tryWrite;
      };
      AtomicReference<RwLock.@Nullable WriteGuard<String>> held = new AtomicReference<>();
      rows.add(bad("RwLock." + name + " while holding the write lock",
          IllegalStateException.class, "write|holds|reentrant", () -> {
            held.set(l.write());
            again.run();
          }, () -> {
            assertThat(l.isWriteLocked()).isTrue();
            held.get().close();
            assertThat(l.isWriteLocked()).isFalse();
            assertThat(l.readLockCount()).isZero();
            assertThat(l.<String>withRead(v -> v)).isEqualTo("v");
          }));
    }
    RwLock<String> l2 = new RwLock<>("v");
    Action ok2 = () -> {
      assertThat(l2.isWriteLocked()).isFalse();
      assertThat(l2.readLockCount()).isZero();
      assertThat(l2.<String>withWrite(v -> v)).isEqualTo("v");
    };
    rows.add(bad("RwLock.ReadGuard.close twice", IllegalStateException.class, "already closed",
        () -> {
          RwLock.ReadGuard<String> g = l2.read();
          g.close();
          g.close();
        }, ok2));
    rows.add(bad("RwLock.ReadGuard.get after close", IllegalStateException.class, "closed",
        () -> {
          RwLock.ReadGuard<String> g = l2.read();
          g.close();
          g.get();
        }, ok2));
    rows.add(bad("RwLock.WriteGuard.close twice", IllegalStateException.class, "already closed",
        () -> {
          RwLock.WriteGuard<String> g = l2.write();
          g.close();
          g.close();
        }, ok2));
    rows.add(bad("RwLock.WriteGuard.set after close", IllegalStateException.class, "closed",
        () -> {
          RwLock.WriteGuard<String> g = l2.write();
          g.close();
          g.set("changed");
        }, ok2));
    rows.add(bad("RwLock.WriteGuard.get after close", IllegalStateException.class, "closed",
        () -> {
          RwLock.WriteGuard<String> g = l2.write();
          g.close();
          g.get();
        }, ok2));
    AtomicReference<RwLock.@Nullable ReadGuard<String>> rg = new AtomicReference<>();
    rows.add(bad("RwLock.ReadGuard.close from another thread",
        IllegalMonitorStateException.class, "thread|owner", () -> {
          rg.set(l2.read());
          other(() -> rg.get().close());
        }, () -> {
          assertThat(l2.readLockCount()).isEqualTo(1);
          rg.get().close();
          ok2.run();
        }));
    rows.add(bad("RwLock.ReadGuard.get from another thread",
        IllegalMonitorStateException.class, "thread|owner", () -> {
          rg.set(l2.read());
          other(() -> rg.get().get());
        }, () -> {
          rg.get().close();
          ok2.run();
        }));
    AtomicReference<RwLock.@Nullable WriteGuard<String>> wg = new AtomicReference<>();
    rows.add(bad("RwLock.WriteGuard.close from another thread",
        IllegalMonitorStateException.class, "thread|owner", () -> {
          wg.set(l2.write());
          other(() -> wg.get().close());
        }, () -> {
          assertThat(l2.isWriteLocked()).isTrue();
          wg.get().close();
          ok2.run();
        }));
    rows.add(bad("RwLock.WriteGuard.get from another thread",
        IllegalMonitorStateException.class, "thread|owner", () -> {
          wg.set(l2.write());
          other(() -> wg.get().get());
        }, () -> {
          wg.get().close();
          ok2.run();
        }));
    rows.add(bad("RwLock.WriteGuard.set from another thread",
        IllegalMonitorStateException.class, "thread|owner", () -> {
          wg.set(l2.write());
          other(() -> wg.get().set("changed"));
        }, () -> {
          assertThat(wg.get().get()).isEqualTo("v");
          wg.get().close();
          ok2.run();
        }));
  }

  private static void lock(List<Bad> rows, String type, Supplier<Lock> make,
      Function<Lock, AutoCloseable> acquire) {
    Lock l = make.get();
    Action ok = () -> {
      assertThat(l.tryLock()).as(type + " must be free again").isTrue();
      l.unlock();
    };
    rows.add(npe(type + ".tryLock(long, TimeUnit)", "unit", () -> l.tryLock(1, null), ok));
    Action tryDuration = type.equals("SpinLock")
        ? () -> ((SpinLock) l).tryLock((Duration) null)
        : () -> ((TicketLock) l).tryLock((Duration) null);
    rows.add(npe(type + ".tryLock(Duration)", "timeout", tryDuration, ok));
    rows.add(bad(type + ".unlock when nobody holds it", IllegalMonitorStateException.class,
        "not held by this thread", l::unlock, ok));
    rows.add(bad(type + ".unlock by a non-owner", IllegalMonitorStateException.class,
        "not held by this thread", () -> {
          l.lock();
          try {
            other(l::unlock);
          } finally {
            l.unlock(); // must still be ours to release
          }
        }, ok));
    String[] relocks = {"lock", "lockInterruptibly", "tryLock", "tryLock(long, TimeUnit)",
        "acquire"};
    for (String name : relocks) {
      Action again = switch (name) {
        case "lock" -> l::lock;
        case "lockInterruptibly" -> l::lockInterruptibly;
        case "tryLock" -> l::tryLock;
        case "tryLock(long, TimeUnit)" -> () -> l.tryLock(Long.MAX_VALUE, TimeUnit.DAYS);
        default -> () -> acquire.apply(l).close();
      };
      rows.add(bad(type + "." + name + " by the holder (not reentrant)",
          IllegalStateException.class, "reentrant|already", () -> {
            l.lock();
            try {
              again.run();
            } finally {
              l.unlock(); // still held exactly once
            }
          }, ok));
    }
    rows.add(bad(type + ".Guard.close twice", IllegalStateException.class, "already closed",
        () -> {
          AutoCloseable g = acquire.apply(l);
          g.close();
          g.close();
        }, ok));
    AtomicReference<@Nullable AutoCloseable> held = new AtomicReference<>();
    rows.add(bad(type + ".Guard.close from another thread", IllegalMonitorStateException.class,
        "thread|owner|hold", () -> {
          held.set(acquire.apply(l));
          other(() -> held.get().close());
        }, () -> {
          held.get().close(); // the owner can still release it
          ok.run();
        }));
  }

  private static void seqLock(List<Bad> rows) {
    SeqLock s = new SeqLock();
    Action ok = () -> {
      assertThat(s.isWriteLocked()).isFalse();
      try (SeqLock.WriteGuard g = s.write()) {
        assertThat(s.isWriteLockedByCurrentThread()).isTrue();
      }
    };
    rows.add(npe("SeqLock.read(Supplier)", "reader", () -> s.read(null), ok));
    rows.add(npe("SeqLock.readInt(IntSupplier)", "reader", () -> s.readInt(null), ok));
    rows.add(npe("SeqLock.readLong(LongSupplier)", "reader", () -> s.readLong(null), ok));
    rows.add(npe("SeqLock.read(source, fn)", "source", () -> s.read(null, x -> x), ok));
    rows.add(npe("SeqLock.read(source, fn)", "reader", () -> s.read("a", null), ok));
    rows.add(npe("SeqLock.readInt(source, fn)", "source", () -> s.readInt(null, x -> 1), ok));
    rows.add(npe("SeqLock.readInt(source, fn)", "reader", () -> s.readInt("a", null), ok));
    rows.add(npe("SeqLock.readLong(source, fn)", "source", () -> s.readLong(null, x -> 1L), ok));
    rows.add(npe("SeqLock.readLong(source, fn)", "reader", () -> s.readLong("a", null), ok));
    rows.add(npe("SeqLock.tryWrite(Duration)", "timeout", () -> s.tryWrite(null), ok));
    String[] relocks = {"write", "writeUninterruptibly", "tryWrite", "tryWrite(Duration)"};
    for (String name : relocks) {
      Action again = switch (name) {
        case "write" -> s::write;
        case "writeUninterruptibly" -> s::writeUninterruptibly;
        case "tryWrite" -> s::tryWrite;
        default -> () -> s.tryWrite(HUGE);
      };
      rows.add(bad("SeqLock." + name + " by the writer (not reentrant)",
          IllegalStateException.class, "reentrant|already", () -> {
            try (SeqLock.WriteGuard g = s.write()) {
              again.run();
            }
          }, ok));
    }
    rows.add(bad("SeqLock.WriteGuard.close twice", IllegalStateException.class,
        "already closed", () -> {
          SeqLock.WriteGuard g = s.write();
          g.close();
          g.close();
        }, ok));
    AtomicReference<SeqLock.@Nullable WriteGuard> held = new AtomicReference<>();
    rows.add(bad("SeqLock.WriteGuard.close from another thread",
        IllegalMonitorStateException.class, "thread|hold|owner|writer", () -> {
          held.set(s.write());
          other(() -> held.get().close());
        }, () -> {
          assertThat(s.isWriteLockedByCurrentThread()).isTrue();
          held.get().close();
          ok.run();
        }));
  }

  private static void seqCount(List<Bad> rows) {
    SeqCount c = new SeqCount();
    Action ok = () -> {
      assertThat(c.isWriting()).isFalse();
      try (SeqCount.WriteGuard g = c.write()) {
        assertThat(c.isWriting()).isTrue();
      }
      assertThat(c.validate(c.beginRead())).isTrue();
    };
    rows.add(npe("SeqCount.read(Supplier)", "reader", () -> c.read(null), ok));
    rows.add(npe("SeqCount.readInt(IntSupplier)", "reader", () -> c.readInt(null), ok));
    rows.add(npe("SeqCount.readLong(LongSupplier)", "reader", () -> c.readLong(null), ok));
    rows.add(npe("SeqCount.read(source, fn)", "source", () -> c.read(null, x -> x), ok));
    rows.add(npe("SeqCount.read(source, fn)", "reader", () -> c.read("a", null), ok));
    rows.add(npe("SeqCount.readInt(source, fn)", "source", () -> c.readInt(null, x -> 1), ok));
    rows.add(npe("SeqCount.readInt(source, fn)", "reader", () -> c.readInt("a", null), ok));
    rows.add(npe("SeqCount.readLong(source, fn)", "source", () -> c.readLong(null, x -> 1L),
        ok));
    rows.add(npe("SeqCount.readLong(source, fn)", "reader", () -> c.readLong("a", null), ok));
    rows.add(bad("SeqCount.write by the writer (not reentrant)", IllegalStateException.class,
        "reentrant", () -> {
          try (SeqCount.WriteGuard g = c.write()) {
            c.write();
          }
        }, ok));
    rows.add(bad("SeqCount.write by a second, concurrent writer", IllegalStateException.class,
        "concurrent writers", () -> {
          try (SeqCount.WriteGuard g = c.write()) {
            other(c::write);
          }
        }, ok));
    rows.add(bad("SeqCount.WriteGuard.close twice", IllegalStateException.class,
        "already closed", () -> {
          SeqCount.WriteGuard g = c.write();
          g.close();
          g.close();
        }, ok));
    AtomicReference<SeqCount.@Nullable WriteGuard> held = new AtomicReference<>();
    rows.add(bad("SeqCount.WriteGuard.close from another thread",
        IllegalMonitorStateException.class, "not the writer", () -> {
          held.set(c.write());
          other(() -> held.get().close());
        }, () -> {
          assertThat(c.isWriting()).isTrue();
          held.get().close();
          ok.run();
        }));
  }

  private static void seqLocked(List<Bad> rows) {
    SeqLocked<int[]> cell = new SeqLocked<>(new int[] {7});
    Action ok = () -> {
      assertThat(cell.readInt(a -> a[0])).as("value unchanged").isEqualTo(7);
      cell.write(a -> { });
    };
    rows.add(npe("SeqLocked.<init>", "value", () -> new SeqLocked<>(null), NOTHING));
    rows.add(npe("SeqLocked.read", "reader", () -> cell.read(null), ok));
    rows.add(npe("SeqLocked.readInt", "reader", () -> cell.readInt(null), ok));
    rows.add(npe("SeqLocked.readLong", "reader", () -> cell.readLong(null), ok));
    rows.add(npe("SeqLocked.write", "writer", () -> cell.write(null), ok));
    rows.add(npe("SeqLocked.writeUninterruptibly", "writer",
        () -> cell.writeUninterruptibly(null), ok));
    rows.add(bad("SeqLocked.write inside a write (not reentrant)", IllegalStateException.class,
        "reentrant|already|inside", () -> cell.write(a -> cell.writeUninterruptibly(b -> { })),
        ok));
  }

  private static void lazy(List<Bad> rows) {
    rows.add(npe("Lazy.of(supplier)", "supplier", () -> Lazy.of(null), NOTHING));
    rows.add(npe("Lazy.of(supplier, policy)", "supplier",
        () -> Lazy.of(null, Lazy.FailurePolicy.RETRY), NOTHING));
    rows.add(npe("Lazy.of(supplier, policy)", "policy", () -> Lazy.of(() -> "x", null),
        NOTHING));
    AtomicReference<@Nullable Lazy<String>> self = new AtomicReference<>();
    AtomicBoolean recurse = new AtomicBoolean(true);
    Lazy<String> lazy = Lazy.of(() -> recurse.getAndSet(false) ? self.get().get() : "ok");
    self.set(lazy);
    rows.add(bad("Lazy.get from its own supplier (recursive init)", IllegalStateException.class,
        "recursive", lazy::get, () -> {
          assertThat(lazy.isInitialized()).as("not initialised by the failed attempt").isFalse();
          assertThat(lazy.get()).as("RETRY: a later get initialises").isEqualTo("ok");
        }));
  }

  private static void onceCell(List<Bad> rows) {
    OnceCell<String> empty = new OnceCell<>();
    Action stillEmpty = () -> {
      assertThat(empty.isSet()).as("still empty").isFalse();
      assertThat(empty.await(Duration.ZERO)).isFalse();
    };
    rows.add(npe("OnceCell.<init>(policy)", "policy", () -> new OnceCell<>(null), NOTHING));
    rows.add(npe("OnceCell.getOrInit", "initializer", () -> empty.getOrInit(null), stillEmpty));
    rows.add(npe("OnceCell.await(Duration)", "timeout", () -> empty.await(null), stillEmpty));
    rows.add(bad("OnceCell.orElseThrow on an empty cell", NoSuchElementException.class,
        "not set|unset|empty|no value", empty::orElseThrow, stillEmpty));
    rows.add(bad("OnceCell.getOrInit from its own initialiser", IllegalStateException.class,
        "recursive", () -> empty.getOrInit(() -> empty.getOrInit(() -> "inner")), stillEmpty));
    rows.add(bad("OnceCell.await from its own initialiser", IllegalStateException.class,
        "recursive|initialiser", () -> empty.getOrInit(() -> {
          try {
            return empty.await();
          } catch (InterruptedException e) {
            throw new AssertionError(e);
          }
        }), stillEmpty));
    rows.add(bad("OnceCell.awaitUninterruptibly from its own initialiser",
        IllegalStateException.class, "recursive|initialiser",
        () -> empty.getOrInit(empty::awaitUninterruptibly), stillEmpty));
    OnceCell<String> set = new OnceCell<>();
    set.set("first");
    rows.add(bad("OnceCell.set twice", IllegalStateException.class, "already",
        () -> set.set("second"), () -> {
          assertThat(set.orElseThrow()).as("first value kept").isEqualTo("first");
          assertThat(set.trySet("third")).isFalse();
        }));
  }

  private static void condvar(List<Bad> rows) {
    Condvar cv = new Condvar();
    Mutex<Integer> m = new Mutex<>(0);
    Action ok = () -> {
      assertThat(m.isLocked()).as("mutex released").isFalse();
      try (Mutex.Guard<Integer> g = m.lock()) {
        assertThat(cv.awaitWhile(g, v -> false, Duration.ZERO)).isTrue();
      }
      assertThat(cv.hasWaiters()).isFalse();
    };
    rows.add(npe("Condvar.awaitWhile(guard, blocked)", "guard",
        () -> cv.awaitWhile(null, v -> true), ok));
    rows.add(npe("Condvar.awaitWhile(guard, blocked)", "blocked", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        cv.awaitWhile(g, null);
      }
    }, ok));
    rows.add(npe("Condvar.awaitWhile(guard, blocked, Duration)", "timeout", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        cv.awaitWhile(g, v -> true, (Duration) null);
      }
    }, ok));
    rows.add(npe("Condvar.awaitWhile(guard, blocked, Duration)", "guard",
        () -> cv.awaitWhile(null, v -> true, Duration.ZERO), ok));
    rows.add(npe("Condvar.awaitWhile(guard, blocked, Instant)", "deadline", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        cv.awaitWhile(g, v -> true, (Instant) null);
      }
    }, ok));
    rows.add(npe("Condvar.awaitWhileUninterruptibly", "guard",
        () -> cv.awaitWhileUninterruptibly(null, v -> true), ok));
    rows.add(npe("Condvar.awaitWhileUninterruptibly", "blocked", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        cv.awaitWhileUninterruptibly(g, null);
      }
    }, ok));
    Mutex<Integer> second = new Mutex<>(0);
    rows.add(bad("Condvar used with a second mutex", IllegalArgumentException.class,
        "bound|one condvar per mutex", () -> {
          try (Mutex.Guard<Integer> g = m.lock()) {
            cv.awaitWhile(g, v -> true, Duration.ofMillis(1)); // binds cv to m
          }
          try (Mutex.Guard<Integer> g = second.lock()) {
            cv.awaitWhile(g, v -> true, Duration.ofMillis(1));
          }
        }, () -> {
          ok.run();
          assertThat(second.isLocked()).isFalse();
        }));
    rows.add(bad("Condvar.awaitWhile with a closed guard", IllegalStateException.class,
        "closed", () -> {
          Mutex.Guard<Integer> g = m.lock();
          g.close();
          cv.awaitWhile(g, v -> true);
        }, ok));
    AtomicReference<Mutex.@Nullable Guard<Integer>> foreign = new AtomicReference<>();
    rows.add(bad("Condvar.awaitWhile with another thread's guard",
        IllegalMonitorStateException.class, "thread|owner", () -> {
          foreign.set(m.lock());
          other(() -> cv.awaitWhile(foreign.get(), v -> true));
        }, () -> {
          assertThat(m.isHeldByCurrentThread()).isTrue();
          foreign.get().close();
          ok.run();
        }));
  }

  private static void scope(List<Bad> rows) {
    rows.add(npe("Scope.call", "body", () -> Scope.call(null), NOTHING));
    rows.add(npe("Scope.run", "body", () -> Scope.run(null), NOTHING));
    rows.add(npe("Scope.Builder.namePrefix", "prefix", () -> Scope.builder().namePrefix(null),
        NOTHING));
    rows.add(npe("Scope.Builder.threadFactory", "factory",
        () -> Scope.builder().threadFactory(null), NOTHING));
    rows.add(npe("Scope.Builder.failurePolicy", "policy",
        () -> Scope.builder().failurePolicy(null), NOTHING));
    rows.add(npe("Scope.Builder.timeout", "timeout", () -> Scope.builder().timeout(null),
        NOTHING));
    rows.add(bad("Scope.Builder.timeout negative", IllegalArgumentException.class,
        "negative|PT-1S", () -> Scope.builder().timeout(NEG), NOTHING));
    rows.add(bad("Scope.Builder.timeout Long.MIN_VALUE s", IllegalArgumentException.class,
        "negative", () -> Scope.builder().timeout(MIN), NOTHING));
    rows.add(bad("Scope.Builder.maxConcurrency(0)", IllegalArgumentException.class,
        "maxConcurrency|: 0", () -> Scope.builder().maxConcurrency(0), NOTHING));
    rows.add(bad("Scope.Builder.maxConcurrency(-1)", IllegalArgumentException.class, "-1",
        () -> Scope.builder().maxConcurrency(-1), NOTHING));
    rows.add(npe("Scope.Builder.call", "body", () -> Scope.builder().call(null), NOTHING));
    rows.add(npe("Scope.Builder.run", "body", () -> Scope.builder().run(null), NOTHING));
    if (Runtime.version().feature() < 21) {
      rows.add(bad("Scope.Builder.virtualThreads on JDK < 21",
          UnsupportedOperationException.class, "21", () -> Scope.builder().virtualThreads(),
          NOTHING));
    }
    rows.add(npe("Scope.spawn(Callable)", "task", () -> {
      try (Scope s = Scope.open()) {
        s.spawn((Callable<String>) null);
      }
    }, NOTHING));
    rows.add(npe("Scope.spawn(Runnable)", "task", () -> {
      try (Scope s = Scope.open()) {
        s.spawn((Runnable) null);
      }
    }, NOTHING));
    AtomicReference<@Nullable Scope> ended = new AtomicReference<>();
    rows.add(bad("Scope.spawn after close", IllegalStateException.class, "ended", () -> {
      Scope s = Scope.open();
      ended.set(s);
      s.close();
      s.spawn(() -> "late");
    }, () -> ended.get().close())); // a second close does nothing
    AtomicReference<@Nullable Scope> live = new AtomicReference<>();
    rows.add(bad("Scope.spawn from a foreign thread", IllegalStateException.class,
        "neither the owner", () -> {
          Scope s = Scope.open();
          live.set(s);
          try {
            other(() -> s.spawn(() -> "foreign"));
          } catch (IllegalStateException e) {
            // the scope must still work for its owner, then end normally
            assertThat(s.spawn(() -> "mine").join()).isEqualTo("mine");
            s.close();
            throw e;
          }
        }, NOTHING));
    rows.add(bad("Scope.close from a foreign thread", IllegalStateException.class,
        "owner", () -> {
          Scope s = Scope.open();
          try {
            other(s::close);
          } finally {
            s.close();
          }
        }, NOTHING));
    rows.add(bad("ScopedThread.join by its own thread", IllegalStateException.class,
        "own thread|itself", () -> {
          AtomicReference<@Nullable ScopedThread<Object>> me = new AtomicReference<>();
          CountDownLatch published = new CountDownLatch(1);
          try (Scope s = Scope.open()) {
            ScopedThread<Object> t = s.spawn(() -> {
              published.await();
              return me.get().join();
            });
            me.set(t);
            published.countDown();
            try {
              t.join();
            } catch (TaskFailedException e) {
              throw (Exception) e.getCause(); // the misuse, thrown on the task's thread
            }
          }
        }, NOTHING));
    rows.add(npe("ScopedThread.join(Duration)", "timeout", () -> {
      try (Scope s = Scope.open()) {
        ScopedThread<String> t = s.spawn(() -> "x");
        try {
          t.join(null);
        } finally {
          assertThat(t.join()).as("still joinable").isEqualTo("x");
        }
      }
    }, NOTHING));
    rows.add(bad("Scope with a ThreadFactory returning null", IllegalStateException.class,
        "returned null", () -> {
          try (Scope s = Scope.builder().threadFactory(r -> null).open()) {
            s.spawn(() -> "x");
          }
        }, NOTHING));
    rows.add(bad("Scope with a ThreadFactory returning a started thread",
        IllegalStateException.class, "already started", () -> {
          ThreadFactory started = r -> {
            Thread t = new Thread(() -> { }, "test-bad-started");
            t.start();
            try {
              t.join();
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            return t;
          };
          try (Scope s = Scope.builder().threadFactory(started).open()) {
            s.spawn(() -> "x");
          }
        }, NOTHING));
    rows.add(bad("ScopedThread.join(negative) while running", TimeoutException.class, "",
        () -> {
          CountDownLatch release = new CountDownLatch(1);
          try (Scope s = Scope.open()) {
            ScopedThread<String> t = s.spawn(() -> {
              release.await();
              return "x";
            });
            try {
              t.join(NEG);
            } finally {
              release.countDown();
              assertThat(t.join(HUGE)).as("joinable after a timed-out join").isEqualTo("x");
            }
          }
        }, NOTHING));
  }

  private static void parallel(List<Bad> rows) {
    List<Integer> data = List.of(1, 2, 3);
    Integer[] arr = {1, 2, 3};
    long[] longs = {1, 2, 3};
    Parallel.Options o = Parallel.options();
    Function<Integer, Integer> f = x -> x;
    Consumer<Integer> action = x -> { };
    rows.add(npe("Parallel.map(List, f)", "data", () -> Parallel.map((List<Integer>) null, f),
        NOTHING));
    rows.add(npe("Parallel.map(List, f)", "f", () -> Parallel.map(data, null), NOTHING));
    rows.add(npe("Parallel.map(List, f, threads)", "data",
        () -> Parallel.map((List<Integer>) null, f, 2), NOTHING));
    rows.add(npe("Parallel.map(List, f, threads)", "f", () -> Parallel.map(data, null, 2),
        NOTHING));
    rows.add(bad("Parallel.map(List, f, 0 threads)", IllegalArgumentException.class,
        "threads|but was 0", () -> Parallel.map(data, f, 0), NOTHING));
    rows.add(bad("Parallel.map(List, f, -3 threads)", IllegalArgumentException.class, "-3",
        () -> Parallel.map(data, f, -3), NOTHING));
    rows.add(npe("Parallel.map(List, f, options)", "options",
        () -> Parallel.map(data, f, (Parallel.Options) null), NOTHING));
    rows.add(npe("Parallel.map(T[], f)", "data", () -> Parallel.map((Integer[]) null, f),
        NOTHING));
    rows.add(npe("Parallel.map(T[], f)", "f", () -> Parallel.map(arr, null), NOTHING));
    rows.add(npe("Parallel.map(T[], f, options)", "options", () -> Parallel.map(arr, f, null),
        NOTHING));
    rows.add(npe("Parallel.map(long[], f)", "data", () -> Parallel.map((long[]) null, x -> x),
        NOTHING));
    rows.add(npe("Parallel.map(long[], f)", "f", () -> Parallel.map(longs, null), NOTHING));
    rows.add(npe("Parallel.map(long[], f, options)", "options",
        () -> Parallel.map(longs, x -> x, null), NOTHING));
    rows.add(npe("Parallel.forEach(List, action)", "data",
        () -> Parallel.forEach((List<Integer>) null, action), NOTHING));
    rows.add(npe("Parallel.forEach(List, action)", "action", () -> Parallel.forEach(data, null),
        NOTHING));
    rows.add(npe("Parallel.forEach(List, action, options)", "options",
        () -> Parallel.forEach(data, action, null), NOTHING));
    rows.add(npe("Parallel.forEach(T[], action)", "data",
        () -> Parallel.forEach((Integer[]) null, action), NOTHING));
    rows.add(npe("Parallel.forEach(T[], action)", "action", () -> Parallel.forEach(arr, null),
        NOTHING));
    rows.add(npe("Parallel.forEach(T[], action, options)", "options",
        () -> Parallel.forEach(arr, action, null), NOTHING));
    rows.add(npe("Parallel.forRange", "body", () -> Parallel.forRange(0, 3, null), NOTHING));
    rows.add(npe("Parallel.forRange(options)", "options",
        () -> Parallel.forRange(0, 3, i -> { }, null), NOTHING));
    rows.add(bad("Parallel.forRange(5, 1)", IllegalArgumentException.class,
        "from = 5 and to = 1", () -> Parallel.forRange(5, 1, i -> { }), NOTHING));
    rows.add(bad("Parallel.forRange(MAX, MIN, options)", IllegalArgumentException.class,
        "from <= to", () -> Parallel.forRange(Integer.MAX_VALUE, Integer.MIN_VALUE, i -> { }, o),
        NOTHING));
    rows.add(npe("Parallel.reduce(List)", "data",
        () -> Parallel.reduce((List<Integer>) null, f, 0, Integer::sum), NOTHING));
    rows.add(npe("Parallel.reduce(List)", "f", () -> Parallel.reduce(data, null, 0, Integer::sum),
        NOTHING));
    rows.add(npe("Parallel.reduce(List)", "combine", () -> Parallel.reduce(data, f, 0, null),
        NOTHING));
    rows.add(npe("Parallel.reduce(List, options)", "options",
        () -> Parallel.reduce(data, f, 0, Integer::sum, null), NOTHING));
    rows.add(npe("Parallel.reduce(long[])", "data",
        () -> Parallel.reduce((long[]) null, x -> x, 0L, Long::sum), NOTHING));
    rows.add(npe("Parallel.reduce(long[])", "f",
        () -> Parallel.reduce(longs, null, 0L, Long::sum), NOTHING));
    rows.add(npe("Parallel.reduce(long[])", "combine",
        () -> Parallel.reduce(longs, x -> x, 0L, null), NOTHING));
    rows.add(npe("Parallel.reduce(long[], options)", "options",
        () -> Parallel.reduce(longs, x -> x, 0L, Long::sum, null), NOTHING));
    // Searches (issue 19): every operation, every form, each of its reference parameters.
    Predicate<Integer> pred = x -> x > 1;
    IntPredicate ipred = i -> i > 1;
    rows.add(npe("Parallel.anyMatch(List, p)", "data",
        () -> Parallel.anyMatch((List<Integer>) null, pred), NOTHING));
    rows.add(npe("Parallel.anyMatch(List, p)", "predicate", () -> Parallel.anyMatch(data, null),
        NOTHING));
    rows.add(npe("Parallel.anyMatch(List, p, options)", "options",
        () -> Parallel.anyMatch(data, pred, null), NOTHING));
    rows.add(npe("Parallel.anyMatch(T[], p)", "data",
        () -> Parallel.anyMatch((Integer[]) null, pred), NOTHING));
    rows.add(npe("Parallel.anyMatch(T[], p)", "predicate", () -> Parallel.anyMatch(arr, null),
        NOTHING));
    rows.add(npe("Parallel.anyMatch(T[], p, options)", "options",
        () -> Parallel.anyMatch(arr, pred, null), NOTHING));
    rows.add(npe("Parallel.anyMatch(from, to, p)", "predicate",
        () -> Parallel.anyMatch(0, 3, (IntPredicate) null), NOTHING));
    rows.add(npe("Parallel.anyMatch(from, to, p, options)", "options",
        () -> Parallel.anyMatch(0, 3, ipred, null), NOTHING));
    rows.add(bad("Parallel.anyMatch(5, 1, p)", IllegalArgumentException.class,
        "from = 5 and to = 1", () -> Parallel.anyMatch(5, 1, ipred), NOTHING));
    rows.add(npe("Parallel.allMatch(List, p)", "data",
        () -> Parallel.allMatch((List<Integer>) null, pred), NOTHING));
    rows.add(npe("Parallel.allMatch(List, p)", "predicate", () -> Parallel.allMatch(data, null),
        NOTHING));
    rows.add(npe("Parallel.allMatch(List, p, options)", "options",
        () -> Parallel.allMatch(data, pred, null), NOTHING));
    rows.add(npe("Parallel.allMatch(T[], p)", "data",
        () -> Parallel.allMatch((Integer[]) null, pred), NOTHING));
    rows.add(npe("Parallel.allMatch(T[], p)", "predicate", () -> Parallel.allMatch(arr, null),
        NOTHING));
    rows.add(npe("Parallel.allMatch(T[], p, options)", "options",
        () -> Parallel.allMatch(arr, pred, null), NOTHING));
    rows.add(npe("Parallel.allMatch(from, to, p)", "predicate",
        () -> Parallel.allMatch(0, 3, (IntPredicate) null), NOTHING));
    rows.add(npe("Parallel.allMatch(from, to, p, options)", "options",
        () -> Parallel.allMatch(0, 3, ipred, null), NOTHING));
    rows.add(bad("Parallel.allMatch(5, 1, p)", IllegalArgumentException.class,
        "from = 5 and to = 1", () -> Parallel.allMatch(5, 1, ipred), NOTHING));
    rows.add(npe("Parallel.noneMatch(List, p)", "data",
        () -> Parallel.noneMatch((List<Integer>) null, pred), NOTHING));
    rows.add(npe("Parallel.noneMatch(List, p)", "predicate", () -> Parallel.noneMatch(data, null),
        NOTHING));
    rows.add(npe("Parallel.noneMatch(List, p, options)", "options",
        () -> Parallel.noneMatch(data, pred, null), NOTHING));
    rows.add(npe("Parallel.noneMatch(T[], p)", "data",
        () -> Parallel.noneMatch((Integer[]) null, pred), NOTHING));
    rows.add(npe("Parallel.noneMatch(T[], p)", "predicate", () -> Parallel.noneMatch(arr, null),
        NOTHING));
    rows.add(npe("Parallel.noneMatch(T[], p, options)", "options",
        () -> Parallel.noneMatch(arr, pred, null), NOTHING));
    rows.add(npe("Parallel.noneMatch(from, to, p)", "predicate",
        () -> Parallel.noneMatch(0, 3, (IntPredicate) null), NOTHING));
    rows.add(npe("Parallel.noneMatch(from, to, p, options)", "options",
        () -> Parallel.noneMatch(0, 3, ipred, null), NOTHING));
    rows.add(bad("Parallel.noneMatch(5, 1, p)", IllegalArgumentException.class,
        "from = 5 and to = 1", () -> Parallel.noneMatch(5, 1, ipred), NOTHING));
    rows.add(npe("Parallel.findAny(List, p)", "data",
        () -> Parallel.findAny((List<Integer>) null, pred), NOTHING));
    rows.add(npe("Parallel.findAny(List, p)", "predicate", () -> Parallel.findAny(data, null),
        NOTHING));
    rows.add(npe("Parallel.findAny(List, p, options)", "options",
        () -> Parallel.findAny(data, pred, null), NOTHING));
    rows.add(npe("Parallel.findAny(T[], p)", "data",
        () -> Parallel.findAny((Integer[]) null, pred), NOTHING));
    rows.add(npe("Parallel.findAny(T[], p)", "predicate", () -> Parallel.findAny(arr, null),
        NOTHING));
    rows.add(npe("Parallel.findAny(T[], p, options)", "options",
        () -> Parallel.findAny(arr, pred, null), NOTHING));
    rows.add(npe("Parallel.findAny(from, to, p)", "predicate",
        () -> Parallel.findAny(0, 3, (IntPredicate) null), NOTHING));
    rows.add(npe("Parallel.findAny(from, to, p, options)", "options",
        () -> Parallel.findAny(0, 3, ipred, null), NOTHING));
    rows.add(bad("Parallel.findAny(5, 1, p)", IllegalArgumentException.class,
        "from = 5 and to = 1", () -> Parallel.findAny(5, 1, ipred), NOTHING));
    rows.add(npe("Parallel.findFirst(List, p)", "data",
        () -> Parallel.findFirst((List<Integer>) null, pred), NOTHING));
    rows.add(npe("Parallel.findFirst(List, p)", "predicate", () -> Parallel.findFirst(data, null),
        NOTHING));
    rows.add(npe("Parallel.findFirst(List, p, options)", "options",
        () -> Parallel.findFirst(data, pred, null), NOTHING));
    rows.add(npe("Parallel.findFirst(T[], p)", "data",
        () -> Parallel.findFirst((Integer[]) null, pred), NOTHING));
    rows.add(npe("Parallel.findFirst(T[], p)", "predicate", () -> Parallel.findFirst(arr, null),
        NOTHING));
    rows.add(npe("Parallel.findFirst(T[], p, options)", "options",
        () -> Parallel.findFirst(arr, pred, null), NOTHING));
    rows.add(npe("Parallel.findFirst(from, to, p)", "predicate",
        () -> Parallel.findFirst(0, 3, (IntPredicate) null), NOTHING));
    rows.add(npe("Parallel.findFirst(from, to, p, options)", "options",
        () -> Parallel.findFirst(0, 3, ipred, null), NOTHING));
    rows.add(bad("Parallel.findFirst(5, 1, p)", IllegalArgumentException.class,
        "from = 5 and to = 1", () -> Parallel.findFirst(5, 1, ipred), NOTHING));
    Action optionsUnchanged = () -> assertThat(o.toString())
        .as("Options are immutable: a rejected call changes nothing")
        .isEqualTo(Parallel.options().toString());
    rows.add(bad("Parallel.Options.threads(0)", IllegalArgumentException.class, "but was 0",
        () -> o.threads(0), optionsUnchanged));
    rows.add(bad("Parallel.Options.threads(Integer.MIN_VALUE)", IllegalArgumentException.class,
        String.valueOf(Integer.MIN_VALUE), () -> o.threads(Integer.MIN_VALUE), optionsUnchanged));
    rows.add(npe("Parallel.Options.threadFactory", "factory", () -> o.threadFactory(null),
        optionsUnchanged));
    rows.add(npe("Parallel.Options.executor", "executor", () -> o.executor(null),
        optionsUnchanged));
    rows.add(bad("Parallel.Options.minChunkSize(0)", IllegalArgumentException.class,
        "minChunkSize must be at least 1, but was 0", () -> o.minChunkSize(0), optionsUnchanged));
    rows.add(bad("Parallel.Options.minChunkSize(-5)", IllegalArgumentException.class, "-5",
        () -> o.minChunkSize(-5), optionsUnchanged));
    rows.add(npe("Parallel.Options.sequentialCutoff", "cutoff", () -> o.sequentialCutoff(null),
        optionsUnchanged));
    rows.add(bad("Parallel.Options.sequentialCutoff(negative)", IllegalArgumentException.class,
        "negative", () -> o.sequentialCutoff(NEG), optionsUnchanged));
    rows.add(bad("Parallel.Options.sequentialCutoff(Long.MIN_VALUE s)",
        IllegalArgumentException.class, "negative", () -> o.sequentialCutoff(MIN),
        optionsUnchanged));
  }

  private static void exceptions(List<Bad> rows) {
    rows.add(npe("TaskFailedException.<init>", "message",
        () -> new TaskFailedException(null, new RuntimeException()), NOTHING));
    rows.add(npe("TaskFailedException.<init>", "cause",
        () -> new TaskFailedException("m", null), NOTHING));
    rows.add(npe("ScopeTimeoutException.<init>", "message",
        () -> new ScopeTimeoutException(null), NOTHING));
  }

  private static void conditions(List<Bad> rows) {
    for (Lock l : List.<Lock>of(new SpinLock(), new TicketLock())) {
      String type = l.getClass().getSimpleName();
      java.util.concurrent.locks.Condition c = l.newCondition();
      Action ok = () -> {
        assertThat(l.tryLock()).as(type + " free").isTrue();
        l.unlock();
      };
      rows.add(bad(type + ".newCondition().await() without the lock",
          IllegalMonitorStateException.class, "does not hold", c::await, ok));
      rows.add(bad(type + ".newCondition().signal() without the lock",
          IllegalMonitorStateException.class, "does not hold", c::signal, ok));
      rows.add(bad(type + ".newCondition().signalAll() without the lock",
          IllegalMonitorStateException.class, "does not hold", c::signalAll, ok));
      rows.add(npe(type + ".newCondition().await(long, TimeUnit)", "unit", () -> {
        l.lock();
        try {
          c.await(1, null);
        } finally {
          l.unlock();
        }
      }, ok));
      rows.add(npe(type + ".newCondition().awaitUntil", "deadline", () -> {
        l.lock();
        try {
          c.awaitUntil(null);
        } finally {
          l.unlock();
        }
      }, ok));
    }
  }

  /** "Interrupted before or while waiting": a pending interrupt fails even a free acquire. */
  private static void interrupts(List<Bad> rows) {
    Mutex<String> m = new Mutex<>("v");
    RwLock<String> rw = new RwLock<>("v");
    SpinLock sl = new SpinLock();
    TicketLock tl = new TicketLock();
    Action free = () -> {
      assertThat(Thread.currentThread().isInterrupted()).as("status cleared by the throw")
          .isFalse();
      assertThat(m.isLocked() || rw.isWriteLocked() || rw.readLockCount() > 0 || sl.isLocked()
          || tl.isLocked()).as("nothing acquired").isFalse();
    };
    List<Object[]> calls = List.of(
        new Object[] {"Mutex.lockInterruptibly", (Action) m::lockInterruptibly},
        new Object[] {"Mutex.tryLock(huge)", (Action) () -> m.tryLock(HUGE)},
        new Object[] {"Mutex.lockWhen", (Action) () -> m.lockWhen(v -> true)},
        new Object[] {"Mutex.awaitThen", (Action) () -> m.awaitThen(v -> true, v -> v)},
        new Object[] {"RwLock.readInterruptibly", (Action) rw::readInterruptibly},
        new Object[] {"RwLock.writeInterruptibly", (Action) rw::writeInterruptibly},
        new Object[] {"RwLock.tryRead(huge)", (Action) () -> rw.tryRead(HUGE)},
        new Object[] {"RwLock.tryWrite(huge)", (Action) () -> rw.tryWrite(HUGE)},
        new Object[] {"SpinLock.lockInterruptibly", (Action) sl::lockInterruptibly},
        new Object[] {"SpinLock.tryLock(huge)", (Action) () -> sl.tryLock(HUGE)},
        new Object[] {"TicketLock.lockInterruptibly", (Action) tl::lockInterruptibly},
        new Object[] {"TicketLock.tryLock(huge)", (Action) () -> tl.tryLock(HUGE)});
    for (Object[] c : calls) {
      Action call = (Action) c[1];
      rows.add(new Bad(c[0] + " with a pending interrupt", InterruptedException.class,
          List.of(""), () -> {
            Thread.currentThread().interrupt();
            try {
              call.run();
            } catch (InterruptedException e) {
              throw e; // as documented; the throw cleared the status
            } catch (Throwable e) {
              Thread.interrupted(); // do not leak the status into the next row
              throw e;
            }
            boolean pending = Thread.interrupted();
            throw new AssertionError(c[0] + " returned despite a pending interrupt (status "
                + (pending ? "still set" : "cleared") + ")");
          }, free));
    }
  }

  /** After a failure under REMEMBER, every read reports it and nothing runs again. */
  private static void remembered(List<Bad> rows) {
    OnceCell<String> cell = new OnceCell<>(Lazy.FailurePolicy.REMEMBER);
    Lazy<String> lazy = Lazy.of(() -> {
      throw new IllegalStateException("boom");
    }, Lazy.FailurePolicy.REMEMBER);
    AtomicBoolean failed = new AtomicBoolean();
    Action fail = () -> {
      if (!failed.getAndSet(true)) {
        try {
          cell.getOrInit(() -> {
            throw new IllegalStateException("boom");
          });
        } catch (IllegalStateException expected) {
          // the first failure propagates unchanged; it is remembered from now on
        }
        try {
          lazy.get();
        } catch (IllegalStateException expected) {
          // likewise
        }
      }
    };
    Action stillFailed = () -> {
      assertThat(cell.isSet()).isFalse();
      assertThat(cell.trySet("x")).isFalse();
      assertThat(lazy.isInitialized()).isFalse();
    };
    rows.add(bad("OnceCell(REMEMBER).getOrInit after a failure", TaskFailedException.class,
        "fail|boom", () -> {
          fail.run();
          cell.getOrInit(() -> "never");
        }, stillFailed));
    rows.add(bad("OnceCell(REMEMBER).set after a failure", IllegalStateException.class,
        "fail", () -> {
          fail.run();
          cell.set("x");
        }, stillFailed));
    rows.add(bad("OnceCell(REMEMBER).orElseThrow after a failure",
        NoSuchElementException.class, "fail", () -> {
          fail.run();
          cell.orElseThrow();
        }, stillFailed));
    rows.add(bad("OnceCell(REMEMBER).await after a failure", TaskFailedException.class,
        "fail|boom", () -> {
          fail.run();
          cell.await(HUGE);
        }, stillFailed));
    rows.add(bad("Lazy(REMEMBER).get after a failure", TaskFailedException.class, "fail|boom",
        () -> {
          fail.run();
          lazy.get();
        }, stillFailed));
  }

  // =============================================================== extreme but legal timeouts

  /** A call in another thread that reports whether it got what it waited for. */
  @FunctionalInterface
  interface Waiter {
    boolean await() throws Exception;
  }

  /**
   * setup returns {release, waiter}: the waiter runs on another thread with a huge timeout; once
   * it has blocked (a bounded wait on its thread state) the release runs; the waiter must then
   * succeed.
   */
  private static Edge waitsForRelease(String name, Callable<Object[]> setup) {
    return new Edge(name + " on something busy waits, then succeeds", () -> {
      Object[] parts = setup.call();
      Action release = (Action) parts[0];
      Waiter waiter = (Waiter) parts[1];
      AtomicReference<@Nullable Object> got = new AtomicReference<>();
      Thread t = new Thread(() -> {
        try {
          got.set(waiter.await());
        } catch (Throwable e) { // report it to the test thread
          got.set(e);
        }
      }, "test-bad-waiter");
      t.start();
      // Wait (bounded) until the waiter has blocked, or has already (wrongly) returned, so that
      // the release below always comes after the waiter started waiting with its huge timeout.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (got.get() == null
          && t.getState() != Thread.State.WAITING
          && t.getState() != Thread.State.TIMED_WAITING) {
        assertThat(System.nanoTime() - deadline).as(name + " never blocked").isNegative();
        Thread.onSpinWait();
      }
      assertThat(got.get()).as(name + " gave up before the release (overflow?)").isNull();
      release.run();
      t.join(TimeUnit.SECONDS.toMillis(5));
      assertThat(t.isAlive()).as(name + " still waiting after the release").isFalse();
      assertThat(got.get()).as(name).isEqualTo(true);
    });
  }

  private static String describe(Duration d) {
    if (d.equals(HUGE)) {
      return "huge";
    }
    if (d.equals(MIN)) {
      return "MIN";
    }
    return d.isNegative() ? "negative" : "zero";
  }

  static Stream<Edge> edges() {
    List<Edge> rows = new ArrayList<>();
    for (Duration d : List.of(HUGE, NEG, MIN, Duration.ZERO)) {
      String ds = describe(d);
      rows.add(new Edge("Mutex.tryLock(" + ds + ") on a free mutex acquires", () -> {
        Mutex<String> m = new Mutex<>("v");
        Mutex.Guard<String> g = m.tryLock(d);
        assertThat(g).isNotNull();
        g.close();
        assertThat(m.isLocked()).isFalse();
      }));
      rows.add(new Edge("Mutex.lockWhen(true, " + ds + ") acquires", () -> {
        Mutex<String> m = new Mutex<>("v");
        Mutex.Guard<String> g = m.lockWhen(v -> true, d);
        assertThat(g).isNotNull();
        g.close();
      }));
      rows.add(new Edge("RwLock.tryRead/tryWrite(" + ds + ") on a free lock acquire", () -> {
        RwLock<String> l = new RwLock<>("v");
        RwLock.ReadGuard<String> r = l.tryRead(d);
        assertThat(r).isNotNull();
        r.close();
        RwLock.WriteGuard<String> w = l.tryWrite(d);
        assertThat(w).isNotNull();
        w.close();
      }));
      rows.add(new Edge("SpinLock/TicketLock.tryLock(" + ds + ") on a free lock acquire", () -> {
        SpinLock s = new SpinLock();
        assertThat(s.tryLock(d)).isTrue();
        s.unlock();
        TicketLock t = new TicketLock();
        assertThat(t.tryLock(d)).isTrue();
        t.unlock();
      }));
      rows.add(new Edge("SeqLock.tryWrite(" + ds + ") on a free lock acquires", () -> {
        SeqLock s = new SeqLock();
        SeqLock.WriteGuard g = s.tryWrite(d);
        assertThat(g).isNotNull();
        g.close();
      }));
      rows.add(new Edge("OnceCell.await(" + ds + ") on a set cell returns true", () -> {
        OnceCell<String> c = new OnceCell<>();
        c.set("x");
        assertThat(c.await(d)).isTrue();
      }));
      rows.add(new Edge("Condvar.awaitWhile(not blocked, " + ds + ") returns true", () -> {
        Mutex<Integer> m = new Mutex<>(0);
        try (Mutex.Guard<Integer> g = m.lock()) {
          assertThat(new Condvar().awaitWhile(g, v -> false, d)).isTrue();
        }
      }));
      rows.add(new Edge("ScopedThread.join(" + ds + ") on a finished thread returns", () -> {
        try (Scope s = Scope.open()) {
          ScopedThread<String> t = s.spawn(() -> "x");
          assertThat(t.join()).isEqualTo("x");
          assertThat(t.join(d)).isEqualTo("x");
        }
      }));
    }
    for (Duration d : List.of(NEG, MIN, Duration.ZERO)) {
      String ds = describe(d);
      rows.add(new Edge("timed acquires with " + ds + " timeout on a busy primitive check once",
          () -> {
            Mutex<String> m = new Mutex<>("v");
            RwLock<String> rw = new RwLock<>("v");
            SpinLock sl = new SpinLock();
            TicketLock tl = new TicketLock();
            SeqLock seq = new SeqLock();
            CountDownLatch held = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            Thread holder = new Thread(() -> {
              try (Mutex.Guard<String> g = m.lock();
                  RwLock.WriteGuard<String> w = rw.write();
                  SpinLock.Guard s = sl.acquire();
                  TicketLock.Guard t = tl.acquire();
                  SeqLock.WriteGuard q = seq.writeUninterruptibly()) {
                held.countDown();
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            }, "test-bad-holder");
            holder.start();
            try {
              held.await();
              assertThat(m.tryLock(d)).isNull();
              assertThat(m.lockWhen(v -> true, d)).isNull();
              assertThat(rw.tryRead(d)).isNull();
              assertThat(rw.tryWrite(d)).isNull();
              assertThat(sl.tryLock(d)).isFalse();
              assertThat(tl.tryLock(d)).isFalse();
              assertThat(sl.tryLock(-1, TimeUnit.NANOSECONDS)).isFalse();
              assertThat(tl.tryLock(Long.MIN_VALUE, TimeUnit.DAYS)).isFalse();
              assertThat(seq.tryWrite(d)).isNull();
            } finally {
              release.countDown();
              holder.join();
            }
          }));
      rows.add(new Edge("predicate waits with " + ds + " timeout check once", () -> {
        Mutex<Integer> m = new Mutex<>(0);
        assertThat(m.lockWhen(v -> v > 0, d)).isNull();
        assertThat(m.isLocked()).isFalse();
        try (Mutex.Guard<Integer> g = m.lock()) {
          assertThat(new Condvar().awaitWhile(g, v -> true, d)).isFalse();
          assertThat(g.get()).isZero();
        }
        OnceCell<String> c = new OnceCell<>();
        assertThat(c.await(d)).isFalse();
        assertThat(c.isSet()).isFalse();
      }));
    }
    // A huge timeout on something busy must really wait (an overflow to a negative deadline
    // would give up at once): the waiter must succeed once the holder releases.
    rows.add(waitsForRelease("Mutex.tryLock(huge)", () -> {
      Mutex<String> m = new Mutex<>("v");
      Mutex.Guard<String> g = m.lock();
      return new Object[] {(Action) g::close, (Waiter) () -> {
        Mutex.Guard<String> w = m.tryLock(HUGE);
        boolean ok = w != null;
        if (w != null) {
          w.close();
        }
        return ok;
      }};
    }));
    rows.add(waitsForRelease("Mutex.lockWhen(ready, huge)", () -> {
      Mutex<Integer> m = new Mutex<>(0);
      return new Object[] {(Action) () -> m.update(v -> 1), (Waiter) () -> {
        Mutex.Guard<Integer> w = m.lockWhen(v -> v == 1, HUGE);
        boolean ok = w != null;
        if (w != null) {
          w.close();
        }
        return ok;
      }};
    }));
    rows.add(waitsForRelease("RwLock.tryWrite(huge)", () -> {
      RwLock<String> rw = new RwLock<>("v");
      RwLock.ReadGuard<String> r = rw.read();
      return new Object[] {(Action) r::close, (Waiter) () -> {
        RwLock.WriteGuard<String> w = rw.tryWrite(HUGE);
        boolean ok = w != null;
        if (w != null) {
          w.close();
        }
        return ok;
      }};
    }));
    rows.add(waitsForRelease("RwLock.tryRead(huge)", () -> {
      RwLock<String> rw = new RwLock<>("v");
      RwLock.WriteGuard<String> g = rw.write();
      return new Object[] {(Action) g::close, (Waiter) () -> {
        RwLock.ReadGuard<String> w = rw.tryRead(HUGE);
        boolean ok = w != null;
        if (w != null) {
          w.close();
        }
        return ok;
      }};
    }));
    rows.add(waitsForRelease("SpinLock.tryLock(Long.MAX_VALUE, DAYS)", () -> {
      SpinLock l = new SpinLock();
      SpinLock.Guard g = l.acquire();
      return new Object[] {(Action) g::close, (Waiter) () -> {
        boolean ok = l.tryLock(Long.MAX_VALUE, TimeUnit.DAYS);
        if (ok) {
          l.unlock();
        }
        return ok;
      }};
    }));
    rows.add(waitsForRelease("TicketLock.tryLock(huge)", () -> {
      TicketLock l = new TicketLock();
      TicketLock.Guard g = l.acquire();
      return new Object[] {(Action) g::close, (Waiter) () -> {
        boolean ok = l.tryLock(HUGE);
        if (ok) {
          l.unlock();
        }
        return ok;
      }};
    }));
    rows.add(waitsForRelease("SeqLock.tryWrite(huge)", () -> {
      SeqLock l = new SeqLock();
      SeqLock.WriteGuard g = l.write();
      return new Object[] {(Action) g::close, (Waiter) () -> {
        SeqLock.WriteGuard w = l.tryWrite(HUGE);
        boolean ok = w != null;
        if (w != null) {
          w.close();
        }
        return ok;
      }};
    }));
    rows.add(waitsForRelease("OnceCell.await(huge)", () -> {
      OnceCell<String> c = new OnceCell<>();
      return new Object[] {(Action) () -> c.set("x"), (Waiter) () -> c.await(HUGE)};
    }));
    rows.add(waitsForRelease("Condvar.awaitWhile(huge)", () -> {
      Mutex<Integer> m = new Mutex<>(0);
      Condvar cv = new Condvar();
      return new Object[] {(Action) () -> {
        m.update(v -> 1);
        cv.notifyAllWaiters();
      }, (Waiter) () -> {
        try (Mutex.Guard<Integer> g = m.lock()) {
          return cv.awaitWhile(g, v -> v == 0, HUGE);
        }
      }};
    }));
    rows.add(new Edge("huge (Long.MAX_VALUE, DAYS) tryLock on free spin/ticket locks", () -> {
      SpinLock s = new SpinLock();
      assertThat(s.tryLock(Long.MAX_VALUE, TimeUnit.DAYS)).isTrue();
      s.unlock();
      TicketLock t = new TicketLock();
      assertThat(t.tryLock(Long.MAX_VALUE, TimeUnit.DAYS)).isTrue();
      t.unlock();
    }));
    rows.add(new Edge("Instant.MAX / Instant.MIN deadlines", () -> {
      Mutex<Integer> m = new Mutex<>(0);
      Mutex.Guard<Integer> g = m.lockWhen(v -> true, Instant.MAX);
      assertThat(g).isNotNull();
      assertThat(new Condvar().awaitWhile(g, v -> false, Instant.MAX)).isTrue();
      assertThat(new Condvar().awaitWhile(g, v -> true, Instant.MIN)).isFalse();
      g.close();
      assertThat(m.lockWhen(v -> false, Instant.MIN)).isNull();
    }));
    rows.add(new Edge("Scope.Builder.timeout(huge) does not overflow", () -> {
      String r = Scope.builder().timeout(HUGE).call(s -> s.spawn(() -> "x").join());
      assertThat(r).isEqualTo("x");
    }));
    rows.add(new Edge("Parallel.Options.sequentialCutoff(huge) does not overflow", () -> {
      List<Integer> out = Parallel.map(List.of(1, 2, 3), x -> x + 1,
          Parallel.options().sequentialCutoff(HUGE));
      assertThat(out).containsExactly(2, 3, 4);
    }));
    rows.add(new Edge("Parallel with threads(Integer.MAX_VALUE) and minChunkSize(MAX)", () -> {
      long[] out = Parallel.map(new long[] {1, 2, 3}, x -> x * 2,
          Parallel.options().threads(Integer.MAX_VALUE).minChunkSize(Integer.MAX_VALUE)
              .sequentialCutoff(Duration.ZERO));
      assertThat(out).containsExactly(2, 4, 6);
    }));
    rows.add(new Edge("Parallel.forRange(5, 5) is empty, not an error", () -> {
      Parallel.forRange(5, 5, i -> {
        throw new AssertionError("ran " + i);
      });
    }));
    return rows.stream();
  }
}
