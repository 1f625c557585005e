package dev.weft.tour;

import static org.assertj.core.api.Assertions.assertThat;

import dev.weft.Lazy;
import dev.weft.Mutex;
import dev.weft.Parallel;
import dev.weft.Scope;
import dev.weft.ScopedThread;
import dev.weft.SeqLock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The README's "Twenty lines of weft", compiled and run so the example cannot rot. */
class ReadmeExampleTest {
  @Test
  @Timeout(value = 30, unit = TimeUnit.SECONDS)
  @SuppressWarnings("try") // the write guard is held for its scope only, as in the README
  void twentyLinesOfWeft() throws Exception {
    List<Integer> data = new ArrayList<>(List.of(1, 2, 3, 4, 5));
    int total = Scope.call(scope -> {
      ScopedThread<Integer> sum = scope.spawn(() -> data.stream().mapToInt(i -> i).sum());
      ScopedThread<Integer> max = scope.spawn(() -> Collections.max(data));
      return sum.join() + max.join();
    });
    data.add(6);

    List<Long> squares = Parallel.map(List.of(1L, 2L, 3L), x -> x * x, 4);

    Mutex<Deque<String>> jobs = new Mutex<>(new ArrayDeque<>());
    jobs.with(q -> q.add("build"));
    String next = jobs.awaitThen(q -> !q.isEmpty(), Deque::poll);

    Lazy<Pattern> ident = Lazy.of(() -> Pattern.compile("^[a-zA-Z0-9_]+$"));
    boolean matches = ident.get().matcher("hello_42").matches();

    SeqLock lock = new SeqLock();
    long[] xy = new long[2];
    try (SeqLock.WriteGuard w = lock.write()) {
      xy[0] = 1;
      xy[1] = 1;
    }
    long sum = lock.readLong(() -> xy[0] + xy[1]);

    assertThat(total).isEqualTo(15 + 5);
    assertThat(data).containsExactly(1, 2, 3, 4, 5, 6);
    assertThat(squares).containsExactly(1L, 4L, 9L);
    assertThat(next).isEqualTo("build");
    assertThat(matches).isTrue();
    assertThat(sum).isEqualTo(2L);
  }
}
