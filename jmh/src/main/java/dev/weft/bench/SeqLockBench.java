package dev.weft.bench;

import dev.weft.SeqCount;
import dev.weft.SeqLock;
import dev.weft.SeqLocked;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.concurrent.locks.StampedLock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Group;
import org.openjdk.jmh.annotations.GroupThreads;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * SeqLock, SeqCount and SeqLocked against the JDK's ways of sharing a pair of longs that must be
 * read consistently: StampedLock optimistic read/validate (with its read-lock fallback),
 * ReentrantReadWriteLock, synchronized, and an AtomicReference to an immutable snapshot (run with
 * {@code -prof gc} to see the snapshot's allocation per write, and the guards' absence of it).
 *
 * <ul>
 *   <li>{@code read_*}: one thread reads, no writer.
 *   <li>{@code rw_*}: asymmetric group, one reader and one writer; JMH reports both sides.
 *       {@code rw_stampedNoReadLock} is StampedLock without its read-lock fallback (optimistic
 *       retries only, like a seqlock reader): the control that shows where StampedLock's
 *       reader-with-writer score comes from (docs/seqlock.md).
 *   <li>{@code write_*}: one thread writes, no reader.
 * </ul>
 *
 * Names are {@code <scenario>_<implementation>}, weft's implementations starting with {@code
 * weft}, so the report compares them only within one scenario (docs/benchmarks.md).
 *
 * Every reader returns x - y + x so that a torn read would change the result and nothing is
 * dead code. {@code weftSeqLock} reads with a lambda that captures the state ({@code readLong(() ->
 * x - y + x)}), {@code weftSeqLockSource} with a non-capturing one ({@code readLong(this, d -> ...)}):
 * {@code -prof gc} shows whether either is allocated (the capturing one was, 16 bytes per read
 * under a writer, until the read loop stopped passing the function to an out-of-line slow path).
 *
 * <p>Layout: the implementations' references, the pair (with the writer's counter) and whatever
 * the constructor allocates next sit on separate cache lines (see {@link Refs}), so that every
 * implementation reads its lock reference from a line the writer does not dirty. Each lock's
 * own state lives where the library puts it (StampedLock's and SeqLock's counters in their own
 * objects; SeqLocked's counter in the cell, next to its value reference).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@SuppressWarnings("try") // guards held for their scope only are never referenced (-Xlint:try)
public class SeqLockBench {
  /** The immutable snapshot of the AtomicReference alternative. */
  static final class Pair {
    final long x;
    final long y;

    Pair(long x, long y) {
      this.x = x;
      this.y = y;
    }
  }

  /** The mutable object guarded by SeqLocked. */
  static final class MutablePair {
    long x;
    long y;
  }

  /**
   * Every implementation, on cache lines of their own. Readers load these references on every
   * operation; the padding below keeps the writer's stores to x, y and next off their line, so
   * that no implementation pays for a line the benchmark itself makes the writer dirty. (Before,
   * x, y, next and these references shared the object's first line.) HotSpot lays a superclass's
   * fields out before a subclass's, so the class chain orders refs, padding, data, padding.
   */
  abstract static class Refs {
    final SeqLock seqLock = new SeqLock();
    final SeqCount seqCount = new SeqCount();
    final SeqLocked<MutablePair> seqLocked = new SeqLocked<>(new MutablePair());
    final StampedLock stamped = new StampedLock();
    final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
    final Object monitor = new Object();
    final AtomicReference<Pair> ref = new AtomicReference<>(new Pair(0, 0));
  }

  /** 128 bytes: two cache lines, because Intel's adjacent-line prefetcher fetches pairs. */
  @SuppressWarnings("unused")
  abstract static class RefsPad extends Refs {
    long p00, p01, p02, p03, p04, p05, p06, p07, p08, p09, p10, p11, p12, p13, p14, p15;
  }

  /** The guarded pair, and the writer's counter (written together with the pair). */
  abstract static class Fields extends RefsPad {
    long x;
    long y;
    long next;
  }

  /** Keeps whatever is allocated next (the locks, in the constructor) off the pair's lines. */
  @SuppressWarnings("unused")
  abstract static class FieldsPad extends Fields {
    long q00, q01, q02, q03, q04, q05, q06, q07, q08, q09, q10, q11, q12, q13, q14, q15;
  }

  /** The shared pair and every implementation guarding it. */
  abstract static class Data extends FieldsPad {
    // ---- readers ---------------------------------------------------------------------------

    long seqLockRead() {
      return seqLock.readLong(() -> x - y + x);
    }

    long seqLockSourceRead() {
      return seqLock.readLong(this, d -> d.x - d.y + d.x); // non-capturing: never allocated
    }

    long seqLockManualRead() {
      long s;
      long a;
      long b;
      do {
        s = seqLock.beginRead();
        a = x;
        b = y;
      } while (!seqLock.validate(s));
      return a - b + a;
    }

    long seqCountRead() {
      return seqCount.readLong(() -> x - y + x);
    }

    long seqLockedRead() {
      return seqLocked.readLong(p -> p.x - p.y + p.x);
    }

    long stampedRead() {
      long stamp = stamped.tryOptimisticRead();
      long a = x;
      long b = y;
      if (!stamped.validate(stamp)) {
        stamp = stamped.readLock();
        try {
          a = x;
          b = y;
        } finally {
          stamped.unlockRead(stamp);
        }
      }
      return a - b + a;
    }

    /**
     * StampedLock used the way a seqlock is: retry the optimistic read until it validates,
     * never take the read lock. Only in the rw scenario: it shows how much of StampedLock's
     * reader-with-writer score comes from its read-lock fallback blocking the writer.
     */
    long stampedNoReadLockRead() {
      long stamp;
      long a;
      long b;
      do {
        stamp = stamped.tryOptimisticRead();
        a = x;
        b = y;
      } while (!stamped.validate(stamp));
      return a - b + a;
    }

    long rwRead() {
      ReentrantReadWriteLock.ReadLock l = rw.readLock();
      l.lock();
      try {
        return x - y + x;
      } finally {
        l.unlock();
      }
    }

    long syncRead() {
      synchronized (monitor) {
        return x - y + x;
      }
    }

    long refRead() {
      Pair p = ref.get();
      return p.x - p.y + p.x;
    }

    // ---- writers ---------------------------------------------------------------------------

    void seqLockWrite() {
      long v = ++next;
      try (SeqLock.WriteGuard w = seqLock.writeUninterruptibly()) {
        x = v;
        y = v;
      }
    }

    void seqCountWrite() {
      long v = ++next;
      try (SeqCount.WriteGuard w = seqCount.write()) {
        x = v;
        y = v;
      }
    }

    void seqLockedWrite() {
      seqLocked.writeUninterruptibly(
          p -> {
            p.x++;
            p.y++;
          });
    }

    void stampedWrite() {
      long v = ++next;
      long stamp = stamped.writeLock();
      try {
        x = v;
        y = v;
      } finally {
        stamped.unlockWrite(stamp);
      }
    }

    void rwWrite() {
      long v = ++next;
      ReentrantReadWriteLock.WriteLock l = rw.writeLock();
      l.lock();
      try {
        x = v;
        y = v;
      } finally {
        l.unlock();
      }
    }

    void syncWrite() {
      long v = ++next;
      synchronized (monitor) {
        x = v;
        y = v;
      }
    }

    void refWrite() {
      long v = ++next;
      ref.set(new Pair(v, v));
    }
  }

  /** One instance per reader/writer group. */
  @State(Scope.Group)
  public static class Grouped extends Data {}

  /** One instance per thread, for the single-threaded read and write costs. */
  @State(Scope.Thread)
  public static class Solo extends Data {}

  // ---- read, no writer ---------------------------------------------------------------------

  @Benchmark
  public long read_weftSeqLock(Solo s) {
    return s.seqLockRead();
  }

  @Benchmark
  public long read_weftSeqLockSource(Solo s) {
    return s.seqLockSourceRead();
  }

  @Benchmark
  public long read_weftSeqLockManual(Solo s) {
    return s.seqLockManualRead();
  }

  @Benchmark
  public long read_weftSeqCount(Solo s) {
    return s.seqCountRead();
  }

  @Benchmark
  public long read_weftSeqLocked(Solo s) {
    return s.seqLockedRead();
  }

  @Benchmark
  public long read_stampedOptimistic(Solo s) {
    return s.stampedRead();
  }

  @Benchmark
  public long read_rwLock(Solo s) {
    return s.rwRead();
  }

  @Benchmark
  public long read_synchronized(Solo s) {
    return s.syncRead();
  }

  @Benchmark
  public long read_atomicRef(Solo s) {
    return s.refRead();
  }

  // ---- one reader, one writer --------------------------------------------------------------

  @Benchmark
  @Group("rw_weftSeqLock")
  @GroupThreads(1)
  public long rw_weftSeqLock_reader(Grouped s) {
    return s.seqLockRead();
  }

  @Benchmark
  @Group("rw_weftSeqLock")
  @GroupThreads(1)
  public void rw_weftSeqLock_writer(Grouped s) {
    s.seqLockWrite();
  }

  @Benchmark
  @Group("rw_weftSeqLockSource")
  @GroupThreads(1)
  public long rw_weftSeqLockSource_reader(Grouped s) {
    return s.seqLockSourceRead();
  }

  @Benchmark
  @Group("rw_weftSeqLockSource")
  @GroupThreads(1)
  public void rw_weftSeqLockSource_writer(Grouped s) {
    s.seqLockWrite();
  }

  @Benchmark
  @Group("rw_weftSeqCount")
  @GroupThreads(1)
  public long rw_weftSeqCount_reader(Grouped s) {
    return s.seqCountRead();
  }

  @Benchmark
  @Group("rw_weftSeqCount")
  @GroupThreads(1)
  public void rw_weftSeqCount_writer(Grouped s) {
    s.seqCountWrite();
  }

  @Benchmark
  @Group("rw_weftSeqLocked")
  @GroupThreads(1)
  public long rw_weftSeqLocked_reader(Grouped s) {
    return s.seqLockedRead();
  }

  @Benchmark
  @Group("rw_weftSeqLocked")
  @GroupThreads(1)
  public void rw_weftSeqLocked_writer(Grouped s) {
    s.seqLockedWrite();
  }

  @Benchmark
  @Group("rw_stamped")
  @GroupThreads(1)
  public long rw_stamped_reader(Grouped s) {
    return s.stampedRead();
  }

  @Benchmark
  @Group("rw_stamped")
  @GroupThreads(1)
  public void rw_stamped_writer(Grouped s) {
    s.stampedWrite();
  }

  @Benchmark
  @Group("rw_stampedNoReadLock")
  @GroupThreads(1)
  public long rw_stampedNoReadLock_reader(Grouped s) {
    return s.stampedNoReadLockRead();
  }

  @Benchmark
  @Group("rw_stampedNoReadLock")
  @GroupThreads(1)
  public void rw_stampedNoReadLock_writer(Grouped s) {
    s.stampedWrite();
  }

  @Benchmark
  @Group("rw_rwLock")
  @GroupThreads(1)
  public long rw_rwLock_reader(Grouped s) {
    return s.rwRead();
  }

  @Benchmark
  @Group("rw_rwLock")
  @GroupThreads(1)
  public void rw_rwLock_writer(Grouped s) {
    s.rwWrite();
  }

  @Benchmark
  @Group("rw_synchronized")
  @GroupThreads(1)
  public long rw_synchronized_reader(Grouped s) {
    return s.syncRead();
  }

  @Benchmark
  @Group("rw_synchronized")
  @GroupThreads(1)
  public void rw_synchronized_writer(Grouped s) {
    s.syncWrite();
  }

  @Benchmark
  @Group("rw_atomicRef")
  @GroupThreads(1)
  public long rw_atomicRef_reader(Grouped s) {
    return s.refRead();
  }

  @Benchmark
  @Group("rw_atomicRef")
  @GroupThreads(1)
  public void rw_atomicRef_writer(Grouped s) {
    s.refWrite();
  }

  // ---- write, no reader --------------------------------------------------------------------

  @Benchmark
  public void write_weftSeqLock(Solo s) {
    s.seqLockWrite();
  }

  @Benchmark
  public void write_weftSeqCount(Solo s) {
    s.seqCountWrite();
  }

  @Benchmark
  public void write_weftSeqLocked(Solo s) {
    s.seqLockedWrite();
  }

  @Benchmark
  public void write_stamped(Solo s) {
    s.stampedWrite();
  }

  @Benchmark
  public void write_rwLock(Solo s) {
    s.rwWrite();
  }

  @Benchmark
  public void write_synchronized(Solo s) {
    s.syncWrite();
  }

  @Benchmark
  public void write_atomicRef(Solo s) {
    s.refWrite();
  }
}
