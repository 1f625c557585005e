package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * NEGATIVE CONTROL for {@code dev.weft.ParallelPoolHandOverStress}: the pool's hand-over
 * hand-shake with the volatile accesses weakened to opaque. The idle thread writes {@code
 * parked} and reads {@code slot}; the hand-over writes {@code slot} and reads {@code parked}.
 * With volatile accesses (the real pool) at least one side sees the other's write; with opaque
 * ones the store-then-load pair may be reordered (x86 does it through its store buffer), and
 * both may read the old values: the thread parks with a task in its slot and the hand-over
 * sends no unpark. jcstress must flag (0, 0).
 */
@JCStressTest
@Outcome(id = {"1, 1", "1, 0", "0, 1"}, expect = ACCEPTABLE, desc = "one side saw the other")
@Outcome(id = "0, 0", expect = FORBIDDEN, desc = "lost wake-up: neither saw the other")
@State
public class BrokenPoolHandOverStress {
  private static final VarHandle PARKED;
  private static final VarHandle SLOT;

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      PARKED = l.findVarHandle(BrokenPoolHandOverStress.class, "parked", int.class);
      SLOT = l.findVarHandle(BrokenPoolHandOverStress.class, "slot", int.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  int parked;
  int slot;

  /** The idle thread: announce the park, then look for a task (r1: did it see the task?). */
  @Actor
  public void idleThread(II_Result r) {
    PARKED.setOpaque(this, 1); // BROKEN: the pool uses a volatile write
    r.r1 = (int) SLOT.getOpaque(this); // BROKEN: the pool uses a volatile read
  }

  /** The hand-over: put the task, then look for a parked thread (r2: would it unpark?). */
  @Actor
  public void handOver(II_Result r) {
    SLOT.setOpaque(this, 1); // BROKEN: the pool uses a volatile CAS
    r.r2 = (int) PARKED.getOpaque(this); // BROKEN: the pool uses a volatile read
  }
}
