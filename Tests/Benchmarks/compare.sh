#!/usr/bin/env bash
# Hotline against the runtimes it is chosen against, in the same run, on this machine:
#   C      Tests/Benchmarks/anchors/c/anchor.c       (gcc -O2; blocking sockets, 4-byte length-prefixed frames)
#   NIO    Tests/Benchmarks/anchors/nio/              (SwiftNIO 2.101.2, its own package, built here only)
#   Erlang Tests/Benchmarks/anchors/erlang/hanchor.erl (Debian's erlang-base; two distributed nodes)
# Every implementation runs as two processes on 127.0.0.1 with ephemeral ports. Workloads: rtt (one outstanding
# 64 B request; median, p99, p99.9), pipeline (64 outstanding 64 B requests; calls/s), stream (one-way 100 B
# messages counted at the receiver; messages/s); Hotline alone: fanout (one process calling 4 node processes at
# once), replay (wall seconds of `hotline replay --nodes 3` on the bundled trace), idle RSS (3 idle nodes).
# Idle RSS is read with each binary's page cache dropped first (evict_page_cache below).
#
# Rounds alternate Hotline and the anchors (odd rounds: hotline C NIO Erlang, even rounds the reverse order),
# each run after waiting (bounded) for an idle host; the table shows medians over rounds and the ratios the
# performance targets name (Docs/performance.md). JSON goes to $OUT.
#
#   Tests/Benchmarks/compare.sh            or   swift run -c release hotline bench compare
# Environment:
#   ROUNDS=3       rounds (medians over them)
#   QUICK=1        smoke run: fewer calls, ROUNDS=1 unless given, no replay unless REPLAY=1
#   HOTLINE_BIN=   a built `hotline` (default: built here, see SWIFT_STDLIB)
#   SWIFT_STDLIB=static  how Hotline and the SwiftNIO anchor are linked: static (`swift build -c release
#                  --static-swift-stdlib`, the deployment build of Docs/operations.md, into .build-static; Hotline's
#                  static link needs libcurl's development files, apt-get installed when missing) or dynamic
#                  (`swift build -c release`, .build/release). A static build that fails falls back to dynamic.
#   OUT=out/bench-compare.json
#   IDLE_MIN=85    idle CPU share (%) over one second to wait for before each run; IDLE_WAIT=30 s at most
#   ERLANG_INSTALL=1  apt-get install erlang-base when `erl` is missing (0: the Erlang anchor is unavailable)
#   REPLAY=1       include the replay workload (default 1, QUICK: 0)
#   HOTLINE_INBOUND=pool  where the nodes run inbound calls (and the bench and replay driver their own):
#                  pool (the default of `hotline node`: the global pool), thread (its call threads) or io (the
#                  I/O thread); see `hotline node --help`
# Exit status 0 when every run completed (whether or not the targets hold), 1 when a Hotline run failed.
set -uo pipefail
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; fi
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
export PATH="/opt/swift/usr/bin:$PATH"

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then ROUNDS=${ROUNDS:-1}; REPLAY=${REPLAY:-0}; else ROUNDS=${ROUNDS:-3}; REPLAY=${REPLAY:-1}; fi
OUT=${OUT:-$root/out/bench-compare.json}
IDLE_MIN=${IDLE_MIN:-85}
IDLE_WAIT=${IDLE_WAIT:-30}
ERLANG_INSTALL=${ERLANG_INSTALL:-1}
HOTLINE_INBOUND=${HOTLINE_INBOUND:-pool}
SWIFT_STDLIB=${SWIFT_STDLIB:-static}
[[ $SWIFT_STDLIB == static || $SWIFT_STDLIB == dynamic ]] || { echo "compare: SWIFT_STDLIB must be static or dynamic" >&2; exit 2; }

# Counts: every run should last long enough (≥ ~0.5 s) to be measured; the faster anchors get more messages.
if [[ $QUICK == 1 ]]; then
    RTT_CALLS=5000
    PIPE_CALLS_H=20000;  PIPE_CALLS_C=300000;  PIPE_CALLS_N=200000;  PIPE_CALLS_E=20000
    STREAM_H=100000;     STREAM_C=3000000;     STREAM_N=1000000;     STREAM_E=100000
    FANOUT_CALLS=20000
else
    RTT_CALLS=20000
    PIPE_CALLS_H=100000; PIPE_CALLS_C=2000000; PIPE_CALLS_N=1000000; PIPE_CALLS_E=100000
    STREAM_H=500000;     STREAM_C=20000000;    STREAM_N=5000000;     STREAM_E=500000
    FANOUT_CALLS=100000
