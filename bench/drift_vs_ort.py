"""int8 drift of edge-seg and of ONNX Runtime, each against its own float32 model, on the same photos
(outside the calibration set) and the same random-init swin-tiny-ade weights at 512x512.

    ~/hfref/bin/python bench/drift_vs_ort.py work/sta      # needs model.int8.eseg and the ONNX files from bench/e2e.py

Prints, per photo, the cosine similarity and SQNR of int8 mask logits (and class logits) against the
float32 ones: edge-seg int8 (int8 window attention, and with --float-attention) vs edge-seg float32, ONNX
Runtime int8 (static QDQ, U8S8 and S8S8, and both with MatMul/Conv/Gemm only: bench/e2e.py's configurations)
vs ONNX Runtime fp32. Works on a Mask2Former directory as well (work/m2t512: its ONNX files are 512x512).
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
import skimage.data
from PIL import Image
from safetensors.numpy import load_file, save_file
from transformers import MaskFormerImageProcessor

REPO = Path(__file__).resolve().parent.parent
PHOTOS = {"motorcycle": lambda: skimage.data.stereo_motorcycle()[0], "grass": skimage.data.grass, "coins": skimage.data.coins,
          "immunohistochemistry": skimage.data.immunohistochemistry, "coffee-cup (calibration)": skimage.data.coffee}


def metrics(a, r):
    a, r = a.astype(np.float64).ravel(), r.astype(np.float64).ravel()
    cos = float(a @ r / (np.linalg.norm(a) * np.linalg.norm(r)))
    sqnr = float(10 * np.log10((r @ r) / ((a - r) @ (a - r))))
    return cos, sqnr


def main():
    d = Path(sys.argv[1])
    proc = MaskFormerImageProcessor.from_pretrained(d)
    sessions = {k: ort.InferenceSession(str(d / f"model.{k}.onnx"), providers=["CPUExecutionProvider"])
                for k in ("fp32", "int8-u8s8", "int8-s8s8", "int8-u8s8-matmul", "int8-s8s8-matmul")
                if (d / f"model.{k}.onnx").exists()}
    tmp = Path(tempfile.mkdtemp())
    binary = REPO / ".build/release/edge-seg"
    print("| photo | edge-seg int8 vs float32: mask cosine | SQNR dB | class cosine | the same, float attention: mask cosine | SQNR dB "
          "| ORT int8 U8S8 vs fp32: mask cosine | SQNR dB | class cosine | ORT int8 S8S8: mask cosine | SQNR dB "
          "| ORT U8S8 MatMul/Conv/Gemm only: mask cosine | class cosine | ORT S8S8 MatMul/Conv/Gemm only: mask cosine |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, load in PHOTOS.items():
        img = load()
        img = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]
        pv = proc(images=Image.fromarray(img).resize((512, 512)), return_tensors="np",
                  size={"height": 512, "width": 512})["pixel_values"].astype(np.float32)
        save_file({"pixel_values": pv}, str(tmp / "pv.safetensors"))
        outs = {}
        for key, model, extra in [("es-int8", d / "model.int8.eseg", []), ("es-int8-fa", d / "model.int8.eseg", ["--float-attention"]),
                                  ("es-f32", d, [])]:
            subprocess.run([str(binary), "run", str(model), "--pixel-values", str(tmp / "pv.safetensors"), "--raw",
                            str(tmp / f"{key}.safetensors"), *extra], check=True, capture_output=True)
            o = load_file(str(tmp / f"{key}.safetensors"))
            outs[key] = (o["class_queries_logits"], o["masks_queries_logits"])
        for key, s in sessions.items():
            outs["ort-" + key] = tuple(s.run(None, {"pixel_values": pv}))
        em, ec = metrics(outs["es-int8"][1], outs["es-f32"][1]), metrics(outs["es-int8"][0], outs["es-f32"][0])
        fm = metrics(outs["es-int8-fa"][1], outs["es-f32"][1])
        om, oc = metrics(outs["ort-int8-u8s8"][1], outs["ort-fp32"][1]), metrics(outs["ort-int8-u8s8"][0], outs["ort-fp32"][0])
        sm = metrics(outs["ort-int8-s8s8"][1], outs["ort-fp32"][1])
        mm = {k: (metrics(outs[k][1], outs["ort-fp32"][1])[0], metrics(outs[k][0], outs["ort-fp32"][0])[0]) if k in outs else (float("nan"),) * 2
              for k in ("ort-int8-u8s8-matmul", "ort-int8-s8s8-matmul")}
        print(f"| {name} | {em[0]:.5f} | {em[1]:.1f} | {ec[0]:.5f} | {fm[0]:.5f} | {fm[1]:.1f} | {om[0]:.5f} | {om[1]:.1f} | {oc[0]:.5f} "
              f"| {sm[0]:.5f} | {sm[1]:.1f} | {mm['ort-int8-u8s8-matmul'][0]:.5f} | {mm['ort-int8-u8s8-matmul'][1]:.5f} "
              f"| {mm['ort-int8-s8s8-matmul'][0]:.5f} |", flush=True)


if __name__ == "__main__":
    main()
