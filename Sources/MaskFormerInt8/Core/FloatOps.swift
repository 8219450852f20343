// FloatOps: the float32 layer ops of the reference path (Linear, LayerNorm, convolutions, GroupNorm,
// resizing) on FeatureMaps, built on Kernels. Rows are tokens/pixels, columns are channels.
import Kernels

extension InferenceContext {
  /// `y = act(x·Wᵀ + b) + residual` for every row of x (`rows × l.inFeatures`, row stride `xStride`).
  func linear(_ x: UnsafePointer<Float>, rows: Int, xStride: Int, _ l: Linear, activation: Activation = .identity,
              residual: UnsafePointer<Float>? = nil) -> ArenaArray<Float> {
    let (k, n) = (l.inFeatures, l.outFeatures)
    return op(OpInfo(name: l.name.description, kind: "linear", macs: rows * k * n,
                     bytes: rows * (k + n) * 4 + k * n * (l.quantized == nil ? 4 : 1), precision: l.quantized == nil ? "f32" : "int8"),
              input: { $0(TensorView(.float(x), rows: rows, columns: k, stride: xStride)) },
              output: { y, emit in y.withUnsafeBufferPointer { emit(.floats($0, columns: n)) } },
              shape: { _ in [rows, n] }) {
      if let q = l.quantized { return linearInt8(x, rows: rows, xStride: xStride, l, q, activation: activation, residual: residual) }
      // The GEMM writes every element (its first K chunk stores, not accumulates): no zero fill.
      let y = floats(rows * n) { yb in
        let p = F32GEMMProblem(
          m: rows, n: n, segments: [l.view], aRow: { i, _ in x + i * xStride }, bias: l.bias?.pointer,
          activation: activation, residual: residual, residualStride: n, c: yb.baseAddress!, ldc: n)
        f32GEMM(p)
      }
      if releaseWeightsAfterUse { l.weight?.release() }
      return y
    }
  }

  /// Linear on every row of a contiguous `rows × in` array.
  func linear(_ x: ArenaArray<Float>, rows: Int, _ l: Linear, activation: Activation = .identity,
              residual: ArenaArray<Float>? = nil) -> ArenaArray<Float> {
    precondition(x.count == rows * l.inFeatures, "linear: input \(x.count) floats, expected \(rows)x\(l.inFeatures)")
    return x.withUnsafeBufferPointer { xb in
      if let residual {
        precondition(residual.count == rows * l.outFeatures, "linear: residual size \(residual.count)")
        return residual.withUnsafeBufferPointer { rb in
          linear(xb.baseAddress!, rows: rows, xStride: l.inFeatures, l, activation: activation, residual: rb.baseAddress!)
        }
      }
      return linear(xb.baseAddress!, rows: rows, xStride: l.inFeatures, l, activation: activation)
    }
  }

  func layerNorm(_ x: ArenaArray<Float>, rows: Int, _ n: LayerNorm) -> ArenaArray<Float> {
    precondition(x.count == rows * n.channels, "layerNorm: \(x.count) floats, expected \(rows)x\(n.channels)")
    return x.withUnsafeBufferPointer { layerNorm($0.baseAddress!, rows: rows, n) }
  }

  /// LayerNorm of `rows` contiguous rows of `n.channels` floats.
  func layerNorm(_ x: UnsafePointer<Float>, rows: Int, _ n: LayerNorm) -> ArenaArray<Float> {
    let c = n.channels
    return op(OpInfo(name: n.name.description, kind: "layernorm", bytes: 8 * rows * c),
              input: { $0(TensorView(.float(x), rows: rows, columns: c)) },
              output: { y, emit in y.withUnsafeBufferPointer { emit(.floats($0, columns: c)) } },
              shape: { _ in [rows, c] }) {
      floats(rows * c) { yb in
        Norms.layerNorm(x, xStride: c, rows: rows, channels: c, gamma: n.weight.pointer, beta: n.bias.pointer, eps: n.eps,
                        into: yb.baseAddress!, yStride: c, threads: threads)
      }
    }
  }

