// Calibration observers: value types that stream activations into a bounded histogram and turn it into
// asymmetric int8 parameters. Memory per observer is fixed (2048 bins), whatever the number of images.

/// A histogram over [−R, R) with `bins` equal bins, R a power of two above every |x| seen: it starts
/// at the first batch's and doubles (merging neighbouring bins pairwise, exactly) whenever a value
/// reaches it. Exact min and max are kept alongside. The counts are those of binning every value seen
/// at the final R, whatever the batches were: a layer observed whole or in chunks, in any order, gives
/// the same histogram (bins are powers of two apart and `x · bins/2R` is exact, so a value's bin at 2R
/// is always B/4 + (its bin at R)/2).
public struct StreamingHistogram: Sendable, Equatable {
  public private(set) var counts: [Double]
  public private(set) var range: Float = 0
  public private(set) var minValue: Float = .infinity
  public private(set) var maxValue: Float = -.infinity
  /// Finite values seen (non-finite ones are skipped everywhere): the sum of `counts`.
  public private(set) var total: Double = 0

  public init(bins: Int = 2048) {
    precondition(bins >= 8 && bins & (bins - 1) == 0, "bins must be a power of two >= 8")
    counts = [Double](repeating: 0, count: bins)
  }

  public var bins: Int { counts.count }
  public var binWidth: Float { 2 * range / Float(bins) }

  /// The smallest power of two strictly above `x` (2⁻³⁰ for 0).
  static func powerOfTwoAbove(_ x: Float) -> Float {
    x > 0 ? Float(sign: .plus, exponent: x.exponent + 1, significand: 1) : 0x1p-30
  }

  public mutating func observe(_ x: Span<Float>) {
    var lo = minValue, hi = maxValue
    for i in x.indices where x[i].isFinite {
      lo = Swift.min(lo, x[i])
      hi = Swift.max(hi, x[i])
    }
    guard lo <= hi else { return }
    minValue = lo
    maxValue = hi
    let needed = Swift.max(abs(lo), abs(hi))
    if range == 0 { range = Self.powerOfTwoAbove(needed) }
    while !(needed < range) { grow() }
    let b = bins, scale = Float(b) / (2 * range)   // a power of two: x·scale is exact
    var local = counts
    counts = []
    var c = local.mutableSpan
    var finite = 0
    for k in x.indices where x[k].isFinite {
      let y = x[k] * scale
      // floor(y) in [−B/2, B/2); a negative value whose product underflowed to −0 stays below zero.
      let i = Int(y.rounded(.down)) + b / 2 - (x[k] < 0 && y == 0 ? 1 : 0)
      c[i] += 1
      finite += 1
    }
    counts = local
    total += Double(finite)
  }

  /// Doubles the range: old bin i (of B) lands in new bin B/4 + i/2.
  mutating func grow() {
    let b = bins
    var merged = [Double](repeating: 0, count: b)
    for i in 0..<b { merged[b / 4 + i / 2] += counts[i] }
    counts = merged
    range *= 2
  }

  /// Lower edge of bin i.
  public func edge(_ i: Int) -> Float { -range + Float(i) * binWidth }
}

public enum CalibrationMethod: String, Sendable, CaseIterable {
  case minmax, percentile, entropy, mse
}

/// Asymmetric int8 parameters covering [lo, hi] (widened to include 0): `scale = (hi − lo)/255`,
/// `zeroPoint = clamp(roundHalfEven(−128 − lo/scale), −128, 127)`.
public func asymmetricParams(lo: Float, hi: Float) -> QuantParams {
  let l = Swift.min(lo, 0), h = Swift.max(hi, 0)
  let scale = h > l ? (h - l) / 255 : 1
  let zp = (-128 - l / scale).rounded(.toNearestOrEven)
  return QuantParams(scale: scale, zeroPoint: Int32(Swift.min(Swift.max(zp, -128), 127)))
}

/// An activation observer: one histogram and the method that turns it into parameters.
public struct ActivationObserver: Sendable, Equatable {
  public var method: CalibrationMethod
  public var histogram = StreamingHistogram()
  /// Fraction of values allowed outside the range on each side (percentile method).
  public var percentile: Double = 0.9999

  public init(method: CalibrationMethod) { self.method = method }

  public mutating func observe(_ x: Span<Float>) { histogram.observe(x) }

  /// The chosen clipping range [lo, hi].
  public func clipRange() -> (lo: Float, hi: Float) {
    let h = histogram
    guard h.total > 0 else { return (0, 0) }
    switch method {
    case .minmax: return (h.minValue, h.maxValue)
    case .percentile:
      let (i0, i1) = tailBins(h, Double(1 - percentile) * h.total)
      return (Swift.max(h.minValue, h.edge(i0)), Swift.min(h.maxValue, h.edge(i1 + 1)))
    case .entropy, .mse:
      return search(h)
    }
  }

