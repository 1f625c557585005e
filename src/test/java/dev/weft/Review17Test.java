package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.StampedLock;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Session 17 review: defects found in commit 998b582 (virtual readers wait before registering).
 * Both failed 3 of 3 on that commit and are fixed in 1b92126 (a virtual {@code beginRead()}
 * waits unregistered first, as {@code read} does), hence {@code fixed_}. The attacks that held
 * are in {@link Review17TestHeld}.
 */
@Timeout(120)
@SuppressWarnings("try") // guards and hooks held for their scope only
class Review17Test {
  @BeforeEach
  void needsVirtualThreads() {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
  }

  /** The class example's read form: beginRead, read, validate, retry. */
  static VirtualReadersHarness.ReadWrite beginReadLoop(SeqLock l) {
    VirtualReadersHarness.ReadWrite base = VirtualReadersHarness.of(l);
    return new VirtualReadersHarness.ReadWrite() {
      @Override
      public long read(long[] data) {
        long s;
        long v;
        do {
          s = l.beginRead();
          v = data[0] + data[1];
        } while (!l.validate(s));
        return v;
      }

      @Override
      public void write(Runnable section) throws InterruptedException {
        base.write(section);
      }
    };
  }

  /**
   * The session 17 change reaches {@code read}/{@code readInt}/{@code readLong} (retryStamp)
   * only: {@code beginRead()} on a virtual thread that finds a write in progress still goes
   * straight to {@code acquireForRead} after 64 spins (SeqLock.beginReadSlow), registers in
   * {@code readersWaiting} and so keeps the writer's next section out until the scheduler has
   * run it. Schedule: a platform writer holds the write lock; a virtual thread calls {@code
   * beginRead()} and parks (past its spins); the writer closes its section and at once calls
   * {@code tryWrite()} on the same thread. The same schedule with {@code read(...)} passes
   * (SeqLockVirtualReaderTest.aVirtualReaderWaitingOutAWriteDoesNotHoldBackTheNextOne). Fails
   * 3 of 3 (deterministic: the reader is registered while parked). Cause: beginReadSlow was
   * not changed; it has no virtual-thread wait before {@code acquireForRead}. The measured
   * cost is in {@link #fixed_beginReadLoopsOnVirtualThreadsKeepTheSession15Slowdown}.
   */
  @Test
  void fixed_virtualBeginReadWaitingOutAWriteHoldsBackTheNextOne() throws Exception {
    SeqLock lock = new SeqLock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong stamp = new AtomicLong(-1);
    Thread reader;
    SeqLock.WriteGuard first = lock.write();
    try {
      reader =
          SpinLockHandOverReviewTest.startVirtual(
              "test-virtual-beginRead",
              () -> {
                try {
                  stamp.set(lock.beginRead());
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              });
      awaitBlocked(reader);
    } finally {
      first.close();
    }
    SeqLock.WriteGuard next = lock.tryWrite();
    try {
      assertThat(next)
          .as("next write refused: the virtual thread parked in beginRead() had registered")
          .isNotNull();
    } finally {
      if (next != null) {
        next.close();
      }
      reader.join(TimeUnit.SECONDS.toMillis(30));
    }
    assertThat(reader.isAlive()).isFalse();
    assertThat(failure.get()).isNull();
  }

  /**
   * Review15Test's scenario (64 virtual readers, each read followed by a 20 µs park; one
   * virtual writer, 20,000 writes, parking 1 µs inside every 16th; 3 s limit), with the readers
   * using the class example's {@code beginRead}/{@code validate} loop instead of {@code
   * readLong}. Measured (JDK 25, 2 vCPUs, 2 carriers, 3 runs): writer behind beginRead loops
   * 733, 492, 426 ms; behind readLong 244, 237, 241 ms; StampedLock 34, 48, 50 ms. So beginRead
   * loops keep most of the session-15 slowdown (9-21x StampedLock; readLong 5-7x here): 1.8-3.0x
   * the writer's time behind readLong. Asserted: under 1.5x readLong's (a 2x threshold failed
   * only 2 of 3). Cause: as in {@link #fixed_virtualBeginReadWaitingOutAWriteHoldsBackTheNextOne}.
   */
  @Test
  void fixed_beginReadLoopsOnVirtualThreadsKeepTheSession15Slowdown() throws Exception {
    VirtualReadersHarness.writerBehindReaders(
        VirtualReadersHarness.of(new StampedLock()), 2_000, 3_000); // warm-up
    VirtualReadersHarness.writerBehindReaders(beginReadLoop(new SeqLock()), 2_000, 3_000);
    VirtualReadersHarness.writerBehindReaders(VirtualReadersHarness.of(new SeqLock()), 2_000, 3_000);
    long stamped =
        VirtualReadersHarness.writerBehindReaders(
            VirtualReadersHarness.of(new StampedLock()), 20_000, 3_000);
    long read =
        VirtualReadersHarness.writerBehindReaders(
            VirtualReadersHarness.of(new SeqLock()), 20_000, 3_000);
    long begin =
        VirtualReadersHarness.writerBehindReaders(beginReadLoop(new SeqLock()), 20_000, 3_000);
    System.out.printf(
        "writer behind 64 virtual readers: SeqLock beginRead %d ms, SeqLock readLong %d ms,"
            + " StampedLock %d ms%n",
        begin, read, stamped);
    assertThat(begin)
        .as("beginRead loops %d ms; readLong %d ms; StampedLock %d ms", begin, read, stamped)
        .isLessThan(Math.max(200L, read * 3 / 2));
  }

}
