// MaskFormerBuilder: the one description of MaskFormerForInstanceSegmentation's tensors: it builds the
// block structs from a tensor source (a Hugging Face checkpoint or an edge-seg model file) by the
// checkpoint's tensor names (file spelling, maskformer-spec.md §7), with every shape the config implies,
// in file order. Everything else derives from it: the model file's validation (a checking source
// that also reports tensors the build never read), the converter's tensor plan (the requests a
// `RecordingSource` saw, in order), and the refusals of missing and mis-shaped tensors. Unused
// checkpoint tensors (model.layernorm, relative_position_index, criterion.empty_weight) are not read.
import Kernels

/// Where weights come from. Float tensors by name and shape; Linear and conv layers may come back
/// float or packed int8; a Swin block's relative position bias as its table or already gathered.
public protocol TensorSource {
  func tensor(_ name: String, shape: [Int]) throws -> WeightTensor
  func linear(_ name: String, out: Int, in: Int, bias: Bool) throws -> Linear
  func conv(_ name: String, out: Int, in: Int, kernel: Int, bias: Bool) throws -> Conv2d
  /// `(table [(2w−1)², heads], nil)` from a checkpoint, or `(nil, gathered [heads, w², w²])` from a model file.
  func relativePositionBias(_ attention: String, heads: Int, window: Int) throws -> (table: WeightTensor?, gathered: WeightTensor?)
}

extension TensorSource {
  public func linear(_ name: String, out: Int, in inF: Int, bias: Bool) throws -> Linear {
    Linear(name: name, weight: try tensor(name + ".weight", shape: [out, inF]), bias: bias ? try tensor(name + ".bias", shape: [out]) : nil)
  }
  public func conv(_ name: String, out: Int, in inC: Int, kernel k: Int, bias: Bool) throws -> Conv2d {
    Conv2d(name: name, weight: try tensor(name + ".weight", shape: [out, inC, k, k]), bias: bias ? try tensor(name + ".bias", shape: [out]) : nil)
  }
  public func relativePositionBias(_ attention: String, heads: Int, window w: Int) throws -> (table: WeightTensor?, gathered: WeightTensor?) {
    (try tensor(attention + ".relative_position_bias_table", shape: [(2 * w - 1) * (2 * w - 1), heads]), nil)
  }
}

public struct MaskFormerBuilder {
  let source: any TensorSource
  let config: MaskFormerConfig

  public init(source: any TensorSource, config: MaskFormerConfig) {
    self.source = source
    self.config = config
  }

  static let encoder = "model.pixel_level_module.encoder."
  static let decoder = "model.pixel_level_module.decoder."
  static let transformer = "model.transformer_module."

  func tensor(_ name: String, _ shape: [Int]) throws -> WeightTensor { try source.tensor(name, shape: shape) }

  func linear(_ p: String, out: Int, in inF: Int, bias: Bool = true) throws -> Linear {
    try source.linear(p, out: out, in: inF, bias: bias)
  }
  func layerNorm(_ p: String, _ c: Int, eps: Float = 1e-5) throws -> LayerNorm {
    LayerNorm(name: p, weight: try tensor(p + ".weight", [c]), bias: try tensor(p + ".bias", [c]), eps: eps)
  }
  func conv(_ p: String, out: Int, in inC: Int, k: Int, bias: Bool) throws -> Conv2d {
    try source.conv(p, out: out, in: inC, kernel: k, bias: bias)
  }
  func groupNorm(_ p: String, _ c: Int) throws -> GroupNorm {
    GroupNorm(name: p, weight: try tensor(p + ".weight", [c]), bias: try tensor(p + ".bias", [c]), groups: MaskFormerConfig.groupNormGroups)
  }

  public func model() throws -> MaskFormer {
    MaskFormer(config: config, backbone: try backbone(), pixelDecoder: try pixelDecoder(),
               transformer: try transformerModule(), heads: try heads())
  }

