// The one hook at op boundaries: observing changes nothing in what is computed (int8 logits bit for
// bit with and without observers, streamed or whole), calibration sees the shipped graph (ranges with
// the default streaming equal those with whole maps), and drift's end-to-end figures are those of a
// plain run.
import Converter
import EdgeSeg
import Foundation
import Testing
import _TestSupport

@Suite struct InstrumentationTests {
  static let modelFile = Fixtures.repository + "/Models/shapes/model.int8.eseg"
  static let image = Fixtures.repository + "/Examples/shapes-2.png"

  func logits(_ model: MaskFormer, _ pv: PixelValues, chunk: Int, band: Int, observer: (any GraphObserver)?,
              kernels: KernelTable = .best(for: .detect())) -> MaskLogits {
    var ctx = InferenceContext(kernels: kernels, threads: 2)
    (ctx.tokenChunk, ctx.bandRows, ctx.observer) = (chunk, band, observer)
    return model.logits(pixelValues: pv.data, height: pv.height, width: pv.width, in: ctx)
  }

  /// Every observer on (layer taps, named intermediates, profiler-style spans), in chunks of 256 tokens
  /// and 8-row bands and whole: the int8 model's logits are bit-identical to an unobserved run's.
  @Test(arguments: [(256, 8), (4096, Int.max)])
  func observingChangesNothing(_ streaming: (Int, Int)) throws {
    let file = try ModelFile(path: Self.modelFile)
    let model = try file.model()
    let pv = ImageProcessor.modelInput(try ImageDecoder.decode(contentsOfFile: Self.image), config: try file.preprocessor())
    let plain = logits(model, pv, chunk: streaming.0, band: streaming.1, observer: nil)
    var taps = 0, int8Layers = Set<String>()
    let layers = LayerObserver { layer, _, values in taps += values.count; int8Layers.insert(layer) }
    let recorder = TensorRecorder()
    let observed = logits(model, pv, chunk: streaming.0, band: streaming.1, observer: ObserverGroup([layers, recorder]))
    #expect(observed.maskLogits == plain.maskLogits && observed.classLogits == plain.classLogits)
    #expect(taps > 0 && int8Layers.contains("mask_embedder.2.0"), "\(int8Layers.count) layers seen")
    // The stage features are produced in int8 for the FPN and recorded as such (dequantized).
    #expect(recorder.order.contains("encoder.stage0") && recorder.order.contains("transformer.last_hidden_state"))
  }

  /// Unobserved, the stride-4 FPN level hands int8 over (GroupNorm, upsample-add and quantization in one
  /// pass for each int8 conv: `FPNLayer.handsOverInt8`); observed, it runs op by op so the observer sees
  /// the float maps. Both give the same logits bit for bit on every kernel tier this CPU has.
  @Test(arguments: ["portable", "avx2", "avx512", "neon", "neondot", "i8mm"])
  func int8HandOverEqualsOpByOp(_ isa: String) throws {
    guard let kernels = KernelTable.named(isa, features: .detect()) else { return }
    let file = try ModelFile(path: Self.modelFile)
    let model = try file.model()
    let pv = ImageProcessor.modelInput(try ImageDecoder.decode(contentsOfFile: Self.image), config: try file.preprocessor())
    let fused = logits(model, pv, chunk: 4096, band: Int.max, observer: nil, kernels: kernels)
    var seen = Set<String>()
    let opByOp = logits(model, pv, chunk: 4096, band: Int.max, observer: LayerObserver { layer, _, _ in seen.insert(layer) }, kernels: kernels)
    let sawBlocks = seen.contains { $0.contains("decoder.fpn.layers.") && $0.hasSuffix(".block.0") } && seen.contains("mask_logits.einsum")
    #expect(sawBlocks, "\(isa): the observed run did not show the FPN's block convs and the folded mask conv as layers")
    #expect(fused.maskLogits == opByOp.maskLogits && fused.classLogits == opByOp.classLogits, "\(isa): the int8 hand-over changed the logits")
  }

  /// Activation ranges with the default streaming (4096-token chunks: the calibration images at 512
  /// give 21,888 stage-0 tokens, so the Swin layers are seen in six chunks) equal those with whole maps,
  /// for the histogram method (percentile) as for min/max.
  @Test func calibrationSeesTheShippedGraph() throws {
    let checkpoint = try Checkpoint(directory: Fixtures.path("tiny"))
    let images = Array(try Calibration.images(in: Fixtures.repository + "/Calibration", samples: 2))
    func stats(_ chunk: Int) throws -> CalibrationStats {
      try Calibration.run(checkpoint, images: images, method: .percentile, threads: 2, kernels: .best(for: .detect()), tokenChunk: chunk) { _, _ in }
    }
    let streamed = try stats(4096), whole = try stats(.max)
    #expect(streamed.inputs.count > 50 && streamed.inputs.keys.sorted() == whole.inputs.keys.sorted())
    for (layer, o) in whole.inputs {
      #expect(streamed.inputs[layer] == o, "\(layer) input: \(streamed.inputs[layer]?.clipRange() as Any) vs \(o.clipRange())")
      #expect(streamed.outputs[layer] == whole.outputs[layer], "\(layer) output")
    }
  }
}
