// HFConfig: decodes a Hugging Face MaskFormer checkpoint's config.json and preprocessor_config.json into
// the runtime's typed configs, refusing what edge-seg does not implement with the field, the expected
// and the found value. JSON names live here only.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Kernels
import MaskFormerInt8

public enum CheckpointError: Error, Equatable, CustomStringConvertible {
  case unreadable(path: String, reason: String)
  case unsupported(path: String, field: String, expected: String, found: String)

  public var description: String {
    switch self {
    case .unreadable(let path, let reason): "\(path): \(reason)"
    case .unsupported(let path, let field, let expected, let found):
      "\(path): unsupported checkpoint: \(field) is \(found), expected \(expected)"
    }
  }
}

/// A JSON value, enough of it to read HF config files without a schema for every key.
enum JSONValue: Decodable, Equatable {
  case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

  init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() { self = .null }
    else if let b = try? c.decode(Bool.self) { self = .bool(b) }
    else if let d = try? c.decode(Double.self) { self = .number(d) }
    else if let s = try? c.decode(String.self) { self = .string(s) }
    else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
    else { self = .object(try c.decode([String: JSONValue].self)) }
  }

  subscript(key: String) -> JSONValue? {
    if case .object(let o) = self, let v = o[key], v != .null { return v }
    return nil
  }

  var text: String {
    switch self {
    case .null: "null"
    case .bool(let b): "\(b)"
    case .number(let d): d == d.rounded() && abs(d) < 1e15 ? "\(Int(d))" : "\(d)"
    case .string(let s): "\"\(s)\""
    case .array(let a): "[" + a.map(\.text).joined(separator: ", ") + "]"
    case .object: "{...}"
    }
  }
}

/// Typed reads of one JSON object with errors naming the file and the dotted field.
struct FieldReader {
  let path: String
  let prefix: String
  let value: JSONValue

  func field(_ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }
  func fail(_ key: String, _ expected: String) -> CheckpointError {
    .unsupported(path: path, field: field(key), expected: expected, found: value[key]?.text ?? "missing")
  }

  func int(_ key: String, default d: Int? = nil) throws(CheckpointError) -> Int {
    guard let v = value[key] else {
      if let d { return d }
      throw fail(key, "an integer")
    }
    guard case .number(let x) = v, x == x.rounded(), abs(x) < 1e9 else { throw fail(key, "an integer") }
    return Int(x)
  }
  func double(_ key: String, default d: Double) throws(CheckpointError) -> Double {
    guard let v = value[key] else { return d }
    guard case .number(let x) = v else { throw fail(key, "a number") }
    return x
  }
  func bool(_ key: String, default d: Bool) throws(CheckpointError) -> Bool {
    guard let v = value[key] else { return d }
    guard case .bool(let b) = v else { throw fail(key, "true or false") }
    return b
  }
  func string(_ key: String, default d: String? = nil) throws(CheckpointError) -> String {
    guard let v = value[key] else {
      if let d { return d }
      throw fail(key, "a string")
    }
    guard case .string(let s) = v else { throw fail(key, "a string") }
    return s
  }
  func ints(_ key: String, default d: [Int]) throws(CheckpointError) -> [Int] {
    guard let v = value[key] else { return d }
    guard case .array(let a) = v else { throw fail(key, "a list of integers") }
    var out: [Int] = []
    for e in a {
      guard case .number(let x) = e, x == x.rounded(), abs(x) < 1e9 else { throw fail(key, "a list of integers") }
      out.append(Int(x))
    }
    return out
  }
  func floats(_ key: String, default d: [Float]) throws(CheckpointError) -> [Float] {
    guard let v = value[key] else { return d }
    guard case .array(let a) = v else { throw fail(key, "a list of numbers") }
    var out: [Float] = []
    for e in a {
      guard case .number(let x) = e else { throw fail(key, "a list of numbers") }
      out.append(Float(x))
    }
    return out
  }
  func object(_ key: String) -> FieldReader? {
    guard let v = value[key], case .object = v else { return nil }
    return FieldReader(path: path, prefix: field(key), value: v)
  }
}