  func backbone() throws -> SwinBackbone {
    let s = config.swin, e = Self.encoder + "model."
    let embeddings = SwinPatchEmbeddings(
      projection: try conv(e + "embeddings.patch_embeddings.projection", out: s.embedDim, in: 3, k: s.patchSize, bias: true),
      norm: try layerNorm(e + "embeddings.norm", s.embedDim))
    var stages: [SwinStage] = []
    for st in 0..<s.stageCount {
      let c = s.channels(stage: st), heads = s.numHeads[st], ws = s.windowSize
      var blocks: [SwinLayer] = []
      for b in 0..<s.depths[st] {
        let p = e + "encoder.layers.\(st).blocks.\(b)."
        let before = try layerNorm(p + "layernorm_before", c, eps: s.layerNormEps)
        let query = try linear(p + "attention.self.query", out: c, in: c, bias: s.qkvBias)
        let key = try linear(p + "attention.self.key", out: c, in: c, bias: s.qkvBias)
        let value = try linear(p + "attention.self.value", out: c, in: c, bias: s.qkvBias)
        let bias = try source.relativePositionBias(p + "attention.self", heads: heads, window: ws)
        let attention = SwinSelfAttention(query: query, key: key, value: value, relativePositionBiasTable: bias.table,
                                          gatheredBias: bias.gathered, numHeads: heads, windowSize: ws)
        blocks.append(SwinLayer(
          layernormBefore: before, attention: attention,
          attentionOutput: try linear(p + "attention.output.dense", out: c, in: c),
          layernormAfter: try layerNorm(p + "layernorm_after", c, eps: s.layerNormEps),
          intermediate: try linear(p + "intermediate.dense", out: s.mlpHidden(stage: st), in: c),
          output: try linear(p + "output.dense", out: c, in: s.mlpHidden(stage: st)),
          activation: s.hiddenAct, shift: b % 2 == 0 ? 0 : ws / 2))
      }
      let merge: SwinPatchMerging? = st + 1 < s.stageCount
        ? SwinPatchMerging(norm: try layerNorm(e + "encoder.layers.\(st).downsample.norm", 4 * c),
                           reduction: try linear(e + "encoder.layers.\(st).downsample.reduction", out: 2 * c, in: 4 * c, bias: false))
        : nil
      stages.append(SwinStage(blocks: blocks, downsample: merge))
    }
    let norms = try (0..<s.stageCount).map { try layerNorm(Self.encoder + "hidden_states_norms.\($0)", s.channels(stage: $0)) }
    return SwinBackbone(embeddings: embeddings, stages: stages, stageNorms: norms)
  }

  func pixelDecoder() throws -> PixelDecoder {
    let p = Self.decoder, f = config.fpnFeatureSize, s = config.swin
    let stem = FPNConvLayer(conv: try conv(p + "fpn.stem.0", out: f, in: s.lastChannels, k: 3, bias: false),
                            norm: try groupNorm(p + "fpn.stem.1", f))
    // fpn.layers.0 is the lateral of the second-coarsest stage (stride 16 in a 4-stage Swin), the last
    // one that of stage 0 (stride 4).
    let layers = try (0..<s.stageCount - 1).map { i in
      let l = p + "fpn.layers.\(i)."
      return FPNLayer(
        projection: try conv(l + "proj.0", out: f, in: s.channels(stage: s.stageCount - 2 - i), k: 1, bias: false),
        projectionNorm: try groupNorm(l + "proj.1", f),
        block: FPNConvLayer(conv: try conv(l + "block.0", out: f, in: f, k: 3, bias: false), norm: try groupNorm(l + "block.1", f)))
    }
    return PixelDecoder(stem: stem, layers: layers,
                        maskProjection: try conv(p + "mask_projection", out: config.maskFeatureSize, in: f, k: 3, bias: true))
  }

