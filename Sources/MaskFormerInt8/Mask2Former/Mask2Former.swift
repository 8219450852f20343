// Mask2Former (issue 21): `Mask2FormerForUniversalSegmentation` composed from its blocks, each declaring
// its own tensors (the `init(_:_:from:)` in its file): backbone, pixel decoder, transformer module (masked-
// attention decoder and heads). Post-processing, int8 and streaming follow.

public struct Mask2Former {
  public let config: Mask2FormerConfig
  public let backbone: Mask2FormerBackbone
  public let pixelDecoder: Mask2FormerPixelDecoder
  public let transformer: Mask2FormerTransformerModule

  public init(config: Mask2FormerConfig, from source: any TensorSource) throws {
    self.config = config
    backbone = try Mask2FormerBackbone(config: config, from: source)
    pixelDecoder = try Mask2FormerPixelDecoder(ModulePath("model.pixel_level_module.decoder"), config, from: source)
    transformer = try Mask2FormerTransformerModule(ModulePath("model.transformer_module"), config, from: source)
  }

  /// pixelValues `[3, H, W]` → class logits `Q × (K+1)` and mask logits `Q × maskHeight·maskWidth` (stride 4).
  public func callAsFunction(pixelValues: [Float], height: Int, width: Int, in ctx: InferenceContext)
    -> (classes: ArenaArray<Float>, masks: ArenaArray<Float>, maskHeight: Int, maskWidth: Int) {
    let (levels, maskFeatures) = pixelLevel(pixelValues: pixelValues, height: height, width: width, in: ctx)
    let (classes, masks) = transformer(levels: levels, maskFeatures: maskFeatures, in: ctx)
    return (classes, masks, maskFeatures.height, maskFeatures.width)
  }

  /// pixelValues `[3, H, W]` → the multi-scale maps (strides 32, 16, 8) and the stride-4 mask features.
  public func pixelLevel(pixelValues: [Float], height: Int, width: Int, in ctx: InferenceContext) -> (levels: [FeatureMap], maskFeatures: FeatureMap) {
    pixelDecoder(backbone(pixelValues: pixelValues, height: height, width: width, in: ctx), in: ctx)
  }
}
