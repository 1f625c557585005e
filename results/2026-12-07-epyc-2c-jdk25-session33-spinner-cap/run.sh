#!/bin/bash
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
JAR=/work/wt-spin/jmh/target/benchmarks.jar
S="-f 1 -wi 2 -w 500ms -i 5 -r 1s"
for round in 1 2; do
  $J -jar $JAR 'LockLatencyBench' -p lock=ReentrantLock $S -rf json -rff /tmp/cap/r$round-RL.json > /tmp/cap/r$round-RL.log 2>&1
  for set in base:-1:0 cap1:1:0 cap2:2:0 cap1off:1:-1; do
    IFS=: read name cap ho <<< "$set"
    $J -jar $JAR 'LockLatencyBench' -p lock=SpinLock $S -jvmArgsAppend "-Ddev.weft.spinlock.maxSpinners=$cap -Ddev.weft.spinlock.handOverMicros=$ho" -rf json -rff /tmp/cap/r$round-$name.json > /tmp/cap/r$round-$name.log 2>&1
  done
done
echo done
