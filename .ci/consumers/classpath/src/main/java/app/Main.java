package app;

import dev.weft.Scope;
import dev.weft.ScopedThread;
import dev.weft.SpinLock;
import java.util.ArrayList;
import java.util.List;

/**
 * A weft consumer: four scope threads count to 4000 under a {@link SpinLock}. It prints one
 * line that .ci/consumers/check.sh compares, including the module each class was loaded in.
 */
public final class Main {
  private static int counter;

  private Main() {}

  public static void main(String[] args) throws Exception {
    SpinLock lock = new SpinLock();
    int joined = Scope.call(scope -> {
      List<ScopedThread<Integer>> threads = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        threads.add(scope.spawn(() -> {
          for (int i = 0; i < 1000; i++) {
            lock.lock();
            try {
              counter++;
            } finally {
              lock.unlock();
            }
          }
          return 1000;
        }));
      }
      int sum = 0;
      for (ScopedThread<Integer> thread : threads) {
        sum += thread.join();
      }
      return sum;
    });
    // Scope.call returned, so every thread has terminated and its writes are visible here.
    System.out.println("weft=" + moduleOf(Scope.class) + " app=" + moduleOf(Main.class)
        + " counter=" + counter + " joined=" + joined);
  }

  private static String moduleOf(Class<?> type) {
    Module module = type.getModule();
    return module.isNamed() ? module.getName() : "unnamed";
  }
}
