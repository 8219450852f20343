// Norms: LayerNorm over the channels of each token and GroupNorm over channel groups of a whole
// NHWC map, in float32 with float64 statistics (biased variance, affine), as torch defines them.

public enum Norms {
  /// `y[i][c] = (x[i][c] − μ_i)/√(σ²_i + eps)·γ[c] + β[c]` over `channels` contiguous floats per row.
  /// x and y are `rows × channels` with row strides `xStride` and `yStride`; y may alias x.
  public static func layerNorm(_ x: UnsafePointer<Float>, xStride: Int, rows: Int, channels: Int,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                               into y: UnsafeMutablePointer<Float>, yStride: Int, threads: Int) {
    let chunk = 64
    parallelFor((rows + chunk - 1) / chunk, threads: threads) { blk in
      for i in (blk * chunk)..<Swift.min(rows, blk * chunk + chunk) {
        let xi = x + i * xStride, yi = y + i * yStride
        var sum = 0.0
        for c in 0..<channels { sum += Double(xi[c]) }
        let mean = sum / Double(channels)
        var sq = 0.0
        for c in 0..<channels {
          let d = Double(xi[c]) - mean
          sq += d * d
        }
        let rstd = Float(1 / (sq / Double(channels) + Double(eps)).squareRoot())
        let m = Float(mean)
        for c in 0..<channels { yi[c] = (xi[c] - m) * rstd * gamma[c] + beta[c] }
      }
    }
  }

  /// GroupNorm on an NHWC map of `pixels` positions: `groups` groups of consecutive channels, statistics
  /// over (channels/groups)·pixels values each, then the affine transform and an optional ReLU. In place.
  public static func groupNorm(_ x: UnsafeMutablePointer<Float>, pixels: Int, channels: Int, groups: Int,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                               relu: Bool, threads: Int) {
    precondition(channels % groups == 0, "groupNorm: \(channels) channels not divisible by \(groups) groups")
    let per = channels / groups
    var sums = [Double](repeating: 0, count: groups * 2)
    // Pass 1: per-group mean, then the centred sum of squares (two passes, like torch's accurate path).
    sums.withUnsafeMutableBufferPointer { s in
      let s = s.baseAddress!
      parallelFor(groups, threads: threads) { g in
        var sum = 0.0
        for p in 0..<pixels {
          let row = x + p * channels + g * per
          for c in 0..<per { sum += Double(row[c]) }
        }
        let mean = sum / Double(pixels * per)
        var sq = 0.0
        for p in 0..<pixels {
          let row = x + p * channels + g * per
          for c in 0..<per {
            let d = Double(row[c]) - mean
            sq += d * d
          }
        }
        s[2 * g] = mean
        s[2 * g + 1] = 1 / (sq / Double(pixels * per) + Double(eps)).squareRoot()
      }
    }
    // Pass 2: y = (x − μ)·rstd·γ + β, folded per channel into y = x·a + b.
    var scale = [Float](repeating: 0, count: channels), shift = [Float](repeating: 0, count: channels)
    for c in 0..<channels {
      let g = c / per
      let rstd = Float(sums[2 * g + 1]), mean = Float(sums[2 * g])
      scale[c] = rstd * gamma[c]
      shift[c] = beta[c] - mean * rstd * gamma[c]
    }
    let chunk = 256
    scale.withUnsafeBufferPointer { a in
      shift.withUnsafeBufferPointer { b in
        let a = a.baseAddress!, b = b.baseAddress!
        parallelFor((pixels + chunk - 1) / chunk, threads: threads) { blk in
          for p in (blk * chunk)..<Swift.min(pixels, blk * chunk + chunk) {
            let row = x + p * channels
            for c in 0..<channels {
              let v = row[c] * a[c] + b[c]
              row[c] = relu ? Swift.max(v, 0) : v
            }
          }
        }
      }
    }
  }

  /// Softmax over each row of `rows × cols` in place, max-subtracted.
  public static func softmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
    for i in 0..<rows {
      let r = x + i * cols
      var m = -Float.infinity
      for j in 0..<cols { m = Swift.max(m, r[j]) }
      var sum: Float = 0
      for j in 0..<cols {
        let e = expf(r[j] - m)
        r[j] = e
        sum += e
      }
      let inv = 1 / sum
      for j in 0..<cols { r[j] *= inv }
    }
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
