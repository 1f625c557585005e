package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Property-based tests of {@link Scope}: random spawn trees (depth and fan-out through random
 * parents, the owner or scope threads spawning, delays, failures and interrupt-only "stuck" tasks
 * at random nodes, joins by parents, caps, deadlines, both failure policies, the three ways a
 * scope ends, virtual threads on JDK 21+), each checked against the invariants of the class
 * Javadoc: every thread has terminated and every handle is done when the scope returns, every
 * failure is reported exactly once (by a join or by the end of the scope), the cap is never
 * exceeded. The second property also widens the protocol windows by random delays.
 *
 * <p>Bounded for {@code ./mvnw verify}: 250 + 150 tries, a few seconds on two cores.
 */
class ScopePropertyTest {

  enum Outcome { OK, FAIL, STUCK }

  enum Deadline { NONE, LONG, SHORT }

  enum End { RUN, CLOSE, BODY_THROWS }

  /** One task: who spawns it (an index into the earlier nodes, or the owner), what it does. */
  record Node(int parentChoice, int delayMicros, Outcome outcome, boolean joinsChildren) {}

  record Plan(List<Node> nodes, Scope.FailurePolicy policy, Deadline deadline, int deadlineMs,
      int capExtra, boolean virtual, End end) {

    int parent(int i) {
      return nodes.get(i).parentChoice() % (i + 1) - 1; // -1: the owner
    }

    List<Integer> children(int parent) {
      List<Integer> out = new ArrayList<>();
      for (int i = 0; i < nodes.size(); i++) {
        if (parent(i) == parent) {
          out.add(i);
        }
      }
      return out;
    }

    /** Spawning scope threads hold a slot while they wait for one: the cap must exceed them. */
    int cap() {
      int spawners = 0;
      for (int i = 0; i < nodes.size(); i++) {
        if (!children(i).isEmpty()) {
          spawners++;
        }
      }
      return spawners + 1 + capExtra;
    }

    boolean hasStuck() {
      return nodes.stream().anyMatch(n -> n.outcome() == Outcome.STUCK);
    }
  }

  @Provide
  Arbitrary<Plan> plans() {
    Arbitrary<Node> node = Combinators.combine(
        Arbitraries.integers().between(0, 1000),
        Arbitraries.integers().between(0, 300),
        Arbitraries.of(Outcome.class),
        Arbitraries.of(true, false)).as(Node::new);
    return Combinators.combine(
        node.list().ofMinSize(1).ofMaxSize(12),
        Arbitraries.of(Scope.FailurePolicy.class),
        Arbitraries.of(Deadline.class),
        Arbitraries.integers().between(1, 25),
        Arbitraries.integers().between(-1, 2),
        Arbitraries.of(true, false),
        Arbitraries.of(End.class)).as(Plan::new);
  }

  @Property(tries = 250)
  void everyThreadEndsAndEveryFailureIsReportedOnce(@ForAll("plans") Plan plan) throws Exception {
    check(plan);
  }

  @Property(tries = 150)
  @SuppressWarnings("try")
  void theSameUnderRandomlyWidenedWindows(@ForAll("plans") Plan plan) throws Exception {
    try (AutoCloseable hook = ProtocolWindows.install(w -> {
      int r = ThreadLocalRandom.current().nextInt(3);
      if (r >= 1) {
        LockSupport.parkNanos(ThreadLocalRandom.current().nextInt(200_000));
      }
    })) {
      check(plan);
    }
  }

  // ------------------------------------------------------------------ the model

  private static final class Run {
    final Plan plan;
    final CountDownLatch never = new CountDownLatch(1);
    final Queue<ScopedThread<?>> handles = new ConcurrentLinkedQueue<>();
    final Queue<Throwable> thrownByTasks = new ConcurrentLinkedQueue<>();
    final Queue<Throwable> reportedByJoins = new ConcurrentLinkedQueue<>();
    final AtomicInteger running = new AtomicInteger();
    final AtomicInteger maxRunning = new AtomicInteger();

    Run(Plan plan) {
      this.plan = plan;
    }

    void spawnChildren(Scope scope, int parent) throws InterruptedException {
      List<ScopedThread<?>> mine = new ArrayList<>();
      for (int c : plan.children(parent)) {
        ScopedThread<Object> h = scope.spawn(() -> task(scope, c));
        handles.add(h);
        mine.add(h);
      }
      boolean joins = parent < 0 ? plan.nodes().get(0).joinsChildren()
          : plan.nodes().get(parent).joinsChildren();
      if (joins) {
        for (ScopedThread<?> h : mine) {
          try {
            h.join();
          } catch (TaskFailedException e) {
            reportedByJoins.add(e);
          }
        }
      }
    }

