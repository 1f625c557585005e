package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.MutexTest.Worker;
import dev.weft.Review17bSupport.G;
import dev.weft.Review17bSupport.Rw;
import dev.weft.testing.Waits;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Review 17b: attacks on {@link RwLock} that held. Each schedule that the docs tie to {@code
 * ReentrantReadWriteLock} runs on both ("weft" and "jdk").
 */
@SuppressWarnings("try") // guards held only for their scope
@Timeout(60)
class Review17bTestHeld {

  private static void check(Worker w) throws InterruptedException {
    w.join();
  }

  /** Attack: a timed-out writer queued ahead of a reader must not leave that reader parked. */
  @ParameterizedTest
  @CsvSource({"weft,read", "weft,readInterruptibly", "weft,tryRead", "jdk,read",
      "jdk,readInterruptibly", "jdk,tryRead"})
  void timedOutWriterReleasesTheReaderQueuedBehindIt(String kind, String form) throws Exception {
    Rw rw = Review17bSupport.of(kind);
    AtomicReference<@Nullable G> writerGot = new AtomicReference<>();
    CountDownLatch readerIn = new CountDownLatch(1);
    try (G held = rw.read()) {
      Worker writer = new Worker("w", () -> writerGot.set(rw.tryWrite(300_000_000L)));
      Waits.awaitBlocked(writer.thread);
      Worker reader = new Worker("r", () -> {
        G g = switch (form) {
          case "read" -> rw.read();
          case "readInterruptibly" -> rw.readInterruptibly();
          default -> rw.tryRead(TimeUnit.SECONDS.toNanos(20));
        };
        if (g == null) {
          throw new AssertionError("timed read failed");
        }
        try (g) {
          readerIn.countDown();
        }
      });
      Waits.awaitBlocked(reader.thread); // queued behind the writer
      check(writer);
      assertThat(writerGot.get()).isNull();
      assertThat(readerIn.await(10, TimeUnit.SECONDS)).as("reader wakes after writer timed out")
          .isTrue();
      check(reader);
    }
    assertThat(rw.readers()).isZero();
    try (G w = rw.tryWrite(0)) {
      assertThat(w).isNotNull();
    }
  }

  /** Attack: an interrupted queued writer must not leave the reader behind it parked. */
  @ParameterizedTest
  @ValueSource(strings = {"weft", "jdk"})
  void interruptedWriterReleasesTheReaderQueuedBehindIt(String kind) throws Exception {
    Rw rw = Review17bSupport.of(kind);
    AtomicReference<@Nullable Throwable> writerThrew = new AtomicReference<>();
    CountDownLatch readerIn = new CountDownLatch(1);
    try (G held = rw.read()) {
      Worker writer = new Worker("w", () -> {
        try (G w = rw.writeInterruptibly()) {
          throw new AssertionError("writer got the lock");
        } catch (InterruptedException e) {
          writerThrew.set(e);
        }
      });
      Waits.awaitBlocked(writer.thread);
      Worker reader = new Worker("r", () -> {
        try (G g = rw.read()) {
          readerIn.countDown();
        }
      });
      Waits.awaitBlocked(reader.thread);
      writer.thread.interrupt();
      check(writer);
      assertThat(writerThrew.get()).isInstanceOf(InterruptedException.class);
      assertThat(readerIn.await(10, TimeUnit.SECONDS)).isTrue();
      check(reader);
    }
    try (G w = rw.tryWrite(0)) {
      assertThat(w).isNotNull();
    }
  }

  /** Attack: every nested read form, with a writer queued, must return at once (no self-wait). */
  @ParameterizedTest
  @ValueSource(strings = {"weft", "jdk"})
  void nestedReadsWithAQueuedWriterNeverWait(String kind) throws Exception {
    Rw rw = Review17bSupport.of(kind);
    CountDownLatch writerIn = new CountDownLatch(1);
    Worker writer;
    try (G outer = rw.read()) {
      writer = new Worker("w", () -> {
        try (G w = rw.write()) {
          writerIn.countDown();
        }
      });
      Waits.awaitBlocked(writer.thread);
      long start = System.nanoTime();
      try (G a = rw.read();
          G b = rw.readInterruptibly();
          G c = rw.tryRead(0);
          G d = rw.tryRead(TimeUnit.SECONDS.toNanos(5))) {
        assertThat(c).isNotNull();
        assertThat(d).isNotNull();
        assertThat(rw.readers()).isEqualTo(5);
      }
      assertThat(System.nanoTime() - start).isLessThan(TimeUnit.SECONDS.toNanos(2));
      assertThat(writerIn.getCount()).isOne();
    }
    assertThat(writerIn.await(10, TimeUnit.SECONDS)).isTrue();
    check(writer);
  }

