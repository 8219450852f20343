// Activations and the fast exp/erf/softmax against their float64 definitions.
import Foundation
import Kernels
import Testing
import _TestSupport

@Suite struct ActivationTests {
  /// The rational erf against glibc's erff over [-6, 6]: within 5e-7 absolute (Eigen's published bound
  /// is a few ulp near 1; erff itself is within ~1 ulp).
  @Test func erfApproximationStaysClose() {
    var worst: Float = 0
    for i in -60000...60000 {
      let x = Float(i) / 10000
      worst = max(worst, abs(Activation.erf(x) - erff(x)))
    }
    #expect(worst <= 5e-7, "max |erf − erff| = \(worst)")
    #expect(worst > 0, "the approximation is not erff itself")
  }

  @Test func vectorAndScalarApplyAgree() {
    var rng = SplitMix64(seed: 3)
    for act in [Activation.identity, .relu, .gelu] {
      let x = rng.floats(100).map { $0 * 8 }
      var y = x
      y.withUnsafeMutableBufferPointer { act.apply($0.baseAddress!, count: $0.count) }
      #expect(y == x.map { act.apply($0) }, "\(act)")
    }
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite struct FastMathTests {
  /// FastMath.exp against expf over the whole finite range it serves: relative error <= 4e-7 (2^-22;
  /// expf is within 1 ulp, 6e-8).
  @Test func expStaysClose() {
    var worst: Float = 0
    var x: Float = -87
    while x < 88 {
      let want = expf(x)
      worst = max(worst, abs(FastMath.exp(x) - want) / want)
      x += 0.00731
    }
    #expect(worst <= 4e-7, "max relative error \(worst)")
    #expect(FastMath.exp(-1000) >= 0 && FastMath.exp(-1000) < 1e-37)
  }

  @Test func softmaxSumsToOne() {
    var rng = SplitMix64(seed: 5)
    for n in [1, 3, 49, 144, 1000] {
      var x = rng.floats(n).map { $0 * 30 }
      let ref: [Double] = {
        let m = x.max()!
        let e = x.map { Foundation.exp(Double($0 - m)) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
      }()
      x.withUnsafeMutableBufferPointer { FastMath.softmax($0.baseAddress!, count: n) }
      for i in 0..<n { #expect(abs(Double(x[i]) - ref[i]) <= 1e-6, "n=\(n) i=\(i)") }
    }
  }
}
