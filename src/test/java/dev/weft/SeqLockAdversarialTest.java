package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial schedules for the locked read pass of {@link SeqLock}/{@link SeqLocked} (the pass
 * holds the lock "as a reader"): stamps taken on the pass and used later or elsewhere, exceptions
 * and interrupts on the pass, nested locks, and the queries on the pass.
 */
@Timeout(30)
@SuppressWarnings("try")
class SeqLockAdversarialTest {
  private long x;
  private long y;

  /**
   * Runs {@code read} on this thread so that it takes the fallback pass at once: a writer holds
   * the lock before the read starts, so the first stamp is odd for longer than the reader spins;
   * the writer is released when the reader reaches "seqlock.read-fallback", and joined before
   * the read function runs under the lock (the writer closes before the reader can acquire).
   */
  static <R> R readOnPass(SeqLock lock, Supplier<R> body) throws Exception {
    return withHeldWriter(lock, () -> lock.read(body));
  }

  static <T, R> R readOnPass(SeqLocked<T> cell, Supplier<R> body) throws Exception {
    return withHeldWriter(cell, () -> cell.read(v -> body.get()));
  }

  static <R> R withHeldWriter(SeqLockCore lock, Supplier<R> read) throws Exception {
    Thread me = Thread.currentThread();
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread w = new Thread(() -> {
      long odd = lock.acquireUninterruptibly();
      held.countDown();
      awaitQuietly(release);
      lock.release(odd);
    }, "test-holding-writer");
    w.start();
    try {
      assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
      try (AutoCloseable h = ProtocolWindows.install(name -> {
        if (Thread.currentThread() == me && name.equals("seqlock.read-fallback")) {
          release.countDown();
        }
      })) {
        long before = lock.fallbackReads();
        R r = read.get();
        assertThat(lock.fallbackReads()).isEqualTo(before + 1);
        return r;
      }
    } finally {
      release.countDown();
      w.join(10_000);
      assertThat(w.isAlive()).isFalse();
    }
  }

