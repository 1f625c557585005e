package dev.weft;

import static dev.weft.JfrAdversarialTestSupport.awaitParked;
import static dev.weft.JfrAdversarialTestSupport.fork;
import static dev.weft.JfrAdversarialTestSupport.join;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.security.Permission;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import jdk.jfr.Event;
import jdk.jfr.FlightRecorder;
import jdk.jfr.FlightRecorderListener;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.Recording;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Second adversarial review of weft's JFR events (issue 21), after 58fdad5: attacks that held
 * (all pass). Each comment names the guarantee and the schedule tried.
 */
@Timeout(value = 90, unit = TimeUnit.SECONDS)
@SuppressWarnings({"try", "LockNotBeforeTry"})
class JfrReReviewTestHeld {

  // ---- class initialisation: SpinLock.<clinit> loads the event classes under its init lock --

  /**
   * Attack: since 58fdad5 every class with events calls WeftJfr.prepareIfRecording from its
   * static initialiser, so a thread initialising SpinLock loads and registers weft's event
   * classes while it holds SpinLock's class-initialisation lock. If that registration needed a
   * lock of the recorder that user code can hold (a FlightRecorderListener's
   * recorderInitialized runs under the recorder's initialisation lock; a beginChunk periodic
   * hook runs inside Recording.start), a hook that uses a SpinLock would wait for SpinLock's
   * initialisation while the initialising thread waits for the hook's lock: a class-init
   * deadlock that did not exist before (then the classes loaded at a slow path, under no class
   * lock). Schedule (fresh JVM, latches): the hook runs, lets test-init start SpinLock's
   * initialisation, waits until test-init has ended or blocked, then uses a SpinLock itself. A
   * watchdog ends the JVM with status 3 after 15 s. Held: test-init initialises SpinLock
   * (event classes included) while the hook holds the recorder's lock, both ways, 3 of 3 runs.
   */
  @Test
  void aRecorderInitialisedListenerThatUsesAWeftLockDoesNotDeadlockWithSpinLocksInitialiser()
      throws Exception {
    String out = fork(InitDeadlockMain.class, "-Dtest.mode=listener");
    assertThat(out)
        .contains("in hook: test-init TERMINATED") // initialised while the hook held the lock
        .contains("weft events registered: true")
        .contains("hook done")
        .contains("OK");
  }

  @Test
  void aBeginChunkPeriodicHookThatUsesAWeftLockDoesNotDeadlockWithSpinLocksInitialiser()
      throws Exception {
    String out = fork(InitDeadlockMain.class, "-Dtest.mode=periodic");
    assertThat(out)
        .contains("in hook: test-init TERMINATED")
        .contains("weft events registered: true")
        .contains("hook done")
        .contains("OK");
  }

  /** Run in a fresh JVM (SpinLock not yet initialised) by the two tests above. */
  static final class InitDeadlockMain {
    private InitDeadlockMain() {}

    @Name("test.weft.Periodic")
    @Period("beginChunk")
    static final class Periodic extends Event {}

    private static volatile boolean started;

