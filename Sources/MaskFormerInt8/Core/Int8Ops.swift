// Int8Ops: a quantized Linear or conv inside the float graph: the float input is quantized with the
// layer's calibrated per-tensor parameters (ActivationQuantizer), multiplied by the packed int8 weights
// read in place from the model file, and dequantized in the GEMM epilogue (with the fused activation
// and residual), or requantized there for the next int8 layer.
import Kernels
import Quant

/// Rows of int8 activations, padded to a multiple of 4, with their quantization.
struct QuantizedRows {
  var data: ArenaArray<Int8>
  var rows: Int
  var stride: Int
  var params: QuantParams

  /// `rows` float rows of `k` values (row stride `xStride`) quantized with `params`.
  init(_ x: UnsafePointer<Float>, rows: Int, k: Int, xStride: Int, _ params: QuantParams, in ctx: InferenceContext) {
    let kp = (k + 3) / 4 * 4
    var a = ArenaArray(repeating: Int8(clamping: params.zeroPoint), count: rows * kp, in: ctx.arena)
    if !ctx.isDryRun { a.withUnsafeMutableBufferPointer { ab in
      ActivationQuantizer.quantizeRows(x, rows: rows, k: k, xStride: xStride, params, into: ab.baseAddress!, qStride: kp, threads: ctx.threads,
                                       kernel: ctx.kernels.quantize)
    }}
    self.init(data: a, rows: rows, stride: kp, params: params)
  }

  init(data: ArenaArray<Int8>, rows: Int, stride: Int, params: QuantParams) {
    self.data = data
    self.rows = rows
    self.stride = stride
    self.params = params
  }

  /// The rows as a view (`columns` real values of each padded row).
  func withView(columns: Int, _ body: (TensorView) -> Void) {
    data.withUnsafeBufferPointer { body(TensorView(.int8($0.baseAddress!, params), rows: rows, columns: columns, stride: stride)) }
  }
}

/// A map quantized for an int8 conv: each pixel's channels padded to a multiple of 4, plus one row of
/// zero points (real zeros) after the last pixel, read by out-of-image taps.
struct QuantizedMap {
  var data: ArenaArray<Int8>
  var height: Int
  var width: Int
  var stride: Int
  var params: QuantParams

  init(data: ArenaArray<Int8>, height: Int, width: Int, stride: Int, params: QuantParams) {
    self.data = data
    self.height = height
    self.width = width
    self.stride = stride
    self.params = params
  }

  /// `x` quantized with `params` (handed over: freed once quantized).
  init(_ x: consuming FeatureMap, _ params: QuantParams, in ctx: InferenceContext) {
    let (h, w, cin) = (x.height, x.width, x.channels), stride = (cin + 3) / 4 * 4
    var a = ArenaArray(repeating: Int8(clamping: params.zeroPoint), count: h * w * stride + stride, in: ctx.arena)
    if !ctx.isDryRun { x.data.withUnsafeBufferPointer { xb in
      a.withUnsafeMutableBufferPointer { ab in
        ActivationQuantizer.quantizeRows(xb.baseAddress!, rows: h * w, k: cin, xStride: cin, params, into: ab.baseAddress!, qStride: stride,
                                         threads: ctx.threads, kernel: ctx.kernels.quantize)
      }
    }}
    self.init(data: a, height: h, width: w, stride: stride, params: params)
  }
}

extension QuantizedWeights {
  func gemm(_ a: QuantizedRows, output: Int8GEMMOutput, in ctx: InferenceContext) {
    precondition(a.params == input, "int8 input quantized with \(a.params), layer expects \(input)")
    guard !ctx.isDryRun else { return }
    a.data.withUnsafeBufferPointer { ab in
      let ap = ab.baseAddress!, stride = a.stride
      Int8GEMM.run(Int8GEMMProblem(m: a.rows, weights: weights, aRow: { i, _ in ap + i * stride }, aZeroPoint: input.zeroPoint, output: output),
                   kernel: ctx.kernels.qs8GEMM, threads: ctx.threads)
    }
    releaseIfAsked(ctx)
  }

  /// Drops the packed weights' pages after use when asked (they stay in the page cache).
  func releaseIfAsked(_ ctx: InferenceContext) {
    if ctx.releaseWeightsAfterUse { storage.release(weights.base, byteCount: weights.panels * weights.panelBytes) }
  }

