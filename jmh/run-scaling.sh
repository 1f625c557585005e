#!/usr/bin/env bash
# Measures weft from 1 to 16 threads (issue 22) on a machine that has no Java: `bundle` builds a
# self-contained folder here (a jlinked JDK 17 runtime plus benchmarks.jar), `run` executes the
# scaling set with that runtime's own java, `report` renders the charts (here, with a full JDK).
#
#   jmh/run-scaling.sh bundle        build jmh/target/scaling-bundle/ (needs jmh/target/benchmarks.jar:
#                                    ./mvnw -B -ntp -pl jmh -am package -DskipTests), pack it into
#                                    jmh/target/scaling-bundle.tar.gz and check that the packed bundle
#                                    and the working tree fit in the device's 64 MiB
#   jmh/run-scaling.sh run           run the scaling set with the bundle's bin/java (unpacking
#                                    scaling-bundle.tar.gz first if only that is there); writes jmh-t<T>.json
#                                    and jmh-t<T>-parallel.json per thread count, machine.txt and
#                                    jmh-output.txt into the results folder, then the report if a JDK
#                                    with java.desktop is at hand
#   jmh/run-scaling.sh report DIR    render DIR/REPORT.md and DIR/charts/ (goals: jmh/scaling-goals.tsv)
#   jmh/run-scaling.sh estimate      print the number of benchmark points and the time estimate
#
# The scaling set, at every thread count T:
#   LockScalingBench.shared (-t T): SpinLock, TicketLock, Mutex, ReentrantLock (unfair, fair), synchronized
#   SeqLockScalingBench.read / .readWithWriter (-t T readers, 0 or 1 writer thread):
#     SeqLock, StampedLock (optimistic), ReentrantReadWriteLock
#   LazyBench.get_weftLazy / get_volatileDcl / get_guavaMemoize (-t T, one shared instance)
#   ScopeBench.weftJoin / rawThread / executorPooled, tasks=32 (-t T callers)
#   ParallelBench.weft / parallelStream, n = 1e3 and 1e6, work = cheap, expensive, skewed: one caller
#     in a fork with -XX:ActiveProcessorCount=T (weft's default thread count and the common pool
#     follow it); sequential only at the lowest and highest T (it uses no threads; the ratios at
#     the highest T need it in the same run)
# All in throughput mode (-bm thrpt), one fork per point, G1 in every fork. Thread counts run in
# the order lowest, highest, then the rest, so that a run cut short still has both ends.
#
# Environment (all optional):
#   THREADS=1,2,4,8,16   thread counts (default); e.g. THREADS=1,2 for a local check
#   PROFILE=device       device (default): -f 1 -wi 2 -w 200ms -i 3 -r 200ms (Parallel: -wi 1);
#                        quick: -f 1 -wi 1 -w 100ms -i 1 -r 100ms, a local check that it all runs
#   BUNDLE=DIR           the bundle (default jmh/target/scaling-bundle)
#   RESULTS_DIR=DIR      the results folder (default results/<date>-<cpu>-<cores>c-jdk17-scaling[-N])
#   ARCHIVE=FILE.tar.gz  after every JMH run, pack the results folder into FILE (the device returns
#                        at most 8 files; a run cut short still returns what it measured)
#   TIME_LIMIT=SECONDS   skip a JMH run that would end after this, by its estimate scaled by how much
#                        the runs so far overran theirs (default 450 for device, 0 = none for quick)
#   REPORT=0             do not render the report at the end of `run`
#   REPORT_JAVA=PATH     the java that renders the report (default: JAVA_HOME, then PATH; needs java.desktop)
#   VERBOSE=1            show JMH's own output (always in jmh-output.txt)
#   HOST_TAG             replaces the CPU-derived part of the folder name
#   JMH_IGNORE_LOCK=true run even while another JMH holds /tmp/jmh.lock
#
# Budget of the device run (16 cores, default THREADS and PROFILE): 90 points with -t T (18 per
# count: 6 locks + 3 x 2 SeqLock + 3 Lazy + 3 Scope) at 1.0 s (2 x 200 ms warm-up, 3 x 200 ms
# measurement) + ~1.2 s fork start = ~198 s; 72 Parallel points (12 per count, + 6 sequential at
# T = 1 and 16) at 0.8 s + 1.2 s = ~144 s, plus ~25 s because an N = 1e6 expensive op takes about
# a second on one thread (each iteration runs at least one op); ~10 s of JMH host starts:
# ~380 s, about 6.3 minutes, under the 8 minutes asked for; `estimate` prints it, and TIME_LIMIT
# (450 s) skips what would overrun (slower fork starts in a sandbox are the main risk).
#
# Device tool (runs in the repository root of a copy of the working tree; carry
# ["jmh/target/scaling-bundle.tar.gz"], timeout_s 540), one line:
#   set -o pipefail; ARCHIVE=$OUT/scaling-results.tar.gz REPORT=0 bash jmh/run-scaling.sh run 2>&1 | tee $OUT/console.txt
# then here: tar -xzf <files_at>/scaling-results.tar.gz -C results && jmh/run-scaling.sh report results/<folder>
set -euo pipefail

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

