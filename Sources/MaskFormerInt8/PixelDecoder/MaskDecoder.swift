// MaskDecoder: the stride-4 FPN level, the mask projection to pixel embeddings and the mask einsum
// `bqc,bchw->bqhw` (transformers: the last MaskFormerFPNLayer, MaskFormerPixelDecoder.mask_projection and
// the einsum in MaskFormerForInstanceSegmentation), as one block: these are the largest maps, and
// banded they go straight into the mask logits, so they run last, after the transformer module.
// Two strategies with identical results: whole maps, or bands of `ctx.bandRows` rows.
import Kernels
import Quant

public struct MaskDecoder {
  /// `fpn.layers.{last}`: the lateral of the stride-4 feature, its merge and 3×3 conv layer.
  public let level: FPNLayer
  /// Its index in `fpn.layers` (for names).
  public let index: Int
  /// `mask_projection`: 3×3 conv with bias, no activation.
  public let maskProjection: Conv2d

  public init(level: FPNLayer, index: Int, maskProjection: Conv2d) {
    self.level = level
    self.index = index
    self.maskProjection = maskProjection
  }

  /// The last FPN level (stride 4), the mask projection and the mask logits
  /// `masks[q][p] = Σ_c embedding[q][c]·pixel[p][c]` (`Q × h·w`) for mask embeddings `Q × M`.
  ///
  /// With `ctx.bandRows` below the map's height, the stride-4 maps are
  /// streamed in bands of rows: the 256-channel maps exist for one band (plus halos) at a time,
  /// never whole. Their GroupNorms need statistics of the whole map first, so the lateral conv runs
  /// three times and the 3×3 conv twice: one pass for each norm's statistics, one to produce. Results
  /// are identical to the whole-map path (same row-wise ops, statistics gathered in row order).
  func callAsFunction(down: consuming FeatureMap, left: consuming StageFeature, embeddings e: ArenaArray<Float>, queries nq: Int,
                      in ctx: InferenceContext) -> (masks: ArenaArray<Float>, height: Int, width: Int) {
    let layer = level, (h, w) = (left.height, left.width)
    let i = index
    // int8: the projection folded with the embeddings into one conv (made before the big maps exist).
    let folded = maskProjection.quantized.map { (weights: $0, packed: Self.fold(e, queries: nq, $0, in: ctx)) }
    if ctx.bandRows >= h, let folded, layer.handsOverInt8(ctx) {
      // int8 hand-overs all the way: the merge and the block's GroupNorm + ReLU write int8 for the convs.
      ctx.begin("pixel_decoder.fpn.layers.\(i)", "block")
      let a = layer.quantized(down: consume down, left: consume left, folded.weights.input, in: ctx)
      ctx.end("pixel_decoder.fpn.layers.\(i)", "block", shape: [a.height, a.width, layer.block.conv.outChannels])
      let masks = ctx.floats(nq * h * w) {
        foldedLogits(quantized: a, folded.weights, folded.packed, queries: nq, window: .whole(h), into: $0.baseAddress!, ldc: h * w, in: ctx)
      }
      return (masks, h, w)
    }
    if ctx.bandRows >= h {
      ctx.begin("pixel_decoder.fpn.layers.\(i)", "block")
      let y = layer(down: consume down, left: consume left, in: ctx)
      ctx.end("pixel_decoder.fpn.layers.\(i)", "block", shape: [y.height, y.width, y.channels])
      ctx.record("pixel_decoder.fpn\(i)", y)
      if let folded {
        let masks = ctx.floats(nq * h * w) {
          foldedLogits(y, folded.weights, folded.packed, queries: nq, window: .whole(h), into: $0.baseAddress!, ldc: h * w, in: ctx)
        }
        return (masks, h, w)
      }
      let embeddings = maskProjection(consume y, in: ctx)
      ctx.record("pixel_decoder.pixel_embeddings", embeddings)
      let masks = ctx.floats(nq * h * w) { Self.einsum(e, queries: nq, embeddings, into: $0.baseAddress!, ldc: h * w, in: ctx) }
      return (masks, h, w)
    }
    let bands = MaskFormerInt8.bands(height: h, rows: ctx.bandRows)
    // The stride-4 feature, quantized once when the lateral conv is int8 (it would be anyway).
    let source = (consume left).quantized(for: layer.projection, in: ctx)
    let down = consume down
    func lateral(_ rows: Range<Int>) -> FeatureMap { layer.projection.rows(rows, of: source, in: ctx) }
    let lateralNorm = layer.projectionNorm.statistics(over: bands, in: ctx, lateral)
    func merged(_ rows: Range<Int>) -> FeatureMap {
      var m = lateral(rows)
      layer.projectionNorm.apply(lateralNorm, to: &m, relu: false, in: ctx)
      let info = ctx.info(OpInfo(name: layer.projection.name.key("merge"), kind: "resize+add", bytes: 12 * m.data.count))
      ctx.observer?.begin(info!, input: nil)
      addNearest(down, into: &m, firstRow: rows.lowerBound, mapHeight: h, threads: ctx.threads)
      ctx.observer?.end(info!, map: m)
      return m
    }
    func blockConv(_ rows: Range<Int>) -> FeatureMap {
      let input = RowWindow.inputRows(for: rows, kernel: layer.block.conv.kernelSize, mapHeight: h)
      return layer.block.conv(merged(input), window: RowWindow(first: input.lowerBound, mapHeight: h, output: rows), in: ctx)
    }
    let blockNorm = layer.block.norm.statistics(over: bands, in: ctx, blockConv)
    let masks = ctx.floats(nq * h * w) { mb in
      for rows in bands {
        let input = RowWindow.inputRows(for: rows, kernel: maskProjection.kernelSize, mapHeight: h)
        var y = blockConv(input)
        layer.block.norm.apply(blockNorm, to: &y, relu: true, in: ctx)
        let window = RowWindow(first: input.lowerBound, mapHeight: h, output: rows)
        if let folded {
          foldedLogits(y, folded.weights, folded.packed, queries: nq, window: window, into: mb.baseAddress! + rows.lowerBound * w, ldc: h * w,
                       in: ctx)
          continue
        }
        let embeddings = maskProjection(consume y, window: window, in: ctx)
        Self.einsum(e, queries: nq, embeddings, into: mb.baseAddress! + rows.lowerBound * w, ldc: h * w, in: ctx)
      }
    }
    return (masks, h, w)
  }

