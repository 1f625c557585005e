#!/bin/bash
# A/B of the fast paths review 23's fixes touched: old = 6f76566 (session 22's landing), new = 5ef9f65.
# Interleaved, 2 rounds, Temurin 25, this 2-vCPU EPYC VM (quiet: no helper running; the author edited docs meanwhile).
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
OLD=/tmp/jb-old/jmh/target/benchmarks.jar
NEW=/tmp/jb-new/jmh/target/benchmarks.jar
OPTS="-f 1 -wi 3 -w 300ms -i 5 -r 300ms"
for round in 1 2; do
  for v in old new; do
    jar=$OLD; [ $v = new ] && jar=$NEW
    $J -jar $jar 'SpinLockBench.(uncontended|contended2)$' -p lock=SpinLock,TicketLock,ReentrantLock $OPTS -rf json -rff spin-$v-r$round.json > spin-$v-r$round.txt 2>&1
    $J -jar $jar 'MutexBench.(uncontended_weftMutexGuard|uncontended_weftMutexWith|uncontended_rawReentrantLock|contended_weftMutexWith|contended_rawReentrantLock)$' $OPTS -rf json -rff mutex-$v-r$round.json > mutex-$v-r$round.txt 2>&1
    $J -jar $jar 'SeqLockBench.(write_weftSeqLock|write_weftSeqCount|write_stamped|read_weftSeqLock)$' $OPTS -rf json -rff seqlock-$v-r$round.json > seqlock-$v-r$round.txt 2>&1
    $J -jar $jar 'ScopeBench.(rawThread|weftJoin|weftRun)$' $OPTS -rf json -rff scope-$v-r$round.json > scope-$v-r$round.txt 2>&1
    $J -jar $jar 'ParallelBench.(weft|sequential)$' -p n=10,1000 -p work=cheap,expensive $OPTS -rf json -rff parallel-$v-r$round.json > parallel-$v-r$round.txt 2>&1
  done
done
touch done.flag
