"""JPEG decoder corpus, written and decoded by Pillow (libjpeg-turbo): baseline and progressive,
quality 50/90/100, subsampling 4:4:4/4:2:2/4:2:0, grayscale, restart intervals, odd sizes from 1x1
to 1001x777, EXIF orientations 1-8.

    ~/hfref/bin/python tools/images/make_jpeg_corpus.py Calibration/coffee.png Tests/Fixtures/jpeg

Writes NAME.jpg and NAME.expected.png (Pillow's decoded RGB, after exif_transpose for the EXIF cases,
stored losslessly) plus manifest.json.
"""
import hashlib
import json
import struct
import sys
from pathlib import Path

from PIL import Image, ImageOps


def exif_bytes(orientation):
    ifd = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + b"\x00\x00\x00\x00"
    return b"Exif\x00\x00" + ifd


def main(photo_path, out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    photo = Image.open(photo_path).convert("RGB")
    manifest = []

    def save(name, im, **kw):
        path = out / f"{name}.jpg"
        im.save(path, format="JPEG", **kw)
        dec = Image.open(path)
        transpose = "exif" in kw
        if transpose:
            dec = ImageOps.exif_transpose(dec)
        dec = dec.convert("RGB")
        entry = {}
        if dec.width * dec.height > 100_000:
            # Large images: only a digest of the expected pixels (keeps the corpus small).
            entry["sha256"] = hashlib.sha256(dec.tobytes()).hexdigest()
        else:
            dec.save(out / f"{name}.expected.png")
        manifest.append({**entry, "name": name, "width": dec.width, "height": dec.height, "exif_transpose": transpose,
                         "options": {k: (v if not isinstance(v, bytes) else "exif") for k, v in kw.items()}})

    sizes = [(1, 1), (7, 5), (16, 16), (17, 9), (33, 31), (120, 77)]
    for w, h in sizes:
        crop = photo.resize((w, h), Image.BILINEAR)
        for q in (50, 90, 100):
            for sub in (0, 1, 2):
                for prog in (False, True):
                    save(f"s{w}x{h}_q{q}_sub{sub}_{'prog' if prog else 'base'}", crop, quality=q, subsampling=sub, progressive=prog)
        gray = crop.convert("L")
        for prog in (False, True):
            save(f"s{w}x{h}_gray_{'prog' if prog else 'base'}", gray, quality=90, progressive=prog)
    big = photo.resize((1001, 777), Image.BILINEAR)
    save("big_sub2_base", big, quality=90, subsampling=2)
    save("big_sub1_prog", big, quality=75, subsampling=1, progressive=True)
    mid = photo.resize((203, 117), Image.BILINEAR)
    for rst in (1, 3, 10):
        save(f"restart{rst}_sub2", mid, quality=85, subsampling=2, restart_marker_blocks=rst)
        save(f"restart{rst}_sub0_prog", mid, quality=85, subsampling=0, progressive=True, restart_marker_blocks=rst)
    save("restart_rows2_sub1", mid, quality=85, subsampling=1, restart_marker_rows=2)
    small = photo.resize((45, 30), Image.BILINEAR)
    for o in range(1, 9):
        save(f"exif{o}", small, quality=90, subsampling=2, exif=exif_bytes(o))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    total = sum(p.stat().st_size for p in out.iterdir())
    print(f"{len(manifest)} JPEGs, {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
