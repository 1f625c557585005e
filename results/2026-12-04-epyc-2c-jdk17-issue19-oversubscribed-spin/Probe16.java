import dev.weft.Parallel;
import java.util.*;
import java.util.concurrent.locks.LockSupport;
public class Probe16 {
  static long t0;
  static long[] startAt, endAt; static String[] who;
  static long el(long x) {
    int i = (int) x;
    startAt[i] = System.nanoTime() - t0; who[i] = Thread.currentThread().getName();
    long d = System.nanoTime() + 1_000_000;
    for (long left = 1_000_000; left > 0; left = d - System.nanoTime()) LockSupport.parkNanos(left);
    endAt[i] = System.nanoTime() - t0;
    return x + 1;
  }
  public static void main(String[] a) {
    int n = Integer.parseInt(a[0]);
    long[] data = new long[n]; for (int i = 0; i < n; i++) data[i] = i;
    startAt = new long[n]; endAt = new long[n]; who = new String[n];
    Parallel.Options o = Parallel.options().threads(n);
    long[] times = new long[3000];
    int slow = 0;
    for (int r = 0; r < times.length; r++) {
      t0 = System.nanoTime();
      Parallel.map(data, Probe16::el, o);
      times[r] = System.nanoTime() - t0;
      if (r > 1000 && times[r] > 1_400_000 && slow++ < 4) {
        System.out.println("slow call " + times[r]/1000 + " us");
        Map<String,Integer> per = new TreeMap<>();
        for (int i = 0; i < n; i++) { per.merge(who[i],1,Integer::sum);
          System.out.printf("  %2d %-20s start %6d end %6d%n", i, who[i], startAt[i]/1000, endAt[i]/1000); }
      }
    }
    long[] s = Arrays.copyOfRange(times, 1000, times.length); Arrays.sort(s);
    System.out.printf("n=%d mean %.0f p50 %d p90 %d p99 %d us%n", n, Arrays.stream(s).average().getAsDouble()/1000, s[s.length/2]/1000, s[s.length*9/10]/1000, s[s.length*99/100]/1000);
  }
}
