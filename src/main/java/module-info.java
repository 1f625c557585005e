import org.jspecify.annotations.NullMarked;

/**
 * weft: concurrency primitives for Java 17+.
 *
 * <p>Everything a user needs is in the one exported package, {@link dev.weft}. The module
 * has no runtime dependencies: JSpecify's nullness annotations are needed only at compile
 * time ({@code requires static}). They appear in the exported API, so a module that reads
 * {@code dev.weft} also reads {@code org.jspecify} ({@code transitive}); the published POM
 * declares JSpecify with compile scope so that it is on every consumer's compile path. Every
 * type is {@code @NullMarked}: parameters and return values are non-null unless annotated
 * {@code @Nullable}.
 */
@NullMarked
module dev.weft {
  requires static transitive org.jspecify;

  exports dev.weft;
}
