// DeformableAttention: Mask2Former's multi-scale deformable attention sampling (issue 21;
// ../shared/mask2former-spec.md §3.3-3.5): for each query and head, Σ over levels and points of the
// attention weight times the value map sampled bilinearly at the point, as transformers computes it with
// grid_sample(mode="bilinear", padding_mode="zeros", align_corners=False). `sample` is the definition (and
// the portable tier); the AVX2 tier (_CKernels/msda_x86.c) computes its bits, pinned by
// KernelsTests/DeformableAttentionTests. On arm64 the portable loop compiles to native fused multiply-adds.
import _CKernels

public enum DeformableAttention {
  /// `out[q][m·hd + c] = Σ_l Σ_p A[q][m][l][p] · bilinear0(V_{l,m}, loc[q][m][l][p])[c]`, summed over l, then p,
  /// in ascending order.
  /// - value: `S × heads × hd` (token-major; level l's `H_l·W_l` tokens row-major, levels in `shapes` order).
  /// - locations: `queries × heads × levels × points × 2` (x, y), normalized to [0, 1] over the sampled level;
  ///   any value (points outside the map sample zeros).
  /// - weights: `queries × heads × levels × points`.
  /// The sample is torch's CPU arithmetic (§3.5): g = fl(fl(2·loc) − 1), x = fma(g + 1, W/2, −0.5), corner
  /// weights as plain products, the four corners folded by fused multiply-adds (nw, ne, sw, se), corners
  /// outside the map read as 0.
  public static func reference(value: UnsafePointer<Float>, shapes: [(height: Int, width: Int)], heads: Int, headDim hd: Int,
                               locations: UnsafePointer<Float>, weights: UnsafePointer<Float>, queries: Int, points: Int,
                               out: UnsafeMutablePointer<Float>) {
    var starts: [Int] = [0]
    for (h, w) in shapes { starts.append(starts.last! + h * w) }
    sample(value: value, shapes: shapes, starts: starts, heads: heads, headDim: hd, locations: locations, weights: weights,
           queries: 0..<queries, points: points, out: out)
  }

  /// `reference` over the queries in chunks of 64 on `threads` threads, with the AVX-512 or AVX2 tier where
  /// `kernel` is one: the same bits (each query's output depends on that query's inputs only).
  public static func run(value: UnsafePointer<Float>, shapes: [(height: Int, width: Int)], heads: Int, headDim hd: Int,
                         locations: UnsafePointer<Float>, weights: UnsafePointer<Float>, queries: Int, points: Int,
                         out: UnsafeMutablePointer<Float>, threads: Int, kernel: AttentionKernel) {
    inChunks(shapes: shapes, queries: queries, threads: threads) { range, starts, hs, ws, ss in
      if kernel == .avx512 {
        es_msda_f32__avx512(range.lowerBound, range.upperBound, heads, hd, shapes.count, points, value, hs, ws, ss, locations, weights, out)
      } else if kernel == .avx2 {
        es_msda_f32__avx2(range.lowerBound, range.upperBound, heads, hd, shapes.count, points, value, hs, ws, ss, locations, weights, out)
      } else {
        sample(value: value, shapes: shapes, starts: starts, heads: heads, headDim: hd, locations: locations, weights: weights,
               queries: range, points: points, out: out)
      }
    }
  }

  /// The query chunks (64 queries) on `threads` threads, with the levels' first tokens (and as C longs for the C tiers).
  private static func inChunks(shapes: [(height: Int, width: Int)], queries: Int, threads: Int,
                               _ body: (Range<Int>, [Int], [CLong], [CLong], [CLong]) -> Void) {
    var starts: [Int] = [0]
    for (h, w) in shapes { starts.append(starts.last! + h * w) }
    let chunk = 64, hs = shapes.map { CLong($0.height) }, ws = shapes.map { CLong($0.width) }, ss = starts.map { CLong($0) }
    parallelFor((queries + chunk - 1) / chunk, threads: threads) { c in
      body(c * chunk..<Swift.min(queries, (c + 1) * chunk), starts, hs, ws, ss)
    }
  }

