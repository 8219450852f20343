"""End-to-end benchmark: edge-seg (float32 checkpoint and int8 file) vs PyTorch (transformers) fp32 and
ONNX Runtime fp32 and int8 quantized the ways a performance-minded user would try (static QDQ,
per-channel weights: U8S8, unsigned activations, ORT's fast path on x86 VNNI; and S8S8; each with every op
type quantize_static quantizes and with MatMul/Conv/Gemm only), same weights, same input, same calibration
images. The fastest ORT int8 is the bar.

    ~/hfref/bin/python tools/reference/maskformer_ref.py big swin-tiny-ade models/sta
    swift build -c release
    .build/release/edge-seg convert models/sta -o models/sta/model.int8.eseg --samples 8
    ~/hfref/bin/python bench/e2e.py models/sta --threads 2 --rounds 5

ONNX Runtime's int8 models are quantized here with onnxruntime.quantization.quantize_static (QDQ,
per-channel, MinMax, activations QUInt8 and QInt8, weights QInt8; all op types or MatMul/Conv/Gemm) on the same calibration images
(Calibration/*.png through the checkpoint's MaskFormerImageProcessor), exactly as a user of ORT would.
The machine's measured peaks (`kernel-bench --peak`) are printed with the table.

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
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def hf_classes(model_dir):
    """The transformers model and image-processor classes of a checkpoint folder: MaskFormer's, or Mask2Former's
    when config.json says model_type "mask2former" (issue 21)."""
    import transformers
    kind = json.loads((Path(model_dir) / "config.json").read_text()).get("model_type", "maskformer")
    if kind == "mask2former":
        return transformers.Mask2FormerForUniversalSegmentation, transformers.Mask2FormerImageProcessor
    return transformers.MaskFormerForInstanceSegmentation, transformers.MaskFormerImageProcessor


def vmhwm_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def worker(engine, model_dir, threads, runs, onnx_path):
    """Runs in a child process: loads one engine, times `runs` forwards, prints JSON."""
    times = []
    if engine == "pytorch":
        import torch
        from safetensors.torch import load_file
        torch.set_num_threads(threads)
        pv = load_file(str(Path(model_dir) / "pixel_values.safetensors"))["pixel_values"]
        model = hf_classes(model_dir)[0].from_pretrained(model_dir).eval()
        with torch.inference_mode():
            model(pixel_values=pv)
            for _ in range(runs):
                t = time.perf_counter()
                model(pixel_values=pv)
                times.append(time.perf_counter() - t)
    elif engine == "onnxruntime" or engine in ORT_INT8:
        import onnxruntime as ort
        if engine in ORT_INT8:
            onnx_path = int8_path_for(onnx_path, engine)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        # numpy loader: the ORT process must not carry torch in its peak RSS.
        from safetensors.numpy import load_file as load_np
        feed = {"pixel_values": load_np(str(Path(model_dir) / "pixel_values.safetensors"))["pixel_values"]}
        sess.run(None, feed)
        for _ in range(runs):
            t = time.perf_counter()
            sess.run(None, feed)
            times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "vmhwm_kib": vmhwm_kib()}))


def export_onnx(model_dir, onnx_path):
    import torch
    from safetensors.torch import load_file
    # Mask2Former: the traced sampling locations come out float64 (reference points over an int64 offset
    # normalizer), and ONNX Runtime 1.32 has no GridSample for a float64 grid on float32 values ("NOT_IMPLEMENTED:
    # Could not find an implementation for GridSample(16)"). The fix a user would make: cast them to the
    # values' type before sampling (the same float32 arithmetic as in PyTorch).
    import transformers.models.mask2former.modeling_mask2former as m2f
    if not getattr(m2f.multi_scale_deformable_attention, "edge_seg_cast", False):
        original = m2f.multi_scale_deformable_attention

        def cast(value, shapes, locations, weights):
            return original(value, shapes, locations.to(value.dtype), weights)
        cast.edge_seg_cast = True
        m2f.multi_scale_deformable_attention = cast
    model = hf_classes(model_dir)[0].from_pretrained(model_dir).eval()
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


# ORT int8 configurations: name -> (file suffix, activation type name in onnxruntime.quantization.QuantType,
# op types to quantize: None for quantize_static's default, every op type it can). The "-matmul" ones quantize
# only MatMul, Conv and Gemm: what a user tries when the default breaks a model, as it does Mask2Former's
# (mask-logit cosine vs fp32 about 0: its attention-mask path quantized; bench/drift_vs_ort.py).
MATMUL_OPS = ["MatMul", "Conv", "Gemm"]
ORT_INT8 = {"onnxruntime-int8-u8s8": ("u8s8", "QUInt8", None), "onnxruntime-int8-s8s8": ("s8s8", "QInt8", None),
            "onnxruntime-int8-u8s8-matmul": ("u8s8-matmul", "QUInt8", MATMUL_OPS),
            "onnxruntime-int8-s8s8-matmul": ("s8s8-matmul", "QInt8", MATMUL_OPS)}


def int8_path_for(fp32_path, engine):
    return fp32_path.replace(".fp32.onnx", f".int8-{ORT_INT8[engine][0]}.onnx")


def quantize_onnx(model_dir, fp32_path, int8_path, activation="QInt8", ops=None):
    import numpy as np
    from PIL import Image
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    proc = hf_classes(model_dir)[1].from_pretrained(model_dir)
    pv = __import__("safetensors.torch", fromlist=["load_file"]).load_file(str(Path(model_dir) / "pixel_values.safetensors"))["pixel_values"]
    h, w = pv.shape[2:]
    images = sorted((REPO / "Calibration").glob("*.png"))[:8]

    class Reader(CalibrationDataReader):
        def __init__(self):
            # The exported graph has a fixed input size: calibrate at it.
            self.items = iter([{"pixel_values": proc(images=Image.open(p).convert("RGB").resize((w, h)),
                                                     return_tensors="np", size={"height": h, "width": w})["pixel_values"].astype(np.float32)}
                               for p in images])

        def get_next(self):
            return next(self.items, None)

    pre = fp32_path.replace(".fp32.onnx", ".pre.onnx")
    if not Path(pre).exists():
        quant_pre_process(fp32_path, pre, skip_symbolic_shape=True)
    # Not CalibMaxIntermediateOutputs: in onnxruntime 1.32 MinMaxCalibrater.collect_data clears the
    # collected outputs every N images without computing their ranges first ("No data is collected").
    quantize_static(pre, int8_path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=getattr(QuantType, activation), weight_type=QuantType.QInt8, op_types_to_quantize=ops)


def quantize_in_child(model_dir, fp32_path, int8_path, activation="QInt8"):
    """quantize_onnx in a child process, once: ORT's calibration of a large fixed-size graph can grow past
    the machine's memory (swin-base at 800x1088: 23 GB), which must not end or stall the caller. Returns None on success, else the reason (also left in INT8_PATH.failed for later runs)."""
    import subprocess
    failed = Path(str(int8_path) + ".failed")
    if Path(int8_path).exists():
        return None
    if failed.exists():
        return failed.read_text().strip()
    code = (f"import sys; sys.path.insert(0, {str(REPO / 'bench')!r}); import e2e; "
            f"e2e.quantize_onnx({str(model_dir)!r}, {str(fp32_path)!r}, {str(int8_path)!r}, {activation!r})")
    def limit():   # address space capped at 60 % of RAM: a MemoryError, not an OOM kill that stalls the machine
        import resource
        cap = int(0.6 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, preexec_fn=limit)
    if p.returncode == 0:
        return None
    last = (p.stderr.strip().splitlines() or ["?"])[-1]
    reason = ("killed (out of memory)" if p.returncode in (-9, 137) else
              "out of memory (over 60 % of RAM)" if "MemoryError" in p.stderr or "bad_alloc" in p.stderr or "Failed to allocate" in p.stderr else last)
    failed.write_text(f"onnxruntime quantize_static failed: {reason}\n")
    return failed.read_text().strip()


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
    ap.add_argument("--engines", default=None, help="comma-separated subset of the engines")
    a = ap.parse_args()
    onnx_path = a.onnx or str(Path(a.model_dir) / "model.fp32.onnx")
    if a.worker:
        worker(a.worker, a.model_dir, a.threads, a.runs, onnx_path)
        return
    if not Path(onnx_path).exists():
        export_onnx(a.model_dir, onnx_path)
    for engine, (_, activation, ops) in ORT_INT8.items():
        if not Path(int8_path_for(onnx_path, engine)).exists():
            quantize_onnx(a.model_dir, onnx_path, int8_path_for(onnx_path, engine), activation, ops)
    int8_file = str(Path(a.model_dir) / "model.int8.eseg")
    binary = REPO / ".build" / "release" / "edge-seg"
    engines = ["edge-seg-int8", *ORT_INT8, "edge-seg", "pytorch", "onnxruntime"]
    if a.engines:
        engines = [e for e in engines if e in a.engines.split(",")]
    results = {e: {"times": [], "vmhwm": []} for e in engines}
    for r in range(a.rounds):
        for engine in results:
            if engine.startswith("edge-seg"):
                model = int8_file if engine == "edge-seg-int8" else a.model_dir
                p = run_child([str(binary), "run", model, "--pixel-values",
                               str(Path(a.model_dir) / "pixel_values.safetensors"), "--raw", str(Path(tempfile.gettempdir()) / "edge-seg-bench-raw.safetensors"),
                               "--threads", str(a.threads), "--runs", str(a.runs), "--warmup", "1", "--times-json"])
                d = json.loads(p.stdout.strip().splitlines()[-1])
            else:
                p = run_child([sys.executable, __file__, a.model_dir, "--threads", str(a.threads), "--runs", str(a.runs),
                               "--worker", engine, "--onnx", onnx_path])
                d = json.loads(p.stdout.strip().splitlines()[-1])
            results[engine]["times"] += d["times"]
            results[engine]["vmhwm"].append(d["vmhwm_kib"])
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    ours = statistics.median(results["edge-seg-int8"]["times"])
    ort8 = {e: statistics.median(results[e]["times"]) for e in ORT_INT8 if e in results}
    bar = min(ort8, key=ort8.get) if ort8 else None
    cfg = json.loads((Path(a.model_dir) / "config.json").read_text())
    size = Path(a.model_dir, "model.safetensors").stat().st_size
    print(f"| engine ({a.threads} threads) | median forward (s) | min (s) | time / edge-seg int8 | peak RSS (MB) |")
    print("|---|---|---|---|---|")
    for engine, r in results.items():
        med = statistics.median(r["times"])
        mark = " (the bar: fastest ORT int8)" if engine == bar else ""
        print(f"| {engine}{mark} | {med:.3f} | {min(r['times']):.3f} | {med / ours:.2f}x | {max(r['vmhwm']) / 1024:.0f} |")
    if bar:
        print(f"\nedge-seg int8 against the bar ({bar}): {ort8[bar] / ours:.2f}x its speed (above 1: edge-seg is faster)")
    print(f"\nmodel: {a.model_dir} (embed {cfg['backbone_config']['embed_dim']}, depths {cfg['backbone_config']['depths']}, "
          f"{len(cfg['id2label'])} labels, checkpoint {size / 1e6:.1f} MB); {a.rounds} rounds x {a.runs} runs per engine, "
          f"interleaved; last column but one: engine time / edge-seg int8 time (above 1: edge-seg int8 is faster)")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"torch {__import__('torch').__version__}, onnxruntime {__import__('onnxruntime').__version__}")
    peaks = REPO / ".build" / "release" / "kernel-bench"
    if peaks.exists():
        p = subprocess.run([str(peaks), "--peak"], capture_output=True, text=True)
        print("measured peaks (kernel-bench --peak): " + " ".join((p.stdout or p.stderr).split()))


if __name__ == "__main__":
    main()
