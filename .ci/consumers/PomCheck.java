import java.io.File;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;

/**
 * Checks weft's published (flattened, installed) POM: java PomCheck.java PUBLISHED_POM ROOT_POM.
 *
 * <ul>
 *   <li>it stands alone: no parent;
 *   <li>its url and scm url/connection/developerConnection are the root POM's, without the
 *       artifactId Maven appends to inherited URLs by default;
 *   <li>its only dependency is org.jspecify:jspecify with compile scope, not optional: what a
 *       consumer needs to compile against module-info's {@code requires static transitive
 *       org.jspecify}; nothing with test, provided, runtime or system scope leaks in.
 * </ul>
 *
 * Prints every problem and exits 1 if there is one.
 */
public final class PomCheck {
  private PomCheck() {}

  public static void main(String[] args) throws Exception {
    Element published = parse(args[0]);
    Element root = parse(args[1]);
    List<String> problems = new ArrayList<>();

    if (child(published, "parent") != null) {
      problems.add("has a <parent>; the published POM must stand alone");
    }
    expectSame(problems, "url", text(child(root, "url")), text(child(published, "url")));
    Element rootScm = child(root, "scm");
    Element scm = child(published, "scm");
    for (String name : List.of("url", "connection", "developerConnection")) {
      String expected = rootScm == null ? null : text(child(rootScm, name));
      String actual = scm == null ? null : text(child(scm, name));
      expectSame(problems, "scm/" + name, expected, actual);
    }

    Element deps = child(published, "dependencies");
    List<String> seen = new ArrayList<>();
    if (deps != null) {
      for (Node n = deps.getFirstChild(); n != null; n = n.getNextSibling()) {
        if (!(n instanceof Element dep)) {
          continue;
        }
        String coords = text(child(dep, "groupId")) + ":" + text(child(dep, "artifactId"));
        String scope = text(child(dep, "scope"));
        String optional = text(child(dep, "optional"));
        seen.add(coords + " (scope " + scope + ", optional " + optional + ")");
        if (!coords.equals("org.jspecify:jspecify")) {
          problems.add("unexpected dependency " + coords + " (scope " + scope + ")");
        } else if (!(scope == null || scope.equals("compile")) || "true".equals(optional)) {
          problems.add("org.jspecify:jspecify must have compile scope and not be optional"
              + " (a modular consumer cannot compile otherwise), but has scope " + scope
              + ", optional " + optional);
        }
      }
    }
    if (seen.stream().noneMatch(s -> s.startsWith("org.jspecify:jspecify "))) {
      problems.add("org.jspecify:jspecify is missing");
    }

    System.out.println("published POM " + args[0] + ": dependencies " + seen);
    if (!problems.isEmpty()) {
      problems.forEach(p -> System.out.println("PROBLEM: " + p));
      System.exit(1);
    }
  }

  private static void expectSame(List<String> problems, String what, String expected,
      String actual) {
    if (expected == null ? actual != null : !expected.equals(actual)) {
      problems.add(what + " is " + actual + ", expected " + expected);
    }
  }

  private static Element parse(String path) throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setNamespaceAware(false);
    factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    Document doc = factory.newDocumentBuilder().parse(new File(path));
    return doc.getDocumentElement();
  }

  /** The first child element of {@code parent} named {@code name}, or null. */
  private static Element child(Element parent, String name) {
    for (Node n = parent.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e && e.getTagName().equals(name)) {
        return e;
      }
    }
    return null;
  }

  private static String text(Element e) {
    return e == null ? null : e.getTextContent().trim();
  }
}
