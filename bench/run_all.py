"""The one benchmark command: edge-seg against its peers on two model shapes, two input sizes, 1 and
2 threads, and edge-seg's own memory/latency curve over input size. Writes BENCHMARKS.md's peer
section (bench/results/peers.md), bench/results/peers.json and bench/results/chart.svg.

    swift build -c release
    ~/hfref/bin/python bench/run_all.py work/edge-seg-bench --rounds 5

Steps (each cached in WORK): build the random-init swin-tiny-ade and swin-base-coco shaped checkpoints
(tools/reference/maskformer_ref.py), convert them with edge-seg (int8, 8 calibration images), and per
input size export ONNX fp32 (fixed shape) and quantize it for ONNX Runtime (static QDQ, per-channel
int8, MinMax, same calibration images: bench/e2e.py). Sizes: 512x512, and the checkpoint's default
preprocessing of a 640x480 photo (swin-tiny-ade 512x704, swin-base-coco 800x1088). Engines: edge-seg
int8 and float32, ONNX Runtime int8 and fp32, PyTorch (transformers) fp32. Every engine runs in its own
process per measurement (peak RSS = that process's VmHWM), engines are interleaved round by round,
and each figure is the median of all rounds x runs forward passes after one warm-up.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
import e2e  # noqa: E402

MODELS = {"swin-tiny-ade": "sta", "swin-base-coco": "sbc"}
ENGINES = ["edge-seg-int8", "onnxruntime-int8", "edge-seg", "onnxruntime", "pytorch"]
PHOTO = REPO / "Calibration" / "chelsea.png"


def sh(args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kw)


def prepare(work, name, short):
    """Checkpoint, int8 file and one folder per input size with pixel_values and ONNX models."""
    from PIL import Image
    from safetensors.torch import save_file
    from transformers import MaskFormerImageProcessor
    ckpt = work / short
    if not (ckpt / "model.safetensors").exists():
        sh([sys.executable, REPO / "tools/reference/maskformer_ref.py", "big", name, ckpt])
    int8 = ckpt / "model.int8.eseg"
    if not int8.exists():
        sh([REPO / ".build/release/edge-seg", "convert", ckpt, "-o", int8, "--samples", "8"], cwd=REPO)
    proc = MaskFormerImageProcessor.from_pretrained(ckpt)
    photo = Image.open(PHOTO).convert("RGB")
    sizes = {}
    for label, image, kwargs in [("512x512", photo.resize((512, 512)), {"size": {"height": 512, "width": 512}}),
                                 ("640x480 photo", photo.resize((640, 480)), {})]:
        pv = proc(images=image, return_tensors="pt", **kwargs)["pixel_values"].float()
        h, w = pv.shape[2:]
        d = ckpt / f"{h}x{w}"
        d.mkdir(exist_ok=True)
        for f in ["config.json", "model.safetensors", "preprocessor_config.json", "model.int8.eseg"]:
            if not (d / f).exists() and not (d / f).is_symlink():
                (d / f).symlink_to(Path("..") / f)   # relative to the link's folder
        save_file({"pixel_values": pv.contiguous()}, str(d / "pixel_values.safetensors"))
        onnx = d / "model.fp32.onnx"
        if not onnx.exists():
            e2e.export_onnx(str(d), str(onnx))
        e2e.quantize_in_child(d, onnx, d / "model.int8.onnx")
        sizes[label] = (d, int(h), int(w))
    return sizes


def measure(engine, d, threads, runs):
    if engine == "onnxruntime-int8" and (d / "model.int8.onnx.failed").exists():
        return None
    raw = Path(tempfile.gettempdir()) / "edge-seg-bench-raw.safetensors"
    if engine.startswith("edge-seg"):
        model = d / "model.int8.eseg" if engine == "edge-seg-int8" else d
        p = sh([REPO / ".build/release/edge-seg", "run", model, "--pixel-values", d / "pixel_values.safetensors", "--raw", raw,
                "--threads", threads, "--runs", runs, "--warmup", "1", "--times-json"])
    else:
        p = sh([sys.executable, REPO / "bench/e2e.py", d, "--threads", threads, "--runs", runs, "--worker", engine,
                "--onnx", d / "model.fp32.onnx"])
    return json.loads(p.stdout.strip().splitlines()[-1])


def svg_chart(points, path):
    """Two panels (latency, peak RSS) against input pixels, one line per engine; plain SVG."""
    colors = {"edge-seg-int8": "#d62728", "onnxruntime-int8": "#1f77b4", "edge-seg": "#ff9896", "onnxruntime": "#aec7e8",
              "pytorch": "#7f7f7f"}
    W, H, pad = 900, 380, 60
    xs = sorted({p["pixels"] for p in points})
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>']
    for panel, (key, label) in enumerate([("median_s", "median forward time (s), 2 threads"), ("peak_mb", "peak RSS (MB)")]):
        x0, y0, pw, ph = pad + panel * (W // 2), 30, W // 2 - pad - 20, H - 100
        top = max(p[key] for p in points) * 1.1
        out.append(f'<text x="{x0}" y="20" font-weight="bold">{label}</text>')
        out.append(f'<line x1="{x0}" y1="{y0 + ph}" x2="{x0 + pw}" y2="{y0 + ph}" stroke="black"/>')
        out.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 + ph}" stroke="black"/>')
        for t in range(5):
            v = top * t / 4
            y = y0 + ph - ph * t / 4
            out.append(f'<text x="{x0 - 5}" y="{y + 4}" text-anchor="end">{v:.2f}</text>' if key == "median_s" else
                       f'<text x="{x0 - 5}" y="{y + 4}" text-anchor="end">{v:.0f}</text>')
            out.append(f'<line x1="{x0}" y1="{y}" x2="{x0 + pw}" y2="{y}" stroke="#eee"/>')
        def px(v):
            return x0 + pw * (xs.index(v) + 0.5) / len(xs)
        for v in xs:
            out.append(f'<text x="{px(v)}" y="{y0 + ph + 15}" text-anchor="middle">{v / 1e6:.2f} MP</text>')
        for model in sorted({p["model"] for p in points}):
            for e, c in colors.items():
                pts = sorted((p["pixels"], p[key]) for p in points if p["engine"] == e and p["model"] == model)
                if not pts:
                    continue
                dash = ' stroke-dasharray="5,3"' if model == "swin-base-coco" else ""
                coords = " ".join(f"{px(a):.1f},{y0 + ph - ph * b / top:.1f}" for a, b in pts)
                out.append(f'<polyline points="{coords}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
                for a, b in pts:
                    out.append(f'<circle cx="{px(a):.1f}" cy="{y0 + ph - ph * b / top:.1f}" r="3" fill="{c}"/>')
    for i, (e, c) in enumerate(colors.items()):
        out.append(f'<rect x="{pad + i * 160}" y="{H - 35}" width="12" height="12" fill="{c}"/>'
                   f'<text x="{pad + i * 160 + 16}" y="{H - 25}">{e}</text>')
    out.append(f'<text x="{pad}" y="{H - 8}">solid: swin-tiny-ade shape, dashed: swin-base-coco shape; x: input pixels after preprocessing</text>')
    out.append("</svg>")
    Path(path).write_text("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("work", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=1, help="forward passes per engine per round")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--models", default="swin-tiny-ade,swin-base-coco")
    ap.add_argument("--prepare-only", action="store_true", help="build, convert, export and quantize; no timing")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    configs = []
    for name in a.models.split(","):
        for label, (d, h, w) in prepare(a.work, name, MODELS[name]).items():
            for t in a.threads.split(","):
                configs.append((name, label, d, h, w, t))
    if a.prepare_only:
        return
    results = {}
    for r in range(a.rounds):
        for (name, label, d, h, w, t) in configs:
            for engine in ENGINES:
                res = measure(engine, d, t, str(a.runs))
                if res is None:
                    continue
                entry = results.setdefault((name, label, t, engine), {"times": [], "vmhwm": [], "h": h, "w": w})
                entry["times"] += res["times"]
                entry["vmhwm"].append(res["vmhwm_kib"])
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr, flush=True)
    rows, points = [], []
    for (name, label, t, engine), e in results.items():
        med = statistics.median(e["times"])
        ours = statistics.median(results[(name, label, t, "edge-seg-int8")]["times"])  # always measured
        ours_mem = max(results[(name, label, t, "edge-seg-int8")]["vmhwm"])
        rows.append(dict(model=name, input=f"{label} ({e['h']}x{e['w']})", threads=int(t), engine=engine, median_s=med,
                         min_s=min(e["times"]), samples=len(e["times"]), ratio=med / ours, peak_mb=max(e["vmhwm"]) / 1024,
                         mem_ratio=max(e["vmhwm"]) / ours_mem))
        if t == "2":
            points.append(dict(model=name, engine=engine, pixels=e["h"] * e["w"], median_s=med, peak_mb=max(e["vmhwm"]) / 1024))
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "peers.json").write_text(json.dumps(rows, indent=1) + "\n")
    svg_chart(points, out / "chart.svg")
    import onnxruntime
    import torch
    lines = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()}; "
             f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}.",
             f"Command: `~/hfref/bin/python bench/run_all.py {a.work} --rounds {a.rounds} --runs {a.runs}` "
             f"({a.rounds} rounds x {a.runs} runs per engine and configuration, interleaved; medians; peak RSS = VmHWM of the engine's own process).",
             "", "| model | input | threads | engine | median (s) | min (s) | time / edge-seg int8 | peak RSS (MB) | RSS / edge-seg int8 |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["model"], r["input"], r["threads"], ENGINES.index(r["engine"]))):
        lines.append(f"| {r['model']} | {r['input']} | {r['threads']} | {r['engine']} | {r['median_s']:.3f} | {r['min_s']:.3f} | "
                     f"{r['ratio']:.2f}x | {r['peak_mb']:.0f} | {r['mem_ratio']:.2f}x |")
    for (name, label, d, h, w, t) in configs:
        f = d / "model.int8.onnx.failed"
        if f.exists() and t == a.threads.split(",")[0]:
            lines.append(f"\nNo onnxruntime-int8 row for {name} {label} ({h}x{w}): {f.read_text().strip()}.")
    lines += ["", "![latency and peak memory against input size](bench/results/chart.svg)"]
    (out / "peers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
