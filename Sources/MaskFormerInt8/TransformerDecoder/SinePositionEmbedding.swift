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
    var out = ArenaArray(repeating: Float(0), count: height * width * 2 * f, in: arena)
    if !out.isDryRun { out.withUnsafeMutableBufferPointer { out in
    for i in 0..<height {
      let y = Float(i + 1) / (Float(height) + eps) * scale
      for j in 0..<width {
        let x = Float(j + 1) / (Float(width) + eps) * scale
        let row = (i * width + j) * 2 * f
        for k in 0..<f {
          let py = y / dimT[k], px = x / dimT[k]
          out[row + k] = k % 2 == 0 ? sinf(py) : cosf(py)
          out[row + f + k] = k % 2 == 0 ? sinf(px) : cosf(px)
        }
      }
    }
    }}
    return out
  }
}