  public func quantParams() -> QuantParams {
    let (lo, hi) = clipRange()
    return asymmetricParams(lo: lo, hi: hi)
  }

  /// First and last bins such that at most `mass` lies below / above them.
  func tailBins(_ h: StreamingHistogram, _ mass: Double) -> (Int, Int) {
    var acc = 0.0, i0 = 0
    while i0 < h.bins - 1 && acc + h.counts[i0] <= mass { acc += h.counts[i0]; i0 += 1 }
    acc = 0
    var i1 = h.bins - 1
    while i1 > i0 && acc + h.counts[i1] <= mass { acc += h.counts[i1]; i1 -= 1 }
    return (i0, i1)
  }

  /// Searches clipping ranges [edge(a), edge(b+1)] over a grid of candidate bins (tails from 0 to
  /// ~1e-2 of the mass) for the smallest KL divergence (entropy) or expected squared error (mse).
  func search(_ h: StreamingHistogram) -> (Float, Float) {
    var firstUsed = 0, lastUsed = h.bins - 1
    while firstUsed < h.bins - 1 && h.counts[firstUsed] == 0 { firstUsed += 1 }
    while lastUsed > firstUsed && h.counts[lastUsed] == 0 { lastUsed -= 1 }
    // Candidate cut bins: tails holding 0, 1e-6 … 1e-2 of the mass on each side.
    var lows = Set<Int>([firstUsed]), highs = Set<Int>([lastUsed])
    for f in [1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2] {
      let (a, b) = tailBins(h, f * h.total)
      lows.insert(a)
      highs.insert(b)
    }
    var best = (cost: Double.infinity, lo: h.minValue, hi: h.maxValue)
    for a in lows.sorted() {
      for b in highs.sorted() where b > a {
        // The range must contain 0 (asymmetric int8 keeps 0 exact).
        let lo = Swift.min(h.edge(a), 0), hi = Swift.max(h.edge(b + 1), 0)
        let cost = method == .entropy ? klCost(h, lo: lo, hi: hi) : mseCost(h, lo: lo, hi: hi)
        if cost < best.cost { best = (cost, Swift.max(lo, Swift.min(h.minValue, 0)), Swift.min(hi, Swift.max(h.maxValue, 0))) }
      }
    }
    return (best.lo, best.hi)
  }

  /// Expected squared error per value of quantizing to 256 levels on [lo, hi]: step²/12 inside,
  /// squared distance to the nearest end outside (bin centres stand for their values).
  public func mseCost(_ h: StreamingHistogram, lo: Float, hi: Float) -> Double {
    let step = Double(hi - lo) / 255
    var err = 0.0
    for i in 0..<h.bins where h.counts[i] > 0 {
      let c = Double(h.edge(i)) + Double(h.binWidth) / 2
      if c < Double(lo) { err += h.counts[i] * (Double(lo) - c) * (Double(lo) - c) }
      else if c > Double(hi) { err += h.counts[i] * (c - Double(hi)) * (c - Double(hi)) }
      else { err += h.counts[i] * step * step / 12 }
    }
    return err / h.total
  }

  /// KL(P‖Q): P is the histogram clipped to [lo, hi] (outside mass folded into the end bins), Q is P
  /// re-expanded after merging its bins into 255 quantization cells (TensorRT's entropy calibration,
  /// on an asymmetric range).
  func klCost(_ h: StreamingHistogram, lo: Float, hi: Float) -> Double {
    let w = Double(h.binWidth)
    let a = Swift.max(0, Swift.min(h.bins - 1, Int((Double(lo) + Double(h.range)) / w)))
    let b = Swift.max(a, Swift.min(h.bins - 1, Int((Double(hi) + Double(h.range)) / w) - 1))
    var p = Array(h.counts[a...b])
    for i in 0..<a { p[0] += h.counts[i] }
    for i in (b + 1)..<h.bins { p[p.count - 1] += h.counts[i] }
    let n = p.count, cells = Swift.min(255, n)
    var q = [Double](repeating: 0, count: n)
    for cell in 0..<cells {
      let s = cell * n / cells, e = Swift.max(s + 1, (cell + 1) * n / cells)
      var mass = 0.0, nonzero = 0
      for i in s..<e where p[i] > 0 { mass += p[i]; nonzero += 1 }
      if nonzero > 0 { for i in s..<e where p[i] > 0 { q[i] = mass / Double(nonzero) } }
    }
    let ps = p.reduce(0, +), qs = q.reduce(0, +)
    guard ps > 0, qs > 0 else { return .infinity }
    var kl = 0.0
    for i in 0..<n where p[i] > 0 {
      let pi = p[i] / ps, qi = Swift.max(q[i] / qs, 1e-12)
      kl += pi * log(pi / qi)
    }
    return kl
  }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
