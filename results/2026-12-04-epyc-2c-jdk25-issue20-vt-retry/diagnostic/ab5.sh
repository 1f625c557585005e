#!/bin/bash
# Round 5: after-wake rounds 1 or 6, with (l) or without the lost-race timer park for virtual threads.
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
cd /tmp/vt
for round in 1 2 3; do
 for sc in storm sleep5; do
  case $sc in
   storm) S="-Dtimed=true" ;;
   sleep5) S="-Dsleep5=true -Dn=2000 -Deach=20" ;;
  esac
  for v in s1w1 s1w1l s1w6l s1w6 rl; do
   case $v in
    rl) P=""; L=rl ;;
    *) a=${v#s}; a=${a%w*}; b=${v#*w}; b=${b%l}; X=""; [[ $v == *l ]] && X="-Dxl=true"
       P="-Ddev.weft.spinlock.virtualSpinRounds=$a -Ddev.weft.spinlock.virtualWakeRounds=$b $X"; L=spin ;;
   esac
   r=$(timeout 60 $J $S $P -cp new:. VtStall $L 3 2>&1 | awk '{print $2}' | tr '\n' ' ')
   echo "$round $sc $v $r"
  done
 done
done
