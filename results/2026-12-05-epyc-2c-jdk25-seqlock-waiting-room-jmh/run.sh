set -x
for round in 1 2; do
for v in old new; do
  /usr/lib/jvm/temurin-25-jdk-amd64/bin/java -jar /tmp/jars/$v.jar LockVirtualRetryJdk25Bench -p lock=SeqLock,StampedLock -p tryMicros=100,5 -wi 1 -i 3 -f 1 -to 90s -rf json -rff retry-$v-$round.json > retry-$v-$round.txt 2>&1
  for t in 1 4; do
    /usr/lib/jvm/temurin-25-jdk-amd64/bin/java -jar /tmp/jars/$v.jar SeqLockWritersBench -t $t -wi 3 -i 5 -w 1 -r 1 -f 1 -rf json -rff writers-$v-t$t-$round.json > writers-$v-t$t-$round.txt 2>&1
  done
done
done
echo ALLDONE
