// Attention: every tier against a float64 evaluation of the formula. Window form: odd window sizes (n),
// head dims (tails of the 16-lane vectors), with and without the shift mask, with padded slots (no
// output). Dense form (DETR): queries against more keys, several heads, any thread count giving the
// same bits. Tolerance 2e-5 absolute: outputs are convex combinations of v in [-1, 1], computed in
// float32 (a dot product over ≤ 97 terms, a softmax over ≤ 400): observed errors are ~1e-6.
import Foundation
import Kernels
import Testing
import _TestSupport

@Suite struct AttentionTests {
  /// Window attention in float64: softmax(q·kᵀ/√hd + bias (+ mask))·v, rows of hd values.
  static func windowTruth(n: Int, hd: Int, q: [Float], k: [Float], v: [Float], bias: [Float], mask: [Float]?) -> [Double] {
    var truth = [Double](repeating: 0, count: n * hd)
    for i in 0..<n {
      var s = (0..<n).map { j in
        var dot = 0.0
        for d in 0..<hd { dot += Double(q[i * hd + d]) * Double(k[j * hd + d]) }
        return dot / Double(hd).squareRoot() + Double(bias[i * n + j]) + (mask.map { Double($0[i * n + j]) } ?? 0)
      }
      let m = s.max()!
      s = s.map { Foundation.exp($0 - m) }
      let total = s.reduce(0, +)
      for d in 0..<hd { truth[i * hd + d] = (0..<n).reduce(0.0) { $0 + s[$1] / total * Double(v[$1 * hd + d]) } }
    }
    return truth
  }

