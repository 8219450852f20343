// WindowAttention: softmax attention of one Swin window and one head, in float. The portable loops
// below define it; the AVX-512 C kernel (es_window_attention_f32__avx512f) agrees to float rounding
// (it uses FMA in the dot products), pinned by KernelsTests/WindowAttentionTests.
import _CKernels

public enum WindowAttention {
  /// Floats of scratch one call needs.
  public static func scratchCount(n: Int, headDim: Int) -> Int { (headDim + 4) * ((n + 15) / 16 * 16) }

  /// For each slot i < n with `out[i]` set: `s_j = (q_i·k_j)/√d + bias[i·n + j] (+ mask[i·n + j])`,
  /// `p = softmax(s)`, `out[i][d] = Σ_j p_j·v_j[d]`. q, k, v, out: n row pointers to `headDim` floats.
  public static func run(n: Int, headDim hd: Int, q: UnsafePointer<UnsafePointer<Float>>, k: UnsafePointer<UnsafePointer<Float>>,
                         v: UnsafePointer<UnsafePointer<Float>>, bias: UnsafePointer<Float>, mask: UnsafePointer<Float>?,
                         out: UnsafePointer<UnsafeMutablePointer<Float>?>, scratch: UnsafeMutablePointer<Float>,
                         kernel: F32GEMMKernel) {
    let sqrtD = Float(hd).squareRoot()
    if kernel == .avx512 {
      q.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: n) { q in
        k.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: n) { k in
          v.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: n) { v in
            es_window_attention_f32__avx512f(n, hd, q, k, v, bias, mask, sqrtD, out, scratch)
          }
        }
      }
      return
    }
    let kT = scratch, s = scratch + hd * n                  // kT: the keys transposed, hd × n; s: one score row
    for j in 0..<n {
      let kj = k[j]
      for d in 0..<hd { kT[d * n + j] = kj[d] }
    }
    for i in 0..<n {
      guard let dst = out[i] else { continue }
      let qi = q[i], bi = bias + i * n
      for j in 0..<n { s[j] = 0 }
      for d in 0..<hd {
        let x = qi[d], kd = kT + d * n
        for j in 0..<n { s[j] += x * kd[j] }
      }
      if let mi = mask.map({ $0 + i * n }) {
        for j in 0..<n { s[j] = s[j] / sqrtD + bi[j] + mi[j] }
      } else {
        for j in 0..<n { s[j] = s[j] / sqrtD + bi[j] }
      }
      Norms.softmaxRows(s, rows: 1, cols: n)
      for d in 0..<hd { dst[d] = 0 }
      for j in 0..<n {
        let pj = s[j], vj = v[j]
        for d in 0..<hd { dst[d] += pj * vj[d] }
      }
    }
  }
}
