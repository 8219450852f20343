// FloatOps: the layer types' forward ops (Linear, LayerNorm, Conv2d, GroupNorm) on arrays and
// FeatureMaps, built on Kernels; an int8 layer runs through Int8Ops. Rows are tokens/pixels, columns
// are channels. The context supplies kernels, threads, arena and the observer; the ops live here.
import Kernels
import Quant

extension Linear {
  /// `y = act(x·Wᵀ + b) + residual` for every row of x (`rows × inFeatures`, row stride `xStride`).
  func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, xStride: Int, activation: Activation = .identity,
                      residual: UnsafePointer<Float>? = nil, in ctx: InferenceContext) -> ArenaArray<Float> {
    let l = self, (k, n) = (inFeatures, outFeatures)
    return ctx.op(OpInfo(name: name.description, kind: "linear", macs: rows * k * n,
                         bytes: rows * (k + n) * 4 + k * n * (quantized == nil ? 4 : 1), precision: quantized == nil ? "f32" : "int8"),
                  input: { $0(TensorView(.float(x), rows: rows, columns: k, stride: xStride)) },
                  output: { y, emit in y.withUnsafeBufferPointer { emit(.floats($0, columns: n)) } },
                  shape: { _ in [rows, n] }) {
      if let q = l.quantized {
        return q.linear(QuantizedRows(x, rows: rows, k: k, xStride: xStride, q.input, in: ctx), n: n, activation: activation,
                        residual: residual, in: ctx)
      }
      // The GEMM writes every element (its first K chunk stores, not accumulates): no zero fill.
      let y = ctx.floats(rows * n) { yb in
        F32GEMMProblem(m: rows, n: n, segments: l.f32Segments, a: x, aStride: xStride, bias: l.bias?.pointer,
                       activation: activation, residual: residual, residualStride: n, c: yb.baseAddress!, ldc: n).run(in: ctx)
      }
      if ctx.releaseWeightsAfterUse { l.weight?.release() }
      return y
    }
  }

  /// `x·Wᵀ + b` for `rows` input rows that `fill(t0, count, into)` writes `chunk` rows at a time into a buffer:
  /// the whole input never exists (Mask2Former's keys: a level's features plus their position, 64 MiB each at
  /// stride 8 of a 2048×2048 input). Rows are independent in either GEMM and the int8 input is quantized row by
  /// row with the layer's fixed parameters, so the result is the same as on the whole input. Not seen by an
  /// observer (callers run the whole input op by op when one is attached).
  func rowsInChunks(_ rows: Int, chunk: Int, in ctx: InferenceContext,
                    fill: (_ t0: Int, _ count: Int, _ into: UnsafeMutablePointer<Float>) -> Void) -> ArenaArray<Float> {
    let chunk = Swift.max(1, Swift.min(chunk, rows))
    var buffer = ctx.floats(chunk * inFeatures) { _ in }
    let y = buffer.withUnsafeMutableBufferPointer { xb in
      rowsInChunks(rows, chunk: chunk, in: ctx) { t0, count in
        if !ctx.isDryRun { fill(t0, count, xb.baseAddress!) }
        return UnsafePointer(xb.baseAddress!)
      }
    }
    _ = consume buffer
    return y
  }

  /// The same on `rows × in` floats already in memory at x: only the int8 input is made a chunk at a time.
  func rowsInChunks(_ rows: Int, chunk: Int, of x: UnsafePointer<Float>, in ctx: InferenceContext) -> ArenaArray<Float> {
    rowsInChunks(rows, chunk: Swift.max(1, Swift.min(chunk, rows)), in: ctx) { t0, _ in x + t0 * inFeatures }
  }

  private func rowsInChunks(_ rows: Int, chunk: Int, in ctx: InferenceContext, input: (_ t0: Int, _ count: Int) -> UnsafePointer<Float>)
    -> ArenaArray<Float> {
    let l = self, (k, n) = (inFeatures, outFeatures)
    let y = ctx.floats(rows * n) { yb in
      var t0 = 0
      while t0 < rows {
        let count = Swift.min(chunk, rows - t0), x = input(t0, count), out = yb.baseAddress! + t0 * n
        if let q = l.quantized {
          q.gemm(QuantizedRows(x, rows: count, k: k, xStride: k, q.input, in: ctx),
                 output: .float(out, ldc: n, inputScale: q.input.scale, activation: .identity, residual: nil, residualStride: n),
                 release: false, in: ctx)
        } else {
          F32GEMMProblem(m: count, n: n, segments: l.f32Segments, a: x, aStride: k, bias: l.bias?.pointer, c: out, ldc: n).run(in: ctx)
        }
        t0 += count
      }
    }
    if ctx.releaseWeightsAfterUse {
      if let q = l.quantized { q.releaseIfAsked(ctx) } else { l.weight?.release() }
    }
    return y
  }

  /// On every row of a contiguous `rows × in` array.
  func callAsFunction(_ x: ArenaArray<Float>, rows: Int, activation: Activation = .identity, residual: ArenaArray<Float>? = nil,
                      in ctx: InferenceContext) -> ArenaArray<Float> {
    precondition(x.count == rows * inFeatures, "linear: input \(x.count) floats, expected \(rows)x\(inFeatures)")
    return x.withUnsafeBufferPointer { xb in
      if let residual {
        precondition(residual.count == rows * outFeatures, "linear: residual size \(residual.count)")
        return residual.withUnsafeBufferPointer { rb in
          self(xb.baseAddress!, rows: rows, xStride: inFeatures, activation: activation, residual: rb.baseAddress!, in: ctx)
        }
      }
      return self(xb.baseAddress!, rows: rows, xStride: inFeatures, activation: activation, in: ctx)
    }
  }
}

