package dev.weft;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.ResourceBundle;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Run in a fresh JVM by {@code Review29LockOrderLogTest} (the edge/node limits are read at
 * LockOrder's class initialisation, so a small {@code -Ddev.weft.lockOrder.maxEdges} or {@code
 * maxNodes} needs its own JVM). The scenario is the first argument; each prints {@code RESULT
 * key=value} lines and exits 0 (2 on a setup error). Every thread it starts is a daemon, and
 * the JVM ends with System.exit, so a deadlocked thread cannot keep it alive.
 *
 * <p>The logging backend is {@link Finder}, a {@link System.LoggerFinder} that the test
 * registers with a services file in a temporary class-path folder (module dev.weft does not read
 * java.logging, so a jul Handler cannot be compiled here); it hands every message of the logger
 * {@code dev.weft.LockOrder} to {@link #handler}.
 */
@SuppressWarnings("try") // guards held for their scope only
public final class Review29LockOrderLogMain {
  /** Where the backend hands each message; null: printed only. */
  static volatile @Nullable Consumer<String> handler;

  private Review29LockOrderLogMain() {}

  public static void main(String[] args) throws Exception {
    String scenario = args[0];
    int rc;
    switch (scenario) {
      case "dup" -> rc = dup();
      case "deadlock" -> rc = deadlock();
      case "once" -> rc = once();
      default -> {
        System.out.println("unknown scenario " + scenario);
        rc = 2;
      }
    }
    System.out.flush();
    System.exit(rc);
  }

  /** The System.LoggerFinder the forked JVM loads (services file written by the test). */
  public static final class Finder extends System.LoggerFinder {
    /** For ServiceLoader. */
    public Finder() {}

    @Override
    public System.Logger getLogger(String name, Module module) {
      return new Log(name);
    }
  }

  private static final class Log implements System.Logger {
    private final String name;

    Log(String name) {
      this.name = name;
    }

    @Override
    public String getName() {
      return name;
    }

    @Override
    public boolean isLoggable(Level level) {
      return true;
    }

    @Override
    public void log(Level level, @Nullable ResourceBundle bundle, @Nullable String msg,
        @Nullable Throwable thrown) {
      publish(level, msg);
    }

    @Override
    public void log(Level level, @Nullable ResourceBundle bundle, @Nullable String format,
        @Nullable Object... params) {
      publish(level, format);
    }

    private void publish(Level level, @Nullable String msg) {
      String m = msg == null ? "" : msg;
      System.out.println("LOGGED " + level + " " + name + " on "
          + Thread.currentThread().getName() + ": " + m);
      Consumer<String> h = handler;
      if (h != null && name.equals("dev.weft.LockOrder")) {
        h.accept(m);
      }
    }
  }

  /** Counts the limit messages. */
  private static final class Counting implements Consumer<String> {
    final AtomicInteger limitMessages = new AtomicInteger();

    @Override
    public void accept(String m) {
      if (m.contains("reached its limit")) {
        limitMessages.incrementAndGet();
      }
    }
  }

  /**
   * -Ddev.weft.lockOrder.maxEdges=1, LOG mode with the sink: a -> b fills the graph, then the
   * inversion b -> a is taken three times, one after another on one thread. Claim: each
   * inversion is reported once (apart from concurrent duplicates).
   */
  private static int dup() {
    Counting c = new Counting();
    handler = c;
    List<LockOrderException> reports = new ArrayList<>();
    LockOrder.sinkForTests(reports::add); // one thread only: a plain list
    LockOrder.enable(LockOrder.Mode.LOG);
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    try (var ga = a.lock(); var gb = b.lock()) {
      ga.set(gb.get());
    }
    System.out.println("RESULT edgesAfterFill=" + LockOrder.edgesForTests());
    for (int i = 0; i < 3; i++) {
      try (var gb = b.lock(); var ga = a.lock()) {
        ga.set(gb.get());
      }
    }
    System.out.println("RESULT reports=" + reports.size());
    System.out.println("RESULT limitMessages=" + c.limitMessages.get());
    System.out.println("RESULT held=" + LockOrder.heldCountForTests());
    // THROW after that: the reported inversion was recorded (past the limit too, since session
    // 29), so it is accepted, as within the limit.
    LockOrder.enable(LockOrder.Mode.THROW);
    int thrown = 0;
    for (int i = 0; i < 2; i++) {
      try (var gb = b.lock()) {
        try (var ga = a.lock()) {
          ga.set(1);
        } catch (LockOrderException e) {
          thrown++;
        }
        System.out.println("RESULT aLockedAfterThrow=" + a.isLocked());
      }
    }
    System.out.println("RESULT thrown=" + thrown);
    LockOrder.disable();
    return 0;
  }

  /**
   * -Ddev.weft.lockOrder.maxEdges=1. The logging backend takes a weft Mutex
   * {@code out} (a log handler writing through a weft-guarded buffer). Schedule, forced by a
   * latch: thread "app" holds {@code out}; thread "limit" makes a new order past the limit, so
   * limitReached logs its message (the JVM's first) and the backend waits for {@code out};
   * once the handler is in, "app" takes a new order while holding {@code out}, which needs GRAPH.
   * If limitReached logs while holding GRAPH, the two threads wait for each other for good.
   */
  private static int deadlock() throws Exception {
    Mutex<Integer> out = new Mutex<>(0);
    CountDownLatch inHandler = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    handler =
        m -> {
          if (first.getAndSet(false)) {
            inHandler.countDown();
            try (var g = out.lock()) { // the handler's own weft lock
              g.set(g.get() + 1);
            }
          }
        };
    LockOrder.enable(LockOrder.Mode.LOG);
    Mutex<Integer> x = new Mutex<>(0);
    Mutex<Integer> y = new Mutex<>(0);
    try (var gx = x.lock(); var gy = y.lock()) { // the one edge the limit allows
      gx.set(gy.get());
    }
    Mutex<Integer> p = new Mutex<>(0);
    Mutex<Integer> q = new Mutex<>(0);
    Mutex<Integer> n = new Mutex<>(0);
    CountDownLatch appHolds = new CountDownLatch(1);
    AtomicBoolean appDone = new AtomicBoolean();
    AtomicBoolean limitDone = new AtomicBoolean();
    Thread app =
        new Thread(
            () -> {
              try (var go = out.lock()) {
                appHolds.countDown();
                if (!inHandler.await(10, TimeUnit.SECONDS)) {
                  System.out.println("RESULT setup=handlerNotReached");
                  return;
                }
                try (var gn = n.lock()) { // out -> n: a new order, past the limit
                  gn.set(go.get());
                }
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              appDone.set(true);
            },
            "app");
    Thread limit =
        new Thread(
            () -> {
              try (var gp = p.lock(); var gq = q.lock()) { // p -> q: past the limit, logs
                gp.set(gq.get());
              }
              limitDone.set(true);
            },
            "limit");
    app.setDaemon(true);
    limit.setDaemon(true);
    app.start();
    if (!appHolds.await(10, TimeUnit.SECONDS)) {
      System.out.println("RESULT setup=appDidNotStart");
      return 2;
    }
    limit.start();
    app.join(5_000); // both end within milliseconds unless deadlocked
    limit.join(1_000);
    System.out.println("RESULT appDone=" + appDone.get());
    System.out.println("RESULT limitDone=" + limitDone.get());
    System.out.println("RESULT appState=" + app.getState());
    System.out.println("RESULT limitState=" + limit.getState());
    if (app.isAlive()) {
      for (StackTraceElement e : app.getStackTrace()) {
        System.out.println("  app at " + e);
      }
    }
    if (limit.isAlive()) {
      for (StackTraceElement e : limit.getStackTrace()) {
        System.out.println("  limit at " + e);
      }
    }
    return 0;
  }

  /**
   * -Ddev.weft.lockOrder.maxEdges=2 -Ddev.weft.lockOrder.maxNodes=6, LOG mode: four threads
   * each make many new orders (past both limits) at once; the limit message must be logged
   * exactly once, and every thread's held list ends empty.
   */
  private static int once() throws Exception {
    Counting c = new Counting();
    handler = c;
    AtomicInteger reports = new AtomicInteger();
    LockOrder.sinkForTests(e -> reports.incrementAndGet());
    LockOrder.enable(LockOrder.Mode.LOG);
    int threads = 4;
    CyclicBarrier start = new CyclicBarrier(threads);
    AtomicInteger badHeld = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    List<Thread> all = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      Thread th =
          new Thread(
              () -> {
                try {
                  start.await(10, TimeUnit.SECONDS);
                  for (int i = 0; i < 50; i++) {
                    Mutex<Integer> u = new Mutex<>(i);
                    Mutex<Integer> v = new Mutex<>(i);
                    try (var gu = u.lock(); var gv = v.lock()) {
                      gu.set(gv.get());
                    }
                  }
                  if (LockOrder.heldCountForTests() != 0) {
                    badHeld.incrementAndGet();
                  }
                } catch (Exception | Error e) {
                  errors.incrementAndGet();
                  System.out.println("ERROR " + e);
                }
              },
              "t" + t);
      th.setDaemon(true);
      all.add(th);
      th.start();
    }
    for (Thread th : all) {
      th.join(30_000);
    }
    System.out.println("RESULT limitMessages=" + c.limitMessages.get());
    System.out.println("RESULT badHeld=" + badHeld.get());
    System.out.println("RESULT errors=" + errors.get());
    System.out.println("RESULT reports=" + reports.get());
    System.out.println("RESULT edges=" + LockOrder.edgesForTests());
    LockOrder.disable();
    return 0;
  }
}
