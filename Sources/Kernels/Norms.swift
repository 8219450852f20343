// Norms: LayerNorm over the channels of each token and GroupNorm over channel groups of a whole
// NHWC map, in float32 with float64 statistics (biased variance, affine), as torch defines them.

import Quant
import _CKernels

/// The LayerNorm implementations (`KernelTable.norm`): the Swift loops (the definition) and AVX-512 and
/// arm64 NEON twins in C with the same bits.
public enum NormKernel: String, Sendable, CaseIterable {
  /// avx2: the NEON source over SSE (norms_neon_body.h through neon_sse.h), x86-64 with AVX2.
  case portable, avx512, neon, avx2

  public func isSupported(on f: CPUFeatures) -> Bool {
    switch self {
    case .portable: true
    case .avx512: f.hasAVX512F
    case .neon: f.hasNEON
    case .avx2: f.hasAVX2FMA
    }
  }
}

public enum Norms {
  /// `y[i][c] = (x[i][c] − μ_i)/√(σ²_i + eps)·γ[c] + β[c]` over `channels` contiguous floats per row.
  /// x and y are `rows × channels` with row strides `xStride` and `yStride`; y may alias x.
  public static func layerNorm(_ x: UnsafePointer<Float>, xStride: Int, rows: Int, channels: Int,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                               into y: UnsafeMutablePointer<Float>, yStride: Int, threads: Int, kernel: NormKernel = .portable) {
    let chunk = 64
    parallelFor((rows + chunk - 1) / chunk, threads: threads,
                sharing: (x, xStride, rows, channels, gamma, beta, eps, y, yStride, kernel, chunk)) { s, blk in
      let (x, xStride, rows, channels, gamma, beta, eps, y, yStride, kernel, chunk) = s
      for i in (blk * chunk)..<Swift.min(rows, blk * chunk + chunk) {
        let xi = x + i * xStride, yi = y + i * yStride
        switch kernel {
        case .avx512: es_layernorm_f32__avx512f(channels, xi, gamma, beta, eps, yi)
        case .neon: es_layernorm_f32__neon(channels, xi, gamma, beta, eps, yi)
        case .avx2: es_layernorm_f32__avx2(channels, xi, gamma, beta, eps, yi)
        case .portable: layerNormRow(xi, channels: channels, gamma: gamma, beta: beta, eps: eps, into: yi)
        }
      }
    }
  }

  /// The LayerNorm of one row (the definition both forms share).
  @inline(__always)
  static func layerNormRow(_ xi: UnsafePointer<Float>, channels: Int, gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                           into yi: UnsafeMutablePointer<Float>) {
    let mean = sumDouble(xi, channels, minus: 0) / Double(channels)
    let sq = sumSquaresDouble(xi, channels, minus: mean)
    let rstd = Float(1 / (sq / Double(channels) + Double(eps)).squareRoot())
    let m = Float(mean)
    for c in 0..<channels { yi[c] = (xi[c] - m) * rstd * gamma[c] + beta[c] }
  }

