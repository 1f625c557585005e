import java.util.concurrent.*;
import java.util.concurrent.locks.*;
import java.util.function.Supplier;

/** 64 virtual threads x 300 acquisitions; half timed tryLock(100us) retry loops, half lock();
 * the holder parks 1 us (unmounts) on every 16th hold. Prints wall time per lock, or STALL. */
public class VtStall {
  static final long PARK = Long.getLong("park", 1000L);
  public static void main(String[] a) throws Exception {
    int rounds = a.length > 1 ? Integer.parseInt(a[1]) : 3;
    String[] names = a[0].split(",");
    for (int r = 0; r < rounds; r++) {
      for (String n : names) {
        Lock l = switch (n) {
          case "spin" -> new dev.weft.SpinLock();
          case "ticket" -> new dev.weft.TicketLock();
          case "rl" -> new ReentrantLock();
          case "rlfair" -> new ReentrantLock(true);
          case "seq" -> seqLock(new dev.weft.SeqLock());
          case "mutex" -> mutexLock(new dev.weft.Mutex<Object>(new Object()));
          default -> throw new IllegalArgumentException(n);
        };
        System.out.printf("%-7s %s%n", n, run(l));
      }
    }
    System.exit(0);
  }
  abstract static class Adapter implements Lock {
    public void lockInterruptibly() { throw new UnsupportedOperationException(); }
    public boolean tryLock() { throw new UnsupportedOperationException(); }
    public Condition newCondition() { throw new UnsupportedOperationException(); }
  }
  static Lock seqLock(dev.weft.SeqLock s) {
    return new Adapter() {
      final ThreadLocal<dev.weft.SeqLock.WriteGuard> g = new ThreadLocal<>();
      public void lock() { g.set(s.writeUninterruptibly()); }
      public boolean tryLock(long t, TimeUnit u) throws InterruptedException {
        var w = s.tryWrite(java.time.Duration.ofNanos(u.toNanos(t))); if (w == null) return false; g.set(w); return true; }
      public void unlock() { g.get().close(); }
    };
  }
  static Lock mutexLock(dev.weft.Mutex<Object> m) {
    return new Adapter() {
      final ThreadLocal<dev.weft.Mutex.Guard<Object>> g = new ThreadLocal<>();
      public void lock() { g.set(m.lock()); }
      public boolean tryLock(long t, TimeUnit u) throws InterruptedException {
        var w = m.tryLock(java.time.Duration.ofNanos(u.toNanos(t))); if (w == null) return false; g.set(w); return true; }
      public void unlock() { g.get().close(); }
    };
  }
  static final boolean SLEEP5 = Boolean.getBoolean("sleep5");
  static String run(Lock lock) throws Exception {
    int n = Integer.getInteger("n", 64), each = Integer.getInteger("each", 300);
    long[] count = new long[1];
    CountDownLatch go = new CountDownLatch(1), done = new CountDownLatch(n);
    Thread[] ts = new Thread[n];
    for (int i = 0; i < n; i++) {
      boolean timed = Boolean.getBoolean("timed") && i % 2 == 0;
      ts[i] = Thread.ofVirtual().start(() -> {
        try {
          go.await();
          for (int k = 0; k < each; k++) {
            if (timed) { while (!lock.tryLock(100, TimeUnit.MICROSECONDS)) Thread.onSpinWait(); }
            else lock.lock();
            try {
              long c = ++count[0];
              if (SLEEP5) { if (k % 5 == 4) Thread.sleep(java.time.Duration.ofNanos(50_000)); }
              else if (PARK > 0 && (c & 15) == 0) LockSupport.parkNanos(PARK);
            } finally { lock.unlock(); }
          }
        } catch (InterruptedException e) { }
        done.countDown();
      });
    }
    long t0 = System.nanoTime();
    go.countDown();
    boolean ok = done.await(30, TimeUnit.SECONDS);
    long ms = (System.nanoTime() - t0) / 1_000_000;
    if (!ok) return "STALL after " + ms + " ms, count " + count[0] + " of " + (n * each);
    return ms + " ms, count " + count[0];
  }
}
