// Int8GEMM: y = W·(x − z_x) + b over int8 activations and packed per-channel int8 weights
// (`qgemm_i8x4_n16`, docs/FORMAT.md), with int32 accumulation and a dequantizing or requantizing
// epilogue. A is read through row pointers (a conv is one K segment per tap: implicit GEMM); weights
// are read where they lie in the model file.
import Quant
import _CKernels

/// The int8 GEMM implementations. `.reference` defines the result; every tier equals it exactly.
public enum QS8GEMMKernel: String, Sendable, CaseIterable {
  case reference, portable, avx2, avx512vnni, neondot

  public func isSupported(on f: CPUFeatures) -> Bool {
    switch self {
    case .reference, .portable: true
    case .avx2: f.hasAVX2FMA
    case .avx512vnni: f.hasAVX512VNNI
    case .neondot: f.hasNEONDotProd
    }
  }
  static let mr = 8
}

/// A view of packed weights: N output channels, K reduction, panels of 16 channels.
public struct QGEMMWeights {
  public let base: UnsafeRawPointer
  public let n: Int
  public let k: Int

  public init(base: UnsafeRawPointer, n: Int, k: Int) {
    self.base = base
    self.n = n
    self.k = k
  }

  public var kp: Int { (k + 3) / 4 * 4 }
  public var panels: Int { (n + 15) / 16 }
  public var panelBytes: Int { 192 + 16 * kp }
  func panel(_ p: Int) -> UnsafeRawPointer { base + p * panelBytes }
  /// int32 bias, int32 Σw, float scale of channel c.
  func bias(_ c: Int) -> Int32 { panel(c / 16).loadUnaligned(fromByteOffset: 4 * (c % 16), as: Int32.self) }
  func columnSum(_ c: Int) -> Int32 { panel(c / 16).loadUnaligned(fromByteOffset: 64 + 4 * (c % 16), as: Int32.self) }
  func scale(_ c: Int) -> Float { panel(c / 16).loadUnaligned(fromByteOffset: 128 + 4 * (c % 16), as: Float.self) }
  func weight(_ c: Int, _ kk: Int) -> Int8 {
    panel(c / 16).load(fromByteOffset: 192 + (kk / 4) * 64 + (c % 16) * 4 + kk % 4, as: Int8.self)
  }
}

/// Where the results go and how they are converted.
public enum Int8GEMMOutput {
  /// The exact integer result `Σ_k (a − z_a)·w + bias`.
  case int32(UnsafeMutablePointer<Int32>, ldc: Int)
  /// `act(acc · s_a·s_w[c]) + residual`, in float.
  case float(UnsafeMutablePointer<Float>, ldc: Int, inputScale: Float, activation: Activation,
             residual: UnsafePointer<Float>?, residualStride: Int)
  /// `quantize(act(acc · s_a·s_w[c]))` with the output's parameters: int8 handed to the next layer.
  case int8(UnsafeMutablePointer<Int8>, ldc: Int, inputScale: Float, output: QuantParams, activation: Activation)
}

public struct Int8GEMMProblem {
  public var m: Int
  public var weights: QGEMMWeights
  /// K split into segments (one per conv tap); each but the last a multiple of 4. Sums to weights.k.
  public var segments: [Int]
  /// Row i of segment s: `segments[s]` int8 values, readable up to the next multiple of 4.
  public var aRow: (Int, Int) -> UnsafePointer<Int8>
  public var aZeroPoint: Int32
  public var output: Int8GEMMOutput

  public init(m: Int, weights: QGEMMWeights, segments: [Int]? = nil, aRow: @escaping (Int, Int) -> UnsafePointer<Int8>,
              aZeroPoint: Int32, output: Int8GEMMOutput) {
    self.m = m
    self.weights = weights
    self.segments = segments ?? [weights.k]
    self.aRow = aRow
    self.aZeroPoint = aZeroPoint
    self.output = output
  }
}