public enum HFConfig {
  static func readJSON(_ path: String, contents: Data? = nil) throws(CheckpointError) -> JSONValue {
    guard let data = contents ?? FileManager.default.contents(atPath: path) else {
      throw .unreadable(path: path, reason: "cannot read file")
    }
    do {
      let v = try JSONDecoder().decode(JSONValue.self, from: data)
      guard case .object = v else { throw CheckpointError.unreadable(path: path, reason: "not a JSON object") }
      return v
    } catch let e as CheckpointError {
      throw e
    } catch {
      throw .unreadable(path: path, reason: "invalid JSON (\(error))")
    }
  }

  static func activation(_ r: FieldReader, _ key: String, default d: String) throws(CheckpointError) -> Activation {
    switch try r.string(key, default: d) {
    case "gelu": .gelu
    case "relu": .relu
    default: throw r.fail(key, "\"gelu\" or \"relu\"")
    }
  }

  /// The `model_type` of a config.json ("maskformer" when absent, as MaskFormerConfig's files of old did not
  /// always say): which family's reader applies.
  public static func modelType(path: String) throws(CheckpointError) -> String {
    try FieldReader(path: path, prefix: "", value: try readJSON(path, contents: nil)).string("model_type", default: "maskformer")
  }

  /// config.json → MaskFormerConfig. Defaults are transformers' (swin-base backbone when absent).
  /// `contents`: the file's bytes when already in memory (`path` then only names it in errors).
  public static func maskFormer(path: String, contents: Data? = nil) throws(CheckpointError) -> MaskFormerConfig {
    let top = FieldReader(path: path, prefix: "", value: try readJSON(path, contents: contents))
    let modelType = try top.string("model_type", default: "maskformer")
    guard modelType == "maskformer" else { throw top.fail("model_type", "\"maskformer\"") }
    if try top.bool("use_auxiliary_loss", default: false) { throw top.fail("use_auxiliary_loss", "false") }

    let swin = try swinBackbone(top, acceptedTypes: ["swin", "maskformer-swin"])

    let d = top.object("decoder_config") ?? FieldReader(path: path, prefix: "decoder_config", value: .object([:]))
    guard try d.string("model_type", default: "detr") == "detr" else { throw d.fail("model_type", "\"detr\"") }
    if try d.bool("auxiliary_loss", default: false) { throw d.fail("auxiliary_loss", "false") }
    let dModel = try d.int("d_model", default: 256), dHeads = try d.int("decoder_attention_heads", default: 8)
    guard dHeads >= 1, dModel % dHeads == 0, dModel % 2 == 0 else {
      throw d.fail("decoder_attention_heads", "a divisor of d_model \(dModel)")
    }
    let detr = DetrConfig(
      dModel: dModel, layers: try d.int("decoder_layers", default: 6), heads: dHeads,
      ffnDim: try d.int("decoder_ffn_dim", default: 2048),
      activation: try activation(d, "activation_function", default: "relu"),
      numQueries: try d.int("num_queries", default: 100))

    let fpn = try top.int("fpn_feature_size", default: 256), mask = try top.int("mask_feature_size", default: 256)
    guard fpn % MaskFormerConfig.groupNormGroups == 0 else { throw top.fail("fpn_feature_size", "a multiple of 32") }
    let labels = try labelNames(top)
    return MaskFormerConfig(swin: swin, detr: detr, fpnFeatureSize: fpn, maskFeatureSize: mask, labels: labels)
  }

