// Mask2Former (issue 21): `Mask2FormerForUniversalSegmentation` composed from its blocks, each declaring
// its own tensors (the `init(_:_:from:)` in its file). So far the pixel-level module (backbone and pixel
// decoder); the masked-attention decoder and the heads follow.

public struct Mask2Former {
  public let config: Mask2FormerConfig
  public let backbone: Mask2FormerBackbone
  public let pixelDecoder: Mask2FormerPixelDecoder

  public init(config: Mask2FormerConfig, from source: any TensorSource) throws {
    self.config = config
    backbone = try Mask2FormerBackbone(config: config, from: source)
    pixelDecoder = try Mask2FormerPixelDecoder(ModulePath("model.pixel_level_module.decoder"), config, from: source)
  }

  /// pixelValues `[3, H, W]` → the multi-scale maps (strides 32, 16, 8) and the stride-4 mask features.
  public func pixelLevel(pixelValues: [Float], height: Int, width: Int, in ctx: InferenceContext) -> (levels: [FeatureMap], maskFeatures: FeatureMap) {
    pixelDecoder(backbone(pixelValues: pixelValues, height: height, width: width, in: ctx), in: ctx)
  }
}
