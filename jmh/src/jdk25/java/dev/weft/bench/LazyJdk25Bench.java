package dev.weft.bench;

import dev.weft.Lazy;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * JDK 25 only: {@code get()} after initialisation, weft {@code Lazy} vs the preview {@code
 * StableValue} (JEP 502) as {@code StableValue.supplier(...)} and as {@code orElseSet}, with
 * volatile double-checked locking and the holder idiom as reference points, in one run.
 * Run with {@code -jvmArgs --enable-preview}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = "--enable-preview")
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@State(Scope.Benchmark)
public class LazyJdk25Bench {
  static final Lazy<Object> WEFT_STATIC = Lazy.of(LazyBench.SUPPLIER);
  static final Supplier<Object> STABLE_STATIC = StableValue.supplier(LazyBench.SUPPLIER);

  Lazy<Object> weft;
  LazyBench.Dcl dcl;
  Supplier<Object> stableSupplier;
  StableValue<Object> stableValue;

  @Setup(Level.Trial)
  public void setUp() {
    weft = Lazy.of(LazyBench.SUPPLIER);
    weft.get();
    WEFT_STATIC.get();
    dcl = new LazyBench.Dcl(LazyBench.SUPPLIER);
    dcl.get();
    stableSupplier = StableValue.supplier(LazyBench.SUPPLIER);
    stableSupplier.get();
    STABLE_STATIC.get();
    stableValue = StableValue.of();
    stableValue.orElseSet(LazyBench.SUPPLIER);
    LazyBench.Holder.VALUE.hashCode();
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
  public Object get_stableValueSupplier() {
    return stableSupplier.get();
  }

  @Benchmark
  public Object get_stableValueSupplierStaticFinal() {
    return STABLE_STATIC.get();
  }

  @Benchmark
  public Object get_stableValueOrElseSet() {
    return stableValue.orElseSet(LazyBench.SUPPLIER);
  }

  @Benchmark
  public Object get_volatileDcl() {
    return dcl.get();
  }

  @Benchmark
  public Object get_holderIdiom() {
    return LazyBench.Holder.VALUE;
  }
}