  /// The Swin backbone of either model (`backbone_config`, transformers' defaults: swin-base when absent).
  static func swinBackbone(_ top: FieldReader, acceptedTypes: [String]) throws(CheckpointError) -> SwinConfig {
    let b = top.object("backbone_config") ?? FieldReader(path: top.path, prefix: "backbone_config", value: .object([:]))
    let backboneType = try b.string("model_type", default: "swin")
    guard acceptedTypes.contains(backboneType) else {
      throw b.fail("model_type", acceptedTypes.map { "\"\($0)\"" }.joined(separator: " or ") + " (ResNet and other backbones are not supported)")
    }
    if try b.bool("use_absolute_embeddings", default: false) { throw b.fail("use_absolute_embeddings", "false") }
    guard try b.int("num_channels", default: 3) == 3 else { throw b.fail("num_channels", "3") }
    let depths = try b.ints("depths", default: [2, 2, 18, 2])
    let heads = try b.ints("num_heads", default: [4, 8, 16, 32])
    let embed = try b.int("embed_dim", default: 128)
    if let problem = SwinConfig.stageProblem(depths: depths, numHeads: heads, embedDim: embed) {
      throw b.fail(problem.field, problem.expected)
    }
    // Both pixel decoders take every stage the backbone outputs; a subset would change them.
    let stages = (1...depths.count).map { "stage\($0)" }
    if case .array(let names)? = b.value["out_features"] {
      guard names == stages.map(JSONValue.string) else { throw b.fail("out_features", "every stage in order \(stages)") }
    }
    let window = try b.int("window_size", default: 12)
    guard window >= 1 else { throw b.fail("window_size", "a positive integer") }
    let patch = try b.int("patch_size", default: 4)
    guard patch >= 1 else { throw b.fail("patch_size", "a positive integer") }
    return SwinConfig(
      embedDim: embed, depths: depths, numHeads: heads, windowSize: window, patchSize: patch,
      mlpRatio: try b.double("mlp_ratio", default: 4), qkvBias: try b.bool("qkv_bias", default: true),
      layerNormEps: Float(try b.double("layer_norm_eps", default: 1e-5)),
      hiddenAct: try activation(b, "hidden_act", default: "gelu"))
  }

  /// `id2label` in id order: ids 0 ..< K, at least one.
  static func labelNames(_ top: FieldReader) throws(CheckpointError) -> [String] {
    var labels: [String] = []
    if let ids = top.object("id2label"), case .object(let o) = ids.value {
      var byId: [Int: String] = [:]
      for (k, v) in o {
        guard let id = Int(k), case .string(let name) = v else { throw ids.fail(k, "a label string under an integer key") }
        byId[id] = name
      }
      guard Set(byId.keys) == Set(0..<byId.count) else { throw top.fail("id2label", "ids 0..<\(byId.count)") }
      labels = (0..<byId.count).map { byId[$0]! }
    }
    guard !labels.isEmpty else { throw top.fail("id2label", "at least one label") }
    return labels
  }

  /// config.json of a Mask2Former checkpoint (model_type "mask2former") → Mask2FormerConfig, refusing what
  /// ../shared/mask2former-spec.md does not cover (non-Swin backbones, absolute embeddings, pre-norm decoder
  /// layers, input projections, other strides) with the field and the expected vs found value. Defaults are
  /// transformers 5.24's (Mask2FormerConfig; its Swin when `backbone_config` is absent).
  public static func mask2Former(path: String, contents: Data? = nil) throws(CheckpointError) -> Mask2FormerConfig {
    let top = FieldReader(path: path, prefix: "", value: try readJSON(path, contents: contents))
    guard try top.string("model_type", default: "mask2former") == "mask2former" else { throw top.fail("model_type", "\"mask2former\"") }
    let swin = try swinBackbone(top, acceptedTypes: ["swin"])
    guard swin.stageCount == 4 else { throw top.fail("backbone_config", "a Swin of 4 stages (strides 4, 8, 16, 32)") }
    if try top.bool("pre_norm", default: false) { throw top.fail("pre_norm", "false") }
    if try top.bool("enforce_input_projection", default: false) { throw top.fail("enforce_input_projection", "false") }
    guard try top.int("common_stride", default: 4) == 4 else { throw top.fail("common_stride", "4") }
    guard try top.ints("feature_strides", default: [4, 8, 16, 32]) == [4, 8, 16, 32] else {
      throw top.fail("feature_strides", "[4, 8, 16, 32]")
    }
    let d = try top.int("hidden_dim", default: 256)
    guard try top.int("feature_size", default: 256) == d else { throw top.fail("feature_size", "hidden_dim (\(d))") }
    guard try top.int("mask_feature_size", default: 256) == d else { throw top.fail("mask_feature_size", "hidden_dim (\(d))") }
    guard d >= 1, d % Mask2FormerConfig.groupNormGroups == 0 else { throw top.fail("hidden_dim", "a positive multiple of 32") }
    let heads = try top.int("num_attention_heads", default: 8)
    guard heads >= 1, d % heads == 0 else { throw top.fail("num_attention_heads", "a divisor of hidden_dim \(d)") }
    let encoderLayers = try top.int("encoder_layers", default: 6), decoderLayers = try top.int("decoder_layers", default: 10)
    guard encoderLayers >= 1 else { throw top.fail("encoder_layers", "at least 1") }
    guard decoderLayers >= 1 else { throw top.fail("decoder_layers", "at least 1") }
    let encoderFFN = try top.int("encoder_feedforward_dim", default: 1024), decoderFFN = try top.int("dim_feedforward", default: 2048)
    guard encoderFFN >= 1 else { throw top.fail("encoder_feedforward_dim", "a positive integer") }
    guard decoderFFN >= 1 else { throw top.fail("dim_feedforward", "a positive integer") }
    let queries = try top.int("num_queries", default: 100)
    guard queries >= 1 else { throw top.fail("num_queries", "a positive integer") }
    return Mask2FormerConfig(swin: swin, hiddenDim: d, heads: heads, encoderLayers: encoderLayers, encoderFeedforward: encoderFFN,
                             decoderLayers: decoderLayers, decoderFeedforward: decoderFFN,
                             activation: try activation(top, "activation_function", default: "relu"), numQueries: queries,
                             labels: try labelNames(top))
  }

