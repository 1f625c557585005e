/**
 * Concurrency primitives for Java 17+, one type per idea of the Rust concurrency chapter.
 *
 * <p>See the project README for the decision guide (which primitive to reach for) and a
 * table mapping every Rust type of the chapter to its weft or JDK counterpart.
 */
@NullMarked
package dev.weft;

import org.jspecify.annotations.NullMarked;
