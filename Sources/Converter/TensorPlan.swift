// TensorPlan: every tensor of the model file, in the builder's order, with its dtype and how to produce
// its bytes (read lazily from the checkpoint mapping when the writer reaches it). Names are the
// checkpoint's; gathered relative-position biases are `<attention>.relative_position_bias` `[heads, w², w²]`.
import Kernels
import MaskFormerInt8
import Quant

enum TensorPlan {
  /// Every tensor the builder read from the checkpoint (`Checkpoint.requests`), in that order: float
  /// tensors as they are, Linear/conv layers quantized unless the policy keeps them float, relative
  /// position biases gathered. The model's structure is the builder's alone.
  static func add(_ checkpoint: any ConvertibleCheckpoint, to w: inout ModelFileWriter, precision: Precision, policy: PrecisionPolicy,
                  stats: CalibrationStats) throws {
    var plan = Builder(precision: precision, policy: policy, stats: stats)
    let source = checkpoint.weights
    for request in checkpoint.requests {
      switch request {
      case .tensor(let name, let shape): plan.raw(try source.tensor(name, shape: shape))
      case .linear(let name, let out, let inF, let bias): plan.linear(try source.linear(name, out: out, in: inF, bias: bias))
      case .conv(let name, let out, let inC, let k, let bias): plan.conv(try source.conv(name, out: out, in: inC, kernel: k, bias: bias))
      case .relativePositionBias(let attention, let heads, let window):
        let table = try source.tensor(attention.key("relative_position_bias_table"), shape: [(2 * window - 1) * (2 * window - 1), heads])
        plan.relativePositionBias(name: attention.key("relative_position_bias"), table: table, heads: heads, window: window)
      }
    }
    w.tensors += plan.tensors
    for name in plan.rangeNames {
      let i = stats.inputs[name]!.clipRange(), o = stats.outputs[name]!.clipRange()
      w.meta("calibration.range.\(name)", .floats([i.lo, i.hi, o.lo, o.hi]))
    }
  }

  struct Builder {
    let precision: Precision
    let policy: PrecisionPolicy
    let stats: CalibrationStats
    var tensors: [PendingTensor] = []
    var rangeNames: [String] = []

    /// Float storage: f32, or f16 when converting to float16.
    mutating func raw(_ t: WeightTensor, name: String? = nil) {
      let dtype: TensorDType = precision == .float16 ? .f16 : .f32
      tensors.append(PendingTensor(name: name ?? t.name, dtype: dtype, dims: t.shape, input: nil, output: nil) {
        defer { t.release() }
        return floatBytes(UnsafeBufferPointer(start: t.pointer, count: t.count), as: dtype)
      })
    }

    mutating func norm(_ n: LayerNorm) { raw(n.weight); raw(n.bias) }
    mutating func groupNorm(_ n: GroupNorm) { raw(n.weight); raw(n.bias) }

    mutating func relativePositionBias(name: String, table: WeightTensor, heads: Int, window: Int) {
      let n = window * window
      let dtype: TensorDType = precision == .float16 ? .f16 : .f32
      tensors.append(PendingTensor(name: name, dtype: dtype, dims: [heads, n, n], input: nil, output: nil) {
        SwinSelfAttention.gather(table: table, heads: heads, window: window).withUnsafeBufferPointer { floatBytes($0, as: dtype) }
      })
    }

    func int8(_ layer: String) -> Bool { precision == .int8 && !policy.isFloat(layer) }

    /// A Linear or conv: its float tensors as they are, or quantized; `at(w, c, k)` reads the weight of
    /// output channel c at packed reduction index k.
    mutating func layer(_ name: String, _ weights: LayerWeights, n: Int, k: Int,
                        at: @escaping (UnsafePointer<Float>, Int, Int) -> Float) {
      guard case .float(let w, let b) = weights else { preconditionFailure("\(name): converting from an int8 layer") }
      guard int8(name) else {
        raw(w)
        if let b { raw(b) }
        return
      }
      quantized(name, n: n, k: k, weight: { c, j in at(w.pointer, c, j) }, bias: b.map { b in { b.pointer[$0] } }, release: w)
    }

    mutating func linear(_ l: Linear) {
      let k = l.inFeatures
      layer(l.name.description, l.weights, n: l.outFeatures, k: k) { w, c, j in w[c * k + j] }
    }

    /// Conv weights `[out, in, kh, kw]` become `[out, (ky·kw + kx)·in + ci]` (tap-major K).
    mutating func conv(_ c: Conv2d) {
      let cin = c.inChannels, taps = c.kernelSize * c.kernelSize
      layer(c.name.description, c.weights, n: c.outChannels, k: cin * taps) { w, o, k in w[(o * cin + k % cin) * taps + k / cin] }
    }

    mutating func quantized(_ name: String, n: Int, k: Int, weight: @escaping (Int, Int) -> Float, bias: ((Int) -> Float)?,
                            release: WeightTensor) {
      guard let input = stats.inputs[name]?.quantParams(), let output = stats.outputs[name]?.quantParams() else {
        preconditionFailure("no calibration statistics for \(name): the layer never ran")
      }
      rangeNames.append(name)
      tensors.append(PendingTensor(name: name + ".weight", dtype: .qgemmI8x4N16, dims: [n, k], input: input, output: output) {
        defer { release.release() }
        return QGEMMPacking.pack(n: n, k: k, weight: weight, bias: bias, inputScale: input.scale).bytes
      })
    }
  }

  static func floatBytes(_ v: UnsafeBufferPointer<Float>, as dtype: TensorDType) -> [UInt8] {
    var out = [UInt8]()
    out.reserveCapacity(v.count * (dtype == .f16 ? 2 : 4))
    for x in v {
      if dtype == .f16 {
        withUnsafeBytes(of: Half.fromFloat(x).littleEndian) { out += $0 }
      } else {
        withUnsafeBytes(of: x.bitPattern.littleEndian) { out += $0 }
      }
    }
    return out
  }
}
