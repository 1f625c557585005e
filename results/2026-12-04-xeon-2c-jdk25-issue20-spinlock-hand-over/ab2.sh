#!/bin/bash
cd "$(dirname "$0")"
mkdir -p r2; cd r2
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
JAR=$JARS/heir25.jar
for r in 1 2; do
  for h in 0 20 50 100 RL; do
    if [ $h = RL ]; then L=ReentrantLock; A=""; else L=SpinLock; A="-Ddev.weft.spinlock.handOverMicros=$h"; fi
    $J --enable-preview -jar $JAR 'LockLatencyBench' -p lock=$L -f 1 -wi 2 -w 500ms -i 5 -r 1 -jvmArgsAppend "--enable-preview $A" -rf json -rff lat-$h-$r.json > lat-$h-$r.log 2>&1
    $J --enable-preview -jar $JAR 'SpinLockBench\.(uncontended|contended2|oversubscribed4)$' -p lock=$L -f 1 -wi 3 -w 1 -i 5 -r 1 -jvmArgsAppend "--enable-preview $A" -rf json -rff thr-$h-$r.json > thr-$h-$r.log 2>&1
  done
done
echo done > finished
