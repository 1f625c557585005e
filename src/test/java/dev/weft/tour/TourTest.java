package dev.weft.tour;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Runs the README's tour in the test suite and checks what each section shows. */
class TourTest {
  @Test
  @Timeout(value = 120, unit = TimeUnit.SECONDS)
  void everySectionRunsAndShowsTheChaptersResults() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    new Tour(out).runAll();
    String text = bytes.toString(StandardCharsets.UTF_8);

    assertThat(text)
        .contains("Thread returned: 42")
        .contains("Sum: 15", "Max: 5", "Updated: [1, 2, 3, 4, 5, 6]")
        .contains("equal: true")
        .doesNotContain("equal: false")
        .contains("parallel sort: [1, 2, 3, 5, 8, 9]")
        .contains("Counter: 10000")
        .contains("Final: updated")
        .contains("Atomic counter: 10000")
        .contains("Worker: condition met, proceeding")
        .contains("Worker (awaitThen): woken without notify")
        .contains("config log_level = info (same instance on a second call: true)")
        .contains("is_valid_identifier(\"hello_42\") = true")
        .contains("is_valid_identifier(\"no spaces\") = false")
        .contains("SpinLock counter: 40000")
        .contains("torn pairs seen: 0")
        .contains("Parallel squares: [1, 4, 9, 16, 25, 36, 49, 64, 81, 100, 121, 144, 169, 196, "
            + "225, 256, 289, 324, 361, 400] (check passed)")
        .contains("report: LockOrderException before waiting; cycle [class \"audit log\", "
            + "class \"account\", class \"audit log\"]")
        .doesNotContain("inversion missed")
        .contains("Tour complete.");
    for (int reader = 0; reader < 5; reader++) {
      assertThat(text).containsPattern("Reader " + reader + ": (initial|updated)");
    }
  }
}
