// Calibration observers: sensible ranges per method, and histograms that do not depend on how the
// values were cut into batches.
import Quant
import Testing
import _TestSupport

@Suite struct ObserverTests {
  /// A layer seen whole, in chunks, or in chunks in another order (calibration runs the streamed graph)
  /// gives the same histogram, bin for bin, whichever batch sets the range first; values on bin edges,
  /// zeros, tiny and huge magnitudes included.
  @Test func histogramDoesNotDependOnHowValuesAreCut() {
    var rng = SplitMix64(seed: 9)
    var values = (0..<20_000).map { _ in Float.random(in: -3..<5, using: &rng) * Float.random(in: 0..<1, using: &rng) }
    values += [0, -0.0, 1e-30, -1e-30, 0.5, -0.5, 4, -4, 2, 1000, -1e-3, .infinity, .nan]
    func histogram(_ batches: [ArraySlice<Float>]) -> StreamingHistogram {
      var h = StreamingHistogram()
      for b in batches { Array(b).withUnsafeBufferPointer { h.observe($0.span) } }
      return h
    }
    let whole = histogram([values[...]])
    for chunk in [1, 7, 256, 4096] {
      let batches = stride(from: 0, to: values.count, by: chunk).map { values[$0..<min(values.count, $0 + chunk)] }
      let a = histogram(batches), b = histogram(batches.reversed())
      #expect(a == whole && b == whole, "chunks of \(chunk): totals \(a.total), \(b.total) vs \(whole.total); ranges \(a.range), \(b.range)")
    }
    // Small values first: the range starts small and doubles many times, exactly.
    let sorted = values.filter(\.isFinite).sorted { abs($0) < abs($1) } + values.filter { !$0.isFinite }
    let growing = histogram(stride(from: 0, to: sorted.count, by: 100).map { sorted[$0..<min(sorted.count, $0 + 100)] })
    #expect(growing == whole, "small values first: total \(growing.total), range \(growing.range)")
    #expect(whole.range == 1024, "the smallest power of two above max |x| = 1000")
    #expect(whole.total == whole.counts.reduce(0, +) && whole.total == Double(values.count - 2), "non-finite values are not counted")
  }

  @Test func histogramGrowsExactlyAndKeepsEveryValue() {
    var h = StreamingHistogram(bins: 64)
    [Float](arrayLiteral: 0.5, -0.25, 0.1).withUnsafeBufferPointer { h.observe($0.span) }
    [Float](arrayLiteral: 3, -7, 0).withUnsafeBufferPointer { h.observe($0.span) }
    #expect(h.total == 6 && h.counts.reduce(0, +) == 6)
    #expect(h.minValue == -7 && h.maxValue == 3 && h.range >= 7 && h.range < 14)
  }

  @Test func methodsChooseSensibleRanges() {
    var rng = SplitMix64(seed: 1)
    // Mostly in [-1, 2], with a few far outliers.
    var values = (0..<200_000).map { _ in Float.random(in: -1..<2, using: &rng) }
    values += [40, -30]
    for m in CalibrationMethod.allCases {
      var o = ActivationObserver(method: m)
      values.withUnsafeBufferPointer { o.observe($0.span) }
      let (lo, hi) = o.clipRange()
      switch m {
      case .minmax: #expect(lo == -30 && hi == 40)
      case .mse:
        // Here clipping two far outliers costs more squared error than the wider step: the full range
        // wins. What must hold is that nothing on the candidate grid does better.
        let chosen = o.mseCost(o.histogram, lo: lo, hi: hi)
        #expect(chosen <= o.mseCost(o.histogram, lo: -1, hi: 2) && chosen <= o.mseCost(o.histogram, lo: -30, hi: 40) * 1.0001)
      default:
        #expect(lo <= -0.9 && lo >= -2, "\(m): lo \(lo) hi \(hi)")
        #expect(hi >= 1.9 && hi <= 4, "\(m): hi \(hi) should clip the outlier")
      }
      let q = o.quantParams()
      #expect(q.scale > 0 && (-128...127).contains(q.zeroPoint))
      #expect(abs(q.dequantize(q.quantize(0))) == 0, "\(m): zero is exact")
    }
  }

  @Test func weightQuantizationIsSymmetricPerChannel() {
    let w: [[Float]] = [[0.5, -1.27, 0.01], [0, 0, 0], [3, 2, -3]]
    let q = PerChannelWeights(n: 3, k: 3) { w[$0][$1] }
    #expect(q.scales == [0.01, 1, Float(3) / 127])
    #expect(q.values[0..<3] == [50, -127, 1])
    #expect(q.values[3..<6] == [0, 0, 0])
    #expect(q.values.allSatisfy { $0 >= -127 })
  }
}
