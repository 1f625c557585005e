#!/bin/bash
cd "$(dirname "$0")"
mkdir -p r3; cd r3
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
JAR=$JARS/heir25.jar
for r in 1 2 3; do
  for h in -1 0; do
    A="-Ddev.weft.spinlock.handOverMicros=$h"
    $J --enable-preview -jar $JAR 'SpinLockBench\.(uncontended|contended2|oversubscribed4)$' -p lock=SpinLock -f 1 -wi 3 -w 1 -i 5 -r 1 -jvmArgsAppend "--enable-preview $A" -rf json -rff thr-$h-$r.json > thr-$h-$r.log 2>&1
    $J --enable-preview -jar $JAR 'LockVirtualJdk25Bench' -p lock=SpinLock -f 1 -wi 1 -i 3 -to 90s -jvmArgsAppend "--enable-preview $A" -rf json -rff vt-$h-$r.json > vt-$h-$r.log 2>&1
  done
done
echo done > finished
