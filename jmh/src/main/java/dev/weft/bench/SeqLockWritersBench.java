package dev.weft.bench;

import dev.weft.SeqLock;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.StampedLock;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Writers only (session 16): platform threads ({@code -t}, 1 to 16) take {@code SeqLock}'s write
 * lock, write a pair and release, against {@code StampedLock}'s write lock and an unfair {@code
 * ReentrantLock}. With more writers than cores they spin, yield and then queue in {@code
 * SeqLock}'s waiting room, which session 16 changed from a {@code ReentrantLock} to a {@code
 * WaitingRoom} of weft's own (FIFO grants; a waiter that gives up wakes nobody): this is the
 * platform-thread check that the change costs nothing where nothing gives up. Reported, no
 * goal: the virtual-thread retry scenario the change fixed is {@code LockVirtualRetryJdk25Bench}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class SeqLockWritersBench {

  /** The lock under test. */
  @Param({"SeqLock", "StampedLock", "ReentrantLock"})
  public String lock;

  private final SeqLock seqLock = new SeqLock();
  private final StampedLock stamped = new StampedLock();
  private final ReentrantLock reentrant = new ReentrantLock();
  private long x;
  private long y;

  /** Nothing to set up beyond the fields; the param picks the method's branch. */
  @Setup(Level.Trial)
  public void setUp() {
    x = 0;
    y = 0;
  }

  /**
   * One write section: both fields advanced under the lock.
   *
   * @return the new x, so the section cannot be removed
   */
  @Benchmark
  @SuppressWarnings("try")
  public long write() {
    switch (lock) {
      case "SeqLock":
        try (SeqLock.WriteGuard w = seqLock.writeUninterruptibly()) {
          y++;
          return ++x;
        }
      case "StampedLock":
        long s = stamped.writeLock();
        try {
          y++;
          return ++x;
        } finally {
          stamped.unlockWrite(s);
        }
      default:
        reentrant.lock();
        try {
          y++;
          return ++x;
        } finally {
          reentrant.unlock();
        }
    }
  }
}
