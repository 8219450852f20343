"""Synthetic panoptic dataset for edge-seg's demo model ("shapes").

Things (instances): circle, square, triangle, cross - varied colour, fill (mostly solid, some faint
stripes or dots), size, rotation, with occlusion. By default each thing class has its own hue family
(circle red, square green, triangle blue, cross yellow; hue +-20 degrees, saturation and brightness
varied): a model of the bundled size trained for an hour on CPU did not learn to tell the four shapes
apart by outline alone (Models/shapes/README.md has the evidence); `--palette any` draws any colour. Stuff (background): plain gradient, stripes, checker - one or
two regions per image, split by a random straight boundary. Every image and annotation follows from
the seed, so train and validation are disjoint by seed:

    ~/hfref/bin/python tools/demo/make_dataset.py work/shapes/train --count 3000 --seed 1
    ~/hfref/bin/python tools/demo/make_dataset.py work/shapes/val --count 200 --seed 2

Output (COCO panoptic layout): images/NNNNN.png (RGB), panoptic/NNNNN.png (segment id = R + 256 G +
65536 B, 0 = void), panoptic.json with images, annotations (segments_info: id, category_id, area,
bbox, iscrowd, isthing) and categories. Category ids are the model's label ids (0-based).
"""
import argparse
import json
import colorsys
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

THINGS = ["circle", "square", "triangle", "cross"]
STUFF = ["gradient", "stripes", "checker"]
CATEGORIES = [dict(id=i, name=n, isthing=1) for i, n in enumerate(THINGS)] + \
             [dict(id=len(THINGS) + i, name=n, isthing=0) for i, n in enumerate(STUFF)]
SIZE = 128
# Hue centre (degrees) of each thing class with --palette class.
THING_HUES = dict(circle=0, square=120, triangle=220, cross=55)


def colour(rng, lo=40, hi=255):
    return rng.integers(lo, hi, 3)