  func transformerModule() throws -> TransformerModule {
    let t = Self.transformer, d = config.detr, dm = d.dModel, inC = config.swin.lastChannels
    func attention(_ p: String) throws -> DetrAttention {
      DetrAttention(qProj: try linear(p + ".q_proj", out: dm, in: dm), kProj: try linear(p + ".k_proj", out: dm, in: dm),
                    vProj: try linear(p + ".v_proj", out: dm, in: dm), outProj: try linear(p + ".out_proj", out: dm, in: dm),
                    heads: d.heads)
    }
    let inputProjection = inC == dm ? nil : try conv(t + "input_projection", out: dm, in: inC, k: 1, bias: true)
    let queries = try tensor(t + "queries_embedder.weight", [d.numQueries, dm])
    let layers = try (0..<d.layers).map { l in
      let p = t + "decoder.layers.\(l)."
      let selfAttention = try attention(p + "self_attn"), crossAttention = try attention(p + "encoder_attn")
      return DetrDecoderLayer(
        selfAttention: selfAttention, selfAttentionNorm: try layerNorm(p + "self_attn_layer_norm", dm),
        crossAttention: crossAttention, crossAttentionNorm: try layerNorm(p + "encoder_attn_layer_norm", dm),
        fc1: try linear(p + "fc1", out: d.ffnDim, in: dm), fc2: try linear(p + "fc2", out: dm, in: d.ffnDim),
        finalNorm: try layerNorm(p + "final_layer_norm", dm), activation: d.activation)
    }
    return TransformerModule(inputProjection: inputProjection, queryEmbeddings: queries, layers: layers,
                             layernorm: try layerNorm(t + "decoder.layernorm", dm))
  }

  func heads() throws -> Heads {
    let dm = config.detr.dModel
    return Heads(
      classPredictor: try linear("class_predictor", out: config.numLabels + 1, in: dm),
      maskEmbedder: [try linear("mask_embedder.0.0", out: dm, in: dm), try linear("mask_embedder.1.0", out: dm, in: dm),
                     try linear("mask_embedder.2.0", out: config.maskFeatureSize, in: dm)])
  }
}

/// One request the builder made of its tensor source. In order, they are the model's tensor list:
/// the converter writes them in this order, and a model file must hold exactly them.
public enum TensorRequest: Sendable, Equatable {
  case tensor(name: String, shape: [Int])
  case linear(name: String, out: Int, in: Int, bias: Bool)
  case conv(name: String, out: Int, in: Int, kernel: Int, bias: Bool)
  /// A Swin block's relative position bias: `<attention>.relative_position_bias_table` in a checkpoint,
  /// `<attention>.relative_position_bias` (gathered) in a model file.
  case relativePositionBias(attention: String, heads: Int, window: Int)
}

/// A tensor source that records every request it forwards.
public final class RecordingSource: TensorSource {
  public let base: any TensorSource
  public private(set) var requests: [TensorRequest] = []

  public init(_ base: any TensorSource) { self.base = base }

  public func tensor(_ name: String, shape: [Int]) throws -> WeightTensor {
    requests.append(.tensor(name: name, shape: shape))
    return try base.tensor(name, shape: shape)
  }
  public func linear(_ name: String, out: Int, in inF: Int, bias: Bool) throws -> Linear {
    requests.append(.linear(name: name, out: out, in: inF, bias: bias))
    return try base.linear(name, out: out, in: inF, bias: bias)
  }
  public func conv(_ name: String, out: Int, in inC: Int, kernel k: Int, bias: Bool) throws -> Conv2d {
    requests.append(.conv(name: name, out: out, in: inC, kernel: k, bias: bias))
    return try base.conv(name, out: out, in: inC, kernel: k, bias: bias)
  }
  public func relativePositionBias(_ attention: String, heads: Int, window w: Int) throws -> (table: WeightTensor?, gathered: WeightTensor?) {
    requests.append(.relativePositionBias(attention: attention, heads: heads, window: w))
    return try base.relativePositionBias(attention, heads: heads, window: w)
  }
}
