package dev.weft;
import java.util.concurrent.locks.StampedLock;
public class WbrProbe {
  public static void main(String[] a) throws Exception {
    int rounds = Integer.parseInt(a[0]);
    VirtualReadersHarness.writerBehindReaders(VirtualReadersHarness.of(new StampedLock()), 2000, 3000);
    VirtualReadersHarness.writerBehindReaders(VirtualReadersHarness.of(new SeqLock()), 2000, 3000);
    for (int i = 0; i < rounds; i++) {
      long st = VirtualReadersHarness.writerBehindReaders(VirtualReadersHarness.of(new StampedLock()), 20000, 3000);
      SeqLock l = new SeqLock();
      long sq = VirtualReadersHarness.writerBehindReaders(VirtualReadersHarness.of(l), 20000, 3000);
      System.out.println("stamped " + st + " ms, seqlock " + sq + " ms, fallbacks " + l.fallbackReads());
    }
  }
}
