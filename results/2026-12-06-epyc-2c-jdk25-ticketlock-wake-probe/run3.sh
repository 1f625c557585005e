#!/bin/bash
# run2.sh's new64 jar was misnamed (not run); this runs it, with old again beside it.
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for round in 1 2; do
  for v in new64 old; do
    jar=/tmp/jb25-$v/jmh/target/benchmarks.jar
    $J --enable-preview -jar $jar 'LockVirtualJdk25Bench' -p lock=TicketLock,ReentrantLock -p holderSleeps=every5th \
      -f 1 -wi 1 -i 5 -to 90s -rf json -rff virtual3-$v-r$round.json > virtual3-$v-r$round.txt 2>&1
  done
done
touch done3.flag
