package dev.weft;

import static dev.weft.JfrAdversarialTestSupport.await;
import static dev.weft.JfrAdversarialTestSupport.join;
import static dev.weft.JfrAdversarialTestSupport.recordAll;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Second adversarial review of weft's JFR events (issue 21), after the fixes of 58fdad5:
 * reproducers of guarantees that still broke. Each test failed on i21-jfr-rereview at 58fdad5
 * (3 of 3 runs) and passes since WeftEvents.describe drops whatever getMessage throws; the
 * comment above it names the guarantee and the schedule.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class JfrReReviewTest {

  // ---- R1: WeftEvents.describe lets an Error (or a checked exception) from getMessage escape

  /** An exception whose message cannot be computed: getMessage fails with an Error. */
  static final class MessageThrowsError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    @Override
    public String getMessage() {
      throw new AssertionError("message unavailable"); // e.g. an assert in a lazy formatter
    }
  }

  /** As above, but getMessage throws a checked exception (sneakily, as Lombok's does). */
  static final class MessageThrowsChecked extends RuntimeException {
    private static final long serialVersionUID = 1L;

    @Override
    public String getMessage() {
      JfrReReviewTest.<RuntimeException>sneakyThrow(new java.io.IOException("formatter I/O"));
      return "unreachable";
    }
  }

  @SuppressWarnings("unchecked")
  static <X extends Throwable> void sneakyThrow(Throwable t) throws X {
    throw (X) t;
  }

  private static String thrownClass(Lazy<String> lazy) {
    try {
      lazy.get();
      return "nothing";
    } catch (Throwable t) {
      return t.getClass().getName(); // never t.toString() or getMessage(): they throw
    }
  }

  /**
   * Guarantee (docs/observability.md, Limits: "if computing the message throws, it is the class
   * and what the message threw, and the initialiser's own exception still reaches the caller
   * unchanged"; WeftEvents.describe: "whatever it throws is dropped here").
   *
   * <p>Schedule: one thread, no concurrency. A Lazy's initialiser throws an exception whose
   * getMessage() throws an AssertionError. Without a recording Lazy.get throws the initialiser's
   * exception. With dev.weft.OnceInit recorded (threshold 0; with the shipped 20 ms, any
   * initialiser that ran over 20 ms), describe() catches only RuntimeException and
   * StackOverflowError, so the AssertionError escapes WeftJfr.initEnd inside runClaimed's catch
   * block and replaces the initialiser's exception. Failed 3 of 3 runs.
   */
  @Test
  void fixed_onceInitFailureWhoseMessageThrowsAnErrorReplacesTheInitialisersException()
      throws Exception {
    Lazy<String> plain = Lazy.of(() -> {
      throw new MessageThrowsError();
    });
    assertThat(thrownClass(plain)).isEqualTo(MessageThrowsError.class.getName());

    Lazy<String> recorded = Lazy.of(() -> {
      throw new MessageThrowsError();
    });
    AtomicReference<String> thrown = new AtomicReference<>();
    recordAll(() -> thrown.set(thrownClass(recorded)));
    assertThat(thrown.get())
        .as("what Lazy.get threw while dev.weft.OnceInit was recorded")
        .isEqualTo(MessageThrowsError.class.getName());
  }

  /**
   * Same guarantee; getMessage() throws a checked exception (sneaky throw), which describe()'s
   * catch (RuntimeException | StackOverflowError) does not catch either: Lazy.get throws an
   * IOException that neither the initialiser nor Lazy.get declares. Failed 3 of 3 runs.
   */
  @Test
  void fixed_onceInitFailureWhoseMessageThrowsACheckedExceptionReplacesTheInitialisersException()
      throws Exception {
    Lazy<String> plain = Lazy.of(() -> {
      throw new MessageThrowsChecked();
    });
    assertThat(thrownClass(plain)).isEqualTo(MessageThrowsChecked.class.getName());

    Lazy<String> recorded = Lazy.of(() -> {
      throw new MessageThrowsChecked();
    });
    AtomicReference<String> thrown = new AtomicReference<>();
    recordAll(() -> thrown.set(thrownClass(recorded)));
    assertThat(thrown.get())
        .as("what Lazy.get threw while dev.weft.OnceInit was recorded")
        .isEqualTo(MessageThrowsChecked.class.getName());
  }

  /**
   * Guarantee (OnceCell.trySet: "if an initialiser is running, this value wins and the
   * initialiser's result is dropped"; OnceCellCore.runClaimed: a getOrInit whose initialiser
   * fails after a trySet won returns the set value; WeftJfr: recording changes nothing about
   * what weft returns).
   *
   * <p>Schedule (latches): thread test-init calls getOrInit; its initialiser signals it runs and
   * waits; the test thread calls trySet("set") (true: the set wins); the initialiser then
   * throws a RuntimeException whose getMessage() throws an AssertionError. Without a recording
   * getOrInit returns "set" (checked first, same schedule). Recorded, initEnd runs before the
   * "return decode(won)" and its AssertionError escapes instead: getOrInit throws where it
   * would have returned the cell's value. Failed 3 of 3 runs.
   */
  @Test
  void fixed_onceCellGetOrInitThatLostToTrySetThrowsInsteadOfReturningTheValueWhenRecorded()
      throws Exception {
    assertThat(getOrInitLosingToTrySet()).isEqualTo("returned set");
    AtomicReference<String> recorded = new AtomicReference<>();
    recordAll(() -> recorded.set(getOrInitLosingToTrySet()));
    assertThat(recorded.get())
        .as("what getOrInit did while dev.weft.OnceInit was recorded")
        .isEqualTo("returned set");
  }

  /** Runs the schedule above once; returns "returned X" or "threw <class>". */
  private static String getOrInitLosingToTrySet() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch setDone = new CountDownLatch(1);
    AtomicReference<String> result = new AtomicReference<>();
    Thread init =
        new Thread(
            () -> {
              try {
                String v =
                    cell.getOrInit(
                        () -> {
                          running.countDown();
                          await(setDone);
                          throw new MessageThrowsError();
                        });
                result.set("returned " + v);
              } catch (Throwable t) {
                result.set("threw " + t.getClass().getName());
              }
            },
            "test-init");
    try {
      init.start();
      await(running);
      assertThat(cell.trySet("set")).as("trySet while the initialiser runs").isTrue();
      setDone.countDown();
      init.join(20_000);
    } finally {
      setDone.countDown();
      join(init);
    }
    return result.get();
  }
}
