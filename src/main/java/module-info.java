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
 *
 * <p>{@code jdk.jfr} is optional too ({@code requires static}): where the runtime has it, weft
 * emits JFR events for contended locks, condition waits, initialisations and scopes (see
 * docs/observability.md); where it does not (a {@code jlink}ed image without it), weft works the
 * same without them.
 */
@NullMarked
module dev.weft {
  requires static transitive org.jspecify;
  // JFR events (WeftEvents): used only when the runtime has jdk.jfr; see WeftJfr's guard.
  requires static jdk.jfr;

  exports dev.weft;
}
