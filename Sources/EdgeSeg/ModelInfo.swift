// ModelInfo: what is inside a model file or a checkpoint folder, for people (`edge-seg info`) and
// tools (its JSON): architecture and sizes, labels, preprocessing, the precision of every layer (a
// summary per kind of layer plus the exceptions), calibration, the drift the file was converted to,
// and tensor counts and bytes. Reads the header and metadata only: no weight is touched.
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Converter

public struct ModelInfo: Sendable, Encodable {
  public struct Backbone: Sendable, Encodable {
    public var embed_dim: Int, depths: [Int], num_heads: [Int], window_size: Int, patch_size: Int, mlp_ratio: Double
  }
  public struct Decoder: Sendable, Encodable {
    public var d_model: Int, layers: Int, heads: Int, ffn_dim: Int, num_queries: Int
  }
  /// Mask2Former's pixel decoder and masked-attention decoder.
  public struct Mask2FormerDecoder: Sendable, Encodable {
    public var hidden_dim: Int, heads: Int, encoder_layers: Int, encoder_ffn_dim: Int, decoder_layers: Int, decoder_ffn_dim: Int,
               num_queries: Int
  }
  /// The model family and its configuration.
  public enum Family: Sendable {
    case maskFormer(MaskFormerConfig)
    case mask2Former(Mask2FormerConfig)
  }
  public struct Preprocessing: Sendable, Encodable {
    public var resize: String, size_divisor: Int, resample: Int
    public var rescale_factor: Double?
    public var image_mean: [Float]?
    public var image_std: [Float]?
  }
  /// Layers of one kind (their names with the block numbers replaced by `*`) and the precision most of them have.
  public struct LayerKind: Sendable, Encodable {
    public var kind: String, count: Int, precision: String
  }
  public struct Exception: Sendable, Encodable {
    public var layer: String, precision: String
  }
  public struct Calibration: Sendable, Encodable {
    public var method: String, images: Int, digest: String
  }
  public struct Drift: Sendable, Encodable {
    public var budget: String?
    public var pixel_disagreement_percent: Double?
    public var mask_logits_sqnr_db: Double?
    public var kept_float: [String]
  }

  public var path: String
  /// "edge-seg model file (format N)" or "Hugging Face checkpoint folder".
  public var format: String
  public var architecture: String
  /// float32, float16 or int8 (the file's); a checkpoint runs in float32.
  public var precision: String
  public var backbone: Backbone
  /// MaskFormer's DETR decoder (absent for Mask2Former).
  public var decoder: Decoder?
  /// Mask2Former's decoders (absent for MaskFormer).
  public var mask2former: Mask2FormerDecoder?
  /// MaskFormer's FPN width (absent for Mask2Former).
  public var fpn_feature_size: Int?
  public var mask_feature_size: Int
  public var labels: [String]
  public var preprocessing: Preprocessing
  public var layers: [LayerKind]
  public var layer_exceptions: [Exception]
  /// The converter's keep-float patterns (int8 files).
  public var keep_float: [String]?
  public var calibration: Calibration?
  public var drift: Drift?
  public var tensors: Int
  public var tensor_bytes: Int
  public var file_bytes: Int

  /// The information of the model at `path`: a model file or a checkpoint folder.
  public init(path: String) throws {
    if FileManager.default.fileExists(atPath: path + "/config.json") {
      let checkpoint = try openCheckpoint(directory: path)
      if let m2f = checkpoint as? Mask2FormerCheckpoint {
        try self.init(checkpoint: m2f, family: .mask2Former(m2f.config), architecture: ModelFileFormat.mask2FormerArchitecture)
      } else {
        let c = checkpoint as! Checkpoint
        try self.init(checkpoint: c, family: .maskFormer(c.config), architecture: ModelFileFormat.maskFormerArchitecture)
      }
    } else {
      try self.init(file: try ModelFile(path: path))
    }
  }

  public init(file: ModelFile) throws {
    let family: Family = file.isMask2Former ? .mask2Former(try file.mask2FormerConfig()) : .maskFormer(try file.config())
    let pre = try file.preprocessor()
    func string(_ k: String) -> String? { if case .string(let s)? = file.value(k) { return s } else { return nil } }
    func strings(_ k: String) -> [String]? { if case .strings(let s)? = file.value(k) { return s } else { return nil } }
    func double(_ k: String) -> Double? { if case .float(let d)? = file.value(k) { return d } else { return nil } }
    let precision = string("quant.precision") ?? "float32"
    let weights = file.tensors.filter { $0.name.hasSuffix(".weight") }.map { t -> (String, String) in
      let p: String
      switch t.dtype {
      case .qgemmI8x4N16, .i8: p = "int8"
      case .f16: p = "float16"
      case .f32, .i32: p = "float32"
      }
      return (String(t.name.dropLast(".weight".count)), p)
    }
    var calibration: Calibration?
    if let method = string("calibration.method") {
      calibration = Calibration(method: method, images: strings("calibration.images")?.count ?? 0, digest: string("calibration.image_digest") ?? "")
    }
    var drift: Drift?
    if string("quant.max_drift") != nil || double("quant.drift.pixel_disagreement_percent") != nil {
      drift = Drift(budget: string("quant.max_drift"), pixel_disagreement_percent: double("quant.drift.pixel_disagreement_percent"),
                    mask_logits_sqnr_db: double("quant.drift.mask_logits_sqnr_db"), kept_float: strings("quant.drift.kept_float") ?? [])
    }
    let bytes = file.tensors.reduce(0) { $0 + $1.byteCount }
    self.init(path: file.path, format: "edge-seg model file (format \(ModelFileFormat.version))",
              architecture: string("general.architecture") ?? ModelFileFormat.maskFormerArchitecture, precision: precision,
              family: family, preprocessor: pre, weights: weights, keepFloat: strings("quant.policy.keep_float"),
              calibration: calibration, drift: drift, tensors: file.tensors.count, tensorBytes: bytes, fileBytes: file.mapping.byteCount)
  }

