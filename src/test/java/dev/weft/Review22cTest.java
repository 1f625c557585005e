package dev.weft;

import static dev.weft.testing.Waits.awaitParkedOn;
import static dev.weft.testing.Waits.isParked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.StampedLock;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordingFile;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Review 22c: an adversarial review of the fixes of f6bea70 (Condvar wakes lockWhen waiters
 * before every sleep; ThreadNames), dcc6a87 (SeqLock's pending interrupt and zero timeouts),
 * 743b092 (WeftJfr's bounded preparation) and 2e45172/377e8ac (OnceCellCore's probes and
 * linkWaitSteps), from the code and the docs only. {@code fixed_*} failed on the code reviewed
 * (743b092) and pass since; {@code held_*} are attacks that held.
 */
@SuppressWarnings("try") // guards held only for their scope
class Review22cTest {

  // ============================================================================== defects

  /**
   * Promise broken: ThreadNames' Javadoc ("Such a thread is named by its {@code toString()},
   * which carries its id") and README, Conventions ("Messages, {@code toString()} and JFR
   * events name a thread by its name, or by its {@code toString()} (which carries its id) when
   * it has none"). The library's baseline is Java 17, where {@code Thread.toString()} is {@code
   * "Thread[" + name + "," + priority + "," + group + "]"}: no id. Two platform threads created
   * with an empty name in the same group are both named {@code Thread[,5,main]}, so the misuse
   * message still cannot tell the guard's owner from the thread that misused it: "Mutex guard
   * belongs to thread Thread[,5,main], not to Thread[,5,main]" (observed); SpinLock's
   * wrong-thread unlock message is built the same way and is checked too.
   *
   * <p>Schedule (deterministic): thread O (name "") locks a Mutex and a SpinLock and hands the
   * guard over; thread X (name "", same group) uses the guard and unlocks the SpinLock. Fails
   * 3 of 3 runs on JDK 17 (both names {@code Thread[,5,main]}); passes on JDK 25, whose
   * {@code toString()} starts with {@code Thread[#id,}. Suggested fix: in ThreadNames, append the
   * id ({@code "Thread[#" + t.getId() + "]"}, or {@code threadId()} where present) rather than
   * rely on {@code toString()}.
   */
  @Test
  @Timeout(20)
  void fixed_emptyNamedPlatformThreadsGetTheSameNameOnJdk17() throws Exception {
    Mutex<Integer> m = new Mutex<>(1);
    SpinLock spin = new SpinLock();
    AtomicReference<Mutex.@Nullable Guard<Integer>> handed = new AtomicReference<>();
    CountDownLatch locked = new CountDownLatch(1);
    CountDownLatch used = new CountDownLatch(1);
    AtomicReference<@Nullable Throwable> ownerFailure = new AtomicReference<>();
    Thread owner = new Thread(() -> {
      try (var g = m.lock()) {
        spin.lock();
        try {
          handed.set(g);
          locked.countDown();
          used.await();
        } finally {
          spin.unlock();
        }
      } catch (Throwable t) {
        ownerFailure.set(t);
      }
    }, "");
    AtomicReference<@Nullable String> guardMessage = new AtomicReference<>();
    AtomicReference<@Nullable String> spinMessage = new AtomicReference<>();
    Thread other = new Thread(() -> {
      Mutex.Guard<Integer> g = handed.get();
      guardMessage.set(messageOf(() -> g.get()));
      spinMessage.set(messageOf(spin::unlock));
    }, "");
    owner.start();
    try {
      assertThat(locked.await(10, TimeUnit.SECONDS)).isTrue();
      other.start();
      other.join(10_000);
    } finally {
      used.countDown();
      owner.join(10_000);
    }
    assertThat(owner.isAlive()).isFalse();
    assertThat(other.isAlive()).isFalse();
    assertThat(ownerFailure.get()).isNull();
    String gm = String.valueOf(guardMessage.get());
    Matcher mm = Pattern.compile("belongs to thread (.*), not to (.*); a guard").matcher(gm);
    assertThat(mm.find()).as("message shape: %s", gm).isTrue();
    assertThat(mm.group(1)).as("the owner and the misuser, in: %s", gm)
        .isNotEqualTo(mm.group(2));
    String sm = String.valueOf(spinMessage.get());
    Matcher ms = Pattern.compile("not held by this thread \\((.*)\\); it is held by (.*): only")
        .matcher(sm);
    assertThat(ms.find()).as("message shape: %s", sm).isTrue();
    assertThat(ms.group(1)).as("the holder and the caller, in: %s", sm).isNotEqualTo(ms.group(2));
  }

  // ============================================================================== held: names

  /**
   * Every changed message and toString names an unnamed virtual thread by something that
   * carries its id: SpinLock, TicketLock, SeqLock, SeqLocked descriptions while it holds them;
   * SpinLock and TicketLock guard misuse; a wrong-thread SpinLock/TicketLock unlock; Scope's
   * owner. Held on JDK 25 (skipped on 17).
   */
  @Test
  @Timeout(20)
  void held_unnamedVirtualThreadIsNamedByIdEverywhere() throws Exception {
    Assumptions.assumeTrue(Runtime.version().feature() >= 21, "virtual threads need JDK 21+");
    SpinLock spin = new SpinLock();
    TicketLock ticket = new TicketLock();
    SeqLock seq = new SeqLock();
    SeqLocked<int[]> seqd = new SeqLocked<>(new int[1]);
    AtomicReference<@Nullable Object> spinGuard = new AtomicReference<>();
    AtomicReference<@Nullable Object> ticketGuard = new AtomicReference<>();
    AtomicReference<@Nullable Scope> scope = new AtomicReference<>();
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch done = new CountDownLatch(1);
    AtomicReference<@Nullable Throwable> failure = new AtomicReference<>();
    Thread v = startUnnamedVirtual(() -> {
      try (var sg = spin.acquire();
          var tg = ticket.acquire();
          var wg = seq.write();
          Scope s = Scope.open()) {
        spinGuard.set(sg);
        ticketGuard.set(tg);
        scope.set(s);
        seqd.write(a -> {
          held.countDown();
          try {
            done.await();
          } catch (InterruptedException e) {
            failure.set(e);
          }
        });
      } catch (Throwable t) {
        failure.set(t);
      }
    });
    List<String> texts = new ArrayList<>();
    try {
      assertThat(held.await(10, TimeUnit.SECONDS)).isTrue();
      texts.add(spin.toString());
      texts.add(ticket.toString());
      texts.add(seq.toString());
      texts.add(seqd.toString());
      texts.add(String.valueOf(spinGuard.get()));
      texts.add(String.valueOf(ticketGuard.get()));
      texts.add(String.valueOf(scope.get()));
      texts.add(messageOf(spin::unlock));
      texts.add(messageOf(ticket::unlock));
      texts.add(messageOf(() -> ((AutoCloseable) spinGuard.get()).close()));
      texts.add(messageOf(() -> ((AutoCloseable) ticketGuard.get()).close()));
    } finally {
      done.countDown();
      v.join(10_000);
    }
    assertThat(v.isAlive()).isFalse();
    assertThat(failure.get()).isNull();
    String id = "#" + v.getId();
    for (String t : texts) {
      assertThat(t).as("names the virtual owner by its id").contains(id);
    }
  }

  // ============================================================================== held: Condvar

  /** How the Condvar waiter C waits in the schedules below. */
  private enum WaitForm { TIMED, UNINTERRUPTIBLE, THROWS_AFTER_CHANGE }

  /**
   * The f6bea70 schedule in the forms the fix names but review 22 did not test: C sleeps in a
   * Condvar (timed 1 min; uninterruptible; or untimed with a predicate that changes the value
   * and then throws), L parks in {@code lockWhen(a -> a[0] == 1)}, a notifyOne from INSIDE the
   * mutex wakes C, whose next check sets {@code a[0] = 1}. Timed/uninterruptible: C blocks
   * again, so it must wake L before it sleeps; L must take the mutex while C is still asleep.
   * Throwing: C returns by the exception holding the mutex, and its guard's close must wake L.
   * Deterministic; held on JDK 17 and 25.
   */
  @Test
  @Timeout(60)
  void held_condvarPredicateChangingTheValueWakesLockWhenInEveryForm() throws Exception {
    for (WaitForm form : WaitForm.values()) {
      Mutex<int[]> m = new Mutex<>(new int[] {0});
      Condvar cv = new Condvar();
      AtomicInteger checks = new AtomicInteger();
      AtomicBoolean stop = new AtomicBoolean();
      RuntimeException boom = new IllegalStateException("after the change");
      AtomicReference<@Nullable Throwable> cOut = new AtomicReference<>();
      Thread c = new Thread(() -> {
        try (var g = m.lock()) {
          java.util.function.Predicate<int[]> p = a -> {
            if (checks.incrementAndGet() == 3) {
              a[0] = 1;
              if (form == WaitForm.THROWS_AFTER_CHANGE) {
                throw boom;
              }
            }
            return !stop.get();
          };
          switch (form) {
            case TIMED -> cv.awaitWhile(g, p, Duration.ofMinutes(1));
            case UNINTERRUPTIBLE -> cv.awaitWhileUninterruptibly(g, p);
            default -> cv.awaitWhile(g, p);
          }
        } catch (Throwable t) {
          cOut.set(t);
        }
      }, "r22c-condvar-" + form);
      c.start();
      awaitUntil(() -> onCondition(c));
      assertThat(checks.get()).isEqualTo(2);
      AtomicReference<@Nullable Throwable> lOut = new AtomicReference<>();
      AtomicBoolean lGot = new AtomicBoolean();
      Thread l = new Thread(() -> {
        try (var g = m.lockWhen(a -> a[0] == 1)) {
          lGot.set(g.get()[0] == 1);
        } catch (Throwable t) {
          lOut.set(t);
        }
      }, "r22c-lockWhen-" + form);
      l.start();
      awaitParkedOn(l, m);
      try (var g = m.lock()) {
        cv.notifyOne(); // from inside the mutex
      }
      l.join(10_000);
      boolean lDone = !l.isAlive();
      boolean cAsleep = c.isAlive() && onCondition(c);
      stop.set(true);
      cv.notifyAllWaiters();
      c.join(10_000);
      if (!lDone) {
        m.with(a -> a); // cleanup
        l.join(10_000);
      }
      assertThat(c.isAlive()).isFalse();
      assertThat(l.isAlive()).isFalse();
      assertThat(lDone).as("%s: lockWhen waiter done while C waits or after C's close", form)
          .isTrue();
      assertThat(lGot.get()).isTrue();
      assertThat(lOut.get()).isNull();
      if (form == WaitForm.THROWS_AFTER_CHANGE) {
        assertThat(cOut.get()).isSameAs(boom);
      } else {
        assertThat(cAsleep).as("%s: L got the mutex while C still slept", form).isTrue();
        assertThat(cOut.get()).isNull();
      }
    }
  }

  /**
   * A Condvar herd beside lockWhen waiters: three Condvar waiters whose predicates each bump a
   * counter under the mutex when they wake and block again, and three lockWhen waiters each
   * waiting for a different count (1, 2, 3); one notifyAll from outside the mutex. Every
   * lockWhen waiter's count is reached by the Condvar waiters' own re-checks; nobody else
   * releases the mutex. Deterministic (each predicate bumps once); held on JDK 17 and 25.
   */
  @Test
  @Timeout(30)
  void held_condvarHerdChangingTheValueReachesEveryLockWhenWaiter() throws Exception {
    Mutex<int[]> m = new Mutex<>(new int[] {0});
    Condvar cv = new Condvar();
    AtomicBoolean stop = new AtomicBoolean();
    List<Thread> cs = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      AtomicInteger checks = new AtomicInteger();
      Thread c = new Thread(() -> {
        try (var g = m.lock()) {
          cv.awaitWhileUninterruptibly(g, a -> {
            if (checks.incrementAndGet() == 3) {
              a[0]++;
            }
            return !stop.get();
          });
        }
      }, "r22c-herd-c" + i);
      c.start();
      awaitUntil(() -> onCondition(c));
      cs.add(c);
    }
    List<Thread> ls = new ArrayList<>();
    AtomicInteger reached = new AtomicInteger();
    for (int i = 1; i <= 3; i++) {
      int want = i;
      Thread l = new Thread(() -> {
        try (var g = m.lockWhen(a -> a[0] >= want)) {
          reached.incrementAndGet();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }, "r22c-herd-l" + i);
      l.start();
      awaitParkedOn(l, m);
      ls.add(l);
    }
    cv.notifyAllWaiters();
    for (Thread l : ls) {
      l.join(10_000);
    }
    int got = reached.get();
    boolean cAllAsleep = cs.stream().allMatch(Review22cTest::onCondition);
    stop.set(true);
    cv.notifyAllWaiters();
    for (Thread c : cs) {
      c.join(10_000);
    }
    if (got < 3) {
      m.with(a -> a);
      for (Thread l : ls) {
        l.join(10_000);
      }
    }
    assertThat(got).as("lockWhen waiters reached by the Condvar waiters alone").isEqualTo(3);
    assertThat(cAllAsleep).isTrue();
  }

  // ============================================================================== held: SeqLock

  /**
   * SeqLock/SeqLocked interrupt and misuse combinations, against StampedLock where the docs
   * claim its behaviour, with lock-order checking off and on (THROW): (a) from inside the
   * thread's own write, interrupted: write(), tryWrite(0), tryWrite(-1 ns), tryWrite(1 min),
   * SeqLocked.write inside its own write all throw IllegalStateException and leave the status
   * set; (b) free lock, interrupted: each throws InterruptedException, clears the status, runs
   * no writer and leaves the lock free (StampedLock.writeLockInterruptibly and
   * tryWriteLock(0, unit) the same); (c) lock held by another thread, not interrupted:
   * tryWrite(0) and tryWrite(-1 ns) return null and leave the status clear. Held on JDK 17 and
   * 25, platform and (25) virtual threads.
   */
  @Test
  @Timeout(30)
  void held_seqLockInterruptAndMisuseCombinations() throws Exception {
    StampedLock jdk = new StampedLock();
    Thread.currentThread().interrupt();
    assertThat(catchThrowable(jdk::writeLockInterruptibly))
        .isInstanceOf(InterruptedException.class);
    Thread.currentThread().interrupt();
    assertThat(catchThrowable(() -> jdk.tryWriteLock(0, TimeUnit.NANOSECONDS)))
        .isInstanceOf(InterruptedException.class);
    assertThat(jdk.isWriteLocked()).isFalse();

    List<String> problems = new ArrayList<>();
    for (LockOrder.Mode mode : List.of(LockOrder.Mode.OFF, LockOrder.Mode.THROW)) {
      if (mode == LockOrder.Mode.OFF) {
        LockOrder.disable();
      } else {
        LockOrder.enable(mode);
      }
      try {
        runOn(false, () -> seqLockCombos(mode + "/platform", problems));
        if (Runtime.version().feature() >= 21) {
          runOn(true, () -> seqLockCombos(mode + "/virtual", problems));
        }
      } finally {
        LockOrder.disable();
      }
    }
    assertThat(problems).isEmpty();
  }

  private interface Call {
    @Nullable Object call() throws Exception;
  }

  private static void seqLockCombos(String where, List<String> problems) throws Exception {
    SeqLock lock = new SeqLock();
    SeqLocked<int[]> cell = new SeqLocked<>(new int[1]);
    Thread me = Thread.currentThread();
    // (a) misuse first, status left set
    List<Call> inOwn = List.of(
        lock::write,
        () -> lock.tryWrite(Duration.ZERO),
        () -> lock.tryWrite(Duration.ofNanos(-1)),
        () -> lock.tryWrite(Duration.ofMinutes(1)));
    try (var g = lock.write()) {
      for (int i = 0; i < inOwn.size(); i++) {
        me.interrupt();
        Throwable t = catchThrowable(inOwn.get(i)::call);
        if (!(t instanceof IllegalStateException) || !Thread.interrupted()) {
          problems.add(where + " own write, form " + i + ": " + t + " status cleared");
        }
      }
      assertThat(lock.isWriteLockedByCurrentThread()).isTrue();
    }
    AtomicReference<@Nullable Throwable> inner = new AtomicReference<>();
    cell.write(a -> {
      me.interrupt();
      inner.set(catchThrowable(() -> cell.write(b -> b[0] = 9)));
    });
    if (!(inner.get() instanceof IllegalStateException) || !Thread.interrupted()) {
      problems.add(where + " SeqLocked write in own write: " + inner.get());
    }
    // (b) free lock, interrupted: InterruptedException, status cleared, nothing held or run
    AtomicBoolean ran = new AtomicBoolean();
    List<Call> free = List.of(
        lock::write,
        () -> lock.tryWrite(Duration.ZERO),
        () -> lock.tryWrite(Duration.ofNanos(-1)),
        () -> lock.tryWrite(Duration.ofMinutes(1)),
        () -> {
          cell.write(a -> ran.set(true));
          return null;
        });
    for (int i = 0; i < free.size(); i++) {
      me.interrupt();
      Throwable t = catchThrowable(free.get(i)::call);
      if (!(t instanceof InterruptedException) || me.isInterrupted() || lock.isWriteLocked()
          || cell.isWriteLocked() || ran.get()) {
        problems.add(where + " free, form " + i + ": " + t);
      }
      Thread.interrupted();
    }
    // (c) held elsewhere, zero/negative timeouts: null, no status
    CountDownLatch taken = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Thread holder = new Thread(() -> {
      try (var g = lock.writeUninterruptibly()) {
        taken.countDown();
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "r22c-seq-holder");
    holder.start();
    try {
      assertThat(taken.await(10, TimeUnit.SECONDS)).isTrue();
      for (Duration d : List.of(Duration.ZERO, Duration.ofNanos(-1), Duration.ofSeconds(-5))) {
        Object r = lock.tryWrite(d);
        if (r != null || me.isInterrupted()) {
          problems.add(where + " held elsewhere, " + d + ": " + r);
        }
      }
    } finally {
      release.countDown();
      holder.join(10_000);
    }
    assertThat(holder.isAlive()).isFalse();
  }

  // ============================================================================== held: JFR

  /**
   * WeftJfr's bounded preparation, with the preparing thread blocked for longer than the bound
   * (the class loader's monitor, held by the caller, as in review 22b), and the caller
   * interrupted DURING the bounded join (not before): the first {@code getOrInit} returns its
   * value after about 1 s, with the interrupt status set (restored, not lost, not thrown); once
   * the caller leaves the monitor the preparing thread finishes and ends, and a later
   * contended wait (a SpinLock held 100 ms) is recorded as {@code dev.weft.LockContended}
   * ("the events start once the thread has finished"). Caller a platform thread, and on JDK
   * 21+ also a virtual thread. Forked JVMs; held on JDK 17 and 25.
   */
  @Test
  @Timeout(120)
  void held_preparationBlockedPastTheBoundKeepsAnInterruptAndEventsStartLater() throws Exception {
    List<String> kinds = new ArrayList<>(List.of("platform"));
    if (Runtime.version().feature() >= 21) {
      kinds.add("virtual");
    }
    for (String kind : kinds) {
      String out = fork(SlowPrepareMain.class, kind);
      assertThat(out).as(kind).contains("value=42 interruptedKept=true preparerLeft=false");
      Matcher ms = Pattern.compile("elapsedMs=(\\d+)").matcher(out);
      assertThat(ms.find()).isTrue();
      assertThat(Long.parseLong(ms.group(1))).as("%s: the first getOrInit's time", kind)
          .isBetween(900L, 5_000L);
      Matcher me = Pattern.compile("events=(\\d+)").matcher(out);
      assertThat(me.find()).isTrue();
      assertThat(Integer.parseInt(me.group(1))).as("%s: LockContended events later", kind)
          .isPositive();
    }
  }

  /** Loaded through a non-parallel-capable loader by {@link SlowPrepareMain}. */
  public static final class JfrVictim {
    private JfrVictim() {}

    /**
     * The first use of weft in the loader.
     *
     * @return 42 from a new cell
     */
    public static Object run() {
      return new OnceCell<Integer>().getOrInit(() -> 42);
    }

    /**
     * A contended SpinLock wait of about 100 ms.
     *
     * @return "ok" when done
     * @throws InterruptedException never expected
     */
    @SuppressWarnings("LockNotBeforeTry") // a straight schedule; every path unlocks
    public static Object contend() throws InterruptedException {
      SpinLock s = new SpinLock();
      CountDownLatch held = new CountDownLatch(1);
      Thread h = new Thread(() -> {
        s.lock();
        try {
          held.countDown();
          Thread.sleep(100); // the hold the waiter below waits out
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          s.unlock();
        }
      }, "victim-holder");
      h.start();
      held.await();
      s.lock();
      s.unlock();
      h.join();
      return "ok";
    }
  }

  /** Forked main: argument "platform" or "virtual" for the caller's kind. */
  public static final class SlowPrepareMain {
    private SlowPrepareMain() {}

    public static void main(String[] args) throws Exception {
      URL[] urls = {location(OnceCell.class), location(JfrVictim.class),
          location(Nullable.class)};
      @SuppressWarnings("resource") // lives as long as this short JVM
      URLClassLoader loader = new URLClassLoader(urls, ClassLoader.getPlatformClassLoader()) {};
      Class<?> victim = loader.loadClass(JfrVictim.class.getName()); // weft not loaded yet
      Path file = Files.createTempFile("r22c", ".jfr");
      try (Recording r = new Recording()) {
        r.start();
        AtomicReference<@Nullable Object> result = new AtomicReference<>();
        AtomicBoolean kept = new AtomicBoolean();
        long[] elapsed = {0};
        Runnable body = () -> {
          try {
            synchronized (loader) {
              long t0 = System.nanoTime();
              result.set(victim.getMethod("run").invoke(null));
              elapsed[0] = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
              kept.set(Thread.interrupted());
            }
          } catch (ReflectiveOperationException | RuntimeException e) {
            result.set(e);
          }
        };
        Thread caller = args[0].equals("virtual") ? unstartedVirtual(body)
            : new Thread(body, "caller");
        caller.start();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!inPreparationJoin(caller) && System.nanoTime() < end) {
          LockSupport.parkNanos(1_000_000L);
        }
        LockSupport.parkNanos(100_000_000L); // well inside the 1 s bound
        caller.interrupt();
        caller.join(15_000);
        long end2 = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (preparerAlive() && System.nanoTime() < end2) {
          LockSupport.parkNanos(1_000_000L);
        }
        boolean left = preparerAlive();
        Object contended = victim.getMethod("contend").invoke(null);
        r.stop();
        r.dump(file);
        int events = 0;
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
          if (e.getEventType().getName().equals("dev.weft.LockContended")) {
            events++;
          }
        }
        System.out.println("value=" + result.get() + " interruptedKept=" + kept.get()
            + " preparerLeft=" + left + " elapsedMs=" + elapsed[0] + " contend=" + contended
            + " events=" + events + " callerAlive=" + caller.isAlive());
      } finally {
        Files.deleteIfExists(file);
      }
      System.out.flush();
      Runtime.getRuntime().halt(0);
    }

    private static boolean inPreparationJoin(Thread t) {
      return Arrays.stream(t.getStackTrace())
          .anyMatch(f -> f.getMethodName().equals("prepareOnAFreshStack"));
    }
  }

  /**
   * Concurrent first slow paths after a recording starts (weft's classes loaded before it, so
   * no class initialiser prepares): four threads queue on a held SpinLock at once; exactly one
   * {@code weft-jfr-prepare} thread is started (counted by jdk.ThreadStart events), none
   * is left afterwards, and a later 60 ms wait is recorded. Forked JVM; held on JDK 17 and 25.
   */
  @Test
  @Timeout(90)
  void held_concurrentFirstSlowPathsStartOnePreparer() throws Exception {
    String out = fork(ConcurrentFirstMain.class);
    assertThat(out).contains("preparers=1 left=0").containsPattern("events=[1-9]");
  }

  private static boolean parked(Thread t) {
    Thread.State st = t.getState();
    return st == Thread.State.WAITING || st == Thread.State.TIMED_WAITING;
  }

  /** Forked main of {@link #held_concurrentFirstSlowPathsStartOnePreparer}. */
  public static final class ConcurrentFirstMain {
    private ConcurrentFirstMain() {}

    @SuppressWarnings("LockNotBeforeTry") // a straight schedule in a short JVM
    public static void main(String[] args) throws Exception {
      SpinLock s = new SpinLock(); // classes loaded with no recording: nothing prepared
      s.lock();
      s.unlock();
      Path file = Files.createTempFile("r22c", ".jfr");
      try (Recording r = new Recording()) {
        r.enable("jdk.ThreadStart");
        r.start();
        s.lock();
        List<Thread> ws = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
          Thread w = new Thread(() -> {
            s.lock();
            s.unlock();
          }, "waiter-" + i);
          w.start();
          ws.add(w);
        }
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (ws.stream().anyMatch(w -> !parked(w)) && System.nanoTime() < end) {
          LockSupport.parkNanos(1_000_000L);
        }
        s.unlock();
        for (Thread w : ws) {
          w.join();
        }
        int left = preparerAlive() ? 1 : 0;
        Thread h = new Thread(() -> {
          s.lock();
          LockSupport.parkNanos(60_000_000L); // held 60 ms
          s.unlock();
        }, "holder");
        s.lock(); // hold first so that h waits
        h.start();
        long end3 = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!parked(h) && h.isAlive() && System.nanoTime() < end3) {
          LockSupport.parkNanos(1_000_000L);
        }
        LockSupport.parkNanos(60_000_000L);
        s.unlock();
        h.join();
        r.stop();
        r.dump(file);
        int events = 0;
        int preparers = 0;
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
          if (e.getEventType().getName().equals("dev.weft.LockContended")) {
            events++;
          } else if (e.getEventType().getName().equals("jdk.ThreadStart")
              && e.getThread("thread") != null
              && "weft-jfr-prepare".equals(e.getThread("thread").getJavaName())) {
            preparers++;
          }
        }
        System.out.println("preparers=" + preparers + " left=" + left + " events=" + events);
      } finally {
        Files.deleteIfExists(file);
      }
    }
  }

  // ============================================================================== held: OnceCell

  /**
   * OnceCellCore's class initialiser (linkWaitSteps, 377e8ac) gives the initialising thread no
   * permit: the first OnceCell of a fresh JVM, then {@code parkNanos(300 ms)} waits (the old
   * code's unpark would have left one for a moment; now none is given). And a permit given
   * before the initialiser is kept (review 22b's case) with the thread also interrupted
   * before: the interrupt stays, the value is computed. Forked JVM; held on JDK 17 and 25.
   */
  @Test
  @Timeout(60)
  void held_onceCellInitialiserNeitherGivesNorTakesAPermit() throws Exception {
    String out = fork(NoPermitMain.class);
    assertThat(out).contains("parkedLong=true value=5");
  }

  /** Forked main of {@link #held_onceCellInitialiserNeitherGivesNorTakesAPermit}. */
  public static final class NoPermitMain {
    private NoPermitMain() {}

    public static void main(String[] args) {
      OnceCell<Integer> c = new OnceCell<>(); // OnceCellCore's initialiser runs here
      long t0 = System.nanoTime();
      LockSupport.parkNanos(300_000_000L);
      long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      System.out.println("parkedLong=" + (ms >= 250) + " value=" + c.getOrInit(() -> 5)
          + " ms=" + ms);
    }
  }

  // ============================================================================== helpers

  private static boolean preparerAlive() {
    return Thread.getAllStackTraces().keySet().stream()
        .anyMatch(t -> t.getName().equals("weft-jfr-prepare") && t.isAlive());
  }

  private interface ThrowingRunnable {
    void run() throws Exception;
  }

  private static String messageOf(ThrowingRunnable r) {
    try {
      r.run();
      return "(no exception)";
    } catch (Exception e) {
      return String.valueOf(e.getMessage());
    }
  }

  private interface Body {
    void run() throws Exception;
  }

  /** Runs {@code body} on a platform or virtual thread, joins it and rethrows its failure. */
  private static void runOn(boolean virtual, Body body) throws Exception {
    AtomicReference<@Nullable Throwable> out = new AtomicReference<>();
    Runnable r = () -> {
      try {
        body.run();
      } catch (Throwable t) {
        out.set(t);
      }
    };
    Thread t = virtual ? unstartedVirtual(r) : new Thread(r, "r22c-runner");
    t.start();
    t.join(20_000);
    assertThat(t.isAlive()).isFalse();
    Throwable f = out.get();
    if (f != null) {
      throw new AssertionError("failed on " + (virtual ? "virtual" : "platform"), f);
    }
  }

  private static boolean onCondition(Thread t) {
    return isParked(t)
        && LockSupport.getBlocker(t) instanceof AbstractQueuedSynchronizer.ConditionObject;
  }

  /** Bounded poll of thread states (not a wait for a result). */
  private static void awaitUntil(BooleanSupplier done) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (!done.getAsBoolean()) {
      if (System.nanoTime() - deadline >= 0) {
        throw new AssertionError("state not reached within 20 s");
      }
      LockSupport.parkNanos(50_000L);
    }
  }

  private static Thread startUnnamedVirtual(Runnable r) throws ReflectiveOperationException {
    Thread t = unstartedVirtual(r);
    t.start();
    return t;
  }

  private static Thread unstartedVirtual(Runnable r) {
    try {
      Class<?> builderType = Class.forName("java.lang.Thread$Builder");
      Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
      Method unstarted = builderType.getMethod("unstarted", Runnable.class);
      return (Thread) unstarted.invoke(builder, r);
    } catch (ReflectiveOperationException e) {
      throw new IllegalStateException("virtual threads need JDK 21+", e);
    }
  }

  static URL location(Class<?> c) {
    return c.getProtectionDomain().getCodeSource().getLocation();
  }

  /** Runs {@code main} in a fresh JVM with program {@code args}; prints and returns its output. */
  static String fork(Class<?> main, String... args) throws Exception {
    String out = StackHeadroomTest.forkJvm(main, List.of(), List.of(args));
    System.out.println(main.getSimpleName() + ": " + out);
    return out;
  }
}
