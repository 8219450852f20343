// The int8 model file end to end on the tiny fixture: zero-copy load, drift against the float model
// within a budget a real bug breaks, and outputs identical across int8 kernel tiers and thread counts.
import Converter
import Foundation
import ImageCodecs
import Kernels
import MaskFormerInt8
import Testing
import _TestSupport

@Suite struct Int8ModelTests {
  static func convertTiny(_ model: String = "tiny") throws -> (file: ModelFile, checkpoint: Checkpoint, path: String) {
    let checkpoint = try Checkpoint(directory: Fixtures.path(model))
    var options = ConvertOptions()
    options.calibrationDirectory = URL(fileURLWithPath: Fixtures.root).deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("Calibration").path
    options.samples = 2
    let path = NSTemporaryDirectory() + "edge-seg-int8-\(UUID().uuidString).eseg"
    try ModelConverter.convert(checkpoint, options: options, to: path) { _, _, _ in }
    return (try ModelFile(path: path), checkpoint, path)
  }

  static func cosine(_ a: ArenaArray<Float>, _ b: ArenaArray<Float>) -> Double {
    var d = 0.0, na = 0.0, nb = 0.0
    for i in a.indices { d += Double(a[i]) * Double(b[i]); na += Double(a[i] * a[i]); nb += Double(b[i] * b[i]) }
    return d / (na * nb).squareRoot()
  }

  /// threestage: a three-stage Swin (FPN of two laterals) through convert, the file's shape
  /// validation and the int8 graph.
  @Test(arguments: ["tiny", "threestage"])
  func int8TracksFloatAndIsDeterministic(_ name: String) throws {
    let (file, checkpoint, path) = try Self.convertTiny(name)
    defer { try? FileManager.default.removeItem(atPath: path) }
    #expect(try file.config() == checkpoint.config, "metadata round-trips the configuration")
    let model = try file.model()
    // An image that was not among the calibration images.
    let image = try ImageDecoder.decode(try readBytes(Fixtures.path("jpeg", "s120x77_q90_sub2_base.jpg"))).oriented().rgb()
    let pv = ImageProcessor.pixelValues(image, config: try file.preprocessor())
    let features = CPUFeatures.detect()
    let best = KernelTable.best(for: features)
    let int8 = model(pixelValues: pv.data, height: pv.height, width: pv.width, in: InferenceContext(kernels: best, threads: 2))
    let float = checkpoint.model(pixelValues: pv.data, height: pv.height, width: pv.width, in: InferenceContext(kernels: best, threads: 2))
    // Budget: the tiny random model measures ~0.999 (mask logits) and ~0.999 (class logits); a scale
    // applied to the wrong channel or a zero point dropped takes it far below 0.98.
    let maskCos = Self.cosine(int8.maskLogits, float.maskLogits), classCos = Self.cosine(int8.classLogits, float.classLogits)
    #expect(maskCos >= 0.98, "\(name): mask-logit cosine int8 vs float \(maskCos)")
    #expect(classCos >= 0.98, "\(name): class-logit cosine int8 vs float \(classCos)")
    print("\(name): int8 vs float cosine: mask logits \(maskCos), class logits \(classCos)")
    #expect(int8.maskLogits != float.maskLogits, "the int8 path must actually quantize")
    // Bit-identical across int8 kernel tiers (same f32 tier) and thread counts.
    for qs8 in QS8GEMMKernel.allCases where qs8.isSupported(on: features) && qs8 != .reference {
      for threads in [1, 3] {
        let other = model(pixelValues: pv.data, height: pv.height, width: pv.width,
                          in: InferenceContext(kernels: KernelTable(f32GEMM: best.f32GEMM, qs8GEMM: qs8), threads: threads))
        #expect(other.maskLogits == int8.maskLogits && other.classLogits == int8.classLogits, "\(qs8), \(threads) threads")
      }
    }
  }