fi
RTT_SIZE=64; PIPE_DEPTH=64; STREAM_SIZE=100
RUN_TIMEOUT=180

work=$(mktemp -d /tmp/hotline-compare.XXXXXX)
results="$work/results"   # lines: round impl workload key value
: > "$results"
declare -a live=()        # pids of servers this script started (stateless: ended with SIGKILL, which no
                          # inherited signal mask or ignored disposition can hold off)
started_epmd=0
cleanup() {
    for p in "${live[@]:-}"; do [[ -n "$p" ]] && kill -KILL "$p" 2>/dev/null; done
    for p in "${live[@]:-}"; do [[ -n "$p" ]] && wait "$p" 2>/dev/null; done
    if [[ $started_epmd == 1 ]] && command -v epmd >/dev/null; then epmd -kill >/dev/null 2>&1; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM

say() { echo "compare: $*" >&2; }
record() { [[ -n "${5:-}" ]] && echo "$1 $2 $3 $4 $5" >> "$results"; }   # round impl workload key value (numeric)

# ---- idle host --------------------------------------------------------------------------------------------
# Waits until the CPU was idle ≥ IDLE_MIN % over one second (at most IDLE_WAIT s); prints the last share seen.
cpu_sample() { awk '/^cpu /{ t=0; for (i=2;i<=9;i++) t+=$i; print t, $5+$6 }' /proc/stat; }
wait_idle() {
    local deadline=$((SECONDS + IDLE_WAIT)) t1 i1 t2 i2 share
    while :; do
        read -r t1 i1 < <(cpu_sample); sleep 1; read -r t2 i2 < <(cpu_sample)
        share=$(( (t2 - t1) > 0 ? 100 * (i2 - i1) / (t2 - t1) : 100 ))
        if (( share >= IDLE_MIN )); then echo "$share"; return; fi
        if (( SECONDS >= deadline )); then echo "$share"; return; fi
    done
}
not_idle=0
before_run() {   # round impl workload
    local share
    share=$(wait_idle)
    record "$1" "$2" "$3" idle_pct "$share"
    if (( share < IDLE_MIN )); then not_idle=$((not_idle + 1)); say "host not idle ($share % idle) before $2 $3, running anyway"; fi
}

# ---- builds -----------------------------------------------------------------------------------------------
# The static link of Foundation's networking (URLSession) needs libcurl.so, which only the -dev package has.
build_static_hotline() {
    (cd "$root" && swift build -c release --static-swift-stdlib --scratch-path "$root/.build-static" >&2) && return 0
    if [[ ! -e /usr/lib/x86_64-linux-gnu/libcurl.so && ! -e /usr/lib/aarch64-linux-gnu/libcurl.so ]] && command -v apt-get >/dev/null; then
        say "installing libcurl4-openssl-dev (apt-get) for the static link"
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libcurl4-openssl-dev) >&2 || say "apt-get failed"
        (cd "$root" && swift build -c release --static-swift-stdlib --scratch-path "$root/.build-static" >&2) && return 0
    fi
    return 1
}
if [[ -z "${HOTLINE_BIN:-}" ]]; then
    if [[ $SWIFT_STDLIB == static ]]; then
        say "building hotline (swift build -c release --static-swift-stdlib)"
        if build_static_hotline; then
            HOTLINE_BIN="$root/.build-static/release/hotline"
        else
            say "static build failed: building hotline with the dynamic Swift runtime instead"
            SWIFT_STDLIB=dynamic
        fi
    fi
    if [[ -z "${HOTLINE_BIN:-}" ]]; then
        say "building hotline (swift build -c release)"
        (cd "$root" && swift build -c release >&2) || { say "hotline build failed"; exit 1; }
        HOTLINE_BIN="$root/.build/release/hotline"
    fi
fi
[[ -x "$HOTLINE_BIN" ]] || { say "HOTLINE_BIN=$HOTLINE_BIN is not executable"; exit 1; }
# What the Hotline binary actually is (HOTLINE_BIN may be either): the anchor is built the same way.
if ldd "$HOTLINE_BIN" 2>/dev/null | grep -q libswiftCore; then SWIFT_STDLIB=dynamic; else SWIFT_STDLIB=static; fi
say "hotline: $HOTLINE_BIN (Swift runtime $SWIFT_STDLIB)"

