"""PNG decoder corpus: every colour type x bit depth x interlace, written by this script's own PNG
writer (Pillow cannot write Adam7 or most low bit depths), decoded by Pillow for the expected pixels.

    ~/hfref/bin/python tools/images/make_png_corpus.py Tests/Fixtures/png

Writes NAME.png and NAME.rgb (Pillow's Image.open(NAME.png).convert("RGB").tobytes()) plus
manifest.json (name, width, height, Pillow mode). Seeded: the same corpus every run.
"""
import json
import random
import struct
import sys
import zlib
from pathlib import Path

from PIL import Image

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def chunk(t, body):
    return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body) & 0xFFFFFFFF)


def pack_row(samples, depth):
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    out, acc, n = bytearray(), 0, 0
    for s in samples:
        acc = acc << depth | s
        n += depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)


def filter_row(row, prev, bpp, f):
    out = bytearray(len(row))
    for i in range(len(row)):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 0: p = 0
        elif f == 1: p = a
        elif f == 2: p = b
        elif f == 3: p = (a + b) // 2
        else:
            pp = a + b - c
            pa, pb, pc = abs(pp - a), abs(pp - b), abs(pp - c)
            p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
        out[i] = (row[i] - p) & 0xFF
    return bytes(out)


def write_png(path, w, h, ctype, depth, interlace, pixels, rng, palette=None, trns=None, exif=None):
    ch = CHANNELS[ctype]
    bpp = max(1, ch * depth // 8)
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        pw, ph = (w - x0 + dx - 1) // dx, (h - y0 + dy - 1) // dy
        if pw <= 0 or ph <= 0:
            continue
        prev = bytes((pw * ch * depth + 7) // 8)
        for y in range(ph):
            samples = []
            for x in range(pw):
                samples += pixels[(y0 + y * dy) * w + x0 + x * dx]
            row = pack_row(samples, depth)
            f = rng.randrange(5)
            raw += bytes([f]) + filter_row(row, prev, bpp, f)
            prev = row
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, interlace))
    if palette:
        png += chunk(b"PLTE", bytes(palette))
    if trns is not None:
        png += chunk(b"tRNS", bytes(trns))
    if exif:
        png += chunk(b"eXIf", exif)
    data = zlib.compress(bytes(raw), rng.choice([0, 1, 6, 9]))
    # Split IDAT in two to exercise concatenation.
    half = len(data) // 2
    png += chunk(b"IDAT", data[:half]) + chunk(b"IDAT", data[half:]) + chunk(b"IEND", b"")
    Path(path).write_bytes(png)


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1234)
    manifest = []
    allowed = {0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]}
    sizes = [(1, 1), (7, 5), (33, 17)]
    for ctype, depths in allowed.items():
        for depth in depths:
            for interlace in (0, 1):
                for w, h in sizes:
                    ch = CHANNELS[ctype]
                    maxv = (1 << depth) - 1
                    palette = trns = None
                    if ctype == 3:
                        n = min(1 << depth, 1 + rng.randrange(1 << depth))
                        palette = [rng.randrange(256) for _ in range(3 * n)]
                        maxv = n - 1
                        if rng.random() < 0.5:
                            trns = [rng.randrange(256) for _ in range(rng.randrange(n) + 1)]
                    pixels = [[rng.randrange(maxv + 1) for _ in range(ch)] for _ in range(w * h)]
                    # Smooth gradient rows so the filters and LZ77 matter.
                    name = f"c{ctype}_d{depth}_i{interlace}_{w}x{h}"
                    write_png(out / f"{name}.png", w, h, ctype, depth, interlace, pixels, rng, palette, trns)
                    im = Image.open(out / f"{name}.png")
                    mode = im.mode
                    (out / f"{name}.rgb").write_bytes(im.convert("RGB").tobytes())
                    manifest.append({"name": name, "width": w, "height": h, "pillow_mode": mode})
    # EXIF orientation in an eXIf chunk (Pillow's exif_transpose honours it).
    for orient in range(1, 9):
        w, h = 5, 3
        pixels = [[rng.randrange(256) for _ in range(3)] for _ in range(w * h)]
        exif = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01" + struct.pack(">HHIHH", 0x0112, 3, 1, orient, 0) + b"\x00\x00\x00\x00"
        name = f"exif_orientation{orient}"
        write_png(out / f"{name}.png", w, h, 2, 8, 0, pixels, rng, exif=exif)
        from PIL import ImageOps
        im = ImageOps.exif_transpose(Image.open(out / f"{name}.png")).convert("RGB")
        (out / f"{name}.rgb").write_bytes(im.tobytes())
        manifest.append({"name": name, "width": im.width, "height": im.height, "pillow_mode": "RGB", "exif_transpose": True})
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"{len(manifest)} images in {out}")


if __name__ == "__main__":
    main(sys.argv[1])
