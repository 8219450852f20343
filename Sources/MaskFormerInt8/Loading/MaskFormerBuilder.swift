// MaskFormerBuilder: the one description of MaskFormerForInstanceSegmentation's tensors. Each block's
// file declares the tensors it reads (`init(_ prefix:, ..., from: TensorSource)`: the checkpoint's names,
// maskformer-spec.md §7, with every shape the config implies, in file order) and this composes the
// blocks from a tensor source (a Hugging Face checkpoint or an edge-seg model file). Everything else
// derives from it: the model file's validation (a checking source
// that also reports tensors the build never read), the converter's tensor plan (the requests a
// `RecordingSource` saw, in order), and the refusals of missing and mis-shaped tensors. Unused
// checkpoint tensors (model.layernorm, relative_position_index, criterion.empty_weight) are not read.
import Kernels

/// Where weights come from: tensors by file key and shape; Linear and conv layers by module path, float
/// or packed int8; a Swin block's relative position bias as its table or already gathered.
public protocol TensorSource {
  func tensor(_ key: String, shape: [Int]) throws -> WeightTensor
  func linear(_ m: ModulePath, out: Int, in: Int, bias: Bool) throws -> Linear
  func conv(_ m: ModulePath, out: Int, in: Int, kernel: Int, bias: Bool) throws -> Conv2d
  /// `(table [(2w−1)², heads], nil)` from a checkpoint, or `(nil, gathered [heads, w², w²])` from a model file.
  func relativePositionBias(_ attention: ModulePath, heads: Int, window: Int) throws -> (table: WeightTensor?, gathered: WeightTensor?)
}

extension TensorSource {
  public func linear(_ m: ModulePath, out: Int, in inF: Int, bias: Bool) throws -> Linear {
    Linear(name: m, weight: try tensor(m.key("weight"), shape: [out, inF]), bias: bias ? try tensor(m.key("bias"), shape: [out]) : nil)
  }
  public func conv(_ m: ModulePath, out: Int, in inC: Int, kernel k: Int, bias: Bool) throws -> Conv2d {
    Conv2d(name: m, weight: try tensor(m.key("weight"), shape: [out, inC, k, k]), bias: bias ? try tensor(m.key("bias"), shape: [out]) : nil)
  }
  public func relativePositionBias(_ attention: ModulePath, heads: Int, window w: Int) throws -> (table: WeightTensor?, gathered: WeightTensor?) {
    (try tensor(attention.key("relative_position_bias_table"), shape: [(2 * w - 1) * (2 * w - 1), heads]), nil)
  }
}

extension TensorSource {
  /// `<m>.weight` and `<m>.bias` `[c]` of an `nn.LayerNorm`.
  public func layerNorm(_ m: ModulePath, _ c: Int, eps: Float = 1e-5) throws -> LayerNorm {
    LayerNorm(name: m, weight: try tensor(m.key("weight"), shape: [c]), bias: try tensor(m.key("bias"), shape: [c]), eps: eps)
  }
  /// `<m>.weight` and `<m>.bias` `[c]` of an `nn.GroupNorm(32, c)`.
  public func groupNorm(_ m: ModulePath, _ c: Int) throws -> GroupNorm {
    GroupNorm(name: m, weight: try tensor(m.key("weight"), shape: [c]), bias: try tensor(m.key("bias"), shape: [c]),
              groups: MaskFormerConfig.groupNormGroups)
  }
}

/// The whole model from a source: each block declares its own tensors (an `init(_:..., from:)` in its
/// file, in the order the file stores them); this composes them under HF's module prefixes.
public struct MaskFormerBuilder {
  let source: any TensorSource
  let config: MaskFormerConfig

  public init(source: any TensorSource, config: MaskFormerConfig) {
    self.source = source
    self.config = config
  }

  public func model() throws -> MaskFormer {
    let c = config
    let pixelLevel = ModulePath("model.pixel_level_module")
    return MaskFormer(config: c, backbone: try SwinBackbone(pixelLevel.child("encoder"), c.swin, from: source),
                      pixelDecoder: try PixelDecoder(pixelLevel.child("decoder"), c, from: source),
                      transformer: try TransformerModule(ModulePath("model.transformer_module"), c.detr, inputChannels: c.swin.lastChannels,
                                                         from: source),
                      heads: try Heads(c, from: source))
  }
}

/// One request the builder made of its tensor source. In order, they are the model's tensor list:
/// the converter writes them in this order, and a model file must hold exactly them.
public enum TensorRequest: Sendable, Equatable {
  case tensor(name: String, shape: [Int])
  case linear(name: ModulePath, out: Int, in: Int, bias: Bool)
  case conv(name: ModulePath, out: Int, in: Int, kernel: Int, bias: Bool)
  /// A Swin block's relative position bias: `<attention>.relative_position_bias_table` in a checkpoint,
  /// `<attention>.relative_position_bias` (gathered) in a model file.
  case relativePositionBias(attention: ModulePath, heads: Int, window: Int)
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
  public func linear(_ m: ModulePath, out: Int, in inF: Int, bias: Bool) throws -> Linear {
    requests.append(.linear(name: m, out: out, in: inF, bias: bias))
    return try base.linear(m, out: out, in: inF, bias: bias)
  }
  public func conv(_ m: ModulePath, out: Int, in inC: Int, kernel k: Int, bias: Bool) throws -> Conv2d {
    requests.append(.conv(name: m, out: out, in: inC, kernel: k, bias: bias))
    return try base.conv(m, out: out, in: inC, kernel: k, bias: bias)
  }
  public func relativePositionBias(_ attention: ModulePath, heads: Int, window w: Int) throws -> (table: WeightTensor?, gathered: WeightTensor?) {
    requests.append(.relativePositionBias(attention: attention, heads: heads, window: w))
    return try base.relativePositionBias(attention, heads: heads, window: w)
  }
}
