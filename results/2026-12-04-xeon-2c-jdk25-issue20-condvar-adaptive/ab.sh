#!/bin/bash
# Issue 20: Condvar/awaitThen adaptive wait window A/B (noadapt17 = before, adapt2 = after), JDK 25.
set -u
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
O=/work/perf20d; rm -rf $O; mkdir -p $O
for r in 1 2; do
  for j in noadapt17 adapt2; do
    $J -jar /work/jars/$j.jar 'HandoffLatencyBench\.(weftCondvar|weftAutoSignal|jucCondition)$' -f 1 -wi 2 -w 1 -i 4 -r 1 -rf json -rff $O/handoff-$j-$r.json > $O/handoff-$j-$r.log 2>&1
    $J -jar /work/jars/$j.jar 'CondvarBench.(weftCondvar|weftAutoSignal|jucCondition)$' -f 1 -wi 2 -w 1 -i 4 -r 1 -rf json -rff $O/condvar-$j-$r.json > $O/condvar-$j-$r.log 2>&1
    $J -jar /work/jars/$j.jar 'CondvarPacedBench' -f 1 -wi 2 -w 1 -i 3 -r 1 -rf json -rff $O/paced-$j-$r.json > $O/paced-$j-$r.log 2>&1
  done
done
echo all-done
#!/bin/bash
set -u
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
O=/work/perf20d
for j in adapt3; do for r in 1 2; do
  $J -jar /work/jars/$j.jar 'HandoffLatencyBench\.(weftCondvar|weftAutoSignal|jucCondition)$' -f 1 -wi 2 -w 1 -i 4 -r 1 -rf json -rff $O/handoff-$j-$r.json > $O/handoff-$j-$r.log 2>&1
  $J -jar /work/jars/$j.jar 'CondvarPacedBench' -f 1 -wi 2 -w 1 -i 3 -r 1 -rf json -rff $O/paced-$j-$r.json > $O/paced-$j-$r.log 2>&1
  $J -jar /work/jars/$j.jar 'CondvarBench.(weftCondvar|weftAutoSignal|jucCondition)$' -f 1 -wi 2 -w 1 -i 4 -r 1 -rf json -rff $O/condvar-$j-$r.json > $O/condvar-$j-$r.log 2>&1
done; done
echo all-done
#!/bin/bash
set -u
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
O=/work/perf20d
for r in 3; do for j in noadapt17 adapt4; do
  $J -jar /work/jars/$j.jar 'HandoffLatencyBench\.(weftCondvar|weftAutoSignal|jucCondition)$' -f 1 -wi 2 -w 1 -i 4 -r 1 -rf json -rff $O/handoff-$j-$r.json > $O/handoff-$j-$r.log 2>&1
  $J -jar /work/jars/$j.jar 'CondvarPacedBench' -f 1 -wi 2 -w 1 -i 3 -r 1 -rf json -rff $O/paced-$j-$r.json > $O/paced-$j-$r.log 2>&1
done; done
$J -jar /work/jars/adapt4.jar 'HandoffLatencyBench\.(weftCondvar|weftAutoSignal|jucCondition)$' -f 1 -wi 2 -w 1 -i 4 -r 1 -rf json -rff $O/handoff-adapt4-4.json > $O/handoff-adapt4-4.log 2>&1
cd /tmp/blk && java -cp /work/main/target/classes:. Blk > $O/blk-quiet.txt 2>&1
echo all-done
