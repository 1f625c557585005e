package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Callbacks that call back (issue 18): a {@link SeqCount} read function that starts and closes
 * a write on the same counter. Its own write fails the pass's validation, so before the fix every
 * read form retried forever (a silent livelock); now the read throws {@link
 * IllegalStateException} at the end of the first such pass. The tests never leave a thread
 * spinning: each read function stops writing after {@link #PASS_BOUND} passes, so even the
 * broken code returns (and the test then fails on the pass count), and each read runs on a
 * joined helper thread with a bound.
 *
 * <p>The other tests pin the cases that must NOT throw: a writer thread that also reads between
 * its writes, another thread's write during a pass of a thread that wrote before the pass, and
 * {@link SeqCount#validate(long)} used as a query after this thread's own write.
 */
// "try": write guards held for their scope only are never referenced in the body (-Xlint:try).
@SuppressWarnings("try")
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SeqCountWriteInReadTest {
  /** Passes after which a read function stops writing, so that no read can spin forever. */
  static final int PASS_BOUND = 10_000;

  private final SeqCount count = new SeqCount();
  private long x;
  private long y;

  /** One read form of {@link SeqCount}, running {@code fn} as the read function. */
  interface ReadForm {
    long read(SeqCountWriteInReadTest t, LongSupplier fn);
  }

  /** Every read form; each has its own inlined retry loop, so each is checked on its own. */
  static List<Arguments> formsAndModes() {
    List<Arguments> forms = List.of(
        Arguments.of("read(Supplier)", (ReadForm) (t, fn) -> t.count.read(() -> fn.getAsLong())),
        Arguments.of("readInt(IntSupplier)",
            (ReadForm) (t, fn) -> t.count.readInt(() -> (int) fn.getAsLong())),
        Arguments.of("readLong(LongSupplier)", (ReadForm) (t, fn) -> t.count.readLong(fn)),
        Arguments.of("read(source, fn)",
            (ReadForm) (t, fn) -> t.count.read(t, s -> fn.getAsLong())),
        Arguments.of("readInt(source, fn)",
            (ReadForm) (t, fn) -> t.count.readInt(t, s -> (int) fn.getAsLong())),
        Arguments.of("readLong(source, fn)",
            (ReadForm) (t, fn) -> t.count.readLong(t, s -> fn.getAsLong())));
    List<Arguments> all = new ArrayList<>();
    for (boolean exact : List.of(true, false)) {
      for (Arguments a : forms) {
        all.add(Arguments.of(a.get()[0], a.get()[1], exact));
      }
    }
    return all;
  }

  private void writePair(long v, boolean exact) {
    try (SeqCount.WriteGuard g = count.write(exact)) {
      x = v;
      y = v;
    }
  }

  /** Runs one complete write on another thread and joins it: any stamp taken before is stale. */
  private void writeElsewhere(long v, boolean exact) {
    Thread t = new Thread(() -> writePair(v, exact), "test-seqcount-other-writer");
    t.start();
    try {
      t.join(TimeUnit.SECONDS.toMillis(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    assertThat(t.isAlive()).as("other writer still running").isFalse();
  }

  /** The outcome of one read run on a helper thread. */
  private static final class Outcome {
    final AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    volatile long result;
  }

  /**
   * Runs {@code read} on a helper thread named {@code test-...} and joins it with a bound. The
   * read functions used here stop writing after {@link #PASS_BOUND} passes, so the thread ends
   * on the old code too; the bounded join only turns a regression of that bound into a failure.
   */
  private static Outcome runOnHelper(LongSupplier read) throws InterruptedException {
    Outcome o = new Outcome();
    Thread t = new Thread(() -> {
      try {
        o.result = read.getAsLong();
      } catch (Throwable e) {
        o.thrown.set(e);
      }
    }, "test-seqcount-writing-reader");
    t.start();
    try {
      t.join(TimeUnit.SECONDS.toMillis(30));
    } finally {
      if (t.isAlive()) {
        t.join(); // bounded by PASS_BOUND: the read function stops writing
      }
    }
    return o;
  }

  @ParameterizedTest(name = "{0}, exact check {2}")
  @MethodSource("formsAndModes")
  void aReadFunctionThatWritesAndClosesOnTheSameCounterThrowsOnItsFirstPass(
      String name, ReadForm form, boolean exact) throws Exception {
    writePair(1, exact);
    AtomicInteger passes = new AtomicInteger();
    LongSupplier fn = () -> {
      if (passes.incrementAndGet() <= PASS_BOUND) {
        writePair(x + 1, exact); // misuse: a write from inside the read function
      }
      return x + y;
    };
    Outcome o = runOnHelper(() -> form.read(this, fn));
    assertThat(o.thrown.get())
        .as("%s: expected IllegalStateException on the first pass; read returned %d after %d"
            + " passes", name, o.result, passes.get())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("read function wrote");
    assertThat(passes).as("passes of %s", name).hasValue(1);
    assertThat(count.isWriting()).isFalse();
    // The counter stays usable: the misuse closed its write.
    assertThat(form.read(this, () -> x + y)).isEqualTo(4L);
  }

  @ParameterizedTest(name = "{0}, exact check {2}")
  @MethodSource("formsAndModes")
  void aReadFunctionThatWritesThenThrowsEndsInTheMisuseExceptionWithItsOwnAsSuppressed(
      String name, ReadForm form, boolean exact) throws Exception {
    AtomicInteger passes = new AtomicInteger();
    IllegalArgumentException own = new IllegalArgumentException("thrown after writing");
    LongSupplier fn = () -> {
      if (passes.incrementAndGet() <= PASS_BOUND) {
        writePair(7, exact);
        throw own;
      }
      return x + y;
    };
    Outcome o = runOnHelper(() -> form.read(this, fn));
    assertThat(o.thrown.get())
        .as("%s after %d passes", name, passes.get())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("read function wrote");
    assertThat(o.thrown.get().getSuppressed()).containsExactly(own);
    assertThat(passes).hasValue(1);
  }

  @Test
  void aNestedReadWhoseFunctionWritesThrowsThroughTheOuterRead() throws Exception {
    AtomicInteger passes = new AtomicInteger();
    Outcome o = runOnHelper(() -> count.readLong(() -> count.readLong(() -> {
      if (passes.incrementAndGet() <= PASS_BOUND) {
        writePair(3, true);
      }
      return x;
    })));
    assertThat(o.thrown.get()).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("read function wrote");
    assertThat(passes).hasValue(1);
  }

  @ParameterizedTest(name = "{0}, exact check {2}")
  @MethodSource("formsAndModes")
  void aWriterThreadThatAlsoReadsBetweenItsWritesNeverThrows(
      String name, ReadForm form, boolean exact) {
    for (long v = 1; v <= 1_000; v++) {
      writePair(v, exact);
      AtomicInteger passes = new AtomicInteger();
      long expected = 2 * v;
      assertThat(form.read(this, () -> {
        passes.incrementAndGet();
        return x + y;
      })).isEqualTo(expected);
      assertThat(passes).hasValue(1);
    }
  }

  @ParameterizedTest(name = "{0}, exact check {2}")
  @MethodSource("formsAndModes")
  void anotherThreadsWriteDuringAPassOfAThreadThatWroteBeforeItRetries(
      String name, ReadForm form, boolean exact) {
    // This thread wrote last before the read: the pass is then spoilt by another thread.
    writePair(1, exact);
    AtomicInteger passes = new AtomicInteger();
    assertThat(form.read(this, () -> {
      if (passes.incrementAndGet() == 1) {
        writeElsewhere(20, exact);
      }
      return x + y;
    })).isEqualTo(40L);
    assertThat(passes).hasValue(2);
  }

  @ParameterizedTest(name = "{0}, exact check {2}")
  @MethodSource("formsAndModes")
  void aReadFunctionWritingOnEveryPassEndsEvenWhenAnotherThreadAlsoWrites(
      String name, ReadForm form, boolean exact) throws Exception {
    // Pass 1: this thread writes, then another thread writes after it (the last write of the
    // pass is not this thread's, so the pass is retried); pass 2: this thread's write is the
    // last one, so the read throws there.
    AtomicInteger passes = new AtomicInteger();
    LongSupplier fn = () -> {
      int p = passes.incrementAndGet();
      if (p <= PASS_BOUND) {
        writePair(p, exact);
        if (p == 1) {
          writeElsewhere(100, exact);
        }
      }
      return x + y;
    };
    Outcome o = runOnHelper(() -> form.read(this, fn));
    assertThat(o.thrown.get()).as("%s after %d passes", name, passes.get())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("read function wrote");
    assertThat(passes).hasValue(2);
  }

  @Test
  void twoWritersTakingTurnsThatAlsoReadNeverGetTheMisuseException() throws Exception {
    // The false-positive risk under real concurrency: each thread writes (so `writer` holds its
    // ~id), then reads while the other thread's write may spoil the pass. Writes take turns
    // through a lock (the single-writer promise is kept); reads are not under it.
    for (boolean exact : List.of(true, false)) {
      ReentrantLock turn = new ReentrantLock();
      List<SeqLockTest.Worker> workers = new ArrayList<>();
      try {
        for (int w = 0; w < 2; w++) {
          workers.add(new SeqLockTest.Worker("seqcount-turn-writer-" + w, () -> {
            for (int i = 0; i < 20_000; i++) {
              turn.lock();
              try {
                writePair(x + 1, exact);
              } finally {
                turn.unlock();
              }
              assertThat(count.readLong(() -> x - y)).isZero(); // never torn, never throws
            }
          }));
        }
      } finally {
        for (SeqLockTest.Worker w : workers) {
          w.join(); // rethrows a worker's failure, e.g. a false "read function wrote"
        }
      }
      assertThat(count.isWriting()).isFalse();
      assertThat(count.readLong(() -> x)).isEqualTo(exact ? 40_000L : 80_000L);
    }
  }

  @Test
  void validateStaysAQueryAfterThisThreadsOwnWrite() {
    // A hand-written beginRead/validate loop is the caller's loop: validate answers whether a
    // write started since the stamp (here: this thread's own), it does not throw. A loop whose
    // body writes every time therefore never ends; that is documented, not detected.
    long s = count.beginRead();
    writePair(5, false);
    assertThat(count.validate(s)).isFalse();
    long s2 = count.beginRead();
    assertThat(count.validate(s2)).isTrue();
    writePair(6, true);
    assertThat(count.validate(s2)).isFalse();
    assertThat(count.validate(count.beginRead())).isTrue();
  }

  @Test
  void misuseInsideAReadFunctionStillGetsItsOwnException() {
    // A write left open inside the read function: "own write" (unchanged); the misuse detection
    // above must not hide it.
    assertThatThrownBy(() -> count.readLong(() -> {
      count.write(); // misuse, never closed
      return 0L;
    })).isInstanceOf(IllegalStateException.class).hasMessageContaining("own write");
  }
}
