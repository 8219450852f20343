// WeightTensor: a float32 weight read in place from its owner (a memory-mapped checkpoint, or a heap
// buffer when the file holds F16/BF16 or a misaligned F32 tensor), plus the layer structs built on it.
import Kernels
import Quant
import Synchronization

/// Keeps the bytes behind `WeightTensor`s alive: a mapping or a heap copy.
public protocol WeightStorage: AnyObject {
  /// Tells the OS the bytes are not needed for now (a mapping drops its pages; they are read again
  /// from the file on next use). Heap storage ignores it.
  func release(_ start: UnsafeRawPointer, byteCount: Int)
}

extension WeightStorage {
  public func release(_ start: UnsafeRawPointer, byteCount: Int) {}
}

extension WeightTensor {
  /// See `WeightStorage.release`.
  public func release() { storage.release(UnsafeRawPointer(pointer), byteCount: count * 4) }
}

/// A read-only float32 tensor. Holding `storage` keeps `pointer` valid, so the struct can be passed freely.
public struct WeightTensor {
  public let storage: any WeightStorage
  public let pointer: UnsafePointer<Float>
  public let shape: [Int]
  /// Where it came from (the checkpoint's tensor name); labels calibration statistics and file entries.
  public let name: String

  public init(storage: any WeightStorage, pointer: UnsafePointer<Float>, shape: [Int], name: String = "") {
    self.storage = storage
    self.pointer = pointer
    self.shape = shape
    self.name = name
  }

  public var count: Int { shape.reduce(1, *) }
  @inlinable public subscript(i: Int) -> Float { pointer[i] }
}

/// Packed int8 weights of a Linear or conv, read in place from a model file, with the calibrated
/// quantization of the layer's input (and output).
public struct QuantizedWeights {
  public let storage: any WeightStorage
  public let weights: QGEMMWeights
  public let input: QuantParams
  public let output: QuantParams?

  /// `[weights.k]`: a Linear's one K segment, made once (an array per GEMM call was a malloc each; issue 19).
  let linearSegments: [Int]

  public init(storage: any WeightStorage, weights: QGEMMWeights, input: QuantParams, output: QuantParams?) {
    self.storage = storage
    self.weights = weights
    self.input = input
    self.output = output
    linearSegments = [weights.k]
  }
}

/// A Linear's or conv's weights: float (weight and optional bias, in place), or packed int8 with the
/// bias folded into the panels and the calibrated activation parameters.
public enum LayerWeights {
  case float(weight: WeightTensor, bias: WeightTensor?)
  case int8(QuantizedWeights)
}

/// The accessors both layer kinds share.
public protocol WeightedLayer {
  var weights: LayerWeights { get }
}

extension WeightedLayer {
  /// The packed int8 weights, nil for a float layer.
  public var quantized: QuantizedWeights? { if case .int8(let q) = weights { q } else { nil } }
  /// The float weight, nil for an int8 layer.
  public var weight: WeightTensor? { if case .float(let w, _) = weights { w } else { nil } }
  /// The float bias, nil for an int8 layer (folded) or a layer without one.
  public var bias: WeightTensor? { if case .float(_, let b) = weights { b } else { nil } }
}

/// `y = x·Wᵀ + b`, W `[out, in]` (HF `nn.Linear`).
public struct Linear: WeightedLayer {
  /// The module's path (its checkpoint name without `.weight`, typed).
  public let name: ModulePath
  public let outFeatures: Int
  public let inFeatures: Int
  public let weights: LayerWeights

  public init(name: ModulePath, weight: WeightTensor, bias: WeightTensor?) {
    precondition(weight.shape.count == 2, "Linear weight must be 2-D, got \(weight.shape)")
    self.name = name
    self.outFeatures = weight.shape[0]
    self.inFeatures = weight.shape[1]
    self.weights = .float(weight: weight, bias: bias)
    f32Segments = [F32MatrixView(base: weight.pointer, rows: outFeatures, cols: inFeatures, rowStride: inFeatures, colStride: 1)]
  }

  public init(name: ModulePath, quantized: QuantizedWeights) {
    self.name = name
    self.outFeatures = quantized.weights.n
    self.inFeatures = quantized.weights.k
    self.weights = .int8(quantized)
    f32Segments = []
  }

  /// A float layer's weight as the F32 GEMM's one segment (made once: an array per call was a heap allocation).
  let f32Segments: [F32MatrixView]

  /// Whether `outputs(range)` can take these output features: any for a float layer, whole panels of
  /// `QGEMMPanelLayout.channels` for an int8 one.
  func canSlice(_ r: Range<Int>) -> Bool {
    let p = QGEMMPanelLayout.channels
    return quantized == nil || (r.lowerBound % p == 0 && (r.count % p == 0 || r.upperBound == outFeatures))
  }

