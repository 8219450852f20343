// DriftSearch: accuracy-controlled conversion (`edge-seg convert --max-drift P`). Converts, measures
// every layer's drift against the float checkpoint on the calibration images (Evaluation.LayerDrift,
// the shipped graph), keeps the int8 layers adding the most noise in float, and repeats until the
// semantic map differs from float32's on at most P % of the pixels. It sits above Converter and
// Evaluation, which do not know each other.
import Converter
import Evaluation
import Foundation
import ImageCodecs
import MaskFormerInt8

public enum DriftSearch {
  /// One round: the layers kept float so far and the drift measured with them.
  public struct Step: Sendable {
    public var keptFloat: [String]
    /// Semantic-map pixels that differ from the float model on the calibration images, in percent.
    public var pixelDisagreement: Double
    public var maskLogitSQNR: Double
  }

  /// Writes an int8 model file to `output` whose drift on the calibration images is within
  /// `maxDrift` percent of pixels (or with every layer float that can be), and returns the rounds.
  @discardableResult
  public static func convert(_ checkpoint: any ConvertibleCheckpoint, options: ConvertOptions, maxDrift budget: Double, to output: String,
                             progress: (String, Int, Int) -> Void) throws -> [Step] {
    precondition(options.precision == .int8, "--max-drift applies to int8 conversion")
    let (stats, images) = try ModelConverter.calibrate(checkpoint, options: options, progress: progress)
    var policy = PrecisionPolicy(extra: options.keepFloat, defaults: type(of: checkpoint).defaultKeepFloat)
    let inputs = try images.map { path in
      let image = try ImageDecoder.decode([UInt8](FileManager.default.contents(atPath: path) ?? Data())).orientedRGB()
      return ImageProcessor.pixelValues(image, config: checkpoint.preprocessor)
    }
    let trial = output + ".drift-trial"
    defer { try? FileManager.default.removeItem(atPath: trial) }
    var steps: [Step] = [], extra: [String] = []
    while true {
      try ModelConverter.write(checkpoint, options: options, policy: policy, stats: stats, drift: nil, to: trial) { _, _, _ in }
      let file = try ModelFile(path: trial)
      let report = LayerDrift.measure(reference: checkpoint.network, quantized: try file.network(), inputs: inputs,
                                      context: InferenceContext(kernels: options.kernels, threads: options.threads))
      let step = Step(keptFloat: extra, pixelDisagreement: 100 - report.output.pixelAgreement, maskLogitSQNR: report.output.maskLogits.sqnr)
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
    let last = steps.last!
    try ModelConverter.write(checkpoint, options: options, policy: policy, stats: stats,
                             drift: .init(budget: budget, pixelDisagreement: last.pixelDisagreement, maskLogitSQNR: last.maskLogitSQNR,
                                          keptFloat: last.keptFloat),
                             to: output, progress: progress)
    return steps
  }
}