  /// An int8 layer with a float result (dequantized, activation and residual fused).
  func linear(_ a: QuantizedRows, n: Int, activation: Activation, residual: UnsafePointer<Float>?, in ctx: InferenceContext) -> ArenaArray<Float> {
    ctx.floats(a.rows * n) { yb in
      gemm(a, output: .float(yb.baseAddress!, ldc: n, inputScale: input.scale, activation: activation, residual: residual, residualStride: n),
           in: ctx)
    }
  }

  /// An int8 layer whose result goes straight to another int8 layer: quantized in the epilogue with
  /// the next layer's input parameters, never written as float.
  func linear(_ a: QuantizedRows, n: Int, activation: Activation, next: QuantParams, in ctx: InferenceContext) -> QuantizedRows {
    let np = (n + 3) / 4 * 4
    var out = QuantizedRows(data: ArenaArray(repeating: Int8(clamping: next.zeroPoint), count: a.rows * np, in: ctx.arena), rows: a.rows,
                            stride: np, params: next)
    out.data.withUnsafeMutableBufferPointer { ob in
      gemm(a, output: .int8(ob.baseAddress!, ldc: np, inputScale: input.scale, output: next, activation: activation), in: ctx)
    }
    return out
  }
}

extension Linear {
  /// Several layers reading the same float input: quantized once when their input parameters agree
  /// (q, k and v of a Swin block are calibrated on identical data). Observed as a group (the shared
  /// quantization) holding one op per layer, each with the float input it reads.
  static func fused(_ layers: [Linear], _ x: ArenaArray<Float>, rows: Int, in ctx: InferenceContext) -> [ArenaArray<Float>] {
    let qs = layers.compactMap(\.quantized)
    guard qs.count == layers.count, let first = qs.first, qs.allSatisfy({ $0.input == first.input }) else {
      return layers.map { $0(x, rows: rows, in: ctx) }
    }
    let k = layers[0].inFeatures
    // The group's name is built only when observed (this runs per chunk of every Swin block).
    func groupName() -> String {
      let leaves = layers.map { l -> String in
        switch l.name.last {
        case .name(let s): s
        case .index(let i): String(i)
        case nil: ""
        }
      }
      return layers[0].name.parent.key("{" + leaves.joined(separator: ",") + "}")
    }
    return ctx.span(groupName(), "group") {
      let a = x.withUnsafeBufferPointer { QuantizedRows($0.baseAddress!, rows: rows, k: k, xStride: k, first.input, in: ctx) }
      return zip(layers, qs).map { l, q in
        ctx.op(OpInfo(name: l.name.description, kind: "linear", macs: rows * k * l.outFeatures,
                      bytes: rows * (k + 4 * l.outFeatures) + k * l.outFeatures, precision: "int8"),
               input: { emit in x.withUnsafeBufferPointer { emit(.floats($0, columns: k)) } },
               output: { y, emit in y.withUnsafeBufferPointer { emit(.floats($0, columns: l.outFeatures)) } },
               shape: { _ in [rows, l.outFeatures] }) {
          q.linear(a, n: l.outFeatures, activation: .identity, residual: nil, in: ctx)
        }
      }
    }
  }

  /// `fc2(act(fc1(x))) + residual` with the hidden activations handed over in int8 when both are int8
  /// (observed as fc1's int8 output and fc2's int8 input).
  static func mlp(_ fc1: Linear, _ fc2: Linear, _ x: ArenaArray<Float>, rows: Int, activation: Activation, residual: UnsafePointer<Float>,
                  in ctx: InferenceContext) -> ArenaArray<Float> {
    guard let q1 = fc1.quantized, let q2 = fc2.quantized else {
      return fc1(x, rows: rows, activation: activation, in: ctx).withUnsafeBufferPointer {
        fc2($0.baseAddress!, rows: rows, xStride: fc1.outFeatures, residual: residual, in: ctx)
      }
    }
    let (k, h, n) = (fc1.inFeatures, fc1.outFeatures, fc2.outFeatures)
    let hidden = ctx.op(OpInfo(name: fc1.name.description, kind: "linear", macs: rows * k * h, bytes: rows * (4 * k + h) + k * h, precision: "int8"),
                        input: { emit in x.withUnsafeBufferPointer { emit(.floats($0, columns: k)) } },
                        output: { y, emit in y.withView(columns: h, emit) }, shape: { _ in [rows, h] }) {
      let a = x.withUnsafeBufferPointer { QuantizedRows($0.baseAddress!, rows: rows, k: k, xStride: k, q1.input, in: ctx) }
      return q1.linear(a, n: h, activation: activation, next: q2.input, in: ctx)
    }
    return ctx.op(OpInfo(name: fc2.name.description, kind: "linear", macs: rows * h * n, bytes: rows * (h + 8 * n) + h * n, precision: "int8"),
                  input: { emit in hidden.withView(columns: h, emit) },
                  output: { y, emit in y.withUnsafeBufferPointer { emit(.floats($0, columns: n)) } }, shape: { _ in [rows, n] }) {
      q2.linear(hidden, n: n, activation: .identity, residual: residual, in: ctx)
    }
  }
}

