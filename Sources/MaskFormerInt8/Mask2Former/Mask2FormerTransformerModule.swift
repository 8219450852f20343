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
  func callAsFunction(levels: consuming [FeatureMap], maskFeatures: borrowing MaskFeatures, in ctx: InferenceContext)
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
    let positions = sizes.map { SinePositionEmbedding.Tables(height: $0.height, width: $0.width, features: d / 2) }
    let queryPos = ArenaArray(UnsafeBufferPointer(start: queryEmbeddings.pointer, count: nq * d), in: ctx.arena)
    var h = ArenaArray(UnsafeBufferPointer(start: queryFeatures.pointer, count: nq * d), in: ctx.arena)
    ctx.record("transformer.layer0", FeatureMap(height: 1, width: nq, channels: d, data: h))
    var (masks, attentionMask) = predict(h, maskFeatures: maskFeatures, target: layers.isEmpty ? nil : sizes[0], in: ctx)
    // Deferred mask features mean a memory budget: the cross-attention then goes head by head too.
    let streamed = maskFeatures.isDeferred
    for (j, layer) in layers.enumerated() {
      let l = j % nl
      h = ctx.span("transformer.decoder.layers.\(j)", "block", shape: { [$0.count / d, d] }) {
        layer(h, queryPos: queryPos, memory: memory[l], memoryPos: positions[l], mask: attentionMask!, headByHead: streamed, in: ctx)
      }
      // Neither the mask nor (after the last layer) the levels are read again: freed before the next prediction,
      // the last of which makes the whole logits.
      attentionMask = nil
      if j == layers.count - 1 { memory.removeAll() }
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
  private func predict(_ h: ArenaArray<Float>, maskFeatures: borrowing MaskFeatures, target: (height: Int, width: Int)?, in ctx: InferenceContext)
    -> (masks: ArenaArray<Float>?, attentionMask: ArenaArray<Float>?) {
    let d = layernorm.channels, nq = h.count / d, (mh, mw) = (maskFeatures.height, maskFeatures.width)
    let e = heads.embeddings(layernorm(h, rows: nq, in: ctx), in: ctx)
    guard let target else {
      return (ctx.floats(nq * mh * mw) { maskFeatures.logits(e, queries: nq, into: $0.baseAddress!, in: ctx) }, nil)
    }
    let (th, tw) = (target.height, target.width), s = th * tw
    let ys = LinearAxis(inSize: mh, outSize: th), xs = LinearAxis(inSize: mw, outSize: tw)
    let rows = ys.sources, cols = xs.sources
    if rows.count == mh && cols.count == mw {
      return (nil, halvedAttentionMask(e, queries: nq, maskFeatures, ys: ys, xs: xs, in: ctx))
    }
    let gathered = maskFeatures.gathered(rows: rows, cols: cols, in: ctx)
    let sub = gathered.pixels
    let masks = ctx.floats(nq * sub) { MaskDecoder.einsum(e, queries: nq, gathered, into: $0.baseAddress!, ldc: sub, in: ctx) }
    _ = consume gathered
    let resample = BilinearRows(ys: ys.reading(rows), xs: xs.reading(cols), w: cols.count)
    let attentionMask = ctx.floats(nq * s) { out in
      guard !ctx.isDryRun else { return }
      masks.withUnsafeBufferPointer { mb in
        parallelFor(nq, threads: ctx.threads) { q in
          let row = out.baseAddress! + q * s
          for y in 0..<th { resample.row(y, of: mb.baseAddress! + q * sub, into: row + y * tw) }
          if !Self.block(row, count: s) { row.update(repeating: 0, count: s) }
        }
      }
    }
    return (nil, attentionMask)
  }

  /// torch's float32 sigmoid(x) = 1/(1 + exp(−x)) is below 0.5 exactly when 1 + exp(−x) rounds above 2,
  /// i.e. x < −1.5·2⁻²³ (mask2former-spec.md §4.2), not x < 0.
  static let maskThreshold: Float = -0x1.8p-23

  /// Resampled mask logits to an attention mask in place: −∞ where blocked, 0 elsewhere. Returns whether any
  /// position stays open (a row all −∞ is opened whole by the caller, as transformers does).
  static func block(_ row: UnsafeMutablePointer<Float>, count: Int) -> Bool {
    var open = false
    for t in 0..<count {
      let blocked = row[t] < maskThreshold
      open = open || !blocked
      row[t] = blocked ? -.infinity : 0
    }
    return open
  }

  /// The attention mask for a level half the mask features' size, which reads every row and column of M:
  /// M is made a band of rows at a time (the rows a band of mask rows reads), resampled and thresholded from
  /// there, so the whole `Q × H4·W4` logits never exist (100 MiB at a 2048×2048 input). Each logit is the
  /// same dot product as in the whole einsum (the GEMM's per-element order does not depend on its rows), so
  /// the mask is the same.
  private func halvedAttentionMask(_ e: ArenaArray<Float>, queries nq: Int, _ maskFeatures: borrowing MaskFeatures,
                                   ys: LinearAxis, xs: LinearAxis, in ctx: InferenceContext) -> ArenaArray<Float> {
    let (mh, mw, d) = (maskFeatures.height, maskFeatures.width, maskFeatures.channels)
    let (th, tw) = (ys.i0.count, xs.i0.count), s = th * tw
    precondition(e.count == nq * d, "mask embedder width \(e.count / nq) != mask feature width \(d)")
    let resample = BilinearRows(ys: ys, xs: xs, w: mw)
    // Bands of 8 mask rows (16 or 17 feature rows when halving): 100 queries x 17 x 512 pixels = 3.5 MB at 2048.
    let bandRows = 8, maxSource = Swift.min(mh, 2 * bandRows + 2)
    let info = ctx.info(OpInfo(name: "mask_logits.einsum", kind: "matmul", macs: nq * mh * mw * d,
                               bytes: 4 * (nq * d + mh * mw * d + nq * s), precision: "f32"))
    if let observer = ctx.observer {
      if case .whole(let f) = maskFeatures.storage { observer.begin(info!, map: f) } else { observer.begin(info!, input: nil) }
    }
    var open = [Bool](repeating: false, count: nq)
    var logits = ctx.floats(nq * maxSource * mw) { _ in }
    let attentionMask = ctx.floats(nq * s) { out in
      e.withUnsafeBufferPointer { eb in logits.withUnsafeMutableBufferPointer { lb in
        open.withUnsafeMutableBufferPointer { ob in
          var y0 = 0
          while y0 < th {
            let y1 = Swift.min(th, y0 + bandRows)
            let r0 = ys.i0[y0], r1 = ys.i1[y1 - 1] + 1, n = (r1 - r0) * mw
            precondition(r1 - r0 <= maxSource, "halved attention mask: band of \(r1 - r0) rows > \(maxSource)")
            maskFeatures.withRows(r0..<r1, in: ctx) {
              MaskDecoder.logits(eb.baseAddress!, queries: nq, pixels: $0, count: n, channels: d, into: lb.baseAddress!, ldc: n, in: ctx)
            }
            if !ctx.isDryRun {
              parallelFor(nq, threads: ctx.threads) { q in
                let plane = UnsafePointer(lb.baseAddress! + q * n), row = out.baseAddress! + q * s
                for y in y0..<y1 {
                  resample.row(y, r0: plane + (ys.i0[y] - r0) * mw, r1: plane + (ys.i1[y] - r0) * mw, into: row + y * tw)
                  if Self.block(row + y * tw, count: tw) { ob[q] = true }
                }
              }
            }
            y0 = y1
          }
        }
      }}
      guard !ctx.isDryRun else { return }
      for q in 0..<nq where !open[q] { (out.baseAddress! + q * s).update(repeating: 0, count: s) }
    }
    _ = consume logits
    attentionMask.withUnsafeBufferPointer { ctx.observer?.end(info!, output: TensorView(.float($0.baseAddress!), rows: nq, columns: s, stride: s), shape: [nq, th, tw]) }
    return attentionMask
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