  /// Runs one window form over row pointers into q, k, v (n rows of hd) and an output that starts as
  /// NaN, with no output row for the `skip` slots; returns the output.
  static func runWindow(n: Int, hd: Int, q: [Float], k: [Float], v: [Float], bias: [Float], mask: [Float]?, skip: Set<Int>,
                        _ body: ([UnsafePointer<Float>], [UnsafePointer<Float>], [UnsafePointer<Float>], UnsafePointer<Float>,
                                 UnsafePointer<Float>?, [UnsafeMutablePointer<Float>?]) -> Void) -> [Float] {
    var out = [Float](repeating: .nan, count: n * hd)
    q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
    out.withUnsafeMutableBufferPointer { ob in bias.withUnsafeBufferPointer { bb in (mask ?? []).withUnsafeBufferPointer { mb in
      let qp = (0..<n).map { qb.baseAddress! + $0 * hd }, kp = (0..<n).map { kb.baseAddress! + $0 * hd }
      let vp = (0..<n).map { vb.baseAddress! + $0 * hd }
      let op: [UnsafeMutablePointer<Float>?] = (0..<n).map { skip.contains($0) ? nil : ob.baseAddress! + $0 * hd }
      body(qp, kp, vp, bb.baseAddress!, mask == nil ? nil : mb.baseAddress!, op)
    }}}}}}
    return out
  }

  static let cases: [(n: Int, hd: Int)] = [(1, 1), (4, 3), (16, 16), (17, 8), (49, 32), (49, 20), (50, 48), (64, 64), (144, 70), (25, 97), (144, 32), (65, 32)]

  @Test(arguments: cases)
  func tiersMatchFloat64(_ c: (n: Int, hd: Int)) {
    var rng = SplitMix64(seed: UInt64(c.n * 131 + c.hd))
    let (n, hd) = (c.n, c.hd)
    let q = rng.floats(n * hd).map { $0 * 2 }, k = rng.floats(n * hd).map { $0 * 2 }, v = rng.floats(n * hd)
    let bias = rng.floats(n * n)
    let mask = (0..<(n * n)).map { ($0 % 7 == 3) ? Float(-100) : 0 }
    let skip = Set(stride(from: 2, to: n, by: 5))     // padded slots: no output
    let features = CPUFeatures.detect()
    for masked in [false, true] {
      let truth = Self.windowTruth(n: n, hd: hd, q: q, k: k, v: v, bias: bias, mask: masked ? mask : nil)
      var definition: [Float]?
      for kernel in AttentionKernel.allCases where kernel.isSupported(on: features) {
        let out = Self.runWindow(n: n, hd: hd, q: q, k: k, v: v, bias: bias, mask: masked ? mask : nil, skip: skip) { qp, kp, vp, bp, mp, op in
          var scratch = [Float](repeating: 0, count: Attention.windowScratchCount(n: n, headDim: hd))
          scratch.withUnsafeMutableBufferPointer { sb in
            Attention.window(n: n, headDim: hd, q: qp, k: kp, v: vp, bias: bp, mask: mp, out: op, scratch: sb.baseAddress!, kernel: kernel)
          }
        }
        var worst = 0.0
        for i in 0..<n {
          for d in 0..<hd {
            let o = out[i * hd + d]
            if skip.contains(i) { #expect(o.isNaN, "\(kernel) wrote padded slot \(i)"); continue }
            worst = max(worst, abs(Double(o) - truth[i * hd + d]))
          }
        }
        #expect(worst <= 2e-5, "\(kernel) n \(n) hd \(hd) masked \(masked): max abs error \(worst)")
        // Every tier gives the portable definition's bits (NaN in the padded slots on both sides).
        if let definition {
          let bad = (0..<out.count).first { out[$0].bitPattern != definition[$0].bitPattern && !(out[$0].isNaN && definition[$0].isNaN) }
          #expect(bad == nil, "\(kernel) n \(n) hd \(hd) masked \(masked): out[\(bad ?? 0)] \(bad.map { out[$0] } ?? 0) vs portable \(bad.map { definition[$0] } ?? 0)")
        } else {
          definition = out
        }
      }
    }
  }

  /// int8 window attention: every tier gives the Swift definition's bits, and the definition is close to
  /// float64 attention. Tolerance 0.03 absolute (outputs are convex combinations of v in [-1, 1]): q, k and
  /// v are quantized per token to 8 bits (relative step 1/127) and the probabilities to 8 bits per query
  /// (step 1/255 of the row's largest), errors that the float form does not have; observed ~0.01.
  @Test(arguments: [(n: 49, hd: 32), (64, 32), (1, 32), (20, 32), (49, 16), (30, 8)])
  func int8WindowTiersAgreeAndStayClose(_ c: (n: Int, hd: Int)) {
    var rng = SplitMix64(seed: UInt64(c.n * 977 + c.hd))
    let (n, hd) = (c.n, c.hd)
    var q = rng.floats(n * hd).map { $0 * 2 }, k = rng.floats(n * hd).map { $0 * 2 }, v = rng.floats(n * hd)
    for d in 0..<hd where n > 1 { k[d] = 0; v[hd + d] = 0 }      // rows that quantize with scale 0
    if n > 2 { q[2 * hd] = 40 }                       // one outlier dominating its row's scale
    let bias = rng.floats(n * n)
    let mask = (0..<(n * n)).map { ($0 % 7 == 3) ? Float(-100) : 0 }
    let skip = Set(stride(from: 2, to: n, by: 5))
    for masked in [false, true] {
      let truth = Self.windowTruth(n: n, hd: hd, q: q, k: k, v: v, bias: bias, mask: masked ? mask : nil)
      func run(_ kernel: Int8AttentionKernel) -> [Float] {
        Self.runWindow(n: n, hd: hd, q: q, k: k, v: v, bias: bias, mask: masked ? mask : nil, skip: skip) { qp, kp, vp, bp, mp, op in
          var scratch = [UInt8](repeating: 0xA5, count: Attention.windowInt8ScratchBytes(n: n, headDim: hd))
          scratch.withUnsafeMutableBytes { sb in
            Attention.windowInt8(n: n, headDim: hd, q: qp, k: kp, v: vp, bias: bp, mask: mp, out: op, scratch: sb.baseAddress!, kernel: kernel)
          }
        }
      }
      let want = run(.portable)
      var worst = 0.0
      for i in 0..<n where !skip.contains(i) {
        for d in 0..<hd { worst = max(worst, abs(Double(want[i * hd + d]) - truth[i * hd + d])) }
      }
      #expect(worst <= 0.03, "int8 n \(n) hd \(hd) masked \(masked): max abs error \(worst) against float64")
      #expect(worst > 0, "int8 attention equals float64 exactly: the quantization is not running")
      for kernel in Int8AttentionKernel.allCases where kernel != .portable && kernel.isSupported(on: .detect()) {
        let got = run(kernel)
        let bad = got.indices.first { got[$0].bitPattern != want[$0].bitPattern }
        #expect(bad == nil, "\(kernel) n \(n) hd \(hd) masked \(masked): [\(bad.map { "\($0 / hd),\($0 % hd)" } ?? "")] \(bad.map { got[$0] } ?? 0) vs \(bad.map { want[$0] } ?? 0)")
      }
    }
  }

  /// DETR's form: nq queries, nk keys, `heads` heads over rows of d floats, scale 1/√hd; and Mask2Former's
  /// masked form (a 0/−∞ mask shared by the heads: ~40 % of pairs blocked, row 0 open to one key only).
  @Test(arguments: AttentionKernel.allCases.filter { $0.isSupported(on: .detect()) },
        [(nq: 1, nk: 1, d: 4, heads: 1), (12, 40, 64, 4), (100, 352, 256, 8), (7, 399, 48, 3), (5, 64, 32, 1), (3, 65, 96, 2)])
  func denseMatchesFloat64(_ kernel: AttentionKernel, _ c: (nq: Int, nk: Int, d: Int, heads: Int)) {
    var rng = SplitMix64(seed: UInt64(c.nq * 7 + c.nk))
    let (nq, nk, d, heads) = (c.nq, c.nk, c.d, c.heads), hd = d / heads
    let q = rng.floats(nq * d).map { $0 * 2 }, k = rng.floats(nk * d).map { $0 * 2 }, v = rng.floats(nk * d)
    let scale = 1 / Float(hd).squareRoot()
    var blocked = (0..<(nq * nk)).map { _ in rng.floats(1)[0] < -0.2 }
    for i in 0..<nq { blocked[i * nk + i % nk] = false }
    for j in 0..<nk { blocked[j] = j != nk / 2 }
    let maskValues = blocked.map { $0 ? -Float.infinity : 0 }
    for masked in [false, true] {
      func run(threads: Int, _ kernel: AttentionKernel = kernel) -> [Float] {
        var out = [Float](repeating: 0, count: nq * d)
        var scratch = [Float](repeating: 0, count: parallelWorkers(heads, threads: threads) * Attention.denseScratchCount(keys: nk, headDim: hd))
        q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
          out.withUnsafeMutableBufferPointer { ob in scratch.withUnsafeMutableBufferPointer { sb in maskValues.withUnsafeBufferPointer { mb in
            Attention.dense(q: qb.baseAddress!, queries: nq, k: kb.baseAddress!, v: vb.baseAddress!, keys: nk, width: d, heads: heads,
                            scale: scale, mask: masked ? mb.baseAddress! : nil, out: ob.baseAddress!, scratch: sb.baseAddress!, threads: threads,
                            kernel: kernel)
          }}}
        }}}
        return out
      }
      let out = run(threads: 1)
      var worst = 0.0
      for h in 0..<heads {
        for i in 0..<nq {
          let open = (0..<nk).map { !masked || !blocked[i * nk + $0] }
          var s = (0..<nk).map { j in (0..<hd).reduce(0.0) { $0 + Double(q[i * d + h * hd + $1]) * Double(k[j * d + h * hd + $1]) } * Double(scale) }
          let m = zip(s, open).filter(\.1).map(\.0).max()!
          s = (0..<nk).map { open[$0] ? Foundation.exp(s[$0] - m) : 0 }
          let total = s.reduce(0, +)
          for t in 0..<hd {
            let truth = (0..<nk).reduce(0.0) { $0 + s[$1] / total * Double(v[$1 * d + h * hd + t]) }
            worst = max(worst, abs(Double(out[i * d + h * hd + t]) - truth))
          }
        }
      }
      #expect(worst <= 2e-5, "dense \(kernel) \(c) masked \(masked): max abs error \(worst)")
      for t in [2, 3, 8] { #expect(run(threads: t) == out, "\(t) threads change the bits") }
      #expect(run(threads: 1, .portable).map(\.bitPattern) == out.map(\.bitPattern), "\(kernel) masked \(masked) differs from the portable definition")
    }
  }
}
