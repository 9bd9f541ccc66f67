#!/usr/bin/env bash
# Builds the libFuzzer harness for the wire layer (Sources/WireFuzz) and runs it for a bounded time.
#
#   Tests/Fuzz/run.sh [seconds]          fuzz for SECONDS (default 60), starting from corpus/
#   Tests/Fuzz/run.sh --corpus           regenerate corpus/ from the real encoders, then exit
#   Tests/Fuzz/run.sh --replay FILE...   run the harness once on each FILE (e.g. a saved crash)
#
# FUZZ_ARGS adds libFuzzer flags (later flags win), e.g. FUZZ_ARGS="-seed=1234" to replay a run.
# Exit status: 0 when the run ends without a crash; non-zero on a crash (the input is saved under crashes/),
# a build failure or a missing fuzzer runtime. Prints the number of executions. Needs the libFuzzer runtime
# (libclang_rt.fuzzer, shipped with the swift.org Linux toolchain); FUZZ_INSTALL=1 lets it try apt-get for
# Debian's libclang-rt-dev when the toolchain lacks it.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/opt/swift/usr/bin:$PATH"
here=$(pwd)
scratch="$here/.build-fuzz"

# The fuzzer runtime: with the Swift toolchain's clang, or Debian's.
swift_root=$(dirname "$(dirname "$(command -v swift)")")
runtime() { find "$swift_root/lib" /usr/lib/llvm-* /usr/lib/clang -name 'libclang_rt.fuzzer_no_main-x86_64.a' \
    -o -name 'libclang_rt.fuzzer_no_main.a' 2>/dev/null | head -n 1; }
if [[ -z "$(runtime)" ]]; then
    if [[ "${FUZZ_INSTALL:-0}" == 1 ]] && command -v apt-get >/dev/null; then
        echo "fuzz: libFuzzer runtime not found; installing libclang-rt-dev" >&2
        (apt-get update -qq && apt-get install -y -qq libclang-rt-dev) >&2 || true
    fi
    if [[ -z "$(runtime)" ]]; then
        echo "FUZZ ERROR: libFuzzer runtime (libclang_rt.fuzzer) not found under $swift_root/lib or /usr/lib;" \
             "install a swift.org toolchain or Debian's libclang-rt-dev (FUZZ_INSTALL=1 tries apt-get)" >&2
        exit 3
    fi
fi

start=$(date +%s)
# -c debug: the harness uses `@testable import ActorCluster`, which needs -enable-testing (debug only).
swift build -c debug --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld \
    2> >(grep -v "Cannot export local symbol" >&2)
bin="$scratch/debug/WireFuzz"
echo "fuzz: harness built in $(( $(date +%s) - start )) s"

case "${1:-}" in
--corpus)
    rm -rf corpus
    HOTLINE_FUZZ_WRITE_CORPUS="$here/corpus" SWIFT_DETERMINISTIC_HASHING=1 "$bin"
    exit 0
    ;;
--replay)
    shift
    exec "$bin" -runs=1 "$@"
    ;;
esac

seconds="${1:-60}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p crashes
log="$work/fuzz.log"
# The checked-in corpus is read-only input; new units go to the scratch directory. -rss_limit_mb and
# -timeout turn a memory blow-up or a hang on one input into a crash too.
status=0
"$bin" "$work" "$here/corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=4096 \
    -artifact_prefix="$here/crashes/" -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1 || status=$?
grep -E "^(==|SUMMARY|INFO: (Seed|seed)|Fatal|.*invariant broken|artifact_prefix|Test unit written|Done )|stat::" "$log" || true
execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -n 1)
if [[ $status -ne 0 ]]; then
    tail -n 60 "$log" >&2
    echo "FUZZ FAILED: exit $status after ${execs:-?} executions; reproducer in Tests/Fuzz/crashes/ (run.sh --replay FILE)" >&2
    exit 1
fi
echo "fuzz: ${execs:-?} executions in ${seconds} s, no crash"