  /// Mask logits of a band of pixel embeddings: `out[q·ldc + p] = Σ_c e[q][c]·pixel[p][c]`, a GEMM whose
  /// "weight" is the embedding map.
  static func einsum(_ e: ArenaArray<Float>, queries nq: Int, _ pixels: FeatureMap, into out: UnsafeMutablePointer<Float>, ldc: Int,
                     in ctx: InferenceContext) {
    let m = pixels.channels, n = pixels.pixels
    precondition(e.count == nq * m, "mask embedder width \(e.count / nq) != pixel embedding width \(m)")
    let info = ctx.info(OpInfo(name: "mask_logits.einsum", kind: "matmul", macs: nq * n * m, bytes: 4 * (nq * m + n * m + nq * n), precision: "f32"))
    ctx.observer?.begin(info!, map: pixels)
    defer { ctx.observer?.end(info!, output: TensorView(.float(out), rows: nq, columns: n, stride: ldc), shape: [nq, pixels.height, pixels.width]) }
    e.withUnsafeBufferPointer { eb in pixels.data.withUnsafeBufferPointer { pb in
      logits(eb.baseAddress!, queries: nq, pixels: pb.baseAddress!, count: n, channels: m, into: out, ldc: ldc, in: ctx)
    }}
  }

  /// The einsum's GEMM, unobserved: `out[q·ldc + p] = Σ_c e[q][c]·pixels[p][c]` for `count` pixels of
  /// `channels` values. Pixels are the GEMM's rows and the queries its few columns (their embeddings packed
  /// once, 100x256), written transposed: packing the pixel map as the "weight" cost 16 MB of strided copies
  /// per image. Each logit's sum runs in the same order whatever `count` is (so bands give the whole map's values).
  static func logits(_ e: UnsafePointer<Float>, queries nq: Int, pixels: UnsafePointer<Float>, count n: Int, channels m: Int,
                     into out: UnsafeMutablePointer<Float>, ldc: Int, in ctx: InferenceContext) {
    F32GEMMProblem(m: n, n: nq, b: F32MatrixView(base: e, rows: nq, cols: m, rowStride: m, colStride: 1),
                   a: pixels, aStride: m, bias: nil, c: out, ldc: ldc, transposedOutput: true).run(in: ctx)
  }

