#!/usr/bin/env bash
# Chaos against a running local Hotline cluster, for operators: between rounds of citizen requests it SIGKILLs
# and restarts one node, a minority at once, pauses one (SIGSTOP/SIGCONT), or kills and restarts every node
# (a power loss), then checks that every acknowledged request is a case, found by its number with the same id,
# and that no number was given twice. Seeded: the seed is printed and `--seed S` replays the same choices.
#
# The nodes must be `hotline node` processes on this machine, started with a fixed `--listen HOST:PORT`
# (not port 0), `--data DIR` and `--catalog` (see Docs/operations.md); the script finds them in /proc and
# restarts each with its own command line, working directory and environment-free (stdout/stderr to
# chaos-<pid>.log in --log-dir). Nodes with `--admin` are waited for on `/ready`; others by a request.
#
# usage: Deploy/chaos.sh [--rounds N] [--seed S] [--requests-per-round K] [--pause-seconds P]
#                        [--jurisdictions 210302,210303] [--category heating-failure] [--log-dir DIR]
#                        [--match TEXT]   only node processes whose command line contains TEXT (e.g. a data root)
# Exit 0: nothing lost; 1: a lost, duplicated or mismatched case (listed); 2: bad flags or no cluster found.
set -u
set -o pipefail

rounds=5
seed=""
per_round=10
pause=3
jurisdictions="210302,210303,210304,210311"
category="heating-failure"
log_dir="${TMPDIR:-/tmp}/hotline-chaos"
match=""

die() { echo "chaos: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="${2:?}"; shift 2 ;;
        --seed) seed="${2:?}"; shift 2 ;;
        --requests-per-round) per_round="${2:?}"; shift 2 ;;
        --pause-seconds) pause="${2:?}"; shift 2 ;;
        --jurisdictions) jurisdictions="${2:?}"; shift 2 ;;
        --category) category="${2:?}"; shift 2 ;;
        --log-dir) log_dir="${2:?}"; shift 2 ;;
        --match) match="${2:?}"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown flag $1 (see --help)" ;;
    esac
done
for n in "$rounds" "$per_round" "$pause"; do
    [[ "$n" =~ ^[0-9]+$ ]] || die "expected a whole number, got \"$n\""
done
[ -z "$seed" ] && seed=$(( (RANDOM << 15) | RANDOM ))
[[ "$seed" =~ ^[0-9]+$ ]] || die "--seed must be a whole number"
RANDOM=$seed
mkdir -p "$log_dir" || die "cannot create --log-dir $log_dir"
echo "chaos: seed $seed (replay with --seed $seed), $rounds rounds, $per_round requests per round"

