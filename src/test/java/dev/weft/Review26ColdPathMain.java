package dev.weft;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.Condition;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Run in a fresh JVM by {@code Review26ColdPathTest}: the JVM's first run of one weft slow path
 * (the argument) happens at every depth of the last 400 frames of a thread's stack; then, at the
 * top of a stack, the same operation and one other of the same primitive must still work. Exits
 * 0 if they do, 1 if not (the output says why), 3 on a setup error.
 *
 * <p>With {@code probe} as the second argument it runs the operation once at the top instead,
 * between two marks, so that {@code -Xlog:class+init} shows which classes it initializes.
 *
 * <p>Harness rules (see ColdLinkMain): no lambdas, method references or string concatenation
 * anywhere that runs deep; every JDK class the harness itself uses is initialized at the top; the
 * primitive's own class is initialized at the top (a class first initialized deep fails for
 * good, the README's stated limit); the operation under test is never run at the top before the
 * sweep.
 */
@SuppressWarnings({"CheckReturnValue", "ReturnValueIgnored", "LockNotBeforeTry", "try",
    "WaitNotInLoop", "StaticAssignmentOfThrowable", "NonAtomicVolatileUpdate"}) // a probe, not a pattern
final class Review26ColdPathMain {
  static final String MARK = "---- op from here ----";
  static final String DONE = "---- op done ----";

  private static final Duration MS1 = Duration.ofMillis(1);
  private static final Duration S10 = Duration.ofSeconds(10);
  private static final List<Integer> DATA = List.of(1, 2, 3, 4, 5, 6, 7, 8);

  private static String op = "";
  private static int bottom = -1;
  private static int deepRuns;
  private static int overflows;
  private static int deepestOk = -1;
  private static int leaks;
  private static int window = 400;
  private static volatile @Nullable Throwable lastDeep;

  private static SpinLock spin = new SpinLock();
  private static TicketLock ticket = new TicketLock();
  private static Mutex<int[]> mutex = new Mutex<>(new int[1]);
  private static Condvar condvar = new Condvar();
  private static RwLock<int[]> rw = new RwLock<>(new int[1]);
  private static SeqLock seq = new SeqLock();
  private static OnceCell<String> cell = new OnceCell<>();
  private static SpinLock first = new SpinLock();
  private static SpinLock second = new SpinLock();
  private static volatile int reports;
  private static @Nullable Holder holder;
  private static Parallel.@Nullable Options options;

  private Review26ColdPathMain() {}

  public static void main(String[] args) throws Exception {
    op = args[0];
    boolean probe = args.length > 1 && args[1].equals("probe");
    boolean top = args.length > 1 && args[1].equals("top");
    if (args.length > 1 && !probe && !top) {
      window = Integer.parseInt(args[1]);
    }
    // JDK and weft classes the harness uses, at the top (printed without concatenation).
    System.out.println(MS1);
    System.out.println(new TimeoutException());
    System.out.println(TimeUnit.MILLISECONDS);
    System.out.println(DATA);
    Class.forName("dev.weft.Scope");
    Class.forName("dev.weft.Parallel");
    Class.forName("dev.weft.Lazy");
    System.out.println(spin);
    setup();
    if (probe) {
      System.out.println(MARK);
      try {
        once();
      } catch (Throwable e) {
        System.out.println(e);
      }
      System.out.println(DONE);
      System.exit(0);
    }
    if (!top) {
      Thread t = new Thread(null, new Dive(), "deep", 256 * 1024);
      t.start();
      t.join();
    }
    System.out.println("bottom " + bottom + ", deep runs " + deepRuns + ", overflows " + overflows
        + ", deepest run without an overflow " + deepestOk + ", leaked locks given back " + leaks
        + ", last deep: " + lastDeep);
    int rc = 0;
    try {
      check();
      System.out.println("works after the sweep");
    } catch (Throwable e) {
      System.out.println("failed after the sweep: " + e);
      e.printStackTrace(System.out);
      rc = 1;
    }
    Holder h = holder;
    if (h != null) {
      h.release();
    }
    System.exit(rc);
  }

  // ------------------------------------------------------------------ setup, once, check