C_BIN=""
if command -v gcc >/dev/null && gcc -O2 -o "$work/c-anchor" "$here/anchors/c/anchor.c"; then
    C_BIN="$work/c-anchor"
else
    say "C anchor unavailable (gcc missing or compile failed)"
fi

NIO_BIN=""
nio_dir="$here/anchors/nio"
say "building the SwiftNIO anchor, Swift runtime $SWIFT_STDLIB like Hotline (first time: a few minutes)"
if [[ $SWIFT_STDLIB == static ]]; then nio_flags=(--static-swift-stdlib --scratch-path "$nio_dir/.build-static")
else nio_flags=(--scratch-path "$nio_dir/.build"); fi
if (cd "$nio_dir" && swift build -c release "${nio_flags[@]}" >&2); then
    NIO_BIN="${nio_flags[-1]}/release/NIOAnchor"
else
    say "SwiftNIO anchor unavailable (build failed)"
fi

ERL_DIR=""
if ! command -v erl >/dev/null && [[ $ERLANG_INSTALL == 1 ]] && command -v apt-get >/dev/null; then
    say "installing erlang-base (apt-get)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq erlang-base) >&2 || say "apt-get failed"
fi
if command -v erl >/dev/null; then
    mkdir -p "$work/erl"
    if command -v erlc >/dev/null; then
        erlc -o "$work/erl" "$here/anchors/erlang/hanchor.erl" >&2 && ERL_DIR="$work/erl"
    else
        erl -noshell -eval "case compile:file(\"$here/anchors/erlang/hanchor\", [{outdir, \"$work/erl\"}]) of {ok,_} -> halt(0); _ -> halt(1) end." >&2 \
            && ERL_DIR="$work/erl"
    fi
    if [[ -n "$ERL_DIR" ]] && ! pgrep -x epmd >/dev/null; then started_epmd=1; fi
fi
[[ -n "$ERL_DIR" ]] || say "Erlang anchor unavailable (erl missing or compile failed)"

# ---- helpers ----------------------------------------------------------------------------------------------
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Drops the page cache of the given files (posix_fadvise DONTNEED through `dd iflag=nocache`; no root needed)
# before an idle-RSS reading, so that every process maps its code as read from disk, as after a reboot. A
# binary its linker (or dpkg) has just written sits in the cache in larger folios, which the kernel maps in
# larger pieces: measured +2 MB VmRSS per `hotline node` (Docs/performance.md, "Idle RSS").
evict_page_cache() { local f; for f in "$@"; do [[ -f $f ]] && sync "$f" && dd if="$f" iflag=nocache count=0 status=none; done; return 0; }
# Waits (≤ 20 s) until FILE has a line matching PATTERN.
wait_line() { local i; for ((i = 0; i < 200; i++)); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# Records every key=value of a RESULT line.
record_result() {   # round impl workload line
    local kv
    for kv in $4; do
        case "$kv" in RESULT|impl=*|workload=*) ;; *=*) record "$1" "$2" "$3" "${kv%%=*}" "${kv#*=}" ;; esac
    done
}
# Value of "key" : number in the "hotline" object of a `hotline bench --no-raw` JSON (the only such key there).
json_num() { sed -n "s/.*\"$1\" : \([0-9.e+-]*\).*/\1/p" "$2" | head -n 1; }

# A C or NIO anchor: server process, idle RSS, client, kill.
run_socket_anchor() {   # round impl bin workload count
    local r=$1 impl=$2 bin=$3 w=$4 n=$5 mode=echo size=$RTT_SIZE extra="" out="$work/$impl-server.out" sp line
    [[ $w == stream ]] && { mode=sink; size=$STREAM_SIZE; }
    [[ $w == pipeline ]] && extra=$PIPE_DEPTH
    : > "$out"
    [[ $w == rtt ]] && evict_page_cache "$bin"
    "$bin" server "$mode" "$n" > "$out" 2>&1 &
    sp=$!; live+=("$sp")
    if ! wait_line "$out" '^port '; then say "$impl server did not start: $(cat "$out")"; kill -KILL "$sp" 2>/dev/null; return; fi
    [[ $w == rtt ]] && { sleep 0.5; record "$r" "$impl" rss rss_kib "$(rss_kib "$sp")"; }
    line=$(timeout "$RUN_TIMEOUT" "$bin" client "$w" "$(awk '{print $2}' "$out")" "$n" "$size" $extra | grep '^RESULT')
    if [[ -n "$line" ]]; then record_result "$r" "$impl" "$w" "$line"; else say "$impl $w failed"; fi
    kill -KILL "$sp" 2>/dev/null; wait "$sp" 2>/dev/null
}

