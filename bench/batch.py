"""Batch run against one process per image (issue 19): the same images through `edge-seg run MODEL DIR`
and through a loop of `edge-seg run MODEL IMAGE`, in that order, then:
- identical outputs: every image's segments.json (without timings and the input path) and PNGs equal;
- images/s of each and their ratio;
- RSS over the batch run, sampled from /proc/PID/status every 20 ms: VmRSS when the first image's JSON
  line arrives and the largest VmRSS after it (growth), and VmHWM at the end.

    python3 bench/batch.py MODEL IMAGE_DIR [--threads N] [--binary .build/release/edge-seg]
"""
import argparse, json, os, subprocess, sys, tempfile, threading, time


def vm(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None


def comparable(d):
    with open(os.path.join(d, "segments.json")) as f:
        j = json.load(f)
    j.pop("timings_ms", None)
    j["image"].pop("path", None)
    files = {"segments.json": json.dumps(j, sort_keys=True)}
    for n in sorted(os.listdir(d)):
        if n.endswith(".png"):
            with open(os.path.join(d, n), "rb") as f:
                files[n] = f.read()
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model"); ap.add_argument("images")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--binary", default=".build/release/edge-seg")
    a = ap.parse_args()
    names = sorted(n for n in os.listdir(a.images) if n.lower().endswith((".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".pnm")))
    work = tempfile.mkdtemp(prefix="edge-seg-batch-")
    batch_out, single_out = os.path.join(work, "batch"), os.path.join(work, "single")
    # Batch, RSS sampled while it runs.
    t0 = time.perf_counter()
    p = subprocess.Popen([a.binary, "run", a.model, a.images, "--output", batch_out, "--json", "--threads", str(a.threads)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples, first = [], {}
    stop = threading.Event()

    def sampler():
        while not stop.is_set():
            r = vm(p.pid, "VmRSS")
            if r is not None:
                samples.append((time.perf_counter(), r))
            time.sleep(0.02)

    th = threading.Thread(target=sampler); th.start()
    lines, marks = 0, {}
    for line in p.stdout:
        lines += 1
        if lines == 1:
            first["t"], first["rss"] = time.perf_counter(), vm(p.pid, "VmRSS")
            first["anon"], first["file"] = vm(p.pid, "RssAnon"), vm(p.pid, "RssFile")
        for q in (10, 25, 50, 75, 100):
            if lines == max(1, len(names) * q // 100):
                marks[q] = (vm(p.pid, "VmRSS"), vm(p.pid, "RssAnon"), vm(p.pid, "RssFile"))
    err = p.stderr.read()
    p.wait(); stop.set(); th.join()
    batch_s = time.perf_counter() - t0
    after = [r for t, r in samples if t >= first.get("t", 0)]
    summary = [l for l in err.splitlines() if l.startswith("run:")]
    # Single process per image.
    t0 = time.perf_counter()
    for n in names:
        stem = os.path.splitext(n)[0]
        subprocess.run([a.binary, "run", a.model, os.path.join(a.images, n), "--output", os.path.join(single_out, stem),
                        "--threads", str(a.threads)], check=True, capture_output=True)
    single_s = time.perf_counter() - t0
    same = sum(comparable(os.path.join(batch_out, os.path.splitext(n)[0])) == comparable(os.path.join(single_out, os.path.splitext(n)[0]))
               for n in names)
    print(f"images: {len(names)}; batch JSON lines: {lines}; exit {p.returncode}")
    print(f"identical outputs (segments.json without timings/path, every PNG): {same}/{len(names)}")
    print(f"batch: {batch_s:.2f} s = {len(names) / batch_s:.2f} images/s (process wall time, load included)")
    print(f"single process per image: {single_s:.2f} s = {len(names) / single_s:.2f} images/s")
    print(f"ratio: {single_s / batch_s:.2f}x")
    if after:
        print(f"batch VmRSS at the first image's line {first['rss']} KiB (RssAnon {first['anon']}, RssFile {first['file']}), "
              f"largest after it {max(after)} KiB: growth {max(after) - first['rss']} KiB ({len(after)} samples)")
    print("batch VmRSS / RssAnon / RssFile (KiB) after 10/25/50/75/100 % of the images: "
          + ", ".join(f"{q}%: {r[0]}/{r[1]}/{r[2]}" for q, r in sorted(marks.items())))
    print("batch summary: " + (summary[0] if summary else err[-400:]))
    subprocess.run(["rm", "-rf", work])
    sys.exit(0 if same == len(names) and p.returncode == 0 else 1)


main()
