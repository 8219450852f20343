"""Post-processing goldens: transformers' semantic, instance and panoptic results on seeded logits.

    ~/hfref/bin/python tools/reference/postprocess_goldens.py Tests/Fixtures/postprocess

Cases: K = 150 (torch's topk takes its partial_sort path) and K = 5 (its nth_element path), with
class logits scaled so that some queries are confident, smooth mask logits, and target sizes None,
an upscale and a non-integer downscale. Each runs semantic, instance and panoptic with the pipeline's
defaults (0.9/0.5/0.5) and the processor's (0.5/0.5/0.8), and panoptic with label_ids_to_fuse.
Writes CASE.safetensors (the logits) and golden.json (segment lists, SHA-256 of each int32 map).

    ~/hfref/bin/python tools/reference/postprocess_goldens.py Tests/Fixtures/postprocess mask2former

does the same with Mask2FormerImageProcessor (mask logits resized to 384x384 first) on the same seeded
logits and on the Mask2Former fixtures' own (m2f_*.safetensors), into golden_mask2former.json.
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from transformers import Mask2FormerImageProcessor, MaskFormerImageProcessor
from transformers.models.maskformer.modeling_maskformer import MaskFormerForInstanceSegmentationOutput

CASES = {
    "k150": dict(queries=100, labels=150, h=25, w=33, seed=1),
    "k5": dict(queries=12, labels=5, h=25, w=33, seed=2),
    "k21": dict(queries=30, labels=21, h=17, w=9, seed=3),
}
TARGETS = [None, (100, 130), (61, 77)]


def logits(spec):
    g = torch.Generator().manual_seed(spec["seed"])
    q, k, h, w = spec["queries"], spec["labels"], spec["h"], spec["w"]
    cls = torch.randn((1, q, k + 1), generator=g) * 2
    # Smooth background fields, then for every 4th query a confident class and a box-shaped mask, so
    # that panoptic keeps some segments and rejects others (overlaps, low scores, "no object").
    coarse = torch.randn((1, q, 5, 6), generator=g) * 3
    masks = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False) - 2
    for i in range(q):
        if i % 4 == 0:
            cls[0, i, torch.randint(k, (1,), generator=g)] += 6 + torch.rand(1, generator=g).item() * 6
            y0, x0 = int(torch.randint(h - 3, (1,), generator=g)), int(torch.randint(w - 3, (1,), generator=g))
            y1 = y0 + 2 + int(torch.randint(h - y0 - 1, (1,), generator=g))
            x1 = x0 + 2 + int(torch.randint(w - x0 - 1, (1,), generator=g))
            masks[0, i, y0:y1, x0:x1] += 10
        elif i % 7 == 1:
            cls[0, i, k] += 6
    masks = masks + torch.randn(masks.shape, generator=g) * 0.5
    return cls.contiguous(), masks.contiguous()


def digest(t):
    return hashlib.sha256(np.ascontiguousarray(t.numpy().astype("<i4")).tobytes()).hexdigest()


def segs(info):
    return [{"id": int(s["id"]), "label_id": int(s["label_id"]), "was_fused": bool(s["was_fused"]),
             "score": None if s.get("score") is None else float(s["score"])} for s in info]


def main(out, family="maskformer"):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    proc = Mask2FormerImageProcessor() if family == "mask2former" else MaskFormerImageProcessor()
    entries = []
    cases = [(name, logits(spec)) for name, spec in CASES.items()]
    # The model fixtures' own logits (tools/reference/maskformer_ref.py and mask2former_ref.py goldens).
    from safetensors.torch import load_file
    fixtures = ({f"m2f_{f}": out.parent / "mask2former" / f for f in ("tiny", "labels")} if family == "mask2former"
                else {f"model_{f}": out.parent / f for f in ("tiny", "smallmaps", "labels")})
    for name, folder in fixtures.items():
        g = load_file(str(folder / "golden.safetensors"))
        cases.append((name, (g["class_queries_logits"], g["masks_queries_logits"])))
    for name, (cls, masks) in cases:
        save_file({"class_queries_logits": cls, "masks_queries_logits": masks}, out / f"{name}.safetensors")
        o = MaskFormerForInstanceSegmentationOutput(class_queries_logits=cls, masks_queries_logits=masks)
        for target in TARGETS:
            ts = None if target is None else [target]
            sem = proc.post_process_semantic_segmentation(o, target_sizes=ts)[0]
            entries.append({"case": name, "task": "semantic", "target": target, "params": {},
                            "map_sha256": digest(sem.to(torch.int32)), "shape": list(sem.shape),
                            "classes": sorted(int(c) for c in torch.unique(sem))})
            for pname, (thr, mthr, ov) in {"pipeline": (0.9, 0.5, 0.5), "processor": (0.5, 0.5, 0.8)}.items():
                inst = proc.post_process_instance_segmentation(o, threshold=thr, mask_threshold=mthr,
                                                               overlap_mask_area_threshold=ov, target_sizes=ts)[0]
                m = inst["segmentation"].to(torch.int32)
                entries.append({"case": name, "task": "instance", "target": target, "params": {"defaults": pname},
                                "map_sha256": digest(m), "shape": list(m.shape), "segments": segs(inst["segments_info"]),
                                "areas": [int((m == s["id"]).sum()) for s in inst["segments_info"]]})
                for fuse in ([], list(range(0, cls.shape[-1] - 1, 2))):
                    pan = proc.post_process_panoptic_segmentation(o, threshold=thr, mask_threshold=mthr,
                                                                  overlap_mask_area_threshold=ov,
                                                                  label_ids_to_fuse=set(fuse), target_sizes=ts)[0]
                    m = pan["segmentation"].to(torch.int32)
                    entries.append({"case": name, "task": "panoptic", "target": target,
                                    "params": {"defaults": pname, "fuse": fuse}, "map_sha256": digest(m),
                                    "shape": list(m.shape), "segments": segs(pan["segments_info"]),
                                    "areas": [int((m == s["id"]).sum()) for s in pan["segments_info"]]})
    (out / ("golden_mask2former.json" if family == "mask2former" else "golden.json")).write_text(json.dumps(entries, indent=1))
    n_seg = sum(len(e.get("segments", [])) for e in entries)
    print(f"{len(entries)} goldens, {n_seg} segments in all")


if __name__ == "__main__":
    main(*sys.argv[1:3])