extension LayerNorm {
  /// This LayerNorm of every pixel of x, quantized with `params` as it is produced (`tokenChunk` rows
  /// at a time): the normalized float map never exists whole.
  func quantized(_ x: FeatureMap, _ params: QuantParams, in ctx: InferenceContext) -> QuantizedMap {
    let (pixels, c) = (x.pixels, x.channels), rowBytes = (c + 3) / 4 * 4
    var a = ArenaArray(repeating: Int8(clamping: params.zeroPoint), count: pixels * rowBytes + rowBytes, in: ctx.arena)
    let chunk = Swift.min(pixels, Swift.max(1, ctx.tokenChunk))
    x.data.withUnsafeBufferPointer { xb in
      a.withUnsafeMutableBufferPointer { ab in
        for first in stride(from: 0, to: pixels, by: chunk) {
          let rows = Swift.min(chunk, pixels - first)
          let normed = self(xb.baseAddress! + first * c, rows: rows, in: ctx)
          if !ctx.isDryRun { normed.withUnsafeBufferPointer { nb in
            ActivationQuantizer.quantizeRows(nb.baseAddress!, rows: rows, k: c, xStride: c, params, into: ab.baseAddress! + first * rowBytes,
                                             qStride: rowBytes, threads: ctx.threads, kernel: ctx.kernels.quantize)
          }}
        }
      }
    }
    return QuantizedMap(data: a, height: x.height, width: x.width, stride: rowBytes, params: params)
  }
}

extension Conv2d {
  /// k×k "same" conv as an implicit int8 GEMM: one K segment per tap; out-of-image taps read the row
  /// of zero points. `window` as in the float conv: the map may be a band of a taller one.
  func int8(_ a: QuantizedMap, _ q: QuantizedWeights, activation: Activation, window: RowWindow, in ctx: InferenceContext) -> FeatureMap {
    let k = kernelSize, taps = k * k, pad = k / 2, cin = inChannels
    precondition(cin % 4 == 0 || taps == 1, "\(name): int8 conv needs input channels in multiples of 4, has \(cin)")
    precondition(a.params == q.input, "\(name): input quantized with \(a.params), layer expects \(q.input)")
    let (h, w, stride) = (a.height, a.width, a.stride)
    let first = window.first, mapHeight = window.mapHeight, y0 = window.output.lowerBound
    var out = FeatureMap(height: window.output.count, width: w, channels: outChannels, in: ctx.arena)
    let outPixels = out.pixels, cout = outChannels
    a.data.withUnsafeBufferPointer { ab in
      out.data.withUnsafeMutableBufferPointer { ob in
        let ap = ab.baseAddress!, zero = ap + h * w * stride
        let p = Int8GEMMProblem(
          m: outPixels, weights: q.weights, segments: [Int](repeating: cin, count: taps),
          aRow: { i, t in
            let sy = y0 + i / w + t / k - pad, sx = i % w + t % k - pad
            return sy >= 0 && sy < mapHeight && sx >= 0 && sx < w ? ap + ((sy - first) * w + sx) * stride : zero
          },
          aZeroPoint: q.input.zeroPoint,
          output: .float(ob.baseAddress!, ldc: cout, inputScale: q.input.scale, activation: activation, residual: nil, residualStride: 0))
        if !ctx.isDryRun { Int8GEMM.run(p, kernel: ctx.kernels.qs8GEMM, threads: ctx.threads) }
      }
    }
    q.releaseIfAsked(ctx)
    return out
  }
}

extension InferenceContext {
  /// Reports a map produced in int8 as a named intermediate.
  func record(_ name: @autoclosure () -> String, _ map: borrowing QuantizedMap, channels: Int) {
    guard let observer else { return }
    map.data.withUnsafeBufferPointer {
      observer.tensor(name(), TensorView(.int8($0.baseAddress!, map.params), rows: map.height * map.width, columns: channels, stride: map.stride),
                      shape: [map.height, map.width, channels])
    }
  }
}
