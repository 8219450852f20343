// SinePositionEmbedding: DETR's normalized 2-D sine embedding without a mask. Mirrors
// MaskFormerSinePositionEmbedding (transformers, modeling_maskformer.py) with normalize=True, scale 2π.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum SinePositionEmbedding {
  /// The two tables a `height × width` embedding is made of: `PY` per row and `PX` per column (F values each).
  /// Separable: PY depends on the row only and PX on the column only, so each is computed once per row or
  /// column (H + W sines per feature instead of H·W: at Mask2Former's stride 8 on a 512×512 image, 2.7 million
  /// libm calls and ~25 ms per forward) and copied into the tokens. The same expressions, the same bits.
  struct Tables {
    let height: Int, width: Int, features: Int
    let py: [Float], px: [Float]

    init(height: Int, width: Int, features f: Int, temperature: Float = 10000) {
      var py = [Float](repeating: 0, count: height * f), px = [Float](repeating: 0, count: width * f)
      py.withUnsafeMutableBufferPointer { yb in px.withUnsafeMutableBufferPointer { xb in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: f) { dimT in
          Self.fill(height: height, width: width, features: f, temperature: temperature, dimT: dimT.baseAddress!, py: yb.baseAddress!,
                    px: xb.baseAddress!)
        }
      }}
      (self.height, self.width, features, self.py, self.px) = (height, width, f, py, px)
    }

    /// The tables into `py` (H·F floats) and `px` (W·F), with `dimT` (F floats) for τ.
    static func fill(height: Int, width: Int, features f: Int, temperature: Float, dimT: UnsafeMutablePointer<Float>,
                     py: UnsafeMutablePointer<Float>, px: UnsafeMutablePointer<Float>) {
      let scale = 2 * Float.pi, eps: Float = 1e-6
      for k in 0..<f { dimT[k] = powf(temperature, Float(2 * (k / 2)) / Float(f)) }
      func table(_ n: Int, _ t: UnsafeMutablePointer<Float>) {
        for i in 0..<n {
          let y = Float(i + 1) / (Float(n) + eps) * scale
          for k in 0..<f {
            let v = y / dimT[k]
            t[i * f + k] = k % 2 == 0 ? sinf(v) : cosf(v)
          }
        }
      }
      table(height, py)
      table(width, px)
    }

    /// Tokens `t0 ..< t0 + count` (row-major, 2F floats each) into `out`.
    func tokens(_ t0: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
      py.withUnsafeBufferPointer { yb in px.withUnsafeBufferPointer { xb in
        Self.tokens(t0, count: count, py: yb.baseAddress!, px: xb.baseAddress!, width: width, features: features, into: out)
      }}
    }

    /// Tokens `t0 ..< t0 + count` of the tables `py` and `px` of a map `width` tokens wide into `out`.
    static func tokens(_ t0: Int, count: Int, py: UnsafePointer<Float>, px: UnsafePointer<Float>, width: Int, features f: Int,
                       into out: UnsafeMutablePointer<Float>) {
      for t in t0..<(t0 + count) {
        let row = out + (t - t0) * 2 * f
        row.update(from: py + (t / width) * f, count: f)
        (row + f).update(from: px + (t % width) * f, count: f)
      }
    }

    /// The whole `(H·W) × 2F` embedding.
    func embedding(in arena: Arena?) -> ArenaArray<Float> {
      ArenaArray<Float>(unsafeUninitializedCount: height * width * 2 * features, in: arena) { out in
        guard arena?.isDryRun != true else { return }
        tokens(0, count: height * width, into: out.baseAddress!)
      }
    }
  }

  /// `(H·W) × 2F` row-major tokens: `[PY_0..PY_{F−1}, PX_0..PX_{F−1}]` with
  /// `ŷ = (i+1)/(H + 1e-6)·2π`, `τ_k = 10000^(2⌊k/2⌋/F)`, `PY_k = sin(ŷ/τ_k)` (k even) or `cos` (k odd).
  static func embedding(height: Int, width: Int, features f: Int, temperature: Float = 10000, in arena: Arena? = nil) -> ArenaArray<Float> {
    // The tables in the arena (their arrays were heap allocations per forward, issue 19), made in a dry run too.
    ArenaArray<Float>(unsafeUninitializedCount: height * width * 2 * f, in: arena) { out in
      var tables = ArenaArray<Float>(unsafeUninitializedCount: (1 + height + width) * f, in: arena) { _ in }
      guard arena?.isDryRun != true else { return }
      tables.withUnsafeMutableBufferPointer { tb in
        let dimT = tb.baseAddress!, py = dimT + f, px = py + height * f
        Tables.fill(height: height, width: width, features: f, temperature: temperature, dimT: dimT, py: py, px: px)
        Tables.tokens(0, count: height * width, py: py, px: px, width: width, features: f, into: out.baseAddress!)
      }
    }
  }
}
