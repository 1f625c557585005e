package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Schedules of {@link SeqLock} and {@link SeqLocked} opened on purpose through the {@link
 * ProtocolWindows} seam rather than reached by stress: every read here is driven onto its
 * fallback pass (the pass under the lock) by a writer that overlaps the first pass and then holds
 * the lock across the window between the failed validation and the fallback
 * ({@code "seqlock.validation-failed"}), released at {@code "seqlock.read-fallback"}.
 *
 * <p>Issue 18, defect 4: a read function that itself uses {@code beginRead}/{@code validate}
 * (the nesting the class Javadoc shows) threw {@link IllegalStateException} on that pass, and
 * {@code isWriteLockedByCurrentThread()} answered true there.
 */
@Timeout(30)
@SuppressWarnings("try") // guards and hooks held for their scope only
class SeqLockScheduleTest {
  /** Runs one write on the lock or cell under test, with {@code body} inside it. */
  interface Writes {
    void write(Runnable body) throws InterruptedException;
  }

  private long x;
  private long y;

  /**
   * Runs {@code read} on the current thread so that it takes the fallback pass: {@code
   * firstPass} (called by the read function on its first pass) makes a write overlap that pass,
   * so its validation fails; in the window after the failure a writer takes the lock and holds
   * it until the reader reaches the fallback window, so the next stamp is odd for longer than the
   * reader spins and the reader takes the lock.
   */
  static <R> R readThroughFallback(Writes writes, Supplier<R> read) throws Exception {
    Thread reader = Thread.currentThread();
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<Thread> writers = new ArrayList<>();
    List<String> windows = new ArrayList<>();
    try (AutoCloseable h = ProtocolWindows.install(name -> {
      if (Thread.currentThread() != reader) {
        return;
      }
      windows.add(name);
      if (name.equals("seqlock.validation-failed") && writers.isEmpty()) {
        Thread w = new Thread(() -> {
          try {
            writes.write(() -> {
              held.countDown();
              await(release);
            });
          } catch (InterruptedException e) {
            throw new IllegalStateException(e);
          }
        }, "test-holding-writer");
        writers.add(w);
        w.start();
        await(held);
      } else if (name.equals("seqlock.read-fallback")) {
        release.countDown();
      }
    })) {
      R r = read.get();
      assertThat(windows).containsSubsequence(
          "seqlock.validation-failed", "seqlock.read-fallback");
      return r;
    } finally {
      release.countDown();
      for (Thread w : writers) {
        w.join(TimeUnit.SECONDS.toMillis(20));
        assertThat(w.isAlive()).isFalse();
      }
    }
  }

