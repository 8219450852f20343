// ActivationQuantizer: float activations to int8 with per-tensor affine parameters, exactly as
// `QuantParams.quantize` defines it (the reference), in a loop the compiler vectorizes (the portable
// tier). KernelsTests pins the tier to the definition over every rounding case.
import Quant
import _CKernels

public enum QuantizeKernel: String, Sendable, CaseIterable {
  /// `QuantParams.quantize` element by element (the definition), the loop below, and the AVX-512 twin
  /// in C (`es_quantize_qs8__avx512f`) and its arm64 NEON twin (`es_quantize_qs8__neon`); all give the same bits.
  /// avx2: the NEON source over SSE (x86-64 with AVX2).
  case reference, portable, avx512, neon, avx2

  public func isSupported(on f: CPUFeatures) -> Bool {
    switch self {
    case .reference, .portable: true
    case .avx512: f.hasAVX512F
    case .neon: f.hasNEON
    case .avx2: f.hasAVX2FMA
    }
  }
}

public enum ActivationQuantizer {
  /// `q[i] = clamp(roundHalfEven(x[i] · (1 / s)) + z, −128, 127)` for `count` floats.
  ///
  /// Portable tier: clamp x·(1/s) to [−128 − z, 127 − z] (integers, so rounding stays inside), then round
  /// half to even by adding 1.5·2²³ and reading the integer from the low mantissa bits.
  public static func quantize(_ x: UnsafePointer<Float>, count: Int, _ p: QuantParams, into q: UnsafeMutablePointer<Int8>,
                              kernel: QuantizeKernel = .portable) {
    switch kernel {
    case .reference:
      for i in 0..<count { q[i] = p.quantize(x[i]) }
    case .avx512:
      q.withMemoryRebound(to: CChar.self, capacity: count) { es_quantize_qs8__avx512f(count, x, p.scale, p.zeroPoint, $0) }
    case .neon:
      q.withMemoryRebound(to: CChar.self, capacity: count) { es_quantize_qs8__neon(count, x, p.scale, p.zeroPoint, $0) }
    case .avx2:
      q.withMemoryRebound(to: CChar.self, capacity: count) { es_quantize_qs8__avx2(count, x, p.scale, p.zeroPoint, $0) }
    case .portable:
      let inv = p.inverseScale, z = p.zeroPoint
      let lo = Float(-128 - z), hi = Float(127 - z), magic: Float = 0x1.8p23
      for i in 0..<count {
        let biased = Swift.min(Swift.max(x[i] * inv, lo), hi) + magic
        q[i] = Int8(truncatingIfNeeded: Int32(bitPattern: biased.bitPattern) &- 0x4B40_0000 &+ z)
      }
    }
  }

  /// `rows` rows of `k` floats (row stride `xStride`) into rows of stride `qStride`, 256 rows per task.
  public static func quantizeRows(_ x: UnsafePointer<Float>, rows: Int, k: Int, xStride: Int, _ p: QuantParams,
                                  into q: UnsafeMutablePointer<Int8>, qStride: Int, threads: Int, kernel: QuantizeKernel = .portable) {
    parallelFor((rows + 255) / 256, threads: threads, sharing: (x, rows, k, xStride, p, q, qStride, kernel)) { s, blk in
      let (x, rows, k, xStride, p, q, qStride, kernel) = s
      for i in (blk * 256)..<Swift.min(rows, blk * 256 + 256) { quantize(x + i * xStride, count: k, p, into: q + i * qStride, kernel: kernel) }
    }
  }
}
