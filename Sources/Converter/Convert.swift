// Convert: a Hugging Face checkpoint folder → calibration on real images → int8 weights with one scale
// per output channel and per-tensor activation parameters → one memory-mappable model file.
import Evaluation
import Foundation
import ImageCodecs
import Kernels
import MaskFormerInt8
import Quant

public enum Precision: String, Sendable, CaseIterable { case int8, float16, float32 }

public struct ConvertOptions: Sendable {
  public var precision: Precision = .int8
  public var method: CalibrationMethod = .percentile
  /// Calibration images (a folder of PNG/JPEG/PPM files); nil: no calibration (float precisions only).
  public var calibrationDirectory: String?
  public var samples = 8
  /// Layers whose name matches one of these globs (`*` = any run of characters) stay float.
  public var keepFloat: [String] = []
  public var threads = 1
  /// Kernels of the calibration forward passes (tests pin a file digest with `.portable`).
  public var kernels: KernelTable = .best(for: .detect())
  /// Accuracy-controlled fallback (`--max-drift`): the largest semantic-map pixel disagreement with
  /// the float model on the calibration images, in percent, that the int8 file may have.
  public var maxDrift: Double?
  public init() {}
}

/// Which layers run in int8. Default, from published practice for Swin (LayerNorm, softmax, the
/// residual stream, the relative position bias and the mask einsum stay float; every Linear/Conv is
/// int8) with three cheap exceptions kept float until the drift tool measures them: the patch
/// embedding (its input is the normalized image; 0.15 % of the MACs) and the class and mask heads.
public struct PrecisionPolicy: Sendable, Equatable {
  public static let defaultKeepFloat = ["*.embeddings.patch_embeddings.projection", "class_predictor", "mask_embedder.*"]
  public var keepFloat: [String]

  public init(extra: [String] = []) { keepFloat = Self.defaultKeepFloat + extra }

  public func isFloat(_ layer: String) -> Bool { keepFloat.contains { glob($0, layer) } }

  /// `*` matches any run of characters; everything else matches itself.
  func glob(_ pattern: String, _ s: String) -> Bool {
    let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
    if parts.count == 1 { return pattern == s }
    var rest = Substring(s)
    guard rest.hasPrefix(parts[0]) else { return false }
    rest = rest.dropFirst(parts[0].count)
    for (i, part) in parts.enumerated().dropFirst() {
      if i == parts.count - 1 { return part.isEmpty || rest.hasSuffix(part) }
      guard let r = rest.range(of: part) else { return false }
      rest = rest[r.upperBound...]
    }
    return true
  }
}

/// Activation statistics of every Linear and conv, input and output, over the calibration images.
public struct CalibrationStats: Sendable {
  public var inputs: [String: ActivationObserver] = [:]
  public var outputs: [String: ActivationObserver] = [:]
  public var images: [String] = []
  public var digest: String = ""
}

public enum Calibration {
  static let extensions: Set<String> = ["png", "jpg", "jpeg", "ppm", "pgm"]

  public static func images(in dir: String, samples: Int) throws -> [String] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
      throw CheckpointError.unreadable(path: dir, reason: "cannot list the calibration folder")
    }
    let chosen = names.filter { extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted().prefix(samples)
    guard !chosen.isEmpty else { throw CheckpointError.unreadable(path: dir, reason: "no PNG, JPEG or PPM images to calibrate on") }
    return chosen.map { dir + "/" + $0 }
  }

  /// Runs the float model on each image and streams every layer's input and output into observers.
  public static func run(_ checkpoint: Checkpoint, images: [String], method: CalibrationMethod, threads: Int,
                         kernels: KernelTable, progress: (Int, Int) -> Void) throws -> CalibrationStats {
    var stats = CalibrationStats()
    var digest = Data()
    for (i, path) in images.enumerated() {
      guard let data = FileManager.default.contents(atPath: path) else { throw CheckpointError.unreadable(path: path, reason: "cannot read file") }
      let image: Image
      do { image = try ImageDecoder.decode([UInt8](data)).oriented().rgb() } catch {
        throw CheckpointError.unreadable(path: path, reason: "\(error)")
      }
      digest.append(contentsOf: withUnsafeBytes(of: data.withUnsafeBytes { fnv1a64($0) }.littleEndian) { Array($0) })
      let pv = ImageProcessor.pixelValues(image, config: checkpoint.preprocessor)
      var ctx = InferenceContext(kernels: kernels, threads: threads)
      ctx.releaseWeightsAfterUse = true
      var inputs = stats.inputs, outputs = stats.outputs
      ctx.observer = { layer, tap, values in
        switch tap {
        case .input: inputs[layer, default: ActivationObserver(method: method)].observe(values.span)
        case .output: outputs[layer, default: ActivationObserver(method: method)].observe(values.span)
        }
      }
      _ = checkpoint.model(pixelValues: pv.data, height: pv.height, width: pv.width, in: ctx)
      stats.inputs = inputs
      stats.outputs = outputs
      stats.images.append((path as NSString).lastPathComponent)
      progress(i + 1, images.count)
    }
    stats.digest = String(format: "%016llx", digest.withUnsafeBytes { fnv1a64($0) })
    return stats
  }
}