extension LayerNorm {
  func callAsFunction(_ x: ArenaArray<Float>, rows: Int, in ctx: InferenceContext) -> ArenaArray<Float> {
    precondition(x.count == rows * channels, "layerNorm: \(x.count) floats, expected \(rows)x\(channels)")
    return x.withUnsafeBufferPointer { self($0.baseAddress!, rows: rows, in: ctx) }
  }

  /// LayerNorm of `rows` contiguous rows of `channels` floats.
  func callAsFunction(_ x: UnsafePointer<Float>, rows: Int, in ctx: InferenceContext) -> ArenaArray<Float> {
    let n = self, c = channels
    return ctx.op(OpInfo(name: name.description, kind: "layernorm", bytes: 8 * rows * c),
                  input: { $0(TensorView(.float(x), rows: rows, columns: c)) },
                  output: { y, emit in y.withUnsafeBufferPointer { emit(.floats($0, columns: c)) } },
                  shape: { _ in [rows, c] }) {
      ctx.floats(rows * c) { yb in
        guard !ctx.isDryRun else { return }
        Norms.layerNorm(x, xStride: c, rows: rows, channels: c, gamma: n.weight.pointer, beta: n.bias.pointer, eps: n.eps,
                        into: yb.baseAddress!, yStride: c, threads: ctx.threads, kernel: ctx.kernels.norm)
      }
    }
  }
}

extension Conv2d {
  /// k×k convolution, stride 1, zero padding k/2 ("same"), as an implicit GEMM with one K segment per
  /// tap: tap (ky, kx) of output pixel (y, x) reads input row (y+ky−k/2, x+kx−k/2) or a zero row.
  /// Takes its input by value: handed over with `consume`, an int8 conv frees it once quantized,
  /// before its output is allocated. With a `window`, x is a band of a taller map and only the
  /// window's output rows are computed.
  func callAsFunction(_ x: consuming FeatureMap, activation: Activation = .identity, window: RowWindow? = nil,
                      in ctx: InferenceContext) -> FeatureMap {
    let window = window ?? .whole(x.height)
    precondition(x.channels == inChannels, "conv: input has \(x.channels) channels, weight expects \(inChannels)")
    window.check(inputHeight: x.height, kernel: kernelSize)
    let info = ctx.info(self.info(pixels: window.output.count * x.width, int8Input: false))
    ctx.observer?.begin(info!, map: x)
    let y: FeatureMap
    if let q = quantized {
      y = int8(QuantizedMap(consume x, q.input, in: ctx), q, activation: activation, window: window, in: ctx)
    } else {
      y = float(consume x, activation: activation, window: window, in: ctx)
    }
    ctx.observer?.end(info!, map: y)
    return y
  }

  /// On a backbone feature, float or already quantized for it.
  func callAsFunction(_ x: consuming StageFeature, window: RowWindow? = nil, in ctx: InferenceContext) -> FeatureMap {
    switch consume x {
    case .float(let f): return self(f, window: window, in: ctx)
    case .quantized(let a):
      guard let q = quantized else { preconditionFailure("\(name): a quantized input needs an int8 conv") }
      let window = window ?? .whole(a.height)
      let info = ctx.info(self.info(pixels: window.output.count * a.width, int8Input: true))
      if let observer = ctx.observer {
        a.data.withUnsafeBufferPointer {
          observer.begin(info!, input: TensorView(.int8($0.baseAddress!, a.params), rows: a.height * a.width, columns: inChannels, stride: a.stride))
        }
      }
      let y = int8(a, q, activation: .identity, window: window, in: ctx)
      ctx.observer?.end(info!, map: y)
      return y
    }
  }

