#!/usr/bin/env bash
# The test suite under AddressSanitizer and ThreadSanitizer (issue 9), each in its own build folder.
# Debug builds (sanitizers want -Onone stacks); the heavy golden comparisons still run, so allow
# ~20 minutes per sanitizer on 2 cores.
#   bash tools/sanitizers.sh            # both
#   bash tools/sanitizers.sh thread     # one
set -euo pipefail
cd "$(dirname "$0")/.."
# Leaks inside the toolchain's libraries are suppressed (tools/lsan.supp says which and why); the
# CLI processes the tests start inherit the same options.
export LSAN_OPTIONS="suppressions=$PWD/tools/lsan.supp:print_suppressions=0"
for s in ${*:-address thread}; do
  export EDGE_SEG_SANITIZER=$s   # MemoryScalingTests skips its RSS figures: they include the shadow memory
  echo "== swift test --sanitize=$s"
  swift test --sanitize="$s" --build-path ".build-$s" 2>&1 | tee ".build-$s.log" | grep -E "^(✔|✘) (Suite|Test run)|ERROR: |WARNING: ThreadSanitizer|SUMMARY" | tail -n 40
  if grep -qE "ERROR: AddressSanitizer|WARNING: ThreadSanitizer|LeakSanitizer" ".build-$s.log"; then
    echo "$s: sanitizer reports above (full log: .build-$s.log)"; exit 1
  fi
  grep -q "Test run with .* passed" ".build-$s.log" || { echo "$s: tests failed (.build-$s.log)"; exit 1; }
done
