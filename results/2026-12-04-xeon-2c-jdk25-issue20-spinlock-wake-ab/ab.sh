#!/bin/bash
# A/B: SpinLock before issue 20's wake fix (before25.jar) vs after (wake25.jar), JDK 25, interleaved rounds.
# JARS: a folder with before25.jar (29944f9, before issue 20), wake25.jar (5e2fdac, volatile unlock) and exposed25.jar (04cb52b, exposed-waiter backstop), each built with JDK 25: JAVA_HOME=<jdk25> ./mvnw -pl jmh -am package -DskipTests; the volatile-unlock run used wake25 in place of exposed25
cd "$(dirname "$0")"
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
for r in 1 2; do
  for b in before25 exposed25; do
    JAR=$JARS/$b.jar
    $J --enable-preview -jar $JAR 'SpinLockBench\.(uncontended|contended2|oversubscribed4)$' -p lock=SpinLock,ReentrantLock -f 1 -wi 3 -w 1 -i 5 -r 1 -jvmArgsAppend --enable-preview -rf json -rff thr-$b-$r.json > thr-$b-$r.log 2>&1
    $J --enable-preview -jar $JAR 'LockLatencyBench' -p lock=SpinLock,ReentrantLock -f 1 -wi 2 -w 500ms -i 5 -r 1 -jvmArgsAppend --enable-preview -rf json -rff lat-$b-$r.json > lat-$b-$r.log 2>&1
    $J --enable-preview -jar $JAR 'LockVirtualJdk25Bench' -p lock=SpinLock,ReentrantLock -f 1 -wi 1 -i 3 -to 90s -jvmArgsAppend --enable-preview -rf json -rff vt-$b-$r.json > vt-$b-$r.log 2>&1
  done
done
echo done > finished
