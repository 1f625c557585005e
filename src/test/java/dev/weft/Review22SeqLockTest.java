package dev.weft;

import static dev.weft.testing.Waits.awaitParkedOn;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.reflect.Field;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.StampedLock;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 22 of {@link SeqLock}, {@link SeqCount} and {@link SeqLocked}, from the code and the
 * docs only. {@code fixed_} tests failed on the code reviewed (59cda82) and pass since;
 * {@code held_} tests are attacks that held. Every schedule is fixed by latches, a protocol window or a thread
 * parked at a known point; no test waits on a sleep for a result.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
@SuppressWarnings("try") // guards are held for their scope only
class Review22SeqLockTest {

  // ---- harness ------------------------------------------------------------------------------

  interface Body {
    void run() throws Exception;
  }

  private static Thread start(String name, AtomicReference<Throwable> failure, Body body) {
    Thread t =
        new Thread(
            () -> {
              try {
                body.run();
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              }
            },
            name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private static Thread startVirtual(String name, AtomicReference<Throwable> failure, Body body)
      throws ReflectiveOperationException {
    return SpinLockHandOverReviewTest.startVirtual(
        name,
        () -> {
          try {
            body.run();
          } catch (Throwable e) {
            failure.compareAndSet(null, e);
          }
        });
  }

  private static void join(Thread t) throws InterruptedException {
    t.join(TimeUnit.SECONDS.toMillis(20));
    assertThat(t.isAlive()).as("%s did not finish", t.getName()).isFalse();
  }

  private static void rethrow(AtomicReference<Throwable> failure) throws Exception {
    Throwable e = failure.get();
    if (e instanceof Exception ex) {
      throw ex;
    }
    if (e instanceof Error err) {
      throw err;
    }
  }

  private static Object field(SeqLockCore lock, String name) throws ReflectiveOperationException {
    Field f = SeqLockCore.class.getDeclaredField(name);
    f.setAccessible(true);
    return f.get(lock);
  }

  private static @Nullable WaitingRoom room(SeqLockCore lock) throws ReflectiveOperationException {
    return (WaitingRoom) field(lock, "room");
  }

  private static int readersWaiting(SeqLockCore lock) throws ReflectiveOperationException {
    return (Integer) field(lock, "readersWaiting");
  }

  private static void awaitTrue(String what, java.util.function.BooleanSupplier cond) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError("never: " + what);
      }
      LockSupport.parkNanos(50_000L); // bounded poll of a state, not a result wait
    }
  }

  /**
   * Whether the calling thread holds a park permit, found out by parking for up to 400 ms: a held
   * permit makes the park return at once (and consumes it). Only a test-side probe.
   */
  private static boolean hasPermit() {
    long t0 = System.nanoTime();
    LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(400));
    return System.nanoTime() - t0 < TimeUnit.MILLISECONDS.toNanos(200);
  }

  // ---- defects ------------------------------------------------------------------------------

  /**
   * Promise broken: {@code tryWrite(Duration)}: "zero or negative means do not wait"; package
   * summary, "Timed waits on virtual threads": "A wait with a <em>positive</em> timeout that fails
   * on a virtual thread unmounts it"; CONVENTIONS: "A zero or negative timeout means 'check once,
   * don't wait'". {@code Mutex.tryLock(Duration)}, {@code SpinLock.tryLock(Duration)} and {@code
   * StampedLock.tryWriteLock(0, NANOSECONDS)} return at once for zero.
   *
   * <p>Schedule: the test thread holds the write lock; a virtual thread gives itself a park permit,
   * calls {@code tryWrite(Duration.ZERO)} and then {@code tryWrite(Duration.ofNanos(-1))} (both
   * return null), and checks after each whether its permit is still there. It is gone: the call
   * parked ({@code SeqLockCore.acquireWait} calls {@code timedOut} for a timeout of 0, which
   * unmounts a virtual thread with {@code parkNanos}). So "check once" waits a timer round trip
   * (tens of microseconds) on a virtual thread, eats the caller's permit, and, per {@code timedOut},
   * can even turn an interrupt that arrives during that park into an {@code InterruptedException}.
   * The same calls on a platform thread keep the permit ({@link
   * #held_platformTryWriteWithZeroOrNegativeTimeoutDoesNotPark}).
   *
   * <p>Fails 3 of 3 runs on JDK 25 (skipped on 17: no virtual threads).
   */
  @Test
  void fixed_virtualTryWriteWithZeroOrNegativeTimeoutParks() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    SeqLock lock = new SeqLock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<String> parked = new ArrayList<>();
    long[] nanos = new long[2];
    SeqLock.WriteGuard held = lock.write();
    try {
      Thread v =
          startVirtual(
              "review22-virtual-zero-timeout",
              failure,
              () -> {
                Duration[] timeouts = {Duration.ZERO, Duration.ofNanos(-1)};
                for (int i = 0; i < timeouts.length; i++) {
                  LockSupport.unpark(Thread.currentThread()); // a permit the call must not use
                  long t0 = System.nanoTime();
                  SeqLock.WriteGuard g = lock.tryWrite(timeouts[i]);
                  nanos[i] = System.nanoTime() - t0;
                  assertThat(g).as("lock held by the test thread").isNull();
                  if (!hasPermit()) {
                    parked.add("tryWrite(" + timeouts[i] + ")");
                  }
                }
              });
      join(v);
    } finally {
      held.close();
    }
    rethrow(failure);
    assertThat(parked)
        .as(
            "a zero or negative timeout must not wait, but these calls parked on a virtual"
                + " thread (took %d ns and %d ns)",
            nanos[0],
            nanos[1])
        .isEmpty();
  }

  /**
   * Promise broken: CONVENTIONS, "Blocking methods are interruptible and throw
   * InterruptedException, following java.util.concurrent"; the library's other locks do so "even
   * when the lock is free" ({@code Mutex.lockInterruptibly}, {@code Mutex.tryLock(Duration)},
   * {@code RwLock}, {@code SpinLock.tryLock(Duration)}: "as AQS's acquireInterruptibly"), and so
   * does the anchor, {@code StampedLock.writeLockInterruptibly()} / {@code tryWriteLock(time,
   * unit)} (checked first below). {@code SeqLock.write()}, {@code SeqLock.tryWrite(Duration)} and
   * {@code SeqLocked.write(Consumer)} with the interrupt status set on a free lock take the lock
   * and return normally; on a held lock the same call throws. Whether a pending interrupt is
   * reported thus depends on contention. (SeqLock's own Javadoc says only "interrupted while
   * waiting", so this is a consistency defect: the status is kept, not swallowed.)
   *
   * <p>Schedule: single thread, lock free, interrupt status set before each call. Fails 3 of 3 runs
   * on JDK 17 and on JDK 25.
   */
  @Test
  void fixed_pendingInterruptOnAFreeLockIsNotReportedByInterruptibleWrites() throws Exception {
    StampedLock anchor = new StampedLock();
    Thread.currentThread().interrupt();
    assertThatThrownBy(anchor::writeLockInterruptibly).isInstanceOf(InterruptedException.class);
    Thread.currentThread().interrupt();
    assertThatThrownBy(() -> anchor.tryWriteLock(1, TimeUnit.SECONDS))
        .isInstanceOf(InterruptedException.class);
    assertThat(anchor.isWriteLocked()).isFalse();

    List<String> notThrown = new ArrayList<>();
    SeqLock lock = new SeqLock();
    Thread.currentThread().interrupt();
    try (SeqLock.WriteGuard g = lock.write()) {
      notThrown.add("SeqLock.write() returned " + g);
    } catch (InterruptedException expected) {
      // as StampedLock
    }
    Thread.currentThread().interrupt();
    try (SeqLock.WriteGuard g = lock.tryWrite(Duration.ofSeconds(1))) {
      notThrown.add("SeqLock.tryWrite(1 s) returned " + g);
    } catch (InterruptedException expected) {
      // as StampedLock
    }
    SeqLocked<int[]> cell = new SeqLocked<>(new int[1]);
    Thread.currentThread().interrupt();
    try {
      cell.write(a -> a[0]++);
      notThrown.add("SeqLocked.write ran its function");
    } catch (InterruptedException expected) {
      // as StampedLock
    }
    boolean stillInterrupted = Thread.interrupted(); // clear for the next tests
    assertThat(lock.isWriteLocked()).isFalse();
    assertThat(cell.isWriteLocked()).isFalse();
    assertThat(notThrown)
        .as(
            "interrupt status set on entry must throw InterruptedException as StampedLock and"
                + " weft's Mutex/RwLock/SpinLock do (status kept afterwards: %s)",
            stillInterrupted)
        .isEmpty();
  }

  // ---- held: timeouts -----------------------------------------------------------------------

  /** Control for the virtual-thread defect: on a platform thread "check once" does not park. */
  @Test
  void held_platformTryWriteWithZeroOrNegativeTimeoutDoesNotPark() throws Exception {
    SeqLock lock = new SeqLock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    SeqLock.WriteGuard held = lock.write();
    try {
      Thread t =
          start(
              "review22-platform-zero-timeout",
              failure,
              () -> {
                for (Duration d :
                    new Duration[] {
                      Duration.ZERO, Duration.ofNanos(-1), Duration.ofSeconds(Long.MIN_VALUE)
                    }) {
                  LockSupport.unpark(Thread.currentThread());
                  assertThat(lock.tryWrite(d)).isNull();
                  assertThat(hasPermit()).as("tryWrite(%s) parked", d).isTrue();
                }
              });
      join(t);
    } finally {
      held.close();
    }
    rethrow(failure);
    // On a free lock zero and negative timeouts still take it ("check once").
    try (SeqLock.WriteGuard g = lock.tryWrite(Duration.ofSeconds(Long.MIN_VALUE))) {
      assertThat(g).isNotNull();
    }
    try (SeqLock.WriteGuard g = lock.tryWrite(Duration.ZERO)) {
      assertThat(g).isNotNull();
    }
  }

  /**
   * Huge timeouts do not overflow: {@code tryWrite(Duration.ofSeconds(Long.MAX_VALUE))} and the
   * largest {@code Duration} queue and wait (in the waiting room and in its slot) instead of
   * failing at once; one of them is interrupted there and throws, leaving the other queued; the
   * release hands the lock over; a 1 ns timeout on the held lock fails with null. Everything ends
   * with the room free and empty.
   */
  @Test
  void held_hugeTimeoutsWaitAndOneNanosecondFails() throws Exception {
    SeqLock lock = new SeqLock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicInteger acquired = new AtomicInteger();
    AtomicReference<Throwable> interrupted = new AtomicReference<>();
    Duration max = Duration.ofSeconds(Long.MAX_VALUE, 999_999_999);
    SeqLock.WriteGuard held = lock.write();
    Thread slot;
    Thread queued;
    try {
      slot =
          start(
              "review22-huge-slot",
              failure,
              () -> {
                try (SeqLock.WriteGuard g = lock.tryWrite(Duration.ofSeconds(Long.MAX_VALUE))) {
                  assertThat(g).as("huge timeout gave up").isNotNull();
                  acquired.incrementAndGet();
                }
              });
      awaitParkedOn(slot, lock);
      awaitTrue("slot writer in the room", () -> roomOccupied(lock));
      queued =
          start(
              "review22-huge-queued",
              failure,
              () -> {
                try {
                  SeqLock.WriteGuard g = lock.tryWrite(max);
                  if (g != null) {
                    g.close();
                  }
                  throw new AssertionError("interrupted writer returned " + g);
                } catch (InterruptedException e) {
                  interrupted.set(e);
                }
              });
      awaitParkedOn(queued, lock);
      awaitTrue("second writer queued in the room", () -> roomQueued(lock) == 1);
      AtomicReference<@Nullable Object> oneNano = new AtomicReference<>("unset");
      join(
          start(
              "review22-one-nano", failure, () -> oneNano.set(lock.tryWrite(Duration.ofNanos(1)))));
      assertThat(oneNano.get()).as("tryWrite(1 ns) on a held lock").isNull();
    } catch (Throwable e) {
      held.close();
      throw e;
    }
    queued.interrupt();
    join(queued);
    assertThat(interrupted.get()).isInstanceOf(InterruptedException.class);
    awaitTrue("interrupted writer unlinked", () -> roomQueued(lock) == 0);
    held.close();
    join(slot);
    rethrow(failure);
    assertThat(acquired.get()).isEqualTo(1);
    assertThat(roomOccupied(lock)).isFalse();
    assertThat(lock.isWriteLocked()).isFalse();
  }

  private static boolean roomOccupied(SeqLockCore lock) {
    try {
      WaitingRoom r = room(lock);
      return r != null && r.isOccupied();
    } catch (ReflectiveOperationException e) {
      throw new LinkageError(e.toString(), e);
    }
  }

  private static int roomQueued(SeqLockCore lock) {
    try {
      WaitingRoom r = room(lock);
      return r == null ? 0 : r.queuedNodes();
    } catch (ReflectiveOperationException e) {
      throw new LinkageError(e.toString(), e);
    }
  }

  // ---- held: waiting room with a registered reader ------------------------------------------

  /**
   * A reader registers behind a write; one writer waits in the room's slot, a timed one and an
   * interruptible one queue behind it. The timed one times out and the other is interrupted while
   * the holder still holds the lock. Then the release: the registered reader's pass comes before
   * the slot writer's section (issue 20's bound survives the cancellations), the slot writer then
   * gets the lock, and the room, the slot and the readers' count all end empty.
   */
  @Test
  void held_roomCancellationsBehindARegisteredReaderKeepReaderFirstAndEndEmpty() throws Exception {
    SeqLock lock = new SeqLock();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicInteger order = new AtomicInteger();
    AtomicInteger readerAt = new AtomicInteger();
    AtomicInteger writerAt = new AtomicInteger();
    AtomicReference<@Nullable Object> timedResult = new AtomicReference<>("unset");
    AtomicReference<Throwable> interrupted = new AtomicReference<>();
    CountDownLatch registered = new CountDownLatch(1);
    String readerName = "review22-registered-reader";
    SeqLock.WriteGuard held = lock.write();
    Thread reader;
    Thread slot;
    Thread timed;
    Thread interruptible;
    try (AutoCloseable hook =
        ProtocolWindows.install(
            w -> {
              if (w.equals("seqlock.reader-registered")
                  && Thread.currentThread().getName().equals(readerName)) {
                registered.countDown();
              }
            })) {
      reader =
          start(
              readerName,
              failure,
              () -> {
                int r =
                    lock.readInt(
                        () -> {
                          if (lock.isWriteLocked()) { // the pass under the lock
                            readerAt.compareAndSet(0, order.incrementAndGet());
                          }
                          return 1;
                        });
                assertThat(r).isEqualTo(1);
              });
      assertThat(registered.await(20, TimeUnit.SECONDS)).isTrue();
      awaitParkedOn(reader, lock);
      slot =
          start(
              "review22-slot-writer",
              failure,
              () -> {
                try (SeqLock.WriteGuard g = lock.write()) {
                  writerAt.set(order.incrementAndGet());
                }
              });
      awaitParkedOn(slot, lock);
      awaitTrue("slot writer in the room", () -> roomOccupied(lock));
      timed =
          start(
              "review22-timed-writer",
              failure,
              () -> {
                SeqLock.WriteGuard g = lock.tryWrite(Duration.ofMillis(300));
                timedResult.set(g);
                if (g != null) {
                  g.close();
                }
              });
      awaitTrue("timed writer queued", () -> roomQueued(lock) == 1);
      interruptible =
          start(
              "review22-interrupted-writer",
              failure,
              () -> {
                try {
                  lock.write().close();
                  throw new AssertionError("interrupted writer got the lock");
                } catch (InterruptedException e) {
                  interrupted.set(e);
                }
              });
      awaitTrue("interruptible writer queued", () -> roomQueued(lock) == 2);
      awaitParkedOn(interruptible, lock);
      interruptible.interrupt();
      join(interruptible);
      join(timed); // times out in the room while the lock is still held
      assertThat(timedResult.get()).as("timed writer").isNull();
      assertThat(interrupted.get()).isInstanceOf(InterruptedException.class);
      assertThat(roomQueued(lock)).isZero();
      assertThat(readersWaiting(lock)).isEqualTo(1);
    } finally {
      held.close();
    }
    join(reader);
    join(slot);
    rethrow(failure);
    assertThat(readerAt.get()).as("the registered reader's pass").isEqualTo(1);
    assertThat(writerAt.get()).as("the slot writer's section").isEqualTo(2);
    assertThat(readersWaiting(lock)).isZero();
    assertThat(roomOccupied(lock)).isFalse();
    assertThat(field(lock, "parked")).isNull();
    assertThat(field(lock, "parkedReader")).isNull();
    try (SeqLock.WriteGuard g = lock.tryWrite()) {
      assertThat(g).isNotNull();
    }
  }

  // ---- held: guards -------------------------------------------------------------------------

  /**
   * A stale guard (closed before) closed again while another thread holds a newer write must not
   * end that write, and neither must that newer write's guard closed by a stranger: both throw
   * the documented exception, and the holder's write stays intact until it closes it. Same for
   * {@link SeqCount}. {@code toString} from another thread during the write does not block and
   * names the holder.
   */
  @Test
  void held_staleAndForeignGuardClosesNeverEndAnotherThreadsWrite() throws Exception {
    SeqLock lock = new SeqLock();
    SeqCount count = new SeqCount();
    SeqLock.WriteGuard stale = lock.write();
    stale.close();
    SeqCount.WriteGuard staleCount = count.write();
    staleCount.close();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicReference<SeqLock.@Nullable WriteGuard> theirs = new AtomicReference<>();
    AtomicReference<SeqCount.@Nullable WriteGuard> theirsCount = new AtomicReference<>();
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    Thread holder =
        start(
            "review22-holder",
            failure,
            () -> {
              SeqLock.WriteGuard g = lock.write();
              SeqCount.WriteGuard c = count.write();
              theirs.set(g);
              theirsCount.set(c);
              holding.countDown();
              assertThat(done.await(20, TimeUnit.SECONDS)).isTrue();
              assertThat(lock.isWriteLockedByCurrentThread()).isTrue();
              c.close();
              g.close();
            });
    assertThat(holding.await(20, TimeUnit.SECONDS)).isTrue();
    long seq = lock.seqOpaque();
    assertThatThrownBy(stale::close)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("already closed");
    SeqLock.WriteGuard g = theirs.get();
    assertThat(g).isNotNull();
    assertThatThrownBy(g::close)
        .isInstanceOf(IllegalMonitorStateException.class)
        .hasMessageContaining("does not hold");
    assertThatThrownBy(staleCount::close).isInstanceOf(IllegalStateException.class);
    SeqCount.WriteGuard c = theirsCount.get();
    assertThat(c).isNotNull();
    assertThatThrownBy(c::close).isInstanceOf(IllegalMonitorStateException.class);
    assertThat(lock.isWriteLocked()).isTrue();
    assertThat(count.isWriting()).isTrue();
    assertThat(lock.seqOpaque()).isEqualTo(seq);
    assertThat(lock.toString()).contains("write-locked by review22-holder");
    assertThat(count.toString()).contains("writing");
    assertThat(g.toString()).doesNotContain("closed");
    assertThat(stale.toString()).contains("closed");
    done.countDown();
    join(holder);
    rethrow(failure);
    assertThat(lock.isWriteLocked()).isFalse();
    assertThat(count.isWriting()).isFalse();
    assertThat(g.toString()).contains("closed");
  }

  // ---- held: torn state -----------------------------------------------------------------------

  private int[] items = {1, 2, 3, 4};
  private int size = 4;

  /**
   * "An exception thrown by the read function while a write overlapped (it saw torn state: an
   * index out of range, a null) is discarded and the read retried". The read function reads
   * {@code size}, then (on its first pass only) has a helper thread shrink the array and size by
   * one write, then indexes {@code items[size - 1]} with the stale size: an
   * ArrayIndexOutOfBoundsException on torn state. Every type returns the new consistent value and
   * never the exception; a second read with no write in between throws the same exception type
   * when the state itself is bad (consistent state: propagates).
   */
  @Test
  void held_indexOutOfRangeOnTornStateIsDiscardedByEveryType() throws Exception {
    SeqLock lock = new SeqLock();
    SeqCount count = new SeqCount();
    SeqLocked<int[][]> cell = new SeqLocked<>(new int[][] {{1, 2, 3, 4}});
    AtomicReference<Throwable> failure = new AtomicReference<>();

    AtomicInteger passes = new AtomicInteger();
    int v =
        lock.readInt(
            () -> {
              int n = size;
              if (passes.incrementAndGet() == 1) {
                runOn(failure, () -> {
                  try (SeqLock.WriteGuard w = lock.write()) {
                    items = new int[] {9};
                    size = 1;
                  }
                });
              }
              return items[n - 1];
            });
    assertThat(v).isEqualTo(9);
    assertThat(passes.get()).isEqualTo(2);

    items = new int[] {1, 2, 3, 4};
    size = 4;
    passes.set(0);
    int w =
        count.readInt(
            () -> {
              int n = size;
              if (passes.incrementAndGet() == 1) {
                runOn(failure, () -> {
                  try (SeqCount.WriteGuard g = count.write()) {
                    items = new int[] {8};
                    size = 1;
                  }
                });
              }
              return items[n - 1];
            });
    assertThat(w).isEqualTo(8);
    assertThat(passes.get()).isEqualTo(2);

    passes.set(0);
    int u =
        cell.readInt(
            box -> {
              int[] a = box[0];
              int n = a.length;
              if (passes.incrementAndGet() == 1) {
                runOn(failure, () -> cell.write(b -> b[0] = new int[] {7}));
              }
              return box[0][n - 1];
            });
    assertThat(u).isEqualTo(7);
    assertThat(passes.get()).isEqualTo(2);
    rethrow(failure);

    size = 5; // consistent but bad: the exception is real and propagates
    assertThatThrownBy(() -> lock.readInt(() -> items[size - 1]))
        .isInstanceOf(ArrayIndexOutOfBoundsException.class);
  }

  private static void runOn(AtomicReference<Throwable> failure, Body body) {
    Thread t = start("review22-helper-writer", failure, body);
    try {
      join(t);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }
}
