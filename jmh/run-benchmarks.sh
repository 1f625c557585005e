#!/usr/bin/env bash
# Runs weft's JMH comparison suite and turns the result into a report.
#
#   jmh/run-benchmarks.sh PROFILE [JMH-REGEX...]
#
# PROFILE: smoke (one short iteration of every benchmark: CI's check that none has rotted),
#          short (about 16 minutes for the whole suite on 2 cores), full (3 forks, more iterations),
#          tails (issue #20's latency-tail set, about 20 minutes on 2 cores: the SampleTime
#          benchmarks LockLatencyBench, HandoffLatencyBench, SeqLockTailBench, CondvarPacedBench and
#          WaiterHerdBench, BoundedBufferBench; on a JDK 25 jar also LockVirtualJdk25Bench,
#          LockVirtualRetryJdk25Bench, WaiterHerdJdk25Bench, BoundedBufferJdk25Bench and
#          SeqLockVirtualReadersJdk25Bench, in a JMH run of their own
#          with -wi 1 -i 3 -to 90s; then
#          the starvation harness TicketLockFairnessBench at 4 and 8 threads, 10 s per lock;
#          see docs/benchmarks.md, "Latency tails"),
#          parallel (issue #19's Parallel set, about 25 minutes on 2 cores with short's settings:
#          ParallelBench, ParallelSmallHeavyBench, ParallelSearchBench, TinyInputFloorBench,
#          ParallelCutoffBench, ParallelSpinBench, on a JDK 25 jar also ParallelSmallHeavyJdk25Bench; then
#          ParallelColdStartBench, see below). For the goal rows' -prof gc number (bytes per call
#          at N = 1e3) add JMH_ARGS='-prof gc', or run it alone:
#            JMH_ARGS='-prof gc -p n=1000' jmh/run-benchmarks.sh parallel 'ParallelBench'
#          ParallelColdStartBench (first call in a fresh JVM) always runs in a JMH run of its own
#          (jmh-cold.json) with -f 20 -wi 0 -i 1 (smoke: -f 1), whatever the profile: warm-up
#          iterations would make its calls warm.
# JMH-REGEX: optional benchmark filters passed to JMH (e.g. 'SpinLockBench' 'SeqLock.*read').
#
# Environment (all optional):
#   JAVA_HOME        the JDK to run (else `java` on PATH); on JDK 25 with a jar built on JDK 25
#                    the forks get --enable-preview and the JDK-25-only comparisons run
#   REPEAT=N         run the whole selection N times (jmh-r1.json ... jmh-rN.json); the report
#                    shows the spread between repeats. Default 1 (jmh.json)
#   THREADS=1,2,4,8  also run a thread-count sweep (jmh-t<T>.json per count) of the benchmarks
#   THREADS_INCLUDE  matched by this JMH regex (required with THREADS), e.g.
#                    'SpinLockBench|MutexBench.*contended'; the report adds scaling charts
#   JMH_ARGS         extra JMH arguments, word-split, e.g. "-prof gc"
#   RESULTS_ROOT     where result folders go (default: results)
#   HOST_TAG         replaces the CPU-derived part of the folder name
#   STARVATION_SECONDS  seconds per lock of the tails profile's starvation harness (default 10)
#   JMH_IGNORE_LOCK=true  run even while another JMH holds /tmp/jmh.lock (smoke always does:
#                    its numbers do not matter; for measurements let runs take turns)
#
# Exit status: 0 with a report; 3 with a report when points of the tails profile's
# virtual-thread run failed (a lock that did not finish a scenario within its cap; the report
# lists them at the end); other nonzero values: no report.
#
# Needs a built jar: ./mvnw -B -ntp -pl jmh -am package -DskipTests
set -euo pipefail

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

