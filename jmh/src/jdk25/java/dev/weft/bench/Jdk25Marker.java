package dev.weft.bench;

/** Marks a benchmarks jar built on JDK 25: its JDK-25-only comparisons are present. */
final class Jdk25Marker {
  private Jdk25Marker() {}
}
