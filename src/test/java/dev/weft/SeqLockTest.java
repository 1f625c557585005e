package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

// "try": guards held for their scope only are never referenced in the body (-Xlint:try).
@SuppressWarnings("try")
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SeqLockTest {
  private final SeqLock lock = new SeqLock();
  // Guarded pair: plain fields, ordered by the lock.
  private long x;
  private long y;

  private void writePair(long v) {
    try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
      x = v;
      y = v;
    }
  }

  // ---- basic protocol ----------------------------------------------------------------------

  @Test
  void stampValidatesUntilAWriteStarts() throws InterruptedException {
    long s = lock.beginRead();
    assertThat(s % 2).isZero();
    assertThat(lock.validate(s)).isTrue();
    try (SeqLock.WriteGuard w = lock.write()) {
      assertThat(lock.validate(s)).isFalse(); // write in progress
      assertThat(lock.isWriteLocked()).isTrue();
      assertThat(lock.isWriteLockedByCurrentThread()).isTrue();
      x = 1;
    }
    assertThat(lock.validate(s)).isFalse(); // write finished after the stamp
    assertThat(lock.isWriteLocked()).isFalse();
    long s2 = lock.beginRead();
    assertThat(s2).isEqualTo(s + 2);
    assertThat(lock.validate(s2)).isTrue();
    assertThat(lock.validate(s2 + 1)).as("odd stamps never validate").isFalse();
  }

  @Test
  void readFormsReturnTheCurrentState() {
    writePair(7);
    assertThat(lock.read(() -> List.of(x, y))).containsExactly(7L, 7L);
    assertThat(lock.readLong(() -> x + y)).isEqualTo(14L);
    assertThat(lock.readInt(() -> (int) (x * y))).isEqualTo(49);
    assertThat(lock.fallbackReads()).isZero();
  }

  @Test
  void readFormsWithASourceRetryAndFallBackLikeTheOthers() {
    writePair(6);
    assertThat(lock.readLong(this, t -> t.x + t.y)).isEqualTo(12L);
    assertThat(lock.readInt(this, t -> (int) (t.x * t.y))).isEqualTo(36);
    String s = lock.read(this, t -> t.x + ":" + t.y);
    assertThat(s).isEqualTo("6:6");
    AtomicInteger calls = new AtomicInteger();
    long v =
        lock.readLong(
            this,
            t -> {
              calls.incrementAndGet();
              if (!lock.isWriteLocked()) {
                t.writePair(calls.get());
              }
              return t.x;
            });
    assertThat(calls.get()).isEqualTo(SeqLock.READ_ATTEMPTS + 2);
    assertThat(v).isEqualTo(SeqLock.READ_ATTEMPTS + 1L);
    assertThat(lock.fallbackReads()).isEqualTo(1L);
    IllegalStateException boom = new IllegalStateException("real");
    assertThatThrownBy(
            () ->
                lock.readInt(
                    this,
                    t -> {
                      throw boom;
                    }))
        .isSameAs(boom);
  }

  @Test
  void toStringShowsStateWithoutBlocking() {
    assertThat(lock).hasToString("SeqLock[seq=0, unlocked]");
    SeqLock.WriteGuard w = lock.writeUninterruptibly();
    assertThat(lock.toString())
        .isEqualTo("SeqLock[seq=1, write-locked by " + Thread.currentThread().getName() + "]");
    assertThat(w.toString()).isEqualTo("SeqLock.WriteGuard[stamp=1]");
    w.close();
    assertThat(w.toString()).isEqualTo("SeqLock.WriteGuard[stamp=1, closed]");
    assertThat(lock).hasToString("SeqLock[seq=2, unlocked]");
  }

  // ---- consistency under a writer storm ------------------------------------------------------

  @Test
  void readersNeverSeeTornPairsUnderAWriterStorm() throws Exception {
    int writers = 2;
    int readers = 3;
    int writesEach = 20_000;
    AtomicBoolean done = new AtomicBoolean();
    AtomicLong torn = new AtomicLong();
    AtomicLong reads = new AtomicLong();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> threads = new ArrayList<>();
    for (int w = 0; w < writers; w++) {
      int id = w;
      threads.add(
          new Thread(
              () -> {
                for (int i = 1; i <= writesEach; i++) {
                  writePair(id * 1_000_000L + i);
                }
              },
              "test-seqlock-writer-" + w));
    }
    for (int r = 0; r < readers; r++) {
      int kind = r;
      threads.add(
          new Thread(
              () -> {
                while (!done.get()) {
                  long[] pair;
                  if (kind == 0) {
                    pair = lock.read(() -> new long[] {x, y});
                  } else if (kind == 1) {
                    long d = lock.readLong(() -> x - y);
                    pair = new long[] {d, 0};
                  } else {
                    long s;
                    long a;
                    long b;
                    do {
                      s = lock.beginRead();
                      a = x;
                      b = y;
                    } while (!lock.validate(s));
                    pair = new long[] {a, b};
                  }
                  if (pair[0] != pair[1]) {
                    torn.incrementAndGet();
                  }
                  reads.incrementAndGet();
                }
              },
              "test-seqlock-reader-" + r));
    }
    for (Thread t : threads) {
      t.setUncaughtExceptionHandler((th, e) -> failure.compareAndSet(null, e));
      t.start();
    }
    for (int w = 0; w < writers; w++) {
      threads.get(w).join();
    }
    done.set(true);
    for (Thread t : threads) {
      t.join();
    }
    assertThat(failure.get()).isNull();
    assertThat(torn.get()).as("torn pairs seen by validated reads").isZero();
    assertThat(reads.get()).isPositive();
    // Writers are mutually exclusive: the pair is the last write of one writer.
    assertThat(x).isEqualTo(y);
    assertThat(x % 1_000_000L).isEqualTo(writesEach);
  }

  @Test
  void writersAreMutuallyExclusiveWhenThreadsOutnumberCores() throws Exception {
    int threads = Math.max(8, 4 * Runtime.getRuntime().availableProcessors());
    int each = 2_000;
    long[] counter = new long[1]; // plain, non-atomic: only the lock protects it
    List<Thread> ts = new ArrayList<>();
    CountDownLatch start = new CountDownLatch(1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    for (int t = 0; t < threads; t++) {
      Thread th =
          new Thread(
              () -> {
                try {
                  start.await();
                  for (int i = 0; i < each; i++) {
                    try (SeqLock.WriteGuard w = lock.write()) {
                      counter[0]++;
                    }
                  }
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              },
              "test-seqlock-contender-" + t);
      th.start();
      ts.add(th);
    }
    start.countDown();
    for (Thread th : ts) {
      th.join();
    }
    assertThat(failure.get()).isNull();
    assertThat(counter[0]).isEqualTo((long) threads * each);
    assertThat(lock.beginRead()).isEqualTo(2L * threads * each);
  }

  // ---- fallback -----------------------------------------------------------------------------

  @Test
  void readFallsBackToTheLockAfterRepeatedFailures() {
    AtomicInteger calls = new AtomicInteger();
    long result =
        lock.readLong(
            () -> {
              calls.incrementAndGet();
              if (!lock.isWriteLocked()) {
                writePair(calls.get()); // a write overlapping every optimistic pass
              }
              return x + y;
            });
    // one fast-path pass + READ_ATTEMPTS failed slow passes + one pass under the lock
    assertThat(calls.get()).isEqualTo(SeqLock.READ_ATTEMPTS + 2);
    assertThat(lock.fallbackReads()).isEqualTo(1L);
    assertThat(result).isEqualTo(2L * (SeqLock.READ_ATTEMPTS + 1));
    assertThat(lock.isWriteLocked()).isFalse();
  }

  @Test
  void lockedReadPassDoesNotAdvanceTheSequence() {
    AtomicLong stampBeforeLockedPass = new AtomicLong(-1);
    lock.readLong(
        () -> {
          if (lock.isWriteLocked()) {
            return 0L;
          }
          writePair(1);
          stampBeforeLockedPass.set(lock.beginRead()); // taken after this pass's write
          return 0L;
        });
    assertThat(lock.fallbackReads()).isEqualTo(1L);
    // The locked pass restored the even value, so other readers' stamps stay valid.
    assertThat(lock.validate(stampBeforeLockedPass.get())).isTrue();
  }

  @Test
  void exceptionInTheLockedPassPropagatesAndReleases() {
    IllegalStateException boom = new IllegalStateException("real");
    Supplier<Long> f =
        () -> {
          if (lock.isWriteLocked()) {
            throw boom;
          }
          writePair(2);
          return 0L;
        };
    assertThatThrownBy(() -> lock.read(f)).isSameAs(boom);
    assertThat(lock.isWriteLocked()).isFalse();
    assertThat(lock.fallbackReads()).isEqualTo(1L);
  }

  @Test
  void beginReadWaitsForAWriterInProgress() throws Exception {
    CountDownLatch locked = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread writer =
        new Thread(
            () -> {
              try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
                x = 5;
                locked.countDown();
                release.await();
                y = 5;
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "test-seqlock-slow-writer");
    writer.start();
    locked.await();
    AtomicLong seen = new AtomicLong(-1);
    Thread reader =
        new Thread(() -> seen.set(lock.readLong(() -> x * 10 + y)), "test-seqlock-reader");
    reader.start();
    reader.join(50);
    assertThat(reader.isAlive()).as("reader waits for the write in progress").isTrue();
    release.countDown();
    reader.join();
    writer.join();
    assertThat(seen.get()).isEqualTo(55L);
  }

  // ---- exceptions in read functions ----------------------------------------------------------

  @Test
  void exceptionOnTornStateIsSwallowedAndTheReadRetried() {
    AtomicInteger calls = new AtomicInteger();
    long v =
        lock.readLong(
            () -> {
              if (calls.incrementAndGet() == 1) {
                writePair(3); // the counter moves while this pass runs...
                throw new ArrayIndexOutOfBoundsException("torn index"); // ...so this is discarded
              }
              return x + y;
            });
    assertThat(v).isEqualTo(6L);
    assertThat(calls.get()).isEqualTo(2);
  }

  @Test
  void exceptionOnConsistentStatePropagatesAfterOnePass() {
    AtomicInteger calls = new AtomicInteger();
    IllegalArgumentException boom = new IllegalArgumentException("boom");
    assertThatThrownBy(
            () ->
                lock.read(
                    () -> {
                      calls.incrementAndGet();
                      throw boom;
                    }))
        .isSameAs(boom);
    assertThat(calls.get()).isEqualTo(1);
    assertThatThrownBy(
            () ->
                lock.readInt(
                    () -> {
                      throw boom;
                    }))
        .isSameAs(boom);
  }

  @Test
  void errorsOnTornStateAreRetriedToo() {
    AtomicInteger calls = new AtomicInteger();
    String s =
        lock.read(
            () -> {
              if (calls.incrementAndGet() == 1) {
                writePair(1);
                throw new StackOverflowError("torn cycle");
              }
              return "ok";
            });
    assertThat(s).isEqualTo("ok");
  }

  // ---- reentrancy and nesting ----------------------------------------------------------------

  @Test
  void writeIsNotReentrant() throws InterruptedException {
    try (SeqLock.WriteGuard w = lock.write()) {
      assertThatThrownBy(lock::write)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("not reentrant");
      assertThatThrownBy(lock::writeUninterruptibly).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(lock::tryWrite).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> lock.tryWrite(Duration.ofSeconds(1)))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(lock::beginRead)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("own write section");
    }
    assertThat(lock.isWriteLocked()).isFalse();
  }

  @Test
  void readInsideOwnWriteSeesOwnWrites() {
    try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
      x = 9;
      y = 9;
      assertThat(lock.readLong(() -> x + y)).isEqualTo(18L);
      assertThat(lock.read(() -> x)).isEqualTo(9L);
    }
  }

  @Test
  void writeInsideALockedReadPassIsRejected() {
    AtomicInteger calls = new AtomicInteger();
    assertThatThrownBy(
            () ->
                lock.readLong(
                    () -> {
                      calls.incrementAndGet();
                      if (lock.isWriteLocked()) {
                        lock.writeUninterruptibly(); // misuse: a write inside a read
                      } else {
                        writePair(1);
                      }
                      return 0L;
                    }))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("write from inside a read function");
    assertThat(lock.isWriteLocked()).as("the locked pass released the lock").isFalse();
  }

  @Test
  void nestedReadsWork() {
    writePair(4);
    long v = lock.readLong(() -> lock.readLong(() -> x) + y);
    assertThat(v).isEqualTo(8L);
  }

  // ---- guards --------------------------------------------------------------------------------

  @Test
  void closingAGuardTwiceFails() {
    SeqLock.WriteGuard w = lock.writeUninterruptibly();
    w.close();
    assertThatThrownBy(w::close)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("already closed");
    // A stale guard cannot release a later holder's lock.
    SeqLock.WriteGuard w2 = lock.writeUninterruptibly();
    assertThatThrownBy(w::close).isInstanceOf(IllegalStateException.class);
    assertThat(lock.isWriteLocked()).isTrue();
    w2.close();
  }

  @Test
  void closingAGuardOnAnotherThreadFails() throws Exception {
    SeqLock.WriteGuard w = lock.writeUninterruptibly();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread other =
        new Thread(
            () -> {
              try {
                w.close();
              } catch (Throwable e) {
                thrown.set(e);
              }
            },
            "test-seqlock-closer");
    other.start();
    other.join();
    assertThat(thrown.get())
        .isInstanceOf(IllegalMonitorStateException.class)
        .hasMessageContaining("does not hold");
    assertThat(lock.isWriteLocked()).isTrue();
    w.close();
    assertThat(lock.isWriteLocked()).isFalse();
  }

  // ---- try, timeouts, interrupts -------------------------------------------------------------

  @Test
  void tryWriteFailsWhileAnotherThreadHoldsTheLock() throws Exception {
    CountDownLatch locked = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = holder(locked, release);
    holder.start();
    locked.await();
    assertThat(lock.tryWrite()).isNull();
    assertThat(lock.tryWrite(Duration.ZERO)).isNull();
    assertThat(lock.tryWrite(Duration.ofMillis(-1))).isNull();
    long t0 = System.nanoTime();
    assertThat(lock.tryWrite(Duration.ofMillis(30))).isNull();
    assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(30));
    release.countDown();
    SeqLock.WriteGuard g = lock.tryWrite(Duration.ofSeconds(Long.MAX_VALUE)); // no overflow
    assertThat(g).isNotNull();
    g.close();
    holder.join();
    SeqLock.WriteGuard g2 = lock.tryWrite();
    assertThat(g2).isNotNull();
    g2.close();
  }

  @Test
  void waitingWriterIsInterruptible() throws Exception {
    CountDownLatch locked = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = holder(locked, release);
    holder.start();
    locked.await();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread waiter =
        new Thread(
            () -> {
              try {
                lock.write().close();
              } catch (Throwable e) {
                thrown.set(e);
              }
            },
            "test-seqlock-waiter");
    waiter.start();
    awaitBlocked(waiter);
    waiter.interrupt();
    waiter.join();
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    release.countDown();
    holder.join();
    assertThat(lock.isWriteLocked()).isFalse();
  }

  @Test
  void uninterruptibleWriterKeepsWaitingAndRestoresTheInterrupt() throws Exception {
    CountDownLatch locked = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = holder(locked, release);
    holder.start();
    locked.await();
    AtomicBoolean interruptedAfter = new AtomicBoolean();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread waiter =
        new Thread(
            () -> {
              try {
                lock.writeUninterruptibly().close();
                interruptedAfter.set(Thread.currentThread().isInterrupted());
              } catch (Throwable e) {
                thrown.set(e);
              }
            },
            "test-seqlock-waiter");
    waiter.start();
    awaitBlocked(waiter);
    waiter.interrupt();
    waiter.join(50);
    assertThat(waiter.isAlive()).as("still waiting after the interrupt").isTrue();
    release.countDown();
    waiter.join();
    holder.join();
    assertThat(thrown.get()).isNull();
    assertThat(interruptedAfter.get()).isTrue();
  }

  @Test
  void nullArgumentsAreRejected() {
    assertThatNullPointerException().isThrownBy(() -> lock.read(null)).withMessage("reader");
    assertThatNullPointerException().isThrownBy(() -> lock.readInt(null)).withMessage("reader");
    assertThatNullPointerException().isThrownBy(() -> lock.readLong(null)).withMessage("reader");
    assertThatNullPointerException()
        .isThrownBy(() -> lock.tryWrite(null))
        .withMessage("timeout");
    assertThatNullPointerException()
        .isThrownBy(() -> lock.readLong(null, t -> 0L))
        .withMessage("source");
    assertThatNullPointerException()
        .isThrownBy(() -> lock.readLong(this, null))
        .withMessage("reader");
    assertThatNullPointerException()
        .isThrownBy(() -> lock.readInt(null, t -> 0))
        .withMessage("source");
    assertThatNullPointerException()
        .isThrownBy(() -> lock.read(this, null))
        .withMessage("reader");
  }

  private Thread holder(CountDownLatch locked, CountDownLatch release) {
    return new Thread(
        () -> {
          try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
            locked.countDown();
            release.await();
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
        },
        "test-seqlock-holder");
  }

  /** The body of a {@link Worker}. */
  interface Body {
    void run() throws Exception;
  }

  /**
   * A test thread that records what it throws; {@link #join()} rethrows it. Shared with the
   * nested suites of {@link SeqLockedTest} and {@link SeqCountTest}.
   */
  static final class Worker {
    final Thread thread;
    final AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();

    Worker(String name, Body body) {
      thread = new Thread(() -> {
        try {
          body.run();
        } catch (Throwable t) {
          failure.set(t);
        }
      }, "test-" + name);
      thread.start();
    }

    void join() throws InterruptedException {
      thread.join(TimeUnit.SECONDS.toMillis(20));
      assertThat(thread.isAlive()).as("%s still running", thread.getName()).isFalse();
      Throwable t = failure.get();
      if (t != null) {
        throw new AssertionError(thread.getName() + " failed", t);
      }
    }
  }

  /**
   * Closes coverage gaps of {@link SeqLock}: the retry paths of every read flavour when a reader
   * throws on state that a write then invalidates, the fallback read under the lock, and contended
   * acquisition. Writes that invalidate a read are made deterministic by running them, from inside
   * the reader, on a helper thread that is joined before the reader returns.
   */
  // "try": guards held for their scope only are never referenced in the body (-Xlint:try).
  @SuppressWarnings("try")
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  @Nested
  class ReadRetriesFallbacksAndContention {
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

  /**
   * Behaviours of {@link SeqLock} that the mutation run (PIT, issue #9) showed untested: ownership
   * queries from other threads, waiting writers that arrive already interrupted, timed writers
   * that queue and then win or give up, and read forms that wait, fall back or run inside the
   * thread's own write. Waiters are blocked (parked) before the state they wait for changes.
   */
  // "try": guards held for their scope only are never referenced in the body (-Xlint:try).
  @SuppressWarnings("try")
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  @Nested
  class OwnershipWaitingWritersAndReadForms {
    private final SeqLock lock = new SeqLock();
    private long x;

    /** Holds {@link #lock}'s write lock on a test thread until {@link #close()}. */
    private final class Holder implements AutoCloseable {
      private final CountDownLatch held = new CountDownLatch(1);
      private final CountDownLatch release = new CountDownLatch(1);
      private final Worker worker;

      Holder() throws InterruptedException {
        worker = new Worker("seqlock-holder", () -> {
          try (SeqLock.WriteGuard w = lock.write()) {
            x++;
            held.countDown();
            release.await();
          }
        });
        held.await();
      }

      @Override
      public void close() throws InterruptedException {
        release.countDown();
        worker.join();
      }
    }

    // ---- SeqLock ----------------------------------------------------------------------------

    @Test
    void ownershipQueriesFromAnotherThread() throws Exception {
      assertThat(lock.isWriteLockedByCurrentThread()).isFalse();
      try (Holder h = new Holder()) {
        assertThat(lock.isWriteLocked()).isTrue();
        assertThat(lock.isWriteLockedByCurrentThread()).as("held by another thread").isFalse();
        assertThat(lock.toString()).isEqualTo("SeqLock[seq=1, write-locked by test-seqlock-holder]");
        assertThat(lock.tryWrite()).as("tryWrite while another thread writes").isNull();
      }
      assertThat(lock.isWriteLocked()).isFalse();
      assertThat(lock.toString()).isEqualTo("SeqLock[seq=2, unlocked]");
      SeqLock.WriteGuard w = lock.writeUninterruptibly();
      assertThat(w.toString()).isEqualTo("SeqLock.WriteGuard[stamp=3]");
      w.close();
      assertThat(lock.isWriteLockedByCurrentThread()).as("after close").isFalse();
      assertThat(w.toString()).isEqualTo("SeqLock.WriteGuard[stamp=3, closed]");
    }

    @Test
    void alreadyInterruptedUninterruptibleWriterWaitsAndKeepsItsInterrupt() throws Exception {
      AtomicBoolean interruptedAfter = new AtomicBoolean();
      AtomicBoolean wrote = new AtomicBoolean();
      Holder h = new Holder();
      Worker w = new Worker("seqlock-interrupted-writer", () -> {
        Thread.currentThread().interrupt(); // interrupted before it even starts to wait
        try (SeqLock.WriteGuard g = lock.writeUninterruptibly()) {
          wrote.set(lock.isWriteLockedByCurrentThread());
        }
        interruptedAfter.set(Thread.currentThread().isInterrupted());
      });
      awaitBlocked(w.thread); // waits despite the interrupt
      h.close();
      w.join();
      assertThat(wrote.get()).isTrue();
      assertThat(interruptedAfter.get()).as("interrupt status restored").isTrue();
    }

    @Test
    void alreadyInterruptedWriterOfAHeldLockThrowsAndLeavesItHeld() throws Exception {
      try (Holder h = new Holder()) {
        Thread.currentThread().interrupt();
        assertThatThrownBy(lock::write).isInstanceOf(InterruptedException.class);
        assertThat(Thread.interrupted()).as("status consumed by the exception").isFalse();
        Thread.currentThread().interrupt();
        assertThatThrownBy(() -> lock.tryWrite(Duration.ofSeconds(5)))
            .isInstanceOf(InterruptedException.class);
        assertThat(Thread.interrupted()).isFalse();
        assertThat(lock.toString()).contains("write-locked by test-seqlock-holder");
      }
    }

    @Test
    void timedWriterThatQueuedGetsTheLockWhenReleased() throws Exception {
      Holder h = new Holder();
      AtomicReference<@Nullable String> got = new AtomicReference<>();
      Worker w = new Worker("seqlock-timed-writer", () -> {
        try (SeqLock.WriteGuard g = lock.tryWrite(Duration.ofSeconds(20))) {
          got.set(g == null ? "null" : g.toString());
          x++;
        }
      });
      awaitBlocked(w.thread);
      h.close();
      w.join();
      assertThat(got.get()).isEqualTo("SeqLock.WriteGuard[stamp=3]");
      assertThat(lock.read(() -> x)).isEqualTo(2L);
    }

    @Test
    void timedWriterThatQueuedGivesUpWithNull() throws Exception {
      try (Holder h = new Holder()) {
        AtomicReference<@Nullable Object> got = new AtomicReference<>("unset");
        Worker w = new Worker("seqlock-timed-giver",
            () -> got.set(lock.tryWrite(Duration.ofMillis(100))));
        w.join();
        assertThat(got.get()).isNull();
        assertThat(lock.isWriteLocked()).isTrue();
      }
      assertThat(lock.isWriteLocked()).isFalse();
    }

    @Test
    void beginReadThatWaitedForTheLockReturnsTheNextStampWithoutAdvancingIt() throws Exception {
      Holder h = new Holder();
      AtomicLong stamp = new AtomicLong(-1);
      Worker reader = new Worker("seqlock-begin-reader", () -> stamp.set(lock.beginRead()));
      awaitBlocked(reader.thread); // past its spins, waiting for the lock
      h.close();
      reader.join();
      assertThat(stamp.get()).as("the stamp after the holder's write").isEqualTo(2L);
      assertThat(lock.validate(stamp.get())).isTrue();
      assertThat(lock.toString()).isEqualTo("SeqLock[seq=2, unlocked]");
    }

    @Test
    void readThatLeavesItsOwnWriteOpenAfterTheLastAttemptRunsInThatWrite() {
      // Every optimistic pass is invalidated by a write; the last one leaves its write open, so
      // the read's final pass runs inside this thread's own write section instead of locking.
      AtomicInteger calls = new AtomicInteger();
      AtomicReference<SeqLock.@Nullable WriteGuard> open = new AtomicReference<>();
      long v =
          lock.readLong(
              () -> {
                int c = calls.incrementAndGet();
                if (lock.isWriteLockedByCurrentThread()) {
                  return x; // the pass inside the thread's own write
                }
                SeqLock.WriteGuard g = lock.writeUninterruptibly();
                x = c;
                if (c <= SeqLock.READ_ATTEMPTS) {
                  g.close();
                } else {
                  open.set(g);
                }
                return -1L;
              });
      assertThat(v).isEqualTo(SeqLock.READ_ATTEMPTS + 1L);
      assertThat(calls.get()).isEqualTo(SeqLock.READ_ATTEMPTS + 2);
      assertThat(lock.fallbackReads()).as("no locked pass was needed").isZero();
      SeqLock.WriteGuard g = open.get();
      assertThat(g).isNotNull();
      assertThat(lock.isWriteLockedByCurrentThread()).isTrue();
      if (g != null) {
        g.close();
      }
      assertThat(lock.isWriteLocked()).isFalse();
    }

    private long y;

    /** A read function over the pair (x, y), in every form that {@link SeqLock} offers. */
    private interface PairRead {
      long run(SeqLock l, OwnershipWaitingWritersAndReadForms self, java.util.function.ToLongFunction<OwnershipWaitingWritersAndReadForms> f);
    }

    private static final java.util.List<PairRead> FORMS =
        java.util.List.of(
            (l, self, f) -> l.read(() -> f.applyAsLong(self)),
            (l, self, f) -> l.readInt(() -> (int) f.applyAsLong(self)),
            (l, self, f) -> l.readLong(() -> f.applyAsLong(self)),
            (l, self, f) -> l.read(self, f::applyAsLong),
            (l, self, f) -> l.readInt(self, t -> (int) f.applyAsLong(t)),
            (l, self, f) -> l.readLong(self, f));

    @Test
    void everyReadFormStartedDuringAWriteWaitsForItAndLeavesTheLockToTheWriter() throws Exception {
      CountDownLatch half = new CountDownLatch(1);
      CountDownLatch finish = new CountDownLatch(1);
      Worker writer = new Worker("seqlock-half-writer", () -> {
        try (SeqLock.WriteGuard w = lock.write()) {
          x = 1;
          half.countDown();
          finish.await();
          y = 1;
        }
      });
      half.await();
      long[] seen = new long[FORMS.size()];
      java.util.List<Worker> readers = new java.util.ArrayList<>();
      for (int i = 0; i < FORMS.size(); i++) {
        int k = i;
        readers.add(new Worker("seqlock-form-reader-" + k,
            () -> seen[k] = FORMS.get(k).run(lock, this, t -> t.x * 10 + t.y)));
      }
      for (Worker r : readers) {
        awaitBlocked(r.thread); // waiting for the write to end
      }
      finish.countDown();
      writer.join(); // the writer's close fails if a reader took its lock away
      for (Worker r : readers) {
        r.join();
      }
      assertThat(seen).containsOnly(11L);
      assertThat(lock.toString()).isEqualTo("SeqLock[seq=2, unlocked]");
    }

    @Test
    void everyReadFormFallsBackToTheLockAfterTheLastAttempt() {
      for (int i = 0; i < FORMS.size(); i++) {
        AtomicInteger calls = new AtomicInteger();
        long before = lock.fallbackReads();
        long v =
            FORMS.get(i).run(lock, this, t -> {
              calls.incrementAndGet();
              if (!lock.isWriteLocked()) {
                try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
                  t.x++; // a write overlapping every optimistic pass
                }
              }
              return t.x;
            });
        assertThat(calls.get()).as("form %d", i).isEqualTo(SeqLock.READ_ATTEMPTS + 2);
        assertThat(lock.fallbackReads() - before).as("form %d", i).isEqualTo(1L);
        assertThat(v).isEqualTo(x);
        assertThat(lock.isWriteLocked()).isFalse();
      }
    }

    @Test
    void readInsideItsOwnWriteRunsTheFunctionOnce() {
      try (SeqLock.WriteGuard w = lock.writeUninterruptibly()) {
        for (int i = 0; i < FORMS.size(); i++) {
          AtomicInteger calls = new AtomicInteger();
          x = i;
          long v = FORMS.get(i).run(lock, this, t -> {
            calls.incrementAndGet();
            return t.x;
          });
          assertThat(v).isEqualTo(i);
          assertThat(calls.get()).as("form %d", i).isEqualTo(1);
        }
      }
      assertThat(lock.fallbackReads()).isZero();
    }
  }
}