# --- The cluster: pid, binary, cwd and argv of every `hotline node` process --------------------------------
declare -a pids=() exes=() cwds=() argvs=() listens=() admins=() tokens=()
arg_after() { # arg_after FLAG ARGS... → the value after FLAG
    local flag="$1"; shift
    while [ $# -gt 0 ]; do [ "$1" = "$flag" ] && { echo "${2:-}"; return; }; shift; done
}
for dir in /proc/[0-9]*; do
    pid="${dir#/proc/}"
    [ -r "$dir/cmdline" ] || continue
    mapfile -d '' argv < "$dir/cmdline" 2>/dev/null || continue
    [ "${#argv[@]}" -ge 2 ] || continue
    [[ "$(basename "${argv[0]}")" == hotline && "${argv[1]}" == node ]] || continue
    [ -z "$match" ] || [[ "${argv[*]}" == *"$match"* ]] || continue
    [ "$(cut -d' ' -f3 "$dir/stat" 2>/dev/null)" = "T" ] && die "node $pid is stopped: SIGCONT it first"
    listen=$(arg_after --listen "${argv[@]}")
    [ -n "$listen" ] && [ "${listen##*:}" != "0" ] || die "node $pid has no fixed --listen HOST:PORT: it could not be restarted on its address"
    [ -n "$(arg_after --data "${argv[@]}")" ] || die "node $pid runs without --data: a restart would lose its replicas"
    pids+=("$pid"); exes+=("$(readlink "$dir/exe")"); cwds+=("$(readlink "$dir/cwd")")
    argvs+=("$(printf '%q ' "${argv[@]:1}")"); listens+=("$listen"); admins+=("$(arg_after --admin "${argv[@]}")")
    # An admin port 0 moves on every restart: such a node is waited for by a request instead.
    [[ "${admins[-1]}" == *:0 ]] && admins[-1]=""
    token=$(arg_after --admin-token-file "${argv[@]}")
    [ -n "$token" ] && [ "${token:0:1}" != / ] && token="$(readlink "$dir/cwd")/$token"
    tokens+=("$token")
done
count=${#pids[@]}
[ "$count" -ge 3 ] || die "found $count hotline node processes with fixed --listen and --data; need at least 3"
hotline="${exes[0]}"
secret=$(eval "arg_after --secret-file ${argvs[0]}")
[ -n "$secret" ] && [ "${secret:0:1}" != / ] && secret="${cwds[0]}/$secret"
auth=()
[ -n "$secret" ] && auth=(--secret-file "$secret")
echo "chaos: $count nodes: ${listens[*]}"

restart() { # restart K: start node K again with its own command line, in its own session, output to a log
    local k=$1
    # Descriptors above 2 are closed first: the node outlives this script and must not hold its caller's pipes.
    ( for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done
      cd "${cwds[$k]}" && eval "exec setsid \"${exes[$k]}\" ${argvs[$k]}" ) >"$log_dir/chaos-node-$k.log" 2>&1 < /dev/null &
    pids[$k]=$!
}

ready() { # ready K: node K's /ready answers 200 (with --admin and curl), else a request through it is accepted
    local k=$1
    if [ -n "${admins[$k]}" ] && command -v curl >/dev/null; then
        local header=()
        [ -n "${tokens[$k]}" ] && header=(-H "Authorization: Bearer $(cat "${tokens[$k]}")")
        curl -fs -o /dev/null --max-time 2 "${header[@]}" "http://${admins[$k]}/ready"
        return
    fi
    "$hotline" submit --node "${listens[$k]}" "${auth[@]}" --category "$category" \
        --jurisdiction "${jurisdictions%%,*}" --external-id "chaos-$seed-probe-$k" --channel chaos \
        --description "chaos probe" >/dev/null 2>&1
}

wait_all_ready() { # bounded: 90 s
    local deadline=$((SECONDS + 90)) k
    for k in $(seq 0 $((count - 1))); do
        until ready "$k"; do
            [ $SECONDS -lt $deadline ] || { echo "chaos: node ${listens[$k]} not ready within 90 s" >&2; return 1; }
            sleep 0.2
        done
    done
}

IFS=',' read -r -a districts <<< "$jurisdictions"
receipts="$log_dir/receipts-$seed.tsv"    # external id, case id, number
: > "$receipts"
queued=0
submitted=0
submit_round() { # submit_round R: per_round requests through random nodes (some repeated)
    local r=$1 i j k ext out
    for i in $(seq 1 "$per_round"); do
        k=$((RANDOM % count))
        ext="chaos-$seed-$r-$i"
        j=$i
        # Every fourth request repeats the one before it — the same request, fields and all, as a caller's
        # retry is — through whichever node: it must give the same case.
        if [ $((i % 4)) = 0 ]; then j=$((i - 1)); ext="chaos-$seed-$r-$j"; fi
        # Bounded: a node restarting may refuse or be unreachable for a moment; 30 tries 0.5 s apart.
        for _ in $(seq 1 30); do
            out=$("$hotline" submit --node "${listens[$k]}" "${auth[@]}" --category "$category" \
                --jurisdiction "${districts[$((j % ${#districts[@]}))]}" --external-id "$ext" --channel chaos \
                --description "chaos round $r request $j" 2>/dev/null) && break
            out=""
            k=$(((k + 1) % count))
            sleep 0.5
        done
        submitted=$((submitted + 1))
        if [ -z "$out" ]; then echo "chaos: request $ext not taken by any node (counted as not acknowledged)"; continue; fi
        if grep -q '"queued"' <<< "$out"; then queued=$((queued + 1)); continue; fi
        local id number
        id=$(grep -o '"id" : "[^"]*"' <<< "$out" | head -1 | cut -d'"' -f4)
        number=$(grep -o '"number" : "[^"]*"' <<< "$out" | head -1 | cut -d'"' -f4)
        printf '%s\t%s\t%s\n' "$ext" "$id" "$number" >> "$receipts"
    done
}

kills=0; pauses=0; powerlosses=0
for r in $(seq 1 "$rounds"); do
    submit_round "$r"
    action=$((RANDOM % 4))
    case $action in
        0) k=$((RANDOM % count)); echo "chaos: round $r: SIGKILL ${listens[$k]} and restart"
           kill -9 "${pids[$k]}" 2>/dev/null; sleep 0.5; restart "$k"; kills=$((kills + 1)) ;;
        1) minority=$(((count - 1) / 2)); echo "chaos: round $r: SIGKILL a minority of $minority at once and restart"
           chosen=$(seq 0 $((count - 1)) | shuf --random-source=<(yes "$seed$r") | head -n "$minority")
           for k in $chosen; do kill -9 "${pids[$k]}" 2>/dev/null; done; sleep 0.5
           for k in $chosen; do restart "$k"; kills=$((kills + 1)); done ;;
        2) k=$((RANDOM % count)); echo "chaos: round $r: SIGSTOP ${listens[$k]} for ${pause} s"
           kill -STOP "${pids[$k]}"; sleep "$pause"; kill -CONT "${pids[$k]}"; pauses=$((pauses + 1)) ;;
        3) echo "chaos: round $r: power loss (SIGKILL every node) and restart"
           for k in $(seq 0 $((count - 1))); do kill -9 "${pids[$k]}" 2>/dev/null; done; sleep 0.5
           for k in $(seq 0 $((count - 1))); do restart "$k"; done; powerlosses=$((powerlosses + 1)) ;;
    esac
    wait_all_ready || { echo "chaos: seed $seed: cluster not ready after round $r" >&2; exit 1; }
