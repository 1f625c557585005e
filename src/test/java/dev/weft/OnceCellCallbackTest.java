package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.MutexTest.Worker;
import java.time.Duration;
import java.util.NoSuchElementException;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 18's sweep for {@link OnceCell} and {@link Lazy}: an initialiser that uses its own cell
 * in every way the API allows (each call either works or throws the documented exception, and
 * nothing hangs), time-arithmetic edges of {@code await(Duration)}, queries against the
 * operations they promise, and the waiter stack's size under long waits.
 */
@Timeout(30)
class OnceCellCallbackTest {

  // ---- callbacks that call back -----------------------------------------------------------------

  @Test
  void anInitialiserThatWaitsForItsOwnCellGetsRecursiveInitialisationInEveryForm() {
    String[] forms = {"getOrInit", "await", "await(0)", "await(-1ns)", "await(1s)", "await(max)",
        "awaitUninterruptibly"};
    for (String form : forms) {
      OnceCell<String> cell = new OnceCell<>();
      assertThatThrownBy(() -> cell.getOrInit(() -> {
        try {
          return switch (form) {
            case "getOrInit" -> cell.getOrInit(() -> "inner");
            case "await" -> cell.await();
            case "await(0)" -> cell.await(Duration.ZERO) ? "set" : "unset";
            case "await(-1ns)" -> cell.await(Duration.ofNanos(-1)) ? "set" : "unset";
            case "await(1s)" -> cell.await(Duration.ofSeconds(1)) ? "set" : "unset";
            case "await(max)" -> cell.await(Duration.ofSeconds(Long.MAX_VALUE)) ? "set" : "unset";
            default -> cell.awaitUninterruptibly();
          };
        } catch (InterruptedException e) {
          throw new AssertionError(e);
        }
      })).as(form).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("recursive initialisation");
      // RETRY: the failed initialisation left the cell unset and usable.
      assertThat(cell.isSet()).as(form).isFalse();
      assertThat(cell.getOrInit(() -> "after")).isEqualTo("after");
    }
  }

  @Test
  void anInitialiserMayQueryAndSetItsOwnCell() {
    OnceCell<String> cell = new OnceCell<>();
    AtomicReference<@Nullable String> seen = new AtomicReference<>();
    String got = cell.getOrInit(() -> {
      seen.set(cell.isSet() + " " + cell.orElse("none") + " " + cell);
      assertThatThrownBy(cell::orElseThrow).isInstanceOf(NoSuchElementException.class);
      assertThat(cell.trySet("set-inside")).isTrue(); // overtakes its own initialiser
      assertThat(cell.trySet("again")).isFalse();
      assertThatThrownBy(() -> cell.set("again")).isInstanceOf(IllegalStateException.class);
      return "computed"; // dropped: the set came first
    });
    assertThat(seen.get()).isEqualTo("false none OnceCell[initialising]");
    assertThat(got).isEqualTo("set-inside");
    assertThat(cell.orElseThrow()).isEqualTo("set-inside");
  }

  @Test
  void recursionThroughAnotherCellIsCaughtToo() {
    OnceCell<String> a = new OnceCell<>();
    OnceCell<String> b = new OnceCell<>();
    assertThatThrownBy(() -> a.getOrInit(() -> b.getOrInit(() -> a.getOrInit(() -> "x"))))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("recursive initialisation");
    assertThat(a.isSet()).isFalse();
    assertThat(b.isSet()).isFalse();
  }

