package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.SeqLockTest.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SeqLockedTest {
  static final class MutablePoint {
    int x;
    int y;
    int[] items = new int[0];
  }

  private final SeqLocked<MutablePoint> cell = new SeqLocked<>(new MutablePoint());

  @Test
  void readsSeeWrites() throws InterruptedException {
    cell.write(p -> {
      p.x = 3;
      p.y = 4;
    });
    assertThat(cell.readInt(p -> p.x + p.y)).isEqualTo(7);
    assertThat(cell.readLong(p -> (long) p.x * p.y)).isEqualTo(12L);
    String s = cell.read(p -> p.x + "," + p.y);
    assertThat(s).isEqualTo("3,4");
    cell.writeUninterruptibly(p -> p.x++);
    assertThat(cell.readInt(p -> p.x)).isEqualTo(4);
    assertThat(cell).hasToString("SeqLocked[seq=4, unlocked]");
  }

  @Test
  void readersNeverSeeTornStateUnderAWriterStorm() throws Exception {
    int writesEach = 20_000;
    AtomicBoolean done = new AtomicBoolean();
    AtomicLong torn = new AtomicLong();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> writers = new ArrayList<>();
    List<Thread> readers = new ArrayList<>();
    for (int w = 0; w < 2; w++) {
      writers.add(
          new Thread(
              () -> {
                for (int i = 0; i < writesEach; i++) {
                  cell.writeUninterruptibly(
                      p -> {
                        p.x++;
                        p.y++;
                        // array replaced with a longer one: a torn reader may index past it
                        p.items = new int[p.x % 8];
                      });
                }
              },
              "test-seqlocked-writer-" + w));
    }
    for (int r = 0; r < 2; r++) {
      readers.add(
          new Thread(
              () -> {
                while (!done.get()) {
                  // throws ArrayIndexOutOfBounds on torn state: must be retried, never seen
                  int d = cell.readInt(p -> p.x - p.y + (p.x % 8 == 0 ? 0 : p.items[p.x % 8 - 1]));
                  if (d != 0) {
                    torn.incrementAndGet();
                  }
                }
              },
              "test-seqlocked-reader-" + r));
    }
    for (Thread t : writers) {
      t.setUncaughtExceptionHandler((th, e) -> failure.compareAndSet(null, e));
      t.start();
    }
    for (Thread t : readers) {
      t.setUncaughtExceptionHandler((th, e) -> failure.compareAndSet(null, e));
      t.start();
    }
    for (Thread t : writers) {
      t.join();
    }
    done.set(true);
    for (Thread t : readers) {
      t.join();
    }
    assertThat(failure.get()).isNull();
    assertThat(torn.get()).isZero();
    assertThat(cell.readInt(p -> p.x)).isEqualTo(2 * writesEach);
  }

  @Test
  void readFallsBackToTheLock() {
    AtomicInteger calls = new AtomicInteger();
    int v =
        cell.readInt(
            p -> {
              calls.incrementAndGet();
              if (!cell.isWriteLocked()) {
                cell.writeUninterruptibly(q -> q.x++); // overlapping write: validation fails
              }
              return p.x;
            });
    assertThat(cell.fallbackReads()).isEqualTo(1L);
    assertThat(v).isEqualTo(calls.get() - 1);
  }

  @Test
  void writeIsNotReentrant() {
    assertThatThrownBy(() -> cell.write(p -> cell.writeUninterruptibly(q -> q.x++)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("not reentrant");
    assertThat(cell.isWriteLocked()).isFalse();
    assertThat(cell.readInt(p -> p.x)).isZero();
  }

  @Test
  void throwingWriterReleasesTheLockAndPublishesPartialChanges() {
    IllegalStateException boom = new IllegalStateException("half way");
    assertThatThrownBy(
            () ->
                cell.write(
                    p -> {
                      p.x = 1;
                      throw boom;
                    }))
        .isSameAs(boom);
    assertThat(cell.isWriteLocked()).isFalse();
    assertThat(cell.readInt(p -> p.x)).isEqualTo(1);
  }

  @Test
  void exceptionOnConsistentStatePropagates() {
    assertThatThrownBy(() -> cell.readLong(p -> p.items[5]))
        .isInstanceOf(ArrayIndexOutOfBoundsException.class);
    assertThatThrownBy(() -> cell.read(p -> p.items[5]))
        .isInstanceOf(ArrayIndexOutOfBoundsException.class);
    assertThat(cell.fallbackReads()).isZero();
  }

  @Test
  void waitingWriterIsInterruptible() throws Exception {
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder =
        new Thread(
            () ->
                cell.writeUninterruptibly(
                    p -> {
                      inside.countDown();
                      try {
                        release.await();
                      } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                      }
                    }),
            "test-seqlocked-holder");
    holder.start();
    inside.await();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread waiter =
        new Thread(
            () -> {
              try {
                cell.write(p -> p.x++);
              } catch (Throwable e) {
                thrown.set(e);
              }
            },
            "test-seqlocked-waiter");
    waiter.start();
    awaitBlocked(waiter);
    waiter.interrupt();
    waiter.join();
    release.countDown();
    holder.join();
    assertThat(thrown.get()).isInstanceOf(InterruptedException.class);
    assertThat(cell.readInt(p -> p.x)).isZero();
  }

  @Test
  void nullArgumentsAreRejected() {
    assertThatNullPointerException().isThrownBy(() -> new SeqLocked<>(null)).withMessage("value");
    assertThatNullPointerException().isThrownBy(() -> cell.read(null)).withMessage("reader");
    assertThatNullPointerException().isThrownBy(() -> cell.readInt(null)).withMessage("reader");
    assertThatNullPointerException().isThrownBy(() -> cell.readLong(null)).withMessage("reader");
    assertThatNullPointerException().isThrownBy(() -> cell.write(null)).withMessage("writer");
    assertThatNullPointerException()
        .isThrownBy(() -> cell.writeUninterruptibly(null))
        .withMessage("writer");
  }

  // ---- Lincheck: the cell is a linearizable pair register ---------------------------------

  /** Lincheck subject: a pair (a, b) that is always written together. */
  public static final class PairCell {
    static final class Pair {
      long a;
      long b;
    }

    private final SeqLocked<Pair> cell = new SeqLocked<>(new Pair());

    /** Adds {@code d} to both halves. */
    @Operation
    public void add(int d) {
      cell.writeUninterruptibly(
          p -> {
            p.a += d;
            p.b += d;
          });
    }

    /** Returns the pair; both halves must always be equal, and reads linearize with adds. */
    @Operation
    public String get() {
      return cell.read(p -> p.a + ":" + p.b);
    }

    /** The same through the primitive path. */
    @Operation
    public long sum() {
      return cell.readLong(p -> p.a + p.b);
    }
  }

  private static boolean heavy() {
    return Boolean.getBoolean("weft.lincheck.heavy");
  }

  @Test
  @Timeout(value = 180, unit = TimeUnit.SECONDS) // see lincheckStress
  void lincheckModelChecking() {
    new ModelCheckingOptions()
        .addGuarantee(LincheckStackProbe.ignored())
        .iterations(heavy() ? 100 : 3)
        .invocationsPerIteration(heavy() ? 5_000 : 100)
        .threads(2)
        .actorsPerThread(3)
        .check(PairCell.class);
  }

  @Test
  // Lincheck's uninstall retransforms every loaded class: in CI's shared test JVM, after
  // thousands of test classes, that alone took over 60 s once (session 32). Still bounded.
  @Timeout(value = 180, unit = TimeUnit.SECONDS)
  void lincheckStress() {
    new StressOptions()
        .iterations(heavy() ? 100 : 3)
        .invocationsPerIteration(heavy() ? 5_000 : 50)
        .threads(heavy() ? 3 : 2)
        .actorsPerThread(3)
        .check(PairCell.class);
  }

  /**
   * Behaviours of {@link SeqLocked} that the mutation run (PIT, issue #9) showed untested:
   * ownership queries from other threads, a waiting writer that arrives already interrupted,
   * reads inside the thread's own write, and read forms that wait for a write and fall back to
   * the lock. Waiters are blocked (parked) before the state they wait for changes.
   */
  // "try": guards held for their scope only are never referenced in the body (-Xlint:try).
  @SuppressWarnings("try")
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  @Nested
  class OwnershipWaitingWritersAndReadForms {
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
      awaitBlocked(w.thread);
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
        awaitBlocked(r.thread);
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
  }
}
