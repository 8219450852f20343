#!/usr/bin/env python3
"""Model-only forward of two builds, repeated in one process, interleaved over rounds:
    python3 bench/compare_builds_forward.py OLD/edge-seg NEW/edge-seg MODEL.eseg PIXEL_VALUES.safetensors [ROUNDS]
Prints the median forward time of each build and new/old."""
import json, os, statistics, subprocess, sys, tempfile
old, new, model, pv = sys.argv[1:5]
res = {"old": [], "new": []}
out = os.path.join(tempfile.mkdtemp(prefix="edge-seg-forward-"), "logits.safetensors")
for r in range(int(sys.argv[5]) if len(sys.argv) > 5 else 6):
    order = [("old", old), ("new", new)] if r % 2 == 0 else [("new", new), ("old", old)]
    for label, b in order:
        p = subprocess.run([b, "run", model, "--pixel-values", pv, "--raw", out, "--runs", "5", "--warmup", "1", "--threads", sys.argv[6] if len(sys.argv) > 6 else "2", "--times-json"],
                           capture_output=True, text=True, check=True)
        j = json.loads(p.stdout.strip().splitlines()[-1])
        res[label] += j["times"]
for k in ("old", "new"):
    print(k, "median ms %.1f" % (1000 * statistics.median(res[k])), "n", len(res[k]))
print("new/old %.3f" % (statistics.median(res["new"]) / statistics.median(res["old"])))
