#!/bin/bash
cd "$(dirname "$0")"
mkdir -p r4; cd r4
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
JAR=$JARS/heirexp25.jar
for r in 1 2; do
  for h in off 0 lost RL; do
    case $h in off) L=SpinLock; A="-Ddev.weft.spinlock.handOverMicros=-1";; 0) L=SpinLock; A="";; lost) L=SpinLock; A="-Dexp.lost=true";; RL) L=ReentrantLock; A="";; esac
    $J --enable-preview -jar $JAR 'LockLatencyBench' -p lock=$L -f 1 -wi 2 -w 500ms -i 5 -r 1 -jvmArgsAppend "--enable-preview $A" -rf json -rff lat-$h-$r.json > lat-$h-$r.log 2>&1
    [ $h = RL ] || $J --enable-preview -jar $JAR 'SpinLockBench\.(contended2|oversubscribed4)$' -p lock=$L -f 1 -wi 3 -w 1 -i 5 -r 1 -jvmArgsAppend "--enable-preview $A" -rf json -rff thr-$h-$r.json > thr-$h-$r.log 2>&1
  done
done
echo done > finished
