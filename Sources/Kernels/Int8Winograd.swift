// Int8Winograd: a 3×3 stride-1 int8 conv by Winograd's F(2×2, 3×3) in exact integer arithmetic, so the
// result is the direct conv's (Int8GEMM over the nine taps) bit for bit, with 16 instead of 36
// multiplications per 2×2 outputs and channel pair.
//
// Per 4×4 input tile d (raw int8 activations; out-of-image pixels are the zero point, as the direct conv
// reads them) and channel: V = Bᵀ d B (|V| ≤ 4·128, Int16). Per output and input channel the weights are
// transformed once: U' = (2G) g (2G)ᵀ = 4·G g Gᵀ, integers (|U'| ≤ 9·127, Int16). For each of the 16
// positions e, M_e = Σ_c V_e[c]·U'_e[c] (a GEMM of tiles × channel pairs: vpmaddwd on AVX2), then
// Y = Aᵀ M A is 4 × (the direct conv's Σ (a)·w) exactly (two's-complement sums: an intermediate that wraps
// still gives the exact result, which fits), so Y >> 2 is the direct conv's accumulator; the correction
// (bias − z·Σw) and the epilogue are Int8GEMM's.
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], 2G = [2 0 0; 1 1 1; 1 −1 1; 0 0 2], Aᵀ = [1 1 1 0; 0 1 −1 −1]
// The AVX2 tier runs the GEMM and the input transform in C (es_wino_*__avx2); the portable loops below are
// their twins, and KernelsTests pins both to the direct conv. Where it pays: on AVX2, whose exact int8
// multiply (vpmaddwd) already works on Int16, so the transformed Int16 operands cost nothing extra.
import Quant
import _CKernels

/// The transformed weights of one 3×3 conv: `[e (16)][panel of 16 outputs][channel pair][16][2]` Int16.
public final class Int8WinogradWeights: @unchecked Sendable {
  public let n: Int
  public let inChannels: Int
  let pairs: Int
  let panels: Int
  let u: UnsafeMutablePointer<Int16>

  /// From the packed 3×3 weights (K = 9·inChannels, tap-major: k = tap·inChannels + c).
  @_optimize(speed)   // debug builds (the test suite) too
  public init(_ w: QGEMMWeights, inChannels cin: Int) {
    precondition(w.k == 9 * cin, "Int8WinogradWeights: K \(w.k) is not 9 × \(cin)")
    n = w.n
    inChannels = cin
    pairs = (cin + 1) / 2
    panels = w.panels
    let count = 16 * panels * pairs * 32
    u = .allocate(capacity: count)
    u.initialize(repeating: 0, count: count)
    // 2G, row by row.
    let g2: SIMD16<Int32> = [2, 0, 0, 0, 1, 1, 1, 0, 1, -1, 1, 0, 0, 0, 2, 0]
    for o in 0..<n {
      for c in 0..<cin {
        var g = SIMD16<Int32>()
        for t in 0..<9 { g[t] = Int32(w.weight(o, t * cin + c)) }
        for i in 0..<4 {
          // Row i of (2G) g, then times (2G)ᵀ.
          var r = SIMD4<Int32>()
          for a in 0..<3 { for b in 0..<3 { r[b] += g2[i * 4 + a] * g[a * 3 + b] } }
          for j in 0..<4 {
            let s = g2[j * 4] * r[0] + g2[j * 4 + 1] * r[1] + g2[j * 4 + 2] * r[2]
            u[Self.offset(e: i * 4 + j, panel: o / 16, pair: c / 2, panels: panels, pairs: pairs) + (o % 16) * 2 + c % 2] = Int16(s)
          }
        }
      }
    }
  }

  deinit { u.deallocate() }

  static func offset(e: Int, panel: Int, pair: Int, panels: Int, pairs: Int) -> Int { ((e * panels + panel) * pairs + pair) * 32 }

  /// Bytes held.
  public var byteCount: Int { Self.byteCount(n: n, inChannels: inChannels) }
  /// Bytes the transformed weights of an n-output, `inChannels`-input 3×3 conv take.
  public static func byteCount(n: Int, inChannels: Int) -> Int { 16 * QGEMMPanelLayout.panels(n: n) * ((inChannels + 1) / 2) * 64 }
}

public enum Int8Winograd {
  /// Tiles (2×2 outputs) per task: a block of one tile row, so its outputs are two runs of whole pixels.
  static let blockTiles = 24

