package dev.weft;

/**
 * Run in a fresh JVM by {@code LockOrderTest.thePropertySwitchesCheckingOnInAFreshJvm} with
 * {@code -Ddev.weft.lockOrder=check}: takes two locks in both orders on one thread and exits 0
 * only if the second order throws {@link LockOrderException}.
 */
@SuppressWarnings("try") // guards held for their scope only
final class LockOrderForkedMain {
  private LockOrderForkedMain() {}

  public static void main(String[] args) {
    System.out.println("mode=" + LockOrder.mode());
    Mutex<Integer> a = new Mutex<>(0);
    Mutex<Integer> b = new Mutex<>(0);
    try (var ga = a.lock(); var gb = b.lock()) {
      ga.set(gb.get());
    }
    try (var gb = b.lock(); var ga = a.lock()) {
      System.out.println("no exception: the property did not switch checking on");
      System.exit(1);
    } catch (LockOrderException e) {
      System.out.println("caught LockOrderException: " + e.getMessage());
    }
  }
}