  private func info(pixels: Int, int8Input: Bool) -> OpInfo {
    let k2 = kernelSize * kernelSize, weights = inChannels * outChannels * k2
    return OpInfo(name: name.description, kind: "conv\(kernelSize)x\(kernelSize)", macs: pixels * weights,
                  bytes: pixels * (inChannels * (int8Input ? 1 : 4) + outChannels * 4) + weights * (quantized == nil ? 4 : 1),
                  precision: quantized == nil ? "f32" : "int8")
  }

  private func float(_ x: consuming FeatureMap, activation: Activation, window: RowWindow, in ctx: InferenceContext) -> FeatureMap {
    guard let weight else { preconditionFailure("\(name): no weights") }
    let k = kernelSize, cin = inChannels, cout = outChannels
    let segments = f32TapSegments
    let w = x.width
    var out = FeatureMap(height: window.output.count, width: w, channels: cout, in: ctx.arena)
    let outPixels = out.pixels, biasPointer = self.bias?.pointer
    let zeros = ctx.zeros(cin)
    x.data.withUnsafeBufferPointer { xb in
      zeros.withUnsafeBufferPointer { zb in
        out.data.withUnsafeMutableBufferPointer { ob in
          let base = xb.baseAddress!, zero = zb.baseAddress!
          let rows = ConvRows(base: base, zero: zero, pixelStride: cin, width: w, mapHeight: window.mapHeight, first: window.first,
                              y0: window.output.lowerBound, kernel: k)
          F32GEMMProblem(m: outPixels, n: cout, segments: segments, conv: rows, bias: biasPointer, activation: activation, c: ob.baseAddress!,
                         ldc: cout).run(in: ctx)
        }
      }
    }
    if ctx.releaseWeightsAfterUse { weight.release() }
    return out
  }
}

extension GroupNorm {
  /// GroupNorm (+ ReLU) of a whole map, in place.
  func callAsFunction(_ x: inout FeatureMap, relu: Bool, in ctx: InferenceContext) {
    precondition(weight.count == x.channels, "groupNorm: \(weight.count) weights for \(x.channels) channels")
    let (pixels, channels) = (x.pixels, x.channels)
    let info = ctx.info(OpInfo(name: name.description, kind: "groupnorm", bytes: 12 * pixels * channels))
    ctx.observer?.begin(info!, map: x)
    if !ctx.isDryRun { x.data.withUnsafeMutableBufferPointer { xb in
      Norms.groupNorm(xb.baseAddress!, rows: x.height, width: x.width, channels: channels, groups: groups,
                      gamma: weight.pointer, beta: bias.pointer, eps: 1e-5, relu: relu, threads: ctx.threads, kernel: ctx.kernels.norm)
    }}
    ctx.observer?.end(info!, map: x)
  }

  /// This GroupNorm's per-channel scale (elements `0 ..< C`) and shift (`C ..< 2C`) from the statistics of the
  /// whole map x.
  func affine(of x: borrowing FeatureMap, in ctx: InferenceContext) -> ArenaArray<Float> {
    affine(in: ctx) { stats in
      guard !ctx.isDryRun else { return }
      x.data.withUnsafeBufferPointer { stats.add($0.baseAddress!, rows: x.height, width: x.width, threads: ctx.threads, kernel: ctx.kernels.norm) }
    }
  }

  /// The scale and shift (as `affine(of:in:)`) from the statistics `gather` adds up. `gather` runs in a dry run
  /// too (its buffers' requests are the real run's, in the same order) and must not read values there.
  func affine(in ctx: InferenceContext, _ gather: (inout GroupNormStatistics) -> Void) -> ArenaArray<Float> {
    let c = weight.count
    return ArenaArray(unsafeUninitializedCount: 2 * c, in: ctx.arena) { b in
      GroupNormStatistics.gather(channels: c, groups: groups) { stats in
        gather(&stats)
        guard !ctx.isDryRun else { return }
        stats.affine(gamma: weight.pointer, beta: bias.pointer, eps: 1e-5, scale: b.baseAddress!, shift: b.baseAddress! + c)
      }
    }
  }

