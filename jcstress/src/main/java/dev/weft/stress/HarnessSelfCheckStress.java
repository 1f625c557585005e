package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Harness self-check (no weft code): a plain write published by a volatile write is visible
 * to a thread that reads the volatile first. Keeps the pipeline honest while primitives land.
 */
@JCStressTest
@Outcome(id = {"0, 0", "0, 42", "1, 42"}, expect = ACCEPTABLE, desc = "not yet published, or fully published")
@Outcome(id = "1, 0", expect = FORBIDDEN, desc = "flag seen but plain write lost")
@State
public class HarnessSelfCheckStress {
  int data;
  volatile int flag;

  @Actor
  public void writer() {
    data = 42;
    flag = 1;
  }

  @Actor
  public void reader(II_Result r) {
    r.r1 = flag;
    r.r2 = data;
  }
}
