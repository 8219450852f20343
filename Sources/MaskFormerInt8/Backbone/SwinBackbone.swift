// SwinBackbone: patch embedding, the stages of Swin blocks (four in published checkpoints, three in
// the demo model) with patch merging between them, and a LayerNorm on each stage's output taken BEFORE
// merging. Mirrors MaskFormerSwinStage, MaskFormerSwinEncoder and MaskFormerSwinBackbone (transformers,
// modeling_maskformer_swin.py). `model.layernorm` is unused.
import Quant

public struct SwinStage {
  public let blocks: [SwinLayer]
  /// Patch merging after the stage (nil for the last stage).
  public let downsample: SwinPatchMerging?

  public init(blocks: [SwinLayer], downsample: SwinPatchMerging?) {
    self.blocks = blocks
    self.downsample = downsample
  }
}

public struct SwinBackbone {
  public let embeddings: SwinPatchEmbeddings
  public let stages: [SwinStage]
  /// `hidden_states_norms.{s}`: LayerNorm(C_s) applied to each stage's output.
  public let stageNorms: [LayerNorm]

  public init(embeddings: SwinPatchEmbeddings, stages: [SwinStage], stageNorms: [LayerNorm]) {
    precondition(stages.count == stageNorms.count, "one norm per stage")
    self.embeddings = embeddings
    self.stages = stages
    self.stageNorms = stageNorms
  }

  /// pixelValues `[3, H, W]` → features at strides 4, 8, 16, 32 (`H_s × W_s × C_s`, each normed).
  /// The image is handed to the patch embedding and freed there. `quantizeFor[s]`: when set, stage s's feature is produced directly in int8 with these
  /// parameters, chunk by chunk, for the int8 FPN lateral conv that reads it (and would quantize it
  /// anyway): the float feature never exists whole (an observer sees it as int8).
  func callAsFunction(_ pixelValues: consuming ArenaArray<Float>, height: Int, width: Int, quantizeFor: [QuantParams?] = [],
                      in ctx: InferenceContext) -> StageFeatures {
    ctx.begin("encoder.embeddings", "block")
    var x = embeddings(consume pixelValues, height: height, width: width, in: ctx)
    ctx.end("encoder.embeddings", "block", shape: [x.height, x.width, x.channels])
    ctx.arena?.trim()   // between phases (a single run's arena only): the freed buffers' pages go back
    var features = StageFeatures()
    for (s, stage) in stages.enumerated() {
      ctx.begin("encoder.stage\(s)", "stage")
      for block in stage.blocks { block(&x, in: ctx) }
      if s < quantizeFor.count, let params = quantizeFor[s] {
        let feature = stageNorms[s].quantized(x, params, in: ctx)
        ctx.record("encoder.stage\(s)", feature, channels: x.channels)
        features.append(.quantized(feature))
      } else {
        var feature = x
        feature.data = stageNorms[s](x.data, rows: x.pixels, in: ctx)
        ctx.record("encoder.stage\(s)", feature)
        features.append(.float(feature))
      }
      if let merge = stage.downsample {
        x = ctx.span("encoder.stage\(s).downsample", "block", shape: { [$0.height, $0.width, $0.channels] }) { merge(x, in: ctx) }
      }
      ctx.end("encoder.stage\(s)", "stage", shape: [x.height, x.width, x.channels])
      ctx.arena?.trim()
    }
    return features
  }
}

/// The backbone's features in stage order (strides 4, 8, ...), taken from the end by the pixel decoder. Up to
/// four are held inline (an array of them per image was a heap allocation, issue 19); more go to an array.
struct StageFeatures {
  private var inline: (StageFeature?, StageFeature?, StageFeature?, StageFeature?) = (nil, nil, nil, nil)
  private var more: [StageFeature] = []
  private(set) var count = 0

  mutating func append(_ f: consuming StageFeature) {
    switch count {
    case 0: inline.0 = f
    case 1: inline.1 = f
    case 2: inline.2 = f
    case 3: inline.3 = f
    default: more.append(f)
    }
    count += 1
  }

  /// The last feature, removed (so that it is freed when its reader is done with it).
  mutating func removeLast() -> StageFeature {
    precondition(count > 0, "StageFeatures: none left")
    count -= 1
    switch count {
    case 0: defer { inline.0 = nil }; return inline.0!
    case 1: defer { inline.1 = nil }; return inline.1!
    case 2: defer { inline.2 = nil }; return inline.2!
    case 3: defer { inline.3 = nil }; return inline.3!
    default: return more.removeLast()
    }
  }

  var last: StageFeature? {
    switch count {
    case 0: nil
    case 1: inline.0
    case 2: inline.1
    case 3: inline.2
    case 4: inline.3
    default: more.last
    }
  }
}

/// A backbone feature as the pixel decoder reads it: float, or already quantized for an int8 conv.
enum StageFeature {
  case float(FeatureMap)
  case quantized(QuantizedMap)

  var height: Int {
    switch self {
    case .float(let f): f.height
    case .quantized(let q): q.height
    }
  }

  var width: Int {
    switch self {
    case .float(let f): f.width
    case .quantized(let q): q.width
    }
  }
}

/// Where a Swin backbone's tensors are in a checkpoint: MaskFormer's copy (`encoder.model.…`, stage norms
/// `hidden_states_norms.{0…}`) or transformers' generic `SwinBackbone`, Mask2Former's (`encoder.…`,
/// `hidden_states_norms.stage{1…}`). The modules below the prefix have the same names and the same math.
enum SwinWeightLayout {
  case maskFormer, generic
}

extension SwinBackbone {
  /// `model.pixel_level_module.encoder`: the embeddings, the stages with their merges, the stage norms.
  init(_ e: ModulePath, _ s: SwinConfig, layout: SwinWeightLayout = .maskFormer, from source: any TensorSource) throws {
    let root = layout == .maskFormer ? e.child("model") : e
    let embeddings = try SwinPatchEmbeddings(root.child("embeddings"), s, from: source)
    var stages: [SwinStage] = []
    for st in 0..<s.stageCount {
      let p = root.child("encoder.layers").child(st)
      let blocks = try (0..<s.depths[st]).map { try SwinLayer(p.child("blocks").child($0), stage: st, block: $0, s, from: source) }
      let merge = st + 1 < s.stageCount ? try SwinPatchMerging(p.child("downsample"), channels: s.channels(stage: st), from: source) : nil
      stages.append(SwinStage(blocks: blocks, downsample: merge))
    }
    let norms = try (0..<s.stageCount).map { st in
      try source.layerNorm(layout == .maskFormer ? e.child("hidden_states_norms").child(st) : e.child("hidden_states_norms").child("stage\(st + 1)"),
                           s.channels(stage: st))
    }
    self.init(embeddings: embeddings, stages: stages, stageNorms: norms)
  }
}
