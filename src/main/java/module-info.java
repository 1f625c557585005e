import org.jspecify.annotations.NullMarked;

/**
 * weft: concurrency primitives for Java 17+.
 *
 * <p>Everything a user needs is in the one exported package, {@link dev.weft}. The module
 * has no runtime dependencies; JSpecify's nullness annotations are needed only at compile
 * time ({@code requires static}). Every type is {@code @NullMarked}: parameters and return
 * values are non-null unless annotated {@code @Nullable}.
 */
@NullMarked
module dev.weft {
  requires static transitive org.jspecify;

  exports dev.weft;
}
