package dev.weft;

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
import java.util.function.Supplier;
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
    waitUntilParkedOrWaiting(waiter);
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
    waitUntilParkedOrWaiting(waiter);
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

  /** Waits (without sleeping for a result) until the thread blocks in park. */
  static void waitUntilParkedOrWaiting(Thread t) {
    while (t.getState() != Thread.State.WAITING && t.getState() != Thread.State.TIMED_WAITING) {
      assertThat(t.isAlive()).isTrue();
      LockSupport.parkNanos(50_000L); // let the waiter run on a busy machine
    }
  }
}