erl_seq=0
run_erlang() {   # round workload count
    local r=$1 w=$2 n=$3 out="$work/erl-server.out" sp line size=$RTT_SIZE extra="" sname cname
    [[ $w == stream ]] && size=$STREAM_SIZE
    [[ $w == pipeline ]] && extra=$PIPE_DEPTH
    erl_seq=$((erl_seq + 1))
    sname="hbs$$x$erl_seq@127.0.0.1"; cname="hbc$$x$erl_seq@127.0.0.1"
    : > "$out"
    [[ $w == rtt ]] && evict_page_cache /usr/lib/erlang/erts-*/bin/beam.smp
    erl -name "$sname" -setcookie hotlinebench -noshell -pa "$ERL_DIR" -eval 'hanchor:server()' > "$out" 2>&1 &
    sp=$!; live+=("$sp")
    if ! wait_line "$out" '^ready'; then say "Erlang server did not start: $(cat "$out")"; kill -KILL "$sp" 2>/dev/null; return; fi
    [[ $w == rtt ]] && { sleep 0.5; record "$r" erlang rss rss_kib "$(rss_kib "$sp")"; }
    line=$(timeout "$RUN_TIMEOUT" erl -name "$cname" -setcookie hotlinebench -noshell -pa "$ERL_DIR" \
        -s hanchor client "$w" "$sname" "$n" "$size" $extra | grep '^RESULT')
    if [[ -n "$line" ]]; then record_result "$r" erlang "$w" "$line"; else say "Erlang $w failed"; fi
    kill -KILL "$sp" 2>/dev/null; wait "$sp" 2>/dev/null
}

hotline_failed=0
run_hotline() {   # round workload
    local r=$1 w=$2 j="$work/hotline-$2.json" t0 t1 status
    case "$w" in
    rtt)      timeout "$RUN_TIMEOUT" "$HOTLINE_BIN" bench rtt --no-raw --inbound "$HOTLINE_INBOUND" --calls "$RTT_CALLS" --payload "$RTT_SIZE" > "$j" ;;
    pipeline) timeout "$RUN_TIMEOUT" "$HOTLINE_BIN" bench pipeline --no-raw --inbound "$HOTLINE_INBOUND" --calls "$PIPE_CALLS_H" --depth "$PIPE_DEPTH" --payload "$RTT_SIZE" > "$j" ;;
    stream)   timeout "$RUN_TIMEOUT" "$HOTLINE_BIN" bench stream --no-raw --inbound "$HOTLINE_INBOUND" --messages "$STREAM_H" --size "$STREAM_SIZE" > "$j" ;;
    fanout)   timeout "$RUN_TIMEOUT" "$HOTLINE_BIN" bench fanout --inbound "$HOTLINE_INBOUND" --calls "$FANOUT_CALLS" --peers 4 --depth 16 > "$j" ;;
    rss)      evict_page_cache "$HOTLINE_BIN"
              (cd "$root" && timeout "$RUN_TIMEOUT" "$HOTLINE_BIN" bench idle-rss --nodes 3 --settle-ms 3000) > "$j" ;;
    replay)
        t0=$(date +%s.%N)
        (cd "$root" && timeout 600 "$HOTLINE_BIN" replay --nodes 3 --inbound "$HOTLINE_INBOUND" --json) > "$j" 2> "$work/replay.err"
        status=$?; t1=$(date +%s.%N)
        if [[ $status == 0 ]]; then
            record "$r" hotline replay wall_s "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')"
            record "$r" hotline replay cluster_s "$(json_num seconds "$j")"
        else
            say "hotline replay exited $status: $(tail -n 3 "$work/replay.err")"; hotline_failed=1
        fi
        return ;;
    esac
    status=$?
    if [[ $status != 0 ]]; then say "hotline bench $w exited $status"; hotline_failed=1; return; fi
    case "$w" in
    rtt)      for k in median_us p99_us p999_us; do record "$r" hotline rtt "$k" "$(json_num "$k" "$j")"; done ;;
    pipeline) record "$r" hotline pipeline calls_per_s "$(json_num calls_per_s "$j")" ;;
    stream)   record "$r" hotline stream messages_per_s "$(json_num messages_per_s "$j")" ;;
    fanout)   for k in calls_per_s median_us p99_us; do record "$r" hotline fanout "$k" "$(json_num "$k" "$j")"; done ;;
    rss)      record "$r" hotline rss rss_kib "$(awk -v m="$(json_num max_rss_mb "$j")" 'BEGIN{printf "%d", m*1024}')" ;;
    esac
}

