"""Panoptic quality by the COCO rules, an independent implementation for edge-seg's tests (issue 20): the
algorithm of panopticapi's pq_compute (cocodataset/panopticapi, panopticapi/evaluation.py:
pq_compute_single_core and PQStat.pq_average) transcribed over numpy, and a generator of a small
dataset that exercises every rule: crowd regions (iscrowd = 1: never matched, not false negatives, and
predictions more than half on crowd + void of their category not false positives), void pixels (id 0:
outside IoU unions), a ground-truth segment listed with no pixels (a false negative, as panopticapi
counts it), and ground-truth areas taken from the JSON.

    ~/hfref/bin/python tools/reference/pq_reference.py make Tests/Fixtures/pq-crowd   # writes gt/, pred/, goldens.json
    ~/hfref/bin/python tools/reference/pq_reference.py score GT_DIR PRED_DIR          # prints PQ/SQ/RQ as JSON
"""
import json, os, sys
import numpy as np
from PIL import Image

OFFSET = 256 * 256 * 256
VOID = 0


def rgb2id(a):
    a = a.astype(np.uint32)
    return a[..., 0] + 256 * a[..., 1] + 256 * 256 * a[..., 2]


def id2rgb(m):
    return np.stack([m % 256, m // 256 % 256, m // 65536 % 256], axis=-1).astype(np.uint8)


def score(gt_dir, pred_dir):
    gt_json = json.load(open(os.path.join(gt_dir, "panoptic.json")))
    pred_json = json.load(open(os.path.join(pred_dir, "panoptic.json")))
    categories = {c["id"]: c for c in gt_json["categories"]}
    preds = {a["file_name"]: a for a in pred_json["annotations"]}
    stat = {}

    def cat(c):
        return stat.setdefault(c, {"iou": 0.0, "tp": 0, "fp": 0, "fn": 0})

    for gt_ann in gt_json["annotations"]:
        pred_ann = preds[gt_ann["file_name"]]
        pan_gt = rgb2id(np.array(Image.open(os.path.join(gt_dir, "panoptic", gt_ann["file_name"])).convert("RGB")))
        pan_pred = rgb2id(np.array(Image.open(os.path.join(pred_dir, "panoptic", pred_ann["file_name"])).convert("RGB")))
        gt_segms = {el["id"]: dict(el) for el in gt_ann["segments_info"]}
        pred_segms = {el["id"]: dict(el) for el in pred_ann["segments_info"]}
        pred_labels_set = set(pred_segms)
        labels, counts = np.unique(pan_pred, return_counts=True)
        for label, n in zip(labels, counts):
            if label not in pred_segms:
                if label == VOID:
                    continue
                raise KeyError(f"segment {label} in PNG, not in JSON")
            pred_segms[label]["area"] = int(n)
            pred_labels_set.remove(label)
            if pred_segms[label]["category_id"] not in categories:
                raise KeyError(f"unknown category {pred_segms[label]['category_id']}")
        if pred_labels_set:
            raise KeyError(f"segments {pred_labels_set} in JSON, not in PNG")
        gt_pred = pan_gt.astype(np.uint64) * OFFSET + pan_pred.astype(np.uint64)
        gt_pred_map = {}
        labels, counts = np.unique(gt_pred, return_counts=True)
        for label, n in zip(labels, counts):
            gt_pred_map[(int(label // OFFSET), int(label % OFFSET))] = int(n)
        gt_matched, pred_matched = set(), set()
        for (g, p), inter in gt_pred_map.items():
            if g not in gt_segms or p not in pred_segms:
                continue
            if gt_segms[g]["iscrowd"] == 1:
                continue
            if gt_segms[g]["category_id"] != pred_segms[p]["category_id"]:
                continue
            union = pred_segms[p]["area"] + gt_segms[g]["area"] - inter - gt_pred_map.get((VOID, p), 0)
            iou = inter / union
            if iou > 0.5:
                cat(gt_segms[g]["category_id"])["tp"] += 1
                cat(gt_segms[g]["category_id"])["iou"] += iou
                gt_matched.add(g)
                pred_matched.add(p)
        crowd = {}
        for g, info in gt_segms.items():
            if g in gt_matched:
                continue
            if info["iscrowd"] == 1:
                crowd[info["category_id"]] = g
                continue
            cat(info["category_id"])["fn"] += 1
        for p, info in pred_segms.items():
            if p in pred_matched:
                continue
            inter = gt_pred_map.get((VOID, p), 0)
            if info["category_id"] in crowd:
                inter += gt_pred_map.get((crowd[info["category_id"]], p), 0)
            if inter / info["area"] > 0.5:
                continue
            cat(info["category_id"])["fp"] += 1

    def average(isthing):
        pq = sq = rq = 0.0
        n = 0
        for label, info in categories.items():
            if isthing is not None and (info["isthing"] == 1) != isthing:
                continue
            s = stat.get(label, {"iou": 0.0, "tp": 0, "fp": 0, "fn": 0})
            if s["tp"] + s["fp"] + s["fn"] == 0:
                continue
            n += 1
            pq += s["iou"] / (s["tp"] + 0.5 * s["fp"] + 0.5 * s["fn"])
            sq += s["iou"] / s["tp"] if s["tp"] else 0
            rq += s["tp"] / (s["tp"] + 0.5 * s["fp"] + 0.5 * s["fn"])
        d = max(n, 1)
        return {"pq": 100 * pq / d, "sq": 100 * sq / d, "rq": 100 * rq / d, "n": n}

    return {"all": average(None), "things": average(True), "stuff": average(False),
            "per_category": {str(k): v for k, v in sorted(stat.items())}}


def make(root):
    rng = np.random.default_rng(20)
    W, H = 40, 30
    categories = [{"id": 0, "name": "disc", "isthing": 1}, {"id": 1, "name": "box", "isthing": 1},
                  {"id": 2, "name": "sky", "isthing": 0}, {"id": 3, "name": "ground", "isthing": 0}]
    for d in ("gt/panoptic", "gt/images", "pred/panoptic"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    gt_anns, pred_anns = [], []
    for i in range(6):
        name = f"{i:02d}.png"
        gt = np.zeros((H, W), np.uint32)
        segs = []
        # stuff: sky on top, ground below (a void band between, id 0)
        gt[: H // 2 - 1] = 10
        gt[H // 2 + 1:] = 11
        segs += [{"id": 10, "category_id": 2, "iscrowd": 0}, {"id": 11, "category_id": 3, "iscrowd": 0}]
        # things: boxes at random places, one of them a crowd region on some images
        for k in range(3):
            y, x = rng.integers(0, H - 8), rng.integers(0, W - 10)
            h, w = rng.integers(4, 9), rng.integers(4, 11)
            sid = 20 + k
            gt[y:y + h, x:x + w] = sid
            segs.append({"id": sid, "category_id": int(rng.integers(0, 2)), "iscrowd": int(k == 2 and i % 2 == 0)})
        segs.append({"id": 30, "category_id": 0, "iscrowd": 0})   # listed, no pixels: a false negative
        gt[rng.random((H, W)) < 0.04] = 0                          # scattered void
        for s in segs:
            s["area"] = int((gt == s["id"]).sum())
            ys, xs = np.nonzero(gt == s["id"])
            s["bbox"] = [int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)] if len(xs) else [0, 0, 0, 0]
        # prediction: the truth shifted by 0-2 pixels, some categories swapped, an extra segment on void or crowd
        pred = np.roll(gt, (int(rng.integers(0, 3)), int(rng.integers(0, 3))), axis=(0, 1)).astype(np.uint32)
        pred[pred == 30] = 0
        ids = {int(v) for v in np.unique(pred)} - {0}
        remap = {v: v + 100 for v in ids}
        out = np.zeros_like(pred)
        for v, nv in remap.items():
            out[pred == v] = nv
        byid = {s["id"]: s for s in segs}
        psegs = []
        for v, nv in sorted(remap.items()):
            c = byid[v]["category_id"]
            if rng.random() < 0.15:
                c = (c + 1) % 4
            psegs.append({"id": nv, "category_id": c})
        # a prediction of a crowd's category over the crowd region and a bit beyond (ignored when > half on crowd + void)
        crowd = [s for s in segs if s["iscrowd"] == 1]
        if crowd:
            ys, xs = np.nonzero(gt == crowd[0]["id"])
            out[ys.min():ys.max() + 1, xs.min():min(W, xs.max() + 3)] = 200
            psegs.append({"id": 200, "category_id": crowd[0]["category_id"]})
        # a prediction mostly on void: put it on the void band
        out[H // 2 - 1: H // 2 + 1, 0:6] = 201
        psegs.append({"id": 201, "category_id": 1})
        present = {int(v) for v in np.unique(out)}
        psegs = [s for s in psegs if s["id"] in present]
        Image.fromarray(id2rgb(gt)).save(os.path.join(root, "gt/panoptic", name))
        Image.fromarray(id2rgb(out)).save(os.path.join(root, "pred/panoptic", name))
        Image.fromarray((rng.random((H, W, 3)) * 255).astype(np.uint8)).save(os.path.join(root, "gt/images", name))
        gt_anns.append({"image_id": i, "file_name": name, "segments_info": segs})
        pred_anns.append({"image_id": i, "file_name": name, "segments_info": psegs})
    json.dump({"images": [{"id": a["image_id"], "file_name": a["file_name"], "width": W, "height": H} for a in gt_anns],
               "annotations": gt_anns, "categories": categories}, open(os.path.join(root, "gt/panoptic.json"), "w"), indent=1)
    json.dump({"annotations": pred_anns, "categories": categories}, open(os.path.join(root, "pred/panoptic.json"), "w"), indent=1)
    goldens = score(os.path.join(root, "gt"), os.path.join(root, "pred"))
    json.dump(goldens, open(os.path.join(root, "goldens.json"), "w"), indent=1, sort_keys=True)
    print(json.dumps(goldens, indent=1, sort_keys=True))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        print(json.dumps(score(sys.argv[2], sys.argv[3]), indent=1, sort_keys=True))