  private static void setup() throws Exception {
    switch (op) {
      case "spin" -> holder = new Holder(new SpinHold(spin));
      case "ticket" -> holder = new Holder(new SpinHold(ticket));
      case "mutex" -> holder = new Holder(new MutexHold());
      case "rw" -> holder = new Holder(new RwHold());
      case "seq" -> holder = new Holder(new SeqHold());
      case "cellAwait" -> holder = new Holder(new CellHold());
      case "parallelFactory" ->
          options = Parallel.options().threads(2).threadFactory(new Factory())
              .sequentialCutoff(Duration.ZERO).minChunkSize(1);
      case "parallel", "parallelFail" ->
          options = Parallel.options().threads(2).sequentialCutoff(Duration.ZERO)
              .minChunkSize(1);
      case "lockOrderEdge" -> LockOrder.enable(LockOrder.Mode.THROW);
      case "lockOrderLog" -> {
        LockOrder.enable(LockOrder.Mode.LOG);
        nested(first, second); // records first -> second here; the sweep reverses it
      }
      case "lockOrderLogSink" -> {
        LockOrder.enable(LockOrder.Mode.LOG);
        LockOrder.sinkForTests(new CountingSink());
        nested(new SpinLock(), new SpinLock()); // the sink's path, once, at the top
        SpinLock c = new SpinLock();
        SpinLock d = new SpinLock();
        nested(c, d);
        nested(d, c); // one report at the top: the reporting path is warm
        nested(first, second); // the sweep reverses it
        reports = 0;
      }
      default -> {
        // nothing to set up
      }
    }
    Holder h = holder;
    if (h != null) {
      h.start();
      h.awaitHeld();
    }
  }

  /** The operation in a deep frame: anything it throws is caught by the caller. */
  private static void once() throws Exception {
    switch (op) {
      case "spin" -> spin.tryLock(1, TimeUnit.MILLISECONDS);
      case "ticket" -> ticket.tryLock(1, TimeUnit.MILLISECONDS);
      case "spinCondition" -> awaitCondition(spin);
      case "ticketCondition" -> awaitCondition(ticket);
      case "mutex" -> mutex.tryLock(MS1);
      case "mutexLockWhen" -> mutex.lockWhen(new Never(), MS1);
      case "condvar" -> condvarWait();
      case "rw" -> {
        rw.tryRead(MS1);
        rw.tryWrite(MS1);
      }
      case "seq" -> seq.tryWrite(MS1);
      case "cellAwait" -> cell.await(MS1);
      case "cellFail" -> new OnceCell<String>().getOrInit(new Failing());
      case "lazyFail" -> Lazy.of(new Failing()).get();
      case "scopeTimed" -> Scope.builder().timeout(S10).run(new Empty());
      case "scopeFactory" -> Scope.builder().threadFactory(new Factory()).run(new SpawnOne());
      case "scopeFail" -> Scope.run(new SpawnFailing());
      case "scopeVirtual" -> Scope.builder().virtualThreads().run(new SpawnOne());
      case "parallel", "parallelFactory" -> Parallel.map(DATA, new Inc(), opts());
      case "parallelFail" -> Parallel.map(DATA, new FailAt5(), opts());
      case "lockOrderEdge" -> nested(first, second);
      case "lockOrderLog", "lockOrderLogSink" -> nested(second, first);
      default -> throw new IllegalArgumentException(op);
    }
  }

