package dev.weft.bench;

import com.google.common.base.Suppliers;
import dev.weft.Lazy;
import dev.weft.OnceCell;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.commons.lang3.concurrent.ConcurrentException;
import org.apache.commons.lang3.concurrent.LazyInitializer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Lazy initialisation, weft vs the usual Java answers, in one run.
 *
 * <p>{@code get_*}: reading an already initialised value (the hot path): weft {@code Lazy}
 * (instance field and {@code static final}), weft {@code OnceCell.getOrInit}, the holder-class
 * idiom (the JIT folds it to a constant: the floor), hand-written volatile double-checked
 * locking, Guava {@code Suppliers.memoize}, Commons Lang3 {@code LazyInitializer}, and a plain
 * field read as a baseline. The instances sit in non-final fields so that the JIT cannot fold
 * them (except where a {@code static final} is the point of the benchmark).
 *
 * <p>{@code firstGet_*}: the first, contended initialisation. Two threads walk the same array of
 * {@value #FRESH} fresh, uninitialised instances in the same order, so they race on each
 * instance's first {@code get()}; the supplier is cheap ({@code new Object()}), so this measures
 * the claim/publish/wait machinery. SingleShotTime, one batch = {@value #FRESH} first gets per
 * thread: divide the score by {@value #FRESH} for the cost of one first get.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public class LazyBench {
  static final int FRESH = 4096;

  static final Supplier<Object> SUPPLIER = Object::new;

  /** Holder-class idiom: the JVM's class initialisation does the lazy, thread-safe part. */
  static final class Holder {
    static final Object VALUE = new Object();
  }

  /** Hand-written double-checked locking with a volatile field (the correct version). */
  static final class Dcl {
    private final Supplier<Object> supplier;
    private volatile Object value;

    Dcl(Supplier<Object> supplier) {
      this.supplier = supplier;
    }

    Object get() {
      Object v = value;
      if (v == null) {
        synchronized (this) {
          v = value;
          if (v == null) {
            v = supplier.get();
            value = v;
          }
        }
      }
      return v;
    }
  }

  static final Lazy<Object> WEFT_STATIC = Lazy.of(SUPPLIER);

  Object plain;
  Lazy<Object> weft;
  OnceCell<Object> cell;
  Dcl dcl;
  Supplier<Object> guava;
  LazyInitializer<Object> commons;

  static LazyInitializer<Object> commons() {
    return LazyInitializer.<Object>builder().setInitializer(Object::new).get();
  }

  @Setup(Level.Trial)
  public void setUp() throws ConcurrentException {
    plain = new Object();
    weft = Lazy.of(SUPPLIER);
    weft.get();
    WEFT_STATIC.get();
    cell = new OnceCell<>();
    cell.getOrInit(SUPPLIER);
    dcl = new Dcl(SUPPLIER);
    dcl.get();
    guava = Suppliers.memoize(Object::new);
    guava.get();
    commons = commons();
    commons.get();
    Holder.VALUE.hashCode();
  }

  // ------------------------------------------------------------ get() after initialisation

  @Benchmark
  public Object get_baselinePlainField() {
    return plain;
  }

  @Benchmark
  public Object get_weftLazy() {
    return weft.get();
  }

  @Benchmark
  public Object get_weftLazyStaticFinal() {
    return WEFT_STATIC.get();
  }

  @Benchmark
  public Object get_weftOnceCell() {
    return cell.getOrInit(SUPPLIER);
  }

  @Benchmark
  public Object get_holderIdiom() {
    return Holder.VALUE;
  }

  @Benchmark
  public Object get_volatileDcl() {
    return dcl.get();
  }

  @Benchmark
  public Object get_guavaMemoize() {
    return guava.get();
  }

  @Benchmark
  public Object get_commonsLazyInitializer() throws ConcurrentException {
    return commons.get();
  }

  // ------------------------------------------------------------ first, contended get()

  /** Fresh, uninitialised instances, shared by the racing threads; new ones every iteration. */
  @State(Scope.Benchmark)
  public static class Fresh {
    @SuppressWarnings("unchecked") // generic array: filled only with matching instances
    final Lazy<Object>[] weft = (Lazy<Object>[]) new Lazy<?>[FRESH];

    @SuppressWarnings("unchecked") // generic array: filled only with matching instances
    final OnceCell<Object>[] cell = (OnceCell<Object>[]) new OnceCell<?>[FRESH];

    final Dcl[] dcl = new Dcl[FRESH];

    @SuppressWarnings("unchecked") // generic array: filled only with matching instances
    final Supplier<Object>[] guava = (Supplier<Object>[]) new Supplier<?>[FRESH];

    @SuppressWarnings("unchecked") // generic array: filled only with matching instances
    final LazyInitializer<Object>[] commons = (LazyInitializer<Object>[]) new LazyInitializer<?>[FRESH];

    @Setup(Level.Iteration)
    public void fill() {
      for (int i = 0; i < FRESH; i++) {
        weft[i] = Lazy.of(SUPPLIER);
        cell[i] = new OnceCell<>();
        dcl[i] = new Dcl(SUPPLIER);
        guava[i] = Suppliers.memoize(Object::new);
        commons[i] = commons();
      }
    }
  }

  /** Each thread's position in the shared array; both start at 0 every iteration. */
  @State(Scope.Thread)
  public static class Cursor {
    int i;

    @Setup(Level.Iteration)
    public void reset() {
      i = 0;
    }
  }

  @Benchmark
  @BenchmarkMode(Mode.SingleShotTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  @Threads(2)
  @Warmup(iterations = 10, batchSize = FRESH)
  @Measurement(iterations = 20, batchSize = FRESH)
  public Object firstGet_weftLazy(Fresh f, Cursor c) {
    return f.weft[c.i++].get();
  }

  @Benchmark
  @BenchmarkMode(Mode.SingleShotTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  @Threads(2)
  @Warmup(iterations = 10, batchSize = FRESH)
  @Measurement(iterations = 20, batchSize = FRESH)
  public Object firstGet_weftOnceCell(Fresh f, Cursor c) {
    return f.cell[c.i++].getOrInit(SUPPLIER);
  }

  @Benchmark
  @BenchmarkMode(Mode.SingleShotTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  @Threads(2)
  @Warmup(iterations = 10, batchSize = FRESH)
  @Measurement(iterations = 20, batchSize = FRESH)
  public Object firstGet_volatileDcl(Fresh f, Cursor c) {
    return f.dcl[c.i++].get();
  }

  @Benchmark
  @BenchmarkMode(Mode.SingleShotTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  @Threads(2)
  @Warmup(iterations = 10, batchSize = FRESH)
  @Measurement(iterations = 20, batchSize = FRESH)
  public Object firstGet_guavaMemoize(Fresh f, Cursor c) {
    return f.guava[c.i++].get();
  }

  @Benchmark
  @BenchmarkMode(Mode.SingleShotTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  @Threads(2)
  @Warmup(iterations = 10, batchSize = FRESH)
  @Measurement(iterations = 20, batchSize = FRESH)
  public Object firstGet_commonsLazyInitializer(Fresh f, Cursor c) throws ConcurrentException {
    return f.commons[c.i++].get();
  }
}
