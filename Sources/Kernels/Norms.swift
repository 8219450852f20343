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
        let mean = sumDouble(xi, channels, minus: 0) / Double(channels)
        let sq = sumSquaresDouble(xi, channels, minus: mean)
        let rstd = Float(1 / (sq / Double(channels) + Double(eps)).squareRoot())
        let m = Float(mean)
        for c in 0..<channels { yi[c] = (xi[c] - m) * rstd * gamma[c] + beta[c] }
      }
    }
  }

  /// GroupNorm on an NHWC map of `pixels` positions: `groups` groups of consecutive channels, statistics
  /// over (channels/groups)·pixels values each, then the affine transform and an optional ReLU. In place.
  /// Statistics are two-pass (mean, then centred squares) in float64, summed per fixed pixel chunk and
  /// combined in chunk order, so the result does not depend on the thread count.
  public static func groupNorm(_ x: UnsafeMutablePointer<Float>, pixels: Int, channels: Int, groups: Int,
                               gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                               relu: Bool, threads: Int) {
    precondition(channels % groups == 0, "groupNorm: \(channels) channels not divisible by \(groups) groups")
    let per = channels / groups, chunk = 256, chunks = (pixels + chunk - 1) / chunk
    let count = Double(pixels * per)
    // Per-chunk, per-channel sums of f(x) where f is x − centre[channel].
    func channelSums(squaredAround centre: [Double]?) -> [Double] {
      var partial = [Double](repeating: 0, count: chunks * channels)
      partial.withUnsafeMutableBufferPointer { pb in
        let pp = pb.baseAddress!
        parallelFor(chunks, threads: threads) { ch in
          let acc = pp + ch * channels
          for p in (ch * chunk)..<Swift.min(pixels, ch * chunk + chunk) {
            let row = x + p * channels
            if let centre {
              for c in 0..<channels {
                let d = Double(row[c]) - centre[c]
                acc[c] += d * d
              }
            } else {
              for c in 0..<channels { acc[c] += Double(row[c]) }
            }
          }
        }
      }
      var total = [Double](repeating: 0, count: groups)
      for ch in 0..<chunks {
        for c in 0..<channels { total[c / per] += partial[ch * channels + c] }
      }
      return total
    }
    let means = channelSums(squaredAround: nil).map { $0 / count }
    let centre = (0..<channels).map { means[$0 / per] }
    let rstd = channelSums(squaredAround: centre).map { 1 / ($0 / count + Double(eps)).squareRoot() }
    // y = (x − μ)·rstd·γ + β, folded per channel into y = x·a + b.
    var scale = [Float](repeating: 0, count: channels), shift = [Float](repeating: 0, count: channels)
    for c in 0..<channels {
      let r = Float(rstd[c / per]), m = Float(means[c / per])
      scale[c] = r * gamma[c]
      shift[c] = beta[c] - m * r * gamma[c]
    }
    scale.withUnsafeBufferPointer { a in
      shift.withUnsafeBufferPointer { b in
        let a = a.baseAddress!, b = b.baseAddress!
        parallelFor(chunks, threads: threads) { blk in
          for p in (blk * chunk)..<Swift.min(pixels, blk * chunk + chunk) {
            let row = x + p * channels
            if relu {
              for c in 0..<channels { row[c] = Swift.max(row[c] * a[c] + b[c], 0) }
            } else {
              for c in 0..<channels { row[c] = row[c] * a[c] + b[c] }
            }
          }
        }
      }
    }
  }

  /// Σ (x[i] − minus) in float64 with 16 independent accumulators (lanes j = i mod 16, which the
  /// compiler keeps in vector registers), combined pairwise: a fixed order for any input length.
  @inline(__always)
  static func sumDouble(_ x: UnsafePointer<Float>, _ n: Int, minus: Double) -> Double {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 16) { buf in
      let acc = buf.baseAddress!
      for j in 0..<16 { acc[j] = 0 }
      var i = 0
      while i + 16 <= n {
        for j in 0..<16 { acc[j] += Double(x[i + j]) - minus }
        i += 16
      }
      var j = 0
      while i < n { acc[j] += Double(x[i]) - minus; i += 1; j += 1 }
      return combine16(acc)
    }
  }

  /// Σ (x[i] − minus)² in float64, accumulated as `sumDouble`.
  @inline(__always)
  static func sumSquaresDouble(_ x: UnsafePointer<Float>, _ n: Int, minus: Double) -> Double {
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 16) { buf in
      let acc = buf.baseAddress!
      for j in 0..<16 { acc[j] = 0 }
      var i = 0
      while i + 16 <= n {
        for j in 0..<16 {
          let d = Double(x[i + j]) - minus
          acc[j] += d * d
        }
        i += 16
      }
      var j = 0
      while i < n {
        let d = Double(x[i]) - minus
        acc[j] += d * d
        i += 1; j += 1
      }
      return combine16(acc)
    }
  }

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
