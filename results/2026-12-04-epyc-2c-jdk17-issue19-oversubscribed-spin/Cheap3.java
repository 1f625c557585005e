import dev.weft.Parallel;
import java.util.*;
public class Cheap3 {
  static long work(long x) { long a = x; for (int i = 0; i < 100; i++) a = a * 6364136223846793005L + 1442695040888963407L; return a; }
  public static void main(String[] a) {
    int threads = Integer.parseInt(a[0]); int n = Integer.parseInt(a[1]);
    long[] data = new long[n]; for (int i = 0; i < n; i++) data[i] = i;
    Parallel.Options o = Parallel.options().threads(threads).sequentialCutoff(java.time.Duration.ZERO);
    long[] times = new long[40000]; long sink = 0;
    for (int r = 0; r < times.length; r++) { long t0 = System.nanoTime(); sink += Parallel.map(data, Cheap3::work, o)[0]; times[r] = System.nanoTime() - t0; }
    long[] s = Arrays.copyOfRange(times, 10000, times.length); Arrays.sort(s);
    long t0 = System.nanoTime(); for (int r = 0; r < 2000; r++) for (long x : data) sink += work(x); double seq = (System.nanoTime() - t0) / 2000.0 / 1000;
    System.out.printf("threads=%d n=%d mean %.1f p50 %.1f p99 %.1f us (seq %.1f us) %d%n", threads, n, Arrays.stream(s).average().getAsDouble()/1000, s[s.length/2]/1000.0, s[s.length*99/100]/1000.0, seq, sink & 1);
  }
}
