#!/bin/bash
# Final A/B: old = 51bcb45 (session 24's landing), final = d7fa997 (64-frame wake probes in
# TicketLock's release and SpinLock's wake-up, TicketLock's plain clearing with one undo
# handler). Interleaved, 2 rounds, Temurin 25, 2-vCPU EPYC VM, nothing else running.
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for round in 1 2; do
  for v in old new; do
    jar=/tmp/jb25-$v/jmh/target/benchmarks.jar
    $J --enable-preview -jar $jar 'LockVirtualJdk25Bench' -p lock=SpinLock,TicketLock,ReentrantLock -p holderSleeps=every5th \
      -f 1 -wi 1 -i 5 -to 90s -rf json -rff final-virtual-$v-r$round.json > final-virtual-$v-r$round.txt 2>&1
    $J -jar $jar 'SpinLockBench.(contended2|oversubscribed4)' -p lock=SpinLock,TicketLock,ReentrantLock \
      -f 1 -wi 2 -w 1s -i 4 -r 1s -rf json -rff final-throughput-$v-r$round.json > final-throughput-$v-r$round.txt 2>&1
  done
done
touch done4.flag
