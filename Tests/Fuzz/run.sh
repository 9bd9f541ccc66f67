#!/usr/bin/env bash
# Builds the libFuzzer harness for the wire layer (Sources/WireFuzz) and runs it for a bounded time.
#
#   Tests/Fuzz/run.sh [seconds]          fuzz for SECONDS (default 60), starting from corpus/
#   Tests/Fuzz/run.sh --corpus           regenerate corpus/ from the real encoders, then exit
#   Tests/Fuzz/run.sh --replay FILE...   run the harness once on each FILE (e.g. a saved crash)
#
# FUZZ_ARGS adds libFuzzer flags (later flags win), e.g. FUZZ_ARGS="-seed=1234" to replay a run.
# Exit status: 0 when the run ends without a crash; non-zero on a crash (the input is saved under crashes/),
# a build failure or (exit 3) a missing fuzzer runtime. Prints the number of executions. Needs the libFuzzer
# and ASan runtimes (libclang_rt.fuzzer/asan, shipped with the swift.org Linux toolchain); FUZZ_INSTALL=1 lets
# it try apt-get for Debian's libclang-rt-<llvm major>-dev when the toolchain lacks them.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="/opt/swift/usr/bin:$PATH"
here=$(pwd)
scratch="$here/.build-fuzz"

# The fuzzer and address-sanitizer runtimes, where swiftc links them from: the toolchain's clang resource
# directory (the swift.org Linux toolchains ship them). When they are missing, FUZZ_INSTALL=1 installs
# Debian's compiler-rt of the same LLVM major version and links its archives there; otherwise this fails.
swift_root=${FUZZ_TOOLCHAIN_ROOT:-$(dirname "$(dirname "$(command -v swift)")")}
rt_dir=$(ls -d "$swift_root"/lib/clang/*/lib/linux 2>/dev/null | head -n 1 || true)
have_runtime() { [[ -n "$rt_dir" && -f "$rt_dir/libclang_rt.fuzzer-x86_64.a" && -f "$rt_dir/libclang_rt.asan-x86_64.a" ]]; }
if ! have_runtime; then
    echo "fuzz: libFuzzer/ASan runtime not found in the toolchain (${rt_dir:-no clang resource dir under $swift_root/lib})" >&2
    if [[ "${FUZZ_INSTALL:-0}" == 1 && -n "$rt_dir" ]] && command -v apt-get >/dev/null; then
        major=$(basename "$(dirname "$(dirname "$rt_dir")")")
        echo "fuzz: installing libclang-rt-$major-dev (LLVM $major, as the toolchain's clang)" >&2
        if (apt-get update -qq && apt-get install -y -qq "libclang-rt-$major-dev") >&2; then
            for f in /usr/lib/llvm-"$major"/lib/clang/"$major"/lib/linux/libclang_rt.{fuzzer,fuzzer_no_main,fuzzer_interceptors,asan,asan_static,asan_cxx}-x86_64.a; do
                if [[ -f "$f" ]]; then ln -sf "$f" "$rt_dir/"; fi
            done
        fi
    fi
    if ! have_runtime; then
        echo "FUZZ ERROR: libclang_rt.fuzzer / libclang_rt.asan are missing from $swift_root and could not be" \
             "installed (FUZZ_INSTALL=1 tries apt-get libclang-rt-<llvm major>-dev); use a swift.org toolchain" >&2
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
