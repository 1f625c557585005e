package dev.weft;

import java.lang.invoke.MethodHandles;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.RandomAccess;
import java.util.Vector;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BinaryOperator;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.IntConsumer;
import java.util.function.IntPredicate;
import java.util.function.LongBinaryOperator;
import java.util.function.LongUnaryOperator;
import java.util.function.Predicate;
import org.jspecify.annotations.Nullable;

/**
 * Data parallelism for lists, arrays and index ranges: {@code map}, {@code forEach},
 * {@code reduce} and {@code forRange} spread the elements over several threads and return
 * when all are done, in input order, failing fast; {@code anyMatch}, {@code allMatch},
 * {@code noneMatch}, {@code findAny} and {@code findFirst} search them and stop once the
 * answer is known.
 *
 * <pre>{@code
 * List<Long> data = LongStream.rangeClosed(1, 20).boxed().toList();
 * List<Long> squares = Parallel.map(data, x -> x * x, 4);         // 4 threads, in order
 * long sum = Parallel.reduce(data, x -> x * x, 0L, Long::sum);     // map + associative combine
 * Parallel.forEach(files, file -> compress(file));
 * Parallel.forRange(0, rows, row -> render(image, row));
 * boolean anyOdd = Parallel.anyMatch(data, x -> x % 2 == 1);       // stops at a match
 * Optional<Long> big = Parallel.findFirst(data, x -> x * x > 100); // Optional[11] (at index 10)
 * OptionalInt at = Parallel.findFirst(0, data.size(), i -> data.get(i) * data.get(i) > 100);
 *
 * // Options: thread count, your own ThreadFactory or Executor, minimum chunk size, cut-off
 * Parallel.Options io = Parallel.options().threads(32).executor(virtualThreadExecutor);
 * List<Page> pages = Parallel.map(urls, url -> fetch(url), io);
 *
 * // The plain JDK: a parallel stream on the common pool (no thread count, no cancellation,
 * // a failure does not stop the other elements)
 * List<Long> squares2 = data.parallelStream().map(x -> x * x).toList();
 * }</pre>
 *
 * <p>Where workers come from: by default, weft's shared pool of daemon platform threads named
 * {@code weft-parallel-N}, started when first needed, kept between calls (so a call hands work
 * to threads that already run instead of starting threads) and retired after 30 seconds
 * without work. At most {@code availableProcessors() - 1} of them serve calls with the default
 * thread count (the caller is the other thread), so concurrent calls share the machine; a call
 * that sets {@link Options#threads threads(n)} higher (blocking work, say) may start more, which
 * stay in the pool and retire the same way. Pool threads never inherit anything from the caller
 * that happened to start them: no context class loader (they have the system class loader, as
 * the common {@code ForkJoinPool}'s threads do), no inheritable thread-locals, not its thread
 * group or priority; they start each task with a clean interrupt status, cost no CPU once idle
 * (after a spin of 50 microseconds that lets back-to-back calls find them running; threads of
 * a call that used more pool threads than the default count park at once), and never
 * keep the JVM alive. The pool never queues: a call that finds no free thread goes on with fewer
 * workers. {@link Options#newThreadsPerCall()} starts new threads for each call instead, {@link
 * Options#threadFactory} uses yours, and {@link Options#executor} runs workers as tasks on
 * your executor (virtual threads, say).
 *
 * <p>How a call runs: a call of 2 to 16 elements is too small to time, and each element may
 * be heavy (eight files to compress, ten URLs to fetch). weft remembers, per class of the
 * function (one memory per lambda or method reference), what one element cost last time: a
 * function not seen before, or one whose elements were expensive, is split at once, so two
 * 1 ms elements take about 1 ms; a function known to be cheap runs its first element timed
 * (three clock reads, the whole overhead of a small cheap call) and the rest on the caller,
 * unless that element has become expensive. Larger inputs: the calling thread starts on the
 * elements itself and times the first few. If the rest would take less than the {@linkplain
 * Options#sequentialCutoff sequential cut-off} ({@link #DEFAULT_SEQUENTIAL_CUTOFF} with the
 * pool, {@link #DEFAULT_EXECUTOR_SEQUENTIAL_CUTOFF} with an executor, {@link
 * #DEFAULT_NEW_THREADS_SEQUENTIAL_CUTOFF} with new threads, unless set), it finishes them alone
 * and hands nothing out, so cheap inputs cost about as much as a plain loop. Otherwise it hands
 * up to {@code threads - 1} workers out and works alongside them; chunks of elements are handed
 * out one at a time from a shared counter, so a thread that drew cheap elements simply takes
 * more, and a few expensive elements do not leave threads idle. The function may therefore run
 * on any of these threads and on the caller's, concurrently. Every invocation of the function
 * has completed before the call returns or throws, and no element runs after it: workers that
 * have not begun by then are cancelled, pool threads are back in the pool (idle), and threads
 * started for the call alone have been joined. That holds even when the caller's wait itself
 * fails (on JDK 21+ a virtual caller too deep in its stack to unmount gets a {@link
 * StackOverflowError} from its park): it then waits without parking and throws the error
 * afterwards (or attaches it, suppressed, to the call's {@link TaskFailedException}).
 *
 * <p>Fail fast: the first exception or error thrown by the function stops the handing out of
 * chunks, the workers still inside the function are interrupted, and once they all have
 * stopped the call throws {@link TaskFailedException} with the first failure as its cause and
 * every later one as suppressed. Results computed so far are discarded. The calling thread is
 * never interrupted by weft (its interrupt status belongs to your code), also when an executor
 * runs worker tasks on it: an invocation running on it finishes its current element, and then
 * the caller stops.
 *
 * <p>Cancellation: if the calling thread is interrupted before or during the call, the call
 * stops in the same way and throws {@link CancellationException}, with the caller's interrupt
 * status still set; failures that the interrupted workers then threw are attached to it as
 * suppressed. The caller notices the interrupt between chunks, or every 1024 elements while
 * it works alone. (The call does not throw {@code InterruptedException}, so that it can be
 * used as a drop-in for a loop or a stream.)
 *
 * <p>Searches: {@code anyMatch}, {@code allMatch}, {@code noneMatch}, {@code findAny} and
 * {@code findFirst} (the stream operations of the same names; rayon's {@code any}, {@code all},
 * {@code find_any}, {@code find_first} and {@code position}) over a list, an array, or an
 * {@code int} range (which returns the matching index: the way to get the position of a list
 * or primitive-array element) run like the other operations (small inputs inline, the probe,
 * fail fast, cancellation), but stop once the answer is known: no further chunks are handed
 * out, and threads inside a chunk stop at their next check (every ~10 µs of work, or every
 * element when the cut-off is zero). {@code anyMatch}, {@code noneMatch} and {@code findAny}
 * stop at the first match any thread finds (so {@code findAny} may return a different match
 * from call to call), {@code allMatch} at the first element that fails the predicate. {@code
 * findFirst} returns the match with the lowest index: it never misses an earlier match (a
 * chunk before the best match found so far still runs to its end, since it may hold an
 * earlier one) and does not wait for the elements after it. Which elements beyond the answer
 * the predicate is still called for (those other threads had already started on) is
 * unspecified, and a failure of any invocation fails the call with {@link
 * TaskFailedException} even if a match was also found, as in streams and rayon. Chunks are
 * kept small (about a thousandth of the input each) so that little is tested past the answer.
 * An empty input gives {@code false} for {@code anyMatch}, {@code true} for {@code allMatch}
 * and {@code noneMatch}, and an empty result for {@code findAny} and {@code findFirst}. As in
 * {@code Stream.findFirst}, a matching element that is null cannot be returned in an {@code
 * Optional}: {@code findAny} and {@code findFirst} of a list or array throw {@link
 * NullPointerException} then; the range form finds its index. The element a list's search
 * returns is read again with {@code get(index)} on the calling thread: for a list whose {@code
 * get} builds a new object on each call (a view that transforms its elements) it is an equal
 * copy, not the object the predicate saw.
 *
 * <p>Nesting and locks: the calling thread only ever runs elements of its own call, never
 * unrelated work, so calling {@code Parallel} while holding a lock, from inside a function
 * given to {@code Parallel} (each nested call that is large enough starts its own workers), or
 * with a function that blocks or takes its own locks cannot deadlock through weft. (A function
 * that takes a lock the caller holds for the whole call blocks its workers until the call ends,
 * which is a deadlock of the program, as with any threads. The same holds for a list whose
 * {@code get} takes such a lock, since workers read a {@code RandomAccess} list's elements with
 * {@code get(i)}; a {@code Vector} or a {@code Collections.synchronizedList}, whose lock the
 * JDK tells callers to hold while they traverse them, is copied on the calling thread first,
 * but a view over one ({@code Collections.unmodifiableList(vector)}, {@code checkedList}) is
 * not: copy it yourself, {@code new ArrayList<>(view)}, under the lock.)
 *
 * <p>Inside a static initializer: a call made while a class is being initialized, with a
 * function written in that class (a lambda, or a reference to one of its methods), cannot end.
 * The function's body belongs to the class, so a worker's first call of it waits for the
 * initialization (JLS 12.4.2), which waits for the call. A parallel stream hangs there for
 * ever. weft's call notices it: after 20 ms of waiting for its workers it looks (and, inside
 * such an initializer, looks again every half second), and if a worker has stayed at the call
 * of the function for a quarter of a second, finishing nothing, it throws {@link
 * IllegalStateException} naming the class (the initializer then fails with it
 * as the cause of an {@link ExceptionInInitializerError}). It does not wait for the blocked
 * workers, the one case in which a call ends with workers still out: they never enter the
 * function if the exception leaves the initializer (the failed initialization releases them
 * with {@link NoClassDefFoundError}, and they go back to the pool), but if the initializer
 * catches it and completes, they run the elements they had taken after the call has thrown.
 * Make such a call after the initializer (from a method, a holder class, or a {@link Lazy}), or
 * on one thread. Not recognised, so that such a call hangs like a parallel stream (see {@code
 * docs/parallel.md}): functions of named or anonymous classes, lambdas that capture a reference
 * of the class's own type, functions of other classes that read the class's statics, calls
 * whose chunks are long and of unknown cost (a cut-off of zero over a large input, where a
 * running worker could not be told from a blocked one), and, on JDK 17&ndash;23, a security
 * manager that denies reading other threads' stacks.
 *
 * <p><b>Memory consistency effects:</b> Actions in a thread prior to calling a method of
 * {@code Parallel} happen-before every invocation of the function (action, body or predicate)
 * by that call, and every invocation that ran happens-before the call returns or throws. (With an {@link Options#executor
 * Executor}, the first half relies on the executor's own guarantee that actions prior to
 * {@code execute} happen-before the task runs, which every {@code java.util.concurrent}
 * executor gives.)
 *
 * <p><b>Thread-safety:</b> all methods are static and may be called from any thread,
 * concurrently and nested. The function must be safe to call from several threads at once;
 * the input must not be modified during the call. {@link Options} are immutable.
 *
 * <p><b>Bad input:</b> a null list, array, function, predicate or options throws
 * {@link NullPointerException} naming it; a thread count or chunk size below 1, a negative
 * cut-off, or {@code from > to} throws {@link IllegalArgumentException} with the value. A
 * function that returns null is fine: {@code map} puts null into the result. A call from a
 * class's static initializer whose workers wait for that initializer throws {@link
 * IllegalStateException} (above).
 */
