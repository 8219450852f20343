#!/usr/bin/env python3
"""What the default memory policy costs (issue 17): `edge-seg run MODEL photo.png --size N` with no
memory flag (bounded by default: whole maps while the process is predicted within 256 MiB, else the
fastest streaming predicted to fit) against the same run forced to whole maps (`--token-chunk 4096
--band-rows 0`), per size, interleaved round by round; the median model time (segments.json
timings_ms.model), the whole job's time and the peak RSS each run reports (VmHWM), max over rounds.

    ~/hfref/bin/python bench/default_policy.py work/sta/model.int8.eseg [--sizes 512,1024,1536,2048] [--rounds 3] [--threads 2]
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from compare_builds_perf import photo  # noqa: E402  (the photo resized to N x N)




def one(model, img, n, extra, threads, out):
    p = subprocess.run([str(REPO / ".build" / "release" / "edge-seg"), "run", model, str(img), "--size", str(n), "--output", out,
                        "--threads", str(threads)] + extra, capture_output=True, text=True, check=True)
    t = json.loads((Path(out) / "segments.json").read_text())["timings_ms"]
    rss = int(re.search(r"peak RSS (\d+) KiB", p.stderr).group(1)) / 1024
    return t["model"], t["total"], rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--sizes", default="512,1024,1536,2048")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="edge-seg-policy-")
    configs = {"default": [], "whole maps": ["--token-chunk", "4096", "--band-rows", "0"]}
    print(f"Command: `~/hfref/bin/python bench/default_policy.py {a.model} --sizes {a.sizes} --rounds {a.rounds} --threads {a.threads}`\n")
    print("| input | run | model ms (median) | whole job ms | peak RSS MiB | default / whole maps (model) |")
    print("|---|---|---|---|---|---|")
    for n in [int(x) for x in a.sizes.split(",")]:
        img = photo(n, work)
        res = {c: [] for c in configs}
        for r in range(a.rounds):
            for c in (configs if r % 2 == 0 else reversed(list(configs))):
                res[c].append(one(a.model, img, n, configs[c], a.threads, str(Path(work) / "out")))
        med = {c: statistics.median(x[0] for x in res[c]) for c in res}
        for c in configs:
            ratio = f"{med['default'] / med['whole maps']:.3f}" if c == "default" else ""
            print(f"| {n}x{n} | {c} | {med[c]:.1f} | {statistics.median(x[1] for x in res[c]):.1f} | "
                  f"{max(x[2] for x in res[c]):.1f} | {ratio} |")


if __name__ == "__main__":
    main()
