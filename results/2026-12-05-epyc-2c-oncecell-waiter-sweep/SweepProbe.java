package dev.weft;
import java.time.Duration;
import java.util.*;
import java.util.concurrent.atomic.*;
public class SweepProbe {
  public static void main(String[] a) throws Exception {
    int threads = Integer.parseInt(a[0]);
    for (int round = 0; round < 3; round++) {
      OnceCell<String> cell = new OnceCell<>();
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong waits = new AtomicLong();
      List<Thread> ts = new ArrayList<>();
      for (int i = 0; i < threads; i++) { Thread t = new Thread(() -> { try { while (!stop.get()) { cell.await(Duration.ofNanos(200_000)); waits.incrementAndGet(); } } catch (InterruptedException e) {} }); t.start(); ts.add(t); }
      int max = 0; long end = System.nanoTime() + 2_000_000_000L;
      while (System.nanoTime() < end) { max = Math.max(max, cell.waiterCount()); java.util.concurrent.locks.LockSupport.parkNanos(1_000_000); }
      stop.set(true); for (Thread t : ts) t.join();
      System.out.printf("threads %d: timed waits %d in 2 s, max nodes %d%n", threads, waits.get(), max);
    }
  }
}
