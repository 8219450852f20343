// Attention: softmax attention in float, the one op both attentions of MaskFormer run: a Swin window
// (one head, rows read through pointers, relative position bias and shift mask) and DETR's dense
// multi-head attention (contiguous rows, queries against memory). The portable loops are the definition
// of each, operation by operation: dot products as fused multiply-adds in ascending order, the score
// scaled by a multiplication, `softmaxRow` below; the AVX-512 C kernels (es_window_attention_f32__avx512f,
// es_dense_attention_f32__avx512f) and their NEON twins give the same bits, pinned by KernelsTests/AttentionTests.
import _CKernels

/// The attention implementations (`KernelTable.attention`).
public enum AttentionKernel: String, Sendable, CaseIterable {
  /// The loops below: the reference, and what every CPU runs.
  case portable
  /// Window and dense attention in C (AVX-512F).
  case avx512
  /// Window and dense attention in C (arm64 NEON).
  case neon
  /// The NEON source over SSE4.1/FMA3 (x86-64 with AVX2 and FMA).
  case avx2

  public func isSupported(on f: CPUFeatures) -> Bool {
    switch self {
    case .portable: true
    case .avx512: f.hasAVX512F
    case .neon: f.hasNEON
    case .avx2: f.hasAVX2FMA
    }
  }
}

/// The int8 window attention implementations (`KernelTable.int8Attention`): the Swift loops (the
/// definition) and twins in C with the same bits: AVX-512 VNNI, and arm64 sdot (FEAT_DotProd).
public enum Int8AttentionKernel: String, Sendable, CaseIterable {
  /// avx2: the sdot tier's source over SSE4.1 (sdot by element as vpmaddwd pairs), x86-64 with AVX2.
  case portable, avx512vnni, neondot, avx2

  public func isSupported(on f: CPUFeatures) -> Bool {
    switch self {
    case .portable: true
    case .avx512vnni: f.hasAVX512VNNI
    case .neondot: f.hasNEONDotProd
    case .avx2: f.hasAVX2FMA
    }
  }
}

public enum Attention {
  /// Floats of scratch one `window` call needs.
  public static func windowScratchCount(n: Int, headDim: Int) -> Int { (headDim + 4) * ((n + 63) / 64 * 64) }

