"""What streaming costs, forward only (issue 6): `edge-seg run MODEL --pixel-values PV --raw OUT --runs R
--warmup 1 --times-json` under several --token-chunk/--band-rows settings, in interleaved rounds, median of
the round medians, with each process's peak RSS (VmHWM as it reports it; every weight page stays resident
across the passes). With --baseline BIN, the same passes with another edge-seg build (for example the
commit before a change) run in the same rounds, and the table gives the ratio.

    swift build -c release
    python3 bench/tiling.py work/bench/sta/model.int8.eseg work/bench/sta/512x512/pixel_values.safetensors \\
        --rounds 3 [--baseline /path/to/old/edge-seg]
"""
import argparse
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SETTINGS = [("whole maps (`--token-chunk 0 --band-rows 0`)", "0", "0"),
            ("default: 4096-token chunks, stride-4 maps whole", "4096", "0"),
            ("4096-token chunks, 32-row bands", "4096", "32"),
            ("1024-token chunks, 8-row bands", "1024", "8")]


def forward(binary, model, pv, chunk, band, runs, threads):
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([str(binary), "run", str(model), "--pixel-values", str(pv), "--raw", f"{d}/out.safetensors",
                            "--runs", str(runs), "--warmup", "1", "--threads", threads, "--token-chunk", chunk,
                            "--band-rows", band, "--times-json"], capture_output=True, text=True, check=True)
    r = json.loads(p.stdout.strip().splitlines()[-1])
    return statistics.median(r["times"]) * 1000, r["vmhwm_kib"] / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", type=Path)
    ap.add_argument("pixel_values", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", default="2")
    ap.add_argument("--baseline", type=Path, help="another edge-seg binary to run in the same rounds")
    args = ap.parse_args()
    binaries = [("edge-seg", REPO / ".build" / "release" / "edge-seg")]
    if args.baseline:
        binaries.append(("baseline", args.baseline))
    times = {}
    for _ in range(args.rounds):
        for name, chunk, band in SETTINGS:
            for label, binary in binaries:
                t, mb = forward(binary, args.model, args.pixel_values, chunk, band, args.runs, args.threads)
                times.setdefault((name, label), []).append((t, mb))
    whole = statistics.median(t for t, _ in times[(SETTINGS[0][0], "edge-seg")])
    head = "| tiling | forward (ms) | vs whole maps | peak RSS (MiB) |"
    if args.baseline:
        head += " baseline forward (ms) | edge-seg / baseline | baseline peak RSS (MiB) |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, _, _ in SETTINGS:
        runs = times[(name, "edge-seg")]
        t = statistics.median(x for x, _ in runs)
        mbs = sorted(m for _, m in runs)
        row = f"| {name} | {t:.0f} | {t / whole:.2f} | {mbs[0]:.0f}-{mbs[-1]:.0f} |"
        if args.baseline:
            base = times[(name, "baseline")]
            bt = statistics.median(x for x, _ in base)
            bm = sorted(m for _, m in base)
            row += f" {bt:.0f} | {t / bt:.2f} | {bm[0]:.0f}-{bm[-1]:.0f} |"
        print(row)


if __name__ == "__main__":
    main()
