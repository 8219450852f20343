"""Copy a train.py checkpoint into the bundled model folder, with the weights stored as float16.

    ~/hfref/bin/python tools/demo/export_model.py work/shapes-run/best Models/shapes [--log RUN/log.jsonl ...]

Writes OUT/model.safetensors (every float tensor cast to F16: half the size; edge-seg and transformers
both widen F16 to float32 on load, so the float reference is these rounded weights), config.json and
preprocessor_config.json unchanged, and OUT/learning_curve.jsonl from the runs' logs if given (one
log per training phase, in order; each record gets its phase number).
"""
import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--log", nargs="+", default=[], help="the runs' log.jsonl files, one per phase")
    args = ap.parse_args()
    src, out = Path(args.checkpoint), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tensors = load_file(str(src / "model.safetensors"))
    half = {k: (v.half() if v.dtype.is_floating_point else v).contiguous() for k, v in sorted(tensors.items())}
    save_file(half, str(out / "model.safetensors"), metadata={"format": "pt"})
    for name in ("config.json", "preprocessor_config.json"):
        shutil.copyfile(src / name, out / name)
    if args.log:
        with open(out / "learning_curve.jsonl", "w") as curve:
            for phase, log in enumerate(args.log, 1):
                for line in Path(log).read_text().splitlines():
                    curve.write(json.dumps(dict(phase=phase, **json.loads(line))) + "\n")
    print(f"{len(half)} tensors -> {out / 'model.safetensors'} ({(out / 'model.safetensors').stat().st_size} bytes)")


if __name__ == "__main__":
    main()