  /** The operation, and another of the same primitive, at the top: throws if either fails. */
  private static void check() throws Exception {
    switch (op) {
      case "spin", "ticket" -> {
        java.util.concurrent.locks.Lock l = op.equals("spin") ? spin : ticket;
        expect(!l.tryLock(1, TimeUnit.MILLISECONDS), "tryLock of a held lock");
        requireNonNull(holder).release();
        l.lock();
        l.unlock();
        awaitCondition(l);
      }
      case "spinCondition", "ticketCondition" -> {
        java.util.concurrent.locks.Lock l = op.equals("spinCondition") ? spin : ticket;
        expect(!awaitCondition(l), "an unsignalled await");
        expect(l.tryLock(1, TimeUnit.MILLISECONDS), "tryLock of a free lock");
        l.unlock();
      }
      case "mutex" -> {
        expect(mutex.tryLock(MS1) == null, "tryLock of a held mutex");
        requireNonNull(holder).release();
        try (Mutex.Guard<int[]> g = mutex.lock()) {
          g.get();
        }
        Mutex.Guard<int[]> g = mutex.lockWhen(new Always(), MS1);
        requireNonNull(g).close();
      }
      case "mutexLockWhen" -> {
        expect(mutex.lockWhen(new Never(), MS1) == null, "lockWhen never ready");
        requireNonNull(mutex.tryLock(MS1)).close();
      }
      case "condvar" -> {
        expect(!condvarWait(), "an unsignalled awaitWhile");
        requireNonNull(mutex.tryLock(MS1)).close();
      }
      case "rw" -> {
        expect(rw.tryRead(MS1) == null, "tryRead of a write-held lock");
        expect(rw.tryWrite(MS1) == null, "tryWrite of a write-held lock");
        requireNonNull(holder).release();
        rw.read().close();
        rw.write().close();
      }
      case "seq" -> {
        expect(seq.tryWrite(MS1) == null, "tryWrite of a write-held seqlock");
        requireNonNull(holder).release();
        seq.write().close();
        expect(seq.readInt(new IntOne()) == 1, "a read");
      }
      case "cellAwait" -> {
        expect(!cell.await(MS1), "await of an unset cell");
        requireNonNull(holder).release();
        expect(cell.await(S10), "await of a set cell");
      }
      case "cellFail", "lazyFail" -> {
        try {
          if (op.equals("cellFail")) {
            new OnceCell<String>().getOrInit(new Failing());
          } else {
            Lazy.of(new Failing()).get();
          }
          throw new AssertionError("the initializer threw");
        } catch (IllegalStateException expected) {
          expect(expected.getMessage().equals("initializer failed"), "the initializer's own");
        }
        expect(new OnceCell<String>().getOrInit(new Value()).equals("v"), "a cell's value");
      }
      case "scopeTimed" -> {
        try {
          Scope.builder().timeout(Duration.ofMillis(20)).run(new SpawnSleeper());
          throw new AssertionError("the deadline passed");
        } catch (ScopeTimeoutException expected) {
          // as it should
        }
        Scope.run(new SpawnOne());
      }
      case "scopeFactory" -> {
        Scope.builder().threadFactory(new Factory()).run(new SpawnOne());
        Scope.run(new SpawnOne());
      }
      case "scopeVirtual" -> {
        Scope.builder().virtualThreads().run(new SpawnOne());
        Scope.run(new SpawnOne());
      }
      case "scopeFail" -> {
        try {
          Scope.run(new SpawnFailing());
          throw new AssertionError("a task failed");
        } catch (TaskFailedException expected) {
          // as it should
        }
        Scope.run(new SpawnOne());
      }
      case "parallel", "parallelFactory" -> {
        expect(Parallel.map(DATA, new Inc(), opts()).get(7) == 9, "the mapped value");
        expect(Parallel.map(DATA, new Inc()).get(0) == 2, "the mapped value (defaults)");
      }
      case "parallelFail" -> {
        try {
          Parallel.map(DATA, new FailAt5(), opts());
          throw new AssertionError("an element failed");
        } catch (TaskFailedException expected) {
          expect(expected.getCause() instanceof IllegalStateException, "the element's failure");
        }
        expect(Parallel.map(DATA, new Inc(), opts()).get(7) == 9, "the mapped value");
      }
      case "lockOrderEdge" -> {
        SpinLock a = new SpinLock();
        SpinLock b = new SpinLock();
        nested(a, b); // a new order: recorded
        try {
          nested(b, a);
          throw new AssertionError("an inversion with checking on throws");
        } catch (LockOrderException expected) {
          // as it should
        }
      }
      case "lockOrderLogSink" -> {
        expect(reports > 0, "the inversion the sweep made was reported (reports: 0)");
      }
      case "lockOrderLog" -> {
        SpinLock a = new SpinLock();
        SpinLock b = new SpinLock();
        nested(a, b);
        nested(b, a); // an inversion: logged, not thrown
      }
      default -> throw new IllegalArgumentException(op);
    }
  }

  /**
   * Takes {@code outer}, then {@code inner} inside it. Neither is ever held by another thread;
   * one left held by an overflowing unlock makes the next lock() throw (not reentrant).
   */
  private static void nested(SpinLock outer, SpinLock inner) {
    outer.lock();
    try {
      inner.lock();
      inner.unlock();
    } finally {
      outer.unlock();
    }
  }

  private static Parallel.Options opts() {
    Parallel.Options o = options;
    return o != null ? o : Parallel.options();
  }

  private static boolean awaitCondition(java.util.concurrent.locks.Lock l)
      throws InterruptedException {
    l.lock();
    try {
      Condition c = l.newCondition();
      boolean signalled = c.await(1, TimeUnit.MILLISECONDS);
      c.signalAll();
      return signalled;
    } finally {
      l.unlock();
    }
  }

