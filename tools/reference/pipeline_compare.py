"""Compare `edge-seg run --precision float32` with transformers' pipeline("image-segmentation") on photos.

    swift build -c release
    ~/hfref/bin/python tools/reference/pipeline_compare.py models/sta Calibration/*.png

For each image and subtask, runs the pipeline (with the thresholds below) and edge-seg on the same
checkpoint folder and compares segment lists (labels, scores) and masks (pixel agreement, exact).
Random-init models are not confident, so besides the pipeline defaults the comparison also uses
thresholds low enough that segments survive.
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from transformers import pipeline

REPO = Path(__file__).resolve().parent.parent.parent
SETTINGS = [
    ("semantic", {}),
    ("panoptic", {"threshold": 0.9, "mask_threshold": 0.5, "overlap_mask_area_threshold": 0.5}),
    ("panoptic", {"threshold": 0.0, "mask_threshold": 0.0, "overlap_mask_area_threshold": 0.0}),
    ("instance", {"threshold": 0.0}),
]


def main(model_dir, images):
    pipe = pipeline("image-segmentation", model=model_dir, device="cpu")
    total = {"runs": 0, "identical": 0}
    for image in images:
        for task, th in SETTINGS:
            ref = pipe(image, subtask=task, **th)
            with tempfile.TemporaryDirectory() as out:
                args = [str(REPO / ".build/release/edge-seg"), "run", model_dir, image, "--output", out + "/o", "--task", task, "--json"]
                flags = {"threshold": "--threshold", "mask_threshold": "--mask-threshold", "overlap_mask_area_threshold": "--overlap"}
                for k, v in th.items():
                    args += [flags[k], str(v)]
                doc = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
                ours = doc["segments"]
                same_list = [s["label"] for s in ours] == [r["label"] for r in ref] and all(
                    (a["score"] is None and b["score"] is None) or abs(a["score"] - b["score"]) <= 1.01e-6 for a, b in zip(ours, ref))
                agree, pixels = 0, 0
                for s, r in zip(ours, ref):
                    m = np.asarray(Image.open(Path(out) / "o" / s["mask"])) > 0
                    rm = np.asarray(r["mask"]) > 0
                    agree += int((m == rm).sum())
                    pixels += m.size
            total["runs"] += 1
            exact = same_list and agree == pixels
            total["identical"] += int(exact)
            print(f"{Path(image).name:24s} {task:8s} {json.dumps(th):75s} segments ours {len(ours):3d} ref {len(ref):3d} "
                  f"list {'same' if same_list else 'DIFF'} mask pixels agree {agree}/{pixels}")
    print(f"identical in {total['identical']} of {total['runs']} runs")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