public enum ModelConverter {
  /// Writes the converted model to `output` atomically. `progress(stage, done, total)`. With
  /// `options.maxDrift`, returns the drift search's steps (else one step without measurements).
  @discardableResult
  public static func convert(_ checkpoint: Checkpoint, options: ConvertOptions, to output: String,
                             progress: (String, Int, Int) -> Void) throws -> [DriftStep] {
    var stats = CalibrationStats()
    var images: [String] = []
    if options.precision == .int8 {
      guard let dir = options.calibrationDirectory else {
        throw CheckpointError.unreadable(path: output, reason: "int8 conversion needs calibration images (--calibration DIR)")
      }
      images = try Calibration.images(in: dir, samples: options.samples)
      stats = try Calibration.run(checkpoint, images: images, method: options.method, threads: options.threads,
                                  kernels: options.kernels) {
        progress("calibrate", $0, $1)
      }
    }
    var policy = PrecisionPolicy(extra: options.keepFloat)
    guard options.precision == .int8, let budget = options.maxDrift else {
      try write(checkpoint, options: options, policy: policy, stats: stats, drift: nil, to: output, progress: progress)
      return [DriftStep(keptFloat: [], pixelDisagreement: .nan, maskLogitSQNR: .nan)]
    }
    // Accuracy-controlled fallback: measure, keep the layers adding the most noise in float, repeat.
    let inputs = try images.map { path in
      let image = try ImageDecoder.decode([UInt8](FileManager.default.contents(atPath: path) ?? Data())).oriented().rgb()
      return ImageProcessor.pixelValues(image, config: checkpoint.preprocessor)
    }
    let trial = output + ".drift-trial"
    defer { try? FileManager.default.removeItem(atPath: trial) }
    var steps: [DriftStep] = [], extra: [String] = []
    while true {
      try write(checkpoint, options: options, policy: policy, stats: stats, drift: nil, to: trial) { _, _, _ in }
      let file = try ModelFile(path: trial)
      let report = LayerDrift.measure(reference: checkpoint.model, quantized: try file.model(), inputs: inputs,
                                      context: InferenceContext(kernels: options.kernels, threads: options.threads))
      let step = DriftStep(keptFloat: extra, pixelDisagreement: 100 - report.output.pixelAgreement,
                           maskLogitSQNR: report.output.maskLogits.sqnr)
      steps.append(step)
      progress("drift", steps.count, steps.count)
      let int8 = Set(file.tensors.filter { $0.dtype == .qgemmI8x4N16 }.map { String($0.name.dropLast(".weight".count)) })
      let candidates = report.layers.filter { int8.contains($0.layer) }.sorted { $0.addedNoise > $1.addedNoise }
      if step.pixelDisagreement <= budget || candidates.isEmpty { break }
      // A tenth of the remaining int8 layers (at least one) per round: O(log) rounds, not O(layers).
      let chosen = candidates.prefix(max(1, candidates.count / 10)).map(\.layer)
      extra += chosen
      policy.keepFloat += chosen
    }
    try write(checkpoint, options: options, policy: policy, stats: stats, drift: (budget, steps.last!), to: output, progress: progress)
    return steps
  }

  /// One round of the drift search: the layers kept float so far and the drift measured with them.
  public struct DriftStep: Sendable {
    public var keptFloat: [String]
    /// Semantic-map pixels that differ from the float model on the calibration images, in percent.
    public var pixelDisagreement: Double
    public var maskLogitSQNR: Double
  }

  static func write(_ checkpoint: Checkpoint, options: ConvertOptions, policy: PrecisionPolicy, stats: CalibrationStats,
                    drift: (budget: Double, achieved: DriftStep)?, to output: String, progress: (String, Int, Int) -> Void) throws {
    var w = ModelFileWriter()
    MetadataWriter.model(&w, checkpoint.config, checkpoint.preprocessor)
    w.meta("quant.precision", .string(options.precision.rawValue))
    w.meta("quant.weights", .string("int8 symmetric, one scale per output channel, range [-127, 127], zero point 0"))
    w.meta("quant.activations", .string("int8 asymmetric per tensor: real = scale * (q - zero_point)"))
    w.meta("quant.bias", .string("int32 at scale input_scale * weight_scale[c]"))
    w.meta("quant.rounding", .string("round half to even; requantize q = clamp(roundHalfEven(acc * scale) + zp)"))
    w.meta("quant.policy.keep_float", .strings(policy.keepFloat))
    if let drift {
      w.meta("quant.max_drift", .string("semantic pixel disagreement with float32 on the calibration images <= \(drift.budget) %"))
      w.meta("quant.drift.pixel_disagreement_percent", .float(drift.achieved.pixelDisagreement))
      w.meta("quant.drift.mask_logits_sqnr_db", .float(drift.achieved.maskLogitSQNR))
      w.meta("quant.drift.kept_float", .strings(drift.achieved.keptFloat))
    }
    if options.precision == .int8 {
      w.meta("calibration.method", .string(options.method.rawValue))
      w.meta("calibration.images", .strings(stats.images))
      w.meta("calibration.image_digest", .string(stats.digest))
    }
    TensorPlan.add(checkpoint.model, to: &w, precision: options.precision, policy: policy, stats: stats)
    try w.write(to: output) { progress("write", $0, $1) }
  }
}