public final class Parallel {
  /**
   * The default sequential cut-off with the default workers (the shared pool of weft's threads),
   * 30 microseconds: when the elements left after the first few would take less than this on
   * the calling thread alone (estimated from the time the first ones took), the call runs them
   * all on the calling thread and hands nothing to a worker.
   *
   * <p>Chosen from measurements ({@code ParallelCutoffBench}, {@code docs/parallel.md}): handing
   * work to a pool thread costs the caller a hand-over (and an unpark if the thread was parked),
   * not a thread start, so splitting pays off from a few tens of microseconds of work.
   */
  public static final Duration DEFAULT_SEQUENTIAL_CUTOFF = Duration.ofNanos(30_000L);

  /**
   * The default sequential cut-off when workers are new threads started by each call ({@link
   * Options#newThreadsPerCall()} or a {@link Options#threadFactory ThreadFactory}), 300
   * microseconds.
   *
   * <p>Chosen from measurements ({@code ParallelCutoffBench}, {@code docs/parallel.md}): a
   * split that starts and joins one new platform thread cost about 136 µs more than half the
   * work on the 2-core machines measured (thread start and join alone: 131 µs), so splitting
   * in two wins only above about 270 µs of work. On a quiet bare-metal machine thread start is
   * several times cheaper; lower the cut-off there with {@link Options#sequentialCutoff}.
   */
  public static final Duration DEFAULT_NEW_THREADS_SEQUENTIAL_CUTOFF =
      Duration.ofNanos(300_000L);

  /**
   * The default sequential cut-off when workers run on an {@link Options#executor Executor},
   * 100 microseconds: handing a task to a pool thread that is already running costs far less
   * than starting a thread (a 2-thread split on a warm pool cost about 50 µs more than half
   * the work on the machines measured), so splitting pays off from about 100 µs of work.
   */
  public static final Duration DEFAULT_EXECUTOR_SEQUENTIAL_CUTOFF = Duration.ofNanos(100_000L);

  /** {@code Options.cutoffNanos} value meaning "the default for the worker source". */
  private static final long DEFAULT_CUTOFF = -1L;

  private static final long DEFAULT_POOL_CUTOFF_NANOS = DEFAULT_SEQUENTIAL_CUTOFF.toNanos();
  private static final long DEFAULT_THREAD_CUTOFF_NANOS =
      DEFAULT_NEW_THREADS_SEQUENTIAL_CUTOFF.toNanos();
  private static final long DEFAULT_EXECUTOR_CUTOFF_NANOS =
      DEFAULT_EXECUTOR_SEQUENTIAL_CUTOFF.toNanos();

  private static final String MAP = "Parallel.map";
  private static final String FOR_EACH = "Parallel.forEach";
  private static final String FOR_RANGE = "Parallel.forRange";
  private static final String REDUCE = "Parallel.reduce";
  private static final String ANY_MATCH = "Parallel.anyMatch";
  private static final String ALL_MATCH = "Parallel.allMatch";
  private static final String NONE_MATCH = "Parallel.noneMatch";
  private static final String FIND_ANY = "Parallel.findAny";
  private static final String FIND_FIRST = "Parallel.findFirst";

  private static final Options DEFAULTS = new Options(0, null, null, 1, DEFAULT_CUTOFF);

  private Parallel() {}

  /**
   * The default options: as many threads as available processors (the caller and workers
   * from weft's shared pool), minimum chunk size 1, {@link #DEFAULT_SEQUENTIAL_CUTOFF} (or
   * {@link #DEFAULT_EXECUTOR_SEQUENTIAL_CUTOFF} once an executor is set, {@link
   * #DEFAULT_NEW_THREADS_SEQUENTIAL_CUTOFF} with new threads).
   *
   * @return the default options, to derive others from
   */
  public static Options options() {
    return DEFAULTS;
  }

  // ---------------------------------------------------------------------------------- map

