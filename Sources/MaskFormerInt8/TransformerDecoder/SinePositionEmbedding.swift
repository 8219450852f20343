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
      let scale = 2 * Float.pi, eps: Float = 1e-6
      var dimT = [Float](repeating: 0, count: f)
      for k in 0..<f { dimT[k] = powf(temperature, Float(2 * (k / 2)) / Float(f)) }
      func table(_ n: Int) -> [Float] {
        var t = [Float](repeating: 0, count: n * f)
        for i in 0..<n {
          let y = Float(i + 1) / (Float(n) + eps) * scale
          for k in 0..<f {
            let v = y / dimT[k]
            t[i * f + k] = k % 2 == 0 ? sinf(v) : cosf(v)
          }
        }
        return t
      }
      (self.height, self.width, features) = (height, width, f)
      (py, px) = (table(height), table(width))
    }

    /// Tokens `t0 ..< t0 + count` (row-major, 2F floats each) into `out`.
    func tokens(_ t0: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
      let f = features
      py.withUnsafeBufferPointer { yb in px.withUnsafeBufferPointer { xb in
        for t in t0..<(t0 + count) {
          let row = out + (t - t0) * 2 * f
          row.update(from: yb.baseAddress! + (t / width) * f, count: f)
          (row + f).update(from: xb.baseAddress! + (t % width) * f, count: f)
        }
      }}
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
    if arena?.isDryRun == true {
      return ArenaArray<Float>(unsafeUninitializedCount: height * width * 2 * f, in: arena) { _ in }
    }
    return Tables(height: height, width: width, features: f, temperature: temperature).embedding(in: arena)
  }
}
