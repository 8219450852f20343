// The masked-attention decoder layer of Mask2Former (issue 21; mask2former-spec.md §4.4): masked
// cross-attention to one level of the pixel decoder, then self-attention, then the FFN, each post-norm.
// Mirrors Mask2FormerMaskedAttentionDecoderLayer.forward_post (transformers, modeling_mask2former.py).
import Kernels

public struct MaskedAttentionDecoderLayer {
  /// `cross_attn` (an `nn.MultiheadAttention`: its packed `in_proj_weight` read as q, k, v projections, its
  /// `out_proj` as the output projection).
  public let crossAttention: DetrAttention
  public let crossAttentionNorm: LayerNorm
  public let selfAttention: DetrAttention
  public let selfAttentionNorm: LayerNorm
  public let fc1: Linear
  public let fc2: Linear
  public let finalNorm: LayerNorm
  public let activation: Activation

  /// h `Q × D` (un-normed state), queryPos `Q × D`; memory (level features plus the level embedding) `S_l × D`
  /// and its sine position (as tables); mask `Q × S_l` (0 or −∞, no row all −∞). `headByHead`: the cross-attention's
  /// keys and values made and attended one head at a time (`DetrAttention.headByHead`), for a memory budget.
  func callAsFunction(_ h: ArenaArray<Float>, queryPos: ArenaArray<Float>, memory: ArenaArray<Float>, memoryPos: SinePositionEmbedding.Tables,
                      mask: ArenaArray<Float>, headByHead: Bool = false, in ctx: InferenceContext) -> ArenaArray<Float> {
    let d = crossAttention.qProj.inFeatures, nq = h.count / d, nk = memory.count / d
    let q = DetrDecoderLayer.sum(h, queryPos, in: ctx)
    let attended: ArenaArray<Float>
    if ctx.observesValues {
      // Op by op, every layer's input whole, for the observer (the same values).
      let k = DetrDecoderLayer.sum(memory, memoryPos.embedding(in: ctx.arena), in: ctx)
      attended = crossAttention(qIn: q, nq: nq, kIn: k, vIn: memory, nk: nk, residual: h, mask: mask, in: ctx)
    } else {
      // The keys' input (features + position, S_l × D) made 1024 tokens at a time, never whole: at stride 8 of a
      // 2048x2048 input it and the position map were 128 MiB at the decoder's peak. The same values.
      attended = memory.withUnsafeBufferPointer { mb in
        let keyInput = { (t0: Int, count: Int, x: UnsafeMutablePointer<Float>) in
          memoryPos.tokens(t0, count: count, into: x)
          let m = mb.baseAddress! + t0 * d
          for i in 0..<(count * d) { x[i] = m[i] + x[i] }
        }
        if headByHead {
          return crossAttention.headByHead(qIn: q, nq: nq, nk: nk, chunk: 1024, keyInput: keyInput,
                                           values: mb.baseAddress!,
                                           residual: h, mask: mask, in: ctx)
        }
        let k = crossAttention.kProj.rowsInChunks(nk, chunk: 1024, in: ctx, fill: keyInput)
        return crossAttention(qIn: q, nq: nq, keys: k, vIn: memory, nk: nk, residual: h, mask: mask, in: ctx)
      }
    }
    var x = crossAttentionNorm(attended, rows: nq, in: ctx)
    let withPos = DetrDecoderLayer.sum(x, queryPos, in: ctx)
    x = selfAttentionNorm(selfAttention(qIn: withPos, nq: nq, kIn: withPos, vIn: x, nk: nq, residual: x, in: ctx), rows: nq, in: ctx)
    let y = x.withUnsafeBufferPointer { Linear.mlp(fc1, fc2, x, rows: nq, activation: activation, residual: $0.baseAddress!, in: ctx) }
    return finalNorm(y, rows: nq, in: ctx)
  }
}

extension MaskedAttentionDecoderLayer {
  /// `model.transformer_module.decoder.layers.{j}`.
  init(_ p: ModulePath, _ c: Mask2FormerConfig, from source: any TensorSource) throws {
    let d = c.hiddenDim
    // nn.MultiheadAttention: q, k, v packed in `in_proj_weight`/`in_proj_bias` in a checkpoint, which serves
    // them as `cross_attn.{q,k,v}_proj` (SafetensorsFile.packedProjection); a model file stores them so.
    crossAttention = try DetrAttention(p.child("cross_attn"), width: d, heads: c.heads, from: source)
    crossAttentionNorm = try source.layerNorm(p.child("cross_attn_layer_norm"), d)
    selfAttention = try DetrAttention(p.child("self_attn"), width: d, heads: c.heads, from: source)
    selfAttentionNorm = try source.layerNorm(p.child("self_attn_layer_norm"), d)
    fc1 = try source.linear(p.child("fc1"), out: c.decoderFeedforward, in: d, bias: true)
    fc2 = try source.linear(p.child("fc2"), out: d, in: c.decoderFeedforward, bias: true)
    finalNorm = try source.layerNorm(p.child("final_layer_norm"), d)
    activation = c.activation
  }
}
