// Usage: every subcommand's flags and help text in one table. The option parser accepts exactly the
// flags listed here, so `edge-seg help` and `edge-seg COMMAND --help` list every flag a command takes.
import EdgeSeg

struct CommandSpec {
  var name: String
  /// Usage lines and a description, as `edge-seg COMMAND --help` prints them.
  var text: String
  var valueFlags: Set<String>
  var switches: Set<String>
}

enum Usage {
  static let isaNames = "auto|avx512|avx2|i8mm|neondot|neon|portable|reference"

  static let commands: [CommandSpec] = [
    CommandSpec(name: "run", text: """
        run [MODEL] IMAGE [--output DIR] [--json] [--task panoptic|instance|semantic] [--threshold X]
            [--mask-threshold X] [--overlap X] [--fuse ID,...] [--size N] [--max-pixels N]
            [--threads N] [--isa NAME] [--float-attention] [--max-memory SIZE] [--token-chunk N] [--band-rows N] [--verbose]
            Segments IMAGE as transformers' image-segmentation pipeline does and writes segments.json,
            one PNG mask per segment, overlay.png (and panoptic.png + panoptic.json) into DIR (default
            edge-seg-output). MODEL: a checkpoint folder (float32) or a model file; without MODEL, the
            bundled demo model (Models/shapes/model.int8.eseg, or $EDGE_SEG_MODEL).
              --task T           panoptic (default), instance or semantic
              --threshold X      minimum segment score (default 0.9, the pipeline's)
              --mask-threshold X mask probability threshold (default 0.5)
              --overlap X        overlap mask area threshold (default 0.5)
              --fuse ID,...      label ids whose segments are fused into one (panoptic)
              --size N           resize the shortest edge to N instead of the checkpoint's size, the
                                 longest-edge cap scaled alike
              --max-pixels N     refuse larger images before decoding (default 178956970, Pillow's)
              --json             also print segments.json on stdout
        run MODEL IMAGE... | DIR... [the options above]
            Many images in one process (the model opened once, one session per image size reused):
            IMAGE files and the image files of each DIR (png, jpg, jpeg, ppm, pgm, pnm; sorted, not
            recursive), each image's outputs in DIR/<its name> under --output. A progress bar on a
            terminal, else a line per image; a summary (images/s, latency median and p95, peak RSS) on
            stderr; --json prints one segments.json line per image. A bad or missing image is reported
            and skipped; the exit code is then the first failure's.
        run [MODEL] --frames WxH - [--overlay-frames -] [the segmentation options above]
            Raw RGB24 frames of W x H from standard input (ffmpeg -f rawvideo -pix_fmt rgb24 -), one
            session for all: per frame one JSON line of segments on stdout, or with --overlay-frames -
            the overlay frames (W x H RGB24, no legend) on stdout instead; frames/s on stderr at the end.
            A stream that ends inside a frame is reported after the last whole frame (exit 65).
        run MODEL IMAGE --raw OUT.safetensors
        run MODEL --pixel-values IN.safetensors --raw OUT.safetensors [--runs N] [--warmup N] [--times-json]
            The logits only: class_queries_logits [1,Q,K+1] and masks_queries_logits
            [1,Q,ceil(H/4),ceil(W/4)] as safetensors (from an image, or a pixel_values [1,3,H,W] tensor).
              --runs N           run the forward pass N times, report the median (default: 1)
              --warmup N         untimed forward passes first (default: 0)
              --times-json       forward times and peak RSS as JSON on stdout (for bench/)
        common to run:
              --threads N        worker threads (default: all cores)
              --isa NAME         \(isaNames) (default: auto)
              --float-attention  Swin window attention in float even where q, k and v are int8 layers
                                 (default: int8 there: q, k, v per token, P per query row)
              --max-memory SIZE  peak RSS budget (256M, 1G, ...): the fastest streaming predicted to fit,
                                 or exit 64 with what the input needs
              --token-chunk N    Swin blocks on at most N tokens at a time (default 4096; 0: whole maps)
              --band-rows N      the stride-4 level in bands of N rows (default: whole maps; 0: whole)
              --verbose          timings, kernels and peak memory on stderr
        """,
      valueFlags: ["--pixel-values", "--raw", "--threads", "--isa", "--runs", "--warmup", "--output", "--task", "--threshold", "--frames", "--overlay-frames",
                   "--mask-threshold", "--overlap", "--fuse", "--max-pixels", "--size", "--token-chunk", "--band-rows", "--max-memory"],
      switches: ["--verbose", "--times-json", "--json", "--float-attention"]),
    CommandSpec(name: "info", text: """
        info MODEL [--json]
            What a model file or checkpoint folder holds: architecture and sizes, labels, preprocessing,
            the precision of each kind of layer and the exceptions, calibration (method, image count,
            digest), the drift the file was converted to, tensor count and bytes. Reads no weights.
              --json             the same as JSON on stdout
        """,
      valueFlags: [], switches: ["--json"]),
    CommandSpec(name: "convert", text: """
        convert MODEL_DIR -o MODEL_FILE [--precision int8|float16|float32] [--calibration DIR]
                [--method minmax|percentile|entropy|mse] [--samples N] [--keep-float PATTERN]... [--threads N]
                [--max-drift PERCENT] [--isa NAME]
            Calibrates on the images in DIR (default MODEL_DIR/calibration, else ./Calibration, first N =
            8), quantizes weights to int8 per output channel and writes one memory-mappable model file
            (docs/FORMAT.md), atomically.
              --keep-float P     layers whose name matches the glob stay float (repeatable)
              --max-drift P      keep the layers that add the most quantization noise in float, a tenth of
                                 the int8 layers per round, until the semantic map differs from float32's
                                 on at most P % of the calibration pixels; the policy and the drift reached
                                 go into the file's metadata
              --isa NAME         kernels of the calibration passes (portable: the same bytes on every CPU)
        """,
      valueFlags: ["--output", "--calibration", "--method", "--samples", "--precision", "--threads", "--max-drift", "--isa"],
      switches: []),
    CommandSpec(name: "eval", text: """
        eval MODEL_DIR DATASET_DIR [--int8 MODEL_FILE] [--limit N] [--threshold X] [--threads N] [--json]
            Float32 checkpoint and int8 file side by side on a COCO-panoptic style dataset
            (tools/demo/make_dataset.py): PQ/SQ/RQ (things, stuff), mIoU, pixel accuracy, and the int8
            drift against float32 (mask-logit SQNR and cosine, query class agreement, semantic pixel
            agreement, IoU of matched segments). The int8 file defaults to MODEL_DIR/model.int8.eseg,
            else a conversion with MODEL_DIR/calibration (or ./Calibration).
        """,
      valueFlags: ["--int8", "--limit", "--threads", "--threshold"], switches: ["--json"]),
    CommandSpec(name: "drift", text: """
        drift MODEL_FILE --reference MODEL_DIR IMAGE... [--threads N] [--json]
            Per quantized layer, in graph order, its output against the float checkpoint's same layer
            (SQNR, cosine, max abs error, noise it adds), then the end-to-end drift. Both models run the
            shipped graph (default streaming, int8 hand-over on).
        """,
      valueFlags: ["--reference", "--threads"], switches: ["--json"]),
    CommandSpec(name: "profile", text: """
        profile MODEL IMAGE [--runs N] [--threads N] [--isa NAME] [--float-attention] [--task T] [--size N]
                [--max-memory SIZE] [--token-chunk N] [--band-rows N] [--json] [--trace FILE]
            Per span in graph order (op inside block inside stage): median time over N runs (default 5,
            after a warm-up), share, MACs, GMAC/s, precision, output shape, bytes moved; per-stage totals
            (preprocess, backbone stages, pixel decoder, transformer, heads, postprocess); peak RSS and the
            resident split into mapped weights and anonymous memory, with a timeline; the arena's size,
            pages touched and heap fallbacks. --trace writes Chrome trace-event JSON (Perfetto,
            chrome://tracing).
        """,
      valueFlags: ["--runs", "--threads", "--trace", "--isa", "--task", "--size", "--token-chunk", "--band-rows", "--max-memory"],
      switches: ["--json", "--float-attention"]),
    CommandSpec(name: "verify", text: """
        verify MODEL_FILE
            Validates the file's structure and every tensor checksum.
        """, valueFlags: [], switches: []),
    CommandSpec(name: "decode", text: """
        decode IMAGE [--png OUT.png] [--max-pixels N]
            Decodes a PNG, JPEG or PPM/PGM as run does (EXIF orientation applied, RGB); reports size,
            time and peak memory, optionally writes a PNG.
        """, valueFlags: ["--png", "--max-pixels"], switches: []),
    CommandSpec(name: "compare", text: """
        compare ACTUAL.safetensors REFERENCE.safetensors
            Per tensor present in both: max abs error, max |reference| and their ratio, cosine, SQNR.
        """, valueFlags: [], switches: []),
  ]

