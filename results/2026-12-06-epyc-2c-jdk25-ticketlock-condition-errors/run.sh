#!/bin/bash
# (jars built in worktrees /tmp/jb-old, /tmp/jb-new; output moved to jmh/ here.)
# A/B: fed0bf6 (old) vs session 21 (new), interleaved, Temurin 25, this 2-vCPU machine.
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
cd /tmp/ab21
for r in 1 2; do
  for v in old new; do
    $J -jar /tmp/jb-$v/jmh/target/benchmarks.jar 'HandoffLatencyBench.(weftSpinLockCondition|weftTicketLockCondition|jucCondition)$' \
      -wi 2 -w 1s -i 4 -r 1s -f 1 -rf json -rff handoff-$v-r$r.json > handoff-$v-r$r.log 2>&1
    $J -jar /tmp/jb-$v/jmh/target/benchmarks.jar 'SpinLockBench' -p lock=TicketLock,SpinLock,ReentrantLock \
      -wi 2 -w 1s -i 4 -r 1s -f 1 -rf json -rff spin-$v-r$r.json > spin-$v-r$r.log 2>&1
  done
done
echo finished
