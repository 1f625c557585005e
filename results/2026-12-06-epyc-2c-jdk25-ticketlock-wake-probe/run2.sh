#!/bin/bash
# Second A/B: the virtual-thread scenario only, holder sleeping every 5th, with a third jar
# (new64: 5d47330 with VIRTUAL_WAKE_FRAMES = 64, built in a scratch worktree), interleaved.
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for round in 1 2; do
  for v in old new new64; do
    jar=/tmp/jb25-$v/jmh/target/benchmarks.jar
    $J --enable-preview -jar $jar 'LockVirtualJdk25Bench' -p lock=TicketLock,ReentrantLock -p holderSleeps=every5th \
      -f 1 -wi 1 -i 5 -to 90s -rf json -rff virtual2-$v-r$round.json > virtual2-$v-r$round.txt 2>&1
  done
done
touch done2.flag
