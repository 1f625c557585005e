package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Callbacks that call back: read and write functions of {@link SeqLock}, {@link SeqLocked} and
 * {@link SeqCount} that use the same object in every way the API allows, in each kind of section
 * (an optimistic read pass, a read's pass under the lock, a write section). Each combination
 * works or throws the documented exception; none hangs (every test is bounded) and none leaves
 * the lock held or the counter odd. The passes under the lock are reached here without other
 * threads: a write inside every optimistic pass fails its validation until the read falls back.
 */
@Timeout(20)
@SuppressWarnings("try") // guards held for their scope only
class SeqCallbackTest {
  private final SeqLock lock = new SeqLock();
  private long x;
  private long y;

  private void writePair(long v) {
    try (SeqLock.WriteGuard g = lock.writeUninterruptibly()) {
      x = v;
      y = v;
    }
  }

  /** Runs {@code inner} in a read function's pass under the lock, returning its result. */
  private long inLockedReadPass(java.util.function.LongSupplier inner) {
    long before = lock.fallbackReads();
    long r = lock.readLong(() -> {
      if (!lock.isWriteLocked()) {
        writePair(x + 1); // invalidates this optimistic pass
        return -1L;
      }
      return inner.getAsLong();
    });
    assertThat(lock.fallbackReads() - before).isEqualTo(1L);
    assertThat(lock.isWriteLocked()).isFalse();
    return r;
  }

  // ------------------------------------------------------------------------ SeqLock

  @Test
  void seqLockReadInsideAnOptimisticRead() {
    writePair(4);
    long r = lock.readLong(() -> {
      long s = lock.beginRead();
      long nested = lock.readLong(() -> x + y) + lock.readInt(() -> (int) x)
          + lock.read(this, self -> self.y);
      assertThat(lock.validate(s)).isTrue();
      assertThat(lock.isWriteLockedByCurrentThread()).isFalse();
      return nested;
    });
    assertThat(r).isEqualTo(16L);
    assertThat(lock.fallbackReads()).isZero();
  }

  @Test
  void seqLockReadsInsideTheLockedPassWorkAndItsStampsValidate() {
    writePair(1);
    long r = inLockedReadPass(() -> {
      assertThat(lock.isWriteLockedByCurrentThread()).isFalse();
      long s = lock.beginRead();
      long sum = lock.readLong(() -> x + y) + lock.readLong(this, self -> self.x);
      assertThat(lock.validate(s)).isTrue();
      assertThat(lock.validate(s + 2)).isFalse();
      assertThat(lock.toString()).contains("locked for a read pass by");
      return sum;
    });
    // READ_ATTEMPTS + 1 invalidating writes happened first.
    long v = 1 + SeqLock.READ_ATTEMPTS + 1;
    assertThat(r).isEqualTo(3 * v);
  }

  @Test
  void seqLockEveryWriteFormInsideTheLockedPassThrows() {
    for (int form = 0; form < 4; form++) {
      int f = form;
      assertThatThrownBy(() -> inLockedReadPass(() -> {
        try {
          switch (f) {
            case 0 -> lock.write().close();
            case 1 -> lock.writeUninterruptibly().close();
            case 2 -> lock.tryWrite();
            default -> lock.tryWrite(Duration.ZERO);
          }
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
        return 0L;
      })).as("form %d", f).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("write from inside a read function");
      assertThat(lock.isWriteLocked()).isFalse();
    }
  }

  @Test
  void seqLockWriteInsideEveryOptimisticPassEndsInTheDocumentedException() {
    AtomicInteger passes = new AtomicInteger();
    long before = lock.beginRead();
    assertThatThrownBy(() -> lock.readLong(() -> {
      passes.incrementAndGet();
      try (SeqLock.WriteGuard g = lock.write()) {
        x++;
      } catch (InterruptedException e) {
        throw new AssertionError(e);
      }
      return x;
    })).isInstanceOf(IllegalStateException.class).hasMessageContaining("read function");
    // 1 + READ_ATTEMPTS optimistic passes wrote; the locked pass's write threw.
    assertThat(passes.get()).isEqualTo(SeqLock.READ_ATTEMPTS + 2);
    assertThat(lock.beginRead()).isEqualTo(before + 2L * (SeqLock.READ_ATTEMPTS + 1));
  }

  @Test
  void seqLockInsideAWriteSection() throws Exception {
    long stampBefore = lock.beginRead();
    try (SeqLock.WriteGuard g = lock.write()) {
      x = 7;
      y = 8;
      // Reads see this thread's writes directly.
      assertThat(lock.readLong(() -> x + y)).isEqualTo(15L);
      long read = lock.read(this, self -> self.x);
      assertThat(read).isEqualTo(7L);
      assertThat(lock.isWriteLockedByCurrentThread()).isTrue();
      assertThat(lock.validate(stampBefore)).isFalse();
      assertThatThrownBy(lock::beginRead).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("own write section");
      assertThatThrownBy(lock::write).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("not reentrant");
      assertThatThrownBy(lock::writeUninterruptibly).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(lock::tryWrite).isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> lock.tryWrite(Duration.ZERO))
          .isInstanceOf(IllegalStateException.class);
      assertThatThrownBy(() -> lock.tryWrite(Duration.ofNanos(Long.MIN_VALUE)))
          .isInstanceOf(IllegalStateException.class);
      // A read function run inside the write may itself nest reads.
      assertThat(lock.readLong(() -> lock.readLong(() -> x))).isEqualTo(7L);
    }
    assertThat(lock.isWriteLocked()).isFalse();
  }

  // ---------------------------------------------------------------------- SeqLocked

  @Test
  void seqLockedEveryCombination() throws Exception {
    SeqLocked<long[]> cell = new SeqLocked<>(new long[] {1, 2});
    // read in read (optimistic)
    assertThat(cell.readLong(a -> a[0] + cell.readInt(b -> (int) b[1]))).isEqualTo(3L);
    // read in write: sees the write's changes
    cell.write(a -> {
      a[0] = 10;
      assertThat(cell.readLong(b -> b[0])).isEqualTo(10L);
      assertThat(cell.isWriteLockedByCurrentThread()).isTrue();
      // write in write: not reentrant
      assertThatThrownBy(() -> cell.write(b -> { })).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("not reentrant");
      assertThatThrownBy(() -> cell.writeUninterruptibly(b -> { }))
          .isInstanceOf(IllegalStateException.class);
    });
    // write in every read pass: the optimistic passes write, the locked pass throws
    AtomicInteger passes = new AtomicInteger();
    assertThatThrownBy(() -> cell.read(a -> {
      passes.incrementAndGet();
      cell.writeUninterruptibly(b -> b[1]++);
      return a[1];
    })).isInstanceOf(IllegalStateException.class).hasMessageContaining("read function");
    assertThat(passes.get()).isEqualTo(SeqLock.READ_ATTEMPTS + 2);
    assertThat(cell.readLong(a -> a[1])).isEqualTo(2L + SeqLock.READ_ATTEMPTS + 1);
    // nested read in the locked pass
    long r = cell.readLong(a -> {
      if (!cell.isWriteLocked()) {
        cell.writeUninterruptibly(b -> b[0]++);
        return -1L;
      }
      assertThat(cell.isWriteLockedByCurrentThread()).isFalse();
      return cell.readLong(b -> b[0]);
    });
    assertThat(r).isEqualTo(10L + SeqLock.READ_ATTEMPTS + 1);
    assertThat(cell.isWriteLocked()).isFalse();
  }

  // ----------------------------------------------------------------------- SeqCount

  @Test
  void seqCountEveryCombinationThatTheApiAllows() {
    SeqCount count = new SeqCount();
    long[] v = {1, 2};
    // read in read, beginRead/validate in read
    assertThat(count.readLong(() -> {
      long s = count.beginRead();
      long sum = count.readLong(() -> v[0] + v[1]) + count.read(v, a -> a[0]);
      assertThat(count.validate(s)).isTrue();
      return sum;
    })).isEqualTo(4L);
    try (SeqCount.WriteGuard g = count.write()) {
      v[0] = 5;
      // write in write: not reentrant
      assertThatThrownBy(count::write).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("not reentrant");
      // read in write: would never validate
      assertThatThrownBy(count::beginRead).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("own write");
      assertThatThrownBy(() -> count.readLong(() -> v[0]))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("own write");
    }
    // A read function that writes and closes a write: its own write fails the pass, so every
    // retry would write again; the read throws at the end of the first pass instead (issue 18;
    // before, it never returned). Bounded: the function stops writing after 10,000 passes.
    AtomicInteger passes = new AtomicInteger();
    assertThatThrownBy(() -> count.readLong(() -> {
      if (passes.incrementAndGet() <= 10_000) {
        try (SeqCount.WriteGuard g = count.write()) {
          v[1]++;
        }
      }
      return v[1];
    })).isInstanceOf(IllegalStateException.class).hasMessageContaining("read function wrote");
    assertThat(passes).hasValue(1);
    assertThat(count.isWriting()).isFalse();
    // A read function that opens a write and leaves it open: the retry throws.
    assertThatThrownBy(() -> count.readLong(() -> {
      count.write(); // misuse, never closed
      return 0L;
    })).isInstanceOf(IllegalStateException.class).hasMessageContaining("own write");
    assertThat(count.isWriting()).isTrue(); // the misused guard is lost: the counter stays odd
  }
}