  /** Attack: weft's own nested forms (tryRead(), withRead) with a writer queued. */
  @Test
  void weftNestedTryReadAndWithReadWithAQueuedWriter() throws Exception {
    RwLock<Integer> rw = new RwLock<>(7);
    CountDownLatch writerIn = new CountDownLatch(1);
    Worker writer;
    try (var outer = rw.read()) {
      writer = new Worker("w", () -> {
        try (var w = rw.write()) {
          writerIn.countDown();
        }
      });
      Waits.awaitBlocked(writer.thread);
      try (var t = rw.tryRead()) {
        assertThat(t).isNotNull();
        Integer sum = rw.withRead(v -> rw.withRead(u -> u + v));
        assertThat(sum).isEqualTo(14);
      }
    }
    assertThat(writerIn.await(10, TimeUnit.SECONDS)).isTrue();
    check(writer);
  }

  /** Attack: lost wake-up — 16 readers queued behind a writer must all get in together. */
  @ParameterizedTest
  @ValueSource(strings = {"weft", "jdk"})
  void allReadersQueuedBehindAWriterGetInTogether(String kind) throws Exception {
    Rw rw = Review17bSupport.of(kind);
    int n = 16;
    CountDownLatch allIn = new CountDownLatch(n);
    List<Worker> readers = new ArrayList<>();
    try (G w = rw.write()) {
      for (int i = 0; i < n; i++) {
        readers.add(new Worker("r" + i, () -> {
          try (G g = rw.read()) {
            allIn.countDown();
            if (!allIn.await(10, TimeUnit.SECONDS)) {
              throw new AssertionError("not all readers in together");
            }
          }
        }));
      }
      for (Worker r : readers) {
        Waits.awaitBlocked(r.thread);
      }
    }
    assertThat(allIn.await(10, TimeUnit.SECONDS)).isTrue();
    for (Worker r : readers) {
      check(r);
    }
    assertThat(rw.readers()).isZero();
  }

  /** Attack: uninterruptible forms, interrupted while queued, keep the interrupt status. */
  @ParameterizedTest
  @ValueSource(strings = {"read", "write", "withRead", "withWrite", "update"})
  void uninterruptibleFormsKeepTheInterruptStatus(String form) throws Exception {
    RwLock<Integer> rw = new RwLock<>(1);
    AtomicBoolean interruptedAfter = new AtomicBoolean();
    AtomicBoolean got = new AtomicBoolean();
    Worker t;
    try (var w = rw.write()) {
      t = new Worker("t", () -> {
        switch (form) {
          case "read" -> {
            try (var g = rw.read()) {
              got.set(g.get() == 2);
            }
          }
          case "write" -> {
            try (var g = rw.write()) {
              got.set(g.get() == 2);
            }
          }
          case "withRead" -> got.set(rw.withRead(v -> v == 2));
          case "withWrite" -> got.set(rw.withWrite(v -> v == 2));
          default -> got.set(rw.update(v -> v + 1) == 3);
        }
        interruptedAfter.set(Thread.currentThread().isInterrupted());
      });
      Waits.awaitBlocked(t.thread);
      t.thread.interrupt();
      LockSupport.parkNanos(20_000_000L); // give a wrongly interruptible wait time to return
      assertThat(t.thread.isAlive()).as("still waiting despite the interrupt").isTrue();
      w.set(2);
    }
    check(t);
    assertThat(got).isTrue();
    assertThat(interruptedAfter).isTrue();
  }

  /** Attack: an interrupted readInterruptibly leaves no read hold behind. */
  @ParameterizedTest
  @ValueSource(strings = {"weft", "jdk"})
  void interruptedReaderLeavesNoHold(String kind) throws Exception {
    Rw rw = Review17bSupport.of(kind);
    AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    try (G w = rw.write()) {
      Worker r = new Worker("r", () -> {
        try (G g = rw.readInterruptibly()) {
          throw new AssertionError("got the read lock");
        } catch (InterruptedException e) {
          thrown.set(e);
        }
      });
      Waits.awaitBlocked(r.thread);
      r.thread.interrupt();
      check(r);
    }
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    assertThat(rw.readers()).isZero();
    assertThat(rw.writeLocked()).isFalse();
    try (G w = rw.tryWrite(0)) {
      assertThat(w).isNotNull();
    }
  }