  /// The int8 hand-over: this GroupNorm (+ ReLU) of the whole map x, plus `nearest(down)` when given (the FPN
  /// merge, `addNearest`), quantized with `params` for the int8 conv that reads it, in one pass over x: each
  /// chunk of pixels is normalized into a small buffer, added to and quantized from there, so the normalized
  /// float map is never written and read back. The same operations as `callAsFunction(_:relu:in:)`, then
  /// `addNearest`, then `QuantizedMap.init` (same bits); an observer sees none of the floats, so callers
  /// take this path only without one. x is handed over (freed once quantized, as `QuantizedMap.init` does).
  func quantized(_ x: consuming FeatureMap, _ affine: ArenaArray<Float>, relu: Bool, adding down: FeatureMap?,
                 _ params: QuantParams, in ctx: InferenceContext) -> QuantizedMap {
    let (h, w, c) = (x.height, x.width, x.channels), stride = (c + 3) / 4 * 4
    precondition(weight.count == c, "groupNorm: \(weight.count) weights for \(c) channels")
    let chunk = Swift.max(1, Swift.min(w, 16_384 / Swift.max(1, c)))   // pixels per buffer: 64 KB of floats
    let downData = down?.data, downHeight = down?.height ?? 0, downWidth = down?.width ?? 0
    let a = x.data.withUnsafeBufferPointer { xb in
      ArenaArray(rows: h * w, k: c, stride: stride, extra: stride, fill: Int8(clamping: params.zeroPoint), in: ctx) { q in
        guard !ctx.isDryRun else { return }
        let xp = xb.baseAddress!
        func run(_ dp: UnsafePointer<Float>?) {
          affine.withUnsafeBufferPointer { ab in
            let scale = ab.baseAddress!, shift = scale + c
            let shared = (xp, q, dp, scale, shift, relu, params, h, w, c, stride, chunk, downHeight, downWidth, ctx.kernels)
            parallelFor(h, threads: ctx.threads, sharing: shared) { s, y in
              let (xp, q, dp, scale, shift, relu, params, h, w, c, stride, chunk, downHeight, downWidth, kernels) = s
              ThreadScratch.with(.rows, bytes: chunk * c * MemoryLayout<Float>.stride) { raw in
                let t = raw.assumingMemoryBound(to: Float.self)
                let sy = dp == nil ? 0 : nearestIndex(y, inSize: downHeight, outSize: h)
                var x0 = 0
                while x0 < w {
                  let n = Swift.min(chunk, w - x0), p0 = y * w + x0
                  Norms.affineRows(xp + p0 * c, pixels: n, channels: c, scale: scale, shift: shift, relu: relu, into: t, kernel: kernels.norm)
                  if let dp {
                    for i in 0..<n {
                      let sx = nearestIndex(x0 + i, inSize: downWidth, outSize: w)
                      let src = dp + (sy * downWidth + sx) * c, dst = t + i * c
                      for ch in 0..<c { dst[ch] += src[ch] }
                    }
                  }
                  ActivationQuantizer.quantizeRows(t, rows: n, k: c, xStride: c, params, into: q + p0 * stride, qStride: stride, threads: 1,
                                                   kernel: kernels.quantize)
                  x0 += n
                }
              }
            }
          }
        }
        if let downData { downData.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
      }
    }
    _ = consume x
    return QuantizedMap(data: a, height: h, width: w, stride: stride, params: params)
  }

  /// This GroupNorm with statistics gathered beforehand (`GroupNormStatistics.affine`), on a band.
  func apply(_ affine: ArenaArray<Float>, to x: inout FeatureMap, relu: Bool, in ctx: InferenceContext) {
    let (pixels, channels) = (x.pixels, x.channels)
    let info = ctx.info(OpInfo(name: name.description, kind: "groupnorm", bytes: 8 * pixels * channels))
    ctx.observer?.begin(info!, map: x)
    if !ctx.isDryRun { x.data.withUnsafeMutableBufferPointer { xb in affine.withUnsafeBufferPointer { ab in
      Norms.applyAffine(xb.baseAddress!, pixels: pixels, channels: channels, scale: ab.baseAddress!, shift: ab.baseAddress! + channels,
                        relu: relu, threads: ctx.threads, kernel: ctx.kernels.norm)
    }}}
    ctx.observer?.end(info!, map: x)
  }
}

extension F32GEMMProblem {
  /// Runs with its packed B in the context's arena (a dry run: only the scratch is requested).
  func run(in ctx: InferenceContext) {
    var scratch = ArenaArray<UInt8>(unsafeUninitializedCount: F32GEMM.scratchBytes(self, kernel: ctx.kernels.f32GEMM, threads: ctx.threads), in: ctx.arena) { _ in }
    guard !ctx.isDryRun else { return }
    scratch.withUnsafeMutableBufferPointer {
      F32GEMM.run(self, kernel: ctx.kernels.f32GEMM, threads: ctx.threads, scratch: UnsafeMutableRawPointer($0.baseAddress!))
    }
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
