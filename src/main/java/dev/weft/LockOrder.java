package dev.weft;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MutableCallSite;
import java.lang.invoke.VarHandle;
import java.lang.ref.ReferenceQueue;
import java.lang.ref.WeakReference;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Lock-order checking for weft's locks: finds lock-order inversions (thread 1 takes A then B,
 * thread 2 takes B then A: the classic deadlock) the first time both orders are <em>seen</em>,
 * on any thread and even in a single-threaded test run, long before two threads collide. This is
 * the idea of Linux's lockdep and of Abseil's {@code Mutex} deadlock detection, for Java.
 *
 * <pre>{@code
 * // In a test, or a staging JVM started with -Ddev.weft.lockOrder=check (or =log):
 * LockOrder.enable(LockOrder.Mode.THROW);
 *
 * Mutex<Account> from = new Mutex<>(a), to = new Mutex<>(b);
 * try (var f = from.lock(); var t = to.lock()) { ... }   // records the order from -> to
 * try (var t = to.lock(); var f = from.lock()) { ... }   // LockOrderException, before waiting:
 *                                                        //   Mutex@6d06d69c -> Mutex@7852e922
 *                                                        //   -> Mutex@6d06d69c
 * }</pre>
 *
 * <p>The JDK offers {@code ThreadMXBean.findDeadlockedThreads()}, which
 * finds a deadlock only after it has happened, and only for monitors and {@code
 * java.util.concurrent} locks.
 *
 * <p><b>What is checked.</b> Off by default. When on, every thread keeps the list of weft locks
 * it holds: a lock enters the list once a blocking acquisition (or a successful {@code
 * tryLock}) has returned holding it, and leaves it when it is released, in any order (guards
 * closed out of order are fine). Globally, weft keeps a graph with an edge "B was acquired
 * while A was held" for every order seen. Before a <em>blocking</em> acquisition of B, weft adds
 * the edges from every lock the thread holds to B; an edge that closes a cycle in the graph is
 * reported, before the thread waits. The locks covered are {@link SpinLock}, {@link TicketLock},
 * {@link Mutex} (including {@code with}, {@code update}, {@code lockWhen} and {@code
 * awaitThen}), {@link RwLock} (read and write: a read after a write and a write after a read are
 * edges like any other) and the write sections of {@link SeqLock} and {@link SeqLocked}.
 *
 * <p><b>Rules.</b>
 *
 * <ul>
 *   <li><em>tryLock adds no edge.</em> An acquisition that does not wait ({@code tryLock()},
 *       {@code tryRead()}, {@code tryWrite()}, and the timed forms with a zero or negative
 *       timeout) cannot deadlock, so it is not checked and adds no edge; but once it succeeds the
 *       lock is held like any other, and later blocking acquisitions add edges from it. This is
 *       the rule of Linux lockdep ("trylock can be done in any order") and of Abseil, whose
 *       {@code TryLock} records the lock as held without its deadlock check. A timed acquisition
 *       with a positive timeout waits, so it is checked like {@code lock()} (as Abseil checks
 *       {@code LockWhenWithTimeout}): a cycle of timed waits stalls every thread in it until
 *       the timeouts expire.
 *   <li><em>Read locks count.</em> {@code RwLock} is a non-fair {@code
 *       ReentrantReadWriteLock}, which makes a new reader wait behind a queued writer; so two
 *       readers that take two {@code RwLock}s in opposite orders deadlock once writers queue on
 *       both. Read-read edges are therefore edges like any other, and a cycle made only of read
 *       acquisitions is reported too (lockdep treats rwsem readers the same way). The one
 *       exception: a read acquisition of an {@code RwLock} the thread already holds for reading
 *       never waits (re-entrant reads go first), so it adds no edge.
 *   <li><em>Re-acquiring a held lock</em> adds no edge: the lock itself refuses it (weft's locks
 *       are not re-entrant, see each type).
 *   <li><em>Condition waits.</em> A {@link Condvar} wait on a {@code Mutex} keeps the mutex in
 *       the held list while it waits (it re-acquires the mutex before returning). A {@code
 *       Condition} of a {@code SpinLock} or {@code TicketLock} re-acquires through {@code
 *       lock()}, so that re-acquisition is checked like any other.
 * </ul>
 *
 * <p><b>Modes.</b> {@link Mode#THROW} (system property value {@code check}) throws a {@link
 * LockOrderException} from the acquisition that would close the cycle; the lock is not taken
 * and the offending edge is not recorded, so the same inversion throws again each time it is
 * tried. {@link Mode#LOG} ({@code log}) reports the same exception through {@link
 * System.Logger} (logger {@code dev.weft.LockOrder}, level {@code WARNING}), records the edge
 * once the report is delivered, so that each inversion is reported once, and lets the
 * acquisition go on (it may then really deadlock if another thread is in the opposite order
 * right now). A report is delivered only where the stack has room for the logging backend (512
 * probe frames, about 60 KiB compiled): one that would come near the end of a thread's stack is
 * deferred, not lost; the order stays unrecorded and the next acquisition in that order, on any
 * thread, reports it. Two threads taking the same inverted order at the same moment may both
 * report it.
 *
 * <p><b>Lock identity and lock classes.</b> By default every lock is its own node in the graph,
 * keyed by identity. Where a program creates many locks that play the same role (one {@code
 * Mutex} per account, per connection), give them a lock class, Linux lockdep's idea: all locks
 * classified with the same name share one node, so an order seen on one pair of accounts is
 * checked against every other pair, and the graph stays as small as the number of roles:
 *
 * <pre>{@code
 * Mutex<Account> m = LockOrder.classify(new Mutex<>(account), "account");
 * }</pre>
 *
 * <p>Nesting two locks of the same class (holding one account while taking another) is then
 * reported as a cycle of length one, because the class has no order within itself: two threads
 * doing it with the accounts swapped deadlock. Leave such locks unclassified if the program
 * orders them by some key of its own. {@link #classify} does nothing while checking is off (so
 * classifying costs nothing in production); classify locks after enabling, or enable with the
 * system property, which takes effect before the first lock is used.
 *
 * <p><b>Memory and bounds.</b> Nodes are created only for locks that take part in an edge (a
 * lock always taken alone costs no node). A lock's node is found through a map whose keys hold
 * the lock weakly: when the lock is garbage-collected, its node and every edge into or out of
 * it are removed (at the next new edge), so a program that creates and drops millions of locks
 * keeps only those still alive. Each node costs about 300 bytes; each edge about 200 bytes
 * plus the stack trace of its first acquisition (about 1 KB for a 30-frame stack). At most
 * {@value #DEFAULT_MAX_NODES} nodes and {@value #DEFAULT_MAX_EDGES} edges are kept by default
 * (system properties {@code dev.weft.lockOrder.maxNodes} and {@code
 * dev.weft.lockOrder.maxEdges}); past either limit, new nodes and edges are no longer recorded
 * (logged once) while known edges are still checked. Lock classes are held strongly: one node
 * per distinct name. Each thread's held list holds its locks strongly only while they are held,
 * with one exception: a lock still held when checking is switched off stays in the list until
 * that thread next acquires a lock with checking on, or ends.
 *
 * <p><b>Cost.</b> Off: each acquisition and release reads one switch, a {@link
 * MutableCallSite} whose target the JIT compiler inlines as a constant (with a dependency that
 * recompiles the code if the switch is flipped), so compiled code pays nothing and the
 * interpreter pays one method-handle call; {@code LockOrderCostBench} in the jmh module measures
 * it. On: a blocking acquisition while holding k locks costs a thread-local lookup, k+1 map
 * lookups and k edge lookups, of the order of 50&ndash;100 ns per held lock; a release costs a
 * thread-local lookup and a search of the (short) held list; an edge seen for the first time
 * costs a global lock, a breadth-first search of the graph reachable from the new lock, and a
 * stack capture (microseconds). Orders already seen take no lock.
 *
 * <p><b>Memory consistency effects.</b> None for the program's own data: checking only reads
 * and records which locks are held. Enabling or disabling happens-before every acquisition that
 * starts after it returns.
 *
 * <p><b>Thread-safety.</b> All methods may be called from any thread. Enable checking before
 * the locks are used: locks already held when it is switched on are unknown to it (their
 * releases are ignored), so orders involving them are missed.
 *
 * <p><b>Misuse.</b> {@code null} arguments throw {@link NullPointerException}; {@link
 * #classify} throws {@link IllegalArgumentException} for an object that is not a weft lock or
 * for a blank name; an unknown value of the {@code dev.weft.lockOrder} property is logged and
 * leaves checking off.
 */
public final class LockOrder {
  /*
   * Algorithm notes
   * ---------------
   * The switch. ENABLED is a static final dynamic invoker of SWITCH, a MutableCallSite whose
   * target is a constant method handle (true or false). C2 treats CallSite.target of a
   * constant call site as a compile-time constant and records a dependency on it; setTarget plus
   * MutableCallSite.syncAll deoptimizes every compiled method that folded the old value, so the
   * folded `if (LockOrder.enabled())` in a lock's fast path disappears while checking is off.
   * A plain static boolean would be one load and a branch on every acquisition; a static final
   * boolean could not be switched on by the API after the class is initialised.
   *
   * Per-thread state. A ThreadLocal Held: arrays of the held locks and their modes, touched only
   * by its own thread (plain fields), plus the epoch it was built in. enable()/disable() bump
   * EPOCH; a thread whose Held has an older epoch clears it before use, so a hold recorded
   * before checking was switched off and on again cannot leave a stale entry behind.
   *
   * The graph. NODES maps a lock (through a WeakKey: weakly held, compared by identity) to its
   * Node; CLASSES maps a lock-class name to its shared Node (strong). A Node's `out` map (target
   * node -> Edge) is a ConcurrentHashMap read without any lock: "is this order known?" is the
   * only question asked on the common path, and an edge, once published by put, is safely
   * visible to every later get (the map's own happens-before). Every mutation (new node, new
   * edge, purge of a collected lock's node) happens under GRAPH, a ReentrantLock (never a weft
   * lock, so checking cannot recurse into itself), which also makes "search for a cycle, then
   * add the edge" atomic: two threads adding A->B and B->A at once see each other. `in` maps
   * and the counters are touched only under GRAPH (plain HashMap and plain static ints).
   *
   * Collected locks. Each WeakKey is registered with QUEUE; under GRAPH, before adding nodes or
   * edges, the queue is drained and each collected lock's node is removed from NODES and
   * unlinked from its neighbours (via `in` and `out`). Nodes never reference their lock, only
   * its printed name, so the graph does not keep locks alive.
   */

  /** How lock-order checking reports an inversion. */
  public enum Mode {
    /** Checking is off: nothing is recorded (the default). */
    OFF,
    /** Inversions are reported through {@link System.Logger} and the acquisition goes on. */
    LOG,
    /** Inversions are thrown as {@link LockOrderException} before the acquisition waits. */
    THROW
  }

  /** The system property that switches checking on at startup. */
  static final String PROPERTY = "dev.weft.lockOrder";

  static final int DEFAULT_MAX_NODES = 65_536;
  static final int DEFAULT_MAX_EDGES = 65_536;

  private static final MutableCallSite SWITCH =
      new MutableCallSite(MethodHandles.constant(boolean.class, false));
  private static final MethodHandle ENABLED = SWITCH.dynamicInvoker();

  private static final VarHandle MODE;
  private static final VarHandle EPOCH;
  private static final VarHandle SINK;
  private static final VarHandle PENDING_LIMIT;

  /**
   * The limit message waiting to be logged, or null; set under GRAPH (once, see limitLogged)
   * and taken with a CAS by whoever logs it, after GRAPH is released. Through PENDING_LIMIT.
   */
  @SuppressWarnings("unused")
  private static @Nullable String pendingLimit;

  /** The current mode; written under CONTROL, read with volatile reads (see mode()). */
  @SuppressWarnings("unused") // through MODE
  private static Mode mode = Mode.OFF;

  /** Bumped by every enable/disable; see the algorithm notes. Through EPOCH. */
  @SuppressWarnings("unused")
  private static long epoch;

  /** Test seam: where LOG mode reports go instead of the System.Logger; null = the logger. */
  @SuppressWarnings("unused")
  private static @Nullable Consumer<LockOrderException> sink;

  /** Serialises enable/disable (flipping SWITCH and MODE together). */
  private static final ReentrantLock CONTROL = new ReentrantLock();

  /** Guards every mutation of the graph (see the algorithm notes). */
  private static final ReentrantLock GRAPH = new ReentrantLock();

  private static final ConcurrentHashMap<Object, Node> NODES = new ConcurrentHashMap<>();
  private static final ConcurrentHashMap<String, Node> CLASSES = new ConcurrentHashMap<>();
  private static final ReferenceQueue<Object> QUEUE = new ReferenceQueue<>();

  private static final int MAX_NODES = positiveInt("dev.weft.lockOrder.maxNodes", DEFAULT_MAX_NODES);
  private static final int MAX_EDGES = positiveInt("dev.weft.lockOrder.maxEdges", DEFAULT_MAX_EDGES);

  // Counters and the "limit reached" flag: read and written only under GRAPH (plain statics).
  private static int nodeCount;
  private static int edgeCount;
  private static boolean limitLogged;

  /**
   * Headroom probed before a LOG-mode report is delivered; see {@link #deliverThenRecord}. The
   * review 26 sweep (a JVM's first report, on a thread with a 256 KiB stack, at every depth)
   * broke JDK classes for good at 32 and 128 frames on JDK 17 and 25 and held at 256 and 512 (3
   * of 3 runs each); 512 is twice what held, for logging backends deeper than the JDK's. About a
   * microsecond, once per inversion.
   */
  static final int REPORT_FRAMES = 512;

  private static final ThreadLocal<Held> HELD = new HeldLocal();

  /** HELD's class: a fresh list per thread (no lambda: see CoreBytecodeTest). */
  private static final class HeldLocal extends ThreadLocal<Held> {
    @Override
    protected Held initialValue() {
      return new Held();
    }
  }

  static {
    try {
      MethodHandles.Lookup l = MethodHandles.lookup();
      MODE = l.findStaticVarHandle(LockOrder.class, "mode", Mode.class);
      EPOCH = l.findStaticVarHandle(LockOrder.class, "epoch", long.class);
      SINK = l.findStaticVarHandle(LockOrder.class, "sink", Consumer.class);
      PENDING_LIMIT = l.findStaticVarHandle(LockOrder.class, "pendingLimit", String.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
    Mode initial = Mode.OFF;
    String value = null;
    try {
      value = SystemProperties.get(PROPERTY);
      initial = parseMode(value);
    } catch (IllegalArgumentException | SecurityException e) {
      logger().log(
          System.Logger.Level.WARNING,
          "ignoring -D" + PROPERTY + "=" + value + ": lock-order checking stays off ("
              + e.getMessage() + ")");
    }
    if (initial != Mode.OFF) {
      enable(initial);
    }
  }

  private LockOrder() {}

  // ---- public API ------------------------------------------------------------------------

  /**
   * Switches lock-order checking on, in the given mode, for every thread. Call it before the
   * locks to be checked are used (typically in a test's setup, or at the start of {@code
   * main}); the graph of orders already seen is kept, so enabling again only changes the mode.
   *
   * @param mode {@link Mode#LOG} or {@link Mode#THROW}
   * @throws NullPointerException if {@code mode} is null
   * @throws IllegalArgumentException if {@code mode} is {@link Mode#OFF} (use {@link
   *     #disable()})
   */
  public static void enable(Mode mode) {
    Objects.requireNonNull(mode, "mode");
    if (mode == Mode.OFF) {
      throw new IllegalArgumentException(
          "LockOrder.enable(OFF): use LockOrder.disable() to switch checking off");
    }
    setMode(mode);
  }

  /**
   * Switches lock-order checking off for every thread. The graph of orders seen so far is kept
   * (until its locks are collected), so enabling again resumes with what was learned; locks
   * acquired while checking is off are not tracked.
   */
  public static void disable() {
    setMode(Mode.OFF);
  }

  /**
   * Returns the current mode.
   *
   * @return {@link Mode#OFF} unless checking was switched on by the system property or {@link
   *     #enable}
   */
  public static Mode mode() {
    return (Mode) MODE.getVolatile(); // volatile: pairs with the volatile write in setMode
  }

  /**
   * Puts {@code lock} into the lock class {@code lockClass}: from now on, every lock of that
   * class is one node of the order graph (Linux lockdep's lock classes), so orders seen on some
   * locks of a class are checked against all of them, and millions of locks playing the same
   * role cost one node. Does nothing while checking is off. Call it right after creating the
   * lock, before its first use: orders recorded for the lock before it was classified stay with
   * the lock's own node until it is collected.
   *
   * @param lock a {@link SpinLock}, {@link TicketLock}, {@link Mutex}, {@link RwLock}, {@link
   *     SeqLock} or {@link SeqLocked}
   * @param lockClass the class name, shown in reports as {@code class "<lockClass>"}
   * @param <L> the lock's type
   * @return {@code lock}, for use in an initializer
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code lock} is not one of weft's locks, or {@code
   *     lockClass} is blank
   */
  public static <L> L classify(L lock, String lockClass) {
    Objects.requireNonNull(lock, "lock");
    Objects.requireNonNull(lockClass, "lockClass");
    if (!(lock instanceof SpinLock
        || lock instanceof TicketLock
        || lock instanceof Mutex
        || lock instanceof RwLock
        || lock instanceof SeqLockCore)) {
      throw new IllegalArgumentException(
          "LockOrder.classify: " + lock.getClass().getName() + " is not a weft lock; pass a"
              + " SpinLock, TicketLock, Mutex, RwLock, SeqLock or SeqLocked");
    }
    if (lockClass.isBlank()) {
      throw new IllegalArgumentException(
          "LockOrder.classify: the lock class name is blank (\"" + lockClass + "\"); name the"
              + " role the locks play, e.g. \"account\"");
    }
    if (!enabled()) {
      return lock;
    }
    Node cls = CLASSES.get(lockClass);
    if (cls == null) { // (no computeIfAbsent lambda: see CoreBytecodeTest)
      Node made = new Node("class \"" + lockClass + "\"");
      Node raced = CLASSES.putIfAbsent(lockClass, made);
      cls = raced != null ? raced : made;
    }
    // Under GRAPH like every other mutation of NODES, so a purge cannot interleave.
    GRAPH.lock();
    try {
      drainCollected();
      NODES.put(new WeakKey(lock, QUEUE, null), cls);
    } finally {
      GRAPH.unlock();
    }
    return lock;
  }

  // ---- hooks called by the locks ---------------------------------------------------------

  /**
   * The switch every lock reads on its acquire and release paths; constant-folded by the JIT.
   *
   * @return whether checking is on
   */
  static boolean enabled() {
    try {
      return (boolean) ENABLED.invokeExact();
    } catch (RuntimeException | Error e) {
      // The handle's own code cannot throw, but calling it can: a StackOverflowError when the
      // call is not inlined and the stack is nearly used up. It must reach the caller as what
      // it is (review 18's sweep saw it wrapped in an AssertionError).
      throw e;
    } catch (Throwable t) {
      throw new AssertionError(t);
    }
  }

  /**
   * Takes {@code lock} with no order check (its hold is still recorded): for a condition's
   * re-acquisition after a wait, which must return holding the lock even when the order
   * check refused the checked re-acquisition (found by review).
   */
  static void lockUnchecked(java.util.concurrent.locks.Lock lock) {
    Held h = held();
    boolean was = h.checking;
    h.checking = true; // beforeWait returns at once while set
    try {
      lock.lock();
    } finally {
      h.checking = was;
    }
  }

  /**
   * Called before a blocking acquisition of {@code lock} (for reading if {@code shared}): adds
   * the edges from every lock this thread holds and reports one that closes a cycle.
   *
   * @throws LockOrderException in THROW mode, if an edge would close a cycle
   */
  static void beforeWait(Object lock, boolean shared) {
    Held h = held();
    if (h.size == 0 || h.checking) {
      return;
    }
    for (int i = 0; i < h.size; i++) {
      if (h.locks[i] == lock) {
        return; // re-entrant read (cannot wait) or a re-lock that the lock itself refuses
      }
    }
    h.checking = true; // a logger or sink that takes weft locks must not recurse into us
    try {
      Node to = null;
      List<Pending> pending = null;
      for (int i = 0; i < h.size; i++) {
        Node from = nodeFor(h.locks[i]);
        if (from == null) {
          continue; // over the node limit
        }
        if (to == null) {
          to = nodeFor(lock);
          if (to == null) {
            return;
          }
        }
        if (from.out.containsKey(to)) {
          continue; // a known order (or a same-class nesting already logged): no lock taken
        }
        if (pending == null) {
          pending = new ArrayList<>(2);
        } else if (containsFrom(pending, from)) {
          continue; // two held locks of the same class
        }
        pending.add(new Pending(from, h.shared[i]));
      }
      if (pending != null && to != null) {
        addEdges(pending, to, shared);
      }
    } finally {
      h.checking = false;
    }
  }

  /** Called once {@code lock} is held by this thread after an acquisition that succeeded. */
  static void acquired(Object lock, boolean shared) {
    try {
      held().push(lock, shared);
    } catch (OutOfMemoryError e) {
      // The lock is held by now, so the acquisition must not throw (review 30: with checking
      // on and a full heap, lock() threw holding the lock, when the held list grew, and the
      // caller's finally never unlocked it). Checking is a debugging aid: under a full heap it
      // does not record this hold (its release is then ignored, as for any unknown lock), as
      // JDK 25's AbstractQueuedSynchronizer waits without its node rather than fail.
    }
  }

  /**
   * Called when this thread releases {@code lock}; unknown locks are ignored. When the thread
   * holds no lock any more, its thread-local entry goes: a Held is one of weft's classes, so on
   * a long-lived thread (a server's pool thread) it kept weft's class loader alive after a
   * redeploy, for the thread's life (review 23b). The next checked acquisition makes a new one
   * (three small arrays): lock-order checking is a debugging aid, and this is its cost.
   */
  static void released(Object lock) {
    Held h;
    try {
      h = held();
    } catch (OutOfMemoryError e) {
      // Only a thread with no held list allocates here, and such a thread has no hold recorded:
      // an acquisition under a full heap that could not make the list (see acquired). Throwing
      // would fail the unlock with the lock still held (review 30b: tryLock then unlock under a
      // full heap left the lock held for good).
      return;
    }
    h.remove(lock);
    if (h.size == 0 && !h.checking) {
      HELD.remove();
    }
  }

  /**
   * Stops this thread from recording orders until {@link #resumeRecording}: for a thread that
   * runs another thread's code while it holds locks of its own (a {@code Mutex} release
   * evaluating the predicates of waiting threads). A lock that such code takes would otherwise be
   * ordered after every lock the evaluating thread holds, orders the program never uses
   * (review 27: a correct program got a LockOrderException). Acquisitions and releases are still
   * tracked, so the held list stays exact.
   *
   * @return the previous state, for {@link #resumeRecording}
   */
  static boolean suspendRecording() {
    Held h;
    try {
      h = held();
    } catch (OutOfMemoryError e) {
      return false; // no held list, so nothing held to record orders from (see released)
    }
    boolean was = h.checking;
    h.checking = true; // beforeWait records nothing while it is set
    return was;
  }

  /**
   * Ends {@link #suspendRecording}.
   *
   * @param was what {@link #suspendRecording} returned
   */
  static void resumeRecording(boolean was) {
    Held h;
    try {
      h = held();
    } catch (OutOfMemoryError e) {
      return; // no held list: nothing was suspended (see suspendRecording)
    }
    h.checking = was;
    if (h.size == 0 && !was) {
      HELD.remove();
    }
  }

  // ---- package-private, for tests ---------------------------------------------------------

  /**
   * Parses a value of the {@code dev.weft.lockOrder} property.
   *
   * @return OFF for null, empty, {@code off}, {@code false}; THROW for {@code check}, {@code
   *     throw}, {@code true}; LOG for {@code log} (case-insensitive, trimmed)
   * @throws IllegalArgumentException for any other value
   */
  static Mode parseMode(@Nullable String value) {
    if (value == null) {
      return Mode.OFF;
    }
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "", "off", "false" -> Mode.OFF;
      case "check", "throw", "true" -> Mode.THROW;
      case "log" -> Mode.LOG;
      default ->
          throw new IllegalArgumentException(
              "unknown value \"" + value + "\" for " + PROPERTY + ": use check, log or off");
    };
  }

  /** Replaces the LOG-mode destination (null: the System.Logger). */
  static void sinkForTests(@Nullable Consumer<LockOrderException> s) {
    SINK.setVolatile(s); // volatile: read by any thread that reports
  }

  /** Forgets every node, edge and class, and this thread's held list. */
  static void resetForTests() {
    GRAPH.lock();
    try {
      NODES.clear();
      CLASSES.clear();
      while (QUEUE.poll() != null) {
        // drop: the nodes they pointed to are gone with NODES
      }
      nodeCount = 0;
      edgeCount = 0;
      limitLogged = false;
      PENDING_LIMIT.setVolatile((String) null);
    } finally {
      GRAPH.unlock();
    }
    bumpEpoch();
  }

  /** Purges collected locks and returns the number of identity nodes left. */
  static int identityNodesForTests() {
    GRAPH.lock();
    try {
      drainCollected();
      return nodeCount;
    } finally {
      GRAPH.unlock();
    }
  }

  /** Purges collected locks and returns the number of edges left. */
  static int edgesForTests() {
    GRAPH.lock();
    try {
      drainCollected();
      return edgeCount;
    } finally {
      GRAPH.unlock();
    }
  }

  /** The number of locks this thread holds, as checking sees them. */
  static int heldCountForTests() {
    return held().size;
  }

  // ---- internals -------------------------------------------------------------------------

  private static void setMode(Mode m) {
    if (m != Mode.OFF) {
      initializeHookClasses();
    }
    CONTROL.lock();
    try {
      Mode old = (Mode) MODE.getVolatile();
      MODE.setVolatile(m); // volatile: mode() and report() on other threads see it at once
      if ((old == Mode.OFF) != (m == Mode.OFF)) {
        // Only switching on or off invalidates what threads hold: THROW <-> LOG keeps every
        // held list (found by review: enabling again forgot the locks every thread held).
        bumpEpoch();
      }
      SWITCH.setTarget(MethodHandles.constant(boolean.class, m != Mode.OFF));
      // syncAll: every thread sees the new target at its next call (and compiled code that
      // folded the old one is deoptimized) before this method returns.
      MutableCallSite.syncAll(new MutableCallSite[] {SWITCH});
    } finally {
      CONTROL.unlock();
    }
  }

  /**
   * Initializes the classes the hooks use, here, where checking is switched on (at startup or
   * in a test's setup, on a shallow stack), not at a lock's first record. Found in session 25:
   * a thread whose first record came near the end of its stack overflowed inside the
   * per-thread list's class initializer, and a class whose initializer failed stays failed:
   * every later acquisition with checking on, in every thread, threw "NoClassDefFoundError:
   * Could not initialize class dev.weft.LockOrder$Held" (22 tests of one JVM after
   * Review25ReleaseTest's lock-order sweep).
   */
  private static void initializeHookClasses() {
    MethodHandles.Lookup l = MethodHandles.lookup();
    try {
      for (Class<?> c :
          new Class<?>[] {
            Held.class, Node.class, Edge.class, Pending.class, WeakKey.class, LookupKey.class,
            LockOrderException.class
          }) {
        l.ensureInitialized(c);
      }
    } catch (IllegalAccessException e) {
      throw new AssertionError(e); // all are nestmates or in this package
    }
  }

  private static void bumpEpoch() {
    EPOCH.getAndAdd(1L); // volatile RMW: a thread that reads the new epoch resets its list
  }

  private static Held held() {
    Held h = HELD.get();
    long e = (long) EPOCH.getVolatile(); // volatile: see bumpEpoch
    if (h.epoch != e) {
      h.reset(e);
    }
    return h;
  }

  private static boolean containsFrom(List<Pending> pending, Node from) {
    for (Pending p : pending) {
      if (p.from == from) {
        return true;
      }
    }
    return false;
  }

  /** The node of {@code lock}, created if needed; null if the node limit is reached. */
  private static @Nullable Node nodeFor(Object lock) {
    Node n = NODES.get(new LookupKey(lock));
    if (n != null) {
      return n;
    }
    GRAPH.lock();
    try {
      drainCollected();
      n = NODES.get(new LookupKey(lock));
      if (n == null && nodeCount >= MAX_NODES) {
        limitReached("nodes", MAX_NODES, "dev.weft.lockOrder.maxNodes");
      } else if (n == null) {
        n = new Node(nameOf(lock));
        NODES.put(new WeakKey(lock, QUEUE, n), n);
        nodeCount++;
      }
    } finally {
      GRAPH.unlock();
    }
    if (n == null) {
      logPendingLimit(); // after GRAPH: see limitReached
    }
    return n;
  }

  /**
   * The name reports give {@code lock}, for weft's JFR events ({@link WeftEvents}): its lock
   * class if {@link #classify} put it in one, else {@code Type@identityhash}. Never creates a node
   * and takes no lock; called only when an event is committed.
   *
   * @param lock the lock
   * @return its display name
   */
  static String displayName(Object lock) {
    Node n = NODES.isEmpty() ? null : NODES.get(new LookupKey(lock));
    return n != null ? n.name : nameOf(lock);
  }

  private static String nameOf(Object lock) {
    return lock.getClass().getSimpleName() + "@" + Integer.toHexString(System.identityHashCode(lock));
  }

  /** Adds the edges p.from -> to (reporting cycles); see the mode rules in the class doc. */
  private static void addEdges(List<Pending> pending, Node to, boolean toShared) {
    Mode m = mode();
    if (m == Mode.OFF) {
      return; // switched off meanwhile
    }
    List<Pending> inversions = null;
    List<LockOrderException> reports = null;
    Thread me = Thread.currentThread();
    GRAPH.lock();
    try {
      drainCollected();
      List<Pending> fresh = new ArrayList<>(pending.size());
      for (Pending p : pending) {
        if (p.from.out.containsKey(to)) {
          continue; // another thread added it meanwhile
        }
        List<Edge> path = p.from == to ? List.of() : findPath(to, p.from);
        if (path != null) {
          LockOrderException e = report(p, to, toShared, path, me);
          if (m == Mode.THROW) {
            throw e; // nothing of this acquisition is recorded; GRAPH released in finally
          }
          // LOG: recorded only once its report is delivered (below), so that each inversion is
          // logged once and none is lost (a self-edge for a same-class nesting).
          if (inversions == null || reports == null) {
            inversions = new ArrayList<>(1);
            reports = new ArrayList<>(1);
          }
          inversions.add(p);
          reports.add(e);
          continue;
        }
        fresh.add(p);
      }
      for (Pending p : fresh) {
        record(p, to, toShared, me, false);
      }
    } finally {
      GRAPH.unlock();
    }
    logPendingLimit(); // after GRAPH: see limitReached
    if (inversions != null && reports != null) {
      deliverThenRecord(inversions, reports, to, toShared, me);
    }
  }

  /**
   * LOG mode: delivers each inversion's report, then records its order, each only if the stack
   * has room for the delivery; a report that does not fit is deferred, neither delivered nor
   * recorded, so the next acquisition in that order (on any thread) reports it again.
   *
   * <p>Why (review 26): the JVM's first {@code System.Logger} call initializes the logging
   * backend, and near the end of a deep stack it overflowed. Recorded first, the order was never
   * reported again (4 of 4 runs). Delivered first without a probe, every shallower retry ran the
   * backend's initialisation a little further until one overflowed inside a class initializer,
   * which fails that class for the rest of the JVM (seen: {@code LambdaMetafactory} on JDK 17,
   * which breaks every later lambda, and the logger's backend detection on JDK 25). So every
   * delivery first probes {@link #REPORT_FRAMES}: a later report may still run backend code for
   * the first time (a character class first formatted broke {@code CharacterData00}). The cost: a
   * thread taking the same inverted order while a report is being delivered reports it too (a
   * duplicate, never a loss), and an inversion taken only ever near a stack's end is not
   * reported.
   */
  private static void deliverThenRecord(
      List<Pending> inversions, List<LockOrderException> reports, Node to, boolean toShared,
      Thread me) {
    for (int i = 0; i < reports.size(); i++) {
      if (!StackHeadroom.fits(REPORT_FRAMES)) {
        return; // deferred: see above
      }
      log(reports.get(i)); // an exception here propagates out of the acquisition, unrecorded
      Pending p = inversions.get(i);
      GRAPH.lock();
      try {
        if (!p.from.out.containsKey(to)) {
          record(p, to, toShared, me, true);
        }
      } finally {
        GRAPH.unlock();
      }
    }
  }

  /**
   * Called under GRAPH: records the order {@code p.from -> to}, unless at the edge limit. An
   * inversion whose report was delivered ({@code reported}) is recorded past the limit too, so
   * that it is reported once: left unrecorded, it was reported again on every acquisition in
   * that order (review 29), flooding the log. That adds at most one edge per reported inversion.
   */
  private static void record(Pending p, Node to, boolean toShared, Thread me, boolean reported) {
    if (edgeCount >= MAX_EDGES && !reported) {
      limitReached("edges", MAX_EDGES, "dev.weft.lockOrder.maxEdges");
      return;
    }
    String firstMessage = p.from.name + rw(p.fromShared) + " -> " + to.name + rw(toShared)
        + " first taken here, on thread \"" + ThreadNames.of(me) + "\"";
    // Kept as StackTraceElements, not as the Throwable: a Throwable's stack record holds the
    // Class of every frame, so an edge taken in an application's code kept that application's
    // class loader alive for good, through this static graph (review 23b); a StackTraceElement,
    // once made, keeps only names.
    StackTraceElement[] firstStack = new Throwable().getStackTrace();
    Edge e = new Edge(p.from, p.fromShared, to, toShared, firstMessage, firstStack);
    p.from.out.put(to, e);
    to.in.put(p.from, e);
    edgeCount++;
  }

  private static String rw(boolean shared) {
    return shared ? " (read)" : "";
  }

  /** Breadth-first search for a shortest path of edges from {@code start} to {@code target}. */
  private static @Nullable List<Edge> findPath(Node start, Node target) {
    IdentityHashMap<Node, Edge> via = new IdentityHashMap<>();
    ArrayDeque<Node> queue = new ArrayDeque<>();
    queue.add(start);
    for (Node n; (n = queue.poll()) != null; ) {
      for (Edge e : n.out.values()) {
        if (e.to == start || via.containsKey(e.to)) {
          continue;
        }
        via.put(e.to, e);
        if (e.to == target) {
          ArrayList<Edge> path = new ArrayList<>();
          for (Node at = target; at != start; ) {
            Edge back = via.get(at);
            if (back == null) {
              throw new AssertionError("broken search path at " + at.name);
            }
            path.add(back);
            at = back.from;
          }
          Collections.reverse(path);
          return path;
        }
        queue.add(e.to);
      }
    }
    return null;
  }

  private static LockOrderException report(
      Pending p, Node to, boolean toShared, List<Edge> path, Thread me) {
    List<String> cycle = new ArrayList<>(path.size() + 2);
    cycle.add(p.from.name);
    cycle.add(to.name);
    StringBuilder earlier = new StringBuilder();
    for (Edge e : path) {
      cycle.add(e.to.name);
      earlier.append(earlier.length() == 0 ? "" : ", ").append(e.from.name)
          .append(rw(e.fromShared)).append(" -> ").append(e.to.name).append(rw(e.toShared));
    }
    String message;
    if (path.isEmpty()) {
      message =
          "Lock-order inversion (same lock class): thread \"" + ThreadNames.of(me) + "\" holds a lock"
              + " of " + p.from.name + " and is about to wait for another lock of the same class."
              + " Locks of one class have no order among themselves, so two threads doing this"
              + " with the locks swapped deadlock. Take them in an order of your own and leave"
              + " them unclassified, or give them different classes.";
    } else {
      message =
          "Lock-order inversion: thread \"" + ThreadNames.of(me) + "\" holds " + p.from.name
              + rw(p.fromShared) + " and is about to wait for " + to.name + rw(toShared)
              + ", but the opposite order was seen before (" + earlier + "). Cycle: "
              + String.join(" -> ", cycle) + ". Threads taking these locks in these orders at"
              + " the same time deadlock. This exception's stack is the new order; each earlier"
              + " order's first acquisition is attached as a suppressed exception. Take the"
              + " locks in one global order.";
    }
    LockOrderException ex = new LockOrderException(message, cycle);
    for (Edge e : path) {
      // A fresh throwable per report, so that reports never share (mutable) suppressed lists.
      Throwable t = new Throwable(e.firstMessage);
      t.setStackTrace(e.firstStack);
      ex.addSuppressed(t);
    }
    return ex;
  }

  private static void log(LockOrderException e) {
    @SuppressWarnings("unchecked")
    Consumer<LockOrderException> s = (Consumer<LockOrderException>) SINK.getVolatile();
    if (s != null) {
      s.accept(e);
    } else {
      logger().log(System.Logger.Level.WARNING, e.getMessage(), e);
    }
  }

  /**
   * Called under GRAPH: makes the limit message pending, once; {@link #logPendingLimit} logs it
   * after GRAPH is released. Logging under GRAPH could deadlock (review 29): a logging backend
   * that takes a weft lock held by a thread that is itself waiting for GRAPH (creating a node)
   * never got it.
   */
  private static void limitReached(String what, int limit, String property) {
    if (!limitLogged) {
      limitLogged = true;
      PENDING_LIMIT.setVolatile( // volatile: read by logPendingLimit on any thread
          "lock-order checking reached its limit of " + limit + " " + what + " and records no"
              + " new ones (orders already seen are still checked); raise -D" + property
              + " or classify locks that play the same role with LockOrder.classify");
    }
  }

  /**
   * Logs the pending limit message, if any, outside GRAPH. The CAS makes one thread log it; a
   * log call that throws puts it back to be tried again. The probe: this may be the JVM's first
   * System.Logger call, like a report (see deliverThenRecord); without the headroom the message
   * waits for the next time.
   */
  private static void logPendingLimit() {
    String m = (String) PENDING_LIMIT.getVolatile();
    if (m == null || !StackHeadroom.fits(REPORT_FRAMES)) {
      return;
    }
    if (!PENDING_LIMIT.compareAndSet(m, (String) null)) {
      return; // another thread is logging it
    }
    boolean logged = false;
    try {
      logger().log(System.Logger.Level.WARNING, m);
      logged = true;
    } finally {
      if (!logged) {
        PENDING_LIMIT.compareAndSet((String) null, m);
      }
    }
  }

  /** Called under GRAPH: removes the nodes of collected locks and their edges. */
  private static void drainCollected() {
    for (Object r; (r = QUEUE.poll()) != null; ) {
      WeakKey k = (WeakKey) r;
      NODES.remove(k);
      Node n = k.node;
      if (n == null) {
        continue; // a classified lock: the class node stays
      }
      for (Edge e : n.in.values()) {
        e.from.out.remove(n);
        edgeCount--;
      }
      for (Edge e : n.out.values()) {
        if (e.to != n) {
          e.to.in.remove(n);
          edgeCount--;
        }
      }
      n.in.clear();
      n.out.clear();
      nodeCount--;
    }
  }

  /** Looked up only when something is logged: finding the logger loads the logging backend. */
  private static System.Logger logger() {
    return System.getLogger("dev.weft.LockOrder");
  }

  private static int positiveInt(String property, int dflt) {
    try {
      int v = SystemProperties.getInt(property, dflt);
      return v > 0 ? v : dflt;
    } catch (SecurityException e) {
      return dflt;
    }
  }

  /** A node of the order graph: one lock, or one lock class. */
  static final class Node {
    final String name;
    /** Edges out of this node, by target; read without a lock, written under GRAPH. */
    final ConcurrentHashMap<Node, Edge> out = new ConcurrentHashMap<>(4);
    /** Edges into this node, by source; only under GRAPH. */
    final Map<Node, Edge> in = new HashMap<>(4);

    Node(String name) {
      this.name = name;
    }
  }

  /** "to was acquired while from was held", with the stack of the first time it was seen. */
  static final class Edge {
    final Node from;
    final boolean fromShared;
    final Node to;
    final boolean toShared;
    final String firstMessage;
    final StackTraceElement[] firstStack;

    Edge(Node from, boolean fromShared, Node to, boolean toShared, String firstMessage,
        StackTraceElement[] firstStack) {
      this.from = from;
      this.fromShared = fromShared;
      this.to = to;
      this.toShared = toShared;
      this.firstMessage = firstMessage;
      this.firstStack = firstStack;
    }
  }

  private static final class Pending {
    final Node from;
    final boolean fromShared;

    Pending(Node from, boolean fromShared) {
      this.from = from;
      this.fromShared = fromShared;
    }
  }

  /**
   * A map key that holds a lock weakly and compares it by identity. Equal to a {@link
   * LookupKey} for the same lock, and to itself once cleared (so that the purge can remove it).
   */
  static final class WeakKey extends WeakReference<Object> {
    private final int hash;
    /** The identity node this key owns (purged with it); null for a classified lock. */
    @Nullable Node node;

    WeakKey(Object lock, ReferenceQueue<Object> q, @Nullable Node node) {
      super(lock, q);
      this.hash = System.identityHashCode(lock);
      this.node = node;
    }

    @Override
    public int hashCode() {
      return hash;
    }

    @Override
    public boolean equals(@Nullable Object o) {
      if (o == this) {
        return true;
      }
      Object mine = get();
      if (mine == null) {
        return false;
      }
      if (o instanceof WeakKey w) {
        return w.get() == mine;
      }
      return o instanceof LookupKey k && k.lock == mine;
    }
  }

  /** A short-lived strong key for lookups. */
  static final class LookupKey {
    final Object lock;
    private final int hash;

    LookupKey(Object lock) {
      this.lock = lock;
      this.hash = System.identityHashCode(lock);
    }

    @Override
    public int hashCode() {
      return hash;
    }

    @Override
    public boolean equals(@Nullable Object o) {
      if (o instanceof LookupKey k) {
        return k.lock == lock;
      }
      return o instanceof WeakKey w && w.get() == lock;
    }
  }

  /**
   * The locks one thread holds, in acquisition order. Confined to its thread: plain fields,
   * never read by another thread.
   */
  static final class Held {
    /** Fills free slots, so that the list never keeps a released lock alive. */
    private static final Object NONE = new Object();

    Object[] locks = new Object[8];
    boolean[] shared = new boolean[8];
    int size;
    long epoch = -1L;
    boolean checking;

    void reset(long e) {
      Arrays.fill(locks, 0, size, NONE);
      size = 0;
      epoch = e;
    }

    void push(Object lock, boolean isShared) {
      if (size == locks.length) {
        // Both copies before either store: an OutOfMemoryError in the second must not leave
        // the two arrays of different lengths (review 30).
        Object[] l = Arrays.copyOf(locks, size * 2);
        boolean[] s = Arrays.copyOf(shared, size * 2);
        locks = l;
        shared = s;
      }
      locks[size] = lock;
      shared[size] = isShared;
      size++;
    }

    void remove(Object lock) {
      for (int i = size - 1; i >= 0; i--) { // the latest hold first: nested read guards
        if (locks[i] == lock) {
          int tail = size - 1 - i;
          System.arraycopy(locks, i + 1, locks, i, tail);
          System.arraycopy(shared, i + 1, shared, i, tail);
          size--;
          locks[size] = NONE; // drop the reference: the held list must not keep locks alive
          return;
        }
      }
    }
  }

  static {
    // Links enabled()'s invokeExact call site now, not on a lock's first acquisition, which
    // may come near the end of a thread's stack (see StackHeadroom.initializeNow). And calls it
    // past the JDK's customization threshold (127 calls of a handle not yet compiled), when the
    // JDK rewrites the handle's form once, which allocates: under a full heap that happened in a
    // Mutex release (review 30c), which then threw with the mutex still held.
    boolean unused = false;
    for (int i = 0; i < 256; i++) {
      unused |= enabled();
    }
  }
}