run_one() {   # round impl workload
    local r=$1 impl=$2 w=$3 n
    case "$impl" in
    hotline) before_run "$r" hotline "$w"; run_hotline "$r" "$w" ;;
    c)   [[ -n "$C_BIN" ]] || return
         case "$w" in rtt) n=$RTT_CALLS ;; pipeline) n=$PIPE_CALLS_C ;; stream) n=$STREAM_C ;; esac
         before_run "$r" c "$w"; run_socket_anchor "$r" c "$C_BIN" "$w" "$n" ;;
    nio) [[ -n "$NIO_BIN" ]] || return
         case "$w" in rtt) n=$RTT_CALLS ;; pipeline) n=$PIPE_CALLS_N ;; stream) n=$STREAM_N ;; esac
         before_run "$r" nio "$w"; run_socket_anchor "$r" nio "$NIO_BIN" "$w" "$n" ;;
    erlang) [[ -n "$ERL_DIR" ]] || return
         case "$w" in rtt) n=$RTT_CALLS ;; pipeline) n=$PIPE_CALLS_E ;; stream) n=$STREAM_E ;; esac
         before_run "$r" erlang "$w"; run_erlang "$r" "$w" "$n" ;;
    esac
}

# ---- rounds -----------------------------------------------------------------------------------------------
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for ((r = 1; r <= ROUNDS; r++)); do
    if (( r % 2 == 1 )); then order="hotline c nio erlang"; else order="erlang nio c hotline"; fi
    for w in rtt pipeline stream; do
        for impl in $order; do say "round $r/$ROUNDS: $impl $w"; run_one "$r" "$impl" "$w"; done
    done
    say "round $r/$ROUNDS: hotline fanout"; run_one "$r" hotline fanout
    say "round $r/$ROUNDS: hotline idle rss"; run_one "$r" hotline rss
    if [[ $REPLAY == 1 ]]; then say "round $r/$ROUNDS: hotline replay (3 nodes, bundled trace)"; run_one "$r" hotline replay; fi
done

# ---- table and JSON ---------------------------------------------------------------------------------------
machine="$(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
cpu_model=$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)
mkdir -p "$(dirname "$OUT")"
awk -v rounds="$ROUNDS" -v quick="$QUICK" -v machine="$machine" -v cpu="$cpu_model" -v started="$started" \
    -v not_idle="$not_idle" -v idle_min="$IDLE_MIN" -v json="$OUT" -v inbound="$HOTLINE_INBOUND" -v stdlib="$SWIFT_STDLIB" \
    -v anchors="c=${C_BIN:+yes} nio=${NIO_BIN:+yes} erlang=${ERL_DIR:+yes}" '
