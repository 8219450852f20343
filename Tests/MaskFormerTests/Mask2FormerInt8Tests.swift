// Mask2Former (issue 21) through `convert` to an int8 model file and back: the configuration round-trips,
// the family's precision policy holds (sampling offsets and heads float, everything else int8), the int8
// graph tracks the float one within a budget a real bug breaks, and its outputs do not depend on the int8
// kernel tier, the thread count, the token chunking or the streaming.
import Converter
import Foundation
import ImageCodecs
import Kernels
import MaskFormerInt8
import Testing
import _TestSupport

@Suite struct Mask2FormerInt8Tests {
  @Test(arguments: ["mask2former/tiny", "mask2former/labels"])
  func convertsAndTracksFloat(_ fixture: String) throws {
    let checkpoint = try Mask2FormerCheckpoint(directory: Fixtures.path(fixture))
    var options = ConvertOptions()
    options.calibrationDirectory = Fixtures.repository + "/Calibration"
    options.samples = 2
    let path = NSTemporaryDirectory() + "edge-seg-m2f-\(UUID().uuidString).eseg"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try ModelConverter.convert(checkpoint, options: options, to: path) { _, _, _ in }
    let file = try ModelFile(path: path)
    #expect(file.isMask2Former)
    #expect(try file.mask2FormerConfig() == checkpoint.config, "metadata round-trips the configuration")
    let model = try #require(try file.network() as? Mask2Former)
    #expect(model.isQuantized)
    let encoder = model.pixelDecoder.layers[0].attention
    #expect(encoder.samplingOffsets.quantized == nil && encoder.valueProjection.quantized != nil && encoder.attentionWeights.quantized != nil)
    #expect(model.transformer.heads.classPredictor.quantized == nil && model.transformer.layers[0].crossAttention.kProj.quantized != nil)
    #expect(model.pixelDecoder.output.conv.quantized != nil && model.pixelDecoder.inputProjections[0].conv.quantized != nil)

    // A photo that was not among the calibration images.
    let image = try ImageDecoder.decode(try readBytes(Fixtures.path("jpeg", "s120x77_q90_sub2_base.jpg"))).oriented().rgb()
    let pv = ImageProcessor.pixelValues(image, config: try file.preprocessor())
    let features = CPUFeatures.detect(), best = KernelTable.best(for: features)
    func run(_ m: Mask2Former, _ kernels: KernelTable, threads: Int = 2, tokenChunk: Int = 4096, bandRows: Int = .max) -> MaskLogits {
      var ctx = InferenceContext(kernels: kernels, threads: threads)
      (ctx.tokenChunk, ctx.bandRows) = (tokenChunk, bandRows)
      return m(pixelValues: pv.data, height: pv.height, width: pv.width, in: ctx)
    }
    let int8 = run(model, best), float = run(checkpoint.model, best)
    // Budget: measured mask/class cosines 0.9958/0.9997 (tiny) and 0.9996/0.9998 (labels); a scale on the wrong
    // channel, a dropped zero point or a misread packed projection falls far below 0.98.
    let maskCos = Int8ModelTests.cosine(int8.maskLogits, float.maskLogits), classCos = Int8ModelTests.cosine(int8.classLogits, float.classLogits)
    print("\(fixture): int8 vs float cosine: mask logits \(maskCos), class logits \(classCos)")
    #expect(maskCos >= 0.98, "\(fixture): mask-logit cosine int8 vs float \(maskCos)")
    #expect(classCos >= 0.98, "\(fixture): class-logit cosine int8 vs float \(classCos)")
    #expect(int8.maskLogits != float.maskLogits, "the int8 path must actually quantize")
    // Streamed in chunks of 5 tokens (Swin windows, the deformable encoder's queries): the same bits.
    let chunked = run(model, best, tokenChunk: 5)
    #expect(chunked.maskLogits == int8.maskLogits && chunked.classLogits == int8.classLogits, "token chunks of 5")
    // Streamed for a memory budget (the stride-4 level in bands, the mask features kept as the projection's int8
    // or float input and projected per prediction, the cross-attention head by head): the same bits, int8 and float.
    for (m, whole, what) in [(model, int8, "int8"), (checkpoint.model, float, "float")] {
      for (band, threads) in [(2, 2), (5, 1)] {
        let streamed = run(m, best, threads: threads, bandRows: band)
        #expect(streamed.maskLogits == whole.maskLogits && streamed.classLogits == whole.classLogits, "\(what): bands of \(band), \(threads) threads")
      }
    }
    for qs8 in QS8GEMMKernel.allCases where qs8.isSupported(on: features) && qs8 != .reference {
      for threads in [1, 3] {
        let other = run(model, KernelTable(f32GEMM: best.f32GEMM, qs8GEMM: qs8), threads: threads)
        #expect(other.maskLogits == int8.maskLogits && other.classLogits == int8.classLogits, "\(qs8), \(threads) threads")
      }
    }
  }
}
