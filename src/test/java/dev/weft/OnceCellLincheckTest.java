package dev.weft;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.jetbrains.lincheck.datastructures.IntGen;
import org.jetbrains.lincheck.datastructures.ModelCheckingOptions;
import org.jetbrains.lincheck.datastructures.Operation;
import org.jetbrains.lincheck.datastructures.Param;
import org.jetbrains.lincheck.datastructures.StressOptions;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Linearizability of {@link OnceCell} with Lincheck: the cell itself, run sequentially, is the
 * specification. Quick by default; {@code -Dweft.lincheck.heavy=true} explores much more.
 *
 * <p>Operations that never wait for an external event are checked ({@code await} with a zero
 * timeout stands for {@code await}: an untimed await on a cell no operation sets would block
 * forever, which a sequential specification cannot express). {@code getOrInit} does wait for a
 * concurrent initialiser, which the model checker schedules through its park/unpark support.
 */
// Lincheck needs a public class with public operations; the test sources are compiled into
// the dev.weft module, so javac's "exports" and "missing-explicit-ctor" lints fire on them.
@SuppressWarnings({"exports", "missing-explicit-ctor"})
@Param(name = "v", gen = IntGen.class, conf = "1:3")
@Timeout(value = 5, unit = TimeUnit.MINUTES)
public class OnceCellLincheckTest {
  static final boolean HEAVY = Boolean.getBoolean("weft.lincheck.heavy");

  private final OnceCell<@Nullable Integer> cell = new OnceCell<>();

  @Operation
  public boolean trySet(@Param(name = "v") int v) {
    return cell.trySet(v);
  }

  @Operation
  public boolean trySetNull() {
    return cell.trySet(null);
  }

  @Operation
  public void set(@Param(name = "v") int v) {
    cell.set(v); // IllegalStateException is a legal result
  }

  @Operation
  public @Nullable Integer getOrInit(@Param(name = "v") int v) {
    return cell.getOrInit(() -> v);
  }

  @Operation
  public @Nullable Integer getOrInitFailing() {
    return cell.getOrInit(() -> {
      throw new IllegalArgumentException("initialiser fails");
    });
  }

  @Operation
  public boolean isSet() {
    return cell.isSet();
  }

  @Operation
  public @Nullable Integer orElse() {
    return cell.orElse(-1);
  }

  @Operation
  public boolean awaitZero() throws InterruptedException {
    return cell.await(Duration.ZERO);
  }

  @Test
  void modelChecking() {
    new ModelCheckingOptions()
        .addGuarantee(LincheckStackProbe.ignored())
        .iterations(HEAVY ? 200 : 10)
        .invocationsPerIteration(HEAVY ? 5_000 : 150)
        .threads(HEAVY ? 3 : 2)
        .actorsPerThread(HEAVY ? 3 : 2)
        .actorsBefore(0) // a non-empty prefix would usually set the cell before the race
        .actorsAfter(1)
        .check(OnceCellLincheckTest.class);
  }

  @Test
  void stress() {
    new StressOptions()
        .iterations(HEAVY ? 200 : 5)
        .invocationsPerIteration(HEAVY ? 5_000 : 100)
        .threads(HEAVY ? 3 : 2)
        .actorsPerThread(HEAVY ? 3 : 2)
        .actorsBefore(0) // a non-empty prefix would usually set the cell before the race
        .actorsAfter(1)
        .check(OnceCellLincheckTest.class);
  }

  @Test
  void modelCheckingRememberPolicy() {
    new ModelCheckingOptions()
        .addGuarantee(LincheckStackProbe.ignored())
        .iterations(HEAVY ? 200 : 10)
        .invocationsPerIteration(HEAVY ? 5_000 : 150)
        .threads(HEAVY ? 3 : 2)
        .actorsPerThread(HEAVY ? 3 : 2)
        .actorsBefore(0) // a non-empty prefix would usually set the cell before the race
        .actorsAfter(1)
        .check(Remember.class);
  }

  /**
   * A cell that remembers failures; few operations, so that the race between a failing
   * initialiser and {@code trySet} is explored often.
   */
  @SuppressWarnings({"exports", "missing-explicit-ctor"})
  @Param(name = "v", gen = IntGen.class, conf = "1:3")
  public static class Remember {
    private final OnceCell<Integer> cell = new OnceCell<>(Lazy.FailurePolicy.REMEMBER);

    @Operation
    public boolean trySet(@Param(name = "v") int v) {
      return cell.trySet(v);
    }

    @Operation
    public Integer getOrInitFailing() {
      return cell.getOrInit(() -> {
        throw new IllegalArgumentException("initialiser fails");
      });
    }

    @Operation
    public Integer orElse() {
      return cell.orElse(-1);
    }
  }
}