  /// The layer restricted to output features `r` (rows of W and b, or the int8 panels holding them, with
  /// their scales and folded bias), read in place: its outputs are the same values as those of the whole layer.
  public func outputs(_ r: Range<Int>) -> Linear {
    precondition(r.lowerBound >= 0 && r.upperBound <= outFeatures && canSlice(r), "\(name): cannot take outputs \(r) of \(outFeatures)")
    switch weights {
    case .float(let w, let b):
      return Linear(name: name, weight: WeightTensor(storage: w.storage, pointer: w.pointer + r.lowerBound * inFeatures, shape: [r.count, inFeatures], name: w.name),
                    bias: b.map { WeightTensor(storage: $0.storage, pointer: $0.pointer + r.lowerBound, shape: [r.count], name: $0.name) })
    case .int8(let q):
      let w = q.weights
      return Linear(name: name, quantized: QuantizedWeights(storage: q.storage, weights: QGEMMWeights(
        base: w.base + r.lowerBound / QGEMMPanelLayout.channels * w.panelBytes, n: r.count, k: w.k), input: q.input, output: q.output))
    }
  }

}

/// LayerNorm over the last dimension (HF `nn.LayerNorm`, biased variance, affine).
public struct LayerNorm {
  /// The module's path (its checkpoint name without `.weight`, typed).
  public let name: ModulePath
  public let weight: WeightTensor
  public let bias: WeightTensor
  public let eps: Float

  public init(name: ModulePath, weight: WeightTensor, bias: WeightTensor, eps: Float) {
    self.name = name
    self.weight = weight
    self.bias = bias
    self.eps = eps
  }

  public var channels: Int { weight.count }
}

/// 2-D convolution weight `[out, in, kh, kw]` with optional bias (stride 1, "same" padding here), or
/// packed int8 weights with K tap-major (`k = (ky·kw + kx)·in + ci`).
public struct Conv2d: WeightedLayer {
  /// The module's path (its checkpoint name without `.weight`, typed).
  public let name: ModulePath
  public let outChannels: Int
  public let inChannels: Int
  public let kernelSize: Int
  public let weights: LayerWeights

  public init(name: ModulePath, weight: WeightTensor, bias: WeightTensor?) {
    precondition(weight.shape.count == 4, "Conv2d weight must be 4-D, got \(weight.shape)")
    self.name = name
    self.outChannels = weight.shape[0]
    self.inChannels = weight.shape[1]
    self.kernelSize = weight.shape[2]
    self.weights = .float(weight: weight, bias: bias)
    self.winograd = nil
    tapSegments = [Int](repeating: inChannels, count: kernelSize * kernelSize)
    let (taps, cin, cout) = (kernelSize * kernelSize, inChannels, outChannels)
    f32TapSegments = (0..<taps).map { t in
      F32MatrixView(base: weight.pointer + t, rows: cout, cols: cin, rowStride: cin * taps, colStride: taps)
    }
  }

  public init(name: ModulePath, inChannels: Int, kernelSize: Int, quantized: QuantizedWeights) {
    precondition(quantized.weights.k == inChannels * kernelSize * kernelSize, "\(name): K \(quantized.weights.k) != \(inChannels)·\(kernelSize)²")
    self.name = name
    self.outChannels = quantized.weights.n
    self.inChannels = inChannels
    self.kernelSize = kernelSize
    self.weights = .int8(quantized)
    self.winograd = kernelSize == 3 && inChannels % 4 == 0 ? WinogradCache() : nil
    tapSegments = [Int](repeating: inChannels, count: kernelSize * kernelSize)
    f32TapSegments = []
  }

  /// K of the int8 implicit GEMM, one segment per tap (made once: an array per call was a heap allocation).
  let tapSegments: [Int]
  /// A float conv's weight as the F32 GEMM's segments, one per tap (made once).
  let f32TapSegments: [F32MatrixView]

  /// The Winograd-transformed weights of an int8 3×3 conv, made on first use by a kernel table that runs
  /// Winograd (`KernelTable.winograd`) and kept with the layer (2 MiB for 256 → 256 channels).
  let winograd: WinogradCache?
}

/// A lazily made `Int8WinogradWeights`, shared by every copy of the layer and safe to use from any thread.
final class WinogradCache: @unchecked Sendable {
  private let lock = Mutex<Int8WinogradWeights?>(nil)

  func weights(_ w: QGEMMWeights, inChannels: Int) -> Int8WinogradWeights {
    lock.withLock { made in
      if let made { return made }
      let u = Int8WinogradWeights(w, inChannels: inChannels)
      made = u
      return u
    }
  }
}

/// GroupNorm (HF `nn.GroupNorm(32, C)`, eps 1e-5) with its affine parameters.
public struct GroupNorm {
  /// The module's path (its checkpoint name without `.weight`, typed).
  public let name: ModulePath
  public let weight: WeightTensor
  public let bias: WeightTensor
  public let groups: Int

  public init(name: ModulePath, weight: WeightTensor, bias: WeightTensor, groups: Int) {
    self.name = name
    self.weight = weight
    self.bias = bias
    self.groups = groups
  }
}