[ $# -ge 1 ] || usage
command="$1"
shift
cd "$(dirname "$0")/.."

bundle="${BUNDLE:-jmh/target/scaling-bundle}"
limit_bytes=$((64 * 1024 * 1024))

die() {
  echo "run-scaling: $*" >&2
  exit 1
}

# --- What runs -----------------------------------------------------------------------------------
main_include='^dev\.weft\.bench\.(LockScalingBench\.shared|SeqLockScalingBench\.read(WithWriter)?|LazyBench\.get_(weftLazy|volatileDcl|guavaMemoize)|ScopeBench\.(weftJoin|rawThread|executorPooled))$'
main_params=(-p tasks=32)
main_points=18 # 6 lock kinds + 3 impls x 2 SeqLock scenarios + 3 Lazy + 3 Scope (tasks=32)
par_include='^dev\.weft\.bench\.ParallelBench\.(weft|parallelStream)$'
par_include_seq='^dev\.weft\.bench\.ParallelBench\.(weft|parallelStream|sequential)$'
par_params=(-p n=1000,1000000 -p work=cheap,expensive,skewed)
par_points=12 # 2 n x 3 work x 2 implementations (+6 with sequential)

profile="${PROFILE:-device}"
case "$profile" in
  device)
    main_settings=(-f 1 -wi 2 -w 200ms -i 3 -r 200ms)
    par_settings=(-f 1 -wi 1 -w 200ms -i 3 -r 200ms)
    time_limit="${TIME_LIMIT:-450}"
    ;;
  quick)
    main_settings=(-f 1 -wi 1 -w 100ms -i 1 -r 100ms)
    par_settings=(-f 1 -wi 1 -w 100ms -i 1 -r 100ms)
    time_limit="${TIME_LIMIT:-0}"
    ;;
  *) die "unknown PROFILE '$profile' (device or quick)" ;;
esac

