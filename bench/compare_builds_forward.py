#!/usr/bin/env python3
"""Model-only forward of two builds (or one build with two sets of options), repeated in one process,
interleaved over rounds:
    python3 bench/compare_builds_forward.py OLD/edge-seg NEW/edge-seg MODEL.eseg PIXEL_VALUES.safetensors [ROUNDS [THREADS]]
        [--old-args "..."] [--new-args "..."]
e.g. the same build with two token chunks: ... B B model pv 8 2 --old-args "--token-chunk 4096" --new-args "--token-chunk 1024".
Prints the median forward time of each build and new/old."""
import json, os, shlex, statistics, subprocess, sys, tempfile
argv, extra = [], {"old": [], "new": []}
i = 1
while i < len(sys.argv):
    if sys.argv[i] in ("--old-args", "--new-args"):
        extra[sys.argv[i][2:5]] = shlex.split(sys.argv[i + 1])
        i += 2
    else:
        argv.append(sys.argv[i])
        i += 1
old, new, model, pv = argv[0:4]
rounds = int(argv[4]) if len(argv) > 4 else 6
threads = argv[5] if len(argv) > 5 else "2"
res = {"old": [], "new": []}
out = os.path.join(tempfile.mkdtemp(prefix="edge-seg-forward-"), "logits.safetensors")
for r in range(rounds):
    order = [("old", old), ("new", new)] if r % 2 == 0 else [("new", new), ("old", old)]
    for label, b in order:
        p = subprocess.run([b, "run", model, "--pixel-values", pv, "--raw", out, "--runs", "5", "--warmup", "1", "--threads", threads,
                            "--times-json"] + extra[label], capture_output=True, text=True, check=True)
        j = json.loads(p.stdout.strip().splitlines()[-1])
        res[label] += j["times"]
for k in ("old", "new"):
    print(k, "median ms %.1f" % (1000 * statistics.median(res[k])), "min ms %.1f" % (1000 * min(res[k])), "n", len(res[k]))
print("new/old %.3f (medians), %.3f (minima)" % (statistics.median(res["new"]) / statistics.median(res["old"]), min(res["new"]) / min(res["old"])))
