// MaskFormerConfig: the typed model configuration the runtime needs, decoded from config.json by the
// Converter (which owns the JSON names and the refusals of unsupported checkpoints).
import Kernels

/// MaskFormer's own Swin variant (`MaskFormerSwinConfig`).
public struct SwinConfig: Sendable, Equatable {
  public var embedDim: Int
  public var depths: [Int]
  public var numHeads: [Int]
  public var windowSize: Int
  public var patchSize: Int
  public var mlpRatio: Double
  public var qkvBias: Bool
  /// eps of the per-block LayerNorms; the embedding, merge and stage-output norms use 1e-5 always.
  public var layerNormEps: Float
  public var hiddenAct: Activation

  public init(embedDim: Int, depths: [Int], numHeads: [Int], windowSize: Int, patchSize: Int = 4,
              mlpRatio: Double = 4, qkvBias: Bool = true, layerNormEps: Float = 1e-5, hiddenAct: Activation = .gelu) {
    self.embedDim = embedDim
    self.depths = depths
    self.numHeads = numHeads
    self.windowSize = windowSize
    self.patchSize = patchSize
    self.mlpRatio = mlpRatio
    self.qkvBias = qkvBias
    self.layerNormEps = layerNormEps
    self.hiddenAct = hiddenAct
  }

  /// At most this many stages (Swin checkpoints have 4; the demo model has 3): a bound on the
  /// `embedDim << stage` widths a hostile config can ask for.
  public static let maxStages = 6

  /// What is wrong with a stage layout, as (field, what it must be), or nil: 2 to `maxStages` stages
  /// of at least one block, one head count per stage, each dividing its stage's width `embed << s`.
  /// Shared by the checkpoint reader and the model-file reader.
  public static func stageProblem(depths: [Int], numHeads heads: [Int], embedDim embed: Int) -> (field: String, expected: String)? {
    guard (2...maxStages).contains(depths.count), depths.allSatisfy({ $0 >= 1 }) else {
      return ("depths", "2 to \(maxStages) stages of >= 1 block")
    }
    guard heads.count == depths.count else { return ("num_heads", "\(depths.count) entries, one per stage") }
    guard embed >= 1 else { return ("embed_dim", "a positive integer") }
    guard heads.indices.allSatisfy({ heads[$0] >= 1 && (embed << $0) % heads[$0] == 0 }) else {
      return ("num_heads", "divisors of the stage widths \((0..<depths.count).map { embed << $0 })")
    }
    return nil
  }

  public var stageCount: Int { depths.count }
  /// Channels of the coarsest stage, which feeds the FPN stem and the transformer decoder.
  public var lastChannels: Int { channels(stage: stageCount - 1) }
  /// Channels of stage s: `embedDim · 2^s`.
  public func channels(stage s: Int) -> Int { embedDim << s }
  public func mlpHidden(stage s: Int) -> Int { Int(mlpRatio * Double(channels(stage: s))) }
}

/// The DETR decoder (`MaskFormerDetrConfig`), post-norm, no encoder.
public struct DetrConfig: Sendable, Equatable {
  public var dModel: Int
  public var layers: Int
  public var heads: Int
  public var ffnDim: Int
  public var activation: Activation
  public var numQueries: Int

  public init(dModel: Int, layers: Int, heads: Int, ffnDim: Int, activation: Activation, numQueries: Int) {
    self.dModel = dModel
    self.layers = layers
    self.heads = heads
    self.ffnDim = ffnDim
    self.activation = activation
    self.numQueries = numQueries
  }
}

/// `MaskFormerConfig` with a Swin backbone: the whole model's shape.
public struct MaskFormerConfig: Sendable, Equatable {
  public var swin: SwinConfig
  public var detr: DetrConfig
  public var fpnFeatureSize: Int
  public var maskFeatureSize: Int
  /// `id2label` in id order; K = labels.count and the class head has K + 1 outputs ("no object" last).
  public var labels: [String]

  public init(swin: SwinConfig, detr: DetrConfig, fpnFeatureSize: Int, maskFeatureSize: Int, labels: [String]) {
    self.swin = swin
    self.detr = detr
    self.fpnFeatureSize = fpnFeatureSize
    self.maskFeatureSize = maskFeatureSize
    self.labels = labels
  }

  public var numLabels: Int { labels.count }
  /// GroupNorm group count of every pixel-decoder norm (fixed at 32 in transformers).
  public static let groupNormGroups = 32
}
