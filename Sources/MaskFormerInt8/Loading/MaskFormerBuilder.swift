// MaskFormerBuilder: the one description of MaskFormerForInstanceSegmentation's tensors. Each block's
// file declares the tensors it reads (`init(_ prefix:, ..., from: TensorSource)`: the checkpoint's names,
// maskformer-spec.md §7, with every shape the config implies, in file order) and this composes the
// blocks from a tensor source (a Hugging Face checkpoint or an edge-seg model file). Everything else
// derives from it: the model file's validation (a checking source
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

extension TensorSource {
  /// `<p>.weight` and `<p>.bias` `[c]` of an `nn.LayerNorm`.
  public func layerNorm(_ p: String, _ c: Int, eps: Float = 1e-5) throws -> LayerNorm {
    LayerNorm(name: p, weight: try tensor(p + ".weight", shape: [c]), bias: try tensor(p + ".bias", shape: [c]), eps: eps)
  }
  /// `<p>.weight` and `<p>.bias` `[c]` of an `nn.GroupNorm(32, c)`.
  public func groupNorm(_ p: String, _ c: Int) throws -> GroupNorm {
    GroupNorm(name: p, weight: try tensor(p + ".weight", shape: [c]), bias: try tensor(p + ".bias", shape: [c]),
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
    return MaskFormer(config: c, backbone: try SwinBackbone("model.pixel_level_module.encoder.", c.swin, from: source),
                      pixelDecoder: try PixelDecoder("model.pixel_level_module.decoder.", c, from: source),
                      transformer: try TransformerModule("model.transformer_module.", c.detr, inputChannels: c.swin.lastChannels, from: source),
                      heads: try Heads(c, from: source))
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