  /// int8: the mask projection and the einsum as one int8 3×3 conv whose output channels are the queries.
  /// The int8 projection makes `P[p][c] = s_a·s_w[c]·(Σ_k W[c][k]·(a[p][k] − z) + B[c])` and the einsum
  /// `Σ_c e[q][c]·P[p][c]`, which is `s_a·(Σ_k W'[q][k]·(a[p][k] − z) + B'[q])` with
  /// `W'[q][k] = Σ_c e[q][c]·s_w[c]·W[c][k]` and `B'[q] = Σ_c e[q][c]·s_w[c]·B[c]`. W' is made for each
  /// image (an f32 GEMM: 100×256×2304 at 59 MMAC) and quantized per query like any conv weight, so the
  /// 256-channel pixel embeddings never exist, the stride-4 conv makes `nq` channels instead of 256 (2.6x
  /// fewer MACs for 100 queries) and the float einsum is gone; the cost is the quantization of W' (measured
  /// with `bench/drift_vs_ort.py`, BENCHMARKS.md session 15). Returns W' packed (`QGEMMPanelLayout`).
  static func fold(_ e: ArenaArray<Float>, queries nq: Int, _ q: QuantizedWeights, in ctx: InferenceContext) -> ArenaArray<UInt8> {
    let w = q.weights, m = w.n, k = w.k
    precondition(e.count == nq * m, "mask embedder width \(e.count / nq) != pixel embedding width \(m)")
    let info = ctx.info(OpInfo(name: "mask_logits.fold", kind: "matmul", macs: nq * m * k, bytes: 4 * (nq * m + 2 * m * k + nq * k), precision: "f32"))
    ctx.observer?.begin(info!, input: nil)
    // s_w[c]·W[c][k] transposed (rows of k), then W' = e·that, k as the GEMM's rows and written transposed (query rows).
    let wt = ctx.floats(k * m) { b in
      guard !ctx.isDryRun else { return }
      parallelFor(w.panels, threads: ctx.threads, sharing: (w, b.baseAddress!, m)) { s, p in
        s.0.dequantizeTransposed(channels: (p * 16)..<Swift.min(s.2, p * 16 + 16), into: s.1, ldo: s.2)
      }
    }
    let wq = ctx.floats(nq * k) { c in
      e.withUnsafeBufferPointer { eb in wt.withUnsafeBufferPointer { tb in
        F32GEMMProblem(m: k, n: nq, b: F32MatrixView(base: eb.baseAddress!, rows: nq, cols: m, rowStride: m, colStride: 1),
                       a: tb.baseAddress!, aStride: m, bias: nil, c: c.baseAddress!, ldc: k, transposedOutput: true).run(in: ctx)
      }}
    }
    // B'[q] in input units (quantized with each query's weight scale by the packing).
    let folded = ctx.floats(nq) { b in
      guard !ctx.isDryRun else { return }
      e.withUnsafeBufferPointer { eb in
        for query in 0..<nq {
          var sum = 0.0
          for c in 0..<m { sum += Double(eb[query * m + c]) * w.biasInInputUnits(c) }
          b[query] = Float(sum)
        }
      }
    }
    let packed = ArenaArray<UInt8>(unsafeUninitializedCount: QGEMMPanelLayout.byteCount(n: nq, k: k)!, in: ctx.arena) { out in
      guard !ctx.isDryRun else { return }
      wq.withUnsafeBufferPointer { wb in folded.withUnsafeBufferPointer { bb in
        QGEMMPacking.quantize(n: nq, k: k, weights: wb.baseAddress!, bias: bb.baseAddress!, inputScale: 1,
                              into: UnsafeMutableRawPointer(out.baseAddress!), threads: ctx.threads)
      }}
    }
    ctx.observer?.end(info!, output: nil, shape: [nq, k])
    return packed
  }

  /// The folded conv on a band (or the whole) of the stride-4 map: mask logits of the window's rows at
  /// `out[q·ldc + p]`. Observed as the einsum it replaces (its output, no input: the float model's is the
  /// pixel embeddings, which do not exist here).
  func foldedLogits(_ x: consuming FeatureMap, _ q: QuantizedWeights, _ packed: ArenaArray<UInt8>, queries nq: Int, window: RowWindow,
                    into out: UnsafeMutablePointer<Float>, ldc: Int, in ctx: InferenceContext) {
    let n = window.output.count * x.width, width = x.width
    let info = ctx.info(OpInfo(name: "mask_logits.einsum", kind: "conv3x3", macs: n * nq * q.weights.k, bytes: n * (q.weights.k / 9 + 4 * nq),
                               precision: "int8"))
    ctx.observer?.begin(info!, input: nil)
    foldedConv(QuantizedMap(consume x, q.input, in: ctx), q, packed, queries: nq, window: window, into: out, ldc: ldc, in: ctx)
    ctx.observer?.end(info!, output: TensorView(.float(out), rows: nq, columns: n, stride: ldc), shape: [nq, window.output.count, width])
  }

  /// `foldedLogits` on the stride-4 map already quantized with the projection's input parameters (the FPN's
  /// int8 hand-over; no observer).
  func foldedLogits(quantized a: consuming QuantizedMap, _ q: QuantizedWeights, _ packed: ArenaArray<UInt8>, queries nq: Int, window: RowWindow,
                    into out: UnsafeMutablePointer<Float>, ldc: Int, in ctx: InferenceContext) {
    precondition(a.params == q.input, "mask projection input quantized with \(a.params), expects \(q.input)")
    foldedConv(a, q, packed, queries: nq, window: window, into: out, ldc: ldc, in: ctx)
  }

  private func foldedConv(_ a: consuming QuantizedMap, _ q: QuantizedWeights, _ packed: ArenaArray<UInt8>, queries nq: Int, window: RowWindow,
                          into out: UnsafeMutablePointer<Float>, ldc: Int, in ctx: InferenceContext) {
    if !ctx.isDryRun {
      packed.withUnsafeBufferPointer { pb in a.data.withUnsafeBufferPointer { ab in
        maskProjection.implicitGEMM(ab.baseAddress!, a, weights: QGEMMWeights(base: UnsafeRawPointer(pb.baseAddress!), n: nq, k: q.weights.k),
                                    window: window, output: .floatTransposed(out, ldc: ldc, inputScale: q.input.scale), in: ctx)
      }}
    }
    q.releaseIfAsked(ctx)
  }
}
