package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 20: a {@link SeqLock} reader that falls back to the lock gets it before the writer's
 * next write section (bounded reader latency under a continuous writer, as Linux's {@code
 * read_seqbegin_or_lock} gives), and the writers that wait for it are not starved or
 * deadlocked.
 */
@Timeout(60)
@SuppressWarnings("try") // hooks and guards held for their scope only
class SeqLockReaderFirstTest {
  private final SeqLock lock = new SeqLock();
  private long x;
  private long y;
  private final AtomicLong writes = new AtomicLong();

  private static void busy(long nanos) {
    long end = System.nanoTime() + nanos;
    while (System.nanoTime() - end < 0) {
      Thread.onSpinWait();
    }
  }

  /** A writer that writes back to back, with no pause between its sections. */
  private Thread continuousWriter(
      String name, long sectionNanos, AtomicBoolean stop, AtomicReference<Throwable> f) {
    Thread t =
        new Thread(
            () -> {
              try {
                while (!stop.get()) {
                  try (SeqLock.WriteGuard g = lock.write()) {
                    x++;
                    busy(sectionNanos);
                    y++;
                  }
                  writes.incrementAndGet();
                }
              } catch (Throwable e) {
                f.compareAndSet(null, e);
              }
            },
            "test-" + name);
    t.start();
    return t;
  }

