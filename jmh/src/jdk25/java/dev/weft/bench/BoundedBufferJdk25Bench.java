package dev.weft.bench;

import java.util.concurrent.ThreadFactory;
import org.openjdk.jmh.annotations.Fork;

/**
 * JDK 25 only (session 27): {@link BoundedBufferBench} with virtual producers and consumers.
 */
@Fork(value = 1, jvmArgsAppend = "--enable-preview")
public class BoundedBufferJdk25Bench extends BoundedBufferBench {
  @Override
  protected ThreadFactory threads() {
    return Thread.ofVirtual().name("buffer-", 0).factory();
  }
}
