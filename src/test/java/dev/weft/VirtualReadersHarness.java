package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.StampedLock;

/**
 * Session 15's virtual-thread harnesses (JDK 21+): many virtual readers against one writer that
 * parks inside some of its sections, and a JVM forked with one virtual-thread carrier. Used by
 * {@link Review15Test}, {@link Review15TestHeld} and {@link TicketLockVirtualThreadTest}.
 */
final class VirtualReadersHarness {
  private VirtualReadersHarness() {}

  /** A sequence-lock-like object under test: one consistent read, one write section. */
  interface ReadWrite {
    long read(long[] data);

    void write(Runnable section) throws InterruptedException;
  }

  static ReadWrite of(SeqLock l) {
    return new ReadWrite() {
      @Override
      public long read(long[] data) {
        return l.readLong(() -> data[0] + data[1]);
      }

      @Override
      @SuppressWarnings("try") // the guard is only closed
      public void write(Runnable section) throws InterruptedException {
        try (SeqLock.WriteGuard g = l.write()) {
          section.run();
        }
      }
    };
  }

  static ReadWrite of(SeqCount c) {
    return new ReadWrite() {
      @Override
      public long read(long[] data) {
        return c.readLong(() -> data[0] + data[1]);
      }

      @Override
      @SuppressWarnings("try") // the guard is only closed
      public void write(Runnable section) {
        try (SeqCount.WriteGuard g = c.write()) {
          section.run();
        }
      }
    };
  }

  /** {@code StampedLock} used as the JDK does it: optimistic read, read-lock fallback. */
  static ReadWrite of(StampedLock l) {
    return new ReadWrite() {
      @Override
      public long read(long[] data) {
        long s = l.tryOptimisticRead();
        long v = data[0] + data[1];
        if (!l.validate(s)) {
          s = l.readLock();
          try {
            v = data[0] + data[1];
          } finally {
            l.unlockRead(s);
          }
        }
        return v;
      }

      @Override
      public void write(Runnable section) {
        long s = l.writeLock();
        try {
          section.run();
        } finally {
          l.unlockWrite(s);
        }
      }
    };
  }

  /**
   * 64 virtual readers (each read followed by a 20 µs park) against one virtual writer doing
   * {@code writes} writes of two fields, every 16th parking 1 µs inside its section.
   *
   * @return the writer's time in ms, or {@code limitMillis} if it did not finish by then (the
   *     readers and the writer are stopped and joined before this returns)
   */
  static long writerBehindReaders(ReadWrite lock, int writes, long limitMillis) throws Exception {
    long[] data = new long[2];
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong sink = new AtomicLong();
    CountDownLatch done = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      threads.add(
          SpinLockHandOverReviewTest.startVirtual(
              "reader-" + i,
              () -> {
                long x = 0;
                while (!stop.get()) {
                  x += lock.read(data);
                  LockSupport.parkNanos(20_000L);
                }
                sink.addAndGet(x);
              }));
    }
    long start = System.nanoTime();
    threads.add(
        SpinLockHandOverReviewTest.startVirtual(
            "writer",
            () -> {
              try {
                for (int i = 0; i < writes && !stop.get(); i++) {
                  boolean park = (i & 15) == 0;
                  lock.write(
                      () -> {
                        data[0]++;
                        if (park) {
                          LockSupport.parkNanos(1_000L);
                        }
                        data[1]--;
                      });
                }
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              } finally {
                done.countDown();
              }
            }));
    boolean finished = done.await(limitMillis, TimeUnit.MILLISECONDS);
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    stop.set(true);
    VirtualThreadReviewSupport.joinAll(threads);
    if (failure.get() != null) {
      throw new AssertionError("the writer failed", failure.get());
    }
    return finished ? millis : limitMillis;
  }

  /**
   * Runs {@code main} in a JVM started with {@code -Djdk.virtualThreadScheduler.parallelism=1}
   * and this JVM's class path; asserts it ends within 50 s with exit status 0.
   *
   * @return its output (stdout and stderr)
   */
  static String forkOneCarrier(Class<?> main) throws Exception {
    Process p =
        new ProcessBuilder(
                System.getProperty("java.home") + "/bin/java",
                "-Djdk.virtualThreadScheduler.parallelism=1",
                "-cp",
                System.getProperty("java.class.path"),
                main.getName())
            .redirectErrorStream(true)
            .start();
    try {
      assertThat(p.waitFor(50, TimeUnit.SECONDS)).as("the forked JVM ends").isTrue();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.exitValue()).as(out).isZero();
      return out;
    } finally {
      p.destroyForcibly();
    }
  }
}
