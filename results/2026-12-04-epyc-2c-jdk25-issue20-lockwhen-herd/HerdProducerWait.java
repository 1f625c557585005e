import dev.weft.Mutex;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.locks.*;
/** Probe (not a benchmark): how long the producer of the herd waits inside Mutex.update. */
public class HerdProducerWait {
  public static void main(String[] a) throws Exception {
    int consumers = 100, rounds = 200;
    for (int it = 0; it < 4; it++) {
    Mutex<Long> m = new Mutex<>(0L);
    CountDownLatch go = new CountDownLatch(1), done = new CountDownLatch(consumers + 1);
    long[] lockWait = new long[1];
    List<Thread> ts = new ArrayList<>();
    for (int i = 0; i < consumers; i++) ts.add(Thread.ofPlatform().start(() -> { try { go.await(); for (long r = 1; r <= rounds; r++) { long rr = r; m.lockWhen(v -> v >= rr).close(); } } catch (Exception e) { e.printStackTrace(); } finally { done.countDown(); } }));
    ts.add(Thread.ofPlatform().start(() -> { try { go.await(); for (int r = 1; r <= rounds; r++) { LockSupport.parkNanos(20_000L); long t = System.nanoTime(); m.update(v -> v + 1); lockWait[0] += System.nanoTime() - t; } } catch (Exception e) {} finally { done.countDown(); } }));
    long t0 = System.nanoTime(); go.countDown(); done.await();
    System.out.printf("total %d ms, producer in update %d ms%n", (System.nanoTime() - t0) / 1_000_000, lockWait[0] / 1_000_000);
    for (Thread t : ts) t.join(); }
  }
}
