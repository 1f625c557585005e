package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Every read form of {@link SeqCount} through both of its retry paths, deterministically: a
 * pass that fails validation because a write happened during it (the read function, on its
 * first run, has another thread write and joins it), a pass that throws on that torn state (the
 * exception is swallowed and the read retried), and a read that starts while another thread's
 * write is in progress (it waits for the even value). (Until issue 18 the first run wrote from
 * the reading thread itself; that is now misuse and throws, see {@link
 * SeqCountWriteInReadTest}.) Each form has its own inlined loop, so
 * each is checked on its own. Both write modes are used: the exact (CAS) check that tests get
 * with {@code -ea}, and the two-store write that production code gets without it.
 */
// "try": write guards held for their scope only are never referenced in the body (-Xlint:try).
@SuppressWarnings("try")
@Timeout(value = 30, unit = TimeUnit.SECONDS)
class SeqCountRetryPathsTest {

  /** The guarded pair; written only inside a write of {@link #count}. */
  private int x;

  private int y;

  private final SeqCount count = new SeqCount();

  private void writePair(int v, boolean exact) {
    try (SeqCount.WriteGuard g = count.write(exact)) {
      x = v;
      y = v;
    }
  }

  /** Runs one complete write on another thread and joins it: any stamp taken before is stale. */
  private void writeElsewhere(int v, boolean exact) {
    Thread t = new Thread(() -> writePair(v, exact), "test-seqcount-interrupting-writer");
    t.start();
    try {
      t.join(TimeUnit.SECONDS.toMillis(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    assertThat(t.isAlive()).as("interrupting writer still running").isFalse();
  }

  /**
   * A read function's first run has another thread write (so the pass cannot validate) and then
   * either returns a value or throws; later runs read the pair. Counts the runs in {@code runs}.
   */
  private <R> R firstRunInterrupted(
      AtomicInteger runs, boolean throwOnFirst, boolean exact, Supplier<R> read) {
    if (runs.getAndIncrement() == 0) {
      writeElsewhere(7, exact);
      if (throwOnFirst) {
        throw new IllegalStateException("saw torn state");
      }
    }
    return read.get();
  }

  @Test
  void everyReadFormRetriesAPassThatAWriteInterrupted() {
    for (boolean exact : List.of(true, false)) {
      for (boolean throwOnFirst : List.of(false, true)) {
        writePair(1, exact);
        AtomicInteger runs = new AtomicInteger();
        assertThat(count.read(() -> firstRunInterrupted(runs, throwOnFirst, exact, () -> x + y)))
            .isEqualTo(14);
        assertThat(runs).hasValue(2);

        runs.set(0);
        assertThat(count.readInt(() -> firstRunInterrupted(runs, throwOnFirst, exact,
            () -> x * 10 + y))).isEqualTo(77);
        assertThat(runs).hasValue(2);

        runs.set(0);
        assertThat(count.readLong(() -> firstRunInterrupted(runs, throwOnFirst, exact,
            () -> (long) x + y + 100))).isEqualTo(114L);
        assertThat(runs).hasValue(2);

        runs.set(0);
        Function<SeqCountRetryPathsTest, Integer> sum = t -> firstRunInterrupted(
            runs, throwOnFirst, exact, () -> t.x + t.y);
        assertThat(count.read(this, sum)).isEqualTo(14);
        assertThat(runs).hasValue(2);

        runs.set(0);
        assertThat(count.readInt(this, t -> firstRunInterrupted(runs, throwOnFirst, exact,
            () -> t.x - t.y + 3))).isEqualTo(3);
        assertThat(runs).hasValue(2);

        runs.set(0);
        assertThat(count.readLong(this, t -> firstRunInterrupted(runs, throwOnFirst, exact,
            () -> (long) t.x * t.y))).isEqualTo(49L);
        assertThat(runs).hasValue(2);
      }
    }
  }

  @Test
  void aFailureOnAConsistentPassPropagatesFromEveryForm() {
    writePair(3, false);
    IllegalArgumentException boom = new IllegalArgumentException("real failure");
    assertThatThrownBy(() -> count.read(() -> {
      throw boom;
    })).isSameAs(boom);
    assertThatThrownBy(() -> count.readInt(() -> {
      throw boom;
    })).isSameAs(boom);
    assertThatThrownBy(() -> count.readLong(() -> {
      throw boom;
    })).isSameAs(boom);
    assertThatThrownBy(() -> count.read(this, t -> {
      throw boom;
    })).isSameAs(boom);
    assertThatThrownBy(() -> count.readInt(this, t -> {
      throw boom;
    })).isSameAs(boom);
    assertThatThrownBy(() -> count.readLong(this, t -> {
      throw boom;
    })).isSameAs(boom);
  }

  /** One form of read, started while another thread's write is open. */
  private interface ReadForm {
    long read(SeqCountRetryPathsTest t);
  }

  @Test
  void everyReadFormStartedDuringAnotherThreadsWriteWaitsForIt() throws Exception {
    List<ReadForm> forms = List.of(
        t -> t.count.read(() -> (long) t.x + t.y),
        t -> t.count.readInt(() -> t.x + t.y),
        t -> t.count.readLong(() -> (long) t.x + t.y),
        t -> t.count.read(t, s -> (long) s.x + s.y),
        t -> t.count.readInt(t, s -> s.x + s.y),
        t -> t.count.readLong(t, s -> (long) s.x + s.y),
        t -> {
          long stamp = t.count.beginRead(); // waits for the even value
          long v = (long) t.x + t.y;
          assertThat(t.count.validate(stamp)).isTrue(); // nothing writes meanwhile
          return v;
        });
    int round = 0;
    for (ReadForm form : forms) {
      int v = 10 + round++;
      boolean exact = round % 2 == 0;
      CountDownLatch open = new CountDownLatch(1);
      CountDownLatch readerWaiting = new CountDownLatch(1);
      Thread writer = new Thread(() -> {
        try (SeqCount.WriteGuard g = count.write(exact)) {
          x = v;
          open.countDown();
          // Let the reader find the write in progress: it cannot finish before close below.
          awaitQuietly(readerWaiting);
          parkMillis(20); // provoke the schedule only: the result does not depend on it
          y = v;
        }
      }, "test-seqcount-writer-" + round);
      writer.start();
      try {
        assertThat(open.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(count.isWriting()).isTrue();
        readerWaiting.countDown();
        assertThat(form.read(this)).isEqualTo(2L * v); // never the torn (v, old) pair
      } finally {
        writer.join(10_000);
      }
      assertThat(writer.isAlive()).isFalse();
    }
  }

  private static void awaitQuietly(CountDownLatch latch) {
    try {
      latch.await(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static void parkMillis(long millis) {
    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(millis));
  }
}
