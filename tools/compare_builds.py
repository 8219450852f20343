#!/usr/bin/env python3
"""Bit-identity of two edge-seg builds: the same outputs, byte for byte, from `run --raw` (int8 and
float logits) on every kernel tier and thread count, whole and streamed; from `run` for all three
tasks (segments.json without its timings, every mask, panoptic.png and overlay.png); and from
`convert` (the bundled model's minmax file, the tiny fixture's float32 and float16 files).

  python3 tools/compare_builds.py OLD/edge-seg NEW/edge-seg [--quick]

Prints one line per difference and a summary; exits 1 if anything differs.
"""
import hashlib, json, os, subprocess, sys, tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
old, new = sys.argv[1], sys.argv[2]
quick = "--quick" in sys.argv
tmp = tempfile.mkdtemp(prefix="edge-seg-compare-")
diffs, checks = [], 0


def run(binary, args, out=None):
    r = subprocess.run([binary] + args, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        return f"exit {r.returncode}: {r.stderr.strip()[:300]}"
    return None


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def tree(path):
    """file name -> digest (segments.json without timings)."""
    out = {}
    for name in sorted(os.listdir(path)):
        p = os.path.join(path, name)
        if name == "segments.json":
            j = json.load(open(p))
            j.pop("timings_ms", None)
            out[name] = hashlib.sha256(json.dumps(j, sort_keys=True).encode()).hexdigest()
        else:
            out[name] = digest(p)
    return out


def same(label, a, b):
    global checks
    checks += 1
    if a != b:
        diffs.append(label)
        print("DIFFERS:", label, file=sys.stderr)


def compare_files(label, args_for):
    """args_for(binary, out_path) -> args; compares the file each build writes."""
    outs = []
    for i, b in enumerate([old, new]):
        p = os.path.join(tmp, f"{i}-{abs(hash(label))}")
        err = run(b, args_for(p))
        if err:
            diffs.append(f"{label}: build {i} failed: {err}")
            print("FAILED:", label, f"(build {i}):", err, file=sys.stderr)
            outs.append(err)
        else:
            outs.append(digest(p) if os.path.isfile(p) else tree(p))
    same(label, outs[0], outs[1])


examples = [f"Examples/shapes-{i}.png" for i in (1, 2, 3, 4)]
photo = sorted(f for f in os.listdir(os.path.join(ROOT, "Calibration")) if f.lower().endswith((".jpg", ".jpeg", ".png")))[0]
images = examples[:2] + [f"Calibration/{photo}"]
models = ["Models/shapes/model.int8.eseg", "Models/shapes", "Tests/Fixtures/tiny", "Tests/Fixtures/smallmaps",
          "Tests/Fixtures/labels", "Tests/Fixtures/threestage"]
isas = ["auto", "avx2", "portable", "reference"]
if quick:
    models, isas, images = models[:2], ["auto", "portable"], images[:2]

# Logits: every model, tier and thread count; whole maps and streamed.
for m in models:
    for img in images:
        for isa in isas:
            for threads in (1, 2):
                for stream in ([], ["--token-chunk", "256", "--band-rows", "8"]):
                    if stream and (isa == "reference" or threads == 1):
                        continue
                    label = f"raw {m} {img} --isa {isa} --threads {threads} {' '.join(stream)}"
                    compare_files(label, lambda p: ["run", m, img, "--raw", p, "--isa", isa, "--threads", str(threads)] + stream)

# Post-processed outputs: the bundled int8 file and its float checkpoint, every task.
for m in models[:2]:
    for img in examples:
        for task in ("panoptic", "instance", "semantic"):
            label = f"run {m} {img} --task {task}"
            compare_files(label, lambda p: ["run", m, img, "--task", task, "--output", p])

# Conversion bytes (minmax: the bundled model's; float precisions of the tiny fixture).
compare_files("convert Models/shapes minmax", lambda p: ["convert", "Models/shapes", "-o", p, "--isa", "portable", "--method", "minmax",
                                                         "--calibration", "Models/shapes/calibration"])
for prec in ("float32", "float16"):
    compare_files(f"convert tiny {prec}", lambda p: ["convert", "Tests/Fixtures/tiny", "-o", p, "--precision", prec])

print(f"{checks} comparisons, {len(diffs)} differ")
sys.exit(1 if diffs else 0)