  // Before issue 20 the fallback waited in the writers' queue while the writer re-took the lock
  // the moment it released it: thousands of writes could pass between the reader's decision to
  // take the lock and its pass. Now a reader that finds the lock held by a writer registers, and
  // from then on at most one more section starts (a writer that read the count just before the
  // registration). Slips are counted from the registration only: a reader that finds the lock
  // free takes it without registering, and a preemption between its decision and its CAS lets
  // writes through that the protocol does not bound (when this test counted from the decision,
  // a CI run on JDK 25 saw one slip of 3, most likely that way).
  @Test
  void aFallbackReaderGetsTheLockBeforeTheWritersNextSection() throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Thread reader = Thread.currentThread();
    AtomicBoolean fellBack = new AtomicBoolean();
    AtomicLong atRegistration = new AtomicLong(-1);
    List<Long> slips = new ArrayList<>();
    Thread w = continuousWriter("storm-writer", 2_000, stop, failure);
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (Thread.currentThread() == reader) {
                if (name.equals("seqlock.read-fallback")) {
                  fellBack.set(true);
                } else if (name.equals("seqlock.reader-registered")) {
                  atRegistration.set(writes.get());
                }
              }
            })) {
      int fallbacks = 0;
      for (int i = 0; i < 400 && slips.size() < 30; i++) {
        fellBack.set(false);
        atRegistration.set(-1);
        long[] seen = new long[1];
        long[] pair =
            lock.read(
                () -> {
                  if (lock.reader == reader) {
                    seen[0] = writes.get(); // the pass under the lock, held by this reader
                  } else {
                    busy(20_000); // long enough for a write to overlap every optimistic pass
                  }
                  return new long[] {x, y};
                });
        assertThat(pair[0]).as("a validated read sees one write").isEqualTo(pair[1]);
        if (fellBack.get()) {
          fallbacks++;
        }
        if (atRegistration.get() >= 0) {
          // Writes completed between the reader's registration and its pass: the section in
          // progress then (counted when it ends), and at most one writer that read the count
          // just before the registration.
          slips.add(seen[0] - atRegistration.get());
        }
      }
      assertThat(fallbacks).as("reads that fell back under the writer storm").isPositive();
      // The storm writer holds the lock nearly all the time, so most fallbacks find it held and
      // register (before issue 20 none did: this keeps the test failing on that code).
      assertThat(slips).as("fallbacks that registered behind a writer").isNotEmpty();
    } finally {
      stop.set(true);
      w.join(TimeUnit.SECONDS.toMillis(30));
    }
    assertThat(w.isAlive()).isFalse();
    assertThat(failure.get()).isNull();
    assertThat(slips).as("writes between a reader's fallback and its pass").allMatch(n -> n <= 2);
  }

  // beginRead waiting out a writer registers too: a writer that arrives while the reader waits
  // for the holder's release does not go first.
  @Test
  void beginReadWaitingOutAWriterGoesBeforeTheNextWriter() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long s0 = lock.beginRead();
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder =
        new Thread(
            () -> {
              try (SeqLock.WriteGuard g = lock.write()) {
                held.countDown();
                release.await();
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              }
            },
            "test-holder");
    AtomicLong stamp = new AtomicLong(-1);
    Thread reader =
        new Thread(() -> stamp.set(lock.beginRead()), "test-begin-reader");
    Thread next =
        new Thread(
            () -> {
              try (SeqLock.WriteGuard g = lock.write()) {
                x++;
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              }
            },
            "test-next-writer");
    holder.start();
    try {
      assertThat(held.await(20, TimeUnit.SECONDS)).isTrue();
      reader.start();
      awaitBlocked(reader); // past its spins, waiting for the holder's release
      next.start();
      awaitBlocked(next);
    } finally {
      release.countDown();
      for (Thread t : new Thread[] {holder, reader, next}) {
        t.join(TimeUnit.SECONDS.toMillis(30));
        assertThat(t.isAlive()).as("%s still running", t.getName()).isFalse();
      }
    }
    assertThat(failure.get()).isNull();
    // The holder's write made s0 + 2; had the next writer gone first, the stamp would be s0 + 4.
    assertThat(stamp.get()).isEqualTo(s0 + 2);
  }

  // Writers, timed writers and readers that fall back, together: nobody starves, nobody
  // deadlocks (a writer parked in the waiting room while a reader waits must still be woken),
  // and every validated read is consistent.
  @Test
  void writersAndFallbackReadersTogetherMakeProgress() throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong reads = new AtomicLong();
    AtomicLong timedWrites = new AtomicLong();
    List<Thread> ts = new ArrayList<>();
    ts.add(continuousWriter("w0", 0, stop, failure));
    ts.add(continuousWriter("w1", 1_000, stop, failure));
    Thread timed =
        new Thread(
            () -> {
              try {
                while (!stop.get()) {
                  SeqLock.WriteGuard g = lock.tryWrite(Duration.ofMillis(5));
                  if (g != null) {
                    try (g) {
                      x++;
                      y++;
                    }
                    timedWrites.incrementAndGet();
                  }
                }
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              }
            },
            "test-timed-writer");
    timed.start();
    ts.add(timed);
    for (int r = 0; r < 3; r++) {
      Thread t =
          new Thread(
              () -> {
                try {
                  while (!stop.get()) {
                    long[] p =
                        lock.read(
                            () -> {
                              busy(5_000);
                              return new long[] {x, y};
                            });
                    if (p[0] != p[1]) {
                      throw new AssertionError("torn read " + p[0] + "/" + p[1]);
                    }
                    long s = lock.beginRead();
                    long a = x;
                    long b = y;
                    if (lock.validate(s) && a != b) {
                      throw new AssertionError("torn validated read " + a + "/" + b);
                    }
                    reads.incrementAndGet();
                  }
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              },
              "test-reader-" + r);
      t.start();
      ts.add(t);
    }
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1500);
    long writesBefore = writes.get();
    while (System.nanoTime() - until < 0 && failure.get() == null) {
      Thread.sleep(20); // the run's length; progress is asserted below, not waited for
    }
    stop.set(true);
    for (Thread t : ts) {
      t.join(TimeUnit.SECONDS.toMillis(30));
      assertThat(t.isAlive()).as("%s still running", t.getName()).isFalse();
    }
    assertThat(failure.get()).isNull();
    assertThat(writes.get() - writesBefore).as("writes").isPositive();
    assertThat(reads.get()).as("reads").isPositive();
    assertThat(timedWrites.get()).as("timed writes").isPositive();
    assertThat(x).isEqualTo(y);
    assertThat(lock.isWriteLocked()).isFalse();
  }
}
