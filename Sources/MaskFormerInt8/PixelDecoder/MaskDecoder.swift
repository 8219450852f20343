// MaskDecoder: the stride-4 FPN level, the mask projection to pixel embeddings and the mask einsum
// `bqc,bchw->bqhw` (transformers: the last MaskFormerFPNLayer, MaskFormerPixelDecoder.mask_projection and
// the einsum in MaskFormerForInstanceSegmentation), as one block: these are the largest maps, and
// banded they go straight into the mask logits, so they run last, after the transformer module.
// Two strategies with identical results: whole maps, or bands of `ctx.bandRows` rows.
import Kernels

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
    if ctx.bandRows >= h {
      ctx.begin("pixel_decoder.fpn.layers.\(i)", "block")
      let y = layer(down: consume down, left: consume left, in: ctx)
      ctx.end("pixel_decoder.fpn.layers.\(i)", "block", shape: [y.height, y.width, y.channels])
      ctx.record("pixel_decoder.fpn\(i)", y)
      let embeddings = maskProjection(consume y, in: ctx)
      ctx.record("pixel_decoder.pixel_embeddings", embeddings)
      let masks = ctx.floats(nq * h * w) { Self.einsum(e, queries: nq, embeddings, into: $0.baseAddress!, ldc: h * w, in: ctx) }
      return (masks, h, w)
    }
    let band = Swift.max(1, ctx.bandRows)
    let bands = stride(from: 0, to: h, by: band).map { $0..<Swift.min(h, $0 + band) }
    // The stride-4 feature, quantized once when the lateral conv is int8 (it would be anyway).
    let source: StageFeature
    switch consume left {
    case .float(let f): source = layer.projection.quantized.map { .quantized(QuantizedMap(f, $0.input, in: ctx)) } ?? .float(f)
    case .quantized(let a): source = .quantized(a)
    }
    let down = consume down
    func lateral(_ rows: Range<Int>) -> FeatureMap {
      switch source {
      case .quantized: layer.projection(source, window: RowWindow(first: 0, mapHeight: h, output: rows), in: ctx)
      case .float(let f): layer.projection(f.rows(rows), window: RowWindow(first: rows.lowerBound, mapHeight: h, output: rows), in: ctx)
      }
    }
    // A statistics pass recomputes what the production pass makes again: observed as a "recompute"
    // span (timed; calibration and drift skip the layers inside it).
    func statistics(_ norm: GroupNorm, _ produce: (Range<Int>) -> FeatureMap) -> (scale: [Float], shift: [Float]) {
      ctx.span(norm.name.key("statistics"), "recompute") {
        var stats = GroupNormStatistics(channels: norm.weight.count, groups: norm.groups)
        for rows in bands {
          let y = produce(rows)
          if !ctx.isDryRun { y.data.withUnsafeBufferPointer { stats.add($0.baseAddress!, rows: y.height, width: w, threads: ctx.threads) } }
        }
        return stats.affine(gamma: norm.weight.pointer, beta: norm.bias.pointer, eps: 1e-5)
      }
    }
    let lateralNorm = statistics(layer.projectionNorm, lateral)
    func merged(_ rows: Range<Int>) -> FeatureMap {
      var m = lateral(rows)
      layer.projectionNorm.apply(lateralNorm, to: &m, relu: false, in: ctx)
      let info = ctx.info(OpInfo(name: layer.projection.name.key("merge"), kind: "resize+add", bytes: 12 * m.data.count))
      ctx.observer?.begin(info!, input: nil)
      addNearest(down, into: &m, firstRow: rows.lowerBound, mapHeight: h)
      ctx.observer?.end(info!, map: m)
      return m
    }
    func blockConv(_ rows: Range<Int>) -> FeatureMap {
      let input = RowWindow.inputRows(for: rows, kernel: layer.block.conv.kernelSize, mapHeight: h)
      return layer.block.conv(merged(input), window: RowWindow(first: input.lowerBound, mapHeight: h, output: rows), in: ctx)
    }
    let blockNorm = statistics(layer.block.norm, blockConv)
    let masks = ctx.floats(nq * h * w) { mb in
      for rows in bands {
        let input = RowWindow.inputRows(for: rows, kernel: maskProjection.kernelSize, mapHeight: h)
        var y = blockConv(input)
        layer.block.norm.apply(blockNorm, to: &y, relu: true, in: ctx)
        let embeddings = maskProjection(consume y, window: RowWindow(first: input.lowerBound, mapHeight: h, output: rows), in: ctx)
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
    // Pixels are the GEMM's rows and the queries its few columns (their embeddings packed once, 100x256),
    // written transposed: packing the pixel map as the "weight" cost 16 MB of strided copies per image.
    e.withUnsafeBufferPointer { eb in pixels.data.withUnsafeBufferPointer { pb in
      let pp = pb.baseAddress!
      F32GEMMProblem(m: n, n: nq, segments: [F32MatrixView(base: eb.baseAddress!, rows: nq, cols: m, rowStride: m, colStride: 1)],
                     aRow: { i, _ in pp + i * m }, bias: nil, c: out, ldc: ldc, transposedOutput: true).run(in: ctx)
    }}
  }
}