    public static void main(String[] args) throws Exception {
      CountDownLatch inHook = new CountDownLatch(1);
      Thread init =
          new Thread(
              () -> {
                try {
                  inHook.await();
                } catch (InterruptedException e) {
                  return;
                }
                started = true;
                new SpinLock(); // the first use: SpinLock.<clinit>, with the recorder initialised
                System.out.println("test-init initialised SpinLock");
              },
              "test-init");
      init.setDaemon(true);
      Thread dog =
          new Thread(
              () -> {
                try {
                  Thread.sleep(15_000); // a watchdog, not a wait for a result
                } catch (InterruptedException e) {
                  return;
                }
                System.out.println("DEADLOCK: test-init " + init.getState());
                for (StackTraceElement s : init.getStackTrace()) {
                  System.out.println("  at " + s);
                }
                Runtime.getRuntime().halt(3);
              },
              "test-dog");
      dog.setDaemon(true);
      dog.start();
      init.start();
      Runnable hook =
          () -> {
            inHook.countDown();
            while (!started) {
              Thread.onSpinWait();
            }
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
            long stuckSince = 0L; // nanoTime when test-init was first seen blocked, or 0
            while (init.isAlive() && System.nanoTime() - end < 0) {
              Thread.State s = init.getState();
              if (s == Thread.State.BLOCKED || s == Thread.State.WAITING) {
                // Stuck on something this hook holds only if it stays so: loading a class can
                // block test-init for a moment on a lock another thread holds (seen once under
                // load, session 20: "in hook: test-init BLOCKED", then it initialised).
                if (stuckSince == 0L) {
                  stuckSince = System.nanoTime();
                } else if (System.nanoTime() - stuckSince > TimeUnit.MILLISECONDS.toNanos(500)) {
                  break;
                }
              } else {
                stuckSince = 0L;
              }
              Thread.onSpinWait();
            }
            System.out.println("in hook: test-init " + init.getState());
            System.out.println(
                "weft events registered: "
                    + FlightRecorder.getFlightRecorder().getEventTypes().stream()
                        .anyMatch(t -> t.getName().equals("dev.weft.LockContended")));
            SpinLock l = new SpinLock(); // the hook uses a weft lock
            l.lock();
            l.unlock();
            System.out.println("hook done");
          };
      if ("listener".equals(System.getProperty("test.mode"))) {
        FlightRecorder.addListener(
            new FlightRecorderListener() {
              @Override
              public void recorderInitialized(FlightRecorder recorder) {
                hook.run();
              }
            });
        try (Recording r = new Recording()) {
          r.start();
          r.stop();
        }
      } else {
        FlightRecorder.addPeriodicEvent(Periodic.class, hook);
        try (Recording r = new Recording()) {
          r.enable(Periodic.class);
          r.start();
          r.stop();
        }
      }
      init.join();
      System.out.println("OK");
    }
  }

  // ---- a security manager that withholds FlightRecorderPermission --------------------------

  /**
   * Attack: WeftJfr asks FlightRecorder.isInitialized() in every static initialiser with events
   * and at every slow path; if that checked FlightRecorderPermission (the default policy grants
   * it to no application code), weft's classes would fail to initialise, or its slow paths
   * throw, under a security manager (JDK 17 still supports one). Schedule (fresh JVM): a
   * security manager that denies only FlightRecorderPermission, then first use of SpinLock,
   * Mutex and Lazy, and one contended SpinLock acquisition. Held: 3 of 3 runs.
   */
  @Test
  void aSecurityManagerWithoutFlightRecorderPermissionLeavesWeftWorking() throws Exception {
    assumeTrue(
        Runtime.version().feature() < 24,
        "a Security Manager cannot be enabled from JDK 24 on (JEP 486)");
    String out = fork(NoJfrPermissionMain.class, "-Djava.security.manager=allow");
    assertThat(out).contains("contended OK").contains("Mutex OK").contains("Lazy OK");
  }

  /** Run in a fresh JVM by the test above. */
  static final class NoJfrPermissionMain {
    private NoJfrPermissionMain() {}

    @SuppressWarnings("removal")
    public static void main(String[] args) throws Exception {
      System.setSecurityManager(
          new SecurityManager() {
            @Override
            public void checkPermission(Permission p) {
              if (p instanceof jdk.jfr.FlightRecorderPermission) {
                throw new SecurityException("no JFR: " + p);
              }
            }

            @Override
            public void checkPermission(Permission p, Object context) {
              checkPermission(p);
            }
          });
      SpinLock s = new SpinLock();
      s.lock();
      Thread t =
          new Thread(
              () -> {
                s.lock();
                s.unlock();
              },
              "test-waiter");
      t.start();
      while (t.isAlive()
          && t.getState() != Thread.State.WAITING
          && t.getState() != Thread.State.TIMED_WAITING) {
        Thread.onSpinWait();
      }
      s.unlock();
      t.join();
      System.out.println("contended OK");
      try (var g = new Mutex<>(1).lock()) {
        System.out.println("Mutex OK " + g.get());
      }
      System.out.println("Lazy OK " + Lazy.of(() -> "v").get());
    }
  }

  // ---- RwLock.read's fast path against ReentrantReadWriteLock's read lock -------------------

