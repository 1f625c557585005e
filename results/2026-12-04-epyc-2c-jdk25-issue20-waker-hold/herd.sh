#!/bin/bash
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for r in 1 2; do
 for v in old new pre; do
  jar=/tmp/$v.jar; [ $v = pre ] && jar=/tmp/herd-final.jar
  $J -jar $jar 'WaiterHerd' -rf json -rff herd-$v-$r.json > herd-$v-$r.log 2>&1
 done
done
echo done
