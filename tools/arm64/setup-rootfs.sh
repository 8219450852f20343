#!/usr/bin/env bash
# An arm64 Debian (unstable: its swiftlang is 6.2.x; stable's 6.0 is too old for this package) rootfs
# run under qemu-user-static, for building and testing edge-seg as arm64 on an x86 machine (issue 18).
# The mirror is the one this machine's own apt configuration uses.
#   sudo-less as root: bash tools/arm64/setup-rootfs.sh [ROOTFS]   (default: work/arm64-rootfs)
# ROOTFS_ARCH=amd64 makes the same rootfs for this machine's own architecture: Swift 6.2 at native speed, to
# check that the package builds with the older compiler in minutes (bash tools/arm64/run.sh ROOTFS build).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=${1:-work/arm64-rootfs}
# Absolute, and existing: debootstrap changes directory and cannot create a missing parent.
mkdir -p "$root" && root=$(cd "$root" && pwd)
mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | grep -E '^(URIs:|deb) ' \
  | grep -oE '[a-z]+://[^ ]+/debian/?( |$)' | head -1 | tr -d ' ' || true)
[ -n "$mirror" ] || { echo "no Debian mirror in this machine's apt configuration" >&2; exit 1; }
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static binfmt-support debootstrap >/dev/null
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
if ! chroot "$root" sh -c "command -v swift" >/dev/null 2>&1; then
  if [ ! -e "$root/etc/debian_version" ]; then
    debootstrap --arch="${ROOTFS_ARCH:-arm64}" --variant=minbase --include=ca-certificates unstable "$root" "$mirror"
  fi
  echo 'Acquire::Check-Valid-Until "false";' > "$root/etc/apt/apt.conf.d/99no-check-valid-until"
  chroot "$root" apt-get update -qq
  chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq swiftlang >/dev/null
fi
# The toolchain needs /proc (the driver crashes without it) and /dev.
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
# swiftlang lacks lib_Testing_Foundation.so, which `swift test` links: an empty stub library serves.
# The runtime libraries sit beside the toolchain: <toolchain>/bin/swift -> <toolchain>/lib/swift/linux.
lib=$(chroot "$root" sh -c 'echo "$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")/lib/swift/linux"')
if [ -e "$root$lib/libTesting.so" ] && [ ! -e "$root$lib/lib_Testing_Foundation.so" ]; then
  stub=$(mktemp -d -p "$root/tmp") && echo '// empty' > "$stub/stub.swift"
  chroot "$root" sh -c "cd ${stub#"$root"} && swiftc -emit-library -module-name _TestingFoundationStub stub.swift -o $lib/lib_Testing_Foundation.so"
  rm -rf "$stub"
fi
chroot "$root" swift --version