  private static boolean condvarWait() throws InterruptedException {
    try (Mutex.Guard<int[]> g = mutex.lock()) {
      boolean ok = condvar.awaitWhile(g, new Always(), MS1);
      condvar.notifyAllWaiters();
      return ok;
    }
  }

  private static void expect(boolean ok, String what) {
    if (!ok) {
      throw new AssertionError(what);
    }
  }

  private static <T> T requireNonNull(@Nullable T t) {
    if (t == null) {
      throw new AssertionError("null");
    }
    return t;
  }

  // ------------------------------------------------------------------ the sweep

  private static final class Dive implements Runnable {
    @Override
    public void run() {
      dive(0);
      // a deep unlock that overflowed leaves the harness's own locks held: give them back
      for (SpinLock l : new SpinLock[] {first, second, spin}) {
        if (l.isHeldByCurrentThread()) {
          l.unlock();
        }
      }
      if (ticket.isHeldByCurrentThread()) {
        ticket.unlock();
      }
    }
  }

  @SuppressWarnings("InfiniteRecursion") // on purpose: it ends in StackOverflowError
  private static void dive(int depth) {
    try {
      dive(depth + 1);
    } catch (StackOverflowError e) {
      if (bottom < 0) {
        bottom = depth;
      }
    }
    if (bottom - depth < window) {
      deepRuns++;
      boolean overflowed = false;
      try {
        once();
      } catch (StackOverflowError e) {
        overflowed = true;
        lastDeep = e;
      } catch (Throwable e) {
        lastDeep = e; // the operation's own outcome, or a failure of it
      }
      if (overflowed) {
        overflows++;
      } else if (deepestOk < 0) {
        deepestOk = depth;
      }
      releaseLeaked();
    }
  }

  /**
   * Gives back a harness lock that an overflowing unlock (in {@link #nested}'s finally) left
   * held, so the next run starts as this one did: otherwise every later run threw "not
   * reentrant" before it reached the operation, and the sweep stopped testing anything (session
   * 26: the lockOrderLog case could not tell a lost report from that). If the unlock overflows
   * again here, the lock stays held and the next, shallower, frame tries again.
   */
  private static void releaseLeaked() {
    try {
      if (second.isHeldByCurrentThread()) {
        leaks++;
        second.unlock();
      }
      if (first.isHeldByCurrentThread()) {
        leaks++;
        first.unlock();
      }
    } catch (StackOverflowError e) {
      // still held: the next frame up retries
    }
  }

  // ------------------------------------------------------------------ holders (other threads)

  /** What a holder thread takes and later gives back. */
  private interface Hold {
    void take() throws Exception;

    void giveBack();
  }

  /** A thread that takes a primitive and holds it until {@link #release}. */
  private static final class Holder extends Thread {
    private final Hold hold;
    private final Object monitor = new Object();
    private boolean held;
    private boolean released;

    Holder(Hold hold) {
      super("holder");
      this.hold = hold;
      setDaemon(true);
    }

    @Override
    public void run() {
      try {
        hold.take();
      } catch (Exception e) {
        System.out.println("holder: " + e);
        System.exit(3);
      }
      synchronized (monitor) {
        held = true;
        monitor.notifyAll();
        while (!released) {
          try {
            monitor.wait();
          } catch (InterruptedException e) {
            // keep holding
          }
        }
      }
      hold.giveBack();
    }

    void awaitHeld() throws InterruptedException {
      synchronized (monitor) {
        while (!held) {
          monitor.wait();
        }
      }
    }

    void release() throws InterruptedException {
      synchronized (monitor) {
        released = true;
        monitor.notifyAll();
      }
      join();
    }
  }

  private static final class SpinHold implements Hold {
    private final java.util.concurrent.locks.Lock lock;

    SpinHold(java.util.concurrent.locks.Lock lock) {
      this.lock = lock;
    }

    @Override
    public void take() {
      lock.lock();
    }

    @Override
    public void giveBack() {
      lock.unlock();
    }
  }

  private static final class MutexHold implements Hold {
    private Mutex.@Nullable Guard<int[]> g;

    @Override
    public void take() {
      g = mutex.lock();
    }

    @Override
    public void giveBack() {
      requireNonNull(g).close();
    }
  }

