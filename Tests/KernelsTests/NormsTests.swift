// LayerNorm and GroupNorm kernels against float64 definitions written out in full; LayerNorm's
// AVX-512 tier and its int8-writing form against the portable loops, bit for bit.
import Kernels
import Quant
import Testing
import _TestSupport

@Suite struct NormsTests {
  @Test(arguments: [(1, 1), (3, 7), (17, 96), (5, 1536)])
  func layerNormMatchesDefinition(_ shape: (Int, Int)) {
    let (rows, cols) = shape
    var rng = SplitMix64(seed: UInt64(rows * 1000 + cols))
    let x = rng.floats(rows * cols).map { $0 * 10 + 3 }, g = rng.floats(cols), b = rng.floats(cols)
    var y = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in b.withUnsafeBufferPointer { bp in
      y.withUnsafeMutableBufferPointer { yp in
        Norms.layerNorm(xp.baseAddress!, xStride: cols, rows: rows, channels: cols, gamma: gp.baseAddress!,
                        beta: bp.baseAddress!, eps: 1e-5, into: yp.baseAddress!, yStride: cols, threads: 2)
      }
    }}}
    for r in 0..<rows {
      let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
      let mean = row.reduce(0, +) / Double(cols)
      let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(cols)
      for c in 0..<cols {
        let want = (row[c] - mean) / (variance + 1e-5).squareRoot() * Double(g[c]) + Double(b[c])
        #expect(abs(Double(y[r * cols + c]) - want) <= 1e-5 * max(1, abs(want)), "row \(r) col \(c)")
      }
    }
  }

  /// Every LayerNorm tier gives the portable loops' bits (channel counts with every 16-lane tail), and
  /// `layerNormQuantized` is exactly layerNorm then quantize on each tier.
  @Test(arguments: NormKernel.allCases.filter { $0.isSupported(on: .detect()) })
  func layerNormTiersAgreeBitForBit(_ kernel: NormKernel) {
    for cols in [1, 5, 8, 9, 15, 16, 17, 31, 96, 100, 192, 385] {
      let rows = 70
      var rng = SplitMix64(seed: UInt64(cols))
      let x = rng.floats(rows * cols).map { $0 * 10 + 3 }, g = rng.floats(cols), b = rng.floats(cols)
      let params = QuantParams(scale: 0.021, zeroPoint: -5)
      func run(_ k: NormKernel) -> (y: [Float], q: [Int8]) {
        var y = [Float](repeating: .nan, count: x.count), q = [Int8](repeating: 99, count: rows * (cols + 3))
        x.withUnsafeBufferPointer { xp in g.withUnsafeBufferPointer { gp in b.withUnsafeBufferPointer { bp in
          y.withUnsafeMutableBufferPointer { yp in
            Norms.layerNorm(xp.baseAddress!, xStride: cols, rows: rows, channels: cols, gamma: gp.baseAddress!, beta: bp.baseAddress!, eps: 1e-5,
                            into: yp.baseAddress!, yStride: cols, threads: 2, kernel: k)
          }
          q.withUnsafeMutableBufferPointer { qp in
            Norms.layerNormQuantized(xp.baseAddress!, xStride: cols, rows: rows, channels: cols, gamma: gp.baseAddress!, beta: bp.baseAddress!,
                                     eps: 1e-5, params, into: qp.baseAddress!, qStride: cols + 3, threads: 2, kernel: k)
          }
        }}}
        return (y, q)
      }
      let want = run(.portable), got = run(kernel)
      #expect(got.y.map(\.bitPattern) == want.y.map(\.bitPattern), "\(kernel) \(cols) channels: float output")
      var quantized = [Int8](repeating: 99, count: rows * (cols + 3))
      for r in 0..<rows { for c in 0..<cols { quantized[r * (cols + 3) + c] = params.quantize(want.y[r * cols + c]) } }
      #expect(got.q == quantized, "\(kernel) \(cols) channels: int8 output is not quantize(layerNorm), or wrote past the row")
    }
  }

  @Test(arguments: [false, true])
  func groupNormMatchesDefinition(_ relu: Bool) {
    let (pixels, channels, groups) = (37, 64, 32)
    var rng = SplitMix64(seed: relu ? 1 : 2)
    let x = rng.floats(pixels * channels).map { $0 * 4 - 1 }, g = rng.floats(channels), b = rng.floats(channels)
    var y = x
    g.withUnsafeBufferPointer { gp in b.withUnsafeBufferPointer { bp in
      y.withUnsafeMutableBufferPointer { yp in
        Norms.groupNorm(yp.baseAddress!, rows: 1, width: pixels, channels: channels, groups: groups, gamma: gp.baseAddress!,
                        beta: bp.baseAddress!, eps: 1e-5, relu: relu, threads: 2)
      }
    }}
    let per = channels / groups
    for grp in 0..<groups {
      var vals: [Double] = []
      for p in 0..<pixels { for c in 0..<per { vals.append(Double(x[p * channels + grp * per + c])) } }
      let mean = vals.reduce(0, +) / Double(vals.count)
      let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(vals.count)
      for p in 0..<pixels {
        for c in 0..<per {
          let ch = grp * per + c
          var want = (Double(x[p * channels + ch]) - mean) / (variance + 1e-5).squareRoot() * Double(g[ch]) + Double(b[ch])
          if relu { want = max(want, 0) }
          #expect(abs(Double(y[p * channels + ch]) - want) <= 1e-5 * max(1, abs(want)), "pixel \(p) channel \(ch)")
        }
      }
    }
  }

  /// The GroupNorm tiers (C sums and affine pass on x86) give the Swift loops' bits: statistics, and the
  /// normalized map with and without ReLU, for channel counts with and without a vector tail.
  @Test(arguments: NormKernel.allCases.filter { $0 != .portable && $0.isSupported(on: .detect()) })
  func groupNormTiersMatchPortable(_ kernel: NormKernel) {
    for (rows, width, channels, groups) in [(3, 37, 60, 6), (2, 16, 256, 32), (1, 5, 13, 1)] {
      var rng = SplitMix64(seed: UInt64(channels))
      let x = rng.floats(rows * width * channels).map { $0 * 5 - 2 }, g = rng.floats(channels), b = rng.floats(channels).map { $0 - 0.5 }
      func run(_ k: NormKernel, relu: Bool) -> (scale: [Float], shift: [Float], y: [UInt32]) {
        let (scale, shift) = groupNormAffine(channels: channels, groups: groups, gamma: g, beta: b) { stats in
          x.withUnsafeBufferPointer { stats.add($0.baseAddress!, rows: rows, width: width, threads: 2, kernel: k) }
        }
        var y = x
        y.withUnsafeMutableBufferPointer {
          Norms.applyAffine($0.baseAddress!, pixels: rows * width, channels: channels, scale: scale, shift: shift, relu: relu, threads: 2, kernel: k)
        }
        return (scale, shift, y.map(\.bitPattern))
      }
      for relu in [false, true] {
        let want = run(.portable, relu: relu), got = run(kernel, relu: relu)
        #expect(got.scale.map(\.bitPattern) == want.scale.map(\.bitPattern) && got.shift.map(\.bitPattern) == want.shift.map(\.bitPattern),
                "\(kernel) \(channels) channels: statistics")
        let firstDiff = zip(got.y, want.y).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(got.y.count == want.y.count && firstDiff == nil, "\(kernel) \(channels) channels relu \(relu): normalized map differs at \(firstDiff ?? -1)")
      }
    }
  }

  /// Statistics gathered in bands of rows equal the whole map's bit for bit (issue 6: the stride-4 FPN
  /// map is normalized band by band), and agree with the float64 definition.
  @Test func groupNormStatisticsDoNotDependOnBanding() {
    let (rows, width, channels, groups) = (23, 9, 64, 32)
    var rng = SplitMix64(seed: 7)
    let x = rng.floats(rows * width * channels).map { $0 * 6 + 3 }, g = rng.floats(channels), b = rng.floats(channels)
    func affine(bands: [Int], threads: Int) -> ([Float], [Float]) {
      var r0 = 0
      let affine = groupNormAffine(channels: channels, groups: groups, gamma: g, beta: b) { stats in
        x.withUnsafeBufferPointer { xp in
          for n in bands {
            stats.add(xp.baseAddress! + r0 * width * channels, rows: n, width: width, threads: threads)
            r0 += n
          }
        }
      }
      #expect(r0 == rows)
      return affine
    }
    let whole = affine(bands: [rows], threads: 1)
    for (bands, threads) in [([1, 22], 2), ([5, 5, 5, 5, 3], 3), (Array(repeating: 1, count: rows), 1)] {
      let banded = affine(bands: bands, threads: threads)
      #expect(banded.0 == whole.0 && banded.1 == whole.1, "bands \(bands)")
    }
    let per = channels / groups
    for grp in 0..<groups {
      var vals: [Double] = []
      for p in 0..<(rows * width) { for c in 0..<per { vals.append(Double(x[p * channels + grp * per + c])) } }
      let mean = vals.reduce(0, +) / Double(vals.count)
      let variance = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(vals.count)
      let ch = grp * per, rstd = 1 / (variance + 1e-5).squareRoot()
      #expect(abs(Double(whole.0[ch]) - rstd * Double(g[ch])) <= 1e-6 * abs(rstd * Double(g[ch])), "group \(grp) scale")
      let shift = Double(b[ch]) - mean * rstd * Double(g[ch])
      #expect(abs(Double(whole.1[ch]) - shift) <= 1e-5 * max(1, abs(shift)), "group \(grp) shift")
    }
  }
}

/// `GroupNormStatistics.gather` with its result as arrays: `add` what `gather` adds, then the affine.
func groupNormAffine(channels: Int, groups: Int, gamma: [Float], beta: [Float],
                     _ add: (inout GroupNormStatistics) -> Void) -> (scale: [Float], shift: [Float]) {
  var scale = [Float](repeating: 0, count: channels), shift = scale
  GroupNormStatistics.gather(channels: channels, groups: groups) { stats in
    add(&stats)
    gamma.withUnsafeBufferPointer { gp in beta.withUnsafeBufferPointer { bp in
      scale.withUnsafeMutableBufferPointer { sp in shift.withUnsafeMutableBufferPointer { tp in
        stats.affine(gamma: gp.baseAddress!, beta: bp.baseAddress!, eps: 1e-5, scale: sp.baseAddress!, shift: tp.baseAddress!)
      }}
    }}
  }
  return (scale, shift)
}
