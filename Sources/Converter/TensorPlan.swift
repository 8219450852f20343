// TensorPlan: every tensor of the model file, in graph order, with its dtype and how to produce its
// bytes (read lazily from the checkpoint mapping when the writer reaches it). Names are the checkpoint's;
// gathered relative-position biases are `<attention>.relative_position_bias` `[heads, w², w²]`.
import Kernels
import MaskFormerInt8
import Quant

enum TensorPlan {
  static func add(_ m: MaskFormer, to w: inout ModelFileWriter, precision: Precision, policy: PrecisionPolicy, stats: CalibrationStats) {
    var plan = Builder(precision: precision, policy: policy, stats: stats)
    let b = m.backbone
    plan.conv(b.embeddings.projection)
    plan.norm(b.embeddings.norm)
    for stage in b.stages {
      for block in stage.blocks {
        plan.norm(block.layernormBefore)
        plan.linear(block.attention.query)
        plan.linear(block.attention.key)
        plan.linear(block.attention.value)
        plan.relativePositionBias(block.attention)
        plan.linear(block.attentionOutput)
        plan.norm(block.layernormAfter)
        plan.linear(block.intermediate)
        plan.linear(block.output)
      }
      if let merge = stage.downsample {
        plan.norm(merge.norm)
        plan.linear(merge.reduction)
      }
    }
    for n in b.stageNorms { plan.norm(n) }
    let p = m.pixelDecoder
    plan.conv(p.stem.conv)
    plan.groupNorm(p.stem.norm)
    for l in p.layers {
      plan.conv(l.projection)
      plan.groupNorm(l.projectionNorm)
      plan.conv(l.block.conv)
      plan.groupNorm(l.block.norm)
    }
    plan.conv(p.maskProjection)
    let t = m.transformer
    if let proj = t.inputProjection { plan.conv(proj) }
    plan.raw(t.queryEmbeddings)
    for layer in t.layers {
      for a in [layer.selfAttention, layer.crossAttention] {
        for l in [a.qProj, a.kProj, a.vProj, a.outProj] { plan.linear(l) }
      }
      plan.norm(layer.selfAttentionNorm)
      plan.norm(layer.crossAttentionNorm)
      plan.linear(layer.fc1)
      plan.linear(layer.fc2)
      plan.norm(layer.finalNorm)
    }
    plan.norm(t.layernorm)
    plan.linear(m.heads.classPredictor)
    for l in m.heads.maskEmbedder { plan.linear(l) }
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

    mutating func relativePositionBias(_ a: SwinSelfAttention) {
      let gathered = a.relativePositionBias()
      let n = a.windowSize * a.windowSize
      let name = String(a.relativePositionBiasTable!.name.dropLast("_table".count))
      let dtype: TensorDType = precision == .float16 ? .f16 : .f32
      tensors.append(PendingTensor(name: name, dtype: dtype, dims: [a.numHeads, n, n], input: nil, output: nil) {
        gathered.withUnsafeBufferPointer { floatBytes($0, as: dtype) }
      })
    }

    func int8(_ layer: String) -> Bool { precision == .int8 && !policy.isFloat(layer) }

    mutating func linear(_ l: Linear) {
      guard let lw = l.weight else { preconditionFailure("\(l.name): converting from an int8 layer") }
      guard int8(l.name) else {
        raw(lw)
        if let b = l.bias { raw(b) }
        return
      }
      let n = l.outFeatures, k = l.inFeatures
      quantized(l.name, n: n, k: k, weight: { c, j in lw.pointer[c * k + j] }, bias: l.bias.map { b in { b.pointer[$0] } },
                release: lw)
    }

    /// Conv weights `[out, in, kh, kw]` become `[out, (ky·kw + kx)·in + ci]` (tap-major K).
    mutating func conv(_ c: Conv2d) {
      guard let cw = c.weight else { preconditionFailure("\(c.name): converting from an int8 layer") }
      guard int8(c.name) else {
        raw(cw)
        if let b = c.bias { raw(b) }
        return
      }
      let cin = c.inChannels, taps = c.kernelSize * c.kernelSize
      quantized(c.name, n: c.outChannels, k: cin * taps,
                weight: { o, k in cw.pointer[(o * cin + k % cin) * taps + k / cin] },
                bias: c.bias.map { b in { b.pointer[$0] } }, release: cw)
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
