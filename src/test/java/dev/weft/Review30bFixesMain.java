package dev.weft;

import dev.weft.testing.Heap;
import dev.weft.testing.Scenario;
import java.util.concurrent.locks.Lock;
import org.jspecify.annotations.Nullable;

/**
 * Review 30b, forked JVM ({@code -Xmx32m -XX:+UseSerialGC -XX:-UseTLAB
 * -Ddev.weft.lockOrder=check}), run by Review30bFixesTest.
 *
 * <p>{@code freshHeld <spin|ticket>}: a thread that holds no checked lock (so it has no held
 * list) tryLocks a free checked lock in a full heap: acquired() cannot make the list and drops the hold
 * (the fix). Then it unlocks, still in a full heap: released() asks for the list again, which
 * allocates. Does unlock() throw with the lock still held? Exit 0 held, 1 defect, 3 miss, 2
 * harness error; one line "RESULT ...".
 */
@SuppressWarnings({"LockNotBeforeTry", "StaticAssignmentOfThrowable"})
final class Review30bFixesMain {
  private Review30bFixesMain() {}

  static volatile @Nullable Throwable lockError;
  static volatile @Nullable Throwable unlockError;
  static volatile boolean heldAfterUnlockError;
  static volatile int phase; // 0 waiting, 1 go, 2 done

  private static final class Go implements java.util.function.BooleanSupplier {
    @Override
    public boolean getAsBoolean() {
      return phase >= 1;
    }
  }

  private static final class Done implements java.util.function.BooleanSupplier {
    @Override
    public boolean getAsBoolean() {
      return phase >= 2;
    }
  }

  private static final Go GO = new Go();
  private static final Done DONE = new Done();

  public static void main(String[] args) throws Exception {
    Scenario.runAndHalt(args, String::valueOf, (scenario, kind) -> freshHeld(kind));
  }

  static String[] freshHeld(String kind) throws Exception {
    Lock l = Review30HeapMain.newLock(kind);
    // Links the lock's paths and LockOrder (a warm-up thread: the test thread must stay without
    // a held list).
    Thread w = Scenario.daemon("warm", () -> {
      for (int i = 0; i < 1000; i++) {
        l.lock();
        l.unlock();
        if (l.tryLock()) {
          l.unlock();
        }
      }
    });
    w.join(10_000);
    Heap.waitFor(0, GO);
    Heap.waitFor(0, DONE);
    Review30HeapMain.held(l);
    boolean enabled = LockOrder.enabled();
    SpinBackoff.yieldUnlessVirtual(); // initialises SpinBackoff (its static init allocates)
    Heap.free(); // links Arrays.fill: the first call allocates
    Thread t = Scenario.daemon("T", () -> {
      Heap.waitFor(60_000, GO);
      try {
        if (!l.tryLock()) { // a tryLock: lock() makes the held list first, in beforeWait
          phase = 3;
          return;
        }
      } catch (Throwable e) {
        Heap.free();
        lockError = e;
        phase = 2;
        return;
      }
      try {
        l.unlock();
      } catch (Throwable e) {
        Heap.free();
        unlockError = e;
        heldAfterUnlockError = Review30HeapMain.held(l);
      }
      Heap.free();
      phase = 2;
    });
    boolean full = Heap.fill();
    phase = 1;
    Heap.waitFor(20_000, DONE);
    Heap.free();
    t.join(5_000);
    boolean others = Review30HeapMain.otherThreadLocks(l);
    String s = "enabled=" + enabled + " full=" + full + " lockError=" + lockError
        + " unlockError=" + unlockError + " heldAfterUnlockError=" + heldAfterUnlockError
        + " otherThreadLocks=" + others;
    int code;
    if (phase != 2 || !others || lockError != null || unlockError != null) {
      code = 1;
    } else {
      code = full ? 0 : 3;
    }
    return new String[] {Integer.toString(code), s};
  }
}
