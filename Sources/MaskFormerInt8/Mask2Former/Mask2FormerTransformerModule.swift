// Mask2Former's transformer module (issue 21; mask2former-spec.md §4-5): learned queries and query
// positions, the masked-attention decoder cycling over the pixel decoder's three levels, a mask prediction
// before the first layer and after each (its attention mask, resized to the next layer's level, blocks
// what the previous prediction calls background), and the class head on the last state. Mirrors
// Mask2FormerTransformerModule, Mask2FormerMaskedAttentionDecoder and Mask2FormerMaskPredictor
// (transformers, modeling_mask2former.py).
import Kernels

public struct Mask2FormerTransformerModule {
  /// `queries_features.weight` `[Q, D]`: the initial query state (learned, not zeros).
  public let queryFeatures: WeightTensor
  /// `queries_embedder.weight` `[Q, D]`: the query position.
  public let queryEmbeddings: WeightTensor
  /// `level_embed.weight` `[3, D]`, added to each level's features (keys and values).
  public let levelEmbed: WeightTensor
  public let layers: [MaskedAttentionDecoderLayer]
  /// `decoder.layernorm`: applied to every state a prediction is made from, never to the carried state.
  public let layernorm: LayerNorm
  /// `class_predictor` and `decoder.mask_predictor.mask_embedder`.
  public let heads: Heads

  /// The level maps (strides 32, 16, 8) and the mask features → class logits `Q × (K+1)` and mask logits
  /// `Q × (H4·W4)`. An observer sees the carried states as `transformer.layer{j}` (`1 × Q × D`).
  func callAsFunction(levels: consuming [FeatureMap], maskFeatures: borrowing FeatureMap, in ctx: InferenceContext)
    -> (classes: ArenaArray<Float>, masks: ArenaArray<Float>) {
    let (nq, d) = (queryFeatures.shape[0], queryFeatures.shape[1]), nl = levels.count
    let sizes = levels.map { (height: $0.height, width: $0.width) }
    // The memory: each level's map plus its level embedding, added in place (the maps are not needed otherwise).
    var memory = levels.map(\.data)
    _ = consume levels
    // The mutable access runs in a dry run too: were a map still shared (an observer keeping it), both runs copy it.
    for l in 0..<nl {
      let e = levelEmbed.pointer + l * d
      memory[l].withUnsafeMutableBufferPointer { m in
        guard !ctx.isDryRun else { return }
        for t in 0..<(m.count / d) { for c in 0..<d { m[t * d + c] = m[t * d + c] + e[c] } }
      }
    }
    let positions = sizes.map { SinePositionEmbedding.embedding(height: $0.height, width: $0.width, features: d / 2, in: ctx.arena) }
    let queryPos = ArenaArray(UnsafeBufferPointer(start: queryEmbeddings.pointer, count: nq * d), in: ctx.arena)
    var h = ArenaArray(UnsafeBufferPointer(start: queryFeatures.pointer, count: nq * d), in: ctx.arena)
    ctx.record("transformer.layer0", FeatureMap(height: 1, width: nq, channels: d, data: h))
    var (masks, attentionMask) = predict(h, maskFeatures: maskFeatures, target: layers.isEmpty ? nil : sizes[0], in: ctx)
    for (j, layer) in layers.enumerated() {
      let l = j % nl
      h = ctx.span("transformer.decoder.layers.\(j)", "block", shape: { [$0.count / d, d] }) {
        layer(h, queryPos: queryPos, memory: memory[l], memoryPos: positions[l], mask: attentionMask!, in: ctx)
      }
      ctx.record("transformer.layer\(j + 1)", FeatureMap(height: 1, width: nq, channels: d, data: h))
      (masks, attentionMask) = predict(h, maskFeatures: maskFeatures, target: j + 1 < layers.count ? sizes[(j + 1) % nl] : nil, in: ctx)
    }
    let classes = heads.classPredictor(layernorm(h, rows: nq, in: ctx), rows: nq, in: ctx)
    return (classes, masks!)
  }

