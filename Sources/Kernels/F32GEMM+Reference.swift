// F32GEMM+Reference: the plain triple loop that defines what every f32 GEMM tier computes.

extension F32GEMM {
  /// `C = act(A·Bᵀ + bias) + residual` with one Float accumulator per output, k ascending over the
  /// concatenated segments, no tiling and no SIMD.
  static func runReference(_ p: F32GEMMProblem) {
    for i in 0..<p.m {
      for j in 0..<p.n {
        var acc: Float = 0
        for (s, seg) in p.segments.enumerated() {
          let a = p.aRow(i, s)
          for k in 0..<seg.cols { acc += a[k] * seg[j, k] }
        }
        if p.transposedOutput {
          if let bias = p.bias { acc += bias[j] }
          p.c[j * p.ldc + i] = p.activation.apply(acc)
        } else {
          p.c[i * p.ldc + j] = acc
        }
      }
    }
    if !p.transposedOutput { epilogue(p, rows: 0..<p.m, cols: 0..<p.n) }
  }
}
