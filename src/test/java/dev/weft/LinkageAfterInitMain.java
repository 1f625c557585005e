package dev.weft;

import java.io.File;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;

/**
 * Forked by {@link LinkageAfterInitTest} with {@code
 * -Djava.lang.invoke.MethodHandle.TRACE_METHOD_LINKAGE=true}, which makes the JDK print a line
 * each time a signature-polymorphic call site ({@code VarHandle.compareAndSet} and the like) is
 * linked. It initializes every class of the core, prints {@code MARK}, then runs the slow paths
 * of every primitive once: contended acquisitions that park, timeouts, interrupts, condition
 * waits and signals, a seqlock reader's fallback, cell waiters, a failing and a cancelled
 * {@code Parallel} call, a failing and a timed-out scope. A core call site linked after {@code
 * MARK} is one that a first run links, which allocates and takes stack: in a full heap or near
 * the stack's end it throws inside a protocol window (reviews 26 and 31). Prints {@code END}.
 */
final class LinkageAfterInitMain {
  private LinkageAfterInitMain() {}

  @SuppressWarnings("SystemOut")
  public static void main(String[] args) throws Exception {
    for (String name : coreClassNames()) {
      Class.forName(name, true, LinkageAfterInitMain.class.getClassLoader());
    }
    // The harness's own first runs, before the mark.
    waitParked(Thread.currentThread(), 0);
    System.out.println("MARK");
    System.out.flush();
    locks(new SpinLock());
    locks(new TicketLock());
    mutex();
    rwLock();
    seqLock();
    cells();
    parallel();
    scope();
    System.out.println("END");
    System.out.flush();
    Runtime.getRuntime().halt(0);
  }

