#!/bin/bash
# rounds = b48e545 (bounded rounds for any holder, 16 ms doubling to 64 ms); pre = e99cbec (wake first, unbounded); wq = 070861f (rounds for the waker only, 1 ms)
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for r in 1 2; do
 for v in rounds pre wq; do
  jar=/tmp/$v.jar; [ $v = pre ] && jar=/tmp/herd-final.jar
  $J -jar $jar 'WaiterHerd' -rf json -rff herd5-$v-$r.json > herd5-$v-$r.log 2>&1
 done
done
for r in 1 2; do
 for v in rounds pre; do
  jar=/tmp/$v.jar; [ $v = pre ] && jar=/tmp/herd-final.jar
  $J -jar $jar 'HandoffLatencyBench.weftAutoSignal|HandoffLatencyBench.jucCondition|HandoffLatencyBench.weftCondvar|CondvarBench.weftAutoSignal|MutexBench' -f 1 -wi 3 -i 5 -rf json -rff handoff6-$v-$r.json > handoff6-$v-$r.log 2>&1
 done
done
echo done
