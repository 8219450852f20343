// ModelFile+Model: a converted model file as a MaskFormer: float tensors used in place in the mapping
// (f16 widened once), int8 layers as packed weights in place, nothing repacked.
import Kernels
import Quant

/// A model file as the builder's tensor source: float tensors in place (f16 widened once), int8
/// layers as packed weights in place; every tensor it hands out is checked against the shape the
/// builder asks for and remembered, so that tensors the model never reads can be refused.
final class ModelFileSource: TensorSource {
  let file: ModelFile
  private(set) var used = Set<String>()
  private var byName: [String: TensorEntry] = [:]

  init(_ file: ModelFile) throws {
    self.file = file
    for t in file.tensors {
      guard byName.updateValue(t, forKey: t.name) == nil else { throw malformed("tensor \(t.name) appears twice") }
    }
  }

  func malformed(_ reason: String) -> ModelFileError { .malformed(path: file.path, reason: reason) }

  func tensor(_ name: String, shape: [Int]) throws -> WeightTensor {
    guard let t = byName[name] else { throw malformed("tensor \(name) is missing") }
    guard t.dims == shape else { throw malformed("tensor \(name) has shape \(t.dims), the configuration implies \(shape)") }
    used.insert(name)
    let mapping = file.mapping
    switch t.dtype {
    case .f32:
      return WeightTensor(storage: mapping, pointer: (mapping.base + t.offset).assumingMemoryBound(to: Float.self), shape: shape, name: name)
    case .f16:
      let heap = HeapWeights(count: t.byteCount / 2)
      let src = mapping.base + t.offset
      for i in 0..<heap.count { heap.pointer[i] = Half.toFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
      return WeightTensor(storage: heap, pointer: UnsafePointer(heap.pointer), shape: shape, name: name)
    default:
      throw malformed("tensor \(name) has dtype \(t.dtype), expected f32 or f16")
    }
  }

  func quantized(_ m: ModulePath, n: Int, k: Int) throws -> QuantizedWeights? {
    let w = m.key("weight")
    guard let t = byName[w], t.dtype == .qgemmI8x4N16 else { return nil }
    guard t.dims == [n, k] else { throw malformed("tensor \(w) has shape \(t.dims), the configuration implies [\(n), \(k)]") }
    guard let input = t.input else { throw malformed("int8 tensor \(w) has no input quantization") }
    used.insert(w)
    return QuantizedWeights(storage: file.mapping, weights: QGEMMWeights(base: file.mapping.base + t.offset, n: n, k: k), input: input,
                            output: t.output)
  }

  func linear(_ m: ModulePath, out: Int, in inF: Int, bias: Bool) throws -> Linear {
    if let q = try quantized(m, n: out, k: inF) { return Linear(name: m, quantized: q) }
    return Linear(name: m, weight: try tensor(m.key("weight"), shape: [out, inF]), bias: bias ? try tensor(m.key("bias"), shape: [out]) : nil)
  }

  func conv(_ m: ModulePath, out: Int, in inC: Int, kernel k: Int, bias: Bool) throws -> Conv2d {
    if let q = try quantized(m, n: out, k: inC * k * k) { return Conv2d(name: m, inChannels: inC, kernelSize: k, quantized: q) }
    return Conv2d(name: m, weight: try tensor(m.key("weight"), shape: [out, inC, k, k]), bias: bias ? try tensor(m.key("bias"), shape: [out]) : nil)
  }

  func relativePositionBias(_ attention: ModulePath, heads: Int, window w: Int) throws -> (table: WeightTensor?, gathered: WeightTensor?) {
    (nil, try tensor(attention.key("relative_position_bias"), shape: [heads, w * w, w * w]))
  }

  /// Refuses the first tensor of the file that the build did not read.
  func checkAllUsed() throws {
    if let extra = file.tensors.first(where: { !used.contains($0.name) }) { throw malformed("tensor \(extra.name) is not part of this model") }
  }
}

extension ModelFile {
  /// The preprocessing stored by `edge-seg convert`.
  public func preprocessor() throws -> PreprocessorConfig {
    let size = try ints("preprocess.size")
    guard size.count == 3 else { throw ModelFileError.malformed(path: path, reason: "metadata preprocess.size has \(size.count) values") }
    let rule: PreprocessorConfig.Size
    switch size[0] {
    case 0: rule = .shortestEdge(size[1], longestEdge: size[2] == 0 ? nil : size[2])
    case 1: rule = .fixed(height: size[1], width: size[2])
    case 2: rule = .maxSize(height: size[1], width: size[2])
    default: throw ModelFileError.malformed(path: path, reason: "metadata preprocess.size kind \(size[0])")
    }
    guard case .floats(let mean) = value("preprocess.image_mean"), case .floats(let std) = value("preprocess.image_std"),
          mean.count == 3, std.count == 3, std.allSatisfy({ $0 > 0 }) else {
      throw ModelFileError.malformed(path: path, reason: "metadata preprocess.image_mean/std missing or invalid")
    }
    return PreprocessorConfig(doResize: try int("preprocess.do_resize") != 0, size: rule, sizeDivisor: try int("preprocess.size_divisor"),
                              resample: try int("preprocess.resample"), doRescale: try int("preprocess.do_rescale") != 0,
                              rescaleFactor: try double("preprocess.rescale_factor"), doNormalize: try int("preprocess.do_normalize") != 0,
                              imageMean: mean, imageStd: std)
  }

  /// The whole model, built from the stored configuration: every tensor present with the shape the
  /// configuration implies (a Linear/conv as one `qgemm` tensor `[N, K]` or as float weight and bias),
  /// and nothing else, before any kernel sees a pointer.
  public func model() throws -> MaskFormer { try model(config()) }

  /// The model for `config`, refusing the file if its tensors do not make exactly that model.
  public func model(_ config: MaskFormerConfig) throws -> MaskFormer {
    let source = try ModelFileSource(self)
    let model = try MaskFormerBuilder(source: source, config: config).model()
    try source.checkAllUsed()
    return model
  }

  /// The model of either family, as the file's `general.architecture` says.
  public func network() throws -> any SegmentationNetwork {
    guard isMask2Former else { return try model() }
    let source = try ModelFileSource(self)
    let model = try Mask2Former(config: try mask2FormerConfig(), from: source)
    try source.checkAllUsed()
    return model
  }

  /// Checks the tensors against `config` (builds the model, which reads no weight bytes but f16).
  public func validateShapes(_ config: MaskFormerConfig) throws { _ = try model(config) }
}