  /** What a reader did while one reader held the lock and a writer was queued behind it. */
  private static String readerBehindQueuedWriter(Lock read, Lock write) throws Exception {
    AtomicReference<Throwable> err = new AtomicReference<>();
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch letGo = new CountDownLatch(1);
    Thread first =
        new Thread(
            () -> {
              read.lock();
              try {
                held.countDown();
                JfrAdversarialTestSupport.await(letGo);
              } finally {
                read.unlock();
              }
            },
            "test-first-reader");
    Thread writer =
        new Thread(
            () -> {
              write.lock();
              write.unlock();
            },
            "test-writer");
    Thread reader =
        new Thread(
            () -> {
              try {
                read.lock();
                read.unlock();
              } catch (Throwable t) {
                err.set(t);
              }
            },
            "test-reader");
    try {
      first.start();
      JfrAdversarialTestSupport.await(held);
      writer.start();
      awaitParked(writer);
      reader.start();
      // The reader either gets the read lock at once (barging past the queued writer) and
      // ends, or queues behind the writer and parks.
      while (reader.isAlive()
          && reader.getState() != Thread.State.WAITING
          && reader.getState() != Thread.State.TIMED_WAITING) {
        Thread.onSpinWait();
      }
      String what = reader.isAlive() ? "waited" : "barged";
      letGo.countDown();
      return what;
    } finally {
      letGo.countDown();
      join(first, writer, reader);
      assertThat(err.get()).isNull();
    }
  }

  /**
   * Attack: RwLock.read()'s fast path is now {@code !hasQueuedThreads() && tryLock()}; a plain
   * tryLock would barge past a queued writer, which ReentrantReadWriteLock's non-fair
   * readLock().lock() does not. Schedule (thread states, no sleeps): a reader holds; a writer
   * queues (parked); a new reader calls read(). Compared with the JDK's lock in the same
   * schedule: both make the new reader wait behind the writer. Held: 3 of 3 runs.
   */
  @Test
  void aNewReaderWaitsBehindAQueuedWriterAsReentrantReadWriteLockDoes() throws Exception {
    ReentrantReadWriteLock jdk = new ReentrantReadWriteLock();
    String jdkDid = readerBehindQueuedWriter(jdk.readLock(), jdk.writeLock());
    RwLock<Integer> rw = new RwLock<>(0);
    String weftDid = readerBehindQueuedWriter(rwRead(rw), rwWrite(rw));
    assertThat(jdkDid).isEqualTo("waited");
    assertThat(weftDid).isEqualTo(jdkDid);
  }

  /** RwLock's read side as a Lock (lock/unlock on the same thread only). */
  @SuppressWarnings("ThreadLocalUsage") // one per lock, used by the few threads of one test
  private static Lock rwRead(RwLock<Integer> rw) {
    ThreadLocal<RwLock.ReadGuard<Integer>> g = new ThreadLocal<>();
    return new GuardLock(() -> g.set(rw.read()), () -> g.get().close());
  }

  @SuppressWarnings("ThreadLocalUsage")
  private static Lock rwWrite(RwLock<Integer> rw) {
    ThreadLocal<RwLock.WriteGuard<Integer>> g = new ThreadLocal<>();
    return new GuardLock(() -> g.set(rw.write()), () -> g.get().close());
  }

  /** Just lock() and unlock(); the rest is not used here. */
  private static final class GuardLock implements Lock {
    private final Runnable lock;
    private final Runnable unlock;

    GuardLock(Runnable lock, Runnable unlock) {
      this.lock = lock;
      this.unlock = unlock;
    }

    @Override
    public void lock() {
      lock.run();
    }

    @Override
    public void unlock() {
      unlock.run();
    }

    @Override
    public void lockInterruptibly() {
      throw new UnsupportedOperationException();
    }

    @Override
    public boolean tryLock() {
      throw new UnsupportedOperationException();
    }

    @Override
    public boolean tryLock(long time, TimeUnit unit) {
      throw new UnsupportedOperationException();
    }

    @Override
    public java.util.concurrent.locks.Condition newCondition() {
      throw new UnsupportedOperationException();
    }
  }
}
