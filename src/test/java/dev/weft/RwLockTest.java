package dev.weft;

import static dev.weft.MutexTest.catchThrowable;
import static dev.weft.testing.Waits.awaitBlocked;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.weft.MutexTest.Worker;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class RwLockTest {

  static <T extends @Nullable Object> T value(RwLock<T> l) {
    return l.withRead(v -> v);
  }

  @Test
  void chapterFiveReadersAndAWriter() throws Exception {
    RwLock<String> config = new RwLock<>("initial");
    List<String> seen = new CopyOnWriteArrayList<>();
    List<Worker> readers = new ArrayList<>();
    for (int id = 0; id < 5; id++) {
      readers.add(new Worker("reader-" + id, () -> {
        try (RwLock.ReadGuard<String> g = config.read()) {
          seen.add(g.get());
        }
      }));
    }
    try (RwLock.WriteGuard<String> g = config.write()) {
      g.set("updated");
    }
    for (Worker r : readers) {
      r.join();
    }
    assertThat(seen).hasSize(5).allMatch(s -> s.equals("initial") || s.equals("updated"));
    assertThat(value(config)).isEqualTo("updated");
  }

  @Test
  void readersShareTheLock() throws Exception {
    RwLock<Integer> l = new RwLock<>(1);
    CyclicBarrier bothInside = new CyclicBarrier(3);
    List<Worker> readers = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      readers.add(new Worker("sharer-" + i, () -> {
        try (RwLock.ReadGuard<Integer> g = l.read()) {
          bothInside.await(10, TimeUnit.SECONDS); // both readers hold the read lock at once
          assertThat(g.get()).isEqualTo(1);
          bothInside.await(10, TimeUnit.SECONDS);
        }
      }));
    }
    bothInside.await(10, TimeUnit.SECONDS);
    assertThat(l.readLockCount()).isEqualTo(2);
    assertThat(l.toString()).isEqualTo("RwLock[readers=2, writeLocked=false]");
    assertThat(l.tryWrite()).isNull();
    assertThat(l.tryWrite(Duration.ofMillis(20))).isNull();
    bothInside.await(10, TimeUnit.SECONDS);
    for (Worker r : readers) {
      r.join();
    }
    assertThat(l.readLockCount()).isZero();
  }

  @Test
  void writerExcludesReadersAndWriters() throws Exception {
    RwLock<Integer> l = new RwLock<>(0);
    CountDownLatch held = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Worker writer = new Worker("writer", () -> {
      try (RwLock.WriteGuard<Integer> g = l.write()) {
        g.set(1);
        held.countDown();
        release.await();
        g.set(2);
      }
    });
    held.await();
    assertThat(l.isWriteLocked()).isTrue();
    assertThat(l.toString()).isEqualTo("RwLock[readers=0, writeLocked=true]");
    assertThat(l.tryRead()).isNull();
    assertThat(l.tryRead(Duration.ZERO)).isNull();
    assertThat(l.tryRead(Duration.ofMillis(20))).isNull();
    assertThat(l.tryWrite()).isNull();
    assertThat(l.tryWrite(Duration.ofMillis(-1))).isNull();
    release.countDown();
    writer.join();
    try (RwLock.ReadGuard<Integer> g = l.tryRead(Duration.ofSeconds(Long.MAX_VALUE))) {
      assertThat(g).isNotNull();
      if (g != null) {
        assertThat(g.get()).isEqualTo(2); // never saw the intermediate 1
      }
    }
    try (RwLock.WriteGuard<Integer> g = l.tryWrite(Duration.ofSeconds(Long.MAX_VALUE))) {
      assertThat(g).isNotNull();
    }
  }

  @Test
  void manyWritersCountExactly() throws Exception {
    RwLock<Long> l = new RwLock<>(0L);
    List<Worker> workers = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      workers.add(new Worker("rw-inc-" + i, () -> {
        for (int j = 0; j < 1000; j++) {
          l.update(v -> v + 1);
          try (RwLock.WriteGuard<Long> g = l.write()) {
            g.set(g.get() + 1);
          }
          l.<Long>withRead(v -> v);
        }
      }));
    }
    for (Worker w : workers) {
      w.join();
    }
    assertThat(value(l)).isEqualTo(8000L);
  }

  @Test
  void closureForms() {
    RwLock<StringBuilder> l = new RwLock<>(new StringBuilder("a"));
    assertThat(l.<Integer>withRead(StringBuilder::length)).isEqualTo(1);
    assertThat(l.<Integer>withWrite(sb -> sb.append("b").length())).isEqualTo(2);
    RwLock<Integer> n = new RwLock<>(1);
    assertThat(n.update(v -> v * 10)).isEqualTo(10);
  }

  @Test
  void nullValueAllowed() {
    RwLock<@Nullable String> l = new RwLock<>(null);
    assertThat(value(l)).isNull();
    try (RwLock.WriteGuard<@Nullable String> g = l.write()) {
      g.set("x");
      g.set(null);
      assertThat(g.get()).isNull();
    }
    assertThat(l.update(v -> "y")).isEqualTo("y");
  }

  @Test
  void updateThatThrowsLeavesValueUnchanged() {
    RwLock<Integer> l = new RwLock<>(3);
    assertThatThrownBy(() -> l.update(v -> {
      throw new ArithmeticException("x");
    })).isInstanceOf(ArithmeticException.class);
    assertThatThrownBy(() -> l.withWrite(v -> {
      throw new ArithmeticException("y");
    })).isInstanceOf(ArithmeticException.class);
    assertThatThrownBy(() -> l.withRead(v -> {
      throw new ArithmeticException("z");
    })).isInstanceOf(ArithmeticException.class);
    assertThat(l.isWriteLocked()).isFalse();
    assertThat(l.readLockCount()).isZero();
    assertThat(value(l)).isEqualTo(3);
  }

  @Test
  void nestingRules() throws Exception {
    RwLock<Integer> l = new RwLock<>(0);
    try (RwLock.ReadGuard<Integer> outer = l.read()) {
      try (RwLock.ReadGuard<Integer> inner = l.read()) { // nested reads are allowed
        assertThat(inner.get()).isEqualTo(outer.get());
      }
      assertThatIllegalStateException().isThrownBy(l::write).withMessageContaining("upgrade");
      assertThatIllegalStateException().isThrownBy(l::tryWrite);
      assertThatIllegalStateException().isThrownBy(l::writeInterruptibly);
      assertThatIllegalStateException().isThrownBy(() -> l.tryWrite(Duration.ZERO));
      assertThatIllegalStateException().isThrownBy(() -> l.update(v -> v));
      assertThatIllegalStateException().isThrownBy(() -> l.withWrite(v -> v));
    }
    try (RwLock.WriteGuard<Integer> w = l.write()) {
      assertThatIllegalStateException().isThrownBy(l::write)
          .withMessageContaining("RwLock is not reentrant");
      assertThatIllegalStateException().isThrownBy(l::read);
      assertThatIllegalStateException().isThrownBy(l::tryRead);
      assertThatIllegalStateException().isThrownBy(l::readInterruptibly);
      assertThatIllegalStateException().isThrownBy(() -> l.tryRead(Duration.ZERO));
      assertThatIllegalStateException().isThrownBy(() -> l.withRead(v -> v));
      w.set(1);
    }
    assertThat(l.isWriteLocked()).isFalse();
    assertThat(l.readLockCount()).isZero();
    assertThat(value(l)).isEqualTo(1);
  }

  @Test
  void guardMisuse() throws Exception {
    RwLock<Integer> l = new RwLock<>(0);
    RwLock.ReadGuard<Integer> r = l.read();
    assertThat(r.toString()).startsWith("RwLock.ReadGuard[open");
    r.close();
    assertThat(r.toString()).startsWith("RwLock.ReadGuard[closed");
    assertThatIllegalStateException().isThrownBy(r::close).withMessageContaining("already closed");
    assertThatIllegalStateException().isThrownBy(r::get).withMessageContaining("already closed");
    RwLock.WriteGuard<Integer> w = l.write();
    assertThat(w.toString()).startsWith("RwLock.WriteGuard[open");
    w.close();
    assertThatIllegalStateException().isThrownBy(w::close).withMessageContaining("already closed");
    assertThatIllegalStateException().isThrownBy(w::get);
    assertThatIllegalStateException().isThrownBy(() -> w.set(1));
    assertThat(l.readLockCount()).isZero();
    assertThat(l.isWriteLocked()).isFalse();

    try (RwLock.ReadGuard<Integer> rg = l.read()) {
      AtomicReference<@Nullable Throwable> close = new AtomicReference<>();
      AtomicReference<@Nullable Throwable> get = new AtomicReference<>();
      new Worker("read-intruder", () -> {
        close.set(catchThrowable(rg::close));
        get.set(catchThrowable(rg::get));
      }).join();
      assertThat(close.get()).isInstanceOf(IllegalMonitorStateException.class)
          .hasMessageContaining("belongs to thread");
      assertThat(get.get()).isInstanceOf(IllegalMonitorStateException.class);
    }
    try (RwLock.WriteGuard<Integer> wg = l.write()) {
      AtomicReference<@Nullable Throwable> close = new AtomicReference<>();
      AtomicReference<@Nullable Throwable> set = new AtomicReference<>();
      new Worker("write-intruder", () -> {
        close.set(catchThrowable(wg::close));
        set.set(catchThrowable(() -> wg.set(5)));
      }).join();
      assertThat(close.get()).isInstanceOf(IllegalMonitorStateException.class);
      assertThat(set.get()).isInstanceOf(IllegalMonitorStateException.class);
      assertThat(wg.get()).isZero();
    }
    assertThat(l.isWriteLocked()).isFalse();
  }

  @Test
  void interruptibleAcquisition() throws Exception {
    RwLock<Integer> l = new RwLock<>(0);
    AtomicReference<@Nullable Throwable> read = new AtomicReference<>();
    AtomicReference<@Nullable Throwable> write = new AtomicReference<>();
    try (RwLock.WriteGuard<Integer> g = l.write()) {
      Worker r = new Worker("int-read", () -> read.set(catchThrowable(l::readInterruptibly)));
      Worker w = new Worker("int-write", () -> write.set(catchThrowable(l::writeInterruptibly)));
      awaitBlocked(r.thread);
      awaitBlocked(w.thread);
      r.thread.interrupt();
      w.thread.interrupt();
      r.join();
      w.join();
      g.set(1);
    }
    assertThat(read.get()).isInstanceOf(InterruptedException.class);
    assertThat(write.get()).isInstanceOf(InterruptedException.class);
    try (RwLock.ReadGuard<Integer> g = l.readInterruptibly()) {
      assertThat(g.get()).isEqualTo(1);
    }
    try (RwLock.WriteGuard<Integer> g = l.writeInterruptibly()) {
      assertThat(g.get()).isEqualTo(1);
    }
  }

  @Test
  @SuppressWarnings("NullAway") // passing null on purpose
  void nullArguments() {
    RwLock<Integer> l = new RwLock<>(0);
    assertThatNullPointerException().isThrownBy(() -> l.withRead(null)).withMessage("fn");
    assertThatNullPointerException().isThrownBy(() -> l.withWrite(null)).withMessage("fn");
    assertThatNullPointerException().isThrownBy(() -> l.update(null)).withMessage("fn");
    assertThatNullPointerException().isThrownBy(() -> l.tryRead(null)).withMessage("timeout");
    assertThatNullPointerException().isThrownBy(() -> l.tryWrite(null)).withMessage("timeout");
  }
}
