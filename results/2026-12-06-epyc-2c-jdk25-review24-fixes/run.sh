#!/bin/bash
# A/B of the paths review 24's fixes touched: old = 305d3b9 (session 23's landing), new = fcfbb3e.
# Condvar's notify with a waiter (new stack probe), SpinLock/TicketLock Condition hand-offs (new
# claim CAS), the JDK's Condition as the same-run reference. Interleaved, 2 rounds, Temurin 25,
# 2-vCPU EPYC VM; one review helper ran single test classes beside it (noise: see NOTES.md).
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
OLD=/tmp/jb24-old/jmh/target/benchmarks.jar
NEW=/tmp/jb24-new/jmh/target/benchmarks.jar
OPTS="-f 1 -wi 3 -w 1s -i 5 -r 1s"
for round in 1 2; do
  for v in old new; do
    jar=$OLD; [ $v = new ] && jar=$NEW
    $J -jar $jar 'HandoffLatencyBench.(weftCondvar|weftSpinLockCondition|weftTicketLockCondition|jucCondition)$' $OPTS -rf json -rff handoff-$v-r$round.json > handoff-$v-r$round.txt 2>&1
    $J -jar $jar 'CondvarNotifyBench' -f 1 -wi 3 -w 500ms -i 5 -r 500ms -rf json -rff notify-$v-r$round.json > notify-$v-r$round.txt 2>&1
  done
done
touch done.flag