  /** Attack: timed forms time out close to their timeout (100 ms: within [100 ms, 2 s]). */
  @ParameterizedTest
  @ValueSource(strings = {"weft", "jdk"})
  void timedFormsTimeOutCloseToTheirTimeout(String kind) throws Exception {
    Rw rw = Review17bSupport.of(kind);
    CountDownLatch holds = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    Worker h = new Worker("h", () -> {
      try (G w = rw.write()) {
        holds.countDown();
        done.await(20, TimeUnit.SECONDS);
      }
    });
    try {
      assertThat(holds.await(10, TimeUnit.SECONDS)).isTrue();
      long t = TimeUnit.MILLISECONDS.toNanos(100);
      long s = System.nanoTime();
      assertThat(rw.tryRead(t)).isNull();
      long mid = System.nanoTime();
      assertThat(rw.tryWrite(t)).isNull();
      long end = System.nanoTime();
      assertThat(mid - s).isBetween(t, TimeUnit.SECONDS.toNanos(2));
      assertThat(end - mid).isBetween(t, TimeUnit.SECONDS.toNanos(2));
      assertThat(rw.readers()).isZero();
    } finally {
      done.countDown();
      check(h);
    }
  }

  /** Attack: readers never overlap a writer; what a writer wrote is seen whole by readers. */
  @Test
  void exclusionAndVisibilityUnderStress() throws Exception {
    RwLock<long[]> rw = new RwLock<>(new long[4]);
    AtomicInteger writersIn = new AtomicInteger();
    AtomicInteger readersIn = new AtomicInteger();
    AtomicReference<@Nullable String> bad = new AtomicReference<>();
    List<Worker> ws = new ArrayList<>();
    int iters = 20_000;
    for (int i = 0; i < 3; i++) {
      int id = i;
      ws.add(new Worker("writer" + i, () -> {
        for (int k = 0; k < iters / 4; k++) {
          if ((k & 1) == 0) {
            try (var w = rw.write()) {
              if (writersIn.incrementAndGet() != 1 || readersIn.get() != 0) {
                bad.set("writer overlapped");
              }
              long[] a = w.get();
              long v = a[0] + 1;
              a[0] = v;
              a[1] = v * 3;
              a[2] = v * 7;
              a[3] = id;
              writersIn.decrementAndGet();
            }
          } else {
            rw.update(a -> {
              long v = a[0] + 1;
              return new long[] {v, v * 3, v * 7, id};
            });
          }
        }
      }));
    }
    for (int i = 0; i < 4; i++) {
      ws.add(new Worker("reader" + i, () -> {
        long last = 0;
        for (int k = 0; k < iters; k++) {
          try (var r = rw.read()) {
            readersIn.incrementAndGet();
            if (writersIn.get() != 0) {
              bad.set("reader overlapped writer");
            }
            long[] a = r.get();
            long v = a[0];
            if (a[1] != v * 3 || a[2] != v * 7 || v < last) {
              bad.set("torn or stale " + v + " " + a[1] + " " + a[2] + " last " + last);
            }
            last = v;
            readersIn.decrementAndGet();
          }
        }
      }));
    }
    for (Worker w : ws) {
      check(w);
    }
    assertThat(bad.get()).isNull();
    Long total = rw.withRead(a -> a[0]);
    assertThat(total).isEqualTo(3L * (iters / 4));
  }

