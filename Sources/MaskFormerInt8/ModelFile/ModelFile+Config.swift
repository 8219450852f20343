// ModelFile+Config: the model configuration read back from metadata, and the check that every tensor
// the graph needs is present with the shape the configuration implies, before any kernel sees a pointer.
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

  /// The model configuration stored by `edge-seg convert`.
  public func config() throws -> MaskFormerConfig {
    let depths = try ints("swin.depths"), heads = try ints("swin.num_heads"), embed = try int("swin.embed_dim")
    if let problem = SwinConfig.stageProblem(depths: depths, numHeads: heads, embedDim: embed) {
      throw ModelFileError.malformed(path: path, reason: "metadata swin.\(problem.field) must be \(problem.expected)")
    }
    let swin = SwinConfig(embedDim: embed, depths: depths, numHeads: heads, windowSize: try int("swin.window_size"),
                          patchSize: try int("swin.patch_size"), mlpRatio: try double("swin.mlp_ratio"),
                          qkvBias: try int("swin.qkv_bias") != 0, layerNormEps: Float(try double("swin.layer_norm_eps")),
                          hiddenAct: try activation("swin.hidden_act"))
    let detr = DetrConfig(dModel: try int("detr.d_model"), layers: try int("detr.layers"), heads: try int("detr.heads"),
                          ffnDim: try int("detr.ffn_dim"), activation: try activation("detr.activation"),
                          numQueries: try int("detr.num_queries"))
    guard case .strings(let labels) = value("maskformer.labels"), !labels.isEmpty else {
      throw ModelFileError.malformed(path: path, reason: "metadata maskformer.labels missing")
    }
    guard swin.windowSize > 0, swin.patchSize > 0, detr.heads > 0, detr.dModel % detr.heads == 0 else {
      throw ModelFileError.malformed(path: path, reason: "inconsistent configuration")
    }
    return MaskFormerConfig(swin: swin, detr: detr, fpnFeatureSize: try int("maskformer.fpn_feature_size"),
                            maskFeatureSize: try int("maskformer.mask_feature_size"), labels: labels)
  }

  /// Every tensor the graph reads, present with the shape `config` implies (a Linear/conv either as one
  /// `qgemm` tensor `[N, K]` or as float weight and bias), and nothing else.
  public func validateShapes(_ c: MaskFormerConfig) throws {
    var expected: [(name: String, shape: [Int])] = []
    var layers: [(name: String, out: Int, k: Int, weightShape: [Int], bias: Bool)] = []
    func linear(_ n: String, _ o: Int, _ i: Int, bias: Bool = true) { layers.append((n, o, i, [o, i], bias)) }
    func conv(_ n: String, _ o: Int, _ i: Int, _ k: Int, bias: Bool) { layers.append((n, o, i * k * k, [o, i, k, k], bias)) }
    func norm(_ n: String, _ ch: Int) { expected += [(n + ".weight", [ch]), (n + ".bias", [ch])] }
    let e = "model.pixel_level_module.encoder.", s = c.swin
    conv(e + "model.embeddings.patch_embeddings.projection", s.embedDim, 3, s.patchSize, bias: true)
    norm(e + "model.embeddings.norm", s.embedDim)
    for st in 0..<s.stageCount {
      let ch = s.channels(stage: st), w2 = s.windowSize * s.windowSize
      for b in 0..<s.depths[st] {
        let p = e + "model.encoder.layers.\(st).blocks.\(b)."
        norm(p + "layernorm_before", ch)
        for q in ["query", "key", "value"] { linear(p + "attention.self." + q, ch, ch, bias: s.qkvBias) }
        expected.append((p + "attention.self.relative_position_bias", [s.numHeads[st], w2, w2]))
        linear(p + "attention.output.dense", ch, ch)
        norm(p + "layernorm_after", ch)
        linear(p + "intermediate.dense", s.mlpHidden(stage: st), ch)
        linear(p + "output.dense", ch, s.mlpHidden(stage: st))
      }
      if st < s.stageCount - 1 {
        norm(e + "model.encoder.layers.\(st).downsample.norm", 4 * ch)
        linear(e + "model.encoder.layers.\(st).downsample.reduction", 2 * ch, 4 * ch, bias: false)
      }
    }
    for st in 0..<s.stageCount { norm(e + "hidden_states_norms.\(st)", s.channels(stage: st)) }
    let d = "model.pixel_level_module.decoder.", f = c.fpnFeatureSize
    conv(d + "fpn.stem.0", f, s.lastChannels, 3, bias: false)
    norm(d + "fpn.stem.1", f)
    for i in 0..<s.stageCount - 1 {
      conv(d + "fpn.layers.\(i).proj.0", f, s.channels(stage: s.stageCount - 2 - i), 1, bias: false)
      norm(d + "fpn.layers.\(i).proj.1", f)
      conv(d + "fpn.layers.\(i).block.0", f, f, 3, bias: false)
      norm(d + "fpn.layers.\(i).block.1", f)
    }
    conv(d + "mask_projection", c.maskFeatureSize, f, 3, bias: true)
    let t = "model.transformer_module.", dm = c.detr.dModel
    if s.lastChannels != dm { conv(t + "input_projection", dm, s.lastChannels, 1, bias: true) }
    expected.append((t + "queries_embedder.weight", [c.detr.numQueries, dm]))
    for l in 0..<c.detr.layers {
      let p = t + "decoder.layers.\(l)."
      for a in ["self_attn", "encoder_attn"] {
        for q in ["q_proj", "k_proj", "v_proj", "out_proj"] { linear(p + a + "." + q, dm, dm) }
      }
      norm(p + "self_attn_layer_norm", dm)
      norm(p + "encoder_attn_layer_norm", dm)
      linear(p + "fc1", c.detr.ffnDim, dm)
      linear(p + "fc2", dm, c.detr.ffnDim)
      norm(p + "final_layer_norm", dm)
    }
    norm(t + "decoder.layernorm", dm)
    linear("class_predictor", c.numLabels + 1, dm)
    linear("mask_embedder.0.0", dm, dm)
    linear("mask_embedder.1.0", dm, dm)
    linear("mask_embedder.2.0", c.maskFeatureSize, dm)

    var byName: [String: TensorEntry] = [:]
    for t in tensors {
      guard byName.updateValue(t, forKey: t.name) == nil else { throw ModelFileError.malformed(path: path, reason: "tensor \(t.name) appears twice") }
    }
    var used = Set<String>()
    func check(_ name: String, _ shape: [Int], float: Bool = true) throws {
      guard let t = byName[name] else { throw ModelFileError.malformed(path: path, reason: "tensor \(name) is missing") }
      guard t.dims == shape else { throw ModelFileError.malformed(path: path, reason: "tensor \(name) has shape \(t.dims), the configuration implies \(shape)") }
      if float { guard t.dtype == .f32 || t.dtype == .f16 else { throw ModelFileError.malformed(path: path, reason: "tensor \(name) has dtype \(t.dtype), expected f32 or f16") } }
      used.insert(name)
    }
    for (name, shape) in expected { try check(name, shape) }
    for l in layers {
      let w = l.name + ".weight"
      if let t = byName[w], t.dtype == .qgemmI8x4N16 {
        guard t.dims == [l.out, l.k] else { throw ModelFileError.malformed(path: path, reason: "tensor \(w) has shape \(t.dims), the configuration implies [\(l.out), \(l.k)]") }
        guard t.input != nil else { throw ModelFileError.malformed(path: path, reason: "int8 tensor \(w) has no input quantization") }
        used.insert(w)
      } else {
        try check(w, l.weightShape)
        if l.bias { try check(l.name + ".bias", [l.out]) }
      }
    }
    if let extra = tensors.first(where: { !used.contains($0.name) }) {
      throw ModelFileError.malformed(path: path, reason: "tensor \(extra.name) is not part of this model")
    }
  }
}
