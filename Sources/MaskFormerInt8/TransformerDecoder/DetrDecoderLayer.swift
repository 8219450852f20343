// DetrDecoderLayer: post-norm DETR decoder layer (self-attention, cross-attention, FFN, each followed
// by residual + LayerNorm). Mirrors MaskFormerDetrDecoderLayer (transformers, modeling_maskformer.py).
import Kernels

public struct DetrDecoderLayer {
  public let selfAttention: DetrAttention
  public let selfAttentionNorm: LayerNorm
  public let crossAttention: DetrAttention
  public let crossAttentionNorm: LayerNorm
  public let fc1: Linear
  public let fc2: Linear
  public let finalNorm: LayerNorm
  public let activation: Activation

  public init(selfAttention: DetrAttention, selfAttentionNorm: LayerNorm, crossAttention: DetrAttention,
              crossAttentionNorm: LayerNorm, fc1: Linear, fc2: Linear, finalNorm: LayerNorm, activation: Activation) {
    self.selfAttention = selfAttention
    self.selfAttentionNorm = selfAttentionNorm
    self.crossAttention = crossAttention
    self.crossAttentionNorm = crossAttentionNorm
    self.fc1 = fc1
    self.fc2 = fc2
    self.finalNorm = finalNorm
    self.activation = activation
  }

  /// tgt `Q × D`; queryPos `Q × D`; memory and memoryPos `Hm·Wm × D`.
  func callAsFunction(_ tgt: ArenaArray<Float>, queryPos: ArenaArray<Float>, memory: ArenaArray<Float>, memoryPos: ArenaArray<Float>,
                      in ctx: InferenceContext) -> ArenaArray<Float> {
    let nq = queryPos.count / selfAttention.qProj.inFeatures
    let nk = memory.count / selfAttention.qProj.inFeatures
    let withPos = Self.sum(tgt, queryPos, in: ctx)
    var x = selfAttention(qIn: withPos, nq: nq, kIn: withPos, vIn: tgt, nk: nq, residual: tgt, in: ctx)
    x = selfAttentionNorm(x, rows: nq, in: ctx)
    let q = Self.sum(x, queryPos, in: ctx)
    let k = Self.sum(memory, memoryPos, in: ctx)
    x = crossAttentionNorm(crossAttention(qIn: q, nq: nq, kIn: k, vIn: memory, nk: nk, residual: x, in: ctx), rows: nq, in: ctx)
    let y = x.withUnsafeBufferPointer { Linear.mlp(fc1, fc2, x, rows: nq, activation: activation, residual: $0.baseAddress!, in: ctx) }
    return finalNorm(y, rows: nq, in: ctx)
  }
}

extension DetrDecoderLayer {
  /// `model.transformer_module.decoder.layers.{l}`.
  init(_ p: ModulePath, _ d: DetrConfig, from source: any TensorSource) throws {
    let dm = d.dModel
    let selfAttention = try DetrAttention(p.child("self_attn"), width: dm, heads: d.heads, from: source)
    let crossAttention = try DetrAttention(p.child("encoder_attn"), width: dm, heads: d.heads, from: source)
    self.init(selfAttention: selfAttention, selfAttentionNorm: try source.layerNorm(p.child("self_attn_layer_norm"), dm),
              crossAttention: crossAttention, crossAttentionNorm: try source.layerNorm(p.child("encoder_attn_layer_norm"), dm),
              fc1: try source.linear(p.child("fc1"), out: d.ffnDim, in: dm, bias: true),
              fc2: try source.linear(p.child("fc2"), out: dm, in: d.ffnDim, bias: true),
              finalNorm: try source.layerNorm(p.child("final_layer_norm"), dm), activation: d.activation)
  }
}

extension DetrDecoderLayer {
  /// `a + b`, element by element (a target plus its position embedding).
  static func sum(_ a: ArenaArray<Float>, _ b: ArenaArray<Float>, in ctx: InferenceContext) -> ArenaArray<Float> {
    precondition(a.count == b.count, "sum: \(a.count) vs \(b.count) floats")
    return a.withUnsafeBufferPointer { ab in
      b.withUnsafeBufferPointer { bb in ctx.floats(a.count) { if !ctx.isDryRun { for i in 0..<a.count { $0[i] = ab[i] + bb[i] } } } }
    }
  }
}