  @Test
  void rememberedRecursionFailureIsReportedAsSuch() {
    OnceCell<String> cell = new OnceCell<>(Lazy.FailurePolicy.REMEMBER);
    assertThatThrownBy(() -> cell.getOrInit(() -> cell.getOrInit(() -> "x")))
        .isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> cell.getOrInit(() -> "y"))
        .isInstanceOf(TaskFailedException.class)
        .hasCauseInstanceOf(IllegalStateException.class);
    assertThat(cell.isSet()).isFalse();
    assertThat(cell.trySet("z")).isFalse();
  }

  @Test
  void aLazySupplierThatUsesItsOwnLazy() {
    AtomicReference<@Nullable Lazy<String>> self = new AtomicReference<>();
    Lazy<String> lazy = Lazy.of(() -> {
      Lazy<String> me = self.get();
      assertThat(me).isNotNull();
      assertThat(me.isInitialized()).isFalse();
      assertThat(me.toString()).isEqualTo("Lazy[initialising]");
      return me.get(); // recursive: must throw, never hang
    });
    self.set(lazy);
    assertThatThrownBy(lazy::get).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("recursive initialisation");
    assertThat(lazy.isInitialized()).isFalse();
  }

  // ---- time arithmetic ----------------------------------------------------------------------

  @Test
  void awaitTimeoutEdgesNeverWaitOrOverflow() throws Exception {
    OnceCell<Integer> cell = new OnceCell<>();
    for (Duration d : new Duration[] {Duration.ZERO, Duration.ofNanos(-1),
        Duration.ofSeconds(Long.MIN_VALUE), Duration.ofNanos(Long.MIN_VALUE)}) {
      long start = System.nanoTime();
      assertThat(cell.await(d)).as("%s", d).isFalse();
      assertThat(System.nanoTime() - start).isLessThan(1_000_000_000L);
    }
    Worker setter = new Worker("setter", () -> cell.set(7));
    assertThat(cell.await(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999))).isTrue();
    setter.join();
    assertThat(cell.await(Duration.ZERO)).isTrue();
    assertThat(cell.await(Duration.ofSeconds(Long.MIN_VALUE))).isTrue();
    assertThat(cell.orElseThrow()).isEqualTo(7);
  }

  @Test
  void interruptBeforeAZeroTimeoutAwaitOnAnUnsetCellThrowsButASetCellAnswers() throws Exception {
    OnceCell<Integer> cell = new OnceCell<>();
    Thread.currentThread().interrupt();
    assertThatThrownBy(() -> cell.await(Duration.ZERO)).isInstanceOf(InterruptedException.class);
    assertThat(Thread.currentThread().isInterrupted()).isFalse();
    cell.set(1);
    Thread.currentThread().interrupt();
    try {
      assertThat(cell.await(Duration.ZERO)).isTrue();
      assertThat(cell.await()).isEqualTo(1);
      assertThat(Thread.currentThread().isInterrupted()).as("status kept").isTrue();
    } finally {
      Thread.interrupted();
    }
  }

  // ---- queries agree with operations --------------------------------------------------------

  @Test
  void isSetAgreesWithTheNonBlockingReads() throws Exception {
    OnceCell<@Nullable String> cell = new OnceCell<>();
    assertThat(cell.isSet()).isFalse();
    assertThatThrownBy(cell::orElseThrow).isInstanceOf(NoSuchElementException.class);
    assertThat(cell.await(Duration.ZERO)).isFalse();
    cell.set(null);
    assertThat(cell.isSet()).isTrue();
    assertThat(cell.orElseThrow()).isNull();
    assertThat(cell.orElse("other")).isNull();
    assertThat(cell.await(Duration.ZERO)).isTrue();
    assertThat(cell.trySet("x")).isFalse();
  }

  // ---- memory under long waits --------------------------------------------------------------

  @Test
  void waiterStackStaysBoundedWhileOneThreadWaitsLongAndOthersComeAndGo() throws Exception {
    OnceCell<Integer> cell = new OnceCell<>();
    Worker patient = new Worker("patient", () -> assertThat(cell.awaitUninterruptibly()).isEqualTo(1));
    awaitBlocked(patient.thread);
    for (int i = 0; i < 300; i++) {
      assertThat(cell.await(Duration.ofNanos(50_000))).isFalse(); // pushes a node, then leaves
      patient.thread.interrupt(); // spurious wake-ups of the long waiter: must not add nodes
      Thread.currentThread().interrupt();
      assertThatThrownBy(() -> cell.await()).isInstanceOf(InterruptedException.class);
    }
    assertThat(cell.waiterCount()).as("the patient waiter's node, plus at most one").isBetween(1, 2);
    cell.set(1);
    patient.join();
    assertThat(cell.waiterCount()).isZero();
  }
}
