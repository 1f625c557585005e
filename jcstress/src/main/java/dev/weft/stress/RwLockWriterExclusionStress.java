package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.RwLock;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Writer exclusion of {@link RwLock}: a writer (guard form) increments two fields
 * non-atomically; the other thread first reads both under the read lock (it must see them
 * equal: no writer was inside) and then increments them with {@code withWrite} (no increment may
 * be lost: the writers excluded each other).
 */
@JCStressTest
@Outcome(id = {"0, 0, 2", "1, 1, 2"}, expect = ACCEPTABLE,
    desc = "reader saw a consistent state; both writes kept")
@Outcome(expect = FORBIDDEN, desc = "reader saw a half-written state, or a write was lost")
@State
public class RwLockWriterExclusionStress {
  static final class Pair {
    int a;
    int b;
  }

  final RwLock<Pair> lock = new RwLock<>(new Pair());

  @Actor
  public void writer() {
    try (RwLock.WriteGuard<Pair> w = lock.write()) {
      Pair p = w.get();
      p.a = p.a + 1;
      p.b = p.b + 1;
    }
  }

  @Actor
  public void readerThenWriter(III_Result r) {
    try (RwLock.ReadGuard<Pair> g = lock.read()) {
      Pair p = g.get();
      r.r1 = p.a;
      r.r2 = p.b;
    }
    lock.withWrite(p -> {
      p.a = p.a + 1;
      p.b = p.b + 1;
      return null;
    });
  }

  @Arbiter
  public void arbiter(III_Result r) {
    r.r3 = lock.withRead(p -> p.a == p.b ? p.a : -1);
  }
}
