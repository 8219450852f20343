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

  /// Every tier and thread count computes the definition's bits: head dims with and without a vector tail
  /// (32, 13), sampling points inside, on the edges and far outside each level (zeros padding), odd level sizes.
  @Test(arguments: AttentionKernel.allCases.filter { $0.isSupported(on: .detect()) }, [32, 13, 8])
  func tiersMatchTheDefinition(_ kernel: AttentionKernel, _ hd: Int) {
    var rng = SplitMix64(seed: UInt64(hd))
    let shapes = [(height: 3, width: 5), (height: 7, width: 6), (height: 13, width: 11)], heads = 3, points = 4, queries = 150
    let tokens = shapes.reduce(0) { $0 + $1.height * $1.width }, samples = queries * heads * shapes.count * points
    let value = rng.floats(tokens * heads * hd)
    // Locations from −0.6 to 1.6 (past every edge), a few exactly on 0, 1 and pixel centres.
    var loc = rng.floats(2 * samples).map { $0 * 1.1 + 0.5 }
    let edges: [Float] = [0, 1, 0.5, -1e-7, 1 + 1e-7]
    for i in stride(from: 0, to: loc.count, by: 7) { loc[i] = edges[i % 5] }
    var weights = rng.floats(samples).map { $0 * $0 }
    weights[0] = 1
    let want = run(.portable, threads: 1)
    for threads in [1, 2, 3] {
      let got = run(kernel, threads: threads)
      let first = got.indices.first { got[$0].bitPattern != want[$0].bitPattern }
      #expect(first == nil, "\(kernel) hd \(hd) \(threads) threads: value \(first ?? 0) \(first.map { got[$0] } ?? 0) vs \(first.map { want[$0] } ?? 0)")
    }
    func run(_ k: AttentionKernel, threads: Int) -> [Float] {
      var out = [Float](repeating: .nan, count: queries * heads * hd)
      value.withUnsafeBufferPointer { v in loc.withUnsafeBufferPointer { l in weights.withUnsafeBufferPointer { a in
        out.withUnsafeMutableBufferPointer {
          DeformableAttention.run(value: v.baseAddress!, shapes: shapes, heads: heads, headDim: hd, locations: l.baseAddress!,
                                  weights: a.baseAddress!, queries: queries, points: points, out: $0.baseAddress!, threads: threads, kernel: k)
        }
      }}}
      return out
    }
    var reference = [Float](repeating: .nan, count: queries * heads * hd)
    value.withUnsafeBufferPointer { v in loc.withUnsafeBufferPointer { l in weights.withUnsafeBufferPointer { a in
      reference.withUnsafeMutableBufferPointer {
        DeformableAttention.reference(value: v.baseAddress!, shapes: shapes, heads: heads, headDim: hd, locations: l.baseAddress!,
                                      weights: a.baseAddress!, queries: queries, points: points, out: $0.baseAddress!)
      }
    }}}
    let same = reference.map(\.bitPattern) == want.map(\.bitPattern)
    #expect(same, "run(.portable) is the reference")
  }

  /// On int8 values: every tier and thread count equals the float definition on the dequantized map, bit for bit.
  @Test(arguments: AttentionKernel.allCases.filter { $0.isSupported(on: .detect()) }, [32, 13])
  func int8ValuesMatchTheDequantizedDefinition(_ kernel: AttentionKernel, _ hd: Int) {
    var rng = SplitMix64(seed: UInt64(100 + hd))
    let shapes = [(height: 3, width: 5), (height: 7, width: 6), (height: 13, width: 11)], heads = 2, points = 4, queries = 90
    let tokens = shapes.reduce(0) { $0 + $1.height * $1.width }, samples = queries * heads * shapes.count * points
    let v8 = (0..<(tokens * heads * hd)).map { _ in Int8(truncatingIfNeeded: Int(rng.floats(1)[0] * 300)) } + [-128, 127]
    let (scale, zeroPoint): (Float, Int32) = (0.037, -9)
    let dequantized = v8.map { scale * Float(Int32($0) - zeroPoint) }
    let loc = rng.floats(2 * samples).map { $0 * 1.1 + 0.5 }, weights = rng.floats(samples).map { $0 * $0 }
    var want = [Float](repeating: .nan, count: queries * heads * hd)
    dequantized.withUnsafeBufferPointer { v in loc.withUnsafeBufferPointer { l in weights.withUnsafeBufferPointer { a in
      want.withUnsafeMutableBufferPointer {
        DeformableAttention.reference(value: v.baseAddress!, shapes: shapes, heads: heads, headDim: hd, locations: l.baseAddress!,
                                      weights: a.baseAddress!, queries: queries, points: points, out: $0.baseAddress!)
      }
    }}}
    for threads in [1, 3] {
      var got = [Float](repeating: .nan, count: queries * heads * hd)
      v8.withUnsafeBufferPointer { v in loc.withUnsafeBufferPointer { l in weights.withUnsafeBufferPointer { a in
        got.withUnsafeMutableBufferPointer {
          DeformableAttention.runInt8(value: v.baseAddress!, scale: scale, zeroPoint: zeroPoint, shapes: shapes, heads: heads, headDim: hd,
                                      locations: l.baseAddress!, weights: a.baseAddress!, queries: queries, points: points,
                                      out: $0.baseAddress!, threads: threads, kernel: kernel)
        }
      }}}
      let first = got.indices.first { got[$0].bitPattern != want[$0].bitPattern }
      #expect(first == nil, "\(kernel) hd \(hd) \(threads) threads: value \(first ?? 0) \(first.map { got[$0] } ?? 0) vs \(first.map { want[$0] } ?? 0)")
    }
  }
}
