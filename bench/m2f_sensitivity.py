"""How sensitive a random-init Mask2Former is on bench/drift_vs_ort.py's photos (issue 21's int8 cosine bar):
the float32 model (edge-seg, checkpoint folder) on each photo's pixel values and on the same pixel values
plus seeded Gaussian noise at 50, 45 and 40 dB SNR; prints the mask-logit cosine of the noisy runs against
the clean one. At 40 dB the noise's RMS is about 0.6 of one 8-bit grey level of the photo.

    ~/hfref/bin/python bench/m2f_sensitivity.py work/m2t [SIZE]
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
    tmp = Path(tempfile.mkdtemp())
    proc = Mask2FormerImageProcessor.from_pretrained(d)
    rng = np.random.default_rng(0)
    snrs = (50, 45, 40)
    print(f"| photo ({size}x{size}) | " + " | ".join(f"float32, input noise {s} dB: mask cosine" for s in snrs) + " |")
    print("|---|" + "---|" * len(snrs))
    for name, load in PHOTOS.items():
        img = load()
        img = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]
        pv = proc(images=Image.fromarray(img).resize((size, size)), return_tensors="np",
                  size={"height": size, "width": size})["pixel_values"].astype(np.float32)
        outs = []
        for snr in (None, *snrs):
            noise = 0 if snr is None else rng.standard_normal(pv.shape).astype(np.float32) * np.sqrt((pv ** 2).mean() / 10 ** (snr / 10))
            save_file({"pixel_values": pv + noise}, str(tmp / "pv.safetensors"))
            subprocess.run([str(REPO / ".build/release/edge-seg"), "run", str(d), "--pixel-values", str(tmp / "pv.safetensors"),
                            "--raw", str(tmp / "o.safetensors")], check=True, capture_output=True)
            outs.append(load_file(str(tmp / "o.safetensors"))["masks_queries_logits"])
        print(f"| {name} | " + " | ".join(f"{metrics(o, outs[0])[0]:.5f}" for o in outs[1:]) + " |", flush=True)


if __name__ == "__main__":
    main()
