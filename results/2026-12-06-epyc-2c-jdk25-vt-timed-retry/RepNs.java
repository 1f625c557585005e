package dev.weft;
public class RepNs {
  public static void main(String[] a) throws Exception {
    String kind = a[0]; long nanos = Long.parseLong(a[1]); int reps = Integer.parseInt(a[2]); boolean all = a.length > 3;
    for (int i = 0; i < reps; i++) {
      VirtualThreadReviewSupport.Result r = VirtualThreadReviewSupport.retryLoops(VirtualTimedRetryTest.withNanos(kind, nanos), 64, 300, 0L, Integer.getInteger("limit", 10_000), all);
      System.out.println(i + " " + r);
    }
  }
}