  /**
   * Applies {@code f} to every element, in parallel, and returns the results in input order.
   *
   * @param <T> the element type
   * @param <R> the result type
   * @param data the elements; not modified, and must not be modified during the call
   * @param f the function; may return null
   * @return an unmodifiable list, {@code result.get(i) == f.apply(data.get(i))}, which may
   *     contain nulls
   * @throws NullPointerException if {@code data} or {@code f} is null
   * @throws TaskFailedException if {@code f} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T, R> List<R> map(
      List<? extends T> data, Function<? super T, ? extends R> f) {
    return map(data, f, DEFAULTS);
  }

  /**
   * Applies {@code f} to every element using at most {@code threads} threads (the calling
   * thread included), and returns the results in input order.
   *
   * @param <T> the element type
   * @param <R> the result type
   * @param data the elements; must not be modified during the call
   * @param f the function; may return null
   * @param threads the most threads to use, the caller's included; at least 1
   * @return an unmodifiable list of the results in input order, which may contain nulls
   * @throws NullPointerException if {@code data} or {@code f} is null
   * @throws IllegalArgumentException if {@code threads < 1}
   * @throws TaskFailedException if {@code f} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T, R> List<R> map(
      List<? extends T> data, Function<? super T, ? extends R> f, int threads) {
    return map(data, f, DEFAULTS.threads(threads));
  }

  /**
   * Applies {@code f} to every element with the given options, and returns the results in
   * input order.
   *
   * @param <T> the element type
   * @param <R> the result type
   * @param data the elements; must not be modified during the call
   * @param f the function; may return null
   * @param options threads, thread source, chunk size and cut-off
   * @return an unmodifiable list of the results in input order, which may contain nulls
   * @throws NullPointerException if {@code data}, {@code f} or {@code options} is null
   * @throws TaskFailedException if {@code f} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T, R> List<R> map(
      List<? extends T> data, Function<? super T, ? extends R> f, Options options) {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(f, "f");
    Objects.requireNonNull(options, "options");
    List<? extends T> in = randomAccess(data);
    int n = in.size();
    if (ParallelJob.runsInline(n, options)) {
      return mapInline(in, f);
    }
    AtomicLong cheap = ParallelJob.knownCheap(f, n, options);
    if (cheap != null) {
      // A handful of elements of a function known to be cheap: time element 0, no job.
      ParallelJob.checkNotInterrupted(MAP);
      @Nullable Object[] out = new Object[n];
      long t0 = System.nanoTime();
      try {
        out[0] = f.apply(in.get(0));
      } catch (Throwable t) {
        throw ParallelJob.failedInline(MAP, t);
      }
      long t1 = System.nanoTime();
      long first = t1 - t0;
      if (ParallelJob.turnedExpensive(cheap, first, n, options)) {
        MapJob<T, R> job = new MapJob<>(in, f, out);
        job.invokeFromSecond(options, first);
        return job.result();
      }
      try {
        for (int i = 1; i < n; i++) {
          out[i] = f.apply(in.get(i));
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(MAP, t);
      }
      ParallelJob.rememberAlone(cheap, first, System.nanoTime() - t1, n);
      @SuppressWarnings("unchecked") // out holds only results of f, which are R
      List<R> result = (List<R>) (List<?>) Arrays.asList(out);
      return Collections.unmodifiableList(result);
    }
    MapJob<T, R> job = new MapJob<>(in, f, new Object[n]);
    job.invoke(options);
    return job.result();
  }

  /**
   * Applies {@code f} to every array element, in parallel, and returns the results in order.
   *
   * @param <T> the element type
   * @param <R> the result type
   * @param data the elements; must not be modified during the call
   * @param f the function; may return null
   * @return an unmodifiable list of the results in input order, which may contain nulls
   * @throws NullPointerException if {@code data} or {@code f} is null
   * @throws TaskFailedException if {@code f} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T, R> List<R> map(
      T[] data, Function<? super T, ? extends R> f) {
    return map(data, f, DEFAULTS);
  }

  /**
   * Applies {@code f} to every array element with the given options, and returns the results
   * in order.
   *
   * @param <T> the element type
   * @param <R> the result type
   * @param data the elements; must not be modified during the call
   * @param f the function; may return null
   * @param options threads, thread source, chunk size and cut-off
   * @return an unmodifiable list of the results in input order, which may contain nulls
   * @throws NullPointerException if {@code data}, {@code f} or {@code options} is null
   * @throws TaskFailedException if {@code f} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T, R> List<R> map(
      T[] data, Function<? super T, ? extends R> f, Options options) {
    Objects.requireNonNull(data, "data");
    return map(Arrays.asList(data), f, options);
  }

  /**
   * Applies {@code f} to every element of a {@code long} array, in parallel, without boxing.
   *
   * @param data the elements; must not be modified during the call
   * @param f the function
   * @return a new array, {@code result[i] == f.applyAsLong(data[i])}
   * @throws NullPointerException if {@code data} or {@code f} is null
   * @throws TaskFailedException if {@code f} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static long[] map(long[] data, LongUnaryOperator f) {
    return map(data, f, DEFAULTS);
  }

  /**
   * Applies {@code f} to every element of a {@code long} array with the given options.
   *
   * @param data the elements; must not be modified during the call
   * @param f the function
   * @param options threads, thread source, chunk size and cut-off
   * @return a new array, {@code result[i] == f.applyAsLong(data[i])}
   * @throws NullPointerException if {@code data}, {@code f} or {@code options} is null
   * @throws TaskFailedException if {@code f} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static long[] map(long[] data, LongUnaryOperator f, Options options) {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(f, "f");
    Objects.requireNonNull(options, "options");
    int n = data.length;
    if (ParallelJob.runsInline(n, options)) {
      return mapInline(data, f);
    }
    AtomicLong cheap = ParallelJob.knownCheap(f, n, options);
    if (cheap != null) {
      // A handful of elements of a function known to be cheap: time element 0, no job.
      ParallelJob.checkNotInterrupted(MAP);
      long[] out = new long[n];
      long t0 = System.nanoTime();
      try {
        out[0] = f.applyAsLong(data[0]);
      } catch (Throwable t) {
        throw ParallelJob.failedInline(MAP, t);
      }
      long t1 = System.nanoTime();
      long first = t1 - t0;
      if (ParallelJob.turnedExpensive(cheap, first, n, options)) {
        LongMapJob job = new LongMapJob(data, f, out);
        job.invokeFromSecond(options, first);
        return job.out;
      }
      try {
        for (int i = 1; i < n; i++) {
          out[i] = f.applyAsLong(data[i]);
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(MAP, t);
      }
      ParallelJob.rememberAlone(cheap, first, System.nanoTime() - t1, n);
      return out;
    }
    LongMapJob job = new LongMapJob(data, f, new long[n]);
    job.invoke(options);
    return job.out;
  }

  // ------------------------------------------------------------------------------ forEach

  /**
   * Calls {@code action} for every element, in parallel, in no particular order.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param action the action
   * @throws NullPointerException if {@code data} or {@code action} is null
   * @throws TaskFailedException if {@code action} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> void forEach(List<? extends T> data, Consumer<? super T> action) {
    forEach(data, action, DEFAULTS);
  }

  /**
   * Calls {@code action} for every element with the given options, in no particular order.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param action the action
   * @param options threads, thread source, chunk size and cut-off
   * @throws NullPointerException if {@code data}, {@code action} or {@code options} is null
   * @throws TaskFailedException if {@code action} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> void forEach(
      List<? extends T> data, Consumer<? super T> action, Options options) {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(action, "action");
    Objects.requireNonNull(options, "options");
    List<? extends T> in = randomAccess(data);
    int n = in.size();
    if (ParallelJob.runsInline(n, options)) {
      forEachInline(in, action);
      return;
    }
    AtomicLong cheap = ParallelJob.knownCheap(action, n, options);
    if (cheap != null) {
      // A handful of elements of an action known to be cheap: time element 0, no job.
      ParallelJob.checkNotInterrupted(FOR_EACH);
      long t0 = System.nanoTime();
      try {
        action.accept(in.get(0));
      } catch (Throwable t) {
        throw ParallelJob.failedInline(FOR_EACH, t);
      }
      long t1 = System.nanoTime();
      long first = t1 - t0;
      if (ParallelJob.turnedExpensive(cheap, first, n, options)) {
        new ForEachJob<T>(in, action).invokeFromSecond(options, first);
        return;
      }
      try {
        for (int i = 1; i < n; i++) {
          action.accept(in.get(i));
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(FOR_EACH, t);
      }
      ParallelJob.rememberAlone(cheap, first, System.nanoTime() - t1, n);
      return;
    }
    new ForEachJob<T>(in, action).invoke(options);
  }

  /**
   * Calls {@code action} for every array element, in parallel, in no particular order.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param action the action
   * @throws NullPointerException if {@code data} or {@code action} is null
   * @throws TaskFailedException if {@code action} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> void forEach(T[] data, Consumer<? super T> action) {
    forEach(data, action, DEFAULTS);
  }

  /**
   * Calls {@code action} for every array element with the given options.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param action the action
   * @param options threads, thread source, chunk size and cut-off
   * @throws NullPointerException if {@code data}, {@code action} or {@code options} is null
   * @throws TaskFailedException if {@code action} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> void forEach(T[] data, Consumer<? super T> action, Options options) {
    Objects.requireNonNull(data, "data");
    forEach(Arrays.asList(data), action, options);
  }

  /**
   * Calls {@code body} for every {@code int} in {@code [from, to)}, in parallel: the parallel
   * counterpart of {@code for (int i = from; i < to; i++) body.accept(i);}.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} does nothing
   * @param body the loop body
   * @throws NullPointerException if {@code body} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code body} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static void forRange(int from, int to, IntConsumer body) {
    forRange(from, to, body, DEFAULTS);
  }

  /**
   * Calls {@code body} for every {@code int} in {@code [from, to)} with the given options.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} does nothing
   * @param body the loop body
   * @param options threads, thread source, chunk size and cut-off
   * @throws NullPointerException if {@code body} or {@code options} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code body} threw (the first failure is the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static void forRange(int from, int to, IntConsumer body, Options options) {
    Objects.requireNonNull(body, "body");
    Objects.requireNonNull(options, "options");
    if (from > to) {
      throw new IllegalArgumentException(
          "forRange needs from <= to, but from = " + from + " and to = " + to);
    }
    long n = (long) to - from;
    if (ParallelJob.runsInline(n, options)) {
      forRangeInline(from, to, body);
      return;
    }
    AtomicLong cheap = ParallelJob.knownCheap(body, n, options);
    if (cheap != null) {
      // A handful of indices of a body known to be cheap: time the first, no job.
      ParallelJob.checkNotInterrupted(FOR_RANGE);
      long t0 = System.nanoTime();
      try {
        body.accept(from);
      } catch (Throwable t) {
        throw ParallelJob.failedInline(FOR_RANGE, t);
      }
      long t1 = System.nanoTime();
      long first = t1 - t0;
      if (ParallelJob.turnedExpensive(cheap, first, n, options)) {
        new RangeJob(from, n, body).invokeFromSecond(options, first);
        return;
      }
      try {
        for (int i = from + 1; i < to; i++) {
          body.accept(i);
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(FOR_RANGE, t);
      }
      ParallelJob.rememberAlone(cheap, first, System.nanoTime() - t1, n);
      return;
    }
    new RangeJob(from, n, body).invoke(options);
  }

  // ------------------------------------------------------------------------------- reduce

  /**
   * Maps every element with {@code f} and combines the results with {@code combine}, in
   * parallel: {@code identity ⊕ f(x0) ⊕ f(x1) ⊕ ...} with the elements in input order.
   *
   * <p>{@code combine} must be associative and {@code identity} its identity
   * ({@code combine(identity, r) == r}); it need not be commutative: partial results are
   * combined in input order.
   *
   * @param <T> the element type
   * @param <R> the result type
   * @param data the elements; must not be modified during the call
   * @param f the mapping function
   * @param identity the identity of {@code combine}; the result for an empty list
   * @param combine an associative function combining two results
   * @return the combined result
   * @throws NullPointerException if {@code data}, {@code f} or {@code combine} is null
   * @throws TaskFailedException if {@code f} or {@code combine} threw (the first failure is
   *     the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T, R> R reduce(
      List<? extends T> data, Function<? super T, ? extends R> f, R identity,
      BinaryOperator<R> combine) {
    return reduce(data, f, identity, combine, DEFAULTS);
  }

  /**
   * Maps every element with {@code f} and combines the results with {@code combine}, with
   * the given options; see {@link #reduce(List, Function, Object, BinaryOperator)}.
   *
   * @param <T> the element type
   * @param <R> the result type
   * @param data the elements; must not be modified during the call
   * @param f the mapping function
   * @param identity the identity of {@code combine}; the result for an empty list
   * @param combine an associative function combining two results
   * @param options threads, thread source, chunk size and cut-off
   * @return the combined result
   * @throws NullPointerException if {@code data}, {@code f}, {@code combine} or
   *     {@code options} is null
   * @throws TaskFailedException if {@code f} or {@code combine} threw (the first failure is
   *     the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T, R> R reduce(
      List<? extends T> data, Function<? super T, ? extends R> f, R identity,
      BinaryOperator<R> combine, Options options) {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(f, "f");
    Objects.requireNonNull(combine, "combine");
    Objects.requireNonNull(options, "options");
    List<? extends T> in = randomAccess(data);
    int n = in.size();
    if (ParallelJob.runsInline(n, options)) {
      return reduceInline(in, f, identity, combine);
    }
    AtomicLong cheap = ParallelJob.knownCheap(f, n, options);
    if (cheap != null) {
      // A handful of elements of a function known to be cheap: time element 0, no job.
      ParallelJob.checkNotInterrupted(REDUCE);
      R acc;
      long t0 = System.nanoTime();
      try {
        acc = combine.apply(identity, f.apply(in.get(0)));
      } catch (Throwable t) {
        throw ParallelJob.failedInline(REDUCE, t);
      }
      long t1 = System.nanoTime();
      long first = t1 - t0;
      if (ParallelJob.turnedExpensive(cheap, first, n, options)) {
        ReduceJob<T, R> job = new ReduceJob<>(in, f, identity, combine);
        job.prefix = acc;
        job.invokeFromSecond(options, first);
        return job.result();
      }
      try {
        for (int i = 1; i < n; i++) {
          acc = combine.apply(acc, f.apply(in.get(i)));
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(REDUCE, t);
      }
      ParallelJob.rememberAlone(cheap, first, System.nanoTime() - t1, n);
      return acc;
    }
    ReduceJob<T, R> job = new ReduceJob<>(in, f, identity, combine);
    job.invoke(options);
    return job.result();
  }

  /**
   * Maps every element of a {@code long} array with {@code f} and combines the results with
   * {@code combine}, in parallel and without boxing, e.g. a sum of squares:
   * {@code Parallel.reduce(data, x -> x * x, 0L, Long::sum)}.
   *
   * @param data the elements; must not be modified during the call
   * @param f the mapping function
   * @param identity the identity of {@code combine}; the result for an empty array
   * @param combine an associative function; partial results are combined in input order
   * @return the combined result
   * @throws NullPointerException if {@code data}, {@code f} or {@code combine} is null
   * @throws TaskFailedException if {@code f} or {@code combine} threw (the first failure is
   *     the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static long reduce(
      long[] data, LongUnaryOperator f, long identity, LongBinaryOperator combine) {
    return reduce(data, f, identity, combine, DEFAULTS);
  }

  /**
   * Maps every element of a {@code long} array with {@code f} and combines the results with
   * {@code combine}, with the given options.
   *
   * @param data the elements; must not be modified during the call
   * @param f the mapping function
   * @param identity the identity of {@code combine}; the result for an empty array
   * @param combine an associative function; partial results are combined in input order
   * @param options threads, thread source, chunk size and cut-off
   * @return the combined result
   * @throws NullPointerException if {@code data}, {@code f}, {@code combine} or
   *     {@code options} is null
   * @throws TaskFailedException if {@code f} or {@code combine} threw (the first failure is
   *     the cause)
   * @throws CancellationException if the calling thread was interrupted
   */
  public static long reduce(
      long[] data, LongUnaryOperator f, long identity, LongBinaryOperator combine,
      Options options) {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(f, "f");
    Objects.requireNonNull(combine, "combine");
    Objects.requireNonNull(options, "options");
    int n = data.length;
    if (ParallelJob.runsInline(n, options)) {
      return reduceInline(data, f, identity, combine);
    }
    AtomicLong cheap = ParallelJob.knownCheap(f, n, options);
    if (cheap != null) {
      // A handful of elements of a function known to be cheap: time element 0, no job.
      ParallelJob.checkNotInterrupted(REDUCE);
      long acc;
      long t0 = System.nanoTime();
      try {
        acc = combine.applyAsLong(identity, f.applyAsLong(data[0]));
      } catch (Throwable t) {
        throw ParallelJob.failedInline(REDUCE, t);
      }
      long t1 = System.nanoTime();
      long first = t1 - t0;
      if (ParallelJob.turnedExpensive(cheap, first, n, options)) {
        LongReduceJob job = new LongReduceJob(data, f, identity, combine);
        job.prefix = acc;
        job.invokeFromSecond(options, first);
        return job.result();
      }
      try {
        for (int i = 1; i < n; i++) {
          acc = combine.applyAsLong(acc, f.applyAsLong(data[i]));
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(REDUCE, t);
      }
      ParallelJob.rememberAlone(cheap, first, System.nanoTime() - t1, n);
      return acc;
    }
    LongReduceJob job = new LongReduceJob(data, f, identity, combine);
    job.invoke(options);
    return job.result();
  }

  // ------------------------------------------------------------------------------- search
  // Short-circuiting searches: see the class Javadoc's "Searches" and ParallelSearch's notes.

  /**
   * Returns whether {@code predicate} holds for at least one element, testing the elements in
   * parallel and stopping once any thread finds one that matches; false for an empty list.
   * Elements beyond the one found may still be tested (see the class Javadoc, "Searches").
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @return whether some element matches
   * @throws NullPointerException if {@code data} or {@code predicate} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean anyMatch(List<? extends T> data, Predicate<? super T> predicate) {
    return anyMatch(data, predicate, DEFAULTS);
  }

  /**
   * Returns whether {@code predicate} holds for at least one element, with the given options;
   * see {@link #anyMatch(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return whether some element matches
   * @throws NullPointerException if {@code data}, {@code predicate} or {@code options} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean anyMatch(
      List<? extends T> data, Predicate<? super T> predicate, Options options) {
    return indexOf(ANY_MATCH, data, predicate, options, true, false) >= 0;
  }

  /**
   * Returns whether {@code predicate} holds for at least one array element; see {@link
   * #anyMatch(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @return whether some element matches
   * @throws NullPointerException if {@code data} or {@code predicate} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean anyMatch(T[] data, Predicate<? super T> predicate) {
    return anyMatch(data, predicate, DEFAULTS);
  }

  /**
   * Returns whether {@code predicate} holds for at least one array element, with the given
   * options; see {@link #anyMatch(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return whether some element matches
   * @throws NullPointerException if {@code data}, {@code predicate} or {@code options} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean anyMatch(T[] data, Predicate<? super T> predicate, Options options) {
    Objects.requireNonNull(data, "data");
    return anyMatch(Arrays.asList(data), predicate, options);
  }

  /**
   * Returns whether {@code predicate} holds for at least one {@code int} in {@code [from,
   * to)}, testing them in parallel and stopping once any thread finds one; false for an empty
   * range. See {@link #anyMatch(List, Predicate)}.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} is an empty range
   * @param predicate the test; must be safe to call from several threads at once
   * @return whether some index matches
   * @throws NullPointerException if {@code predicate} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static boolean anyMatch(int from, int to, IntPredicate predicate) {
    return anyMatch(from, to, predicate, DEFAULTS);
  }

  /**
   * Returns whether {@code predicate} holds for at least one {@code int} in {@code [from,
   * to)}, with the given options; see {@link #anyMatch(int, int, IntPredicate)}.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} is an empty range
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return whether some index matches
   * @throws NullPointerException if {@code predicate} or {@code options} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static boolean anyMatch(int from, int to, IntPredicate predicate, Options options) {
    return indexOf(ANY_MATCH, from, to, predicate, options, true, false) >= 0;
  }

  /**
   * Returns whether {@code predicate} holds for every element, testing the elements in
   * parallel and stopping once any thread finds one for which it does not; true for an empty
   * list. Elements beyond the one found may still be tested (see the class Javadoc,
   * "Searches").
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @return whether every element matches
   * @throws NullPointerException if {@code data} or {@code predicate} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a failing element was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean allMatch(List<? extends T> data, Predicate<? super T> predicate) {
    return allMatch(data, predicate, DEFAULTS);
  }

  /**
   * Returns whether {@code predicate} holds for every element, with the given options; see
   * {@link #allMatch(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return whether every element matches
   * @throws NullPointerException if {@code data}, {@code predicate} or {@code options} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a failing element was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean allMatch(
      List<? extends T> data, Predicate<? super T> predicate, Options options) {
    return indexOf(ALL_MATCH, data, predicate, options, false, false) < 0;
  }

  /**
   * Returns whether {@code predicate} holds for every array element; see {@link
   * #allMatch(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @return whether every element matches
   * @throws NullPointerException if {@code data} or {@code predicate} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a failing element was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean allMatch(T[] data, Predicate<? super T> predicate) {
    return allMatch(data, predicate, DEFAULTS);
  }

  /**
   * Returns whether {@code predicate} holds for every array element, with the given options;
   * see {@link #allMatch(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return whether every element matches
   * @throws NullPointerException if {@code data}, {@code predicate} or {@code options} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a failing element was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean allMatch(T[] data, Predicate<? super T> predicate, Options options) {
    Objects.requireNonNull(data, "data");
    return allMatch(Arrays.asList(data), predicate, options);
  }

  /**
   * Returns whether {@code predicate} holds for every {@code int} in {@code [from, to)},
   * testing them in parallel and stopping once any thread finds one for which it does not;
   * true for an empty range. See {@link #allMatch(List, Predicate)}.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} is an empty range
   * @param predicate the test; must be safe to call from several threads at once
   * @return whether every index matches
   * @throws NullPointerException if {@code predicate} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a failing index was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static boolean allMatch(int from, int to, IntPredicate predicate) {
    return allMatch(from, to, predicate, DEFAULTS);
  }

  /**
   * Returns whether {@code predicate} holds for every {@code int} in {@code [from, to)}, with
   * the given options; see {@link #allMatch(int, int, IntPredicate)}.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} is an empty range
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return whether every index matches
   * @throws NullPointerException if {@code predicate} or {@code options} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a failing index was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static boolean allMatch(int from, int to, IntPredicate predicate, Options options) {
    return indexOf(ALL_MATCH, from, to, predicate, options, false, false) < 0;
  }

  /**
   * Returns whether {@code predicate} holds for no element, testing the elements in parallel
   * and stopping once any thread finds one that matches; true for an empty list. Elements
   * beyond the one found may still be tested (see the class Javadoc, "Searches").
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @return whether no element matches
   * @throws NullPointerException if {@code data} or {@code predicate} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean noneMatch(List<? extends T> data, Predicate<? super T> predicate) {
    return noneMatch(data, predicate, DEFAULTS);
  }

  /**
   * Returns whether {@code predicate} holds for no element, with the given options; see
   * {@link #noneMatch(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return whether no element matches
   * @throws NullPointerException if {@code data}, {@code predicate} or {@code options} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean noneMatch(
      List<? extends T> data, Predicate<? super T> predicate, Options options) {
    return indexOf(NONE_MATCH, data, predicate, options, true, false) < 0;
  }

  /**
   * Returns whether {@code predicate} holds for no array element; see {@link
   * #noneMatch(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @return whether no element matches
   * @throws NullPointerException if {@code data} or {@code predicate} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean noneMatch(T[] data, Predicate<? super T> predicate) {
    return noneMatch(data, predicate, DEFAULTS);
  }

  /**
   * Returns whether {@code predicate} holds for no array element, with the given options; see
   * {@link #noneMatch(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return whether no element matches
   * @throws NullPointerException if {@code data}, {@code predicate} or {@code options} is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> boolean noneMatch(
      T[] data, Predicate<? super T> predicate, Options options) {
    Objects.requireNonNull(data, "data");
    return noneMatch(Arrays.asList(data), predicate, options);
  }

  /**
   * Returns whether {@code predicate} holds for no {@code int} in {@code [from, to)}, testing
   * them in parallel and stopping once any thread finds one that matches; true for an empty
   * range. See {@link #noneMatch(List, Predicate)}.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} is an empty range
   * @param predicate the test; must be safe to call from several threads at once
   * @return whether no index matches
   * @throws NullPointerException if {@code predicate} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static boolean noneMatch(int from, int to, IntPredicate predicate) {
    return noneMatch(from, to, predicate, DEFAULTS);
  }

  /**
   * Returns whether {@code predicate} holds for no {@code int} in {@code [from, to)}, with the
   * given options; see {@link #noneMatch(int, int, IntPredicate)}.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} is an empty range
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return whether no index matches
   * @throws NullPointerException if {@code predicate} or {@code options} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static boolean noneMatch(int from, int to, IntPredicate predicate, Options options) {
    return indexOf(NONE_MATCH, from, to, predicate, options, true, false) < 0;
  }

  /**
   * Returns some element for which {@code predicate} holds, testing the elements in parallel
   * and stopping once any thread finds one; not necessarily the first, and not always the same
   * one for the same input. Empty if none matches (or the list is empty). Elements beyond the
   * one found may still be tested (see the class Javadoc, "Searches").
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @return a matching element, or empty if there is none
   * @throws NullPointerException if {@code data} or {@code predicate} is null, or if the
   *     element found is null ({@code Optional} cannot hold it; use {@link #findAny(int, int,
   *     IntPredicate)} over the indices to find it)
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> Optional<T> findAny(List<? extends T> data, Predicate<? super T> predicate) {
    return findAny(data, predicate, DEFAULTS);
  }

  /**
   * Returns some element for which {@code predicate} holds, with the given options; see
   * {@link #findAny(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return a matching element, or empty if there is none
   * @throws NullPointerException if {@code data}, {@code predicate} or {@code options} is null,
   *     or if the element found is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> Optional<T> findAny(
      List<? extends T> data, Predicate<? super T> predicate, Options options) {
    return find(FIND_ANY, data, predicate, options, false);
  }

  /**
   * Returns some array element for which {@code predicate} holds; see {@link
   * #findAny(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @return a matching element, or empty if there is none
   * @throws NullPointerException if {@code data} or {@code predicate} is null, or if the
   *     element found is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> Optional<T> findAny(T[] data, Predicate<? super T> predicate) {
    return findAny(data, predicate, DEFAULTS);
  }

  /**
   * Returns some array element for which {@code predicate} holds, with the given options; see
   * {@link #findAny(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return a matching element, or empty if there is none
   * @throws NullPointerException if {@code data}, {@code predicate} or {@code options} is null,
   *     or if the element found is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> Optional<T> findAny(
      T[] data, Predicate<? super T> predicate, Options options) {
    Objects.requireNonNull(data, "data");
    return findAny(Arrays.asList(data), predicate, options);
  }

  /**
   * Returns some {@code int} in {@code [from, to)} for which {@code predicate} holds, testing
   * them in parallel and stopping once any thread finds one; not necessarily the lowest. Empty
   * if none matches. Use it to find the position of an element: {@code findAny(0, a.length, i
   * -> a[i] == key)}. See {@link #findAny(List, Predicate)}.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} is an empty range
   * @param predicate the test; must be safe to call from several threads at once
   * @return a matching index, or empty if there is none
   * @throws NullPointerException if {@code predicate} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static OptionalInt findAny(int from, int to, IntPredicate predicate) {
    return findAny(from, to, predicate, DEFAULTS);
  }

  /**
   * Returns some {@code int} in {@code [from, to)} for which {@code predicate} holds, with the
   * given options; see {@link #findAny(int, int, IntPredicate)}.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} is an empty range
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return a matching index, or empty if there is none
   * @throws NullPointerException if {@code predicate} or {@code options} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static OptionalInt findAny(int from, int to, IntPredicate predicate, Options options) {
    return index(from, indexOf(FIND_ANY, from, to, predicate, options, true, false));
  }

  /**
   * Returns the first element (the one with the lowest index) for which {@code predicate}
   * holds, testing the elements in parallel: the parallel {@code Stream.filter(..).findFirst()}.
   * It never misses an earlier match and does not wait for the elements after the match: once
   * a match is found, no further chunks are handed out, chunks after it stop at their next
   * check, and only chunks before it (which may hold an earlier match) run on. Empty if none
   * matches (or the list is empty). Elements beyond the match may still be tested (see the
   * class Javadoc, "Searches").
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @return the first matching element, or empty if there is none
   * @throws NullPointerException if {@code data} or {@code predicate} is null, or if the first
   *     matching element is null ({@code Optional} cannot hold it; use {@link #findFirst(int,
   *     int, IntPredicate)} over the indices to find it)
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> Optional<T> findFirst(
      List<? extends T> data, Predicate<? super T> predicate) {
    return findFirst(data, predicate, DEFAULTS);
  }

  /**
   * Returns the first element for which {@code predicate} holds, with the given options; see
   * {@link #findFirst(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return the first matching element, or empty if there is none
   * @throws NullPointerException if {@code data}, {@code predicate} or {@code options} is null,
   *     or if the first matching element is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> Optional<T> findFirst(
      List<? extends T> data, Predicate<? super T> predicate, Options options) {
    return find(FIND_FIRST, data, predicate, options, true);
  }

  /**
   * Returns the first array element for which {@code predicate} holds; see {@link
   * #findFirst(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @return the first matching element, or empty if there is none
   * @throws NullPointerException if {@code data} or {@code predicate} is null, or if the first
   *     matching element is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> Optional<T> findFirst(T[] data, Predicate<? super T> predicate) {
    return findFirst(data, predicate, DEFAULTS);
  }

  /**
   * Returns the first array element for which {@code predicate} holds, with the given options;
   * see {@link #findFirst(List, Predicate)}.
   *
   * @param <T> the element type
   * @param data the elements; must not be modified during the call
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return the first matching element, or empty if there is none
   * @throws NullPointerException if {@code data}, {@code predicate} or {@code options} is null,
   *     or if the first matching element is null
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static <T> Optional<T> findFirst(
      T[] data, Predicate<? super T> predicate, Options options) {
    Objects.requireNonNull(data, "data");
    return findFirst(Arrays.asList(data), predicate, options);
  }

  /**
   * Returns the lowest {@code int} in {@code [from, to)} for which {@code predicate} holds,
   * testing them in parallel: rayon's {@code position}, and the way to get the index of the
   * first matching element of a list or of a primitive array: {@code findFirst(0,
   * list.size(), i -> p.test(list.get(i)))}. Empty if none matches. See {@link
   * #findFirst(List, Predicate)}.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} is an empty range
   * @param predicate the test; must be safe to call from several threads at once
   * @return the lowest matching index, or empty if there is none
   * @throws NullPointerException if {@code predicate} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static OptionalInt findFirst(int from, int to, IntPredicate predicate) {
    return findFirst(from, to, predicate, DEFAULTS);
  }

  /**
   * Returns the lowest {@code int} in {@code [from, to)} for which {@code predicate} holds,
   * with the given options; see {@link #findFirst(int, int, IntPredicate)}.
   *
   * @param from the first index, inclusive
   * @param to the end, exclusive; {@code from == to} is an empty range
   * @param predicate the test; must be safe to call from several threads at once
   * @param options threads, thread source, chunk size and cut-off
   * @return the lowest matching index, or empty if there is none
   * @throws NullPointerException if {@code predicate} or {@code options} is null
   * @throws IllegalArgumentException if {@code from > to}
   * @throws TaskFailedException if {@code predicate} threw (the first failure is the cause),
   *     even if a match was also found
   * @throws CancellationException if the calling thread was interrupted
   */
  public static OptionalInt findFirst(
      int from, int to, IntPredicate predicate, Options options) {
    return index(from, indexOf(FIND_FIRST, from, to, predicate, options, true, true));
  }

  /**
   * The index of an element where {@code predicate.test(x) == want}: the lowest one if
   * {@code first}, else any one; -1 if there is none.
   */
  private static <T> long indexOf(
      String op, List<? extends T> data, Predicate<? super T> predicate, Options options,
      boolean want, boolean first) {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(predicate, "predicate");
    Objects.requireNonNull(options, "options");
    return indexIn(op, randomAccess(data), predicate, options, want, first);
  }

  /** {@link #indexOf(String, List, Predicate, Options, boolean, boolean)} on a checked list. */
  private static <T> long indexIn(
      String op, List<? extends T> in, Predicate<? super T> predicate, Options options,
      boolean want, boolean first) {
    if (ParallelJob.runsInline(in.size(), options)) {
      return ParallelSearch.firstInline(op, in, predicate, want);
    }
    ParallelSearch.SearchJob job =
        new ParallelSearch.ListSearchJob<T>(op, in, predicate, want, first);
    job.invoke(options);
    return job.result();
  }

  /**
   * The offset from {@code from} of an {@code int} in {@code [from, to)} where
   * {@code predicate.test(i) == want}: the lowest one if {@code first}, else any; -1 if none.
   */
  private static long indexOf(
      String op, int from, int to, IntPredicate predicate, Options options, boolean want,
      boolean first) {
    Objects.requireNonNull(predicate, "predicate");
    Objects.requireNonNull(options, "options");
    if (from > to) {
      throw new IllegalArgumentException(
          op + " needs from <= to, but from = " + from + " and to = " + to);
    }
    long n = (long) to - from;
    if (ParallelJob.runsInline(n, options)) {
      return ParallelSearch.firstInline(op, from, to, predicate, want);
    }
    ParallelSearch.SearchJob job =
        new ParallelSearch.RangeSearchJob(op, from, n, predicate, want, first);
    job.invoke(options);
    return job.result();
  }

  private static OptionalInt index(int from, long offset) {
    return offset < 0 ? OptionalInt.empty() : OptionalInt.of((int) (from + offset));
  }

  /** findAny / findFirst over a list: the element at the index found, which must not be null. */
  private static <T> Optional<T> find(
      String op, List<? extends T> data, Predicate<? super T> predicate, Options options,
      boolean first) {
    Objects.requireNonNull(data, "data");
    Objects.requireNonNull(predicate, "predicate");
    Objects.requireNonNull(options, "options");
    List<? extends T> in = randomAccess(data);
    long i = indexIn(op, in, predicate, options, true, first);
    if (i < 0) {
      return Optional.empty();
    }
    T x = in.get((int) i);
    if (x == null) {
      // As Stream.findFirst/findAny: an Optional cannot hold null.
      throw new NullPointerException(op + ": the matching element (index " + i + ") is null,"
          + " which an Optional cannot hold; to find it, search the indices instead: "
          + op + "(0, list.size(), i -> predicate.test(list.get(i))) returns its index");
    }
    return Optional.of(x);
  }

  // ------------------------------------------------------------------------------ inline
  // Small inputs, one chunk or one thread: a plain loop on the calling thread, with no job
  // object, no probe and no clock read (see ParallelJob.runsInline). Same contract as the
  // jobs: an interrupted caller gets CancellationException, a failure TaskFailedException.

  // Each inline loop runs in blocks of ParallelJob.ALONE_BLOCK elements and checks the
  // caller's interrupt status between blocks (outside the try, so that the cancellation is not
  // wrapped as a failure of the function), so that a long single-threaded call can be
  // cancelled; inputs of at most one block (every small input) never reach the check.

  private static <T, R> List<R> mapInline(
      List<? extends T> in, Function<? super T, ? extends R> f) {
    ParallelJob.checkNotInterrupted(MAP);
    int n = in.size();
    @Nullable Object[] out = new Object[n];
    for (int b = 0; b < n; b += ParallelJob.ALONE_BLOCK) {
      if (b > 0) {
        ParallelJob.checkNotInterrupted(MAP);
      }
      int e = Math.min(n, b + ParallelJob.ALONE_BLOCK);
      try {
        for (int i = b; i < e; i++) {
          out[i] = f.apply(in.get(i));
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(MAP, t);
      }
    }
    @SuppressWarnings("unchecked") // out holds only results of f, which are R
    List<R> result = (List<R>) (List<?>) Arrays.asList(out);
    return Collections.unmodifiableList(result);
  }

  private static long[] mapInline(long[] in, LongUnaryOperator f) {
    ParallelJob.checkNotInterrupted(MAP);
    int n = in.length;
    long[] out = new long[n];
    for (int b = 0; b < n; b += ParallelJob.ALONE_BLOCK) {
      if (b > 0) {
        ParallelJob.checkNotInterrupted(MAP);
      }
      int e = Math.min(n, b + ParallelJob.ALONE_BLOCK);
      try {
        for (int i = b; i < e; i++) {
          out[i] = f.applyAsLong(in[i]);
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(MAP, t);
      }
    }
    return out;
  }

  private static <T> void forEachInline(List<? extends T> in, Consumer<? super T> action) {
    ParallelJob.checkNotInterrupted(FOR_EACH);
    int n = in.size();
    for (int b = 0; b < n; b += ParallelJob.ALONE_BLOCK) {
      if (b > 0) {
        ParallelJob.checkNotInterrupted(FOR_EACH);
      }
      int e = Math.min(n, b + ParallelJob.ALONE_BLOCK);
      try {
        for (int i = b; i < e; i++) {
          action.accept(in.get(i));
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(FOR_EACH, t);
      }
    }
  }

  private static void forRangeInline(int from, int to, IntConsumer body) {
    ParallelJob.checkNotInterrupted(FOR_RANGE);
    for (long b = from; b < to; b += ParallelJob.ALONE_BLOCK) {
      if (b > from) {
        ParallelJob.checkNotInterrupted(FOR_RANGE);
      }
      int e = (int) Math.min(to, b + ParallelJob.ALONE_BLOCK);
      try {
        for (int i = (int) b; i < e; i++) {
          body.accept(i);
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(FOR_RANGE, t);
      }
    }
  }

  private static <T, R> R reduceInline(
      List<? extends T> in, Function<? super T, ? extends R> f, R identity,
      BinaryOperator<R> combine) {
    ParallelJob.checkNotInterrupted(REDUCE);
    int n = in.size();
    R acc = identity;
    for (int b = 0; b < n; b += ParallelJob.ALONE_BLOCK) {
      if (b > 0) {
        ParallelJob.checkNotInterrupted(REDUCE);
      }
      int e = Math.min(n, b + ParallelJob.ALONE_BLOCK);
      try {
        for (int i = b; i < e; i++) {
          acc = combine.apply(acc, f.apply(in.get(i)));
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(REDUCE, t);
      }
    }
    return acc;
  }

  private static long reduceInline(
      long[] in, LongUnaryOperator f, long identity, LongBinaryOperator combine) {
    ParallelJob.checkNotInterrupted(REDUCE);
    int n = in.length;
    long acc = identity;
    for (int b = 0; b < n; b += ParallelJob.ALONE_BLOCK) {
      if (b > 0) {
        ParallelJob.checkNotInterrupted(REDUCE);
      }
      int e = Math.min(n, b + ParallelJob.ALONE_BLOCK);
      try {
        for (int i = b; i < e; i++) {
          acc = combine.applyAsLong(acc, f.applyAsLong(in[i]));
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(REDUCE, t);
      }
    }
    return acc;
  }

  /** The class of {@code Collections.synchronizedList} over a RandomAccess list. */
  private static final Class<?> SYNCHRONIZED_RANDOM_ACCESS =
      Collections.synchronizedList(new ArrayList<>()).getClass();

  private static <T> List<? extends T> randomAccess(List<? extends T> data) {
    // get(i) must be cheap: copy a linked or otherwise sequential list once. And it runs on the
    // workers: a Vector's or a synchronizedList's get takes the list's lock, which the JDK
    // tells a caller to hold while it traverses the list, so workers calling it deadlocked
    // with such a caller (review 23; parallelStream() reads the backing list unlocked). Those
    // are copied once on the caller (toArray under the lock, reentrant for a caller that holds
    // it), which also spares the workers a contended lock per element.
    boolean direct = data instanceof RandomAccess
        && !(data instanceof Vector)
        && data.getClass() != SYNCHRONIZED_RANDOM_ACCESS;
    return direct ? data : new ArrayList<>(data);
  }

  // ------------------------------------------------------------------------------ options

  /**
   * Immutable settings for a {@code Parallel} call: thread count, where the worker threads
   * come from, minimum chunk size, and the sequential cut-off. Each method returns a copy
   * with one setting changed.
   *
   * <pre>{@code
   * Parallel.Options opts = Parallel.options()
   *     .threads(8)                       // at most 8 threads, the caller's included
   *     .executor(pool)                   // workers run as tasks on pool
   *     .minChunkSize(64)                 // hand out at least 64 elements at a time
   *     .sequentialCutoff(Duration.ZERO); // always split (work known to be heavy)
   * }</pre>
   *
   * <p><b>Memory consistency effects:</b> none beyond those of {@link Parallel}; instances
   * are immutable and may be shared freely between threads.
   *
   * <p><b>Thread-safety:</b> immutable and thread-safe.
   *
   * <p><b>Bad input:</b> null arguments throw {@link NullPointerException}; values out of
   * range throw {@link IllegalArgumentException} with the value.
   */
  public static final class Options {
    private final int threads; // 0: available processors at call time
    private final @Nullable ThreadFactory threadFactory;
    private final @Nullable Executor executor;
    private final int minChunkSize;
    private final long cutoffNanos;

    Options(
        int threads, @Nullable ThreadFactory threadFactory, @Nullable Executor executor,
        int minChunkSize, long cutoffNanos) {
      this.threads = threads;
      this.threadFactory = threadFactory;
      this.executor = executor;
      this.minChunkSize = minChunkSize;
      this.cutoffNanos = cutoffNanos;
    }

    /**
     * Returns options that use at most {@code threads} threads, the calling thread included
     * (so at most {@code threads - 1} workers); 1 runs everything on the caller. With the
     * default shared pool a count set here is honoured even above the pool's core size ({@code
     * availableProcessors() - 1} workers): the pool starts the extra threads (blocking work, say)
     * and keeps them, idle, for later calls until they retire. A call starts at most 32,767
     * workers on platform threads (ForkJoinPool's limit) and 2^20 on threads from a given
     * {@code executor} or {@code threadFactory}, so {@code Integer.MAX_VALUE} means "as many as
     * that".
     *
     * @param threads at least 1
     * @return a copy with this thread count
     * @throws IllegalArgumentException if {@code threads < 1}
     */
    public Options threads(int threads) {
      if (threads < 1) {
        throw new IllegalArgumentException(
            "threads must be at least 1 (the calling thread counts), but was " + threads);
      }
      return new Options(threads, threadFactory, executor, minChunkSize, cutoffNanos);
    }

    /**
     * Returns options whose workers are new threads made by {@code factory} (for example to
     * set names, priorities or daemon status); replaces an {@link #executor executor}.
     * Threads from the factory are started and joined by each call. A factory that returns
     * null makes the call use fewer workers. A factory that throws fails the call with {@link
     * TaskFailedException} whose cause is that exception; one that returns a thread that was
     * already started (or the calling thread) fails it with an {@link IllegalStateException} as
     * the cause: weft never starts, joins or interrupts a thread it did not start. Either way
     * the workers already started are stopped and joined first, and no element runs after the
     * call. If a failure makes weft interrupt the factory's threads and one's {@code interrupt()}
     * throws, the others are still interrupted, the call still waits for every worker, and the
     * exception is attached to the call's {@link TaskFailedException} as suppressed.
     *
     * @param factory makes one thread per worker
     * @return a copy using this factory
     * @throws NullPointerException if {@code factory} is null
     */
    public Options threadFactory(ThreadFactory factory) {
      Objects.requireNonNull(factory, "factory");
      return new Options(threads, factory, null, minChunkSize, cutoffNanos);
    }

    /**
     * Returns options whose workers are new platform threads named {@code weft-parallel-N},
     * started by each call and joined before it returns, for users who want no thread of
     * weft's to exist outside a call; replaces an {@link #executor executor} or a {@link
     * #threadFactory thread factory}. Starting threads costs more per call than handing work
     * to running ones, so the default cut-off is then {@link
     * #DEFAULT_NEW_THREADS_SEQUENTIAL_CUTOFF}.
     *
     * @return a copy whose workers are new threads for each call
     */
    public Options newThreadsPerCall() {
      return new Options(threads, ParallelJob.NEW_THREADS, null, minChunkSize, cutoffNanos);
    }

    /**
     * Returns options whose workers run as tasks on {@code executor} (for example a pool that
     * keeps its threads, or {@code Executors.newVirtualThreadPerTaskExecutor()}); replaces a
     * {@link #threadFactory thread factory}. A call returns only when each of its tasks has
     * finished or been cancelled before it began: tasks still queued when the work is done do
     * nothing when they finally run, so a busy executor never makes a call wait for it. If
     * the executor rejects a task ({@link java.util.concurrent.RejectedExecutionException}),
     * or never runs it, the call goes on with fewer workers; if {@code execute} throws
     * anything else, the call fails with {@link TaskFailedException} whose cause is that
     * exception. A task that the executor runs on the calling thread itself (a direct executor
     * such as {@code Runnable::run}, or {@link
     * java.util.concurrent.ThreadPoolExecutor.CallerRunsPolicy}) returns at once and the caller does that share as the caller: it is still never
     * interrupted by weft, still notices its own interrupt, and its interrupt status is never
     * cleared. A worker that weft interrupts (fail fast) clears that interrupt before its task
     * returns, so it does not reach the executor's next task; weft sends no interrupt to a
     * worker thread that is already interrupted, and then clears nothing.
     *
     * @param executor runs the workers; should give the happens-before of
     *     {@code java.util.concurrent} executors
     * @return a copy using this executor
     * @throws NullPointerException if {@code executor} is null
     */
    public Options executor(Executor executor) {
      Objects.requireNonNull(executor, "executor");
      return new Options(threads, null, executor, minChunkSize, cutoffNanos);
    }

    /**
     * Returns options that hand out at least {@code size} elements at a time to a thread, for
     * functions so cheap that the hand-out itself would dominate; a call with no more than
     * {@code size} elements runs on the caller alone.
     *
     * @param size at least 1 (the default)
     * @return a copy with this minimum chunk size
     * @throws IllegalArgumentException if {@code size < 1}
     */
    public Options minChunkSize(int size) {
      if (size < 1) {
        throw new IllegalArgumentException("minChunkSize must be at least 1, but was " + size);
      }
      return new Options(threads, threadFactory, executor, size, cutoffNanos);
    }

    /**
     * Returns options with this sequential cut-off: when the estimated time for the elements
     * left after the first few is below it, the caller processes them alone and starts no
     * worker. Zero always splits (when there are at least two chunks and two threads), even an
     * input of 16 elements or fewer of a function known to be cheap. Without this setting the
     * cut-off is {@link #DEFAULT_SEQUENTIAL_CUTOFF} for the shared pool, {@link
     * #DEFAULT_NEW_THREADS_SEQUENTIAL_CUTOFF} for new threads, and {@link
     * #DEFAULT_EXECUTOR_SEQUENTIAL_CUTOFF} for an {@link #executor executor}.
     *
     * @param cutoff zero or positive; huge values saturate (never split)
     * @return a copy with this cut-off
     * @throws NullPointerException if {@code cutoff} is null
     * @throws IllegalArgumentException if {@code cutoff} is negative
     */
    public Options sequentialCutoff(Duration cutoff) {
      Objects.requireNonNull(cutoff, "cutoff");
      if (cutoff.isNegative()) {
        throw new IllegalArgumentException("sequentialCutoff must not be negative: " + cutoff);
      }
      return new Options(
          threads, threadFactory, executor, minChunkSize, Timeouts.toNanos(cutoff, "cutoff"));
    }

    boolean isSingleThreaded() {
      return threads == 1;
    }

    int effectiveThreads() {
      return threads > 0 ? threads : Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    long minChunk() {
      return minChunkSize;
    }

    long cutoffNanos() {
      if (cutoffNanos != DEFAULT_CUTOFF) {
        return cutoffNanos;
      }
      return executor != null ? DEFAULT_EXECUTOR_CUTOFF_NANOS
          : threadFactory != null ? DEFAULT_THREAD_CUTOFF_NANOS
          : DEFAULT_POOL_CUTOFF_NANOS;
    }

    /** Whether the thread count was set explicitly (the pool may then grow beyond its core). */
    boolean explicitThreads() {
      return threads > 0;
    }

    @Nullable Executor executor() {
      return executor;
    }

    @Nullable ThreadFactory threadFactory() {
      return threadFactory;
    }

    private static String identity(Object o) {
      return o.getClass().getName() + "@" + Integer.toHexString(System.identityHashCode(o));
    }

    @Override
    public String toString() {
      return "Parallel.Options[threads="
          + (threads > 0 ? Integer.toString(threads) : "availableProcessors")
          // Identity only: a user object's toString might lock (ThreadPoolExecutor's does).
          + ", workers=" + (executor != null ? "executor " + identity(executor)
              : threadFactory == ParallelJob.NEW_THREADS ? "new threads per call"
              : threadFactory != null ? "threadFactory " + identity(threadFactory)
              : "shared pool")
          + ", minChunkSize=" + minChunkSize
          + ", sequentialCutoff=" + Duration.ofNanos(cutoffNanos())
          + (cutoffNanos == DEFAULT_CUTOFF ? " (default)" : "") + "]";
    }
  }

  // --------------------------------------------------------------------------------- jobs

  private static final class MapJob<T, R> extends ParallelJob {
    private final List<? extends T> in;
    private final Function<? super T, ? extends R> f;
    private final @Nullable Object[] out;

    MapJob(List<? extends T> in, Function<? super T, ? extends R> f, @Nullable Object[] out) {
      super(MAP, in.size());
      this.in = in;
      this.f = f;
      this.out = out;
    }

    @Override
    Object costKey() {
      return f;
    }

    @Override
    void runChunk(long lo, long hi, long slot) {
      for (long b = lo, e; b < hi; b = e) {
        if (stopRequested()) {
          return;
        }
        e = blockEnd(b, hi);
        // int bounds and locals: a counted int loop the JIT unrolls and range-check-eliminates
        // like the caller's own loop (a long bound made the loop ~1.6x slower on cheap work).
        final List<? extends T> in = this.in;
        final Function<? super T, ? extends R> f = this.f;
        final @Nullable Object[] out = this.out;
        for (int i = (int) b, end = (int) e; i < end; i++) {
          out[i] = f.apply(in.get(i));
        }
      }
    }

    @SuppressWarnings("unchecked") // out[i] holds only results of f, which are R
    List<R> result() {
      return Collections.unmodifiableList((List<R>) (List<?>) Arrays.asList(out));
    }
  }

  private static final class LongMapJob extends ParallelJob {
    private final long[] in;
    private final LongUnaryOperator f;
    final long[] out;

    LongMapJob(long[] in, LongUnaryOperator f, long[] out) {
      super(MAP, in.length);
      this.in = in;
      this.f = f;
      this.out = out;
    }

    @Override
    Object costKey() {
      return f;
    }

    @Override
    void runChunk(long lo, long hi, long slot) {
      for (long b = lo, e; b < hi; b = e) {
        if (stopRequested()) {
          return;
        }
        e = blockEnd(b, hi);
        final long[] in = this.in;
        final long[] out = this.out;
        final LongUnaryOperator f = this.f;
        for (int i = (int) b, end = (int) e; i < end; i++) { // int loop: see MapJob
          out[i] = f.applyAsLong(in[i]);
        }
      }
    }
  }

  private static final class ForEachJob<T> extends ParallelJob {
    private final List<? extends T> in;
    private final Consumer<? super T> action;

    ForEachJob(List<? extends T> in, Consumer<? super T> action) {
      super(FOR_EACH, in.size());
      this.in = in;
      this.action = action;
    }

    @Override
    Object costKey() {
      return action;
    }

    @Override
    void runChunk(long lo, long hi, long slot) {
      for (long b = lo, e; b < hi; b = e) {
        if (stopRequested()) {
          return;
        }
        e = blockEnd(b, hi);
        final List<? extends T> in = this.in;
        final Consumer<? super T> action = this.action;
        for (int i = (int) b, end = (int) e; i < end; i++) { // int loop: see MapJob
          action.accept(in.get(i));
        }
      }
    }
  }

  private static final class RangeJob extends ParallelJob {
    private final int from;
    private final IntConsumer body;

    RangeJob(int from, long n, IntConsumer body) {
      super(FOR_RANGE, n);
      this.from = from;
      this.body = body;
    }

    @Override
    Object costKey() {
      return body;
    }

    @Override
    void runChunk(long lo, long hi, long slot) {
      for (long b = lo, e; b < hi; b = e) {
        if (stopRequested()) {
          return;
        }
        e = blockEnd(b, hi);
        final IntConsumer body = this.body;
        // int loop (see MapJob): from + e <= to, so both bounds fit in an int.
        for (int i = (int) (from + b), end = (int) (from + e); i < end; i++) {
          body.accept(i);
        }
      }
    }
  }

  private static final class ReduceJob<T, R> extends ParallelJob {
    private final List<? extends T> in;
    private final Function<? super T, ? extends R> f;
    private final R identity;
    private final BinaryOperator<R> combine;
    /** Result of the caller's steps before/instead of the parallel phase; caller only. */
    private R prefix;
    /** One partial result per parallel chunk, written by whoever ran the chunk. */
    private @Nullable Object[] partials = new Object[0];

    ReduceJob(
        List<? extends T> in, Function<? super T, ? extends R> f, R identity,
        BinaryOperator<R> combine) {
      super(REDUCE, in.size());
      this.in = in;
      this.f = f;
      this.identity = identity;
      this.combine = combine;
      this.prefix = identity;
    }

    @Override
    void prepareChunks(long chunkCount) {
      partials = new Object[(int) chunkCount];
    }

    @Override
    Object costKey() {
      return f;
    }

    @Override
    Object[] userFunctions() {
      return new Object[] {f, combine};
    }

    @Override
    void runChunk(long lo, long hi, long slot) {
      R acc = slot < 0 ? prefix : identity;
      for (long b = lo, e; b < hi; b = e) {
        if (stopRequested()) {
          return;
        }
        e = blockEnd(b, hi);
        final List<? extends T> in = this.in;
        final Function<? super T, ? extends R> f = this.f;
        final BinaryOperator<R> combine = this.combine;
        for (int i = (int) b, end = (int) e; i < end; i++) { // int loop: see MapJob
          acc = combine.apply(acc, f.apply(in.get(i)));
        }
      }
      if (slot < 0) {
        prefix = acc;
      } else {
        partials[(int) slot] = acc;
      }
    }

    /**
     * Combines the partials on the caller, after every worker has finished. A failure of
     * {@code combine} here is the user's code failing like any other: wrapped (review 22: it
     * escaped raw).
     */
    @SuppressWarnings("unchecked") // partials hold only values of type R
    R result() {
      R acc = prefix;
      try {
        for (Object p : partials) {
          acc = combine.apply(acc, (R) p);
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(REDUCE, t);
      }
      return acc;
    }
  }

  private static final class LongReduceJob extends ParallelJob {
    private final long[] in;
    private final LongUnaryOperator f;
    private final long identity;
    private final LongBinaryOperator combine;
    private long prefix;
    private long[] partials = new long[0];

    LongReduceJob(long[] in, LongUnaryOperator f, long identity, LongBinaryOperator combine) {
      super(REDUCE, in.length);
      this.in = in;
      this.f = f;
      this.identity = identity;
      this.combine = combine;
      this.prefix = identity;
    }

    @Override
    void prepareChunks(long chunkCount) {
      partials = new long[(int) chunkCount];
    }

    @Override
    Object costKey() {
      return f;
    }

    @Override
    Object[] userFunctions() {
      return new Object[] {f, combine};
    }

    @Override
    void runChunk(long lo, long hi, long slot) {
      long acc = slot < 0 ? prefix : identity;
      for (long b = lo, e; b < hi; b = e) {
        if (stopRequested()) {
          return;
        }
        e = blockEnd(b, hi);
        final long[] in = this.in;
        final LongUnaryOperator f = this.f;
        final LongBinaryOperator combine = this.combine;
        for (int i = (int) b, end = (int) e; i < end; i++) { // int loop: see MapJob
          acc = combine.applyAsLong(acc, f.applyAsLong(in[i]));
        }
      }
      if (slot < 0) {
        prefix = acc;
      } else {
        partials[(int) slot] = acc;
      }
    }

    /** Combines the partials on the caller; a failure of {@code combine} is wrapped. */
    long result() {
      long acc = prefix;
      try {
        for (long p : partials) {
          acc = combine.applyAsLong(acc, p);
        }
      } catch (Throwable t) {
        throw ParallelJob.failedInline(REDUCE, t);
      }
      return acc;
    }
  }

  static {
    // Last of the static initializers: the classes this one's slow paths use are initialized
    // with it, not on a first slow path near the end of some thread's stack, where an overflow
    // in their initializers would break them for the rest of the JVM (see
    // StackHeadroom.initializeNow).
    StackHeadroom.initializeNow(
        MethodHandles.lookup(), StackHeadroom.class, ParallelJob.class, ParallelJob.Worker.class,
        ParallelPool.class, ParallelSearch.SearchJob.class);
  }
}