def stuff_texture(rng, kind, size):
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    a, b = colour(rng).astype(np.float32), colour(rng).astype(np.float32)
    if kind == "gradient":
        t = (x * math.cos(rng.uniform(0, 6.3)) + y * math.sin(rng.uniform(0, 6.3))) / size
        t = (t - t.min()) / max(1e-6, t.max() - t.min())
        img = a + (b - a) * t[..., None] * 0.5
    elif kind == "stripes":
        ang, period = rng.uniform(0, math.pi), rng.uniform(6, 14)
        t = ((x * math.cos(ang) + y * math.sin(ang)) // (period / 2)) % 2
        img = np.where(t[..., None] > 0, a, b)
    else:
        cell = int(rng.integers(5, 12))
        t = ((x // cell) + (y // cell)) % 2
        img = np.where(t[..., None] > 0, a, b)
    img = img + rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255)


def thing_polygon(kind, cx, cy, r, rot):
    if kind == "square":
        pts = [(math.cos(rot + k * math.pi / 2 + math.pi / 4), math.sin(rot + k * math.pi / 2 + math.pi / 4)) for k in range(4)]
    elif kind == "triangle":
        pts = [(math.cos(rot + k * 2 * math.pi / 3), math.sin(rot + k * 2 * math.pi / 3)) for k in range(3)]
    elif kind == "cross":
        w = 0.35
        base = [(w, 1), (w, w), (1, w), (1, -w), (w, -w), (w, -1), (-w, -1), (-w, -w), (-1, -w), (-1, w), (-w, w), (-w, 1)]
        pts = [(px * math.cos(rot) - py * math.sin(rot), px * math.sin(rot) + py * math.cos(rot)) for px, py in base]
    else:
        return None
    return [(cx + r * px, cy + r * py) for px, py in pts]


def thing_mask(kind, cx, cy, r, rot, size):
    m = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(m)
    if kind == "circle":
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=255)
    else:
        d.polygon(thing_polygon(kind, cx, cy, r, rot), fill=255)
    return np.asarray(m) > 127


def class_colour(rng, kind):
    h = (THING_HUES[kind] + rng.uniform(-20, 20)) % 360 / 360
    r, g, b = colorsys.hsv_to_rgb(h, rng.uniform(0.55, 1.0), rng.uniform(0.55, 1.0))
    return np.array([int(255 * r), int(255 * g), int(255 * b)])


def thing_fill(rng, size, kind=None):
    """Mostly solid colour (with sensor-like noise); a quarter of the things get a faint two-tone
    stripe or dot texture of nearby colours, so that texture alone never says "stuff". With a kind,
    the colour comes from that class's hue family."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    a = colour(rng) if kind is None else class_colour(rng, kind)
    b = np.clip(a + rng.integers(-40, 41, 3), 0, 255)
    style = 0 if rng.random() < 0.75 else int(rng.integers(1, 3))
    if style == 0:
        img = np.broadcast_to(a, (size, size, 3)).astype(np.float32)
    elif style == 1:
        ang, period = rng.uniform(0, math.pi), rng.uniform(4, 8)
        t = ((x * math.cos(ang) + y * math.sin(ang)) // (period / 2)) % 2
        img = np.where(t[..., None] > 0, a, b).astype(np.float32)
    else:
        period = int(rng.integers(4, 7))
        t = ((x % period) < 2) & ((y % period) < 2)
        img = np.where(t[..., None], b, a).astype(np.float32)
    return img + rng.normal(0, 4, img.shape)


def make_image(rng, size=SIZE, radius=(10, 28), palette="class"):
    """Returns (rgb uint8 HxWx3, segment id map int32 HxW, segments_info)."""
    ids = np.zeros((size, size), np.int32)
    segments = []
    # Stuff: one region, or two split by a line through the image.
    kinds = list(rng.choice(len(STUFF), size=2, replace=False))
    img = stuff_texture(rng, STUFF[kinds[0]], size)
    ids[:] = 1
    segments.append(dict(id=1, category_id=len(THINGS) + int(kinds[0]), iscrowd=0, isthing=0))
    if rng.random() < 0.6:
        y, x = np.mgrid[0:size, 0:size]
        ang, off = rng.uniform(0, 2 * math.pi), rng.uniform(-0.3, 0.3) * size
        side = (x - size / 2) * math.cos(ang) + (y - size / 2) * math.sin(ang) > off
        img = np.where(side[..., None], stuff_texture(rng, STUFF[kinds[1]], size), img)
        ids[side] = 2
        segments.append(dict(id=2, category_id=len(THINGS) + int(kinds[1]), iscrowd=0, isthing=0))
    # Things: drawn in order, later ones occlude earlier ones (at most 40 % of an earlier one hidden).
    placed = []
    for _ in range(int(rng.integers(1, 6))):
        for _attempt in range(20):
            kind = int(rng.integers(0, len(THINGS)))
            r = rng.uniform(*radius)
            cx, cy = rng.uniform(r * 0.6, size - r * 0.6), rng.uniform(r * 0.6, size - r * 0.6)
            m = thing_mask(THINGS[kind], cx, cy, r, rng.uniform(0, 2 * math.pi), size)
            if m.sum() < 120:
                continue
            if all((pm & ~m).sum() >= 0.6 * pm.sum() for pm, _ in placed):
                break
        else:
            continue
        placed = [(pm & ~m, k) for pm, k in placed] + [(m, kind)]
        img = np.where(m[..., None], thing_fill(rng, size, THINGS[kind] if palette == "class" else None), img)
    for pm, kind in placed:
        sid = len(segments) + 1
        ids[pm] = sid
        segments.append(dict(id=sid, category_id=kind, iscrowd=0, isthing=1))
    # Stuff segments lost to things may vanish; drop empty segments and record area and bbox.
    out = []
    for s in segments:
        ys, xs = np.nonzero(ids == s["id"])
        if len(ys) == 0:
            continue
        s["area"] = int(len(ys))
        s["bbox"] = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
        out.append(s)
    return np.clip(img, 0, 255).astype(np.uint8), ids, out


def encode_ids(ids):
    return np.stack([ids % 256, (ids // 256) % 256, ids // 65536], -1).astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--size", type=int, default=SIZE, help="image side (the bundled model's data: 128)")
    ap.add_argument("--radius", default="10,28", help="thing radius range MIN,MAX in pixels (bundled: 10,28)")
    ap.add_argument("--palette", choices=["class", "any"], default="class",
                    help="thing colours: a hue family per class (bundled) or any colour")
    args = ap.parse_args()
    radius = tuple(float(v) for v in args.radius.split(","))
    out = Path(args.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "panoptic").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    images, annotations = [], []
    for i in range(args.count):
        rgb, ids, segs = make_image(rng, args.size, radius, args.palette)
        name = f"{i:05d}.png"
        Image.fromarray(rgb).save(out / "images" / name)
        Image.fromarray(encode_ids(ids)).save(out / "panoptic" / name)
        images.append(dict(id=i, file_name=name, width=args.size, height=args.size))
        annotations.append(dict(image_id=i, file_name=name, segments_info=segs))
    meta = dict(images=images, annotations=annotations, categories=CATEGORIES,
                info=dict(generator="tools/demo/make_dataset.py", seed=args.seed, count=args.count, size=args.size,
                          radius=list(radius), palette=args.palette))
    (out / "panoptic.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
