"""Helpers both reference tools share (maskformer_ref.py, mask2former_ref.py)."""
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def add_noise(model, seed):
    """Seeded noise on every float tensor: HF's init leaves norms at 1 and biases at 0 (and Mask2Former's
    sampling offsets at 0), which would hide weight-mapping bugs."""
    g = torch.Generator().manual_seed(1000 + seed)
    with torch.no_grad():
        for _, p in sorted(model.state_dict().items()):
            if p.dtype.is_floating_point:
                p.add_(torch.randn(p.shape, generator=g) * 0.05)


def mix_dtypes(out: Path):
    """Rewrites out/model.safetensors with its F32 tensors stored as F16, BF16 and F32 in turn (so that F32
    tensors land misaligned in the file)."""
    tensors = load_file(out / "model.safetensors")
    kinds = [torch.float16, torch.bfloat16, torch.float32]
    mixed = {}
    for i, name in enumerate(sorted(tensors)):
        t = tensors[name]
        mixed[name] = t.to(kinds[i % 3]) if t.dtype == torch.float32 else t
    save_file(mixed, out / "model.safetensors", metadata={"format": "pt"})
