#!/bin/bash
# Issue 19 measurements on a quiet machine: spinner cap A/B, spin window, cold start.
set -u
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
O=/work/perf19; mkdir -p $O
SH='ParallelSmallHeavyBench\.(blocking_weftThreadsN|blocking_sequential|cpu_weft|cpu_sequential|cpu_parallelStream)$'
for r in 1 2; do
  for j in nocap17 cap17; do
    $J -jar /work/jars/$j.jar "$SH" -f 1 -wi 2 -w 1 -i 4 -r 1 -rf json -rff $O/sh-$j-$r.json > $O/sh-$j-$r.log 2>&1
  done
done
for r in 1 2; do
  $J -jar /work/jars/cap17.jar 'ParallelSpinBench' -f 1 -wi 2 -w 1 -i 3 -r 1 -rf json -rff $O/spin-$r.json > $O/spin-$r.log 2>&1
done
$J -jar /work/jars/cap17.jar 'ParallelColdStartBench' -f 20 -wi 0 -i 1 -rf json -rff $O/cold.json > $O/cold.log 2>&1
echo all-done
