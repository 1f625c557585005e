#!/bin/bash
# usage: matrix.sh <classes dir> <test-classes dir> <label> <reps>
J25=/usr/lib/jvm/temurin-25-jdk-amd64/bin
C=$1; T=$2; L=$3; R=$4
for k in spin ticket seq jdk; do for n in 1000 1; do
  if [ "$k" = jdk ] && [ "$L" != fixed ]; then continue; fi
  out=$(timeout 600 $J25/java -cp /tmp/rep:$C:$T:$(cat /tmp/cp2.txt) dev.weft.RepNs $k $n $R 2>&1 | awk '{printf "%s%s ", $4, ($6=="(STALLED)"?"*":"")}')
  echo "$L $k ${n}ns: $out"
done; done
