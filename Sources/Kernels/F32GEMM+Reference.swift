// F32GEMM+Reference: the plain triple loop that defines what every f32 GEMM tier computes.

extension F32GEMM {
  /// `C = act(A·Bᵀ + bias) + residual`, the definition every tier meets bit for bit: per segment, K in
  /// chunks of `kChunk`, each summed from zero with one fused multiply-add per k ascending, the chunks'
  /// sums added in order; no tiling and no SIMD.
  static func runReference(_ p: F32GEMMProblem) {
    for i in 0..<p.m {
      for j in 0..<p.n {
        var acc: Float = 0, first = true
        for (s, seg) in p.segments.enumerated() {
          let a = p.aRow(i, s)
          var k0 = 0
          while k0 < seg.cols {
            var chunk: Float = 0
            for k in k0..<Swift.min(seg.cols, k0 + kChunk) { chunk = chunk.addingProduct(a[k], seg[j, k]) }
            acc = first ? chunk : acc + chunk
            first = false
            k0 += kChunk
          }
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
