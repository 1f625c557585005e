package dev.weft;

import static dev.weft.testing.Waits.awaitBlocked;
import static dev.weft.testing.Waits.awaitParkedOn;
import static dev.weft.testing.Waits.isParked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Adversarial review of issue 20's "Readers before the next write" (SeqLock's algorithm notes):
 * a reader that waits for the lock for a pass registers in {@code readersWaiting}, and writers
 * stay out while the count is nonzero. Each test names the claim it attacks. Windows used:
 * "seqlock.reader-registered" (a reader has registered, before its first attempt).
 */
@Timeout(60)
@SuppressWarnings("try") // hooks and guards held for their scope only
class SeqLockReaderFirstAdversarialTest {
  private static final long BOUND_S = 10;

  private final SeqLock lock = new SeqLock();
  private long x;
  private long y;

  private static Thread start(String name, Runnable body) {
    Thread t = new Thread(body, "test-" + name);
    t.start();
    return t;
  }

  private static void joinAll(List<Thread> ts) throws InterruptedException {
    for (Thread t : ts) {
      t.join(TimeUnit.SECONDS.toMillis(30));
    }
    for (Thread t : ts) {
      assertThat(t.isAlive()).as("%s still running", t.getName()).isFalse();
    }
  }

  /** Whether the current thread runs a read function's pass under {@link #lock}. */
  private boolean onLockedPass() {
    return lock.reader == Thread.currentThread();
  }

  // ---- defect: writers starve behind a chain of reader passes ---------------------------------

