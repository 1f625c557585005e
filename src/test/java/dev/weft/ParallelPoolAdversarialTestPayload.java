package dev.weft;

import java.time.Duration;
import java.util.function.BiConsumer;
import java.util.function.IntConsumer;

/**
 * Not a test: code that {@link ParallelPoolAdversarialTest} defines in a class loader of its own
 * (as an application server's web application would be), so that a {@code Parallel} call is
 * made with that loader's code on the caller's stack. The body comes from the test's own loader,
 * so nothing of this call but the stack frame belongs to the foreign loader.
 */
public final class ParallelPoolAdversarialTestPayload implements BiConsumer<Integer, IntConsumer> {
  /** Public: instantiated reflectively through the foreign loader. */
  public ParallelPoolAdversarialTestPayload() {}

  @Override
  public void accept(Integer threads, IntConsumer body) {
    Parallel.forRange(
        0, threads, body,
        Parallel.options().threads(threads).sequentialCutoff(Duration.ZERO));
  }
}