  /// For each slot i < n with `out[i]` set: `s_j = (q_i·k_j)/√d + bias[i·n + j] (+ mask[i·n + j])`,
  /// `p = softmax(s)`, `out[i][d] = Σ_j p_j·v_j[d]`. q, k, v, out: n row pointers to `headDim` floats.
  public static func window(n: Int, headDim hd: Int, q: UnsafePointer<UnsafePointer<Float>>, k: UnsafePointer<UnsafePointer<Float>>,
                            v: UnsafePointer<UnsafePointer<Float>>, bias: UnsafePointer<Float>, mask: UnsafePointer<Float>?,
                            out: UnsafePointer<UnsafeMutablePointer<Float>?>, scratch: UnsafeMutablePointer<Float>,
                            kernel: AttentionKernel) {
    let sqrtD = Float(hd).squareRoot()
    if kernel != .portable {
      q.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: n) { q in
        k.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: n) { k in
          v.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: n) { v in
            if kernel == .avx512 {
              es_window_attention_f32__avx512f(n, hd, q, k, v, bias, mask, sqrtD, out, scratch)
            } else if kernel == .avx2 {
              es_window_attention_f32__avx2(n, hd, q, k, v, bias, mask, sqrtD, out, scratch)
            } else {
              es_window_attention_f32__neon(n, hd, q, k, v, bias, mask, sqrtD, out, scratch)
            }
          }
        }
      }
      return
    }
    let kT = scratch, s = scratch + hd * n                  // kT: the keys transposed, hd × n; s: one score row
    let scale = 1 / sqrtD
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
        for j in 0..<n { s[j] = s[j].addingProduct(x, kd[j]) }
      }
      if let mi = mask.map({ $0 + i * n }) {
        for j in 0..<n { s[j] = s[j] * scale + bi[j] + mi[j] }
      } else {
        for j in 0..<n { s[j] = s[j] * scale + bi[j] }
      }
      softmaxRow(s, count: n)
      for d in 0..<hd { dst[d] = 0 }
      for j in 0..<n {
        let pj = s[j], vj = v[j]
        for d in 0..<hd { dst[d] = dst[d].addingProduct(pj, vj[d]) }
      }
    }
  }

  // MARK: int8 window attention

  /// The windows int8 attention runs (on every tier, so that the tiers compute the same thing): head
  /// dimension 32 and at most 64 tokens, the shape of its VNNI kernel (Swin-T/S/B at window 7). Other
  /// shapes (window 12: 144 tokens) keep the float attention; the portable int8 loops would be far slower.
  public static func int8WindowSupported(n: Int, headDim hd: Int) -> Bool { hd == 32 && n <= 64 }

  /// Bytes of scratch one `windowInt8` call needs.
  public static func windowInt8ScratchBytes(n: Int, headDim hd: Int) -> Int {
    let np = Swift.max(64, (n + 15) / 16 * 16)
    // Packed K and V, unsigned q, row scales and sums, int8 v rows; then the AVX-512 VNNI tier's score
    // rows (np floats each), unsigned probability rows and three per-row floats.
    return 4 * np * hd + 4 * 8 * np + 64 * 16 + 5 * np * np + 12 * np
  }

  /// Swin window attention in int8, the way ncnn quantizes attention: q, k and v quantized per token
  /// (each row of `headDim` values: `symmetricRow`), `QKᵀ` in int8, softmax in float, the probabilities
  /// times v's row scales quantized per query row to unsigned 8 bits, `P·V` in int8. For each slot i < n
  /// with `out[i]` set:
  ///   `s_j = Float(q8_i·k8_j)·((sq_i/√d)·sk_j) + bias[i·n + j] (+ mask[i·n + j])`, `e_j = exp(s_j − max s)`
  ///   (0 where the exponent is below −87), `Σe` in 16 lanes (`j mod 16`) then halving, `p_j = e_j·sv_j`,
  ///   `p8_j = roundHalfEven(p_j·(255/max p))`, `out[i][d] = Float(Σ_j p8_j·v8_j[d])·(max p/(255·Σe))`.
  /// This loop is the definition; the AVX-512 VNNI tier (`es_window_attention_qs8__avx512vnni`) and the
  /// arm64 sdot tier (`es_window_attention_qs8__neondot`) give the same bits. q, k, v, out: n row pointers to `headDim` floats (headDim a multiple of 4).
  public static func windowInt8(n: Int, headDim hd: Int, q: UnsafePointer<UnsafePointer<Float>>, k: UnsafePointer<UnsafePointer<Float>>,
                                v: UnsafePointer<UnsafePointer<Float>>, bias: UnsafePointer<Float>, mask: UnsafePointer<Float>?,
                                out: UnsafePointer<UnsafeMutablePointer<Float>?>, scratch: UnsafeMutableRawPointer,
                                kernel: Int8AttentionKernel) {
    let invSqrtD = 1 / Float(hd).squareRoot()
    if kernel != .portable && int8WindowSupported(n: n, headDim: hd) {
      q.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: n) { q in
        k.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: n) { k in
          v.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: n) { v in
            if kernel == .avx512vnni {
              es_window_attention_qs8__avx512vnni(n, q, k, v, bias, mask, invSqrtD, out, scratch)
            } else if kernel == .avx2 {
              es_window_attention_qs8__avx2(n, q, k, v, bias, mask, invSqrtD, out, scratch)
            } else {
              es_window_attention_qs8__neondot(n, q, k, v, bias, mask, invSqrtD, out, scratch)
            }
          }
        }
      }
      return
    }
    let q8 = scratch.bindMemory(to: Int8.self, capacity: 3 * n * hd), k8 = q8 + n * hd, v8 = k8 + n * hd
    let scales = (scratch + (3 * n * hd + 15) / 16 * 16).bindMemory(to: Float.self, capacity: 5 * n), sq = scales, sk = sq + n, sv = sk + n
    let sRow = sv + n, e = sRow + n, p8 = UnsafeMutableRawPointer(e + n).bindMemory(to: UInt8.self, capacity: n)
    for j in 0..<n {
      sq[j] = symmetricRow(q[j], count: hd, into: q8 + j * hd)
      sk[j] = symmetricRow(k[j], count: hd, into: k8 + j * hd)
      sv[j] = symmetricRow(v[j], count: hd, into: v8 + j * hd)
    }
    for i in 0..<n {
      guard let dst = out[i] else { continue }
      let a = sq[i] * invSqrtD, bi = bias + i * n, qi = q8 + i * hd
      var mx = -Float.infinity
      for j in 0..<n {
        var acc: Int32 = 0
        let kj = k8 + j * hd
        for d in 0..<hd { acc &+= Int32(qi[d]) &* Int32(kj[d]) }
        var x = Float(acc) * (a * sk[j]) + bi[j]
        if let mask { x = x + mask[i * n + j] }
        sRow[j] = x
        mx = Swift.max(mx, x)
      }
      withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { lanes in
        for l in 0..<16 { lanes[l] = 0 }
        var mp: Float = 0
        for j in 0..<n {
          let t = sRow[j] - mx
          e[j] = t < -87 ? 0 : FastMath.exp(t)
          lanes[j % 16] += e[j]
          e[j] = e[j] * sv[j]
          mp = Swift.max(mp, e[j])
        }
        for w in [8, 4, 2, 1] { for l in 0..<w { lanes[l] += lanes[l + w] } }
        let inv: Float = mp == 0 ? 0 : 255 / mp
        for j in 0..<n { p8[j] = UInt8(Swift.min(Swift.max((e[j] * inv).rounded(.toNearestOrEven), 0), 255)) }
        let f = mp / (255 * lanes[0])
        for d in 0..<hd {
          var acc: Int32 = 0
          for j in 0..<n { acc &+= Int32(p8[j]) &* Int32(v8[j * hd + d]) }
          dst[d] = Float(acc) * f
        }
      }
    }
  }

  /// One row quantized symmetrically to int8: `q = roundHalfEven(x·(127/m))` with m = max |x| (all 0 when
  /// m is 0); returns the scale m/127.
  @inline(__always)
  public static func symmetricRow(_ x: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>) -> Float {
    var m: Float = 0
    for d in 0..<count { m = Swift.max(m, abs(x[d])) }
    let inv: Float = m == 0 ? 0 : 127 / m
    for d in 0..<count { q[d] = Int8(Swift.min(Swift.max((x[d] * inv).rounded(.toNearestOrEven), -127), 127)) }
    return m / 127
  }

  /// Floats of scratch one head of `dense` needs (per worker).
  public static func denseScratchCount(keys nk: Int, headDim hd: Int) -> Int { (hd + 4) * ((nk + 63) / 64 * 64) }

  /// The softmax both float attentions use: `e_j = exp(s_j − max s)` (`FastMath.exp`; 0 where the
  /// exponent is below −87: a masked pair, whose tiny probability would only make denormal products),
  /// `Σe` in 16 lanes (`j mod 16`) folded by halves (8, 4, 2, 1), `p_j = e_j · (1/Σe)`: the order of the
  /// AVX-512 kernels' vector sums, so that every tier gives the same bits.
  @inline(__always)
  public static func softmaxRow(_ s: UnsafeMutablePointer<Float>, count n: Int) {
    var mx = -Float.infinity
    for j in 0..<n { mx = Swift.max(mx, s[j]) }
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { lanes in
      for l in 0..<16 { lanes[l] = 0 }
      for j in 0..<n {
        let t = s[j] - mx
        let e: Float = t >= -87 ? FastMath.exp(t) : 0
        s[j] = e
        lanes[j % 16] += e
      }
      for w in [8, 4, 2, 1] { for l in 0..<w { lanes[l] += lanes[l + w] } }
      let inv = 1 / lanes[0]
      for j in 0..<n { s[j] = s[j] * inv }
    }
  }

  /// Multi-head attention over contiguous rows: for each head h (columns `h·hd ..< (h+1)·hd` of rows of
  /// `d` floats) and query i < nq, `s_j = (q_i·k_j)·scale`, `p = softmaxRow(s)`, `out[i] = Σ_j p_j·v_j`
  /// over the nk keys. With a `mask` (`nq × nk`, shared by the heads: 0 or −∞, no row all −∞; Mask2Former's
  /// masked cross-attention) `s_j = (q_i·k_j)·scale + mask[i][j]`. `out` (nq × d) must be zero; heads run in
  /// parallel, one worker's scratch (`denseScratchCount` floats each, `workers(heads)` of them) per thread;
  /// the result does not depend on the thread count.
  public static func dense(q: UnsafePointer<Float>, queries nq: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, keys nk: Int,
                           width d: Int, heads: Int, scale: Float, mask: UnsafePointer<Float>? = nil, out: UnsafeMutablePointer<Float>,
                           scratch: UnsafeMutablePointer<Float>, threads: Int, kernel: AttentionKernel) {
    let hd = d / heads, perWorker = denseScratchCount(keys: nk, headDim: hd)
    parallelForWorkers(heads, threads: threads, sharing: (q, nq, k, v, nk, d, hd, scale, mask, out, scratch, perWorker, kernel)) { st, head, worker in
      let (q, nq, k, v, nk, d, hd, scale, mask, out, scratch, perWorker, kernel) = st
      let off = head * hd
      switch kernel {
      case .avx512:
        es_dense_attention_f32__avx512f(nq, nk, hd, q + off, k + off, v + off, d, scale, mask, out + off, scratch + worker * perWorker)
        return
      case .neon:
        es_dense_attention_f32__neon(nq, nk, hd, q + off, k + off, v + off, d, scale, mask, out + off, scratch + worker * perWorker)
        return
      case .avx2:
        es_dense_attention_f32__avx2(nq, nk, hd, q + off, k + off, v + off, d, scale, mask, out + off, scratch + worker * perWorker)
        return
      case .portable: break
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
          for j in 0..<nk { s[j] = s[j].addingProduct(x, kt[j]) }
        }
        for j in 0..<nk { s[j] *= scale }
        if let mask { for j in 0..<nk { s[j] += mask[i * nk + j] } }
        softmaxRow(s, count: nk)
        let dst = out + i * d + off
        for j in 0..<nk {
          let pj = s[j], vj = v + j * d + off
          for t in 0..<hd { dst[t] = dst[t].addingProduct(pj, vj[t]) }
        }
      }
    }
  }
}
