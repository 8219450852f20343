// Int8Ops: a quantized Linear or conv inside the float graph: the float input is quantized with the
// layer's calibrated per-tensor parameters, multiplied by the packed int8 weights read in place from
// the model file, and dequantized in the GEMM epilogue (with the fused activation and residual).
import Kernels
import Quant

extension InferenceContext {
  /// `q = clamp(roundHalfEven(x / s) + z, −128, 127)` for `count` floats (QuantParams.quantize), in a
  /// loop that vectorizes: clamp x/s to [−128 − z, 127 − z] (integers, so rounding stays inside), then
  /// round half to even by adding 1.5·2²³ and reading the integer from the low mantissa bits.
  static func quantize(_ x: UnsafePointer<Float>, count: Int, _ p: QuantParams, into q: UnsafeMutablePointer<Int8>) {
    let s = p.scale, z = p.zeroPoint
    let lo = Float(-128 - z), hi = Float(127 - z), magic: Float = 0x1.8p23
    for i in 0..<count {
      let biased = Swift.min(Swift.max(x[i] / s, lo), hi) + magic
      q[i] = Int8(truncatingIfNeeded: Int32(bitPattern: biased.bitPattern) &- 0x4B40_0000 &+ z)
    }
  }

  func linearInt8(_ x: UnsafePointer<Float>, rows: Int, xStride: Int, _ l: Linear, _ q: QuantizedWeights,
                  activation: Activation, residual: UnsafePointer<Float>?) -> [Float] {
    let k = l.inFeatures, kp = (k + 3) / 4 * 4, n = l.outFeatures
    var a = [Int8](repeating: Int8(clamping: q.input.zeroPoint), count: rows * kp)
    a.withUnsafeMutableBufferPointer { ab in
      let ap = ab.baseAddress!
      parallelFor((rows + 255) / 256, threads: threads) { blk in
        for i in (blk * 256)..<Swift.min(rows, blk * 256 + 256) { Self.quantize(x + i * xStride, count: k, q.input, into: ap + i * kp) }
      }
    }
    return a.withUnsafeBufferPointer { ab in
      let ap = ab.baseAddress!
      return [Float](unsafeUninitializedCapacity: rows * n) { yb, count in
        let p = Int8GEMMProblem(m: rows, weights: q.weights, aRow: { i, _ in ap + i * kp }, aZeroPoint: q.input.zeroPoint,
                                output: .float(yb.baseAddress!, ldc: n, inputScale: q.input.scale, activation: activation,
                                               residual: residual, residualStride: n))
        Int8GEMM.run(p, kernel: kernels.qs8GEMM, threads: threads)
        count = rows * n
      }
    }
  }

  /// k×k "same" conv as an implicit int8 GEMM: one K segment per tap; out-of-image taps read a row of
  /// zero points (real zeros).
  func convInt8(_ x: FeatureMap, _ c: Conv2d, _ q: QuantizedWeights, activation: Activation) -> FeatureMap {
    let k = c.kernelSize, taps = k * k, pad = k / 2, cin = c.inChannels
    precondition(cin % 4 == 0 || taps == 1, "\(c.name): int8 conv needs input channels in multiples of 4, has \(cin)")
    let (h, w) = (x.height, x.width), stride = (cin + 3) / 4 * 4
    var a = [Int8](repeating: Int8(clamping: q.input.zeroPoint), count: h * w * stride + stride)   // + one zero-point row
    x.data.withUnsafeBufferPointer { xb in
      a.withUnsafeMutableBufferPointer { ab in
        let xp = xb.baseAddress!, ap = ab.baseAddress!
        parallelFor((h * w + 255) / 256, threads: threads) { blk in
          for i in (blk * 256)..<Swift.min(h * w, blk * 256 + 256) { Self.quantize(xp + i * cin, count: cin, q.input, into: ap + i * stride) }
        }
      }
    }
    var out = FeatureMap(height: h, width: w, channels: c.outChannels)
    a.withUnsafeBufferPointer { ab in
      out.data.withUnsafeMutableBufferPointer { ob in
        let ap = ab.baseAddress!, zero = ap + h * w * stride
        let p = Int8GEMMProblem(
          m: h * w, weights: q.weights, segments: [Int](repeating: cin, count: taps),
          aRow: { i, t in
            let sy = i / w + t / k - pad, sx = i % w + t % k - pad
            return sy >= 0 && sy < h && sx >= 0 && sx < w ? ap + (sy * w + sx) * stride : zero
          },
          aZeroPoint: q.input.zeroPoint,
          output: .float(ob.baseAddress!, ldc: c.outChannels, inputScale: q.input.scale, activation: activation, residual: nil, residualStride: 0))
        Int8GEMM.run(p, kernel: kernels.qs8GEMM, threads: threads)
      }
    }
    return out
  }
}

/// Test access to the activation quantizer.
public enum InferenceContextTestHook {
  public static func quantize(_ x: UnsafePointer<Float>, count: Int, _ p: QuantParams, into q: UnsafeMutablePointer<Int8>) {
    InferenceContext.quantize(x, count: count, p, into: q)
  }
}
