// Int8Ops: a quantized Linear or conv inside the float graph: the float input is quantized with the
// layer's calibrated per-tensor parameters (ActivationQuantizer), multiplied by the packed int8 weights
// read in place from the model file, and dequantized in the GEMM epilogue (with the fused activation
// and residual), or requantized there for the next int8 layer.
import Kernels
import Quant

extension ArenaArray where Element == Int8 {
  /// `rows` rows of `stride` int8 plus `extra` trailing values: the columns from `k` on of each row and
  /// the trailing values set to `fill` (the zero point), the first `k` of each row left to `write`, which
  /// must write them all (no fill of the whole array first). `write` runs in a dry run too (it may
  /// allocate) and must not touch the values there.
  init(rows: Int, k: Int, stride: Int, extra: Int = 0, fill: Int8, in ctx: InferenceContext, write: (UnsafeMutablePointer<Int8>) -> Void) {
    self.init(unsafeUninitializedCount: rows * stride + extra, in: ctx.arena) { b in
      let p = b.baseAddress!
      if !ctx.isDryRun {
        if stride > k { for r in 0..<rows { (p + r * stride + k).initialize(repeating: fill, count: stride - k) } }
        if extra > 0 { (p + rows * stride).initialize(repeating: fill, count: extra) }
      }
      write(p)
    }
  }
}

/// Rows of int8 activations, padded to a multiple of 4, with their quantization.
struct QuantizedRows {
  var data: ArenaArray<Int8>
  var rows: Int
  var stride: Int
  var params: QuantParams

  /// `rows` float rows of `k` values (row stride `xStride`) quantized with `params`.
  init(_ x: UnsafePointer<Float>, rows: Int, k: Int, xStride: Int, _ params: QuantParams, in ctx: InferenceContext) {
    let kp = (k + 3) / 4 * 4
    let a = ArenaArray(rows: rows, k: k, stride: kp, fill: Int8(clamping: params.zeroPoint), in: ctx) { q in
      if !ctx.isDryRun {
        ActivationQuantizer.quantizeRows(x, rows: rows, k: k, xStride: xStride, params, into: q, qStride: kp, threads: ctx.threads,
                                         kernel: ctx.kernels.quantize)
      }
    }
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
    let a = x.data.withUnsafeBufferPointer { xb in
      ArenaArray(rows: h * w, k: cin, stride: stride, extra: stride, fill: Int8(clamping: params.zeroPoint), in: ctx) { q in
        if !ctx.isDryRun {
          ActivationQuantizer.quantizeRows(xb.baseAddress!, rows: h * w, k: cin, xStride: cin, params, into: q, qStride: stride,
                                           threads: ctx.threads, kernel: ctx.kernels.quantize)
        }
      }
    }
    self.init(data: a, height: h, width: w, stride: stride, params: params)
  }
}

extension QuantizedWeights {
  /// `release`: drop the weights' pages afterwards when the context asks (not between the chunks of one layer).
  func gemm(_ a: QuantizedRows, output: Int8GEMMOutput, release: Bool = true, in ctx: InferenceContext) {
    precondition(a.params == input, "int8 input quantized with \(a.params), layer expects \(input)")
    guard !ctx.isDryRun else { return }
    a.data.withUnsafeBufferPointer { ab in
      Int8GEMM.run(Int8GEMMProblem(m: a.rows, weights: weights, segments: linearSegments, a: ab.baseAddress!, aStride: a.stride,
                                   aZeroPoint: input.zeroPoint, output: output),
                   kernel: ctx.kernels.qs8GEMM, threads: ctx.threads)
    }
    if release { releaseIfAsked(ctx) }
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
    let data = ArenaArray(rows: a.rows, k: n, stride: np, fill: Int8(clamping: next.zeroPoint), in: ctx) { o in
      gemm(a, output: .int8(o, ldc: np, inputScale: input.scale, output: next, activation: activation), in: ctx)
    }
    return QuantizedRows(data: data, rows: a.rows, stride: np, params: next)
  }
}