    @SuppressWarnings("NullAway")
    Object task(Scope scope, int i) throws Exception {
      maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
      try {
        Node n = plan.nodes().get(i);
        LockSupport.parkNanos(n.delayMicros() * 1_000L);
        spawnChildren(scope, i);
        switch (n.outcome()) {
          case FAIL -> throw new IllegalStateException("node " + i);
          case STUCK -> never.await(); // ends only by an interrupt (the deadline is SHORT)
          default -> { }
        }
        return null;
      } catch (Throwable t) {
        thrownByTasks.add(t);
        throw t;
      } finally {
        running.decrementAndGet();
      }
    }
  }

  private static void check(Plan plan) throws Exception {
    Plan p = plan;
    if (p.hasStuck() && p.deadline() != Deadline.SHORT) { // a stuck task needs a deadline
      p = new Plan(p.nodes(), p.policy(), Deadline.SHORT, p.deadlineMs(), p.capExtra(),
          p.virtual(), p.end());
    }
    Run run = new Run(p);
    Scope.Builder b = Scope.builder().failurePolicy(p.policy());
    if (p.deadline() == Deadline.LONG) {
      b.timeout(Duration.ofSeconds(30));
    } else if (p.deadline() == Deadline.SHORT) {
      b.timeout(Duration.ofMillis(p.deadlineMs()));
    }
    if (p.capExtra() >= 0) {
      b.maxConcurrency(p.cap());
    }
    if (p.virtual() && Runtime.version().feature() >= 21) {
      b.virtualThreads();
    }
    RuntimeException bodyFailure = new RuntimeException("body");
    Throwable ended = null;
    try {
      if (p.end() == End.CLOSE) {
        try (Scope scope = b.open()) {
          run.spawnChildren(scope, -1);
        }
      } else {
        End end = p.end();
        b.run(scope -> {
          run.spawnChildren(scope, -1);
          if (end == End.BODY_THROWS) {
            throw bodyFailure;
          }
        });
      }
    } catch (Throwable t) {
      ended = t;
    }

    // every thread has terminated and every handle is done
    for (ScopedThread<?> h : run.handles) {
      assertThat(h.thread().isAlive()).as("alive after the scope: %s", h).isFalse();
      assertThat(h.isDone()).as("not done after the scope: %s", h).isTrue();
    }
    // the cap held
    if (p.capExtra() >= 0) {
      assertThat(run.maxRunning.get()).isLessThanOrEqualTo(p.cap());
    }
    // every failure is reported exactly once, by a join or by the end
    Set<Throwable> threw = Collections.newSetFromMap(new IdentityHashMap<>());
    threw.addAll(run.thrownByTasks);
    IdentityHashMap<Throwable, Integer> reports = new IdentityHashMap<>();
    for (Throwable j : run.reportedByJoins) {
      count(j, threw, reports);
    }
    if (p.end() == End.BODY_THROWS) {
      assertThat(ended).as("the body's exception").isNotNull();
    }
    if (ended != null) {
      if (ended instanceof TaskFailedException) { // the end's report, or a spawn's timeout
        count(ended, threw, reports);
      } else {
        assertThat(ended).isSameAs(bodyFailure);
        for (Throwable x : ended.getSuppressed()) {
          count(x, threw, reports);
        }
      }
    }
    for (Throwable t : run.thrownByTasks) {
      assertThat(reports.get(t)).as("times %s was reported (plan %s, ended %s)", t, p, ended)
          .isEqualTo(1);
    }
  }

  /**
   * Counts the task failures an exception reports: itself if a task threw it; else, for weft's
   * own exceptions, the cause (not for a timeout, whose cause is a TimeoutException) and every
   * suppressed one, recursively (try-with-resources attaches close()'s report as suppressed).
   */
  private static void count(Throwable x, Set<Throwable> threw,
      IdentityHashMap<Throwable, Integer> reports) {
    if (threw.contains(x)) {
      reports.merge(x, 1, Integer::sum);
      return;
    }
    if (x instanceof TaskFailedException) {
      Throwable cause = x.getCause();
      if (!(x instanceof ScopeTimeoutException) && cause != null) {
        count(cause, threw, reports);
      }
      for (Throwable s : x.getSuppressed()) {
        count(s, threw, reports);
      }
    }
  }
}
