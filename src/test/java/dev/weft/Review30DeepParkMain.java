package dev.weft;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * Review 30 (a virtual thread that parks deep in its stack), run in a fresh JVM per scenario by
 * Review30DeepParkTest (JDK 21+; a stranded virtual thread cannot be ended, hence the fresh JVM
 * and System.exit).
 *
 * <p>On Temurin 25 a virtual thread about 10,000 compiled frames deep gets StackOverflowError
 * from Continuation.doYield, inside LockSupport.park, although its stack has room left (the
 * "probe" scenario shows it: a bare parkNanos at that depth). Each scenario makes a virtual
 * thread make its first park of a primitive's wait at that depth, then checks, from shallow
 * threads and with bounded waits, what state the primitive was left in.
 *
 * <p>Prints "RESULT &lt;scenario&gt; held|defect|nosoe ..." and exits 0 (held), 1 (defect), 3
 * (the park did not overflow: nothing shown) or 2 (harness error). Arguments: scenario, depth.
 */
final class Review30DeepParkMain {
  private Review30DeepParkMain() {}

  interface Body {
    void run() throws Exception;
  }

  interface Check {
    boolean test() throws Exception;
  }

  static int depth = 12_000;

  /** Recurses n frames, then runs the body. */
  static void dive(int n, Body b) throws Exception {
    if (n <= 0) {
      b.run();
      return;
    }
    dive(n - 1, b);
  }

  static Thread startVirtual(Runnable r) throws ReflectiveOperationException {
    return (Thread) Thread.class.getMethod("startVirtualThread", Runnable.class).invoke(null, r);
  }