  /// The bundled model's Swin windows (16 tokens, heads of 32) run int8 attention by default; with the
  /// table's int8 attention off they run the float one. Both track the float checkpoint (budget 0.99:
  /// measured ~0.999 for either), and they differ (the int8 path really runs).
  @Test func int8AttentionRunsAndTracksFloat() throws {
    let file = try ModelFile(path: Fixtures.repository + "/Models/shapes/model.int8.eseg")
    let checkpoint = try Checkpoint(directory: Fixtures.repository + "/Models/shapes")
    let model = try file.model()
    let image = try ImageDecoder.decode(try readBytes(Fixtures.repository + "/Examples/shapes-2.png")).oriented().rgb()
    let pv = ImageProcessor.pixelValues(image, config: try file.preprocessor())
    let best = KernelTable.best(for: .detect())
    var floatAttention = best
    floatAttention.int8Attention = nil
    let withInt8 = model(pixelValues: pv.data, height: pv.height, width: pv.width, in: InferenceContext(kernels: best, threads: 2))
    let withFloat = model(pixelValues: pv.data, height: pv.height, width: pv.width, in: InferenceContext(kernels: floatAttention, threads: 2))
    let reference = checkpoint.model(pixelValues: pv.data, height: pv.height, width: pv.width, in: InferenceContext(kernels: best, threads: 2))
    #expect(withInt8.maskLogits != withFloat.maskLogits, "int8 attention changed nothing: is it running?")
    for (label, out) in [("int8 attention", withInt8), ("float attention", withFloat)] {
      let cos = Self.cosine(out.maskLogits, reference.maskLogits)
      #expect(cos >= 0.99, "\(label): mask-logit cosine against the float model \(cos)")
    }
  }

  /// Streaming (issue 6): Swin blocks in chunks of tokens and the stride-4 pixel-decoder maps in bands
  /// of rows give the same output as whole maps: bit-identical for int8 (integer GEMMs, row-wise
  /// epilogues, GroupNorm statistics gathered in row order), and for float as well (the f32 GEMM sums
  /// each output's K in the same order whatever M and N are); checked to 1e-5 for float in case a
  /// future kernel's tail tiles sum differently.
  @Test func streamedMatchesWholeMaps() throws {
    let (file, checkpoint, path) = try Self.convertTiny()
    defer { try? FileManager.default.removeItem(atPath: path) }
    let model = try file.model()
    let image = try ImageDecoder.decode(try readBytes(Fixtures.path("jpeg", "s120x77_q90_sub2_base.jpg"))).oriented().rgb()
    let pv = ImageProcessor.pixelValues(image, config: try file.preprocessor())
    let best = KernelTable.best(for: CPUFeatures.detect())
    func run(_ m: MaskFormer, chunk: Int, band: Int) -> MaskFormerOutput {
      var ctx = InferenceContext(kernels: best, threads: 2)
      ctx.tokenChunk = chunk
      ctx.bandRows = band
      return m(pixelValues: pv.data, height: pv.height, width: pv.width, in: ctx)
    }
    let whole = run(model, chunk: .max, band: .max), wholeFloat = run(checkpoint.model, chunk: .max, band: .max)
    #expect(whole.maskHeight >= 8, "the stride-4 map must be tall enough to band: \(whole.maskHeight) rows")
    // chunk 1: one window per chunk; 100 and 1000 split the stage-0 map unevenly. band 1: a halo on
    // both sides of every row; 3: bands that do not divide the height.
    for (chunk, band) in [(1, 1), (100, 3), (1000, .max), (.max, 2)] {
      let int8 = run(model, chunk: chunk, band: band)
      #expect(int8.maskLogits == whole.maskLogits && int8.classLogits == whole.classLogits, "int8, chunk \(chunk), band \(band)")
      let float = run(checkpoint.model, chunk: chunk, band: band)
      let err = zip(float.maskLogits, wholeFloat.maskLogits).map { abs($0 - $1) }.max() ?? 0
      #expect(err <= 1e-5, "float, chunk \(chunk), band \(band): max abs difference \(err)")
    }
  }
}
