package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.OnceCell;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Safe publication through {@link OnceCell#trySet}: a reader that sees the value with the
 * non-waiting {@code orElse} (a single acquire load) sees its plain fields as written before
 * {@code trySet}. (-1, -1) = not set yet.
 */
@JCStressTest
@Outcome(id = "-1, -1", expect = ACCEPTABLE, desc = "not set yet")
@Outcome(id = "1, 2", expect = ACCEPTABLE, desc = "set and fully built")
@Outcome(expect = FORBIDDEN, desc = "half-built object seen")
@State
public class OnceCellPublicationStress {
  /** Plain fields on purpose: only the cell's release/acquire makes them visible. */
  static final class Plain {
    int x;
    int y;
  }

  final OnceCell<Plain> cell = new OnceCell<>();

  @Actor
  public void writer() {
    Plain p = new Plain();
    p.x = 1;
    p.y = 2;
    cell.trySet(p);
  }

  @Actor
  public void reader(II_Result r) {
    Plain p = cell.orElse(null);
    if (p == null) {
      r.r1 = -1;
      r.r2 = -1;
    } else {
      r.r1 = p.x;
      r.r2 = p.y;
    }
  }
}
