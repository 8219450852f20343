"""Seeded random-init Mask2Former-Swin checkpoints and golden tensors from Hugging Face transformers
(issue 21: the ground truth of edge-seg's Mask2Former float path; ../shared/mask2former-spec.md describes
the model op by op). Run it from the venv outside the repo (tools/reference/requirements.txt):

    ~/hfref/bin/python tools/reference/mask2former_ref.py fixtures Tests/Fixtures/mask2former [NAME...]  # small, committed
    ~/hfref/bin/python tools/reference/mask2former_ref.py big swin-tiny-coco-instance models/m2f-t  # large, never committed
    ~/hfref/bin/python tools/reference/mask2former_ref.py msda Tests/Fixtures/mask2former/msda.safetensors
    ~/hfref/bin/python tools/reference/mask2former_ref.py micro work/m2f-micro   # the fuzz seed's checkpoint (below)

micro: the smallest Mask2Former the runtime takes (Swin embed 8, one block per stage, hidden 32, one encoder and
one masked-attention layer, 4 queries), the checkpoint behind fuzz/corpus/modelfile/m2f-micro.int8.eseg:
    .build/release/edge-seg convert work/m2f-micro -o fuzz/corpus/modelfile/m2f-micro.int8.eseg --samples 1

A checkpoint folder holds config.json, model.safetensors and preprocessor_config.json, as on the hub.
Every float tensor gets seeded noise after HF's init (which leaves norms at 1, biases at 0 and the
deformable attention's sampling offsets at 0, and would hide weight-mapping bugs). golden.safetensors
holds pixel_values and every stage's output:
  encoder.stage{i}              the Swin backbone's feature maps (B, C_i, H_i, W_i), strides 4..32
  pixel_decoder.level{l}        the deformable encoder's multi-scale maps (B, D, H_l, W_l), strides 32, 16, 8
  pixel_decoder.mask_features   the stride-4 mask features (B, D, H/4, W/4)
  transformer.layer{j}          the masked-attention decoder's query states after each layer, (Q, B, D) as HF returns
                                them (layer0: the learned queries before the first layer)
  class_queries_logits          (B, Q, K + 1)
  masks_queries_logits          (B, Q, H/4, W/4)
"""
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ref_common import add_noise, mix_dtypes  # noqa: E402
from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, Mask2FormerImageProcessor, SwinConfig

# name: (backbone, top-level config, K, input HxW, options)
# - tiny: window 12 on maps smaller than the window (every stage but the first at 100x130: always_partition
#   pads them), odd input size, 2 encoder layers, 3 decoder layers (2 masked-attention layers), 4 heads of 8.
# - labels: 21 labels, window 7 with stage maps 19x23 .. 3x3, relu in Swin, tensors stored as a mix of F16,
#   BF16 and F32 (F32 tensors land misaligned in the file), 3 encoder and 4 decoder layers, 9 queries.
FIXTURES = {
    "tiny": dict(
        backbone=dict(embed_dim=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4], window_size=12),
        top=dict(feature_size=32, mask_feature_size=32, hidden_dim=32, encoder_layers=2, decoder_layers=3,
                 num_attention_heads=4, dim_feedforward=64, encoder_feedforward_dim=64, num_queries=10),
        labels=5, size=(100, 130), seed=21, options=dict()),
    "labels": dict(
        backbone=dict(embed_dim=12, depths=[1, 1, 3, 1], num_heads=[1, 2, 3, 4], window_size=7, hidden_act="relu"),
        top=dict(feature_size=32, mask_feature_size=32, hidden_dim=32, encoder_layers=3, decoder_layers=4,
                 num_attention_heads=4, dim_feedforward=48, encoder_feedforward_dim=48, num_queries=9),
        labels=21, size=(75, 90), seed=22, options=dict(mixed_dtypes=True)),
}

MICRO = dict(
    backbone=dict(embed_dim=8, depths=[1, 1, 1, 1], num_heads=[1, 1, 2, 2], window_size=4),
    top=dict(feature_size=32, mask_feature_size=32, hidden_dim=32, encoder_layers=1, decoder_layers=2, num_attention_heads=2,
             dim_feedforward=32, encoder_feedforward_dim=32, num_queries=4),
    labels=3, size=(64, 64), seed=23, options=dict(shortest=64, longest=128))

# The two shapes issue 21 measures: facebook/mask2former-swin-tiny-coco-instance's and
# mask2former-swin-base-IN21k-ade-semantic's architectures with random weights.
BIG = {
    "swin-tiny-coco-instance": dict(
        backbone=dict(embed_dim=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], window_size=7),
        top=dict(), labels=80, size=(384, 384), seed=31, options=dict(shortest=384, longest=1333)),
    "swin-base-ade": dict(
        backbone=dict(embed_dim=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32], window_size=12),
        top=dict(), labels=150, size=(512, 683), seed=32, options=dict(shortest=512, longest=2048)),
}


