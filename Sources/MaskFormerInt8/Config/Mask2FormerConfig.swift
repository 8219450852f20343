// Mask2FormerConfig: the typed configuration of `Mask2FormerForUniversalSegmentation` with a Swin backbone
// (issue 21; ../shared/mask2former-spec.md §0), decoded from config.json by the Converter (HFConfig.mask2Former),
// which owns the JSON names and refuses what is not implemented. Hard-coded in transformers and so here:
// 3 deformable levels (strides 32, 16, 8), 4 sampling points, GroupNorm(32) in the pixel decoder.
import Kernels

public struct Mask2FormerConfig: Sendable, Equatable {
  /// The generic Swin backbone (transformers' `SwinBackbone`, run with `always_partition`: windows and
  /// shifts kept on maps smaller than the window, which are padded instead).
  public var swin: SwinConfig
  /// D: `hidden_dim` = `feature_size` = `mask_feature_size` (input projections are identity).
  public var hiddenDim: Int
  /// Heads of the deformable encoder's and the masked decoder's attentions (head dim D / heads).
  public var heads: Int
  public var encoderLayers: Int
  public var encoderFeedforward: Int
  /// `decoder_layers`: the masked-attention decoder runs `decoderLayers − 1` layers after an initial prediction.
  public var decoderLayers: Int
  public var decoderFeedforward: Int
  /// The decoder FFN's activation (`activation_function`).
  public var activation: Activation
  public var numQueries: Int
  /// `id2label` in id order; the class head has K + 1 outputs ("no object" last).
  public var labels: [String]

  public init(swin: SwinConfig, hiddenDim: Int, heads: Int, encoderLayers: Int, encoderFeedforward: Int, decoderLayers: Int,
              decoderFeedforward: Int, activation: Activation, numQueries: Int, labels: [String]) {
    self.swin = swin
    self.hiddenDim = hiddenDim
    self.heads = heads
    self.encoderLayers = encoderLayers
    self.encoderFeedforward = encoderFeedforward
    self.decoderLayers = decoderLayers
    self.decoderFeedforward = decoderFeedforward
    self.activation = activation
    self.numQueries = numQueries
    self.labels = labels
  }

  public var numLabels: Int { labels.count }
  /// Deformable levels (the backbone's last three stages, coarsest first) and sampling points per level and head.
  public static let levels = 3, points = 4
  /// GroupNorm group count of the pixel decoder's norms (fixed at 32 in transformers).
  public static let groupNormGroups = 32
}