  /// `layerNorm` then `QuantParams.quantize` of every value with `params`, into int8 rows of stride
  /// `qStride` (its first `channels` values): the normalized floats never exist as a map. Same bits as
  /// the two steps on every tier.
  public static func layerNormQuantized(_ x: UnsafePointer<Float>, xStride: Int, rows: Int, channels: Int,
                                        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float, _ params: QuantParams,
                                        into q: UnsafeMutablePointer<Int8>, qStride: Int, threads: Int, kernel: NormKernel) {
    let chunk = 64
    parallelFor((rows + chunk - 1) / chunk, threads: threads,
                sharing: (x, xStride, rows, channels, gamma, beta, eps, params, q, qStride, kernel, chunk)) { s, blk in
      let (x, xStride, rows, channels, gamma, beta, eps, params, q, qStride, kernel, chunk) = s
      withUnsafeTemporaryAllocation(of: Float.self, capacity: kernel != .portable ? 1 : channels) { rowBuf in
        for i in (blk * chunk)..<Swift.min(rows, blk * chunk + chunk) {
          let xi = x + i * xStride, qi = q + i * qStride
          if kernel != .portable {
            qi.withMemoryRebound(to: CChar.self, capacity: channels) {
              if kernel == .avx512 {
                es_layernorm_qs8__avx512f(channels, xi, gamma, beta, eps, params.scale, params.zeroPoint, $0)
              } else if kernel == .avx2 {
                es_layernorm_qs8__avx2(channels, xi, gamma, beta, eps, params.scale, params.zeroPoint, $0)
              } else {
                es_layernorm_qs8__neon(channels, xi, gamma, beta, eps, params.scale, params.zeroPoint, $0)
              }
            }
          } else {
            layerNormRow(xi, channels: channels, gamma: gamma, beta: beta, eps: eps, into: rowBuf.baseAddress!)
            ActivationQuantizer.quantize(rowBuf.baseAddress!, count: channels, params, into: qi)
          }
        }
      }
    }
  }