  /// k×k convolution, stride 1, zero padding k/2 ("same"), as an implicit GEMM with one K segment per
  /// tap: tap (ky, kx) of output pixel (y, x) reads input row (y+ky−k/2, x+kx−k/2) or a zero row.
  /// Takes its input by value: handed over with `consume`, an int8 conv frees it once quantized,
  /// before its output is allocated. With a `window`, x is a band of a taller map and only the
  /// window's output rows are computed.
  func conv(_ x: consuming FeatureMap, _ c: Conv2d, activation: Activation = .identity, window: RowWindow? = nil) -> FeatureMap {
    let window = window ?? .whole(x.height)
    precondition(x.channels == c.inChannels, "conv: input has \(x.channels) channels, weight expects \(c.inChannels)")
    window.check(inputHeight: x.height, kernel: c.kernelSize)
    let info = convInfo(c, pixels: window.output.count * x.width, int8Input: false)
    observer?.begin(info, map: x)
    let y: FeatureMap
    if let q = c.quantized {
      y = convInt8(quantize(consume x, q.input), c, q, activation: activation, window: window)
    } else {
      y = convFloat(consume x, c, activation: activation, window: window)
    }
    observer?.end(info, map: y)
    return y
  }

  /// A conv on a backbone feature, float or already quantized for it.
  func conv(_ x: consuming StageFeature, _ c: Conv2d, window: RowWindow? = nil) -> FeatureMap {
    switch consume x {
    case .float(let f): return conv(f, c, window: window)
    case .quantized(let a):
      guard let q = c.quantized else { preconditionFailure("\(c.name): a quantized input needs an int8 conv") }
      let window = window ?? .whole(a.height)
      let info = convInfo(c, pixels: window.output.count * a.width, int8Input: true)
      if let observer {
        a.data.withUnsafeBufferPointer {
          observer.begin(info, input: TensorView(.int8($0.baseAddress!, a.params), rows: a.height * a.width, columns: c.inChannels, stride: a.stride))
        }
      }
      let y = convInt8(a, c, q, activation: .identity, window: window)
      observer?.end(info, map: y)
      return y
    }
  }

  private func convInfo(_ c: Conv2d, pixels: Int, int8Input: Bool) -> OpInfo {
    let k2 = c.kernelSize * c.kernelSize, weights = c.inChannels * c.outChannels * k2
    return OpInfo(name: c.name.description, kind: "conv\(c.kernelSize)x\(c.kernelSize)", macs: pixels * weights,
                  bytes: pixels * (c.inChannels * (int8Input ? 1 : 4) + c.outChannels * 4) + weights * (c.quantized == nil ? 4 : 1),
                  precision: c.quantized == nil ? "f32" : "int8")
  }

  private func convFloat(_ x: consuming FeatureMap, _ c: Conv2d, activation: Activation, window: RowWindow) -> FeatureMap {
    guard let weight = c.weight else { preconditionFailure("\(c.name): no weights") }
    let k = c.kernelSize, taps = k * k, pad = k / 2, cin = c.inChannels
    let segments = (0..<taps).map { t in
      F32MatrixView(base: weight.pointer + t, rows: c.outChannels, cols: cin, rowStride: cin * taps, colStride: taps)
    }
    let w = x.width, first = window.first, mapHeight = window.mapHeight, y0 = window.output.lowerBound
    var out = FeatureMap(height: window.output.count, width: w, channels: c.outChannels, in: arena)
    let outPixels = out.pixels
    let zeros = zeros(cin)
    x.data.withUnsafeBufferPointer { xb in
      zeros.withUnsafeBufferPointer { zb in
        out.data.withUnsafeMutableBufferPointer { ob in
          let base = xb.baseAddress!, zero = zb.baseAddress!
          let p = F32GEMMProblem(
            m: outPixels, n: c.outChannels, segments: segments,
            aRow: { i, t in
              let sy = y0 + i / w + t / k - pad, sx = i % w + t % k - pad
              return sy >= 0 && sy < mapHeight && sx >= 0 && sx < w ? base + ((sy - first) * w + sx) * cin : zero
            },
            bias: c.bias?.pointer, activation: activation, c: ob.baseAddress!, ldc: c.outChannels)
          f32GEMM(p)
        }
      }
    }
    if releaseWeightsAfterUse { c.weight?.release() }
    return out
  }

  func groupNorm(_ x: inout FeatureMap, _ g: GroupNorm, relu: Bool) {
    precondition(g.weight.count == x.channels, "groupNorm: \(g.weight.count) weights for \(x.channels) channels")
    let (pixels, channels) = (x.pixels, x.channels)
    let info = OpInfo(name: g.name.description, kind: "groupnorm", bytes: 12 * pixels * channels)
    observer?.begin(info, map: x)
    x.data.withUnsafeMutableBufferPointer { xb in
      Norms.groupNorm(xb.baseAddress!, rows: x.height, width: x.width, channels: channels, groups: g.groups,
                      gamma: g.weight.pointer, beta: g.bias.pointer, eps: 1e-5, relu: relu, threads: threads)
    }
    observer?.end(info, map: x)
  }