  // DEFECT (claim 3, "writers cannot starve: readers fall back only after failed validations,
  // which need writes, so ... the count drains"). A reader's pass under the lock makes the
  // sequence odd exactly like a write, so a reader that starts a read during another reader's
  // pass spins READ_SPINS, falls back and registers. Two readers whose passes overlap each
  // other's arrival keep the count nonzero at every release, and a writer that has waited since
  // before the first pass never gets the lock, although not one write happens in between. The
  // schedule is pinned: each locked pass is held until the other reader has registered. Fails
  // every run (8 of 8: the writer is still waiting after 13 reader passes); passes with the
  // "writer's turn" fix proposed in the review.
  @Test
  void aWriterIsNotStarvedByReadersWhosePassesMakeEachOtherFallBack() throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    Semaphore registered = new Semaphore(0); // registrations not yet matched by a pass
    Semaphore inPass = new Semaphore(0); // a locked pass has started
    Semaphore endPass = new Semaphore(0); // lets the locked pass in progress end
    AtomicLong passes = new AtomicLong();
    CountDownLatch wrote = new CountDownLatch(1);
    List<Thread> ts = new ArrayList<>();
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (name.equals("seqlock.reader-registered")
                  && Thread.currentThread().getName().startsWith("test-chain-reader")) {
                registered.release();
              }
            })) {
      SeqLock.WriteGuard seed = lock.write(); // the one write: makes both readers fall back
      try {
        for (int r = 0; r < 2; r++) {
          ts.add(
              start(
                  "chain-reader-" + r,
                  () -> {
                    try {
                      while (!stop.get()) {
                        lock.readLong(
                            () -> {
                              if (onLockedPass() && !stop.get()) {
                                registered.acquireUninterruptibly(); // this reader's own
                                passes.incrementAndGet();
                                inPass.release();
                                endPass.acquireUninterruptibly();
                              }
                              return x;
                            });
                      }
                    } catch (Throwable e) {
                      failure.compareAndSet(null, e);
                    }
                  }));
        }
        // Both readers registered behind the seed write (two registrations pending).
        assertThat(registered.tryAcquire(2, BOUND_S, TimeUnit.SECONDS)).isTrue();
        registered.release(2);
        Thread writer =
            start(
                "starved-writer",
                () -> {
                  try (SeqLock.WriteGuard g = lock.write()) {
                    y++;
                    wrote.countDown();
                  } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                  }
                });
        ts.add(writer);
        awaitBlocked(writer); // waiting behind the seed write (and the registered readers)
      } finally {
        seed.close();
      }
      // Reader passes, each ended only once the other reader has registered again.
      int maxPasses = 12;
      for (int k = 0; k < maxPasses && wrote.getCount() > 0; k++) {
        if (!inPass.tryAcquire(BOUND_S, TimeUnit.SECONDS)) {
          break; // no pass started: the writer holds the lock (or went by)
        }
        // Wait until the other reader has registered (bounded); then end this pass. Since the
        // chain fix a reader behind another reader's pass does not register, so this wait
        // times out: 300 ms is ample for a registration that could happen.
        if (registered.tryAcquire(300, TimeUnit.MILLISECONDS)) {
          registered.release();
        }
        endPass.release();
      }
      assertThat(wrote.await(1, TimeUnit.SECONDS))
          .as(
              "writer waiting since before the first of %d reader passes (no write in between)",
              passes.get())
          .isTrue();
    } finally {
      stop.set(true);
      endPass.release(1_000);
      registered.release(1_000);
      joinAll(ts);
    }
    assertThat(failure.get()).isNull();
  }

  // DEFECT (same root cause as above, without a pinned schedule). The class documentation says
  // "That is the only way a reader ever delays a writer: by one pass of its read function".
  // Four readers whose read function takes ~100 us read continuously; a write held until all
  // four wait behind it seeds the fallbacks; then a writer asks for the lock (tryWrite, 1 s) and
  // the test counts the readers' locked passes from when that writer is parked in the waiting
  // room until it holds the lock. Allowing two passes per reader, the bound is 8. Observed on
  // the 2-core review machine: 13 to 2,923 passes (writer waits of 13 ms to over 500 ms, one
  // timeout); fails in every run so far (4 of 4 in this form, 4 of 4 counting from tryWrite
  // instead; it stops at the first round over the bound, of
  // up to 8 rounds). With the "writer's turn" fix proposed in the review it passes (3 of 3).
  @Test
  void aReaderDelaysAWriterByAtMostAPassOfItsOwn() throws Exception {
    int readers = 4;
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    List<String> rounds = new ArrayList<>();
    long worst = 0;
    try {
      for (int r = 0; r < readers; r++) {
        ts.add(
            start(
                "slow-reader-" + r,
                () -> {
                  try {
                    while (!stop.get()) {
                      long[] p =
                          lock.read(
                              () -> {
                                long a = x;
                                LockSupport.parkNanos(100_000L); // a slow read function
                                return new long[] {a, y};
                              });
                      if (p[0] != p[1]) {
                        throw new AssertionError("torn read " + p[0] + "/" + p[1]);
                      }
                    }
                  } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                  }
                }));
      }
      for (int round = 0; round < 8 && worst <= 2L * readers; round++) {
        SeqLock.WriteGuard seed = lock.write();
        try {
          x++;
          y++;
          for (Thread t : ts) {
            awaitParkedOn(t, lock); // registered, waiting behind the seed write
          }
        } finally {
          seed.close();
        }
        // A writer that waits (tryWrite, 1 s); passes are counted from when it is parked in the
        // waiting room until it holds the lock.
        AtomicLong passesAtAcquire = new AtomicLong(-1);
        CountDownLatch done = new CountDownLatch(1);
        long t0 = System.nanoTime();
        Thread w =
            start(
                "waiting-writer",
                () -> {
                  try {
                    SeqLock.WriteGuard g = lock.tryWrite(Duration.ofSeconds(1));
                    if (g != null) {
                      try (g) {
                        passesAtAcquire.set(lock.fallbackReads()); // under the lock
                        x++;
                        y++;
                      }
                    }
                  } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                  } finally {
                    done.countDown();
                  }
                });
        long before;
        try {
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_S);
          while (done.getCount() > 0
              && !(LockSupport.getBlocker(w) == lock && isParked(w))
              && System.nanoTime() - deadline < 0) {
            LockSupport.parkNanos(20_000L); // bounded poll of the writer's state
          }
          before = lock.fallbackReads(); // racy read, approximate start of the count
        } finally {
          w.join(TimeUnit.SECONDS.toMillis(30));
        }
        assertThat(w.isAlive()).isFalse();
        long waitedUs = (System.nanoTime() - t0) / 1_000;
        boolean acquired = passesAtAcquire.get() >= 0;
        long passes =
            Math.max(0, (acquired ? passesAtAcquire.get() : lock.fallbackReads()) - before);
        worst = Math.max(worst, passes);
        rounds.add((acquired ? "" : "TIMED OUT ") + passes + " passes/" + waitedUs + " us");
      }
    } finally {
      stop.set(true);
      joinAll(ts);
    }
    assertThat(failure.get()).isNull();
    assertThat(worst)
        .as("reader passes while one writer waited, per round: %s", rounds)
        .isLessThanOrEqualTo(2L * readers);
  }

  // ---- regression scenarios (expected to pass) ------------------------------------------------

  // Claim 1: a writer parked in the waiting room while the lock is FREE but a reader is
  // registered (it must stay parked) is woken by that reader's pass release. The reader is held
  // in the window right after its registration, so the writer really parks on a free lock.
  @Test
  void aWriterParkedOnAFreeLockBehindARegisteredReaderIsWokenByThePass() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    CountDownLatch registeredL = new CountDownLatch(1);
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> ts = new ArrayList<>();
    SeqLock.WriteGuard seed = lock.write();
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (name.equals("seqlock.reader-registered")
                  && Thread.currentThread().getName().equals("test-held-reader")) {
                registeredL.countDown();
                try {
                  go.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            })) {
      AtomicLong seen = new AtomicLong(-1);
      try {
        ts.add(start("held-reader", () -> seen.set(lock.readLong(() -> x + y))));
        assertThat(registeredL.await(BOUND_S, TimeUnit.SECONDS)).isTrue();
      } finally {
        seed.close(); // the lock is free; the reader is registered and held
      }
      assertThat(lock.isWriteLocked()).isFalse();
      assertThat(lock.tryWrite()).as("tryWrite on a free lock with a registered reader").isNull();
      Thread w =
          start(
              "room-writer",
              () -> {
                try (SeqLock.WriteGuard g = lock.write()) {
                  x++;
                  y++;
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              });
      ts.add(w);
      awaitParkedOn(w, lock); // inside the waiting room, parked, with the lock free
      assertThat(lock.isWriteLocked()).isFalse();
      go.countDown();
      joinAll(ts);
      assertThat(seen.get()).as("the reader went first").isEqualTo(0L);
    } finally {
      go.countDown();
      joinAll(ts);
    }
    assertThat(failure.get()).isNull();
    assertThat(x).isEqualTo(1L);
  }

  // Claim 1 with timeouts: tryWrite(timeout) expiring in the waiting room while a reader is
  // registered returns null, leaves no state behind, and a later writer (uninterruptible,
  // SeqLocked-style consumer via SeqLocked below) gets the lock after the reader's pass.
  @Test
  void aTimedWriterExpiringBehindARegisteredReaderLeavesTheLockUsable() throws Exception {
    CountDownLatch registeredL = new CountDownLatch(1);
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> ts = new ArrayList<>();
    SeqLock.WriteGuard seed = lock.write();
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (name.equals("seqlock.reader-registered")
                  && Thread.currentThread().getName().equals("test-held-reader")) {
                registeredL.countDown();
                try {
                  go.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              }
            })) {
      try {
        ts.add(start("held-reader", () -> lock.readLong(() -> x)));
        assertThat(registeredL.await(BOUND_S, TimeUnit.SECONDS)).isTrue();
      } finally {
        seed.close();
      }
      // Past the spins and yields, into acquireQueued's timed park, then expiry.
      assertThat(lock.tryWrite(Duration.ofMillis(200))).isNull();
      assertThat(lock.tryWrite(Duration.ZERO)).isNull();
      Thread w = start("late-writer", () -> lock.writeUninterruptibly().close());
      ts.add(w);
      awaitParkedOn(w, lock);
      go.countDown();
      joinAll(ts);
    } finally {
      go.countDown();
      joinAll(ts);
    }
    assertThat(lock.isWriteLocked()).isFalse();
    try (SeqLock.WriteGuard g = lock.tryWrite()) {
      assertThat(g).as("the count drained").isNotNull();
    }
  }

  // Claims 1 and 2: two waiting readers, one parked in the parkedReader slot and one polling,
  // behind a write; a writer parked in the room behind them. One release must lead to both
  // passes and then the writer; nobody stays parked. (Both readers registered before the
  // writer arrived, so both go first; the simple "writer's turn" fix proposed in the review
  // lets the writer in after the first pass and fails the last-but-one assertion: relax it to
  // isPositive() if that fix is taken, keep it with the ticket variant.)
  @Test
  void twoWaitingReadersAndARoomWriterAllFinish() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    AtomicInteger passesDone = new AtomicInteger();
    AtomicLong writerSawPasses = new AtomicLong(-1);
    SeqLock.WriteGuard seed = lock.write();
    try {
      for (int r = 0; r < 2; r++) {
        Thread t =
            start(
                "waiting-reader-" + r,
                () -> {
                  lock.readLong(
                      () -> {
                        if (onLockedPass()) {
                          passesDone.incrementAndGet();
                        }
                        return x;
                      });
                });
        ts.add(t);
        awaitBlocked(t); // the first parks in the slot, the second polls (timed)
      }
      Thread w =
          start(
              "room-writer",
              () -> {
                try (SeqLock.WriteGuard g = lock.write()) {
                  writerSawPasses.set(passesDone.get());
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              });
      ts.add(w);
      awaitParkedOn(w, lock);
    } finally {
      seed.close();
    }
    joinAll(ts);
    assertThat(failure.get()).isNull();
    assertThat(passesDone.get()).isEqualTo(2);
    assertThat(writerSawPasses.get()).as("both readers went before the writer").isEqualTo(2L);
    assertThat(lock.isWriteLocked()).isFalse();
  }

  // Claim 1: a reader registers while ANOTHER reader holds the lock for its pass (and a writer
  // waits in the room). The second reader waits for the first pass only; both finish, then the
  // writer.
  @Test
  void aReaderRegisteredDuringAnotherReadersPassAndAWriterAllFinish() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    CountDownLatch firstInPass = new CountDownLatch(1);
    CountDownLatch endFirst = new CountDownLatch(1);
    CountDownLatch secondRegistered = new CountDownLatch(1);
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (name.equals("seqlock.reader-registered")
                  && Thread.currentThread().getName().equals("test-second-reader")) {
                secondRegistered.countDown();
              }
            })) {
      SeqLock.WriteGuard seed = lock.write();
      try {
        ts.add(
            start(
                "first-reader",
                () ->
                    lock.readLong(
                        () -> {
                          if (onLockedPass()) {
                            firstInPass.countDown();
                            try {
                              endFirst.await();
                            } catch (InterruptedException e) {
                              Thread.currentThread().interrupt();
                            }
                          }
                          return x;
                        })));
        awaitBlocked(ts.get(0));
      } finally {
        seed.close();
      }
      try {
        assertThat(firstInPass.await(BOUND_S, TimeUnit.SECONDS)).isTrue();
        assertThat(lock.isWriteLocked()).isTrue();
        assertThat(lock.isWriteLockedByCurrentThread()).isFalse();
        ts.add(start("second-reader", () -> lock.readLong(() -> y)));
        // Behind another reader's pass a reader no longer registers (the chain fix): it waits
        // for the pass to end and goes optimistic again. Wait until it is blocked there.
        awaitBlocked(ts.get(ts.size() - 1));
        Thread w =
            start(
                "room-writer",
                () -> {
                  try (SeqLock.WriteGuard g = lock.write()) {
                    x++;
                  } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                  }
                });
        ts.add(w);
        awaitParkedOn(w, lock);
      } finally {
        endFirst.countDown();
      }
      joinAll(ts);
    } finally {
      endFirst.countDown();
      joinAll(ts);
    }
    assertThat(failure.get()).isNull();
    assertThat(x).isEqualTo(1L);
  }

  // Claims 1 and 4: a read function that throws on its locked pass propagates the exception,
  // releases the lock and unregisters: a writer parked in the room behind it gets the lock, and
  // tryWrite afterwards succeeds.
  @Test
  void aReadFunctionThrowingOnItsLockedPassReleasesAndWakesTheWriter() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    SeqLock.WriteGuard seed = lock.write();
    try {
      Thread r =
          start(
              "throwing-reader",
              () -> {
                try {
                  lock.readLong(
                      () -> {
                        if (onLockedPass()) {
                          throw new IllegalArgumentException("consistent failure");
                        }
                        return x;
                      });
                } catch (Throwable e) {
                  thrown.set(e);
                }
              });
      ts.add(r);
      awaitBlocked(r);
      Thread w =
          start(
              "room-writer",
              () -> {
                try (SeqLock.WriteGuard g = lock.write()) {
                  x++;
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              });
      ts.add(w);
      awaitParkedOn(w, lock);
    } finally {
      seed.close();
    }
    joinAll(ts);
    assertThat(failure.get()).isNull();
    assertThat(thrown.get()).isInstanceOf(IllegalArgumentException.class);
    assertThat(x).isEqualTo(1L);
    try (SeqLock.WriteGuard g = lock.tryWrite()) {
      assertThat(g).isNotNull();
    }
  }

  // Claims 1 and 4: inside its locked pass, with ANOTHER reader registered (count nonzero) and a
  // writer in the room, the read function nests read/beginRead/validate (OWN_SECTION paths: no
  // self-wait), and every write form fails fast with IllegalStateException (tryWrite fails the
  // count check before its owner check: it must still throw, not return null).
  @Test
  void nestedReadsAndWritesInALockedPassWithAnotherReaderRegistered() throws Exception {
    AtomicReference<Throwable> failure = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    CountDownLatch inPass = new CountDownLatch(1);
    CountDownLatch otherRegistered = new CountDownLatch(1);
    CountDownLatch writerParked = new CountDownLatch(1);
    List<String> outcomes = new ArrayList<>();
    try (AutoCloseable h =
        ProtocolWindows.install(
            name -> {
              if (name.equals("seqlock.reader-registered")
                  && Thread.currentThread().getName().equals("test-other-reader")) {
                otherRegistered.countDown();
              }
            })) {
      SeqLock.WriteGuard seed = lock.write();
      try {
        ts.add(
            start(
                "nesting-reader",
                () -> {
                  try {
                    lock.readLong(
                        () -> {
                          if (!onLockedPass()) {
                            return x;
                          }
                          inPass.countDown();
                          try {
                            writerParked.await();
                          } catch (InterruptedException e) {
                            throw new AssertionError(e);
                          }
                          long s = lock.beginRead();
                          long inner = lock.readLong(() -> lock.readLong(() -> x + 1));
                          synchronized (outcomes) {
                            outcomes.add("validate=" + lock.validate(s));
                            outcomes.add("inner=" + inner);
                            outcomes.add("byMe=" + lock.isWriteLockedByCurrentThread());
                            outcomes.add("locked=" + lock.isWriteLocked());
                            outcomes.add(tryThrows(() -> lock.write()));
                            outcomes.add(tryThrows(() -> lock.writeUninterruptibly()));
                            outcomes.add(tryThrows(() -> lock.tryWrite()));
                            outcomes.add(tryThrows(() -> lock.tryWrite(Duration.ofSeconds(5))));
                          }
                          return x;
                        });
                  } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                  }
                }));
        awaitBlocked(ts.get(0));
      } finally {
        seed.close();
      }
      assertThat(inPass.await(BOUND_S, TimeUnit.SECONDS)).isTrue();
      ts.add(start("other-reader", () -> lock.readLong(() -> y)));
      // Behind this reader's pass the other reader waits without registering (the chain fix).
      awaitBlocked(ts.get(ts.size() - 1));
      Thread w =
          start(
              "room-writer",
              () -> {
                try (SeqLock.WriteGuard g = lock.write()) {
                  x++;
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              });
      ts.add(w);
      try {
        awaitParkedOn(w, lock);
      } finally {
        writerParked.countDown();
      }
      joinAll(ts);
    } finally {
      writerParked.countDown();
      joinAll(ts);
    }
    assertThat(failure.get()).isNull();
    assertThat(outcomes)
        .containsExactly(
            "validate=true",
            "inner=1",
            "byMe=false",
            "locked=true",
            "IllegalStateException",
            "IllegalStateException",
            "IllegalStateException",
            "IllegalStateException");
    assertThat(x).isEqualTo(1L);
  }

  private interface ThrowingAction {
    Object run() throws Exception;
  }

  private static String tryThrows(ThrowingAction a) {
    try {
      Object g = a.run();
      if (g instanceof AutoCloseable c) {
        c.close();
      }
      return "no exception: " + g;
    } catch (Exception e) {
      return e.getClass().getSimpleName();
    }
  }

  // Claim 1 (SeqLocked): SeqLocked.write from a read function's locked pass throws
  // IllegalStateException with another reader registered and a writer in the room, and both
  // SeqLocked write forms complete after the readers.
  @Test
  void seqLockedWritesAndAWriteFromALockedPass() throws Exception {
    long[] cell = new long[2];
    SeqLocked<long[]> locked = new SeqLocked<>(cell);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicReference<String> nested = new AtomicReference<>();
    List<Thread> ts = new ArrayList<>();
    CountDownLatch holding = new CountDownLatch(1);
    CountDownLatch releaseSeed = new CountDownLatch(1);
    ts.add(
        start(
            "seed-writer",
            () -> {
              try {
                locked.write(
                    a -> {
                      holding.countDown();
                      try {
                        releaseSeed.await();
                      } catch (InterruptedException e) {
                        throw new AssertionError(e);
                      }
                    });
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              }
            }));
    try {
      assertThat(holding.await(BOUND_S, TimeUnit.SECONDS)).isTrue();
      Thread r =
          start(
              "locked-reader",
              () ->
                  locked.readLong(
                      a -> {
                        if (locked.reader == Thread.currentThread()) {
                          try {
                            locked.write(b -> b[0]++);
                            nested.set("no exception");
                          } catch (Throwable e) {
                            nested.set(e.getClass().getSimpleName());
                          }
                        }
                        return a[0];
                      }));
      ts.add(r);
      awaitBlocked(r);
      Thread w1 =
          start(
              "locked-writer",
              () -> {
                try {
                  locked.write(a -> a[1]++);
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              });
      Thread w2 = start("locked-writer-u", () -> locked.writeUninterruptibly(a -> a[1]++));
      ts.add(w1);
      ts.add(w2);
      awaitBlocked(w1);
      awaitBlocked(w2);
    } finally {
      releaseSeed.countDown();
    }
    joinAll(ts);
    assertThat(failure.get()).isNull();
    assertThat(nested.get()).isEqualTo("IllegalStateException");
    assertThat(cell).containsExactly(0L, 2L);
    assertThat(locked.isWriteLocked()).isFalse();
  }

  // Claim 1: readers are uninterruptible. A reader interrupted while parked waiting for its
  // pass (and one interrupted before it even starts) completes and keeps its interrupt status;
  // a writer interrupted in the room behind them throws InterruptedException and leaves no
  // state: the next writer gets the lock.
  @Test
  void interruptsOfWaitingReadersAndOfARoomWriter() throws Exception {
        List<Thread> ts = new ArrayList<>();
    AtomicBoolean r0Flag = new AtomicBoolean();
    AtomicBoolean r1Flag = new AtomicBoolean();
    AtomicReference<Throwable> writerOutcome = new AtomicReference<>();
    SeqLock.WriteGuard seed = lock.write();
    try {
      Thread r0 =
          start(
              "int-reader-0",
              () -> {
                lock.readLong(() -> x);
                r0Flag.set(Thread.currentThread().isInterrupted());
              });
      Thread r1 =
          start(
              "int-reader-1",
              () -> {
                Thread.currentThread().interrupt();
                long s = lock.beginRead(); // waits out the writer, interrupted throughout
                r1Flag.set(Thread.currentThread().isInterrupted() && (s & 1) == 0);
              });
      ts.add(r0);
      ts.add(r1);
      awaitBlocked(r0);
      Thread w =
          start(
              "int-writer",
              () -> {
                try (SeqLock.WriteGuard g = lock.write()) {
                  writerOutcome.set(new AssertionError("got the lock"));
                } catch (Throwable e) {
                  writerOutcome.set(e);
                }
              });
      ts.add(w);
      awaitParkedOn(w, lock);
      r0.interrupt();
      w.interrupt();
      w.join(TimeUnit.SECONDS.toMillis(BOUND_S));
      assertThat(w.isAlive()).isFalse();
      awaitBlocked(r0); // still waiting: uninterruptible
    } finally {
      seed.close();
    }
    joinAll(ts);
    assertThat(writerOutcome.get()).isInstanceOf(InterruptedException.class);
    assertThat(r0Flag.get()).as("reader's interrupt restored").isTrue();
    assertThat(r1Flag.get()).as("beginRead's interrupt kept, even stamp").isTrue();
    try (SeqLock.WriteGuard g = lock.tryWrite(Duration.ofSeconds(BOUND_S))) {
      assertThat(g).isNotNull();
    }
  }

  // Claims 1 and 4 together, unpinned: write, writeUninterruptibly, tryWrite, tryWrite(timeout)
  // (short), interrupts of the interruptible writers, fallback readers with beginRead and
  // nested reads in their locked passes. Every thread finishes, validated reads are consistent,
  // and the lock ends free with the count drained. Readers' functions are short, so the chain
  // of the defect above does not form.
  @Test
  void mixedStormFinishesAndStaysConsistent() throws Exception {
    AtomicBoolean stop = new AtomicBoolean();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    AtomicLong writesDone = new AtomicLong();
    AtomicLong readsDone = new AtomicLong();
    List<Thread> ts = new ArrayList<>();
    ts.add(
        start(
            "storm-write",
            () -> {
              while (!stop.get()) {
                try (SeqLock.WriteGuard g = lock.write()) {
                  x++;
                  Thread.onSpinWait();
                  y++;
                  writesDone.incrementAndGet();
                } catch (InterruptedException e) {
                  // interrupted by the test: try again
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              }
            }));
    ts.add(
        start(
            "storm-write-u",
            () -> {
              try {
                while (!stop.get()) {
                  try (SeqLock.WriteGuard g = lock.writeUninterruptibly()) {
                    x++;
                    y++;
                    writesDone.incrementAndGet();
                  }
                  Thread.interrupted();
                }
              } catch (Throwable e) {
                failure.compareAndSet(null, e);
              }
            }));
    ts.add(
        start(
            "storm-trywrite",
            () -> {
              while (!stop.get()) {
                try {
                  SeqLock.WriteGuard g =
                      (writesDone.get() & 1) == 0
                          ? lock.tryWrite()
                          : lock.tryWrite(Duration.ofNanos(20_000));
                  if (g != null) {
                    try (g) {
                      x++;
                      y++;
                      writesDone.incrementAndGet();
                    }
                  }
                } catch (InterruptedException e) {
                  // interrupted by the test: try again
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              }
            }));
    for (int r = 0; r < 2; r++) {
      ts.add(
          start(
              "storm-reader-" + r,
              () -> {
                try {
                  while (!stop.get()) {
                    long[] p =
                        lock.read(
                            () -> {
                              long a = x;
                              long s = lock.beginRead();
                              long b = lock.readLong(() -> y);
                              if (onLockedPass() && !lock.validate(s)) {
                                throw new AssertionError("nested stamp invalid in own pass");
                              }
                              return new long[] {a, b};
                            });
                    if (p[0] != p[1]) {
                      throw new AssertionError("torn read " + p[0] + "/" + p[1]);
                    }
                    long s = lock.beginRead();
                    long a = x;
                    long b = y;
                    if (lock.validate(s) && a != b) {
                      throw new AssertionError("torn validated read " + a + "/" + b);
                    }
                    readsDone.incrementAndGet();
                  }
                } catch (Throwable e) {
                  failure.compareAndSet(null, e);
                }
              }));
    }
    try {
      long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(1200);
      while (System.nanoTime() - until < 0 && failure.get() == null) {
        LockSupport.parkNanos(2_000_000L); // the run's length; results asserted below
        ts.get(0).interrupt();
        ts.get(2).interrupt();
        ts.get(3).interrupt(); // a reader: must not throw; its status stays set
      }
    } finally {
      stop.set(true);
      joinAll(ts);
    }
    assertThat(failure.get()).isNull();
    assertThat(writesDone.get()).isPositive();
    assertThat(readsDone.get()).isPositive();
    assertThat(x).isEqualTo(y);
    assertThat(lock.isWriteLocked()).isFalse();
    try (SeqLock.WriteGuard g = lock.tryWrite()) {
      assertThat(g).as("count drained at the end").isNotNull();
    }
  }
}
