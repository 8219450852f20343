"""Calibration/: real photographs under public-domain or CC0 terms, taken from scikit-image's wheel
(skimage/data; each licence is quoted from skimage/data/_fetchers.py), downscaled so the longest
side is at most 640 px, stored as PNG.

    ~/hfref/bin/pip install scikit-image==0.26.0
    ~/hfref/bin/python tools/images/make_calibration.py Calibration
"""
import hashlib
import sys
from pathlib import Path

import skimage
from PIL import Image

# file in skimage/data, licence as its docstring states it
PHOTOS = [
    ("astronaut.png", "No known copyright restrictions, released into the public domain (NASA)."),
    ("camera.png", "No copyright restrictions. CC0 by the photographer (Lav Varshney)."),
    ("chelsea.png", "No copyright restrictions. CC0 by the photographer (Stefan van der Walt)."),
    ("coffee.png", "No copyright restrictions. CC0 by the photographer (Rachel Michetti)."),
    ("hubble_deep_field.jpg", "Captured by NASA, may be freely used in the public domain."),
    ("retina.jpg", "Creative Commons CC0 1.0 Universal Public Domain Dedication (Häggström, Wikimedia)."),
    ("rocket.jpg", "Captured by SpaceX, released in the public domain."),
    ("clock_motion.png", "Released into the public domain by the photographer (Stefan van der Walt)."),
]


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data = Path(skimage.__file__).parent / "data"
    rows = []
    for name, licence in PHOTOS:
        im = Image.open(data / name)
        im.load()
        scale = min(1.0, 640 / max(im.size))
        if scale < 1:
            im = im.resize((round(im.width * scale), round(im.height * scale)), Image.LANCZOS)
        dst = out / (Path(name).stem + ".png")
        im.save(dst, optimize=True)
        digest = hashlib.sha256(dst.read_bytes()).hexdigest()[:16]
        rows.append(f"| {dst.name} | {im.width}x{im.height} {im.mode} | skimage {skimage.__version__} `data/{name}` | {licence} | {digest} |")
    (out / "README.md").write_text(
        "# Calibration images\n\n"
        "The default calibration set of `edge-seg convert`: real photographs under public-domain or CC0 terms,\n"
        "from scikit-image's wheel (`skimage/data`; each licence is the one its `skimage.data` docstring gives),\n"
        "downscaled to at most 640 px on the longest side (Pillow LANCZOS) and stored as PNG.\n"
        "Regenerate with `tools/images/make_calibration.py Calibration`.\n\n"
        "| file | size | source | licence | sha256 (first 16) |\n|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1])
