package dev.weft.bench;

import java.util.concurrent.ThreadFactory;
import org.openjdk.jmh.annotations.Fork;

/**
 * JDK 25 only (issue #20, session 13): {@link WaiterHerdBench} with 500 virtual waiters and a
 * virtual producer. Until session 13, 500 virtual {@code lockWhen} waiters took 150&ndash;190 ms
 * against {@code Condition}'s 32&ndash;36 ms on 2 carriers (the gap found by session 12's
 * re-review); since then 54&ndash;89 ms.
 */
@Fork(value = 1, jvmArgsAppend = "--enable-preview")
public class WaiterHerdJdk25Bench extends WaiterHerdBench {
  @Override
  protected int waiters() {
    return 500;
  }

  @Override
  protected ThreadFactory threads() {
    return Thread.ofVirtual().name("herd-", 0).factory();
  }
}