extension Linear {
  /// Three layers reading the same float input (a Swin block's q, k and v; `layers`: three): quantized once
  /// when their input parameters agree (they are calibrated on identical data). Observed as a group (the
  /// shared quantization) holding one op per layer, each with the float input it reads. (Three outputs as a
  /// tuple: an array of them was a heap allocation per call, issue 19.)
  static func fused(_ layers: [Linear], _ x: ArenaArray<Float>, rows: Int, in ctx: InferenceContext) -> Fused3 {
    precondition(layers.count == 3, "fused: \(layers.count) layers")
    guard let input = sharedInput(layers) else { return (layers[0](x, rows: rows, in: ctx), layers[1](x, rows: rows, in: ctx), layers[2](x, rows: rows, in: ctx)) }
    let k = layers[0].inFeatures
    return fused(layers, rows: rows, input: { emit in x.withUnsafeBufferPointer { emit(.floats($0, columns: k)) } }, in: ctx) {
      x.withUnsafeBufferPointer { QuantizedRows($0.baseAddress!, rows: rows, k: k, xStride: k, input, in: ctx) }
    }
  }

  typealias Fused3 = (ArenaArray<Float>, ArenaArray<Float>, ArenaArray<Float>)

  /// The same layers over rows already quantized with their shared input parameters (a LayerNorm that
  /// wrote int8, `LayerNorm.quantizedRows`); each op observed with that int8 input.
  static func fused(_ layers: [Linear], _ a: QuantizedRows, in ctx: InferenceContext) -> Fused3 {
    precondition(layers.count == 3 && sharedInput(layers) == a.params,
                 "fused int8 input quantized with \(a.params), layers expect \(String(describing: sharedInput(layers)))")
    let k = layers[0].inFeatures
    return fused(layers, rows: a.rows, input: { emit in a.withView(columns: k, emit) }, in: ctx) { a }
  }

  /// The input parameters all of `layers` quantize with, if they are all int8 and agree.
  static func sharedInput(_ layers: [Linear]) -> QuantParams? {
    guard let first = layers.first?.quantized?.input else { return nil }
    for l in layers where l.quantized?.input != first { return nil }
    return first
  }

