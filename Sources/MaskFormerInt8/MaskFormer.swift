// MaskFormer: MaskFormerForInstanceSegmentation as a composition of its blocks; no math here.

/// What the model returns: `class_queries_logits [Q, K+1]` and `masks_queries_logits [Q, h, w]`
/// with h, w = ceil(H/4), ceil(W/4) of the input.
public struct MaskFormerOutput: Sendable {
  public var classLogits: [Float]
  public var maskLogits: [Float]
  public var numQueries: Int
  public var numClasses: Int
  public var maskHeight: Int
  public var maskWidth: Int
}

public struct MaskFormer {
  public let config: MaskFormerConfig
  public let backbone: SwinBackbone
  public let pixelDecoder: PixelDecoder
  public let transformer: TransformerModule
  public let heads: Heads

  public init(config: MaskFormerConfig, backbone: SwinBackbone, pixelDecoder: PixelDecoder,
              transformer: TransformerModule, heads: Heads) {
    self.config = config
    self.backbone = backbone
    self.pixelDecoder = pixelDecoder
    self.transformer = transformer
    self.heads = heads
  }

  /// pixelValues: one preprocessed image `[3, H, W]` (NCHW floats, any H and W).
  public func callAsFunction(pixelValues: [Float], height: Int, width: Int, in ctx: InferenceContext) -> MaskFormerOutput {
    let features = ctx.span("backbone", "stage") { backbone(pixelValues, height: height, width: width, in: ctx) }
    let pixelEmbeddings = ctx.span("pixel_decoder", "stage", shape: { [$0.height, $0.width, $0.channels] }) { pixelDecoder(features, in: ctx) }
    let queries = ctx.span("transformer", "stage") { transformer(features[features.count - 1], in: ctx) }
    let (classes, masks) = ctx.span("heads", "stage") { heads(queries, pixelEmbeddings: pixelEmbeddings, in: ctx) }
    return MaskFormerOutput(classLogits: classes, maskLogits: masks, numQueries: config.detr.numQueries,
                            numClasses: config.numLabels + 1, maskHeight: pixelEmbeddings.height,
                            maskWidth: pixelEmbeddings.width)
  }
}
