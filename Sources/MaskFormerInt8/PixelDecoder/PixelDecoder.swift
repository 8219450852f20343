// PixelDecoder: simple FPN over the backbone features, then the mask projection to pixel embeddings.
// Mirrors MaskFormerFPNModel and MaskFormerPixelDecoder (transformers, modeling_maskformer.py). It runs
// the coarse levels; the stride-4 level and the mask projection run in MaskDecoder, after the
// transformer, where they stream straight into the mask logits.
import Kernels

public struct PixelDecoder {
  /// `fpn.stem`: conv layer on the coarsest feature (stride 32 with four Swin stages).
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

  /// The FPN levels at strides 32, 16 and 8 (all but the last layer, which `MaskDecoder` runs). Takes the features (strides 4,
  /// 8, 16, 32) and frees each after its level; returns the stride-8 map and the stride-4 feature.
  func coarseLevels(_ features: consuming StageFeatures, in ctx: InferenceContext) -> (down: FeatureMap, left: StageFeature) {
    precondition(features.count == layers.count + 1, "PixelDecoder: \(features.count) features for \(layers.count) layers")
    var pending = consume features
    ctx.begin("pixel_decoder.fpn.stem", "block")
    guard case .float(let top) = pending.removeLast() else { preconditionFailure("the coarsest feature is read in float") }
    var y = stem(top, in: ctx)
    ctx.end("pixel_decoder.fpn.stem", "block", shape: [y.height, y.width, y.channels])
    for (i, layer) in layers.enumerated().dropLast() {
      ctx.begin("pixel_decoder.fpn.layers.\(i)", "block")
      y = layer(down: consume y, left: pending.removeLast(), in: ctx)
      ctx.end("pixel_decoder.fpn.layers.\(i)", "block", shape: [y.height, y.width, y.channels])
      ctx.record("pixel_decoder.fpn\(i)", y)
    }
    return (y, pending.removeLast())
  }
}

extension FeatureMap {
  /// Rows `r` of this map as a map of their own.
  func rows(_ r: Range<Int>) -> FeatureMap {
    let row = width * channels
    return FeatureMap(height: r.count, width: width, channels: channels,
                      data: data.withUnsafeBufferPointer { src in
                        ArenaArray(unsafeUninitializedCount: r.count * row, in: data.arena) {
                          if data.isDryRun { return }
                          $0.baseAddress!.update(from: src.baseAddress! + r.lowerBound * row, count: r.count * row)
                        }
                      })
  }
}

extension PixelDecoder {
  /// `model.pixel_level_module.decoder`: `fpn.stem`, `fpn.layers.{0...}` (the lateral of the second-
  /// coarsest stage first, stage 0's last), `mask_projection`.
  init(_ p: ModulePath, _ c: MaskFormerConfig, from source: any TensorSource) throws {
    let f = c.fpnFeatureSize, s = c.swin
    let stem = try FPNConvLayer(p.child("fpn.stem"), out: f, in: s.lastChannels, from: source)
    let layers = try (0..<s.stageCount - 1).map {
      try FPNLayer(p.child("fpn.layers").child($0), features: f, lateral: s.channels(stage: s.stageCount - 2 - $0), from: source)
    }
    self.init(stem: stem, layers: layers,
              maskProjection: try source.conv(p.child("mask_projection"), out: c.maskFeatureSize, in: f, kernel: 3, bias: true))
  }
}