  /// GroupNorm on an NHWC map of `rows × width` pixels: `groups` groups of consecutive channels,
  /// statistics over (channels/groups)·pixels values each, then the affine transform and an optional
  /// ReLU. In place. Statistics as `GroupNormStatistics` (so a map normalized whole and the same map
  /// gathered band by band get identical results).
  public static func groupNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int, channels: Int, groups: Int,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                               relu: Bool, threads: Int, kernel: NormKernel = .portable) {
    ThreadScratch.with(.affine, bytes: 2 * channels * MemoryLayout<Float>.stride) { raw in
      let scale = raw.bindMemory(to: Float.self, capacity: 2 * channels), shift = scale + channels
      GroupNormStatistics.gather(channels: channels, groups: groups) { stats in
        stats.add(x, rows: rows, width: width, threads: threads, kernel: kernel)
        stats.affine(gamma: gamma, beta: beta, eps: eps, scale: scale, shift: shift)
      }
      applyAffine(x, pixels: rows * width, channels: channels, scale: scale, shift: shift, relu: relu, threads: threads, kernel: kernel)
    }
  }

  /// `x = x·scale[c] + shift[c]` (then max(·, 0) if relu) for every pixel of an NHWC map, in place.
  /// `kernel`: .avx512 and .avx2 run the C twins (es_affine_rows), the others the Swift loop (`affineRows`).
  public static func applyAffine(_ x: UnsafeMutablePointer<Float>, pixels: Int, channels: Int, scale: UnsafePointer<Float>,
                                 shift: UnsafePointer<Float>, relu: Bool, threads: Int, kernel: NormKernel = .portable) {
    let chunk = 256
    parallelFor((pixels + chunk - 1) / chunk, threads: threads, sharing: (x, pixels, channels, scale, shift, relu, kernel, chunk)) { s, blk in
      let (x, pixels, channels, a, b, relu, kernel, chunk) = s
      let p0 = blk * chunk, n = Swift.min(pixels, p0 + chunk) - p0
      affineRows(x + p0 * channels, pixels: n, channels: channels, scale: a, shift: b, relu: relu, into: x + p0 * channels, kernel: kernel)
    }
  }

  /// `y = x·scale[c] + shift[c]` (then max(·, 0) if relu) for `pixels` pixels of `channels` floats, on this
  /// thread; y may be x. The same bits on every tier.
  @inline(__always)
  public static func affineRows(_ x: UnsafePointer<Float>, pixels: Int, channels: Int, scale a: UnsafePointer<Float>, shift b: UnsafePointer<Float>,
                                relu: Bool, into y: UnsafeMutablePointer<Float>, kernel: NormKernel) {
    switch kernel {
    case .avx512: es_affine_rows__avx512f(pixels, channels, x, a, b, relu ? 1 : 0, y); return
    case .avx2: es_affine_rows__avx2(pixels, channels, x, a, b, relu ? 1 : 0, y); return
    case .portable, .neon: break
    }
    for p in 0..<pixels {
      let row = x + p * channels, out = y + p * channels
      if relu {
        for c in 0..<channels { out[c] = Swift.max(row[c] * a[c] + b[c], 0) }
      } else {
        for c in 0..<channels { out[c] = row[c] * a[c] + b[c] }
      }
    }
  }

  /// Σ f(x[i] − minus) in float64 with 16 independent accumulators (lanes j = i mod 16, which the
  /// compiler keeps in vector registers), combined pairwise: a fixed order for any input length.
  @inline(__always)
  static func sumDouble(_ x: UnsafePointer<Float>, _ n: Int, minus: Double, _ f: (Double) -> Double) -> Double {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 16) { buf in
      let acc = buf.baseAddress!
      for j in 0..<16 { acc[j] = 0 }
      var i = 0
      while i + 16 <= n {
        for j in 0..<16 { acc[j] += f(Double(x[i + j]) - minus) }
        i += 16
      }
      var j = 0
      while i < n { acc[j] += f(Double(x[i]) - minus); i += 1; j += 1 }
      return combine16(acc)
    }
  }

  /// Σ (x[i] − minus) in float64 (`sumDouble`'s order).
  @inline(__always)
  static func sumDouble(_ x: UnsafePointer<Float>, _ n: Int, minus: Double) -> Double { sumDouble(x, n, minus: minus) { $0 } }

  /// Σ (x[i] − minus)² in float64 (`sumDouble`'s order).
  @inline(__always)
  static func sumSquaresDouble(_ x: UnsafePointer<Float>, _ n: Int, minus: Double) -> Double { sumDouble(x, n, minus: minus) { $0 * $0 } }

  @inline(__always)
  static func combine16(_ a: UnsafeMutablePointer<Double>) -> Double {
    for j in 0..<8 { a[j] += a[j + 8] }
    for j in 0..<4 { a[j] += a[j + 4] }
    return (a[0] + a[2]) + (a[1] + a[3])
  }

  /// Softmax over each row of `rows × cols` in place, max-subtracted (`FastMath.softmax`).
  public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
    for i in 0..<rows { FastMath.softmax(x + i * cols, count: cols) }
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// GroupNorm statistics of an NHWC map, gathered row by row (a row: the map's `width` pixels) in map
/// order, whole or in bands: per row and group a two-pass mean and centred sum of squares in float64,
/// merged into the running totals in row order (Chan et al.'s pairwise update). The result depends
/// only on the map, not on how its rows were banded or on the thread count.
/// The running totals live in `gather`'s scope (on the stack: no heap allocation per GroupNorm, issue 19).
public struct GroupNormStatistics {
  public let channels: Int
  public let groups: Int
  public private(set) var count: Double = 0
  private let mean: UnsafeMutablePointer<Double>
  private let m2: UnsafeMutablePointer<Double>