public enum Int8GEMM {
  public static func run(_ p: Int8GEMMProblem, kernel: QS8GEMMKernel, threads: Int) {
    precondition(p.segments.reduce(0, +) == p.weights.k, "Int8GEMM: segments \(p.segments) do not sum to K = \(p.weights.k)")
    precondition(p.segments.dropLast().allSatisfy { $0 % 4 == 0 }, "Int8GEMM: inner segments must be multiples of 4: \(p.segments)")
    guard p.m > 0 else { return }
    let w = p.weights, mr = QS8GEMMKernel.mr
    let blockRows = mr * 8
    let blocks = (p.m + blockRows - 1) / blockRows
    let groups = Swift.min(w.panels, Swift.max(1, (2 * threads + blocks - 1) / blocks))
    let perGroup = (w.panels + groups - 1) / groups
    parallelFor(blocks * groups, threads: threads) { task in
      let m0 = (task / groups) * blockRows, m1 = Swift.min(p.m, m0 + blockRows)
      let p0 = (task % groups) * perGroup, p1 = Swift.min(w.panels, p0 + perGroup)
      guard p0 < p1 else { return }
      withUnsafeTemporaryAllocation(of: Int32.self, capacity: mr * 32) { tileBuf in
        withUnsafeTemporaryAllocation(of: UnsafePointer<Int8>.self, capacity: mr) { rows in
          let tile = tileBuf.baseAddress!
          var t = m0
          while t < m1 {
            let rowCount = Swift.min(mr, m1 - t)
            var panel = p0
            while panel < p1 {
              // Two panels per microkernel call where the kernel has a two-panel form.
              let pair = kernel == .avx512vnni && panel + 1 < p1
              let width = pair ? 32 : 16
              if kernel == .reference {
                referenceTile(p, rows: t..<(t + rowCount), panel: panel, into: tile)
              } else {
                var kOffset = 0
                for (s, len) in p.segments.enumerated() {
                  for r in 0..<rowCount { rows[r] = p.aRow(t + r, s) }
                  let kq = (len + 3) / 4
                  let w0 = (w.panel(panel) + 192 + (kOffset / 4) * 64).assumingMemoryBound(to: Int8.self)
                  if pair {
                    let w1 = (w.panel(panel + 1) + 192 + (kOffset / 4) * 64).assumingMemoryBound(to: Int8.self)
                    microkernel2(rowCount, kq, rows.baseAddress!, w0, w1, tile, kOffset > 0)
                  } else {
                    microkernel(kernel, rowCount, kq, rows.baseAddress!, w0, tile, width, kOffset > 0)
                  }
                  kOffset += len
                }
                // acc − (128 + z_a)·Σw + bias: the +128 of the unsigned operand and the zero point.
                for j in 0..<Swift.min(width, w.n - panel * 16) {
                  let c = panel * 16 + j
                  let correction = w.bias(c) &- (128 &+ p.aZeroPoint) &* w.columnSum(c)
                  for r in 0..<rowCount { tile[r * width + j] &+= correction }
                }
              }
              epilogue(p, tile: tile, ldt: width, rows: t..<(t + rowCount), panel: panel, kernel: kernel)
              if pair { epilogue(p, tile: tile + 16, ldt: width, rows: t..<(t + rowCount), panel: panel + 1, kernel: kernel) }
              panel += pair ? 2 : 1
            }
            t += mr
          }
        }
      }
    }
  }