  static Thread startPlatform(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  static String describe(@Nullable Throwable e) {
    if (e == null) {
      return "returned";
    }
    StringBuilder sb = new StringBuilder(e.toString());
    StackTraceElement[] st = e.getStackTrace();
    int shown = 0;
    for (int i = 0; i < st.length && shown < 8; i++) {
      String s = st[i].toString();
      if (s.contains("dev.weft") || s.contains("locks.") || i < 2) {
        sb.append(" <- ").append(s);
        shown++;
      }
    }
    return sb.toString();
  }

  /** Polls (bounded, parkNanos steps) until the check holds or the time is up. */
  static boolean within(long millis, Check c) throws Exception {
    long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    while (!c.test()) {
      if (System.nanoTime() - end >= 0) {
        return false;
      }
      LockSupport.parkNanos(1_000_000L);
    }
    return true;
  }

  static boolean waitingOrDone(Thread t) {
    Thread.State s = t.getState();
    return s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING
        || s == Thread.State.TERMINATED;
  }

  /** The victim: a virtual thread that runs the body at the depth; its outcome. */
  static final class Victim {
    final CountDownLatch done = new CountDownLatch(1);
    final AtomicReference<@Nullable Throwable> thrown = new AtomicReference<>();
    final AtomicReference<String> note = new AtomicReference<>("");
    final AtomicBoolean entered = new AtomicBoolean();
    volatile int used = -1;
    final Thread thread;

    Victim(Body body) throws ReflectiveOperationException {
      thread = startVirtual(() -> {
        try {
          // The dive itself may overflow before the body starts (it ran interpreted, or was
          // compiled with larger frames): nothing changed then, so dive again, less deep.
          for (int d = depth; ; d -= 1000) {
            entered.set(false);
            try {
              dive(d, () -> {
                entered.set(true);
                body.run();
              });
              used = d;
              return;
            } catch (StackOverflowError e) {
              if (entered.get() || d <= 2000) {
                used = d;
                throw e;
              }
            }
          }
        } catch (Throwable e) {
          thrown.set(e);
        } finally {
          done.countDown();
        }
      });
    }

    /** Whether the body ended with a StackOverflowError from a park (Continuation.doYield). */
    boolean soeFromPark() {
      Throwable e = thrown.get();
      if (!(e instanceof StackOverflowError)) {
        return false;
      }
      for (StackTraceElement s : e.getStackTrace()) {
        if (s.getMethodName().equals("doYield") || s.getMethodName().startsWith("park")) {
          return true;
        }
      }
      return false;
    }

    String outcome() {
      return "(depth " + used + ") " + describe(thrown.get()) + note.get();
    }
  }

  /** An exclusive lock as the scenarios see it. */
  interface X {
    void lock() throws Exception;

    void unlock() throws Exception;

    /** Acquires within the time on a fresh thread's behalf, and releases at once. */
    boolean tryLock(long millis) throws Exception;

    boolean heldByMe();
  }

  static X of(Lock l) {
    return new X() {
      @Override
      @SuppressWarnings("LockNotBeforeTry")
      public void lock() {
        l.lock();
      }

      @Override
      public void unlock() {
        l.unlock();
      }

      @Override
      public boolean tryLock(long millis) throws InterruptedException {
        if (l.tryLock(millis, TimeUnit.MILLISECONDS)) {
          l.unlock();
          return true;
        }
        return false;
      }

      @Override
      public boolean heldByMe() {
        if (l instanceof ReentrantLock r) {
          return r.isHeldByCurrentThread();
        }
        if (l instanceof TicketLock t) {
          return t.isHeldByCurrentThread();
        }
        if (l instanceof SpinLock s) {
          return s.isHeldByCurrentThread();
        }
        return false;
      }
    };
  }

  @SuppressWarnings("ThreadLocalUsage") // one per lock, on purpose
  static X ofMutex(Mutex<Integer> m) {
    ThreadLocal<Mutex.@Nullable Guard<Integer>> g = new ThreadLocal<>();
    return new X() {
      @Override
      public void lock() {
        g.set(m.lock());
      }

      @Override
      public void unlock() {
        Mutex.@Nullable Guard<Integer> x = g.get();
        g.remove();
        if (x != null) {
          x.close();
        }
      }

      @Override
      public boolean tryLock(long millis) throws InterruptedException {
        Mutex.@Nullable Guard<Integer> x = m.tryLock(Duration.ofMillis(millis));
        if (x == null) {
          return false;
        }
        x.close();
        return true;
      }

      @Override
      public boolean heldByMe() {
        return m.isHeldByCurrentThread();
      }
    };
  }

  @SuppressWarnings("ThreadLocalUsage") // one per lock, on purpose
  static X ofRwWrite(RwLock<Integer> rw) {
    ThreadLocal<RwLock.@Nullable WriteGuard<Integer>> g = new ThreadLocal<>();
    return new X() {
      @Override
      public void lock() {
        g.set(rw.write());
      }

      @Override
      public void unlock() {
        RwLock.@Nullable WriteGuard<Integer> x = g.get();
        g.remove();
        if (x != null) {
          x.close();
        }
      }

      @Override
      public boolean tryLock(long millis) throws InterruptedException {
        RwLock.@Nullable WriteGuard<Integer> x = rw.tryWrite(Duration.ofMillis(millis));
        if (x == null) {
          return false;
        }
        x.close();
        return true;
      }

      @Override
      public boolean heldByMe() {
        return false;
      }
    };
  }

  /** The write lock held by the holder; the victim (and the next waiter) take the read lock. */
  @SuppressWarnings("ThreadLocalUsage") // one per lock, on purpose
  static X ofRwRead(RwLock<Integer> rw) {
    ThreadLocal<RwLock.@Nullable ReadGuard<Integer>> g = new ThreadLocal<>();
    X w = ofRwWrite(rw);
    return new X() {
      boolean first = true; // the holder's acquisition is the write lock

      @Override
      public synchronized void lock() throws Exception {
        if (first) {
          first = false;
          w.lock();
          return;
        }
        g.set(rw.read());
      }

      @Override
      public void unlock() throws Exception {
        RwLock.@Nullable ReadGuard<Integer> x = g.get();
        g.remove();
        if (x != null) {
          x.close();
        } else {
          w.unlock();
        }
      }

      @Override
      public boolean tryLock(long millis) throws Exception {
        return w.tryLock(millis);
      }

      @Override
      public boolean heldByMe() {
        return false;
      }
    };
  }

  @SuppressWarnings("ThreadLocalUsage") // one per lock, on purpose
  static X ofSeq(SeqLock s) {
    ThreadLocal<SeqLock.@Nullable WriteGuard> g = new ThreadLocal<>();
    return new X() {
      @Override
      public void lock() throws InterruptedException {
        g.set(s.write());
      }

      @Override
      public void unlock() {
        SeqLock.@Nullable WriteGuard x = g.get();
        g.remove();
        if (x != null) {
          x.close();
        }
      }

      @Override
      public boolean tryLock(long millis) throws InterruptedException {
        SeqLock.@Nullable WriteGuard x = s.tryWrite(Duration.ofMillis(millis));
        if (x == null) {
          return false;
        }
        x.close();
        return true;
      }

      @Override
      public boolean heldByMe() {
        return s.isWriteLockedByCurrentThread();
      }
    };
  }

  /**
   * A platform holder holds the lock; the victim's lock() parks deep; then a platform waiter
   * queues; the holder releases. Held: the waiter gets the lock, and the lock is free after.
   */
  static int lockScenario(String name, X x) throws Exception {
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = startPlatform("holder", () -> {
      try {
        x.lock();
        holding.countDown();
        release.await();
        x.unlock();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    holding.await();
    Victim v = new Victim(() -> {
      x.lock();
      x.unlock();
    });
    boolean victimDone = v.done.await(5, TimeUnit.SECONDS);
    CountDownLatch nextGot = new CountDownLatch(1);
    Thread next = startPlatform("next", () -> {
      try {
        x.lock();
        nextGot.countDown();
        x.unlock();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    within(2000, () -> waitingOrDone(next));
    release.countDown();
    boolean nextOk = nextGot.await(5, TimeUnit.SECONDS);
    holder.join(5000);
    boolean free = x.tryLock(2000);
    boolean victimEnded = v.done.await(5, TimeUnit.SECONDS);
    String state = "victim=" + (victimDone ? v.outcome() : "parked (" + v.thread.getState() + ")")
        + "; next waiter acquired=" + nextOk + "; lock free after=" + free
        + "; victim ended=" + victimEnded + " " + v.thread.getState();
    return report(name, v, nextOk && free && victimEnded, state);
  }

  private static void v0(AtomicReference<String> r, Throwable e) {
    r.set(describe(e));
  }

  static int report(String name, Victim v, boolean ok, String state) {
    String verdict = !v.soeFromPark() ? (ok ? "nosoe" : "defect") : ok ? "held" : "defect";
    System.out.println("RESULT " + name + " " + verdict + " depth=" + depth + " " + state);
    return verdict.equals("held") ? 0 : verdict.equals("nosoe") ? 3 : 1;
  }

  /**
   * Lock/Condition: the victim takes the lock (uncontended) and awaits deep; the await's park
   * overflows. Checked: whether the lock is held by the victim when the error leaves await
   * (the Condition contract), whether the lock is free after the victim's finally released
   * it (if held), and whether a signal reaches a later platform waiter.
   */
  @SuppressWarnings("WaitNotInLoop") // the first park is the one under test
  static int conditionScenario(String name, Lock l, Condition c) throws Exception {
    X x = of(l);
    AtomicBoolean heldAtThrow = new AtomicBoolean();
    Victim v = new Victim(() -> {
      l.lock();
      try {
        c.await();
      } catch (Throwable e) {
        heldAtThrow.set(x.heldByMe());
        throw e;
      } finally {
        if (x.heldByMe()) {
          l.unlock();
        }
      }
    });
    boolean victimDone = v.done.await(5, TimeUnit.SECONDS);
    boolean free = x.tryLock(2000);
    AtomicBoolean go = new AtomicBoolean();
    CountDownLatch woke = new CountDownLatch(1);
    CountDownLatch waiting = new CountDownLatch(1);
    Thread next = startPlatform("next", () -> {
      l.lock();
      try {
        waiting.countDown();
        while (!go.get()) {
          c.await();
        }
        woke.countDown();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        l.unlock();
      }
    });
    waiting.await();
    within(2000, () -> waitingOrDone(next));
    l.lock();
    try {
      go.set(true);
      c.signal();
    } finally {
      l.unlock();
    }
    boolean signalled = woke.await(5, TimeUnit.SECONDS);
    boolean freeAfter = x.tryLock(2000);
    String state = "victim=" + (victimDone ? v.outcome() : "parked (" + v.thread.getState() + ")")
        + "; held when the error left await=" + heldAtThrow.get() + "; lock free after="
        + free + "; signal reached the next waiter=" + signalled + "; lock free at end="
        + freeAfter;
    state += " flags=" + heldAtThrow.get() + "," + free + "," + signalled + "," + freeAfter;
    return report(name, v, heldAtThrow.get() && free && signalled && freeAfter, state);
  }

  /** Condvar.awaitWhile on a Mutex guard, with notifyOne to a later waiter. */
  static int condvarScenario(String name, boolean timed) throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    Condvar cv = new Condvar();
    AtomicBoolean heldAtThrow = new AtomicBoolean();
    AtomicBoolean guardOpen = new AtomicBoolean();
    AtomicReference<String> closeThrew = new AtomicReference<>("no");
    Victim v = new Victim(() -> {
      Mutex.Guard<Integer> g = m.lock();
      try {
        if (timed) {
          cv.awaitWhile(g, n -> n == 0, Duration.ofSeconds(30));
        } else {
          cv.awaitWhile(g, n -> n == 0);
        }
      } catch (Throwable e) {
        heldAtThrow.set(m.isHeldByCurrentThread());
        guardOpen.set(g.isOpen());
        throw e;
      } finally {
        try {
          g.close(); // as try-with-resources would
        } catch (Throwable e) {
          v0(closeThrew, e);
        }
      }
    });
    boolean victimDone = v.done.await(5, TimeUnit.SECONDS);
    X x = ofMutex(m);
    boolean free = x.tryLock(2000);
    CountDownLatch woke = new CountDownLatch(1);
    CountDownLatch waiting = new CountDownLatch(1);
    Thread next = startPlatform("next", () -> {
      try (Mutex.Guard<Integer> g = m.lock()) {
        waiting.countDown();
        cv.awaitWhile(g, n -> n == 0);
        woke.countDown();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    waiting.await();
    within(2000, () -> waitingOrDone(next));
    try (Mutex.Guard<Integer> g = m.lock()) {
      g.set(1);
      cv.notifyOne();
    }
    boolean signalled = woke.await(5, TimeUnit.SECONDS);
    boolean freeAfter = x.tryLock(2000);
    String state = "victim=" + (victimDone ? v.outcome() : "parked (" + v.thread.getState() + ")")
        + "; held when the error left awaitWhile=" + heldAtThrow.get() + " guard open="
        + guardOpen.get() + " its close threw=" + closeThrew.get() + "; mutex free after=" + free
        + "; notifyOne reached the next waiter=" + signalled + "; free at end=" + freeAfter;
    state += " flags=" + heldAtThrow.get() + "," + free + "," + signalled + "," + freeAfter;
    return report(name, v, heldAtThrow.get() && free && signalled && freeAfter, state);
  }

  /** Mutex.lockWhen / awaitThen deep; then a later platform lockWhen must be woken by update. */
  static int lockWhenScenario(String name, boolean awaitThen) throws Exception {
    Mutex<Integer> m = new Mutex<>(0);
    AtomicBoolean heldAtThrow = new AtomicBoolean();
    Victim v = new Victim(() -> {
      try {
        if (awaitThen) {
          m.awaitThen(n -> n > 0, n -> n);
        } else {
          m.lockWhen(n -> n > 0).close();
        }
      } catch (Throwable e) {
        heldAtThrow.set(m.isHeldByCurrentThread());
        throw e;
      }
    });
    boolean victimDone = v.done.await(5, TimeUnit.SECONDS);
    boolean free = ofMutex(m).tryLock(2000);
    CountDownLatch woke = new CountDownLatch(1);
    Thread next = startPlatform("next", () -> {
      try {
        Mutex.Guard<Integer> g = m.lockWhen(n -> n > 0);
        woke.countDown();
        g.close();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    within(2000, () -> waitingOrDone(next));
    m.update(n -> 1);
    boolean signalled = woke.await(5, TimeUnit.SECONDS);
    boolean freeAfter = ofMutex(m).tryLock(2000);
    String state = "victim=" + (victimDone ? v.outcome() : "parked (" + v.thread.getState() + ")")
        + "; mutex held by the victim when the error left=" + heldAtThrow.get()
        + "; free after=" + free + "; the change woke the next waiter=" + signalled
        + "; free at end=" + freeAfter + "; " + m;
    return report(name, v, !heldAtThrow.get() && free && signalled && freeAfter, state);
  }

  /** OnceCell.getOrInit / await / Lazy.get waiting for a platform initializer. */
  static int onceScenario(String name, int kind) throws Exception {
    CountDownLatch initializing = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    OnceCell<String> cell = new OnceCell<>();
    java.util.function.Supplier<String> init = () -> {
      initializing.countDown();
      try {
        finish.await();
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
      return "v";
    };
    Lazy<String> lazy = Lazy.of(init);
    Thread initializer = startPlatform("init", () -> {
      if (kind == 2) {
        lazy.get();
      } else {
        cell.getOrInit(init);
      }
    });
    initializing.await();
    AtomicReference<String> got = new AtomicReference<>("");
    Victim v = new Victim(() -> {
      if (kind == 0) {
        got.set(cell.getOrInit(() -> "victim's"));
      } else if (kind == 1) {
        got.set(cell.await());
      } else {
        got.set(lazy.get());
      }
    });
    boolean victimDone = v.done.await(5, TimeUnit.SECONDS);
    CountDownLatch nextGot = new CountDownLatch(1);
    AtomicReference<String> nextValue = new AtomicReference<>("");
    Thread next = startPlatform("next", () -> {
      nextValue.set(kind == 2 ? lazy.get() : cell.getOrInit(() -> "next's"));
      nextGot.countDown();
    });
    within(2000, () -> waitingOrDone(next));
    finish.countDown();
    initializer.join(5000);
    boolean nextOk = nextGot.await(5, TimeUnit.SECONDS) && nextValue.get().equals("v");
    String state = "victim=" + (victimDone ? v.outcome() : "parked (" + v.thread.getState() + ")")
        + " got=" + got.get() + "; next waiter got=" + nextValue.get() + " ok=" + nextOk
        + "; initialized=" + (kind == 2 ? lazy.isInitialized() : cell.isSet());
    return report(name, v, nextOk, state);
  }

  /**
   * ScopedThread.join (kind 0) and Scope.close (kind 1) deep in a virtual owner; the task waits
   * for a latch. Checked for close: whether the error left close while the task still ran.
   */
  @SuppressWarnings("Finally") // the close's own error is the one under test
  static int scopeScenario(String name, int kind) throws Exception {
    CountDownLatch taskRunning = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    AtomicBoolean taskDone = new AtomicBoolean();
    AtomicBoolean runningAtThrow = new AtomicBoolean();
    AtomicReference<@Nullable Thread> taskThread = new AtomicReference<>();
    AtomicBoolean joinReturned = new AtomicBoolean();
    AtomicBoolean closeReturned = new AtomicBoolean();
    AtomicBoolean doneAtClose = new AtomicBoolean();
    AtomicReference<@Nullable Throwable> joinErr = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> closeErr = new AtomicReference<>();
    Victim v = new Victim(() -> {
      Scope scope = kind >= 2 ? Scope.builder().virtualThreads().open() : Scope.open();
      try {
        ScopedThread<String> t = scope.spawn(() -> {
          taskThread.set(Thread.currentThread());
          taskRunning.countDown();
          finish.await();
          taskDone.set(true);
          return "t";
        });
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
        while (taskRunning.getCount() > 0 && System.nanoTime() - end < 0) {
          Thread.onSpinWait(); // no park before the one under test
        }
        if (kind == 0 || kind == 3) {
          try {
            t.join();
            joinReturned.set(true);
          } catch (Throwable e) {
            runningAtThrow.set(!taskDone.get());
            joinErr.set(e); // no string building here: its first linkage is deep
            throw e;
          }
        }
      } finally {
        try {
          scope.close();
          closeReturned.set(true);
          doneAtClose.set(taskDone.get());
        } catch (Throwable e) {
          runningAtThrow.set(!taskDone.get());
          doneAtClose.set(taskDone.get());
          closeErr.set(e);
          throw e;
        }
      }
    });
    boolean victimDone = v.done.await(5, TimeUnit.SECONDS);
    boolean stillRunning = taskThread.get() != null && !taskDone.get();
    finish.countDown();
    boolean victimEnded = v.done.await(5, TimeUnit.SECONDS);
    String state = "victim=" + (victimDone ? v.outcome() : "parked (" + v.thread.getState() + ")")
        + "; join " + (kind == 1 || kind == 2 ? "not called" : joinReturned.get() ? "returned"
            : "threw " + describe(joinErr.get()))
        + "; close " + (closeReturned.get() ? "returned" : "threw " + describe(closeErr.get()))
        + ", task done when close ended=" + doneAtClose.get() + "; task still running when the owner's scope code ended="
        + stillRunning + "; victim ended=" + victimEnded;
    return report(name, v, !(victimDone && stillRunning) && victimEnded, state);
  }

  /** Parallel.map whose caller must wait for a worker blocked in f. */
  static int parallelScenario(String name) throws Exception {
    CountDownLatch workerIn = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    AtomicInteger workersRunning = new AtomicInteger();
    AtomicReference<@Nullable Thread> caller = new AtomicReference<>();
    List<Integer> data = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      data.add(i);
    }
    Victim v = new Victim(() -> {
      caller.set(Thread.currentThread());
      Parallel.map(data, i -> {
        if (Thread.currentThread() == caller.get()) {
          long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
          while (workerIn.getCount() > 0 && System.nanoTime() - end < 0) {
            Thread.onSpinWait(); // no park: the caller must not park here
          }
          return i;
        }
        workersRunning.incrementAndGet();
        workerIn.countDown();
        try {
          finish.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          workersRunning.decrementAndGet();
        }
        return i;
      }, Parallel.options().threads(2).newThreadsPerCall().minChunkSize(1)
          .sequentialCutoff(Duration.ZERO));
    });
    boolean victimDone = v.done.await(5, TimeUnit.SECONDS);
    int running = workersRunning.get();
    finish.countDown();
    boolean victimEnded = v.done.await(5, TimeUnit.SECONDS);
    String state = "victim=" + (victimDone ? v.outcome() : "parked (" + v.thread.getState() + ")")
        + "; worker entered f=" + (workerIn.getCount() == 0) + "; workers still in f when map "
        + "ended=" + (victimDone ? running : -1) + "; victim ended=" + victimEnded;
    return report(name, v, !(victimDone && running > 0) && victimEnded, state);
  }

  /** Loads and links what the scenarios use, shallow (class loading deep overflows too). */
  static void warm() throws Exception {
    try (Scope scope = Scope.open()) {
      ScopedThread<String> t = scope.spawn(() -> "w");
      t.join();
    }
    try (Scope scope = Scope.builder().virtualThreads().open()) {
      ScopedThread<String> t = scope.spawn(() -> "w");
      t.join();
    }
    List<Integer> data = List.of(1, 2, 3, 4);
    Parallel.map(data, i -> i, Parallel.options().threads(2).newThreadsPerCall().minChunkSize(1)
        .sequentialCutoff(Duration.ZERO));
    CountDownLatch l = new CountDownLatch(1);
    l.countDown();
    l.await();
    describe(new StackOverflowError());
  }

  static String probe(int n) throws Exception {
    int saved = depth;
    depth = n;
    try {
      Victim v = new Victim(() -> LockSupport.parkNanos(1_000_000L));
      if (!v.done.await(5, TimeUnit.SECONDS)) {
        return "stuck";
      }
      return v.outcome();
    } finally {
      depth = saved;
    }
  }

  public static void main(String[] args) throws Exception {
    String scenario = args[0];
    if (args.length > 1) {
      depth = Integer.parseInt(args[1]);
    }
    int code;
    try {
      // warm the dive (compiled frames) and show the JVM's behaviour at the depth
      String p = probe(depth);
      for (int i = 0; i < 3 && !scenario.equals("probe"); i++) {
        p = probe(depth);
      }
      System.out.println("probe depth=" + depth + ": " + p);
      warm();
      code = switch (scenario) {
        case "probe" -> 0;
        case "reentrantLock" -> lockScenario(scenario, of(new ReentrantLock()));
        case "mutexLock" -> lockScenario(scenario, ofMutex(new Mutex<>(0)));
        case "ticketLock" -> lockScenario(scenario, of(new TicketLock()));
        case "spinLock" -> lockScenario(scenario, of(new SpinLock()));
        case "rwWrite" -> lockScenario(scenario, ofRwWrite(new RwLock<>(0)));
        case "rwRead" -> lockScenario(scenario, ofRwRead(new RwLock<>(0)));
        case "seqWrite" -> lockScenario(scenario, ofSeq(new SeqLock()));
        case "reentrantCondition" -> {
          ReentrantLock l = new ReentrantLock();
          yield conditionScenario(scenario, l, l.newCondition());
        }
        case "ticketCondition" -> {
          TicketLock l = new TicketLock();
          yield conditionScenario(scenario, l, l.newCondition());
        }
        case "spinCondition" -> {
          SpinLock l = new SpinLock();
          yield conditionScenario(scenario, l, l.newCondition());
        }
        case "condvar" -> condvarScenario(scenario, false);
        case "condvarTimed" -> condvarScenario(scenario, true);
        case "lockWhen" -> lockWhenScenario(scenario, false);
        case "awaitThen" -> lockWhenScenario(scenario, true);
        case "onceGetOrInit" -> onceScenario(scenario, 0);
        case "onceAwait" -> onceScenario(scenario, 1);
        case "lazyGet" -> onceScenario(scenario, 2);
        case "scopeJoin" -> scopeScenario(scenario, 0);
        case "scopeClose" -> scopeScenario(scenario, 1);
        case "scopeCloseVirtualTasks" -> scopeScenario(scenario, 2);
        case "scopeJoinVirtualTasks" -> scopeScenario(scenario, 3);
        case "parallelMap" -> parallelScenario(scenario);
        default -> throw new IllegalArgumentException(scenario);
      };
    } catch (Throwable e) {
      System.out.println("RESULT " + scenario + " harness-error " + describe(e));
      code = 2;
    }
    System.out.flush();
    System.exit(code);
  }
}
