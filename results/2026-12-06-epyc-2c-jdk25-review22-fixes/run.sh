#!/bin/bash
# A/B of the paths review 22's fixes touched: old = abb302d (session 21's landing), new = this session's HEAD.
# Interleaved, 2 rounds, Temurin 25, this 2-vCPU EPYC VM (quiet machine: no helper running).
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
OLD=/tmp/jb-old/jmh/target/benchmarks.jar
NEW=/tmp/jb-new/jmh/target/benchmarks.jar
OPTS="-f 1 -wi 3 -w 300ms -i 5 -r 300ms"
for round in 1 2; do
  for v in old new; do
    jar=$OLD; [ $v = new ] && jar=$NEW
    $J -jar $jar 'SeqLockBench.write_(weftSeqLock|weftSeqLocked|stamped)$' $OPTS -rf json -rff seqlock-$v-r$round.json > seqlock-$v-r$round.txt 2>&1
    $J -jar $jar 'CondvarBench.(weftCondvar|weftAutoSignal|jucCondition)$' $OPTS -rf json -rff condvar-$v-r$round.json > condvar-$v-r$round.txt 2>&1
    $J -jar $jar 'ParallelBench.(weft|sequential)$' -p n=1000 -p work=expensive $OPTS -rf json -rff parallel-$v-r$round.json > parallel-$v-r$round.txt 2>&1
  done
done