def build(spec):
    torch.manual_seed(spec["seed"])
    stages = [f"stage{i + 1}" for i in range(len(spec["backbone"]["depths"]))]
    backbone = SwinConfig(out_features=stages, drop_path_rate=0.0, **spec["backbone"])
    id2label = {i: f"class_{i}" for i in range(spec["labels"])}
    config = Mask2FormerConfig(backbone_config=backbone, id2label=id2label, label2id={v: k for k, v in id2label.items()},
                               **spec["top"])
    model = Mask2FormerForUniversalSegmentation(config).eval()
    add_noise(model, spec["seed"])
    return model


def save_checkpoint(model, spec, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    opts = spec["options"]
    Mask2FormerImageProcessor(size={"shortest_edge": opts.get("shortest", 384), "longest_edge": opts.get("longest", 1333)},
                              ).save_pretrained(out)
    if opts.get("mixed_dtypes"):
        mix_dtypes(out)
    # Reload exactly as a user would, so goldens come from what the file holds.
    return Mask2FormerForUniversalSegmentation.from_pretrained(out, dtype=torch.float32).eval()


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
        t[f"pixel_decoder.level{i}"] = f
    t["pixel_decoder.mask_features"] = out.pixel_decoder_last_hidden_state
    for j, f in enumerate(out.transformer_decoder_hidden_states):
        t[f"transformer.layer{j}"] = f
    t["class_queries_logits"] = out.class_queries_logits
    t["masks_queries_logits"] = out.masks_queries_logits
    return {k: v.contiguous().float() for k, v in t.items()}


def msda_golden(out: Path):
    """Inputs and output of transformers' multi_scale_deformable_attention (grid_sample, bilinear, zeros,
    align_corners=False) on seeded values: 3 levels of odd sizes, 3 heads of 5 channels, 4 points, sampling
    locations from well inside to past every edge (the zeros padding), softmaxed weights."""
    from transformers.models.mask2former.modeling_mask2former import multi_scale_deformable_attention
    g = torch.Generator().manual_seed(77)
    shapes = [(3, 4), (5, 7), (9, 13)]
    heads, hd, levels, points, queries = 3, 5, 3, 4, 40
    s = sum(h * w for h, w in shapes)
    value = torch.randn((1, s, heads, hd), generator=g)
    loc = torch.rand((1, queries, heads, levels, points, 2), generator=g) * 1.6 - 0.3
    loc[0, :4] = torch.tensor([0.0, 1.0]).repeat(heads * levels * points)[: heads * levels * points * 2].view(heads, levels, points, 2)
    weights = torch.softmax(torch.randn((1, queries, heads, levels * points), generator=g), -1).view(1, queries, heads, levels, points)
    output = multi_scale_deformable_attention(value, shapes, loc, weights)
    save_file({"value": value.contiguous(), "sampling_locations": loc.contiguous(), "attention_weights": weights.contiguous(),
               "spatial_shapes": torch.tensor(shapes, dtype=torch.float32), "output": output.contiguous()}, out)
    print(f"msda: {queries} queries, {heads} heads of {hd}, levels {shapes} -> {out}")


def main(argv):
    if len(argv) >= 3 and argv[1] == "fixtures":
        root = Path(argv[2])
        for name, spec in FIXTURES.items():
            if argv[3:] and name not in argv[3:]:
                continue
            model = save_checkpoint(build(spec), spec, root / name)
            t = goldens(model, spec)
            save_file(t, root / name / "golden.safetensors")
            shapes = {k: list(v.shape) for k, v in t.items()}
            print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters; {json.dumps(shapes)}")
    elif len(argv) == 3 and argv[1] == "micro":
        save_checkpoint(build(MICRO), MICRO, Path(argv[2]))
    elif len(argv) == 3 and argv[1] == "msda":
        msda_golden(Path(argv[2]))
    elif len(argv) == 4 and argv[1] == "big":
        spec = BIG[argv[2]]
        out = Path(argv[3])
        model = save_checkpoint(build(spec), spec, out)
        t = goldens(model, spec)
        save_file({"pixel_values": t["pixel_values"]}, out / "pixel_values.safetensors")
        save_file({k: t[k] for k in ("class_queries_logits", "masks_queries_logits")}, out / "reference_raw.safetensors")
        print(f"{argv[2]}: {sum(p.numel() for p in model.parameters())} parameters -> {out}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
