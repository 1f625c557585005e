package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
    SeqLockTest.waitUntilParkedOrWaiting(waiter);
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
  void lincheckModelChecking() {
    new ModelCheckingOptions()
        .iterations(heavy() ? 100 : 3)
        .invocationsPerIteration(heavy() ? 5_000 : 100)
        .threads(2)
        .actorsPerThread(3)
        .check(PairCell.class);
  }

  @Test
  void lincheckStress() {
    new StressOptions()
        .iterations(heavy() ? 100 : 3)
        .invocationsPerIteration(heavy() ? 5_000 : 50)
        .threads(heavy() ? 3 : 2)
        .actorsPerThread(3)
        .check(PairCell.class);
  }
}
