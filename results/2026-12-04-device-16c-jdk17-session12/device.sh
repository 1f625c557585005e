#!/bin/bash
# Session 12's one device run (16 cores, the jlinked JDK 17 bundle; see jmh/run-scaling.sh):
# 1. ParallelSmallHeavyBench (issue 19: 2-16 elements of 1 ms, CPU and blocking) on 16 real
#    cores, where 16 threads waking at once do not queue for 2 cores;
# 2. the scaling set (issue 22's, threads 1, 16, 2, 4, 8), cut by TIME_LIMIT if slow.
# Run from the repository root with OUT set:
#   bash results/2026-12-04-device-16c-jdk17-session12/device.sh
set -uo pipefail
B=jmh/target/scaling-bundle
J=$B/runtime/bin/java
{ nproc; lscpu; free -g; uname -a; } > "$OUT/machine-device.txt" 2>&1
"$J" -version >> "$OUT/machine-device.txt" 2>&1
"$J" -jar "$B/benchmarks.jar" 'ParallelSmallHeavyBench' -f 1 -wi 2 -w 500ms -i 3 -r 500ms \
  -rf json -rff "$OUT/smallheavy.json" > "$OUT/smallheavy.txt" 2>&1
echo "smallheavy rc=$?" >> "$OUT/machine-device.txt"
ARCHIVE="$OUT/scaling-results.tar.gz" REPORT=0 TIME_LIMIT=360 JMH_IGNORE_LOCK=true \
  bash jmh/run-scaling.sh run > "$OUT/console.txt" 2>&1
echo "scaling rc=$?" >> "$OUT/machine-device.txt"
