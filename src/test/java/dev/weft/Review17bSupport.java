package dev.weft;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jspecify.annotations.Nullable;

/**
 * Review 17b: one shape over {@link RwLock} and {@link ReentrantReadWriteLock}, so that every
 * schedule runs on both (the JDK lock is the contract check).
 */
final class Review17bSupport {
  private Review17bSupport() {}

  /** A held lock; closing releases it. */
  interface G extends AutoCloseable {
    @Override
    void close();
  }

  /** The operations a schedule uses. */
  interface Rw {
    G read();

    G readInterruptibly() throws InterruptedException;

    @Nullable G tryRead(long nanos) throws InterruptedException;

    G write();

    G writeInterruptibly() throws InterruptedException;

    @Nullable G tryWrite(long nanos) throws InterruptedException;

    int readers();

    boolean writeLocked();
  }

  static Rw of(String kind) {
    return kind.equals("jdk") ? jdk(new ReentrantReadWriteLock()) : weft(new RwLock<>(0));
  }

  static Rw weft(RwLock<Integer> l) {
    return new Rw() {
      @Override
      public G read() {
        RwLock.ReadGuard<Integer> g = l.read();
        return g::close;
      }

      @Override
      public G readInterruptibly() throws InterruptedException {
        RwLock.ReadGuard<Integer> g = l.readInterruptibly();
        return g::close;
      }

      @Override
      public @Nullable G tryRead(long nanos) throws InterruptedException {
        RwLock.ReadGuard<Integer> g = l.tryRead(Duration.ofNanos(nanos));
        return g == null ? null : g::close;
      }

      @Override
      public G write() {
        RwLock.WriteGuard<Integer> g = l.write();
        return g::close;
      }

      @Override
      public G writeInterruptibly() throws InterruptedException {
        RwLock.WriteGuard<Integer> g = l.writeInterruptibly();
        return g::close;
      }

      @Override
      public @Nullable G tryWrite(long nanos) throws InterruptedException {
        RwLock.WriteGuard<Integer> g = l.tryWrite(Duration.ofNanos(nanos));
        return g == null ? null : g::close;
      }

      @Override
      public int readers() {
        return l.readLockCount();
      }

      @Override
      public boolean writeLocked() {
        return l.isWriteLocked();
      }
    };
  }

  static Rw jdk(ReentrantReadWriteLock l) {
    ReentrantReadWriteLock.ReadLock r = l.readLock();
    ReentrantReadWriteLock.WriteLock w = l.writeLock();
    return new Rw() {
      @Override
      public G read() {
        r.lock();
        return r::unlock;
      }

      @Override
      public G readInterruptibly() throws InterruptedException {
        r.lockInterruptibly();
        return r::unlock;
      }

      @Override
      public @Nullable G tryRead(long nanos) throws InterruptedException {
        return r.tryLock(nanos, TimeUnit.NANOSECONDS) ? r::unlock : null;
      }

      @Override
      public G write() {
        w.lock();
        return w::unlock;
      }

      @Override
      public G writeInterruptibly() throws InterruptedException {
        w.lockInterruptibly();
        return w::unlock;
      }

      @Override
      public @Nullable G tryWrite(long nanos) throws InterruptedException {
        return w.tryLock(nanos, TimeUnit.NANOSECONDS) ? w::unlock : null;
      }

      @Override
      public int readers() {
        return l.getReadLockCount();
      }

      @Override
      public boolean writeLocked() {
        return l.isWriteLocked();
      }
    };
  }
}
