// Mask2Former (issue 21) against transformers' own tensors, stage by stage, as far as edge-seg runs it:
// the backbone (generic Swin with always_partition), the pixel decoder (deformable encoder, FPN level, mask
// projection), every masked-attention decoder state and both logits on the committed fixtures (tools/reference/mask2former_ref.py): window 12 on maps
// smaller than the window, odd sizes, mixed F16/BF16/F32 tensors, offsets reaching past the maps' edges.
import Converter
import Kernels
import MaskFormerInt8
import Testing
import _TestSupport

@Suite struct Mask2FormerGoldenTests {
  /// tokenChunk 4096: the deformable encoder's queries in one chunk at these sizes; 7: in chunks of 7 tokens
  /// (the encoder's in-place chunked path, chunks straddling the levels), with the same tolerance.
  @Test(arguments: ["mask2former/tiny", "mask2former/labels"], [4096, 7])
  func stagesAndLogitsMatchTransformers(_ fixture: String, tokenChunk: Int) throws {
    let config = try HFConfig.mask2Former(path: Fixtures.path(fixture, "config.json"))
    let weights = try SafetensorsFile(path: Fixtures.path(fixture, "model.safetensors"))
    let golden = try SafetensorsFile(path: Fixtures.path(fixture, "golden.safetensors"))
    let model = try Mask2Former(config: config, from: weights)
    let pv = try golden.tensor("pixel_values")
    let seen = TensorRecorder()
    var ctx = InferenceContext(kernels: .best(for: .detect()), threads: 2)
    ctx.observer = seen
    ctx.tokenChunk = tokenChunk
    let out = model(pixelValues: Array(UnsafeBufferPointer(start: pv.pointer, count: pv.count)), height: pv.shape[2], width: pv.shape[3],
                    in: ctx)
    let stages = (0..<4).map { "encoder.stage\($0)" } + (0..<3).map { "pixel_decoder.level\($0)" } + ["pixel_decoder.mask_features"]
      + (0..<config.decoderLayers).map { "transformer.layer\($0)" } + ["class_queries_logits", "masks_queries_logits"]
    for name in stages {
      let ref = try golden.tensor(name)
      let actual = switch name {
      case "class_queries_logits": Array(out.classLogits)
      case "masks_queries_logits": Array(out.maskLogits)
      // Decoder states are `[Q, 1, D]` in transformers: token-major, as recorded.
      case _ where name.hasPrefix("transformer."): Array(try #require(seen.map(name), "\(name) was not produced").data)
      default: try #require(seen.map(name), "\(name) was not produced").nchw
      }
      let expected = Array(UnsafeBufferPointer(start: ref.pointer, count: ref.count))
      #expect(actual.count == expected.count, "\(name): \(actual.count) values, golden \(ref.shape)")
      guard actual.count == expected.count else { continue }
      let (mismatch, err) = compareGolden(name, actual: actual, expected: expected, tolerance: Tolerance.floatGolden)
      print("\(fixture) \(name): max abs error \(err)")
      #expect(mismatch == nil, "\(fixture): \(mismatch?.description ?? "")")
    }
  }
}
