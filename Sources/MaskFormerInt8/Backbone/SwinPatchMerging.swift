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
  /// the concat order is (row, col) offsets (0,0), (1,0), (0,1), (1,1). Streamed in bands of output
  /// rows (at most `ctx.tokenChunk` tokens): the 4C concat exists for one band at a time.
  func callAsFunction(_ x: FeatureMap, in ctx: InferenceContext) -> FeatureMap {
    let (h, w, c) = (x.height, x.width, x.channels)
    let ho = (h + 1) / 2, wo = (w + 1) / 2
    let offsets = [(0, 0), (1, 0), (0, 1), (1, 1)]
    var out = FeatureMap(height: ho, width: wo, channels: reduction.outFeatures, in: ctx.arena)
    let bandRows = Swift.max(1, Swift.min(ho, ctx.tokenChunk / wo))
    for first in stride(from: 0, to: ho, by: bandRows) {
      let rows = Swift.min(bandRows, ho - first)
      var cat = ctx.zeros(rows * wo * 4 * c)
      if !ctx.isDryRun { x.data.withUnsafeBufferPointer { xb in
        cat.withUnsafeMutableBufferPointer { cb in
          for i in first..<(first + rows) {
            for j in 0..<wo {
              for (part, (dy, dx)) in offsets.enumerated() {
                let y = 2 * i + dy, xx = 2 * j + dx
                guard y < h && xx < w else { continue }
                (cb.baseAddress! + (((i - first) * wo + j) * 4 + part) * c).update(from: xb.baseAddress! + (y * w + xx) * c, count: c)
              }
            }
          }
        }
      }}
      let normed = norm(cat, rows: rows * wo, in: ctx)
      let y = reduction(normed, rows: rows * wo, in: ctx)
      if !ctx.isDryRun { out.data.withUnsafeMutableBufferPointer { ob in
        y.withUnsafeBufferPointer { (ob.baseAddress! + first * wo * out.channels).update(from: $0.baseAddress!, count: y.count) }
      }}
    }
    return out
  }
}

extension SwinPatchMerging {
  /// `<encoder>.model.encoder.layers.{stage}.downsample`: `norm` (4C) and `reduction` (4C → 2C, no bias).
  init(_ p: ModulePath, channels c: Int, from source: any TensorSource) throws {
    self.init(norm: try source.layerNorm(p.child("norm"), 4 * c), reduction: try source.linear(p.child("reduction"), out: 2 * c, in: 4 * c, bias: false))
  }
}
