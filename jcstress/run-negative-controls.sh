#!/usr/bin/env bash
# Runs the negative controls (jcstress tests named Broken*: deliberately broken variants of
# weft's primitives) and checks that jcstress FLAGS EACH ONE. A control that passes means the
# suite has lost its teeth for that family, and this script fails.
#
#   jcstress/run-negative-controls.sh [MODE] [extra jcstress args...]
#
# MODE is a jcstress preset (sanity, quick, default, tough); default: quick.
# Build the jar first: ./mvnw -pl jcstress -am package -DskipTests
set -uo pipefail
cd "$(dirname "$0")/.."
mode="${1:-quick}"; shift || true
jar=jcstress/target/jcstress.jar
out=jcstress/target/jcstress-negative
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
[ -f "$jar" ] || { echo "missing $jar: run ./mvnw -pl jcstress -am package -DskipTests" >&2; exit 2; }

# Test classes named Broken*, without the harness classes jcstress generates (*_jcstress*).
mapfile -t controls < <(unzip -Z1 "$jar" 'dev/weft/stress/Broken*.class' 2>/dev/null \
  | grep -v -e '_jcstress' -e '\$' | sed -e 's#/#.#g' -e 's#\.class$##' | sort -u)
if [ "${#controls[@]}" -eq 0 ]; then
  echo "no negative controls (Broken*) found in $jar" >&2; exit 2
fi
mkdir -p "$out"
log="$out/run.log"
echo "Running ${#controls[@]} negative controls in jcstress mode '$mode' (log: $log)"
"$java" -jar "$jar" -m "$mode" -t '\.Broken' -r "$out" "$@" > "$log" 2>&1
echo "jcstress exit code: $? (non-zero is expected: every control should fail)"

missed=0
for c in "${controls[@]}"; do
  if grep -qE "\[(FAILED|ERROR)\] ${c//./\\.}\$" "$log"; then
    echo "  flagged     $c"
  else
    echo "  NOT FLAGGED $c"; missed=$((missed + 1))
  fi
done
if [ "$missed" -gt 0 ]; then
  echo "$missed of ${#controls[@]} negative controls were not flagged: the suite lacks teeth there." >&2
  exit 1
fi
echo "All ${#controls[@]} negative controls flagged."
