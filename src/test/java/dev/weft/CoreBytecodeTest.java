package dev.weft;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The core's class files have no invokedynamic instruction and no dynamic constant.
 *
 * <p>Why: an invokedynamic call site is linked the first time it runs, by Java code (a bootstrap
 * method), and a link that fails with a {@code LinkageError} fails for good (JVMS 5.4.3): every
 * later run of that line, in every thread, throws the same error. On JDK 25, javac's string
 * concatenation bootstraps spin a class, and wrap any {@code Throwable} thrown while they do,
 * a {@code StackOverflowError} included, into a {@code StringConcatException}; the JVM reports
 * it as {@code BootstrapMethodError} and records it. Session 26's CI failed this way: a timed
 * {@code ScopedThread.join} first timed out near the end of a test thread's stack, and every
 * later timed-out join in that JVM threw {@code BootstrapMethodError} instead of {@code
 * TimeoutException} ({@code Review26ColdLinkTest} reproduces it in a fresh JVM: 3 of 3 before).
 * Lambdas are the same (the lambda metafactory wraps a {@code Throwable} thrown while it makes a
 * non-capturing lambda's instance). So the core compiles string concatenation to {@code
 * StringBuilder} calls ({@code -XDstringConcat=inline} in the pom) and uses nested classes for
 * lambdas; this test keeps it that way.
 */
class CoreBytecodeTest {
  private static final int CONSTANT_UTF8 = 1;
  private static final int CONSTANT_DYNAMIC = 17;
  private static final int CONSTANT_INVOKE_DYNAMIC = 18;

  @Test
  void theCoreHasNoInvokedynamic() throws Exception {
    List<String> found = new ArrayList<>();
    List<String> classes = coreClasses();
    assertThat(classes).as("the core's class files").hasSizeGreaterThan(50);
    for (String c : classes) {
      try (InputStream in = Scope.class.getResourceAsStream("/" + c)) {
        assertThat(in).as(c).isNotNull();
        int dynamic = dynamicConstants(new DataInputStream(in));
        if (dynamic > 0) {
          found.add(c + ": " + dynamic);
        }
      }
    }
    assertThat(found)
        .as("core classes with invokedynamic or dynamic constants (a lambda, a method reference,"
            + " or a string concatenation compiled without -XDstringConcat=inline)")
        .isEmpty();
  }

  /** The parser finds what it looks for: this test class has a lambda and a concatenation. */
  @Test
  void theCheckFindsALambda() throws Exception {
    Runnable r = () -> Collections.emptyList().forEach(x -> { });
    r.run();
    try (InputStream in =
        CoreBytecodeTest.class.getResourceAsStream("CoreBytecodeTest.class")) {
      assertThat(in).isNotNull();
      assertThat(dynamicConstants(new DataInputStream(in))).isGreaterThanOrEqualTo(2);
    }
  }

  /** The class files of the core (where Scope.class comes from: a folder or a jar). */
  private static List<String> coreClasses() throws Exception {
    URI where = Scope.class.getProtectionDomain().getCodeSource().getLocation().toURI();
    Path root = Path.of(where);
    List<String> out = new ArrayList<>();
    if (Files.isDirectory(root)) {
      collect(root, root, out);
    } else {
      try (FileSystem jar = FileSystems.newFileSystem(root)) {
        Path top = jar.getPath("/");
        collect(top, top, out);
      }
    }
    return out;
  }

  private static void collect(Path root, Path dir, List<String> out) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      s.filter(p -> p.toString().endsWith(".class"))
          .filter(p -> !p.getFileName().toString().equals("module-info.class"))
          .forEach(p -> out.add(root.relativize(p).toString().replace('\\', '/')));
    }
  }

  /** Counts the CONSTANT_Dynamic and CONSTANT_InvokeDynamic entries of a class file's pool. */
  private static int dynamicConstants(DataInputStream in) throws IOException {
    assertThat(in.readInt()).as("magic").isEqualTo(0xCAFEBABE);
    in.readUnsignedShort(); // minor
    in.readUnsignedShort(); // major
    int count = in.readUnsignedShort();
    int dynamic = 0;
    for (int i = 1; i < count; i++) {
      int tag = in.readUnsignedByte();
      switch (tag) {
        case CONSTANT_UTF8 -> in.skipNBytes(in.readUnsignedShort());
        case 3, 4 -> in.skipNBytes(4); // Integer, Float
        case 5, 6 -> { // Long, Double: two slots
          in.skipNBytes(8);
          i++;
        }
        case 7, 8, 16, 19, 20 -> in.skipNBytes(2); // Class, String, MethodType, Module, Package
        case 9, 10, 11, 12 -> in.skipNBytes(4); // Field/Method/InterfaceMethod ref, NameAndType
        case 15 -> in.skipNBytes(3); // MethodHandle
        case CONSTANT_DYNAMIC, CONSTANT_INVOKE_DYNAMIC -> {
          in.skipNBytes(4);
          dynamic++;
        }
        default -> throw new IOException("unknown constant pool tag " + tag + " at " + i);
      }
    }
    return dynamic;
  }
}