function median(key,   n, i, j, t, a) {
    n = cnt[key]; if (n == 0) return "";
    for (i = 1; i <= n; i++) a[i] = vals[key, i];
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function m(impl, w, k) { return median(impl SUBSEP w SUBSEP k) }
function fmt(v) { if (v == "") return "—"; if (v >= 1000) return sprintf("%.0f", v); return sprintf("%.1f", v) }
function row(w, metric, k, scale) {
    printf "%-9s %-22s %12s %12s %12s %12s\n", w, metric, fmt(sc(m("hotline", w, k), scale)), fmt(sc(m("c", w, k), scale)),
        fmt(sc(m("nio", w, k), scale)), fmt(sc(m("erlang", w, k), scale))
    jm = jm sprintf("%s\n    {\"workload\": \"%s\", \"metric\": \"%s\", \"hotline\": %s, \"c\": %s, \"nio\": %s, \"erlang\": %s}",
        (jm == "" ? "" : ","), w, metric, jv(sc(m("hotline", w, k), scale)), jv(sc(m("c", w, k), scale)),
        jv(sc(m("nio", w, k), scale)), jv(sc(m("erlang", w, k), scale)))
}
function sc(v, s) { return (v == "" ? "" : v * s) }
function jv(v) { return (v == "" ? "null" : sprintf("%.6g", v)) }
# A target: value = a / b (or a alone when b is 1), holds when value OP limit.
function target(name, a, b, op, limit, shown,   v, ok) {
    if (a == "" || b == "" || b == 0) { v = ""; ok = "n/a" }
    else { v = a / b; ok = ((op == "<=" && v <= limit) || (op == "<" && v < limit) || (op == ">=" && v >= limit)) ? "yes" : "no" }
    printf "  %-44s %10s   %-14s %s\n", name, (v == "" ? "—" : sprintf("%.2f", v)), shown, ok
    if (ok == "yes") held++; total++
    jt = jt sprintf("%s\n    {\"target\": \"%s\", \"value\": %s, \"goal\": \"%s\", \"holds\": %s}", (jt == "" ? "" : ","),
        name, jv(v), shown, (ok == "yes" ? "true" : (ok == "no" ? "false" : "null")))
}
{ key = $2 SUBSEP $3 SUBSEP $4; cnt[key]++; vals[key, cnt[key]] = $5
  runs = runs sprintf("%s\n    {\"round\": %d, \"impl\": \"%s\", \"workload\": \"%s\", \"key\": \"%s\", \"value\": %s}",
      (runs == "" ? "" : ","), $1, $2, $3, $4, $5) }
END {
    printf "\nHotline (--inbound %s, Swift runtime %s) vs anchors — medians of %d round(s)%s; %s; %s\n", inbound, stdlib, rounds, (quick == 1 ? " (QUICK)" : ""), machine, started
    printf "%-9s %-22s %12s %12s %12s %12s\n", "workload", "metric", "hotline", "C", "NIO", "Erlang"
    row("rtt", "median µs", "median_us", 1); row("rtt", "p99 µs", "p99_us", 1); row("rtt", "p99.9 µs", "p999_us", 1)
    row("pipeline", "calls/s (64 outst.)", "calls_per_s", 1)
    row("stream", "msgs/s (100 B, rcv)", "messages_per_s", 1)
    row("fanout", "calls/s (4 peers)", "calls_per_s", 1); row("fanout", "gather median µs", "median_us", 1)
    row("replay", "wall s (3 nodes)", "wall_s", 1)
    row("rss", "idle MB per node", "rss_kib", 1 / 1024)
    printf "\n  %-44s %10s   %-14s %s\n", "target (ratio of medians)", "value", "goal", "holds?"
    target("rtt: hotline / C median", m("hotline", "rtt", "median_us"), m("c", "rtt", "median_us"), "<=", 1.3, "<= 1.3")
    target("rtt: hotline / NIO median", m("hotline", "rtt", "median_us"), m("nio", "rtt", "median_us"), "<", 1, "< 1")
    target("rtt: hotline / Erlang median", m("hotline", "rtt", "median_us"), m("erlang", "rtt", "median_us"), "<", 1, "< 1")
    target("pipeline: hotline / NIO calls/s", m("hotline", "pipeline", "calls_per_s"), m("nio", "pipeline", "calls_per_s"), ">=", 1, ">= 1")
    target("pipeline: hotline / Erlang calls/s", m("hotline", "pipeline", "calls_per_s"), m("erlang", "pipeline", "calls_per_s"), ">=", 5, ">= 5")
    target("stream: hotline / NIO msgs/s", m("hotline", "stream", "messages_per_s"), m("nio", "stream", "messages_per_s"), ">=", 1.3, ">= 1.3")
    target("stream: hotline / Erlang msgs/s", m("hotline", "stream", "messages_per_s"), m("erlang", "stream", "messages_per_s"), ">=", 3, ">= 3")
    target("replay: wall seconds, 3 nodes", m("hotline", "replay", "wall_s"), 1, "<=", 10, "<= 10 s")
    r = m("hotline", "rss", "rss_kib"); target("idle RSS: MB per node (max of 3)", (r == "" ? "" : r / 1024), 1, "<=", 30, "<= 30 MB")
    printf "\n  %d of %d targets hold; %d run(s) started on a host below %d %% idle; anchors: %s\n", held, total, not_idle, idle_min, anchors
    printf "  JSON: %s\n", json
    printf "{\n  \"started\": \"%s\",\n  \"machine\": \"%s\",\n  \"cpu\": \"%s\",\n  \"hotline_inbound\": \"%s\",\n  \"swift_stdlib\": \"%s\",\n  \"rounds\": %d,\n  \"quick\": %s,\n  \"runs_below_idle\": %d,\n  \"medians\": [%s\n  ],\n  \"targets\": [%s\n  ],\n  \"targets_held\": %d,\n  \"targets_total\": %d,\n  \"runs\": [%s\n  ]\n}\n", \
        started, machine, cpu, inbound, stdlib, rounds, (quick == 1 ? "true" : "false"), not_idle, jm, jt, held, total, runs > json
}' "$results"
exit $hotline_failed
