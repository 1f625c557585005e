package dev.weft;

import dev.weft.Review17bSupport.G;
import dev.weft.Review17bSupport.Rw;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * Review 17b: virtual-thread schedules for {@link RwLock} (or, with the argument {@code jdk} /
 * {@link Review17bVirtualJdkMain}, for {@code ReentrantReadWriteLock}). Run in a forked JVM with
 * one carrier. Exits 0 when every schedule completes; prints one line per schedule.
 */
@SuppressWarnings("try") // guards held only for their scope
final class Review17bVirtualMain {
  private Review17bVirtualMain() {}

  public static void main(String[] args) throws Exception {
    String kind = args.length > 0 ? args[0] : "weft";
    int status = runAll(kind);
    System.exit(status);
  }

  static int runAll(String kind) throws Exception {
    int bad = 0;
    bad += report(kind, "writerBlocksInside", writerBlocksInside(Review17bSupport.of(kind)));
    bad += report(kind, "readerBlocksInside", readerBlocksInside(Review17bSupport.of(kind)));
    bad += report(kind, "timedRetryLoops", timedRetryLoops(Review17bSupport.of(kind)));
    bad += report(kind, "mixedChurn", mixedChurn(Review17bSupport.of(kind)));
    return bad == 0 ? 0 : 1;
  }

  private static int report(String kind, String name, @Nullable String failure) {
    System.out.println(kind + " " + name + ": " + (failure == null ? "ok" : failure));
    return failure == null ? 0 : 1;
  }

  private static Thread v(String name, Runnable r) throws ReflectiveOperationException {
    return SpinLockHandOverReviewTest.startVirtual(name, r);
  }

  private static @Nullable String joinAll(List<Thread> ts, AtomicReference<@Nullable Throwable> f)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
    for (Thread t : ts) {
      long left = deadline - System.nanoTime();
      t.join(Math.max(1L, TimeUnit.NANOSECONDS.toMillis(left)));
    }
    int alive = 0;
    for (Thread t : ts) {
      if (t.isAlive()) {
        alive++;
      }
    }
    if (alive > 0) {
      return alive + " of " + ts.size() + " threads still alive after 15 s";
    }
    return f.get() == null ? null : "failure: " + f.get();
  }

  interface Body {
    void run() throws Exception;
  }

  private static Runnable guarded(AtomicReference<@Nullable Throwable> f, Body b) {
    return () -> {
      try {
        b.run();
      } catch (Throwable t) {
        f.compareAndSet(null, t);
      }
    };
  }

  /** A writer holds the lock and blocks inside on a latch; 100 readers and 10 writers queue. */
  static @Nullable String writerBlocksInside(Rw rw) throws Exception {
    AtomicReference<@Nullable Throwable> f = new AtomicReference<>();
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger done = new AtomicInteger();
    List<Thread> ts = new ArrayList<>();
    ts.add(v("holder", guarded(f, () -> {
      try (G w = rw.write()) {
        holding.countDown();
        if (!release.await(20, TimeUnit.SECONDS)) {
          throw new AssertionError("never released");
        }
      }
    })));
    if (!holding.await(10, TimeUnit.SECONDS)) {
      return "holder never held";
    }
    for (int i = 0; i < 100; i++) {
      ts.add(v("r" + i, guarded(f, () -> {
        try (G g = rw.read()) {
          LockSupport.parkNanos(10_000L);
        }
        done.incrementAndGet();
      })));
    }
    for (int i = 0; i < 10; i++) {
      ts.add(v("w" + i, guarded(f, () -> {
        try (G g = rw.write()) {
          LockSupport.parkNanos(100_000L);
        }
        done.incrementAndGet();
      })));
    }
    ts.add(v("releaser", release::countDown));
    String r = joinAll(ts, f);
    return r != null ? r : done.get() == 110 ? null : "done " + done.get();
  }

  /** A reader holds and blocks inside; a writer queues, then 50 readers queue behind it. */
  static @Nullable String readerBlocksInside(Rw rw) throws Exception {
    AtomicReference<@Nullable Throwable> f = new AtomicReference<>();
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger done = new AtomicInteger();
    List<Thread> ts = new ArrayList<>();
    ts.add(v("holder", guarded(f, () -> {
      try (G g = rw.read()) {
        holding.countDown();
        if (!release.await(20, TimeUnit.SECONDS)) {
          throw new AssertionError("never released");
        }
      }
    })));
    if (!holding.await(10, TimeUnit.SECONDS)) {
      return "holder never held";
    }
    ts.add(v("writer", guarded(f, () -> {
      try (G g = rw.write()) {
        LockSupport.parkNanos(100_000L);
      }
      done.incrementAndGet();
    })));
    for (int i = 0; i < 50; i++) {
      ts.add(v("r" + i, guarded(f, () -> {
        try (G g = rw.read()) {
          LockSupport.parkNanos(10_000L);
        }
        done.incrementAndGet();
      })));
    }
    ts.add(v("releaser", release::countDown));
    String r = joinAll(ts, f);
    return r != null ? r : done.get() == 51 ? null : "done " + done.get();
  }

  /** 8 virtual writers and 8 readers retry 30 µs timed acquisitions until 200 successes each. */
  static @Nullable String timedRetryLoops(Rw rw) throws Exception {
    AtomicReference<@Nullable Throwable> f = new AtomicReference<>();
    AtomicInteger timeouts = new AtomicInteger();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      boolean writer = i % 2 == 0;
      ts.add(v("t" + i, guarded(f, () -> {
        int got = 0;
        while (got < 200) {
          G g = writer ? rw.tryWrite(30_000L) : rw.tryRead(30_000L);
          if (g == null) {
            timeouts.incrementAndGet();
            continue;
          }
          try (g) {
            LockSupport.parkNanos(writer ? 20_000L : 5_000L);
          }
          got++;
        }
      })));
    }
    String r = joinAll(ts, f);
    return r == null ? null : r + " (timeouts " + timeouts.get() + ")";
  }

  /** 64 threads mixing every form, interrupts of interruptible waiters included. */
  static @Nullable String mixedChurn(Rw rw) throws Exception {
    AtomicReference<@Nullable Throwable> f = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      int id = i;
      ts.add(v("m" + i, guarded(f, () -> {
        for (int k = 0; k < 100; k++) {
          G g;
          try {
            g = switch ((id + k) % 6) {
              case 0 -> rw.read();
              case 1 -> rw.write();
              case 2 -> rw.readInterruptibly();
              case 3 -> rw.writeInterruptibly();
              case 4 -> rw.tryRead(50_000L);
              default -> rw.tryWrite(50_000L);
            };
          } catch (InterruptedException e) {
            continue;
          }
          if (g == null) {
            continue;
          }
          try (g) {
            LockSupport.parkNanos(((id + k) & 7) == 0 ? 200_000L : 2_000L);
          }
        }
        Thread.interrupted();
      })));
    }
    // interrupt a few, a few times
    for (int round = 0; round < 20; round++) {
      LockSupport.parkNanos(1_000_000L);
      ts.get((round * 7) % 64).interrupt();
    }
    String r = joinAll(ts, f);
    if (r != null) {
      return r;
    }
    return rw.readers() == 0 && !rw.writeLocked() ? null
        : "left held: readers " + rw.readers() + " writeLocked " + rw.writeLocked();
  }
}
