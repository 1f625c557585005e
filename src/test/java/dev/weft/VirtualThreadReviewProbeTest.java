package dev.weft;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.StampedLock;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Exploration only (prints timings; skipped unless the environment variable PROBE is set, e.g.
 * {@code PROBE=seq,stamped TRYMICROS=20}; see the session-12 virtual-thread review).
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@SuppressWarnings("try")
class VirtualThreadReviewProbeTest {
  static String env(String k, String d) {
    String v = System.getenv(k);
    return v == null ? d : v;
  }

  @Test
  void probe() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21);
    String p = env("PROBE", "");
    Assumptions.assumeTrue(!p.isEmpty());
    int threads = Integer.parseInt(env("THREADS", "64"));
    int each = Integer.parseInt(env("EACH", "300"));
    long tryMicros = Long.parseLong(env("TRYMICROS", "100"));
    if (p.startsWith("rd-")) {
      for (String name : p.substring(3).split(",", -1)) {
        System.out.println("PROBE rd " + name + ": " + readers(name));
      }
      return;
    }
    if (p.startsWith("pc-")) {
      for (String name : p.substring(3).split(",", -1)) {
        System.out.println("PROBE pc " + name + ": " + producerConsumer(name));
      }
      return;
    }
    for (String name : p.split(",", -1)) {
      VirtualThreadReviewSupport.XLock l =
          switch (name) {
            case "ticket" -> VirtualThreadReviewSupport.of(new TicketLock());
            case "spin" -> VirtualThreadReviewSupport.of(new SpinLock());
            case "rl" -> VirtualThreadReviewSupport.of(new ReentrantLock());
            case "fairrl" -> VirtualThreadReviewSupport.of(new ReentrantLock(true));
            case "seq" -> VirtualThreadReviewSupport.of(new SeqLock());
            case "stamped" -> VirtualThreadReviewSupport.of(new StampedLock());
            default -> throw new IllegalArgumentException(name);
          };
      System.out.println(
          "PROBE " + name + ": "
              + VirtualThreadReviewSupport.retryLoops(l, threads, each, tryMicros, 15_000));
    }
  }

  static String producerConsumer(String name) throws Exception {
    int consumers = Integer.parseInt(env("CONSUMERS", "32"));
    int producers = Integer.parseInt(env("PRODUCERS", "4"));
    int items = Integer.parseInt(env("ITEMS", "20000"));
    Mutex<long[]> m = new Mutex<>(new long[1]);
    java.util.concurrent.locks.ReentrantLock rl = new java.util.concurrent.locks.ReentrantLock();
    java.util.concurrent.locks.Condition nonEmpty = rl.newCondition();
    long[] q = new long[1];
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicLong consumed = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    java.util.List<Thread> ts = new java.util.ArrayList<>();
    int perConsumer = items / consumers;
    int perProducer = perConsumer * consumers / producers;
    for (int i = 0; i < consumers; i++) {
      ts.add(SpinLockHandOverReviewTest.startVirtual("c" + i, () -> {
        try {
          go.await();
          for (int k = 0; k < perConsumer && !stop.get(); k++) {
            if (name.equals("weft")) {
              java.time.Duration d = java.time.Duration.ofMillis(100);
              Mutex.Guard<long[]> g;
              while ((g = m.lockWhen(v -> v[0] > 0, d)) == null) {
                if (stop.get()) {
                  return;
                }
              }
              try {
                g.get()[0]--;
              } finally {
                g.close();
              }
            } else {
              rl.lock();
              try {
                while (q[0] == 0) {
                  if (stop.get()) {
                    return;
                  }
                  nonEmpty.await(100, TimeUnit.MILLISECONDS);
                }
                q[0]--;
              } finally {
                rl.unlock();
              }
            }
            consumed.incrementAndGet();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
    }
    for (int i = 0; i < producers; i++) {
      ts.add(SpinLockHandOverReviewTest.startVirtual("p" + i, () -> {
        try {
          go.await();
          for (int k = 0; k < perProducer && !stop.get(); k++) {
            if (name.equals("weft")) {
              try (Mutex.Guard<long[]> g = m.lock()) {
                g.get()[0]++;
              }
            } else {
              rl.lock();
              try {
                q[0]++;
                nonEmpty.signal();
              } finally {
                rl.unlock();
              }
            }
            if ((k & 15) == 0) {
              java.util.concurrent.locks.LockSupport.parkNanos(1_000L);
            }
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
    }
    long start = System.nanoTime();
    go.countDown();
    long end = start + TimeUnit.SECONDS.toNanos(15);
    while (consumed.get() < (long) perConsumer * consumers && System.nanoTime() < end) {
      Thread.sleep(1);
    }
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    stop.set(true);
    VirtualThreadReviewSupport.joinAll(ts);
    return consumed.get() + "/" + ((long) perConsumer * consumers) + " in " + ms + " ms";
  }

  static long shared; // written under the lock

  static String readers(String name) throws Exception {
    int readers = Integer.parseInt(env("READERS", "62"));
    int writers = Integer.parseInt(env("WRITERS", "2"));
    int writes = Integer.parseInt(env("WRITES", "3000"));
    long readPark = Long.parseLong(env("READPARK", "10000"));
    SeqLock seq = new SeqLock();
    SeqCount sc = new SeqCount();
    StampedLock sl = new StampedLock();
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicLong written = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.atomic.AtomicLong reads = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.locks.ReentrantLock scWriters = new java.util.concurrent.locks.ReentrantLock();
    java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
    java.util.List<Thread> ts = new java.util.ArrayList<>();
    for (int i = 0; i < readers; i++) {
      ts.add(SpinLockHandOverReviewTest.startVirtual("r" + i, () -> {
        try {
          go.await();
          long n = 0;
          while (!stop.get()) {
            switch (name) {
              case "seq" -> n += seq.readLong(() -> shared);
              case "sc" -> n += sc.readLong(() -> shared);
              default -> {
                long st = sl.tryOptimisticRead();
                long v = shared;
                if (!sl.validate(st)) {
                  st = sl.readLock();
                  try {
                    v = shared;
                  } finally {
                    sl.unlockRead(st);
                  }
                }
                n += v;
              }
            }
            reads.incrementAndGet();
            java.util.concurrent.locks.LockSupport.parkNanos(readPark);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
    }
    for (int i = 0; i < writers; i++) {
      ts.add(SpinLockHandOverReviewTest.startVirtual("w" + i, () -> {
        try {
          go.await();
          for (int k = 0; k < writes && !stop.get(); k++) {
            boolean park = (k & 15) == 0;
            switch (name) {
              case "seq" -> {
                try (SeqLock.WriteGuard g = seq.write()) {
                  shared++;
                  if (park) {
                    java.util.concurrent.locks.LockSupport.parkNanos(1_000L);
                  }
                }
              }
              case "sc" -> {
                scWriters.lock();
                try (SeqCount.WriteGuard g = sc.write()) {
                  shared++;
                  if (park) {
                    java.util.concurrent.locks.LockSupport.parkNanos(1_000L);
                  }
                } finally {
                  scWriters.unlock();
                }
              }
              default -> {
                long st = sl.writeLock();
                try {
                  shared++;
                  if (park) {
                    java.util.concurrent.locks.LockSupport.parkNanos(1_000L);
                  }
                } finally {
                  sl.unlockWrite(st);
                }
              }
            }
            written.incrementAndGet();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
    }
    long start = System.nanoTime();
    go.countDown();
    long end = start + TimeUnit.SECONDS.toNanos(15);
    while (written.get() < (long) writes * writers && System.nanoTime() < end) {
      Thread.sleep(1);
    }
    long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    stop.set(true);
    VirtualThreadReviewSupport.joinAll(ts);
    return written.get() + "/" + ((long) writes * writers) + " writes in " + ms + " ms, reads " + reads.get();
  }
}
