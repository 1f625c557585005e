package dev.weft;

import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

/** Helpers shared by JfrAdversarialTest and JfrAdversarialTestHeld (no tests here). */
final class JfrAdversarialTestSupport {
  private JfrAdversarialTestSupport() {}

  static final String[] EVENTS = {
    "dev.weft.LockContended",
    "dev.weft.ConditionWait",
    "dev.weft.OnceInit",
    "dev.weft.Scope",
    "dev.weft.Parallel"
  };

  interface Action {
    void run() throws Exception;
  }

  /** Records every dev.weft event with threshold 0 while {@code action} runs. */
  static List<RecordedEvent> recordAll(Action action) throws Exception {
    try (Recording r = new Recording()) {
      for (String name : EVENTS) {
        r.enable(name).withThreshold(Duration.ZERO).withStackTrace();
      }
      return recordDuring(r, action);
    }
  }

  /** Records with the shipped dev/weft/weft.jfc, unchanged, while {@code action} runs. */
  static List<RecordedEvent> recordShipped(Action action) throws Exception {
    try (Recording r = new Recording(shippedConfiguration())) {
      return recordDuring(r, action);
    }
  }

  static Configuration shippedConfiguration() throws Exception {
    try (Reader in =
        new InputStreamReader(
            Objects.requireNonNull(
                WeftJfr.class.getResourceAsStream("/dev/weft/weft.jfc"), "weft.jfc"),
            StandardCharsets.UTF_8)) {
      return Configuration.create(in);
    }
  }

  static Map<String, String> shippedSettings() throws Exception {
    return shippedConfiguration().getSettings();
  }

  /**
   * Starts {@code r}, runs {@code action}, stops and dumps the recording, and returns its weft
   * events in start order (also used by JfrEventsTest).
   */
  static List<RecordedEvent> recordDuring(Recording r, Action action) throws Exception {
    Path file = Files.createTempFile("weft-jfr-adv", ".jfr");
    try {
      r.start();
      action.run();
      r.stop();
      r.dump(file);
      List<RecordedEvent> out = new ArrayList<>();
      for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
        if (e.getEventType().getName().startsWith("dev.weft.")) {
          out.add(e);
        }
      }
      out.sort((a, b) -> a.getStartTime().compareTo(b.getStartTime()));
      return out;
    } finally {
      Files.deleteIfExists(file);
    }
  }

  static List<RecordedEvent> on(List<RecordedEvent> events, String name, Thread t) {
    List<RecordedEvent> out = new ArrayList<>();
    for (RecordedEvent e : events) {
      RecordedThread et = e.getThread();
      if (e.getEventType().getName().equals(name)
          && et != null
          && et.getJavaThreadId() == t.getId()) {
        out.add(e);
      }
    }
    return out;
  }

  static RecordedEvent only(List<RecordedEvent> events, String name, Thread t) {
    List<RecordedEvent> mine = on(events, name, t);
    if (mine.size() != 1) {
      throw new AssertionError(
          "expected one " + name + " on " + t.getName() + ", got " + mine.size() + ": " + events);
    }
    return mine.get(0);
  }

  static String holderName(RecordedEvent e) {
    return e.getString("holderName");
  }

  /** Waits (bounded by the test's timeout) until {@code t} is parked or blocked. */
  static void awaitParked(Thread t) {
    while (true) {
      Thread.State s = t.getState();
      if (s == Thread.State.WAITING
          || s == Thread.State.TIMED_WAITING
          || s == Thread.State.BLOCKED) {
        return;
      }
      if (s == Thread.State.TERMINATED) {
        throw new AssertionError(t.getName() + " ended without waiting");
      }
      Thread.onSpinWait();
    }
  }

  static void await(CountDownLatch l) {
    try {
      if (!l.await(20, TimeUnit.SECONDS)) {
        throw new AssertionError("latch not released in 20 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  static void join(Thread... ts) throws InterruptedException {
    for (Thread t : ts) {
      t.join(20_000);
      if (t.isAlive()) {
        t.interrupt();
        t.join(5_000);
      }
    }
  }

  /** Runs {@code main} in a fresh JVM on this class path; returns its output (exit 0 required). */
  static String fork(Class<?> main, String... jvmOptions) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(System.getProperty("java.home") + "/bin/java");
    cmd.addAll(List.of(jvmOptions));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(main.getName());
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS)) {
        throw new AssertionError("the forked JVM did not end in 60 s");
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      if (p.exitValue() != 0) {
        throw new AssertionError("forked JVM exit " + p.exitValue() + ":\n" + out);
      }
      return out;
    } finally {
      p.destroyForcibly();
    }
  }
}