  /// The definition on the queries `range` (level l's tokens start at `starts[l]`).
  static func sample(value: UnsafePointer<Float>, shapes: [(height: Int, width: Int)], starts: [Int], heads: Int, headDim hd: Int,
                     locations: UnsafePointer<Float>, weights: UnsafePointer<Float>, queries range: Range<Int>, points: Int,
                     out: UnsafeMutablePointer<Float>) {
    sample(value: value, load: { $0[$1] }, shapes: shapes, starts: starts, heads: heads, headDim: hd, locations: locations,
           weights: weights, queries: range, points: points, out: out)
  }

  /// The same on int8 values: each corner's value is `dequantize(v8)` (`QuantParams`: `scale · (v8 − zeroPoint)`,
  /// the integer difference converted, then the product), then exactly the float definition. A map of int8
  /// values is a quarter of the float one's memory (Mask2Former's value projection writes it from its epilogue).
  public static func runInt8(value: UnsafePointer<Int8>, scale: Float, zeroPoint: Int32, shapes: [(height: Int, width: Int)], heads: Int,
                             headDim hd: Int, locations: UnsafePointer<Float>, weights: UnsafePointer<Float>, queries: Int, points: Int,
                             out: UnsafeMutablePointer<Float>, threads: Int, kernel: AttentionKernel) {
    inChunks(shapes: shapes, queries: queries, threads: threads) { range, starts, hs, ws, ss in
      if kernel == .avx512 {
        es_msda_qs8__avx512(range.lowerBound, range.upperBound, heads, hd, shapes.count, points, value, scale, zeroPoint, hs, ws, ss, locations,
                            weights, out)
      } else if kernel == .avx2 {
        es_msda_qs8__avx2(range.lowerBound, range.upperBound, heads, hd, shapes.count, points, value, scale, zeroPoint, hs, ws, ss, locations,
                          weights, out)
      } else {
        sample(value: value, load: { scale * Float(Int32($0[$1]) - zeroPoint) }, shapes: shapes, starts: starts, heads: heads, headDim: hd,
               locations: locations, weights: weights, queries: range, points: points, out: out)
      }
    }
  }

  @inline(__always)
  static func sample<T>(value: UnsafePointer<T>, load: (UnsafePointer<T>, Int) -> Float, shapes: [(height: Int, width: Int)], starts: [Int],
                        heads: Int, headDim hd: Int, locations: UnsafePointer<Float>, weights: UnsafePointer<Float>, queries range: Range<Int>,
                        points: Int, out: UnsafeMutablePointer<Float>) {
    let levels = shapes.count, width = heads * hd
    for q in range {
      for m in 0..<heads {
        let o = out + q * width + m * hd
        for c in 0..<hd { o[c] = 0 }
        for l in 0..<levels {
          let (h, w) = shapes[l], base = value + starts[l] * width + m * hd
          for p in 0..<points {
            let i = ((q * heads + m) * levels + l) * points + p
            let a = weights[i], locX = locations[2 * i], locY = locations[2 * i + 1]
            let gx = 2 * locX - 1, gy = 2 * locY - 1
            let x = Float(-0.5).addingProduct(gx + 1, Float(w) / 2)
            let y = Float(-0.5).addingProduct(gy + 1, Float(h) / 2)
            let fx = x.rounded(.down), fy = y.rounded(.down)
            let wx = x - fx, ex = 1 - wx, ny = y - fy, sy = 1 - ny
            let nw = sy * ex, ne = sy * wx, sw = ny * ex, se = ny * wx
            // Corners, or nil outside the map (zeros padding). fx, fy are integral; far-away points clamp
            // before the conversion so that it cannot overflow.
            let x0 = Int(Swift.max(-2, Swift.min(fx, Float(w + 1)))), y0 = Int(Swift.max(-2, Swift.min(fy, Float(h + 1))))
            func at(_ yy: Int, _ xx: Int) -> UnsafePointer<T>? {
              yy >= 0 && yy < h && xx >= 0 && xx < w ? base + (yy * w + xx) * width : nil
            }
            let pnw = at(y0, x0), pne = at(y0, x0 + 1), psw = at(y0 + 1, x0), pse = at(y0 + 1, x0 + 1)
            for c in 0..<hd {
              var v = (pnw.map { load($0, c) } ?? 0) * nw
              v = v.addingProduct(pne.map { load($0, c) } ?? 0, ne)
              v = v.addingProduct(psw.map { load($0, c) } ?? 0, sw)
              v = v.addingProduct(pse.map { load($0, c) } ?? 0, se)
              o[c] = o[c] + a * v
            }
          }
        }
      }
    }
  }
}
