package dev.weft;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.*;
import java.util.concurrent.locks.*;
public class WbrLat {
  static long run(VirtualReadersHarness.ReadWrite lock, int writes, String name) throws Exception {
    long[] data = new long[2];
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong reads = new AtomicLong(); AtomicLong maxLat = new AtomicLong();
    List<Thread> ts = new ArrayList<>();
    List<long[]> lats = Collections.synchronizedList(new ArrayList<>());
    for (int i = 0; i < 64; i++) ts.add(Thread.ofVirtual().start(() -> {
      long[] l = new long[100000]; int n = 0;
      while (!stop.get()) { long t0 = System.nanoTime(); lock.read(data); long d = System.nanoTime() - t0; if (n < l.length) l[n++] = d; reads.incrementAndGet(); LockSupport.parkNanos(20_000L); }
      lats.add(Arrays.copyOf(l, n));
    }));
    long start = System.nanoTime();
    Thread w = Thread.ofVirtual().start(() -> { try { for (int i = 0; i < writes; i++) { boolean park = (i & 15) == 0; lock.write(() -> { data[0]++; if (park) LockSupport.parkNanos(1_000L); data[1]--; }); } } catch (Exception e) { throw new RuntimeException(e); } });
    w.join();
    long ms = (System.nanoTime() - start) / 1_000_000;
    long r = reads.get();
    stop.set(true); for (Thread t : ts) t.join();
    long[] all = lats.stream().flatMapToLong(Arrays::stream).sorted().toArray();
    if (name != null) System.out.printf("%s writer %d ms, reads during %d (%.0f/ms), read p50 %.1f us p99 %.1f p99.9 %.1f max %.1f%n", name, ms, r, r/(double)ms,
      all[all.length/2]/1e3, all[(int)(all.length*0.99)]/1e3, all[(int)(all.length*0.999)]/1e3, all[all.length-1]/1e3);
    return ms;
  }
  public static void main(String[] a) throws Exception {
    run(VirtualReadersHarness.of(new StampedLock()), 2000, null);
    run(VirtualReadersHarness.of(new SeqLock()), 2000, null);
    for (int i = 0; i < Integer.parseInt(a[0]); i++) {
      run(VirtualReadersHarness.of(new StampedLock()), 20000, "stamped");
      run(VirtualReadersHarness.of(new SeqLock()), 20000, "seqlock");
    }
  }
}
