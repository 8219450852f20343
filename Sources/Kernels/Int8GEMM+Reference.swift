// Int8GEMM+Reference: the definition. Plain loops over the unpacked weights: Σ_k (a − z_a)·w + bias.

extension Int8GEMM {
  /// One tile (rows × the 16 channels of `panel`) of exact int32 results.
  static func referenceTile(_ p: Int8GEMMProblem, rows: Range<Int>, panel: Int, into tile: UnsafeMutablePointer<Int32>) {
    let w = p.weights
    for (r, i) in rows.enumerated() {
      for j in 0..<16 {
        let c = panel * 16 + j
        guard c < w.n else { tile[r * 16 + j] = 0; continue }
        var acc: Int32 = w.bias(c)
        var kOffset = 0
        for (s, len) in p.segments.enumerated() {
          let a = p.aRow(i, s)
          for kk in 0..<len { acc &+= (Int32(a[kk]) &- p.aZeroPoint) &* Int32(w.weight(c, kOffset + kk)) }
          kOffset += len
        }
        tile[r * 16 + j] = acc
      }
    }
  }
}
