"""Soak (issue 20): thousands of images of mixed sizes through one `edge-seg run MODEL DIR` process.
Reports RSS over the run (VmRSS sampled every 50 ms, and at 10 %, 25 %, ... of the images), heap
allocations per image (tools/malloc-count, LD_PRELOAD), arena fallbacks and sessions (the run's summary),
latency percentiles (each image's decode + segment + write, from the summary and the JSON lines), and
checks a sample of outputs against fresh single runs.

    ~/hfref/bin/python bench/soak.py MODEL IMAGE_DIR [--count 2000] [--threads 2] [--check 25]
IMAGE_DIR's images are resized to four sizes and interleaved (the sizes cycle), into a temporary folder.
"""
import argparse, json, os, random, subprocess, sys, tempfile, threading, time
from PIL import Image

SIZES = [(128, 128), (160, 120), (192, 192), (256, 160)]


def vm(pid, key):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model"); ap.add_argument("images")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--check", type=int, default=25)
    ap.add_argument("--binary", default=".build/release/edge-seg")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="edge-seg-soak-")
    src = sorted(n for n in os.listdir(a.images) if n.endswith(".png"))
    folder = os.path.join(work, "in")
    os.makedirs(folder)
    for i in range(a.count):
        w, h = SIZES[i % len(SIZES)]
        Image.open(os.path.join(a.images, src[i % len(src)])).convert("RGB").resize((w, h), Image.BILINEAR).save(os.path.join(folder, f"{i:05d}.png"))
    lib = os.path.join(work, "malloc_count.so")
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", lib, "tools/malloc-count/malloc_count.c", "-ldl"], check=True)
    out = os.path.join(work, "out")
    env = dict(os.environ, LD_PRELOAD=lib)
    t0 = time.perf_counter()
    p = subprocess.Popen([a.binary, "run", a.model, folder, "--output", out, "--json", "--threads", str(a.threads)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    samples, stop = [], threading.Event()

    def sampler():
        while not stop.is_set():
            r = vm(p.pid, "VmRSS")
            if r is not None:
                samples.append((time.perf_counter() - t0, r))
            time.sleep(0.05)

    th = threading.Thread(target=sampler); th.start()
    marks, lines, totals = {}, 0, []
    for line in p.stdout:
        lines += 1
        totals.append(json.loads(line)["timings_ms"]["total"])
        for q in (1, 10, 25, 50, 75, 100):
            if lines == max(1, a.count * q // 100):
                marks[q] = (vm(p.pid, "VmRSS"), vm(p.pid, "RssAnon"))
    err = p.stderr.read()
    p.wait(); stop.set(); th.join()
    wall = time.perf_counter() - t0
    summary = next((l for l in err.splitlines() if l.startswith("run:")), err[-300:])
    mallocs = next((int(l.split()[-1]) for l in err.splitlines() if l.startswith("malloc-count: total")), None)
    # The same program loading the model and writing nothing: the allocations that are not per image.
    base = subprocess.run([a.binary, "info", a.model], capture_output=True, text=True, env=env).stderr
    base_mallocs = next((int(l.split()[-1]) for l in base.splitlines() if l.startswith("malloc-count: total")), 0)
    warm = marks.get(10, (None, None))
    after = [r for t, r in samples if marks and t >= 0]
    print(f"images: {a.count} in {len(SIZES)} sizes {SIZES}, interleaved; exit {p.returncode}; {lines} JSON lines; wall {wall:.1f} s")
    print("summary: " + summary)
    print("VmRSS / RssAnon (KiB) after 1/10/25/50/75/100 % of the images: " + ", ".join(f"{q}%: {r[0]}/{r[1]}" for q, r in sorted(marks.items())))
    tail = [r for t, r in samples[len(samples) // 10:]]
    if warm[0] and tail:
        print(f"growth after warm-up (10 % of the images): largest VmRSS later {max(tail)} KiB - {warm[0]} KiB = {max(tail) - warm[0]} KiB; "
              f"RssAnon at the end - at 10 %: {marks[100][1] - warm[1]} KiB")
    if mallocs is not None:
        print(f"heap allocations: {mallocs} in all, {(mallocs - base_mallocs) / a.count:.0f} per image (beyond `info`'s {base_mallocs} for opening the model)")
    s = sorted(totals)
    pick = lambda q: s[min(len(s) - 1, int(q * (len(s) - 1)))]
    print(f"decode+model+postprocess ms per image (segments.json timings): median {pick(0.5):.1f}, p95 {pick(0.95):.1f}, p99 {pick(0.99):.1f}, max {s[-1]:.1f}")
    # Outputs against fresh single runs.
    random.seed(1)
    same = 0
    for i in random.sample(range(a.count), min(a.check, a.count)):
        name = f"{i:05d}"
        single = os.path.join(work, "single", name)
        subprocess.run([a.binary, "run", a.model, os.path.join(folder, name + ".png"), "--output", single, "--threads", str(a.threads)],
                       check=True, capture_output=True)
        def load(d):
            j = json.load(open(os.path.join(d, "segments.json"))); j.pop("timings_ms"); j["image"].pop("path")
            return json.dumps(j, sort_keys=True), {n: open(os.path.join(d, n), "rb").read() for n in os.listdir(d) if n.endswith(".png")}
        same += load(os.path.join(out, name)) == load(single)
    print(f"outputs equal to fresh single runs: {same}/{min(a.check, a.count)}")
    subprocess.run(["rm", "-rf", work])
    sys.exit(0 if p.returncode == 0 and same == min(a.check, a.count) else 1)


main()
