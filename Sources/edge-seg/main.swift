// edge-seg: command-line entry. Switches on the subcommand; each has its own options struct.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let usage = """
  usage: edge-seg <command> [options]

  commands:
    run [MODEL] IMAGE [--output DIR] [--json] [--task panoptic|instance|semantic] [--threshold X]
        [--mask-threshold X] [--overlap X] [--fuse ID,...] [--size N] [--max-pixels N]
        Segments IMAGE as transformers' image-segmentation pipeline does and writes segments.json,
        one PNG mask per segment, overlay.png (and panoptic.png + panoptic.json) into DIR (default
        edge-seg-output). MODEL: a checkpoint folder (float32) or a model file; without MODEL, the
        bundled demo model (Models/shapes/model.int8.eseg, or $EDGE_SEG_MODEL).
          --size N           resize the shortest edge to N instead of the checkpoint's size, the
                             longest-edge cap scaled alike
    run MODEL IMAGE --raw OUT.safetensors
    run MODEL --pixel-values IN.safetensors --raw OUT.safetensors
        The logits only: class_queries_logits [1,Q,K+1] and masks_queries_logits
        [1,Q,ceil(H/4),ceil(W/4)] as safetensors (from an image, or a pixel_values [1,3,H,W] tensor).
    common to run:
          --threads N        worker threads (default: all cores)
          --isa NAME         auto|avx512|avx2|neon|portable|reference (default: auto)
          --runs N           run the forward pass N times, report the median (default: 1)
          --warmup N         untimed forward passes first (default: 0)
          --verbose          timings, kernels and peak memory on stderr
          --times-json       forward times and peak RSS as JSON on stdout (for bench/)
    convert MODEL_DIR -o MODEL_FILE [--precision int8|float16|float32] [--calibration DIR]
            [--method minmax|percentile|entropy|mse] [--samples N] [--keep-float PATTERN]... [--threads N]
            [--max-drift PERCENT] [--isa NAME]
        Calibrates on the images in DIR (default ./Calibration, first 8), quantizes weights to int8
        per output channel and writes one memory-mappable model file (docs/FORMAT.md), atomically.
        --max-drift: keep the layers that add the most quantization noise in float, a tenth of the
        int8 layers per round, until the semantic map differs from float32's on at most PERCENT of
        the calibration pixels; the policy and the drift reached go into the file's metadata.
        --isa: kernels of the calibration passes (portable: the same bytes on every CPU).
    eval MODEL_DIR DATASET_DIR [--int8 MODEL_FILE] [--limit N] [--threshold X] [--threads N] [--json]
        Float32 checkpoint and int8 file side by side on a COCO-panoptic style dataset
        (tools/demo/make_dataset.py): PQ/SQ/RQ (things, stuff), mIoU, pixel accuracy, and the int8
        drift against float32 (mask-logit SQNR and cosine, query class agreement, semantic pixel
        agreement, IoU of matched segments). The int8 file defaults to MODEL_DIR/model.int8.eseg,
        else a conversion with MODEL_DIR/calibration (or ./Calibration).
    drift MODEL_FILE --reference MODEL_DIR IMAGE... [--threads N] [--json]
        Per quantized layer, in graph order, its output against the float checkpoint's same layer
        (SQNR, cosine, max abs error, noise it adds), then the end-to-end drift.
    profile MODEL IMAGE [--runs N] [--threads N] [--isa NAME] [--task T] [--json] [--trace FILE]
        Per span in graph order (op inside block inside stage): median time over N runs (default 5,
        after a warm-up), share, MACs, GMAC/s, precision, output shape, bytes moved; per-stage totals
        (preprocess, backbone stages, pixel decoder, transformer, heads, postprocess); peak RSS and the
        resident split into mapped weights and anonymous memory, with a timeline. --trace writes
        Chrome trace-event JSON (Perfetto, chrome://tracing).
    verify MODEL_FILE
        Validates the file's structure and every tensor checksum.
    decode IMAGE [--png OUT.png] [--max-pixels N]
        Decodes a PNG, JPEG or PPM/PGM as run does (EXIF orientation applied, RGB); reports size,
        time and peak memory, optionally writes a PNG.
    compare ACTUAL.safetensors REFERENCE.safetensors
        Per tensor present in both: max abs error, max |reference| and their ratio.

  exit codes: 0 ok, 64 usage error, 65 bad input data, 66 unreadable file, 73 cannot write the output,
  1 internal error
  """


let args = CommandLine.arguments.dropFirst()
guard let command = args.first else {
  FileHandle.standardError.write(usage + "\n")
  exit(64)
}
let status: Int32
switch command {
case "run": status = runCommand(args.dropFirst())
case "compare": status = compareCommand(args.dropFirst())
case "decode": status = decodeCommand(args.dropFirst())
case "convert": status = convertCommand(args.dropFirst())
case "verify": status = verifyCommand(args.dropFirst())
case "eval": status = evalCommand(args.dropFirst())
case "drift": status = driftCommand(args.dropFirst())
case "profile": status = profileCommand(args.dropFirst())
case "help", "--help", "-h":
  print(usage)
  status = 0
default:
  FileHandle.standardError.write("edge-seg: unknown command '\(command)'\n\(usage)\n")
  status = 64
}
exit(status)
