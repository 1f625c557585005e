#!/bin/bash
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for r in 1 2; do
 for v in wq old pre; do
  jar=/tmp/$v.jar; [ $v = pre ] && jar=/tmp/herd-final.jar
  $J -jar $jar 'WaiterHerd' -rf json -rff herd4-$v-$r.json > herd4-$v-$r.log 2>&1
  $J -jar $jar 'HandoffLatencyBench.weftAutoSignal|HandoffLatencyBench.jucCondition|CondvarBench.weftAutoSignal' -f 1 -wi 3 -i 5 -rf json -rff handoff5-$v-$r.json > handoff5-$v-$r.log 2>&1
 done
done
echo done
