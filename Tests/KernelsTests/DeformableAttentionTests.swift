// Multi-scale deformable attention (issue 21) against transformers' multi_scale_deformable_attention
// (grid_sample bilinear, zeros padding, align_corners=False) on a committed fixture (tools/reference/
// mask2former_ref.py msda): 3 levels of odd sizes, points from inside the maps to past every edge.
import Converter
import Kernels
import Testing
import _TestSupport

@Suite struct DeformableAttentionTests {
  @Test func matchesTransformers() throws {
    let f = try SafetensorsFile(path: Fixtures.path("mask2former", "msda.safetensors"))
    let value = try f.tensor("value"), loc = try f.tensor("sampling_locations"), a = try f.tensor("attention_weights")
    let ref = try f.tensor("output"), s = try f.tensor("spatial_shapes")
    let shapes = (0..<s.shape[0]).map { (height: Int(s.pointer[2 * $0]), width: Int(s.pointer[2 * $0 + 1])) }
    let (queries, heads, points, hd) = (loc.shape[1], loc.shape[2], loc.shape[4], value.shape[3])
    var out = [Float](repeating: .nan, count: queries * heads * hd)
    out.withUnsafeMutableBufferPointer {
      DeformableAttention.reference(value: value.pointer, shapes: shapes, heads: heads, headDim: hd, locations: loc.pointer,
                                    weights: a.pointer, queries: queries, points: points, out: $0.baseAddress!)
    }
    let expected = Array(UnsafeBufferPointer(start: ref.pointer, count: ref.count))
    // Each sample is torch's arithmetic; the weighted sum of the 12 samples has its own order in torch
    // (a sum over the last axis): float rounding, ~1e-7 here.
    let (mismatch, err) = compareGolden("msda", actual: out, expected: expected, tolerance: 1e-5)
    print("msda: max abs error \(err)")
    #expect(mismatch == nil, "\(mismatch?.description ?? "")")
    // The fixture reaches the zeros padding: points outside the maps on every side.
    let xs = stride(from: 0, to: loc.count, by: 2).map { loc.pointer[$0] }, ys = stride(from: 1, to: loc.count, by: 2).map { loc.pointer[$0] }
    #expect(xs.contains { $0 < 0 } && xs.contains { $0 > 1 } && ys.contains { $0 < 0 } && ys.contains { $0 > 1 })
  }
}
