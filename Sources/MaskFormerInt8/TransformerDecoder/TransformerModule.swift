// TransformerModule: input projection of the coarsest backbone feature (stride 32 with four stages),
// sine positions, learned query positions, the DETR decoder from zero targets, and the final LayerNorm.
// Mirrors MaskFormerTransformerModule and MaskFormerDetrDecoder (transformers, modeling_maskformer.py).

public struct TransformerModule {
  /// `input_projection` (1×1 conv with bias); nil when the backbone width already equals d_model.
  public let inputProjection: Conv2d?
  /// `queries_embedder.weight` `[Q, D]`.
  public let queryEmbeddings: WeightTensor
  public let layers: [DetrDecoderLayer]
  /// `decoder.layernorm`, applied once after the last layer.
  public let layernorm: LayerNorm

  public init(inputProjection: Conv2d?, queryEmbeddings: WeightTensor, layers: [DetrDecoderLayer], layernorm: LayerNorm) {
    self.inputProjection = inputProjection
    self.queryEmbeddings = queryEmbeddings
    self.layers = layers
    self.layernorm = layernorm
  }

  /// feature: the normed coarsest backbone map → decoder output `Q × D`.
  func callAsFunction(_ feature: FeatureMap, in ctx: InferenceContext) -> ArenaArray<Float> {
    let memory = inputProjection.map { $0(feature, in: ctx) } ?? feature
    let (q, d) = (queryEmbeddings.shape[0], queryEmbeddings.shape[1])
    let memoryPos = SinePositionEmbedding.embedding(height: memory.height, width: memory.width, features: d / 2, in: ctx.arena)
    let queryPos = ArenaArray(UnsafeBufferPointer(start: queryEmbeddings.pointer, count: q * d), in: ctx.arena)
    var tgt = ctx.zeros(q * d)
    for (i, layer) in layers.enumerated() {
      tgt = ctx.span("transformer.decoder.layers.\(i)", "block", shape: { [$0.count / d, d] }) {
        layer(tgt, queryPos: queryPos, memory: memory.data, memoryPos: memoryPos, in: ctx)
      }
    }
    let out = layernorm(tgt, rows: q, in: ctx)
    ctx.record("transformer.last_hidden_state", FeatureMap(height: 1, width: q, channels: d, data: out))
    return out
  }
}

extension TransformerModule {
  /// `model.transformer_module`: `input_projection` (when the backbone's width is not d_model),
  /// `queries_embedder`, `decoder.layers.{...}`, `decoder.layernorm`.
  init(_ t: ModulePath, _ d: DetrConfig, inputChannels inC: Int, from source: any TensorSource) throws {
    let dm = d.dModel
    let inputProjection = inC == dm ? nil : try source.conv(t.child("input_projection"), out: dm, in: inC, kernel: 1, bias: true)
    let queries = try source.tensor(t.child("queries_embedder").key("weight"), shape: [d.numQueries, dm])
    let layers = try (0..<d.layers).map { try DetrDecoderLayer(t.child("decoder.layers").child($0), d, from: source) }
    self.init(inputProjection: inputProjection, queryEmbeddings: queries, layers: layers,
              layernorm: try source.layerNorm(t.child("decoder.layernorm"), dm))
  }
}