  /** One complete write on another thread, joined: makes a read pass in progress fail. */
  static void writeOnOtherThread(Writes writes, Runnable body) {
    Thread t = new Thread(() -> {
      try {
        writes.write(body);
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    }, "test-overlapping-writer");
    t.start();
    try {
      t.join(TimeUnit.SECONDS.toMillis(20));
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
    assertThat(t.isAlive()).isFalse();
  }

  static void await(CountDownLatch latch) {
    try {
      assertThat(latch.await(20, TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  // ------------------------------------------------------------------ defect 4 (issue 18)

  /** The class Javadoc's {@code sum()} loop, nested inside a read function. */
  private long sumByHand(SeqLock lock) {
    long s;
    long a;
    long b;
    do {
      s = lock.beginRead();
      a = x;
      b = y;
    } while (!lock.validate(s));
    return a + b;
  }

  @RepeatedTest(10)
  void nestedBeginReadValidateWorksOnTheFallbackPass() throws Exception {
    SeqLock lock = new SeqLock();
    Writes writes = body -> {
      try (SeqLock.WriteGuard g = lock.write()) {
        body.run();
      }
    };
    x = 1;
    y = 2;
    AtomicInteger passes = new AtomicInteger();
    List<Boolean> writeLockedByMe = new ArrayList<>();
    List<Boolean> writeLocked = new ArrayList<>();
    long before = lock.fallbackReads();
    long sum = readThroughFallback(writes, () -> lock.read(() -> {
      if (passes.getAndIncrement() == 0) {
        writeOnOtherThread(writes, () -> {
          x = 10;
          y = 20;
        });
      }
      writeLockedByMe.add(lock.isWriteLockedByCurrentThread());
      writeLocked.add(lock.isWriteLocked());
      return sumByHand(lock);
    }));
    assertThat(sum).isEqualTo(30L);
    assertThat(lock.fallbackReads() - before).isEqualTo(1L);
    // The last pass ran under the lock, as a reader: the lock is held, but not by a writer.
    assertThat(writeLocked).last().isEqualTo(true);
    assertThat(writeLockedByMe).containsOnly(false);
    assertThat(lock.isWriteLocked()).isFalse();
  }

  @Test
  void everyReadFormKeepsNestedReadsWorkingOnTheFallbackPass() throws Exception {
    SeqLock lock = new SeqLock();
    Writes writes = body -> {
      try (SeqLock.WriteGuard g = lock.write()) {
        body.run();
      }
    };
    x = 3;
    y = 4;
    AtomicInteger passes = new AtomicInteger();
    Runnable firstPassOverlaps = () -> {
      if (passes.getAndIncrement() == 0) {
        writeOnOtherThread(writes, () -> x++);
      }
    };
    List<Supplier<Long>> forms = List.of(
        () -> lock.read(() -> {
          firstPassOverlaps.run();
          return sumByHand(lock) + lock.readLong(() -> x * 0);
        }),
        () -> (long) lock.readInt(() -> {
          firstPassOverlaps.run();
          return (int) sumByHand(lock);
        }),
        () -> lock.readLong(() -> {
          firstPassOverlaps.run();
          return sumByHand(lock);
        }),
        () -> lock.read(this, self -> {
          firstPassOverlaps.run();
          return self.sumByHand(lock);
        }),
        () -> (long) lock.readInt(this, self -> {
          firstPassOverlaps.run();
          return (int) self.sumByHand(lock);
        }),
        () -> lock.readLong(this, self -> {
          firstPassOverlaps.run();
          return self.sumByHand(lock) + lock.read(() -> 0L);
        }));
    for (Supplier<Long> form : forms) {
      passes.set(0);
      long before = lock.fallbackReads();
      long expected = x + 1 + y;
      assertThat(readThroughFallback(writes, form)).isEqualTo(expected);
      assertThat(lock.fallbackReads() - before).isEqualTo(1L);
    }
  }

  @Test
  void aStampFromTheFallbackPassStaysValidUntilTheNextWrite() throws Exception {
    SeqLock lock = new SeqLock();
    Writes writes = body -> {
      try (SeqLock.WriteGuard g = lock.write()) {
        body.run();
      }
    };
    AtomicInteger passes = new AtomicInteger();
    long stamp = readThroughFallback(writes, () -> lock.readLong(() -> {
      if (passes.getAndIncrement() == 0) {
        writeOnOtherThread(writes, () -> { });
      }
      long s = lock.beginRead();
      assertThat(s & 1).isZero();
      assertThat(lock.validate(s)).isTrue();
      return s;
    }));
    // The pass restored the even value it took the lock from: the stamp still validates...
    assertThat(lock.validate(stamp)).isTrue();
    // ...until a real write.
    writeOnOtherThread(writes, () -> { });
    assertThat(lock.validate(stamp)).isFalse();
  }

  @Test
  void writingFromTheFallbackPassThrowsInsteadOfDeadlocking() throws Exception {
    SeqLock lock = new SeqLock();
    Writes writes = body -> {
      try (SeqLock.WriteGuard g = lock.write()) {
        body.run();
      }
    };
    AtomicInteger passes = new AtomicInteger();
    assertThatThrownBy(() -> readThroughFallback(writes, () -> lock.read(() -> {
      if (passes.getAndIncrement() == 0) {
        writeOnOtherThread(writes, () -> { });
        return "optimistic";
      }
      try (SeqLock.WriteGuard g = lock.writeUninterruptibly()) {
        return "wrote";
      }
    }))).isInstanceOf(IllegalStateException.class).hasMessageContaining("read function");
    assertThat(lock.isWriteLocked()).isFalse();
    SeqLock.WriteGuard g = lock.tryWrite();
    assertThat(g).isNotNull();
    g.close();
  }

  @RepeatedTest(5)
  void seqLockedNestedReadsAndOwnershipOnTheFallbackPass() throws Exception {
    long[] cellValue = {5, 6};
    SeqLocked<long[]> cell = new SeqLocked<>(cellValue);
    Writes writes = body -> cell.write(v -> body.run());
    AtomicInteger passes = new AtomicInteger();
    List<Boolean> writeLockedByMe = new ArrayList<>();
    long before = cell.fallbackReads();
    long sum = readThroughFallback(writes, () -> cell.readLong(v -> {
      if (passes.getAndIncrement() == 0) {
        writeOnOtherThread(writes, () -> v[0] = 50);
      }
      writeLockedByMe.add(cell.isWriteLockedByCurrentThread());
      return cell.readLong(w -> w[0] + w[1]);
    }));
    assertThat(sum).isEqualTo(56L);
    assertThat(cell.fallbackReads() - before).isEqualTo(1L);
    assertThat(writeLockedByMe).containsOnly(false);
    // A write from the fallback pass would wait for its own thread: it throws instead.
    passes.set(0);
    assertThatThrownBy(() -> readThroughFallback(writes, () -> cell.read(v -> {
      if (passes.getAndIncrement() == 0) {
        writeOnOtherThread(writes, () -> { });
        return 0;
      }
      cell.writeUninterruptibly(w -> w[1]++);
      return 1;
    }))).isInstanceOf(IllegalStateException.class).hasMessageContaining("read function");
    assertThat(cell.isWriteLocked()).isFalse();
  }
}
