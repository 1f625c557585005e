package dev.weft.bench;

import java.util.concurrent.ThreadFactory;
import org.openjdk.jmh.annotations.Fork;

/**
 * JDK 25 only (issue #20, session 13): {@link WaiterHerdBench} with 500 virtual waiters and a
 * virtual producer. Until session 13, 500 virtual {@code lockWhen} waiters took 0.12&ndash;0.64 s
 * against {@code Condition}'s 0.02&ndash;0.10 s on 2 carriers (found by session 12's
 * re-review: {@code VirtualThreadReReviewTest.gap_lockWhenHerd...}).
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
