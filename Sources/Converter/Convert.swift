// Convert: a Hugging Face checkpoint folder → calibration on real images → int8 weights with one scale
// per output channel and per-tensor activation parameters → one memory-mappable model file.
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
  public init() {}
}

/// Which layers run in int8: every Linear/conv but those matching `keepFloat` (the family's defaults,
/// `ConvertibleCheckpoint.defaultKeepFloat`, plus the user's).
public struct PrecisionPolicy: Sendable, Equatable {
  /// MaskFormer's (`Checkpoint.defaultKeepFloat`).
  public static let defaultKeepFloat = Checkpoint.defaultKeepFloat
  public var keepFloat: [String]

  /// The family's defaults (MaskFormer's unless given) plus `extra`.
  public init(extra: [String] = [], defaults: [String] = Checkpoint.defaultKeepFloat) { keepFloat = defaults + extra }

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
  /// `tokenChunk` and `bandRows` as in `InferenceContext` (the defaults are the shipped graph's); the
  /// statistics do not depend on them.
  public static func run(_ checkpoint: any ConvertibleCheckpoint, images: [String], method: CalibrationMethod, threads: Int,
                         kernels: KernelTable, tokenChunk: Int = 4096, bandRows: Int = .max,
                         progress: (Int, Int) -> Void) throws -> CalibrationStats {
    var stats = CalibrationStats()
    var digest = Data()
    for (i, path) in images.enumerated() {
      guard let data = FileManager.default.contents(atPath: path) else { throw CheckpointError.unreadable(path: path, reason: "cannot read file") }
      let image: Image
      do { image = try ImageDecoder.decode([UInt8](data)) } catch {
        throw CheckpointError.unreadable(path: path, reason: "\(error)")
      }
      digest.append(contentsOf: withUnsafeBytes(of: data.withUnsafeBytes { fnv1a64($0) }.littleEndian) { Array($0) })
      let pv = ImageProcessor.modelInput(image, config: checkpoint.preprocessor)
      // The shipped graph with its default streaming: the observers see each chunk as it is made, and
      // their histograms do not depend on how the layer's values were cut (StreamingHistogram).
      var ctx = InferenceContext(kernels: kernels, threads: threads)
      ctx.releaseWeightsAfterUse = true
      (ctx.tokenChunk, ctx.bandRows) = (tokenChunk, bandRows)
      var inputs = stats.inputs, outputs = stats.outputs
      ctx.observer = LayerObserver { layer, tap, values in
        switch tap {
        case .input: inputs[layer, default: ActivationObserver(method: method)].observe(values.span)
        case .output: outputs[layer, default: ActivationObserver(method: method)].observe(values.span)
        }
      }
      _ = checkpoint.network.logits(pixelValues: ArenaArray(pv.data), height: pv.height, width: pv.width, in: ctx)
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
  /// Calibrates (int8) and writes the converted model to `output` atomically. `progress(stage, done, total)`.
  public static func convert(_ checkpoint: any ConvertibleCheckpoint, options: ConvertOptions, to output: String,
                             progress: (String, Int, Int) -> Void) throws {
    let (stats, _) = try calibrate(checkpoint, options: options, progress: progress)
    try write(checkpoint, options: options, policy: PrecisionPolicy(extra: options.keepFloat, defaults: type(of: checkpoint).defaultKeepFloat),
              stats: stats, drift: nil, to: output, progress: progress)
  }

  /// The calibration statistics for `options` (none for float precisions) and the images used.
  public static func calibrate(_ checkpoint: any ConvertibleCheckpoint, options: ConvertOptions,
                               progress: (String, Int, Int) -> Void) throws -> (stats: CalibrationStats, images: [String]) {
    guard options.precision == .int8 else { return (CalibrationStats(), []) }
    guard let dir = options.calibrationDirectory else {
      throw CheckpointError.unreadable(path: checkpoint.directory, reason: "int8 conversion needs calibration images (--calibration DIR)")
    }
    let images = try Calibration.images(in: dir, samples: options.samples)
    let stats = try Calibration.run(checkpoint, images: images, method: options.method, threads: options.threads,
                                    kernels: options.kernels) { progress("calibrate", $0, $1) }
    return (stats, images)
  }

  /// What an accuracy-controlled conversion reached (`Tuning.DriftSearch`), recorded in the metadata.
  public struct DriftRecord: Sendable {
    /// The largest semantic-map pixel disagreement with float32 allowed, percent.
    public var budget: Double
    public var pixelDisagreement: Double
    public var maskLogitSQNR: Double
    public var keptFloat: [String]

    public init(budget: Double, pixelDisagreement: Double, maskLogitSQNR: Double, keptFloat: [String]) {
      self.budget = budget
      self.pixelDisagreement = pixelDisagreement
      self.maskLogitSQNR = maskLogitSQNR
      self.keptFloat = keptFloat
    }
  }

  /// Writes the model file for `policy` and calibration `stats` to `output` atomically.
  public static func write(_ checkpoint: any ConvertibleCheckpoint, options: ConvertOptions, policy: PrecisionPolicy, stats: CalibrationStats,
                           drift: DriftRecord?, to output: String, progress: (String, Int, Int) -> Void) throws {
    var w = ModelFileWriter()
    w.metadata += checkpoint.modelMetadata
    w.meta("quant.precision", .string(options.precision.rawValue))
    w.meta("quant.weights", .string("int8 symmetric, one scale per output channel, range [-127, 127], zero point 0"))
    w.meta("quant.activations", .string("int8 asymmetric per tensor: real = scale * (q - zero_point)"))
    w.meta("quant.bias", .string("int32 at scale input_scale * weight_scale[c]"))
    w.meta("quant.rounding", .string("round half to even; requantize q = clamp(roundHalfEven(acc * scale) + zp)"))
    w.meta("quant.policy.keep_float", .strings(policy.keepFloat))
    if let drift {
      w.meta("quant.max_drift", .string("semantic pixel disagreement with float32 on the calibration images <= \(drift.budget) %"))
      w.meta("quant.drift.pixel_disagreement_percent", .float(drift.pixelDisagreement))
      w.meta("quant.drift.mask_logits_sqnr_db", .float(drift.maskLogitSQNR))
      w.meta("quant.drift.kept_float", .strings(drift.keptFloat))
    }
    if options.precision == .int8 {
      w.meta("calibration.method", .string(options.method.rawValue))
      w.meta("calibration.images", .strings(stats.images))
      w.meta("calibration.image_digest", .string(stats.digest))
    }
    try TensorPlan.add(checkpoint, to: &w, precision: options.precision, policy: policy, stats: stats)
    try w.write(to: output) { progress("write", $0, $1) }
  }
}