  static void awaitQuietly(CountDownLatch l) {
    try {
      if (!l.await(10, TimeUnit.SECONDS)) {
        throw new AssertionError("latch timed out");
      }
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void passStampDoesNotValidateWhileAWriterHoldsTheNextOddValue() throws Exception {
    SeqLock lock = new SeqLock();
    long before = lock.fallbackReads();
    long stamp = readOnPass(lock, () -> {
      assertThat(lock.isWriteLocked()).isTrue();
      long s = lock.beginRead();
      assertThat(lock.validate(s)).isTrue();
      return s;
    });
    assertThat(lock.fallbackReads()).isEqualTo(before + 1);
    // The pass restored `stamp`; no write yet: still valid.
    assertThat(lock.validate(stamp)).isTrue();
    // A writer now holds the lock: seq == stamp + 1, the ABA the failure path accepts for a
    // reader. It must not validate here (reader was cleared), nor after the write.
    SeqLock.WriteGuard g = lock.tryWrite();
    assertThat(g).isNotNull();
    try {
      // on a thread other than the writer, too
      AtomicReference<Boolean> other = new AtomicReference<>();
      Thread t = new Thread(() -> other.set(lock.validate(stamp)), "test-validator");
      t.start();
      t.join(10_000);
      assertThat(other.get()).isFalse();
      assertThat(lock.validate(stamp)).isFalse();
    } finally {
      g.close();
    }
    assertThat(lock.validate(stamp)).isFalse();
  }

  @Test
  void passStampHandedToAnotherThreadAfterThePassWithNoWriteValidates() throws Exception {
    SeqLock lock = new SeqLock();
    long stamp = readOnPass(lock, lock::beginRead);
    AtomicReference<Boolean> other = new AtomicReference<>();
    Thread t = new Thread(() -> other.set(lock.validate(stamp)), "test-validator");
    t.start();
    t.join(10_000);
    assertThat(other.get()).isTrue();
  }

  /**
   * docs/seqlock.md and the SeqLock Javadoc: "a stamp taken there validates until the next
   * write". A stamp taken on the pass and validated on another thread while the pass lasts
   * (no write has happened) answers false. Conservative (safe), but not what the docs say.
   */
  @Test
  void passStampValidatedOnAnotherThreadFailsSafeDuringThePassAndValidatesAfterIt()
      throws Exception {
    SeqLock lock = new SeqLock();
    AtomicReference<Boolean> other = new AtomicReference<>();
    long stamp = readOnPass(lock, () -> {
      long s = lock.beginRead();
      Thread t = new Thread(() -> other.set(lock.validate(s)), "test-validator");
      t.start();
      try {
        t.join(10_000);
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
      return s;
    });
    // Documented: during the pass the counter is odd, so another thread's validation fails
    // (safe: it retries); once the pass has restored the counter, the stamp validates there.
    assertThat(other.get()).as("stamp from the pass, other thread, during the pass").isFalse();
    AtomicReference<Boolean> after = new AtomicReference<>();
    Thread t = new Thread(() -> after.set(lock.validate(stamp)), "test-validator-after");
    t.start();
    t.join(10_000);
    assertThat(after.get()).as("stamp from the pass, other thread, after it, no write").isTrue();
  }

  @Test
  void exceptionOnThePassRestoresEverything() throws Exception {
    SeqLock lock = new SeqLock();
    long seqBefore = lock.seqOpaque();
    assertThatThrownBy(() -> readOnPass(lock, () -> {
      throw new IllegalArgumentException("boom on pass");
    })).isInstanceOf(IllegalArgumentException.class).hasMessage("boom on pass");
    assertThat(lock.reader).isNull();
    assertThat(lock.owner).isNull();
    assertThat(lock.seqOpaque()).isEqualTo(seqBefore + 2); // the holding writer's write only
    assertThat(lock.isWriteLocked()).isFalse();
    try (SeqLock.WriteGuard g = lock.tryWrite()) {
      assertThat(g).isNotNull();
      assertThat(lock.isWriteLockedByCurrentThread()).isTrue();
    }
  }

  @Test
  void errorFromAFailedWriteOnThePassThenCaughtByTheFunction() throws Exception {
    SeqLock lock = new SeqLock();
    String r = readOnPass(lock, () -> {
      assertThat(lock.isWriteLockedByCurrentThread()).isFalse();
      assertThat(lock.toString()).contains("locked for a read pass by");
      assertThatThrownBy(lock::tryWrite).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(lock::writeUninterruptibly).isInstanceOf(IllegalStateException.class);
      Thread.currentThread().interrupt();
      assertThatThrownBy(lock::write).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> lock.tryWrite(java.time.Duration.ZERO))
          .isInstanceOf(IllegalStateException.class);
      assertThat(Thread.interrupted()).isTrue();
      return "ok";
    });
    assertThat(r).isEqualTo("ok");
    assertThat(lock.reader).isNull();
    assertThat(lock.isWriteLocked()).isFalse();
    try (SeqLock.WriteGuard g = lock.tryWrite()) {
      assertThat(g).isNotNull();
    }
  }

  @Test
  void seqLockedWriteFromThePassThrowsAndLeavesNothingHeld() throws Exception {
    SeqLocked<long[]> cell = new SeqLocked<>(new long[2]);
    assertThatThrownBy(() -> readOnPass(cell, () -> {
      cell.writeUninterruptibly(a -> a[0] = 1);
      return null;
    })).isInstanceOf(IllegalStateException.class);
    assertThat(cell.reader).isNull();
    assertThat(cell.owner).isNull();
    assertThat(cell.isWriteLocked()).isFalse();
    cell.write(a -> a[0] = 7);
    assertThat(cell.readLong(a -> a[0])).isEqualTo(7);
  }

  @Test
  void interruptWhileWaitingForTheFallbackAcquireIsKeptAndTheReadCompletes() throws Exception {
    SeqLock lock = new SeqLock();
    Thread me = Thread.currentThread();
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread w = new Thread(() -> {
      long odd = lock.acquireUninterruptibly();
      x = 1;
      held.countDown();
      awaitQuietly(release);
      y = 1;
      lock.release(odd);
    }, "test-holding-writer");
    Thread waker = new Thread(() -> {
      // wait until the reader is parked (or spinning) in the fallback acquire, then interrupt
      // it, then let the writer go
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (me.getState() != Thread.State.WAITING && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      me.interrupt();
      release.countDown();
    }, "test-waker");
    w.start();
    try {
      assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
      waker.start();
      long[] r = lock.read(() -> new long[] {x, y});
      assertThat(r).containsExactly(1, 1);
      assertThat(Thread.interrupted()).isTrue();
    } finally {
      release.countDown();
      w.join(10_000);
      if (waker.getState() != Thread.State.NEW) {
        waker.join(10_000);
      }
      Thread.interrupted();
    }
  }

  @Test
  void nestedPassesOfTwoLocks() throws Exception {
    SeqLock a = new SeqLock();
    SeqLock b = new SeqLock();
    long outerStamp = readOnPass(b, () -> {
      long sb = b.beginRead();
      long sa;
      try {
        sa = readOnPass(a, () -> {
          assertThat(b.validate(sb)).isTrue();
          long ia = a.beginRead();
          assertThat(a.validate(ia)).isTrue();
          // b's stamp still valid inside a's pass; a's pass does not make b a reader of a
          assertThat(b.isWriteLocked()).isTrue();
          return ia;
        });
      } catch (Exception e) {
        throw new AssertionError(e);
      }
      assertThat(a.validate(sa)).isTrue();
      assertThat(a.reader).isNull();
      assertThat(b.reader).isSameAs(Thread.currentThread());
      return sb;
    });
    assertThat(b.validate(outerStamp)).isTrue();
    assertThat(a.reader).isNull();
    assertThat(b.reader).isNull();
  }

  /**
   * Bounded stress: writers write (k, k); readers read on optimistic and locked passes and,
   * inside the read function, nest beginRead/validate and keep stamps taken there; a stamp that
   * validated later must come with a consistent pair and no write between.
   */
  @Test
  void stressNestedStampsNeverAcceptTornOrStale() throws Exception {
    SeqLock lock = new SeqLock();
    AtomicLong torn = new AtomicLong();
    AtomicLong staleAccepted = new AtomicLong();
    AtomicLong writes = new AtomicLong();
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      ts.add(new Thread(() -> {
        long k = 0;
        while (System.nanoTime() < end) {
          try (SeqLock.WriteGuard g = lock.writeUninterruptibly()) {
            k++;
            x = k;
            y = k;
            writes.incrementAndGet();
          }
        }
      }, "test-writer-" + i));
    }
    for (int i = 0; i < 2; i++) {
      ts.add(new Thread(() -> {
        while (System.nanoTime() < end) {
          long[] kept = lock.read(() -> {
            long s = lock.beginRead();
            long a = x;
            long b = y;
            return new long[] {s, a, b, lock.validate(s) ? 1 : 0, writes.get()};
          });
          if (kept[3] == 1 && kept[1] != kept[2]) {
            torn.incrementAndGet();
          }
          // re-validate the inner stamp later: valid only if no write since
          long w0 = writes.get();
          boolean v = lock.validate(kept[0]);
          if (v && kept[3] == 1 && (lock.seqOpaque() & 1) == 0) {
            long[] now = lock.read(() -> new long[] {x, y});
            if (now[0] != kept[1] && lock.validate(kept[0]) && writes.get() == w0) {
              staleAccepted.incrementAndGet();
            }
          }
        }
      }, "test-reader-" + i));
    }
    ts.forEach(Thread::start);
    for (Thread t : ts) {
      t.join(20_000);
    }
    assertThat(torn.get()).isZero();
    assertThat(staleAccepted.get()).isZero();
  }
}
