#!/bin/bash
# A/B: SeqLock before issue 20 (before25.jar, 29944f9) vs reader-first fallback (seq25.jar), JDK 25, interleaved rounds.
cd "$(dirname "$0")/json" || exit 1
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
JARS=${JARS:?a folder with before25.jar (29944f9) and seq25.jar (145ed70), built with JDK 25}
for r in 1 2; do
  for b in before25 seq25; do
    JAR=$JARS/$b.jar
    $J --enable-preview -jar $JAR 'SeqLockBench\.(read_weftSeqLock|read_stampedOptimistic|rw_weftSeqLock|rw_stamped|write_weftSeqLock|write_stamped.*)$' -f 1 -wi 3 -w 1 -i 5 -r 1 -jvmArgsAppend --enable-preview -rf json -rff thr-$b-$r.json > thr-$b-$r.log 2>&1
    $J --enable-preview -jar $JAR 'SeqLockTailBench' -f 1 -wi 2 -w 500ms -i 5 -r 1 -jvmArgsAppend --enable-preview -rf json -rff tail-$b-$r.json > tail-$b-$r.log 2>&1
  done
done
echo done > finished