  /// A GroupNorm whose statistics were gathered beforehand (`GroupNormStatistics.affine`), on a band.
  func applyAffine(_ x: inout FeatureMap, _ affine: (scale: [Float], shift: [Float]), relu: Bool, name: String) {
    let (pixels, channels) = (x.pixels, x.channels)
    let info = OpInfo(name: name, kind: "groupnorm", bytes: 8 * pixels * channels)
    observer?.begin(info, map: x)
    x.data.withUnsafeMutableBufferPointer { xb in
      Norms.applyAffine(xb.baseAddress!, pixels: pixels, channels: channels, scale: affine.scale, shift: affine.shift,
                        relu: relu, threads: threads)
    }
    observer?.end(info, map: x)
  }

  /// Mask logits of a band of pixel embeddings: `out[q·ldc + p] = Σ_c e[q][c]·pixel[p][c]`, a GEMM whose
  /// "weight" is the embedding map.
  func maskEinsum(_ e: ArenaArray<Float>, queries nq: Int, _ pixels: FeatureMap, into out: UnsafeMutablePointer<Float>, ldc: Int) {
    let m = pixels.channels, n = pixels.pixels
    precondition(e.count == nq * m, "mask embedder width \(e.count / nq) != pixel embedding width \(m)")
    let info = OpInfo(name: "mask_logits.einsum", kind: "matmul", macs: nq * n * m, bytes: 4 * (nq * m + n * m + nq * n), precision: "f32")
    observer?.begin(info, map: pixels)
    defer { observer?.end(info, output: TensorView(.float(out), rows: nq, columns: n, stride: ldc), shape: [nq, pixels.height, pixels.width]) }
    e.withUnsafeBufferPointer { eb in pixels.data.withUnsafeBufferPointer { pb in
      let ep = eb.baseAddress!
      let p = F32GEMMProblem(
        m: nq, n: n, segments: [F32MatrixView(base: pb.baseAddress!, rows: n, cols: m, rowStride: m, colStride: 1)],
        aRow: { i, _ in ep + i * m }, bias: nil, c: out, ldc: ldc)
      f32GEMM(p)
    }}
  }
}

extension InferenceContext {
  /// F32GEMM with its packed B in the arena.
  func f32GEMM(_ p: F32GEMMProblem) {
    var scratch = ArenaArray<UInt8>(unsafeUninitializedCount: F32GEMM.scratchBytes(p, kernel: kernels.f32GEMM), in: arena) { _ in }
    scratch.withUnsafeMutableBufferPointer { F32GEMM.run(p, kernel: kernels.f32GEMM, threads: threads, scratch: UnsafeMutableRawPointer($0.baseAddress!)) }
  }
}

/// The rows a convolution reads and writes when its input is a band of a taller map (streaming):
/// the input holds map rows `first ..< first + height`, zero padding lies only outside the map's
/// `0 ..< mapHeight`, and the output holds map rows `output`.
public struct RowWindow: Sendable, Equatable {
  public var first: Int
  public var mapHeight: Int
  public var output: Range<Int>

  public init(first: Int, mapHeight: Int, output: Range<Int>) {
    self.first = first
    self.mapHeight = mapHeight
    self.output = output
  }

  public static func whole(_ height: Int) -> RowWindow { RowWindow(first: 0, mapHeight: height, output: 0..<height) }

  /// The input rows a k×k "same" conv needs for `output` rows of a `mapHeight`-row map.
  public static func inputRows(for output: Range<Int>, kernel k: Int, mapHeight: Int) -> Range<Int> {
    Swift.max(0, output.lowerBound - k / 2)..<Swift.min(mapHeight, output.upperBound + k / 2)
  }

  /// Every map row the output reads is inside the band.
  func check(inputHeight: Int, kernel k: Int) {
    let need = Self.inputRows(for: output, kernel: k, mapHeight: mapHeight)
    precondition(output.lowerBound >= 0 && output.upperBound <= mapHeight && need.lowerBound >= first && need.upperBound <= first + inputHeight,
                 "conv band: rows \(first)..<\(first + inputHeight) of \(mapHeight) cannot give rows \(output) (k = \(k))")
  }
}
