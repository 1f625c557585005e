#!/bin/bash
# BASE: a checkout of ed2c56a (before issue 18), HEAD: a checkout of 4ac7ebb; both built with ./mvnw -pl jmh -am package -DskipTests
# Interleaved rounds: pre-issue-18 build (ed2c56a) vs HEAD, same machine, same minutes.
cd "$(dirname "$0")/json" || exit 1
JAVA=java
for r in 1 2 3 4; do
  for b in base head; do
    if [ $b = base ]; then JAR=$BASE/jmh/target/benchmarks.jar; else JAR=$HEAD/jmh/target/benchmarks.jar; fi
    $JAVA -jar $JAR 'ScopeBench\.(rawThread|weftJoin|weftRun|weftCapped)$' -p tasks=1 -f 1 -wi 4 -w 1 -i 5 -r 1 -rf json -rff scope-$b-$r.json > scope-$b-$r.log 2>&1
    $JAVA -jar $JAR 'SeqLockBench\.read_(weftSeqLock|stampedOptimistic)$' -f 1 -wi 4 -w 1 -i 5 -r 1 -rf json -rff seq-$b-$r.json > seq-$b-$r.log 2>&1
  done
done
echo done > finished
