// LayerNorm and GroupNorm kernels against float64 definitions written out in full.
import Kernels
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

  @Test(arguments: [false, true])
  func groupNormMatchesDefinition(_ relu: Bool) {
    let (pixels, channels, groups) = (37, 64, 32)
    var rng = SplitMix64(seed: relu ? 1 : 2)
    let x = rng.floats(pixels * channels).map { $0 * 4 - 1 }, g = rng.floats(channels), b = rng.floats(channels)
    var y = x
    g.withUnsafeBufferPointer { gp in b.withUnsafeBufferPointer { bp in
      y.withUnsafeMutableBufferPointer { yp in
        Norms.groupNorm(yp.baseAddress!, pixels: pixels, channels: channels, groups: groups, gamma: gp.baseAddress!,
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
}