  private static final class RwHold implements Hold {
    private RwLock.@Nullable WriteGuard<int[]> g;

    @Override
    public void take() {
      g = rw.write();
    }

    @Override
    public void giveBack() {
      requireNonNull(g).close();
    }
  }

  private static final class SeqHold implements Hold {
    private SeqLock.@Nullable WriteGuard g;

    @Override
    public void take() throws InterruptedException {
      g = seq.write();
    }

    @Override
    public void giveBack() {
      requireNonNull(g).close();
    }
  }

  /** Holds a cell's initialization open: the cell is being initialized until the release. */
  private static final class CellHold implements Hold {
    private final Object gate = new Object();
    private boolean open;

    @Override
    public void take() {
      Thread t = new Thread(new CellInit(this), "cell-init");
      t.setDaemon(true);
      t.start();
      synchronized (gate) {
        while (!open) {
          try {
            gate.wait();
          } catch (InterruptedException e) {
            // keep waiting
          }
        }
      }
    }

    @Override
    public void giveBack() {
      synchronized (gate) {
        open = false;
        gate.notifyAll();
      }
    }

    /** Called by the initializer: the cell is claimed; waits for the release. */
    String inside() {
      synchronized (gate) {
        open = true;
        gate.notifyAll();
        while (open) {
          try {
            gate.wait();
          } catch (InterruptedException e) {
            // keep waiting
          }
        }
      }
      return "v";
    }
  }

  private static final class CellInit implements Runnable, Supplier<String> {
    private final CellHold hold;

    CellInit(CellHold hold) {
      this.hold = hold;
    }

    @Override
    public void run() {
      cell.getOrInit(this);
    }

    @Override
    public String get() {
      return hold.inside();
    }
  }

  // ------------------------------------------------------------------ small nested functions

  private static final class Never implements Predicate<int[]> {
    @Override
    public boolean test(int[] v) {
      return false;
    }
  }

  /** Counts LOG-mode reports (runs deep: no lambdas, no new classes). */
  private static final class CountingSink implements java.util.function.Consumer<LockOrderException> {
    @Override
    public void accept(LockOrderException e) {
      reports++;
    }
  }

  private static final class Always implements Predicate<int[]> {
    @Override
    public boolean test(int[] v) {
      return true;
    }
  }

  private static final class IntOne implements java.util.function.IntSupplier {
    @Override
    public int getAsInt() {
      return 1;
    }
  }

  private static final class Failing implements Supplier<String> {
    @Override
    public String get() {
      throw new IllegalStateException("initializer failed");
    }
  }

  private static final class Value implements Supplier<String> {
    @Override
    public String get() {
      return "v";
    }
  }

  private static final class Inc implements Function<Integer, Integer> {
    @Override
    public Integer apply(Integer x) {
      return x + 1;
    }
  }

  private static final class FailAt5 implements Function<Integer, Integer> {
    @Override
    public Integer apply(Integer x) {
      if (x == 5) {
        throw new IllegalStateException("element failed");
      }
      return x;
    }
  }

  private static final class Factory implements ThreadFactory {
    @Override
    public Thread newThread(Runnable r) {
      return new Thread(r);
    }
  }

  private static final class One implements Callable<Integer> {
    @Override
    public Integer call() {
      return 1;
    }
  }

  private static final class Sleeper implements Callable<Integer> {
    @Override
    public Integer call() throws InterruptedException {
      Thread.sleep(60_000);
      return 0;
    }
  }

  private static final class Boom implements Callable<Integer> {
    @Override
    public Integer call() {
      throw new IllegalStateException("task failed");
    }
  }

  private static final class Empty implements Scope.VoidBody<RuntimeException> {
    @Override
    public void accept(Scope scope) {
      // opened and ended
    }
  }

  private static final class SpawnOne implements Scope.VoidBody<Exception> {
    @Override
    public void accept(Scope scope) throws Exception {
      if (scope.spawn(new One()).join() != 1) {
        throw new AssertionError("the spawned task's value");
      }
    }
  }

  private static final class SpawnFailing implements Scope.VoidBody<Exception> {
    @Override
    public void accept(Scope scope) throws Exception {
      scope.spawn(new Boom());
    }
  }

  private static final class SpawnSleeper implements Scope.VoidBody<Exception> {
    @Override
    public void accept(Scope scope) throws Exception {
      scope.spawn(new Sleeper());
    }
  }
}
