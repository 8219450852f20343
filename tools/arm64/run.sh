#!/usr/bin/env bash
# Builds (and optionally tests) this repository's HEAD as arm64 inside the rootfs that
# tools/arm64/setup-rootfs.sh made, under qemu-user-static. Emulation proves correctness, not speed.
#   bash tools/arm64/run.sh [ROOTFS] [build|test|test-release|tiers] [extra swift arguments...]
# build: release build. test: `swift test` (debug). test-release: the tests built in release (no
# @testable imports here, so they build as they are) and run, with the given filter arguments.
# tiers: the release tests under each emulated CPU model (QEMU_CPU: cortex-a72 = ARMv8.0, cortex-a76 =
# +dotprod, max = +i8mm), so that every arm64 tier runs against its reference and the dispatcher is
# seen to choose each.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=${1:-work/arm64-rootfs}; what=${2:-build}; shift 2 2>/dev/null || shift $#
# The extra arguments, quoted for the shell inside the chroot (a filter "A|B" must stay one argument).
args=$(printf '%q ' "$@")
chroot "$root" sh -c "command -v swift" >/dev/null 2>&1 || { echo "no rootfs at $root: run tools/arm64/setup-rootfs.sh first" >&2; exit 1; }
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
# The checkout inside the rootfs, relative to its root (chroot starts there).
inside=edge-seg
dest="$root/$inside"
# HEAD's files, only the changed ones rewritten (compared byte by byte; files HEAD deleted stay), so that .build/ in the rootfs builds
# incrementally: a full build takes about 27 minutes under emulation on 2 cores.
tmp=$(mktemp -d) && git archive HEAD | tar -x -C "$tmp"
mkdir -p "$dest"
(cd "$tmp" && find . -type f) | while read -r f; do
  cmp -s "$tmp/$f" "$dest/$f" || { mkdir -p "$(dirname "$dest/$f")"; cp "$tmp/$f" "$dest/$f"; }
done
rm -rf "$tmp"
case "$what" in
  build) chroot "$root" sh -c "cd $inside && swift build -c release $args" ;;
  test) chroot "$root" sh -c "cd $inside && swift test $args" ;;
  test-release) chroot "$root" sh -c "cd $inside && swift build -c release --build-tests && swift test -c release --skip-build $args" ;;
  tiers)
    chroot "$root" sh -c "cd $inside && swift build -c release --build-tests"
    for level in cortex-a72:neon cortex-a76:neondot max:neoni8mm; do
      cpu=${level%%:*}
      echo "== QEMU_CPU=$cpu (expected int8 tier: ${level#*:})"
      chroot "$root" env QEMU_CPU=$cpu EDGE_SEG_EXPECT_INT8_TIER=${level#*:} sh -c "cd $inside && swift test -c release --skip-build $args"
    done ;;
  *) echo "unknown step '$what' (build, test, test-release or tiers)" >&2; exit 64 ;;
esac
