#!/usr/bin/env bash
# Consumer check (issue 18, defect 7): weft as a new user gets it from a Maven repository.
#
#  1. Installs the core (src/, tests skipped: the caller has just run them) into a fresh local
#     repository, .ci/consumers/target/m2, that reads everything else from the usual one
#     (maven.repo.local.tail), so the consumers see this build's jar and published (flattened)
#     POM and no other weft.
#  2. Checks that POM (PomCheck.java): no parent, url/scm without an appended artifactId, and
#     one dependency, org.jspecify:jspecify with compile scope (so no test dependency leaks).
#  3. Builds two tiny Maven projects whose only dependency is dev.weft:weft, nothing excluded:
#     modular/ (`module app { requires dev.weft; }`) and classpath/ (no module-info), with
#     -Xlint:all and failOnWarning; pom.xml here only aggregates them.
#  4. Runs each with weft's jar alone on the module path / class path (so weft needs nothing
#     at run time) and compares the line it prints.
#
# Runs on the JDK that ./mvnw uses ($JAVA_HOME, else java on PATH). Takes about half a minute.
# The usual local repository is $HOME/.m2/repository; set WEFT_M2_TAIL if yours is elsewhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
here=.ci/consumers
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
start=$SECONDS

repo="$root/$here/target/m2"
rm -rf "$here/target" "$here/modular/target" "$here/classpath/target"
mvn=(./mvnw -B -ntp -q "-Dmaven.repo.local=$repo" "-Dmaven.repo.local.tail=${WEFT_M2_TAIL:-$HOME/.m2/repository}")

# The project version: the first <version> of the root POM, which is the project's own.
version=$(sed -n 's:^  <version>\(.*\)</version>$:\1:p' pom.xml | head -1)
echo "=== weft: consumer check (weft $version) on $("$java" -version 2>&1 | head -1) ==="

"${mvn[@]}" -pl src install -DskipTests -Dmaven.javadoc.skip=true -Dmaven.source.skip=true
installed="$repo/dev/weft/weft/$version"
# A bad POM fails the check at the end, after the apps show what it does to a consumer.
pom_status=0
"$java" "$here/PomCheck.java" "$installed/weft-$version.pom" pom.xml || pom_status=$?

# Both apps in one Maven run (pom.xml here only aggregates them).
if ! "${mvn[@]}" -f "$here/pom.xml" -fae package "-Dweft.version=$version"; then
  echo "consumer check FAILED: a consumer app does not build against weft $version"
  exit 1
fi

check() {  # check APP EXPECTED_LINE JAVA_ARGS...
  local app=$1 expected=$2 out
  shift 2
  # A bounded run: a hang must fail the check, not the CI job's time limit.
  out=$(timeout 120 "$java" "$@" 2>&1) || true
  if [ "$out" != "$expected" ]; then
    echo "consumer check FAILED: $app printed"
    echo "  $out"
    echo "expected"
    echo "  $expected"
    exit 1
  fi
  echo "$app consumer: $out"
}
weft_jar="$installed/weft-$version.jar"
check modular "weft=dev.weft app=app counter=4000 joined=4000" \
  --module-path "$here/modular/target/modular-app-1.jar:$weft_jar" --module app/app.Main
check classpath "weft=unnamed app=unnamed counter=4000 joined=4000" \
  -cp "$here/classpath/target/classpath-app-1.jar:$weft_jar" app.Main

if [ "$pom_status" -ne 0 ]; then
  echo "consumer check FAILED: the published POM (see PROBLEM lines above)"
  exit 1
fi
echo "=== weft: consumer check passed in $((SECONDS - start)) s ==="
