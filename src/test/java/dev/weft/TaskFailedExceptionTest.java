package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import org.junit.jupiter.api.Test;

class TaskFailedExceptionTest {
  @Test
  void keepsMessageAndCauseAndIsUnchecked() {
    IllegalStateException cause = new IllegalStateException("boom");
    TaskFailedException e = new TaskFailedException("task weft-1 failed", cause);
    assertThat(e).isInstanceOf(RuntimeException.class)
        .hasMessage("task weft-1 failed")
        .hasCause(cause);
  }

  @Test
  void nullsAreRejectedByName() {
    assertThatNullPointerException()
        .isThrownBy(() -> new TaskFailedException(null, new RuntimeException()))
        .withMessage("message");
    assertThatNullPointerException()
        .isThrownBy(() -> new TaskFailedException("m", null))
        .withMessage("cause");
  }
}
