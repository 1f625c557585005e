package dev.weft;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * {@link WaitingRoom} (SeqLock's writers' waiting room, session 16) excludes, and an exit
 * happens-before the next thread's entry: two threads each enter (untimed), increment a plain
 * field with a separate read and write, and exit. The second one in has either found the room
 * free (the exit's volatile write of {@code occupied}, read by its CAS) or been granted it (the
 * exit's CAS on its node, read by its volatile read), so it sees the first one's write. A lost
 * update (1) means both were inside at once or the second read a stale value.
 *
 * <p>Result: (final count, whether the room is free at the end: 0 free).
 */
@JCStressTest
@Outcome(id = "2, 0", expect = ACCEPTABLE, desc = "exclusive, ordered, and the room left free")
@Outcome(expect = FORBIDDEN, desc = "a lost update, or the room left occupied")
@State
public class WaitingRoomExclusionStress {
  final WaitingRoom room = new WaitingRoom();
  int count;

  private void once() {
    try {
      room.enter(room, false, false, 0L);
    } catch (InterruptedException e) {
      throw new AssertionError(e); // uninterruptible: never thrown
    }
    int c = count;
    count = c + 1;
    room.exit();
  }

  @Actor
  public void first() {
    once();
  }

  @Actor
  public void second() {
    once();
  }

  @Arbiter
  public void arbiter(II_Result r) {
    r.r1 = count;
    r.r2 = room.isOccupied() ? 1 : 0;
  }
}