  public init(checkpoint: Checkpoint) throws {
    try self.init(checkpoint: checkpoint, family: .maskFormer(checkpoint.config), architecture: ModelFileFormat.maskFormerArchitecture)
  }

  init(checkpoint: any ConvertibleCheckpoint, family: Family, architecture: String) throws {
    let entries = checkpoint.weights.entries
    let weights = entries.keys.filter { $0.hasSuffix(".weight") }.sorted().map { name -> (String, String) in
      let dtype = entries[name]!.dtype
      return (String(name.dropLast(".weight".count)), dtype == "F16" ? "float16" : dtype == "BF16" ? "bfloat16" : "float32")
    }
    let bytes = entries.values.reduce(0) { $0 + ($1.end - $1.begin) }
    var stored: [String: Int] = [:]
    for (_, p) in weights { stored[p, default: 0] += 1 }
    let main = stored.max { ($0.value, $1.key) < ($1.value, $0.key) }?.key ?? "float32"
    self.init(path: checkpoint.directory, format: "Hugging Face checkpoint folder", architecture: architecture,
              precision: main == "float32" ? "float32" : "\(main) weights, run in float32", family: family, preprocessor: checkpoint.preprocessor, weights: weights, keepFloat: nil,
              calibration: nil, drift: nil, tensors: entries.count, tensorBytes: bytes, fileBytes: checkpoint.weights.file.byteCount)
  }

  init(path: String, format: String, architecture: String, precision: String, family: Family, preprocessor p: PreprocessorConfig,
       weights: [(String, String)], keepFloat: [String]?, calibration: Calibration?, drift: Drift?, tensors: Int, tensorBytes: Int,
       fileBytes: Int) {
    self.path = path
    self.format = format
    self.architecture = architecture
    self.precision = precision
    let swin: SwinConfig
    switch family {
    case .maskFormer(let c):
      swin = c.swin
      decoder = Decoder(d_model: c.detr.dModel, layers: c.detr.layers, heads: c.detr.heads, ffn_dim: c.detr.ffnDim, num_queries: c.detr.numQueries)
      fpn_feature_size = c.fpnFeatureSize
      mask_feature_size = c.maskFeatureSize
      labels = c.labels
    case .mask2Former(let c):
      swin = c.swin
      mask2former = Mask2FormerDecoder(hidden_dim: c.hiddenDim, heads: c.heads, encoder_layers: c.encoderLayers,
                                       encoder_ffn_dim: c.encoderFeedforward, decoder_layers: c.decoderLayers,
                                       decoder_ffn_dim: c.decoderFeedforward, num_queries: c.numQueries)
      mask_feature_size = c.hiddenDim
      labels = c.labels
    }
    backbone = Backbone(embed_dim: swin.embedDim, depths: swin.depths, num_heads: swin.numHeads, window_size: swin.windowSize,
                        patch_size: swin.patchSize, mlp_ratio: swin.mlpRatio)
    let resize: String
    switch p.size {
    case .shortestEdge(let s, let l): resize = "shortest edge \(s)" + (l.map { ", longest edge at most \($0)" } ?? "")
    case .fixed(let h, let w): resize = "fixed \(w)x\(h)"
    case .maxSize(let h, let w): resize = "fit inside \(w)x\(h)"
    }
    preprocessing = Preprocessing(resize: p.doResize ? resize : "none", size_divisor: p.sizeDivisor, resample: p.resample,
                                  rescale_factor: p.doRescale ? p.rescaleFactor : nil, image_mean: p.doNormalize ? p.imageMean : nil,
                                  image_std: p.doNormalize ? p.imageStd : nil)
    (layers, layer_exceptions) = Self.summarize(weights)
    keep_float = keepFloat
    self.calibration = calibration
    self.drift = drift
    self.tensors = tensors
    tensor_bytes = tensorBytes
    file_bytes = fileBytes
  }

