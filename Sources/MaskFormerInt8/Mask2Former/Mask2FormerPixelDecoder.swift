// Mask2Former's pixel decoder (issue 21; mask2former-spec.md §3): input projections with GroupNorm on the
// backbone's three coarsest maps, sine position plus level embeddings, the deformable-attention encoder
// over the three levels' tokens, then one FPN level at stride 4 (lateral 1×1 + GroupNorm, plus the
// stride-8 encoder output resized bilinearly, 3×3 + GroupNorm + ReLU) and the 1×1 mask projection.
// Mirrors Mask2FormerPixelDecoder (transformers, modeling_mask2former.py).
import Kernels

public struct Mask2FormerPixelDecoder {
  /// `input_projections.{l}`: 1×1 conv with bias and GroupNorm, l = 0, 1, 2 on strides 32, 16, 8.
  public let inputProjections: [(conv: Conv2d, norm: GroupNorm)]
  /// `level_embed` `[3, D]`, added to the position of level l's tokens.
  public let levelEmbed: WeightTensor
  public let layers: [DeformableEncoderLayer]
  /// `adapter_1`: the stride-4 lateral (1×1 conv without bias, GroupNorm).
  public let lateral: (conv: Conv2d, norm: GroupNorm)
  /// `layer_1`: 3×3 conv without bias, GroupNorm, ReLU.
  public let output: (conv: Conv2d, norm: GroupNorm)
  /// `mask_projection`: 1×1 conv with bias.
  public let maskProjection: Conv2d

  /// The multi-scale maps (strides 32, 16, 8: the transformer decoder's memory) and the stride-4 mask
  /// features, from the backbone's maps at strides 4, 8, 16, 32 (taken and freed as they are used). An
  /// observer sees them as `pixel_decoder.level{l}` and `pixel_decoder.mask_features`.
  func callAsFunction(_ features: consuming [FeatureMap], in ctx: InferenceContext) -> (levels: [FeatureMap], maskFeatures: FeatureMap) {
    var pending = consume features
    precondition(pending.count == 4, "Mask2Former pixel decoder: \(pending.count) backbone maps, expected 4")
    let d = levelEmbed.shape[1], nl = inputProjections.count
    // Input projections, written straight into the token sequence (level 0 = stride 32 first).
    var projected: [FeatureMap] = []
    for p in inputProjections {
      var e = p.conv(pending.removeLast(), in: ctx)
      p.norm(&e, relu: false, in: ctx)
      projected.append(e)
    }
    let levels = DeformableLevels(heights: projected.map(\.height), widths: projected.map(\.width))
    let s = levels.tokens
    var x = ctx.floats(s * d) { xb in
      guard !ctx.isDryRun else { return }
      var at = 0
      for e in projected {
        e.data.withUnsafeBufferPointer { (xb.baseAddress! + at).update(from: $0.baseAddress!, count: $0.count) }
        at += e.data.count
      }
    }
    projected = []
    let position = ctx.floats(s * d) { pb in
      guard !ctx.isDryRun else { return }
      for l in 0..<nl {
        let sine = SinePositionEmbedding.embedding(height: levels.heights[l], width: levels.widths[l], features: d / 2)
        let base = pb.baseAddress! + levels.start(l) * d, embed = levelEmbed.pointer + l * d
        sine.withUnsafeBufferPointer { sb in
          for t in 0..<(levels.heights[l] * levels.widths[l]) {
            for c in 0..<d { base[t * d + c] = sb[t * d + c] + embed[c] }
          }
        }
      }
    }
    for (i, layer) in layers.enumerated() {
      ctx.begin("pixel_decoder.encoder.layers.\(i)", "block")
      layer(&x, position: position, levels: levels, in: ctx)
      ctx.end("pixel_decoder.encoder.layers.\(i)", "block", shape: [s, d])
    }
    // Back to maps (channels last: level l's tokens already are its H_l × W_l × D map).
    let maps = (0..<nl).map { l in
      let (h, w) = (levels.heights[l], levels.widths[l]), first = levels.start(l) * d
      return FeatureMap(height: h, width: w, channels: d, in: ctx.arena) { ob in
        guard !ctx.isDryRun else { return }
        x.withUnsafeBufferPointer { ob.baseAddress!.update(from: $0.baseAddress! + first, count: h * w * d) }
      }
    }
    for (l, m) in maps.enumerated() { ctx.record("pixel_decoder.level\(l)", m) }
    _ = consume x
    // The stride-4 level: lateral + bilinear(stride-8 output), 3×3 conv + GroupNorm + ReLU, mask projection.
    ctx.begin("pixel_decoder.layer_1", "block")
    var y = lateral.conv(pending.removeLast(), in: ctx)
    lateral.norm(&y, relu: false, in: ctx)
    addBilinear(maps[nl - 1], into: &y)
    y = output.conv(consume y, in: ctx)
    output.norm(&y, relu: true, in: ctx)
    ctx.end("pixel_decoder.layer_1", "block", shape: [y.height, y.width, y.channels])
    let maskFeatures = maskProjection(consume y, in: ctx)
    ctx.record("pixel_decoder.mask_features", maskFeatures)
    return (maps, maskFeatures)
  }
}

extension Mask2FormerPixelDecoder {
  /// `model.pixel_level_module.decoder`.
  init(_ p: ModulePath, _ c: Mask2FormerConfig, from source: any TensorSource) throws {
    let d = c.hiddenDim, s = c.swin, nl = Mask2FormerConfig.levels
    inputProjections = try (0..<nl).map { l in
      let q = p.child("input_projections").child(l)
      return (try source.conv(q.child(0), out: d, in: s.channels(stage: s.stageCount - 1 - l), kernel: 1, bias: true),
              try source.groupNorm(q.child(1), d))
    }
    levelEmbed = try source.tensor(p.key("level_embed"), shape: [nl, d])
    layers = try (0..<c.encoderLayers).map { try DeformableEncoderLayer(p.child("encoder.layers").child($0), c, from: source) }
    lateral = (try source.conv(p.child("adapter_1").child(0), out: d, in: s.channels(stage: 0), kernel: 1, bias: false),
               try source.groupNorm(p.child("adapter_1").child(1), d))
    output = (try source.conv(p.child("layer_1").child(0), out: d, in: d, kernel: 3, bias: false),
              try source.groupNorm(p.child("layer_1").child(1), d))
    maskProjection = try source.conv(p.child("mask_projection"), out: d, in: d, kernel: 1, bias: true)
  }
}
