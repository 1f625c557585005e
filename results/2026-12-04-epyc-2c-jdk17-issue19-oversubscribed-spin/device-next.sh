#!/bin/bash
# Prepared in session 13 (no device was lent then) for the next session that has the 16-core
# device. One run of about 8 minutes; build the bundle first:
#   ./mvnw -B -ntp -pl jmh -am package -DskipTests && jmh/run-scaling.sh bundle
# then run with carry ["jmh/target/scaling-bundle"], from the repository root, OUT set:
#   bash results/2026-12-04-epyc-2c-jdk17-issue19-oversubscribed-spin/device-next.sh
# 1. SpinLock on 8 and 16 cores, hand-over on (default) against off (-1): session 12 saw
#    SpinLock fall to 0.74x / 0.38x unfair ReentrantLock at 8 / 16 threads with no A/B.
# 2. ParallelSmallHeavyBench.blocking at N = 16 with the pool spin on (default) and off:
#    session 12's 10.75x (goal 12.8x); session 13's rule leaves threads(16) on 16 cores
#    spinning, so this says whether the spin is the 16-core cause too.
# 3. WaiterHerdBench (session 13's lockWhen fix) on 16 cores.
set -uo pipefail
B=jmh/target/scaling-bundle
J=$B/runtime/bin/java
JAR=$B/benchmarks.jar
{ nproc; lscpu; free -g; uname -a; git log --oneline -1 2>/dev/null; } > "$OUT/machine-device.txt" 2>&1
"$J" -version >> "$OUT/machine-device.txt" 2>&1
S=(-f 1 -wi 2 -w 300ms -i 3 -r 300ms)
for t in 8 16; do
  "$J" -jar "$JAR" 'LockScalingBench' -t "$t" -p lock=SpinLock,ReentrantLock,TicketLock,ReentrantLockFair "${S[@]}" \
    -rf json -rff "$OUT/lock-t$t-handover-on.json" > "$OUT/lock-t$t-handover-on.txt" 2>&1
  "$J" -jar "$JAR" 'LockScalingBench' -t "$t" -p lock=SpinLock,TicketLock "${S[@]}" \
    -jvmArgsAppend -Ddev.weft.spinlock.handOverMicros=-1 \
    -rf json -rff "$OUT/lock-t$t-handover-off.json" > "$OUT/lock-t$t-handover-off.txt" 2>&1
done
for spin in 50 0; do
  "$J" -jar "$JAR" 'ParallelSmallHeavyBench.blocking' -p n=16 -f 2 -wi 3 -w 500ms -i 5 -r 500ms \
    -jvmArgsAppend "-Ddev.weft.parallel.spinMicros=$spin" \
    -rf json -rff "$OUT/blocking16-spin$spin.json" > "$OUT/blocking16-spin$spin.txt" 2>&1
done
"$J" -jar "$JAR" 'WaiterHerdBench' -rf json -rff "$OUT/herd.json" > "$OUT/herd.txt" 2>&1
echo "done" >> "$OUT/machine-device.txt"
