// PixelDecoder: simple FPN over the four backbone features, then the mask projection to pixel
// embeddings. Mirrors MaskFormerFPNModel and MaskFormerPixelDecoder (transformers, modeling_maskformer.py).

public struct PixelDecoder {
  /// `fpn.stem`: conv layer on the stride-32 feature.
  public let stem: FPNConvLayer
  /// `fpn.layers.{0,1,2}`: strides 16, 8, 4 (in that order).
  public let layers: [FPNLayer]
  /// `mask_projection`: 3×3 conv with bias, no activation.
  public let maskProjection: Conv2d

  public init(stem: FPNConvLayer, layers: [FPNLayer], maskProjection: Conv2d) {
    self.stem = stem
    self.layers = layers
    self.maskProjection = maskProjection
  }

  /// features: strides 4, 8, 16, 32 → pixel embeddings `H/4 × W/4 × M`. Each feature is taken out of
  /// the array when its level runs, so that it is freed there (if the caller handed the array over).
  func callAsFunction(_ features: consuming [FeatureMap], in ctx: InferenceContext) -> FeatureMap {
    precondition(features.count == layers.count + 1, "PixelDecoder: \(features.count) features for \(layers.count) layers")
    var pending = consume features
    ctx.profiler?.begin("pixel_decoder.fpn.stem", kind: "block")
    var y = stem(pending.removeLast(), in: ctx)
    ctx.profiler?.end(shape: [y.height, y.width, y.channels])
    for (i, layer) in layers.enumerated() {
      ctx.profiler?.begin("pixel_decoder.fpn.layers.\(i)", kind: "block")
      y = layer(down: consume y, left: pending.removeLast(), in: ctx)
      ctx.profiler?.end(shape: [y.height, y.width, y.channels])
      ctx.record("pixel_decoder.fpn\(i)", y)
    }
    let embeddings = ctx.conv(consume y, maskProjection)
    ctx.record("pixel_decoder.pixel_embeddings", embeddings)
    return embeddings
  }
}