  /// The 3×3 "same" conv of `rows` output rows × `width` of `u`'s layer, equal bit for bit to `Int8GEMM.run`
  /// over the nine taps. `pixel(y, x)`: the int8 channels of input pixel (y, x), y relative to the first
  /// output row (−1 ... rows, x −1 ... width), or the row of zero points where the direct conv reads it
  /// (outside the image) and wherever no kept output needs it. Output pixel i = y·width + x.
  public static func conv3x3(_ u: Int8WinogradWeights, weights w: QGEMMWeights, rows: Int, width: Int,
                             pixel: (Int, Int) -> UnsafePointer<Int8>, zeroPoint: Int32, output: Int8GEMMOutput,
                             kernel: QS8GEMMKernel, threads: Int) {
    guard rows > 0, width > 0 else { return }
    let cin = u.inChannels, n = u.n, pairs = u.pairs, tb = blockTiles
    let th = (rows + 1) / 2, tw = (width + 1) / 2, nb = (tw + tb - 1) / tb
    // The output side of the equivalent direct-conv problem (its rows are never read: Winograd reads `pixel`).
    let problem = Int8GEMMProblem(m: rows * width, weights: w, segments: [w.k], aRow: { _, _ in preconditionFailure("unused") },
                                  aZeroPoint: zeroPoint, output: output)
    let avx2 = kernel == .avx2
    Int8GEMM.withCorrections(problem, signedA: true) { corr, scales in
      let vCount = 16 * tb * pairs * 2, mCount = 16 * tb * 16, yCount = 2 * 2 * tb * 16
      let perWorker = vCount * 2 + (mCount + yCount) * 4
      let workers = parallelWorkers(th * nb, threads: threads)
      ThreadScratch.with(.winograd, bytes: workers * perWorker) { scratch in
        parallelForWorkers(th * nb, threads: threads) { task, worker in
          let ty = task / nb, b = task % nb
          let t0 = b * tw / nb, t1 = (b + 1) * tw / nb, tiles = t1 - t0
          let base = scratch + worker * perWorker
          let v = base.bindMemory(to: Int16.self, capacity: vCount)
          let m = (base + vCount * 2).bindMemory(to: Int32.self, capacity: mCount)
          let y = (base + vCount * 2 + mCount * 4).bindMemory(to: Int32.self, capacity: yCount)
          let ldv = tiles * pairs * 2   // Int16 between positions e
          // Input transform of every tile of the block.
          withUnsafeTemporaryAllocation(of: UnsafePointer<Int8>.self, capacity: 16) { dBuf in
            let d = dBuf.baseAddress!
            for t in 0..<tiles {
              let oy = 2 * ty, ox = 2 * (t0 + t)
              for i in 0..<4 { for j in 0..<4 { d[i * 4 + j] = pixel(oy - 1 + i, ox - 1 + j) } }
              let vt = v + t * pairs * 2
              if avx2 {
                UnsafeRawPointer(d).withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: 16) { dc in
                  es_wino_input_16__avx2(cin, dc, vt, ldv)
                }
              } else {
                inputTransform(cin, d, vt, ldv)
              }
              if cin % 2 == 1 { for e in 0..<16 { vt[e * ldv + cin] = 0 } }
            }
          }
          withUnsafeTemporaryAllocation(of: UnsafePointer<Int16>.self, capacity: 6) { rowBuf in
            let rowPointers = rowBuf.baseAddress!
            for panel in 0..<u.panels {
              // M_e for the block's tiles × the panel's 16 outputs, e = 0 ..< 16.
              for e in 0..<16 {
                let ue = u.u + Int8WinogradWeights.offset(e: e, panel: panel, pair: 0, panels: u.panels, pairs: pairs)
                var r0 = 0
                while r0 < tiles {
                  let mr = Swift.min(6, tiles - r0)
                  for r in 0..<6 { rowPointers[r] = UnsafePointer(v + e * ldv + (r0 + Swift.min(r, mr - 1)) * pairs * 2) }
                  let c = m + (e * tb + r0) * 16
                  if avx2 {
                    es_wino_gemm_6x16__avx2(mr, pairs, UnsafeRawPointer(rowPointers).assumingMemoryBound(to: UnsafePointer<Int16>?.self), ue, c)
                  } else {
                    gemm(mr, pairs, rowPointers, ue, c)
                  }
                  r0 += mr
                }
              }
              outputTransform(tiles: tiles, m, ldm: tb * 16, into: y, ldy: 2 * tb * 16)
              // Two output rows of 2·tiles pixels (fewer at the right edge and the last odd row).
              let x0 = 2 * t0, x1 = Swift.min(width, 2 * t1), cols = Swift.min(16, n - panel * 16)
              for r in 0..<2 where 2 * ty + r < rows {
                let first = (2 * ty + r) * width
                Int8GEMM.epilogue(problem, tile: y + r * 2 * tb * 16, ldt: 16, rows: (first + x0)..<(first + x1), c0: panel * 16, cols: cols,
                                  corr: corr, scales: scales, kernel: kernel)
              }
            }
          }
        }
      }
      }
    }

    /// The input transform's definition (twin of es_wino_input_16__avx2): v[e·ldv + c] = (Bᵀ d B)[e] of channel c.
    @_optimize(speed)
    public static func inputTransform(_ cin: Int, _ d: UnsafePointer<UnsafePointer<Int8>>, _ v: UnsafeMutablePointer<Int16>, _ ldv: Int) {
      for c in 0..<cin {
        @inline(__always) func x(_ i: Int) -> Int16 { Int16(d[i][c]) }
        for i in 0..<4 {
          // Row i of Bᵀ d (as columns j = 0 ... 3), then that row times B.
          let (t0, t1, t2, t3): (Int16, Int16, Int16, Int16)
          switch i {
          case 0: (t0, t1, t2, t3) = (x(0) &- x(8), x(1) &- x(9), x(2) &- x(10), x(3) &- x(11))
          case 1: (t0, t1, t2, t3) = (x(4) &+ x(8), x(5) &+ x(9), x(6) &+ x(10), x(7) &+ x(11))
          case 2: (t0, t1, t2, t3) = (x(8) &- x(4), x(9) &- x(5), x(10) &- x(6), x(11) &- x(7))
          default: (t0, t1, t2, t3) = (x(4) &- x(12), x(5) &- x(13), x(6) &- x(14), x(7) &- x(15))
          }
          v[(i * 4) * ldv + c] = t0 &- t2
          v[(i * 4 + 1) * ldv + c] = t1 &+ t2
          v[(i * 4 + 2) * ldv + c] = t2 &- t1
          v[(i * 4 + 3) * ldv + c] = t1 &- t3
      }
    }
  }

  /// The GEMM's definition (twin of es_wino_gemm_6x16__avx2): c[r][j] = Σ_p Σ_t v_r[2p + t]·u[p·32 + 2j + t].
  @_optimize(speed)
  static func gemm(_ mr: Int, _ pairs: Int, _ v: UnsafePointer<UnsafePointer<Int16>>, _ u: UnsafePointer<Int16>, _ c: UnsafeMutablePointer<Int32>) {
    for r in 0..<mr {
      for j in 0..<16 {
        var s: Int32 = 0
        for p in 0..<pairs {
          s &+= Int32(v[r][2 * p]) &* Int32(u[p * 32 + 2 * j]) &+ Int32(v[r][2 * p + 1]) &* Int32(u[p * 32 + 2 * j + 1])
        }
        c[r * 16 + j] = s
      }
    }
  }

  /// Y = (Aᵀ M A) >> 2 for each tile and output: m[e·ldm + t·16 + j] → y[r·ldy + (2t + s)·16 + j] (row r, column s
  /// of the tile's 2×2 outputs).
  @_optimize(speed)
  static func outputTransform(tiles: Int, _ m: UnsafePointer<Int32>, ldm: Int, into y: UnsafeMutablePointer<Int32>, ldy: Int) {
    for t in 0..<tiles {
      let mt = m + t * 16, y0 = y + 2 * t * 16, y1 = y0 + ldy
      for j in 0..<16 {
        // Aᵀ M (rows 0 and 1, four columns), then times A.
        let a0 = mt[j] &+ mt[4 * ldm + j] &+ mt[8 * ldm + j], b0 = mt[4 * ldm + j] &- mt[8 * ldm + j] &- mt[12 * ldm + j]
        let a1 = mt[ldm + j] &+ mt[5 * ldm + j] &+ mt[9 * ldm + j], b1 = mt[5 * ldm + j] &- mt[9 * ldm + j] &- mt[13 * ldm + j]
        let a2 = mt[2 * ldm + j] &+ mt[6 * ldm + j] &+ mt[10 * ldm + j], b2 = mt[6 * ldm + j] &- mt[10 * ldm + j] &- mt[14 * ldm + j]
        let a3 = mt[3 * ldm + j] &+ mt[7 * ldm + j] &+ mt[11 * ldm + j], b3 = mt[7 * ldm + j] &- mt[11 * ldm + j] &- mt[15 * ldm + j]
        y0[j] = (a0 &+ a1 &+ a2) >> 2
        y0[16 + j] = (a1 &- a2 &- a3) >> 2
        y1[j] = (b0 &+ b1 &+ b2) >> 2
        y1[16 + j] = (b1 &- b2 &- b3) >> 2
      }
    }
  }
}
