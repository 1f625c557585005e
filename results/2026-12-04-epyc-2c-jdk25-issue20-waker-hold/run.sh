#!/bin/bash
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for r in 1 2; do
 for v in old new pre; do
  jar=/tmp/$v.jar; [ $v = pre ] && jar=/tmp/herd-final.jar
  $J -jar $jar 'HandoffLatencyBench.weftAutoSignal|HandoffLatencyBench.jucCondition' -f 1 -wi 3 -i 5 -rf json -rff handoff-$v-$r.json > handoff-$v-$r.log 2>&1
 done
done
echo done