  private static func fused(_ layers: [Linear], rows: Int, input: (_ emit: (TensorView) -> Void) -> Void, in ctx: InferenceContext,
                            quantizedInput: () -> QuantizedRows) -> Fused3 {
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
      let a = quantizedInput()
      func run(_ l: Linear) -> ArenaArray<Float> {
        ctx.op(OpInfo(name: l.name.description, kind: "linear", macs: rows * k * l.outFeatures,
                      bytes: rows * (k + 4 * l.outFeatures) + k * l.outFeatures, precision: "int8"),
               input: input,
               output: { y, emit in y.withUnsafeBufferPointer { emit(.floats($0, columns: l.outFeatures)) } },
               shape: { _ in [rows, l.outFeatures] }) {
          l.quantized!.linear(a, n: l.outFeatures, activation: .identity, residual: nil, in: ctx)
        }
      }
      return (run(layers[0]), run(layers[1]), run(layers[2]))
    }
  }

  /// `fc2(act(fc1(x))) + residual` with the hidden activations handed over in int8 when both are int8
  /// (observed as fc1's int8 output and fc2's int8 input).
  static func mlp(_ fc1: Linear, _ fc2: Linear, _ x: ArenaArray<Float>, rows: Int, activation: Activation, residual: UnsafePointer<Float>,
                  in ctx: InferenceContext) -> ArenaArray<Float> {
    guard let q1 = fc1.quantized, fc2.quantized != nil else {
      return fc1(x, rows: rows, activation: activation, in: ctx).withUnsafeBufferPointer {
        fc2($0.baseAddress!, rows: rows, xStride: fc1.outFeatures, residual: residual, in: ctx)
      }
    }
    let k = fc1.inFeatures
    return mlp(fc1, fc2, rows: rows, activation: activation, residual: residual, input: { emit in x.withUnsafeBufferPointer { emit(.floats($0, columns: k)) } },
               in: ctx) {
      x.withUnsafeBufferPointer { QuantizedRows($0.baseAddress!, rows: rows, k: k, xStride: k, q1.input, in: ctx) }
    }
  }

  /// `x += fc2(act(fc1(a)))` in place over rows already quantized with fc1's input parameters
  /// (`LayerNorm.quantizedRows` of x): fc2's epilogue adds the residual and writes the sum over it.
  static func mlp(_ fc1: Linear, _ fc2: Linear, _ a: QuantizedRows, activation: Activation, addingTo x: UnsafeMutablePointer<Float>,
                  in ctx: InferenceContext) {
    precondition(fc1.quantized?.input == a.params && fc2.quantized != nil, "\(fc1.name): int8 MLP input quantized with \(a.params)")
    let k = fc1.inFeatures
    _ = mlp(fc1, fc2, rows: a.rows, activation: activation, residual: x, input: { emit in a.withView(columns: k, emit) }, into: x, in: ctx) { a }
  }

  /// The int8 MLP; its float result in a new array, or written over `into` (then the array returned is empty).
  private static func mlp(_ fc1: Linear, _ fc2: Linear, rows: Int, activation: Activation, residual: UnsafePointer<Float>,
                          input: (_ emit: (TensorView) -> Void) -> Void, into: UnsafeMutablePointer<Float>? = nil, in ctx: InferenceContext,
                          quantizedInput: () -> QuantizedRows) -> ArenaArray<Float> {
    let (q1, q2) = (fc1.quantized!, fc2.quantized!)
    let (k, h, n) = (fc1.inFeatures, fc1.outFeatures, fc2.outFeatures)
    let hidden = ctx.op(OpInfo(name: fc1.name.description, kind: "linear", macs: rows * k * h, bytes: rows * (4 * k + h) + k * h, precision: "int8"),
                        input: input, output: { y, emit in y.withView(columns: h, emit) }, shape: { _ in [rows, h] }) {
      q1.linear(quantizedInput(), n: h, activation: activation, next: q2.input, in: ctx)
    }
    let info = ctx.info(OpInfo(name: fc2.name.description, kind: "linear", macs: rows * h * n, bytes: rows * (h + 8 * n) + h * n, precision: "int8"))
    if let into {
      ctx.op(info!, input: { emit in hidden.withView(columns: h, emit) },
             output: { _, emit in emit(TensorView(.float(into), rows: rows, columns: n)) }, shape: { _ in [rows, n] }) {
        q2.gemm(hidden, output: .float(into, ldc: n, inputScale: q2.input.scale, activation: .identity, residual: residual, residualStride: n),
                in: ctx)
      }
      return ArenaArray<Float>(unsafeUninitializedCount: 0, in: nil) { _ in }
    }
    return ctx.op(info!, input: { emit in hidden.withView(columns: h, emit) },
                  output: { y, emit in y.withUnsafeBufferPointer { emit(.floats($0, columns: n)) } }, shape: { _ in [rows, n] }) {
      q2.linear(hidden, n: n, activation: .identity, residual: residual, in: ctx)
    }
  }
}

extension LayerNorm {
  /// This LayerNorm of `rows` contiguous rows of x, written as int8 quantized with `params` (the input
  /// parameters of the layers it feeds): the normalized floats never exist. Observed as the layernorm
  /// op with that int8 output. `extra` trailing values (a conv's row of zero points) are set to the zero point.
  func quantizedRows(_ x: UnsafePointer<Float>, rows: Int, _ params: QuantParams, extra: Int = 0, in ctx: InferenceContext) -> QuantizedRows {
    let n = self, c = channels, stride = (c + 3) / 4 * 4
    return ctx.op(OpInfo(name: name.description, kind: "layernorm", bytes: 5 * rows * c),
                  input: { $0(TensorView(.float(x), rows: rows, columns: c)) },
                  output: { y, emit in y.withView(columns: c, emit) }, shape: { _ in [rows, c] }) {
      let data = ArenaArray(rows: rows, k: c, stride: stride, extra: extra, fill: Int8(clamping: params.zeroPoint), in: ctx) { q in
        guard !ctx.isDryRun else { return }
        Norms.layerNormQuantized(x, xStride: c, rows: rows, channels: c, gamma: n.weight.pointer, beta: n.bias.pointer, eps: n.eps, params,
                                 into: q, qStride: stride, threads: ctx.threads, kernel: ctx.kernels.norm)
      }
      return QuantizedRows(data: data, rows: rows, stride: stride, params: params)
    }
  }

