#!/bin/bash
# Interleaved A/B of SpinLock with virtual threads: old = before session 12 (yields), new with
# virtualSpinRounds 6/2/0, against unfair ReentrantLock. One JVM per run; 3 scenarios.
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
cd /tmp/vt
for round in 1 2 3; do
 for sc in storm sleep5 never; do
  case $sc in
   storm) S="-Dtimed=true" ;;
   sleep5) S="-Dsleep5=true -Dn=2000 -Deach=20" ;;
   never) S="-Dn=2000 -Deach=20 -Dpark=0" ;;
  esac
  for v in old new6 new2 new1 new0 rl; do
   if [ $v = old ] && [ $sc = storm ] && [ $round -gt 1 ]; then continue; fi
   case $v in
    old) CP=old; P=""; L=spin ;;
    new6) CP=new; P="-Ddev.weft.spinlock.virtualSpinRounds=6"; L=spin ;;
    new2) CP=new; P="-Ddev.weft.spinlock.virtualSpinRounds=2"; L=spin ;;
    new1) CP=new; P="-Ddev.weft.spinlock.virtualSpinRounds=1"; L=spin ;;
    new0) CP=new; P="-Ddev.weft.spinlock.virtualSpinRounds=0"; L=spin ;;
    rl) CP=new; P=""; L=rl ;;
   esac
   r=$(timeout 60 $J $S $P -cp $CP:. VtStall $L 3 2>&1 | awk '{print $2}' | tr '\n' ' ')
   echo "$round $sc $v $r"
  done
 done
done
