"""Seeded random-init MaskFormer-Swin checkpoints and golden tensors from Hugging Face transformers.

This is the ground truth of edge-seg's float path. Run it from a venv outside the repo:

    python3 -m venv ~/hfref && ~/hfref/bin/pip install -r tools/reference/requirements.txt
    ~/hfref/bin/python tools/reference/maskformer_ref.py fixtures Tests/Fixtures [NAME...]  # small, committed
    ~/hfref/bin/python tools/reference/maskformer_ref.py big swin-tiny-ade models/sta  # large, never committed

A checkpoint folder holds config.json, model.safetensors and preprocessor_config.json, as on the hub.
Every tensor gets small seeded noise after HF's init (which leaves norms at 1 and biases at 0 and
would hide weight-mapping bugs). golden.safetensors holds pixel_values and every stage's output.
"""
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ref_common import add_noise, mix_dtypes  # noqa: E402
from transformers import (MaskFormerConfig, MaskFormerForInstanceSegmentation, MaskFormerImageProcessor)
from transformers.models.maskformer.configuration_maskformer import MaskFormerDetrConfig
from transformers.models.maskformer.configuration_maskformer_swin import MaskFormerSwinConfig

# name: (backbone, decoder, top-level, K, input HxW, options)
# - tiny: window 4, odd input 100x130 (not a multiple of 4 or 32), v5 preprocessor keys.
# - smallmaps: window 7 with stage maps 19x23, 10x12, 5x6, 3x3: smaller than the window and not
#   multiples of it; head dims differ per stage; legacy "swin" model_type and legacy preprocessor keys.
# - labels: 21 labels, relu MLP in Swin, gelu in DETR, depth 3 stage, tensors stored as a mix of
#   F16, BF16 and F32 (so that F32 tensors land misaligned in the file).
FIXTURES = {
    "tiny": dict(
        backbone=dict(embed_dim=8, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=4),
        decoder=dict(d_model=64, decoder_layers=2, decoder_attention_heads=4, decoder_ffn_dim=128,
                     num_queries=12),
        top=dict(fpn_feature_size=64, mask_feature_size=64), labels=5, size=(100, 130), seed=1,
        options=dict(preprocessor="v5")),
    "smallmaps": dict(
        backbone=dict(embed_dim=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=7),
        decoder=dict(d_model=64, decoder_layers=2, decoder_attention_heads=2, decoder_ffn_dim=96,
                     num_queries=10),
        top=dict(fpn_feature_size=64, mask_feature_size=32), labels=7, size=(75, 90), seed=2,
        options=dict(preprocessor="legacy", legacy_model_type=True)),
    "labels": dict(
        backbone=dict(embed_dim=12, depths=[1, 1, 3, 1], num_heads=[1, 2, 3, 4], window_size=5,
                      hidden_act="relu"),
        decoder=dict(d_model=32, decoder_layers=3, decoder_attention_heads=4, decoder_ffn_dim=64,
                     num_queries=9, activation_function="gelu"),
        top=dict(fpn_feature_size=32, mask_feature_size=32), labels=21, size=(70, 161), seed=3,
        options=dict(preprocessor="v5", mixed_dtypes=True)),
    # - threestage: a Swin of three stages (the coarsest map stride 16, as in the bundled demo model).
    "threestage": dict(
        backbone=dict(embed_dim=8, depths=[1, 2, 2], num_heads=[1, 2, 4], window_size=4),
        decoder=dict(d_model=32, decoder_layers=2, decoder_attention_heads=4, decoder_ffn_dim=64,
                     num_queries=7),
        top=dict(fpn_feature_size=32, mask_feature_size=32), labels=6, size=(60, 84), seed=4,
        options=dict(preprocessor="v5")),
}

BIG = {
    "swin-tiny-ade": dict(
        backbone=dict(embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7),
        decoder=dict(), top=dict(), labels=150, size=(512, 512), seed=11,
        options=dict(preprocessor="v5", shortest=512, longest=2048)),
    "swin-base-coco": dict(
        backbone=dict(embed_dim=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32], window_size=12),
        decoder=dict(), top=dict(), labels=133, size=(384, 576), seed=12,
        options=dict(preprocessor="v5", shortest=800, longest=1333)),
}


