"""Rasterizes the plain SVG charts bench/ writes (rect, line, polyline, circle, text) to PNG with Pillow,
to look at them where no SVG renderer is installed:

    ~/hfref/bin/python bench/svg_preview.py bench/results/chart.svg chart.png
"""
import sys
import xml.etree.ElementTree as ET

from PIL import Image, ImageDraw


def main(src, dst):
    root = ET.parse(src).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    w, h = int(root.get("width")), int(root.get("height"))
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    for e in root.iter():
        tag = e.tag.replace(ns, "")
        if tag == "rect" and e.get("x") is not None:
            x, y = float(e.get("x")), float(e.get("y"))
            d.rectangle([x, y, x + float(e.get("width")), y + float(e.get("height"))], fill=e.get("fill"))
        elif tag == "line":
            d.line([float(e.get(k)) for k in ("x1", "y1", "x2", "y2")], fill=e.get("stroke"))
        elif tag == "polyline":
            pts = [tuple(float(v) for v in p.split(",")) for p in e.get("points").split()]
            d.line(pts, fill=e.get("stroke"), width=int(float(e.get("stroke-width", "1"))))
        elif tag == "circle":
            x, y, r = float(e.get("cx")), float(e.get("cy")), float(e.get("r"))
            d.ellipse([x - r, y - r, x + r, y + r], fill=e.get("fill"))
        elif tag == "text":
            x, y = float(e.get("x")), float(e.get("y"))
            anchor = {"end": "rs", "middle": "ms"}.get(e.get("text-anchor"), "ls")
            d.text((x, y), e.text or "", fill="black", anchor=anchor)
    img.save(dst)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