done
submit_round final

# --- Check: every acknowledged request is its case, found by number, numbers unique, repeats the same case --
lost=0; mismatched=0
while IFS=$'\t' read -r ext id number; do
    out=""
    for _ in $(seq 1 20); do
        out=$("$hotline" case "$number" --node "${listens[$((RANDOM % count))]}" "${auth[@]}" 2>/dev/null) && break
        out=""; sleep 0.5
    done
    if [ -z "$out" ]; then echo "LOST: $ext → case $number ($id) not found"; lost=$((lost + 1)); continue; fi
    grep -q "\"$id\"" <<< "$out" || { echo "MISMATCH: case $number is not $id"; mismatched=$((mismatched + 1)); }
done < "$receipts"
duplicated_numbers=$(cut -f2,3 "$receipts" | sort -u | cut -f2 | sort | uniq -d | wc -l)
repeats_split=$(cut -f1,2 "$receipts" | sort -u | cut -f1 | sort | uniq -d | wc -l)
acknowledged=$(wc -l < "$receipts")
echo "chaos: seed $seed: $submitted submitted, $acknowledged acknowledged receipts, $queued queued; $kills kills, $pauses pauses, $powerlosses power losses"
echo "chaos: lost $lost, mismatched $mismatched, numbers given to two cases $duplicated_numbers, repeated requests that became two cases $repeats_split"
[ "$lost" = 0 ] && [ "$mismatched" = 0 ] && [ "$duplicated_numbers" = 0 ] && [ "$repeats_split" = 0 ] || exit 1
echo "chaos: ok"