  /// Statistics gathered by `body` (`add`, then `affine`), over storage that lives for the call.
  public static func gather<R>(channels: Int, groups: Int, _ body: (inout GroupNormStatistics) -> R) -> R {
    precondition(channels % groups == 0, "groupNorm: \(channels) channels not divisible by \(groups) groups")
    return withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * groups) { storage in
      storage.initialize(repeating: 0)
      var stats = GroupNormStatistics(channels: channels, groups: groups, mean: storage.baseAddress!, m2: storage.baseAddress! + groups)
      return body(&stats)
    }
  }

  private init(channels: Int, groups: Int, mean: UnsafeMutablePointer<Double>, m2: UnsafeMutablePointer<Double>) {
    (self.channels, self.groups, self.mean, self.m2) = (channels, groups, mean, m2)
  }

  /// Adds `rows` consecutive map rows of `width` pixels (`rows·width·channels` floats).
  /// `kernel`: .avx512 and .avx2 sum with the C twins (es_groupnorm_sums), the others with these loops.
  public mutating func add(_ x: UnsafePointer<Float>, rows: Int, width: Int, threads: Int, kernel: NormKernel = .portable) {
    let (channels, groups) = (self.channels, self.groups), per = channels / groups
    // Per row and group: (mean, M2) of its width·per values.
    ThreadScratch.with(.statistics, bytes: rows * groups * 2 * MemoryLayout<Double>.stride) { raw in
      let pp = raw.bindMemory(to: Double.self, capacity: rows * groups * 2), partial = pp
      parallelFor(rows, threads: threads, sharing: (x, pp, width, channels, groups, per, kernel)) { s, r in
        let (x, pp, width, channels, groups, per, kernel) = s
        ThreadScratch.with(.rows, bytes: 2 * channels * MemoryLayout<Double>.stride) { raw in
          let acc = raw.assumingMemoryBound(to: Double.self), meanOf = acc + channels, row = x + r * width * channels, out = pp + r * groups * 2
          let n = Double(width * per)
          acc.update(repeating: 0, count: channels)
          Self.channelSums(row, width: width, channels: channels, minus: nil, into: acc, kernel: kernel)
          for g in 0..<groups {
            var s = 0.0
            for c in (g * per)..<(g * per + per) { s += acc[c] }
            out[2 * g] = s / n
            for c in (g * per)..<(g * per + per) { meanOf[c] = out[2 * g] }
          }
          // Each channel's group mean spread out first: the loop below then has no division per value
          // and vectorizes (same operations, same bits).
          acc.update(repeating: 0, count: channels)
          Self.channelSums(row, width: width, channels: channels, minus: meanOf, into: acc, kernel: kernel)
          for g in 0..<groups {
            var s = 0.0
            for c in (g * per)..<(g * per + per) { s += acc[c] }
            out[2 * g + 1] = s
          }
        }
      }
      let nb = Double(width * per)
      for r in 0..<rows {
        let na = count, total = na + nb
        for g in 0..<groups {
          let mb = partial[(r * groups + g) * 2], m2b = partial[(r * groups + g) * 2 + 1]
          let delta = mb - mean[g]
          mean[g] += delta * (nb / total)
          m2[g] += m2b + delta * delta * (na * nb / total)
        }
        count = total
      }
    }
  }

  /// Per channel c, over the `width` pixels of one row in pixel order, `acc[c] += Double(x)` (minus nil) or
  /// `acc[c] += d·d` with `d = Double(x) − minus[c]`. x86: the C twins (es_groupnorm_sums), same bits.
  @inline(__always)
  static func channelSums(_ row: UnsafePointer<Float>, width: Int, channels: Int, minus: UnsafePointer<Double>?,
                          into acc: UnsafeMutablePointer<Double>, kernel: NormKernel) {
    switch kernel {
    case .avx512: es_groupnorm_sums__avx512f(width, channels, row, minus, acc)
    case .avx2: es_groupnorm_sums__avx2(width, channels, row, minus, acc)
    case .portable, .neon:
      if let minus {
        for p in 0..<width {
          let px = row + p * channels
          for c in 0..<channels {
            let d = Double(px[c]) - minus[c]
            acc[c] += d * d
          }
        }
      } else {
        for p in 0..<width {
          let px = row + p * channels
          for c in 0..<channels { acc[c] += Double(px[c]) }
        }
      }
    }
  }

  /// Per channel `(scale, shift)` with `y = x·scale + shift = (x − μ)/√(σ² + eps)·γ + β` (biased variance),
  /// `channels` floats each.
  public func affine(gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float, scale: UnsafeMutablePointer<Float>,
                     shift: UnsafeMutablePointer<Float>) {
    let per = channels / groups
    for c in 0..<channels {
      let g = c / per
      let r = Float(1 / (m2[g] / count + Double(eps)).squareRoot()), m = Float(mean[g])
      scale[c] = r * gamma[c]
      shift[c] = beta[c] - m * r * gamma[c]
    }
  }
}
