package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.function.Supplier;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * NEGATIVE CONTROL (expected to FAIL): a hand-written lazy holder without the acquire/release
 * pairing (a plain field, no volatile, no claim). A reader can see the object before its plain
 * fields (compiler or hardware reordering), and two racing callers can both run the supplier
 * and see different objects. Compare {@link LazyPublicationStress}, which forbids the same
 * outcomes for {@code dev.weft.Lazy}, and {@link LazyOnceStress}. r1, r2 = fields seen by the
 * reader; r3 = 1 if both callers got the same object, 2 if the supplier ran twice.
 */
@JCStressTest
@Outcome(id = "1, 2, 1", expect = ACCEPTABLE, desc = "fully built, one run (what Lazy guarantees)")
@Outcome(id = "1, 2, 2", expect = FORBIDDEN, desc = "supplier ran twice")
@Outcome(expect = FORBIDDEN, desc = "half-built object seen")
@State
public class BrokenLazyPublicationStress {
  static final class Plain {
    int x;
    int y;
  }

  /** The broken pattern: check-then-act on a plain field. */
  static final class PlainLazy<T> {
    private final Supplier<T> supplier;
    private T value; // not volatile: no release when written, no acquire when read

    PlainLazy(Supplier<T> supplier) {
      this.supplier = supplier;
    }

    T get() {
      T v = value;
      if (v == null) {
        v = supplier.get();
        value = v;
      }
      return v;
    }
  }

  final PlainLazy<Plain> lazy = new PlainLazy<>(() -> {
    Plain p = new Plain();
    p.x = 1;
    p.y = 2;
    return p;
  });
  Plain writerSaw;
  Plain readerSaw;

  @Actor
  public void writer() {
    writerSaw = lazy.get();
  }

  @Actor
  public void reader(III_Result r) {
    Plain p = lazy.get();
    readerSaw = p;
    r.r1 = p.x;
    r.r2 = p.y;
  }

  @Arbiter
  public void check(III_Result r) {
    r.r3 = writerSaw == readerSaw ? 1 : 2;
  }
}
