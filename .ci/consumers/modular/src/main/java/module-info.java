/** A modular consumer of weft: it needs nothing but {@code requires dev.weft}. */
module app {
  requires dev.weft;
}
