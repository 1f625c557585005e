package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Closes coverage gaps of {@link SeqLock}: the retry paths of every read flavour when a reader
 * throws on state that a write then invalidates, the fallback read under the lock, and contended
 * acquisition. Writes that invalidate a read are made deterministic by running them, from inside
 * the reader, on a helper thread that is joined before the reader returns.
 */
// "try": guards held for their scope only are never referenced in the body (-Xlint:try).
@SuppressWarnings("try")
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SeqLockCoverageTest {
  private final SeqLock lock = new SeqLock();

  /** Runs one complete write on another thread and joins it: any stamp taken before is stale. */
  private void writeElsewhere() {
    Thread t =
        new Thread(
            () -> {
              try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
                // nothing: the write itself invalidates readers
              }
            },
            "test-seqlock-writer");
    t.start();
    try {
      t.join();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Spins until {@code t} is parked or waiting (bounded by the test's @Timeout). */
  private static void awaitBlocked(Thread t) {
    while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
      assertThat(t.isAlive()).as("thread ended before blocking").isTrue();
      Thread.onSpinWait();
    }
  }

  /** A reader that invalidates its own stamp and throws for the first {@code bad} runs. */
  private final class FlakyReader {
    final AtomicInteger calls = new AtomicInteger();
    private final int bad;

    FlakyReader(int bad) {
      this.bad = bad;
    }

    long run() {
      if (calls.incrementAndGet() <= bad) {
        writeElsewhere();
        throw new IllegalStateException("torn state");
      }
      return 42L;
    }
  }

  @Test
  void everyReadFlavourRetriesWhenTheReaderThrowsOnInvalidatedState() {
    FlakyReader a = new FlakyReader(1);
    assertThat(lock.read(() -> a.run())).isEqualTo(42L);
    assertThat(a.calls).hasValue(2);

    FlakyReader b = new FlakyReader(1);
    assertThat(lock.readInt(() -> (int) b.run())).isEqualTo(42);
    assertThat(b.calls).hasValue(2);

    FlakyReader c = new FlakyReader(1);
    assertThat(lock.readLong(c::run)).isEqualTo(42L);
    assertThat(c.calls).hasValue(2);

    FlakyReader d = new FlakyReader(1);
    String dr = lock.read("s", s -> s + d.run());
    assertThat(dr).isEqualTo("s42");
    assertThat(d.calls).hasValue(2);

    FlakyReader e = new FlakyReader(1);
    assertThat(lock.readInt("s", s -> s.length() + (int) e.run())).isEqualTo(43);
    assertThat(e.calls).hasValue(2);

    FlakyReader f = new FlakyReader(1);
    assertThat(lock.readLong("s", s -> s.length() + f.run())).isEqualTo(43L);
    assertThat(f.calls).hasValue(2);
    assertThat(lock.fallbackReads()).isZero();
  }

  @Test
  void slowPathAlsoRetriesAfterThrowsOnInvalidatedState() {
    // Two bad runs: the first on the fast path, the second inside the slow path.
    FlakyReader a = new FlakyReader(2);
    assertThat(lock.read(() -> a.run())).isEqualTo(42L);
    assertThat(a.calls).hasValue(3);
    FlakyReader b = new FlakyReader(2);
    assertThat(lock.readLong(b::run)).isEqualTo(42L);
    assertThat(b.calls).hasValue(3);
    assertThat(lock.fallbackReads()).isZero();
  }

  @Test
  void readerThatNeverValidatesFallsBackToReadingUnderTheLock() {
    // Every run outside the lock is invalidated; the run under the lock must be the last one.
    AtomicInteger calls = new AtomicInteger();
    Long r =
        lock.read(
            () -> {
              calls.incrementAndGet();
              if (lock.isWriteLocked()) {
                return 7L;
              }
              writeElsewhere();
              return -1L;
            });
    assertThat(r).isEqualTo(7L);
    assertThat(lock.fallbackReads()).isEqualTo(1);
    assertThat(calls).hasValue(1 + SeqLock.READ_ATTEMPTS + 1);
    assertThat(lock.isWriteLocked()).isFalse();

    AtomicInteger primitiveCalls = new AtomicInteger();
    LongSupplier primitive =
        () -> {
          primitiveCalls.incrementAndGet();
          if (lock.isWriteLocked()) {
            return 9L;
          }
          writeElsewhere();
          return -1L;
        };
    assertThat(lock.readLong(primitive)).isEqualTo(9L);
    assertThat(lock.fallbackReads()).isEqualTo(2);
    assertThat(primitiveCalls).hasValue(1 + SeqLock.READ_ATTEMPTS + 1);
    assertThat(lock.isWriteLocked()).isFalse();
  }

  @Test
  void readerThrowingOnConsistentStateInTheSlowPathPropagates() {
    AtomicInteger calls = new AtomicInteger();
    IntSupplier reader =
        () -> {
          if (calls.incrementAndGet() == 1) {
            writeElsewhere(); // invalidate the fast path's run
            return -1;
          }
          throw new ArithmeticException("real failure");
        };
    assertThatThrownBy(() -> lock.readInt(reader))
        .isInstanceOf(ArithmeticException.class)
        .hasMessage("real failure");
    assertThat(calls).hasValue(2);
  }

  /** Holds the write lock on a test thread until {@code release} is counted down. */
  private Thread holdWriteLock(CountDownLatch held, CountDownLatch release) {
    Thread t =
        new Thread(
            () -> {
              try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
                held.countDown();
                release.await();
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "test-seqlock-holder");
    t.start();
    return t;
  }

  @Test
  void readsAndBeginReadWaitForAWriterThatHoldsTheLock() throws InterruptedException {
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = holdWriteLock(held, release);
    held.await();
    AtomicLong readResult = new AtomicLong(-1);
    AtomicLong stamp = new AtomicLong(-1);
    Thread reader =
        new Thread(
            () -> {
              long st = lock.beginRead();
              stamp.set(lock.validate(st) ? st : -2L); // restored, not bumped: still valid
              readResult.set(lock.readLong(() -> 5L));
            },
            "test-seqlock-reader");
    reader.start();
    awaitBlocked(reader); // spun out, now queued behind the writer
    assertThat(lock.isWriteLocked()).isTrue();
    release.countDown();
    reader.join();
    holder.join();
    assertThat(stamp.get() & 1).isZero();
    assertThat(stamp.get()).as("beginRead's stamp validates").isNotEqualTo(-2L);
    assertThat(stamp.get()).isGreaterThan(0L);
    assertThat(readResult).hasValue(5L);
    assertThat(lock.isWriteLocked()).isFalse();
  }

  @Test
  void contendedWriteBlocksUntilReleasedAndInterruptedWriteThrows() throws InterruptedException {
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = holdWriteLock(held, release);
    held.await();

    // Interrupt status already set: write() on a held lock throws at once and clears it.
    Thread.currentThread().interrupt();
    assertThatThrownBy(lock::write).isInstanceOf(InterruptedException.class);
    assertThat(Thread.interrupted()).isFalse();

    // Timed attempt that expires while the lock stays held.
    assertThat(lock.tryWrite(Duration.ofMillis(20))).isNull();

    AtomicReference<String> seen = new AtomicReference<>();
    Thread writer =
        new Thread(
            () -> {
              try (SeqLock.WriteGuard w = lock.write()) {
                seen.set(lock.toString());
              } catch (InterruptedException e) {
                seen.set("interrupted");
              }
            },
            "test-seqlock-waiter");
    writer.start();
    awaitBlocked(writer);
    release.countDown();
    writer.join();
    holder.join();
    assertThat(seen.get()).contains("write-locked by test-seqlock-waiter");
    assertThat(lock.isWriteLocked()).isFalse();
  }

  /** Guarded by {@link #lock}; a writer sets it to "torn" first, then to "done". */
  private String value = "initial";

  @Test
  void readsStartedDuringAWriteSeeOnlyTheFinishedWrite() throws InterruptedException {
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder =
        new Thread(
            () -> {
              try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
                value = "torn";
                held.countDown();
                release.await();
                value = "done";
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "test-seqlock-holder");
    holder.start();
    held.await();
    AtomicReference<String> a = new AtomicReference<>();
    AtomicInteger b = new AtomicInteger();
    AtomicLong c = new AtomicLong();
    AtomicReference<String> d = new AtomicReference<>();
    AtomicInteger e = new AtomicInteger();
    Thread reader =
        new Thread(
            () -> {
              a.set(lock.read(() -> value));
              b.set(lock.readInt(() -> value.length()));
              c.set(lock.readLong(() -> value.length()));
              d.set(lock.read(this, t -> t.value));
              e.set(lock.readInt(this, t -> t.value.length()));
            },
            "test-seqlock-reader");
    reader.start();
    awaitBlocked(reader);
    release.countDown();
    reader.join();
    holder.join();
    assertThat(a.get()).isEqualTo("done");
    assertThat(b.get()).isEqualTo(4);
    assertThat(c.get()).isEqualTo(4L);
    assertThat(d.get()).isEqualTo("done");
    assertThat(e.get()).isEqualTo(4);
  }

  @Test
  void readerThrowingOnConsistentStateRunsOnceInEveryFlavour() {
    AtomicInteger calls = new AtomicInteger();
    assertThatThrownBy(() -> lock.read("s", s -> { calls.incrementAndGet(); throw new ArithmeticException("x"); }))
        .isInstanceOf(ArithmeticException.class);
    assertThatThrownBy(() -> lock.readInt("s", s -> { calls.incrementAndGet(); throw new ArithmeticException("x"); }))
        .isInstanceOf(ArithmeticException.class);
    assertThatThrownBy(() -> lock.readLong("s", s -> { calls.incrementAndGet(); throw new ArithmeticException("x"); }))
        .isInstanceOf(ArithmeticException.class);
    assertThatThrownBy(() -> lock.readInt(() -> { calls.incrementAndGet(); throw new ArithmeticException("x"); }))
        .isInstanceOf(ArithmeticException.class);
    assertThatThrownBy(() -> lock.readLong(() -> { calls.incrementAndGet(); throw new ArithmeticException("x"); }))
        .isInstanceOf(ArithmeticException.class);
    assertThat(calls).as("one run each: a failure on consistent state is not retried").hasValue(5);
  }
}
