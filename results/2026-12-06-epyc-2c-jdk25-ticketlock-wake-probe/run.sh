#!/bin/bash
# A/B of session 25's TicketLock release change: old = 51bcb45 (session 24's landing), new =
# 5d47330 (wake probe before granting a parked successor, 256 frames for a virtual one; plain
# clearing with one undo handler). Interleaved, 2 rounds, Temurin 25, 2-vCPU EPYC VM, nothing
# else running. Unfair ReentrantLock is the same-run reference.
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
OLD=/tmp/jb25-old/jmh/target/benchmarks.jar
NEW=/tmp/jb25-new/jmh/target/benchmarks.jar
for round in 1 2; do
  for v in old new; do
    jar=$OLD; [ $v = new ] && jar=$NEW
    # virtual threads, 2000 x 20, holder sleeping 50 us every 5th (issue #20 goal: <= 1.5x RL)
    $J --enable-preview -jar $jar 'LockVirtualJdk25Bench' -p lock=TicketLock,ReentrantLock \
      -f 1 -wi 1 -i 5 -to 90s -rf json -rff virtual-$v-r$round.json > virtual-$v-r$round.txt 2>&1
    # platform threads, 4 on 2 cores: hand-overs to parked and spinning successors
    $J -jar $jar 'LockLatencyBench.oversubscribed4' -p lock=TicketLock,ReentrantLock -p section=1us \
      -f 1 -wi 2 -w 1s -i 4 -r 1s -rf json -rff latency-$v-r$round.json > latency-$v-r$round.txt 2>&1
  done
done
touch done.flag