  /** Attack: writer starvation by continuously overlapping readers (20 writes, each < 5 s). */
  @ParameterizedTest
  @ValueSource(strings = {"weft", "jdk"})
  void writerGetsInAmongOverlappingReaders(String kind) throws Exception {
    Rw rw = Review17bSupport.of(kind);
    AtomicBoolean stop = new AtomicBoolean();
    List<Worker> readers = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      readers.add(new Worker("r" + i, () -> {
        while (!stop.get()) {
          try (G g = rw.read()) {
            LockSupport.parkNanos(50_000L);
          }
        }
      }));
    }
    long worst = 0;
    try {
      for (int i = 0; i < 20; i++) {
        long s = System.nanoTime();
        try (G w = rw.tryWrite(TimeUnit.SECONDS.toNanos(5))) {
          assertThat(w).as("write %d within 5 s", i).isNotNull();
        }
        worst = Math.max(worst, System.nanoTime() - s);
      }
    } finally {
      stop.set(true);
      for (Worker r : readers) {
        check(r);
      }
    }
    assertThat(worst).isLessThan(TimeUnit.SECONDS.toNanos(5));
  }

  /** Attack: every documented misuse throws the documented type with a useful message. */
  @Test
  void misuseThrowsTheDocumentedExceptions() throws Exception {
    RwLock<@Nullable String> rw = new RwLock<>(null);
    assertThatThrownBy(() -> rw.tryRead(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> rw.tryWrite(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> rw.withRead(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> rw.withWrite(null)).isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> rw.update(null)).isInstanceOf(NullPointerException.class);
    var r = rw.read();
    assertThatThrownBy(rw::write).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("upgrade");
    assertThatThrownBy(rw::tryWrite).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> rw.tryWrite(Duration.ZERO)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(rw::writeInterruptibly).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> rw.update(v -> v)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> rw.withWrite(v -> v)).isInstanceOf(IllegalStateException.class);
    // another thread closes / reads my guard: IMSE, and the hold stays
    AtomicReference<@Nullable Throwable> other = new AtomicReference<>();
    Worker o = new Worker("o", () -> {
      try {
        r.close();
      } catch (IllegalMonitorStateException e) {
        other.set(e);
      }
      assertThatThrownBy(r::get).isInstanceOf(IllegalMonitorStateException.class);
    });
    check(o);
    assertThat(other.get()).isInstanceOf(IllegalMonitorStateException.class)
        .hasMessageContaining("belongs to thread");
    assertThat(rw.readLockCount()).isOne();
    check(new Worker("o1", () -> assertThat(rw.tryWrite()).isNull()));
    r.close();
    assertThatThrownBy(r::close).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(r::get).isInstanceOf(IllegalStateException.class);
    assertThat(rw.readLockCount()).isZero();
    var w = rw.write();
    assertThatThrownBy(rw::read).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("not reentrant");
    assertThatThrownBy(rw::tryRead).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> rw.tryRead(Duration.ofSeconds(1)))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(rw::readInterruptibly).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(rw::write).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> rw.withRead(v -> v)).isInstanceOf(IllegalStateException.class);
    Worker o2 = new Worker("o2", () -> {
      assertThatThrownBy(w::close).isInstanceOf(IllegalMonitorStateException.class);
      assertThatThrownBy(() -> w.set("x")).isInstanceOf(IllegalMonitorStateException.class);
    });
    check(o2);
    assertThat(rw.isWriteLocked()).isTrue();
    w.set("v");
    w.close();
    assertThatThrownBy(w::close).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> w.set("y")).isInstanceOf(IllegalStateException.class);
    assertThat(rw.isWriteLocked()).isFalse();
    String seen = rw.withRead(v -> v);
    assertThat(seen).isEqualTo("v");
    // throwing update: value unchanged, lock free
    assertThatThrownBy(() -> rw.update(v -> {
      throw new IllegalArgumentException("boom");
    })).hasMessage("boom");
    String after = rw.withRead(v -> v);
    assertThat(after).isEqualTo("v");
    assertThat(rw.tryWrite()).isNotNull().satisfies(RwLock.WriteGuard::close);
  }

  /** Attack: with LockOrder on, nested reads, refusals, timeouts and interrupts leave no entry. */
  @Test
  void lockOrderHeldListStaysCleanThroughNestingTimeoutsAndRefusals() throws Exception {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
    try {
      RwLock<Integer> a = new RwLock<>(1);
      RwLock<Integer> b = new RwLock<>(2);
      var r1 = a.read();
      var r2 = a.read();
      try (var x = b.read()) {
        assertThatThrownBy(a::write).isInstanceOf(IllegalStateException.class);
        r1.close(); // out of order
      }
      var r3 = a.tryRead(Duration.ofMillis(10));
      assertThat(r3).isNotNull();
      r3.close();
      r2.close();
      assertThat(LockOrder.heldCountForTests()).isZero();
      CountDownLatch holds = new CountDownLatch(1);
      CountDownLatch done = new CountDownLatch(1);
      Worker h = new Worker("h", () -> {
        try (var w = a.write()) {
          holds.countDown();
          done.await(20, TimeUnit.SECONDS);
        }
      });
      try {
        assertThat(holds.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(a.tryRead(Duration.ofMillis(5))).isNull();
        assertThat(a.tryWrite(Duration.ofMillis(5))).isNull();
        Thread.currentThread().interrupt();
        assertThatThrownBy(a::readInterruptibly).isInstanceOf(InterruptedException.class);
        assertThat(LockOrder.heldCountForTests()).isZero();
      } finally {
        done.countDown();
        check(h);
      }
    } finally {
      LockOrder.disable();
      LockOrder.resetForTests();
    }
  }

  /** Attack: virtual threads on one carrier (holders blocking inside, timed retries, churn). */
  @Test
  @Timeout(120)
  void virtualThreadsOnOneCarrier() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21);
    String jdk = VirtualReadersHarness.forkOneCarrier(Review17bVirtualJdkMain.class);
    String weft = VirtualReadersHarness.forkOneCarrier(Review17bVirtualMain.class);
    assertThat(weft).contains("weft mixedChurn: ok");
    assertThat(jdk).contains("jdk mixedChurn: ok");
  }

  /** Attack: the same virtual-thread schedules on the default scheduler, in this JVM. */
  @Test
  @Timeout(120)
  void virtualThreadsOnTheDefaultScheduler() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21);
    assertThat(Review17bVirtualMain.runAll("weft")).isZero();
  }

  /**
   * Attack: the JDK's limit on read holds (undocumented in RwLock). JDK 17's lock throws {@code
   * Error("Maximum lock count exceeded")} at the 65,536th hold; JDK 25's lock has no such limit
   * there. RwLock must match the JDK lock of the running JVM and stay consistent either way.
   */
  @Test
  void readHoldLimitMatchesTheJdkAndLeavesTheLockConsistent() {
    java.util.concurrent.locks.ReentrantReadWriteLock jdk =
        new java.util.concurrent.locks.ReentrantReadWriteLock();
    boolean jdkLimited = false;
    int n = 65_535;
    for (int i = 0; i < n; i++) {
      if (!jdk.readLock().tryLock()) {
        throw new AssertionError("free lock refused a read");
      }
    }
    try {
      if (jdk.readLock().tryLock()) {
        jdk.readLock().unlock();
      } else {
        jdkLimited = true; // not reached: JDK 17 throws from tryLock
      }
    } catch (Error e) {
      jdkLimited = true;
    } finally {
      for (int i = 0; i < n; i++) {
        jdk.readLock().unlock();
      }
    }
    RwLock<Integer> rw = new RwLock<>(1);
    List<RwLock.ReadGuard<Integer>> guards = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        guards.add(rw.read());
      }
      if (jdkLimited) {
        assertThatThrownBy(rw::read).isInstanceOf(Error.class)
            .hasMessageContaining("Maximum lock count exceeded");
        assertThatThrownBy(rw::tryRead).isInstanceOf(Error.class);
        assertThat(rw.readLockCount()).isEqualTo(n);
      } else {
        guards.add(rw.read());
        guards.add(java.util.Objects.requireNonNull(rw.tryRead()));
        assertThat(rw.readLockCount()).isEqualTo(n + 2);
      }
    } finally {
      for (var g : guards) {
        g.close();
      }
    }
    assertThat(rw.readLockCount()).isZero();
    assertThat(rw.tryWrite()).isNotNull().satisfies(RwLock.WriteGuard::close);
  }

  /**
   * Attack (docs/observability.md, "Only calls that waited"): nested reads behind a queued
   * writer, and interruptible forms with a pending interrupt, write no LockContended event.
   */
  @Test
  void nestedReadsAndPendingInterruptsWriteNoJfrEvent() throws Exception {
    RwLock<Integer> rw = new RwLock<>(1);
    Thread me = Thread.currentThread();
    java.util.List<jdk.jfr.consumer.RecordedEvent> events;
    CountDownLatch writerIn = new CountDownLatch(1);
    AtomicReference<@Nullable Worker> writer = new AtomicReference<>();
    try (jdk.jfr.Recording r = new jdk.jfr.Recording()) {
      r.enable("dev.weft.LockContended").withThreshold(Duration.ZERO);
      events = JfrAdversarialTestSupport.recordDuring(r, () -> {
        try (var outer = rw.read()) {
          Worker w = new Worker("w", () -> {
            try (var g = rw.write()) {
              writerIn.countDown();
            }
          });
          writer.set(w);
          Waits.awaitBlocked(w.thread);
          try (var a = rw.read();
              var b = rw.readInterruptibly();
              var c = rw.tryRead(Duration.ofSeconds(1))) {
            assertThat(c).isNotNull();
            Thread.currentThread().interrupt();
            assertThatThrownBy(rw::readInterruptibly).isInstanceOf(InterruptedException.class);
            Thread.currentThread().interrupt();
            assertThatThrownBy(() -> rw.tryRead(Duration.ofSeconds(1)))
                .isInstanceOf(InterruptedException.class);
          }
        }
        assertThat(writerIn.await(10, TimeUnit.SECONDS)).isTrue();
        w(writer).join();
      });
    }
    List<jdk.jfr.consumer.RecordedEvent> mine = new ArrayList<>();
    for (var e : events) {
      var t = e.getThread();
      if (t != null && t.getJavaThreadId() == me.getId()) {
        mine.add(e);
      }
    }
    assertThat(mine).isEmpty();
  }

  private static Worker w(AtomicReference<@Nullable Worker> ref) {
    Worker w = ref.get();
    if (w == null) {
      throw new AssertionError("no worker");
    }
    return w;
  }

  /** Attack: LockOrder reports a read-read inversion, and the refused read takes no hold. */
  @Test
  void lockOrderReportsAReadReadInversionAndTakesNothing() {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
    try {
      RwLock<Integer> a = new RwLock<>(1);
      RwLock<Integer> b = new RwLock<>(2);
      try (var x = a.read(); var y = b.read()) {
        assertThat(x.get() + y.get()).isEqualTo(3);
      }
      try (var y = b.read()) {
        assertThatThrownBy(a::read).isInstanceOf(LockOrderException.class);
        assertThatThrownBy(() -> a.tryRead(Duration.ofMillis(1)))
            .isInstanceOf(LockOrderException.class);
        assertThat(a.readLockCount()).isZero();
        try (var z = a.tryRead()) { // does not wait: no check, but held
          assertThat(z).isNotNull();
        }
        try (var again = b.read()) { // nested read of a held lock: no edge, no report
          assertThat(again.get()).isEqualTo(2);
        }
      }
      assertThat(LockOrder.heldCountForTests()).isZero();
    } finally {
      LockOrder.disable();
      LockOrder.resetForTests();
    }
  }

  /**
   * Attack (doc gap, JDK too): with a reader holding and a writer queued, {@code tryRead()}
   * barges in (as {@code ReadLock.tryLock()}) but {@code tryRead(Duration.ZERO)} returns null
   * (as {@code ReadLock.tryLock(0, NANOSECONDS)}), though no writer holds the lock: the "check
   * once" of the timed form is not the untimed form's check. Pinned here on both locks.
   */
  @Test
  void zeroTimeoutReadRefusesBehindAQueuedWriterWhileTryReadBarges() throws Exception {
    RwLock<Integer> rw = new RwLock<>(1);
    ReentrantReadWriteLock jdk = new ReentrantReadWriteLock();
    Worker holder;
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    holder = new Worker("h", () -> {
      try (var r = rw.read()) {
        jdk.readLock().lock();
        try {
          held.countDown();
          done.await(20, TimeUnit.SECONDS);
        } finally {
          jdk.readLock().unlock();
        }
      }
    });
    assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
    Worker ww = new Worker("ww", () -> {
      try (var w = rw.write()) {
        assertThat(w.get()).isEqualTo(1);
      }
    });
    Worker jw = new Worker("jw", () -> {
      if (jdk.writeLock().tryLock(20, TimeUnit.SECONDS)) {
        jdk.writeLock().unlock();
      }
    });
    try {
      Waits.awaitBlocked(ww.thread);
      Waits.awaitBlocked(jw.thread);
      assertThat(rw.tryRead(Duration.ZERO)).isNull();
      assertThat(jdk.readLock().tryLock(0, TimeUnit.NANOSECONDS)).isFalse();
      var barged = rw.tryRead();
      assertThat(barged).isNotNull();
      barged.close();
      assertThat(jdk.readLock().tryLock()).isTrue();
      jdk.readLock().unlock();
    } finally {
      done.countDown();
      check(holder);
      check(ww);
      check(jw);
    }
  }
}
