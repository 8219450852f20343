// SinePositionEmbedding: DETR's normalized 2-D sine embedding without a mask. Mirrors
// MaskFormerSinePositionEmbedding (transformers, modeling_maskformer.py) with normalize=True, scale 2π.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum SinePositionEmbedding {
  /// `(H·W) × 2F` row-major tokens: `[PY_0..PY_{F−1}, PX_0..PX_{F−1}]` with
  /// `ŷ = (i+1)/(H + 1e-6)·2π`, `τ_k = 10000^(2⌊k/2⌋/F)`, `PY_k = sin(ŷ/τ_k)` (k even) or `cos` (k odd).
  static func embedding(height: Int, width: Int, features f: Int, temperature: Float = 10000, in arena: Arena? = nil) -> ArenaArray<Float> {
    let scale = 2 * Float.pi, eps: Float = 1e-6
    var dimT = [Float](repeating: 0, count: f)
    for k in 0..<f { dimT[k] = powf(temperature, Float(2 * (k / 2)) / Float(f)) }
    // Separable: PY depends on the row only and PX on the column only, so each is computed once per row or
    // column (H + W sines per feature instead of H·W: at Mask2Former's stride 8 on a 512×512 image, 2.7 million
    // libm calls and ~25 ms per forward) and copied into the tokens. The same expressions, the same bits.
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
    let dry = arena?.isDryRun == true
    let py = dry ? [] : table(height), px = dry ? [] : table(width)
    let out = ArenaArray<Float>(unsafeUninitializedCount: height * width * 2 * f, in: arena) { out in
      guard !dry else { return }
      py.withUnsafeBufferPointer { yb in px.withUnsafeBufferPointer { xb in
        for i in 0..<height {
          for j in 0..<width {
            let row = out.baseAddress! + (i * width + j) * 2 * f
            row.update(from: yb.baseAddress! + i * f, count: f)
            (row + f).update(from: xb.baseAddress! + j * f, count: f)
          }
        }
      }}
    }
    return out
  }
}
