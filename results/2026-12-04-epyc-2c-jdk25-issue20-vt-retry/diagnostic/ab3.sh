#!/bin/bash
# TicketLock with virtual threads: xv=0 (yield while further back, spin 20 us next in line),
# 1 (no yield, spin 20 us), 2 (park at once), 3 (no yield, 64 pauses); unfair ReentrantLock.
J=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
cd /tmp/vt
for round in 1 2 3; do
 for sc in storm sleep5 never; do
  case $sc in
   storm) S="-Dtimed=true" ;;
   sleep5) S="-Dsleep5=true -Dn=2000 -Deach=20" ;;
   never) S="-Dn=2000 -Deach=20 -Dpark=0" ;;
  esac
  for v in x0 x1 x2 x3 rl; do
   case $v in
    rl) P=""; L=rl ;;
    *) P="-Dxv=${v#x}"; L=ticket ;;
   esac
   r=$(timeout 60 $J $S $P -cp xt:. VtStall $L 3 2>&1 | awk '{print $2}' | tr '\n' ' ')
   echo "$round $sc $v $r"
  done
 done
done
