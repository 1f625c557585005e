#!/bin/bash
# Recheck of run4's TicketLock oversubscribed4 drop (old 0.9, new 0.6-0.7 ops/us): that one
# benchmark, 3 interleaved rounds, longer iterations.
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for round in 1 2 3; do
  for v in old new; do
    jar=/tmp/jb25-$v/jmh/target/benchmarks.jar
    $J -jar $jar 'SpinLockBench.oversubscribed4' -p lock=TicketLock,ReentrantLockFair \
      -f 1 -wi 2 -w 1s -i 5 -r 2s -rf json -rff over4-$v-r$round.json > over4-$v-r$round.txt 2>&1
  done
done
touch done5.flag
