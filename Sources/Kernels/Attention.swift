// Attention: softmax attention in float, the one op both attentions of MaskFormer run: a Swin window
// (one head, rows read through pointers, relative position bias and shift mask) and DETR's dense
// multi-head attention (contiguous rows, queries against memory). The portable loops are the reference
// that defines each; the AVX-512 C kernels (es_window_attention_f32__avx512f, es_dense_attention_f32__avx512f)
// agree to float rounding (FMA in the dot products), pinned by KernelsTests/AttentionTests.
import _CKernels

/// The attention implementations (`KernelTable.attention`).
public enum AttentionKernel: String, Sendable, CaseIterable {
  /// The loops below: the reference, and what every CPU runs.
  case portable
  /// Window and dense attention in C (AVX-512F; dense for head dimensions that are multiples of 16).
  case avx512

  public func isSupported(on f: CPUFeatures) -> Bool {
    switch self {
    case .portable: true
    case .avx512: f.hasAVX512F
    }
  }
}

public enum Attention {
  /// Floats of scratch one `window` call needs.
  public static func windowScratchCount(n: Int, headDim: Int) -> Int { (headDim + 4) * Swift.max(64, (n + 15) / 16 * 16) }

  /// For each slot i < n with `out[i]` set: `s_j = (q_i·k_j)/√d + bias[i·n + j] (+ mask[i·n + j])`,
  /// `p = softmax(s)`, `out[i][d] = Σ_j p_j·v_j[d]`. q, k, v, out: n row pointers to `headDim` floats.
  public static func window(n: Int, headDim hd: Int, q: UnsafePointer<UnsafePointer<Float>>, k: UnsafePointer<UnsafePointer<Float>>,
                            v: UnsafePointer<UnsafePointer<Float>>, bias: UnsafePointer<Float>, mask: UnsafePointer<Float>?,
                            out: UnsafePointer<UnsafeMutablePointer<Float>?>, scratch: UnsafeMutablePointer<Float>,
                            kernel: AttentionKernel) {
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

  /// Floats of scratch one head of `dense` needs (per worker).
  public static func denseScratchCount(keys nk: Int, headDim hd: Int) -> Int { (hd + 4) * ((nk + 63) / 64 * 64) }

  /// Multi-head attention over contiguous rows: for each head h (columns `h·hd ..< (h+1)·hd` of rows of
  /// `d` floats) and query i < nq, `s_j = (q_i·k_j)·scale`, `p = softmax(s)`, `out[i] = Σ_j p_j·v_j`
  /// over the nk keys. `out` (nq × d) must be zero; heads run in parallel, one worker's scratch
  /// (`denseScratchCount` floats each, `workers(heads)` of them) per thread; the result does not
  /// depend on the thread count.
  public static func dense(q: UnsafePointer<Float>, queries nq: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, keys nk: Int,
                           width d: Int, heads: Int, scale: Float, out: UnsafeMutablePointer<Float>,
                           scratch: UnsafeMutablePointer<Float>, threads: Int, kernel: AttentionKernel) {
    let hd = d / heads, perWorker = denseScratchCount(keys: nk, headDim: hd)
    parallelForWorkers(heads, threads: threads) { head, worker in
      let off = head * hd
      if kernel == .avx512 && hd % 16 == 0 {
        es_dense_attention_f32__avx512f(nq, nk, hd, q + off, k + off, v + off, d, scale, out + off, scratch + worker * perWorker)
        return
      }
      let kT = scratch + worker * perWorker, s = kT + hd * nk          // kT: this head's keys transposed, hd × nk
      for j in 0..<nk {
        for t in 0..<hd { kT[t * nk + j] = k[j * d + off + t] }
      }
      for i in 0..<nq {
        let qi = q + i * d + off
        for j in 0..<nk { s[j] = 0 }
        for t in 0..<hd {
          let x = qi[t], kt = kT + t * nk
          for j in 0..<nk { s[j] += x * kt[j] }
        }
        for j in 0..<nk { s[j] *= scale }
        FastMath.softmax(s, count: nk)
        let dst = out + i * d + off
        for j in 0..<nk {
          let pj = s[j], vj = v + j * d + off
          for t in 0..<hd { dst[t] += pj * vj[t] }
        }
      }
    }
  }
}