  static func spec(_ name: String) -> CommandSpec {
    guard let s = commands.first(where: { $0.name == name }) else { preconditionFailure("no command spec \(name)") }
    return s
  }

  static let exitCodes = """
    exit codes: 0 ok, 64 usage error (or a memory budget or limit that cannot be met), 65 bad input data,
    66 unreadable file, 73 cannot write the output, 74 a mapped model file truncated while in use (SIGBUS),
    1 internal error
    """

  /// `edge-seg help`: every command.
  static var all: String {
    "usage: edge-seg <command> [options]   (edge-seg <command> --help, edge-seg --version)\n\ncommands:\n"
      + commands.map { indent($0.text) }.joined(separator: "\n") + "\n" + exitCodes
  }

  /// `edge-seg COMMAND --help`.
  static func help(_ name: String) -> String { "usage: edge-seg " + spec(name).text + "\n" + exitCodes }

  static func indent(_ s: String) -> String { s.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") }

  static var version: String { "edge-seg \(EdgeSeg.version) (model file format \(ModelFileFormat.version))" }
}

extension OptionParser {
  /// The flags of `command` (Usage.commands).
  init(_ args: ArraySlice<String>, command: String) throws {
    let spec = Usage.spec(command)
    try self.init(args, valueFlags: spec.valueFlags, switches: spec.switches)
  }
}
