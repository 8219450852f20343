"""Peak RSS and latency against input size (issue 6): edge-seg int8 on whole maps and under
--max-memory budgets, beside ONNX Runtime int8 (static QDQ, per-channel) at the same input size,
swin-tiny-ade shape, 2 threads. Writes bench/results/memory.md and memory.json.

    swift build -c release
    ~/hfref/bin/python bench/run_all.py work/bench --prepare-only      # the checkpoint and int8 file
    ~/hfref/bin/python bench/memory_table.py work/bench --rounds 3

Per size N (512, 1024, 2048): a photo (Calibration/chelsea.png) resized to N x N; edge-seg runs
`edge-seg run model.int8.eseg photo.png --size N` (decode, preprocess, model, post-process and the
output files: the whole job) and reports the model's own time from its JSON report; ONNX Runtime runs
the fixed-size int8 graph on the same pixel values (forward only), exported and quantized per size
(bench/e2e.py; 8 calibration images at that size). Every run is its own process; peak RSS is that
process's VmHWM as it reports it; latency is the median over rounds.
"""
import argparse
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import e2e  # noqa: E402

PHOTO = REPO / "Calibration" / "chelsea.png"


def child(args):
    """Runs a process; returns (stdout, its peak RSS in MiB as it reports it, exit code, stderr). Not
    wait4's ru_maxrss: on Linux a child forked from this Python process inherits its high-water mark."""
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    m = re.search(r"peak RSS (\d+) KiB", p.stderr)
    if m:
        mb = int(m.group(1)) / 1024
    else:
        try:
            mb = json.loads(p.stdout.strip().splitlines()[-1])["vmhwm_kib"] / 1024
        except (ValueError, KeyError, IndexError):
            mb = None
    return p.stdout, mb, p.returncode, p.stderr


def prepare(ckpt, n):
    from PIL import Image
    from safetensors.torch import save_file
    from transformers import MaskFormerImageProcessor
    d = ckpt / f"mem{n}"
    d.mkdir(exist_ok=True)
    for f in ["config.json", "model.safetensors", "preprocessor_config.json", "model.int8.eseg"]:
        if not (d / f).exists() and not (d / f).is_symlink():
            (d / f).symlink_to(Path("..") / f)
    photo = d / "photo.png"
    if not photo.exists():
        Image.open(PHOTO).convert("RGB").resize((n, n), Image.BILINEAR).save(photo)
    if not (d / "pixel_values.safetensors").exists():
        proc = MaskFormerImageProcessor.from_pretrained(ckpt)
        pv = proc(images=Image.open(photo).convert("RGB"), return_tensors="pt", size={"height": n, "width": n})["pixel_values"]
        save_file({"pixel_values": pv.float().contiguous()}, str(d / "pixel_values.safetensors"))
    onnx = d / "model.fp32.onnx"
    if not onnx.exists():
        e2e.export_onnx(str(d), str(onnx))
    e2e.quantize_in_child(d, onnx, d / "model.int8.onnx")
    return d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="512,1024,2048")
    ap.add_argument("--budgets", default="none,256M,100M", help="edge-seg --max-memory values ('none': whole maps)")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--prepare-only", action="store_true", help="export and quantize the ONNX models; no timing")
    a = ap.parse_args()
    ckpt = (a.work / "sta").resolve()
    exe = REPO / ".build/release/edge-seg"
    rows = []
    if a.prepare_only:
        for n in [int(s) for s in a.sizes.split(",")]:
            prepare(ckpt, n)
        return
    for n in [int(s) for s in a.sizes.split(",")]:
        d = prepare(ckpt, n)
        configs = [("edge-seg int8", b) for b in a.budgets.split(",")] + [("onnxruntime int8", None), ("onnxruntime fp32", None)]
        samples = {c: {"ms": [], "mb": [], "status": 0, "err": ""} for c in configs}
        for _ in range(a.rounds):
            for c in configs:
                engine, budget = c
                if engine.startswith("edge-seg"):
                    args = [exe, "run", d / "model.int8.eseg", d / "photo.png", "--size", n, "--threads", a.threads,
                            "--output", d / "out", "--json", "--verbose"] + ([] if budget == "none" else ["--max-memory", budget])
                    out, mb, code, err = child(args)
                    if code != 0:
                        samples[c]["status"], samples[c]["err"] = code, err.strip().splitlines()[-1] if err.strip() else ""
                        continue
                    samples[c]["ms"].append(json.loads(out)["timings_ms"]["model"])
                else:
                    if engine == "onnxruntime int8" and (d / "model.int8.onnx.failed").exists():
                        samples[c]["status"], samples[c]["err"] = -1, (d / "model.int8.onnx.failed").read_text().strip()
                        continue
                    worker = "onnxruntime-int8" if engine == "onnxruntime int8" else "onnxruntime"
                    out, mb, code, err = child([sys.executable, REPO / "bench/e2e.py", d, "--threads", a.threads, "--runs", "1",
                                                "--worker", worker, "--onnx", d / "model.fp32.onnx"])
                    if code != 0:
                        samples[c]["status"], samples[c]["err"] = code, (err.strip().splitlines() or [""])[-1]
                        continue
                    samples[c]["ms"].append(1000 * statistics.median(json.loads(out.strip().splitlines()[-1])["times"]))
                samples[c]["mb"].append(mb)
        for (engine, budget), s in samples.items():
            rows.append(dict(size=n, engine=engine, max_memory=budget, status=s["status"], error=s["err"],
                             median_ms=statistics.median(s["ms"]) if s["ms"] else None,
                             peak_mib=max(s["mb"]) if s["mb"] else None))
        print(f"{n}x{n} done", file=sys.stderr, flush=True)
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "memory.json").write_text(json.dumps(rows, indent=1) + "\n")
    lines = [f"Command: `~/hfref/bin/python bench/memory_table.py {a.work} --rounds {a.rounds} --sizes {a.sizes} --budgets {a.budgets}` "
             f"(swin-tiny-ade shape, int8, {a.threads} threads; peak RSS = VmHWM of each run's own process as it reports it, max over rounds; "
             "time = median of the model's forward time: edge-seg's `timings_ms.model`, ONNX Runtime's session.run).", "",
             "| input | engine | --max-memory | model time (ms) | peak RSS (MiB) |", "|---|---|---|---|---|"]
    for r in rows:
        t = (f"{r['median_ms']:.0f}" if r["median_ms"] is not None else
             f"not run: {r['error']}" if r["status"] == -1 else f"failed (exit {r['status']}): {r['error']}")
        m = f"{r['peak_mib']:.0f}" if r["peak_mib"] is not None else "-"
        lines.append(f"| {r['size']}x{r['size']} | {r['engine']} | {r['max_memory'] or '-'} | {t} | {m} |")
    (out / "memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