  /// This LayerNorm of every pixel of x as an int8 map for a conv (`quantizedRows` plus the row of zero points).
  func quantized(_ x: FeatureMap, _ params: QuantParams, in ctx: InferenceContext) -> QuantizedMap {
    let rowBytes = (x.channels + 3) / 4 * 4
    let a = x.data.withUnsafeBufferPointer { quantizedRows($0.baseAddress!, rows: x.pixels, params, extra: rowBytes, in: ctx) }
    return QuantizedMap(data: a.data, height: x.height, width: x.width, stride: rowBytes, params: params)
  }
}

extension Conv2d {
  /// k×k "same" conv as an implicit int8 GEMM: one K segment per tap; out-of-image taps read the row
  /// of zero points. `window` as in the float conv: the map may be a band of a taller one.
  func int8(_ a: QuantizedMap, _ q: QuantizedWeights, activation: Activation, window: RowWindow, in ctx: InferenceContext) -> FeatureMap {
    let taps = kernelSize * kernelSize, cin = inChannels
    precondition(cin % 4 == 0 || taps == 1, "\(name): int8 conv needs input channels in multiples of 4, has \(cin)")
    precondition(a.params == q.input, "\(name): input quantized with \(a.params), layer expects \(q.input)")
    let (h, w, stride) = (a.height, a.width, a.stride)
    let first = window.first, mapHeight = window.mapHeight, y0 = window.output.lowerBound
    let cout = outChannels
    let out = a.data.withUnsafeBufferPointer { ab in
      FeatureMap(height: window.output.count, width: w, channels: cout, in: ctx.arena) { ob in
        let ap = ab.baseAddress!, zero = ap + h * w * stride
        let output = Int8GEMMOutput.float(ob.baseAddress!, ldc: cout, inputScale: q.input.scale, activation: activation, residual: nil,
                                          residualStride: 0)
        // Maps of at least 32×32 pixels (the stem's 16×16 at 512×512 would hold 6 MiB of transformed weights for ~1 ms).
        if ctx.kernels.winograd, let cache = winograd, w >= 4, mapHeight * w >= 1024 {
          // The same bits by Winograd F(2×2, 3×3): input pixel (oy + dy, x) of output row oy; the zero row
          // outside the image and outside the band (rows only the discarded outputs of an odd last row need).
          guard !ctx.isDryRun else { return }
          let u = cache.weights(q.weights, inChannels: cin)
          Int8Winograd.conv3x3(u, weights: q.weights, rows: window.output.count, width: w, pixel: { yy, x in
            let sy = y0 + yy
            return sy >= 0 && sy < mapHeight && sy - first < h && sy >= first && x >= 0 && x < w ? ap + ((sy - first) * w + x) * stride : zero
          }, zeroPoint: q.input.zeroPoint, output: output, kernel: ctx.kernels.qs8GEMM, threads: ctx.threads)
          return
        }
        if !ctx.isDryRun { implicitGEMM(ap, a, weights: q.weights, window: window, output: output, in: ctx) }
      }
    }
    q.releaseIfAsked(ctx)
    return out
  }

  /// The conv's implicit GEMM over an int8 map (`ap`: its data) with any weights of its K (one segment
  /// per tap; out-of-image taps read the row of zero points) into any output.
  func implicitGEMM(_ ap: UnsafePointer<Int8>, _ a: borrowing QuantizedMap, weights: QGEMMWeights, window: RowWindow, output: Int8GEMMOutput,
                    in ctx: InferenceContext) {
    let (h, w, stride) = (a.height, a.width, a.stride)
    let rows = ConvRows(base: ap, zero: ap + h * w * stride, pixelStride: stride, width: w, mapHeight: window.mapHeight, first: window.first,
                        y0: window.output.lowerBound, kernel: kernelSize)
    let p = Int8GEMMProblem(m: window.output.count * w, weights: weights, segments: tapSegments, conv: rows, aZeroPoint: a.params.zeroPoint,
                            output: output)
    Int8GEMM.run(p, kernel: ctx.kernels.qs8GEMM, threads: ctx.threads)
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