def build(spec):
    torch.manual_seed(spec["seed"])
    stages = [f"stage{i + 1}" for i in range(len(spec["backbone"]["depths"]))]
    backbone = MaskFormerSwinConfig(out_features=stages, drop_path_rate=0.0, **spec["backbone"])
    decoder = MaskFormerDetrConfig(**spec["decoder"])
    id2label = {i: f"class_{i}" for i in range(spec["labels"])}
    config = MaskFormerConfig(backbone_config=backbone, decoder_config=decoder, id2label=id2label,
                              label2id={v: k for k, v in id2label.items()}, **spec["top"])
    model = MaskFormerForInstanceSegmentation(config).eval()
    add_noise(model, spec["seed"])
    return model


def save_checkpoint(model, spec, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    opts = spec["options"]
    shortest, longest = opts.get("shortest", 512), opts.get("longest", 2048)
    if opts.get("preprocessor") == "legacy":
        # transformers-4 hub files: size + max_size + size_divisibility.
        (out / "preprocessor_config.json").write_text(json.dumps({
            "do_normalize": True, "do_reduce_labels": False, "do_resize": True, "do_rescale": True,
            "ignore_index": 255, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
            "image_processor_type": "MaskFormerImageProcessor", "max_size": longest, "resample": 2,
            "rescale_factor": 0.00392156862745098, "size": shortest, "size_divisibility": 32}, indent=2))
    else:
        MaskFormerImageProcessor(size={"shortest_edge": shortest, "longest_edge": longest}).save_pretrained(out)
    if opts.get("legacy_model_type"):
        cfg = json.loads((out / "config.json").read_text())
        cfg["backbone_config"]["model_type"] = "swin"
        (out / "config.json").write_text(json.dumps(cfg, indent=2))
    if opts.get("mixed_dtypes"):
        mix_dtypes(out)
    # Reload exactly as a user would, so goldens come from what the file holds.
    return MaskFormerForInstanceSegmentation.from_pretrained(out, dtype=torch.float32).eval()


def goldens(model, spec):
    h, w = spec["size"]
    g = torch.Generator().manual_seed(2000 + spec["seed"])
    pixel_values = torch.randn((1, 3, h, w), generator=g)
    with torch.no_grad():
        out = model(pixel_values=pixel_values, output_hidden_states=True)
    t = {"pixel_values": pixel_values}
    for i, f in enumerate(out.encoder_hidden_states):
        t[f"encoder.stage{i}"] = f
    for i, f in enumerate(out.pixel_decoder_hidden_states):
        t[f"pixel_decoder.fpn{i}"] = f
    t["pixel_decoder.pixel_embeddings"] = out.pixel_decoder_last_hidden_state
    t["transformer.last_hidden_state"] = out.transformer_decoder_last_hidden_state
    t["class_queries_logits"] = out.class_queries_logits
    t["masks_queries_logits"] = out.masks_queries_logits
    return {k: v.contiguous().float() for k, v in t.items()}


def main(argv):
    if len(argv) >= 3 and argv[1] == "fixtures":
        root = Path(argv[2])
        for name, spec in FIXTURES.items():
            if argv[3:] and name not in argv[3:]:
                continue
            model = save_checkpoint(build(spec), spec, root / name)
            save_file(goldens(model, spec), root / name / "golden.safetensors")
            print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters")
    elif len(argv) == 4 and argv[1] == "big":
        spec = BIG[argv[2]]
        out = Path(argv[3])
        model = save_checkpoint(build(spec), spec, out)
        t = goldens(model, spec)
        save_file({"pixel_values": t["pixel_values"]}, out / "pixel_values.safetensors")
        save_file({k: t[k] for k in ("class_queries_logits", "masks_queries_logits")},
                  out / "reference_raw.safetensors")
        print(f"{argv[2]}: {sum(p.numel() for p in model.parameters())} parameters -> {out}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
