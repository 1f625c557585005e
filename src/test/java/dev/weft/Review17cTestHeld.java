package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Session 17c review of {@link OnceCell} and {@link Lazy}: attacks that held. */
@Timeout(120)
class Review17cTestHeld {
  private static final long JOIN_MILLIS = TimeUnit.SECONDS.toMillis(30);

  static final class Box {
    int a; // non-final on purpose
    long b;
    String c;

    Box(int a) {
      this.a = a;
      this.b = a * 3L;
      this.c = "v" + a;
    }
  }

  static void joinAll(List<Thread> ts) throws InterruptedException {
    for (Thread t : ts) {
      t.join(JOIN_MILLIS);
      assertThat(t.isAlive()).as(t.getName() + " ended").isFalse();
    }
  }

  @SuppressWarnings("unchecked")
  static <E extends Throwable> RuntimeException sneaky(Throwable t) throws E {
    throw (E) t;
  }

  /** Attacked: exactly-once and safe publication of a non-final-field object, 8 racers x 300. */
  @Test
  void held_exactlyOnceAndFullyConstructed() throws Exception {
    for (int round = 0; round < 300; round++) {
      AtomicInteger runs = new AtomicInteger();
      int r = round;
      Lazy<Box> lazy = Lazy.of(() -> new Box(r + runs.incrementAndGet() * 0));
      OnceCell<Box> cell = new OnceCell<>();
      CountDownLatch go = new CountDownLatch(1);
      AtomicReference<Throwable> bad = new AtomicReference<>();
      Box[] seenL = new Box[8];
      Box[] seenC = new Box[8];
      List<Thread> ts = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        int k = i;
        Thread t =
            new Thread(
                () -> {
                  try {
                    go.await();
                    Box x = lazy.get();
                    Box y = cell.getOrInit(() -> new Box(r + 1000 + runs.incrementAndGet() * 0));
                    if (x.a != r || x.b != r * 3L || !x.c.equals("v" + r)) {
                      throw new AssertionError("half-built lazy value");
                    }
                    if (y.a != r + 1000 || y.b != (r + 1000) * 3L) {
                      throw new AssertionError("half-built cell value");
                    }
                    seenL[k] = x;
                    seenC[k] = y;
                  } catch (Throwable e) {
                    bad.set(e);
                  }
                });
        t.start();
        ts.add(t);
      }
      go.countDown();
      joinAll(ts);
      assertThat(bad.get()).isNull();
      assertThat(runs.get()).as("one run per Lazy and per cell").isEqualTo(2);
      for (int i = 1; i < 8; i++) {
        assertThat(seenL[i]).isSameAs(seenL[0]);
        assertThat(seenC[i]).isSameAs(seenC[0]);
      }
    }
  }

  /** Attacked: REMEMBER with a sneaky checked exception: every documented read, exactly. */
  @Test
  void held_rememberSneakyCheckedFailure() throws Exception {
    IOException boom = new IOException("boom");
    AtomicInteger runs = new AtomicInteger();
    OnceCell<String> cell = new OnceCell<>(Lazy.FailurePolicy.REMEMBER);
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread owner =
        new Thread(
            () -> {
              try {
                cell.getOrInit(
                    () -> {
                      runs.incrementAndGet();
                      entered.countDown();
                      try {
                        release.await();
                      } catch (InterruptedException e) {
                        throw new AssertionError(e);
                      }
                      throw Review17cTestHeld.<RuntimeException>sneaky(boom);
                    });
              } catch (Throwable t) {
                assertThat(t).isSameAs(boom);
              }
            });
    owner.start();
    entered.await();
    AtomicReference<Throwable> waiterSaw = new AtomicReference<>();
    Thread waiter =
        new Thread(
            () -> {
              try {
                cell.getOrInit(() -> "never");
              } catch (Throwable t) {
                waiterSaw.set(t);
              }
            });
    waiter.start();
    awaitBlocked(waiter);
    release.countDown();
    joinAll(List.of(owner, waiter));
    assertThat(waiterSaw.get()).isInstanceOf(TaskFailedException.class).hasCause(boom);
    assertThatThrownBy(() -> cell.getOrInit(() -> "x"))
        .isInstanceOf(TaskFailedException.class)
        .hasCause(boom);
    assertThatThrownBy(cell::await).isInstanceOf(TaskFailedException.class).hasCause(boom);
    assertThatThrownBy(() -> cell.await(Duration.ZERO)).isInstanceOf(TaskFailedException.class);
    assertThatThrownBy(cell::awaitUninterruptibly).isInstanceOf(TaskFailedException.class);
    assertThat(cell.trySet("y")).isFalse();
    assertThatThrownBy(() -> cell.set("y")).isInstanceOf(IllegalStateException.class).hasCause(boom);
    assertThat(cell.isSet()).isFalse();
    assertThat(cell.orElse("d")).isEqualTo("d");
    assertThatThrownBy(cell::orElseThrow).isInstanceOf(NoSuchElementException.class).hasCause(boom);
    assertThat(runs.get()).isEqualTo(1);
    assertThat(cell.toString()).startsWith("OnceCell[failed: ");
  }

  /** Attacked: RETRY with getOrInit and await waiters parked when the owner fails (Error). */
  @Test
  void held_retryReleasesAndRerunsOnceForWaiters() throws Exception {
    for (int round = 0; round < 50; round++) {
      OnceCell<Integer> cell = new OnceCell<>();
      AtomicInteger runs = new AtomicInteger();
      CountDownLatch entered = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      List<Thread> ts = new ArrayList<>();
      Thread owner =
          new Thread(
              () ->
                  assertThatThrownBy(
                          () ->
                              cell.getOrInit(
                                  () -> {
                                    runs.incrementAndGet();
                                    entered.countDown();
                                    try {
                                      release.await();
                                    } catch (InterruptedException e) {
                                      throw new AssertionError(e);
                                    }
                                    throw new OutOfMemoryError("fake");
                                  }))
                      .isInstanceOf(OutOfMemoryError.class));
      owner.start();
      entered.await();
      Integer[] got = new Integer[6];
      for (int i = 0; i < 6; i++) {
        int k = i;
        Thread t =
            new Thread(
                () -> {
                  try {
                    got[k] =
                        k < 4
                            ? cell.getOrInit(() -> 100 + k + 0 * runs.incrementAndGet())
                            : cell.await();
                  } catch (InterruptedException e) {
                    throw new AssertionError(e);
                  }
                });
        t.start();
        ts.add(t);
      }
      for (Thread t : ts) {
        awaitBlocked(t);
      }
      release.countDown();
      ts.add(owner);
      joinAll(ts);
      assertThat(runs.get()).as("the failed run plus exactly one rerun").isEqualTo(2);
      for (Integer g : got) {
        assertThat(g).isEqualTo(got[0]);
      }
      assertThat(cell.waiterCount()).isZero();
    }
  }

  /** Attacked: recursion through a second cell and through every waiting form, same thread. */
  @Test
  void held_recursionThroughOtherCellAndEveryWaitForm() {
    OnceCell<String> a = new OnceCell<>();
    List<Lazy<String>> b = new ArrayList<>();
    b.add(Lazy.of(() -> a.getOrInit(() -> "inner")));
    assertThatThrownBy(() -> a.getOrInit(() -> b.get(0).get()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("recursive initialisation");
    assertThat(a.isSet()).isFalse();
    assertThat(b.get(0).isInitialized()).isFalse();
    List<Supplier<Object>> forms = new ArrayList<>();
    forms.add(() -> rethrow(() -> a.await(Duration.ZERO)));
    forms.add(() -> rethrow(() -> a.await(Duration.ofSeconds(-5))));
    forms.add(() -> rethrow(() -> a.await(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999))));
    forms.add(() -> rethrow(a::await));
    forms.add(a::awaitUninterruptibly);
    for (Supplier<Object> f : forms) {
      assertThatThrownBy(() -> a.getOrInit(() -> String.valueOf(f.get())))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("recursive initialisation");
    }
    assertThat(a.getOrInit(() -> "ok")).isEqualTo("ok");
    assertThat(b.get(0).get()).isEqualTo("ok");
  }

  interface Call {
    Object call() throws Exception;
  }

  static Object rethrow(Call c) {
    try {
      return c.call();
    } catch (Exception e) {
      throw Review17cTestHeld.<RuntimeException>sneaky(e);
    }
  }

  /** Attacked: timed await at 0 / negative / huge; interrupts before, during; status kept. */
  @Test
  void held_timeoutsAndInterrupts() throws Exception {
    OnceCell<String> cell = new OnceCell<>();
    Thread.currentThread().interrupt();
    assertThatThrownBy(() -> cell.await(Duration.ZERO)).isInstanceOf(InterruptedException.class);
    assertThat(Thread.interrupted()).isFalse();
    assertThat(cell.await(Duration.ofNanos(-1))).isFalse();
    assertThat(cell.await(Duration.ofNanos(1))).isFalse();
    AtomicReference<Object> hugeR = new AtomicReference<>();
    AtomicReference<Object> intrR = new AtomicReference<>();
    AtomicReference<Object> unintrR = new AtomicReference<>();
    Thread huge =
        new Thread(
            () -> {
              try {
                hugeR.set(cell.await(Duration.ofSeconds(Long.MAX_VALUE, 999_999_999)));
              } catch (InterruptedException e) {
                hugeR.set(e);
              }
            });
    Thread intr =
        new Thread(
            () -> {
              try {
                intrR.set(cell.await());
              } catch (InterruptedException e) {
                intrR.set("interrupted");
              }
            });
    Thread unintr =
        new Thread(
            () -> {
              String v = cell.awaitUninterruptibly();
              unintrR.set(v + Thread.currentThread().isInterrupted());
            });
    huge.start();
    awaitBlocked(huge);
    intr.start();
    awaitBlocked(intr);
    intr.interrupt();
    intr.join(JOIN_MILLIS);
    assertThat(intrR.get()).isEqualTo("interrupted");
    unintr.start();
    awaitBlocked(unintr);
    for (int i = 0; i < 20; i++) {
      unintr.interrupt();
    }
    awaitBlocked(unintr);
    cell.set("v");
    joinAll(List.of(huge, unintr));
    assertThat(hugeR.get()).isEqualTo(true);
    assertThat(unintrR.get()).as("value and interrupt status kept").isEqualTo("vtrue");
    Thread.currentThread().interrupt();
    assertThat(cell.await(Duration.ZERO)).as("a set cell answers without the status").isTrue();
    assertThat(cell.await()).isEqualTo("v");
    assertThat(Thread.interrupted()).isTrue();
  }

  /** Attacked: trySet racing a running getOrInit initialiser, 2000 rounds: one instance. */
  @Test
  void held_trySetRacingInitialiser() throws Exception {
    for (int round = 0; round < 2000; round++) {
      OnceCell<Object> cell = new OnceCell<>();
      Object setV = new Object();
      Object[] got = new Object[2];
      boolean[] won = new boolean[1];
      CountDownLatch go = new CountDownLatch(1);
      Thread init =
          new Thread(
              () -> {
                try {
                  go.await();
                } catch (InterruptedException e) {
                  throw new AssertionError(e);
                }
                got[0] = cell.getOrInit(Object::new);
              });
      Thread setter =
          new Thread(
              () -> {
                try {
                  go.await();
                } catch (InterruptedException e) {
                  throw new AssertionError(e);
                }
                won[0] = cell.trySet(setV);
                got[1] = cell.orElseThrow();
              });
      init.start();
      setter.start();
      go.countDown();
      joinAll(List.of(init, setter));
      assertThat(got[0]).isSameAs(got[1]).isSameAs(cell.orElseThrow());
      assertThat(won[0]).isEqualTo(got[0] == setV);
    }
  }

  /** Attacked: 2000 virtual waiters while the initialiser sleeps (JDK 21+). */
  @Test
  void held_manyVirtualWaiters() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21);
    AtomicInteger runs = new AtomicInteger();
    Lazy<Box> lazy =
        Lazy.of(
            () -> {
              runs.incrementAndGet();
              try {
                Thread.sleep(200);
              } catch (InterruptedException e) {
                throw new AssertionError(e);
              }
              return new Box(7);
            });
    Box[] seen = new Box[2000];
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < seen.length; i++) {
      int k = i;
      ts.add(SpinLockHandOverReviewTest.startVirtual("v" + i, () -> seen[k] = lazy.get()));
    }
    joinAll(ts);
    assertThat(runs.get()).isEqualTo(1);
    for (Box b : seen) {
      assertThat(b).isSameAs(seen[0]);
    }
    assertThat(lazy.waiterCount()).isZero();
  }

  /** Attacked: one carrier; owner parks in the initialiser; 200 virtual waiters and awaiters. */
  @Test
  void held_oneCarrier() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21);
    String out = VirtualReadersHarness.forkOneCarrier(OneCarrierMain.class);
    assertThat(out).contains("ok");
  }

  /** Main for {@link #held_oneCarrier}. */
  public static final class OneCarrierMain {
    public static void main(String[] args) throws Exception {
      for (int round = 0; round < 20; round++) {
        OnceCell<String> cell = new OnceCell<>();
        CountDownLatch entered = new CountDownLatch(1);
        List<Thread> ts = new ArrayList<>();
        AtomicInteger ok = new AtomicInteger();
        ts.add(
            SpinLockHandOverReviewTest.startVirtual(
                "owner",
                () -> {
                  cell.getOrInit(
                      () -> {
                        entered.countDown();
                        try {
                          Thread.sleep(5);
                        } catch (InterruptedException e) {
                          throw new AssertionError(e);
                        }
                        return "v";
                      });
                  ok.incrementAndGet();
                }));
        entered.await();
        for (int i = 0; i < 200; i++) {
          int k = i;
          ts.add(
              SpinLockHandOverReviewTest.startVirtual(
                  "w" + i,
                  () -> {
                    try {
                      String v =
                          k % 3 == 0
                              ? cell.getOrInit(() -> "no")
                              : k % 3 == 1
                                  ? cell.await()
                                  : (cell.await(Duration.ofNanos(2_000)) ? "v" : cell.await());
                      if ("v".equals(v)) {
                        ok.incrementAndGet();
                      }
                    } catch (InterruptedException e) {
                      throw new AssertionError(e);
                    }
                  }));
        }
        for (Thread t : ts) {
          t.join(20_000);
          if (t.isAlive()) {
            System.out.println("stuck " + t);
            System.exit(2);
          }
        }
        if (ok.get() != 201) {
          System.out.println("bad " + ok.get());
          System.exit(3);
        }
      }
      System.out.println("ok");
    }
  }

  static OnceCell<?>[] soeCells = new OnceCell<?>[200_000];
  static int soeCount;

  static void soeProbe(int depth) {
    try {
      if (depth < 100_000_000) {
        soeProbe(depth + 1);
      }
    } catch (StackOverflowError e) {
      // unwind: every frame below tries an operation with a little more stack
    }
    OnceCell<Integer> c = new OnceCell<>();
    if (soeCount < soeCells.length) {
      soeCells[soeCount++] = c;
    }
    try {
      c.getOrInit(() -> 1);
    } catch (StackOverflowError e) {
      // expected near the limit
    }
  }

  /** Attacked: getOrInit at every stack depth near overflow never leaves a claim stuck. */
  @Test
  void held_stackOverflowNeverLeavesAClaimStuck() throws Exception {
    AtomicInteger stuck = new AtomicInteger();
    Thread t =
        new Thread(
            null,
            () -> {
              for (int r = 0; r < 3; r++) {
                soeCount = 0;
                soeProbe(0);
                for (int i = 0; i < soeCount; i++) {
                  if (soeCells[i].toString().contains("initialising")) {
                    stuck.incrementAndGet();
                  }
                }
              }
            },
            "soe",
            1 << 20);
    t.start();
    t.join(JOIN_MILLIS);
    assertThat(t.isAlive()).isFalse();
    assertThat(stuck.get()).isZero();
  }

  /**
   * Attacked: a cycle across two cells and two threads (A's initialiser reads B, B's reads A).
   * Not covered by the docs (only same-thread recursion is detected): both threads block, as with
   * the holder idiom (class-init deadlock) - JDK too. Held: a trySet from a third thread breaks
   * it, and both get the set value, as documented for set-over-initialiser.
   */
  @Test
  void held_crossThreadCycleIsBrokenByTrySet() throws Exception {
    OnceCell<String> a = new OnceCell<>();
    OnceCell<String> b = new OnceCell<>();
    CountDownLatch bothIn = new CountDownLatch(2);
    AtomicReference<Object> r1 = new AtomicReference<>();
    AtomicReference<Object> r2 = new AtomicReference<>();
    Thread t1 =
        new Thread(
            () ->
                r1.set(
                    a.getOrInit(
                        () -> {
                          bothIn.countDown();
                          awaitLatch(bothIn);
                          return "a(" + b.getOrInit(() -> "b-from-t1") + ")";
                        })));
    Thread t2 =
        new Thread(
            () ->
                r2.set(
                    b.getOrInit(
                        () -> {
                          bothIn.countDown();
                          awaitLatch(bothIn);
                          return "b(" + a.getOrInit(() -> "a-from-t2") + ")";
                        })));
    t1.start();
    t2.start();
    bothIn.await();
    awaitBlocked(t1);
    awaitBlocked(t2);
    assertThat(a.toString()).isEqualTo("OnceCell[initialising]");
    assertThat(a.trySet("rescue")).isTrue();
    joinAll(List.of(t1, t2));
    assertThat(r1.get()).isEqualTo("rescue");
    assertThat(r2.get()).isEqualTo("b(rescue)");
    assertThat(b.orElseThrow()).isEqualTo("b(rescue)");
  }

  static void awaitLatch(CountDownLatch l) {
    try {
      l.await();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }
}
