#!/usr/bin/env bash
# Issue 19: `edge-seg run --frames` makes no heap allocation per frame in the steady state. Counts every
# malloc/calloc/realloc/posix_memalign of the release CLI (tools/malloc-count, LD_PRELOAD) over a 10-frame and a
# 30-frame run of the same generated 640x480 video (ffmpeg's testsrc), for the three tasks and for overlay frames,
# and fails when the 20 extra frames allocate more than a few times (one-time growth of a worker thread's scratch
# may land in any frame; an allocation per frame would add 20 or more). Needs cc and ffmpeg (skips without).
# CI runs it after the tests (.ci/run); by hand: bash tools/malloc-count/frames-check.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in cc ffmpeg; do
  command -v "$tool" >/dev/null || { echo "frames-check: skipped, no $tool"; exit 0; }
done
swift build -c release --product edge-seg >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -shared -fPIC -o "$work/mc.so" tools/malloc-count/malloc_count.c -ldl
for n in 10 30; do
  ffmpeg -loglevel error -f lavfi -i testsrc=size=640x480:rate=10 -frames:v $n -f rawvideo -pix_fmt rgb24 - > "$work/f$n.raw"
done
count() {   # frames, then run's options: the total the counter prints at exit
  local n=$1; shift
  LD_PRELOAD="$work/mc.so" .build/release/edge-seg run Models/shapes/model.int8.eseg --frames 640x480 - "$@" < "$work/f$n.raw" 2>&1 >/dev/null \
    | sed -n 's/^malloc-count: total //p' | tail -1
}
status=0
for opts in "--task panoptic" "--task semantic" "--task instance" "--overlay-frames -"; do
  a=$(count 10 $opts) b=$(count 30 $opts)
  extra=$(( b - a ))
  echo "frames-check: $opts: $a allocations over 10 frames, $b over 30: $extra in the last 20 frames"
  if [ "$extra" -gt 4 ]; then echo "frames-check: FAILED: $opts allocates per frame"; status=1; fi
done
exit $status
