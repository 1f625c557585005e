import dev.weft.Parallel;
import java.util.*;
import java.util.concurrent.locks.LockSupport;
public class Blk {
  static long t0;
  static long[] starts = new long[16]; static long[] ends = new long[16];
  static long elem(int i) { starts[i] = System.nanoTime() - t0; long d = System.nanoTime() + 1_000_000; while (System.nanoTime() < d) LockSupport.parkNanos(d - System.nanoTime()); ends[i] = System.nanoTime() - t0; return i; }
  public static void main(String[] a) {
    int n = 16; List<Integer> in = new ArrayList<>(); for (int i = 0; i < n; i++) in.add(i);
    Parallel.Options o = Parallel.options().threads(n);
    for (int i = 0; i < 300; i++) Parallel.map(in, Blk::elem, o);
    long[][] all = new long[200][];
    long[] tot = new long[200]; long[] lastEnd = new long[200]; long[] firstEnd = new long[200];
    for (int r = 0; r < 200; r++) { t0 = System.nanoTime(); Parallel.map(in, Blk::elem, o); tot[r] = System.nanoTime() - t0; long[] s = starts.clone(); Arrays.sort(s); all[r] = s; long[] e = ends.clone(); Arrays.sort(e); lastEnd[r] = e[n-1]; firstEnd[r] = e[0]; }
    // median over rounds of each order statistic
    StringBuilder sb = new StringBuilder("start order stats (median us): ");
    for (int k = 0; k < n; k++) { long[] col = new long[200]; for (int r = 0; r < 200; r++) col[r] = all[r][k]; Arrays.sort(col); sb.append(col[100] / 1000).append(' '); }
    Arrays.sort(tot); Arrays.sort(lastEnd); Arrays.sort(firstEnd); System.out.println("first end " + firstEnd[100]/1000 + " last end " + lastEnd[100]/1000);
    System.out.println(sb + "\ncall median " + tot[100] / 1000 + " us, p90 " + tot[180] / 1000);
  }
}
