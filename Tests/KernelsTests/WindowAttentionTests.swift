// Window attention: every tier against a float64 evaluation of the formula, over odd window sizes
// (n), head dims (tails of the 16-lane vectors), with and without the shift mask, with padded slots
// (no output). Tolerance 2e-5 absolute: outputs are convex combinations of v in [-1, 1], computed in
// float32 (a dot product over ≤ 70 terms, a softmax over ≤ 150): observed errors are ~1e-6.
import Foundation
import Kernels
import Testing
import _TestSupport

@Suite struct WindowAttentionTests {
  static let cases: [(n: Int, hd: Int)] = [(1, 1), (4, 3), (16, 16), (17, 8), (49, 32), (49, 20), (50, 48), (64, 64), (144, 70), (25, 97)]

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
      // float64 truth
      var truth = [Double](repeating: 0, count: n * hd)
      for i in 0..<n {
        var s = (0..<n).map { j in
          var dot = 0.0
          for d in 0..<hd { dot += Double(q[i * hd + d]) * Double(k[j * hd + d]) }
          return dot / Double(hd).squareRoot() + Double(bias[i * n + j]) + (masked ? Double(mask[i * n + j]) : 0)
        }
        let m = s.max()!
        s = s.map { Foundation.exp($0 - m) }
        let total = s.reduce(0, +)
        for d in 0..<hd { truth[i * hd + d] = (0..<n).reduce(0.0) { $0 + s[$1] / total * Double(v[$1 * hd + d]) } }
      }
      for kernel in F32GEMMKernel.allCases where kernel.isSupported(on: features) {
        var out = [Float](repeating: .nan, count: n * hd)
        q.withUnsafeBufferPointer { qb in k.withUnsafeBufferPointer { kb in v.withUnsafeBufferPointer { vb in
        out.withUnsafeMutableBufferPointer { ob in bias.withUnsafeBufferPointer { bb in mask.withUnsafeBufferPointer { mb in
          let qp = (0..<n).map { qb.baseAddress! + $0 * hd }, kp = (0..<n).map { kb.baseAddress! + $0 * hd }
          let vp = (0..<n).map { vb.baseAddress! + $0 * hd }
          let op: [UnsafeMutablePointer<Float>?] = (0..<n).map { skip.contains($0) ? nil : ob.baseAddress! + $0 * hd }
          var scratch = [Float](repeating: 0, count: WindowAttention.scratchCount(n: n, headDim: hd))
          scratch.withUnsafeMutableBufferPointer { sb in
            WindowAttention.run(n: n, headDim: hd, q: qp, k: kp, v: vp, bias: bb.baseAddress!, mask: masked ? mb.baseAddress! : nil,
                                out: op, scratch: sb.baseAddress!, kernel: kernel)
          }
        }}}}}}
        var worst = 0.0
        for i in 0..<n {
          for d in 0..<hd {
            let o = out[i * hd + d]
            if skip.contains(i) { #expect(o.isNaN, "\(kernel) wrote padded slot \(i)"); continue }
            worst = max(worst, abs(Double(o) - truth[i * hd + d]))
          }
        }
        #expect(worst <= 2e-5, "\(kernel) n \(n) hd \(hd) masked \(masked): max abs error \(worst)")
      }
    }
  }
}
