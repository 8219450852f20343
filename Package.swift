// swift-tools-version: 6.2
// edge-seg: MaskFormer (Hugging Face transformers) on small CPUs. No package dependencies.
import PackageDescription

// Strict memory safety is on for the pure-math target; the pointer-heavy targets are being annotated
// with `unsafe` file by file and switch it on when they build clean (README, "Known gaps").
let strict: [SwiftSetting] = [.strictMemorySafety()]

let package = Package(
  name: "edge-seg",
  platforms: [.macOS(.v15), .iOS(.v18)],
  products: [
    .library(name: "EdgeSeg", targets: ["EdgeSeg"]),
    .library(name: "MaskFormerInt8", targets: ["MaskFormerInt8"]),
    .library(name: "Converter", targets: ["Converter"]),
    .executable(name: "edge-seg", targets: ["edge-seg"]),
  ],
  targets: [
    // MARK: - Runtime (stdlib + Glibc/Darwin only)
    .target(name: "Quant", swiftSettings: strict),
    .target(name: "_CKernels"),  // C: per-ISA microkernels + CPU feature query
    .target(name: "Kernels", dependencies: ["Quant", "_CKernels"]),
    .target(name: "Imaging"),  // the Image type: pixels in memory, orientation, RGB
    .target(name: "ImageCodecs", dependencies: ["Imaging"]),  // PNG/JPEG/PNM decoders, PNG encoder: fuzzable alone
    .target(name: "MaskFormerInt8", dependencies: ["Kernels", "Quant", "Imaging"]),  // the model runtime
    .target(name: "ProcessStats"),  // resident memory from the OS (/proc, getrusage)
    // MARK: - Offline tooling and CLI
    .target(name: "Converter", dependencies: ["MaskFormerInt8", "ImageCodecs"]),  // reads HF checkpoints, calibrates, writes model files
    .target(name: "EdgeSeg", dependencies: ["MaskFormerInt8", "Converter", "ImageCodecs", "Imaging", "Kernels", "ProcessStats"]),  // the app-facing library: one import
    .target(name: "Rendering", dependencies: ["MaskFormerInt8", "Imaging"]),  // overlays a person looks at
    .target(name: "Profiling", dependencies: ["MaskFormerInt8", "ProcessStats"]),  // the profiler (a graph observer), summaries, traces
    .target(name: "Evaluation", dependencies: ["MaskFormerInt8", "ImageCodecs"]),  // metrics, datasets, drift: not needed on device
    .target(name: "Tuning", dependencies: ["Converter", "Evaluation", "ImageCodecs"]),  // accuracy-controlled conversion (--max-drift)
    .executableTarget(name: "edge-seg", dependencies: ["EdgeSeg", "Converter", "Evaluation", "Rendering", "Profiling", "ProcessStats", "Tuning"]),
    // MARK: - Benchmarks
    .executableTarget(name: "kernel-bench", dependencies: ["Kernels", "_CKernels"], path: "bench/KernelBench"),
    // MARK: - Fuzzing (libFuzzer with -DFUZZING, fuzz/run.sh; a replay driver otherwise)
    .executableTarget(name: "fuzz", dependencies: ["Converter", "MaskFormerInt8", "ImageCodecs"], path: "fuzz/Harness"),
    // MARK: - Tests
    .target(name: "_TestSupport", dependencies: ["Kernels", "Converter"], path: "Tests/_TestSupport"),
    .testTarget(name: "KernelsTests", dependencies: ["Kernels", "_CKernels", "MaskFormerInt8", "_TestSupport"]),
    .testTarget(name: "MaskFormerTests", dependencies: ["MaskFormerInt8", "Converter", "EdgeSeg", "Profiling", "Rendering", "_TestSupport"]),
    .testTarget(name: "ConverterTests", dependencies: ["Converter", "_TestSupport"]),
    .testTarget(name: "CLITests", dependencies: ["ImageCodecs", "_TestSupport"]),  // runs the built edge-seg and fuzz executables
    .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "Converter", "MaskFormerInt8", "Profiling", "Tuning", "_TestSupport"]),
    .testTarget(name: "ImageCodecsTests", dependencies: ["ImageCodecs", "_TestSupport"]),
    .testTarget(name: "QuantTests", dependencies: ["Quant", "_TestSupport"]),
  ]
)
