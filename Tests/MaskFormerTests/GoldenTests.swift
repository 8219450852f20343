// The float32 forward pass against Hugging Face transformers' own tensors, stage by stage.
import Converter
import Kernels
import MaskFormerInt8
import Testing
import _TestSupport

struct GoldenCase: CustomTestStringConvertible, Sendable {
  var model: String
  var kernel: F32GEMMKernel
  var testDescription: String { "\(model) on \(kernel.rawValue)" }

  static var all: [GoldenCase] {
    let features = CPUFeatures.detect()
    return Fixtures.models.flatMap { m in
      F32GEMMKernel.allCases.filter { $0.isSupported(on: features) }.map { GoldenCase(model: m, kernel: $0) }
    }
  }
}

@Suite struct GoldenTests {
  @Test(arguments: GoldenCase.all)
  func everyStageMatchesTransformers(_ c: GoldenCase) throws {
    let checkpoint = try Checkpoint(directory: Fixtures.path(c.model))
    let golden = try SafetensorsFile(path: Fixtures.path(c.model, "golden.safetensors"))
    let pv = try golden.tensor("pixel_values")
    let (h, w) = (pv.shape[2], pv.shape[3])
    let pixels = Array(UnsafeBufferPointer(start: pv.pointer, count: pv.count))
    let seen = TensorRecorder()
    var ctx = InferenceContext(kernels: KernelTable(f32GEMM: c.kernel), threads: 2)
    ctx.observer = seen
    let out = checkpoint.model(pixelValues: pixels, height: h, width: w, in: ctx)

    func check(_ name: String, _ actual: [Float]) throws {
      let ref = try golden.tensor(name)
      let expected = Array(UnsafeBufferPointer(start: ref.pointer, count: ref.count))
      #expect(actual.count == expected.count, "\(name): \(actual.count) values, golden has \(expected.count) \(ref.shape)")
      guard actual.count == expected.count else { return }
      let (mismatch, err) = compareGolden(name, actual: actual, expected: expected, tolerance: Tolerance.floatGolden)
      if c.kernel == .avx512 { print("\(c.model) \(name): max abs error \(err)") }
      #expect(mismatch == nil, "\(c): \(mismatch?.description ?? "")")
    }
    // Feature maps are NHWC here, NCHW in transformers.
    let stages = checkpoint.config.swin.stageCount
    for name in (0..<stages).map({ "encoder.stage\($0)" }) + (0..<stages - 1).map({ "pixel_decoder.fpn\($0)" })
      + ["pixel_decoder.pixel_embeddings"] {
      let map = try #require(seen.map(name), "\(name) was not produced")
      try check(name, map.nchw)
    }
    try check("transformer.last_hidden_state", try #require(seen.tensors["transformer.last_hidden_state"]))
    try check("class_queries_logits", Array(out.classLogits))
    try check("masks_queries_logits", Array(out.maskLogits))
  }
}
