package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Lock-order checking ({@link LockOrder}): inversions found on a single thread's run, before
 * any thread blocks; no false reports; collected locks leave the graph.
 */
@SuppressWarnings("try") // guards held for their scope only
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class LockOrderTest {

  @BeforeEach
  void on() {
    LockOrder.resetForTests();
    LockOrder.enable(LockOrder.Mode.THROW);
  }

  @AfterEach
  void off() {
    LockOrder.disable();
    LockOrder.sinkForTests(null);
    LockOrder.resetForTests();
  }

  private static String name(Object lock) {
    return lock.getClass().getSimpleName() + "@" + Integer.toHexString(System.identityHashCode(lock));
  }

  // ---- the classic inversion ------------------------------------------------------------

  @Test
  void twoLockInversionOnOneThreadThrowsBeforeTakingTheLock() {
    Mutex<Integer> a = new Mutex<>(1);
    Mutex<Integer> b = new Mutex<>(2);
    try (var ga = a.lock(); var gb = b.lock()) {
      assertThat(ga.get() + gb.get()).isEqualTo(3);
    }
    try (var gb = b.lock()) {
      LockOrderException e = catchInversion(() -> a.lock().close());
      assertThat(e.cycle()).containsExactly(name(b), name(a), name(b));
      assertThat(e).hasMessageContaining(name(b) + " -> " + name(a) + " -> " + name(b));
      assertThat(a.isLocked()).as("the lock was not taken").isFalse();
      assertThat(gb.isOpen()).isTrue();
      // The earlier order's first acquisition: its stack is this test method's first block.
      assertThat(e.getSuppressed()).hasSize(1);
      assertThat(e.getSuppressed()[0].getMessage())
          .contains(name(a) + " -> " + name(b) + " first taken here");
      assertThat(e.getSuppressed()[0].getStackTrace())
          .anyMatch(f -> f.getMethodName().equals("twoLockInversionOnOneThreadThrowsBeforeTakingTheLock"));
    }
    assertThat(LockOrder.heldCountForTests()).isZero();
    // THROW records nothing of the refused acquisition: the same inversion throws again.
    try (var gb = b.lock()) {
      catchInversion(() -> a.lock().close());
    }
  }

  @Test
  void inversionIsReportedBeforeWaitingForALockAnotherThreadHolds() throws Exception {
    SpinLock a = new SpinLock();
    SpinLock b = new SpinLock();
    try (var ga = a.acquire(); var gb = b.acquire()) { // a -> b recorded
      assertThat(b.isHeldByCurrentThread()).isTrue();
    }
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    Thread holder =
        new Thread(
            () -> {
              a.lock();
              try {
                holding.countDown();
                done.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              } finally {
                a.unlock();
              }
            },
            "test-lockorder-holder");
    holder.start();
    try {
      assertThat(holding.await(10, TimeUnit.SECONDS)).isTrue();
      b.lock();
      try {
        // Without the check this would wait for the holder forever (the test's timeout).
        catchInversion(a::lock);
        assertThat(a.isHeldByCurrentThread()).isFalse();
      } finally {
        b.unlock();
      }
    } finally {
      done.countDown();
      holder.join(10_000);
    }
    assertThat(holder.isAlive()).isFalse();
  }

  @Test
  void threeLockCycle() {
    TicketLock a = new TicketLock();
    Mutex<String> b = new Mutex<>("b");
    SpinLock c = new SpinLock();
    a.lock();
    try (var gb = b.lock()) {
      gb.get();
    } finally {
      a.unlock();
    }
    try (var gb = b.lock(); var gc = c.acquire()) {
      gb.get();
    }
    try (var gc = c.acquire()) {
      LockOrderException e = catchInversion(a::lock);
      assertThat(e.cycle()).containsExactly(name(c), name(a), name(b), name(c));
      assertThat(e.getSuppressed()).hasSize(2);
      assertThat(e.getSuppressed()[0].getMessage()).startsWith(name(a) + " -> " + name(b));
      assertThat(e.getSuppressed()[1].getMessage()).startsWith(name(b) + " -> " + name(c));
    }
  }

  // ---- no false reports -----------------------------------------------------------------

  @Test
  void consistentOrderIsNeverReported() {
    Mutex<Integer> a = new Mutex<>(0);
    SpinLock b = new SpinLock();
    RwLock<Integer> c = new RwLock<>(0);
    for (int i = 0; i < 100; i++) {
      try (var ga = a.lock(); var gb = b.acquire(); var gc = c.write()) {
        gc.set(gc.get() + ga.get());
      }
      try (var ga = a.lock(); var gc = c.read()) {
        gc.get();
      }
    }
    assertThat(LockOrder.edgesForTests()).isEqualTo(3); // a->b, a->c, b->c
    assertThat(LockOrder.heldCountForTests()).isZero();
  }

  @Test
  void tryLockProbesAddNoEdge() throws Exception {
    SpinLock a = new SpinLock();
    TicketLock b = new TicketLock();
    Mutex<Integer> c = new Mutex<>(0);
    RwLock<Integer> d = new RwLock<>(0);
    SeqLock e = new SeqLock();
    b.lock();
    try {
      assertThat(a.tryLock()).isTrue(); // b -> a by a probe: no edge
      a.unlock();
      assertThat(a.tryLock(Duration.ZERO)).isTrue(); // a zero timeout does not wait either
      a.unlock();
      var gc = c.tryLock();
      assertThat(gc).isNotNull();
      gc.close();
      var gd = d.tryWrite();
      assertThat(gd).isNotNull();
      gd.close();
      var ge = e.tryWrite();
      assertThat(ge).isNotNull();
      ge.close();
    } finally {
      b.unlock();
    }
    assertThat(LockOrder.edgesForTests()).isZero();
    // The opposite orders, blocking this time: nothing to contradict.
    try (var ga = a.acquire(); var gb = b.acquire()) {
      assertThat(b.isHeldByCurrentThread()).isTrue();
    }
    try (var gc = c.lock(); var gd = d.write(); var ge = e.write(); var gb = b.acquire()) {
      assertThat(b.isHeldByCurrentThread()).isTrue();
    }
  }

  @Test
  void aLockHeldAfterTryLockIsAHeldLockForLaterEdges() {
    SpinLock x = new SpinLock();
    Mutex<Integer> y = new Mutex<>(0);
    assertThat(x.tryLock()).isTrue();
    try (var gy = y.lock()) { // x -> y: a real edge
      gy.get();
    } finally {
      x.unlock();
    }
    try (var gy = y.lock()) {
      catchInversion(x::lock);
      assertThat(x.tryLock()).as("a probe is never refused").isTrue();
      x.unlock();
    }
  }

  @Test
  void guardsClosedOutOfOrderLeaveTheRightLocksHeld() {
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    Mutex<Integer> c = new Mutex<>(0);
    var ga = a.tryLock(); // probes: held, without edges between a and b
    var gb = b.tryLock();
    assertThat(ga).isNotNull();
    assertThat(gb).isNotNull();
    ga.close(); // a released first: b is still held
    assertThat(LockOrder.heldCountForTests()).isEqualTo(1);
    try (var gc = c.lock()) { // b -> c only, not a -> c
      gc.get();
    }
    gb.close();
    assertThat(LockOrder.heldCountForTests()).isZero();
    assertThat(LockOrder.edgesForTests()).isEqualTo(1);
    try (var gc = c.lock(); var ga2 = a.lock()) { // c -> a: no a -> c was recorded
      ga2.get();
    }
  }

  @Test
  void freedLocksAreCollectedAndLeaveTheGraph() {
    Mutex<Integer> keep = new Mutex<>(0);
    orderManyFreshLocksAfter(keep, 1_000);
    assertThat(LockOrder.identityNodesForTests()).isGreaterThan(1);
    // Bounded GC loop: weak keys are cleared by a collection and enqueued shortly after by the
    // reference handler thread; the purge runs on the next graph operation.
    int nodes = Integer.MAX_VALUE;
    for (int i = 0; i < 200 && nodes > 1; i++) {
      System.gc(); // each collection also gives the reference handler time to enqueue
      nodes = LockOrder.identityNodesForTests();
    }
    assertThat(nodes).as("only the kept lock's node is left").isEqualTo(1);
    assertThat(LockOrder.edgesForTests()).isZero();
    // New locks that take `keep` second: no edge of a collected lock is inherited.
    for (int i = 0; i < 1_000; i++) {
      Mutex<Integer> fresh = new Mutex<>(i);
      try (var gf = fresh.lock(); var gk = keep.lock()) {
        gk.set(gf.get());
      }
    }
  }

  private static void orderManyFreshLocksAfter(Mutex<Integer> keep, int n) {
    for (int i = 0; i < n; i++) {
      SpinLock tmp = new SpinLock();
      try (var gk = keep.lock(); var gt = tmp.acquire()) {
        gk.get();
      }
    }
  }

  @Test
  void aLockTakenAloneCostsNoNode() {
    for (int i = 0; i < 100; i++) {
      try (var g = new Mutex<>(i).lock()) {
        g.get();
      }
    }
    assertThat(LockOrder.identityNodesForTests()).isZero();
  }

  // ---- every lock type -------------------------------------------------------------------

  /** A lock type's blocking acquisition, returning its release. */
  interface Taker {
    AutoCloseable take() throws Exception;
  }

  private static void assertInversionCaught(Object lock, Taker take) throws Exception {
    Mutex<Integer> other = new Mutex<>(0);
    try (AutoCloseable g = take.take(); var go = other.lock()) {
      go.get();
    }
    try (var go = other.lock()) {
      LockOrderException e = catchInversion(() -> take.take().close());
      assertThat(e.cycle()).containsExactly(name(other), name(lock), name(other));
    }
    assertThat(LockOrder.heldCountForTests()).isZero();
  }

  @Test
  void spinLockAllBlockingForms() throws Exception {
    SpinLock s = new SpinLock();
    assertInversionCaught(s, () -> s.acquire());
    assertInversionCaught(s, () -> { s.lock(); return s::unlock; });
    assertInversionCaught(s, () -> { s.lockInterruptibly(); return s::unlock; });
    assertInversionCaught(s, () -> { assertThat(s.tryLock(Duration.ofSeconds(5))).isTrue(); return s::unlock; });
    assertInversionCaught(s, () -> { assertThat(s.tryLock(5, TimeUnit.SECONDS)).isTrue(); return s::unlock; });
  }

  @Test
  void ticketLockAllBlockingForms() throws Exception {
    TicketLock t = new TicketLock();
    assertInversionCaught(t, () -> t.acquire());
    assertInversionCaught(t, () -> { t.lockInterruptibly(); return t::unlock; });
    assertInversionCaught(t, () -> { assertThat(t.tryLock(Duration.ofSeconds(5))).isTrue(); return t::unlock; });
  }

  @Test
  void mutexAllBlockingForms() throws Exception {
    Mutex<Integer> m = new Mutex<>(1);
    assertInversionCaught(m, m::lock);
    assertInversionCaught(m, m::lockInterruptibly);
    assertInversionCaught(m, () -> m.tryLock(Duration.ofSeconds(5)));
    assertInversionCaught(m, () -> m.lockWhen(v -> v == 1));
    assertInversionCaught(m, () -> m.lockWhen(v -> v == 1, Duration.ofSeconds(5)));
    assertInversionCaught(m, () -> m.lockWhenUninterruptibly(v -> v == 1));
    // Closure forms: the order is recorded inside, and checked on entry.
    Mutex<Integer> other = new Mutex<>(0);
    m.with(v -> other.with(w -> v + w));
    try (var go = other.lock()) {
      catchInversion(() -> m.update(v -> v + 1));
      catchInversion(() -> m.awaitThen(v -> true, v -> v));
    }
  }

  @Test
  void seqLockAndSeqLockedWriteSections() throws Exception {
    SeqLock s = new SeqLock();
    assertInversionCaught(s, s::write);
    assertInversionCaught(s, s::writeUninterruptibly);
    assertInversionCaught(s, () -> s.tryWrite(Duration.ofSeconds(5)));
    SeqLocked<int[]> sl = new SeqLocked<>(new int[1]);
    Mutex<Integer> other = new Mutex<>(0);
    sl.write(v -> other.with(w -> v[0] = w));
    try (var go = other.lock()) {
      catchInversion(() -> sl.write(v -> v[0]++));
      catchInversion(() -> sl.writeUninterruptibly(v -> v[0]++));
    }
    assertThat(LockOrder.heldCountForTests()).isZero();
  }

  // ---- RwLock read and write -------------------------------------------------------------

  @Test
  void rwLockReadAfterWriteAndWriteAfterReadAreEdges() throws Exception {
    RwLock<Integer> r = new RwLock<>(0);
    assertInversionCaught(r, r::read);
    assertInversionCaught(r, r::write);
    assertInversionCaught(r, r::readInterruptibly);
    assertInversionCaught(r, r::writeInterruptibly);
    assertInversionCaught(r, () -> r.tryRead(Duration.ofSeconds(5)));
    assertInversionCaught(r, () -> r.tryWrite(Duration.ofSeconds(5)));
    RwLock<Integer> w = new RwLock<>(0);
    try (var gr = r.read(); var gw = w.write()) { // r(read) -> w(write)
      gw.set(gr.get());
    }
    try (var gw = w.write()) {
      LockOrderException e = catchInversion(() -> r.withRead(v -> v));
      assertThat(e).hasMessageContaining(name(w) + " and is about to wait for " + name(r) + " (read)");
      assertThat(e.getSuppressed()[0].getMessage()).startsWith(name(r) + " (read) -> " + name(w));
    }
  }

  @Test
  void readReadCyclesAreReportedButReentrantReadsAddNoEdge() {
    RwLock<Integer> a = new RwLock<>(0);
    RwLock<Integer> b = new RwLock<>(0);
    try (var ga = a.read(); var gb = b.read(); var ga2 = a.read()) { // a -> b; a again: re-entrant
      assertThat(ga.get() + gb.get() + ga2.get()).isZero();
    }
    assertThat(LockOrder.edgesForTests()).isEqualTo(1);
    try (var gb = b.read()) {
      catchInversion(() -> a.read().close()); // the documented read-read rule
    }
  }

  // ---- lock classes ----------------------------------------------------------------------

  @Test
  void locksOfOneClassShareANode() {
    Mutex<Integer> acct1 = LockOrder.classify(new Mutex<>(1), "account");
    Mutex<Integer> acct2 = LockOrder.classify(new Mutex<>(2), "account");
    SpinLock log1 = LockOrder.classify(new SpinLock(), "ledger");
    SpinLock log2 = LockOrder.classify(new SpinLock(), "ledger");
    try (var g = acct1.lock(); var l = log1.acquire()) { // account -> ledger
      g.get();
    }
    try (var l = log2.acquire()) { // a different pair, the same classes
      LockOrderException e = catchInversion(() -> acct2.lock().close());
      assertThat(e.cycle()).containsExactly("class \"ledger\"", "class \"account\"", "class \"ledger\"");
    }
    try (var g = acct1.lock()) { // two accounts nested: no order within a class
      LockOrderException e = catchInversion(() -> acct2.lock().close());
      assertThat(e).hasMessageContaining("same lock class");
      assertThat(e.cycle()).containsExactly("class \"account\"", "class \"account\"");
    }
    assertThat(LockOrder.identityNodesForTests()).isZero();
  }

  @Test
  void classifyChecksItsArgumentsAndDoesNothingWhileOff() {
    assertThatThrownBy(() -> LockOrder.classify(new Object(), "x"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("java.lang.Object is not a weft lock");
    assertThatThrownBy(() -> LockOrder.classify(new SpinLock(), " "))
        .isInstanceOf(IllegalArgumentException.class);
    LockOrder.disable();
    Mutex<Integer> a = LockOrder.classify(new Mutex<>(1), "account");
    Mutex<Integer> b = LockOrder.classify(new Mutex<>(2), "account");
    LockOrder.enable(LockOrder.Mode.THROW);
    try (var ga = a.lock(); var gb = b.lock()) { // not classified: two identity nodes
      ga.set(gb.get());
    }
  }

  // ---- modes and switching ---------------------------------------------------------------

  @Test
  void logModeReportsOnceAndLetsTheAcquisitionProceed() {
    List<LockOrderException> reports = new CopyOnWriteArrayList<>();
    LockOrder.sinkForTests(reports::add);
    LockOrder.enable(LockOrder.Mode.LOG);
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    try (var ga = a.lock(); var gb = b.lock()) {
      ga.get();
    }
    for (int i = 0; i < 3; i++) {
      try (var gb = b.lock(); var ga = a.lock()) { // goes on: the lock is taken
        assertThat(a.isHeldByCurrentThread()).isTrue();
      }
    }
    assertThat(reports).hasSize(1);
    assertThat(reports.get(0).cycle()).containsExactly(name(b), name(a), name(b));
  }

  /**
   * A report whose delivery fails is not lost: the order is recorded only once a report has been
   * delivered, so the next acquisition in that order reports it again (session 29; before, the
   * order was recorded first and the failed report was never repeated: 1 report, not 2).
   */
  @Test
  void logModeReportsAgainAfterADeliveryThatFailed() {
    List<LockOrderException> reports = new CopyOnWriteArrayList<>();
    AtomicInteger calls = new AtomicInteger();
    LockOrder.sinkForTests(
        e -> {
          if (calls.incrementAndGet() == 1) {
            throw new IllegalStateException("the log backend failed");
          }
          reports.add(e);
        });
    LockOrder.enable(LockOrder.Mode.LOG);
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    try (var ga = a.lock(); var gb = b.lock()) {
      ga.get();
    }
    try (var gb = b.lock()) {
      assertThatThrownBy(a::lock).hasMessage("the log backend failed");
      assertThat(a.isLocked()).as("the failed report's acquisition took nothing").isFalse();
    }
    for (int i = 0; i < 3; i++) {
      try (var gb = b.lock(); var ga = a.lock()) {
        assertThat(a.isHeldByCurrentThread()).isTrue();
      }
    }
    assertThat(calls).hasValue(2);
    assertThat(reports).hasSize(1);
    assertThat(reports.get(0).cycle()).containsExactly(name(b), name(a), name(b));
  }

  @Test
  void offRecordsNothing() {
    LockOrder.disable();
    assertThat(LockOrder.mode()).isEqualTo(LockOrder.Mode.OFF);
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    try (var ga = a.lock(); var gb = b.lock()) {
      ga.get();
    }
    try (var gb = b.lock(); var ga = a.lock()) {
      ga.get();
      assertThat(LockOrder.heldCountForTests()).isZero();
    }
    assertThat(LockOrder.edgesForTests()).isZero();
  }

  @Test
  void holdsFromBeforeASwitchAreForgotten() {
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    var ga = a.lock();
    LockOrder.disable();
    ga.close(); // released while off: its entry would be stale
    LockOrder.enable(LockOrder.Mode.THROW);
    assertThat(LockOrder.heldCountForTests()).isZero();
    try (var gb = b.lock()) {
      gb.get();
    }
    assertThat(LockOrder.edgesForTests()).isZero();
  }

  @Test
  void enableRejectsOff() {
    assertThatThrownBy(() -> LockOrder.enable(LockOrder.Mode.OFF))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("disable()");
  }

  @Test
  void parsesThePropertyValues() {
    assertThat(LockOrder.parseMode(null)).isEqualTo(LockOrder.Mode.OFF);
    assertThat(LockOrder.parseMode("")).isEqualTo(LockOrder.Mode.OFF);
    assertThat(LockOrder.parseMode("off")).isEqualTo(LockOrder.Mode.OFF);
    assertThat(LockOrder.parseMode("false")).isEqualTo(LockOrder.Mode.OFF);
    assertThat(LockOrder.parseMode("check")).isEqualTo(LockOrder.Mode.THROW);
    assertThat(LockOrder.parseMode(" CHECK ")).isEqualTo(LockOrder.Mode.THROW);
    assertThat(LockOrder.parseMode("throw")).isEqualTo(LockOrder.Mode.THROW);
    assertThat(LockOrder.parseMode("log")).isEqualTo(LockOrder.Mode.LOG);
    assertThatThrownBy(() -> LockOrder.parseMode("sometimes"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("\"sometimes\"");
  }

  @Test
  @Timeout(value = 60, unit = TimeUnit.SECONDS)
  void thePropertySwitchesCheckingOnInAFreshJvm() throws Exception {
    String javaCmd = System.getProperty("java.home") + "/bin/java";
    Process p =
        new ProcessBuilder(
                javaCmd,
                "-cp",
                System.getProperty("java.class.path"),
                "-D" + LockOrder.PROPERTY + "=check",
                LockOrderForkedMain.class.getName())
            .redirectErrorStream(true)
            .start();
    try {
      assertThat(p.waitFor(50, TimeUnit.SECONDS)).as("the forked JVM ends").isTrue();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.exitValue()).as(out).isZero();
      assertThat(out).contains("mode=THROW", "caught LockOrderException");
    } finally {
      p.destroyForcibly();
    }
  }

  // ---- helpers ---------------------------------------------------------------------------

  interface Acquisition {
    void run() throws Exception;
  }

  private static LockOrderException catchInversion(Acquisition acquisition) {
    try {
      acquisition.run();
    } catch (LockOrderException e) {
      return e;
    } catch (Exception e) {
      throw new AssertionError("expected a LockOrderException, got " + e, e);
    }
    throw new AssertionError("expected a LockOrderException; the acquisition went through");
  }
}
