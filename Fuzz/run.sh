#!/usr/bin/env bash
# Builds RNNKit's libFuzzer targets (the RNNKit library instrumented too: SwiftPM's --sanitize only
# reaches the root package, -Xswiftc reaches every module) and runs each for SECONDS (default 600) on a copy of its
# committed corpus. New interesting inputs stay in Fuzz/.work/; a crash is saved under
# Fuzz/Crashes/TARGET/ (commit it: the test suite replays every file there) and fails the script.
#
#   bash Fuzz/run.sh [SECONDS] [TARGET...]      e.g. bash Fuzz/run.sh 60 FuzzIDX
#   bash Fuzz/run.sh merge [TARGET...]          fold what the runs found into Corpus/ (inputs that add coverage)
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzIDX FuzzSafeTensors FuzzCheckpoint FuzzText FuzzTS FuzzNumPy FuzzCSV FuzzForecast FuzzPairs FuzzLexicon)
if [ "$seconds" = merge ]; then
    export ASAN_OPTIONS=detect_leaks=0
    for target in "${targets[@]}"; do
        ".build/release/$target" -merge=1 -max_len=65536 "Corpus/$target" ".work/$target" 2>&1 | grep -E "MERGE-OUTER: [0-9]+ new files" || true
    done
    exit 0
fi
swift build -c release --build-path .build --sanitize fuzzer --sanitize address -Xswiftc -sanitize=fuzzer,address
export SWIFT_BACKTRACE=enable=no  # libFuzzer reports the crash itself
export ASAN_OPTIONS=detect_leaks=0  # Foundation keeps caches alive until exit, which LeakSanitizer reports
failed=0
for target in "${targets[@]}"; do
    mkdir -p ".work/$target" "Crashes/$target"
    echo "== $target: ${seconds}s from $(ls "Corpus/$target" | wc -l) corpus files"
    if ! ".build/release/$target" -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=20 -max_len=65536 \
            -artifact_prefix="Crashes/$target/" -print_final_stats=1 ".work/$target" "Corpus/$target" 2>".work/$target.log"; then
        failed=1
        tail -40 ".work/$target.log"
    fi
    grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done)" ".work/$target.log" || tail -3 ".work/$target.log"
done
exit $failed
