package dev.weft;

import org.jetbrains.lincheck.datastructures.ManagedStrategyGuarantee;
import org.jetbrains.lincheck.datastructures.ManagedStrategyGuaranteeKt;

/**
 * The Lincheck guarantee that every model-checking test of a weft lock needs: {@link
 * StackHeadroom}'s probe recurses (up to 80 frames, touching no shared state), and Lincheck's
 * model checker takes a deep recursion in which it switched threads for a livelock ("The
 * execution has hung ... recursive call x 21 times"). Ignoring the class removes it from the
 * analysis; the probe has no shared memory accesses to explore. A user who model-checks code
 * that uses weft's locks with Lincheck needs the same guarantee (README, Conventions).
 */
final class LincheckStackProbe {
  private LincheckStackProbe() {}

  static ManagedStrategyGuarantee ignored() {
    return ManagedStrategyGuaranteeKt.forClasses(StackHeadroom.class.getName()).allMethods().ignore();
  }
}
