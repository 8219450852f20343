#!/usr/bin/env bash
# Builds the libFuzzer harness (fuzz/Harness) with AddressSanitizer and runs each target for SECONDS
# (default 60; 0 = no time limit), stopping earlier after N executions with FUZZ_RUNS=N. Seeds: fuzz/corpus/TARGET (committed); new
# inputs go to .fuzz-work/TARGET; crashes to fuzz/crashes/ (commit them: Tests replay that folder).
#
#   bash fuzz/run.sh 3600                 # every target, an hour each
#   FUZZ_RUNS=10000000 bash fuzz/run.sh 3600 png jpeg   # 10 M executions or an hour, whichever first
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=${*:-png jpeg image safetensors config modelfile}
# swiftc -sanitize=fuzzer links libFuzzer but instruments no module for coverage by itself (measured:
# 324 counters, all in libFuzzer glue): ask for edge coverage with inline counters and comparison tracing.
swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -DFUZZING \
  -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,pc-table,trace-cmp --product fuzz --build-path .build-fuzz
bin=.build-fuzz/release/fuzz
# Measured 2026-11-25: relinks after an incremental rebuild twice gave a binary with 24,077 coverage
# counters instead of ~52,300 (modelfile seeds: cov 670 instead of 1145) and weaker fuzzing; clean
# builds gave the full count. The cause is not known, so the count is checked.
counters=$(EDGE_SEG_FUZZ=png "$bin" -runs=0 fuzz/corpus/png 2>&1 | sed -n 's/.*(\([0-9]*\) inline 8-bit counters).*/\1/p' | head -n 1)
echo "coverage counters: ${counters:-unknown}"
if [ "${counters:-0}" -lt 40000 ]; then
  echo "fewer coverage counters than a clean build has: run 'rm -rf .build-fuzz' and this script again" >&2
  exit 1
fi
mkdir -p fuzz/crashes
for t in $targets; do
  mkdir -p ".fuzz-work/$t"
  limit=(-max_total_time="$secs")
  if [ -n "${FUZZ_RUNS:-}" ]; then limit+=(-runs="$FUZZ_RUNS"); fi
  echo "== $t"
  EDGE_SEG_FUZZ=$t "$bin" ".fuzz-work/$t" "fuzz/corpus/$t" "${limit[@]}" -rss_limit_mb=2048 -timeout=25 \
    -artifact_prefix="fuzz/crashes/$t-" -print_final_stats=1 2>&1 | tee ".fuzz-work/$t.log" | grep -E "^#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|stat::peak_rss|cov:|ERROR|SUMMARY" | tail -n 6
done
