"""Seed inputs for the fuzz targets that need generated files (fuzz/corpus/safetensors, modelfile).

    ~/hfref/bin/python tools/fuzz_seeds.py work/fuzz-seed
    .build/release/edge-seg convert work/fuzz-seed/micro -o fuzz/corpus/modelfile/micro.int8.eseg --calibration fuzz/corpus/png
    cp work/fuzz-seed/tensors.safetensors fuzz/corpus/safetensors/

A micro MaskFormer (every dimension minimal, seeded) keeps the model-file seed a few tens of KB so
that the fuzzer mutates structure, not bulk weights.
"""
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent / "reference"))
import maskformer_ref  # noqa: E402

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
g = torch.Generator().manual_seed(5)
save_file({"a": torch.randn(3, 5, generator=g), "b": torch.randn(2, 2, generator=g).half(),
           "c": torch.randn(7, generator=g).bfloat16()}, str(out / "tensors.safetensors"), metadata={"format": "pt"})
spec = dict(backbone=dict(embed_dim=4, depths=[1, 1, 1, 1], num_heads=[1, 1, 1, 1], window_size=2),
            decoder=dict(d_model=8, decoder_layers=1, decoder_attention_heads=1, decoder_ffn_dim=8, num_queries=2),
            top=dict(fpn_feature_size=32, mask_feature_size=32), labels=2, size=(32, 32), seed=9,
            options=dict(preprocessor="v5"))
model = maskformer_ref.build(spec)
maskformer_ref.save_checkpoint(model, spec, out / "micro")
