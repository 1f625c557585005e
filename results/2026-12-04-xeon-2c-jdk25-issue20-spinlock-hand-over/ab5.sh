#!/bin/bash
# The final code (after the review fixes): hand-over on (default) vs off, one JVM each, interleaved.
cd "$(dirname "$0")"
mkdir -p r5; cd r5
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
JAR=$JARS/heirfinal25.jar
for r in 1 2; do
  for h in 0 off; do
    case $h in off) A="-Ddev.weft.spinlock.handOverMicros=-1";; 0) A="";; esac
    $J --enable-preview -jar $JAR 'LockLatencyBench' -p lock=SpinLock -p section=1us -f 1 -wi 2 -w 500ms -i 5 -r 1 -jvmArgsAppend "--enable-preview $A" -rf json -rff lat-$h-$r.json > lat-$h-$r.log 2>&1
    $J --enable-preview -jar $JAR 'SpinLockBench\.(uncontended|contended2|oversubscribed4)$' -p lock=SpinLock -f 1 -wi 3 -w 1 -i 5 -r 1 -jvmArgsAppend "--enable-preview $A" -rf json -rff thr-$h-$r.json > thr-$h-$r.log 2>&1
  done
  $J --enable-preview -jar $JAR 'LockLatencyBench' -p lock=ReentrantLock -p section=1us -f 1 -wi 2 -w 500ms -i 5 -r 1 -jvmArgsAppend "--enable-preview" -rf json -rff lat-RL-$r.json > lat-RL-$r.log 2>&1
done
echo done > finished