threads=()
IFS=',' read -r -a threads <<<"${THREADS:-1,2,4,8,16}"
for t in "${threads[@]}"; do
  [[ "$t" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a comma-separated list of thread counts, not '${THREADS:-}'"
done
# Sorted ascending, without repeats; run order: lowest, highest, then the ones between.
mapfile -t threads < <(printf '%s\n' "${threads[@]}" | sort -n -u)
lowest="${threads[0]}"
highest="${threads[${#threads[@]} - 1]}"
order=("$lowest")
[ "$highest" != "$lowest" ] && order+=("$highest")
for t in "${threads[@]}"; do
  [ "$t" != "$lowest" ] && [ "$t" != "$highest" ] && order+=("$t")
done

seconds() { # 200ms -> 0.2, 1s -> 1
  case "$1" in
    *ms) awk -v v="${1%ms}" 'BEGIN { print v / 1000 }' ;;
    *s) echo "${1%s}" ;;
    *) echo 1 ;;
  esac
}
per_point() { # per_point SETTINGS... -> seconds per benchmark point, fork start included
  local wi=0 w=1s i=1 r=1s
  while [ $# -gt 0 ]; do
    case "$1" in
      -wi) wi="$2" ;;
      -w) w="$2" ;;
      -i) i="$2" ;;
      -r) r="$2" ;;
    esac
    shift
  done
  # About 1.2 s to start a fork's JVM and connect it to the JMH host.
  awk -v wi="$wi" -v w="$(seconds "$w")" -v i="$i" -v r="$(seconds "$r")" \
    'BEGIN { print 1.2 + wi * w + i * r }'
}
main_point_s="$(per_point "${main_settings[@]}")"
par_point_s="$(per_point "${par_settings[@]}")"
# An N = 1e6 expensive op takes about 1.3 s on one thread (1e9 dependent multiply-adds) and
# every iteration runs at least one op: extra seconds over the nominal iteration times.
par_iters="$(awk -v s="${par_settings[*]}" 'BEGIN { n = split(s, a, " "); for (k = 1; k < n; k++) if (a[k] == "-wi" || a[k] == "-i") t += a[k + 1]; print t }')"
long_op_extra() { # long_op_extra T IMPLEMENTATIONS -> seconds
  awk -v t="$1" -v k="$2" -v n="$par_iters" -v p="$par_point_s" \
    'BEGIN { op = 1.3 / t; x = n * op - (p - 1.2); print (x > 0 ? x * k : 0) }'
}
invocation_estimate() { # invocation_estimate main|parallel T -> seconds
  if [ "$1" = main ]; then
    awk -v n="$main_points" -v s="$main_point_s" 'BEGIN { print 1 + n * s }'
  else
    local k=2 n="$par_points"
    if [ "$2" = "$lowest" ] || [ "$2" = "$highest" ]; then
      k=3
      n=$((par_points + 6))
    fi
    awk -v n="$n" -v s="$par_point_s" -v x="$(long_op_extra "$2" "$k")" 'BEGIN { print 1 + n * s + x }'
  fi
}
estimate_total() {
  local total=0 t
  for t in "${order[@]}"; do
    total="$(awk -v a="$total" -v b="$(invocation_estimate main "$t")" -v c="$(invocation_estimate parallel "$t")" 'BEGIN { print a + b + c }')"
  done
  echo "$total"
}
points_total() {
  local n=0 t
  for t in "${order[@]}"; do
    n=$((n + main_points + par_points))
    if [ "$t" = "$lowest" ] || [ "$t" = "$highest" ]; then n=$((n + 6)); fi
  done
  echo "$n"
}

# --- bundle --------------------------------------------------------------------------------------
tree_bytes() { # what the device copies besides carried paths: tracked + untracked-not-ignored files
  if ! git rev-parse --git-dir >/dev/null 2>&1; then
    echo 0
    return
  fi
  { git ls-files -z; git ls-files -z --others --exclude-standard; } |
    xargs -0 -r stat -c %s -- 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

do_bundle() {
  local jar=jmh/target/benchmarks.jar
  [ -f "$jar" ] || die "$jar not found; build it first: ./mvnw -B -ntp -pl jmh -am package -DskipTests"
  local jdk="${JAVA_HOME:-}"
  if [ -z "$jdk" ]; then
    local j
    j="$(command -v java)" || die "no java on PATH and JAVA_HOME unset"
    jdk="$(dirname "$(dirname "$(readlink -f "$j")")")"
  fi
  local jlink="$jdk/bin/jlink" jdeps="$jdk/bin/jdeps"
  [ -x "$jlink" ] && [ -x "$jdeps" ] || die "$jdk has no jlink/jdeps (needs a full JDK 17)"
  local major
  major="$("$jdk/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -1)"
  [ "$major" = 17 ] || die "the runtime must be JDK 17 (the jar's release); $jdk is JDK $major"
  [ -d "$jdk/jmods" ] || die "$jdk has no jmods/ folder; jlink needs it (install the JDK's jmods package)"

  # What the benchmarks and JMH load, found by jdeps. The report generator (JFreeChart, Gson:
  # java.desktop, java.sql) is left out on purpose: it runs here, where fonts exist. java.desktop
  # is dropped too: jdeps still finds it in classes the runs never load (Commons Lang's circuit
  # breakers use java.beans, Commons Math's 2-D geometry java.awt.geom); it would add ~12 MiB.
  local found
  found="$("$jdeps" --multi-release 17 --ignore-missing-deps --print-module-deps \
    -include '^(?!org\.jfree\.|com\.google\.gson\.|dev\.weft\.bench\.report\.).*' "$jar")" ||
    die "jdeps failed on $jar"
  # Loaded reflectively, so jdeps cannot see them: JMH reads the JVM's input arguments and
  # (with -prof gc) the per-thread allocation counters; Guava and JMH use sun.misc.Unsafe.
  local modules
  modules="$(printf '%s\n' "${found//,/$'\n'}" java.base java.management jdk.management jdk.unsupported java.logging |
    grep -v -e '^$' -e '^java\.desktop$' -e '^java\.sql$' | sort -u | paste -sd, -)"
  echo "run-scaling: jdeps found: $found"
  echo "run-scaling: modules: $modules"

  rm -rf "$bundle"
  mkdir -p "$bundle"
  "$jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress=2 \
    --output "$bundle/runtime"
  cp "$jar" "$bundle/benchmarks.jar"
  {
    echo "built: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "jdk: $("$jdk/bin/java" -version 2>&1 | head -1)"
    echo "modules: $modules"
  } >"$bundle/BUILD.txt"

  "$bundle/runtime/bin/java" -version >/dev/null 2>&1 || die "the bundled runtime does not start"
  # What travels is the bundle packed with gzip, which every Linux can unpack (`run` does):
  # 45 MiB of runtime and jar pack to about 27, and the tracked results/ folder grows each
  # session (session 33: 44.7 MiB unpacked plus a 22 MiB tree no longer fit in 64).
  local packed="$bundle.tar.gz"
  rm -f "$packed"
  tar -C "$(dirname "$bundle")" -czf "$packed" "$(basename "$bundle")"
  local size unpacked tree total
  unpacked="$(du -sb "$bundle" | cut -f1)"
  size="$(stat -c %s "$packed")"
  tree="$(tree_bytes)"
  total=$((size + tree))
  mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
  echo "run-scaling: bundle $bundle: $(mib "$unpacked") (runtime $(mib "$(du -sb "$bundle/runtime" | cut -f1)"), jar $(mib "$(stat -c %s "$bundle/benchmarks.jar")")); packed $packed: $(mib "$size")"
  echo "run-scaling: working tree that travels with it: $(mib "$tree"); together $(mib "$total") of $(mib "$limit_bytes")"
  if [ "$total" -ge "$limit_bytes" ]; then
    die "TOO BIG: packed bundle + working tree = $(mib "$total"), over the device's 64 MiB"
  fi
  echo "run-scaling: fits; carry \"$packed\" to the device (run unpacks it)"
}

