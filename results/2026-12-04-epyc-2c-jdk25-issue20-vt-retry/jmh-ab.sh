#!/bin/bash
# JMH A/B: the build before session 12 (old.jar: benchmarks.jar with the weft classes of
# 192ddb7 put back) and this session's build (new.jar), interleaved, two rounds each.
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
cd /tmp/vt
for r in 1 2; do
  for v in new old; do
    $J -jar $v.jar 'LockVirtual(Retry)?Jdk25Bench' -f 1 -wi 1 -i 3 -to 90s -rf json -rff jmh-vt-$v-r$r.json > jmh-vt-$v-r$r.txt 2>&1
    echo "$v r$r done"
  done
done
