// Mask2Former's pixel decoder (issue 21; mask2former-spec.md §3): input projections with GroupNorm on the
// backbone's three coarsest maps, sine position plus level embeddings, the deformable-attention encoder
// over the three levels' tokens, then one FPN level at stride 4 (lateral 1×1 + GroupNorm, plus the
// stride-8 encoder output resized bilinearly, 3×3 + GroupNorm + ReLU) and the 1×1 mask projection.
// Mirrors Mask2FormerPixelDecoder (transformers, modeling_mask2former.py).
import Kernels
import Quant

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
  /// observer sees them as `pixel_decoder.level{l}` and `pixel_decoder.mask_features` (whole maps only).
  /// With `ctx.bandRows` below the stride-4 height, that level is streamed in bands (`streamedMaskFeatures`).
  func callAsFunction(_ features: consuming StageFeatures, in ctx: InferenceContext) -> (levels: [FeatureMap], maskFeatures: MaskFeatures) {
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
    let position = DeformablePositions(levels: levels, features: d, levelEmbed: levelEmbed.pointer)
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
    let left = pending.removeLast()
    if ctx.bandRows < left.height { return (maps, streamedMaskFeatures(left, down: maps[nl - 1], in: ctx)) }
    ctx.begin("pixel_decoder.layer_1", "block")
    var y = lateral.conv(consume left, in: ctx)
    lateral.norm(&y, relu: false, in: ctx)
    addBilinear(maps[nl - 1], into: &y)
    y = output.conv(consume y, in: ctx)
    output.norm(&y, relu: true, in: ctx)
    ctx.end("pixel_decoder.layer_1", "block", shape: [y.height, y.width, y.channels])
    let maskFeatures = maskProjection(consume y, in: ctx)
    ctx.record("pixel_decoder.mask_features", maskFeatures)
    return (maps, MaskFeatures(whole: maskFeatures))
  }

  /// The stride-4 level streamed in bands of `ctx.bandRows` rows, as MaskFormer's mask decoder streams its own:
  /// its 256-channel float maps exist a band (plus halo) at a time; the GroupNorms' statistics come first, so
  /// the lateral conv runs three times and the 3×3 conv twice. What is kept is the mask projection's input
  /// (int8 when the projection is), from which the transformer module's predictions make the features of
  /// the rows they read (`MaskFeatures`). The same values as the whole maps.
  private func streamedMaskFeatures(_ left: consuming StageFeature, down: borrowing FeatureMap, in ctx: InferenceContext) -> MaskFeatures {
    let (h, w, d) = (left.height, left.width, output.conv.outChannels)
    let bands = MaskFormerInt8.bands(height: h, rows: ctx.bandRows)
    let source = (consume left).quantized(for: lateral.conv, in: ctx)
    ctx.begin("pixel_decoder.layer_1", "block")
    func laterals(_ rows: Range<Int>) -> FeatureMap { lateral.conv.rows(rows, of: source, in: ctx) }
    let lateralNorm = lateral.norm.statistics(over: bands, in: ctx, laterals)
    func merged(_ rows: Range<Int>) -> FeatureMap {
      var m = laterals(rows)
      lateral.norm.apply(lateralNorm, to: &m, relu: false, in: ctx)
      addBilinear(down, into: &m, firstRow: rows.lowerBound, mapHeight: h)
      return m
    }
    func conv(_ rows: Range<Int>) -> FeatureMap {
      let input = RowWindow.inputRows(for: rows, kernel: output.conv.kernelSize, mapHeight: h)
      return output.conv(merged(input), window: RowWindow(first: input.lowerBound, mapHeight: h, output: rows), in: ctx)
    }
    let outputNorm = output.norm.statistics(over: bands, in: ctx, conv)
    func normed(_ rows: Range<Int>) -> FeatureMap {
      var y = conv(rows)
      output.norm.apply(outputNorm, to: &y, relu: true, in: ctx)
      return y
    }
    let kept: StageFeature
    if let q = maskProjection.quantized {
      let stride = (d + 3) / 4 * 4
      kept = .quantized(QuantizedMap(data: ArenaArray(rows: h * w, k: d, stride: stride, extra: stride, fill: Int8(clamping: q.input.zeroPoint), in: ctx) { a in
        for rows in bands {
          let y = normed(rows)
          guard !ctx.isDryRun else { continue }
          y.data.withUnsafeBufferPointer {
            ActivationQuantizer.quantizeRows($0.baseAddress!, rows: y.pixels, k: d, xStride: d, q.input, into: a + rows.lowerBound * w * stride,
                                             qStride: stride, threads: ctx.threads, kernel: ctx.kernels.quantize)
          }
        }
      }, height: h, width: w, stride: stride, params: q.input))
    } else {
      kept = .float(FeatureMap(height: h, width: w, channels: d, in: ctx.arena) { m in
        for rows in bands {
          let y = normed(rows)
          guard !ctx.isDryRun else { continue }
          y.data.withUnsafeBufferPointer { (m.baseAddress! + rows.lowerBound * w * d).update(from: $0.baseAddress!, count: $0.count) }
        }
      })
    }
    ctx.end("pixel_decoder.layer_1", "block", shape: [h, w, d])
    return MaskFeatures(input: kept, projection: maskProjection)
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