  /// preprocessor_config.json → PreprocessorConfig (transformers-4 keys `size`/`max_size`/
  /// `size_divisibility` and v5 keys `size: {shortest_edge, longest_edge}`/`size_divisor`).
  public static func preprocessor(path: String, contents: Data? = nil) throws(CheckpointError) -> PreprocessorConfig {
    let r = FieldReader(path: path, prefix: "", value: try readJSON(path, contents: contents))
    var size: PreprocessorConfig.Size
    if let s = r.object("size") {
      if s.value["shortest_edge"] != nil {
        size = .shortestEdge(try s.int("shortest_edge"), longestEdge: s.value["longest_edge"] == nil ? nil : try s.int("longest_edge"))
      } else if s.value["height"] != nil {
        size = .fixed(height: try s.int("height"), width: try s.int("width"))
      } else if s.value["max_height"] != nil {
        size = .maxSize(height: try s.int("max_height"), width: try s.int("max_width"))
      } else {
        throw r.fail("size", "{shortest_edge[, longest_edge]}, {height, width} or {max_height, max_width}")
      }
    } else if r.value["size"] != nil {
      // Legacy: an int shortest edge, with max_size as the longest edge (transformers 4 hub files).
      let s = try r.int("size")
      size = .shortestEdge(s, longestEdge: r.value["max_size"] == nil ? 1333 : try r.int("max_size"))
    } else {
      size = .shortestEdge(800, longestEdge: r.value["max_size"] == nil ? 1333 : try r.int("max_size"))
    }
    // v5 ignores the legacy size_divisibility key; size_divisor defaults to 32 either way.
    let divisor = try r.int("size_divisor", default: 32)
    let mean = try r.floats("image_mean", default: [0.485, 0.456, 0.406])
    let std = try r.floats("image_std", default: [0.229, 0.224, 0.225])
    guard mean.count == 3 else { throw r.fail("image_mean", "3 values") }
    guard std.count == 3, std.allSatisfy({ $0 > 0 }) else { throw r.fail("image_std", "3 positive values") }
    let resample = try r.int("resample", default: 2)
    guard resample == 2 else { throw r.fail("resample", "2 (PIL BILINEAR)") }
    return PreprocessorConfig(
      doResize: try r.bool("do_resize", default: true), size: size, sizeDivisor: divisor, resample: resample,
      doRescale: try r.bool("do_rescale", default: true),
      rescaleFactor: try r.double("rescale_factor", default: 1.0 / 255.0),
      doNormalize: try r.bool("do_normalize", default: true), imageMean: mean, imageStd: std)
  }
}
