package dev.weft;

import static dev.weft.testing.Heap.fill;
import static dev.weft.testing.Heap.free;
import static dev.weft.testing.Heap.freeSmallest;
import static dev.weft.testing.Heap.waitFor;
import static dev.weft.testing.Scenario.daemon;

import dev.weft.testing.Scenario;
import java.util.function.BooleanSupplier;
import org.jspecify.annotations.Nullable;

/**
 * Session 33's audit of LinkageAfterInitTest's baseline, one of its DANGEROUS sites made to
 * fail: the JVM's first {@code OnceCell.trySet} whose CAS wins over a running initialiser, made
 * in a full heap, while a waiter is parked on the cell. {@code trySetValue} stores the value
 * cache ({@code setValueRelease}) after its CAS and before {@code releaseWaiters}, with no
 * {@code finally}: a first link of that store that throws leaves the waiter parked on a set
 * cell, and the overtaken owner does not wake it either. Run in a fresh JVM ({@code -Xmx32m
 * -XX:+UseSerialGC -XX:-UseTLAB}) by Review33FirstRunTest. Prints "RESULT ..." and halts with 0
 * held, 1 defect, 3 the OOME missed, 2 harness error.
 */
@SuppressWarnings({"StaticAssignmentOfThrowable", "UnusedVariable", "SystemOut"})
final class Review33FirstRunMain {
  private Review33FirstRunMain() {}

  static final Object VALUE = new Object();
  static final Object OWNER_VALUE = new Object();

  // Flags written by the scenario's threads; polled without allocation.
  static volatile @Nullable Thread bThread;
  static volatile int bDone;
  static volatile @Nullable Object bGot;
  static volatile @Nullable Throwable bError;
  static volatile int claimed;
  static volatile int go;

  static final BooleanSupplier NEVER = () -> false;
  static final BooleanSupplier B_DONE = () -> bDone != 0;
  static final BooleanSupplier GO = () -> go != 0;
  static final BooleanSupplier CLAIMED = () -> claimed != 0;
  static final BooleanSupplier B_PARKED = () -> {
    Thread t = bThread;
    return t != null && t.getState() == Thread.State.WAITING;
  };

  static String describe(@Nullable Throwable t) {
    return Scenario.describe(t, 4, true);
  }

  public static void main(String[] args) throws Exception {
    free();
    freeSmallest(0);
    waitFor(3, NEVER); // parks: links LockSupport.parkNanos
    waitFor(0, B_DONE);
    waitFor(0, GO);
    waitFor(0, CLAIMED);
    waitFor(0, B_PARKED);
    describe(new OutOfMemoryError());
    Scenario.runAndHalt(args, Review33FirstRunMain::describe, Review33FirstRunMain::run);
  }

  static String[] run(String scenario, String kind) throws Exception {
    if (scenario.equals("onceTrySet")) {
      return onceTrySet();
    }
    throw new IllegalArgumentException(scenario);
  }

  /**
   * A claims the cell and waits in its initialiser; B waits in await() (parked); main, with the
   * heap full, calls trySet, freeing one small filler per try until a try gets past the
   * outcome's allocation. Then the heap is freed and A finishes (its CAS fails: overtaken).
   * Held: B returns trySet's value.
   */
  static String[] onceTrySet() throws Exception {
    OnceCell<Object> c = new OnceCell<>();
    Object[] aGot = new Object[1];
    Thread a = daemon("A", () -> aGot[0] = c.getOrInit(() -> {
      claimed = 1;
      waitFor(20_000, GO);
      return OWNER_VALUE;
    }));
    if (!waitFor(5000, CLAIMED)) {
      throw new IllegalStateException("A never claimed");
    }
    daemon("B", () -> {
      try {
        bThread = Thread.currentThread(); // from here, a WAITING state is the park in await
        bGot = c.await();
      } catch (Throwable t) {
        free();
        bError = t;
      } finally {
        bDone = 1;
      }
    });
    if (!waitFor(5000, B_PARKED)) {
      throw new IllegalStateException("B never parked");
    }
    boolean setResult = false;
    @Nullable Throwable setError = null;
    int oomes = 0;
    boolean setByATry = false;
    int tries = 0;
    for (; tries < 2000; tries++) {
      fill();
      freeSmallest(tries);
      try {
        setResult = c.trySet(VALUE);
        free();
        break; // went through
      } catch (Throwable t) {
        free();
        setError = t;
        oomes += t instanceof OutOfMemoryError ? 1 : 0;
        if (c.isSet()) {
          setByATry = true; // the CAS won, then the try threw: the window
          break;
        }
      }
    }
    boolean bEnded = waitFor(2000, B_DONE); // before A ends: only trySet can wake B
    go = 1;
    a.join(5000);
    if (!bEnded) {
      bEnded = waitFor(3000, B_DONE);
    }
    String s = "tries=" + tries + " oomes=" + oomes + " setResult=" + setResult
        + " setByAThrowingTry=" + setByATry + " lastSetError=" + describe(setError)
        + " B=" + (bEnded ? "done" : Scenario.stack(bThread, 400))
        + " bGot=" + (bGot == VALUE ? "VALUE" : String.valueOf(bGot))
        + " bError=" + describe(bError)
        + " aGot=" + (aGot[0] == VALUE ? "VALUE" : String.valueOf(aGot[0])) + " " + c;
    boolean good = bEnded && bGot == VALUE && bError == null && c.isSet();
    boolean landed = oomes > 0;
    return new String[] {!good ? "1" : landed ? "0" : "3", s};
  }
}
