#!/usr/bin/env python3
"""Latency and peak RSS of two edge-seg builds in the same interleaved run (a refactor must not cost
speed or memory): `edge-seg run MODEL photo.png` at 512x512 (whole job, one process per run) and at
2048x2048 under `--max-memory 256M`. Per configuration and build: the median over rounds of the
model's own time (segments.json timings_ms.model), the whole job's time, and the process's peak RSS
(VmHWM, as `run` reports it on stderr). Builds alternate within each round.

    ~/hfref/bin/python bench/compare_builds_perf.py OLD/edge-seg NEW/edge-seg work/sta/model.int8.eseg [--rounds 7] [--threads 2]
"""
import argparse
import json
import re
import statistics
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def photo(n, work):
    from PIL import Image
    p = Path(work) / f"photo{n}.png"
    if not p.exists():
        Image.open(REPO / "Calibration" / "chelsea.png").convert("RGB").resize((n, n), Image.BILINEAR).save(p)
    return p


def one(binary, model, img, extra, threads, out):
    p = subprocess.run([binary, "run", model, str(img), "--output", out, "--threads", str(threads), "--json"] + extra,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{binary} failed: {p.stderr}")
    report = json.loads(p.stdout)
    rss = int(re.search(r"peak RSS (\d+) KiB", p.stderr).group(1)) / 1024 if "peak RSS" in p.stderr else None
    return report["timings_ms"]["model"], report["timings_ms"]["total"], rss


def main():
    a = argparse.ArgumentParser()
    a.add_argument("old")
    a.add_argument("new")
    a.add_argument("model")
    a.add_argument("--rounds", type=int, default=7)
    a.add_argument("--threads", type=int, default=2)
    args = a.parse_args()
    work = tempfile.mkdtemp(prefix="edge-seg-perf-")
    configs = [("512x512", photo(512, work), []), ("2048x2048 --max-memory 256M", photo(2048, work), ["--size", "2048", "--max-memory", "256M"])]
    results = {(c, b): [] for c, _, _ in configs for b in ("old", "new")}
    for r in range(args.rounds):
        for name, img, extra in configs:
            for label, binary in (("old", args.old), ("new", args.new)) if r % 2 == 0 else (("new", args.new), ("old", args.old)):
                results[(name, label)].append(one(binary, args.model, img, extra + ["--verbose"], args.threads, f"{work}/out-{label}"))
    print(f"Command: `~/hfref/bin/python bench/compare_builds_perf.py OLD NEW {args.model} --rounds {args.rounds} --threads {args.threads}`\n")
    print("| input | build | model ms (median) | whole job ms | peak RSS MiB | new / old (model) |")
    print("|---|---|---|---|---|---|")
    for name, _, _ in configs:
        med = {}
        for label in ("old", "new"):
            rows = results[(name, label)]
            med[label] = (statistics.median(x[0] for x in rows), statistics.median(x[1] for x in rows),
                          statistics.median(x[2] for x in rows if x[2] is not None))
        for label in ("old", "new"):
            m, t, rss = med[label]
            ratio = f"{med['new'][0] / med['old'][0]:.3f}" if label == "new" else ""
            print(f"| {name} | {label} | {m:.1f} | {t:.1f} | {rss:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