[ $# -ge 1 ] || usage
profile="$1"
shift
case "$profile" in
  smoke) settings=(-f 1 -wi 0 -i 1 -r 100ms -prof gc) ;;
  short) settings=(-f 1 -wi 3 -w 500ms -i 6 -r 500ms) ;;
  full) settings=(-f 3 -wi 5 -w 1s -i 8 -r 1s) ;;
  tails) settings=(-f 1 -wi 2 -w 500ms -i 5 -r 1s) ;;
  parallel) settings=(-f 1 -wi 3 -w 500ms -i 6 -r 500ms) ;;
  -h | --help | help) usage ;;
  *)
    echo "run-benchmarks: unknown profile '$profile' (smoke, short, full, tails or parallel)" >&2
    exit 2
    ;;
esac
regexes=("$@")
# The tails profile: issue #20's set (the JDK-25 virtual-thread scenario runs separately, below).
tails_set=('LockLatencyBench' 'HandoffLatencyBench' 'CondvarPacedBench' 'SeqLockTailBench' 'WaiterHerdBench' 'BoundedBufferBench')
tails_vt='LockVirtual(Retry)?Jdk25Bench|WaiterHerdJdk25Bench|BoundedBufferJdk25Bench|SeqLockVirtualReadersJdk25Bench'
# Single shots of the whole virtual-thread scenario; -to caps an iteration (the benchmark also
# gives up after 60 s by itself), so a collapsing lock cannot hold the run for long.
tails_vt_settings=(-f 1 -wi 1 -i 3 -to 90s)
tails_starvation_seconds="${STARVATION_SECONDS:-10}"
if ! [[ "$tails_starvation_seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "run-benchmarks: STARVATION_SECONDS must be a positive whole number, not '$tails_starvation_seconds'" >&2
  exit 2
fi
if [ "$profile" = tails ] && [ ${#regexes[@]} -eq 0 ]; then
  regexes=("${tails_set[@]}")
fi
# The parallel profile: issue #19's set (ParallelSmallHeavy also selects the JDK 25 twin, present
# only in a jar built on JDK 25; the cold-start benchmark runs separately, below).
parallel_set=('ParallelBench' 'ParallelSmallHeavy' 'ParallelSearchBench' 'TinyInputFloorBench'
  'ParallelCutoffBench' 'ParallelSpinBench' 'ParallelColdStartBench')
if [ "$profile" = parallel ] && [ ${#regexes[@]} -eq 0 ]; then
  regexes=("${parallel_set[@]}")
fi
# Cold starts: single shots in many fresh JVMs, in a JMH run of their own with these settings.
cold_class='ParallelColdStartBench'
if [ "$profile" = smoke ]; then
  cold_settings=(-f 1 -wi 0 -i 1)
else
  cold_settings=(-f 20 -wi 0 -i 1)
fi

cd "$(dirname "$0")/.."
jar=jmh/target/benchmarks.jar
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if ! command -v "$java" >/dev/null 2>&1; then
  echo "run-benchmarks: no java found (set JAVA_HOME or put java on PATH)" >&2
  exit 1
fi
if [ ! -f "$jar" ]; then
  echo "run-benchmarks: $jar not found; build it first: ./mvnw -B -ntp -pl jmh -am package -DskipTests" >&2
  exit 1
fi

repeat="${REPEAT:-1}"
if ! [[ "$repeat" =~ ^[1-9][0-9]*$ ]]; then
  echo "run-benchmarks: REPEAT must be a positive whole number, not '$repeat'" >&2
  exit 2
fi
sweep=()
if [ -n "${THREADS:-}" ]; then
  IFS=',' read -r -a sweep <<<"$THREADS"
  for t in "${sweep[@]}"; do
    if ! [[ "$t" =~ ^[1-9][0-9]*$ ]]; then
      echo "run-benchmarks: THREADS must be a comma-separated list of thread counts, not '$THREADS'" >&2
      exit 2
    fi
  done
  if [ -z "${THREADS_INCLUDE:-}" ]; then
    echo "run-benchmarks: THREADS needs THREADS_INCLUDE, a JMH regex naming the contended benchmarks to sweep" >&2
    exit 2
  fi
fi
# shellcheck disable=SC2206 # word splitting of JMH_ARGS is intended
extra=(${JMH_ARGS:-})
host_opts=()
if [ "$profile" = smoke ] || [ "${JMH_IGNORE_LOCK:-}" = true ]; then
  host_opts=(-Djmh.ignoreLock=true)
fi

# --- JDK and jar -------------------------------------------------------------------------------
java_major="$("$java" -XshowSettings:properties -version 2>&1 |
  sed -n 's/^ *java\.specification\.version = //p' | head -1)"
java_major="${java_major#1.}"
if [ -z "$java_major" ]; then
  echo "run-benchmarks: cannot tell the version of $java" >&2
  exit 1
fi
preview=()
preview_jvm=()
# The marker class is compiled only into a jar built on JDK 25 (with its preview comparisons).
if grep -aq 'dev/weft/bench/Jdk25Marker.class' "$jar"; then
  if [ "$java_major" != 25 ]; then
    echo "run-benchmarks: $jar was built on JDK 25 (it has the preview comparisons) but $java is JDK $java_major;" >&2
    echo "  run with JAVA_HOME set to a JDK 25, or rebuild the jar with this JDK" >&2
    exit 1
  fi
  preview=(-jvmArgsAppend --enable-preview)
  preview_jvm=(--enable-preview)
elif [ "$java_major" = 25 ]; then
  echo "run-benchmarks: note: $jar was not built on JDK 25, so the JDK-25-only comparisons are absent" >&2
fi

# --- What is there to run ----------------------------------------------------------------------
count_points() { # count_points REGEX... -> benchmarks x parameter combinations (0 if none)
  local listing
  if ! listing="$("$java" "${host_opts[@]}" -jar "$jar" -lp "$@" 2>&1)"; then
    if grep -q 'Unable to find the resource: /META-INF/BenchmarkList' <<<"$listing"; then
      echo 0
      return
    fi
    echo "$listing" >&2
    return 1
  fi
  awk '
    /^Benchmarks:/ { next }
    /^[^ ]/ { total += n; n = 1; next }
    /^ +param / { sub(/^[^{]*\{/, ""); sub(/\}.*$/, ""); n *= split($0, v, ",") }
    END { print total + n }' <<<"$listing"
}
# The cold-start benchmarks selected, each as an exact JMH regex (run separately, below).
cold_selected=()
if listing="$("$java" "${host_opts[@]}" -jar "$jar" -l "${regexes[@]}" 2>/dev/null)"; then
  while IFS= read -r name; do
    cold_selected+=("^${name//./\\.}\$")
  done < <(grep -E "^[[:alnum:]_.$]+\.${cold_class}\.[[:alnum:]_$]+$" <<<"$listing" || true)
fi
cold_points=0
if [ ${#cold_selected[@]} -gt 0 ]; then
  cold_points="$(count_points "${cold_selected[@]}")"
fi
main_points="$(count_points "${regexes[@]}" -e "$cold_class")"
points=$((main_points + cold_points))
if [ "$points" -le 0 ]; then
  if [ ${#regexes[@]} -eq 0 ]; then
    echo "run-benchmarks: $jar contains no benchmarks yet; nothing to run"
    exit 0
  fi
  echo "run-benchmarks: no benchmark matches ${regexes[*]}" >&2
  exit 1
fi
sweep_points=0
if [ ${#sweep[@]} -gt 0 ]; then
  sweep_points="$(count_points "$THREADS_INCLUDE")"
  if [ "$sweep_points" -le 0 ]; then
    echo "run-benchmarks: THREADS_INCLUDE '$THREADS_INCLUDE' matches no benchmark" >&2
    exit 1
  fi
fi

seconds() { # 100ms -> 0.1, 1s -> 1
  case "$1" in
    *ms) awk -v v="${1%ms}" 'BEGIN { print v / 1000 }' ;;
    *s) echo "${1%s}" ;;
    *) echo 1 ;;
  esac
}
get() { # get -wi DEFAULT -> the value after -wi in settings
  local i
  for ((i = 0; i < ${#settings[@]}; i++)); do
    if [ "${settings[$i]}" = "$1" ]; then echo "${settings[$((i + 1))]}"; return; fi
  done
  echo "$2"
}
# About 1.5 s per fork to start a JVM; benchmarks that set longer iterations take longer.
per_point="$(awk -v f="$(get -f 1)" -v wi="$(get -wi 0)" -v w="$(seconds "$(get -w 1s)")" \
  -v i="$(get -i 1)" -v r="$(seconds "$(get -r 1s)")" 'BEGIN { print f * (1.5 + wi * w + i * r) }')"
total_points=$((repeat * (points + ${#sweep[@]} * sweep_points)))
extra_seconds=0
vt_points=0
if [ "$profile" = tails ]; then
  if [ ${#preview[@]} -gt 0 ]; then
    vt_points="$(count_points "$tails_vt")"
    # SpinLock with the sleeping holder took 38 s a shot on 2 cores (4 shots); the others ~1.5 s.
    extra_seconds=$((extra_seconds + repeat * (160 + vt_points * 8)))
  fi
  extra_seconds=$((extra_seconds + repeat * (2 * 4 * tails_starvation_seconds + 4)))
fi
if [ "$cold_points" -gt 0 ]; then
  # Each single shot is a fresh JVM: about 2 s to start it and run one call.
  cold_forks="$(settings=("${cold_settings[@]}"); get -f 1)"
  extra_seconds=$((extra_seconds + repeat * cold_points * cold_forks * 2))
fi
# The cold-start points are timed by their forks (extra_seconds), not at the profile's per point.
timed_points=$((total_points - repeat * cold_points))
estimate_min="$(awk -v p="$timed_points" -v s="$per_point" -v x="$extra_seconds" 'BEGIN { printf "%.0f", (p * s + x) / 60 + 0.5 }')"

# --- Results folder and machine description ----------------------------------------------------
cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)"
[ -n "$cpu" ] || cpu="$(sysctl -n machdep.cpu.brand_string 2>/dev/null || uname -m)"
cores="$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
if [ -n "${HOST_TAG:-}" ]; then
  tag="$HOST_TAG"
else
  tag="$(tr 'A-Z' 'a-z' <<<"$cpu" | sed -E 's/\((r|tm)\)//g; s/@.*$//; s/(intel|amd|genuine|processor|cpu|[0-9]+-core)//g' |
    tr -cs 'a-z0-9' '-' | sed -E 's/^-+//; s/-+$//' | cut -c1-24 | sed -E 's/-+$//')"
  tag="${tag:-$(uname -m)}-${cores}c"
fi
tag="$(tr -cs 'A-Za-z0-9._-' '-' <<<"$tag" | sed -E 's/-+$//')"
base="${RESULTS_ROOT:-results}/$(date -u +%Y-%m-%d)-${tag}-jdk${java_major}-${profile}"
dir="$base"
n=2
while [ -e "$dir" ]; do
  dir="$base-$n"
  n=$((n + 1))
done
mkdir -p "$dir"

mem="$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)"
os="$(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"' || true)"
governor="$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo unknown)"
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit (with uncommitted changes)"
fi
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "profile: $profile"
  echo "settings: ${settings[*]} -foe true${extra[*]:+ ${extra[*]}} (the tails profile's virtual-thread run: -foe false)"
  echo "host: $(hostname 2>/dev/null || echo unknown)"
  echo "cpu: ${cpu:-unknown}"
  echo "cores: $cores"
  echo "memory: ${mem:-unknown}"
  echo "os: ${os:-unknown}, $(uname -srm)"
  echo "cpu governor: $governor"
  echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
  echo "java: $(command -v "$java")"
  echo "java major: $java_major"
  echo "commit: $commit"
  echo "repeat: $repeat"
  echo "threads sweep: ${THREADS:-none}${THREADS:+ over ${THREADS_INCLUDE}}"
  echo "benchmark points: $points per run (benchmarks x parameter combinations), $sweep_points per sweep run; $total_points in all, estimated ${estimate_min} min"
  echo "java -version:"
  "$java" -version 2>&1 | sed 's/^/  /'
  echo "commands:"
} >"$dir/machine.txt"

echo "run-benchmarks: profile $profile, JDK $java_major, $total_points benchmark point(s) in all, about $estimate_min min"
echo "run-benchmarks: results go to $dir"

# -foe true everywhere except the tails profile's virtual-thread run: there a lock that stalls
# past its scenario's cap (JDK 25's ReentrantLock with 1 ns tryLock retries did, session 33)
# fails its own point, and the run goes on; the failed points are listed at the end.
fail_on_error=true

run_jmh() { # run_jmh OUTPUT-JSON ARGS...
  local out="$1"
  shift
  local cmd=("$java" "${host_opts[@]}" -jar "$jar" "$@" "${settings[@]}" -foe "$fail_on_error" "${preview[@]}" "${extra[@]}"
    -rf json -rff "$dir/$out")
  printf ' %q' "${cmd[@]}" >>"$dir/machine.txt"
  echo >>"$dir/machine.txt"
  echo "run-benchmarks: ${cmd[*]}"
  "${cmd[@]}" 2>&1 | tee -a "$dir/jmh-output.txt"
}

run_starvation() { # run_starvation THREADS OUTPUT-TXT: the fairness harness, every acquisition timed
  local cmd=("$java" "${preview_jvm[@]}" -cp "$jar" dev.weft.bench.TicketLockFairnessBench "$1" "$tails_starvation_seconds")
  printf ' %q' "${cmd[@]}" >>"$dir/machine.txt"
  echo >>"$dir/machine.txt"
  echo "run-benchmarks: ${cmd[*]}"
  "${cmd[@]}" 2>&1 | tee "$dir/$2"
}

for ((r = 1; r <= repeat; r++)); do
  suffix=""
  [ "$repeat" -gt 1 ] && suffix="-r$r"
  if [ "$main_points" -gt 0 ]; then
    run_jmh "jmh${suffix}.json" "${regexes[@]}" -e "$cold_class"
  fi
  for t in "${sweep[@]}"; do
    run_jmh "jmh-t${t}${suffix}.json" "$THREADS_INCLUDE" -t "$t"
  done
  if [ "$profile" = tails ]; then
    if [ "$vt_points" -gt 0 ]; then
      saved=("${settings[@]}")
      settings=("${tails_vt_settings[@]}")
      fail_on_error=false
      run_jmh "jmh-vt${suffix}.json" "$tails_vt"
      fail_on_error=true
      settings=("${saved[@]}")
    fi
    run_starvation 4 "starvation-t4${suffix}.txt"
    run_starvation 8 "starvation-t8${suffix}.txt"
  fi
  if [ "$cold_points" -gt 0 ]; then
    saved=("${settings[@]}")
    settings=("${cold_settings[@]}")
    run_jmh "jmh-cold${suffix}.json" "${cold_selected[@]}"
    settings=("${saved[@]}")
  fi
done

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)" >>"$dir/machine.txt"

goals=()
[ -f jmh/goals.tsv ] && goals=(--goals jmh/goals.tsv)
"$java" -Djava.awt.headless=true -cp "$jar" dev.weft.bench.report.BenchReport "$dir" "${goals[@]}"

# Points that failed (only the virtual-thread run lets a point fail without ending the run):
# each benchmark, its parameters and the first line of its exception, added to the report.
failed="$(awk '/^# Benchmark: /{b=$3} /^# Parameters: /{p=$0; sub(/^# Parameters: /, "", p)}
  /<failure>/{f=1; next} f && /^[a-zA-Z_.$]+(Exception|Error)/{print "- `" b " " p "`: " $0; f=0}' \
  "$dir/jmh-output.txt" 2>/dev/null | sort -u || true)"
if [ -n "$failed" ]; then
  {
    echo
    echo "## Points that failed"
    echo
    echo "These points ended with an exception and have no score (a scenario that did not finish"
    echo "within its cap fails its point):"
    echo
    echo "$failed"
  } >>"$dir/REPORT.md"
  echo "run-benchmarks: report: $dir/REPORT.md" >&2
  echo "run-benchmarks: $(printf '%s\n' "$failed" | wc -l) point(s) failed, listed at the end of the report:" >&2
  printf '%s\n' "$failed" >&2
  exit 3
fi
echo "run-benchmarks: report: $dir/REPORT.md"
