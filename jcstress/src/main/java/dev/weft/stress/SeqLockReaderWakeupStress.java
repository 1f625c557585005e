package dev.weft.stress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import dev.weft.SeqLock;
import java.util.concurrent.ThreadLocalRandom;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Mode;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.Signal;
import org.openjdk.jcstress.annotations.State;

/**
 * Issue 20: a {@link SeqLock} reader that waits for the lock (here {@code beginRead} waiting out
 * a writer: it registers in the readers-waiting count, spins, yields, then parks in the lock's
 * reader slot) always gets through once the writer releases, wherever the release lands in its
 * wait. The release stores the sequence (volatile) and then reads the reader slot (volatile);
 * the reader publishes itself in the slot (CAS) and then re-reads the sequence (volatile):
 * Dekker, so one of them sees the other. A reader left parked would show as STALE; unlike
 * {@code SpinLock}'s waiters, this one has no timer to recover with, so this test does catch
 * a broken hand-shake.
 *
 * <p>The signal takes the write lock first, lets the reader start, and releases after a hold
 * chosen at random per sample: at once, after 0-40 &micro;s of spinning (across the reader's
 * spin, yield and publish-then-park steps), or once the reader's thread is parked.
 */
@JCStressTest(Mode.Termination)
@Outcome(id = "TERMINATED", expect = ACCEPTABLE, desc = "the reader got through after the release")
@Outcome(
    id = "STALE",
    expect = FORBIDDEN,
    desc = "lost wake-up: the write lock was released and the reader stayed parked")
@State
public class SeqLockReaderWakeupStress {
  /** Longest wait for the reader to park: the signal must never hang on its own. */
  private static final long PHASE_WAIT_NANOS = 50_000_000L;

  final SeqLock lock = new SeqLock();
  volatile boolean held;
  volatile Thread readerThread;

  @Actor
  public void reader() {
    readerThread = Thread.currentThread();
    while (!held) {
      Thread.onSpinWait();
    }
    lock.beginRead(); // waits for the writer's release
  }

  @Signal
  public void release() {
    SeqLock.WriteGuard g = lock.writeUninterruptibly();
    held = true;
    ThreadLocalRandom rnd = ThreadLocalRandom.current();
    switch (rnd.nextInt(3)) {
      case 0:
        break; // release at once
      case 1:
        long end = System.nanoTime() + rnd.nextLong(40_000L);
        while (System.nanoTime() - end < 0L) {
          Thread.onSpinWait();
        }
        break;
      default:
        awaitParked();
        break;
    }
    g.close();
  }

  private void awaitParked() {
    long end = System.nanoTime() + PHASE_WAIT_NANOS;
    for (;;) {
      Thread t = readerThread;
      if (t != null) {
        Thread.State s = t.getState();
        if (s == Thread.State.WAITING || s == Thread.State.TIMED_WAITING) {
          return;
        }
      }
      if (System.nanoTime() - end >= 0L) {
        return;
      }
      Thread.onSpinWait();
    }
  }
}
