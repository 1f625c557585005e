package dev.weft;
import java.util.*;
import java.util.concurrent.atomic.*;
public class StormProbe {
  static long x, y;
  static void busy(long n){ long e=System.nanoTime()+n; while(System.nanoTime()-e<0) Thread.onSpinWait(); }
  public static void main(String[] a) throws Exception {
    long section = Long.parseLong(a[0]), pass = Long.parseLong(a[1]);
    for (int round = 0; round < 4; round++) {
      SeqLock lock = new SeqLock();
      java.util.concurrent.locks.StampedLock sl = new java.util.concurrent.locks.StampedLock();
      boolean stamped = Boolean.getBoolean("stamped");
      AtomicBoolean stop = new AtomicBoolean();
      Thread w = new Thread(() -> { while (!stop.get()) { if (stamped) { long st = sl.writeLock(); x++; busy(section); y++; sl.unlockWrite(st); } else try (SeqLock.WriteGuard g = lock.writeUninterruptibly()) { x++; busy(section); y++; } } });
      w.start();
      List<long[]> lats = Collections.synchronizedList(new ArrayList<>());
      List<Thread> rs = new ArrayList<>();
      for (int r = 0; r < 4; r++) rs.add(Thread.ofVirtual().start(() -> {
        long[] l = new long[200000]; int n = 0;
        long end = System.nanoTime() + 1_000_000_000L;
        while (System.nanoTime() < end && n < l.length) {
          long t0 = System.nanoTime();
          long v;
          if (stamped) { long st = sl.tryOptimisticRead(); busy(pass); v = x - y; if (!sl.validate(st)) { st = sl.readLock(); busy(pass); v = x - y; sl.unlockRead(st);} }
          else v = lock.readLong(() -> { busy(pass); return x - y; });
          if (v != 0) throw new AssertionError();
          l[n++] = System.nanoTime() - t0;
        }
        lats.add(Arrays.copyOf(l, n));
      }));
      for (Thread t : rs) t.join();
      stop.set(true); w.join();
      long[] all = lats.stream().flatMapToLong(Arrays::stream).sorted().toArray();
      System.out.printf("reads %d p50 %.1f us p99 %.1f p99.9 %.1f max %.1f fallbacks %d%n", all.length,
        all[all.length/2]/1e3, all[(int)(all.length*0.99)]/1e3, all[(int)(all.length*0.999)]/1e3, all[all.length-1]/1e3, lock.fallbackReads());
    }
  }
}
