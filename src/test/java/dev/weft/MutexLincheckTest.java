package dev.weft;

import java.util.ArrayDeque;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Lincheck: a stack and a counter protected by {@link Mutex} are linearizable, whichever of the
 * guard form, the closure forms and the predicate-wait path is used. The
 * sequential specification is the same class run on one thread. Quick settings by default;
 * {@code -Dweft.lincheck.heavy=true} runs many more scenarios.
 */
@Timeout(300)
class MutexLincheckTest {
  private static final boolean HEAVY = Boolean.getBoolean("weft.lincheck.heavy");

  /** The data structure under test; public with a no-argument constructor for Lincheck. */
  public static final class MutexStack {
    private final Mutex<ArrayDeque<Integer>> stack = new Mutex<>(new ArrayDeque<>());
    private final Mutex<Long> pushes = new Mutex<>(0L);

    /**
     * Pushes with the guard form and counts with update on a second mutex, nested inside the
     * first (always in this order), so the count and the stack change in one atomic step.
     */
    @Operation
    public void push(int x) {
      try (Mutex.Guard<ArrayDeque<Integer>> g = stack.lock()) {
        g.get().push(x);
        pushes.update(n -> n + 1);
      }
    }

    /** Pops with the closure form. */
    @Operation
    public @Nullable Integer pop() {
      return stack.with(ArrayDeque::pollFirst);
    }

    /**
     * Pops through the predicate-wait path ({@code awaitThen} with a predicate that holds).
     * (A zero-timeout {@code lockWhen} would not be linearizable: it fails while another thread
     * merely holds the lock, which a sequential run cannot reproduce.)
     */
    @Operation
    public @Nullable Integer popViaAwaitThen() throws InterruptedException {
      return stack.awaitThen(q -> true, ArrayDeque::pollFirst);
    }

    /** Reads the size with the closure form. */
    @Operation
    public int size() {
      return stack.with(ArrayDeque::size);
    }

    /** Total pushes completed. */
    @Operation
    public long pushes() {
      return pushes.with(n -> n);
    }
  }

  @Test
  void modelChecking() {
    new ModelCheckingOptions()
        .addGuarantee(LincheckStackProbe.ignored())
        .iterations(HEAVY ? 100 : 6)
        .invocationsPerIteration(HEAVY ? 5_000 : 200)
        .threads(2)
        .actorsPerThread(3)
        .actorsBefore(1)
        .actorsAfter(1)
        .check(MutexStack.class);
  }

  @Test
  void stress() {
    new StressOptions()
        .iterations(HEAVY ? 100 : 6)
        .invocationsPerIteration(HEAVY ? 10_000 : 300)
        .threads(3)
        .actorsPerThread(3)
        .check(MutexStack.class);
  }
}
