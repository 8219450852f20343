#!/usr/bin/env python3
"""Instructions per MAC of each arm64 microkernel's inner loop, from the compiled code (issue 18: ARM
speed cannot be timed under emulation). Compiles Sources/_CKernels/{qs8,f32}_gemm_arm.c and attention_arm.c for aarch64
with the toolchain's clang, disassembles, and for each kernel reports the loop (a backward branch) that
holds its multiply instructions (innermost, the most MACs: the main loop, not a tail): instructions, multiply instructions, and MACs per iteration.
    python3 tools/arm64/inner_loops.py ROOTFS        (ROOTFS: tools/arm64/setup-rootfs.sh's, for the C headers)"""
import re, shutil, subprocess, sys, tempfile, os
root = sys.argv[1] if len(sys.argv) > 1 else "work/arm64-rootfs"
S = "Sources/_CKernels"
# Multiply instructions and the MACs each does (16-byte vectors).
MACS = {"sdot": 16, "smmla": 32, "smull": 8, "smull2": 8, "smlal": 8, "smlal2": 8, "fmla": 4}
kernels = {"es_qs8_gemm_8x16__neon": "qs8", "es_qs8_gemm_8x16__neondot": "qs8", "es_qs8_gemm_8x16__neoni8mm": "qs8",
           "es_f32_gemm_6x16__neon": "f32", "es_attention_rows_neon": "attention", "es_window_attention_qs8__neondot": "attention"}
tmp = tempfile.mkdtemp()
# llvm-objdump beside the clang in use (the Swift toolchain ships both; an older one elsewhere on PATH may
# not decode sdot/smmla), else the one on PATH.
beside = os.path.join(os.path.dirname(os.path.realpath(shutil.which("clang"))), "llvm-objdump")
objdump = beside if os.path.exists(beside) else shutil.which("llvm-objdump")
text = ""
for src in ("qs8_gemm_arm.c", "f32_gemm_arm.c", "attention_arm.c"):
    obj = os.path.join(tmp, src + ".o")
    subprocess.run(["clang", "--target=aarch64-linux-gnu", f"--sysroot={root}", "-O2", f"-I{S}/include", f"-I{S}", "-c", f"{S}/{src}", "-o", obj], check=True)
    text += subprocess.run([objdump, "-d", "--no-show-raw-insn", obj], capture_output=True, text=True, check=True).stdout
print("| kernel | loop instructions | multiply instructions | MACs per iteration | instructions per 64 MACs |")
print("|---|---|---|---|---|")
for name in kernels:
    m = re.search(rf"<{name}>:\n(.*?)(?:\n\n|\Z)", text, re.S)
    insns = []
    for line in m.group(1).splitlines():
        p = re.match(r"\s*([0-9a-f]+):\s+(\S+)\s*(.*)", line)
        if p: insns.append((int(p.group(1), 16), p.group(2), p.group(3)))
    loops = []
    for addr, op, args in insns:
        if op.startswith("b") and op not in ("bl", "blr", "br") or op in ("cbnz", "cbz", "tbnz", "tbz"):
            t = re.search(r"0x([0-9a-f]+)", args)
            if t and int(t.group(1), 16) < addr: loops.append((int(t.group(1), 16), addr))
    # Innermost loops (no other loop inside), the one doing the most MACs per iteration (the main loop,
    # not a tail).
    best = None
    for lo, hi in loops:
        if any(lo <= a and b <= hi and (a, b) != (lo, hi) for a, b in loops): continue
        body = [x for x in insns if lo <= x[0] <= hi]
        macs = sum(MACS.get(x[1], 0) for x in body)
        if macs and (best is None or macs > best[1]): best = (len(body), macs, sum(1 for x in body if x[1] in MACS))
    n, macs, mul = best
    print(f"| {name} | {n} | {mul} | {macs} | {64 * n / macs:.2f} |")