  @inline(__always)
  static func microkernel2(_ mr: Int, _ kq: Int, _ a: UnsafePointer<UnsafePointer<Int8>>, _ w0: UnsafePointer<Int8>,
                           _ w1: UnsafePointer<Int8>, _ c: UnsafeMutablePointer<Int32>, _ accumulate: Bool) {
    a.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: mr) { a in
      w0.withMemoryRebound(to: CChar.self, capacity: kq * 64) { w0 in
        w1.withMemoryRebound(to: CChar.self, capacity: kq * 64) { w1 in
          c.withMemoryRebound(to: CInt.self, capacity: mr * 32) { c in
            es_qs8_gemm_8x32__avx512vnni(mr, kq, a, w0, w1, c, 32, accumulate ? 1 : 0)
          }
        }
      }
    }
  }

  @inline(__always)
  static func microkernel(_ kernel: QS8GEMMKernel, _ mr: Int, _ kq: Int, _ a: UnsafePointer<UnsafePointer<Int8>>,
                          _ w: UnsafePointer<Int8>, _ c: UnsafeMutablePointer<Int32>, _ ldc: Int, _ accumulate: Bool) {
    switch kernel {
    case .avx512vnni:
      a.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: mr) { a in
        w.withMemoryRebound(to: CChar.self, capacity: kq * 64) { w in
          c.withMemoryRebound(to: CInt.self, capacity: mr * 16) { c in
            es_qs8_gemm_8x16__avx512vnni(mr, kq, a, w, c, ldc, accumulate ? 1 : 0)
          }
        }
      }
    case .avx2:
      a.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: mr) { a in
        w.withMemoryRebound(to: CChar.self, capacity: kq * 64) { w in
          c.withMemoryRebound(to: CInt.self, capacity: mr * ldc) { c in
            es_qs8_gemm_8x16__avx2(mr, kq, a, w, c, ldc, accumulate ? 1 : 0)
          }
        }
      }
    case .neondot:
      a.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: mr) { a in
        w.withMemoryRebound(to: CChar.self, capacity: kq * 64) { w in
          c.withMemoryRebound(to: CInt.self, capacity: mr * ldc) { c in
            es_qs8_gemm_8x16__neondot(mr, kq, a, w, c, ldc, accumulate ? 1 : 0)
          }
        }
      }
    case .portable, .reference:
      portableMicrokernel8x16(mr, kq, a, w, c, ldc, accumulate)
    }
  }

  /// Converts a finished int32 tile (rows × up to 16 channels of `panel`) to the requested output.
  static func epilogue(_ p: Int8GEMMProblem, tile: UnsafeMutablePointer<Int32>, ldt: Int = 16, rows: Range<Int>, panel: Int,
                       kernel: QS8GEMMKernel) {
    let w = p.weights, c0 = panel * 16, cols = Swift.min(16, w.n - c0)
    switch p.output {
    case .int32(let out, let ldc):
      for (r, i) in rows.enumerated() {
        for j in 0..<cols { out[i * ldc + c0 + j] = tile[r * ldt + j] }
      }
    case .float(let out, let ldc, let sIn, let act, let residual, let rs):
      withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { sb in
        let s = sb.baseAddress!
        for j in 0..<cols { s[j] = sIn * w.scale(c0 + j) }
        let code: CInt = act == .identity ? 0 : act == .relu ? 1 : 2
        for (r, i) in rows.enumerated() {
          let y = out + i * ldc + c0, acc = UnsafeRawPointer(tile + r * ldt).assumingMemoryBound(to: CInt.self)
          let res = residual.map { $0 + i * rs + c0 }
          // Identical bits either way (see es_kernels.h); the AVX-512 one is faster.
          if kernel == .avx512vnni {
            es_qs8_epilogue_f32__avx512(cols, acc, s, code, res, y)
          } else {
            es_qs8_epilogue_f32__scalar(cols, acc, s, code, res, y)
          }
        }
      }
    case .int8(let out, let ldc, let sIn, let q, let act):
      withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { sb in
        let s = sb.baseAddress!
        for j in 0..<cols { s[j] = sIn * w.scale(c0 + j) }
        let code: CInt = act == .identity ? 0 : act == .relu ? 1 : 2
        for (r, i) in rows.enumerated() {
          let o = UnsafeMutableRawPointer(out + i * ldc + c0).assumingMemoryBound(to: CChar.self)
          let acc = UnsafeRawPointer(tile + r * ldt).assumingMemoryBound(to: CInt.self)
          if kernel == .avx512vnni {
            es_qs8_epilogue_qs8__avx512(cols, acc, s, code, q.scale, q.zeroPoint, o)
          } else {
            es_qs8_epilogue_qs8__scalar(cols, acc, s, code, q.scale, q.zeroPoint, o)
          }
        }
      }
    }
  }
}
