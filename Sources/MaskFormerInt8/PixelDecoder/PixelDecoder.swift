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

  /// features: strides 4, 8, 16, 32 → pixel embeddings `H/4 × W/4 × M`.
  func callAsFunction(_ features: [FeatureMap], in ctx: InferenceContext) -> FeatureMap {
    precondition(features.count == layers.count + 1, "PixelDecoder: \(features.count) features for \(layers.count) layers")
    var y = ctx.span("pixel_decoder.fpn.stem", "block", shape: { [$0.height, $0.width, $0.channels] }) {
      stem(features[features.count - 1], in: ctx)
    }
    for (i, layer) in layers.enumerated() {
      y = ctx.span("pixel_decoder.fpn.layers.\(i)", "block", shape: { [$0.height, $0.width, $0.channels] }) {
        layer(down: y, left: features[features.count - 2 - i], in: ctx)
      }
      ctx.record("pixel_decoder.fpn\(i)", y)
    }
    let embeddings = ctx.conv(y, maskProjection)
    ctx.record("pixel_decoder.pixel_embeddings", embeddings)
    return embeddings
  }
}
