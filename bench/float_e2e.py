"""Float32 end-to-end benchmark: edge-seg vs PyTorch (transformers) vs ONNX Runtime, same weights, same input.

    ~/hfref/bin/python tools/reference/maskformer_ref.py big swin-tiny-ade /tmp/sta
    swift build -c release
    ~/hfref/bin/python bench/float_e2e.py /tmp/sta --threads 2 --rounds 5

Each engine runs in its own subprocess (so that its peak RSS, VmHWM, is its own), the engines take
turns round by round (interleaved, so machine noise hits all of them alike), and every figure is the
median forward time over all rounds, excluding model load. Prints a Markdown table with ratios.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def vmhwm_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def worker(engine, model_dir, threads, runs, onnx_path):
    """Runs in a child process: loads one engine, times `runs` forwards, prints JSON."""
    import torch
    from safetensors.torch import load_file
    torch.set_num_threads(threads)
    pv = load_file(str(Path(model_dir) / "pixel_values.safetensors"))["pixel_values"]
    times = []
    if engine == "pytorch":
        from transformers import MaskFormerForInstanceSegmentation
        model = MaskFormerForInstanceSegmentation.from_pretrained(model_dir).eval()
        with torch.inference_mode():
            model(pixel_values=pv)
            for _ in range(runs):
                t = time.perf_counter()
                model(pixel_values=pv)
                times.append(time.perf_counter() - t)
    elif engine == "onnxruntime":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        feed = {"pixel_values": pv.numpy()}
        sess.run(None, feed)
        for _ in range(runs):
            t = time.perf_counter()
            sess.run(None, feed)
            times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "vmhwm_kib": vmhwm_kib()}))


def export_onnx(model_dir, onnx_path):
    import torch
    from safetensors.torch import load_file
    from transformers import MaskFormerForInstanceSegmentation
    model = MaskFormerForInstanceSegmentation.from_pretrained(model_dir).eval()
    pv = load_file(str(Path(model_dir) / "pixel_values.safetensors"))["pixel_values"]

    class Wrap(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            out = self.m(pixel_values=pixel_values)
            return out.class_queries_logits, out.masks_queries_logits

    with torch.no_grad():
        torch.onnx.export(Wrap(model), (pv,), onnx_path, input_names=["pixel_values"],
                          output_names=["class_queries_logits", "masks_queries_logits"], opset_version=17,
                          dynamo=False)


def run_child(args):
    out = subprocess.run(args, check=True, capture_output=True, text=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=2, help="forwards per engine per round")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--onnx", default=None)
    a = ap.parse_args()
    onnx_path = a.onnx or str(Path(a.model_dir) / "model.fp32.onnx")
    if a.worker:
        worker(a.worker, a.model_dir, a.threads, a.runs, onnx_path)
        return
    if not Path(onnx_path).exists():
        export_onnx(a.model_dir, onnx_path)
    binary = REPO / ".build" / "release" / "edge-seg"
    results = {e: {"times": [], "vmhwm": []} for e in ("edge-seg", "pytorch", "onnxruntime")}
    for r in range(a.rounds):
        for engine in results:
            if engine == "edge-seg":
                p = run_child([str(binary), "run", "--precision", "float32", a.model_dir, "--pixel-values",
                               str(Path(a.model_dir) / "pixel_values.safetensors"), "--raw", "/tmp/edge-seg-bench-raw.safetensors",
                               "--threads", str(a.threads), "--runs", str(a.runs), "--warmup", "1", "--times-json"])
                d = json.loads(p.stdout.strip().splitlines()[-1])
            else:
                p = run_child([sys.executable, __file__, a.model_dir, "--threads", str(a.threads), "--runs", str(a.runs),
                               "--worker", engine, "--onnx", onnx_path])
                d = json.loads(p.stdout.strip().splitlines()[-1])
            results[engine]["times"] += d["times"]
            results[engine]["vmhwm"].append(d["vmhwm_kib"])
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    ours = statistics.median(results["edge-seg"]["times"])
    cfg = json.loads((Path(a.model_dir) / "config.json").read_text())
    size = Path(a.model_dir, "model.safetensors").stat().st_size
    print(f"| engine (fp32, {a.threads} threads) | median forward (s) | min (s) | vs edge-seg | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for engine, r in results.items():
        med = statistics.median(r["times"])
        print(f"| {engine} | {med:.3f} | {min(r['times']):.3f} | {med / ours:.2f}x | {max(r['vmhwm']) / 1024:.0f} |")
    print(f"\nmodel: {a.model_dir} (embed {cfg['backbone_config']['embed_dim']}, depths {cfg['backbone_config']['depths']}, "
          f"{len(cfg['id2label'])} labels, checkpoint {size / 1e6:.1f} MB); {a.rounds} rounds x {a.runs} runs per engine, "
          f"interleaved; 'vs edge-seg' = engine time / edge-seg time (above 1: edge-seg is faster)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"torch {__import__('torch').__version__}, onnxruntime {__import__('onnxruntime').__version__}")


if __name__ == "__main__":
    main()
