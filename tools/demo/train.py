"""Trains edge-seg's demo model: a small MaskFormer-Swin on the synthetic "shapes" dataset
(tools/demo/make_dataset.py), on CPU, with transformers' own MaskFormer loss (Hungarian matching,
cross-entropy + focal mask + dice), plus the same loss on every intermediate decoder layer (deep
supervision, via hooks: see DeepSupervision) and an auxiliary per-pixel class loss on the pixel
decoder's output (SemanticAux; training only).

    ~/hfref/bin/python tools/demo/make_dataset.py work/shapes/train --count 3000 --seed 1
    ~/hfref/bin/python tools/demo/make_dataset.py work/shapes/val --count 200 --seed 2
    ~/hfref/bin/python tools/demo/train.py work/shapes work/shapes-run --minutes 60 --seed 0
    ~/hfref/bin/python tools/demo/train.py work/shapes work/shapes-m2f --family mask2former --minutes 60 --seed 0

--family mask2former trains a small Mask2Former-Swin instead (issue 21): four Swin stages (its pixel decoder
needs strides 8, 16 and 32), hidden size 64, 2 deformable encoder layers, 3 masked-attention layers, 10
queries, with transformers' own Mask2Former loss (point-sampled mask and dice losses, deep supervision on
every decoder layer built in) plus the same per-pixel class loss (SemanticAux).

Every --eval-every steps it measures panoptic quality (PQ) on the first 100 validation images with
the image processor's post_process_panoptic_segmentation (threshold 0.8, stuff fused), saves the
model as a Hugging Face folder (config.json, model.safetensors, preprocessor_config.json) in
OUT/last and, if PQ improved, OUT/best; OUT/log.jsonl holds the learning curve. --init continues
from a saved folder (learning-rate schedule restarted).
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import (Mask2FormerConfig, Mask2FormerForUniversalSegmentation, Mask2FormerImageProcessor, MaskFormerConfig,
                          MaskFormerForInstanceSegmentation, MaskFormerImageProcessor, SwinConfig)
from transformers.models.maskformer.configuration_maskformer import MaskFormerDetrConfig
from transformers.models.maskformer.configuration_maskformer_swin import MaskFormerSwinConfig

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def load_split(root):
    meta = json.loads((root / "panoptic.json").read_text())
    cats = {c["id"]: c for c in meta["categories"]}
    items = []
    for ann in meta["annotations"]:
        rgb = np.asarray(Image.open(root / "images" / ann["file_name"]).convert("RGB"))
        p = np.asarray(Image.open(root / "panoptic" / ann["file_name"])).astype(np.int64)
        ids = p[..., 0] + 256 * p[..., 1] + 65536 * p[..., 2]
        items.append((rgb, ids, ann["segments_info"]))
    return meta["categories"], cats, items


def pixel_values(rgb):
    x = (rgb.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x.transpose(2, 0, 1).copy())


def targets(ids, segments):
    masks = torch.from_numpy(np.stack([ids == s["id"] for s in segments]).astype(np.float32))
    labels = torch.tensor([s["category_id"] for s in segments], dtype=torch.long)
    return masks, labels


def build_model(categories, seed, embed_dim=32, image_size=128, queries=10, depths=(1, 1, 3, 1)):
    torch.manual_seed(seed)
    heads = [2 ** i for i in range(len(depths))]
    backbone = MaskFormerSwinConfig(embed_dim=embed_dim, depths=list(depths), num_heads=heads, window_size=4,
                                    image_size=image_size, drop_path_rate=0.0,
                                    out_features=[f"stage{i + 1}" for i in range(len(depths))])
    decoder = MaskFormerDetrConfig(d_model=128, decoder_layers=3, decoder_attention_heads=4, decoder_ffn_dim=256,
                                   num_queries=queries, dropout=0.0)
    id2label = {c["id"]: c["name"] for c in categories}
    config = MaskFormerConfig(backbone_config=backbone, decoder_config=decoder, id2label=id2label,
                              label2id={v: k for k, v in id2label.items()}, fpn_feature_size=64,
                              mask_feature_size=64, no_object_weight=0.1)
    return MaskFormerForInstanceSegmentation(config)


def build_mask2former(categories, seed, embed_dim=32, image_size=128, queries=10, depths=(1, 1, 3, 1), hidden=64):
    torch.manual_seed(seed)
    heads = [2 ** i for i in range(len(depths))]
    backbone = SwinConfig(embed_dim=embed_dim, depths=list(depths), num_heads=heads, window_size=4, image_size=image_size,
                          drop_path_rate=0.0, out_features=[f"stage{i + 1}" for i in range(len(depths))])
    id2label = {c["id"]: c["name"] for c in categories}
    config = Mask2FormerConfig(backbone_config=backbone, id2label=id2label, label2id={v: k for k, v in id2label.items()},
                               feature_size=hidden, mask_feature_size=hidden, hidden_dim=hidden, encoder_layers=2,
                               encoder_feedforward_dim=2 * hidden, decoder_layers=4, dim_feedforward=4 * hidden,
                               num_attention_heads=4, num_queries=queries, no_object_weight=0.1, train_num_points=1024)
    return Mask2FormerForUniversalSegmentation(config)


def processor(categories, image_size=128, family="maskformer"):
    cls = Mask2FormerImageProcessor if family == "mask2former" else MaskFormerImageProcessor
    return cls(size={"shortest_edge": image_size, "longest_edge": 4 * image_size}, size_divisor=32,
                                    ignore_index=255, do_reduce_labels=False)


def panoptic_quality(gt, pred, categories):
    """COCO PQ over a list of (gt ids, gt segments, pred ids, pred segments). Returns PQ, SQ, RQ (x100)."""
    stats = {c["id"]: [0.0, 0, 0, 0] for c in categories}  # iou sum, tp, fp, fn
    for (gids, gsegs), (pids, psegs) in zip(gt, pred):
        gcat = {s["id"]: s["category_id"] for s in gsegs}
        pcat = {s["id"]: s["category_id"] for s in psegs}
        garea = {k: int((gids == k).sum()) for k in gcat}
        parea = {k: int((pids == k).sum()) for k in pcat}
        pairs = {}
        flat = gids.astype(np.int64) * 100000 + pids.astype(np.int64)
        for key, n in zip(*np.unique(flat, return_counts=True)):
            pairs[(int(key // 100000), int(key % 100000))] = int(n)
        gm, pm = set(), set()
        for (g, p), inter in pairs.items():
            if g in gcat and p in pcat and gcat[g] == pcat[p]:
                iou = inter / (garea[g] + parea[p] - inter)
                if iou > 0.5:
                    stats[gcat[g]][0] += iou
                    stats[gcat[g]][1] += 1
                    gm.add(g)
                    pm.add(p)
        for g in gcat:
            if g not in gm:
                stats[gcat[g]][3] += 1
        for p in pcat:
            if p not in pm:
                stats[pcat[p]][2] += 1
    pq, sq, rq = [], [], []
    for iou, tp, fp, fn in stats.values():
        if tp + fp + fn == 0:
            continue
        pq.append(iou / (tp + 0.5 * fp + 0.5 * fn))
        sq.append(iou / tp if tp else 0.0)
        rq.append(tp / (tp + 0.5 * fp + 0.5 * fn))
    return 100 * np.mean(pq), 100 * np.mean(sq), 100 * np.mean(rq)


def evaluate(model, proc, categories, items):
    model.eval()
    stuff = {c["id"] for c in categories if not c["isthing"]}
    gt, pred = [], []
    with torch.no_grad():
        for i in range(0, len(items), 20):
            batch = items[i:i + 20]
            out = model(pixel_values=torch.stack([pixel_values(rgb) for rgb, _, _ in batch]))
            res = proc.post_process_panoptic_segmentation(out, threshold=0.8, label_ids_to_fuse=stuff,
                                                          target_sizes=[ids.shape for _, ids, _ in batch])
            for (rgb, ids, segs), r in zip(batch, res):
                gt.append((ids, segs))
                pred.append((r["segmentation"].numpy(),
                             [dict(id=s["id"], category_id=s["label_id"]) for s in r["segments_info"]]))
    model.train()
    return panoptic_quality(gt, pred, categories)


class DeepSupervision:
    """Auxiliary losses on every decoder layer but the last (DETR's deep supervision), computed from
    forward hooks: transformers' own use_auxiliary_loss fails in 5.24 and would also feed the
    normalized states into the next layer, changing the inference graph."""

    def __init__(self, model):
        self.model, self.states = model, []
        for layer in model.model.transformer_module.decoder.layers:
            layer.register_forward_hook(lambda mod, inp, out: self.states.append(out[0] if isinstance(out, tuple) else out))

    def loss(self, out, mask_labels, class_labels):
        m, total = self.model, 0.0
        norm = m.model.transformer_module.decoder.layernorm
        for h in self.states[:-1]:
            h = norm(h)
            masks = torch.einsum("bqc,bchw->bqhw", m.mask_embedder(h), out.pixel_decoder_last_hidden_state)
            d = m.criterion(masks, m.class_predictor(h), mask_labels, class_labels, None)
            total = total + sum(d[k] * m.weight_dict[k] for k in d)
        self.states.clear()
        return total


class SemanticAux(torch.nn.Module):
    """A per-pixel class head on the pixel decoder's embeddings, trained with cross-entropy against the
    semantic map (thing and stuff classes): dense supervision that teaches the backbone and pixel
    decoder the classes from the first steps, while the set-prediction loss is still matching
    queries. Used only in training; the saved checkpoint is the plain MaskFormer."""

    def __init__(self, channels, classes):
        super().__init__()
        self.head = torch.nn.Conv2d(channels, classes, 1)

    def loss(self, out, semantic):
        logits = torch.nn.functional.interpolate(self.head(out.pixel_decoder_last_hidden_state), size=semantic.shape[-2:],
                                                 mode="bilinear", align_corners=False)
        return torch.nn.functional.cross_entropy(logits, semantic, ignore_index=255)


def semantic_map(ids, segments):
    sem = np.full(ids.shape, 255, np.int64)
    for seg in segments:
        sem[ids == seg["id"]] = seg["category_id"]
    return torch.from_numpy(sem)


def save(model, proc, out):
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    proc.save_pretrained(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--eval-every", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--semantic-weight", type=float, default=1.0, help="weight of the auxiliary per-pixel class loss")
    ap.add_argument("--image-size", type=int, default=128, help="shortest edge the model sees (bundled: 128)")
    ap.add_argument("--embed-dim", type=int, default=32, help="Swin embed dim (bundled: 32)")
    ap.add_argument("--queries", type=int, default=10, help="object queries (bundled: 10)")
    ap.add_argument("--depths", default="1,1,3,1",
                    help="Swin blocks per stage (bundled: 1,1,3,1); three stages make the coarsest map stride 16")
    ap.add_argument("--class-weight", type=float, default=None,
                    help="weight of the query classification loss (MaskFormer's cross_entropy_weight, default 1 as bundled; "
                         "Mask2Former's class_weight, default transformers' 2)")
    ap.add_argument("--family", choices=["maskformer", "mask2former"], default="maskformer")
    ap.add_argument("--init", help="start from this checkpoint folder (continue a run) instead of random init")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    data, out = Path(args.data), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    categories, _, train = load_split(data / "train")
    _, _, val = load_split(data / "val")
    val = val[:100]
    m2f = args.family == "mask2former"
    build = build_mask2former if m2f else build_model
    model = build(categories, args.seed, args.embed_dim, args.image_size, args.queries,
                  tuple(int(d) for d in args.depths.split(","))).train()
    if args.init:
        model = (Mask2FormerForUniversalSegmentation if m2f else MaskFormerForInstanceSegmentation).from_pretrained(args.init).train()
    # The criterion reads its weights from weight_dict (built from the config at init): set both, so
    # that --init runs get the new weight too and the saved config records it.
    class_weight = args.class_weight if args.class_weight is not None else (model.config.class_weight if m2f else 1.0)
    setattr(model.config, "class_weight" if m2f else "cross_entropy_weight", class_weight)
    model.weight_dict["loss_cross_entropy"] = class_weight
    deep = None if m2f else DeepSupervision(model)   # Mask2Former supervises every decoder layer itself
    aux = SemanticAux(model.config.mask_feature_size, len(categories))
    proc = processor(categories, args.image_size, args.family)
    opt = torch.optim.AdamW(list(model.parameters()) + list(aux.parameters()), lr=args.lr, weight_decay=1e-4)
    rng = np.random.default_rng(args.seed)
    start, step, best = time.time(), 0, -1.0
    total = args.minutes * 60
    log = open(out / "log.jsonl", "a")
    while time.time() - start < total:
        frac = (time.time() - start) / total
        for g in opt.param_groups:                      # linear warm-up, cosine decay over the time budget
            g["lr"] = args.lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + np.cos(np.pi * frac))
        idx = rng.choice(len(train), args.batch, replace=False)
        pv, ml, cl, sem = [], [], [], []
        for i in idx:
            rgb, ids, segs = train[i]
            if rng.random() < 0.5:                      # horizontal flip
                rgb, ids = rgb[:, ::-1], ids[:, ::-1]
            pv.append(pixel_values(np.ascontiguousarray(rgb)))
            m, c = targets(np.ascontiguousarray(ids), segs)
            sem.append(semantic_map(np.ascontiguousarray(ids), segs))
            ml.append(m)
            cl.append(c)
        if deep:
            deep.states.clear()
        out_ = model(pixel_values=torch.stack(pv), mask_labels=ml, class_labels=cl)
        loss = out_.loss + (deep.loss(out_, ml, cl) if deep else 0) + args.semantic_weight * aux.loss(out_, torch.stack(sem))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            print(json.dumps(dict(step=step, seconds=round(time.time() - start), loss=round(loss.item(), 4))), flush=True)
        if step % args.eval_every == 0 or time.time() - start >= total:
            pq, sq, rq = evaluate(model, proc, categories, val)
            rec = dict(step=step, seconds=round(time.time() - start), loss=round(loss.item(), 4),
                       pq=round(pq, 2), sq=round(sq, 2), rq=round(rq, 2))
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            save(model, proc, out / "last")
            if pq > best:
                best = pq
                save(model, proc, out / "best")
    save(model, proc, out / "last")
    print(json.dumps(dict(done=step, best_pq=round(best, 2))), flush=True)


if __name__ == "__main__":
    main()
