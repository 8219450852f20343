"""int8 drift of a Mask2Former model file against its float32 checkpoint (issue 21), on drift_vs_ort.py's
photos (four outside the calibration set, one inside), at SIZE x SIZE:

    ~/hfref/bin/python bench/m2f_drift.py work/m2t [SIZE] [RUN OPTIONS...]   # needs work/m2t/model.int8.eseg (edge-seg convert)

RUN OPTIONS go to the int8 run (e.g. --float-attention).

Prints per photo the cosine similarity and SQNR of the int8 mask and class logits against float32.
"""
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from safetensors.numpy import load_file, save_file
from transformers import Mask2FormerImageProcessor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from drift_vs_ort import PHOTOS, metrics  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def main():
    d = Path(sys.argv[1])
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 384
    extra = sys.argv[3:]
    proc = Mask2FormerImageProcessor.from_pretrained(d)
    tmp = Path(tempfile.mkdtemp())
    binary = REPO / ".build/release/edge-seg"
    print(f"| photo ({size}x{size}) | int8 vs float32: mask cosine | SQNR dB | class cosine | SQNR dB |")
    print("|---|---|---|---|---|")
    for name, load in PHOTOS.items():
        img = load()
        img = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]
        pv = proc(images=Image.fromarray(img).resize((size, size)), return_tensors="np",
                  size={"height": size, "width": size})["pixel_values"].astype(np.float32)
        save_file({"pixel_values": pv}, str(tmp / "pv.safetensors"))
        outs = {}
        for key, model, opts in [("int8", d / "model.int8.eseg", extra), ("f32", d, [])]:
            subprocess.run([str(binary), "run", str(model), "--pixel-values", str(tmp / "pv.safetensors"), "--raw",
                            str(tmp / f"{key}.safetensors"), *opts], check=True, capture_output=True)
            o = load_file(str(tmp / f"{key}.safetensors"))
            outs[key] = (o["class_queries_logits"], o["masks_queries_logits"])
        m, c = metrics(outs["int8"][1], outs["f32"][1]), metrics(outs["int8"][0], outs["f32"][0])
        print(f"| {name} | {m[0]:.5f} | {m[1]:.1f} | {c[0]:.5f} | {c[1]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
