// ModelFile+Config: the model configuration read back from metadata. (Which tensors it implies is
// MaskFormerBuilder's to say: ModelFile+Model builds through a checking source.)
import Kernels

extension ModelFile {
  func int(_ key: String) throws -> Int {
    guard case .int(let v) = value(key) else { throw ModelFileError.malformed(path: path, reason: "metadata \(key) missing or not an integer") }
    guard v >= 0 && v < 1 << 31 else { throw ModelFileError.malformed(path: path, reason: "metadata \(key) = \(v) out of range") }
    return Int(v)
  }
  func ints(_ key: String) throws -> [Int] {
    guard case .ints(let v) = value(key), v.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else {
      throw ModelFileError.malformed(path: path, reason: "metadata \(key) missing or not a list of integers")
    }
    return v.map(Int.init)
  }
  func double(_ key: String) throws -> Double {
    guard case .float(let v) = value(key), v.isFinite else { throw ModelFileError.malformed(path: path, reason: "metadata \(key) missing or not a number") }
    return v
  }
  func string(_ key: String) throws -> String {
    guard case .string(let v) = value(key) else { throw ModelFileError.malformed(path: path, reason: "metadata \(key) missing or not a string") }
    return v
  }
  func activation(_ key: String) throws -> Activation {
    guard let a = Activation(rawValue: try string(key)), a != .identity else {
      throw ModelFileError.malformed(path: path, reason: "metadata \(key) is not gelu or relu")
    }
    return a
  }

  /// The model family the file holds (`general.architecture`; files of old without it are MaskFormer's).
  public var isMask2Former: Bool {
    if case .string(let a) = value("general.architecture") { return a == ModelFileFormat.mask2FormerArchitecture }
    return false
  }

  func swinConfig() throws -> SwinConfig {
    let depths = try ints("swin.depths"), heads = try ints("swin.num_heads"), embed = try int("swin.embed_dim")
    if let problem = SwinConfig.stageProblem(depths: depths, numHeads: heads, embedDim: embed) {
      throw ModelFileError.malformed(path: path, reason: "metadata swin.\(problem.field) must be \(problem.expected)")
    }
    let swin = SwinConfig(embedDim: embed, depths: depths, numHeads: heads, windowSize: try int("swin.window_size"),
                          patchSize: try int("swin.patch_size"), mlpRatio: try double("swin.mlp_ratio"),
                          qkvBias: try int("swin.qkv_bias") != 0, layerNormEps: Float(try double("swin.layer_norm_eps")),
                          hiddenAct: try activation("swin.hidden_act"))
    guard swin.windowSize > 0, swin.patchSize > 0 else { throw ModelFileError.malformed(path: path, reason: "inconsistent configuration") }
    return swin
  }

  /// The Mask2Former configuration stored by `edge-seg convert` (a file whose `isMask2Former`).
  public func mask2FormerConfig() throws -> Mask2FormerConfig {
    let swin = try swinConfig()
    guard case .strings(let labels) = value("mask2former.labels"), !labels.isEmpty else {
      throw ModelFileError.malformed(path: path, reason: "metadata mask2former.labels missing")
    }
    let d = try int("mask2former.hidden_dim"), heads = try int("mask2former.heads")
    guard swin.stageCount == 4, heads > 0, d % heads == 0, d % Mask2FormerConfig.groupNormGroups == 0, try int("mask2former.decoder_layers") >= 1 else {
      throw ModelFileError.malformed(path: path, reason: "inconsistent configuration")
    }
    return Mask2FormerConfig(swin: swin, hiddenDim: d, heads: heads, encoderLayers: try int("mask2former.encoder_layers"),
                             encoderFeedforward: try int("mask2former.encoder_ffn_dim"), decoderLayers: try int("mask2former.decoder_layers"),
                             decoderFeedforward: try int("mask2former.decoder_ffn_dim"), activation: try activation("mask2former.activation"),
                             numQueries: try int("mask2former.num_queries"), labels: labels)
  }

  /// The model configuration stored by `edge-seg convert`.
  public func config() throws -> MaskFormerConfig {
    guard !isMask2Former else { throw ModelFileError.malformed(path: path, reason: "a Mask2Former model, read where a MaskFormer one was expected") }
    let swin = try swinConfig()
    let detr = DetrConfig(dModel: try int("detr.d_model"), layers: try int("detr.layers"), heads: try int("detr.heads"),
                          ffnDim: try int("detr.ffn_dim"), activation: try activation("detr.activation"),
                          numQueries: try int("detr.num_queries"))
    guard case .strings(let labels) = value("maskformer.labels"), !labels.isEmpty else {
      throw ModelFileError.malformed(path: path, reason: "metadata maskformer.labels missing")
    }
    guard detr.heads > 0, detr.dModel % detr.heads == 0 else {
      throw ModelFileError.malformed(path: path, reason: "inconsistent configuration")
    }
    return MaskFormerConfig(swin: swin, detr: detr, fpnFeatureSize: try int("maskformer.fpn_feature_size"),
                            maskFeatureSize: try int("maskformer.mask_feature_size"), labels: labels)
  }
}