  /** The binary names of the core's classes, from the directory or jar they were loaded from. */
  private static List<String> coreClassNames() throws URISyntaxException {
    File root = new File(Parallel.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    File dir = new File(root, "dev/weft");
    List<String> names = new ArrayList<>();
    String[] files = dir.list();
    if (files == null) {
      throw new IllegalStateException("core classes not in a directory: " + root);
    }
    for (String f : files) {
      if (f.endsWith(".class") && !f.equals("module-info.class")) {
        names.add("dev.weft." + f.substring(0, f.length() - ".class".length()));
      }
    }
    return names;
  }

  /** Waits until {@code t} is parked (or {@code limitMs} passes: 0 for a no-op first run). */
  private static void waitParked(Thread t, long limitMs) {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limitMs);
    while (System.nanoTime() - end < 0) {
      Thread.State s = t.getState();
      if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING) {
        return;
      }
      LockSupport.parkNanos(100_000L);
    }
  }

  private static Thread start(Runnable r) {
    Thread t = new Thread(r, "linkage-probe");
    t.setDaemon(true);
    t.start();
    return t;
  }

  /** Contended lock(), a timed tryLock that times out, an interrupt, a condition round trip. */
  @SuppressWarnings({"LockNotBeforeTry", "WaitNotInLoop"}) // a probe: each step runs once
  private static void locks(Lock lock) throws Exception {
    lock.lock();
    Thread waiter = start(() -> {
      lock.lock();
      lock.unlock();
    });
    Thread timed = start(() -> {
      try {
        if (lock.tryLock(5, TimeUnit.MILLISECONDS)) {
          lock.unlock();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    Thread interrupted = start(() -> {
      try {
        lock.lockInterruptibly();
        lock.unlock();
      } catch (InterruptedException expected) {
        // the probe's interrupt
      }
    });
    waitParked(waiter, 2_000);
    waitParked(interrupted, 2_000);
    interrupted.interrupt();
    interrupted.join(5_000);
    timed.join(5_000);
    lock.unlock();
    waiter.join(5_000);
    Condition c = lock.newCondition();
    CountDownLatch awaiting = new CountDownLatch(1);
    Thread cw = start(() -> {
      lock.lock();
      try {
        awaiting.countDown();
        c.await(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        lock.unlock();
      }
    });
    awaiting.await(5, TimeUnit.SECONDS);
    waitParked(cw, 2_000);
    lock.lock();
    try {
      c.signal();
    } finally {
      lock.unlock();
    }
    cw.join(5_000);
    lock.lock();
    try {
      c.await(1, TimeUnit.MILLISECONDS); // times out
    } finally {
      lock.unlock();
    }
  }

  /** A contended lock, lockWhen woken by an update, a Condvar round trip, a timed lockWhen. */
  private static void mutex() throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    Thread w = start(() -> {
      try (Mutex.Guard<Integer> g = m.lockWhen(v -> v >= 1)) {
        g.set(g.get() + 1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    Thread c = start(() -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        cv.awaitWhile(g, v -> v < 2);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    waitParked(w, 2_000);
    waitParked(c, 2_000);
    m.update(v -> v + 1);
    w.join(5_000);
    cv.notifyAllWaiters();
    c.join(5_000);
    try (Mutex.Guard<Integer> g = m.lockWhen(v -> v > 100, Duration.ofMillis(2))) {
      if (g != null) {
        throw new IllegalStateException("ready?");
      }
    }
    Mutex.Guard<Integer> held = m.lock();
    Thread contended = start(() -> m.update(v -> v + 1));
    waitParked(contended, 2_000);
    held.close();
    contended.join(5_000);
  }

  private static void rwLock() throws Exception {
    RwLock<int[]> rw = new RwLock<>(new int[1]);
    RwLock.WriteGuard<int[]> wg = rw.write();
    Thread reader = start(() -> {
      try (RwLock.ReadGuard<int[]> g = rw.read()) {
        g.get();
      }
    });
    waitParked(reader, 2_000);
    wg.close();
    reader.join(5_000);
    RwLock.ReadGuard<int[]> rg = rw.read();
    Thread writer = start(() -> {
      try (RwLock.WriteGuard<int[]> g = rw.write()) {
        g.get()[0]++;
      }
    });
    waitParked(writer, 2_000);
    rg.close();
    writer.join(5_000);
  }

  /** A reader's fallback behind a writer, a second writer that parks, a timed write. */
  private static void seqLock() throws Exception {
    SeqLock l = new SeqLock();
    SeqLock.WriteGuard g = l.writeUninterruptibly();
    AtomicInteger read = new AtomicInteger();
    Thread reader = start(() -> read.set(l.readInt(() -> 1)));
    Thread writer = start(() -> l.writeUninterruptibly().close());
    waitParked(reader, 2_000);
    waitParked(writer, 2_000);
    g.close();
    reader.join(5_000);
    writer.join(5_000);
    SeqLock.WriteGuard again = l.writeUninterruptibly();
    try {
      Thread timed = start(() -> {
        try {
          SeqLock.WriteGuard t = l.tryWrite(Duration.ofMillis(2));
          if (t != null) {
            t.close();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      timed.join(5_000);
    } finally {
      again.close();
    }
  }

  /** A cell's waiters behind a slow initializer, a failing initializer, a Lazy. */
  private static void cells() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    Thread init = start(() -> cell.getOrInit(() -> {
      inside.countDown();
      try {
        finish.await(5, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      return "v";
    }));
    inside.await(5, TimeUnit.SECONDS);
    Thread waiter = start(() -> {
      try {
        cell.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    waitParked(waiter, 2_000);
    finish.countDown();
    init.join(5_000);
    waiter.join(5_000);
    Lazy<String> failing = Lazy.of(() -> {
      throw new IllegalStateException("probe");
    });
    try {
      failing.get();
    } catch (RuntimeException expected) {
      // the probe's failure
    }
  }

  /** A call whose function fails, and one whose caller is interrupted while it waits. */
  private static void parallel() throws Exception {
    Parallel.Options split = Parallel.options().threads(2).sequentialCutoff(Duration.ZERO);
    List<Integer> in = new ArrayList<>();
    for (int i = 0; i < 64; i++) {
      in.add(i);
    }
    try {
      Parallel.map(in, i -> {
        if (i == 40) {
          throw new IllegalStateException("probe");
        }
        LockSupport.parkNanos(100_000L);
        return i;
      }, split);
    } catch (TaskFailedException expected) {
      // the probe's failure
    }
    Thread caller = Thread.currentThread();
    Thread interrupter = start(() -> {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
      caller.interrupt();
    });
    try {
      Parallel.forEach(in, i -> LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)), split);
    } catch (java.util.concurrent.CancellationException expected) {
      // interrupted
    }
    interrupter.join(5_000);
    Thread.interrupted();
  }

  /** A scope whose task fails, one whose deadline passes, a join that waits. */
  private static void scope() throws Exception {
    try {
      Scope.call(s -> {
        ScopedThread<Integer> slow = s.spawn(() -> {
          Thread.sleep(5);
          return 1;
        });
        s.spawn(() -> {
          throw new IllegalStateException("probe");
        });
        return slow.join();
      });
    } catch (TaskFailedException expected) {
      // the probe's failure
    }
    try {
      Scope.builder().timeout(Duration.ofMillis(5)).run(s -> {
        s.spawn(() -> {
          Thread.sleep(10_000);
          return null;
        });
      });
    } catch (ScopeTimeoutException expected) {
      // the probe's deadline
    }
  }
}
