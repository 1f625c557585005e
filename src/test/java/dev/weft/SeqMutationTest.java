package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Behaviours of {@link SeqLock}, {@link SeqLocked} and {@link SeqCount} that the mutation run
 * (PIT, issue #9) showed untested: ownership queries from other threads, waiting writers that
 * arrive already interrupted, timed writers that queue and then win, and misuse inside a
 * thread's own write. Waiters are blocked (parked) before the state they wait for changes.
 */
// "try": guards held for their scope only are never referenced in the body (-Xlint:try).
@SuppressWarnings("try")
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SeqMutationTest {
  private final SeqLock lock = new SeqLock();
  private long x;

  /** The body of a {@link Worker}. */
  private interface Body {
    void run() throws Exception;
  }

  /** A test thread that records what it throws; {@link #join()} rethrows it. */
  private static final class Worker {
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
    SeqLockTest.waitUntilParkedOrWaiting(w.thread); // waits despite the interrupt
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
    SeqLockTest.waitUntilParkedOrWaiting(w.thread);
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
    SeqLockTest.waitUntilParkedOrWaiting(reader.thread); // past its spins, waiting for the lock
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
    long run(SeqLock l, SeqMutationTest self, java.util.function.ToLongFunction<SeqMutationTest> f);
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
      SeqLockTest.waitUntilParkedOrWaiting(r.thread); // waiting for the write to end
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

  // ---- SeqLocked --------------------------------------------------------------------------

  @Test
  void seqLockedOwnershipQueriesAndInterruptedUninterruptibleWriter() throws Exception {
    SeqLocked<int[]> cell = new SeqLocked<>(new int[1]);
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Worker holder = new Worker("seqlocked-holder", () -> cell.write(a -> {
      a[0]++;
      inside.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }));
    inside.await();
    assertThat(cell.isWriteLocked()).isTrue();
    assertThat(cell.isWriteLockedByCurrentThread()).isFalse();
    assertThat(cell.toString()).isEqualTo("SeqLocked[seq=1, write-locked by test-seqlocked-holder]");
    AtomicBoolean interruptedAfter = new AtomicBoolean();
    Worker w = new Worker("seqlocked-interrupted-writer", () -> {
      Thread.currentThread().interrupt();
      cell.writeUninterruptibly(a -> a[0] += 10);
      interruptedAfter.set(Thread.currentThread().isInterrupted());
    });
    SeqLockTest.waitUntilParkedOrWaiting(w.thread);
    release.countDown();
    holder.join();
    w.join();
    assertThat(interruptedAfter.get()).isTrue();
    assertThat(cell.readInt(a -> a[0])).isEqualTo(11);
    assertThat(cell.isWriteLocked()).isFalse();
    assertThat(cell.toString()).isEqualTo("SeqLocked[seq=4, unlocked]");
    AtomicBoolean ownInside = new AtomicBoolean();
    cell.write(a -> ownInside.set(cell.isWriteLockedByCurrentThread() && cell.isWriteLocked()));
    assertThat(ownInside.get()).isTrue();
    assertThat(cell.isWriteLockedByCurrentThread()).isFalse();
  }

  @Test
  void seqLockedReadInsideItsOwnWriteSeesTheWrite() throws Exception {
    SeqLocked<int[]> cell = new SeqLocked<>(new int[1]);
    AtomicInteger seen = new AtomicInteger(-1);
    cell.write(a -> {
      a[0] = 7;
      seen.set(cell.readInt(b -> b[0]));
    });
    assertThat(seen.get()).isEqualTo(7);
    assertThat(cell.fallbackReads()).isZero();
  }

  @Test
  void seqLockedReadFormsWaitForAWriteAndFallBackToTheLock() throws Exception {
    SeqLocked<long[]> cell = new SeqLocked<>(new long[2]);
    CountDownLatch half = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    Worker writer = new Worker("seqlocked-half-writer", () -> cell.write(a -> {
      a[0] = 1;
      half.countDown();
      try {
        finish.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      a[1] = 1;
    }));
    half.await();
    long[] seen = new long[3];
    Worker r0 = new Worker("seqlocked-reader-0", () -> seen[0] = cell.read(a -> a[0] * 10 + a[1]));
    Worker r1 = new Worker("seqlocked-reader-1", () -> seen[1] = cell.readInt(a -> (int) (a[0] * 10 + a[1])));
    Worker r2 = new Worker("seqlocked-reader-2", () -> seen[2] = cell.readLong(a -> a[0] * 10 + a[1]));
    for (Worker r : java.util.List.of(r0, r1, r2)) {
      SeqLockTest.waitUntilParkedOrWaiting(r.thread);
    }
    finish.countDown();
    writer.join();
    r0.join();
    r1.join();
    r2.join();
    assertThat(seen).containsOnly(11L);
    assertThat(cell.toString()).isEqualTo("SeqLocked[seq=2, unlocked]");
    // Fallback: every optimistic pass is overlapped by a write of this thread.
    long before = cell.fallbackReads(); // the waiting readers above took the lock too
    AtomicInteger calls = new AtomicInteger();
    java.util.function.ToLongFunction<long[]> f = a -> {
      calls.incrementAndGet();
      if (!cell.isWriteLocked()) {
        cell.writeUninterruptibly(b -> b[0]++);
      }
      return a[0];
    };
    cell.read(a -> f.applyAsLong(a));
    cell.readInt(a -> (int) f.applyAsLong(a));
    cell.readLong(f);
    assertThat(calls.get()).isEqualTo(3 * (SeqLock.READ_ATTEMPTS + 2));
    assertThat(cell.fallbackReads() - before).isEqualTo(3L);
  }

  // ---- SeqCount ---------------------------------------------------------------------------

  @Test
  void seqCountReadInsideItsOwnWriteIsRejected() {
    SeqCount count = new SeqCount();
    try (SeqCount.WriteGuard w = count.write()) {
      assertThat(count.isWriting()).isTrue();
      assertThat(count.toString()).isEqualTo("SeqCount[seq=1, writing]");
      assertThatThrownBy(() -> count.readLong(() -> 1L))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("own write");
      assertThatThrownBy(count::beginRead)
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("own write");
    }
    assertThat(count.isWriting()).isFalse();
    assertThat(count.toString()).isEqualTo("SeqCount[seq=2, quiet]");
    assertThat(count.readLong(() -> 5L)).isEqualTo(5L);
  }

  @Test
  void seqCountWriterOnAnotherThreadIsNotReportedAsReentrancy() throws Exception {
    SeqCount count = new SeqCount();
    CountDownLatch writing = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Worker writer = new Worker("seqcount-writer", () -> {
      try (SeqCount.WriteGuard w = count.write()) {
        writing.countDown();
        release.await();
      }
    });
    writing.await();
    assertThatThrownBy(count::write)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("another thread is writing")
        .hasMessageNotContaining("reentrant");
    release.countDown();
    writer.join();
    assertThat(count.beginRead()).isEqualTo(2L);
  }
}