  /// Layers grouped by kind (numeric name components replaced by `*`), each kind's most common precision,
  /// and the layers that differ from their kind's.
  static func summarize(_ weights: [(name: String, precision: String)]) -> ([LayerKind], [Exception]) {
    // Block numbers (a numeric component followed by more names) become `*`; a last numeric component is a
    // module's place in a sequence (a conv and its norm) and stays.
    func kind(_ name: String) -> String {
      let parts = name.split(separator: ".", omittingEmptySubsequences: false)
      return parts.enumerated().map { i, p in i < parts.count - 1 && !p.isEmpty && p.allSatisfy(\.isNumber) ? "*" : String(p) }
        .joined(separator: ".")
    }
    var order: [String] = [], members: [String: [(String, String)]] = [:]
    for w in weights {
      let k = kind(w.name)
      if members[k] == nil { order.append(k) }
      members[k, default: []].append(w)
    }
    var kinds: [LayerKind] = [], exceptions: [Exception] = []
    for k in order {
      let m = members[k]!
      var counts: [String: Int] = [:]
      for (_, p) in m { counts[p, default: 0] += 1 }
      let main = counts.max { ($0.value, $1.key) < ($1.value, $0.key) }!.key
      kinds.append(LayerKind(kind: k, count: m.count, precision: main))
      for (name, p) in m where p != main { exceptions.append(Exception(layer: name, precision: p)) }
    }
    return (kinds, exceptions)
  }

  /// The information as a person reads it.
  public var text: String {
    func fixed(_ x: Double, _ digits: Int) -> String {
      var p = 1.0
      for _ in 0..<digits { p *= 10 }
      let r = (x * p).rounded() / p
      var t = "\(r)"
      if let dot = t.firstIndex(of: ".") {
        let have = t.distance(from: dot, to: t.endIndex) - 1
        if have < digits { t += String(repeating: "0", count: digits - have) }
      }
      return t
    }
    func mib(_ b: Int) -> String { fixed(Double(b) / 1_048_576, 1) + " MiB" }
    func pad(_ s: String) -> String { s + String(repeating: " ", count: Swift.max(0, 8 - s.count)) }
    var lines: [String] = []
    lines.append("\(path): \(format)")
    lines.append("architecture: \(architecture), precision \(precision)")
    let b = backbone, p = preprocessing
    lines.append("backbone: Swin, embed dim \(b.embed_dim), depths \(b.depths), heads \(b.num_heads), window \(b.window_size), "
                 + "patch \(b.patch_size), MLP ratio \(b.mlp_ratio)")
    if let d = decoder {
      lines.append("decoder: DETR, d_model \(d.d_model), \(d.layers) layers, \(d.heads) heads, FFN \(d.ffn_dim), \(d.num_queries) queries; "
                   + "FPN \(fpn_feature_size ?? 0), mask features \(mask_feature_size)")
    }
    if let m = mask2former {
      lines.append("pixel decoder: \(m.encoder_layers) deformable-attention layers, width \(m.hidden_dim), \(m.heads) heads, FFN \(m.encoder_ffn_dim)")
      lines.append("decoder: masked attention, \(m.decoder_layers - 1) layers, \(m.heads) heads, FFN \(m.decoder_ffn_dim), \(m.num_queries) queries")
    }
    lines.append("labels (\(labels.count)): " + labels.joined(separator: ", "))
    var pre = "preprocessing: resize \(p.resize)"
    if p.size_divisor > 0 { pre += ", size divisor \(p.size_divisor)" }
    if let r = p.rescale_factor { pre += ", rescale \(r)" }
    if let m = p.image_mean { pre += ", mean \(m), std \(p.image_std ?? [])" }
    lines.append(pre)
    let withWeights = layers.reduce(0) { $0 + $1.count }
    lines.append("layers (\(withWeights) with weights, by kind):")
    for k in layers { lines.append("  \(pad(k.precision)) x\(k.count)  \(k.kind)") }
    if !layer_exceptions.isEmpty {
      lines.append("exceptions (\(layer_exceptions.count)):")
      for e in layer_exceptions { lines.append("  \(pad(e.precision)) \(e.layer)") }
    }
    if let keep = keep_float, !keep.isEmpty { lines.append("kept float by policy: " + keep.joined(separator: ", ")) }
    if let c = calibration { lines.append("calibration: \(c.method) on \(c.images) images, digest \(c.digest)") }
    if let dr = drift {
      var parts: [String] = []
      if let b = dr.budget { parts.append("budget: " + b) }
      if let x = dr.pixel_disagreement_percent { parts.append("pixel disagreement " + fixed(x, 3) + " %") }
      if let x = dr.mask_logits_sqnr_db { parts.append("mask-logit SQNR " + fixed(x, 1) + " dB") }
      if !dr.kept_float.isEmpty { parts.append("kept float to meet it: " + dr.kept_float.joined(separator: ", ")) }
      lines.append("drift: " + parts.joined(separator: "; "))
    }
    lines.append("tensors: \(tensors), \(mib(tensor_bytes)) (file \(mib(file_bytes)))")
    return lines.joined(separator: "\n")
  }
}
