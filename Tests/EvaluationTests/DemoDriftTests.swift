// Drift of the bundled demo model (Models/shapes, trained by tools/demo/train.py) against its float
// checkpoint on held-out images (Tests/Fixtures/shapes-val: the first 20 images of the validation
// split, seed 2), and proof that the check catches a broken quantization.
//
// Thresholds, from measurements with a margin (on these 20 images: pixel agreement 99.29 %, PQ float
// 30.46 / int8 30.46, mIoU 46.77 / 46.64, mask-logit SQNR 33.8 dB): semantic-map pixel agreement
// >= 99 %, int8 PQ within 3 points of float PQ (one missed segment out of ~80 moves PQ by ~1.5),
// mIoU within 2, mask-logit SQNR >= 25 dB.
import Converter
import Evaluation
import Foundation
import Kernels
import MaskFormerInt8
import Testing
import _TestSupport

@Suite(.serialized) struct DemoDriftTests {
  static let modelDir = Fixtures.repository + "/Models/shapes"
  static let int8File = modelDir + "/model.int8.eseg"
  static let valDir = Fixtures.path("shapes-val")

  func evaluate(int8 path: String) throws -> EvaluationReport {
    let checkpoint = try Checkpoint(directory: Self.modelDir)
    let file = try ModelFile(path: path)
    return try Evaluator.evaluate([("float32", checkpoint.model), ("int8", try file.model())], preprocessor: checkpoint.preprocessor,
                                  dataset: try PanopticDataset(directory: Self.valDir),
                                  context: InferenceContext(kernels: .best(for: .detect()), threads: 2))
  }

  @Test func bundledInt8TracksFloat() throws {
    let r = try evaluate(int8: Self.int8File)
    let f = r.accuracy[0].scores, q = r.accuracy[1].scores
    #expect(r.images == 20)
    #expect(r.drift.pixelAgreement >= 99, "semantic pixel agreement \(r.drift.pixelAgreement) %")
    #expect(abs(f.pq - q.pq) <= 3, "PQ float \(f.pq) vs int8 \(q.pq)")
    #expect(abs(f.mIoU - q.mIoU) <= 2, "mIoU float \(f.mIoU) vs int8 \(q.mIoU)")
    #expect(r.drift.maskLogits.sqnr >= 25, "mask-logit SQNR \(r.drift.maskLogits.sqnr) dB")
  }

  /// The float model segments well enough for the drift figures to mean something (measured on
  /// these images: PQ 30.5, stuff PQ 64.4, mIoU 46.8; a random-init model scores ~0-5).
  @Test func floatModelSegments() throws {
    let r = try evaluate(int8: Self.int8File)
    #expect(r.accuracy[0].scores.pq >= 25 && r.accuracy[0].scores.mIoU >= 40,
            "float PQ \(r.accuracy[0].scores.pq), mIoU \(r.accuracy[0].scores.mIoU) on the fixture images")
  }

  /// A planted bug: the per-channel weight scales of one Swin MLP layer rotated by one channel (each
  /// channel dequantized with its neighbour's scale). The same checks must fail.
  @Test func catchesWrongChannelScales() throws {
    let file = try ModelFile(path: Self.int8File)
    let target = try #require(file.tensors.first { $0.dtype == .qgemmI8x4N16 && $0.name.contains("layers.1.blocks.0.intermediate") })
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.int8File)))
    let n = target.dims[0], k = target.dims[1], kp = (k + 3) / 4 * 4, panelBytes = 192 + 16 * kp
    var scales: [UInt32] = []
    for c in 0..<n {
      let at = Int(target.offset) + (c / 16) * panelBytes + 128 + 4 * (c % 16)
      scales.append(bytes[at..<(at + 4)].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
    }
    for c in 0..<n {
      let at = Int(target.offset) + (c / 16) * panelBytes + 128 + 4 * (c % 16)
      withUnsafeBytes(of: scales[(c + 1) % n]) { bytes.replaceSubrange(at..<(at + 4), with: $0) }
    }
    let planted = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-planted-\(getpid()).eseg").path
    try Data(bytes).write(to: URL(fileURLWithPath: planted))
    defer { try? FileManager.default.removeItem(atPath: planted) }
    let r = try evaluate(int8: planted)
    print("planted wrong-channel scales: semantic pixel agreement \(r.drift.pixelAgreement) %, mask-logit SQNR \(r.drift.maskLogits.sqnr) dB, PQ float \(r.accuracy[0].scores.pq) int8 \(r.accuracy[1].scores.pq), mIoU float \(r.accuracy[0].scores.mIoU) int8 \(r.accuracy[1].scores.mIoU)")
    let caught = r.drift.pixelAgreement < 99 || r.drift.maskLogits.sqnr < 25
      || abs(r.accuracy[0].scores.pq - r.accuracy[1].scores.pq) > 3
    #expect(caught, "planted wrong-channel scales not caught: agreement \(r.drift.pixelAgreement) %, SQNR \(r.drift.maskLogits.sqnr) dB")
  }

  /// The committed int8 file is what `edge-seg convert` makes of the committed checkpoint today.
  @Test func bundledFileIsCurrent() throws {
    var options = ConvertOptions()
    options.calibrationDirectory = Self.modelDir + "/calibration"
    options.method = .minmax   // Models/shapes/README.md: minmax drifts least on this model
    options.threads = 2
    options.kernels = KernelTable(f32GEMM: .portable, qs8GEMM: .portable)   // the same bytes on every CPU
    let fresh = FileManager.default.temporaryDirectory.appendingPathComponent("edge-seg-fresh-\(getpid()).eseg").path
    defer { try? FileManager.default.removeItem(atPath: fresh) }
    try ModelConverter.convert(try Checkpoint(directory: Self.modelDir), options: options, to: fresh) { _, _, _ in }
    let a = try Data(contentsOf: URL(fileURLWithPath: fresh)), b = try Data(contentsOf: URL(fileURLWithPath: Self.int8File))
    #expect(a == b, "Models/shapes/model.int8.eseg is stale: re-run the convert command in Models/shapes/README.md")
  }
}
