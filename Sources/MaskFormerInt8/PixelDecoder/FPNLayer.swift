// FPN layers of the pixel decoder. Mirrors MaskFormerFPNConvLayer (conv3×3 no bias → GroupNorm(32) → ReLU)
// and MaskFormerFPNLayer (lateral conv1×1 no bias → GroupNorm, NO ReLU; nearest-upsampled top-down path
// added; then a conv layer) from transformers, modeling_maskformer.py.

public struct FPNConvLayer {
  public let conv: Conv2d
  public let norm: GroupNorm

  public init(conv: Conv2d, norm: GroupNorm) {
    self.conv = conv
    self.norm = norm
  }

  func callAsFunction(_ x: FeatureMap, in ctx: InferenceContext) -> FeatureMap {
    var y = ctx.conv(x, conv)
    ctx.groupNorm(&y, norm, relu: true)
    return y
  }
}

public struct FPNLayer {
  /// `proj.0` (1×1 conv) and `proj.1` (GroupNorm).
  public let projection: Conv2d
  public let projectionNorm: GroupNorm
  public let block: FPNConvLayer

  public init(projection: Conv2d, projectionNorm: GroupNorm, block: FPNConvLayer) {
    self.projection = projection
    self.projectionNorm = projectionNorm
    self.block = block
  }

  /// down: the coarser FPN map; left: the backbone feature at this stride.
  func callAsFunction(down: FeatureMap, left: FeatureMap, in ctx: InferenceContext) -> FeatureMap {
    var lateral = ctx.conv(left, projection)
    ctx.groupNorm(&lateral, projectionNorm, relu: false)
    let merged = ctx.span(projection.name + ".merge", "resize+add", bytes: 12 * lateral.data.count,
                          shape: { [$0.height, $0.width, $0.channels] }) {
      var merged = nearestResize(down, height: lateral.height, width: lateral.width)
      for i in merged.data.indices { merged.data[i] += lateral.data[i] }
      return merged
    }
    return block(merged, in: ctx)
  }
}
