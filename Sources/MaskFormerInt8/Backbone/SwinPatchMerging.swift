// SwinPatchMerging: 2×2 neighbourhood concat + LayerNorm(4C) + Linear(4C → 2C, no bias).
// Mirrors MaskFormerSwinPatchMerging (transformers, modeling_maskformer_swin.py).

public struct SwinPatchMerging {
  public let norm: LayerNorm
  public let reduction: Linear

  public init(norm: LayerNorm, reduction: Linear) {
    self.norm = norm
    self.reduction = reduction
  }

  /// x: `H × W × C` → `ceil(H/2) × ceil(W/2) × 2C`. Odd sizes get a zero row/column (before the norm);
  /// the concat order is (row, col) offsets (0,0), (1,0), (0,1), (1,1).
  func callAsFunction(_ x: FeatureMap, in ctx: InferenceContext) -> FeatureMap {
    let (h, w, c) = (x.height, x.width, x.channels)
    let ho = (h + 1) / 2, wo = (w + 1) / 2
    var cat = [Float](repeating: 0, count: ho * wo * 4 * c)
    let offsets = [(0, 0), (1, 0), (0, 1), (1, 1)]
    for i in 0..<ho {
      for j in 0..<wo {
        for (part, (dy, dx)) in offsets.enumerated() {
          let y = 2 * i + dy, xx = 2 * j + dx
          guard y < h && xx < w else { continue }
          let src = (y * w + xx) * c, dst = ((i * wo + j) * 4 + part) * c
          for ch in 0..<c { cat[dst + ch] = x.data[src + ch] }
        }
      }
    }
    let normed = ctx.layerNorm(cat, rows: ho * wo, norm)
    return FeatureMap(height: ho, width: wo, channels: reduction.outFeatures,
                      data: ctx.linear(normed, rows: ho * wo, reduction))
  }
}