  /// `Mask2FormerMaskPredictor` on the state h: mask logits `M = mask_embedder(LN(h)) · mask_featuresᵀ`
  /// (`Q × H4·W4`), or (for a `target` level) only the next layer's attention mask: M resized bilinearly to the
  /// level's size, −∞ where `sigmoid(M) < 0.5`, 0 elsewhere and on rows that would be all −∞. The resize reads
  /// few of M's pixels when it shrinks by 4 or 8 (rows and columns 4d+1, 4d+2; 8d+3, 8d+4): only those are
  /// computed, each as the same dot product as in the whole M, so the mask is the same.
  private func predict(_ h: ArenaArray<Float>, maskFeatures: borrowing FeatureMap, target: (height: Int, width: Int)?, in ctx: InferenceContext)
    -> (masks: ArenaArray<Float>?, attentionMask: ArenaArray<Float>?) {
    let d = layernorm.channels, nq = h.count / d, (mh, mw) = (maskFeatures.height, maskFeatures.width)
    let e = heads.embeddings(layernorm(h, rows: nq, in: ctx), in: ctx)
    guard let target else {
      return (ctx.floats(nq * mh * mw) { MaskDecoder.einsum(e, queries: nq, maskFeatures, into: $0.baseAddress!, ldc: mh * mw, in: ctx) }, nil)
    }
    let (th, tw) = (target.height, target.width), s = th * tw
    let ys = LinearAxis(inSize: mh, outSize: th), xs = LinearAxis(inSize: mw, outSize: tw)
    let rows = ys.sources, cols = xs.sources
    // Halving reads every row and column: the features as they are (a copy of all of them cost ~3 ms a prediction).
    let gathered = rows.count == mh && cols.count == mw ? copy maskFeatures
      : FeatureMap(height: rows.count, width: cols.count, channels: d, in: ctx.arena) { g in
        guard !ctx.isDryRun else { return }
        maskFeatures.data.withUnsafeBufferPointer { f in
          parallelFor(rows.count, threads: ctx.threads) { r in
            let y = rows[r]
            for (c, x) in cols.enumerated() { (g.baseAddress! + (r * cols.count + c) * d).update(from: f.baseAddress! + (y * mw + x) * d, count: d) }
          }
        }
      }
    let sub = gathered.pixels
    let masks = ctx.floats(nq * sub) { MaskDecoder.einsum(e, queries: nq, gathered, into: $0.baseAddress!, ldc: sub, in: ctx) }
    let resample = BilinearRows(ys: ys.reading(rows), xs: xs.reading(cols), w: cols.count)
    // torch's float32 sigmoid(x) = 1/(1 + exp(−x)) is below 0.5 exactly when 1 + exp(−x) rounds above 2,
    // i.e. x < −1.5·2⁻²³ (mask2former-spec.md §4.2), not x < 0.
    let threshold: Float = -0x1.8p-23
    let attentionMask = ctx.floats(nq * s) { out in
      guard !ctx.isDryRun else { return }
      masks.withUnsafeBufferPointer { mb in
        parallelFor(nq, threads: ctx.threads) { q in
          let row = out.baseAddress! + q * s
          for y in 0..<th { resample.row(y, of: mb.baseAddress! + q * sub, into: row + y * tw) }
          var open = false
          for t in 0..<s {
            let blocked = row[t] < threshold
            open = open || !blocked
            row[t] = blocked ? -.infinity : 0
          }
          if !open { row.update(repeating: 0, count: s) }
        }
      }
    }
    return (nil, attentionMask)
  }
}

extension Mask2FormerTransformerModule {
  /// `model.transformer_module` and the top-level `class_predictor`.
  init(_ t: ModulePath, _ c: Mask2FormerConfig, from source: any TensorSource) throws {
    let d = c.hiddenDim
    queryEmbeddings = try source.tensor(t.child("queries_embedder").key("weight"), shape: [c.numQueries, d])
    queryFeatures = try source.tensor(t.child("queries_features").key("weight"), shape: [c.numQueries, d])
    levelEmbed = try source.tensor(t.child("level_embed").key("weight"), shape: [Mask2FormerConfig.levels, d])
    layers = try (0..<(c.decoderLayers - 1)).map { try MaskedAttentionDecoderLayer(t.child("decoder.layers").child($0), c, from: source) }
    layernorm = try source.layerNorm(t.child("decoder.layernorm"), d)
    let embedder = t.child("decoder.mask_predictor.mask_embedder")
    heads = Heads(classPredictor: try source.linear(ModulePath("class_predictor"), out: c.numLabels + 1, in: d, bias: true),
                  maskEmbedder: try (0..<3).map { try source.linear(embedder.child($0).child(0), out: d, in: d, bias: true) })
  }
}