# --- report --------------------------------------------------------------------------------------
report_java() { # a java whose runtime has java.desktop (JFreeChart), or nothing
  local c
  for c in "${REPORT_JAVA:-}" "${JAVA_HOME:+$JAVA_HOME/bin/java}" "$(command -v java 2>/dev/null || true)"; do
    if [ -n "$c" ] && [ -x "$c" ] && "$c" --list-modules 2>/dev/null | grep -q '^java\.desktop@'; then
      echo "$c"
      return
    fi
  done
}

do_report() {
  local dir="$1" jar
  [ -d "$dir" ] || die "not a folder: $dir"
  local j
  j="$(report_java)"
  [ -n "$j" ] || die "no java with java.desktop found for the charts (set REPORT_JAVA or JAVA_HOME to a full JDK 17+)"
  jar=jmh/target/benchmarks.jar
  [ -f "$jar" ] || jar="$bundle/benchmarks.jar"
  [ -f "$jar" ] || die "no benchmarks.jar (jmh/target or $bundle) for the report generator"
  "$j" -Djava.awt.headless=true -cp "$jar" dev.weft.bench.report.BenchReport "$dir" --goals jmh/scaling-goals.tsv
}

# --- run -----------------------------------------------------------------------------------------
do_run() {
  local java="$bundle/runtime/bin/java" jar="$bundle/benchmarks.jar"
  if [ ! -d "$bundle/runtime" ] && [ -f "$bundle.tar.gz" ]; then # carried packed: unpack it here
    tar -C "$(dirname "$bundle")" -xzf "$bundle.tar.gz" || die "could not unpack $bundle.tar.gz"
  fi
  [ -d "$bundle/runtime" ] && [ -f "$jar" ] || die "no bundle at $bundle; build it with: jmh/run-scaling.sh bundle"
  # A copy of the tree may lose the executable bits; the forks need java and jspawnhelper.
  chmod u+x "$bundle/runtime/bin/"* "$bundle/runtime/lib/jspawnhelper" 2>/dev/null || true
  local version
  version="$("$java" -version 2>&1)" || die "the bundled java does not start here:"$'\n'"$version"

  local start=$SECONDS
  local cpu cores tag dir
  cpu="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)"
  [ -n "$cpu" ] || cpu="$(uname -m)"
  cores="$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
  if [ -n "${HOST_TAG:-}" ]; then
    tag="$HOST_TAG"
  else
    tag="$(tr 'A-Z' 'a-z' <<<"$cpu" | sed -E 's/\((r|tm)\)//g; s/@.*$//; s/(intel|amd|genuine|processor|cpu|[0-9]+-core)//g' |
      tr -cs 'a-z0-9' '-' | sed -E 's/^-+//; s/-+$//' | cut -c1-24 | sed -E 's/-+$//')"
    tag="${tag:-$(uname -m)}-${cores}c"
  fi
  tag="$(tr -cs 'A-Za-z0-9._-' '-' <<<"$tag" | sed -E 's/-+$//')"
  if [ -n "${RESULTS_DIR:-}" ]; then
    dir="$RESULTS_DIR"
    [ ! -e "$dir" ] || [ -z "$(ls -A "$dir")" ] || die "RESULTS_DIR $dir exists and is not empty"
  else
    local base n=2
    base="results/$(date -u +%Y-%m-%d)-${tag}-jdk17-scaling"
    dir="$base"
    while [ -e "$dir" ]; do
      dir="$base-$n"
      n=$((n + 1))
    done
  fi
  mkdir -p "$dir"

  local host_opts=()
  [ "${JMH_IGNORE_LOCK:-}" = true ] && host_opts=(-Djmh.ignoreLock=true)
  local commit
  commit="$(git rev-parse --short HEAD 2>/dev/null || sed -n 's/^commit: //p' "$bundle/BUILD.txt" 2>/dev/null || echo unknown)"
  local estimate
  estimate="$(estimate_total)"
  {
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "profile: scaling ($profile)"
    echo "settings: ${main_settings[*]} -bm thrpt -tu us -t T -jvmArgsAppend -XX:+UseG1GC; Parallel: ${par_settings[*]} -bm thrpt -tu s -t 1 -jvmArgsAppend '-XX:+UseG1GC -XX:ActiveProcessorCount=T'"
    echo "host: $(hostname 2>/dev/null || echo unknown)"
    echo "cpu: ${cpu:-unknown}"
    echo "cores: $cores"
    echo "memory: $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo unknown)"
    echo "os: $(sed -n 's/^PRETTY_NAME=//p' /etc/os-release 2>/dev/null | tr -d '"'), $(uname -srm)"
    echo "cpu governor: $(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null || echo unknown)"
    echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
    echo "java: $java (bundle: $(sed -n 's/^built: //p' "$bundle/BUILD.txt" 2>/dev/null), modules $(sed -n 's/^modules: //p' "$bundle/BUILD.txt" 2>/dev/null))"
    echo "java major: 17"
    echo "commit: $commit"
    echo "threads sweep: ${order[*]} (in this order)"
    echo "benchmark points: $(points_total), estimated $(awk -v s="$estimate" 'BEGIN { printf "%.0f s", s }')"
    echo "uname -a: $(uname -a)"
    echo "nproc: $(nproc 2>/dev/null || echo unknown)"
    echo "java -version:"
    sed 's/^/  /' <<<"$version"
    echo "java -XshowSettings:system (container limits as the JVM sees them):"
    "$java" -XshowSettings:system -version 2>&1 | grep -v '^openjdk\|^OpenJDK' | sed 's/^/  /' || true
    echo "lscpu:"
    { lscpu 2>/dev/null || grep -m 30 '' /proc/cpuinfo 2>/dev/null || echo "(no lscpu)"; } | sed 's/^/  /'
    echo "commands:"
  } >"$dir/machine.txt"

  pack() {
    if [ -n "${ARCHIVE:-}" ]; then
      tar -czf "$ARCHIVE.tmp" -C "$(dirname "$dir")" "$(basename "$dir")" && mv -f "$ARCHIVE.tmp" "$ARCHIVE"
    fi
  }
  pack
  echo "run-scaling: $(points_total) benchmark points at threads ${order[*]}, estimated $(awk -v s="$estimate" 'BEGIN { printf "%.0f s (%.1f min)", s, s / 60 }')"
  echo "run-scaling: results go to $dir"

  local failed=()
  local estimated_done=0 # the estimates of the JMH runs done so far, to correct the next ones
  run_jmh() { # run_jmh KIND T OUTPUT-JSON ARGS...
    local kind="$1" t="$2" out="$3"
    shift 3
    local est elapsed
    est="$(invocation_estimate "$kind" "$t")"
    elapsed=$((SECONDS - start))
    # Where the runs so far took longer than estimated (slow JVM starts in a sandbox), expect
    # this one to overrun by as much.
    est="$(awk -v x="$est" -v e="$elapsed" -v d="$estimated_done" \
      'BEGIN { f = (d > 0 && e > d) ? e / d : 1; printf "%.0f", x * f }')"
    if [ "$time_limit" != 0 ] && [ $((elapsed + est)) -gt "$time_limit" ]; then
      echo "run-scaling: SKIPPED $out: ${elapsed} s gone, it needs about ${est} s, TIME_LIMIT is $time_limit s" |
        tee -a "$dir/machine.txt"
      failed+=("$out (skipped: time)")
      return
    fi
    estimated_done="$(awk -v a="$estimated_done" -v b="$(invocation_estimate "$kind" "$t")" 'BEGIN { print a + b }')"
    local cmd=("$java" "${host_opts[@]}" -jar "$jar" "$@" -foe true -rf json -rff "$dir/$out")
    printf ' %q' "${cmd[@]}" >>"$dir/machine.txt"
    echo >>"$dir/machine.txt"
    echo "run-scaling: [${elapsed} s] $out (about ${est} s)"
    local ok=0
    if [ "${VERBOSE:-}" = 1 ]; then
      "${cmd[@]}" 2>&1 | tee -a "$dir/jmh-output.txt" || ok=$?
    else
      "${cmd[@]}" >>"$dir/jmh-output.txt" 2>&1 || ok=$?
    fi
    if [ "$ok" != 0 ]; then
      echo "run-scaling: FAILED $out (exit $ok); the end of its output:" >&2
      tail -n 25 "$dir/jmh-output.txt" >&2
      failed+=("$out (exit $ok)")
    fi
    pack
  }

  for t in "${order[@]}"; do
    run_jmh main "$t" "jmh-t$t.json" "$main_include" "${main_params[@]}" "${main_settings[@]}" \
      -bm thrpt -tu us -t "$t" -jvmArgsAppend "-XX:+UseG1GC"
    local inc="$par_include"
    if [ "$t" = "$lowest" ] || [ "$t" = "$highest" ]; then inc="$par_include_seq"; fi
    run_jmh parallel "$t" "jmh-t$t-parallel.json" "$inc" "${par_params[@]}" "${par_settings[@]}" \
      -bm thrpt -tu s -t 1 -jvmArgsAppend "-XX:+UseG1GC -XX:ActiveProcessorCount=$t"
  done

  local wall=$((SECONDS - start))
  {
    echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
    echo "wall time: $wall s"
    [ ${#failed[@]} -eq 0 ] || echo "failed or skipped: ${failed[*]}"
  } >>"$dir/machine.txt"
  pack
  echo "run-scaling: done in $wall s; results in $dir${ARCHIVE:+ (packed into $ARCHIVE)}"

  if [ "${REPORT:-1}" != 0 ]; then
    if [ -n "$(report_java)" ]; then
      do_report "$dir" || echo "run-scaling: the report failed; render it with: jmh/run-scaling.sh report $dir" >&2
    else
      echo "run-scaling: no JDK with java.desktop here for the charts; render them elsewhere with: jmh/run-scaling.sh report $dir"
    fi
  fi
  if [ ${#failed[@]} -gt 0 ]; then
    die "not everything ran: ${failed[*]}"
  fi
}

case "$command" in
  bundle) do_bundle ;;
  run) do_run ;;
  report)
    [ $# -eq 1 ] || usage
    do_report "$1"
    ;;
  estimate)
    echo "run-scaling: profile $profile, threads ${order[*]}: $(points_total) benchmark points, about $(awk -v s="$(estimate_total)" 'BEGIN { printf "%.0f s (%.1f min)", s, s / 60 }')"
    for t in "${order[@]}"; do
      echo "  T=$t: main $(invocation_estimate main "$t" | awk '{ printf "%.0f", $1 }') s, Parallel $(invocation_estimate parallel "$t" | awk '{ printf "%.0f", $1 }') s"
    done
    ;;
  -h | --help | help) usage ;;
  *)
    echo "run-scaling: unknown command '$command' (bundle, run, report or estimate)" >&2
    exit 2
    ;;
esac
