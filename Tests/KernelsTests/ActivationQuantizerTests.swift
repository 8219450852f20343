// ActivationQuantizer: every tier equals QuantParams.quantize (the definition), ties included.
import Kernels
import Quant
import Testing
import _TestSupport

@Suite struct QuantizeTests {
  /// The vectorized activation quantizer equals QuantParams.quantize (the definition) everywhere.
  @Test func vectorizedQuantizeMatchesDefinition() {
    var rng = SplitMix64(seed: 4)
    for (scale, zp) in [(Float(0.02), Int32(0)), (0.37, -128), (0.001, 127), (1.5, -7)] {
      let q = QuantParams(scale: scale, zeroPoint: zp)
      // Values spanning the range and beyond, plus exact ties (k + 0.5)·scale.
      var x = rng.floats(5000).map { $0 * scale * 400 }
      x += (-300...300).map { (Float($0) + 0.5) * scale }
      for kernel in QuantizeKernel.allCases where kernel.isSupported(on: .detect()) {
        var out = [Int8](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xb in
          out.withUnsafeMutableBufferPointer { ActivationQuantizer.quantize(xb.baseAddress!, count: x.count, q, into: $0.baseAddress!, kernel: kernel) }
        }
        let bad = x.indices.first { out[$0] != q.quantize(x[$0]) }
        #expect(bad == nil, "\(kernel) scale \(scale) zp \(zp): x = \(bad.map { x[$0] } ?? 0) gives \(bad.map { out[$0] } ?? 0), definition \(bad.map { q.quantize(x[$0]) } ?? 0)")
      }
    }
  }
}
