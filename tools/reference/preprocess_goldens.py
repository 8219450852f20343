"""Preprocessing goldens: transformers' pixel_values for real photos (Calibration/) and synthetic
images that hit the max-size rule, odd sizes, EXIF orientations, gray, palette and RGBA inputs.

    ~/hfref/bin/python tools/reference/preprocess_goldens.py Calibration Tests/Fixtures/preprocess

Loads every image exactly as pipeline("image-segmentation") does (transformers.image_utils.load_image:
EXIF transpose, then RGB) and runs MaskFormerImageProcessor (PIL backend: no torchvision in the venv)
under two configs. Writes the synthetic PNGs and golden.json with, per image and config, the
pixel_values shape and the SHA-256 of its float32 little-endian bytes, plus the SHA-256 of Pillow's
uint8 resize alone (to tell a resize bug from a normalize bug).
"""
import hashlib
import io
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image
from transformers import MaskFormerImageProcessor
from transformers.image_utils import load_image

CONFIGS = {
    "ade": {"shortest_edge": 512, "longest_edge": 2048},
    "coco": {"shortest_edge": 800, "longest_edge": 1333},
}


def add_exif(png_bytes, orientation):
    """Insert an eXIf chunk (big-endian TIFF, one IFD entry: Orientation) after IHDR."""
    exif = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + b"\x00\x00\x00\x00"
    chunk = struct.pack(">I", len(exif)) + b"eXIf" + exif + struct.pack(">I", zlib.crc32(b"eXIf" + exif) & 0xFFFFFFFF)
    return png_bytes[:33] + chunk + png_bytes[33:]


def synthetic(calib, out):
    out.mkdir(parents=True, exist_ok=True)
    photo = Image.open(calib / "coffee.png").convert("RGB")
    made = {}
    made["strip_100x1000.png"] = photo.resize((1000, 100), Image.BILINEAR)     # max-size rule (aspect 10)
    made["tall_1000x70.png"] = photo.resize((70, 1000), Image.BILINEAR)         # max-size rule, portrait
    made["odd_37x51.png"] = photo.resize((51, 37), Image.BILINEAR)              # upscale, odd sizes
    made["big_700x1000.png"] = photo.resize((1000, 700), Image.BILINEAR)        # downscale
    made["exact_512x683.png"] = photo.resize((683, 512), Image.BILINEAR)        # short side already 512
    made["palette_120x90.png"] = photo.resize((90, 120)).convert("P", palette=Image.ADAPTIVE, colors=37)
    rgba = photo.resize((77, 66)).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((77, 66)))
    made["rgba_66x77.png"] = rgba
    made["gray_64x48.png"] = photo.resize((48, 64)).convert("L")
    for name, im in made.items():
        im.save(out / name)
    base = io.BytesIO()
    photo.resize((90, 60), Image.BILINEAR).save(base, format="PNG")
    for orient in (3, 6, 8):
        (out / f"exif{orient}_60x90.png").write_bytes(add_exif(base.getvalue(), orient))
    # JPEG photos: EXIF-rotated 4:2:0 baseline, and progressive 4:2:2.
    rocket = Image.open(calib / "rocket.png").convert("RGB").resize((320, 213), Image.BILINEAR)
    tiff = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + struct.pack(">HHIHH", 0x0112, 3, 1, 6, 0) + b"\x00\x00\x00\x00"
    rocket.save(out / "rocket_exif6_320x213.jpg", quality=88, subsampling=2, exif=b"Exif\x00\x00" + tiff)
    photo.resize((301, 203), Image.BILINEAR).save(out / "coffee_prog422_301x203.jpg", quality=80, subsampling=1, progressive=True)
    return sorted(p.name for p in out.iterdir() if p.suffix in (".png", ".jpg"))


def main(calib, out):
    calib, out = Path(calib), Path(out)
    names = synthetic(calib, out)
    entries = []
    images = [(f"Calibration/{p.name}", p) for p in sorted(calib.glob("*.png"))] + [
        (f"Tests/Fixtures/preprocess/{n}", out / n) for n in names]
    for label, path in images:
        img = load_image(str(path))
        for cfg_name, size in CONFIGS.items():
            proc = MaskFormerImageProcessor(size=size)
            pv = proc(images=img, return_tensors="np")["pixel_values"][0].astype(np.float32)
            h, w = pv.shape[1:]
            resized = np.asarray(img.resize((w, h), Image.BILINEAR)) if (w, h) != img.size else np.asarray(img)
            entries.append({
                "image": label, "config": cfg_name, "original": [img.height, img.width], "shape": list(pv.shape),
                "sha256": hashlib.sha256(pv.astype("<f4").tobytes()).hexdigest(),
                "resized_uint8_sha256": hashlib.sha256(resized.astype(np.uint8).tobytes()).hexdigest(),
                "first_values": [float(v) for v in pv.reshape(-1)[:4]],
            })
    (out / "golden.json").write_text(json.dumps({"configs": CONFIGS, "entries": entries}, indent=1))
    print(f"{len(entries)} goldens for {len(images)} images")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
